"""Compare sorix with NumPy, PyTorch, the memory floor and others on the same cases.

    python benchmarks/compare.py [--quick] [--case TEXT]
    python benchmarks/compare.py --device cuda [--quick] [--case TEXT] [--out FILE]
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/compare.py --device cuda --dry-run

With ``--device cuda`` the cases are gpu_cases.py's (timed by gpu_table.py): sorix on the GPU
against PyTorch on the GPU and a device memory floor (``--dry-run``: tiny
sizes, to check the code under numba's simulator).

Each case is built once per implementation (validated against the NumPy
reference and warmed up, see cases.py), then all implementations of the
case are timed round-robin over several rounds (``--isolated``: each
implementation in a process of its own, as a user's script runs it; see
isolation.py for what one library in a process changes for another); the table gives medians
and the ratios sorix/numpy, sorix/torch and sorix/floor (below 1: sorix is
faster). Ratios rather than absolute times are the figures to track:
both sides of a ratio are measured in the same minute on the same cores.

Threaded code waits for the slowest of its threads, so on a busy or shared
machine its times swing with the neighbours' load (the header prints the
load average). For steadier single-core figures run it with
NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1.

asv imports every module in benchmarks/ while discovering benchmarks, so
this file defines nothing whose name asv would take for a benchmark.
"""
import argparse
import os
import platform
import sys
import time


if __package__:
    from . import cases, gpu_cases, gpu_table, isolation
    from . import references as ref
else:
    from asv_package import register
    register()
    from benchmarks import cases, gpu_cases, gpu_table, isolation
    from benchmarks import references as ref


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions():
    import numba
    import numpy
    import sorix
    parts = [f"python {platform.python_version()}", f"numpy {numpy.__version__}",
             f"numba {numba.__version__}"]
    torch = ref.load_torch()
    parts.append(f"torch {torch.__version__}" if torch else "torch not installed")
    parts.append(f"sorix {sorix.__version__}")
    return ", ".join(parts)


def format_ratio(r):
    if r is None:
        return "n/a"
    return f"{r:.2f}" if r >= 0.1 else f"{r:.2g}"  # two significant digits for small ratios


LABELS = {"numpy": "numpy", "torch": "torch", "floor": "floor", "sklearn": "sklearn",
          "published": "Sorix (PyPI)"}
FOOTNOTES = {
    "numpy": "multi-pass NumPy with hand-written backward passes (for the example, "
             "hand-written gradients and no graph at all).",
    "torch": "PyTorch on the CPU, with numba's thread count.",
    "floor": "one threaded pass moving exactly the case's bytes (reads and writes), "
             "no arithmetic.",
    "sklearn": "scikit-learn's KMeans(algorithm='lloyd') from the same centroids, with its "
               "own threads.",
    "published": "the published Sorix from PyPI (benchmarks/published_sorix.py), in a "
                 "worker process.",
}


def name_has(name, impl):
    """Whether case ``name`` lists ``impl`` among its implementations."""
    listed = cases.CASES[name][2:]
    return impl in (listed[0] if listed else cases.CLASSIC)


def _isolated_steps(name, notes):
    """Every implementation of case ``name`` in a worker process of its own, built side
    by side: {impl: worker} for those that run here."""
    workers = [isolation.Isolated(name, impl) for impl in cases.IMPLEMENTATIONS]
    steps = {}
    try:
        for worker in workers:
            if worker.ready():
                steps[worker.impl] = worker
            elif worker.status == "unavailable" and worker.impl != "floor":
                notes.append(f"{name}, {worker.impl}: {worker.why}")  # (most have no floor)
    except BaseException:
        for worker in workers:  # (a paused worker would otherwise outlive this process)
            worker.close()
        raise
    return steps


def _local_steps(name, notes):
    steps = {}
    for impl in cases.IMPLEMENTATIONS:
        try:
            steps[impl] = cases.build(name, impl)
        except cases.NotApplicable:
            pass
        except cases.Unavailable as why:
            if impl != "floor":
                notes.append(f"{name}, {impl}: {why}")
    return steps


