"""sorix.kernels.elementwise and sorix.kernels.optim against plain-NumPy references.

Every op of the definition tables is checked (a new op without a reference
in tests/naive.py fails ``test_every_op_has_a_reference``), in float32 and
float64, for empty, tiny and medium sizes, non-contiguous and broadcast
operands, and NaN/inf inputs; the threaded builds, for the ops of defs.py's own
table (see THREADED_UNARY).
"""
import numpy as np
import pytest

from sorix import config
from sorix.kernels import build
from sorix.kernels import elementwise as K
from sorix.kernels import optim as KO
from sorix.kernels import defs_activations, defs_maths
from sorix.kernels.defs import BINARY, UNARY

import naive
from conftest import BROADCAST_PAIRS, DTYPES, SPECIAL_VALUES, dtype_scalars, rand
from naive import unary_params as params

SIZES = [0, 1, 7, 1000]
#: with the threshold lowered to 64 (fixture ``threaded``), this size runs threaded
THREADED_SIZE = 200

UNARY_NAMES = sorted(UNARY)
DIFF_UNARY = sorted(n for n, op in UNARY.items() if op.derivative is not None)
BINARY_NAMES = sorted(BINARY)
#: The threaded loops are the same templates for every op (only the scalar definition
#: bound into them differs, and the serial tests check every definition in both dtypes),
#: and each threaded build takes a second or two to compile: they are built for the ops
#: of defs.py's own table, not for those of its companions defs_maths and defs_activations.
_COMPANIONS = {op.name for op in defs_maths.UNARY + defs_activations.UNARY + defs_maths.BINARY}
THREADED_UNARY = [n for n in UNARY_NAMES if n not in _COMPANIONS]
THREADED_BINARY = [n for n in BINARY_NAMES if n not in _COMPANIONS]
NEEDS = [(True, True), (True, False), (False, True)]


def one_dtype_each(names, both=()):
    """``(name, dtype)`` with the dtypes taken in turn: each op's threaded builds in one
    dtype (each costs a second or two to compile), both dtypes across the ops, and both
    for the ops in ``both``; the serial builds are checked in both."""
    return [pytest.param(name, dtype, id=f"{name}-{dtype.__name__}")
            for k, name in enumerate(names) for j, dtype in enumerate(DTYPES)
            if name in both or j == k % len(DTYPES)]


def tol(dtype):
    if np.dtype(dtype) == np.float32:
        return dict(rtol=1e-5, atol=1e-6)
    return dict(rtol=1e-12, atol=1e-13)


def check(actual, expected, dtype):
    assert isinstance(actual, np.ndarray)
    assert actual.dtype == np.dtype(dtype), f"dtype {actual.dtype}, expected {np.dtype(dtype)}"
    assert actual.shape == np.shape(expected), f"shape {actual.shape} vs {np.shape(expected)}"
    np.testing.assert_allclose(actual, np.asarray(expected, dtype=dtype), equal_nan=True,
                               **tol(dtype))


def check_opt(actual, expected, dtype):
    """Optimizer state after a few steps: rounding errors scale with the largest value."""
    scale = float(np.max(np.abs(expected))) if np.size(expected) else 1.0
    t = tol(dtype)
    assert actual.dtype == np.dtype(dtype)
    np.testing.assert_allclose(actual, expected, rtol=t["rtol"], atol=t["rtol"] * max(scale, 1.0))


@pytest.fixture
def threaded(monkeypatch):
    """Lower the threading threshold so THREADED_SIZE arrays take the parallel kernels."""
    monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 64)
    monkeypatch.setattr(config, "OPTIMIZER_PARALLEL_THRESHOLDS",
                        dict.fromkeys(config.OPTIMIZER_PARALLEL_THRESHOLDS, 64))
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)  # threads even on a busy machine
    assert THREADED_SIZE >= config.PARALLEL_THRESHOLD


def assert_threaded_kernel_ran(name, dtype):
    """The lowered threshold really selected a threaded build (skipped if the builder's
    internal cache layout changes)."""
    keys = getattr(build, "_kernel_cache", None)
    if not isinstance(keys, dict) or not all(isinstance(k, tuple) and len(k) == 4 for k in keys):
        return
    assert any(k[1] == name and k[2] == np.dtype(dtype) and k[3] for k in keys)


