"""Comparisons and logic on device arrays: ``== != < <= > >=``, and/or/xor/not, any/all.

One strided kernel serves every binary test: it reads both operands through
their (broadcast) strides, as ``binary_nd`` does, and stores the test's result
in an output of the caller's dtype: bool for comparisons and logical ops, the
operands' integer dtype for bitwise ones. The tests are small device
functions below, bound per kernel as ``TEST`` (and ``NOT`` for inversion).

Operands may be Python or NumPy scalars (a 0-d device array is filled for
them, so nothing is copied from the host) with NumPy's promotion rules: a
Python float next to a float32 array compares in float32.
"""
import numpy as np

from . import build, runtime
from .arrays import astype, broadcast_strides, coalesce, empty, flat, full, operand
from .reduce import max, min
from .runtime import flat_memory

cuda = grid_range = offset_of = TEST = NOT = None  # bound per kernel by the builder


# ---- the tests (device functions) ----------------------------------------------

def equal(a, b):
    return a == b


def not_equal(a, b):
    return a != b


def less(a, b):
    return a < b


def less_equal(a, b):
    return a <= b


def greater(a, b):
    return a > b


def greater_equal(a, b):
    return a >= b


def same(a, b):
    """Equal, or both NaN: which elements of x are the max/min that a reduction returned."""
    return a == b or (a != a and b != b)


def bit_and(a, b):
    return a & b


def bit_or(a, b):
    return a | b


def bit_xor(a, b):
    return a ^ b


def logical_not(a):
    return not a


def bit_not(a):
    return ~a


COMPARISONS = {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
               "gt": "greater", "ge": "greater_equal", "same": "same"}
BITWISE = {"and": "bit_and", "or": "bit_or", "xor": "bit_xor"}


# ---- kernels -----------------------------------------------------------------

def test_kernel(a, b, out, shape, sa, sb):
    for i in grid_range(out.size):
        out[i] = TEST(a[offset_of(i, shape, sa)], b[offset_of(i, shape, sb)])


def invert_kernel(x, out):
    for i in grid_range(out.size):
        out[i] = NOT(x[i])


# ---- host side -------------------------------------------------------------------

def _pair(a, b):
    """Both operands as device arrays of one dtype (NumPy's promotion)."""
    if runtime.is_device_array(a):
        a = runtime.as_device(a)
        b = operand(b, a.dtype)
    else:
        b = runtime.as_device(b)
        a = operand(a, b.dtype)
    dtype = np.result_type(a.dtype, b.dtype)
    a = a if a.dtype == dtype else astype(a, dtype)
    b = b if b.dtype == dtype else astype(b, dtype)
    return a, b


def _apply(test, a, b, out_dtype):
    try:
        shape = tuple(np.broadcast_shapes(tuple(a.shape), tuple(b.shape)))
    except ValueError:
        raise ValueError(f"shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast "
                         "together; reshape one operand so that each dimension matches or "
                         "is 1") from None
    out = empty(shape, out_dtype)
    if out.size:
        cshape, (sa, sb) = coalesce(shape, broadcast_strides(a, shape), broadcast_strides(b, shape))
        build.kernel(test_kernel, TEST=("source", __name__, test)).over(
            out.size, flat_memory(a), flat_memory(b), flat(out), cshape, sa, sb)
    return out


def compare(name, a, b):
    """``a <name> b`` elementwise as a bool array; ``name`` is eq, ne, lt, le, gt, ge or
    same (equal or both NaN)."""
    if name not in COMPARISONS:
        raise ValueError(f"unknown comparison {name!r}: expected one of {sorted(COMPARISONS)}")
    a, b = _pair(a, b)
    if a.dtype.kind == "b" and name not in ("eq", "ne", "same"):
        a, b = astype(a, np.uint8), astype(b, np.uint8)  # order False < True, as NumPy
    return _apply(COMPARISONS[name], a, b, np.bool_)


def logical(name, a, b):
    """Logical and/or/xor of the operands' truth values, as a bool array."""
    a, b = _pair(a, b)
    return _apply(BITWISE[name], astype(a, np.bool_), astype(b, np.bool_), np.bool_)


def bitwise(name, a, b):
    """Bitwise and/or/xor of integer or bool arrays (bool for two bools)."""
    a, b = _pair(a, b)
    if a.dtype.kind not in "biu":
        raise TypeError(f"bitwise {name} is only defined for integer and bool arrays, "
                        f"not {a.dtype}")
    return _apply(BITWISE[name], a, b, a.dtype)


def invert(x):
    """Logical not of a bool array, bitwise not of an integer array."""
    x = runtime.as_device(x)
    if x.dtype.kind not in "biu":
        raise TypeError(f"invert is only defined for integer and bool arrays, not {x.dtype}")
    out = empty(x.shape, x.dtype)
    test = "logical_not" if x.dtype.kind == "b" else "bit_not"
    build.kernel(invert_kernel, NOT=("source", __name__, test)).over(out.size, flat(x), flat(out))
    return out


def any(x):
    """Whether any element is nonzero, as a 0-d bool array (False when empty)."""
    x = runtime.as_device(x)
    if x.size == 0:
        return full((), False, np.bool_)
    return max(astype(x, np.bool_))


def all(x):
    """Whether every element is nonzero, as a 0-d bool array (True when empty)."""
    x = runtime.as_device(x)
    if x.size == 0:
        return full((), True, np.bool_)
    return min(astype(x, np.bool_))
