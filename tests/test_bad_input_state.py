"""Bad input is refused with a message that names the problem and the fix, before any
state changes: optimizers, load_state_dict, text data, label metrics, integer overflow,
ScipyBridge, init and reshape (the gaps found by the bad-input review)."""
import warnings

import numpy as np
import pytest
import torch

import sorix
from sorix import metrics, nn, optim
from sorix.nn import init
from sorix.optim import ScipyBridge
from sorix.utils.data import DataLoader, Dataset


# ---- 1. optimizers refuse parameters they cannot update, before changing anything ----------

@pytest.mark.parametrize("make", [optim.SGD, optim.Adam, optim.RMSprop])
def test_optimizer_refuses_an_int_parameter_at_construction(make):
    lin = nn.Linear(2, 1)
    scale = sorix.tensor([2], requires_grad=True)  # an int64 leaf: legal in Sorix
    with pytest.raises(TypeError, match=r"parameter 2 of parameter group 0 is sorix\.int64.*"
                                        r"\.float\(\)"):
        make([*lin.parameters(), scale], lr=0.1)


def test_add_param_group_refuses_a_half_parameter_and_keeps_the_groups():
    lin = nn.Linear(2, 1)
    opt = optim.SGD(lin.parameters(), lr=0.1)
    half = sorix.tensor([1.0, 2.0], dtype=sorix.float16, requires_grad=True)
    with pytest.raises(TypeError, match=r"parameter 0 of parameter group 1 is sorix\.float16"):
        opt.add_param_group({"params": [half]})
    assert len(opt.param_groups) == 1


def test_step_checks_every_parameter_before_updating_any():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    opt = optim.Adam(model.parameters(), lr=0.1)
    model(sorix.randn(4, 2)).sum().backward()
    model[1].half()  # the dtype changes after the optimizer was built
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(TypeError, match=r"parameter 2 of parameter group 0 is sorix\.float16"):
        opt.step()
    for p, old in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, old)  # nothing stepped
    assert opt.state == {}  # and no state was created


def test_step_checks_gradient_shapes_before_updating_any():
    a = sorix.tensor([1.0, 2.0], requires_grad=True)
    b = sorix.tensor([3.0, 4.0], requires_grad=True)
    opt = optim.SGD([a, b], lr=0.5)
    a.grad = sorix.tensor([1.0, 1.0])
    b.grad = sorix.tensor([1.0, 1.0])
    b.grad.data = np.ones(3, np.float32)  # wrong shape, past the grad setter's check
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*\(2,\).*parameter 1 of parameter"):
        opt.step()
    np.testing.assert_array_equal(a.data, [1.0, 2.0])


# ---- 2. load_state_dict: lists and numbers load; what cannot be used is never ignored ------

