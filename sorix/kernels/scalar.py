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


def log(x):
    """log(x). With VECTOR_EXP: x = 2^e f with f in [sqrt(1/2), sqrt(2)) read from the
    float's bits (subnormal x scaled by 2^25 first), log(f) = log(1 + r) by Cephes'
    logf polynomial in r = f - 1 (about 1 ulp), and e ln2 added in two parts. Only
    selects, bit operations and arithmetic: LLVM vectorises the loop. 0 gives -inf,
    inf gives inf, negative x and NaN give NaN."""
    if VECTOR_EXP:
        tiny = x < 1.1754943508222875e-38  # below the smallest normal float32
        v = where(tiny, x * 33554432.0, x)
        bits = np.float32(v).view(np.int32)
        e = ((bits >> np.int32(23)) & np.int32(255)) - np.int32(126)
        e = where(tiny, e - np.int32(25), e)
        f = np.int32((bits & np.int32(8388607)) | np.int32(1056964608)).view(np.float32)
        low = f < 0.70710678118654752
        e = where(low, e - np.int32(1), e)
        r = where(low, f + f - 1.0, f - 1.0)
        k = np.float32(e)
        z = r * r
        p = r * 7.0376836292e-2 - 1.1514610310e-1
        p = r * p + 1.1676998740e-1
        p = r * p - 1.2420140846e-1
        p = r * p + 1.4249322787e-1
        p = r * p - 1.6668057665e-1
        p = r * p + 2.0000714765e-1
        p = r * p - 2.4999993993e-1
        p = r * p + 3.3333331174e-1
        y = p * r * z + k * -2.12194440e-4 - 0.5 * z
        result = (r + y) + k * 0.693359375
        special = where(x == 0.0, -1.0 / 0.0, where(x > 1.0, x, (x - x) / 0.0))
        return where((x > 0.0) & (x < 1.0 / 0.0), result, special)
    return math.log(x)


def log1p(x):
    """log(1 + x). With VECTOR_EXP: log(w) x / (w - 1) for w = 1 + x rounded (the ratio
    corrects w's rounding: a few ulp), and x itself where w rounds to 1; vectorised as
    :func:`log` is. Else libm's log1p."""
    if VECTOR_EXP:
        w = 1.0 + x
        ratio = where(w == 1.0 / 0.0, 1.0, x / (w - 1.0))
        return where(w == 1.0, x, log(w) * ratio)
    return math.log1p(x)


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
    ScalarFunction("np.trunc", "trunc", "trunc"), ScalarFunction("np.exp", "exp", "exp"),
    ScalarFunction("np.expm1", "expm1", "expm1"), ScalarFunction("np.log", "log", "log"),
    ScalarFunction("np.log1p", "log1p", "log1p"), ScalarFunction("np.log2", "log2", "log2"),
    ScalarFunction("np.log10", "log10", "log10"), ScalarFunction("np.sqrt", "sqrt", "sqrt"),
    ScalarFunction("np.sin", "sin", "sin"), ScalarFunction("np.cos", "cos", "cos"),
    ScalarFunction("np.tan", "tan", "tan"), ScalarFunction("np.tanh", "tanh", "tanh"),
    ScalarFunction("np.sinh", "sinh", "sinh"), ScalarFunction("np.cosh", "cosh", "cosh"),
    ScalarFunction("np.arcsin", "asin", "asin"), ScalarFunction("np.arccos", "acos", "acos"),
    ScalarFunction("np.arctan", "atan", "atan"), ScalarFunction("np.arctan2", "atan2", "atan2"),
    ScalarFunction("np.fabs", "abs", "fabs"), ScalarFunction("np.absolute", "abs", "fabs"),
    ScalarFunction("np.abs", "abs", "fabs"), ScalarFunction("np.power", "pow", "pow"),
    ScalarFunction("np.copysign", None, "copysign"), ScalarFunction("np.hypot", None, "hypot"),
    ScalarFunction("np.fmod", "fmod", "fmod"),
    ScalarFunction("np.arcsinh", "asinh", "asinh"), ScalarFunction("np.arccosh", "acosh", "acosh"),
    ScalarFunction("np.arctanh", "atanh", "atanh"), ScalarFunction("np.exp2", "exp2", "exp2"),
    # the helpers above, compiled with the definition that calls them
    ScalarFunction("where"), ScalarFunction("sign", "sign"), ScalarFunction("exp", "exp"),
    ScalarFunction("log", "log"), ScalarFunction("log1p", "log1p"),
    ScalarFunction("sigmoid", "sigmoid"), ScalarFunction("tanh", "tanh"),
    ScalarFunction("erfc", "erfc"),
    ScalarFunction("maximum", "maximum"), ScalarFunction("minimum", "minimum"),
)

#: The helpers by name (the entries of SCALAR_FUNCTIONS without a module).
HELPERS = {f.name: globals()[f.name] for f in SCALAR_FUNCTIONS if "." not in f.name}
