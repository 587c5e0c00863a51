"""Sorting, rearranging, scans, products and the extra reductions, against PyTorch:
values, dtypes, shapes, indices, first- and second-order gradients, 0-d and empty
tensors, errors, and the ``sorix.<fn>`` functions on NumPy arrays."""
import math

import numpy as np
import pytest

import sorix
from conftest import against_torch, leaf

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
T64 = TOL[np.float64]
NAN = float("nan")


def rng(seed=0):
    return np.random.default_rng(seed)


def ties(shape, seed=0, dtype=np.float64):
    """Small integers as floats: plenty of equal values."""
    return rng(seed).integers(-3, 4, size=shape).astype(dtype)


def distinct(shape, seed=0, dtype=np.float64):
    """Values with no two equal (a permutation, scaled and shifted)."""
    n = int(np.prod(shape))
    return (rng(seed).permutation(n).reshape(shape) * 0.37 - 1.1).astype(dtype)


def tt(a):
    return torch.from_numpy(np.array(a))


def same(s, t, exact=False, **tol):
    """A sorix tensor equal to a torch tensor: shape, dtype and values (NaN == NaN)."""
    expected = t.detach().numpy()
    assert tuple(s.shape) == tuple(expected.shape), (tuple(s.shape), expected.shape)
    assert s.data.dtype == expected.dtype, (s.data.dtype, expected.dtype)
    if exact or expected.dtype.kind not in "fc":
        np.testing.assert_array_equal(s.data, expected)
    else:
        np.testing.assert_allclose(s.data, expected, equal_nan=True,
                                   **(tol or TOL[expected.dtype.type]))


def second_order(s_fn, t_fn, a, seed=3, tol=T64):
    """create_graph gradient, then the gradient of <gradient, w>, both against torch."""
    x, tx = leaf(a), torch.tensor(a, requires_grad=True)
    out, tout = s_fn(x), t_fn(tx)
    up = rng(seed).standard_normal(tuple(tout.shape))
    (g,) = sorix.autograd.grad(out, x, grad_outputs=sorix.tensor(up), create_graph=True)
    (tg,) = torch.autograd.grad(tout, tx, grad_outputs=torch.tensor(up), create_graph=True)
    same(g, tg, **tol)
    w = rng(seed + 1).standard_normal(a.shape)
    (h,) = sorix.autograd.grad((g * sorix.tensor(w)).sum(), x)
    (th,) = torch.autograd.grad((tg * torch.tensor(w)).sum(), tx)
    same(h, th, **tol)


# ---- sort, argsort -----------------------------------------------------------------------

@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sort_matches_torch_stable_sort_with_ties_and_nan(descending, dim):
    a = ties((5, 6))
    a[1, 2] = a[3, 0] = a[0, 5] = NAN
    v, i = sorix.tensor(a).sort(dim, descending=descending, stable=True)
    tv, ti = torch.sort(tt(a), dim=dim, descending=descending, stable=True)
    same(v, tv)
    same(i, ti)
    same(sorix.tensor(a).argsort(dim, descending, stable=True),
         torch.argsort(tt(a), dim=dim, descending=descending, stable=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32, np.uint8,
                                   np.bool_])
def test_sort_keeps_the_dtype(dtype):
    a = (ties((3, 4, 5), seed=2) + 3).astype(dtype)
    for dim in (0, 1, 2):
        for descending in (False, True):
            v, i = sorix.sort(sorix.tensor(a), dim=dim, descending=descending)
            tv, ti = torch.sort(tt(a), dim=dim, descending=descending, stable=True)
            same(v, tv)
            same(i, ti)


def test_sort_result_is_a_named_tuple():
    out = sorix.tensor([3.0, 1.0, 2.0]).sort()
    values, indices = out
    assert out.values is values and out.indices is indices and out[0] is values
    assert indices.dtype == sorix.int64 and indices.tolist() == [1, 2, 0]
    assert type(out).__name__ == "SortResult"


