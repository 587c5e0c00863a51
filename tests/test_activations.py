"""The smooth activations and the added maths ops against PyTorch: values, gradients and
dtypes in float32 and float64, the modules, and the numerically hard regions (large
|x|, tiny x) against float64 or closed-form truth."""
import math
import zlib

import numpy as np
import pytest

import sorix
import sorix.nn as nn
import sorix.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-11, atol=1e-13)}

# name -> (sorix call, torch call, input low, input high)
CASES = {
    "softplus": (F.softplus, TF.softplus, -25.0, 25.0),
    "softplus_beta": (lambda t: F.softplus(t, beta=2.0, threshold=5.0),
                      lambda t: TF.softplus(t, beta=2.0, threshold=5.0), -6.0, 6.0),
    "silu": (F.silu, TF.silu, -30.0, 30.0),
    "gelu": (F.gelu, TF.gelu, -6.0, 6.0),
    "gelu_tanh": (lambda t: F.gelu(t, approximate="tanh"),
                  lambda t: TF.gelu(t, approximate="tanh"), -6.0, 6.0),
    "elu": (F.elu, TF.elu, -20.0, 5.0),
    "elu_alpha": (lambda t: F.elu(t, alpha=0.3), lambda t: TF.elu(t, alpha=0.3), -5.0, 5.0),
    "softsign": (F.softsign, TF.softsign, -50.0, 50.0),
    "log1p": (lambda t: t.log1p(), torch.log1p, -0.9, 5.0),
    "expm1": (lambda t: t.expm1(), torch.expm1, -10.0, 10.0),
    "square": (lambda t: t.square(), torch.square, -3.0, 3.0),
    "reciprocal": (lambda t: t.reciprocal(), torch.reciprocal, 0.2, 4.0),
    "erf": (lambda t: t.erf(), torch.erf, -4.0, 4.0),
    "erfc": (lambda t: t.erfc(), torch.erfc, -4.0, 4.0),
    "sorix.log1p": (sorix.log1p, torch.log1p, -0.5, 2.0),
    "sorix.expm1": (sorix.expm1, torch.expm1, -2.0, 2.0),
    "sorix.square": (sorix.square, torch.square, -2.0, 2.0),
    "sorix.reciprocal": (sorix.reciprocal, torch.reciprocal, 0.5, 2.0),
    "module GELU": (nn.GELU(), torch.nn.GELU(), -4.0, 4.0),
    "module GELU tanh": (nn.GELU("tanh"), torch.nn.GELU("tanh"), -4.0, 4.0),
    "module SiLU": (nn.SiLU(), torch.nn.SiLU(), -4.0, 4.0),
    "module Softplus": (nn.Softplus(beta=0.5, threshold=3.0),
                        torch.nn.Softplus(beta=0.5, threshold=3.0), -10.0, 10.0),
    "module ELU": (nn.ELU(alpha=2.0), torch.nn.ELU(alpha=2.0), -4.0, 4.0),
    "module Softsign": (nn.Softsign(), torch.nn.Softsign(), -4.0, 4.0),
}


def _away_from_kinks(x, name):
    """Keep x off the points where the op switches branches (0 for elu, beta x = threshold
    for softplus), where a one-ulp difference picks another branch."""
    kinks = {"elu": [0.0], "elu_alpha": [0.0], "module ELU": [0.0], "softplus": [20.0],
             "softplus_beta": [2.5], "module Softplus": [6.0]}.get(name, [])
    for k in kinks:
        x = np.where(np.abs(x - k) < 1e-3, x + 0.01, x)
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(CASES))
def test_against_torch(name, dtype):
    ours, theirs, low, high = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))  # (str hashes vary per process)
    x = _away_from_kinks(rng.uniform(low, high, (4, 25)), name).astype(dtype)
    g = rng.standard_normal((4, 25)).astype(dtype)
    xs = sorix.tensor(x, requires_grad=True)
    # PyTorch computes the reference in float64 from the same inputs: in float32 its own
    # rounding can be the larger error (gelu's tanh form saturates to a zero gradient
    # near x = -5, where the true one is about -1e-6)
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    ys, yt = ours(xs), theirs(xt)
    assert ys.dtype == dtype and ys.shape == (4, 25)
    np.testing.assert_allclose(ys.data, yt.detach().numpy(), **TOL[dtype])
    ys.backward(sorix.tensor(g))
    yt.backward(torch.tensor(g.astype(np.float64)))
    assert xs.grad.dtype == dtype
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("name", ["softplus", "silu", "gelu", "gelu_tanh", "elu", "softsign"])
def test_second_derivative_against_torch(name):
    ours, theirs, low, high = CASES[name]
    x = _away_from_kinks(np.random.default_rng(7).uniform(low / 4, high / 4, 11), name)
    xs = sorix.tensor(x, requires_grad=True)
    (gs,) = sorix.autograd.grad(ours(xs).sum(), xs, create_graph=True)
    (hs,) = sorix.autograd.grad(gs.sum(), xs)
    xt = torch.tensor(x, requires_grad=True)
    (gt,) = torch.autograd.grad(theirs(xt).sum(), xt, create_graph=True)
    (ht,) = torch.autograd.grad(gt.sum(), xt)
    np.testing.assert_allclose(hs.data, ht.numpy(), rtol=1e-9, atol=1e-12)


