"""The CPU array namespace: :mod:`sorix.kernels.cuda`'s functions, name for name, on NumPy arrays.

The tensor layer never asks which device it is on: it takes the namespace
of its arrays from :func:`sorix.kernels.backend.of` and calls
``B.binary(...)``, ``B.sum(...)``, ``B.assign(...)``. Here each function is
the CPU kernel or the NumPy call the op used before there was a GPU, so the
CPU path computes exactly what it did and costs one more function call at
most. The device-only helpers (``as_device``, ``simulated``,
``transfer_counts``) have no CPU counterpart.
"""
import math

import numpy as np

from .. import config
from . import recycle
from . import elementwise as _elementwise
from . import linalg as _linalg
from . import optim as _optim
from . import scatter as _scatter
from . import softmax as _softmax
from . import softmax_across as _softmax_across
from . import grad_norm as _blocks
from . import variants as _variants
from .axes import axis_tuple

#: The device this namespace's arrays live on.
DEVICE = "cpu"

# ---- elementwise, matmul, optimizer updates: the CPU kernels themselves -----------
unary = _elementwise.unary
unary_grad = _elementwise.unary_grad
binary = _elementwise.binary
binary_grad = _elementwise.binary_grad
binary_grad_same = _elementwise.binary_grad_same
matmul = _linalg.matmul
run = _optim.run


def nothing(dtype):
    """The shared 0-size array passed for unused optimizer state."""
    return _optim.EMPTY[dtype]


# ---- allocation and transfers -------------------------------------------------------

def empty(shape, dtype=np.float32):
    return np.empty(shape, dtype)


def zeros(shape, dtype=np.float32):
    return np.zeros(shape, dtype)


def full(shape, value, dtype=np.float32):
    out = np.empty(shape, dtype)  # (np.full costs several times more on small arrays)
    out.fill(value)
    return out


def zeros_like(x):
    return np.zeros(x.shape, x.dtype)


def scalar_array(value, dtype):
    """A 0-d array holding ``value``."""
    return np.asarray(value, dtype=dtype)


def arange(n, dtype=np.int64):
    return np.arange(n, dtype=dtype)


def to_device(a):
    """``a`` as a host array (this namespace's device is the host)."""
    return np.asarray(a)


def to_host(x):
    """``x`` itself: it is already on the host."""
    return x


# ---- layout ----------------------------------------------------------------------------

def astype(x, dtype):
    return x.astype(dtype)


def copy(x, dtype=None):
    """A new C-contiguous array with ``x``'s values (converted to ``dtype`` if given)."""
    return np.array(x, dtype=dtype, order="C")


def contiguous(x):
    return x if x.flags.c_contiguous else x.copy(order="C")


def reshape(x, shape):
    return x.reshape(shape)


def transpose(x, axes=None):
    return x.transpose(axes)


def matrix_transpose(x):
    return np.swapaxes(x, -1, -2)


broadcast_to = np.broadcast_to


def is_c_contiguous(x):
    return x.flags.c_contiguous


def flat(x, dtype=None):
    """``x`` as a 1-D C-contiguous array of ``dtype``: a view when it can be, else a copy."""
    if x.ndim == 1 and x.flags.c_contiguous and (dtype is None or x.dtype == dtype):
        return x  # (the usual bias or flat parameter: no call into NumPy at all)
    return np.ascontiguousarray(x, dtype=dtype).reshape(-1)


def owns_memory(x):
    """Whether ``x`` may be handed on as a gradient without copying: its own,
    writable, C-contiguous memory (not a view, not a broadcast; an array cut whole from
    a recycled block counts as its own)."""
    return (x.base is None or recycle.is_whole(x)) and x.flags.writeable \
        and x.flags.c_contiguous


def shares_memory(a, b):
    """Whether ``a`` (an op's fresh result or a view) may share ``b``'s memory."""
    # An array without a base owns memory it allocated itself: no need to look.
    return a.base is not None and np.may_share_memory(a, b)


# ---- comparisons and logic --------------------------------------------------------------

_COMPARISONS = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
                "gt": np.greater, "ge": np.greater_equal}
