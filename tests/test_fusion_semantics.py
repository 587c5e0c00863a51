"""Autograd semantics with backward fusion on: retain_graph, freed graphs, in-place
changes, retained gradients, autograd.grad inputs, gradients arriving from outside a
region, accumulation, the caller's arrays, and the disk cache of generated loops."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import sorix
from sorix import config
from sorix.kernels import cache as kernel_cache
from sorix.kernels import fused

from conftest import python_env
from fusion_helpers import (assert_close, chain, check_references, fused_vs_unfused,
                            set_fusion)
from fusion_helpers import spy  # noqa: F401  (a fixture)


# ---- 4. autograd semantics with fusion on -----------------------------------------------

@pytest.fixture
def chain_data():
    rng = np.random.default_rng(7)
    return rng.uniform(-2, 2, (3, 4)), rng.uniform(-1.5, 1.5, (3, 4))


def chain_closed_form(x, w):
    t = np.tanh(x)
    s = 1 / (1 + np.exp(-t * w))
    return s * (1 - s) * w * (1 - t * t) + 2 * x, s * (1 - s) * t


def test_retain_graph_second_backward_doubles(monkeypatch, spy, chain_data):
    set_fusion(monkeypatch, True)
    x = sorix.tensor(chain_data[0], requires_grad=True)
    w = sorix.tensor(chain_data[1], requires_grad=True)
    y = chain(x, w)
    y.backward(retain_graph=True)
    first_x, first_w = x.grad.data.copy(), w.grad.data.copy()
    y.backward()
    assert len(spy) == 2 and spy[0] == spy[1]
    ex, ew = chain_closed_form(*chain_data)
    assert_close(first_x, ex, 1e-12)
    assert_close(first_w, ew, 1e-12)
    assert_close(x.grad.data, 2 * ex, 1e-12)
    assert_close(w.grad.data, 2 * ew, 1e-12)


@pytest.mark.parametrize("on", [False, True], ids=["unfused", "fused"])
def test_second_backward_through_freed_graph_raises(on, monkeypatch, spy, chain_data):
    set_fusion(monkeypatch, on)
    x = sorix.tensor(chain_data[0], requires_grad=True)
    w = sorix.tensor(chain_data[1], requires_grad=True)
    y = chain(x, w)
    y.backward()
    assert len(spy) == int(on)
    with pytest.raises(RuntimeError, match="freed graph"):
        y.backward()
    # the first result is intact: no partial second pass reached the leaves
    ex, ew = chain_closed_form(*chain_data)
    assert_close(x.grad.data, ex, 1e-12)
    assert_close(w.grad.data, ew, 1e-12)


def test_inplace_change_of_saved_constant_raises(monkeypatch, spy, chain_data):
    set_fusion(monkeypatch, True)
    x = sorix.tensor(chain_data[0], requires_grad=True)
    w = sorix.tensor(chain_data[1])  # a constant the product saves
    y = chain(x, w)
    w.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_inplace_change_of_a_saved_output_raises(monkeypatch, spy):
    set_fusion(monkeypatch, True)
    x = sorix.tensor(np.linspace(0.1, 1.0, 6), requires_grad=True)
    y = x.exp()  # its derivative is its output
    z = (y + x.sin()).sum()  # (add saves nothing: only exp's own guard can see it)
    y.detach().fill_(0.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.backward()


def test_inplace_change_of_saved_leaf_under_no_grad_raises(monkeypatch, spy):
    set_fusion(monkeypatch, True)
    x = sorix.tensor(np.linspace(0.1, 1.0, 6), requires_grad=True)
    # (both derivatives read x: exp's reads only its output, so an x changed in place does
    # not stop it, as in PyTorch, and its part of the gradient could arrive before the error)
    y = (x.log() * x.sin()).sum()
    with sorix.no_grad():
        x.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()
    assert x.grad is None


@pytest.fixture
def fused_chain(monkeypatch, chain_data):
    """Fusion on; the chain's data and its two leaves."""
    set_fusion(monkeypatch, True)
    xv, wv = chain_data
    return xv, wv, sorix.tensor(xv, requires_grad=True), sorix.tensor(wv, requires_grad=True)


def grad_at_tanh(xv, wv):
    """d/dh of sum(sigmoid(h * w)) at h = tanh(x)."""
    sv = 1 / (1 + np.exp(-np.tanh(xv) * wv))
    return sv * (1 - sv) * wv


def test_retain_grad_on_intermediates(spy, fused_chain):
    xv, wv, x, w = fused_chain
    h = x.tanh()
    h.retain_grad()          # in the middle of the region
    p = h * w
    s = p.sigmoid()
    top = s + x * x
    top.retain_grad()        # the region's root
    top.sum().backward()
    assert_close(h.grad.data, grad_at_tanh(xv, wv), 1e-12, "h.grad")
    np.testing.assert_array_equal(top.grad.data, np.ones_like(xv))
    assert p.grad is None and s.grad is None
    ex, ew = chain_closed_form(xv, wv)
    assert_close(x.grad.data, ex, 1e-12)
    assert_close(w.grad.data, ew, 1e-12)
    assert spy, "the parts beside the retained tensor still fuse"
    assert all("TanhBackward" not in r[1:] for r in spy)


