"""Shape and indexing ops: reshape, permute, expand, getitem, cat, stack.

Their backward rules are written once against a namespace ``F`` (see
:mod:`sorix.autograd.node`), so they serve first- and higher-order gradients.
"""
import numpy as np

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


def _plain_index(index):
    """Tensors inside an index become arrays; lists become int or bool arrays."""
    Tensor = core.Tensor
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        array = np.asarray([i.item() if isinstance(i, Tensor) else i for i in index])
        # NumPy makes ``[]`` a float array, which it refuses as an index; PyTorch reads it
        # as an empty integer index (selecting nothing)
        return array.astype(np.int64) if array.size == 0 else array
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    return index


class IndexNode(Node):
    __slots__ = ("shape", "index")

    def __init__(self, x, index):
        super().__init__((x,))
        self.shape, self.index = x.data.shape, index

    def backward(self, grad, F, saved):
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
    index = _plain_index(index)
    B = of(x.data)
    if B is _cpu:
        check_host_index(index)
    elif _device_parts(index):
        # A device bool mask's True count is the result's shape, so it is read back
        # once here, not again by backward; integer index arrays stay on the device.
        index = _host_masks(index)
    try:
        out = B.take(x.data, index)
    except IndexError as exc:
        raise IndexError(f"{exc} (tensor of shape {tuple(x.shape)})") from None
    if records(x):
        return _view(out, x, IndexNode(x, index))
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
    grid[dim] = idx
    return x[tuple(grid)]


twin.provide(reshape=reshape, transpose=lambda x, axes=None: permute(
                 x, tuple(reversed(range(x.ndim))) if axes is None else axes),
             broadcast_to=expand, take=getitem,
             scatter_add=lambda shape, index, g: index_scatter(g, shape, index))
