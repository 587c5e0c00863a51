"""Advanced indexing with index arrays that stay on the device.

``x[rows]`` with ``rows`` a device integer array (token ids, a batch of
sample indices ...) needs no copy to the host: the result's shape follows
from the index arrays' *shapes* alone, and the kernels read the index
values where they are. The host works out the layout with NumPy's rules:

- integer arrays (and plain ints, which count as advanced indices beside
  them) broadcast together to a shape ``B``;
- the ``B`` dimensions take the place of the advanced indices when those
  are adjacent in the index, and go first otherwise (``None`` and slices
  separate them);
- slices and ``None`` keep their dimensions, read through x's strides.

Each output element ``i`` then reads ``x`` at ``base + sum(coord_d *
stride_d) + sum_k(indices[k, b] * step_k)``, where ``b`` is the element's
position in ``B`` and row ``k`` of ``indices`` holds the ``k``-th index
array broadcast to ``B``. Negative indices count from the end, as in NumPy.

Index values are never read by the host, so they are not range-checked
there: an out-of-range device index reads NaN (0 for integer data, False
for bool) and drops its gradient, instead of reading or writing outside
the array. Host index arrays are checked as always (IndexError).
"""
import numpy as np

from . import build, runtime
from .arrays import astype, broadcast_to, coalesce, contiguous, empty, flat, zeros
from .runtime import contiguous_strides, element_strides, flat_memory, view
from .write import stack

cuda = grid_range = INDEXED_OFFSET = None  # bound per kernel by the builder


# ---- kernels -----------------------------------------------------------------

def indexed_offset(i, shape, strides, positions, indices, sizes, steps, base):
    """The offset in x of output element ``i``, or -1 when an index is out of range.

    ``strides`` steps through x along the output's sliced dimensions (0 along
    the broadcast index dimensions), ``positions`` through ``B`` (0 elsewhere).
    """
    offset = base
    b = 0
    for d in range(len(shape) - 1, -1, -1):
        n = shape[d]
        c = i % n
        i //= n
        offset += c * strides[d]
        b += c * positions[d]
    for k in range(indices.shape[0]):
        j = indices[k, b]
        if j < 0:
            j += sizes[k]
        if j < 0 or j >= sizes[k]:
            return -1
        offset += j * steps[k]
    return offset


def gather_indexed_kernel(src, out, shape, strides, positions, indices, sizes, steps, base,
                          fill):
    for i in grid_range(out.size):
        j = INDEXED_OFFSET(i, shape, strides, positions, indices, sizes, steps, base)
        if j >= 0:
            out[i] = src[j]
        else:
            out[i] = fill


def scatter_indexed_kernel(out, g, shape, strides, positions, indices, sizes, steps, base):
    for i in grid_range(g.size):
        j = INDEXED_OFFSET(i, shape, strides, positions, indices, sizes, steps, base)
        if j >= 0:
            cuda.atomic.add(out, j, g[i])


_OFFSET = ("source", __name__, "indexed_offset")


# ---- the layout, on the host ------------------------------------------------------

def applies(parts):
    """Whether ``parts`` (an index as a tuple) is handled here: it holds a device integer
    array, and no bool scalar (whose meaning NumPy's host path keeps)."""
    found = False
    for p in parts:
        if isinstance(p, (bool, np.bool_)):
            return False
        if runtime.is_device_array(p):
            if runtime.as_device(p).dtype.kind not in "iu":
                return False
            found = True
    return found


def _is_mask(p):
    return isinstance(p, np.ndarray) and p.dtype == np.bool_


def _expand(shape, parts):
    """``parts`` with Ellipsis as slices and bool arrays as their nonzero() int arrays."""
    ndim = len(shape)
    if sum(p is Ellipsis for p in parts) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if any(_is_mask(p) and p.ndim == 0 for p in parts):
        raise IndexError("a 0-d bool index cannot be combined with a device index array")
    named = sum(p.ndim if _is_mask(p) else 1 for p in parts if p is not None and p is not Ellipsis)
    if named > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, "
                         f"but {named} were indexed")
    fill = [slice(None)] * (ndim - named)
    if any(p is Ellipsis for p in parts):
        at = next(i for i, p in enumerate(parts) if p is Ellipsis)
        parts = list(parts[:at]) + fill + list(parts[at + 1:])
    else:
        parts = list(parts) + fill
    out, d = [], 0
    for p in parts:
        if _is_mask(p):
            if tuple(p.shape) != tuple(shape[d:d + p.ndim]):
                raise IndexError(f"boolean index of shape {p.shape} does not match the indexed "
                                 f"dimensions {tuple(shape[d:d + p.ndim])}")
            out.extend(p.nonzero())
            d += p.ndim
        else:
            out.append(p)
            d += p is not None
    return out


