"""2-D convolution on the CPU: im2col kernels around BLAS matrix products.

For x of shape (N, C, H, W) and a weight w of shape (O, C/G, KH, KW) in G
groups (PyTorch's layouts), with stride s, zero padding and dilation d:

    y[n, o, p, q] = b[o] + sum_{c, i, j} w[o, c, i, j]
                               x[n, g C/G + c, p s_h - top + i d_h, q s_w - left + j d_w]

where g = o // (O/G). The input is copied once into a zero-padded buffer,
then ``im2col`` lays out every receptive field as a column, per sample n
and group g:

    cols[n, g, (c KH + i) KW + j, p OW + q] = x_padded[n, g C/G + c, p s_h + i d_h, q s_w + j d_w]

followed by a row of ones. The convolution is then one matrix product per
sample and group, y[n, g] = [w2_g | b_g] @ cols[n, g], with w2_g the
group's weights as a (O/G, C/G KH KW) matrix: BLAS does the arithmetic,
writes y in its final layout, and adds the bias through the ones row.
Backward uses the same columns: [dw | db] = sum_n g[n] @ cols[n]^T (the
bias gradient falls out of the ones row), dcols[n] = w2^T @ g[n], and
``col2im`` adds dcols back onto the padded input's positions.

Measured on the benchmark shape (batch 64, 1 -> 32 channels, 28x28, 3x3,
float32, one thread, a loaded machine) this took 0.7 ms forward where a
direct numba loop over the output (which LLVM does not vectorise) took
5.6 ms, so im2col + BLAS is used throughout.

The column buffer holds (C KH KW + G) x OH OW values per sample, so the
batch is processed in chunks of at most ``config.CONV_COLUMNS_LIMIT``
values; when one chunk holds the whole batch, forward can keep its
columns for the weight gradient instead of building them again.

Every kernel is threaded over samples or planes (each thread writes its
own rows, so there are no races) through :mod:`sorix.kernels.variants`, and
so are the per-sample products (:mod:`sorix.kernels.products`), each too
small for BLAS to thread on its own.
"""
from collections import namedtuple

import numpy as np

from .. import config
from . import products, recycle
from .variants import run

prange = range  # numba's prange is bound when a kernel is compiled

#: stride (s_h, s_w), padding (top, bottom, left, right), dilation (d_h, d_w), groups
Geometry = namedtuple("Geometry", "stride padding dilation groups")


def output_size(size, kernel, stride, before, after, dilation):
    """floor((size + before + after - dilation (kernel - 1) - 1) / stride) + 1."""
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


def output_shape(x_shape, w_shape, geometry):
    """(N, O, OH, OW) of the convolution of inputs ``x_shape`` by weights ``w_shape``."""
    (sh, sw), (top, bottom, left, right), (dil_h, dil_w), _ = geometry
    return (x_shape[0], w_shape[0],
            output_size(x_shape[2], w_shape[2], sh, top, bottom, dil_h),
            output_size(x_shape[3], w_shape[3], sw, left, right, dil_w))


# ---- kernels ------------------------------------------------------------------------------

# The innermost index is cast to an unsigned int: numba wraps negative signed indices,
# and that check (which LLVM cannot drop unless it proves the index non-negative) turns
# a contiguous row copy into a gather. Every index here is non-negative by construction.

def pad_planes(x, out, top, left):
    """out = x surrounded by zeros: rows [top, top + H) and columns [left, left + W) hold x."""
    n_count, c_count, h, w = x.shape
    hp, wp = out.shape[2], out.shape[3]
    for t in prange(n_count * c_count):
        n = t // c_count
        c = t % c_count
        for a in range(hp):
            if a < top or a >= top + h:
                for b in range(wp):
                    out[n, c, a, b] = 0
            else:
                for b in range(left):
                    out[n, c, a, b] = 0
                for b in range(w):
                    out[n, c, a, np.uint64(left + b)] = x[n, c, a - top, b]
                for b in range(left + w, wp):
                    out[n, c, a, np.uint64(b)] = 0


