"""Stacks of small matrix products (sorix.kernels.products): each kind against a float64
einsum, the serial and threaded builds against each other, the NumPy fallback where
kernels cannot reach BLAS, and the convolution gradients that use them."""
import numpy as np
import pytest

import sorix
import sorix.nn.functional as F
from sorix import config
from sorix.kernels import products
from sorix.kernels.variants import variant

needs_blas = pytest.mark.skipif(not products.available(),
                                reason="numba reaches BLAS from kernels through SciPy")


def _layout(kind, m, g, r, k, c):
    """a's shape, b's shape and the product as an einsum, for m samples, g groups and
    (r, k) @ (k, c) products."""
    if kind is products.shared_left:
        return (g, r, k), (m, g, k, c), "gik,mgkj->mgij"
    if kind is products.right_transposed:
        return (m, g, r, k), (m, g, c, k), "mgik,mgjk->mgij"
    return (g, k, r), (m, g, k, c), "gki,mgkj->mgij"


KINDS = [products.shared_left, products.right_transposed, products.left_transposed]


def _operands(kind, dtype, m=5, g=3, r=4, k=7, c=6, seed=0):
    rng = np.random.default_rng(seed)
    a_shape, b_shape, formula = _layout(kind, m, g, r, k, c)
    a = rng.standard_normal(a_shape).astype(dtype)
    b = rng.standard_normal(b_shape).astype(dtype)
    want = np.einsum(formula, a.astype(np.float64), b.astype(np.float64))
    return a, b, want


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("sizes", [(5, 3, 4, 7, 6), (1, 1, 1, 1, 1), (2, 1, 16, 151, 100)])
def test_each_kind_is_its_product(kind, dtype, sizes):
    a, b, want = _operands(kind, dtype, *sizes)
    out = np.full(want.shape, np.nan, dtype)
    assert products.stack(kind, a, b, out) is out
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol * np.sqrt(sizes[3]))


@needs_blas
@pytest.mark.parametrize("kind", KINDS, ids=lambda f: f.__name__)
def test_threaded_build_equals_serial_build(kind):
    # each product is one BLAS call in either build: the thread count changes nothing
    a, b, _ = _operands(kind, np.float32, m=9, g=2, r=16, k=40, c=30, seed=1)
    serial, threaded = (np.empty((9, 2, 16, 30), np.float32) for _ in range(2))
    variant(kind, False)(a, b, serial)
    variant(kind, True)(a, b, threaded)
    np.testing.assert_array_equal(serial, threaded)


@pytest.mark.parametrize("kind", KINDS, ids=lambda f: f.__name__)
def test_without_blas_in_kernels_numpy_computes_the_stack(kind, monkeypatch):
    monkeypatch.setattr(products, "_available", False)
    monkeypatch.setattr(products, "run", _must_not_run)
    a, b, want = _operands(kind, np.float64, seed=2)
    out = products.stack(kind, a, b, np.empty(want.shape))
    np.testing.assert_allclose(out, want, rtol=1e-13, atol=1e-13)


def test_products_too_large_for_one_blas_thread_go_to_numpy(monkeypatch):
    # BLAS threads such a product itself; calling it from numba's threads would nest pools
    monkeypatch.setattr(products, "run", _must_not_run)
    side = int(round(config.BLAS_THREADED_WORK ** (1 / 3))) + 2
    a, b, want = _operands(products.shared_left, np.float64, m=2, g=1, r=side, k=side, c=side)
    out = products.stack(products.shared_left, a, b, np.empty(want.shape))
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)


def _must_not_run(*args, **kwargs):
    raise AssertionError("the numba kernel ran where NumPy should have")


def test_available_is_false_when_numba_cannot_reach_blas(monkeypatch):
    import numba.np.linalg

    def no_scipy():
        raise ImportError("scipy 0.16+ is required for linear algebra")
    monkeypatch.setattr(numba.np.linalg, "ensure_blas", no_scipy)
    monkeypatch.setattr(products, "_available", None)
    assert products.available() is False


# ---- the convolution gradients that run on these kernels ------------------------------

def _conv_reference(x, w, b, g, pad, groups):
    """Forward and (dx, dw, db) in float64 by direct sums over the kernel taps."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    y = np.zeros((n, o, oh, ow)) + b[None, :, None, None]
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    per = o // groups
    for oc in range(o):
        first = (oc // per) * cg
        for ci in range(cg):
            for i in range(kh):
                for j in range(kw):
                    window = xp[:, first + ci, i:i + oh, j:j + ow]
                    y[:, oc] += w[oc, ci, i, j] * window
                    dw[oc, ci, i, j] = np.sum(g[:, oc] * window)
                    dxp[:, first + ci, i:i + oh, j:j + ow] += w[oc, ci, i, j] * g[:, oc]
    return y, dxp[:, :, pad:pad + h, pad:pad + wd], dw, g.sum(axis=(0, 2, 3))


@pytest.mark.parametrize("kernels", [pytest.param(True, marks=needs_blas), False],
                         ids=["blas in kernels", "numpy"])
@pytest.mark.parametrize("groups, bias_grad", [(1, True), (2, True), (1, False)])
def test_convolution_gradients_on_either_path(kernels, groups, bias_grad, monkeypatch):
    # a frozen bias keeps forward's ones row in the columns: the weight gradient drops it
    monkeypatch.setattr(products, "_available", kernels)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 4, 9, 8))
    w = rng.standard_normal((6, 4 // groups, 3, 2))
    b = rng.standard_normal(6)
    tx, tw = sorix.tensor(x, requires_grad=True), sorix.tensor(w, requires_grad=True)
    tb = sorix.tensor(b, requires_grad=bias_grad)
    y = F.conv2d(tx, tw, tb, padding=1, groups=groups)
    g = rng.standard_normal(y.shape)
    y.backward(sorix.tensor(g))
    want_y, want_dx, want_dw, want_db = _conv_reference(x, w, b, g, 1, groups)
    np.testing.assert_allclose(y.data, want_y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tx.grad.data, want_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tw.grad.data, want_dw, rtol=1e-12, atol=1e-12)
    if bias_grad:
        np.testing.assert_allclose(tb.grad.data, want_db, rtol=1e-12, atol=1e-12)
    else:
        assert tb.grad is None
