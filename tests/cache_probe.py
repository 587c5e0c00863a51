"""A short training run for the cache tests, run in a fresh process: seven kernels
(the bias add, tanh, subtract, power, a product, the fused backward, RMSprop), few
enough to compile in two seconds or so, for the many runs on empty caches.

Prints one JSON line: the parameters after two RMSprop steps, the kernels'
disk-cache hits and misses, and the messages of the warnings sorix gave.
Set ``SORIX_PROBE_FULL_DISK=1`` to make every cache write fail with ENOSPC
(a full disk) while kernels are saved.
"""
import contextlib
import errno
import json
import os
import sys
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

if os.environ.get("SORIX_PROBE_FULL_DISK") == "1":
    from numba.core import caching

    @contextlib.contextmanager
    def _no_space(self, filepath):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filepath)
        yield  # (a generator, as the method it replaces)

    caching.IndexDataCacheFile._open_for_write = _no_space

warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import sorix
    from sorix import nn, optim
    from sorix.kernels import build, fused

    x = sorix.tensor(np.linspace(-1.0, 1.0, 24, dtype=np.float32).reshape(6, 4))
    y = sorix.tensor(np.linspace(0.5, -0.5, 12, dtype=np.float32).reshape(6, 2))
    layer = nn.Linear(4, 2)
    with sorix.no_grad():
        layer.W.data[...] = np.linspace(-0.3, 0.3, 8, dtype=np.float32).reshape(4, 2)
        layer.b.data[...] = np.array([[0.1, -0.2]], np.float32)
    opt = optim.RMSprop(layer.parameters(), lr=0.01)
    for _ in range(2):
        opt.zero_grad()
        loss = ((layer(x).tanh() - y) ** 2).mean()
        loss.backward()
        opt.step()

dispatchers = list(build._kernel_cache.values()) + list(fused._compiled.values())
from sorix.kernels import variants  # noqa: E402
dispatchers += list(variants._compiled.values())
hits = sum(sum(d.stats.cache_hits.values()) for d in dispatchers)
misses = sum(sum(d.stats.cache_misses.values()) for d in dispatchers)
print(json.dumps({
    "weight": layer.W.data.tolist(), "bias": layer.b.data.tolist(),
    "loss": float(loss.item()), "hits": hits, "misses": misses,
    "fused": len(fused._compiled),
    "warnings": [str(w.message) for w in caught if "sorix" in str(w.message)],
}))
