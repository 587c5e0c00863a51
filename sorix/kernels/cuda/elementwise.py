"""Elementwise forward and fused backward passes on device arrays.

The same API and dtype rules as :mod:`sorix.kernels.elementwise`, from the
same definitions (:mod:`sorix.kernels.defs`) and the same loop templates.
Broadcasting never copies: equal shapes and size-1 operands run the flat
templates; any other broadcast or a non-contiguous operand runs a strided
template that reads the operands in place.
"""
import numpy as np

from ..defs import BINARY, UNARY
from ..elementwise import KERNEL_DTYPES, broadcast_shape
from . import build, runtime
from .arrays import astype, broadcast_strides, coalesce, empty, flat, nothing
from .runtime import element_strides, flat_memory, is_contiguous

def _params(params, dtype):
    # A tuple of dtype scalars: passed by value (no copy to the device), and
    # typed in the data's dtype so float32 kernels never see a float64.
    return tuple(dtype.type(p) for p in params)


def _result_dtype(reference, *dtypes):
    with np.errstate(all="ignore"):  # only the dtype matters (0 / 0 would warn)
        return np.asarray(reference(*(np.zeros(1, d) for d in dtypes))).dtype


def _flat_operand(x, n):
    """Whether ``x`` can be read as a flat array of ``n`` elements (or one element)."""
    return x.size in (n, 1) and is_contiguous(x.shape, element_strides(x))


def unary(name, x, params=()):
    """``op(x, *params)`` elementwise, as a new array of x's shape and dtype."""
    op = UNARY[name]
    x = runtime.as_device(x)
    if x.dtype not in KERNEL_DTYPES:
        # As on the CPU: NumPy's result dtype where the op has a NumPy
        # reference (computed in float64 and cast back when that is not a
        # float), else float32 and back to x's dtype.
        if op.reference is None:
            return astype(unary(name, astype(x, np.float32), params), x.dtype)
        result = _result_dtype(op.reference, x.dtype)
        work = result if result in KERNEL_DTYPES else np.dtype(np.float64)
        out = unary(name, astype(x, work), params)
        return out if out.dtype == result else astype(out, result)
    out = empty(x.shape, x.dtype)
    k = build.elementwise("unary%d" % op.nparams, name, x.dtype)
    k.over(x.size, flat(x), flat(out), _params(params, x.dtype))
    return out


def unary_grad(name, g, x, y, params=()):
    """``g * dop/dx`` in one pass; ``y`` is the forward output."""
    op = UNARY[name]
    x = runtime.as_device(x)
    gx = empty(x.shape, x.dtype)
    k = build.elementwise("unary%d_grad" % op.nparams, name, x.dtype)
    k.over(x.size, flat(g), flat(x), flat(y), flat(gx), _params(params, x.dtype))
    return gx


def binary(name, a, b):
    """``op(a, b)`` elementwise with NumPy broadcasting."""
    op = BINARY[name]
    a, b = runtime.as_device(a), runtime.as_device(b)
    shape = broadcast_shape(tuple(a.shape), tuple(b.shape))
    if a.dtype not in KERNEL_DTYPES or a.dtype != b.dtype:
        result = _result_dtype(op.reference, a.dtype, b.dtype)
        work = result if result in KERNEL_DTYPES else np.dtype(np.float64)
        a = a if a.dtype == work else astype(a, work)
        b = b if b.dtype == work else astype(b, work)
        out = binary(name, a, b)
        return out if out.dtype == result else astype(out, result)
    out = empty(shape, a.dtype)
    n = out.size
    if not n:
        return out
    if _flat_operand(a, n) and _flat_operand(b, n) and (a.size == n or b.size == n):
        template = "binary" if a.size == b.size else ("binary_as" if b.size == 1 else "binary_sa")
        build.elementwise(template, name, a.dtype).over(n, flat(a), flat(b), flat(out))
        return out
    cshape, (sa, sb) = coalesce(shape, broadcast_strides(a, shape), broadcast_strides(b, shape))
    build.elementwise("binary_nd", name, a.dtype).over(
        n, flat_memory(a), flat_memory(b), flat(out), cshape, sa, sb)
    return out


def binary_grad(name, g, a, b, y, need_a, need_b):
    """``(g * dop/da, g * dop/db)`` in one pass, both of the output's shape.

    The caller reduces a broadcast gradient to its operand's shape. An
    operand whose gradient is not needed gets None.
    """
    g, a, b = runtime.as_device(g), runtime.as_device(a), runtime.as_device(b)
    shape, n, dtype = tuple(g.shape), g.size, g.dtype
    which = "ab" if need_a and need_b else ("a" if need_a else "b")
    ga = empty(shape, dtype) if need_a else nothing(dtype)
    gb = empty(shape, dtype) if need_b else nothing(dtype)
    if n:
        head = (flat(g),)
        tail = (flat(y), flat(ga) if need_a else ga, flat(gb) if need_b else gb)
        if a.size == n == b.size and _flat_operand(a, n) and _flat_operand(b, n):
            build.elementwise("binary_grad_" + which, name, dtype).over(
                n, *head, flat(a), flat(b), *tail)
        elif _flat_operand(a, n) and _flat_operand(b, n):
            strides = (int(a.size == n), int(b.size == n))
            build.elementwise("binary_grad_%s_s" % which, name, dtype).over(
                n, *head, flat(a), flat(b), *tail, *strides)
        else:
            cshape, (sa, sb) = coalesce(shape, broadcast_strides(a, shape),
                                        broadcast_strides(b, shape))
            build.elementwise("binary_grad_%s_nd" % which, name, dtype).over(
                n, *head, flat_memory(a), flat_memory(b), *tail, cshape, sa, sb)
    return (ga if need_a else None), (gb if need_b else None)