# ---- coverage of the tables ---------------------------------------------------

def test_every_op_has_a_reference():
    assert set(UNARY) == set(naive.UNARY)
    assert set(BINARY) == set(naive.BINARY)
    for name, op in UNARY.items():
        assert (op.derivative is None) == (naive.UNARY[name][1] is None), name
        assert op.nparams == len(naive.UNARY_PARAMS.get(name, ())), name


# ---- unary ------------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY_NAMES)
def test_unary(name, dtype, size, rng):
    x = rand(rng, size, dtype)
    check(K.unary(name, x, params(name)), naive.UNARY[name][0](x, *params(name)), dtype)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", DIFF_UNARY)
def test_unary_grad(name, dtype, size, rng):
    x = rand(rng, size, dtype)
    if name in ("log", "sqrt"):
        x = np.abs(x) + dtype(0.1)
    g = rand(rng, size, dtype)
    forward, derivative = naive.UNARY[name]
    y = forward(x, *params(name))
    check(K.unary_grad(name, g, x, y, params(name)), g * derivative(x, *params(name)), dtype)


# float32 exp, tanh and sigmoid have loops of their own (vectorised, no libm call)
@pytest.mark.parametrize("name, dtype", one_dtype_each(THREADED_UNARY,
                                                       both=("exp", "tanh", "sigmoid")))
def test_unary_threaded(name, dtype, rng, threaded):
    x = rand(rng, THREADED_SIZE, dtype)
    forward, derivative = naive.UNARY[name]
    check(K.unary(name, x, params(name)), forward(x, *params(name)), dtype)
    if derivative is not None:
        g = rand(rng, THREADED_SIZE, dtype)
        y = forward(x, *params(name))
        check(K.unary_grad(name, g, x, y, params(name)), g * derivative(x, *params(name)), dtype)
    assert_threaded_kernel_ran(name, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY_NAMES)
