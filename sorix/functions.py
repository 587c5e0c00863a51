"""Top-level functions: ``sorix.cat``, ``sorix.exp``, ``sorix.argmax`` ...

The maths functions are differentiable on tensors and plain NumPy on
arrays (Sorix's behaviour). The elementwise ones (``exp``, ``add``,
``relu`` ...) are not written here: :func:`sorix.ops.surface.functions`
makes them from the op table, :mod:`sorix.kernels.defs`, whose NumPy
references serve the arrays. ``argmax``/``argmin`` keep Sorix's defaults
(``axis=1, keepdims=True``).
"""
from typing import NamedTuple

import numpy as np

from .ops import elementwise as _ew
from .ops import shape as _shape
from .ops import surface as _surface
from .kernels.cpu import softmax as _softmax_array
from . import tensor_logic as _tensor_logic
from . import tensor_ordering as _tensor_ordering
from . import tensor_scatter as _tensor_scatter
from . import tensor_selection as _tensor_selection
from .tensor import Tensor


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


# ---- joining and splitting --------------------------------------------------------

def _sequence(tensors, what):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)) \
            and not hasattr(tensors, "__iter__"):
        raise TypeError(f"{what}(): tensors must be tuple or list of tensors, got "
                        f"{type(tensors).__name__}; wrap a single tensor in a list")
    return list(tensors)


def _no_out(out, what):
    if out is not None:
        raise NotImplementedError(f"{what}(..., out=...) is not supported; assign the result "
                                  "instead")


def cat(tensors, dim=0, *, out=None):
    _no_out(out, "cat")
    return _shape.concat(_sequence(tensors, "cat"), dim, stacked=False)


concat = concatenate = cat


def stack(tensors, dim=0, *, out=None):
    _no_out(out, "stack")
    return _shape.concat(_sequence(tensors, "stack"), dim, stacked=True)


# ---- shape: tensor methods on tensors; on arrays (Sorix), the same op's NumPy result --

def _as_arrays(out):
    """A method's result for a caller that passed a plain array: tensors as their arrays."""
    if isinstance(out, Tensor):
        return out.data
    if isinstance(out, tuple):
        return tuple(o.data if isinstance(o, Tensor) else o for o in out)
    return out  # (a Python bool or number)


def _shape_function(method, doc):
    def fn(input, *args, **kwargs):
        if isinstance(input, Tensor):
            return getattr(input, method)(*args, **kwargs)
        return _as_arrays(getattr(Tensor(np.asarray(input)), method)(*args, **kwargs))
    fn.__name__ = fn.__qualname__ = method
    fn.__doc__ = doc
    return fn


unbind = _shape_function("unbind", "unbind(input, dim=0): the slices along ``dim``.")
split = _shape_function("split", "split(tensor, split_size_or_sections, dim=0): pieces of "
                        "that size along ``dim`` (the last may be smaller), or of the given sizes.")
chunk = _shape_function("chunk", "chunk(input, chunks, dim=0): that many nearly equal pieces.")
reshape = _shape_function("reshape", "reshape(input, shape): the same elements in ``shape``.")
transpose = _shape_function("transpose", "transpose(input, dim0, dim1): swap two dimensions.")
permute = _shape_function("permute", "permute(input, *dims): reorder the dimensions.")
squeeze = _shape_function("squeeze", "squeeze(input, dim=None): drop dimensions of size 1.")
unsqueeze = _shape_function("unsqueeze", "unsqueeze(input, dim): insert a dimension of size 1.")
flatten = _shape_function("flatten", "flatten(input, start_dim=0, end_dim=-1): merge the "
                          "dimensions from start_dim to end_dim.")
t = _shape_function("t", "t(input): transpose a tensor of at most 2 dimensions.")
repeat = _shape_function("repeat", "repeat(input, *sizes): tile ``sizes[i]`` times along each "
                         "dimension (missing leading sizes count as 1, as in np.tile).")