def test_load_state_dict_loads_lists_and_numbers():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    ckpt = {k: (v.numpy() * 0 + 7).tolist() for k, v in model.state_dict().items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = model.load_state_dict(ckpt, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for p in model.parameters():
        assert p.dtype == sorix.float32
        np.testing.assert_array_equal(p.data, np.full(p.shape, 7.0))
    bias = nn.Linear(1, 1)
    bias.load_state_dict({"W": [[2.0]], "b": np.float64(3.0) + np.zeros((1, 1))}, strict=True)
    assert bias.W.item() == 2.0 and bias.b.item() == 3.0


@pytest.mark.parametrize("value", [[1.0, 2.0], "weights", None, [[1.0], [2.0, 3.0]]],
                         ids=["wrong-shape", "text", "none", "ragged"])
def test_load_state_dict_strict_refuses_unusable_values_and_copies_nothing(value):
    model = nn.Linear(1, 1)
    old_W, old_b = model.W.data.copy(), model.b.data.copy()
    with pytest.raises(RuntimeError, match=r"(?s)Error\(s\) in loading state_dict for Linear"
                                           r".*\bW\b"):
        model.load_state_dict({"W": value, "b": [[5.0]]}, strict=True)
    np.testing.assert_array_equal(model.W.data, old_W)
    np.testing.assert_array_equal(model.b.data, old_b)  # b was fine, and still not copied


def test_load_state_dict_non_strict_warns_without_telling_to_pass_strict_twice():
    model = nn.Linear(1, 1)
    old = model.W.data.copy()
    with pytest.warns(UserWarning, match=r"cannot load W: its value is a NoneType.*"
                                         r"pass strict=True to make this an error"):
        model.load_state_dict({"W": None})
    np.testing.assert_array_equal(model.W.data, old)


@pytest.mark.parametrize("bad", [[1, 2], None, "W"])
def test_load_state_dict_refuses_a_non_mapping_like_pytorch(bad):
    with pytest.raises(TypeError) as ours:
        nn.Linear(1, 1).load_state_dict(bad)
    with pytest.raises(TypeError) as theirs:
        torch.nn.Linear(1, 1).load_state_dict(bad)
    assert str(ours.value) == str(theirs.value) == \
        f"Expected state_dict to be dict-like, got {type(bad)}."


# ---- 3. tensors hold numbers -------------------------------------------------------------

@pytest.mark.parametrize("data", [["1.5", "2.5"], np.array(["a", "b"]), np.array([b"a"]),
                                  np.array([1, None]), np.array([20.0, "a"], dtype=object)],
                         ids=["str-list", "str-array", "bytes", "none", "object-text"])
def test_text_and_objects_are_refused_at_construction(data):
    for make in (sorix.tensor, sorix.Tensor):
        with pytest.raises(TypeError, match=r"tensors hold numbers.*OneHotEncoder.*"
                                            r"astype\(float\)"):
            make(data)


def test_a_str_dtype_is_refused():
    with pytest.raises(TypeError, match="tensors hold numbers"):
        sorix.tensor([1, 2], dtype=str)


def test_object_arrays_of_numbers_read_like_lists():
    t = sorix.tensor(np.array([1, 2.5, True], dtype=object))
    assert t.dtype == sorix.float32
    np.testing.assert_array_equal(t.data, [1.0, 2.5, 1.0])
    ints = sorix.tensor(np.array([[1, 2], [3, 4]], dtype=object))
    assert ints.dtype == sorix.int64 and ints.shape == (2, 2)


def test_string_labels_still_batch_as_arrays():
    X = np.arange(8.0).reshape(4, 2)
    for y in (np.array(["a", "b", "a", "c"]), np.array(["a", "b", "a", "c"], dtype=object)):
        xb, yb = next(iter(DataLoader(Dataset(X, y), batch_size=2)))
        assert isinstance(xb, sorix.Tensor) and xb.dtype == sorix.float64
        assert isinstance(yb, np.ndarray)
        assert list(yb) == ["a", "b"]
    xb, yb = next(iter(DataLoader(Dataset(X, ["a", "b", "a", "c"]), batch_size=2)))
    assert yb == ["a", "b"]  # a list of strings, as before


def test_a_dataframe_of_mixed_number_columns_batches_as_numbers():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"n": [1, 2, 3, 4], "flag": [True, False, True, False]})
    assert frame.to_numpy().dtype == object  # pandas mixes int and bool as objects
    xb = next(iter(DataLoader(Dataset(frame), batch_size=2)))
    assert isinstance(xb, sorix.Tensor) and xb.dtype == sorix.int64
    np.testing.assert_array_equal(xb.data, [[1, 1], [2, 0]])


# ---- 4. classification metrics refuse probabilities where labels are expected --------------

Y_TRUE = np.array([0, 1, 1, 0, 1])
PROBS = np.array([[0.1], [0.9], [0.8], [0.3], [0.7]], dtype=np.float32)


@pytest.mark.parametrize("metric", [metrics.accuracy_score, metrics.precision_score,
                                    metrics.recall_score, metrics.f1_score,
                                    metrics.confusion_matrix, metrics.classification_report])
def test_label_metrics_refuse_probabilities(metric):
    with pytest.raises(ValueError, match=r"^Classification metrics can't handle a mix of "
                                         r"binary and continuous targets: y_pred holds "
                                         r"continuous values \(e\.g\. 0\.1\).*>= 0\.5"):
        metric(Y_TRUE, PROBS)


def test_continuous_labels_messages_start_as_scikit_learns():
    sk = pytest.importorskip("sklearn.metrics")
    for y_true, y_pred in [(PROBS.ravel(), Y_TRUE), ([0, 1, 2, 1], [0.5, 1, 2, 1])]:
        with pytest.raises(ValueError) as theirs:
            sk.accuracy_score(y_true, y_pred)
        with pytest.raises(ValueError) as ours:
            metrics.accuracy_score(y_true, y_pred)
        assert str(ours.value).startswith(str(theirs.value) + ":")
    with pytest.raises(ValueError, match="can't handle continuous targets"):
        metrics.accuracy_score([0.1, 0.9], [0.1, 0.9])