def test_unary_special_values(name, dtype):
    x = np.array(SPECIAL_VALUES, dtype=dtype)
    forward, derivative = naive.UNARY[name]
    check(K.unary(name, x, params(name)), forward(x, *params(name)), dtype)
    if derivative is not None:
        g = np.ones_like(x)
        y = forward(x, *params(name))
        check(K.unary_grad(name, g, x, y, params(name)), derivative(x, *params(name)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY_NAMES)
def test_unary_non_contiguous(name, dtype, rng):
    base = rand(rng, (6, 10), dtype)
    forward, derivative = naive.UNARY[name]
    for x in (base[:, ::3], base.T, base[::2, 1::2], base.reshape(-1)[::7]):
        assert not x.flags.c_contiguous
        check(K.unary(name, x, params(name)), forward(x, *params(name)), dtype)
        if derivative is not None:
            g = rand(rng, x.shape, dtype).T.copy().T  # a non-contiguous gradient too
            y = forward(x, *params(name))
            check(K.unary_grad(name, g, x, y, params(name)), g * derivative(x, *params(name)),
                  dtype)


# float32 kernels against the float64 truth at the same (float32) points, over wide ranges
ACCURACY_RANGES = {"exp": (-87.0, 88.0), "sin": (-100.0, 100.0), "cos": (-100.0, 100.0),
                   "tanh": (-20.0, 20.0), "sigmoid": (-80.0, 80.0), "log": None, "sqrt": None,
                   "log1p": None, "expm1": (-80.0, 88.0)}


@pytest.mark.parametrize("name", sorted(ACCURACY_RANGES))
def test_float32_accuracy(name, rng):
    span = ACCURACY_RANGES[name]
    if span is None:  # positive domain: many decades
        x = (10.0 ** rng.uniform(-30, 30, 20000)).astype(np.float32)
    else:
        x = rng.uniform(*span, 20000).astype(np.float32)
    x = np.concatenate([x, np.linspace(-4, 4, 8001, dtype=np.float32)])
    if span is None:
        x = np.abs(x) + np.float32(1e-30)
    forward, derivative = naive.UNARY[name]
    truth = forward(x.astype(np.float64))
    y = K.unary(name, x)
    np.testing.assert_allclose(y, truth, rtol=1e-6, atol=np.finfo(np.float32).tiny)
    # the derivative from y: absolute error of a few ulp of 1 where it cancels (1 - y^2)
    g = K.unary_grad(name, np.ones_like(x), x, y)
    np.testing.assert_allclose(g, derivative(x.astype(np.float64)), rtol=1e-5, atol=1e-6)


def test_unary_2d_shape_kept(rng):
    x = rand(rng, (3, 4, 5), np.float64)
    out = K.unary("exp", x)
    assert out.shape == (3, 4, 5)
    np.testing.assert_allclose(out, np.exp(x), rtol=1e-12)


def test_leaky_relu_and_clamp_parameters(rng):
    x = rand(rng, 50, np.float64)
    for slope in (0.0, 0.01, 0.5, 2.0):
        np.testing.assert_allclose(K.unary("leaky_relu", x, (slope,)), np.where(x > 0, x, slope * x))
        np.testing.assert_allclose(K.unary_grad("leaky_relu", np.ones_like(x), x, x, (slope,)),
                                   np.where(x > 0, 1.0, slope))
    # one-sided clamps (the tensor layer passes +-inf for a missing bound)
    np.testing.assert_allclose(K.unary("clamp", x, (-np.inf, 0.5)), np.minimum(x, 0.5))
    np.testing.assert_allclose(K.unary("clamp", x, (-0.5, np.inf)), np.maximum(x, -0.5))
    # gradient passes at the bounds themselves
    b = np.array([-1.0, -0.999, 0.0, 1.0, 1.001])
    np.testing.assert_array_equal(K.unary_grad("clamp", np.ones(5), b, b, (-1.0, 1.0)),
                                  [1, 1, 1, 1, 0])


def test_relu_nan_and_inf():
    x = np.array([np.nan, -np.inf, np.inf, -1.0, 0.0, 2.0])
    out = K.unary("relu", x)
    assert np.isnan(out[0])
    np.testing.assert_array_equal(out[1:], [0.0, np.inf, 0.0, 0.0, 2.0])


def test_round_half_to_even():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5], np.float32)
    np.testing.assert_array_equal(K.unary("round", x), [-2, -2, -0, 0, 2, 2, 4])


def test_floor_ceil_keep_large_and_special_values():
    x = np.array([1e20, -1e20, 3e38, np.inf, -np.inf, np.nan, -0.5, 2.5])
    np.testing.assert_array_equal(K.unary("floor", x), np.floor(x))
    np.testing.assert_array_equal(K.unary("ceil", x), np.ceil(x))
    x32 = x.astype(np.float32)
    np.testing.assert_array_equal(K.unary("floor", x32), np.floor(x32))
    np.testing.assert_array_equal(K.unary("ceil", x32), np.ceil(x32))


# ---- binary ------------------------------------------------------------------------

def binary_inputs(rng, name, sa, sb, dtype):
    a = rand(rng, sa, dtype)
    b = rand(rng, sb, dtype)
    if name == "pow":
        a = np.abs(a) + dtype(0.1)
    if name == "div":
        b = np.where(np.abs(b) < 0.1, dtype(0.5), b).astype(dtype)
    if name in ("maximum", "minimum") and a.size and b.size:
        # a few exact ties (where the gradient is shared)
        a.reshape(-1)[0] = b.reshape(-1)[0]
    return a, b


def expected_binary_grads(name, g, a, b):
    _, da, db = naive.BINARY[name]
    shape = g.shape
    a_full = np.broadcast_to(a, shape)
    b_full = np.broadcast_to(b, shape)
    return g * da(a_full, b_full), g * db(a_full, b_full)


