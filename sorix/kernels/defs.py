"""The elementwise operations, each defined once on scalars, and their whole public surface.

A unary op gives ``forward(x, *params)`` and ``derivative(x, y, *params)``,
the local derivative dy/dx, which may reuse the output ``y``. A binary op
gives ``forward(a, b)`` and the two partial derivatives ``(a, b, y)``.

From these one definitions the kernel builder makes the CPU (and CUDA)
forward loops and the fused backward loops ``g * derivative``, and the
tensor layer evaluates the derivatives on tensors for higher-order
gradients. Definitions may therefore use only arithmetic, comparisons,
``&``/``|`` and the functions of :data:`SCALAR_FUNCTIONS` (``math`` and
``np`` functions, and the helpers of :mod:`sorix.kernels.scalar`); a
derivative evaluated on tensors, only those with an op. ``derivative=None``
marks an op with zero gradient (``sign``, ``floor`` ...).

Each entry of ``UNARY`` and ``BINARY`` also says what the tensor layer and
the public functions need, so that a new op is one entry here (plus its
naive twin in the tests): its special cases (``saves``, ``integers``,
``integers_as``), its parameters' public names and defaults, its docstring,
and where it is public (``method``: a Tensor method, ``function``:
``sorix.<fn>``, ``functional``: ``sorix.nn.functional.<fn>``; space-separated
names, aliases after the first). :mod:`sorix.ops.surface` makes those
functions from the entries.
"""
import math

import numpy as np

from . import defs_activations, defs_maths
from .entries import (FLOATS, FLOATS_UNLESS_NATURAL, INTEGERS, Binary,  # noqa: F401
                      Param, Unary)
from .scalar import SCALAR_FUNCTIONS  # noqa: F401  (what a definition may call)
from .scalar import erfc, exp, log, log1p, maximum, minimum, sigmoid, sign, tanh, where


# ---- unary ---------------------------------------------------------------

def neg(x):
    return -x


def neg_d(x, y):
    return -1.0


def exp_f(x):
    return exp(x)


def exp_d(x, y):
    return y


def log_f(x):
    return log(x)


def log_d(x, y):
    return 1.0 / x


def sqrt_f(x):
    return math.sqrt(x)


def sqrt_d(x, y):
    return 0.5 / y


def sin_f(x):
    return math.sin(x)


def sin_d(x, y):
    return math.cos(x)


def cos_f(x):
    return math.cos(x)


def cos_d(x, y):
    return -math.sin(x)


def tanh_f(x):
    return tanh(x)


def tanh_d(x, y):
    return 1.0 - y * y


def sigmoid_f(x):
    return sigmoid(x)


def sigmoid_d(x, y):
    return y * (1.0 - y)


def relu_f(x):
    # Written so that NaN passes through and -inf gives 0, as in PyTorch.
    return where(x <= 0.0, 0.0, x)


def relu_d(x, y):
    # Written so that NaN passes the gradient (PyTorch's threshold backward).
    return where(x <= 0.0, 0.0, 1.0)


def leaky_relu_f(x, slope):
    return where(x > 0.0, x, x * slope)


def leaky_relu_d(x, y, slope):
    return where(x > 0.0, 1.0, slope)


def abs_f(x):
    return abs(x)


def abs_d(x, y):
    # sgn(x), 0 at 0 and at NaN, as in PyTorch.
    return where(x > 0.0, 1.0, where(x < 0.0, -1.0, 0.0))


def clamp_f(x, low, high):
    return minimum(maximum(x, low), high)


def clamp_d(x, y, low, high):
    # PyTorch passes the gradient through at the bounds themselves.
    return where((x >= low) & (x <= high), 1.0, 0.0)


def sign_f(x):
    return sign(x)


def floor_f(x):
    # np.floor, not math.floor: numba's math.floor returns an int64, which
    # turns NaN, inf and values beyond 2^63 into -2^63.
    return np.floor(x)


def ceil_f(x):
    return np.ceil(x)


def round_f(x):
    return np.rint(x)


