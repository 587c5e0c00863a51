"""The builders' shared pieces: the axis normaliser against NumPy's and PyTorch's rules,
the cache registry, the list of functions a definition may call, and copies with
rebound globals."""
import dis
import math

import numpy as np
import pytest
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

import sorix
from sorix.kernels import axes, bind, defs, elementwise, registry, scalar

torch = pytest.importorskip("torch")


# ---- axes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("ndim", [1, 2, 4])
def test_axis_index_agrees_with_numpy(ndim):
    for axis in range(-ndim, ndim):
        assert axes.axis_index(axis, ndim) == normalize_axis_index(axis, ndim)
        assert axes.axis_index(np.int64(axis), ndim) == normalize_axis_index(axis, ndim)
    for axis in (-ndim - 1, ndim, ndim + 3):
        with pytest.raises(IndexError, match=rf"dimension {axis} is out of range for a tensor "
                                             rf"with {ndim} dimensions \(expected {-ndim} to "
                                             rf"{ndim - 1}\)"):
            axes.axis_index(axis, ndim)
        with pytest.raises(ValueError, match=f"axis {axis} is out of range for an array"):
            axes.axis_index(axis, ndim, ValueError, "axis", "an array")


def test_a_0d_array_accepts_axis_0_and_minus_1():
    assert axes.axis_index(0, 0) == axes.axis_index(-1, 0) == 0
    assert axes.axis_tuple(None, 0) == ()
    with pytest.raises(IndexError):
        axes.axis_index(1, 0)
    assert torch.tensor(2.0).sum(dim=-1).item() == 2.0  # PyTorch accepts it too


@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), (2, 0), [-1, 1], (1, -3)])
def test_axis_tuple_agrees_with_numpy(axis):
    ndim = 3
    expected = tuple(range(ndim)) if axis is None else \
        tuple(sorted(normalize_axis_tuple(axis, ndim)))
    assert axes.axis_tuple(axis, ndim) == expected


def test_axis_tuple_refuses_an_axis_listed_twice():
    with pytest.raises(ValueError, match=r"dimension listed twice in \(1, -2\)"):
        axes.axis_tuple((1, -2), 3)
    with pytest.raises(ValueError):
        normalize_axis_tuple((1, -2), 3)


def test_permute_and_flatten_refuse_an_axis_out_of_range():
    x = sorix.tensor(np.arange(6.0).reshape(2, 3))
    with pytest.raises(IndexError, match="out of range"):
        x.permute(0, 3)  # (3 % 2 == 1 would have made it a valid permutation)
    with pytest.raises(IndexError):
        torch.zeros(2, 3).permute(0, 3)
    with pytest.raises(IndexError, match="out of range"):
        x.flatten(0, 2)
    with pytest.raises(IndexError):
        torch.zeros(2, 3).flatten(0, 2)
    np.testing.assert_array_equal(x.permute(-1, -2).data, np.arange(6.0).reshape(2, 3).T)


# ---- registry -----------------------------------------------------------------------------

def test_registry_lists_every_builder_cache_and_clears_them():
    from sorix.kernels import build, fused, variants  # noqa: F401  (each registers its caches)
    x = np.linspace(-2.0, 2.0, 7)
    first = elementwise.unary("tanh", x)
    assert {"elementwise", "cpu kernels", "cpu scalar functions", "fused",
            "cpu variants"} <= set(registry.names())
    assert registry.sizes()["elementwise"] >= 1
    assert elementwise._compiled is registry.cache("elementwise")
    assert build._kernel_cache is registry.cache("cpu kernels")
    registry.clear("elementwise", "cpu kernels")
    assert registry.sizes()["elementwise"] == registry.sizes()["cpu kernels"] == 0
    again = elementwise.unary("tanh", x)  # rebuilt (loaded from the disk cache)
    np.testing.assert_allclose(again, np.tanh(x), rtol=1e-15, atol=0)
    np.testing.assert_array_equal(again, first)
    assert registry.sizes()["elementwise"] == 1
    assert all(callable(k) for k in registry.entries("elementwise"))


# ---- the functions a definition may call --------------------------------------------------

def _calls(fn):
    """The globals and ``math.*``/``np.*`` attributes that ``fn``'s code loads, by name."""
    found, previous = set(), None
    for ins in dis.get_instructions(fn):
        if ins.opname == "LOAD_GLOBAL" and ins.argval not in ("math", "np"):
            found.add(ins.argval)
        if ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and previous is not None \
                and previous.opname == "LOAD_GLOBAL" and previous.argval in ("math", "np"):
            module = {"math": math, "np": np}[previous.argval]
            if callable(getattr(module, ins.argval)):  # (math.inf is a constant)
                found.add(f"{previous.argval}.{ins.argval}")
        previous = ins
    return found


