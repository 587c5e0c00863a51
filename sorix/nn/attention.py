"""Multi-head attention with PyTorch's arguments, parameter names, layouts and initialisation.

``MultiheadAttention`` holds ``in_proj_weight`` (3E, E) and ``in_proj_bias``
(3E,) (or ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight`` when the key
or value size differs from E) and ``out_proj``, a linear layer in PyTorch's
(out, in) layout, so that ``state_dict`` keys and shapes are PyTorch's and a
checkpoint loads across. Sorix's own ``nn.Linear`` keeps the transposed (in, out)
layout under ``W``/``b``; :class:`TorchLinear` is the PyTorch-layout linear used
here and by the transformer layers.

Initialisation is PyTorch's, drawn on the host from ``sorix.random.generator()``
(so ``sorix.manual_seed`` repeats it on every device): xavier_uniform_ for the
in-projections, zeros for ``in_proj_bias`` and ``out_proj.bias``,
U(-1/sqrt(E), 1/sqrt(E)) for ``out_proj.weight`` (PyTorch's Linear default) and
xavier_normal_ for ``bias_k``/``bias_v``.

The forward pass is made of tensor ops (see :mod:`sorix.nn.functional_attention`),
so gradients of every order and CUDA inputs work as for any other op.
"""
import math

import numpy as np

from .. import random as _random
from ..dtypes import numpy_dtype
from ..errors import ShapeMismatchError
from ..functions import cat
from ..ops.core import constant
from ..tensor import Tensor
from . import functional as F
from .conv import _positive, _uniform
from .functional_attention import additive_mask, attend, float_tensor
from .module import Module, check_device


def parameter_dtype(dtype, layer):
    """``dtype`` (None: float32) as float32 or float64, the dtypes sorix's generator draws."""
    dtype = np.dtype(np.float32) if dtype is None else np.dtype(numpy_dtype(dtype))
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"{layer} parameters must be float32 or float64, got {dtype}")
    return dtype


def device_name(device):
    return check_device("cpu" if device is None else device)


def _leaf(values, device):
    # drawn on the host (the same values on every device for one seed), then moved
    return Tensor(values, requires_grad=True, device=device)


