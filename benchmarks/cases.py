"""The comparison cases: for each, one validated step callable per implementation.

``build(case, impl)`` returns a zero-argument callable that performs one
unit of the case (one training step, one forward+backward ...), after
checking the implementation's result against the NumPy reference once
and warming it up (JIT compilation, first allocations). It raises
:class:`Unavailable` when the implementation cannot run here (PyTorch or
sorix.nn not installed, no floor for the case).

Used by compare.py (every case, every implementation) and by the asv
track_ benchmarks (ratios). :func:`interleaved_samples` is the timing both use.
"""
import statistics

import numpy as np

from . import batch_norm_case, layer_norm_case
from . import references as ref

IMPLEMENTATIONS = ("sorix", "numpy", "torch", "floor", "sklearn", "published")


class Unavailable(Exception):
    """This implementation of the case cannot run here; the message says why."""


class NotApplicable(Unavailable):
    """The case has no such implementation (nothing to report)."""


def _torch():
    torch = ref.load_torch()
    if torch is None:
        raise Unavailable("PyTorch is not installed")
    return torch


def _warm(step, times=2):
    for _ in range(times):
        step()
    return step


# ---- the reference example's loop -----------------------------------------------------

def sorix_example():
    """The example as API.md writes it, minus printing; returns (x, y, loss) per epoch."""
    from sorix import tensor
    from sorix.optim import RMSprop
    x = tensor([5.0], requires_grad=True)
    y = tensor([5.0], requires_grad=True)
    optimizer = RMSprop([x, y], lr=0.1)
    history = []
    for _ in range(10):
        loss = x * x + tensor([10.0]) * y * y
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append((x.data[0], y.data[0], loss.data[0]))
    return history


def _example(impl):
    if impl == "sorix":
        run = sorix_example
    elif impl == "numpy":
        run = ref.example_numpy
    elif impl == "torch":
        torch = _torch()

        def run():
            return ref.example_torch(torch)
    else:
        raise Unavailable("no memory floor for a 1-element loop")
    ref.check_example(run(), impl)
    return _warm(run)


def _example_loop(tensor, optimizer_class, value):
    """One iteration per call of the example's loop, its tensors and optimizer (and the
    constant 10) built once, as a script that trains for many epochs runs it; ``value``
    reads a 1-element tensor. The first ten calls are checked against the example's printed lines."""
    x = tensor([5.0], requires_grad=True)
    y = tensor([5.0], requires_grad=True)
    ten = tensor([10.0])
    optimizer = optimizer_class([x, y], lr=0.1)

    def step():
        loss = x * x + ten * y * y
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    history = []
    for _ in range(10):
        loss = step()
        history.append((value(x), value(y), value(loss)))
    return step, history


def _example_built_once(impl):
    if impl == "sorix":
        import sorix
        step, history = _example_loop(sorix.tensor, sorix.optim.RMSprop,
                                      lambda t: t.data[0])
    elif impl == "torch":
        torch = _torch()
        step, history = _example_loop(torch.tensor, torch.optim.RMSprop,
                                      lambda t: t.data[0].item())
    elif impl == "numpy":
        raise NotApplicable("the loop without a graph is the example case's numpy column")
    else:
        raise Unavailable("no memory floor for a 1-element loop")
    ref.check_example(history, impl)
    return _warm(step)


# ---- the elementwise chain --------------------------------------------------------------

CHAIN_SIZE = 10**6


def chain_inputs(n=CHAIN_SIZE):
    return ref.random32(n), ref.random32(n, 0.5, 1.5, seed=ref.SEED + 1)


def sorix_chain_step(n=CHAIN_SIZE):
    """((x.tanh() * w).sigmoid() + x * x).sum().backward() on fresh .grad each call."""
    import sorix
    xd, wd = chain_inputs(n)
    x = sorix.tensor(xd, requires_grad=True)
    w = sorix.tensor(wd, requires_grad=True)

    def step():
        x.grad = w.grad = None
        loss = ((x.tanh() * w).sigmoid() + x * x).sum()
        loss.backward()
        return loss.data, x.grad.data, w.grad.data

    return step


