"""Sequence-model cases: an LSTM and a multi-head self-attention forward+backward.

Same conventions as cases.py (which lists these cases in its table): each
builder validates its implementation against the NumPy reference once,
warms it up and returns a zero-argument step callable.

- "LSTM": nn.LSTM(32, 64, num_layers=2), time-major input of 50 steps and
  batch 16, float32. One step is a user's loop body: zero_grad, forward of
  the whole sequence, backward of a fixed upstream gradient on the output
  into all eight parameters (not into the input, which is data). Recurrent
  layers are the slow case for an eager autograd: 50 small steps per
  layer, each a handful of graph nodes, so the per-op overhead shows.
- "MultiheadAttention": nn.MultiheadAttention(64, 4, batch_first=True) as
  self-attention on (16, 32, 64) float32, need_weights=False (what
  transformer layers ask for); backward of a fixed upstream gradient into
  in_proj_weight, in_proj_bias, out_proj.weight and out_proj.bias.

sorix and PyTorch share parameter names and layouts for both modules, so
the same NumPy arrays are copied into both by name. The NumPy references
are written multi-pass with a hand-written backward (through time, for the
LSTM); validation runs them in float64, and their float32 runs are the
"numpy" column.
"""
import numpy as np

from . import references as ref
from .cases import Unavailable, _torch, _warm

LSTM_STEPS, LSTM_BATCH, LSTM_IN, LSTM_HIDDEN, LSTM_LAYERS = 50, 16, 32, 64, 2
MHA_BATCH, MHA_TOKENS, MHA_EMBED, MHA_HEADS = 16, 32, 64, 4


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


# ---- LSTM: NumPy reference ------------------------------------------------------------------

def lstm_params(seed=ref.SEED):
    """PyTorch's names, layouts and init bound U(-1/sqrt(H), 1/sqrt(H)), gates i, f, g, o."""
    rng = np.random.default_rng(seed + 11)
    bound = 1 / np.sqrt(LSTM_HIDDEN)
    params = {}
    for layer in range(LSTM_LAYERS):
        columns = LSTM_IN if layer == 0 else LSTM_HIDDEN
        for name, shape in (("weight_ih", (4 * LSTM_HIDDEN, columns)),
                            ("weight_hh", (4 * LSTM_HIDDEN, LSTM_HIDDEN)),
                            ("bias_ih", (4 * LSTM_HIDDEN,)), ("bias_hh", (4 * LSTM_HIDDEN,))):
            params[f"{name}_l{layer}"] = rng.uniform(-bound, bound, shape).astype(np.float32)
    return params


def lstm_inputs():
    x = ref.random32((LSTM_STEPS, LSTM_BATCH, LSTM_IN), seed=ref.SEED + 12)
    g = ref.random32((LSTM_STEPS, LSTM_BATCH, LSTM_HIDDEN), seed=ref.SEED + 13)
    return x, g


def _lstm_layer(x, w_ih, w_hh, b):
    """One layer from zero state over x (L, N, in): outputs (L, N, H) and what backward needs."""
    steps, batch, _ = x.shape
    size = w_hh.shape[1]
    # the input projection of all steps at once; only h W_hh^T is sequential
    gi = (x.reshape(steps * batch, -1) @ w_ih.T + b).reshape(steps, batch, 4 * size)
    h = np.zeros((batch, size), x.dtype)
    c = np.zeros_like(h)
    saved = []
    out = np.empty((steps, batch, size), x.dtype)
    for t in range(steps):
        a = gi[t] + h @ w_hh.T
        i, f = _sigmoid(a[:, :size]), _sigmoid(a[:, size:2 * size])
        g, o = np.tanh(a[:, 2 * size:3 * size]), _sigmoid(a[:, 3 * size:])
        c_prev, h_prev = c, h
        c = f * c_prev + i * g
        tc = np.tanh(c)
        h = o * tc
        out[t] = h
        saved.append((i, f, g, o, tc, c_prev, h_prev))
    return out, saved


