"""Gradients through the public Tensor API against central finite differences (float64).

The elementwise checks are generated from the definition tables
(``sorix.kernels.defs.UNARY`` / ``BINARY``), so a new op is checked as soon
as it is defined. Second derivatives (``create_graph=True``) are checked as
Hessian-vector products against finite differences of first derivatives.

The finite differences here are this file's own (forward passes only, under
``no_grad``); ``sorix.autograd.gradcheck`` is tested separately.
"""
import math
import operator

import numpy as np
import pytest

import sorix
from sorix.kernels.defs import BINARY, UNARY

import naive
from conftest import finite_differences, leaf64, unary_call

EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-6

# ---- helpers ----------------------------------------------------------------------


def const(a):
    return sorix.tensor(np.array(a, dtype=np.float64))


def _forward(fn, arrays):
    with sorix.no_grad():
        out = fn(*[const(a) for a in arrays])
    return out.data


def check_grad(fn, *arrays, seed=0):
    """Backward of fn at ``arrays`` (float64) matches finite differences, for a random seed."""
    rng = np.random.default_rng(seed)
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    ts = [leaf64(a) for a in arrays]
    out = fn(*ts)
    assert out.requires_grad
    assert out.dtype == sorix.float64
    w = rng.standard_normal(out.shape)
    out.backward(sorix.tensor(w))
    expected = finite_differences(fn, arrays, w, EPS)
    for t, e in zip(ts, expected):
        assert t.grad is not None
        assert t.grad.shape == t.shape
        assert t.grad.dtype == sorix.float64
        np.testing.assert_allclose(t.grad.data, e, rtol=RTOL, atol=ATOL)
    return out


def _first_grads(fn, arrays, w, create_graph=False):
    ts = [leaf64(a) for a in arrays]
    out = fn(*ts)
    gs = sorix.autograd.grad(out, ts, grad_outputs=sorix.tensor(w), create_graph=create_graph,
                             allow_unused=True)
    return ts, gs


def check_hvp(fn, *arrays, seed=0, eps=1e-5):
    """Second order: grad of (grad(fn) . v), through create_graph=True, against
    central differences of the first-order gradient along v."""
    rng = np.random.default_rng(seed)
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    w = rng.standard_normal(_forward(fn, arrays).shape)
    vs = [rng.standard_normal(a.shape) for a in arrays]

    ts, gs = _first_grads(fn, arrays, w, create_graph=True)
    # the create_graph gradients themselves are right (broadcast reductions included)
    for g, e, a in zip(gs, finite_differences(fn, arrays, w, EPS), arrays):
        got = np.zeros(a.shape) if g is None else g.data
        assert got.shape == a.shape
        np.testing.assert_allclose(got, e, rtol=RTOL, atol=ATOL)

    terms = [(g * const(v)).sum() for g, v in zip(gs, vs) if g is not None and g.requires_grad]
    if terms:
        s = terms[0]
        for t in terms[1:]:
            s = s + t
        hs = sorix.autograd.grad(s, ts, allow_unused=True)
        hvp = [np.zeros(a.shape) if h is None else h.data for h, a in zip(hs, arrays)]
    else:  # the gradient does not depend on the inputs: the Hessian is zero
        hvp = [np.zeros(a.shape) for a in arrays]

    def first(shift):
        moved = [a + shift * v for a, v in zip(arrays, vs)]
        _, g = _first_grads(fn, moved, w)
        return [np.zeros(a.shape) if x is None else x.data for x, a in zip(g, arrays)]

    numeric = [(p - m) / (2 * eps) for p, m in zip(first(eps), first(-eps))]
    for h, n in zip(hvp, numeric):
        assert h.shape == n.shape
        np.testing.assert_allclose(h, n, rtol=1e-5, atol=1e-6)


def safe_values(rng, shape):
    """|x| in [0.1, 0.4] u [0.6, 0.9] u [1.1, 1.4] u [1.6, 1.9], random sign:
    away from 0, the integers and the half-integers (the kinks of abs, relu,
    floor, round ...)."""
    whole = rng.integers(0, 2, size=shape)
    frac = rng.uniform(0.1, 0.4, size=shape) + 0.5 * rng.integers(0, 2, size=shape)
    sign = np.where(rng.integers(0, 2, size=shape) == 1, 1.0, -1.0)
    return np.asarray(sign * (whole + frac), dtype=np.float64)


