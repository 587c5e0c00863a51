"""Transposed convolutions, ``conv_transpose1d`` and ``conv_transpose2d``, as PyTorch has them.

A transposed convolution is the gradient of a convolution with respect to its
input, and :func:`sorix.ops.conv.conv_input_grad` is exactly that op, already
differentiable to every order on every device. Its weight layout,
(channels of g, channels of x / groups, *kernel), is PyTorch's transposed
layout (in_channels, out_channels / groups, *kernel), so the weight is used
as it is: no flip, no channel swap, no zeros inserted between input elements.

For input size n, stride s, padding p, dilation d, kernel k and output_padding
op the output has (n - 1) s - 2 p + d (k - 1) + op + 1 elements, element t
receiving x[i] w[j] wherever i s - p + j d = t. This is conv_input_grad for an
``x_shape`` of that size with padding p in front; the padding at the end only
fixes how many convolution outputs the geometry has, and is chosen so that
there are exactly n. When op >= s (allowed if op < d) no non-negative end
padding gives n, so the input gets zeros appended: they add nothing.
"""
from ..errors import ShapeMismatchError
from ..kernels.conv import Geometry, output_size
from .conv import _compute_dtype, _in_dtype, _int, conv_input_grad, operands, tuple_of
from .padding import pad


def transposed_size(size, kernel, stride, padding, dilation, output_padding=0):
    """(size - 1) stride - 2 padding + dilation (kernel - 1) + output_padding + 1."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def check_output_padding(output_padding, stride, dilation, name):
    """Raise unless each output_padding is smaller than its stride or its dilation."""
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(
                f"{name}: output_padding {output_padding} must be smaller than either the stride "
                f"{stride} or the dilation {dilation} in each dimension; lower output_padding "
                "(it only adds up to stride - 1 elements at the end) or pass output_size")


def _check_float(name, tensors):
    for what, t in tensors:
        if t is not None and t.data.dtype.kind != "f":
            raise TypeError(f"{name}: {what} must be a float32 or float64 tensor, got "
                            f"{t.dtype}; convert it with .float() or .double()")


def _transposed(name, dims, input, weight, bias, stride, padding, output_padding, groups,
                dilation):
    x, w, b = operands(name, dims, input, weight, bias, "in_channels, out_channels / groups")
    _check_float(name, (("input", x), ("weight", w), ("bias", b)))
    dtype = _compute_dtype(x, w, b)
    if not _int(groups) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    in_channels, out_channels = w.shape[0], w.shape[1] * groups
    if in_channels % groups:
        raise ShapeMismatchError(f"{name}: the weight's {in_channels} input channels (its first "
                                 f"dimension) are not divisible by groups={groups}")
    unbatched = x.ndim == dims + 1
    channels = x.shape[0 if unbatched else 1]
    if channels != in_channels:
        raise ShapeMismatchError(
            f"{name}: weight of shape {tuple(w.shape)} expects input with {in_channels} "
            f"channels (the weight's first dimension), got input of shape {tuple(x.shape)} "
            f"({channels} channels)")
    if b is not None and tuple(b.shape) != (out_channels,):
        raise ShapeMismatchError(f"{name}: bias should have shape ({out_channels},) "
                                 f"(out_channels = weight.shape[1] * groups), got "
                                 f"{tuple(b.shape)}")
    if isinstance(padding, str):
        raise ValueError(f"{name}: padding must be ints, got {padding!r} (transposed "
                         "convolutions take no 'same' or 'valid')")
    kernel = tuple(w.shape[2:])
    stride = tuple_of(stride, dims, "stride", 1)
    padding = tuple_of(padding, dims, "padding", 0)
    output_padding = tuple_of(output_padding, dims, "output_padding", 0)
    dilation = tuple_of(dilation, dims, "dilation", 1)
    check_output_padding(output_padding, stride, dilation, name)
    spatial = tuple(x.shape[-dims:])
    sizes = tuple(transposed_size(*args) for args in
                  zip(spatial, kernel, stride, padding, dilation, output_padding))
    if any(size < 1 for size in sizes):
        raise ShapeMismatchError(
            f"{name}: input of spatial size {spatial} gives an output of size {sizes}, which is "
            "too small; use less padding or a larger input, stride or kernel")

    if dims == 1:  # a 1-D transposed convolution is a 2-D one over a height of 1
        kernel, spatial, sizes = (1,) + kernel, (1,) + spatial, (1,) + sizes
        stride, padding, dilation = (1,) + stride, (0,) + padding, (1,) + dilation
        output_padding = (0,) + output_padding
        w = w.reshape((w.shape[0], w.shape[1], 1) + tuple(w.shape[2:]))
        x = x.reshape(tuple(x.shape[:-1]) + (1,) + tuple(x.shape[-1:]))
    if unbatched:
        x = x.reshape((1,) + tuple(x.shape))
    x, w = _in_dtype(x, dtype), _in_dtype(w, dtype)
    # end padding that makes the convolution of a `sizes` input have exactly `spatial`
    # outputs; extra outputs it cannot avoid (op >= stride) read appended zeros instead
    ends = tuple(max(p - op, 0) for p, op in zip(padding, output_padding))
    extra = tuple(output_size(size, k, s, p, e, d) - n for size, k, s, p, e, d, n in
                  zip(sizes, kernel, stride, padding, ends, dilation, spatial))
    if any(extra):
        x = pad(x, (0, extra[1], 0, extra[0]))
    geometry = Geometry(stride, (padding[0], ends[0], padding[1], ends[1]), dilation, groups)
    out = conv_input_grad(x, w, (x.shape[0], out_channels) + sizes, geometry)
    if b is not None:
        out = out + _in_dtype(b, dtype).reshape((1, out_channels, 1, 1))
    shape = tuple(out.shape)
    if dims == 1:
        shape = shape[:2] + shape[3:]
    if unbatched:
        shape = shape[1:]
    return out if shape == tuple(out.shape) else out.reshape(shape)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution of (N, C_in, H, W) or (C_in, H, W) input by ``weight`` of
    shape (C_in, C_out / groups, KH, KW): the gradient of ``conv2d`` with respect to its
    input, so each input element x[n, c, i, j] adds x[n, c, i, j] weight[c, o, a, b] to
    y[n, g C_out/groups + o, i s_h - p_h + a d_h, j s_w - p_w + b d_w] (g = c's group).

    The output is ((H - 1) s_h - 2 p_h + d_h (KH - 1) + op_h + 1) high (likewise wide);
    ``output_padding`` (op, smaller than the stride or the dilation) picks one of the
    sizes a strided convolution maps onto the same input size. Arguments are ints or pairs.
    """
    return _transposed("conv_transpose2d", 2, input, weight, bias, stride, padding,
                       output_padding, groups, dilation)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-D transposed convolution of (N, C_in, L) or (C_in, L) input by ``weight`` of shape
    (C_in, C_out / groups, K): output length (L - 1) s - 2 p + d (K - 1) + op + 1
    (see :func:`conv_transpose2d`)."""
    return _transposed("conv_transpose1d", 1, input, weight, bias, stride, padding,
                       output_padding, groups, dilation)


__all__ = ["conv_transpose1d", "conv_transpose2d", "transposed_size", "check_output_padding"]
