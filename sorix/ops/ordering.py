"""Ordering ops: sort, argsort, topk, kthvalue, flip and roll.

Each is an indexing of its input: the order is worked out on the host with
NumPy (no gradient flows through an order), and the values are taken with
``getitem`` and an index array. Gradients of every order and CUDA tensors
then come from the indexing op; nothing here has a backward rule of its own.

On a CUDA tensor the values to sort are copied to the host, and the index
arrays built there go back to the device (there is no device sort kernel yet).
"""
from collections import namedtuple

import numpy as np

from ..kernels.axes import axis_index
from ..kernels.backend import of
from . import core
from .reduce import normalize_axis

#: (values, indices) of sort(); fields, indexing and unpacking as PyTorch's return types
SortResult = namedtuple("SortResult", ["values", "indices"])
#: (values, indices) of topk()
TopkResult = namedtuple("TopkResult", ["values", "indices"])
#: (values, indices) of kthvalue()
KthvalueResult = namedtuple("KthvalueResult", ["values", "indices"])


# ---- helpers -------------------------------------------------------------------------

def one_axis(dim, ndim, what):
    """One dimension as a non-negative index; a 0-d tensor accepts 0 and -1."""
    return axis_index(dim, ndim, what=f"{what}: dimension")


def host_values(x):
    """x's data on the host (a copy for a CUDA tensor)."""
    return of(x.data).to_host(x.data)


def index_tensor(indices, like):
    """int64 host indices as a tensor on the device of the array ``like``."""
    return core.constant(np.array(indices, dtype=np.int64, order="C"), like=like)


def take_along(x, axis, order):
    """x's elements at ``order`` (host int array of x's rank) along ``axis``, the other
    positions kept: a differentiable indexing of x."""
    grid = list(np.indices(order.shape, sparse=True))
    grid[axis] = order
    return x[tuple(grid)]


def stable_order(values, axis, descending):
    """The positions that sort ``values`` (a host array) along ``axis``, stably: equal
    values keep their original order in both directions, and NaN counts as the largest
    value (PyTorch's order)."""
    if not descending:
        return np.argsort(values, axis=axis, kind="stable")  # (NaN already last)
    # A stable ascending sort of the reversed array, read backwards: descending, with
    # equal values in their original order, and NaN first.
    last = values.shape[axis] - 1
    backwards = np.argsort(np.flip(values, axis), axis=axis, kind="stable")
    return np.flip(last - backwards, axis)


def _as_vector(x):
    """A 0-d tensor as one element, to sort as a 1-d one (PyTorch sorts a 0-d tensor as
    a single element along dim 0 or -1)."""
    return x.reshape((1,)) if x.ndim == 0 else x


def _like_input(result, x):
    return result.reshape(()) if x.ndim == 0 else result


# ---- sorting ---------------------------------------------------------------------------

def sort(x, dim=-1, descending=False):
    """(values, indices) sorted along ``dim``; always stable."""
    axis = one_axis(dim, x.ndim, "sort")
    v = _as_vector(x)
    order = stable_order(host_values(v), axis, descending)
    values = _like_input(take_along(v, axis, order), x)
    return SortResult(values, index_tensor(order.reshape(values.shape), x.data))


def argsort(x, dim=-1, descending=False):
    """The int64 positions that sort x along ``dim`` (stable)."""
    axis = one_axis(dim, x.ndim, "argsort")
    order = stable_order(host_values(_as_vector(x)), axis, descending)
    return index_tensor(order.reshape(x.shape), x.data)


def topk(x, k, dim=-1, largest=True):
    """The k largest (smallest when not ``largest``) values along ``dim``, in order, with
    their positions; equal values are taken in their original order."""
    axis = one_axis(dim, x.ndim, "topk")
    v = _as_vector(x)
    size = v.shape[axis]
    k = int(k)
    if not 0 <= k <= size:
        raise RuntimeError(f"topk: k={k} is out of range for dimension {axis}, whose size is "
                           f"{size}; pass 0 <= k <= {size}")
    order = stable_order(host_values(v), axis, descending=largest)
    order = np.take(order, np.arange(k), axis=axis)
    values = _like_input(take_along(v, axis, order), x)
    return TopkResult(values, index_tensor(order.reshape(values.shape), x.data))


def kthvalue(x, k, dim=-1, keepdim=False):
    """The k-th smallest value along ``dim`` (k from 1) and its position."""
    axis = one_axis(dim, x.ndim, "kthvalue")
    v = _as_vector(x)
    size = v.shape[axis]
    k = int(k)
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue: k={k} is out of range for dimension {axis}, whose size "
                           f"is {size}; pass 1 <= k <= {size}")
    order = np.take(stable_order(host_values(v), axis, False), [k - 1], axis=axis)
    values = take_along(v, axis, order)
    if not keepdim or x.ndim == 0:
        order = np.squeeze(order, axis)
        values = values.reshape(order.shape)
    return KthvalueResult(values, index_tensor(order, x.data))


# ---- rearranging ------------------------------------------------------------------------

def _along(x, axis, positions):
    """x indexed by the host int array ``positions`` along ``axis`` (a copy, never a view:
    PyTorch's flip and roll return new tensors)."""
    return x[(slice(None),) * axis + (positions,)]


def flip(x, dims):
    """A copy of x with the order of its elements reversed along each of ``dims``."""
    axes = normalize_axis(dims, x.ndim)
    if not axes:
        return x.clone()  # (a 0-d tensor, or no dims: still a copy, as in PyTorch)
    out = x
    for axis in axes:
        out = _along(out, axis, np.arange(x.shape[axis] - 1, -1, -1))
    return out


def roll(x, shifts, dims=None):
    """x with its elements moved ``shifts`` places along ``dims`` (over the flattened tensor
    when ``dims`` is None), those pushed past the end coming back at the start."""
    shifts = (shifts,) if np.ndim(shifts) == 0 else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: {len(shifts)} shifts need as many dims; pass dims= "
                               "(without dims, one shift rolls the flattened tensor)")
        return roll(x.reshape((-1,)), shifts, 0).reshape(tuple(x.shape))
    dims = (dims,) if np.ndim(dims) == 0 else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: got {len(shifts)} shifts and {len(dims)} dims; give one "
                           "shift per dim")
    if not dims:
        return x.clone()
    out = x
    for shift, dim in zip(shifts, dims):
        axis = one_axis(dim, x.ndim, "roll")
        size = 1 if x.ndim == 0 else x.shape[axis]
        if x.ndim == 0 or size == 0:
            out = out.clone() if out is x else out
            continue
        # element i of the result is element (i - shift) mod size of the input
        out = _along(out, axis, (np.arange(size) - int(shift)) % size)
    return out
