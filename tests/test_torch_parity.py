"""Forward values, gradients and result dtypes of every Tensor op, against PyTorch.

Each case builds the same inputs in sorix and in torch, runs the op,
compares the outputs, then back-propagates the same random upstream
gradient through both and compares every input's gradient (values, shape
and dtype).
"""
import zlib

import numpy as np
import pytest

import sorix

from conftest import DTYPES

torch = pytest.importorskip("torch")

TOL = {np.dtype(np.float32): dict(rtol=1e-5, atol=1e-6),
       np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12)}


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _torch_np_dtype(tdtype):
    return torch.empty(0, dtype=tdtype).numpy().dtype


def make(shape, dtype, rng, domain="real"):
    """Random inputs kept away from the kinks and poles of the ops tested."""
    x = rng.standard_normal(shape)
    if domain == "positive":
        x = np.abs(x) + 0.5
    elif domain == "real":
        # keep |x| >= 0.05 so relu/abs/clamp never sit on their kink
        x = np.where(np.abs(x) < 0.05, 0.05 + np.abs(x), x)
    return np.asarray(x, dtype=dtype)


def _assert_close(actual, expected, dtype, what):
    tol = TOL[np.dtype(dtype)]
    np.testing.assert_allclose(actual, expected, err_msg=what, **tol)


def check(fn_s, fn_t, arrays, grad=True, dtype=None, rng=None):
    """Run ``fn_s`` on sorix tensors and ``fn_t`` on torch tensors made from ``arrays``."""
    dtype = dtype or arrays[0].dtype
    rng = rng or np.random.default_rng(0)
    xs = [sorix.tensor(a, requires_grad=grad) for a in arrays]
    ts = [torch.tensor(a, requires_grad=grad) for a in arrays]
    out_s = fn_s(*xs)
    out_t = fn_t(*ts)
    expected = out_t.detach().numpy()
    assert isinstance(out_s, sorix.Tensor)
    assert tuple(out_s.shape) == tuple(out_t.shape), (out_s.shape, out_t.shape)
    assert out_s.data.dtype == _torch_np_dtype(out_t.dtype), (out_s.data.dtype, out_t.dtype)
    _assert_close(out_s.data, expected, dtype, "forward")
    if not grad:
        return out_s, out_t
    upstream = np.asarray(rng.standard_normal(expected.shape), dtype=expected.dtype)
    out_s.backward(upstream)
    out_t.backward(torch.from_numpy(upstream.copy()))
    for i, (x, t) in enumerate(zip(xs, ts)):
        if t.grad is None:
            assert x.grad is None or not np.any(x.grad.data), f"input {i} should get no gradient"
            continue
        assert x.grad is not None, f"input {i} got no gradient"
        g = x.grad.data
        assert g.shape == tuple(t.grad.shape), (i, g.shape, t.grad.shape)
        assert g.dtype == _torch_np_dtype(t.grad.dtype), (i, g.dtype, t.grad.dtype)
        _assert_close(g, t.grad.numpy(), dtype, f"gradient of input {i}")
    return out_s, out_t


# ---------------------------------------------------------------------------
# binary operators with broadcasting

BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((3, 4), (3, 1)),           # repeated along the columns (a per-row scale)
    ((3, 1), (3, 4)),
    ((2, 3, 4), (3, 4)),        # repeated along the rows of (2, 12)
    ((2, 1, 1), (2, 3, 4)),     # repeated along the columns of (2, 12)
    ((2, 3, 4), (1, 3, 1)),     # a middle axis: expanded
    ((2, 1, 4), (3, 1)),
    ((5, 1), (1, 5)),
    ((1,), (2, 3)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((), ()),
]

