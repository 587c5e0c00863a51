"""Layer normalisation as one fused, differentiable op.

x of shape (*, D1, ..., Dk) is normalised over its last k dimensions
(``normalized_shape``); with C = D1 ... Dk values per row:

    mean = sum x / C,   var = sum (x - mean)^2 / C   (biased)
    xhat = (x - mean) / sqrt(var + eps),   y = weight xhat + bias

Backward, in closed form:

    dbias   = sum over rows of g,   dweight = sum over rows of g xhat
    dx      = (g w - mean(g w) - xhat mean(g w xhat)) / sqrt(var + eps)

On the CPU the forward is one kernel pass and the backward another
(:mod:`sorix.kernels.layernorm`); on a GPU the same maths is composed of
tensor ops. The node's rule runs the backward kernel on arrays and, on the
tensor twin (``create_graph=True``), the same gradient with tensor ops.
"""
import math

import numpy as np

from ..autograd.node import Node
from ..kernels import cpu as _cpu
from ..kernels import layernorm as K
from ..kernels import recycle
from ..kernels.variants import run
from . import core
from .core import float_data, records, wrap
from .elementwise import cast

#: Backward adds the parameter gradients over blocks of rows (the threads' work), at most
#: this many, each of at least BLOCK_ELEMENTS elements. The count depends on the shape
#: alone, so the gradients are the same serial or threaded, on any number of threads.
BACKWARD_BLOCKS = 32
BLOCK_ELEMENTS = 65536

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def normalized_shape_tuple(normalized_shape):
    """``normalized_shape`` (an int or a sequence of ints) as a tuple."""
    if isinstance(normalized_shape, (int, np.integer)) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    if isinstance(normalized_shape, (str, bytes)) or not hasattr(normalized_shape, "__iter__") \
            or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool)
                       for n in normalized_shape):
        raise TypeError(f"normalized_shape must be an int or a sequence of ints, got "
                        f"{normalized_shape!r}")
    shape = tuple(int(n) for n in normalized_shape)
    if any(n < 0 for n in shape):
        raise ValueError(f"normalized_shape must not hold negative sizes, got {shape}")
    return shape


def _check(x, shape, weight, bias):
    k = len(shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise RuntimeError(
            f"layer_norm: given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size {list(x.shape)}; "
            "normalized_shape must equal the input's last dimensions")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != shape:
            raise RuntimeError(f"layer_norm: expected {name} of shape {list(shape)} (the "
                               f"normalized_shape), got {list(p.shape)}")


def _parameter_array(p, cols, dtype, fill):
    if p is None:
        out = np.empty(cols, dtype)
        out.fill(fill)
        return out
    return np.ascontiguousarray(p.data, dtype=dtype).reshape(cols)


class LayerNormNode(Node):
    """Gradients of x, weight and bias (see the module doc)."""
    __slots__ = ("eps", "shape", "normalized")

    def __init__(self, x, weight, bias, saved, eps, normalized):
        super().__init__((x, weight, bias), saved,
                         (x,) if weight is None else (x, weight))
        self.eps = eps
        self.shape = x.data.shape
        self.normalized = normalized

    def backward(self, grad, F, saved):
        if F is not _cpu:  # create_graph=True (the node exists on the CPU only)
            return self._formula(grad)
        x2, mean, rstd, w = saved
        dtype = x2.dtype
        rows, cols = x2.shape
        g2 = np.ascontiguousarray(grad, dtype=dtype).reshape(rows, cols)
        need_x, need_weight, need_bias = self.needs
        blocks = max(1, min(rows, BACKWARD_BLOCKS, x2.size // BLOCK_ELEMENTS))
        partial = np.empty((blocks, 2, cols))
        block_sums = np.empty((blocks, 2, cols), dtype)
        row_scalars = np.empty((blocks, 4), dtype)
        # dx in its final shape (the kernel writes a 2-D view): the engine can then keep
        # the array as a leaf's .grad instead of copying a view
        dx = recycle.empty(self.shape, dtype) if need_x else np.empty(0, dtype)
        run(K.backward, x2.size, g2, x2, mean, rstd, w, need_x, need_weight or need_bias,
            dx.reshape(rows, cols) if need_x else dx.reshape(0, 0), partial, block_sums,
            row_scalars)
        sums = partial.sum(axis=0)
        dweight = sums[1].astype(dtype).reshape(self.normalized) if need_weight else None
        dbias = sums[0].astype(dtype).reshape(self.normalized) if need_bias else None
        return (dx if need_x else None), dweight, dbias

    def _formula(self, grad):
        """The kernel's gradient with differentiable tensor ops, statistics recomputed."""
        x, weight, _ = self.inputs
        dtype = self.saved[0].dtype
        x = x if x.data.dtype == dtype else cast(x, dtype)
        axes = tuple(range(x.ndim - len(self.normalized), x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        centred = x - mean
        rstd = ((centred * centred).mean(axis=axes, keepdims=True) + self.eps) ** -0.5
        xhat = centred * rstd
        need_x, need_weight, need_bias = self.needs
        leading = tuple(range(x.ndim - len(self.normalized)))

        def over_rows(t):
            return t.sum(axis=leading) if leading else t

        dx = None
        if need_x:
            g_w = grad if weight is None else grad * weight
            dx = rstd * (g_w - g_w.mean(axis=axes, keepdims=True)
                         - xhat * (g_w * xhat).mean(axis=axes, keepdims=True))
        dweight = over_rows(grad * xhat) if need_weight else None
        dbias = over_rows(grad) if need_bias else None
        return dx, dweight, dbias


def _composite(x, shape, weight, bias, eps):
    """The same maths of differentiable tensor ops (GPUs, and dtypes without kernels)."""
    dtype = float_data(x).dtype
    work = dtype if dtype in _KERNEL_DTYPES else np.dtype(np.float32)
    xw = x if x.data.dtype == work else cast(x, work)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    mean = xw.mean(axis=axes, keepdims=True)
    centred = xw - mean
    xhat = centred * ((centred * centred).mean(axis=axes, keepdims=True) + eps) ** -0.5
    out = xhat
    if weight is not None:
        out = out * (weight if weight.data.dtype == work else cast(weight, work))
    if bias is not None:
        out = out + (bias if bias.data.dtype == work else cast(bias, work))
    return out if work == dtype else cast(out, dtype)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise ``x`` over its last ``len(normalized_shape)`` dimensions (see the module
    doc); ``weight`` and ``bias`` (of ``normalized_shape``, or None) scale and shift."""
    shape = normalized_shape_tuple(normalized_shape)
    _check(x, shape, weight, bias)
    eps = float(eps)
    if core.namespace(x, weight, bias) is not _cpu or float_data(x).dtype not in _KERNEL_DTYPES:
        return _composite(x, shape, weight, bias, eps)
    data = float_data(x)
    dtype = data.dtype
    cols = math.prod(shape)
    rows = math.prod(data.shape[:data.ndim - len(shape)])
    x2 = np.ascontiguousarray(data).reshape(rows, cols)
    w = _parameter_array(weight, cols, dtype, 1)
    b = _parameter_array(bias, cols, dtype, 0)
    out = recycle.empty(data.shape, dtype)
    mean = np.empty(rows)
    rstd = np.empty(rows)
    run(K.forward, x2.size, x2, w, b, eps, out.reshape(rows, cols), mean, rstd)
    if records(x, weight, bias):
        return wrap(out, LayerNormNode(x, weight, bias, (x2, mean, rstd, w), eps, shape))
    return wrap(out)
