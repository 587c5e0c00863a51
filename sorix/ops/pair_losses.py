"""L1, smooth L1, Huber and binary cross-entropy losses, each one fused op.

With d = x - t per element (PyTorch's definitions):

    l1_loss              |d|
    smooth_l1_loss       d^2 / (2 beta) where |d| < beta, else |d| - beta / 2
    huber_loss           d^2 / 2 where |d| < delta, else delta (|d| - delta / 2)
    binary_cross_entropy -w (t log x + (1 - t) log(1 - x)), each log clamped at -100

then the mean over every element ('mean', NaN for no elements, as PyTorch),
the sum ('sum', 0 for none) or each element ('none').

Input and target must have one shape: broadcasting an (N,) target against
(N, 1) predictions would pair every prediction with every target. A 0-d
target is one value for every element (broadcast; its gradient is the sum).

On the CPU the forward is one kernel pass and the backward another
(:mod:`sorix.kernels.pair_losses`). On a GPU the loss is computed with
tensor ops and its backward evaluates :meth:`PairLossNode._formula`, the
kernel's formulas written with tensor ops, which also serve ``create_graph=True``.
"""
import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.node import Node
from ..kernels import cpu as _cpu
from ..kernels import pair_losses as K
from ..kernels.variants import run
from . import core, twin
from .core import constant, float_data, records, wrap
from .elementwise import cast, where
from .losses import as_tensor, check_reduction

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_NAMES = {K.L1: "l1_loss", K.SMOOTH_L1: "smooth_l1_loss", K.HUBER: "huber_loss",
          K.BCE: "binary_cross_entropy"}


def _operands(name, input, target):
    """Input and target as tensors of one float dtype and shape (a 0-d target expanded)."""
    input = as_tensor(input)
    target = as_tensor(target, like=input.data)
    if target.ndim == 0 and input.ndim > 0:
        target = target.expand(*input.shape)  # differentiable: its gradient is summed
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"{name}: input shape {tuple(input.shape)} and target shape {tuple(target.shape)} "
            "differ; broadcasting them would pair every prediction with every target. "
            f"Reshape one of them, for example target.reshape({tuple(input.shape)}).")
    dtype = float_data(input).dtype
    if dtype not in _KERNEL_DTYPES:  # float16 and integers compute in float32
        dtype = np.dtype(np.float32)
    input = input if input.data.dtype == dtype else cast(input, dtype)
    target = target if target.data.dtype == dtype else cast(target, dtype)
    return input, target


def _weight_array(weight, shape, dtype, B):
    """BCE's weight broadcast to the input's shape (a constant), or None."""
    if weight is None:
        return None
    data = weight.data if isinstance(weight, core.Tensor) else weight
    if not core.is_device_array(data):
        data = np.asarray(data)
    try:
        np.broadcast_shapes(tuple(data.shape), shape)
    except ValueError:
        raise ValueError(f"binary_cross_entropy: weight of shape {tuple(data.shape)} does not "
                         f"broadcast to the input's shape {shape}") from None
    data = core.array_on(B, data)
    data = B.astype(data, dtype) if data.dtype != dtype else data
    return B.contiguous(B.broadcast_to(data, shape))


def _check_probabilities(x):
    if x.size and not (np.min(x) >= 0 and np.max(x) <= 1):  # (NaN fails both)
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 "
                           "and 1 (probabilities); for logits use "
                           "binary_cross_entropy_with_logits")


