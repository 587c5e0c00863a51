"""Indexing on device arrays: take (x[index]), scatter_add (its adjoint), where.

NumPy works out what an index means, on the host, from the shape and
strides alone; the device only moves data:

- A basic index (ints, slices, None, Ellipsis) selects a strided view. Its
  shape, strides and offset come from indexing a stand-in array that
  has x's strides but no memory, and one strided gather copies it.
- An advanced index (int or bool arrays, lists, mixed with basic parts)
  selects arbitrary elements. Their offsets are computed with NumPy by
  indexing broadcast coordinate grids (memory of the result's size, not
  x's), copied to the device, and gathered; scatter_add adds through the
  same offsets with atomics, so repeated indices accumulate.

Index arrays may be NumPy or device arrays. Device integer arrays stay on
the device (:mod:`.device_index`: the result's shape depends on their
shapes only); a device bool array is copied to the host, since the number
of True values it holds is the result's shape.
"""
import numpy as np

from . import build, runtime
from .arrays import (astype, broadcast_strides, broadcast_to, coalesce, contiguous, empty, flat,
                     gather, operand, to_device, to_host, zeros)
from .runtime import contiguous_strides, element_strides, flat_memory

cuda = grid_range = offset_of = None  # bound per kernel by the builder


# ---- kernels -----------------------------------------------------------------

def gather_offsets_kernel(src, offsets, out):
    for i in grid_range(out.size):
        out[i] = src[offsets[i]]


def scatter_add_kernel(out, offsets, g):
    for i in grid_range(g.size):
        cuda.atomic.add(out, offsets[i], g[i])


def scatter_strided_kernel(out, g, shape, strides, offset):
    # A basic index never names an element twice, so no atomics are needed.
    for i in grid_range(g.size):
        j = offset + offset_of(i, shape, strides)
        out[j] = out[j] + g[i]


def where_kernel(condition, a, b, out, shape, sc, sa, sb):
    for i in grid_range(out.size):
        if condition[offset_of(i, shape, sc)]:
            out[i] = a[offset_of(i, shape, sa)]
        else:
            out[i] = b[offset_of(i, shape, sb)]


# ---- index analysis on the host --------------------------------------------------

