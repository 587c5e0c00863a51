"""nn.BatchNorm2d and functional batch_norm on (N, C, *) input: against PyTorch (training
steps, running estimates, evaluation, every constructor option), float64 finite
differences, the state dict and bad input. The GPU twin is in test_cuda_training.py."""
import numpy as np
import pytest

import sorix
import sorix.nn as nn
import sorix.nn.functional as F
from sorix.autograd import gradcheck

from conftest import finite_differences, leaf

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def close(actual, expected, dtype, what=""):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), err_msg=what,
                               **TOL[dtype])


def twins(dtype=np.float32, seed=0, **options):
    """A BatchNorm2d(3) of sorix's and of PyTorch's, with equal random weight and bias."""
    ours, theirs = nn.BatchNorm2d(3, **options), torch.nn.BatchNorm2d(3, **options)
    if dtype == np.float64:
        ours.double()
        theirs.double()
    if ours.weight is not None:
        r = np.random.default_rng(seed)
        with sorix.no_grad():
            for mine, name in ((ours.weight, "weight"), (ours.bias, "bias")):
                if mine is not None:
                    mine.data[...] = r.standard_normal(3).astype(dtype)
                    with torch.no_grad():
                        getattr(theirs, name).copy_(torch.tensor(mine.data))
    return ours, theirs


def train_steps(ours, theirs, dtype, shape=(4, 3, 5, 6), steps=3, seed=1):
    """``steps`` forward and backward passes of both on the same batches; checks the
    outputs and every gradient at each."""
    r = np.random.default_rng(seed)
    for step in range(steps):
        ours.zero_grad()
        theirs.zero_grad()
        x = (r.standard_normal(shape) * 3 + 2).astype(dtype)
        xs, xt = leaf(x), torch.tensor(x, requires_grad=True)
        ys, yt = ours(xs), theirs(xt)
        assert ys.shape == x.shape and ys.dtype == dtype
        close(ys.data, yt.detach().numpy(), dtype, f"output, step {step}")
        g = r.standard_normal(shape).astype(dtype)
        ys.backward(g)
        yt.backward(torch.tensor(g))
        close(xs.grad.data, xt.grad.numpy(), dtype, f"input gradient, step {step}")
        for name in ("weight", "bias"):
            mine, ref = getattr(ours, name), getattr(theirs, name)
            assert (mine is None) == (ref is None), name
            if mine is not None:
                assert mine.grad.shape == (3,)
                close(mine.grad.data, ref.grad.numpy(), dtype, f"{name} gradient, step {step}")


def running_estimates_match(ours, theirs, dtype):
    for name in ("running_mean", "running_var"):
        mine, ref = getattr(ours, name), getattr(theirs, name)
        assert mine.shape == (3,) and mine.dtype == dtype
        close(mine.data, ref.numpy(), dtype, name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (2, 3, 1, 1), (1, 3, 4, 7)])
def test_training_steps_then_evaluation_match_torch(shape, dtype):
    ours, theirs = twins(dtype, momentum=0.2)
    train_steps(ours, theirs, dtype, shape)
    running_estimates_match(ours, theirs, dtype)
    assert ours.num_batches_tracked.item() == 3 and ours.num_batches_tracked.dtype == sorix.int64
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(9).standard_normal(shape).astype(dtype)
    close(ours(sorix.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), dtype, "eval")


@pytest.mark.parametrize("options", [dict(momentum=None), dict(affine=False),
                                     dict(bias=False), dict(eps=0.1)],
                         ids=["cumulative-average", "no-affine", "no-bias", "eps"])
def test_options_match_torch(options):
    ours, theirs = twins(np.float64, **options)
    train_steps(ours, theirs, np.float64)
    running_estimates_match(ours, theirs, np.float64)
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 4))
    close(ours(sorix.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), np.float64)


def test_without_running_estimates_evaluation_uses_the_batch():
    ours, theirs = twins(np.float64, track_running_stats=False)
    assert ours.running_mean is None and ours.running_var is None
    assert ours.num_batches_tracked is None
    assert list(ours.state_dict()) == ["weight", "bias"]
    train_steps(ours, theirs, np.float64, steps=1)
    ours.eval()
    theirs.eval()
    train_steps(ours, theirs, np.float64, steps=1, seed=5)  # still the batch's statistics


def test_non_contiguous_input_matches_torch():
    ours, theirs = twins(np.float64)
    base = np.random.default_rng(4).standard_normal((5, 6, 3, 4))
    x = base.transpose(0, 2, 3, 1)[:, :, ::2]  # (5, 3, 2, 6), strided
    xs, xt = leaf(np.ascontiguousarray(base)), torch.tensor(base, requires_grad=True)
    ys = ours(xs.permute(0, 2, 3, 1)[:, :, ::2])
    yt = theirs(xt.permute(0, 2, 3, 1)[:, :, ::2])
    assert ys.shape == x.shape
    close(ys.data, yt.detach().numpy(), np.float64)
    g = np.random.default_rng(6).standard_normal(x.shape)
    ys.backward(g)
    yt.backward(torch.tensor(g))
    close(xs.grad.data, xt.grad.numpy(), np.float64, "input gradient")


