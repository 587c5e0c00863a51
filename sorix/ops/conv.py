"""Convolution as three differentiable ops that are each other's gradients.

For y = conv(x, w) + b (the formula is in :mod:`sorix.kernels.conv`), the
gradients are two more bilinear maps of the same geometry:

    dx = conv_input_grad(g, w)    the transposed convolution (adjoint of x -> conv(x, w))
    dw = conv_weight_grad(x, g)   the correlation of x with g (adjoint of w -> conv(x, w))
    db = sum of g over N, H and W

Each of the three is an op here, and the derivatives of the last two are
again members of the family:

    <h, conv_input_grad(g, w)> = <conv(h, w), g>
        -> d/dg = conv(h, w),                d/dw = conv_weight_grad(h, g)
    <H, conv_weight_grad(x, g)> = <conv(x, H), g>
        -> d/dx = conv_input_grad(g, H),     d/dg = conv(x, H)

so gradients of any order (``create_graph=True``) are convolutions too,
computed by the same kernels. 1-D convolutions are 2-D ones over a height
of 1. ``conv1d`` and ``conv2d`` below are the functional forms
(:mod:`sorix.nn.functional`), with PyTorch's arguments and checks.
"""
import numpy as np

from ..autograd.node import Node
from ..errors import ShapeMismatchError
from ..kernels.backend import of
from ..kernels.conv import Geometry
from . import core, twin
from .core import float_data, records, wrap
from .elementwise import cast
from .losses import as_tensor

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# ---- the three ops ---------------------------------------------------------------------------

def _in_dtype(t, dtype):
    return t if t.data.dtype == dtype else cast(t, dtype)


def _array(t, dtype):
    """``t``'s data as a C-contiguous array of ``dtype`` on its device."""
    d = t.data
    B = of(d)
    if d.dtype != dtype:
        d = B.astype(d, dtype)
    return B.contiguous(d)


class ConvNode(Node):
    """Gradients of conv(x, w) + b."""
    __slots__ = ("geometry", "x_shape", "w_shape")

    def __init__(self, x, w, b, saved, geometry):
        super().__init__((x, w, b), saved, (x, w))
        self.geometry = geometry
        self.x_shape, self.w_shape = tuple(x.shape), tuple(w.shape)

    def backward(self, grad, F, saved):
        x, w, columns = saved
        return F.conv2d_backward(F.contiguous(grad), x, w, self.geometry, self.x_shape,
                                 self.w_shape, *self.needs, columns)

    def graph_saved(self):
        x, w, _ = self.inputs
        return x, w, None


class ConvInputGradNode(Node):
    """Gradients of conv_input_grad(g, w) (see the module doc)."""
    __slots__ = ("geometry", "w_shape")

    def __init__(self, g, w, saved, geometry):
        super().__init__((g, w), saved, (g, w))
        self.geometry, self.w_shape = geometry, tuple(w.shape)

    def backward(self, grad, F, saved):
        g, w = saved
        h = F.contiguous(grad)
        need_g, need_w = self.needs
        dg = F.conv2d(h, w, None, self.geometry) if need_g else None
        dw = F.conv2d_weight_grad(h, g, self.w_shape, self.geometry) if need_w else None
        return dg, dw


class ConvWeightGradNode(Node):
    """Gradients of conv_weight_grad(x, g) (see the module doc)."""
    __slots__ = ("geometry", "x_shape")

    def __init__(self, x, g, saved, geometry):
        super().__init__((x, g), saved, (x, g))
        self.geometry, self.x_shape = geometry, tuple(x.shape)

    def backward(self, grad, F, saved):
        x, g = saved
        h = F.contiguous(grad)
        need_x, need_g = self.needs
        dx = F.conv2d_input_grad(g, h, self.x_shape, self.geometry) if need_x else None
        dg = F.conv2d(x, h, None, self.geometry) if need_g else None
        return dx, dg


def _compute_dtype(*tensors):
    dtype = np.result_type(*[float_data(t).dtype for t in tensors if t is not None])
    if dtype not in _FLOATS:
        raise TypeError(f"convolution supports float32 and float64 tensors, got {dtype}; "
                        "convert with .float() or .double()")
    return dtype


