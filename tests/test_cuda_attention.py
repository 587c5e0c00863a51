"""MultiheadAttention on device='cuda' matches the CPU: outputs, attention weights and the
gradients of the inputs and of every parameter.

Runs under numba's CUDA simulator (see tests/cuda_setup.py); tiny shapes.
"""
import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import numpy as np  # noqa: E402

import sorix  # noqa: E402
from conftest import rand_seeded as rand  # noqa: E402
from cuda_setup import assert_same, device_api_only, fast_thread_switching  # noqa: E402,F401
from sorix import nn  # noqa: E402


def _run_on_both(make_layer, inputs, call):
    """Build the layer (same seed) and run ``call`` on each device; compare everything."""
    results = {}
    for device in ("cpu", "cuda"):
        sorix.manual_seed(0)
        layer = make_layer(device)
        xs = [sorix.tensor(a, device=device, requires_grad=True) for a in inputs]
        out, weights = call(layer, *xs)
        upstream = rand(tuple(out.shape), inputs[0].dtype, seed=9)
        out.backward(sorix.tensor(upstream, device=device))
        results[device] = out, weights, xs, dict(layer.named_parameters())
    (out_c, w_c, xs_c, p_c), (out_g, w_g, xs_g, p_g) = results["cpu"], results["cuda"]
    assert_same(out_c, out_g, "output")
    if w_c is not None:
        assert_same(w_c, w_g, "weights")
    for i, (a, b) in enumerate(zip(xs_c, xs_g)):
        assert_same(a.grad, b.grad, f"gradient of input {i}")
    assert p_c.keys() == p_g.keys()
    for name in p_c:
        assert p_g[name].is_cuda, name
        assert_same(p_c[name].grad, p_g[name].grad, f"gradient of {name}")


def test_multihead_attention_with_masks_and_weights_float64():
    kpm = np.array([[False, False, True], [False, False, False]])
    attn_mask = np.array([[False, True, False], [False, False, False]])
    q = rand((2, 2, 4), np.float64, seed=1)  # (L, N, E)
    kv = rand((3, 2, 4), np.float64, seed=2)
    _run_on_both(lambda device: nn.MultiheadAttention(4, 2, device=device, dtype=np.float64),
                 [q, kv, kv],
                 lambda layer, q, k, v: layer(
                     q, k, v, key_padding_mask=sorix.tensor(kpm, device=q.device),
                     attn_mask=sorix.tensor(attn_mask, device=q.device),
                     average_attn_weights=False))


def test_multihead_attention_moved_batch_first_without_weights_float32():
    # a query row whose keys are all padded: the zero-weight ("safe softmax") path
    kpm = np.array([[True, True, True], [False, True, False]])
    x = rand((2, 3, 4), np.float32, seed=3)  # (N, L, E)
    _run_on_both(lambda device: nn.MultiheadAttention(4, 2, batch_first=True).to(device),
                 [x, x, x],
                 lambda layer, q, k, v: layer(q, k, v,
                                              key_padding_mask=sorix.tensor(kpm, device=q.device),
                                              need_weights=False))
