"""sorix.optim: trajectories against torch.optim and NumPy references, and the
Optimizer contract (in-place updates, groups, state dicts, validation)."""
import copy

import numpy as np
import pytest

import sorix
from sorix import config
from sorix.optim import SGD, Adam, AdamW, RMSprop, SGDMomentum

from conftest import REFERENCE_EXAMPLE_OUTPUT

STEPS = 25
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


# ---------------------------------------------------------------------------
# the test problem: L = sign * (sum(tanh(W @ v)^2) + sum(v^4))

def init_arrays(dtype, seed=0, shapes=((3, 4), (4,))):
    rng = np.random.default_rng(seed)
    W = (rng.standard_normal(shapes[0]) * 0.7).astype(dtype)
    v = (rng.standard_normal(shapes[1]) * 0.8).astype(dtype)
    return W, v


def loss_fn(W, v, sign=1.0):
    """Works for sorix and torch tensors alike."""
    u = W @ v
    return ((u.tanh() ** 2).sum() + (v ** 4).sum()) * sign


def numpy_grads(W, v, sign=1.0):
    """The analytic gradient of :func:`loss_fn`, in float64."""
    W, v = W.astype(np.float64), v.astype(np.float64)
    u = W @ v
    th = np.tanh(u)
    du = 2 * th * (1 - th * th)
    gW = np.outer(du, v) if W.ndim == 2 and v.ndim == 1 else None
    gv = W.T @ du + 4 * v ** 3
    return [sign * gW, sign * gv]


def sorix_params(arrays):
    return [sorix.tensor(a.copy(), requires_grad=True) for a in arrays]


def sorix_step(opt, params, sign):
    opt.zero_grad()
    loss = loss_fn(*params, sign=sign)
    loss.backward()
    opt.step()
    return loss


def sorix_trajectory(cls, kwargs, arrays, sign, steps=STEPS):
    params = sorix_params(arrays)
    opt = cls(params, **kwargs)
    out = []
    for _ in range(steps):
        sorix_step(opt, params, sign)
        out.append([p.data.copy() for p in params])
    return out, params, opt


# ---------------------------------------------------------------------------
# NumPy reference optimizers (PyTorch's documented algorithms), float64

class RefSGD:
    def __init__(self, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 maximize=False):
        self.__dict__.update(lr=lr, momentum=momentum, dampening=dampening, wd=weight_decay,
                             nesterov=nesterov, maximize=maximize, bufs={})

    def step(self, params, grads):
        for i, (p, g) in enumerate(zip(params, grads)):
            d = -g if self.maximize else g.copy()
            if self.wd:
                d = d + self.wd * p
            if self.momentum:
                buf = self.bufs.get(i)
                buf = d.copy() if buf is None else self.momentum * buf + (1 - self.dampening) * d
                self.bufs[i] = buf
                d = d + self.momentum * buf if self.nesterov else buf
            p -= self.lr * d


class RefRMSprop:
    def __init__(self, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 maximize=False):
        self.__dict__.update(lr=lr, alpha=alpha, eps=eps, wd=weight_decay, momentum=momentum,
                             centered=centered, maximize=maximize, st={})

    def step(self, params, grads):
        for i, (p, g) in enumerate(zip(params, grads)):
            st = self.st.setdefault(i, dict(sq=np.zeros_like(p), ga=np.zeros_like(p),
                                            buf=np.zeros_like(p)))
            d = -g if self.maximize else g.copy()
            if self.wd:
                d = d + self.wd * p
            st["sq"] = self.alpha * st["sq"] + (1 - self.alpha) * d * d
            if self.centered:
                st["ga"] = self.alpha * st["ga"] + (1 - self.alpha) * d
                avg = np.sqrt(st["sq"] - st["ga"] ** 2) + self.eps
            else:
                avg = np.sqrt(st["sq"]) + self.eps
            if self.momentum > 0:
                st["buf"] = self.momentum * st["buf"] + d / avg
                p -= self.lr * st["buf"]
            else:
                p -= self.lr * d / avg


class RefAdam:
    decoupled = False

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 maximize=False):
        self.__dict__.update(lr=lr, b1=betas[0], b2=betas[1], eps=eps, wd=weight_decay,
                             amsgrad=amsgrad, maximize=maximize, st={})

    def step(self, params, grads):
        for i, (p, g) in enumerate(zip(params, grads)):
            st = self.st.setdefault(i, dict(t=0, m=np.zeros_like(p), v=np.zeros_like(p),
                                            vmax=np.zeros_like(p)))
            st["t"] += 1
            t = st["t"]
            d = -g if self.maximize else g.copy()
            if self.wd and self.decoupled:
                p *= 1 - self.lr * self.wd
            elif self.wd:
                d = d + self.wd * p
            st["m"] = self.b1 * st["m"] + (1 - self.b1) * d
            st["v"] = self.b2 * st["v"] + (1 - self.b2) * d * d
            v = st["v"]
            if self.amsgrad:
                st["vmax"] = np.maximum(st["vmax"], v)
                v = st["vmax"]
            mhat = st["m"] / (1 - self.b1 ** t)
            vhat = v / (1 - self.b2 ** t)
            p -= self.lr * mhat / (np.sqrt(vhat) + self.eps)


class RefAdamW(RefAdam):
    decoupled = True

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 maximize=False):
        super().__init__(lr, betas, eps, weight_decay, amsgrad, maximize)


def reference_trajectory(ref, arrays, sign, steps=STEPS):
    params = [a.astype(np.float64) for a in arrays]
    out = []
    for _ in range(steps):
        ref.step(params, numpy_grads(*params, sign=sign))
        out.append([p.copy() for p in params])
    return out


# ---------------------------------------------------------------------------
# every option of every optimizer

