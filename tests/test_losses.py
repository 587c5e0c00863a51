"""Losses: values and gradients against PyTorch and NumPy, finite-difference
checks of the fused kernels (first and second order), and input errors."""
import numpy as np
import pytest

import sorix
import sorix.nn as nn
from sorix import config
from sorix.autograd import gradcheck

from conftest import DTYPES, against_torch, leaf

TOL = {np.float32: dict(rtol=2e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
REDUCTIONS = ["mean", "sum", "none"]


def close(actual, expected, dtype, what=""):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), err_msg=what,
                               **TOL[dtype])


def probabilities(r, shape, dtype):
    p = r.random(shape) + 0.1
    return (p / p.sum(-1, keepdims=True)).astype(dtype)


def run_both(s_fn, t_fn, arrays, dtype, seed=1):
    """Compare sorix and PyTorch on ``arrays``: output and every input's gradient."""
    return against_torch(s_fn, t_fn, arrays, dtype, TOL[dtype], seed=seed)


# ---- PyTorch parity ---------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(7,), (5, 3), (2, 3, 4)])
def test_mse_matches_torch(shape, reduction, dtype):
    F = pytest.importorskip("torch").nn.functional
    r = np.random.default_rng(0)
    arrays = [r.standard_normal(shape).astype(dtype), r.standard_normal(shape).astype(dtype)]
    run_both(lambda x, t: nn.MSELoss(reduction=reduction)(x, t),
             lambda x, t: F.mse_loss(x, t, reduction=reduction), arrays, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(9,), (6, 4)])
def test_bce_with_logits_matches_torch(shape, reduction, dtype):
    F = pytest.importorskip("torch").nn.functional
    r = np.random.default_rng(2)
    logits = (r.standard_normal(shape) * 4).astype(dtype)
    target = r.random(shape).astype(dtype)  # soft labels exercise the target gradient
    run_both(lambda x, t: nn.BCEWithLogitsLoss(reduction=reduction)(x, t),
             lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction=reduction),
             [logits, target], dtype)


def test_bce_multi_column_gradient_is_mean_over_all_elements():
    """Sorix's defect: the (N, C) gradient came out C times too large."""
    r = np.random.default_rng(3)
    x = r.standard_normal((8, 5))
    y = (r.random((8, 5)) > 0.5).astype(np.float64)
    xs = leaf(x)
    nn.BCEWithLogitsLoss()(xs, sorix.tensor(y)).backward()
    expected = (1 / (1 + np.exp(-x)) - y) / x.size
    np.testing.assert_allclose(xs.grad.data, expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_class_indices_match_torch(weighted, reduction, dtype):
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(4)
    logits = (r.standard_normal((10, 5)) * 3).astype(dtype)
    target = r.integers(0, 5, 10)
    weight = r.random(5).astype(dtype) + 0.2 if weighted else None
    run_both(lambda x, t: nn.CrossEntropyLoss(weight=weight, reduction=reduction)(x, t),
             lambda x, t: torch.nn.functional.cross_entropy(
                 x, t, weight=None if weight is None else torch.tensor(weight),
                 reduction=reduction),
             [logits, target], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probabilities_match_torch(weighted, reduction, dtype):
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(5)
    logits = (r.standard_normal((6, 4)) * 2).astype(dtype)
    target = probabilities(r, (6, 4), dtype)
    weight = r.random(4).astype(dtype) + 0.2 if weighted else None
    label_mean = weighted and reduction == "mean"

    def reference(x, t):
        w = None if weight is None else torch.tensor(weight)
        if not label_mean:
            return torch.nn.functional.cross_entropy(x, t, weight=w, reduction=reduction)
        # one_hot=True targets are labels: the weighted mean divides by the targets' total
        # weight, as for class indices (PyTorch's soft-target mean divides by N)
        total = torch.nn.functional.cross_entropy(x, t, weight=w, reduction="sum")
        return total / (t * w).sum()

    run_both(lambda x, t: nn.CrossEntropyLoss(weight=weight, one_hot=True,
                                              reduction=reduction)(x, t),
             reference, [logits, target], dtype)
    if weighted:  # a float target shaped like the input, without one_hot: PyTorch's mean
        run_both(lambda x, t: nn.functional.cross_entropy(x, t, weight=weight,
                                                          reduction=reduction),
                 lambda x, t: torch.nn.functional.cross_entropy(
                     x, t, weight=torch.tensor(weight), reduction=reduction),
                 [logits, target], dtype)


def test_weighted_one_hot_cross_entropy_equals_weighted_class_indices():
    r = np.random.default_rng(16)
    logits = r.standard_normal((9, 4))
    labels = r.integers(0, 4, 9)
    weight = r.random(4) + 0.1
    a, b = leaf(logits), leaf(logits)
    by_index = nn.CrossEntropyLoss(weight=weight)(a, sorix.tensor(labels))
    by_one_hot = nn.CrossEntropyLoss(weight=weight, one_hot=True)(b,
                                                                   sorix.tensor(np.eye(4)[labels]))
    by_index.backward()
    by_one_hot.backward()
    # closed form: sum_i w_{y_i} (lse_i - x_{i,y_i}) / sum_i w_{y_i}
    lse = np.log(np.exp(logits).sum(axis=1))
    picked = logits[np.arange(9), labels]
    w = weight[labels]
    expected = np.sum(w * (lse - picked)) / w.sum()
    np.testing.assert_allclose(by_one_hot.data, expected, rtol=1e-12)
    np.testing.assert_allclose(by_index.data, expected, rtol=1e-12)
    np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-12, atol=1e-15)


def test_cross_entropy_one_hot_equals_class_indices():
    r = np.random.default_rng(6)
    logits = r.standard_normal((7, 3))
    labels = r.integers(0, 3, 7)
    a, b = leaf(logits), leaf(logits)
    by_index = nn.CrossEntropyLoss()(a, sorix.tensor(labels))
    by_one_hot = nn.CrossEntropyLoss(one_hot=True)(b, sorix.tensor(np.eye(3)[labels]))
    by_index.backward()
    by_one_hot.backward()
    np.testing.assert_allclose(by_index.data, by_one_hot.data, rtol=1e-12)
    np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-12, atol=1e-15)
    # the familiar closed form: (softmax - one_hot) / N
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(a.grad.data, (p - np.eye(3)[labels]) / 7, rtol=1e-10)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_ignore_index_and_spatial_input_match_torch(reduction):
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(7)
    logits = r.standard_normal((3, 4, 5))  # (N, C, L)
    target = r.integers(0, 4, (3, 5))
    target[0, 1] = target[2, 4] = -100
    weight = r.random(4) + 0.5
    run_both(lambda x, t: nn.CrossEntropyLoss(weight=weight, reduction=reduction)(x, t),
             lambda x, t: torch.nn.functional.cross_entropy(
                 x, t, weight=torch.tensor(weight), reduction=reduction),
             [logits, target], np.float64)