def test_sort_0d_and_empty():
    v, i = sorix.tensor(3.0).sort()
    same(v, torch.sort(torch.tensor(3.0)).values)
    same(i, torch.sort(torch.tensor(3.0)).indices)
    for shape, dim in [((0,), 0), ((2, 0), 1), ((0, 3), 1), ((0, 3), 0)]:
        a = np.zeros(shape, np.float32)
        v, i = sorix.tensor(a).sort(dim)
        tv, ti = torch.sort(tt(a), dim)
        same(v, tv)
        same(i, ti)
    with pytest.raises(IndexError, match="dimension 2"):
        sorix.tensor(np.zeros((2, 3))).sort(2)


@pytest.mark.parametrize("descending", [False, True])
def test_sort_values_gradient(descending):
    a = ties((4, 5), seed=1)
    for dim in (0, 1):
        against_torch(lambda x: x.sort(dim, descending=descending).values,
                      lambda x: torch.sort(x, dim=dim, descending=descending, stable=True).values,
                      [a], np.float64, T64)


def test_sort_values_second_order():
    a = distinct((3, 4))
    second_order(lambda x: x.sort(1, descending=True).values ** 3,
                 lambda x: torch.sort(x, 1, descending=True).values ** 3, a)


# ---- topk, kthvalue ---------------------------------------------------------------------

@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("dim", [0, -1])
def test_topk_values_indices_and_gradient(largest, dim):
    a = distinct((4, 6), seed=4)
    v, i = sorix.tensor(a).topk(3, dim, largest=largest)
    tv, ti = torch.topk(tt(a), 3, dim, largest=largest)
    same(v, tv)
    same(i, ti)
    against_torch(lambda x: x.topk(3, dim, largest).values,
                  lambda x: torch.topk(x, 3, dim, largest).values, [a], np.float64, T64)


def test_topk_with_ties_and_nan():
    a = np.array([[1.0, 3.0, 3.0, 2.0, NAN], [5.0, 5.0, 5.0, 0.0, 1.0]])
    v, i = sorix.topk(sorix.tensor(a), 3)
    same(v, torch.topk(tt(a), 3).values)
    np.testing.assert_array_equal(np.take_along_axis(a, i.data, 1), v.data)  # consistent
    assert i.tolist() == [[4, 1, 2], [0, 1, 2]]  # ties in their original order


def test_topk_edges_and_errors():
    v, i = sorix.tensor([1.0, 2.0]).topk(0)
    assert v.shape == (0,) and i.dtype == sorix.int64
    v, i = sorix.tensor(4.0).topk(1)
    same(v, torch.topk(torch.tensor(4.0), 1).values)
    same(i, torch.topk(torch.tensor(4.0), 1).indices)
    same(sorix.tensor(np.arange(6, dtype=np.int32)).topk(2).values,
         torch.topk(torch.arange(6, dtype=torch.int32), 2).values)
    with pytest.raises(RuntimeError, match=r"k=5 .* dimension 1, whose size is 3; pass 0 <= k "
                                           r"<= 3"):
        sorix.tensor(np.zeros((2, 3))).topk(5)
    with pytest.raises(RuntimeError, match="k=-1"):
        sorix.tensor(np.zeros(3)).topk(-1)


def test_topk_second_order():
    second_order(lambda x: x.topk(2, 1).values ** 3, lambda x: torch.topk(x, 2, 1).values ** 3,
                 distinct((3, 5), seed=5))


@pytest.mark.parametrize("keepdim", [False, True])
def test_kthvalue(keepdim):
    a = distinct((4, 5), seed=6)
    for k, dim in [(1, 0), (3, 1), (5, -1)]:
        v, i = sorix.tensor(a).kthvalue(k, dim, keepdim)
        tv, ti = torch.kthvalue(tt(a), k, dim, keepdim)
        same(v, tv)
        same(i, ti)
        against_torch(lambda x: x.kthvalue(k, dim, keepdim).values,
                      lambda x: torch.kthvalue(x, k, dim, keepdim).values, [a], np.float64, T64)
    with pytest.raises(RuntimeError, match="k=6"):
        sorix.tensor(a).kthvalue(6)


