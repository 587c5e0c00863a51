"""Fused, differentiable losses: mean squared error and binary cross-entropy on logits.

Each loss is one op: the forward is one kernel pass, the backward another
(:mod:`sorix.kernels.losses`). A node's rule runs that kernel on arrays;
on the tensor twin (``create_graph=True``) it computes the same gradient
with differentiable tensor ops, so second derivatives exist. Cross-entropy lives in :mod:`.cross_entropy`.

Prediction and target must have the same shape: broadcasting an (N,)
target against (N, 1) predictions would silently compare every
prediction with every target. One exception, as in PyTorch: a 0-d
target of the mean squared error is one value for every prediction
(``mse(u, tensor(0.0))``, as in a physics-informed residual), broadcast,
and its gradient is the sum.

The options of binary cross-entropy on logits (``weight``, ``pos_weight``)
and the Kullback-Leibler divergence are composed of tensor ops instead
(:class:`BCEWithLogitsWeightedNode`, :func:`kl_div`); the fused path runs
whenever those options are left out.
"""
import warnings

import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.node import Node
from ..kernels import cpu as _cpu
from ..kernels import losses as K
from ..kernels.variants import run
from . import composite, core, twin
from .core import constant, float_data, records, wrap
from .elementwise import binary, cast, unary, where

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def as_tensor(value, like=None):
    """A tensor for ``value`` (arrays, lists and numbers become constants, on the device
    of the array ``like`` when given)."""
    if isinstance(value, core.Tensor):
        return value
    return core.constant(value, like=like)


def _flat(array, dtype):
    return np.ascontiguousarray(array, dtype=dtype).reshape(-1)


def _same_shape_operands(name, input, target, scalar_target=False):
    """Input and target as tensors plus flat contiguous arrays of the input's float dtype
    (None for tensors on a GPU, where the loss is composed of tensor ops instead)."""
    input = as_tensor(input)
    target = as_tensor(target, like=input.data)
    if scalar_target and target.data.ndim == 0 and input.data.ndim > 0:
        target = target.expand(*input.data.shape)  # differentiable: its gradient is summed
    if input.data.shape != target.data.shape:
        raise ValueError(
            f"{name}: input shape {tuple(input.shape)} and target shape {tuple(target.shape)} "
            "differ; broadcasting them would pair every prediction with every target. "
            f"Reshape one of them, for example target.reshape({tuple(input.shape)}).")
    if core.namespace(input, target) is not _cpu:
        return input, target, None, None
    x = float_data(input)
    return input, target, _flat(x, x.dtype), _flat(target.data, x.dtype)


def _reduced(total, count, reduction, dtype):
    """The sum, or the mean (NaN over no elements, as in PyTorch)."""
    if reduction == "mean":
        value = total / count if count else np.nan
    else:
        value = total
    return np.asarray(value, dtype=dtype)


def _upstream(grad, dtype):
    return np.ascontiguousarray(grad, dtype=dtype).reshape(-1)


def _graph_scale(grad, reduction, factor, count):
    """The upstream gradient times the loss's constant factor, as a tensor."""
    if reduction == "mean":
        return grad * (factor / count if count else float("nan"))
    return grad * factor if factor != 1 else grad


class _PairLossNode(Node):
    """A loss of (input, target) with equal shapes; saves both flat arrays."""
    __slots__ = ("shape", "reduction")

    def __init__(self, input, target, x, t, reduction):
        super().__init__((input, target), (x, t), (input, target))
        self.shape = input.data.shape
        self.reduction = reduction

    def _mean_scale(self, factor, dtype):
        n = self.saved[0].size
        if self.reduction == "mean":
            return dtype.type(factor / n) if n else dtype.type(np.nan)
        return dtype.type(factor)

    def graph_saved(self):
        """The input, and the target in the loss's dtype (that of the saved input array)."""
        x, t = self.inputs
        dtype = self.saved[0].dtype
        return x, (t if t.data.dtype == dtype else cast(t, dtype))


# ---- mean squared error --------------------------------------------------------

class MSELossNode(_PairLossNode):
    """d/dx = 2 (x - t) g / n (mean) or 2 (x - t) g; d/dt = -d/dx."""
    __slots__ = ()

    def backward(self, grad, F, saved):
        x, t = saved
        need_x, need_t = self.needs
        if F is _cpu:  # one kernel pass over flat arrays
            gx = np.empty_like(x)
            run(K.mse_grad, x.size, x, t, _upstream(grad, x.dtype),
                self._mean_scale(2.0, x.dtype), gx)
            gx = gx.reshape(self.shape)
        else:  # the same formula on tensors
            gx = (x - t) * _graph_scale(grad, self.reduction, 2.0, self.saved[0].size)
        return (gx if need_x else None), (F.unary("neg", gx) if need_t else None)


