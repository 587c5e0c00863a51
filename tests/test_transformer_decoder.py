"""TransformerDecoderLayer, TransformerDecoder and Transformer against PyTorch with the same
weights copied in (eval mode, so dropout is off): outputs and gradients of the inputs and
every parameter, masks of each kind, layouts, state_dict keys, the causal mask, the
xavier re-initialisation, dropout's structure in training mode and the errors. Tiny
shapes."""
import warnings

import numpy as np
import pytest

import sorix
import sorix.nn.functional as F
from conftest import DTYPES, compare_modules_with_torch, normal
from sorix import nn

torch = pytest.importorskip("torch")

E, H, FF = 4, 2, 6  # d_model, heads, feed-forward width of the single-layer tests


def tol(dtype):
    if np.dtype(dtype) == np.float32:
        return dict(rtol=3e-4, atol=3e-5)
    return dict(rtol=1e-9, atol=1e-11)


def tdtype(dtype):
    return torch.float32 if np.dtype(dtype) == np.float32 else torch.float64


def copy_weights(mine, theirs):
    """Give ``theirs`` perturbed weights (its biases start at zero and its LayerNorms at
    one, which would hide mistakes) and load them into ``mine``, whose keys must be
    PyTorch's, in PyTorch's order."""
    for i, p in enumerate(theirs.parameters()):
        with torch.no_grad():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(i),
                               dtype=p.dtype) * 0.1)
    state = theirs.state_dict()
    assert list(mine.state_dict()) == list(state)
    mine.load_state_dict({k: v.detach().numpy().copy() for k, v in state.items()}, strict=True)


def as_pair(value, dtype):
    """A mask (or None) as a sorix tensor and a torch tensor; float masks in ``dtype``."""
    if value is None:
        return None, None
    value = value.astype(dtype) if value.dtype.kind == "f" else value
    return sorix.tensor(value), torch.tensor(value)


def compare(mine, theirs, inputs, dtype, masks, flags=None, seed=1):
    """Run both modules on ``inputs`` (all get gradients) with ``masks`` (name -> array or
    None) and ``flags`` (name -> plain value); compare the output, then the gradients of
    the inputs and of every parameter for one random upstream gradient."""
    s_kw, t_kw = dict(flags or {}), dict(flags or {})
    for name, value in masks.items():
        s_kw[name], t_kw[name] = as_pair(value, dtype)
    compare_modules_with_torch(mine, theirs, inputs, dtype, tol(dtype), s_kw, t_kw, seed)


def layer_pair(dtype, **kw):
    kw = dict(dict(dim_feedforward=FF, dropout=0.3), **kw)
    theirs = torch.nn.TransformerDecoderLayer(E, H, dtype=tdtype(dtype), **kw).eval()
    mine = nn.TransformerDecoderLayer(E, H, dtype=dtype, **kw).eval()
    copy_weights(mine, theirs)
    return mine, theirs


def causal(n):
    return nn.Transformer.generate_square_subsequent_mask(n, dtype=sorix.float64).numpy()


def padding(n, length, last):
    mask = np.zeros((n, length), bool)
    mask[0, last] = True  # (never a whole row: that is NaN in PyTorch's weights path)
    return mask


# ---- TransformerDecoderLayer -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_first, activation, batch_first",
                         [(False, "relu", False), (True, "gelu", True), (True, "relu", False),
                          (False, "gelu", True)])
def test_decoder_layer_matches_torch(norm_first, activation, batch_first, dtype):
    mine, theirs = layer_pair(dtype, activation=activation, norm_first=norm_first,
                              batch_first=batch_first)
    N, T, S = 2, 3, 4
    shape = (lambda length: (N, length, E)) if batch_first else (lambda length: (length, N, E))
    memory_mask = np.random.default_rng(0).random((T, S)) > 0.7
    memory_mask[:, 0] = False
    masks = dict(tgt_mask=causal(T), memory_mask=memory_mask,
                 tgt_key_padding_mask=padding(N, T, -1),
                 memory_key_padding_mask=padding(N, S, 1))
    compare(mine, theirs, [normal(shape(T), dtype, seed=1), normal(shape(S), dtype, seed=2)],
            dtype, masks, dict(tgt_is_causal=norm_first))


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_unbatched_and_float_masks(norm_first):
    mine, theirs = layer_pair(np.float64, norm_first=norm_first, activation=F.silu)
    theirs.activation = torch.nn.functional.silu
    rng = np.random.default_rng(3)
    masks = dict(tgt_mask=rng.standard_normal((3, 3)), memory_mask=rng.standard_normal((3, 5)),
                 memory_key_padding_mask=np.array([False, True, False, False, False]))
    compare(mine, theirs, [normal((3, E), np.float64, 1), normal((5, E), np.float64, 2)],
            np.float64, masks)


