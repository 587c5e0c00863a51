"""Tensor factories: zeros, ones, rand, arange ... (all take dtype, device, requires_grad).

Float factories default to float32 (PyTorch's default). Random draws come
from sorix's own generator (:func:`sorix.manual_seed`).
"""
import numpy as np

from . import dtypes as _dtypes
from . import random as _random
from .device import device as _device
from .ops import shape as _shape
from .tensor import Tensor

_FLOAT = np.dtype(np.float32)


def _size(size):
    """``zeros(2, 3)`` and ``zeros((2, 3))`` alike."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    try:
        size = tuple(int(n) for n in size)
    except TypeError:
        raise TypeError(f"size must be ints or one tuple of ints, got {size!r}") from None
    if any(n < 0 for n in size):
        raise ValueError(f"negative dimension in size {size}")
    return size


def _make(array, dtype, device, requires_grad):
    _check_device(device)
    if dtype is not None:
        array = array.astype(_dtypes.numpy_dtype(dtype), copy=False)
    return Tensor(array, requires_grad=requires_grad)


def _check_device(device):
    if device is not None and _device(device).type != "cpu":
        from . import cuda
        cuda.require()


def _float(dtype):
    return _FLOAT if dtype is None else _dtypes.numpy_dtype(dtype)


def zeros(*size, dtype=None, device="cpu", requires_grad=False):
    return _make(np.zeros(_size(size), _float(dtype)), None, device, requires_grad)


def ones(*size, dtype=None, device="cpu", requires_grad=False):
    return _make(np.ones(_size(size), _float(dtype)), None, device, requires_grad)


def empty(*size, dtype=None, device="cpu", requires_grad=False):
    return _make(np.empty(_size(size), _float(dtype)), None, device, requires_grad)


def full(size, fill_value, dtype=None, device="cpu", requires_grad=False):
    size = _size((size,))
    if dtype is None:
        dtype = np.bool_ if isinstance(fill_value, bool) else (
            np.int64 if isinstance(fill_value, (int, np.integer)) else _FLOAT)
    return _make(np.full(size, fill_value, _dtypes.numpy_dtype(dtype)), None, device,
                 requires_grad)


def eye(n, m=None, dtype=None, device="cpu", requires_grad=False):
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
        return _shape.index_scatter(x, (n, n), (rows, cols), False)
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
    return _make(np.linspace(start, end, int(steps)).astype(_float(dtype)), None, device,
                 requires_grad)


def logspace(start, end, steps=100, base=10.0, dtype=None, device="cpu", requires_grad=False):
    return _make(np.logspace(start, end, int(steps), base=base).astype(_float(dtype)), None,
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
    array = _random.generator().integers(low, high, size, dtype=np.int64)
    return _make(array, dtype, device, requires_grad)


def randperm(n, dtype=None, device="cpu", requires_grad=False):
    return _make(_random.generator().permutation(int(n)).astype(np.int64), dtype, device,
                 requires_grad)


def _like(input, array_fn, dtype, device, requires_grad):
    data = input.data if isinstance(input, Tensor) else np.asarray(input)
    dt = data.dtype if dtype is None else _dtypes.numpy_dtype(dtype)
    return _make(array_fn(data.shape, dt), None, device, requires_grad)


def zeros_like(input, dtype=None, device="cpu", requires_grad=False):
    return _like(input, np.zeros, dtype, device, requires_grad)


def ones_like(input, dtype=None, device="cpu", requires_grad=False):
    return _like(input, np.ones, dtype, device, requires_grad)


def empty_like(input, dtype=None, device="cpu", requires_grad=False):
    return _like(input, np.empty, dtype, device, requires_grad)


def full_like(input, fill_value, dtype=None, device="cpu", requires_grad=False):
    return _like(input, lambda s, d: np.full(s, fill_value, d), dtype, device, requires_grad)


def rand_like(input, dtype=None, device="cpu", requires_grad=False):
    return rand(*input.shape, dtype=dtype or input.dtype, device=device,
                requires_grad=requires_grad)


def randn_like(input, dtype=None, device="cpu", requires_grad=False):
    return randn(*input.shape, dtype=dtype or input.dtype, device=device,
                 requires_grad=requires_grad)


def as_tensor(data, dtype=None, device="cpu"):
    """A tensor sharing ``data``'s memory when it is already an array of that dtype."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    _check_device(device)
    if isinstance(data, np.ndarray):
        return Tensor(data, dtype=dtype)
    return Tensor(data, dtype=dtype)


def from_numpy(array):
    """A tensor over ``array`` itself: writes to one show in the other."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)
