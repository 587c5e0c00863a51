"""Top-level functions: ``sorix.cat``, ``sorix.exp``, ``sorix.argmax`` ...

The maths functions are differentiable on tensors and plain NumPy on
arrays (Sorix's behaviour). ``argmax``/``argmin`` keep Sorix's defaults
(``axis=1, keepdims=True``).
"""
import numpy as np

from .ops import elementwise as _ew
from .ops import shape as _shape
from .kernels.backend import of
from .kernels.cpu import softmax as _softmax_array
from .tensor import Tensor


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


# ---- joining and splitting --------------------------------------------------------

def cat(tensors, dim=0):
    return _shape.concat(list(tensors), dim, stacked=False)


concat = concatenate = cat


def stack(tensors, dim=0):
    return _shape.concat(list(tensors), dim, stacked=True)


def unbind(input, dim=0):
    return _tensor(input).unbind(dim)


def split(tensor, split_size_or_sections, dim=0):
    return _tensor(tensor).split(split_size_or_sections, dim)


def chunk(input, chunks, dim=0):
    return _tensor(input).chunk(chunks, dim)


# ---- shape ---------------------------------------------------------------------------

def reshape(input, shape):
    return _tensor(input).reshape(shape)


def transpose(input, dim0, dim1):
    return _tensor(input).transpose(dim0, dim1)


def permute(input, *dims):
    return _tensor(input).permute(*dims)


def squeeze(input, dim=None):
    return _tensor(input).squeeze(dim)


def unsqueeze(input, dim):
    return _tensor(input).unsqueeze(dim)


def flatten(input, start_dim=0, end_dim=-1):
    return _tensor(input).flatten(start_dim, end_dim)


def t(input):
    return _tensor(input).t()


def repeat(input, *sizes):
    return _tensor(input).repeat(*sizes)


def clamp(input, min=None, max=None):
    if isinstance(input, Tensor):
        return input.clamp(min, max)
    return np.clip(input, min, max)


clip = clamp


def where(condition, input, other):
    """``input`` where ``condition`` holds, else ``other``; differentiable in both."""
    return _ew.where(condition, input, other)


def gather(input, dim, index):
    """out[i][j] = input[index[i][j]][j] for dim 0 (and alike for other dims)."""
    x = _tensor(input)
    idx = index.data if isinstance(index, Tensor) else np.asarray(index)
    if not isinstance(idx, np.ndarray):
        idx = of(idx).to_host(idx)  # the index grid is built on the host (NumPy's rules)
    if idx.ndim != x.ndim:
        raise RuntimeError(f"gather: index has {idx.ndim} dimensions, input has {x.ndim}")
    dim = dim % x.ndim
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


# ---- maths: differentiable on tensors, NumPy on arrays -------------------------------

def _binary(name, numpy_fn):
    def fn(input, other):
        if isinstance(input, Tensor) or isinstance(other, Tensor):
            return _ew.binary(name, input, other)
        return numpy_fn(input, other)
    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name} with broadcasting."
    return fn


add = _binary("add", np.add)
sub = subtract = _binary("sub", np.subtract)
mul = multiply = _binary("mul", np.multiply)
div = divide = _binary("div", np.true_divide)
pow = _binary("pow", np.power)
maximum = _binary("maximum", np.maximum)
minimum = _binary("minimum", np.minimum)


def _unary(name, numpy_fn):
    def fn(input):
        if isinstance(input, Tensor):
            return _ew.unary(name, input)
        return numpy_fn(input)
    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name}."
    return fn


def _numpy_sigmoid(x):
    x = np.asarray(x)
    return np.exp(-np.logaddexp(0, -x)).astype(x.dtype if x.dtype.kind == "f" else np.float64)


sin = _unary("sin", np.sin)
cos = _unary("cos", np.cos)
tanh = _unary("tanh", np.tanh)
exp = _unary("exp", np.exp)
log = _unary("log", np.log)
sqrt = _unary("sqrt", np.sqrt)
abs = absolute = _unary("abs", np.abs)
sign = _unary("sign", np.sign)
round = _unary("round", np.round)
floor = _unary("floor", np.floor)
ceil = _unary("ceil", np.ceil)
sigmoid = _unary("sigmoid", _numpy_sigmoid)
relu = _unary("relu", lambda x: np.maximum(x, 0))


def matmul(input, other):
    if isinstance(input, Tensor) or isinstance(other, Tensor):
        return _tensor(input) @ other
    return np.matmul(input, other)


def sum(input, axis=None, keepdims=False, dim=None, keepdim=False):
    if isinstance(input, Tensor):
        return input.sum(axis, keepdims, dim, keepdim)
    return np.sum(input, axis=dim if axis is None else axis, keepdims=keepdims or keepdim)


def mean(input, axis=None, keepdims=False, dim=None, keepdim=False):
    if isinstance(input, Tensor):
        return input.mean(axis, keepdims, dim, keepdim)
    return np.mean(input, axis=dim if axis is None else axis, keepdims=keepdims or keepdim)


def softmax(X, axis=-1, dim=None):
    axis = axis if dim is None else dim
    if isinstance(X, Tensor):
        return X.softmax(axis)
    return _softmax_array(np.asarray(X), axis)


def log_softmax(X, axis=-1, dim=None):
    axis = axis if dim is None else dim
    return _tensor(X).log_softmax(axis)


def argmax(X, axis=1, dim=None, keepdims=True):
    """Indices of the maxima; Sorix's defaults: along axis 1, keeping the axis."""
    axis = axis if dim is None else dim
    if isinstance(X, Tensor):
        return X.argmax(axis, keepdims)
    return np.argmax(X, axis=axis, keepdims=keepdims)


def argmin(X, axis=1, dim=None, keepdims=True):
    """Indices of the minima; Sorix's defaults: along axis 1, keeping the axis."""
    axis = axis if dim is None else dim
    if isinstance(X, Tensor):
        return X.argmin(axis, keepdims)
    return np.argmin(X, axis=axis, keepdims=keepdims)


def numel(input):
    return int(input.data.size if isinstance(input, Tensor) else np.size(input))


def is_tensor(obj):
    return isinstance(obj, Tensor)