CASES = [
    # (name, sorix class, sorix kwargs, torch class name, torch kwargs, reference, sign)
    ("sgd", SGD, dict(lr=0.05), "SGD", dict(lr=0.05), RefSGD, 1),
    ("sgd_momentum", SGD, dict(lr=0.05, momentum=0.9), "SGD", dict(lr=0.05, momentum=0.9),
     RefSGD, 1),
    ("sgd_dampening", SGD, dict(lr=0.05, momentum=0.8, dampening=0.3), "SGD",
     dict(lr=0.05, momentum=0.8, dampening=0.3), RefSGD, 1),
    ("sgd_nesterov", SGD, dict(lr=0.05, momentum=0.9, nesterov=True), "SGD",
     dict(lr=0.05, momentum=0.9, nesterov=True), RefSGD, 1),
    ("sgd_weight_decay", SGD, dict(lr=0.05, weight_decay=0.3), "SGD",
     dict(lr=0.05, weight_decay=0.3), RefSGD, 1),
    ("sgd_momentum_weight_decay", SGD, dict(lr=0.05, momentum=0.5, weight_decay=0.2), "SGD",
     dict(lr=0.05, momentum=0.5, weight_decay=0.2), RefSGD, 1),
    ("sgd_maximize", SGD, dict(lr=0.05, maximize=True), "SGD", dict(lr=0.05, maximize=True),
     RefSGD, -1),
    ("sgd_all", SGD, dict(lr=0.03, momentum=0.7, weight_decay=0.1, nesterov=True,
                          maximize=True), "SGD",
     dict(lr=0.03, momentum=0.7, weight_decay=0.1, nesterov=True, maximize=True), RefSGD, -1),
    ("sgdmomentum_default", SGDMomentum, dict(lr=0.02), "SGD", dict(lr=0.02, momentum=0.9),
     None, 1),
    ("sgdmomentum_options", SGDMomentum, dict(lr=0.02, momentum=0.6, weight_decay=0.1), "SGD",
     dict(lr=0.02, momentum=0.6, weight_decay=0.1), None, 1),
    ("rmsprop", RMSprop, dict(lr=0.01), "RMSprop", dict(lr=0.01), RefRMSprop, 1),
    ("rmsprop_alpha", RMSprop, dict(lr=0.01, alpha=0.9), "RMSprop", dict(lr=0.01, alpha=0.9),
     RefRMSprop, 1),
    ("rmsprop_decay_alias", RMSprop, dict(lr=0.01, decay=0.8), "RMSprop",
     dict(lr=0.01, alpha=0.8), RefRMSprop, 1),
    ("rmsprop_decay_overrides_alpha", RMSprop, dict(lr=0.01, alpha=0.5, decay=0.95), "RMSprop",
     dict(lr=0.01, alpha=0.95), RefRMSprop, 1),
    ("rmsprop_eps", RMSprop, dict(lr=0.01, eps=1e-2), "RMSprop", dict(lr=0.01, eps=1e-2),
     RefRMSprop, 1),
    ("rmsprop_weight_decay", RMSprop, dict(lr=0.01, weight_decay=0.3), "RMSprop",
     dict(lr=0.01, weight_decay=0.3), RefRMSprop, 1),
    ("rmsprop_momentum", RMSprop, dict(lr=0.005, momentum=0.9), "RMSprop",
     dict(lr=0.005, momentum=0.9), RefRMSprop, 1),
    ("rmsprop_centered", RMSprop, dict(lr=0.01, centered=True), "RMSprop",
     dict(lr=0.01, centered=True), RefRMSprop, 1),
    ("rmsprop_centered_momentum", RMSprop, dict(lr=0.005, centered=True, momentum=0.5),
     "RMSprop", dict(lr=0.005, centered=True, momentum=0.5), RefRMSprop, 1),
    ("rmsprop_maximize", RMSprop, dict(lr=0.01, maximize=True), "RMSprop",
     dict(lr=0.01, maximize=True), RefRMSprop, -1),
    ("rmsprop_all", RMSprop, dict(lr=0.005, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.3,
                                  centered=True, maximize=True), "RMSprop",
     dict(lr=0.005, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.3, centered=True,
          maximize=True), RefRMSprop, -1),
]
for _name, _cls, _ref, _torch in (("adam", Adam, RefAdam, "Adam"),
                                  ("adamw", AdamW, RefAdamW, "AdamW")):
    for _suffix, _kw in (("", dict(lr=0.01)),
                         ("_betas", dict(lr=0.01, betas=(0.8, 0.95))),
                         ("_eps", dict(lr=0.01, eps=1e-3)),
                         ("_weight_decay", dict(lr=0.01, weight_decay=0.3)),
                         ("_amsgrad", dict(lr=0.02, amsgrad=True)),
                         ("_maximize", dict(lr=0.01, maximize=True)),
                         ("_all", dict(lr=0.02, betas=(0.7, 0.9), eps=1e-6, weight_decay=0.2,
                                       amsgrad=True, maximize=True))):
        CASES.append((_name + _suffix, _cls, _kw, _torch, _kw, _ref,
                      -1 if _kw.get("maximize") else 1))

CASE_IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_trajectory_matches_torch(case, dtype):
    torch = pytest.importorskip("torch")
    _, cls, kwargs, torch_name, torch_kwargs, _, sign = case
    arrays = init_arrays(dtype)
    ours, params, _ = sorix_trajectory(cls, kwargs, arrays, sign)

    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    topt = getattr(torch.optim, torch_name)(tparams, **torch_kwargs)
    for step in range(STEPS):
        topt.zero_grad()
        loss_fn(*tparams, sign=sign).backward()
        topt.step()
        for i, tp in enumerate(tparams):
            np.testing.assert_allclose(ours[step][i], tp.detach().numpy(), **TOL[dtype],
                                       err_msg=f"parameter {i} after step {step + 1}")
    for p in params:
        assert p.data.dtype == dtype
    # the trajectory actually moved
    assert not np.allclose(ours[-1][1], arrays[1])


@pytest.mark.parametrize("case", [c for c in CASES if c[5] is not None],
                         ids=[c[0] for c in CASES if c[5] is not None])
