"""Matrix products with NumPy's ``matmul`` semantics (1-D, 2-D and batched)."""
from ..autograd.engine import sum_to
from ..autograd.node import Node
from ..kernels.backend import of
from . import core
from .core import operands, records, wrap


class _ArrayOps:
    """The three operations matmul's gradient needs, on the arrays of namespace ``B``
    (tensors have them as methods)."""
    __slots__ = ("B",)

    def __init__(self, B):
        self.B = B

    def reshape(self, x, shape):
        return self.B.reshape(x, shape)

    def swap_last(self, x):
        # a view on both devices: matmul reads it in place (cuBLAS's transpose flag)
        return self.B.matrix_transpose(x)

    def matmul(self, a, b):
        return self.B.matmul(a, b)


class _TensorOps:
    __slots__ = ()

    @staticmethod
    def reshape(x, shape):
        return x.reshape(shape)

    @staticmethod
    def swap_last(x):
        return x.transpose(_swapped_axes(x.ndim))

    @staticmethod
    def matmul(a, b):
        return a @ b


def _swapped_axes(ndim):
    axes = list(range(ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return tuple(axes)


def matmul_grads(grad, a, b, need_a, need_b):
    """Gradients of ``a @ b``; works on arrays and on tensors alike.

    1-D operands are treated as a row (left) or a column (right) matrix, as
    matmul does, and batch dimensions that broadcasting added are summed.
    """
    ops = _TensorOps if isinstance(grad, core.Tensor) else _ArrayOps(of(grad))
    a2 = ops.reshape(a, (1, a.shape[0])) if a.ndim == 1 else a
    b2 = ops.reshape(b, (b.shape[0], 1)) if b.ndim == 1 else b
    g2 = grad
    if a.ndim == 1:
        g2 = ops.reshape(g2, g2.shape[:-1] + (1,) + g2.shape[-1:]) if b.ndim > 1 \
            else ops.reshape(g2, (1,) + g2.shape)
    if b.ndim == 1:
        g2 = ops.reshape(g2, g2.shape + (1,))
    ga = gb = None
    if need_a:
        ga = ops.reshape(sum_to(ops.matmul(g2, ops.swap_last(b2)), tuple(a2.shape)),
                         tuple(a.shape))
    if need_b:
        gb = ops.reshape(sum_to(ops.matmul(ops.swap_last(a2), g2), tuple(b2.shape)),
                         tuple(b.shape))
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
    a, b, ad, bd, B = operands(a, b)
    if ad.ndim == 0 or bd.ndim == 0:
        raise RuntimeError("matmul needs tensors with at least 1 dimension; use * for scalars")
    out = B.matmul(ad, bd)
    if records(a, b):
        return wrap(out, MatmulNode((a, b), (ad, bd), (a, b)))
    return wrap(out)
