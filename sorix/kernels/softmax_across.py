"""Softmax, log-softmax and softmax cross-entropy along an axis other than the last:
over the middle axis of a contiguous (outer, C, inner) array, each of its outer * inner
columns of C values normalised on its own (softmax over the channels of (N, C, H, W)
scores, and the cross-entropy of a class index per pixel, as segmentation takes them).

A column's values lie ``inner`` elements apart, so where the row kernels
(:mod:`sorix.kernels.softmax`) walk along one row, these take ``BLOCK``
neighbouring columns at once: every loop runs along the block, contiguous in
memory and vectorised, and the block's per-column maxima and sums sit in small
scratch arrays. Blocks are independent, so the kernels are threaded over
(outer, block) pairs. A block's C x BLOCK values are read from memory once; the
further passes over them find them in the cache.

The formulas, dtypes and special values are the row kernels': maxima in the
data's dtype, sums of exponentials and gradient dot products in float64 (in loops
of their own, so that the exp loop keeps the data's vector width), and a column
holding NaN or +inf gives NaN throughout.
"""
import math

import numpy as np

from .scalar import exp  # noqa: F401  (rebound per dtype when a kernel is compiled)

prange = range  # numba's prange is bound when a kernel is compiled
DTYPE = np.float64  # the data's scalar type: rebound per dtype when a kernel is compiled

#: The scalar helpers the kernels call, compiled for the data's dtype.
SCALAR_HELPERS = ("exp",)

#: Columns per block: 256 float32 columns of 1000 classes are 1 MB, which a core's L2
#: holds between the passes.
BLOCK = 256


# ---- block helpers ----------------------------------------------------------------------
# A block's column j = start + k is at x[o, c, start + k] and its scratch at [k]. Both
# indices are cast to unsigned ints: numba wraps negative signed indices, and that check
# (which LLVM cannot drop unless it proves the index non-negative) turns each contiguous
# loop here into a gather of single elements.

def block_of(x, t):
    """(o, start, width): task t's outer index, first column and number of columns."""
    per = (x.shape[2] + BLOCK - 1) // BLOCK
    o = t // per
    start = (t % per) * BLOCK
    return o, start, min(x.shape[2] - start, BLOCK)


def scratch():
    """Per-column room for a block: (values in the data's dtype, float64 sums)."""
    return np.empty(BLOCK, DTYPE), np.empty(BLOCK)


def column_max(x, o, start, width, m):
    """m[k] = max_c x[o, c, start + k] for the block's columns (C >= 1)."""
    for k in range(width):
        m[np.uint64(k)] = x[o, 0, np.uint64(start + k)]
    for c in range(1, x.shape[1]):
        for k in range(width):
            u = np.uint64(k)
            m[u] = max(m[u], x[o, c, np.uint64(start + k)])


def exp_columns(x, o, start, width, m, out, total):
    """out[o, c, start + k] = exp(x[o, c, start + k] - m[k]); total[k] = their sum over c,
    in float64."""
    for k in range(width):
        total[np.uint64(k)] = 0.0
    for c in range(x.shape[1]):
        for k in range(width):
            at = np.uint64(start + k)
            out[o, c, at] = exp(x[o, c, at] - m[np.uint64(k)])
        for k in range(width):
            total[np.uint64(k)] += out[o, c, np.uint64(start + k)]


def column_dot(g, y, o, start, width, dot):
    """dot[k] = sum_c g[o, c, start + k] y[o, c, start + k] in float64 (``y`` None: the
    sum of g alone)."""
    for k in range(width):
        dot[np.uint64(k)] = 0.0
    for c in range(g.shape[1]):
        for k in range(width):
            at = np.uint64(start + k)
            if y is None:
                dot[np.uint64(k)] += g[o, c, at]
            else:
                dot[np.uint64(k)] += np.float64(g[o, c, at]) * y[o, c, at]


JIT_HELPERS = ("block_of", "scratch", "column_max", "exp_columns", "column_dot")


# ---- kernels ------------------------------------------------------------------------------

