"""The CPU's kernels for softmax, log-softmax and cross-entropy: over rows along the last
axis (sorix.kernels.softmax), over blocks of columns along any other
(sorix.kernels.softmax_across).

References: float64 NumPy on the same (rounded) inputs, and PyTorch for special values.
float32 results may differ from the float64 reference by what rounding x - max to
float32 costs: a relative error of |x - max| 2^-24 in exp(x - max), plus a few units in
the last place; the tolerances below allow that and no more.
"""
import numpy as np
import pytest

import sorix
import sorix.nn.functional as F
from sorix import config
from sorix.kernels import softmax as K
from sorix.kernels import softmax_across as KA
from sorix.kernels import variants

torch = pytest.importorskip("torch")

# rows shorter than, equal to and longer than the kernels' eight running maxima,
# with and without a tail, and a batch of rows of 3-D input
SHAPES = [(1, 1), (3, 7), (5, 8), (4, 17), (2, 3, 33), (16, 1000)]
# along another axis: columns fewer than, equal to and more than a block of
# KA.BLOCK (a partial last block), one class, many classes, the channels of 4-D input
ACROSS = [((3, 7), 0), ((2, 5, 300), 1), ((1, 17, KA.BLOCK), 1), ((4, 1000, 3), 1),
          ((5, 1, 9), 1), ((3, 2, 257), 0), ((2, 21, 8, 8), 1),
          ((6, 40, 1, 1), 1)]  # (followed by size-1 axes only: the row kernels)
CASES = [(shape, -1) for shape in SHAPES] + ACROSS


def reference(x, g, log, axis=-1):
    """(y, dx) in float64: the textbook formulas, one NumPy pass at a time."""
    x, g = x.astype(np.float64), g.astype(np.float64)
    shifted = x - x.max(axis=axis, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    log_y = shifted - log_norm
    p = np.exp(log_y)
    if log:
        return log_y, g - p * g.sum(axis=axis, keepdims=True)
    return p, p * (g - (g * p).sum(axis=axis, keepdims=True))


def tolerance(x, dtype, axis=-1):
    """Absolute tolerance, per element, for the float32 rounding of x - max."""
    if dtype == np.float64:
        return 1e-13
    spread = np.abs(x - x.max(axis=axis, keepdims=True)).astype(np.float64)
    return (spread + 8) * 2.0 ** -23


def run_both(fn, x, g, dim=-1):
    xs = sorix.tensor(x, requires_grad=True)
    y = fn(xs, dim=dim)
    y.backward(sorix.tensor(g))
    return y.data, xs.grad.data


@pytest.fixture(params=["serial", "threaded"])
def build(request, monkeypatch):
    if request.param == "threaded":
        monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 1)
        monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)  # threads even on a busy machine
    else:
        monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 10**18)
    return request.param


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, axis", CASES)
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_forward_and_backward_match_float64(shape, axis, dtype, log, build, rng):
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    y, dx = run_both(F.log_softmax if log else F.softmax, x, g, axis)
    want_y, want_dx = reference(x, g, log, axis)
    assert y.dtype == dx.dtype == dtype and y.shape == dx.shape == shape
    # log-softmax values are as large as |x - max| and inherit its rounding directly
    atol = tolerance(x, dtype, axis)
    np.testing.assert_array_less(np.abs(y - want_y), atol + 4 * np.abs(want_y) * 2.0 ** -23)
    grad_scale = np.abs(g).max(axis=axis, keepdims=True) + np.abs(want_dx)
    np.testing.assert_array_less(np.abs(dx - want_dx), (atol + 2.0 ** -20) * grad_scale)
    if not log:
        np.testing.assert_allclose(y.astype(np.float64).sum(axis=axis), 1.0,
                                   rtol=(x.shape[axis] + 4) * 2.0 ** -23)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_row_maximum_is_found_at_every_position(dtype, build):
    # softmax does not depend on the shift mathematically, but exp(1000 - m) overflows
    # unless m is the row's true maximum: row k holds 1000 at position k alone
    # (the matrix is symmetric: along axis 0 column k holds it at position k)
    for c, dim in [(c, -1) for c in list(range(1, 19)) + [31, 33]] + [(5, 0), (300, 0)]:
        x = np.diag(np.full(c, 1000.0)).astype(dtype)
        np.testing.assert_array_equal(F.softmax(sorix.tensor(x), dim=dim).data, np.eye(c))
        np.testing.assert_array_equal(F.log_softmax(sorix.tensor(x), dim=dim).data,
                                      np.where(np.eye(c) > 0, 0.0, -1000.0))
        loss = F.cross_entropy(sorix.tensor(x), sorix.tensor(np.arange(c)), reduction="none")
        np.testing.assert_array_equal(loss.data, np.zeros(c))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("module", [K, KA], ids=["rows", "columns"])