def convolve(x, w, b, geometry):
    """conv(x, w) + b for 4-D tensors ``x`` and ``w`` (``b``: (O,) or None), computed in
    their common float dtype; no argument checks (see :func:`conv2d`)."""
    dtype = _compute_dtype(x, w, b)
    B = core.namespace(x, w, b)
    xd, wd = _array(x, dtype), _array(w, dtype)
    bd = None if b is None else _array(b, dtype)
    keep = records(w) and w.requires_grad  # the weight gradient reuses forward's columns
    out, columns = B.conv2d_forward(xd, wd, bd, geometry, keep)
    if records(x, w, b):
        saved = (xd if w.requires_grad and columns is None else None,
                 wd if x.requires_grad else None, columns)
        return wrap(out, ConvNode(x, w, b, saved, geometry))
    return wrap(out)


def conv_input_grad(g, w, x_shape, geometry):
    """The gradient of conv(x, w) with respect to an ``x`` of ``x_shape``, for output gradient
    ``g``: the transposed convolution of ``g`` by ``w`` (differentiable in both)."""
    dtype = _compute_dtype(g, w)
    B = core.namespace(g, w)
    gd, wd = _array(g, dtype), _array(w, dtype)
    out = B.conv2d_input_grad(gd, wd, tuple(x_shape), geometry)
    if records(g, w):
        return wrap(out, ConvInputGradNode(g, w, (gd, wd), geometry))
    return wrap(out)


def conv_weight_grad(x, g, w_shape, geometry):
    """The gradient of conv(x, w) with respect to a ``w`` of ``w_shape``, for output gradient
    ``g`` (differentiable in ``x`` and ``g``)."""
    dtype = _compute_dtype(x, g)
    B = core.namespace(x, g)
    xd, gd = _array(x, dtype), _array(g, dtype)
    out = B.conv2d_weight_grad(xd, gd, tuple(w_shape), geometry)
    if records(x, g):
        return wrap(out, ConvWeightGradNode(x, g, (xd, gd), geometry))
    return wrap(out)


# ---- the functional forms --------------------------------------------------------------------

def _int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def tuple_of(value, dims, name, least):
    """``value`` (an int or ``dims`` ints) as a tuple of ``dims`` ints, each >= ``least``."""
    values = (value,) * dims if _int(value) else value
    if not isinstance(values, (tuple, list)) or len(values) != dims \
            or not all(_int(v) for v in values):
        raise ValueError(f"{name} must be an int or a tuple of {dims} ints, got {value!r}")
    if any(v < least for v in values):
        problem = "positive" if least > 0 else "non-negative"
        raise ValueError(f"{name} must be {problem}, got {value!r}")
    return tuple(int(v) for v in values)


def _paddings(padding, kernel, stride, dilation, dims):
    """Padding (before, after) per spatial dim; 'same' puts an odd extra at the end (PyTorch)."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * dims
        if padding != "same":
            raise ValueError(f"invalid padding string {padding!r}: use 'same', 'valid' or ints")
        if any(s != 1 for s in stride):
            raise ValueError("padding='same' is not supported for strided convolutions: "
                             "use stride=1 or give the padding as ints")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((p, p) for p in tuple_of(padding, dims, "padding", 0))


def operands(name, dims, input, weight, bias, layout):
    """Input, weight and bias as tensors, the input (dims + 1)-D (unbatched) or (dims + 2)-D
    and the weight (dims + 2)-D; ``layout`` names the weight's first two axes."""
    x, w = as_tensor(input), as_tensor(weight)
    b = None if bias is None else as_tensor(bias)
    if x.ndim not in (dims + 1, dims + 2):
        raise ShapeMismatchError(
            f"{name}: expected {dims + 1}-D (unbatched) or {dims + 2}-D (batched) input, got "
            f"input of shape {tuple(x.shape)}")
    if w.ndim != dims + 2:
        raise ShapeMismatchError(
            f"{name}: weight should have {dims + 2} dimensions ({layout}, kernel...), got "
            f"shape {tuple(w.shape)}")
    return x, w, b