# ---- activations and maths added to the core set ------------------------------------
# Each is written for the whole float range: stable forms for large |x| (softplus, elu,
# gelu's tails), log1p/expm1 near 0, and derivatives that never compute inf * 0 where
# the answer is finite (a where() on tensors still differentiates the branch it drops).

def log1p_f(x):
    return log1p(x)


def log1p_d(x, y):
    return 1.0 / (1.0 + x)


def expm1_f(x):
    return math.expm1(x)


def expm1_d(x, y):
    # exp(x) = expm1(x) + 1 (PyTorch's rule too)
    return y + 1.0


def square_f(x):
    return x * x


def square_d(x, y):
    return 2.0 * x


def reciprocal_f(x):
    return 1.0 / x


def reciprocal_d(x, y):
    return -(y * y)


def erf_f(x):
    return math.erf(x)


def erf_d(x, y):
    # 2 / sqrt(pi) exp(-x^2)
    return 1.1283791670955126 * exp(-(x * x))


def erfc_f(x):
    return math.erfc(x)


def erfc_d(x, y):
    return -1.1283791670955126 * exp(-(x * x))


def softplus_f(x, beta, threshold):
    # log(1 + exp(b x)) / b = (max(b x, 0) + log1p(exp(-|b x|))) / b: exp never overflows;
    # x itself where b x > threshold, as PyTorch.
    bx = beta * x
    smooth = (maximum(bx, 0.0) + log1p(exp(-abs(bx)))) / beta
    return where(bx > threshold, x, smooth)


def softplus_d(x, y, beta, threshold):
    return where(beta * x > threshold, 1.0, sigmoid(beta * x))


def silu_f(x):
    return x * sigmoid(x)


def silu_d(x, y):
    s = sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def gelu_f(x):
    # x Phi(x) with Phi(x) = erfc(-x / sqrt 2) / 2: accurate in the lower tail, where
    # 1 + erf(x / sqrt 2) would cancel to 0.
    return 0.5 * x * erfc(-0.7071067811865475 * x)


def gelu_d(x, y):
    # Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
    return 0.5 * erfc(-0.7071067811865475 * x) + \
        0.3989422804014327 * x * exp(-0.5 * (x * x))


def gelu_tanh_f(x):
    # x (1 + tanh(u)) / 2 with u = sqrt(2/pi) (x + 0.044715 x^3), written as x sigmoid(2u):
    # the same function, without 1 + tanh(u) cancelling to 0 for large negative x.
    return x * sigmoid(1.5957691216057308 * (x + 0.044715 * (x * x * x)))


def gelu_tanh_d(x, y):
    s = sigmoid(1.5957691216057308 * (x + 0.044715 * (x * x * x)))
    return s + x * s * (1.0 - s) * (1.5957691216057308 + 0.21406444881780076 * (x * x))


def elu_f(x, alpha):
    # alpha expm1(x) for x <= 0 (expm1 keeps small |x| exact; -alpha for very negative x)
    return where(x <= 0.0, alpha * math.expm1(minimum(x, 0.0)), x)


def elu_d(x, y, alpha):
    # exp of min(x, 0): a large positive x would overflow in the branch not taken. Written
    # as a where, not minimum, so that the second derivative at exactly 0 is PyTorch's 0
    # (minimum's derivative splits a tie in half: 0.5 alpha)
    return where(x <= 0.0, alpha * exp(where(x < 0.0, x, 0.0)), 1.0)


def softsign_f(x):
    # x / (1 + |x|); its limits +-1 at +-inf (inf / inf would give NaN)
    return where(abs(x) == math.inf, sign(x), x / (1.0 + abs(x)))


def softsign_d(x, y):
    d = 1.0 + abs(x)
    return 1.0 / (d * d)


# ---- NumPy twins for plain arrays (``sorix.sigmoid(array)`` ... as Sorix gives them) ----

def sigmoid_on_arrays(x):
    x = np.asarray(x)
    return np.exp(-np.logaddexp(0, -x)).astype(x.dtype if x.dtype.kind == "f" else np.float64)


def relu_on_arrays(x):
    return np.maximum(x, 0)  # integers stay integers


