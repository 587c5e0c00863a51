"""The backward engine, grad mode, graph bookkeeping and the Tensor rules of API.md.

Expected values are closed forms worked out by hand.
"""
import gc
import threading

import numpy as np
import pytest

import sorix
from sorix import tensor

from conftest import leaf64


# ---- graph traversal -------------------------------------------------------------------

def test_chain_of_100000_ops_without_recursion_error():
    x0 = leaf64([1.0, 2.0])
    zero = tensor(np.zeros(2))
    half = tensor(np.full(2, 0.5))
    was_enabled = gc.isenabled()
    gc.disable()  # the collector rescanning a growing graph only costs time here
    try:
        x = x0 * half
        for _ in range(100_000):
            x = x + zero
        x = x * 4.0
        x.sum().backward()
        np.testing.assert_array_equal(x0.grad.data, [2.0, 2.0])
        del x
    finally:
        if was_enabled:
            gc.enable()


def test_long_chain_through_grad_and_mul():
    x0 = leaf64([3.0])
    x = x0
    for _ in range(5000):
        x = x * 1.0
    (g,) = sorix.autograd.grad(x.sum(), x0)
    np.testing.assert_array_equal(g.data, [1.0])


def test_retain_graph_twice_gives_twice_the_gradient():
    x = leaf64([1.0, -2.0, 3.0])
    h = x * x          # an intermediate in the middle of the retained graph
    y = (h * x).sum()  # sum(x^3): dy/dx = 3 x^2
    y.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.data, 3 * x.data ** 2)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * 3 * x.data ** 2)
    assert h.grad is None


def test_second_backward_through_freed_graph_raises():
    x = leaf64([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    # the first backward's result is intact, no partial second pass happened
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0])


def test_freed_graph_raises_even_deep_inside():
    x = leaf64([0.5])
    h = x.exp()
    y = h.sin().sum()
    y.backward()
    z = (h * 2.0).sum()  # a new graph that reuses the freed part
    with pytest.raises(RuntimeError, match="retain_graph"):
        z.backward()


def test_only_leaves_get_grad_unless_retained():
    x = leaf64([1.0, 2.0])
    h = x * 3.0
    k = h.exp()
    k.retain_grad()
    y = (k * h).sum()
    y.backward()
    assert h.grad is None
    assert not h.is_leaf and x.is_leaf
    # dy/dk = h;  dy/dx = 3 (k h' ... ) = 3 (exp(h) h + exp(h))
    np.testing.assert_allclose(k.grad.data, h.data)
    hx = 3 * x.data
    np.testing.assert_allclose(x.grad.data, 3 * (np.exp(hx) * hx + np.exp(hx)))


def test_retained_grad_accumulates_like_a_leaf():
    x = leaf64([1.0, 2.0])
    h = x * 2.0
    h.retain_grad()
    y = (h * h).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(h.grad.data, 2 * 2 * h.data)
    np.testing.assert_allclose(x.grad.data, 2 * 8 * x.data)


def test_shared_subgraph_sums_gradients():
    x = leaf64([0.5, 1.5])
    h = x * 2.0
    y = (h * h + h).sum()  # h used three times
    y.backward()
    np.testing.assert_allclose(x.grad.data, (2 * 2 * x.data + 1) * 2)


def test_diamond_graph():
    x = leaf64([0.3, -0.7])
    a = x.exp()
    y = (a.sin() * a.cos()).sum()  # = sum(sin(2a)/2): dy/dx = cos(2a) a
    y.backward()
    av = np.exp(x.data)
    np.testing.assert_allclose(x.grad.data, np.cos(2 * av) * av, rtol=1e-12)


def test_same_leaf_both_operands():
    x = leaf64([3.0])
    (x * x).backward()
    np.testing.assert_allclose(x.grad.data, [6.0])
    z = leaf64([3.0])
    (z + z).backward()
    np.testing.assert_allclose(z.grad.data, [2.0])


def test_gradients_accumulate_until_zeroed():
    x = leaf64([1.0, 2.0])
    for k in range(1, 4):
        (x * x).sum().backward()
        np.testing.assert_allclose(x.grad.data, k * 2 * x.data)
    x.grad.zero_()
    (x * 5.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, [5.0, 5.0])
    x.grad = None
    (x * 7.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, [7.0, 7.0])


