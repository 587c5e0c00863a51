"""Matrix products on device arrays, with NumPy's matmul rules.

float32 and float64 products go to cuBLAS when nvmath-python is installed
(:mod:`.blas`: transposed views are read in place with cuBLAS's transpose
flag, batches with the strided-batched gemm). Other dtypes, the simulator,
and machines without nvmath-python use the tiled kernel below.

The tiled kernel: each block computes a TILE x TILE tile of the output,
staging TILE x TILE tiles of both operands in shared memory so that every
element loaded from global memory is used TILE times. Blocks stride over
the tiles of all matrices of a batch, so the grid stays bounded.

A batch dimension is read with a matrix stride, 0 for an operand that is
broadcast along the whole batch (a weight matrix shared by every item); a
stack against a 2-D matrix is folded into one taller matrix instead.
"""
import numpy as np

from . import blas, build, runtime
from .arrays import (astype, broadcast_strides, broadcast_to, coalesce, contiguous, empty, flat,
                     full, reshape)
from .runtime import element_strides, view

cuda = DTYPE = TILE = None  # bound per kernel by the builder


def matmul_kernel(a, b, out, n, k, m, a_step, b_step, zero):
    """out[i] = a[i] @ b[i] for each of the out.size // (n * m) matrices of the batch.

    a[i] starts at element i * a_step of ``a`` (n x k, C order), b[i] at
    i * b_step of ``b`` (k x m); a step of 0 reuses one matrix for all.
    """
    tile_a = cuda.shared.array((TILE, TILE), DTYPE)
    tile_b = cuda.shared.array((TILE, TILE), DTYPE)
    tx = cuda.threadIdx.x  # column within the tile
    ty = cuda.threadIdx.y  # row within the tile
    tiles_n = (n + TILE - 1) // TILE
    tiles_m = (m + TILE - 1) // TILE
    per_matrix = tiles_n * tiles_m
    total = (out.size // (n * m)) * per_matrix
    for t in range(cuda.blockIdx.x, total, cuda.gridDim.x):
        batch = t // per_matrix
        row = ((t % per_matrix) // tiles_m) * TILE + ty
        col = (t % tiles_m) * TILE + tx
        a0 = batch * a_step
        b0 = batch * b_step
        acc = zero
        for start in range(0, k, TILE):
            if row < n and start + tx < k:
                tile_a[ty, tx] = a[a0 + row * k + start + tx]
            else:
                tile_a[ty, tx] = zero
            if start + ty < k and col < m:
                tile_b[ty, tx] = b[b0 + (start + ty) * m + col]
            else:
                tile_b[ty, tx] = zero
            cuda.syncthreads()
            for q in range(TILE):
                acc += tile_a[ty, q] * tile_b[q, tx]
            cuda.syncthreads()
        if row < n and col < m:
            out[batch * n * m + row * m + col] = acc


def _not_aligned(a, b):
    return ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned; "
                      "the last dimension of the first must equal the second-to-last "
                      "(or only) dimension of the second")


def matmul(a, b):
    """``a @ b`` with NumPy's rules (1-D operands, broadcast batch dimensions)."""
    a, b = runtime.as_device(a), runtime.as_device(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: operands must have at least one dimension (use mul for scalars)")
    dtype = np.result_type(a.dtype, b.dtype)
    if dtype.kind == "b":  # NumPy's bool product is an "any" of "and"s: count, then test
        return astype(matmul(astype(a, np.int64), astype(b, np.int64)), np.bool_)
    a = a if a.dtype == dtype else astype(a, dtype)
    b = b if b.dtype == dtype else astype(b, dtype)
    a_vector, b_vector = a.ndim == 1, b.ndim == 1
    a2 = reshape(a, (1, a.shape[0])) if a_vector else a
    b2 = reshape(b, (b.shape[0], 1)) if b_vector else b
    n, k = a2.shape[-2:]
    k2, m = b2.shape[-2:]
    if k != k2:
        raise _not_aligned(a, b)
    try:
        batch = tuple(np.broadcast_shapes(tuple(a2.shape[:-2]), tuple(b2.shape[:-2])))
    except ValueError:
        raise _not_aligned(a, b) from None
    # The result's shape: drop the dimension a 1-D operand gained.
    shape = batch + ((n,) if not a_vector else ()) + ((m,) if not b_vector else ())
    if n * m * k and blas.usable(dtype):
        out = _cublas_matmul(a2, b2, batch, n, k, m)
        if out is not None:
            return reshape(out, shape)
    if b2.ndim == 2 and a2.ndim > 2:
        # A stack times one matrix is one (batch * n, k) @ (k, m) product.
        a2 = reshape(a2, (-1, k))
        n, batch = a2.shape[0], ()
    out = empty(batch + (n, m), dtype)
    if out.size == 0:
        return reshape(out, shape)
    if k == 0:
        return reshape(full(batch + (n, m), 0, dtype), shape)
    a_data, a_step = _batched(a2, batch, n * k)
    b_data, b_step = _batched(b2, batch, k * m)
    tile = build.sizes()["tile"]
    tiles = (out.size // (n * m)) * -(-n // tile) * -(-m // tile)
    blocks = min(build.sizes()["max_blocks"], tiles)
    build.kernel(matmul_kernel, dtype).launch(blocks, (tile, tile), a_data, b_data, flat(out),
                                              n, k, m, a_step, b_step, dtype.type(0))
    return reshape(out, shape)


def _batched(x, batch, matrix_size):
    """x's data as a flat array and the step between its matrices along ``batch``.

    A single matrix, or a stack whose batch dimensions already equal ``batch``,
    is read in place; any other broadcast of the batch is copied out.
    """
    x_batch = tuple(x.shape[:-2])
    if int(np.prod(x_batch, dtype=np.int64)) == 1:
        return flat(x), 0
    if x_batch != batch:
        x = broadcast_to(x, batch + tuple(x.shape[-2:]))
    return flat(contiguous(x)), matrix_size


def matrix_transpose(x):
    """``x`` with its last two axes swapped, as a view (no copy): matmul reads it in place."""
    x = runtime.as_device(x)
    if x.ndim < 2:
        raise ValueError("matrix_transpose needs at least 2 dimensions, "
                         f"got shape {tuple(x.shape)}")
    shape, strides = list(x.shape), list(element_strides(x))
    shape[-2:], strides[-2:] = shape[:-3:-1], strides[:-3:-1]
    return view(x, shape, strides)


# ---- cuBLAS -------------------------------------------------------------------------

def _cublas_operand(x, batch):
    """``(array, layout, step)`` for cuBLAS: ``x`` broadcast to ``batch`` read in place when
    its matrices have a cuBLAS layout and sit at one step from each other, else a
    C-contiguous copy of the broadcast."""
    rows, cols = x.shape[-2:]
    strides = element_strides(x)
    layout = blas.operand_layout(rows, cols, strides[-2], strides[-1])
    full_shape = batch + (rows, cols)
    steps = broadcast_strides(x, full_shape)[:len(batch)]
    step_shape, (step,) = coalesce(batch, steps)
    if layout is None or len(step_shape) > 1:
        x = contiguous(broadcast_to(x, full_shape))
        layout = (False, max(cols, 1))
        step_shape, (step,) = coalesce(batch, element_strides(x)[:len(batch)])
    return x, layout, int(step[0])


def _cublas_matmul(a, b, batch, n, k, m):
    """``a @ b`` (a: ``... x n x k``, b: ``... x k x m``, batch dims broadcasting to
    ``batch``) through cuBLAS, or None when cuBLAS failed (the caller falls back)."""
    out = empty(batch + (n, m), a.dtype)
    count = int(np.prod(batch, dtype=np.int64))
    a, a_layout, a_step = _cublas_operand(a, batch)
    b, b_layout, b_step = _cublas_operand(b, batch)
    if count > 1 and b_step == 0 and not a_layout[0] and a_step == n * a_layout[1]:
        # A stack of row-major matrices, evenly spaced, against one matrix: one taller product.
        done = blas.gemm(a, b, out, n * count, k, m, a_layout, b_layout, 0, 0, 1)
    else:
        done = blas.gemm(a, b, out, n, k, m, a_layout, b_layout, a_step, b_step, count)
    return out if done else None
