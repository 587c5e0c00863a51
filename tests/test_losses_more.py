"""L1Loss, SmoothL1Loss, HuberLoss, BCELoss and NLLLoss against PyTorch (values and
gradients of input and target, float32 and float64, every reduction), finite differences
in float64, and PyTorch's edge semantics: empty batches, the BCE log clamp, ignored
targets, class weights, shape checks."""
import numpy as np
import pytest

import sorix
import sorix.nn as nn
from sorix import config

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-11, atol=1e-13)}
REDUCTIONS = ["mean", "sum", "none"]

PAIR_LOSSES = {
    "L1": (lambda r: nn.L1Loss(reduction=r), lambda r: torch.nn.L1Loss(reduction=r)),
    "SmoothL1": (lambda r: nn.SmoothL1Loss(reduction=r),
                 lambda r: torch.nn.SmoothL1Loss(reduction=r)),
    "SmoothL1 beta 0.4": (lambda r: nn.SmoothL1Loss(reduction=r, beta=0.4),
                          lambda r: torch.nn.SmoothL1Loss(reduction=r, beta=0.4)),
    "SmoothL1 beta 0": (lambda r: nn.SmoothL1Loss(reduction=r, beta=0.0),
                        lambda r: torch.nn.SmoothL1Loss(reduction=r, beta=0.0)),
    "Huber": (lambda r: nn.HuberLoss(reduction=r), lambda r: torch.nn.HuberLoss(reduction=r)),
    "Huber delta 2.5": (lambda r: nn.HuberLoss(reduction=r, delta=2.5),
                        lambda r: torch.nn.HuberLoss(reduction=r, delta=2.5)),
    "BCE": (lambda r: nn.BCELoss(reduction=r), lambda r: torch.nn.BCELoss(reduction=r)),
}


def _inputs(name, shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if name == "BCE":
        x = rng.uniform(0.02, 0.98, shape)
        t = rng.uniform(0.0, 1.0, shape)
    else:
        x = rng.normal(0, 2, shape)
        t = rng.normal(0, 2, shape)
        # away from the kinks |x - t| = beta or delta, and x = t
        d = x - t
        for k in (0.0, 0.4, 1.0, 2.5):
            d = np.where(np.abs(np.abs(d) - k) < 1e-3, d + 0.01, d)
        x = t + d
    return x.astype(dtype), t.astype(dtype)


def _run(ours, theirs, x, t, dtype, grad_target=True, seed=1):
    xs = sorix.tensor(x, requires_grad=True)
    ts = sorix.tensor(t, requires_grad=grad_target)
    xt = torch.tensor(x, requires_grad=True)
    tt = torch.tensor(t, requires_grad=grad_target)
    ls, lt = ours(xs, ts), theirs(xt, tt)
    assert ls.dtype == dtype and tuple(ls.shape) == tuple(lt.shape)
    np.testing.assert_allclose(ls.data, lt.detach().numpy(), **TOL[dtype])
    g = np.random.default_rng(seed).standard_normal(lt.shape).astype(dtype)
    ls.backward(sorix.tensor(g))
    lt.backward(torch.tensor(g))
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), **TOL[dtype])
    assert xs.grad.dtype == dtype
    if grad_target:
        np.testing.assert_allclose(ts.grad.data, tt.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(PAIR_LOSSES))
def test_pair_losses_against_torch(name, reduction, dtype):
    ours, theirs = PAIR_LOSSES[name]
    for shape in [(7,), (4, 5), (2, 3, 4)]:
        x, t = _inputs(name, shape, dtype)
        _run(ours(reduction), theirs(reduction), x, t, dtype)


@pytest.mark.parametrize("name", list(PAIR_LOSSES))
def test_pair_losses_threaded(name, monkeypatch):
    monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 64)
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)  # threads even on a busy machine
    ours, theirs = PAIR_LOSSES[name]
    x, t = _inputs(name, (50, 200), np.float64)  # several sum blocks
    for reduction in REDUCTIONS:
        _run(ours(reduction), theirs(reduction), x, t, np.float64)


