"""pad, one_hot, normalize, cosine_similarity and pairwise_distance (sorix.ops.padding and
sorix.ops.similarity) against PyTorch: values, dtypes, first and second derivatives, errors."""
import numpy as np
import pytest

import sorix
from conftest import against_torch, leaf
from sorix.ops.padding import one_hot, pad
from sorix.ops.similarity import cosine_similarity, normalize, pairwise_distance
from test_selection import TOL, normal, second_order

torch = pytest.importorskip("torch")
TF = torch.nn.functional

PAD_CASES = [
    ("constant", (2, 3, 4), (1, 2)),
    ("constant", (2, 3, 4), (1, 0, 2, 1, 0, 1)),
    ("constant", (2, 3, 4), (-1, 2, 0, -2)),
    ("constant", (3,), (2, 1)),
    ("reflect", (2, 4), (2, 3)),
    ("reflect", (1, 2, 4), (3, 1)),
    ("reflect", (1, 3, 4), (1, 2, 2, 0)),
    ("reflect", (1, 2, 3, 3, 4), (1, 1, 2, 0, 1, 2)),
    ("reflect", (1, 2, 5), (-1, 2)),
    ("replicate", (2, 3), (3, 2)),
    ("replicate", (1, 2, 3, 4), (2, 1, 0, 3)),
    ("replicate", (2, 2, 2, 3), (1, 1, 1, 1, 1, 1)),
    ("circular", (1, 2, 4), (4, 2)),
    ("circular", (2, 3, 4), (1, 3, 2, 1)),
    ("circular", (1, 1, 2, 3, 3), (1, 2, 1, 1, 0, 2)),
]


@pytest.mark.parametrize("mode,shape,amounts", PAD_CASES)
def test_pad_against_torch(mode, shape, amounts):
    against_torch(lambda x: pad(x, amounts, mode=mode), lambda x: TF.pad(x, amounts, mode=mode),
                  [normal(*shape)], sorix.float64, TOL)
    second_order(lambda x: pad(x, amounts, mode=mode), lambda x: TF.pad(x, amounts, mode=mode),
                 [normal(*shape, seed=3)])


@pytest.mark.parametrize("value", [2.5, -1, float("inf")])
def test_pad_constant_value(value):
    against_torch(lambda x: pad(x, (1, 2, 2, 0), value=value),
                  lambda x: TF.pad(x, (1, 2, 2, 0), value=value), [normal(2, 3)], sorix.float64,
                  TOL)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.float32])
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_keeps_the_dtype(dtype, mode):
    a = (np.arange(12).reshape(1, 3, 4) % 3).astype(dtype)
    value = dict(value=2.5) if mode == "constant" and dtype != np.bool_ else {}
    try:
        expected = TF.pad(torch.tensor(a), (2, 1), mode=mode, **value)
    except (RuntimeError, NotImplementedError):
        pytest.skip("PyTorch has no such padding for this dtype")
    out = pad(sorix.tensor(a), (2, 1), mode=mode, **value)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.data, expected.numpy())


def test_pad_of_arrays_and_empty():
    out = pad(np.ones((2, 2)), (1, 1))
    assert out.shape == (2, 4)
    assert pad(sorix.zeros(0, 3), (1, 1)).shape == (0, 5)
    assert pad(sorix.zeros(2, 3), (-2, -1)).shape == (2, 0)
    x = sorix.zeros(2, 3)
    pad(x, (1, 1), value=5.0).data[...] = 9
    assert (x.data == 0).all()  # a new tensor, never the input


@pytest.mark.parametrize("call,error,words", [
    (lambda x: pad(x, (1,)), RuntimeError, "even"),
    (lambda x: pad(x, (1, 1) * 4), RuntimeError, "only 3"),
    (lambda x: pad(x, (1, 1), mode="mirror"), NotImplementedError, "unknown mode 'mirror'"),
    (lambda x: pad(x, (1, 1), mode="reflect", value=1.0), RuntimeError, "takes no value"),
    (lambda x: pad(x, (3, 0), mode="reflect"), RuntimeError, "smaller than the size 3"),
    (lambda x: pad(x, (4, 0), mode="circular"), RuntimeError, "more than once"),
    (lambda x: pad(x[0, 0], (1, 1), mode="replicate"), NotImplementedError, "2-D or 3-D input"),
    (lambda x: pad(x, (1, 1) * 3, mode="replicate"), NotImplementedError, "4-D or 5-D"),
    (lambda x: pad(x, (-3, -1)), RuntimeError, "negative size"),
    (lambda x: pad(sorix.zeros(1, 1, 0), (1, 0), mode="replicate"), RuntimeError, "empty"),
])
def test_pad_errors(call, error, words):
    with pytest.raises(error, match=words):
        call(sorix.zeros(1, 2, 3))


# ---- one_hot ---------------------------------------------------------------------------------

@pytest.mark.parametrize("values,classes", [([0, 2, 1], -1), ([[1], [0]], 4), (3, 5),
                                            (np.zeros((0,), np.int64), 3)])
def test_one_hot(values, classes):
    expected = TF.one_hot(torch.tensor(values), classes)
    out = one_hot(sorix.tensor(values), classes)
    assert out.dtype == sorix.int64 and out.shape == tuple(expected.shape)
    np.testing.assert_array_equal(out.data, expected.numpy())
    assert one_hot(sorix.tensor(values, dtype=sorix.int32), classes).dtype == sorix.int64


