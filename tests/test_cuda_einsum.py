"""einsum, logcumsumexp and scatter_reduce on device='cuda' match the CPU (values and
gradients), results kept on the device.

Runs under numba's CUDA simulator (see tests/cuda_setup.py); tiny shapes.
"""
import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sorix  # noqa: E402
from conftest import rand_seeded as rand  # noqa: E402
from cuda_setup import device_api_only, fast_thread_switching, on_both  # noqa: E402,F401

# (a leading -inf has a NaN gradient, as in PyTorch; the simulator's kernels announce it)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.mark.parametrize("equation, shapes", [
    ("ij,jk->ik", [(2, 3), (3, 2)]),
    ("bn,anm,bm->ba", [(2, 3), (2, 3, 2), (2, 2)]),
    ("ii->i", [(3, 3)]),
    ("...ij,...jk", [(2, 1, 2, 3), (3, 3, 2)]),
    ("ij,ij->i", [(2, 1), (2, 3)]),
])
def test_einsum(equation, shapes):
    arrays = [rand(s, np.float64, seed=i) for i, s in enumerate(shapes)]
    cpu, gpu = on_both(lambda *xs: sorix.einsum(equation, *xs), *arrays)
    assert gpu.is_cuda


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logcumsumexp(dtype):
    a = np.array([[-1000.0, 1000.0, -np.inf], [3.0, 999.0, 2.0], [0.5, -1.0, 1.0]], dtype)
    on_both(lambda x: x.logcumsumexp(0), a)
    on_both(lambda x: sorix.logcumsumexp(x, -1), a)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax"])
def test_scatter_reduce(reduce):
    x = np.array([[2.0, 0.0, 1.0], [1.0, 3.0, 3.0]])
    src = np.array([[2.0, 0.0, 5.0], [3.0, 3.0, 1.0]])
    index = np.array([[0, 0, 2], [1, 2, 2]])
    on_both(lambda a, b: a.scatter_reduce(1, index, b, reduce, include_self=False), x, src)
    on_both(lambda a, b: a.scatter_reduce(1, index, b, reduce), x, src)
