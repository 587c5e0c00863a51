"""Inputs that used to pass silently or fail obscurely: negative gather indices, empty
batches in losses, 0-d loss targets, float sizes in factories, complex data, and
float16 tensors in backward."""
import warnings

import numpy as np
import pytest

import sorix
import sorix.nn as nn
from sorix import config

from conftest import leaf

torch = pytest.importorskip("torch")


# ---- dimensions out of range (PyTorch refuses each; they used to wrap silently) ------------

@pytest.mark.parametrize("call, torch_call", [
    (lambda x: sorix.gather(x, 3, sorix.tensor(np.zeros((2, 3, 4), np.int64))),
     lambda t: torch.gather(t, 3, torch.zeros((2, 3, 4), dtype=torch.int64))),
    (lambda x: sorix.gather(x, -4, sorix.tensor(np.zeros((2, 3, 4), np.int64))),
     lambda t: torch.gather(t, -4, torch.zeros((2, 3, 4), dtype=torch.int64))),
    (lambda x: x.flatten(5), lambda t: t.flatten(5)),
    (lambda x: nn.Flatten(0, 4)(x), lambda t: torch.nn.Flatten(0, 4)(t)),
    (lambda x: x.permute(0, 1, 3), lambda t: t.permute(0, 1, 3)),
])
def test_a_dimension_out_of_range_is_refused(call, torch_call):
    x = sorix.tensor(np.arange(24.0).reshape(2, 3, 4))
    with pytest.raises(IndexError, match="out of range"):
        call(x)
    with pytest.raises((IndexError, RuntimeError)):
        torch_call(torch.arange(24.0).reshape(2, 3, 4))


def test_flatten_refuses_start_after_end():
    x = sorix.tensor(np.arange(24.0).reshape(2, 3, 4))
    with pytest.raises(RuntimeError, match="start_dim 2 comes after end_dim 1"):
        x.flatten(2, 1)
    with pytest.raises(RuntimeError):
        torch.arange(24.0).reshape(2, 3, 4).flatten(2, 1)
    assert x.flatten(1, 1).shape == (2, 3, 4)  # one dimension: unchanged, as in PyTorch


# ---- gather ------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [-1, -3, 3, 7])
def test_gather_refuses_an_index_out_of_range(bad):
    x = sorix.tensor(np.arange(6.0).reshape(2, 3))
    index = sorix.tensor(np.array([[0, bad], [1, 2]]))
    with pytest.raises(IndexError, match=rf"index {bad} is out of range .* size 3 "
                                         r"\(valid indices: 0 to 2\)"):
        sorix.gather(x, 1, index)
    with pytest.raises(RuntimeError):  # PyTorch refuses it too
        torch.gather(torch.arange(6.0).reshape(2, 3), 1, torch.tensor([[0, bad], [1, 2]]))


def test_gather_in_range_matches_torch_with_gradient():
    a = np.random.default_rng(0).standard_normal((3, 4))
    idx = np.array([[0, 3, 3], [1, 1, 0], [2, 0, 3]])
    x, xt = leaf(a), torch.tensor(a, requires_grad=True)
    out, ot = x.gather(1, sorix.tensor(idx)), xt.gather(1, torch.tensor(idx))
    out.sum().backward()
    ot.sum().backward()
    np.testing.assert_array_equal(out.data, ot.detach().numpy())
    np.testing.assert_array_equal(x.grad.data, xt.grad.numpy())


# ---- losses on an empty batch ---------------------------------------------------------------