@pytest.mark.parametrize("values,classes,words", [
    ([0, -1], -1, "non-negative, got -1"),
    ([0, 3], 3, "class value 3 is not smaller than num_classes=3"),
    (np.zeros(0, np.int64), -1, "empty"),
    ([0.0, 1.0], -1, "integer class indices"),
    ([0], -2, "positive"),
])
def test_one_hot_errors(values, classes, words):
    with pytest.raises(RuntimeError, match=words):
        one_hot(sorix.tensor(values), classes)


# ---- normalize, cosine_similarity, pairwise_distance --------------------------------------------

SIMILARITY_CASES = {
    "normalize": (lambda x: normalize(x), lambda x: TF.normalize(x), [(3, 4)]),
    "normalize_p1_dim0": (lambda x: normalize(x, p=1, dim=0), lambda x: TF.normalize(x, p=1, dim=0),
                          [(3, 4)]),
    "normalize_p3": (lambda x: normalize(x, p=3.0, dim=-1),
                     lambda x: TF.normalize(x, p=3.0, dim=-1), [(2, 3, 4)]),
    "normalize_inf": (lambda x: normalize(x, p=float("inf")),
                      lambda x: TF.normalize(x, p=float("inf")), [(2, 5)]),
    "cosine": (lambda a, b: cosine_similarity(a, b), lambda a, b: TF.cosine_similarity(a, b),
               [(3, 4), (3, 4)]),
    "cosine_broadcast": (lambda a, b: cosine_similarity(a, b, dim=-1),
                         lambda a, b: TF.cosine_similarity(a, b, dim=-1), [(4,), (2, 3, 4)]),
    "pairwise": (lambda a, b: pairwise_distance(a, b), lambda a, b: TF.pairwise_distance(a, b),
                 [(3, 4), (3, 4)]),
    "pairwise_p1_keepdim": (lambda a, b: pairwise_distance(a, b, p=1, keepdim=True),
                            lambda a, b: TF.pairwise_distance(a, b, p=1, keepdim=True),
                            [(3, 4), (4,)]),
    "pairwise_p3_1d": (lambda a, b: pairwise_distance(a, b, p=3),
                       lambda a, b: TF.pairwise_distance(a, b, p=3), [(5,), (5,)]),
}


@pytest.mark.parametrize("name", sorted(SIMILARITY_CASES))
def test_similarity_against_torch(name):
    s_fn, t_fn, shapes = SIMILARITY_CASES[name]
    arrays = [normal(*shape, seed=k) for k, shape in enumerate(shapes)]
    against_torch(s_fn, t_fn, arrays, sorix.float64, TOL)
    second_order(s_fn, t_fn, [normal(*shape, seed=k + 7) for k, shape in enumerate(shapes)])


def test_zero_and_tiny_vectors_match_torch():
    """A zero row: PyTorch's gradient is finite (the norm's derivative there is 0); a row
    with a norm below eps: each norm clamped on its own, its gradient unclamped."""
    a = np.array([[0.0, 0.0, 0.0], [1e-10, 2e-10, -1e-10], [1.0, 2.0, 3.0]])
    b = normal(3, 3)
    for s_fn, t_fn in [(cosine_similarity, TF.cosine_similarity),
                       (lambda x, y: normalize(x) * y, lambda x, y: TF.normalize(x) * y),
                       (lambda x, y: pairwise_distance(x, y * 0 + 1e-6),
                        lambda x, y: TF.pairwise_distance(x, y * 0 + 1e-6))]:
        out = against_torch(s_fn, t_fn, [a, b], sorix.float64, dict(rtol=1e-9, atol=1e-12))
        assert np.isfinite(out.data).all()


def test_float32_and_integer_inputs():
    a, b = normal(2, 3).astype(np.float32), normal(2, 3, seed=1).astype(np.float32)
    against_torch(cosine_similarity, TF.cosine_similarity, [a, b], sorix.float32,
                  dict(rtol=1e-5, atol=1e-6))
    mixed = cosine_similarity(sorix.tensor(a), sorix.tensor(b.astype(np.float64)))
    assert mixed.dtype == sorix.float64
    assert normalize(sorix.tensor([[3, 4]])).dtype == sorix.float32


def test_similarity_errors():
    with pytest.raises(IndexError, match="dim 1 is out of range"):
        normalize(sorix.zeros(3))
    with pytest.raises(RuntimeError, match="do not broadcast"):
        cosine_similarity(sorix.zeros(2, 3), sorix.zeros(2, 4))


def test_norm_orders_zero_and_negative_as_torch():
    # the norm is Tensor.norm's: p=0 counts the nonzero elements, negative p as torch
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    a = np.array([[1.0, -2.0, 0.0], [0.5, 3.0, -1.5]])
    b = np.array([[0.0, 1.0, 0.0], [0.5, -1.0, 2.0]])
    for p in (0, -1, 0.5, 3):
        np.testing.assert_allclose(
            pairwise_distance(sorix.tensor(a), sorix.tensor(b), p=p).data,
            TF.pairwise_distance(torch.tensor(a), torch.tensor(b), p=p).numpy(), rtol=1e-12)
    np.testing.assert_allclose(normalize(sorix.tensor(a), p=0).data,
                               TF.normalize(torch.tensor(a), p=0).numpy(), rtol=1e-12)


def test_gradient_flows_through_normalize_into_a_leaf():
    x = leaf(normal(2, 3))
    (normalize(x) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.data, 0, atol=1e-12)  # unit rows: no change of length
