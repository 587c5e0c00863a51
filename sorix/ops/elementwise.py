"""Differentiable elementwise ops, all driven by :mod:`sorix.kernels.defs`.

Forward and first-order backward run the fused kernels. For higher-order
gradients (``create_graph=True``) the nodes' rules run on the tensor twin
(:mod:`sorix.ops.twin`), whose ``unary_grad``/``binary_grad`` evaluate the
same derivative definitions on tensors: each definition is copied with its
names bound to the differentiable tensor functions below.
"""
import dis
import math
import types

import numpy as np

from ..autograd.grad_mode import _state as _grad_state
from ..autograd.node import Node
from ..kernels import cpu as _cpu
from ..kernels.backend import common, of
from ..kernels.bind import copy
from ..kernels.defs import BINARY, FLOATS, INTEGERS, SCALAR_FUNCTIONS, UNARY, Unary
from . import core, twin
from .core import (array_on, constant, float_data, is_device_array, operands, records, wrap,
                   wrap_watched)

_ndarray = np.ndarray


# ---- forward entry points --------------------------------------------------
# Their special cases are read from each op's entry in the table, never from its name.

def unary(name, x, params=()):
    """``op(x, *params)`` as a tensor, recorded for backward; ``params`` are floats."""
    op = UNARY[name]
    data = x.data
    integers = False
    if data.dtype.kind != "f":
        if op.integers_as is not None:  # (square: integers stay integers, as x * x)
            return binary(op.integers_as, x, x)
        integers = op.keeps_integers and data.dtype.kind in "iu"
        if op.derivative is not None and not integers:  # others compute in floats
            data = float_data(x)
    out = of(data).unary(name, data, params)
    if integers and out.dtype != data.dtype:  # (np.rint of integers: integral floats)
        out = of(out).astype(out, data.dtype)
    if records(x):
        if op.derivative is None:  # sign, floor ...: a zero gradient, as in PyTorch
            return wrap(out, ZeroGradNode((x,), name))
        # x is guarded only when the derivative reads it: exp, sigmoid, tanh ... read their
        # output alone, so changing x in place after them is harmless, as in PyTorch
        node = UnaryNode((x,), (data, out), (x,) if _reads_input(op) else (), name, params)
        return wrap_watched(out, node) if _reads_output(op) else wrap(out, node)
    return wrap(out)


def binary(name, a, b):
    """``op(a, b)`` with broadcasting and PyTorch's promotion, recorded for backward."""
    Tensor = core.Tensor
    if type(a) is Tensor and type(b) is Tensor and a.data.dtype == b.data.dtype:
        ad, bd = a.data, b.data  # the common case, without promotion
        B = _cpu if type(ad) is _ndarray and type(bd) is _ndarray else common(ad, bd)
    else:
        # (the op's integer rule: a scalar of true division or pow keeps its value)
        a, b, ad, bd, B = operands(a, b, BINARY[name].integers)
    if ad.dtype.kind != "f":
        op = BINARY[name]
        if op.integer_division and bd.dtype.kind != "f" and _any_zero(B, bd):
            raise ZeroDivisionError(f"{name}: integer division by zero (a divisor is 0); "
                                    "divide floats to get inf or NaN there")
        integers = op.integers
        if integers != INTEGERS and (integers == FLOATS or bd.dtype.kind == "f"
                                     or _any_negative(B, bd)):
            ad, bd = B.astype(ad, np.float32), B.astype(bd, np.float32)
    out = B.binary(name, ad, bd)
    if _grad_state.enabled and (a._requires_grad or b._requires_grad):  # (records(a, b))
        if not BINARY[name].saves:
            # backward needs no values: nothing saved, nothing to guard against in-place changes
            return wrap(out, BinaryNode((a, b), None, (), name))
        node = BinaryNode((a, b), (ad, bd, out), (a, b), name)
        return wrap_watched(out, node) if _reads_output(BINARY[name]) else wrap(out, node)
    return wrap(out)


_output_readers = {}  # op name -> whether a derivative reads the op's output
_input_readers = {}  # unary op name -> whether its derivative reads its input x


def _reads_input(op):
    """Whether unary ``op``'s derivative reads its input ``x`` (the derivative's first
    argument): only then must an in-place change to x make backward raise."""
    found = _input_readers.get(op.name)
    if found is None:
        found = _input_readers[op.name] = _loads_argument(op.derivative, 0)
    return found


def _reads_output(op):
    """Whether ``op``'s derivatives read its output ``y`` (exp, sigmoid, div ...), so that
    an in-place change to the output must make backward raise, as for a saved input."""
    found = _output_readers.get(op.name)
    if found is None:
        if isinstance(op, Unary):
            rules, position = (op.derivative,), 1  # (x, y, *params)
        else:
            rules, position = (op.derivative_a, op.derivative_b), 2  # (a, b, y)
        found = _output_readers[op.name] = any(
            _loads_argument(fn, position) for fn in rules if fn is not None)
    return found


