"""Plain-NumPy reference implementations of sorix's elementwise ops.

Written from the maths and from PyTorch's documented conventions, not from
sorix's code (nothing here imports sorix):

- ``UNARY[name] = (forward(x, *params), derivative(x, *params) or None)``
- ``BINARY[name] = (forward(a, b), d_da(a, b), d_db(a, b))``

Derivatives are the local derivatives (multiply by the incoming gradient).
Each function computes in its inputs' dtype, so float32 stays float32.
Conventions (PyTorch's):

- ``relu(nan) = nan``, ``relu(-inf) = 0``; relu'(x) = 0 where x <= 0, else 1
  (so relu'(nan) = 1, as PyTorch's threshold backward gives).
- abs'(x) = sgn(x), 0 at 0 and at NaN.
- clamp passes the gradient where ``low <= x <= high`` (bounds included),
  0 elsewhere (NaN included).
- maximum/minimum: ties share the gradient 0.5/0.5; the gradient goes to
  an operand unless it is strictly beaten (NaN beats nobody: both get 1).
- pow: d/da = b a^(b-1), 0 where b == 0; d/db = a^b log(a), 0 where
  a == 0 and b >= 0.
- div: d/da = 1/b, d/db = -a/b^2 (as -(a/b)/b).
- sign, floor, ceil, round have no derivative (None).
"""
import math

import numpy as np

import naive_maths


def _ignore():
    return np.errstate(all="ignore")


def _c(x, value):
    """A constant in x's dtype."""
    return np.asarray(value, dtype=np.result_type(x))


# ---- unary ------------------------------------------------------------------

def neg(x):
    return -x


def neg_d(x):
    return np.full(np.shape(x), -1, dtype=np.result_type(x))


def exp(x):
    with _ignore():
        return np.exp(x)


def exp_d(x):
    with _ignore():
        return np.exp(x)


def log(x):
    with _ignore():
        return np.log(x)


def log_d(x):
    with _ignore():
        return _c(x, 1) / x


def sqrt(x):
    with _ignore():
        return np.sqrt(x)


def sqrt_d(x):
    with _ignore():
        return _c(x, 1) / (_c(x, 2) * np.sqrt(x))


def sin(x):
    with _ignore():
        return np.sin(x)


def sin_d(x):
    with _ignore():
        return np.cos(x)


def cos(x):
    with _ignore():
        return np.cos(x)


def cos_d(x):
    with _ignore():
        return -np.sin(x)


def tanh(x):
    return np.tanh(x)


def tanh_d(x):
    t = np.tanh(x)
    return _c(x, 1) - t * t


def sigmoid(x):
    x = np.asarray(x)
    one = _c(x, 1)
    with _ignore():
        pos = one / (one + np.exp(-x))
        ex = np.exp(x)
        neg = ex / (one + ex)
    return np.where(x >= 0, pos, neg).astype(x.dtype)


def sigmoid_d(x):
    s = sigmoid(x)
    return s * (_c(x, 1) - s)


def relu(x):
    x = np.asarray(x)
    out = x.copy()
    out[x < 0] = 0  # NaN compares False: stays NaN; -inf becomes 0
    out[x == 0] = 0  # -0.0 -> +0.0 does not matter for allclose
    return out


def relu_d(x):
    x = np.asarray(x)
    return np.where(x <= 0, _c(x, 0), _c(x, 1))


def leaky_relu(x, slope):
    x = np.asarray(x)
    return np.where(x > 0, x, x * _c(x, slope))


def leaky_relu_d(x, slope):
    x = np.asarray(x)
    return np.where(x > 0, _c(x, 1), _c(x, slope))


def abs_(x):
    return np.abs(x)


def abs_d(x):
    x = np.asarray(x)
    return np.select([x > 0, x < 0], [_c(x, 1), _c(x, -1)], _c(x, 0)).astype(x.dtype)


def clamp(x, low, high):
    x = np.asarray(x)
    out = np.where(x < low, _c(x, low), x)
    return np.where(out > high, _c(x, high), out)


