"""Helpers shared by the test modules.

pytest loads this file before the modules; they import its plain functions by
name (``from conftest import leaf``) and get its fixtures by argument name.
"""
import io
import os

# The test processes of ``pytest -n`` share the cores. After each threaded kernel numba's
# OpenMP workers spin for milliseconds before they sleep, on a core another test process
# needs; passive waiting puts them to sleep at once. Set before numba's threading layer
# starts (it reads the setting once); the fresh processes tests start inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sorix  # noqa: E402
import sorix.nn.functional as F  # noqa: E402

#: the repository root: the PYTHONPATH of the fresh Python processes some tests start
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DTYPES = [np.float32, np.float64]

#: What the reference example of API.md prints (RMSprop, lr=0.1, on x^2 + 10 y^2 from (5, 5)).
REFERENCE_EXAMPLE_OUTPUT = """\
Epoch 1: x = 4.0000, y = 4.0000, loss = 275.0000
Epoch 2: x = 3.3734, y = 3.3734, loss = 176.0000
Epoch 3: x = 2.9043, y = 2.9043, loss = 125.1775
Epoch 4: x = 2.5283, y = 2.5283, loss = 92.7866
Epoch 5: x = 2.2157, y = 2.2157, loss = 70.3128
Epoch 6: x = 1.9503, y = 1.9503, loss = 54.0031
Epoch 7: x = 1.7217, y = 1.7217, loss = 41.8402
Epoch 8: x = 1.5230, y = 1.5230, loss = 32.6073
Epoch 9: x = 1.3489, y = 1.3489, loss = 25.5132
Epoch 10: x = 1.1959, y = 1.1959, loss = 20.0162
"""

#: NaN, the infinities, signed zeros, the kinks of the piecewise ops (0, +-1, the clamp
#: bounds of naive.UNARY_PARAMS), and large and small magnitudes
SPECIAL_VALUES = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.75, 1.25, 2.0, -2.5,
                  3.7, 1e-3, -1e3]

#: pairs of shapes that broadcast: scalar on either side, size-1 axes on both, empty
BROADCAST_PAIRS = [
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((3, 1), (1, 4)),
    ((3, 4), (3, 1)),
    ((), (5,)),
    ((5,), ()),
    ((1,), (6,)),
    ((6,), (1,)),
    ((2, 3, 4), (3, 1)),
    ((1, 1), (2, 3)),
    ((2, 1, 4), (1, 3, 1)),
    ((0,), (1,)),
    ((2, 0), (2, 1)),
]


# ---- inputs ------------------------------------------------------------------------------

@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def rand(rng, shape, dtype, low=-3.0, high=3.0):
    """Uniform values from the generator ``rng``, in ``dtype``."""
    return rng.uniform(low, high, size=shape).astype(dtype)


