"""sorix.kernels.cuda matmul, take, scatter_add and where against NumPy.

Runs under numba's CUDA simulator (tests/cuda_setup.py sets it up;
SORIX_TEST_CUDA=gpu runs on a real GPU). The simulator runs every CUDA
thread as a Python thread, so the arrays are small.
"""
import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sorix.kernels.cuda as C  # noqa: E402
from conftest import DTYPES, rand  # noqa: E402
from cuda_setup import SIZES, check, dev, fast_thread_switching  # noqa: E402,F401


# ---- matmul ------------------------------------------------------------------------------

MATMUL_SHAPES = [((7,), (7,)), ((1, 1), (1, 1)), ((7, 33), (33, 5)), ((5, 9), (9,)),
                 ((9,), (9, 6)), ((2, 3, 7), (7, 4)), ((2, 3, 7), (2, 7, 4)),
                 ((3, 5), (2, 5, 4)), ((2, 1, 3, 5), (1, 4, 5, 2)), ((0, 3), (3, 4)),
                 ((3, 0), (0, 4)), ((2, 0, 3), (3, 5))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=str)
def test_matmul(sa, sb, dtype, rng):
    a, b = rand(rng, sa, dtype), rand(rng, sb, dtype)
    check(C.matmul(dev(a), dev(b)), np.matmul(a, b), dtype)


def test_matmul_non_contiguous_integer_and_errors(rng):
    a, b = rand(rng, (6, 4), np.float64), rand(rng, (5, 6), np.float64)
    check(C.matmul(C.transpose(dev(a)), C.transpose(dev(b))), a.T @ b.T)
    i, j = rng.integers(-5, 5, (3, 4)), rng.integers(-5, 5, (4, 2))
    check(C.matmul(dev(i), dev(j)), i @ j, np.int64)
    a32 = a.T.astype(np.float32)
    check(C.matmul(dev(a32), dev(b.T)), a32 @ b.T, np.float64)
    with pytest.raises(ValueError, match="not aligned"):
        C.matmul(dev(a), dev(a))


# ---- indexing, where ----------------------------------------------------------------------

def _indices(x):
    return [0, -1, (1, 2), (slice(None), 2), (Ellipsis, 1), (None, 1, slice(None, None, -2)),
            (slice(1, 3), slice(None, None, 2)), np.array([0, 2, 2, 0]),
            (np.array([0, 3, 3]), np.array([1, 1, 1])), x > 0, (slice(1, 3), [0, 4, 4]),
            ([1, 1],), (Ellipsis, np.array([[0, 1], [4, 4]])), (slice(4, 1), 0)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_take_and_scatter_add(dtype, rng):
    x = rand(rng, (4, 5), dtype)
    d = dev(x)
    for index in _indices(x):
        expected = x[index]
        check(C.take(d, index), expected, dtype, exact=True)
        g = rand(rng, np.shape(expected), dtype)
        out = np.zeros_like(x)
        np.add.at(out, index, g)  # repeated indices accumulate
        check(C.scatter_add(x.shape, index, dev(g)), out, dtype)


def test_take_from_views_and_device_indices(rng):
    x = rand(rng, (4, 5), np.float64)
    t = C.transpose(dev(x))
    check(C.take(t, (slice(None, None, 2), 1)), x.T[::2, 1], exact=True)
    check(C.take(C.broadcast_to(dev(x[0]), (3, 5)), np.array([2, 0])), np.broadcast_to(x[0], (3, 5))[[2, 0]],
          exact=True)
    check(C.take(dev(x), dev(np.array([3, 3, 0]))), x[[3, 3, 0]], exact=True)
    check(C.take(dev(x), dev(x > 0.5)), x[x > 0.5], exact=True)
    check(C.scatter_add((6,), np.array([5, 0, 5, 5]), dev(np.ones(4))), [1, 0, 0, 0, 0, 3])
    check(C.scatter_add((2, 3), (slice(None), 1), dev(np.array(2.0))), [[0, 2, 0], [0, 2, 0]])
    with pytest.raises(IndexError):
        C.take(dev(x), (0, 0, 0))
    with pytest.raises(IndexError):
        C.take(dev(x), 7)


@pytest.mark.parametrize("dtype", DTYPES)
def test_where(dtype, rng):
    for sc, sa, sb in (((7,), (7,), (7,)), ((3, 4), (4,), ()), ((3, 1), (1, 4), (3, 4)),
                       ((0,), (1,), (0,))):
        c = rand(rng, sc, np.float64) > 0
        a, b = rand(rng, sa, dtype), rand(rng, sb, dtype)
        check(C.where(dev(c), dev(a), dev(b)), np.where(c, a, b), dtype, exact=True)
    a = np.array([np.nan, np.inf, 1.0], dtype)
    check(C.where(dev(np.array([True, True, False])), dev(a), dev(np.zeros(3, dtype))),
          [np.nan, np.inf, 0.0], dtype, exact=True)
