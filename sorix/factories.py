"""Tensor factories: zeros, ones, rand, arange ... (all take dtype, device, requires_grad).

Float factories default to float32 (PyTorch's default). Random draws come
from sorix's own generator (:func:`sorix.manual_seed`), on the host, so a
seed gives the same values on every device; on a GPU they are then copied
there. ``zeros``, ``ones``, ``full`` and ``empty`` are made on the device.
The ``*_like`` factories default to the input's device, as in PyTorch.
"""
import numpy as np

from . import dtypes as _dtypes
from . import random as _random
from .device import device as _device
from .kernels import backend as _backend
from .ops import shape as _shape
from .ops.transfer import move_array as _move_array
from .tensor import Tensor

_FLOAT = np.dtype(np.float32)


def _whole(value, what):
    """``value`` as an int: Python and NumPy integers, or a one-element integer tensor or
    array. A float (even 2.0) or a bool is refused, as PyTorch does."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iu":
        value = value.reshape(()).item()
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    raise TypeError(f"{what} must be an integer, got {value!r} of type "
                    f"{type(value).__name__}; pass int(...) if a whole count was meant")


def _size(size):
    """``zeros(2, 3)`` and ``zeros((2, 3))`` alike; every entry an integer."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    size = tuple(_whole(n, "each entry of size") for n in size)
    if any(n < 0 for n in size):
        raise ValueError(f"negative dimension in size {size}")
    return size


def _make(array, dtype, device, requires_grad):
    """A tensor of host ``array`` (converted to ``dtype``) on ``device``."""
    if dtype is not None:
        array = array.astype(_dtypes.numpy_dtype(dtype), copy=False)
    if device is not None:
        array = _move_array(array, _device(device))
    return Tensor(array, requires_grad=requires_grad)


def _filled(size, value, dtype, device, requires_grad):
    """``full`` on ``device``: made there (a fill kernel on a GPU), never copied."""
    target = _device("cpu" if device is None else device)
    if target.type == "cpu":
        array = np.full(size, value, dtype) if value is not None else np.empty(size, dtype)
    else:
        from . import cuda as _cuda_module
        _cuda_module.require(target)
        cuda = _backend.cuda()
        array = cuda.full(size, value, dtype) if value is not None else cuda.empty(size, dtype)
    return Tensor(array, requires_grad=requires_grad)


def _float(dtype):
    return _FLOAT if dtype is None else _dtypes.numpy_dtype(dtype)


def zeros(*size, dtype=None, device="cpu", requires_grad=False):
    return _filled(_size(size), 0, _float(dtype), device, requires_grad)


def ones(*size, dtype=None, device="cpu", requires_grad=False):
    return _filled(_size(size), 1, _float(dtype), device, requires_grad)


def empty(*size, dtype=None, device="cpu", requires_grad=False):
    return _filled(_size(size), None, _float(dtype), device, requires_grad)


def full(size, fill_value, dtype=None, device="cpu", requires_grad=False):
    size = _size((size,))
    if dtype is None:
        dtype = np.bool_ if isinstance(fill_value, bool) else (
            np.int64 if isinstance(fill_value, (int, np.integer)) else _FLOAT)
    return _filled(size, fill_value, _dtypes.numpy_dtype(dtype), device, requires_grad)


def eye(n, m=None, dtype=None, device="cpu", requires_grad=False):
    n = _whole(n, "eye: n")
    m = None if m is None else _whole(m, "eye: m")
    return _make(np.eye(n, m, dtype=_float(dtype)), None, device, requires_grad)


def diag(input, diagonal=0):
    """A 1-D input becomes a matrix with it on a diagonal; a 2-D input gives that diagonal.

    Differentiable: built from indexing.
    """
    x = input if isinstance(input, Tensor) else Tensor(np.asarray(input))
    k = int(diagonal)
    if x.ndim == 1:
        n = x.shape[0] + abs(k)
        rows = np.arange(x.shape[0]) + max(-k, 0)
        cols = np.arange(x.shape[0]) + max(k, 0)
        return _shape.index_scatter(x, (n, n), (rows, cols))
    if x.ndim == 2:
        length = max(0, min(x.shape[0] + min(k, 0), x.shape[1] - max(k, 0)))
        rows = np.arange(length) - min(k, 0)
        cols = np.arange(length) + max(k, 0)
        return x[rows, cols]
    raise RuntimeError(f"diag expects a 1-D or 2-D tensor, got {x.ndim} dimensions")