# ---- elementwise, generated from the definition tables -------------------------------

#: safe_values keeps away from the integers and half-integers, not from the clamp bounds of
#: naive.UNARY_PARAMS (-0.75, 1.25): finite differences across a bound would see its kink,
#: so clamp is checked here with bounds on integers
GRADCHECK_PARAMS = dict(naive.UNARY_PARAMS, clamp=(-1.0, 1.0))


def unary_params(name):
    return GRADCHECK_PARAMS.get(name, ())


def unary_fn(name):
    return unary_call(name, unary_params(name))


def unary_input(name, shape, seed):
    x = safe_values(np.random.default_rng(seed), shape)
    return naive.into_domain(name, x)


OPERATORS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
             "div": operator.truediv, "pow": operator.pow}


def binary_fn(name):
    if name in OPERATORS:
        return OPERATORS[name]
    return lambda a, b: getattr(a, name)(b)


def binary_inputs(name, sa, sb, seed):
    rng = np.random.default_rng(seed)
    for _ in range(200):
        a, b = safe_values(rng, sa), safe_values(rng, sb)
        if name == "pow":
            a = np.abs(a) + 0.4  # positive bases
            b = 1.5 * b
        if np.min(np.abs(np.subtract(a, b)), initial=np.inf) > 0.05:  # no (near) ties
            return a, b
    raise AssertionError("could not draw inputs without ties")


SHAPES = [(), (4,), (3, 4), (1, 4), (3, 1), (2, 3, 4)]


def _broadcasts(sa, sb):
    try:
        np.broadcast_shapes(sa, sb)
        return True
    except ValueError:
        return False


SHAPE_PAIRS = [(sa, sb) for sa in SHAPES for sb in SHAPES if _broadcasts(sa, sb)]
HVP_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 4), (3, 1)), ((4,), (3, 4)),
             ((3, 1), (1, 4)), ((), (3, 4)), ((3, 4), ()), ((2, 3, 4), (1, 4))]


@pytest.mark.parametrize("shape", [(), (7,), (2, 3, 4)], ids=str)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_grad(name, shape):
    x = unary_input(name, shape, seed=len(shape))
    check_grad(unary_fn(name), x)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_forward_values(name):
    """The tensor method computes the op (independent NumPy/closed-form values)."""
    x = unary_input(name, (3, 4), seed=5)
    with np.errstate(invalid="ignore"):
        expected = _closed_forms(x)
    if name not in expected:
        pytest.skip(f"no closed form written for new op {name!r} (its gradient is still checked)")
    out = unary_fn(name)(const(x))
    np.testing.assert_allclose(out.data, expected[name], rtol=1e-12)


def _closed_forms(x):
    return {
        "neg": -x, "exp": np.exp(x), "log": np.log(x), "sqrt": np.sqrt(x), "sin": np.sin(x),
        "cos": np.cos(x), "tanh": np.tanh(x), "sigmoid": 1 / (1 + np.exp(-x)),
        "relu": np.maximum(x, 0), "leaky_relu": np.where(x > 0, x, 0.1 * x), "abs": np.abs(x),
        "clamp": np.clip(x, -1.0, 1.0), "sign": np.sign(x), "floor": np.floor(x),
        "ceil": np.ceil(x), "round": np.round(x),
        "log1p": np.log1p(x), "expm1": np.expm1(x), "square": x * x, "reciprocal": 1 / x,
        "erf": np.vectorize(math.erf)(x), "erfc": np.vectorize(math.erfc)(x),
        "softplus": np.where(1.5 * x > 2.0, x, np.log(1 + np.exp(1.5 * x)) / 1.5),
        "silu": x / (1 + np.exp(-x)), "gelu": x * (1 + np.vectorize(math.erf)(x / np.sqrt(2))) / 2,
        "gelu_tanh": x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))) / 2,
        "elu": np.where(x > 0, x, 0.7 * (np.exp(x) - 1)), "softsign": x / (1 + np.abs(x)),
    }


@pytest.mark.parametrize("name", sorted(n for n, op in UNARY.items() if op.derivative is None))
def test_piecewise_constant_ops_have_zero_gradient(name):
    """sign/floor/ceil/round: the output is part of the graph, its gradient is 0 (PyTorch)."""
    x = leaf64([-1.7, -0.2, 0.3, 2.6])
    y = getattr(x, name)()
    assert y.requires_grad
    (y * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros(4))


