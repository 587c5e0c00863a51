"""CUDA training: losses, layers, optimizers and whole training loops on device='cuda'
match the CPU, and a training step keeps its data on the GPU.

Runs under numba's CUDA simulator (see tests/cuda_setup.py and
tests/test_cuda_tensors.py); tiny shapes, few steps.
"""
import contextlib
import io

import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sorix  # noqa: E402
import sorix.kernels.cuda as C  # noqa: E402
from conftest import DTYPES, REFERENCE_EXAMPLE_OUTPUT, rand_seeded as rand  # noqa: E402
from cuda_setup import (assert_same, device_api_only, fast_thread_switching,  # noqa: E402,F401
                        host, on_both)
from sorix import nn  # noqa: E402
from sorix.optim import SGD, Adam, AdamW, RMSprop  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


# ---- losses ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_losses(dtype, reduction):
    x, t = rand((4, 3), dtype), rand((4, 3), dtype, 0.0, 1.0, seed=1)
    x[0, 0] = 0.0  # the tie of max(x, 0): the gradient is still sigmoid(x) - t
    x[1, 1] = 9.0  # a confident logit: log(1 + exp(-|x|)) must keep its precision
    on_both(lambda a, b: nn.MSELoss(reduction=reduction)(a, b), x, t)
    on_both(lambda a, b: nn.BCEWithLogitsLoss(reduction=reduction)(a, b), x, t)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy(dtype):
    logits = rand((5, 4), dtype, -3.0, 3.0)
    labels = np.array([0, 3, 1, 1, 2])
    weight = np.array([0.5, 1.0, 2.0, 1.5], dtype)
    probs = rand((5, 4), dtype, 0.0, 1.0, seed=2)
    probs /= probs.sum(axis=1, keepdims=True)
    for reduction in ("mean", "sum", "none"):
        on_both(lambda x, y: nn.CrossEntropyLoss(reduction=reduction)(x, y), logits, labels)
        on_both(lambda x, p: nn.CrossEntropyLoss(one_hot=True, reduction=reduction)(x, p),
                logits, probs)
    on_both(lambda x, y: nn.CrossEntropyLoss()(x, y), logits, labels.reshape(-1, 1))
    on_both(lambda x, y, w: sorix.nn.functional.cross_entropy(x, y, weight=w), logits, labels,
            weight)
    on_both(lambda x, p, w: sorix.nn.functional.cross_entropy(x, p, weight=w, one_hot=True),
            logits, probs, weight)
    ignored = np.array([0, -100, 1, -100, 2])
    on_both(lambda x, y: nn.CrossEntropyLoss()(x, y), logits, ignored)
    on_both(lambda x, y: sorix.nn.functional.cross_entropy(x, y), rand((2, 3, 4), dtype),
            np.array([[0, 1, 2, 0], [2, 2, 1, 0]]))  # (N, C, d): classes along axis 1


def test_cross_entropy_module_weight_moves_with_the_module():
    loss = nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0]).to("cuda")
    assert loss.weight.is_cuda
    x = sorix.tensor(rand((2, 3)), device="cuda", requires_grad=True)
    value = loss(x, sorix.tensor([2, 0], device="cuda"))
    expected = nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0])(sorix.tensor(rand((2, 3))),
                                                             sorix.tensor([2, 0]))
    assert value.item() == pytest.approx(expected.item(), rel=1e-5)


def test_cross_entropy_bad_class_gives_nan_on_the_gpu():
    # The CPU raises; a GPU cannot check without reading the targets back.
    x = sorix.tensor(rand((2, 3)), device="cuda")
    losses = nn.CrossEntropyLoss(reduction="none")(x, sorix.tensor([1, 7], device="cuda"))
    value = host(losses)
    assert np.isfinite(value[0]) and np.isnan(value[1])


# ---- layers ----------------------------------------------------------------------------

def twins(make):
    """The same freshly initialised module on each device (one seed, host draws)."""
    sorix.manual_seed(7)
    cpu = make()
    sorix.manual_seed(7)
    return cpu, make().to("cuda")


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_relu_dropout(dtype):
    a = rand((3, 4), dtype)
    for make in (lambda: nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Dropout(0.5)).eval(),
                 lambda: nn.Linear(4, 2, bias=False), lambda: nn.Sequential(nn.Tanh(),
                                                                       nn.Sigmoid())):
        cpu, gpu = twins(make)
        if dtype == np.float64:
            cpu.double(), gpu.double()
        on_both(lambda x: (cpu if x.device.type == "cpu" else gpu)(x), a)
        for p, q in zip(cpu.parameters(), gpu.parameters()):
            assert q.is_cuda
            assert_same(p.grad, q.grad, "parameter gradient")


