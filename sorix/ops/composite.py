"""Losses and training-mode batch normalisation composed of differentiable tensor ops.

On the CPU each of these is one fused op, a kernel pass forward and one
backward (:mod:`.losses`, :mod:`.cross_entropy`, :mod:`.normalization`).
Those kernels are CPU loops; on a GPU the same maths is composed here from
ops that have CUDA kernels, and autograd derives the backward (and any
higher order). The formulas are the fused ops' (see their docstrings and
the tensor-op branches of their nodes' rules).

Nothing is read back to the host, so checks that need values become NaN
instead of an exception: a class index out of range, or a float class
index that is not a whole number, gives a NaN loss for its row.
"""
import numpy as np

from . import core
from .core import constant
from .elementwise import binary, cast, unary
from .softmax import log_softmax


def _floating(t):
    return t if t.data.dtype.kind == "f" else cast(t, np.float32)


def _in_dtype(t, dtype):
    return t if t.data.dtype == dtype else cast(t, dtype)


def _reduce(each, reduction, normaliser=None):
    """'none': each loss; 'sum': their sum; 'mean': the sum over ``normaliser``
    (the element count by default)."""
    if reduction == "none":
        return each
    total = each.sum()
    if reduction == "sum":
        return total
    return total / (each.data.size if normaliser is None else normaliser)


# ---- elementwise losses -----------------------------------------------------------

def mse_loss(input, target, reduction):
    """(x - t)^2."""
    x = _floating(input)
    diff = x - _in_dtype(target, x.data.dtype)
    return _reduce(diff * diff, reduction)


def binary_cross_entropy_with_logits(input, target, reduction):
    """max(x, 0) - x t + log(1 + exp(-|x|)).

    ``maximum`` gives each side half the gradient at its tie x = 0, so the
    gradient is sigmoid(x) - t everywhere (x = 0 included), as the fused op's.
    The log term is formed in float64: in float32, 1 + exp(-|x|) would round
    away most of a small exp(-|x|) (that is what log1p avoids on the CPU).
    """
    x = _floating(input)
    dtype = x.data.dtype
    wide = _in_dtype(x, np.float64)
    softplus_tail = _in_dtype((unary("exp", -wide.abs()) + 1.0).log(), dtype)
    each = binary("maximum", x, 0.0) - x * _in_dtype(target, dtype) + softplus_tail
    return _reduce(each, reduction)


# ---- softmax cross-entropy ---------------------------------------------------------

def cross_entropy(x_rows, t_rows, target, probs, class_weight, reduction, ignore_index):
    """Softmax cross-entropy of logit rows (N, C) (see :mod:`.cross_entropy` for the maths).

    ``t_rows``: probability rows (N, C) when ``probs``; else ``target`` holds
    class indices, one per row. ``class_weight``: a tensor of C weights or None.
    Returns the per-row losses for 'none', else the reduced loss.
    """
    x = _floating(x_rows)
    dtype = x.data.dtype
    rows, classes = x.shape
    log_p = log_softmax(x, -1)
    # class weights are constants (as in the fused op, and PyTorch)
    w = None if class_weight is None else \
        _in_dtype(class_weight.detach(), dtype).reshape((1, classes))
    if probs:
        t = _in_dtype(t_rows, dtype)
        weighted = t if w is None else t * w
        return _reduce(-(weighted * log_p).sum(axis=-1), reduction, rows)
    B = core.namespace(x, target, class_weight)
    index = B.reshape(B.contiguous(target.data), (rows, 1))
    kept = B.compare("ne", index, ignore_index)
    index = B.where(kept, index, 0)  # an ignored row reads class 0, with weight 0
    onehot = B.astype(B.compare("eq", index, B.reshape(B.arange(classes), (1, classes))), dtype)
    # 1 on every row with a valid class, 0 where the class is out of range or not a
    # whole number: dividing by it makes those rows NaN.
    hits = constant(B.sum(onehot, 1))
    row_weight = constant(B.astype(B.reshape(kept, (rows,)), dtype))
    if w is not None:
        row_weight = row_weight * (constant(onehot) * w).sum(axis=-1)
    picked = (log_p * constant(onehot)).sum(axis=-1) / hits
    loss = -picked * row_weight
    if reduction != "mean":
        return _reduce(loss, reduction)
    # PyTorch's weighted mean: divided by the weights of the rows counted. With none
    # counted (a batch of padding alone) the loss is NaN and the gradients are zero, so
    # that such a batch leaves the model as it was; decided on the device, without
    # reading the total back. (PyTorch gives NaN gradients to rows whose class weight
    # is 0 in that case; here they get 0 too.)
    total = B.sum(row_weight.data)
    nothing = B.compare("eq", total, 0)
    inverse = B.binary("div", B.full((), 1.0, dtype), B.where(nothing, 1.0, total))
    inverse = B.where(nothing, 0.0, inverse)
    undefined = B.where(nothing, np.nan, B.zeros((), dtype))
    return loss.sum() * constant(inverse) + constant(undefined)


# ---- batch normalisation ----------------------------------------------------------

def batch_norm_train(x, gamma, beta, eps):
    """y = gamma (x - mean) / sqrt(var + eps) + beta with the batch's per-feature mean and
    biased variance. Returns ``(y, mean, var)``, the statistics as float64 arrays (F,)
    on x's device, for the running estimates."""
    x = _floating(x)
    dtype = x.data.dtype
    axes = (0,) if x.ndim == 2 else (0, 2)
    per_feature = (1, -1) if x.ndim == 2 else (1, -1, 1)
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=axes, keepdims=True)
    xhat = centred * (var + eps) ** -0.5
    out = xhat * _in_dtype(gamma, dtype).reshape(per_feature) \
        + _in_dtype(beta, dtype).reshape(per_feature)
    B = core.namespace(x)
    stats = [B.astype(B.reshape(s.data, (-1,)), np.float64) for s in (mean, var)]
    return out, stats[0], stats[1]