@pytest.mark.parametrize("loss", ["mse", "bce"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_on_an_empty_batch_match_torch(loss, reduction):
    ours = {"mse": nn.MSELoss, "bce": nn.BCEWithLogitsLoss}[loss](reduction=reduction)
    theirs = {"mse": torch.nn.MSELoss, "bce": torch.nn.BCEWithLogitsLoss}[loss](
        reduction=reduction)
    x = leaf(np.zeros((0, 1), np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning either
        out = ours(x, sorix.tensor(np.zeros((0, 1), np.float32)))
        out.sum().backward()
    expected = theirs(torch.zeros((0, 1)), torch.zeros((0, 1))).numpy()
    assert out.data.shape == expected.shape
    np.testing.assert_array_equal(out.data, expected)  # NaN for mean, 0 for sum, [] for none
    assert x.grad.shape == (0, 1)


# ---- a 0-d target broadcasts ----------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_zero_dimensional_mse_target_broadcasts_like_torch(reduction):
    ours, theirs = nn.MSELoss(reduction=reduction), torch.nn.MSELoss(reduction=reduction)
    u = np.random.default_rng(1).standard_normal((5, 1))
    x, target = leaf(u), leaf(np.array(0.25))
    xt, tt = torch.tensor(u, requires_grad=True), torch.tensor(0.25, dtype=torch.float64,
                                                                 requires_grad=True)
    out = ours(x, target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns about the size difference
        ot = theirs(xt, tt)
    out.sum().backward()
    ot.sum().backward()
    np.testing.assert_allclose(out.data, ot.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-12)
    assert target.grad.shape == ()
    np.testing.assert_allclose(target.grad.data, tt.grad.numpy(), rtol=1e-12)


def test_residual_loss_of_a_physics_informed_network():
    u = leaf(np.linspace(-1, 1, 7).reshape(7, 1))
    loss = nn.MSELoss()(u * u, sorix.tensor(0.0))
    loss.backward()
    x = np.linspace(-1, 1, 7).reshape(7, 1)
    np.testing.assert_allclose(loss.item(), np.mean(x ** 4), rtol=1e-12)
    np.testing.assert_allclose(u.grad.data, 4 * x ** 3 / 7, rtol=1e-12)


def test_an_n_target_against_n_by_1_predictions_is_still_refused():
    with pytest.raises(ValueError, match=r"\(4, 1\) and target shape \(4,\)"):
        nn.MSELoss()(leaf(np.zeros((4, 1))), sorix.tensor(np.zeros(4)))


def test_bce_refuses_a_zero_dimensional_target_as_torch_does():
    with pytest.raises(ValueError, match="differ"):
        nn.BCEWithLogitsLoss()(leaf(np.zeros((4, 1))), sorix.tensor(0.5))
    with pytest.raises(ValueError):
        torch.nn.BCEWithLogitsLoss()(torch.zeros((4, 1)), torch.tensor(0.5))


# ---- factories refuse float sizes -----------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: sorix.randn(2.7), lambda: sorix.rand(2, 3.0), lambda: sorix.zeros((2.0, 3)),
    lambda: sorix.ones(2.5), lambda: sorix.empty(np.float64(3)), lambda: sorix.full((2.0,), 1.0),
    lambda: sorix.randint(0, 5, (2.5,)), lambda: sorix.randint(0, 5.5, (2,)),
    lambda: sorix.randperm(3.0), lambda: sorix.eye(2.0), lambda: sorix.eye(2, 3.5),
    lambda: sorix.linspace(0, 1, 4.0), lambda: sorix.logspace(0, 1, 4.0),
    lambda: sorix.zeros(True),
], ids=["randn", "rand", "zeros", "ones", "empty", "full", "randint-size", "randint-high",
        "randperm", "eye", "eye-m", "linspace", "logspace", "bool"])
def test_factories_refuse_float_sizes(make):
    with pytest.raises(TypeError, match="must be an integer"):
        make()


def test_factories_accept_integer_sizes_of_every_kind():
    assert sorix.zeros(np.int64(2), 3).shape == (2, 3)
    assert sorix.ones((np.int32(2),)).shape == (2,)
    assert sorix.randn(sorix.tensor(3)).shape == (3,)
    assert sorix.full([2, 2], 1.5).shape == (2, 2)
    assert sorix.randint(0, 5, 4).shape == (4,)
    assert sorix.eye(np.int64(2)).shape == (2, 2)
    assert sorix.linspace(0, 1, np.int64(5)).shape == (5,)


# ---- complex data is refused ------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: sorix.tensor(np.array([1 + 2j])), lambda: sorix.tensor([1 + 2j]),
    lambda: sorix.tensor(1j), lambda: sorix.as_tensor(np.array([1j])),
    lambda: sorix.from_numpy(np.zeros(2, np.complex64)),
    lambda: sorix.tensor([1.0]).to(np.complex64),
    lambda: sorix.tensor([1.0]).astype("complex128"),
    lambda: sorix.zeros(2, dtype=np.complex64),
    lambda: sorix.tensor([1.0], dtype=np.complex128),
], ids=["array", "list", "scalar", "as_tensor", "from_numpy", "to", "astype", "zeros", "dtype"])
def test_complex_data_is_refused(make):
    with pytest.raises(TypeError, match="complex tensors are not supported"):
        make()


def test_astype_takes_dtype_names():
    assert sorix.tensor([1.0]).astype("float64").dtype == sorix.float64


# ---- float16: computed in float32, stored in float16 --------------------------------------------

def _half_pair(shape, seed):
    a = np.random.default_rng(seed).uniform(0.5, 1.5, shape).astype(np.float16)
    return leaf(a), torch.tensor(a.astype(np.float32), requires_grad=True)


HALF_CASES = {
    "mul": lambda x, y: (x * y).sum(),
    "div": lambda x, y: (x / y).mean(),
    "square": lambda x, y: (x * x).sum() + y.sum(),
    "exp-tanh": lambda x, y: (x.exp() * y.tanh()).sum(),
    "sigmoid-sub": lambda x, y: (x.sigmoid() - y).sum(),
    "broadcast": lambda x, y: (x * y[:1]).sum(),
    "sum-axis": lambda x, y: (x.sum(1) * y.sum(1)).sum(),
    "max": lambda x, y: x.max() + y.min(),
    "var": lambda x, y: x.var(1).sum() + y.std(),
    "matmul": lambda x, y: (x @ y.T).sum(),
}


@pytest.mark.parametrize("name", list(HALF_CASES))
def test_float16_backward_matches_float32_rounded(name):
    fn = HALF_CASES[name]
    (x, xt), (y, yt) = _half_pair((4, 3), 2), _half_pair((4, 3), 3)
    out = fn(x, y)
    out.backward()
    assert out.dtype == sorix.float16
    assert x.grad.dtype == sorix.float16 and y.grad.dtype == sorix.float16
    fn(xt, yt).backward()
    # float16 keeps ~3 decimal digits: each stored value rounds once or twice
    np.testing.assert_allclose(x.grad.data.astype(np.float32), xt.grad.numpy(), rtol=4e-3,
                               atol=2e-3)
    np.testing.assert_allclose(y.grad.data.astype(np.float32), yt.grad.numpy(), rtol=4e-3,
                               atol=2e-3)


@pytest.mark.parametrize("loss", ["mse", "bce", "ce"])
def test_float16_losses(loss):
    (x, xt), (t, tt) = _half_pair((5, 3), 4), _half_pair((5, 3), 5)
    if loss == "ce":
        labels = np.array([0, 2, 1, 1, 0])
        out = nn.functional.cross_entropy(x, sorix.tensor(labels))
        ot = torch.nn.functional.cross_entropy(xt, torch.tensor(labels))
    elif loss == "mse":
        out, ot = nn.MSELoss()(x, t), torch.nn.MSELoss()(xt, tt)
    else:
        out = nn.BCEWithLogitsLoss()(x, t.detach())
        ot = torch.nn.BCEWithLogitsLoss()(xt, tt.detach())
    out.backward()
    ot.backward()
    assert out.dtype == sorix.float16 and x.grad.dtype == sorix.float16
    np.testing.assert_allclose(float(out.item()), ot.item(), rtol=2e-3)
    np.testing.assert_allclose(x.grad.data.astype(np.float32), xt.grad.numpy(), rtol=5e-3,
                               atol=1e-4)


def test_float16_fused_and_threaded_backward(monkeypatch):
    monkeypatch.setattr(config, "FUSION_THRESHOLD", 8)
    monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 8)
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)
    (x, xt), (y, yt) = _half_pair((6, 5), 6), _half_pair((6, 5), 7)
    ((x.tanh() * y + x.exp()) * y).sum().backward()
    ((xt.tanh() * yt + xt.exp()) * yt).sum().backward()
    assert x.grad.dtype == sorix.float16
    np.testing.assert_allclose(x.grad.data.astype(np.float32), xt.grad.numpy(), rtol=4e-3,
                               atol=2e-3)
    np.testing.assert_allclose(y.grad.data.astype(np.float32), yt.grad.numpy(), rtol=4e-3,
                               atol=2e-3)


def test_float16_inputs_are_not_changed():
    a = np.random.default_rng(8).uniform(0.5, 1.5, 6).astype(np.float16)
    t = np.random.default_rng(9).uniform(0.5, 1.5, 6).astype(np.float16)
    keep_a, keep_t = a.copy(), t.copy()
    x = leaf(a)
    nn.MSELoss()(x, sorix.tensor(t)).backward()
    np.testing.assert_array_equal(a, keep_a)
    np.testing.assert_array_equal(t, keep_t)
