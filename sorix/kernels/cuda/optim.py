"""Fused optimizer updates on device arrays: the CPU kernels, compiled for the GPU.

The per-element loops of :mod:`sorix.kernels.optim` (``sgd_span`` ...; the
CPU hands chunks of them to its threads) are compiled as they are: their
loop ``for i in prange(p.size)`` becomes a grid-stride loop because the
builder binds ``prange`` to a device function returning this thread's share
of the indices. So the GPU runs the very formulas the CPU runs, and the
functions here take exactly the CPU functions' arguments: 1-D contiguous
device arrays updated in place (0-size arrays for unused state:
:func:`sorix.kernels.cuda.arrays.nothing`), scalars in the data's dtype
(Python floats are cast to it here, so float32 state never computes in
float64).
"""
import numpy as np

from .. import optim as cpu_optim
from . import build, runtime
from .runtime import element_strides, is_contiguous, view

UPDATES = ("sgd", "rmsprop", "adam")


def _in_place(x):
    x = runtime.as_device(x)
    if not is_contiguous(x.shape, element_strides(x)):
        raise ValueError("optimizer state must be contiguous: it is updated in place")
    return view(x, (x.size,), (1,))


def _argument(value, dtype):
    if runtime.is_device_array(value):
        return _in_place(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return dtype.type(value)
    return value


def run(fn, p, *args):
    """Apply update ``fn`` (a function of :mod:`sorix.kernels.optim` or its name) to ``p``."""
    name = fn if isinstance(fn, str) else fn.__name__
    if name not in UPDATES:
        raise ValueError(f"unknown optimizer update {name!r}: expected one of {UPDATES}")
    p = _in_place(p)
    kernel = build.kernel(getattr(cpu_optim, name + "_span"), p.dtype)
    kernel.over(p.size, p, *(_argument(a, p.dtype) for a in args))

