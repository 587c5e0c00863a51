"""Fused loss kernels: each forward and each backward is one pass over memory.

Arrays are contiguous and share one float dtype; the scalars ``zero``,
``one`` and ``scale`` are passed in that dtype, so float32 losses are
computed in float32 (a Python ``0.0`` literal would be float64 in numba
and drag the arithmetic with it). Whole-batch sums accumulate in float64
on purpose: that is one rounding per element instead of a drift that
grows with the batch, and it costs nothing in a memory-bound loop.

``upstream`` is the gradient arriving from above: one element for the
'mean' and 'sum' reductions, one per loss element for 'none'.
"""
import math

import numpy as np

prange = range  # numba's prange is bound when a kernel is compiled

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
            s += positive - x * target[i] + math.log1p(math.exp(-abs(x)))
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
        out[i] = positive - x * target[i] + math.log1p(math.exp(-abs(x)))


def bce_grad(logits, target, upstream, scale, zero, one, out):
    """out_i = scale * upstream_i * (sigmoid(x_i) - y_i), scale = 1 or 1/n.

    The sigmoid is evaluated on the side where exp cannot overflow.
    """
    single = upstream.size == 1
    for i in prange(logits.size):
        x = logits[i]
        if x >= zero:
            s = one / (one + math.exp(-x))
        else:
            e = math.exp(x)
            s = e / (one + e)
        g = upstream[0] if single else upstream[i]
        out[i] = scale * g * (s - target[i])


# ---- softmax cross-entropy over the last axis of (N, C) logits ----------------
# Forward keeps, per row, the row max m_i and log_norm_i = log sum_c exp(x_ic - m_i)
# (in float64), so that backward needs no second max/sum pass:
# p_ic = exp((x_ic - m_i) - log_norm_i). Keeping m_i apart instead of one
# lse_i = m_i + log_norm_i matters at large logits: at x ~ 1e4 a float32 lse_i
# has lost the third decimal of log_norm_i, and at 1e7 all of it. Every
# difference x - m is taken in float64, where it is exact for float32 logits.

def row_shift(logits, i, row_max, log_norm):
    """Store m_i (the row max) and log sum_c exp(x_ic - m_i) (float64) for row i."""
    c = logits.shape[1]
    m = logits[i, 0]
    for j in range(1, c):
        if logits[i, j] > m:
            m = logits[i, j]
    m64 = np.float64(m)
    s = 0.0
    for j in range(c):
        s += math.exp(np.float64(logits[i, j]) - m64)
    row_max[i] = m
    log_norm[i] = math.log(s)


#: Functions above that the kernels call: compiled alongside them (see build.jit_kernel).
JIT_HELPERS = ("row_shift",)


def ce_index_forward(logits, target, row_weight, zero, row_max, log_norm, loss):
    """loss_i = w_i ((m_i - x_{i, t_i}) + log_norm_i); ``row_weight`` empty means w_i = 1.

    Rows with w_i = 0 (ignored targets) read no target and give 0.
    """
    n = logits.shape[0]
    weighted = row_weight.size > 0
    for i in prange(n):
        row_shift(logits, i, row_max, log_norm)
        w = row_weight[i] if weighted else zero
        if weighted and w == zero:
            loss[i] = zero
            continue
        value = (np.float64(row_max[i]) - np.float64(logits[i, target[i]])) + log_norm[i]
        loss[i] = value * w if weighted else value


def ce_index_backward(logits, row_max, log_norm, target, row_scale, zero, out):
    """out_ic = (p_ic - [c = t_i]) * s_i with p_ic = exp((x_ic - m_i) - log_norm_i).

    ``s_i`` = upstream * w_i / normaliser; rows with s_i = 0 get zeros.
    """
    n, c = logits.shape
    for i in prange(n):
        s = row_scale[i]
        if s == zero:
            for j in range(c):
                out[i, j] = zero
            continue
        m64 = np.float64(row_max[i])
        shift = log_norm[i]
        t = target[i]
        for j in range(c):
            p = math.exp((np.float64(logits[i, j]) - m64) - shift)
            if j == t:
                p -= 1.0  # before rounding: p - 1 keeps its digits when p is near 1
            out[i, j] = p * s


def ce_probs_forward(logits, probs, class_weight, zero, row_max, log_norm, loss):
    """loss_i = sum_c w_c t_ic ((m_i - x_ic) + log_norm_i); ``class_weight`` empty means
    w_c = 1."""
    n, c = logits.shape
    weighted = class_weight.size > 0
    for i in prange(n):
        row_shift(logits, i, row_max, log_norm)
        m64 = np.float64(row_max[i])
        shift = log_norm[i]
        acc = 0.0
        for j in range(c):
            t = probs[i, j] * class_weight[j] if weighted else probs[i, j]
            acc += t * ((m64 - np.float64(logits[i, j])) + shift)
        loss[i] = acc


def ce_probs_backward(logits, row_max, log_norm, probs, class_weight, row_scale, zero, out):
    """out_ic = (p_ic * sum_k w_k t_ik - w_c t_ic) * s_i.

    With targets that sum to one and no weights this is the familiar
    softmax minus target.
    """
    n, c = logits.shape
    weighted = class_weight.size > 0
    for i in prange(n):
        total = 0.0
        for j in range(c):
            total += probs[i, j] * class_weight[j] if weighted else probs[i, j]
        m64 = np.float64(row_max[i])
        shift = log_norm[i]
        s = row_scale[i]
        for j in range(c):
            t = probs[i, j] * class_weight[j] if weighted else probs[i, j]
            p = math.exp((np.float64(logits[i, j]) - m64) - shift)
            out[i, j] = (p * total - t) * s
