"""Layer normalisation: ``LayerNorm`` and its functional form ``layer_norm``."""
import numpy as np

from ..dtypes import numpy_dtype
from ..ops.layer_norm import layer_norm as _layer_norm
from ..ops.layer_norm import normalized_shape_tuple
from ..ops.losses import as_tensor
from ..tensor import Tensor
from .module import Module, check_device


def float_dtype(dtype, layer):
    """``dtype`` (None: float32) as a NumPy float dtype, for ``layer``'s parameters."""
    dtype = np.dtype(np.float32) if dtype is None else np.dtype(numpy_dtype(dtype))
    if dtype.kind != "f":
        raise TypeError(f"{layer} parameters must be floating point, got {dtype}")
    return dtype


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last ``len(normalized_shape)`` dimensions:
    y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance."""
    return _layer_norm(as_tensor(input), normalized_shape, weight, bias, eps)


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last dimensions of x
    (``normalized_shape``), each sample on its own; the same in training and evaluation.

    ``weight`` (ones) and ``bias`` (zeros) have shape ``normalized_shape``; without
    ``elementwise_affine`` there are neither, and ``bias=False`` drops the bias.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device="cpu", dtype=None):
        super().__init__()
        self.normalized_shape = normalized_shape_tuple(normalized_shape)
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        self.device = check_device(device)
        dtype = float_dtype(dtype, "LayerNorm")
        shape = self.normalized_shape
        self.weight = Tensor(np.ones(shape, dtype), requires_grad=True, device=device) \
            if self.elementwise_affine else None
        self.bias = Tensor(np.zeros(shape, dtype), requires_grad=True, device=device) \
            if self.elementwise_affine and bias else None

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