# ---- numerically hard regions, against float64 closed forms -------------------------------

def _f32(values):
    return sorix.tensor(np.array(values, np.float32))


def test_softplus_large_and_very_negative_inputs():
    x = np.array([-200.0, -90.0, -30.0, 0.0, 15.0, 19.9, 25.0, 90.0, 1e30], np.float32)
    y = F.softplus(_f32(x)).data
    exact = [math.log1p(math.exp(v)) if v < 700 else v for v in x.astype(np.float64)]
    # no overflow, no lost tail (down to float32's smallest normal number)
    np.testing.assert_allclose(y, exact, rtol=2e-7, atol=np.finfo(np.float32).tiny)
    assert np.all(np.isfinite(y)) and y.dtype == np.float32
    # the tail exp(x) is kept, not rounded to 0 by 1 + exp(x)
    assert F.softplus(_f32([-30.0])).item() == pytest.approx(math.exp(-30.0), rel=1e-6)


def test_log1p_and_expm1_near_zero_keep_every_digit():
    for dtype, rtol in ((np.float32, 1e-6), (np.float64, 1e-15)):
        x = np.array([1e-30, -1e-20, 1e-10, 3e-8, -4e-7], dtype)
        v = x.astype(np.float64)  # Taylor series: the next terms are below 1e-19 relative
        np.testing.assert_allclose(sorix.tensor(x).log1p().data, v - v ** 2 / 2 + v ** 3 / 3,
                                   rtol=rtol)
        np.testing.assert_allclose(sorix.tensor(x).expm1().data, v + v ** 2 / 2 + v ** 3 / 6,
                                   rtol=rtol)


def test_gelu_lower_tail_is_not_cancelled_to_zero():
    # x Phi(x) with Phi(x) = erfc(-x / sqrt 2) / 2: 1 + erf(x / sqrt 2) would give 0 here
    x = np.array([-6.0, -10.0, -20.0, -37.0])
    exact = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
    np.testing.assert_allclose(F.gelu(sorix.tensor(x)).data, exact, rtol=1e-13)
    assert np.all(F.gelu(sorix.tensor(x)).data < 0)
    tail32 = F.gelu(_f32([-8.0, -12.0])).data
    np.testing.assert_allclose(tail32, exact[:0].tolist() + [
        -8.0 * 0.5 * math.erfc(8 / math.sqrt(2)), -12.0 * 0.5 * math.erfc(12 / math.sqrt(2))],
        rtol=1e-5)
    # the tanh form: x sigmoid(2u) keeps its tail too
    u = math.sqrt(2 / math.pi) * (-10.0 + 0.044715 * -1000.0)
    assert F.gelu(sorix.tensor([-10.0]), approximate="tanh").item() == pytest.approx(
        -10.0 / (1 + math.exp(-2 * u)), rel=1e-12)


def test_elu_for_very_negative_and_tiny_inputs():
    x = np.array([-1000.0, -50.0, -1e-12, 1e-12, 3.0])
    alpha = 1.7
    y = F.elu(sorix.tensor(x), alpha).data
    np.testing.assert_allclose(y, [-alpha, alpha * math.expm1(-50.0), alpha * math.expm1(-1e-12),
                                   1e-12, 3.0],
                               rtol=1e-14)
    xs = sorix.tensor(x, requires_grad=True)
    F.elu(xs, alpha).sum().backward()
    np.testing.assert_allclose(xs.grad.data, [0.0, alpha * math.exp(-50.0), alpha, 1.0, 1.0],
                               rtol=1e-12)


def test_limits_at_infinity_and_nan():
    x = sorix.tensor([-np.inf, np.inf, np.nan])
    np.testing.assert_array_equal(F.softsign(x).data, [-1.0, 1.0, np.nan])
    np.testing.assert_array_equal(F.softplus(x).data, [0.0, np.inf, np.nan])
    np.testing.assert_array_equal(F.elu(x).data, [-1.0, np.inf, np.nan])
    np.testing.assert_array_equal(x.expm1().data, [-1.0, np.inf, np.nan])