def test_serial_and_threaded_builds_agree_bit_for_bit(module, dtype, rng):
    # each row, or block of columns, is computed by one thread in one order, whatever
    # the build (the columns: a whole block and a partial one)
    shape = (37, 129) if module is K else (1, 37, 3 * 129)
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    for kernel, args in ((module.softmax_forward, (x,)), (module.log_softmax_forward, (x,)),
                         (module.softmax_backward, (g, x)),
                         (module.log_softmax_backward, (g, -abs(x)))):
        outs = []
        for parallel in (False, True):
            out = np.empty_like(x)
            variants.variant(kernel, parallel, dtype)(*args, out)
            outs.append(out)
        np.testing.assert_array_equal(outs[0], outs[1], err_msg=kernel.__name__)


@pytest.mark.parametrize("offset", [1e4, -1e7])
def test_large_logits_keep_their_differences(offset, rng):
    # x - max is exact in float32 for values this close together, so shifting every
    # logit by a large offset changes nothing
    base = rng.standard_normal((8, 50)).astype(np.float32)
    x = (base + np.float32(offset)).astype(np.float32)
    g = rng.standard_normal((8, 50)).astype(np.float32)
    for fn, log in ((F.softmax, False), (F.log_softmax, True)):
        y, dx = run_both(fn, x, g)
        want_y, want_dx = reference(x, g, log)
        assert np.isfinite(y).all()
        np.testing.assert_allclose(y, want_y, rtol=2e-6, atol=4e-6)
        np.testing.assert_allclose(dx, want_dx, rtol=2e-5, atol=4e-6)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_special_values_match_pytorch(fn):
    inf, nan = np.inf, np.nan
    rows = [[0.5, nan, 1.0, 2.0, 0.1, 0.2, 0.3, 0.4, 0.9],   # a NaN: the row is NaN
            [inf, 1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],   # +inf: NaN (inf - inf)
            [-inf, 1.0, 2.0, -inf, 0.0, 3.0, 0.0, -inf, 0.0],  # -inf: probability 0
            [-inf] * 9,                                        # nothing finite: NaN
            [80.0, -80.0, 88.0, -100.0, 0.0, 1.0, 2.0, 3.0, -150.0]]  # exp's range ends
    for dtype in (np.float32, np.float64):
        # the rows along the last axis, and as columns along the first
        for x, dim in ((np.array(rows, dtype), -1), (np.array(rows, dtype).T.copy(), 0)):
            got = getattr(F, fn)(sorix.tensor(x), dim=dim).data
            want = getattr(torch, fn)(torch.from_numpy(x.astype(np.float64)), dim).numpy()
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-30, equal_nan=True)
            assert (np.isnan(got) == np.isnan(want)).all()


