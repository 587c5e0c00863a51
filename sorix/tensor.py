"""Tensor: an array with a dtype, a device, and a place in the autograd graph.

The maths lives in :mod:`sorix.ops`; this class holds storage and the graph
bookkeeping and maps Python's operators and methods onto ops.
"""
import weakref

import numpy as np

from . import dtypes as _dtypes
from . import ops as _ops
from .autograd import engine as _engine, hooks as _hooks
from .autograd.functional import grad as _grad
from .autograd.grad_mode import _state, no_grad as _no_grad
from .device import CPU, Device, device as _device  # noqa: F401  (Sorix: sorix.tensor.Device)
from .errors import ShapeMismatchError
from .kernels import cpu as _cpu
from .kernels.backend import common as _common, of as _of
from .dtypes import (DType, bool_, float16, float32, float64, int8, int16,  # noqa: F401
                     int32, int64, uint8)
from .ops import core as _core
from .ops import elementwise as _ew
from .ops import shape as _shape
from .ops.linalg import matmul as _matmul
from .ops.transfer import move_array as _move_array, to_device as _to_device
from .repr import format_tensor
from .tensor_internals import SorixInternals
from .tensor_methods import ConversionMethods, MathMethods, ReductionMethods, ShapeMethods
from .tensor_logic import ComparisonMethods
from .tensor_ordering import OrderingMethods
from .tensor_scatter import ScatterMethods
from .tensor_selection import SelectionMethods

_ndarray = np.ndarray
_DEVICES = {"cpu": CPU, "cuda:0": _device("cuda:0")}


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
    """Array for the constructor: float lists become float32, arrays keep their dtype.

    CUDA device arrays (numba's, or anything exposing ``__cuda_array_interface__``:
    CuPy, PyTorch ...) are used in place, without a copy."""
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, (np.ndarray, np.generic)):
        arr = np.asarray(data)  # NumPy arrays and scalars keep their dtype
        if arr.dtype == np.object_:
            # an object array that holds only numbers (a pandas frame mixing int and bool
            # columns) is read like the list it holds; text or None in it is refused
            arr = _from_list(arr.tolist(), dtype)
    elif _core.is_device_array(data):
        arr = _of(data).as_device(data)
    else:
        arr = _from_list(data, dtype)
    _dtypes.check_numeric(arr.dtype)
    if dtype is not None and arr.dtype != dtype:
        # an existing array's values wrap like a C cast, as torch's .to() does
        arr = _of(arr).astype(arr, dtype)
        _dtypes.check_numeric(arr.dtype)  # dtype=str is not a tensor dtype either
    return arr


def _from_list(data, dtype):
    """A list or Python scalar as an array: floats become float32 unless ``dtype`` is
    given. With an integer ``dtype``, values outside its range raise OverflowError, as
    NumPy and PyTorch do (a plain cast would turn 300 into 44 in uint8)."""
    try:
        arr = np.array(data)
    except ValueError:  # NumPy refuses ragged nested lists
        raise ValueError(f"cannot make a tensor from {type(data).__name__} holding ragged "
                         "values; give numbers or equal-length lists") from None
    _dtypes.check_numeric(arr.dtype)  # text, None or other objects
    if dtype is None:
        return arr.astype(np.float32) if arr.dtype == np.float64 else arr
    if dtype.kind in "iu" and arr.dtype.kind in "iuf" and arr.size:
        info = np.iinfo(dtype)
        low, high = arr.min(), arr.max()
        if arr.dtype.kind == "f":  # the cast drops the fraction: 255.5 fits uint8
            low, high = np.trunc(low), np.trunc(high)
        if not (info.min <= low and high <= info.max):  # (NaN fails both: no int holds it)
            bad = high if info.min <= low else low
            raise OverflowError(f"value {bad} is out of range for {dtype} ({info.min} to "
                                f"{info.max}); give values in range or a wider dtype such "
                                "as int64")
    return arr


