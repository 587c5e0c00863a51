"""scaled_dot_product_attention, MultiheadAttention and TransformerEncoder(Layer) against
PyTorch with the same weights copied in: values and gradients (inputs and every
parameter), masks of each kind, state_dict keys, initialisation, dropout's structure and
the errors. Tiny shapes."""
import numpy as np
import pytest

import sorix
import sorix.nn.functional as F
from conftest import DTYPES, against_torch, compare_modules_with_torch, normal
from sorix import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def tol(dtype):
    if np.dtype(dtype) == np.float32:
        return dict(rtol=2e-4, atol=2e-5)
    return dict(rtol=1e-9, atol=1e-11)


def tdtype(dtype):
    return torch.float32 if np.dtype(dtype) == np.float32 else torch.float64


# ---- scaled_dot_product_attention ------------------------------------------------------------

def _bool_mask(shape, seed, full_row=True):
    mask = np.random.default_rng(seed).random(shape) > 0.4
    mask[..., 0] = True
    if full_row:
        mask[..., 1, :] = False  # a query that sees no key: zeros, as in PyTorch
    return mask


SDPA_CASES = {
    "plain": ((2, 3, 4), (2, 5, 4), (2, 5, 3), {}),
    "bool mask": ((2, 2, 4, 3), (2, 2, 5, 3), (2, 2, 5, 2), dict(attn_mask=_bool_mask((4, 5), 1))),
    "float mask": ((2, 2, 4, 3), (2, 2, 5, 3), (2, 2, 5, 3),
                   dict(attn_mask=normal((2, 1, 4, 5), np.float64, seed=2))),
    "broadcast bool": ((2, 2, 4, 3), (2, 2, 5, 3), (2, 2, 5, 3),
                       dict(attn_mask=_bool_mask((2, 1, 1, 5), 3, full_row=False))),
    "-inf rows": ((1, 3, 3), (1, 4, 3), (1, 4, 3),
                  dict(attn_mask=np.where(_bool_mask((3, 4), 4), 0.0, -np.inf))),
    "causal, L < S": ((2, 3, 4), (2, 5, 4), (2, 5, 4), dict(is_causal=True)),
    "causal, L > S": ((1, 2, 5, 3), (1, 2, 3, 3), (1, 2, 3, 3), dict(is_causal=True)),
    "scale": ((2, 3, 4), (2, 5, 4), (2, 5, 4), dict(scale=0.37)),
    "gqa": ((1, 4, 3, 2), (1, 2, 5, 2), (1, 2, 5, 2), dict(enable_gqa=True)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(SDPA_CASES))
def test_sdpa_matches_torch(case, dtype):
    q_shape, k_shape, v_shape, kwargs = SDPA_CASES[case]
    arrays = [normal(s, dtype, seed=i) for i, s in enumerate((q_shape, k_shape, v_shape))]
    mask = kwargs.get("attn_mask")
    if mask is not None and mask.dtype.kind == "f":
        mask = mask.astype(dtype)
    s_kw = dict(kwargs, attn_mask=None if mask is None else sorix.tensor(mask))
    t_kw = dict(kwargs, attn_mask=None if mask is None else torch.tensor(mask))
    against_torch(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **s_kw),
                  lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, **t_kw),
                  arrays, dtype, tol(dtype))


def test_sdpa_float_mask_gets_a_gradient():
    arrays = [normal((2, 3, 2), np.float64, seed=i) for i in range(3)]
    arrays.append(normal((3, 3), np.float64, seed=7))
    against_torch(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                  lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m),
                  arrays, np.float64, tol(np.float64))


def test_sdpa_double_backward_matches_torch():
    shapes = ((2, 3, 2), (2, 4, 2), (2, 4, 2))
    arrays = [normal(s, np.float64, seed=i) for i, s in enumerate(shapes)]
    mask = _bool_mask((3, 4), 5, full_row=False)
    upstream = normal((2, 3, 2), np.float64, seed=9)
    results = []
    for lib, fn, make, m in ((sorix, F.scaled_dot_product_attention,
                              lambda a: sorix.tensor(a, requires_grad=True), sorix.tensor(mask)),
                             (torch, TF.scaled_dot_product_attention,
                              lambda a: torch.tensor(a, requires_grad=True), torch.tensor(mask))):
        q, k, v = (make(a) for a in arrays)
        out = fn(q, k, v, attn_mask=m)
        grads = lib.autograd.grad((out * lib.tensor(upstream)).sum(), (q, k, v),
                                  create_graph=True)
        sum((g * g).sum() for g in grads).backward()
        results.append([np.array(t.grad.detach().numpy()) for t in (q, k, v)])
    for mine, theirs in zip(*results):
        np.testing.assert_allclose(mine, theirs, **tol(np.float64))


