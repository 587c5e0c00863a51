"""Fused backward of elementwise regions (sorix.autograd.fusion, sorix.kernels.fused).

Every graph runs twice: with fusion forced on (``FUSION_THRESHOLD = 1``) and
off (``0``). The gradients must agree to a few ulp, a spy on
``fusion.run`` shows which regions actually ran fused, and the results are
also checked against independent references: closed forms, float64 central
finite differences of sorix's forward, and PyTorch where it is installed.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

import sorix
from sorix import config
from sorix.autograd import fusion
from sorix.kernels import fused
from sorix.kernels.defs import BINARY, UNARY

import naive
from conftest import finite_differences, unary_call
from fusion_helpers import (assert_close, away_from, backprop, chain, check_references,
                            fused_vs_unfused, leaky, set_fusion, torch, torch_grads)
from fusion_helpers import spy  # noqa: F401  (a fixture)


# ---- 1. the reference chain ---------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chain_fused_equals_unfused_closed_form_and_torch(dtype, monkeypatch, spy):
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (5, 7)).astype(dtype)
    w = rng.uniform(-1.5, 1.5, (5, 7)).astype(dtype)
    (gx, gw), regions = fused_vs_unfused(monkeypatch, spy, chain, [x, w])
    # the whole elementwise graph below the sum is one region
    assert len(regions) == 1
    assert sorted(regions[0]) == sorted(["AddBackward", "SigmoidBackward", "MulBackward",
                                         "MulBackward", "TanhBackward"])
    assert regions[0][0] == "AddBackward"
    assert any(key[3] == np.dtype(dtype).char for key in fused._compiled)

    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    t = np.tanh(x64)
    s = 1 / (1 + np.exp(-t * w64))
    closed_x = s * (1 - s) * w64 * (1 - t * t) + 2 * x64
    closed_w = s * (1 - s) * t
    rtol = 2e-6 if dtype == np.float32 else 1e-12
    assert_close(gx, closed_x, rtol, "dx closed form")
    assert_close(gw, closed_w, rtol, "dw closed form")
    if dtype == np.float64:
        check_references(chain, [x, w], [gx, gw])
    elif torch is not None:
        tx, tw = torch_grads(chain, [x, w])
        assert_close(gx, tx, 2e-6, "dx torch float32")
        assert_close(gw, tw, 2e-6, "dw torch float32")


def test_chain_threaded_fused_loop(monkeypatch, spy):
    """The prange build of the loop (PARALLEL_THRESHOLD lowered after the forward)."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, (40, 50))
    w = rng.uniform(-1.5, 1.5, (40, 50))
    set_fusion(monkeypatch, False)
    reference = backprop(chain, [x, w])
    set_fusion(monkeypatch, True)
    lx, lw = sorix.tensor(x, requires_grad=True), sorix.tensor(w, requires_grad=True)
    out = chain(lx, lw)
    monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 64)
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)  # threads even on a busy machine
    out.backward()
    assert len(spy) == 1
    assert any(key[4] for key in fused._compiled), "no threaded fused kernel was built"
    assert_close(lx.grad.data, reference[0], 1e-12)
    assert_close(lw.grad.data, reference[1], 1e-12)


# ---- 2. graph shapes ----------------------------------------------------------------

def test_diamond_shared_intermediate_joins_the_region(monkeypatch, spy):
    x = np.linspace(-1.0, 1.2, 12).reshape(3, 4)

    def fn(x):
        h = x.exp()
        return (h.sin() * h.cos()).sum()  # sum(sin(2 e^x) / 2): d/dx = cos(2 e^x) e^x

    (gx,), regions = fused_vs_unfused(monkeypatch, spy, fn, [x])
    assert len(regions) == 1
    assert sorted(regions[0]) == ["CosBackward", "ExpBackward", "MulBackward", "SinBackward"]
    assert regions[0][-1] == "ExpBackward"  # after both its consumers
    assert_close(gx, np.cos(2 * np.exp(x)) * np.exp(x), 1e-12, "closed form")
    check_references(fn, [x], [gx])


