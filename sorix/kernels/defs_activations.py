"""The piecewise and smooth activations beyond :mod:`sorix.kernels.defs`' own:
``hardtanh``, ``hardsigmoid``, ``hardswish``, ``softshrink``, ``hardshrink``,
``threshold``, ``logsigmoid`` and ``mish``, defined as that module defines its ops and added to its
table, so each is one kernel pass forward and one fused pass backward.

Their values and derivatives at the kinks and at NaN are PyTorch's: a comparison with
NaN is false, so NaN takes whichever branch PyTorch's own comparison gives it. (relu6,
selu, celu and tanhshrink are compositions of table ops, in
:mod:`sorix.nn.functional`.)
"""
from .entries import Param, Unary
from .scalar import exp, log1p, maximum, minimum, sigmoid, tanh, where


def hardtanh_f(x, low, high):
    return minimum(maximum(x, low), high)  # (NaN passes through)


def hardtanh_d(x, y, low, high):
    # 0 at the bounds themselves, unlike clamp's
    return where((x <= low) | (x >= high), 0.0, 1.0)


def hardsigmoid_f(x):
    return minimum(maximum(x + 3.0, 0.0), 6.0) / 6.0


def hardsigmoid_d(x, y):
    return where((x > -3.0) & (x < 3.0), 0.16666666666666666, 0.0)


def hardswish_f(x):
    return x * minimum(maximum(x + 3.0, 0.0), 6.0) / 6.0


def hardswish_d(x, y):
    return where(x <= -3.0, 0.0, where(x < 3.0, x / 3.0 + 0.5, 1.0))


# (a definition calls only the functions sorix.kernels.scalar lists, so each writes
# out the test -lambd <= x <= lambd, and mish its softplus)

def softshrink_f(x, lambd):
    return where((x >= -lambd) & (x <= lambd), 0.0, where(x > lambd, x - lambd, x + lambd))


def shrink_d(x, y, lambd):
    return where((x >= -lambd) & (x <= lambd), 0.0, 1.0)


def hardshrink_f(x, lambd):
    return where((x >= -lambd) & (x <= lambd), 0.0, x)


def threshold_f(x, threshold, value):
    return where(x <= threshold, value, x)


def threshold_d(x, y, threshold, value):
    return where(x <= threshold, 0.0, 1.0)


def mish_f(x):
    # softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|), without overflow
    return x * tanh(maximum(x, 0.0) + log1p(exp(-abs(x))))


def mish_d(x, y):
    t = tanh(maximum(x, 0.0) + log1p(exp(-abs(x))))
    return t + x * sigmoid(x) * (1.0 - t * t)


def logsigmoid_f(x):
    # log(1 / (1 + e^-x)) = min(x, 0) - log1p(e^-|x|): no overflow, and exact for large |x|
    return minimum(x, 0.0) - log1p(exp(-abs(x)))


def logsigmoid_d(x, y):
    return sigmoid(-x)


_LAMBDA = (Param("lambd", 0.5),)

UNARY = (
    Unary("hardtanh", hardtanh_f, hardtanh_d, params=(Param("min_val", -1.0),
                                                      Param("max_val", 1.0)),
          doc="min(max(x, min_val), max_val); its gradient is 0 at the bounds.",
          functional="hardtanh", ignores_inplace=True),
    Unary("hardsigmoid", hardsigmoid_f, hardsigmoid_d,
          doc="0 for x <= -3, 1 for x >= 3, x / 6 + 1/2 between.",
          functional="hardsigmoid", ignores_inplace=True),
    Unary("hardswish", hardswish_f, hardswish_d, doc="x hardsigmoid(x).",
          functional="hardswish", ignores_inplace=True),
    Unary("softshrink", softshrink_f, shrink_d, params=_LAMBDA,
          doc="x - lambd for x > lambd, x + lambd for x < -lambd, 0 between.",
          functional="softshrink"),
    Unary("hardshrink", hardshrink_f, shrink_d, params=_LAMBDA,
          doc="x where |x| > lambd, else 0.", functional="hardshrink"),
    Unary("threshold", threshold_f, threshold_d,
          params=(Param("threshold", None), Param("value", None)),
          doc="x where x > threshold, else value.", functional="threshold",
          ignores_inplace=True),
    Unary("logsigmoid", logsigmoid_f, logsigmoid_d, doc="log(sigmoid(x)).",
          functional="logsigmoid"),
    Unary("mish", mish_f, mish_d, doc="x tanh(softplus(x)).", functional="mish",
          ignores_inplace=True),
)
