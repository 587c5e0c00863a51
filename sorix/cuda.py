"""``sorix.cuda``: whether a CUDA GPU can be used, and the errors for asking for one that cannot.

A GPU is usable when numba-cuda (the optional ``sorix[cuda]`` extra) is
installed and ``numba.cuda.is_available()`` says so; numba's simulator
(``NUMBA_ENABLE_CUDASIM=1`` before numba.cuda is first imported) counts as
one GPU, which is how the CUDA tests run without hardware. numba.cuda is
imported by the first question asked here, never by ``import sorix``.
"""
import ctypes
import importlib.util
import os
import sys

_available = None
_reason = None

#: ``from sorix.cuda import cuda`` (Sorix's import path) gives this module itself.
cuda = sys.modules[__name__]


def _numba_cuda():
    from numba import cuda
    return cuda


def _driver_device_count():
    """GPUs the NVIDIA driver reports, asked directly (milliseconds): None when the driver
    library is missing or fails. Importing numba.cuda to find out takes seconds, which a
    machine without a GPU should not pay for a yes/no question."""
    names = {"win32": ("nvcuda.dll",), "darwin": ()}.get(sys.platform,
                                                         ("libcuda.so.1", "libcuda.so"))
    for name in names:
        try:
            driver = ctypes.CDLL(name)
        except OSError:
            continue
        count = ctypes.c_int(0)
        try:
            if driver.cuInit(0) != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
                return 0
        except AttributeError:
            return None
        return count.value
    return None


def _probe():
    """(usable, why not)."""
    if importlib.util.find_spec("numba_cuda") is None:
        return False, "numba-cuda is not installed (pip install 'sorix[cuda]')"
    # (numba.cuda already loaded, or its simulator asked for: numba.cuda answers at once)
    if "numba.cuda" not in sys.modules and os.environ.get("NUMBA_ENABLE_CUDASIM", "0") != "1":
        count = _driver_device_count()
        if count is None:
            return False, "no NVIDIA driver was found"
        if count == 0:
            return False, "the NVIDIA driver reports no GPU"
    try:
        if _numba_cuda().is_available():
            return True, None
        return False, "numba-cuda finds no usable GPU"
    except Exception as exc:  # a broken driver or toolkit install: no usable GPU
        return False, f"numba-cuda failed to start: {exc}"


def is_available(verbose=False):
    """True when numba-cuda is installed and finds a usable GPU (or runs its simulator).

    Answers in milliseconds on a machine without an NVIDIA driver. ``verbose=True``
    prints the answer and, when False, why."""
    global _available, _reason
    available = _available
    if available is None:
        available, _reason = _probe()
        # numba.cuda's answer is final for the process; the driver probe's "no" is cheap and
        # is asked again, so that loading numba's simulator later in a process is seen
        if "numba.cuda" in sys.modules:
            _available = available
    if verbose:
        print("CUDA GPU available" if available else f"CUDA not available: {_reason}")
    return available


def device_count():
    """The number of GPUs numba.cuda sees (0 without a usable one)."""
    if not is_available():
        return 0
    return len(_numba_cuda().gpus)


def current_device():
    """The index of the GPU sorix uses: always 0 (choose it with CUDA_VISIBLE_DEVICES)."""
    require()
    return 0


def synchronize():
    """Wait until every kernel launched so far has finished (for timing)."""
    require()
    _numba_cuda().synchronize()


def require(device=None):
    """Check that the CUDA device ``device`` (a ``sorix.device`` or None for cuda:0) is usable.

    Raises RuntimeError without a usable GPU, and for an index other than 0:
    sorix runs on one GPU.
    """
    if not is_available():
        raise RuntimeError("CUDA was requested but no usable CUDA GPU is available "
                           "(sorix.cuda.is_available() is False); use device='cpu'")
    index = getattr(device, "index", None)
    if index not in (None, 0):
        count = device_count()
        if index >= count:
            raise RuntimeError(f"CUDA device cuda:{index} was requested but only {count} "
                               f"GPU{'s are' if count != 1 else ' is'} visible")
        raise RuntimeError(f"sorix runs on one GPU, cuda:0, not cuda:{index}; choose the GPU "
                           f"with CUDA_VISIBLE_DEVICES={index}")
