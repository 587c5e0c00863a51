"""Convolution (nn.Conv1d, nn.Conv2d, F.conv1d, F.conv2d): forward and every gradient
against PyTorch in float32 and float64, finite differences in float64 (first and second
order), initialisation, argument checks and the chunked and threaded kernel paths."""
import math

import numpy as np
import pytest

import sorix
import sorix.nn as nn
import sorix.nn.functional as F
from sorix import config
from sorix.autograd import gradcheck

from conftest import DTYPES, compare_with_torch, normal, python_env
from conftest import close_scaled as close

torch = pytest.importorskip("torch")


# ---- conv2d against PyTorch --------------------------------------------------------------

CONV2D = [
    # (input shape, weight shape, keyword arguments)
    ((2, 3, 7, 6), (4, 3, 3, 3), {}),
    ((2, 3, 9, 8), (4, 3, 3, 2), dict(stride=2)),
    ((2, 3, 9, 8), (5, 3, 3, 3), dict(stride=(2, 1), padding=(1, 2))),
    ((2, 2, 8, 9), (3, 2, 4, 3), dict(padding="same", dilation=(1, 2))),  # odd total: end pad
    ((2, 2, 8, 9), (3, 2, 2, 2), dict(padding="same")),
    ((2, 2, 8, 9), (3, 2, 3, 3), dict(padding="valid")),
    ((2, 3, 11, 10), (4, 3, 3, 3), dict(dilation=2, padding=2)),
    ((2, 3, 10, 10), (4, 3, 3, 3), dict(stride=3, padding=1, dilation=2)),
    ((2, 6, 7, 7), (9, 2, 3, 3), dict(groups=3, padding=1)),
    ((2, 4, 6, 6), (4, 1, 3, 3), dict(groups=4)),  # depthwise
    ((2, 4, 6, 6), (8, 2, 1, 1), dict(groups=2)),  # 1x1, grouped
    ((1, 1, 5, 5), (1, 1, 5, 5), {}),  # kernel = input: one output pixel
    ((3, 7, 6), (4, 3, 3, 3), dict(padding=1)),  # unbatched
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV2D)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_torch(x_shape, w_shape, kwargs, bias, dtype):
    seed = len(x_shape) + sum(w_shape)
    arrays = [normal(x_shape, dtype, seed), normal(w_shape, dtype, seed + 1),
              normal((w_shape[0],), dtype, seed + 2) if bias else None]
    compare_with_torch(lambda x, w, b: F.conv2d(x, w, b, **kwargs),
                       lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kwargs),
                       arrays, dtype, seed)


CONV1D = [
    ((2, 3, 10), (4, 3, 3), {}),
    ((2, 3, 11), (4, 3, 4), dict(stride=2, padding=2, dilation=2)),
    ((2, 4, 9), (6, 2, 4), dict(groups=2, padding="same")),
    ((3, 9), (5, 3, 2), dict(padding=1)),  # unbatched
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV1D)
def test_conv1d_matches_torch(x_shape, w_shape, kwargs, dtype):
    arrays = [normal(x_shape, dtype, 1), normal(w_shape, dtype, 2),
              normal((w_shape[0],), dtype, 3)]
    compare_with_torch(lambda x, w, b: F.conv1d(x, w, b, **kwargs),
                       lambda x, w, b: torch.nn.functional.conv1d(x, w, b, **kwargs),
                       arrays, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer, shape", [
    (lambda m: m.Conv2d(3, 6, (3, 2), stride=(1, 2), padding=1, groups=3), (2, 3, 7, 8)),
    (lambda m: m.Conv2d(2, 4, 3, padding="same", dilation=2, bias=False), (2, 2, 6, 6)),
    (lambda m: m.Conv1d(2, 4, 3, stride=2, padding="valid"), (3, 2, 9)),
    (lambda m: m.Conv1d(2, 4, 2, padding="same"), (2, 7)),
])
def test_conv_modules_match_torch(layer, shape, dtype):
    ours = layer(nn)
    ref = layer(torch.nn).to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(ours.weight.data))
        if ours.bias is not None:
            ref.bias.copy_(torch.tensor(ours.bias.data))
    x = normal(shape, dtype, 5)
    xs, xt = sorix.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ys, yt = ours(xs), ref(xt)
    # a float64 input meets float32 parameters: computed in float64, as sorix's matmul does
    close(ys.data, yt.detach().numpy(), np.float32 if dtype == np.float32 else np.float64)
    assert ys.dtype == xs.dtype
    g = normal(tuple(yt.shape), dtype, 6)
    ys.backward(sorix.tensor(g))
    yt.backward(torch.tensor(g))
    close(xs.grad.data, xt.grad.numpy(), dtype, "input gradient")
    assert ours.weight.grad.dtype == ours.weight.dtype  # float32 whatever the input
    close(ours.weight.grad.data, ref.weight.grad.numpy(), np.float32, "weight gradient")
    if ours.bias is not None:
        close(ours.bias.grad.data, ref.bias.grad.numpy(), np.float32, "bias gradient")