def mse_loss(input, target, reduction="mean"):
    """l_i = (x_i - t_i)^2, then the mean, the sum, or each element ('none')."""
    check_reduction(reduction)
    input, target, x, t = _same_shape_operands("mse_loss", input, target, scalar_target=True)
    if x is None:
        return composite.mse_loss(input, target, reduction)
    if reduction == "none":
        out = np.empty_like(x)
        run(K.mse_each, x.size, x, t, out)
        out = out.reshape(input.data.shape)
    else:
        out = _reduced(run(K.mse_sum, x.size, x, t), x.size, reduction, x.dtype)
    if records(input, target):
        return wrap(out, MSELossNode(input, target, x, t, reduction))
    return wrap(out)


# ---- binary cross-entropy with logits -------------------------------------------

class BCEWithLogitsNode(_PairLossNode):
    """d/dx = (sigmoid(x) - y) g / n (mean over all elements) ; d/dy = -x g / n."""
    __slots__ = ()

    def backward(self, grad, F, saved):
        x, t = saved
        need_x, need_t = self.needs
        gx = gt = None
        if F is _cpu:  # one kernel pass over flat arrays
            dtype = x.dtype
            upstream = _upstream(grad, dtype)
            scale = self._mean_scale(1.0, dtype)
            if need_x:
                gx = np.empty_like(x)
                run(K.bce_grad, x.size, x, t, upstream, scale, gx)
                gx = gx.reshape(self.shape)
            if need_t:
                gt = (-(upstream * scale) * x).reshape(self.shape)
            return gx, gt
        g = _graph_scale(grad, self.reduction, 1.0, self.saved[0].size)  # tensors
        gx = (x.sigmoid() - t) * g if need_x else None
        gt = -(x * g) if need_t else None
        return gx, gt


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """l_i = max(x_i, 0) - x_i y_i + log(1 + exp(-|x_i|)), the stable form of
    -[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]; 'mean' averages over
    every element (N x C for multi-label targets).

    ``weight`` (broadcast to the input's shape) rescales each element and
    ``pos_weight`` (broadcast along the last, class, dimension) the positive
    term: l_i = w_i [(1 - y_i) x_i + (1 + (p_i - 1) y_i) softplus(-x_i)].
    (A string in ``weight``'s place is the reduction: the older positional form.)"""
    if isinstance(weight, str):  # Sorix's positional reduction
        if reduction != "mean":
            raise TypeError(f"binary_cross_entropy_with_logits: weight must be a tensor, "
                            f"got {weight!r} (the reduction is {reduction!r})")
        weight, reduction = None, weight
    check_reduction(reduction)
    if weight is not None or pos_weight is not None:
        return _bce_with_logits_weighted(input, target, weight, reduction, pos_weight)
    input, target, x, t = _same_shape_operands("binary_cross_entropy_with_logits", input, target)
    if x is None:
        return composite.binary_cross_entropy_with_logits(input, target, reduction)
    zero = x.dtype.type(0)
    if reduction == "none":
        out = np.empty_like(x)
        run(K.bce_each, x.size, x, t, zero, out)
        out = out.reshape(input.data.shape)
    else:
        out = _reduced(run(K.bce_sum, x.size, x, t, zero), x.size, reduction, x.dtype)
    if records(input, target):
        return wrap(out, BCEWithLogitsNode(input, target, x, t, reduction))
    return wrap(out)


# ---- binary cross-entropy with logits: weight and pos_weight ------------------------

def _softplus(z):
    """log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)), finite for any finite z."""
    return binary("maximum", z, 0.0) + unary("log1p", unary("exp", -z.abs()))


def _broadcast_constant(name, value, input, dtype, what):
    """``value`` as a constant tensor of ``dtype`` on the input's device, checked to broadcast
    to the input's shape without enlarging it (or None)."""
    if value is None:
        return None
    data = value.data if isinstance(value, core.Tensor) else value
    if not core.is_device_array(data):
        data = np.asarray(data)
    shape = tuple(input.data.shape)
    try:
        fits = np.broadcast_shapes(tuple(data.shape), shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{name}: {what} of shape {tuple(data.shape)} does not broadcast to "
                         f"the input's shape {shape}")
    data = core.array_on(core.namespace(input), data)
    if data.dtype != dtype:
        data = core.namespace(input).astype(data, dtype)
    return constant(data)  # a constant, as PyTorch (which refuses weights requiring grad)


