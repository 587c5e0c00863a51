"""Embedding's and F.embedding's PyTorch options against PyTorch: padding_idx, max_norm and
norm_type, scale_grad_by_freq, _weight, _freeze, dtype and Embedding.from_pretrained; values,
W's gradient and W's in-place renormalisation. The last tests compare CPU and CUDA under
numba's CUDA simulator (tests/cuda_setup.py), and are skipped without numba-cuda."""
import numpy as np
import pytest

import cuda_setup

try:  # before anything imports numba.cuda: see tests/cuda_setup.py
    cuda_setup.load()
    # (module fixtures, used by every test here: device arrays answer only to a real GPU
    # array's API, and the simulator's threads switch fast)
    from cuda_setup import device_api_only, fast_thread_switching
    _MODULE_FIXTURES = (device_api_only, fast_thread_switching)
    NO_CUDA = None
except pytest.skip.Exception as skip:  # the CPU tests run all the same
    NO_CUDA = str(skip)

import sorix  # noqa: E402
import sorix.nn as nn  # noqa: E402
import sorix.nn.functional as F  # noqa: E402

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}
DTYPES = [np.float32, np.float64]

#: index inputs: 1-D, 2-D with repeats, 0-d, and empty
INDICES = {
    "1d": np.array([3, 1, 3, 0, 4, 3]),
    "2d": np.array([[1, 4, 1, 0], [3, 1, 1, 2]]),
    "0d": np.array(4),
    "empty": np.zeros((0, 2), np.int64),
}


def close(actual, expected, dtype, what=""):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), err_msg=what,
                               **TOL[dtype])


def twin(emb, dtype, **options):
    """A torch.nn.Embedding with ``emb``'s weights (a copy) and ``options``."""
    rows, dim = emb.W.shape
    ref = torch.nn.Embedding(rows, dim, dtype=TORCH_DTYPE[dtype], **options)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(emb.W.data.copy()))
    return ref


def spread_rows(rows, dim, dtype, seed=0):
    """Weights whose rows' norms run from well under 1 to well over it."""
    r = np.random.default_rng(seed)
    w = r.standard_normal((rows, dim))
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    return (w * np.geomspace(0.05, 20.0, rows)[r.permutation(rows), None]).astype(dtype)


def compare(emb, ref, index, dtype, seed=1, call=None):
    """Forward both on ``index``, backward a random-weighted sum; values and W's gradient
    agree. Returns sorix's output."""
    out = emb(sorix.tensor(index)) if call is None else call(sorix.tensor(index))
    expected = ref(torch.from_numpy(index))
    assert tuple(out.shape) == tuple(expected.shape)
    assert out.dtype == dtype
    close(out.data, expected.detach().numpy(), dtype, "forward")
    c = np.random.default_rng(seed).standard_normal(tuple(expected.shape)).astype(dtype)
    (out * sorix.tensor(c)).sum().backward()
    (expected * torch.from_numpy(c)).sum().backward()
    close(emb.W.grad.data, ref.weight.grad.numpy(), dtype, "W's gradient")
    return out


# ---- padding_idx --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding_idx, row", [(1, 1), (0, 0), (4, 4), (-1, 4), (-5, 0),
                                              (-2, 3)])
@pytest.mark.parametrize("shape", sorted(INDICES))
def test_padding_idx_matches_torch(dtype, padding_idx, row, shape):
    sorix.manual_seed(0)
    emb = nn.Embedding(5, 3, padding_idx=padding_idx, dtype=dtype)
    assert emb.padding_idx == row and emb.W.dtype == dtype
    assert not emb.W.data[row].any()  # the padding row starts at zero
    others = np.delete(emb.W.data, row, axis=0)
    assert others.all() and np.abs(others).max() <= np.sqrt(1 / 5)  # Sorix's U(-a, a)
    ref = twin(emb, dtype, padding_idx=padding_idx)
    assert ref.padding_idx == row
    compare(emb, ref, INDICES[shape], dtype)
    assert not emb.W.grad.data[row].any()


