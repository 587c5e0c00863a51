"""Scaled dot-product attention for :mod:`sorix.nn.functional`, with PyTorch's signature.

softmax(q k^T * scale + mask) v, made of existing tensor ops (batched matmul,
softmax, where, dropout), so that gradients of every order and CUDA tensors
need no code of their own. ``MultiheadAttention`` uses the helpers below too,
so both agree on what a mask means.

Masks: a bool mask says which positions take part (True = attend), a float
mask is added to the scores (``-inf`` removes a position); either broadcasts
against the (..., L, S) scores. A query row whose keys are all masked out
gets all-zero weights and a zero output, as PyTorch's
``scaled_dot_product_attention`` (2.5 and later: its "safe softmax") gives,
rather than the NaN a plain softmax would give; its gradients are zero too.
``MultiheadAttention(need_weights=True)`` keeps PyTorch's plain softmax there
(NaN), as PyTorch does.
"""
import math

import numpy as np

from ..ops import elementwise as _ew
from ..ops.core import Tensor, constant
from ..ops.losses import as_tensor


def float_tensor(value, name, like=None):
    """``value`` as a tensor, which must hold floating-point numbers."""
    t = as_tensor(value, like=None if like is None else like.data)
    if t.data.dtype.kind != "f":
        raise TypeError(f"{name} must be a floating-point tensor, got {t.data.dtype}; "
                        f"convert it with .float() or .double()")
    return t


