"""Scans and products: cumsum, cumprod, logcumsumexp, prod and diff (the reductions made
of existing ops, logsumexp, norm, amax ..., are in :mod:`sorix.ops.composed_reductions`).

cumsum, cumprod, logcumsumexp and prod have nodes of their own; each backward rule is written
with tensor ops (run unrecorded on the arrays for a first-order backward, recorded
under ``create_graph=True``), so every order of derivative comes from the same rule.
Their forward runs NumPy: on a CUDA tensor the data is copied to the host and the
result back (there are no scan kernels on the device yet); diff is a composition of
differentiable ops and needs no rule.
"""
import numpy as np

from ..autograd.node import Node
from ..kernels import cpu as _cpu
from ..kernels.backend import of
from . import core, twin
from . import elementwise as _ew
from . import reduce as _red
from . import shape as _shape
from .core import records, wrap, wrap_watched
from .ordering import flip, host_values, one_axis, take_along
from .reduce import normalize_axis

_INT64 = np.dtype(np.int64)


# ---- helpers -----------------------------------------------------------------------------

def _on_host(fn, data):
    """``fn`` of ``data``'s values, as an array where ``data`` is (a CUDA array makes a
    round trip through the host)."""
    B = of(data)
    if B is _cpu:
        return np.asarray(fn(data))
    return B.to_device(np.array(fn(B.to_host(data)), order="C"))  # (0-d stays 0-d)


def _scan(fn, a, axis):
    """A NumPy scan along ``axis``; a 0-d array is scanned as one element."""
    return fn(a.reshape(1), 0).reshape(()) if a.ndim == 0 else fn(a, axis)


def _accumulating(x, dtype):
    """x in the dtype a sum or product runs in: ``dtype`` when given (x is cast first, as
    in PyTorch), int64 for integers and bools, x's own float dtype otherwise."""
    if dtype is None and x.data.dtype.kind in "biu":
        dtype = _INT64
    if dtype is None or x.data.dtype == dtype:
        return x
    return _ew.cast(x, np.dtype(dtype))


def _ones(shape, like):
    return core.constant(np.ones(shape, like.dtype), like=like)


def _mask(array, like):
    """A host bool array as an array on the device of ``like`` (a condition for where)."""
    return core.constant(array, like=like).data


class _TensorRuleNode(Node):
    """A node whose backward ``_formula(grad, *saved)`` is written with tensor ops: run
    unrecorded on the saved arrays for a first-order backward, recorded on the graph's
    tensors under ``create_graph=True``."""
    __slots__ = ()

    def backward(self, grad, F, saved):
        if F is not twin:
            return twin.on_arrays(self._formula, grad, saved or ())
        return self._formula(grad, *(saved or ()))


class _ScanNode(_TensorRuleNode):
    """A scan along ``axis`` whose rule ``gradient(grad, x, out, axis)`` reads its input and
    its output; ``scan(x, axis)`` recomputes the output on the graph's tensors."""
    __slots__ = ("axis",)

    def __init__(self, x, out, axis):
        super().__init__((x,), (x.data, out), (x,))
        self.axis = axis

    def graph_saved(self):
        x = self.inputs[0]
        return x, self.scan(x, self.axis)

    def _formula(self, grad, x, out):
        return (self.gradient(grad, x, out, self.axis),)


# ---- cumsum ----------------------------------------------------------------------------------

class CumsumNode(_TensorRuleNode):
    """out_j = sum of x_i for i <= j: each x_i gets the gradients of out_i, out_i+1 ..."""
    __slots__ = ("axis",)

    def __init__(self, x, axis):
        super().__init__((x,))
        self.axis = axis

    def graph_saved(self):
        return ()  # the rule reads no values

    def _formula(self, grad):
        return (reverse_cumsum(grad, self.axis),)


def cumsum(x, dim, dtype=None):
    """Running sums along ``dim``; integers and bools sum as int64."""
    axis = one_axis(dim, x.ndim, "cumsum")
    x = _accumulating(x, dtype)
    out = _on_host(lambda a: _scan(np.cumsum, a, axis), x.data)
    if records(x):
        return wrap(out, CumsumNode(x, axis))
    return wrap(out)


