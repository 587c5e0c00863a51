"""Pooling (MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and their functional forms) and the
reshaping layers (Flatten, Unflatten, Identity): against PyTorch in float32 and float64,
finite differences in float64, argument checks."""
import numpy as np
import pytest

import sorix
import sorix.nn as nn
import sorix.nn.functional as F
from sorix import config
from sorix.autograd import gradcheck

from conftest import DTYPES, normal

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def check_both(fn_sorix, fn_torch, x, dtype, exact_forward=False):
    """Forward values and the input gradient (for one random upstream gradient) agree."""
    xs, xt = sorix.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ys, yt = fn_sorix(xs), fn_torch(xt)
    assert ys.dtype == xs.dtype
    assert tuple(ys.shape) == tuple(yt.shape)
    if exact_forward:
        np.testing.assert_array_equal(ys.data, yt.detach().numpy())
    else:
        np.testing.assert_allclose(ys.data, yt.detach().numpy(), **TOL[dtype])
    g = normal(tuple(yt.shape), dtype, 7)
    ys.backward(sorix.tensor(g))
    yt.backward(torch.tensor(g))
    assert xs.grad.dtype == xs.dtype
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), **TOL[dtype])


# ---- max pooling --------------------------------------------------------------------------

MAX_POOL = [
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((2, 3, 9, 7), dict(kernel_size=3, stride=2)),
    ((2, 3, 9, 7), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1))),
    ((2, 2, 10, 9), dict(kernel_size=3, stride=2, dilation=2, padding=1)),
    ((2, 2, 9, 9), dict(kernel_size=2, ceil_mode=True)),
    ((2, 2, 10, 11), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 1, 4, 4), dict(kernel_size=3, stride=1)),  # overlapping windows
    ((3, 7, 6), dict(kernel_size=2)),  # unbatched
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kwargs", MAX_POOL)
def test_max_pool2d_matches_torch(shape, kwargs, dtype):
    x = normal(shape, dtype, len(shape))
    check_both(lambda t: F.max_pool2d(t, **kwargs),
               lambda t: torch.nn.functional.max_pool2d(t, **kwargs), x, dtype,
               exact_forward=True)
    check_both(lambda t: nn.MaxPool2d(**kwargs)(t), lambda t: torch.nn.MaxPool2d(**kwargs)(t),
               x, dtype, exact_forward=True)


@pytest.mark.parametrize("shape, kwargs", MAX_POOL)
def test_max_pool2d_indices_match_torch(shape, kwargs):
    x = normal(shape, np.float32, 1)
    _, ours = F.max_pool2d(sorix.tensor(x), return_indices=True, **kwargs)
    _, ref = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kwargs)
    assert ours.dtype == sorix.int64
    np.testing.assert_array_equal(ours.data, ref.numpy())
    _, module_indices = nn.MaxPool2d(return_indices=True, **kwargs)(sorix.tensor(x))
    np.testing.assert_array_equal(module_indices.data, ref.numpy())


def test_max_pool2d_ties_nan_and_infinity_follow_torch():
    x = np.zeros((1, 2, 4, 4), np.float32)  # all ties: the first position of each window wins
    x[0, 1] = -np.inf
    x[0, 1, 0, 1] = np.nan  # a NaN wins its window
    x[0, 1, 2:, 2:] = [[1.0, np.nan], [np.nan, 2.0]]  # two NaNs: PyTorch keeps the last
    for kwargs in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1)):
        ys, si = F.max_pool2d(sorix.tensor(x), return_indices=True, **kwargs)
        yt, ti = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kwargs)
        np.testing.assert_array_equal(ys.data, yt.numpy())
        np.testing.assert_array_equal(si.data, ti.numpy())
    check_both(lambda t: F.max_pool2d(t, 2), lambda t: torch.nn.functional.max_pool2d(t, 2),
               x, np.float32, exact_forward=True)


