"""Convolution and pooling on device='cuda' match the CPU (values and every gradient), a
small CNN trains identically on both and keeps its data on the GPU.

Runs under numba's CUDA simulator (see tests/cuda_setup.py); tiny shapes.
"""
import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sorix  # noqa: E402
import sorix.kernels.cuda as C  # noqa: E402
import sorix.nn.functional as F  # noqa: E402
from conftest import DTYPES, rand_seeded as rand  # noqa: E402
from cuda_setup import (assert_same, device_api_only, fast_thread_switching,  # noqa: E402,F401
                        host, on_both)
from sorix import nn  # noqa: E402


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape, kwargs", [
    ((2, 2, 4, 5), (3, 2, 2, 3), dict(stride=(2, 1), padding=(1, 0))),
    ((1, 2, 5, 4), (2, 2, 2, 2), dict(padding="same", dilation=(2, 1))),  # odd total: end pad
    ((2, 4, 3, 3), (4, 2, 2, 2), dict(groups=2, padding=1, stride=2)),
    ((2, 4, 4), (3, 2, 2, 2), dict(padding=1)),  # unbatched
])
def test_conv2d(x_shape, w_shape, kwargs, dtype):
    x, w = rand(x_shape, dtype, seed=1), rand(w_shape, dtype, seed=2)
    b = rand((w_shape[0],), dtype, seed=3)
    on_both(lambda x, w, b: F.conv2d(x, w, b, **kwargs), x, w, b)
    on_both(lambda x, w: F.conv2d(x, w, None, **kwargs), x, w)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv1d(dtype):
    on_both(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, groups=2),
            rand((2, 2, 7), dtype, seed=1), rand((4, 1, 3), dtype, seed=2),
            rand((4,), dtype, seed=3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pool", [
    lambda t: F.max_pool2d(t, 2),
    lambda t: F.max_pool2d(t, 3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True),
    lambda t: F.max_pool2d(t, 2, stride=1),  # overlapping windows share inputs
    lambda t: F.avg_pool2d(t, 3, stride=2, padding=1, ceil_mode=True),
    lambda t: F.avg_pool2d(t, 2, stride=1, padding=1, count_include_pad=False),
    lambda t: F.avg_pool2d(t, 3, stride=2, padding=1, divisor_override=4),
    lambda t: F.adaptive_avg_pool2d(t, (3, 2)),  # windows of two sizes, overlapping
    lambda t: F.adaptive_avg_pool2d(t, (6, 7)),  # larger than the input
])
def test_pooling(pool, dtype):
    on_both(pool, rand((2, 2, 5, 5), dtype, seed=4))


@pytest.mark.parametrize("dtype", DTYPES)
def test_1d_pooling(dtype):
    x = rand((2, 2, 9), dtype, seed=5)
    on_both(lambda t: F.max_pool1d(t, 3, stride=2, padding=1), x)
    on_both(lambda t: F.avg_pool1d(t, 2, count_include_pad=False), x)
    on_both(lambda t: F.adaptive_avg_pool1d(t, 4), x)


def test_max_pool_indices_and_nan():
    x = rand((1, 2, 4, 4), np.float32, seed=5)
    x[0, 1, 0, 0] = np.nan
    cpu_out, cpu_index = F.max_pool2d(sorix.tensor(x), 2, return_indices=True)
    gpu_out, gpu_index = F.max_pool2d(sorix.tensor(x, device="cuda"), 2, return_indices=True)
    assert_same(cpu_out, gpu_out)
    assert_same(cpu_index, gpu_index)


def test_second_order_gradients_on_the_gpu():
    results = {}
    for device in ("cpu", "cuda"):
        x = sorix.tensor(rand((1, 2, 4, 4), np.float64, seed=6), requires_grad=True, device=device)
        w = sorix.tensor(rand((2, 2, 2, 2), np.float64, seed=7), requires_grad=True, device=device)
        y = F.avg_pool2d(F.conv2d(x, w, padding=1).tanh(), 2).sum()
        gx, gw = sorix.autograd.grad(y, (x, w), create_graph=True)
        ((gx * gx).sum() + (gw * gw).sum()).backward()
        results[device] = (x.grad, w.grad)
    assert_same(results["cpu"][0], results["cuda"][0], "second derivative in x")
    assert_same(results["cpu"][1], results["cuda"][1], "second derivative in w")


def _cnn():
    sorix.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(2, 2, 2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(2, 3))


def test_cnn_trains_the_same_on_both_devices_and_stays_on_the_gpu():
    x = rand((3, 1, 4, 4), np.float32, seed=8)
    y = np.array([0, 2, 1])
    models = {}
    for device in ("cpu", "cuda"):
        model = _cnn().to(device)
        optimizer = sorix.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        xs, ys = sorix.tensor(x, device=device), sorix.tensor(y, device=device)
        loss_fn = nn.CrossEntropyLoss()
        for step in range(2):
            if device == "cuda" and step == 1:
                before = C.transfer_counts()
            optimizer.zero_grad()
            loss = loss_fn(model(xs), ys)
            loss.backward()
            optimizer.step()
        if device == "cuda":
            assert C.transfer_counts() == before, "forward, backward and step copied data"
        models[device] = model
    for (name, p_cpu), (_, p_gpu) in zip(models["cpu"].named_parameters(),
                                         models["cuda"].named_parameters()):
        np.testing.assert_allclose(host(p_gpu), host(p_cpu), rtol=1e-5, atol=1e-6, err_msg=name)