def _host_parts(index):
    """``index`` as a tuple with lists and device arrays turned into NumPy arrays."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if runtime.is_device_array(p):
            p = to_host(p)
        elif isinstance(p, list):
            p = np.asarray(p)
        out.append(p)
    return tuple(out)


def _index_parts(index):
    """``(parts, on_device)``: ``index`` as a tuple, and whether the device-index path
    (:mod:`.device_index`) takes it. Device integer arrays are kept for that path
    and copied to the host otherwise; device bool arrays are always copied, once."""
    from . import device_index
    parts = index if isinstance(index, tuple) else (index,)
    if not any(runtime.is_device_array(p) for p in parts):
        return _host_parts(parts), False
    out = []
    for p in parts:
        if isinstance(p, list):
            p = np.asarray(p)
        elif runtime.is_device_array(p) and runtime.as_device(p).dtype.kind == "b":
            p = to_host(p)
        out.append(p)
    if device_index.applies(out):
        return tuple(out), True
    return _host_parts(tuple(out)), False


def _is_basic(parts):
    return all(p is None or p is Ellipsis or isinstance(p, slice)
               or (isinstance(p, (int, np.integer)) and not isinstance(p, (bool, np.bool_)))
               for p in parts)


def _basic_view(shape, strides, parts):
    """(shape, strides, offset) in elements of ``x[parts]`` for x of ``shape`` and ``strides``."""
    ndim = len(shape)
    if sum(p is Ellipsis for p in parts) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    named = sum(p is not None and p is not Ellipsis for p in parts)
    if named > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, "
                         f"but {named} were indexed")
    fill = (slice(None),) * (ndim - named)
    if any(p is Ellipsis for p in parts):
        at = next(i for i, p in enumerate(parts) if p is Ellipsis)
        parts = parts[:at] + fill + parts[at + 1:]
    else:
        parts = parts + fill
    # One byte per element, so byte strides and pointer differences are element
    # counts. NumPy reads no memory for a basic index; the trailing dimension
    # keeps an all-int index from returning (reading) a scalar.
    stand_in = np.lib.stride_tricks.as_strided(np.zeros(1, np.int8), tuple(shape) + (1,),
                                               tuple(strides) + (0,))
    selected = stand_in[parts + (slice(None),)]
    offset = selected.__array_interface__["data"][0] - stand_in.__array_interface__["data"][0]
    return selected.shape[:-1], selected.strides[:-1], offset


def _offsets(shape, strides, parts):
    """int64 offsets (in elements, from element 0) of the elements ``x[parts]`` selects."""
    ndim = len(shape)
    if ndim == 0:
        return np.ascontiguousarray(np.zeros((), np.int64)[parts])
    total = None
    for d in range(ndim):
        grid = np.arange(shape[d], dtype=np.int64).reshape((-1,) + (1,) * (ndim - d - 1))
        part = np.broadcast_to(grid, tuple(shape))[parts] * strides[d]
        total = part if total is None else total + part
    return np.ascontiguousarray(total, dtype=np.int64)


# ---- public functions ---------------------------------------------------------------

def take(x, index):
    """``x[index]`` as a new C-contiguous device array (NumPy's indexing rules)."""
    x = runtime.as_device(x)
    parts, on_device = _index_parts(index)
    if on_device:
        from . import device_index
        return device_index.take(x, parts)
    strides = element_strides(x)
    if _is_basic(parts):
        shape, view_strides, offset = _basic_view(tuple(x.shape), strides, parts)
        return gather(x, shape, view_strides, offset)
    offsets = _offsets(tuple(x.shape), strides, parts)
    out = empty(offsets.shape, x.dtype)
    if out.size:
        build.kernel(gather_offsets_kernel).over(out.size, flat_memory(x),
                                                 to_device(offsets.reshape(-1)), flat(out))
    return out


def scatter_add(shape, index, g):
    """Zeros of ``shape`` with ``g`` added at ``index`` (``np.add.at``: repeats accumulate)."""
    g = runtime.as_device(g)
    shape = tuple(int(n) for n in shape)
    parts, on_device = _index_parts(index)
    if on_device:
        from . import device_index
        return device_index.scatter_add(shape, parts, g)
    out = zeros(shape, g.dtype)
    strides = contiguous_strides(shape)
    if _is_basic(parts):
        view_shape, view_strides, offset = _basic_view(shape, strides, parts)
        g = contiguous(broadcast_to(g, view_shape))
        if g.size:
            cshape, (cstrides,) = coalesce(view_shape, view_strides)
            build.kernel(scatter_strided_kernel).over(g.size, flat(out), flat(g), cshape,
                                                      cstrides, int(offset))
        return out
    offsets = _offsets(shape, strides, parts)
    g = contiguous(broadcast_to(g, offsets.shape))
    if g.size:
        build.kernel(scatter_add_kernel).over(g.size, flat(out), to_device(offsets.reshape(-1)),
                                              flat(g))
    return out


def where(condition, a, b):
    """``a`` where ``condition`` (nonzero) else ``b``, all three broadcast together.

    One of ``a`` and ``b`` may be a Python or NumPy scalar (filled on the device)."""
    condition = runtime.as_device(condition)
    if not runtime.is_device_array(a):
        b = runtime.as_device(b)
        a = operand(a, b.dtype)
    a = runtime.as_device(a)
    b = operand(b, a.dtype)
    dtype = np.result_type(a.dtype, b.dtype)
    a = a if a.dtype == dtype else astype(a, dtype)
    b = b if b.dtype == dtype else astype(b, dtype)
    try:
        shape = tuple(np.broadcast_shapes(tuple(condition.shape), tuple(a.shape), tuple(b.shape)))
    except ValueError:
        raise ValueError(f"where: shapes {tuple(condition.shape)}, {tuple(a.shape)} and "
                         f"{tuple(b.shape)} cannot be broadcast together") from None
    out = empty(shape, dtype)
    if out.size:
        cshape, strides = coalesce(shape, *(broadcast_strides(v, shape) for v in (condition, a, b)))
        build.kernel(where_kernel).over(out.size, flat_memory(condition), flat_memory(a),
                                        flat_memory(b), flat(out), cshape, *strides)
    return out