def test_padding_row_gets_no_gradient_however_often_read():
    emb = nn.Embedding(4, 2, padding_idx=2)
    with sorix.no_grad():
        emb.W[2] = sorix.tensor([5.0, -7.0])  # a non-zero padding row is read as it is
    index = np.array([[2, 2, 1], [2, 0, 2]])
    out = emb(sorix.tensor(index))
    np.testing.assert_array_equal(out.data[0, 0], [5.0, -7.0])
    upstream = np.ones((2, 3, 2), np.float32)
    upstream[0, 0] = [np.inf, np.nan]  # what flows back to padding positions is left out
    out.backward(sorix.tensor(upstream))
    np.testing.assert_array_equal(emb.W.grad.data,
                                  [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize("padding_idx", [0, 3, -1, -4])
def test_functional_padding_idx_matches_torch(padding_idx):
    w = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    index = np.array([[0, 3, 3], [1, 0, 2]])
    ws, wt = sorix.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    out = F.embedding(sorix.tensor(index), ws, padding_idx=padding_idx)
    expected = torch.nn.functional.embedding(torch.from_numpy(index), wt,
                                             padding_idx=padding_idx)
    close(out.data, expected.detach().numpy(), np.float32)  # forward: the rows as they are
    c = np.random.default_rng(3).standard_normal((2, 3, 3)).astype(np.float32)
    (out * sorix.tensor(c)).sum().backward()
    (expected * torch.from_numpy(c)).sum().backward()
    close(ws.grad.data, wt.grad.numpy(), np.float32)
    assert not ws.grad.data[padding_idx].any()


# ---- max_norm -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_type", [1, 2, 3, 2.5, float("inf")])
@pytest.mark.parametrize("shape", ["1d", "2d", "0d"])
def test_max_norm_renormalises_in_place_as_torch(dtype, norm_type, shape):
    weights = spread_rows(5, 4, dtype)
    index = INDICES[shape]
    emb = nn.Embedding.from_pretrained(weights.copy(), freeze=False, max_norm=1.0,
                                       norm_type=norm_type)
    ref = torch.nn.Embedding.from_pretrained(torch.from_numpy(weights.copy()), freeze=False,
                                             max_norm=1.0, norm_type=norm_type)
    W, data = emb.W, emb.W.data
    compare(emb, ref, index, dtype)
    assert emb.W is W and emb.W.data is data  # in place
    close(emb.W.data, ref.weight.detach().numpy(), dtype, "renormalised W")
    norms = np.linalg.norm(weights.astype(np.float64), ord=norm_type, axis=1)
    read = np.isin(np.arange(5), index)
    changed = read & (norms > 1.0)
    assert changed.any()  # the cases are not vacuous: rows changed, and rows read but kept
    assert shape == "0d" or (read & ~changed).any()
    np.testing.assert_array_equal(emb.W.data[~changed], weights[~changed])
    new_norms = np.linalg.norm(emb.W.data[changed].astype(np.float64), ord=norm_type, axis=1)
    assert np.all(new_norms <= 1.0 + 1e-6)


def test_module_max_norm_with_padding_and_freq_matches_torch():
    sorix.manual_seed(3)
    options = dict(padding_idx=1, max_norm=0.3, norm_type=3.0, scale_grad_by_freq=True)
    emb = nn.Embedding(6, 4, **options)
    ref = twin(emb, np.float32, **options)
    index = np.array([[1, 4, 4, 5], [1, 1, 0, 4]])
    compare(emb, ref, index, np.float32)
    close(emb.W.data, ref.weight.detach().numpy(), np.float32)
    assert "padding_idx=1, max_norm=0.3, norm_type=3.0, scale_grad_by_freq=True" in repr(emb)


def test_functional_max_norm_changes_the_weight_in_place():
    w = spread_rows(4, 3, np.float32, seed=5)
    ws, wt = sorix.tensor(w.copy(), requires_grad=True), torch.tensor(w, requires_grad=True)
    index = np.array([3, 0, 3, 2])
    out = F.embedding(sorix.tensor(index), ws, max_norm=2.0, norm_type=1)
    expected = torch.nn.functional.embedding(torch.from_numpy(index), wt, max_norm=2.0,
                                             norm_type=1)
    close(out.data, expected.detach().numpy(), np.float32)
    close(ws.data, wt.detach().numpy(), np.float32)
    assert ws.is_leaf and ws.grad is None
    out.sum().backward()
    expected.sum().backward()
    close(ws.grad.data, wt.grad.numpy(), np.float32)


def test_max_norm_renorm_is_not_recorded_and_works_without_grad():
    emb = nn.Embedding.from_pretrained(spread_rows(5, 2, np.float32), freeze=True, max_norm=0.5)
    out = emb(sorix.tensor([0, 1, 2, 3, 4]))
    assert not out.requires_grad
    assert np.all(np.linalg.norm(emb.W.data, axis=1) <= 0.5 + 1e-6)
    with sorix.no_grad():
        trained = nn.Embedding(5, 2, max_norm=0.01)
        trained(sorix.tensor([0, 1]))
    assert np.all(np.linalg.norm(trained.W.data[:2], axis=1) <= 0.01 + 1e-8)


# ---- scale_grad_by_freq ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", sorted(INDICES))
@pytest.mark.parametrize("padding_idx", [None, 1])
def test_scale_grad_by_freq_matches_torch(dtype, shape, padding_idx):
    sorix.manual_seed(1)
    emb = nn.Embedding(5, 3, scale_grad_by_freq=True, padding_idx=padding_idx, dtype=dtype)
    ref = twin(emb, dtype, scale_grad_by_freq=True, padding_idx=padding_idx)
    compare(emb, ref, INDICES[shape], dtype)


def test_scale_grad_by_freq_divides_by_the_count():
    w = sorix.tensor(np.zeros((3, 2), np.float32), requires_grad=True)
    F.embedding(sorix.tensor([[2, 2, 0], [2, 2, 2]]), w, scale_grad_by_freq=True).sum().backward()
    np.testing.assert_allclose(w.grad.data, [[1, 1], [0, 0], [1, 1]])


def _second_order(w, theta, index, options):
    """g = d/dw sum((embedding(index, w) * theta) ** 3) through create_graph, then the
    gradient of sum(g * g) with respect to w and theta."""
    ws, ts = sorix.tensor(w, requires_grad=True), sorix.tensor(theta, requires_grad=True)
    (g,) = sorix.grad(((F.embedding(sorix.tensor(index), ws, **options) * ts) ** 3).sum(), ws,
                      create_graph=True)
    hw, ht = sorix.grad((g * g).sum(), [ws, ts])
    return g.data, hw.data, ht.data


@pytest.mark.parametrize("options", [dict(padding_idx=0), dict(padding_idx=-2),
                                     dict(padding_idx=0, scale_grad_by_freq=True),
                                     dict(scale_grad_by_freq=True)])
def test_second_order_gradients_match_torch(options):
    w = np.random.default_rng(4).standard_normal((5, 3))
    theta = np.random.default_rng(5).standard_normal(3)
    index = np.array([[1, 4, 1], [0, 1, 3]])
    g, hw, ht = _second_order(w, theta, index, options)
    wt, tt = torch.tensor(w, requires_grad=True), torch.tensor(theta, requires_grad=True)
    (gt,) = torch.autograd.grad(((torch.nn.functional.embedding(
        torch.from_numpy(index), wt, **options) * tt) ** 3).sum(), wt, create_graph=True)
    hwt, htt = torch.autograd.grad((gt * gt).sum(), [wt, tt])
    close(g, gt.detach().numpy(), np.float64)
    close(hw, hwt.numpy(), np.float64)
    close(ht, htt.numpy(), np.float64)
    # the derivative in w agrees with central differences of sum(g * g), g as computed
    eps, numerical = 1e-6, np.zeros_like(w)
    for i in np.ndindex(w.shape):
        shifted = []
        for step in (eps, -eps):
            v = w.copy()
            v[i] += step
            shifted.append((_second_order(v, theta, index, options)[0] ** 2).sum())
        numerical[i] = (shifted[0] - shifted[1]) / (2 * eps)
    np.testing.assert_allclose(hw, numerical, rtol=1e-5, atol=1e-5)


# ---- _weight, _freeze, from_pretrained, dtype -----------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("freeze", [True, False])
def test_from_pretrained_matches_torch(dtype, freeze):
    weights = np.random.default_rng(6).standard_normal((5, 3)).astype(dtype)
    emb = nn.Embedding.from_pretrained(sorix.tensor(weights), freeze=freeze, padding_idx=-1)
    ref = torch.nn.Embedding.from_pretrained(torch.from_numpy(weights.copy()), freeze=freeze,
                                             padding_idx=-1)
    assert emb.W.dtype == dtype and emb.W.shape == (5, 3)
    assert emb.W.requires_grad is (not freeze) is ref.weight.requires_grad
    assert [name for name, _ in emb.named_parameters()] == ["W"]  # frozen, still a parameter
    assert emb.padding_idx == 4
    np.testing.assert_array_equal(emb.W.data, weights)  # the padding row is kept as given
    index = INDICES["2d"]
    out = emb(sorix.tensor(index))
    close(out.data, ref(torch.from_numpy(index)).detach().numpy(), dtype)
    assert out.requires_grad is not freeze
    if not freeze:
        ref.weight.grad = None
        compare(emb, ref, index, dtype)


def test_from_pretrained_shares_memory_and_keeps_sorix_dtypes():
    array = np.arange(6, dtype=np.float64).reshape(3, 2)
    emb = nn.Embedding.from_pretrained(array)
    assert emb.W.dtype == sorix.float64 and np.shares_memory(emb.W.data, array)
    t = sorix.tensor([[1.0, 2.0], [3.0, 4.0]])
    emb = nn.Embedding.from_pretrained(t, freeze=False)
    assert emb.W is not t and np.shares_memory(emb.W.data, t.data) and emb.W.requires_grad
    assert nn.Embedding.from_pretrained([[1.0, 2.0]]).W.dtype == sorix.float32
    assert nn.Embedding.from_pretrained(np.ones((2, 2), np.int64)).W.dtype == sorix.float32


def test_weight_argument_and_freeze():
    w = np.random.default_rng(7).standard_normal((4, 2)).astype(np.float32)
    emb = nn.Embedding(4, 2, _weight=w, _freeze=True, padding_idx=0)
    np.testing.assert_array_equal(emb.W.data, w)
    assert not emb.W.requires_grad and "W" in emb.state_dict()
    emb = nn.Embedding(4, 2, _weight=sorix.tensor(w), dtype=sorix.float64)
    assert emb.W.dtype == sorix.float64 and emb.W.requires_grad
    np.testing.assert_array_equal(emb.W.data, w.astype(np.float64))


def test_float64_and_default_initialisation():
    sorix.manual_seed(0)
    default = nn.Embedding(7, 3)
    sorix.manual_seed(0)
    again = nn.Embedding(7, 3, dtype=sorix.float32)
    np.testing.assert_array_equal(default.W.data, again.W.data)  # same draw as ever
    wide = nn.Embedding(7, 3, dtype="float64", padding_idx=2)
    assert wide.W.dtype == sorix.float64
    assert not wide.W.data[2].any() and np.abs(wide.W.data).max() <= np.sqrt(1 / 7)
    assert repr(wide) == "Embedding(7, 3, padding_idx=2)"
    assert repr(default) == "Embedding(7, 3)"


def test_reset_parameters_zeroes_the_padding_row():
    emb = nn.Embedding(6, 2, padding_idx=-1)
    W = emb.W
    with sorix.no_grad():
        emb.W[...] = 9.0
    emb.reset_parameters()
    assert emb.W is W and not emb.W.data[5].any()
    assert np.abs(emb.W.data).max() <= np.sqrt(1 / 6)


# ---- bad arguments ---------------------------------------------------------------------------

def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(5, 2, padding_idx=-6)
    with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
        F.embedding(sorix.tensor([0]), sorix.zeros(3, 2), padding_idx=3)
    with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding.from_pretrained(np.ones((2, 2)), padding_idx=-3)
    for bad in (1.0, "cuda", True):
        with pytest.raises(TypeError, match="padding_idx must be an int"):
            nn.Embedding(5, 2, padding_idx=bad)
    with pytest.raises(NotImplementedError, match="dense"):
        nn.Embedding(5, 2, sparse=True)
    with pytest.raises(NotImplementedError, match="dense"):
        F.embedding(sorix.tensor([0]), sorix.zeros(3, 2), sparse=True)
    with pytest.raises(NotImplementedError, match="dense"):
        nn.Embedding.from_pretrained(np.ones((2, 2)), sparse=True)
    with pytest.raises(ValueError, match="Shape of weight does not match"):
        nn.Embedding(5, 2, _weight=np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="2-dimensional"):
        nn.Embedding.from_pretrained(np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="float32 or float64"):
        nn.Embedding(5, 2, dtype=sorix.int64)
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        nn.Embedding(5, 2, max_norm=-1.0)
    with pytest.raises(TypeError, match="max_norm must be a real number"):
        F.embedding(sorix.tensor([0]), sorix.zeros(3, 2), max_norm="1")
    with pytest.raises(TypeError, match="norm_type must be a real number"):
        nn.Embedding(5, 2, max_norm=1.0, norm_type=None)
    with pytest.raises(ValueError, match="2-D weight"):
        F.embedding(sorix.tensor([0]), sorix.zeros(3), padding_idx=0)
    emb = nn.Embedding(3, 2, padding_idx=0)  # the index checks still hold with options
    with pytest.raises(IndexError, match="index 3 is out of range"):
        emb(sorix.tensor([0, 3]))
    with pytest.raises(TypeError, match="integers"):
        emb(sorix.tensor([0.0]))


# ---- CPU and CUDA (numba's simulator) --------------------------------------------------------

@pytest.mark.parametrize("options", [
    {}, dict(padding_idx=3), dict(scale_grad_by_freq=True, padding_idx=-5),
    dict(max_norm=0.3, norm_type=3.0, scale_grad_by_freq=True, padding_idx=0)])
def test_cuda_matches_cpu(options):
    if NO_CUDA:
        pytest.skip(NO_CUDA)
    index = np.array([[3, 1, 3], [0, 3, 1]])
    upstream = np.random.default_rng(8).standard_normal((2, 3, 3)).astype(np.float32)
    layers = {}
    for device in ("cpu", "cuda"):
        sorix.manual_seed(0)
        emb = layers[device] = nn.Embedding(5, 3, device=device, **options)
        out = emb(sorix.tensor(index, device=device))
        layers[device, "out"] = out
        out.backward(sorix.tensor(upstream, device=device))
    cpu, gpu = layers["cpu"], layers["cuda"]
    cuda_setup.assert_same(layers["cpu", "out"], layers["cuda", "out"], "values")
    cuda_setup.assert_same(cpu.W, gpu.W, "W after the lookup")
    cuda_setup.assert_same(cpu.W.grad, gpu.W.grad, "W's gradient")
    frozen = nn.Embedding.from_pretrained(gpu.W.detach(), padding_idx=1)
    assert frozen.W.device == sorix.device("cuda:0") and not frozen.W.requires_grad


@pytest.mark.parametrize("options", [dict(padding_idx=0, scale_grad_by_freq=True),
                                     dict(padding_idx=-1, max_norm=1.5, norm_type=1)])
def test_cuda_second_order_matches_cpu(options):
    if NO_CUDA:
        pytest.skip(NO_CUDA)
    w = np.random.default_rng(9).standard_normal((5, 3))
    index = np.array([[1, 4, 1], [0, 1, 3]])
    found = {}
    for device in ("cpu", "cuda"):
        ws = sorix.tensor(w, device=device, requires_grad=True)
        out = F.embedding(sorix.tensor(index, device=device), ws, **options)
        (g,) = sorix.grad((out ** 3).sum(), ws, create_graph=True)
        (h,) = sorix.grad((g * g).sum(), ws)
        found[device] = out, ws, g, h
    for what, a, b in zip(("values", "renormalised weight", "gradient", "second order"),
                          found["cpu"], found["cuda"]):
        cuda_setup.assert_same(a.detach(), b.detach(), what)
