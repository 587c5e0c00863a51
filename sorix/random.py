"""sorix's own random generator: seeding sorix never touches NumPy's global state."""
import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed):
    """Seed every random draw sorix makes (factories, init, Dropout, DataLoader shuffling)."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}")
    _generator = np.random.default_rng(int(seed))
    return _generator


seed = manual_seed


def generator():
    """The generator sorix draws from (a ``numpy.random.Generator``)."""
    return _generator
