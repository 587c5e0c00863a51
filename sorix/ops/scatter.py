"""The out-of-place scatters: scatter, scatter_add, index_add, index_fill and
masked_scatter (the input is never written; the in-place forms write these results back).

Like the selections of :mod:`sorix.ops.selection`, each is made of differentiable ops
(``index_scatter``, the adjoint of indexing, and ``where``), so first and higher
derivatives and CUDA tensors come from those; the positions are worked out on the host.
"""
import numpy as np

from ..kernels.axes import axis_index
from ..kernels.backend import common
from . import core
from .elementwise import cast, where
from .selection import (_dim, _linear_positions, as_tensor, check_range, fill_value,
                        host_array, integer_index, same_dtype, vector_index)
from .shape import index_scatter


def _on_vector(op, x, dim, index, *rest):
    """``op`` on a 0-d tensor as on a vector of one element (an index tuple cannot address a
    0-d array), the result back as 0-d."""
    axis_index(dim, 0, what=f"{op.__name__}: dim")
    rest = [v.reshape(1) if isinstance(v, core.Tensor) and v.ndim == 0 else v for v in rest]
    return op(x.reshape(1), 0, integer_index(index, op.__name__).reshape(-1), *rest).reshape(())


def _scatter_index(x, dim, index, source_shape, what):
    """(dim, index) for a scatter of ``index`` into x, checked as PyTorch checks it."""
    idx = integer_index(index, what)
    if idx.ndim != x.ndim:
        raise RuntimeError(f"{what}: the index of shape {idx.shape} needs as many dimensions as "
                           f"self, of shape {tuple(x.shape)}")
    dim = _dim(dim, x, what)
    for d, n in enumerate(idx.shape):
        if d != dim and n > x.shape[d]:
            raise RuntimeError(f"{what}: the index's size {n} in dimension {d} exceeds self's "
                               f"size {x.shape[d]} there")
        if source_shape is not None and n > source_shape[d]:
            raise RuntimeError(f"{what}: the index's size {n} in dimension {d} exceeds the "
                               f"source's size {source_shape[d]} there")
    check_range(idx, x.shape[dim], dim, what)
    return dim, idx


def _written(x, positions):
    """A bool array of x's shape: True at the flat ``positions``."""
    hit = np.zeros(x.data.size, np.bool_)
    hit[positions] = True
    return hit.reshape(x.shape)


def _source_part(source, idx):
    """The leading block of ``source`` of the index's shape, flattened: the values written."""
    if tuple(source.shape) != idx.shape:
        source = source[tuple(slice(0, n) for n in idx.shape)]
    return source.reshape(-1)


def _plus(x, added):
    """x + added in x's dtype (bools: logical or, as PyTorch adds them)."""
    out = x + added
    return out if out.data.dtype == x.data.dtype else cast(out, x.data.dtype)


def scatter(x, dim, index, src):
    if x.ndim == 0:
        return _on_vector(scatter, x, dim, index, src)
    if not isinstance(src, core.Tensor) and np.ndim(src) == 0:  # a number: fill
        dim, idx = _scatter_index(x, dim, index, None, "scatter")
        return where(_written(x, _linear_positions(x.shape, dim, idx)), fill_value(x, src), x)
    src = as_tensor(src, x)
    same_dtype(x, src, "scatter")
    dim, idx = _scatter_index(x, dim, index, src.shape, "scatter")
    positions = _linear_positions(x.shape, dim, idx)
    # A position written twice keeps the last value written (as NumPy's assignment and
    # PyTorch's CPU kernel do); only that value gets a gradient, the value really used.
    last = positions.size - 1 - np.unique(positions[::-1], return_index=True)[1]
    values = _source_part(src, idx)[last]
    placed = index_scatter(values, (x.data.size,), positions[last]).reshape(tuple(x.shape))
    return where(_written(x, positions), placed, x)


def scatter_add(x, dim, index, src):
    if x.ndim == 0:
        return _on_vector(scatter_add, x, dim, index, src)
    src = as_tensor(src, x)
    same_dtype(x, src, "scatter_add")
    dim, idx = _scatter_index(x, dim, index, src.shape, "scatter_add")
    positions = _linear_positions(x.shape, dim, idx)
    added = index_scatter(_source_part(src, idx), (x.data.size,), positions)
    return _plus(x, added.reshape(tuple(x.shape)))


def index_add(x, dim, index, source, alpha=1):
    if x.ndim == 0:
        return _on_vector(index_add, x, dim, index, source, alpha)
    source = as_tensor(source, x)
    same_dtype(x, source, "index_add")
    idx = vector_index(index, "index_add")
    dim = _dim(dim, x, "index_add")
    expected = tuple(x.shape[:dim]) + (idx.size,) + tuple(x.shape[dim + 1:])
    if tuple(source.shape) != expected:
        raise RuntimeError(f"index_add: the source has shape {tuple(source.shape)}, expected "
                           f"{expected} (self's shape with {idx.size} entries, one per index, "
                           f"in dimension {dim})")
    check_range(idx, x.shape[dim], dim, "index_add")
    if alpha != 1:
        source = source * alpha
    return _plus(x, index_scatter(source, tuple(x.shape), (slice(None),) * dim + (idx,)))


def index_fill(x, dim, index, value):
    if x.ndim == 0:
        return _on_vector(index_fill, x, dim, index, value)
    idx = vector_index(index, "index_fill")
    dim = _dim(dim, x, "index_fill")
    idx = check_range(idx, x.shape[dim], dim, "index_fill", negative=True)
    hit = np.zeros(tuple(x.shape), np.bool_)
    hit[(slice(None),) * dim + (idx,)] = True
    return where(hit, fill_value(x, value), x)


def masked_scatter(x, mask, source):
    if isinstance(mask, core.Tensor):
        common(x.data, mask.data)
    m = host_array(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_scatter: the mask must be a bool tensor, got {m.dtype}")
    try:
        m = np.broadcast_to(m, tuple(x.shape))
    except ValueError:
        raise RuntimeError(f"masked_scatter: the mask of shape {m.shape} does not broadcast to "
                           f"self's shape {tuple(x.shape)}") from None
    source = as_tensor(source, x)
    same_dtype(x, source, "masked_scatter")
    positions = np.flatnonzero(m)
    if source.data.size < positions.size:
        raise RuntimeError(f"masked_scatter: the mask has {positions.size} True entries but the "
                           f"source only {source.data.size} elements")
    values = source.reshape(-1)[:positions.size]  # taken in order, one per True entry
    placed = index_scatter(values, (x.data.size,), positions).reshape(tuple(x.shape))
    return where(m, placed, x)
