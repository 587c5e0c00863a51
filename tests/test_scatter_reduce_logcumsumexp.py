"""logcumsumexp and scatter_reduce (and scatter's reduce=) against PyTorch: values,
gradients of self and src (float64 and float32), extreme values, ties, zeros, a
second-order check, in-place forms and the errors."""
import warnings

import numpy as np
import pytest

import sorix

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
INF = np.inf


def close(s, t, dtype=np.float64, what=""):
    expected = t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)
    assert tuple(s.shape) == expected.shape, (what, tuple(s.shape), expected.shape)
    np.testing.assert_allclose(s.data, expected, equal_nan=True, err_msg=what, **TOL[dtype])


def both(arrays, s_fn, t_fn, dtype, seed=0):
    """Values and every float input's gradient, sorix against torch."""
    xs = [sorix.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    out, ref = s_fn(*xs), t_fn(*ts)
    close(out, ref, dtype, "value")
    up = np.random.default_rng(seed).standard_normal(tuple(ref.shape)).astype(dtype)
    out.backward(sorix.tensor(up))
    ref.backward(torch.tensor(up))
    for i, (x, t) in enumerate(zip(xs, ts)):
        if t.grad is not None:
            close(x.grad, t.grad, dtype, f"gradient of input {i}")
    return out


# ---- logcumsumexp --------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_logcumsumexp_random_every_dim(dim, dtype):
    a = np.random.default_rng(1).standard_normal((3, 4, 2)).astype(dtype) * 3
    both([a], lambda x: x.logcumsumexp(dim), lambda t: torch.logcumsumexp(t, dim), dtype)
    both([a], lambda x: sorix.logcumsumexp(x, dim=dim), lambda t: t.logcumsumexp(dim), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logcumsumexp_extreme_values_and_minus_infinity(dtype):
    a = np.array([[-1000.0, 1000.0, -INF, 3.0],
                  [1000.0, 999.0, -1000.0, -INF],
                  [-INF, -INF, 2.0, 1000.0],
                  [-INF, -INF, -INF, -INF]], dtype)  # the last row all -inf
    for dim in (0, 1):
        out = both([a], lambda x: x.logcumsumexp(dim), lambda t: t.logcumsumexp(dim), dtype)
        assert not np.isnan(out.data).any()
    # large inputs: the gradient stays finite (no exp(-out) overflow)
    big = np.array([1000.0, 1000.0, -1000.0, 1000.0], dtype)
    x = sorix.tensor(big, requires_grad=True)
    x.logcumsumexp(0).sum().backward()
    assert np.isfinite(x.grad.data).all()


def test_logcumsumexp_infinity_nan_zero_d_and_empty():
    close(sorix.tensor([INF, 1.0, np.nan]).logcumsumexp(0),
          torch.logcumsumexp(torch.tensor([INF, 1.0, np.nan]), 0))
    close(sorix.tensor(np.float64(2.5)).logcumsumexp(0), torch.tensor(2.5, dtype=torch.float64))
    for shape, dim in [((0, 3), 0), ((0, 3), 1), ((2, 0), 1)]:
        x = sorix.tensor(np.zeros(shape), requires_grad=True)
        out = x.logcumsumexp(dim)
        assert tuple(out.shape) == shape
        out.sum().backward()
        assert tuple(x.grad.shape) == shape
    np.testing.assert_allclose(sorix.logcumsumexp(np.array([0.0, 0.0]), 0),  # arrays: NumPy
                               [0.0, np.log(2.0)])


def test_logcumsumexp_of_float32_extremes_is_quiet_and_exact():
    a = np.array([[80.0, -80.0, 3e38, -3e38], [0.0, 88.0, -88.0, 1.0]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no overflow warning for a finite result)
        out = sorix.tensor(a).logcumsumexp(1)
    close(out, torch.logcumsumexp(torch.tensor(a), 1))


def test_logcumsumexp_double_backward_matches_torch():
    a = np.random.default_rng(2).standard_normal((3, 4))
    a[0, 1] = 40.0
    up = np.random.default_rng(3).standard_normal((3, 4))
    w = np.random.default_rng(4).standard_normal((3, 4))
    for dim in (0, 1):
        x, t = sorix.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        g, = sorix.autograd.grad(x.logcumsumexp(dim), x, grad_outputs=sorix.tensor(up),
                                 create_graph=True)
        tg, = torch.autograd.grad(t.logcumsumexp(dim), t, grad_outputs=torch.tensor(up),
                                  create_graph=True)
        close(g, tg)
        h, = sorix.autograd.grad((g * sorix.tensor(w)).sum(), x)
        th, = torch.autograd.grad((tg * torch.tensor(w)).sum(), t)
        close(h, th)


def test_logcumsumexp_errors():
    with pytest.raises(TypeError, match="floating point"):
        sorix.tensor([1, 2, 3]).logcumsumexp(0)
    with pytest.raises(Exception, match="dim|dimension"):
        sorix.tensor([1.0, 2.0]).logcumsumexp(2)
    with pytest.raises(TypeError, match="needs a dimension"):
        sorix.tensor([1.0, 2.0]).logcumsumexp()


# ---- scatter_reduce ------------------------------------------------------------------------

SELF = np.array([[2.0, 3.0, 0.0, 5.0], [1.0, -1.0, 4.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
SRC = np.array([[2.0, 2.0, 1.0, 0.0, 4.0], [0.0, 4.0, 4.0, -1.0, 0.0], [2.0, 7.0, 2.0, 2.0, 1.0]])
# duplicate positions in every row; row 0 ties self and src, row 1 has zeros twice at 0
INDEX = np.array([[0, 0, 1, 2, 2], [0, 3, 2, 2, 0], [1, 1, 1, 3, 0]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_values_and_gradients(reduce, include_self, dtype):
    x, src = SELF.astype(dtype), SRC.astype(dtype)
    if not include_self and reduce in ("amax", "amin"):
        # PyTorch counts self among the ties even when it is left out (its gradient then
        # sums to less than the upstream one); sorix does not: keep self away from ties
        x = x + dtype(0.25)
    both([x, src], lambda a, b: a.scatter_reduce(1, sorix.tensor(INDEX), b, reduce,
                                                 include_self=include_self),
         lambda a, b: a.scatter_reduce(1, torch.tensor(INDEX), b, reduce,
                                       include_self=include_self), dtype)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_dim0_larger_src_and_function_form(reduce):
    rng = np.random.default_rng(5)
    x, src = rng.integers(-2, 3, (3, 2)).astype(float), rng.integers(-2, 3, (4, 3)).astype(float)
    index = np.array([[0, 1], [0, 0], [2, 1]])
    both([x, src[:3, :2].copy()], lambda a, b: sorix.scatter_reduce(a, 0, index, b, reduce),
         lambda a, b: torch.scatter_reduce(a, 0, torch.tensor(index), b, reduce),
         np.float64)
    # a src larger than the index: its leading block is used (PyTorch's backward refuses
    # that shape, so the gradient is checked against the block's)
    big = sorix.tensor(src, requires_grad=True)
    out = sorix.scatter_reduce(sorix.tensor(x), 0, index, big, reduce)
    close(out, torch.scatter_reduce(torch.tensor(x), 0, torch.tensor(index),
                                    torch.tensor(src), reduce))
    out.sum().backward()
    block = sorix.tensor(src[:3, :2].copy(), requires_grad=True)
    sorix.scatter_reduce(sorix.tensor(x), 0, index, block, reduce).sum().backward()
    expected = np.zeros_like(src)
    expected[:3, :2] = block.grad.data
    np.testing.assert_allclose(big.grad.data, expected)


def test_extremum_ties_share_the_gradient_evenly_and_fully():
    x = sorix.tensor([4.0, 3.0], requires_grad=True)
    src = sorix.tensor([4.0, 4.0, 1.0], requires_grad=True)
    x.scatter_reduce(0, [0, 0, 1], src, "amax").backward(sorix.tensor([3.0, 1.0]))
    np.testing.assert_allclose(x.grad.data, [1.0, 1.0])
    np.testing.assert_allclose(src.grad.data, [1.0, 1.0, 0.0])
    # left out, self's equal value takes no share (PyTorch would give each src 1.5 / 3)
    x.grad = src.grad = None
    x.scatter_reduce(0, [0, 0], src[:2], "amax", include_self=False).backward(
        sorix.tensor([3.0, 1.0]))
    np.testing.assert_allclose(src.grad.data, [1.5, 1.5, 0.0])
    np.testing.assert_allclose(x.grad.data, [0.0, 1.0])


def test_prod_second_order_with_a_zero_matches_torch():
    a, b = np.array([2.0, 0.0, 3.0]), np.array([0.0, 5.0, 2.0, -1.0])
    index = np.array([0, 0, 1, 2])
    x, s = sorix.tensor(a, requires_grad=True), sorix.tensor(b, requires_grad=True)
    tx, ts = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    gx, gs = sorix.autograd.grad(x.scatter_reduce(0, index, s, "prod").sum(), (x, s),
                                 create_graph=True)
    tgx, tgs = torch.autograd.grad(tx.scatter_reduce(0, torch.tensor(index), ts, "prod").sum(),
                                   (tx, ts), create_graph=True)
    close(gx, tgx)
    close(gs, tgs)
    hx, hs = sorix.autograd.grad((gx * gx).sum() + gs.sum(), (x, s))
    thx, ths = torch.autograd.grad((tgx * tgx).sum() + tgs.sum(), (tx, ts))
    close(hx, thx)
    close(hs, ths)


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_integers_and_in_place(reduce, include_self):
    x, src = np.array([5, 7, 9, -3]), np.array([2, 3, 4, -8, 6])
    index = np.array([0, 0, 1, 3, 3])
    expected = torch.tensor(x).scatter_reduce(0, torch.tensor(index), torch.tensor(src), reduce,
                                              include_self=include_self)
    out = sorix.tensor(x).scatter_reduce(0, index, sorix.tensor(src), reduce,
                                         include_self=include_self)
    assert out.data.dtype == np.int64
    np.testing.assert_array_equal(out.data, expected.numpy())
    y = sorix.tensor(x.astype(float))
    assert y.scatter_reduce_(0, index, sorix.tensor(src.astype(float)), reduce,
                             include_self=include_self) is y
    np.testing.assert_allclose(y.data, torch.tensor(x.astype(float)).scatter_reduce_(
        0, torch.tensor(index), torch.tensor(src.astype(float)), reduce,
        include_self=include_self).numpy())


def test_scatter_reduce_zero_d_and_empty_index():
    out = sorix.tensor(3.0).scatter_reduce(0, sorix.tensor(0), sorix.tensor(5.0), "amax")
    close(out, torch.tensor(3.0, dtype=torch.float64).scatter_reduce(
        0, torch.tensor(0), torch.tensor(5.0, dtype=torch.float64), "amax"))
    x = sorix.tensor(np.array([1.0, 2.0]), requires_grad=True)
    out = x.scatter_reduce(0, np.zeros(0, np.int64), sorix.tensor(np.zeros(0)), "prod")
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])
    np.testing.assert_array_equal(out.data, [1.0, 2.0])


# ---- scatter(..., reduce=) --------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@pytest.mark.parametrize("reduce", ["add", "multiply"])
def test_scatter_with_reduce_values(reduce):
    x, src = SELF, SRC
    t_index = torch.tensor(INDEX)
    expected = torch.tensor(x).scatter(1, t_index, torch.tensor(src), reduce=reduce)
    close(sorix.tensor(x).scatter(1, INDEX, sorix.tensor(src), reduce=reduce), expected)
    close(sorix.scatter(sorix.tensor(x), 1, INDEX, 1.5, reduce=reduce),
          torch.tensor(x).scatter(1, t_index, 1.5, reduce=reduce))
    y = sorix.tensor(x.copy())
    y.scatter_(1, INDEX, sorix.tensor(src), reduce=reduce)
    close(y, expected)


# ---- errors -------------------------------------------------------------------------------------

def test_scatter_reduce_errors():
    x, src = sorix.tensor([1.0, 2.0, 3.0]), sorix.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="reduce must be one of sum, prod, mean, amax, amin"):
        x.scatter_reduce(0, [0, 1], src, "median")
    with pytest.raises(RuntimeError, match="use 'amax' or 'amin'"):
        x.scatter_reduce(0, [0, 1], src, "max")
    with pytest.raises(RuntimeError, match="reduce must be 'add' or 'multiply'"):
        x.scatter(0, [0, 1], src, reduce="mean")
    with pytest.raises(TypeError, match="index must hold integers"):
        x.scatter_reduce(0, np.array([0.0, 1.0]), src, "sum")
    with pytest.raises(RuntimeError, match="needs as many dimensions"):
        x.scatter_reduce(0, np.array([[0, 1]]), src, "sum")
    with pytest.raises(RuntimeError, match="exceeds the source's size"):
        x.scatter_reduce(0, [0, 1, 2], src, "sum")
    with pytest.raises(IndexError, match="out of range"):
        x.scatter_reduce(0, [0, 3], src, "sum")
    with pytest.raises(RuntimeError, match="dtype"):
        x.scatter_reduce(0, [0, 1], sorix.tensor([1, 2]), "sum")
    with pytest.raises(TypeError, match="numeric tensor, got bool"):  # (PyTorch refuses too)
        sorix.tensor([True, False]).scatter_reduce(0, [0, 0], sorix.tensor([True, True]),
                                                   "mean")
