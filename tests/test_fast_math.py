"""The float32 ``exp``, ``log``, ``log1p`` and ``sigmoid`` CPU kernels
(sorix.kernels.scalar): a polynomial exp scaled by exponent bits, a polynomial log of the
mantissa plus the exponent, log1p corrected from it, and a branch-free sigmoid, against
float64 NumPy."""
import numpy as np

import sorix

F32 = np.float32
TINY = np.float64(np.finfo(F32).smallest_subnormal)


def ulps(actual, truth):
    """|actual - truth| in units of the float32 spacing at the (rounded) truth."""
    spacing = np.spacing(np.abs(truth).astype(F32)).astype(np.float64)
    return np.abs(actual.astype(np.float64) - truth) / np.maximum(spacing, TINY)


def test_float32_exp_within_one_ulp():
    rng = np.random.default_rng(8)
    x = np.concatenate([rng.uniform(-87, 88, 200_000), np.linspace(-4, 4, 8001),
                        np.linspace(88.0, 88.72, 2001)]).astype(F32)
    y = sorix.tensor(x).exp().data
    assert y.dtype == F32
    err = ulps(y, np.exp(x.astype(np.float64)))
    assert err.max() <= 1.0, f"{err.max()} ulp at x={x[err.argmax()]!r}"


def test_float32_exp_subnormal_range():
    x = np.linspace(-103.9, -87.4, 50_001).astype(F32)
    y = sorix.tensor(x).exp().data
    truth = np.exp(x.astype(np.float64))
    err = np.abs(y.astype(np.float64) - truth)
    assert err.max() <= TINY, f"{err.max() / TINY} subnormal ulp at x={x[err.argmax()]!r}"
    assert (y[truth < np.finfo(F32).tiny] > 0).any()


def test_float32_exp_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 88.72, 88.7228, 88.73, 89.0, 100.0,
                  3e38, -103.0, -104.0, -110.0, -200.0, -3e38], dtype=F32)
    y = sorix.tensor(x).exp().data
    assert np.isnan(y[0])
    assert y[1] == np.inf and y[2] == 0.0
    assert y[3] == 1.0 and y[4] == 1.0
    assert np.isfinite(y[5]) and np.isfinite(y[6])          # just below expf's overflow
    assert (y[7:11] == np.inf).all()                         # above 88.7228: inf
    assert y[11] > 0                                         # still a subnormal
    assert (y[12:] == 0.0).all()                             # below -103.97: 0
    assert ulps(y[5:7], np.exp(x[5:7].astype(np.float64))).max() <= 1.0


def test_float32_sigmoid_accuracy_and_special_values():
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.uniform(-80, 80, 200_000), np.linspace(-4, 4, 8001)]).astype(F32)
    y = sorix.tensor(x).sigmoid().data
    assert y.dtype == F32
    x64 = x.astype(np.float64)
    truth = np.where(x64 >= 0, 1 / (1 + np.exp(-np.abs(x64))),
                     np.exp(-np.abs(x64)) / (1 + np.exp(-np.abs(x64))))
    rel = np.abs(y - truth) / truth
    assert rel.max() < 4e-7, f"relative error {rel.max()} at x={x[rel.argmax()]!r}"
    special = sorix.tensor(np.array([np.inf, -np.inf, np.nan, 0.0, 120.0, -120.0],
                                    dtype=F32)).sigmoid().data
    assert special[0] == 1.0 and special[1] == 0.0 and np.isnan(special[2])
    assert special[3] == 0.5 and special[4] == 1.0
    assert special[5] == 0.0  # exp(-120) is below float32's smallest subnormal


def test_float64_sigmoid_unchanged_accuracy():
    x = np.linspace(-700, 700, 20_001)
    y = sorix.tensor(x).sigmoid().data
    z = np.exp(-np.abs(x))
    truth = np.where(x >= 0, 1 / (1 + z), z / (1 + z))
    np.testing.assert_allclose(y, truth, rtol=1e-15, atol=0)


def every_positive_float32(step):
    """Positive finite float32 values, every ``step``-th bit pattern (subnormals included)."""
    bits = np.arange(1, 0x7F800000, step, dtype=np.int64).astype(np.int32)
    return bits.view(F32)


def test_float32_log_within_one_ulp_over_the_whole_range():
    x = np.concatenate([every_positive_float32(997), np.linspace(0.5, 2.0, 20_001, dtype=F32)])
    y = sorix.tensor(x).log().data
    assert y.dtype == F32
    err = ulps(y, np.log(x.astype(np.float64)))
    assert err.max() <= 1.0, f"{err.max()} ulp at x={x[err.argmax()]!r}"


def test_float32_log1p_within_three_ulp():
    rng = np.random.default_rng(10)
    x = np.concatenate([every_positive_float32(4999), -every_positive_float32(4999)[:180_000],
                        rng.uniform(-0.999, 1.0, 100_000).astype(F32)])
    x = x[x > -1]
    y = sorix.tensor(x).log1p().data
    err = ulps(y, np.log1p(x.astype(np.float64)))
    assert err.max() <= 3.0, f"{err.max()} ulp at x={x[err.argmax()]!r}"


def test_float32_log_and_log1p_special_values():
    x = np.array([0.0, -0.0, -1.0, -np.inf, np.inf, np.nan, 1.0], dtype=F32)
    with np.errstate(divide="ignore", invalid="ignore"):
        for fn, ref in (("log", np.log), ("log1p", np.log1p)):
            y = getattr(sorix.tensor(x), fn)().data
            want = ref(x.astype(np.float64))
            np.testing.assert_array_equal(y, want.astype(F32), err_msg=fn)
        y = sorix.tensor(np.array([-1.0, -2.0, 3e38], F32)).log1p().data
    assert y[0] == -np.inf and np.isnan(y[1]) and ulps(y[2:], np.log1p(3e38)).max() <= 1