def _lstm_layer_backward(dout, x, w_ih, w_hh, saved, need_x):
    """Backward through time of _lstm_layer for output gradient dout (L, N, H):
    (dx or None, dW_ih, dW_hh, db) with db the gradient of each of b_ih and b_hh."""
    steps, batch, size = dout.shape
    dgates = np.empty((steps, batch, 4 * size), dout.dtype)
    dw_hh = np.zeros_like(w_hh)
    dh_next = np.zeros((batch, size), dout.dtype)
    dc_next = np.zeros_like(dh_next)
    for t in reversed(range(steps)):
        i, f, g, o, tc, c_prev, h_prev = saved[t]
        dh = dout[t] + dh_next
        dc = dh * o * (1 - tc * tc) + dc_next
        da = dgates[t]
        da[:, :size] = dc * g * i * (1 - i)
        da[:, size:2 * size] = dc * c_prev * f * (1 - f)
        da[:, 2 * size:3 * size] = dc * i * (1 - g * g)
        da[:, 3 * size:] = dh * tc * o * (1 - o)
        dw_hh += da.T @ h_prev
        dh_next = da @ w_hh
        dc_next = dc * f
    flat = dgates.reshape(steps * batch, 4 * size)
    dw_ih = flat.T @ x.reshape(steps * batch, -1)
    dx = (flat @ w_ih).reshape(x.shape) if need_x else None
    return dx, dw_ih, dw_hh, flat.sum(axis=0)