def test_bce_weight_and_log_clamp():
    w = np.array([0.5, 2.0, 1.0])
    x = np.array([[0.0, 1.0, 0.3], [1.0, 0.0, 0.999999]])  # log(0) clamps at -100
    t = np.array([[1.0, 0.0, 0.5], [1.0, 0.0, 1.0]])
    for reduction in REDUCTIONS:
        _run(nn.BCELoss(weight=w, reduction=reduction),
             torch.nn.BCELoss(weight=torch.tensor(w), reduction=reduction), x, t, np.float64,
             grad_target=False)
    loss = nn.BCELoss(reduction="none")(sorix.tensor([0.0]), sorix.tensor([1.0]))
    assert loss.item() == 100.0


def test_bce_refuses_values_outside_zero_one():
    for bad in ([1.5, 0.5], [-0.1, 0.5], [np.nan, 0.5]):
        with pytest.raises(RuntimeError, match="between 0 and 1"):
            nn.BCELoss()(sorix.tensor(bad), sorix.tensor([1.0, 0.0]))


@pytest.mark.parametrize("name", list(PAIR_LOSSES))
def test_empty_batch(name):
    ours, theirs = PAIR_LOSSES[name]
    for reduction, expected in (("mean", np.nan), ("sum", 0.0)):
        x = sorix.tensor(np.zeros((0, 3)), requires_grad=True)
        loss = ours(reduction)(x, sorix.tensor(np.zeros((0, 3))))
        ref = theirs(reduction)(torch.zeros(0, 3, dtype=torch.float64),
                                torch.zeros(0, 3, dtype=torch.float64))
        np.testing.assert_array_equal(loss.data, ref.numpy())
        np.testing.assert_array_equal(loss.data, expected)
        loss.backward()
        assert x.grad.shape == (0, 3)
    assert ours("none")(sorix.zeros(0), sorix.zeros(0)).shape == (0,)


def test_shapes_must_match_except_a_0d_target():
    for loss in (nn.L1Loss(), nn.SmoothL1Loss(), nn.HuberLoss(), nn.BCELoss()):
        with pytest.raises(ValueError, match=r"input shape \(4, 1\) and target shape \(4,\)"):
            loss(sorix.full((4, 1), 0.5), sorix.full((4,), 0.5))
    x = np.array([[0.2, 0.7], [0.4, 0.9]])
    for name in ("L1", "Huber", "BCE"):
        ours, theirs = PAIR_LOSSES[name]
        xs = sorix.tensor(x, requires_grad=True)
        ts = sorix.tensor(0.5, dtype=sorix.float64, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        tt = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
        ls = ours("sum")(xs, ts)
        if name == "BCE":  # PyTorch refuses a 0-d target there; the formula is the same
            lt = theirs("sum")(xt, tt.expand(2, 2))
        else:
            with pytest.warns(UserWarning):
                lt = theirs("sum")(xt, tt)
        np.testing.assert_allclose(ls.data, lt.detach().numpy(), rtol=1e-12)
        ls.backward()
        lt.backward()
        np.testing.assert_allclose(ts.grad.data, tt.grad.numpy(), rtol=1e-12)


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="beta"):
        nn.SmoothL1Loss(beta=-1)
    with pytest.raises(ValueError, match="delta"):
        nn.HuberLoss(delta=0)
    with pytest.raises(ValueError, match="reduction"):
        nn.L1Loss(reduction="avg")


@pytest.mark.parametrize("name", list(PAIR_LOSSES))
def test_pair_losses_gradcheck_and_second_order(name):
    ours, _ = PAIR_LOSSES[name]
    x, t = _inputs(name, (3, 4), np.float64, seed=5)
    leaves = [sorix.tensor(x, requires_grad=True), sorix.tensor(t, requires_grad=True)]
    assert sorix.autograd.gradcheck(lambda a, b: ours("mean")(a, b), leaves)
    # second order through create_graph=True against torch
    xs, xt = sorix.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (gs,) = sorix.autograd.grad(ours("sum")(xs, sorix.tensor(t)), xs, create_graph=True)
    (hs,) = sorix.autograd.grad((gs * gs).sum(), xs)
    (gt,) = torch.autograd.grad(PAIR_LOSSES[name][1]("sum")(xt, torch.tensor(t)), xt,
                                create_graph=True)
    (ht,) = torch.autograd.grad((gt * gt).sum(), xt)
    np.testing.assert_allclose(hs.data, ht.numpy(force=True), rtol=1e-10, atol=1e-12)


# ---- NLLLoss -------------------------------------------------------------------------------

