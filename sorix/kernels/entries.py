"""The shape of an elementwise op's entry in :mod:`sorix.kernels.defs`: what a
definition gives and what the tensor layer and the public functions read from it."""
from typing import Callable, NamedTuple, Optional, Tuple


class Param(NamedTuple):
    """A parameter of a unary op, as its public functions name it (kernels take it as a float)."""
    name: str
    default: Optional[float]
    #: why it must not be zero, for a parameter the op divides by (the error gives the reason)
    nonzero: Optional[str] = None


class Unary(NamedTuple):
    name: str
    forward: Callable
    #: dy/dx; None for a piecewise-constant op: zero gradient, and inputs keep their dtype
    #: (an op with a derivative computes integer and bool inputs in float32)
    derivative: Optional[Callable]
    #: NumPy function giving the same forward, used for dtypes without kernels (and by
    #: ``sorix.<fn>`` on plain arrays)
    reference: Optional[Callable] = None
    params: Tuple[Param, ...] = ()
    #: the docstring of its public functions: the formula
    doc: str = ""
    #: where it is public (space-separated names, aliases after the first): a Tensor
    #: method, ``sorix.<fn>``, ``sorix.nn.functional.<fn>``
    method: str = ""
    function: str = ""
    functional: str = ""
    #: what ``sorix.<fn>`` gives for a plain array where that is not ``reference``; with
    #: neither, the array goes through the tensor op and its result comes back as an array
    on_arrays: Optional[Callable] = None
    #: integer inputs keep their dtype: the result is this binary op of x with itself
    integers_as: Optional[str] = None
    #: integer inputs give integers of their dtype, exactly (-x, |x|, max(x, 0), and the
    #: rounding ops, which leave integers as they are), as in PyTorch
    keeps_integers: bool = False
    #: its nn.functional entry also takes PyTorch's ``inplace=False``, and ignores it
    ignores_inplace: bool = False

    @property
    def nparams(self):
        return len(self.params)


# What a binary op gives for integer operands (``Binary.integers``).
INTEGERS = "integers"  # NumPy's integer result
FLOATS = "floats"  # float32: true division
FLOATS_UNLESS_NATURAL = "floats unless natural"  # float32 for a float or negative exponent


class Binary(NamedTuple):
    name: str
    forward: Callable
    derivative_a: Callable
    derivative_b: Callable
    #: NumPy function giving the same forward: mixed or kernel-less dtypes, plain arrays
    reference: Optional[Callable] = None
    #: False: the derivatives are constants, so the forward saves (and guards) no values;
    #: the backward multiplies by those constants (evaluated once, without operands)
    saves: bool = True
    integers: str = INTEGERS
    doc: str = ""
    #: where it is public, as for Unary
    method: str = ""
    function: str = ""
    #: the public name of the method's second parameter
    other: str = "other"
    #: integer operands: a zero divisor raises ZeroDivisionError, as in PyTorch (NumPy
    #: would give 0 with a warning)
    integer_division: bool = False
