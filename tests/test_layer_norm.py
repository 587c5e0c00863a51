"""LayerNorm and F.layer_norm against PyTorch (float32 and float64, forward and backward),
against finite differences (float64, first and second order), and on the edges: rows
far from zero, constant rows, threaded kernels, bad shapes."""
import numpy as np
import pytest

import sorix
import sorix.nn as nn
import sorix.nn.functional as F
from sorix import config

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-11, atol=1e-12)}

SHAPES = [((4, 7), (7,)), ((3, 5, 6), (6,)), ((3, 5, 6), (5, 6)), ((2, 3, 4, 5), (3, 4, 5)),
          ((9,), (9,)), ((0, 8), (8,)), ((2, 1), (1,))]


def _pair(x, w, b, dtype):
    def make(lib, a):
        if a is None:
            return None
        return (sorix.tensor(a.astype(dtype), requires_grad=True) if lib == "s"
                else torch.tensor(a.astype(dtype), requires_grad=True))
    return [make("s", a) for a in (x, w, b)], [make("t", a) for a in (x, w, b)]


def _compare(shape, normalized, dtype, affine=True, bias=True, scale=3.0, offset=2.0, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * scale + offset
    w = rng.standard_normal(normalized) if affine else None
    b = rng.standard_normal(normalized) if affine and bias else None
    g = rng.standard_normal(shape)
    (xs, ws, bs), (xt, wt, bt) = _pair(x, w, b, dtype)
    ys = F.layer_norm(xs, normalized, ws, bs, eps=1e-5)
    yt = torch.nn.functional.layer_norm(xt, normalized, wt, bt, eps=1e-5)
    assert ys.dtype == dtype and ys.shape == shape
    np.testing.assert_allclose(ys.data, yt.detach().numpy(), **TOL[dtype])
    ys.backward(sorix.tensor(g.astype(dtype)))
    yt.backward(torch.tensor(g.astype(dtype)))
    for s, t in ((xs, xt), (ws, wt), (bs, bt)):
        if t is None:
            continue
        assert s.grad.dtype == dtype and s.grad.shape == tuple(t.shape)
        np.testing.assert_allclose(s.grad.data, t.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape,normalized", SHAPES, ids=str)
def test_against_torch(shape, normalized, dtype):
    _compare(shape, normalized, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_without_affine_or_bias(dtype):
    _compare((5, 6), (6,), dtype, affine=False)
    _compare((5, 6), (6,), dtype, bias=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_threaded_kernels_agree(dtype, monkeypatch):
    monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 64)
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)  # threads even on a busy machine
    _compare((70, 33), (33,), dtype)  # 70 rows: several row blocks in backward
    _compare((3, 40), (40,), dtype)


def test_rows_far_from_zero_keep_their_digits():
    # float32 rows around 1e4 with spread 1: x - mean is exact, the statistics are float64
    rng = np.random.default_rng(1)
    x = (1e4 + rng.standard_normal((6, 256))).astype(np.float32)
    exact = x.astype(np.float64)
    exact = (exact - exact.mean(-1, keepdims=True)) / np.sqrt(exact.var(-1, keepdims=True) + 1e-5)
    xs = sorix.tensor(x, requires_grad=True)
    y = F.layer_norm(xs, (256,))
    np.testing.assert_allclose(y.data, exact, rtol=1e-5, atol=2e-6)
    g = rng.standard_normal((6, 256))
    y.backward(sorix.tensor(g.astype(np.float32)))
    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    torch.nn.functional.layer_norm(xt, (256,)).backward(torch.tensor(g))
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_constant_rows_give_bias_and_finite_gradients():
    x = sorix.tensor(np.full((3, 4), 7.0), requires_grad=True)
    w = sorix.tensor(np.arange(4.0), requires_grad=True)
    b = sorix.tensor(np.ones(4), requires_grad=True)
    y = F.layer_norm(x, (4,), w, b)
    np.testing.assert_array_equal(y.data, np.ones((3, 4)))
    y.sum().backward()
    assert np.all(np.isfinite(x.grad.data)) and np.all(np.isfinite(w.grad.data))


def test_gradients_against_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 2, 5))
    w, b = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    leaves = [sorix.tensor(a, requires_grad=True) for a in (x, w, b)]
    assert sorix.autograd.gradcheck(lambda *t: F.layer_norm(t[0], (2, 5), t[1], t[2]), leaves)


