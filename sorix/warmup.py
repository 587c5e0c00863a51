"""Compile the kernels a typical training script needs, ahead of time.

    python -m sorix.warmup [--quiet] [--dtypes float32,float64] [--jobs N]

sorix compiles each kernel the first time a process uses it and keeps it in
the disk cache, so the first run of a script pauses (seconds per new kernel)
where later runs do not. This command takes that pause once: it runs tiny
workloads through the public API (elementwise ops and their gradients,
reductions, matmul, softmax, the losses, the optimizers, BatchNorm,
LayerNorm, the training steps of a small network and of a small CNN),
serial and threaded builds both, in float32 and float64, and reports how
many kernels it compiled and how many it found already cached. The workloads run in one process per core
(``--jobs``), since numba compiles on one. Progress goes to stderr; ``--quiet`` prints
nothing. The cache folder is numba's (``NUMBA_CACHE_DIR`` when set).
"""
import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np

DTYPES = ("float32", "float64")


def _elementwise(dtype):
    import sorix
    import sorix.nn.functional as F
    from sorix.kernels.defs import UNARY
    params = {1: (0.5,), 2: (1.0, 20.0)}
    x = sorix.tensor(np.linspace(0.1, 0.9, 12, dtype=dtype).reshape(3, 4), requires_grad=True)
    terms = []
    for name, op in UNARY.items():
        if name == "clamp":
            terms.append(x.clamp(-0.5, 0.5))
        elif name == "gelu_tanh":
            terms.append(F.gelu(x, approximate="tanh"))
        elif hasattr(x, name):
            terms.append(getattr(x, name)(*params.get(op.nparams, ())))
        elif hasattr(F, name):
            terms.append(getattr(F, name)(x, *params.get(op.nparams, ())))
    row = sorix.tensor(np.full(4, 0.5, dtype), requires_grad=True)
    for y in (x + row, x - row, x * row, x / row, x ** row, x.maximum(row), x.minimum(row),
              x + 1.0, 2.0 * x, x / 3.0, x ** 2.0, x - x, x * x, -x):
        terms.append(y)
    total = terms[0].sum()
    for t in terms[1:]:
        total = total + t.sum()
    total.backward()


def _reductions(dtype):
    import sorix
    x = sorix.tensor(np.arange(24, dtype=dtype).reshape(2, 3, 4), requires_grad=True)
    outs = [x.sum(), x.mean(), x.max(), x.min(), x.var(), x.std()]
    for axis in (0, -1, (0, 2)):
        outs += [x.sum(axis=axis), x.mean(axis=axis, keepdims=True), x.max(axis=axis),
                 x.var(axis=axis)]
    outs += [x.softmax(-1), x.log_softmax(-1), x.argmax(-1), x.argmin(0)]
    total = sum(o.sum() for o in outs if o.requires_grad)
    total.backward()
    if dtype == "float32":  # a large float32 sum or mean runs a kernel of its own
        from sorix import config
        big = sorix.ones(config.TOTAL_KERNEL_MIN, dtype=sorix.float32)
        big.sum(), big.mean()


def _matmul(dtype):
    import sorix
    a = sorix.tensor(np.ones((3, 4), dtype), requires_grad=True)
    b = sorix.tensor(np.ones((4, 2), dtype), requires_grad=True)
    ((a @ b).sum() + (a @ b[:, 0]).sum()).backward()


def _losses(dtype):
    import sorix
    from sorix import nn
    x = sorix.tensor(np.linspace(0.1, 0.9, 6, dtype=dtype).reshape(3, 2), requires_grad=True)
    t = sorix.tensor(np.linspace(0.2, 0.8, 6, dtype=dtype).reshape(3, 2))
    labels = sorix.tensor(np.array([0, 1, 1]))
    losses = [nn.MSELoss(), nn.BCEWithLogitsLoss(), nn.L1Loss(), nn.SmoothL1Loss(),
              nn.HuberLoss(), nn.BCELoss()]
    total = sum(loss(x, t) for loss in losses)
    for reduction in ("sum", "none"):
        total = total + nn.MSELoss(reduction=reduction)(x, t).sum()
    total = total + nn.CrossEntropyLoss()(x, labels) + nn.NLLLoss()(x.log_softmax(-1), labels)
    total.backward()


