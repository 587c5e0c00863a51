"""PyTorch's loss options: CrossEntropyLoss(label_smoothing=), BCEWithLogitsLoss(weight=,
pos_weight=) and KLDivLoss(reduction=, log_target=), values and gradients (input, target,
second order) against PyTorch, the fused default paths left alone, and bad arguments."""
import warnings

import numpy as np
import pytest

import sorix
import sorix.nn as nn
import sorix.nn.functional as F

from conftest import DTYPES, against_torch, leaf

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
REDUCTIONS = ["mean", "sum", "none"]


def close(actual, expected, dtype, what=""):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), err_msg=what,
                               **TOL[dtype])


def compare(s_fn, t_fn, arrays, dtype, grads=None, seed=1):
    """Compare sorix and PyTorch on ``arrays`` (floats are leaves unless ``grads`` says
    otherwise): output and each requested gradient. Returns sorix's output."""
    return against_torch(s_fn, t_fn, arrays, dtype, TOL[dtype], grads, seed)


def second_order(s_fn, t_fn, arrays, wrt=0, then=0):
    """d/d(arrays[then]) sum(g^2), g the gradient of the loss with respect to arrays[wrt]
    through create_graph=True, against PyTorch (float64)."""
    need = {wrt, then}
    xs = [leaf(a) if i in need else sorix.tensor(a) for i, a in enumerate(arrays)]
    ts = [torch.tensor(a, requires_grad=i in need) for i, a in enumerate(arrays)]
    (gs,) = sorix.autograd.grad(s_fn(*xs), xs[wrt], create_graph=True)
    (hs,) = sorix.autograd.grad((gs * gs).sum(), xs[then])
    (gt,) = torch.autograd.grad(t_fn(*ts), ts[wrt], create_graph=True)
    (ht,) = torch.autograd.grad((gt * gt).sum(), ts[then])
    np.testing.assert_allclose(hs.data, ht.numpy(), rtol=1e-9, atol=1e-12)


# ---- CrossEntropyLoss(label_smoothing=) with class indices ------------------------------

#: (input shape, target shape): one sample (C,), rows (N, C), K-dim (N, C, d1[, d2])
CE_CASES = [((5,), ()), ((7, 4), (7,)), ((3, 4, 5), (3, 5)), ((2, 3, 2, 3), (2, 2, 3))]


def _ce_arrays(case, dtype, ignored, seed=0):
    shape, target_shape = case
    classes = shape[0] if len(shape) == 1 else shape[1]
    r = np.random.default_rng(seed)
    logits = (r.standard_normal(shape) * 3).astype(dtype)
    target = np.asarray(r.integers(0, classes, target_shape))
    if ignored and target.ndim:
        target.reshape(-1)[::3] = ignored  # every third position ignored
    weight = (r.random(classes) + 0.2).astype(dtype)
    return logits, target, weight


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weight"])
@pytest.mark.parametrize("ignore_index", [-100, 1], ids=["no-ignore", "ignore"])
@pytest.mark.parametrize("case", CE_CASES, ids=str)
def test_label_smoothing_class_indices_match_torch(case, ignore_index, weighted, reduction,
                                                   dtype):
    logits, target, weight = _ce_arrays(case, dtype, ignore_index if ignore_index >= 0 else 0)
    weight = weight if weighted else None
    for eps in (0.1, 1.0):
        kwargs = dict(reduction=reduction, ignore_index=ignore_index, label_smoothing=eps)
        compare(lambda x, t: nn.CrossEntropyLoss(weight=weight, **kwargs)(x, t),
                lambda x, t: TF.cross_entropy(
                    x, t, weight=None if weight is None else torch.tensor(weight), **kwargs),
                [logits, target], dtype)
        compare(lambda x, t: F.cross_entropy(x, t, weight, **kwargs),
                lambda x, t: TF.cross_entropy(
                    x, t, weight=None if weight is None else torch.tensor(weight), **kwargs),
                [logits, target], dtype, seed=2)