def test_leaf_used_by_several_nodes(monkeypatch, spy):
    x = np.linspace(-1.5, 1.5, 10)

    def fn(x):
        return (x.sin() + x.cos() * x - x.exp() / 3.0 + x * x * x).sum()

    (gx,), regions = fused_vs_unfused(monkeypatch, spy, fn, [x])
    # sin, cos, mul, add, exp, div, sub, mul, mul, add
    assert len(regions) == 1 and len(regions[0]) == 10
    expected = np.cos(x) - np.sin(x) * x + np.cos(x) - np.exp(x) / 3 + 3 * x * x
    assert_close(gx, expected, 1e-12, "closed form")
    check_references(fn, [x], [gx])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parameters_leaky_relu_clamp_relu_abs(dtype, monkeypatch, spy):
    kinks = [0.0, -0.5, 0.7, -0.3]
    x = away_from(np.random.default_rng(2).uniform(-1.5, 1.5, (4, 6)), kinks).astype(dtype)

    def fn(x):
        return (leaky(x, 0.2) * x.clamp(-0.5, 0.7) + x.clamp(min=-0.3).relu()
                - leaky(x * 1.5, 0.05).abs() + x.clamp(max=0.7) * 2.0).sum()

    (gx,), regions = fused_vs_unfused(monkeypatch, spy, fn, [x])
    assert len(regions) == 1 and len(regions[0]) == 13
    v = x.astype(np.float64)
    lr = np.where(v > 0, v, 0.2 * v)
    cl = np.clip(v, -0.5, 0.7)
    lr2 = np.where(v > 0, 1.5 * v, 0.05 * 1.5 * v)
    expected = (np.where(v > 0, 1.0, 0.2) * cl + lr * ((v >= -0.5) & (v <= 0.7))
                + ((v >= -0.3) & (v > 0))
                - np.sign(lr2) * np.where(v > 0, 1.5, 0.05 * 1.5)
                + 2.0 * (v <= 0.7))
    assert_close(gx, expected, 1e-6 if dtype == np.float32 else 1e-12, "closed form")
    if dtype == np.float64:
        check_references(fn, [x], [gx])


def test_parameter_values_are_passed_not_compiled_in(monkeypatch, spy):
    """One region structure with different slopes and bounds: the same kernel, each run
    with its own parameter values."""
    x = away_from(np.linspace(-2, 2, 15), [0.0, -1.0, 1.0, -0.5, 0.5, 0.25])

    def make(slope, low, high):
        return lambda x: (leaky(x, slope).clamp(low, high) * x).sum()

    set_fusion(monkeypatch, True)
    for slope, low, high in [(0.1, -1.0, 1.0), (0.5, -0.5, 0.25)]:
        (g,) = backprop(make(slope, low, high), [x])
        lr = np.where(x > 0, x, slope * x)
        inside = (lr >= low) & (lr <= high)
        expected = np.where(inside, np.where(x > 0, 1.0, slope), 0.0) * x + np.clip(lr, low, high)
        assert_close(g, expected, 1e-12, f"slope {slope}, bounds {low} {high}")
    assert len(spy) == 2 and spy[0] == spy[1]


def test_sub_div_pow_maximum_minimum(monkeypatch, spy):
    rng = np.random.default_rng(3)
    a = rng.uniform(0.5, 2.0, (3, 5))
    b = rng.uniform(-1.5, 1.5, (3, 5))

    def fn(a, b):
        return ((a - b) / (a * a + 1.0) + a ** b + a.maximum(b) - b.minimum(a * 0.5)
                + (3.0 - a) * 2.0 ** b - 1.0 / a + a ** 2.0).sum()

    (ga, gb), regions = fused_vs_unfused(monkeypatch, spy, fn, [a, b])
    assert len(regions) == 1 and len(regions[0]) >= 15
    names = set(regions[0])
    assert {"SubBackward", "DivBackward", "PowBackward", "MaximumBackward",
            "MinimumBackward"} <= names
    check_references(fn, [a, b], [ga, gb])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_size_one_constant_operands(dtype, monkeypatch, spy):
    x = np.linspace(0.3, 2.1, 8).reshape(2, 4).astype(dtype)
    c = np.array([1.5], dtype=dtype)  # a size-1 tensor that needs no gradient

    def fn(x, c):
        return ((x * 2.0) * (3.0 - x) + x * c - c / x + (x - c) ** 2.0).sum()

    (gx, gc), regions = fused_vs_unfused(monkeypatch, spy, fn, [x, c], requires=[True, False])
    assert gc is None
    assert len(regions) == 1 and len(regions[0]) == 10
    v = x.astype(np.float64)
    expected = 2 * (3 - v) - 2 * v + 1.5 + 1.5 / v ** 2 + 2 * (v - 1.5)
    assert_close(gx, expected, 1e-6 if dtype == np.float32 else 1e-12, "closed form")
    if dtype == np.float64:
        check_references(fn, [x, c], [gx, gc], requires=[True, False])


