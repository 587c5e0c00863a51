"""Block reductions of flat arrays: the norms of gradients, for clipping, and the
sum of every element of a large float32 tensor, of each of its rows along the last
axis, or of each column over its leading axes (``sum()`` and ``mean()``, see
:func:`sorix.kernels.cpu.sum`). One pass over each array.

``norm_part(g, kind, p)`` reduces a flat contiguous array to one float64:

    SQUARES   sum g^2           (the 2-norm's part)
    POWERS    sum |g|^p         (any other finite order p != 0)
    MAX_ABS   max |g|           (order inf)
    MIN_ABS   min |g|           (order -inf)
    NONZERO   count of g != 0   (order 0)
    SUM       sum g             (a whole-array sum: NumPy adds float32 pairwise, in
                                 float32, about an element a cycle on one core)

Sums add fixed blocks of BLOCK elements, each in float64, then the blocks in
order: the same result serial or threaded, on any number of threads (and, for
float32 data, within one ulp of the exact sum once rounded). ``block_sum`` is a
helper listed in ``REASSOCIATE``, so its additions are vectorised (see
:func:`sorix.kernels.variants.variant`).
"""
import math

import numpy as np

prange = range  # numba's prange is bound when a kernel is compiled

SQUARES, POWERS, MAX_ABS, MIN_ABS, NONZERO, SUM = 0, 1, 2, 3, 4, 5
BLOCK = 16384


def block_sum(g, start, stop, kind, p):
    """sum over g[start:stop] of g^2, |g|^p, [g != 0] or g, in float64.

    The indices are unsigned: numba wraps negative signed ones, and that check makes
    LLVM gather the elements one by one instead of loading them as a vector."""
    total = 0.0
    if kind == SQUARES:
        for i in range(start, stop):
            v = g[np.uint64(i)] * 1.0
            total += v * v
    elif kind == POWERS:
        for i in range(start, stop):
            total += abs(g[np.uint64(i)] * 1.0) ** p
    elif kind == SUM:
        for i in range(start, stop):
            total += g[np.uint64(i)]
    else:
        for i in range(start, stop):
            total += 1.0 if g[np.uint64(i)] != 0 else 0.0
    return total


REASSOCIATE = ("block_sum",)


def norm_part(g, kind, p):
    """The reduction of ``g`` named by ``kind`` (see the module doc), as a float64."""
    n = g.size
    blocks = (n + BLOCK - 1) // BLOCK
    partial = np.empty(blocks, np.float64)
    for b in prange(blocks):
        start = b * BLOCK
        stop = min(n, start + BLOCK)
        if kind == MAX_ABS or kind == MIN_ABS:
            best = abs(g[start] * 1.0)
            for i in range(start + 1, stop):
                v = abs(g[i] * 1.0)
                if v != v:
                    best = v  # NaN wins, as in a norm of NaNs
                    break
                if (v > best) if kind == MAX_ABS else (v < best):
                    best = v
            partial[b] = best
        else:
            partial[b] = block_sum(g, start, stop, kind, p)
    if kind == MAX_ABS or kind == MIN_ABS:
        if blocks == 0:  # nothing: max |g| = 0, min |g| = inf
            return 0.0 if kind == MAX_ABS else math.inf
        result = partial[0]
        for b in range(1, blocks):
            v = partial[b]
            if v != v or result != result:
                result = math.nan
            elif (v > result) if kind == MAX_ABS else (v < result):
                result = v
        return result
    total = 0.0
    for b in range(blocks):
        total += partial[b]
    return total


#: Row blocks of :func:`column_sums`: fixed (not the thread count), so the result is too.
COLUMN_BLOCKS = 64


def column_sums(g, cols, partial, out, divisor):
    """out[c] = the float64 sum of column c of ``g``, divided by ``divisor`` (1 for a sum,
    the row count for a mean). ``g`` is a flat contiguous array of rows of ``cols``
    values: a sum over the leading axes (a bias's gradient over the batch), where NumPy
    adds the rows one after another in float32. Each of the ``partial.shape[0]`` equal
    blocks of rows is summed into its row of ``partial``, then the blocks are added in
    order: the same result on any number of threads."""
    blocks = partial.shape[0]
    rows = g.size // cols
    per = (rows + blocks - 1) // blocks
    for b in prange(blocks):
        for c in range(cols):
            partial[b, c] = 0.0
        stop = min(rows, (b + 1) * per)
        for r in range(b * per, stop):
            base = r * cols
            for c in range(cols):
                partial[b, c] += g[np.uint64(base + c)]
    for c in range(cols):
        total = 0.0
        for b in range(blocks):
            total += partial[b, c]
        out[c] = total / divisor


def row_sums(g, cols, out):
    """out[i] = the float64 sum of row i of ``g``, a flat contiguous array of rows of
    ``cols`` values (NumPy adds float32 rows pairwise, in float32, several times
    slower). Each row is one thread's, in one order: the same result on any number of
    threads."""
    for i in prange(out.size):
        out[i] = block_sum(g, i * cols, (i + 1) * cols, SUM, 0.0)
