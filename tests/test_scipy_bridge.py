"""ScipyBridge: flat float64 views of sorix parameters for scipy.optimize.minimize(jac=True)."""
import numpy as np
import pytest

import sorix
from sorix.optim.scipy_bridge import ScipyBridge


def _rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def test_get_x_is_a_float64_concatenation():
    a = sorix.tensor(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), requires_grad=True)
    b = sorix.tensor(np.array([5.5, 6.5, 7.5]), requires_grad=True)
    bridge = ScipyBridge([a, b], lambda: (a.sum() + b.sum()))
    x = bridge.get_x()
    assert x.dtype == np.float64 and x.shape == (7,)
    np.testing.assert_array_equal(x, [1, 2, 3, 4, 5.5, 6.5, 7.5])
    x[0] = 100.0  # a copy: editing it does not touch the parameter
    assert a.data[0, 0] == 1.0


def test_set_x_writes_in_place_and_keeps_dtypes():
    a = sorix.tensor(np.zeros((2, 2), np.float32), requires_grad=True)
    b = sorix.tensor(np.zeros(3), requires_grad=True)
    array_a, array_b = a.data, b.data
    bridge = ScipyBridge([a, b], lambda: a.sum())
    bridge.set_x(np.arange(7.0))
    assert a.data is array_a and b.data is array_b
    assert a.data.dtype == np.float32 and b.data.dtype == np.float64
    np.testing.assert_array_equal(array_a, [[0, 1], [2, 3]])
    np.testing.assert_array_equal(array_b, [4, 5, 6])
    with pytest.raises(ValueError, match="7"):
        bridge.set_x(np.zeros(6))


def test_objective_returns_loss_and_analytic_gradient():
    w = sorix.tensor(np.zeros(3), requires_grad=True)
    target = np.array([1.0, -2.0, 0.5])
    bridge = ScipyBridge(w, lambda: ((w - sorix.tensor(target)) ** 2).sum())
    point = np.array([0.5, 0.5, 0.5])
    loss, grad = bridge.objective(point)
    assert isinstance(loss, float) and loss == pytest.approx(np.sum((point - target) ** 2))
    assert grad.dtype == np.float64
    np.testing.assert_allclose(grad, 2 * (point - target))
    # A second call does not accumulate the first call's gradient.
    _, again = bridge.objective(point)
    np.testing.assert_allclose(again, 2 * (point - target))


def test_unused_parameter_gets_zero_gradient_and_requires_grad_is_enabled():
    used = sorix.tensor([2.0], requires_grad=True)
    unused = sorix.tensor([3.0, 4.0])
    bridge = ScipyBridge([used, unused], lambda: (used * used).sum())
    assert unused.requires_grad
    loss, grad = bridge.objective(np.array([2.0, 3.0, 4.0]))
    assert loss == 4.0 and grad.tolist() == [4.0, 0.0, 0.0]


def test_rosenbrock_reaches_known_minimum_with_lbfgsb():
    optimize = pytest.importorskip("scipy.optimize")
    xy = sorix.tensor(np.array([-1.2, 1.0]), requires_grad=True)
    bridge = ScipyBridge(xy, lambda: _rosenbrock(xy[0], xy[1]))
    result = optimize.minimize(bridge.objective, bridge.get_x(), jac=True, method="L-BFGS-B",
                               options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 500})
    assert result.success
    np.testing.assert_allclose(result.x, [1.0, 1.0], atol=1e-5)
    bridge.set_x(result.x)
    np.testing.assert_allclose(xy.data, [1.0, 1.0], atol=1e-5)
    # The gradient the bridge reports agrees with the analytic one at the start point.
    _, grad = bridge.objective(np.array([-1.2, 1.0]))
    x, y = -1.2, 1.0
    np.testing.assert_allclose(grad, [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def test_rosenbrock_over_two_separate_parameters():
    optimize = pytest.importorskip("scipy.optimize")
    x = sorix.tensor(np.array([-1.5]), requires_grad=True)
    y = sorix.tensor(np.array([2.0]), requires_grad=True)
    bridge = ScipyBridge([x, y], lambda: _rosenbrock(x, y).sum())
    result = optimize.minimize(bridge.objective, bridge.get_x(), jac=True, method="L-BFGS-B",
                               options={"gtol": 1e-10, "maxiter": 500})
    np.testing.assert_allclose(result.x, [1.0, 1.0], atol=1e-4)


def test_bad_inputs():
    with pytest.raises(ValueError, match="empty"):
        ScipyBridge([], lambda: None)
    with pytest.raises(TypeError):
        ScipyBridge([np.zeros(2)], lambda: None)
    w = sorix.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        ScipyBridge(w, lambda: w * 2).objective(np.array([1.0, 2.0]))
