"""2-D convolution on device arrays: direct kernels, one output value per thread.

The same maths as the CPU's :mod:`sorix.kernels.conv` (its module doc has
the formula), computed without a column buffer:

- forward: each thread sums its output value's receptive field;
- input gradient: each thread gathers, for one input value, every
  (output, kernel tap) pair that read it, so no two threads write one
  value (no atomics, a deterministic sum);
- weight gradient: one block per weight value reduces its sum over the
  batch and the output positions in shared memory;
- bias gradient: a sum of g over N, H and W (:func:`sum`).

Arrays are C-contiguous and passed flat; ``dims`` carries the sizes and
the geometry as one tuple of ints (passed by value, no copy to the
device): (N, C, H, W, O, C/G, KH, KW, OH, OW, s_h, s_w, top, left, d_h,
d_w, O/G).
"""
from ..conv import output_shape
from . import build, runtime
from .arrays import contiguous, empty, flat, zeros
from .reduce import sum as _sum

cuda = grid_range = DTYPE = BLOCK = BLOCK_SUM = None  # bound per kernel by the builder


# ---- kernels ------------------------------------------------------------------------------

def conv_forward_kernel(x, w, bias, out, dims, with_bias, zero):
    n_count, c_count, h, wd, o_count, cg, kh, kw, oh_count, ow_count, sh, sw, top, left, \
        dil_h, dil_w, og = dims
    for k in grid_range(out.size):
        q = k % ow_count
        t = k // ow_count
        p = t % oh_count
        t = t // oh_count
        o = t % o_count
        n = t // o_count
        first_channel = (o // og) * cg
        acc = zero
        for c in range(cg):
            x_plane = (n * c_count + first_channel + c) * h
            w_plane = (o * cg + c) * kh
            for i in range(kh):
                a = p * sh - top + i * dil_h
                if a >= 0 and a < h:
                    for j in range(kw):
                        b = q * sw - left + j * dil_w
                        if b >= 0 and b < wd:
                            acc += w[(w_plane + i) * kw + j] * x[(x_plane + a) * wd + b]
        if with_bias:
            acc += bias[o]
        out[k] = acc


def conv_input_grad_kernel(g, w, gx, dims, zero):
    n_count, c_count, h, wd, o_count, cg, kh, kw, oh_count, ow_count, sh, sw, top, left, \
        dil_h, dil_w, og = dims
    for k in grid_range(gx.size):
        b = k % wd
        t = k // wd
        a = t % h
        t = t // h
        channel = t % c_count
        n = t // c_count
        c = channel % cg
        first_output = (channel // cg) * og
        acc = zero
        for oo in range(og):
            o = first_output + oo
            g_plane = (n * o_count + o) * oh_count
            w_plane = (o * cg + c) * kh
            for i in range(kh):
                along_h = a + top - i * dil_h  # = p s_h for the output row p that read a
                if along_h < 0 or along_h % sh != 0 or along_h // sh >= oh_count:
                    continue
                p = along_h // sh
                for j in range(kw):
                    along_w = b + left - j * dil_w
                    if along_w < 0 or along_w % sw != 0 or along_w // sw >= ow_count:
                        continue
                    acc += w[(w_plane + i) * kw + j] * g[(g_plane + p) * ow_count + along_w // sw]
        gx[k] = acc


def conv_weight_grad_kernel(x, g, dw, dims, zero):
    n_count, c_count, h, wd, o_count, cg, kh, kw, oh_count, ow_count, sh, sw, top, left, \
        dil_h, dil_w, og = dims
    shared = cuda.shared.array(BLOCK, DTYPE)
    tid = cuda.threadIdx.x
    terms = n_count * oh_count * ow_count
    for e in range(cuda.blockIdx.x, dw.size, cuda.gridDim.x):
        j = e % kw
        t = e // kw
        i = t % kh
        t = t // kh
        c = t % cg
        o = t // cg
        channel = (o // og) * cg + c
        acc = zero
        for r in range(tid, terms, BLOCK):
            q = r % ow_count
            t2 = r // ow_count
            p = t2 % oh_count
            n = t2 // oh_count
            a = p * sh - top + i * dil_h
            b = q * sw - left + j * dil_w
            if a >= 0 and a < h and b >= 0 and b < wd:
                acc += g[((n * o_count + o) * oh_count + p) * ow_count + q] * \
                    x[((n * c_count + channel) * h + a) * wd + b]
        acc = BLOCK_SUM(shared, acc)
        if tid == 0:
            dw[e] = acc


# ---- array functions ------------------------------------------------------------------------

def _dims(x_shape, w_shape, out_hw, geometry):
    n, c, h, wd = (int(v) for v in x_shape)
    o, cg, kh, kw = (int(v) for v in w_shape)
    (sh, sw), (top, _, left, _), (dil_h, dil_w), groups = geometry
    return (n, c, h, wd, o, cg, kh, kw, int(out_hw[0]), int(out_hw[1]), int(sh), int(sw),
            int(top), int(left), int(dil_h), int(dil_w), o // int(groups))


def conv2d_forward(x, w, bias, geometry, keep_columns=False):
    """``(y, None)``: the convolution of C-contiguous ``x`` by ``w`` plus ``bias`` (or None).
    (No column buffer exists on the GPU: the second value keeps the CPU's signature.)"""
    x, w = runtime.as_device(x), runtime.as_device(w)
    shape = output_shape(tuple(x.shape), tuple(w.shape), geometry)
    out = empty(shape, x.dtype)
    if out.size:
        dtype = x.dtype
        with_bias = bias is not None
        bias_data = flat(contiguous(runtime.as_device(bias))) if with_bias else zeros(1, dtype)
        build.kernel(conv_forward_kernel, dtype).over(
            out.size, flat(contiguous(x)), flat(contiguous(w)), bias_data, flat(out),
            _dims(x.shape, w.shape, shape[2:], geometry), with_bias, dtype.type(0))
    return out, None


def conv2d(x, w, bias, geometry):
    """The convolution of ``x`` by ``w`` plus ``bias`` (or None)."""
    return conv2d_forward(x, w, bias, geometry)[0]


def conv2d_input_grad(g, w, x_shape, geometry):
    """dx for output gradient ``g``: the transposed convolution of ``g`` by ``w``."""
    g, w = runtime.as_device(g), runtime.as_device(w)
    gx = empty(tuple(x_shape), g.dtype)
    if gx.size:
        build.kernel(conv_input_grad_kernel, g.dtype).over(
            gx.size, flat(contiguous(g)), flat(contiguous(w)), flat(gx),
            _dims(x_shape, w.shape, g.shape[2:], geometry), g.dtype.type(0))
    return gx


def conv2d_weight_grad(x, g, w_shape, geometry):
    """dw for output gradient ``g``: the correlation of ``x`` with ``g``."""
    x, g = runtime.as_device(x), runtime.as_device(g)
    dw = empty(tuple(w_shape), g.dtype)
    if dw.size:
        build.kernel(conv_weight_grad_kernel, g.dtype, BLOCK_SUM=("block", "add")).over_rows(
            dw.size, flat(contiguous(x)), flat(contiguous(g)), flat(dw),
            _dims(x.shape, w_shape, g.shape[2:], geometry), g.dtype.type(0))
    return dw


def conv2d_backward(g, x, w, geometry, x_shape, w_shape, need_x, need_w, need_b, columns=None):
    """``(dx, dw, dbias)`` for output gradient ``g`` (None where not needed); the CPU's
    signature (``columns`` is always None here)."""
    dx = conv2d_input_grad(g, w, x_shape, geometry) if need_x else None
    dw = conv2d_weight_grad(x, g, w_shape, geometry) if need_w else None
    dbias = None
    if need_b:
        g = runtime.as_device(g)
        dbias = _sum(g, (0, 2, 3)) if g.size else zeros(g.shape[1], g.dtype)
    return dx, dw, dbias