def test_cross_entropy_single_sample_matches_torch():
    torch = pytest.importorskip("torch")
    logits = np.random.default_rng(13).standard_normal(5)
    for reduction in REDUCTIONS:
        run_both(lambda x, t: nn.CrossEntropyLoss(reduction=reduction)(x, t),
                 lambda x, t: torch.nn.functional.cross_entropy(x, t, reduction=reduction),
                 [logits, np.array(3)], np.float64)


def test_cross_entropy_accepts_sorix_label_columns():
    """Sorix code holds labels as an (N, 1) column, often of floats."""
    r = np.random.default_rng(8)
    logits = r.standard_normal((5, 3))
    labels = r.integers(0, 3, 5)
    flat = nn.CrossEntropyLoss()(sorix.tensor(logits), sorix.tensor(labels))
    column = nn.CrossEntropyLoss()(sorix.tensor(logits),
                                   sorix.tensor(labels.reshape(-1, 1).astype(np.float32)))
    np.testing.assert_allclose(column.data, flat.data, rtol=1e-12)


def test_losses_are_stable_for_extreme_logits():
    x = np.array([[1000.0, -1000.0, 0.0], [-800.0, 800.0, 10.0]], np.float32)
    ce = nn.CrossEntropyLoss(reduction="none")(leaf(x), sorix.tensor([1, 1]))
    np.testing.assert_allclose(ce.data, [2000.0, 0.0], rtol=1e-6)
    xs = leaf(x)
    bce = nn.BCEWithLogitsLoss(reduction="none")(xs, sorix.tensor(np.ones_like(x)))
    expected = np.maximum(x, 0) - x + np.log1p(np.exp(-np.abs(x.astype(np.float64))))
    np.testing.assert_allclose(bce.data, expected, rtol=1e-6)
    bce.sum().backward()
    assert np.all(np.isfinite(xs.grad.data))


def test_threaded_kernels_match_serial(monkeypatch):
    """Every kernel's threaded build gives the serial build's answer."""
    r = np.random.default_rng(9)
    logits = r.standard_normal((40, 6)).astype(np.float32)
    labels = r.integers(0, 6, 40)
    soft = probabilities(r, (40, 6), np.float32)
    other = r.standard_normal((40, 6)).astype(np.float32)

    def everything():
        results = []
        for make in (lambda x: nn.CrossEntropyLoss()(x, sorix.tensor(labels)),
                     lambda x: nn.CrossEntropyLoss(one_hot=True)(x, sorix.tensor(soft)),
                     lambda x: nn.MSELoss()(x, sorix.tensor(other)),
                     lambda x: nn.MSELoss(reduction="none")(x, sorix.tensor(other)).sum(),
                     lambda x: nn.BCEWithLogitsLoss()(x, sorix.tensor(soft)),
                     lambda x: nn.BCEWithLogitsLoss(reduction="none")(x, sorix.tensor(soft)).sum(),
                     lambda x: nn.functional.batch_norm(x, None, None, training=True).sum()):
            x = leaf(logits)
            out = make(x)
            out.backward()
            results.append((out.data, x.grad.data))
        return results

    serial = everything()
    monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)  # threads even on a busy machine
    threaded = everything()
    for (v1, g1), (v2, g2) in zip(serial, threaded):
        np.testing.assert_allclose(v1, v2, rtol=1e-5)
        np.testing.assert_allclose(g1, g2, rtol=1e-5, atol=1e-7)