def _loads_argument(fn, position):
    """Whether ``fn``'s code reads its argument number ``position`` (unknown: True)."""
    code = fn.__code__
    if position >= code.co_argcount:
        return True
    name = code.co_varnames[position]
    for instruction in dis.get_instructions(fn):
        value = instruction.argval
        if instruction.opname.startswith("LOAD") and (
                value == name or (isinstance(value, tuple) and name in value)):
            return True
    return False


def _any_zero(B, data):
    """Whether an integer divisor array holds a 0 (read back from a GPU)."""
    return bool(B.to_host(B.any(B.compare("eq", data, 0))))


def _any_negative(B, data):
    """Whether an integer exponent array holds a negative value (read back from a GPU:
    integer tensor powers are the one op whose result dtype depends on values)."""
    return bool(B.to_host(B.any(B.compare("lt", data, 0))))


def where(condition, x, y):
    """``x`` where ``condition`` holds, else ``y``; differentiable in ``x`` and ``y``."""
    Tensor = core.Tensor
    cond = condition.data if isinstance(condition, Tensor) else condition
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        like = cond if is_device_array(cond) else None
        x = constant(np.asarray(x, dtype=np.float32 if isinstance(x, float) else None), like=like)
    x, y, xd, yd, B = operands(x, y)
    if isinstance(condition, Tensor):
        common(cond, xd)
    else:
        cond = array_on(B, cond if is_device_array(cond) else np.asarray(cond, dtype=bool))
    if cond.dtype != np.bool_:
        cond = B.astype(cond, np.bool_)
    out = B.where(cond, xd, yd)
    if records(x, y):
        # backward reads the condition: a condition tensor used as is is guarded against
        # an in-place change before backward, as in PyTorch (a cast copy needs no guard)
        watch = (condition,) if isinstance(condition, Tensor) and cond is condition.data else ()
        return wrap(out, WhereNode((x, y), cond, watch))
    return wrap(out)


class CastNode(Node):
    """A dtype conversion or a copy: the gradient passes through, cast back."""
    __slots__ = ("dtype",)

    def __init__(self, x):
        super().__init__((x,))
        self.dtype = x.data.dtype

    def backward(self, grad, F, saved):
        return (grad if grad.dtype == self.dtype else F.astype(grad, self.dtype),)


def cast(x, dtype):
    out = of(x.data).astype(x.data, dtype)
    if records(x) and out.dtype.kind in "fc":
        return wrap(out, CastNode(x))
    return wrap(out)


def unary_copy(x):
    """A differentiable copy in x's memory layout (``clone``: PyTorch keeps the strides)."""
    return cast(x, x.data.dtype)


def contiguous_copy(x):
    """A differentiable C-contiguous copy (``contiguous``: whatever x's layout)."""
    out = of(x.data).copy(x.data)
    if records(x) and out.dtype.kind in "fc":
        return wrap(out, CastNode(x))
    return wrap(out)


# ---- nodes ----------------------------------------------------------------

class UnaryNode(Node):
    __slots__ = ("op", "params", "input_version")

    def __init__(self, inputs, saved, watch, op, params):
        super().__init__(inputs, saved, watch)
        self.op = op
        self.params = params
        # x unwatched (its derivative reads y alone): x's version now, for graph_saved
        self.input_version = None if watch else inputs[0]._version[0]

    @property
    def name(self):
        return self.op.capitalize() + "Backward"

    def backward(self, grad, F, saved):
        x, y = saved
        return (F.unary_grad(self.op, grad, x, y, self.params),)

    def graph_saved(self):
        x = self.inputs[0]
        if self.input_version is not None and x._version[0] != self.input_version:
            # y is recomputed from x here (a tensor of the graph): from a changed x it would
            # be another y, so an unwatched x changed in place cannot serve create_graph
            raise RuntimeError(
                f"a tensor of shape {tuple(x.shape)} that {self.name} recomputes its output "
                f"from for a create_graph backward was modified by an in-place operation "
                f"(version {x._version[0]}, expected {self.input_version}). Use an "
                "out-of-place operation or clone() the tensor before changing it.")
        return x, unary(self.op, x, self.params)

    def fusion(self):
        """(derivatives, the arrays they read, parameters) for a fused backward."""
        return (UNARY[self.op].derivative,), self.saved, self.params


class ZeroGradNode(Node):
    """A piecewise-constant op (``derivative=None``): its gradient is zero."""
    __slots__ = ("op",)

    def __init__(self, inputs, op):
        super().__init__(inputs)
        self.op = op

    @property
    def name(self):
        return self.op.capitalize() + "Backward"

    def backward(self, grad, F, saved):
        return (F.zeros_like(grad),)


