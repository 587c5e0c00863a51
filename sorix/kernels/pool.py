"""2-D max and average pooling on the CPU, one thread per (sample, channel) plane.

Windows follow PyTorch. Along one axis of input size I, output position o
of a pooling with kernel k, stride s and padding p reads the inputs
[o s - p, o s - p + k) (with dilation d, every d-th of k (k - 1) d + 1 for
max pooling), clipped to [0, I). An adaptive pooling to O outputs reads
[floor(o I / O), ceil((o + 1) I / O)). Padding counts as -inf for max
pooling and as 0 for average pooling; the average divides by the window
size counted up to the padded edge (``count_include_pad``), by the inputs
actually read, or by ``divisor_override``.

Max pooling records the flat position (row W + column) of each window's
maximum in its plane, PyTorch's ``indices``; backward adds each output
gradient to that position. A NaN in a window wins, as in PyTorch. With
dilation and padding a window can read no input at all (kernel 2, dilation
2, padding 1 over a length-1 axis reads positions -1 and 1): its maximum is
-inf, its position -1 (no input element), and backward sends its gradient
nowhere.
"""
import numpy as np

from .variants import run

prange = range  # numba's prange is bound when a kernel is compiled


def window(o, size, out_size, kernel, stride, pad, adaptive):
    """(start, end, extent): the inputs [start, end) output position ``o`` reads along one
    axis, and the window's length counting padding (the count_include_pad divisor)."""
    if adaptive:
        start = (o * size) // out_size
        end = ((o + 1) * size + out_size - 1) // out_size
        return start, end, end - start
    start = o * stride - pad
    end = start + kernel
    if end > size + pad:
        end = size + pad
    extent = end - start
    if start < 0:
        start = 0
    if end > size:
        end = size
    return start, end, extent


def pick(v, position, best, where):
    """One step of a window's scan: ``v`` at ``position`` replaces the maximum so far when
    it is larger or NaN (so the first of equal maxima stays, and the last NaN wins)."""
    take = (v > best) | (v != v)
    return (v if take else best), (position if take else where)


def scan(x, n, c, a0, b0, kh, kw, dil_h, dil_w):
    """(maximum, its flat position) of the window whose first row and column are ``a0``,
    ``b0`` (negative in the padding) in plane (n, c), reading only inside the plane: what
    :func:`max_pool` computes per window, for the windows the unrolled kernels below
    cannot read unrolled. A window that reads no input gives (-inf, -1)."""
    h, w = x.shape[2], x.shape[3]
    best = x.dtype.type(-np.inf)  # (in x's dtype: a float64 would widen the callers' maxima)
    where = -1
    for i in range(kh):
        a = a0 + i * dil_h
        if a < 0 or a >= h:
            continue
        for j in range(kw):
            b = b0 + j * dil_w
            if b < 0 or b >= w:
                continue
            v = x[n, c, a, b]
            if where < 0 or v > best or v != v:  # (pick's rule; helpers cannot call helpers)
                best = v
                where = a * w + b
    return best, where


JIT_HELPERS = ("window", "pick", "scan")


def max_pool(x, out, index, kh, kw, sh, sw, ph, pw, dil_h, dil_w):
    """out = the maximum of each window, index = its flat position in the plane; -inf and
    -1 for a window that reads no input (all padding, with dilation).
    (:func:`scan`'s loop, written out: calling it per window cost this kernel 15%.)"""
    n_count, c_count, h, w = x.shape
    oh_count, ow_count = out.shape[2], out.shape[3]
    lowest = x.dtype.type(-np.inf)  # padding; the first tap read replaces it (where < 0)
    for t in prange(n_count * c_count):
        n = t // c_count
        c = t % c_count
        for p in range(oh_count):
            for q in range(ow_count):
                best = lowest
                where = -1
                for i in range(kh):
                    a = p * sh - ph + i * dil_h
                    if a < 0 or a >= h:
                        continue
                    for j in range(kw):
                        b = q * sw - pw + j * dil_w
                        if b < 0 or b >= w:
                            continue
                        v = x[n, c, a, b]
                        if where < 0 or v > best or v != v:
                            best = v
                            where = a * w + b
                out[n, c, p, q] = best
                index[n, c, p, q] = where


def max_pool_unrolled(x, out, index, k, sh, sw, ph, pw):
    """:func:`max_pool` for the two usual windows, k x k with k 2 or 3 and no dilation:
    a window inside the plane is read unrolled, in the general scan's order, and one that
    crosses the edge (padding, ceil_mode) by :func:`scan`. A loop over a window whose
    size is known only at run time cost 4 times more: 2x2 pooling of a (64, 6, 28, 28)
    float32 batch took 1.0 ms on one thread that way, 0.26 ms unrolled."""
    n_count, c_count, h, w = x.shape
    oh_count, ow_count = out.shape[2], out.shape[3]
    for t in prange(n_count * c_count):
        n = t // c_count
        c = t % c_count
        for p in range(oh_count):
            a = p * sh - ph
            for q in range(ow_count):
                b = q * sw - pw
                if a < 0 or b < 0 or a + k > h or b + k > w:
                    best, where = scan(x, n, c, a, b, k, k, 1, 1)
                elif k == 2:
                    top = a * w + b
                    best, where = x[n, c, a, b], top
                    best, where = pick(x[n, c, a, b + 1], top + 1, best, where)
                    best, where = pick(x[n, c, a + 1, b], top + w, best, where)
                    best, where = pick(x[n, c, a + 1, b + 1], top + w + 1, best, where)
                else:
                    top = a * w + b
                    mid = top + w
                    low = mid + w
                    best, where = x[n, c, a, b], top
                    best, where = pick(x[n, c, a, b + 1], top + 1, best, where)
                    best, where = pick(x[n, c, a, b + 2], top + 2, best, where)
                    best, where = pick(x[n, c, a + 1, b], mid, best, where)
                    best, where = pick(x[n, c, a + 1, b + 1], mid + 1, best, where)
                    best, where = pick(x[n, c, a + 1, b + 2], mid + 2, best, where)
                    best, where = pick(x[n, c, a + 2, b], low, best, where)
                    best, where = pick(x[n, c, a + 2, b + 1], low + 1, best, where)
                    best, where = pick(x[n, c, a + 2, b + 2], low + 2, best, where)
                out[n, c, p, q] = best
                index[n, c, p, q] = where


