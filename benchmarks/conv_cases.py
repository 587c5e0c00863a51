"""Convolution cases: one Conv2d forward+backward, and a LeNet-style training step.

Same conventions as cases.py (which lists these cases in its table): each
builder validates its implementation against the NumPy reference once,
warms it up and returns a zero-argument step callable.

- "Conv2d": batch 64 of 1x28x28 float32 images, 32 output channels, 3x3
  kernel, padding 1; forward, then backward of a fixed upstream gradient
  into the weight and bias (and into the input, for the "input grad" case:
  a convolution that is not the first layer).
- "LeNet step": Conv2d(1, 6, 5, padding=2) ReLU MaxPool2d(2)
  Conv2d(6, 16, 5) ReLU MaxPool2d(2) Flatten Linear(400, 10),
  CrossEntropyLoss, SGD(lr=0.01, momentum=0.9), batch 64.

The NumPy reference is written multi-pass, as a NumPy autograd library
runs it: sliding-window views and einsum products forward, and a
hand-written backward.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import references as ref
from .cases import Unavailable, _torch, _warm

CONV_BATCH, CONV_OUT, CONV_SIZE, CONV_KERNEL = 64, 32, 28, 3


# ---- NumPy reference ---------------------------------------------------------------------

def conv2d_numpy(x, w, b, pad):
    """y[n, o] = b[o] + sum_{c, i, j} w[o, c, i, j] x_padded[n, c, p + i, q + j]."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(xp, w.shape[2:], axis=(2, 3))  # (N, C, OH, OW, KH, KW)
    y = np.einsum("ncpqij,ocij->nopq", windows, w, optimize=True)
    return y + b[None, :, None, None], windows


def conv2d_backward_numpy(g, windows, w, x_shape, pad, need_x=True):
    """(dx, dw, db) of conv2d_numpy for output gradient g."""
    db = g.sum(axis=(0, 2, 3))
    dw = np.einsum("nopq,ncpqij->ocij", g, windows, optimize=True)
    dx = None
    if need_x:
        n, c, h, wd = x_shape
        oh, ow = g.shape[2:]
        dxp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), g.dtype)
        for i in range(w.shape[2]):
            for j in range(w.shape[3]):
                dxp[:, :, i:i + oh, j:j + ow] += np.einsum("nopq,oc->ncpq", g, w[:, :, i, j])
        dx = dxp[:, :, pad:pad + h, pad:pad + wd]
    return dx, dw, db


def max_pool2_numpy(x):
    """2x2 max pooling with stride 2 (even sizes): output and the mask of the maxima."""
    n, c, h, w = x.shape
    blocks = x.reshape(n, c, h // 2, 2, w // 2, 2)
    y = blocks.max(axis=(3, 5))
    mask = blocks == y[:, :, :, None, :, None]
    # PyTorch and sorix send the gradient to the first maximum only: keep the first
    flat = mask.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    first = np.zeros_like(flat)
    np.put_along_axis(first, flat.argmax(axis=-1)[..., None], True, axis=-1)
    return y, first.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)


def max_pool2_backward_numpy(g, mask):
    n, c, oh, _, ow, _ = mask.shape
    return (mask * g[:, :, :, None, :, None]).reshape(n, c, oh * 2, ow * 2)


# ---- the Conv2d case ------------------------------------------------------------------------

def conv_inputs():
    x = ref.random32((CONV_BATCH, 1, CONV_SIZE, CONV_SIZE), 0.0, 1.0)
    bound = 1 / 3.0  # PyTorch's default init bound for fan_in = 9
    w = ref.random32((CONV_OUT, 1, CONV_KERNEL, CONV_KERNEL), -bound, bound, seed=ref.SEED + 1)
    b = ref.random32((CONV_OUT,), -bound, bound, seed=ref.SEED + 2)
    g = ref.random32((CONV_BATCH, CONV_OUT, CONV_SIZE, CONV_SIZE), seed=ref.SEED + 3)
    return x, w, b, g