def test_grad_of_leaf_is_not_aliased():
    """Two leaves fed by one add must not share one gradient array."""
    a, b = leaf64([1.0]), leaf64([2.0])
    (a + b).sum().backward()
    a.grad.data += 10
    np.testing.assert_array_equal(b.grad.data, [1.0])


def test_backward_with_explicit_gradient():
    x = leaf64([1.0, 2.0, 3.0])
    y = x * x
    y.backward(tensor([1.0, 0.5, -1.0], dtype=sorix.float64))
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0, -6.0])
    z = leaf64([1.0, 2.0])
    (z * 3.0).backward(np.array([2.0, 1.0]))
    np.testing.assert_allclose(z.grad.data, [6.0, 3.0])


def test_backward_on_0d_and_one_element_outputs():
    x = leaf64([[2.0]])
    (x * x).backward()  # one element: implicit gradient allowed
    np.testing.assert_allclose(x.grad.data, [[4.0]])


def test_partial_requires_grad_and_detach():
    x = leaf64([1.0, 2.0])
    w = tensor(np.array([3.0, 4.0]))
    (x * w + w).sum().backward()
    assert w.grad is None
    np.testing.assert_allclose(x.grad.data, [3.0, 4.0])
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.data, x.data)
    y = (x * d).sum()  # d is a constant
    x.grad = None
    y.backward()
    np.testing.assert_allclose(x.grad.data, [1.0, 2.0])


@pytest.mark.parametrize("shape_a, shape_b", [((3, 4), (4, 5)), ((4,), (4, 5)),
                                              ((3, 4), (4,)), ((2, 3, 4), (4, 5)),
                                              ((2, 3, 4), (2, 4, 5))])
def test_matmul_gradients_kept_by_leaves_stay_independent(shape_a, shape_b):
    """The leaves may keep matmul's fresh products as their .grad: a second backward adds
    into them in place and must change nothing else (not the other leaf's gradient, not
    the caller's output gradient)."""
    rng = np.random.default_rng(3)
    a_np, b_np = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    a, b = leaf64(a_np), leaf64(b_np)
    g_np = rng.standard_normal(np.matmul(a_np, b_np).shape)
    g_kept = g_np.copy()
    (a @ b).backward(g_np)
    first_a, first_b = a.grad.data.copy(), b.grad.data.copy()
    (a @ b).backward(g_np)
    np.testing.assert_array_equal(g_np, g_kept)
    np.testing.assert_allclose(a.grad.data, 2 * first_a)
    np.testing.assert_allclose(b.grad.data, 2 * first_b)
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a2 = a_np.reshape(1, -1) if a_np.ndim == 1 else a_np  # 1-D operands as matmul treats
    b2 = b_np.reshape(-1, 1) if b_np.ndim == 1 else b_np  # them: a row, a column
    g2 = g_np.reshape(np.matmul(a2, b2).shape)
    want_a = g2 @ np.swapaxes(b2, -1, -2)
    want_b = np.swapaxes(a2, -1, -2) @ g2
    if b_np.ndim == 2 and a_np.ndim == 3:  # one matrix used by every matrix of the stack
        want_b = want_b.sum(axis=0)
    np.testing.assert_allclose(first_a, want_a.reshape(a_np.shape))
    np.testing.assert_allclose(first_b, want_b.reshape(b_np.shape))


# ---- sorix.autograd.grad --------------------------------------------------------------

def test_grad_returns_tuple_and_leaves_dot_grad_untouched():
    x = leaf64([1.0, 2.0])
    w = leaf64([3.0, 4.0])
    x.grad = tensor(np.array([100.0, 100.0]))
    y = (x * w).sum()
    gx, gw = sorix.autograd.grad(y, [x, w])
    np.testing.assert_allclose(gx.data, [3.0, 4.0])
    np.testing.assert_allclose(gw.data, [1.0, 2.0])
    np.testing.assert_array_equal(x.grad.data, [100.0, 100.0])
    assert w.grad is None
    assert sorix.grad is sorix.autograd.grad


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "max_pool2d", "avg_pool2d",
                                  "adaptive_avg_pool2d", "nll_loss", "abs"])
