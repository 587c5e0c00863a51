"""What every op needs: making output tensors, grad-mode checks, operands.

``Tensor`` is set by :mod:`sorix.tensor` when it defines the class, so that
the ops below it never import the layer above.
"""
import numpy as np

from ..autograd.grad_mode import _state
from ..kernels.axes import axis_tuple
from ..kernels.backend import common, mixed_devices, of
from ..kernels.entries import FLOATS, INTEGERS

Tensor = None  # the tensor class, registered by sorix.tensor

_FLOAT_DEFAULT = np.dtype(np.float32)


def wrap(data, node=None):
    """A tensor over ``data``; with a node it is that node's (non-leaf) output."""
    return Tensor._wrap(data, node)


def wrap_watched(data, node):
    """The node's output over ``data``, guarded as a saved value: its backward reads it."""
    return node.watch_output(Tensor._wrap(data, node))


def records(*tensors):
    """Whether an op on ``tensors`` must record a node."""
    if not _state.enabled:
        return False
    for t in tensors:
        if t is not None and t.requires_grad:
            return True
    return False


def constant(value, dtype=None, like=None):
    """``value`` as a tensor that does not require grad, on the device of the
    array ``like`` when given (host values are copied there)."""
    if isinstance(value, Tensor):
        return value
    if is_device_array(value):  # stays where it is
        return Tensor._wrap(value if dtype is None or value.dtype == dtype
                            else of(value).astype(value, dtype))
    array = np.asarray(value, dtype=dtype)
    if like is not None and not isinstance(like, np.ndarray):
        array = of(like).to_device(array)
    return Tensor._wrap(array)


def is_device_array(value):
    return not isinstance(value, np.ndarray) and (
        hasattr(value, "__cuda_array_interface__") or getattr(value, "__cuda_ndarray__", False))


def namespace(*tensors):
    """The array namespace of ``tensors`` (None skipped); tensors on two devices are an error."""
    return common(*[t.data for t in tensors if t is not None])


def array_on(B, value):
    """Plain data (a list, a NumPy or a device array) as an array of namespace ``B``."""
    if is_device_array(value):
        found = of(value)
        if found is not B:
            raise mixed_devices(B.DEVICE, found.DEVICE)
        return value
    return B.to_device(np.asarray(value))


_LIMITS = {}  # integer dtype -> (min, max, bits): np.iinfo costs microseconds per call


def _limits(dtype):
    found = _LIMITS.get(dtype)
    if found is None:
        info = np.iinfo(dtype)
        found = _LIMITS[dtype] = (int(info.min), int(info.max), info.bits)
    return found


def _wrapped(scalar, dtype):
    """A Python integer outside an integer dtype's range, wrapped into it as C casts do and
    as PyTorch does (uint8 tensor + (-1) adds 255; NumPy refuses the conversion)."""
    if dtype.kind in "iu" and isinstance(scalar, (int, np.integer)) and not isinstance(
            scalar, bool):
        low, high, bits = _limits(dtype)
        if not low <= scalar <= high:
            span = 1 << bits
            scalar = int(scalar) % span
            if scalar > high:
                scalar -= span
    return scalar


def _in_range(scalar, dtype):
    """Whether a Python integer ``scalar`` fits ``dtype`` (always, for a non-integer dtype)."""
    if dtype.kind not in "iu" or not isinstance(scalar, (int, np.integer)) or isinstance(
            scalar, bool):
        return True
    low, high, _ = _limits(dtype)
    return low <= scalar <= high