def softmax_forward(x, out):
    """out[o, c, j] = exp(x[o, c, j] - m) / sum_i exp(x[o, i, j] - m), m the column's max."""
    tasks = x.shape[0] * ((x.shape[2] + BLOCK - 1) // BLOCK)
    for t in prange(tasks):
        o, start, width = block_of(x, t)
        m, total = scratch()
        column_max(x, o, start, width, m)
        exp_columns(x, o, start, width, m, out, total)
        for k in range(width):
            m[np.uint64(k)] = 1.0 / total[np.uint64(k)]  # (m: the reciprocals now)
        for c in range(x.shape[1]):
            for k in range(width):
                at = np.uint64(start + k)
                out[o, c, at] = out[o, c, at] * m[np.uint64(k)]


def log_softmax_forward(x, out):
    """out[o, c, j] = (x[o, c, j] - m) - log sum_i exp(x[o, i, j] - m)."""
    tasks = x.shape[0] * ((x.shape[2] + BLOCK - 1) // BLOCK)
    for t in prange(tasks):
        o, start, width = block_of(x, t)
        m, total = scratch()
        shift, _ = scratch()
        column_max(x, o, start, width, m)
        exp_columns(x, o, start, width, m, out, total)  # (out: scratch)
        for k in range(width):
            shift[np.uint64(k)] = math.log(total[np.uint64(k)])
        for c in range(x.shape[1]):
            for k in range(width):
                u, at = np.uint64(k), np.uint64(start + k)
                out[o, c, at] = (x[o, c, at] - m[u]) - shift[u]


def softmax_backward(g, y, out):
    """out[o, c, j] = y (g - sum_i g[o, i, j] y[o, i, j]): softmax's gradient, output y."""
    tasks = y.shape[0] * ((y.shape[2] + BLOCK - 1) // BLOCK)
    for t in prange(tasks):
        o, start, width = block_of(y, t)
        dot_d, dot = scratch()
        column_dot(g, y, o, start, width, dot)
        for k in range(width):
            dot_d[np.uint64(k)] = dot[np.uint64(k)]
        for c in range(y.shape[1]):
            for k in range(width):
                at = np.uint64(start + k)
                out[o, c, at] = y[o, c, at] * (g[o, c, at] - dot_d[np.uint64(k)])


def log_softmax_backward(g, y, out):
    """out[o, c, j] = g - exp(y) sum_i g[o, i, j]: log-softmax's gradient, output y."""
    tasks = y.shape[0] * ((y.shape[2] + BLOCK - 1) // BLOCK)
    for t in prange(tasks):
        o, start, width = block_of(y, t)
        total_d, total = scratch()
        column_dot(g, None, o, start, width, total)
        for k in range(width):
            total_d[np.uint64(k)] = total[np.uint64(k)]
        for c in range(y.shape[1]):
            for k in range(width):
                at = np.uint64(start + k)
                out[o, c, at] = g[o, c, at] - exp(y[o, c, at]) * total_d[np.uint64(k)]


# ---- softmax cross-entropy over (N, C, d...) logits, class indices as targets ----------
# The row kernels' formulas (:mod:`sorix.kernels.softmax`) per position p = o inner + j:
# forward keeps m_p (in the data's dtype) and log_norm_p = log sum_c exp(x_pc - m_p) (in
# float64) for backward, and the loss takes every difference m - x in float64.

def ce_index_forward(logits, target, weight, zero, row_max, log_norm, loss):
    """loss_p = w_p ((m_p - x_{p, t_p}) + log_norm_p); ``weight`` empty means w_p = 1.

    Positions with w_p = 0 (ignored targets) read no target and give 0.
    """
    inner = logits.shape[2]
    weighted = weight.size > 0
    tasks = logits.shape[0] * ((inner + BLOCK - 1) // BLOCK)
    for t in prange(tasks):
        o, start, width = block_of(logits, t)
        m, total = scratch()
        e, _ = scratch()
        column_max(logits, o, start, width, m)
        for k in range(width):
            total[np.uint64(k)] = 0.0
        for c in range(logits.shape[1]):
            for k in range(width):
                e[np.uint64(k)] = exp(logits[o, c, np.uint64(start + k)] - m[np.uint64(k)])
            for k in range(width):
                total[np.uint64(k)] += e[np.uint64(k)]
        for k in range(width):
            p = o * inner + start + k
            row_max[p] = m[k]
            log_norm[p] = math.log(total[k])
            w = weight[p] if weighted else zero
            if weighted and w == zero:
                loss[p] = zero
                continue
            value = (np.float64(m[k]) - np.float64(logits[o, target[p], start + k])) \
                + log_norm[p]
            loss[p] = value * w if weighted else value


def ce_index_backward(logits, row_max, log_norm, target, scale, zero, out):
    """out_pc = (q_pc - [c = t_p]) s_p with q_pc = exp(x_pc - m_p) exp(-log_norm_p).

    ``s_p`` = upstream * w_p / normaliser; positions with s_p = 0 get zeros. The
    target's entry is computed in float64: q - 1 keeps its digits when q is near 1.
    """
    inner = logits.shape[2]
    tasks = logits.shape[0] * ((inner + BLOCK - 1) // BLOCK)
    for t in prange(tasks):
        o, start, width = block_of(logits, t)
        m, _ = scratch()
        factor, _ = scratch()
        first = o * inner + start
        for k in range(width):
            u, at = np.uint64(k), np.uint64(first + k)
            m[u] = row_max[at]
            factor[u] = math.exp(-log_norm[at]) * scale[at]
        for c in range(logits.shape[1]):
            for k in range(width):
                u, at = np.uint64(k), np.uint64(start + k)
                out[o, c, at] = exp(logits[o, c, at] - m[u]) * factor[u]
        for k in range(width):
            p = first + k
            s = scale[p]
            if s == zero:  # zeros, whatever the position's logits (NaN or inf times 0)
                for c in range(logits.shape[1]):
                    out[o, c, start + k] = zero
                continue
            c = target[p]
            q = math.exp((np.float64(logits[o, c, start + k]) - np.float64(m[k])) - log_norm[p])
            out[o, c, start + k] = (q - 1.0) * s
