"""Sorix's protocol for optimizers written by users: flat buffers per parameter group.

A Sorix optimizer subclass calls ``super().__init__(params, lr)`` and overrides
``_perform_step()``, which updates ``group['_param_buffer']`` in place from
``group['_grad_buffer']`` (both one flat array per group, ``group['_xp']`` being
the array module) and keeps its statistics in ``group['state']``.

Parameters here are never views into those buffers (rebinding ``p.data`` to a
view would silently detach them after ``load_state_dict``, ``nn.init`` or a
second optimizer). Instead each step copies the parameters and gradients in,
runs ``_perform_step``, and writes the results back into each parameter's own
array, in place.
"""
import numpy as np

from ..kernels.backend import of

BUFFER_KEYS = ("_param_buffer", "_grad_buffer", "_xp")


def attach(group):
    """Give ``group`` its flat buffers (filled with the current values) and its ``state``."""
    params = group["params"]
    if not params:
        return
    for p in params:
        if not isinstance(p.data, np.ndarray):
            raise NotImplementedError("an optimizer that overrides _perform_step works on flat "
                                      "NumPy buffers: its parameters must be on the CPU")
    dtype = params[0].data.dtype
    total = sum(p.data.size for p in params)
    group["_param_buffer"] = np.empty(total, dtype)
    group["_grad_buffer"] = np.zeros(total, dtype)
    group["_xp"] = np
    group.setdefault("state", {})
    gather(group)


def gather(group):
    """Copy every parameter, and its gradient (zeros where there is none), into the buffers."""
    param_buffer, grad_buffer = group.get("_param_buffer"), group.get("_grad_buffer")
    if param_buffer is None:
        return
    start = 0
    for p in group["params"]:
        end = start + p.data.size
        param_buffer[start:end] = p.data.reshape(-1)
        grad = p.grad
        if grad is None:
            grad_buffer[start:end] = 0
        else:
            grad_buffer[start:end] = of(grad.data).to_host(grad.data).reshape(-1)
        start = end


def scatter(group):
    """Write the parameter buffer back into each parameter's own array."""
    param_buffer = group.get("_param_buffer")
    if param_buffer is None:
        return
    start = 0
    for p in group["params"]:
        end = start + p.data.size
        p.data[...] = param_buffer[start:end].reshape(p.data.shape)
        p._version[0] += 1
        start = end