def reverse_cumsum(x, axis):
    """Sums from each position to the end of ``axis``."""
    return flip(cumsum(flip(x, axis), axis), axis)


# ---- cumprod ---------------------------------------------------------------------------------

class CumprodNode(_ScanNode):
    __slots__ = ()
    # (lambdas: the functions are defined below)
    scan = staticmethod(lambda x, axis: cumprod(x, axis))
    gradient = staticmethod(lambda grad, x, out, axis: cumprod_grad(grad, x, out, axis))


def cumprod(x, dim, dtype=None):
    """Running products along ``dim``; integers and bools multiply as int64."""
    axis = one_axis(dim, x.ndim, "cumprod")
    x = _accumulating(x, dtype)
    out = _on_host(lambda a: _scan(np.cumprod, a, axis), x.data)
    if records(x):
        return wrap_watched(out, CumprodNode(x, out, axis))
    return wrap(out)


def cumprod_grad(grad, x, out, axis):
    """d (sum of grad * cumprod(x)) / dx, exact where x holds zeros, and written so that
    its own derivative is exact there too.

    d out_j / d x_i is the product of x_0..x_j without x_i (j >= i). Without zeros that
    is out_j / x_i. In a row whose first zero is at z: before z the division still holds
    (the later terms are 0 on both sides). From z on, let x' be x with x_z set to 1: at z
    the gradient is the cumprod gradient of x' there, and after z it is x_z (= 0) times
    the cumprod gradient of x' there, a zero whose derivative in x_z is not zero."""
    if x.ndim == 0:
        return grad  # cumprod of one element is the element
    zero = host_values(x) == 0
    if not zero.any():
        return reverse_cumsum(grad * out, axis) / x
    seen = np.cumsum(zero, axis=axis)
    before = _mask(seen == 0, x.data)  # the positions before their row's first zero
    first = _mask(zero & (seen == 1), x.data)  # each row's first zero
    after = _mask((seen >= 1) & ~(zero & (seen == 1)), x.data)
    up_to_zero = reverse_cumsum(grad * out, axis) / _ew.where(before, x, 1.0)
    skipped = _ew.where(first, 1.0, x)  # x' (its later zeros are handled by the recursion)
    from_zero = cumprod_grad(grad, skipped, cumprod(skipped, axis), axis)
    # x_z along each row, at every position after it
    first_zero = take_along(x, axis, np.argmax(zero, axis=axis, keepdims=True))
    after_zero = _ew.where(after, first_zero, 1.0)
    return _ew.where(before, up_to_zero, from_zero * after_zero)


# ---- logcumsumexp ------------------------------------------------------------------------

class LogcumsumexpNode(_ScanNode):
    __slots__ = ()
    scan = staticmethod(lambda x, axis: logcumsumexp(x, axis))
    gradient = staticmethod(lambda grad, x, out, axis: logcumsumexp_grad(grad, x, out, axis))


def logcumsumexp(x, dim):
    """log(cumsum(exp(x))) along ``dim``, computed without overflow (np.logaddexp's running
    reduction: +-1000 and -inf entries are exact)."""
    axis = one_axis(dim, x.ndim, "logcumsumexp")
    if x.data.dtype.kind != "f":
        raise TypeError(f"logcumsumexp: expected a floating point tensor, got {x.dtype}; "
                        "convert it with .float() or .double()")
    # NaN (inf - inf inside) gives NaN and exp of a huge difference overflows to the exact
    # result's limit, unannounced
    with np.errstate(invalid="ignore", over="ignore"):
        out = _on_host(lambda a: _scan(np.logaddexp.accumulate, a, axis), x.data)
    if records(x):
        return wrap_watched(out, LogcumsumexpNode(x, out, axis))
    return wrap(out)


def _reverse_logcumsumexp(x, axis):
    return flip(logcumsumexp(flip(x, axis), axis), axis)


