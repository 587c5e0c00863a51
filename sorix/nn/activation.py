"""Smooth activations as modules: GELU, SiLU, Softplus, ELU, Softsign, Mish, SELU, CELU,
LogSigmoid, Tanhshrink and GLU.

Each calls its function in :mod:`sorix.nn.functional`: one elementwise op of
:mod:`sorix.kernels.defs` (one kernel pass forward, one fused pass backward, any
order of derivative, in the stable forms written there), or a few of them for SELU,
CELU, LogSigmoid, Tanhshrink and GLU. ``inplace=`` is
accepted for PyTorch code and ignored: the result is always a new tensor.
"""
from ..ops.surface import number as _number
from . import functional as F
from .functional import _GELU_FORMS
from .module import Module


class GELU(Module):
    """x Phi(x) (``approximate='none'``, exact, with erf) or its tanh approximation."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in _GELU_FORMS:
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return "" if self.approximate == "none" else f"approximate={self.approximate!r}"


class SiLU(Module):
    """x sigmoid(x)."""

    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return F.silu(x)


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, linear (x) where beta x > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = _number(beta, "beta")
        self.threshold = _number(threshold, "threshold")
        if self.beta == 0.0:
            raise ValueError("Softplus: beta must be non-zero (it divides the result)")

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class ELU(Module):
    """x for x > 0, alpha (exp(x) - 1) otherwise."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = _number(alpha, "alpha")

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Softsign(Module):
    """x / (1 + |x|)."""

    def forward(self, x):
        return F.softsign(x)


class Mish(Module):
    """x tanh(softplus(x))."""

    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return F.mish(x)


class SELU(Module):
    """scale * elu(x, alpha), with SELU's fixed constants."""

    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return F.selu(x)


class CELU(Module):
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1))."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = _number(alpha, "alpha")
        if self.alpha == 0.0:
            raise ValueError("CELU: alpha must be non-zero (x is divided by it)")

    def forward(self, x):
        return F.celu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class LogSigmoid(Module):
    """log(sigmoid(x))."""

    def forward(self, x):
        return F.logsigmoid(x)


class Tanhshrink(Module):
    """x - tanh(x)."""

    def forward(self, x):
        return F.tanhshrink(x)


class GLU(Module):
    """a * sigmoid(b), a and b the two halves of the input along ``dim``."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = int(dim)

    def forward(self, x):
        return F.glu(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"
