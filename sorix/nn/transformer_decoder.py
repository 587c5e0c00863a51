"""Transformer decoder layers and the full encoder-decoder ``Transformer``, with PyTorch's
arguments, submodule names (so ``state_dict`` keys match a PyTorch checkpoint's) and
initialisation.

``TransformerDecoderLayer`` is masked self-attention over the target, then attention
from the target to the encoder's output (``memory``), then a feed-forward block, each
with a residual connection, dropout and a LayerNorm (after the residual with
``norm_first=False``, as in the original Transformer, or before the block with
``norm_first=True``). ``TransformerDecoder`` stacks deep copies of one layer, and
``Transformer`` joins a :class:`TransformerEncoder` and a :class:`TransformerDecoder`,
each ending in a LayerNorm, and re-draws every parameter of more than one dimension
with xavier_uniform_, as PyTorch does.

Everything is a composition of existing modules and tensor ops, so gradients of every
order and CUDA tensors work without code of their own here.
"""

import numpy as np

from ..dtypes import numpy_dtype
from ..errors import ShapeMismatchError
from ..tensor import Tensor
from . import init
from .attention import MultiheadAttention, TorchLinear, device_name, parameter_dtype
from .conv import _positive
from .functional_attention import float_tensor
from .layers import Dropout
from .module import Module
from .normalization import LayerNorm
from .transformer import (AttentionBlocks, TransformerEncoder, TransformerEncoderLayer,
                          _activation, copies_and_norm)


def _check_pair(first, second, names, d_model, batch_first, where):
    """Check that ``first`` and ``second`` (tgt and memory, or src and tgt) are both
    batched 3-D or both unbatched 2-D, have ``d_model`` features and the same batch size,
    before the attention layers meet them with less specific messages."""
    a_name, b_name = names
    a = float_tensor(first, a_name)
    b = float_tensor(second, b_name, like=a)  # (an array joins a on its device)
    layout = "(N, L, E)" if batch_first else "(L, N, E)"
    if a.ndim not in (2, 3):
        raise ValueError(f"{where}: {a_name} must be batched 3-D {layout} or unbatched 2-D "
                         f"(L, E), got shape {tuple(a.shape)}")
    if b.ndim != a.ndim:
        raise ValueError(f"{where}: {b_name} must have {a_name}'s {a.ndim} dimensions (both "
                         f"batched {layout} or both unbatched (L, E)), got {a_name} "
                         f"{tuple(a.shape)} and {b_name} {tuple(b.shape)}")
    for name, t in ((a_name, a), (b_name, b)):
        if t.shape[-1] != d_model:
            raise ShapeMismatchError(f"{where}: {name} must have d_model={d_model} features "
                                     f"in its last dimension, got shape {tuple(t.shape)}; "
                                     f"project it to {d_model} features first")
    if a.ndim == 3:
        axis = 0 if batch_first else 1
        if a.shape[axis] != b.shape[axis]:
            raise ShapeMismatchError(
                f"{where}: {a_name} and {b_name} must have the same batch size (dimension "
                f"{axis} with batch_first={bool(batch_first)}), got {a.shape[axis]} and "
                f"{b.shape[axis]}; check that both use the same layout")
    return a, b