def _chain(impl):
    xd, wd = chain_inputs()
    loss, gx, gw = ref.chain_numpy(xd, wd)
    if impl == "sorix":
        step = sorix_chain_step()
        got = step()
    elif impl == "numpy":
        def step():
            return ref.chain_numpy(xd, wd)
        got = step()
    elif impl == "torch":
        torch = _torch()
        x = torch.from_numpy(xd.copy()).requires_grad_()
        w = torch.from_numpy(wd.copy()).requires_grad_()

        def step():
            x.grad = w.grad = None
            return ref.chain_torch(torch, x, w)
        got = (step().item(), x.grad.numpy(), w.grad.numpy())
    else:
        out_x, out_w = np.empty_like(xd), np.empty_like(wd)

        def step():
            ref.floor_read2_write2(xd, wd, out_x, out_w)
        return _warm(step)
    # a sum of 1e6 float32 terms: compare with a tolerance that fits its rounding
    ref.assert_close(got[0], loss, f"{impl} chain loss", rtol=1e-3)
    ref.assert_close(got[1], gx, f"{impl} chain x.grad")
    ref.assert_close(got[2], gw, f"{impl} chain w.grad")
    return _warm(step)


# ---- optimizer steps ------------------------------------------------------------------

OPTIMIZERS = ("SGD momentum", "RMSprop", "Adam")
LR = 1e-3
MOMENTUM = 0.9


def optimizer_arrays(n):
    """Parameter and gradient of one flat float32 parameter of ``n`` elements."""
    return ref.random32(n), ref.random32(n, seed=ref.SEED + 1)


def sorix_optimizer(name, p, g):
    """A sorix optimizer over one parameter holding a copy of ``p`` with gradient ``g``."""
    import sorix
    from sorix import optim
    param = sorix.tensor(p.copy(), requires_grad=True)
    param.grad = sorix.tensor(g.copy())
    if name == "SGD momentum":
        opt = optim.SGD([param], lr=LR, momentum=MOMENTUM)
    elif name == "RMSprop":
        opt = optim.RMSprop([param], lr=LR)
    else:
        opt = optim.Adam([param], lr=LR)
    return param, opt


def torch_optimizer(torch, name, p, g):
    param = torch.from_numpy(p.copy()).requires_grad_()
    param.grad = torch.from_numpy(g.copy())
    if name == "SGD momentum":
        opt = torch.optim.SGD([param], lr=LR, momentum=MOMENTUM)
    elif name == "RMSprop":
        opt = torch.optim.RMSprop([param], lr=LR)
    else:
        opt = torch.optim.Adam([param], lr=LR)
    return param, opt


def numpy_optimizer_step(name, p, g):
    """A step callable updating ``p`` in place with the multi-pass NumPy update."""
    state = [np.zeros_like(p), np.zeros_like(p)]
    count = [0]

    def step():
        count[0] += 1
        if name == "SGD momentum":
            ref.sgd_momentum_numpy(p, g, state[0], LR, MOMENTUM)
        elif name == "RMSprop":
            ref.rmsprop_numpy(p, g, state[0], LR)
        else:
            ref.adam_numpy(p, g, state[0], state[1], count[0], LR)

    return step


def numpy_after_two_steps(name, p, g):
    """The parameter after two reference steps: the second step exercises the state."""
    p = p.copy()
    step = numpy_optimizer_step(name, p, g)
    step()
    step()
    return p


def _optimizer(name, n, impl):
    p, g = optimizer_arrays(n)
    expected = numpy_after_two_steps(name, p, g)
    if impl == "sorix":
        param, opt = sorix_optimizer(name, p, g)
        step = opt.step
        step()
        step()
        ref.assert_close(param.data, expected, f"sorix {name} parameter")
    elif impl == "numpy":
        p = p.copy()
        step = numpy_optimizer_step(name, p, g)
    elif impl == "torch":
        torch = _torch()
        param, opt = torch_optimizer(torch, name, p, g)
        step = opt.step
        step()
        step()
        ref.assert_close(param.detach().numpy(), expected, f"torch {name} parameter")
    else:
        p = p.copy()
        if name == "Adam":
            m, v = np.zeros_like(p), np.zeros_like(p)

            def step():
                ref.floor_read4_write3(p, g, m, v)
        else:
            state = np.zeros_like(p)

            def step():
                ref.floor_read3_write2(p, g, state)
    return _warm(step)