def test_trajectory_matches_numpy_reference(case):
    """Torch-independent: float64 trajectories against the documented update rules."""
    _, cls, kwargs, _, torch_kwargs, ref_cls, sign = case
    arrays = init_arrays(np.float64, seed=1)
    ours, _, _ = sorix_trajectory(cls, kwargs, arrays, sign)
    expected = reference_trajectory(ref_cls(**torch_kwargs), arrays, sign)
    for step in range(STEPS):
        for i in range(2):
            np.testing.assert_allclose(ours[step][i], expected[step][i], rtol=1e-10, atol=1e-12,
                                       err_msg=f"parameter {i} after step {step + 1}")


def test_sgdmomentum_defaults():
    opt = SGDMomentum([sorix.tensor([1.0], requires_grad=True)])
    g = opt.param_groups[0]
    assert g["lr"] == 1e-3 and g["momentum"] == 0.9 and g["weight_decay"] == 0.0


def test_defaults_match_contract():
    p = [sorix.tensor([1.0], requires_grad=True)]
    assert SGD(p).defaults["lr"] == 1e-3
    r = RMSprop(p).defaults
    assert (r["lr"], r["alpha"], r["eps"], r["momentum"], r["centered"]) == \
        (1e-3, 0.99, 1e-8, 0.0, False)
    a = Adam(p).defaults
    assert (a["lr"], tuple(a["betas"]), a["eps"], a["weight_decay"], a["amsgrad"]) == \
        (1e-3, (0.9, 0.999), 1e-8, 0.0, False)
    assert AdamW(p).defaults["weight_decay"] == 1e-2


# ---------------------------------------------------------------------------
# the reference example from API.md

def test_reference_example_prints_exactly():
    from sorix import tensor
    x = tensor([5.0], requires_grad=True)
    y = tensor([5.0], requires_grad=True)
    optimizer = RMSprop([x, y], lr=0.1)
    lines = []
    for epoch in range(10):
        loss = x * x + tensor([10.0]) * y * y
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        lines.append(f"Epoch {epoch+1}: x = {x.data[0]:.4f}, y = {y.data[0]:.4f}, "
                     f"loss = {loss.data[0]:.4f}")
    assert "".join(line + "\n" for line in lines) == REFERENCE_EXAMPLE_OUTPUT
    assert x.data.dtype == np.float32 and y.data.dtype == np.float32


def test_reference_example_first_step_closed_form():
    """Step 1 of RMSprop moves by lr / sqrt(1 - alpha) regardless of g (eps aside)."""
    x = sorix.tensor([5.0], requires_grad=True)
    opt = RMSprop([x], lr=0.1)
    (x * x).sum().backward()
    opt.step()
    g = 10.0
    expected = 5.0 - 0.1 * g / (np.sqrt(0.01 * g * g) + 1e-8)
    assert x.data[0] == pytest.approx(expected, rel=1e-6)
    assert x.data[0] == pytest.approx(4.0, abs=1e-5)


# ---------------------------------------------------------------------------
# vts and the decay alias

@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kwargs, alpha", [({}, 0.99), ({"alpha": 0.9}, 0.9),
                                           ({"decay": 0.7}, 0.7),
                                           ({"alpha": 0.5, "decay": 0.8}, 0.8)])
def test_vts_after_one_step(kwargs, alpha, dtype):
    arrays = init_arrays(dtype)
    params = sorix_params(arrays)
    opt = RMSprop(params, lr=0.01, **kwargs)
    assert opt.param_groups[0]["alpha"] == alpha
    sorix_step(opt, params, 1)
    vts = opt.vts
    assert len(vts) == 2
    grads = numpy_grads(*arrays)
    for v, g, p in zip(vts, grads, params):
        assert v.shape == p.shape
        assert v.dtype == dtype
        np.testing.assert_allclose(v, (1 - alpha) * g ** 2, **TOL[dtype])
    # a second step: alpha * v1 + (1 - alpha) g2^2 at the new point
    before = [p.data.astype(np.float64) for p in params]
    v1 = [np.array(v, np.float64) for v in vts]
    sorix_step(opt, params, 1)
    g2 = numpy_grads(*before)
    for v, a, g in zip(opt.vts, v1, g2):
        np.testing.assert_allclose(v, alpha * a + (1 - alpha) * g ** 2, **TOL[dtype])


def test_vts_lists_square_averages_per_parameter_before_step():
    params = sorix_params(init_arrays(np.float64))
    opt = RMSprop(params)
    vts = opt.vts
    assert [v.shape for v in vts] == [(3, 4), (4,)]
    assert all(not v.any() for v in vts)


def test_decay_overrides_alpha_in_updates():
    """With decay given, alpha is ignored: the trajectory is that of alpha=decay."""
    arrays = init_arrays(np.float64)
    a, _, _ = sorix_trajectory(RMSprop, dict(lr=0.01, alpha=0.5, decay=0.9), arrays, 1, steps=5)
    expected = reference_trajectory(RefRMSprop(lr=0.01, alpha=0.9), arrays, 1, steps=5)
    for got, want in zip(a, expected):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12)


# ---------------------------------------------------------------------------
# in-place updates

OPTIMIZERS = [
    (SGD, dict(lr=0.1)),
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (SGDMomentum, dict(lr=0.1)),
    (RMSprop, dict(lr=0.01, centered=True, momentum=0.5)),
    (RMSprop, dict(lr=0.01)),
    (Adam, dict(lr=0.01, amsgrad=True)),
    (AdamW, dict(lr=0.01, weight_decay=0.1)),
]
OPT_IDS = [f"{c.__name__}-{'-'.join(k for k in kw if k != 'lr') or 'plain'}"
           for c, kw in OPTIMIZERS]


def _reference_for(cls, kwargs):
    if cls is SGDMomentum:
        return RefSGD(momentum=0.9, **kwargs)
    return {SGD: RefSGD, RMSprop: RefRMSprop, Adam: RefAdam, AdamW: RefAdamW}[cls](**kwargs)