def test_other_axes_float16_and_strided_input(rng):
    x = rng.standard_normal((4, 6, 10)).astype(np.float32)
    g = rng.standard_normal((4, 6, 10)).astype(np.float32)
    # along a middle axis (blocks of columns) and along the last axis of a transposed view
    for dim, data in ((1, x), (-1, x.transpose(0, 2, 1))):
        xs = sorix.tensor(data, requires_grad=True)
        y = F.log_softmax(xs, dim=dim)
        y.backward(sorix.tensor(np.ascontiguousarray(g if dim == 1 else g.transpose(0, 2, 1))))
        xt = torch.tensor(data.astype(np.float64), requires_grad=True)
        yt = torch.log_softmax(xt, dim)
        yt.backward(torch.from_numpy(np.ascontiguousarray(
            g if dim == 1 else g.transpose(0, 2, 1)).astype(np.float64)))
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-5, atol=1e-5)
    half = x.astype(np.float16)
    for dim in (-1, 1):
        y = F.softmax(sorix.tensor(half), dim=dim).data
        assert y.dtype == np.float16
        np.testing.assert_allclose(y, reference(half, half, False, dim)[0], rtol=2e-3,
                                   atol=1e-4)


def test_empty_rows_and_empty_batches():
    for shape in ((0, 5), (3, 0)):
        for dim in (-1, 0):
            x = sorix.tensor(np.zeros(shape, np.float32), requires_grad=True)
            y = F.softmax(x, dim=dim)
            y.sum().backward()
            assert y.shape == shape and x.grad.shape == shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_of_confident_rows_keeps_the_targets_gradient(dtype, build):
    # p_t close to 1: its gradient p_t - 1 is a tiny difference, computed in float64 from
    # the logits, so it keeps its relative accuracy in float32 too
    rng = np.random.default_rng(3)
    n, c = 64, 300
    x = rng.standard_normal((n, c)).astype(dtype)
    t = rng.integers(0, c, n)
    x[np.arange(n), t] += dtype(12)
    xs = sorix.tensor(x, requires_grad=True)
    loss = F.cross_entropy(xs, sorix.tensor(t), reduction="sum")
    loss.backward()
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    want = torch.nn.functional.cross_entropy(xt, torch.from_numpy(t), reduction="sum")
    want.backward()
    rtol = 1e-5 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(float(loss.item()), want.item(), rtol=rtol)
    wg = xt.grad.numpy()
    target_grad = xs.grad.data[np.arange(n), t]
    np.testing.assert_allclose(target_grad, wg[np.arange(n), t], rtol=4 * rtol)
    np.testing.assert_allclose(xs.grad.data, wg, rtol=rtol, atol=1e-9 if dtype == np.float32
                               else 1e-16)


# ---- cross-entropy over (N, C, d...) logits, read in place ----------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(2, 5, 17, 20), (3, 1, 7), (1, 40, 300), (5, 7, 1, 1)],
                         ids=["partial block", "one class", "two blocks", "one position"])
def test_spatial_cross_entropy_matches_pytorch(shape, reduction, dtype, build, rng):
    # positions of an image as rows, with class weights and ignored positions
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    t.reshape(-1)[::7] = -100
    weight = (rng.random(shape[1]) + 0.5).astype(dtype)
    xs = sorix.tensor(x, requires_grad=True)
    loss = F.cross_entropy(xs, sorix.tensor(t), weight=sorix.tensor(weight), reduction=reduction)
    g = rng.standard_normal(loss.shape).astype(dtype) if reduction == "none" else None
    loss.backward(None if g is None else sorix.tensor(g))
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    want = torch.nn.functional.cross_entropy(xt, torch.from_numpy(t),
                                             weight=torch.from_numpy(weight.astype(np.float64)),
                                             reduction=reduction)
    want.backward(None if g is None else torch.from_numpy(g.astype(np.float64)))
    rtol, atol = (2e-5, 1e-6) if dtype == np.float32 else (1e-11, 1e-14)
    assert loss.dtype == dtype and xs.grad.dtype == dtype and xs.grad.shape == shape
    np.testing.assert_allclose(loss.data, want.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=rtol, atol=atol)


