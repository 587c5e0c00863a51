"""Tensor's named comparisons and tests (``eq``, ``gt``, ``logical_and``, ``isnan``,
``isclose``, ``allclose``, ``equal`` ...), a mixin of :class:`sorix.Tensor`.

None of them is differentiable: each gives a bool tensor (``allclose`` and ``equal``
a Python bool), computed by the tensor's array backend, so a CUDA tensor's answer
stays on the device. :data:`FUNCTIONS` names the methods that are also
``sorix.<fn>`` (made by :mod:`sorix.functions`).
"""
import numpy as np

from .kernels.backend import of as _of

#: the methods that are also top-level functions, ``sorix.<name>(input, ...)``
FUNCTIONS = ("eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less",
             "less_equal", "not_equal", "logical_and", "logical_or", "logical_xor",
             "logical_not", "isnan", "isinf", "isposinf", "isneginf", "isfinite", "isclose",
             "allclose", "equal")


def _wrap(data):
    from .tensor import Tensor  # (this module is one of Tensor's bases)
    return Tensor._wrap(data)


def _truth(data):
    """``data`` as bools: nonzero is True (PyTorch's logical ops on numbers)."""
    return data if data.dtype == np.bool_ else _of(data).compare("ne", data, 0)


class ComparisonMethods:
    __slots__ = ()

    # the operators' names (the operators themselves are in sorix.tensor)
    def eq(self, other):
        """eq(input, other): input == other, elementwise, as a bool tensor."""
        return self == other

    def ne(self, other):
        """ne(input, other): input != other, elementwise, as a bool tensor."""
        return self != other

    def lt(self, other):
        """lt(input, other): input < other, elementwise, as a bool tensor."""
        return self < other

    def le(self, other):
        """le(input, other): input <= other, elementwise, as a bool tensor."""
        return self <= other

    def gt(self, other):
        """gt(input, other): input > other, elementwise, as a bool tensor."""
        return self > other

    def ge(self, other):
        """ge(input, other): input >= other, elementwise, as a bool tensor."""
        return self >= other

    greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne

    def _logical(self, name, other):
        other = self._other_data(other)
        other = _truth(other) if hasattr(other, "dtype") else np.asarray(other).astype(bool)
        return _wrap(_of(self.data).logical(name, _truth(self.data), other))

    def logical_and(self, other):
        """logical_and(input, other): both nonzero, as a bool tensor."""
        return self._logical("and", other)

    def logical_or(self, other):
        """logical_or(input, other): either nonzero, as a bool tensor."""
        return self._logical("or", other)

    def logical_xor(self, other):
        """logical_xor(input, other): exactly one nonzero, as a bool tensor."""
        return self._logical("xor", other)

    def logical_not(self):
        """logical_not(input): input == 0, as a bool tensor."""
        return _wrap(_of(self.data).compare("eq", self.data, 0))

    # ---- special values ------------------------------------------------------------

    def isnan(self):
        """isnan(input): True where input is NaN (never for integers)."""
        return _wrap(_of(self.data).compare("ne", self.data, self.data))

    def _is_infinite(self, which):
        B = _of(self.data)
        if self.data.dtype.kind != "f":
            return _wrap(B.compare("ne", self.data, self.data))  # (all False, on its device)
        if which == "both":
            return _wrap(B.compare("eq", B.unary("abs", self.data, ()), np.inf))
        return _wrap(B.compare("eq", self.data, np.inf if which == "pos" else -np.inf))

    def isinf(self):
        """isinf(input): True where input is +inf or -inf."""
        return self._is_infinite("both")

    def isposinf(self):
        """isposinf(input): True where input is +inf."""
        return self._is_infinite("pos")

    def isneginf(self):
        """isneginf(input): True where input is -inf."""
        return self._is_infinite("neg")

    def isfinite(self):
        """isfinite(input): True where input is neither NaN nor infinite."""
        B = _of(self.data)
        if self.data.dtype.kind != "f":
            return _wrap(B.compare("eq", self.data, self.data))
        return _wrap(B.compare("lt", B.unary("abs", self.data, ()), np.inf))

    # ---- closeness -----------------------------------------------------------------

    def _close(self, other, rtol, atol, equal_nan):
        """|input - other| <= atol + rtol |other| elementwise, on the host (NumPy's rule,
        which is PyTorch's: equal infinities are close)."""
        a = _of(self.data).to_host(self.data)
        other_data = self._other_data(other)
        b = _of(other_data).to_host(other_data) if hasattr(other_data, "dtype") else other
        return np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False): True where
        |input - other| <= atol + rtol * |other|."""
        return _wrap(np.asarray(self._close(other, rtol, atol, equal_nan))).to(self.device)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False): whether every
        element is close (a Python bool)."""
        return bool(np.all(self._close(other, rtol, atol, equal_nan)))

    def equal(self, other):
        """equal(input, other): whether both have the same shape and the same elements (a
        Python bool)."""
        shape = other.shape if hasattr(other, "shape") else np.shape(other)
        if tuple(self.shape) != tuple(shape):
            return False
        same = (self == other).data
        B = _of(same)
        return bool(B.to_host(B.all(same)))
