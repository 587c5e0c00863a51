"""Matrix products with NumPy's ``matmul`` semantics (1-D, 2-D and batched)."""
import numpy as np

from ..autograd.engine import sum_to
from ..autograd.node import Node
from ..kernels import linalg as K
from .core import operands, records, wrap


def _swap_last(x):
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return x.transpose(axes)


def matmul_grads(grad, a, b, need_a, need_b):
    """Gradients of ``a @ b``; works on arrays and on tensors alike.

    1-D operands are treated as a row (left) or a column (right) matrix, as
    matmul does, and batch dimensions that broadcasting added are summed.
    """
    a2 = a.reshape((1, a.shape[0])) if a.ndim == 1 else a
    b2 = b.reshape((b.shape[0], 1)) if b.ndim == 1 else b
    g2 = grad
    if a.ndim == 1:
        g2 = g2.reshape(g2.shape[:-1] + (1,) + g2.shape[-1:]) if b.ndim > 1 \
            else g2.reshape((1,) + g2.shape)
    if b.ndim == 1:
        g2 = g2.reshape(g2.shape + (1,))
    ga = gb = None
    if need_a:
        ga = sum_to(g2 @ _swap_last(b2), a2.shape).reshape(a.shape)
    if need_b:
        gb = sum_to(_swap_last(a2) @ g2, b2.shape).reshape(b.shape)
    return ga, gb


class MatmulNode(Node):
    __slots__ = ()

    def backward(self, grad):
        a, b = self.saved
        return matmul_grads(grad, a, b, *self.needs)

    def backward_graph(self, grad):
        a, b = self.inputs
        return matmul_grads(grad, a, b, *self.needs)


def matmul(a, b):
    a, b, ad, bd = operands(a, b)
    if ad.ndim == 0 or bd.ndim == 0:
        raise RuntimeError("matmul needs tensors with at least 1 dimension; use * for scalars")
    out = K.matmul(ad, bd)
    if records(a, b):
        return wrap(out, MatmulNode((a, b), (ad, bd), (a, b)))
    return wrap(out)