def rand_seeded(shape, dtype=np.float32, low=-2.0, high=2.0, seed=0):
    """Uniform values from a generator seeded with ``seed``, in ``dtype``."""
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def normal(shape, dtype, seed=0):
    """Standard normal values from a generator seeded with ``seed``, in ``dtype``."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def dtype_scalars(dtype, *values):
    """``values`` as NumPy scalars of ``dtype`` (the kernels' scalar arguments)."""
    return tuple(np.dtype(dtype).type(v) for v in values)


def leaf(array):
    """A tensor that requires grad, with ``array``'s values and dtype."""
    return sorix.tensor(array, requires_grad=True)


def against_torch(s_fn, t_fn, arrays, dtype, tol, grads=None, seed=1):
    """Run ``s_fn`` (sorix) and ``t_fn`` (PyTorch) on ``arrays`` (floats become leaves, or
    those ``grads`` marks), back-propagate one random upstream gradient through both, and
    compare the output (value, shape, dtype) and each input's gradient to ``tol`` (keyword
    arguments of assert_allclose). Returns sorix's output."""
    torch = pytest.importorskip("torch")
    grads = [a.dtype.kind == "f" for a in arrays] if grads is None else grads
    xs = [leaf(a) if g else sorix.tensor(a) for a, g in zip(arrays, grads)]
    ts = [torch.tensor(a, requires_grad=bool(g)) for a, g in zip(arrays, grads)]
    out_s, out_t = s_fn(*xs), t_fn(*ts)
    assert out_s.dtype == dtype, (out_s.dtype, dtype)
    assert tuple(out_s.shape) == tuple(out_t.shape)
    np.testing.assert_allclose(out_s.data, out_t.detach().numpy(), err_msg="forward", **tol)
    upstream = np.asarray(np.random.default_rng(seed).standard_normal(tuple(out_t.shape)), dtype)
    out_s.backward(upstream)
    out_t.backward(torch.from_numpy(upstream.copy()))
    for i, (x, t) in enumerate(zip(xs, ts)):
        if t.grad is not None:
            assert x.grad.dtype == dtype
            np.testing.assert_allclose(x.grad.data, t.grad.numpy(),
                                       err_msg=f"gradient of input {i}", **tol)
    return out_s


def leaf64(values, dtype=np.float64):
    """A float64 (or ``dtype``) tensor that requires grad."""
    return sorix.tensor(np.array(values, dtype=dtype), requires_grad=True)


def npy_bytes(array, allow_pickle=False):
    """``array`` as the bytes of a ``.npy`` file."""
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def archive_meta(root):
    """The ``meta.json`` contents of a ``sorix.save`` archive whose object tree is ``root``."""
    return {"format": "sorix.save", "version": 1, "root": root}


# ---- references ----------------------------------------------------------------------------

def finite_differences(fn, arrays, weights=1.0, eps=1e-6):
    """d sum(weights * fn(*arrays)) / d arrays by central differences of sorix's forward
    pass alone (float64, under ``no_grad``)."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]

    def objective():
        with sorix.no_grad():
            out = fn(*[sorix.tensor(a) for a in arrays])
        return np.sum(weights * out.data)

    grads = []
    for a in arrays:
        g = np.zeros(a.shape)
        for i in np.ndindex(a.shape):
            keep = a[i]
            a[i] = keep + eps
            up = objective()
            a[i] = keep - eps
            down = objective()
            a[i] = keep
            g[i] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


# ---- the ops of sorix.kernels.defs through the public API --------------------------------------

#: table entries with neither a Tensor method nor an nn.functional function of their name
_FUNCTIONAL_FORMS = {"gelu_tanh": lambda x, *params: F.gelu(x, *params, approximate="tanh")}


def unary_call(name, params=()):
    """``x -> op(x, *params)`` for the unary op ``name`` of the definition table, through
    its Tensor method, else its nn.functional function."""
    if name in _FUNCTIONAL_FORMS:
        return lambda x: _FUNCTIONAL_FORMS[name](x, *params)
    if hasattr(sorix.Tensor, name):
        return lambda x: getattr(x, name)(*params)
    return lambda x: getattr(F, name)(x, *params)


# ---- fresh processes -------------------------------------------------------------------------

def python_env(drop=(), **settings):
    """The environment of a fresh Python that imports this checkout's sorix: this process's,
    less the variables whose names start with one of ``drop``, plus ``settings``."""
    prefixes = tuple(drop)
    env = {k: v for k, v in os.environ.items() if not (prefixes and k.startswith(prefixes))}
    env["PYTHONPATH"] = ROOT
    env.update(settings)
    return env


def suite_kernel_cache():
    """The kernel cache folder of this process, holding what the suite compiled so far:
    for fresh processes whose test is not about the cache (None when there is none)."""
    from sorix.kernels import cache
    return cache.folder()


# ---- order ----------------------------------------------------------------------------------

#: The modules that take longest, longest first: fresh processes, fresh compiles and the
#: CUDA simulator, and with an empty kernel cache (CI's) the modules that compile most
#: (the threaded builds of every elementwise op; every CUDA kernel's PTX, under
#: ``SORIX_TEST_PTX=1``). ``pytest -n`` hands whole modules to its workers in collection
#: order (``--dist loadfile``), so one of these collected last would run alone at the end
#: while the other workers wait; they are collected first instead.
LONG_MODULES = ("test_kernels.py", "test_cuda_ptx.py", "test_cache_repair.py",
                "test_vectorised.py", "test_compile_note.py", "test_cuda_training.py",
                "test_torch_parity.py", "test_softmax_rows.py", "test_conv.py", "test_fusion.py",
                "test_distributed.py", "test_clustering.py", "test_optim.py",
                "test_cuda_layers.py", "test_cuda_tensors.py", "test_cuda_kernels.py")


def pytest_collection_modifyitems(items):
    rank = {name: k for k, name in enumerate(LONG_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_MODULES)))  # (stable)


# ---- comparisons of sums of many products with PyTorch (convolutions) -----------------

def scaled_tolerance(dtype, reference):
    """float32 sums of many products: relative to the reference's largest entry."""
    scale = float(np.abs(reference).max()) if np.size(reference) else 1.0
    if dtype == np.float32:
        return dict(rtol=1e-4, atol=1e-5 * max(scale, 1.0))
    return dict(rtol=1e-10, atol=1e-12 * max(scale, 1.0))


def close_scaled(actual, expected, dtype, what=""):
    """``actual`` equals ``expected`` within :func:`scaled_tolerance`."""
    expected = np.asarray(expected)
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} vs {expected.shape}"
    np.testing.assert_allclose(actual, expected, err_msg=what,
                               **scaled_tolerance(dtype, expected))


