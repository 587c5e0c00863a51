"""Moving a tensor between devices, as a differentiable op.

``x.to('cuda')`` copies x's array to the GPU; backward copies the gradient
back to x's device, so a graph may start on the CPU and continue on the GPU.
"""
from ..autograd.node import Node
from ..kernels import backend
from . import twin
from .core import records, wrap


def move_array(array, device):
    """``array`` on ``device`` (a ``sorix.device``): itself when already there, else a copy."""
    source = backend.of(array)
    if device.type == "cpu":
        return array if source.DEVICE == "cpu" else source.to_host(array)
    from .. import cuda
    cuda.require(device)
    target = backend.cuda()
    return array if source is target else target.to_device(array)


class TransferNode(Node):
    """The gradient of a copy to another device: the same values, back on the input's device."""
    __slots__ = ("source",)

    def __init__(self, x):
        super().__init__((x,))
        self.source = x.device

    def backward(self, grad, F, saved):
        # arrays are copied back; on the twin, a differentiable copy
        return ((to_device if F is twin else move_array)(grad, self.source),)


def to_device(x, device):
    """``x`` on ``device``: ``x`` itself when it is already there."""
    data = move_array(x.data, device)
    if data is x.data:
        return x
    if records(x):
        return wrap(data, TransferNode(x))
    return wrap(data)
