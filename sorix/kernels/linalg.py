"""Matrix products.

On the CPU the product goes to the BLAS library NumPy links against: it
is multi-threaded and blocked for the cache, which a numba loop cannot
match, so there is no point in writing one.
"""
import numpy as np

from . import threads


def matmul(a, b):
    """``a @ b`` with NumPy's rules; shape errors name both shapes."""
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
