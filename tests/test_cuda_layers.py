"""LayerNorm, the smooth activations, the L1/SmoothL1/Huber/BCE/NLL losses and gradient
clipping on device='cuda': values and gradients equal the CPU path's.

Runs under numba's CUDA simulator (tests/cuda_setup.py; SORIX_TEST_CUDA=gpu runs on a
real GPU) with device arrays cut down to a real GPU array's API. Shapes are tiny.
"""
import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sorix  # noqa: E402
import sorix.nn as nn  # noqa: E402
import sorix.nn.functional as F  # noqa: E402
from conftest import DTYPES, rand_seeded as rand  # noqa: E402
from cuda_setup import (assert_same, device_api_only, fast_thread_switching,  # noqa: E402,F401
                        host, on_both)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm(dtype):
    x = rand((3, 2, 4), dtype, seed=1) + 3.0
    w, b = rand((4,), dtype, seed=2), rand((4,), dtype, seed=3)
    on_both(lambda t, ww, bb: F.layer_norm(t, (4,), ww, bb), x, w, b)
    on_both(lambda t, ww: F.layer_norm(t, (2, 4), ww.reshape(2, 4)), x, rand((8,), dtype))
    on_both(lambda t: F.layer_norm(t, (4,)), x)


def test_layer_norm_module_moves_to_the_device():
    layer = nn.LayerNorm(4)
    with sorix.no_grad():
        layer.weight.data[...] = rand((4,), seed=4)
    x = rand((5, 4), seed=5)
    expected = layer(sorix.tensor(x))
    layer.to("cuda")
    assert layer.weight.is_cuda and layer.bias.is_cuda
    out = layer(sorix.tensor(x, device="cuda"))
    assert_same(expected, out)
    out.sum().backward()
    assert layer.weight.grad.is_cuda


def test_layer_norm_second_order():
    a = rand((2, 3), np.float64, seed=6)
    grads = {}
    for device in ("cpu", "cuda"):
        x = sorix.tensor(a, device=device, requires_grad=True)
        (g,) = sorix.grad((F.layer_norm(x, (3,)) ** 3).sum(), x, create_graph=True)
        (h,) = sorix.grad((g * g).sum(), x)
        grads[device] = h
    assert_same(grads["cpu"], grads["cuda"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_activations(dtype):
    for fn in (F.silu, F.gelu, lambda t: F.gelu(t, approximate="tanh"), F.softsign,
               lambda t: F.softplus(t, 2.0, 3.0), lambda t: F.elu(t, 0.6),
               lambda t: t.log1p(), lambda t: t.expm1(), lambda t: t.erf(), lambda t: t.erfc(),
               lambda t: t.reciprocal(), lambda t: t.square()):
        on_both(fn, rand((2, 3), dtype, 0.1, 1.9))
        on_both(fn, rand((2, 3), dtype, -2.5, -0.1, seed=1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_pair_losses(reduction, dtype):
    x, t = rand((3, 4), dtype, seed=7), rand((3, 4), dtype, seed=8)
    for loss in (nn.L1Loss(reduction=reduction), nn.SmoothL1Loss(reduction=reduction, beta=0.5),
                 nn.HuberLoss(reduction=reduction, delta=0.8)):
        on_both(loss, x, t)
    p, q = rand((3, 4), dtype, 0.05, 0.95, seed=9), rand((3, 4), dtype, 0.0, 1.0, seed=10)
    on_both(nn.BCELoss(reduction=reduction), p, q)
    w = rand((4,), dtype, 0.5, 1.5, seed=11)
    on_both(lambda a, b: nn.BCELoss(weight=sorix.tensor(w, device=a.device),
                                    reduction=reduction)(a, b), p, q)
    on_both(lambda a: nn.L1Loss(reduction=reduction)(a, sorix.tensor(0.5, dtype=a.dtype,
                                                                       device=a.device)), x)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(reduction):
    logp = np.log(rand((4, 3), np.float64, 0.1, 1.0, seed=12))
    target = np.array([2, 0, 1, 2])
    weight = np.array([0.5, 1.0, 2.0])
    for kwargs in ({}, {"weight": weight}, {"ignore_index": 0}):
        on_both(lambda a: nn.NLLLoss(reduction=reduction, **{
            k: (sorix.tensor(v, device=a.device) if k == "weight" else v)
            for k, v in kwargs.items()})(a, sorix.tensor(target, device=a.device)), logp)
    cube = np.log(rand((2, 3, 2), np.float64, 0.1, 1.0, seed=13))
    on_both(lambda a: F.nll_loss(a, sorix.tensor([[0, 2], [1, 1]], device=a.device),
                                 reduction=reduction), cube)


def test_clip_grad_norm_and_value():
    grads = [rand((3, 2), seed=14) * 3, rand((4,), seed=15)]
    results = {}
    for device in ("cpu", "cuda"):
        params = []
        for g in grads:
            p = sorix.zeros(g.shape, device=device, requires_grad=True)
            p.grad = sorix.tensor(g, device=device)
            params.append(p)
        totals = [nn.utils.clip_grad_norm_(params, 1.0),
                  nn.utils.clip_grad_norm_(params, 0.5, norm_type="inf")]
        nn.utils.clip_grad_value_(params, 0.2)
        results[device] = totals + [p.grad for p in params]
    for a, b in zip(results["cpu"], results["cuda"]):
        assert_same(a, b)
