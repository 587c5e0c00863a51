"""Scalar helpers that elementwise definitions may call besides ``math``.

Each helper is plain Python on numbers. The kernel builder compiles it
together with the definition that calls it (with the definition's dtype),
and the tensor layer binds the same names to differentiable tensor
functions when it evaluates a derivative definition on tensors.
"""
import math


def where(condition, if_true, if_false):
    """``if_true`` where ``condition`` holds, else ``if_false``."""
    return if_true if condition else if_false


def sign(x):
    """-1, 0 or 1 with the sign of ``x`` (NaN stays NaN)."""
    if x > 0:
        return 1.0
    if x < 0:
        return -1.0
    return x * 0.0


def sigmoid(x):
    """1 / (1 + exp(-x)), evaluated without overflow for large ``|x|``."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def maximum(a, b):
    """The larger of ``a`` and ``b``; NaN wins, as in NumPy."""
    if a != a:
        return a
    return a if a >= b else b


def minimum(a, b):
    """The smaller of ``a`` and ``b``; NaN wins, as in NumPy."""
    if a != a:
        return a
    return a if a <= b else b


HELPERS = {f.__name__: f for f in (where, sign, sigmoid, maximum, minimum)}
