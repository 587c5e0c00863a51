"""Stacks of small matrix products, spread over numba's threads.

A convolution multiplies one small matrix pair per sample (and group): the
second layer of a LeNet on a batch of 64 does 64 products of (16, 151) by
(151, 100). BLAS runs a product that small on one thread (OpenBLAS threads
only from ``config.BLAS_THREADED_WORK`` multiply-adds), and NumPy's matmul
runs the products of a stack one after another, so a stack of them kept one
core busy and left the others idle.

Here a numba loop calls BLAS once per product (numba's ``np.dot``, which
reaches BLAS through SciPy), and the threaded build runs the products on
numba's threads: LeNet's stacks took half the time on 2 cores (forward 0.53
-> 0.27 ms, weight gradient 1.22 -> 0.54 ms, input gradient 0.48 -> 0.25 ms
at (16, 151) x (151, 100), 64 samples, float32). Handing half a stack to a
Python thread instead was slower in a training step: numba's OpenMP threads
spin on the cores for a while after each threaded kernel, and the Python
thread had to share a core with one.

numba's ``np.dot`` needs SciPy; without it (:func:`available` is False) the
stacks are NumPy's matmul, as they were. Either way each product is one BLAS
call, so results do not depend on the thread count.

Every kernel takes C-contiguous arrays: ``out`` of shape (M, G, rows, cols),
one product per sample m and group g.
"""
import numpy as np

from .. import config
from . import threads
from .variants import run

prange = range  # numba's prange is bound when a kernel is compiled

_available = None


def available():
    """Whether numba can call BLAS from a kernel here (it needs SciPy)."""
    global _available
    if _available is None:
        try:
            from numba.np.linalg import ensure_blas
            ensure_blas()
            _available = True
        except ImportError:
            _available = False
    return _available


# ---- kernels ------------------------------------------------------------------------------

def shared_left(a, b, out):
    """out[m, g] = a[g] @ b[m, g]."""
    groups = out.shape[1]
    for t in prange(out.shape[0] * groups):
        m = t // groups
        g = t % groups
        np.dot(a[g], b[m, g], out[m, g])


def right_transposed(a, b, out):
    """out[m, g] = a[m, g] @ b[m, g]^T."""
    groups = out.shape[1]
    for t in prange(out.shape[0] * groups):
        m = t // groups
        g = t % groups
        np.dot(a[m, g], b[m, g].T, out[m, g])


def left_transposed(a, b, out):
    """out[m, g] = a[g]^T @ b[m, g]."""
    groups = out.shape[1]
    for t in prange(out.shape[0] * groups):
        m = t // groups
        g = t % groups
        np.dot(a[g].T, b[m, g], out[m, g])


def _numpy(kernel, a, b):
    """The same stack as NumPy's matmul operands."""
    if kernel is right_transposed:
        return a, b.transpose(0, 1, 3, 2)
    if kernel is left_transposed:
        return a.transpose(0, 2, 1), b
    return a, b


# ---- the entry point ------------------------------------------------------------------------

def stack(kernel, a, b, out):
    """Fill ``out`` with the products ``kernel`` names (one of the three above) and return
    it: on numba's threads when BLAS is reachable from kernels and each product is small
    enough for BLAS to run it on one thread, else with NumPy's matmul (whose BLAS threads
    each larger product itself)."""
    rows, cols = out.shape[2], out.shape[3]
    inner = b.shape[-1] if kernel is right_transposed else b.shape[-2]
    each = rows * cols * inner
    if available() and 0 < each <= config.BLAS_THREADED_WORK:
        # threaded from twice the elementwise kernels' threshold: 262144 multiply-adds
        # by default, where BLAS itself would start threads
        run(kernel, each * out.shape[0] * out.shape[1], a, b, out,
            threshold=2 * config.PARALLEL_THRESHOLD)
        return out
    left, right = _numpy(kernel, a, b)
    np.matmul(left, right, out=out)
    threads.blas_called(rows, cols, inner)
    return out