def test_float64_layer_keeps_float64():
    layer = nn.Conv2d(2, 3, 3, dtype=sorix.float64)
    assert layer.weight.dtype == sorix.float64 and layer.bias.dtype == sorix.float64
    y = layer(sorix.tensor(normal((1, 2, 5, 5), np.float64, 0)))
    assert y.dtype == sorix.float64


# ---- parameters, initialisation, state -------------------------------------------------------

def test_parameters_names_shapes_and_aliases():
    layer = nn.Conv2d(6, 8, (3, 5), groups=2)
    assert tuple(layer.weight.shape) == (8, 3, 3, 5) and tuple(layer.bias.shape) == (8,)
    assert layer.W is layer.weight and layer.b is layer.bias
    assert list(layer.state_dict()) == ["weight", "bias"]
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    no_bias = nn.Conv1d(2, 4, 3, bias=False)
    assert no_bias.bias is None and no_bias.b is None and list(no_bias.state_dict()) == ["weight"]
    assert repr(layer) == repr(torch.nn.Conv2d(6, 8, (3, 5), groups=2))
    assert repr(nn.Conv2d(1, 2, 3, padding="same", dilation=2, bias=False)) == \
        repr(torch.nn.Conv2d(1, 2, 3, padding="same", dilation=2, bias=False))


def test_default_initialisation_is_pytorchs():
    sorix.manual_seed(3)
    layer = nn.Conv2d(32, 64, 3, groups=2)
    fan_in = 16 * 9
    bound = 1 / math.sqrt(fan_in)
    ref = torch.nn.Conv2d(32, 64, 3, groups=2)  # kaiming_uniform_(a=sqrt(5)): the same bound
    assert float(ref.weight.abs().max()) <= bound
    for values in (layer.weight.data, layer.bias.data):
        assert values.dtype == np.float32
        assert np.abs(values).max() <= bound
    w = layer.weight.data
    assert np.abs(w).max() > 0.99 * bound  # 36,864 uniform draws reach the bound
    assert abs(w.std() / (bound / math.sqrt(3)) - 1) < 0.02
    assert abs(w.mean()) < 0.01 * bound
    sorix.manual_seed(3)
    again = nn.Conv2d(32, 64, 3, groups=2)
    np.testing.assert_array_equal(again.weight.data, w)


def test_state_dict_round_trip_and_save(tmp_path):
    layer = nn.Conv2d(2, 3, 3)
    path = tmp_path / "conv.sorix"
    sorix.save(layer.state_dict(), path)
    fresh = nn.Conv2d(2, 3, 3)
    fresh.load_state_dict(sorix.load(path))
    np.testing.assert_array_equal(fresh.weight.data, layer.weight.data)
    np.testing.assert_array_equal(fresh.bias.data, layer.bias.data)
    x = sorix.tensor(normal((2, 2, 5, 5), np.float32, 0))
    np.testing.assert_array_equal(fresh(x).data, layer(x).data)


# ---- gradients by finite differences ---------------------------------------------------------

