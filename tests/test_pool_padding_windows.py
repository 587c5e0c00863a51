"""Max pooling windows that lie entirely in the padding (dilation > 1 with padding).

Such a window reads no input: its value is -inf (padding counts as -inf), its index is -1
(no input element) and backward sends its gradient nowhere. The kernels used to start a
window's scan from the plane's first value with index -1, so such a window gave that value,
and backward's ``gx[index]`` wrapped -1 around to the plane's last input.

References here are NumPy: the input padded with -inf and each window's maximum taken, the
argmax among the taps inside the input (the first of equal maxima, the last NaN), and the
gradient routed to each window's argmax. PyTorch's forward is compared too, on the inputs it
accepts (it wants padding <= kernel // 2, undilated; under that rule a window in the padding
is the only window along its axis, so the mixed cases below are sorix's, whose rule is
padding <= half the dilated kernel). PyTorch's backward is never run on these inputs: it
writes out of bounds for such windows.

The same checks run on device='cuda' under numba's CUDA simulator (tests/cuda_setup.py),
skipped when numba-cuda cannot be loaded; the CPU tests run either way.
"""
import numpy as np
import pytest

import sorix
import sorix.nn.functional as F
from sorix import config

from conftest import DTYPES

try:
    import cuda_setup
    cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py
except pytest.skip.Exception as why:  # numba-cuda missing, or numba.cuda loaded without it
    cuda, NO_CUDA = None, str(why)
else:
    NO_CUDA = None
    from cuda_setup import device_api_only, fast_thread_switching, on_both  # noqa: F401

needs_cuda = pytest.mark.skipif(cuda is None, reason=f"CUDA simulator: {NO_CUDA}")


# ---- NumPy references ------------------------------------------------------------------------

def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def out_len(size, k, s, p, d, ceil_mode):
    """PyTorch's pooled length (with ceil_mode the last window starts inside the input or
    its left padding)."""
    span = size + 2 * p - d * (k - 1) - 1
    n = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (n - 1) * s >= size + p:
        n -= 1
    return n


def reference(x, kernel, stride, padding, dilation, ceil_mode=False):
    """(values, indices) of max pooling (N, C, H, W) ``x``: values from the input padded with
    -inf (np.max: a NaN wins), indices the flat position of the argmax among the taps inside
    the input (the last NaN, else the first maximum), -1 where no tap is inside."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = map(pair, (kernel, stride, padding, dilation))
    n, c, h, w = x.shape
    oh, ow = out_len(h, kh, sh, ph, dh, ceil_mode), out_len(w, kw, sw, pw, dw, ceil_mode)
    # room for windows that run past the right padding (ceil_mode)
    extra_h = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - (h + 2 * ph))
    extra_w = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - (w + 2 * pw))
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph + extra_h), (pw, pw + extra_w)),
                    constant_values=-np.inf)
    values = np.empty((n, c, oh, ow), x.dtype)
    index = np.full((n, c, oh, ow), -1, np.int64)
    for p in range(oh):
        for q in range(ow):
            rows = p * sh + dh * np.arange(kh)
            cols = q * sw + dw * np.arange(kw)
            values[:, :, p, q] = padded[:, :, rows][:, :, :, cols].max(axis=(2, 3))
            taps = [(a, b) for a in rows - ph for b in cols - pw if 0 <= a < h and 0 <= b < w]
            for i in range(n):
                for j in range(c):
                    if not taps:
                        continue
                    read = np.array([x[i, j, a, b] for a, b in taps])
                    nan = np.flatnonzero(np.isnan(read))
                    k = nan[-1] if nan.size else int(np.argmax(read))
                    index[i, j, p, q] = taps[k][0] * w + taps[k][1]
    return values, index


def reference_grad(weights, index, x_shape):
    """Each window's upstream gradient added at its argmax; windows with index -1 dropped."""
    n, c, h, w = x_shape
    gx = np.zeros((n, c, h * w), weights.dtype)
    for i in range(n):
        for j in range(c):
            for at, g in zip(index[i, j].reshape(-1), weights[i, j].reshape(-1)):
                if at >= 0:
                    gx[i, j, at] += g
    return gx.reshape(x_shape)


