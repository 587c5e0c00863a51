"""sorix's random draws, tied to NumPy's global random state as Sorix's are.

Sorix scripts seed either with ``sorix.manual_seed(n)`` or with
``np.random.seed(n)``, and draw their data from ``np.random``. Both must
make a run repeatable, so sorix keeps no generator of its own: each draw
sorix makes (factories, initialisers, Dropout masks, DataLoader shuffling,
k-means starts) comes from a fresh ``numpy.random.Generator`` seeded with
one number taken from NumPy's global stream, and ``manual_seed`` seeds that
global stream. The fast ``Generator`` methods (float32 draws) are used
while the sequence stays a function of NumPy's seed alone.
"""
import numpy as np

_SEED_BOUND = 2 ** 63


def manual_seed(seed):
    """Seed NumPy's global random state, and so every random draw sorix makes (as Sorix's
    ``manual_seed`` does). Any int is accepted; negative seeds wrap as in PyTorch."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}")
    value = int(seed) % 2 ** 64
    if value < 2 ** 32:
        np.random.seed(value)  # the same global stream as Sorix's manual_seed(value)
    else:
        np.random.seed(np.random.SeedSequence(value).generate_state(8))


seed = manual_seed


def generator():
    """A ``numpy.random.Generator`` for one draw, seeded from NumPy's global state."""
    return np.random.default_rng(np.random.randint(0, _SEED_BOUND, dtype=np.int64))
