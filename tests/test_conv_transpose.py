"""Transposed convolution (nn.ConvTranspose1d/2d, F.conv_transpose1d/2d) against PyTorch:
values and every gradient in float32 and float64, output_size, initialisation, parameter
shapes, state_dict, repr, double backward and the argument checks. Tiny shapes."""
import math

import numpy as np
import pytest

import sorix
import sorix.nn as nn
import sorix.nn.functional as F

from conftest import DTYPES, compare_with_torch as compare, normal
from conftest import close_scaled as close

torch = pytest.importorskip("torch")


CASES_2D = [
    # (input shape, weight shape (C_in, C_out / groups, KH, KW), keyword arguments)
    ((2, 3, 3, 4), (3, 2, 3, 3), {}),
    ((2, 3, 3, 3), (3, 2, 2, 2), dict(stride=2)),
    ((1, 2, 3, 4), (2, 3, 3, 2), dict(stride=(2, 3), padding=(1, 0))),
    ((2, 2, 3, 3), (2, 2, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((1, 2, 4, 3), (2, 1, 2, 3), dict(stride=(3, 2), padding=(1, 2), output_padding=(2, 1))),
    ((2, 2, 3, 3), (2, 2, 2, 3), dict(dilation=(2, 1), padding=1)),
    ((1, 2, 3, 3), (2, 2, 2, 2), dict(dilation=3, output_padding=2)),  # op >= stride, < dil
    ((2, 4, 3, 3), (4, 1, 2, 3), dict(groups=2, stride=2)),
    ((1, 6, 2, 3), (6, 2, 3, 2), dict(groups=3, padding=(1, 0), dilation=(1, 2))),
    ((2, 3, 3, 2), (3, 2, 1, 3), dict(stride=2, padding=(0, 1), output_padding=(1, 0))),
    ((3, 3, 3), (3, 2, 2, 2), dict(stride=2, padding=1)),  # unbatched
    ((2, 2, 2, 3), (2, 2, 3, 3), dict(padding=2, dilation=2, stride=3, output_padding=2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES_2D)
def test_conv_transpose2d_against_torch(x_shape, w_shape, kwargs, bias, dtype):
    groups = kwargs.get("groups", 1)
    arrays = [normal(x_shape, dtype, 1), normal(w_shape, dtype, 2),
              normal((w_shape[1] * groups,), dtype, 3) if bias else None]
    compare(lambda x, w, b: F.conv_transpose2d(x, w, b, **kwargs),
            lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, **kwargs),
            arrays, dtype)


CASES_1D = [
    ((2, 3, 5), (3, 2, 3), {}),
    ((2, 2, 4), (2, 3, 2), dict(stride=3, padding=1, output_padding=2)),
    ((1, 4, 4), (4, 1, 3), dict(groups=2, dilation=2, output_padding=1)),
    ((3, 4), (3, 2, 3), dict(stride=2, padding=2)),  # unbatched
    ((2, 2, 3), (2, 2, 4), dict(stride=2, padding=1, output_padding=1, dilation=2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CASES_1D)
def test_conv_transpose1d_against_torch(x_shape, w_shape, kwargs, dtype):
    groups = kwargs.get("groups", 1)
    arrays = [normal(x_shape, dtype, 4), normal(w_shape, dtype, 5),
              normal((w_shape[1] * groups,), dtype, 6)]
    compare(lambda x, w, b: F.conv_transpose1d(x, w, b, **kwargs),
            lambda x, w, b: torch.nn.functional.conv_transpose1d(x, w, b, **kwargs),
            arrays, dtype)


def _pair(dims, torch_kwargs, sorix_kwargs=None):
    """A sorix layer and a torch layer of the same arguments, torch's weights copied in."""
    kind = {1: "ConvTranspose1d", 2: "ConvTranspose2d"}[dims]
    ref = getattr(torch.nn, kind)(**torch_kwargs).double()
    layer = getattr(nn, kind)(**(sorix_kwargs or torch_kwargs), dtype=sorix.float64)
    layer.weight.data[...] = ref.weight.detach().numpy()
    if ref.bias is not None:
        layer.bias.data[...] = ref.bias.detach().numpy()
    return layer, ref


@pytest.mark.parametrize("dims, kwargs, x_shape, output_size", [
    (2, dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1), (1, 2, 3, 3),
     (6, 5)),
    (2, dict(in_channels=2, out_channels=2, kernel_size=(2, 3), stride=(3, 2)), (2, 2, 2, 2),
     (1, 2, 6, 6)),  # the full shape
    (2, dict(in_channels=2, out_channels=2, kernel_size=2, stride=3), (2, 3, 2), [9, 7]),
    (1, dict(in_channels=2, out_channels=2, kernel_size=3, stride=4, padding=1), (2, 2, 3),
     [12]),
])
def test_output_size_picks_the_output_padding(dims, kwargs, x_shape, output_size):
    layer, ref = _pair(dims, kwargs)
    x = normal(x_shape, np.float64, 7)
    out = layer(sorix.tensor(x), output_size=output_size)
    expected = ref(torch.tensor(x), output_size=list(output_size)).detach().numpy()
    close(out.data, expected, np.float64)
    assert tuple(out.shape)[-dims:] == tuple(output_size)[-dims:]


@pytest.mark.parametrize("output_size", [(4, 5), (9, 5), (1, 2, 3)])
def test_impossible_output_size_is_refused(output_size):
    layer = nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1)  # sizes 5..6 for a 3x3 input
    with pytest.raises(ValueError, match="output_size|output size"):
        layer(sorix.tensor(normal((1, 2, 3, 3), np.float32, 0)), output_size=output_size)


@pytest.mark.parametrize("dims, kwargs", [
    (2, dict(in_channels=4, out_channels=6, kernel_size=(2, 3), groups=2)),
    (2, dict(in_channels=3, out_channels=5, kernel_size=3, bias=False)),
    (1, dict(in_channels=2, out_channels=8, kernel_size=4, groups=2)),
])
def test_initialisation_and_shapes_are_torchs(dims, kwargs):
    kind = {1: "ConvTranspose1d", 2: "ConvTranspose2d"}[dims]
    ref = getattr(torch.nn, kind)(**kwargs)
    sorix.manual_seed(0)
    layer = getattr(nn, kind)(**kwargs)
    assert tuple(layer.weight.shape) == tuple(ref.weight.shape)
    assert (layer.bias is None) == (ref.bias is None)
    if ref.bias is not None:
        assert tuple(layer.bias.shape) == tuple(ref.bias.shape)
    assert list(layer.state_dict()) == list(ref.state_dict())
    assert layer.weight.dtype == sorix.float32 and layer.weight.requires_grad
    # kaiming_uniform_(a=sqrt(5)): 1 / sqrt(fan_in), fan_in from the weight's dims 1 and up
    fan_in = torch.nn.init._calculate_fan_in_and_fan_out(ref.weight)[0]
    assert fan_in == kwargs["out_channels"] // kwargs.get("groups", 1) * \
        math.prod(ref.weight.shape[2:])
    bound = 1 / math.sqrt(fan_in)
    assert float(ref.weight.detach().abs().max()) <= bound
    for p in ([layer.weight] + ([layer.bias] if layer.bias is not None else [])):
        values = np.asarray(p.data)
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.5 * bound  # drawn from the whole range
    assert sorix.nn.init.calculate_fan_in_and_fan_out(layer.weight)[0] == fan_in
    sorix.manual_seed(0)
    again = getattr(nn, kind)(**kwargs)
    np.testing.assert_array_equal(again.weight.data, layer.weight.data)


@pytest.mark.parametrize("dims, kwargs", [
    (2, dict(in_channels=2, out_channels=3, kernel_size=3)),
    (2, dict(in_channels=4, out_channels=6, kernel_size=(2, 3), stride=(2, 1), padding=1,
             output_padding=(1, 0), groups=2, bias=False, dilation=(1, 2))),
    (1, dict(in_channels=2, out_channels=2, kernel_size=3, stride=2, output_padding=1)),
])
def test_repr_is_torchs(dims, kwargs):
    kind = {1: "ConvTranspose1d", 2: "ConvTranspose2d"}[dims]
    assert repr(getattr(nn, kind)(**kwargs)) == repr(getattr(torch.nn, kind)(**kwargs))


def test_module_forward_and_gradients_match_torch():
    kwargs = dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=2, padding=(1, 0),
                  output_padding=1, groups=2, dilation=(1, 2))
    layer, ref = _pair(2, kwargs)
    x = normal((2, 4, 3, 3), np.float64, 8)
    xs, xt = sorix.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ys, yt = layer(xs), ref(xt)
    close(ys.data, yt.detach().numpy(), np.float64)
    (ys * ys).sum().backward()
    (yt * yt).sum().backward()
    close(xs.grad.data, xt.grad.numpy(), np.float64, "input")
    close(layer.weight.grad.data, ref.weight.grad.numpy(), np.float64, "weight")
    close(layer.bias.grad.data, ref.bias.grad.numpy(), np.float64, "bias")


def test_double_backward_matches_torch():
    kw = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=(2, 1))
    x, w, b = normal((1, 4, 3, 2), np.float64, 9), normal((4, 1, 2, 3), np.float64, 10), \
        normal((2,), np.float64, 11)
    results = []
    for lib, conv, grad, make in [
            (sorix, F.conv_transpose2d, sorix.autograd.grad,
             lambda a: sorix.tensor(a, requires_grad=True)),
            (torch, torch.nn.functional.conv_transpose2d, torch.autograd.grad,
             lambda a: torch.tensor(a, requires_grad=True))]:
        leaves = [make(a) for a in (x, w, b)]
        y = conv(*leaves, **kw).tanh().sum()
        gx, gw, gb = grad(y, leaves, create_graph=True)
        ((gx * gx).sum() + (gw * gw).sum() + (gb * gb).sum()).backward()
        results.append([np.asarray(t.grad.data if lib is sorix else t.grad.numpy())
                        for t in leaves])
    for s, t, name in zip(*results, ("input", "weight", "bias")):
        close(s, t, np.float64, f"second derivative in {name}")


ERRORS = [
    # (what, callable, exception, message fragment)
    ("output_padding too big", lambda: nn.ConvTranspose2d(2, 2, 3, stride=2, output_padding=2),
     ValueError, "output_padding"),
    ("output_padding == stride == dilation",
     lambda: F.conv_transpose1d(sorix.tensor(np.ones((1, 2, 3), np.float32)),
                                sorix.tensor(np.ones((2, 1, 2), np.float32)), output_padding=1),
     ValueError, "smaller than either the stride"),
    ("in_channels % groups", lambda: nn.ConvTranspose2d(3, 4, 2, groups=2), ValueError,
     "in_channels"),
    ("out_channels % groups", lambda: nn.ConvTranspose1d(4, 3, 2, groups=2), ValueError,
     "out_channels"),
    ("padding_mode", lambda: nn.ConvTranspose2d(2, 2, 2, padding_mode="reflect"), ValueError,
     "padding_mode"),
    ("string padding", lambda: nn.ConvTranspose2d(2, 2, 2, padding="same"), ValueError,
     "padding"),
    ("int dtype", lambda: nn.ConvTranspose2d(2, 2, 2, dtype=sorix.int64), TypeError, "float"),
    ("wrong channels",
     lambda: nn.ConvTranspose2d(3, 2, 2)(sorix.tensor(np.ones((1, 2, 3, 3), np.float32))),
     Exception, "3 channels"),
    ("wrong ndim",
     lambda: nn.ConvTranspose2d(2, 2, 2)(sorix.tensor(np.ones((2, 3), np.float32))),
     Exception, "4-D"),
    ("integer input",
     lambda: nn.ConvTranspose1d(2, 2, 2)(sorix.tensor(np.ones((1, 2, 3), np.int64))),
     TypeError, "float"),
    ("bias shape",
     lambda: F.conv_transpose2d(sorix.tensor(np.ones((1, 2, 3, 3))),
                                sorix.tensor(np.ones((2, 3, 2, 2))), sorix.tensor(np.ones(2))),
     Exception, "bias"),
    ("output too small",
     lambda: F.conv_transpose2d(sorix.tensor(np.ones((1, 2, 1, 1))),
                                sorix.tensor(np.ones((2, 3, 1, 1))), padding=1),
     Exception, "too small"),
    ("bad stride", lambda: nn.ConvTranspose2d(2, 2, 2, stride=0), ValueError, "stride"),
]


@pytest.mark.parametrize("what, call, exception, fragment", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_arguments_are_refused(what, call, exception, fragment):
    with pytest.raises(exception, match=fragment):
        call()
