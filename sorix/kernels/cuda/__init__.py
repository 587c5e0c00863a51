"""CUDA kernels on device arrays: the GPU side of :mod:`sorix.kernels`.

Functions take and return numba device arrays (anything exposing
``__cuda_array_interface__`` is accepted without a copy) and mirror the CPU
array functions, so the tensor layer can dispatch on the array's type:

- elementwise: ``unary``, ``unary_grad``, ``binary``, ``binary_grad`` (same
  signatures as :mod:`sorix.kernels.elementwise`, built from the same
  scalar definitions and loop templates)
- arrays: ``empty``, ``zeros``, ``full``, ``to_device``, ``to_host``,
  ``astype``, ``contiguous``, ``reshape``, ``transpose``, ``broadcast_to``
- reductions: ``sum``, ``mean``, ``max``, ``min``, ``argmax``, ``argmin``
- ``matmul``; ``take``, ``scatter_add``, ``where``; ``softmax``, ``log_softmax``
- optimizer updates: ``sgd``, ``rmsprop``, ``adam``, ``run`` (same
  arguments as :mod:`sorix.kernels.optim`; ``nothing(dtype)`` is the 0-size
  array for unused state, as ``optim.EMPTY`` on the CPU)
- ``is_device_array``, ``as_device`` (for dispatch), ``simulated``

Importing this package imports neither numba nor numba.cuda: the first call
does, and compiles the kernels it needs (cached on disk on a GPU). Without a
GPU, set ``NUMBA_ENABLE_CUDASIM=1`` before numba.cuda is first imported to
run everything in numba's simulator.
"""
from .arrays import (astype, broadcast_to, contiguous, empty, full, nothing, reshape, to_device,
                     to_host, transpose, zeros)
from .elementwise import binary, binary_grad, unary, unary_grad
from .index import scatter_add, take, where
from .linalg import matmul
from .optim import adam, rmsprop, run, sgd
from .reduce import argmax, argmin, max, mean, min, sum
from .runtime import as_device, is_device_array, simulated
from .softmax import log_softmax, softmax

__all__ = [
    "adam", "argmax", "argmin", "as_device", "astype", "binary", "binary_grad", "broadcast_to",
    "contiguous", "empty", "full", "is_device_array", "log_softmax", "matmul", "max", "mean",
    "min", "nothing", "reshape", "rmsprop", "run", "scatter_add", "sgd", "simulated", "softmax",
    "sum", "take", "to_device", "to_host", "transpose", "unary", "unary_grad", "where", "zeros",
]
