"""Shape and indexing ops: reshape, permute, expand, getitem, cat, stack.

Their backward rules are written once against a namespace ``F`` (see
:mod:`sorix.autograd.node`), so they serve first- and higher-order gradients.
"""
import numpy as np

from ..autograd.delivery import IndexedGrad
from ..autograd.node import Node
from ..kernels import cpu as _cpu
from ..kernels.axes import axis_index
from ..kernels.backend import mixed_devices, of
from . import core, twin
from .core import records, wrap


def _view(out, x, node):
    """A tensor over ``out``; when ``out`` shares x's memory it shares x's version
    counter too, so an in-place change through either is seen by both."""
    t = wrap(out, node)
    if of(out).shares_memory(out, x.data):
        t._version = x._version
    return t


class ReshapeNode(Node):
    __slots__ = ("shape",)

    def __init__(self, x):
        super().__init__((x,))
        self.shape = x.data.shape

    def backward(self, grad, F, saved):
        return (F.reshape(grad, self.shape),)


def reshape(x, shape):
    try:
        out = of(x.data).reshape(x.data, shape)
    except ValueError:
        raise RuntimeError(f"shape {tuple(shape)} is invalid for a tensor of shape "
                           f"{tuple(x.shape)} ({x.data.size} elements)") from None
    if records(x):
        return _view(out, x, ReshapeNode(x))
    return _view(out, x, None)


class PermuteNode(Node):
    __slots__ = ("inverse",)

    def __init__(self, x, axes):
        super().__init__((x,))
        self.inverse = tuple(np.argsort(axes))

    def backward(self, grad, F, saved):
        return (F.transpose(grad, self.inverse),)