def _kept_value(scalar, dtype, integers, exponent, tensor_data, B):
    """``(scalar, dtype)`` for a Python integer that does not fit the integer ``dtype`` of
    the tensor it meets, in an op whose integer result is not integers (``integers``:
    ``Binary.integers``). Such an op computes in floats, so wrapping the scalar first (as
    :func:`_wrapped` does for + - *, like PyTorch) would change its value: int16 / 32768
    flipped sign and uint8 / 256 gave inf. It stays a (float) number instead; None keeps
    the wrap where the result is integers after all.

    pow follows Sorix's own rule for integer powers (a negative exponent gives floats, where
    PyTorch refuses it): uint8 ** -1 is 1/x as for int64, not x ** 255. A positive exponent
    out of range raises, as in PyTorch, rather than wrap into another exponent. A base out
    of range wraps (integer powers, as in PyTorch) unless some exponent is negative."""
    if integers == FLOATS:
        return float(scalar), _FLOAT_DEFAULT
    if exponent:  # FLOATS_UNLESS_NATURAL: tensor ** scalar
        if scalar < 0:
            return float(scalar), _FLOAT_DEFAULT
        raise RuntimeError(f"exponent {scalar} cannot be converted to {dtype} without overflow "
                           "(as in PyTorch); convert the tensor to a wider dtype first")
    if tensor_data.dtype.kind == "i" and B.to_host(B.any(B.compare("lt", tensor_data, 0))):
        return float(scalar), _FLOAT_DEFAULT  # scalar ** tensor with negative exponents
    return None


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
    ca, cb = _CATEGORY[da.kind], _CATEGORY[db.kind]
    if a.data.ndim == 0 and b.data.ndim > 0 and ca <= cb:
        return db
    if b.data.ndim == 0 and a.data.ndim > 0 and cb <= ca:
        return da
    return promote_types(da, db)


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def promote_types(da, db):
    """PyTorch's promotion of two dtypes (tensors of equal standing: no 0-d rule)."""
    if da == db:
        return da
    ca, cb = _CATEGORY[da.kind], _CATEGORY[db.kind]
    # PyTorch: an integer or bool meeting a float gives that float (NumPy
    # would widen int64 + float32 to float64)
    if ca < 2 <= cb:
        return db
    if cb < 2 <= ca:
        return da
    return np.result_type(da, db)


def _is_plain_array(value):
    return isinstance(value, (np.ndarray, list, tuple)) or is_device_array(value)


def operands(a, b, integers=INTEGERS):
    """Two operands as tensors of one dtype on one device, plus that dtype's arrays and
    their namespace. Python scalars are weak (they take the tensor's dtype) and are made
    on the tensor's device; lists and arrays are copied there. ``integers`` is the op's
    ``Binary.integers``: for an op computing integers in floats, an integer scalar keeps
    its value (:func:`_kept_value`) instead of wrapping into the tensor's dtype."""
    a_is = isinstance(a, Tensor)
    b_is = isinstance(b, Tensor)
    if a_is and b_is:
        B = common(a.data, b.data)
        dtype = result_dtype(a, b)
    elif a_is:
        B = of(a.data)
        if _is_plain_array(b):
            b = Tensor._wrap(array_on(B, b))
            dtype = result_dtype(a, b)
        else:
            dtype = _scalar_dtype(a.data.dtype, b)
            if integers != INTEGERS and not _in_range(b, dtype):
                b, dtype = _kept_value(b, dtype, integers, True, a.data, B)
            b = Tensor._wrap(B.scalar_array(_wrapped(b, dtype), dtype))
    elif b_is:
        B = of(b.data)
        if _is_plain_array(a):
            a = Tensor._wrap(array_on(B, a))
            dtype = result_dtype(a, b)
        else:
            dtype = _scalar_dtype(b.data.dtype, a)
            if integers != INTEGERS and not _in_range(a, dtype):
                a, dtype = _kept_value(a, dtype, integers, False, b.data, B) or (a, dtype)
            a = Tensor._wrap(B.scalar_array(_wrapped(a, dtype), dtype))
    else:
        raise TypeError("at least one operand must be a Tensor")
    ad = a.data if a.data.dtype == dtype else B.astype(a.data, dtype)
    bd = b.data if b.data.dtype == dtype else B.astype(b.data, dtype)
    return a, b, ad, bd, B


def float_data(t):
    """A tensor's data as floats: integer and bool tensors become float32."""
    d = t.data
    return d if d.dtype.kind == "f" else of(d).astype(d, _FLOAT_DEFAULT)


def normalize_axis(axis, ndim):
    """An int or tuple axis (negative allowed) as a sorted tuple of non-negative axes."""
    return axis_tuple(axis, ndim)
