"""clip_grad_norm_ and clip_grad_value_ against PyTorch, and TensorDataset's semantics."""
import math

import numpy as np
import pytest

import sorix
import sorix.nn as nn
from sorix import config
from sorix.utils.data import DataLoader, TensorDataset

torch = pytest.importorskip("torch")


def _params(dtype, shapes=((3, 4), (5,), (2, 2, 2)), seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    grads = [(rng.standard_normal(s) * scale).astype(dtype) for s in shapes]
    ours, theirs = [], []
    for g in grads:
        p = sorix.tensor(np.zeros(g.shape, dtype), requires_grad=True)
        p.grad = sorix.tensor(g.copy())
        q = torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype, requires_grad=True)
        q.grad = torch.from_numpy(g.copy())
        ours.append(p)
        theirs.append(q)
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf, "inf", -math.inf, 0.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_against_torch(norm_type, max_norm, dtype):
    ours, theirs = _params(dtype)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    tol = dict(rtol=1e-5, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-15)
    assert isinstance(total, sorix.Tensor) and total.shape == () and total.dtype == dtype
    np.testing.assert_allclose(total.item(), expected.item(), **tol)
    for p, q in zip(ours, theirs):
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), **tol)


def test_clip_grad_norm_threaded_sum_and_a_single_tensor(monkeypatch):
    monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 64)
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)  # threads even on a busy machine
    ours, theirs = _params(np.float64, shapes=((300, 170),), scale=3.0)  # several blocks
    total = nn.utils.clip_grad_norm_(ours[0], 1.0)  # a tensor instead of a list
    expected = torch.nn.utils.clip_grad_norm_(theirs[0], 1.0)
    assert total.item() == pytest.approx(expected.item(), rel=1e-13)
    np.testing.assert_allclose(ours[0].grad.data, theirs[0].grad.numpy(), rtol=1e-13)
    assert np.linalg.norm(ours[0].grad.data) == pytest.approx(1.0, rel=1e-5)


def test_parameters_without_gradients_and_none_at_all():
    p = sorix.tensor([3.0, 4.0], requires_grad=True)
    q = sorix.tensor([1.0], requires_grad=True)  # no .grad: skipped
    p.grad = sorix.tensor([3.0, 4.0])
    total = nn.utils.clip_grad_norm_([p, q], 1.0)
    assert total.item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.data, [0.6, 0.8], rtol=1e-6)
    assert q.grad is None
    assert nn.utils.clip_grad_norm_([q], 1.0).item() == 0.0
    assert nn.utils.clip_grad_norm_(iter([p]), 10.0).item() == pytest.approx(1.0, rel=1e-6)


def test_non_finite_total_norm():
    p = sorix.tensor([1.0, 2.0], requires_grad=True)
    p.grad = sorix.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(p.grad.data, [np.inf, 1.0])  # left as it was
    total = nn.utils.clip_grad_norm_([p], 1.0)
    q = torch.tensor([1.0, 2.0], requires_grad=True)
    q.grad = torch.tensor([np.inf, 1.0])
    expected = torch.nn.utils.clip_grad_norm_([q], 1.0)
    assert total.item() == expected.item() == np.inf
    np.testing.assert_array_equal(p.grad.data, q.grad.numpy())  # NaN where PyTorch has NaN


def test_clip_grad_norm_gradients_stay_where_they_are():
    model = nn.Linear(3, 2)
    model(sorix.randn(4, 3)).sum().backward()
    grad = model.W.grad
    nn.utils.clip_grad_norm_(model.parameters(), 1e-3)
    assert model.W.grad is grad  # scaled in place
    total = math.sqrt(sum(float((p.grad.data.astype(np.float64) ** 2).sum())
                          for p in model.parameters()))
    assert total == pytest.approx(1e-3, rel=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_clip_grad_value_against_torch(dtype):
    ours, theirs = _params(dtype, scale=2.0)
    assert nn.utils.clip_grad_value_(ours, 0.7) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, q in zip(ours, theirs):
        assert p.grad.dtype == dtype
        np.testing.assert_array_equal(p.grad.data, q.grad.numpy())


# ---- TensorDataset ------------------------------------------------------------------------

def test_tensor_dataset_indexing_and_loading():
    x = sorix.tensor(np.arange(20.0, dtype=np.float32).reshape(10, 2))
    y = sorix.tensor(np.arange(10))
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi.data, [6.0, 7.0])
    assert yi.item() == 3 and ds[-1][1].item() == 9
    sliced = ds[2:4]
    assert sliced[0].shape == (2, 2) and sliced[1].tolist() == [2, 3]
    batches = list(DataLoader(ds, batch_size=4))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(batches[1][1].data, [4, 5, 6, 7])
    assert batches[0][0].dtype == sorix.float32 and batches[0][1].dtype == sorix.int64
    sorix.manual_seed(0)
    seen = np.concatenate([b[1].data for b in DataLoader(ds, batch_size=3, shuffle=True)])
    assert sorted(seen.tolist()) == list(range(10))
    single = TensorDataset(x)
    assert len(single[0]) == 1  # always a tuple, as PyTorch
    with pytest.raises(IndexError):
        ds[10]


def test_tensor_dataset_matches_torch_semantics():
    x = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    ours = TensorDataset(sorix.tensor(x), np.arange(6))  # arrays are accepted too
    theirs = torch.utils.data.TensorDataset(torch.tensor(x), torch.arange(6))
    for i in (0, 5, -2):
        for a, b in zip(ours[i], theirs[i]):
            np.testing.assert_array_equal(a.data, b.numpy())


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(sorix.zeros(4, 2), sorix.zeros(5))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(sorix.tensor(1.0))
    with pytest.raises(TypeError, match="argument 1"):
        TensorDataset(sorix.zeros(2), [1, 2])
    ds = TensorDataset(sorix.zeros(2))
    with pytest.raises(TypeError, match="item assignment"):
        ds[0] = (sorix.ones(1),)