def test_gradients_against_finite_differences():
    r = np.random.default_rng(7)
    x = r.standard_normal((3, 2, 3, 2)) * 2 + 1
    weight, bias = r.standard_normal(2), r.standard_normal(2)
    upstream = r.standard_normal(x.shape)

    def normalise(x, weight, bias):
        return F.batch_norm(x, None, None, weight, bias, training=True)

    tensors = [leaf(a.copy()) for a in (x, weight, bias)]
    normalise(*tensors).backward(upstream)
    numeric = finite_differences(normalise, [x, weight, bias], weights=upstream)
    for t, want, name in zip(tensors, numeric, ("x", "weight", "bias")):
        np.testing.assert_allclose(t.grad.data, want, rtol=1e-6, atol=1e-8, err_msg=name)

    def first_derivatives(x, weight, bias):  # second order: the rule's tensor form
        with sorix.enable_grad():
            out = (normalise(x, weight, bias) * sorix.tensor(upstream)).sum()
            return sorix.autograd.grad(out, [x, weight], create_graph=True)
    assert gradcheck(first_derivatives, [leaf(a.copy()) for a in (x, weight, bias)])


@pytest.mark.parametrize("shape", [(2, 3, 4, 2, 3), (3, 3, 5)])
def test_functional_takes_any_trailing_dimensions(shape):
    r = np.random.default_rng(8)
    x = r.standard_normal(shape)
    running = [np.zeros(3), np.ones(3)]
    ours = F.batch_norm(sorix.tensor(x), *(sorix.tensor(a.copy()) for a in running),
                        training=True, momentum=0.3)
    theirs = torch.nn.functional.batch_norm(torch.tensor(x), *(torch.tensor(a.copy())
                                                               for a in running),
                                            training=True, momentum=0.3)
    close(ours.data, theirs.numpy(), np.float64)


def test_state_dict_round_trip_and_reset(tmp_path):
    ours, _ = twins(np.float32, momentum=0.5)
    ours(sorix.tensor(np.random.default_rng(2).standard_normal((4, 3, 2, 2)) + 3))
    state = ours.state_dict()
    assert list(state) == ["weight", "bias", "running_mean", "running_var",
                           "num_batches_tracked"]
    assert state["num_batches_tracked"].item() == 1
    sorix.save(ours.state_dict(), tmp_path / "bn.sor")
    fresh = nn.BatchNorm2d(3)
    fresh.load_state_dict(sorix.load(tmp_path / "bn.sor"))
    for name, value in state.items():
        np.testing.assert_array_equal(getattr(fresh, name).data, value.data, err_msg=name)
    fresh.reset_parameters()
    np.testing.assert_array_equal(fresh.running_mean.data, np.zeros(3, np.float32))
    np.testing.assert_array_equal(fresh.running_var.data, np.ones(3, np.float32))
    np.testing.assert_array_equal(fresh.weight.data, np.ones(3, np.float32))
    np.testing.assert_array_equal(fresh.bias.data, np.zeros(3, np.float32))
    assert fresh.num_batches_tracked.item() == 0
    assert repr(fresh) == ("BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, "
                           "track_running_stats=True)")


def test_a_reloaded_model_continues_its_cumulative_average(tmp_path):
    r = np.random.default_rng(12)
    batches = [r.standard_normal((2, 3, 2, 2)) * (k + 1) for k in range(4)]
    theirs = torch.nn.BatchNorm2d(3, momentum=None).double()
    for x in batches:
        theirs(torch.tensor(x))
    first = nn.BatchNorm2d(3, momentum=None).double()
    for x in batches[:2]:
        first(sorix.tensor(x))
    sorix.save(first.state_dict(), tmp_path / "half.sor")
    second = nn.BatchNorm2d(3, momentum=None).double()
    second.load_state_dict(sorix.load(tmp_path / "half.sor"))
    for x in batches[2:]:
        second(sorix.tensor(x))
    assert second.num_batches_tracked.item() == 4
    running_estimates_match(second, theirs, np.float64)


def test_bad_input_names_the_expected_shape_and_changes_nothing():
    bn = nn.BatchNorm2d(3)
    for shape in ((4, 3, 5), (4, 2, 5, 5)):
        with pytest.raises(ValueError, match=r"expects input of shape \(N, 3, H, W\)"):
            bn(sorix.tensor(np.zeros(shape, np.float32)))
    assert bn.num_batches_tracked.item() == 0
    np.testing.assert_array_equal(bn.running_var.data, np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"\(N, C\) or \(N, C, \*\)"):
        F.batch_norm(sorix.tensor(np.zeros(3)), None, None, training=True)
    for bad, message in ((0, "num_features"), (2.5, "num_features"), (3, "momentum")):
        with pytest.raises(ValueError, match=message):
            nn.BatchNorm2d(bad, momentum=1.5 if bad == 3 else 0.1)
    with pytest.raises(TypeError, match="floating point"):
        nn.BatchNorm2d(3, dtype=sorix.int64)