def measure_case(name, rounds, target_s, notes, isolated=False):
    """(medians, ratios, threaded) for case ``name``: median seconds per unit of the case
    for each implementation, sorix's paired ratio to each other one (None: not run), and
    the share of sorix's large launches that ran threaded. With ``isolated``, each
    implementation runs in a process of its own."""
    per_call = cases.CASES[name][1]
    if not isolated:
        steps = _local_steps(name, notes)
        with isolation.ThreadedShare() as share:
            samples = cases.interleaved_samples(steps, rounds, target_s) if steps else {}
        threaded = share.describe()
    else:
        steps = _isolated_steps(name, notes)
        try:
            samples = cases.interleaved_samples(steps, rounds, target_s) if steps else {}
            threaded = steps["sorix"].threaded_share() if "sorix" in steps else "n/a"
        finally:
            for worker in steps.values():
                worker.close()
    medians = cases.medians(samples)
    times = {impl: (medians[impl] / per_call if impl in medians else None)
             for impl in cases.IMPLEMENTATIONS}
    ratios = {other: (cases.paired_ratio(samples, "sorix", other)
                      if "sorix" in samples and other in samples else None)
              for other in cases.IMPLEMENTATIONS[1:]}
    return times, ratios, threaded


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer and shorter rounds (under a minute with a warm kernel cache)")
    parser.add_argument("--case", default="",
                        help="only the cases whose name contains this text (e.g. 'chain')")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cuda: the GPU cases, against PyTorch on the GPU")
    parser.add_argument("--dry-run", action="store_true",
                        help="with --device cuda: tiny sizes (for numba's simulator)")
    parser.add_argument("--out", help="with --device cuda: also append the table to this file")
    parser.add_argument("--isolated", action="store_true",
                        help="build and time each implementation in a process of its own, as "
                             "users run them, instead of all in this one")
    args = parser.parse_args(argv)
    if args.device == "cuda":
        return gpu_main(args)
    rounds, target_s = (3, 0.02) if args.quick else (21, 0.05)

    start = time.perf_counter()
    load_before = os.getloadavg()[0]
    notes = []
    rows = []
    for name in cases.CASES:
        if args.case not in name:
            continue
        case_start = time.perf_counter()
        rows.append((name,) + measure_case(name, rounds, target_s, notes, args.isolated))
        print(f"  {name}: {time.perf_counter() - case_start:.1f} s", file=sys.stderr, flush=True)

    print("## sorix against the reference implementations\n")
    print(f"- machine: {cpu_model()}, {os.cpu_count()} logical CPUs; "
          f"threads for numba and torch: {ref.threads()}")
    print(f"- {versions()}")
    # threaded code waits for every one of its threads: on a busy machine it slows
    # far more than single-threaded NumPy, so say how busy this one was
    print(f"- load average (1 min) before/after: {load_before:.2f}/{os.getloadavg()[0]:.2f}")
    print(f"- times: medians of {rounds} interleaved rounds of about {target_s * 1e3:.0f} ms "
          "each; ratios: median of the per-round ratios (below 1: sorix is faster); "
          + ("each implementation in a process of its own\n" if args.isolated
             else "every implementation in one process\n"))
    # a column for each implementation some measured case has
    others = [i for i in cases.IMPLEMENTATIONS[1:]
              if any(name_has(name, i) for name, *_ in rows)]
    heads = [LABELS[i] for i in others]
    print("| case | sorix | " + " | ".join(heads) + " | "
          + " | ".join(f"sorix/{h}" for h in heads) + " | threaded |")
    print("|---|" + "---:|" * (2 + 2 * len(others)))
    for name, times, ratios, threaded in rows:
        cells = [gpu_table.format_seconds(times[i]) for i in ("sorix", *others)]
        cells += [format_ratio(ratios[i]) for i in others]
        print(f"| {name} | " + " | ".join(cells) + f" | {threaded} |")
    print()
    print("threaded: the share of sorix's kernel launches above the threading threshold "
          "that ran on threads (the others found the cores busy or followed a large matrix "
          "product; n/a: none that large).")
    for i in others:
        print(f"{LABELS[i]}: {FOOTNOTES[i]}")
    if notes:
        print()
        for note in notes:
            print(f"- {note}")
    print(f"\n({time.perf_counter() - start:.0f} s)")


def gpu_main(args):
    import sorix
    if not sorix.cuda.is_available():
        sys.exit("compare.py --device cuda: no usable CUDA GPU (set NUMBA_ENABLE_CUDASIM=1 "
                 "with --dry-run to run under numba's simulator)")
    if gpu_cases.simulated() and not args.dry_run:
        sys.exit("compare.py --device cuda: numba's simulator is on; its times mean nothing "
                 "(add --dry-run to check the code anyway)")
    start = time.perf_counter()
    rounds, target_s = (2, 0.0) if args.dry_run else (3, 0.05) if args.quick else (7, 0.1)
    print(f"## sorix on {'the simulator (dry run)' if args.dry_run else 'the GPU'} "
          "against PyTorch and the device memory floor\n")
    print(f"- {versions()}")
    gpu_table.table(args.dry_run, rounds, target_s, args.out, args.case)
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