def check_binary(name, a, b, dtype, rng, needs=NEEDS):
    forward = naive.BINARY[name][0]
    y = K.binary(name, a, b)
    check(y, forward(a, b), dtype)
    g = rand(rng, y.shape, dtype)
    ea, eb = expected_binary_grads(name, g, a, b)
    for need_a, need_b in needs:
        ga, gb = K.binary_grad(name, g, a, b, y, need_a, need_b)
        if need_a:
            check(ga, ea, dtype)
        else:
            assert ga is None
        if need_b:
            check(gb, eb, dtype)
        else:
            assert gb is None


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BINARY_NAMES)
def test_binary_same_shape(name, dtype, size, rng):
    a, b = binary_inputs(rng, name, size, size, dtype)
    check_binary(name, a, b, dtype, rng)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BINARY_NAMES)
def test_binary_unrestricted_inputs(name, dtype, rng):
    """Random signs everywhere: negative bases, zero divisors ... give what NumPy gives."""
    a = rand(rng, 300, dtype)
    b = rand(rng, 300, dtype)
    b[:5] = 0
    a[5:10] = 0
    b[10:20] = np.round(b[10:20])  # integer exponents of negative bases
    check_binary(name, a, b, dtype, rng)


@pytest.mark.parametrize("pair", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BINARY_NAMES)
def test_binary_broadcast(name, dtype, pair, rng):
    a, b = binary_inputs(rng, name, pair[0], pair[1], dtype)
    check_binary(name, a, b, dtype, rng)


@pytest.mark.parametrize("name, dtype", one_dtype_each(THREADED_BINARY, both=("mul",)))
def test_binary_threaded(name, dtype, rng, threaded):
    # Every threaded template runs for mul, in both dtypes; the other ops run their
    # one-gradient variants serially only.
    needs = NEEDS if name == "mul" else NEEDS[:1]
    for sa, sb in (((THREADED_SIZE,), (THREADED_SIZE,)), ((THREADED_SIZE,), (1,)),
                   ((1,), (THREADED_SIZE,)), ((4, 50), (50,)), ((50,), (4, 50)),
                   ((50, 4), (50, 1)), ((50, 1), (50, 4))):
        a, b = binary_inputs(rng, name, sa, sb, dtype)
        check_binary(name, a, b, dtype, rng, needs)
    assert_threaded_kernel_ran(name, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BINARY_NAMES)
def test_binary_non_contiguous(name, dtype, rng):
    base_a = rand(rng, (6, 8), dtype)
    base_b = rand(rng, (8, 6), dtype)
    if name == "pow":
        base_a = np.abs(base_a) + dtype(0.1)
    if name == "div":
        base_b = np.where(np.abs(base_b) < 0.1, dtype(0.5), base_b).astype(dtype)
    cases = [
        (base_a[:, ::2], base_b.T[:, ::2]),          # both strided, equal shapes
        (base_a[::2], base_b[:, 0]),                 # strided with a broadcast column
        (base_a.T, base_b[:6, 2]),                   # transpose with a strided broadcast vector
        (base_a[1::2, 3], base_b[0, 0:1]),           # strided with a size-1 operand
        (base_a[0, 0:1], base_b[::3, 1::2]),         # size-1 operand with a strided one
    ]
    for a, b in cases:
        check_binary(name, a, b, dtype, rng)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BINARY_NAMES)
def test_binary_special_values(name, dtype, rng):
    s = np.array(SPECIAL_VALUES, dtype=dtype)
    a, b = (m.reshape(-1).copy() for m in np.meshgrid(s, s, indexing="ij"))
    check_binary(name, a, b, dtype, rng)
    # broadcast: the special values against a size-1 operand, both ways
    for v in (np.nan, np.inf, 0.0, -1.0):
        one = np.array([v], dtype)
        check_binary(name, s, one, dtype, rng)
        check_binary(name, one, s, dtype, rng)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_ties_share_gradient(name):
    a = np.array([1.0, 2.0, 3.0, np.nan, 1.0])
    b = np.array([1.0, 1.0, 4.0, 1.0, np.nan])
    y = K.binary(name, a, b)
    ga, gb = K.binary_grad(name, np.ones(5), a, b, y, True, True)
    if name == "maximum":
        np.testing.assert_array_equal(ga, [0.5, 1, 0, 1, 1])
        np.testing.assert_array_equal(gb, [0.5, 0, 1, 1, 1])
    else:
        np.testing.assert_array_equal(ga, [0.5, 0, 1, 1, 1])
        np.testing.assert_array_equal(gb, [0.5, 1, 0, 1, 1])


