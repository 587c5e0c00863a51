"""Numerics at the edges, against PyTorch and closed forms: cross-entropy at large
logits, batches whose targets are all ignored, and the gradient of std at zero spread."""
import math

import numpy as np
import pytest

import sorix
import sorix.nn as nn
import sorix.nn.functional as F
from sorix import optim

from conftest import leaf

torch = pytest.importorskip("torch")
TF = torch.nn.functional


# ---- cross-entropy at large logits ----------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e4, 1e6, 1e7])
def test_equal_large_logits_give_log_c(scale, dtype):
    # every class equally likely: loss = log 3 exactly, gradient 1/3 - [c = t] per row / N
    x = np.full((2, 3), scale, dtype)
    s = leaf(x)
    loss = F.cross_entropy(s, sorix.tensor(np.array([0, 2])))
    loss.backward()
    assert abs(float(loss.item()) - math.log(3)) < (2e-7 if dtype == np.float32 else 1e-14)
    expected = (np.full((2, 3), 1 / 3) - np.eye(3)[[0, 2]]) / 2
    np.testing.assert_allclose(s.grad.data, expected, atol=1e-7 if dtype == np.float32 else 1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e4, 1e6, 1e7])
@pytest.mark.parametrize("targets", ["index", "probabilities"])
def test_large_logits_match_torch(scale, dtype, targets):
    rng = np.random.default_rng(3)
    # logits spread over a few units around a large offset, plus far-off classes
    x = (scale + rng.integers(-4, 5, (6, 5))).astype(dtype)
    x[:, 4] = -scale
    if targets == "index":
        t_np = rng.integers(0, 5, 6)
        ts, tt = sorix.tensor(t_np), torch.tensor(t_np)
    else:
        t_np = rng.random((6, 5)).astype(dtype)
        t_np /= t_np.sum(1, keepdims=True)
        ts, tt = sorix.tensor(t_np), torch.tensor(t_np)
    s = leaf(x)
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)  # float64 oracle
    loss = F.cross_entropy(s, ts)
    lt = TF.cross_entropy(xt, tt if targets == "index" else tt.double())
    loss.backward()
    lt.backward()
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(float(loss.item()), lt.item(), rtol=rtol)
    np.testing.assert_allclose(s.grad.data, xt.grad.numpy(), rtol=rtol,
                               atol=1e-8 if dtype == np.float32 else 1e-15)
    # softmax sums to one, so each row of the index-target gradient sums to zero
    if targets == "index":
        np.testing.assert_allclose(s.grad.data.sum(1), 0.0, atol=1e-7)


