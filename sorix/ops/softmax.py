"""softmax and log_softmax along one axis, numerically stable."""
from ..autograd.node import Node
from ..kernels.axes import axis_index
from ..kernels.backend import of
from .core import float_data, records, wrap


class SoftmaxNode(Node):
    """dx = y * (g - sum(g * y))."""
    __slots__ = ("axis",)

    def __init__(self, x, y, axis):
        super().__init__((x,), y)
        self.axis = axis

    def backward(self, grad):
        y = self.saved
        B = of(y)
        inner = B.sum(B.binary("mul", grad, y), self.axis, True)
        return (B.binary("mul", y, B.binary("sub", grad, inner)),)

    def backward_graph(self, grad):
        y = softmax(self.inputs[0], self.axis)
        return (y * (grad - (grad * y).sum(axis=self.axis, keepdims=True)),)


class LogSoftmaxNode(Node):
    """dx = g - softmax(x) * sum(g)."""
    __slots__ = ("axis",)

    def __init__(self, x, y, axis):
        super().__init__((x,), y)
        self.axis = axis

    def backward(self, grad):
        y = self.saved
        B = of(y)
        total = B.sum(grad, self.axis, True)
        return (B.binary("sub", grad, B.binary("mul", B.unary("exp", y), total)),)

    def backward_graph(self, grad):
        p = softmax(self.inputs[0], self.axis)
        return (grad - p * grad.sum(axis=self.axis, keepdims=True),)


def _axis(x, axis):
    return axis_index(axis, x.ndim)


def softmax(x, axis=-1):
    axis = _axis(x, axis)
    data = float_data(x)
    y = of(data).softmax(data, axis)
    if records(x):
        return wrap(y, SoftmaxNode(x, y, axis))
    return wrap(y)


def log_softmax(x, axis=-1):
    axis = _axis(x, axis)
    data = float_data(x)
    y = of(data).log_softmax(data, axis)
    if records(x):
        return wrap(y, LogSoftmaxNode(x, y, axis))
    return wrap(y)
