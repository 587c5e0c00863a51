"""Edge cases of the shape, indexing and reduction ops, against PyTorch.

cat/stack of mixed dtypes (PyTorch's promotion, not NumPy's), max/min/argmax
over the non-empty dims of an empty tensor, expand's -1 in a new leading
dimension, and an empty list as an index.
"""
import numpy as np
import pytest

import sorix

torch = pytest.importorskip("torch")


def _np_dtype(tdtype):
    return torch.empty(0, dtype=tdtype).numpy().dtype


def _assert_same(out_s, out_t):
    """Shape, dtype and values of a sorix result against a torch one."""
    expected = out_t.detach().numpy()
    assert tuple(out_s.shape) == tuple(out_t.shape), (out_s.shape, out_t.shape)
    assert out_s.data.dtype == expected.dtype, (out_s.data.dtype, out_t.dtype)
    np.testing.assert_array_equal(out_s.data, expected)


def _raised(fn):
    """The exception ``fn`` raises (fails the test when it raises none)."""
    with pytest.raises(Exception) as info:
        fn()
    return info.value


# ---- cat / stack: PyTorch's dtype promotion ---------------------------------------------

PAIRS = [(np.int64, np.float32), (np.int32, np.float16), (np.float32, np.int64),
         (np.uint8, np.int8), (np.bool_, np.uint8), (np.bool_, np.float16),
         (np.int32, np.int64), (np.float16, np.float32), (np.float32, np.float64)]


@pytest.mark.parametrize("stacked", [False, True], ids=["cat", "stack"])
@pytest.mark.parametrize("dtypes", PAIRS, ids=lambda d: f"{np.dtype(d[0])}-{np.dtype(d[1])}")
def test_cat_and_stack_promote_mixed_dtypes_like_torch(dtypes, stacked):
    arrays = [np.array([[1, 0, 1], [0, 1, 1]]).astype(d) for d in dtypes]
    arrays.append(arrays[0][:, :1].copy() if not stacked else arrays[0].copy())
    op_s, op_t = (sorix.stack, torch.stack) if stacked else (sorix.cat, torch.cat)
    dim = 1
    out_s = op_s([sorix.tensor(a) for a in arrays], dim=dim)
    out_t = op_t([torch.from_numpy(a) for a in arrays], dim=dim)
    _assert_same(out_s, out_t)