def test_large_logits_none_reduction_and_target_gradient():
    rng = np.random.default_rng(4)
    x = (1e6 + rng.integers(-3, 4, (4, 3))).astype(np.float32)
    t = rng.random((4, 3)).astype(np.float32)
    s, st = leaf(x), leaf(t)
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    tt = torch.tensor(t.astype(np.float64), requires_grad=True)
    out = F.cross_entropy(s, st, reduction="none")
    ot = TF.cross_entropy(xt, tt, reduction="none")
    up = rng.standard_normal(4).astype(np.float32)
    out.backward(up)
    ot.backward(torch.tensor(up.astype(np.float64)))
    np.testing.assert_allclose(out.data, ot.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(st.grad.data, tt.grad.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(s.grad.data, xt.grad.numpy(), rtol=1e-6, atol=1e-7)


# ---- every target ignored ----------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_all_ignored_batch_matches_torch(reduction, weighted):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    t = np.full(3, -100)
    w = np.array([0.5, 1.0, 2.0, 1.5], np.float32) if weighted else None
    s = leaf(x)
    xt = torch.tensor(x, requires_grad=True)
    with np.errstate(all="raise"):  # no "invalid value" warning either
        out = F.cross_entropy(s, sorix.tensor(t), weight=w, reduction=reduction)
    ot = TF.cross_entropy(xt, torch.tensor(t), reduction=reduction,
                          weight=None if w is None else torch.tensor(w))
    out.sum().backward()
    ot.sum().backward()
    np.testing.assert_array_equal(np.isnan(out.data), np.isnan(ot.detach().numpy()))
    np.testing.assert_allclose(out.data, ot.detach().numpy())
    np.testing.assert_array_equal(s.grad.data, xt.grad.numpy())
    assert not np.isnan(s.grad.data).any()


def test_zero_weight_rows_match_torch_when_nothing_counts():
    x = np.random.default_rng(6).standard_normal((3, 4)).astype(np.float32)
    t = np.array([0, 0, -100])
    w = np.array([0.0, 1.0, 1.0, 1.0], np.float32)
    s, xt = leaf(x), torch.tensor(x, requires_grad=True)
    out = F.cross_entropy(s, sorix.tensor(t), weight=w)
    ot = TF.cross_entropy(xt, torch.tensor(t), weight=torch.tensor(w))
    out.backward()
    ot.backward()
    assert np.isnan(out.item()) and np.isnan(ot.item())
    np.testing.assert_array_equal(np.isnan(s.grad.data), np.isnan(xt.grad.numpy()))


def test_padding_only_batch_leaves_the_model_unchanged():
    sorix.manual_seed(0)
    layer = nn.Linear(4, 3)
    before = [p.data.copy() for p in layer.parameters()]
    opt = optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
    x = sorix.tensor(np.ones((5, 4), np.float32))
    loss = nn.CrossEntropyLoss(ignore_index=0)(layer(x), sorix.tensor(np.zeros(5, np.int64)))
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert np.isnan(loss.item())
    for p, b in zip(layer.parameters(), before):
        np.testing.assert_array_equal(p.data, b)


def test_all_ignored_on_the_composite_path():
    # the formulation used for tensors on a GPU, run here on host arrays
    from sorix.ops import composite
    x = np.random.default_rng(7).standard_normal((3, 4)).astype(np.float32)
    s = leaf(x)
    target = sorix.tensor(np.array([-100, -100, -100]))
    loss = composite.cross_entropy(s, None, target, False, None, "mean", -100)
    loss.backward()
    assert np.isnan(loss.item())
    np.testing.assert_array_equal(s.grad.data, np.zeros((3, 4), np.float32))
    # and a normal batch still gives PyTorch's weighted mean
    s2 = leaf(x)
    t = np.array([1, -100, 3])
    w = sorix.tensor(np.array([0.5, 1.0, 2.0, 1.5], np.float32))
    loss = composite.cross_entropy(s2, None, sorix.tensor(t), False, w, "mean", -100)
    loss.backward()
    xt = torch.tensor(x, requires_grad=True)
    lt = TF.cross_entropy(xt, torch.tensor(t), weight=torch.tensor(w.data))
    lt.backward()
    np.testing.assert_allclose(loss.item(), lt.item(), rtol=1e-6)
    np.testing.assert_allclose(s2.grad.data, xt.grad.numpy(), rtol=1e-5, atol=1e-7)


# ---- std at zero spread -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis, keepdims", [(None, False), (1, False), (0, True), ((0, 1), False)])
def test_std_gradient_is_zero_at_zero_spread(dtype, axis, keepdims):
    a = np.random.default_rng(8).standard_normal((3, 4)).astype(dtype)
    a[1, :] = 2.5
    a[:, 2] = 2.5
    if axis is None or axis == (0, 1):
        a[:] = -1.25
    s = leaf(a)
    xt = torch.tensor(a, requires_grad=True)
    out = s.std(axis=axis, keepdims=keepdims) if axis is not None else s.std()
    ot = xt.std(dim=axis, keepdim=keepdims) if axis is not None else xt.std()
    up = np.arange(1, out.data.size + 1, dtype=dtype).reshape(out.data.shape)
    out.backward(up)
    ot.backward(torch.tensor(up))
    np.testing.assert_allclose(out.data, ot.detach().numpy(), rtol=1e-6)
    assert not np.isnan(s.grad.data).any()
    np.testing.assert_allclose(s.grad.data, xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_std_second_order_at_zero_spread():
    a = np.random.default_rng(9).standard_normal((3, 4))
    a[0, :] = 2.0
    s = leaf(a)
    (g,) = sorix.autograd.grad(s.std(axis=1).sum(), [s], create_graph=True)
    (g * g).sum().backward()
    xt = torch.tensor(a, requires_grad=True)
    (gt,) = torch.autograd.grad(xt.std(dim=1).sum(), [xt], create_graph=True)
    (gt * gt).sum().backward()
    np.testing.assert_allclose(s.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_std_gradient_matches_finite_differences_away_from_zero():
    a = np.random.default_rng(10).standard_normal((3, 5))
    s = leaf(a)
    s.std(axis=1).sum().backward()
    eps = 1e-6
    numeric = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        plus, minus = a.copy(), a.copy()
        plus[i] += eps
        minus[i] -= eps
        numeric[i] = (plus.std(1, ddof=1).sum() - minus.std(1, ddof=1).sum()) / (2 * eps)
    np.testing.assert_allclose(s.grad.data, numeric, rtol=1e-6, atol=1e-8)