def compare_with_torch(fn_sorix, fn_torch, arrays, dtype, seed=0):
    """Run both functions on the same leaves, compare outputs, back-propagate one random
    upstream gradient through both, compare every input's gradient."""
    import torch  # (a test-time oracle: only the tests that compare with it need it)
    xs = [sorix.tensor(a, requires_grad=True) if a is not None else None for a in arrays]
    xt = [torch.tensor(a, requires_grad=True) if a is not None else None for a in arrays]
    ys, yt = fn_sorix(*xs), fn_torch(*xt)
    assert ys.dtype == sorix.tensor(np.zeros(1, dtype)).dtype
    close_scaled(ys.data, yt.detach().numpy(), dtype, "output")
    g = normal(tuple(yt.shape), dtype, seed + 99)
    ys.backward(sorix.tensor(g))
    yt.backward(torch.tensor(g))
    for i, (s, t) in enumerate(zip(xs, xt)):
        if s is not None:
            assert s.grad.dtype == s.dtype
            close_scaled(s.grad.data, t.grad.numpy(), dtype, f"gradient of input {i}")


# ---- comparisons of whole modules with PyTorch (attention, transformers) ---------------

def compare_modules_with_torch(mine, theirs, inputs, dtype, tolerance, s_kw, t_kw, seed=1):
    """Run a sorix module and a torch module holding the same weights on ``inputs`` (all
    get gradients; keyword arguments ``s_kw`` and ``t_kw``); compare the output (and the
    attention weights, when the modules return them), then the gradients of the inputs and
    of every parameter for one random upstream gradient, within ``tolerance``."""
    import warnings

    import torch  # (a test-time oracle: only the tests that compare with it need it)
    xs = [sorix.tensor(a, requires_grad=True) for a in inputs]
    ts = [torch.tensor(a, requires_grad=True) for a in inputs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's mismatched-mask-type deprecation
        out_t = theirs(*ts, **t_kw)
    out_s = mine(*xs, **s_kw)
    if isinstance(out_t, tuple):
        (out_s, w_s), (out_t, w_t) = out_s, out_t
        assert (w_s is None) == (w_t is None)
        if w_t is not None:
            assert tuple(w_s.shape) == tuple(w_t.shape)
            np.testing.assert_allclose(w_s.numpy(), w_t.detach().numpy(), equal_nan=True,
                                       err_msg="weights", **tolerance)
    assert out_s.dtype == dtype and tuple(out_s.shape) == tuple(out_t.shape)
    np.testing.assert_allclose(out_s.numpy(), out_t.detach().numpy(), err_msg="output",
                               **tolerance)
    upstream = normal(tuple(out_t.shape), dtype, seed=seed)
    out_s.backward(upstream)
    out_t.backward(torch.tensor(upstream))
    for i, (x, t) in enumerate(zip(xs, ts)):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), err_msg=f"input {i}",
                                   **tolerance)
    params = dict(theirs.named_parameters())
    assert sorted(n for n, _ in mine.named_parameters()) == sorted(params)
    for name, p in mine.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), params[name].grad.numpy(), err_msg=name,
                                   **tolerance)
