"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (PyTorch's semantics).

Each gradient is read once to measure it (a fused kernel on the CPU,
:mod:`sorix.kernels.grad_norm`) and, when clipping changes it, scaled or
clamped once, in place.
"""
import math

import numpy as np

from ..autograd.grad_mode import no_grad
from ..kernels import cpu as _cpu
from ..kernels import grad_norm as K
from ..kernels.backend import of
from ..kernels.variants import run
from ..tensor import Tensor


def _gradients(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = []
    for p in parameters:
        if not isinstance(p, Tensor):
            raise TypeError(f"expected tensors (parameters), got {type(p).__name__}")
        if p.grad is not None:
            grads.append(p.grad)
    return grads


def _order(norm_type):
    try:
        order = float(norm_type)
    except (TypeError, ValueError):
        raise ValueError(f"norm_type must be a number or 'inf', got {norm_type!r}") from None
    if math.isnan(order):
        raise ValueError("norm_type must not be NaN")
    return order


def _kind(order):
    if order == math.inf:
        return K.MAX_ABS
    if order == -math.inf:
        return K.MIN_ABS
    if order == 0:
        return K.NONZERO
    return K.SQUARES if order == 2 else K.POWERS


def _part(g, kind, order):
    """One gradient's reduction (see sorix.kernels.grad_norm), as a Python float."""
    data = g.data
    if of(data) is _cpu and data.dtype.kind == "f" and data.dtype.itemsize >= 4:
        flat = np.ascontiguousarray(data).reshape(-1)
        return float(run(K.norm_part, flat.size, flat, kind, flat.dtype.type(order)))
    B = of(data)
    wide = B.astype(data, np.float64)
    if kind in (K.MAX_ABS, K.MIN_ABS):
        if wide.size == 0:
            return 0.0 if kind == K.MAX_ABS else math.inf
        magnitude = B.unary("abs", wide)
        value = B.max(magnitude) if kind == K.MAX_ABS else B.min(magnitude)
    elif kind == K.NONZERO:
        value = B.sum(B.astype(B.compare("ne", wide, 0.0), np.float64))
    elif kind == K.SQUARES:
        value = B.sum(B.binary("mul", wide, wide))
    else:
        value = B.sum(B.binary("pow", B.unary("abs", wide), B.scalar_array(order, np.float64)))
    return float(B.to_host(value))


def _combine(parts, kind, order):
    if kind == K.MAX_ABS:
        return max(parts) if not any(math.isnan(p) for p in parts) else math.nan
    if kind == K.MIN_ABS:
        return min(parts) if not any(math.isnan(p) for p in parts) else math.nan
    if kind == K.NONZERO:
        # PyTorch takes the norm of the per-gradient norms: for order 0, the number of
        # gradients that are not all zero
        return float(sum(1 for p in parts if p != 0))
    total = math.fsum(parts)
    return math.sqrt(total) if kind == K.SQUARES else total ** (1.0 / order)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale the gradients of ``parameters`` in place so that their total norm (the norm
    of all gradients as one vector, of order ``norm_type``; 'inf' for the largest |g|;
    order 0 counts the gradients that are not all zero, as PyTorch) is at most
    ``max_norm``: each is multiplied by min(1, max_norm / (total + 1e-6)).

    Returns the total norm before clipping, as a 0-d tensor in the gradients' dtype.
    A non-finite total raises a RuntimeError when ``error_if_nonfinite`` (else the
    gradients are scaled by it, becoming NaN, as in PyTorch).
    """
    grads = _gradients(parameters)
    max_norm = float(max_norm)
    order = _order(norm_type)
    if not grads:
        return Tensor(np.zeros((), np.float32))
    kind = _kind(order)
    total = _combine([_part(g, kind, order) for g in grads], kind, order)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {order} for gradients from `parameters` is non-finite, "
            "so it cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`")
    coefficient = min(max_norm / (total + 1e-6), 1.0) if not math.isnan(total) else math.nan
    if coefficient != 1.0:  # (NaN too: the gradients become NaN, as PyTorch's)
        with no_grad(), np.errstate(invalid="ignore"):  # (inf * 0 is the NaN asked for)
            for g in grads:
                g.mul_(coefficient)
    first = grads[0].data
    dtype = first.dtype if first.dtype.kind == "f" else np.dtype(np.float32)
    return Tensor._wrap(of(first).to_device(np.asarray(total, dtype=dtype)))


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient of ``parameters`` into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _gradients(parameters):
            g.clamp_(-clip_value, clip_value)
