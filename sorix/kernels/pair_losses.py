"""Fused kernels for the elementwise losses of an (input, target) pair of one shape.

One forward pass gives every element's loss (``pair_each``) or their sum
(``pair_sum``); one backward pass gives the gradients of the input and,
when asked for, of the target (``pair_grad``). The loss is chosen by
``kind`` (constant for a call: a perfectly predicted branch):

    L1         |d|                                        d = x - t
    SMOOTH_L1  d^2 / (2 beta) where |d| < beta, else |d| - beta / 2     (p = beta)
    HUBER      d^2 / 2 where |d| < delta, else delta (|d| - delta / 2)  (p = delta)
    BCE        -(t max(log x, -100) + (1 - t) max(log(1 - x), -100))

(PyTorch's definitions, the log clamp included.) ``weight`` multiplies each
element's loss; an empty ``weight`` means 1. Arrays are flat, contiguous and of
one float dtype; ``p`` is in that dtype. Sums accumulate in float64 over
fixed blocks of SUM_BLOCK elements, then add the blocks in order, so the sum
is the same serial or threaded.
"""
import math

import numpy as np

prange = range  # numba's prange is bound when a kernel is compiled

L1, SMOOTH_L1, HUBER, BCE = 0, 1, 2, 3
SUM_BLOCK = 4096
#: PyTorch's floor under x (1 - x) in the BCE gradient, which is infinite at x = 0 or 1:
#: 1e-12 as a float32 constant, so float64 gradients at the clamp equal PyTorch's too.
BCE_EPSILON = 9.999999960041972e-13


def loss_value(kind, x, t, p):
    """One element's loss (see the module doc)."""
    if kind == BCE:
        return (t - 1.0) * max(math.log1p(-x), -100.0) - t * max(math.log(x), -100.0)
    d = x - t
    a = abs(d)
    if kind == L1:
        return a
    if kind == SMOOTH_L1:
        return 0.5 * d * d / p if a < p else a - 0.5 * p
    return 0.5 * d * d if a < p else p * (a - 0.5 * p)


def input_slope(kind, x, t, p):
    """d loss / d x for one element (PyTorch's conventions at the kinks)."""
    if kind == BCE:
        return (x - t) / max((1.0 - x) * x, BCE_EPSILON)
    d = x - t
    if kind == L1:
        return 1.0 if d > 0 else (-1.0 if d < 0 else d * 0.0)  # sign(d); NaN stays NaN
    if kind == SMOOTH_L1:
        return -1.0 if d < -p else (1.0 if d > p else d / p)
    return -p if d < -p else (p if d > p else d)


def target_slope(kind, x, t, p):
    """d loss / d t for one element: -d/dx for the distance losses, log(1 - x) - log(x) for
    BCE (unclamped, as PyTorch)."""
    if kind == BCE:
        return math.log1p(-x) - math.log(x)
    d = t - x  # (helpers cannot call each other: input_slope's cases, mirrored)
    if kind == L1:
        return 1.0 if d > 0 else (-1.0 if d < 0 else d * 0.0)
    if kind == SMOOTH_L1:
        return -1.0 if d < -p else (1.0 if d > p else d / p)
    return -p if d < -p else (p if d > p else d)


#: Functions above that the kernels call: compiled alongside them (see build.jit_kernel).
JIT_HELPERS = ("loss_value", "input_slope", "target_slope")


def pair_each(x, t, kind, p, weight, out):
    """out_i = w_i loss(x_i, t_i)."""
    weighted = weight.size > 0
    for i in prange(x.size):
        value = loss_value(kind, x[i], t[i], p)
        out[i] = value * weight[i] if weighted else value


def pair_sum(x, t, kind, p, weight):
    """sum_i w_i loss(x_i, t_i) in float64, in fixed blocks (see the module doc)."""
    n = x.size
    weighted = weight.size > 0
    blocks = (n + SUM_BLOCK - 1) // SUM_BLOCK
    partial = np.empty(blocks, np.float64)
    for b in prange(blocks):
        s = 0.0
        for i in range(b * SUM_BLOCK, min(n, (b + 1) * SUM_BLOCK)):
            value = loss_value(kind, x[i], t[i], p)
            s += value * weight[i] if weighted else value
        partial[b] = s
    total = 0.0
    for b in range(blocks):
        total += partial[b]
    return total


def pair_grad(x, t, kind, p, weight, upstream, scale, gx, gt):
    """gx_i = scale g_i w_i dloss/dx and, when ``gt`` is not empty, gt_i likewise with
    dloss/dt; g is ``upstream`` (one value for the 'mean' and 'sum' reductions), scale is
    1 or 1/n. An empty ``gx`` is skipped too."""
    single = upstream.size == 1
    weighted = weight.size > 0
    need_x = gx.size > 0
    need_t = gt.size > 0
    first = upstream[0]  # read once: in the loop, upstream[0] made LLVM gather the lanes
    for i in prange(x.size):
        g = scale * (first if single else upstream[i])
        if weighted:
            g = g * weight[i]
        if need_x:
            gx[i] = g * input_slope(kind, x[i], t[i], p)
        if need_t:
            gt[i] = g * target_slope(kind, x[i], t[i], p)
