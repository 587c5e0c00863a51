"""softmax and log_softmax along one axis, numerically stable.

On the CPU both directions are one-pass kernels: over rows along the last axis
(:mod:`sorix.kernels.softmax`), over blocks of columns along another
(:mod:`sorix.kernels.softmax_across`). On a GPU and under ``create_graph=True``
the rules below run on the namespace ``F`` they are given.
"""
from ..autograd.node import Node
from ..kernels import cpu as _cpu
from ..kernels.axes import axis_index
from ..kernels.backend import of
from . import twin
from .core import float_data, records, wrap, wrap_watched


class SoftmaxNode(Node):
    """dx = y * (g - sum(g * y))."""
    __slots__ = ("axis",)

    def __init__(self, x, y, axis):
        super().__init__((x,), y)
        self.axis = axis

    def backward(self, grad, F, y):
        if F is _cpu and y.ndim:  # one pass over each row (or block of columns)
            return (_cpu.over_axis("softmax_backward", self.axis,
                                   grad.astype(y.dtype, copy=False), y),)
        inner = F.sum(F.binary("mul", grad, y), self.axis, True)
        return (F.binary("mul", y, F.binary("sub", grad, inner)),)

    def graph_saved(self):
        return softmax(self.inputs[0], self.axis)


class LogSoftmaxNode(Node):
    """dx = g - softmax(x) * sum(g)."""
    __slots__ = ("axis",)

    def __init__(self, x, y, axis):
        super().__init__((x,), y)
        self.axis = axis

    def backward(self, grad, F, y):
        if F is _cpu and y.ndim:  # one pass over each row (or block of columns)
            return (_cpu.over_axis("log_softmax_backward", self.axis,
                                   grad.astype(y.dtype, copy=False), y),)
        total = F.sum(grad, self.axis, True)
        return (F.binary("sub", grad, F.binary("mul", F.unary("exp", y), total)),)

    def graph_saved(self):
        return log_softmax(self.inputs[0], self.axis)


def _axis(x, axis):
    return axis_index(axis, x.ndim)


def softmax(x, axis=-1):
    axis = _axis(x, axis)
    data = float_data(x)
    y = of(data).softmax(data, axis)
    if records(x):
        return wrap_watched(y, SoftmaxNode(x, y, axis))
    return wrap(y)


def log_softmax(x, axis=-1):
    axis = _axis(x, axis)
    data = float_data(x)
    y = of(data).log_softmax(data, axis)
    if records(x):
        return wrap_watched(y, LogSoftmaxNode(x, y, axis))
    return wrap(y)


twin.provide(softmax=softmax, log_softmax=log_softmax)
