"""What elementwise definitions may call: the scalar helpers, and the list of all of it.

Each helper is plain Python on numbers. The kernel builder compiles it
together with the definition that calls it (with the definition's dtype),
and the tensor layer binds the same names to differentiable tensor
functions when it evaluates a derivative definition on tensors.

:data:`SCALAR_FUNCTIONS` lists every function a definition may call (the
helpers, and the ``math`` and ``np`` functions), each with the op that
computes it on tensors and, for NumPy's, its C name: the GPU's ``np``
stand-in (:func:`sorix.kernels.cuda.runtime.numpy_for_device`) is made from
it, and so may the tensor layer's bindings be.
"""
import math
from typing import NamedTuple, Optional

import numpy as np

#: Bound by the kernel builder: True when a helper is compiled for float32.
FLOAT32 = False
#: Bound by the kernel builder: True for float32 CPU kernels, where libm's
#: expf is a call per element that stops the loop from vectorising.
VECTOR_EXP = False


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


def exp(x):
    """exp(x). With VECTOR_EXP: x = k ln2 + r with |r| <= ln2/2 (ln2 split in two
    parts so that k ln2 is exact), exp(r) by a degree-7 polynomial (Cephes'
    expf coefficients, about 1 ulp) and 2^k built from exponent bits, in two
    halves so that results in the subnormal range and overflow to inf come out
    right. Only selects and arithmetic: LLVM vectorises the loop."""
    if VECTOR_EXP:
        v = min(max(x, -150.0), 89.0)  # beyond these exp is 0 or inf; NaN is restored below
        k = np.floor(v * 1.4426950408889634 + 0.5)
        r = v - k * 0.693359375
        r = r - k * -2.12194440e-4
        p = r * 1.9875691500e-4 + 1.3981999507e-3
        p = r * p + 8.3334519073e-3
        p = r * p + 4.1665795894e-2
        p = r * p + 1.6666665459e-1
        p = r * p + 5.0000001201e-1
        p = p * (r * r) + r + 1.0
        n = np.int32(k)
        half = n >> np.int32(1)
        low = np.int32((half + np.int32(127)) << np.int32(23)).view(np.float32)
        high = np.int32((n - half + np.int32(127)) << np.int32(23)).view(np.float32)
        return where(x != x, x, p * low * high)
    return math.exp(x)


def sigmoid(x):
    """1 / (1 + exp(-x)), evaluated without overflow for large ``|x|``: with
    z = exp(-|x|), 1 / (1 + z) for x >= 0 and z / (1 + z) below. Branch-free,
    so that the loop vectorises."""
    z = exp(-abs(x))
    s = 1.0 / (1.0 + z)
    return where(x >= 0.0, s, z * s)


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


def erfc(x):
    """erfc(x). With VECTOR_EXP: erfc(z) = t exp(-z^2 + P(t)) for z = |x| >= 0, with
    t = 1 / (1 + z / 2) and P the degree-9 polynomial of Numerical Recipes' erfcc (a
    Chebyshev fit, relative error below 1.2e-7 for every z), and 2 - erfc(z) for
    negative x. Only arithmetic and the vectorised exp: LLVM vectorises the loop, where
    libm's erfcf is a call per element. Else libm's erfc."""
    if VECTOR_EXP:
        z = abs(x)
        t = 1.0 / (1.0 + 0.5 * z)
        p = t * 0.17087277 - 0.82215223
        p = t * p + 1.48851587
        p = t * p - 1.13520398
        p = t * p + 0.27886807
        p = t * p - 0.18628806
        p = t * p + 0.09678418
        p = t * p + 0.37409196
        p = t * p + 1.00002368
        p = t * p - 1.26551223
        r = t * exp(p - z * z)
        return where(x != x, x, where(x < 0.0, 2.0 - r, r))
    return math.erfc(x)


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


class ScalarFunction(NamedTuple):
    """A function a scalar definition may call."""
    #: As a definition writes it: ``math.exp``, ``np.rint``, or a helper's bare name.
    name: str
    #: The elementwise op of :mod:`sorix.kernels.defs` computing it on tensors (what a
    #: derivative evaluated on tensors calls instead); None where there is none.
    op: Optional[str] = None
    #: For NumPy's functions: the C math library's name for it, which is also libdevice's
    #: (the GPU computes it there: numba-cuda cannot lower most NumPy functions on scalars).
    libm: Optional[str] = None


#: Everything a scalar definition may call besides arithmetic, comparisons and ``&``/``|``:
#: the one list that each target's bindings and the tensor layer's are derived from.
SCALAR_FUNCTIONS = (
    # math: numba compiles each on the CPU and the GPU
    ScalarFunction("math.exp", "exp"), ScalarFunction("math.log", "log"),
    ScalarFunction("math.sqrt", "sqrt"), ScalarFunction("math.sin", "sin"),
    ScalarFunction("math.cos", "cos"), ScalarFunction("math.tanh", "tanh"),
    ScalarFunction("math.floor", "floor"), ScalarFunction("math.ceil", "ceil"),
    ScalarFunction("math.log1p", "log1p"), ScalarFunction("math.expm1", "expm1"),
    ScalarFunction("math.erf", "erf"), ScalarFunction("math.erfc", "erfc"),
    # NumPy on scalars (np.floor, not math.floor: numba's math.floor returns an int64)
    ScalarFunction("np.floor", "floor", "floor"), ScalarFunction("np.ceil", "ceil", "ceil"),
    ScalarFunction("np.rint", "round", "rint"), ScalarFunction("np.round", "round", "rint"),
    ScalarFunction("np.trunc", None, "trunc"), ScalarFunction("np.exp", "exp", "exp"),
    ScalarFunction("np.expm1", "expm1", "expm1"), ScalarFunction("np.log", "log", "log"),
    ScalarFunction("np.log1p", "log1p", "log1p"), ScalarFunction("np.log2", None, "log2"),
    ScalarFunction("np.log10", None, "log10"), ScalarFunction("np.sqrt", "sqrt", "sqrt"),
    ScalarFunction("np.sin", "sin", "sin"), ScalarFunction("np.cos", "cos", "cos"),
    ScalarFunction("np.tan", None, "tan"), ScalarFunction("np.tanh", "tanh", "tanh"),
    ScalarFunction("np.sinh", None, "sinh"), ScalarFunction("np.cosh", None, "cosh"),
    ScalarFunction("np.arcsin", None, "asin"), ScalarFunction("np.arccos", None, "acos"),
    ScalarFunction("np.arctan", None, "atan"), ScalarFunction("np.arctan2", None, "atan2"),
    ScalarFunction("np.fabs", "abs", "fabs"), ScalarFunction("np.absolute", "abs", "fabs"),
    ScalarFunction("np.abs", "abs", "fabs"), ScalarFunction("np.power", "pow", "pow"),
    ScalarFunction("np.copysign", None, "copysign"), ScalarFunction("np.hypot", None, "hypot"),
    ScalarFunction("np.fmod", None, "fmod"),
    # the helpers above, compiled with the definition that calls them
    ScalarFunction("where"), ScalarFunction("sign", "sign"), ScalarFunction("exp", "exp"),
    ScalarFunction("sigmoid", "sigmoid"), ScalarFunction("tanh", "tanh"),
    ScalarFunction("erfc", "erfc"),
    ScalarFunction("maximum", "maximum"), ScalarFunction("minimum", "minimum"),
)

#: The helpers by name (the entries of SCALAR_FUNCTIONS without a module).
HELPERS = {f.name: globals()[f.name] for f in SCALAR_FUNCTIONS if "." not in f.name}