#: the arithmetic operators and their methods, each call form torch has (every op of the
#: definition tables is checked against references in test_gradcheck.py and test_kernels.py)
BINARY = {
    "add": (lambda a, b: a + b, "real", "real"),
    "sub": (lambda a, b: a - b, "real", "real"),
    "mul": (lambda a, b: a * b, "real", "real"),
    "div": (lambda a, b: a / b, "real", "real"),
    "pow": (lambda a, b: a ** b, "positive", "real"),
    "method_add": (lambda a, b: a.add(b), "real", "real"),
    "method_sub": (lambda a, b: a.sub(b), "real", "real"),
    "method_mul": (lambda a, b: a.mul(b), "real", "real"),
    "method_div": (lambda a, b: a.div(b), "real", "real"),
    "method_pow": (lambda a, b: a.pow(b), "positive", "real"),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("op", list(BINARY))
def test_binary_broadcast(op, shapes, dtype):
    fn, dom_a, dom_b = BINARY[op]
    rng = _rng(op, shapes, dtype)
    a = make(shapes[0], dtype, rng, dom_a)
    b = make(shapes[1], dtype, rng, dom_b)
    check(fn, fn, [a, b], rng=rng)


SCALAR_CASES = {
    "t+s": (lambda t: t + 2.5, "real"),
    "s+t": (lambda t: 2.5 + t, "real"),
    "t+int": (lambda t: t + 3, "real"),
    "t-s": (lambda t: t - 1.25, "real"),
    "s-t": (lambda t: 1.25 - t, "real"),
    "int-t": (lambda t: 2 - t, "real"),
    "t*s": (lambda t: t * 1.5, "real"),
    "s*t": (lambda t: -1.5 * t, "real"),
    "int*t": (lambda t: 3 * t, "real"),
    "t/s": (lambda t: t / 3.0, "real"),
    "s/t": (lambda t: 3.0 / t, "real"),
    "int/t": (lambda t: 2 / t, "real"),
    "t/int": (lambda t: t / 7, "real"),
    "t**2": (lambda t: t ** 2, "real"),
    "t**3": (lambda t: t ** 3, "real"),
    "t**2.0": (lambda t: t ** 2.0, "real"),
    "t**0.5": (lambda t: t ** 0.5, "positive"),
    "t**-1.5": (lambda t: t ** -1.5, "positive"),
    "t**-1": (lambda t: t ** -1, "real"),
    "t**0": (lambda t: t ** 0, "real"),
    "t**1": (lambda t: t ** 1, "real"),
    "2**t": (lambda t: 2.0 ** t, "real"),
    "int2**t": (lambda t: 2 ** t, "real"),
    "0.5**t": (lambda t: 0.5 ** t, "real"),
    "neg": (lambda t: -t, "real"),
    "neg_method": (lambda t: t.neg(), "real"),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(3, 4), ()], ids=str)
@pytest.mark.parametrize("case", list(SCALAR_CASES))
def test_scalar_operands(case, shape, dtype):
    fn, dom = SCALAR_CASES[case]
    rng = _rng(case, shape, dtype)
    check(fn, fn, [make(shape, dtype, rng, dom)], rng=rng)


def test_ndarray_reflected_gives_tensor():
    rng = _rng("ndarray")
    a = make((3, 4), np.float64, rng)
    b = make((4,), np.float64, rng)
    for fn in (lambda x, y: y + x, lambda x, y: y - x, lambda x, y: y * x,
               lambda x, y: y / x):
        x = sorix.tensor(a, requires_grad=True)
        out = fn(x, b)
        assert isinstance(out, sorix.Tensor)
        xt = torch.tensor(a, requires_grad=True)
        outt = fn(xt, torch.tensor(b))
        _assert_close(out.data, outt.detach().numpy(), np.float64, "forward")
        out.sum().backward()
        outt.sum().backward()
        _assert_close(x.grad.data, xt.grad.numpy(), np.float64, "grad")


# ---------------------------------------------------------------------------
# unary ops

#: call forms (defaults, keywords, builtins, composed ops) against torch's, not the table of
#: ops: test_gradcheck.py and test_kernels.py check every op of sorix.kernels.defs
UNARY = {
    "exp": (lambda t: t.exp(), lambda t: t.exp(), "real"),
    "log": (lambda t: t.log(), lambda t: t.log(), "positive"),
    "sqrt": (lambda t: t.sqrt(), lambda t: t.sqrt(), "positive"),
    "sin": (lambda t: t.sin(), lambda t: t.sin(), "real"),
    "cos": (lambda t: t.cos(), lambda t: t.cos(), "real"),
    "tanh": (lambda t: t.tanh(), lambda t: t.tanh(), "real"),
    "sigmoid": (lambda t: t.sigmoid(), lambda t: t.sigmoid(), "real"),
    "relu": (lambda t: t.relu(), lambda t: t.relu(), "real"),
    "leaky_relu": (lambda t: t.leaky_relu(),
                   lambda t: torch.nn.functional.leaky_relu(t), "real"),
    "leaky_relu_0.2": (lambda t: t.leaky_relu(0.2),
                       lambda t: torch.nn.functional.leaky_relu(t, 0.2), "real"),
    "leaky_relu_kw": (lambda t: t.leaky_relu(negative_slope=0.3),
                      lambda t: torch.nn.functional.leaky_relu(t, negative_slope=0.3), "real"),
    "abs": (lambda t: t.abs(), lambda t: t.abs(), "real"),
    "abs_builtin": (lambda t: abs(t), lambda t: abs(t), "real"),
    "clamp_min": (lambda t: t.clamp(min=-0.3), lambda t: t.clamp(min=-0.3), "real"),
    "clamp_max": (lambda t: t.clamp(max=0.4), lambda t: t.clamp(max=0.4), "real"),
    "clamp_both": (lambda t: t.clamp(-0.3, 0.4), lambda t: t.clamp(-0.3, 0.4), "real"),
    "clamp_both_kw": (lambda t: t.clamp(min=-1.1, max=0.7),
                      lambda t: t.clamp(min=-1.1, max=0.7), "real"),
    "clamp_int_bounds": (lambda t: t.clamp(-1, 1), lambda t: t.clamp(-1, 1), "real"),
    "exp_of_log": (lambda t: t.log().exp(), lambda t: t.log().exp(), "positive"),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(4, 5), (7,), ()], ids=str)
