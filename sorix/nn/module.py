"""``Module``: the base class of layers and models.

A module's state is found in its attributes, as Sorix users write it:

- a Module held in an attribute, a list, a tuple or a dict is a child
  (named ``block``, ``layers.1`` or ``blocks.name``);
- a leaf tensor with ``requires_grad=True`` (or a :class:`Parameter`)
  assigned to an attribute, or held in a list or dict, is a parameter;
  one assigned to an attribute stays a parameter when it is later frozen
  (``requires_grad = False``), so freezing never changes ``state_dict``;
- ``register_buffer`` declares state that is saved but not trained
  (BatchNorm's running statistics); any other tensor held in a public
  attribute is saved too, as Sorix saves it;
- a plain object (not a Module) held in an attribute is looked into, as
  Sorix does: its parameters are the model's, its tensors are state.

Everything lives in the instance ``__dict__`` (attribute access is plain
Python, and lists appended to after assignment are still seen); only the
names of parameters and buffers are recorded when they are assigned.
"""
import types
import warnings
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from .. import dtypes as _dtypes
from ..device import device as _device
from ..kernels.backend import of
from ..ops.transfer import move_array
from ..tensor import Tensor
from . import init as _init
from .parameter import is_parameter

# Bookkeeping attributes that are never parameters, buffers or children.
_INTERNAL = frozenset({"_param_names", "_buffer_names", "training", "_items"})


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


def _checkpoint_array(value):
    """``value`` (a list or number from a checkpoint) as a NumPy array of numbers, or None
    when it holds anything else (text, None, ragged lists)."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):  # ragged lists
        return None
    return array if array.dtype.kind in "biuf" else None


class _ParameterList(list):
    """The result of ``parameters()``: a list (Sorix returns one, and code
    indexes it) that also answers ``next()`` like PyTorch's generator
    (``next(model.parameters())``)."""

    def __next__(self):
        position = getattr(self, "_position", 0)
        if position >= len(self):
            raise StopIteration
        self._position = position + 1
        return self[position]


def check_device(device):
    """The name of ``device`` ('cpu', 'cuda', 'cuda:0'), which must be usable: asking for
    'cuda' without a usable GPU raises sorix.cuda's RuntimeError."""
    spec = _device(device)
    if spec.type != "cpu":
        from .. import cuda
        cuda.require(spec)
    return str(spec)


def _check_name(name, kind):
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
    if not name or "." in name:
        raise KeyError(f"{kind} name {name!r} must be non-empty and contain no '.'")


#: Objects that are never looked into for state: code, classes and Python modules.
_OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
           types.MethodType, np.ndarray, np.generic)


def _is_plain_object(value):
    """A user's own object holding state in its ``__dict__`` (not a Module or container)."""
    return hasattr(value, "__dict__") and not isinstance(value, _OPAQUE)


def _walk_container(prefix, container, seen):
    """(kind, dotted name, value) for modules and parameters inside lists, tuples and dicts,
    and for modules, parameters and tensors (as buffers) in plain objects' public attributes."""
    if id(container) in seen:
        return
    seen.add(id(container))
    plain = not isinstance(container, (list, tuple, dict))
    if plain:
        items = [(k, v) for k, v in vars(container).items() if not k.startswith("_")]
    else:
        items = container.items() if isinstance(container, dict) else enumerate(container)
    for key, value in items:
        name = f"{prefix}.{key}"
        if isinstance(value, Module):
            yield "module", name, value
        elif isinstance(value, Tensor):
            if is_parameter(value):
                yield "param", name, value
            elif plain:
                yield "buffer", name, value
        elif isinstance(value, (list, tuple, dict)) or _is_plain_object(value):
            yield from _walk_container(name, value, seen)


def _indent(text, spaces):
    lines = text.split("\n")
    return "\n".join(lines[:1] + [" " * spaces + line for line in lines[1:]])


