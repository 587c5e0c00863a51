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
"""
import numpy as np

from ..autograd.node import Node
from ..kernels import cpu as _cpu
from ..kernels import losses as K
from ..kernels.variants import run
from . import composite, core
from .core import float_data, records, wrap
from .elementwise import cast

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


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """l_i = max(x_i, 0) - x_i y_i + log(1 + exp(-|x_i|)), the stable form of
    -[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]; 'mean' averages over
    every element (N x C for multi-label targets)."""
    check_reduction(reduction)
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
