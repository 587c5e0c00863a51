"""Dispatch by array type: ``of(array)`` is the namespace of array functions for its device.

Ops are written once against a namespace ``B`` (``B.binary(...)``,
``B.sum(...)``): :mod:`sorix.kernels.cpu` for NumPy arrays, the CUDA package
:mod:`sorix.kernels.cuda` for device arrays (numba's, or anything exposing
``__cuda_array_interface__``). The CPU case is one ``isinstance`` check; the
CUDA package is imported only when a device array is first seen, so CPU-only
use never loads it.
"""
import numpy as np

from . import cpu

_ndarray = np.ndarray
_cuda = None


def _cuda_namespace():
    global _cuda
    if _cuda is None:
        from . import cuda as module
        _cuda = module
    return _cuda


def of(array):
    """The namespace (:mod:`sorix.kernels.cpu` or :mod:`sorix.kernels.cuda`) for ``array``."""
    if isinstance(array, _ndarray):
        return cpu
    if isinstance(array, np.generic):
        return cpu
    cuda = _cuda_namespace()
    if cuda.is_device_array(array):
        return cuda
    raise TypeError(f"expected a NumPy or CUDA device array, got {type(array).__name__}")


def is_cpu(array):
    return isinstance(array, _ndarray)


def common(*arrays):
    """The one namespace of ``arrays`` (None entries skipped); mixing devices is an error."""
    found = None
    for a in arrays:
        if a is None:
            continue
        namespace = of(a)
        if found is None:
            found = namespace
        elif namespace is not found:
            raise mixed_devices(found.DEVICE, namespace.DEVICE)
    return found if found is not None else cpu


def mixed_devices(first, second):
    """The error for an op given tensors on two devices."""
    return RuntimeError(f"expected all tensors on the same device, found {first} and {second}; "
                        "move one with .to(...)")


def cuda():
    """The CUDA namespace (imports it; numba.cuda itself loads on the first kernel call)."""
    return _cuda_namespace()
