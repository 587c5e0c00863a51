"""Batch normalisation in training mode as one fused, differentiable op.

For x of shape (N, F) or (N, F, L), with statistics per feature f over
the other axes (M = N L values each):

    mean_f = sum x / M,   var_f = sum (x - mean_f)^2 / M   (biased)
    xhat   = (x - mean_f) / sqrt(var_f + eps)
    y      = gamma_f xhat + beta_f

Backward, in closed form (the batch statistics depend on every x):

    dbeta_f  = sum g,   dgamma_f = sum g xhat
    dx       = gamma_f / sqrt(var_f + eps) (g - dbeta_f / M - xhat dgamma_f / M)

Evaluation mode is an affine map with constant running statistics and
needs no fused op (see :class:`sorix.nn.BatchNorm1d`).
"""
import numpy as np

from ..autograd.node import Node
from ..kernels import batchnorm as K
from ..kernels import cpu as _cpu
from ..kernels import recycle
from ..kernels.variants import run, variant
from . import composite, core
from .core import float_data, records, wrap
from .elementwise import cast


def _kernels(ndim):
    """(batch_stats, normalize, grad_sums, grad_input) for inputs of ``ndim`` dimensions:
    (N, F) inputs have kernels of their own, (N, F, L) ones the general loops."""
    if ndim == 2:
        return K.batch_stats_rows, K.normalize_rows, K.grad_sums_rows, K.grad_input_rows
    return K.batch_stats, K.normalize, K.grad_sums, K.grad_input


def _reduce(kernel, x, *args):
    """Run a statistics kernel: the (N, F, L) ones are threaded over features on large
    inputs; the (N, F) ones stay serial (their loop over samples adds into every
    feature at once)."""
    if x.ndim == 2:
        return variant(kernel, False)(x, *args)
    return run(kernel, x.size, x, *args)


class BatchNormNode(Node):
    """Gradients of x, gamma and beta (see the module doc)."""
    __slots__ = ("eps", "param_shape")

    def __init__(self, x, gamma, beta, saved, eps):
        super().__init__((x, gamma, beta), saved, (x, gamma))
        self.eps = eps
        self.param_shape = gamma.data.shape

    def backward(self, grad, F, saved):
        if F is not _cpu:  # create_graph=True (the node exists on the CPU only)
            return self._formula(grad)
        x_data, mean, invstd, gamma = saved
        dtype = x_data.dtype
        g_data = np.ascontiguousarray(grad, dtype=dtype)
        features = x_data.shape[1]
        _, _, grad_sums, grad_input = _kernels(x_data.ndim)
        sum_g = np.empty(features)
        sum_g_xhat = np.empty(features)
        _reduce(grad_sums, g_data, x_data, mean, invstd, sum_g, sum_g_xhat)
        need_x, need_gamma, need_beta = self.needs
        dx = None
        if need_x:
            count = x_data.size // features
            # (memory of its own: a leaf can keep it uncopied)
            dx = recycle.empty(grad.shape, dtype)
            run(grad_input, x_data.size, g_data, x_data, mean.astype(dtype), invstd.astype(dtype),
                (gamma * invstd).astype(dtype), (sum_g / count).astype(dtype),
                (sum_g_xhat / count).astype(dtype), dx)
        dgamma = sum_g_xhat.astype(dtype).reshape(self.param_shape) if need_gamma else None
        dbeta = sum_g.astype(dtype).reshape(self.param_shape) if need_beta else None
        return dx, dgamma, dbeta

    def _formula(self, grad):
        """The kernels' gradient with differentiable tensor ops, statistics recomputed."""
        x, gamma, _ = self.inputs
        dtype = self.saved[0].dtype
        x = x if x.data.dtype == dtype else cast(x, dtype)
        axes = (0,) if x.ndim == 2 else (0, 2)
        per_feature = (1, -1) if x.ndim == 2 else (1, -1, 1)
        mean = x.mean(axis=axes, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axis=axes, keepdims=True)
        invstd = (var + self.eps) ** -0.5
        xhat = centred * invstd
        need_x, need_gamma, need_beta = self.needs
        dx = None
        if need_x:
            g_xhat = grad * gamma.reshape(per_feature)
            dx = invstd * (g_xhat - g_xhat.mean(axis=axes, keepdims=True)
                           - xhat * (g_xhat * xhat).mean(axis=axes, keepdims=True))
        dgamma = (grad * xhat).sum(axis=axes).reshape(self.param_shape) if need_gamma else None
        dbeta = grad.sum(axis=axes).reshape(self.param_shape) if need_beta else None
        return dx, dgamma, dbeta


def batch_norm_train(x, gamma, beta, eps):
    """Normalise ``x`` with its own batch statistics.

    Returns ``(y, mean, var)``: the output tensor and the per-feature batch
    mean and biased variance as float64 arrays on x's device, for the running
    estimates. On a GPU the same maths is composed of tensor ops
    (:func:`.composite.batch_norm_train`).
    """
    shape = x.data.shape
    if x.ndim not in (2, 3):
        raise ValueError(f"batch norm expects input of shape (N, F) or (N, F, L), got {shape}")
    features = shape[1]
    for name, p in (("gamma", gamma), ("beta", beta)):
        if p.data.size != features:
            raise ValueError(f"batch norm: {name} has {p.data.size} entries, expected {features}")
    if core.namespace(x, gamma, beta) is not _cpu:
        return composite.batch_norm_train(x, gamma, beta, eps)
    data = float_data(x)
    dtype = data.dtype
    x_data = np.ascontiguousarray(data)
    batch_stats, normalize, _, _ = _kernels(x_data.ndim)
    mean = np.empty(features)
    var = np.empty(features)
    _reduce(batch_stats, x_data, mean, var)
    invstd = 1.0 / np.sqrt(var + eps)
    g = np.ascontiguousarray(gamma.data, dtype=dtype).reshape(-1)
    b = np.ascontiguousarray(beta.data, dtype=dtype).reshape(-1)
    out = recycle.empty(shape, dtype)
    run(normalize, x_data.size, x_data, mean.astype(dtype), (g * invstd).astype(dtype), b, out)
    if records(x, gamma, beta):
        node = BatchNormNode(x, gamma, beta, (x_data, mean, invstd, g), float(eps))
        return wrap(out, node), mean, var
    return wrap(out), mean, var
