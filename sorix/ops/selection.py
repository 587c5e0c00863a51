"""Selecting: index_select, narrow, masked_select, tril/triu, movedim,
repeat_interleave, take_along_dim, and the operand checks the scatters of
:mod:`sorix.ops.scatter` share.

None of these has a node of its own: each is an indexing (``getitem``), a ``where``
or a ``permute``, so first and higher derivatives and
CUDA tensors come from those ops. The index arithmetic runs on the host with NumPy:
an index held on a GPU is read back once, and the index arrays computed from it are
copied to the device by the indexing kernels (one copy per call, fine for now).
"""
import numpy as np

from ..kernels.axes import axis_index
from ..kernels.backend import common, of
from . import core
from .elementwise import cast, where
from .shape import permute


# ---- operands --------------------------------------------------------------------

def as_tensor(value, like):
    """``value`` as a tensor on the device of the tensor ``like`` (plain data: a constant)."""
    if isinstance(value, core.Tensor):
        common(like.data, value.data)  # (two devices: the usual error, before any work)
        return value
    return core.constant(np.asarray(value), like=like.data)


def host_array(value):
    """The values of a tensor, array or list as a NumPy array (read back from a GPU)."""
    data = value.data if isinstance(value, core.Tensor) else value
    if core.is_device_array(data):
        return of(data).to_host(data)
    return np.asarray(data)


def integer_index(index, what):
    """An index argument as an int64 NumPy array; anything but integers is refused."""
    idx = host_array(index)
    if idx.size == 0 and idx.dtype.kind == "f":
        idx = idx.astype(np.int64)  # ``[]`` becomes a float array in NumPy: read it as no index
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{what}: the index must hold integers (int64 or int32), got {idx.dtype}; "
                        "convert it with .long()")
    return idx.astype(np.int64, copy=False)


def vector_index(index, what):
    """An index that must be a vector (a 0-d index counts as a vector of one)."""
    idx = integer_index(index, what)
    if idx.ndim > 1:
        raise IndexError(f"{what}: the index must be 1-D (one position per selected slice), got "
                         f"shape {idx.shape}; use take_along_dim or gather for an index grid")
    return idx.reshape(-1)


def check_range(idx, size, dim, what, negative=False):
    """``idx`` with every entry inside ``[0, size)``, or ``[-size, size)`` counting from the
    end when ``negative`` (returned made non-negative); IndexError names the first outside."""
    low = -size if negative else 0
    bad = (idx < low) | (idx >= size)
    if bad.any():
        valid = f"{low} to {size - 1}" if size else "none: the dimension is empty"
        raise IndexError(f"{what}: index {int(idx[bad].flat[0])} is out of range for dimension "
                         f"{dim} of size {size} (valid indices: {valid})")
    return np.where(idx < 0, idx + size, idx) if negative else idx


def same_dtype(x, other, what):
    """PyTorch's scatters write ``other`` into ``x`` unconverted: the dtypes must agree."""
    if other.data.dtype != x.data.dtype:
        raise RuntimeError(f"{what}: self has dtype {x.dtype} but the source has {other.dtype}; "
                           "convert the source with .to(self.dtype)")


def fill_value(x, value):
    """A fill value in x's dtype (a number is converted as PyTorch does: 7.5 fills an integer
    tensor with 7); a tensor stays differentiable."""
    if isinstance(value, core.Tensor):
        common(x.data, value.data)
        if value.data.size != 1:
            raise RuntimeError(f"the fill value must be a number or a one-element tensor, got "
                               f"shape {tuple(value.shape)}")
        value = value.reshape(())
        return value if value.data.dtype == x.data.dtype else cast(value, x.data.dtype)
    return core.constant(np.asarray(value).astype(x.data.dtype), like=x.data)


def _dim(dim, x, what):
    return axis_index(dim, x.ndim, what=f"{what}: dim", of=f"a tensor of shape {tuple(x.shape)}")


def _along(x, dim, idx):
    """``x`` indexed as gather does: ``idx`` along ``dim``, each element's own position in the
    other dimensions (``idx`` has x's number of dimensions)."""
    if x.ndim == 0:  # an index tuple cannot address a 0-d array: go through a vector of one
        return x.reshape(1)[idx.reshape(1)].reshape(())
    grid = list(np.indices(idx.shape, sparse=True))
    grid[dim] = idx
    return x[tuple(grid)]


def _linear_positions(shape, dim, idx):
    """The flat positions in an array of ``shape`` that the scatter of ``idx`` along ``dim``
    writes to, one per element of ``idx`` in C order."""
    grid = list(np.indices(idx.shape, sparse=True))
    grid[dim] = idx
    return np.ravel_multi_index(tuple(np.broadcast_arrays(*grid)), shape).reshape(-1)


# ---- selecting -----------------------------------------------------------------------

def index_select(x, dim, index):
    idx = vector_index(index, "index_select")
    dim = _dim(dim, x, "index_select")
    if x.ndim == 0:
        if idx.size != 1:
            raise IndexError(f"index_select: a 0-d tensor takes one index, got {idx.size}")
        check_range(idx, 1, 0, "index_select")
        return x.reshape(1)[idx].reshape(())
    check_range(idx, x.shape[dim], dim, "index_select")
    return x[(slice(None),) * dim + (idx,)]


