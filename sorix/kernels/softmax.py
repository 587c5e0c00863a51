"""Softmax, log-softmax and softmax cross-entropy over the rows of a contiguous (R, C)
array.

Rows are independent, so every kernel is threaded over rows, and each reads a row
from memory once (its further passes over the row hit the cache).

The module is compiled per dtype (it lists ``SCALAR_HELPERS``; see
:func:`sorix.kernels.build.jit_kernel`): ``exp`` is the elementwise kernels' exp
for the data's dtype, which for float32 is a polynomial that LLVM vectorises
where libm's expf is a call per element, and ``DTYPE`` is the data's scalar
type, so that a per-row factor computed in float64 enters a float32 loop as one
float32 multiplier. Row maxima are kept in ``LANES`` running maxima, one per
vector lane (a maximum does not depend on the order it is taken in); row sums
are the helpers listed in ``REASSOCIATE``, whose additions LLVM may reorder into
vector lanes, in float64.

Special values follow the textbook formula, as PyTorch does: a row holding a NaN
or +inf gives NaN throughout (exp(NaN) or exp(inf - inf) enters its sum), a row
of -inf alone gives NaN, and -inf entries beside finite ones have probability 0.
"""
import math

import numpy as np

from .scalar import exp  # noqa: F401  (rebound per dtype when a kernel is compiled)

prange = range  # numba's prange is bound when a kernel is compiled
DTYPE = np.float64  # the data's scalar type: rebound per dtype when a kernel is compiled

#: The scalar helpers the kernels call, compiled for the data's dtype.
SCALAR_HELPERS = ("exp",)

#: Running maxima per row maximum: one per float32 lane of a 256-bit vector.
LANES = 8

# ---- row helpers ------------------------------------------------------------------------

def max_of_row(x, i):
    """max_j x[i, j] of a row of at least one value, in LANES running maxima."""
    c = x.shape[1]
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = x[i, 0]
    j = 0
    while j + LANES <= c:
        m0 = max(m0, x[i, j])
        m1 = max(m1, x[i, j + 1])
        m2 = max(m2, x[i, j + 2])
        m3 = max(m3, x[i, j + 3])
        m4 = max(m4, x[i, j + 4])
        m5 = max(m5, x[i, j + 5])
        m6 = max(m6, x[i, j + 6])
        m7 = max(m7, x[i, j + 7])
        j += LANES
    m = max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))
    for k in range(j, c):
        m = max(m, x[i, k])
    return m


def exp_row(x, i, m, buf):
    """buf[j] = exp(x[i, j] - m) in the data's dtype; returns their sum in float64.

    Two loops, not one: a float64 sum in the exp's loop would make LLVM run it all,
    exp included, in float64's half-width vectors (twice the time), and a float32
    sum of a row's terms loses the digits that log-softmax and the cross-entropy
    gradient of a confident row need (log(1 + e) for a small e).
    """
    for j in range(x.shape[1]):
        buf[j] = exp(x[i, j] - m)
    return vector_sum(buf)


def vector_sum(a):
    """sum_j a[j], in float64."""
    s = 0.0
    for j in range(a.size):
        s += a[j]
    return s


def row_sum(a, i):
    """sum_j a[i, j], in float64."""
    s = 0.0
    for j in range(a.shape[1]):
        s += a[i, j]
    return s


def row_dot(a, b, i):
    """sum_j a[i, j] b[i, j], in float64."""
    s = 0.0
    for j in range(a.shape[1]):
        s += np.float64(a[i, j]) * b[i, j]
    return s


def weighted_row_sum(probs, class_weight, i):
    """sum_c w_c t_ic, in float64 (``class_weight`` empty: w_c = 1)."""
    if class_weight.size == 0:
        return row_sum(probs, i)
    s = 0.0
    for j in range(probs.shape[1]):
        s += np.float64(probs[i, j]) * class_weight[j]
    return s


def target_log_loss(logits, probs, class_weight, i, m, shift):
    """sum_c w_c t_ic ((m - x_ic) + shift): -sum_c w_c t_ic log softmax(x_i)_c, in
    float64, where every difference m - x is exact for float32 logits."""
    s = 0.0
    weighted = class_weight.size > 0
    for j in range(logits.shape[1]):
        t = np.float64(probs[i, j] * class_weight[j] if weighted else probs[i, j])
        s += t * ((m - logits[i, j]) + shift)
    return s


#: Helpers above whose float sums may be reordered (compiled with
#: config.REASSOCIATE_OPTIONS), and the others the kernels call.
REASSOCIATE = ("vector_sum", "row_sum", "row_dot", "weighted_row_sum",
               "target_log_loss")
