"""Tensor's sorting, scan and extra reduction methods (``sort``, ``topk``, ``cumsum``,
``prod``, ``logsumexp``, ``norm`` ...), a mixin of :class:`sorix.Tensor`.

The ops themselves live in :mod:`sorix.ops`; these methods map PyTorch's
spellings onto them. :data:`FUNCTIONS` names the methods that are also
``sorix.<fn>`` (made by :mod:`sorix.functions`).
"""
import numbers

from . import dtypes as _dtypes
from .ops import composed_reductions as _composed
from .ops import ordering as _ordering
from .ops import scans as _scans

#: the methods that are also top-level functions, ``sorix.<name>(input, ...)``
FUNCTIONS = ("sort", "argsort", "topk", "kthvalue", "flip", "fliplr", "flipud", "roll",
             "cumsum", "cumprod", "logcumsumexp", "prod", "diff", "logsumexp", "norm", "amax",
             "amin", "nansum", "nanmean", "count_nonzero")


def _dim(dim, axis, what, default=None):
    """The dimension(s) given as ``dim`` (PyTorch) or ``axis`` (Sorix); ``default`` when
    neither is given."""
    if axis is None:
        return default if dim is None else dim
    if dim is not None:
        raise TypeError(f"{what}() got both dim and axis; give one")
    return axis


def _unless_empty(dim):
    """None for dim=() (amax's default: all dimensions), so that axis= may replace it."""
    return None if isinstance(dim, (tuple, list)) and not dim else dim


def _needed_dim(dim, axis, what):
    dim = _dim(dim, axis, what)
    if dim is None:
        raise TypeError(f"{what}() needs a dimension: dim (or axis)")
    return dim