def test_decoder_layer_double_backward_matches_torch():
    from torch.nn.attention import SDPBackend, sdpa_kernel
    mine, theirs = layer_pair(np.float64, activation="gelu")
    arrays = [normal((3, 2, E), np.float64, 1), normal((4, 2, E), np.float64, 2)]
    upstream = normal((3, 2, E), np.float64, 3)
    results = []
    for lib, layer, mask in ((sorix, mine, sorix.tensor(causal(3))),
                             (torch, theirs, torch.tensor(causal(3)))):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        # (PyTorch's fused CPU kernel has no double backward: its math backend has)
        with sdpa_kernel(SDPBackend.MATH):
            out = layer(*xs, tgt_mask=mask)
            grads = lib.autograd.grad((out * lib.tensor(upstream)).sum(), xs,
                                      create_graph=True)
            sum((g * g).sum() for g in grads).backward()
        results.append([np.array(x.grad.detach().numpy()) for x in xs])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, **tol(np.float64))


# ---- TransformerDecoder -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_decoder_stack_matches_torch(dtype):
    kw = dict(dim_feedforward=FF, dropout=0.0)
    theirs = torch.nn.TransformerDecoder(
        torch.nn.TransformerDecoderLayer(E, H, dtype=tdtype(dtype), **kw), 2,
        norm=torch.nn.LayerNorm(E, dtype=tdtype(dtype)))
    mine = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, dtype=dtype, **kw), 2,
                                 norm=nn.LayerNorm(E, dtype=dtype))
    copy_weights(mine, theirs)  # (the perturbation makes the two layers differ)
    assert mine.layers[0].linear1.weight is not mine.layers[1].linear1.weight
    masks = dict(tgt_mask=causal(3), memory_key_padding_mask=padding(2, 4, 2))
    compare(mine, theirs, [normal((3, 2, E), dtype, 1), normal((4, 2, E), dtype, 2)], dtype,
            masks)


# ---- Transformer --------------------------------------------------------------------------------

def transformer_pair(dtype, **kw):
    kw = dict(dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2,
                   dim_feedforward=16, dropout=0.1), **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's nested-tensor advice
        theirs = torch.nn.Transformer(dtype=tdtype(dtype), **kw).eval()
    mine = nn.Transformer(dtype=dtype, **kw).eval()
    copy_weights(mine, theirs)
    return mine, theirs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_matches_torch(batch_first, dtype):
    mine, theirs = transformer_pair(dtype, batch_first=batch_first,
                                    norm_first=batch_first, activation="gelu")
    N, S, T = 2, 4, 3
    shape = (lambda length: (N, length, 8)) if batch_first else (lambda length: (length, N, 8))
    masks = dict(tgt_mask=causal(T), src_key_padding_mask=padding(N, S, 1),
                 tgt_key_padding_mask=padding(N, T, 2),
                 memory_key_padding_mask=padding(N, S, 1))
    compare(mine, theirs, [normal(shape(S), dtype, 1), normal(shape(T), dtype, 2)], dtype,
            masks)


def test_transformer_unbatched_with_all_masks():
    mine, theirs = transformer_pair(np.float64)
    rng = np.random.default_rng(5)
    masks = dict(src_mask=rng.standard_normal((4, 4)), tgt_mask=causal(3),
                 memory_mask=rng.random((3, 4)) > 0.8)
    compare(mine, theirs, [normal((4, 8), np.float64, 1), normal((3, 8), np.float64, 2)],
            np.float64, masks, dict(tgt_is_causal=True))


def test_generate_square_subsequent_mask():
    for n in (1, 4):
        mine = nn.Transformer.generate_square_subsequent_mask(n)
        theirs = torch.nn.Transformer.generate_square_subsequent_mask(n)
        assert mine.dtype == sorix.float32 and tuple(mine.shape) == (n, n)
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    m = nn.Transformer.generate_square_subsequent_mask(3, dtype=sorix.float64).numpy()
    assert m.dtype == np.float64
    np.testing.assert_array_equal(np.isneginf(m), np.triu(np.ones((3, 3), bool), 1))
    assert np.all(m[np.tril_indices(3)] == 0)
    assert nn.Transformer.generate_square_subsequent_mask(0).shape == (0, 0)


