"""LSTM, GRU and GRUCell on device='cuda' match the CPU: outputs, final states and the
gradients of the input, the initial state and every parameter; the module built on the
device draws the same weights as on the CPU for one seed.

Runs under numba's CUDA simulator (tests/cuda_setup.py; SORIX_TEST_CUDA=gpu runs on a
real GPU) with device arrays cut down to a real GPU array's API. Tiny shapes: the
simulator is slow.
"""
import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import pytest  # noqa: E402

import sorix  # noqa: E402
import sorix.nn as nn  # noqa: E402
from conftest import rand_seeded as rand  # noqa: E402
from cuda_setup import assert_same, device_api_only, fast_thread_switching  # noqa: E402,F401

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

SEQ, BATCH, IN, HID = 3, 2, 2, 4


def run(module, device, x, states):
    """Forward and backward of a fixed weighted sum of all results on ``device``."""
    xs = sorix.tensor(x, device=device, requires_grad=True)
    hs = [sorix.tensor(s, device=device, requires_grad=True) for s in states]
    hx = None if not hs else (tuple(hs) if len(hs) == 2 else hs[0])
    result = module(xs, hx)
    flat = [result] if not isinstance(result, tuple) else \
        [result[0]] + (list(result[1]) if isinstance(result[1], tuple) else [result[1]])
    loss = 0
    for i, out in enumerate(flat):
        weights = rand(tuple(out.shape), x.dtype, seed=20 + i)
        loss = loss + (out * sorix.tensor(weights, device=device)).sum()
    loss.backward()
    return flat, [xs] + hs


@pytest.mark.parametrize("make, states", [
    (lambda device: nn.LSTM(IN, HID, bidirectional=True, batch_first=True, device=device),
     [(2, BATCH, HID), (2, BATCH, HID)]),
    (lambda device: nn.GRU(IN, HID, dtype=sorix.float64, device=device), []),
    (lambda device: nn.GRUCell(IN, HID, device=device), [(BATCH, HID)]),
], ids=["lstm_bidirectional", "gru_float64", "gru_cell"])
def test_matches_cpu(make, states):
    sorix.manual_seed(3)
    cpu = make("cpu")
    sorix.manual_seed(3)
    gpu = make("cuda")  # drawn on the host: the same weights as on the CPU
    dtype = cpu.weight_ih_l0.data.dtype if hasattr(cpu, "weight_ih_l0") \
        else cpu.weight_ih.data.dtype
    cell = isinstance(cpu, nn.GRUCell)
    x = rand((BATCH, IN) if cell else (BATCH, SEQ, IN) if cpu.batch_first else (SEQ, BATCH, IN),
             dtype, seed=1)
    arrays = [rand(shape, dtype, seed=2 + i) for i, shape in enumerate(states)]
    cpu_out, cpu_leaves = run(cpu, "cpu", x, arrays)
    gpu_out, gpu_leaves = run(gpu, "cuda", x, arrays)
    for i, (a, b) in enumerate(zip(cpu_out, gpu_out)):
        assert_same(a, b, f"result {i}")
    for i, (a, b) in enumerate(zip(cpu_leaves, gpu_leaves)):
        assert_same(a.grad, b.grad, f"gradient of input {i}")
    gpu_params = dict(gpu.named_parameters())
    for name, p in cpu.named_parameters():
        assert gpu_params[name].is_cuda
        assert_same(p.grad, gpu_params[name].grad, f"gradient of {name}")
