"""The gradient-bucket kernels on device arrays (numba's simulator without a GPU), and the
staging copies counted as transfers."""
import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sorix.kernels.cuda as C  # noqa: E402
from conftest import DTYPES  # noqa: E402
from cuda_setup import SIZES, check, dev, device_api_only, fast_thread_switching  # noqa: E402,F401
from sorix.kernels.cuda import buckets  # noqa: E402


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_pack_unpack_divide(dtype, size, rng):
    grad = rng.standard_normal((size, 1)).astype(dtype)
    bucket_host = np.full(size + 4, -1.0, dtype)
    bucket = dev(bucket_host)
    buckets.pack(bucket, 2, dev(grad))
    bucket_host[2:2 + size] = grad.ravel()
    check(bucket, bucket_host, dtype, exact=True)
    out = dev(np.zeros((size, 1), dtype))
    buckets.unpack_divided(bucket, 2, out, 2)
    check(out, grad / dtype(2), dtype, exact=True)
    buckets.unpack(bucket, 2, out)
    check(out, grad, dtype, exact=True)
    buckets.divide(bucket, 4)
    check(bucket, bucket_host / dtype(4), dtype, exact=True)


def test_a_strided_gradient_is_packed_but_only_contiguous_ones_written(rng):
    row = rng.standard_normal(6)
    strided = C.broadcast_to(dev(row), (4, 6))  # zero strides along the first axis
    bucket = C.zeros(24, np.float64)
    buckets.pack(bucket, 0, strided)
    check(bucket, np.tile(row, 4), exact=True)
    with pytest.raises(ValueError, match="contiguous"):
        buckets.unpack(bucket, 0, strided)


def test_staging_copies_are_counted():
    x = dev(np.arange(6.0).reshape(2, 3))
    host = buckets.host_buffer(6, np.float64)
    before = C.transfer_counts()
    buckets.copy_to_host(x, host)
    np.testing.assert_array_equal(host, np.arange(6.0))
    host *= 2
    buckets.copy_from_host(host, x)
    after = C.transfer_counts()
    assert after["to_host"] - before["to_host"] == 1
    assert after["to_device"] - before["to_device"] == 1
    check(x, 2 * np.arange(6.0).reshape(2, 3), exact=True)
    # the simulator's device memory is host memory: a CUDA-aware MPI would use it as is
    assert isinstance(buckets.mpi_buffer(x), np.ndarray)