def test_operator_forms_of_unary_ops():
    x = safe_values(np.random.default_rng(3), (3, 4))
    check_grad(lambda t: -t, x)
    check_grad(lambda t: abs(t), x)
    check_grad(lambda t: t.clamp(min=-1.0), x)
    check_grad(lambda t: t.clamp(max=1.0), x)
    check_grad(lambda t: t.leaky_relu(), x)  # default slope 0.01


def test_clamp_gradient_passes_at_the_bounds():
    x = leaf64([-2.0, -1.0, 0.0, 1.0, 2.0])
    x.clamp(-1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 1, 1, 1, 0])


@pytest.mark.parametrize("pair", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_grad(name, pair):
    a, b = binary_inputs(name, pair[0], pair[1], seed=hash(pair) % 1000)
    out = check_grad(binary_fn(name), a, b)
    assert out.shape == np.broadcast_shapes(*pair)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_methods(name):
    """The named methods (add, pow, maximum ...) are differentiable too."""
    a, b = binary_inputs(name, (3, 4), (4,), seed=7)
    if not hasattr(sorix.Tensor, name):
        pytest.fail(f"Tensor has no method {name!r} for the binary op")
    check_grad(lambda x, y: getattr(x, name)(y), a, b)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_with_constant_operands(name):
    """Python scalars and arrays on either side (reflected operators)."""
    a, b = binary_inputs(name, (3, 4), (3, 4), seed=11)
    fn = binary_fn(name)
    scalar = float(b.reshape(-1)[0])
    check_grad(lambda x: fn(x, scalar), a)
    check_grad(lambda x: fn(x, b), a)
    if name in OPERATORS:  # reflected forms exist for the operators
        base = float(a.reshape(-1)[0]) if name == "pow" else float(a.reshape(-1)[1])
        check_grad(lambda y: fn(base, y), b)
        check_grad(lambda y: fn(a, y), b)  # ndarray op tensor gives a tensor


def test_maximum_minimum_ties_share_the_gradient():
    a = leaf64([1.0, 2.0, 3.0])
    b = leaf64([1.0, 5.0, 0.0])
    a.maximum(b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [0.5, 0, 1])
    np.testing.assert_array_equal(b.grad.data, [0.5, 1, 0])
    a.grad = b.grad = None
    a.minimum(b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [0.5, 1, 0])
    np.testing.assert_array_equal(b.grad.data, [0.5, 0, 1])


def test_pow_closed_forms():
    a = leaf64([0.5, 1.5, 2.0])
    b = leaf64([-1.5, 0.0, 3.0])
    (a ** b).sum().backward()
    av, bv = a.data, b.data
    np.testing.assert_allclose(a.grad.data, [bv[0] * av[0] ** (bv[0] - 1), 0.0, 3 * 4.0],
                               rtol=1e-12)
    np.testing.assert_allclose(b.grad.data, av ** bv * np.log(av), rtol=1e-12)


# ---- reductions ---------------------------------------------------------------------------

REDUCTIONS = {
    "sum": lambda x, axis, keep: np.sum(x, axis=axis, keepdims=keep),
    "mean": lambda x, axis, keep: np.mean(x, axis=axis, keepdims=keep),
    "max": lambda x, axis, keep: np.max(x, axis=axis, keepdims=keep),
    "min": lambda x, axis, keep: np.min(x, axis=axis, keepdims=keep),
    "var": lambda x, axis, keep: np.var(x, axis=axis, keepdims=keep, ddof=1),
    "std": lambda x, axis, keep: np.std(x, axis=axis, keepdims=keep, ddof=1),
}
AXES = [None, 0, 1, 2, -1, -2, (0, 2), (-1, 0), (0, 1, 2)]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction(name, axis, keepdims):
    x = np.random.default_rng(2).standard_normal((2, 3, 4))
    fn = lambda t: getattr(t, name)(axis=axis, keepdims=keepdims)  # noqa: E731
    out = check_grad(fn, x)
    expected = REDUCTIONS[name](x, axis, keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_dim_keepdim_aliases(name):
    x = np.random.default_rng(4).standard_normal((2, 3, 4))
    out = check_grad(lambda t: getattr(t, name)(dim=(0, -1), keepdim=True), x)
    np.testing.assert_allclose(out.data, REDUCTIONS[name](x, (0, 2), True), rtol=1e-12)


def test_max_full_reduction_ties_share_the_gradient():
    x = leaf64([1.0, 3.0, 3.0, 2.0])
    x.max().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 0.5, 0.5, 0])


