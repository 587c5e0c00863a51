"""Selection, rearranging, scattering and matrix-product methods (sorix.tensor_selection)
against PyTorch: values, dtypes, shapes, first and second derivatives, errors."""
import numpy as np
import pytest

import sorix
from conftest import against_torch, leaf

torch = pytest.importorskip("torch")

TOL = dict(rtol=1e-10, atol=1e-12)


def normal(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def second_order(s_fn, t_fn, arrays, seed=2):
    """d/dx of sum(v * d/dx sum(w * f(x)^3)): the op's backward differentiated again
    (create_graph=True), against torch.autograd.grad."""
    rng = np.random.default_rng(seed)
    xs = [leaf(a) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ys, yt = s_fn(*xs), t_fn(*ts)
    w = rng.standard_normal(tuple(yt.shape))
    gs = sorix.grad((ys ** 3 * sorix.tensor(w)).sum(), xs, create_graph=True, allow_unused=True)
    gt = torch.autograd.grad((yt ** 3 * torch.tensor(w)).sum(), ts, create_graph=True,
                             allow_unused=True)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    for g, t in zip(gs, gt):
        expected = np.zeros(1) if t is None else t.detach().numpy()
        np.testing.assert_allclose(0 if g is None else g.data, expected, err_msg="first", **TOL)
    zs = sum((g * sorix.tensor(v)).sum() for g, v in zip(gs, vs) if g is not None)
    zt = sum((g * torch.tensor(v)).sum() for g, v in zip(gt, vs) if g is not None)
    hs = sorix.grad(zs, xs, allow_unused=True)
    ht = torch.autograd.grad(zt, ts, allow_unused=True)
    for i, (h, t) in enumerate(zip(hs, ht)):
        expected = 0 if t is None else t.numpy()
        np.testing.assert_allclose(0 if h is None else h.data, expected,
                                   err_msg=f"second derivative of input {i}", **TOL)


IDX = np.array([2, 0, 2])
COLS = np.array([[1, 0, 3], [2, 3, 0]])  # a distinct row per column: scatter stays defined
ROWS = np.array([[0, 2, 1, 2], [1, 0, 0, 1]])
MASK = np.array([True, False, True, True])

# name: (sorix fn, torch fn, input shapes); the same call spelled for both libraries
CASES = {
    "index_select": (lambda x: x.index_select(1, IDX),
                     lambda x: x.index_select(1, torch.tensor(IDX)),
                     [(2, 3, 4)]),
    "index_select_0d_index": (lambda x: x.index_select(0, np.array(1)),
                              lambda x: x.index_select(0, torch.tensor(1)), [(3, 2)]),
    "narrow": (lambda x: x.narrow(-1, 1, 2), lambda x: x.narrow(-1, 1, 2), [(2, 3, 4)]),
    "narrow_negative_start": (lambda x: x.narrow(0, -2, 2), lambda x: x.narrow(0, -2, 2),
                              [(3, 4)]),
    "masked_select": (lambda x: x.masked_select(MASK),
                      lambda x: x.masked_select(torch.tensor(MASK)),
                      [(3, 4)]),
    "masked_select_grows": (lambda x: x.masked_select(np.ones((2, 1, 3), bool)),
                            lambda x: x.masked_select(torch.ones(2, 1, 3, dtype=torch.bool)),
                            [(4, 3)]),
    "tril": (lambda x: x.tril(), lambda x: x.tril(), [(2, 3, 4)]),
    "tril_minus_1": (lambda x: x.tril(-1), lambda x: x.tril(-1), [(4, 3)]),
    "triu_plus_1": (lambda x: x.triu(1), lambda x: x.triu(1), [(2, 3, 4)]),
    "movedim": (lambda x: x.movedim(0, -1), lambda x: x.movedim(0, -1), [(2, 3, 4)]),
    "movedim_pairs": (lambda x: x.movedim((0, 1), (2, 0)), lambda x: x.movedim((0, 1), (2, 0)),
                      [(2, 3, 4)]),
    "moveaxis": (lambda x: sorix.moveaxis(x, 1, 0), lambda x: torch.moveaxis(x, 1, 0), [(2, 3)]),
    "swapdims": (lambda x: x.swapdims(0, 2), lambda x: x.swapdims(0, 2), [(2, 3, 4)]),
    "tile": (lambda x: x.tile((2, 1, 2)), lambda x: x.tile((2, 1, 2)), [(3, 2)]),
    "tile_short": (lambda x: x.tile(2), lambda x: x.tile((2,)), [(2, 3)]),
    "repeat_interleave": (lambda x: x.repeat_interleave(2), lambda x: x.repeat_interleave(2),
                          [(2, 3)]),
    "repeat_interleave_counts": (lambda x: x.repeat_interleave(np.array([1, 0, 3]), dim=1),
                                 lambda x: x.repeat_interleave(torch.tensor([1, 0, 3]), dim=1),
                                 [(2, 3)]),
    "take_along_dim": (lambda x: x.take_along_dim(ROWS, 0),
                       lambda x: x.take_along_dim(torch.tensor(ROWS), 0), [(3, 4)]),
    "take_along_dim_broadcast": (lambda x: x.take_along_dim(np.array([[[1], [-1]]]), 2),
                                 lambda x: x.take_along_dim(torch.tensor([[[1], [-1]]]), 2),
                                 [(3, 1, 4)]),
    "take_along_dim_flat": (lambda x: x.take_along_dim(np.array([5, 0, 5])),
                            lambda x: x.take_along_dim(torch.tensor([5, 0, 5])), [(2, 3)]),
    "scatter": (lambda x, s: x.scatter(1, COLS, s),
                lambda x, s: x.scatter(1, torch.tensor(COLS), s),
                [(2, 4), (2, 3)]),
    "scatter_value": (lambda x: x.scatter(1, COLS, 1.5),
                      lambda x: x.scatter(1, torch.tensor(COLS), 1.5), [(2, 4)]),
    "scatter_add": (lambda x, s: x.scatter_add(0, ROWS, s),
                    lambda x, s: x.scatter_add(0, torch.tensor(ROWS), s), [(3, 4), (2, 4)]),
    "index_add": (lambda x, s: x.index_add(1, IDX, s, alpha=2.5),
                  lambda x, s: x.index_add(1, torch.tensor(IDX), s, alpha=2.5), [(2, 4), (2, 3)]),
    "index_fill": (lambda x: x.index_fill(0, np.array([1, -1]), -2.0),
                   lambda x: x.index_fill(0, torch.tensor([1, -1]), -2.0), [(3, 2)]),
    "index_fill_tensor_value": (lambda x, v: x.index_fill(1, IDX, v),
                                lambda x, v: x.index_fill(1, torch.tensor(IDX), v), [(2, 4), ()]),
    "masked_scatter": (lambda x, s: x.masked_scatter(MASK, s),
                       lambda x, s: x.masked_scatter(torch.tensor(MASK), s), [(2, 4), (7,)]),
    "outer": (lambda a, b: a.outer(b), lambda a, b: a.outer(b), [(3,), (4,)]),
    "ger": (lambda a, b: sorix.ger(a, b), lambda a, b: torch.ger(a, b), [(2,), (3,)]),
    "mm": (lambda a, b: a.mm(b), lambda a, b: a.mm(b), [(2, 3), (3, 4)]),
    "bmm": (lambda a, b: sorix.bmm(a, b), lambda a, b: torch.bmm(a, b), [(2, 2, 3), (2, 3, 2)]),
    "mv": (lambda a, b: a.mv(b), lambda a, b: a.mv(b), [(2, 3), (3,)]),
    "inner": (lambda a, b: a.inner(b), lambda a, b: a.inner(b), [(2, 3), (4, 3)]),
    "inner_0d": (lambda a, b: sorix.inner(a, b), lambda a, b: torch.inner(a, b), [(), (2, 3)]),
    "addmm": (lambda c, a, b: c.addmm(a, b, beta=0.5, alpha=2.0),
              lambda c, a, b: c.addmm(a, b, beta=0.5, alpha=2.0), [(4,), (2, 3), (3, 4)]),
    "unflatten": (lambda x: x.unflatten(1, (2, -1)), lambda x: x.unflatten(1, (2, -1)), [(3, 6)]),
    "view_as": (lambda x, o: x.view_as(o) * o, lambda x, o: x.view_as(o) * o, [(2, 3), (3, 2)]),
    "expand_as": (lambda x, o: x.expand_as(o) * o, lambda x, o: x.expand_as(o) * o,
                  [(3, 1), (3, 4)]),
    "reshape_as": (lambda x, o: x.reshape_as(o) * o, lambda x, o: x.reshape_as(o) * o,
                   [(6,), (2, 3)]),
    "where": (lambda x, o: x.where(MASK, o), lambda x, o: x.where(torch.tensor(MASK), o),
              [(3, 4), (4,)]),
    "clamp_min": (lambda x: x.clamp_min(0.2), lambda x: x.clamp_min(0.2), [(3, 4)]),
    "clamp_max": (lambda x: sorix.clamp_max(x, -0.1), lambda x: torch.clamp_max(x, -0.1), [(3, 4)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients(name):
    s_fn, t_fn, shapes = CASES[name]
    arrays = [normal(*shape, seed=k) for k, shape in enumerate(shapes)]
    against_torch(s_fn, t_fn, arrays, sorix.float64, TOL)


@pytest.mark.parametrize("name", sorted(CASES))
def test_second_derivatives(name):
    s_fn, t_fn, shapes = CASES[name]
    second_order(s_fn, t_fn, [normal(*shape, seed=k + 5) for k, shape in enumerate(shapes)])


def test_a_source_larger_than_the_index():
    # (PyTorch has no gradient for such a source; sorix's is zero outside the index's block)
    src = leaf(normal(3, 5, seed=1))
    against_torch(lambda x: x.scatter_add(0, ROWS[:, :3], src.detach()),
                  lambda x: x.scatter_add(0, torch.tensor(ROWS[:, :3]), torch.tensor(src.data)),
                  [normal(3, 4)], sorix.float64, TOL)
    x = sorix.zeros(3, 4, dtype=sorix.float64)
    x.scatter(0, ROWS[:, :3] * 0 + [[0, 1, 2], [1, 2, 0]], src).sum().backward()
    expected = np.zeros((3, 5))
    expected[:2, :3] = 1
    np.testing.assert_array_equal(src.grad.data, expected)


def test_float32_stays_float32():
    a = normal(3, 4).astype(np.float32)
    against_torch(lambda x: x.index_select(0, [2, 0]).tril().scatter_add(1, ROWS[:, :2] % 2,
                                                                         x[:2, :2]),
                  lambda x: x.index_select(0, torch.tensor([2, 0])).tril().scatter_add(
                      1, torch.tensor(ROWS[:, :2] % 2), x[:2, :2]),
                  [a], sorix.float32, dict(rtol=1e-6, atol=1e-6))


# ---- dtypes: integers and bools stay what PyTorch keeps them ---------------------------------

def ix(x, values):
    """An index (or mask) given as a list, in the library of ``x``."""
    return torch.tensor(values) if isinstance(x, torch.Tensor) else values


INT_CASES = {
    "index_select": lambda x: x.index_select(0, ix(x, [1, 0])),
    "tril": lambda x: x.tril(),
    "triu": lambda x: x.triu(-1),
    "repeat_interleave": lambda x: x.repeat_interleave(2, 0),
    "tile": lambda x: x.tile((2, 1)),
    "movedim": lambda x: x.movedim(1, 0),
    "scatter_add": lambda x: x.scatter_add(0, ix(x, [[1, 0]]), x[:1]),
    "scatter_number": lambda x: x.scatter(1, ix(x, [[1], [0]]), 7.5),
    "index_fill": lambda x: x.index_fill(1, ix(x, [1]), 7.5),
    "index_add": lambda x: x.index_add(0, ix(x, [1]), x[:1], alpha=3),
    "take_along_dim": lambda x: x.take_along_dim(ix(x, [[1], [0]]), 1),
    "masked_select": lambda x: x.masked_select(ix(x, [[True, False], [False, True]])),
    "clamp_min": lambda x: x.clamp_min(2),
    "clamp_max": lambda x: x.clamp_max(2),
}


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
@pytest.mark.parametrize("case", sorted(INT_CASES))
def test_integer_and_bool_dtypes(case, dtype):
    if dtype == np.bool_ and case.startswith("clamp"):
        pytest.skip("sorix clamps bools as floats")
    a = np.array([[1, 0], [3, 4]]).astype(dtype)
    try:
        expected = INT_CASES[case](torch.tensor(a))
    except RuntimeError:
        pytest.skip("PyTorch refuses this dtype here")
    out = INT_CASES[case](sorix.tensor(a))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.data, expected.numpy())


def test_integer_products_stay_integers():
    a, b = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)
    out = sorix.tensor(a).mm(sorix.tensor(b))
    assert out.dtype == sorix.int64
    np.testing.assert_array_equal(out.data, a @ b)
    outer = sorix.outer(sorix.tensor([1, 2]), sorix.tensor([3.0, 4.0]))
    assert outer.dtype == sorix.float32  # promoted, as torch.outer does


def test_functions_on_arrays_give_arrays():
    a = np.arange(12.0).reshape(3, 4)
    for out, expected in [
            (sorix.index_select(a, 0, [2]), a[[2]]),
            (sorix.narrow(a, 1, 1, 2), a[:, 1:3]),
            (sorix.tril(a), np.tril(a)),
            (sorix.triu(a, 1), np.triu(a, 1)),
            (sorix.movedim(a, 0, 1), a.T),
            (sorix.tile(a, (1, 2)), np.tile(a, (1, 2))),
            (sorix.repeat_interleave(a, 2, dim=0), np.repeat(a, 2, axis=0)),
            (sorix.mm(a, a.T), a @ a.T),
            (sorix.mv(a, np.ones(4)), a @ np.ones(4)),
            (sorix.outer(a[0], a[1]), np.outer(a[0], a[1])),
            (sorix.take_along_dim(a, np.array([[1], [0], [3]]), 1),
             a[[0, 1, 2], [1, 0, 3]][:, None]),
            (sorix.scatter_add(a, 0, np.zeros((1, 4), np.int64), np.ones((1, 4))),
             a + np.array([[1.0], [0], [0]])),
            (sorix.masked_select(a, a > 9), a[a > 9]),
            (sorix.unflatten(a, 1, (2, 2)), a.reshape(3, 2, 2))]:
        assert isinstance(out, np.ndarray), type(out)
        np.testing.assert_array_equal(out, expected)


def test_method_functions_are_documented():
    from sorix.tensor_selection import FUNCTIONS
    for name in FUNCTIONS:
        fn = getattr(sorix, name)
        assert fn.__doc__ and fn.__doc__.strip(), name


# ---- edges ------------------------------------------------------------------------------------

def test_empty_and_zero_d():
    x = sorix.tensor(np.arange(6.0).reshape(2, 3))
    assert x.index_select(1, []).shape == (2, 0)
    assert x.narrow(1, 3, 0).shape == (2, 0)
    assert x.repeat_interleave(0, dim=1).shape == (2, 0)
    assert x.masked_select(np.zeros((2, 3), bool)).shape == (0,)
    assert x.scatter_add(0, np.zeros((0, 3), np.int64), x).tolist() == x.tolist()
    s = sorix.tensor(5.0, requires_grad=True)
    assert s.index_select(0, [0]).shape == ()
    assert s.tile(()).shape == () and s.tile(2).shape == (2,)
    assert s.movedim(0, 0).shape == ()
    assert s.take_along_dim([0, 0]).tolist() == [5.0, 5.0]
    out = s.scatter(0, np.array(0), sorix.tensor(2.0)) + s.index_add(0, np.array(0), s)
    assert out.shape == () and out.item() == 12.0
    out.backward()
    assert s.grad.item() == 2.0  # the scatter hides s, index_add passes it twice
    empty = sorix.zeros(0, 3)
    assert empty.tril().shape == (0, 3) and empty.repeat_interleave(2).shape == (0,)


def test_scatter_repeated_position_keeps_one_value_and_gives_it_the_gradient():
    x = leaf(np.zeros(3))
    src = leaf(np.array([1.0, 2.0, 3.0]))
    out = x.scatter(0, np.array([1, 1, 0]), src)
    assert out.tolist() == [3.0, 2.0, 0.0]  # the last write wins
    out.backward(sorix.tensor([10.0, 20.0, 30.0], dtype=sorix.float64))
    assert src.grad.tolist() == [0.0, 20.0, 10.0]
    assert x.grad.tolist() == [0.0, 0.0, 30.0]


def test_scatter_add_repeats_add_up():
    x = sorix.zeros(3, dtype=sorix.float64)
    src = sorix.tensor([1.0, 2.0, 3.0], dtype=sorix.float64)
    assert x.scatter_add(0, [1, 1, 0], src).tolist() == [3.0, 3.0, 0.0]


def test_inputs_are_never_written():
    a = np.arange(6.0).reshape(2, 3)
    x = sorix.tensor(a.copy())
    for out in (x.scatter(1, [[0], [1]], -1.0), x.scatter_add(1, [[0], [1]], x[:, :1]),
                x.index_add(0, [0], x[:1]), x.index_fill(1, [0], 9.0), x.tril(),
                x.masked_scatter(x > 2, sorix.zeros(6, dtype=sorix.float64))):
        assert not np.shares_memory(out.data, x.data)
    np.testing.assert_array_equal(x.data, a)


def test_narrow_is_a_view_like_torch():
    x = sorix.zeros(2, 3)
    view = x.narrow(1, 1, 1)
    view.fill_(4.0)
    assert x.tolist() == [[0.0, 4.0, 0.0], [0.0, 4.0, 0.0]]


# ---- in place ----------------------------------------------------------------------------------

INPLACE = [
    ("scatter_", (1, [[2], [0]], 5.0)),
    ("scatter_add_", (0, [[1, 0, 1]], "ones")),
    ("index_add_", (0, [1], "ones")),
    ("index_fill_", (1, [0, 2], -1.0)),
    ("masked_fill_", ("mask", 8.0)),
    ("masked_scatter_", ("mask", "ones")),
]


def _inplace_args(library, args, shape=(1, 3)):
    out = []
    for a in args:
        if a == "ones":
            a = torch.ones(shape, dtype=torch.float64) if library is torch \
                else sorix.ones(shape, dtype=sorix.float64)
        elif a == "mask":
            mask = np.array([[True, False, True], [False, False, True]])
            a = torch.tensor(mask) if library is torch else sorix.tensor(mask)
        elif isinstance(a, list):
            a = torch.tensor(a) if library is torch else a
        out.append(a)
    return out


@pytest.mark.parametrize("name,args", INPLACE)
def test_in_place_forms(name, args):
    a = normal(2, 3)
    x, t = sorix.tensor(a.copy()), torch.tensor(a.copy())
    version = x._version[0]
    returned = getattr(x, name)(*_inplace_args(sorix, args))
    getattr(t, name)(*_inplace_args(torch, args))
    assert returned is x and x._version[0] == version + 1
    np.testing.assert_allclose(x.data, t.numpy(), **TOL)


@pytest.mark.parametrize("name,args", INPLACE)
def test_in_place_refused_on_tensors_that_require_grad(name, args):
    x = leaf(normal(2, 3))
    before = x.data.copy()
    with pytest.raises(RuntimeError, match="[Ii]n-place"):
        getattr(x, name)(*_inplace_args(sorix, args))
    np.testing.assert_array_equal(x.data, before)
    with sorix.no_grad():  # the manual-update form: allowed, not recorded
        getattr(x, name)(*_inplace_args(sorix, args))
    assert x.grad_fn is None and x.requires_grad


def test_in_place_write_of_a_value_that_requires_grad_is_refused():
    x = sorix.zeros(2, 3, dtype=sorix.float64)
    src = leaf(np.ones((1, 3)))
    with pytest.raises(RuntimeError, match="lose its gradient"):
        x.index_add_(0, [1], src)


def test_in_place_change_is_seen_by_a_graph_that_saved_the_tensor():
    w = leaf(normal(2, 3))
    x = sorix.tensor(normal(2, 3, seed=1))
    y = (w * x).sum()
    x.index_fill_(1, [0], 0.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


# ---- new tensors and small conveniences --------------------------------------------------------

def test_new_tensors_keep_dtype_and_device():
    x = sorix.tensor(np.ones((2, 2)), dtype=sorix.float64)
    for made, shape, fill in [(x.new_zeros(2, 3), (2, 3), 0), (x.new_zeros((3,)), (3,), 0),
                              (x.new_ones(1, 2), (1, 2), 1), (x.new_full((2,), 7), (2,), 7)]:
        assert made.dtype == sorix.float64 and made.device == x.device and made.shape == shape
        assert (made.data == fill).all() and not made.requires_grad
    assert x.new_empty(4).shape == (4,) and x.new_empty(4).dtype == sorix.float64
    assert x.new_zeros(2, dtype=sorix.int32).dtype == sorix.int32
    assert x.new_ones(2, requires_grad=True).requires_grad
    source = sorix.tensor([1.5, 2.5], requires_grad=True)
    made = x.new_tensor(source)
    assert made.dtype == sorix.float64 and not made.requires_grad and made.grad_fn is None
    made.data[0] = 9
    assert source.tolist() == [1.5, 2.5]  # a copy
    assert sorix.tensor([1, 2]).new_tensor([1.7]).tolist() == [1]
    assert sorix.tensor([1, 2]).type_as(x).dtype == sorix.float64


def test_nelement_and_is_contiguous():
    x = sorix.zeros(2, 3)
    assert x.nelement() == 6 and x.is_contiguous()
    assert not x.t().is_contiguous() and x.t()[[0, 1]].is_contiguous()
    assert sorix.zeros(2, 3).narrow(1, 0, 2).is_contiguous() is False


# ---- errors ------------------------------------------------------------------------------------

X = sorix.tensor(np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("call,error,words", [
    (lambda: X.index_select(1, [3]), IndexError,
     "index 3 is out of range for dimension 1 of size 3"),
    (lambda: X.index_select(1, [-1]), IndexError, "index -1 is out of range"),
    (lambda: X.index_select(1, [[0]]), IndexError, "1-D"),
    (lambda: X.index_select(1, [0.5]), TypeError, "integers"),
    (lambda: X.index_select(2, [0]), IndexError, "dim 2 is out of range"),
    (lambda: X.narrow(1, 2, 2), RuntimeError, "exceeds the size 3"),
    (lambda: X.narrow(1, 4, 0), IndexError, "start 4"),
    (lambda: X.masked_select([1, 0, 1]), TypeError, "bool"),
    (lambda: X.masked_select(np.ones((3, 3), bool)), RuntimeError, "does not broadcast"),
    (lambda: X[0].tril(), RuntimeError, "at least 2 dimensions"),
    (lambda: X.movedim((0, 0), (0, 1)), RuntimeError, "twice"),
    (lambda: X.movedim((0,), (0, 1)), RuntimeError, "same number"),
    (lambda: X.repeat_interleave([1, -1], dim=0), RuntimeError, "non-negative"),
    (lambda: X.repeat_interleave([1, 2, 3], dim=0), RuntimeError, "3 repeats for dimension 0"),
    (lambda: X.take_along_dim([[3]], 1), IndexError, "index 3 is out of range for dimension 1"),
    (lambda: X.take_along_dim([0], 1), RuntimeError, "as many dimensions"),
    (lambda: X.scatter(1, [[3]], X), IndexError, "dimension 1 of size 3"),
    (lambda: X.scatter(1, [[-1]], X), IndexError, "index -1"),
    (lambda: X.scatter(1, [[0]], X.float()), RuntimeError, "dtype"),
    (lambda: X.scatter(1, [0], X), RuntimeError, "as many dimensions"),
    (lambda: X.scatter(1, [[0, 1, 2, 0]], X), RuntimeError, "exceeds"),
    (lambda: X.scatter_add(0, [[0, 1]], X[:, :1]), RuntimeError, "exceeds the source's size"),
    (lambda: X.scatter_add(0, [[2]], X), IndexError, "dimension 0 of size 2"),
    (lambda: X.index_add(0, [2], X[:1]), IndexError, "index 2 is out of range"),
    (lambda: X.index_add(0, [0], X), RuntimeError, "expected"),
    (lambda: X.index_fill(1, [3], 0.0), IndexError, "out of range"),
    (lambda: X.masked_scatter(X > 0, sorix.zeros(2, dtype=sorix.float64)), RuntimeError,
     "only 2 elements"),
    (lambda: sorix.zeros(2, 3, 4).mm(sorix.zeros(4, 5)), RuntimeError,
     r"mm: expected tensors of 2 and 2 dimensions, got shapes \(2, 3, 4\) and \(4, 5\); use "
     "matmul or bmm"),
    (lambda: X.mm(X), RuntimeError, "inner sizes 3 and 2"),
    (lambda: X.mm(X.float().t()), RuntimeError, "same dtype"),
    (lambda: sorix.bmm(sorix.zeros(2, 2, 3), sorix.zeros(1, 3, 2)), RuntimeError, "batch sizes"),
    (lambda: sorix.bmm(X, X.t()), RuntimeError, "3 and 3 dimensions"),
    (lambda: X.mv(X), RuntimeError, "2 and 1 dimensions"),
    (lambda: X.outer(X), RuntimeError, "1-D"),
    (lambda: X.inner(sorix.zeros(2, dtype=sorix.float64)), RuntimeError, "inner sizes"),
    (lambda: X.addmm(X, X.t()), RuntimeError, "does not broadcast"),
    (lambda: X.unflatten(1, (2, 2)), RuntimeError, "do not multiply"),
    (lambda: X.scatter(1, [[0]]), TypeError, "src"),
])
def test_errors(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_an_int32_index_tensor_works():
    out = X.index_select(0, sorix.tensor([1], dtype=sorix.int32))
    assert out.tolist() == [[3.0, 4.0, 5.0]]