def test_second_derivative_of_a_piecewise_linear_function_is_zero(name):
    """Its create_graph gradient is constant in x; it still hangs from x (as in PyTorch), so
    differentiating it again gives zeros instead of raising."""
    torch = pytest.importorskip("torch")
    F = sorix.nn.functional
    target = np.array([1, 0])
    calls = {
        "relu": lambda f, x: f.relu(x), "leaky_relu": lambda f, x: f.leaky_relu(x, 0.1),
        "max_pool2d": lambda f, x: f.max_pool2d(x, 2),
        "avg_pool2d": lambda f, x: f.avg_pool2d(x, 2),
        "adaptive_avg_pool2d": lambda f, x: f.adaptive_avg_pool2d(x, 1),
        "nll_loss": lambda f, x: f.nll_loss(x.reshape(2, 8), target),
        "abs": lambda f, x: x.abs(),
    }
    values = np.random.default_rng(5).standard_normal((2, 1, 2, 4))
    weights = np.random.default_rng(6).standard_normal(values.shape)
    results = []
    for lib, f, wrap, grad in (
            (sorix, F, lambda a: sorix.tensor(a, requires_grad=True), sorix.autograd.grad),
            (torch, torch.nn.functional, lambda a: torch.tensor(a, requires_grad=True),
             torch.autograd.grad)):
        if lib is torch:
            target = torch.tensor(target)
        x = wrap(values)
        (g,) = grad(calls[name](f, x).sum(), x, create_graph=True)
        if lib is sorix:
            assert g.requires_grad
        elif not g.requires_grad:  # (PyTorch's adaptive pooling: a constant gradient)
            results.append((g.detach().numpy(), np.zeros(values.shape)))
            continue
        (h,) = grad((g * (wrap(weights).detach())).sum(), x)
        results.append(tuple(t.detach().numpy(force=True) if lib is torch  # (a ZeroTensor)
                             else t.detach().numpy() for t in (g, h)))
    (g, h), (tg, th) = results
    np.testing.assert_allclose(g, tg, rtol=1e-12)
    np.testing.assert_array_equal(h, th)
    np.testing.assert_array_equal(h, 0)


def test_create_graph_gradient_of_leaky_relu_keeps_float64_slope():
    x = leaf64([-2.0, 3.0])
    (first,) = sorix.autograd.grad((sorix.nn.functional.leaky_relu(x, 0.01) * 3).sum(), x)
    (graphed,) = sorix.autograd.grad((sorix.nn.functional.leaky_relu(x, 0.01) * 3).sum(), x,
                                     create_graph=True)
    np.testing.assert_array_equal(graphed.data, first.data)
    np.testing.assert_array_equal(first.data, [0.03, 3.0])


def test_grad_with_grad_outputs():
    x = leaf64([1.0, 2.0, 3.0])
    y = x * x
    (g,) = sorix.autograd.grad(y, x, grad_outputs=tensor(np.array([1.0, -1.0, 0.5])))
    np.testing.assert_allclose(g.data, [2.0, -4.0, 3.0])
    # several outputs: their contributions add
    a = leaf64([2.0])
    (g,) = sorix.autograd.grad([a * 3.0, a * a], [a],
                               grad_outputs=[tensor(np.ones(1)), tensor(np.full(1, 2.0))])
    np.testing.assert_allclose(g.data, [3.0 + 2 * 2 * 2.0])


def test_grad_allow_unused():
    x, unused = leaf64([1.0]), leaf64([2.0])
    y = (x * 2.0).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        sorix.autograd.grad(y, [x, unused], retain_graph=True)
    gx, gu = sorix.autograd.grad(y, [x, unused], allow_unused=True)
    np.testing.assert_allclose(gx.data, [2.0])
    assert gu is None


def test_grad_with_respect_to_intermediate():
    x = leaf64([1.0, 2.0])
    h = x * 3.0
    y = (h * h).sum()
    gh, gx = sorix.autograd.grad(y, [h, x])
    np.testing.assert_allclose(gh.data, 2 * h.data)
    np.testing.assert_allclose(gx.data, 18 * x.data)
    assert h.grad is None and x.grad is None


def test_grad_non_scalar_needs_grad_outputs():
    x = leaf64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        sorix.autograd.grad(x * 2.0, x)


# ---- grad mode --------------------------------------------------------------------------

def test_no_grad_context_manager():
    x = leaf64([1.0])
    with sorix.no_grad():
        y = x * 2.0
        assert not sorix.is_grad_enabled()
    assert sorix.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert (x * 2.0).requires_grad


