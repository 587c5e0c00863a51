"""dtype objects: ``sorix.float32`` and friends.

A :class:`DType` wraps a NumPy dtype, compares equal to it (and to the
NumPy scalar type), and exposes ``.dtype`` so NumPy functions accept it
directly: ``np.zeros(3, dtype=sorix.float32)``.
"""
import numpy as np


class DType:
    __slots__ = ("dtype", "name")

    def __init__(self, np_dtype, name=None):
        self.dtype = np.dtype(np_dtype)
        self.name = name or ("bool" if self.dtype == np.bool_ else self.dtype.name)

    @property
    def is_floating_point(self):
        return self.dtype.kind == "f"

    @property
    def itemsize(self):
        return self.dtype.itemsize

    def __eq__(self, other):
        if isinstance(other, DType):
            return self.dtype == other.dtype
        try:
            return self.dtype == np.dtype(other)
        except TypeError:
            return NotImplemented

    def __hash__(self):
        return hash(self.dtype)

    def __repr__(self):
        return "sorix." + self.name

    def __reduce__(self):
        return (as_dtype, (self.name,))


float32 = DType(np.float32, "float32")
float64 = DType(np.float64, "float64")
float16 = DType(np.float16, "float16")
int8 = DType(np.int8, "int8")
int16 = DType(np.int16, "int16")
int32 = DType(np.int32, "int32")
int64 = DType(np.int64, "int64")
uint8 = DType(np.uint8, "uint8")
bool_ = DType(np.bool_, "bool")

_BY_NUMPY = {d.dtype: d for d in (float32, float64, float16, int8, int16, int32, int64, uint8, bool_)}

#: Aliases with PyTorch's names (``sorix.int`` is int32, as Sorix documents).
ALIASES = {
    "float": float32, "double": float64, "half": float16, "int": int32,
    "long": int64, "short": int16, "byte": uint8, "bool": bool_, "bool_": bool_,
}


def as_dtype(spec):
    """The :class:`DType` for a DType, NumPy dtype, scalar type or name."""
    if isinstance(spec, DType):
        return spec
    if isinstance(spec, str) and spec in ALIASES:
        return ALIASES[spec]
    if spec is float:  # as in NumPy and PyTorch, Python's float means float64
        return float64
    if spec is int:
        return int64
    if spec is bool:
        return bool_
    try:
        np_dtype = np.dtype(spec)
    except TypeError:
        raise TypeError(f"dtype {spec!r} is not understood; use sorix.float32, sorix.int64, "
                        "a NumPy dtype or a name such as 'float32'") from None
    check_supported(np_dtype)
    found = _BY_NUMPY.get(np_dtype)
    if found is None:
        found = DType(np_dtype, np_dtype.name)
    return found


def check_supported(np_dtype):
    """Refuse complex dtypes: no op has complex rules (``exp`` would keep the real part,
    ``abs(1+2j)`` would give 1), so a complex tensor would give wrong answers silently."""
    if np_dtype.kind == "c":
        raise TypeError(f"complex tensors are not supported (got {np_dtype}); keep the real "
                        "and imaginary parts as two float tensors, e.g. z.real and z.imag")
    return np_dtype


def check_numeric(np_dtype):
    """Refuse, at construction, data that is not numbers: text (``str``, ``bytes``),
    Python objects, datetimes and records. No op has rules for them (``1 + t`` would
    concatenate text, ``t.mean()`` parse it, and mixing with a float tensor fails deep
    inside), so a tensor of them would fail later or give wrong answers silently."""
    check_supported(np_dtype)
    if np_dtype.kind not in "biuf":
        what = {"U": "text", "S": "bytes", "O": "Python objects (text, None, ...)"}.get(
            np_dtype.kind, f"{np_dtype} values")
        raise TypeError(f"tensors hold numbers, got {what} (dtype {np_dtype}); encode text "
                        "columns first (e.g. with sorix.preprocessing.OneHotEncoder) or "
                        "convert numbers stored as text with astype(float)")
    return np_dtype


def numpy_dtype(spec):
    """The NumPy dtype for anything :func:`as_dtype` accepts (None stays None)."""
    return None if spec is None else as_dtype(spec).dtype
