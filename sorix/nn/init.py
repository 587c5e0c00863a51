"""Initialisers that fill a tensor in place, keep its dtype, and return it.

Draws come from ``sorix.random.generator()`` (seeded by
``sorix.manual_seed``), in the tensor's own dtype, and are written into the
existing array under ``no_grad`` (never by rebinding ``.data``, so an
optimizer holding the tensor keeps training it).

Fans follow Sorix's weight layout, the transpose of PyTorch's: a Linear
``W`` has shape (in, out), so for a 2-D tensor ``fan_in = shape[0]`` and
``fan_out = shape[1]``. Extra trailing dims multiply both (a receptive
field). Tensors with fewer than 2 dims have no fans.

The weights of the layers that keep PyTorch's layout, (out, in, *kernel) for a
convolution and (num_embeddings, dim) for an embedding, are registered by their
layers (:func:`mark_pytorch_layout`) and get PyTorch's fans,
``fan_in = shape[1]`` and ``fan_out = shape[0]`` times the receptive field, so
``kaiming_normal_(conv.weight, mode="fan_out")`` scales as it does in PyTorch.
"""
import math
import warnings
import weakref

import numpy as np

from .. import random as _random
from ..kernels.backend import of
from ..tensor import Tensor


def _check(tensor):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"expected a Tensor, got {type(tensor).__name__}")
    return tensor


def _is_empty(tensor):
    """Whether ``tensor`` has no elements; then there is nothing to draw (and its fans
    may be 0, which the fan-based scales would divide by), so warn as PyTorch does."""
    if _check(tensor).data.size:
        return False
    warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=3)
    return True


def _write(tensor, values):
    """Copy ``values`` into the tensor's array in place (the no_grad write init needs;
    values drawn on the host are copied to a GPU tensor's device)."""
    of(tensor.data).assign(tensor.data, Ellipsis, values)
    tensor._version[0] += 1
    return tensor


def _draw_dtype(tensor):
    dtype = tensor.data.dtype
    if dtype.kind != "f":
        raise TypeError(f"random initialisation needs a floating-point tensor, got {dtype}")
    # the generator draws float32 or float64 natively; other floats are cast after
    return np.float32 if dtype == np.float32 else np.float64


def uniform_(tensor, a=0.0, b=1.0):
    """Fill with U(a, b)."""
    _check(tensor)
    if a > b:  # (the draw would silently come from [b, a))
        raise ValueError(f"uniform_ expects to return a [from, to) range, but found "
                         f"from={a} > to={b}; pass a <= b")
    dtype = _draw_dtype(tensor)
    values = _random.generator().random(tensor.data.shape, dtype=dtype)
    values *= dtype(b - a)
    values += dtype(a)
    return _write(tensor, values)


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with N(mean, std^2)."""
    _check(tensor)
    if std < 0:
        raise ValueError(f"std must be non-negative, got {std}")
    dtype = _draw_dtype(tensor)
    values = _random.generator().standard_normal(tensor.data.shape, dtype=dtype)
    values *= dtype(std)
    values += dtype(mean)
    return _write(tensor, values)


def constant_(tensor, val):
    """Fill with ``val``."""
    _check(tensor)
    return _write(tensor, val)


def zeros_(tensor):
    return constant_(tensor, 0)


def ones_(tensor):
    return constant_(tensor, 1)


def calculate_gain(nonlinearity, param=None):
    """The gain that keeps activations' variance steady through ``nonlinearity``:
    1 (linear, sigmoid), 5/3 (tanh), sqrt(2) (relu), sqrt(2 / (1 + slope^2)) (leaky_relu)."""
    if nonlinearity in ("linear", "identity", "sigmoid") or nonlinearity.startswith("conv"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope * slope))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


#: id -> tensor, for the weights in PyTorch's (out, in, ...) layout. Weak: a weight that
#: is gone leaves, and a new tensor reusing its id is not mistaken for it.
_pytorch_layout = weakref.WeakValueDictionary()


def mark_pytorch_layout(tensor):
    """Record that ``tensor`` is a weight in PyTorch's (out, in, *kernel) layout (layers
    call this for their own weights), so its fans are PyTorch's."""
    _pytorch_layout[id(tensor)] = tensor


def has_pytorch_layout(tensor):
    return _pytorch_layout.get(id(tensor)) is tensor


def calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) = (shape[0], shape[1]) times the trailing dims' product ((in, out)
    layout), or (shape[1], shape[0]) times it for a weight in PyTorch's layout."""
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out can not be computed for a tensor with fewer "
                         f"than 2 dimensions, got shape {shape}")
    receptive = 1
    for n in shape[2:]:
        receptive *= n
    if has_pytorch_layout(tensor):
        return shape[1] * receptive, shape[0] * receptive
    return shape[0] * receptive, shape[1] * receptive


_calculate_fan_in_and_fan_out = calculate_fan_in_and_fan_out  # PyTorch's spelling


def _fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported: mode must be 'fan_in' or 'fan_out'")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


_calculate_correct_fan = _fan  # PyTorch's spelling


def xavier_uniform_(tensor, gain=1.0):
    """U(-a, a) with a = gain sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    if _is_empty(tensor):
        return tensor
    fan_in, fan_out = calculate_fan_in_and_fan_out(_check(tensor))
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """N(0, std^2) with std = gain sqrt(2 / (fan_in + fan_out))."""
    if _is_empty(tensor):
        return tensor
    fan_in, fan_out = calculate_fan_in_and_fan_out(_check(tensor))
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """U(-b, b) with b = gain sqrt(3 / fan) (He et al., 2015); ``a`` is leaky_relu's slope."""
    if _is_empty(tensor):
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(_check(tensor), mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """N(0, std^2) with std = gain / sqrt(fan)."""
    if _is_empty(tensor):
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(_check(tensor), mode))
    return normal_(tensor, 0.0, std)
