"""Elementwise forward and fused backward passes on NumPy arrays.

Inputs of one call share a float dtype (float32 or float64); the tensor
layer casts before calling. Other dtypes go through each op's NumPy
reference forward; float16 gradients are computed in float32 and rounded
to float16 (numba has no float16 arithmetic on the CPU). Broadcasting: equal
shapes, size-1 operands and an operand that repeats along the rows or the columns
of the output (a bias, a per-sample scale: :func:`repeat_pattern`) run directly;
other broadcasts expand the operands first.
"""
import numpy as np

from . import registry, templates, threads
from .bind import placeholders
from .build import kernel
from .defs import BINARY, UNARY

KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_KERNEL_CHARS = "fd"
_NO_PARAMS = {dt.char: np.zeros(0, dt) for dt in KERNEL_DTYPES}
_compiled = registry.cache("elementwise")


def _kernel(template, name, dtype, n):
    """The kernel for (template, op, dtype), threaded when ``n`` is large.

    A plain dict lookup on the hot path; the builder runs on a miss only.
    """
    parallel = threads.use(n)
    key = (template, name, dtype.char, parallel)
    found = _compiled.get(key)
    if found is None:
        op = UNARY[name] if name in UNARY else BINARY[name]
        bindings = {p: getattr(op, field)
                    for p, field in placeholders(getattr(templates, template)).items()}
        found = _compiled[key] = kernel(template, name, bindings, dtype, parallel)
    return found


def _params(params, dtype):
    if not params:
        return _NO_PARAMS[dtype.char]
    return np.array(params, dtype=dtype)


def unary(name, x, params=()):
    """``op(x, *params)`` elementwise, as a new array of x's shape and dtype."""
    dtype = x.dtype
    if dtype.char not in _KERNEL_CHARS:
        op = UNARY[name]
        if op.reference is not None:
            return np.asarray(op.reference(x, *params))
        return unary(name, x.astype(np.float32), params).astype(dtype)
    out = np.empty(x.shape, dtype)
    template = "unary%d" % len(params)
    _kernel(template, name, dtype, x.size)(x.ravel(), out.reshape(-1), _params(params, dtype))
    return out


def _widened(g, *arrays):
    """The float dtype the kernels compute in when ``g`` and ``arrays`` are not all float32 or
    all float64: float32 for float16 (stored back as float16), else float64 (integer leaves
    of Sorix, or integer operands beside a float gradient). None when no widening is needed."""
    dtype = g.dtype
    if dtype.char in _KERNEL_CHARS:
        for a in arrays:  # (a loop, not all(...): this runs in every gradient kernel call,
            if a.dtype != dtype:  # and a generator costs as much as a tiny kernel)
                break
        else:
            return None
    if all(a.dtype.char in "ef" for a in (g,) + arrays):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _in_dtype(work, fn, out_dtype, *arrays):
    """``fn`` applied to ``arrays`` converted to ``work``, its array results in ``out_dtype``."""
    found = fn(*[a.astype(work) if isinstance(a, np.ndarray) else a for a in arrays])
    if isinstance(found, tuple):
        return tuple(None if r is None else r.astype(out_dtype) for r in found)
    return found.astype(out_dtype)


def unary_grad(name, g, x, y, params=()):
    """``g * dop/dx`` in one pass; ``y`` is the forward output."""
    work = _widened(g, x, y)
    if work is not None:
        return _in_dtype(work, lambda g, x, y: unary_grad(name, g, x, y, params), g.dtype,
                         g, x, y)
    dtype = x.dtype
    gx = np.empty(x.shape, dtype)
    template = "unary%d_grad" % len(params)
    _kernel(template, name, dtype, x.size)(g.ravel(), x.ravel(), y.ravel(), gx.reshape(-1),
                                           _params(params, dtype))
    return gx


def broadcast_shape(sa, sb):
    if sa == sb:
        return sa
    try:
        return np.broadcast_shapes(sa, sb)
    except ValueError:
        raise ValueError(f"shapes {tuple(sa)} and {tuple(sb)} cannot be broadcast together; "
                         "reshape one operand so that each dimension matches or is 1") from None


def _flat_as(x, shape):
    """``x`` broadcast to ``shape``, flat (np.broadcast_to costs microseconds: skipped when
    ``x`` has the shape already)."""
    return x.ravel() if x.shape == shape else np.broadcast_to(x, shape).ravel()


def repeat_pattern(x, shape):
    """How ``x`` repeats when broadcast to ``shape``: ("rows", C) when x holds the output's
    trailing axes (its C values repeat along every row of the output viewed as
    (size / C, C)), ("cols", L) when x holds the leading axes (each value spans a row of
    L consecutive outputs), None otherwise (or when x has the output's shape)."""
    full = (1,) * (len(shape) - x.ndim) + tuple(x.shape)
    if x.size <= 1 or full == tuple(shape):
        return None
    lead = 0
    while full[lead] == 1:
        lead += 1
    if full[lead:] == tuple(shape[lead:]):
        return "rows", x.size
    last = len(full)
    while full[last - 1] == 1:
        last -= 1
    if full[:last] == tuple(shape[:last]):
        return "cols", int(np.prod(shape[last:], dtype=np.int64))
    return None