def test_broadcast_operands_that_need_grad_bound_the_region(monkeypatch, spy):
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, (3, 4))
    b = rng.uniform(-1, 1, (4,))    # broadcast along rows, needs a gradient
    c = np.array([0.7])             # size 1, needs a gradient
    w = rng.uniform(-1, 1, (4,))    # broadcast, no gradient

    def fn(x, b, c, w):
        return (((x.tanh() * b).exp() * x) + x * c + (x * w).sin() * x).sum()

    grads, regions = fused_vs_unfused(monkeypatch, spy, fn, [x, b, c, w],
                                      requires=[True, True, True, False])
    assert grads[1].shape == (4,) and grads[2].shape == (1,) and grads[3] is None
    # x * c, x * w and tanh * b each stay outside: their gradients are not of the region's shape
    for region in regions:
        assert len(region) >= 2
    assert sorted(regions[0]) == ["AddBackward", "AddBackward", "ExpBackward", "MulBackward",
                                  "MulBackward", "SinBackward"]
    check_references(fn, [x, b, c, w], grads, requires=[True, True, True, False])


def test_regions_between_matmul_reshape_transpose_and_axis_sums(monkeypatch, spy):
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, (4, 3))
    W = rng.uniform(-1, 1, (3, 5))
    v = rng.uniform(-1, 1, (5, 4))

    def fn(x, W, v):
        h = x @ W
        z = (h.tanh() * h + 0.5).sigmoid()          # region on (4, 5)
        r = z.reshape(20)
        q = r * r.exp() - r                         # region on (20,)
        s = q.reshape(4, 5).sum(axis=1)             # reduced over one axis
        t = z.T                                     # a transposed (non-contiguous) use
        u = (t.exp() * t).sin()                     # region reading non-contiguous arrays
        return (s * s).sum() + (u * v).sum()

    grads, regions = fused_vs_unfused(monkeypatch, spy, fn, [x, W, v],
                                      requires=[True, True, False])
    # q's region (sub, mul, exp), z's (sigmoid, add, mul, tanh), (u * v)'s (mul, sin, mul, exp)
    assert sorted(map(len, regions)) == [3, 4, 4]
    check_references(fn, [x, W, v], grads, requires=[True, True, False])


def test_non_contiguous_incoming_gradient(monkeypatch, spy):
    rng = np.random.default_rng(6)
    x = rng.uniform(-1, 1, (3, 4))
    c = rng.uniform(-1, 1, (4, 3))

    def fn(x, c):
        return ((x.sin() * x).T * c).sum()  # the region below .T gets a transposed gradient

    (gx, _), regions = fused_vs_unfused(monkeypatch, spy, fn, [x, c], requires=[True, False])
    assert regions == [("MulBackward", "SinBackward")]
    assert_close(gx, c.T * (np.cos(x) * x + np.sin(x)), 1e-12, "closed form")