GRADCHECK = [
    ((2, 2, 5, 4), (3, 2, 2, 3), dict(stride=(2, 1), padding=(1, 1), dilation=(1, 2))),
    ((1, 4, 5, 5), (4, 2, 3, 3), dict(groups=2, padding="same")),
    ((1, 2, 6, 5), (2, 2, 2, 2), dict(stride=2, padding=1)),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", GRADCHECK)
def test_conv2d_gradcheck(x_shape, w_shape, kwargs):
    x = sorix.tensor(normal(x_shape, np.float64, 0), requires_grad=True)
    w = sorix.tensor(normal(w_shape, np.float64, 1), requires_grad=True)
    b = sorix.tensor(normal((w_shape[0],), np.float64, 2), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kwargs), (x, w, b))


def test_conv1d_gradcheck():
    x = sorix.tensor(normal((2, 2, 7), np.float64, 0), requires_grad=True)
    w = sorix.tensor(normal((4, 1, 3), np.float64, 1), requires_grad=True)
    assert gradcheck(lambda x, w: F.conv1d(x, w, None, stride=2, padding=1, groups=2), (x, w))


@pytest.mark.parametrize("x_shape, w_shape, kwargs", GRADCHECK)
def test_conv2d_second_order_gradcheck(x_shape, w_shape, kwargs):
    """Gradients computed with create_graph=True are differentiable (they are convolutions
    themselves): check the derivative of <grad, v> against finite differences."""
    v = normal(tuple(F.conv2d(sorix.tensor(np.zeros(x_shape)), sorix.tensor(np.zeros(w_shape)),
                              **kwargs).shape), np.float64, 3)
    u = sorix.tensor(normal(x_shape, np.float64, 4))
    m = sorix.tensor(normal(w_shape, np.float64, 5))

    def first_grads(x, w):
        # (gradcheck's finite differences run under no_grad; the gradients need a graph)
        with sorix.enable_grad():
            x, w = (t if t.requires_grad else t.detach().requires_grad_() for t in (x, w))
            y = F.conv2d(x * x, w, **kwargs)  # a non-linear input, so d2/dx2 is not zero
            gx, gw = sorix.autograd.grad(y, (x, w), grad_outputs=sorix.tensor(v),
                                         create_graph=True)
            return (gx * u).sum() + (gw * gw * m).sum()

    x = sorix.tensor(normal(x_shape, np.float64, 0), requires_grad=True)
    w = sorix.tensor(normal(w_shape, np.float64, 1), requires_grad=True)
    assert gradcheck(first_grads, (x, w))


def test_second_order_matches_torch():
    x_np, w_np = normal((2, 3, 6, 6), np.float64, 0), normal((4, 3, 3, 3), np.float64, 1)
    results = []
    for lib in ("sorix", "torch"):
        make = (lambda a: sorix.tensor(a, requires_grad=True)) if lib == "sorix" else \
            (lambda a: torch.tensor(a, requires_grad=True))
        conv = F.conv2d if lib == "sorix" else torch.nn.functional.conv2d
        grad = sorix.autograd.grad if lib == "sorix" else torch.autograd.grad
        x, w = make(x_np), make(w_np)
        y = conv(x, w, stride=2, padding=1).tanh().sum()
        gx, gw = grad(y, (x, w), create_graph=True)
        (gx.sum() + (gw * gw).sum()).backward()
        results.append((x.grad, w.grad))
    (sx, sw), (tx, tw) = results
    close(sx.data, tx.numpy(), np.float64)
    close(sw.data, tw.numpy(), np.float64)