def test_pow_special_derivatives():
    a = np.array([0.0, 0.0, 0.0, 2.0, -2.0])
    b = np.array([0.0, 2.0, -1.0, 0.0, 2.0])
    y = K.binary("pow", a, b)
    np.testing.assert_array_equal(y, [1, 0, np.inf, 1, 4])
    ga, gb = K.binary_grad("pow", np.ones(5), a, b, y, True, True)
    # d/da = b a^(b-1), zero where b == 0
    np.testing.assert_array_equal(ga, [0, 0, -np.inf, 0, -4])
    # d/db = a^b log a, zero where a == 0 and b >= 0
    np.testing.assert_array_equal(gb[:2], [0, 0])
    assert gb[2] == -np.inf
    assert gb[3] == np.log(2.0)
    assert np.isnan(gb[4])


def test_binary_broadcast_error_names_both_shapes():
    with pytest.raises(ValueError) as info:
        K.binary("add", np.ones((3, 4)), np.ones(5))
    assert "(3, 4)" in str(info.value) and "(5,)" in str(info.value)


@pytest.mark.parametrize("name", BINARY_NAMES)
def test_binary_other_dtypes_use_numpy(name):
    """Integer and mixed-dtype operands go through each op's NumPy reference."""
    a = np.array([1, 2, 3], np.int64)
    b = np.array([2, 1, 2], np.int64)
    out = K.binary(name, a, b)
    np.testing.assert_array_equal(out, naive.BINARY[name][0](a, b))
    a32, b64 = a.astype(np.float32), b.astype(np.float64)
    np.testing.assert_allclose(K.binary(name, a32, b64), naive.BINARY[name][0](a32, b64))


@pytest.mark.parametrize("name", ["neg", "abs", "sign", "exp", "relu"])
def test_unary_other_dtypes(name):
    x = np.array([-2, 0, 3], np.int64)
    out = K.unary(name, x, params(name))
    np.testing.assert_allclose(out, naive.UNARY[name][0](x.astype(np.float64)), rtol=1e-6)


# ---- optimizer update kernels -------------------------------------------------------

# the optimizer kernels hand out chunks of KO.CHUNK elements: the last size spans two
# whole chunks and a ragged tail
OPT_SIZES = [7, THREADED_SIZE, 2 * KO.CHUNK + 5]


SGD_CONFIGS = [
    dict(),
    dict(weight_decay=0.1),
    dict(momentum=0.9),
    dict(momentum=0.9, dampening=0.3, weight_decay=0.05),
    dict(momentum=0.8, nesterov=True),
    dict(momentum=0.5, maximize=True),
]


