"""Start-up costs, each timed in a fresh process (asv's timeraw_).

- ``import sorix``: must stay close to ``import numba`` (kernels compile lazily).
- the reference example with an empty kernel cache: import + compiling
  every kernel it uses + running it, a new user's first run.
- the reference example in a new process with a warm cache: import +
  loading the kernels from disk + running it, every later run.

The kernel cache is steered with NUMBA_CACHE_DIR, which numba reads at
import; the timed process sets it in its (untimed) setup code.
"""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile

from .prepare import once_per_params

# The example as API.md gives it, without printing: the timed process's
# stdout carries asv's measurement.
EXAMPLE = """
from sorix import tensor
from sorix.optim import RMSprop

x = tensor([5.0], requires_grad=True)
y = tensor([5.0], requires_grad=True)
optimizer = RMSprop([x, y], lr=0.1)
for epoch in range(10):
    loss = x * x + tensor([10.0]) * y * y
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    line = f"{x.data[0]:.4f} {y.data[0]:.4f} {loss.data[0]:.4f}"
assert line == "1.1959 1.1959 20.0162", line
"""


def timeraw_import_sorix():
    return "import sorix"


def timeraw_import_numba():
    """The floor for ``import sorix``."""
    return "import numba"


class ColdCache:
    """First run of the example: every kernel compiles (each sample gets an empty cache)."""
    number = 1
    repeat = (1, 3, 120.0)
    timeout = 900

    def setup(self):
        self.parent = tempfile.mkdtemp(prefix="sorix-bench-cold-")

    def teardown(self):
        shutil.rmtree(self.parent, ignore_errors=True)

    def timeraw_example_empty_cache(self):
        setup = ("import os, tempfile\n"
                 f"os.environ['NUMBA_CACHE_DIR'] = tempfile.mkdtemp(dir={self.parent!r})\n")
        return EXAMPLE, setup


class WarmCache:
    """The example in a new process whose kernels are already on disk."""
    timeout = 600

    @once_per_params
    def setup(self):
        self.cache = tempfile.mkdtemp(prefix="sorix-bench-warm-")
        atexit.register(shutil.rmtree, self.cache, ignore_errors=True)
        # fill the cache from another process, as a user's earlier run would
        subprocess.run([sys.executable, "-c", EXAMPLE], check=True, capture_output=True,
                       env=dict(os.environ, NUMBA_CACHE_DIR=self.cache))

    def timeraw_example_warm_cache(self):
        return EXAMPLE, f"import os\nos.environ['NUMBA_CACHE_DIR'] = {self.cache!r}\n"
