"""The tensor twin of the array backends, for higher-order gradients.

A node's backward rule is written once against a namespace ``F`` of array
functions (:mod:`sorix.autograd.node`). This module is the namespace a rule
gets under ``create_graph=True``: the same names and signatures as
:mod:`sorix.kernels.cpu`, taking and returning tensors, each made of
differentiable ops, so the gradient it computes can be differentiated again.

Each op module declares the twins of the backend functions its rules use,
beside the op (``twin.provide(reshape=reshape, ...)``); the few below are
shared by all. Arrays given where a twin expects a tensor (a saved mask, an
index) are constants.
"""
import sys

from ..autograd import node as _node
from ..autograd.grad_mode import no_grad
from ..kernels.backend import of
from . import core


def provide(**functions):
    """Declare the tensor twins of backend functions (name=function)."""
    globals().update(functions)


def scalar_array(value, dtype):
    # a Python number: it takes the other operand's dtype and device
    return value


def contiguous(x):
    return x


def zeros_like(x):
    return core.wrap(of(x.data).zeros(x.data.shape, x.data.dtype))


def on_arrays(rule, grad, values):
    """Run ``rule(grad, *values)``, written with tensor ops, on arrays and give arrays back:
    the first-order backward of a node that has no kernel on the arrays' device."""
    with no_grad():
        grads = rule(core.wrap(grad), *[core.wrap(v) for v in values])
    return tuple(None if g is None else g.data for g in grads)


_node.twin = sys.modules[__name__]
