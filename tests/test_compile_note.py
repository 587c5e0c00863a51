"""The first-compile note and ``python -m sorix.warmup``, each in fresh processes with
their own kernel cache folder."""
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import python_env

NOTE = "sorix: compiling kernels on first use; they are cached for later runs"

SCRIPT = textwrap.dedent("""
    import numpy as np
    import sorix
    from sorix import nn, optim
    from sorix.kernels import compile_note
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
    print("compiles", compile_note.compiles)
""")


#: a small CNN's training step, for the warm-up's convolution kernels
CNN_SCRIPT = textwrap.dedent("""
    import numpy as np
    import sorix
    from sorix import nn, optim
    from sorix.kernels import compile_note
    sorix.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(16, 3))
    model.to(dtype=sorix.float64)
    opt = optim.Adam(model.parameters())
    x = sorix.randn(3, 1, 8, 8, dtype=sorix.float64)
    loss = nn.CrossEntropyLoss()(model(x), sorix.tensor([0, 1, 2]))
    loss.backward()
    opt.step()
    print("compiles", compile_note.compiles)
""")


def _run(args, cache_dir, **env):
    full = python_env(drop=("SORIX_QUIET",), NUMBA_CACHE_DIR=str(cache_dir), **env)
    return subprocess.run([sys.executable] + args, env=full, capture_output=True, text=True,
                          check=True, timeout=900)


def _compiles(out):
    return int(re.search(r"compiles (\d+)", out.stdout).group(1))


def test_note_once_on_a_cold_cache_then_never(tmp_path):
    first = _run(["-c", SCRIPT], tmp_path)
    assert first.stderr.count(NOTE) == 1, first.stderr  # once, however many kernels compile
    assert _compiles(first) > 1
    second = _run(["-c", SCRIPT], tmp_path)
    assert NOTE not in second.stderr and _compiles(second) == 0


def test_sorix_quiet_silences_the_note(tmp_path):
    out = _run(["-c", SCRIPT], tmp_path, SORIX_QUIET="1")
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


def test_warmup_compiles_once_and_later_processes_compile_nothing(tmp_path):
    # two processes compile side by side; each kernel is counted once
    first = _run(["-m", "sorix.warmup", "--dtypes", "float64", "--jobs", "2"], tmp_path)
    summary = re.fullmatch(r"sorix warmup: (\d+) kernels compiled, (\d+) loaded from the cache, "
                           r"in [\d.]+ s\n", first.stdout)
    assert summary, first.stdout
    compiled, loaded = int(summary.group(1)), int(summary.group(2))
    assert compiled > 50 and loaded == 0
    assert "sorix warmup [" in first.stderr and "12/12" in first.stderr
    assert NOTE not in first.stderr  # the progress bar says it instead
    # one process finds exactly what the two wrote
    again = _run(["-m", "sorix.warmup", "--dtypes", "float64", "--jobs", "1"], tmp_path)
    assert again.stdout.startswith(f"sorix warmup: 0 kernels compiled, {compiled} loaded")
    for code in (SCRIPT, CNN_SCRIPT):
        script = _run(["-c", code], tmp_path)
        assert NOTE not in script.stderr and _compiles(script) == 0
    quiet = _run(["-m", "sorix.warmup", "--dtypes", "float64", "--quiet"], tmp_path)
    assert quiet.stdout == "" and quiet.stderr == ""


@pytest.mark.parametrize("args, message", [(["--dtypes", "float16"], "unknown dtype"),
                                           (["--jobs", "0"], "--jobs must be at least 1")])
def test_warmup_refuses_bad_arguments(tmp_path, args, message):
    with pytest.raises(subprocess.CalledProcessError) as info:
        _run(["-m", "sorix.warmup"] + args, tmp_path)
    assert message in info.value.stderr