@pytest.mark.parametrize("stacked", [False, True], ids=["cat", "stack"])
def test_cat_and_stack_of_mixed_floats_give_each_input_its_own_dtype_of_gradient(stacked):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 3)).astype(d)
              for d in (np.float16, np.float32, np.float64)]
    xs = [sorix.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    op_s, op_t = (sorix.stack, torch.stack) if stacked else (sorix.cat, torch.cat)
    out_s, out_t = op_s(xs, dim=-1), op_t(ts, dim=-1)
    assert out_s.data.dtype == _np_dtype(out_t.dtype) == np.float64
    upstream = rng.standard_normal(tuple(out_t.shape))
    out_s.backward(sorix.tensor(upstream))
    out_t.backward(torch.from_numpy(upstream))
    for x, t in zip(xs, ts):
        _assert_same(x.grad, t.grad)


def test_cat_of_int_and_float_leaves_gradient_to_the_float_input():
    i = sorix.tensor([1, 2])
    f = sorix.tensor([0.5], requires_grad=True)
    out = sorix.cat([i, f])
    assert out.dtype == sorix.float32
    np.testing.assert_array_equal(out.data, np.array([1, 2, 0.5], np.float32))
    (out * sorix.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert f.grad.dtype == sorix.float32
    np.testing.assert_array_equal(f.grad.data, [3.0])


# ---- max / min / argmax / argmin over an empty tensor -----------------------------------

@pytest.mark.parametrize("name", ["amax", "amin"])
@pytest.mark.parametrize("dim", [0, 2, -1, (0, 2)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_over_non_empty_dims_of_an_empty_tensor(name, dim, keepdim):
    method = name[1:]  # sorix's max/min reduce like torch's amax/amin
    x = sorix.zeros(2, 0, 3, requires_grad=True)
    t = torch.zeros(2, 0, 3, requires_grad=True)
    out_s = getattr(x, method)(dim=dim, keepdim=keepdim)
    out_t = getattr(t, name)(dim=dim, keepdim=keepdim)
    _assert_same(out_s, out_t)
    out_s.sum().backward()
    out_t.sum().backward()
    _assert_same(x.grad, t.grad)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [0, 2, -1])
def test_argmax_argmin_over_non_empty_dims_of_an_empty_tensor(name, dim):
    out_s = getattr(sorix.zeros(2, 0, 3), name)(dim=dim)
    out_t = getattr(torch.zeros(2, 0, 3), name)(dim=dim)
    _assert_same(out_s, out_t)


@pytest.mark.parametrize("name, call", [
    ("max", lambda x, m: getattr(x, m)(dim=1)),
    ("min", lambda x, m: getattr(x, m)(dim=(0, 1))),
    ("max", lambda x, m: getattr(x, m)()),
    ("min", lambda x, m: getattr(x, m)()),
    ("argmax", lambda x, m: getattr(x, m)(dim=1)),
    ("argmin", lambda x, m: getattr(x, m)(dim=-2)),
    ("argmax", lambda x, m: getattr(x, m)()),
], ids=["max-dim1", "min-dims01", "max-all", "min-all", "argmax-dim1", "argmin-dim-2",
        "argmax-all"])
def test_reducing_an_empty_dim_raises_as_torch_does(name, call):
    torch_name = {"max": "amax", "min": "amin"}.get(name, name)
    expected = type(_raised(lambda: call(torch.zeros(2, 0, 3), torch_name)))
    error = _raised(lambda: call(sorix.zeros(2, 0, 3), name))
    assert isinstance(error, expected), (type(error), expected)
    assert isinstance(error, (IndexError, RuntimeError))
    assert "(2, 0, 3)" in str(error) and "non-zero size" in str(error)


def test_max_over_a_non_empty_dim_still_reduces_values():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    _assert_same(sorix.tensor(a).max(dim=0), torch.from_numpy(a).amax(dim=0))
    _assert_same(sorix.tensor(a).min(), torch.from_numpy(a).amin())


# ---- expand ------------------------------------------------------------------------------

@pytest.mark.parametrize("sizes", [(2, -1, 3), (-1, 3), (-1, -1, 3)])
def test_expand_refuses_minus_one_for_a_new_leading_dim(sizes):
    with pytest.raises(RuntimeError):
        torch.tensor([1.0, 2.0, 3.0]).expand(*sizes)
    with pytest.raises(RuntimeError, match=r"-1.*new leading dimension"):
        sorix.tensor([1.0, 2.0, 3.0]).expand(*sizes)


def test_expand_to_fewer_dims_than_the_tensor_has_raises():
    with pytest.raises(RuntimeError):
        torch.zeros(2, 3).expand(3)
    with pytest.raises(RuntimeError, match="at least 2 sizes"):
        sorix.zeros(2, 3).expand(3)


@pytest.mark.parametrize("shape, sizes", [((3,), (2, 3)), ((3,), (2, -1)),
                                          ((2, 1), (4, -1, 5)), ((2, 1), (-1, 3)),
                                          ((1, 3), (2, 2, -1))])
def test_expand_keeps_existing_sizes_for_minus_one(shape, sizes):
    a = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    x, t = sorix.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    out_s, out_t = x.expand(*sizes), t.expand(*sizes)
    _assert_same(out_s, out_t)
    out_s.sum().backward()
    out_t.sum().backward()
    _assert_same(x.grad, t.grad)


# ---- an empty list as an index ---------------------------------------------------------

INDICES = [lambda: [], lambda: ([], 0), lambda: (slice(None), []), lambda: (Ellipsis, [])]


@pytest.mark.parametrize("make_index", INDICES, ids=["[]", "[], 0", ":, []", "..., []"])
def test_empty_list_index_selects_nothing(make_index):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    x, t = sorix.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    out_s, out_t = x[make_index()], t[make_index()]
    _assert_same(out_s, out_t)
    out_s.sum().backward()
    out_t.sum().backward()
    _assert_same(x.grad, t.grad)  # zeros: nothing was selected


def test_empty_list_index_of_a_vector_and_its_second_order_gradient():
    x = sorix.tensor([1.0, 2.0], dtype=sorix.float64, requires_grad=True)
    out = x[[]]
    assert tuple(out.shape) == (0,) and out.dtype == sorix.float64
    (g,) = sorix.autograd.grad((out * out).sum() + (x * x).sum(), [x], create_graph=True)
    np.testing.assert_array_equal(g.data, [2.0, 4.0])
    (gg,) = sorix.autograd.grad(g.sum(), [x])
    np.testing.assert_array_equal(gg.data, [2.0, 2.0])


def test_setitem_with_an_empty_list_changes_nothing():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    x, t = sorix.tensor(a.copy()), torch.tensor(a)
    x[[]] = 7.0
    t[[]] = 7.0
    _assert_same(x, t)
    x[:, []] = sorix.tensor(9.0)
    t[:, []] = torch.tensor(9.0)
    _assert_same(x, t)
