"""More elementwise maths, defined as :mod:`sorix.kernels.defs` defines its ops: the
trigonometric and hyperbolic functions and their inverses, logarithms and powers in
other bases, ``rsqrt``, ``trunc``/``frac``, and the binary ``atan2``, ``remainder``,
``fmod`` and ``logaddexp``.

Each is one scalar definition and one entry; :mod:`sorix.kernels.defs` adds the
entries to its tables, so each op gets its CPU and CUDA kernels, its fused backward
and its higher derivatives like every other. Derivatives follow PyTorch's formulas,
including its values at the edges of a domain (inf, or NaN outside it).
"""
import math

import numpy as np

from .entries import FLOATS, INTEGERS, Binary, Unary
from .scalar import exp, log1p, maximum, where


# ---- trigonometric and hyperbolic --------------------------------------------------

def tan_f(x):
    return np.tan(x)


def tan_d(x, y):
    return 1.0 + y * y


def sinh_f(x):
    return np.sinh(x)


def sinh_d(x, y):
    return np.cosh(x)


def cosh_f(x):
    return np.cosh(x)


def cosh_d(x, y):
    return np.sinh(x)


def asin_f(x):
    return np.arcsin(x)


def asin_d(x, y):
    return 1.0 / math.sqrt(1.0 - x * x)


def acos_f(x):
    return np.arccos(x)


def acos_d(x, y):
    return -1.0 / math.sqrt(1.0 - x * x)


def atan_f(x):
    return np.arctan(x)


def atan_d(x, y):
    return 1.0 / (1.0 + x * x)


def asinh_f(x):
    return np.arcsinh(x)


def asinh_d(x, y):
    return 1.0 / math.sqrt(x * x + 1.0)


def acosh_f(x):
    return np.arccosh(x)


def acosh_d(x, y):
    return 1.0 / math.sqrt(x * x - 1.0)


def atanh_f(x):
    return np.arctanh(x)


def atanh_d(x, y):
    return 1.0 / (1.0 - x * x)


# ---- logarithms, powers and roots -----------------------------------------------------

def log2_f(x):
    return np.log2(x)


def log2_d(x, y):
    return 1.4426950408889634 / x  # 1 / (x ln 2)


def log10_f(x):
    return np.log10(x)


def log10_d(x, y):
    return 0.4342944819032518 / x  # 1 / (x ln 10)


def exp2_f(x):
    return np.exp2(x)


def exp2_d(x, y):
    return y * 0.6931471805599453  # 2^x ln 2


def rsqrt_f(x):
    return 1.0 / math.sqrt(x)


def rsqrt_d(x, y):
    return -0.5 * (y * y * y)


# ---- integer and fractional parts --------------------------------------------------------

def trunc_f(x):
    return np.trunc(x)


def frac_f(x):
    return x - np.trunc(x)


def frac_d(x, y):
    return 1.0


# ---- binary ---------------------------------------------------------------------------

def atan2_f(a, b):
    return np.arctan2(a, b)


def atan2_da(a, b, y):
    # 0 at the origin, where atan2 has no derivative (PyTorch's value), not 0 / 0
    r2 = a * a + b * b
    return where(r2 == 0.0, 0.0, b / where(r2 == 0.0, 1.0, r2))


def atan2_db(a, b, y):
    r2 = a * a + b * b
    return where(r2 == 0.0, 0.0, -a / where(r2 == 0.0, 1.0, r2))


def remainder_f(a, b):
    # Python's modulo: the result takes the divisor's sign. fmod is exact; adding b
    # where the signs differ moves it into the divisor's range.
    m = np.fmod(a, b)
    return where((m != 0.0) & ((m < 0.0) != (b < 0.0)), m + b, m)


def remainder_da(a, b, y):
    return 1.0


def remainder_db(a, b, y):
    # a = floor(a / b) b + remainder, so d/db = -floor(a / b) (PyTorch's rule)
    return -np.floor(a / b)


def fmod_f(a, b):
    return np.fmod(a, b)


def fmod_db(a, b, y):
    return -np.trunc(a / b)


def floor_divide_f(a, b):
    # NumPy's floor division: the quotient of a - fmod(a, b), exact, stepped down where
    # the remainder's sign differs from b's and rounded (1 // 0.1 is 9, floor(1 / 0.1) 10)
    m = np.fmod(a, b)
    q = (a - m) / b
    q = where((m != 0.0) & ((m < 0.0) != (b < 0.0)), q - 1.0, q)
    f = np.floor(q)
    return where(b == 0.0, a / b, where(q - f > 0.5, f + 1.0, f))