def test_label_smoothing_ignore_index_only_ignored_rows_counted():
    """The mean divides by the target weights of the rows counted, in both terms."""
    logits, target, weight = _ce_arrays(((6, 3), (6,)), np.float64, 0, seed=3)
    target[:] = [0, -100, 2, -100, 1, 2]
    x = leaf(logits)
    loss = F.cross_entropy(x, sorix.tensor(target), weight, label_smoothing=0.25)
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    kept = target != -100
    w_t = np.where(kept, weight[np.where(kept, target, 0)], 0.0)
    nll = -(w_t * log_p[np.arange(6), np.where(kept, target, 0)]).sum() / w_t.sum()
    smooth = (-(log_p * weight).sum(1) * kept).sum() / w_t.sum()
    np.testing.assert_allclose(loss.data, 0.75 * nll + 0.25 / 3 * smooth, rtol=1e-12)
    loss.backward()
    assert np.all(x.grad.data[~kept] == 0)  # ignored rows get no gradient


@pytest.mark.parametrize("weighted", [False, True])
def test_label_smoothing_all_targets_ignored(weighted):
    """A batch of padding alone: NaN mean (as PyTorch), zero gradients."""
    logits, target, weight = _ce_arrays(((3, 4), (3,)), np.float64, 0, seed=4)
    target[:] = -100
    weight = weight if weighted else None
    for reduction in REDUCTIONS:
        out = compare(lambda x, t: F.cross_entropy(x, t, weight, reduction=reduction,
                                                   label_smoothing=0.3),
                      lambda x, t: TF.cross_entropy(
                          x, t, weight=None if weight is None else torch.tensor(weight),
                          reduction=reduction, label_smoothing=0.3),
                      [logits, target], np.float64)
        if reduction == "mean":
            assert np.isnan(out.data)


@pytest.mark.parametrize("dtype", DTYPES)
def test_label_smoothing_extreme_logits_are_finite(dtype):
    r = np.random.default_rng(5)
    logits = (r.standard_normal((6, 4)) * 1e4).astype(dtype)
    logits[0] = [1e4, -1e4, 0, 5e3]
    target = r.integers(0, 4, 6)
    weight = (r.random(4) + 0.5).astype(dtype)
    for reduction in REDUCTIONS:
        out = compare(lambda x, t: F.cross_entropy(x, t, weight, reduction=reduction,
                                                   label_smoothing=0.2),
                      lambda x, t: TF.cross_entropy(x, t, weight=torch.tensor(weight),
                                                    reduction=reduction, label_smoothing=0.2),
                      [logits, target], dtype)
        assert np.all(np.isfinite(out.data))


def test_label_smoothing_sorix_label_columns():
    """(N, 1) label columns (Sorix's habit, floats too) smooth like (N,) labels."""
    logits, target, weight = _ce_arrays(((5, 3), (5,)), np.float64, 0, seed=6)
    flat = F.cross_entropy(sorix.tensor(logits), sorix.tensor(target), weight,
                           label_smoothing=0.4)
    column = nn.CrossEntropyLoss(weight=weight, label_smoothing=0.4)(
        sorix.tensor(logits), sorix.tensor(target.reshape(-1, 1).astype(np.float32)))
    np.testing.assert_allclose(column.data, flat.data, rtol=1e-12)


def test_label_smoothing_second_order_matches_torch():
    logits, target, weight = _ce_arrays(((3, 4, 2), (3, 2)), np.float64, 1, seed=7)
    second_order(lambda x, t: F.cross_entropy(x, t, weight, ignore_index=1,
                                              label_smoothing=0.3),
                 lambda x, t: TF.cross_entropy(x, t, weight=torch.tensor(weight),
                                               ignore_index=1, label_smoothing=0.3),
                 [logits, target])


