"""Plain-NumPy twins of the maths and activations added beside sorix's core ops
(trigonometric and hyperbolic functions, other bases, rsqrt, trunc/frac, atan2,
remainder, fmod, floor_divide, logaddexp, and the piecewise activations and mish).

Written from the maths and from PyTorch's documented conventions, not from sorix's
code. Forwards compute in the input's dtype; derivatives in float64, cast back.
Conventions (PyTorch's): hardtanh, hardsigmoid and the shrinks pass no gradient at
their kinks; hardswish' is x/3 + 1/2 on (-3, 3), 0 at and below -3, 1 at and above 3;
NaN takes the branch a false comparison gives it.
"""
import numpy as np


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def _in_dtype(fn):
    """A derivative computed in float64 and given in the input's dtype."""
    def derivative(x, *params):
        with np.errstate(all="ignore"):
            return np.asarray(fn(_f64(x), *params)).astype(np.result_type(x))
    return derivative


def _forward(fn):
    def forward(x, *params):
        with np.errstate(all="ignore"):
            return np.asarray(fn(np.asarray(x), *params))
    return forward


UNARY = {
    "tan": (_forward(np.tan), _in_dtype(lambda x: 1.0 / np.cos(x) ** 2)),
    "sinh": (_forward(np.sinh), _in_dtype(np.cosh)),
    "cosh": (_forward(np.cosh), _in_dtype(np.sinh)),
    "asin": (_forward(np.arcsin), _in_dtype(lambda x: 1.0 / np.sqrt(1.0 - x * x))),
    "acos": (_forward(np.arccos), _in_dtype(lambda x: -1.0 / np.sqrt(1.0 - x * x))),
    "atan": (_forward(np.arctan), _in_dtype(lambda x: 1.0 / (1.0 + x * x))),
    "asinh": (_forward(np.arcsinh), _in_dtype(lambda x: 1.0 / np.sqrt(x * x + 1.0))),
    "acosh": (_forward(np.arccosh), _in_dtype(lambda x: 1.0 / np.sqrt(x * x - 1.0))),
    "atanh": (_forward(np.arctanh), _in_dtype(lambda x: 1.0 / (1.0 - x * x))),
    "log2": (_forward(np.log2), _in_dtype(lambda x: 1.0 / (x * np.log(2.0)))),
    "log10": (_forward(np.log10), _in_dtype(lambda x: 1.0 / (x * np.log(10.0)))),
    "exp2": (_forward(np.exp2), _in_dtype(lambda x: np.exp2(x) * np.log(2.0))),
    # -r^3 / 2 with r = 1/sqrt(x), as PyTorch writes it: +inf at -0 (where r is -inf)
    "rsqrt": (_forward(lambda x: (1 / np.sqrt(x)).astype(x.dtype)),
              _in_dtype(lambda x: -0.5 * (1 / np.sqrt(x)) ** 3)),
    "trunc": (_forward(np.trunc), None),
    "frac": (_forward(lambda x: x - np.trunc(x)), _in_dtype(lambda x: np.ones_like(x))),
    # activations
    "hardtanh": (_forward(lambda x, lo, hi: np.clip(x, lo, hi)),
                 _in_dtype(lambda x, lo, hi: np.where((x <= lo) | (x >= hi), 0.0, 1.0))),
    "hardsigmoid": (_forward(lambda x: np.clip(x / 6 + 0.5, 0, 1).astype(x.dtype)),
                    _in_dtype(lambda x: np.where((x > -3) & (x < 3), 1 / 6, 0.0))),
    "hardswish": (_forward(lambda x: (x * np.clip(x / 6 + 0.5, 0, 1)).astype(x.dtype)),
                  _in_dtype(lambda x: np.where(x <= -3, 0.0,
                                               np.where(x < 3, x / 3 + 0.5, 1.0)))),
    "softshrink": (_forward(lambda x, lam: np.where(x > lam, x - lam,
                                                    np.where(x < -lam, x + lam, 0 * x))
                            .astype(x.dtype)),
                   _in_dtype(lambda x, lam: np.where(np.abs(x) <= lam, 0.0, 1.0))),
    "hardshrink": (_forward(lambda x, lam: np.where(np.abs(x) <= lam, 0 * x, x)),
                   _in_dtype(lambda x, lam: np.where(np.abs(x) <= lam, 0.0, 1.0))),
    "threshold": (_forward(lambda x, th, value: np.where(x <= th, np.asarray(value, x.dtype),
                                                         x)),
                  _in_dtype(lambda x, th, value: np.where(x <= th, 0.0, 1.0))),
    "logsigmoid": (_forward(lambda x: (-np.logaddexp(0, -_f64(x))).astype(x.dtype)),
                   _in_dtype(lambda x: 1 / (1 + np.exp(x)))),
    "mish": (_forward(lambda x: (x * np.tanh(np.logaddexp(0, _f64(x)))).astype(x.dtype)),
             _in_dtype(lambda x: np.tanh(np.logaddexp(0, x))
                       + x / (1 + np.exp(-x)) / np.cosh(np.logaddexp(0, x)) ** 2)),
}

#: parameters the tests pass (bounds on the special values' kinks, away from the integers)
UNARY_PARAMS = {"hardtanh": (-0.75, 1.25), "softshrink": (0.5,), "hardshrink": (0.5,),
                "threshold": (0.5, -2.0)}


def _broadcast(fn):
    def derivative(a, b):
        a, b = np.broadcast_arrays(a, b)
        with np.errstate(all="ignore"):
            return np.asarray(fn(_f64(a), _f64(b))).astype(np.result_type(a, b))
    return derivative


def _binary_forward(fn):
    def forward(a, b):
        with np.errstate(all="ignore"):
            return np.asarray(fn(a, b))
    return forward


def _quotient(fn):
    def derivative(a, b):
        a, b = np.broadcast_arrays(a, b)
        with np.errstate(all="ignore"):
            return np.asarray(fn(a, b)).astype(np.result_type(a, b))
    return derivative


def _zero(a, b):
    return np.zeros(np.broadcast_shapes(np.shape(a), np.shape(b)), np.result_type(a, b))


BINARY = {
    # (0 at the origin, PyTorch's value)
    "atan2": (_binary_forward(np.arctan2),
              _broadcast(lambda a, b: np.where(a * a + b * b == 0, 0.0, b / (a * a + b * b))),
              _broadcast(lambda a, b: np.where(a * a + b * b == 0, 0.0, -a / (a * a + b * b)))),
    # (their d/db steps where a / b crosses an integer: the quotient is rounded in the
    # operands' dtype, as the op computes it, not in float64)
    "remainder": (_binary_forward(np.remainder), _broadcast(lambda a, b: np.ones_like(a)),
                  _quotient(lambda a, b: -np.floor(a / b))),
    "fmod": (_binary_forward(np.fmod), _broadcast(lambda a, b: np.ones_like(a)),
             _quotient(lambda a, b: -np.trunc(a / b))),
    "floor_divide": (_binary_forward(np.floor_divide), _zero, _zero),
    "logaddexp": (_binary_forward(np.logaddexp),
                  _broadcast(lambda a, b: 1 / (1 + np.exp(b - a))),
                  _broadcast(lambda a, b: 1 / (1 + np.exp(a - b)))),
}

#: where each op is defined (finite and real), for the tests that draw inputs there
POSITIVE = {"log2", "log10", "rsqrt"}
UNIT = {"asin", "acos", "atanh"}  # |x| < 1
ABOVE_ONE = {"acosh"}
