"""``pad`` (constant, reflect, replicate and circular) and ``one_hot``, as PyTorch's
``nn.functional`` has them.

Padding is composed of differentiable ops: crops are slices, constant borders are
concatenated blocks, and the other modes index each padded dimension with a
computed position array (an edge read twice gets both gradients back through the
indexing's scatter-add), so gradients of any order and CUDA tensors come for free.
"""
import numpy as np

from ..kernels.backend import of
from . import core
from .losses import as_tensor
from .shape import concat

MODES = ("constant", "reflect", "replicate", "circular")


def _reflected(size, left, right):
    if left >= size or right >= size:
        raise RuntimeError(f"pad: reflect padding ({left}, {right}) must be smaller than the "
                           f"size {size} of the padded dimension; use replicate or pad less")
    at = np.arange(-left, size + right)
    at = np.abs(at)  # left of the first element: mirrored without repeating the edge
    return np.where(at >= size, 2 * (size - 1) - at, at)


def _replicated(size, left, right):
    if size == 0:
        raise RuntimeError("pad: replicate padding of an empty dimension has no edge to repeat")
    return np.clip(np.arange(-left, size + right), 0, size - 1)


def _circular(size, left, right):
    if left > size or right > size:
        raise RuntimeError(f"pad: circular padding ({left}, {right}) wraps around more than once "
                           f"a dimension of size {size}; pad at most its size")
    return np.arange(-left, size + right) % size


_POSITIONS = {"reflect": _reflected, "replicate": _replicated, "circular": _circular}


def pad(input, pad, mode="constant", value=None):
    """Pad the last ``len(pad) // 2`` dimensions of ``input``; ``pad`` is (left, right) of the
    last dimension, then of the one before ... Negative amounts crop. ``value`` fills the
    border in constant mode (0 by default)."""
    x = as_tensor(input)
    amounts = tuple(int(p) for p in pad)
    if len(amounts) % 2:
        raise RuntimeError(f"pad: the padding length must be even, one (left, right) pair per "
                           f"dimension, got {len(amounts)} values")
    count = len(amounts) // 2
    if count > x.ndim:
        raise RuntimeError(f"pad: {len(amounts)} values pad {count} dimensions but the input has "
                           f"only {x.ndim} (shape {tuple(x.shape)})")
    if mode not in MODES:
        raise NotImplementedError(f"pad: unknown mode {mode!r}; use one of {', '.join(MODES)}")
    if mode != "constant":
        if value is not None and value != 0:
            raise RuntimeError(f"pad: mode {mode!r} takes no value; value fills constant padding")
        if not (1 <= count <= 3 and x.ndim in (count + 1, count + 2)):
            raise NotImplementedError(
                f"pad: {mode} padding of {count} dimension(s) needs a {count + 1}-D or "
                f"{count + 2}-D input (a batch and/or channel dimension in front), got "
                f"{x.ndim}-D; unsqueeze the input first")
    # pairs for dimensions ndim-1, ndim-2 ...: crop the negative amounts first, then pad
    pairs = [(x.ndim - 1 - k, amounts[2 * k], amounts[2 * k + 1]) for k in range(count)]
    for dim, left, right in pairs:
        size = x.shape[dim]
        start, stop = max(-left, 0), size - max(-right, 0)
        if stop - start + max(left, 0) + max(right, 0) < 0:
            raise RuntimeError(f"pad: padding ({left}, {right}) of dimension {dim} of size {size} "
                               "would leave a negative size")
        if start or stop != size:
            x = x[(slice(None),) * dim + (slice(start, max(stop, start)),)]
    for dim, left, right in pairs:
        left, right = max(left, 0), max(right, 0)
        if not (left or right):
            continue
        if mode == "constant":
            x = _constant_border(x, dim, left, right, 0 if value is None else value)
        else:
            x = x[(slice(None),) * dim + (_POSITIONS[mode](x.shape[dim], left, right),)]
    return x


def _constant_border(x, dim, left, right, value):
    """x between blocks of ``value`` (in x's dtype, on x's device) along ``dim``."""
    B = of(x.data)
    fill = np.asarray(value).astype(x.data.dtype).item()  # (PyTorch: 2.5 pads an int tensor with 2)

    def block(width):
        shape = tuple(x.shape[:dim]) + (width,) + tuple(x.shape[dim + 1:])
        return core.constant(B.full(shape, fill, x.data.dtype))

    pieces = ([block(left)] if left else []) + [x] + ([block(right)] if right else [])
    return concat(pieces, dim, stacked=False)


def one_hot(tensor, num_classes=-1):
    """int64 rows with a 1 at each class index: shape ``tensor.shape + (num_classes,)``;
    ``num_classes=-1`` takes the largest class + 1."""
    x = as_tensor(tensor)
    data = x.data
    if data.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot: expected a tensor of integer class indices, got {x.dtype}; "
                           "convert it with .long()")
    num_classes = int(num_classes)
    if num_classes < -1:
        raise RuntimeError(f"one_hot: num_classes must be positive (or -1 to infer it), got "
                           f"{num_classes}")
    B = of(data)
    if data.size == 0:
        if num_classes == -1:
            raise RuntimeError("one_hot: cannot infer the number of classes from an empty "
                               "tensor; pass num_classes")
    else:
        lowest = int(B.to_host(B.min(data)))
        highest = int(B.to_host(B.max(data)))
        if lowest < 0:
            raise RuntimeError(f"one_hot: class values must be non-negative, got {lowest}")
        if num_classes == -1:
            num_classes = highest + 1
        elif highest >= num_classes:
            raise RuntimeError(f"one_hot: class value {highest} is not smaller than "
                               f"num_classes={num_classes}; pass a larger num_classes (or -1 to "
                               "infer it)")
    shape = tuple(data.shape)
    classes = B.reshape(B.arange(num_classes), (1,) * len(shape) + (num_classes,))
    hits = B.compare("eq", B.reshape(B.astype(data, np.int64), shape + (1,)), classes)
    return core.wrap(B.astype(hits, np.int64))