# ---- argument checks ------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: nn.Conv2d(3, 4, 3, groups=2), "in_channels"),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), "out_channels"),
    (lambda: nn.Conv2d(0, 4, 3), "in_channels"),
    (lambda: nn.Conv2d(2, 4, 0), "kernel_size"),
    (lambda: nn.Conv2d(2, 4, 3, stride=0), "stride"),
    (lambda: nn.Conv2d(2, 4, 3, padding=-1), "padding"),
    (lambda: nn.Conv2d(2, 4, 3, padding="full"), "padding string"),
    (lambda: nn.Conv2d(2, 4, 3, stride=2, padding="same"), "strided"),
    (lambda: nn.Conv2d(2, 4, (3, 3, 3)), "kernel_size"),
    (lambda: nn.Conv2d(2, 4, 3, dtype=sorix.int64), "float32 or float64"),
])
def test_constructor_errors(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_padding_mode_other_than_zeros_is_refused():
    with pytest.raises(NotImplementedError, match="zeros"):
        nn.Conv2d(2, 4, 3, padding_mode="reflect")


@pytest.mark.parametrize("x_shape, w_shape, kwargs, message", [
    ((2, 3, 8, 8), (4, 2, 3, 3), {}, "channels"),
    ((2, 4, 8, 8), (6, 2, 3, 3), dict(groups=3), "channels|divisible"),
    ((2, 4, 8, 8), (5, 2, 3, 3), dict(groups=2), "divisible"),
    ((8, 8), (4, 1, 3, 3), {}, "3-D .unbatched. or 4-D"),
    ((2, 1, 2, 8), (4, 1, 3, 3), {}, "smaller than the"),
    ((2, 1, 8, 8), (4, 1, 3), {}, "weight should have 4 dimensions"),
    ((2, 1, 8, 8), (4, 1, 3, 3), dict(groups=0), "groups"),
])
def test_functional_shape_errors(x_shape, w_shape, kwargs, message):
    x, w = sorix.zeros(*x_shape), sorix.zeros(*w_shape)
    with pytest.raises((RuntimeError, ValueError), match=message):
        F.conv2d(x, w, **kwargs)


def test_bias_of_the_wrong_shape_is_an_error():
    with pytest.raises(RuntimeError, match=r"bias should have shape \(4,\)"):
        F.conv2d(sorix.zeros(1, 1, 5, 5), sorix.zeros(4, 1, 3, 3), sorix.zeros(3))


def test_layer_given_the_wrong_channel_count_names_both():
    with pytest.raises(RuntimeError, match=r"expects input with 3 channels.*\(2, 1, 8, 8\)"):
        nn.Conv2d(3, 4, 3)(sorix.zeros(2, 1, 8, 8))


def test_inputs_are_not_modified():
    x_np, w_np = normal((2, 2, 6, 6), np.float32, 0), normal((3, 2, 3, 3), np.float32, 1)
    x_copy, w_copy = x_np.copy(), w_np.copy()
    x = sorix.tensor(x_np, requires_grad=True)
    w = sorix.tensor(w_np, requires_grad=True)
    F.conv2d(x, w, padding=1, stride=2).sum().backward()
    np.testing.assert_array_equal(x_np, x_copy)
    np.testing.assert_array_equal(w_np, w_copy)


def test_non_contiguous_input():
    base = normal((2, 3, 8, 10), np.float64, 0)
    view = base[:, :, ::2, 1::2]  # strided on both axes
    w = normal((4, 3, 2, 2), np.float64, 1)
    ours = F.conv2d(sorix.tensor(view), sorix.tensor(w), padding=1)
    ref = torch.nn.functional.conv2d(torch.tensor(view), torch.tensor(w), padding=1)
    close(ours.data, ref.numpy(), np.float64)


# ---- kernel paths: chunked column buffers, threads ---------------------------------------------

@pytest.mark.parametrize("limit", [200, 10**7])
def test_chunked_column_buffers_match_one_buffer(monkeypatch, limit):
    """A batch cut into several column buffers (columns rebuilt in backward) gives what one
    buffer (columns kept from forward) gives."""
    monkeypatch.setattr(config, "CONV_COLUMNS_LIMIT", limit)
    arrays = [normal((5, 3, 7, 6), np.float64, 0), normal((4, 3, 3, 2), np.float64, 1),
              normal((4,), np.float64, 2)]
    compare_with_torch(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1),
                       lambda x, w, b: torch.nn.functional.conv2d(x, w, b, stride=(2, 1),
                                                                  padding=1),
                       arrays, np.float64)


def test_threaded_kernels(monkeypatch):
    monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)  # threads even on a busy machine
    arrays = [normal((3, 4, 7, 6), np.float32, 0), normal((6, 2, 3, 3), np.float32, 1),
              normal((6,), np.float32, 2)]
    compare_with_torch(lambda x, w, b: F.conv2d(x, w, b, padding=(1, 2), groups=2),
                       lambda x, w, b: torch.nn.functional.conv2d(x, w, b, padding=(1, 2),
                                                                  groups=2),
                       arrays, np.float32)


