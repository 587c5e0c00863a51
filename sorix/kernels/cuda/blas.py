"""Matrix products through cuBLAS, via nvmath-python's low-level bindings.

Used by :func:`sorix.kernels.cuda.linalg.matmul` for float32 and float64
when ``nvmath-python`` is installed (part of the ``cuda`` extra) and a real
GPU runs the kernels; otherwise, and when ``SORIX_CUBLAS=0``, matmul uses
its own tiled kernel. :func:`status` says which path is in use and why.

cuBLAS is column-major, sorix row-major. A row-major ``n x m`` matrix is
the column-major ``m x n`` matrix of its transpose, so ``C = A @ B`` is
computed as ``C^T = B^T A^T``: cuBLAS gets B first, then A. An operand
that is itself a transposed view (``W^T`` in ``grad @ W^T``, ``X^T`` in
``X^T @ grad``: matmul's backward) is read in place with cuBLAS's transpose
flag instead of being copied first. A batch of matrices goes to the
strided-batched gemm, with a stride of 0 for an operand shared by the
whole batch.

Every call runs on numba's default stream, where sorix's kernels run, so
kernels and products stay ordered without synchronising. One handle per
host thread, created on first use (cuBLAS handles are not thread-safe).
Products use cuBLAS's default math mode: full float32, no TF32.
"""
import contextlib
import threading
import warnings

import numpy as np

from . import config, runtime

_local = threading.local()
#: False while :func:`enabled` keeps products off cuBLAS.
_wanted = True
_bindings = None
#: Why the cuBLAS path is off (None while it may be used).
_disabled = None
_ONE = {np.dtype(np.float32): np.ones(1, np.float32), np.dtype(np.float64): np.ones(1, np.float64)}
_ZERO = {np.dtype(np.float32): np.zeros(1, np.float32),
         np.dtype(np.float64): np.zeros(1, np.float64)}
_INT_MAX = 2**31 - 1


def _load():
    """nvmath's cuBLAS bindings, or None with ``_disabled`` saying why."""
    global _bindings, _disabled
    if _bindings is not None or _disabled is not None:
        return _bindings
    if not config.USE_CUBLAS:
        _disabled = "SORIX_CUBLAS=0"
    elif runtime.simulated():
        _disabled = "numba's CUDA simulator has no cuBLAS"
    else:
        try:
            from nvmath.bindings import cublas
        except Exception as exc:  # not installed, or its CUDA libraries cannot be found
            message = " ".join(str(exc).split())
            _disabled = f"nvmath-python is unavailable ({type(exc).__name__}: {message})"
        else:
            _bindings = cublas
    return _bindings


def _handle():
    handle = getattr(_local, "handle", None)
    if handle is None:
        cublas = _bindings
        runtime.cuda().current_context()  # cuBLAS joins the primary context numba made current
        handle = cublas.create()
        cublas.set_stream(handle, _default_stream())
        _local.handle = handle
    return handle


def _default_stream():
    """The handle of the stream numba launches kernels on when given none (0: the legacy
    default stream, unless numba is set to use the per-thread one)."""
    stream = runtime.cuda().default_stream()
    try:
        return int(stream)
    except (TypeError, AttributeError):  # a numba-cuda whose Stream has no __int__
        handle = stream.handle
        return int(getattr(handle, "value", handle) or 0)


def _disable(reason):
    global _disabled
    _disabled = reason = " ".join(reason.split())  # one line, for logs and tables
    warnings.warn(f"sorix: cuBLAS matmul failed, using the tiled kernel from now on ({reason})",
                  RuntimeWarning, stacklevel=4)


def status():
    """Which matmul path float32/float64 products take, and why: ``'cublas ...'`` or
    ``'tiled kernel (...)'``. Creates the cuBLAS handle (and so checks that it works)."""
    cublas = _load()
    if cublas is not None and _disabled is None:
        try:
            version = cublas.get_version(_handle())
        except Exception as exc:
            _disable(f"{type(exc).__name__}: {exc}")
        else:
            import nvmath
            return f"cublas {version} (nvmath-python {getattr(nvmath, '__version__', '?')})"
    return f"tiled kernel ({_disabled})"


def usable(dtype):
    """Whether products of ``dtype`` go to cuBLAS now."""
    return _wanted and np.dtype(dtype) in _ONE and _load() is not None and _disabled is None


@contextlib.contextmanager
def enabled(flag):
    """Within the block, send products to cuBLAS (if usable) or not (the tiled kernel):
    for comparing the two in one process."""
    global _wanted
    previous, _wanted = _wanted, bool(flag)
    try:
        yield
    finally:
        _wanted = previous


def operand_layout(rows, cols, row_stride, col_stride):
    """How cuBLAS reads a ``rows x cols`` matrix with these element strides, or None.

    Returns ``(transposed, ld)``: ``transposed`` False for a row-major matrix
    (unit column stride; cuBLAS sees its transpose, which is what the swapped
    product needs, with no flag), True for a column-major one (a transposed
    view: unit row stride, read with the transpose flag). ``ld`` is the leading
    dimension cuBLAS requires. A size-1 dimension's stride is irrelevant.
    """
    if (cols == 1 or col_stride == 1) and (rows == 1 or row_stride >= cols):
        return False, (row_stride if rows > 1 else max(cols, 1))
    if (rows == 1 or row_stride == 1) and (cols == 1 or col_stride >= rows):
        return True, (col_stride if cols > 1 else max(rows, 1))
    return None


def _pointer(x):
    return x.__cuda_array_interface__["data"][0]


def gemm(a, b, out, n, k, m, a_layout, b_layout, a_step, b_step, batch):
    """``out[i] = a[i] @ b[i]`` for ``i < batch``; False (nothing done) if cuBLAS failed.

    ``a``/``b`` are device arrays whose first element starts matrix 0 of the
    operand, laid out as ``operand_layout`` says; ``a_step``/``b_step`` are the
    element steps between matrices (0: one matrix for the whole batch).
    ``out`` is C-contiguous, ``batch`` matrices of ``n x m``.
    """
    cublas = _bindings
    if max(n, k, m, batch, a_layout[1], b_layout[1]) > _INT_MAX:
        return False
    dtype = out.dtype
    op = (cublas.Operation.N, cublas.Operation.T)
    one, zero = _ONE[dtype].ctypes.data, _ZERO[dtype].ctypes.data
    # C^T (m x n) = op(B^T) (m x k) @ op(A^T) (k x n): B first.
    args = (op[b_layout[0]], op[a_layout[0]], m, n, k, one)
    try:
        handle = _handle()
        if batch == 1:
            fn = cublas.sgemm if dtype == np.float32 else cublas.dgemm
            fn(handle, *args, _pointer(b), b_layout[1], _pointer(a), a_layout[1], zero,
               _pointer(out), m)
        else:
            fn = cublas.sgemm_strided_batched if dtype == np.float32 \
                else cublas.dgemm_strided_batched
            fn(handle, *args, _pointer(b), b_layout[1], b_step, _pointer(a), a_layout[1], a_step,
               zero, _pointer(out), m, n * m, batch)
    except Exception as exc:
        _disable(f"{type(exc).__name__}: {exc}")
        return False
    return True
