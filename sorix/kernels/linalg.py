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
    threads.blas_called()  # (BLAS's threads spin on after it: see threads.blas_called)
    return product
