"""Selection, scattering, padding and similarity ops on CUDA tensors equal the CPU's, values
and gradients (numba's simulator unless SORIX_TEST_CUDA=gpu; see tests/cuda_setup.py).

The ops are made of indexing, where, cat and matmul, which have CUDA kernels; their
index arrays are computed on the host and copied over. Shapes are tiny: the simulator
runs each CUDA thread in Python.
"""
import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sorix  # noqa: E402
from conftest import rand_seeded as rand  # noqa: E402
from cuda_setup import device_api_only, fast_thread_switching, host, on_both  # noqa: E402,F401
from sorix.ops.padding import one_hot, pad  # noqa: E402
from sorix.ops.similarity import cosine_similarity, normalize  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

ROWS = np.array([[0, 2, 1], [1, 0, 0]])


@pytest.mark.parametrize("name,fn", [
    ("index_select", lambda x: x.index_select(1, [2, 0, 2])),
    ("narrow", lambda x: x.narrow(0, 1, 2)),
    ("masked_select", lambda x: x.masked_select(np.array([True, False, True]))),
    ("tril", lambda x: x.tril(-1)),
    ("movedim", lambda x: x.movedim(0, 1)),
    ("repeat_interleave", lambda x: x.repeat_interleave(np.array([2, 0, 1]), dim=0)),
    ("take_along_dim", lambda x: x.take_along_dim(ROWS, 0)),
    ("scatter", lambda x: x.scatter(0, ROWS[:1], x[:1] * 2.0)),
    ("scatter_add", lambda x: x.scatter_add(0, ROWS, x[:2])),
    ("index_add", lambda x: x.index_add(1, [0, 0], x[:, :2], alpha=3.0)),
    ("index_fill", lambda x: x.index_fill(0, [1], -1.0)),
    ("outer_mm", lambda x: x[0].outer(x[1]).mm(x)),
    ("pad_reflect", lambda x: pad(x.unsqueeze(0), (2, 1), mode="reflect")),
    ("pad_constant", lambda x: pad(x, (1, 0, -1, 1), value=0.5)),
    ("normalize", lambda x: normalize(x)),
    ("cosine_similarity", lambda x: cosine_similarity(x, x[:1] * x, dim=0)),
])
def test_ops_on_both_devices(name, fn):
    on_both(fn, rand((3, 3)))


def test_second_derivatives_on_the_gpu():
    a = rand((2, 3), np.float64)
    results = {}
    for device in ("cpu", "cuda"):
        x = sorix.tensor(a, device=device, requires_grad=True)
        y = pad(x.scatter_add(1, ROWS[:, :2], x[:, :2]), (1, 1), mode="replicate")
        (g,) = sorix.grad((y ** 3).sum(), [x], create_graph=True)
        (h,) = sorix.grad((g * g).sum(), [x])
        results[device] = host(g), host(h)
    for cpu, gpu in zip(results["cpu"], results["cuda"]):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-10)


def test_in_place_and_one_hot_on_the_gpu():
    x = sorix.zeros(2, 3, device="cuda")
    x.index_fill_(1, [1], 2.0).scatter_add_(0, ROWS[:, :1], sorix.ones(2, 1, device="cuda"))
    assert x.is_cuda
    np.testing.assert_array_equal(host(x), [[1, 2, 0], [1, 2, 0]])
    hot = one_hot(sorix.tensor([2, 0], device="cuda"))
    assert hot.is_cuda and hot.dtype == sorix.int64
    np.testing.assert_array_equal(host(hot), [[0, 0, 1], [1, 0, 0]])
    # index and mask tensors held on the device are read back for the index arithmetic
    picked = x.index_select(0, sorix.tensor([1], device="cuda")).masked_select(x[:1] > 1)
    assert picked.is_cuda and host(picked).tolist() == [2.0]
    assert x.new_zeros(2).is_cuda and x.is_contiguous()
    # (device transposes are copies; a broadcast view is the layout that is not C-contiguous)
    assert x[:1].expand(2, 3).is_contiguous() is False
