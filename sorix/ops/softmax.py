"""softmax and log_softmax along one axis, numerically stable."""
import numpy as np

from ..autograd.node import Node
from .core import float_data, records, wrap


def _softmax_array(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax_array(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


class SoftmaxNode(Node):
    """dx = y * (g - sum(g * y))."""
    __slots__ = ("axis",)

    def __init__(self, x, y, axis):
        super().__init__((x,), y)
        self.axis = axis

    def backward(self, grad):
        y = self.saved
        return (y * (grad - np.sum(grad * y, axis=self.axis, keepdims=True)),)

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
        return (grad - np.exp(y) * np.sum(grad, axis=self.axis, keepdims=True),)

    def backward_graph(self, grad):
        p = softmax(self.inputs[0], self.axis)
        return (grad - p * grad.sum(axis=self.axis, keepdims=True),)


def _axis(x, axis):
    if not -max(x.ndim, 1) <= axis < max(x.ndim, 1):
        raise IndexError(f"dimension {axis} is out of range for a tensor with {x.ndim} dimensions")
    return axis % x.ndim if x.ndim else 0


def softmax(x, axis=-1):
    axis = _axis(x, axis)
    y = _softmax_array(float_data(x), axis)
    if records(x):
        return wrap(y, SoftmaxNode(x, y, axis))
    return wrap(y)


def log_softmax(x, axis=-1):
    axis = _axis(x, axis)
    y = _log_softmax_array(float_data(x), axis)
    if records(x):
        return wrap(y, LogSoftmaxNode(x, y, axis))
    return wrap(y)