def test_transformer_init_and_state_dict():
    sorix.manual_seed(0)
    model = nn.Transformer(8, 2, 2, 2, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = torch.nn.Transformer(8, 2, 2, 2, 16)
    assert list(model.state_dict()) == list(reference.state_dict())
    for key, value in reference.state_dict().items():
        assert tuple(model.state_dict()[key].shape) == tuple(value.shape), key
    assert isinstance(model.encoder.norm, nn.LayerNorm)
    assert isinstance(model.decoder.norm, nn.LayerNorm)
    for name, p in model.named_parameters():
        w = p.numpy()
        assert p.dtype == sorix.float32, name
        if w.ndim > 1:
            bound = np.sqrt(6.0 / (w.shape[0] + w.shape[1]))
            assert np.abs(w).max() <= bound, name
            # re-drawn: wider than the 1/sqrt(fan_in) of PyTorch's Linear default
            assert np.abs(w).max() > 1 / np.sqrt(w.shape[1]), name
        elif "norm" in name:  # LayerNorms keep ones and zeros
            assert np.all(w == (1 if name.endswith("weight") else 0)), name
        elif "in_proj_bias" in name or "out_proj.bias" in name:
            assert np.all(w == 0), name
    sorix.manual_seed(0)
    again = nn.Transformer(8, 2, 2, 2, 16)
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_custom_encoder_and_decoder_are_used():
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0), 1)
    decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0), 1)
    model = nn.Transformer(4, 2, custom_encoder=encoder, custom_decoder=decoder)
    assert model.encoder is encoder and model.decoder is decoder
    assert sorted(model.state_dict()) == sorted(
        ["encoder." + k for k in encoder.state_dict()]
        + ["decoder." + k for k in decoder.state_dict()])
    src, tgt = normal((5, 2, 4), np.float32, 1), normal((3, 2, 4), np.float32, 2)
    expected = decoder(tgt, encoder(src)).numpy()
    np.testing.assert_array_equal(model(src, tgt).numpy(), expected)


# ---- dropout in training mode ---------------------------------------------------------------

def test_decoder_layer_dropout_structure():
    sorix.manual_seed(4)
    layer = nn.TransformerDecoderLayer(E, H, 8, dropout=0.5)
    assert all(m.p == 0.5 for m in (layer.dropout, layer.dropout1, layer.dropout2,
                                     layer.dropout3))
    assert layer.self_attn.dropout == 0.5 and layer.multihead_attn.dropout == 0.5
    tgt = sorix.tensor(normal((3, 2, E), np.float32, 1))
    memory = sorix.tensor(normal((4, 2, E), np.float32, 2))
    a, b = layer(tgt, memory).numpy(), layer(tgt, memory).numpy()
    assert not np.allclose(a, b)  # a fresh mask each call
    layer.eval()
    np.testing.assert_array_equal(layer(tgt, memory).numpy(), layer(tgt, memory).numpy())
    # with norm_first every block's output goes through a dropout before the residual
    # sum: at p = 1 all three are dropped and the target passes through unchanged
    sorix.manual_seed(5)
    through = nn.TransformerDecoderLayer(E, H, 8, dropout=1.0, norm_first=True).train()
    np.testing.assert_array_equal(through(tgt, memory).numpy(), tgt.numpy())


# ---- errors ---------------------------------------------------------------------------------

def test_errors():
    with pytest.raises(ValueError, match="relu' or 'gelu"):
        nn.TransformerDecoderLayer(4, 2, activation="tanh")
    with pytest.raises(ValueError, match="relu' or 'gelu"):
        nn.Transformer(8, 2, 1, 1, 16, activation="swish")
    with pytest.raises(ValueError, match="divisible"):
        nn.TransformerDecoderLayer(6, 4)
    with pytest.raises(TypeError, match="TransformerDecoderLayer"):
        nn.TransformerDecoder("layer", 2)
    with pytest.raises(TypeError, match="custom_encoder"):
        nn.Transformer(8, 2, custom_encoder="encoder")
    layer = nn.TransformerDecoderLayer(4, 2, 8)
    tgt, memory = normal((3, 2, 4), np.float32, 1), normal((5, 2, 4), np.float32, 2)
    with pytest.raises(sorix.errors.ShapeMismatchError, match="memory must have d_model=4"):
        layer(tgt, memory[..., :3])
    with pytest.raises(ValueError, match="tgt must be batched 3-D"):
        layer(tgt[None], memory)
    with pytest.raises(ValueError, match="memory must have tgt's 3 dimensions"):
        layer(tgt, memory[:, 0])
    with pytest.raises(sorix.errors.ShapeMismatchError, match="same batch size"):
        layer(tgt, memory[:, :1])
    with pytest.raises(RuntimeError, match="needs attn_mask"):
        layer(tgt, memory, tgt_is_causal=True)
    model = nn.Transformer(8, 2, 1, 1, 16)
    src, tgt = normal((5, 2, 8), np.float32, 1), normal((3, 2, 8), np.float32, 2)
    with pytest.raises(sorix.errors.ShapeMismatchError, match="tgt must have d_model=8"):
        model(src, tgt[..., :6])
    with pytest.raises(sorix.errors.ShapeMismatchError, match="same batch size"):
        model(src, tgt[:, :1])
    with pytest.raises(ValueError, match="tgt must have src's 3 dimensions"):
        model(src, tgt[:, 0])
    with pytest.raises(ValueError, match="src must be batched 3-D"):
        model(src[0, 0], tgt[0, 0])
    with pytest.raises(TypeError, match="layer.to"):
        model(src.astype(np.float64), tgt.astype(np.float64))
    with pytest.raises(ValueError, match="non-negative int"):
        nn.Transformer.generate_square_subsequent_mask(-1)
    with pytest.raises(TypeError, match="floating-point dtype"):
        nn.Transformer.generate_square_subsequent_mask(3, dtype=sorix.int64)