def test_no_grad_decorator():
    x = leaf64([1.0])

    @sorix.no_grad()
    def f(t):
        assert not sorix.is_grad_enabled()
        return t * 2.0

    assert not f(x).requires_grad
    assert sorix.is_grad_enabled()


def test_no_grad_restores_on_exception():
    with pytest.raises(ZeroDivisionError):
        with sorix.no_grad():
            1 / 0
    assert sorix.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = leaf64([1.0])
    with sorix.no_grad():
        with sorix.enable_grad():
            y = x * 2.0
        z = x * 2.0
    assert y.requires_grad and not z.requires_grad

    @sorix.enable_grad()
    def g(t):
        return t * 2.0

    with sorix.no_grad():
        assert g(x).requires_grad
        assert not sorix.is_grad_enabled()


def test_set_grad_enabled():
    x = leaf64([1.0])
    try:
        sorix.set_grad_enabled(False)
        assert not sorix.is_grad_enabled()
        assert not (x * 2.0).requires_grad
    finally:
        sorix.set_grad_enabled(True)
    assert sorix.is_grad_enabled()
    with sorix.set_grad_enabled(False):
        assert not (x * 2.0).requires_grad
    assert sorix.is_grad_enabled()
    with sorix.no_grad():
        with sorix.set_grad_enabled(True):
            assert (x * 2.0).requires_grad
        assert not sorix.is_grad_enabled()


def test_grad_mode_is_thread_local():
    x = leaf64([1.0])
    entered, release = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with sorix.no_grad():
            entered.set()
            release.wait(10)
            seen["worker_enabled"] = sorix.is_grad_enabled()
            seen["worker_requires_grad"] = (x * 2.0).requires_grad

    t = threading.Thread(target=worker)
    t.start()
    try:
        assert entered.wait(10)
        # the other thread is inside no_grad right now
        assert sorix.is_grad_enabled()
        assert (x * 2.0).requires_grad
    finally:
        release.set()
        t.join(10)
    assert seen == {"worker_enabled": False, "worker_requires_grad": False}
    assert sorix.is_grad_enabled()


def test_new_thread_starts_with_grad_enabled():
    seen = []
    with sorix.no_grad():
        t = threading.Thread(target=lambda: seen.append(sorix.is_grad_enabled()))
        t.start()
        t.join(10)
    assert seen == [True]


# ---- in-place ---------------------------------------------------------------------------

def test_inplace_change_of_saved_tensor_is_detected():
    x = leaf64([1.0, 2.0])
    w = tensor(np.array([3.0, 4.0]))
    y = (x * w).sum()
    w.add_(1)
    with pytest.raises(RuntimeError, match="in-place"):
        y.backward()


def test_inplace_change_of_saved_leaf_under_no_grad_is_detected():
    x = leaf64([0.5, 1.0])
    # (log's derivative reads x; exp's reads only its output, so there, as in PyTorch,
    # changing x is harmless: tests/test_graph_semantics.py)
    y = x.log().sum()
    with sorix.no_grad():
        x.mul_(2.0)
    with pytest.raises(RuntimeError):
        y.backward()


def test_inplace_change_through_a_view_is_detected():
    w = tensor(np.array([1.0, 2.0, 3.0]))
    x = leaf64([1.0, 1.0])
    y = (x * w[:2]).sum()
    w.mul_(2.0)  # changes the values the product saved, through the base
    with pytest.raises(RuntimeError):
        y.backward()


@pytest.mark.parametrize("make", [
    lambda x: x.exp(), lambda x: x.sigmoid(), lambda x: x.tanh(), lambda x: x.sqrt(),
    lambda x: 1.0 / x, lambda x: x / tensor(np.array([2.0, 3.0]), requires_grad=True),
    lambda x: 2.0 ** x, lambda x: x.softmax(0), lambda x: x.log_softmax(0),
    lambda x: x.max(), lambda x: x.std(),
], ids=["exp", "sigmoid", "tanh", "sqrt", "reciprocal", "div", "pow", "softmax",
        "log_softmax", "max", "std"])
