"""Piecewise-linear activations as modules: Hardtanh, ReLU6, Hardsigmoid, Hardswish,
Softshrink, Hardshrink, Threshold and PReLU (whose negative slopes are learned).

Each calls its function in :mod:`sorix.nn.functional`: one elementwise op of
:mod:`sorix.kernels.defs` (PReLU: a ``where``). ``inplace=`` is accepted for
PyTorch code and ignored: the result is always a new tensor.
"""
import numpy as np

from ..ops.surface import number as _number
from ..tensor import Tensor
from . import functional as F
from .module import Module, check_device
from .normalization import float_dtype


class Hardtanh(Module):
    """min(max(x, min_val), max_val)."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        self.min_val, self.max_val = _number(min_val, "min_val"), _number(max_val, "max_val")
        if self.max_val <= self.min_val:
            raise ValueError(f"Hardtanh: max_val ({self.max_val}) must be greater than "
                             f"min_val ({self.min_val})")

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0)

    def extra_repr(self):
        return ""


class Hardsigmoid(Module):
    """0 for x <= -3, 1 for x >= 3, x / 6 + 1/2 between."""

    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return F.hardsigmoid(x)


class Hardswish(Module):
    """x hardsigmoid(x)."""

    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return F.hardswish(x)


class Softshrink(Module):
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = _number(lambd, "lambd")
        if self.lambd < 0:
            raise ValueError(f"Softshrink: lambd must be >= 0, got {self.lambd}")

    def forward(self, x):
        return F.softshrink(x, self.lambd)

    def extra_repr(self):
        return str(self.lambd)


class Hardshrink(Softshrink):
    """x where |x| > lambd, else 0."""

    def forward(self, x):
        return F.hardshrink(x, self.lambd)


class Threshold(Module):
    """x where x > threshold, else value."""

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value = _number(threshold, "threshold"), _number(value, "value")

    def forward(self, x):
        return F.threshold(x, self.threshold, self.value)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}"


class PReLU(Module):
    """x for x > 0, a x otherwise, with ``a`` learned: one slope, or one per channel
    (``num_parameters`` = the input's dimension 1), starting at ``init``."""

    def __init__(self, num_parameters=1, init=0.25, device="cpu", dtype=None):
        super().__init__()
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, (int, np.integer)) \
                or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive int, got "
                             f"{num_parameters!r}")
        self.num_parameters = int(num_parameters)
        self.device = check_device(device)
        self.weight = Tensor(np.full(self.num_parameters, _number(init, "init"),
                                     float_dtype(dtype, "PReLU")),
                             requires_grad=True, device=device)

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"
