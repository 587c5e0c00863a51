"""2-D max, average and adaptive average pooling as differentiable ops.

The windows are PyTorch's (see :mod:`sorix.kernels.pool`). Each pooling is
linear in the input except for the choice of maximum, so its gradients
are linear maps too:

- max pooling: dx = g added at the recorded argmax positions. Under
  ``create_graph=True`` that is an index scatter (differentiable: its own
  gradient is the gather of the same positions).
- average pooling: dx = avg_pool_grad(g) spreads each g over its window;
  avg_pool_grad is an op whose gradient is the average pooling itself, so
  gradients of any order are poolings.

``max_pool2d``, ``avg_pool2d`` and ``adaptive_avg_pool2d`` are the
functional forms (:mod:`sorix.nn.functional`), with PyTorch's arguments.
"""
import numpy as np

from ..autograd.node import Node
from ..errors import ShapeMismatchError
from ..kernels.backend import of
from . import twin
from .conv import tuple_of
from .core import float_data, records, wrap
from .losses import as_tensor
from .shape import index_scatter

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _planes(name, input):
    """The input as (N, C, H, W) float data, and whether it came unbatched (C, H, W)."""
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        raise ShapeMismatchError(f"{name}: expected 3-D (C, H, W) or 4-D (N, C, H, W) input, "
                                 f"got input of shape {tuple(x.shape)}")
    if float_data(x).dtype not in _FLOATS:
        raise TypeError(f"{name} supports float32 and float64 tensors, got {x.dtype}; "
                        "convert with .float() or .double()")
    unbatched = x.ndim == 3
    return (x.reshape((1,) + tuple(x.shape)) if unbatched else x), unbatched


def _data(x):
    d = float_data(x)
    return of(d).contiguous(d)


def _finish(out, unbatched):
    return out.reshape(tuple(out.shape)[1:]) if unbatched else out