class OrderingMethods:
    __slots__ = ()

    # ---- sorting ------------------------------------------------------------------------

    def sort(self, dim=None, descending=False, stable=False, *, axis=None):
        """sort(input, dim=-1, descending=False, stable=False): (values, indices) sorted
        along dim; always stable, NaN sorting as the largest value."""
        return _ordering.sort(self, _dim(dim, axis, "sort", -1), descending)

    def argsort(self, dim=None, descending=False, stable=False, *, axis=None):
        """argsort(input, dim=-1, descending=False, stable=False): the int64 positions that
        sort input along dim (stable)."""
        return _ordering.argsort(self, _dim(dim, axis, "argsort", -1), descending)

    def topk(self, k, dim=None, largest=True, sorted=True, *, axis=None):
        """topk(input, k, dim=-1, largest=True, sorted=True): (values, indices) of the k
        largest (or smallest) elements along dim, largest first (always sorted)."""
        return _ordering.topk(self, k, _dim(dim, axis, "topk", -1), largest)

    def kthvalue(self, k, dim=None, keepdim=False, *, axis=None, keepdims=False):
        """kthvalue(input, k, dim=-1, keepdim=False): (values, indices) of the k-th smallest
        element (k from 1) along dim."""
        return _ordering.kthvalue(self, k, _dim(dim, axis, "kthvalue", -1),
                                  bool(keepdim or keepdims))

    # ---- rearranging ----------------------------------------------------------------------

    def flip(self, *dims, axis=None, **named):
        """flip(input, dims): a copy with the elements reversed along each of dims (an int,
        a tuple or list, or several ints)."""
        if "dims" in named:
            dims = (named.pop("dims"),)
        if named:
            raise TypeError(f"flip() got an unexpected keyword argument {next(iter(named))!r}")
        if axis is not None:
            dims = (axis,)
        if len(dims) == 1 and not isinstance(dims[0], numbers.Integral):
            dims = tuple(dims[0])
        return _ordering.flip(self, dims)

    def fliplr(self):
        """fliplr(input): flip dimension 1 (left/right); input needs 2 or more dimensions."""
        if self.ndim < 2:
            raise RuntimeError(f"fliplr: input must have at least 2 dimensions, got "
                               f"{self.ndim}; use flip(dims) for others")
        return _ordering.flip(self, 1)

    def flipud(self):
        """flipud(input): flip dimension 0 (up/down); input needs 1 or more dimensions."""
        if self.ndim < 1:
            raise RuntimeError("flipud: input must have at least 1 dimension, got a 0-d "
                               "tensor")
        return _ordering.flip(self, 0)

    def roll(self, shifts, dims=None):
        """roll(input, shifts, dims=None): move elements shifts places along dims (the
        flattened tensor when dims is None), wrapping around the end."""
        return _ordering.roll(self, shifts, dims)

    # ---- scans and products ---------------------------------------------------------------

    def cumsum(self, dim=None, dtype=None, *, axis=None):
        """cumsum(input, dim, dtype=None): running sums along dim (integers as int64)."""
        return _scans.cumsum(self, _needed_dim(dim, axis, "cumsum"), _dtypes.numpy_dtype(dtype))

    def cumprod(self, dim=None, dtype=None, *, axis=None):
        """cumprod(input, dim, dtype=None): running products along dim (integers as int64)."""
        return _scans.cumprod(self, _needed_dim(dim, axis, "cumprod"),
                              _dtypes.numpy_dtype(dtype))

    def logcumsumexp(self, dim=None, *, axis=None):
        """logcumsumexp(input, dim): log(cumsum(exp(input))) along dim, without overflow
        (floating point input)."""
        return _scans.logcumsumexp(self, _needed_dim(dim, axis, "logcumsumexp"))

    def prod(self, dim=None, keepdim=False, dtype=None, *, axis=None, keepdims=False):
        """prod(input, dim=None, keepdim=False, dtype=None): the product over dim (all
        elements when None; integers as int64)."""
        return _scans.prod(self, _dim(dim, axis, "prod"), bool(keepdim or keepdims),
                           _dtypes.numpy_dtype(dtype))

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        """diff(input, n=1, dim=-1, prepend=None, append=None): the n-th forward difference
        along dim, after joining prepend and append to input there."""
        return _scans.diff(self, n, dim, prepend, append)

    # ---- reductions ---------------------------------------------------------------------

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        """logsumexp(input, dim, keepdim=False): log(sum(exp(input))) over dim, computed
        stably (all dimensions when dim is None)."""
        return _composed.logsumexp(self, _dim(dim, axis, "logsumexp"), bool(keepdim or keepdims))

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None, *, axis=None,
             keepdims=False):
        """norm(input, p='fro', dim=None, keepdim=False, dtype=None): the vector p-norm over
        dim (p: 'fro', 2, 1, inf, -inf, 0 or any number; all elements when dim is None)."""
        return _composed.norm(self, p, _dim(dim, axis, "norm"), bool(keepdim or keepdims),
                           _dtypes.numpy_dtype(dtype))

    def amax(self, dim=(), keepdim=False, *, axis=None, keepdims=False):
        """amax(input, dim=(), keepdim=False): the maximum over dim (all dimensions for ());
        tied maxima share the gradient equally."""
        dim = _dim(_unless_empty(dim), axis, "amax", ())
        return _composed.amax(self, dim, bool(keepdim or keepdims))

    def amin(self, dim=(), keepdim=False, *, axis=None, keepdims=False):
        """amin(input, dim=(), keepdim=False): the minimum over dim (all dimensions for ());
        tied minima share the gradient equally."""
        dim = _dim(_unless_empty(dim), axis, "amin", ())
        return _composed.amin(self, dim, bool(keepdim or keepdims))

    def nansum(self, dim=None, keepdim=False, dtype=None, *, axis=None, keepdims=False):
        """nansum(input, dim=None, keepdim=False, dtype=None): the sum over dim with NaN
        counted as zero."""
        return _composed.nansum(self, _dim(dim, axis, "nansum"), bool(keepdim or keepdims),
                             _dtypes.numpy_dtype(dtype))

    def nanmean(self, dim=None, keepdim=False, dtype=None, *, axis=None, keepdims=False):
        """nanmean(input, dim=None, keepdim=False, dtype=None): the mean over dim of the
        elements that are not NaN (floating point input)."""
        return _composed.nanmean(self, _dim(dim, axis, "nanmean"), bool(keepdim or keepdims),
                              _dtypes.numpy_dtype(dtype))

    def count_nonzero(self, dim=None, *, axis=None):
        """count_nonzero(input, dim=None): the number (int64) of non-zero elements over dim
        (all elements when None)."""
        return _composed.count_nonzero(self, _dim(dim, axis, "count_nonzero"))
