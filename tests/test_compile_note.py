"""The first-compile note and ``python -m sorix.warmup``, each in fresh processes with
their own kernel cache folder (the warm-up's: the suite's)."""
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import python_env, suite_kernel_cache

NOTE = "sorix: compiling kernels on first use; they are cached for later runs"

#: a few kernels: a forward, its gradient and a product's gradient
SMALL_SCRIPT = textwrap.dedent("""
    import numpy as np
    import sorix
    from sorix.kernels import compile_note
    x = sorix.tensor(np.linspace(-1.0, 1.0, 6), requires_grad=True)
    (x.tanh() * x).sum().backward()
    print("compiles", compile_note.compiles)
""")

#: a small network's training steps (float64, as the warm-up below is asked for)
MLP_STEPS = textwrap.dedent("""
    sorix.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, 3))
    model.to(dtype=sorix.float64)
    opt = optim.Adam(model.parameters())
    x = sorix.randn(5, 4, dtype=sorix.float64)
    y = sorix.tensor([0, 1, 2, 1, 0])
    for _ in range(2):
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(model(x), y)
        loss.backward()
        opt.step()
""")

#: a small CNN's training step, for the warm-up's convolution kernels
CNN_STEP = textwrap.dedent("""
    sorix.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(16, 3))
    model.to(dtype=sorix.float64)
    opt = optim.Adam(model.parameters())
    x = sorix.randn(3, 1, 8, 8, dtype=sorix.float64)
    loss = nn.CrossEntropyLoss()(model(x), sorix.tensor([0, 1, 2]))
    loss.backward()
    opt.step()
""")

#: run in one process on a cache the warm-up filled: the warm-up itself, quiet (prints what
#: it wrote, and the kernels it compiled and loaded), then the two scripts, then a float32
#: op the float64 warm-up leaves out; prints the kernel overloads (numba dispatcher and
#: signature) that each of the last two added to what was in memory
COVERAGE = textwrap.dedent("""
    import contextlib
    import gc
    import io
    import numpy as np
    from numba.core.dispatcher import Dispatcher
    import sorix
    from sorix import nn, optim, warmup

    def in_memory():
        found = set()
        for obj in gc.get_objects():
            if isinstance(obj, Dispatcher):
                module = getattr(obj.py_func, "__module__", "") or ""
                if module.split(".")[0] == "sorix":
                    found.update((id(obj), str(sig)) for sig in obj.overloads)
        return found

    written = io.StringIO()
    with contextlib.redirect_stdout(written), contextlib.redirect_stderr(written):
        warmup.main(["--dtypes", "float64", "--jobs", "1", "--quiet"])
    loaded, compiled = warmup.kernel_keys()
    print("quiet wrote", repr(written.getvalue()))
    print("again compiled", len(compiled), "loaded", len(loaded))
    before = in_memory()
    exec(MLP_STEPS)
    exec(CNN_STEP)
    after_scripts = in_memory()
    x32 = sorix.tensor(np.linspace(-1, 1, 5, dtype=np.float32), requires_grad=True)
    x32.tanh().sum().backward()
    print("scripts added", len(after_scripts - before))
    print("float32 added", len(in_memory() - after_scripts))
""")


def _run(args, cache_dir, **env):
    full = python_env(drop=("SORIX_QUIET",), NUMBA_CACHE_DIR=str(cache_dir), **env)
    return subprocess.run([sys.executable] + args, env=full, capture_output=True, text=True,
                          check=True, timeout=900)


def _compiles(out):
    return int(re.search(r"compiles (\d+)", out.stdout).group(1))


def test_note_once_on_a_cold_cache_then_never(tmp_path):
    first = _run(["-c", SMALL_SCRIPT], tmp_path)
    assert first.stderr.count(NOTE) == 1, first.stderr  # once, however many kernels compile
    assert _compiles(first) > 1
    second = _run(["-c", SMALL_SCRIPT], tmp_path)
    assert NOTE not in second.stderr and _compiles(second) == 0


def test_sorix_quiet_silences_the_note(tmp_path):
    out = _run(["-c", SMALL_SCRIPT], tmp_path, SORIX_QUIET="1")
    assert NOTE not in out.stderr and _compiles(out) > 1  # compiled, silently


def test_other_numba_code_does_not_trigger_the_note(tmp_path):
    code = textwrap.dedent("""
        import sorix, numba
        from sorix.kernels import build, compile_note  # the listener is installed
        numba.njit(lambda x: x + 1)(1)
        print("compiles", compile_note.compiles)
    """)
    out = _run(["-c", code], tmp_path)
    assert NOTE not in out.stderr and _compiles(out) == 0


def _warmup_summary(out):
    summary = re.fullmatch(r"sorix warmup: (\d+) kernels compiled, (\d+) loaded from the cache, "
                           r"in [\d.]+ s\n", out.stdout)
    assert summary, out.stdout
    return int(summary.group(1)), int(summary.group(2))


def test_warmup_fills_the_cache_and_covers_a_training_script(tmp_path):
    # On the suite's own cache, where what it compiles serves the other tests (on an
    # empty cache it compiles for a minute; the note's tests above start from one)
    suite = suite_kernel_cache() or str(tmp_path / "suite")
    # two processes side by side; each kernel is counted once, compiled or loaded
    first = _run(["-m", "sorix.warmup", "--dtypes", "float64", "--jobs", "2"], suite)
    compiled, loaded = _warmup_summary(first)
    total = compiled + loaded
    assert total > 50
    assert "sorix warmup [" in first.stderr and "12/12" in first.stderr
    assert NOTE not in first.stderr  # the progress bar says it instead
    code = "MLP_STEPS = %r\nCNN_STEP = %r\n" % (MLP_STEPS, CNN_STEP) + COVERAGE
    coverage = _run(["-c", code], suite)
    # --quiet prints nothing, and one process then finds every kernel on the disk
    # (processes of other tests writing to the same cache meanwhile drop no entry: the
    # index is rewritten under a lock)
    assert "quiet wrote ''\n" in coverage.stdout, coverage.stdout
    assert f"again compiled 0 loaded {total}\n" in coverage.stdout, coverage.stdout
    # A training script needs no kernel the warm-up did not make or load. Counted in
    # memory, so that the check holds on a cache that other runs filled as well; the
    # float32 op after them shows that it sees a kernel the warm-up left out.
    assert "scripts added 0\n" in coverage.stdout, coverage.stdout
    assert int(re.search(r"float32 added (\d+)", coverage.stdout).group(1)) > 0


@pytest.mark.parametrize("args, message", [(["--dtypes", "float16"], "unknown dtype"),
                                           (["--jobs", "0"], "--jobs must be at least 1")])
def test_warmup_refuses_bad_arguments(tmp_path, args, message):
    with pytest.raises(subprocess.CalledProcessError) as info:
        _run(["-m", "sorix.warmup"] + args, tmp_path)
    assert message in info.value.stderr