def pooled_size(size, kernel, stride, pad, dilation, ceil_mode):
    """PyTorch's pooling output size: floor (or ceil) of
    (size + 2 pad - dilation (kernel - 1) - 1) / stride, plus 1; with ceil_mode the last
    window must still start inside the input or its left padding."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _window_args(name, x, kernel_size, stride, padding, dilation, ceil_mode):
    kernel = tuple_of(kernel_size, 2, "kernel_size", 1)
    stride = kernel if stride is None or stride == () else tuple_of(stride, 2, "stride", 1)
    padding = tuple_of(padding, 2, "padding", 0)
    dilation = tuple_of(dilation, 2, "dilation", 1)
    for k, p, d in zip(kernel, padding, dilation):
        if 2 * p > d * (k - 1) + 1:
            raise ValueError(f"{name}: padding {padding} should be at most half of the "
                             f"(dilated) kernel size {kernel}")
    h, w = x.shape[2], x.shape[3]
    out_hw = tuple(pooled_size(s, k, st, p, d, bool(ceil_mode))
                   for s, k, st, p, d in zip((h, w), kernel, stride, padding, dilation))
    if min(out_hw) < 1:
        raise ShapeMismatchError(f"{name}: input of shape {tuple(x.shape)} is too small for "
                                 f"kernel {kernel} (output size {out_hw})")
    return kernel, stride, padding, dilation, out_hw


# ---- max pooling ----------------------------------------------------------------------------

class MaxPoolNode(Node):
    __slots__ = ("x_shape", "settings")

    def __init__(self, x, index, settings):
        super().__init__((x,), index)
        self.x_shape, self.settings = tuple(x.shape), settings

    def backward(self, grad, F, index):
        return (F.max_pool2d_backward(F.contiguous(grad), index, self.x_shape, self.settings),)

    def graph_saved(self):
        return self.saved  # the argmax positions: constants


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The maximum of each window of (N, C, H, W) or (C, H, W) input; padding counts as -inf.

    ``stride`` defaults to ``kernel_size``. With ``return_indices=True`` also returns
    each maximum's flat position (row W + column) in its plane, as PyTorch.
    """
    x, unbatched = _planes("max_pool2d", input)
    kernel, stride, padding, dilation, out_hw = _window_args(
        "max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    data = _data(x)
    settings = kernel + stride + padding + dilation
    out, index = of(data).max_pool2d(data, out_hw, settings)
    y = wrap(out, MaxPoolNode(x, index, settings)) if records(x) else wrap(out)
    y = _finish(y, unbatched)
    if return_indices:
        return y, _finish(wrap(index), unbatched)
    return y


# ---- average pooling --------------------------------------------------------------------------

class AvgPoolNode(Node):
    __slots__ = ("settings", "x_shape")

    def __init__(self, x, settings):
        super().__init__((x,))
        self.settings, self.x_shape = settings, tuple(x.shape)

    def backward(self, grad, F, saved):
        return (F.avg_pool2d_backward(F.contiguous(grad), self.x_shape, self.settings),)


class AvgPoolGradNode(Node):
    """The gradient of avg_pool_grad(g) is the average pooling of the upstream gradient."""
    __slots__ = ("settings", "out_hw")

    def __init__(self, g, settings):
        super().__init__((g,))
        self.settings, self.out_hw = settings, tuple(g.shape[2:])

    def backward(self, grad, F, saved):
        return (F.avg_pool2d(F.contiguous(grad), self.out_hw, self.settings),)


def avg_pool(x, out_hw, settings):
    """Average pooling of the 4-D tensor ``x`` with kernel ``settings`` (no checks)."""
    data = _data(x)
    out = of(data).avg_pool2d(data, tuple(out_hw), settings)
    return wrap(out, AvgPoolNode(x, settings)) if records(x) else wrap(out)


def avg_pool_grad(g, x_shape, settings):
    """The input gradient of average pooling for output gradient ``g`` (differentiable)."""
    data = _data(g)
    out = of(data).avg_pool2d_backward(data, tuple(x_shape), settings)
    return wrap(out, AvgPoolGradNode(g, settings)) if records(g) else wrap(out)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """The mean of each window of (N, C, H, W) or (C, H, W) input; padding counts as 0.

    The divisor is the window's size up to the padded edge (``count_include_pad``), the
    number of inputs it covers (``count_include_pad=False``), or ``divisor_override``.
    """
    x, unbatched = _planes("avg_pool2d", input)
    kernel, stride, padding, _, out_hw = _window_args(
        "avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    divisor = 0
    if divisor_override is not None:
        divisor = tuple_of(divisor_override, 1, "divisor_override", 1)[0]
    settings = kernel + stride + padding + (False, bool(count_include_pad), divisor)
    return _finish(avg_pool(x, out_hw, settings), unbatched)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to ``output_size`` (an int, or a pair whose None entries keep the
    input's size): output position o of O along an axis of size I averages the inputs
    [floor(o I / O), ceil((o + 1) I / O))."""
    x, unbatched = _planes("adaptive_avg_pool2d", input)
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    if len(sizes) != 2:
        raise ValueError(f"output_size must be an int or a pair, got {output_size!r}")
    out_hw = tuple(int(x.shape[2 + k]) if s is None else tuple_of(s, 1, "output_size", 1)[0]
                   for k, s in enumerate(sizes))
    if min(x.shape[2], x.shape[3]) < 1:
        raise ShapeMismatchError(f"adaptive_avg_pool2d: input of shape {tuple(x.shape)} has an "
                                 "empty spatial dimension")
    if out_hw == (1, 1):  # global average pooling: a mean over each plane
        return _finish(x.mean(axis=(2, 3), keepdims=True), unbatched)
    settings = (1, 1, 1, 1, 0, 0, True, False, 0)
    return _finish(avg_pool(x, out_hw, settings), unbatched)


def _max_pool_backward_on_tensors(grad, index, x_shape, settings):
    """The twin of the backends' max_pool2d_backward: ``grad`` scattered to the argmax
    positions, a differentiable index scatter over the flattened input (positions made
    global: plane k starts at k H W)."""
    n, c, h, w = x_shape
    size = n * c * h * w
    index = of(index).to_host(index)
    planes = np.arange(n * c, dtype=np.int64).reshape(n, c, 1, 1) * (h * w)
    # a window that read no input (position -1) scatters into one spare slot, cut off after
    positions = np.where(index < 0, size, index + planes).reshape(-1)
    flat = index_scatter(grad.reshape(-1), (size + 1,), positions)
    return flat[:size].reshape(x_shape)


twin.provide(max_pool2d_backward=_max_pool_backward_on_tensors,
             avg_pool2d_backward=avg_pool_grad, avg_pool2d=avg_pool)
