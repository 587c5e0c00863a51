"""Optimizer: parameter groups, per-parameter state and the step loop.

Subclasses give ``_update(p, grad, state, group)``, which runs one fused
kernel over flat views of the parameter and its state. Parameters are
always updated in place: the array a tensor holds is never replaced, so
models, initialisers and other optimizers keep seeing the same storage.

A subclass may instead follow Sorix's protocol for custom optimizers:
``super().__init__(params, lr)`` and an override of ``_perform_step()``
working on each group's flat buffers (see :mod:`.flat_buffers`).
"""
import copy
import numbers

import numpy as np

from ..autograd.grad_mode import enable_grad, no_grad
from ..kernels.backend import mixed_devices, of
from ..ops import core
from ..ops.transfer import move_array
from . import flat_buffers

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _check(condition, message):
    if not condition:
        raise ValueError(message)


class Optimizer:
    def __init__(self, params, defaults=None, weight_decay=0.0, *, lr=None):
        """``defaults``: the hyperparameters every group starts from (a dict), or, as in
        Sorix's ``Optimizer(params, lr, weight_decay)``, the learning rate."""
        if not isinstance(defaults, dict):
            if defaults is not None and lr is not None:
                raise TypeError("Optimizer got the learning rate twice (positionally and as lr=)")
            lr = defaults if defaults is not None else (1e-3 if lr is None else lr)
            if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
                raise TypeError(f"Optimizer(params, lr): lr must be a number, "
                                f"got {type(lr).__name__}")
            defaults = dict(lr=lr, weight_decay=weight_decay)
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        if isinstance(params, core.Tensor):
            raise TypeError("params must be an iterable of tensors or of dicts, not a Tensor; "
                            "wrap it in a list")
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    # ---- groups ------------------------------------------------------------------
    def _validate(self, group):
        """Subclasses check their hyperparameters and raise ValueError naming the value."""
        _check(group["lr"] >= 0.0, f"Invalid learning rate: {group['lr']}")

    def add_param_group(self, group):
        if not isinstance(group, dict):
            raise TypeError(f"a param group must be a dict, got {type(group).__name__}")
        group = dict(group)
        params = group.get("params")
        if isinstance(params, core.Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("params must be an ordered iterable, not a set: its order changes "
                            "between runs and would break state_dict loading")
        params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, core.Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor; optimize the leaves it was "
                                 "computed from")
            # Refused here, not at step(): a late refusal would come after other
            # parameters had already been updated.
            _check_dtype(p, f"parameter {i} of parameter group {len(self.param_groups)}")
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in existing for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError("some parameters appear in more than one parameter group")
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._validate(group)
        if self._uses_flat_buffers():
            flat_buffers.attach(group)
        self.param_groups.append(group)

    def _uses_flat_buffers(self):
        return type(self)._perform_step is not Optimizer._perform_step

    def _perform_step(self):
        """Sorix's extension point: update ``group['_param_buffer']`` for every group."""
        raise NotImplementedError

    # ---- stepping -------------------------------------------------------------
    def zero_grad(self, set_to_none=False):
        """Zero every gradient in place (Sorix's behaviour), or drop it with
        ``set_to_none=True`` (PyTorch's default; backward then makes fresh arrays)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif p.grad.grad_fn is not None:  # a gradient built with create_graph=True
                    p.grad = of(p.grad.data).zeros(p.grad.data.shape, p.grad.data.dtype)
                else:
                    of(p.grad.data).assign(p.grad.data, Ellipsis, 0)
                    p.grad._version[0] += 1

    def step(self, closure=None):
        """One update of every parameter with a gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        if self._uses_flat_buffers():
            with no_grad():
                for group in self.param_groups:
                    flat_buffers.gather(group)
                self._perform_step()
                for group in self.param_groups:
                    flat_buffers.scatter(group)
            return loss
        self._check_before_step()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state.get(p)
                    if state is None:
                        state = self.state[p] = self._init_state(p, group)
                    self._apply(p, state, group)
        return loss

    def _check_before_step(self):
        """Check every parameter that will be updated before updating any, so a bad one
        (its dtype changed by ``model.half()`` after the optimizer was built, a gradient
        of the wrong shape or device) never leaves the model half-stepped."""
        for g, group in enumerate(self.param_groups):
            for i, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                _check_dtype(p, f"parameter {i} of parameter group {g}")
                data, grad = p.data, p.grad.data
                if of(grad) is not of(data):
                    raise mixed_devices(of(data).DEVICE, of(grad).DEVICE)
                if grad.shape != data.shape:
                    raise RuntimeError(f"gradient of shape {tuple(grad.shape)} does not match "
                                       f"its parameter of shape {tuple(data.shape)} "
                                       f"(parameter {i} of parameter group {g})")

    def _apply(self, p, state, group):
        # dtype, device and gradient shape were checked by _check_before_step
        data = p.data
        grad = p.grad.data
        B = of(data)
        in_place = B.is_c_contiguous(data)
        flat = B.flat(data)  # a view of a contiguous parameter, else a copy
        g = B.flat(grad, data.dtype)
        self._update(flat, g, state, group, data.dtype.type)
        if not in_place:  # keep the parameter's own array
            B.assign(data, Ellipsis, B.reshape(flat, data.shape))
        p._version[0] += 1

    def _init_state(self, p, group):
        return {}

    def _update(self, p, grad, state, group, kind):
        raise NotImplementedError

    #: (float type, hyperparameter values) -> those values as NumPy scalars, shared by
    #: every optimizer. Bounded: a schedule that sets a new lr each step adds an entry
    #: per step, and a few hundred entries cover any fixed set of groups.
    _scalar_cache = {}
    _SCALAR_CACHE_SIZE = 256

    @classmethod
    def _as_scalars(cls, kind, *values):
        """``values`` (hyperparameters) as scalars of the parameter's float type ``kind``,
        so a float32 update never computes in float64. Plain Python numbers are
        memoised (making a NumPy scalar costs more than updating a small parameter);
        anything else (a tensor or array used as lr ...) is converted at every call,
        since its value can change in place."""
        key = (kind, values)
        for v in values:
            if type(v) is not float and type(v) is not int:
                return tuple([kind(v) for v in values])
        found = cls._scalar_cache.get(key)
        if found is None:
            if len(cls._scalar_cache) >= cls._SCALAR_CACHE_SIZE:
                cls._scalar_cache.clear()
            found = cls._scalar_cache[key] = tuple([kind(v) for v in values])
        return found

    @staticmethod
    def _optional(state, key, p):
        found = state.get(key)
        return of(p).nothing(p.dtype) if found is None else found

    @staticmethod
    def _zeros(p, size):
        """New optimizer state for parameter tensor ``p``: zeros on its device, in its dtype."""
        return of(p.data).zeros((size,), p.data.dtype)

    # ---- state dicts ------------------------------------------------------------------
    def state_dict(self):
        """A copy of the state and hyperparameters; parameters appear as indices."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: (copy.deepcopy(v) if k == "state" else v) for k, v in group.items()
                      if k != "params" and k not in flat_buffers.BUFFER_KEYS}
            packed["params"] = []
            for p in group["params"]:
                index[id(p)] = len(index)
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for p, values in self.state.items():
            state[index[id(p)]] = {k: core.Tensor._wrap(_copy_shaped(v, p.data.shape))
                                   if _is_array(v) else v for k, v in values.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore a :meth:`state_dict`; training then continues exactly as it would have."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        params = []
        for mine, theirs in zip(self.param_groups, groups):
            if len(mine["params"]) != len(theirs["params"]):
                raise ValueError("loaded state dict has a parameter group of size "
                                 f"{len(theirs['params'])} where this optimizer's has "
                                 f"{len(mine['params'])}")
            params.extend(zip(theirs["params"], mine["params"]))
        new_state = {}
        for key, p in params:
            saved = state_dict["state"].get(key, state_dict["state"].get(str(key)))
            if saved is None:
                continue
            restored = {}
            for name, value in saved.items():
                if isinstance(value, core.Tensor) or _is_array(value):
                    array = value.data if isinstance(value, core.Tensor) else value
                    if array.size != p.data.size:
                        raise ValueError(f"state '{name}' has {array.size} elements but its "
                                         f"parameter has {p.data.size}")
                    # on the parameter's device, whichever device the state was saved from
                    array = move_array(array, p.device)
                    B = of(array)
                    restored[name] = B.reshape(B.copy(array, p.data.dtype), (-1,))
                else:
                    restored[name] = value
            new_state[p] = restored
        new_groups = []
        for mine, theirs in zip(self.param_groups, groups):
            group = dict(theirs)
            if "state" in group:  # a custom optimizer's statistics: its own copy
                group["state"] = copy.deepcopy(group["state"])
            group["params"] = mine["params"]
            for key in flat_buffers.BUFFER_KEYS:  # this optimizer's own buffers stay
                if key in mine:
                    group[key] = mine[key]
            new_groups.append(group)
        self.param_groups = new_groups
        self.state = new_state

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _check_dtype(p, where):
    if p.data.dtype not in _FLOATS:
        raise TypeError(f"optimizers update float32 and float64 parameters, but {where} is "
                        f"{p.dtype}; convert it with .float() (or .double()) before "
                        "building the optimizer")


def _is_array(value):
    return isinstance(value, np.ndarray) or core.is_device_array(value)


def _copy_shaped(array, shape):
    B = of(array)
    return B.copy(B.reshape(array, shape))
