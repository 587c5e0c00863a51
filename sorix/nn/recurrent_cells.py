"""Recurrent cells (RNNCell, LSTMCell, GRUCell) and the step functions that RNN, LSTM and
GRU share with them.

Parameters follow PyTorch's names, layout and initialisation, so weights and
``state_dict`` keys move between the two unchanged: ``weight_ih``
(gates * hidden_size, input_size), ``weight_hh`` (gates * hidden_size,
hidden_size), ``bias_ih`` and ``bias_hh`` (gates * hidden_size,), all drawn
from U(-k, k) with k = 1 / sqrt(hidden_size) by ``sorix.random.generator()``
(so ``sorix.manual_seed`` repeats them), on the host and then moved to the
device. Gate order is PyTorch's: LSTM (i, f, g, o), GRU (r, z, n).

Everything is built from ordinary Tensor ops (matmul, slicing, tanh,
sigmoid, relu, + and *), so gradients of any order and CUDA tensors work
without kernels of their own.
"""
import math

import numpy as np

from ..dtypes import numpy_dtype
from ..factories import zeros
from ..ops.losses import as_tensor
from ..tensor import Tensor
from .conv import _uniform
from .module import Module, check_device

#: number of gate blocks stacked in weight_ih / weight_hh, by mode (PyTorch's mode names)
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def positive_int(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def param_dtype(dtype, owner):
    """``dtype`` (None: float32) as a NumPy float dtype for ``owner``'s parameters."""
    found = np.dtype(np.float32) if dtype is None else np.dtype(numpy_dtype(dtype))
    if found.kind != "f":
        raise TypeError(f"{owner} parameters must be floating point, got dtype={found}: "
                        "pass dtype=sorix.float32 or sorix.float64")
    return found


def rnn_mode(nonlinearity, owner):
    if nonlinearity == "tanh":
        return "RNN_TANH"
    if nonlinearity == "relu":
        return "RNN_RELU"
    raise ValueError(f"{owner}: unknown nonlinearity {nonlinearity!r}: use 'tanh' or 'relu'")


def draw_parameter(shape, hidden_size, dtype, device):
    """A U(-1/sqrt(hidden), 1/sqrt(hidden)) leaf, drawn on the host (the same values on
    every device for one seed) in float32/float64 and cast for other float types."""
    bound = 1.0 / math.sqrt(hidden_size)
    draw = np.float32 if dtype == np.float32 else np.float64
    values = _uniform(shape, bound, draw).astype(dtype, copy=False)
    return Tensor(values, requires_grad=True, device=device)


def check_float_input(x, param, what, owner):
    """``x`` as a tensor of ``param``'s float dtype, or a TypeError saying how to fix it."""
    x = as_tensor(x)
    have, want = x.data.dtype, param.data.dtype
    if have.kind != "f":
        raise TypeError(f"{owner}: {what} must be a floating-point tensor, got {have}: "
                        f"convert it with .to(sorix.{want.name})")
    if have != want:
        raise TypeError(f"{owner}: {what} has dtype {have} but the parameters are {want}: "
                        f"convert the input with .to(sorix.{want.name}) or the module "
                        f"with .to(sorix.{have.name})")
    return x


def hidden_part(h, w_hh_t, b_hh):
    gh = h @ w_hh_t
    return gh if b_hh is None else gh + b_hh


def step(mode, gi, state, w_hh_t, b_hh):
    """One time step: ``gi`` (N, G*H) is the input projection x W_ih^T + b_ih (plus b_hh
    when the caller folded it in, which GRU never does: its b_hn sits inside r * (...)),
    ``state`` h (N, H), or (h, c) for LSTM; returns the new state."""
    if mode == "LSTM":
        h, c = state
        gates = gi + hidden_part(h, w_hh_t, b_hh)
        size = h.shape[-1]
        # one sigmoid over all four blocks costs less than three separate graph nodes
        s = gates.sigmoid()
        i, f, o = s[:, :size], s[:, size:2 * size], s[:, 3 * size:]
        g = gates[:, 2 * size:3 * size].tanh()
        c = f * c + i * g
        return o * c.tanh(), c
    if mode == "GRU":
        h = state
        size = h.shape[-1]
        gh = hidden_part(h, w_hh_t, b_hh)
        rz = (gi[:, :2 * size] + gh[:, :2 * size]).sigmoid()
        r, z = rz[:, :size], rz[:, size:]
        n = (gi[:, 2 * size:] + r * gh[:, 2 * size:]).tanh()
        return n + z * (h - n)  # = (1 - z) n + z h
    pre = gi + hidden_part(state, w_hh_t, b_hh)
    return pre.tanh() if mode == "RNN_TANH" else pre.relu()


class RNNCellBase(Module):
    """What the three cells share: parameters, argument and shape checks, repr."""

    _mode = None
    _pytorch_layout_weights = ("weight_ih", "weight_hh")  # (out, in): PyTorch's fans in init

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        owner = type(self).__name__
        self.input_size = positive_int(input_size, "input_size", owner)
        self.hidden_size = positive_int(hidden_size, "hidden_size", owner)
        dtype = param_dtype(dtype, owner)
        self.device = check_device("cpu" if device is None else device)
        self.bias = bool(bias)
        rows = GATES[self._mode] * self.hidden_size
        self.weight_ih = draw_parameter((rows, self.input_size), self.hidden_size, dtype, device)
        self.weight_hh = draw_parameter((rows, self.hidden_size), self.hidden_size, dtype,
                                        device)
        if self.bias:
            self.bias_ih = draw_parameter((rows,), self.hidden_size, dtype, device)
            self.bias_hh = draw_parameter((rows,), self.hidden_size, dtype, device)
        else:
            self.bias_ih = self.bias_hh = None

    def _input(self, x):
        """``x`` as (N, input_size) and whether it came unbatched (1-D)."""
        owner = type(self).__name__
        x = check_float_input(x, self.weight_ih, "input", owner)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{owner}: expected input of shape (batch, {self.input_size}) or "
                             f"({self.input_size},), got {tuple(x.shape)}: the last dimension "
                             "must be input_size")
        return (x.unsqueeze(0), True) if x.ndim == 1 else (x, False)

    def _state(self, hx, x, unbatched, what):
        """``hx`` (or zeros) as (N, hidden_size), checked against the input's batch."""
        owner = type(self).__name__
        batch = x.shape[0]
        if hx is None:
            return zeros((batch, self.hidden_size), dtype=x.dtype, device=x.device)
        hx = check_float_input(hx, self.weight_ih, what, owner)
        want = (self.hidden_size,) if unbatched else (batch, self.hidden_size)
        if tuple(hx.shape) != want:
            raise ValueError(f"{owner}: {what} must have shape {want} to match the input "
                             f"({'unbatched' if unbatched else f'batch {batch}'}), got "
                             f"{tuple(hx.shape)}")
        return hx.unsqueeze(0) if unbatched else hx

    def _projection(self, x):
        gi = x @ self.weight_ih.T
        return gi if self.bias_ih is None else gi + self.bias_ih

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if self._mode == "RNN_RELU":
            text += ", nonlinearity=relu"
        return text


