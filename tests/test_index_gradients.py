"""Gradients of tensors indexed piece by piece (a loop over time steps, unbind, chunk,
repeated advanced indices) sum correctly: each piece's gradient reaches the engine as
its slice alone and is added into one buffer of the whole tensor's shape. Checked
against PyTorch, and for the buffer never being an array that another tensor's
gradient shares."""
import numpy as np
import pytest

import sorix

torch = pytest.importorskip("torch")


def _pair(shape, seed, requires_grad=True):
    a = np.random.default_rng(seed).standard_normal(shape)
    return (sorix.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def _graph(lib, x, w):
    """Pieces of the non-leaf ``h``: per step, unbind, chunk, repeated rows, a mask, plus a
    dense use of the whole of ``h`` and of ``x``."""
    h = (x * 2.0).tanh()
    out = (h * w).sum()  # dense
    for t in range(h.shape[0]):
        out = out + (h[t] * (t + 1.0)).sin().sum()
    out = out + sum((p * p).sum() for p in h.unbind(1))
    out = out + sum(p.exp().sum() for p in h.chunk(2, 0))
    out = out + h[[0, 0, 2]].sum() + h[h > 0.5].sum() + h[1:, ::2].cos().sum()
    return out + x[1].sum() + x[0, 1] * 3.0  # a leaf indexed too


def test_pieces_of_a_tensor_sum_like_torchs():
    (xs, xt), (ws, wt) = _pair((5, 3), 0), _pair((5, 3), 1)
    _graph(sorix, xs, ws).backward()
    _graph(torch, xt, wt).backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ws.grad.numpy(), wt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("order", range(4))
def test_the_sum_buffer_is_never_an_array_another_gradient_shares(order):
    # add's backward hands one array to both inputs (h and k here): the pending sum that
    # h's pieces are added into must be h's own, whichever arrives first
    (xs, _), (ws, _) = _pair((4,), 2), _pair((4,), 3)
    h, k = xs * 1.0, ws * 1.0
    terms = [lambda: ((h + k) * 2.0).sum(), lambda: h[0] * 5.0, lambda: h[[1, 1]].sum(),
             lambda: k[3] * 4.0]
    terms = terms[order:] + terms[:order]
    total = terms[0]()
    for term in terms[1:]:
        total = total + term()
    total.backward()
    np.testing.assert_array_equal(ws.grad.numpy(), [2.0, 2.0, 2.0, 6.0])
    np.testing.assert_array_equal(xs.grad.numpy(), [7.0, 4.0, 2.0, 2.0])


def test_retained_hooked_and_captured_gradients_are_whole_arrays():
    xs, _ = _pair((3, 2), 4)
    h = xs * 3.0
    h.retain_grad()
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    (h[0].sum() + h[2].sum() * 2.0 + h[[2, 2]].sum()).backward(retain_graph=True)
    expected = np.array([[1.0, 1.0], [0.0, 0.0], [4.0, 4.0]])
    np.testing.assert_array_equal(h.grad.numpy(), expected)
    np.testing.assert_array_equal(seen[0], expected)
    np.testing.assert_array_equal(xs.grad.numpy(), 3.0 * expected)
    (g,) = sorix.autograd.grad(h[1].sum() + h[1, 0], h)
    np.testing.assert_array_equal(g.numpy(), [[0.0, 0.0], [2.0, 1.0], [0.0, 0.0]])


def test_second_order_through_pieces():
    (xs, xt) = _pair((4, 3), 5)
    ys = sum((xs[t] ** 3).sum() for t in range(4))
    yt = sum((xt[t] ** 3).sum() for t in range(4))
    (gs,) = sorix.autograd.grad(ys, xs, create_graph=True)
    (gt,) = torch.autograd.grad(yt, xt, create_graph=True)
    (hs,) = sorix.autograd.grad((gs[1:] * gs[1:]).sum(), xs)
    (ht,) = torch.autograd.grad((gt[1:] * gt[1:]).sum(), xt)
    np.testing.assert_allclose(hs.numpy(), ht.numpy(), rtol=1e-12)


def test_float32_pieces_keep_their_dtype():
    x = sorix.tensor(np.arange(6, dtype=np.float32).reshape(3, 2), requires_grad=True)
    h = x * 2.0
    (h[0].sum() + h[1].sum() + h[0, 1]).backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [[2.0, 4.0], [2.0, 2.0], [0.0, 0.0]])
