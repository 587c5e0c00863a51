"""Tensor's named maths, reduction and shape methods, as mixins of :class:`sorix.Tensor`.

They only map PyTorch's and Sorix's spellings (``dim``/``axis``,
``keepdim``/``keepdims``, varargs or tuples) onto the ops in
:mod:`sorix.ops`; kept apart from :mod:`sorix.tensor` so that each file
reads in one sitting. The elementwise ops' methods (``exp``, ``add``,
``leaky_relu`` ...) are not written here: :func:`sorix.ops.surface.add_methods`
makes them from the op table, :mod:`sorix.kernels.defs`. Every mixin has
empty ``__slots__``: tensors keep no ``__dict__``.
"""
import numpy as np

from . import dtypes as _dtypes
from .dtypes import bool_, float16, float32, float64, int32, int64
from .kernels.axes import axis_index as _axis_index
from .kernels.backend import of as _of
from .ops import core as _core
from .ops import elementwise as _ew
from .ops import reduce as _red
from .ops import selection as _selection
from .ops import shape as _shape
from .ops import surface as _surface
from .ops.linalg import matmul as _matmul
from .ops.softmax import log_softmax as _log_softmax, softmax as _softmax


def _axis_arg(axis, dim):
    return dim if axis is None else axis


def _no_out(out, what):
    if out is not None:
        raise NotImplementedError(f"{what}(out=...) is not supported; assign the result instead")


def _cast_result(result, dtype):
    return result if dtype is None else result.to(dtype=dtype)


def _one_dim(dim, axis, what):
    """The dimension given as ``dim`` (PyTorch) or ``axis`` (Sorix)."""
    if dim is None:
        dim = axis
    elif axis is not None:
        raise TypeError(f"{what}() got both dim and axis; give one")
    if dim is None:
        raise TypeError(f"{what}() needs a dimension: dim (or axis)")
    return dim


def _keep_arg(keepdims, keepdim):
    return bool(keepdims or keepdim)


def _integral(bound):
    return bound is None or isinstance(bound, (int, np.integer))


def _integer_clamp(x, low, high):
    """An integer tensor clamped by integer bounds, in its dtype and exactly, as in PyTorch
    (the clamp kernel computes in float32, which rounds integers beyond 2^24); bounds
    beyond the dtype's range are brought into it first, so that none wraps."""
    info = np.iinfo(x.data.dtype)
    out = x
    if low is not None:
        out = out.maximum(int(np.clip(low, info.min, info.max)))
    if high is not None:
        out = out.minimum(int(np.clip(high, info.min, info.max)))
    return out


class MathMethods:
    """``matmul``, ``clamp``, ``softmax`` ..., and the elementwise ops' methods (``add``,
    ``exp``, ``relu`` ...), added below from their entries in :mod:`sorix.kernels.defs`."""
    __slots__ = ()

    def matmul(self, other):
        return _matmul(self, other)

    def dot(self, other):
        return _matmul(self, other)

    # (written by hand: clamp's bounds are optional; see sorix.kernels.defs)
    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp needs at least one of min and max")
        if self.data.dtype.kind in "iu" and not self.requires_grad \
                and _integral(min) and _integral(max):
            return _integer_clamp(self, min, max)
        low = -np.inf if min is None else float(min)
        high = np.inf if max is None else float(max)
        return _ew.unary("clamp", self, (low, high))

    clip = clamp

    def softmax(self, axis=-1, dim=None):
        return _softmax(self, _axis_arg(dim, axis) if dim is not None else axis)

    def log_softmax(self, axis=-1, dim=None):
        return _log_softmax(self, dim if dim is not None else axis)


_surface.add_methods(MathMethods)


