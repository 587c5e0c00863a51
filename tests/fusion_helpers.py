"""Shared by the fusion tests: run a graph fused and unfused, references, a spy on
which regions fused."""
import numpy as np
import pytest

import sorix
from sorix import config
from sorix.autograd import fusion

from conftest import finite_differences

try:
    import torch
except ImportError:  # the torch comparisons are skipped
    torch = None

#: fused against unfused: the same scalar formulas, only additions may be reordered
RTOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}


# ---- helpers ------------------------------------------------------------------------

@pytest.fixture
def spy(monkeypatch):
    """The regions that ran fused, each as the tuple of its nodes' names (root first)."""
    regions = []
    real = fusion.run

    def run(members, grad):
        regions.append(tuple(node.name for node, _ in members))
        return real(members, grad)

    monkeypatch.setattr(fusion, "run", run)
    return regions


def set_fusion(monkeypatch, on):
    monkeypatch.setattr(config, "FUSION_THRESHOLD", 1 if on else 0)


def assert_close(actual, expected, rtol, what=""):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} vs {expected.shape}"
    scale = max(1.0, float(np.nanmax(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, equal_nan=True,
                               err_msg=what)


def backprop(fn, arrays, requires=None):
    """Leaf gradients (arrays, None where a leaf got none) of ``fn(*leaves).backward()``."""
    requires = requires or [True] * len(arrays)
    leaves = [sorix.tensor(a, requires_grad=r) for a, r in zip(arrays, requires)]
    fn(*leaves).backward()
    return [None if t.grad is None else t.grad.data.copy() for t in leaves]


def fused_vs_unfused(monkeypatch, spy, fn, arrays, requires=None, expect_fused=True):
    """Run ``fn`` unfused and fused; assert equal leaf gradients and (``expect_fused``)
    that something fused. Returns the fused gradients and the regions that ran."""
    set_fusion(monkeypatch, False)
    reference = backprop(fn, arrays, requires)
    assert spy == [], "a region was fused with fusion turned off"
    set_fusion(monkeypatch, True)
    got = backprop(fn, arrays, requires)
    regions = list(spy)
    assert regions or not expect_fused, "nothing was fused"
    spy.clear()
    rtol = RTOL[np.dtype(arrays[0].dtype)]
    for k, (g, r) in enumerate(zip(got, reference)):
        assert (g is None) == (r is None), f"leaf {k}: fused {g}, unfused {r}"
        if g is not None:
            assert g.dtype == r.dtype == arrays[k].dtype
            assert_close(g, r, rtol, f"leaf {k}: fused vs unfused")
    return got, regions


def torch_grads(fn, arrays, requires=None):
    requires = requires or [True] * len(arrays)
    leaves = [torch.tensor(a, requires_grad=r) for a, r in zip(arrays, requires)]
    fn(*leaves).backward()
    return [None if t.grad is None else t.grad.numpy() for t in leaves]


def leaky(t, slope):
    if isinstance(t, sorix.Tensor):
        return t.leaky_relu(slope)
    return torch.nn.functional.leaky_relu(t, slope)


def check_references(fn, arrays, got, requires=None, torch_fn=None):
    """``got`` (fused float64 gradients) against finite differences and PyTorch."""
    requires = requires or [True] * len(arrays)
    for k, (g, fd) in enumerate(zip(got, finite_differences(fn, arrays))):
        if requires[k]:
            assert_close(g, fd, 1e-7, f"leaf {k}: fused vs finite differences")
    if torch is not None:
        for k, (g, t) in enumerate(zip(got, torch_grads(torch_fn or fn, arrays, requires))):
            if requires[k]:
                assert_close(g, t, 1e-12, f"leaf {k}: fused vs torch")


def away_from(values, points, gap=0.05):
    """``values`` moved off ``points`` (kinks), so finite differences are meaningful."""
    values = np.array(values)
    for p in points:
        near = np.abs(values - p) < gap
        values[near] = p + np.where(values[near] >= p, gap, -gap)
    return values


def chain(x, w):
    """The reference chain of the performance targets."""
    return ((x.tanh() * w).sigmoid() + x * x).sum()
