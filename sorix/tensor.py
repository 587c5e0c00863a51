"""Tensor: an array with a dtype, a device, and a place in the autograd graph.

The maths lives in :mod:`sorix.ops`; this class holds storage and the graph
bookkeeping and maps Python's operators and methods onto ops.
"""
import weakref

import numpy as np

from . import dtypes as _dtypes
from . import ops as _ops
from .autograd import engine as _engine
from .autograd.grad_mode import _state
from .device import CPU, device as _device
from .dtypes import (DType, bool_, float16, float32, float64, int8, int16,  # noqa: F401
                     int32, int64, uint8)
from .ops import core as _core
from .ops import elementwise as _ew
from .ops import reduce as _red
from .ops import shape as _shape
from .ops.linalg import matmul as _matmul
from .ops.softmax import log_softmax as _log_softmax, softmax as _softmax
from .repr import format_tensor


class Size(tuple):
    """A tensor's shape: a tuple with ``numel()``."""

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n

    def __repr__(self):
        return f"sorix.Size({list(self)})"


class _Count(int):
    """An int that can also be called: ``t.numel`` (Sorix) and ``t.numel()`` (PyTorch)."""

    def __call__(self):
        return int(self)


def _to_array(data, dtype):
    """Array for the constructor: float lists become float32, arrays keep their dtype."""
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, (np.ndarray, np.generic)):
        arr = np.asarray(data)  # NumPy arrays and scalars keep their dtype
    elif hasattr(data, "__cuda_array_interface__"):
        raise NotImplementedError("CUDA arrays need sorix's CUDA support")
    else:
        arr = np.array(data)
        if arr.dtype == np.float64 and dtype is None:
            arr = arr.astype(np.float32)
        elif arr.dtype == np.object_:
            raise TypeError(f"cannot make a tensor from {type(data).__name__} holding "
                            "mixed or ragged values; give numbers or equal-length lists")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return arr


def _axis_arg(axis, dim):
    return dim if axis is None else axis


def _keep_arg(keepdims, keepdim):
    return bool(keepdims or keepdim)