@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("shape, kwargs", [
    ((3, 4, 12, 10), dict(kernel_size=2)),
    ((2, 3, 7, 9), dict(kernel_size=2, stride=1)),
    ((2, 2, 9, 8), dict(kernel_size=2, stride=(3, 2), padding=1)),
    ((2, 2, 9, 9), dict(kernel_size=2, ceil_mode=True)),
    ((1, 1, 2, 2), dict(kernel_size=2)),
    ((2, 3, 11, 10), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 2, 10, 11), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((2, 2, 7, 6), dict(kernel_size=3, stride=1)),
    ((1, 2, 3, 3), dict(kernel_size=3, padding=1)),
])
def test_unrolled_max_pool_kernel_equals_the_general_one(shape, kwargs, threaded, monkeypatch):
    """2x2 and 3x3 windows without dilation have a kernel of their own: the same maxima and
    positions as the general kernel, ties (a coarse grid of values), NaN, infinities,
    padding and windows over the edge included."""
    from sorix.kernels import pool
    from sorix.kernels.variants import variant
    if threaded:
        monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 1)
        monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)
    rng = np.random.default_rng(3)
    x = rng.integers(-2, 3, shape).astype(np.float32)  # many ties
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, max(1, flat.size // 9), replace=False)] = np.nan
    flat[rng.choice(flat.size, max(1, flat.size // 13), replace=False)] = -np.inf
    values, index = F.max_pool2d(sorix.tensor(x), return_indices=True, **kwargs)
    k = kwargs["kernel_size"]
    stride = kwargs.get("stride", k)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    pad = kwargs.get("padding", 0)
    settings = (k, k, sh, sw, pad, pad, 1, 1)
    assert pool.takes_unrolled(settings)
    want_values = np.empty(values.shape, np.float32)
    want_index = np.empty(values.shape, np.int64)
    variant(pool.max_pool, False)(x, want_values, want_index, *settings)
    np.testing.assert_array_equal(values.data, want_values)
    np.testing.assert_array_equal(index.data, want_index)


def test_which_poolings_take_the_unrolled_kernel():
    from sorix.kernels import pool
    assert pool.takes_unrolled((2, 2, 2, 2, 0, 0, 1, 1))
    assert pool.takes_unrolled((3, 3, 2, 2, 1, 1, 1, 1))
    assert not pool.takes_unrolled((2, 2, 2, 2, 0, 0, 2, 2))  # dilation
    assert not pool.takes_unrolled((3, 2, 2, 1, 1, 1, 1, 1))  # not square
    assert not pool.takes_unrolled((4, 4, 2, 2, 0, 0, 1, 1))


def test_max_pool2d_overlapping_windows_accumulate():
    """One input that is the maximum of several windows gets all their gradients."""
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0
    t = sorix.tensor(x, requires_grad=True)
    F.max_pool2d(t, 2, stride=1).sum().backward()
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 1] = 4.0
    np.testing.assert_array_equal(t.grad.data, expected)


# ---- average pooling ----------------------------------------------------------------------

AVG_POOL = [
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((2, 3, 9, 7), dict(kernel_size=3, stride=2)),
    ((2, 3, 9, 7), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1))),
    ((2, 3, 9, 7), dict(kernel_size=3, padding=1, stride=2, count_include_pad=False)),
    ((2, 2, 9, 9), dict(kernel_size=2, ceil_mode=True)),
    ((2, 2, 10, 11), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((2, 2, 10, 11), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                          count_include_pad=False)),
    ((2, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1, divisor_override=5)),
    ((3, 7, 6), dict(kernel_size=2, stride=1)),  # unbatched, overlapping
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kwargs", AVG_POOL)
def test_avg_pool2d_matches_torch(shape, kwargs, dtype):
    x = normal(shape, dtype, len(shape) + 1)
    check_both(lambda t: F.avg_pool2d(t, **kwargs),
               lambda t: torch.nn.functional.avg_pool2d(t, **kwargs), x, dtype)
    check_both(lambda t: nn.AvgPool2d(**kwargs)(t), lambda t: torch.nn.AvgPool2d(**kwargs)(t),
               x, dtype)


ADAPTIVE = [
    ((2, 3, 8, 8), 4),  # divides: a plain 2x2 average pool
    ((2, 3, 7, 5), (3, 4)),  # does not divide: overlapping windows of two sizes
    ((2, 3, 5, 6), (7, 9)),  # larger than the input: inputs repeat
    ((2, 3, 7, 5), (None, 2)),  # None keeps the input's size
    ((2, 3, 6, 6), 1),  # global average pooling
    ((3, 7, 5), (2, 3)),  # unbatched
    ((3, 7, 5), (1, None)),  # unbatched, averaged over H only
    ((3, 7, 5), 1),  # unbatched global average pooling
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, size", ADAPTIVE)
def test_adaptive_avg_pool2d_matches_torch(shape, size, dtype):
    x = normal(shape, dtype, 3)
    check_both(lambda t: F.adaptive_avg_pool2d(t, size),
               lambda t: torch.nn.functional.adaptive_avg_pool2d(t, size), x, dtype)
    check_both(lambda t: nn.AdaptiveAvgPool2d(size)(t),
               lambda t: torch.nn.AdaptiveAvgPool2d(size)(t), x, dtype)


def test_threaded_pooling_kernels(monkeypatch):
    monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)  # threads even on a busy machine
    x = normal((3, 4, 9, 8), np.float32, 4)
    check_both(lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: torch.nn.functional.max_pool2d(
        t, 3, 2, 1), x, np.float32, exact_forward=True)
    check_both(lambda t: F.avg_pool2d(t, 3, 2, 1), lambda t: torch.nn.functional.avg_pool2d(
        t, 3, 2, 1), x, np.float32)


# ---- gradients by finite differences ------------------------------------------------------

def leaf64(shape, seed=0):
    # distinct values far apart, so a finite difference never changes the argmax
    values = np.random.default_rng(seed).permutation(int(np.prod(shape))).astype(np.float64)
    return sorix.tensor(values.reshape(shape) / 7.0, requires_grad=True)


@pytest.mark.parametrize("fn", [
    lambda t: F.max_pool2d(t, 2),
    lambda t: F.max_pool2d(t, 3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True),
    lambda t: F.avg_pool2d(t, 3, stride=2, padding=1, ceil_mode=True),
    lambda t: F.avg_pool2d(t, 3, stride=2, padding=1, count_include_pad=False),
    lambda t: F.adaptive_avg_pool2d(t, (3, 4)),
])
def test_pooling_gradcheck(fn):
    assert gradcheck(fn, (leaf64((2, 2, 7, 6)),))


@pytest.mark.parametrize("pool", [
    lambda t: F.max_pool2d(t, 2, stride=1),
    lambda t: F.avg_pool2d(t, 3, stride=2, padding=1),
    lambda t: F.adaptive_avg_pool2d(t, (2, 3)),
])
def test_pooling_second_order_gradcheck(pool):
    """Gradients taken with create_graph=True are differentiable in the upstream gradient and
    through it in the input."""
    x0 = leaf64((1, 2, 5, 5), 1)
    with sorix.no_grad():
        out_shape = tuple(pool(x0).shape)
    v = sorix.tensor(normal(out_shape, np.float64, 2))
    u = sorix.tensor(normal((1, 2, 5, 5), np.float64, 3))

    def first_grad(x):
        with sorix.enable_grad():
            y = pool(x * x)  # x * x: the upstream gradient of the pool depends on x
            (gx,) = sorix.autograd.grad(y, (x,), grad_outputs=v * 1.0, create_graph=True)
            return (gx * gx * u).sum()

    assert gradcheck(first_grad, (x0,))


# ---- argument checks -----------------------------------------------------------------------

@pytest.mark.parametrize("call, error, message", [
    (lambda x: F.max_pool2d(x, 3, padding=2), ValueError, "half"),
    (lambda x: F.avg_pool2d(x, 2, padding=2), ValueError, "half"),
    (lambda x: F.max_pool2d(x, 0), ValueError, "kernel_size"),
    (lambda x: F.max_pool2d(x, 2, stride=0), ValueError, "stride"),
    (lambda x: F.max_pool2d(x.reshape((4, 16)), 2), RuntimeError, "3-D .* or 4-D"),
    (lambda x: F.max_pool2d(x, 5), RuntimeError, "too small"),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=0), ValueError, "divisor_override"),
    (lambda x: F.adaptive_avg_pool2d(x, (2, 0)), ValueError, "output_size"),
    (lambda x: F.adaptive_avg_pool2d(x, (1, 2, 3)), ValueError, "pair"),
])
def test_pooling_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(sorix.zeros(1, 4, 4, 4))


