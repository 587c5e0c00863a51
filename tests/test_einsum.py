"""sorix.einsum against torch.einsum: values and gradients (float64 and float32) over many
equations (matmul, batches, bilinear forms, traces, diagonals, ellipses that broadcast,
size-1 broadcasting, three operands, scalars), a second-order gradient, the operand
forms, and the errors for malformed equations."""
import numpy as np
import pytest

import sorix

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}

EQUATIONS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),                    # matmul
    ("ij,jk", [(2, 3), (3, 4)]),                        # implicit output
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),           # batched matmul
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),     # bilinear
    ("i,j->ij", [(2,), (3,)]),                          # outer
    ("ii", [(3, 3)]),                                   # trace
    ("ii->i", [(3, 3)]),                                # diagonal
    ("ij->ji", [(2, 3)]),                               # transpose
    ("ij->", [(2, 3)]),                                 # sum of all
    ("ij->j", [(2, 3)]),                                # sum over one index
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 4)]),  # ellipsis, broadcast batches
    ("...ij->ij", [(4, 2, 3)]),                         # ellipsis summed away
    ("i...->...", [(2, 3, 4)]),
    ("...", [(2, 3)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),         # three operands
    ("a,a,a->a", [(3,), (3,), (3,)]),
    ("ab,cd,ef->", [(2, 2), (2, 3), (1, 2)]),
    ("iij->j", [(2, 2, 3)]),                            # repeated index in one operand
    ("iji->j", [(2, 3, 2)]),
    ("ijk,ikj->i", [(2, 3, 3), (2, 3, 3)]),
    ("ij,ij->i", [(2, 1), (2, 3)]),                     # size-1 broadcast
    ("ij,jk", [(2, 1), (3, 4)]),                        # size-1 broadcast of a summed index
    (",->", [(), ()]),                                  # scalars
    ("i,->i", [(3,), ()]),
    ("bA", [(2, 3)]),                                   # capitals sort first (implicit)
    (" i j , j k -> i k ", [(2, 3), (3, 4)]),           # spaces
    ("ij,jk->ik", [(2, 0), (0, 3)]),                    # empty contraction: zeros
    ("bij,bkj->bik", [(3, 2, 4), (1, 2, 4)]),           # broadcast batch index
]


def _arrays(shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("equation, shapes", EQUATIONS)
def test_values_and_gradients_match_torch(equation, shapes, dtype):
    arrays = _arrays(shapes, dtype)
    xs = [sorix.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = sorix.einsum(equation, *xs), torch.einsum(equation, *ts)
    assert tuple(out.shape) == tuple(ref.shape)
    assert out.data.dtype == dtype
    np.testing.assert_allclose(out.data, ref.detach().numpy(), **TOL[dtype])
    up = np.random.default_rng(1).standard_normal(tuple(ref.shape)).astype(dtype)
    out.backward(sorix.tensor(up))
    ref.backward(torch.tensor(up))
    for i, (x, t) in enumerate(zip(xs, ts)):
        np.testing.assert_allclose(x.grad.data, t.grad.numpy(), err_msg=f"operand {i}",
                                   **TOL[dtype])


def test_second_order_gradient_matches_torch():
    a, b = _arrays([(2, 3), (3, 3)], np.float64, seed=3)
    x, y = sorix.tensor(a, requires_grad=True), sorix.tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)

    def f(lib, p, q):
        return (lib.einsum("ij,jk,ik->i", p, q, p) ** 2).sum()
    gx, = sorix.autograd.grad(f(sorix, x, y), x, create_graph=True)
    tgx, = torch.autograd.grad(f(torch, tx, ty), tx, create_graph=True)
    np.testing.assert_allclose(gx.data, tgx.detach().numpy(), **TOL[np.float64])
    hy, = sorix.autograd.grad(gx.sum(), y)
    thy, = torch.autograd.grad(tgx.sum(), ty)
    np.testing.assert_allclose(hy.data, thy.numpy(), **TOL[np.float64])


def test_operands_as_a_list_and_arrays():
    a, b = _arrays([(2, 3), (3, 4)], np.float64)
    expected = a @ b
    listed = sorix.einsum("ij,jk->ik", [sorix.tensor(a), sorix.tensor(b)])
    np.testing.assert_allclose(listed.data, expected)
    np.testing.assert_allclose(sorix.einsum("ij,jk->ik", (sorix.tensor(a), b)).data, expected)
    plain = sorix.einsum("ij,jk->ik", a, b)  # arrays in: an array out, as sorix's functions
    assert isinstance(plain, np.ndarray)
    np.testing.assert_allclose(plain, expected)


def test_integer_operands():
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    out = sorix.einsum("ij,kj->ik", sorix.tensor(a), sorix.tensor(a))
    assert out.data.dtype == np.int64
    np.testing.assert_array_equal(out.data, a @ a.T)


def test_identity_equation_is_a_new_tensor():
    x = sorix.tensor(np.ones((2, 2)), requires_grad=True)
    y = sorix.einsum("ij->ij", x)
    assert y is not x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 2)))


@pytest.mark.parametrize("equation, shapes, message", [
    ("i$", [(2, 2)], "invalid subscript '\\$'"),
    ("ij,jk", [(2, 3)], "fewer operands \\(1\\)"),
    ("i,i", [(2,), (2,), (2,)], "more operands \\(3\\)"),
    ("ij,jk", [(2, 2), (3, 4)], "subscript j has size 3 for operand 1"),
    ("ii->i", [(1, 3)], "repeated for operand 0 but the sizes don't match"),
    ("ij->k", [(2, 3)], "output subscript k does not appear"),
    ("ij->ii", [(2, 3)], "output subscript i appears more than once"),
    ("ijk", [(2, 3)], "has 3 subscripts but operand 0 has 2"),
    ("ijk...", [(2, 3)], "has only 2 dimensions"),
    ("i..j", [(2, 3)], "not part of an ellipsis"),
    ("i...j...", [(2, 3)], "more than one ellipsis"),
    ("ij->j->", [(2, 3)], "more than one '->'"),
    ("...i,...i", [(2, 3), (4, 3)], "does not broadcast"),
])
def test_errors_name_the_problem(equation, shapes, message):
    ops = [sorix.tensor(a) for a in _arrays(shapes, np.float64)]
    with pytest.raises(RuntimeError, match=message):
        sorix.einsum(equation, *ops)


def test_no_operands_and_bad_equation_type():
    with pytest.raises(RuntimeError, match="at least one operand"):
        sorix.einsum("i")
    with pytest.raises(TypeError, match="must be a string"):
        sorix.einsum(3, sorix.ones(2))


def test_contracts_through_matmul_not_an_outer_product():
    """A chain of three 40x40 matrices: a full outer product would hold 40**4 elements."""
    mats = _arrays([(40, 40)] * 3, np.float64, seed=5)
    out = sorix.einsum("ij,jk,kl->il", *[sorix.tensor(m) for m in mats])
    np.testing.assert_allclose(out.data, mats[0] @ mats[1] @ mats[2], rtol=1e-10, atol=1e-10)
