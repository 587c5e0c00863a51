"""The maths, activations, comparisons and tests added beside the core ops, against
PyTorch: values, dtypes and gradients (first and second order), the modules, their
kinks and special values, and the integer rules of %, // and fmod."""
import numpy as np
import pytest

import sorix
import sorix.nn as nn
import sorix.nn.functional as F
from conftest import against_torch

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=3e-5, atol=3e-6), np.float64: dict(rtol=1e-11, atol=1e-13)}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}

# name -> (sorix call, torch call, input low, input high)
CASES = {
    "tan": (lambda t: t.tan(), torch.tan, -1.4, 1.4),
    "sinh": (sorix.sinh, torch.sinh, -5.0, 5.0),
    "cosh": (lambda t: t.cosh(), torch.cosh, -5.0, 5.0),
    "asin": (sorix.arcsin, torch.asin, -0.95, 0.95),
    "acos": (lambda t: t.acos(), torch.acos, -0.95, 0.95),
    "atan": (sorix.atan, torch.atan, -10.0, 10.0),
    "asinh": (lambda t: t.arcsinh(), torch.asinh, -10.0, 10.0),
    "acosh": (sorix.acosh, torch.acosh, 1.05, 10.0),
    "atanh": (lambda t: t.atanh(), torch.atanh, -0.95, 0.95),
    "log2": (sorix.log2, torch.log2, 0.01, 100.0),
    "log10": (lambda t: t.log10(), torch.log10, 0.01, 100.0),
    "exp2": (sorix.exp2, torch.exp2, -20.0, 20.0),
    "rsqrt": (lambda t: t.rsqrt(), torch.rsqrt, 0.01, 100.0),
    "frac": (sorix.frac, torch.frac, -5.0, 5.0),
    "hardtanh": (lambda t: F.hardtanh(t, -0.5, 2.0), lambda t: TF.hardtanh(t, -0.5, 2.0),
                 -4.0, 4.0),
    "relu6": (F.relu6, TF.relu6, -3.0, 9.0),
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid, -5.0, 5.0),
    "hardswish": (F.hardswish, TF.hardswish, -5.0, 5.0),
    "softshrink": (lambda t: F.softshrink(t, 0.7), lambda t: TF.softshrink(t, 0.7), -3.0, 3.0),
    "hardshrink": (F.hardshrink, TF.hardshrink, -3.0, 3.0),
    "threshold": (lambda t: F.threshold(t, 0.3, -7.0), lambda t: TF.threshold(t, 0.3, -7.0),
                  -3.0, 3.0),
    "mish": (F.mish, TF.mish, -30.0, 30.0),
    "selu": (F.selu, TF.selu, -10.0, 10.0),
    "celu": (lambda t: F.celu(t, 0.6), lambda t: TF.celu(t, 0.6), -10.0, 10.0),
    "logsigmoid": (F.logsigmoid, TF.logsigmoid, -40.0, 40.0),
    "tanhshrink": (F.tanhshrink, TF.tanhshrink, -4.0, 4.0),
}


def _draw(low, high, dtype, shape=(7, 9), seed=0):
    x = np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)
    return x


#: PyTorch computes these in float64 with float32 constants (celu's 1/alpha, hardsigmoid's
#: 1/6), so its float64 gradients are only float32-accurate there; sorix's are exact
FLOAT32_CONSTANTS = {"celu", "hardsigmoid"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(CASES))
def test_unary_against_torch(name, dtype):
    s_fn, t_fn, low, high = CASES[name]
    tol = TOL[np.float32] if name in FLOAT32_CONSTANTS else TOL[dtype]
    against_torch(s_fn, t_fn, [_draw(low, high, dtype)], dtype, tol)


def test_exact_where_torch_uses_float32_constants():
    x = np.array([-2.0, -0.5, -1e-3, 0.4])
    xs = sorix.tensor(x, requires_grad=True)
    F.celu(xs, 0.6).sum().backward()
    np.testing.assert_allclose(xs.grad.data, np.where(x <= 0, np.exp(x / 0.6), 1.0),
                               rtol=1e-15)
    xs = sorix.tensor(x, requires_grad=True)
    F.hardsigmoid(xs).sum().backward()
    np.testing.assert_allclose(xs.grad.data, np.full(4, 1 / 6), rtol=1e-15)


#: piecewise linear: the second derivative is 0 (PyTorch has none for hardsigmoid)
LINEAR_PIECES = {"hardtanh", "relu6", "hardsigmoid", "softshrink", "hardshrink", "threshold",
                 "frac"}