def test_float32_stays_float32_and_integers_become_float32():
    x32 = sorix.tensor(np.linspace(-2, 2, 7, dtype=np.float32), requires_grad=True)
    for fn in (F.gelu, F.silu, F.softsign, lambda t: F.softplus(t, 2.0), lambda t: F.elu(t, 0.5),
               lambda t: t.log1p(), lambda t: t.expm1(), lambda t: t.reciprocal(),
               lambda t: t.square()):
        y = fn(x32)
        assert y.dtype == sorix.float32
    ints = sorix.tensor([1, 2, 3])
    assert F.gelu(ints).dtype == sorix.float32
    assert ints.square().dtype == sorix.int64  # as torch.square keeps integers
    assert ints.square().tolist() == [1, 4, 9]


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int16, np.uint8])
@pytest.mark.parametrize("name", ["neg", "abs", "relu", "floor", "ceil", "round", "sign"])
def test_exact_ops_keep_integers_as_torch_does(name, dtype):
    """-x, |x|, max(x, 0) and the rounding ops are exact on integers: they keep the dtype
    and every digit (through float32, 2**24 + 1 would lose its last one)."""
    if name == "neg" and dtype == np.uint8:
        pytest.skip("torch refuses neg on uint8 without wrapping; NumPy wraps")
    big = {np.int64: 2**24 + 1, np.int32: 2**24 + 1, np.int16: 30001, np.uint8: 201}[dtype]
    values = np.array([big, 3, 0, 7] if dtype == np.uint8 else [big, -3, 0, 7], dtype)
    got = getattr(sorix.tensor(values), name)()
    want = getattr(torch.from_numpy(values), name)()
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    np.testing.assert_array_equal(got.data, want.numpy())


def test_functions_on_plain_arrays_return_arrays():
    a = np.array([0.25, 1.0])
    np.testing.assert_allclose(sorix.log1p(a), np.log1p(a))
    np.testing.assert_allclose(sorix.expm1(a), np.expm1(a))
    np.testing.assert_allclose(sorix.reciprocal(a), 1 / a)
    np.testing.assert_allclose(sorix.square(a), a * a)
    np.testing.assert_allclose(sorix.erf(a), [math.erf(v) for v in a], rtol=1e-15)
    np.testing.assert_allclose(sorix.erfc(a), [math.erfc(v) for v in a], rtol=1e-15)


def test_bad_arguments_name_the_problem():
    x = sorix.tensor([1.0])
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("erf")
    with pytest.raises(ValueError, match="beta"):
        nn.Softplus(beta=0)
    with pytest.raises(TypeError, match="alpha"):
        F.elu(x, alpha="big")


def test_module_reprs_and_no_parameters():
    assert repr(nn.GELU()) == "GELU()"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.Softplus(2, 10)) == "Softplus(beta=2.0, threshold=10.0)"
    assert repr(nn.ELU(0.5)) == "ELU(alpha=0.5)"
    for m in (nn.GELU(), nn.SiLU(), nn.Softplus(), nn.ELU(), nn.Softsign()):
        assert list(m.parameters()) == [] and m.state_dict() == {}
    model = nn.Sequential(nn.Linear(3, 4), nn.SiLU(), nn.Linear(4, 1))
    assert model(sorix.randn(2, 3)).shape == (2, 1)


@pytest.mark.parametrize("name, kwargs", [("elu", {}), ("elu", {"alpha": 2.0}),
                                          ("selu", {}), ("celu", {"alpha": 0.5})])
def test_second_derivative_at_and_around_the_kink_is_torchs(name, kwargs):
    # at exactly 0 PyTorch takes the negative branch's first derivative and a zero second
    x = np.array([0.0, -0.0, -1e-9, 1e-9, -2.0, 3.0, -800.0])
    xs = sorix.tensor(x, requires_grad=True)
    (gs,) = sorix.autograd.grad(getattr(F, name)(xs, **kwargs).sum(), xs, create_graph=True)
    (hs,) = sorix.autograd.grad(gs.sum(), xs)
    xt = torch.tensor(x, requires_grad=True)
    (gt,) = torch.autograd.grad(getattr(torch.nn.functional, name)(xt, **kwargs).sum(), xt,
                                create_graph=True)
    (ht,) = torch.autograd.grad(gt.sum(), xt)
    np.testing.assert_allclose(gs.data, gt.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(hs.data, ht.numpy(), rtol=1e-14)