def permute(x, axes):
    axes = tuple(axis_index(a, x.ndim) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise RuntimeError(f"permute: {axes} is not a permutation of the {x.ndim} dimensions")
    out = of(x.data).transpose(x.data, axes)
    if records(x):
        return _view(out, x, PermuteNode(x, axes))
    return _view(out, x, None)


class ExpandNode(Node):
    """Broadcasting to a larger shape: the engine sums the gradient back."""
    __slots__ = ()

    def backward(self, grad, F, saved):
        return (grad,)


def _expanded_shape(x, shape):
    """``shape`` with each -1 replaced by x's size in that dimension. A new leading
    dimension has no size to keep, so -1 there is refused (as in PyTorch) rather than
    wrapped around to one of x's trailing sizes."""
    lead = len(shape) - x.ndim
    if lead < 0:
        raise RuntimeError(f"cannot expand a tensor of shape {tuple(x.shape)} to {tuple(shape)}: "
                           f"give at least {x.ndim} sizes, one for each existing dimension")
    for i, n in enumerate(shape[:lead]):
        if n == -1:
            raise RuntimeError(f"cannot expand a tensor of shape {tuple(x.shape)} to "
                               f"{tuple(shape)}: -1 (keep the size) is not allowed for the new "
                               f"leading dimension {i}; give its size explicitly")
    return tuple(shape[:lead]) + tuple(x.shape[i] if n == -1 else n
                                       for i, n in enumerate(shape[lead:]))


def expand(x, shape):
    shape = _expanded_shape(x, shape)
    try:
        out = of(x.data).broadcast_to(x.data, shape)
    except ValueError:
        raise RuntimeError(f"cannot expand a tensor of shape {tuple(x.shape)} to {shape}: "
                           "only size-1 dimensions can grow") from None
    if records(x):
        return _view(out, x, ExpandNode((x,)))
    return _view(out, x, None)


def _is_host_int(data):
    """A 0-d integer host array: as an index it is a Python int (PyTorch selects with it)."""
    return type(data) is np.ndarray and data.ndim == 0 and data.dtype.kind in "iu"


def _plain_index(index):
    """Tensors inside an index become arrays (a 0-d integer one on the host a Python int, so
    that no backward reads the tensor later); lists become int or bool arrays."""
    Tensor = core.Tensor
    if isinstance(index, Tensor):
        data = index.data
        return int(data) if _is_host_int(data) else data
    if isinstance(index, list):
        array = np.asarray([i.item() if isinstance(i, Tensor) else i for i in index])
        # NumPy makes ``[]`` a float array, which it refuses as an index; PyTorch reads it
        # as an empty integer index (selecting nothing)
        return array.astype(np.int64) if array.size == 0 else array
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    return index


def _index_tensors(index):
    """The tensors of an index that its arrays alias (all but 0-d host integers): backward
    reads them, so an in-place change after the forward must make it raise, as in PyTorch.
    (A plain NumPy index array is not guarded: PyTorch does not guard those either.)"""
    Tensor = core.Tensor
    if isinstance(index, Tensor):
        return () if _is_host_int(index.data) else (index,)
    found = ()
    if type(index) is tuple:
        for p in index:
            if isinstance(p, Tensor) and not _is_host_int(p.data):
                found += (p,)
    return found


def _is_int(p):
    """An index part PyTorch applies as an integer (a basic, select index): a Python or NumPy
    integer or a 0-d integer array (not a bool, which NumPy and PyTorch read as a mask)."""
    if type(p) is int or isinstance(p, np.integer):
        return True
    return type(p) is not bool and getattr(p, "ndim", None) == 0 and p.dtype.kind in "iu"


def _consumes(p):
    """How many of the indexed array's dimensions an index part (not ...) uses up."""
    if p is None or isinstance(p, (bool, np.bool_)):
        return 0
    dtype = getattr(p, "dtype", None)
    return p.ndim if dtype is not None and dtype.kind == "b" else 1  # a mask: its ndim


_BASIC_TYPES = frozenset((int, slice, type(None), type(Ellipsis)))


def torch_order(index, shape):
    """PyTorch's meaning of a tuple index, in NumPy's terms: ``(numpy_index, drop, rank)``,
    where NumPy's result of ``numpy_index`` with its axes ``drop`` removed (each of size 1)
    is PyTorch's result, of ``rank`` dimensions; None when NumPy already agrees.

    NumPy counts an integer as an advanced index, so when integers and advanced indices
    (arrays, lists, masks) are apart, separated by a slice, None or ..., the broadcast
    dimensions go first: x[0, :, [1, 0]] has shape (2, n). PyTorch applies integers first,
    as basic indices; only the advanced indices then decide where those dimensions go
    (shape (n, 2)). Integers touching the block of advanced indices (x[0, [1, 0], :],
    x[:, [1, 0], 0, [2, 3]]) give the same result under both rules and stay; any other
    becomes the slice i:i+1, whose dimension is dropped afterwards."""
    for p in index:  # (the common case first: ints and slices alone, nothing to do)
        if type(p) not in _BASIC_TYPES:
            break
    else:
        return None
    advanced, ints = [], []  # their positions
    for k, p in enumerate(index):
        kind = type(p)
        if kind is int:
            ints.append(k)
        elif kind not in _BASIC_TYPES:
            if kind is np.ndarray and p.ndim:  # (the usual advanced index, tested quickly)
                advanced.append(k)
            else:
                (ints if _is_int(p) else advanced).append(k)
    if not advanced or not ints:
        return None
    lo, hi = advanced[0], advanced[-1]
    while lo - 1 in ints:
        lo -= 1
    while hi + 1 in ints:
        hi += 1
    if lo <= ints[0] and ints[-1] <= hi:
        return None  # every integer touches the block (x[idx, 0], x[0, idx]): NumPy agrees
    ellipses = sum(p is Ellipsis for p in index)
    spare = len(shape) - sum(_consumes(p) for p in index if p is not Ellipsis)
    if ellipses > 1 or spare < 0:
        return None  # NumPy's own error follows
    parts = []  # the index NumPy gets
    kept = []  # per result dimension outside the broadcast block, in order: False for those
    #            of the integers turned into slices (PyTorch's result has none)
    block_at = None  # how many of those dimensions come before the block
    broadcast = 0  # dimensions of the broadcast block
    dim = 0
    for k, p in enumerate(index):
        if lo <= k <= hi and (k in advanced or k in ints):  # the advanced block
            if block_at is None:
                block_at = len(kept)
            if k in advanced:  # a mask gives one dimension (its True positions), arrays theirs
                dtype = getattr(p, "dtype", None)
                mask = isinstance(p, bool) or (dtype is not None and dtype.kind == "b")
                broadcast = max(broadcast, 1 if mask else getattr(p, "ndim", None) or np.ndim(p))
            parts.append(p)
            dim += _consumes(p)
        elif k in ints:
            n = shape[dim]
            i = int(p if isinstance(p, (int, np.integer, np.ndarray)) else of(p).to_host(p))
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for dimension {dim} with size {n}")
            parts.append(slice(i, i + 1 if i != -1 else None))
            kept.append(False)
            dim += 1
        else:
            width = spare if p is Ellipsis else (0 if p is None else 1)
            parts.append(p)
            kept.extend([True] * (width + (p is None)))
            dim += width
    kept.extend([True] * (len(shape) - dim))  # the trailing dimensions no part names
    # NumPy puts the block in place when its indices are adjacent, else first
    adjacent = all(k in advanced or k in ints for k in range(lo, hi + 1))
    at = block_at if adjacent else 0
    drop = [j if j < at else j + broadcast for j, keep in enumerate(kept) if not keep]
    return tuple(parts), drop, broadcast + len(kept) - len(drop)


def setitem_parts(data, index, value):
    """``(index, value)`` for ``B.assign(data, index, value)`` meaning what PyTorch's
    ``tensor[index] = value`` means (see :func:`torch_order`): the value gets size-1
    dimensions where NumPy's region has the dimensions of the integers PyTorch selects."""
    plan = torch_order(index, data.shape) if type(index) is tuple else None
    if plan is None:
        return index, value
    index, drop, rank = plan
    if isinstance(value, (list, tuple)):
        value = np.asarray(value)
    if getattr(value, "ndim", 0) == 0:
        return index, value  # a number fills any region
    shape = tuple(value.shape)
    while len(shape) > rank and shape[0] == 1:  # PyTorch drops leading size-1 dimensions
        shape = shape[1:]
    if len(shape) <= rank:
        shape = (1,) * (rank - len(shape)) + shape
        for j in drop:
            shape = shape[:j] + (1,) + shape[j:]
        value = of(value).reshape(value, shape) if not isinstance(value, np.ndarray) \
            else value.reshape(shape)
    return index, value


class IndexNode(Node):
    __slots__ = ("shape", "index", "expanded")

    def __init__(self, x, index, watch=(), expanded=None):
        super().__init__((x,), None, watch)
        self.shape, self.index = x.data.shape, index
        self.expanded = expanded  # NumPy's result shape, when PyTorch's dropped axes of it

    def backward(self, grad, F, saved):
        if self.expanded is not None:
            grad = F.reshape(grad, self.expanded)
        if F is _cpu:  # left unexpanded: the engine adds it where it is summed (delivery)
            return (IndexedGrad(self.shape, self.index, grad),)
        # zeros with grad added at the index: repeated indices add up, not overwrite
        return (F.scatter_add(self.shape, self.index, grad),)


def _device_parts(index):
    parts = index if isinstance(index, tuple) else (index,)
    return [p for p in parts if core.is_device_array(p)]


def check_host_index(index):
    """A CPU tensor cannot be indexed by a CUDA tensor (it would need a hidden copy)."""
    devices = _device_parts(index)
    if devices:
        raise mixed_devices("cpu", of(devices[0]).DEVICE)


def _host_masks(index):
    """``index`` with its device bool arrays copied to the host (integer ones stay)."""
    if isinstance(index, tuple):
        return tuple(_host_masks(p) for p in index)
    if core.is_device_array(index) and index.dtype.kind == "b":
        return of(index).to_host(index)
    return index


def getitem(x, index):
    given = index
    index = _plain_index(index)
    B = of(x.data)
    if B is _cpu:
        check_host_index(index)
    elif _device_parts(index):
        # A device bool mask's True count is the result's shape, so it is read back
        # once here, not again by backward; integer index arrays stay on the device.
        index = _host_masks(index)
    plan = torch_order(index, x.data.shape) if type(index) is tuple else None
    try:
        if plan is None:
            out = B.take(x.data, index)
        else:  # PyTorch's order of integers and advanced indices (see torch_order)
            index, drop, _ = plan
            out = B.take(x.data, index)
            expanded = out.shape
            out = B.reshape(out, tuple([n for j, n in enumerate(expanded) if j not in drop]))
    except IndexError as exc:
        raise IndexError(f"{exc} (tensor of shape {tuple(x.shape)})") from None
    if records(x):
        node = IndexNode(x, index, _index_tensors(given), None if plan is None else expanded)
        return _view(out, x, node)
    return _view(out, x, None)


class ScatterNode(Node):
    """The adjoint of indexing: zeros of ``shape`` with ``grad`` added at ``index``."""
    __slots__ = ("index",)

    def __init__(self, g, index):
        super().__init__((g,))
        self.index = index

    def backward(self, grad, F, saved):
        return (F.take(grad, self.index),)


def index_scatter(g, shape, index):
    """Zeros of ``shape`` with ``g`` added at ``index`` (differentiable in ``g``)."""
    out = of(g.data).scatter_add(shape, index, g.data)
    if records(g):
        return wrap(out, ScatterNode(g, index))
    return wrap(out)


class ConcatNode(Node):
    __slots__ = ("axis", "bounds", "stacked")

    def __init__(self, tensors, axis, bounds, stacked):
        super().__init__(tuple(tensors))
        self.axis, self.bounds, self.stacked = axis, bounds, stacked

    def backward(self, grad, F, saved):
        out = []
        for (lo, hi), need in zip(self.bounds, self.needs):
            if not need:
                out.append(None)
                continue
            if self.stacked:
                index = (slice(None),) * self.axis + (lo,)
            else:
                index = (slice(None),) * self.axis + (slice(lo, hi),)
            out.append(F.take(grad, index))
        return tuple(out)


def _promoted_dtype(tensors):
    """PyTorch's promotion over all the inputs (cat([int64, float32]) is float32, where
    NumPy would give float64)."""
    dtype = tensors[0].data.dtype
    for t in tensors[1:]:
        dtype = core.promote_types(dtype, t.data.dtype)
    return dtype


def concat(tensors, axis, stacked):
    tensors = [core.constant(t) for t in tensors]
    if not tensors:
        raise ValueError("expected a non-empty sequence of tensors")
    ndim = tensors[0].ndim + (1 if stacked else 0)
    axis = axis_index(axis, ndim, of="the stacked result" if stacked else "a tensor")
    B = core.namespace(*tensors)
    dtype = _promoted_dtype(tensors)
    # each input in the promoted dtype (the engine casts each gradient back to its input's)
    arrays = [t.data if t.data.dtype == dtype else B.astype(t.data, dtype) for t in tensors]
    try:
        out = B.stack(arrays, axis) if stacked else B.concatenate(arrays, axis)
    except ValueError as exc:
        shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
        raise RuntimeError(f"cannot {'stack' if stacked else 'concatenate'} shapes {shapes}: "
                           f"{exc}") from None
    if records(*tensors):
        bounds, start = [], 0
        for a in arrays:
            size = 1 if stacked else a.shape[axis]
            bounds.append((start, start + size) if not stacked else (len(bounds), None))
            start += size
        return wrap(out, ConcatNode(tensors, axis, bounds, stacked))
    return wrap(out)


# ---- gather: an indexing (so differentiable through getitem), for sorix.gather and
# Tensor.gather alike

def gather(input, dim, index):
    """out[i][j] = input[index[i][j]][j] for dim 0 (and alike for other dims): an indexing
    (``getitem``) with ``index`` along ``dim`` and the positions themselves elsewhere."""
    Tensor = core.Tensor
    x = input if isinstance(input, Tensor) else Tensor(np.asarray(input))
    idx = index.data if isinstance(index, Tensor) else np.asarray(index)
    if not isinstance(idx, np.ndarray):
        idx = of(idx).to_host(idx)  # the index grid is built on the host (NumPy's rules)
    if idx.ndim != x.ndim:
        raise RuntimeError(f"gather: index has {idx.ndim} dimensions, input has {x.ndim}")
    dim = axis_index(dim, x.ndim, what="gather: dim")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"gather: index must hold integers, got {idx.dtype}")
    size = x.shape[dim]
    bad = (idx < 0) | (idx >= size)
    if bad.any():  # NumPy would wrap a negative index around; PyTorch refuses it
        raise IndexError(f"gather: index {int(idx[bad].flat[0])} is out of range for dimension "
                         f"{dim} of size {size} (valid indices: 0 to {size - 1})")
    grid = list(np.indices(idx.shape, sparse=True))
    # the index tensor itself when its array is used as is: getitem then guards it against
    # an in-place change before backward (a copy from the device needs no guard)
    grid[dim] = index if isinstance(index, Tensor) and index.data is idx else idx
    return x[tuple(grid)]


twin.provide(reshape=reshape, transpose=lambda x, axes=None: permute(
                 x, tuple(reversed(range(x.ndim))) if axes is None else axes),
             broadcast_to=expand, take=getitem,
             scatter_add=lambda shape, index, g: index_scatter(g, shape, index))