class Tensor:
    """A multi-dimensional array that records the operations applied to it."""

    __slots__ = ("data", "grad", "_requires_grad", "grad_fn", "_version", "__weakref__")
    # NumPy defers to our reflected operators: ``ndarray * tensor`` gives a Tensor.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        self.data = _to_array(data, _dtypes.numpy_dtype(dtype))
        self.grad = None
        self.grad_fn = None
        self._version = [0]
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True
        if device is not None and _device(device).type != "cpu":
            from . import cuda
            cuda.require()

    @classmethod
    def _wrap(cls, data, node=None):
        t = cls.__new__(cls)
        t.data = data
        t.grad = None
        t.grad_fn = node
        t._requires_grad = node is not None
        t._version = [0]
        return t

    # ---- attributes --------------------------------------------------------
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        flag = bool(flag)
        if self.grad_fn is not None and not flag:
            raise RuntimeError("requires_grad can only be turned off on a leaf; "
                               "use detach() to get a tensor outside the graph")
        if flag and self.data.dtype.kind not in "fc":
            raise RuntimeError(f"only floating point tensors can require gradients, "
                               f"not {self.dtype}; convert with .float() first")
        self._requires_grad = flag

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def shape(self):
        return Size(self.data.shape)

    @property
    def dtype(self):
        return _dtypes.as_dtype(self.data.dtype)

    @property
    def device(self):
        return CPU

    @property
    def is_cuda(self):
        return False

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def numel(self):
        return _Count(self.data.size)

    def dim(self):
        return self.data.ndim

    def size(self, dim=None):
        if dim is None:
            return self.shape
        return self.data.shape[dim]

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    @property
    def T(self):
        return self.transpose()

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def retain_grad(self):
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("retain_grad() on a tensor that does not require grad")
            return
        self.grad_fn._retained = weakref.ref(self)

    # ---- conversion ----------------------------------------------------------
    def numpy(self):
        if self._requires_grad:
            raise RuntimeError("numpy() on a tensor that requires grad: call .detach().numpy()")
        return self.data

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def item(self):
        if self.data.size != 1:
            raise RuntimeError(f"a tensor with {self.data.size} elements cannot be converted to "
                               "a Python scalar; index one element first")
        return self.data.reshape(-1)[0].item()

    def tolist(self):
        return self.data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of one element can be used as an index")
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.data.size} elements is "
                               "ambiguous; use .any() or .all()")
        return bool(self.data.reshape(-1)[0])

    def __format__(self, spec):
        if self.data.size == 1 and spec:
            return format(self.item(), spec)
        return format(str(self), spec)

    def __repr__(self):
        return format_tensor(self)

    __str__ = __repr__

    def __hash__(self):
        return id(self)

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __reduce_ex__(self, protocol):
        return (_rebuild, (self.data, self._requires_grad))

    # ---- graph ---------------------------------------------------------------
    def detach(self):
        t = Tensor._wrap(self.data)
        t._version = self._version
        return t

    def detach_(self):
        self.grad_fn = None
        self._requires_grad = False
        return self

    def clone(self):
        return _ew.unary_copy(self)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        if not self._requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn: backward() needs a tensor computed from tensors with "
                               "requires_grad=True")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            gradient = np.ones(self.data.shape, self.data.dtype)
            if create_graph:
                gradient = Tensor._wrap(gradient)
        else:
            given = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient)
            if given.shape != self.data.shape:
                raise RuntimeError(f"gradient has shape {tuple(given.shape)} but the output has "
                                   f"shape {tuple(self.data.shape)}; they must match")
            if create_graph:
                gradient = gradient if isinstance(gradient, Tensor) else Tensor._wrap(given)
            else:
                gradient = given.astype(self.data.dtype, copy=False)
        if retain_graph is None:
            retain_graph = create_graph
        if inputs is not None:
            from .autograd.functional import grad as _grad
            inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
            found = _grad([self], inputs, [gradient], retain_graph, create_graph, allow_unused=True)
            for t, g in zip(inputs, found):
                if g is not None:
                    _engine._accumulate_leaf(t, g, create_graph)
            return
        _engine.run_backward([self], [gradient], retain_graph, create_graph)

    # ---- in-place ------------------------------------------------------------
    def _check_inplace(self):
        if self._requires_grad and _state.enabled:
            kind = "a leaf tensor" if self.grad_fn is None else "a tensor"
            raise RuntimeError(f"in-place operation on {kind} that requires grad while grad mode "
                               "is on; wrap it in sorix.no_grad() or use the out-of-place form")

    def _inplace(self, ufunc, other):
        self._check_inplace()
        other = other.data if isinstance(other, Tensor) else other
        try:
            ufunc(self.data, other, out=self.data, casting="same_kind")
        except (TypeError, ValueError) as exc:
            raise RuntimeError(f"in-place {ufunc.__name__} on a {self.dtype} tensor of shape "
                               f"{tuple(self.shape)}: {exc}") from None
        self._version[0] += 1
        return self

    def add_(self, other, alpha=1):
        return self._inplace(np.add, other if alpha == 1 else _scaled(other, alpha))

    def sub_(self, other, alpha=1):
        return self._inplace(np.subtract, other if alpha == 1 else _scaled(other, alpha))

    def mul_(self, other):
        return self._inplace(np.multiply, other)

    def div_(self, other):
        return self._inplace(np.true_divide, other)

    def fill_(self, value):
        self._check_inplace()
        self.data[...] = value.item() if isinstance(value, Tensor) else value
        self._version[0] += 1
        return self

    def zero_(self):
        return self.fill_(0)

    def clamp_(self, min=None, max=None):
        self._check_inplace()
        np.clip(self.data, min, max, out=self.data)
        self._version[0] += 1
        return self

    def copy_(self, src):
        self._check_inplace()
        self.data[...] = src.data if isinstance(src, Tensor) else src
        self._version[0] += 1
        return self

    def __setitem__(self, index, value):
        self._check_inplace()
        value = value.data if isinstance(value, Tensor) else value
        self.data[_shape._plain_index(index)] = value
        self._version[0] += 1

    # ---- arithmetic ---------------------------------------------------------
    def __add__(self, other):
        return _ew.binary("add", self, other)

    def __radd__(self, other):
        return _ew.binary("add", other, self)

    def __sub__(self, other):
        return _ew.binary("sub", self, other)

    def __rsub__(self, other):
        return _ew.binary("sub", other, self)

    def __mul__(self, other):
        return _ew.binary("mul", self, other)

    def __rmul__(self, other):
        return _ew.binary("mul", other, self)

    def __truediv__(self, other):
        return _ew.binary("div", self, other)

    def __rtruediv__(self, other):
        return _ew.binary("div", other, self)

    def __pow__(self, other):
        return _ew.binary("pow", self, other)

    def __rpow__(self, other):
        return _ew.binary("pow", other, self)

    def __matmul__(self, other):
        return _matmul(self, other)

    def __rmatmul__(self, other):
        return _matmul(other, self)

    def __neg__(self):
        return _ew.unary("neg", self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ew.unary("abs", self)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    # comparisons and logic: plain NumPy, never differentiable
    def _compare(self, ufunc, other):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._wrap(np.asarray(ufunc(self.data, other)))

    def __eq__(self, other):
        return self._compare(np.equal, other)

    def __ne__(self, other):
        return self._compare(np.not_equal, other)

    def __lt__(self, other):
        return self._compare(np.less, other)

    def __le__(self, other):
        return self._compare(np.less_equal, other)

    def __gt__(self, other):
        return self._compare(np.greater, other)

    def __ge__(self, other):
        return self._compare(np.greater_equal, other)

    def __and__(self, other):
        return self._compare(np.logical_and if self.data.dtype == bool else np.bitwise_and, other)

    def __or__(self, other):
        return self._compare(np.logical_or if self.data.dtype == bool else np.bitwise_or, other)

    def __xor__(self, other):
        return self._compare(np.logical_xor if self.data.dtype == bool else np.bitwise_xor, other)

    def __invert__(self):
        return Tensor._wrap(np.logical_not(self.data) if self.data.dtype == bool
                            else np.invert(self.data))

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def any(self):
        return Tensor._wrap(np.asarray(self.data.any()))

    def all(self):
        return Tensor._wrap(np.asarray(self.data.all()))

    # ---- named maths ---------------------------------------------------------
    def add(self, other):
        return self + other

    def sub(self, other):
        return self - other

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def pow(self, exponent):
        return self ** exponent

    def matmul(self, other):
        return _matmul(self, other)

    def dot(self, other):
        return _matmul(self, other)

    def exp(self):
        return _ew.unary("exp", self)

    def log(self):
        return _ew.unary("log", self)

    def sqrt(self):
        return _ew.unary("sqrt", self)

    def sin(self):
        return _ew.unary("sin", self)

    def cos(self):
        return _ew.unary("cos", self)

    def tanh(self):
        return _ew.unary("tanh", self)

    def sigmoid(self):
        return _ew.unary("sigmoid", self)

    def relu(self):
        return _ew.unary("relu", self)

    def leaky_relu(self, negative_slope=0.01):
        return _ew.unary("leaky_relu", self, (float(negative_slope),))

    def abs(self):
        return _ew.unary("abs", self)

    absolute = abs

    def sign(self):
        return _ew.unary("sign", self)

    def floor(self):
        return _ew.unary("floor", self)

    def ceil(self):
        return _ew.unary("ceil", self)

    def round(self):
        return _ew.unary("round", self)

    def square(self):
        return self * self

    def neg(self):
        return -self

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp needs at least one of min and max")
        low = -np.inf if min is None else float(min)
        high = np.inf if max is None else float(max)
        return _ew.unary("clamp", self, (low, high))

    clip = clamp

    def maximum(self, other):
        return _ew.binary("maximum", self, other)

    def minimum(self, other):
        return _ew.binary("minimum", self, other)

    def softmax(self, axis=-1, dim=None):
        return _softmax(self, _axis_arg(dim, axis) if dim is not None else axis)

    def log_softmax(self, axis=-1, dim=None):
        return _log_softmax(self, dim if dim is not None else axis)

    # ---- reductions -----------------------------------------------------------
    def sum(self, axis=None, keepdims=False, dim=None, keepdim=False, dtype=None):
        return _red.sum(self, _axis_arg(axis, dim), _keep_arg(keepdims, keepdim),
                        _dtypes.numpy_dtype(dtype))

    def mean(self, axis=None, keepdims=False, dim=None, keepdim=False):
        return _red.mean(self, _axis_arg(axis, dim), _keep_arg(keepdims, keepdim))

    def max(self, axis=None, keepdims=False, dim=None, keepdim=False):
        return _red.max(self, _axis_arg(axis, dim), _keep_arg(keepdims, keepdim))

    def min(self, axis=None, keepdims=False, dim=None, keepdim=False):
        return _red.min(self, _axis_arg(axis, dim), _keep_arg(keepdims, keepdim))

    def var(self, axis=None, keepdims=False, dim=None, keepdim=False, correction=1,
            unbiased=None):
        if unbiased is not None:
            correction = 1 if unbiased else 0
        return _red.var(self, _axis_arg(axis, dim), _keep_arg(keepdims, keepdim), correction)

    def std(self, axis=None, keepdims=False, dim=None, keepdim=False, correction=1,
            unbiased=None):
        if unbiased is not None:
            correction = 1 if unbiased else 0
        return _red.std(self, _axis_arg(axis, dim), _keep_arg(keepdims, keepdim), correction)

    def argmax(self, axis=None, keepdims=False, dim=None, keepdim=False):
        return _red.arg_extremum("max", self, _axis_arg(axis, dim), _keep_arg(keepdims, keepdim))

    def argmin(self, axis=None, keepdims=False, dim=None, keepdim=False):
        return _red.arg_extremum("min", self, _axis_arg(axis, dim), _keep_arg(keepdims, keepdim))

    # ---- shape -----------------------------------------------------------------
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return _shape.reshape(self, tuple(int(s) for s in shape))

    def view(self, *shape):
        return self.reshape(*shape)

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        start, end = start_dim % self.ndim, end_dim % self.ndim
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

    def unsqueeze(self, dim):
        ndim = self.ndim + 1
        if not -ndim <= dim < ndim:
            raise IndexError(f"dimension {dim} is out of range for unsqueeze on {self.ndim} dims")
        dim %= ndim
        shape = self.data.shape
        return self.reshape(shape[:dim] + (1,) + shape[dim:])

    expand_dims = unsqueeze

    def squeeze(self, dim=None):
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
        if len(sizes) < self.ndim:
            raise RuntimeError(f"repeat needs at least {self.ndim} sizes for a {self.ndim}-d "
                               f"tensor, got {len(sizes)}")
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
        from .functions import gather
        return gather(self, dim, index)

    def masked_fill(self, mask, value):
        mask = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
        return _ew.where(mask, value, self) if isinstance(value, Tensor) else \
            _ew.where(~mask.astype(bool), self, float(value) if self.data.dtype.kind == "f" else value)

    def contiguous(self):
        if self.data.flags.c_contiguous:
            return self
        return _ew.unary_copy(self)

    def __getitem__(self, index):
        return _shape.getitem(self, index)

    # ---- dtype and device --------------------------------------------------------
    def to(self, *args, dtype=None, device=None, copy=False):
        for a in args:
            if isinstance(a, (str, _device)):
                device = a
            else:
                dtype = a
        out = self
        if dtype is not None and _dtypes.as_dtype(dtype) != self.dtype:
            out = _ew.cast(self, _dtypes.numpy_dtype(dtype))
        if device is not None and _device(device).type != "cpu":
            from . import cuda
            cuda.require()
        return out.clone() if copy and out is self else out

    def astype(self, dtype):
        return self.to(dtype)

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
        return self

    def cuda(self, device=None):
        return self.to(device or "cuda")

    gpu = cuda

    def is_floating_point(self):
        return self.data.dtype.kind == "f"

    def element_size(self):
        return self.data.itemsize


def _scaled(other, alpha):
    return (other.data if isinstance(other, Tensor) else other) * alpha


def _rebuild(data, requires_grad):
    return Tensor(data, requires_grad=requires_grad)


_core.Tensor = Tensor


def tensor(data, device="cpu", requires_grad=False, dtype=None):
    """A new leaf tensor holding a copy of ``data`` (Sorix's and PyTorch's ``tensor``)."""
    arr = _to_array(data, _dtypes.numpy_dtype(dtype))
    if arr is data or (isinstance(data, Tensor) and arr is data.data):
        arr = arr.copy()
    return Tensor(arr, requires_grad=requires_grad, device=device)


# `import sorix.tensor as m` binds the attribute `sorix.tensor`, which is this
# factory (as in Sorix); give it the module's public names so `m.Tensor` works too.
for _name in ("Tensor", "Size", "DType", "float32", "float64", "float16", "int8", "int16",
              "int32", "int64", "uint8", "bool_"):
    setattr(tensor, _name, globals()[_name])
del _name