# ---- CrossEntropyLoss(label_smoothing=) with probabilities --------------------------------

def _probabilities(r, shape, dtype):
    p = r.random(shape) + 0.1
    return (p / p.sum(1 if len(shape) > 1 else 0, keepdims=True)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weight"])
@pytest.mark.parametrize("shape", [(4,), (6, 4), (2, 4, 3)], ids=str)
def test_label_smoothing_probabilities_match_torch(shape, weighted, reduction, dtype):
    """Float targets shaped like the input: the target becomes (1 - e) T + e / C; the
    target's gradient follows (scaled by 1 - e)."""
    r = np.random.default_rng(8)
    logits = (r.standard_normal(shape) * 2).astype(dtype)
    target = _probabilities(r, shape, dtype)
    classes = shape[0] if len(shape) == 1 else shape[1]
    weight = (r.random(classes) + 0.2).astype(dtype) if weighted else None
    kwargs = dict(reduction=reduction, label_smoothing=0.15)
    compare(lambda x, t: F.cross_entropy(x, t, weight, **kwargs),
            lambda x, t: TF.cross_entropy(
                x, t, weight=None if weight is None else torch.tensor(weight), **kwargs),
            [logits, target], dtype)
    if not (weighted and reduction == "mean"):  # (one_hot=True with weights: see below)
        compare(lambda x, t: nn.CrossEntropyLoss(weight=weight, one_hot=True, **kwargs)(x, t),
                lambda x, t: TF.cross_entropy(
                    x, t, weight=None if weight is None else torch.tensor(weight), **kwargs),
                [logits, target], dtype, seed=3)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_label_smoothing_one_hot_rows_equal_class_indices(reduction, weighted):
    """one_hot=True rows are labels: smoothed, they give the smoothed class-index loss
    (with weights, the mean still divides by the labels' weights, as for indices)."""
    logits, labels, weight = _ce_arrays(((8, 5), (8,)), np.float64, 0, seed=9)
    weight = weight if weighted else None
    a, b = leaf(logits), leaf(logits)
    by_index = nn.CrossEntropyLoss(weight=weight, reduction=reduction,
                                   label_smoothing=0.3)(a, sorix.tensor(labels))
    by_rows = nn.CrossEntropyLoss(weight=weight, one_hot=True, reduction=reduction,
                                  label_smoothing=0.3)(b, sorix.tensor(np.eye(5)[labels]))
    np.testing.assert_allclose(by_rows.data, by_index.data, rtol=1e-12)
    g = np.random.default_rng(0).standard_normal(by_index.shape)
    by_index.backward(g)
    by_rows.backward(g)
    np.testing.assert_allclose(b.grad.data, a.grad.data, rtol=1e-12, atol=1e-15)


def test_label_smoothing_probabilities_second_order_matches_torch():
    r = np.random.default_rng(10)
    logits = r.standard_normal((5, 3))
    target = _probabilities(r, (5, 3), np.float64)
    weight = r.random(3) + 0.2
    for wrt, then in ((0, 0), (0, 1), (1, 0)):
        second_order(lambda x, t: F.cross_entropy(x, t, weight, label_smoothing=0.2),
                     lambda x, t: TF.cross_entropy(x, t, weight=torch.tensor(weight),
                                                   label_smoothing=0.2),
                     [logits, target], wrt=wrt, then=then)


# ---- label_smoothing: arguments and the default path --------------------------------------

def test_label_smoothing_bounds_and_types():
    x, t = sorix.tensor(np.zeros((2, 3))), sorix.tensor(np.array([0, 2]))
    for bad in (-0.1, 1.0000001, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="label_smoothing"):
            nn.CrossEntropyLoss(label_smoothing=bad)
        with pytest.raises(ValueError, match="label_smoothing"):
            F.cross_entropy(x, t, label_smoothing=bad)
    for bad in ("0.1", True, None):
        with pytest.raises(TypeError, match="label_smoothing"):
            nn.CrossEntropyLoss(label_smoothing=bad)
        with pytest.raises(TypeError, match="label_smoothing"):
            F.cross_entropy(x, t, label_smoothing=bad)
    # the bounds themselves are allowed (1: the uniform target alone)
    np.testing.assert_allclose(F.cross_entropy(x, t, label_smoothing=1).data, np.log(3),
                               rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(x, t, label_smoothing=0).data, np.log(3),
                               rtol=1e-12)


def test_label_smoothing_module_surface():
    loss = nn.CrossEntropyLoss(label_smoothing=0.1)
    assert loss.label_smoothing == 0.1
    assert "label_smoothing=0.1" in repr(loss)
    assert "label_smoothing" not in repr(nn.CrossEntropyLoss())


def test_default_paths_stay_fused():
    """No option given (or the option at its neutral value): the fused ops' nodes, as
    before; an option given: the composed forms."""
    r = np.random.default_rng(11)
    x = leaf(r.standard_normal((4, 3)))
    labels = sorix.tensor(r.integers(0, 3, 4))
    fused_ce = type(F.cross_entropy(x, labels).grad_fn)
    assert fused_ce.__name__ == "CrossEntropyNode"
    assert type(F.cross_entropy(x, labels, label_smoothing=0.0).grad_fn) is fused_ce
    assert type(nn.CrossEntropyLoss()(x, labels).grad_fn) is fused_ce
    assert type(F.cross_entropy(x, labels, label_smoothing=0.1).grad_fn) is not fused_ce
    y = sorix.tensor(r.random((4, 3)))
    assert type(F.binary_cross_entropy_with_logits(x, y).grad_fn).__name__ == \
        "BCEWithLogitsNode"
    assert type(nn.BCEWithLogitsLoss()(x, y).grad_fn).__name__ == "BCEWithLogitsNode"
    assert type(nn.BCEWithLogitsLoss(pos_weight=np.ones(3))(x, y).grad_fn).__name__ == \
        "BCEWithLogitsWeightedNode"


# ---- BCEWithLogitsLoss(weight=, pos_weight=) ------------------------------------------------

#: (input shape, weight shape or None, pos_weight shape or None)
BCE_CASES = [
    ((6, 3), None, (3,)),
    ((6, 3), (6, 3), None),
    ((6, 3), (3,), (3,)),
    ((6, 3), (6, 1), (1, 3)),
    ((6, 3), (), (6, 3)),
    ((7,), (7,), (1,)),
    ((2, 3, 4), (3, 1), (4,)),
]


def _bce_arrays(case, dtype, seed=12, extreme=False):
    shape, w_shape, p_shape = case
    r = np.random.default_rng(seed)
    logits = r.standard_normal(shape) * 4
    if extreme:
        flat = logits.reshape(-1)
        flat[::2] = np.where(r.random(flat[::2].shape) > 0.5, 1e4, -1e4)
        flat[1::4] = 40.0 * np.sign(flat[1::4])
    target = r.random(shape)
    if extreme:  # hard labels too, where the large logits agree or disagree with them
        target.reshape(-1)[::3] = np.round(target.reshape(-1)[::3])
    weight = None if w_shape is None else (r.random(w_shape) + 0.3).astype(dtype)
    pos_weight = None if p_shape is None else (r.random(p_shape) * 3 + 0.1).astype(dtype)
    return logits.astype(dtype), target.astype(dtype), weight, pos_weight


def _t(value):
    return None if value is None else torch.tensor(value)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("extreme", [False, True], ids=["normal", "extreme"])
@pytest.mark.parametrize("case", BCE_CASES, ids=str)
def test_bce_with_logits_options_match_torch(case, extreme, reduction, dtype):
    logits, target, weight, pos_weight = _bce_arrays(case, dtype, extreme=extreme)
    out = compare(lambda x, t: nn.BCEWithLogitsLoss(weight=weight, reduction=reduction,
                                                    pos_weight=pos_weight)(x, t),
                  lambda x, t: TF.binary_cross_entropy_with_logits(
                      x, t, weight=_t(weight), reduction=reduction, pos_weight=_t(pos_weight)),
                  [logits, target], dtype)
    assert np.all(np.isfinite(out.data))
    xs, ys = leaf(logits), leaf(target)
    loss = F.binary_cross_entropy_with_logits(xs, ys, weight, reduction, pos_weight)
    (loss if reduction != "none" else loss.sum()).backward()
    assert np.all(np.isfinite(xs.grad.data)) and np.all(np.isfinite(ys.grad.data))


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_input_gradient_only(dtype):
    """A target that does not require grad: only the input's gradient."""
    logits, target, weight, pos_weight = _bce_arrays(BCE_CASES[2], dtype, seed=13)
    compare(lambda x, t: F.binary_cross_entropy_with_logits(x, t, weight,
                                                            pos_weight=pos_weight),
            lambda x, t: TF.binary_cross_entropy_with_logits(x, t, weight=_t(weight),
                                                             pos_weight=_t(pos_weight)),
            [logits, target], dtype, grads=[True, False])


def test_bce_with_logits_options_second_order_match_torch():
    logits, target, weight, pos_weight = _bce_arrays(BCE_CASES[3], np.float64, seed=14)
    for wrt, then in ((0, 0), (0, 1), (1, 0)):
        second_order(lambda x, t: F.binary_cross_entropy_with_logits(
                         x, t, weight, "sum", pos_weight),
                     lambda x, t: TF.binary_cross_entropy_with_logits(
                         x, t, weight=_t(weight), reduction="sum", pos_weight=_t(pos_weight)),
                     [logits, target], wrt=wrt, then=then)
    xs = leaf(logits)
    assert sorix.autograd.gradcheck(
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, weight, pos_weight=pos_weight),
        [xs, leaf(target)])