def test_every_call_in_a_definition_is_listed():
    listed = {f.name for f in scalar.SCALAR_FUNCTIONS}
    fields = ("forward", "derivative", "derivative_a", "derivative_b")
    seen = set()
    for op in list(defs.UNARY.values()) + list(defs.BINARY.values()):
        for field in fields:
            fn = getattr(op, field, None)
            if fn is not None:
                calls = _calls(fn) - {"abs", "min", "max"}  # builtins numba compiles
                assert calls <= listed, f"{op.name}.{field} calls {calls - listed}"
                seen |= calls
    assert {"math.sqrt", "np.rint", "where", "sigmoid"} <= seen  # the walk found calls


def test_listed_functions_exist_and_ops_are_real():
    for f in scalar.SCALAR_FUNCTIONS:
        module, _, attribute = f.name.rpartition(".")
        owner = {"math": math, "np": np, "": scalar}[module]
        assert callable(getattr(owner, attribute)), f.name
        if f.op is not None:
            assert f.op in defs.UNARY or f.op in defs.BINARY, f.name
        assert (f.libm is not None) == (module == "np"), f.name
    assert set(scalar.HELPERS) == {"where", "sign", "exp", "log", "log1p", "sigmoid", "tanh",
                                   "erfc", "maximum", "minimum"}


def test_placeholders_are_read_from_the_template():
    from sorix.kernels import templates
    assert bind.placeholders(templates.unary0) == {"F": "forward"}
    assert bind.placeholders(templates.unary1_grad) == {"D": "derivative"}
    assert bind.placeholders(templates.binary_grad_a) == {"DA": "derivative_a"}
    assert bind.placeholders(templates.binary_grad_same) == {"DA": "derivative_a",
                                                             "DB": "derivative_b"}


def test_copy_rebinds_globals_and_names():
    def probe(x):
        return SCALE * x  # noqa: F821  (bound by the copy)

    twice = bind.copy(probe, {"SCALE": 2.0}, "probe__twice", "somewhere")
    assert twice(3.0) == 6.0
    assert (twice.__name__, twice.__qualname__, twice.__module__) == \
        ("probe__twice", "probe__twice", "somewhere")
    retyped = bind.copy(bind.typed_constants(defs.UNARY["tanh"].derivative.__code__,
                                             np.float32), dict(defs.__dict__))
    y = np.float32(0.5)
    assert type(retyped(y, y)) is np.float32  # 1 - y*y stays in float32
    assert retyped(y, y) == np.float32(1) - y * y


def test_a_per_dtype_kernel_module_is_built_for_each_dtype():
    # a module listing SCALAR_HELPERS gets one build per dtype: the helpers compiled for
    # it, DTYPE bound to its scalar type, and the dtype and the helpers' hash in the name
    # (so a changed helper, or other build settings, never loads a stale cache entry)
    from sorix.kernels import build, softmax as K
    from sorix.kernels import variants
    x = np.array([[1.0, 2.0, 3.0]])
    names = {}
    for dtype in (np.float32, np.float64):
        kernel = variants.variant(K.softmax_forward, False, dtype)
        out = np.empty_like(x, dtype)
        kernel(x.astype(dtype), out)
        assert out.dtype == dtype
        np.testing.assert_allclose(out, np.exp(x - 3) / np.exp(x - 3).sum(), rtol=1e-6)
        names[dtype] = kernel.py_func.__name__
        helpers, digest = build._typed_helpers(vars(K), np.dtype(dtype))
        assert helpers["DTYPE"] is dtype
        assert names[dtype] == f"softmax_forward__{np.dtype(dtype).name}__{digest}"
    assert build._typed_helpers(vars(K), np.dtype(np.float32))[1] != \
        build._typed_helpers(vars(K), np.dtype(np.float64))[1]
    assert variants.variant(K.softmax_forward, False, np.float32) is not \
        variants.variant(K.softmax_forward, False, np.float64)
    # a module without SCALAR_HELPERS keeps one build for every dtype
    from sorix.kernels import layernorm
    assert variants.variant(layernorm.forward, False, np.float32) is \
        variants.variant(layernorm.forward, False, np.float64)