class BinaryNode(Node):
    __slots__ = ("op",)

    def __init__(self, inputs, saved, watch, op):
        super().__init__(inputs, saved, watch)
        self.op = op

    @property
    def name(self):
        return self.op.capitalize() + "Backward"

    def backward(self, grad, F, saved):
        need_a, need_b = self.needs
        if saved is None:  # the table's saves=False: constant derivatives (add, sub)
            da, db = _CONSTANT_DERIVATIVES[self.op]
            if da == db == 1.0:  # add: the gradient itself, twice (the common case)
                return grad, grad
            return (_times(F, grad, da) if need_a else None,
                    _times(F, grad, db) if need_b else None)
        a, b, y = saved
        if a is b and type(a) is _ndarray and self.inputs[0] is self.inputs[1]:
            # op(x, x) (x * x, x / x ...): one gradient for x, not two for the engine to add
            return _cpu.binary_grad_same(self.op, grad, a, y), None
        return F.binary_grad(self.op, grad, a, b, y, need_a, need_b)

    def graph_saved(self):
        if self.saved is None:  # constant derivatives: the rule reads no values
            return None
        a, b = self.inputs
        return a, b, binary(self.op, a, b)

    def fusion(self):
        """(derivatives, the arrays they read, parameters) for a fused backward;
        add and sub save nothing: their derivatives are constants."""
        op = BINARY[self.op]
        return (op.derivative_a, op.derivative_b), self.saved or (None, None, None), ()


#: op -> (d op/da, d op/db) for the ops whose derivatives are constants (saves=False)
_CONSTANT_DERIVATIVES = {name: (float(op.derivative_a(None, None, None)),
                                float(op.derivative_b(None, None, None)))
                         for name, op in BINARY.items() if not op.saves}


def _times(F, grad, factor):
    """grad * factor, without arithmetic for the factors 1 and -1."""
    if factor == 1.0:
        return grad
    if factor == -1.0:
        return F.unary("neg", grad)
    return F.binary("mul", grad, F.scalar_array(factor, grad.dtype))


class WhereNode(Node):
    __slots__ = ()

    def backward(self, grad, F, saved):
        cond = saved
        zero = F.scalar_array(0, grad.dtype)
        return F.where(cond, grad, zero), F.where(cond, zero, grad)

    def graph_saved(self):
        return self.saved  # the condition: a constant


# ---- derivatives evaluated on tensors (higher order) ---------------------------

def _on_tensors(op):
    """The differentiable tensor function standing in for a scalar function of ``op``."""
    if op in UNARY:
        return lambda x, *params: unary(op, constant(x), params)
    return lambda a, b: binary(op, a, b)


def _tensor_env():
    """What a definition may call (:data:`sorix.kernels.scalar.SCALAR_FUNCTIONS`, the one
    list the kernel targets bind too), bound to differentiable tensor functions."""
    modules = {"math": {"inf": math.inf}, "np": {}}
    env = {"where": where}  # (the helper's tensor twin: it has no op of its own)
    for function in SCALAR_FUNCTIONS:
        if function.op is None:
            continue
        module, _, name = function.name.rpartition(".")
        (modules[module] if module else env)[name] = _on_tensors(function.op)
    env.update((module, types.SimpleNamespace(**names)) for module, names in modules.items())
    return env


_TENSOR_ENV = _tensor_env()


def _bound(definition):
    return copy(definition, _TENSOR_ENV)


TENSOR_DERIVATIVES = {name: _bound(op.derivative) for name, op in UNARY.items()
                      if op.derivative is not None}
TENSOR_DERIVATIVES.update({name: (_bound(op.derivative_a), _bound(op.derivative_b))
                           for name, op in BINARY.items()})


def _unary_grad(op, grad, x, y, params=()):
    if params and x.data.dtype.kind == "f":
        # the parameters as 0-d constants of x's dtype, as the kernels bind them: a branch
        # of where() holding only Python floats would otherwise be float32 (leaky_relu's
        # float64 slope 0.01 became float32(0.01))
        params = tuple(constant(p, x.data.dtype, like=x.data) for p in params)
    return grad * TENSOR_DERIVATIVES[op](x, y, *params)


def _binary_grad(op, grad, a, b, y, need_a, need_b):
    da, db = TENSOR_DERIVATIVES[op]
    return (grad * da(a, b, y) if need_a else None,
            grad * db(a, b, y) if need_b else None)


def _astype(x, dtype):
    return cast(x, dtype)


twin.provide(unary=lambda name, x, params=(): unary(name, x, params), binary=binary,
             where=where, astype=_astype, unary_grad=_unary_grad, binary_grad=_binary_grad)