# ---- flip, roll ------------------------------------------------------------------------------

@pytest.mark.parametrize("dims", [0, 1, (0,), (0, 2), [2, 1, 0], (-1,), ()])
def test_flip(dims):
    a = rng(7).standard_normal((2, 3, 4))
    against_torch(lambda x: x.flip(dims), lambda x: torch.flip(x, (dims,) if isinstance(
        dims, int) else dims), [a], np.float64, T64)
    out = sorix.flip(sorix.tensor(a), dims)
    assert isinstance(out, sorix.Tensor)


def test_flip_spellings_ints_and_copies():
    a = np.arange(24).reshape(2, 3, 4)
    x = sorix.tensor(a)
    same(x.flip(0, 2), torch.flip(tt(a), (0, 2)))
    same(sorix.flip(x, dims=[1]), torch.flip(tt(a), [1]))
    same(x.flip(axis=1), torch.flip(tt(a), [1]))
    same(x.fliplr(), torch.fliplr(tt(a)))
    same(x.flipud(), torch.flipud(tt(a)))
    same(sorix.tensor(2.5).flip(0), torch.flip(torch.tensor(2.5), [0]))
    out = x.flip(0)
    out.data[...] = 0  # a copy: the input is untouched
    np.testing.assert_array_equal(x.data, a)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        sorix.tensor([1.0, 2.0]).fliplr()


@pytest.mark.parametrize("shifts, dims", [(1, None), (-4, None), (7, None), (1, 0), (-1, 1),
                                          ((1, 2), (0, 1)), ((2, -5), (2, 0)), (3, -1)])
def test_roll(shifts, dims):
    a = rng(8).standard_normal((2, 3, 4))
    against_torch(lambda x: x.roll(shifts, dims), lambda x: torch.roll(x, shifts, dims),
                  [a], np.float64, T64)
    ints = np.arange(24).reshape(2, 3, 4)
    same(sorix.roll(sorix.tensor(ints), shifts, dims), torch.roll(tt(ints), shifts, dims))


def test_roll_edges():
    same(sorix.tensor(1.5).roll(3), torch.roll(torch.tensor(1.5), 3))
    same(sorix.tensor(np.zeros((0, 2))).roll(1, 0), torch.roll(torch.zeros(0, 2,
                                                                             dtype=torch.float64),
                                                                 1, 0))
    with pytest.raises(RuntimeError, match="one shift per dim"):
        sorix.tensor(np.zeros((2, 2))).roll((1, 2), 0)


# ---- cumsum, cumprod ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum_and_cumprod_values_and_gradients(dtype, dim):
    a = rng(9).uniform(0.5, 1.5, (3, 4)).astype(dtype)
    against_torch(lambda x: x.cumsum(dim), lambda x: torch.cumsum(x, dim), [a], dtype,
                  TOL[dtype])
    against_torch(lambda x: x.cumprod(dim), lambda x: torch.cumprod(x, dim), [a], dtype,
                  TOL[dtype])


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_])
def test_scans_of_integers_give_int64(dtype):
    a = (rng(10).integers(0, 3, (3, 4))).astype(dtype)
    for op in ("cumsum", "cumprod"):
        same(getattr(sorix.tensor(a), op)(1), getattr(torch, op)(tt(a), 1))
    same(sorix.tensor(a).cumsum(0, dtype=sorix.float64), torch.cumsum(tt(a), 0,
                                                                      dtype=torch.float64))


def test_scans_0d_empty_and_dtype_argument():
    for op in ("cumsum", "cumprod"):
        same(getattr(sorix.tensor(2.5), op)(0), getattr(torch, op)(torch.tensor(2.5), 0))
        same(getattr(sorix.tensor(np.zeros((0, 3))), op)(1),
             getattr(torch, op)(torch.zeros(0, 3, dtype=torch.float64), 1))
        a = np.array([1.5, 2.5], np.float32)
        same(getattr(sorix.tensor(a), op)(0, dtype=sorix.float64),
             getattr(torch, op)(tt(a), 0, dtype=torch.float64))
        with pytest.raises(TypeError, match="needs a dimension"):
            getattr(sorix.tensor(a), op)()