def conv_step(impl, input_grad):
    """Forward + backward of the Conv2d case in ``impl``; validated once against NumPy."""
    x, w, b, g = conv_inputs()
    y, windows = conv2d_numpy(x, w, b, 1)
    expected = (y,) + conv2d_backward_numpy(g, windows, w, x.shape, 1, input_grad)
    if impl == "sorix":
        import sorix
        import sorix.nn.functional as F
        tx = sorix.tensor(x, requires_grad=input_grad)
        tw, tb = sorix.tensor(w, requires_grad=True), sorix.tensor(b, requires_grad=True)
        tg = sorix.tensor(g)

        def step():
            tx.grad = tw.grad = tb.grad = None
            out = F.conv2d(tx, tw, tb, padding=1)
            out.backward(tg)
            return (out.data, tx.grad.data if input_grad else None, tw.grad.data, tb.grad.data)
    elif impl == "numpy":
        def step():
            out, win = conv2d_numpy(x, w, b, 1)
            return (out,) + conv2d_backward_numpy(g, win, w, x.shape, 1, input_grad)
    elif impl == "torch":
        torch = _torch()
        tx = torch.from_numpy(x).requires_grad_(input_grad)
        tw, tb = torch.from_numpy(w).requires_grad_(), torch.from_numpy(b).requires_grad_()
        tg = torch.from_numpy(g)

        def step():
            tx.grad = tw.grad = tb.grad = None
            out = torch.nn.functional.conv2d(tx, tw, tb, padding=1)
            out.backward(tg)
            return (out.detach().numpy(), tx.grad.numpy() if input_grad else None,
                    tw.grad.numpy(), tb.grad.numpy())
    else:
        raise Unavailable("convolution is compute-bound: no memory floor")
    got = step()
    for name, have, want in zip(("y", "x.grad", "w.grad", "b.grad"), got, expected):
        if want is not None:
            # sums of up to 50,176 float32 products: relative to the largest entry
            ref.assert_close(have, want, f"{impl} conv2d {name}", rtol=1e-3,
                             atol=1e-4 * float(np.abs(want).max()))
    return _warm(step)


# ---- the LeNet case -------------------------------------------------------------------------

LENET_LR, LENET_MOMENTUM = 0.01, 0.9


def lenet_init(seed=ref.SEED):
    """Parameters with PyTorch's default bounds; conv weights in PyTorch's layout, the
    Linear's W in sorix's (400, 10)."""
    rng = np.random.default_rng(seed + 7)

    def uniform(shape, fan_in):
        bound = 1 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    return {"w1": uniform((6, 1, 5, 5), 25), "b1": uniform((6,), 25),
            "w2": uniform((16, 6, 5, 5), 150), "b2": uniform((16,), 150),
            "W3": uniform((400, 10), 400), "b3": uniform((1, 10), 400)}


def lenet_loss_and_grads(params, x, labels):
    """Forward and backward of LeNet, one NumPy pass per op; grads keyed like params."""
    n = x.shape[0]
    h1, win1 = conv2d_numpy(x, params["w1"], params["b1"], 2)
    r1 = np.maximum(h1, 0)
    p1, mask1 = max_pool2_numpy(r1)
    h2, win2 = conv2d_numpy(p1, params["w2"], params["b2"], 0)
    r2 = np.maximum(h2, 0)
    p2, mask2 = max_pool2_numpy(r2)
    flat = p2.reshape(n, -1)
    logits = flat @ params["W3"] + params["b3"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    loss = -(shifted - np.log(total))[np.arange(n), labels].mean()
    dlogits = exp / total
    dlogits[np.arange(n), labels] -= 1
    dlogits /= n
    grads = {"W3": flat.T @ dlogits, "b3": dlogits.sum(axis=0, keepdims=True)}
    dp2 = (dlogits @ params["W3"].T).reshape(p2.shape)
    dh2 = max_pool2_backward_numpy(dp2, mask2) * (h2 > 0)
    dp1, grads["w2"], grads["b2"] = conv2d_backward_numpy(dh2, win2, params["w2"], p1.shape, 0)
    dh1 = max_pool2_backward_numpy(dp1, mask1) * (h1 > 0)
    _, grads["w1"], grads["b1"] = conv2d_backward_numpy(dh1, win1, params["w1"], x.shape, 2,
                                                        need_x=False)
    return loss, grads


def lenet_batch(seed):
    rng = np.random.default_rng(seed)
    return (rng.random((CONV_BATCH, 1, 28, 28), dtype=np.float32),
            rng.integers(0, 10, CONV_BATCH))


def lenet_pool(seed=ref.SEED):
    return [lenet_batch(seed + 200 + i) for i in range(ref.MNIST_POOL)]


def lenet_numpy_trainer(seed=ref.SEED):
    params = lenet_init(seed)
    buffers = {k: np.zeros_like(v) for k, v in params.items()}
    batches = lenet_pool(seed)
    count = [0]

    def step():
        x, labels = batches[count[0] % len(batches)]
        count[0] += 1
        loss, grads = lenet_loss_and_grads(params, x, labels)
        for k, p in params.items():
            ref.sgd_momentum_numpy(p, grads[k], buffers[k], LENET_LR, LENET_MOMENTUM)
        return loss

    return step


def _lenet_layers(nn):
    return [nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5),
            nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 10)]


