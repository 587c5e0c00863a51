"""Fused optimizer updates: one pass over memory per parameter.

Each update reads the parameter, its gradient and its state once and
writes the parameter and the state once, in place. Arrays are 1-D and
contiguous, of one float dtype; the scalars are passed in that dtype so
float32 state is never computed in float64. Unused state arrays (no
momentum, not centered ...) are passed as empty arrays.

Why each kernel is a loop over chunks calling a serial ``*_span`` loop: each
thread then runs the serial loop itself, whose loop-invariant flag tests
(``maximize``, ``decay`` ...) LLVM lifts out before vectorising it. Written as
one ``prange`` over elements, the flag tests stayed in numba's per-thread
body, which LLVM vectorised only in part: at 1e7 float32 elements the
threaded RMSprop took up to twice the serial build's time. The span takes
slices (never a ``range(lo, hi)``: a start that could be negative keeps
numba's negative-index test in the loop, which also blocks vectorisation).

Every kernel exists twice, serial and threaded. From
``config.OPTIMIZER_PARALLEL_THRESHOLDS[name]`` elements on, a few updates at
each size time both builds now and then, and the faster runs in between (see
:func:`run`).
"""
import math

import numpy as np

from .. import config
from . import variants

# numba's prange is bound when a kernel is compiled. The spans keep this plain range (they
# are compiled as serial helpers) on the CPU; the GPU compiles each span as a kernel with
# prange bound to a grid-stride loop (sorix.kernels.cuda.optim).
prange = range

#: Elements per chunk: large enough that a chunk's call costs nothing beside its loop,
#: small enough that 1e6 elements still make dozens of chunks to share among threads.
CHUNK = 16384

#: Serial loops the kernels call, compiled with them (see :func:`build.jit_kernel`).
JIT_HELPERS = ("part", "sgd_span", "rmsprop_span", "adam_span")


def part(a, lo, hi):
    """``a[lo:hi]``, or ``a`` itself when it is an unused (empty) state array."""
    return a[lo:hi] if a.size else a


def sgd_span(p, g, buf, lr, weight_decay, momentum, one_minus_dampening, nesterov, maximize, first):
    """SGD with PyTorch's momentum, dampening and Nesterov rules."""
    use_momentum = buf.size > 0
    decay = weight_decay != 0
    for i in prange(p.size):
        d = -g[i] if maximize else g[i]
        if decay:
            d = d + weight_decay * p[i]
        if use_momentum:
            if first:
                b = d
            else:
                b = momentum * buf[i] + one_minus_dampening * d
            buf[i] = b
            d = d + momentum * b if nesterov else b
        p[i] = p[i] - lr * d


def rmsprop_span(p, g, square_avg, grad_avg, buf, lr, alpha, one_minus_alpha, eps,
                 weight_decay, momentum, maximize):
    """square_avg = alpha square_avg + (1 - alpha) g^2;  p -= lr g / (sqrt(square_avg) + eps).

    Centered when ``grad_avg`` is non-empty (the variance replaces the
    second moment); with momentum when ``buf`` is non-empty.
    """
    centered = grad_avg.size > 0
    use_momentum = buf.size > 0
    decay = weight_decay != 0
    for i in prange(p.size):
        d = -g[i] if maximize else g[i]
        if decay:
            d = d + weight_decay * p[i]
        sq = alpha * square_avg[i] + one_minus_alpha * d * d
        square_avg[i] = sq
        if centered:
            ga = grad_avg[i] + one_minus_alpha * (d - grad_avg[i])
            grad_avg[i] = ga
            sq = sq - ga * ga
        avg = math.sqrt(sq) + eps
        if use_momentum:
            b = momentum * buf[i] + d / avg
            buf[i] = b
            p[i] = p[i] - lr * b
        else:
            p[i] = p[i] - lr * d / avg


