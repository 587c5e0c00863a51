"""Tensor's scatters (``scatter``, ``scatter_add``, ``scatter_reduce``, ``index_add``,
``index_fill``, ``masked_scatter``) and their in-place forms (and ``masked_fill_``), a mixin of
:class:`sorix.Tensor`.

The out-of-place ops live in :mod:`sorix.ops.scatter` (the reductions in
:mod:`sorix.ops.scatter_reduce`). An in-place form computes the
same result unrecorded and writes it back, under the rules of ``Tensor._check_inplace``
(refused on a tensor that requires grad while grad mode is on); :data:`FUNCTIONS`
names the methods that are also ``sorix.<fn>``.
"""
from .autograd.grad_mode import no_grad as _no_grad
from .kernels.backend import of as _of
from .ops import elementwise as _ew
from .ops import scatter as _scatter
from .ops import scatter_reduce as _scatter_reduce
from .ops import selection as _sel

#: the methods that are also top-level functions, ``sorix.<name>(input, ...)``
FUNCTIONS = ("scatter", "scatter_add", "scatter_reduce", "index_add", "index_fill",
             "masked_scatter")


class ScatterMethods:
    __slots__ = ()

    # ---- scattering (out of place) -------------------------------------------------------
    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        """scatter(input, dim, index, src, *, reduce=None): a copy of input with src's values
        (or a number) written at ``index`` along ``dim``; a position written twice keeps the
        last value. reduce='add' or 'multiply' combines them with input's values instead."""
        if src is None:
            src = value
        if src is None:
            raise TypeError("scatter: give src (a tensor or a number) or value")
        if reduce is not None:
            return _scatter_reduce.scatter_with_reduce(self, dim, index, src, reduce)
        return _scatter.scatter(self, dim, index, src)

    def scatter_add(self, dim, index, src):
        """scatter_add(input, dim, index, src): a copy of input with src's values added at
        ``index`` along ``dim`` (repeated positions add up)."""
        return _scatter.scatter_add(self, dim, index, src)

    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        """scatter_reduce(input, dim, index, src, reduce, *, include_self=True): a copy of
        input where each position that ``index`` sends src's values to (along ``dim``) holds
        their reduce ('sum', 'prod', 'mean', 'amax' or 'amin'), with input's own value when
        include_self; amax/amin ties share the gradient evenly."""
        return _scatter_reduce.scatter_reduce(self, dim, index, src, reduce, include_self)

    def index_add(self, dim, index, source, *, alpha=1):
        """index_add(input, dim, index, source, *, alpha=1): a copy of input with alpha times
        source's slices added at the positions ``index`` (1-D) along ``dim``."""
        return _scatter.index_add(self, dim, index, source, alpha)

    def index_fill(self, dim, index, value):
        """index_fill(input, dim, index, value): a copy of input with the slices at ``index``
        (1-D) along ``dim`` set to ``value``."""
        return _scatter.index_fill(self, dim, index, value)

    def masked_scatter(self, mask, source):
        """masked_scatter(input, mask, source): a copy of input with source's leading elements
        written, in order, where ``mask`` is True."""
        return _scatter.masked_scatter(self, mask, source)

    # ---- in place: the same results written back, under the rules of Tensor._check_inplace
    # (refused on a tensor that requires grad while grad mode is on; never recorded)
    def _write_back(self, compute, *sources):
        for source in sources or (None,):
            self._check_inplace(source)
        with _no_grad():
            result = compute()
        if tuple(result.shape) != tuple(self.shape):
            raise RuntimeError(f"in-place result of shape {tuple(result.shape)} does not fit the "
                               f"tensor of shape {tuple(self.shape)}; use the out-of-place form")
        _of(self.data).assign(self.data, Ellipsis, result.data)
        self._version[0] += 1
        return self

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        """In-place :meth:`scatter`."""
        return self._write_back(
            lambda: self.scatter(dim, index, src, value=value, reduce=reduce), src, value)

    def scatter_add_(self, dim, index, src):
        """In-place :meth:`scatter_add`."""
        return self._write_back(lambda: self.scatter_add(dim, index, src), src)

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
        """In-place :meth:`scatter_reduce`."""
        return self._write_back(
            lambda: self.scatter_reduce(dim, index, src, reduce, include_self=include_self), src)

    def index_add_(self, dim, index, source, *, alpha=1):
        """In-place :meth:`index_add`."""
        return self._write_back(lambda: self.index_add(dim, index, source, alpha=alpha), source)

    def index_fill_(self, dim, index, value):
        """In-place :meth:`index_fill`."""
        return self._write_back(lambda: self.index_fill(dim, index, value), value)

    def masked_fill_(self, mask, value):
        """In-place masked_fill: ``value`` (in this tensor's dtype) where ``mask`` is True."""
        return self._write_back(
            lambda: _ew.where(mask, _sel.fill_value(self, value), self), value)

    def masked_scatter_(self, mask, source):
        """In-place :meth:`masked_scatter`."""
        return self._write_back(lambda: self.masked_scatter(mask, source), source)