_LOGICAL = {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}
_BITWISE = {"and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}


def compare(name, a, b):
    """``a <name> b`` as a bool array; ``same`` is equal-or-both-NaN."""
    if name == "same":
        smaller = a if np.size(a) <= np.size(b) else b
        if np.asarray(smaller).dtype.kind != "f" or not np.isnan(smaller).any():
            return np.asarray(a == b)  # (no NaN in one operand: no NaN pairs to match)
        return (a == b) | (np.isnan(a) & np.isnan(b))
    return np.asarray(_COMPARISONS[name](a, b))


def logical(name, a, b):
    return np.asarray(_LOGICAL[name](a, b))


def bitwise(name, a, b):
    return np.asarray(_BITWISE[name](a, b))


def invert(x):
    return np.logical_not(x) if x.dtype == np.bool_ else np.invert(x)


def any(x):
    return np.asarray(x.any())


def all(x):
    return np.asarray(x.all())


def where(condition, a, b):
    return np.where(condition, a, b)


# ---- reductions ----------------------------------------------------------------------

# (the array methods: np.sum & co. add a Python-level wrapper per call)

#: Rows from which a sum over the leading axes runs :func:`grad_norm.column_sums`.
COLUMN_KERNEL_MIN_ROWS = 16

# How :func:`sum` and :func:`mean` add (see :func:`_plan`).
_WHOLE, _ROWS, _COLUMNS, _WIDE = "whole", "rows", "columns", "wide"


def _plan(x, axis, dtype):
    """How to add ``x`` over ``axis`` (reduced to its own dtype, or ``dtype``):

    - for a contiguous float32 array of at least ``config.TOTAL_KERNEL_MIN`` elements, one
      pass of a kernel of :mod:`sorix.kernels.grad_norm` that adds in float64 over fixed
      blocks and rounds once: ``_WHOLE`` (every axis), ``_ROWS`` (the last axis alone) or
      ``_COLUMNS`` (the first k axes, over ``COLUMN_KERNEL_MIN_ROWS`` rows or more);
    - ``_WIDE``: NumPy's sum with a float64 accumulator, where NumPy would add float16 or
      float32 values one after another in their own dtype (over any axes but every axis
      or the last one of a contiguous array: it sums pairwise only along those);
    - None: NumPy's own sum (other dtypes, or a pairwise float32 pass)."""
    if x.dtype.char not in "ef" or (dtype is not None and np.dtype(dtype) != x.dtype):
        return None
    if x.dtype.char == "e" or not x.flags.c_contiguous:
        return _WIDE
    axes = axis_tuple(axis, x.ndim)
    every = len(axes) == x.ndim
    last = axes == (x.ndim - 1,)
    if x.size >= config.TOTAL_KERNEL_MIN:
        if every:
            return _WHOLE
        if last:
            return _ROWS
        if axes == tuple(range(len(axes))) \
                and math.prod(x.shape[:len(axes)]) >= COLUMN_KERNEL_MIN_ROWS:
            return _COLUMNS
    return None if every or last else _WIDE


def _whole_total(x):
    """The float64 total of every element of ``x`` (one threaded pass of
    :func:`sorix.kernels.grad_norm.norm_part`)."""
    return _variants.run(_blocks.norm_part, x.size, x.reshape(-1), _blocks.SUM, 0.0)


def _row_totals(x):
    """The float64 sums along the last axis of ``x`` (one threaded pass of
    :func:`sorix.kernels.grad_norm.row_sums`), shaped as the reduction without kept axes."""
    out = np.empty(x.shape[:-1], np.float64)
    _variants.run(_blocks.row_sums, x.size, x.reshape(-1), x.shape[-1], out.reshape(-1))
    return out


def _column_totals(x, axis, keepdims, mean=False):
    """The sums (or means) of ``x`` over its leading ``axis``, each added in float64 and
    rounded once (one pass of :func:`sorix.kernels.grad_norm.column_sums`)."""
    lead = len(axis_tuple(axis, x.ndim))
    kept = x.shape[lead:]
    cols = math.prod(kept)
    rows = x.size // cols
    # blocks of at least 16 rows, so the float64 partials stay small beside the data
    blocks = rows // 16 if rows // 16 < _blocks.COLUMN_BLOCKS else _blocks.COLUMN_BLOCKS
    out = np.empty((1,) * lead + kept if keepdims else kept, np.float32)
    with np.errstate(over="ignore"):  # a total beyond float32's range is inf, as it should be
        _variants.run(_blocks.column_sums, x.size, x.reshape(-1), cols,
                      np.empty((blocks, cols), np.float64), out.reshape(-1),
                      float(rows) if mean else 1.0)
    return out


def _row_result(totals, x, keepdims, scale=1.0):
    with np.errstate(over="ignore"):  # a total beyond float32's range is inf, as it should be
        out = (totals * scale if scale != 1.0 else totals).astype(np.float32)
    return out.reshape(out.shape + (1,)) if keepdims else out


def _kept(value, x, keepdims):
    with np.errstate(over="ignore"):  # a total beyond float32's range is inf, as it should be
        out = np.asarray(np.float32(value))
    return out.reshape((1,) * x.ndim) if keepdims else out


def _narrowed(total, x):
    with np.errstate(over="ignore"):  # a total beyond the dtype's range is inf, as it should be
        return np.asarray(total.astype(x.dtype))


def sum(x, axis=None, keepdims=False, dtype=None):
    plan = _plan(x, axis, dtype)
    if plan is _WHOLE:
        return _kept(_whole_total(x), x, keepdims)
    if plan is _ROWS:
        return _row_result(_row_totals(x), x, keepdims)
    if plan is _COLUMNS:
        return _column_totals(x, axis, keepdims)
    if plan is _WIDE:  # (a sum over 2e6 rows of float32 0.1 was 1.5% short in float32)
        return _narrowed(x.sum(axis=axis, keepdims=keepdims, dtype=np.float64), x)
    return np.asarray(x.sum(axis=axis, keepdims=keepdims, dtype=dtype))


def mean(x, axis=None, keepdims=False):
    plan = _plan(x, axis, None)
    if plan is _WHOLE:
        return _kept(_whole_total(x) / x.size, x, keepdims)
    if plan is _ROWS:
        return _row_result(_row_totals(x), x, keepdims, 1.0 / x.shape[-1])
    if plan is _COLUMNS:
        return _column_totals(x, axis, keepdims, mean=True)
    if plan is _WIDE:
        return _narrowed(x.mean(axis=axis, keepdims=keepdims, dtype=np.float64), x)
    return np.asarray(x.mean(axis=axis, keepdims=keepdims))


def max(x, axis=None, keepdims=False):
    return np.asarray(x.max(axis=axis, keepdims=keepdims))


def min(x, axis=None, keepdims=False):
    return np.asarray(x.min(axis=axis, keepdims=keepdims))


def _arg(fn, x, axis, keepdims):
    if axis is None:
        out = np.asarray(fn(x))
        if keepdims:
            out = out.reshape((1,) * x.ndim)
    else:
        out = fn(x, axis=int(axis), keepdims=keepdims)
    return np.asarray(out, dtype=np.int64)


def argmax(x, axis=None, keepdims=False):
    """Index (int64) of the first maximum along ``axis`` (of the flattened array when None)."""
    return _arg(np.argmax, x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    return _arg(np.argmin, x, axis, keepdims)


# ---- softmax -------------------------------------------------------------------------------

def over_rows(kernel, *arrays):
    """A kernel of :mod:`.softmax` run over the rows of the last axis of ``arrays`` (each
    made C-contiguous), into a new array of the first one's shape and dtype. (CPU only:
    the softmax nodes' one-pass gradients call it too.)"""
    x = arrays[0]
    out = recycle.empty(x.shape, x.dtype)
    if x.size == 0:
        return out
    cols = x.shape[-1]
    rows = [np.ascontiguousarray(a).reshape(-1, cols) for a in arrays]
    _variants.run(kernel, x.size, *rows, out.reshape(-1, cols))
    return out


def over_axis(name, axis, *arrays):
    """Softmax kernel ``name`` (of :mod:`.softmax` and :mod:`.softmax_across`) along
    ``axis`` of ``arrays``: the row kernel along the last axis, else the across kernel
    over the (before, axis, after) view. The result is a new array of the first one's
    shape and dtype. (CPU only: the softmax nodes' one-pass gradients call it too.)"""
    x = arrays[0]
    axis = axis % x.ndim
    after = math.prod(x.shape[axis + 1:])
    if after == 1:  # the last axis, or one followed by size-1 axes only: rows
        rows = [a.reshape(x.shape[:axis + 1]) for a in arrays]
        return over_rows(getattr(_softmax, name), *rows).reshape(x.shape)
    out = recycle.empty(x.shape, x.dtype)
    if x.size == 0:
        return out
    view = (math.prod(x.shape[:axis]), x.shape[axis], after)
    columns = [np.ascontiguousarray(a).reshape(view) for a in arrays]
    _variants.run(getattr(_softmax_across, name), x.size, *columns, out.reshape(view))
    return out


def softmax(x, axis=-1):
    if x.ndim:
        return over_axis("softmax_forward", axis, x)
    shifted = x - np.max(x, axis=axis, keepdims=True)  # (one value)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    if x.ndim:
        return over_axis("log_softmax_forward", axis, x)
    shifted = x - np.max(x, axis=axis, keepdims=True)  # (one value)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


# ---- indexing and writes ---------------------------------------------------------------------

def _all_basic(parts):
    # (a loop: this module's all() is the array reduction)
    for p in parts:
        if not (p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice))):
            return False
    return True