def test_sdpa_dropout_structure():
    sorix.manual_seed(3)
    q, k, v = (sorix.tensor(normal((2, 4, 3), np.float32, seed=i)) for i in range(3))
    assert np.all(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy() == 0)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    assert not np.allclose(a, b)  # a fresh mask each call
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=0.0).numpy(),
                                  F.scaled_dot_product_attention(q, k, v).numpy())


def test_sdpa_errors():
    q = sorix.tensor(normal((2, 3, 4), np.float32))
    k = sorix.tensor(normal((2, 5, 4), np.float32))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=np.ones((3, 5), bool), is_causal=True)
    with pytest.raises(ValueError, match="does not broadcast"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=np.ones((4, 5), bool))
    with pytest.raises(TypeError, match="bool tensor"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=np.ones((3, 5), np.int64))
    with pytest.raises(TypeError, match="query's dtype"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=np.zeros((3, 5)))
    with pytest.raises(TypeError, match="floating-point"):
        F.scaled_dot_product_attention(sorix.tensor(np.ones((3, 4), np.int64)), k[0], k[0])
    with pytest.raises(ValueError, match="attention needs"):
        F.scaled_dot_product_attention(q, k[..., :3], k)
    with pytest.raises(TypeError, match="same dtype"):
        F.scaled_dot_product_attention(q, k.double(), k)


# ---- MultiheadAttention ------------------------------------------------------------------------

def _pair(E, H, dtype, **kwargs):
    """A torch layer and a sorix one holding the same (torch-drawn) weights."""
    theirs = torch.nn.MultiheadAttention(E, H, dtype=tdtype(dtype), **kwargs)
    mine = nn.MultiheadAttention(E, H, dtype=dtype, **kwargs)
    _copy(mine, theirs)
    return mine, theirs


def _copy(mine, theirs):
    state = theirs.state_dict()
    assert list(mine.state_dict()) == list(state)
    mine.load_state_dict({k: v.detach().numpy().copy() for k, v in state.items()}, strict=True)
    for i, (name, p) in enumerate(theirs.named_parameters()):  # torch zeroes biases: perturb
        with torch.no_grad():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(i),
                               dtype=p.dtype) * 0.1)
    mine.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})


def _masks(N, L, S, H, seed=0):
    rng = np.random.default_rng(seed)
    kpm = np.zeros((N, S), bool)
    kpm[0, -1] = True
    return dict(kpm=kpm, bool2=rng.random((L, S)) > 0.7, float2=rng.standard_normal((L, S)),
                bool3=rng.random((N * H, L, S)) > 0.7, float_kpm=rng.standard_normal((N, S)))