# ---- the MNIST benchmark network ---------------------------------------------------------

def sorix_mnist(p_drop=0.2, seed=ref.SEED):
    """(model, loss_fn, optimizer) in sorix with the reference's initial weights.

    Raises Unavailable when sorix.nn cannot be imported yet.
    """
    import sorix
    from sorix.optim import RMSprop
    try:
        from sorix import nn
        # an empty sorix/nn folder imports as a namespace package: check the names too
        Sequential, Linear, BatchNorm1d, ReLU, Dropout, CrossEntropyLoss = (
            nn.Sequential, nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Dropout, nn.CrossEntropyLoss)
    except (ImportError, AttributeError) as exc:
        raise Unavailable(f"sorix.nn is not available yet ({exc})") from None
    model = Sequential(Linear(784, 128, bias=False), BatchNorm1d(128), ReLU(),
                       Linear(128, 64), ReLU(), Dropout(p_drop), Linear(64, 10))
    params = ref.mnist_init(seed)
    with sorix.no_grad():
        model[0].W.data[...] = params["W1"]
        model[1].gamma.data[...] = params["gamma"]
        model[1].beta.data[...] = params["beta"]
        model[3].W.data[...] = params["W2"]
        model[3].b.data[...] = params["b2"]
        model[6].W.data[...] = params["W3"]
        model[6].b.data[...] = params["b3"]
    model.train()
    return model, CrossEntropyLoss(), RMSprop(model.parameters(), lr=ref.MNIST_LR)


def sorix_mnist_grads(model):
    def g(t):
        return t.grad.data
    return {"W1": g(model[0].W), "gamma": g(model[1].gamma), "beta": g(model[1].beta),
            "W2": g(model[3].W), "b2": g(model[3].b), "W3": g(model[6].W), "b3": g(model[6].b)}


def check_mnist_grads(loss, grads, who):
    """Compare one forward+backward (dropout off) with the NumPy reference."""
    params = ref.mnist_init()
    x, labels = ref.mnist_batch()
    want_loss, want = ref.mnist_loss_and_grads(params, x, labels)
    ref.assert_close(loss, want_loss, f"{who} MNIST loss", rtol=1e-4)
    for k, v in want.items():
        # gradients of matmul chains in float32: relative to the largest entry
        ref.assert_close(grads[k], v, f"{who} MNIST grad {k}", rtol=1e-3,
                         atol=1e-4 * float(np.abs(v).max()))


def sorix_mnist_step(p_drop=0.2):
    """A validated training-step callable: zero_grad, forward, loss, backward, step."""
    import sorix
    model, loss_fn, opt = sorix_mnist(0.0)
    xd, labels = ref.mnist_batch()
    loss = loss_fn(model(sorix.tensor(xd)), sorix.tensor(labels))
    opt.zero_grad()
    loss.backward()
    check_mnist_grads(float(loss.item()), sorix_mnist_grads(model), "sorix")

    model, loss_fn, opt = sorix_mnist(p_drop)
    batches = [(sorix.tensor(xd), sorix.tensor(labels)) for xd, labels in ref.mnist_pool()]
    return _warm(_training_step(model, loss_fn, opt, batches))


def _training_step(model, loss_fn, opt, batches):
    """One training step per call, cycling through ``batches``; the same code drives
    sorix and PyTorch, whose module and optimizer APIs agree."""
    count = [0]

    def step():
        x, y = batches[count[0] % len(batches)]
        count[0] += 1
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def torch_mnist_step(torch, p_drop=0.2):
    params = ref.mnist_init()
    xd, labels = ref.mnist_batch()
    x, y = torch.from_numpy(xd), torch.from_numpy(labels)
    loss_fn = torch.nn.CrossEntropyLoss()
    model = ref.mnist_torch_model(torch, params, 0.0).train()
    loss = loss_fn(model(x), y)
    loss.backward()
    check_mnist_grads(loss.item(), ref.mnist_torch_grads(model), "torch")

    model = ref.mnist_torch_model(torch, params, p_drop).train()
    opt = torch.optim.RMSprop(model.parameters(), lr=ref.MNIST_LR)
    batches = [(torch.from_numpy(xd), torch.from_numpy(labels)) for xd, labels in ref.mnist_pool()]
    return _warm(_training_step(model, loss_fn, opt, batches))


