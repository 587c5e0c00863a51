"""sorix.nn layers (against PyTorch and NumPy), module semantics, and init."""
import pickle

import numpy as np
import pytest

import sorix
import sorix.nn as nn
from sorix.autograd import gradcheck
from sorix.nn import init

from conftest import leaf

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def close(actual, expected, dtype=np.float32, what=""):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), err_msg=what,
                               **TOL[dtype])


# ---- layers against PyTorch ---------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
def test_linear_matches_torch(shape):
    torch = pytest.importorskip("torch")
    layer = nn.Linear(3, 4)
    with sorix.no_grad():
        nn.init.normal_(layer.b)  # non-zero bias, so its use is checked
    ref = torch.nn.Linear(3, 4)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.W.data.T))
        ref.bias.copy_(torch.tensor(layer.b.data.reshape(-1)))
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    xs, xt = leaf(x), torch.tensor(x, requires_grad=True)
    ys, yt = layer(xs), ref(xt)
    assert tuple(ys.shape) == tuple(yt.shape)
    close(ys.data, yt.detach().numpy())
    g = np.random.default_rng(1).standard_normal(tuple(yt.shape)).astype(np.float32)
    ys.backward(g)
    yt.backward(torch.tensor(g))
    close(xs.grad.data, xt.grad.numpy())
    close(layer.W.grad.data, ref.weight.grad.numpy().T)
    close(layer.b.grad.data.reshape(-1), ref.bias.grad.numpy())
    assert layer.W.grad.dtype == sorix.float32


def test_linear_layout_init_and_keywords():
    sorix.random.manual_seed(0)
    he = nn.Linear(400, 300)
    assert he.W.shape == (400, 300) and he.b.shape == (1, 300)
    assert he.W.dtype == sorix.float32 and he.b.dtype == sorix.float32
    assert not he.b.data.any()
    assert abs(he.W.data.std() / np.sqrt(2 / 400) - 1) < 0.02
    xavier = nn.Linear(in_features=400, out_features=300, init="xavier", bias=False)
    assert xavier.b is None and xavier.in_features == 400 and xavier.out_features == 300
    assert abs(xavier.W.data.std() / np.sqrt(2 / 700) - 1) < 0.02
    assert [k for k, _ in xavier.named_parameters()] == ["W"]
    with pytest.raises(ValueError, match="Invalid initialization method"):
        nn.Linear(2, 2, init="orthogonal")


def test_linear_wrong_feature_count_names_both():
    with pytest.raises(ValueError, match=r"expected input with 3 features.*\(4, 5\)"):
        nn.Linear(3, 2)(sorix.tensor(np.zeros((4, 5), np.float32)))


@pytest.mark.parametrize("name", ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    ours = {"LeakyReLU": nn.LeakyReLU(0.2), "Softmax": nn.Softmax(dim=0)}.get(name) \
        or getattr(nn, name)()
    theirs = {"LeakyReLU": torch.nn.LeakyReLU(0.2), "Softmax": torch.nn.Softmax(dim=0)}.get(
        name) or getattr(torch.nn, name)()
    x = np.random.default_rng(2).standard_normal((4, 3)).astype(dtype)
    xs, xt = leaf(x), torch.tensor(x, requires_grad=True)
    ys, yt = ours(xs), theirs(xt)
    close(ys.data, yt.detach().numpy(), dtype)
    g = np.random.default_rng(3).standard_normal((4, 3)).astype(dtype)
    ys.backward(g)
    yt.backward(torch.tensor(g))
    close(xs.grad.data, xt.grad.numpy(), dtype)
    assert ys.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(16, 3), (8, 3, 5)])