@pytest.mark.parametrize("name", sorted(LINEAR_PIECES))
def test_piecewise_linear_second_derivative_is_zero(name):
    s_fn, _, low, high = CASES[name]
    xs = sorix.tensor(_draw(low, high, np.float64, (11,), seed=3), requires_grad=True)
    (gs,) = sorix.autograd.grad(s_fn(xs).sum(), xs, create_graph=True)
    (hs,) = sorix.autograd.grad((gs * gs).sum(), xs, allow_unused=True)
    assert hs is None or not np.any(hs.data)


@pytest.mark.parametrize("name", sorted(set(CASES) - LINEAR_PIECES))
def test_second_derivatives_against_torch(name):
    s_fn, t_fn, low, high = CASES[name]
    x = _draw(low, high, np.float64, (11,), seed=3)
    xs = sorix.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    (gs,) = sorix.autograd.grad(s_fn(xs).sum(), xs, create_graph=True)
    (gt,) = torch.autograd.grad(t_fn(xt).sum(), xt, create_graph=True)
    rtol = 1e-6 if name in FLOAT32_CONSTANTS else 1e-10
    np.testing.assert_allclose(gs.data, gt.detach().numpy(), rtol=rtol, atol=1e-12)
    (hs,) = sorix.autograd.grad((gs * gs).sum(), xs)
    (ht,) = torch.autograd.grad((gt * gt).sum(), xt)
    np.testing.assert_allclose(hs.data, ht.numpy(), rtol=rtol * 10, atol=1e-11)


KINKS = np.array([np.nan, np.inf, -np.inf, -3.0, 3.0, -0.5, 0.5, 0.0, -1.0, 1.0, 6.0, -0.75,
                  1.25, 0.3, -2.0, 1e30, -1e30], np.float64)
PIECEWISE = ["hardtanh", "relu6", "hardsigmoid", "hardswish", "softshrink", "hardshrink",
             "threshold", "mish", "selu", "celu", "logsigmoid"]


@pytest.mark.parametrize("name", PIECEWISE)
def test_kinks_and_special_values_as_torch(name):
    # at the kinks and the infinities: PyTorch's value and gradient, exactly. (At NaN only
    # the value: PyTorch's gradient there differs between its vectorised and scalar loops,
    # so it depends on the tensor's length.)
    s_fn, t_fn, _, _ = CASES[name]
    xs = sorix.tensor(KINKS, requires_grad=True)
    xt = torch.tensor(KINKS, requires_grad=True)
    ys, yt = s_fn(xs), t_fn(xt)
    np.testing.assert_allclose(ys.data, yt.detach().numpy(), rtol=1e-12, equal_nan=True)
    ys.sum().backward()
    yt.sum().backward()
    rtol = 1e-6 if name in FLOAT32_CONSTANTS else 1e-12
    number = ~np.isnan(KINKS)
    np.testing.assert_allclose(xs.grad.data[number], xt.grad.numpy()[number], rtol=rtol)


def test_binary_maths_against_torch():
    rng = np.random.default_rng(5)
    a = rng.uniform(-6, 6, (5, 4))
    b = rng.uniform(0.5, 3, (4,)) * rng.choice([-1, 1], (4,))
    pairs = [(sorix.atan2, torch.atan2), (sorix.remainder, torch.remainder),
             (sorix.fmod, torch.fmod), (sorix.logaddexp, torch.logaddexp),
             (lambda x, y: x % y, lambda x, y: x % y)]
    for s_fn, t_fn in pairs:
        against_torch(s_fn, t_fn, [a, b], np.float64, TOL[np.float64])
        against_torch(s_fn, t_fn, [a.astype(np.float32), b.astype(np.float32)], np.float32,
                      TOL[np.float32])