def test_bce_with_logits_pos_weight_of_one_is_the_plain_loss():
    logits, target, _, _ = _bce_arrays(BCE_CASES[0], np.float64, seed=15)
    plain = F.binary_cross_entropy_with_logits(sorix.tensor(logits), sorix.tensor(target))
    ones = F.binary_cross_entropy_with_logits(sorix.tensor(logits), sorix.tensor(target),
                                              pos_weight=np.ones(3))
    np.testing.assert_allclose(ones.data, plain.data, rtol=1e-13)


def test_bce_with_logits_weights_are_constants():
    """As in PyTorch (which refuses weights that require grad), weight and pos_weight get
    no gradient."""
    logits, target, weight, pos_weight = _bce_arrays(BCE_CASES[2], np.float64, seed=16)
    w, p, x = leaf(weight), leaf(pos_weight), leaf(logits)
    F.binary_cross_entropy_with_logits(x, sorix.tensor(target), w, pos_weight=p).backward()
    assert x.grad is not None and w.grad is None and p.grad is None


def test_bce_with_logits_module_buffers_and_positional_reduction():
    loss = nn.BCEWithLogitsLoss(pos_weight=[1.0, 2.0])
    assert set(loss.state_dict()) == {"pos_weight"}
    assert loss.weight is None and loss.pos_weight.shape == (2,)
    # Sorix's positional reduction still works, in the module and the function
    logits, target, _, _ = _bce_arrays(BCE_CASES[0], np.float64, seed=17)
    x, y = sorix.tensor(logits), sorix.tensor(target)
    expected = TF.binary_cross_entropy_with_logits(torch.tensor(logits), torch.tensor(target),
                                                   reduction="sum").item()
    np.testing.assert_allclose(nn.BCEWithLogitsLoss("sum")(x, y).data, expected, rtol=1e-12)
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(x, y, "sum").data, expected,
                               rtol=1e-12)