def logcumsumexp_grad(grad, x, out, axis):
    """d (sum of grad * out) / dx_i = sum over j >= i of grad_j * exp(x_i - out_j).

    Summed in log space, never forming exp(-out_j) (which overflows): the positive and
    the negative parts of grad each become log|grad| (the dtype's lowest finite number
    where they are absent, so that no -inf - -inf makes a NaN), and
    exp(reverse_logcumsumexp(log|grad| - out) + x) is each part's sum. As in PyTorch, a
    position whose running value out_j is -inf (only -inf so far) gives NaN."""
    if x.ndim == 0:
        return grad  # one element: the identity
    lowest = float(np.finfo(x.data.dtype).min)
    parts = []
    for sign in (grad > 0, grad < 0):
        # the inner where keeps log away from 0, whose derivative would meet the outer
        # where's zero as 0 * inf (NaN) in a higher-order gradient
        log_abs = _ew.unary("log", _ew.where(sign, _ew.unary("abs", grad), 1.0))
        log_part = _ew.where(sign, log_abs, lowest)
        parts.append(_ew.unary("exp", _reverse_logcumsumexp(log_part - out, axis) + x))
    return parts[0] - parts[1]


# ---- prod ---------------------------------------------------------------------------------

class ProdNode(_TensorRuleNode):
    __slots__ = ("axes", "keepdims")

    def __init__(self, x, out, axes, keepdims):
        super().__init__((x,), (x.data, out), (x,))
        self.axes, self.keepdims = axes, keepdims

    def graph_saved(self):
        x = self.inputs[0]
        return x, prod(x, self.axes, self.keepdims)

    def _formula(self, grad, x, out):
        kept = _red._kept_shape(tuple(x.shape), self.axes)
        grad = grad.reshape(kept)
        if not (host_values(x) == 0).any():
            return (grad * out.reshape(kept) / x,)
        return (grad * product_of_others(x, self.axes),)


def prod(x, dim=None, keepdim=False, dtype=None):
    """The product over ``dim`` (every dimension when None); integers and bools multiply as
    int64."""
    x = _accumulating(x, dtype)
    axes = normalize_axis(dim, x.ndim)
    out = _on_host(lambda a: np.prod(a, axis=axes, keepdims=keepdim), x.data)
    if records(x):
        return wrap_watched(out, ProdNode(x, out, axes, keepdim))
    return wrap(out)


def product_of_others(x, axes):
    """For each element, the product of the other elements it is reduced with over
    ``axes``: the products of those before it times those after it (two running products,
    no division, so zeros are exact)."""
    rest = [d for d in range(x.ndim) if d not in axes]
    order = tuple(rest) + tuple(axes)
    moved = _shape.permute(x, order)
    lead = tuple(moved.shape[:len(rest)])
    rows = moved.reshape(lead + (-1,))
    one = _ones(lead + (1,), x.data)
    before = cumprod(_shape.concat([one, rows[..., :-1]], -1, False), -1)
    after = flip(cumprod(flip(_shape.concat([rows[..., 1:], one], -1, False), -1), -1), -1)
    others = (before * after).reshape(tuple(moved.shape))
    return _shape.permute(others, tuple(int(i) for i in np.argsort(order)))


# ---- diff ---------------------------------------------------------------------------------

def diff(x, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along ``dim`` (bools: whether neighbours differ)."""
    if x.ndim == 0:
        raise RuntimeError("diff: expected a tensor of at least one dimension, got a 0-d "
                           "tensor; reshape it to (1,) first")
    if int(n) < 0:
        raise RuntimeError(f"diff: n must be non-negative, got {n}")
    axis = one_axis(dim, x.ndim, "diff")
    parts = [p for p in (prepend, x, append) if p is not None]
    out = _shape.concat(parts, axis, False) if len(parts) > 1 else x
    head = (slice(None),) * axis
    for _ in range(int(n)):
        later, earlier = out[head + (slice(1, None),)], out[head + (slice(None, -1),)]
        out = later != earlier if out.data.dtype == np.bool_ else later - earlier
    return out.clone() if out is x else out