def test_incoming_gradient_broadcast_along_one_axis(monkeypatch, spy):
    """A sum over one axis hands the region a view with one zero stride: not a scalar."""
    rng = np.random.default_rng(10)
    x = rng.uniform(-1, 1, (3, 4))
    v = rng.uniform(-1, 1, (4,))
    u = rng.uniform(-1, 1, (3, 1))

    def fn(x, v, u):
        e = x.exp() * x
        return (e.sum(axis=0) * v).sum() + (e.sum(axis=1, keepdims=True) * u).sum() \
            + e.mean() * 2.0

    (gx, _, _), regions = fused_vs_unfused(monkeypatch, spy, fn, [x, v, u],
                                           requires=[True, False, False])
    # the scalar adds and the mean's product (0-d, one element), then the region below e
    assert regions == [("AddBackward", "AddBackward", "MulBackward"),
                       ("MulBackward", "ExpBackward")]
    assert_close(gx, (v[None, :] + u + 2.0 / 12) * np.exp(x) * (x + 1), 1e-12, "closed form")


@pytest.mark.parametrize("on", [False, True], ids=["unfused", "fused"])
def test_one_leaf_through_nested_adds(on, monkeypatch, spy):
    """x + (x + x): an add hands one gradient array to both its inputs; the leaf's .grad
    must not alias an array that is still to be added into it."""
    set_fusion(monkeypatch, on)
    xv = np.linspace(-1.0, 1.0, 6)
    x = sorix.tensor(xv, requires_grad=True)
    ((x + (x + x)) * 1.0).sum().backward()
    assert len(spy) == int(on)
    np.testing.assert_array_equal(x.grad.data, np.full(6, 3.0))
    x.grad = None
    y = x + (x + x)
    (y * y.sigmoid()).sum().backward()
    s = 1 / (1 + np.exp(-3 * xv))
    assert_close(x.grad.data, 3 * (s + 3 * xv * s * (1 - s)), 1e-12, "closed form")


def test_explicit_gradient_array_is_used_and_not_modified(monkeypatch, spy):
    set_fusion(monkeypatch, True)
    x0 = np.linspace(-1, 1, 6)
    g0 = np.linspace(0.5, 3.0, 6)
    g_keep = g0.copy()
    x = sorix.tensor(x0, requires_grad=True)
    (x.tanh() * x).backward(g0)
    assert len(spy) == 1
    np.testing.assert_array_equal(g0, g_keep)
    assert_close(x.grad.data, g0 * ((1 - np.tanh(x0) ** 2) * x0 + np.tanh(x0)), 1e-12)


def test_long_chain_is_split_at_max_nodes(monkeypatch, spy):
    monkeypatch.setattr(config, "FUSION_MAX_NODES", 3)
    x = np.linspace(-1, 1, 7)

    def fn(x):
        for _ in range(8):
            x = x.sin()
        return x.sum()

    (gx,), regions = fused_vs_unfused(monkeypatch, spy, fn, [x])
    assert [len(r) for r in regions] == [3, 3, 2]
    expected, v = np.ones_like(x), x.copy()
    for _ in range(8):
        expected, v = expected * np.cos(v), np.sin(v)
    assert_close(gx, expected, 1e-12, "chain rule")


def test_below_threshold_nothing_fuses(monkeypatch, spy):
    monkeypatch.setattr(config, "FUSION_THRESHOLD", 36)
    small = backprop(chain, [np.full((5, 7), 0.5), np.full((5, 7), 0.25)])
    assert spy == []
    backprop(chain, [np.full((6, 6), 0.5), np.full((6, 6), 0.25)])
    assert len(spy) == 1
    assert small[0].shape == (5, 7)


# ---- 3. random expression graphs ------------------------------------------------------

#: what an op's argument goes through first, to stay in its domain (positive) or away from
#: overflow (exp of exp ...)
UNARY_DOMAIN = {
    "exp": lambda t: t.tanh(),
    "expm1": lambda t: t.tanh(),
    "log": lambda t: t * t + 1.0,
    "log1p": lambda t: t * t,
    "sqrt": lambda t: t * t + 0.5,
    "reciprocal": lambda t: t * t + 0.5,
}
#: what the operands of a binary op go through first (div: no zero divisor; pow: a positive
#: base, a moderate exponent)
BINARY_DOMAIN = {
    "div": lambda a, b: (a, b * b + 1.0),
    "pow": lambda a, b: (a * a + 0.5, b.tanh()),
}


