"""The sum of every element of a large float32 array, in one threaded pass.

NumPy adds float32 pairwise, in float32, about one element per cycle: a sum of
1e6 elements took 0.28 ms on a 2-core machine, where PyTorch's took 0.08 ms.
Here the array is cut into fixed blocks of BLOCK elements; each block is added
in float64 (``block_total`` is listed in ``REASSOCIATE``, so LLVM splits the
additions over vector lanes; see :func:`sorix.kernels.variants.variant`), and
the block totals are then added in order. The blocks depend on the size alone,
so the result is the same serial or threaded, on any number of threads; and
float64 accumulation makes it at least as accurate as NumPy's float32 sum (the
float64 total of n terms is off by about n 2^-53 of their absolute sum before
it is rounded to float32). NaN and infinities propagate as in any sum.
"""
import numpy as np

prange = range  # numba's prange is bound when a kernel is compiled

BLOCK = 16384


def block_total(x, start, stop):
    """x[start] + ... + x[stop - 1], in float64."""
    total = 0.0
    # an unsigned index: numba wraps negative signed ones, and that check makes LLVM
    # gather the elements one by one instead of loading them as a vector
    for i in range(start, stop):
        total += x[np.uint64(i)]
    return total


REASSOCIATE = ("block_total",)


def total(x):
    """The float64 sum of the flat contiguous array ``x`` (see the module doc)."""
    n = x.size
    blocks = (n + BLOCK - 1) // BLOCK
    partial = np.empty(blocks, np.float64)
    for b in prange(blocks):
        partial[b] = block_total(x, b * BLOCK, min(n, (b + 1) * BLOCK))
    result = 0.0
    for b in range(blocks):
        result += partial[b]
    return result
