"""Elementwise forward and fused backward passes on NumPy arrays.

Inputs of one call share a float dtype (float32 or float64); the tensor
layer casts before calling. Other dtypes go through each op's NumPy
reference. Broadcasting: equal shapes and size-1 operands run directly;
other broadcasts expand the operands first.
"""
import numpy as np

from .. import config
from .build import kernel
from .defs import BINARY, UNARY

KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_NO_PARAMS = {dt: np.zeros(0, dt) for dt in KERNEL_DTYPES}


def _flat(a):
    return np.ascontiguousarray(a).reshape(-1)


def _params(params, dtype):
    if not params:
        return _NO_PARAMS[dtype]
    return np.array(params, dtype=dtype)


def _parallel(n):
    return n >= config.PARALLEL_THRESHOLD


def has_kernel(dtype):
    return np.dtype(dtype) in KERNEL_DTYPES


def unary(name, x, params=()):
    """``op(x, *params)`` elementwise, as a new array of x's shape and dtype."""
    op = UNARY[name]
    if x.dtype not in KERNEL_DTYPES:
        return np.asarray(op.reference(x, *params)) if op.reference else \
            unary(name, x.astype(np.float32), params).astype(x.dtype)
    out = np.empty(x.shape, x.dtype)
    k = kernel("unary%d" % op.nparams, name, {"F": op.forward}, x.dtype, _parallel(x.size))
    k(_flat(x), out.reshape(-1), _params(params, x.dtype))
    return out


def unary_grad(name, g, x, y, params=()):
    """``g * dop/dx`` in one pass; ``y`` is the forward output."""
    op = UNARY[name]
    gx = np.empty(x.shape, x.dtype)
    k = kernel("unary%d_grad" % op.nparams, name, {"D": op.derivative}, x.dtype, _parallel(x.size))
    k(_flat(g), _flat(x), _flat(y), gx.reshape(-1), _params(params, x.dtype))
    return gx


def broadcast_shape(sa, sb):
    if sa == sb:
        return sa
    try:
        return np.broadcast_shapes(sa, sb)
    except ValueError:
        raise ValueError(f"shapes {tuple(sa)} and {tuple(sb)} cannot be broadcast together; "
                         "reshape one operand so that each dimension matches or is 1") from None


def binary(name, a, b):
    """``op(a, b)`` elementwise with NumPy broadcasting."""
    op = BINARY[name]
    shape = broadcast_shape(a.shape, b.shape)
    if a.dtype not in KERNEL_DTYPES or a.dtype != b.dtype:
        return np.asarray(op.reference(a, b))
    out = np.empty(shape, a.dtype)
    n = out.size
    if a.shape == b.shape:
        template, a, b = "binary", _flat(a), _flat(b)
    elif b.size == 1:
        template, a, b = "binary_as", _flat(np.broadcast_to(a, shape)), _flat(b)
    elif a.size == 1:
        template, a, b = "binary_sa", _flat(a), _flat(np.broadcast_to(b, shape))
    else:
        template, a, b = "binary", _flat(np.broadcast_to(a, shape)), _flat(np.broadcast_to(b, shape))
    kernel(template, name, {"F": op.forward}, out.dtype, _parallel(n))(a, b, out.reshape(-1))
    return out


def binary_grad(name, g, a, b, y, need_a, need_b):
    """``(g * dop/da, g * dop/db)`` in one pass, both of the output's shape.

    The caller reduces a broadcast gradient to its operand's shape. An
    operand whose gradient is not needed gets None.
    """
    op = BINARY[name]
    shape = g.shape
    which = "ab" if need_a and need_b else ("a" if need_a else "b")
    bindings = {"DA": op.derivative_a, "DB": op.derivative_b}
    ga = np.empty(shape, g.dtype) if need_a else _NO_PARAMS[g.dtype]
    gb = np.empty(shape, g.dtype) if need_b else _NO_PARAMS[g.dtype]
    args = [_flat(g), None, None, _flat(y), ga.reshape(-1), gb.reshape(-1)]
    if a.shape == shape and b.shape == shape:
        args[1], args[2] = _flat(a), _flat(b)
        template = "binary_grad_" + which
    else:
        strides = []
        for i, v in ((1, a), (2, b)):
            if v.size == 1:
                args[i] = _flat(v)
                strides.append(0)
            else:
                args[i] = _flat(np.broadcast_to(v, shape))
                strides.append(1)
        args += strides
        template = "binary_grad_%s_s" % which
    kernel(template, name, bindings, g.dtype, _parallel(g.size))(*args)
    return (ga if need_a else None), (gb if need_b else None)