@pytest.mark.parametrize("op", list(UNARY))
def test_unary(op, shape, dtype):
    fs, ft, dom = UNARY[op]
    rng = _rng(op, shape, dtype)
    x = make(shape, dtype, rng, dom)
    if op.startswith("clamp"):
        # keep values off the clamp bounds
        for bound in (-0.3, 0.4, -1.1, 0.7, -1.0, 1.0):
            x = np.where(np.abs(x - bound) < 1e-2, x + 0.05, x).astype(dtype)
    check(fs, ft, [np.asarray(x, dtype)], rng=rng)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_unary_extreme_values(dtype):
    """Large magnitudes: sigmoid/tanh/exp saturate without NaNs, as in torch."""
    x = np.array([-100.0, -30.0, -5.0, 5.0, 30.0, 80.0], dtype=dtype)
    for name in ("sigmoid", "tanh"):
        check(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x])
    check(lambda t: t.softmax(dim=0), lambda t: t.softmax(0), [x])
    check(lambda t: t.log_softmax(dim=0), lambda t: t.log_softmax(0), [x])


# ---------------------------------------------------------------------------
# softmax and log_softmax

@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax(fn, dim, dtype):
    rng = _rng(fn, dim, dtype)
    x = make((3, 4, 5), dtype, rng) * 3
    check(lambda t: getattr(t, fn)(dim=dim), lambda t: getattr(t, fn)(dim), [x.astype(dtype)],
          rng=rng)
    # positional (Sorix's ``axis``) gives the same
    check(lambda t: getattr(t, fn)(dim), lambda t: getattr(t, fn)(dim), [x.astype(dtype)],
          rng=rng)


def test_softmax_default_last_axis():
    x = make((3, 4), np.float64, _rng("sm_default"))
    check(lambda t: t.softmax(), lambda t: t.softmax(-1), [x])
    check(lambda t: t.log_softmax(), lambda t: t.log_softmax(-1), [x])


# ---------------------------------------------------------------------------
# reductions

REDUCE_DIMS = [None, 0, 1, -1, 2, (0, 2), (1, -1), (0, 1, 2)]


def _torch_reduce(name, t, dim, keepdim, **kw):
    if name in ("max", "min"):
        f = torch.amax if name == "max" else torch.amin
        return f(t, dim=() if dim is None else dim, keepdim=keepdim)
    if dim is None:
        return getattr(t, name)(**kw) if not keepdim else \
            getattr(t, name)(dim=tuple(range(t.ndim)), keepdim=True, **kw)
    return getattr(t, name)(dim=dim, keepdim=keepdim, **kw)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", REDUCE_DIMS, ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var", "std"])
