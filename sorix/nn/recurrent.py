"""Multi-layer recurrent networks: RNN, LSTM and GRU with PyTorch's arguments, shapes,
parameter names and initialisation (the cells live in ``recurrent_cells``).

Layer k, direction d has ``weight_ih_l{k}`` (gates * hidden, in_k), ``weight_hh_l{k}``
(gates * hidden, hidden), ``bias_ih_l{k}``, ``bias_hh_l{k}``, with a
``_reverse`` suffix for the backward direction, registered in PyTorch's order
so ``state_dict()`` keys (and a state dict saved from PyTorch) match. Every
parameter starts from U(-1/sqrt(hidden), 1/sqrt(hidden)) drawn with sorix's
generator.

Speed: the input projection x W_ih^T (+ biases) of a whole layer and
direction is one matmul over all time steps; only the hidden projection
h W_hh^T runs per step. Built from ordinary Tensor ops, so higher-order
gradients and CUDA tensors work as for any other sorix code.
"""
import numbers
import warnings

from ..factories import zeros
from ..functions import cat, stack
from . import functional as F
from .module import Module, check_device
from .recurrent_cells import (GATES, GRUCell, LSTMCell, RNNCell, check_float_input,
                              draw_parameter, param_dtype, positive_int, rnn_mode, step)

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]


def _dropout_probability(dropout, owner):
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) \
            or not 0.0 <= dropout <= 1.0:
        raise ValueError(f"{owner}: dropout must be a number in [0, 1] (the probability of "
                         f"zeroing an element between layers), got {dropout!r}")
    return float(dropout)