def test_bce_with_logits_bad_options():
    x, y = sorix.tensor(np.zeros((4, 3))), sorix.tensor(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="pos_weight"):
        F.binary_cross_entropy_with_logits(x, y, pos_weight=np.ones(4))
    with pytest.raises(ValueError, match="pos_weight"):
        nn.BCEWithLogitsLoss(pos_weight=np.ones((2, 4, 3)))(x, y)  # would enlarge the loss
    with pytest.raises(ValueError, match="weight"):
        F.binary_cross_entropy_with_logits(x, y, weight=np.ones(2))
    with pytest.raises(ValueError, match="reduction"):
        nn.BCEWithLogitsLoss(reduction="avg", pos_weight=np.ones(3))
    with pytest.raises(ValueError, match="reduction"):
        F.binary_cross_entropy_with_logits(x, y, reduction="avg", pos_weight=np.ones(3))
    with pytest.raises(ValueError, match="shape"):
        F.binary_cross_entropy_with_logits(x, sorix.tensor(np.zeros(3)), pos_weight=np.ones(3))
    with pytest.raises(TypeError, match="weight"):
        F.binary_cross_entropy_with_logits(x, y, "sum", reduction="none")
    with pytest.raises(TypeError, match="weight"):
        nn.BCEWithLogitsLoss("sum", reduction="none")


