"""Gradient buckets: their assignment and the flatten/average kernels, against NumPy."""
import numpy as np
import pytest

import sorix
from sorix import config
from sorix.kernels import buckets
from sorix.nn.parallel.reducer import FIRST_BUCKET_BYTES, assign_buckets


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [0, 1, 7, 1000])
@pytest.mark.parametrize("threaded", [False, True])
def test_kernels_against_numpy(dtype, size, threaded, monkeypatch):
    if threaded:
        monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 1)
        monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)  # threads even on a busy machine
    rng = np.random.default_rng(size)
    grad = rng.standard_normal((size, 1)).astype(dtype)
    bucket = np.full(size + 5, -1.0, dtype)
    buckets.run_pack(bucket, 3, grad)
    np.testing.assert_array_equal(bucket[3:3 + size], grad.ravel())
    assert (bucket[:3] == -1).all() and (bucket[3 + size:] == -1).all()  # nothing else written
    bucket[3:3 + size] *= 3  # as if three ranks had sent the same values
    out = np.zeros((size, 1), dtype)
    buckets.run_unpack_divided(bucket, 3, out, 3)
    np.testing.assert_allclose(out, (bucket[3:3 + size] / dtype(3)).reshape(size, 1), rtol=0)
    assert out.dtype == dtype
    copy = np.zeros((size, 1), dtype)
    buckets.run_unpack(bucket, 3, copy)
    np.testing.assert_array_equal(copy.ravel(), bucket[3:3 + size])
    values = rng.standard_normal(size).astype(dtype)
    expected = values / dtype(4)
    buckets.run_divide(values, 4)
    np.testing.assert_array_equal(values, expected)


def params(*sizes, dtype=sorix.float32):
    return [sorix.zeros(n, dtype=dtype, requires_grad=True) for n in sizes]


def sizes_of(bucket_list):
    return [[p.data.size for p in b.params] for b in bucket_list]


def test_buckets_fill_in_reverse_order_up_to_the_cap():
    ps = params(10, 20, 30, 40)  # float32: 40, 80, 120, 160 bytes
    assert sizes_of(assign_buckets(ps, 200)) == [[40], [30, 20], [10]]
    b = assign_buckets(ps, 200)[1]
    assert b.offsets == [0, 30] and b.size == 50
    assert sizes_of(assign_buckets(ps, 10**6)) == [[40, 30, 20, 10]]
    # a parameter larger than the cap gets a bucket of its own
    assert sizes_of(assign_buckets(params(5, 1000, 5), 100)) == [[5], [1000], [5]]


def test_first_bucket_is_small_so_the_exchange_starts_early():
    n = FIRST_BUCKET_BYTES // 4 // 2  # half the first bucket's cap, in float32
    found = assign_buckets(params(n, n, n, n), 25 * 2**20)
    assert sizes_of(found) == [[n, n], [n, n]]


def test_one_dtype_per_bucket():
    mixed = params(3, dtype=sorix.float64) + params(4) + params(5, dtype=sorix.float64)
    found = assign_buckets(mixed, 10**6)
    assert sizes_of(found) == [[5, 3], [4]]
    assert [b.dtype for b in found] == [np.float64, np.float32]
