"""Tensor's selection and rearranging methods (``index_select``, ``narrow``, ``tril``,
``movedim``, ``tile``, ``repeat_interleave``, ``mm`` ...), a mixin of
:class:`sorix.Tensor`.

The ops themselves live in :mod:`sorix.ops`; these methods map PyTorch's
spellings onto them. :data:`FUNCTIONS` names the methods that are also
``sorix.<fn>`` (made by :mod:`sorix.functions`).
"""
import numpy as np

from .kernels.axes import axis_index as _axis_index
from .kernels.backend import of as _of
from .ops import elementwise as _ew
from .ops import selection as _sel
from .ops.linalg import matmul as _matmul

#: the methods that are also top-level functions, ``sorix.<name>(input, ...)``
FUNCTIONS = ("index_select", "narrow", "masked_select", "tril", "triu", "movedim", "moveaxis",
             "tile", "repeat_interleave", "outer", "ger", "mm", "bmm", "mv", "inner", "addmm",
             "take_along_dim", "unflatten", "clamp_min", "clamp_max")


def _sizes(size):
    """``f(2, 3)`` and ``f((2, 3))`` alike."""
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size


def _pair(name, a, b, ndims, hint):
    """``b`` as a tensor beside ``a``, the two of ``ndims`` dimensions and one dtype (PyTorch's
    matrix products neither broadcast nor promote)."""
    b = _sel.as_tensor(b, a)
    if (a.ndim, b.ndim) != ndims:
        raise RuntimeError(f"{name}: expected tensors of {ndims[0]} and {ndims[1]} dimensions, got "
                           f"shapes {tuple(a.shape)} and {tuple(b.shape)}; {hint}")
    if a.dtype != b.dtype:
        raise RuntimeError(f"{name}: expected both tensors to have the same dtype, got {a.dtype} "
                           f"and {b.dtype}; convert one with .to(...)")
    return b


def _inner_sizes(name, a, b, left, right):
    if left != right:
        raise RuntimeError(f"{name}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
                           f"multiplied (inner sizes {left} and {right} differ)")