class RNNCell(RNNCellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act tanh or relu.

    Input (N, input_size) or unbatched (input_size,); ``hx`` of matching
    shape with hidden_size features, zeros when omitted. Returns h'."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        self._mode = rnn_mode(nonlinearity, "RNNCell")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        x, unbatched = self._input(input)
        h = self._state(hx, x, unbatched, "hx")
        h = step(self._mode, self._projection(x), h, self.weight_hh.T, self.bias_hh)
        return h[0] if unbatched else h


class LSTMCell(RNNCellBase):
    """Gates i, f, g, o from x W_ih^T + b_ih + h W_hh^T + b_hh (sigmoid, sigmoid, tanh,
    sigmoid); c' = f c + i g, h' = o tanh(c').

    ``hx`` is a tuple (h, c) (zeros when omitted); returns (h', c')."""

    _mode = "LSTM"

    def forward(self, input, hx=None):
        x, unbatched = self._input(input)
        if hx is None:
            hx = (None, None)
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError("LSTMCell: hx must be a tuple (h, c) of two tensors, got "
                            f"{type(hx).__name__}")
        h = self._state(hx[0], x, unbatched, "h")
        c = self._state(hx[1], x, unbatched, "c")
        h, c = step("LSTM", self._projection(x), (h, c), self.weight_hh.T, self.bias_hh)
        return (h[0], c[0]) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z likewise,
    n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h. Returns h'."""

    _mode = "GRU"

    def forward(self, input, hx=None):
        x, unbatched = self._input(input)
        h = self._state(hx, x, unbatched, "hx")
        h = step("GRU", self._projection(x), h, self.weight_hh.T, self.bias_hh)
        return h[0] if unbatched else h