def _log_probs(shape, dtype, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape)
    axis = 0 if len(shape) == 1 else 1
    x = x - np.log(np.exp(x).sum(axis=axis, keepdims=True))
    return x.astype(dtype)


NLL_CASES = [((5, 4), (5,)), ((4,), ()), ((3, 4, 2), (3, 2)), ((2, 3, 2, 2), (2, 2, 2))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", NLL_CASES, ids=str)
def test_nll_against_torch(case, reduction, dtype):
    shape, target_shape = case
    classes = shape[0] if len(shape) == 1 else shape[1]
    rng = np.random.default_rng(2)
    x = _log_probs(shape, dtype)
    t = rng.integers(0, classes, target_shape)
    w = rng.uniform(0.5, 2.0, classes)
    for weight, ignore in ((None, -100), (w, -100), (w, 1)):
        kwargs = dict(reduction=reduction, ignore_index=ignore)
        ours = nn.NLLLoss(weight=weight, **kwargs)
        theirs = torch.nn.NLLLoss(weight=None if weight is None else torch.tensor(w, dtype=
                                  torch.float64 if dtype == np.float64 else torch.float32),
                                  **kwargs)
        xs, xt = sorix.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ls, lt = ours(xs, sorix.tensor(t)), theirs(xt, torch.tensor(t))
        np.testing.assert_allclose(ls.data, lt.detach().numpy(), **TOL[dtype])
        assert ls.dtype == dtype and tuple(ls.shape) == tuple(lt.shape)
        g = rng.standard_normal(lt.shape)
        ls.backward(sorix.tensor(g.astype(dtype)))
        lt.backward(torch.tensor(g.astype(dtype)))
        np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), **TOL[dtype])


def test_nll_edge_cases_follow_torch():
    x = _log_probs((3, 4), np.float64)
    x[0, 2] = -np.inf  # a zero probability off the target: no NaN
    ignored = np.array([-100, -100, -100])
    ls = nn.NLLLoss()(sorix.tensor(x, requires_grad=True), sorix.tensor(ignored))
    lt = torch.nn.NLLLoss()(torch.tensor(x), torch.tensor(ignored))
    assert np.isnan(ls.item()) and np.isnan(lt.item())
    xs = sorix.tensor(x, requires_grad=True)
    nn.NLLLoss()(xs, sorix.tensor([1, 3, 0])).backward()
    np.testing.assert_array_equal(xs.grad.data, [[0, -1 / 3, 0, 0], [0, 0, 0, -1 / 3],
                                                [-1 / 3, 0, 0, 0]])
    empty = nn.NLLLoss(reduction="sum")(sorix.zeros(0, 4), sorix.tensor(np.zeros(0, np.int64)))
    assert empty.item() == 0.0
    # a column of labels, as Sorix code holds them
    col = nn.NLLLoss()(sorix.tensor(x[1:]), sorix.tensor([[3], [0]]))
    assert col.item() == pytest.approx(-(x[1, 3] + x[2, 0]) / 2)


def test_nll_bad_targets():
    x = sorix.tensor(_log_probs((2, 3), np.float64))
    with pytest.raises(IndexError, match="out of bounds"):
        nn.NLLLoss()(x, sorix.tensor([0, 3]))
    with pytest.raises(ValueError, match="whole numbers"):
        nn.NLLLoss()(x, sorix.tensor([0.5, 1.0]))
    with pytest.raises(ValueError, match="do not fit"):
        nn.NLLLoss()(x, sorix.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="weight has 2 entries"):
        nn.NLLLoss(weight=[1.0, 2.0])(x, sorix.tensor([0, 1]))


def test_nll_gradcheck_and_after_log_softmax():
    x = np.random.default_rng(9).standard_normal((4, 3))
    t = sorix.tensor([2, 0, 1, 1])
    w = sorix.tensor([0.2, 1.0, 3.0])
    assert sorix.autograd.gradcheck(
        lambda a: nn.NLLLoss(weight=w)(a.log_softmax(-1), t), [sorix.tensor(x, requires_grad=True)])
    # NLL of log_softmax is the cross-entropy
    a = sorix.tensor(x)
    np.testing.assert_allclose(nn.NLLLoss()(a.log_softmax(-1), t).data,
                               nn.CrossEntropyLoss()(a, t).data, rtol=1e-12)
