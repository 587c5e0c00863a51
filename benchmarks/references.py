"""What sorix is measured against: NumPy, PyTorch and the memory floor.

Plain functions on arrays, shared by the asv benchmarks (to validate
sorix's results and to compute track_ ratios) and by compare.py.

- NumPy references are written multi-pass, the way a NumPy autograd
  library executes them: every operation is its own pass with its own
  temporary array, and backward is a second series of passes.
- PyTorch (optional) runs on the CPU with numba's thread count, so both
  libraries get the same cores.
- The memory floor is one threaded numba pass that reads and writes
  exactly the arrays a fully fused implementation must touch and does no
  arithmetic: the time of moving those bytes, which nothing can beat.
"""
import numpy as np
from numba import get_num_threads, njit, prange

SIZES = [10**3, 10**4, 10**5, 10**6, 10**7]
OPTIMIZER_SIZES = [10**4, 10**5, 10**6, 10**7]
SEED = 0

# Tolerances for float32 results of a fused kernel against a multi-pass
# NumPy reference: the two round differently in the last bits.
RTOL = 1e-4
ATOL = 1e-6


def random32(shape, low=-1.0, high=1.0, seed=SEED):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def assert_close(actual, expected, what, rtol=RTOL, atol=ATOL):
    """Raise with the name of the quantity when ``actual`` differs from the reference."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape}, reference {expected.shape}")
    if not np.allclose(actual, expected, rtol=rtol, atol=atol):
        worst = np.max(np.abs(actual.astype(np.float64) - expected))
        raise AssertionError(f"{what}: differs from the NumPy reference (max abs error {worst:g})")


def assert_normalisation_close(got, want, who, label):
    """A normalisation case's (y, x.grad, weight.grad, bias.grad) against its float64
    reference. The parameter gradients sum many rows: their tolerance is relative to
    their largest entry."""
    for name, have, expected in zip(("y", "x.grad", "weight.grad", "bias.grad"), got, want):
        scale = float(np.abs(expected).max())
        assert_close(have, expected, f"{who} {label} {name}", rtol=1e-4,
                     atol=1e-5 * max(scale, 1.0))


def threads():
    """The thread count numba uses; every threaded implementation gets the same."""
    return get_num_threads()


def load_torch():
    """PyTorch limited to numba's thread count, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads())
    return torch


# ---- elementwise ops: (forward(x, w), backward(g, x, w, out) -> (gx, gw)) ----------
# Binary ops use w as their second operand; unary ops ignore it (gw is None).
# Inputs: x uniform in [-1, 1], w uniform in [0.5, 1.5] (a safe divisor).

def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


CLAMP_LOW, CLAMP_HIGH = -0.5, 0.5

ELEMENTWISE = {
    "add": (lambda x, w: x + w, lambda g, x, w, out: (g.copy(), g.copy())),
    "mul": (lambda x, w: x * w, lambda g, x, w, out: (g * w, g * x)),
    "div": (lambda x, w: x / w, lambda g, x, w, out: (g / w, -g * x / (w * w))),
    "exp": (lambda x, w: np.exp(x), lambda g, x, w, out: (g * out, None)),
    "tanh": (lambda x, w: np.tanh(x), lambda g, x, w, out: (g * (1 - out * out), None)),
    "sigmoid": (lambda x, w: _sigmoid(x), lambda g, x, w, out: (g * out * (1 - out), None)),
    "relu": (lambda x, w: np.maximum(x, 0), lambda g, x, w, out: (g * (x > 0), None)),
    "abs": (lambda x, w: np.abs(x), lambda g, x, w, out: (g * np.sign(x), None)),
    "clamp": (lambda x, w: np.clip(x, CLAMP_LOW, CLAMP_HIGH),
              lambda g, x, w, out: (g * ((x >= CLAMP_LOW) & (x <= CLAMP_HIGH)), None)),
}


def elementwise_numpy(op, x, w, g):
    """(out, gx, gw) of one elementwise op: forward, then backward from ``g``."""
    forward, backward = ELEMENTWISE[op]
    out = forward(x, w)
    gx, gw = backward(g, x, w, out)
    return out, gx, gw


def reduction_numpy(op, x):
    """(out, gx) of a full reduction and its gradient."""
    if op == "sum":
        return x.sum(), np.ones_like(x)
    if op == "mean":
        return x.mean(), np.full_like(x, 1 / x.size)
    top = x.max()
    ties = x == top
    return top, ties / ties.sum()  # the gradient is shared among tied maxima (PyTorch)


def matmul_numpy(a, b, g):
    """(out, ga, gb) of ``a @ b`` with output gradient ``g``."""
    return a @ b, g @ b.T, a.T @ g


# ---- the elementwise chain ((x.tanh() * w).sigmoid() + x * x).sum() ------------------