def test_floor_division_is_exact_and_has_zero_gradient():
    a = np.array([1.0, -1.0, 7.5, -7.5, 0.3, 5.0, -5.0, 0.0])
    b = np.array([0.1, 0.1, 2.0, 2.0, 0.1, 0.0, 0.0, -3.0])
    x = sorix.tensor(a, requires_grad=True)
    y = x // sorix.tensor(b)
    # NumPy's and PyTorch's floor division: 1 // 0.1 is 9, not floor(1 / 0.1) = 10
    np.testing.assert_array_equal(y.data, torch.floor_divide(torch.tensor(a),
                                                             torch.tensor(b)).numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(y.data, np.floor_divide(a, b))
    with np.errstate(invalid="ignore"):  # (the sum of +inf and -inf: NaN, as it should)
        y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros(8))
    assert (7 // sorix.tensor([2, -2])).tolist() == [3, -4]


def test_integer_modulo_and_division_keep_integers_and_refuse_zero():
    a = sorix.tensor([7, -7, 5, -5])
    for s, t in ((a % 3, torch.tensor([7, -7, 5, -5]) % 3),
                 (a // -2, torch.tensor([7, -7, 5, -5]) // -2),
                 (sorix.fmod(a, 3), torch.fmod(torch.tensor([7, -7, 5, -5]), 3))):
        assert s.dtype == sorix.int64 and s.tolist() == t.tolist()
    for op in (lambda: a % sorix.tensor([1, 0, 1, 1]), lambda: a // 0,
               lambda: sorix.fmod(a, 0)):
        with pytest.raises(ZeroDivisionError, match="integer division by zero"):
            op()
    # floats divide by zero as IEEE says
    assert np.isnan((sorix.tensor([1.0]) % 0.0).item())


def test_integer_inputs_of_the_new_maths():
    t = torch.tensor([1, 2, 3])
    s = sorix.tensor([1, 2, 3])
    assert s.trunc().dtype == sorix.int64 and s.trunc().tolist() == [1, 2, 3]
    np.testing.assert_allclose(s.log2().data, torch.log2(t).numpy())
    assert s.log2().dtype == sorix.float32
    np.testing.assert_allclose(sorix.atan2(s, s).data, torch.atan2(t, t).numpy())


def test_plain_arrays_give_arrays():
    x = np.array([0.25, 0.5])
    out = sorix.arcsin(x)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, np.arcsin(x))
    np.testing.assert_allclose(sorix.fmod(np.array([5.0, -5.0]), 3.0), [2.0, -2.0])


# ---- modules ------------------------------------------------------------------------

MODULES = [
    (lambda: nn.Hardtanh(-2.0, 0.5), lambda: torch.nn.Hardtanh(-2.0, 0.5)),
    (nn.ReLU6, torch.nn.ReLU6), (nn.Hardsigmoid, torch.nn.Hardsigmoid),
    (nn.Hardswish, torch.nn.Hardswish), (lambda: nn.Softshrink(0.3), lambda: torch.nn.Softshrink(0.3)),
    (nn.Hardshrink, torch.nn.Hardshrink),
    (lambda: nn.Threshold(0.1, 20.0), lambda: torch.nn.Threshold(0.1, 20.0)),
    (nn.Mish, torch.nn.Mish), (nn.SELU, torch.nn.SELU),
    (lambda: nn.CELU(2.0), lambda: torch.nn.CELU(2.0)), (nn.LogSigmoid, torch.nn.LogSigmoid),
    (nn.Tanhshrink, torch.nn.Tanhshrink), (lambda: nn.GLU(1), lambda: torch.nn.GLU(1)),
]


@pytest.mark.parametrize("make", MODULES, ids=lambda m: type(m[0]()).__name__)
def test_modules_against_torch(make):
    ours, theirs = make[0](), make[1]()
    x = _draw(-4, 4, np.float32, (6, 8), seed=2)
    against_torch(ours, theirs, [x], np.float32, TOL[np.float32])
    assert repr(ours) == repr(theirs)


def test_prelu_learns_its_slopes_as_torch():
    x = _draw(-3, 3, np.float64, (4, 3, 5), seed=4)
    ours = nn.PReLU(3, init=0.2, dtype=sorix.float64)
    theirs = torch.nn.PReLU(3, init=0.2, dtype=torch.float64)
    xs = sorix.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ys, yt = ours(xs), theirs(xt)
    np.testing.assert_allclose(ys.data, yt.detach().numpy(), rtol=1e-12)
    ys.square().sum().backward()
    yt.square().sum().backward()
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-12)
    assert repr(ours) == repr(theirs)
    assert [k for k, _ in ours.named_parameters()] == ["weight"]
    # one slope for all channels; PyTorch's gradient at exactly 0 (the slope's side)
    xs = sorix.tensor([[-1.0, 0.0, 2.0]], requires_grad=True)
    F.prelu(xs, sorix.tensor([0.25])).sum().backward()
    assert xs.grad.tolist() == [[0.25, 0.25, 1.0]]


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="max_val"):
        nn.Hardtanh(1.0, -1.0)
    with pytest.raises(ValueError, match="non-zero"):
        nn.CELU(0.0)
    with pytest.raises(ValueError, match="lambd"):
        nn.Softshrink(-1.0)
    with pytest.raises(ValueError, match="num_parameters"):
        nn.PReLU(0)
    with pytest.raises(ValueError, match="one per channel"):
        F.prelu(sorix.ones(2, 3), sorix.ones(4))
    with pytest.raises(ValueError, match="even"):
        F.glu(sorix.ones(2, 3))
    with pytest.raises(TypeError, match="threshold"):
        F.threshold(sorix.ones(2), "a", 1.0)


