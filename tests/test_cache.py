"""Kernels compile lazily, load from the disk cache in a new process, and
fall back to compiling in memory when no cache location is writable."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import python_env

PROBE = textwrap.dedent("""
    import json, sys
    import numpy as np
    import sorix
    assert "numba" not in sys.modules, "import sorix must not import numba"
    from sorix.kernels import build
    x = sorix.tensor(np.linspace(0.1, 1.0, 5, dtype=np.float32), requires_grad=True)
    (x.tanh() * x).sum().backward()
    hits = misses = 0
    for k in build._kernel_cache.values():
        hits += sum(k.stats.cache_hits.values())
        misses += sum(k.stats.cache_misses.values())
    print(json.dumps({"hits": hits, "misses": misses, "kernels": len(build._kernel_cache),
                      "grad": x.grad.data.tolist()}))
""")


def _run_probe(cache_dir):
    out = subprocess.run([sys.executable, "-c", PROBE], env=python_env(NUMBA_CACHE_DIR=str(cache_dir)), capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_loads_kernels_instead_of_compiling(tmp_path):
    first = _run_probe(tmp_path)
    assert first["kernels"] >= 3 and first["hits"] == 0 and first["misses"] == first["kernels"]
    files = sorted(os.listdir(next(p for p, _, f in os.walk(tmp_path) if f)))
    second = _run_probe(tmp_path)
    assert second["misses"] == 0
    assert second["hits"] == second["kernels"] == first["kernels"]
    assert second["grad"] == first["grad"]
    # loading must not grow the cache (a closure-captured kernel would)
    assert sorted(os.listdir(next(p for p, _, f in os.walk(tmp_path) if f))) == files
    x = np.linspace(0.1, 1.0, 5, dtype=np.float32)
    expected = np.tanh(x) + x * (1 - np.tanh(x) ** 2)
    np.testing.assert_allclose(first["grad"], expected, rtol=1e-6)


def test_no_writable_cache_location_falls_back_with_a_warning(tmp_path, monkeypatch):
    from numba.core import config as numba_config

    from sorix.kernels import build, cache
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(numba_config, "CACHE_DIR", str(blocker / "numba"))
    monkeypatch.setattr(cache, "user_folder", lambda: str(blocker / "user"))
    monkeypatch.setattr(cache, "_folder_decided", False)
    monkeypatch.setattr(cache, "_folder", None)
    monkeypatch.setattr(cache, "_warned", set())
    monkeypatch.setattr(build, "_kernel_cache", {})
    with pytest.warns(RuntimeWarning, match="compiled in memory"):
        k = build.kernel("unary0", "exp", {"F": build_defs().UNARY["exp"].forward},
                         np.float64, False)
    x = np.array([0.0, 1.0, -2.0])
    out = np.empty_like(x)
    k(x, out, np.zeros(0))
    np.testing.assert_allclose(out, np.exp(x), rtol=1e-15)
    assert cache.folder() is None and blocker.read_text() == "not a folder"


def build_defs():
    from sorix.kernels import defs
    return defs
