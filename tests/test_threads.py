"""Threaded kernels: two Python threads training at once under numba's workqueue layer,
results that do not depend on threads, and the free-core count that picks them."""
import json
import subprocess
import sys
import textwrap

import pytest

from sorix import config
from sorix.kernels import threads

from conftest import python_env, suite_kernel_cache


TRAIN = textwrap.dedent("""
    import json, sys, threading
    import numpy as np
    import sorix
    from sorix import nn, optim

    def train(seed, results):
        rng = np.random.default_rng(seed)
        x = sorix.tensor(rng.standard_normal((256, 48)).astype(np.float32))
        y = sorix.tensor(rng.standard_normal((256, 1)).astype(np.float32))
        labels = sorix.tensor(rng.integers(0, 8, 256))
        first, head, classes = nn.Linear(48, 64), nn.Linear(64, 1), nn.Linear(64, 8)
        with sorix.no_grad():
            for k, layer in enumerate((first, head, classes)):
                layer.W.data[...] = rng.standard_normal(layer.W.shape).astype(np.float32) * 0.2
        params = [p for m in (first, head, classes) for p in m.parameters()]
        opt = optim.RMSprop(params, lr=1e-2)
        for _ in range(15):
            opt.zero_grad()
            h = first(x).tanh()
            loss = nn.MSELoss()(head(h), y) + nn.CrossEntropyLoss()(classes(h), labels) \\
                + nn.BCEWithLogitsLoss()(head(h), (y > 0).float())
            loss.backward()
            opt.step()
        results[seed] = [p.data.tolist() for p in params] + [loss.item()]

    sequential = {}
    for seed in (1, 2):
        train(seed, sequential)
    same = True
    for _ in range(3):
        concurrent = {}
        workers = [threading.Thread(target=train, args=(s, concurrent)) for s in (1, 2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        same = same and concurrent == sequential
    import numba
    from sorix.kernels import variants, threads
    try:
        layer = numba.threading_layer()
    except ValueError:  # no threaded kernel ran
        layer = None
    print(json.dumps({"same": same, "layer": layer,
                      "threaded_kernels": sum(1 for key in variants._compiled if key[1]),
                      "serialised": threads.layer_is_serialised(),
                      "result": sequential[1][-1]}))
""")


def _train(tmp_path, **env):
    # the kernels the suite compiled so far: these tests are about threads, not the cache
    cache = suite_kernel_cache() or str(tmp_path / "cache")
    full = python_env(drop=("NUMBA_", "SORIX_"), NUMBA_CACHE_DIR=cache, **env)
    done = subprocess.run([sys.executable, "-c", TRAIN], env=full, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, f"exit status {done.returncode}\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_threads_training_under_workqueue_do_not_crash_and_match(tmp_path):
    result = _train(tmp_path, NUMBA_THREADING_LAYER="workqueue", SORIX_PARALLEL_THRESHOLD="64",
                    SORIX_LOAD_INTERVAL="0")
    assert result["layer"] == "workqueue" and result["serialised"] is True
    assert result["threaded_kernels"] >= 2
    assert result["same"] is True
    # and the same numbers as with serial kernels only, sampling the load often so that
    # threaded and serial launches mix
    serial = _train(tmp_path, NUMBA_THREADING_LAYER="workqueue",
                    SORIX_PARALLEL_THRESHOLD=str(10 ** 9))
    mixed = _train(tmp_path, NUMBA_THREADING_LAYER="workqueue", SORIX_PARALLEL_THRESHOLD="64",
                   SORIX_LOAD_INTERVAL="0.001")
    assert serial["threaded_kernels"] == 0
    assert result["result"] == serial["result"] == mixed["result"] and mixed["same"]


def test_a_thread_safe_layer_is_not_serialised(tmp_path):
    layers = []
    for name, module in (("omp", "omppool"), ("tbb", "tbbpool")):
        try:
            __import__(f"numba.np.ufunc.{module}")
            layers.append(name)
        except ImportError:
            pass
    if not layers:
        pytest.skip("neither OpenMP nor TBB is available to numba here")
    result = _train(tmp_path, NUMBA_THREADING_LAYER=layers[0], SORIX_PARALLEL_THRESHOLD="64",
                    SORIX_LOAD_INTERVAL="0")
    assert result["layer"] == layers[0] and result["serialised"] is False
    assert result["same"] is True


@pytest.mark.parametrize("others, free", [(0.0, 2), (0.2, 2), (0.5, 1), (1.0, 1), (2.0, 0)])
def test_free_cores_on_two_cpus(monkeypatch, others, free):
    monkeypatch.setattr(config, "FREE_CORE_IDLE", 0.75)
    # a window of 2 s in which this process used 1.5 CPU seconds
    assert threads.free_cores(1.5 + others * 2, 1.5, 2.0, 2) == free


def test_busy_neighbour_makes_kernels_serial(monkeypatch):
    import numba
    monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 1000)
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0.5)
    monkeypatch.setattr(threads, "_cpus", lambda: [0, 1])
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 2)
    monkeypatch.setattr(threads, "_last", None)
    monkeypatch.setattr(threads, "_threads", 0)
    clock = {"now": 100.0, "busy": 1000.0, "own": 5.0}
    monkeypatch.setattr(threads.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(threads.time, "process_time", lambda: clock["own"])
    monkeypatch.setattr(threads, "_busy_seconds", lambda cpus: clock["busy"])
    monkeypatch.setattr(threads, "_next_sample", 0.0)
    # no large matrix product just before (an earlier test's would keep kernels serial)
    monkeypatch.setattr(threads, "_last_blas", float("-inf"))
    assert threads.use(999) is False  # below the threshold: serial, no sample taken
    assert threads.use(5000) is True  # first sample: nothing known yet, threads
    # one second later: the machine was busy 1.9 s, 0.9 s of it ours -> a neighbour
    # used one core: serial
    clock.update(now=101.0, busy=1001.9, own=5.9)
    assert threads.use(5000) is False
    # within the interval the decision stands
    clock.update(now=101.2, busy=1001.9, own=5.9)
    assert threads.use(5000) is False
    # the neighbour stopped: threads again
    clock.update(now=102.0, busy=1003.0, own=6.9)
    assert threads.use(5000) is True
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)
    clock.update(now=103.0, busy=1005.0, own=6.9)
    assert threads.use(5000) is True  # the check is off


