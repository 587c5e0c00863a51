"""softmax and log_softmax along one axis of a device array, numerically stable.

The axis is made the last one of a C-contiguous array; then one block per
row finds the row's maximum and the sum of exp(x - max) with tree
reductions in shared memory, and writes exp(x - max) / sum (or
x - max - log(sum)): the same formula as the CPU's NumPy code, so NaN and
infinities come out the same. The maximum is the ``maximum`` definition of
:mod:`sorix.kernels.defs`, so a NaN in a row makes the row NaN, as in NumPy.
"""
import numpy as np

from . import build, runtime
from .arrays import astype, contiguous, empty, flat, reshape, transpose

cuda = math = DTYPE = BLOCK = MAXIMUM = None  # bound per kernel by the builder


def softmax_rows_kernel(x, out, rows, k, log, lowest, zero):
    shared = cuda.shared.array(BLOCK, DTYPE)
    tid = cuda.threadIdx.x
    for row in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
        base = row * k
        top = lowest
        for j in range(tid, k, BLOCK):
            top = MAXIMUM(top, x[base + j])
        shared[tid] = top
        cuda.syncthreads()
        step = BLOCK // 2
        while step > 0:
            if tid < step:
                shared[tid] = MAXIMUM(shared[tid], shared[tid + step])
            cuda.syncthreads()
            step //= 2
        top = shared[0]
        cuda.syncthreads()  # every thread has read the maximum before shared is reused
        total = zero
        for j in range(tid, k, BLOCK):
            total += math.exp(x[base + j] - top)
        shared[tid] = total
        cuda.syncthreads()
        step = BLOCK // 2
        while step > 0:
            if tid < step:
                shared[tid] = shared[tid] + shared[tid + step]
            cuda.syncthreads()
            step //= 2
        total = shared[0]
        cuda.syncthreads()  # and the sum, before the next row overwrites it
        if log:
            log_total = math.log(total)
            for j in range(tid, k, BLOCK):
                out[base + j] = (x[base + j] - top) - log_total
        else:
            for j in range(tid, k, BLOCK):
                out[base + j] = math.exp(x[base + j] - top) / total


def _along(x, axis, log):
    x = runtime.as_device(x)
    if x.dtype.kind != "f":
        x = astype(x, np.float64)  # as NumPy's exp of integers
    ndim = x.ndim
    bound = ndim or 1
    if not -bound <= axis < bound:
        raise IndexError(f"dimension {axis} is out of range for an array with {ndim} dimensions")
    axis = axis % bound
    shape = tuple(x.shape)
    if ndim == 0:
        x = reshape(x, (1,))
        ndim = 1
    order = [d for d in range(ndim) if d != axis] + [axis]
    moved = transpose(x, order) if axis != ndim - 1 else contiguous(x)
    out = empty(moved.shape, moved.dtype)
    k = moved.shape[ndim - 1]  # (no negative indices: the simulator's shapes refuse them)
    if out.size:
        dtype = moved.dtype
        kernel = build.kernel(softmax_rows_kernel, dtype, MAXIMUM=("binary", "maximum", "forward"))
        kernel.over_rows(out.size // k, flat(moved), flat(out), out.size // k, k, bool(log),
                         dtype.type(-np.inf), dtype.type(0))
    if axis != ndim - 1:
        out = transpose(out, tuple(np.argsort(order)))
    return reshape(out, shape)


def softmax(x, axis=-1):
    """exp(x - max) / sum(exp(x - max)) along ``axis``."""
    return _along(x, axis, False)


def log_softmax(x, axis=-1):
    """x - max - log(sum(exp(x - max))) along ``axis``."""
    return _along(x, axis, True)
