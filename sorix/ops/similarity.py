"""``normalize``, ``cosine_similarity`` and ``pairwise_distance``, as PyTorch's
``nn.functional`` has them, composed of differentiable ops.

Their p-norm is ``Tensor.norm``'s, which has PyTorch's gradient at a zero vector: 0, not
the NaN that ``sqrt`` at 0 would give (0 times an infinite derivative).
"""
import numpy as np

from ..kernels.axes import axis_index
from . import core
from .composed_reductions import norm as _norm
from .elementwise import cast, where
from .losses import as_tensor


def _floating(x):
    return x if x.data.dtype.kind == "f" else cast(x, np.float32)


def _promoted(a, b):
    """Two tensors in their common (floating) dtype, as PyTorch promotes them."""
    a, b = _floating(as_tensor(a)), _floating(as_tensor(b))
    dtype = core.promote_types(a.data.dtype, b.data.dtype)
    return [t if t.data.dtype == dtype else cast(t, dtype) for t in (a, b)]


def vector_norm(x, p, dim, keepdim):
    """The p-norm along ``dim``: :func:`sorix.ops.composed_reductions.norm`, whose gradient
    is 0 where the norm is 0."""
    return _norm(x, p, dim, keepdim)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """input / max(||input||_p, eps), the norm taken along ``dim``."""
    x = _floating(as_tensor(input))
    dim = axis_index(dim, x.ndim, what="normalize: dim", of=f"a tensor of shape {tuple(x.shape)}")
    return x / vector_norm(x, p, dim, True).clamp(min=eps)


def _at_least(norm, eps):
    """max(norm, eps) in value, with norm's own gradient (PyTorch clamps cosine_similarity's
    norms outside the graph, so its gradient flows as if unclamped)."""
    return where(norm.detach() < eps, norm - norm.detach() + eps, norm)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 x2) / (max(||x1||, eps) max(||x2||, eps)) along ``dim``, the inputs broadcast
    together (each norm clamped on its own, as PyTorch 2 computes it)."""
    x1, x2 = _promoted(x1, x2)
    try:
        shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise RuntimeError(f"cosine_similarity: shapes {tuple(x1.shape)} and {tuple(x2.shape)} "
                           "do not broadcast") from None
    x1 = x1 if tuple(x1.shape) == shape else x1.expand(shape)
    x2 = x2 if tuple(x2.shape) == shape else x2.expand(shape)
    dim = axis_index(dim, len(shape), what="cosine_similarity: dim", of=f"shape {shape}")
    n1 = _at_least(vector_norm(x1, 2, dim, True), eps)
    n2 = _at_least(vector_norm(x2, 2, dim, True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dimension, the inputs broadcast together."""
    x1, x2 = _promoted(x1, x2)
    ndim = max(x1.ndim, x2.ndim)
    return vector_norm(x1 - x2 + eps, p, ndim - 1 if ndim else None, keepdim)