def zero_d(a, b, y):
    return 0.0


def logaddexp_f(a, b):
    # log(e^a + e^b) = max + log1p(e^-|a - b|); equal infinities give that infinity
    high = maximum(a, b)
    return where(a == b, a + 0.6931471805599453, high + log1p(exp(-abs(a - b))))


def logaddexp_da(a, b, y):
    # the softmax weight of a, written without y: exp(a - y) would be inf - inf at a = inf
    return 1.0 / (1.0 + exp(b - a))


def logaddexp_db(a, b, y):
    return 1.0 / (1.0 + exp(a - b))


def _unary(name, forward, derivative, reference, doc, method=None, function=None, **more):
    """An entry public as ``Tensor.<method>`` and ``sorix.<function>`` (both ``name``
    unless given: space-separated, aliases after the first)."""
    return Unary(name, forward, derivative, reference, doc=doc,
                 method=name if method is None else method,
                 function=name if function is None else function, **more)


UNARY = (
    _unary("tan", tan_f, tan_d, np.tan, "tan(x), x in radians."),
    _unary("sinh", sinh_f, sinh_d, np.sinh, "(e^x - e^-x) / 2."),
    _unary("cosh", cosh_f, cosh_d, np.cosh, "(e^x + e^-x) / 2."),
    _unary("asin", asin_f, asin_d, np.arcsin, "The inverse sine, in [-pi/2, pi/2].",
           "asin arcsin", "asin arcsin"),
    _unary("acos", acos_f, acos_d, np.arccos, "The inverse cosine, in [0, pi].",
           "acos arccos", "acos arccos"),
    _unary("atan", atan_f, atan_d, np.arctan, "The inverse tangent, in (-pi/2, pi/2).",
           "atan arctan", "atan arctan"),
    _unary("asinh", asinh_f, asinh_d, np.arcsinh, "The inverse hyperbolic sine.",
           "asinh arcsinh", "asinh arcsinh"),
    _unary("acosh", acosh_f, acosh_d, np.arccosh, "The inverse hyperbolic cosine (x >= 1).",
           "acosh arccosh", "acosh arccosh"),
    _unary("atanh", atanh_f, atanh_d, np.arctanh, "The inverse hyperbolic tangent (|x| < 1).",
           "atanh arctanh", "atanh arctanh"),
    _unary("log2", log2_f, log2_d, np.log2, "The base-2 logarithm of x."),
    _unary("log10", log10_f, log10_d, np.log10, "The base-10 logarithm of x."),
    _unary("exp2", exp2_f, exp2_d, np.exp2, "2^x."),
    _unary("rsqrt", rsqrt_f, rsqrt_d, None, "1 / sqrt(x)."),
    _unary("trunc", trunc_f, None, np.trunc, "x rounded towards zero.", "trunc fix",
           "trunc fix", keeps_integers=True),
    _unary("frac", frac_f, frac_d, None, "x - trunc(x): the fractional part, with x's sign."),
)

BINARY = (
    Binary("atan2", atan2_f, atan2_da, atan2_db, np.arctan2, integers=FLOATS,
           doc="The angle of the point (other, input): atan(input / other) in the right "
               "quadrant, in [-pi, pi].", method="atan2 arctan2", function="atan2 arctan2"),
    Binary("remainder", remainder_f, remainder_da, remainder_db, np.remainder,
           integers=INTEGERS, integer_division=True,
           doc="input - floor(input / other) * other: Python's modulo, "
           "with the divisor's sign (the % operator).", method="remainder",
           function="remainder"),
    Binary("fmod", fmod_f, remainder_da, fmod_db, np.fmod, integers=INTEGERS,
           integer_division=True,
           doc="input - trunc(input / other) * other: C's fmod, with the dividend's sign.",
           method="fmod", function="fmod"),
    Binary("floor_divide", floor_divide_f, zero_d, zero_d, np.floor_divide, saves=False,
           integers=INTEGERS, integer_division=True,
           doc="floor(input / other), computed exactly (the // operator); its gradient is 0.",
           method="floor_divide", function="floor_divide"),
    Binary("logaddexp", logaddexp_f, logaddexp_da, logaddexp_db, np.logaddexp,
           integers=FLOATS, doc="log(e^input + e^other), without overflow.",
           method="logaddexp", function="logaddexp"),
)