def _convolution(name, dims, input, weight, bias, stride, padding, dilation, groups):
    x, w, b = operands(name, dims, input, weight, bias, "out_channels, in_channels / groups")
    unbatched = x.ndim == dims + 1
    if not _int(groups) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
    out_channels, group_channels = w.shape[0], w.shape[1]
    if out_channels % groups:
        raise ShapeMismatchError(f"{name}: the weight's {out_channels} output channels are not "
                                 f"divisible by groups={groups}")
    channels = x.shape[0 if unbatched else 1]
    if channels != group_channels * groups:
        raise ShapeMismatchError(
            f"{name}: weight of shape {tuple(w.shape)} with groups={groups} expects input with "
            f"{group_channels * groups} channels, got input of shape {tuple(x.shape)} "
            f"({channels} channels)")
    if b is not None and tuple(b.shape) != (out_channels,):
        raise ShapeMismatchError(f"{name}: bias should have shape ({out_channels},), "
                                 f"got {tuple(b.shape)}")
    kernel = tuple(w.shape[2:])
    stride = tuple_of(stride, dims, "stride", 1)
    dilation = tuple_of(dilation, dims, "dilation", 1)
    pads = _paddings(padding, kernel, stride, dilation, dims)
    spatial = tuple(x.shape[-dims:])
    for size, k, d, (before, after) in zip(spatial, kernel, dilation, pads):
        if size + before + after < d * (k - 1) + 1:
            padded = tuple(s + a + c for s, (a, c) in zip(spatial, pads))
            reach = tuple(dil * (kern - 1) + 1 for kern, dil in zip(kernel, dilation))
            raise ShapeMismatchError(
                f"{name}: the padded input {padded} is smaller than the (dilated) kernel "
                f"{reach}; use a smaller kernel or dilation, or more padding")
    if dims == 1:  # a 1-D convolution is a 2-D one over a height of 1
        stride, dilation, pads = (1,) + stride, (1,) + dilation, ((0, 0),) + pads
        w = w.reshape((out_channels, group_channels, 1) + kernel)
        x = x.reshape(tuple(x.shape[:-1]) + (1,) + spatial)
    if unbatched:
        x = x.reshape((1,) + tuple(x.shape))
    geometry = Geometry(stride, pads[0] + pads[1], dilation, int(groups))
    out = convolve(x, w, b, geometry)
    shape = tuple(out.shape)
    if dims == 1:
        shape = shape[:2] + shape[3:]
    if unbatched:
        shape = shape[1:]
    return out if shape == tuple(out.shape) else out.reshape(shape)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of (N, C, H, W) or (C, H, W) input by ``weight`` (O, C / groups, KH, KW).

    y[n, o] = bias[o] + sum over the group's channels c and the kernel (i, j) of
    w[o, c, i, j] x[n, c, p stride - pad + i dilation, q stride - pad + j dilation]
    (zero outside the input). ``padding`` is an int, a pair, 'valid' (0) or 'same'
    (output size = input size, stride 1; an odd total pads one more at the end).
    """
    return _convolution("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of (N, C, L) or (C, L) input by ``weight`` (O, C / groups, K)."""
    return _convolution("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


__all__ = ["conv1d", "conv2d", "convolve", "conv_input_grad", "conv_weight_grad"]


def _backward_on_tensors(grad, x, w, geometry, x_shape, w_shape, need_x, need_w, need_b,
                         columns=None):
    """The twin of the backends' fused conv2d_backward, in grad's dtype."""
    dtype = grad.data.dtype
    dx = conv_input_grad(grad, _in_dtype(w, dtype), x_shape, geometry) if need_x else None
    dw = conv_weight_grad(_in_dtype(x, dtype), grad, w_shape, geometry) if need_w else None
    db = grad.sum(axis=(0, 2, 3)) if need_b else None
    return dx, dw, db


twin.provide(conv2d=convolve, conv2d_input_grad=conv_input_grad,
             conv2d_weight_grad=conv_weight_grad, conv2d_backward=_backward_on_tensors)
