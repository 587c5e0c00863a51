"""Reductions: sum, mean, max, min, var, std, and argmax/argmin.

Every reduction takes an int or tuple axis (``axis=`` or ``dim=``) and
``keepdims``. Backward puts the reduced axes back and broadcasts.
"""
import numpy as np

from ..autograd.node import Node
from ..errors import EmptyReductionError
from ..kernels.backend import of
from . import twin
from .core import float_data, records, wrap, wrap_watched
from .core import normalize_axis as _normalize_axis


def normalize_axis(axis, ndim):
    """The reduced axes; a 0-d tensor accepts dim 0 or -1 (as in PyTorch) and reduces nothing."""
    axes = _normalize_axis(axis, ndim)
    return axes if ndim else ()


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _spread(F, grad, shape, axes, keepdims):
    """The gradient of a reduction, broadcast back to the input's shape."""
    kept = _kept_shape(shape, axes)
    if not keepdims and tuple(grad.shape) != kept:
        grad = F.reshape(grad, kept)
    return F.broadcast_to(grad, shape)


class SumNode(Node):
    __slots__ = ("shape", "axes", "keepdims", "scale")

    def __init__(self, x, axes, keepdims, scale):
        super().__init__((x,))
        self.shape = x.data.shape
        self.axes, self.keepdims, self.scale = axes, keepdims, scale

    @property
    def name(self):
        return "SumBackward" if self.scale == 1 else "MeanBackward"

    def backward(self, grad, F, saved):
        if self.scale != 1:
            grad = F.binary("mul", grad, F.scalar_array(self.scale, grad.dtype))
        return (_spread(F, grad, self.shape, self.axes, self.keepdims),)


def sum(x, axis=None, keepdims=False, dtype=None):
    axes = normalize_axis(axis, x.ndim)
    data = x.data
    if dtype is None and data.dtype.kind in "biu":
        dtype = np.int64  # PyTorch sums integers and bools as int64
    out = of(data).sum(data, axes, keepdims, dtype)
    if records(x):
        return wrap(out, SumNode(x, axes, keepdims, 1))
    return wrap(out)


def mean(x, axis=None, keepdims=False):
    axes = normalize_axis(axis, x.ndim)
    data = float_data(x)
    count = 1
    for ax in axes:
        count *= data.shape[ax]
    out = of(data).mean(data, axes, keepdims)
    if records(x):
        return wrap(out, SumNode(x, axes, keepdims, 1.0 / count if count else float("nan")))
    return wrap(out)


class ExtremumNode(Node):
    """max/min: the gradient is shared equally among tied extreme elements."""
    __slots__ = ("axes", "keepdims", "kind")

    def __init__(self, x, out, axes, keepdims, kind):
        super().__init__((x,), (x.data, out), (x,))
        self.axes, self.keepdims, self.kind = axes, keepdims, kind

    @property
    def name(self):
        return self.kind.capitalize() + "Backward"

    def _hits(self):
        """1 at each extreme element of x, 0 elsewhere, in x's dtype (piecewise constant:
        an array in every mode)."""
        x, out = self.saved
        B = of(x)
        kept = out if self.keepdims else B.reshape(out, _kept_shape(x.shape, self.axes))
        return B.astype(B.compare("same", x, kept), x.dtype)

    def backward(self, grad, F, saved):
        # each extreme element gets the gradient divided by the number of tied extremes:
        # the division on the reduced shape, then one product broadcast over x's shape
        hits = self._hits()
        count = of(hits).sum(hits, self.axes, True)
        kept = tuple(count.shape)
        grad = grad if tuple(grad.shape) == kept else F.reshape(grad, kept)
        return (F.binary("mul", hits, F.binary("div", grad, count)),)


def _refuse_empty(name, x, axis, axes):
    """A max, min, argmax or argmin over a dimension of size 0 has no value; reducing only
    non-empty dimensions of an empty tensor is fine (the result is empty too), as in
    PyTorch: zeros(2, 0, 3).max(dim=0) has shape (0, 3)."""
    empty = [ax for ax in axes if x.shape[ax] == 0]
    if not empty:
        return
    if axis is None:
        raise EmptyReductionError(f"{name}() of an empty tensor of shape {tuple(x.shape)}: "
                                  "there is no value to return; pass dim= to reduce only "
                                  "dimensions of non-zero size")
    raise EmptyReductionError(f"{name}(): dimension {empty[0]} of the tensor of shape "
                              f"{tuple(x.shape)} has size 0, so there is no value to return; "
                              "reduce only dimensions of non-zero size")


def _extremum(kind, x, axis, keepdims):
    axes = normalize_axis(axis, x.ndim)
    _refuse_empty(kind, x, axis, axes)
    B = of(x.data)
    out = (B.max if kind == "max" else B.min)(x.data, axes, keepdims)
    if records(x):
        return wrap_watched(out, ExtremumNode(x, out, axes, keepdims, kind))
    return wrap(out)


def max(x, axis=None, keepdims=False):
    return _extremum("max", x, axis, keepdims)


def min(x, axis=None, keepdims=False):
    return _extremum("min", x, axis, keepdims)


def var(x, axis=None, keepdims=False, correction=1):
    """Variance with Bessel's correction by default (``correction=1``), as in PyTorch."""
    axes = normalize_axis(axis, x.ndim)
    count = 1
    for ax in axes:
        count *= x.shape[ax]
    centred = x - mean(x, axes, keepdims=True)
    return sum(centred * centred, axes, keepdims) / builtins_max(count - correction, 0)


class StdNode(Node):
    """std = sqrt(var): d std / d var = 1 / (2 std), taken as 0 where std is 0 (PyTorch's
    rule: a constant input has zero gradient, not 0 * inf = NaN)."""
    __slots__ = ()

    def __init__(self, variance, out):
        super().__init__((variance,), (variance.data, out))

    def _masks(self):
        """(1 where the spread is 0, else 0; its complement): constants in every mode."""
        out = self.saved[1]
        B = of(out)
        zero = B.compare("eq", out, 0)
        return B.astype(zero, out.dtype), B.astype(B.invert(zero), out.dtype)

    def backward(self, grad, F, saved):
        # grad * keep / (2 sqrt(var + zero)): a variance of 1 in place of 0, and a 0
        # factor there, so every derivative stays finite
        zero, keep = self._masks()
        safe = F.unary("sqrt", F.binary("add", saved[0], zero))
        return (F.binary("mul", F.binary("div", grad, F.binary("add", safe, safe)), keep),)

    def graph_saved(self):
        return self.inputs  # the variance


def std(x, axis=None, keepdims=False, correction=1):
    """Standard deviation, sqrt(var); its gradient is 0 where the spread is 0."""
    variance = var(x, axis, keepdims, correction)
    data = variance.data
    out = of(data).unary("sqrt", data)
    if records(variance):
        return wrap_watched(out, StdNode(variance, out))
    return wrap(out)


def arg_extremum(kind, x, axis, keepdims):
    """Indices (int64) of the max or min along ``axis`` (flattened when None)."""
    _refuse_empty("arg" + kind, x, axis, normalize_axis(axis, x.ndim))
    B = of(x.data)
    return wrap((B.argmax if kind == "max" else B.argmin)(x.data, axis, keepdims))


def builtins_max(a, b):
    return a if a > b else b


twin.provide(sum=sum)