def narrow(x, dim, start, length):
    if x.ndim == 0:
        raise RuntimeError("narrow: a 0-d tensor has no dimension to narrow; reshape it first")
    dim = _dim(dim, x, "narrow")
    size, start, length = x.shape[dim], int(start), int(length)
    if not -size <= start <= size:
        raise IndexError(f"narrow: start {start} is out of range for dimension {dim} of size "
                         f"{size} (expected {-size} to {size})")
    start += size if start < 0 else 0
    if length < 0:
        raise RuntimeError(f"narrow: length must be non-negative, got {length}")
    if start + length > size:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds the size {size} "
                           f"of dimension {dim}")
    return x[(slice(None),) * dim + (slice(start, start + length),)]


def masked_select(x, mask):
    if isinstance(mask, core.Tensor):
        common(x.data, mask.data)
    m = host_array(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: the mask must be a bool tensor, got {m.dtype}; make one "
                        "with a comparison (x > 0)")
    try:
        shape = np.broadcast_shapes(tuple(x.shape), m.shape)
    except ValueError:
        raise RuntimeError(f"masked_select: the mask of shape {m.shape} does not broadcast with "
                           f"the tensor of shape {tuple(x.shape)}") from None
    wide = x if tuple(x.shape) == shape else x.expand(shape)
    return wide[np.broadcast_to(m, shape)]


def triangle(x, diagonal, lower):
    """tril (``lower``) or triu of the matrices in x's last two dimensions."""
    name = "tril" if lower else "triu"
    if x.ndim < 2:
        raise RuntimeError(f"{name}: expected a tensor of at least 2 dimensions (matrices in the "
                           f"last two), got shape {tuple(x.shape)}")
    rows, cols = x.shape[-2:]
    above = np.arange(cols)[None, :] - np.arange(rows)[:, None]  # column - row
    keep = above <= diagonal if lower else above >= diagonal
    # where, not a product with a 0/1 mask: 0 * inf would be NaN
    return where(keep, x, False if x.data.dtype == np.bool_ else 0)


def _dims(value):
    return (value,) if isinstance(value, (int, np.integer)) else tuple(value)


def movedim(x, source, destination):
    source, destination = _dims(source), _dims(destination)
    if len(source) != len(destination):
        raise RuntimeError(f"movedim: source {source} and destination {destination} must name "
                           "the same number of dimensions")
    if x.ndim == 0:
        for d in source + destination:
            _dim(d, x, "movedim")
        return permute(x, ())
    src = [_dim(d, x, "movedim") for d in source]
    dst = [_dim(d, x, "movedim") for d in destination]
    for name, dims, given in (("source", src, source), ("destination", dst, destination)):
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"movedim: {name} {given} names a dimension twice")
    order = [None] * x.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(d for d in range(x.ndim) if d not in src)  # the others keep their order
    return permute(x, tuple(next(rest) if o is None else o for o in order))


def repeat_interleave(x, repeats, dim):
    if dim is None:
        x, dim = x.reshape(-1), 0
    else:
        dim = _dim(dim, x, "repeat_interleave")
        x = x.reshape(1) if x.ndim == 0 else x
    size = x.shape[dim]
    if isinstance(repeats, (int, np.integer)) and not isinstance(repeats, bool):
        counts = np.full(size, int(repeats), np.int64)
    else:
        counts = integer_index(repeats, "repeat_interleave: repeats")
        if counts.ndim > 1:
            raise RuntimeError(f"repeat_interleave: repeats must be a number or 1-D, got shape "
                               f"{counts.shape}")
        if counts.size == 1:
            counts = np.full(size, int(counts.reshape(())), np.int64)
        elif counts.size != size:
            raise RuntimeError(f"repeat_interleave: {counts.size} repeats for dimension {dim} of "
                               f"size {size}; give one per element (or a single number)")
    if (counts < 0).any():
        raise RuntimeError(f"repeat_interleave: repeats must be non-negative, got "
                           f"{int(counts[counts < 0][0])}")
    return x[(slice(None),) * dim + (np.repeat(np.arange(size), counts),)]


def take_along_dim(x, indices, dim):
    idx = integer_index(indices, "take_along_dim")
    if dim is None:  # positions in the flattened tensor
        flat = x.reshape(-1)
        return flat[check_range(idx.reshape(-1), flat.shape[0], "0 (flattened)",
                                "take_along_dim", negative=True)]
    if idx.ndim != x.ndim:
        raise RuntimeError(f"take_along_dim: indices of shape {idx.shape} need as many dimensions "
                           f"as the input of shape {tuple(x.shape)}")
    dim = _dim(dim, x, "take_along_dim")
    if x.ndim == 0:
        return _along(x, 0, check_range(idx, 1, 0, "take_along_dim", negative=True))
    idx = check_range(idx, x.shape[dim], dim, "take_along_dim", negative=True)
    # every dimension but dim broadcasts, as in PyTorch
    flat_x = tuple(1 if d == dim else n for d, n in enumerate(x.shape))
    flat_i = tuple(1 if d == dim else n for d, n in enumerate(idx.shape))
    try:
        common_shape = list(np.broadcast_shapes(flat_x, flat_i))
    except ValueError:
        raise RuntimeError(f"take_along_dim: indices of shape {idx.shape} do not broadcast with "
                           f"the input of shape {tuple(x.shape)} outside dimension {dim}") from None
    x_shape = tuple(common_shape[:dim] + [x.shape[dim]] + common_shape[dim + 1:])
    i_shape = tuple(common_shape[:dim] + [idx.shape[dim]] + common_shape[dim + 1:])
    wide = x if tuple(x.shape) == x_shape else x.expand(x_shape)
    return _along(wide, dim, np.broadcast_to(idx, i_shape))