def reciprocal_reference(x):
    return np.true_divide(1, x)


# clamp's public forms are written by hand (Tensor.clamp/clip, sorix.clamp/clip): its
# bounds are optional (None: unbounded, at least one needed), they become -inf/inf for
# the kernel, and plain arrays go to np.clip with the bounds as given.
_CLAMP_BOUNDS = (Param("min", None), Param("max", None))
# gelu's nn.functional entry is written by hand: its ``approximate`` picks one of two ops.

UNARY = {u.name: u for u in (
    Unary("neg", neg, neg_d, np.negative, doc="-x.", method="neg", keeps_integers=True),
    Unary("exp", exp_f, exp_d, np.exp, doc="e^x.", method="exp", function="exp"),
    Unary("log", log_f, log_d, np.log, doc="The natural logarithm of x.", method="log",
          function="log"),
    Unary("sqrt", sqrt_f, sqrt_d, np.sqrt, doc="The square root of x.", method="sqrt",
          function="sqrt"),
    Unary("sin", sin_f, sin_d, np.sin, doc="sin(x), x in radians.", method="sin",
          function="sin"),
    Unary("cos", cos_f, cos_d, np.cos, doc="cos(x), x in radians.", method="cos",
          function="cos"),
    Unary("tanh", tanh_f, tanh_d, np.tanh, doc="(e^x - e^-x) / (e^x + e^-x).", method="tanh",
          function="tanh", functional="tanh"),
    Unary("sigmoid", sigmoid_f, sigmoid_d, doc="1 / (1 + exp(-x)).", method="sigmoid",
          function="sigmoid", functional="sigmoid", on_arrays=sigmoid_on_arrays),
    Unary("relu", relu_f, relu_d, relu_on_arrays, doc="max(x, 0).", method="relu",
          function="relu", functional="relu", keeps_integers=True),
    Unary("leaky_relu", leaky_relu_f, leaky_relu_d, params=(Param("negative_slope", 0.01),),
          doc="x for x > 0, negative_slope * x otherwise.", method="leaky_relu",
          functional="leaky_relu"),
    Unary("abs", abs_f, abs_d, np.abs, doc="|x|.", method="abs absolute",
          function="abs absolute", keeps_integers=True),
    Unary("clamp", clamp_f, clamp_d, params=_CLAMP_BOUNDS, doc="min(max(x, min), max)."),
    Unary("sign", sign_f, None, np.sign, doc="-1, 0 or 1: the sign of x.", method="sign",
          function="sign"),
    Unary("floor", floor_f, None, np.floor, doc="The largest integer <= x.", method="floor",
          function="floor", keeps_integers=True),
    Unary("ceil", ceil_f, None, np.ceil, doc="The smallest integer >= x.", method="ceil",
          function="ceil", keeps_integers=True),
    Unary("round", round_f, None, np.rint, doc="x rounded to the nearest integer, halves to "
          "even.", method="round", function="round", on_arrays=np.round, keeps_integers=True),
    Unary("log1p", log1p_f, log1p_d, np.log1p, doc="log(1 + x), accurate for small |x|.",
          method="log1p", function="log1p"),
    Unary("expm1", expm1_f, expm1_d, np.expm1, doc="exp(x) - 1, accurate for small |x|.",
          method="expm1", function="expm1"),
    Unary("square", square_f, square_d, np.square, doc="x * x (integers stay integers).",
          method="square", function="square", integers_as="mul"),
    Unary("reciprocal", reciprocal_f, reciprocal_d, reciprocal_reference, doc="1 / x.",
          method="reciprocal", function="reciprocal"),
    Unary("erf", erf_f, erf_d, doc="2/sqrt(pi) * integral from 0 to x of exp(-t^2) dt.",
          method="erf", function="erf"),
    Unary("erfc", erfc_f, erfc_d, doc="1 - erf(x), accurate where erf(x) is close to 1.",
          method="erfc", function="erfc"),
    Unary("softplus", softplus_f, softplus_d,
          params=(Param("beta", 1.0, nonzero="it divides the result"), Param("threshold", 20.0)),
          doc="log(1 + exp(beta x)) / beta, and x itself where beta x > threshold.",
          functional="softplus"),
    Unary("silu", silu_f, silu_d, doc="x sigmoid(x) (also called swish).", functional="silu",
          ignores_inplace=True),
    Unary("gelu", gelu_f, gelu_d, doc="x Phi(x), Phi the standard normal CDF."),
    Unary("gelu_tanh", gelu_tanh_f, gelu_tanh_d,
          doc="x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2."),
    Unary("elu", elu_f, elu_d, params=(Param("alpha", 1.0),),
          doc="x for x > 0, alpha (exp(x) - 1) otherwise.", functional="elu",
          ignores_inplace=True),
    Unary("softsign", softsign_f, softsign_d, doc="x / (1 + |x|).", functional="softsign"),
)}