class BCEWithLogitsWeightedNode(Node):
    """PyTorch's gradients, with p = pos_weight (1 when absent) and w = weight (1):
    d/dx = w [(p y + 1 - y) sigmoid(x) - p y], d/dy = w [p softplus(-x) - softplus(x)],
    times the upstream gradient (over n for 'mean')."""
    __slots__ = ("weight", "pos_weight", "reduction")

    def __init__(self, input, target, weight, pos_weight, reduction):
        super().__init__((input, target), (input.data, target.data), (input, target))
        self.weight, self.pos_weight, self.reduction = weight, pos_weight, reduction

    def backward(self, grad, F, saved):
        if F is not twin:  # first order: the formula on arrays, unrecorded
            return twin.on_arrays(self._formula, grad, saved)
        return self._formula(grad, *saved)

    def _formula(self, grad, x, y):
        n = x.data.size
        g = grad * (1.0 / n if n else float("nan")) if self.reduction == "mean" else grad
        if self.weight is not None:
            g = g * self.weight
        p = self.pos_weight
        gx = gy = None
        if self.needs[0]:
            if p is None:
                gx = (x.sigmoid() - y) * g
            else:
                py = p * y
                gx = ((py + 1.0 - y) * x.sigmoid() - py) * g
        if self.needs[1]:
            if p is None:
                gy = -(x * g)
            else:
                gy = (p * _softplus(-x) - _softplus(x)) * g
        return gx, gy


def _bce_with_logits_weighted(input, target, weight, reduction, pos_weight):
    """The loss with ``weight`` and/or ``pos_weight`` (see binary_cross_entropy_with_logits),
    as PyTorch computes it: (1 - y) x + (1 + (p - 1) y) softplus(-x), times w."""
    name = "binary_cross_entropy_with_logits"
    input, target, _, _ = _same_shape_operands(name, input, target)
    dtype = float_data(input).dtype
    x = input if input.data.dtype == dtype else cast(input, dtype)
    y = target if target.data.dtype == dtype else cast(target, dtype)
    w = _broadcast_constant(name, weight, x, dtype, "weight")
    p = _broadcast_constant(name, pos_weight, x, dtype, "pos_weight")
    with no_grad():
        xd, yd = constant(x.data), constant(y.data)
        tail = _softplus(-xd)
        each = (1.0 - yd) * xd + (tail if p is None else ((p - 1.0) * yd + 1.0) * tail)
        if w is not None:
            each = each * w
        if reduction != "none":  # (NaN for the mean of no elements, as PyTorch)
            n = each.data.size
            each = each.sum() if reduction == "sum" else \
                each.sum() / n if n else each.sum() + float("nan")
        out = each.data
    if records(x, y):
        return wrap(out, BCEWithLogitsWeightedNode(x, y, w, p, reduction))
    return wrap(out)


# ---- Kullback-Leibler divergence ---------------------------------------------------

KL_REDUCTIONS = ("mean", "batchmean", "sum", "none")

_KL_MEAN_WARNING = (
    "reduction: 'mean' divides the total loss by both the batch size and the support size. "
    "'batchmean' divides only by the batch size, and aligns with the KL div math definition. "
    "'mean' will be changed to behave the same as 'batchmean' in the next major release.")


def check_kl_reduction(reduction):
    if reduction not in KL_REDUCTIONS:
        raise ValueError("kl_div: reduction must be 'mean', 'batchmean', 'sum' or 'none', got "
                         f"{reduction!r}")
    return reduction


def kl_div(input, target, reduction="mean", log_target=False):
    """Pointwise KL divergence of ``target`` from ``input`` (log-probabilities, as PyTorch):

        l = xlogy(t, t) - t x          (t = 0 gives 0)
        l = exp(t) (t - x)             (log_target=True: t holds log-probabilities)

    then the mean over every element ('mean', which warns as PyTorch does: 'batchmean'
    is the divergence), the sum over the batch size (input.shape[0], 'batchmean'),
    the sum ('sum') or each ('none'). Composed of differentiable ops: gradients for
    input and target (the target's is NaN where t = 0 without log_target, as PyTorch's).
    """
    check_kl_reduction(reduction)
    if reduction == "mean":
        warnings.warn(_KL_MEAN_WARNING, UserWarning, stacklevel=3)
    input, target, _, _ = _same_shape_operands("kl_div", input, target, scalar_target=True)
    dtype = float_data(input).dtype
    x = input if input.data.dtype == dtype else cast(input, dtype)
    t = target if target.data.dtype == dtype else cast(target, dtype)
    if log_target:
        each = t.exp() * (t - x)
    else:
        B = core.namespace(t)
        zero = B.compare("eq", t.data, 0)
        # xlogy(t, t): 0 where t = 0 (the log term's NaN there stays in the unused branch)
        each = where(zero, 0.0, t * t.log()) - t * x
    if reduction == "none":
        return each
    if reduction == "mean":  # (over no elements: NaN, as PyTorch, without NumPy's warning)
        return each.mean() if each.data.size else each.sum() + float("nan")
    total = each.sum()
    if reduction == "batchmean" and x.ndim > 0:
        return total / x.shape[0]
    return total
