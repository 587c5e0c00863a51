"""The activations that are compositions of table ops (relu6, selu, celu, tanhshrink) or take a tensor argument (prelu's learned slopes, glu's halves), for
:mod:`sorix.nn.functional`. Their gradients, of any order, come from the ops they
are made of."""
from ..ops import elementwise as _ew
from ..ops.core import constant
from ..ops.losses import as_tensor

# SELU's constants (Klambauer et al., 2017), as PyTorch uses them
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def relu6(input, inplace=False):
    """min(max(x, 0), 6): hardtanh between 0 and 6 (gradient 0 at both bounds)."""
    return _ew.unary("hardtanh", as_tensor(input), (0.0, 6.0))


def selu(input, inplace=False):
    """scale * elu(x, alpha) with SELU's fixed alpha and scale."""
    return _ew.unary("elu", as_tensor(input), (SELU_ALPHA,)) * SELU_SCALE


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1)), which is alpha * elu(x / alpha)."""
    alpha = float(alpha)
    if alpha == 0.0:
        raise ValueError("celu: alpha must be non-zero (x is divided by it)")
    return _ew.unary("elu", as_tensor(input) / alpha, (1.0,)) * alpha


def tanhshrink(input):
    """x - tanh(x)."""
    x = as_tensor(input)
    return x - x.tanh()


def prelu(input, weight):
    """x for x > 0, weight * x otherwise; ``weight`` holds one slope, or one per channel
    (dimension 1 of the input)."""
    x, w = as_tensor(input), constant(weight)
    count = w.data.size
    if count != 1:
        channels = x.shape[1] if x.ndim >= 2 else None
        if w.ndim != 1 or count != channels:
            raise ValueError(f"prelu: weight of shape {tuple(w.shape)} does not fit an input "
                             f"of shape {tuple(x.shape)}; give one slope, or one per channel "
                             f"(dimension 1: {channels})")
        w = w.reshape((1, count) + (1,) * (x.ndim - 2))
    return _ew.where(x > 0, x, w * x)


def glu(input, dim=-1):
    """a * sigmoid(b), where a and b are the two halves of the input along ``dim``."""
    x = as_tensor(input)
    size = x.shape[dim]
    if size % 2:
        raise ValueError(f"glu: dimension {dim} has size {size}; it must be even, to be "
                         "halved")
    a, b = x.chunk(2, dim)
    return a * b.sigmoid()
