"""Device arrays: allocation, host transfers, casts, copies of strided views.

Every kernel of this package writes C-contiguous output. Views (transposes,
slices, broadcasts) are read in place through their strides by
:func:`gather`, one kernel that serves ``contiguous``, ``astype``,
``transpose`` and basic indexing.
"""
import numpy as np

from ..axes import axis_index
from . import build, runtime
from .runtime import element_strides, flat_memory, is_contiguous, view

cuda = offset_of = grid_range = None  # bound per kernel by the builder


# ---- kernels -----------------------------------------------------------------

def fill_kernel(out, value):
    for i in grid_range(out.size):
        out[i] = value


def arange_kernel(out):
    for i in grid_range(out.size):
        out[i] = i


def gather_kernel(src, dst, shape, strides, offset):
    """dst[i] = src[offset + offset of C-order element i]; casts to dst's dtype."""
    for i in grid_range(dst.size):
        dst[i] = src[offset + offset_of(i, shape, strides)]


# ---- shapes and strides --------------------------------------------------------

def coalesce(shape, *strides):
    """Fewer, longer dimensions addressing the same elements as ``shape`` for each stride set.

    Size-1 dimensions go, and a dimension merges into the one before it when
    every operand steps over it contiguously; the kernels then do fewer
    divisions per element and compile fewer tuple lengths.
    """
    out_shape, out_strides = [], [[] for _ in strides]
    for d, n in enumerate(shape):
        if n == 1:
            continue
        if out_shape and all(s_out[-1] == s[d] * n for s_out, s in zip(out_strides, strides)):
            out_shape[-1] *= n
            for s_out, s in zip(out_strides, strides):
                s_out[-1] = s[d]
            continue
        out_shape.append(int(n))
        for s_out, s in zip(out_strides, strides):
            s_out.append(int(s[d]))
    if not out_shape:  # one element
        return (1,), tuple((0,) for _ in strides)
    return tuple(out_shape), tuple(tuple(s) for s in out_strides)


def broadcast_strides(x, shape):
    """``x``'s element strides aligned to the broadcast ``shape`` (0 along broadcast dims)."""
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ValueError(f"cannot broadcast shape {tuple(x.shape)} to {tuple(shape)}")
    strides = [0] * lead
    for n, s, target in zip(x.shape, element_strides(x), shape[lead:]):
        if n == target:
            strides.append(s if n != 1 else 0)
        elif n == 1:
            strides.append(0)
        else:
            raise ValueError(f"cannot broadcast shape {tuple(x.shape)} to {tuple(shape)}: "
                             "only size-1 dimensions can grow")
    return tuple(strides)


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(n) for n in shape)


# ---- allocation and transfers ----------------------------------------------------

def empty(shape, dtype=np.float32):
    """An uninitialised C-contiguous device array."""
    return runtime.cuda().device_array(_shape(shape), np.dtype(dtype))


def full(shape, value, dtype=np.float32):
    """A device array of ``shape`` filled with ``value``."""
    out = empty(shape, dtype)
    build.kernel(fill_kernel).over(out.size, flat(out), out.dtype.type(value))
    return out


def zeros(shape, dtype=np.float32):
    return full(shape, 0, dtype)


def zeros_like(x):
    return zeros(x.shape, x.dtype)


def scalar_array(value, dtype):
    """A 0-d device array holding ``value``: filled by a kernel, so nothing is copied from the host."""
    return full((), value, dtype)


def operand(value, dtype):
    """``value`` as a device array for an op with an array of ``dtype``.

    Device arrays are used as they are. A Python or NumPy scalar (or 0-d array)
    becomes a 0-d device array of the dtype NumPy would give it next to
    ``dtype`` (a Python float stays float32 beside float32), filled on the
    device. Any other host data is copied to the device.
    """
    if runtime.is_device_array(value):
        return runtime.as_device(value)
    if np.ndim(value) == 0:
        return scalar_array(value, np.result_type(dtype, value))
    return to_device(value)


def arange(n, dtype=np.int64):
    """0, 1, ..., n - 1 as a device array (made on the device)."""
    out = empty((int(n),), dtype)
    build.kernel(arange_kernel).over(out.size, out)
    return out


_nothing = {}


def nothing(dtype):
    """A shared 0-size array: an unused state or gradient argument (as ``optim.EMPTY`` on the CPU)."""
    dtype = np.dtype(dtype)
    if dtype not in _nothing:
        _nothing[dtype] = empty((0,), dtype)
    return _nothing[dtype]