def clamp(input, min=None, max=None):
    """min(max(x, min), max); a bound of None is no bound (written by hand: see
    sorix.kernels.defs)."""
    if isinstance(input, Tensor):
        return input.clamp(min, max)
    return np.clip(input, min, max)


clip = clamp


def where(condition, input, other):
    """``input`` where ``condition`` holds, else ``other``; differentiable in both."""
    return _ew.where(condition, input, other)


# ---- maths: differentiable on tensors, NumPy on arrays -------------------------------
# The elementwise ones (exp, add, relu, square ...) are made from the op table: each op's
# ``function`` names in sorix.kernels.defs, with its formula as the docstring.
ELEMENTWISE = _surface.functions(__name__, Tensor)
globals().update(ELEMENTWISE)
gather = _shape.gather


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


class ValuesIndices(NamedTuple):
    """What ``sorix.max(input, dim)`` and ``sorix.min(input, dim)`` give, as PyTorch's do."""
    values: Tensor
    indices: Tensor


def _extremum(kind, input, dim, keepdim, out):
    """PyTorch's three forms: the whole tensor's extremum; ``(values, indices)`` along
    ``dim``, whose gradient goes to the returned index alone; or, given a tensor as
    ``dim``, the elementwise maximum/minimum."""
    _no_out(out, kind)
    if isinstance(dim, Tensor):
        return getattr(_tensor(input), kind + "imum")(dim)
    x = _tensor(input)
    if dim is None:
        found = getattr(x, kind)()
    else:
        indices = getattr(x, "arg" + kind)(dim=dim, keepdim=True)
        values = x.gather(dim, indices)
        if not keepdim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        found = ValuesIndices(values, indices)
    return found if isinstance(input, Tensor) else _as_arrays(found)


def max(input, dim=None, keepdim=False, *, out=None):
    """max(input) -> the largest element; max(input, dim, keepdim=False) -> (values,
    indices) along ``dim`` (NaN counts as largest); max(input, other) -> maximum."""
    return _extremum("max", input, dim, keepdim, out)


def min(input, dim=None, keepdim=False, *, out=None):
    """min(input) -> the smallest element; min(input, dim, keepdim=False) -> (values,
    indices) along ``dim`` (NaN counts as smallest); min(input, other) -> minimum."""
    return _extremum("min", input, dim, keepdim, out)


# (tensor methods as functions: differentiable on tensors, NumPy's answer on arrays)
var = _shape_function("var", "var(input, dim=None, *, correction=1, keepdim=False): the "
                      "variance, with Bessel's correction by default.")
std = _shape_function("std", "std(input, dim=None, *, correction=1, keepdim=False): the "
                      "standard deviation, with Bessel's correction by default.")
all = _shape_function("all", "all(input, dim=None, keepdim=False): whether every element is "
                      "nonzero.")
any = _shape_function("any", "any(input, dim=None, keepdim=False): whether some element is "
                      "nonzero.")
clone = _shape_function("clone", "clone(input): a copy, differentiable.")
detach = _shape_function("detach", "detach(input): the same values, outside the graph.")
masked_fill = _shape_function("masked_fill", "masked_fill(input, mask, value): value where "
                              "mask is True.")
swapaxes = swapdims = _shape_function("swapaxes", "swapaxes(input, axis0, axis1): swap two "
                                      "dimensions.")
dot = _shape_function("dot", "dot(input, other): the dot product of two 1-D tensors.")


def _method_functions(*modules):
    """``{name: sorix.<name>}`` for the methods each mixin module lists in its
    ``FUNCTIONS``, documented as the method is."""
    out = {}
    for module in modules:
        for name in module.FUNCTIONS:
            out[name] = _shape_function(name, getattr(Tensor, name).__doc__)
    return out


METHOD_FUNCTIONS = _method_functions(_tensor_logic, _tensor_ordering, _tensor_selection,
                                     _tensor_scatter)


def numel(input):
    return int(input.data.size if isinstance(input, Tensor) else np.size(input))


def is_tensor(obj):
    return isinstance(obj, Tensor)