class TransformerDecoderLayer(AttentionBlocks, Module):
    """One decoder block: x + self_attn(x), x + multihead_attn(x, memory), then
    x + feed_forward(x), each followed by a LayerNorm (``norm_first=False``) or preceded
    by one (``norm_first=True``).

    Inputs are (T, N, E) for ``tgt`` and (S, N, E) for ``memory`` ((N, T, E) and
    (N, S, E) with ``batch_first``), or unbatched (T, E) and (S, E). Masks follow
    :class:`MultiheadAttention`: bool True = masked out, or float added to the scores.
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        d_model = _positive(d_model, "d_model")
        dim_feedforward = _positive(dim_feedforward, "dim_feedforward")
        act = _activation(activation)  # (checked before anything is drawn)
        dtype = parameter_dtype(dtype, "TransformerDecoderLayer")
        self.device = device = device_name(device)
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, **kw)
        self.linear1 = TorchLinear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = TorchLinear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = act

    def _mha_block(self, x, memory, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, memory, memory, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=is_causal)[0]
        return self.dropout2(x)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        """The target after the block, shaped as ``tgt``. ``tgt_mask`` (T, T) masks the
        self-attention (the causal mask of :meth:`Transformer.generate_square_subsequent_mask`
        stops a position seeing later ones), ``memory_mask`` (T, S) the attention to
        ``memory``; the ``*_is_causal`` flags are hints that the matching mask is causal
        and need that mask."""
        x, memory = _check_pair(tgt, memory, ("tgt", "memory"), self.self_attn.embed_dim,
                                self.batch_first, "TransformerDecoderLayer")
        tgt_is_causal, memory_is_causal = bool(tgt_is_causal), bool(memory_is_causal)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask,
                                   tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self._feed_forward(self.norm3(x), self.dropout3)
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask,
                                              tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask,
                                               memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._feed_forward(x, self.dropout3))
        return x


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer`` applied in turn (``layers.0`` ...),
    each attending to the same ``memory``, then ``norm`` if given. (The copies start with
    equal weights, as in PyTorch: re-initialise them if they should differ.)"""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        copies_and_norm(self, decoder_layer, num_layers, norm, "TransformerDecoderLayer")

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        """The target through every layer (and ``norm``), shaped as ``tgt``; the arguments
        are those of :meth:`TransformerDecoderLayer.forward`."""
        # (tgt_is_causal=None is PyTorch's "detect whether tgt_mask is causal"; the mask
        # itself is what is applied, so the hint changes nothing and needs no detection)
        output = tgt
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask,
                           tgt_is_causal=bool(tgt_is_causal),
                           memory_is_causal=bool(memory_is_causal))
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """The encoder-decoder Transformer (Vaswani et al., 2017) as PyTorch's
    ``nn.Transformer``: ``encoder`` (a :class:`TransformerEncoder` of
    ``num_encoder_layers`` layers and a final LayerNorm) reads ``src``, and ``decoder``
    (a :class:`TransformerDecoder` of ``num_decoder_layers`` layers and a final
    LayerNorm) reads ``tgt`` and attends to the encoder's output. Every parameter of more
    than one dimension is re-drawn with xavier_uniform_. There is no embedding or output
    projection: inputs and output have ``d_model`` features.
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, device=None, dtype=None):
        super().__init__()
        for name, custom in (("custom_encoder", custom_encoder),
                             ("custom_decoder", custom_decoder)):
            if custom is not None and not isinstance(custom, Module):
                raise TypeError(f"{name} must be a Module or None, got "
                                f"{type(custom).__name__}")
        self.d_model = _positive(d_model, "d_model")
        self.nhead = _positive(nhead, "nhead")
        self.batch_first = bool(batch_first)
        dtype = parameter_dtype(dtype, "Transformer")
        self.device = device = device_name(device)
        layer_kw = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                        layer_norm_eps=layer_norm_eps, batch_first=batch_first,
                        norm_first=norm_first, bias=bias, device=device, dtype=dtype)
        norm_kw = dict(eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(d_model, nhead, **layer_kw), num_encoder_layers,
                LayerNorm(d_model, **norm_kw))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(d_model, nhead, **layer_kw), num_decoder_layers,
                LayerNorm(d_model, **norm_kw))
        self._reset_parameters()

    def _reset_parameters(self):
        # PyTorch re-draws every matrix (custom modules' too); vectors (biases, LayerNorm
        # weights) keep their layers' initialisation
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        """The decoder's output, shaped as ``tgt``: (T, N, E) ((N, T, E) with
        ``batch_first``, or (T, E) unbatched) for ``src`` (S, N, E). ``src_mask`` (S, S),
        ``tgt_mask`` (T, T) and ``memory_mask`` (T, S) and the (N, S) / (N, T) key padding
        masks are :class:`MultiheadAttention` masks (bool True = masked out, or float
        added to the scores)."""
        src, tgt = _check_pair(src, tgt, ("src", "tgt"), self.d_model, self.batch_first,
                               "Transformer")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """The (sz, sz) causal float mask: 0 on and below the diagonal, -inf above, so a
        position attends to itself and earlier positions only. float32 unless ``dtype``."""
        if isinstance(sz, bool) or not isinstance(sz, (int, np.integer)) or sz < 0:
            raise ValueError(f"sz must be a non-negative int (the sequence length), got "
                             f"{sz!r}")
        kind = np.dtype(np.float32) if dtype is None else np.dtype(numpy_dtype(dtype))
        if kind.kind != "f":
            raise TypeError(f"generate_square_subsequent_mask needs a floating-point dtype "
                            f"(the mask holds -inf), got {kind}")
        values = np.triu(np.full((int(sz), int(sz)), -np.inf, kind), 1)
        return Tensor(values, device=device_name(device))