class Tensor(MathMethods, ReductionMethods, ShapeMethods, ConversionMethods, ComparisonMethods,
             OrderingMethods, SelectionMethods, ScatterMethods, SorixInternals):
    """A multi-dimensional array that records the operations applied to it."""

    __slots__ = ("data", "_grad", "_requires_grad", "grad_fn", "_version", "__weakref__")
    # NumPy defers to our reflected operators: ``ndarray * tensor`` gives a Tensor.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        """``device=None`` keeps the data where it is (host data on the CPU)."""
        arr = _to_array(data, _dtypes.numpy_dtype(dtype))
        self.data = arr if device is None else _move_array(arr, _device(device))
        self._grad = None
        self.grad_fn = None
        self._version = [0]
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _wrap(cls, data, node=None):
        t = cls.__new__(cls)
        t.data = data
        t._grad = None
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
        if flag and self.data.dtype.kind not in "fciu":
            raise RuntimeError(f"only numeric tensors can require gradients, not {self.dtype}; "
                               "convert with .float() first")
        self._requires_grad = flag

    @property
    def grad(self):
        """The accumulated gradient (a Tensor of this tensor's shape and dtype), or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        # Sorix code assigns arrays and numbers (``p.grad = np.array(...)``, ``x.grad = 0``):
        # they become a gradient tensor of this tensor's dtype, so an optimizer never sees
        # a gradient of another dtype or a bare array.
        if value is None:
            self._grad = None
            return
        data = self.data
        B = _of(data)
        if isinstance(value, Tensor):
            array = value.data
        elif isinstance(value, (int, float, np.number, np.bool_)) and not isinstance(value, bool):
            self._grad = Tensor._wrap(B.full(data.shape, value, data.dtype))
            return
        elif isinstance(value, _ndarray) or _core.is_device_array(value):
            array = value
        elif isinstance(value, (list, tuple)):
            array = np.asarray(value)
        else:
            raise TypeError(f"a gradient must be a Tensor, an array, a number or None, "
                            f"not {type(value).__name__}")
        if tuple(array.shape) != tuple(data.shape):
            raise ShapeMismatchError(f"assigned grad has shape {tuple(array.shape)} but the tensor "
                                     f"has shape {tuple(data.shape)}; they must match")
        _common(data, array)
        if array.dtype != data.dtype:
            array = _of(array).astype(array, data.dtype)
            value = array
        self._grad = value if isinstance(value, Tensor) else Tensor._wrap(array)

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
        if isinstance(self.data, _ndarray):
            return CPU
        return _DEVICES[_of(self.data).DEVICE]

    @property
    def is_cuda(self):
        return not isinstance(self.data, _ndarray)

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
    def numpy(self, force=False):
        """The data as a NumPy array: the array itself on the CPU (also for a tensor that
        requires grad, as in Sorix: like ``.detach().numpy()``), a host copy from a GPU.
        ``force`` (PyTorch's: detach and copy to the host) changes nothing: both happen
        already."""
        return _of(self.data).to_host(self.data)

    def __array__(self, dtype=None, copy=None):
        data = self.data
        if not isinstance(data, _ndarray):
            data, copy = _of(data).to_host(data), False  # already a fresh host copy
        if dtype is not None and dtype != data.dtype:
            return data.astype(dtype)
        return data.copy() if copy else data

    def _first(self):
        """The first element as a NumPy scalar (one value copied from a GPU)."""
        data = self.data
        if isinstance(data, _ndarray):
            return data.reshape(-1)[0]
        B = _of(data)
        return B.to_host(B.reshape(data, (-1,)))[0]

    def item(self):
        if self.data.size != 1:
            raise RuntimeError(f"a tensor with {self.data.size} elements cannot be converted to "
                               "a Python scalar; index one element first")
        return self._first().item()

    def tolist(self):
        return _of(self.data).to_host(self.data).tolist()

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
        return bool(self._first())

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
        # pickled as host data plus the device name, rebuilt where it was
        return (_rebuild, (_of(self.data).to_host(self.data), self._requires_grad,
                           str(self.device)))

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
        gradient = _engine.seed(self, gradient, create_graph)
        if retain_graph is None:
            retain_graph = create_graph
        if inputs is not None:
            inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
            found = _grad([self], inputs, [gradient], retain_graph, create_graph, allow_unused=True)
            _engine.accumulate_into(inputs, found, create_graph)
            return
        _engine.run_backward([self], [gradient], retain_graph, create_graph)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` after each backward pass has added its last contribution to
        this leaf's ``.grad``; returns a handle whose ``remove()`` unregisters it."""
        return _hooks.register_post_accumulate_grad_hook(self, hook)

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient in each backward pass (and
        ``autograd.grad``) before it is used; a tensor it returns replaces the gradient.
        Returns a handle whose ``remove()`` unregisters it."""
        return _hooks.register_hook(self, hook)

    # ---- in-place ------------------------------------------------------------
    def _check_inplace(self, source=None):
        """Refuse an in-place change the graph would not see, before anything is written:
        to a tensor that requires grad, or of values that require grad (``source``) into
        one that does not (in-place changes are not recorded, so their gradient would be
        lost without a word)."""
        if not _state.enabled:
            return
        if self._requires_grad:
            what = ("a leaf Variable that requires grad is being used in an in-place operation"
                    if self.grad_fn is None else "a tensor that requires grad is being changed "
                    "in place")
            raise RuntimeError(f"In-place operations are not allowed on tensors that require "
                               f"grad while grad mode is on ({what}); wrap the change in "
                               "sorix.no_grad() or use the out-of-place form")
        if isinstance(source, Tensor) and source._requires_grad:
            raise RuntimeError(
                "an in-place write of a tensor that requires grad into one that does not "
                "would lose its gradient: sorix does not record in-place changes. Build the "
                "result out of place (t = t + v, sorix.cat or sorix.stack of the pieces, "
                "sorix.where), or write v.detach() to copy the values without a gradient")

    def _other_data(self, other):
        """The array of ``other`` for an op with this tensor: a tensor's data (on this
        tensor's device), or the plain value (scalars, lists, arrays) as given."""
        if isinstance(other, Tensor):
            _common(self.data, other.data)
            return other.data
        return other

    def _inplace(self, name, other):
        self._check_inplace(other)
        other = self._other_data(other)
        try:
            _of(self.data).inplace(name, self.data, other)
        except (TypeError, ValueError) as exc:
            raise RuntimeError(f"in-place {name} on a {self.dtype} tensor of shape "
                               f"{tuple(self.shape)}: {exc}") from None
        self._version[0] += 1
        return self

    def add_(self, other, alpha=1):
        self._check_inplace(other)  # (before scaling turns a tensor into an array)
        return self._inplace("add", other if alpha == 1 else self._scaled(other, alpha))

    def sub_(self, other, alpha=1):
        self._check_inplace(other)
        return self._inplace("sub", other if alpha == 1 else self._scaled(other, alpha))

    def mul_(self, other):
        return self._inplace("mul", other)

    def div_(self, other):
        return self._inplace("div", other)

    def _scaled(self, other, alpha):
        """``other * alpha`` as an array (or a scalar) for add_/sub_."""
        if not isinstance(other, Tensor):
            return np.multiply(other, alpha) if isinstance(other, (list, tuple)) else other * alpha
        data = self._other_data(other)
        B = _of(data)
        return B.binary("mul", data, B.scalar_array(alpha, np.result_type(data.dtype, alpha)))

    def fill_(self, value):
        self._check_inplace(value)
        value = value.item() if isinstance(value, Tensor) else value
        _of(self.data).assign(self.data, Ellipsis, value)
        self._version[0] += 1
        return self

    def zero_(self):
        return self.fill_(0)

    def clamp_(self, min=None, max=None):
        self._check_inplace()
        _of(self.data).clip(self.data, min, max, self.data)
        self._version[0] += 1
        return self

    def copy_(self, src):
        """Copy ``src``'s values in (from any device: this is how data crosses devices in place)."""
        self._check_inplace(src)
        value = _move_array(src.data, self.device) if isinstance(src, Tensor) else src
        _of(self.data).assign(self.data, Ellipsis, value)
        self._version[0] += 1
        return self

    def __setitem__(self, index, value):
        self._check_inplace(value)
        if isinstance(value, Tensor):
            value = _move_array(value.data, self.device)
        index = _shape._plain_index(index)
        B = _of(self.data)
        if B is _cpu:
            _shape.check_host_index(index)
        if type(index) is tuple:  # PyTorch's order of integers and advanced indices
            index, value = _shape.setitem_parts(self.data, index, value)
        B.assign(self.data, index, value)
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

    def __mod__(self, other):
        return _ew.binary("remainder", self, other)

    def __rmod__(self, other):
        return _ew.binary("remainder", other, self)

    def __floordiv__(self, other):
        return _ew.binary("floor_divide", self, other)

    def __rfloordiv__(self, other):
        return _ew.binary("floor_divide", other, self)

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

    # ``x -= lr * x.grad`` on a leaf that requires grad is the manual gradient step that
    # Sorix's documentation teaches: it updates the values without recording, as under
    # no_grad() (a graph that saved x still detects the change through its version).
    # On a computed tensor that requires grad it is the differentiable ``x = x - v``.
    def _augmented(self, name, other):
        if (not self._requires_grad and _state.enabled and isinstance(other, Tensor)
                and other._requires_grad):
            # total += loss on a plain tensor: computed out of place and recorded (the name
            # is rebound), as for a computed tensor below; in place, the gradient would be lost
            result = _ew.binary(name, self, other)
            if result.shape != self.shape:
                raise RuntimeError(f"in-place {name}: the result of shape {tuple(result.shape)} "
                                   f"does not fit the tensor of shape {tuple(self.shape)}")
            return result if result.dtype == self.dtype else result.to(self.dtype)
        if not (self._requires_grad and _state.enabled):
            return self._inplace(name, other)
        if self.grad_fn is not None:
            return _ew.binary(name, self, other)
        with _no_grad():
            return self._inplace(name, other)

    def __iadd__(self, other):
        return self._augmented("add", other)

    def __isub__(self, other):
        return self._augmented("sub", other)

    def __imul__(self, other):
        return self._augmented("mul", other)

    def __itruediv__(self, other):
        return self._augmented("div", other)

    # comparisons and logic: never differentiable
    def _compare(self, name, other):
        return Tensor._wrap(_of(self.data).compare(name, self.data, self._other_data(other)))

    def __eq__(self, other):
        return self._compare("eq", other)

    def __ne__(self, other):
        return self._compare("ne", other)

    def __lt__(self, other):
        return self._compare("lt", other)

    def __le__(self, other):
        return self._compare("le", other)

    def __gt__(self, other):
        return self._compare("gt", other)

    def __ge__(self, other):
        return self._compare("ge", other)

    def _logic(self, name, other):
        """Logical on bool tensors, bitwise on integer ones (as PyTorch's & | ^)."""
        B = _of(self.data)
        fn = B.logical if self.data.dtype == np.bool_ else B.bitwise
        return Tensor._wrap(fn(name, self.data, self._other_data(other)))

    def __and__(self, other):
        return self._logic("and", other)

    def __or__(self, other):
        return self._logic("or", other)

    def __xor__(self, other):
        return self._logic("xor", other)

    def __invert__(self):
        return Tensor._wrap(_of(self.data).invert(self.data))

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    # (``out`` only so that np.all(t) and np.any(t), which pass it, work)
    def any(self, axis=None, keepdims=False, dim=None, keepdim=False, out=None):
        return self._logical_reduce("any", axis if dim is None else dim, keepdims or keepdim, out)

    def all(self, axis=None, keepdims=False, dim=None, keepdim=False, out=None):
        return self._logical_reduce("all", axis if dim is None else dim, keepdims or keepdim, out)

    def _logical_reduce(self, name, axis, keepdims, out):
        if out is not None:
            raise NotImplementedError(f"{name}(out=...) is not supported; assign the result")
        B = _of(self.data)
        if axis is None and not keepdims:
            return Tensor._wrap(getattr(B, name)(self.data))
        if B is not _cpu:  # rare on a GPU: reduce the host copy and move the answer back
            found = getattr(np, name)(B.to_host(self.data), axis=axis, keepdims=keepdims)
            return Tensor._wrap(np.asarray(found)).to(self.device)
        return Tensor._wrap(np.asarray(getattr(np, name)(self.data, axis=axis, keepdims=keepdims)))

    # (named maths, reductions and shapes: the mixins of sorix.tensor_methods)

    def contiguous(self):
        if _of(self.data).is_c_contiguous(self.data):
            return self
        return _ew.contiguous_copy(self)

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
        if device is not None:
            out = _to_device(out, _device(device))
        return out.clone() if copy and out is self else out


def _rebuild(data, requires_grad, device="cpu"):
    return Tensor(data, requires_grad=requires_grad, device=device)


_core.Tensor = Tensor


def tensor(data, device=None, requires_grad=False, dtype=None):
    """A new leaf tensor holding a copy of ``data`` (Sorix's and PyTorch's ``tensor``).

    ``device=None`` puts it where ``data`` is: the CPU for lists and NumPy
    arrays, the GPU for a CUDA tensor or device array."""
    arr = _to_array(data, _dtypes.numpy_dtype(dtype))
    if device is not None and (_device(device).type == "cpu") != isinstance(arr, _ndarray):
        return Tensor(arr, requires_grad=requires_grad, device=device)  # the move copies
    if arr is data or (isinstance(data, Tensor) and arr is data.data) \
            or _core.is_device_array(data) \
            or (isinstance(data, _ndarray) and np.may_share_memory(arr, data)):
        # (the last: np.asarray gives a view of a masked array or memmap, not a copy)
        arr = _of(arr).copy(arr)
    if device is not None:
        return Tensor(arr, requires_grad=requires_grad, device=device)
    t = Tensor._wrap(arr)  # (Tensor(arr) would convert arr a second time)
    if requires_grad:
        t.requires_grad = True
    return t


# `import sorix.tensor as m` binds the attribute `sorix.tensor`, which is this
# factory (as in Sorix); give it the module's public names so `m.Tensor` works too.
for _name in ("Tensor", "Size", "DType", "Device", "float32", "float64", "float16", "int8",
              "int16", "int32", "int64", "uint8", "bool_"):
    setattr(tensor, _name, globals()[_name])
del _name