def test_dropout_training_draws_the_same_mask():
    a = rand((4, 5))
    results = []
    for device in ("cpu", "cuda"):
        sorix.manual_seed(11)
        results.append(nn.Dropout(0.3)(sorix.tensor(a, device=device)))
    assert_same(*results)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 2)])
def test_batchnorm1d(dtype, shape):
    a = rand(shape, dtype)
    cpu, gpu = twins(lambda: nn.BatchNorm1d(3))
    for _ in range(2):  # training: batch statistics, running estimates move
        on_both(lambda x: (cpu if x.device.type == "cpu" else gpu)(x * 2 + 1), a)
    assert_same(cpu.running_mean, gpu.running_mean, "running_mean")
    assert_same(cpu.running_var, gpu.running_var, "running_var")
    assert_same(cpu.gamma.grad, gpu.gamma.grad, "gamma gradient")
    assert_same(cpu.beta.grad, gpu.beta.grad, "beta gradient")
    cpu.eval(), gpu.eval()
    on_both(lambda x: (cpu if x.device.type == "cpu" else gpu)(x), a)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm2d(dtype):
    a = rand((3, 2, 2, 3), dtype)
    cpu, gpu = twins(lambda: nn.BatchNorm2d(2, momentum=None))
    for _ in range(2):
        on_both(lambda x: (cpu if x.device.type == "cpu" else gpu)(x * 2 + 1), a)
    for name in ("running_mean", "running_var"):
        assert_same(getattr(cpu, name), getattr(gpu, name), name)
    assert_same(cpu.weight.grad, gpu.weight.grad, "weight gradient")
    assert_same(cpu.bias.grad, gpu.bias.grad, "bias gradient")
    cpu.eval(), gpu.eval()
    on_both(lambda x: (cpu if x.device.type == "cpu" else gpu)(x), a)


def test_embedding_accumulates_repeated_rows():
    cpu, gpu = twins(lambda: nn.Embedding(5, 3))
    index = np.array([[1, 4, 1], [1, 0, 4]])
    for model in (cpu, gpu):
        device = "cuda" if model is gpu else "cpu"
        out = model(sorix.tensor(index, device=device))
        out.backward(sorix.ones(*out.shape, device=device))
    assert_same(cpu.W.grad, gpu.W.grad, "embedding gradient")
    assert host(gpu.W.grad)[1, 0] == 3.0


# ---- optimizers --------------------------------------------------------------------------

