"""Negative log-likelihood of class indices, given log-probabilities (PyTorch's NLLLoss).

For input x (N, C) of log-probabilities and targets t_i:

    loss_i = -w_{t_i} x_{i, t_i}
    mean   = sum_i loss_i / sum_i w_{t_i}         (PyTorch's weighted mean)
    d loss_i / d x_ic = -w_{t_i} [c = t_i]

Targets equal to ``ignore_index`` add nothing and are left out of the mean
(a batch of ignored targets has a NaN mean, as PyTorch's). Input (C,) takes
a 0-d target; input (N, C, d1, ...) takes targets (N, d1, ...), each position
a row (the class axis moved last). Each loss reads one element per row, so
the forward is a gather and the backward a scatter of one value per row:
NumPy indexing on the CPU, tensor ops on a GPU.
"""
import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.node import Node
from ..kernels import cpu as _cpu
from . import core, twin
from .core import constant, float_data, records, wrap
from .elementwise import cast, where
from .losses import as_tensor, check_reduction

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _as_rows(x):
    """(C,) -> (1, C); (N, C) as it is; (N, C, d...) -> (N d..., C)."""
    if x.ndim == 1:
        return x.reshape((1,) + tuple(x.shape))
    if x.ndim == 2:
        return x
    order = (0,) + tuple(range(2, x.ndim)) + (1,)
    return x.permute(order).reshape((-1, x.shape[1]))


def _target_shape(input, target):
    expected = () if input.ndim == 1 else (input.shape[0],) + tuple(input.shape[2:])
    shape = tuple(target.shape)
    if shape == expected:
        return expected
    if input.ndim == 2 and shape == expected + (1,):  # a column of labels, as Sorix code holds them
        return expected
    raise ValueError(f"nll_loss: targets of shape {shape} do not fit input of shape "
                     f"{tuple(input.shape)}; expected class indices of shape {expected}")


def _indices(target, rows, classes, ignore_index):
    """Targets as a flat int64 host array, checked for whole values and range."""
    data = target.data
    if not isinstance(data, np.ndarray):
        data = core.namespace(target).to_host(data)
    if data.dtype.kind == "f":
        if not np.all(np.isfinite(data)) or np.any(data != np.round(data)):
            raise ValueError("nll_loss: targets must be class indices (whole numbers)")
    elif data.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: targets must be integer class indices, got {data.dtype}")
    index = np.asarray(data, dtype=np.int64).reshape(rows)
    bad = (index != ignore_index) & ((index < 0) | (index >= classes))
    if bad.any():
        raise IndexError(f"nll_loss: target {int(index[bad][0])} is out of bounds for "
                         f"{classes} classes (valid: 0 to {classes - 1}, or ignore_index)")
    return index


class NLLLossNode(Node):
    """d loss / d x_ic = -upstream_i factor_i [c = t_i] (see the module doc)."""
    __slots__ = ("rows_shape", "index", "factor", "reduction")

    def __init__(self, input, index, factor, reduction, rows_shape):
        super().__init__((input,))
        # index: each row's class (0 for ignored rows, whose factor is 0)
        self.index, self.factor, self.reduction = index, factor, reduction
        self.rows_shape = rows_shape

    def backward(self, grad, F, saved):
        # one element per row: a selector times the gradient, written with tensor ops
        # (on arrays run unrecorded; the cost is one small product, kernels gain nothing)
        if F is not twin:
            return twin.on_arrays(self._formula, grad, [self.inputs[0].data])
        return self._formula(grad, *saved)

    def _formula(self, grad, x):
        rows, _ = self.rows_shape
        g = grad.reshape((rows, 1)) if self.reduction == "none" else grad
        weights = constant(_selector(self.index, -self.factor, self.rows_shape), like=x.data)
        return (_from_rows(weights * g, tuple(x.shape)),)


def _selector(index, values, rows_shape):
    """A host array (rows, C) holding values[i] at (i, index[i]) and 0 elsewhere."""
    grid = np.zeros(rows_shape, values.dtype)
    grid[np.arange(rows_shape[0]), index] = values
    return grid


def _from_rows(rows, shape):
    """The inverse of :func:`_as_rows`."""
    if len(shape) <= 2:
        return rows.reshape(shape)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    inverse = (0, len(shape) - 1) + tuple(range(1, len(shape) - 1))
    return rows.reshape(moved).permute(inverse)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """-w_{t_i} x_{i, t_i} per row, then the weighted mean, the sum, or each ('none')."""
    check_reduction(reduction)
    x = as_tensor(input)
    if x.ndim == 0:
        raise ValueError("nll_loss: input must have a class dimension: (C,), (N, C) or "
                         "(N, C, d1, ...)")
    target = as_tensor(target, like=x.data)
    out_shape = _target_shape(x, target)
    dtype = float_data(x).dtype
    if dtype not in _KERNEL_DTYPES:
        dtype = np.dtype(np.float32)
    x = x if x.data.dtype == dtype else cast(x, dtype)
    classes = x.shape[0] if x.ndim == 1 else x.shape[1]
    rows = int(np.prod(out_shape, dtype=np.int64))
    index = _indices(target, rows, classes, int(ignore_index))
    if weight is not None:
        w = weight.data if isinstance(weight, core.Tensor) else np.asarray(weight)
        w = core.namespace(weight).to_host(w) if isinstance(weight, core.Tensor) else w
        w = np.asarray(w, dtype=np.float64).reshape(-1)
        if w.size != classes:
            raise ValueError(f"nll_loss: weight has {w.size} entries but the input has "
                             f"{classes} classes")
    else:
        w = np.ones(classes)
    kept = index != ignore_index
    safe = np.where(kept, index, 0)
    row_weight = np.where(kept, w[safe], 0.0)  # float64, on the host
    total_weight = row_weight.sum()
    if reduction == "mean":
        # no counted row: a NaN loss with zero gradients, as PyTorch
        factor = row_weight / total_weight if total_weight else np.zeros(rows)
    else:
        factor = row_weight
    x_rows = _as_rows(x)
    if core.namespace(x) is _cpu:
        picked = np.asarray(x_rows.data)[np.arange(rows), safe].astype(np.float64)
        each = np.where(factor != 0, -factor * picked, 0.0)  # ignored rows: 0, never 0 * inf
        out = each.astype(dtype).reshape(out_shape) if reduction == "none" else \
            np.asarray(each.sum(), dtype=dtype)
    else:
        with no_grad():
            mask = constant(_selector(safe, factor != 0, (rows, classes)), like=x.data)
            scale = constant(_selector(safe, -factor.astype(dtype), (rows, classes)),
                             like=x.data)
            each = where(mask, x_rows * scale, 0.0).sum(axis=-1)
            out = (each.reshape(out_shape) if reduction == "none" else each.sum()).data
    if reduction == "mean" and not total_weight:
        out = core.namespace(x).full((), np.nan, dtype)
    if records(x):
        return wrap(out, NLLLossNode(x, safe, factor.astype(dtype), reduction, (rows, classes)))
    return wrap(out)
