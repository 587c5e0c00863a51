"""Smooth activations: GELU, SiLU, Softplus, ELU and Softsign, as functions and modules.

Each is one elementwise op of :mod:`sorix.kernels.defs` (one kernel pass
forward, one fused pass backward, any order of derivative), in the stable
forms written there. ``inplace=`` is accepted for PyTorch code and ignored:
the result is always a new tensor.
"""
from ..ops import elementwise as _ew
from ..ops.losses import as_tensor
from .module import Module

_GELU_FORMS = {"none": "gelu", "tanh": "gelu_tanh"}


def _number(value, name):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}") from None


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
    beta = _number(beta, "beta")
    if beta == 0.0:
        raise ValueError("softplus: beta must be non-zero (it divides the result)")
    return _ew.unary("softplus", as_tensor(input), (beta, _number(threshold, "threshold")))


def silu(input, inplace=False):
    """x sigmoid(x) (also called swish)."""
    return _ew.unary("silu", as_tensor(input))


def gelu(input, approximate="none"):
    """x Phi(x), Phi the standard normal CDF; ``approximate='tanh'`` uses
    x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2 instead."""
    form = _GELU_FORMS.get(approximate) if isinstance(approximate, str) else None
    if form is None:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _ew.unary(form, as_tensor(input))


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha (exp(x) - 1) otherwise."""
    return _ew.unary("elu", as_tensor(input), (_number(alpha, "alpha"),))


def softsign(input):
    """x / (1 + |x|)."""
    return _ew.unary("softsign", as_tensor(input))


class GELU(Module):
    """x Phi(x) (``approximate='none'``, exact, with erf) or its tanh approximation."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in _GELU_FORMS:
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return gelu(x, self.approximate)

    def extra_repr(self):
        return "" if self.approximate == "none" else f"approximate={self.approximate!r}"


class SiLU(Module):
    """x sigmoid(x)."""

    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return silu(x)


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, linear (x) where beta x > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = _number(beta, "beta")
        self.threshold = _number(threshold, "threshold")
        if self.beta == 0.0:
            raise ValueError("Softplus: beta must be non-zero (it divides the result)")

    def forward(self, x):
        return softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class ELU(Module):
    """x for x > 0, alpha (exp(x) - 1) otherwise."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = _number(alpha, "alpha")

    def forward(self, x):
        return elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Softsign(Module):
    """x / (1 + |x|)."""

    def forward(self, x):
        return softsign(x)