class SelectionMethods:
    __slots__ = ()

    # ---- selecting ---------------------------------------------------------------
    def index_select(self, dim, index):
        """index_select(input, dim, index): the slices of input at the positions ``index``
        (1-D) along ``dim``."""
        return _sel.index_select(self, dim, index)

    def narrow(self, dim, start, length):
        """narrow(input, dim, start, length): the ``length`` slices from ``start`` along
        ``dim`` (a view)."""
        return _sel.narrow(self, dim, start, length)

    def masked_select(self, mask):
        """masked_select(input, mask): a 1-D tensor of the elements where the bool ``mask``
        (broadcast with input) is True."""
        return _sel.masked_select(self, mask)

    def take_along_dim(self, indices, dim=None):
        """take_along_dim(input, indices, dim=None): gather along ``dim`` with the other
        dimensions broadcast (dim=None: positions in the flattened input)."""
        return _sel.take_along_dim(self, indices, dim)

    def tril(self, diagonal=0):
        """tril(input, diagonal=0): the lower triangle of the matrices in the last two
        dimensions, zeros above the ``diagonal``-th diagonal."""
        return _sel.triangle(self, int(diagonal), lower=True)

    def triu(self, diagonal=0):
        """triu(input, diagonal=0): the upper triangle of the matrices in the last two
        dimensions, zeros below the ``diagonal``-th diagonal."""
        return _sel.triangle(self, int(diagonal), lower=False)

    # ---- rearranging --------------------------------------------------------------
    def movedim(self, source, destination):
        """movedim(input, source, destination): move the dimension(s) ``source`` to the
        position(s) ``destination``, the others keeping their order."""
        return _sel.movedim(self, source, destination)

    moveaxis = movedim

    def swapdims(self, dim0, dim1):
        """swapdims(input, dim0, dim1): swap two dimensions (transpose's alias)."""
        return self.transpose(dim0, dim1)

    def tile(self, *dims):
        """tile(input, dims): repeat input ``dims[i]`` times along each dimension (missing
        leading entries count as 1)."""
        dims = tuple(int(n) for n in _sizes(dims))
        if len(dims) < self.ndim:
            dims = (1,) * (self.ndim - len(dims)) + dims
        return self.repeat(dims) if dims else self.clone()

    def repeat_interleave(self, repeats=None, dim=None, *, output_size=None):
        """repeat_interleave(input, repeats, dim=None): each element repeated ``repeats`` times
        (a number or one count per element) along ``dim`` (None: of the flattened input)."""
        if repeats is None:  # repeat_interleave(counts): arange(len(counts)) repeated so
            counts = _sel.integer_index(self, "repeat_interleave")
            positions = _sel.as_tensor(np.arange(counts.size), self)
            return _sel.repeat_interleave(positions, self, 0)
        out = _sel.repeat_interleave(self, repeats, dim)
        if output_size is not None and out.shape[0 if dim is None else dim] != output_size:
            raise RuntimeError(f"repeat_interleave: output_size={output_size} but the repeats "
                               f"give {out.shape[0 if dim is None else dim]}")
        return out

    def unflatten(self, dim, sizes):
        """unflatten(input, dim, sizes): split dimension ``dim`` into ``sizes`` (one entry may
        be -1, inferred)."""
        dim = _axis_index(dim, self.ndim, what="unflatten: dim",
                          of=f"a tensor of shape {tuple(self.shape)}")
        sizes = tuple(int(s) for s in sizes)
        if not sizes or sizes.count(-1) > 1 or any(s < -1 for s in sizes):
            raise ValueError(f"unflatten: sizes {sizes} must be non-empty, with at most one -1")
        known = int(np.prod([s for s in sizes if s != -1]))
        size = self.shape[dim]
        if (-1 not in sizes and known != size) or (-1 in sizes and (known == 0 or size % known)):
            raise RuntimeError(f"unflatten: sizes {sizes} do not multiply to the size {size} of "
                               f"dim {dim} of a tensor of shape {tuple(self.shape)}")
        shape = tuple(self.shape)
        return self.reshape(shape[:dim] + sizes + shape[dim + 1:])

    def view_as(self, other):
        """view_as(input, other): input with other's shape."""
        return self.reshape(tuple(other.shape))

    def reshape_as(self, other):
        """reshape_as(input, other): input with other's shape."""
        return self.reshape(tuple(other.shape))

    def expand_as(self, other):
        """expand_as(input, other): input broadcast to other's shape."""
        return self.expand(tuple(other.shape))

    # ---- products ---------------------------------------------------------------------
    def mm(self, mat2):
        """mm(input, mat2): the product of two matrices (2-D; matmul or bmm for batches)."""
        mat2 = _pair("mm", self, mat2, (2, 2), "use matmul or bmm for batches")
        _inner_sizes("mm", self, mat2, self.shape[1], mat2.shape[0])
        return _matmul(self, mat2)

    def bmm(self, mat2):
        """bmm(input, mat2): the products of two equal-sized batches of matrices (3-D)."""
        mat2 = _pair("bmm", self, mat2, (3, 3), "use mm for matrices, matmul to broadcast")
        if self.shape[0] != mat2.shape[0]:
            raise RuntimeError(f"bmm: batch sizes {self.shape[0]} and {mat2.shape[0]} differ "
                               f"(shapes {tuple(self.shape)} and {tuple(mat2.shape)}); bmm does "
                               "not broadcast, matmul does")
        _inner_sizes("bmm", self, mat2, self.shape[2], mat2.shape[1])
        return _matmul(self, mat2)

    def mv(self, vec):
        """mv(input, vec): the product of a matrix (2-D) and a vector (1-D)."""
        vec = _pair("mv", self, vec, (2, 1), "use matmul for other shapes")
        _inner_sizes("mv", self, vec, self.shape[1], vec.shape[0])
        return _matmul(self, vec)

    def outer(self, vec2):
        """outer(input, vec2): the outer product of two vectors, out[i, j] = input[i] vec2[j]."""
        vec2 = _sel.as_tensor(vec2, self)
        if self.ndim != 1 or vec2.ndim != 1:
            raise RuntimeError(f"outer: expected two 1-D tensors, got shapes {tuple(self.shape)} "
                               f"and {tuple(vec2.shape)}; flatten them first")
        return self.reshape(-1, 1) * vec2.reshape(1, -1)

    ger = outer

    def inner(self, other):
        """inner(input, other): sums of products over the last dimension of both (a product
        when either is 0-d); the shape is input's leading dims then other's."""
        other = _sel.as_tensor(other, self)
        _sel.same_dtype(self, other, "inner")
        if self.ndim == 0 or other.ndim == 0:
            return self * other
        _inner_sizes("inner", self, other, self.shape[-1], other.shape[-1])
        k = self.shape[-1]
        flat = _matmul(self.reshape(-1, k), other.reshape(-1, k).transpose(0, 1))
        return flat.reshape(tuple(self.shape[:-1]) + tuple(other.shape[:-1]))

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        """addmm(input, mat1, mat2, *, beta=1, alpha=1): beta input + alpha (mat1 @ mat2),
        input broadcast to the product's shape (ignored, NaN included, when beta is 0)."""
        mat1 = _sel.as_tensor(mat1, self)
        product = mat1.mm(mat2)
        try:
            fits = np.broadcast_shapes(tuple(self.shape), product.shape) == product.shape
        except ValueError:
            fits = False
        if not fits:
            raise RuntimeError(f"addmm: input of shape {tuple(self.shape)} does not broadcast to "
                               f"the product's shape {tuple(product.shape)}")
        _sel.same_dtype(product, self, "addmm")
        if alpha != 1:
            product = product * alpha
        if beta == 0:
            return product
        return product + (self if beta == 1 else self * beta)

    # ---- small conveniences ---------------------------------------------------------------
    def where(self, condition, other):
        """input where ``condition`` holds, else ``other`` (differentiable in both)."""
        return _ew.where(condition, self, other)

    def clamp_min(self, min):
        """clamp_min(input, min): max(input, min)."""
        return self.clamp(min=min)

    def clamp_max(self, max):
        """clamp_max(input, max): min(input, max)."""
        return self.clamp(max=max)

    def nelement(self):
        """The number of elements (numel's alias)."""
        return int(self.data.size)

    def is_contiguous(self, memory_format=None):
        """Whether the data is laid out in C order without gaps."""
        return bool(_of(self.data).is_c_contiguous(self.data))

    def type_as(self, other):
        """This tensor converted to other's dtype."""
        return self.to(other.dtype)

    # ---- new tensors with this one's dtype and device (unless given) ---------------------------
    def _new(self, dtype, device):
        return (self.dtype if dtype is None else dtype), (self.device if device is None
                                                            else device)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        """A tensor of ``size`` filled with ``fill_value``, of this tensor's dtype and device."""
        from .factories import full
        dtype, device = self._new(dtype, device)
        return full(tuple(_sizes((size,))), fill_value, dtype=dtype, device=device,
                    requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        """A tensor of zeros of ``size``, of this tensor's dtype and device."""
        return self.new_full(_sizes(size), 0, dtype=dtype, device=device,
                             requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        """A tensor of ones of ``size``, of this tensor's dtype and device."""
        return self.new_full(_sizes(size), 1, dtype=dtype, device=device,
                             requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        """An uninitialised tensor of ``size``, of this tensor's dtype and device."""
        from .factories import empty
        dtype, device = self._new(dtype, device)
        return empty(*_sizes(size), dtype=dtype, device=device, requires_grad=requires_grad)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        """A new leaf holding a copy of ``data``, of this tensor's dtype and device."""
        from .tensor import Tensor, tensor
        dtype, device = self._new(dtype, device)
        if isinstance(data, Tensor):
            data = data.detach()
        return tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
