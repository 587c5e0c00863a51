"""1-D pooling (MaxPool1d, AvgPool1d, AdaptiveAvgPool1d and their functional forms) and
LogSoftmax: against PyTorch in float32 and float64 (values, input gradients, indices),
finite differences in float64, argument checks."""
import numpy as np
import pytest

import sorix
import sorix.nn as nn
import sorix.nn.functional as F
from sorix.autograd import gradcheck
from sorix.errors import ShapeMismatchError

from conftest import DTYPES, finite_differences, normal

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def check_both(ours, theirs, x, dtype):
    """Values and the input gradient for one random upstream gradient agree."""
    xs, xt = sorix.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ys, yt = ours(xs), theirs(xt)
    assert ys.dtype == dtype and tuple(ys.shape) == tuple(yt.shape)
    np.testing.assert_allclose(ys.data, yt.detach().numpy(), **TOL[dtype])
    g = normal(tuple(yt.shape), dtype, 7)
    ys.backward(sorix.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), **TOL[dtype])


CASES = [
    ("MaxPool1d", (2, 3, 11), dict(kernel_size=3)),
    ("MaxPool1d", (2, 3, 11), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("MaxPool1d", (3, 10), dict(kernel_size=2, dilation=3)),  # unbatched (C, L)
    ("AvgPool1d", (2, 3, 11), dict(kernel_size=4, stride=3, padding=2)),
    ("AvgPool1d", (2, 3, 11), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True,
                                   count_include_pad=False)),
    ("AvgPool1d", (4, 9), dict(kernel_size=(3,))),
    ("AdaptiveAvgPool1d", (2, 3, 11), dict(output_size=4)),
    ("AdaptiveAvgPool1d", (3, 5), dict(output_size=7)),  # more outputs than inputs
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, shape, options", CASES,
                         ids=[f"{n}-{'x'.join(map(str, s))}-{i}"
                              for i, (n, s, _) in enumerate(CASES)])
def test_layers_match_torch(name, shape, options, dtype):
    x = normal(shape, dtype, 1)
    check_both(getattr(nn, name)(**options), getattr(torch.nn, name)(**options), x, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_functional_forms_match_torch(dtype):
    x = normal((2, 4, 13), dtype, 2)
    check_both(lambda t: F.max_pool1d(t, 3, 2, 1), lambda t: torch.nn.functional.max_pool1d(
        t, 3, 2, 1), x, dtype)
    check_both(lambda t: F.avg_pool1d(t, 2, count_include_pad=False),
               lambda t: torch.nn.functional.avg_pool1d(t, 2, count_include_pad=False), x, dtype)
    check_both(lambda t: F.adaptive_avg_pool1d(t, 5),
               lambda t: torch.nn.functional.adaptive_avg_pool1d(t, 5), x, dtype)


def test_max_pool_indices_are_positions_along_l():
    x = normal((2, 3, 12), np.float64, 3)
    ys, index = nn.MaxPool1d(3, stride=2, padding=1, return_indices=True)(sorix.tensor(x))
    yt, expected = torch.nn.MaxPool1d(3, stride=2, padding=1, return_indices=True)(
        torch.tensor(x))
    np.testing.assert_array_equal(index.data, expected.numpy())
    np.testing.assert_array_equal(np.take_along_axis(x, index.data, axis=2), ys.data)


def test_gradients_against_finite_differences_and_second_order():
    x = normal((2, 2, 9), np.float64, 4)
    for fn in (lambda t: F.max_pool1d(t, 3, 2, 1), lambda t: F.avg_pool1d(t, 3, 2, 1),
               lambda t: F.adaptive_avg_pool1d(t, 4)):
        xs = sorix.tensor(x, requires_grad=True)
        weights = normal(tuple(fn(xs).shape), np.float64, 5)
        fn(xs).backward(sorix.tensor(weights))
        (want,) = finite_differences(fn, [x], weights=weights)
        np.testing.assert_allclose(xs.grad.data, want, rtol=1e-7, atol=1e-9)
        assert gradcheck(fn, [sorix.tensor(x, requires_grad=True)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_layer_matches_torch_and_feeds_nll_loss(dtype):
    x = normal((4, 5), dtype, 6)
    for dim in (1, 0, -1):
        check_both(nn.LogSoftmax(dim=dim), torch.nn.LogSoftmax(dim=dim), x, dtype)
    labels = np.array([0, 4, 2, 2])
    xs, xt = sorix.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = nn.NLLLoss()(nn.LogSoftmax(dim=1)(xs), sorix.tensor(labels))
    theirs = torch.nn.NLLLoss()(torch.nn.LogSoftmax(dim=1)(xt), torch.tensor(labels))
    np.testing.assert_allclose(ours.item(), theirs.item(), **TOL[dtype])
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), **TOL[dtype])
    assert repr(nn.LogSoftmax(dim=1)) == "LogSoftmax(dim=1)"


def test_bad_arguments_name_the_1d_call():
    x = sorix.tensor(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ShapeMismatchError, match=r"max_pool1d: expected 2-D \(C, L\) or 3-D"):
        F.max_pool1d(sorix.tensor(np.zeros((1, 2, 3, 4), np.float32)), 2)
    with pytest.raises(ShapeMismatchError, match="avg_pool1d: input of length 4 is too short"):
        F.avg_pool1d(x, 5)
    with pytest.raises(ValueError, match="max_pool1d: padding 2 should be at most half"):
        F.max_pool1d(x, 2, padding=2)
    with pytest.raises(ValueError, match="kernel_size must be an int or a tuple of 1 ints"):
        nn.MaxPool1d((2, 2))
    with pytest.raises(ValueError, match="output_size must be positive"):
        nn.AdaptiveAvgPool1d(0)
