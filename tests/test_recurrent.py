"""Recurrent layers (nn.RNN, LSTM, GRU and their cells) against PyTorch with the same
weights: outputs, final states and every gradient in float32 and float64, over layers,
directions, batch_first, bias, nonlinearity, unbatched input and given/omitted states;
second-order gradients, dropout, state_dict keys, initialisation, argument errors and a
short Adam training run compared loss by loss. Shapes are tiny."""
import numpy as np
import pytest

import sorix
import sorix.nn as nn

from conftest import DTYPES, normal

torch = pytest.importorskip("torch")

SEQ, BATCH, IN, HID = 4, 2, 3, 5


def tol(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)


def torch_dtype(dtype):
    return torch.float32 if dtype == np.float32 else torch.float64


def copy_weights(s_module, t_module):
    """Give the torch module sorix's parameter values (the keys must be the same)."""
    t_state = t_module.state_dict()
    assert list(s_module.state_dict()) == list(t_state)
    with torch.no_grad():
        for name, value in s_module.state_dict().items():
            t_state[name].copy_(torch.from_numpy(value.numpy().copy()))


def pair(kind, dtype, *args, **kwargs):
    """The sorix and the torch module of class ``kind``, with sorix's weights in both."""
    s = getattr(nn, kind)(*args, dtype=dtype, **kwargs)
    t = getattr(torch.nn, kind)(*args, dtype=torch_dtype(dtype), **kwargs)
    copy_weights(s, t)
    return s, t


def flat(result):
    """(output, h) or (output, (h, c)) or h or (h, c) as a flat list of tensors."""
    if not isinstance(result, (tuple, list)):
        return [result]
    return [leaf for part in result for leaf in flat(part)]


def compare(s, t, arrays, dtype, call=lambda m, x, *h: m(x, *h), seed=3):
    """Run both modules on the same leaves (``arrays``: input then states, None allowed),
    compare every result, back-propagate a random weighted sum of all results, compare
    the gradients of the inputs and of every parameter."""
    xs = [None if a is None else sorix.tensor(a, requires_grad=True) for a in arrays]
    xt = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    out_s, out_t = flat(call(s, *xs)), flat(call(t, *xt))
    assert len(out_s) == len(out_t)
    loss_s, loss_t = 0, 0
    for i, (a, b) in enumerate(zip(out_s, out_t)):
        assert tuple(a.shape) == tuple(b.shape), (i, tuple(a.shape), tuple(b.shape))
        assert a.data.dtype == dtype
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), err_msg=f"result {i}",
                                   **tol(dtype))
        w = normal(tuple(b.shape), dtype, seed + i)
        loss_s = loss_s + (a * sorix.tensor(w)).sum()
        loss_t = loss_t + (b * torch.from_numpy(w)).sum()
    loss_s.backward()
    loss_t.backward()
    for i, (a, b) in enumerate(zip(xs, xt)):
        if a is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(),
                                       err_msg=f"grad of input {i}", **tol(dtype))
    t_params = dict(t.named_parameters())
    for name, p in s.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(),
                                   err_msg=f"grad of {name}", **tol(dtype))
    return out_s


def states(kind, shape, dtype, seed=10):
    h = normal(shape, dtype, seed)
    return [h, normal(shape, dtype, seed + 1)] if kind == "LSTM" else [h]


def call_with_states(kind):
    """How to pass h0 (and c0) as PyTorch does: hx, or a tuple (h0, c0) for LSTM."""
    if kind == "LSTM":
        return lambda m, x, h, c: m(x, (h, c))
    return lambda m, x, h: m(x, h)