def test_pooling_modules_repr_like_torch():
    assert repr(nn.MaxPool2d(2)) == repr(torch.nn.MaxPool2d(2))
    assert repr(nn.MaxPool2d((3, 2), 1, 1)) == repr(torch.nn.MaxPool2d((3, 2), 1, 1))
    assert repr(nn.AvgPool2d(2, padding=1)) == repr(torch.nn.AvgPool2d(2, padding=1))
    assert repr(nn.AdaptiveAvgPool2d((2, 3))) == repr(torch.nn.AdaptiveAvgPool2d((2, 3)))


# ---- Flatten, Unflatten, Identity ------------------------------------------------------------

@pytest.mark.parametrize("start, end", [(1, -1), (0, -1), (1, 2), (-3, -2), (2, 2)])
def test_flatten_matches_torch(start, end):
    x = normal((2, 3, 4, 5), np.float64, 0)
    check_both(lambda t: nn.Flatten(start, end)(t), lambda t: torch.nn.Flatten(start, end)(t),
               x, np.float64, exact_forward=True)
    check_both(lambda t: F.flatten(t, start, end), lambda t: torch.flatten(t, start, end),
               x, np.float64, exact_forward=True)


@pytest.mark.parametrize("dim, sizes", [(1, (3, 4)), (-1, (2, -1)), (0, (1, 2)), (1, (-1, 1, 2))])
def test_unflatten_matches_torch(dim, sizes):
    x = normal((2, 12, 4), np.float64, 0)
    if dim == -1:
        x = normal((2, 3, 4), np.float64, 0)
    check_both(lambda t: nn.Unflatten(dim, sizes)(t), lambda t: torch.nn.Unflatten(dim, sizes)(t),
               x, np.float64, exact_forward=True)
    check_both(lambda t: F.unflatten(t, dim, sizes), lambda t: torch.unflatten(t, dim, sizes),
               x, np.float64, exact_forward=True)


def test_unflatten_errors():
    x = sorix.zeros(2, 12)
    with pytest.raises(RuntimeError, match="multiply"):
        nn.Unflatten(1, (5, 2))(x)
    with pytest.raises(ValueError, match="at most one -1"):
        nn.Unflatten(1, (-1, -1))(x)
    with pytest.raises(IndexError, match="out of range"):
        nn.Unflatten(2, (3, 4))(x)


def test_identity_returns_its_input():
    x = sorix.tensor([1.0, 2.0], requires_grad=True)
    layer = nn.Identity(54, unused="argument")
    assert layer(x) is x
    assert list(layer.parameters()) == []


def test_flatten_after_conv_and_pool_feeds_linear():
    """The usual CNN head: the flattened features keep the batch dim and train end to end."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(2 * 3 * 3, 4))
    x = sorix.tensor(normal((5, 1, 6, 6), np.float32, 0))
    y = model(x)
    assert tuple(y.shape) == (5, 4)
    y.sum().backward()
    assert all(p.grad is not None and p.grad.data.any() for p in model.parameters())
