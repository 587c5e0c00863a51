"""Sums and means of every element of a large float32 tensor (grad_norm's SUM kind), and
of each row along its last axis (grad_norm.row_sums): the exact sum rounded to float32,
the same on one thread or several, special values as in any sum, and NumPy's path
wherever the kernels do not apply."""
import math
import warnings

import numpy as np
import pytest

import sorix
from sorix import config
from sorix.kernels import grad_norm as K
from sorix.kernels.variants import variant

SIZES = [config.TOTAL_KERNEL_MIN, 10**5 + 3, 3 * K.BLOCK + 17]


def exact(values):
    """The sum of ``values`` rounded once to float32 (math.fsum is exact)."""
    return np.float32(math.fsum(values.astype(np.float64).ravel().tolist()))


def ulps_apart(a, b):
    return abs(int(np.float32(a).view(np.int32)) - int(np.float32(b).view(np.int32)))


@pytest.fixture
def threads_forced(monkeypatch):
    monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)


@pytest.mark.parametrize("n", SIZES)
def test_sum_is_the_exact_sum_rounded_to_float32(n):
    values = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 100
    got = sorix.tensor(values).sum()
    assert got.dtype == sorix.float32 and got.shape == ()
    # float64 accumulation of n terms: within one float32 ulp of the exact rounding
    assert ulps_apart(got.item(), exact(values)) <= 1


def test_sum_is_more_accurate_than_a_float32_accumulation():
    # 1 + 2^-24 + ... : each small term is lost when added to 1 in float32
    n = 2 * K.BLOCK
    values = np.full(n, 2.0 ** -24, np.float32)
    values[0] = 1.0
    want = 1.0 + (n - 1) * 2.0 ** -24
    assert sorix.tensor(values).sum().item() == pytest.approx(want, rel=1e-7)
    naive = np.float32(0)
    for v in values[:1000]:  # (what a float32 running sum does: the small terms vanish)
        naive = np.float32(naive + v)
    assert naive == 1.0


@pytest.mark.parametrize("n", SIZES)
def test_the_same_serial_and_threaded(n, monkeypatch):
    values = np.random.default_rng(1).uniform(-1, 1, n).astype(np.float32)
    x = values.reshape(-1)
    assert variant(K.norm_part, True)(x, K.SUM, 0.0) == variant(K.norm_part, False)(x, K.SUM, 0.0)
    serial = sorix.tensor(values).sum().item()
    monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)
    assert sorix.tensor(values).sum().item() == serial


def test_mean_divides_the_float64_total(threads_forced):
    values = np.random.default_rng(2).standard_normal((300, 70)).astype(np.float32) + 5
    got = sorix.tensor(values).mean()
    assert got.dtype == sorix.float32
    want = np.float32(math.fsum(values.astype(np.float64).ravel().tolist()) / values.size)
    assert ulps_apart(got.item(), want) <= 1


@pytest.mark.parametrize("axis", [None, (0, 1), (-1, 0)])
def test_every_axis_and_keepdims(axis):
    values = np.random.default_rng(3).standard_normal((128, 64)).astype(np.float32)
    t = sorix.tensor(values)
    assert ulps_apart(t.sum(axis=axis).item(), exact(values)) <= 1
    kept = t.sum(axis=axis, keepdims=True)
    assert kept.shape == (1, 1) and ulps_apart(kept.data[0, 0], exact(values)) <= 1
    assert t.mean(axis=axis, keepdims=True).shape == (1, 1)