def _repeated_args(a, b, shape, out):
    """(template suffix, a, b, out as (R, C)) for the templates that read a repeated
    operand in place (see templates.binary_rows), or None when neither operand repeats
    over a full-shaped other one."""
    if out.size == 0:
        return None
    for x, other, side in ((b, a, ""), (a, b, "_a")):
        if other.shape != shape:
            continue
        pattern = repeat_pattern(x, shape)
        if pattern is None:
            continue
        kind, cols = pattern
        rows = out.size // cols
        flat_other = np.ascontiguousarray(other).reshape(rows, cols)
        small = x.ravel()
        pair = (small, flat_other) if side else (flat_other, small)
        return kind + side, pair[0], pair[1], out.reshape(rows, cols)
    return None


def binary(name, a, b):
    """``op(a, b)`` elementwise with NumPy broadcasting."""
    dtype = a.dtype
    if dtype.char not in _KERNEL_CHARS or b.dtype != dtype:
        broadcast_shape(a.shape, b.shape)  # the same error message as the kernel path
        return np.asarray(BINARY[name].reference(a, b))
    if a.shape == b.shape:
        out = np.empty(a.shape, dtype)
        if a.ndim == 1 and a.flags.c_contiguous and b.flags.c_contiguous:
            # (ravel and reshape cost more than the kernel itself on small arrays)
            _kernel("binary", name, dtype, out.size)(a, b, out)
            return out
        template, a, b = "binary", a.ravel(), b.ravel()
    else:
        shape = broadcast_shape(a.shape, b.shape)
        out = np.empty(shape, dtype)
        if b.size == 1:
            template, a, b = "binary_as", _flat_as(a, shape), b.ravel()
        elif a.size == 1:
            template, a, b = "binary_sa", a.ravel(), _flat_as(b, shape)
        else:
            repeated = _repeated_args(a, b, shape, out)
            if repeated is not None:
                suffix, a2, b2, out2 = repeated
                _kernel("binary_" + suffix, name, dtype, out.size)(a2, b2, out2)
                return out
            template, a, b = "binary", _flat_as(a, shape), _flat_as(b, shape)
    _kernel(template, name, dtype, out.size)(a, b, out.reshape(-1))
    return out


def binary_grad(name, g, a, b, y, need_a, need_b):
    """``(g * dop/da, g * dop/db)`` in one pass, both of the output's shape.

    The caller reduces a broadcast gradient to its operand's shape. An
    operand whose gradient is not needed gets None.
    """
    work = _widened(g, a, b, y)
    if work is not None:
        return _in_dtype(work, lambda g, a, b, y: binary_grad(name, g, a, b, y, need_a, need_b),
                         g.dtype, g, a, b, y)
    shape = g.shape
    dtype = g.dtype
    which = "ab" if need_a and need_b else ("a" if need_a else "b")
    empty = _NO_PARAMS[dtype.char]
    ga = np.empty(shape, dtype) if need_a else empty
    gb = np.empty(shape, dtype) if need_b else empty
    if a.shape == shape and b.shape == shape:
        if g.ndim == 1 and g.flags.c_contiguous and a.flags.c_contiguous \
                and b.flags.c_contiguous:  # (y, ga and gb are the kernels' own arrays)
            args = (g, a, b, y, ga, gb)
        else:
            args = (g.ravel(), a.ravel(), b.ravel(), y.ravel(), ga.reshape(-1), gb.reshape(-1))
        template = "binary_grad_" + which
    else:
        # One size-1 operand is read once, in place, and so is a repeated one (see
        # repeat_pattern); the others are expanded.
        repeated = _repeated_args(a, b, shape, g)
        if repeated is not None:
            suffix, a2, b2, g2 = repeated
            rows, cols = g2.shape
            unused = np.empty((0, 0), dtype)
            ga2 = ga.reshape(rows, cols) if need_a else unused
            gb2 = gb.reshape(rows, cols) if need_b else unused
            _kernel("binary_grad_" + suffix, name, dtype, g.size)(
                np.ascontiguousarray(g2), a2, b2, np.ascontiguousarray(y).reshape(rows, cols),
                ga2, gb2, need_a, need_b)
            return (ga if need_a else None), (gb if need_b else None)
        template = "binary_grad_" + which
        if b.size == 1:
            template += "_bs"
            a, b = _flat_as(a, shape), b.ravel()
        elif a.size == 1:
            template += "_as"
            a, b = a.ravel(), _flat_as(b, shape)
        else:
            a, b = _flat_as(a, shape), _flat_as(b, shape)
        args = (g.ravel(), a, b, y.ravel(), ga.reshape(-1), gb.reshape(-1))
    _kernel(template, name, dtype, g.size)(*args)
    return (ga if need_a else None), (gb if need_b else None)


def binary_grad_same(name, g, x, y):
    """The gradient of ``op(x, x)`` with respect to ``x``: ``g * (dop/da + dop/db)``, one pass
    instead of two gradients that the engine would then add."""
    work = _widened(g, x, y)
    if work is not None:
        return _in_dtype(work, lambda g, x, y: binary_grad_same(name, g, x, y), g.dtype, g, x, y)
    gx = np.empty(g.shape, g.dtype)
    if not (g.ndim == 1 and g.flags.c_contiguous and x.flags.c_contiguous):
        g, x, y = g.ravel(), x.ravel(), y.ravel()
    flat = gx.reshape(-1)
    _kernel("binary_grad_same", name, g.dtype, g.size)(g, x, x, y, flat, flat)
    return gx
