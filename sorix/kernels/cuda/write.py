"""Writes into existing device arrays: ``dst[index] = value``, in-place arithmetic, and the
joins (concatenate, stack) built on them.

Indices mean what NumPy says they mean, worked out on the host as in
:mod:`.index`: a basic index selects a strided region of ``dst`` (written
through its strides, one kernel), an advanced one a list of element offsets
(copied to the device, as ``take`` does). ``value`` is broadcast to the
region and cast to ``dst``'s dtype; scalars are filled on the device.
"""
import numpy as np

from ..axes import axis_index
from . import build, runtime
from .arrays import astype, broadcast_strides, coalesce, empty, operand, reshape, to_device
from .elementwise import binary, unary
from .index import _basic_view, _host_parts, _is_basic, _offsets
from .runtime import element_strides, flat_memory

cuda = grid_range = offset_of = None  # bound per kernel by the builder

# ---- kernels -----------------------------------------------------------------

def assign_strided_kernel(dst, value, n, shape, sd, sv, offset):
    for i in grid_range(n):
        dst[offset + offset_of(i, shape, sd)] = value[offset_of(i, shape, sv)]


def assign_offsets_kernel(dst, offsets, value, shape, sv):
    # Repeated offsets: one of the values wins (NumPy: the last), as for any unordered write.
    for i in grid_range(offsets.size):
        dst[offsets[i]] = value[offset_of(i, shape, sv)]


# ---- host side -------------------------------------------------------------------

def _value(value, dtype):
    value = operand(value, dtype)
    return value if value.dtype == dtype else astype(value, dtype)


def assign(dst, index, value):
    """``dst[index] = value`` in place (NumPy's indexing and broadcasting); returns ``dst``."""
    dst = runtime.as_device(dst)
    value = _value(value, dst.dtype)
    parts = _host_parts(index)
    strides = element_strides(dst)
    if _is_basic(parts):
        shape, view_strides, offset = _basic_view(tuple(dst.shape), strides, parts)
        n = int(np.prod(shape, dtype=np.int64))
        if n:
            cshape, (sd, sv) = coalesce(shape, view_strides, broadcast_strides(value, shape))
            build.kernel(assign_strided_kernel).over(n, flat_memory(dst), flat_memory(value), n,
                                                     cshape, sd, sv, int(offset))
        return dst
    offsets = _offsets(tuple(dst.shape), strides, parts)
    if offsets.size:
        cshape, (sv,) = coalesce(offsets.shape, broadcast_strides(value, offsets.shape))
        build.kernel(assign_offsets_kernel).over(offsets.size, flat_memory(dst),
                                                 to_device(offsets.reshape(-1)),
                                                 flat_memory(value), cshape, sv)
    return dst


def inplace(name, dst, other):
    """``dst = dst <op> other`` in place for op add/sub/mul/div, with NumPy's
    ``casting='same_kind'`` rule (an int array cannot take a float result)."""
    dst = runtime.as_device(dst)
    other = operand(other, dst.dtype)
    result = binary(name, dst, other)
    if not np.can_cast(result.dtype, dst.dtype, casting="same_kind"):
        raise TypeError(f"cannot cast {name} output from {result.dtype} to {dst.dtype} with "
                        "casting rule 'same_kind'")
    if tuple(result.shape) != tuple(dst.shape):
        raise ValueError(f"non-broadcastable output operand with shape {tuple(dst.shape)} "
                         f"doesn't match the broadcast shape {tuple(result.shape)}")
    return assign(dst, Ellipsis, result)


def clip(x, low, high, out=None):
    """``x`` limited to [low, high] (None: no bound), into ``out`` when given."""
    x = runtime.as_device(x)
    bounds = (-np.inf if low is None else float(low), np.inf if high is None else float(high))
    result = unary("clamp", x, bounds)
    if out is None:
        return result
    return assign(out, Ellipsis, result)


def concatenate(arrays, axis=0):
    """The arrays joined along an existing ``axis`` (NumPy's result dtype)."""
    arrays = [runtime.as_device(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    ndim = arrays[0].ndim
    if ndim == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    axis = axis_index(axis, ndim, ValueError, "axis", "an array")
    first = tuple(arrays[0].shape)
    for a in arrays[1:]:
        shape = tuple(a.shape)
        if a.ndim != ndim or shape[:axis] + shape[axis + 1:] != first[:axis] + first[axis + 1:]:
            raise ValueError(f"all the input array dimensions except for the concatenation axis "
                             f"must match exactly, but shapes {first} and {shape} differ")
    dtype = np.result_type(*(a.dtype for a in arrays))
    total = sum(a.shape[axis] for a in arrays)
    out = empty(first[:axis] + (total,) + first[axis + 1:], dtype)
    start = 0
    for a in arrays:
        stop = start + a.shape[axis]
        assign(out, (slice(None),) * axis + (slice(start, stop),), a)
        start = stop
    return out


def stack(arrays, axis=0):
    """The arrays (all of one shape) joined along a new ``axis``."""
    arrays = [runtime.as_device(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to stack")
    shape = tuple(arrays[0].shape)
    if any(tuple(a.shape) != shape for a in arrays):
        raise ValueError("all input arrays must have the same shape, got "
                         + ", ".join(str(tuple(a.shape)) for a in arrays))
    ndim = len(shape) + 1
    axis = axis_index(axis, ndim, ValueError, "axis", "an array")
    grown = shape[:axis] + (1,) + shape[axis:]
    return concatenate([reshape(a, grown) for a in arrays], axis)