def clamp_d(x, low, high):
    x = np.asarray(x)
    return np.where((x >= low) & (x <= high), _c(x, 1), _c(x, 0))


def sign(x):
    return np.sign(x)


def floor(x):
    return np.floor(x)


def ceil(x):
    return np.ceil(x)


def round_(x):
    return np.round(x)  # half to even, as PyTorch


def log1p(x):
    with _ignore():
        return np.log1p(x)


def log1p_d(x):
    with _ignore():
        return _c(x, 1) / (_c(x, 1) + x)


def expm1(x):
    with _ignore():
        return np.expm1(x)


def expm1_d(x):
    # exp(x), evaluated as PyTorch does: expm1(x) + 1
    with _ignore():
        return np.expm1(x) + _c(x, 1)


def square(x):
    with _ignore():
        return np.square(x)


def square_d(x):
    with _ignore():
        return _c(x, 2) * x


def reciprocal(x):
    with _ignore():
        return _c(x, 1) / x


def reciprocal_d(x):
    with _ignore():
        r = _c(x, 1) / x
        return -(r * r)


def _in_float64(fn, x):
    """``fn`` (a Python function on floats) over x's elements in float64, cast to x's dtype."""
    x = np.asarray(x)
    with _ignore():
        out = np.frompyfunc(fn, 1, 1)(x.astype(np.float64))
    return np.asarray(out, dtype=np.float64).astype(x.dtype)


def erf(x):
    return _in_float64(math.erf, x)


def erf_d(x):
    return _in_float64(lambda v: 2.0 / math.sqrt(math.pi) * math.exp(-v * v), x)


def erfc(x):
    return _in_float64(math.erfc, x)


def erfc_d(x):
    return _in_float64(lambda v: -2.0 / math.sqrt(math.pi) * math.exp(-v * v), x)


def _softplus64(v, beta, threshold):
    if beta * v > threshold or math.isnan(v):
        return v
    bv = beta * v
    # log(1 + e^bv) = max(bv, 0) + log(1 + e^-|bv|)
    return (max(bv, 0.0) + math.log1p(math.exp(-abs(bv)))) / beta


def _sigmoid64(v):
    if math.isnan(v):
        return v
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


def softplus(x, beta, threshold):
    return _in_float64(lambda v: _softplus64(v, beta, threshold), x)


def softplus_d(x, beta, threshold):
    return _in_float64(lambda v: v if math.isnan(v) else
                       (1.0 if beta * v > threshold else _sigmoid64(beta * v)), x)


def silu(x):
    return _in_float64(lambda v: v * _sigmoid64(v), x)


def silu_d(x):
    def d(v):
        s = _sigmoid64(v)
        return s * (1.0 + v * (1.0 - s))
    return _in_float64(d, x)


def _phi_cdf(v):
    """The standard normal CDF, by erfc in the lower tail."""
    return 0.5 * math.erfc(-v / math.sqrt(2.0))


def gelu(x):
    return _in_float64(lambda v: v * _phi_cdf(v), x)


def gelu_d(x):
    return _in_float64(lambda v: _phi_cdf(v) + v * math.exp(-0.5 * v * v)
                       / math.sqrt(2.0 * math.pi), x)


_K = math.sqrt(2.0 / math.pi)


def gelu_tanh(x):
    # 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3)
    return _in_float64(lambda v: v * _sigmoid64(2.0 * _K * (v + 0.044715 * v * v * v)), x)


def gelu_tanh_d(x):
    def d(v):
        u = _K * (v + 0.044715 * v * v * v)
        t = math.tanh(u)
        du = _K * (1.0 + 3.0 * 0.044715 * v * v)
        return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du
    return _in_float64(d, x)


def elu(x, alpha):
    return _in_float64(lambda v: alpha * math.expm1(v) if v <= 0 else v, x)


def elu_d(x, alpha):
    # PyTorch's convention: x <= 0 takes alpha exp(x); NaN takes the other branch (1)
    return _in_float64(lambda v: alpha * math.exp(v) if v <= 0 else 1.0, x)