class ReductionMethods:
    """``sum``, ``mean``, ``max``, ``min``, ``var``, ``std``, ``argmax``, ``argmin``."""
    __slots__ = ()

    # ``out`` and ``dtype`` are accepted so that NumPy's functions (np.sum(t), np.mean(t) ...),
    # which pass them, work on tensors.
    def sum(self, axis=None, keepdims=False, dim=None, keepdim=False, dtype=None, out=None):
        _no_out(out, "sum")
        return _red.sum(self, _axis_arg(axis, dim), _keep_arg(keepdims, keepdim),
                        _dtypes.numpy_dtype(dtype))

    def mean(self, axis=None, keepdims=False, dim=None, keepdim=False, dtype=None, out=None):
        _no_out(out, "mean")
        # dtype= casts the input first, as in PyTorch and NumPy: the sum runs in that dtype
        return _cast_result(_red.mean(_cast_result(self, dtype), _axis_arg(axis, dim),
                                      _keep_arg(keepdims, keepdim)), dtype)

    def max(self, axis=None, keepdims=False, dim=None, keepdim=False, out=None):
        _no_out(out, "max")
        return _red.max(self, _axis_arg(axis, dim), _keep_arg(keepdims, keepdim))

    def min(self, axis=None, keepdims=False, dim=None, keepdim=False, out=None):
        _no_out(out, "min")
        return _red.min(self, _axis_arg(axis, dim), _keep_arg(keepdims, keepdim))

    def var(self, axis=None, keepdims=False, dim=None, keepdim=False, correction=1,
            unbiased=None, dtype=None, out=None, ddof=None):
        _no_out(out, "var")
        if ddof is not None:  # NumPy's name for the correction
            correction = ddof
        if unbiased is not None:
            correction = 1 if unbiased else 0
        return _cast_result(_red.var(_cast_result(self, dtype), _axis_arg(axis, dim),
                                     _keep_arg(keepdims, keepdim), correction), dtype)

    def std(self, axis=None, keepdims=False, dim=None, keepdim=False, correction=1,
            unbiased=None, dtype=None, out=None, ddof=None):
        _no_out(out, "std")
        if ddof is not None:
            correction = ddof
        if unbiased is not None:
            correction = 1 if unbiased else 0
        return _cast_result(_red.std(_cast_result(self, dtype), _axis_arg(axis, dim),
                                     _keep_arg(keepdims, keepdim), correction), dtype)

    def argmax(self, axis=None, keepdims=False, dim=None, keepdim=False):
        return _red.arg_extremum("max", self, _axis_arg(axis, dim), _keep_arg(keepdims, keepdim))

    def argmin(self, axis=None, keepdims=False, dim=None, keepdim=False):
        return _red.arg_extremum("min", self, _axis_arg(axis, dim), _keep_arg(keepdims, keepdim))