@pytest.mark.parametrize("cls, kwargs", OPTIMIZERS, ids=OPT_IDS)
def test_updates_in_place(cls, kwargs):
    arrays = init_arrays(np.float64)
    params = sorix_params(arrays)
    storage = [p.data for p in params]
    views = [p.data[:1] for p in params]  # views: the first row of W, the first element of v
    opt = cls(params, **kwargs)
    ref = _reference_for(cls, kwargs)
    ref_params = [a.copy() for a in arrays]
    for _ in range(3):
        sorix_step(opt, params, 1)
        ref.step(ref_params, numpy_grads(*ref_params))
    for p, arr, view, want in zip(params, storage, views, ref_params):
        assert p.data is arr
        np.testing.assert_allclose(p.data, want, rtol=1e-12, atol=1e-14)
        assert np.shares_memory(view, arr)
        np.testing.assert_allclose(view, want[:1], rtol=1e-12, atol=1e-14)
        assert not np.allclose(want, arrays[0] if want.ndim == 2 else arrays[1])


@pytest.mark.parametrize("cls, kwargs", OPTIMIZERS, ids=OPT_IDS)
@pytest.mark.parametrize("layout", ["transposed", "strided", "fortran"])
def test_non_contiguous_parameters(cls, kwargs, layout):
    rng = np.random.default_rng(5)
    if layout == "transposed":
        base = (rng.standard_normal((4, 3)) * 0.7)
        W_arr = base.T  # (3, 4), a view of base
    elif layout == "strided":
        base = (rng.standard_normal((6, 8)) * 0.7)
        W_arr = base[::2, ::2]
    else:
        base = np.asfortranarray(rng.standard_normal((3, 4)) * 0.7)
        W_arr = base
    assert not W_arr.flags.c_contiguous
    v_base = rng.standard_normal(8) * 0.8
    v_arr = v_base[::2]
    start = [W_arr.copy(), v_arr.copy()]
    W = sorix.Tensor(W_arr, requires_grad=True)
    v = sorix.Tensor(v_arr, requires_grad=True)
    assert W.data is W_arr and v.data is v_arr
    opt = cls([W, v], **kwargs)
    ref = _reference_for(cls, kwargs)
    ref_params = [a.copy() for a in start]
    untouched_base = base.copy()
    untouched_v = v_base[1::2].copy()
    for _ in range(4):
        sorix_step(opt, [W, v], 1)
        ref.step(ref_params, numpy_grads(*ref_params))
    assert W.data is W_arr and v.data is v_arr
    np.testing.assert_allclose(W.data, ref_params[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(v.data, ref_params[1], rtol=1e-12, atol=1e-14)
    # the update went through to the underlying storage
    if layout == "transposed":
        np.testing.assert_allclose(base.T, ref_params[0], rtol=1e-12, atol=1e-14)
    elif layout == "strided":
        np.testing.assert_allclose(base[::2, ::2], ref_params[0], rtol=1e-12, atol=1e-14)
        mask = np.ones(base.shape, bool)
        mask[::2, ::2] = False  # elements between the strided ones are untouched
        np.testing.assert_array_equal(base[mask], untouched_base[mask])
    np.testing.assert_allclose(v_base[::2], ref_params[1], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(v_base[1::2], untouched_v)


def test_two_optimizers_share_storage():
    """Two optimizers on one parameter both update the same array (Sorix defect 9)."""
    p = sorix.tensor([1.0, -2.0], dtype=sorix.float64, requires_grad=True)
    arr = p.data
    a = SGD([p], lr=0.1)
    b = SGD([p], lr=0.5)
    (p * p).sum().backward()   # g = 2p = [2, -4]
    a.step()                   # p = [0.8, -1.6]
    b.step()                   # same gradient: p = [-0.2, 0.4]
    assert p.data is arr
    np.testing.assert_allclose(p.data, [-0.2, 0.4], rtol=1e-12)


def test_parameter_without_grad_is_skipped():
    W, v = sorix_params(init_arrays(np.float64))
    unused = sorix.tensor(np.ones(3), requires_grad=True)
    opt = Adam([W, v, unused], lr=0.1)
    sorix_step(opt, [W, v], 1)
    np.testing.assert_array_equal(unused.data, np.ones(3))
    assert unused not in opt.state
    assert W in opt.state and v in opt.state


# ---------------------------------------------------------------------------
# zero_grad and closures

def test_zero_grad_set_to_none():
    params = sorix_params(init_arrays(np.float64))
    opt = SGD(params, lr=0.1)
    loss_fn(*params).backward()
    assert all(p.grad is not None for p in params)
    opt.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in params)
    opt.zero_grad(set_to_none=True)  # nothing to do
    assert all(p.grad is None for p in params)


def test_zero_grad_zeroes_in_place_by_default():
    params = sorix_params(init_arrays(np.float64))
    opt = SGD(params, lr=0.1)
    loss_fn(*params).backward()
    arrays = [p.grad.data for p in params]
    opt.zero_grad()  # Sorix's default: the same arrays, filled with zeros
    for p, array in zip(params, arrays):
        assert p.grad.data is array
        assert not array.any()
    loss_fn(*params).backward()  # accumulates into the zeros: equal to a fresh gradient
    fresh = sorix_params(init_arrays(np.float64))
    loss_fn(*fresh).backward()
    for p, q in zip(params, fresh):
        np.testing.assert_array_equal(p.grad.data, q.grad.data)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_zero_grad_keep_tensors(dtype):
    arrays = init_arrays(dtype)
    params = sorix_params(arrays)
    opt = SGD(params, lr=0.1)
    loss_fn(*params).backward()
    grads = [p.grad for p in params]
    opt.zero_grad(set_to_none=False)
    for p, g in zip(params, grads):
        assert p.grad is g
        assert p.grad.shape == p.shape and p.grad.data.dtype == dtype
        assert not p.grad.data.any()
    # the next backward accumulates onto zeros: exactly one gradient
    loss_fn(*params).backward()
    for p, want in zip(params, numpy_grads(*arrays)):
        np.testing.assert_allclose(p.grad.data, want, **TOL[dtype])


def test_gradients_accumulate_without_zero_grad():
    arrays = init_arrays(np.float64)
    params = sorix_params(arrays)
    loss_fn(*params).backward()
    loss_fn(*params).backward()
    for p, want in zip(params, numpy_grads(*arrays)):
        np.testing.assert_allclose(p.grad.data, 2 * want, rtol=1e-12)


@pytest.mark.parametrize("cls, kwargs", OPTIMIZERS, ids=OPT_IDS)
def test_step_closure_returns_loss(cls, kwargs):
    arrays = init_arrays(np.float64)
    params = sorix_params(arrays)
    opt = cls(params, **kwargs)
    calls = []

    def closure():
        opt.zero_grad()
        loss = loss_fn(*params)
        loss.backward()
        calls.append(float(loss.data))
        return loss

    w0, v0 = arrays
    expected_loss = np.sum(np.tanh(w0 @ v0) ** 2) + np.sum(v0 ** 4)
    out = opt.step(closure)
    assert calls == [pytest.approx(expected_loss, rel=1e-12)]
    assert float(out.data) == pytest.approx(expected_loss, rel=1e-12)
    ref = _reference_for(cls, kwargs)
    ref_params = [a.copy() for a in arrays]
    ref.step(ref_params, numpy_grads(*ref_params))
    for p, want in zip(params, ref_params):
        np.testing.assert_allclose(p.data, want, rtol=1e-12, atol=1e-14)
    assert opt.step() is None


def test_step_closure_runs_with_grad_enabled():
    p = sorix.tensor([3.0], requires_grad=True)
    opt = SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with sorix.no_grad():
        loss = opt.step(closure)
    assert float(loss.data) == 9.0
    assert p.data[0] == pytest.approx(3.0 - 0.1 * 6.0)


# ---------------------------------------------------------------------------
# parameter groups

def test_param_groups_with_different_lr():
    a = sorix.tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = sorix.tensor(np.array([3.0]), requires_grad=True)
    c = sorix.tensor(np.array([-1.0, 0.5]), requires_grad=True)
    opt = SGD([{"params": [a, b]}, {"params": [c], "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert [g["momentum"] for g in opt.param_groups] == [0.0, 0.9]
    assert opt.param_groups[0]["params"] == [a, b] or opt.param_groups[0]["params"][0] is a
    for step in range(2):
        opt.zero_grad()
        ((a * a).sum() + (b * b * b).sum() + (c * c).sum()).backward()
        opt.step()
    # a: p -= 0.1 * 2p twice -> p * 0.8^2
    np.testing.assert_allclose(a.data, np.array([1.0, 2.0]) * 0.64, rtol=1e-12)
    # b: 3 -> 3 - 0.1*27 = 0.3 -> 0.3 - 0.1*0.27 = 0.273
    np.testing.assert_allclose(b.data, [0.273], rtol=1e-12)
    # c (lr 0.5, momentum 0.9): buf1 = g1 = 2c0; c1 = c0 - 0.5*2c0 = 0
    # g2 = 0; buf2 = 0.9*buf1; c2 = c1 - 0.5*0.9*2c0 = -0.9 c0
    np.testing.assert_allclose(c.data, -0.9 * np.array([-1.0, 0.5]), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_param_groups_match_torch(dtype):
    torch = pytest.importorskip("torch")
    arrays = init_arrays(dtype)
    W, v = sorix_params(arrays)
    opt = Adam([{"params": [W], "lr": 0.05, "amsgrad": True}, {"params": [v]}], lr=0.01,
               betas=(0.8, 0.9))
    tW, tv = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    topt = torch.optim.Adam([{"params": [tW], "lr": 0.05, "amsgrad": True}, {"params": [tv]}],
                            lr=0.01, betas=(0.8, 0.9))
    for _ in range(10):
        sorix_step(opt, [W, v], 1)
        topt.zero_grad()
        loss_fn(tW, tv).backward()
        topt.step()
        np.testing.assert_allclose(W.data, tW.detach().numpy(), **TOL[dtype])
        np.testing.assert_allclose(v.data, tv.detach().numpy(), **TOL[dtype])


def test_add_param_group():
    a = sorix.tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = sorix.tensor(np.array([4.0]), requires_grad=True)
    opt = SGD([a], lr=0.1, momentum=0.0)
    opt.add_param_group({"params": [b], "lr": 0.25})
    assert len(opt.param_groups) == 2
    group = opt.param_groups[1]
    assert group["lr"] == 0.25
    # missing hyperparameters come from the defaults
    for key in ("momentum", "weight_decay", "dampening", "nesterov", "maximize"):
        assert group[key] == opt.defaults[key]
    ((a * a).sum() + (b * b).sum()).backward()
    opt.step()
    np.testing.assert_allclose(a.data, [0.8, 1.6], rtol=1e-12)
    np.testing.assert_allclose(b.data, [4.0 - 0.25 * 8.0], rtol=1e-12)
    # a single tensor as "params" is accepted
    c = sorix.tensor([1.0], requires_grad=True)
    opt.add_param_group({"params": c})
    assert opt.param_groups[2]["params"] == [c] or opt.param_groups[2]["params"][0] is c


def test_add_param_group_validates():
    opt = Adam([sorix.tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match="-0.5"):
        opt.add_param_group({"params": [sorix.tensor([1.0], requires_grad=True)], "lr": -0.5})
    with pytest.raises(ValueError):
        opt.add_param_group({"params": [sorix.tensor([1.0], requires_grad=True)],
                             "betas": (0.9, 1.5)})
    assert len(opt.param_groups) == 1


def test_parameter_in_two_groups_raises():
    a = sorix.tensor([1.0], requires_grad=True)
    b = sorix.tensor([2.0], requires_grad=True)
    with pytest.raises(ValueError):
        SGD([{"params": [a, b]}, {"params": [a]}], lr=0.1)
    with pytest.raises(ValueError):
        SGD([a, b, a], lr=0.1)
    opt = SGD([a], lr=0.1)
    with pytest.raises(ValueError):
        opt.add_param_group({"params": [b, a]})
    assert len(opt.param_groups) == 1


def test_group_keys_are_copied_not_shared():
    a = sorix.tensor([1.0], requires_grad=True)
    group = {"params": [a], "lr": 0.3}
    opt = SGD([group], lr=0.1)
    opt.param_groups[0]["lr"] = 0.7
    assert group["lr"] == 0.3


# ---------------------------------------------------------------------------
# state dicts

SD_OPTIMIZERS = [
    (SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (SGD, dict(lr=0.05, momentum=0.8, dampening=0.2)),
    (SGDMomentum, dict(lr=0.03)),
    (RMSprop, dict(lr=0.01)),
    (RMSprop, dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
    (Adam, dict(lr=0.02)),
    (Adam, dict(lr=0.02, amsgrad=True, weight_decay=0.1)),
    (AdamW, dict(lr=0.02, amsgrad=True, betas=(0.8, 0.9))),
]
SD_IDS = [f"{c.__name__}-{i}" for i, (c, _) in enumerate(SD_OPTIMIZERS)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("cls, kwargs", SD_OPTIMIZERS, ids=SD_IDS)
def test_state_dict_round_trip_bit_for_bit(cls, kwargs, dtype):
    arrays = init_arrays(dtype)
    params = sorix_params(arrays)
    opt = cls(params, **kwargs)
    for _ in range(5):
        sorix_step(opt, params, 1)
    saved_params = [p.data.copy() for p in params]
    saved = opt.state_dict()
    for _ in range(5):
        sorix_step(opt, params, 1)
    A = [p.data.copy() for p in params]

    params_b = sorix_params(saved_params)
    opt_b = cls(params_b, **kwargs)
    opt_b.load_state_dict(saved)
    storage = [p.data for p in params_b]
    for _ in range(5):
        sorix_step(opt_b, params_b, 1)
    B = [p.data for p in params_b]
    for a, b in zip(A, B):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a, b)
    assert all(p.data is s for p, s in zip(params_b, storage))
    # and the run differs from restarting without the state
    params_c = sorix_params(saved_params)
    opt_c = cls(params_c, **kwargs)
    for _ in range(5):
        sorix_step(opt_c, params_c, 1)
    if cls is not SGD or kwargs.get("momentum"):
        assert not all(np.array_equal(a, p.data) for a, p in zip(A, params_c))


def test_load_state_dict_restores_hyperparameters():
    arrays = init_arrays(np.float64)
    params = sorix_params(arrays)
    opt = Adam(params, lr=0.02, betas=(0.8, 0.9))
    for _ in range(3):
        sorix_step(opt, params, 1)
    saved_params = [p.data.copy() for p in params]
    saved = copy.deepcopy(opt.state_dict())
    for _ in range(3):
        sorix_step(opt, params, 1)
    A = [p.data.copy() for p in params]
    params_b = sorix_params(saved_params)
    opt_b = Adam(params_b, lr=999.0)
    opt_b.load_state_dict(saved)
    assert opt_b.param_groups[0]["lr"] == 0.02
    assert tuple(opt_b.param_groups[0]["betas"]) == (0.8, 0.9)
    assert opt_b.param_groups[0]["params"][0] is params_b[0]
    for _ in range(3):
        sorix_step(opt_b, params_b, 1)
    for a, p in zip(A, params_b):
        np.testing.assert_array_equal(a, p.data)


def test_state_dict_with_groups_round_trip():
    arrays = init_arrays(np.float64)
    params = sorix_params(arrays)
    kwargs = lambda ps: [{"params": [ps[0]], "lr": 0.05}, {"params": [ps[1]], "momentum": 0.3}]
    opt = RMSprop(kwargs(params), lr=0.01)
    for _ in range(4):
        sorix_step(opt, params, 1)
    saved_params = [p.data.copy() for p in params]
    saved = opt.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0], [1]]
    for _ in range(4):
        sorix_step(opt, params, 1)
    params_b = sorix_params(saved_params)
    opt_b = RMSprop(kwargs(params_b), lr=0.01)
    opt_b.load_state_dict(saved)
    for _ in range(4):
        sorix_step(opt_b, params_b, 1)
    for p, q in zip(params, params_b):
        np.testing.assert_array_equal(p.data, q.data)


def _state_arrays(sd):
    out = {}
    for key, values in sd["state"].items():
        for name, v in values.items():
            arr = v.data if isinstance(v, sorix.Tensor) else v
            out[(key, name)] = np.array(arr, copy=True)
    return out


@pytest.mark.parametrize("cls, kwargs", SD_OPTIMIZERS, ids=SD_IDS)
def test_state_dict_is_a_copy(cls, kwargs):
    params = sorix_params(init_arrays(np.float64))
    opt = cls(params, **kwargs)
    for _ in range(2):
        sorix_step(opt, params, 1)
    sd = opt.state_dict()
    before = _state_arrays(sd)
    groups_before = copy.deepcopy([{k: v for k, v in g.items()} for g in sd["param_groups"]])
    assert before, "state dict holds no state"
    for _ in range(3):
        sorix_step(opt, params, 1)
    opt.param_groups[0]["lr"] = 123.0
    after = _state_arrays(sd)
    assert before.keys() == after.keys()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k], err_msg=str(k))
    assert sd["param_groups"] == groups_before
    # state tensors have their parameter's shape
    for key, values in sd["state"].items():
        for name, v in values.items():
            if isinstance(v, (sorix.Tensor, np.ndarray)) and np.ndim(v.data if isinstance(
                    v, sorix.Tensor) else v) > 0:
                assert tuple(v.shape) == tuple(params[key].shape), name


def test_load_state_dict_is_a_copy():
    """Training after load must not write into the loaded dict."""
    params = sorix_params(init_arrays(np.float64))
    opt = Adam(params, lr=0.01)
    for _ in range(2):
        sorix_step(opt, params, 1)
    sd = opt.state_dict()
    before = _state_arrays(sd)
    opt2 = Adam(sorix_params(init_arrays(np.float64)), lr=0.01)
    opt2.load_state_dict(sd)
    for _ in range(3):
        sorix_step(opt2, opt2.param_groups[0]["params"], 1)
    opt2.param_groups[0]["lr"] = 5.0
    after = _state_arrays(sd)
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])
    assert sd["param_groups"][0]["lr"] == 0.01


def test_load_state_dict_mismatch_raises():
    params = sorix_params(init_arrays(np.float64))
    opt = SGD(params, lr=0.1, momentum=0.9)
    sorix_step(opt, params, 1)
    sd = opt.state_dict()
    with pytest.raises(ValueError):
        SGD([sorix.tensor([1.0], requires_grad=True)], lr=0.1).load_state_dict(sd)
    other = sorix_params(init_arrays(np.float64, shapes=((2, 2), (2,))))
    # same number of parameters, wrong sizes
    with pytest.raises(ValueError):
        SGD([other[0], other[1]], lr=0.1, momentum=0.9).load_state_dict(sd)


# ---------------------------------------------------------------------------
# validation

def test_empty_parameter_list():
    for cls in (SGD, SGDMomentum, RMSprop, Adam, AdamW):
        with pytest.raises(ValueError, match="^optimizer got an empty parameter list$"):
            cls([])
        with pytest.raises(ValueError, match="^optimizer got an empty parameter list$"):
            cls(iter([]))


INVALID = [
    (SGD, dict(lr=-0.1), "-0.1"),
    (SGD, dict(lr=0.1, momentum=-0.5), "-0.5"),
    (SGD, dict(lr=0.1, weight_decay=-0.25), "-0.25"),
    (SGD, dict(lr=0.1, nesterov=True), "(?i)nesterov"),
    (SGD, dict(lr=0.1, nesterov=True, momentum=0.9, dampening=0.5), "(?i)nesterov"),
    (SGDMomentum, dict(lr=-0.01), "-0.01"),
    (SGDMomentum, dict(lr=0.1, momentum=-0.9), "-0.9"),
    (SGDMomentum, dict(lr=0.1, weight_decay=-1.5), "-1.5"),
    (RMSprop, dict(lr=-0.2), "-0.2"),
    (RMSprop, dict(eps=-1e-08), "-1e-08"),
    (RMSprop, dict(alpha=1.5), "1.5"),
    (RMSprop, dict(alpha=-0.1), "-0.1"),
    (RMSprop, dict(decay=2.5), "2.5"),
    (RMSprop, dict(momentum=-0.3), "-0.3"),
    (RMSprop, dict(weight_decay=-0.7), "-0.7"),
    (Adam, dict(lr=-0.3), "-0.3"),
    (Adam, dict(eps=-0.001), "-0.001"),
    (Adam, dict(weight_decay=-0.4), "-0.4"),
    (Adam, dict(betas=(1.0, 0.999)), "1.0"),
    (Adam, dict(betas=(-0.1, 0.999)), "-0.1"),
    (Adam, dict(betas=(0.9, 1.0)), "1.0"),
    (Adam, dict(betas=(0.9, -0.5)), "-0.5"),
    (AdamW, dict(lr=-0.3), "-0.3"),
    (AdamW, dict(eps=-0.001), "-0.001"),
    (AdamW, dict(weight_decay=-0.4), "-0.4"),
    (AdamW, dict(betas=(1.2, 0.999)), "1.2"),
    (AdamW, dict(betas=(0.9, 1.01)), "1.01"),
]


@pytest.mark.parametrize("cls, kwargs, shown", INVALID,
                         ids=[f"{c.__name__}-{k}" for c, k, _ in INVALID])
def test_invalid_hyperparameters(cls, kwargs, shown):
    p = sorix.tensor([1.0], requires_grad=True)
    pattern = shown if shown.startswith("(?i)") else _value_pattern(shown)
    with pytest.raises(ValueError, match=pattern):
        cls([p], **kwargs)


def _value_pattern(shown):
    import re
    return r"(?<![\d.])" + re.escape(shown) + r"(?![\d])"


def test_valid_boundary_hyperparameters():
    p = sorix.tensor([1.0], requires_grad=True)
    SGD([p], lr=0.0)
    RMSprop([p], alpha=0.0)
    RMSprop([p], alpha=1.0)
    RMSprop([p], eps=0.0)
    Adam([p], betas=(0.0, 0.0), eps=0.0, weight_decay=0.0)
    SGD([p], lr=0.1, momentum=0.5, nesterov=True)


def test_bad_params_types():
    with pytest.raises(TypeError):
        SGD(sorix.tensor([1.0], requires_grad=True), lr=0.1)
    with pytest.raises(TypeError):
        SGD([np.ones(3)], lr=0.1)


# ---------------------------------------------------------------------------
# dtypes

@pytest.mark.parametrize("cls, kwargs", SD_OPTIMIZERS, ids=SD_IDS)
def test_float32_parameters_keep_float32_state(cls, kwargs):
    params = sorix_params(init_arrays(np.float32))
    opt = cls(params, **kwargs)
    for _ in range(3):
        sorix_step(opt, params, 1)
    for p in params:
        assert p.data.dtype == np.float32
        assert p.grad.data.dtype == np.float32
        state = opt.state[p]
        arrays = [v for v in state.values() if isinstance(v, np.ndarray) and v.ndim > 0]
        assert arrays, "no state arrays"
        for arr in arrays:
            assert arr.dtype == np.float32
    sd = opt.state_dict()
    for values in sd["state"].values():
        for v in values.values():
            if isinstance(v, sorix.Tensor):
                assert v.data.dtype == np.float32
    if isinstance(opt, RMSprop):
        assert all(v.dtype == np.float32 for v in opt.vts)


@pytest.mark.parametrize("cls, kwargs", SD_OPTIMIZERS, ids=SD_IDS)
def test_float32_update_is_computed_in_float32(cls, kwargs):
    """float32 results match a float64 reference to float32 precision only: close, not equal,
    and the parameters never become float64."""
    arrays = init_arrays(np.float32)
    params = sorix_params(arrays)
    opt = cls(params, **kwargs)
    ref = _reference_for(cls, kwargs)
    ref_params = [a.astype(np.float64) for a in arrays]
    for _ in range(5):
        sorix_step(opt, params, 1)
        ref.step(ref_params, numpy_grads(*ref_params))
    for p, want in zip(params, ref_params):
        assert p.data.dtype == np.float32
        np.testing.assert_allclose(p.data, want, rtol=2e-4, atol=2e-5)


# ---------------------------------------------------------------------------
# threaded kernels

@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("cls, kwargs", [
    (SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (RMSprop, dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
    (Adam, dict(lr=0.02, amsgrad=True, weight_decay=0.1)),
    (AdamW, dict(lr=0.02, weight_decay=0.1)),
], ids=["SGD", "RMSprop", "Adam", "AdamW"])
def test_parallel_path_matches_serial(cls, kwargs, dtype, monkeypatch):
    from sorix.kernels.optim import CHUNK
    # above the patched threshold; the last spans two whole chunks and a ragged tail
    shapes = ((40, 24), (24,), (2 * CHUNK + 77,))
    arrays = init_arrays(dtype, seed=3, shapes=shapes)
    arrays = [a * 0.3 for a in arrays]

    def run():
        params = sorix_params(arrays)
        storage = [p.data for p in params]
        opt = cls(params, **kwargs)
        for _ in range(6):
            sorix_step(opt, params, 1)
        assert all(p.data is s for p, s in zip(params, storage))
        return [p.data.copy() for p in params]

    from sorix.kernels import variants as K
    used = []
    variant = K.variant

    def spy(fn, parallel):
        used.append(parallel)
        return variant(fn, parallel)

    monkeypatch.setattr(K, "variant", spy)
    serial = run()
    assert used and not any(used)
    used.clear()
    monkeypatch.setattr(config, "OPTIMIZER_PARALLEL_THRESHOLDS",
                        dict.fromkeys(config.OPTIMIZER_PARALLEL_THRESHOLDS, 16))
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)  # threads even on a busy machine
    parallel = run()
    assert used and all(used)  # every update took the threaded kernel
    for s, p in zip(serial, parallel):
        assert p.dtype == dtype
        np.testing.assert_allclose(p, s, rtol=1e-6 if dtype == np.float32 else 1e-14,
                                   atol=1e-7 if dtype == np.float32 else 1e-15)
    # both against the float64 NumPy reference
    ref = _reference_for(cls, kwargs)
    ref_params = [a.astype(np.float64) for a in arrays]
    for _ in range(6):
        ref.step(ref_params, numpy_grads(*ref_params))
    for p, want in zip(parallel, ref_params):
        np.testing.assert_allclose(p, want, **(TOL[np.float64] if dtype == np.float64
                                               else dict(rtol=2e-4, atol=2e-5)))


def test_parallel_path_non_contiguous(monkeypatch):
    monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 16)
    monkeypatch.setattr(config, "OPTIMIZER_PARALLEL_THRESHOLDS",
                        dict.fromkeys(config.OPTIMIZER_PARALLEL_THRESHOLDS, 16))
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)  # threads even on a busy machine
    rng = np.random.default_rng(9)
    base = rng.standard_normal((24, 40)) * 0.3
    W_arr = base.T
    v_arr = rng.standard_normal(24) * 0.3
    W = sorix.Tensor(W_arr, requires_grad=True)
    v = sorix.Tensor(v_arr, requires_grad=True)
    opt = Adam([W, v], lr=0.01)
    ref = RefAdam(lr=0.01)
    ref_params = [W_arr.copy(), v_arr.copy()]
    for _ in range(3):
        sorix_step(opt, [W, v], 1)
        ref.step(ref_params, numpy_grads(*ref_params))
    assert W.data is W_arr
    np.testing.assert_allclose(W.data, ref_params[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(base.T, ref_params[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(v.data, ref_params[1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls, kwargs", OPTIMIZERS, ids=OPT_IDS)
def test_zero_dim_parameter(cls, kwargs):
    p = sorix.tensor(np.array(1.5), requires_grad=True)
    arr = p.data
    opt = cls([p], **kwargs)
    ref = _reference_for(cls, kwargs)
    ref_p = [np.array(1.5)]
    for _ in range(3):
        opt.zero_grad()
        (p * p * p).backward()                  # g = 3 p^2
        opt.step()
        ref.step(ref_p, [3 * ref_p[0] ** 2])
    assert p.data is arr and p.data.shape == ()
    np.testing.assert_allclose(p.data, ref_p[0], rtol=1e-12)


@pytest.mark.parametrize("cls", [SGD, RMSprop, Adam])
def test_hyperparameters_given_as_tensors_or_arrays_are_read_at_every_step(cls):
    # A tensor learning rate changed in place (as a hand-written schedule might) takes
    # effect at the next step; a 0-d array works like a float.
    x = sorix.tensor([1.0, -2.0], requires_grad=True)
    lr = sorix.tensor(0.1)
    optimizer = cls([x], lr=lr)
    (x * x).sum().backward()
    optimizer.step()
    moved = x.data.copy()
    assert not np.array_equal(moved, [1.0, -2.0])
    lr.data[...] = 0.0
    optimizer.step()
    np.testing.assert_array_equal(x.data, moved)
    y = sorix.tensor([1.0], requires_grad=True)
    reference = sorix.tensor([1.0], requires_grad=True)
    for param, rate in ((y, np.array(0.05)), (reference, 0.05)):
        opt = cls([param], lr=rate)
        (param * param).sum().backward()
        opt.step()
    np.testing.assert_array_equal(y.data, reference.data)