def adam_span(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, step_size, one_minus_beta1, beta2,
              one_minus_beta2, eps, weight_decay, decoupled_decay, bias_correction2_sqrt,
              maximize):
    """Adam/AdamW: moments m, v; p -= step_size m / (sqrt(v)/sqrt(bc2) + eps).

    ``step_size`` is lr / (1 - beta1^t) and ``bias_correction2_sqrt`` is
    sqrt(1 - beta2^t); the caller computes both in float64 once per step.

    ``decoupled_decay`` is AdamW's factor (1 - lr weight_decay) applied to p
    (1 for Adam, whose decay is added to the gradient instead).
    AMSGrad when ``max_exp_avg_sq`` is non-empty.
    """
    amsgrad = max_exp_avg_sq.size > 0
    decay = weight_decay != 0
    for i in prange(p.size):
        d = -g[i] if maximize else g[i]
        if decay:
            d = d + weight_decay * p[i]
        m = exp_avg[i] + one_minus_beta1 * (d - exp_avg[i])
        exp_avg[i] = m
        v = beta2 * exp_avg_sq[i] + one_minus_beta2 * d * d
        exp_avg_sq[i] = v
        if amsgrad:
            if max_exp_avg_sq[i] > v:
                v = max_exp_avg_sq[i]
            max_exp_avg_sq[i] = v
        denom = math.sqrt(v) / bias_correction2_sqrt + eps
        p[i] = p[i] * decoupled_decay - step_size * m / denom


def sgd(p, g, buf, lr, weight_decay, momentum, one_minus_dampening, nesterov, maximize, first):
    """:func:`sgd_span` over the whole parameter, a chunk at a time (a thread's share)."""
    n = p.size
    for c in prange((n + CHUNK - 1) // CHUNK):
        lo = c * CHUNK
        hi = min(lo + CHUNK, n)
        sgd_span(p[lo:hi], g[lo:hi], part(buf, lo, hi), lr, weight_decay, momentum,
                 one_minus_dampening, nesterov, maximize, first)


def rmsprop(p, g, square_avg, grad_avg, buf, lr, alpha, one_minus_alpha, eps, weight_decay,
            momentum, maximize):
    """:func:`rmsprop_span` over the whole parameter, a chunk at a time (a thread's share)."""
    n = p.size
    for c in prange((n + CHUNK - 1) // CHUNK):
        lo = c * CHUNK
        hi = min(lo + CHUNK, n)
        rmsprop_span(p[lo:hi], g[lo:hi], square_avg[lo:hi], part(grad_avg, lo, hi),
                     part(buf, lo, hi), lr, alpha, one_minus_alpha, eps, weight_decay,
                     momentum, maximize)


def adam(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, step_size, one_minus_beta1, beta2,
         one_minus_beta2, eps, weight_decay, decoupled_decay, bias_correction2_sqrt, maximize):
    """:func:`adam_span` over the whole parameter, a chunk at a time (a thread's share)."""
    n = p.size
    for c in prange((n + CHUNK - 1) // CHUNK):
        lo = c * CHUNK
        hi = min(lo + CHUNK, n)
        adam_span(p[lo:hi], g[lo:hi], exp_avg[lo:hi], exp_avg_sq[lo:hi],
                  part(max_exp_avg_sq, lo, hi), step_size, one_minus_beta1, beta2,
                  one_minus_beta2, eps, weight_decay, decoupled_decay,
                  bias_correction2_sqrt, maximize)


def run(fn, p, *args):
    """Apply update ``fn`` to parameter array ``p``: serial below its threshold; above
    it, the serial or threaded build, whichever ran faster for this size on this machine
    (:func:`sorix.kernels.variants.run_measured`: an update's result is the same either
    way, and a training loop updates each parameter at one size thousands of times)."""
    variants.run_measured(fn, p.size, p, *args,
                          threshold=config.OPTIMIZER_PARALLEL_THRESHOLDS[fn.__name__])


EMPTY = {np.dtype(np.float32): np.zeros(0, np.float32), np.dtype(np.float64): np.zeros(0)}
