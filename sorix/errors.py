"""Exception types for errors that Sorix and PyTorch raise under different classes.

Sorix raises ValueError where PyTorch raises RuntimeError for the same mistake
(an unknown device, a gradient of the wrong shape). These classes derive from
both, so code written for either library catches them.
"""


class DeviceError(RuntimeError, ValueError):
    """A device name or index that does not exist or cannot be used here."""


class ShapeMismatchError(RuntimeError, ValueError):
    """Two shapes that must agree do not (a gradient and its tensor, a target and its input)."""


class EmptyReductionError(IndexError, RuntimeError):
    """A max, min, argmax or argmin over a dimension of size 0: PyTorch raises IndexError
    (RuntimeError for max() and min() over every dimension), Sorix RuntimeError."""