def test_autograd_grad_with_intermediate_input(spy, fused_chain):
    xv, wv, x, w = fused_chain
    h = x.tanh()
    y = ((h * w).sigmoid() + x * x).sum()
    gh, gx, gw = sorix.autograd.grad(y, [h, x, w])
    assert_close(gh.data, grad_at_tanh(xv, wv), 1e-12, "dy/dh")
    ex, ew = chain_closed_form(xv, wv)
    assert_close(gx.data, ex, 1e-12, "dy/dx")
    assert_close(gw.data, ew, 1e-12, "dy/dw")
    assert x.grad is None and w.grad is None and h.grad is None
    assert spy


def test_backward_inputs_intermediate(spy, fused_chain):
    xv, wv, x, w = fused_chain
    p = x.tanh() * w
    chain_top = (p.sigmoid() + x * x).sum()
    chain_top.backward(inputs=[p])
    sv = 1 / (1 + np.exp(-np.tanh(xv) * wv))
    assert_close(p.grad.data, sv * (1 - sv), 1e-12)
    assert x.grad is None and w.grad is None


def _branch_sum(h):
    return h.sum()


def _branch_sin(h):
    return (h.sin() * 2.0).sum()


def _branch_cos(h):
    return (h.cos() * 3.0).sum()


#: d/dx of each branch applied to h = exp(x)
_BRANCH_GRADS = {_branch_sum: lambda e: e, _branch_sin: lambda e: 2 * e * np.cos(e),
                 _branch_cos: lambda e: -3 * e * np.sin(e)}


@pytest.mark.parametrize("first, second", [
    (_branch_sum, _branch_sin), (_branch_sin, _branch_sum),
    (_branch_cos, _branch_sin), (_branch_sin, _branch_cos),
], ids=["sum+sin", "sin+sum", "cos+sin", "sin+cos"])
def test_intermediate_with_a_consumer_that_ran_before_the_region(first, second, monkeypatch, spy):
    """h = exp(x) feeds two separately summed branches. The branch that runs first has
    already handed h part of its gradient when the other branch's region could take h in;
    that part must not be lost (whatever the order of the branches)."""
    xv = np.linspace(0.1, 0.6, 6)

    def fn(x):
        h = x.exp()
        return first(h) + second(h)

    (gx,), regions = fused_vs_unfused(monkeypatch, spy, fn, [xv])
    assert ("MulBackward", "SinBackward") in regions or \
        ("MulBackward", "SinBackward", "ExpBackward") in regions
    e = np.exp(xv)
    assert_close(gx, _BRANCH_GRADS[first](e) + _BRANCH_GRADS[second](e), 1e-12, "closed form")
    check_references(fn, [xv], [gx])


def test_grad_of_several_outputs_where_one_feeds_another(monkeypatch, spy):
    """autograd.grad of two outputs, h = e^x and y = sin(2 h), where h also feeds y: both
    seeds count, d(sum(y) + sum(h))/dx = (2 cos(2 e^x) + 1) e^x."""
    xv = np.linspace(0.1, 0.6, 6)
    results = []
    for on in (False, True):
        set_fusion(monkeypatch, on)
        x = sorix.tensor(xv, requires_grad=True)
        h = x.exp()
        y = (h * 2.0).sin()
        (g,) = sorix.autograd.grad([y, h], [x], grad_outputs=[np.ones(6), np.ones(6)])
        results.append(g.data)
    expected = (2 * np.cos(2 * np.exp(xv)) + 1) * np.exp(xv)
    assert_close(results[0], expected, 1e-12, "unfused")
    assert_close(results[1], expected, 1e-12, "fused")


def test_create_graph_second_derivatives_skip_fusion(monkeypatch, spy):
    set_fusion(monkeypatch, True)
    xv = np.linspace(-1.0, 1.5, 6)
    x = sorix.tensor(xv, requires_grad=True)
    (x.sin() * x.exp()).sum().backward(create_graph=True)
    assert spy == []  # create_graph backward never fuses
    assert x.grad.requires_grad
    assert_close(x.grad.data, np.exp(xv) * (np.sin(xv) + np.cos(xv)), 1e-12, "first")
    (g2,) = sorix.autograd.grad(x.grad.sum(), x)
    assert_close(g2.data, 2 * np.exp(xv) * np.cos(xv), 1e-12, "second")
    assert spy, "the plain backward through the derivative graph fuses"


# ---- 5. accumulation and the caller's arrays ----------------------------------------------