def arange(start, end=None, step=1, dtype=None, device="cpu", requires_grad=False):
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    default = np.int64 if integral else _FLOAT
    array = np.arange(start, end, step, dtype=np.int64 if integral else np.float64)
    return _make(array.astype(_dtypes.numpy_dtype(dtype) if dtype else default), None, device,
                 requires_grad)


def linspace(start, end, steps=100, dtype=None, device="cpu", requires_grad=False):
    steps = _whole(steps, "linspace: steps")
    return _make(np.linspace(start, end, steps).astype(_float(dtype)), None, device,
                 requires_grad)


def logspace(start, end, steps=100, base=10.0, dtype=None, device="cpu", requires_grad=False):
    steps = _whole(steps, "logspace: steps")
    return _make(np.logspace(start, end, steps, base=base).astype(_float(dtype)), None,
                 device, requires_grad)


def rand(*size, dtype=None, device="cpu", requires_grad=False):
    """Uniform on [0, 1)."""
    array = _random.generator().random(_size(size), dtype=np.float64)
    return _make(array.astype(_float(dtype)), None, device, requires_grad)


def randn(*size, dtype=None, device="cpu", requires_grad=False):
    """Standard normal."""
    array = _random.generator().standard_normal(_size(size))
    return _make(array.astype(_float(dtype)), None, device, requires_grad)


def randint(low, high=None, size=None, dtype=None, device="cpu", requires_grad=False):
    """Integers uniform on [low, high); ``randint(high, size)`` starts at 0."""
    if size is None:
        if high is None or isinstance(high, (int, np.integer)):
            raise TypeError("randint needs a size, e.g. randint(0, 10, (3,))")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    size = _size((size,))
    low, high = _whole(low, "randint: low"), _whole(high, "randint: high")
    array = _random.generator().integers(low, high, size, dtype=np.int64)
    return _make(array, dtype, device, requires_grad)


def randperm(n, dtype=None, device="cpu", requires_grad=False):
    n = _whole(n, "randperm: n")
    return _make(_random.generator().permutation(n).astype(np.int64), dtype, device,
                 requires_grad)


def _like(input, value, dtype, device, requires_grad):
    """A tensor shaped like ``input`` filled with ``value``; on ``input``'s device by default."""
    data = input.data if isinstance(input, Tensor) else np.asarray(input)
    dt = data.dtype if dtype is None else _dtypes.numpy_dtype(dtype)
    if device is None:
        device = _backend.of(data).DEVICE
    return _filled(tuple(data.shape), value, dt, device, requires_grad)


def zeros_like(input, dtype=None, device=None, requires_grad=False):
    return _like(input, 0, dtype, device, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False):
    return _like(input, 1, dtype, device, requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False):
    return _like(input, None, dtype, device, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    return _like(input, fill_value, dtype, device, requires_grad)


def _device_of(input, device):
    if device is None and isinstance(input, Tensor):
        return input.device
    return "cpu" if device is None else device


def rand_like(input, dtype=None, device=None, requires_grad=False):
    return rand(*input.shape, dtype=dtype or input.dtype, device=_device_of(input, device),
                requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False):
    return randn(*input.shape, dtype=dtype or input.dtype, device=_device_of(input, device),
                 requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None):
    """A tensor sharing ``data``'s memory when it is already an array of that dtype (NumPy
    or CUDA device array), moved to ``device`` when that is given and elsewhere."""
    if isinstance(data, Tensor):
        out = data if dtype is None else data.to(dtype)
        return out if device is None else out.to(device)
    return Tensor(data, dtype=dtype, device=device)


def from_numpy(array):
    """A tensor over ``array`` itself: writes to one show in the other. A tensor is
    returned as it is (Sorix)."""
    if isinstance(array, Tensor):
        return array
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)
