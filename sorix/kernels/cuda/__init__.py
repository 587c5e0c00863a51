"""CUDA kernels on device arrays: the GPU side of :mod:`sorix.kernels`.

Functions take and return numba device arrays (anything exposing
``__cuda_array_interface__`` is accepted without a copy) and mirror the CPU
array functions of :mod:`sorix.kernels.cpu` name for name, so the tensor
layer dispatches on the array's type (:mod:`sorix.kernels.backend`):

- elementwise: ``unary``, ``unary_grad``, ``binary``, ``binary_grad`` (same
  signatures as :mod:`sorix.kernels.elementwise`, built from the same
  scalar definitions and loop templates); ``compare``, ``logical``,
  ``bitwise``, ``invert``
- arrays: ``empty``, ``zeros``, ``zeros_like``, ``full``, ``scalar_array``, ``arange``,
  ``to_device``, ``to_host``, ``astype``, ``copy``, ``contiguous``, ``flat``,
  ``reshape``, ``transpose``, ``broadcast_to``, ``is_c_contiguous``,
  ``owns_memory``, ``shares_memory``
- reductions: ``sum``, ``mean``, ``max``, ``min``, ``argmax``, ``argmin``,
  ``any``, ``all``
- ``matmul`` (cuBLAS when nvmath-python is installed), ``matrix_transpose`` (a
  view with the last two axes swapped); ``take``, ``scatter_add``, ``where``;
  ``softmax``, ``log_softmax``
- convolution and pooling: ``conv2d``, ``conv2d_forward``, ``conv2d_backward``,
  ``conv2d_input_grad``, ``conv2d_weight_grad``, ``max_pool2d``, ``avg_pool2d`` and their
  ``*_backward`` (same signatures as :mod:`sorix.kernels.conv` and :mod:`sorix.kernels.pool`)
- writes: ``assign`` (``dst[index] = value``), ``inplace`` (``+=`` ...), ``clip``,
  ``concatenate``, ``stack``
- optimizer updates: ``run(update, p, *args)`` (an update of :mod:`sorix.kernels.optim`
  and its arguments, as on the CPU; ``nothing(dtype)`` is the 0-size array for unused
  state, as ``optim.EMPTY`` there)
- ``is_device_array``, ``as_device`` (for dispatch), ``simulated``,
  ``transfer_counts`` (host <-> device copies made so far), ``DEVICE``

Importing this package imports neither numba nor numba.cuda: the first call
does, and compiles the kernels it needs (cached on disk on a GPU). Without a
GPU, set ``NUMBA_ENABLE_CUDASIM=1`` before numba.cuda is first imported to
run everything in numba's simulator.
"""
from .arrays import (arange, astype, broadcast_to, contiguous, copy, empty, flat, full,
                     is_c_contiguous, nothing, owns_memory, reshape, scalar_array, to_device,
                     to_host, transpose, zeros, zeros_like)
from .compare import all, any, bitwise, compare, invert, logical
from .elementwise import binary, binary_grad, unary, unary_grad
from .index import scatter_add, take, where
from .linalg import matmul, matrix_transpose
from .optim import run
from .reduce import argmax, argmin, max, mean, min, sum
from .runtime import as_device, is_device_array, shares_memory, simulated, transfer_counts
from .softmax import log_softmax, softmax
from .write import assign, clip, concatenate, inplace, stack

#: The device this namespace's arrays live on (sorix uses the current GPU, index 0).
DEVICE = "cuda:0"

__all__ = [
    "DEVICE", "all", "any", "arange", "argmax", "argmin", "as_device", "assign",
    "astype", "binary", "binary_grad", "bitwise", "broadcast_to", "clip", "compare", "concatenate",
    "contiguous", "copy", "empty", "flat", "full", "inplace", "invert", "is_c_contiguous",
    "is_device_array", "log_softmax", "logical", "matmul", "matrix_transpose", "max", "mean",
    "min", "nothing", "owns_memory", "reshape", "run", "scalar_array", "scatter_add",
    "shares_memory", "simulated", "softmax", "stack", "sum", "take", "to_device", "to_host",
    "transfer_counts", "transpose", "unary", "unary_grad", "where", "zeros",
]

# convolution and pooling (the CPU's array functions of sorix.kernels.conv and .pool)
from .conv import (conv2d, conv2d_backward, conv2d_forward, conv2d_input_grad,  # noqa: E402
                   conv2d_weight_grad)
from .pool import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward  # noqa: E402

__all__ += ["avg_pool2d", "avg_pool2d_backward", "conv2d", "conv2d_backward", "conv2d_forward",
            "conv2d_input_grad", "conv2d_weight_grad", "max_pool2d", "max_pool2d_backward"]
