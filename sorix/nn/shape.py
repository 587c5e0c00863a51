"""Layers that only reshape: Flatten, Unflatten and Identity (PyTorch's)."""
import numpy as np

from ..kernels.axes import axis_index
from ..ops.losses import as_tensor
from .module import Module


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim`` .. ``end_dim`` (inclusive, negative allowed) into one."""
    return as_tensor(input).flatten(start_dim, end_dim)


def unflatten(input, dim, sizes):
    """Split dim ``dim`` into ``sizes`` (one entry may be -1: inferred)."""
    x = as_tensor(input)
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise IndexError(f"unflatten: dim must be an int, got {dim!r}")
    dim = axis_index(dim, x.ndim, what="unflatten: dim", of=f"a tensor of shape {tuple(x.shape)}")
    sizes = tuple(int(s) for s in sizes)
    if not sizes or sum(s == -1 for s in sizes) > 1 or any(s < -1 for s in sizes):
        raise ValueError(f"unflatten: sizes {sizes} must be non-empty, with at most one -1")
    known = int(np.prod([s for s in sizes if s != -1]))
    size = x.shape[dim]
    if (-1 not in sizes and known != size) or (-1 in sizes and (known == 0 or size % known)):
        raise RuntimeError(f"unflatten: sizes {sizes} do not multiply to the size {size} of "
                           f"dim {dim} of a tensor of shape {tuple(x.shape)}")
    shape = tuple(x.shape)
    return x.reshape(shape[:dim] + sizes + shape[dim + 1:])


class Flatten(Module):
    """Merge dims ``start_dim`` .. ``end_dim`` into one (by default all but the batch dim)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        return unflatten(x, self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Identity(Module):
    """Returns its input unchanged (any constructor arguments are accepted and ignored)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x
