"""matmul through cuBLAS (sorix.kernels.cuda.blas), against NumPy.

- On a real GPU with nvmath-python (SORIX_TEST_CUDA=gpu): the cuBLAS path is
  the one in use, and its products, batched and broadcast products, and
  matmul gradients (transposed views read with cuBLAS's transpose flag)
  agree with NumPy in float64. Skipped elsewhere.
- Under the simulator: the tiled kernel is chosen (no cuBLAS there); and the
  code that lays operands out for cuBLAS (flags, leading dimensions, batch
  steps, the argument swap for row-major data) is checked against a stand-in
  for cuBLAS written from its column-major definition, with the same
  bindings' signatures.
"""
import ctypes
import importlib.util

import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sorix  # noqa: E402
import sorix.kernels.cuda as C  # noqa: E402
from conftest import rand  # noqa: E402
from cuda_setup import WANT_GPU, check, dev, fast_thread_switching  # noqa: E402,F401
from sorix.kernels.cuda import blas, build, runtime  # noqa: E402
from sorix.ops.linalg import matmul_grads  # noqa: E402

SIMULATED = runtime.simulated()
HAVE_NVMATH = importlib.util.find_spec("nvmath") is not None

#: (a shape, b shape, which operands are transposed views)
CASES = [((7, 33), (33, 5), ""), ((5, 9), (9,), ""), ((9,), (9, 6), ""), ((7,), (7,), ""),
         ((1, 1), (1, 1), ""), ((6, 4), (4, 5), "ab"), ((8, 3), (3, 5), "a"),
         ((3, 5), (5, 4), "b"), ((2, 3, 7), (7, 4), ""), ((2, 3, 7), (2, 7, 4), ""),
         ((3, 5), (2, 5, 4), ""), ((2, 1, 3, 5), (1, 4, 5, 2), ""),
         ((2, 7, 3), (3, 4), "ab"), ((3, 2, 6, 5), (3, 2, 5, 4), "a"), ((1, 5), (5, 1), ""),
         ((5, 1), (1, 4), "")]


def _operand(x, transposed):
    """``x`` on the device; a transposed view of a contiguous copy of x^T when asked."""
    if not transposed:
        return dev(x)
    return C.matrix_transpose(dev(np.ascontiguousarray(np.swapaxes(x, -1, -2))))


def _matmul_cases(dtype, rng):
    for sa, sb, views in CASES:
        a, b = rand(rng, sa, dtype), rand(rng, sb, dtype)
        yield (a, b, _operand(a, "a" in views and a.ndim > 1),
               _operand(b, "b" in views and b.ndim > 1))


# ---- on a real GPU --------------------------------------------------------------------------

gpu_only = pytest.mark.skipif(SIMULATED or not HAVE_NVMATH,
                              reason="needs a real GPU and nvmath-python (cuBLAS)")


@gpu_only
def test_cublas_path_is_in_use():
    status = blas.status()
    assert status.startswith("cublas"), status


def _relative_error(got, want):
    return np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300)


@gpu_only
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cublas_products_match_numpy(dtype, rng):
    limit = 1e-5 if dtype == np.float32 else 1e-13
    for a, b, da, db in _matmul_cases(dtype, rng):
        got = C.to_host(C.matmul(da, db))
        want = np.matmul(a.astype(np.float64), b.astype(np.float64))
        assert got.dtype == dtype and got.shape == want.shape, (a.shape, b.shape)
        assert _relative_error(got, want) < limit, (a.shape, b.shape)
    assert blas.status().startswith("cublas"), blas.status()  # no failure switched it off


@gpu_only
def test_cublas_large_and_gradients(rng):
    a, b = rand(rng, (300, 257), np.float32), rand(rng, (257, 129), np.float32)
    g = rand(rng, (300, 129), np.float32)
    ga, gb = _gradients_without_copies(a, b, g)
    a64, b64, g64 = (v.astype(np.float64) for v in (a, b, g))
    assert _relative_error(ga, g64 @ b64.T) < 1e-5
    assert _relative_error(gb, a64.T @ g64) < 1e-5
    ta = sorix.tensor(a, device="cuda", requires_grad=True)
    tb = sorix.tensor(b, device="cuda", requires_grad=True)
    (ta @ tb).backward(sorix.tensor(g, device="cuda"))
    assert _relative_error(ta.grad.cpu().numpy(), g64 @ b64.T) < 1e-5
    assert _relative_error(tb.grad.cpu().numpy(), a64.T @ g64) < 1e-5
    assert blas.status().startswith("cublas"), blas.status()


# ---- under the simulator ---------------------------------------------------------------------

sim_only = pytest.mark.skipif(WANT_GPU or not SIMULATED, reason="simulator-only checks")


@sim_only
def test_simulator_uses_the_tiled_kernel(rng):
    assert not blas.usable(np.float32) and not blas.usable(np.float64)
    assert blas.status().startswith("tiled kernel"), blas.status()
    launches = build.record()
    a, b = rand(rng, (3, 4), np.float32), rand(rng, (4, 2), np.float32)
    check(C.matmul(dev(a), dev(b)), a @ b)
    build.recorded = None
    assert [r[1] for r, _ in launches] == ["matmul_kernel"]