# ---- KLDivLoss ------------------------------------------------------------------------

KL_REDUCTIONS = ["mean", "batchmean", "sum", "none"]


def _kl_arrays(shape, dtype, log_target, seed=18):
    r = np.random.default_rng(seed)
    axis = 1 if len(shape) > 1 else 0
    x = r.standard_normal(shape)
    x = x - np.log(np.exp(x).sum(axis=axis, keepdims=True))  # log-probabilities
    p = r.random(shape)
    p.reshape(-1)[::5] = 0.0  # zeros in the target: no contribution
    p = p / p.sum(axis=axis, keepdims=True)
    t = np.log(p + 1e-3) if log_target else p
    return x.astype(dtype), t.astype(dtype)


def _quiet(fn):
    """``fn`` with the 'mean' reduction's UserWarning silenced (both libraries warn)."""
    def run(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return fn(*args, **kwargs)
    return run


def _compare_nan_aware(xs_grad, xt_grad, dtype):
    """Gradients equal, with NaN exactly where PyTorch has NaN."""
    xs_grad, xt_grad = np.asarray(xs_grad), np.asarray(xt_grad)
    np.testing.assert_array_equal(np.isnan(xs_grad), np.isnan(xt_grad))
    ok = ~np.isnan(xt_grad)
    close(xs_grad[ok], xt_grad[ok], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", KL_REDUCTIONS)
@pytest.mark.parametrize("log_target", [False, True], ids=["probs", "log-target"])
@pytest.mark.parametrize("shape", [(5,), (4, 6), (2, 3, 4)], ids=str)
def test_kl_div_matches_torch(shape, log_target, reduction, dtype):
    x, t = _kl_arrays(shape, dtype, log_target)
    # the input's gradient (the target a constant)
    compare(_quiet(lambda a, b: nn.KLDivLoss(reduction=reduction, log_target=log_target)(a, b)),
            _quiet(lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target)),
            [x, t], dtype, grads=[True, False])
    # both gradients; the target's is NaN where t = 0 without log_target, as PyTorch's
    xs, ts = leaf(x), leaf(t)
    xt, tt = torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)
    out_s = _quiet(F.kl_div)(xs, ts, reduction, log_target)
    out_t = _quiet(TF.kl_div)(xt, tt, reduction=reduction, log_target=log_target)
    close(out_s.data, out_t.detach().numpy(), dtype)
    assert out_s.dtype == dtype and tuple(out_s.shape) == tuple(out_t.shape)
    g = np.asarray(np.random.default_rng(4).standard_normal(tuple(out_t.shape)), dtype)
    out_s.backward(g)
    out_t.backward(torch.from_numpy(g.copy()))
    close(xs.grad.data, xt.grad.numpy(), dtype)
    _compare_nan_aware(ts.grad.data, tt.grad.numpy(), dtype)
    assert log_target or np.isnan(ts.grad.data).any()  # (the zeros are there)


