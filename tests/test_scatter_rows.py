"""The gradient of a gather of whole rows (x[index] with one integer array): rows added
into the rows they were read from, repeated rows accumulating, against np.add.at."""
import numpy as np
import pytest

import sorix


def reference(shape, index, g):
    out = np.zeros(shape, np.float64)
    np.add.at(out, index, g.astype(np.float64))
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, index", [
    ((10, 4), [3, 3, 0, 9, 3, -1, -10]),            # repeats and negative rows
    ((10,), [1, 1, 2]),                              # 1-D: single values
    ((6, 3, 2), [[0, 5, 5], [2, 0, -6]]),            # a 2-D index of 3-D rows
    ((5, 2), []),                                    # nothing gathered
    ((4096, 64), np.random.default_rng(2).integers(-4096, 4096, 3000)),
])
def test_row_gather_gradient_adds_repeated_rows(shape, index, dtype):
    rng = np.random.default_rng(1)
    index = np.asarray(index, dtype=np.int64)
    x = sorix.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
    y = x[index]
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(sorix.tensor(g))
    assert x.grad.dtype == dtype and x.grad.shape == shape
    np.testing.assert_allclose(x.grad.data, reference(shape, index, g),
                               rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-6)


def test_other_indices_keep_numpys_rules():
    # a boolean mask and two index arrays are not row gathers: np.add.at's path
    x = sorix.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    (x[np.array([True, False, True])].sum() + x[np.array([0, 0]), np.array([1, 1])].sum()
     ).backward()
    want = np.zeros((3, 4))
    want[[0, 2]] += 1
    want[0, 1] += 2
    np.testing.assert_array_equal(x.grad.data, want)


def test_a_row_out_of_range_raises_instead_of_writing_past_the_array():
    from sorix.kernels import cpu
    g = np.ones((2, 3), np.float32)
    for index in ([0, 4], [-5, 1]):
        with pytest.raises(IndexError):
            cpu.scatter_add((4, 3), np.array(index), g)