# ---- comparisons and tests --------------------------------------------------------------

def test_named_comparisons_and_logic_as_torch():
    a = np.array([1.5, -np.inf, np.nan, 3.0, 0.0, np.inf])
    b = np.array([1.5, 2.0, np.nan, -3.0, 0.0, np.inf])
    sa, sb, ta, tb = sorix.tensor(a), sorix.tensor(b), torch.tensor(a), torch.tensor(b)
    for name in ("eq", "ne", "lt", "le", "gt", "ge", "greater", "less_equal", "not_equal",
                 "logical_and", "logical_or", "logical_xor"):
        got = getattr(sorix, name)(sa, sb)
        assert got.dtype == sorix.bool_
        assert got.tolist() == getattr(torch, name)(ta, tb).tolist(), name
        two_s, two_t = (2.0, 2.0) if "logical" not in name else (sa > 2, ta > 2)
        assert getattr(sa, name)(two_s).tolist() == getattr(ta, name)(two_t).tolist(), name
    for name in ("isnan", "isinf", "isposinf", "isneginf", "isfinite", "logical_not"):
        assert getattr(sa, name)().tolist() == getattr(torch, name)(ta).tolist(), name
    ints = sorix.tensor([0, 3, -1])
    assert ints.isnan().tolist() == [False] * 3 and ints.isfinite().tolist() == [True] * 3
    assert ints.logical_not().tolist() == [True, False, False]


def test_closeness_and_equality_as_torch():
    a = np.array([1.0, np.inf, np.nan, 1e-9])
    b = a + np.array([1e-6, 0.0, 0.0, 1e-9])
    sa, sb, ta, tb = sorix.tensor(a), sorix.tensor(b), torch.tensor(a), torch.tensor(b)
    assert sa.isclose(sb).tolist() == torch.isclose(ta, tb).tolist()
    assert sorix.isclose(sa, sb, equal_nan=True).tolist() == \
        torch.isclose(ta, tb, equal_nan=True).tolist()
    assert sorix.allclose(sa, sb) is False
    assert sorix.allclose(sa, sb, equal_nan=True) is torch.allclose(ta, tb, equal_nan=True)
    assert sorix.equal(sorix.tensor([1, 2]), sorix.tensor([1, 2])) is True
    assert sorix.equal(sorix.tensor([1, 2]), sorix.tensor([[1, 2]])) is False
    assert sorix.tensor([1.0, np.nan]).equal(sorix.tensor([1.0, np.nan])) is False


def test_max_and_min_functions_as_torch():
    x = np.array([[1.0, 3.0, 3.0], [2.0, np.nan, -1.0], [0.5, 0.5, 0.5]])
    xs, xt = sorix.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    for fn in ("max", "min"):
        for keepdim in (False, True):
            got = getattr(sorix, fn)(xs, 1, keepdim=keepdim)
            want = getattr(torch, fn)(xt, 1, keepdim=keepdim)
            values, indices = got  # unpacks as PyTorch's
            np.testing.assert_array_equal(values.data, want.values.detach().numpy())
            np.testing.assert_array_equal(got.indices.data, want.indices.numpy())
        assert getattr(sorix, fn)(xs).item() != getattr(sorix, fn)(xs).item()  # NaN
    # the gradient goes to the returned index alone, not shared among ties
    v = sorix.tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    sorix.max(v, dim=1).values.sum().backward()
    assert v.grad.tolist() == [[0.0, 1.0, 0.0]]
    # max(input, other) is the elementwise maximum
    assert sorix.max(sorix.tensor([1.0, 5.0]), sorix.tensor([2.0, 2.0])).tolist() == [2.0, 5.0]
    values, indices = sorix.max(np.array([[1, 5], [3, 2]]), 1)
    assert isinstance(values, np.ndarray) and indices.tolist() == [1, 0]