def _unary_entry(name):
    call, domain = unary_call(name, naive.unary_params(name)), UNARY_DOMAIN.get(name)
    return call if domain is None else lambda t: call(domain(t))


def _binary_entry(name):
    fn, domain = getattr(sorix, name), BINARY_DOMAIN.get(name)
    return fn if domain is None else lambda a, b: fn(*domain(a, b))


#: every op of the definition tables that has a derivative (the others have no backward to
#: fuse), and the operator and scalar-operand forms
UNARY_MENU = {name: _unary_entry(name) for name, op in UNARY.items() if op.derivative is not None}
UNARY_MENU.update(neg_operator=lambda t: -t, scale=lambda t: t * 0.7, rsub=lambda t: 1.5 - t)
BINARY_MENU = {name: _binary_entry(name) for name in BINARY}
BINARY_MENU.update(add_operator=lambda a, b: a + b, mul_operator=lambda a, b: a * b)


@st.composite
def expression_graphs(draw):
    nleaves = draw(st.integers(2, 3))
    requires = draw(st.lists(st.booleans(), min_size=nleaves, max_size=nleaves))
    requires[0] = True
    nops = draw(st.integers(2, 5))
    ops = []
    for k in range(nops):
        available = nleaves + k  # leaves, then earlier results
        if draw(st.booleans()):
            ops.append((draw(st.sampled_from(sorted(UNARY_MENU))),
                        draw(st.integers(0, available - 1))))
        else:
            ops.append((draw(st.sampled_from(sorted(BINARY_MENU))),
                        draw(st.integers(0, available - 1)), draw(st.integers(0, available - 1))))
    # results also summed into the loss on their own: a consumer outside any region
    observed = draw(st.lists(st.integers(0, nops - 1), min_size=1, max_size=2, unique=True))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2 ** 16))
    return nleaves, requires, ops, observed, dtype, seed


def evaluate(ops, observed, leaves):
    """The loss of a drawn graph: each result no op consumed, through ``t * sigmoid(t)``,
    and each observed result, summed separately; the sums added in drawing order."""
    values = list(leaves)
    used = set()
    for name, *args in ops:
        menu = UNARY_MENU if len(args) == 1 else BINARY_MENU
        values.append(menu[name](*[values[i] for i in args]))
        used.update(args)
    terms = []
    for i, v in enumerate(values):
        if i >= len(leaves) and i not in used:
            terms.append((v * v.sigmoid()).sum())
        if i - len(leaves) in observed:
            terms.append(v.sum() * 0.5)
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    assume(out.requires_grad or not sorix.is_grad_enabled())  # (finite differences: no grad)
    return out


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],  # shrinking would compile a kernel a step
          suppress_health_check=[HealthCheck.too_slow])
@given(graph=expression_graphs())
def test_random_expression_graphs_fused_equals_unfused(graph):
    nleaves, requires, ops, observed, dtype, seed = graph
    arrays = [np.random.default_rng(seed + k).uniform(-1.5, 1.5, (2, 3)).astype(dtype)
              for k in range(nleaves)]
    with pytest.MonkeyPatch.context() as mp:
        regions = []
        real = fusion.run

        def run(members, grad):
            regions.append(len(members))
            return real(members, grad)

        mp.setattr(fusion, "run", run)

        def fn(*leaves):
            return evaluate(ops, observed, leaves)

        try:
            fused_vs_unfused(mp, regions, fn, arrays, requires, expect_fused=False)
        except AssertionError as exc:
            # say which side is wrong: float64 finite differences of the same graph
            set_fusion(mp, False)
            unfused = backprop(fn, arrays, requires)
            set_fusion(mp, True)
            fused_grads = backprop(fn, arrays, requires)
            fd = finite_differences(fn, arrays)
            verdict = []
            for name, grads in (("fused", fused_grads), ("unfused", unfused)):
                ok = all(g is None or np.allclose(g, d, rtol=1e-3, atol=1e-3)
                         for g, d in zip(grads, fd))
                verdict.append(f"{name} {'agrees' if ok else 'disagrees'}")
            raise AssertionError(f"{exc}\nfinite differences: {', '.join(verdict)}") from None