class PairLossNode(Node):
    """Gradients of an elementwise pair loss (see the module doc)."""
    __slots__ = ("kind", "p", "weight", "reduction", "count", "shape")

    def __init__(self, input, target, saved, kind, p, weight, reduction):
        super().__init__((input, target), saved, (input, target))
        self.kind, self.p, self.weight, self.reduction = kind, p, weight, reduction
        self.count = input.data.size
        self.shape = tuple(input.data.shape)

    @property
    def name(self):
        return _NAMES[self.kind].title().replace("_", "") + "Backward"

    def _scale(self):
        if self.reduction != "mean":
            return 1.0
        return 1.0 / self.count if self.count else float("nan")

    def backward(self, grad, F, saved):
        if F is _cpu:
            return self._fused(grad, saved)
        if F is not twin:  # device arrays: the tensor formula, not recorded
            return twin.on_arrays(self._formula, grad, [t.data for t in self.inputs])
        return self._formula(grad, *saved)

    def _fused(self, grad, saved):
        x, t = saved
        dtype = x.dtype
        need_x, need_t = self.needs
        gx = np.empty(self.shape, dtype) if need_x else np.empty(0, dtype)
        gt = np.empty(self.shape, dtype) if need_t else np.empty(0, dtype)
        weight = self.weight.reshape(-1) if self.weight is not None else np.empty(0, dtype)
        upstream = np.ascontiguousarray(grad, dtype=dtype).reshape(-1)
        run(K.pair_grad, x.size, x, t, self.kind, dtype.type(self.p), weight, upstream,
            dtype.type(self._scale()), gx.reshape(-1), gt.reshape(-1))
        return (gx if need_x else None), (gt if need_t else None)

    def _formula(self, grad, x, t):
        """The kernel's gradient with tensor ops (GPUs, and create_graph=True)."""
        scale = self._scale()
        g = grad * scale if scale != 1.0 else grad
        if self.weight is not None:
            g = g * constant(self.weight.reshape(self.shape))
        need_x, need_t = self.needs
        gx = gt = None
        if self.kind == K.BCE:
            if need_x:
                gx = g * (x - t) / ((1.0 - x) * x).clamp(min=K.BCE_EPSILON)
            if need_t:
                gt = g * ((-x).log1p() - x.log())
            return gx, gt
        d = x - t
        p = self.p
        if self.kind == K.L1:
            slope = d.sign()
        elif self.kind == K.SMOOTH_L1:
            slope = (d * (1.0 / p)).clamp(-1.0, 1.0)
        else:
            slope = d.clamp(-p, p)
        if need_x:
            gx = g * slope
        if need_t:
            gt = -(g * slope)
        return gx, gt


def _tensor_loss(kind, x, t, p):
    """Each element's loss with tensor ops (the GPU's forward)."""
    if kind == K.BCE:
        return (t - 1.0) * (-x).log1p().clamp(min=-100.0) - t * x.log().clamp(min=-100.0)
    d = x - t
    a = d.abs()
    if kind == K.L1:
        return a
    if kind == K.SMOOTH_L1:
        return where(a < p, d * d * (0.5 / p), a - 0.5 * p)
    return where(a < p, d * d * 0.5, (a - 0.5 * p) * p)


def _pair_loss(kind, input, target, reduction, p=0.0, weight=None):
    check_reduction(reduction)
    name = _NAMES[kind]
    input, target = _operands(name, input, target)
    dtype = input.data.dtype
    shape = tuple(input.data.shape)
    B = core.namespace(input, target)
    w = _weight_array(weight, shape, dtype, B)
    count = input.data.size
    if B is _cpu:
        x = np.ascontiguousarray(input.data).reshape(-1)
        t = np.ascontiguousarray(target.data).reshape(-1)
        if kind == K.BCE:
            _check_probabilities(x)
        flat_w = w.reshape(-1) if w is not None else np.empty(0, dtype)
        if reduction == "none":
            out = np.empty(shape, dtype)
            run(K.pair_each, count, x, t, kind, dtype.type(p), flat_w, out.reshape(-1))
        else:
            total = run(K.pair_sum, count, x, t, kind, dtype.type(p), flat_w)
            if reduction == "mean":
                total = total / count if count else np.nan
            out = np.asarray(total, dtype=dtype)
        saved = (x, t)
    else:
        with no_grad():
            each = _tensor_loss(kind, input, target, p)
            if w is not None:
                each = each * constant(w)
            out = each if reduction == "none" else each.sum()
            if reduction == "mean":
                out = out / count if count else out * float("nan")
        out = out.data
        saved = None
    if records(input, target):
        return wrap(out, PairLossNode(input, target, saved, kind, p, w, reduction))
    return wrap(out)


def l1_loss(input, target, reduction="mean"):
    """|x - t|, then the mean, the sum or each element ('none')."""
    return _pair_loss(K.L1, input, target, reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """(x - t)^2 / (2 beta) where |x - t| < beta, else |x - t| - beta / 2 (beta = 0: L1)."""
    beta = float(beta)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    return _pair_loss(K.SMOOTH_L1 if beta > 0 else K.L1, input, target, reduction, beta)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """(x - t)^2 / 2 where |x - t| < delta, else delta (|x - t| - delta / 2)."""
    delta = float(delta)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return _pair_loss(K.HUBER, input, target, reduction, delta)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-w (t log x + (1 - t) log(1 - x)) for probabilities x, each log clamped at -100."""
    return _pair_loss(K.BCE, input, target, reduction, 0.0, weight)