@pytest.mark.parametrize("special, want", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_special_values_propagate(special, want, threads_forced):
    values = np.ones(2 * K.BLOCK, np.float32)
    values[K.BLOCK + 5] = special
    got = sorix.tensor(values).sum().item()
    assert (math.isnan(got) if want == "nan" else got == float(want))
    values[7] = -special if not math.isnan(special) else 1.0
    if not math.isnan(special):  # inf + -inf
        assert math.isnan(sorix.tensor(values).sum().item())


def test_a_sum_beyond_float32_overflows_to_inf_quietly():
    values = np.full(config.TOTAL_KERNEL_MIN, np.finfo(np.float32).max / 1000, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sorix.tensor(values).sum().item() == math.inf


def test_gradient_is_ones_and_mean_gradient_one_over_n():
    values = np.random.default_rng(4).standard_normal(config.TOTAL_KERNEL_MIN).astype(np.float32)
    x = sorix.tensor(values, requires_grad=True)
    x.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones_like(values))
    x.grad = None
    x.mean().backward()
    np.testing.assert_allclose(x.grad.data, np.full_like(values, 1 / values.size), rtol=1e-6)


@pytest.mark.parametrize("case", ["small", "float64", "strided", "partial axis", "dtype"])
def test_numpy_sums_where_the_kernel_does_not_apply(case):
    rng = np.random.default_rng(5)
    values = rng.standard_normal((200, 64)).astype(np.float32)
    t, kwargs = sorix.tensor(values), {}
    if case == "small":
        values = values[:2, :8].copy()
        t = sorix.tensor(values)
    elif case == "float64":
        values = values.astype(np.float64)
        t = sorix.tensor(values)
    elif case == "strided":
        t = sorix.tensor(values)[:, ::2]
        values = values[:, ::2]
    elif case == "partial axis":
        kwargs = {"axis": 0}  # (the last axis alone is the row kernel's)
    else:
        kwargs = {"dtype": np.float64}
    got = t.sum(**kwargs).data
    want = values.sum(**kwargs)
    if case == "partial axis":  # (NumPy adds rows one by one there: float64 totals instead)
        want = values.astype(np.float64).sum(**kwargs).astype(np.float32)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape", [(64, 64), (3, 7, 301), (5000, 1), (2, 3 * K.BLOCK + 5)])
def test_row_sums_are_exact_sums_rounded_to_float32(shape, monkeypatch):
    values = np.random.default_rng(6).standard_normal(shape).astype(np.float32) * 100
    rows = values.reshape(-1, shape[-1])
    want = np.array([exact(r) for r in rows]).reshape(shape[:-1])
    results = []
    for threshold in (10**18, 1):  # serial, then threaded
        monkeypatch.setattr(config, "PARALLEL_THRESHOLD", threshold)
        monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)
        got = sorix.tensor(values).sum(axis=-1).data
        assert got.dtype == np.float32 and got.shape == shape[:-1]
        assert max(ulps_apart(a, b) for a, b in zip(got.ravel(), want.ravel())) <= 1
        results.append(got)
    np.testing.assert_array_equal(results[0], results[1])
    kept = sorix.tensor(values).sum(axis=len(shape) - 1, keepdims=True).data
    np.testing.assert_array_equal(kept, results[0].reshape(shape[:-1] + (1,)))
    mean = sorix.tensor(values).mean(axis=-1).data
    np.testing.assert_allclose(mean, want / shape[-1], rtol=2e-7)


def test_row_sums_propagate_special_values_and_differentiate():
    values = np.ones((8, 1024), np.float32)
    values[1, 5] = np.nan
    values[2, 7] = np.inf
    values[3, :2] = (np.inf, -np.inf)
    got = sorix.tensor(values).sum(axis=1).data
    assert np.isnan(got[1]) and got[2] == np.inf and np.isnan(got[3])
    assert (got[[0, 4, 5, 6, 7]] == 1024).all()
    x = sorix.tensor(np.ones((8, 1024), np.float32), requires_grad=True)
    (x.mean(axis=1) * sorix.tensor(np.arange(8, dtype=np.float32))).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.repeat(np.arange(8.0)[:, None] / 1024, 1024, 1),
                               rtol=1e-7)


@pytest.mark.parametrize("dtype, rows", [(np.float32, 300_000), (np.float16, 20_000)])
@pytest.mark.parametrize("axis", [0, (0, 2)])
def test_sums_over_leading_axes_are_exact_sums_rounded(dtype, rows, axis):
    """Over a leading axis NumPy adds the rows one after another in the data's dtype (a
    float32 sum of 2e6 times 0.1 came out 1.5% short; float16 stopped at 256): the totals
    are accumulated in float64 and rounded once, for sum, mean and a bias's gradient."""
    values = np.random.default_rng(3).uniform(0.05, 0.15, (rows, 3, 2)).astype(dtype)
    want = values.astype(np.float64).sum(axis=axis)
    got = sorix.tensor(values).sum(axis=axis)
    assert got.dtype == sorix.tensor(values).dtype
    np.testing.assert_array_equal(got.data, want.astype(dtype))
    np.testing.assert_array_equal(sorix.tensor(values).mean(axis=axis).data,
                                  (want / (values.size // want.size)).astype(dtype))
    bias = sorix.zeros(3, 2, requires_grad=True, dtype=sorix.tensor(values).dtype)
    (sorix.tensor(values) * 0 + bias).backward(sorix.tensor(values))
    np.testing.assert_array_equal(bias.grad.data, values.astype(np.float64).sum(0).astype(dtype))


@pytest.mark.parametrize("shape, axis", [((4096, 33), 0), ((300, 7, 5), (0, 1)),
                                         ((20, 2048), 0), ((70_000, 3), 0)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_column_sums_over_leading_axes(shape, axis, keepdims, monkeypatch):
    """Sums and means over the leading axes of a large float32 array (one pass of
    grad_norm.column_sums): the exact float64 totals rounded once, serial and threaded
    alike."""
    values = np.random.default_rng(9).standard_normal(shape).astype(np.float32)
    exact = values.astype(np.float64).sum(axis=axis, keepdims=keepdims)
    count = values.size // exact.size
    results = []
    for threshold in (10**12, 1):
        monkeypatch.setattr(config, "PARALLEL_THRESHOLD", threshold)
        monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)
        total = sorix.tensor(values).sum(axis=axis, keepdims=keepdims).data
        mean = sorix.tensor(values).mean(axis=axis, keepdims=keepdims).data
        assert total.dtype == mean.dtype == np.float32 and total.shape == exact.shape
        np.testing.assert_array_equal(total, exact.astype(np.float32))
        np.testing.assert_array_equal(mean, (exact / count).astype(np.float32))
        results.append((total, mean))
    np.testing.assert_array_equal(results[0][0], results[1][0])