def test_leaf_grads_accumulate_and_inputs_stay_untouched(monkeypatch, spy, chain_data):
    set_fusion(monkeypatch, True)
    xv, wv = chain_data
    x_keep, w_keep = xv.copy(), wv.copy()
    x = sorix.tensor(xv, requires_grad=True)
    w = sorix.tensor(wv, requires_grad=True)
    chain(x, w).backward()
    first = x.grad
    chain(x, w).backward()
    assert len(spy) == 2
    ex, ew = chain_closed_form(x_keep, w_keep)
    assert_close(x.grad.data, 2 * ex, 1e-12)
    assert_close(w.grad.data, 2 * ew, 1e-12)
    assert first is x.grad  # accumulated in place, as without fusion
    np.testing.assert_array_equal(xv, x_keep)
    np.testing.assert_array_equal(wv, w_keep)
    assert not np.shares_memory(x.grad.data, w.grad.data)


def test_two_leaves_of_one_add_get_separate_arrays(monkeypatch, spy):
    set_fusion(monkeypatch, True)
    a = sorix.tensor(np.linspace(-1, 1, 5), requires_grad=True)
    b = sorix.tensor(np.linspace(0, 2, 5), requires_grad=True)
    ((a + b) * 1.0).exp().sum().backward()
    assert len(spy) == 1
    expected = np.exp(a.data + b.data)
    a.grad.data += 10.0
    assert_close(b.grad.data, expected, 1e-12)


# ---- 6. disk cache ------------------------------------------------------------------------

PROBE = textwrap.dedent("""
    import json, os
    import numpy as np
    import sorix
    from sorix.kernels import fused
    x = sorix.tensor(np.linspace(-1.0, 1.0, 6, dtype=np.float32), requires_grad=True)
    (x.tanh() * x).sum().backward()
    hits = misses = 0
    for k in fused._compiled.values():
        hits += sum(k.stats.cache_hits.values())
        misses += sum(k.stats.cache_misses.values())
    folder = os.path.join(os.environ["NUMBA_CACHE_DIR"], "sorix_fused")
    print(json.dumps({"hits": hits, "misses": misses, "kernels": len(fused._compiled),
                      "files": sorted(os.listdir(folder)), "grad": x.grad.data.tolist()}))
""")


def _run_probe(cache_dir):
    env = python_env(NUMBA_CACHE_DIR=str(cache_dir),
               SORIX_FUSION_THRESHOLD="1", SORIX_KERNEL_CACHE="1")
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_loads_the_fused_kernel(tmp_path):
    first = _run_probe(tmp_path)
    assert first["kernels"] == 1
    assert first["misses"] == 1 and first["hits"] == 0
    sources = [f for f in first["files"] if f.endswith(".py")]
    assert len(sources) == 1 and sources[0].startswith("fused_")
    with open(tmp_path / "sorix_fused" / sources[0]) as f:
        assert f"def {sources[0][:-3]}(" in f.read()
    second = _run_probe(tmp_path)
    assert second["kernels"] == 1
    assert second["misses"] == 0 and second["hits"] >= 1
    assert second["files"] == first["files"]
    assert second["grad"] == first["grad"]
    x = np.linspace(-1.0, 1.0, 6, dtype=np.float32).astype(np.float64)
    np.testing.assert_allclose(first["grad"], np.tanh(x) + x * (1 - np.tanh(x) ** 2), rtol=2e-6)


# ---- 7. no writable folder -----------------------------------------------------------------

def test_unwritable_source_folder_compiles_without_cache(tmp_path, monkeypatch, spy):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(fused, "_source_dir", lambda: str(blocker / "sorix_fused"))
    monkeypatch.setattr(kernel_cache, "_saving", True)
    monkeypatch.setattr(kernel_cache, "_warned", set())
    monkeypatch.setattr(fused, "_compiled", {})
    monkeypatch.setattr(config, "CACHE_KERNELS", True)
    set_fusion(monkeypatch, True)
    xv = np.linspace(-1.0, 1.0, 6)
    x = sorix.tensor(xv, requires_grad=True)
    with pytest.warns(RuntimeWarning, match="could not save compiled kernels"):
        (x.tanh() * x).sum().backward()
    assert len(spy) == 1 and len(fused._compiled) == 1
    assert kernel_cache.saving() is False
    assert_close(x.grad.data, np.tanh(xv) + xv * (1 - np.tanh(xv) ** 2), 1e-12)
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("threshold", [0, -1, 1])
def test_empty_tensors_and_threshold_zero_or_below(threshold, monkeypatch, spy):
    # 0 or less turns fusion off at run time as in the environment; empty gradients
    # never reach a fused loop.
    monkeypatch.setattr(config, "FUSION_THRESHOLD", threshold)
    x = sorix.tensor(np.zeros(0), requires_grad=True)
    (x.exp() * x).sum().backward()
    assert x.grad.shape == (0,) and spy == []
    y = sorix.tensor(np.full(4, 0.5), requires_grad=True)
    (y.exp() * y).sum().backward()
    assert_close(y.grad.data, np.exp(0.5) * 1.5 * np.ones(4), 1e-12)
    assert bool(spy) == (threshold == 1)
