"""Reductions on device arrays: sum, mean, max, min over axes; argmax, argmin.

Every reduction first makes the reduced axes the last ones of a
C-contiguous array, so it reduces the rows of a (rows, k) matrix: one
block per row, each thread folding a strided part of the row, then a tree
in shared memory. A few very long rows (a full reduction) are split into
segments, each reduced by its own block, and the partial results reduced
again, so a large reduction does not run on one multiprocessor.

The combining functions are the elementwise definitions themselves
(``add``, ``maximum``, ``minimum`` from :mod:`sorix.kernels.defs`), so NaN
propagates exactly as in the elementwise ops and in NumPy.
"""
import builtins

import numpy as np

from ..axes import axis_tuple
from . import build, config, runtime
from .arrays import astype, contiguous, empty, flat, full, reshape, transpose
from .elementwise import binary

cuda = DTYPE = BLOCK = COMBINE = BLOCK_COMBINE = BETTER = None  # bound per kernel by the builder


# ---- kernels -----------------------------------------------------------------

def reduce_rows_kernel(x, out, k, segment, init):
    """out[r * nseg + s] = COMBINE over x[r * k + s * segment : ... + segment] (clipped to the row)."""
    shared = cuda.shared.array(BLOCK, DTYPE)
    tid = cuda.threadIdx.x
    nseg = (k + segment - 1) // segment
    for item in range(cuda.blockIdx.x, out.size, cuda.gridDim.x):
        row = item // nseg
        start = (item % nseg) * segment
        stop = min(start + segment, k)
        acc = init
        for j in range(start + tid, stop, BLOCK):
            acc = COMBINE(acc, x[row * k + j])
        acc = BLOCK_COMBINE(shared, acc)
        if tid == 0:
            out[item] = acc


def arg_reduce_rows_kernel(x, out, k, init):
    """out[r] = the index in row r of x's extreme (first on ties, first NaN wins)."""
    values = cuda.shared.array(BLOCK, DTYPE)
    indices = cuda.shared.array(BLOCK, np.int64)
    tid = cuda.threadIdx.x
    for row in range(cuda.blockIdx.x, out.size, cuda.gridDim.x):
        best = init
        best_index = -1
        for j in range(tid, k, BLOCK):
            v = x[row * k + j]
            if BETTER(best, best_index, v, j):
                best = v
                best_index = j
        values[tid] = best
        indices[tid] = best_index
        cuda.syncthreads()
        step = BLOCK // 2
        while step > 0:
            if tid < step and BETTER(values[tid], indices[tid], values[tid + step],
                                     indices[tid + step]):
                values[tid] = values[tid + step]
                indices[tid] = indices[tid + step]
            cuda.syncthreads()
            step //= 2
        if tid == 0:
            out[row] = indices[0]
        cuda.syncthreads()


def argmax_better(value, index, candidate, candidate_index):
    """Whether (candidate, candidate_index) beats (value, index) for argmax (index -1: none yet)."""
    if candidate_index < 0:
        return False
    if index < 0:
        return True
    if value != value:  # NaN is the maximum, and the first NaN wins
        return candidate != candidate and candidate_index < index
    if candidate != candidate or candidate > value:
        return True
    return candidate == value and candidate_index < index


def argmin_better(value, index, candidate, candidate_index):
    """As argmax_better, for the minimum."""
    if candidate_index < 0:
        return False
    if index < 0:
        return True
    if value != value:
        return candidate != candidate and candidate_index < index
    if candidate != candidate or candidate < value:
        return True
    return candidate == value and candidate_index < index


# ---- host side -----------------------------------------------------------------

def _axes(axis, ndim):
    """The reduced axes, sorted; a 0-d array accepts axis 0 and -1 and reduces nothing."""
    axes = axis_tuple(axis, ndim, ValueError, "axis", "an array")
    return axes if ndim else ()


def _rows(x, axes):
    """x as a C-contiguous (rows, k) matrix with ``axes`` reduced, and the kept shape."""
    kept = [d for d in range(x.ndim) if d not in axes]
    order = kept + list(axes)
    if order != list(range(x.ndim)):
        x = transpose(x, order)
    else:
        x = contiguous(x)
    k = int(np.prod([x.shape[d] for d in range(len(kept), x.ndim)], dtype=np.int64))
    return flat(x), k, [x.shape[d] for d in range(len(kept))]


def _out_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if d in axes else n for d, n in enumerate(shape))
    return tuple(n for d, n in enumerate(shape) if d not in axes)


