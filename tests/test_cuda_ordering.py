"""Sorting, rearranging, scans, products and the extra reductions on CUDA tensors: the
same values, indices and gradients as on the CPU, results kept on the device.

Runs under numba's CUDA simulator (tests/cuda_setup.py): shapes are tiny.
"""
import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import math  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sorix  # noqa: E402
from cuda_setup import (assert_same, device_api_only, fast_thread_switching,  # noqa: E402,F401
                        on_both)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

TIES = np.array([[2.0, -1.0, 2.0], [0.5, 3.0, -1.0]])
WITH_ZEROS = np.array([[2.0, 0.0, 3.0], [0.0, 1.5, 0.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sort_and_topk_values_indices_and_gradients(dtype):
    a = TIES.astype(dtype)
    on_both(lambda x: x.sort(1, descending=True).values, a)
    on_both(lambda x: x.sort(0).values, a)
    on_both(lambda x: x.topk(2, 1).values, a)
    on_both(lambda x: x.kthvalue(2, 1).values, a)
    cpu, gpu = sorix.tensor(a), sorix.tensor(a, device="cuda")
    for result in ("sort", "topk"):
        args = (2,) if result == "topk" else ()
        indices = getattr(gpu, result)(*args).indices
        assert indices.is_cuda
        assert_same(getattr(cpu, result)(*args).indices, indices, f"{result} indices")
    assert_same(cpu.argsort(0), gpu.argsort(0), "argsort")


def test_flip_roll_diff():
    on_both(lambda x: x.flip(0, 1), TIES)
    on_both(lambda x: x.roll(1), TIES)
    on_both(lambda x: x.roll((1, -1), (0, 1)), TIES)
    on_both(lambda x: x.diff(dim=1), TIES)
    on_both(lambda x: x.flip(1), np.array([[1, 2, 3]]), grad=False)


def test_scans_and_products_with_zeros():
    on_both(lambda x: x.cumsum(1), TIES)
    on_both(lambda x: x.cumprod(1), WITH_ZEROS)
    on_both(lambda x: x.prod(1), WITH_ZEROS)
    on_both(lambda x: x.prod(), TIES)
    on_both(lambda x: x.cumsum(0), np.array([[1, 2], [3, 4]], np.int32), grad=False)


def test_reductions():
    on_both(lambda x: x.logsumexp(1), TIES)
    on_both(lambda x: x.norm(), np.zeros((2, 2)))  # gradient 0 at zero, not NaN
    for p in (2, 1, math.inf, 3):
        on_both(lambda x: x.norm(p, 1), WITH_ZEROS)
    on_both(lambda x: x.amax(1), TIES)
    on_both(lambda x: x.amin(), TIES)
    with_nan = np.array([[1.0, np.nan, 2.0], [0.5, 0.0, -1.0]])
    on_both(lambda x: x.nansum(1), with_nan)
    on_both(lambda x: x.nanmean(0), with_nan)
    on_both(lambda x: x.count_nonzero(1), WITH_ZEROS, grad=False)


def test_second_order_on_the_device():
    a = np.array([[1.5, -0.5, 2.0], [0.0, 1.0, 3.0]])
    results = []
    for device in ("cpu", "cuda"):
        x = sorix.tensor(a, device=device, requires_grad=True)
        out = x.cumprod(1).sum() + x.logsumexp(1).sum() + x.norm()
        (g,) = sorix.autograd.grad(out, x, create_graph=True)
        (h,) = sorix.autograd.grad((g * g).sum(), x)
        results.append((g, h))
    (g_cpu, h_cpu), (g_gpu, h_gpu) = results
    assert_same(g_cpu.detach(), g_gpu.detach(), "gradient")
    assert_same(h_cpu, h_gpu, "second derivative")
