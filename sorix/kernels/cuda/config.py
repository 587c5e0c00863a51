"""Launch sizes of the CUDA kernels, in one place.

Every kernel is a grid-stride loop, so the grid can stay bounded whatever
the array size: a block beyond the number the GPU can keep resident only
adds scheduling work. Under numba's simulator (``NUMBA_ENABLE_CUDASIM=1``)
each CUDA thread is a Python thread, so the simulator gets tiny blocks and
grids; the kernels are correct for any size (the reductions need a power
of two), which is what lets the tests run them small.

Environment variables override the GPU defaults:

- ``SORIX_CUDA_THREADS``: threads per block of elementwise kernels (256).
- ``SORIX_CUDA_MAX_BLOCKS``: the most blocks of one launch (1024).
- ``SORIX_CUDA_REDUCE_THREADS``: threads per block of row reductions (256; a power of two).
- ``SORIX_CUDA_TILE``: side of the matmul tile (16; TILE * TILE threads per block).
- ``SORIX_CUBLAS=0``: float32/float64 matmul uses the tiled kernel even where
  cuBLAS (nvmath-python) is available.
"""
import os


def _env(name, default):
    return int(os.environ.get(name, default))


#: Sizes on a GPU. 256 threads and 16x16 tiles keep several blocks resident
#: per multiprocessor on every architecture numba-cuda supports.
GPU = {
    "threads": _env("SORIX_CUDA_THREADS", 256),
    "max_blocks": _env("SORIX_CUDA_MAX_BLOCKS", 1024),
    "reduce_threads": _env("SORIX_CUDA_REDUCE_THREADS", 256),
    "tile": _env("SORIX_CUDA_TILE", 16),
}

#: Sizes under the simulator: small enough that a test launch runs in
#: milliseconds, large enough that several threads and blocks share the work
#: (so grid-stride and tree-reduction bugs still show).
SIMULATOR = {
    "threads": 8,
    "max_blocks": 3,
    "reduce_threads": 4,
    "tile": 4,
}

#: A row reduction splits rows longer than this many times its block size into
#: segments reduced by separate blocks (then reduces the partial results), so
#: that a full reduction of a large array does not run on one multiprocessor.
SPLIT_ROWS_FACTOR = 8

#: Whether float32/float64 products may go to cuBLAS (see :mod:`.blas`).
USE_CUBLAS = os.environ.get("SORIX_CUBLAS", "1") != "0"

#: Whether to ask numba-cuda to keep compiled kernels on disk (``SORIX_KERNEL_CACHE=0``
#: turns it off, as for the CPU kernels).
CACHE_KERNELS = os.environ.get("SORIX_KERNEL_CACHE", "1") != "0"


def sizes(simulated):
    """The launch sizes for the GPU or the simulator."""
    chosen = SIMULATOR if simulated else GPU
    block = chosen["reduce_threads"]
    if block < 1 or block & (block - 1):
        raise ValueError(f"SORIX_CUDA_REDUCE_THREADS={block}: the tree reductions need a power "
                         "of two threads per block (64, 128, 256, 512 or 1024)")
    return chosen
