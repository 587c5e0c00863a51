"""Single ops against PyTorch: forward + backward of each, float32, as a user calls them.

    python benchmarks/op_sweep.py [--case TEXT] [--rounds N]

A survey for finding the ops where sorix falls far behind, not a table of record
(``compare.py`` and asv are): each op runs on inputs of a typical training size,
sorix and PyTorch alternating in one process (PyTorch on numba's thread count),
and the line gives the medians and their ratio (below 1: sorix is faster).
Needs PyTorch (``pip install torch``).
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _ops(sorix, torch):
    """name -> (input shapes, sorix function, PyTorch function)."""
    SF, TF = sorix.nn.functional, torch.nn.functional
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 1000, 1024)
    rows = rng.integers(0, 10000, 4096)
    s_labels, t_labels, t_rows = sorix.tensor(labels), torch.tensor(labels), torch.tensor(rows)
    pixels = rng.integers(0, 21, (16, 64, 64))  # a segmentation batch's class per pixel
    s_pixels, t_pixels = sorix.tensor(pixels), torch.tensor(pixels)
    big, wide = (1000, 1000), (1024, 1000)
    return {
        "softmax (1024, 1000)": ([wide], lambda x: SF.softmax(x, -1), lambda x: TF.softmax(x, -1)),
        "log_softmax (1024, 1000)": ([wide], lambda x: SF.log_softmax(x, -1),
                                     lambda x: TF.log_softmax(x, -1)),
        "softmax over channels (16, 21, 64, 64)": ([(16, 21, 64, 64)],
                                                   lambda x: SF.softmax(x, 1),
                                                   lambda x: TF.softmax(x, 1)),
        "cross_entropy over channels (16, 21, 64, 64)": (
            [(16, 21, 64, 64)], lambda x: SF.cross_entropy(x, s_pixels),
            lambda x: TF.cross_entropy(x, t_pixels)),
        "cross_entropy (1024, 1000)": ([wide], lambda x: SF.cross_entropy(x, s_labels),
                                       lambda x: TF.cross_entropy(x, t_labels)),
        "relu 1e6": ([big], SF.relu, TF.relu),
        "gelu 1e6": ([big], SF.gelu, TF.gelu),
        "silu 1e6": ([big], SF.silu, TF.silu),
        "softplus 1e6": ([big], SF.softplus, TF.softplus),
        "tanh 1e6": ([big], lambda x: x.tanh(), lambda x: x.tanh()),
        "exp 1e6": ([big], lambda x: x.exp(), lambda x: x.exp()),
        "clamp 1e6": ([big], lambda x: x.clamp(-0.5, 0.5), lambda x: x.clamp(-0.5, 0.5)),
        "broadcast add (1000, 1000) + (1000,)": ([big, (1000,)], lambda a, b: a + b,
                                                 lambda a, b: a + b),
        "sum over axis 1 (1000, 1000)": ([big], lambda x: x.sum(axis=1),
                                         lambda x: x.sum(dim=1)),
        "max over axis 1 (1000, 1000)": ([big], lambda x: x.max(axis=1),
                                         lambda x: x.max(dim=1).values),
        "mse_loss 1e6": ([big, big], SF.mse_loss, TF.mse_loss),
        "layer_norm (4096, 256)": ([(4096, 256)], lambda x: SF.layer_norm(x, (256,)),
                                   lambda x: TF.layer_norm(x, (256,))),
        "batch_norm (1024, 512)": ([(1024, 512)],
                                   lambda x: SF.batch_norm(x, None, None, training=True),
                                   lambda x: TF.batch_norm(x, None, None, training=True)),
        "max_pool2d 2x2 (64, 16, 32, 32)": ([(64, 16, 32, 32)], lambda x: SF.max_pool2d(x, 2),
                                            lambda x: TF.max_pool2d(x, 2)),
        "avg_pool2d 2x2 (64, 16, 32, 32)": ([(64, 16, 32, 32)], lambda x: SF.avg_pool2d(x, 2),
                                            lambda x: TF.avg_pool2d(x, 2)),
        "adaptive_avg_pool2d to 1 (64, 64, 8, 8)": (
            [(64, 64, 8, 8)], lambda x: SF.adaptive_avg_pool2d(x, 1),
            lambda x: TF.adaptive_avg_pool2d(x, 1)),
        "matmul (256, 512) @ (512, 512)": ([(256, 512), (512, 512)], lambda a, b: a @ b,
                                           lambda a, b: a @ b),
        "conv1d (32, 16, 1000) by (32, 16, 5)": ([(32, 16, 1000), (32, 16, 5)], SF.conv1d,
                                                TF.conv1d),
        "row gather (10000, 128)[4096 rows]": ([(10000, 128)], lambda x: x[rows],
                                               lambda x: x[t_rows]),
    }


def _step(tensor, make, fn, arrays, upstream):
    leaves = [make(a) for a in arrays]
    g = tensor(upstream)

    def step():
        for t in leaves:
            t.grad = None
        fn(*leaves).backward(g)
    return step


def measure(name, shapes, ours, theirs, rounds, sorix, torch):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    with sorix.no_grad():
        out_shape = tuple(ours(*[sorix.tensor(a) for a in arrays]).shape)
    upstream = rng.standard_normal(out_shape).astype(np.float32)
    steps = {
        "sorix": _step(sorix.tensor, lambda a: sorix.tensor(a, requires_grad=True), ours,
                       arrays, upstream),
        "torch": _step(torch.tensor, lambda a: torch.tensor(a, requires_grad=True), theirs,
                       arrays, upstream)}
    times = {k: [] for k in steps}
    for step in steps.values():  # compile, allocate, warm the caches
        for _ in range(3):
            step()
    for _ in range(rounds):
        for k, step in steps.items():
            start = time.perf_counter()
            for _ in range(5):
                step()
            times[k].append((time.perf_counter() - start) / 5)
    a, b = statistics.median(times["sorix"]), statistics.median(times["torch"])
    print(f"{name:42s} sorix {a * 1e3:8.3f} ms  torch {b * 1e3:8.3f} ms  ratio {a / b:5.2f}",
          flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", default="", help="only the ops whose name contains this")
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds per op")
    args = parser.parse_args(argv)
    import sorix
    import torch
    from benchmarks import references
    torch.set_num_threads(references.threads())
    for name, (shapes, ours, theirs) in _ops(sorix, torch).items():
        if args.case in name:
            measure(name, shapes, ours, theirs, args.rounds, sorix, torch)


if __name__ == "__main__":
    main()
