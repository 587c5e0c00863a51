"""``Parameter``: a tensor that marks itself as a module's learnable state."""
import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor with ``requires_grad=True`` that a Module registers as a parameter.

    Sorix's layers hold plain tensors with ``requires_grad=True`` and a
    Module registers those too; ``Parameter`` exists for code written for
    PyTorch (``nn.Parameter(sorix.zeros(3))``) and stays registered even
    after ``requires_grad`` is switched off. Built from a tensor it shares
    that tensor's memory, as in PyTorch.
    """
    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.zeros(0, np.float32)
        super().__init__(data.data if isinstance(data, Tensor) else data,
                         requires_grad=requires_grad)

    @classmethod
    def _wrap(cls, data, node=None):
        # Results computed from a parameter (its .grad included) are plain tensors.
        return Tensor._wrap(data, node)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        # host data plus the device name, as for Tensor
        return (_rebuild_parameter, (self.detach().numpy(), self.requires_grad,
                                     str(self.device)))


def _rebuild_parameter(data, requires_grad, device="cpu"):
    return Parameter(Tensor(data, device=device), requires_grad=requires_grad)


def is_parameter(value):
    """Whether a module should register ``value`` as a parameter.

    A ``Parameter``, or a leaf tensor that requires grad (Sorix's layers
    create their weights as ``tensor(..., requires_grad=True)``).
    """
    return isinstance(value, Parameter) or (
        isinstance(value, Tensor) and value.requires_grad and value.grad_fn is None)