class Module:
    """Base class for all layers and models: subclass it and define ``forward``."""

    #: Class-level defaults, so a subclass that forgets ``super().__init__()`` still works.
    training = True
    device = "cpu"  # Sorix modules carry their device name
    #: Attributes holding a weight in PyTorch's (out, in, ...) layout (a convolution's
    #: ``weight``): whatever tensor they hold gets PyTorch's fans in ``nn.init``.
    _pytorch_layout_weights = ()

    def __init__(self):
        object.__setattr__(self, "_param_names", {})   # name -> None: an ordered set
        object.__setattr__(self, "_buffer_names", {})  # name -> persistent (bool)
        object.__setattr__(self, "training", True)

    # ---- registration ----------------------------------------------------------
    def _registry(self, which):
        found = self.__dict__.get(which)
        if found is None:
            found = self.__dict__[which] = {}
        return found

    def __setattr__(self, name, value):
        buffers = self._registry("_buffer_names")
        params = self._registry("_param_names")
        if name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to buffer {name!r}: "
                                "a buffer holds a Tensor or None")
        else:
            params.pop(name, None)
            if is_parameter(value):
                params[name] = None
        if name in self._pytorch_layout_weights and isinstance(value, Tensor):
            _init.mark_pytorch_layout(value)
        object.__setattr__(self, name, value)

    def __setstate__(self, state):
        # (unpickling restores __dict__ without __setattr__: the weights' layout is
        # recorded again)
        self.__dict__.update(state)
        for name in self._pytorch_layout_weights:
            value = state.get(name)
            if isinstance(value, Tensor):
                _init.mark_pytorch_layout(value)

    def __delattr__(self, name):
        self._registry("_param_names").pop(name, None)
        self._registry("_buffer_names").pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor, persistent=True):
        """Hold ``tensor`` as saved, untrained state; ``persistent=False`` keeps it out of state_dict."""
        _check_name(name, "buffer")
        if name in self._registry("_param_names"):
            raise KeyError(f"attribute {name!r} is already a parameter")
        if tensor is not None and not isinstance(tensor, Tensor):
            if not isinstance(tensor, np.ndarray):
                raise TypeError(f"buffer {name!r} must be a Tensor or None, "
                                f"got {type(tensor).__name__}")
            tensor = Tensor(tensor)
        self._registry("_buffer_names")[name] = bool(persistent)
        object.__setattr__(self, name, tensor)

    def register_parameter(self, name, param):
        """Hold ``param`` (a tensor, made to require grad, or None) as a parameter."""
        _check_name(name, "parameter")
        if param is not None:
            if not isinstance(param, Tensor):
                raise TypeError(f"parameter {name!r} must be a Tensor or None, "
                                f"got {type(param).__name__}")
            if param.grad_fn is not None:
                raise ValueError(f"parameter {name!r} must be a leaf tensor; "
                                 "pass tensor.detach().requires_grad_()")
            param.requires_grad = True
        self._registry("_buffer_names").pop(name, None)
        self._registry("_param_names")[name] = None
        object.__setattr__(self, name, param)

    def add_module(self, name, module):
        """Hold ``module`` as the child called ``name``."""
        _check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module")
        setattr(self, name, module)

    register_module = add_module

    # ---- discovery -----------------------------------------------------------------
    def _members(self):
        """(kind, name, value) for this module's own parameters, buffers and children."""
        d = self.__dict__
        params = d.get("_param_names", {})
        buffers = d.get("_buffer_names", {})
        seen = set()
        for name, value in list(d.items()):
            if name in _INTERNAL or value is None:
                continue
            if name in params:
                yield "param", name, value
            elif name in buffers:
                yield "buffer", name, value
            elif isinstance(value, Module):
                yield "module", name, value
            elif isinstance(value, Tensor):
                if not name.startswith("_"):  # a public tensor attribute is state (Sorix)
                    yield "buffer", name, value
            elif isinstance(value, (list, tuple, dict)) or (
                    _is_plain_object(value) and not name.startswith("_")):
                yield from _walk_container(name, value, seen)

    def named_children(self):
        """(name, module) for each direct child, each module once."""
        seen = set()
        for kind, name, value in self._members():
            if kind == "module" and id(value) not in seen:
                seen.add(id(value))
                yield name, value

    def children(self):
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo=None, prefix=""):
        """(dotted name, module) for this module and every descendant, each once."""
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in memo:
                continue
            memo.add(id(module))
            yield name, module
            below = [(f"{name}.{child_name}" if name else child_name, child)
                     for child_name, child in module.named_children()]
            stack.extend(reversed(below))

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def _named_state(self, kind, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for member_kind, name, value in module._members():
                if member_kind == kind and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, tensor) for each parameter; a shared (tied) tensor appears once."""
        return self._named_state("param", prefix, recurse)

    def parameters(self, recurse=True):
        """Each parameter once, even when shared between layers."""
        return _ParameterList(p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True):
        return self._named_state("buffer", prefix, recurse)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- state -------------------------------------------------------------------
    def _state_items(self, prefix="", ancestors=None):
        """(key, tensor) for every parameter and persistent buffer, under every name it has."""
        ancestors = set() if ancestors is None else ancestors
        ancestors.add(id(self))
        buffers = self.__dict__.get("_buffer_names", {})
        members = list(self._members())
        for kind in ("param", "buffer"):
            for member_kind, name, value in members:
                if member_kind == kind and (kind == "param" or buffers.get(name, True)):
                    yield prefix + name, value
        for member_kind, name, value in members:
            if member_kind == "module" and id(value) not in ancestors:
                yield from value._state_items(prefix + name + ".", ancestors)
        ancestors.discard(id(self))

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """Parameters and persistent buffers by dotted name (``0.W``, ``block.net.0.W``).

        Values share memory with the module (detached unless ``keep_vars``).
        """
        out = OrderedDict() if destination is None else destination
        for key, value in self._state_items(prefix):
            out[key] = value if keep_vars else value.detach()
        return out

    def load_state_dict(self, state_dict, strict=False):
        """Copy values into the existing arrays, in place (never rebinding ``.data``).

        Shapes must match; a mismatch is an error that lists every problem, and
        then nothing is copied. Keys that match nothing, on either side, are
        skipped with a warning that names them (Sorix's default); with
        ``strict=True`` they are an error too (PyTorch's default). Returns
        ``(missing_keys, unexpected_keys)``.

        Values may also be lists or numbers (a checkpoint kept as JSON, or made
        with ``.tolist()``): they are converted with ``np.asarray`` and checked
        like arrays. One that still cannot be used (wrong shape, not numbers) is
        skipped with a warning, or with ``strict=True`` is an error.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        own = OrderedDict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors, copies, skipped = [], [], []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            converted = False
            if isinstance(value, Tensor):
                source = value.data
            elif isinstance(value, np.ndarray) or hasattr(value, "__cuda_array_interface__"):
                source = value
            else:
                source, converted = _checkpoint_array(value), True
                if source is None:
                    problem = (f"cannot load {key}: its value is a {type(value).__name__}, "
                               "not a tensor, an array or a list of numbers.")
                    (errors if strict else skipped).append(problem)
                    continue
            source = move_array(source, target.device)  # a checkpoint loads onto any device
            if source.shape != target.data.shape:
                problem = (f"size mismatch for {key}: copying a param with shape "
                           f"{tuple(source.shape)} from checkpoint, the shape in current "
                           f"model is {tuple(target.data.shape)}.")
            elif not np.can_cast(source.dtype, target.data.dtype, casting="same_kind"):
                problem = (f"dtype mismatch for {key}: cannot copy {source.dtype} values "
                           f"into a {target.data.dtype} tensor.")
            else:
                copies.append((target, source))
                continue
            # A tensor or array that does not fit is always an error (as in PyTorch); a
            # converted list or number only under strict=True (Sorix ignored such values
            # with a warning, and strict=False keeps that).
            (skipped if converted and not strict else errors).append(problem)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        problems = []
        if missing:
            problems.append("missing key(s): " + ", ".join(missing))
        if unexpected:
            problems.append("unexpected key(s), ignored: " + ", ".join(unexpected))
        if skipped:
            problems.append("value(s) ignored: " + " ".join(skipped))
        if problems:  # only reached with strict=False: under strict each one raised above
            warnings.warn(f"load_state_dict for {type(self).__name__}: " + "; ".join(problems)
                          + " (pass strict=True to make this an error)", UserWarning,
                          stacklevel=2)
        for target, source in copies:
            if source is not target.data:
                of(target.data).assign(target.data, Ellipsis, source)
                target._version[0] += 1
        return _IncompatibleKeys(missing, unexpected)

    # ---- modes and conversion -------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (``mode=True``) or evaluation mode on every module; returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be a bool, got {type(mode).__name__}")
        object.__setattr__(self, "training", mode)
        for child in self.children():  # through each child's own train(), which may add to it
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Clear every parameter's gradient: drop it (default) or fill it with zeros."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            elif p.grad.grad_fn is not None:  # a gradient built with create_graph=True
                grad = p.grad.data
                p.grad = Tensor._wrap(of(grad).zeros(grad.shape, grad.dtype))
            else:
                of(p.grad.data).assign(p.grad.data, Ellipsis, 0)
                p.grad._version[0] += 1

    def apply(self, fn):
        """Call ``fn`` on each child's tree in order (depth first, a child after its own
        children), then on this module, as PyTorch orders it; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, *args, device=None, dtype=None):
        """Move and/or cast the parameters and buffers: ``to('cuda')``, ``to(sorix.float64)``.

        Each tensor keeps its identity (its array, and its gradient's, is replaced), so
        references to ``model.W`` stay valid; build optimizers after moving, so that
        their state is made on the new device."""
        call_args, call_kwargs = args, {}
        if device is not None:
            call_kwargs["device"] = device
        if dtype is not None:
            call_kwargs["dtype"] = dtype
        for arg in args:
            if isinstance(arg, (str, _device)):
                device = arg
            elif isinstance(arg, Tensor):
                dtype = arg.dtype
            else:
                dtype = arg
        target = None
        if dtype is not None:
            target = _dtypes.numpy_dtype(dtype)
            if target.kind != "f":
                raise TypeError(f"Module.to only accepts floating dtypes, got {dtype}")
        name = check_device(device) if device is not None else None
        # Each child through its own to(), which a subclass may extend; then this
        # module's own tensors (a tensor shared with a child is already moved: a no-op).
        for child in self.children():
            child.to(*call_args, **call_kwargs)
        if name is not None:
            self._move(_device(device))
            object.__setattr__(self, "device", name)
        if target is not None:
            self._cast_floating(target)
        return self

    def _state_tensors(self):
        """Each parameter and buffer tensor held by this module itself (not its children), once."""
        seen = set()
        for kind, _, value in self._members():
            if kind != "module" and id(value) not in seen:
                seen.add(id(value))
                yield value

    def _move(self, device):
        for value in self._state_tensors():
            moved = move_array(value.data, device)
            if moved is not value.data:
                value.data = moved
                value._version[0] += 1
            if value.grad is not None:
                grad = move_array(value.grad.data, device)
                if grad is not value.grad.data:
                    value.grad = Tensor._wrap(grad)

    def _cast_floating(self, target):
        for value in self._state_tensors():
            if value.data.dtype.kind != "f":
                continue
            value.data = of(value.data).astype(value.data, target)
            value._version[0] += 1
            if value.grad is not None:
                grad = value.grad.data
                value.grad = Tensor._wrap(of(grad).astype(grad, target))

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)

    def float(self):
        return self.to(dtype=np.float32)

    def double(self):
        return self.to(dtype=np.float64)

    def half(self):
        return self.to(dtype=np.float16)

    # ---- calling and printing -----------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"You must implement forward in the subclass: "
                                  f"{type(self).__name__} defines no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self):
        """The text between the parentheses of this module's repr; override to describe it."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = [f"({name}): {_indent(repr(child), 2)}"
                    for name, child in self.named_children()]
        if not children and len(lines) <= 1:
            return f"{type(self).__name__}({''.join(lines)})"
        body = "\n  ".join(lines + children)
        return f"{type(self).__name__}(\n  {body}\n)"