def layout(shape, strides, parts):
    """How ``x[parts]`` reads ``x`` (of ``shape`` and element ``strides``).

    Returns ``(out_shape, out_strides, positions, arrays, sizes, steps, base, B)``:
    per output dimension its stride in x and in ``B`` (see the module doc), the
    index arrays (each with the size and stride of the dimension it indexes),
    the offset of the element that all-zero indices select, and ``B``.
    """
    parts = _expand(shape, parts)
    dims, advanced, arrays, sizes, steps = [], [], [], [], []
    base, d = 0, 0
    for at, p in enumerate(parts):
        if p is None:
            dims.append((1, 0))
            continue
        n, s = int(shape[d]), int(strides[d])
        if isinstance(p, slice):
            start, stop, step = p.indices(n)
            dims.append((len(range(start, stop, step)), step * s))
            base += start * s
        elif isinstance(p, (int, np.integer)):
            i = int(p)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for axis {d} with size {n}")
            base += (i % n) * s
            advanced.append((at, len(dims)))
        else:
            array = p if runtime.is_device_array(p) else np.asarray(p)
            if array.dtype.kind not in "iu":
                raise IndexError("arrays used as indices must be of integer (or boolean) type, "
                                 f"got {array.dtype}")
            if not runtime.is_device_array(array) and array.size:
                low, high = int(array.min()), int(array.max())
                if low < -n or high >= n:
                    bad = low if low < -n else high
                    raise IndexError(f"index {bad} is out of bounds for axis {d} with size {n}")
            arrays.append(array)
            sizes.append(n)
            steps.append(s)
            advanced.append((at, len(dims)))
        d += 1
    try:
        b_shape = tuple(np.broadcast_shapes(*(tuple(a.shape) for a in arrays)))
    except ValueError:
        raise IndexError("shape mismatch: indexing arrays could not be broadcast together with "
                         "shapes " + " ".join(str(tuple(a.shape)) for a in arrays)) from None
    positions_in_index = [at for at, _ in advanced]
    adjacent = positions_in_index == list(range(positions_in_index[0],
                                                positions_in_index[0] + len(advanced)))
    insert = advanced[0][1] if adjacent else 0
    b_strides = contiguous_strides(b_shape)
    out = ([(n, s, 0) for n, s in dims[:insert]]
           + [(n, 0, p) for n, p in zip(b_shape, b_strides)]
           + [(n, s, 0) for n, s in dims[insert:]])
    return (tuple(n for n, _, _ in out), tuple(s for _, s, _ in out),
            tuple(p for _, _, p in out), arrays, tuple(sizes), tuple(steps), base, b_shape)


def _index_rows(arrays, b_shape):
    """The index arrays broadcast to ``b_shape``, as the rows of one (K, size) int64 device
    array: a view of the one array when it is already so, else copied on the device (host
    arrays beside a device one are copied over, and counted)."""
    size = int(np.prod(b_shape, dtype=np.int64))
    rows = []
    for a in arrays:
        a = runtime.as_device(a) if runtime.is_device_array(a) else _to_device(a)
        a = broadcast_to(a, b_shape)
        if a.dtype != np.int64:
            a = astype(a, np.int64)
        rows.append(flat(contiguous(a)))
    if len(rows) == 1:
        return view(rows[0], (1, size), (size, 1))
    return stack(rows, 0)


def _to_device(a):
    from .arrays import to_device
    return to_device(np.asarray(a, dtype=np.int64))


def _launch_arguments(shape, strides, parts):
    (out_shape, out_strides, positions, arrays, sizes, steps, base,
     b_shape) = layout(shape, strides, parts)
    indices = _index_rows(arrays, b_shape)
    cshape, (cstrides, cpositions) = coalesce(out_shape, out_strides, positions)
    return out_shape, (cshape, cstrides, cpositions, indices, sizes, steps, int(base))


# ---- public functions ---------------------------------------------------------------

def take(x, parts):
    """``x[parts]``, the index holding device integer arrays (see the module doc)."""
    out_shape, arguments = _launch_arguments(tuple(x.shape), element_strides(x), parts)
    out = empty(out_shape, x.dtype)
    if out.size:
        fill = x.dtype.type(np.nan if x.dtype.kind in "fc" else 0)
        build.kernel(gather_indexed_kernel, INDEXED_OFFSET=_OFFSET).over(
            out.size, flat_memory(x), flat(out), *arguments, fill)
    return out


def scatter_add(shape, parts, g):
    """Zeros of ``shape`` with ``g`` added at ``parts`` (repeats accumulate, out-of-range
    entries are dropped)."""
    out = zeros(shape, g.dtype)
    out_shape, arguments = _launch_arguments(shape, contiguous_strides(shape), parts)
    g = contiguous(broadcast_to(g, out_shape))
    if g.size:
        build.kernel(scatter_indexed_kernel, INDEXED_OFFSET=_OFFSET).over(
            g.size, flat(out), flat(g), *arguments)
    return out
