"""Reductions made of existing differentiable ops: logsumexp, norm, amax, amin,
nansum, nanmean and count_nonzero. Only norm's root has a node (:class:`RootNode`),
for its gradient at 0; the rest need no rule, so every order of derivative and CUDA
tensors come from the ops they are made of.
"""
import numbers

import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.node import Node
from ..kernels.backend import of
from . import core
from . import elementwise as _ew
from . import reduce as _red
from .core import records, wrap, wrap_watched
from .reduce import normalize_axis
from .scans import _accumulating


def _all_dims(dim):
    """dim=None and dim=() (or []) both reduce every dimension."""
    return dim is None or (not isinstance(dim, numbers.Integral) and len(dim) == 0)


def _reduced_shape(shape, axes, keepdim):
    if keepdim:
        return _red._kept_shape(shape, axes)
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def logsumexp(x, dim=None, keepdim=False):
    """log(sum(exp(x))) over ``dim``, computed stably; its gradient is softmax(x)."""
    if x.data.dtype.kind != "f":
        x = _ew.cast(x, np.float32)  # integers give floats, as in PyTorch
    axes = normalize_axis(None if _all_dims(dim) else dim, x.ndim)
    shape = tuple(x.shape)
    kept = _red._kept_shape(shape, axes)
    B = of(x.data)
    # Shift by the (constant) maximum so that exp cannot overflow; an infinite or NaN
    # maximum (a row of -inf, an empty row) shifts by 0, so that -inf rows give -inf.
    if x.data.size == 0:
        shift = wrap(B.zeros(kept, x.data.dtype))
    else:
        shift = wrap(B.max(x.data, axes, True))
    shift = _ew.where((shift - shift) == 0, shift, 0.0)
    total = _red.sum(_ew.unary("exp", x - shift), axes, True)
    out = _ew.unary("log", total) + shift
    return out if keepdim else out.reshape(_reduced_shape(shape, axes, False))


class RootNode(Node):
    """out = s ** (1/p) for s >= 0, with d out / d s = out / (p s) taken as 0 where s is 0:
    a norm's gradient at an all-zero input is 0, not NaN (PyTorch's rule)."""
    __slots__ = ("p",)

    def __init__(self, s, out, p):
        super().__init__((s,), (s.data, out), (s,))
        self.p = p

    def _masks(self):
        """(1 where s is 0, else 0; its complement), in s's dtype: constants in every mode."""
        s = self.saved[0] if self.saved is not None else self.inputs[0].data
        B = of(s)
        zero = B.compare("eq", s, 0)
        return B.astype(zero, s.dtype), B.astype(B.invert(zero), s.dtype)

    def backward(self, grad, F, saved):
        s, out = saved
        zero, keep = self._masks()
        # grad * out / (p (s + zero)) * keep: s replaced by 1 where it is 0, and the
        # result zeroed there, so every derivative stays finite
        scale = F.binary("mul", F.binary("add", s, zero), F.scalar_array(self.p, grad.dtype))
        return (F.binary("mul", F.binary("div", F.binary("mul", grad, out), scale), keep),)

    def graph_saved(self):
        s = self.inputs[0]
        return s, root(s, self.p)


def root(s, p):
    """The p-th root of a non-negative tensor, with a finite gradient at 0."""
    with no_grad():
        out = _ew.unary("sqrt", s) if p == 2 else _ew.binary("pow", s, 1.0 / p)
    if records(s):
        return wrap_watched(out.data, RootNode(s, out.data, p))
    return out


def norm(x, p="fro", dim=None, keepdim=False, dtype=None):
    """The vector p-norm over ``dim`` (every dimension when None): p = 'fro' or 2, 1,
    inf, -inf, 0 (the count of non-zero elements) or any other number."""
    if dtype is not None:
        x = _ew.cast(x, np.dtype(dtype)) if x.data.dtype != dtype else x
    if x.data.dtype.kind != "f":
        raise RuntimeError(f"norm: expected a floating point tensor, got {x.data.dtype}; "
                           "convert it first (x.float()) or pass dtype=sorix.float32")
    if isinstance(p, str):
        if p != "fro":
            raise NotImplementedError(f"norm: p={p!r} (a matrix norm) is not supported; "
                                      "use p='fro', or a number for a vector norm")
        p = 2
    p = float(p)
    axes = normalize_axis(None if _all_dims(dim) else dim, x.ndim)
    if p == 2:
        return root(_red.sum(x * x, axes, keepdim), 2)
    size = _ew.unary("abs", x)
    if p == 1:
        return _red.sum(size, axes, keepdim)
    if p in (np.inf, -np.inf):
        # (an empty reduced dimension raises there, naming it; other empty tensors are fine)
        return _red.max(size, axes, keepdim) if p > 0 else _red.min(size, axes, keepdim)
    if p == 0:
        # sign() has a zero gradient: the count is a constant, as PyTorch's is; NaN counts
        # as nonzero (its sign is NaN)
        counted = _ew.unary("abs", _ew.unary("sign", x))
        nan = core.Tensor._wrap(of(x.data).compare("ne", x.data, x.data))
        return _red.sum(_ew.where(nan, 1.0, counted), axes, keepdim)
    return root(_red.sum(size ** p, axes, keepdim), p)


def amax(x, dim=(), keepdim=False):
    """The maximum over ``dim`` (every dimension for ``()``); ties share the gradient."""
    return _red.max(x, None if _all_dims(dim) else dim, keepdim)


def amin(x, dim=(), keepdim=False):
    """The minimum over ``dim`` (every dimension for ``()``); ties share the gradient."""
    return _red.min(x, None if _all_dims(dim) else dim, keepdim)


def nansum(x, dim=None, keepdim=False, dtype=None):
    """The sum over ``dim``, NaN counted as 0 (which gets no gradient)."""
    if dtype is not None:
        x = _accumulating(x, np.dtype(dtype))
    axes = normalize_axis(None if _all_dims(dim) else dim, x.ndim)
    if x.data.dtype.kind == "f":
        x = _ew.where(x != x, 0.0, x)  # (NaN is the one value unequal to itself)
    return _red.sum(x, axes, keepdim)


def nanmean(x, dim=None, keepdim=False, dtype=None):
    """The mean over ``dim`` of the elements that are not NaN."""
    if dtype is not None:
        x = _accumulating(x, np.dtype(dtype))
    if x.data.dtype.kind != "f":
        raise RuntimeError(f"nanmean: expected a floating point tensor, got {x.data.dtype} "
                           "(integers hold no NaN: use mean(), or pass dtype=sorix.float32)")
    axes = normalize_axis(None if _all_dims(dim) else dim, x.ndim)
    present = _ew.cast(x == x, x.data.dtype)
    return nansum(x, axes, keepdim) / _red.sum(present, axes, keepdim)


def count_nonzero(x, dim=None):
    """The number (int64) of non-zero elements over ``dim`` (every dimension when None)."""
    axes = normalize_axis(None if _all_dims(dim) else dim, x.ndim)
    return _red.sum(x.detach() != 0, axes, False)