def test_batchnorm_training_steps_and_eval_match_torch(shape, dtype):
    torch = pytest.importorskip("torch")
    ours = nn.BatchNorm1d(3, momentum=0.2)
    theirs = torch.nn.BatchNorm1d(3, momentum=0.2)
    if dtype == np.float64:
        ours.double()
        theirs.double()
    r = np.random.default_rng(4)
    with sorix.no_grad():
        init.normal_(ours.gamma)
        init.normal_(ours.beta)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.gamma.data.reshape(-1)))
        theirs.bias.copy_(torch.tensor(ours.beta.data.reshape(-1)))
    for _ in range(3):
        ours.zero_grad()
        theirs.zero_grad()
        x = (r.standard_normal(shape) * 3 + 2).astype(dtype)
        xs, xt = leaf(x), torch.tensor(x, requires_grad=True)
        ys, yt = ours(xs), theirs(xt)
        close(ys.data, yt.detach().numpy(), dtype, "training output")
        g = r.standard_normal(shape).astype(dtype)
        ys.backward(g)
        yt.backward(torch.tensor(g))
        close(xs.grad.data, xt.grad.numpy(), dtype, "input gradient")
        close(ours.gamma.grad.data.reshape(-1), theirs.weight.grad.numpy(), dtype, "gamma")
        close(ours.beta.grad.data.reshape(-1), theirs.bias.grad.numpy(), dtype, "beta")
    assert ours.running_mean.shape == (1, 3) and ours.running_var.dtype == dtype
    close(ours.running_mean.data.reshape(-1), theirs.running_mean.numpy(), dtype)
    close(ours.running_var.data.reshape(-1), theirs.running_var.numpy(), dtype)
    ours.eval()
    theirs.eval()
    x = r.standard_normal(shape).astype(dtype)
    close(ours(sorix.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), dtype, "eval")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batchnorm_row_kernels_agree_with_the_loops_over_l(dtype):
    """(N, F) inputs have kernels whose inner loop runs over features. The same values laid
    out as (1, F, N) go through the general kernels, whose sums along L add in vector
    lanes: both give the batch statistics and the closed-form gradient, to rounding. And
    the general kernels' serial and threaded builds give the same bits (each feature's
    sums are made by one thread, in one order)."""
    from sorix.kernels import batchnorm as K
    from sorix.kernels.variants import variant
    r = np.random.default_rng(11)
    n, f = 37, 6
    x = (r.standard_normal((n, f)) * 3 + 1).astype(dtype)
    g = r.standard_normal((n, f)).astype(dtype)
    scale, shift = r.standard_normal(f).astype(dtype), r.standard_normal(f).astype(dtype)

    def run_all(kernels, x, g, parallel):
        batch_stats, normalize, grad_sums, grad_input = kernels
        mean, var = np.empty(f), np.empty(f)
        variant(batch_stats, parallel)(x, mean, var)
        out = np.empty_like(x)
        variant(normalize, parallel)(x, mean.astype(dtype), scale, shift, out)
        invstd = 1.0 / np.sqrt(var + 1e-5)
        sum_g, sum_g_xhat = np.empty(f), np.empty(f)
        variant(grad_sums, parallel)(g, x, mean, invstd, sum_g, sum_g_xhat)
        dx = np.empty_like(x)
        variant(grad_input, parallel)(g, x, mean.astype(dtype), invstd.astype(dtype), scale,
                                      (sum_g / n).astype(dtype), (sum_g_xhat / n).astype(dtype),
                                      dx)
        return mean, var, out, sum_g, sum_g_xhat, dx

    def along_l(a):  # (N, F) -> (1, F, N)
        return np.ascontiguousarray(a.T[None])

    names = ("mean", "var", "output", "sum g", "sum g xhat", "dx")
    general = (K.batch_stats, K.normalize, K.grad_sums, K.grad_input)
    serial = run_all(general, along_l(x), along_l(g), False)
    threaded = run_all(general, along_l(x), along_l(g), True)
    for name, a, b in zip(names, serial, threaded):
        np.testing.assert_array_equal(a, b, err_msg=f"{name}: serial and threaded builds")
    rows = run_all((K.batch_stats_rows, K.normalize_rows, K.grad_sums_rows, K.grad_input_rows),
                   x, g, False)
    in_dtype = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13,
                                                                            atol=1e-13)
    for name, a, b in zip(names, rows, serial):
        b = b[0].T if b.ndim == 3 else b
        np.testing.assert_allclose(a, b, err_msg=name, **(in_dtype if name in ("output", "dx")
                                                           else dict(rtol=1e-13, atol=1e-13)))
    # and they are the batch statistics and the closed-form gradient (float64 NumPy)
    x2, g2 = x.astype(np.float64), g.astype(np.float64)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rows[0], x2.mean(0), **tol)
    np.testing.assert_allclose(rows[1], x2.var(0), **tol)
    # (``scale`` stands for gamma / sqrt(var + eps) in normalize, and for the coefficient
    # of grad_input, which is the same)
    np.testing.assert_allclose(rows[2], (x2 - x2.mean(0)) * scale + shift, **tol)
    xhat = (x2 - x2.mean(0)) / np.sqrt(x2.var(0) + 1e-5)
    want = scale * (g2 - g2.mean(0) - xhat * (g2 * xhat).mean(0))
    np.testing.assert_allclose(rows[5], want, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-4 if dtype == np.float32 else 1e-10)


