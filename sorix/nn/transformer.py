"""Transformer encoder layers with PyTorch's arguments, submodule names and state_dict keys.

``TransformerEncoderLayer`` is self-attention then a feed-forward block
(linear1 -> activation -> dropout -> linear2), each with a residual connection,
dropout and layer normalisation: after the residual (``norm_first=False``, the
original Transformer) or before the block (``norm_first=True``). Its
submodules are named as in PyTorch (``self_attn``, ``linear1``, ``linear2``,
``norm1``, ``norm2``, ``dropout``, ``dropout1``, ``dropout2``), and the linear
layers keep PyTorch's (out, in) ``weight`` layout, so a PyTorch checkpoint's
keys and shapes match. ``TransformerEncoder`` stacks deep copies of one layer.

PyTorch's inference fast path (nested tensors, fused kernels) is not
reproduced: it computes the same function, and these layers are compositions
of tensor ops whose gradients of every order come for free.
"""
import copy

from . import functional as F
from .attention import MultiheadAttention, TorchLinear, device_name, parameter_dtype
from .containers import ModuleList
from .conv import _positive
from .layers import Dropout
from .module import Module
from .normalization import LayerNorm

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _activation(activation):
    if isinstance(activation, str):
        found = _ACTIVATIONS.get(activation)
        if found is None:
            raise ValueError(f"activation should be 'relu' or 'gelu' (or a callable such as "
                             f"F.silu), not {activation!r}")
        return found
    if not callable(activation):
        raise TypeError(f"activation must be 'relu', 'gelu' or a callable, got "
                        f"{type(activation).__name__}")
    return activation


class AttentionBlocks:
    """The blocks the encoder and decoder layers share: self-attention and feed-forward, each
    ending in its dropout (the layer's ``dropout1``, and the one given)."""

    @property
    def batch_first(self):
        return self.self_attn.batch_first

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _feed_forward(self, x, dropout):
        return dropout(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoderLayer(AttentionBlocks, Module):
    """One encoder block: x + self_attn(x), then x + feed_forward(x), each followed by a
    LayerNorm (``norm_first=False``) or preceded by one (``norm_first=True``).

    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)`` takes
    (S, N, E) input ((N, S, E) with ``batch_first``, or unbatched (S, E)); the masks
    follow :class:`MultiheadAttention` (bool True = masked out, or float added).
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        d_model = _positive(d_model, "d_model")
        dim_feedforward = _positive(dim_feedforward, "dim_feedforward")
        act = _activation(activation)  # (checked before anything is drawn)
        dtype = parameter_dtype(dtype, "TransformerEncoderLayer")
        self.device = device = device_name(device)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, device=device,
                                            dtype=dtype)
        self.linear1 = TorchLinear(d_model, dim_feedforward, bias=bias, device=device,
                                   dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = TorchLinear(dim_feedforward, d_model, bias=bias, device=device,
                                   dtype=dtype)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device,
                               dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device,
                               dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = act

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._feed_forward(self.norm2(x), self.dropout2)
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._feed_forward(x, self.dropout2))
        return x


def copies_and_norm(stack, layer, num_layers, norm, kind):
    """Give ``stack`` ``num_layers`` deep copies of ``layer`` (a ``kind``, such as
    "TransformerEncoderLayer") as ``stack.layers``, and ``norm`` (a Module or None)."""
    if not isinstance(layer, Module):
        raise TypeError(f"the layer to repeat must be a Module (a {kind}), got "
                        f"{type(layer).__name__}")
    if norm is not None and not isinstance(norm, Module):
        raise TypeError(f"norm must be a Module (such as LayerNorm) or None, got "
                        f"{type(norm).__name__}")
    stack.num_layers = _positive(num_layers, "num_layers")
    stack.layers = ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])
    stack.norm = norm


class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` applied in turn (``layers.0`` ...),
    then ``norm`` if given. (The copies start with equal weights, as in PyTorch:
    re-initialise them if they should differ.) ``enable_nested_tensor`` and
    ``mask_check`` are accepted for PyTorch code and have no effect here."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        copies_and_norm(self, encoder_layer, num_layers, norm, "TransformerEncoderLayer")
        self.enable_nested_tensor = bool(enable_nested_tensor)
        self.mask_check = bool(mask_check)

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        # (is_causal only tells the layers that ``mask`` is causal; the mask is what they
        # apply, so None, PyTorch's "detect it", needs no detection here)
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                           is_causal=bool(is_causal))
        if self.norm is not None:
            output = self.norm(output)
        return output
