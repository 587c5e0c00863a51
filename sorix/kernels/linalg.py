"""Matrix products.

On the CPU the product goes to the BLAS library NumPy links against: it
is multi-threaded and blocked for the cache, which a numba loop cannot
match, so there is no point in writing one.
"""
import math

import numpy as np

from . import threads


def matmul(a, b):
    """``a @ b`` with NumPy's rules; shape errors name both shapes.

    A stack of matrices times one matrix (a linear layer on batched sequences) runs as
    one product of the stacked rows, not one per matrix: the same arithmetic in one
    BLAS call, blocked once for the cache and threaded once (forward and backward
    of (B, T, D) @ (D, E) took 0.42 to 0.75 of the stacked time for shapes from
    (64, 16, 64) @ (64, 64) to (8, 128, 512) @ (512, 512), and 0.89 for a tiny
    (4, 8, 32) @ (32, 16); float32 on 2 cores).
    """
    if a.ndim > 2 and b.ndim == 2 and a.shape[-1] == b.shape[0]:
        # (a copy only where a is not contiguous; the row count is spelled out, as -1
        # is ambiguous for empty rows)
        rows = np.reshape(a, (math.prod(a.shape[:-1]), a.shape[-1]))
        return matmul(rows, b).reshape(a.shape[:-1] + (b.shape[1],))
    try:
        product = np.matmul(a, b)
    except ValueError:
        raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned; "
                         "the last dimension of the first must equal the second-to-last "
                         "(or only) dimension of the second") from None
    if product.dtype.char in "fdFD":  # (what BLAS computes; its threads spin on after a
        # large product: see threads.blas_called)
        threads.blas_called(a.shape[-2] if a.ndim > 1 else 1,
                            b.shape[-1] if b.ndim > 1 else 1, a.shape[-1])
    return product
