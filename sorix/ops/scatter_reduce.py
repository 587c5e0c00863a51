"""scatter_reduce (sum, prod, mean, amax, amin, with or without self's values) and the
older ``scatter(..., reduce='add' | 'multiply')``, out of place (the in-place forms write
these results back: :mod:`sorix.tensor_scatter`).

sum and mean are compositions (an ``index_scatter`` of the source, a ``where``, a
division by a constant count), so their gradients of every order come from those ops.
prod, amax and amin are reduced on the host with NumPy's unbuffered ``ufunc.at`` (a
CUDA tensor makes a round trip) and have nodes whose backward is written with tensor
ops, PyTorch's rules: amax/amin share a gradient evenly among the tied extremes, prod
divides by the other factors except where zeros make that wrong. The scattered-to
positions are worked out on the host, as for the other scatters.

One deliberate difference: with include_self=False, PyTorch still counts self's value
among an amax/amin's ties (then gives self nothing), so the shares sum to less than the
upstream gradient; here a left-out self is no tie, and the shares sum to the gradient.
"""
import numpy as np

from . import core
from . import elementwise as _ew
from ..kernels.backend import of
from .core import records, wrap, wrap_watched
from .ordering import host_values
from .scans import _on_host, _TensorRuleNode
from .scatter import _on_vector, _plus, _scatter_index, _source_part, _written
from .selection import _linear_positions, as_tensor, fill_value, same_dtype
from .shape import index_scatter

REDUCES = ("sum", "prod", "mean", "amax", "amin")
_OLD_REDUCES = {"add": "sum", "multiply": "prod"}


def _constant(array, like):
    """A host array as a constant tensor on the device of the tensor ``like``."""
    return core.constant(np.ascontiguousarray(array), like=like.data)


def _identity(reduce, dtype):
    """The value a position starts from when self's own value is left out."""
    if reduce == "prod":
        return 1
    largest = reduce == "amin"  # (amin starts from the largest value, amax the smallest)
    if dtype.kind == "f":
        return np.inf if largest else -np.inf
    if dtype.kind == "b":
        return largest
    return np.iinfo(dtype).max if largest else np.iinfo(dtype).min


