"""Stateless forms of the layers and losses: ``import sorix.nn.functional as F``.

The elementwise activations (``relu``, ``softplus`` ...) are made from the op
table, :mod:`sorix.kernels.defs`, by :func:`sorix.ops.surface.functional`.
"""
import math

import numpy as np

from .. import random as _random
from ..autograd.grad_mode import no_grad
from ..kernels.backend import common, of
from ..ops import core
from ..ops import elementwise as _ew
from ..ops import embedding as _embedding
from ..ops import surface as _surface
from ..ops.core import constant, float_data
from ..ops.cross_entropy import cross_entropy as _cross_entropy
from ..ops.losses import as_tensor
from ..ops.losses import binary_cross_entropy_with_logits as _bce_with_logits
from ..ops.losses import kl_div as _kl_div
from ..ops.losses import mse_loss as _mse_loss
from ..ops.normalization import batch_norm_train
from ..ops.nll_loss import nll_loss  # noqa: F401
from ..ops.pair_losses import (binary_cross_entropy, huber_loss, l1_loss,  # noqa: F401
                               smooth_l1_loss)
from .normalization import layer_norm  # noqa: F401


# The elementwise activations (relu, leaky_relu, sigmoid, tanh, softplus, silu, elu,
# softsign, hardtanh, hardsigmoid, hardswish, softshrink, hardshrink, threshold, logsigmoid,
# mish) are made from the op table: each op's ``functional`` names in
# sorix.kernels.defs, with its parameters' names and defaults and its formula.
globals().update(_surface.functional(__name__))

_GELU_FORMS = {"none": "gelu", "tanh": "gelu_tanh"}


def gelu(input, approximate="none"):
    """x Phi(x), Phi the standard normal CDF; ``approximate='tanh'`` uses
    x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2 instead."""
    # (written by hand: ``approximate`` picks one of two ops of the table)
    form = _GELU_FORMS.get(approximate) if isinstance(approximate, str) else None
    if form is None:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _ew.unary(form, as_tensor(input))


def softmax(input, dim=-1):
    """exp(x_i) / sum_j exp(x_j) along ``dim``."""
    return as_tensor(input).softmax(dim=dim)


def log_softmax(input, dim=-1):
    """x_i - log sum_j exp(x_j) along ``dim``."""
    return as_tensor(input).log_softmax(dim=dim)


def check_dropout_probability(p):
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) \
            or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, got {p!r}")
    return float(p)


def dropout(input, p=0.5, training=True):
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p),
    so the expected value is unchanged and evaluation needs no rescaling. The mask is drawn
    from sorix's generator (``sorix.manual_seed``) in the input's dtype, on the host (so
    a seed drops the same elements on every device) and copied to a GPU input's device."""
    p = check_dropout_probability(p)
    x = as_tensor(input)
    if not training or p == 0.0:
        return x
    dtype = float_data(x).dtype
    shape = tuple(x.data.shape)
    if p == 1.0:
        mask = np.zeros(shape, dtype)
    else:
        draw_dtype = np.float32 if dtype == np.float32 else np.float64
        draw = _random.generator().random(shape, dtype=draw_dtype)
        mask = (draw >= p).astype(dtype)
        mask *= dtype.type(1.0 / (1.0 - p))
    return x * constant(mask, like=x.data)


