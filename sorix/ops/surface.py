"""The public functions of the elementwise ops, made from their entries in
:mod:`sorix.kernels.defs`: Tensor methods, ``sorix.<fn>`` and ``sorix.nn.functional.<fn>``.

Each is an ordinary function with the op's public name, its formula as the
docstring and its parameters' public names and defaults, so keyword calls
and ``inspect.signature`` behave as for a function written by hand. Making
one costs about a microsecond (a closure whose parameters are renamed with
``code.replace``, no source text compiled), so ``import sorix`` stays fast.

- A method computes on its tensor: ``x.exp()``, ``x.leaky_relu(0.1)``.
- ``sorix.<fn>`` is differentiable on tensors and NumPy on plain arrays (the
  entry's ``on_arrays``, else its ``reference``, else the tensor op's result
  as an array), as in Sorix.
- ``nn.functional.<fn>`` makes its input a tensor first (lists, arrays).

Parameters are converted to floats, and checked, once at this surface; the
forward entry points (:func:`sorix.ops.elementwise.unary`) take them as given.
"""
import numpy as np

from ..kernels.defs import BINARY, UNARY
from . import elementwise as _ew
from .core import constant as _as_tensor  # (a tensor as it is; anything else a constant)

_unary = _ew.unary
_binary = _ew.binary


def number(value, name):
    """``value`` as a float; the error names the parameter."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}") from None


def _checker(op):
    """A function giving the op's parameter values (extra values, such as an ignored
    ``inplace``, dropped) as floats; an error names the first parameter that is not a
    number, or that is zero where the op divides by it."""
    params = op.params

    def checked(values):
        out = []
        for param, value in zip(params, values):
            value = number(value, param.name)
            if param.nonzero is not None and value == 0.0:
                raise ValueError(f"{op.name}: {param.name} must be non-zero ({param.nonzero})")
            out.append(value)
        return tuple(out)

    count = len(params)
    nonzero = [i for i, param in enumerate(params) if param.nonzero is not None]

    def fast(values):  # (the common case, without the per-parameter loop)
        try:
            floats = tuple(map(float, values[:count]))
        except (TypeError, ValueError):
            return checked(values)  # raises, naming the parameter
        for i in nonzero:
            if floats[i] == 0.0:
                return checked(values)  # likewise
        return floats
    return fast


def _publish(fn, name, module, qualname, doc, args=None, defaults=None):
    """``fn`` under its public name (in tracebacks too), with ``args`` as its parameters'
    names when given."""
    code = fn.__code__
    rename = {"co_name": name}
    if hasattr(code, "co_qualname"):  # (Python 3.11+)
        rename["co_qualname"] = qualname
    if args is not None:
        rename["co_varnames"] = tuple(args) + code.co_varnames[len(args):]
        fn.__defaults__ = defaults
    fn.__code__ = code.replace(**rename)
    fn.__name__ = name
    fn.__qualname__ = qualname
    fn.__module__ = module
    fn.__doc__ = doc
    return fn


def _taking(count, op, as_tensor):
    """``fn(x, p1 ... p<count>)`` computing the op on ``x`` (made a tensor first when
    ``as_tensor``) with the checked values: an op with parameters, before they are named."""
    name = op.name
    check = _checker(op)
    if count == 1:
        def fn(x, p1):
            return _unary(name, _as_tensor(x) if as_tensor else x, check((p1,)))
    elif count == 2:
        def fn(x, p1, p2):
            return _unary(name, _as_tensor(x) if as_tensor else x, check((p1, p2)))
    elif count == 3:
        def fn(x, p1, p2, p3):
            return _unary(name, _as_tensor(x) if as_tensor else x, check((p1, p2, p3)))
    else:
        raise NotImplementedError(f"public functions with {count} parameters: extend _taking")
    return fn


def _with_params(op, first, inplace, as_tensor):
    """``fn(first, *op.params[, inplace])`` with its public parameter names and defaults
    (``inplace``, PyTorch's, is taken and ignored)."""
    args = [first] + [p.name for p in op.params]
    defaults = [p.default for p in op.params]
    while defaults and defaults[0] is None:  # (leading parameters without a default)
        defaults.pop(0)
    if inplace:
        args.append("inplace")
        defaults.append(False)
    return _taking(len(args) - 1, op, as_tensor), args, tuple(defaults)


# ---- Tensor methods -----------------------------------------------------------------

def _unary_method(op):
    name = op.name
    if not op.params:
        def method(self):
            return _unary(name, self)
        return method, None, None
    return _with_params(op, "self", inplace=False, as_tensor=False)


def _binary_method(op):
    name = op.name

    def method(self, other):
        return _binary(name, self, other)
    return method, ["self", op.other], None


def add_methods(cls):
    """Add every op's Tensor methods (``method`` in its entry) to ``cls``."""
    for ops, make in ((UNARY, _unary_method), (BINARY, _binary_method)):
        for op in ops.values():
            names = op.method.split()
            if not names:
                continue
            fn, args, defaults = make(op)
            _publish(fn, names[0], cls.__module__, f"{cls.__name__}.{names[0]}", op.doc, args,
                     defaults)
            for alias in names:
                setattr(cls, alias, fn)


# ---- sorix.<fn>: differentiable on tensors, NumPy on plain arrays -----------------------

def _unary_function(op, tensor_class):
    name = op.name
    on_arrays = op.on_arrays or op.reference
    if on_arrays is None:
        def on_arrays(array):
            return _unary(name, tensor_class(np.asarray(array))).data

    def fn(input):
        if isinstance(input, tensor_class):
            return _unary(name, input)
        return on_arrays(input)
    return fn


def _binary_function(op, tensor_class):
    name = op.name
    reference = op.reference

    def fn(input, other):
        if isinstance(input, tensor_class) or isinstance(other, tensor_class):
            return _binary(name, input, other)
        return reference(input, other)
    return fn


def functions(module, tensor_class):
    """``{public name: function}`` of every op's ``sorix.<fn>`` (``function`` in its entry)."""
    out = {}
    for ops, make in ((UNARY, _unary_function), (BINARY, _binary_function)):
        for op in ops.values():
            names = op.function.split()
            if names:
                fn = _publish(make(op, tensor_class), names[0], module, names[0], op.doc)
                out.update(dict.fromkeys(names, fn))
    return out


# ---- nn.functional.<fn>: any input made a tensor ------------------------------------------

def _functional(op):
    name = op.name
    if not op.params and not op.ignores_inplace:
        def fn(input):
            return _unary(name, _as_tensor(input))
        return fn, None, None
    return _with_params(op, "input", op.ignores_inplace, as_tensor=True)


def functional(module):
    """``{public name: function}`` of every op's ``nn.functional`` entry."""
    out = {}
    for op in UNARY.values():
        names = op.functional.split()
        if names:
            fn, args, defaults = _functional(op)
            _publish(fn, names[0], module, names[0], op.doc, args, defaults)
            out.update(dict.fromkeys(names, fn))
    return out
