"""1-D max, average and adaptive average pooling: the 2-D ops on a (N, C, 1, L) view.

A window of k values along L is a (1, k) window of a one-row plane, so every
argument keeps PyTorch's meaning, and the kernels, the gradients (of any
order) and the indices are the 2-D ones: a maximum's flat position in a
(1, L) plane is its position along L. The arguments are checked here first,
so that errors speak of the 1-D call.
"""
from ..errors import ShapeMismatchError
from .conv import tuple_of
from .losses import as_tensor
from .pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d, pooled_size


def _one(value, name, least):
    """An int, or a 1-tuple of one, as an int >= ``least``."""
    return tuple_of(value, 1, name, least)[0]


def _rows(name, input):
    """(N, C, L) or (C, L) input as (N, C, 1, L) or (C, 1, L), and its length L."""
    x = as_tensor(input)
    if x.ndim not in (2, 3):
        raise ShapeMismatchError(f"{name}: expected 2-D (C, L) or 3-D (N, C, L) input, got "
                                 f"input of shape {tuple(x.shape)}")
    shape = tuple(x.shape)
    return x.reshape(shape[:-1] + (1, shape[-1])), shape[-1]


def _drop_row(y):
    shape = tuple(y.shape)
    return y.reshape(shape[:-2] + shape[-1:])


def _window(name, length, kernel_size, stride, padding, dilation, ceil_mode):
    kernel = _one(kernel_size, "kernel_size", 1)
    stride = kernel if stride is None or stride == () else _one(stride, "stride", 1)
    padding = _one(padding, "padding", 0)
    dilation = _one(dilation, "dilation", 1)
    if 2 * padding > dilation * (kernel - 1) + 1:
        raise ValueError(f"{name}: padding {padding} should be at most half of the (dilated) "
                         f"kernel size {kernel}")
    if pooled_size(length, kernel, stride, padding, dilation, bool(ceil_mode)) < 1:
        raise ShapeMismatchError(f"{name}: input of length {length} is too short for kernel "
                                 f"size {kernel}")
    return kernel, stride, padding, dilation


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The maximum of each window of (N, C, L) or (C, L) input; padding counts as -inf.
    ``stride`` defaults to ``kernel_size``; ``return_indices=True`` also returns each
    maximum's position along L."""
    x, length = _rows("max_pool1d", input)
    k, s, p, d = _window("max_pool1d", length, kernel_size, stride, padding, dilation,
                         ceil_mode)
    out = max_pool2d(x, (1, k), (1, s), (0, p), (1, d), ceil_mode, return_indices)
    if return_indices:
        return _drop_row(out[0]), _drop_row(out[1])
    return _drop_row(out)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """The mean of each window of (N, C, L) or (C, L) input; padding counts as 0, and in
    the divisor unless ``count_include_pad=False``."""
    x, length = _rows("avg_pool1d", input)
    k, s, p, _ = _window("avg_pool1d", length, kernel_size, stride, padding, 1, ceil_mode)
    return _drop_row(avg_pool2d(x, (1, k), (1, s), (0, p), ceil_mode, count_include_pad))


def adaptive_avg_pool1d(input, output_size):
    """Average pooling to ``output_size`` values along L, whatever L: output o of O
    averages the inputs [floor(o L / O), ceil((o + 1) L / O))."""
    x, length = _rows("adaptive_avg_pool1d", input)
    size = _one(output_size, "output_size", 1)
    if length < 1:
        raise ShapeMismatchError(f"adaptive_avg_pool1d: input of shape "
                                 f"{tuple(_drop_row(x).shape)} is empty along L")
    return _drop_row(adaptive_avg_pool2d(x, (1, size)))