def test_whole_float_labels_are_still_labels_as_in_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    cases = [([0, 1, 1, 0], [0.0, 1.0, 1.0, 0.0]), ([2, 3, 2], [2.0, 3.0, 7.0])]
    for y_true, y_pred in cases:
        assert metrics.accuracy_score(y_true, y_pred) == sk.accuracy_score(y_true, y_pred)


# ---- 5. integer overflow when building from Python numbers -------------------------------

@pytest.mark.parametrize("values, dtype, tdtype", [
    ([300, -1], sorix.uint8, torch.uint8), ([200], sorix.int8, torch.int8),
    ([70000], sorix.int16, torch.int16), ([2 ** 40], sorix.int32, torch.int32),
    ([300.5], sorix.uint8, torch.uint8), (300, sorix.uint8, torch.uint8)])
def test_out_of_range_python_values_raise_overflow_like_torch(values, dtype, tdtype):
    with pytest.raises(RuntimeError, match="overflow"):
        torch.tensor(values, dtype=tdtype)
    with pytest.raises(OverflowError, match=f"out of range for {np.dtype(dtype.dtype)}"):
        sorix.tensor(values, dtype=dtype)


def test_in_range_values_and_existing_arrays_still_convert():
    np.testing.assert_array_equal(sorix.tensor([0, 255], dtype=sorix.uint8).data, [0, 255])
    assert sorix.tensor([255.5], dtype=sorix.uint8).item() == 255  # the fraction is dropped
    # an existing array wraps as a C cast does, as torch's .to() does
    assert sorix.tensor(np.array([300]), dtype=sorix.uint8).item() == 44
    assert sorix.tensor([300]).to(sorix.uint8).item() == 44


# ---- 6. ScipyBridge checks everything before unfreezing anything ----------------------------

def test_failed_scipy_bridge_leaves_frozen_parameters_frozen():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    for p in model[0].parameters():
        p.requires_grad = False
    x, y = sorix.randn(8, 2), sorix.randn(8, 1)
    loss = ((model(x) - y) ** 2).mean()
    with pytest.raises(TypeError, match="loss_fn must be a callable.*got a Tensor"):
        ScipyBridge(model.parameters(), loss)
    assert [p.requires_grad for p in model[0].parameters()] == [False, False]
    with pytest.raises(TypeError, match="optimizes Tensors"):
        ScipyBridge([*model[0].parameters(), "W"], lambda: loss)
    assert [p.requires_grad for p in model[0].parameters()] == [False, False]
    ScipyBridge(model.parameters(), lambda: ((model(x) - y) ** 2).mean())
    assert all(p.requires_grad for p in model.parameters())


# ---- 8. init and reshape arguments --------------------------------------------------------

def test_uniform_with_a_above_b_raises():
    t = sorix.zeros(3)
    with pytest.raises(RuntimeError, match="from=1 > to=0"):
        torch.nn.init.uniform_(torch.zeros(3), a=1, b=0)
    with pytest.raises(ValueError, match=r"from=1 > to=0; pass a <= b"):
        init.uniform_(t, a=1, b=0)
    np.testing.assert_array_equal(t.data, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(init.uniform_(sorix.zeros(2), 1.0, 1.0).data, [1.0, 1.0])


@pytest.mark.parametrize("fill", [init.kaiming_uniform_, init.kaiming_normal_,
                                  init.xavier_uniform_, init.xavier_normal_])
@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0)])
def test_init_on_a_zero_element_tensor_warns_and_returns_it(fill, shape):
    t = sorix.zeros(*shape)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert fill(t) is t
    assert t.shape == shape


@pytest.mark.parametrize("size", [2.7, 2.0, np.float64(2.0), "2"])
def test_reshape_and_view_refuse_non_integer_sizes(size):
    x = sorix.arange(6)
    for method in (x.reshape, x.view):
        with pytest.raises(TypeError, match=r"reshape sizes must be integers.*//"):
            method(size, 3)


def test_reshape_refuses_negative_sizes_other_than_minus_one():
    x = sorix.arange(6)
    with pytest.raises(RuntimeError, match="invalid shape dimension -2"):
        x.reshape(-2, 3)
    with pytest.raises(RuntimeError, match="invalid shape dimension -2"):
        torch.arange(6).reshape(-2, 3)
    assert x.reshape(np.int64(2), -1).shape == (2, 3)
    assert x.view((3, -1)).shape == (3, 2)