@pytest.mark.parametrize("size", OPT_SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", SGD_CONFIGS, ids=str)
def test_sgd_kernel(cfg, dtype, size, rng, threaded):
    lr = 0.1
    momentum = cfg.get("momentum", 0.0)
    p = rand(rng, size, dtype)
    ref_p, ref_buf = p.astype(np.float64), None
    buf = np.zeros(size, dtype) if momentum else KO.EMPTY[np.dtype(dtype)]
    for step in range(3):
        g = rand(rng, size, dtype)
        KO.run(KO.sgd, p, g, buf, *dtype_scalars(dtype, lr, cfg.get("weight_decay", 0.0), momentum,
                                                 1 - cfg.get("dampening", 0.0)),
               cfg.get("nesterov", False), cfg.get("maximize", False), step == 0)
        ref_p, ref_buf = naive.sgd_step(ref_p, g.astype(np.float64), ref_buf, lr,
                                        first=step == 0, **cfg)
        check_opt(p, ref_p, dtype)
        if momentum:
            check_opt(buf, ref_buf, dtype)
    from sorix.kernels import variants
    assert (KO.sgd, size >= config.OPTIMIZER_PARALLEL_THRESHOLDS["sgd"]) in variants._compiled


RMSPROP_CONFIGS = [
    dict(),
    dict(alpha=0.9, eps=1e-6),
    dict(weight_decay=0.1),
    dict(momentum=0.9),
    dict(centered=True),
    dict(centered=True, momentum=0.5, weight_decay=0.01, maximize=True),
]


@pytest.mark.parametrize("size", OPT_SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", RMSPROP_CONFIGS, ids=str)
def test_rmsprop_kernel(cfg, dtype, size, rng, threaded):
    lr = 0.01
    alpha = cfg.get("alpha", 0.99)
    eps = cfg.get("eps", 1e-8)
    momentum = cfg.get("momentum", 0.0)
    centered = cfg.get("centered", False)
    empty = KO.EMPTY[np.dtype(dtype)]
    p = rand(rng, size, dtype)
    square_avg = np.zeros(size, dtype)
    grad_avg = np.zeros(size, dtype) if centered else empty
    buf = np.zeros(size, dtype) if momentum else empty
    ref = [p.astype(np.float64), np.zeros(size), np.zeros(size), np.zeros(size)]
    for _ in range(3):
        g = rand(rng, size, dtype)
        KO.run(KO.rmsprop, p, g, square_avg, grad_avg, buf,
               *dtype_scalars(dtype, lr, alpha, 1 - alpha, eps, cfg.get("weight_decay", 0.0),
                              momentum),
               cfg.get("maximize", False))
        ref = list(naive.rmsprop_step(ref[0], g.astype(np.float64), ref[1], ref[2], ref[3], lr,
                                      **cfg))
        check_opt(p, ref[0], dtype)
        check_opt(square_avg, ref[1], dtype)
        if centered:
            check_opt(grad_avg, ref[2], dtype)
        if momentum:
            check_opt(buf, ref[3], dtype)


ADAM_CONFIGS = [
    dict(),
    dict(beta1=0.8, beta2=0.99, eps=1e-6),
    dict(weight_decay=0.1),
    dict(weight_decay=0.1, decoupled=True),
    dict(amsgrad=True),
    dict(amsgrad=True, maximize=True, weight_decay=0.01, decoupled=True),
]


@pytest.mark.parametrize("size", OPT_SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", ADAM_CONFIGS, ids=str)
def test_adam_kernel(cfg, dtype, size, rng, threaded):
    lr = 0.01
    beta1, beta2 = cfg.get("beta1", 0.9), cfg.get("beta2", 0.999)
    wd = cfg.get("weight_decay", 0.0)
    decoupled = cfg.get("decoupled", False)
    amsgrad = cfg.get("amsgrad", False)
    p = rand(rng, size, dtype)
    exp_avg, exp_avg_sq = np.zeros(size, dtype), np.zeros(size, dtype)
    max_sq = np.zeros(size, dtype) if amsgrad else KO.EMPTY[np.dtype(dtype)]
    ref = [p.astype(np.float64), np.zeros(size), np.zeros(size), np.zeros(size)]
    for step in range(1, 4):
        # amsgrad only matters when the second moment shrinks: big gradients first
        g = rand(rng, size, dtype) * dtype(4.0 / step)
        step_size = lr / (1 - beta1 ** step)
        bc2_sqrt = np.sqrt(1 - beta2 ** step)
        KO.run(KO.adam, p, g, exp_avg, exp_avg_sq, max_sq,
               *dtype_scalars(dtype, step_size, 1 - beta1, beta2, 1 - beta2, cfg.get("eps", 1e-8),
                              0.0 if decoupled else wd, 1 - lr * wd if decoupled else 1.0,
                              bc2_sqrt),
               cfg.get("maximize", False))
        ref = list(naive.adam_step(ref[0], g.astype(np.float64), ref[1], ref[2], ref[3], step, lr,
                                   **cfg))
        check_opt(p, ref[0], dtype)
        check_opt(exp_avg, ref[1], dtype)
        check_opt(exp_avg_sq, ref[2], dtype)
        if amsgrad:
            check_opt(max_sq, ref[3], dtype)
