"""Workflows from Sorix's documentation, and the Sorix behaviours they rely on.

Each test runs the way a Sorix user writes the code and checks the numbers
against a closed form or a plain NumPy reference.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import sorix
from sorix import nn, tensor
from sorix.optim import Optimizer


# ---- the autograd page's manual gradient descent -------------------------------------

def test_manual_descent_with_grad_reset_to_zero():
    """``x.grad = 0`` then ``x -= lr * x.grad``: x_k = x_0 (1 - 2 lr)^k for f = x^2 + y^2."""
    lr, steps = 0.1, 50
    x = tensor([3.0], requires_grad=True)
    y = tensor([4.0], requires_grad=True)
    (x ** 2 + y ** 2).backward()
    x.grad = 0
    y.grad = 0
    for _ in range(steps):
        f = x ** 2 + y ** 2
        f.backward()
        x -= lr * x.grad
        y -= lr * y.grad
        x.grad = 0
        y.grad = 0
    assert x.is_leaf and y.is_leaf  # still the user's leaves, updated in place
    np.testing.assert_allclose(x.item(), 3.0 * 0.8 ** steps, rtol=1e-5)
    np.testing.assert_allclose(y.item(), 4.0 * 0.8 ** steps, rtol=1e-5)


def test_grad_assignment_casts_and_checks_the_shape():
    p = tensor([1.0, 2.0], requires_grad=True)          # float32
    p.grad = np.array([0.5, -1.0])                       # float64 array, as Sorix code does
    assert isinstance(p.grad, sorix.Tensor) and p.grad.dtype == sorix.float32
    np.testing.assert_array_equal(p.grad.data, [0.5, -1.0])
    p.grad = 0
    np.testing.assert_array_equal(p.grad.data, [0.0, 0.0])
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*shape \(2,\)"):
        p.grad = np.ones(3)
    with pytest.raises(TypeError, match="gradient must be"):
        p.grad = "zero"


def test_in_place_methods_still_refuse_a_leaf_that_requires_grad():
    x = tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="In-place operations are not allowed"):
        x.sub_(1.0)
    y = x * 2            # a computed tensor: -= is the differentiable x = x - v
    y -= 1.0
    assert not y.is_leaf
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0])


def test_augmented_assignment_on_a_saved_leaf_is_caught_at_backward():
    x = tensor([2.0], requires_grad=True)
    z = x * x            # saves x
    x -= 1.0             # Sorix's manual step changes x in place...
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.backward()     # ...so the old graph refuses instead of using the new value


# ---- tensors ---------------------------------------------------------------------------

def test_numpy_of_a_tensor_that_requires_grad_is_its_data():
    layer = nn.Linear(3, 2)
    out = layer(tensor(np.ones((4, 3), np.float32)))
    array = out.numpy()                                  # model(X).numpy(), as in Sorix's docs
    assert isinstance(array, np.ndarray) and np.shares_memory(array, out.data)
    expected = np.ones((4, 3), np.float32) @ layer.W.data + layer.b.data
    np.testing.assert_allclose(array, expected, rtol=1e-6)
    np.testing.assert_array_equal(out.numpy(force=True), array)  # PyTorch's keyword


def test_sorix_axis_keywords():
    t = tensor(np.arange(6.0).reshape(3, 1, 2))
    assert t.squeeze(axis=1).shape == (3, 2)
    assert t.unsqueeze(axis=0).shape == (1, 3, 1, 2)
    assert t.expand_dims(axis=-1).shape == (3, 1, 2, 1)
    flags = tensor([[True, False], [True, True]])
    np.testing.assert_array_equal(flags.all(axis=1).data, [False, True])
    np.testing.assert_array_equal(flags.any(axis=0, keepdims=True).data, [[True, True]])
    assert bool(np.all(tensor([1.0, 2.0]) > 0))          # NumPy's functions call the methods


def test_integer_leaves_get_integer_gradients():
    x = tensor([2, -3], dtype=sorix.int64, requires_grad=True)
    (x * x * 3).sum().backward()                          # d/dx 3x^2 = 6x
    assert x.grad.dtype == sorix.int64
    np.testing.assert_array_equal(x.grad.data, [12, -18])


def test_astype_takes_dtype_names_and_never_a_device():
    probs = tensor([0.2, 0.7, 0.9])
    labels = (probs > 0.5).astype("uint8")
    assert labels.dtype == sorix.uint8 and labels.device == "cpu"
    np.testing.assert_array_equal(labels.data, [0, 1, 1])
    with pytest.raises(TypeError, match="not understood"):
        probs.astype("cuda")


def test_device_errors_are_value_errors_and_runtime_errors():
    with pytest.raises(ValueError, match="Invalid device type"):
        tensor([1.0]).to("tpu")
    with pytest.raises(RuntimeError, match="Invalid device type"):
        sorix.device("tpu")


def test_shape_functions_on_arrays_return_arrays():
    a = np.arange(6.0).reshape(2, 3)
    assert isinstance(sorix.transpose(a, 0, 1), np.ndarray)
    np.testing.assert_array_equal(sorix.repeat(a, 2), np.tile(a, 2))
    np.testing.assert_array_equal(sorix.flatten(a), a.reshape(-1))
    left, right = sorix.split(a, [1, 2], 1)
    np.testing.assert_array_equal(right, a[:, 1:])
    with pytest.raises(TypeError, match="must be tuple or list"):
        sorix.cat(tensor([1.0, 2.0]))


def test_graph_introspection_names_parents_and_ops():
    x = tensor([1.0, 2.0], requires_grad=True)
    w = tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    (prod,) = y._prev
    assert y._op == "sum" and prod._op == "mul"
    assert set(map(id, prod._prev)) == {id(x), id(w)}
    assert x._prev == () and x._op == ""
    y.backward()
    assert y._prev == ()      # the graph was released


def test_single_backward_step():
    x = tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    y.grad = np.array([1.0, -1.0])
    y._backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, -3.0])


# ---- modules ---------------------------------------------------------------------------

def test_module_state_includes_tensor_attributes_and_plain_objects():
    class Scales:
        def __init__(self):
            self.offset = tensor([0.5])                   # not trained, still state
            self.gain = tensor([2.0], requires_grad=True)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 1)
            self.scales = Scales()
            self.temperature = tensor([1.5])

        def forward(self, x):
            return self.lin(x) * self.scales.gain + self.scales.offset

    model = Model()
    keys = set(model.state_dict())
    assert keys == {"lin.W", "lin.b", "scales.offset", "scales.gain", "temperature"}
    assert any(p is model.scales.gain for p in model.parameters())
    clone = Model()
    clone.load_state_dict(model.state_dict())
    x = tensor(np.array([[1.0, -2.0]], np.float32))
    np.testing.assert_array_equal(clone(x).data, model(x).data)


def test_load_state_dict_skips_unmatched_keys_but_warns():
    layer = nn.Linear(1, 1)
    with pytest.warns(UserWarning, match=r"missing key\(s\): b"):
        layer.load_state_dict({"W": tensor([[5.0]])})
    assert layer.W.item() == 5.0
    with pytest.raises(RuntimeError, match="Missing key"):
        layer.load_state_dict({"W": tensor([[1.0]])}, strict=True)


# ---- a custom optimizer, as Sorix's optimizer page writes one ----------------------------

class FusedMomentum(Optimizer):
    def __init__(self, parameters, lr=0.01, momentum=0.9):
        super().__init__(parameters, lr)
        for group in self.param_groups:
            group.setdefault("momentum", momentum)
            group["state"]["v_buffer"] = group["_xp"].zeros_like(group["_param_buffer"])

    def _perform_step(self):
        for group in self.param_groups:
            p_buf, g_buf = group["_param_buffer"], group["_grad_buffer"]
            v_buf = group["state"]["v_buffer"]
            v_buf[:] = group["momentum"] * v_buf + g_buf
            p_buf -= group["lr"] * v_buf


def test_custom_optimizer_protocol_matches_a_numpy_reference():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.25
    model = nn.Linear(3, 1)
    W, b = model.W.data.astype(np.float64), model.b.data.astype(np.float64)
    opt = FusedMomentum(model.parameters(), lr=0.05, momentum=0.8)
    W_ref, b_ref = model.W.data, model.b.data           # the parameters' own arrays...
    velocity = np.zeros(W.size + b.size)
    for _ in range(5):
        opt.zero_grad()
        loss = nn.MSELoss()(model(tensor(X)), tensor(y))
        loss.backward()
        opt.step()
        residual = X @ W + b - y                          # the same step in NumPy
        grad = np.concatenate([(2 / len(X) * X.T @ residual).ravel(),
                               (2 / len(X) * residual.sum(0)).ravel()])
        velocity = 0.8 * velocity + grad
        W = W - 0.05 * velocity[:3].reshape(3, 1)
        b = b - 0.05 * velocity[3:].reshape(1, 1)
    assert model.W.data is W_ref and model.b.data is b_ref  # ...updated in place
    np.testing.assert_allclose(model.W.data, W, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.b.data, b, rtol=1e-5, atol=1e-6)
    restored = FusedMomentum(model.parameters(), lr=1.0)
    restored.load_state_dict(opt.state_dict())
    assert restored.param_groups[0]["lr"] == 0.05
    np.testing.assert_array_equal(restored.param_groups[0]["state"]["v_buffer"],
                                  opt.param_groups[0]["state"]["v_buffer"])
    assert restored.param_groups[0]["state"]["v_buffer"] is not \
        opt.param_groups[0]["state"]["v_buffer"]


def test_zero_grad_zeroes_in_place():
    p = tensor([1.0, 2.0], requires_grad=True)
    p.grad = np.array([0.5, 0.5])
    sorix.optim.SGD([p], lr=0.1).zero_grad()
    np.testing.assert_array_equal(p.grad.data, [0.0, 0.0])


# ---- seeding and initialisation ---------------------------------------------------------

SEEDED_SCRIPT = textwrap.dedent("""
    import numpy as np, sorix
    from sorix import nn
    {seed}
    X = np.random.randn(4, 3)
    model = nn.Sequential(nn.Linear(3, 5), nn.Dropout(0.5), nn.Linear(5, 1))
    out = model(sorix.tensor(X, dtype=sorix.float32))
    print(repr(X.sum()), repr(float(out.sum().item())), sorix.randn(2).tolist())
