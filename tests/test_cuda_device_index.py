"""Indexing with index arrays that stay on the device, against NumPy.

take and scatter_add with device integer index arrays (alone, several, mixed
with slices, ints, None, Ellipsis and host arrays) must give NumPy's
``x[index]`` and ``np.add.at``; a tensor indexing forward and backward with
a device index tensor must copy nothing between host and device.

Runs under numba's CUDA simulator (tests/cuda_setup.py; SORIX_TEST_CUDA=gpu
runs on a real GPU).
"""
import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sorix  # noqa: E402
import sorix.kernels.cuda as C  # noqa: E402
from conftest import rand  # noqa: E402
from cuda_setup import check, dev, device_api_only, fast_thread_switching  # noqa: E402,F401
from sorix.kernels.cuda import device_index  # noqa: E402


def _on_device(index):
    """The index with every NumPy integer array moved to the device."""
    parts = index if isinstance(index, tuple) else (index,)
    moved = tuple(dev(p) if isinstance(p, np.ndarray) and p.dtype.kind in "iu" else p
                  for p in parts)
    return moved if isinstance(index, tuple) else moved[0]


def _indices():
    a = np.array([0, 2, 2, -1])
    b = np.array([[1], [0], [3]])  # broadcasts against a
    return [a, (a,), (slice(None), a), (a, slice(1, 4)), (a, np.array([4, 0, 1, 1])),
            (b, a), (slice(None), b, a), (a, slice(None), np.array([0, 1, 5, 2])),
            (1, slice(None), a), (a, 2), (Ellipsis, a), (a, Ellipsis, 0),
            (None, a, None), (a, None, a), (slice(None, None, -1), a, slice(0, 5, 2)),
            (np.array(3), slice(None)), (np.int32(1), np.array([1, 1], np.int32)),
            (a, np.array([True, False, True, True, True])),
            (np.array([], np.int64), slice(None)), (slice(2, 2), a)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(_indices())))
def test_take_and_scatter_add_with_device_indices(case, dtype, rng):
    x = rand(rng, (4, 5, 6), dtype)
    index = _indices()[case]
    expected = x[index]
    assert device_index.applies(_on_device(index) if isinstance(index, tuple)
                                else (_on_device(index),))
    check(C.take(dev(x), _on_device(index)), expected, dtype, exact=True)
    g = rand(rng, expected.shape, dtype)
    out = np.zeros_like(x)
    np.add.at(out, index, g)  # repeated indices accumulate
    check(C.scatter_add(x.shape, _on_device(index), dev(g)), out, dtype)


def test_views_int32_indices_and_broadcast_gradient(rng):
    x = rand(rng, (5, 4), np.float64)
    rows = np.array([4, 0, 4], np.int32)
    check(C.take(C.transpose(dev(x)), (slice(None), dev(rows))), x.T[:, rows], exact=True)
    out = np.zeros((5, 4))
    np.add.at(out, (rows, slice(None)), np.float64(2.5))
    check(C.scatter_add((5, 4), (dev(rows), slice(None)), dev(np.array(2.5))), out)
    ints = rng.integers(-9, 9, (5, 4))
    check(C.take(dev(ints), dev(rows)), ints[rows], np.int64)


def test_out_of_range_device_index_reads_nan_and_drops_gradient(rng):
    x = rand(rng, (4, 3), np.float32)
    index = dev(np.array([1, 4, -5, -4]))
    got = C.to_host(C.take(dev(x), index))
    np.testing.assert_array_equal(got[[0, 3]], x[[1, 0]])
    assert np.isnan(got[[1, 2]]).all()
    ints = C.to_host(C.take(dev(np.arange(4)), index))
    np.testing.assert_array_equal(ints, [1, 0, 0, 0])
    g = np.ones((4, 3), np.float32)
    expected = np.zeros((4, 3), np.float32)
    expected[[1, 0]] += 1
    check(C.scatter_add((4, 3), index, dev(g)), expected)


def test_errors_name_the_problem(rng):
    x = dev(rand(rng, (4, 3), np.float64))
    with pytest.raises(IndexError, match="too many indices"):
        C.take(x, (dev(np.array([0])), 0, 0))
    with pytest.raises(IndexError, match="could not be broadcast"):
        C.take(x, (dev(np.array([0, 1])), dev(np.array([0, 1, 2]))))
    with pytest.raises(IndexError, match="out of bounds"):
        C.take(x, (dev(np.array([0])), 3))
    with pytest.raises(IndexError, match="out of bounds"):
        C.take(x, (dev(np.array([0])), np.array([7])))
    with pytest.raises(IndexError, match="does not match"):
        C.take(x, (dev(np.array([0])), np.array([True, False])))


def test_bool_device_mask_still_selects(rng):
    x = rand(rng, (4, 3), np.float64)
    mask = x[:, 0] > 0
    check(C.take(dev(x), (dev(mask), dev(np.array([2])))), x[mask, [2]], exact=True)


def test_indexing_with_a_device_index_tensor_copies_nothing(rng):
    data = rand(rng, (6, 5), np.float32)
    x = sorix.tensor(data, device="cuda", requires_grad=True)
    rows_host = np.array([5, 1, 1, 0])
    rows = sorix.tensor(rows_host).to("cuda")
    cols = sorix.tensor(np.array([4, 0])).to("cuda")
    before = C.transfer_counts()
    y = x[rows]
    z = x[rows[:2], cols]
    (y * y).sum().backward()
    z.sum().backward()
    assert C.transfer_counts() == before, "device indexing copied data to or from the host"
    expected = np.zeros_like(data)
    np.add.at(expected, rows_host, 2 * data[rows_host])
    np.add.at(expected, (rows_host[:2], [4, 0]), 1.0)
    np.testing.assert_allclose(x.grad.cpu().numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(y.detach().cpu().numpy(), data[rows_host])