class TorchLinear(Module):
    """y = x weight^T + bias with PyTorch's layout and names: ``weight`` (out, in), ``bias``
    (out,), both from U(-1/sqrt(in), 1/sqrt(in)) as PyTorch's ``nn.Linear`` (kaiming_uniform_
    with a = sqrt(5)). Used where state_dict keys must be PyTorch's (``out_proj``,
    ``linear1``); sorix's ``nn.Linear`` keeps Sorix's (in, out) ``W``."""

    _pytorch_layout_weights = ("weight",)

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = _positive(in_features, "in_features")
        self.out_features = _positive(out_features, "out_features")
        dtype = parameter_dtype(dtype, type(self).__name__).type
        self.device = device_name(device)
        bound = 1.0 / math.sqrt(self.in_features)
        self.weight = _leaf(_uniform((self.out_features, self.in_features), bound, dtype),
                            self.device)
        self.bias = _leaf(_uniform((self.out_features,), bound, dtype), self.device) \
            if bias else None

    def forward(self, x):
        x = F.as_tensor(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ShapeMismatchError(f"{type(self).__name__} expected input with "
                                     f"{self.in_features} features in its last dimension, got "
                                     f"input of shape {tuple(x.shape)}")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


def _pad_key(mask):
    """An additive mask with one more key position (value 0: it takes part), for the keys
    that bias_k and add_zero_attn append."""
    if mask is None:
        return None
    zeros = constant(np.zeros(tuple(mask.shape[:-1]) + (1,), mask.data.dtype), like=mask.data)
    return cat([mask, zeros], dim=-1)


class MultiheadAttention(Module):
    """Attention over ``num_heads`` heads of size embed_dim / num_heads, as PyTorch's
    ``nn.MultiheadAttention``: project query, key and value, attend per head, concatenate
    the heads and project with ``out_proj``.

    Inputs are (L, N, E) (or (N, L, E) with ``batch_first``) or unbatched (L, E).
    ``forward`` returns (output, weights): weights (N, L, S) averaged over the heads,
    (N, num_heads, L, S) with ``average_attn_weights=False``, or None with
    ``need_weights=False``. ``key_padding_mask`` (N, S) and ``attn_mask`` (L, S) or
    (N * num_heads, L, S) are bool (True = masked out, PyTorch's convention for these
    two) or float (added to the scores). ``is_causal`` is a hint that ``attn_mask`` is
    the causal mask; it needs ``attn_mask``, which is what is applied.
    """

    _pytorch_layout_weights = ("in_proj_weight", "q_proj_weight", "k_proj_weight",
                               "v_proj_weight")

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        self.embed_dim = _positive(embed_dim, "embed_dim")
        self.num_heads = _positive(num_heads, "num_heads")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads}): each head gets embed_dim / num_heads features")
        self.kdim = self.embed_dim if kdim is None else _positive(kdim, "kdim")
        self.vdim = self.embed_dim if vdim is None else _positive(vdim, "vdim")
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.head_dim = self.embed_dim // self.num_heads
        self.dropout = F.check_dropout_probability(dropout)
        self.batch_first = bool(batch_first)
        self.add_zero_attn = bool(add_zero_attn)
        kind = parameter_dtype(dtype, "MultiheadAttention").type
        self.device = device = device_name(device)
        E = self.embed_dim

        def xavier(rows, cols):  # U(-a, a), a = sqrt(6 / (fan_in + fan_out))
            return _leaf(_uniform((rows, cols), math.sqrt(6.0 / (rows + cols)), kind), device)

        if self._qkv_same_embed_dim:
            self.in_proj_weight = xavier(3 * E, E)
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        else:
            self.in_proj_weight = None
            self.q_proj_weight = xavier(E, E)
            self.k_proj_weight = xavier(E, self.kdim)
            self.v_proj_weight = xavier(E, self.vdim)
        self.in_proj_bias = _leaf(np.zeros(3 * E, kind), device) if bias else None
        self.out_proj = TorchLinear(E, E, bias=bias, device=device, dtype=kind)
        if bias:
            self.out_proj.bias = _leaf(np.zeros(E, kind), device)
        if add_bias_kv:
            # xavier_normal_ of a (1, 1, E) tensor: fans E and E, std sqrt(1 / E)
            std = math.sqrt(1.0 / E)
            self.bias_k, self.bias_v = (
                _leaf((_random.generator().standard_normal((1, 1, E), dtype=kind)
                       * kind(std)), device) for _ in range(2))
        else:
            self.bias_k = self.bias_v = None

    def extra_repr(self):
        text = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            text += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.batch_first:
            text += ", batch_first=True"
        return text

    def _projections(self):
        """(weight, bias) for the query, the key and the value."""
        E, b = self.embed_dim, self.in_proj_bias
        biases = (None,) * 3 if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            weights = (w[:E], w[E:2 * E], w[2 * E:])
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        return zip(weights, biases)

    def _inputs(self, query, key, value):
        """query, key, value as (N, L, features) tensors, and whether they were batched."""
        q = float_tensor(query, "query")
        k, v = float_tensor(key, "key", like=q), float_tensor(value, "value", like=q)
        if q.ndim not in (2, 3):
            layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
            raise ValueError(f"query must be batched 3-D {layout} or unbatched 2-D (L, E), "
                             f"got shape {tuple(q.shape)}")
        if k.ndim != q.ndim or v.ndim != q.ndim:
            raise ValueError(f"key and value must have the query's {q.ndim} dimensions, got "
                             f"shapes {tuple(k.shape)} and {tuple(v.shape)}")
        own = (self.in_proj_weight if self._qkv_same_embed_dim else self.q_proj_weight).dtype
        for name, t in (("query", q), ("key", k), ("value", v)):
            if t.dtype != own:
                raise TypeError(f"{name} is {t.dtype} but the layer's parameters are {own}: "
                                f"convert one of them (x.to({own}) or layer.to({t.dtype}))")
        batched = q.ndim == 3
        if not batched:
            q, k, v = q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0)
        elif not self.batch_first:
            q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        for name, t, size in (("query", q, self.embed_dim), ("key", k, self.kdim),
                              ("value", v, self.vdim)):
            if t.shape[-1] != size:
                raise ShapeMismatchError(f"{name} must have {size} features in its last "
                                         f"dimension, got shape {tuple(t.shape)}")
        if tuple(k.shape[:2]) != tuple(v.shape[:2]) or k.shape[0] != q.shape[0]:
            raise ShapeMismatchError(f"key and value must have the same sequence length and "
                                     f"the query's batch size, got query {tuple(query.shape)}, "
                                     f"key {tuple(key.shape)}, value {tuple(value.shape)}")
        return q, k, v, batched

    def _masks(self, key_padding_mask, attn_mask, batched, N, L, S, like):
        """The two masks as additive float masks broadcasting against (N, H, L, S)."""
        dtype = like.data.dtype
        padding = attn = None
        if key_padding_mask is not None:
            padding = additive_mask(_flip(key_padding_mask, like), "key_padding_mask", dtype,
                                    like, cast=True)
            expected = (N, S) if batched else (S,)
            if tuple(padding.shape) != expected:
                raise ShapeMismatchError(f"key_padding_mask must have shape {expected} "
                                         f"(batch, source length), got {tuple(padding.shape)}")
            padding = padding.reshape((N, 1, 1, S))
        if attn_mask is not None:
            attn = additive_mask(_flip(attn_mask, like), "attn_mask", dtype, like, cast=True)
            shape, H = tuple(attn.shape), self.num_heads
            if len(shape) == 2 and shape != (L, S):
                raise ShapeMismatchError(f"The shape of the 2D attn_mask is {shape}, but "
                                         f"should be {(L, S)} (target length, source length)")
            if len(shape) == 3:
                if shape != (N * H, L, S):
                    raise ShapeMismatchError(f"The shape of the 3D attn_mask is {shape}, but "
                                             f"should be {(N * H, L, S)} (batch * num_heads, "
                                             "target length, source length)")
                attn = attn.reshape((N, H, L, S))
            elif len(shape) != 2:
                raise ValueError(f"attn_mask must be 2-D (L, S) or 3-D (N * num_heads, L, S), "
                                 f"got shape {shape}")
        return padding, attn

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        """``(attn_output, attn_weights)``: the output shaped as the query, and the weights
        (N, L, S) averaged over the heads, or (N, num_heads, L, S) per head, or None with
        ``need_weights=False``. True in a bool mask here means "masked out"."""
        if is_causal and attn_mask is None:
            raise RuntimeError("MultiheadAttention: is_causal=True is a hint that attn_mask is "
                               "the causal mask and needs attn_mask; pass the (L, S) mask "
                               "(True above the diagonal) as attn_mask")
        q_in, k_in, v_in, batched = self._inputs(query, key, value)
        N, L, E = q_in.shape
        S = k_in.shape[1]
        padding, attn = self._masks(key_padding_mask, attn_mask, batched, N, L, S, q_in)
        (wq, bq), (wk, bk), (wv, bv) = self._projections()
        q, k, v = F.linear(q_in, wq, bq), F.linear(k_in, wk, bk), F.linear(v_in, wv, bv)
        if self.bias_k is not None:
            k = cat([k, self.bias_k.expand((N, 1, E))], dim=1)
            v = cat([v, self.bias_v.expand((N, 1, E))], dim=1)
            padding, attn = _pad_key(padding), _pad_key(attn)
        H, D = self.num_heads, self.head_dim
        q, k, v = (t.reshape((N, t.shape[1], H, D)).transpose(1, 2) for t in (q, k, v))
        if self.add_zero_attn:
            zeros = constant(np.zeros((N, H, 1, D), q.data.dtype), like=q.data)
            k, v = cat([k, zeros], dim=2), cat([v, zeros], dim=2)
            padding, attn = _pad_key(padding), _pad_key(attn)
        mask = padding if attn is None else attn if padding is None else attn + padding
        dropout_p = self.dropout if self.training else 0.0
        # need_weights: a plain softmax, as PyTorch's weights path (NaN for a fully masked
        # row); otherwise its SDPA path's safe softmax (zeros there)
        out, weights = attend(q, k, v, mask, dropout_p, 1.0 / math.sqrt(D),
                              safe=not need_weights)
        out = self.out_proj(out.transpose(1, 2).reshape((N, L, E)))
        if not batched:
            out = out[0]
        elif not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(dim=1)
        return out, weights if batched else weights[0]


def _flip(mask, like):
    """PyTorch's key_padding_mask and attn_mask of MultiheadAttention say True = masked out,
    the opposite of scaled_dot_product_attention's bool masks: flip a bool mask."""
    if not isinstance(mask, Tensor):
        mask = constant(np.asarray(mask), like=like.data)
    return ~mask if mask.data.dtype == np.bool_ else mask