def test_top_level_reductions_and_helpers():
    x = sorix.tensor([[1.0, 2.0], [3.0, 5.0]], requires_grad=True)
    t = torch.tensor([[1.0, 2.0], [3.0, 5.0]])
    np.testing.assert_allclose(sorix.var(x, 0).data, torch.var(t, 0).numpy())
    np.testing.assert_allclose(sorix.std(x).item(), torch.std(t).item(), rtol=1e-6)
    assert sorix.all(x > 0).item() and not sorix.any(x > 9).item()
    c = sorix.clone(x)
    assert c.grad_fn is not None and not np.shares_memory(c.data, x.data)
    assert sorix.detach(x).grad_fn is None and not sorix.detach(x).requires_grad
    assert sorix.swapaxes(x, 0, 1).tolist() == [[1.0, 3.0], [2.0, 5.0]]
    assert sorix.masked_fill(x, x > 2, 0.0).tolist() == [[1.0, 2.0], [0.0, 0.0]]


def test_contiguous_gives_c_order_and_clone_keeps_the_layout():
    x = sorix.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    c = x.t().contiguous()
    assert c.data.flags.c_contiguous and c.is_contiguous()
    assert c.tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    c.sum().backward()
    assert x.grad.tolist() == [[1.0] * 3] * 2
    assert not x.t().clone().data.flags.c_contiguous  # (PyTorch's clone keeps strides)


def test_clamp_keeps_integers_exact_as_torch():
    values = [16777217, -5, 3, 2 ** 40]
    got = sorix.tensor(values).clamp(0, 2 ** 40 - 1)
    assert got.dtype == sorix.int64
    assert got.tolist() == torch.tensor(values).clamp(0, 2 ** 40 - 1).tolist()
    u = sorix.tensor([1, 200, 255], dtype=sorix.uint8)
    assert u.clamp(max=100).dtype == sorix.uint8 and u.clamp(max=100).tolist() == [1, 100, 100]
    assert u.clamp(-5, 300).tolist() == [1, 200, 255]  # (bounds beyond uint8 do not wrap)
    assert sorix.clamp(u, 2, 7).tolist() == [2, 7, 7]
    # a float bound gives floats, as PyTorch's promotion does
    assert u.clamp(0.5, 2.5).tolist() == [1.0, 2.5, 2.5]


def test_review_findings_match_torch():
    # setitem with the list first, an int apart from it and unnamed trailing dimensions
    x, t = sorix.zeros(3, 4, 5, 2), torch.zeros(3, 4, 5, 2)
    value = np.arange(16.0, dtype=np.float32).reshape(2, 4, 2)
    x[[0, 1], :, 0] = sorix.tensor(value)
    t[[0, 1], :, 0] = torch.tensor(value)
    np.testing.assert_array_equal(x.data, t.numpy())
    # clamp_min/clamp_max on integers saturate as clamp does, never wrap
    u = sorix.tensor([1, 2, 200], dtype=sorix.uint8)
    assert u.clamp_min(300).tolist() == u.clamp(min=300).tolist() == [255, 255, 255]
    assert u.clamp_max(100).tolist() == [1, 2, 100] and u.clamp_max(100).dtype == sorix.uint8
    # atan2's gradient at the origin is 0, as PyTorch's
    a, b = sorix.tensor([0.0, 1.0], requires_grad=True), sorix.tensor([0.0, 1.0],
                                                                      requires_grad=True)
    ta, tb = torch.tensor([0.0, 1.0], requires_grad=True), torch.tensor([0.0, 1.0],
                                                                        requires_grad=True)
    sorix.atan2(a, b).sum().backward()
    torch.atan2(ta, tb).sum().backward()
    assert a.grad.tolist() == ta.grad.tolist() and b.grad.tolist() == tb.grad.tolist()
    # norm: NaN counts as nonzero for p=0; the inf norm of an empty tensor along a
    # non-empty dimension is empty, not an error
    v = [np.nan, 0.0, 2.0]
    assert sorix.tensor(v).norm(0).item() == torch.tensor(v).norm(0).item() == 2.0
    assert tuple(sorix.zeros(0, 3).norm(float("inf"), dim=1).shape) == (0,)
    # masked_fill puts the value in the tensor's dtype, as masked_fill_ does
    mask = sorix.tensor([True, False])
    got = sorix.tensor([1, 2]).masked_fill(mask, 7.5)
    assert got.dtype == sorix.int64 and got.tolist() == [7, 2]
    assert got.tolist() == sorix.tensor([1, 2]).masked_fill_(mask, 7.5).tolist()