def _host_reduce(x, values, positions, hit, reduce, include_self):
    """prod, amax or amin of x and the flat ``values`` at the flat ``positions``, on the
    host: an array on x's device."""
    ufunc = {"prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[reduce]
    src = host_values(values)

    def reduced(a):
        out = np.array(a, order="C").reshape(-1)
        if not include_self:
            out[hit.reshape(-1)] = _identity(reduce, out.dtype)
        ufunc.at(out, positions, src)  # unbuffered: repeated positions all count
        return out.reshape(a.shape)
    return _on_host(reduced, x.data)


# ---- amax, amin ------------------------------------------------------------------------------

class ScatterExtremumNode(_TensorRuleNode):
    """The gradient of each output position goes to the contributions equal to the result,
    split evenly among them (PyTorch's rule for ties). Linear in grad with constant masks:
    its own derivative in x and the source is zero, as it should be."""
    __slots__ = ("positions", "self_is", "src_is", "count")

    def __init__(self, x, values, out, positions, hit, include_self):
        super().__init__((x, values))
        result = of(out).to_host(out)
        self_is = host_values(x) == result
        if not include_self:
            self_is &= ~hit  # self's value took no part there
        src_is = host_values(values) == result.reshape(-1)[positions]
        count = self_is.reshape(-1).astype(np.int64)
        np.add.at(count, positions[src_is], 1)
        self.positions, self.self_is, self.src_is = positions, self_is, src_is
        self.count = np.maximum(count, 1).reshape(result.shape)

    def graph_saved(self):
        return ()  # the rule reads no values

    def _formula(self, grad):
        shared = grad / _constant(self.count.astype(grad.data.dtype), grad)
        grad_x = _ew.where(_constant(self.self_is, grad), shared, 0.0)
        picked = shared.reshape(-1)[self.positions]
        return grad_x, _ew.where(_constant(self.src_is, grad), picked, 0.0)


def _extremum(x, values, positions, hit, reduce, include_self):
    out = _host_reduce(x, values, positions, hit, reduce, include_self)
    if records(x, values):
        return wrap(out, ScatterExtremumNode(x, values, out, positions, hit, include_self))
    return wrap(out)


# ---- prod --------------------------------------------------------------------------------

class ScatterProdNode(_TensorRuleNode):
    __slots__ = ("positions", "hit", "include_self")

    def __init__(self, x, values, out, positions, hit, include_self):
        super().__init__((x, values), (x.data, values.data, out), (x, values))
        self.positions, self.hit, self.include_self = positions, hit, include_self

    def graph_saved(self):
        x, values = self.inputs
        return x, values, self._prod(x, values)

    def _prod(self, x, values):
        return _prod(x, values, self.positions, self.hit, self.include_self)

    def _formula(self, grad, x, values, out):
        """PyTorch's rule. For self: grad times the product of the other factors, computed
        with self's zeros set to 1 (the product, then divided by self, is exact there).
        For the source: grad * out / value, except for a zero that is alone at its
        position, which gets grad times the product with itself set to 1 (with two zeros
        at a position every factor's gradient is 0, which out / value gives)."""
        x_zero = _constant(host_values(x) == 0, grad)
        masked_x = _ew.where(x_zero, 1.0, x)
        grad_x = grad * self._prod(masked_x, values) / masked_x
        if not self.include_self:
            grad_x = _ew.where(_constant(self.hit, grad), 0.0, grad_x)
        src_zero = host_values(values) == 0
        zeros_at = np.bincount(self.positions[src_zero], minlength=grad.data.size)
        alone = src_zero & (zeros_at[self.positions] == 1)
        flat = grad.reshape(-1)
        pick = self.positions
        ratio = (flat * out.reshape(-1))[pick] / _ew.where(_constant(src_zero, grad), 1.0,
                                                         values)
        if alone.any():
            alone_t = _constant(alone, grad)
            without = self._prod(x, _ew.where(alone_t, 1.0, values))
            ratio = _ew.where(alone_t, (flat * without.reshape(-1))[pick], ratio)
        return grad_x, ratio


def _prod(x, values, positions, hit, include_self):
    out = _host_reduce(x, values, positions, hit, "prod", include_self)
    if records(x, values):
        return wrap_watched(out, ScatterProdNode(x, values, out, positions, hit, include_self))
    return wrap(out)


# ---- sum, mean ----------------------------------------------------------------------------

def _sum(x, values, positions, hit, include_self):
    base = x if include_self else _ew.where(_constant(hit, x), fill_value(x, 0), x)
    added = index_scatter(values, (x.data.size,), positions).reshape(tuple(x.shape))
    return _plus(base, added)


def _mean(x, values, positions, hit, include_self):
    if x.data.dtype.kind == "b":
        raise TypeError("scatter_reduce: reduce='mean' needs a numeric tensor, got bool; "
                        "convert it with .int() or .float() first")
    count = np.bincount(positions, minlength=x.data.size).reshape(tuple(x.shape))
    count = np.maximum(count + int(bool(include_self)), 1)  # (no part: self, divided by 1)
    total = _sum(x, values, positions, hit, include_self)
    if x.data.dtype.kind != "f":  # integers round down, as in PyTorch
        return wrap(_on_host(lambda t: (t // count).astype(t.dtype), total.data))
    return total / _constant(count.astype(x.data.dtype), x)


_REDUCERS = {"sum": _sum, "mean": _mean, "prod": _prod}


def scatter_reduce(x, dim, index, src, reduce, include_self=True):
    """A copy of x where each position ``index`` sends src's values to (along ``dim``) is
    the ``reduce`` of those values and, when ``include_self``, x's own value there."""
    if reduce not in REDUCES:
        raise RuntimeError(f"scatter_reduce: reduce must be one of {', '.join(REDUCES)}, got "
                           f"{reduce!r}" + ("; use 'amax' or 'amin'" if reduce in
                                             ("max", "min") else ""))
    if x.ndim == 0:
        return _on_vector(scatter_reduce, x, dim, index, src, reduce, include_self)
    src = as_tensor(src, x)
    same_dtype(x, src, "scatter_reduce")
    if src.ndim != x.ndim:
        raise RuntimeError(f"scatter_reduce: src of shape {tuple(src.shape)} needs as many "
                           f"dimensions as self, of shape {tuple(x.shape)}")
    dim, idx = _scatter_index(x, dim, index, src.shape, "scatter_reduce")
    positions = _linear_positions(tuple(x.shape), dim, idx)
    hit = _written(x, positions)
    values = _source_part(src, idx)
    reducer = _REDUCERS.get(reduce)
    if reducer is not None:
        return reducer(x, values, positions, hit, include_self)
    return _extremum(x, values, positions, hit, reduce, include_self)


def scatter_with_reduce(x, dim, index, src, reduce):
    """PyTorch's older ``scatter(dim, index, src, reduce=...)``: 'add' or 'multiply' into
    x (self included), src a tensor or a number (used at every index)."""
    if reduce not in _OLD_REDUCES:
        raise RuntimeError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}; "
                           "use scatter_reduce for 'sum', 'prod', 'mean', 'amax' or 'amin'")
    if not isinstance(src, core.Tensor) and np.ndim(src) == 0:
        idx = np.asarray(host_values(index) if isinstance(index, core.Tensor) else index)
        src = core.constant(np.full(idx.shape, src, dtype=x.data.dtype), like=x.data)
    return scatter_reduce(x, dim, index, src, _OLD_REDUCES[reduce], True)