@pytest.mark.parametrize("how", ["no_grad", "detach", "view"])
def test_inplace_change_of_a_saved_output_is_detected(make, how):
    """These backward rules read the op's output: changing it first must raise, not give
    gradients computed from the changed values."""
    x = leaf64([0.5, 1.5])
    y = make(x)
    if how == "no_grad":
        with sorix.no_grad():
            y.mul_(0.5)
    elif how == "detach":
        y.detach().fill_(0.25)
    else:
        y.detach().reshape(-1)[0:1].fill_(0.25)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_inplace_change_of_an_output_backward_does_not_read_is_fine():
    x = leaf64([0.5, 1.5])
    y = x.sin()  # the derivative reads x only, as in PyTorch
    y.detach().fill_(7.0)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.cos([0.5, 1.5]))


def test_inplace_change_of_unsaved_tensor_is_fine():
    x = leaf64([1.0, 2.0])
    w = tensor(np.array([3.0, 4.0]))
    y = (x + w).sum()  # add saves nothing
    w.add_(1)
    y.backward()
    np.testing.assert_allclose(x.grad.data, [1.0, 1.0])


def test_inplace_on_leaf_requiring_grad():
    x = leaf64([1.0, 2.0])
    for op in (lambda: x.add_(1), lambda: x.sub_(1), lambda: x.mul_(2), lambda: x.div_(2),
               lambda: x.fill_(0), lambda: x.zero_(), lambda: x.clamp_(0, 1)):
        with pytest.raises(RuntimeError):
            op()
    with pytest.raises(RuntimeError):
        x[0] = 5.0
    np.testing.assert_array_equal(x.data, [1.0, 2.0])
    with sorix.no_grad():
        assert x.add_(1) is x
        assert x.mul_(2) is x
        assert x.sub_(1) is x
        assert x.div_(2) is x
        np.testing.assert_allclose(x.data, [1.5, 2.5])
        assert x.clamp_(0, 2) is x
        np.testing.assert_allclose(x.data, [1.5, 2.0])
        x[0] = 7.0
        np.testing.assert_allclose(x.data, [7.0, 2.0])
        assert x.fill_(3.0) is x
        np.testing.assert_allclose(x.data, [3.0, 3.0])
        assert x.zero_() is x
    np.testing.assert_array_equal(x.data, [0.0, 0.0])
    assert x.requires_grad and x.is_leaf


def test_inplace_on_plain_tensor_is_allowed():
    t = tensor([1.0, 2.0])
    t.add_(tensor([1.0, 1.0])).mul_(3.0)
    np.testing.assert_allclose(t.data, [6.0, 9.0])
    t += 1
    np.testing.assert_allclose(t.data, [7.0, 10.0])
    assert t.dtype == sorix.float32


def test_augmented_assignment_of_a_gradient_into_a_plain_tensor_is_recorded():
    """``total += loss`` on a plain tensor rebinds ``total`` to a recorded sum (in place, the
    gradient would be lost), keeping its dtype and refusing a result of another shape."""
    w = leaf64([1.0, 2.0, 3.0])
    total = sorix.zeros(1)
    start = total
    for k in range(1, 4):
        total += (w * w).sum() * k
    total.backward()
    np.testing.assert_allclose(total.data, [14.0 * 6])
    np.testing.assert_allclose(w.grad.data, 2 * np.array([1.0, 2.0, 3.0]) * 6)
    assert total.dtype == sorix.float32 and start.data[0] == 0 and start.grad_fn is None
    scaled = tensor(np.ones(3))
    scaled *= w
    assert scaled.grad_fn is not None and scaled.dtype == sorix.float64
    with pytest.raises(RuntimeError, match="does not fit"):
        small = sorix.zeros(1)
        small += w


@pytest.mark.parametrize("write", [
    lambda out, w: out.__setitem__(0, w * 2), lambda out, w: out[0].add_(w),
    lambda out, w: out[0].sub_(w, alpha=2), lambda out, w: out[0].mul_(w),
    lambda out, w: out[0].copy_(w), lambda out, w: out.fill_(w.sum()),
], ids=["setitem", "add_", "sub_alpha", "mul_", "copy_", "fill_"])
def test_inplace_write_of_a_gradient_into_a_plain_tensor_is_refused(write):
    """Not recorded, the write would drop the value's gradient without a word: it raises,
    naming the fixes, and changes nothing; detached values and no_grad still write."""
    w = leaf64([1.0, 2.0, 3.0])
    out = tensor(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="would lose its gradient.*detach"):
        write(out, w)
    np.testing.assert_array_equal(out.data, 0)
    assert out._version[0] == 0
    with sorix.no_grad():
        write(out, w)
    out[1] = w.detach()
    np.testing.assert_array_equal(out.data[1], [1.0, 2.0, 3.0])