""")


@pytest.mark.parametrize("seed", ["sorix.manual_seed(7)", "np.random.seed(7)"])
def test_seeded_scripts_repeat_exactly(seed):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    # two processes at once: each draws from its own freshly seeded streams
    runs = [subprocess.Popen([sys.executable, "-c", SEEDED_SCRIPT.format(seed=seed)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    first, second = (out for out, _ in outputs)
    assert first and second == first


def test_manual_seed_seeds_numpys_global_stream():
    sorix.manual_seed(11)
    a = np.random.rand(3)
    np.random.seed(11)
    np.testing.assert_array_equal(np.random.rand(3), a)


def test_embedding_starts_from_sorix_uniform_range():
    emb = nn.Embedding(400, 50)
    bound = np.sqrt(1 / 400)
    assert np.abs(emb.W.data).max() <= bound
    # U(-a, a) has standard deviation a / sqrt(3)
    np.testing.assert_allclose(emb.W.data.std(), bound / np.sqrt(3), rtol=0.02)


# ---- CUDA query without a GPU ---------------------------------------------------------

def test_cuda_query_without_a_driver_does_not_load_numba_cuda():
    code = ("import sys, sorix; from sorix.cuda import cuda; "
            "print(cuda.is_available(verbose=False), 'numba.cuda' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    env["LD_LIBRARY_PATH"] = ""  # no driver library is found through it
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout.split()
    if out[0] == "True":
        pytest.skip("this machine has a usable NVIDIA driver and GPU")
    assert out == ["False", "False"]  # answered by the driver probe, numba.cuda untouched