def test_mean_and_sum_closed_forms():
    x = leaf64(np.ones((2, 3)))
    x.mean().backward()
    np.testing.assert_allclose(x.grad.data, np.full((2, 3), 1 / 6))
    y = leaf64(np.ones((2, 3)))
    y.sum(axis=1).sum().backward()
    np.testing.assert_array_equal(y.grad.data, np.ones((2, 3)))


# ---- matmul ----------------------------------------------------------------------------

MATMUL_PAIRS = [
    ((4,), (4,)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((3, 4), (4, 5)),
    ((2, 3, 4), (4, 5)),
    ((2, 2, 3, 4), (4, 5)),  # a stack of stacks times one matrix: one product of all rows
    ((2, 1, 3, 4), (5, 4, 2)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
    ((3, 4), (2, 4, 5)),
]


@pytest.mark.parametrize("pair", MATMUL_PAIRS, ids=str)
def test_matmul(pair):
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal(pair[0]), rng.standard_normal(pair[1])
    out = check_grad(operator.matmul, a, b)
    np.testing.assert_allclose(out.data, np.matmul(a, b), rtol=1e-12)
    check_grad(lambda x, y: x.matmul(y), a, b)


def test_matmul_with_constant_operand():
    rng = np.random.default_rng(9)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    check_grad(lambda x: x @ b, a)
    check_grad(lambda y: a @ y, b)  # ndarray @ tensor


# ---- shape ops ----------------------------------------------------------------------------

SHAPE_OPS = [
    ("reshape", (2, 3, 4), lambda t: t.reshape(6, 4), lambda x: x.reshape(6, 4)),
    ("reshape_tuple", (2, 3, 4), lambda t: t.reshape((4, -1)), lambda x: x.reshape(4, -1)),
    ("view", (2, 3, 4), lambda t: t.view(-1), lambda x: x.reshape(-1)),
    ("transpose_all", (2, 3, 4), lambda t: t.transpose(), lambda x: x.transpose()),
    ("transpose_swap", (2, 3, 4), lambda t: t.transpose(0, 2), lambda x: np.swapaxes(x, 0, 2)),
    ("transpose_neg", (2, 3, 4), lambda t: t.transpose(-1, 1), lambda x: np.swapaxes(x, -1, 1)),
    ("transpose_perm", (2, 3, 4), lambda t: t.transpose(2, 0, 1),
     lambda x: x.transpose(2, 0, 1)),
    ("T", (3, 4), lambda t: t.T, lambda x: x.T),
    ("t", (3, 4), lambda t: t.t(), lambda x: x.T),
    ("permute", (2, 3, 4), lambda t: t.permute(1, 2, 0), lambda x: x.transpose(1, 2, 0)),
    ("permute_tuple", (2, 3, 4), lambda t: t.permute((2, 0, 1)), lambda x: x.transpose(2, 0, 1)),
    ("unsqueeze0", (3, 4), lambda t: t.unsqueeze(0), lambda x: x[None]),
    ("unsqueeze_neg", (3, 4), lambda t: t.unsqueeze(-1), lambda x: x[..., None]),
    ("unsqueeze_mid", (3, 4), lambda t: t.unsqueeze(1), lambda x: x[:, None]),
    ("squeeze_all", (2, 1, 4, 1), lambda t: t.squeeze(), lambda x: x.squeeze()),
    ("squeeze_dim", (2, 1, 4, 1), lambda t: t.squeeze(1), lambda x: x.squeeze(1)),
    ("squeeze_neg", (2, 1, 4, 1), lambda t: t.squeeze(-1), lambda x: x.squeeze(-1)),
    ("squeeze_noop", (2, 1, 4, 1), lambda t: t.squeeze(0), lambda x: x),
    ("expand", (3, 1), lambda t: t.expand(2, 3, 4), lambda x: np.broadcast_to(x, (2, 3, 4))),
    ("expand_minus1", (3, 1), lambda t: t.expand(-1, 5), lambda x: np.broadcast_to(x, (3, 5))),
    ("flatten", (2, 3, 4), lambda t: t.flatten(), lambda x: x.reshape(-1)),
    ("flatten_from1", (2, 3, 4), lambda t: t.flatten(1), lambda x: x.reshape(2, 12)),
    ("flatten_0_1", (2, 3, 4), lambda t: t.flatten(0, 1), lambda x: x.reshape(6, 4)),
]


@pytest.mark.parametrize("case", SHAPE_OPS, ids=lambda c: c[0])
def test_shape_op(case):
    _, shape, fn, reference = case
    x = np.random.default_rng(12).standard_normal(shape)
    out = check_grad(fn, x)
    np.testing.assert_array_equal(out.data, reference(x))


def test_expand_gradient_sums():
    x = leaf64([[1.0], [2.0], [3.0]])
    x.expand(2, 3, 4).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((3, 1), 8.0))


# ---- indexing ----------------------------------------------------------------------------

INDICES = [
    ("int", lambda: 1),
    ("negative_int", lambda: -1),
    ("int_pair", lambda: (2, -2)),
    ("slice", lambda: slice(1, 3)),
    ("step_slices", lambda: (slice(None, None, 2), slice(1, None), slice(None, None, -1))),
    ("none", lambda: (None, 1)),
    ("ellipsis", lambda: (Ellipsis, 0)),
    ("ellipsis_none", lambda: (1, Ellipsis, None)),
    ("int_array_repeats", lambda: np.array([0, 0, 2, 0, 3])),
    ("list_repeats", lambda: [1, 1, 3]),
    ("two_arrays", lambda: (np.array([0, 1, 0]), slice(None), np.array([2, 2, 2]))),
    ("mixed", lambda: (slice(1, 3), [0, 0, 4])),
    ("bool_mask", lambda: np.random.default_rng(0).standard_normal((4, 5)) > 0),
    ("bool_vector", lambda: np.array([True, False, True, True])),
    ("index_tensor", lambda: sorix.tensor([3, 0, 3])),
    ("mask_tensor", lambda: sorix.tensor(np.array([False, True, True, False]))),
]


def _plain(index):
    if isinstance(index, sorix.Tensor):
        return index.data
    return index


@pytest.mark.parametrize("case", INDICES, ids=lambda c: c[0])
def test_indexing(case):
    index = case[1]()
    x = np.random.default_rng(13).standard_normal((4, 5, 3))
    out = check_grad(lambda t: t[index], x)
    np.testing.assert_array_equal(out.data, x[_plain(index)])


def test_repeated_indices_accumulate():
    x = leaf64(np.arange(5.0))
    (x[[0, 0, 0, 2]] * sorix.tensor([1.0, 2.0, 3.0, 4.0], dtype=sorix.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [6, 0, 4, 0, 0])
    y = leaf64(np.zeros((3, 2)))
    y[np.array([2, 2]), np.array([1, 1])].sum().backward()
    np.testing.assert_array_equal(y.grad.data, [[0, 0], [0, 0], [0, 2]])


# ---- softmax ----------------------------------------------------------------------------

def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


SOFTMAX_CASES = [((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((2, 3, 4), 1), ((2, 3, 4), -3), ((5,), 0)]


@pytest.mark.parametrize("case", SOFTMAX_CASES, ids=str)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax(name, case):
    shape, axis = case
    x = 3 * np.random.default_rng(14).standard_normal(shape)
    out = check_grad(lambda t: getattr(t, name)(axis), x)
    expected = np_softmax(x, axis)
    if name == "log_softmax":
        expected = np.log(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-14)
    # dim= keyword as PyTorch spells it
    np.testing.assert_allclose(getattr(const(x), name)(dim=axis).data, expected, rtol=1e-12,
                               atol=1e-14)


def test_softmax_is_stable_for_large_inputs():
    x = leaf64([[1000.0, 1001.0, 1002.0]])
    y = x.softmax(-1)
    np.testing.assert_allclose(y.data, np_softmax(np.array([[0.0, 1.0, 2.0]]), -1), rtol=1e-12)
    y[0, 2].backward()
    p = y.data[0]
    np.testing.assert_allclose(x.grad.data[0], p[2] * (np.eye(3)[2] - p), rtol=1e-10)


# ---- composite ---------------------------------------------------------------------------

def test_composite_network():
    rng = np.random.default_rng(15)
    x, w1, b1, w2 = (rng.standard_normal(s) for s in ((5, 3), (3, 4), (1, 4), (4, 2)))

    def fn(x, w1, b1, w2):
        h = (x @ w1 + b1).tanh()
        return ((h @ w2).log_softmax(-1) * 0.5).sum(axis=0).mean()

    check_grad(fn, x, w1, b1, w2)


def test_same_tensor_in_several_places():
    x = np.random.default_rng(16).standard_normal((3, 4))
    check_grad(lambda t: t * t.sin() + t[0] / (t.exp() + 1.0) - t.T.sum(axis=1), x)


# ---- sorix.autograd.gradcheck ----------------------------------------------------------------

def test_autograd_gradcheck_accepts_correct_function():
    rng = np.random.default_rng(17)
    a, b = leaf64(rng.standard_normal((3, 4))), leaf64(rng.standard_normal((2, 4)))

    def fn(a, b):
        return (a @ b.T).tanh() * a.sum(axis=1, keepdims=True).exp()

    assert sorix.autograd.gradcheck(fn, (a, b)) is True
    assert sorix.autograd.gradcheck(lambda t: t.sigmoid().sum(), a) is True


def test_autograd_gradcheck_detects_a_wrong_gradient():
    # floor jumps at the integers: its zero derivative disagrees with finite differences there
    x = leaf64([1.0, 2.0, 3.0])
    assert sorix.autograd.gradcheck(lambda t: t.floor() + t, (x,), raise_exception=False) is False
    with pytest.raises(RuntimeError):
        sorix.autograd.gradcheck(lambda t: t.floor() + t, (x,))


def test_autograd_gradcheck_rejects_float32():
    x = sorix.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError):
        sorix.autograd.gradcheck(lambda t: t * t, (x,))


# ---- second order ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_second_order(name):
    check_hvp(unary_fn(name), unary_input(name, (2, 3), seed=21))


@pytest.mark.parametrize("pair", HVP_PAIRS, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_second_order(name, pair):
    a, b = binary_inputs(name, pair[0], pair[1], seed=22)
    check_hvp(binary_fn(name), a, b)


@pytest.mark.parametrize("pair", MATMUL_PAIRS, ids=str)
def test_matmul_second_order(pair):
    rng = np.random.default_rng(23)
    a, b = rng.standard_normal(pair[0]), rng.standard_normal(pair[1])
    check_hvp(operator.matmul, a, b)
    # a function whose Hessian is not just the bilinear part
    check_hvp(lambda x, y: (x @ y).tanh(), a, b)


@pytest.mark.parametrize("axis", [None, 1, -1, (0, 2)], ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "var", "std"])
def test_reduction_second_order(name, axis):
    x = np.random.default_rng(24).standard_normal((2, 3, 4))
    check_hvp(lambda t: getattr(t, name)(axis=axis), x)
    check_hvp(lambda t: getattr(t * t.exp(), name)(axis=axis, keepdims=True).sin(), x)


@pytest.mark.parametrize("case", SOFTMAX_CASES, ids=str)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_second_order(name, case):
    shape, axis = case
    x = np.random.default_rng(25).standard_normal(shape)
    check_hvp(lambda t: getattr(t, name)(axis), x)


def test_shape_and_index_second_order():
    x = np.random.default_rng(26).standard_normal((2, 3, 4))
    check_hvp(lambda t: (t.permute(2, 0, 1).reshape(4, 6) ** 2).tanh(), x)
    check_hvp(lambda t: t[np.array([0, 0, 1]), 1:].exp(), x)
    check_hvp(lambda t: (t.unsqueeze(0).expand(3, 2, 3, 4) * t).sum(axis=0), x)


def test_third_derivative_closed_forms():
    x = leaf64(2.0)
    (g1,) = sorix.autograd.grad(x ** 3, x, create_graph=True)
    (g2,) = sorix.autograd.grad(g1, x, create_graph=True)
    (g3,) = sorix.autograd.grad(g2, x)
    assert (float(g1), float(g2), float(g3)) == (12.0, 12.0, 6.0)

    y = leaf64(0.3)
    d = y.sin()
    values = []
    for _ in range(4):
        (d,) = sorix.autograd.grad(d, y, create_graph=True)
        values.append(float(d))
    np.testing.assert_allclose(values, [np.cos(0.3), -np.sin(0.3), -np.cos(0.3), np.sin(0.3)],
                               rtol=1e-12)


def test_backward_create_graph_gives_differentiable_grad():
    x = leaf64([1.0, 2.0])
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    np.testing.assert_allclose(x.grad.data, [3.0, 12.0])
    (g,) = sorix.autograd.grad(x.grad.sum(), x)
    np.testing.assert_allclose(g.data, [6.0, 12.0])
