"""Fused optimizer updates: one pass over memory per parameter.

Each update reads the parameter, its gradient and its state once and
writes the parameter and the state once, in place. Arrays are 1-D and
contiguous, of one float dtype; the scalars are passed in that dtype so
float32 state is never computed in float64. Unused state arrays (no
momentum, not centered ...) are passed as empty arrays.

Every kernel exists twice: serial, and threaded for arrays above
``config.PARALLEL_THRESHOLD`` elements.
"""
import math

import numpy as np

from . import variants

prange = range  # numba's prange is bound when a kernel is compiled


def sgd(p, g, buf, lr, weight_decay, momentum, one_minus_dampening, nesterov, maximize, first):
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


def rmsprop(p, g, square_avg, grad_avg, buf, lr, alpha, one_minus_alpha, eps, weight_decay,
            momentum, maximize):
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


def adam(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, step_size, one_minus_beta1, beta2,
         one_minus_beta2, eps, weight_decay, decoupled_decay, bias_correction2_sqrt, maximize):
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


def run(fn, p, *args):
    """Apply update ``fn`` to parameter array ``p``, threaded for large arrays."""
    variants.run(fn, p.size, p, *args)


EMPTY = {np.dtype(np.float32): np.zeros(0, np.float32), np.dtype(np.float64): np.zeros(0)}