def chain_numpy(x, w):
    """(loss, gx, gw), one pass per operation forward and backward."""
    t = np.tanh(x)
    u = t * w
    s = 1 / (1 + np.exp(-u))
    sq = x * x
    out = s + sq
    loss = out.sum()
    g = np.ones_like(out)           # d loss / d out, materialised as a library does
    gs = g * s * (1 - s)            # through sigmoid
    gt = gs * w                     # through the product, to tanh's output
    gw = gs * t
    gx = gt * (1 - t * t) + g * x + g * x   # through tanh, plus both factors of x * x
    return loss, gx, gw


def chain_torch(torch, x, w):
    loss = ((x.tanh() * w).sigmoid() + x * x).sum()
    loss.backward()
    return loss


# ---- optimizer steps, multi-pass -----------------------------------------------------

def sgd_momentum_numpy(p, g, buf, lr, momentum):
    """PyTorch's SGD with momentum and no dampening; buf starts at zero, so the first
    step leaves buf = g as PyTorch does."""
    buf *= momentum
    buf += g
    p -= lr * buf


def rmsprop_numpy(p, g, square_avg, lr, alpha=0.99, eps=1e-8):
    square_avg *= alpha
    square_avg += (1 - alpha) * g * g
    p -= lr * g / (np.sqrt(square_avg) + eps)


def adam_numpy(p, g, exp_avg, exp_avg_sq, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """PyTorch's Adam; ``step`` counts from 1."""
    exp_avg *= beta1
    exp_avg += (1 - beta1) * g
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * g * g
    step_size = lr / (1 - beta1 ** step)
    denom = np.sqrt(exp_avg_sq) / np.sqrt(1 - beta2 ** step) + eps
    p -= step_size * exp_avg / denom


# ---- the reference example (API.md): x^2 + 10 y^2 with RMSprop, lr 0.1 -----------------

EXAMPLE_EXPECTED = [
    (4.0000, 4.0000, 275.0000), (3.3734, 3.3734, 176.0000), (2.9043, 2.9043, 125.1775),
    (2.5283, 2.5283, 92.7866), (2.2157, 2.2157, 70.3128), (1.9503, 1.9503, 54.0031),
    (1.7217, 1.7217, 41.8402), (1.5230, 1.5230, 32.6073), (1.3489, 1.3489, 25.5132),
    (1.1959, 1.1959, 20.0162),
]


def check_example(history, who):
    """``history`` lists (x, y, loss) per epoch; the example prints them to 4 decimals."""
    got = [tuple(f"{v:.4f}" for v in row) for row in history]
    want = [tuple(f"{v:.4f}" for v in row) for row in EXAMPLE_EXPECTED]
    if got != want:
        raise AssertionError(f"{who}: the example printed {got}, expected {want}")


def example_numpy():
    """The example with hand-written gradients: the Python floor of the loop."""
    x = np.array([5.0], np.float32)
    y = np.array([5.0], np.float32)
    ten = np.array([10.0], np.float32)
    sq_x = np.zeros(1, np.float32)
    sq_y = np.zeros(1, np.float32)
    history = []
    for _ in range(10):
        loss = x * x + ten * y * y
        rmsprop_numpy(x, 2 * x, sq_x, 0.1)
        rmsprop_numpy(y, 2 * ten * y, sq_y, 0.1)
        history.append((x[0], y[0], loss[0]))
    return history


def example_torch(torch):
    x = torch.tensor([5.0], requires_grad=True)
    y = torch.tensor([5.0], requires_grad=True)
    optimizer = torch.optim.RMSprop([x, y], lr=0.1)
    history = []
    for _ in range(10):
        loss = x * x + torch.tensor([10.0]) * y * y
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append((x.data[0].item(), y.data[0].item(), loss.data[0].item()))
    return history


# ---- the MNIST benchmark network ---------------------------------------------------
# Linear(784,128,bias=False) BatchNorm1d(128) ReLU Linear(128,64) ReLU Dropout(p)
# Linear(64,10), CrossEntropyLoss, RMSprop(lr=1e-3), batch 128.

MNIST_BATCH, MNIST_FEATURES, MNIST_CLASSES = 128, 784, 10
MNIST_LR = 1e-3
BN_EPS = 1e-5


def mnist_batch(seed=SEED):
    """Synthetic data of MNIST's shape: float32 pixels in [0, 1) and int64 labels."""
    rng = np.random.default_rng(seed)
    x = rng.random((MNIST_BATCH, MNIST_FEATURES), dtype=np.float32)
    labels = rng.integers(0, MNIST_CLASSES, MNIST_BATCH)
    return x, labels


# Training steps cycle through this many batches: on one fixed batch the
# network memorises its random labels within a few hundred steps and the
# loss collapses to ~0, a saturated regime no real training run times.
MNIST_POOL = 32


def mnist_pool(seed=SEED):
    return [mnist_batch(seed + 100 + i) for i in range(MNIST_POOL)]


def mnist_init(seed=SEED):
    """He-initialised parameters in sorix's layout: W (in, out), b and BN's (1, F)."""
    rng = np.random.default_rng(seed + 1)

    def he(fan_in, fan_out):
        return (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in)).astype(np.float32)

    return {"W1": he(784, 128), "gamma": np.ones((1, 128), np.float32),
            "beta": np.zeros((1, 128), np.float32), "W2": he(128, 64),
            "b2": np.zeros((1, 64), np.float32), "W3": he(64, 10),
            "b3": np.zeros((1, 10), np.float32)}


