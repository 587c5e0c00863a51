"""The elementwise operations, each defined once on scalars.

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
"""
import math
from typing import Callable, NamedTuple, Optional

import numpy as np

from .scalar import SCALAR_FUNCTIONS  # noqa: F401  (what a definition may call)
from .scalar import exp, maximum, minimum, sigmoid, sign, tanh, where


class Unary(NamedTuple):
    name: str
    forward: Callable
    derivative: Optional[Callable]
    nparams: int = 0
    #: NumPy function giving the same forward, used for dtypes without kernels
    reference: Optional[Callable] = None


class Binary(NamedTuple):
    name: str
    forward: Callable
    derivative_a: Callable
    derivative_b: Callable
    reference: Optional[Callable] = None


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
    return math.log(x)


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
    return math.log1p(x)


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
    smooth = (maximum(bx, 0.0) + math.log1p(exp(-abs(bx)))) / beta
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
    return 0.5 * x * math.erfc(-0.7071067811865475 * x)


def gelu_d(x, y):
    # Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
    return 0.5 * math.erfc(-0.7071067811865475 * x) + \
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
    # min(x, 0): exp of a large positive x would overflow in the branch not taken
    return where(x <= 0.0, alpha * exp(minimum(x, 0.0)), 1.0)


def softsign_f(x):
    # x / (1 + |x|); its limits +-1 at +-inf (inf / inf would give NaN)
    return where(abs(x) == math.inf, sign(x), x / (1.0 + abs(x)))


def softsign_d(x, y):
    d = 1.0 + abs(x)
    return 1.0 / (d * d)


UNARY = {u.name: u for u in (
    Unary("neg", neg, neg_d, 0, np.negative),
    Unary("exp", exp_f, exp_d, 0, np.exp),
    Unary("log", log_f, log_d, 0, np.log),
    Unary("sqrt", sqrt_f, sqrt_d, 0, np.sqrt),
    Unary("sin", sin_f, sin_d, 0, np.sin),
    Unary("cos", cos_f, cos_d, 0, np.cos),
    Unary("tanh", tanh_f, tanh_d, 0, np.tanh),
    Unary("sigmoid", sigmoid_f, sigmoid_d, 0, None),
    Unary("relu", relu_f, relu_d, 0, None),
    Unary("leaky_relu", leaky_relu_f, leaky_relu_d, 1, None),
    Unary("abs", abs_f, abs_d, 0, np.abs),
    Unary("clamp", clamp_f, clamp_d, 2, None),
    Unary("sign", sign_f, None, 0, np.sign),
    Unary("floor", floor_f, None, 0, np.floor),
    Unary("ceil", ceil_f, None, 0, np.ceil),
    Unary("round", round_f, None, 0, np.rint),
    Unary("log1p", log1p_f, log1p_d, 0, np.log1p),
    Unary("expm1", expm1_f, expm1_d, 0, np.expm1),
    Unary("square", square_f, square_d, 0, np.square),
    Unary("reciprocal", reciprocal_f, reciprocal_d, 0, lambda x: np.true_divide(1, x)),
    Unary("erf", erf_f, erf_d, 0, None),
    Unary("erfc", erfc_f, erfc_d, 0, None),
    Unary("softplus", softplus_f, softplus_d, 2, None),
    Unary("silu", silu_f, silu_d, 0, None),
    Unary("gelu", gelu_f, gelu_d, 0, None),
    Unary("gelu_tanh", gelu_tanh_f, gelu_tanh_d, 0, None),
    Unary("elu", elu_f, elu_d, 1, None),
    Unary("softsign", softsign_f, softsign_d, 0, None),
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
    return where((a == 0.0) & (b >= 0.0), 0.0, y * math.log(a))


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
    Binary("add", add_f, add_da, add_db, np.add),
    Binary("sub", sub_f, add_da, sub_db, np.subtract),
    Binary("mul", mul_f, mul_da, mul_db, np.multiply),
    Binary("div", div_f, div_da, div_db, np.true_divide),
    Binary("pow", pow_f, pow_da, pow_db, np.power),
    Binary("maximum", maximum_f, maximum_da, maximum_db, np.maximum),
    Binary("minimum", minimum_f, minimum_da, minimum_db, np.minimum),
)}