def test_batchnorm_cumulative_average_matches_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.BatchNorm1d(2, momentum=None), torch.nn.BatchNorm1d(2, momentum=None)
    r = np.random.default_rng(8)
    for _ in range(3):
        x = r.standard_normal((5, 2)).astype(np.float32)
        ours(sorix.tensor(x))
        theirs(torch.tensor(x))
    close(ours.running_mean.data.reshape(-1), theirs.running_mean.numpy())
    close(ours.running_var.data.reshape(-1), theirs.running_var.numpy())


def test_batchnorm_gradcheck_first_and_second_order():
    r = np.random.default_rng(5)
    x = leaf(r.standard_normal((6, 3)))
    gamma = leaf(r.standard_normal((1, 3)))
    beta = leaf(r.standard_normal((1, 3)))
    weights = sorix.tensor(r.standard_normal((6, 3)))

    def bn(x, gamma, beta):
        return nn.functional.batch_norm(x, None, None, gamma, beta, training=True)
    assert gradcheck(bn, (x, gamma, beta))
    x3 = leaf(r.standard_normal((4, 3, 2)))
    assert gradcheck(bn, (x3, gamma, beta))

    def first_derivatives(x, gamma, beta):
        with sorix.enable_grad():
            out = (bn(x, gamma, beta) * weights).sum()
            return sorix.autograd.grad(out, [x, gamma], create_graph=True)
    assert gradcheck(first_derivatives, (x, gamma, beta))


def test_batchnorm_rejects_bad_input():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 3\)"):
        bn(sorix.tensor(np.zeros((4, 2), np.float32)))
    # a batch of one trains as in Sorix: every x-hat is 0, so the output is beta
    single = bn(sorix.tensor(np.array([[1.0, -2.0, 3.0]], np.float32)))
    np.testing.assert_array_equal(single.data, np.zeros((1, 3), np.float32))
    np.testing.assert_allclose(bn.running_mean.data, [[0.1, -0.2, 0.3]], rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.data, np.full((1, 3), 0.9), rtol=1e-6)
    bn.eval()  # a single sample is fine with running statistics
    np.testing.assert_allclose(bn(sorix.tensor(np.ones((1, 3), np.float32))).data,
                               (np.ones((1, 3)) - [[0.1, -0.2, 0.3]]) / np.sqrt(0.9 + 1e-5),
                               rtol=1e-6)


def test_dropout():
    sorix.random.manual_seed(3)
    x = leaf(np.ones((200, 100), np.float32))
    layer = nn.Dropout(p=0.25)
    y = layer(x)
    assert y.dtype == sorix.float32
    kept = y.data != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y.data[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, y.data)  # the gradient is the same scaled mask
    sorix.random.manual_seed(3)
    np.testing.assert_array_equal(layer(x).data, y.data)  # sorix's generator decides
    assert layer.eval()(x) is x
    assert not nn.Dropout(1.0)(x).data.any()
    for p in (-0.1, 1.5, "half"):
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout(p)


def test_embedding_matches_torch_and_accumulates():
    torch = pytest.importorskip("torch")
    emb = nn.Embedding(6, 3)
    assert emb.W.shape == (6, 3) and emb.W.dtype == sorix.float32
    ref = torch.nn.Embedding(6, 3)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(emb.W.data))
    index = np.array([[1, 4, 1], [0, 1, 5]])
    ys, yt = emb(sorix.tensor(index)), ref(torch.tensor(index))
    close(ys.data, yt.detach().numpy())
    g = np.random.default_rng(6).standard_normal((2, 3, 3)).astype(np.float32)
    ys.backward(g)
    yt.backward(torch.tensor(g))
    close(emb.W.grad.data, ref.weight.grad.numpy())
    expected = np.zeros((6, 3), np.float32)
    np.add.at(expected, index, g)  # index 1 appears three times
    close(emb.W.grad.data, expected)


def test_embedding_rejects_bad_indices():
    emb = nn.Embedding(5, 2)
    with pytest.raises(IndexError, match=r"index 5 is out of range: indices must be in "
                                         r"\[0, 5\)"):
        emb(sorix.tensor([0, 5]))
    with pytest.raises(IndexError, match="index -1"):
        emb(sorix.tensor([-1]))
    with pytest.raises(TypeError, match="integers"):
        emb(sorix.tensor([0.0, 1.0]))


def test_functional_linear_uses_torch_layout():
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(7)
    x, w, b = (r.standard_normal(s) for s in ((4, 3), (5, 3), (5,)))
    close(nn.functional.linear(sorix.tensor(x), sorix.tensor(w), sorix.tensor(b)).data,
          torch.nn.functional.linear(*map(torch.tensor, (x, w, b))).numpy(), np.float64)


