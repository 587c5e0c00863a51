"""Scalar helpers that elementwise definitions may call besides ``math``.

Each helper is plain Python on numbers. The kernel builder compiles it
together with the definition that calls it (with the definition's dtype),
and the tensor layer binds the same names to differentiable tensor
functions when it evaluates a derivative definition on tensors.
"""
import math

#: Bound by the kernel builder: True when a helper is compiled for float32.
FLOAT32 = False


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


def tanh(x):
    """tanh(x). float32 uses a rational minimax fit (error a few ulp) that
    vectorises; numba's libm tanh costs ~70 ns an element. float64 uses
    expm1, accurate for small and large |x| alike."""
    if FLOAT32:
        v = min(max(x, -9.0), 9.0)  # NaN is restored below
        x2 = v * v
        p = x2 * -2.76076847742355e-16 + 2.00018790482477e-13
        p = x2 * p + -8.60467152213735e-11
        p = x2 * p + 5.12229709037114e-08
        p = x2 * p + 1.48572235717979e-05
        p = x2 * p + 6.37261928875436e-04
        p = x2 * p + 4.89352455891786e-03
        q = x2 * 1.19825839466702e-06 + 1.18534705686654e-04
        q = x2 * q + 2.26843463243900e-03
        q = x2 * q + 4.89352518554385e-03
        return where(x != x, x, v * p / q)
    e = math.expm1(-2.0 * abs(x))
    t = -e / (e + 2.0)
    return where(x != x, x, where(x < 0.0, -t, t))


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


HELPERS = {f.__name__: f for f in (where, sign, sigmoid, tanh, maximum, minimum)}