def softsign(x):
    # the limits +-1 at +-inf
    return _in_float64(lambda v: math.copysign(1.0, v) if math.isinf(v) else v / (1.0 + abs(v)),
                       x)


def softsign_d(x):
    return _in_float64(lambda v: 1.0 / (1.0 + abs(v)) ** 2, x)


UNARY = {
    "neg": (neg, neg_d),
    "exp": (exp, exp_d),
    "log": (log, log_d),
    "sqrt": (sqrt, sqrt_d),
    "sin": (sin, sin_d),
    "cos": (cos, cos_d),
    "tanh": (tanh, tanh_d),
    "sigmoid": (sigmoid, sigmoid_d),
    "relu": (relu, relu_d),
    "leaky_relu": (leaky_relu, leaky_relu_d),
    "abs": (abs_, abs_d),
    "clamp": (clamp, clamp_d),
    "sign": (sign, None),
    "floor": (floor, None),
    "ceil": (ceil, None),
    "round": (round_, None),
    "log1p": (log1p, log1p_d),
    "expm1": (expm1, expm1_d),
    "square": (square, square_d),
    "reciprocal": (reciprocal, reciprocal_d),
    "erf": (erf, erf_d),
    "erfc": (erfc, erfc_d),
    "softplus": (softplus, softplus_d),
    "silu": (silu, silu_d),
    "gelu": (gelu, gelu_d),
    "gelu_tanh": (gelu_tanh, gelu_tanh_d),
    "elu": (elu, elu_d),
    "softsign": (softsign, softsign_d),
}

#: Parameters used when testing the ops that take some (softplus: beta, threshold, chosen
#: so that the tests' inputs cross the threshold).
UNARY_PARAMS = {"leaky_relu": (0.1,), "clamp": (-0.75, 1.25), "softplus": (1.5, 2.0),
                "elu": (0.7,)}

#: The ops defined on x > 0 only (finite, real values): tests draw their inputs there.
POSITIVE_DOMAIN = {"log", "sqrt", "log1p"}

# The maths and activations beside the core ops (tests/naive_maths.py), in the same tables.
UNARY.update(naive_maths.UNARY)
UNARY_PARAMS.update(naive_maths.UNARY_PARAMS)
POSITIVE_DOMAIN |= naive_maths.POSITIVE


def into_domain(name, x):
    """``x`` (drawn anywhere) moved where the unary op ``name`` is finite and real:
    |x| for the ops of positive numbers, into (-1, 1) for asin, acos and atanh, above
    1 for acosh; as it is for the others."""
    x = np.asarray(x)
    if name in POSITIVE_DOMAIN:
        return np.abs(x)
    if name in naive_maths.UNIT:
        return (x / (1 + np.abs(x))).astype(x.dtype)
    if name in naive_maths.ABOVE_ONE:
        return (1 + np.abs(x)).astype(x.dtype)
    return x


def unary_params(name):
    """The parameters the tests pass to the unary op ``name`` (none for most)."""
    return UNARY_PARAMS.get(name, ())


# ---- binary -----------------------------------------------------------------

def _like(a, b, value):
    return np.full(np.broadcast_shapes(np.shape(a), np.shape(b)), value,
                   dtype=np.result_type(a, b))


def add(a, b):
    with _ignore():
        return a + b


def sub(a, b):
    with _ignore():
        return a - b


def mul(a, b):
    with _ignore():
        return a * b


def div(a, b):
    with _ignore():
        return a / b


def div_da(a, b):
    with _ignore():
        return _like(a, b, 1) / b


def div_db(a, b):
    # -a / b^2, evaluated as PyTorch does: -(a / b) / b (no early underflow of b^2)
    with _ignore():
        return -(a / b) / b


def pow_(a, b):
    with _ignore():
        return np.power(a, b)