MHA_CASES = {
    "plain": ({}, {}),
    "batch_first + masks": (dict(batch_first=True),
                            dict(key_padding_mask="kpm", attn_mask="float2")),
    "3-D bool mask, per head": ({}, dict(attn_mask="bool3", average_attn_weights=False)),
    "bool masks, no weights": ({}, dict(key_padding_mask="kpm", attn_mask="bool2",
                                        need_weights=False)),
    "float key padding": ({}, dict(key_padding_mask="float_kpm", attn_mask="float2")),
    "kdim/vdim": (dict(kdim=3, vdim=5), dict(key_padding_mask="kpm")),
    "no bias": (dict(bias=False), dict(attn_mask="bool2", need_weights=False)),
    "bias_kv + zero_attn": (dict(add_bias_kv=True, add_zero_attn=True),
                            dict(key_padding_mask="kpm", attn_mask="float2")),
    "causal hint": ({}, dict(attn_mask="causal", is_causal=True, need_weights=False)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(MHA_CASES))
def test_multihead_attention_matches_torch(case, dtype):
    layer_kw, call_kw = MHA_CASES[case]
    E, H, N, L, S = 4, 2, 2, 3, 4
    mine, theirs = _pair(E, H, dtype, **layer_kw)
    masks = _masks(N, L, S, H)
    masks["causal"] = np.triu(np.ones((L, S), bool), 1)
    s_kw, t_kw = dict(call_kw), dict(call_kw)
    for name in ("key_padding_mask", "attn_mask"):
        if name in call_kw:
            m = masks[call_kw[name]]
            m = m.astype(dtype) if m.dtype.kind == "f" else m
            s_kw[name], t_kw[name] = sorix.tensor(m), torch.tensor(m)
    bf = layer_kw.get("batch_first", False)
    shape = (lambda n, length, e: (n, length, e)) if bf else (lambda n, length, e: (length, n, e))
    inputs = [normal(shape(N, L, E), dtype, seed=1),
              normal(shape(N, S, layer_kw.get("kdim", E)), dtype, seed=2),
              normal(shape(N, S, layer_kw.get("vdim", E)), dtype, seed=3)]
    compare_modules_with_torch(mine, theirs, inputs, dtype, tol(dtype), s_kw, t_kw)


@pytest.mark.parametrize("mask_ndim", [2, 3])
def test_multihead_attention_unbatched(mask_ndim):
    mine, theirs = _pair(4, 2, np.float64)
    mask = np.random.default_rng(0).random((3, 4) if mask_ndim == 2 else (2, 3, 4)) > 0.7
    kpm = np.array([False, True, False, False])
    inputs = [normal((3, 4), np.float64, seed=1), normal((4, 4), np.float64, seed=2),
              normal((4, 4), np.float64, seed=3)]
    compare_modules_with_torch(mine, theirs, inputs, np.float64, tol(np.float64),
                     dict(attn_mask=sorix.tensor(mask), key_padding_mask=kpm),
                     dict(attn_mask=torch.tensor(mask), key_padding_mask=torch.tensor(kpm)))


def test_multihead_attention_fully_masked_row_as_torch():
    mine, theirs = _pair(4, 2, np.float64)
    x = normal((3, 1, 4), np.float64)
    kpm = np.ones((1, 3), bool)
    for need_weights in (True, False):  # NaN with weights (plain softmax), zeros without
        a = mine(x, x, x, key_padding_mask=kpm, need_weights=need_weights)[0].numpy()
        b = theirs(*[torch.tensor(x)] * 3, key_padding_mask=torch.tensor(kpm),
                   need_weights=need_weights)[0].detach().numpy()
        np.testing.assert_allclose(a, b, equal_nan=True, **tol(np.float64))


@pytest.mark.parametrize("kwargs", [{}, dict(kdim=3, vdim=2, bias=False), dict(add_bias_kv=True)])
def test_multihead_attention_state_dict_and_init(kwargs):
    sorix.manual_seed(0)
    mine = nn.MultiheadAttention(8, 2, **kwargs)
    theirs = torch.nn.MultiheadAttention(8, 2, **kwargs)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert tuple(mine.state_dict()[key].shape) == tuple(value.shape), key
        assert mine.state_dict()[key].dtype == sorix.float32
    if "bias" not in kwargs:
        assert np.all(mine.in_proj_bias.numpy() == 0) and np.all(mine.out_proj.bias.numpy() == 0)
        w = mine.in_proj_weight.numpy()
        assert np.abs(w).max() <= np.sqrt(6 / (24 + 8)) and w.std() > 0.2
    assert np.abs(mine.out_proj.weight.numpy()).max() <= 1 / np.sqrt(8)
    sorix.manual_seed(0)
    again = nn.MultiheadAttention(8, 2, **kwargs)
    for (name, a), (_, b) in zip(mine.state_dict().items(), again.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_multihead_attention_dropout_structure():
    sorix.manual_seed(1)
    layer = nn.MultiheadAttention(4, 2, dropout=0.5)
    x = sorix.tensor(normal((5, 2, 4), np.float32))
    kept = layer.eval()(x, x, x, average_attn_weights=False)[1].numpy()
    dropped = layer.train()(x, x, x, average_attn_weights=False)[1].numpy()
    zero = dropped == 0
    assert zero.any() and (~zero).any()
    np.testing.assert_allclose(dropped[~zero], 2 * kept[~zero], rtol=1e-6)
    again = layer.eval()(x, x, x, average_attn_weights=False)[1].numpy()
    np.testing.assert_array_equal(again, kept)


def test_multihead_attention_errors():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(TypeError, match="float32 or float64"):
        nn.MultiheadAttention(4, 2, dtype=sorix.int64)
    layer = nn.MultiheadAttention(4, 2)
    x = sorix.tensor(normal((3, 2, 4), np.float32))
    with pytest.raises(ValueError, match="batched 3-D"):
        layer(x[None], x[None], x[None])
    with pytest.raises(ValueError, match="query's 3 dimensions"):
        layer(x, x[0], x[0])
    with pytest.raises(sorix.errors.ShapeMismatchError, match="4 features"):
        layer(x[..., :3], x, x)
    with pytest.raises(TypeError, match="floating-point"):
        layer(np.ones((3, 2, 4), np.int64), x, x)
    with pytest.raises(TypeError, match="layer.to"):
        layer(x.double(), x.double(), x.double())
    with pytest.raises(RuntimeError, match="2D attn_mask"):
        layer(x, x, x, attn_mask=np.zeros((3, 2), bool))
    with pytest.raises(RuntimeError, match="3D attn_mask"):
        layer(x, x, x, attn_mask=np.zeros((2, 3, 3), bool))
    with pytest.raises(RuntimeError, match="key_padding_mask must have shape"):
        layer(x, x, x, key_padding_mask=np.zeros((3, 2), bool))
    with pytest.raises(TypeError, match="bool tensor"):
        layer(x, x, x, key_padding_mask=np.zeros((2, 3), np.int64))
    with pytest.raises(RuntimeError, match="needs attn_mask"):
        layer(x, x, x, is_causal=True)


# ---- TransformerEncoderLayer and TransformerEncoder --------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_first, activation, batch_first",
                         [(False, "relu", False), (True, "gelu", True), (True, "relu", False),
                          (False, "gelu", True)])
def test_encoder_layer_matches_torch_in_eval(norm_first, activation, batch_first, dtype):
    kw = dict(dim_feedforward=6, dropout=0.3, activation=activation, norm_first=norm_first,
              batch_first=batch_first)
    theirs = torch.nn.TransformerEncoderLayer(4, 2, dtype=tdtype(dtype), **kw).eval()
    mine = nn.TransformerEncoderLayer(4, 2, dtype=dtype, **kw).eval()
    _copy(mine, theirs)
    x = normal((2, 3, 4) if batch_first else (3, 2, 4), dtype, seed=4)
    mask = np.triu(np.ones((3, 3), bool), 1)
    kpm = np.array([[False, False, True], [False, False, False]])
    compare_modules_with_torch(
        mine, theirs, [x], dtype, tol(dtype), dict(src_mask=mask, src_key_padding_mask=kpm),
        dict(src_mask=torch.tensor(mask), src_key_padding_mask=torch.tensor(kpm)))


def test_encoder_stack_matches_torch():
    layer = torch.nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, dtype=torch.float64)
    theirs = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(4, dtype=torch.float64),
                                         enable_nested_tensor=False)
    mine = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0,
                                                            dtype=np.float64),
                                 2, norm=nn.LayerNorm(4, dtype=np.float64))
    _copy(mine, theirs)  # (the perturbation makes the two layers differ)
    mask = np.triu(np.full((3, 3), -np.inf), 1)
    compare_modules_with_torch(mine, theirs, [normal((3, 2, 4), np.float64)], np.float64,
                               tol(np.float64), dict(mask=mask, is_causal=True),
                               dict(mask=torch.tensor(mask), is_causal=True))
    assert mine.layers[0].linear1.weight is not mine.layers[1].linear1.weight


def test_encoder_layer_dropout_and_callable_activation():
    sorix.manual_seed(2)
    layer = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.5, activation=F.silu)
    x = sorix.tensor(normal((3, 2, 4), np.float32))
    a, b = layer(x).numpy(), layer(x).numpy()
    assert not np.allclose(a, b)
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), layer(x).numpy())
    assert layer.dropout.p == 0.5 and layer.self_attn.dropout == 0.5


def test_encoder_layer_errors():
    with pytest.raises(ValueError, match="relu' or 'gelu"):
        nn.TransformerEncoderLayer(4, 2, activation="tanh")
    with pytest.raises(TypeError, match="callable"):
        nn.TransformerEncoderLayer(4, 2, activation=3)
    with pytest.raises(ValueError, match="divisible"):
        nn.TransformerEncoderLayer(6, 4)
    layer = nn.TransformerEncoderLayer(4, 2, 8)
    with pytest.raises(sorix.errors.ShapeMismatchError, match="4 features"):
        layer(sorix.tensor(normal((3, 2, 5), np.float32)))
    with pytest.raises(TypeError, match="TransformerEncoderLayer"):
        nn.TransformerEncoder("layer", 2)