def im2col(xp, cols, first, cg, kh, kw, sh, sw, dil_h, dil_w, ow_count):
    """cols[m, g, (c kh + i) kw + j, p OW + q] = xp[first + m, g cg + c, p sh + i dil_h,
    q sw + j dil_w] for group g's channels c; a row of ones after each group's rows when
    ``cols`` has room for it (it multiplies the bias column of the weight matrix)."""
    c_count = xp.shape[1]
    m_count, rows = cols.shape[0], cols.shape[2]
    oh_count = cols.shape[3] // ow_count
    ones_row = cg * kh * kw
    for m in prange(m_count):
        n = first + m
        for channel in range(c_count):
            g = channel // cg
            c = channel % cg
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    shift = j * dil_w
                    for p in range(oh_count):
                        a = p * sh + i * dil_h
                        base = p * ow_count
                        if sw == 1:  # contiguous: LLVM vectorises this copy
                            for q in range(ow_count):
                                cols[m, g, row, np.uint64(base + q)] = \
                                    xp[n, channel, a, np.uint64(q + shift)]
                        else:
                            for q in range(ow_count):
                                cols[m, g, row, np.uint64(base + q)] = \
                                    xp[n, channel, a, np.uint64(q * sw + shift)]
        if rows > ones_row:
            for g in range(cols.shape[1]):
                for k in range(cols.shape[3]):
                    cols[m, g, ones_row, k] = 1


def col2im(cols, gxp, first, kh, kw, sh, sw, dil_h, dil_w, ow_count):
    """The adjoint of im2col: gxp[first + m] = the sum of cols (m, G, cg kh kw, OH OW)
    over the positions each column read."""
    c_count, hp, wp = gxp.shape[1], gxp.shape[2], gxp.shape[3]
    m_count, cg = cols.shape[0], cols.shape[2] // (kh * kw)
    oh_count = cols.shape[3] // ow_count
    for m in prange(m_count):
        n = first + m
        for channel in range(c_count):
            g = channel // cg
            c = channel % cg
            for a in range(hp):
                for b in range(wp):
                    gxp[n, channel, a, b] = 0
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    shift = j * dil_w
                    for p in range(oh_count):
                        a = p * sh + i * dil_h
                        base = p * ow_count
                        if sw == 1:
                            for q in range(ow_count):
                                gxp[n, channel, a, np.uint64(q + shift)] += \
                                    cols[m, g, row, np.uint64(base + q)]
                        else:
                            for q in range(ow_count):
                                gxp[n, channel, a, np.uint64(q * sw + shift)] += \
                                    cols[m, g, row, np.uint64(base + q)]


def crop_planes(gxp, gx, top, left):
    """gx = the [top, top + H) x [left, left + W) window of gxp (the inverse of pad_planes)."""
    n_count, c_count, h, w = gx.shape
    for t in prange(n_count * c_count):
        n = t // c_count
        c = t % c_count
        for a in range(h):
            for b in range(w):
                gx[n, c, a, b] = gxp[n, c, a + top, np.uint64(b + left)]


# ---- array functions ------------------------------------------------------------------------

def _padded(x, geometry):
    top, bottom, left, right = geometry.padding
    if not (top or bottom or left or right):
        return x
    n, c, h, w = x.shape
    xp = np.empty((n, c, h + top + bottom, w + left + right), x.dtype)
    run(pad_planes, xp.size, x, xp, top, left)
    return xp