@pytest.mark.parametrize("row", [[2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 3.0, -1.5],
                                 [2.0, 3.0, -1.5, 0.0], [2.0, 0.0, 3.0, 0.0],
                                 [0.0, 0.0, 0.0, 0.0], [1.5, 0.0, 0.0, 2.0]])
def test_cumprod_gradient_with_zeros(row):
    a = np.array([row, [1.5, -2.0, 0.5, 3.0], row[::-1]])
    for dim in (1, 0):
        against_torch(lambda x: x.cumprod(dim), lambda x: torch.cumprod(x, dim), [a],
                      np.float64, T64)


def test_scans_second_order():
    a = rng(11).uniform(0.5, 1.5, (3, 4)) * np.array([1, -1, 1, -1])
    second_order(lambda x: x.cumsum(1) ** 3, lambda x: torch.cumsum(x, 1) ** 3, a)
    second_order(lambda x: x.cumprod(1), lambda x: torch.cumprod(x, 1), a)
    second_order(lambda x: x.cumprod(0) ** 2, lambda x: torch.cumprod(x, 0) ** 2, a)


@pytest.mark.parametrize("row", [[2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 0.0, -1.5],
                                 [1.5, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
def test_cumprod_second_order_with_zeros(row):
    # after a row's first zero z the gradient is x_z * (something): zero, but its
    # derivative in x_z is not (PyTorch's second derivative is exact there too)
    a = np.array([row, [1.5, -2.0, 0.5, 3.0], row[::-1]])
    second_order(lambda x: x.cumprod(1), lambda x: torch.cumprod(x, 1), a)
    second_order(lambda x: x.cumprod(0), lambda x: torch.cumprod(x, 0), a.T.copy())


# ---- prod --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (1, True), (-1, False)])
def test_prod_values_and_gradient(dim, keepdim):
    a = rng(12).uniform(0.5, 1.5, (3, 4)) * np.array([1, -1, 1, 1])
    if dim is None:
        s_fn, t_fn = (lambda x: x.prod()), (lambda x: torch.prod(x))
    else:
        s_fn = lambda x: x.prod(dim, keepdim)  # noqa: E731
        t_fn = lambda x: torch.prod(x, dim, keepdim)  # noqa: E731
    against_torch(s_fn, t_fn, [a], np.float64, T64)
    against_torch(s_fn, t_fn, [a.astype(np.float32)], np.float32, TOL[np.float32])


@pytest.mark.parametrize("zeros", [1, 2, 3])
def test_prod_gradient_with_zeros(zeros):
    a = rng(13).uniform(0.5, 1.5, (3, 5))
    a[0, :zeros] = 0.0  # row 0: that many zeros; row 2 keeps none
    a[1, 4 - zeros + 1:] = 0.0
    against_torch(lambda x: x.prod(1), lambda x: torch.prod(x, 1), [a], np.float64, T64)
    against_torch(lambda x: x.prod(0), lambda x: torch.prod(x, 0), [a], np.float64, T64)
    against_torch(lambda x: x.prod(), lambda x: torch.prod(x), [a], np.float64, T64)
    x = leaf(a)
    x.prod(1).sum().backward()
    if zeros == 1:  # only the zero gets a gradient: the product of the others
        assert np.count_nonzero(x.grad.data[0]) == 1 and x.grad.data[0, 0] != 0
    else:
        assert not x.grad.data[0].any()


def test_prod_over_several_dims_and_dtypes():
    a = rng(14).uniform(0.5, 1.5, (2, 3, 4))
    a[1, 2, 0] = 0.0
    x = leaf(a)
    x.prod((0, 2)).sum().backward()
    tx = torch.tensor(a, requires_grad=True)
    tx.prod(2).prod(0).sum().backward()
    same(x.grad, tx.grad)
    for dtype in (np.int32, np.uint8, np.bool_, np.int64):
        b = rng(15).integers(0, 3, (2, 3)).astype(dtype)
        same(sorix.tensor(b).prod(), torch.prod(tt(b)))
        same(sorix.tensor(b).prod(1), torch.prod(tt(b), 1))
    same(sorix.tensor(np.ones(3, np.float32)).prod(dtype=sorix.float64),
         torch.prod(torch.ones(3), dtype=torch.float64))
    same(sorix.tensor(2.5).prod(), torch.prod(torch.tensor(2.5)))
    same(sorix.tensor(np.zeros((0, 3))).prod(0), torch.prod(torch.zeros(0, 3,
                                                                         dtype=torch.float64), 0))


def test_prod_second_order():
    a = rng(16).uniform(0.5, 1.5, (3, 4))
    second_order(lambda x: x.prod(1), lambda x: torch.prod(x, 1), a)
    a[0, 1] = 0.0
    a[1, 0] = a[1, 3] = 0.0
    second_order(lambda x: x.prod(1), lambda x: torch.prod(x, 1), a)


# ---- logsumexp ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dim, keepdim", [(1, False), (0, True), ((0, 1), False), (-1, True)])
def test_logsumexp(dtype, dim, keepdim):
    a = (rng(17).standard_normal((3, 4)) * 3).astype(dtype)
    a[1] += 1000.0  # exp would overflow without the shift
    # (float32: PyTorch's gradient exp(x - result) loses digits near 1000, this one does not)
    tol = dict(rtol=1e-4, atol=1e-6) if dtype == np.float32 else T64
    against_torch(lambda x: x.logsumexp(dim, keepdim), lambda x: torch.logsumexp(x, dim, keepdim),
                  [a], dtype, tol)


def test_logsumexp_gradient_is_softmax_and_edges():
    a = rng(18).standard_normal((2, 5))
    x = leaf(a)
    x.logsumexp(1).sum().backward()
    np.testing.assert_allclose(x.grad.data, torch.softmax(tt(a), 1).numpy(), **T64)
    inf = np.array([[-np.inf, -np.inf], [1.0, -np.inf], [np.inf, 1.0]])
    same(sorix.tensor(inf).logsumexp(1), torch.logsumexp(tt(inf), 1))
    same(sorix.tensor(np.array([1, 2])).logsumexp(0), torch.logsumexp(torch.tensor([1, 2]), 0))
    same(sorix.tensor(2.0).logsumexp(0), torch.logsumexp(torch.tensor(2.0), 0))
    same(sorix.tensor(np.zeros((0, 3))).logsumexp(0),
         torch.logsumexp(torch.zeros(0, 3, dtype=torch.float64), 0))
    same(sorix.tensor(np.zeros((2, 0))).logsumexp(1, keepdims=True),
         torch.logsumexp(torch.zeros(2, 0, dtype=torch.float64), 1, keepdim=True))
    second_order(lambda x: x.logsumexp(1), lambda x: torch.logsumexp(x, 1), a)


# ---- norm ------------------------------------------------------------------------------------

P_VALUES = ["fro", 2, 1, 3, 0.5, 1.5, math.inf, -math.inf, 0, -1]


@pytest.mark.parametrize("p", P_VALUES)
@pytest.mark.parametrize("dim, keepdim", [(None, False), (1, False), (0, True), ((0, 1), True)])
def test_norm(p, dim, keepdim):
    a = distinct((3, 4), seed=19)
    against_torch(lambda x: x.norm(p, dim, keepdim), lambda x: torch.norm(x, p, dim, keepdim),
                  [a], np.float64, T64)
    b = a.astype(np.float32)
    same(sorix.norm(sorix.tensor(b), p, dim, keepdim), torch.norm(tt(b), p, dim, keepdim))


@pytest.mark.parametrize("p", ["fro", 2, 1, 3, math.inf])
def test_norm_gradient_at_zero_is_zero(p):
    x = leaf(np.zeros((2, 3)))
    x.norm(p).backward()
    tx = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    torch.norm(tx, p).backward()
    same(x.grad, tx.grad)
    assert not np.isnan(x.grad.data).any()
    # one row of zeros among non-zero rows
    a = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
    against_torch(lambda x: x.norm(p, 1), lambda x: torch.norm(x, p, 1), [a], np.float64, T64)


def test_norm_ties_dtypes_and_errors():
    a = np.array([[3.0, -3.0, 1.0], [2.0, 2.0, -2.0]])  # the inf norm's maxima tie
    for p in (math.inf, -math.inf):
        against_torch(lambda x: x.norm(p, 1), lambda x: torch.norm(x, p, 1), [a], np.float64,
                      T64)
    same(sorix.tensor(a.astype(np.float32)).norm(dtype=sorix.float64),
         torch.norm(tt(a.astype(np.float32)), dtype=torch.float64))
    same(sorix.tensor(np.zeros(0)).norm(), torch.norm(torch.zeros(0, dtype=torch.float64)))
    same(sorix.tensor(-2.0).norm(), torch.norm(torch.tensor(-2.0)))
    with pytest.raises(RuntimeError, match="floating point"):
        sorix.tensor(np.array([1, 2])).norm()
    with pytest.raises(NotImplementedError, match="nuc"):
        sorix.tensor(a).norm("nuc")
    with pytest.raises(RuntimeError, match="size 0"):
        sorix.tensor(np.zeros(0)).norm(math.inf)


@pytest.mark.parametrize("p", [2, 1.5, 3])
def test_norm_second_order(p):
    second_order(lambda x: x.norm(p, 1), lambda x: torch.norm(x, p, 1), distinct((3, 4), 20))


# ---- amax, amin --------------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["amax", "amin"])
@pytest.mark.parametrize("dim, keepdim", [((), False), (0, False), (1, True), ((0, 2), False),
                                          ([-1], True)])
def test_amax_amin_share_the_gradient_among_ties(op, dim, keepdim):
    a = ties((3, 4, 2), seed=21)
    against_torch(lambda x: getattr(x, op)(dim, keepdim),
                  lambda x: getattr(torch, op)(x, dim, keepdim), [a], np.float64, T64)


def test_amax_spellings_ints_errors_and_second_order():
    a = ties((3, 4), seed=22)
    x = sorix.tensor(a)
    same(x.amax(axis=1, keepdims=True), torch.amax(tt(a), 1, keepdim=True))
    same(sorix.amin(x, 0), torch.amin(tt(a), 0))
    b = a.astype(np.int32)
    same(sorix.tensor(b).amax(1), torch.amax(tt(b), 1))
    same(sorix.tensor(2.0).amax(), torch.amax(torch.tensor(2.0)))
    with pytest.raises(IndexError):
        sorix.tensor(np.zeros((2, 0))).amax(1)
    second_order(lambda x: x.amax(1) ** 3, lambda x: torch.amax(x, 1) ** 3, a)


# ---- nansum, nanmean, count_nonzero ------------------------------------------------------

@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (1, True), ((0, 1), False)])
def test_nansum_nanmean(dim, keepdim):
    a = rng(23).standard_normal((3, 4))
    a[0, 1] = a[2, 3] = a[2, 0] = NAN
    for op in ("nansum", "nanmean"):
        if dim is None:
            s_fn, t_fn = (lambda x: getattr(x, op)()), (lambda x: getattr(torch, op)(x))
        else:
            s_fn = lambda x: getattr(x, op)(dim, keepdim)  # noqa: E731
            t_fn = lambda x: getattr(torch, op)(x, dim, keepdim)  # noqa: E731
        against_torch(s_fn, t_fn, [a], np.float64, T64)


def test_nan_reductions_dtypes_and_edges():
    b = np.array([[1, 2], [3, 4]], np.int32)
    same(sorix.tensor(b).nansum(), torch.nansum(tt(b)))
    same(sorix.tensor(b).nansum(1, dtype=sorix.float32), torch.nansum(tt(b), 1,
                                                                      dtype=torch.float32))
    nans = np.array([NAN, NAN])
    same(sorix.tensor(nans).nanmean(), torch.nanmean(tt(nans)))
    same(sorix.tensor(b).nanmean(dtype=sorix.float64), torch.nanmean(tt(b).double()))
    with pytest.raises(RuntimeError, match="floating point"):
        sorix.tensor(b).nanmean()


def test_count_nonzero():
    a = np.array([[0.0, 1.5, -0.0], [2.0, 0.0, NAN]])
    for dim in (None, 0, 1, (0, 1)):
        same(sorix.tensor(a).count_nonzero(dim), torch.count_nonzero(tt(a), dim))
    x = leaf(a)
    assert not x.count_nonzero().requires_grad
    same(sorix.count_nonzero(sorix.tensor(np.array([True, False, True]))),
         torch.count_nonzero(torch.tensor([True, False, True])))
    same(sorix.tensor(0.0).count_nonzero(), torch.count_nonzero(torch.tensor(0.0)))


# ---- diff ------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, dim", [(1, -1), (2, -1), (1, 0), (3, 1), (0, 1)])
def test_diff(n, dim):
    a = rng(24).standard_normal((3, 4))
    against_torch(lambda x: x.diff(n, dim), lambda x: torch.diff(x, n, dim), [a], np.float64, T64)
    ints = np.array([[1, 4, 9, 16], [3, 1, 4, 1], [0, 0, 1, 1]], np.int32)
    same(sorix.diff(sorix.tensor(ints), n, dim), torch.diff(tt(ints), n, dim))


def test_diff_prepend_append_bool_and_errors():
    a = rng(25).standard_normal((2, 3))
    pre, post = rng(26).standard_normal((2, 1)), rng(27).standard_normal((2, 2))
    same(sorix.tensor(a).diff(prepend=sorix.tensor(pre), append=sorix.tensor(post)),
         torch.diff(tt(a), prepend=tt(pre), append=tt(post)))
    flags = np.array([True, False, False, True])
    same(sorix.tensor(flags).diff(), torch.diff(tt(flags)))
    with pytest.raises(RuntimeError, match="at least one dimension"):
        sorix.tensor(1.0).diff()


# ---- surface: functions on arrays, docs, the input left alone ----------------------------------

def test_functions_on_numpy_arrays_return_arrays():
    a = np.array([[3.0, 1.0, 2.0], [0.5, -1.0, 4.0]])
    cases = {"sort": (), "argsort": (), "topk": (2,), "kthvalue": (1,), "flip": ((0,),),
             "fliplr": (), "flipud": (), "roll": (1,), "cumsum": (1,), "cumprod": (0,),
             "prod": (), "diff": (), "logsumexp": (1,), "norm": (), "amax": (), "amin": (0,),
             "nansum": (), "nanmean": (1,), "count_nonzero": ()}
    for name, args in cases.items():
        out = getattr(sorix, name)(a, *args)
        parts = out if isinstance(out, tuple) else (out,)
        assert all(isinstance(p, np.ndarray) for p in parts), name
        expected = getattr(torch, name)(tt(a), *args)
        expected = expected if isinstance(expected, tuple) else (expected,)
        for p, e in zip(parts, expected):
            np.testing.assert_allclose(p, e.numpy(), **T64, err_msg=name)


def test_functions_are_documented_and_inputs_untouched():
    from sorix.tensor_ordering import FUNCTIONS
    for name in FUNCTIONS:
        doc = getattr(sorix, name).__doc__
        assert doc and doc.startswith(name + "("), name
        assert hasattr(torch, name), name
    a = ties((3, 4), seed=28)
    a[0, 0] = 0.0
    x = leaf(a)
    outs = [x.sort(1).values, x.topk(2).values, x.flip(0), x.roll(1, 1), x.cumsum(1),
            x.cumprod(1), x.prod(1), x.logsumexp(1), x.norm(), x.amax(1), x.nansum(),
            x.diff()]
    sum(o.sum() for o in outs).backward()
    np.testing.assert_array_equal(x.data, a)