OPTIMIZERS = [
    (SGD, dict(lr=0.1)), (SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (SGD, dict(lr=0.1, momentum=0.5, dampening=0.3, maximize=True)),
    (RMSprop, dict(lr=0.01)), (RMSprop, dict(lr=0.01, centered=True, momentum=0.9)),
    (RMSprop, dict(lr=0.01, weight_decay=0.1, alpha=0.9)),
    (Adam, dict(lr=0.05)), (Adam, dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
    (AdamW, dict(lr=0.05)), (AdamW, dict(lr=0.05, amsgrad=True, betas=(0.8, 0.9))),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make, options", OPTIMIZERS,
                         ids=[f"{m.__name__}-{i}" for i, (m, _) in enumerate(OPTIMIZERS)])
def test_optimizers(make, options, dtype):
    start, target = rand((2, 3), dtype), rand((2, 3), dtype, seed=5)
    params = {}
    for device in ("cpu", "cuda"):
        p = sorix.tensor(start, device=device, requires_grad=True)
        t = sorix.tensor(target, device=device)
        optimizer = make([p], **options)
        for _ in range(3):
            optimizer.zero_grad()
            ((p - t) ** 2 * (p + 3)).sum().backward()
            optimizer.step()
        params[device] = p, optimizer
    (p_cpu, opt_cpu), (p_gpu, opt_gpu) = params["cpu"], params["cuda"]
    assert_same(p_cpu, p_gpu, "parameters after 3 steps")
    state = opt_gpu.state_dict()["state"][0]
    for name, value in opt_cpu.state_dict()["state"][0].items():
        if isinstance(value, sorix.Tensor):
            assert_same(value, state[name], f"optimizer state {name}")
    assert p_gpu.is_cuda


def test_optimizer_state_dict_round_trip_across_devices():
    p = sorix.tensor(rand((3,)), device="cuda", requires_grad=True)
    optimizer = Adam([p], lr=0.1)
    p.grad = sorix.tensor(rand((3,), seed=1), device="cuda")
    optimizer.step()
    saved = optimizer.state_dict()
    assert saved["state"][0]["exp_avg"].is_cuda
    buffer = io.BytesIO()
    sorix.save(saved, buffer)  # tensors are written from host copies
    buffer.seek(0)
    assert sorix.load(buffer)["state"][0]["exp_avg"].is_cuda  # back where they were saved
    buffer.seek(0)
    loaded = sorix.load(buffer, map_location="cpu")
    assert not loaded["state"][0]["exp_avg"].is_cuda
    again = Adam([p], lr=0.1)
    again.load_state_dict(loaded)  # CPU state lands on the parameter's device
    assert C.is_device_array(again.state[p]["exp_avg"])
    before = host(p)
    optimizer.step(), again.step()
    np.testing.assert_array_equal(host(p) != before, np.ones(3, bool))


# ---- models -----------------------------------------------------------------------------

def mlp():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def data():
    rng = np.random.default_rng(3)
    return rng.standard_normal((8, 8)).astype(np.float32), rng.integers(0, 3, 8)


@pytest.mark.parametrize("make, options, loss_fn",
                         [(SGD, dict(lr=0.1, momentum=0.9), nn.MSELoss()),
                          (RMSprop, dict(lr=0.01), nn.MSELoss()),
                          (Adam, dict(lr=0.01), nn.CrossEntropyLoss())],
                         ids=["SGD", "RMSprop", "Adam"])
def test_mlp_trains_the_same_on_both_devices(make, options, loss_fn):
    features, labels = data()
    if isinstance(loss_fn, nn.MSELoss):  # (fewer kernel launches than cross-entropy)
        labels = np.eye(3, dtype=np.float32)[labels]
    runs = {}
    for device in ("cpu", "cuda"):
        sorix.manual_seed(0)
        model = mlp().to(device)
        optimizer = make(model.parameters(), **options)
        x, y = sorix.tensor(features, device=device), sorix.tensor(labels, device=device)
        losses = []
        for _ in range(3):
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        runs[device] = model, losses
    (cpu, cpu_losses), (gpu, gpu_losses) = runs["cpu"], runs["cuda"]
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-5)
    assert cpu_losses[-1] < cpu_losses[0]
    for (name, p), q in zip(cpu.named_parameters(), gpu.parameters()):
        np.testing.assert_allclose(host(q), host(p), rtol=1e-4, atol=1e-6, err_msg=name)


def test_module_to_keeps_tensors_and_moves_buffers():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    weight, running = model[0].W, model[1].running_mean
    (model(sorix.randn(5, 3)).sum()).backward()
    assert model.to("cuda") is model
    assert model[0].W is weight and weight.is_cuda and weight.grad.is_cuda
    assert model[1].running_mean is running and running.is_cuda
    assert model.device == "cuda" and model[0].device == "cuda"
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(sorix.randn(5, 3, device="cuda")).sum().backward()
    optimizer.step()
    assert C.is_device_array(optimizer.state[weight]["momentum_buffer"])
    state = model.state_dict()
    back = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    back.load_state_dict(state)  # a GPU checkpoint into a CPU model
    np.testing.assert_array_equal(host(back[0].W), host(weight))
    model.to("cpu")
    assert not weight.is_cuda and isinstance(weight.data, np.ndarray)


def test_layers_built_on_the_device():
    layer = nn.Linear(2, 3, device="cuda")
    assert layer.W.is_cuda and layer.b.is_cuda and layer.device == "cuda"
    assert nn.BatchNorm1d(2, device="cuda").running_var.is_cuda
    assert nn.Embedding(4, 2, device="cuda").W.is_cuda


def test_a_training_step_stays_on_the_device():
    features, labels = data()
    model = mlp().to("cuda")
    optimizer = Adam(model.parameters(), lr=0.01)
    x, y = sorix.tensor(features, device="cuda"), sorix.tensor(labels, device="cuda")
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(model(x), y).backward()  # the first step builds state: leave it out
    optimizer.step()
    before = C.transfer_counts()
    loss = loss_fn(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert C.transfer_counts() == before, "forward, backward and step copied data"
    mse = nn.MSELoss()(model(x), sorix.zeros(8, 3, device="cuda"))
    mse.backward()
    assert C.transfer_counts() == before
    loss.item()  # one value comes back
    after = C.transfer_counts()
    assert after["to_host"] == before["to_host"] + 1 and after["to_device"] == before["to_device"]


def test_reference_example_on_the_gpu():
    from sorix import tensor
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        x = tensor([5.0], requires_grad=True, device="cuda")
        y = tensor([5.0], requires_grad=True, device="cuda")
        optimizer = RMSprop([x, y], lr=0.1)
        for epoch in range(10):
            loss = x * x + tensor([10.0], device="cuda") * y * y
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            print(f"Epoch {epoch+1}: x = {x.data[0]:.4f}, y = {y.data[0]:.4f}, "
                  f"loss = {loss.data[0]:.4f}")
    assert out.getvalue() == REFERENCE_EXAMPLE_OUTPUT
    assert x.is_cuda and C.is_device_array(x.data)
