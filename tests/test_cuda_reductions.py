"""sorix.kernels.cuda reductions (sum, mean, max, min, argmax, argmin) and softmax.

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

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


# ---- reductions ------------------------------------------------------------------------

REDUCE_CASES = [((0,), None), ((1,), 0), ((7,), None), ((33,), 0), ((3, 0), 1), ((3, 0), 0),
                ((3, 11), 1), ((3, 11), 0), ((2, 3, 4), (0, 2)), ((2, 3, 4), (1,)), ((2, 3, 4), ()),
                ((2, 3, 4), -1), ((), None)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", REDUCE_CASES, ids=str)
def test_reductions(shape, axis, dtype, rng):
    x = rand(rng, shape, dtype)
    d = dev(x)
    for keepdims in (False, True):
        check(C.sum(d, axis, keepdims), np.sum(x, axis=axis, keepdims=keepdims), dtype)
        with np.errstate(all="ignore"):
            expected_mean = np.asarray(np.mean(x, axis=axis, keepdims=keepdims))
        check(C.mean(d, axis, keepdims), expected_mean, dtype)
        for name in ("max", "min"):
            fn = getattr(np, name)
            try:
                expected = fn(x, axis=axis, keepdims=keepdims)
            except ValueError:
                with pytest.raises(ValueError):
                    getattr(C, name)(d, axis, keepdims)
                continue
            check(getattr(C, name)(d, axis, keepdims), expected, dtype, exact=True)


def test_reductions_long_rows_split_into_segments(rng):
    # 200 elements in one row: more than SPLIT_ROWS_FACTOR blocks' worth, so two passes.
    x = rand(rng, 200, np.float64)
    check(C.sum(dev(x)), np.sum(x))
    check(C.max(dev(x)), np.max(x), exact=True)
    x[150] = np.nan
    assert np.isnan(C.to_host(C.min(dev(x))))
    check(C.argmin(dev(x)), 150)


def test_reductions_nan_inf_and_other_dtypes():
    x = np.array([[1.0, np.nan, 3.0], [-np.inf, 2.0, np.inf]])
    d = dev(x)
    check(C.max(d, 1), np.max(x, 1), exact=True)
    check(C.min(d, 0), np.min(x, 0), exact=True)
    check(C.sum(d, 1), np.sum(x, 1))
    i = np.array([[3, -1, 7], [0, 2, 2]], np.int32)
    check(C.sum(dev(i), 1), np.sum(i, 1), np.int64)
    check(C.max(dev(i)), np.max(i), np.int32)
    check(C.mean(dev(i), 0), np.mean(i, 0), np.float64)
    b = np.array([[True, False], [False, False]])
    check(C.sum(dev(b)), np.sum(b), np.int64)
    check(C.max(dev(b), 0), np.max(b, 0), np.bool_)


@pytest.mark.parametrize("dtype", DTYPES + [np.int64])
def test_argmax_argmin(dtype, rng):
    x = rng.integers(-3, 4, size=(4, 9)).astype(dtype)  # many ties: the first must win
    d = dev(x)
    for axis in (None, 0, 1, -1):
        for keepdims in (False, True):
            for name in ("argmax", "argmin"):
                expected = getattr(np, name)(x, axis=axis, keepdims=keepdims)
                check(getattr(C, name)(d, axis, keepdims), expected, np.int64)
    if dtype != np.int64:
        x[1, 5] = x[1, 7] = np.nan
        x[2, 0] = np.inf
        for name in ("argmax", "argmin"):
            check(getattr(C, name)(dev(x), 1), getattr(np, name)(x, 1), np.int64)
    with pytest.raises(ValueError):
        C.argmax(dev(np.zeros((0, 3), dtype)), 0)


# ---- softmax ------------------------------------------------------------------------------

def _softmax(x, axis):
    if x.size == 0:
        return x.copy(), x.copy()
    with np.errstate(all="ignore"):
        shifted = x - np.max(x, axis=axis, keepdims=True)
        e = np.exp(shifted)
        return e / np.sum(e, axis=axis, keepdims=True), \
            shifted - np.log(np.sum(e, axis=axis, keepdims=True))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", [((7,), 0), ((33,), -1), ((3, 11), 1), ((3, 11), 0),
                                        ((2, 3, 4), 1), ((2, 0), 1), ((0, 3), 1), ((), 0)], ids=str)
def test_softmax(shape, axis, dtype, rng):
    x = rand(rng, shape, dtype, -20, 20)
    soft, log_soft = _softmax(x, axis if x.ndim else None)
    check(C.softmax(dev(x), axis), soft, dtype)
    check(C.log_softmax(dev(x), axis), log_soft, dtype)


def test_softmax_special_values():
    x = np.array([[1.0, np.inf, 2.0], [-np.inf, -np.inf, -np.inf], [np.nan, 0.0, 1.0],
                  [1000.0, 1000.0, -1000.0]])
    soft, log_soft = _softmax(x, 1)
    check(C.softmax(dev(x), 1), soft)
    check(C.log_softmax(dev(x), 1), log_soft)