# ---- errors from API.md --------------------------------------------------------------

def test_non_scalar_backward_without_gradient():
    x = leaf64([1.0, 2.0])
    with pytest.raises(RuntimeError) as info:
        (x * 2.0).backward()
    assert str(info.value) == "grad can be implicitly created only for scalar outputs"


def test_wrong_shaped_gradient_names_both_shapes():
    x = leaf64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = x * 2.0
    with pytest.raises(RuntimeError) as info:
        y.backward(tensor(np.ones((3, 2))))
    msg = str(info.value)
    assert "(3, 2)" in msg and "(2, 3)" in msg


def test_backward_on_tensor_not_requiring_grad():
    t = tensor([1.0, 2.0])
    with pytest.raises(RuntimeError):
        t.sum().backward()
    with pytest.raises(RuntimeError):
        tensor(3.0).backward()


def test_backward_under_no_grad_output_raises():
    x = leaf64([1.0])
    with sorix.no_grad():
        y = (x * 2.0).sum()
    with pytest.raises(RuntimeError):
        y.backward()


def test_broadcast_mismatch_names_both_shapes():
    a = tensor(np.ones((3, 4)))
    b = tensor(np.ones(5))
    for op in (lambda: a + b, lambda: a * b, lambda: b - a, lambda: a / b):
        with pytest.raises((ValueError, RuntimeError)) as info:
            op()
        msg = str(info.value)
        assert "(3, 4)" in msg and "(5,)" in msg


def test_bool_tensors_cannot_require_grad_but_integer_tensors_can():
    with pytest.raises(RuntimeError):
        tensor([True, False], requires_grad=True)
    t = tensor([True])
    with pytest.raises(RuntimeError):
        t.requires_grad = True
    x = tensor([3, -2], requires_grad=True)  # Sorix allows integer leaves
    (x * x).sum().backward()
    assert x.grad.dtype == x.dtype
    np.testing.assert_array_equal(x.grad.data, [6, -4])


# ---- dtypes ---------------------------------------------------------------------------

def test_gradient_has_the_dtype_of_its_tensor():
    x = tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    w = tensor(np.array([3.0, 4.0], np.float64), requires_grad=True)
    y = (x * w).sum()
    assert y.dtype == sorix.float64
    y.backward()
    assert x.grad.dtype == sorix.float32
    assert w.grad.dtype == sorix.float64
    np.testing.assert_allclose(x.grad.data, [3.0, 4.0])
    np.testing.assert_allclose(w.grad.data, [1.0, 2.0])


def test_gradient_dtype_with_broadcast_float64_partner():
    x = tensor(np.ones((2, 3), np.float32), requires_grad=True)
    w = tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)  # float64
    (x * w).sum().backward()
    assert x.grad.dtype == sorix.float32 and x.grad.shape == (2, 3)
    assert w.grad.dtype == sorix.float64 and w.grad.shape == (3,)
    np.testing.assert_allclose(w.grad.data, [2.0, 2.0, 2.0])


def test_zero_dim_float64_partner_does_not_widen():
    x = tensor([1.0, 2.0], requires_grad=True)
    s = tensor(np.float64(3.0))
    y = x * s
    assert y.dtype == sorix.float32
    y.sum().backward()
    assert x.grad.dtype == sorix.float32


@pytest.mark.parametrize("fn", [
    lambda x: x * 2, lambda x: 2 * x, lambda x: x + 1, lambda x: x - 0.5, lambda x: 1.5 - x,
    lambda x: x / 3, lambda x: 3 / x, lambda x: x ** 2, lambda x: 2.0 ** x, lambda x: x ** 0.5,
    lambda x: -x, lambda x: x.clamp(0, 1), lambda x: x.leaky_relu(0.2),
    lambda x: x.mean(), lambda x: x.sum(), lambda x: x.softmax(-1), lambda x: x.var(),
], ids=["mul_int", "rmul_int", "add_int", "sub_float", "rsub_float", "div_int", "rdiv_int",
        "pow_int", "rpow_float", "pow_float", "neg", "clamp", "leaky_relu", "mean", "sum",
        "softmax", "var"])
def test_python_scalars_are_weak(fn):
    x = tensor([1.0, 2.0], requires_grad=True)
    y = fn(x)
    assert y.dtype == sorix.float32
    y.sum().backward()
    assert x.grad.dtype == sorix.float32