def max_pool_backward(g, index, gx):
    """gx (planes flattened to (N, C, H W)) = each g added at its recorded position; a
    window that read no input (position -1) sends its g nowhere (gx[..., -1] would
    wrap around to the plane's last input)."""
    n_count, c_count, size = gx.shape
    oh_count, ow_count = g.shape[2], g.shape[3]
    for t in prange(n_count * c_count):
        n = t // c_count
        c = t % c_count
        for k in range(size):
            gx[n, c, k] = 0
        for p in range(oh_count):
            for q in range(ow_count):
                at = index[n, c, p, q]
                if at >= 0:
                    gx[n, c, at] += g[n, c, p, q]


def avg_pool(x, out, kh, kw, sh, sw, ph, pw, adaptive, include_pad, divisor):
    """out = the sum of each window (in float64) over its divisor (see the module doc)."""
    n_count, c_count, h, w = x.shape
    oh_count, ow_count = out.shape[2], out.shape[3]
    for t in prange(n_count * c_count):
        n = t // c_count
        c = t % c_count
        for p in range(oh_count):
            a0, a1, extent_h = window(p, h, oh_count, kh, sh, ph, adaptive)
            for q in range(ow_count):
                b0, b1, extent_w = window(q, w, ow_count, kw, sw, pw, adaptive)
                total = 0.0
                for a in range(a0, a1):
                    for b in range(b0, b1):
                        total += x[n, c, a, b]
                if divisor > 0:
                    count = divisor
                elif include_pad:
                    count = extent_h * extent_w
                else:
                    count = (a1 - a0) * (b1 - b0)
                out[n, c, p, q] = total / count


def avg_pool_backward(g, gx, kh, kw, sh, sw, ph, pw, adaptive, include_pad, divisor):
    """gx = each g over its window's divisor, added to every input of the window."""
    n_count, c_count, h, w = gx.shape
    oh_count, ow_count = g.shape[2], g.shape[3]
    for t in prange(n_count * c_count):
        n = t // c_count
        c = t % c_count
        for a in range(h):
            for b in range(w):
                gx[n, c, a, b] = 0
        for p in range(oh_count):
            a0, a1, extent_h = window(p, h, oh_count, kh, sh, ph, adaptive)
            for q in range(ow_count):
                b0, b1, extent_w = window(q, w, ow_count, kw, sw, pw, adaptive)
                if divisor > 0:
                    count = divisor
                elif include_pad:
                    count = extent_h * extent_w
                else:
                    count = (a1 - a0) * (b1 - b0)
                v = g[n, c, p, q] / count
                for a in range(a0, a1):
                    for b in range(b0, b1):
                        gx[n, c, a, b] += v


# ---- array functions ------------------------------------------------------------------------
# ``settings`` are the pooling's ints, in the kernels' order: for max pooling
# (kh, kw, sh, sw, ph, pw, dil_h, dil_w); for average pooling
# (kh, kw, sh, sw, ph, pw, adaptive, include_pad, divisor), with divisor 0 for none.

def max_pool2d(x, out_hw, settings):
    """``(y, indices)`` of max pooling C-contiguous ``x`` (N, C, H, W) to ``out_hw``."""
    shape = tuple(x.shape[:2]) + tuple(out_hw)
    out = np.empty(shape, x.dtype)
    index = np.empty(shape, np.int64)
    if out.size:
        kh, kw, sh, sw, ph, pw = settings[:6]
        if takes_unrolled(settings):
            run(max_pool_unrolled, out.size * kh * kw, x, out, index, kh, sh, sw, ph, pw)
        else:
            run(max_pool, out.size * kh * kw, x, out, index, *settings)
    return out, index


def takes_unrolled(settings):
    """Whether :func:`max_pool_unrolled` computes this pooling: square 2x2 or 3x3 windows,
    no dilation."""
    kh, kw, _, _, _, _, dil_h, dil_w = settings
    return dil_h == dil_w == 1 and kh == kw and kh in (2, 3)


def max_pool2d_backward(g, index, x_shape, settings=None):
    """dx of max pooling: ``g`` added at ``index`` in each plane of a (N, C, H, W) zero array
    (index -1, a window in the padding: dropped).
    (``settings`` is for the GPU's version, which visits the windows around each input.)"""
    n, c, h, w = x_shape
    gx = np.empty((n, c, h * w), g.dtype)
    if gx.size:
        run(max_pool_backward, gx.size + g.size, np.ascontiguousarray(g), index, gx)
    return gx.reshape(x_shape)


def avg_pool2d(x, out_hw, settings):
    """Average pooling of C-contiguous ``x`` (N, C, H, W) to ``out_hw``."""
    out = np.empty(tuple(x.shape[:2]) + tuple(out_hw), x.dtype)
    if out.size:
        run(avg_pool, x.size + out.size, x, out, *settings)
    return out


def avg_pool2d_backward(g, x_shape, settings):
    """dx of average pooling for the output gradient ``g``."""
    gx = np.empty(tuple(x_shape), g.dtype)
    if gx.size:
        run(avg_pool_backward, gx.size + g.size, np.ascontiguousarray(g), gx, *settings)
    return gx
