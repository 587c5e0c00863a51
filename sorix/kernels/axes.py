"""Axis arguments checked and made non-negative, in one place for kernels and ops.

An axis ``a`` of an ``ndim``-dimensional array is valid when
``-ndim <= a < ndim`` and stands for ``a % ndim``. A 0-d array accepts 0 and
-1 (both give 0), as NumPy and PyTorch do. Each caller chooses the error it
raises (``IndexError`` for tensors, as PyTorch; ``ValueError`` for device
arrays, as NumPy's functions) and the words naming the axis in the message.

This module imports nothing from sorix, so any layer may use it.
"""
import numbers


def axis_index(axis, ndim, error=IndexError, what="dimension", of="a tensor"):
    """One axis as an index into ``range(max(ndim, 1))``; out of range raises ``error``."""
    axis = int(axis)
    bound = max(ndim, 1)
    if not -bound <= axis < bound:
        raise error(f"{what} {axis} is out of range for {of} with {ndim} dimensions "
                    f"(expected {-bound} to {bound - 1})")
    return axis % bound


def axis_tuple(axis, ndim, error=IndexError, what="dimension", of="a tensor"):
    """``None`` (every axis), an int or a sequence of ints as a sorted tuple of distinct
    non-negative axes; an axis listed twice raises ``ValueError``."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    out = [axis_index(a, ndim, error, what, of) for a in axes]
    if len(set(out)) != len(out):
        raise ValueError(f"{what} listed twice in {axis}: list each {what} once")
    return tuple(sorted(out))