def distinct(shape, dtype, seed):
    """Values without ties (a permutation, shuffled and scaled)."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.37 - 3.0).astype(dtype)


def in_padding(index):
    return np.asarray(index) < 0


# ---- the cases -------------------------------------------------------------------------------
# (shape, kernel, stride, padding, dilation, ceil_mode); each has windows in the padding.

#: 2-D cases PyTorch rejects (padding over half the undilated kernel): windows in the padding
#: among windows that read inputs
MIXED_2D = [
    ((2, 3, 3, 5), (2, 3), (1, 2), (2, 1), (4, 1), False),  # the middle row of windows
    ((2, 2, 4, 3), (3, 2), 1, (1, 2), (1, 4), False),  # the middle column
    ((1, 2, 3, 3), 2, 1, 2, 4, False),  # both: 5 of the 9 windows
    ((2, 2, 1, 4), (2, 2), (2, 1), (2, 1), (3, 2), True),  # ceil_mode's extra row: [pad, in]
    ((1, 3, 2, 4), (3, 2), (2, 1), (3, 1), (3, 2), True),  # ceil_mode's last row in padding
]

#: 2-D cases PyTorch accepts: every window in the padding (the only window along H or W)
TORCH_2D = [
    ((1, 1, 1, 2), (2, 1), 1, (1, 0), (2, 1), False),  # the reported case
    ((1, 2, 2, 3), 2, 1, 1, (3, 4), False),
    ((2, 2, 1, 6), (2, 3), (1, 2), (1, 1), (2, 1), False),  # H in the padding, W not
    ((2, 1, 5, 1), (3, 2), (2, 1), (1, 1), (1, 2), True),  # W in the padding, H not
]

#: 1-D cases: (shape (N, C, L), kernel, stride, padding, dilation, ceil_mode)
MIXED_1D = [
    ((2, 3, 3), 2, 1, 2, 4, False),  # [in, pad, in]
    ((1, 2, 5), 2, 1, 3, 6, False),  # [in, in, pad, in, in]
    ((2, 2, 1), 2, 2, 2, 3, True),  # [pad, in]: ceil_mode's extra window
]
TORCH_1D = [
    ((2, 3, 1), 2, 1, 1, 2, False),  # the reported case
    ((1, 2, 3), 2, 2, 1, 4, True),
    ((2, 1, 2), 2, 3, 1, 3, False),
]


def as_2d(case):
    """A 1-D case as the (N, C, 1, L) 2-D case it computes."""
    shape, k, s, p, d, ceil_mode = case
    return shape[:2] + (1, shape[2]), (1, k), (1, s), (0, p), (1, d), ceil_mode


def threads(threaded, monkeypatch):
    if threaded:  # the threaded builds, on these tiny inputs too
        monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 1)
        monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)


def run_2d(x, case, device="cpu"):
    """(y, indices, x.grad, upstream weights) of F.max_pool2d on ``case``."""
    _, k, s, p, d, ceil_mode = case
    xs = sorix.tensor(x, requires_grad=True, device=device)
    y, index = F.max_pool2d(xs, k, s, p, d, ceil_mode, return_indices=True)
    weights = np.random.default_rng(11).uniform(0.5, 1.5, tuple(y.shape)).astype(x.dtype)
    (y * sorix.tensor(weights, device=device)).sum().backward()
    return y, index, xs.grad, weights


def run_1d(x, case):
    _, k, s, p, d, ceil_mode = case
    xs = sorix.tensor(x, requires_grad=True)
    y, index = F.max_pool1d(xs, k, s, p, d, ceil_mode, return_indices=True)
    weights = np.random.default_rng(12).uniform(0.5, 1.5, tuple(y.shape)).astype(x.dtype)
    (y * sorix.tensor(weights)).sum().backward()
    return y, index, xs.grad, weights


def check_against_reference(y, index, grad, weights, x, case2d, mixed):
    """Values, indices and gradient equal the NumPy references; the case has windows in the
    padding (and, when ``mixed``, windows that read inputs)."""
    _, k, s, p, d, ceil_mode = case2d
    x4 = x.reshape(case2d[0])
    want, want_index = reference(x4, k, s, p, d, ceil_mode)
    values = np.asarray(y.data).reshape(want.shape)
    got_index = np.asarray(index.data).reshape(want.shape)
    assert values.dtype == x.dtype
    assert in_padding(want_index).any(), "the case has no window in the padding"
    if mixed:
        assert not in_padding(want_index).all(), "the case has no window reading inputs"
    np.testing.assert_array_equal(values, want)
    np.testing.assert_array_equal(got_index, want_index)
    assert np.all(values[in_padding(want_index)] == -np.inf)
    gx = np.asarray(grad.data)
    assert gx.dtype == x.dtype
    np.testing.assert_allclose(gx.reshape(x4.shape),
                               reference_grad(weights.reshape(want.shape), want_index, x4.shape),
                               rtol=1e-6 if x.dtype == np.float32 else 1e-14, atol=0)


# ---- CPU -------------------------------------------------------------------------------------

def test_the_reported_cases():
    x = sorix.tensor([[[[3.0, 5.0]]]], requires_grad=True)
    y, index = F.max_pool2d(x, (2, 1), 1, (1, 0), (2, 1), return_indices=True)
    np.testing.assert_array_equal(y.data, [[[[-np.inf, -np.inf]]]])
    np.testing.assert_array_equal(index.data, [[[[-1, -1]]]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[0.0, 0.0]]]])  # was [0, 2]
    one = sorix.tensor([[[4.0]]], requires_grad=True)
    y1 = F.max_pool1d(one, 2, 1, 1, 2)
    np.testing.assert_array_equal(y1.data, [[[-np.inf]]])  # was [4.]
    y1.sum().backward()
    np.testing.assert_array_equal(one.grad.data, [[[0.0]]])


@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MIXED_2D + TORCH_2D)
def test_max_pool2d_windows_in_the_padding(case, dtype, threaded, monkeypatch):
    threads(threaded, monkeypatch)
    x = distinct(case[0], dtype, seed=1)
    check_against_reference(*run_2d(x, case), x, case, mixed=case in MIXED_2D)


@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MIXED_1D + TORCH_1D)
def test_max_pool1d_windows_in_the_padding(case, dtype, threaded, monkeypatch):
    threads(threaded, monkeypatch)
    x = distinct(case[0], dtype, seed=2)
    check_against_reference(*run_1d(x, case), x, as_2d(case), mixed=case in MIXED_1D)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MIXED_2D)
def test_ties_nan_and_infinities_beside_windows_in_the_padding(case, dtype):
    """The windows that read inputs keep the first of equal maxima, a NaN winning, and an
    input of -inf (a window whose only inputs are -inf still points at one of them)."""
    rng = np.random.default_rng(5)
    x = rng.integers(-1, 2, case[0]).astype(dtype)  # many ties
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, max(1, flat.size // 7), replace=False)] = np.nan
    flat[rng.choice(flat.size, max(1, flat.size // 5), replace=False)] = -np.inf
    y, index, grad, weights = run_2d(x, case)
    _, k, s, p, d, ceil_mode = case
    want, want_index = reference(x, k, s, p, d, ceil_mode)
    np.testing.assert_array_equal(y.data, want)  # (NaN where NaN)
    np.testing.assert_array_equal(index.data, want_index)
    np.testing.assert_allclose(grad.data, reference_grad(weights, want_index, x.shape),
                               rtol=1e-6, atol=0)


def test_the_kernels_directly():
    """The general kernel and the unrolled one (whose edge windows :func:`scan` reads) give
    -inf and -1 for windows outside the plane, and backward skips index -1. (The unrolled
    kernel never meets such a window through F.max_pool2d: no dilation, padding <= k // 2.)"""
    from sorix.kernels import pool
    from sorix.kernels.variants import variant
    x = distinct((1, 2, 3, 3), np.float32, seed=3)
    for parallel in (False, True):
        # kernel 2, stride 2, padding 3: rows and columns -3, -2 | -1, 0 | 1, 2 | 3, 4
        values = np.empty((1, 2, 4, 4), np.float32)
        index = np.empty((1, 2, 4, 4), np.int64)
        variant(pool.max_pool_unrolled, parallel)(x, values, index, 2, 2, 2, 3, 3)
        general_values, general_index = np.empty_like(values), np.empty_like(index)
        variant(pool.max_pool, parallel)(x, general_values, general_index,
                                         2, 2, 2, 2, 3, 3, 1, 1)
        np.testing.assert_array_equal(values, general_values)
        np.testing.assert_array_equal(index, general_index)
        outside = np.ones((4, 4), bool)
        outside[1:3, 1:3] = False
        assert np.all(index[:, :, outside] == -1) and np.all(values[:, :, outside] == -np.inf)
        assert np.all(index[:, :, ~outside] >= 0)
        g = np.ones((1, 2, 4, 4), np.float32)
        gx = np.full((1, 2, 9), np.nan, np.float32)
        variant(pool.max_pool_backward, parallel)(g, index, gx)
        want = np.zeros((1, 2, 9), np.float32)
        for c in range(2):
            for at in index[0, c][~outside]:
                want[0, c, at] += 1
        np.testing.assert_array_equal(gx, want)


def test_second_order_drops_windows_in_the_padding():
    x = sorix.tensor(distinct((2, 1, 1, 2), np.float64, seed=4), requires_grad=True)
    y = F.max_pool2d(x, (2, 1), 1, (1, 0), (2, 1))
    (g,) = sorix.grad(y.sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.data, np.zeros((2, 1, 1, 2)))


@pytest.mark.parametrize("case", MIXED_2D)
def test_create_graph_gradient_matches_the_first_order_one(case):
    """The gradient built as a graph (its scatter has a spare slot for position -1) equals
    the kernels' gradient where windows in the padding sit among windows that read inputs."""
    shape, k, s, p, d, ceil_mode = case
    x = sorix.tensor(distinct(shape, np.float64, seed=8), requires_grad=True)
    weights = sorix.tensor(np.random.default_rng(8).standard_normal(
        F.max_pool2d(x, k, s, p, d, ceil_mode).shape))
    # (weights as the output's gradient: the windows in the padding hold -inf, and a
    # weighted sum of them would be NaN)
    (plain,) = sorix.grad(F.max_pool2d(x, k, s, p, d, ceil_mode), x, grad_outputs=weights)
    (graphed,) = sorix.grad(F.max_pool2d(x, k, s, p, d, ceil_mode), x, grad_outputs=weights,
                            create_graph=True)
    np.testing.assert_allclose(graphed.data, plain.data, rtol=0, atol=1e-12)
    assert np.any(plain.data != 0)


# ---- against PyTorch's forward ---------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dims, case", [(2, c) for c in TORCH_2D] + [(1, c) for c in TORCH_1D])
def test_max_pool_forward_matches_torch(dims, case, dtype):
    torch = pytest.importorskip("torch")
    shape, k, s, p, d, ceil_mode = case
    x = distinct(shape, dtype, seed=6)
    ours = getattr(F, f"max_pool{dims}d")(sorix.tensor(x), k, s, p, d, ceil_mode)
    with torch.no_grad():  # (forward only: torch's backward is broken for these windows)
        theirs = getattr(torch.nn.functional, f"max_pool{dims}d")(torch.tensor(x), k, s, p, d,
                                                                  ceil_mode)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert np.all(ours.data == -np.inf)  # (under PyTorch's padding rule: every window)


# ---- on device='cuda' (the simulator) --------------------------------------------------------

@needs_cuda
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MIXED_2D + TORCH_2D[:2])
def test_cuda_max_pool2d_windows_in_the_padding(case, dtype):
    x = distinct(case[0], dtype, seed=8)
    y, index, grad, weights = run_2d(x, case, device="cuda")
    assert y.is_cuda and grad.is_cuda
    host = [sorix.tensor(t.detach().cpu().numpy()) for t in (y, index, grad)]
    check_against_reference(*host, weights, x, case, mixed=case in MIXED_2D)
    _, k, s, p, d, ceil_mode = case
    on_both(lambda t: F.max_pool2d(t, k, s, p, d, ceil_mode), x)  # values and gradient


@needs_cuda
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_max_pool1d_windows_in_the_padding(dtype):
    for seed, case in enumerate(MIXED_1D + TORCH_1D[:1]):
        _, k, s, p, d, ceil_mode = case
        x = distinct(case[0], dtype, seed=9 + seed)
        cpu_out, cuda_out = on_both(lambda t: F.max_pool1d(t, k, s, p, d, ceil_mode), x)
        want, _ = reference(x.reshape(as_2d(case)[0]), *as_2d(case)[1:])
        np.testing.assert_array_equal(cuda_out.detach().cpu().numpy(),
                                      want.reshape(tuple(cpu_out.shape)))
        _, index = F.max_pool1d(sorix.tensor(x, device="cuda"), k, s, p, d, ceil_mode,
                                return_indices=True)
        _, cpu_index = F.max_pool1d(sorix.tensor(x), k, s, p, d, ceil_mode, return_indices=True)
        np.testing.assert_array_equal(index.cpu().numpy(), cpu_index.data)