def lstm_numpy(params, x, g):
    """(output, grads keyed like params) of the stacked LSTM with output gradient g."""
    layers, inputs = [], [x]
    for k in range(LSTM_LAYERS):
        p = [params[f"{n}_l{k}"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        out, saved = _lstm_layer(inputs[-1], p[0], p[1], p[2] + p[3])
        layers.append(saved)
        inputs.append(out)
    grads, dout = {}, g
    for k in reversed(range(LSTM_LAYERS)):
        dout, dw_ih, dw_hh, db = _lstm_layer_backward(
            dout, inputs[k], params[f"weight_ih_l{k}"], params[f"weight_hh_l{k}"],
            layers[k], need_x=k > 0)  # the input is data: no gradient into layer 0's x
        grads.update({f"weight_ih_l{k}": dw_ih, f"weight_hh_l{k}": dw_hh,
                      f"bias_ih_l{k}": db, f"bias_hh_l{k}": db.copy()})
    return inputs[-1], grads


# ---- MultiheadAttention: NumPy reference ----------------------------------------------------

def mha_params(seed=ref.SEED):
    """PyTorch's layouts and weight bounds; the biases (zeros in PyTorch's init) drawn small
    instead, so that the forward check covers adding them."""
    rng = np.random.default_rng(seed + 21)
    E = MHA_EMBED

    def uniform(shape, bound):
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    return {"in_proj_weight": uniform((3 * E, E), np.sqrt(6 / (4 * E))),
            "in_proj_bias": uniform((3 * E,), 0.1),
            "out_proj.weight": uniform((E, E), 1 / np.sqrt(E)),
            "out_proj.bias": uniform((E,), 0.1)}


def mha_inputs():
    x = ref.random32((MHA_BATCH, MHA_TOKENS, MHA_EMBED), seed=ref.SEED + 22)
    g = ref.random32((MHA_BATCH, MHA_TOKENS, MHA_EMBED), seed=ref.SEED + 23)
    return x, g


def mha_numpy(params, x, g):
    """(output, grads keyed like params) of batch-first self-attention, output gradient g."""
    n, length, e = x.shape
    heads, d = MHA_HEADS, e // MHA_HEADS
    w_in, w_out = params["in_proj_weight"], params["out_proj.weight"]
    x2 = x.reshape(n * length, e)
    qkv = x2 @ w_in.T + params["in_proj_bias"]
    # (N*L, 3E) -> three (N, heads, L, d) blocks
    q, k, v = qkv.reshape(n, length, 3, heads, d).transpose(2, 0, 3, 1, 4)
    scale = 1 / np.sqrt(d)
    scores = q @ k.transpose(0, 1, 3, 2) * scale
    exp = np.exp(scores - scores.max(axis=-1, keepdims=True))
    p = exp / exp.sum(axis=-1, keepdims=True)
    merged = (p @ v).transpose(0, 2, 1, 3).reshape(n * length, e)
    y = merged @ w_out.T + params["out_proj.bias"]

    g2 = g.reshape(n * length, e)
    grads = {"out_proj.weight": g2.T @ merged, "out_proj.bias": g2.sum(axis=0)}
    dattn = (g2 @ w_out).reshape(n, length, heads, d).transpose(0, 2, 1, 3)
    dv = p.transpose(0, 1, 3, 2) @ dattn
    dp = dattn @ v.transpose(0, 1, 3, 2)
    dscores = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) * scale  # softmax backward
    dq = dscores @ k
    dk = dscores.transpose(0, 1, 3, 2) @ q
    dqkv = np.stack([dq, dk, dv]).transpose(1, 3, 0, 2, 4).reshape(n * length, 3 * e)
    grads["in_proj_weight"] = dqkv.T @ x2
    grads["in_proj_bias"] = dqkv.sum(axis=0)
    return y.reshape(n, length, e), grads


# ---- the shared step -----------------------------------------------------------------------

def _float64(arrays):
    return {k: v.astype(np.float64) for k, v in arrays.items()}


def _check(who, label, got, want):
    """got and want: (output, {name: grad}); a float32 result against the float64 reference.
    Gradients sum over batch and time: their tolerance is relative to their largest entry."""
    pairs = [("output", got[0], want[0])] + [(f"{k}.grad", got[1][k], v)
                                             for k, v in want[1].items()]
    for name, have, expected in pairs:
        ref.assert_close(have, expected, f"{who} {label} {name}", rtol=1e-4,
                         atol=1e-5 * max(float(np.abs(expected).max()), 1.0))


def _module_step(impl, module, params, x, g, forward):
    """The loop body a user writes (zero_grad, forward, backward of g) for ``module`` of
    library ``impl`` ("sorix" or "torch"), with ``params`` copied in by name.
    ``forward(module, x)`` returns the output; the step returns (output, grads)."""
    named = dict(module.named_parameters())
    if set(named) != set(params):
        raise AssertionError(f"{impl}: parameters {sorted(named)}, expected {sorted(params)}")
    if impl == "sorix":
        import sorix
        with sorix.no_grad():
            for k, v in params.items():
                named[k].data[...] = v
        tx, tg = sorix.tensor(x), sorix.tensor(g)

        def read(t):
            return t.data
    else:
        torch = _torch()
        with torch.no_grad():
            for k, v in params.items():
                named[k].copy_(torch.from_numpy(v))
        tx, tg = torch.from_numpy(x), torch.from_numpy(g)

        def read(t):
            return t.detach().numpy()
    module.train()

    def step():
        module.zero_grad()
        out = forward(module, tx)
        out.backward(tg)
        return read(out), {k: read(p.grad) for k, p in named.items()}

    return step


def _nn(impl):
    """The library's nn module: the same constructor arguments build both."""
    if impl == "sorix":
        from sorix import nn
        return nn
    return _torch().nn


def _lstm_forward(module, x):
    return module(x)[0]


def _mha_forward(module, x):
    return module(x, x, x, need_weights=False)[0]


def lstm_step(impl):
    params = lstm_params()
    x, g = lstm_inputs()
    want = lstm_numpy(_float64(params), x.astype(np.float64), g.astype(np.float64))
    if impl == "numpy":
        def step():
            return lstm_numpy(params, x, g)
    elif impl in ("sorix", "torch"):
        module = _nn(impl).LSTM(LSTM_IN, LSTM_HIDDEN, LSTM_LAYERS)
        step = _module_step(impl, module, params, x, g, _lstm_forward)
    else:
        raise Unavailable("no memory floor for a recurrent network")
    _check(impl, "LSTM", step(), want)
    return _warm(step)


def mha_step(impl):
    params = mha_params()
    x, g = mha_inputs()
    want = mha_numpy(_float64(params), x.astype(np.float64), g.astype(np.float64))
    if impl == "numpy":
        def step():
            return mha_numpy(params, x, g)
    elif impl in ("sorix", "torch"):
        module = _nn(impl).MultiheadAttention(MHA_EMBED, MHA_HEADS, batch_first=True)
        step = _module_step(impl, module, params, x, g, _mha_forward)
    else:
        raise Unavailable("no memory floor for attention")
    _check(impl, "MultiheadAttention", step(), want)
    return _warm(step)


def build(case, impl):
    if case == "lstm":
        return lstm_step(impl)
    if case == "mha":
        return mha_step(impl)
    raise KeyError(case)