class RNNBase(Module):
    """What RNN, LSTM and GRU share: parameters, state checks, the layer/direction loop."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        owner = type(self).__name__
        # every check before any parameter is drawn: a bad argument leaves no half-built
        # module and consumes no random numbers
        input_size = positive_int(input_size, "input_size", owner)
        hidden_size = positive_int(hidden_size, "hidden_size", owner)
        if isinstance(num_layers, bool) or not isinstance(num_layers, numbers.Integral) \
                or num_layers < 1:
            raise ValueError(f"{owner}: num_layers must be an int >= 1, got {num_layers!r}")
        dropout = _dropout_probability(dropout, owner)
        if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral) \
                or proj_size < 0:
            raise ValueError(f"{owner}: proj_size must be an int >= 0, got {proj_size!r}")
        if proj_size > 0:
            raise NotImplementedError(f"{owner}: proj_size > 0 (LSTM projections) is not "
                                      "supported by sorix; use proj_size=0 and a Linear layer "
                                      "on the output instead")
        dtype = param_dtype(dtype, owner)
        device = check_device("cpu" if device is None else device)
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{owner}: dropout is applied between recurrent layers only, so "
                          f"dropout={dropout} does nothing with num_layers=1", UserWarning,
                          stacklevel=3)
        self.mode = mode
        self.input_size, self.hidden_size = input_size, hidden_size
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = dropout
        self.bidirectional = bool(bidirectional)
        self.proj_size = 0
        self.device = device
        rows = GATES[mode] * hidden_size
        directions = 2 if self.bidirectional else 1
        names = [f"{stem}_l{layer}{suffix}" for layer in range(self.num_layers)
                 for suffix in ("", "_reverse")[:directions] for stem in ("weight_ih", "weight_hh")]
        # PyTorch's (out, in) layout: nn.init's fans must read them as PyTorch does
        self._pytorch_layout_weights = tuple(names)
        names = []
        for layer in range(self.num_layers):
            columns = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                shapes = [("weight_ih", (rows, columns)), ("weight_hh", (rows, hidden_size))]
                if self.bias:
                    shapes += [("bias_ih", (rows,)), ("bias_hh", (rows,))]
                for stem, shape in shapes:
                    name = f"{stem}_l{layer}{suffix}"
                    setattr(self, name, draw_parameter(shape, hidden_size, dtype, device))
                    names.append(name)
        self._flat_weights_names = names

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    @property
    def all_weights(self):
        """The parameters per layer and direction, [[w_ih, w_hh, b_ih, b_hh], ...]."""
        per = 4 if self.bias else 2
        flat = [getattr(self, name) for name in self._flat_weights_names]
        return [flat[i:i + per] for i in range(0, len(flat), per)]

    def flatten_parameters(self):
        """A no-op, for PyTorch code (sorix keeps no fused weight buffer)."""

    # ---- states ----------------------------------------------------------------------
    def _check_state(self, value, name, x, unbatched):
        """``value`` (h0 or c0) as (layers * directions, N, hidden), checked."""
        owner = type(self).__name__
        slots, batch = self.num_layers * self.num_directions, x.shape[1]
        value = check_float_input(value, self.weight_ih_l0, name, owner)
        want = (slots, self.hidden_size) if unbatched else (slots, batch, self.hidden_size)
        if tuple(value.shape) != want:
            layout = ("(num_layers * num_directions, hidden_size) for unbatched input"
                      if unbatched else "(num_layers * num_directions, batch, hidden_size)")
            raise ValueError(f"{owner}: {name} must have shape {want} = {layout}, got "
                             f"{tuple(value.shape)}")
        return value.unsqueeze(1) if unbatched else value

    def _initial(self, hx, x, unbatched):
        """The per-(layer, direction) start states: h, or (h, c) for LSTM."""
        owner = type(self).__name__
        slots = self.num_layers * self.num_directions
        if hx is None:
            zero = zeros((x.shape[1], self.hidden_size), dtype=x.dtype, device=x.device)
            return [(zero, zero) if self.mode == "LSTM" else zero] * slots
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{owner}: hx must be a tuple (h_0, c_0) of two tensors, got "
                                f"{type(hx).__name__}")
            h = self._check_state(hx[0], "h_0", x, unbatched)
            c = self._check_state(hx[1], "c_0", x, unbatched)
            return [(h[k], c[k]) for k in range(slots)]
        if isinstance(hx, (tuple, list)):
            raise TypeError(f"{owner}: hx must be one tensor h_0, not a {type(hx).__name__} "
                            "(only LSTM takes a pair (h_0, c_0))")
        h = self._check_state(hx, "h_0", x, unbatched)
        return [h[k] for k in range(slots)]

    # ---- forward ---------------------------------------------------------------------
    def _direction(self, x, layer, reverse, state):
        """Run one layer in one direction over x (L, N, in): outputs (L, N, H), final state."""
        suffix = f"_l{layer}" + ("_reverse" if reverse else "")
        w_ih = getattr(self, "weight_ih" + suffix)
        w_hh = getattr(self, "weight_hh" + suffix)
        b_ih = getattr(self, "bias_ih" + suffix, None)
        b_hh = getattr(self, "bias_hh" + suffix, None)
        steps, batch, columns = x.shape
        gi = x.reshape((steps * batch, columns)) @ w_ih.T
        per_step_bias = None
        if b_ih is not None:
            if self.mode == "GRU":  # b_hn is gated by r, so b_hh must stay in the step
                gi, per_step_bias = gi + b_ih, b_hh
            else:  # both biases simply add: fold them into the one big projection
                gi = gi + (b_ih + b_hh)
        gi = gi.reshape((steps, batch, w_ih.shape[0]))
        w_hh_t = w_hh.T  # transposed once, not per step
        outputs = [None] * steps
        for t in (reversed(range(steps)) if reverse else range(steps)):
            state = step(self.mode, gi[t], state, w_hh_t, per_step_bias)
            outputs[t] = state[0] if self.mode == "LSTM" else state
        return stack(outputs, 0), state

    def forward(self, input, hx=None):
        """``(output, h_n)``, or ``(output, (h_n, c_n))`` for LSTM: every step's last-layer
        state (both directions side by side) and each layer's final state."""
        owner = type(self).__name__
        x = check_float_input(input, self.weight_ih_l0, "input", owner)
        if x.ndim not in (2, 3):
            raise ValueError(f"{owner}: expected 3-D input (seq_len, batch, {self.input_size}) "
                             f"(or (batch, seq_len, {self.input_size}) with batch_first=True) "
                             f"or unbatched 2-D (seq_len, {self.input_size}), got "
                             f"{x.ndim}-D input of shape {tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{owner}: input has {x.shape[-1]} features in its last "
                             f"dimension, expected input_size={self.input_size}: "
                             f"got shape {tuple(x.shape)}")
        unbatched = x.ndim == 2
        if unbatched:  # (L, in) is time-major whatever batch_first says, as in PyTorch
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[0] == 0:
            raise ValueError(f"{owner}: the input sequence is empty (seq_len 0): give at "
                             "least one time step")
        states = self._initial(hx, x, unbatched)
        finals = []
        for layer in range(self.num_layers):
            if layer and self.training and self.dropout > 0:
                x = F.dropout(x, self.dropout, True)
            outputs = []
            for direction in range(self.num_directions):
                slot = layer * self.num_directions + direction
                out, final = self._direction(x, layer, direction == 1, states[slot])
                outputs.append(out)
                finals.append(final)
            x = outputs[0] if len(outputs) == 1 else cat(outputs, 2)
        if unbatched:
            x = x[:, 0]
        elif self.batch_first:
            x = x.transpose(0, 1)

        def gather(states):
            stacked = stack(states, 0)
            return stacked[:, 0] if unbatched else stacked

        if self.mode == "LSTM":
            return x, (gather([h for h, _ in finals]), gather([c for _, c in finals]))
        return x, gather(finals)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu.

    Input (L, N, input_size), (N, L, input_size) with ``batch_first``, or
    unbatched (L, input_size); ``h_0`` (num_layers * num_directions, N,
    hidden_size), zeros when omitted. Returns (output, h_n): output
    (L, N, num_directions * hidden_size), each layer's last state in h_n."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None,
                 dtype=None):
        mode = rnn_mode(nonlinearity, "RNN")
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self):
        text = super().extra_repr()
        return text + (", nonlinearity=relu" if self.nonlinearity == "relu" else "")


class LSTM(RNNBase):
    """Long short-term memory: per step the gates i, f, g, o of :class:`LSTMCell`.

    ``hx`` is a tuple (h_0, c_0), each (num_layers * num_directions, N,
    hidden_size); returns (output, (h_n, c_n)). ``proj_size > 0`` is not
    supported (NotImplementedError)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit: per step the gates r, z, n of :class:`GRUCell`.
    Returns (output, h_n) as :class:`RNN` does."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)