# ---- binary --------------------------------------------------------------

def add_f(a, b):
    return a + b


def add_da(a, b, y):
    return 1.0


def add_db(a, b, y):
    return 1.0


def sub_f(a, b):
    return a - b


def sub_db(a, b, y):
    return -1.0


def mul_f(a, b):
    return a * b


def mul_da(a, b, y):
    return b


def mul_db(a, b, y):
    return a


def div_f(a, b):
    return a / b


def div_da(a, b, y):
    return 1.0 / b


def div_db(a, b, y):
    return -y / b


def pow_f(a, b):
    return a ** b


def pow_da(a, b, y):
    # d/da a^b = b a^(b-1); PyTorch defines it as 0 where b == 0.
    return where(b == 0.0, 0.0, b * a ** (b - 1.0))


def pow_db(a, b, y):
    # d/db a^b = a^b log(a); 0 where a == 0 and b >= 0, as in PyTorch.
    return where((a == 0.0) & (b >= 0.0), 0.0, y * log(a))


def maximum_f(a, b):
    return maximum(a, b)


def maximum_da(a, b, y):
    # Ties share the gradient equally; an operand gets the gradient unless
    # strictly beaten, so both get it when one is NaN (PyTorch's rules).
    return where(a < b, 0.0, where(a == b, 0.5, 1.0))


def maximum_db(a, b, y):
    return where(b < a, 0.0, where(a == b, 0.5, 1.0))


def minimum_f(a, b):
    return minimum(a, b)


def minimum_da(a, b, y):
    return where(a > b, 0.0, where(a == b, 0.5, 1.0))


def minimum_db(a, b, y):
    return where(b > a, 0.0, where(a == b, 0.5, 1.0))


BINARY = {b.name: b for b in (
    Binary("add", add_f, add_da, add_db, np.add, saves=False, doc="input + other, broadcast.",
           method="add", function="add"),
    Binary("sub", sub_f, add_da, sub_db, np.subtract, saves=False,
           doc="input - other, broadcast.", method="sub", function="sub subtract"),
    Binary("mul", mul_f, mul_da, mul_db, np.multiply, doc="input * other, broadcast.",
           method="mul", function="mul multiply"),
    Binary("div", div_f, div_da, div_db, np.true_divide, integers=FLOATS,
           doc="input / other, broadcast (true division: integers give floats).",
           method="div", function="div divide"),
    Binary("pow", pow_f, pow_da, pow_db, np.power, integers=FLOATS_UNLESS_NATURAL,
           doc="input ** other, broadcast (integers stay integers for natural exponents).",
           method="pow", function="pow", other="exponent"),
    Binary("maximum", maximum_f, maximum_da, maximum_db, np.maximum,
           doc="The larger of input and other, broadcast (NaN wins).", method="maximum",
           function="maximum"),
    Binary("minimum", minimum_f, minimum_da, minimum_db, np.minimum,
           doc="The smaller of input and other, broadcast (NaN wins).", method="minimum",
           function="minimum"),
)}

# The maths and activations of the two companion modules, entries like those above.
UNARY.update((op.name, op) for op in defs_maths.UNARY + defs_activations.UNARY)
BINARY.update((op.name, op) for op in defs_maths.BINARY)