class ShapeMethods:
    """``reshape``, ``view``, ``transpose``, ``permute``, ``squeeze``, ``split`` ..."""
    __slots__ = ()

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        sizes = []
        for s in shape:
            # ints only (as PyTorch): int() would truncate 2.7 to 2 and let x.reshape(n / 2, 2)
            # work silently; NumPy would read -2 as -1
            try:
                size = type(s).__index__(s)
            except (AttributeError, TypeError):
                raise TypeError(f"reshape sizes must be integers, got {s!r} "
                                f"({type(s).__name__}); use // for integer division, e.g. "
                                "x.reshape(n // 2, 2)") from None
            if size < -1:
                raise RuntimeError(f"invalid shape dimension {size}: sizes must be "
                                   "non-negative, or -1 for one size inferred from the others")
            sizes.append(size)
        return _shape.reshape(self, tuple(sizes))

    def view(self, *shape):
        return self.reshape(*shape)

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        start, end = _axis_index(start_dim, self.ndim), _axis_index(end_dim, self.ndim)
        if start > end:
            raise RuntimeError(f"flatten(): start_dim {start_dim} comes after end_dim {end_dim} "
                               f"for a tensor of {self.ndim} dimensions; swap them")
        shape = self.data.shape
        merged = 1
        for n in shape[start:end + 1]:
            merged *= n
        return self.reshape(shape[:start] + (merged,) + shape[end + 1:])

    def ravel(self):
        return self.reshape(-1)

    def transpose(self, *dims):
        """No dims: reverse all axes. Two dims: swap them. A full permutation: permute."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        if not dims:
            return _shape.permute(self, tuple(range(self.ndim))[::-1])
        if len(dims) == 2:
            axes = list(range(self.ndim))
            i, j = (_core.normalize_axis(d, self.ndim)[0] for d in dims)
            axes[i], axes[j] = axes[j], axes[i]
            return _shape.permute(self, tuple(axes))
        return _shape.permute(self, dims)

    def swapaxes(self, axis0, axis1):
        return self.transpose(axis0, axis1)

    def permute(self, *dims):
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return _shape.permute(self, dims)

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with at most 2 dimensions, got {self.ndim}; "
                               "use transpose(dim0, dim1)")
        return self.transpose()

    def unsqueeze(self, dim=None, axis=None):
        dim = _one_dim(dim, axis, "unsqueeze")
        dim = _axis_index(dim, self.ndim + 1, what="unsqueeze: dimension",
                          of="the result")
        shape = self.data.shape
        return self.reshape(shape[:dim] + (1,) + shape[dim:])

    expand_dims = unsqueeze

    def squeeze(self, dim=None, axis=None):
        dim = dim if axis is None else axis
        shape = self.data.shape
        if dim is None:
            return self.reshape(tuple(n for n in shape if n != 1))
        dims = _core.normalize_axis(dim, self.ndim)
        return self.reshape(tuple(n for i, n in enumerate(shape) if not (i in dims and n == 1)))

    def expand(self, *sizes):
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        return _shape.expand(self, tuple(int(s) for s in sizes))

    def broadcast_to(self, shape):
        return _shape.expand(self, tuple(shape))

    def repeat(self, *sizes):
        """Tile the tensor ``sizes[i]`` times along each dimension (PyTorch's repeat)."""
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        sizes = tuple(int(n) for n in sizes)
        if not sizes:
            raise ValueError("repeat needs at least one size")
        if any(n < 0 for n in sizes):
            raise ValueError(f"repeat sizes must be non-negative, got {sizes}")
        sizes = (1,) * (self.ndim - len(sizes)) + sizes  # fewer sizes: leading ones (np.tile)
        shape = (1,) * (len(sizes) - self.ndim) + tuple(self.data.shape)
        # Interleave a size-1 axis before each dimension, expand it, then merge the pairs.
        paired = []
        for n in shape:
            paired += [1, n]
        grown = []
        for r, n in zip(sizes, shape):
            grown += [r, n]
        final = tuple(r * n for r, n in zip(sizes, shape))
        return self.reshape(tuple(paired)).expand(tuple(grown)).reshape(final)

    def unbind(self, dim=0):
        dim = _core.normalize_axis(dim, self.ndim)[0]
        index = (slice(None),) * dim
        return tuple(self[index + (i,)] for i in range(self.data.shape[dim]))

    def split(self, split_size_or_sections, dim=0):
        """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the given sizes."""
        dim = _core.normalize_axis(dim, self.ndim)[0]
        length = self.data.shape[dim]
        if isinstance(split_size_or_sections, (int, np.integer)):
            step = int(split_size_or_sections)
            if step <= 0:
                raise ValueError(f"split size must be positive, got {step}")
            sizes = [min(step, length - start) for start in range(0, length, step)] or [0]
        else:
            sizes = [int(n) for n in split_size_or_sections]
            if sum(sizes) != length:
                raise RuntimeError(f"split sizes {sizes} do not add up to {length}, the size "
                                   f"of dimension {dim}")
        pieces, start = [], 0
        for n in sizes:
            pieces.append(self[(slice(None),) * dim + (slice(start, start + n),)])
            start += n
        return tuple(pieces)

    def chunk(self, chunks, dim=0):
        """``chunks`` nearly equal pieces along ``dim`` (fewer if the size is smaller)."""
        if chunks <= 0:
            raise ValueError(f"chunks must be positive, got {chunks}")
        length = self.data.shape[_core.normalize_axis(dim, self.ndim)[0]]
        return self.split(max(1, -(-length // chunks)), dim)

    def gather(self, dim, index):
        """out[i][j] = self[index[i][j]][j] for dim 0 (and alike for other dims)."""
        return _shape.gather(self, dim, index)

    def masked_fill(self, mask, value):
        # value in this tensor's dtype (PyTorch's rule; masked_fill_ shares it)
        return _ew.where(mask, _selection.fill_value(self, value), self)


class ConversionMethods:
    """``astype``, ``float``, ``long``, ``cpu``, ``cuda``, ``to_numpy`` ...: dtype and device
    conversions, each a spelling of :meth:`Tensor.to`."""
    __slots__ = ()

    def to_numpy(self, copy=False, dtype=None):
        """The data as a NumPy array (Sorix): a copy when ``copy``, in ``dtype`` if given."""
        array = _of(self.data).to_host(self.data)
        if dtype is not None:
            return array.astype(dtype, copy=copy or array.dtype != np.dtype(dtype))
        return array.copy() if copy and array is self.data else array

    def astype(self, dtype):
        """A copy converted to ``dtype`` (a sorix or NumPy dtype, a Python type or a name
        such as 'uint8'); never a device change."""
        return self.to(dtype=dtype)

    def type(self, dtype=None):
        if dtype is None:
            return "sorix." + {"f": "Float", "i": "Long", "b": "Bool"}.get(
                self.data.dtype.kind, "") + "Tensor"
        return self.to(dtype)

    def float(self):
        return self.to(float32)

    def double(self):
        return self.to(float64)

    def half(self):
        return self.to(float16)

    def int(self):
        return self.to(int32)

    def long(self):
        return self.to(int64)

    def bool(self):
        return self.to(bool_)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to(device or "cuda")

    gpu = cuda

    def is_floating_point(self):
        return self.data.dtype.kind == "f"

    def element_size(self):
        return self.data.dtype.itemsize
