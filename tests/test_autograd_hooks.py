"""Post-accumulate gradient hooks and end-of-backward callbacks (sorix.autograd.hooks).

A hook must run once per backward pass, after the leaf's last contribution
arrived, and see the final ``.grad``: checked against closed-form gradients.
"""
import gc

import numpy as np
import pytest

import sorix
from sorix import tensor
from sorix.autograd import Node, hooks

from conftest import leaf64


def recorder(events, name):
    """A hook that records (name, a copy of the leaf's gradient when it ran)."""
    def hook(t):
        events.append((name, t.grad.data.copy()))
    return hook


@pytest.fixture(autouse=True)
def no_hooks_left_behind():
    yield
    if hooks.registry:  # (a full collection in a worker that ran many tests costs seconds)
        gc.collect()
    assert not hooks.registry, "a test left hooks registered"


def test_hook_runs_once_after_every_contribution_of_a_leaf_used_many_times():
    x, y = leaf64([1.0, -2.0, 3.0]), leaf64([0.5, 4.0, -1.0])
    events = []
    hx = x.register_post_accumulate_grad_hook(recorder(events, "x"))
    hy = y.register_post_accumulate_grad_hook(recorder(events, "y"))
    # loss = sum(x*x + x*y + 3x): d/dx = 2x + y + 3, d/dy = x
    loss = (x * x + x * y + x * 3.0).sum()
    loss.backward()
    names = [n for n, _ in events]
    assert sorted(names) == ["x", "y"]
    got = dict(events)
    np.testing.assert_allclose(got["x"], 2 * x.data + y.data + 3)
    np.testing.assert_allclose(got["y"], x.data)
    hx.remove()
    hy.remove()


def test_hook_sees_the_gradient_accumulated_over_earlier_backwards():
    x = leaf64([2.0, -1.0])
    events = []
    handle = x.register_post_accumulate_grad_hook(recorder(events, "x"))
    y = (x * x).sum()  # dy/dx = 2x
    y.backward(retain_graph=True)
    y.backward()
    assert len(events) == 2
    np.testing.assert_allclose(events[0][1], 2 * x.data)
    np.testing.assert_allclose(events[1][1], 4 * x.data)
    handle.remove()


def test_hooks_fire_near_the_loss_first_while_backward_is_still_running():
    # the last layer's weight is final before the first layer's: its hook comes first
    w1, w2 = leaf64([[1.5]]), leaf64([[-0.5]])
    events = []
    handles = [w1.register_post_accumulate_grad_hook(recorder(events, "w1")),
               w2.register_post_accumulate_grad_hook(recorder(events, "w2"))]
    x = tensor(np.array([[2.0]]))
    loss = ((x @ w1).tanh() @ w2).sum()
    loss.backward()
    assert [n for n, _ in events] == ["w2", "w1"]
    h = np.tanh(2.0 * 1.5)
    np.testing.assert_allclose(events[0][1], [[h]])
    np.testing.assert_allclose(events[1][1], [[2.0 * (1 - h * h) * -0.5]])
    for handle in handles:
        handle.remove()


def test_hook_in_a_fused_elementwise_region_runs_once_with_the_full_gradient(monkeypatch):
    # a leaf feeding a fused region twice arrives with two edges at once
    monkeypatch.setattr(sorix.config, "FUSION_THRESHOLD", 4)
    rng = np.random.default_rng(0)
    x = tensor(rng.uniform(0.5, 1.5, 64), requires_grad=True)
    events = []
    handle = x.register_post_accumulate_grad_hook(recorder(events, "x"))
    y = (x * x).exp() * x   # dy/dx = exp(x^2) (2x^2 + 1)
    y.sum().backward()
    assert len(events) == 1
    xv = x.data
    np.testing.assert_allclose(events[0][1], np.exp(xv * xv) * (2 * xv * xv + 1), rtol=1e-12)
    handle.remove()


class _NoGradientNode(Node):
    """An op whose backward gives its input no gradient (as integer-valued ops do)."""

    def backward(self, grad, F, saved):
        return (None,)


def test_no_hook_when_every_edge_into_the_leaf_carried_nothing():
    x, y = leaf64([1.0, 2.0]), leaf64([3.0, 4.0])
    events = []
    hx = x.register_post_accumulate_grad_hook(recorder(events, "x"))
    hy = y.register_post_accumulate_grad_hook(recorder(events, "y"))
    blocked = sorix.Tensor._wrap(x.data.copy(), _NoGradientNode((x,)))
    (blocked * y).sum().backward()  # d/dy = x; x gets nothing
    assert [n for n, _ in events] == ["y"]
    assert x.grad is None
    np.testing.assert_allclose(events[0][1], x.data)
    # x used once directly and once through the blocked edge: one call, gradient y
    events.clear()
    x.grad = None
    blocked = sorix.Tensor._wrap(x.data.copy(), _NoGradientNode((x,)))
    (x * y + blocked).sum().backward()
    assert [n for n, _ in events] == ["x", "y"] or [n for n, _ in events] == ["y", "x"]
    np.testing.assert_allclose(dict(events)["x"], y.data)
    hx.remove()
    hy.remove()


