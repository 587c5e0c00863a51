"""The GPU kernels' disk cache: a second process loads them, and damaged entries are
removed and recompiled. Needs a real GPU (the simulator has no cache): runs with
``SORIX_TEST_CUDA=gpu``, skipped otherwise."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import ROOT, python_env

if os.environ.get("SORIX_TEST_CUDA", "sim") != "gpu":
    pytest.skip("needs a GPU: set SORIX_TEST_CUDA=gpu", allow_module_level=True)

PROBE = textwrap.dedent("""
    import json, warnings
    import numpy as np
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import sorix
        from sorix.kernels.cuda import build
        x = sorix.tensor(np.linspace(-1.0, 1.0, 1000, dtype=np.float32), device="cuda",
                         requires_grad=True)
        loss = (x.tanh() * x).sum()
        loss.backward()
        grad = x.grad.cpu().data.tolist()
    hits = sum(sum(k.compiled.stats.cache_hits.values()) for k in build._kernels.values())
    misses = sum(sum(k.compiled.stats.cache_misses.values()) for k in build._kernels.values())
    print(json.dumps({"hits": hits, "misses": misses, "grad": grad,
                      "warnings": [str(w.message) for w in caught
                                   if "sorix" in str(w.message)]}))
""")


def _run(cache):
    # the parent's import path too: packages installed beside the checkout stay importable
    env = python_env(drop=("NUMBA_", "SORIX_"), NUMBA_CACHE_DIR=str(cache),
                     PYTHONPATH=os.pathsep.join([ROOT] + [p for p in sys.path if p]))
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=600)
    if "CudaSupportError" in done.stderr or "no CUDA" in done.stderr:
        pytest.skip("no usable CUDA GPU")
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_gpu_kernels_load_from_disk_and_repair_damage(tmp_path):
    cache = tmp_path / "cache"
    first = _run(cache)
    assert first["misses"] > 0 and first["hits"] == 0 and first["warnings"] == []
    x = np.linspace(-1.0, 1.0, 1000, dtype=np.float32).astype(np.float64)
    np.testing.assert_allclose(first["grad"], np.tanh(x) + x * (1 - np.tanh(x) ** 2),
                               rtol=1e-5, atol=1e-6)
    second = _run(cache)
    assert second["misses"] == 0 and second["hits"] == first["misses"]
    assert second["grad"] == first["grad"]
    damaged = 0
    for folder, _, names in os.walk(cache):
        for name in names:
            if "cuda__" in name and name.endswith((".nbi", ".nbc")):
                path = os.path.join(folder, name)
                with open(path, "r+b") as f:
                    f.truncate(os.path.getsize(path) // 2)
                damaged += 1
    assert damaged > 0
    repaired = _run(cache)
    assert repaired["grad"] == first["grad"] and repaired["misses"] > 0
    assert len(repaired["warnings"]) == 1 and "damaged" in repaired["warnings"][0]
    again = _run(cache)
    assert again["misses"] == 0 and again["warnings"] == []
