"""Timing of the GPU cases (gpu_cases.py) and their markdown table.

``samples`` times every implementation of a case round-robin, each sample
closed by a device synchronisation (so the kernels it queued are counted);
``table()`` writes medians, paired ratios, throughput and the goals.
"""
import statistics
import sys
import time

import numpy as np

from . import cases
from .gpu_cases import (FLOAT_BYTES, IMPLEMENTATIONS, SIZES, NotApplicable, Step, Unavailable,
                        case_table, numba_cuda, random32, simulated, synchronize)



def _timed(step, count):
    synchronize()
    start = time.perf_counter()
    for _ in range(count):
        step.run()
    synchronize()
    return time.perf_counter() - start


def samples(steps, rounds=7, target_s=0.1):
    """Seconds per call of each step, one sample per round, in an order rotating across
    rounds (as :func:`cases.interleaved_samples`); every sample ends with a device sync."""
    names = list(steps)
    calls = {name: max(1, int(target_s / max(_timed(steps[name], 1), 1e-7))) for name in names}
    out = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            out[name].append(_timed(steps[name], calls[name]) / calls[name])
    return out


def copy_bandwidth(n, rounds=5):
    """GB/s of a device-to-device copy of ``n`` float32 (bytes read plus written)."""
    cuda = numba_cuda()
    src, dst = cuda.to_device(random32(n)), cuda.device_array(n, np.float32)
    step = Step(lambda: dst.copy_to_device(src))
    seconds = statistics.median(_timed(step, 10) / 10 for _ in range(rounds))
    return 2 * FLOAT_BYTES * n / seconds / 1e9


def _throughput(step, seconds):
    if seconds is None:
        return "n/a"
    if step.bytes_moved:
        return f"{step.bytes_moved / seconds / 1e9:.0f} GB/s"
    if step.flops:
        return f"{step.flops / seconds / 1e12:.1f} TFLOP/s"
    return ""


def measure(case, dry_run, rounds, target_s, notes, applicable):
    """Markdown cells of one case's row; ``notes`` gets (case, impl, why) for each
    implementation that could not run, ``applicable`` counts the cases of each."""
    builder, goal = case_table(dry_run)[case]
    steps = {}
    for impl in IMPLEMENTATIONS:
        try:
            steps[impl] = builder(impl)
        except NotApplicable:
            continue
        except Unavailable as why:
            notes.append((case, impl, str(why)))
        applicable[impl] = applicable.get(impl, 0) + 1
    timing = samples(steps, rounds, target_s) if steps else {}
    median = {impl: statistics.median(timing[impl]) if impl in timing else None
              for impl in IMPLEMENTATIONS}
    ratio = {other: cases.paired_ratio(timing, "sorix", other)
             if "sorix" in timing and other in timing else None for other in ("torch", "floor")}
    cells = [format_seconds(median[i]) for i in IMPLEMENTATIONS]
    cells += ["n/a" if r is None else f"{r:.2f}" for r in ratio.values()]
    cells.append(_throughput(steps["sorix"], median["sorix"]) if "sorix" in steps else "n/a")
    cells.append(_throughput(steps["floor"], median["floor"]) if "floor" in steps else "")
    if goal is None:
        cells.append("")
    else:
        reference, limit = goal
        r = ratio[reference]
        verdict = ("n/a" if r is None else "not judged (dry run)" if dry_run
                   else "met" if r <= limit else "missed")
        cells.append(f"sorix/{reference} <= {limit}: {verdict}")
    return cells


def format_seconds(s):
    """Seconds with a unit and three significant digits ("n/a" for None)."""
    if s is None:
        return "n/a"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


HEADER = ("| case | sorix | torch | floor | sorix/torch | sorix/floor | sorix throughput "
          "| floor throughput | goal |\n|---|---:|---:|---:|---:|---:|---:|---:|---|")

LEGEND = ("torch: PyTorch on the same GPU (optimizers: its default foreach kernels; "
          "matmul in full float32, TF32 off as by default). floor: one numba-cuda kernel "
          "moving exactly the case's bytes (reads and writes), no arithmetic. Ratios: median "
          "of per-round ratios (below 1: sorix is faster). Throughput: bytes read + written "
          "per second (optimizer steps, chain) or FLOP/s (matmul: 3 products of 2n^3). Goals: "
          "optimizer steps at >= 80% of the floor's bandwidth (sorix/floor <= 1.25), MNIST "
          "step within 1.5x PyTorch, matmul within 1.2x PyTorch.")


def table(dry_run=False, rounds=7, target_s=0.1, out=None, only=""):
    """Time every case whose name contains ``only``; print the markdown table and write it,
    row by row as each case finishes, to the file ``out`` (if given)."""
    if dry_run and simulated():
        sys.setswitchinterval(1e-4)  # the simulator's threads poll under the GIL
    lines = []

    def emit(line):
        lines.append(line)
        print(line, flush=True)
        if out:
            with open(out, "a") as f:
                f.write(line + "\n")

    notes, applicable = [], {}
    emit(f"- device-to-device copy: {copy_bandwidth(SIZES[dry_run]['copy']):.0f} GB/s "
         "(bytes read + written)")
    from sorix.kernels.cuda import blas
    emit(f"- sorix float32 matmul: {blas.status()}")
    emit(f"- times: medians of {rounds} interleaved rounds of about {target_s * 1e3:.0f} ms, "
         "each closed by a device synchronisation\n")
    emit(HEADER)
    for case in case_table(dry_run):
        if only not in case:
            continue
        start = time.perf_counter()
        try:
            cells = measure(case, dry_run, rounds, target_s, notes, applicable)
        except Exception as exc:  # a failing case is reported, and the others still run
            notes.append(f"{case}: FAILED: {type(exc).__name__}: {str(exc)[:300]}")
            cells = ["error"] * 8
        emit(f"| {case} | " + " | ".join(cells) + " |")
        print(f"  ({case}: {time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)
    emit("\n" + LEGEND)
    for note in _grouped(notes, applicable):
        emit(f"- {note}")
    return lines


def _grouped(notes, applicable):
    """Footnotes, one per reason: an implementation missing from every case it applies
    to is one line."""
    reasons = {}
    for note in notes:
        if isinstance(note, str):
            reasons[note] = (None, [])
        else:
            case, impl, why = note
            reasons.setdefault(f"{impl}: {why}", (impl, []))[1].append(case)
    for reason, (impl, where) in reasons.items():
        if impl is None:
            yield reason
        elif len(where) == applicable.get(impl):
            yield f"{reason} (every case)"
        else:
            yield f"{reason} ({'; '.join(where)})"
