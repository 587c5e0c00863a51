"""Pooling layers: MaxPool1d/2d, AvgPool1d/2d and AdaptiveAvgPool1d/2d, with PyTorch's
arguments.

The windows and divisors are PyTorch's; see :mod:`sorix.ops.pooling` (the 1-D
layers run it on a one-row plane, :mod:`sorix.ops.pooling1d`) and
:func:`sorix.nn.functional.max_pool2d` & co.
"""
from ..ops.conv import tuple_of
from ..ops.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from ..ops.pooling1d import adaptive_avg_pool1d, avg_pool1d, max_pool1d
from .module import Module


def _checked(value, name, least, dims=2):
    """``value`` as given (PyTorch keeps ints as ints), once it is known to be valid for a
    pooling over ``dims`` dimensions."""
    tuple_of(value, dims, name, least)
    return tuple(value) if isinstance(value, list) else value


class MaxPool2d(Module):
    """The maximum of each kernel_size window (padding counts as -inf); ``stride`` defaults
    to ``kernel_size``. ``return_indices=True`` also returns each maximum's flat position
    in its plane."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = _checked(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _checked(stride, "stride", 1)
        self.padding = _checked(padding, "padding", 0)
        self.dilation = _checked(dilation, "dilation", 1)
        self.return_indices = bool(return_indices)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """The mean of each kernel_size window (padding counts as 0); the divisor counts the
    padding (``count_include_pad=True``), only the inputs covered, or is ``divisor_override``."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = _checked(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _checked(stride, "stride", 1)
        self.padding = _checked(padding, "padding", 0)
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        if divisor_override is not None:
            tuple_of(divisor_override, 1, "divisor_override", 1)
        self.divisor_override = divisor_override

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed ``output_size`` (int, or a pair whose None entries keep the
    input's size), whatever the input's size."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


def _checked_1d(value, name, least):
    return _checked(value, name, least, dims=1)


class MaxPool1d(Module):
    """The maximum of each kernel_size window along L of (N, C, L) input (padding counts as
    -inf); ``stride`` defaults to ``kernel_size``. ``return_indices=True`` also returns
    each maximum's position along L."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = _checked_1d(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _checked_1d(stride, "stride", 1)
        self.padding = _checked_1d(padding, "padding", 0)
        self.dilation = _checked_1d(dilation, "dilation", 1)
        self.return_indices = bool(return_indices)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x):
        return max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool1d(Module):
    """The mean of each kernel_size window along L of (N, C, L) input (padding counts as 0,
    and in the divisor unless ``count_include_pad=False``)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = _checked_1d(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _checked_1d(stride, "stride", 1)
        self.padding = _checked_1d(padding, "padding", 0)
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x):
        return avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    """Average pooling to ``output_size`` values along L, whatever the input's length."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = _checked_1d(output_size, "output_size", 1)

    def forward(self, x):
        return adaptive_avg_pool1d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"