def linear(input, weight, bias=None):
    """y = x weight^T + bias with PyTorch's layout: ``weight`` is (out_features, in_features).

    (``nn.Linear`` stores its ``W`` the other way round, (in, out), as Sorix
    does, and computes x @ W + b.)
    """
    w = as_tensor(weight)
    out = as_tensor(input) @ (w.transpose(-1, -2) if w.ndim == 2 else w)
    return out if bias is None else out + bias


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (num_embeddings, dim) picked by integer indices of any shape.

    The options are PyTorch's (their code runs only when one is given):
    ``padding_idx`` (negative counts from the end): that row gets no gradient,
    however often it is read (its value is read as it is); ``max_norm``: each
    row read whose ``norm_type``-norm exceeds ``max_norm`` is first scaled in
    place in ``weight`` by max_norm / (norm + 1e-7), outside the graph;
    ``scale_grad_by_freq``: each row's gradient is divided by the number of
    times the batch reads it. ``sparse=True`` raises NotImplementedError:
    gradients are dense.
    """
    plain = (padding_idx is None and max_norm is None and not scale_grad_by_freq
             and not sparse)
    if not plain:
        weight = constant(weight)
        padding_idx, max_norm, norm_type = _embedding.options(weight, padding_idx, max_norm,
                                                              norm_type, sparse)
    index = input.data if isinstance(input, core.Tensor) else np.asarray(input)
    if core.is_device_array(index):
        # Where a lookup reads is worked out on the host (and its range checked), so
        # indices on a GPU are copied back once here.
        index = of(index).to_host(index)
    if index.dtype.kind not in "iu":
        raise TypeError(f"embedding indices must be integers, got {index.dtype}; "
                        "convert them with .long()")
    count = weight.shape[0]
    if index.size and (index.min() < 0 or index.max() >= count):
        bad = index[(index < 0) | (index >= count)].reshape(-1)[0]
        raise IndexError(f"embedding index {int(bad)} is out of range: indices must be in "
                         f"[0, {count}) for {count} embeddings (negative indices do not wrap)")
    if plain:
        return weight[index.astype(np.intp, copy=False)]
    index = index.astype(np.intp, copy=False)
    if max_norm is not None:
        _embedding.renorm_(weight, index, max_norm, norm_type)
    if padding_idx is None and not scale_grad_by_freq:
        return weight[index]
    return _embedding.lookup(weight, index, padding_idx, scale_grad_by_freq)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation over (N, C) or (N, C, *) input (statistics per channel C, over
    every other axis; (N, C, H, W) is normalised as its (N, C, H W) view).

    Training: normalise with the batch's mean and biased variance, and move
    the running estimates (if given) in place:
    running = (1 - momentum) running + momentum batch, with the unbiased
    variance M/(M-1) var for running_var (M values per feature), as PyTorch.
    One value per feature (a batch of one) is allowed, as in Sorix: the output
    is ``bias`` and running_var moves towards 0.
    Evaluation: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias.
    """
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"batch norm expects input of shape (N, C) or (N, C, *), "
                         f"got {tuple(x.shape)}")
    if x.ndim > 3:  # the kernels see (N, C, L): a view of contiguous data, and back
        shape = tuple(x.shape)
        flat = x.reshape((shape[0], shape[1], math.prod(shape[2:])))
        return batch_norm(flat, running_mean, running_var, weight, bias, training, momentum,
                          eps).reshape(shape)
    features = x.shape[1]
    dtype = float_data(x).dtype
    per_feature = (1, features) if x.ndim == 2 else (1, features, 1)
    if training:
        gamma = weight if weight is not None else constant(np.ones(features, dtype), like=x.data)
        beta = bias if bias is not None else constant(np.zeros(features, dtype), like=x.data)
        out, mean, var = batch_norm_train(x, gamma, beta, eps)
        count = x.data.size // features
        with no_grad():
            if running_mean is not None:
                _blend(running_mean, mean, momentum)
            if running_var is not None:
                B = of(var)
                # (one value per feature has no unbiased variance: its biased one, 0, is used)
                unbias = count / (count - 1) if count > 1 else 1.0
                _blend(running_var, B.binary("mul", var, B.scalar_array(unbias, var.dtype)),
                       momentum)
        return out
    if running_mean is None or running_var is None:
        raise ValueError("batch norm in evaluation mode needs running_mean and running_var")
    B = core.namespace(x, running_mean, running_var)
    mean, var = (B.astype(B.reshape(s.data, (-1,)), np.float64) for s in (running_mean,
                                                                        running_var))
    if mean.size != features or var.size != features:
        raise ValueError(f"batch norm: running statistics have {mean.size} entries, "
                         f"expected {features}")
    # 1 / sqrt(var + eps) in float64, then in x's dtype
    invstd = B.binary("div", B.scalar_array(1.0, np.float64),
                      B.unary("sqrt", B.binary("add", var, B.scalar_array(eps, np.float64))))
    scale = B.reshape(B.astype(invstd, dtype), per_feature)
    shift = B.reshape(B.astype(mean, dtype), per_feature)
    out = (x - constant(shift)) * constant(scale)
    if weight is not None:
        out = out * weight.reshape(per_feature)
    if bias is not None:
        out = out + bias.reshape(per_feature)
    return out


def _blend(running, batch_value, momentum):
    """running = (1 - momentum) running + momentum batch_value (float64 arrays), written in
    place in the running tensor's own dtype."""
    data = running.data
    B = common(data, batch_value)
    current = B.astype(B.reshape(data, (-1,)), np.float64)
    blended = B.binary("add", B.binary("mul", current, B.scalar_array(1.0 - momentum, np.float64)),
                       B.binary("mul", batch_value, B.scalar_array(momentum, np.float64)))
    B.assign(data, Ellipsis, B.reshape(blended, data.shape))
    running._version[0] += 1


def mse_loss(input, target, reduction="mean"):
    """mean/sum/each of (x - t)^2; shapes must match exactly."""
    return _mse_loss(input, target, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """Stable max(x, 0) - x t + log(1 + exp(-|x|)); shapes must match exactly. ``weight``
    (broadcast to the input) rescales each element, ``pos_weight`` (broadcast along the
    last, class, dim) the positive term, as PyTorch."""
    return _bce_with_logits(input, target, weight, reduction, pos_weight)


def cross_entropy(input, target, weight=None, reduction="mean", ignore_index=-100,
                  one_hot=False, label_smoothing=0.0):
    """Softmax cross-entropy of logits (N, C) against class indices (N,) or, with
    ``one_hot=True`` (or float targets shaped like the input), probabilities (N, C).
    ``label_smoothing`` in [0, 1] mixes the target with the uniform distribution."""
    return _cross_entropy(input, target, weight, reduction, ignore_index, one_hot,
                          label_smoothing)


def kl_div(input, target, reduction="mean", log_target=False):
    """Pointwise KL divergence of ``target`` from ``input`` (log-probabilities):
    xlogy(t, t) - t x, or exp(t) (t - x) with ``log_target=True``; reductions 'mean'
    (every element; warns, as PyTorch), 'batchmean' (the divergence), 'sum', 'none'."""
    return _kl_div(input, target, reduction, log_target)


# ---- convolution, pooling and reshaping ---------------------------------------------------
from ..ops.conv import conv1d, conv2d  # noqa: E402,F401
from ..ops.conv_transpose import conv_transpose1d, conv_transpose2d  # noqa: E402,F401
from ..ops.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d  # noqa: E402,F401
from ..ops.pooling1d import adaptive_avg_pool1d, avg_pool1d, max_pool1d  # noqa: E402,F401
from .shape import flatten, unflatten  # noqa: E402,F401
from ..ops.padding import one_hot, pad  # noqa: E402,F401
from ..ops.similarity import cosine_similarity, normalize, pairwise_distance  # noqa: E402,F401
from .functional_activations import (celu, glu, prelu, relu6, selu,  # noqa: E402,F401
                                   tanhshrink)
from .functional_attention import scaled_dot_product_attention  # noqa: E402,F401