def test_spatial_cross_entropy_of_confident_positions_keeps_the_targets_gradient(rng):
    # q_t close to 1: q_t - 1 is computed in float64 from the logits, as for rows
    n, c, hw = 4, 30, 300
    x = rng.standard_normal((n, c, hw)).astype(np.float32)
    t = rng.integers(0, c, (n, hw))
    np.put_along_axis(x, t[:, None, :], np.take_along_axis(x, t[:, None, :], 1) + 12, axis=1)
    xs = sorix.tensor(x, requires_grad=True)
    F.cross_entropy(xs, sorix.tensor(t), reduction="sum").backward()
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    torch.nn.functional.cross_entropy(xt, torch.from_numpy(t), reduction="sum").backward()
    got = np.take_along_axis(xs.grad.data, t[:, None, :], 1)
    want = np.take_along_axis(xt.grad.numpy(), t[:, None, :], 1)
    np.testing.assert_allclose(got, want, rtol=4e-5)


def test_spatial_cross_entropy_builds_agree_and_second_order_matches_pytorch(rng):
    x = rng.standard_normal((2, 6, 300)).astype(np.float32)
    t = rng.integers(0, 6, (2, 300))
    t[0, :50] = -100
    from sorix.kernels import softmax_across
    outs = []
    for parallel in (False, True):
        args = (x, t.reshape(-1), np.empty(0, np.float32), np.float32(0),
                np.empty(600, np.float32), np.empty(600), np.empty(600, np.float32))
        variants.variant(softmax_across.ce_index_forward, parallel, np.float32)(*args)
        grad = np.empty_like(x)
        variants.variant(softmax_across.ce_index_backward, parallel, np.float32)(
            x, args[4], args[5], t.reshape(-1).clip(0), np.full(600, 0.5, np.float32),
            np.float32(0), grad)
        outs.append((args[6], grad))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    # create_graph=True: the gradient as differentiable ops, differentiated again
    x64 = x.astype(np.float64)[:, :, :40]
    v = rng.standard_normal(x64.shape)
    xs = sorix.tensor(x64, requires_grad=True)
    (gx,) = sorix.autograd.grad(F.cross_entropy(xs, sorix.tensor(t[:, :40])), [xs],
                                create_graph=True)
    (hv,) = sorix.autograd.grad((gx * sorix.tensor(v)).sum(), [xs])
    xt = torch.tensor(x64, requires_grad=True)
    (gt,) = torch.autograd.grad(torch.nn.functional.cross_entropy(
        xt, torch.from_numpy(t[:, :40])), [xt], create_graph=True)
    (ht,) = torch.autograd.grad((gt * torch.from_numpy(v)).sum(), [xt])
    np.testing.assert_allclose(gx.data, gt.detach().numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(hv.data, ht.numpy(), rtol=1e-9, atol=1e-13)


def test_spatial_cross_entropy_equals_the_same_rows_with_special_values(rng):
    # the in-place kernels and the row kernels on the same positions agree, special values
    # included: an ignored position (weight 0) gets a zero gradient even where its logits
    # are inf or NaN, a counted one with a NaN logit gives NaN
    x = rng.standard_normal((2, 4, 9)).astype(np.float32)
    t = rng.integers(0, 4, (2, 9))
    x[0, 1, 2], x[1, 0, 5], x[1, 3, 7] = np.inf, np.nan, -np.inf
    t[0, 2] = t[1, 5] = -100
    x[0, 2, 3] = np.nan  # counted: NaN
    spatial = sorix.tensor(x, requires_grad=True)
    rows = sorix.tensor(np.ascontiguousarray(x.transpose(0, 2, 1).reshape(-1, 4)),
                        requires_grad=True)
    a = F.cross_entropy(spatial, sorix.tensor(t), reduction="none")
    b = F.cross_entropy(rows, sorix.tensor(t.reshape(-1)), reduction="none")
    a.sum().backward()
    b.sum().backward()
    np.testing.assert_array_equal(a.data.reshape(-1), b.data)
    np.testing.assert_array_equal(spatial.grad.data.transpose(0, 2, 1).reshape(-1, 4),
                                  rows.grad.data)
    assert (spatial.grad.data[0, :, 2] == 0).all() and (spatial.grad.data[1, :, 5] == 0).all()
    assert np.isnan(spatial.grad.data[0, :, 3]).all()
