"""numba.cuda, imported on first use, and device-array views.

Nothing here imports numba at module import: ``import sorix`` must stay as
fast as ``import numba`` plus a little, and a machine without numba-cuda
must still import sorix.

Arrays: numba's ``DeviceNDArray`` on a GPU, its ``FakeCUDAArray`` under the
simulator (a NumPy array in disguise). The helpers below build views
(reshapes, broadcasts, flat views of a strided array's memory) for both,
so that the kernel modules never ask which one they hold.
"""
import math
import types

import numpy as np

from ..scalar import SCALAR_FUNCTIONS

_cuda = None

#: Copies between host and device made by this package (and by numba for a host
#: array passed to a kernel), by direction. Tests read it to prove that an op or
#: a training step keeps its data on the device: see :func:`transfer_counts`.
_transfers = {"to_device": 0, "to_host": 0}


def count_transfer(direction, n=1):
    """Record ``n`` copies in ``direction`` ('to_device' or 'to_host')."""
    _transfers[direction] += n


def transfer_counts():
    """A snapshot ``{'to_device': n, 'to_host': m}`` of the copies made so far in this process."""
    return dict(_transfers)


def cuda():
    """The ``numba.cuda`` module, imported on first call."""
    global _cuda
    if _cuda is None:
        try:
            from numba import cuda as module
        except ImportError as exc:
            raise ImportError("sorix's CUDA kernels need numba-cuda: pip install 'sorix[cuda]' "
                              "(or numba-cuda[cu12] / numba-cuda[cu13])") from exc
        from .memory import install
        install(module)  # with SORIX_CUDA_POOL=1: device arrays from the driver's pool
        _cuda = module
    return _cuda


def simulated():
    """True when numba.cuda is the simulator (``NUMBA_ENABLE_CUDASIM=1`` before it was imported)."""
    # The simulator replaces numba.cuda's API functions with its own; numba-cuda
    # has no public flag for it, and NUMBA_ENABLE_CUDASIM may have changed since
    # numba.cuda was imported, so ask the module that was actually loaded.
    return cuda().jit.__module__.startswith("numba.cuda.simulator")


# ---- simulator fidelity ----------------------------------------------------

def _ieee(ufunc):
    def call(*args):
        with np.errstate(all="ignore"):
            return ufunc(*args)
    call.__name__ = ufunc.__name__
    return call


def _simulator_math():
    """``math`` with IEEE results instead of Python's exceptions.

    The simulator runs kernels as Python, where ``math.log(0.0)`` raises and
    ``math.exp(1000.0)`` overflows; the GPU returns -inf and inf. NumPy's
    functions on NumPy scalars also keep float32 in float32, as the GPU does.
    """
    shim = types.ModuleType("sorix_simulator_math")
    for name in dir(math):
        if not name.startswith("_"):
            setattr(shim, name, getattr(math, name))
    for name, ufunc in (("exp", np.exp), ("expm1", np.expm1), ("log", np.log), ("log1p", np.log1p),
                        ("log2", np.log2), ("log10", np.log10), ("sqrt", np.sqrt),
                        ("sin", np.sin), ("cos", np.cos), ("tan", np.tan), ("tanh", np.tanh),
                        ("sinh", np.sinh), ("cosh", np.cosh), ("asin", np.arcsin),
                        ("acos", np.arccos), ("atan", np.arctan), ("atan2", np.arctan2),
                        ("floor", np.floor), ("ceil", np.ceil), ("trunc", np.trunc),
                        ("fabs", np.fabs), ("pow", np.power), ("fmod", np.fmod),
                        ("copysign", np.copysign), ("hypot", np.hypot)):
        setattr(shim, name, _ieee(ufunc))
    for name in ("erf", "erfc"):  # no NumPy ufunc: Python's, in the argument's dtype
        setattr(shim, name, _same_dtype(getattr(math, name)))
    return shim


def _same_dtype(function):
    def call(x):
        return type(x)(function(x)) if isinstance(x, np.floating) else function(x)
    call.__name__ = function.__name__
    return call


# ---- NumPy functions on scalars, for the GPU --------------------------------

#: NumPy functions a definition may call on scalars, and the libdevice function
#: computing each on the GPU (numba-cuda cannot lower most NumPy ufuncs on
#: scalars). float32 uses the ``f``-suffixed variant.
_LIBDEVICE = {f.name[len("np."):]: f.libm for f in SCALAR_FUNCTIONS if f.libm is not None}