def test_second_order_matches_torch():
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((3, 6)), rng.standard_normal(6), rng.standard_normal(6)
    v = rng.standard_normal((3, 6))
    results = []
    for lib in (sorix, torch):
        leaves = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
        fn = F.layer_norm if lib is sorix else torch.nn.functional.layer_norm
        y = fn(leaves[0], (6,), leaves[1], leaves[2])
        loss = (y * y * lib.tensor(v)).sum()
        grads = lib.autograd.grad(loss, leaves, create_graph=True)
        total = sum((g * g).sum() for g in grads)
        second = lib.autograd.grad(total, leaves)
        results.append([np.asarray(s.detach().numpy()) for s in second])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)


def test_module_parameters_state_and_repr():
    torch.manual_seed(0)
    layer = nn.LayerNorm((3, 4), eps=1e-6)
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.weight.shape == (3, 4) and layer.weight.dtype == sorix.float32
    np.testing.assert_array_equal(layer.weight.data, np.ones((3, 4)))
    np.testing.assert_array_equal(layer.bias.data, np.zeros((3, 4)))
    assert set(layer.state_dict()) == {"weight", "bias"}
    assert repr(layer) == "LayerNorm((3, 4), eps=1e-06, elementwise_affine=True)"
    assert nn.LayerNorm(5, bias=False).bias is None
    bare = nn.LayerNorm(5, elementwise_affine=False)
    assert bare.weight is None and list(bare.parameters()) == []
    # a PyTorch state dict loads by name
    ref = torch.nn.LayerNorm((3, 4))
    with torch.no_grad():
        ref.weight.uniform_()
        ref.bias.uniform_()
    layer.load_state_dict({k: sorix.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    x = np.random.default_rng(5).standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(layer(sorix.tensor(x)).data,
                               torch.nn.functional.layer_norm(torch.tensor(x), (3, 4), ref.weight,
                                                              ref.bias, 1e-6).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_same_in_train_and_eval_and_trains():
    sorix.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 1))
    x = sorix.randn(16, 4)
    y = x.sum(axis=1, keepdims=True)
    model.eval()
    a = model(x).data.copy()
    model.train()
    np.testing.assert_array_equal(model(x).data, a)
    opt = sorix.optim.Adam(model.parameters(), lr=0.01)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = nn.MSELoss()(model(x), y)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.2 * first


def test_bad_shapes_raise_clear_errors():
    x = sorix.randn(3, 4)
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[5\].*\[\*, 5\].*\[3, 4\]"):
        F.layer_norm(x, (5,))
    with pytest.raises(RuntimeError, match="expected weight of shape"):
        F.layer_norm(x, (4,), sorix.ones(3))
    with pytest.raises(RuntimeError, match="normalized_shape"):
        nn.LayerNorm(4)(sorix.randn(4, 3))
    with pytest.raises(TypeError, match="normalized_shape"):
        nn.LayerNorm("four")


def test_integer_input_is_normalised_in_float32():
    y = F.layer_norm(sorix.tensor([[1, 2, 3]]), (3,))
    assert y.dtype == sorix.float32
    np.testing.assert_allclose(y.data, [[-1.2247357, 0.0, 1.2247357]], rtol=1e-6)


def test_backward_kernel_ignores_what_its_scratch_arrays_held():
    # the kernel's scratch and output arrays come from np.empty: NaN garbage must not leak
    from sorix.kernels import layernorm as K
    from sorix.kernels.variants import variant
    rng = np.random.default_rng(6)
    for dtype in (np.float32, np.float64):
        x, g = rng.standard_normal((5, 6)).astype(dtype), rng.standard_normal((5, 6)).astype(dtype)
        w = rng.standard_normal(6).astype(dtype)
        mean = x.astype(np.float64).mean(1)
        rstd = 1 / np.sqrt(x.astype(np.float64).var(1) + 1e-5)
        dx = np.full((5, 6), np.nan, dtype)
        partial = np.full((2, 2, 6), np.nan)
        variant(K.backward, False)(g, x, mean, rstd, w, True, True, dx,
                                   partial, np.full((2, 2, 6), np.nan, dtype),
                                   np.full((2, 4), np.nan, dtype))
        xhat = (x - mean[:, None]) * rstd[:, None]
        np.testing.assert_allclose(partial.sum(0)[0], g.sum(0), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(partial.sum(0)[1], (g * xhat).sum(0), rtol=1e-5, atol=1e-5)
        assert np.all(np.isfinite(dx))
