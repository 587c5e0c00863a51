"""Gradient buckets on device arrays, and the copies a collective needs around them.

``pack``, ``unpack``, ``unpack_divided`` and ``divide`` are the functions of
:mod:`sorix.kernels.buckets` compiled for the GPU (same arguments, device
arrays). The rest serves collectives over MPI:

- ``synchronize()``: an MPI library reads device memory on its own, outside
  CUDA's streams, so queued kernels must have finished first;
- ``mpi_buffer(x)``: what to hand a CUDA-aware MPI for device array ``x``:
  ``x`` itself (it exposes ``__cuda_array_interface__``); under the
  simulator, the NumPy array it wraps (simulated device memory is host
  memory), so the direct path runs in tests without a GPU;
- ``host_buffer``, ``copy_to_host``, ``copy_from_host``: staging through
  host memory for an MPI that cannot read device memory, counted in
  :func:`sorix.kernels.cuda.transfer_counts`.
"""
import numpy as np

from .. import buckets as cpu_buckets
from . import build, runtime
from .arrays import flat
from .runtime import element_strides, is_contiguous, view


def _writable_flat(x):
    x = runtime.as_device(x)
    if not is_contiguous(x.shape, element_strides(x)):
        raise ValueError("a gradient written from a bucket must be contiguous")
    return view(x, (x.size,), (1,))


def pack(bucket, offset, grad):
    """bucket[offset:offset + grad.size] = grad (flattened)."""
    grad = flat(grad)
    build.kernel(cpu_buckets.pack, grad.dtype).over(grad.size, _writable_flat(bucket),
                                                    np.intp(offset), grad)


def unpack(bucket, offset, grad):
    """grad (contiguous, any shape) = bucket[offset:offset + grad.size]."""
    grad = _writable_flat(grad)
    build.kernel(cpu_buckets.unpack, grad.dtype).over(grad.size, _writable_flat(bucket),
                                                      np.intp(offset), grad)


def unpack_divided(bucket, offset, grad, divisor):
    """grad (contiguous, any shape) = bucket[offset:offset + grad.size] / divisor."""
    grad = _writable_flat(grad)
    build.kernel(cpu_buckets.unpack_divided, grad.dtype).over(
        grad.size, _writable_flat(bucket), np.intp(offset), grad, grad.dtype.type(divisor))


def divide(x, divisor):
    """x /= divisor, in place (x contiguous)."""
    x = _writable_flat(x)
    build.kernel(cpu_buckets.divide, x.dtype).over(x.size, x, x.dtype.type(divisor))


def synchronize():
    """Wait for every kernel queued on the device."""
    runtime.cuda().synchronize()


def mpi_buffer(x):
    """The buffer a CUDA-aware MPI reads and writes for contiguous device array ``x``."""
    x = runtime.as_device(x)
    if runtime.simulated():
        return x._ary
    return x


def host_buffer(size, dtype):
    """A 1-D host array for staging: page-locked on a GPU (faster copies)."""
    if runtime.simulated():
        return np.empty(int(size), np.dtype(dtype))
    return runtime.cuda().pinned_array(int(size), np.dtype(dtype))


def copy_to_host(x, host):
    """host[...] = contiguous device array x (same size), counted as one transfer."""
    runtime.count_transfer("to_host")
    runtime.as_device(x).copy_to_host(host.reshape(x.shape))


def copy_from_host(host, x):
    """contiguous device array x[...] = host (same size), counted as one transfer."""
    runtime.count_transfer("to_device")
    runtime.as_device(x).copy_to_device(host.reshape(x.shape))