def numpy_for_device(dtype):
    """A stand-in for ``np`` in a scalar definition compiled for the GPU."""
    from numba.cuda import libdevice
    dtype = np.dtype(dtype)
    shim = types.ModuleType("sorix_cuda_numpy_" + dtype.name)
    for name in ("pi", "e", "inf", "nan", "float32", "float64", "int32", "int64", "bool_"):
        setattr(shim, name, getattr(np, name))
    # np.isnan & co on scalars: numba-cuda types math.isnan, not the ufuncs
    shim.isnan, shim.isinf, shim.isfinite = math.isnan, math.isinf, math.isfinite
    suffix = "f" if dtype == np.float32 else ""
    for name, device_name in _LIBDEVICE.items():
        setattr(shim, name, getattr(libdevice, device_name + suffix))
    return shim


def scalar_modules(dtype):
    """``(math, np)`` to bind in a definition compiled for ``dtype``."""
    if simulated():
        return _SIMULATOR_MATH, np
    return math, numpy_for_device(dtype)


_SIMULATOR_MATH = _simulator_math()


# ---- arrays and views --------------------------------------------------------

def is_device_array(x):
    """Whether ``x`` is a numba device array or exposes ``__cuda_array_interface__``."""
    return bool(getattr(x, "__cuda_ndarray__", False)) or hasattr(x, "__cuda_array_interface__")


def as_device(x):
    """``x`` as a numba device array, without copying (CuPy, PyTorch ... via the interface)."""
    if getattr(x, "__cuda_ndarray__", False):
        return x
    if hasattr(x, "__cuda_array_interface__") and not simulated():
        return cuda().as_cuda_array(x)
    raise TypeError(f"expected a CUDA device array, got {type(x).__name__}; "
                    "copy a NumPy array with sorix.kernels.cuda.to_device(array)")


def element_strides(x):
    """``x``'s strides in elements (they must be whole elements, as NumPy's are)."""
    itemsize = x.dtype.itemsize
    return tuple(int(s) // itemsize for s in x.strides)


def contiguous_strides(shape):
    """The element strides of a C-contiguous array of ``shape``."""
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def is_contiguous(shape, strides):
    """C-contiguity from element strides, ignoring size-1 dimensions as NumPy does."""
    if 0 in tuple(shape):  # an empty array is contiguous whatever its strides
        return True
    expected = 1
    for n, s in zip(reversed(shape), reversed(strides)):
        if n != 1 and s != expected:
            return False
        expected *= n
    return True


def view(x, shape, strides, offset=0):
    """A view of ``x``'s memory with element ``strides`` from element ``offset``."""
    shape, strides = tuple(int(n) for n in shape), tuple(int(s) for s in strides)
    itemsize = x.dtype.itemsize
    byte_strides = tuple(s * itemsize for s in strides)
    if simulated():
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
        base = x._ary
        if offset:
            base = np.lib.stride_tricks.as_strided(base, (offset + 1,), (itemsize,))[offset:]
        return FakeCUDAArray(np.lib.stride_tricks.as_strided(base, shape, byte_strides))
    from numba.cuda.cudadrv.devicearray import DeviceNDArray  # (x may be a mapped/managed subclass)
    data = x.gpu_data.view(offset * itemsize) if offset else x.gpu_data
    return DeviceNDArray(shape=shape, strides=byte_strides, dtype=x.dtype, gpu_data=data)


def flat_memory(x):
    """A 1-D contiguous view of the memory ``x`` spans, starting at element 0.

    Kernels read a strided operand through it, with ``element_strides(x)``,
    so no view is copied first. Negative strides would start ``x``'s memory
    before its first element; sorix never makes them on the device.
    """
    strides = element_strides(x)
    if any(s < 0 for s in strides):
        raise ValueError(f"device array with negative strides {tuple(x.strides)}: "
                         "make it contiguous before passing it to a sorix kernel")
    span = 0 if x.size == 0 else 1 + sum((n - 1) * s for n, s in zip(x.shape, strides))
    return view(x, (span,), (1,))


def _span(x):
    """[first byte, past the last byte) that ``x`` addresses, as device addresses."""
    start = x.__cuda_array_interface__["data"][0]
    low = sum(min(0, (n - 1) * s) for n, s in zip(x.shape, x.strides))
    high = sum(max(0, (n - 1) * s) for n, s in zip(x.shape, x.strides)) + x.dtype.itemsize
    return start + low, start + high


def shares_memory(a, b):
    """Whether device arrays ``a`` and ``b`` may address the same memory (a view and its base)."""
    if a.size == 0 or b.size == 0:
        return False
    if simulated():
        return bool(np.may_share_memory(a._ary, b._ary))
    a_low, a_high = _span(a)
    b_low, b_high = _span(b)
    return a_low < b_high and b_low < a_high
