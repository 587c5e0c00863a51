"""Threaded kernels next to a busy process: serial, threaded and sorix's own choice.

A threaded kernel ends when its slowest thread does; with one core taken by
a busy neighbour, the thread sharing that core finishes late. This compares,
for an RMSprop step and an elementwise kernel (tanh) at 1e6 and 1e7 float32
elements, the serial build, the threaded build on every thread, and what
sorix picks (:mod:`sorix.kernels.threads`), with and without a neighbour:
a process spinning in a pure Python loop, pinned to one core where the
system allows it, started here and always stopped.

asv: ``UnderLoad`` (the neighbour runs during each timing). As a script,
``python -m benchmarks.bench_under_load [--repeat N] [--sizes 1e6,1e7]``
prints a table with the load average before the run, so that a figure
taken on a shared machine can be judged.
"""
import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time

import numpy as np

SIZES = (10 ** 6, 10 ** 7)
WORKLOADS = ("rmsprop", "tanh")
MODES = ("serial", "threaded", "auto")

_SPIN = "import os\ncore = int(os.environ['SPIN_CORE'])\n" \
        "try:\n    os.sched_setaffinity(0, {core})\nexcept (AttributeError, OSError):\n    pass\n" \
        "while True:\n    pass\n"


def _cores():
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


@contextlib.contextmanager
def busy_neighbour():
    """A process spinning on the last core this process may use, while the block runs."""
    env = dict(os.environ, SPIN_CORE=str(_cores()[-1]))
    spinner = subprocess.Popen([sys.executable, "-c", _SPIN], env=env)
    try:
        time.sleep(0.2)  # let it start and take its core
        yield spinner
    finally:
        spinner.terminate()
        try:
            spinner.wait(5)
        except subprocess.TimeoutExpired:
            spinner.kill()
            spinner.wait()


def make_step(workload, n, mode):
    """A zero-argument callable running one kernel call of ``workload`` over ``n`` float32
    elements in ``mode``, checked once against NumPy."""
    from sorix.kernels import elementwise
    from sorix.kernels import optim as K
    from sorix.kernels import variants
    rng = np.random.default_rng(0)
    if workload == "rmsprop":
        p = rng.standard_normal(n).astype(np.float32)
        g = rng.standard_normal(n).astype(np.float32)
        square_avg = np.zeros(n, np.float32)
        empty = np.zeros(0, np.float32)
        f = np.float32
        args = (p, g, square_avg, empty, empty, f(1e-9), f(0.99), f(0.01), f(1e-8), f(0),
                f(0), False)
        expected = 0.01 * g.astype(np.float64) ** 2
        if mode == "auto":
            def step():
                variants.run(K.rmsprop, n, *args)
        else:
            kernel = variants.variant(K.rmsprop, mode == "threaded")

            def step():
                kernel(*args)
        step()
        np.testing.assert_allclose(square_avg, expected, rtol=1e-5)
        return step
    x = rng.standard_normal(n).astype(np.float32)
    out = np.empty_like(x)
    empty = np.zeros(0, np.float32)
    dtype = np.dtype(np.float32)
    if mode == "auto":
        def step():
            elementwise._kernel("unary0", "tanh", dtype, n)(x, out, empty)
    else:
        from sorix.kernels.build import kernel as build_kernel
        from sorix.kernels.defs import UNARY
        fn = build_kernel("unary0", "tanh", {"F": UNARY["tanh"].forward}, dtype,
                          mode == "threaded")

        def step():
            fn(x, out, empty)
    step()
    np.testing.assert_allclose(out, np.tanh(x), rtol=1e-5, atol=1e-6)
    return step


def _median_ms(step, repeat, min_time=0.0):
    samples = []
    started = time.perf_counter()
    while len(samples) < repeat or time.perf_counter() - started < min_time:
        t = time.perf_counter()
        step()
        samples.append(time.perf_counter() - t)
    return 1e3 * statistics.median(samples), 1e3 * sorted(samples)[int(0.9 * len(samples))]


class UnderLoad:
    """One kernel call with a busy neighbour on one core."""
    params = (list(WORKLOADS), list(SIZES), list(MODES))
    param_names = ["workload", "n", "mode"]
    timeout = 300
    repeat = (10, 40, 10.0)

    def setup(self, workload, n, mode):
        self.step = make_step(workload, n, mode)
        self._neighbour = busy_neighbour()
        self._neighbour.__enter__()
        end = time.perf_counter() + 1.2  # let the load sample see the neighbour
        while time.perf_counter() < end:
            self.step()

    def teardown(self, workload, n, mode):
        self._neighbour.__exit__(None, None, None)

    def time_step(self, workload, n, mode):
        self.step()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed calls per cell")
    parser.add_argument("--sizes", default="1e6,1e7", help="comma-separated element counts")
    args = parser.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    import numba

    from sorix import config
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("n/a",) * 3
    steps = {(w, n, m): make_step(w, n, m) for w in WORKLOADS for n in sizes for m in MODES}
    print(f"cores {len(_cores())}, numba threads {numba.config.NUMBA_NUM_THREADS}, layer "
          f"{numba.threading_layer()}, load average before {load}, "
          f"PARALLEL_THRESHOLD {config.PARALLEL_THRESHOLD}, "
          f"LOAD_CHECK_INTERVAL {config.LOAD_CHECK_INTERVAL} s")
    print("median (p90) ms per call")
    header = f"{'workload':9} {'n':>9} {'neighbour':9} " + \
        " ".join(f"{m:>17}" for m in MODES) + f" {'auto/serial':>11}"
    print(header)
    for neighbour in (False, True):
        context = busy_neighbour() if neighbour else contextlib.nullcontext()
        with context:
            for w in WORKLOADS:
                for n in sizes:
                    cells = {}
                    for m in MODES:
                        # auto: run for over a load-check interval first so it has sampled
                        warm = config.LOAD_CHECK_INTERVAL * 2.5 if m == "auto" else 0.0
                        _median_ms(steps[w, n, m], 3, warm)
                        cells[m] = _median_ms(steps[w, n, m], args.repeat)
                    print(f"{w:9} {n:9.0e} {'busy' if neighbour else 'none':9} " +
                          " ".join(f"{c[0]:8.3f} ({c[1]:6.3f})" for c in cells.values()) +
                          f" {cells['auto'][0] / cells['serial'][0]:11.2f}")
    after = os.getloadavg() if hasattr(os, "getloadavg") else "n/a"
    print(f"load average after {after}")


if __name__ == "__main__":
    main()