def additive_mask(mask, name, dtype, like, cast=False):
    """A bool mask (True = take part) or a float mask as scores to add: 0 where a bool mask
    is True, -inf where it is False; a float mask as it is. ``cast``: a float mask of another
    dtype is converted to ``dtype`` (else it is an error, as in PyTorch's SDPA)."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        mask = constant(np.asarray(mask), like=like.data)
    kind = mask.data.dtype.kind
    if kind == "b":
        # built from constants: a bool mask carries no gradient
        zero = constant(np.zeros((), dtype), like=mask.data)
        minus_inf = constant(np.full((), -np.inf, dtype), like=mask.data)
        return _ew.where(mask, zero, minus_inf)
    if kind != "f":
        raise TypeError(f"{name} must be a bool tensor (True = take part) or a float tensor "
                        f"(added to the scores), got {mask.data.dtype}")
    if mask.data.dtype != np.dtype(dtype):
        if not cast:
            raise TypeError(f"{name} is {mask.data.dtype} but the query is {np.dtype(dtype)}: "
                            f"give a bool mask or a float mask of the query's dtype "
                            f"(mask.to({np.dtype(dtype).name}))")
        mask = mask.to(dtype=dtype)
    return mask


def causal_mask(length, source_length, like):
    """The bool (L, S) mask of the lower triangle, top-left aligned as in PyTorch: query i
    sees keys 0..i."""
    values = np.tril(np.ones((length, source_length), dtype=bool))
    return constant(values, like=like.data)


def attention_softmax(scores, safe):
    """softmax over the keys. ``safe``: a row whose scores are all -inf (every key masked
    out) gives zeros rather than NaN, with zero gradients (no NaN reaches the scores)."""
    if not safe:
        return scores.softmax(dim=-1)
    full = (scores.detach() == float("-inf")).all(dim=-1, keepdim=True)
    zero = constant(np.zeros((), scores.data.dtype), like=scores.data)
    # (the masked rows are made finite first: a NaN from softmax's backward would
    # otherwise reach the scores through the where)
    weights = _ew.where(full, zero, scores).softmax(dim=-1)
    return _ew.where(full, zero, weights)


def attend(q, k, v, mask, dropout_p, scale, safe):
    """(softmax(q k^T scale + mask) with dropout) v and the weights; ``mask`` is additive
    (or None) and broadcasts against the scores (..., L, S)."""
    scores = (q * scale) @ k.transpose(-2, -1)
    if mask is not None:
        scores = scores + mask
    weights = attention_softmax(scores, safe)
    if dropout_p > 0.0:
        from .functional import dropout  # (functional imports this module)
        weights = dropout(weights, dropout_p, True)
    return weights @ v, weights


def check_mask_shape(mask, name, scores_shape):
    if mask is None:
        return
    shape = tuple(mask.shape)
    try:
        fits = np.broadcast_shapes(shape, scores_shape) == scores_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{name} of shape {shape} does not broadcast to the attention "
                         f"scores' shape {scores_shape} (..., L, S): give it shape (L, S) or "
                         f"one that broadcasts to {scores_shape}")


def _repeat_heads(t, groups):
    """(..., H, S, E) -> (..., H * groups, S, E), each head repeated ``groups`` times in a
    row (PyTorch's repeat_interleave along the heads for grouped-query attention)."""
    shape = tuple(t.shape)
    grown = shape[:-2] + (groups,) + shape[-2:]
    return (t.unsqueeze(-3).expand(grown)
            .reshape(shape[:-3] + (shape[-3] * groups,) + shape[-2:]))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(query key^T * scale + mask) value, over (..., L, E) queries, (..., S, E) keys
    and (..., S, Ev) values; returns (..., L, Ev).

    ``attn_mask``: bool (True = take part) or float (added to the scores), broadcast
    against (..., L, S). ``is_causal``: query i sees keys 0..i (the top-left lower
    triangle); giving it with ``attn_mask`` is an error. ``scale`` defaults to
    1/sqrt(E). ``dropout_p`` drops attention weights (always: this function has no
    training flag; pass 0.0 in evaluation). ``enable_gqa``: keys and values may have
    fewer heads (dim -3) than the query, dividing its number; each serves a run of
    query heads. A query row with every key masked out gives zeros (see the module).
    """
    q = float_tensor(query, "query")
    k = float_tensor(key, "key", like=q)
    v = float_tensor(value, "value", like=q)
    dtype = q.data.dtype
    if k.data.dtype != dtype or v.data.dtype != dtype:
        raise TypeError(f"query, key and value must have the same dtype, got {dtype}, "
                        f"{k.data.dtype} and {v.data.dtype}; convert them to one")
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"query, key and value need at least 2 dimensions (..., L, E), got "
                         f"shapes {tuple(q.shape)}, {tuple(k.shape)} and {tuple(v.shape)}")
    if k.shape[-1] != q.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"attention needs query (..., L, E), key (..., S, E) and value "
                         f"(..., S, Ev), got {tuple(q.shape)}, {tuple(k.shape)} and "
                         f"{tuple(v.shape)}")
    if enable_gqa and q.ndim >= 3 and k.ndim >= 3 and q.shape[-3] != k.shape[-3]:
        heads, kv_heads = q.shape[-3], k.shape[-3]
        if heads % kv_heads or v.shape[-3] != kv_heads:
            raise ValueError(f"enable_gqa: the query's {heads} heads must be a multiple of "
                             f"the key's and value's ({kv_heads} and {v.shape[-3]}), "
                             "which must be equal")
        k, v = _repeat_heads(k, heads // kv_heads), _repeat_heads(v, heads // kv_heads)
    p = float(dropout_p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout_p must be between 0 and 1, got {dropout_p!r}")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    length, source_length = q.shape[-2], k.shape[-2]
    try:
        batch = np.broadcast_shapes(tuple(q.shape[:-2]), tuple(k.shape[:-2]),
                                    tuple(v.shape[:-2]))
    except ValueError:
        raise ValueError(f"the batch dimensions of query {tuple(q.shape)}, key "
                         f"{tuple(k.shape)} and value {tuple(v.shape)} do not broadcast; "
                         "give them equal leading dimensions") from None
    scores_shape = tuple(batch) + (length, source_length)
    if is_causal:
        if attn_mask is not None:
            # (PyTorch documents this as an error; its math backend raises it)
            raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal=True, "
                             "not both; fold the causal triangle into the mask instead")
        mask = additive_mask(causal_mask(length, source_length, q), "causal mask", dtype, q)
        safe = False  # (every row keeps key 0)
    else:
        mask = additive_mask(attn_mask, "attn_mask", dtype, q)
        check_mask_shape(mask, "attn_mask", scores_shape)
        safe = mask is not None
    return attend(q, k, v, mask, p, scale, safe)[0]