def test_kl_div_zero_target_contributes_nothing():
    x = leaf(np.log(np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])))
    t = np.array([[0.0, 0.4, 0.6], [0.0, 0.0, 1.0]])
    each = F.kl_div(x, sorix.tensor(t), reduction="none")
    assert each.data[0, 0] == 0 and each.data[1, 0] == 0 and each.data[1, 1] == 0
    np.testing.assert_allclose(each.data[1, 2], -np.log(0.8), rtol=1e-14)
    F.kl_div(x, sorix.tensor(t), reduction="batchmean").backward()
    np.testing.assert_allclose(x.grad.data, -t / 2, rtol=1e-14)  # -t / N


def test_kl_div_second_order_matches_torch():
    for log_target in (False, True):
        x, t = _kl_arrays((3, 4), np.float64, log_target, seed=19)
        if not log_target:
            t = t + 0.01  # (the target's gradient at t = 0 is NaN)
        for wrt in (0, 1):  # (squared: the divergence is linear in the input)
            second_order(lambda a, b: (F.kl_div(a, b, "none", log_target) ** 2).sum(),
                         lambda a, b: (TF.kl_div(a, b, reduction="none",
                                                 log_target=log_target) ** 2).sum(),
                         [x, t], wrt=wrt)


def test_kl_div_batchmean_edge_cases_follow_torch():
    # a 0-d input: 'batchmean' is the sum
    x, t = np.array(-0.3), np.array(0.2)
    np.testing.assert_allclose(F.kl_div(sorix.tensor(x), sorix.tensor(t), "batchmean").data,
                               TF.kl_div(torch.tensor(x), torch.tensor(t),
                                         reduction="batchmean").item(), rtol=1e-14)
    # an empty batch: NaN for the means, 0 for the sum, as PyTorch
    empty = np.zeros((0, 3))
    for reduction in KL_REDUCTIONS:
        ours = _quiet(F.kl_div)(sorix.tensor(empty), sorix.tensor(empty), reduction)
        theirs = _quiet(TF.kl_div)(torch.tensor(empty), torch.tensor(empty),
                                   reduction=reduction)
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_kl_div_mean_warns_as_torch():
    x, t = _kl_arrays((2, 3), np.float64, False)
    with pytest.warns(UserWarning, match="batchmean"):
        nn.KLDivLoss()(sorix.tensor(x), sorix.tensor(t))
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(sorix.tensor(x), sorix.tensor(t))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for reduction in ("batchmean", "sum", "none"):
            F.kl_div(sorix.tensor(x), sorix.tensor(t), reduction=reduction)


def test_kl_div_module_surface_and_bad_arguments():
    assert "KLDivLoss" in nn.__all__ and nn.KLDivLoss is sorix.nn.loss.KLDivLoss
    loss = nn.KLDivLoss(reduction="batchmean", log_target=True)
    assert loss.reduction == "batchmean" and loss.log_target is True
    assert repr(loss) == "KLDivLoss(reduction='batchmean', log_target=True)"
    assert repr(nn.KLDivLoss()) == "KLDivLoss()"
    with pytest.raises(ValueError, match="reduction"):
        nn.KLDivLoss(reduction="avg")
    x = sorix.tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="reduction"):
        F.kl_div(x, x, reduction="elementwise_mean")
    with pytest.raises(ValueError, match="shape"):
        F.kl_div(x, sorix.tensor(np.zeros(3)), reduction="sum")
    # the other losses still refuse 'batchmean'
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="batchmean")
