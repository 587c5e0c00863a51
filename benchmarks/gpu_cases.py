"""GPU comparison cases: sorix on CUDA against PyTorch on CUDA and a device memory floor.

``build(case, impl)`` returns a validated, warmed :class:`Step` for one
implementation of a case ("sorix", "torch" or "floor"), or raises
:class:`~benchmarks.cases.Unavailable`. gpu_table.py times them and writes
the table; ``compare.py --device cuda``, the asv classes of ``bench_gpu.py``
and ``benchmarks/gpu_check.sh`` use both.

Sizes: the real ones on a GPU; with ``dry_run`` tiny ones, so that the
whole table runs under numba's simulator in seconds (CI checks the code
that way; its times mean nothing).

The floor of a bandwidth-bound case is one numba-cuda kernel moving exactly
the case's bytes (each input read once, each output written once) and doing
no arithmetic: what a perfectly fused implementation would cost.

Nothing here imports numba.cuda or torch at import (asv imports this module
while discovering benchmarks, with or without a GPU).
"""
import sys

import numpy as np

from . import cases
from . import references as ref
from .cases import Unavailable


class NotApplicable(Unavailable):
    """The implementation has no meaning for this case (no floor for a network): the
    table shows n/a without a footnote."""

IMPLEMENTATIONS = ("sorix", "torch", "floor")
FLOAT_BYTES = 4

#: Sizes on a GPU, and for a dry run under the simulator.
SIZES = {
    False: {"optimizer": (10**7, 10**8), "chain": 10**7, "matmul": 4096, "mnist_batch": 1024,
            "copy": 10**8, "kmeans": (10**6, 16, 32)},
    True: {"optimizer": (10**3, 4 * 10**3), "chain": 10**3, "matmul": 8, "mnist_batch": 4,
           "copy": 10**3, "kmeans": (64, 4, 3)},
}


class Step:
    """One unit of a case: ``run()``; ``bytes_moved``/``flops`` per call when meaningful."""

    def __init__(self, run, bytes_moved=None, flops=None):
        self.run, self.bytes_moved, self.flops = run, bytes_moved, flops


# ---- the device -----------------------------------------------------------------------------

def numba_cuda():
    from numba import cuda
    return cuda


def simulated():
    return numba_cuda().jit.__module__.startswith("numba.cuda.simulator")


def real_gpu():
    """Whether numba-cuda sees a real GPU (not the simulator)."""
    import importlib.util
    if importlib.util.find_spec("numba_cuda") is None:
        return False
    try:
        return bool(numba_cuda().is_available()) and not simulated()
    except Exception:
        return False


def torch_cuda():
    """torch, when it is installed and sees a CUDA GPU; else None."""
    torch = ref.load_torch()
    if torch is None or not torch.cuda.is_available():
        return None
    return torch


def synchronize():
    """Wait for every kernel queued by sorix (numba) and PyTorch."""
    numba_cuda().synchronize()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _torch_or_skip():
    torch = torch_cuda()
    if torch is None:
        raise Unavailable("PyTorch with CUDA is not available")
    return torch


def random32(shape, low=-1.0, high=1.0, seed=ref.SEED):
    """float32 uniform in [low, high), drawn in float32 (1e8 values in well under a second)."""
    x = np.random.default_rng(seed).random(shape, dtype=np.float32)
    x *= np.float32(high - low)
    x += np.float32(low)
    return x


def _warm(step, times=2):
    for _ in range(times):
        step.run()
    synchronize()
    return step


# ---- memory floor kernels (numba-cuda), compiled on first use --------------------------------
# Every value read feeds a store, so no load can be dropped; max() consumes two loads in
# one store at no cost next to the memory traffic.

cuda = None  # numba.cuda, bound when the kernels are compiled


def floor_read2_write2(x, w, gx, gw):
    """The chain's fused forward+backward: read x, w; write x.grad, w.grad."""
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        gx[i] = x[i]
        gw[i] = w[i]


def floor_read3_write2(p, g, state):
    """RMSprop: read p, g, square_avg; write p, square_avg."""
    for i in range(cuda.grid(1), p.size, cuda.gridsize(1)):
        old = p[i]
        p[i] = max(g[i], state[i])
        state[i] = old