def pow_da(a, b):
    a, b = np.broadcast_arrays(a, b)
    with _ignore():
        d = b * np.power(a, b - _c(b, 1))
    return np.where(b == 0, _c(d, 0), d)


def pow_db(a, b):
    a, b = np.broadcast_arrays(a, b)
    with _ignore():
        d = np.power(a, b) * np.log(a)
    return np.where((a == 0) & (b >= 0), _c(d, 0), d)


def maximum(a, b):
    return np.maximum(a, b)


def _share(mine, other, beaten):
    """1 unless strictly beaten, 0.5 on a tie."""
    mine, other = np.broadcast_arrays(mine, other)
    dt = np.result_type(mine, other)
    out = np.ones(mine.shape, dt)
    out[mine == other] = 0.5
    out[beaten(mine, other)] = 0
    return out


def maximum_da(a, b):
    return _share(a, b, np.less)


def maximum_db(a, b):
    return _share(b, a, np.less)


def minimum(a, b):
    return np.minimum(a, b)


def minimum_da(a, b):
    return _share(a, b, np.greater)


def minimum_db(a, b):
    return _share(b, a, np.greater)


BINARY = {
    "add": (add, lambda a, b: _like(a, b, 1), lambda a, b: _like(a, b, 1)),
    "sub": (sub, lambda a, b: _like(a, b, 1), lambda a, b: _like(a, b, -1)),
    "mul": (mul, lambda a, b: np.broadcast_arrays(a, b)[1].copy(),
            lambda a, b: np.broadcast_arrays(a, b)[0].copy()),
    "div": (div, div_da, div_db),
    "pow": (pow_, pow_da, pow_db),
    "maximum": (maximum, maximum_da, maximum_db),
    "minimum": (minimum, minimum_da, minimum_db),
}
BINARY.update(naive_maths.BINARY)


# ---- optimizers (PyTorch's update formulas, one step) ---------------------------

def sgd_step(p, g, buf, lr, weight_decay=0.0, momentum=0.0, dampening=0.0, nesterov=False,
             maximize=False, first=False):
    """Returns new (p, buf); ``buf`` None when momentum is 0."""
    d = -g if maximize else g
    if weight_decay:
        d = d + weight_decay * p
    if momentum:
        buf = d.copy() if first else momentum * buf + (1 - dampening) * d
        d = d + momentum * buf if nesterov else buf
    return p - lr * d, buf


def rmsprop_step(p, g, square_avg, grad_avg, buf, lr, alpha=0.99, eps=1e-8, weight_decay=0.0,
                 momentum=0.0, centered=False, maximize=False):
    """Returns new (p, square_avg, grad_avg, buf)."""
    d = -g if maximize else g
    if weight_decay:
        d = d + weight_decay * p
    square_avg = alpha * square_avg + (1 - alpha) * d * d
    if centered:
        grad_avg = alpha * grad_avg + (1 - alpha) * d
        avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = np.sqrt(square_avg) + eps
    if momentum > 0:
        buf = momentum * buf + d / avg
        p = p - lr * buf
    else:
        p = p - lr * d / avg
    return p, square_avg, grad_avg, buf


def adam_step(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1=0.9, beta2=0.999,
              eps=1e-8, weight_decay=0.0, decoupled=False, amsgrad=False, maximize=False):
    """One Adam (or AdamW when ``decoupled``) step ``step`` (1-based).

    Returns new (p, exp_avg, exp_avg_sq, max_exp_avg_sq).
    """
    d = -g if maximize else g
    if weight_decay:
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            d = d + weight_decay * p
    exp_avg = beta1 * exp_avg + (1 - beta1) * d
    exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * d * d
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    v = exp_avg_sq
    if amsgrad:
        max_exp_avg_sq = np.maximum(max_exp_avg_sq, exp_avg_sq)
        v = max_exp_avg_sq
    denom = np.sqrt(v) / np.sqrt(bias_correction2) + eps
    p = p - (lr / bias_correction1) * exp_avg / denom
    return p, exp_avg, exp_avg_sq, max_exp_avg_sq