# ---- init ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_init_fills_in_place_and_keeps_dtype(dtype):
    t = leaf(np.zeros((300, 200), dtype))
    array = t.data
    sorix.random.manual_seed(1)
    for fn, args in ((init.uniform_, (-1.0, 3.0)), (init.normal_, (2.0, 0.5)),
                     (init.constant_, (0.25,)), (init.zeros_, ()), (init.ones_, ()),
                     (init.xavier_uniform_, ()), (init.xavier_normal_, ()),
                     (init.kaiming_uniform_, ()), (init.kaiming_normal_, ())):
        assert fn(t, *args) is t  # grad mode is on and t requires grad: init still works
        assert t.data is array and t.data.dtype == dtype, fn.__name__
        assert t.requires_grad and t.is_leaf


@pytest.mark.parametrize("make, torch_shape", [
    (lambda: nn.Conv2d(3, 64, 3), (64, 3, 3, 3)),
    (lambda: nn.Conv2d(32, 16, (3, 5), groups=4), (16, 8, 3, 5)),
    (lambda: nn.Conv1d(6, 10, 7), (10, 6, 7)),
    (lambda: nn.Embedding(100, 7), (100, 7)),
])
def test_init_fans_of_pytorch_layout_weights_match_pytorch(make, torch_shape):
    """Convolution and embedding weights keep PyTorch's (out, in, ...) layout, so their fans
    are PyTorch's, also after pickling and when a new tensor is assigned to the layer."""
    torch = pytest.importorskip("torch")
    want = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(torch_shape))
    layer = make()
    attr = "W" if isinstance(layer, nn.Embedding) else "weight"
    assert init.calculate_fan_in_and_fan_out(getattr(layer, attr)) == want
    assert init.calculate_fan_in_and_fan_out(pickle.loads(pickle.dumps(layer)).__dict__[attr]) \
        == want
    setattr(layer, attr, sorix.tensor(np.zeros(torch_shape, np.float32), requires_grad=True))
    assert init.calculate_fan_in_and_fan_out(getattr(layer, attr)) == want
    sorix.random.manual_seed(4)
    init.kaiming_normal_(getattr(layer, attr), mode="fan_out", nonlinearity="relu")
    std = getattr(layer, attr).data.astype(np.float64).std()
    assert abs(std / np.sqrt(2 / want[1]) - 1) < 0.1
    # the same shape as a plain tensor keeps Sorix's rule: fan_in from the first dim
    plain = sorix.tensor(np.zeros(torch_shape, np.float32))
    assert init.calculate_fan_in_and_fan_out(plain) == (want[1], want[0])


def test_init_statistics():
    sorix.random.manual_seed(2)
    t = sorix.tensor(np.zeros((400, 250), np.float32))
    n = t.data.size

    def moments():
        return t.data.astype(np.float64).mean(), t.data.astype(np.float64).std()

    init.uniform_(t, -1.0, 3.0)
    mean, std = moments()
    assert t.data.min() >= -1.0 and t.data.max() < 3.0
    assert abs(mean - 1.0) < 4 * (4 / np.sqrt(12)) / np.sqrt(n)
    assert abs(std / (4 / np.sqrt(12)) - 1) < 0.01
    init.normal_(t, 2.0, 0.5)
    mean, std = moments()
    assert abs(mean - 2.0) < 4 * 0.5 / np.sqrt(n) and abs(std / 0.5 - 1) < 0.01
    # Sorix's (in, out) layout: fan_in = shape[0] = 400, fan_out = shape[1] = 250
    init.xavier_uniform_(t)
    bound = np.sqrt(6 / 650)
    assert np.abs(t.data).max() <= bound and abs(moments()[1] / (bound / np.sqrt(3)) - 1) < 0.01
    init.xavier_normal_(t, gain=2.0)
    assert abs(moments()[1] / (2 * np.sqrt(2 / 650)) - 1) < 0.01
    init.kaiming_normal_(t, nonlinearity="relu")
    assert abs(moments()[1] / np.sqrt(2 / 400) - 1) < 0.01
    init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert abs(moments()[1] / np.sqrt(2 / 250) - 1) < 0.01
    init.kaiming_uniform_(t, a=0.1)  # leaky_relu gain sqrt(2 / (1 + a^2))
    bound = np.sqrt(2 / 1.01) * np.sqrt(3 / 400)
    assert np.abs(t.data).max() <= bound and abs(moments()[1] / (bound / np.sqrt(3)) - 1) < 0.01
    init.constant_(t, 0.5)
    assert np.all(t.data == np.float32(0.5))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(sorix.tensor(np.zeros(5, np.float32)))
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(t, mode="fan_avg")
