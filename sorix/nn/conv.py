"""Convolution layers: Conv1d and Conv2d with PyTorch's arguments, layouts and initialisation.

``weight`` has shape (out_channels, in_channels / groups, *kernel_size) and
``bias`` (out_channels,), as in PyTorch (``state_dict`` keys ``weight`` and
``bias``); ``W`` and ``b`` read the same tensors under the names sorix's
Linear uses. Both start from U(-k, k) with k = 1 / sqrt(fan_in),
fan_in = in_channels / groups * prod(kernel_size): PyTorch's default
(kaiming_uniform_ with a = sqrt(5) for the weight), drawn from
``sorix.random.generator()`` so that ``sorix.manual_seed`` repeats it.
"""
import math

import numpy as np

from .. import random as _random
from ..dtypes import numpy_dtype
from ..ops.conv import conv1d, conv2d, tuple_of
from ..tensor import Tensor
from .module import Module, check_device

_PADDING_MODES = ("zeros",)


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _uniform(shape, bound, dtype):
    values = _random.generator().random(shape, dtype=dtype)
    values *= dtype(2 * bound)
    values -= dtype(bound)
    return values


def conv_extra_repr(layer):
    """PyTorch's repr of a (transposed) convolution: channels, kernel and stride, then
    padding, dilation, output_padding, groups and bias where they are not the defaults."""
    dims = layer._dims
    text = (f"{layer.in_channels}, {layer.out_channels}, kernel_size={layer.kernel_size}, "
            f"stride={layer.stride}")
    for name, default in (("padding", (0,) * dims), ("dilation", (1,) * dims),
                          ("output_padding", (0,) * dims), ("groups", 1)):
        value = getattr(layer, name, default)  # (plain convolutions have no output_padding)
        if value != default:
            text += f", {name}={value}"
    return text + (", bias=False" if layer.bias is None else "")


class WeightAliases:
    """``W`` and ``b``, the names sorix's Linear uses, for a layer's ``weight`` and ``bias``
    (the same tensors, in PyTorch's layout)."""

    @property
    def W(self):
        return self.weight

    @property
    def b(self):
        return self.bias


class _ConvNd(WeightAliases, Module):
    """What Conv1d and Conv2d share: argument checks, parameters, repr."""

    _dims = 0
    _function = None
    _pytorch_layout_weights = ("weight",)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device="cpu", dtype=None):
        super().__init__()
        dims = self._dims
        self.in_channels = _positive(in_channels, "in_channels")
        self.out_channels = _positive(out_channels, "out_channels")
        self.groups = _positive(groups, "groups")
        if self.in_channels % self.groups:
            raise ValueError(f"in_channels ({in_channels}) must be divisible by groups ({groups})")
        if self.out_channels % self.groups:
            raise ValueError(f"out_channels ({out_channels}) must be divisible by groups "
                             f"({groups})")
        self.kernel_size = tuple_of(kernel_size, dims, "kernel_size", 1)
        self.stride = tuple_of(stride, dims, "stride", 1)
        self.dilation = tuple_of(dilation, dims, "dilation", 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"invalid padding string {padding!r}: use 'same', 'valid' "
                                 "or ints")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions: "
                                 "use stride=1 or give the padding as ints")
            self.padding = padding
        else:
            self.padding = tuple_of(padding, dims, "padding", 0)
        if padding_mode not in _PADDING_MODES:
            raise NotImplementedError(f"padding_mode={padding_mode!r} is not supported: "
                                      "only 'zeros'")
        self.padding_mode = padding_mode
        dtype = np.dtype(np.float32) if dtype is None else numpy_dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"convolution parameters must be float32 or float64, got {dtype}")
        self.device = check_device(device)
        fan_in = self.in_channels // self.groups * math.prod(self.kernel_size)
        bound = 1.0 / math.sqrt(fan_in)
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        # drawn on the host (the same values on every device for one seed), then moved
        self.weight = Tensor(_uniform(shape, bound, dtype.type), requires_grad=True,
                             device=device)
        self.bias = Tensor(_uniform((self.out_channels,), bound, dtype.type),
                           requires_grad=True, device=device) if bias else None

    def forward(self, x):
        return type(self)._function(x, self.weight, self.bias, self.stride, self.padding,
                                    self.dilation, self.groups)

    def extra_repr(self):
        return conv_extra_repr(self)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) or (C, L) input (see :func:`sorix.nn.functional.conv1d`)."""
    _dims = 1
    _function = staticmethod(conv1d)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) or (C, H, W) input:
    y[n, o] = bias[o] + sum_{c, i, j} weight[o, c, i, j] x[n, c, p s - pad + i d, q s - pad + j d]
    (see :func:`sorix.nn.functional.conv2d`)."""
    _dims = 2
    _function = staticmethod(conv2d)