def test_float64_stays_float64():
    x = tensor(np.array([1.0, 2.0]), requires_grad=True)
    for y in (x * 2, x.mean(), x.sum(), x.max(), x.var(), x.exp(), x @ x, x.softmax(-1)):
        assert y.dtype == sorix.float64


def test_integer_tensors_with_scalars():
    t = tensor([1, 2])
    assert (t * 2).dtype == sorix.int64
    assert (t * 2.5).dtype == sorix.float32
    np.testing.assert_allclose((t * 2.5).data, [2.5, 5.0])
    assert (t / 2).dtype == sorix.float32


# ---- construction ------------------------------------------------------------------------

def test_construction_dtypes():
    assert tensor([1.0, 2.0]).dtype == sorix.float32
    assert tensor([[1.0], [2.0]]).dtype == np.float32
    assert tensor([1, 2]).dtype == sorix.int64
    assert tensor([1, 2.0]).dtype == sorix.float32
    assert tensor(3.0).dtype == sorix.float32 and tensor(3.0).shape == ()
    assert tensor(3).dtype == sorix.int64
    assert tensor([True, False]).dtype == sorix.bool
    assert tensor(np.array([1.0])).dtype == sorix.float64
    assert tensor(np.array([1, 2], np.int32)).dtype == sorix.int32
    assert tensor(np.array([1.0], np.float32)).dtype == sorix.float32
    assert tensor([1, 2], dtype=sorix.float64).dtype == sorix.float64
    assert sorix.float32 == np.float32 and sorix.float64 == np.dtype(np.float64)


def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0])
    t = tensor(a)
    a[0] = 5.0
    assert t.data[0] == 1.0
    assert isinstance(t.data, np.ndarray)


def test_ndarray_op_tensor_returns_tensor():
    a = np.array([1.0, 2.0])
    x = leaf64([3.0, 4.0])
    for y in (a * x, a + x, a - x, a / x, a ** x):
        assert isinstance(y, sorix.Tensor)
        assert y.requires_grad
    y = a * x
    np.testing.assert_allclose(y.data, [3.0, 8.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, a)
    m = np.ones((2, 2))
    assert isinstance(m @ x, sorix.Tensor)


def test_repr():
    assert repr(tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(tensor([1, 2])) == "tensor([1, 2])"
    assert repr(tensor(np.array([1.0, 2.0]))) == "tensor([1., 2.], dtype=sorix.float64)"
    assert repr(tensor([0.5, 1.25])) == "tensor([0.5000, 1.2500])"
    y = tensor([1.0, 2.0], requires_grad=True) * 2.0
    assert repr(y).startswith("tensor([2., 4.], grad_fn=<")


def test_scalar_conversions():
    t = tensor([2.5])
    assert float(t) == 2.5 and t.item() == 2.5
    assert f"{t:.2f}" == "2.50"
    assert int(tensor([3])) == 3
    assert np.asarray(tensor([1.0, 2.0])).dtype == np.float32


def test_one_add_handing_its_gradient_to_a_leaf_and_to_a_node():
    # add gives the same gradient array to both inputs; the leaf must not keep it as
    # its .grad while the inner add still uses it (x.grad was 4 here, not 3).
    x = tensor(np.ones(3), requires_grad=True)
    ((x + (x + x)) * 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0, 3.0])
    a = tensor(np.ones(3), requires_grad=True)
    b = tensor(np.ones(3), requires_grad=True)
    (a + b).sum().backward()
    a.grad.data[0] = 7.0  # two leaves of one add hold separate arrays
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0, 1.0])


def test_star_import_gives_the_lazily_loaded_names_and_no_builtin_shadows():
    namespace = {}
    exec("from sorix import *", namespace)
    assert namespace["nn"].Linear is sorix.nn.Linear
    assert namespace["optim"].SGD is sorix.optim.SGD
    assert namespace["save"] is sorix.save and namespace["load"] is sorix.load
    assert "float" not in namespace and "sum" not in namespace


def test_tensor_copies_array_subclasses_instead_of_aliasing_them():
    data = np.ma.array([1.0, 2.0])
    t = tensor(data)
    t.data[0] = 5.0
    np.testing.assert_array_equal(np.asarray(data), [1.0, 2.0])
