"""``sorix.cuda``: whether a CUDA GPU can be used, and the errors for asking for one that cannot.

A GPU is usable when numba-cuda (the optional ``sorix[cuda]`` extra) is
installed and ``numba.cuda.is_available()`` says so; numba's simulator
(``NUMBA_ENABLE_CUDASIM=1`` before numba.cuda is first imported) counts as
one GPU, which is how the CUDA tests run without hardware. numba.cuda is
imported by the first question asked here, never by ``import sorix``.
"""
import importlib.util

_available = None


def _numba_cuda():
    from numba import cuda
    return cuda


def is_available():
    """True when numba-cuda is installed and finds a usable GPU (or runs its simulator)."""
    global _available
    if _available is None:
        if importlib.util.find_spec("numba_cuda") is None:
            _available = False
        else:
            try:
                _available = bool(_numba_cuda().is_available())
            except Exception:  # a broken driver or toolkit install: no usable GPU
                _available = False
    return _available


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