def sorix_lenet(params):
    import sorix
    from sorix import nn
    model = nn.Sequential(*_lenet_layers(nn))
    with sorix.no_grad():
        for layer, (w, b) in ((model[0], ("w1", "b1")), (model[3], ("w2", "b2"))):
            layer.weight.data[...] = params[w]
            layer.bias.data[...] = params[b]
        model[7].W.data[...] = params["W3"]
        model[7].b.data[...] = params["b3"]
    return model


def torch_lenet(torch, params):
    model = torch.nn.Sequential(*_lenet_layers(torch.nn))
    with torch.no_grad():
        for layer, (w, b) in ((model[0], ("w1", "b1")), (model[3], ("w2", "b2"))):
            layer.weight.copy_(torch.from_numpy(params[w]))
            layer.bias.copy_(torch.from_numpy(params[b]))
        model[7].weight.copy_(torch.from_numpy(params["W3"].T))
        model[7].bias.copy_(torch.from_numpy(params["b3"][0]))
    return model


def _check_lenet(loss, grads, who):
    params = lenet_init()
    x, labels = lenet_batch(ref.SEED)
    want_loss, want = lenet_loss_and_grads(params, x, labels)
    ref.assert_close(loss, want_loss, f"{who} LeNet loss", rtol=1e-4)
    for k, v in want.items():
        ref.assert_close(grads[k], v, f"{who} LeNet grad {k}", rtol=1e-3,
                         atol=1e-4 * float(np.abs(v).max()))


def lenet_step(impl):
    """A validated LeNet training-step callable: zero_grad, forward, loss, backward, step."""
    params = lenet_init()
    x, labels = lenet_batch(ref.SEED)
    if impl == "numpy":
        return _warm(lenet_numpy_trainer())
    if impl == "sorix":
        import sorix
        from sorix import nn, optim
        model = sorix_lenet(params)
        loss = nn.CrossEntropyLoss()(model(sorix.tensor(x)), sorix.tensor(labels))
        loss.backward()
        layers = {"w1": model[0].weight, "b1": model[0].bias, "w2": model[3].weight,
                  "b2": model[3].bias, "W3": model[7].W, "b3": model[7].b}
        _check_lenet(loss.item(), {k: t.grad.data for k, t in layers.items()}, "sorix")
        model = sorix_lenet(params)
        opt = optim.SGD(model.parameters(), lr=LENET_LR, momentum=LENET_MOMENTUM)
        loss_fn = nn.CrossEntropyLoss()
        batches = [(sorix.tensor(a), sorix.tensor(b)) for a, b in lenet_pool()]
    elif impl == "torch":
        torch = _torch()
        model = torch_lenet(torch, params)
        loss_fn = torch.nn.CrossEntropyLoss()
        loss = loss_fn(model(torch.from_numpy(x)), torch.from_numpy(labels))
        loss.backward()
        grads = {"w1": model[0].weight.grad.numpy(), "b1": model[0].bias.grad.numpy(),
                 "w2": model[3].weight.grad.numpy(), "b2": model[3].bias.grad.numpy(),
                 "W3": model[7].weight.grad.numpy().T, "b3": model[7].bias.grad.numpy()[None]}
        _check_lenet(loss.item(), grads, "torch")
        model = torch_lenet(torch, params)
        opt = torch.optim.SGD(model.parameters(), lr=LENET_LR, momentum=LENET_MOMENTUM)
        batches = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in lenet_pool()]
    else:
        raise Unavailable("no memory floor for a network")
    count = [0]

    def step():
        xb, yb = batches[count[0] % len(batches)]
        count[0] += 1
        opt.zero_grad()
        out = loss_fn(model(xb), yb)
        out.backward()
        opt.step()
        return out

    return _warm(step)


def build(case, impl):
    if case == "conv2d":
        return conv_step(impl, input_grad=False)
    if case == "conv2d input grad":
        return conv_step(impl, input_grad=True)
    if case == "lenet":
        return lenet_step(impl)
    raise KeyError(case)