SEQUENCE_CASES = [
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("RNN", dict(nonlinearity="relu", bias=False)),
    ("RNN", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("LSTM", dict(batch_first=True, bias=False)),
    ("GRU", dict(bias=False, num_layers=2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("given", [False, True], ids=["no_h0", "h0"])
@pytest.mark.parametrize("kind, kwargs", SEQUENCE_CASES)
def test_sequence_against_torch(kind, kwargs, given, dtype):
    s, t = pair(kind, dtype, IN, HID, **kwargs)
    shape = (BATCH, SEQ, IN) if kwargs.get("batch_first") else (SEQ, BATCH, IN)
    x = normal(shape, dtype, 1)
    if not given:
        out = compare(s, t, [x], dtype)
    else:
        slots = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
        out = compare(s, t, [x] + states(kind, (slots, BATCH, HID), dtype), dtype,
                      call_with_states(kind))
    directions = 2 if kwargs.get("bidirectional") else 1
    assert tuple(out[0].shape) == shape[:2] + (directions * HID,)


@pytest.mark.parametrize("kind, kwargs", [("LSTM", dict(num_layers=2, bidirectional=True)),
                                          ("GRU", dict(batch_first=True)),
                                          ("RNN", dict(bidirectional=True))])
def test_unbatched_sequence(kind, kwargs):
    s, t = pair(kind, np.float64, IN, HID, **kwargs)
    slots = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    x = normal((SEQ, IN), np.float64, 1)  # (L, in) even with batch_first, as in PyTorch
    out = compare(s, t, [x] + states(kind, (slots, HID), np.float64), np.float64,
                  call_with_states(kind))
    assert tuple(out[1].shape) == (slots, HID)
    compare(s, t, [x], np.float64)


CELL_CASES = [("RNNCell", {}), ("RNNCell", dict(nonlinearity="relu")),
              ("RNNCell", dict(bias=False)), ("LSTMCell", {}), ("LSTMCell", dict(bias=False)),
              ("GRUCell", {}), ("GRUCell", dict(bias=False))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("kind, kwargs", CELL_CASES)
def test_cell_against_torch(kind, kwargs, batched, dtype):
    s, t = pair(kind, dtype, IN, HID, **kwargs)
    lead = (BATCH,) if batched else ()
    x = normal(lead + (IN,), dtype, 1)
    base = kind.replace("Cell", "")
    out = compare(s, t, [x] + states(base, lead + (HID,), dtype), dtype, call_with_states(base))
    assert tuple(out[0].shape) == lead + (HID,)
    compare(s, t, [x], dtype)  # hx omitted: zeros


def test_cell_runs_a_sequence_like_the_layer():
    """Stepping an LSTMCell with a one-layer LSTM's weights reproduces the LSTM."""
    layer, cell = nn.LSTM(IN, HID, dtype=sorix.float64), nn.LSTMCell(IN, HID, dtype=sorix.float64)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()}, strict=True)
    x = sorix.tensor(normal((SEQ, BATCH, IN), np.float64, 2))
    out, (h, c) = layer(x)
    state = None
    for t in range(SEQ):
        state = cell(x[t], state)
        np.testing.assert_allclose(state[0].numpy(), out[t].numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(state[1].numpy(), c[0].numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell"])
def test_second_order_gradients(kind):
    """grad of the input gradient (create_graph=True) matches torch's in float64."""
    s, t = pair(kind, np.float64, IN, HID)
    x, h = normal((BATCH, IN), np.float64, 1), normal((BATCH, HID), np.float64, 2)
    hx_s = sorix.tensor(h, requires_grad=True)
    hx_t = torch.tensor(h, requires_grad=True)
    xs, xt = sorix.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if kind == "LSTMCell":
        out_s, out_t = s(xs, (hx_s, hx_s * 0.5))[1], t(xt, (hx_t, hx_t * 0.5))[1]
    else:
        out_s, out_t = s(xs, hx_s), t(xt, hx_t)
    w, v = normal((BATCH, HID), np.float64, 3), normal((BATCH, IN), np.float64, 4)
    (gs,) = sorix.grad((out_s * sorix.tensor(w)).sum(), [xs], create_graph=True)
    (gt,) = torch.autograd.grad((out_t * torch.from_numpy(w)).sum(), [xt], create_graph=True)
    np.testing.assert_allclose(gs.numpy(), gt.detach().numpy(), rtol=1e-10, atol=1e-12)
    (gs * sorix.tensor(v)).sum().backward()
    (gt * torch.from_numpy(v)).sum().backward()
    for a, b in [(xs, xt), (hx_s, hx_t), (s.weight_hh, t.weight_hh), (s.bias_hh, t.bias_hh)]:
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-11)


# ---- dropout ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_eval_mode_dropout_is_no_dropout(kind):
    s, t = pair(kind, np.float64, IN, HID, num_layers=2, dropout=0.5)
    s.eval(), t.eval()
    compare(s, t, [normal((SEQ, BATCH, IN), np.float64, 1)], np.float64)


def test_train_mode_dropout_zeroes_and_rescales():
    """With layer 2 made the identity on its input (relu, W_ih = I, no recurrence, no
    bias), the output is exactly the dropped layer-1 output: each element 0 or scaled by
    1 / (1 - p), about p of them zero; the last layer's output is never dropped."""
    p, hidden = 0.3, 8
    rnn = nn.RNN(IN, hidden, num_layers=2, nonlinearity="relu", dropout=p,
                 dtype=sorix.float64)
    with sorix.no_grad():
        rnn.weight_ih_l1.copy_(sorix.tensor(np.eye(hidden)))
        for name in ("weight_hh_l1", "bias_ih_l1", "bias_hh_l1"):
            getattr(rnn, name).zero_()
    x = sorix.tensor(normal((20, 25, IN), np.float64, 1))
    rnn.eval()
    clean = rnn(x)[0].numpy()
    rnn.train()
    sorix.manual_seed(0)
    dropped = rnn(x)[0].numpy()
    positive = clean > 0
    kept = dropped[positive] != 0
    np.testing.assert_allclose(dropped[positive][kept], clean[positive][kept] / (1 - p),
                               rtol=1e-12)
    assert abs(1 - kept.mean() - p) < 0.05, kept.mean()
    sorix.manual_seed(0)
    np.testing.assert_array_equal(rnn(x)[0].numpy(), dropped)  # seeded: repeatable
    with pytest.warns(UserWarning, match="between recurrent layers"):
        one_layer = nn.GRU(IN, HID, dropout=0.5, dtype=sorix.float64)
    one_layer.train()
    np.testing.assert_array_equal(one_layer(x)[0].numpy(), one_layer.eval()(x)[0].numpy())


# ---- parameters --------------------------------------------------------------------------

@pytest.mark.parametrize("kind, kwargs", [("LSTM", dict(num_layers=3, bidirectional=True)),
                                          ("GRU", dict(num_layers=2, bias=False)),
                                          ("RNN", {}), ("LSTMCell", {}), ("GRUCell", {}),
                                          ("RNNCell", dict(bias=False))])
def test_state_dict_keys_shapes_and_init(kind, kwargs):
    s = getattr(nn, kind)(IN, HID, **kwargs)
    t = getattr(torch.nn, kind)(IN, HID, **kwargs)
    s_state, t_state = s.state_dict(), t.state_dict()
    assert list(s_state) == list(t_state)
    bound = 1 / np.sqrt(HID)
    for name, value in s_state.items():
        assert tuple(value.shape) == tuple(t_state[name].shape), name
        assert value.data.dtype == np.float32
        assert np.abs(value.numpy()).max() <= bound and np.unique(value.numpy()).size > 1
    assert [n for n, _ in s.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert repr(s) == repr(t)


def test_seeded_init_and_dtype():
    sorix.manual_seed(7)
    a = nn.LSTM(IN, HID, num_layers=2, dtype=sorix.float64)
    sorix.manual_seed(7)
    with pytest.raises(ValueError):
        nn.LSTM(IN, HID, num_layers=0)  # refused before drawing anything
    b = nn.LSTM(IN, HID, num_layers=2, dtype=sorix.float64)
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert p.data.dtype == np.float64
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)
    values = np.concatenate([p.numpy().ravel() for p in a.parameters()])
    assert values.min() < -0.8 / np.sqrt(HID) and values.max() > 0.8 / np.sqrt(HID)


# ---- errors ----------------------------------------------------------------------------

ERRORS = [
    (lambda: nn.RNN(IN, HID, nonlinearity="sigmoid"), ValueError, "nonlinearity"),
    (lambda: nn.RNNCell(IN, HID, nonlinearity="gelu"), ValueError, "nonlinearity"),
    (lambda: nn.GRU(IN, HID, num_layers=0), ValueError, "num_layers"),
    (lambda: nn.LSTM(IN, HID, dropout=1.5), ValueError, "dropout"),
    (lambda: nn.LSTM(IN, HID, dropout=-0.1), ValueError, "dropout"),
    (lambda: nn.LSTM(IN, 0), ValueError, "hidden_size"),
    (lambda: nn.GRU(IN, HID, dtype=sorix.int32), TypeError, "floating point"),
    (lambda: nn.LSTMCell(IN, HID, dtype=sorix.int64), TypeError, "floating point"),
    (lambda: nn.LSTM(IN, HID, proj_size=2), NotImplementedError, "proj_size"),
]


@pytest.mark.parametrize("make, error, match", ERRORS)
def test_constructor_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("make, name", [
    (lambda: nn.LSTM(3, 40, num_layers=2, bidirectional=True), "weight_ih_l1_reverse"),
    (lambda: nn.GRU(3, 40), "weight_hh_l0"),
    (lambda: nn.RNNCell(3, 40), "weight_ih"),
])
def test_init_reads_the_weights_fans_as_pytorch_does(make, name):
    # (out, in) weights: kaiming's bound uses fan_in = the second dimension
    weight = getattr(make(), name)
    nn.init.kaiming_uniform_(weight)
    fan_in = weight.shape[1]
    bound = np.sqrt(6.0 / fan_in)
    values = np.abs(weight.numpy())
    assert values.max() <= bound and values.max() > 0.9 * bound


def test_forward_errors_change_nothing():
    lstm = nn.LSTM(IN, HID, num_layers=2)
    before = {k: v.numpy().copy() for k, v in lstm.state_dict().items()}
    x = sorix.tensor(normal((SEQ, BATCH, IN), np.float32))
    h = sorix.tensor(normal((2, BATCH, HID), np.float32))
    bad = [
        (lambda: lstm(sorix.tensor(normal((SEQ, BATCH, IN + 1), np.float32))), ValueError,
         "input_size=3"),
        (lambda: lstm(sorix.tensor(normal((1, SEQ, BATCH, IN), np.float32))), ValueError,
         "4-D"),
        (lambda: lstm(sorix.tensor(np.ones((SEQ, BATCH, IN), np.int64))), TypeError,
         "floating-point"),
        (lambda: lstm(x.double()), TypeError, "parameters are float32"),
        (lambda: lstm(x, (h[:1], h)), ValueError, r"h_0 must have shape \(2, 2, 5\)"),
        (lambda: lstm(x, (h, h[:, :1])), ValueError, "c_0 must have shape"),
        (lambda: lstm(x, h), TypeError, r"tuple \(h_0, c_0\)"),
        (lambda: lstm(x[:, 0], (h, h)), ValueError, "unbatched"),
        (lambda: lstm(x[:0]), ValueError, "empty"),
        (lambda: nn.GRU(IN, HID)(x, h[:1, :1]), ValueError, "h_0 must have shape"),
        (lambda: nn.GRU(IN, HID)(x, (h[:1],)), TypeError, "only LSTM takes a pair"),
        (lambda: nn.GRUCell(IN, HID)(x[0], h[0, :1]), ValueError, "hx must have shape"),
        (lambda: nn.RNNCell(IN, HID)(x), ValueError, "last dimension"),
        (lambda: nn.LSTMCell(IN, HID)(x[0], h[0]), TypeError, r"tuple \(h, c\)"),
    ]
    for fn, error, match in bad:
        with pytest.raises(error, match=match):
            fn()
    for k, v in lstm.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
        assert getattr(lstm, k).grad is None


# ---- training --------------------------------------------------------------------------

def test_adam_training_matches_torch():
    """A GRU and a readout vector trained 6 Adam steps: the losses match torch's step by
    step and go down."""
    s, t = pair("GRU", np.float64, IN, HID, num_layers=2, batch_first=True)
    head = normal((HID,), np.float64, 5)
    head_s, head_t = sorix.tensor(head, requires_grad=True), torch.tensor(head, requires_grad=True)
    x, y = normal((BATCH, SEQ, IN), np.float64, 6), normal((BATCH, SEQ), np.float64, 7)
    xs, ys, xt, yt = sorix.tensor(x), sorix.tensor(y), torch.from_numpy(x), torch.from_numpy(y)
    opt_s = sorix.optim.Adam(list(s.parameters()) + [head_s], lr=0.05)
    opt_t = torch.optim.Adam(list(t.parameters()) + [head_t], lr=0.05)
    losses_s, losses_t = [], []
    for _ in range(6):
        opt_s.zero_grad(), opt_t.zero_grad()
        loss_s = (((s(xs)[0] @ head_s) - ys) ** 2).mean()
        loss_t = (((t(xt)[0] @ head_t) - yt) ** 2).mean()
        loss_s.backward(), loss_t.backward()
        opt_s.step(), opt_t.step()
        losses_s.append(loss_s.item()), losses_t.append(loss_t.item())
    np.testing.assert_allclose(losses_s, losses_t, rtol=1e-9)
    assert losses_s[-1] < losses_s[0]