def test_hook_on_a_root_leaf_and_with_backward_inputs():
    x = leaf64([1.0, 2.0])
    events = []
    handle = x.register_post_accumulate_grad_hook(recorder(events, "x"))
    x.backward(tensor(np.array([0.5, 0.25])))
    np.testing.assert_allclose(events[-1][1], [0.5, 0.25])
    x.grad = None
    y = leaf64([3.0, 5.0])
    (x * y).sum().backward(inputs=[x])  # accumulates into x only
    assert len(events) == 2
    np.testing.assert_allclose(events[-1][1], y.data)
    assert y.grad is None
    handle.remove()


def test_autograd_grad_does_not_accumulate_and_so_runs_no_hook():
    x = leaf64([1.0, 2.0])
    events = []
    handle = x.register_post_accumulate_grad_hook(recorder(events, "x"))
    (g,) = sorix.autograd.grad((x * x).sum(), x)
    np.testing.assert_allclose(g.data, 2 * x.data)
    assert events == [] and x.grad is None
    handle.remove()


def test_hook_under_create_graph_sees_a_differentiable_gradient():
    x = leaf64([3.0])
    seen = []
    handle = x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad))
    (x * x * x).sum().backward(create_graph=True)  # grad 3x^2 = 27, with a graph
    assert len(seen) == 1 and seen[0].grad_fn is not None
    np.testing.assert_allclose(seen[0].data, [27.0])
    handle.remove()


def test_removed_hooks_stop_and_collected_tensors_drop_theirs():
    x = leaf64([1.0])
    events = []
    first = x.register_post_accumulate_grad_hook(recorder(events, "first"))
    second = x.register_post_accumulate_grad_hook(recorder(events, "second"))
    (x * 2.0).sum().backward()
    assert [n for n, _ in events] == ["first", "second"]  # registration order
    first.remove()
    first.remove()  # idempotent
    (x * 2.0).sum().backward()
    assert [n for n, _ in events[2:]] == ["second"]
    with second:
        pass  # a handle is also a context manager that removes on exit
    assert not hooks.registry
    y = leaf64([1.0])
    y.register_post_accumulate_grad_hook(lambda t: None)
    assert hooks.registry
    del y
    gc.collect()
    assert not hooks.registry


def test_registration_errors_name_the_problem():
    x = leaf64([1.0])
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2.0).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="does not require grad"):
        tensor([1.0]).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(TypeError, match="callable"):
        x.register_post_accumulate_grad_hook(3)
    assert not hooks.registry


# ---- callbacks at the end of a backward --------------------------------------------------

def test_queued_callback_runs_after_every_hook_and_may_queue_another():
    x, y = leaf64([1.0, 2.0]), leaf64([3.0, 4.0])
    events = []

    def later():
        events.append(("callback", x.grad.data.copy() + y.grad.data))
        hooks.queue_callback(lambda: events.append(("second callback", None)))

    def hook(t):
        events.append(("hook", None))
        if len(events) == 1:
            hooks.queue_callback(later)

    handles = [x.register_post_accumulate_grad_hook(hook),
               y.register_post_accumulate_grad_hook(hook)]
    (x * y).sum().backward()  # grads y and x
    assert [n for n, _ in events] == ["hook", "hook", "callback", "second callback"]
    np.testing.assert_allclose(events[2][1], y.data + x.data)
    for h in handles:
        h.remove()


def test_queue_callback_outside_backward_and_after_a_failed_backward():
    with pytest.raises(RuntimeError, match="while a backward pass runs"):
        hooks.queue_callback(lambda: None)
    x = leaf64([1.0])
    ran = []

    def failing_hook(t):
        hooks.queue_callback(lambda: ran.append(True))
        raise ValueError("hook failed")

    handle = x.register_post_accumulate_grad_hook(failing_hook)
    with pytest.raises(ValueError, match="hook failed"):
        (x * 2.0).sum().backward()
    assert ran == []  # the pass did not complete: its callbacks are dropped
    with pytest.raises(RuntimeError, match="while a backward pass runs"):
        hooks.queue_callback(lambda: None)
    handle.remove()


def test_grad_mode_is_restored_when_callbacks_run():
    x = leaf64([1.0])
    modes = []
    handle = x.register_post_accumulate_grad_hook(
        lambda t: hooks.queue_callback(lambda: modes.append(sorix.is_grad_enabled())))
    (x * 2.0).sum().backward()
    assert modes == [True]
    handle.remove()