def test_threaded_kernel_restores_numbas_thread_count(monkeypatch):
    import numba
    import numpy as np

    from sorix.kernels import optim as K
    from sorix.kernels import variants
    if numba.config.NUMBA_NUM_THREADS < 3:
        pytest.skip("needs three or more threads to ask for fewer than all but one")
    kernel = variants.variant(K.sgd, True)
    assert isinstance(kernel, threads.Threaded)
    monkeypatch.setattr(threads, "_threads", 2)
    p = np.ones(10, np.float32)
    kernel(p, np.ones(10, np.float32), np.zeros(0, np.float32), np.float32(0.5), np.float32(0),
           np.float32(0), np.float32(1), False, False, True)
    np.testing.assert_array_equal(p, 0.5)
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS


@pytest.mark.parametrize("product", ["matmul", "conv2d"])
def test_kernels_stay_serial_while_blas_threads_spin_after_a_product(monkeypatch, product):
    import math

    import numpy as np

    import sorix
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0.5)
    monkeypatch.setattr(config, "BLAS_SPIN_SECONDS", 0.1)
    monkeypatch.setattr(threads, "_sample", lambda now: None)  # the cores count as free
    monkeypatch.setattr(threads, "_threads", 0)
    monkeypatch.setattr(threads, "_last_blas", -math.inf)
    clock = {"now": 1000.0}
    monkeypatch.setattr(threads.time, "monotonic", lambda: clock["now"])
    n = config.PARALLEL_THRESHOLD

    def product_of(size):
        if product == "matmul":  # (size, 64) @ (64, 64)
            x = sorix.ones(size, 64, requires_grad=True)
            (x @ sorix.ones(64, 64)).sum().backward()
        else:  # 8 filters of 8 x 3 x 3 on a size x size image: 8 x 72 x size^2 per sample
            x = sorix.ones(1, 8, size, size, requires_grad=True)
            sorix.nn.functional.conv2d(x, sorix.ones(8, 8, 3, 3), padding=1).sum().backward()

    product_of(4)  # one BLAS thread: nothing spins after it
    assert threads.use(n)
    product_of(128)  # over 262144 multiply-adds: BLAS's threads spin after it
    assert not threads.use(n)
    clock["now"] += 0.05
    assert not threads.use(n)
    clock["now"] += 0.06
    assert threads.use(n)
    assert not threads.use(n - 1)  # (the size threshold still applies)