# ---- finite differences (float64): first and second order -------------------------

def _second_order(loss_fn, x, *rest):
    """x -> d loss / d x, built with create_graph so it can be checked in turn."""
    def grad_of_loss(x, *rest):
        with sorix.enable_grad():  # gradcheck evaluates the function under no_grad
            (g,) = sorix.autograd.grad(loss_fn(x, *rest), [x], create_graph=True)
        return g
    return grad_of_loss


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_mse_and_bce(reduction):
    r = np.random.default_rng(10)
    x = leaf(r.standard_normal((4, 3)))
    t = leaf(r.random((4, 3)))
    for fn in (nn.MSELoss(reduction=reduction), nn.BCEWithLogitsLoss(reduction=reduction)):
        assert gradcheck(fn, (x, t))
        total = (lambda x, t, fn=fn: fn(x, t).sum()) if reduction == "none" else fn
        assert gradcheck(_second_order(total, x, t), (x, t))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_gradcheck_cross_entropy(weighted, reduction):
    r = np.random.default_rng(11)
    x = leaf(r.standard_normal((5, 4)))
    weight = r.random(4) + 0.3 if weighted else None
    labels = sorix.tensor(r.integers(0, 4, 5))
    soft = leaf(probabilities(r, (5, 4), np.float64))
    by_index = nn.CrossEntropyLoss(weight=weight, reduction=reduction)
    by_prob = nn.CrossEntropyLoss(weight=weight, reduction=reduction, one_hot=True)
    assert gradcheck(lambda x: by_index(x, labels), (x,))
    assert gradcheck(by_prob, (x, soft))

    def summed(fn):
        return (lambda *a: fn(*a).sum()) if reduction == "none" else fn
    assert gradcheck(_second_order(summed(lambda x: by_index(x, labels)), x), (x,))
    assert gradcheck(_second_order(summed(by_prob), x, soft), (x, soft))


def test_second_derivative_matches_torch():
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(12)
    x = r.standard_normal((4, 3))
    labels = r.integers(0, 3, 4)
    v = r.standard_normal((4, 3))
    xs = leaf(x)
    (g,) = sorix.autograd.grad(nn.CrossEntropyLoss()(xs, sorix.tensor(labels)), [xs],
                               create_graph=True)
    (g * sorix.tensor(v)).sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    (gt,) = torch.autograd.grad(torch.nn.functional.cross_entropy(xt, torch.tensor(labels)),
                                [xt], create_graph=True)
    (gt * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-14)


# ---- bad inputs -----------------------------------------------------------------------

def test_column_against_flat_target_is_an_error():
    pred = sorix.tensor(np.zeros((4, 1), np.float32))
    target = sorix.tensor(np.zeros(4, np.float32))
    for loss in (nn.MSELoss(), nn.BCEWithLogitsLoss()):
        with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
            loss(pred, target)


def test_cross_entropy_rejects_bad_targets():
    logits = sorix.tensor(np.zeros((3, 4), np.float32))
    with pytest.raises(IndexError, match="class 4 is out of range for 4 classes"):
        nn.CrossEntropyLoss()(logits, sorix.tensor([0, 4, 1]))
    with pytest.raises(IndexError, match="out of range"):
        nn.CrossEntropyLoss()(logits, sorix.tensor([0, -1, 1]))
    with pytest.raises(ValueError, match="do not fit input of shape"):
        nn.CrossEntropyLoss()(logits, sorix.tensor([0, 1]))
    with pytest.raises(ValueError, match="must match the input's shape"):
        nn.CrossEntropyLoss(one_hot=True)(logits, sorix.tensor(np.zeros((3, 3), np.float32)))
    with pytest.raises(ValueError, match="whole numbers"):
        nn.CrossEntropyLoss()(logits, sorix.tensor([0.5, 1.0, 2.0]))
    with pytest.raises(ValueError, match="weight has 3 entries"):
        nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0])(logits, sorix.tensor([0, 1, 2]))


def test_unknown_reduction_is_an_error():
    for cls in (nn.MSELoss, nn.BCEWithLogitsLoss, nn.CrossEntropyLoss):
        with pytest.raises(ValueError, match="reduction must be"):
            cls(reduction="avg")


def test_float32_losses_stay_float32_with_float64_targets():
    x = leaf(np.ones((3, 2), np.float32))
    loss = nn.MSELoss()(x, sorix.tensor(np.zeros((3, 2), np.float64)))
    loss.backward()
    assert loss.dtype == sorix.float32 and x.grad.dtype == sorix.float32
    np.testing.assert_allclose(loss.data, 1.0)
    np.testing.assert_allclose(x.grad.data, np.full((3, 2), 2 / 6, np.float32))