JIT_HELPERS = ("max_of_row", "exp_row", "row_shift")


# ---- softmax and log-softmax ------------------------------------------------------------

def softmax_forward(x, out):
    """out_ij = exp(x_ij - m_i) / sum_k exp(x_ik - m_i), m_i the row's maximum."""
    rows, cols = x.shape
    for i in prange(rows):
        if cols == 0:
            continue
        m = max_of_row(x, i)
        r = DTYPE(1.0 / exp_row(x, i, m, out[i]))
        for j in range(cols):
            out[i, j] = out[i, j] * r


def log_softmax_forward(x, out):
    """out_ij = (x_ij - m_i) - log sum_k exp(x_ik - m_i)."""
    rows, cols = x.shape
    for i in prange(rows):
        if cols == 0:
            continue
        m = max_of_row(x, i)
        shift = DTYPE(math.log(exp_row(x, i, m, out[i])))  # (out: scratch)
        for j in range(cols):
            out[i, j] = (x[i, j] - m) - shift


def softmax_backward(g, y, out):
    """out_ij = y_ij (g_ij - sum_k g_ik y_ik): the gradient of softmax with output y."""
    rows, cols = y.shape
    for i in prange(rows):
        dot = DTYPE(row_dot(g, y, i))
        for j in range(cols):
            out[i, j] = y[i, j] * (g[i, j] - dot)


def log_softmax_backward(g, y, out):
    """out_ij = g_ij - exp(y_ij) sum_k g_ik: the gradient of log-softmax with output y."""
    rows, cols = y.shape
    for i in prange(rows):
        total = DTYPE(row_sum(g, i))
        for j in range(cols):
            out[i, j] = g[i, j] - exp(y[i, j]) * total


# ---- softmax cross-entropy over (N, C) logits ----------------------------------------------
# Forward keeps, per row, the row max m_i (in the data's dtype) and log_norm_i =
# log sum_c exp(x_ic - m_i) (in float64), so that backward needs no second max/sum
# pass: p_ic = exp(x_ic - m_i) exp(-log_norm_i). Keeping m_i apart instead of one
# lse_i = m_i + log_norm_i matters at large logits: at x ~ 1e4 a float32 lse_i has
# lost the third decimal of log_norm_i, and at 1e7 all of it. The loss itself takes
# every difference m - x in float64, where it is exact for float32 logits.

def row_shift(logits, i, row_max, log_norm):
    """Store m_i (the row max) and log sum_c exp(x_ic - m_i) (float64) for row i."""
    m = max_of_row(logits, i)
    row_max[i] = m
    log_norm[i] = math.log(exp_row(logits, i, m, np.empty(logits.shape[1], DTYPE)))


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
    """out_ic = (p_ic - [c = t_i]) * s_i with p_ic = exp(x_ic - m_i) exp(-log_norm_i).

    ``s_i`` = upstream * w_i / normaliser; rows with s_i = 0 get zeros. The target's
    entry is computed in float64: p - 1 keeps its digits when p is near 1.
    """
    n, c = logits.shape
    for i in prange(n):
        s = row_scale[i]
        if s == zero:
            for j in range(c):
                out[i, j] = zero
            continue
        m = row_max[i]
        shift = log_norm[i]
        factor = DTYPE(math.exp(-shift) * s)
        for j in range(c):
            out[i, j] = exp(logits[i, j] - m) * factor
        t = target[i]
        p = math.exp((np.float64(logits[i, t]) - np.float64(m)) - shift)
        out[i, t] = (p - 1.0) * s


def ce_probs_forward(logits, probs, class_weight, zero, row_max, log_norm, loss):
    """loss_i = sum_c w_c t_ic ((m_i - x_ic) + log_norm_i); ``class_weight`` empty means
    w_c = 1."""
    n = logits.shape[0]
    for i in prange(n):
        row_shift(logits, i, row_max, log_norm)
        loss[i] = target_log_loss(logits, probs, class_weight, i, np.float64(row_max[i]),
                                  log_norm[i])


def ce_probs_backward(logits, row_max, log_norm, probs, class_weight, row_scale, zero, out):
    """out_ic = (p_ic * sum_k w_k t_ik - w_c t_ic) * s_i.

    With targets that sum to one and no weights this is the familiar
    softmax minus target.
    """
    n, c = logits.shape
    weighted = class_weight.size > 0
    for i in prange(n):
        s = row_scale[i]
        m = row_max[i]
        factor = DTYPE(math.exp(-log_norm[i]) * weighted_row_sum(probs, class_weight, i) * s)
        for j in range(c):
            t = probs[i, j] * class_weight[j] if weighted else probs[i, j]
            out[i, j] = exp(logits[i, j] - m) * factor - t * s