def _fold(rows_data, rows, k, combine, init, dtype):
    """Each of ``rows`` rows of length k (k > 0) folded with ``combine``."""
    kernel = build.kernel(reduce_rows_kernel, dtype, COMBINE=("binary", combine, "forward"),
                          BLOCK_COMBINE=("block", combine))
    block = build.sizes()["reduce_threads"]
    max_blocks = build.sizes()["max_blocks"]
    segment = k
    if rows < max_blocks and k > config.SPLIT_ROWS_FACTOR * block:
        segments = builtins.min(max_blocks // rows, -(-k // (config.SPLIT_ROWS_FACTOR * block)))
        segment = -(-k // segments)
    nseg = -(-k // segment)
    out = empty((rows * nseg,), dtype)
    kernel.over_rows(rows * nseg, rows_data, out, k, segment, init)
    if nseg > 1:
        return _fold(out, rows, nseg, combine, init, dtype)
    return out


def _reduce(kind, x, axis, keepdims):
    x = runtime.as_device(x)
    axes = _axes(axis, x.ndim)
    shape = _out_shape(tuple(x.shape), axes, keepdims)
    dtype = x.dtype
    if kind == "sum" and dtype.kind in "biu":
        dtype = np.dtype(np.uint64 if dtype.kind == "u" else np.int64)  # as NumPy sums them
    elif dtype.kind == "b":
        dtype = np.dtype(np.uint8)  # max/min of bools: computed on bytes, returned as bools
    if not axes:  # nothing to reduce: a copy, as NumPy returns
        return reshape(astype(x, dtype), shape)
    if dtype != x.dtype:
        x = astype(x, dtype)
    data, k, kept = _rows(x, axes)
    rows = int(np.prod(kept, dtype=np.int64))
    if k == 0:
        if kind != "sum":
            raise ValueError(f"{kind}() of an empty array over axes {axes}: there is no identity")
        return full(shape, 0, dtype)
    if dtype.kind == "f":
        init = {"sum": 0, "maximum": -np.inf, "minimum": np.inf}[kind]
    else:
        info = np.iinfo(dtype)
        init = {"sum": 0, "maximum": info.min, "minimum": info.max}[kind]
    combine = "add" if kind == "sum" else kind
    out = _fold(data, rows, k, combine, dtype.type(init), dtype) if rows else empty((0,), dtype)
    return reshape(out, shape)


def sum(x, axis=None, keepdims=False, dtype=None):
    """Sum over ``axis`` (int, tuple or None for all); integers and bools sum as int64.

    ``dtype`` converts first (NumPy's accumulator dtype)."""
    if dtype is not None and np.dtype(dtype) != runtime.as_device(x).dtype:
        x = astype(x, dtype)
    return _reduce("sum", x, axis, keepdims)


def max(x, axis=None, keepdims=False):
    """Maximum over ``axis``; NaN propagates. An empty reduction raises ValueError."""
    x = runtime.as_device(x)
    out = _reduce("maximum", x, axis, keepdims)
    return astype(out, np.bool_) if x.dtype.kind == "b" else out


def min(x, axis=None, keepdims=False):
    """Minimum over ``axis``; NaN propagates. An empty reduction raises ValueError."""
    x = runtime.as_device(x)
    out = _reduce("minimum", x, axis, keepdims)
    return astype(out, np.bool_) if x.dtype.kind == "b" else out


def mean(x, axis=None, keepdims=False):
    """sum / count in the float dtype (float64 for integers); NaN for an empty reduction."""
    x = runtime.as_device(x)
    if x.dtype.kind != "f":
        x = astype(x, np.float64)
    axes = _axes(axis, x.ndim)
    count = int(np.prod([x.shape[d] for d in axes], dtype=np.int64))
    total = sum(x, axes, keepdims)
    return binary("div", total, full((), count, x.dtype))


def _arg(kind, x, axis, keepdims):
    x = runtime.as_device(x)
    if x.dtype.kind == "b":
        x = astype(x, np.uint8)
    ndim = x.ndim
    if axis is None:
        x, axes = reshape(x, (-1,)), (0,)
    else:
        axes = _axes(int(axis), ndim)
    if x.shape[axes[0]] == 0:
        raise ValueError(f"arg{kind} of an empty sequence: there is no {kind}imum")
    data, k, kept = _rows(x, axes)
    rows = int(np.prod(kept, dtype=np.int64))
    out = empty((rows,), np.int64)
    init = (-np.inf if kind == "max" else np.inf) if x.dtype.kind == "f" else 0
    better = ("source", __name__, "arg%s_better" % kind)
    build.kernel(arg_reduce_rows_kernel, x.dtype, BETTER=better).over_rows(
        rows, data, out, k, x.dtype.type(init))
    if axis is None:
        return reshape(out, (1,) * ndim if keepdims else ())
    if keepdims:
        kept = kept[:axes[0]] + [1] + kept[axes[0]:]
    return reshape(out, kept)


def argmax(x, axis=None, keepdims=False):
    """Index (int64) of the first maximum along ``axis`` (of the flattened array when None)."""
    return _arg("max", x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    """Index (int64) of the first minimum along ``axis`` (of the flattened array when None)."""
    return _arg("min", x, axis, keepdims)