def _mnist(impl):
    if impl == "sorix":
        return sorix_mnist_step()
    if impl == "numpy":
        return _warm(ref.mnist_numpy_trainer())
    if impl == "torch":
        return torch_mnist_step(_torch())
    raise Unavailable("no memory floor for a network")


# ---- matmul ---------------------------------------------------------------------------

def matmul_inputs(m, k, n):
    return ref.random32((m, k)), ref.random32((k, n), seed=ref.SEED + 1), \
        ref.random32((m, n), seed=ref.SEED + 2)


def _matmul(size, impl):
    a, b, g = matmul_inputs(size, size, size)
    out, ga, gb = ref.matmul_numpy(a, b, g)
    if impl == "sorix":
        import sorix
        ta = sorix.tensor(a, requires_grad=True)
        tb = sorix.tensor(b, requires_grad=True)
        tg = sorix.tensor(g)

        def step():
            ta.grad = tb.grad = None
            y = ta @ tb
            y.backward(tg)
            return y.data, ta.grad.data, tb.grad.data
    elif impl == "numpy":
        def step():
            return ref.matmul_numpy(a, b, g)
    elif impl == "torch":
        torch = _torch()
        ta = torch.from_numpy(a).requires_grad_()
        tb = torch.from_numpy(b).requires_grad_()
        tg = torch.from_numpy(g)

        def step():
            ta.grad = tb.grad = None
            y = ta @ tb
            y.backward(tg)
            return y.detach().numpy(), ta.grad.numpy(), tb.grad.numpy()
    else:
        raise Unavailable("matmul is compute-bound: no memory floor")
    got = step()
    for name, have, want in zip(("out", "a.grad", "b.grad"), got, (out, ga, gb)):
        ref.assert_close(have, want, f"{impl} matmul {name}", rtol=1e-3, atol=1e-3)
    return _warm(step)


# ---- k-means: one Lloyd iteration -----------------------------------------------------------

_kmeans_data = {}


def _kmeans(impl):
    """One Lloyd iteration from the same centroids at n=1e6, d=16, k=32, float32.

    sorix and scikit-learn run their fit with one iteration: assign, update,
    then label the points for the new centroids. The published Sorix runs
    one pass of its fit loop (assign and update, not the final labelling):
    less work, so its ratio understates sorix's lead.
    """
    if not _kmeans_data:  # the reference takes seconds: once for every implementation
        x, c0 = ref.kmeans_inputs()
        _kmeans_data.update(x=x, c0=c0, want=ref.kmeans_iteration_numpy(x, c0))
    x, c0, want = _kmeans_data["x"], _kmeans_data["c0"], _kmeans_data["want"]
    k = len(c0)
    if impl == "sorix":
        import sorix
        from sorix.clustering import Kmeans
        data = sorix.tensor(x)

        def step():
            return Kmeans(k, init=c0).fit(data, max_iters=1, eps=0.0)
        model = step()
        ref.check_kmeans("sorix", model.centroids.numpy(), model.labels.numpy(), want,
                         inertia=model.get_inertia(data))
    elif impl == "sklearn":
        try:
            from sklearn.cluster import KMeans
        except ImportError:
            raise Unavailable("scikit-learn is not installed") from None

        def step():
            return KMeans(k, init=c0, n_init=1, max_iter=1, tol=0.0, algorithm="lloyd").fit(x)
        model = step()
        ref.check_kmeans("scikit-learn", model.cluster_centers_, model.labels_, want,
                         inertia=model.inertia_)
    else:  # the published Sorix
        from . import published_sorix
        try:
            worker = published_sorix.Worker(x, c0)
        except FileNotFoundError as why:
            raise Unavailable(str(why)) from None
        step = worker.step
        step()
        centroids, labels = worker.result()
        ref.check_kmeans(f"Sorix {published_sorix.VERSION}", centroids, labels, want,
                         labels_key="labels0")
    return _warm(step, 1)


# ---- convolution (conv_cases.py) --------------------------------------------------------------

def _conv(case, impl):
    from . import conv_cases  # (it imports this module: loaded on first use)
    return conv_cases.build(case, impl)