def _chunk(n, values_per_sample):
    """Samples per column buffer: as many as fit in config.CONV_COLUMNS_LIMIT values."""
    return max(1, min(n, config.CONV_COLUMNS_LIMIT // max(1, values_per_sample)))


def _columns(xp, first, count, w_shape, geometry, out_hw, ones):
    """The column buffer (count, G, C/G KH KW [+ 1 row of ones], OH OW) of samples
    [first, first + count)."""
    _, cg, kh, kw = w_shape
    (sh, sw), _, (dil_h, dil_w), groups = geometry
    rows = cg * kh * kw + (1 if ones else 0)
    cols = recycle.empty((count, groups, rows, out_hw[0] * out_hw[1]), xp.dtype)
    run(im2col, cols.size, xp, cols, first, cg, kh, kw, sh, sw, dil_h, dil_w, out_hw[1])
    return cols


def _weight_matrix(w, bias, groups):
    """w as (G, O/G, C/G KH KW), with the bias as one more column when given."""
    o = w.shape[0]
    w3 = w.reshape(groups, o // groups, -1)
    if bias is None:
        return w3
    return np.concatenate([w3, bias.reshape(groups, o // groups, 1)], axis=2)


def conv2d_forward(x, w, bias, geometry, keep_columns=False):
    """``(y, columns)``: the convolution (see the module doc) and, when ``keep_columns``
    and the batch fit in one column buffer, that buffer for :func:`conv2d_backward`
    (else None). ``x``, ``w`` and ``bias`` (or None) are C-contiguous of one float dtype.

    Per sample and group, y = [w2 | bias] @ [cols; ones]: the bias rides in the product.
    """
    shape = output_shape(x.shape, w.shape, geometry)
    n, o, oh, ow = shape
    out = np.empty(shape, x.dtype)
    if out.size == 0:
        return out, None
    groups = geometry.groups
    xp = _padded(x, geometry)
    matrix = _weight_matrix(w, bias, groups)
    out4 = out.reshape(n, groups, o // groups, oh * ow)
    chunk = _chunk(n, matrix.shape[2] * groups * oh * ow)
    cols = None
    for first in range(0, n, chunk):
        count = min(chunk, n - first)
        cols = None  # (frees the last chunk's buffer for reuse)
        cols = _columns(xp, first, count, w.shape, geometry, (oh, ow), bias is not None)
        products.stack(products.shared_left, matrix, cols, out4[first:first + count])
    return out, (cols if keep_columns and chunk >= n else None)


def conv2d(x, w, bias, geometry):
    """The convolution of ``x`` by ``w`` plus ``bias`` (or None); see the module doc."""
    return conv2d_forward(x, w, bias, geometry)[0]


def conv2d_backward(g, x, w, geometry, x_shape, w_shape, need_x, need_w, need_b, columns=None):
    """``(dx, dw, dbias)`` of the convolution for the output gradient ``g`` (None where
    not needed). ``x`` (or the forward's ``columns``) is read only for dw, ``w`` only for
    dx; their shapes come from ``x_shape`` and ``w_shape``.

    Per sample and group: [dw | dbias] = g @ [cols; ones]^T, dcols = w2^T @ g, and dx is
    col2im(dcols). ``columns`` (forward's buffer) carries the row of ones when forward had
    a bias; without it dbias is a plain sum of g.
    """
    dtype = g.dtype
    n, o, oh, ow = g.shape
    groups = geometry.groups
    _, c, h, wd = x_shape
    _, cg, kh, kw = w_shape
    k = cg * kh * kw
    top, bottom, left, right = geometry.padding
    (sh, sw), _, (dil_h, dil_w), _ = geometry
    g4 = g.reshape(n, groups, o // groups, oh * ow)
    dx = dw = dbias = None
    with_ones = need_b and need_w and (columns is None or columns.shape[2] > k)
    if need_w:
        # forward's columns may carry its ones row even where dbias is not wanted: the
        # products then have a bias column, dropped below
        width = columns.shape[2] if columns is not None else k + (1 if with_ones else 0)
        dw = np.zeros((groups, o // groups, width), dtype)
        xp = _padded(x, geometry) if columns is None else None
    if need_x:
        w3 = w.reshape(groups, o // groups, k)
        gxp = np.empty((n, c, h + top + bottom, wd + left + right), dtype)
    chunk = n if columns is not None else _chunk(n, (k + 1) * groups * oh * ow)
    for first in range(0, n, chunk):
        count = min(chunk, n - first)
        g_part = g4[first:first + count]
        if need_w:
            cols = None  # (frees the last chunk's buffer for reuse)
            cols = columns if columns is not None else \
                _columns(xp, first, count, w_shape, geometry, (oh, ow), with_ones)
            per_sample = None  # (frees the last chunk's products for reuse)
            per_sample = recycle.empty((count,) + dw.shape, dtype)
            dw += products.stack(products.right_transposed, g_part, cols, per_sample).sum(axis=0)
        if need_x:
            dcols = None
            dcols = products.stack(products.left_transposed, w3, g_part,
                                   recycle.empty((count, groups, k, oh * ow), dtype))
            run(col2im, dcols.size, dcols, gxp, first, kh, kw, sh, sw, dil_h, dil_w, ow)
    if need_x:
        if top or bottom or left or right:
            dx = np.empty(x_shape, dtype)
            run(crop_planes, dx.size, gxp, dx, top, left)
        else:
            dx = gxp
    if need_b:
        if with_ones:
            dbias = np.ascontiguousarray(dw[:, :, k]).reshape(o)
        else:
            dbias = g4.sum(axis=(0, 3), dtype=np.float64).astype(dtype).reshape(o)
    if need_w:
        dw = np.ascontiguousarray(dw[:, :, :k]).reshape(w_shape)
    return dx, dw, dbias


def conv2d_input_grad(g, w, x_shape, geometry):
    """dx for output gradient ``g``: the transposed convolution of ``g`` by ``w``."""
    return conv2d_backward(g, None, w, geometry, tuple(x_shape), w.shape, True, False, False)[0]


def conv2d_weight_grad(x, g, w_shape, geometry):
    """dw for output gradient ``g``: the correlation of ``x`` with ``g``."""
    return conv2d_backward(g, x, None, geometry, x.shape, tuple(w_shape), False, True, False)[1]
