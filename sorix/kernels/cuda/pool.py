"""2-D max and average pooling on device arrays, one value per thread.

The windows, divisors and NaN rule are the CPU's (:mod:`sorix.kernels.pool`,
whose ``window`` function is compiled here as a device function). Forward
kernels compute one output value per thread. Backward kernels compute one
input value per thread by visiting the few output windows that can contain
it, so windows that overlap need no atomics and sums come out in a fixed
order. A window that reads no input (all padding, with dilation) gives -inf
and position -1, as on the CPU; no input's position is -1, so backward
sends its gradient nowhere.

``dims`` (a tuple of ints, passed by value) holds (N, C, H, W, OH, OW) then
the pooling's ``settings`` as the CPU functions take them.
"""
import numpy as np

from . import build, runtime
from .arrays import contiguous, empty, flat

cuda = grid_range = DTYPE = WINDOW = FIRST = None  # bound per kernel by the builder


def max_pool_kernel(x, out, index, dims):
    n_count, c_count, h, w, oh_count, ow_count, kh, kw, sh, sw, ph, pw, dil_h, dil_w = dims
    for k in grid_range(out.size):
        q = k % ow_count
        p = (k // ow_count) % oh_count
        plane = k // (ow_count * oh_count)
        base = plane * h * w
        best = DTYPE(-np.inf)  # padding; the first tap read replaces it (where < 0)
        where = -1
        for i in range(kh):
            a = p * sh - ph + i * dil_h
            if a >= 0 and a < h:
                for j in range(kw):
                    b = q * sw - pw + j * dil_w
                    if b >= 0 and b < w:
                        v = x[base + a * w + b]
                        if where < 0 or v > best or v != v:
                            best = v
                            where = a * w + b
        out[k] = best
        index[k] = where


def _first_window(position, pad, reach, stride):
    """The first window start o stride - pad that reaches ``position`` (o >= 0)."""
    along = position + pad - reach + 1
    return 0 if along <= 0 else (along + stride - 1) // stride


def max_pool_backward_kernel(g, index, gx, dims):
    n_count, c_count, h, w, oh_count, ow_count, kh, kw, sh, sw, ph, pw, dil_h, dil_w = dims
    for k in grid_range(gx.size):
        inside = k % (h * w)
        plane = k // (h * w)
        a = inside // w
        b = inside % w
        p_last = min((a + ph) // sh, oh_count - 1)
        q_last = min((b + pw) // sw, ow_count - 1)
        acc = DTYPE(0)
        for p in range(FIRST(a, ph, (kh - 1) * dil_h + 1, sh), p_last + 1):
            for q in range(FIRST(b, pw, (kw - 1) * dil_w + 1, sw), q_last + 1):
                m = (plane * oh_count + p) * ow_count + q
                if index[m] == inside:  # (never for -1, a window that read no input)
                    acc += g[m]
        gx[k] = acc


def avg_pool_kernel(x, out, dims):
    n_count, c_count, h, w, oh_count, ow_count, kh, kw, sh, sw, ph, pw, adaptive, \
        include_pad, divisor = dims
    for k in grid_range(out.size):
        q = k % ow_count
        p = (k // ow_count) % oh_count
        base = (k // (ow_count * oh_count)) * h * w
        a0, a1, extent_h = WINDOW(p, h, oh_count, kh, sh, ph, adaptive)
        b0, b1, extent_w = WINDOW(q, w, ow_count, kw, sw, pw, adaptive)
        total = DTYPE(0)
        for a in range(a0, a1):
            for b in range(b0, b1):
                total += x[base + a * w + b]
        if divisor > 0:
            count = divisor
        elif include_pad:
            count = extent_h * extent_w
        else:
            count = (a1 - a0) * (b1 - b0)
        out[k] = total / DTYPE(count)


def avg_pool_backward_kernel(g, gx, dims):
    n_count, c_count, h, w, oh_count, ow_count, kh, kw, sh, sw, ph, pw, adaptive, \
        include_pad, divisor = dims
    for k in grid_range(gx.size):
        inside = k % (h * w)
        plane = k // (h * w)
        a = inside // w
        b = inside % w
        if adaptive:  # the windows [floor(o I / O), ceil((o + 1) I / O)) that hold a
            p0, p1 = (a * oh_count) // h, ((a + 1) * oh_count - 1) // h
            q0, q1 = (b * ow_count) // w, ((b + 1) * ow_count - 1) // w
        else:
            p0, p1 = FIRST(a, ph, kh, sh), (a + ph) // sh
            q0, q1 = FIRST(b, pw, kw, sw), (b + pw) // sw
        acc = DTYPE(0)
        for p in range(p0, min(p1, oh_count - 1) + 1):
            a0, a1, extent_h = WINDOW(p, h, oh_count, kh, sh, ph, adaptive)
            if a < a0 or a >= a1:
                continue
            for q in range(q0, min(q1, ow_count - 1) + 1):
                b0, b1, extent_w = WINDOW(q, w, ow_count, kw, sw, pw, adaptive)
                if b < b0 or b >= b1:
                    continue
                if divisor > 0:
                    count = divisor
                elif include_pad:
                    count = extent_h * extent_w
                else:
                    count = (a1 - a0) * (b1 - b0)
                acc += g[(plane * oh_count + p) * ow_count + q] / DTYPE(count)
        gx[k] = acc


# ---- array functions (the CPU's signatures) -------------------------------------------------

_WINDOW = ("source", "sorix.kernels.pool", "window")
_FIRST = ("source", "sorix.kernels.cuda.pool", "_first_window")


def _dims(x_shape, out_hw, settings):
    return tuple(int(v) for v in tuple(x_shape) + tuple(out_hw) + tuple(settings))


def max_pool2d(x, out_hw, settings):
    """``(y, indices)`` of max pooling ``x`` (N, C, H, W) to ``out_hw``."""
    x = runtime.as_device(x)
    shape = tuple(x.shape[:2]) + tuple(out_hw)
    out = empty(shape, x.dtype)
    index = empty(shape, np.int64)
    if out.size:
        build.kernel(max_pool_kernel, x.dtype).over(
            out.size, flat(contiguous(x)), flat(out), flat(index), _dims(x.shape, out_hw, settings))
    return out, index


def max_pool2d_backward(g, index, x_shape, settings):
    """dx of max pooling: each ``g`` added at its recorded position (``settings`` tell
    which windows can hold each input)."""
    g, index = runtime.as_device(g), runtime.as_device(index)
    gx = empty(tuple(x_shape), g.dtype)
    if gx.size:
        build.kernel(max_pool_backward_kernel, g.dtype, FIRST=_FIRST).over(
            gx.size, flat(contiguous(g)), flat(contiguous(index)), flat(gx),
            _dims(x_shape, g.shape[2:], settings))
    return gx


def avg_pool2d(x, out_hw, settings):
    """Average pooling of ``x`` (N, C, H, W) to ``out_hw``."""
    x = runtime.as_device(x)
    out = empty(tuple(x.shape[:2]) + tuple(out_hw), x.dtype)
    if out.size:
        build.kernel(avg_pool_kernel, x.dtype, WINDOW=_WINDOW).over(
            out.size, flat(contiguous(x)), flat(out), _dims(x.shape, out_hw, settings))
    return out


def avg_pool2d_backward(g, x_shape, settings):
    """dx of average pooling for the output gradient ``g``."""
    g = runtime.as_device(g)
    gx = empty(tuple(x_shape), g.dtype)
    if gx.size:
        build.kernel(avg_pool_backward_kernel, g.dtype, WINDOW=_WINDOW, FIRST=_FIRST).over(
            gx.size, flat(contiguous(g)), flat(gx), _dims(x_shape, g.shape[2:], settings))
    return gx