def test_reductions(name, dim, keepdim, dtype):
    rng = _rng(name, dim, keepdim, dtype)
    x = make((3, 4, 5), dtype, rng)
    check(lambda t: getattr(t, name)(dim=dim, keepdim=keepdim),
          lambda t: _torch_reduce(name, t, dim, keepdim), [x], rng=rng)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("dim", [None, 1, (0, 1)], ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var", "std"])
def test_reductions_axis_keepdims_spelling(name, dim, dtype):
    """Sorix's ``axis=``/``keepdims=`` spelling matches torch's ``dim=``/``keepdim=``."""
    rng = _rng("spelling", name, dim, dtype)
    x = make((3, 4), dtype, rng)
    check(lambda t: getattr(t, name)(axis=dim, keepdims=True),
          lambda t: _torch_reduce(name, t, dim, True), [x], rng=rng)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("dim", [None, 0, (0, 1)], ids=str)
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_correction(name, dim, dtype):
    rng = _rng("corr", name, dim, dtype)
    x = make((4, 3), dtype, rng)
    check(lambda t: getattr(t, name)(dim=dim, unbiased=False),
          lambda t: _torch_reduce(name, t, dim, False, correction=0), [x], rng=rng)
    check(lambda t: getattr(t, name)(dim=dim, correction=0),
          lambda t: _torch_reduce(name, t, dim, False, correction=0), [x], rng=rng)
    check(lambda t: getattr(t, name)(dim=dim, correction=2),
          lambda t: _torch_reduce(name, t, dim, False, correction=2), [x], rng=rng)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_ties_share_gradient(name, dtype):
    """Tied extremes split the gradient evenly (torch.amax/amin's rule)."""
    x = np.array([[1.0, 3.0, 3.0, -2.0], [2.0, 2.0, 2.0, 2.0], [-1.0, -1.0, 0.0, -5.0]], dtype)
    f = torch.amax if name == "max" else torch.amin
    check(lambda t: getattr(t, name)(dim=1), lambda t: f(t, dim=1), [x])
    check(lambda t: getattr(t, name)(), lambda t: f(t, dim=()), [x])
    check(lambda t: getattr(t, name)(dim=0, keepdim=True), lambda t: f(t, dim=0, keepdim=True),
          [x])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_max_of_a_row_holding_nan_gives_the_nan_its_gradient(dtype):
    # the maximum is NaN and the NaN element is the extreme (torch.max(dim)'s choice; amax
    # gives the whole row NaN); the other rows keep the shared gradient of tied extremes
    x = np.array([[1.0, np.nan, 3.0, 0.0], [1.0, 5.0, 5.0, 0.0], [2.0, 2.0, 2.0, 2.0]], dtype)
    t = sorix.tensor(x, requires_grad=True)
    t.max(axis=1).sum().backward()
    np.testing.assert_array_equal(t.grad.data, [[0, 1, 0, 0], [0, 0.5, 0.5, 0],
                                                [0.25, 0.25, 0.25, 0.25]])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_reduction_of_broadcast_expression(dtype):
    rng = _rng("bexpr", dtype)
    a = make((3, 1, 5), dtype, rng)
    b = make((4, 1), dtype, rng)
    check(lambda x, y: ((x * y).tanh() - y).var(dim=(0, 2)).sum(),
          lambda x, y: ((x * y).tanh() - y).var(dim=(0, 2)).sum(), [a, b], rng=rng)


# ---------------------------------------------------------------------------
# matmul

MATMUL_SHAPES = [
    ((4,), (4,)),
    ((3, 4), (4,)),
    ((4,), (4, 5)),
    ((3, 4), (4, 5)),
    ((1, 4), (4, 1)),
    ((2, 3, 4), (4, 5)),
    ((2, 2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
    ((1, 3, 4), (2, 4, 5)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes, dtype):
    rng = _rng("mm", shapes, dtype)
    a = make(shapes[0], dtype, rng)
    b = make(shapes[1], dtype, rng)
    check(lambda x, y: x @ y, lambda x, y: x @ y, [a, b], rng=rng)
    check(lambda x, y: x.matmul(y), lambda x, y: x.matmul(y), [a, b], rng=rng)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_stack_times_matrix_of_strided_and_empty_stacks(dtype):
    # a stack times one matrix runs as one product of the stacked rows: a stack that is a
    # transposed view is copied into rows first, and empty stacks and rows keep their shape
    rng = _rng("stack", dtype)
    a, b = make((3, 4, 5), dtype, rng), make((4, 6), dtype, rng)
    check(lambda x, y: x.transpose(0, 2, 1) @ y, lambda x, y: x.transpose(1, 2) @ y, [a, b],
          rng=rng)
    for a_shape, b_shape in (((0, 3, 4), (4, 2)), ((2, 0, 4), (4, 2)), ((2, 3, 0), (0, 2))):
        x = sorix.tensor(np.ones(a_shape, dtype), requires_grad=True)
        y = sorix.tensor(np.ones(b_shape, dtype), requires_grad=True)
        out = x @ y
        out.sum().backward()
        assert out.shape == a_shape[:-1] + b_shape[1:]
        np.testing.assert_array_equal(x.grad.data, np.full(a_shape, b_shape[1], dtype))
        np.testing.assert_array_equal(y.grad.data, np.full(b_shape, a_shape[0] * a_shape[1],
                                                           dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_matmul_of_transposed_view(dtype):
    rng = _rng("mmT", dtype)
    a = make((4, 3), dtype, rng)
    b = make((5, 4), dtype, rng)
    check(lambda x, y: x.T @ y.T, lambda x, y: x.T @ y.T, [a, b], rng=rng)


# ---------------------------------------------------------------------------
# shape ops

SHAPE_OPS = {
    "reshape_args": ((2, 3, 4), lambda t: t.reshape(6, 4), lambda t: t.reshape(6, 4)),
    "reshape_tuple": ((2, 3, 4), lambda t: t.reshape((4, 6)), lambda t: t.reshape((4, 6))),
    "reshape_-1": ((2, 3, 4), lambda t: t.reshape(-1), lambda t: t.reshape(-1)),
    "reshape_infer": ((2, 3, 4), lambda t: t.reshape(3, -1, 2), lambda t: t.reshape(3, -1, 2)),
    "view": ((2, 3, 4), lambda t: t.view(2, 12), lambda t: t.view(2, 12)),
    "view_-1": ((2, 3, 4), lambda t: t.view(-1, 4), lambda t: t.view(-1, 4)),
    "transpose_01": ((2, 3, 4), lambda t: t.transpose(0, 1), lambda t: t.transpose(0, 1)),
    "transpose_02": ((2, 3, 4), lambda t: t.transpose(0, 2), lambda t: t.transpose(0, 2)),
    "transpose_neg": ((2, 3, 4), lambda t: t.transpose(-1, -2), lambda t: t.transpose(-1, -2)),
    "transpose_same": ((2, 3, 4), lambda t: t.transpose(1, 1), lambda t: t.transpose(1, 1)),
    "transpose_2d": ((3, 4), lambda t: t.transpose(0, 1), lambda t: t.transpose(0, 1)),
    "permute_args": ((2, 3, 4), lambda t: t.permute(2, 0, 1), lambda t: t.permute(2, 0, 1)),
    "permute_tuple": ((2, 3, 4), lambda t: t.permute((1, 2, 0)), lambda t: t.permute((1, 2, 0))),
    "permute_neg": ((2, 3, 4), lambda t: t.permute(-1, 0, 1), lambda t: t.permute(-1, 0, 1)),
    "T_2d": ((3, 4), lambda t: t.T, lambda t: t.T),
    "T_3d": ((2, 3, 4), lambda t: t.T, lambda t: t.permute(2, 1, 0)),
    "t_2d": ((3, 4), lambda t: t.t(), lambda t: t.t()),
    "unsqueeze_0": ((3, 4), lambda t: t.unsqueeze(0), lambda t: t.unsqueeze(0)),
    "unsqueeze_1": ((3, 4), lambda t: t.unsqueeze(1), lambda t: t.unsqueeze(1)),
    "unsqueeze_-1": ((3, 4), lambda t: t.unsqueeze(-1), lambda t: t.unsqueeze(-1)),
    "unsqueeze_-3": ((3, 4), lambda t: t.unsqueeze(-3), lambda t: t.unsqueeze(-3)),
    "squeeze_all": ((1, 3, 1, 4), lambda t: t.squeeze(), lambda t: t.squeeze()),
    "squeeze_dim": ((1, 3, 1, 4), lambda t: t.squeeze(2), lambda t: t.squeeze(2)),
    "squeeze_neg": ((1, 3, 1, 4), lambda t: t.squeeze(-2), lambda t: t.squeeze(-2)),
    "squeeze_noop": ((1, 3, 1, 4), lambda t: t.squeeze(1), lambda t: t.squeeze(1)),
    "flatten": ((2, 3, 4), lambda t: t.flatten(), lambda t: t.flatten()),
    "flatten_1": ((2, 3, 4), lambda t: t.flatten(1), lambda t: t.flatten(1)),
    "flatten_0_1": ((2, 3, 4), lambda t: t.flatten(0, 1), lambda t: t.flatten(0, 1)),
    "flatten_kw": ((2, 3, 4, 2), lambda t: t.flatten(start_dim=1, end_dim=2),
                   lambda t: t.flatten(start_dim=1, end_dim=2)),
    "expand_row": ((1, 4), lambda t: t.expand(3, 4), lambda t: t.expand(3, 4)),
    "expand_new_dims": ((3, 1), lambda t: t.expand(2, 3, 4), lambda t: t.expand(2, 3, 4)),
    "expand_-1": ((3, 1), lambda t: t.expand(-1, 5), lambda t: t.expand(-1, 5)),
    "expand_tuple": ((4,), lambda t: t.expand((2, 4)), lambda t: t.expand((2, 4))),
    "expand_then_mul": ((3, 1), lambda t: t.expand(3, 4) * t, lambda t: t.expand(3, 4) * t),
    "chain": ((2, 3, 4), lambda t: t.permute(1, 0, 2).reshape(3, 8).T.unsqueeze(0).sum(1),
              lambda t: t.permute(1, 0, 2).reshape(3, 8).T.unsqueeze(0).sum(1)),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("op", list(SHAPE_OPS))
def test_shape_ops(op, dtype):
    shape, fs, ft = SHAPE_OPS[op]
    rng = _rng(op, dtype)
    check(fs, ft, [make(shape, dtype, rng)], rng=rng)


# ---------------------------------------------------------------------------
# indexing

_MASK = np.array([[True, False, True, False, False],
                  [False, False, False, False, True],
                  [True, True, False, False, True],
                  [False, False, False, False, False]])

INDEXES = {
    "int": 1,
    "neg_int": -1,
    "two_ints": (2, 3),
    "slice": slice(1, 3),
    "step_slice": slice(None, None, 2),
    "neg_slice": slice(-3, None),
    "col": (slice(None), 1),
    "ellipsis": (Ellipsis, 0),
    "none": (None, 1),
    "int_list_repeats": [0, 2, 0, 0],
    "int_array_repeats": np.array([3, 1, 3]),
    "neg_int_array": np.array([-1, 0, -1]),
    "2d_int_array": np.array([[0, 1], [1, 1]]),
    "pair_arrays": (np.array([0, 1, 0]), np.array([2, 2, 2])),
    "slice_and_array": (slice(1, None), np.array([0, 0, 4])),
    "array_and_int": (np.array([2, 2]), 1),
    "mask_2d": _MASK,
    "mask_rows": np.array([True, False, True, True]),
    "mask_cols": (slice(None), np.array([False, True, True, False, True])),
}


def _torch_index(index):
    if isinstance(index, np.ndarray):
        return torch.from_numpy(index)
    if isinstance(index, list):
        return torch.tensor(index)
    if isinstance(index, tuple):
        return tuple(_torch_index(i) for i in index)
    return index


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(INDEXES))
def test_indexing(name, dtype):
    index = INDEXES[name]
    rng = _rng("idx", name, dtype)
    x = make((4, 5), dtype, rng)
    t_index = _torch_index(index)
    check(lambda t: t[index], lambda t: t[t_index], [x], rng=rng)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_indexing_with_index_tensors(dtype):
    rng = _rng("idx_tensor", dtype)
    x = make((4, 5), dtype, rng)
    idx = np.array([1, 1, 3, 1])
    check(lambda t: t[sorix.tensor(idx)], lambda t: t[torch.from_numpy(idx)], [x], rng=rng)
    mask = x > 0
    check(lambda t: t[sorix.tensor(mask)], lambda t: t[torch.from_numpy(mask)], [x], rng=rng)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_repeated_index_gradient_accumulates(dtype):
    x = sorix.tensor(np.arange(4, dtype=dtype), requires_grad=True)
    y = x[[1, 1, 1, 3]]
    (y * sorix.tensor(np.array([1.0, 2.0, 3.0, 4.0], dtype))).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.array([0, 6, 0, 4], dtype))
    assert x.grad.data.dtype == dtype


# ---------------------------------------------------------------------------
# composite expressions

@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_composite_network(dtype):
    rng = _rng("net", dtype)
    X = make((6, 4), dtype, rng)
    W = make((4, 3), dtype, rng)
    b = make((1, 3), dtype, rng)

    def f(x, w, bias):
        h = (x @ w + bias).tanh()
        return (h.log_softmax(dim=1)[np.arange(6), np.array([0, 2, 1, 1, 0, 2])]).mean() \
            + (w ** 2).sum() * 0.01 + h.relu().std()

    def g(x, w, bias):
        h = (x @ w + bias).tanh()
        idx = (torch.arange(6), torch.tensor([0, 2, 1, 1, 0, 2]))
        return h.log_softmax(dim=1)[idx].mean() + (w ** 2).sum() * 0.01 + h.relu().std()

    check(f, g, [X, W, b], rng=rng)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_shared_input_used_many_times(dtype):
    rng = _rng("shared", dtype)
    x = make((3, 4), dtype, rng, "positive")
    f = lambda t: (t * t.exp() / t.sqrt() - t.log() * t.sum(0)).sigmoid() ** 2 + t.T.mean(1)[0]
    check(f, f, [x], rng=rng)


# ---------------------------------------------------------------------------
# result dtypes

def _s(arr, grad=False):
    return sorix.tensor(np.asarray(arr), requires_grad=grad)


def _t(arr, grad=False):
    return torch.tensor(np.asarray(arr), requires_grad=grad)


DTYPE_CASES = {
    "f32*pyfloat": (lambda m: m(np.ones(3, np.float32)) * 2.5),
    "pyfloat*f32": (lambda m: 2.5 * m(np.ones(3, np.float32))),
    "f32*pyint": (lambda m: m(np.ones(3, np.float32)) * 2),
    "f32/pyint": (lambda m: m(np.ones(3, np.float32)) / 3),
    "pyint/f32": (lambda m: 3 / m(np.ones(3, np.float32))),
    "f32-pyfloat": (lambda m: 1.5 - m(np.ones(3, np.float32))),
    "f32**2": (lambda m: m(np.ones(3, np.float32)) ** 2),
    "f32**0.5": (lambda m: m(np.ones(3, np.float32)) ** 0.5),
    "2.0**f32": (lambda m: 2.0 ** m(np.ones(3, np.float32))),
    "f32*f64_0d": (lambda m: m(np.ones(3, np.float32)) * m(np.float64(2.0))),
    "f64_0d*f32": (lambda m: m(np.float64(2.0)) * m(np.ones(3, np.float32))),
    "f32+f64_0d": (lambda m: m(np.ones((2, 3), np.float32)) + m(np.float64(2.0))),
    "f32**f64_0d": (lambda m: m(np.ones(3, np.float32)) ** m(np.float64(2.0))),
    "f32*f64_1d": (lambda m: m(np.ones(3, np.float32)) * m(np.ones(3, np.float64))),
    "f32_0d*f64_0d": (lambda m: m(np.float32(1.0)) * m(np.float64(2.0))),
    "f64*pyfloat": (lambda m: m(np.ones(3, np.float64)) * 2.5),
    "f32@f32": (lambda m: m(np.ones((2, 3), np.float32)) @ m(np.ones(3, np.float32))),
    "i64*pyint": (lambda m: m(np.ones(3, np.int64)) * 2),
    "i64*pyfloat": (lambda m: m(np.ones(3, np.int64)) * 2.5),
    "i64/pyint": (lambda m: m(np.ones(3, np.int64)) / 2),
    "i64+f32_0d": (lambda m: m(np.ones(3, np.int64)) + m(np.float32(1.0))),
    "i64+f64_0d": (lambda m: m(np.ones(3, np.int64)) + m(np.float64(1.0))),
    "i64+f32_1d": (lambda m: m(np.ones(3, np.int64)) + m(np.ones(3, np.float32))),
    "f32*i32_2d": (lambda m: m(np.ones((2, 3), np.float32)) * m(np.ones((2, 3), np.int32))),
    "f32_0d+i64_0d": (lambda m: m(np.float32(1.0)) + m(np.int64(2))),
    "bool*f32": (lambda m: m(np.ones(3, bool)) * m(np.ones(3, np.float32))),
    "f16+i64": (lambda m: m(np.ones(3, np.float16)) + m(np.ones(3, np.int64))),
    "i32+i64_0d": (lambda m: m(np.ones(3, np.int32)) + m(np.int64(1))),
    "f32_sum": (lambda m: m(np.ones((2, 3), np.float32)).sum()),
    "f64_sum": (lambda m: m(np.ones((2, 3), np.float64)).sum(1)),
    "f64_mean": (lambda m: m(np.ones((2, 3), np.float64)).mean()),
    "f32_mean": (lambda m: m(np.ones((2, 3), np.float32)).mean(0)),
    "f64_var": (lambda m: m(np.arange(6.0)).var()),
    "f32_std": (lambda m: m(np.arange(6, dtype=np.float32)).std()),
    "f64_max": (lambda m: m(np.arange(6.0)).max()),
    "f32_softmax": (lambda m: m(np.ones((2, 3), np.float32)).softmax(-1)),
    "f64_log_softmax": (lambda m: m(np.ones((2, 3), np.float64)).log_softmax(-1)),
    "i64_sum": (lambda m: m(np.ones(3, np.int64)).sum()),
    "bool_sum": (lambda m: m(np.ones(3, bool)).sum()),
    "f32_exp": (lambda m: m(np.ones(3, np.float32)).exp()),
    "f32_sigmoid": (lambda m: m(np.ones(3, np.float32)).sigmoid()),
    "f32_clamp": (lambda m: m(np.ones(3, np.float32)).clamp(0, 0.5)),
}


@pytest.mark.parametrize("case", list(DTYPE_CASES))
def test_result_dtype(case):
    fn = DTYPE_CASES[case]
    out_s = fn(_s)
    out_t = fn(_t)
    assert out_s.data.dtype == _torch_np_dtype(out_t.dtype), (out_s.data.dtype, out_t.dtype)
    assert out_s.dtype == _torch_np_dtype(out_t.dtype)
    np.testing.assert_allclose(out_s.data, out_t.numpy(), rtol=1e-6)


def test_python_list_defaults_like_torch():
    assert sorix.tensor([1.0, 2.0]).data.dtype == _torch_np_dtype(torch.tensor([1.0, 2.0]).dtype)
    assert sorix.tensor([1, 2]).data.dtype == _torch_np_dtype(torch.tensor([1, 2]).dtype)
    assert sorix.tensor([True]).data.dtype == _torch_np_dtype(torch.tensor([True]).dtype)


@pytest.mark.parametrize("pair", [(np.float32, np.float64), (np.float64, np.float32)], ids=str)
def test_mixed_dtype_gradients_keep_their_dtypes(pair):
    """f32 (3,) * f64 0-d: each gradient comes back in its own tensor's dtype."""
    rng = _rng("mixed", pair)
    a = np.asarray(rng.standard_normal(3), pair[0])
    b = np.asarray(rng.standard_normal(()), pair[1])
    out_s, _ = check(lambda x, y: (x * y).exp() + x / y, lambda x, y: (x * y).exp() + x / y,
                     [a, b], dtype=np.float32)
    assert out_s.data.dtype == pair[0]


# ---------------------------------------------------------------------------
# edge cases: 0-d tensors, kinks, extra shape spellings

@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("dim", [None, 0, -1, (0,)], ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
def test_reductions_of_0d_tensor(name, dim, dtype):
    """torch accepts dim 0 / -1 on a 0-d tensor and reduces nothing."""
    x = np.asarray(0.7, dtype)
    tname = {"max": "amax", "min": "amin"}.get(name, name)
    if dim is None:
        check(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x])
    else:
        for keep in (False, True):
            check(lambda t: getattr(t, name)(dim=dim, keepdim=keep),
                  lambda t: getattr(t, tname)(dim=dim, keepdim=keep), [x])


def test_reduction_dim_out_of_range_on_0d():
    with pytest.raises(IndexError):
        sorix.tensor(np.asarray(1.0)).sum(dim=1)


EDGE = {
    "transpose_no_args": ((3, 4), lambda t: t.transpose(), lambda t: t.T),
    "T_1d": ((4,), lambda t: t.T, lambda t: t),
    "squeeze_tuple": ((1, 3, 1, 4), lambda t: t.squeeze((0, 2)), lambda t: t.squeeze((0, 2))),
    "unsqueeze_0d": ((), lambda t: t.unsqueeze(0), lambda t: t.unsqueeze(0)),
    "flatten_0d": ((), lambda t: t.flatten(), lambda t: t.flatten()),
    "softmax_0d": ((), lambda t: t.softmax(0), lambda t: t.softmax(0)),
    "expand_0d": ((), lambda t: t.expand(2, 3), lambda t: t.expand(2, 3)),
    "index_none_0d": ((), lambda t: t[None], lambda t: t[None]),
    "ellipsis_0d": ((), lambda t: t[...], lambda t: t[...]),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("op", list(EDGE))
def test_shape_edge_cases(op, dtype):
    shape, fs, ft = EDGE[op]
    rng = _rng("edge", op, dtype)
    check(fs, ft, [make(shape, dtype, rng)], rng=rng)


KINKS = {
    "abs": (lambda t: t.abs(), lambda t: t.abs(), [0.0, -0.0, 1.0, -2.0]),
    "relu": (lambda t: t.relu(), lambda t: t.relu(), [0.0, -0.0, 1.0, -2.0]),
    "leaky_relu": (lambda t: t.leaky_relu(0.1),
                   lambda t: torch.nn.functional.leaky_relu(t, 0.1), [0.0, -1.0, 2.0]),
    "clamp_at_bounds": (lambda t: t.clamp(0, 1), lambda t: t.clamp(0, 1),
                        [0.0, 1.0, 0.5, -1.0, 2.0]),
    "clamp_min_gt_max": (lambda t: t.clamp(0.5, -0.5), lambda t: t.clamp(0.5, -0.5),
                         [-1.0, 0.0, 1.0]),
    "sqrt_at_0": (lambda t: t.sqrt(), lambda t: t.sqrt(), [0.0, 4.0]),
    "square_at_0": (lambda t: t ** 2, lambda t: t ** 2, [0.0, -3.0]),
    "pow_half_at_0": (lambda t: t ** 0.5, lambda t: t ** 0.5, [0.0, 4.0]),
    "log_at_0": (lambda t: t.log(), lambda t: t.log(), [0.0, 1.0, 2.0]),
    "softmax_-inf": (lambda t: t.softmax(0), lambda t: t.softmax(0), [-np.inf, 0.0, 1.0]),
    "log_softmax_-inf": (lambda t: t.log_softmax(0), lambda t: t.log_softmax(0),
                         [-np.inf, 0.0, 1.0]),
    "sigmoid_huge": (lambda t: t.sigmoid(), lambda t: t.sigmoid(), [-800.0, 800.0, 0.0]),
    "tanh_huge": (lambda t: t.tanh(), lambda t: t.tanh(), [-30.0, 30.0, 1e-9]),
    "exp_large": (lambda t: t.exp(), lambda t: t.exp(), [-1000.0, 50.0, 0.0]),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("op", list(KINKS))
def test_kinks_and_extremes_follow_torch(op, dtype):
    fs, ft, values = KINKS[op]
    x = np.asarray(values, dtype)
    xs = sorix.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out_s, out_t = fs(xs), ft(xt)
    assert out_s.data.dtype == _torch_np_dtype(out_t.dtype)
    np.testing.assert_allclose(out_s.data, out_t.detach().numpy(), **TOL[np.dtype(dtype)])
    g = np.linspace(0.5, 1.5, x.size).astype(dtype)
    out_s.backward(g)
    out_t.backward(torch.from_numpy(g))
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), **TOL[np.dtype(dtype)])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_pow_tensor_exponent_at_zero_base(dtype):
    check(lambda a, b: a ** b, lambda a, b: a ** b,
          [np.array([0.0, 4.0, 0.0, 2.0], dtype), np.array([2.0, 0.5, 0.0, 0.0], dtype)])


OUT_OF_RANGE = [(dtype, scalar) for dtype in (np.uint8, np.int8, np.int16, np.int32)
                for scalar in (-1, -3, 200, 300, 70000, -(2**40) - 5)
                if not np.iinfo(dtype).min <= scalar <= np.iinfo(dtype).max]


@pytest.mark.parametrize("op", ["add", "sub", "mul", "radd", "rsub"])
@pytest.mark.parametrize("dtype, scalar", OUT_OF_RANGE, ids=str)
def test_integer_tensor_with_an_out_of_range_python_int_wraps_as_torch(dtype, scalar, op):
    """A Python int outside the tensor's integer range is weak, so it takes the tensor's
    dtype, wrapped around as a C cast does: as in PyTorch (NumPy refuses it)."""
    info = np.iinfo(dtype)
    values = np.array([0, 1, info.max, info.min], dtype)
    calls = {"add": lambda t: t + scalar, "sub": lambda t: t - scalar,
             "mul": lambda t: t * scalar, "radd": lambda t: scalar + t,
             "rsub": lambda t: scalar - t}
    got = calls[op](sorix.tensor(values))
    want = calls[op](torch.from_numpy(values))
    assert got.data.dtype == values.dtype
    np.testing.assert_array_equal(got.data, want.numpy())


@pytest.mark.parametrize("method", ["mean", "var", "std"])
def test_reduction_dtype_casts_the_input_first(method):
    """dtype=float64 on a float32 tensor sums in float64 (PyTorch casts the input; NumPy
    accumulates in the dtype): casting the float32 result would keep float32's rounding."""
    values = np.array([0.1, 0.1, 0.1, 1e8, 3.3, -7.25], np.float32)
    got = getattr(sorix.tensor(values), method)(dtype=sorix.float64)
    exact = values.astype(np.float64)
    want = {"mean": exact.mean(), "var": exact.var(ddof=1), "std": exact.std(ddof=1)}[method]
    assert got.dtype == sorix.float64
    np.testing.assert_allclose(got.item(), want, rtol=1e-15)
