"""softmax and log_softmax along one axis of a device array, numerically stable.

The axis is made the last one of a C-contiguous array; then one block per
row finds the row's maximum and the sum of exp(x - max) with tree
reductions in shared memory, and writes exp(x - max) / sum (or
x - max - log(sum)): the same formula as the CPU's NumPy code, so NaN and
infinities come out the same. The maximum is the ``maximum`` definition of
:mod:`sorix.kernels.defs`, so a NaN in a row makes the row NaN, as in NumPy.
"""
import numpy as np

from ..axes import axis_index
from . import build, runtime
from .arrays import astype, contiguous, empty, flat, reshape, transpose

cuda = math = DTYPE = BLOCK = MAXIMUM = BLOCK_MAX = BLOCK_SUM = None  # bound by the builder


def softmax_rows_kernel(x, out, rows, k, log, lowest, zero):
    shared = cuda.shared.array(BLOCK, DTYPE)
    tid = cuda.threadIdx.x
    for row in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
        base = row * k
        top = lowest
        for j in range(tid, k, BLOCK):
            top = MAXIMUM(top, x[base + j])
        top = BLOCK_MAX(shared, top)
        total = zero
        for j in range(tid, k, BLOCK):
            total += math.exp(x[base + j] - top)
        total = BLOCK_SUM(shared, total)
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
    axis = axis_index(axis, ndim, of="an array")
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
        kernel = build.kernel(softmax_rows_kernel, dtype, MAXIMUM=("binary", "maximum", "forward"),
                              BLOCK_MAX=("block", "maximum"), BLOCK_SUM=("block", "add"))
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
