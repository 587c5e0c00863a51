"""Gradient buckets for data-parallel training: flatten, unflatten and average.

A bucket is one flat array holding several parameters' gradients, so that
one collective call exchanges them all. ``pack`` copies a gradient into its
slice of the bucket and ``unpack`` copies a slice out; after the sum over
processes, ``unpack_divided`` writes each slice back into its gradient
divided by the process count (the average) in one pass; ``divide``
averages an array in place.

Arrays are 1-D and contiguous; ``divisor`` is passed in the data's dtype so
float32 stays float32. The same functions are compiled for the GPU by
:mod:`sorix.kernels.cuda.buckets` (``prange`` becomes a grid-stride loop).
"""
import numpy as np

from . import variants

prange = range  # numba's prange is bound when a kernel is compiled


def pack(bucket, offset, grad):
    """bucket[offset + i] = grad[i]"""
    for i in prange(grad.size):
        bucket[offset + i] = grad[i]


def unpack(bucket, offset, grad):
    """grad[i] = bucket[offset + i]"""
    for i in prange(grad.size):
        grad[i] = bucket[offset + i]


def unpack_divided(bucket, offset, grad, divisor):
    """grad[i] = bucket[offset + i] / divisor"""
    for i in prange(grad.size):
        grad[i] = bucket[offset + i] / divisor


def divide(x, divisor):
    """x[i] = x[i] / divisor, in place"""
    for i in prange(x.size):
        x[i] = x[i] / divisor


def flat_view(array):
    """A 1-D view of a C-contiguous NumPy array (kernels write through it)."""
    return array.reshape(-1)


def run_pack(bucket, offset, grad):
    variants.run(pack, grad.size, bucket, np.intp(offset), flat_view(grad))


def run_unpack(bucket, offset, grad):
    variants.run(unpack, grad.size, bucket, np.intp(offset), flat_view(grad))


def run_unpack_divided(bucket, offset, grad, divisor):
    variants.run(unpack_divided, grad.size, bucket, np.intp(offset), flat_view(grad),
                 grad.dtype.type(divisor))


def run_divide(x, divisor):
    variants.run(divide, x.size, flat_view(x), x.dtype.type(divisor))
