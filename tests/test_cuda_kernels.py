"""sorix.kernels.cuda elementwise ops and array utilities against NumPy references.

Runs under numba's CUDA simulator (tests/cuda_setup.py sets it up;
SORIX_TEST_CUDA=gpu runs on a real GPU). The simulator runs every CUDA
thread as a Python thread, so the arrays are small.
"""
import subprocess
import sys

import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import naive  # noqa: E402
import sorix.kernels.cuda as C  # noqa: E402
from conftest import BROADCAST_PAIRS, DTYPES, SPECIAL_VALUES, python_env, rand  # noqa: E402
from cuda_setup import SIZES, check, dev, fast_thread_switching  # noqa: E402,F401
from naive import unary_params as params  # noqa: E402
from sorix.kernels.defs import BINARY, UNARY  # noqa: E402

#: NaN and inf inputs make NumPy scalars warn inside the simulated kernels: expected.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


# ---- elementwise ----------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_and_grad(name, dtype, rng):
    forward, derivative = naive.UNARY[name]
    for size in SIZES:
        x = rand(rng, size, dtype)
        if name in ("log", "sqrt"):
            x = np.abs(x) + dtype(0.1)
        y = C.unary(name, dev(x), params(name))
        check(y, forward(x, *params(name)), dtype)
        if derivative is not None:
            g = rand(rng, size, dtype)
            gx = C.unary_grad(name, dev(g), dev(x), y, params(name))
            check(gx, g * derivative(x, *params(name)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_special_values(name, dtype):
    x = np.array(SPECIAL_VALUES, dtype=dtype)
    forward, derivative = naive.UNARY[name]
    y = C.unary(name, dev(x), params(name))
    check(y, forward(x, *params(name)), dtype)
    if derivative is not None:
        check(C.unary_grad(name, dev(np.ones_like(x)), dev(x), y, params(name)),
              derivative(x, *params(name)), dtype)


@pytest.mark.parametrize("name", ["exp", "clamp"])
def test_unary_non_contiguous(name, rng):
    base = rand(rng, (6, 10), np.float64)
    d = dev(base)
    forward = naive.UNARY[name][0]
    for index in ((slice(None), slice(None, None, 3)), (slice(None, None, 2), slice(1, None, 2))):
        check(C.unary(name, C.take(d, index), params(name)), forward(base[index], *params(name)))
    check(C.unary(name, C.transpose(d), params(name)), forward(base.T, *params(name)))
    strided = C.broadcast_to(dev(base[0]), (3, 10))  # a zero-stride view read in place
    check(C.unary(name, strided, params(name)), forward(np.broadcast_to(base[0], (3, 10)),
                                                        *params(name)))


def test_unary_other_dtypes_follow_the_cpu_rules():
    i = np.array([-3, 0, 2, 7], np.int32)
    check(C.unary("neg", dev(i)), -i, np.int32)
    check(C.unary("exp", dev(i)), np.exp(i), np.float64)
    check(C.unary("relu", dev(i)), np.maximum(i, 0), np.int32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_and_grad_same_shape(name, dtype, rng):
    forward, d_da, d_db = naive.BINARY[name]
    for size in SIZES:
        a, b, g = rand(rng, size, dtype), rand(rng, size, dtype), rand(rng, size, dtype)
        if name == "pow":
            a = np.abs(a) + dtype(0.1)
        y = C.binary(name, dev(a), dev(b))
        check(y, forward(a, b), dtype)
        ga, gb = C.binary_grad(name, dev(g), dev(a), dev(b), y, True, True)
        check(ga, g * d_da(a, b), dtype)
        check(gb, g * d_db(a, b), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa,sb", BROADCAST_PAIRS, ids=str)
def test_binary_broadcasting(sa, sb, dtype, rng):
    a, b = rand(rng, sa, dtype), rand(rng, sb, dtype)
    shape = np.broadcast_shapes(sa, sb)
    g = rand(rng, shape, dtype)
    for name, need in (("mul", (True, True)), ("div", (True, False)), ("maximum", (False, True))):
        forward, d_da, d_db = naive.BINARY[name]
        y = C.binary(name, dev(a), dev(b))
        check(y, forward(a, b), dtype)
        ga, gb = C.binary_grad(name, dev(g), dev(a), dev(b), y, *need)
        assert (ga is None) != need[0] and (gb is None) != need[1]
        if need[0]:
            check(ga, g * d_da(a, b), dtype)
        if need[1]:
            check(gb, g * d_db(a, b), dtype)


def test_binary_non_contiguous_operands(rng):
    a, b = rand(rng, (5, 4), np.float64), rand(rng, (4, 6), np.float64)
    da, db = dev(a), dev(b)
    at, bt = C.transpose(da), C.take(db, (slice(None), slice(None, 5)))
    views = (C.broadcast_to(C.take(da, 0), (4, 4)), C.broadcast_to(C.take(db, (slice(None), 0)),
                                                                  (4, 4)))
    hosts = (np.broadcast_to(a[0], (4, 4)), np.broadcast_to(b[:, 0], (4, 4)))
    for name in ("add", "pow", "minimum"):
        forward, d_da, d_db = naive.BINARY[name]
        check(C.binary(name, at, bt), forward(a.T, b[:, :5]))
        check(C.binary(name, *views), forward(*hosts))
        g = rand(rng, (4, 4), np.float64)
        ga, gb = C.binary_grad(name, dev(g), *views, C.binary(name, *views), True, True)
        check(ga, g * d_da(*hosts))
        check(gb, g * d_db(*hosts))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_special_values(name, dtype):
    grid = np.array(SPECIAL_VALUES, dtype=dtype)
    a, b = np.meshgrid(grid, grid[::3])
    forward, d_da, d_db = naive.BINARY[name]
    y = C.binary(name, dev(a), dev(b))
    check(y, forward(a, b), dtype)
    ga, gb = C.binary_grad(name, dev(np.ones_like(a)), dev(a), dev(b), y, True, True)
    check(ga, d_da(a, b), dtype)
    check(gb, d_db(a, b), dtype)


def test_binary_mixed_dtypes_follow_numpy():
    a, b = np.array([1.5, -2.0], np.float32), np.array([2, 3], np.int64)
    check(C.binary("mul", dev(a), dev(b)), a * b, np.float64)
    i = np.array([7, -3], np.int32)
    check(C.binary("add", dev(i), dev(i)), i + i, np.int32)
    check(C.binary("div", dev(i), dev(i)), i / i, np.float64)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        C.binary("add", dev(np.zeros(3)), dev(np.zeros(4)))


# ---- arrays -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES + [np.int64, np.bool_])
def test_allocation_and_transfers(dtype, rng):
    for size in SIZES:
        x = (rand(rng, size, np.float64) > 0).astype(dtype) if dtype == np.bool_ else \
            rand(rng, size, dtype)
        check(dev(x), x, dtype, exact=True)
        check(C.zeros((size, 2), dtype), np.zeros((size, 2), dtype), dtype, exact=True)
        check(C.full(size, 3, dtype), np.full(size, 3, dtype), dtype, exact=True)
        assert C.empty((2, size), dtype).shape == (2, size)
    check(dev(np.float32(2.5)), np.float32(2.5), np.float32)  # 0-d stays 0-d


def test_astype(rng):
    x = np.array([-2.7, -0.5, 0.0, 0.4, 3.9, 100.25])
    for dtype in (np.float32, np.int32, np.int64, np.bool_):
        check(C.astype(dev(x), dtype), x.astype(dtype), dtype, exact=True)
    check(C.astype(dev(np.array([True, False])), np.float32), [1.0, 0.0], np.float32)
    check(C.astype(C.transpose(dev(x.reshape(2, 3))), np.float32),
          x.reshape(2, 3).T.astype(np.float32), np.float32)


def test_views_and_copies(rng):
    x = rand(rng, (2, 3, 4), np.float64)
    d = dev(x)
    for axes in (None, (1, 0, 2), (2, 0, 1), (-1, 1, 0)):
        check(C.transpose(d, axes), np.transpose(x, axes), exact=True)
    check(C.reshape(d, (4, -1)), x.reshape(4, -1), exact=True)
    check(C.reshape(C.transpose(d), (-1,)), x.T.reshape(-1), exact=True)  # copies first
    check(C.broadcast_to(dev(x[0, 0]), (3, 2, 4)), np.broadcast_to(x[0, 0], (3, 2, 4)), exact=True)
    check(C.contiguous(C.broadcast_to(dev(x[:, :1]), (2, 3, 4))),
          np.broadcast_to(x[:, :1], (2, 3, 4)), exact=True)
    assert C.contiguous(d) is d
    with pytest.raises(ValueError):
        C.reshape(d, (5, -1))
    with pytest.raises(ValueError):
        C.broadcast_to(d, (2, 2, 4))


# ---- packaging ---------------------------------------------------------------------------------

def test_importing_the_package_imports_no_numba():
    probe = ("import sys, sorix, sorix.kernels.cuda as C; "
             "assert 'numba' not in sys.modules, 'numba imported'; "
             "assert C.is_device_array(object()) is False")
    subprocess.run([sys.executable, "-c", probe], check=True,
                   env=python_env())


def test_device_arrays_are_recognised_and_host_arrays_refused():
    d = dev(np.zeros(2))
    assert C.is_device_array(d) and C.as_device(d) is d
    with pytest.raises(TypeError, match="to_device"):
        C.unary("exp", np.zeros(2))
    assert C.simulated() == (not cuda_setup.WANT_GPU)