def floor_read4_write3(p, g, exp_avg, exp_avg_sq):
    """Adam: read p, g, exp_avg, exp_avg_sq; write p, exp_avg, exp_avg_sq."""
    for i in range(cuda.grid(1), p.size, cuda.gridsize(1)):
        old = p[i]
        p[i] = max(g[i], exp_avg[i])
        exp_avg[i] = exp_avg_sq[i]
        exp_avg_sq[i] = old


_floor_kernels = {}


def _floor(fn):
    """``fn`` compiled with numba.cuda bound to ``cuda`` (so this module imports without it)."""
    if fn not in _floor_kernels:
        import types
        module = numba_cuda()
        copy = types.FunctionType(fn.__code__, {"cuda": module}, fn.__name__)
        _floor_kernels[fn] = module.jit(copy)
    return _floor_kernels[fn]


def _launch(kernel, n, *arrays):
    """One thread per element (the grid-stride loop covers any rest); a small grid under
    the simulator, whose threads are Python threads."""
    threads, blocks = (8, 3) if simulated() else (256, -(-n // 256))
    kernel[max(1, min(blocks, 2**31 - 1)), threads](*arrays)


def _floor_step(fn, arrays, bytes_moved):
    kernel, n = _floor(fn), arrays[0].size
    return Step(lambda: _launch(kernel, n, *arrays), bytes_moved)


# ---- optimizer steps ----------------------------------------------------------------------

def _sample(n):
    """Every 97th element: validates a large update without a full NumPy reference."""
    return slice(0, n, 97) if n > 10**6 else slice(None)


def _optimizer(name, n, impl):
    p, g = random32(n), random32(n, seed=ref.SEED + 1)
    arrays = 5 if name == "RMSprop" else 7  # read p, g, state(s); write p, state(s)
    bytes_moved = arrays * FLOAT_BYTES * n
    if impl == "floor":
        cuda = numba_cuda()
        device = [cuda.to_device(p), cuda.to_device(g), cuda.to_device(g)]
        if name == "Adam":
            device.append(cuda.to_device(p))
        return _warm(_floor_step(floor_read3_write2 if name == "RMSprop" else floor_read4_write3,
                                 device, bytes_moved))
    part = _sample(n)
    expected = cases.numpy_after_two_steps(name, p[part], g[part])
    if impl == "sorix":
        import sorix
        from sorix import optim
        param = sorix.tensor(p, device="cuda", requires_grad=True)
        param.grad = sorix.tensor(g, device="cuda")
        kind = optim.RMSprop if name == "RMSprop" else optim.Adam
        opt = kind([param], lr=cases.LR)
        step = Step(opt.step, bytes_moved)
        step.run(), step.run()
        got = param.detach().cpu().numpy()[part]
    else:
        torch = _torch_or_skip()
        param = torch.tensor(p, device="cuda", requires_grad=True)
        param.grad = torch.tensor(g, device="cuda")
        kind = torch.optim.RMSprop if name == "RMSprop" else torch.optim.Adam
        opt = kind([param], lr=cases.LR)  # PyTorch's default on CUDA: the foreach kernels
        step = Step(opt.step, bytes_moved)
        step.run(), step.run()
        got = param.detach().cpu().numpy()[part]
    ref.assert_close(got, expected, f"{impl} {name} parameter after two steps")
    return _warm(step)


# ---- the elementwise chain ------------------------------------------------------------------

def _chain(n, impl):
    xd, wd = random32(n), random32(n, 0.5, 1.5, seed=ref.SEED + 1)
    bytes_moved = 4 * FLOAT_BYTES * n  # read x, w; write x.grad, w.grad
    if impl == "floor":
        cuda = numba_cuda()
        arrays = [cuda.to_device(a) for a in (xd, wd, xd, wd)]
        return _warm(_floor_step(floor_read2_write2, arrays, bytes_moved))
    if impl == "sorix":
        import sorix
        x = sorix.tensor(xd, device="cuda", requires_grad=True)
        w = sorix.tensor(wd, device="cuda", requires_grad=True)
    else:
        torch = _torch_or_skip()
        x = torch.tensor(xd, device="cuda", requires_grad=True)
        w = torch.tensor(wd, device="cuda", requires_grad=True)

    def run():
        x.grad = w.grad = None
        loss = ((x.tanh() * w).sigmoid() + x * x).sum()
        loss.backward()
        return loss

    loss = run()
    want_loss, want_gx, want_gw = ref.chain_numpy(xd, wd)
    ref.assert_close(float(loss.item()), want_loss, f"{impl} chain loss", rtol=1e-3)
    ref.assert_close(x.grad.detach().cpu().numpy(), want_gx, f"{impl} chain x.grad")
    ref.assert_close(w.grad.detach().cpu().numpy(), want_gw, f"{impl} chain w.grad")
    return _warm(Step(run, bytes_moved))


# ---- matmul -------------------------------------------------------------------------------

def _matmul(size, impl, use_cublas=True):
    if impl == "floor":
        raise NotApplicable("matmul is compute-bound: no memory floor")
    a, b = random32((size, size)), random32((size, size), seed=ref.SEED + 1)
    g = random32((size, size), seed=ref.SEED + 2)
    if impl == "sorix":
        import sorix
        from sorix.kernels.cuda import blas
        ta = sorix.tensor(a, device="cuda", requires_grad=True)
        tb = sorix.tensor(b, device="cuda", requires_grad=True)
        tg = sorix.tensor(g, device="cuda")

        def product():
            with blas.enabled(use_cublas):
                y = ta @ tb
                y.backward(tg)
            return y
    else:
        torch = _torch_or_skip()
        ta = torch.tensor(a, device="cuda", requires_grad=True)
        tb = torch.tensor(b, device="cuda", requires_grad=True)
        tg = torch.tensor(g, device="cuda")

        def product():
            y = ta @ tb
            y.backward(tg)
            return y

    def run():
        ta.grad = tb.grad = None
        return product()

    y = run()
    # rows and columns of each result against float64 NumPy: all of it would take seconds
    rows = slice(0, min(size, 64))
    a64, b64, g64 = (v.astype(np.float64) for v in (a, b, g))
    checks = ((y.detach().cpu().numpy()[rows], a64[rows] @ b64, "out"),
              (ta.grad.detach().cpu().numpy()[rows], g64[rows] @ b64.T, "a.grad"),
              (tb.grad.detach().cpu().numpy()[:, rows], a64.T @ g64[:, rows], "b.grad"))
    for got, want, what in checks:
        scale = float(np.abs(want).max())
        ref.assert_close(got, want, f"{impl} matmul {what}", rtol=1e-3, atol=1e-4 * scale)
    return _warm(Step(run, flops=6 * size**3))  # three products of 2 size^3


def _tiled(size, impl):
    """sorix's own tiled kernel, cuBLAS switched off (PyTorch is in the row above)."""
    if impl != "sorix":
        raise NotApplicable("compared in the cuBLAS row")
    return _matmul(size, impl, use_cublas=False)


# ---- the MNIST network --------------------------------------------------------------------
# Linear(784,128,bias=False) BatchNorm1d ReLU Linear(128,64) ReLU Dropout(0.2) Linear(64,10),
# CrossEntropyLoss, RMSprop(lr=1e-3), as cases.py's CPU case; a dry run narrows the layers.

MNIST_WIDTHS = {False: (784, 128, 64, 10), True: (12, 8, 6, 10)}


def _mnist_init(widths, seed=ref.SEED):
    """He-initialised parameters in sorix's layout, keyed as references.mnist_init."""
    rng = np.random.default_rng(seed + 1)
    features, hidden1, hidden2, classes = widths

    def he(fan_in, fan_out):
        return (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in)).astype(np.float32)

    return {"W1": he(features, hidden1), "gamma": np.ones((1, hidden1), np.float32),
            "beta": np.zeros((1, hidden1), np.float32), "W2": he(hidden1, hidden2),
            "b2": np.zeros((1, hidden2), np.float32), "W3": he(hidden2, classes),
            "b3": np.zeros((1, classes), np.float32)}


def _mnist_batches(widths, batch, count, seed=ref.SEED):
    rng = np.random.default_rng(seed)
    return [(rng.random((batch, widths[0]), dtype=np.float32),
             rng.integers(0, widths[-1], batch)) for _ in range(count)]


def _sorix_mnist(widths, params, p_drop):
    """(model, loss, RMSprop) on the GPU with ``params`` copied in; the optimizer is made
    after the move, for the parameters' device."""
    import sorix
    from sorix import nn
    from sorix.optim import RMSprop
    features, hidden1, hidden2, classes = widths
    model = nn.Sequential(nn.Linear(features, hidden1, bias=False), nn.BatchNorm1d(hidden1),
                          nn.ReLU(), nn.Linear(hidden1, hidden2), nn.ReLU(), nn.Dropout(p_drop),
                          nn.Linear(hidden2, classes))
    with sorix.no_grad():
        for (i, name), key in zip(((0, "W"), (1, "gamma"), (1, "beta"), (3, "W"), (3, "b"),
                                   (6, "W"), (6, "b")), ("W1", "gamma", "beta", "W2", "b2",
                                                         "W3", "b3")):
            getattr(model[i], name).data[...] = params[key]
    model.to("cuda").train()
    return model, nn.CrossEntropyLoss(), RMSprop(model.parameters(), lr=ref.MNIST_LR)


def _torch_mnist(torch, widths, params, p_drop):
    nn = torch.nn
    features, hidden1, hidden2, classes = widths
    model = nn.Sequential(nn.Linear(features, hidden1, bias=False), nn.BatchNorm1d(hidden1),
                          nn.ReLU(), nn.Linear(hidden1, hidden2), nn.ReLU(), nn.Dropout(p_drop),
                          nn.Linear(hidden2, classes))
    with torch.no_grad():  # PyTorch stores W as (out, in)
        for (i, name), value in zip(((0, "weight"), (1, "weight"), (1, "bias"), (3, "weight"),
                                     (3, "bias"), (6, "weight"), (6, "bias")),
                                    (params["W1"].T, params["gamma"][0], params["beta"][0],
                                     params["W2"].T, params["b2"][0], params["W3"].T,
                                     params["b3"][0])):
            getattr(model[i], name).copy_(torch.from_numpy(np.ascontiguousarray(value)))
    model.cuda().train()
    return model, nn.CrossEntropyLoss(), torch.optim.RMSprop(model.parameters(), lr=ref.MNIST_LR)


def _mnist(batch, impl, dry_run):
    """One training step (zero_grad, forward, loss, backward, RMSprop step), cycling
    through batches already on the device; checked first against the NumPy reference
    with dropout off."""
    if impl == "floor":
        raise NotApplicable("no memory floor for a network")
    widths = MNIST_WIDTHS[dry_run]
    params = _mnist_init(widths)
    (x, labels), = _mnist_batches(widths, batch, 1, seed=ref.SEED + 7)
    pool = _mnist_batches(widths, batch, 4 if dry_run else 16)
    if impl == "sorix":
        import sorix
        tensor = sorix.tensor
        model, loss_fn, _ = _sorix_mnist(widths, params, 0.0)
        layers = {"W1": model[0].W, "gamma": model[1].gamma, "beta": model[1].beta,
                  "W2": model[3].W, "b2": model[3].b, "W3": model[6].W, "b3": model[6].b}
    else:
        torch = _torch_or_skip()

        def tensor(a, device):
            return torch.tensor(a, device=device)
        model, loss_fn, _ = _torch_mnist(torch, widths, params, 0.0)
        layers = {"W1": model[0].weight, "gamma": model[1].weight, "beta": model[1].bias,
                  "W2": model[3].weight, "b2": model[3].bias, "W3": model[6].weight,
                  "b3": model[6].bias}
    loss = loss_fn(model(tensor(x, device="cuda")), tensor(labels, device="cuda"))
    loss.backward()
    grads = {k: t.grad.detach().cpu().numpy() for k, t in layers.items()}
    if impl == "torch":  # back to sorix's layout: W as (in, out), vectors as (1, F)
        grads = {k: v.T if k.startswith("W") else v[None] for k, v in grads.items()}
    want_loss, want = ref.mnist_loss_and_grads(params, x, labels)
    ref.assert_close(float(loss.item()), want_loss, f"{impl} MNIST loss", rtol=1e-4)
    for k, v in want.items():
        # float32 sums over a batch of 1024 in cuBLAS's order: compared as ||got - want|| /
        # ||want|| (elementwise, tiny entries of a 784x128 gradient differ relatively more)
        error = float(np.linalg.norm(grads[k] - v) / max(np.linalg.norm(v), 1e-30))
        if not error <= 1e-3:
            raise AssertionError(f"{impl} MNIST grad {k}: relative error {error:.2e} against the "
                                 "NumPy reference")
    if impl == "sorix":
        model, loss_fn, opt = _sorix_mnist(widths, params, 0.2)
    else:
        model, loss_fn, opt = _torch_mnist(torch, widths, params, 0.2)
    batches = [(tensor(xb, device="cuda"), tensor(yb, device="cuda")) for xb, yb in pool]
    return _warm(Step(cases._training_step(model, loss_fn, opt, batches)))


# ---- k-means: one Lloyd iteration (assign, update, assign) on device data ------------------

def _kmeans(shape, impl):
    if impl == "floor":
        raise NotApplicable("k-means is not one bandwidth-bound pass: no memory floor")
    n, d, k = shape
    x, c0 = ref.kmeans_inputs(n, d, k)
    want = ref.kmeans_iteration_numpy(x, c0)
    if impl == "sorix":
        import sorix
        from sorix.clustering import Kmeans
        data = sorix.tensor(x, device="cuda")

        def run():
            return Kmeans(k, init=c0).fit(data, max_iters=1, eps=0.0)

        model = run()
        ref.check_kmeans("sorix", model.centroids.numpy(), model.labels.numpy(), want)
        return _warm(Step(run))
    torch = _torch_or_skip()
    data, start = torch.tensor(x, device="cuda"), torch.tensor(c0, device="cuda")

    def assign(centroids):
        return torch.cdist(data, centroids).argmin(dim=1)

    def run():
        labels = assign(start)
        sums = torch.zeros((k, d), dtype=torch.float64, device="cuda")
        sums.index_add_(0, labels, data.double())
        counts = torch.bincount(labels, minlength=k).unsqueeze(1)
        centroids = torch.where(counts > 0, sums / counts.clamp(min=1), start.double())
        return centroids, assign(centroids.float())

    centroids, labels = run()
    ref.check_kmeans("torch", centroids.cpu().numpy(), labels.cpu().numpy(), want)
    return _warm(Step(run))


# ---- the case table -------------------------------------------------------------------------

def _count(n):
    return f"1e{len(str(n)) - 1}" if str(n).strip("0") == "1" else f"{n:,}"


def case_table(dry_run=False):
    """name -> (builder(impl), goal): goal is (reference, limit of sorix/reference) or None."""
    size = SIZES[dry_run]
    table = {}
    for name in ("RMSprop", "Adam"):
        for n in size["optimizer"]:
            table[f"{name} step {_count(n)}"] = (
                (lambda impl, name=name, n=n: _optimizer(name, n, impl)), ("floor", 1.25))
    table[f"elementwise chain {_count(size['chain'])}"] = (
        lambda impl: _chain(size["chain"], impl), None)
    m = size["matmul"]
    table[f"matmul {m}x{m} fwd+bwd"] = (lambda impl: _matmul(m, impl), ("torch", 1.2))
    table[f"matmul {m}x{m} fwd+bwd, tiled kernel"] = (lambda impl: _tiled(m, impl), None)
    b = size["mnist_batch"]
    widths = "-".join(str(w) for w in MNIST_WIDTHS[dry_run])
    table[f"MNIST-net ({widths}) training step, batch {b}"] = (
        lambda impl: _mnist(b, impl, dry_run), ("torch", 1.5))
    n, d, k = size["kmeans"]
    table[f"k-means Lloyd iteration {_count(n)}x{d}, k={k}"] = (
        lambda impl: _kmeans(size["kmeans"], impl), None)
    return table


def build(case, impl, dry_run=False):
    builder, _ = case_table(dry_run)[case]
    return builder(impl)
