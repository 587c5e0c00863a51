"""Fused loss kernels: each forward and each backward is one pass over memory.

Arrays are contiguous and share one float dtype; the scalars ``zero``
and ``scale`` are passed in that dtype, so float32 losses are
computed in float32 (a Python ``0.0`` literal would be float64 in numba
and drag the arithmetic with it). Whole-batch sums accumulate in float64
on purpose: that is one rounding per element instead of a drift that
grows with the batch, and it costs nothing in a memory-bound loop.

``upstream`` is the gradient arriving from above: one element for the
'mean' and 'sum' reductions, one per loss element for 'none'.
"""
import numpy as np

from .scalar import exp, log1p, sigmoid  # noqa: F401  (rebound per dtype when a kernel is compiled)

prange = range  # numba's prange is bound when a kernel is compiled

#: The scalar helpers the kernels call, compiled for the data's dtype (see
#: :func:`sorix.kernels.build.jit_kernel`): float32's exp, log1p and sigmoid vectorise.
SCALAR_HELPERS = ("exp", "log1p", "sigmoid")

#: Whole-batch sums add blocks of this many elements, each in order, then the block
#: sums in order: the result is the same serial or threaded, on any number of threads.
SUM_BLOCK = 4096


# ---- mean squared error: l_i = (x_i - t_i)^2 -------------------------------

def mse_sum(pred, target):
    """sum_i (pred_i - target_i)^2, accumulated in float64 (in blocks: see SUM_BLOCK)."""
    n = pred.size
    blocks = (n + SUM_BLOCK - 1) // SUM_BLOCK
    partial = np.empty(blocks, np.float64)
    for b in prange(blocks):
        s = 0.0
        for i in range(b * SUM_BLOCK, min(n, (b + 1) * SUM_BLOCK)):
            d = pred[i] - target[i]
            s += d * d
        partial[b] = s
    total = 0.0
    for b in range(blocks):
        total += partial[b]
    return total


def mse_each(pred, target, out):
    """out_i = (pred_i - target_i)^2."""
    for i in prange(pred.size):
        d = pred[i] - target[i]
        out[i] = d * d


def mse_grad(pred, target, upstream, scale, out):
    """out_i = scale * upstream_i * (pred_i - target_i), with scale = 2 or 2/n."""
    if upstream.size == 1:
        s = scale * upstream[0]
        for i in prange(pred.size):
            out[i] = s * (pred[i] - target[i])
    else:
        for i in prange(pred.size):
            out[i] = scale * upstream[i] * (pred[i] - target[i])


# ---- binary cross-entropy on logits ------------------------------------------
# l = max(x, 0) - x y + log(1 + exp(-|x|)): never exponentiates a large
# positive number, and log1p keeps precision when exp(-|x|) is tiny.

def bce_sum(logits, target, zero):
    """sum_i max(x_i, 0) - x_i y_i + log1p(exp(-|x_i|)), accumulated in float64
    (in blocks: see SUM_BLOCK)."""
    n = logits.size
    blocks = (n + SUM_BLOCK - 1) // SUM_BLOCK
    partial = np.empty(blocks, np.float64)
    for b in prange(blocks):
        s = 0.0
        for i in range(b * SUM_BLOCK, min(n, (b + 1) * SUM_BLOCK)):
            x = logits[i]
            positive = x if x > zero else zero
            s += positive - x * target[i] + log1p(exp(-abs(x)))
        partial[b] = s
    total = 0.0
    for b in range(blocks):
        total += partial[b]
    return total


def bce_each(logits, target, zero, out):
    """out_i = max(x_i, 0) - x_i y_i + log1p(exp(-|x_i|))."""
    for i in prange(logits.size):
        x = logits[i]
        positive = x if x > zero else zero
        out[i] = positive - x * target[i] + log1p(exp(-abs(x)))


def bce_grad(logits, target, upstream, scale, out):
    """out_i = scale * upstream_i * (sigmoid(x_i) - y_i), scale = 1 or 1/n.

    The sigmoid is evaluated without overflow (see :func:`sorix.kernels.scalar.sigmoid`).
    """
    single = upstream.size == 1
    for i in prange(logits.size):
        g = upstream[0] if single else upstream[i]
        out[i] = scale * g * (sigmoid(logits[i]) - target[i])