def to_device(a):
    """A C-contiguous device copy of a host array (or of anything NumPy converts)."""
    a = np.asarray(a)
    if not a.flags.c_contiguous:  # (np.ascontiguousarray would turn 0-d into 1-d)
        a = a.copy(order="C")
    runtime.count_transfer("to_device")
    return runtime.cuda().to_device(a)


def to_host(x):
    """A NumPy copy of a device array (any strides)."""
    x = contiguous(runtime.as_device(x))
    runtime.count_transfer("to_host")
    return x.copy_to_host()


# ---- copies and views ------------------------------------------------------------

def gather(x, shape, strides, offset=0, dtype=None):
    """A new C-contiguous array of ``shape`` whose element ``idx`` is ``x``'s memory at
    ``offset + sum(idx * strides)`` (element strides from ``x``'s first element)."""
    out = empty(shape, x.dtype if dtype is None else dtype)
    if out.size:
        cshape, (cstrides,) = coalesce(shape, strides)
        build.kernel(gather_kernel).over(out.size, flat_memory(x), flat(out), cshape,
                                         cstrides, int(offset))
    return out


def contiguous(x):
    """``x`` if it is C-contiguous, else a C-contiguous copy."""
    x = runtime.as_device(x)
    if is_contiguous(x.shape, element_strides(x)):
        return x
    return gather(x, x.shape, element_strides(x))


def copy(x, dtype=None):
    """A new C-contiguous array with ``x``'s values (converted to ``dtype`` if given)."""
    x = runtime.as_device(x)
    return gather(x, x.shape, element_strides(x), dtype=np.dtype(dtype or x.dtype))


def is_c_contiguous(x):
    """Whether ``x`` is C-contiguous (size-1 dimensions ignored, as NumPy does)."""
    return is_contiguous(x.shape, element_strides(x))


def owns_memory(x):
    """Whether ``x`` may be handed on as a gradient without copying.

    Never on the device: a device array does not record whether it is a view
    of another (NumPy's ``base``), so the engine copies instead of guessing.
    """
    return False


def flat(x, dtype=None):
    """A 1-D C-contiguous view of ``x`` (copied first if ``x`` is not contiguous, or
    converted to ``dtype`` when given and different)."""
    x = runtime.as_device(x)
    if dtype is not None and np.dtype(dtype) != x.dtype:
        x = astype(x, dtype)
    x = contiguous(x)
    return view(x, (x.size,), (1,))


def astype(x, dtype):
    """A C-contiguous copy of ``x`` converted to ``dtype`` (C casts: float to int truncates)."""
    x = runtime.as_device(x)
    return gather(x, x.shape, element_strides(x), dtype=np.dtype(dtype))


def reshape(x, shape):
    """``x`` with a new shape (one entry may be -1); a view, copying only a non-contiguous ``x``."""
    x = contiguous(x)
    shape = _shape(shape)
    if shape.count(-1) > 1:
        raise ValueError(f"can only specify one unknown dimension in {shape}")
    if -1 in shape:
        known = int(np.prod([n for n in shape if n != -1]))
        if known == 0 or x.size % known:
            raise ValueError(f"cannot reshape an array of size {x.size} into shape {shape}")
        shape = tuple(x.size // known if n == -1 else n for n in shape)
    if int(np.prod(shape)) != x.size:
        raise ValueError(f"cannot reshape an array of size {x.size} into shape {shape}")
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return view(x, shape, tuple(reversed(strides)))


def transpose(x, axes=None):
    """A C-contiguous copy of ``x`` with its axes permuted (reversed by default)."""
    x = runtime.as_device(x)
    axes = tuple(reversed(range(x.ndim))) if axes is None else \
        tuple(axis_index(a, x.ndim, ValueError, "axis", "an array") for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"axes {axes} are not a permutation of {x.ndim} dimensions")
    strides = element_strides(x)
    return gather(x, tuple(x.shape[a] for a in axes), tuple(strides[a] for a in axes))


def broadcast_to(x, shape):
    """A read-only-by-convention view of ``x`` broadcast to ``shape`` (zero strides, no copy)."""
    x = runtime.as_device(x)
    shape = _shape(shape)
    return view(x, shape, broadcast_strides(x, shape))