def _sequence(case, impl):
    from . import sequence_cases  # (it imports this module too: loaded on first use)
    return sequence_cases.build(case, impl)


# ---- the case table ---------------------------------------------------------------------
# name -> (builder(impl), calls of the case per step callable[, implementations]). The
# example callable runs 10 epochs; the table reports it per iteration. Without a list of
# implementations a case has sorix, numpy, torch and (where its builder has one) floor.

CASES = {
    "example loop (per iteration)": (_example, 10),
    "example loop, tensors built once (per iteration)": (_example_built_once, 1),
    "elementwise chain 1e6": (_chain, 1),
    "RMSprop step 1e6": (lambda impl: _optimizer("RMSprop", 10**6, impl), 1),
    "RMSprop step 1e7": (lambda impl: _optimizer("RMSprop", 10**7, impl), 1),
    "SGD momentum step 1e6": (lambda impl: _optimizer("SGD momentum", 10**6, impl), 1),
    "Adam step 1e6": (lambda impl: _optimizer("Adam", 10**6, impl), 1),
    "MNIST-net training step": (_mnist, 1),
    "matmul 512 fwd+bwd": (lambda impl: _matmul(512, impl), 1),
    "Conv2d 64x1x28x28 -> 32, 3x3 fwd+bwd": (lambda impl: _conv("conv2d", impl), 1),
    "Conv2d 64x1x28x28 -> 32, 3x3 fwd+bwd, input grad too":
        (lambda impl: _conv("conv2d input grad", impl), 1),
    "LeNet training step (batch 64)": (lambda impl: _conv("lenet", impl), 1),
    "LSTM 2 layers, 50 steps, batch 16, 32 -> 64, fwd+bwd":
        (lambda impl: _sequence("lstm", impl), 1),
    "MultiheadAttention batch 16, 32 tokens, 64 wide, 4 heads, fwd+bwd":
        (lambda impl: _sequence("mha", impl), 1),
    "k-means Lloyd iteration 1e6x16, k=32": (_kmeans, 1, ("sorix", "sklearn", "published")),
}
CASES["LayerNorm 4096x1024 fwd+bwd"] = (lambda impl: layer_norm_case.build(impl), 1)
CASES["BatchNorm2d 64x32x28x28 fwd+bwd"] = (lambda impl: batch_norm_case.build(impl), 1)

CLASSIC = ("sorix", "numpy", "torch", "floor")


def build(case, impl):
    builder, _, *listed = CASES[case]
    if impl not in (listed[0] if listed else CLASSIC):
        raise NotApplicable(f"{case} has no {impl} implementation")
    return builder(impl)


# ---- timing ---------------------------------------------------------------------------

def _sampler(step):
    """``sample(count)``: seconds for ``count`` calls. A worker process
    (:class:`benchmarks.isolation.Isolated`) has its own; a local step is timed here."""
    if hasattr(step, "sample"):
        return step.sample
    from .isolation import timed_calls
    return lambda count: timed_calls(step, count)


def interleaved_samples(steps, rounds=7, target_s=0.05):
    """Seconds per call of each step in ``steps`` (a dict of callables, or of
    :class:`~benchmarks.isolation.Isolated` workers), one sample per round.

    Round-robin: each round times every step once, in an order that rotates
    from round to round, so drift on a shared machine (frequency, neighbours)
    hits all implementations alike. The garbage collector is off inside a
    sample, as in timeit.
    """
    names = list(steps)
    samplers = {name: _sampler(steps[name]) for name in names}
    # calls per sample: about target_s seconds' worth, judged from one call
    calls = {name: max(1, int(target_s / max(samplers[name](1), 1e-7))) for name in names}
    samples = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            samples[name].append(samplers[name](calls[name]) / calls[name])
    return samples


def medians(samples):
    return {name: statistics.median(s) for name, s in samples.items()}


def paired_ratio(samples, a, b):
    """Median over rounds of a's time / b's time in the same round.

    On a shared machine, slow phases last seconds and cover several rounds;
    both sides of a per-round ratio live through the same phase, so this is
    steadier than the ratio of the two medians.
    """
    return statistics.median(x / y for x, y in zip(samples[a], samples[b]))