def mnist_loss_and_grads(params, x, labels, keep_mask=None, p_drop=0.0):
    """Forward and backward of the network in training mode, one pass per op.

    ``keep_mask`` (bool, shape (B, 64)) selects the units dropout keeps;
    None keeps all. Returns (loss, grads) with grads keyed like ``params``.
    """
    W1, gamma, beta, W2, b2, W3, b3 = (params[k] for k in
                                       ("W1", "gamma", "beta", "W2", "b2", "W3", "b3"))
    n = x.shape[0]
    h1 = x @ W1
    mean = h1.mean(axis=0, keepdims=True)
    centred = h1 - mean
    var = (centred * centred).mean(axis=0, keepdims=True)   # biased, as BN normalises
    inv_std = 1 / np.sqrt(var + np.float32(BN_EPS))
    xhat = centred * inv_std
    bn = gamma * xhat + beta
    r1 = np.maximum(bn, 0)
    h2 = r1 @ W2 + b2
    r2 = np.maximum(h2, 0)
    scale = np.float32(1 / (1 - p_drop))
    d = r2 if keep_mask is None else r2 * keep_mask * scale
    logits = d @ W3 + b3
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    log_probs = shifted - np.log(total)
    loss = -log_probs[np.arange(n), labels].mean()

    dlogits = exp / total
    dlogits[np.arange(n), labels] -= 1
    dlogits /= n
    grads = {"W3": d.T @ dlogits, "b3": dlogits.sum(axis=0, keepdims=True)}
    dd = dlogits @ W3.T
    dr2 = dd if keep_mask is None else dd * keep_mask * scale
    dh2 = dr2 * (h2 > 0)
    grads["W2"] = r1.T @ dh2
    grads["b2"] = dh2.sum(axis=0, keepdims=True)
    dbn = (dh2 @ W2.T) * (bn > 0)
    grads["gamma"] = (dbn * xhat).sum(axis=0, keepdims=True)
    grads["beta"] = dbn.sum(axis=0, keepdims=True)
    dxhat = dbn * gamma
    dh1 = inv_std / n * (n * dxhat - dxhat.sum(axis=0, keepdims=True)
                         - xhat * (dxhat * xhat).sum(axis=0, keepdims=True))
    grads["W1"] = x.T @ dh1
    return loss, grads


def mnist_numpy_trainer(seed=SEED, p_drop=0.2):
    """A training-step callable over NumPy arrays: dropout mask, forward, backward, RMSprop."""
    params = mnist_init(seed)
    square_avgs = {k: np.zeros_like(v) for k, v in params.items()}
    batches = mnist_pool(seed)
    count = [0]
    rng = np.random.default_rng(seed + 2)

    def step():
        x, labels = batches[count[0] % MNIST_POOL]
        count[0] += 1
        keep = rng.random((x.shape[0], 64), dtype=np.float32) >= p_drop
        loss, grads = mnist_loss_and_grads(params, x, labels, keep, p_drop)
        for k, p in params.items():
            rmsprop_numpy(p, grads[k], square_avgs[k], MNIST_LR)
        return loss

    return step


def mnist_torch_model(torch, params, p_drop):
    """The network in PyTorch with ``params`` copied in (PyTorch stores W as (out, in))."""
    nn = torch.nn
    model = nn.Sequential(nn.Linear(784, 128, bias=False), nn.BatchNorm1d(128), nn.ReLU(),
                          nn.Linear(128, 64), nn.ReLU(), nn.Dropout(p_drop), nn.Linear(64, 10))
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(params["W1"].T))
        model[1].weight.copy_(torch.from_numpy(params["gamma"][0]))
        model[1].bias.copy_(torch.from_numpy(params["beta"][0]))
        model[3].weight.copy_(torch.from_numpy(params["W2"].T))
        model[3].bias.copy_(torch.from_numpy(params["b2"][0]))
        model[6].weight.copy_(torch.from_numpy(params["W3"].T))
        model[6].bias.copy_(torch.from_numpy(params["b3"][0]))
    return model


