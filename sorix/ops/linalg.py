"""Matrix products with NumPy's ``matmul`` semantics (1-D, 2-D and batched)."""
import math

from ..autograd.engine import sum_to
from ..autograd.node import Node
from . import twin
from .core import operands, records, wrap


def _swapped_axes(ndim):
    axes = list(range(ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return tuple(axes)


def matmul_grads(F, grad, a, b, need_a, need_b):
    """Gradients of ``a @ b`` with the namespace ``F`` (arrays or the tensor twin).

    1-D operands are treated as a row (left) or a column (right) matrix, as
    matmul does, and batch dimensions that broadcasting added are summed.
    """
    a2 = F.reshape(a, (1, a.shape[0])) if a.ndim == 1 else a
    b2 = F.reshape(b, (b.shape[0], 1)) if b.ndim == 1 else b
    g2 = grad
    if a.ndim == 1:
        g2 = F.reshape(g2, g2.shape[:-1] + (1,) + g2.shape[-1:]) if b.ndim > 1 \
            else F.reshape(g2, (1,) + g2.shape)
    if b.ndim == 1:
        g2 = F.reshape(g2, g2.shape + (1,))
    ga = gb = None
    if need_a:
        ga = sum_to(F.matmul(g2, F.matrix_transpose(b2)), tuple(a2.shape))
        if a.ndim == 1:  # (reshaped only then: a view of a fresh product would make a leaf
            ga = F.reshape(ga, tuple(a.shape))  # copy it rather than keep it)
    if need_b:
        if b.ndim == 2 and a2.ndim > 2:
            # a stack of matrices times one matrix: b's gradient sums over every row of
            # the stack, so it is one product over the stacked rows (no per-matrix
            # products to add up afterwards)
            a_shape = tuple(a2.shape)  # (a plain tuple: the CUDA simulator's shapes take
            # no negative index)
            rows = math.prod(a_shape[:-1])
            gb = F.matmul(F.matrix_transpose(F.reshape(a2, (rows, a_shape[-1]))),
                          F.reshape(g2, (rows, tuple(b.shape)[1])))
        else:
            gb = sum_to(F.matmul(F.matrix_transpose(a2), g2), tuple(b2.shape))
            if b.ndim == 1:
                gb = F.reshape(gb, tuple(b.shape))
    return ga, gb


class MatmulNode(Node):
    __slots__ = ()

    def backward(self, grad, F, saved):
        a, b = saved
        return matmul_grads(F, grad, a, b, *self.needs)


def matmul(a, b):
    a, b, ad, bd, B = operands(a, b)
    if ad.ndim == 0 or bd.ndim == 0:
        raise RuntimeError("matmul needs tensors with at least 1 dimension; use * for scalars")
    out = B.matmul(ad, bd)
    if records(a, b):
        return wrap(out, MatmulNode((a, b), (ad, bd), (a, b)))
    return wrap(out)


# (the backends' matrix_transpose is a view that matmul reads in place: cuBLAS's flag)
twin.provide(matmul=matmul, matrix_transpose=lambda x: x.transpose(_swapped_axes(x.ndim)))