def take(x, index):
    """``x[index]`` (a view for a basic index, as NumPy gives)."""
    out = x[index]
    return out if isinstance(out, np.ndarray) else np.asarray(out)  # one element: a 0-d array


def scatter_add(shape, index, g):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices accumulate)."""
    return add_at(np.zeros(shape, g.dtype), index, g)


def add_at(out, index, g):
    """``out[index] += g`` in place, repeated indices accumulating; returns ``out``."""
    parts = index if isinstance(index, tuple) else (index,)
    if _all_basic(parts):
        out[index] += g
    elif not _add_rows(out, parts, g):
        np.add.at(out, index, g)
    return out


def _add_rows(out, parts, g):
    """``scatter_add`` of a gather of whole rows by one integer array (see
    :mod:`.scatter`); False, having done nothing, for any other index."""
    rows = parts[0] if len(parts) == 1 else None
    if not (isinstance(rows, np.ndarray) and rows.dtype.kind in "iu" and out.ndim >= 1
            and out.size and g.dtype.char in "fd"):
        return False
    count = out.shape[0]
    flat = rows.reshape(-1).astype(np.int64)
    flat = np.where(flat < 0, flat + count, flat)
    if flat.size and (flat.min() < 0 or flat.max() >= count):
        return False  # (np.add.at raises the IndexError; the loop checks no bounds)
    width = out.size // count
    _variants.variant(_scatter.add_rows, False)(
        out.reshape(count, width), flat, np.ascontiguousarray(g).reshape(flat.size, width))
    return True


def assign(dst, index, value):
    """``dst[index] = value`` in place; returns ``dst``."""
    dst[index] = value
    return dst


_INPLACE = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide}


def inplace(name, dst, other):
    """``dst = dst <op> other`` in place (NumPy's default casting with ``out``: same_kind);
    returns ``dst``."""
    _INPLACE[name](dst, other, out=dst)
    return dst


def clip(x, low, high, out=None):
    """``x`` limited to [low, high] (None: no bound), into ``out`` when given."""
    return np.clip(x, low, high, out=out)


concatenate = np.concatenate
stack = np.stack


# ---- convolution and pooling: the CPU kernels themselves ------------------------------------
from .conv import (conv2d, conv2d_backward, conv2d_forward, conv2d_input_grad,  # noqa: E402
                   conv2d_weight_grad)
from .pool import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward  # noqa: E402,F401