class _FakeCublas:
    """cuBLAS's gemm by its definition: column-major ``C = alpha op(A) op(B) + beta C``,
    ``op`` the identity (N) or the transpose (T); matrix ``i`` of a batch starts ``i *
    stride`` elements after the pointer. Pointers here are the simulator's arrays."""

    class Operation:
        N, T = 0, 1

    calls = []

    @staticmethod
    def _matrix(array, offset, rows, cols, ld):
        base = array._ary
        item = base.itemsize
        start = np.lib.stride_tricks.as_strided(base, (offset + 1,), (item,))[offset:]
        return np.lib.stride_tricks.as_strided(start, (rows, cols), (item, ld * item))

    @classmethod
    def _scalar(cls, pointer, dtype):
        kind = ctypes.c_float if dtype == np.float32 else ctypes.c_double
        return kind.from_address(pointer).value

    @classmethod
    def _gemm(cls, dtype, transa, transb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc,
              sc, batch):
        assert lda >= max(1, m if transa == cls.Operation.N else k)
        assert ldb >= max(1, k if transb == cls.Operation.N else n)
        assert ldc >= max(1, m)
        assert a._ary.dtype == b._ary.dtype == c._ary.dtype == dtype
        cls.calls.append((transa, transb, m, n, k, batch))
        for i in range(batch):
            op_a = (cls._matrix(a, i * sa, m, k, lda) if transa == cls.Operation.N
                    else cls._matrix(a, i * sa, k, m, lda).T)
            op_b = (cls._matrix(b, i * sb, k, n, ldb) if transb == cls.Operation.N
                    else cls._matrix(b, i * sb, n, k, ldb).T)
            out = cls._matrix(c, i * sc, m, n, ldc)
            product = cls._scalar(alpha, dtype) * (op_a @ op_b)
            beta_value = cls._scalar(beta, dtype)
            # beta == 0: C is not read (it may hold anything, NaN included)
            out[...] = product if beta_value == 0 else product + beta_value * out

    @classmethod
    def sgemm(cls, handle, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        cls._gemm(np.float32, ta, tb, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1)

    @classmethod
    def dgemm(cls, handle, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        cls._gemm(np.float64, ta, tb, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1)

    @classmethod
    def sgemm_strided_batched(cls, handle, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta,
                              c, ldc, sc, batch):
        cls._gemm(np.float32, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc,
                  batch)

    @classmethod
    def dgemm_strided_batched(cls, handle, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta,
                              c, ldc, sc, batch):
        cls._gemm(np.float64, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc,
                  batch)


@pytest.fixture
def fake_cublas(monkeypatch):
    monkeypatch.setattr(blas, "_bindings", _FakeCublas)
    monkeypatch.setattr(blas, "_disabled", None)
    monkeypatch.setattr(blas, "_handle", lambda: 1)
    monkeypatch.setattr(blas, "_pointer", lambda x: x)
    _FakeCublas.calls = []
    return _FakeCublas


@sim_only
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cublas_layouts_against_a_column_major_gemm(fake_cublas, dtype, rng):
    for a, b, da, db in _matmul_cases(dtype, rng):
        before = len(fake_cublas.calls)
        check(C.matmul(da, db), np.matmul(a, b), dtype)
        assert len(fake_cublas.calls) == before + 1, (a.shape, b.shape)


def _gradients_without_copies(a, b, g):
    """matmul's gradients on the device, checking that computing them launched only
    products (no transpose copy, no tiled kernel)."""
    launches = build.record()
    try:
        ga, gb = matmul_grads(C, dev(g), dev(a), dev(b), True, True)
    finally:
        build.recorded = None
    assert not launches, f"matmul's backward launched kernels: {launches}"
    return C.to_host(ga), C.to_host(gb)


@sim_only
def test_cublas_backward_reads_transposes_in_place(fake_cublas, rng):
    a, b = rand(rng, (5, 3), np.float64), rand(rng, (3, 4), np.float64)
    g = rand(rng, (5, 4), np.float64)
    ga, gb = _gradients_without_copies(a, b, g)
    np.testing.assert_allclose(ga, g @ b.T, rtol=1e-12)
    np.testing.assert_allclose(gb, a.T @ g, rtol=1e-12)
    # cuBLAS gets the right factor first: grad @ b^T reads the view b^T with the
    # transpose flag as its first operand; a^T @ grad reads a^T so as its second
    assert [call[:2] for call in fake_cublas.calls] == [(1, 0), (0, 1)]
    # grad @ b^T: b^T is a view, read with the flag (first cuBLAS operand: b's memory)
    # a^T @ grad: a^T is a view (second operand)
    assert [call[:2] for call in fake_cublas.calls[-2:]] == [(1, 0), (0, 1)]


@sim_only
def test_stack_against_one_matrix_is_one_product(fake_cublas, rng):
    a, b = rand(rng, (3, 4, 5), np.float32), rand(rng, (5, 2), np.float32)
    check(C.matmul(dev(a), dev(b)), a @ b)
    assert fake_cublas.calls[-1] == (0, 0, 2, 12, 5, 1)


@sim_only
def test_a_failing_cublas_call_falls_back_with_a_warning(fake_cublas, monkeypatch, rng):
    def broken(*args):
        raise RuntimeError("CUBLAS_STATUS_EXECUTION_FAILED")
    monkeypatch.setattr(_FakeCublas, "sgemm", broken)
    a, b = rand(rng, (3, 4), np.float32), rand(rng, (4, 2), np.float32)
    with pytest.warns(RuntimeWarning, match="tiled kernel"):
        check(C.matmul(dev(a), dev(b)), a @ b)
    assert blas.status().startswith("tiled kernel (RuntimeError: CUBLAS_STATUS_EXECUTION_FAILED")
    check(C.matmul(dev(a), dev(b)), a @ b)  # and stays on the tiled kernel, quietly