def mnist_torch_grads(model):
    """The model's gradients in sorix's layout, keyed like :func:`mnist_init`."""
    def g(t):
        return t.grad.numpy()
    return {"W1": g(model[0].weight).T, "gamma": g(model[1].weight)[None],
            "beta": g(model[1].bias)[None], "W2": g(model[3].weight).T,
            "b2": g(model[3].bias)[None], "W3": g(model[6].weight).T,
            "b3": g(model[6].bias)[None]}


# ---- memory floor kernels --------------------------------------------------------------
# Each does one threaded pass. Every value read feeds a store, so the
# compiler cannot drop a load; max() is the cheapest way to consume two
# loads in one store and costs nothing next to the memory traffic.

def _floor_jit(fn):
    """Threaded and disk-cached; without a writable cache folder (numba raises at
    decoration), compiled in memory instead, so importing the suite never fails."""
    options = dict(parallel=True, nogil=True, error_model="numpy")
    try:
        return njit(cache=True, **options)(fn)
    except RuntimeError:
        return njit(**options)(fn)


@_floor_jit
def floor_read2_write2(x, w, gx, gw):
    """Fused forward+backward of a two-input chain: read x, w; write gx, gw."""
    for i in prange(x.size):
        gx[i] = x[i]
        gw[i] = w[i]


@_floor_jit
def floor_read3_write2(p, g, state):
    """RMSprop or SGD with momentum: read p, g, state; write p, state."""
    for i in prange(p.size):
        old = p[i]
        p[i] = max(g[i], state[i])
        state[i] = old


@_floor_jit
def floor_read4_write3(p, g, exp_avg, exp_avg_sq):
    """Adam: read p, g, exp_avg, exp_avg_sq; write p, exp_avg, exp_avg_sq."""
    for i in prange(p.size):
        old = p[i]
        p[i] = max(g[i], exp_avg[i])
        exp_avg[i] = exp_avg_sq[i]
        exp_avg_sq[i] = old


# ---- k-means: one Lloyd iteration -------------------------------------------------------
# n points of d float32 features around k centres; the starting centroids are k of the
# points. One iteration assigns each point to its nearest centroid, moves each centroid
# to its points' mean, then (as sorix's and scikit-learn's fit do) labels the points
# again for the new centroids.

KMEANS_SHAPE = (10**6, 16, 32)  # n, d, k


def kmeans_inputs(n=KMEANS_SHAPE[0], d=KMEANS_SHAPE[1], k=KMEANS_SHAPE[2], seed=SEED):
    """(x, c0): float32 points in overlapping blobs, and k distinct points as centroids."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-4, 4, (k, d))
    x = (centres[rng.integers(0, k, n)] + rng.standard_normal((n, d))).astype(np.float32)
    c0 = x[rng.choice(n, k, replace=False)].copy()
    return x, c0


def kmeans_assign_numpy(x, centroids, rows=8192):
    """(labels, inertia) from float64 direct differences, a block of rows at a time."""
    c = centroids.astype(np.float64)
    labels = np.empty(len(x), np.int64)
    inertia = 0.0
    for start in range(0, len(x), rows):
        block = x[start:start + rows].astype(np.float64)
        dist = ((block[:, None, :] - c[None, :, :]) ** 2).sum(axis=-1)
        labels[start:start + rows] = dist.argmin(axis=1)
        inertia += float(dist.min(axis=1).sum())
    return labels, inertia


def kmeans_iteration_numpy(x, c0):
    """A dict: labels0 (for c0), centroids (their means; float64, an empty cluster keeps
    its centroid), labels and inertia (for the new centroids, rounded to x's dtype)."""
    labels0, _ = kmeans_assign_numpy(x, c0)
    k, d = c0.shape
    counts = np.bincount(labels0, minlength=k)
    sums = np.zeros((k, d))
    np.add.at(sums, labels0, x.astype(np.float64))
    centroids = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], c0)
    labels, inertia = kmeans_assign_numpy(x, centroids.astype(x.dtype))
    return {"labels0": labels0, "centroids": centroids, "labels": labels, "inertia": inertia}


def check_kmeans(who, centroids, labels, want, labels_key="labels", inertia=None):
    """Centroids to float32 rounding, labels equal but for the rare float32 near-tie
    (at most 1 point in 10^5), inertia to 1e-4."""
    assert_close(np.asarray(centroids, np.float64), want["centroids"], f"{who} k-means centroids",
                 rtol=1e-4, atol=1e-4)
    differ = int((np.asarray(labels) != want[labels_key]).sum())
    if differ > max(1, len(labels) // 10**5):
        raise AssertionError(f"{who} k-means: {differ} of {len(labels)} labels differ from "
                             "the NumPy reference")
    if inertia is not None:
        assert_close(inertia, want["inertia"], f"{who} k-means inertia", rtol=1e-4)