def test_empty_batch():
    x = sorix.zeros(0, 2, 5, 5, requires_grad=True)
    layer = nn.Conv2d(2, 3, 3)
    y = layer(x)
    assert tuple(y.shape) == (0, 3, 3, 3)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, 2, 5, 5)
    assert not layer.weight.grad.data.any() and not layer.bias.grad.data.any()


@pytest.fixture
def recycle_everything(monkeypatch):
    """Recycling for arrays of any size (these shapes are small), from an empty state."""
    from sorix.kernels import recycle
    monkeypatch.setattr(config, "RECYCLE_MIN_BYTES", 1)
    monkeypatch.setattr(recycle, "_blocks", type(recycle._blocks)())
    monkeypatch.setattr(recycle, "_handed", {})
    monkeypatch.setattr(recycle, "_held", [0])
    return recycle


def test_reused_column_buffers_never_overwrite_a_live_graph(recycle_everything):
    """Forward keeps its column buffer for the weight gradient; a second forward while the
    first graph is alive must get its own buffer, and a training loop reuses one."""
    recycle = recycle_everything
    w = normal((3, 2, 3, 3), np.float32, 1)
    x1, x2 = normal((4, 2, 6, 6), np.float32, 2), normal((4, 2, 6, 6), np.float32, 3)
    tw = sorix.tensor(w, requires_grad=True)
    y1 = F.conv2d(sorix.tensor(x1), tw, padding=1)
    y2 = F.conv2d(sorix.tensor(x2), tw, padding=1)  # while y1's graph holds its columns
    y1.sum().backward()
    ref_w = torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(torch.tensor(x1), ref_w, padding=1).sum().backward()
    close(tw.grad.data, ref_w.grad.numpy(), np.float32, "first graph's weight gradient")
    del y1, y2
    before = recycle.held_bytes()
    for _ in range(3):
        tw.grad = None
        F.conv2d(sorix.tensor(x1), tw, padding=1).sum().backward()
    assert recycle.held_bytes() == before  # the blocks made above, lent out again


def test_layers_of_one_shape_each_keep_a_reused_buffer(recycle_everything):
    recycle = recycle_everything
    model = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1))
    x = sorix.tensor(normal((3, 2, 7, 7), np.float32, 0))

    def step():
        model.zero_grad()
        model(x).sum().backward()
        return sorted(id(b) for bucket in recycle._blocks.values() for b in bucket)

    first = step()
    assert len(first) >= 2  # (at least both layers' column buffers)
    assert step() == first and step() == first


CACHE_PROBE = """
import json
import numpy as np
import sorix
import sorix.nn.functional as F
from sorix.kernels import variants
x = sorix.tensor(np.ones((2, 2, 6, 6), np.float32), requires_grad=True)
w = sorix.tensor(np.ones((3, 2, 3, 3), np.float32), requires_grad=True)
y = F.conv2d(x, w, padding=1)
(F.max_pool2d(y, 2).sum() + F.avg_pool2d(y, 2, padding=1).sum()).backward()
hits = sum(sum(k.stats.cache_hits.values()) for k in variants._compiled.values())
misses = sum(sum(k.stats.cache_misses.values()) for k in variants._compiled.values())
print(json.dumps({"hits": hits, "misses": misses, "kernels": len(variants._compiled)}))
"""


def test_conv_and_pool_kernels_load_from_the_disk_cache(tmp_path):
    import json
    import subprocess
    import sys
    env = python_env(NUMBA_CACHE_DIR=str(tmp_path))
    runs = [json.loads(subprocess.run([sys.executable, "-c", CACHE_PROBE], env=env, check=True,
                                      capture_output=True, text=True).stdout)
            for _ in range(2)]
    assert runs[0]["kernels"] >= 7 and runs[0]["misses"] == runs[0]["kernels"]
    assert runs[1] == {"hits": runs[0]["kernels"], "misses": 0, "kernels": runs[0]["kernels"]}


