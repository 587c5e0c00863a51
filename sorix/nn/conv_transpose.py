"""Transposed convolution layers: ConvTranspose1d and ConvTranspose2d, as PyTorch has them.

``weight`` has PyTorch's transposed layout (in_channels, out_channels / groups,
*kernel_size) and ``bias`` the shape (out_channels,) (``state_dict`` keys
``weight`` and ``bias``). Both start from U(-k, k) with k = 1 / sqrt(fan_in),
where, as in PyTorch, fan_in is computed from the weight's dimensions 1 and up,
out_channels / groups * prod(kernel_size): kaiming_uniform_ with a = sqrt(5)
reads the transposed weight as if it were an ordinary one. Values are drawn
from ``sorix.random.generator()``, so ``sorix.manual_seed`` repeats them.
``forward(input, output_size)`` picks the output_padding that gives
``output_size``, the way PyTorch does.
"""
import math

import numpy as np

from ..dtypes import numpy_dtype
from ..ops.conv import tuple_of
from ..ops.conv_transpose import (check_output_padding, conv_transpose1d, conv_transpose2d,
                                  transposed_size)
from ..tensor import Tensor
from .conv import WeightAliases, _positive, _uniform, conv_extra_repr
from .module import Module, check_device


class _ConvTransposeNd(WeightAliases, Module):
    """What ConvTranspose1d and ConvTranspose2d share: argument checks, parameters,
    ``output_size`` and repr."""

    _dims = 0
    _function = None
    # (in, out / groups, *kernel): sorix.nn.init then computes PyTorch's fans for it too
    _pytorch_layout_weights = ("weight",)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        dims = self._dims
        name = type(self).__name__
        in_channels = _positive(in_channels, "in_channels")
        out_channels = _positive(out_channels, "out_channels")
        groups = _positive(groups, "groups")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups "
                             f"({groups}); change one of them")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups "
                             f"({groups}); change one of them")
        kernel_size = tuple_of(kernel_size, dims, "kernel_size", 1)
        stride = tuple_of(stride, dims, "stride", 1)
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be ints, got {padding!r} (transposed "
                             "convolutions take no 'same' or 'valid')")
        padding = tuple_of(padding, dims, "padding", 0)
        output_padding = tuple_of(output_padding, dims, "output_padding", 0)
        dilation = tuple_of(dilation, dims, "dilation", 1)
        check_output_padding(output_padding, stride, dilation, name)
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, got "
                             f"{padding_mode!r}")
        dtype = np.dtype(np.float32) if dtype is None else numpy_dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"{name}: parameters must be float32 or float64, got {dtype}; pass "
                            "dtype=sorix.float32 or sorix.float64")
        device = check_device("cpu" if device is None else device)
        # every argument is checked: only now does the module take any state
        super().__init__()
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.output_padding, self.dilation = output_padding, dilation
        self.padding_mode, self.device = padding_mode, device
        fan_in = out_channels // groups * math.prod(kernel_size)
        bound = 1.0 / math.sqrt(fan_in)
        shape = (in_channels, out_channels // groups) + kernel_size
        # drawn on the host (the same values on every device for one seed), then moved
        self.weight = Tensor(_uniform(shape, bound, dtype.type), requires_grad=True,
                             device=device)
        self.bias = Tensor(_uniform((out_channels,), bound, dtype.type), requires_grad=True,
                           device=device) if bias else None

    def _output_padding(self, x, output_size):
        """The output_padding that makes the output ``output_size`` (spatial sizes, or the
        whole shape, batch and channels included), or the layer's own when None."""
        if output_size is None:
            return self.output_padding
        name, dims = type(self).__name__, self._dims
        if x.ndim not in (dims + 1, dims + 2):
            raise ValueError(f"{name}: expected {dims + 1}-D (unbatched) or {dims + 2}-D "
                             f"(batched) input, got input of shape {tuple(x.shape)}")
        leading = x.ndim - dims
        sizes = tuple(output_size)
        if len(sizes) == leading + dims:
            sizes = sizes[leading:]
        if len(sizes) != dims or not all(isinstance(v, (int, np.integer))
                                         and not isinstance(v, bool) for v in sizes):
            raise ValueError(f"{name}: for {x.ndim}-D input, output_size must be {dims} or "
                             f"{leading + dims} ints, got {output_size!r}")
        spatial = tuple(x.shape[leading:])
        smallest = tuple(transposed_size(*args) for args in zip(
            spatial, self.kernel_size, self.stride, self.padding, self.dilation))
        largest = tuple(low + s - 1 for low, s in zip(smallest, self.stride))
        if any(not low <= int(v) <= high for v, low, high in zip(sizes, smallest, largest)):
            raise ValueError(f"{name}: requested an output size of {tuple(sizes)}, but an input "
                             f"of spatial size {spatial} gives sizes from {smallest} to "
                             f"{largest}; ask for a size in that range")
        return tuple(int(v) - low for v, low in zip(sizes, smallest))

    def forward(self, input, output_size=None):
        """The transposed convolution of ``input`` ((N, C_in, *spatial) or (C_in, *spatial));
        ``output_size`` (spatial sizes or the full output shape) overrides output_padding
        to give an output of that size."""
        output_padding = self._output_padding(input, output_size)
        return type(self)._function(input, self.weight, self.bias, self.stride, self.padding,
                                    output_padding, self.groups, self.dilation)

    def extra_repr(self):
        return conv_extra_repr(self)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution over (N, C_in, L) or (C_in, L) input, weight
    (in_channels, out_channels / groups, kernel_size): the gradient of Conv1d with
    respect to its input (see :func:`sorix.nn.functional.conv_transpose1d`)."""
    _dims = 1
    _function = staticmethod(conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution over (N, C_in, H, W) or (C_in, H, W) input, weight
    (in_channels, out_channels / groups, KH, KW): the gradient of Conv2d with respect to
    its input, output height (H - 1) stride - 2 padding + dilation (KH - 1) +
    output_padding + 1 (see :func:`sorix.nn.functional.conv_transpose2d`)."""
    _dims = 2
    _function = staticmethod(conv_transpose2d)
