"""Transposed convolution on device='cuda' matches the CPU (values and every gradient).

It is built from the convolution's input-gradient op, so this checks that composition
on the GPU backend; runs under numba's CUDA simulator (see tests/cuda_setup.py), tiny
shapes.
"""
import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sorix  # noqa: E402
import sorix.nn.functional as F  # noqa: E402
from conftest import DTYPES, rand_seeded as rand  # noqa: E402
from cuda_setup import assert_same, fast_thread_switching, on_both  # noqa: E402,F401
from sorix import nn  # noqa: E402


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_transpose2d(dtype):
    # output_padding 2 >= stride 1 (allowed by dilation 3) also pads the input with zeros
    kwargs = dict(stride=(2, 1), padding=1, output_padding=(1, 2), groups=2, dilation=(1, 3))
    on_both(lambda x, w, b: F.conv_transpose2d(x, w, b, **kwargs),
            rand((2, 4, 3, 2), dtype, seed=1), rand((4, 1, 2, 2), dtype, seed=2),
            rand((2,), dtype, seed=3))


def test_conv_transpose2d_module_on_the_gpu():
    x = rand((1, 2, 3, 3), np.float32, seed=4)
    results = {}
    for device in ("cpu", "cuda"):
        sorix.manual_seed(0)
        layer = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1,
                                   device=device)
        xs = sorix.tensor(x, device=device, requires_grad=True)
        y = layer(xs)
        (y * y).sum().backward()
        results[device] = y, xs.grad, layer.weight.grad, layer.bias.grad
    for what, cpu, gpu in zip(("values", "input", "weight", "bias"), results["cpu"],
                              results["cuda"]):
        assert_same(cpu, gpu, what)