def _layers_and_optimizers(dtype):
    import sorix
    from sorix import nn, optim
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.1),
                          nn.Linear(8, 8), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, 3))
    model.to(dtype=dtype)
    x = sorix.tensor(rng.standard_normal((5, 4)).astype(dtype))
    y = sorix.tensor(np.array([0, 1, 2, 1, 0]))
    for make in (lambda p: optim.SGD(p, lr=0.01, momentum=0.9), lambda p: optim.Adam(p),
                 lambda p: optim.AdamW(p), lambda p: optim.RMSprop(p)):
        opt = make(model.parameters())
        for _ in range(2):
            opt.zero_grad()
            loss = nn.CrossEntropyLoss()(model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
    model.eval()
    with sorix.no_grad():
        model(x)


def _convolutions(dtype):
    import sorix
    from sorix import nn, optim
    rng = np.random.default_rng(1)
    # padded convolutions whose input gradient is needed (the second), batch norm over
    # channels, max and average pooling: a small CNN's training step
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(2, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(),
                          nn.AvgPool2d(2),
                          nn.Flatten(), nn.Linear(8, 3))
    model.to(dtype=dtype)
    x = sorix.tensor(rng.standard_normal((2, 1, 8, 8)).astype(dtype))
    y = sorix.tensor(np.array([0, 2]))
    opt = optim.Adam(model.parameters())
    loss = nn.CrossEntropyLoss()(model(x), y)
    loss.backward()
    opt.step()


STEPS = (("elementwise", _elementwise), ("reductions", _reductions), ("matmul", _matmul),
         ("losses", _losses), ("layers and optimizers", _layers_and_optimizers),
         ("convolutions", _convolutions))


#: The registry's caches that hold whole kernels (the others hold the helpers compiled
#: into them, which the disk cache does not keep on their own)
KERNEL_CACHES = ("cpu kernels", "cpu variants", "fused")


def _dispatchers():
    """Every compiled-or-loaded CPU kernel of this process (numba dispatchers)."""
    from sorix.kernels import build, fused, registry, variants  # noqa: F401  (makes the caches)
    found = {}
    for k in registry.entries(*KERNEL_CACHES):
        k = getattr(k, "dispatcher", k)  # (a wrapper around a dispatcher)
        if hasattr(k, "stats"):
            found[id(k)] = k
    return list(found.values())


def kernel_keys():
    """(loaded, compiled): the kernels this process has loaded from the disk cache and
    compiled, each a set of (cache entry, signature), so that counts gathered in several
    processes add up without counting a kernel twice."""
    loaded, compiled = set(), set()
    for k in _dispatchers():
        cache_file = getattr(getattr(k, "_cache", None), "_cache_file", None)
        entry = getattr(cache_file, "_index_name", None) or k.py_func.__qualname__
        loaded.update((entry, str(sig)) for sig in k.stats.cache_hits)
        compiled.update((entry, str(sig)) for sig in k.stats.cache_misses)
    return loaded, compiled


class _Progress:
    """A progress bar on stderr (a line per step when stderr is not a terminal)."""

    def __init__(self, total, quiet):
        self.total, self.done, self.quiet = total, 0, quiet
        self.tty = not quiet and sys.stderr.isatty()

    def _line(self, label):
        width = 24
        filled = width * self.done // self.total
        return f"sorix warmup [{'#' * filled}{'.' * (width - filled)}] " \
               f"{self.done}/{self.total} {label}"

    def start(self, label):
        """Show the step about to run (on a terminal, where the line is redrawn)."""
        if self.tty:
            sys.stderr.write("\r" + self._line(label + " ...").ljust(79))
            sys.stderr.flush()

    def step(self, label):
        """Count a finished step."""
        self.done += 1
        if self.quiet:
            return
        if self.tty:
            sys.stderr.write("\r" + self._line(label).ljust(79))
            if self.done == self.total:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(self._line(label) + "\n")
        sys.stderr.flush()


def _run_one(label, dtype, threaded):
    """Run one workload in this process, with the threaded builds forced when asked."""
    from sorix import config
    fn = dict(STEPS)[label]
    saved = (config.PARALLEL_THRESHOLD, config.OPTIMIZER_PARALLEL_THRESHOLDS,
             config.LOAD_CHECK_INTERVAL)
    if threaded:
        # a threshold of 1 element, and no look at how busy the cores are, make even
        # these tiny workloads take the threaded builds, which large inputs use
        (config.PARALLEL_THRESHOLD, config.OPTIMIZER_PARALLEL_THRESHOLDS,
         config.LOAD_CHECK_INTERVAL) = (1, dict.fromkeys(saved[1], 1), 0.0)
    try:
        fn(dtype)
    finally:
        (config.PARALLEL_THRESHOLD, config.OPTIMIZER_PARALLEL_THRESHOLDS,
         config.LOAD_CHECK_INTERVAL) = saved


def _worker_start():
    from sorix.kernels import compile_note
    compile_note.mark_shown()  # the parent's progress bar speaks for every worker


def _run_in_worker(label, dtype, threaded):
    """One workload in a worker process; returns every kernel that process has loaded
    and compiled so far (a worker may run several workloads)."""
    _run_one(label, dtype, threaded)
    return kernel_keys()


def default_jobs():
    """The processes ``run`` uses by default: one per usable core, at most 8 (each
    holds a Python with numba and sorix, about 200 MB)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # (not on every platform)
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def run(dtypes=DTYPES, quiet=False, jobs=1):
    """Run every warm-up workload for each dtype, serial and threaded builds, in
    ``jobs`` processes (1: in this one).

    Numba compiles on one core, so on a machine with several the workloads go faster
    side by side; they share the disk cache, which concurrent writers leave whole.
    Returns ``{'loaded': n, 'compiled': m, 'seconds': s}``, each kernel counted once.
    """
    from sorix.kernels import compile_note
    start = time.perf_counter()
    # the largest workloads first, so that no worker is left with one at the end
    work = [(label, dtype, threaded) for label, _ in reversed(STEPS)
            for dtype in dtypes for threaded in (True, False)]
    progress = _Progress(len(work), quiet)
    jobs = max(1, min(int(jobs), len(work)))

    def describe(label, dtype, threaded):
        return f"{label}, {dtype}{', threaded' if threaded else ''}"

    if jobs == 1:
        compile_note.mark_shown()  # the progress bar says it better
        for item in work:
            progress.start(describe(*item))
            _run_one(*item)
            progress.step(describe(*item))
        loaded, compiled = kernel_keys()
    else:
        loaded, compiled = set(), set()
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_start) as pool:
            running = {pool.submit(_run_in_worker, *item): item for item in work}
            progress.start(f"{jobs} processes")
            for done in as_completed(running):
                worker_loaded, worker_compiled = done.result()
                loaded |= worker_loaded
                compiled |= worker_compiled
                progress.step(describe(*running[done]))
    # a kernel one worker compiled and another then read from the disk was compiled once
    loaded -= compiled
    return {"loaded": len(loaded), "compiled": len(compiled),
            "seconds": time.perf_counter() - start}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sorix.warmup",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    parser.add_argument("--dtypes", default=",".join(DTYPES),
                        help="comma-separated dtypes to compile for (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=default_jobs(),
                        help="processes compiling side by side (default: one per core, at "
                             "most 8, here %(default)s)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, not {args.jobs}")
    dtypes = tuple(d.strip() for d in args.dtypes.split(",") if d.strip())
    unknown = [d for d in dtypes if d not in DTYPES]
    if unknown:
        parser.error(f"unknown dtype(s) {', '.join(unknown)}: choose from {', '.join(DTYPES)}")
    summary = run(dtypes, args.quiet, args.jobs)
    if not args.quiet:
        print(f"sorix warmup: {summary['compiled']} kernels compiled, {summary['loaded']} "
              f"loaded from the cache, in {summary['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
