"""What every op needs: making output tensors, grad-mode checks, operands.

``Tensor`` is set by :mod:`sorix.tensor` when it defines the class, so that
the ops below it never import the layer above.
"""
import numpy as np

from ..autograd.grad_mode import _state

Tensor = None  # the tensor class, registered by sorix.tensor

_FLOAT_DEFAULT = np.dtype(np.float32)


def wrap(data, node=None):
    """A tensor over ``data``; with a node it is that node's (non-leaf) output."""
    return Tensor._wrap(data, node)


def records(*tensors):
    """Whether an op on ``tensors`` must record a node."""
    if not _state.enabled:
        return False
    for t in tensors:
        if t is not None and t.requires_grad:
            return True
    return False


def constant(value, dtype=None):
    """``value`` as a tensor that does not require grad."""
    if isinstance(value, Tensor):
        return value
    return Tensor._wrap(np.asarray(value, dtype=dtype))


def _scalar_dtype(tensor_dtype, scalar):
    """The result dtype of ``tensor op scalar``: Python scalars are weak."""
    kind = tensor_dtype.kind
    if isinstance(scalar, bool):
        return tensor_dtype
    if isinstance(scalar, (int, np.integer)):
        return np.dtype(np.int64) if kind == "b" else tensor_dtype
    if isinstance(scalar, (float, np.floating)):
        return tensor_dtype if kind in "fc" else _FLOAT_DEFAULT
    raise TypeError(f"unsupported operand of type {type(scalar).__name__}")


def result_dtype(a, b):
    """PyTorch's promotion for two tensors: a 0-d tensor does not widen a
    dimensioned tensor of the same kind (float32 * float64 0-d -> float32)."""
    da, db = a.data.dtype, b.data.dtype
    if da == db:
        return da
    category = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
    ca, cb = category[da.kind], category[db.kind]
    if a.data.ndim == 0 and b.data.ndim > 0 and ca <= cb:
        return db
    if b.data.ndim == 0 and a.data.ndim > 0 and cb <= ca:
        return da
    # PyTorch: an integer or bool meeting a float gives that float (NumPy
    # would widen int64 + float32 to float64)
    if ca < 2 <= cb:
        return db
    if cb < 2 <= ca:
        return da
    return np.result_type(da, db)


def operands(a, b):
    """Two operands as tensors of one dtype, plus that dtype's arrays."""
    a_is = isinstance(a, Tensor)
    b_is = isinstance(b, Tensor)
    if a_is and b_is:
        dtype = result_dtype(a, b)
    elif a_is:
        if isinstance(b, (np.ndarray, list, tuple)):
            b = Tensor._wrap(np.asarray(b))
            dtype = result_dtype(a, b)
        else:
            dtype = _scalar_dtype(a.data.dtype, b)
            b = Tensor._wrap(np.asarray(b, dtype=dtype))
    elif b_is:
        if isinstance(a, (np.ndarray, list, tuple)):
            a = Tensor._wrap(np.asarray(a))
            dtype = result_dtype(a, b)
        else:
            dtype = _scalar_dtype(b.data.dtype, a)
            a = Tensor._wrap(np.asarray(a, dtype=dtype))
    else:
        raise TypeError("at least one operand must be a Tensor")
    ad = a.data if a.data.dtype == dtype else a.data.astype(dtype)
    bd = b.data if b.data.dtype == dtype else b.data.astype(dtype)
    return a, b, ad, bd


def float_data(t):
    """A tensor's data as floats: integer and bool tensors become float32."""
    d = t.data
    return d if d.dtype.kind == "f" else d.astype(_FLOAT_DEFAULT)


def normalize_axis(axis, ndim):
    """An int or tuple axis (negative allowed) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for ax in axes:
        ax = int(ax)
        if not -max(ndim, 1) <= ax < max(ndim, 1):
            raise IndexError(f"dimension {ax} is out of range for a tensor with {ndim} dimensions")
        out.append(ax % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"dimension listed twice in {axis}")
    return tuple(sorted(out))
