"""sorix.preprocessing against scikit-learn as the oracle, plus the edge cases each
transformer decides explicitly (constant columns, NaN, unseen categories, unfitted use,
wrong widths, inputs never modified)."""
import numpy as np
import pytest

import sorix
from sorix.preprocessing import (ColumnTransformer, MinMaxScaler, NotFittedError, OneHotEncoder,
                                 RobustScaler, StandardScaler)

skp = pytest.importorskip("sklearn.preprocessing")
pd = pytest.importorskip("pandas")

SCALERS = [(MinMaxScaler, skp.MinMaxScaler), (StandardScaler, skp.StandardScaler),
           (RobustScaler, skp.RobustScaler)]
SCALER_IDS = ["minmax", "standard", "robust"]
# Fitted attributes that sorix shares with scikit-learn, per scaler.
SHARED_ATTRIBUTES = {MinMaxScaler: ("data_min_", "data_max_", "data_range_", "scale_", "min_"),
                     StandardScaler: ("mean_", "scale_", "var_"),
                     RobustScaler: ("center_", "scale_")}


def _tolerance(dtype):
    return {"rtol": 2e-6, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}


def _data(seed, dtype, n=60):
    """Columns on very different scales and offsets, one with outliers."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)) * [1.0, 1e3, 1e-3, 5.0] + [0.0, -2e3, 7.0, 1e2]
    X[rng.integers(0, n, 3), 3] = 1e4
    return X.astype(dtype)


@pytest.mark.parametrize("ours, theirs", SCALERS, ids=SCALER_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_scalers_match_sklearn(ours, theirs, dtype, seed):
    """The oracle is scikit-learn on the same values in float64: scikit-learn's own float32
    path loses digits to cancellation (``x * scale_ + min_``), sorix rounds once."""
    X = _data(seed, dtype)
    mine, reference = ours().fit(X), theirs().fit(X.astype(np.float64))
    tol = _tolerance(dtype)
    out = mine.transform(X)
    assert out.dtype == theirs().fit_transform(X).dtype == dtype
    np.testing.assert_allclose(out, reference.transform(X.astype(np.float64)), **tol)
    for name in SHARED_ATTRIBUTES[ours]:
        np.testing.assert_allclose(getattr(mine, name), getattr(reference, name), rtol=1e-12,
                                   err_msg=name)
    Z = np.random.default_rng(seed + 100).standard_normal((7, 4)).astype(dtype)
    back = mine.inverse_transform(Z)
    assert back.dtype == dtype
    np.testing.assert_allclose(back, reference.inverse_transform(Z.astype(np.float64)), **tol)
    round_trip = mine.inverse_transform(out).astype(np.float64) - X
    np.testing.assert_allclose(round_trip / np.ptp(X, axis=0), 0.0, atol=tol["atol"])


@pytest.mark.parametrize("ours, theirs", SCALERS, ids=SCALER_IDS)
def test_integer_input_gives_float64_like_sklearn(ours, theirs):
    X = np.random.default_rng(5).integers(-50, 50, (30, 3))
    out = ours().fit_transform(X)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, theirs().fit_transform(X.astype(np.float64)), rtol=1e-12)


@pytest.mark.parametrize("ours, theirs", SCALERS, ids=SCALER_IDS)
def test_boolean_input_and_empty_batches(ours, theirs):
    B = np.random.default_rng(6).random((20, 3)) > 0.4
    np.testing.assert_allclose(ours().fit_transform(B), theirs().fit_transform(B.astype(float)),
                               rtol=1e-12)
    fitted = ours().fit(B)
    assert fitted.transform(np.ones((0, 3))).shape == (0, 3)
    assert fitted.inverse_transform(np.ones((0, 3))).shape == (0, 3)


@pytest.mark.parametrize("ours, theirs", SCALERS, ids=SCALER_IDS)
@pytest.mark.parametrize("value", [1.0, 0.1, -3e7, 0.0])
def test_constant_column_scales_by_one_like_sklearn(ours, theirs, value):
    X = np.column_stack([np.full(9, value), np.linspace(0.0, 1.0, 9)])
    mine, reference = ours().fit(X), theirs().fit(X)
    out = mine.transform(X)
    assert np.all(out[:, 0] == 0.0)  # exactly, with no division by zero
    np.testing.assert_allclose(out, reference.transform(X), atol=1e-12)
    assert mine.scale_[0] == reference.scale_[0] == 1.0
    np.testing.assert_array_equal(mine.inverse_transform(out)[:, 0], X[:, 0])


def test_robust_scaler_zero_iqr_with_outliers():
    X = np.array([[5.0], [5.0], [5.0], [5.0], [100.0], [-7.0]])
    np.testing.assert_allclose(RobustScaler().fit_transform(X), skp.RobustScaler().fit_transform(X))


@pytest.mark.parametrize("cls", [MinMaxScaler, StandardScaler, RobustScaler])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_scalers_refuse_nan_and_inf_naming_the_column(cls, bad):
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, bad, 2.0]})
    with pytest.raises(ValueError, match=r"\['b'\] contain NaN or infinity"):
        cls().fit(X)
    fitted = cls().fit(X.fillna(0.0).replace([np.inf, -np.inf], 0.0))
    with pytest.raises(ValueError, match=r"\['b'\]"):
        fitted.transform(X)
    assert np.isnan(fitted.inverse_transform([[np.nan, 1.0]])[0, 0])  # passes through


@pytest.mark.parametrize("cls", [MinMaxScaler, StandardScaler, RobustScaler, OneHotEncoder])
def test_use_before_fit_is_a_clear_error(cls):
    for method in ("transform", "inverse_transform"):
        with pytest.raises(NotFittedError, match=r"You must call fit\(\)"):
            getattr(cls(), method)(np.ones((2, 2)))
    with pytest.raises(ValueError, match="You must call fit"):  # a ValueError, as in Sorix
        cls().transform(np.ones((2, 2)))


def test_column_transformer_use_before_fit():
    ct = ColumnTransformer([("s", MinMaxScaler(), [0])])
    with pytest.raises(NotFittedError, match="You must call fit"):
        ct.transform(np.ones((2, 2)))


@pytest.mark.parametrize("cls", [MinMaxScaler, StandardScaler, RobustScaler])
def test_scalers_refuse_wrong_widths(cls):
    scaler = cls().fit(np.arange(12.0).reshape(4, 3))
    with pytest.raises(ValueError, match="X has 2 column.*fitted on 3"):
        scaler.transform(np.ones((4, 2)))
    with pytest.raises(ValueError, match="1-D.*reshape"):
        scaler.transform(np.ones(3))
    with pytest.raises(ValueError, match="2-D"):
        scaler.fit(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="at least one sample"):
        cls().fit(np.ones((0, 3)))
    with pytest.raises(TypeError, match="Input must be"):
        cls().fit({"a": 1})
    with pytest.raises(TypeError, match="not numeric"):
        cls().fit(pd.DataFrame({"a": [1.0, 2.0], "c": ["x", "y"]}))


@pytest.mark.parametrize("cls", [MinMaxScaler, StandardScaler, RobustScaler])
def test_inputs_are_never_modified(cls):
    for dtype in (np.float32, np.float64, np.int64):
        X = (np.arange(24).reshape(8, 3) * 1.5).astype(dtype)
        keep = X.copy()
        scaler = cls()
        out = scaler.fit_transform(X)
        scaler.inverse_transform(out)
        np.testing.assert_array_equal(X, keep)
        assert not np.shares_memory(out, X)
    frame = pd.DataFrame({"a": [1.0, 2.0, 4.0], "b": [3, 5, 9]})
    keep = frame.copy()
    cls().fit_transform(frame)
    pd.testing.assert_frame_equal(frame, keep)


@pytest.mark.parametrize("cls", [MinMaxScaler, StandardScaler, RobustScaler])
def test_all_input_kinds_agree(cls):
    X = np.array([[1.0, 10.0], [2.0, 30.0], [4.0, 20.0], [8.0, 0.0]])
    expected = cls().fit_transform(X)
    frame = pd.DataFrame(X, columns=["p", "q"])
    for data in (X.tolist(), sorix.tensor(X), frame):
        np.testing.assert_allclose(cls().fit_transform(data), expected, rtol=1e-12)
    # A DataFrame is read by column name: reordered columns still line up.
    fitted = cls().fit(frame)
    np.testing.assert_allclose(fitted.transform(frame[["q", "p"]]), expected, rtol=1e-12)
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['q'\]"):
        fitted.transform(frame.rename(columns={"q": "z"}))
    # 1-D input is one column, and comes back 1-D.
    one = cls().fit(X[:, 0])
    assert one.transform(X[:, 0]).shape == (4,)
    np.testing.assert_allclose(one.transform(X[:, 0]), expected[:, 0], rtol=1e-12)


# ---- OneHotEncoder --------------------------------------------------------------------------
def _sk_encoder(**kwargs):
    return skp.OneHotEncoder(sparse_output=False, **kwargs)


@pytest.mark.parametrize("column", [
    ["red", "blue", "green", "blue", "red"],
    [3, 1, 2, 3, 3],
    [2.5, -1.0, 2.5, 0.0, 7.25],
    [True, False, False, True, True],
], ids=["str", "int", "float", "bool"])
def test_encoder_matches_sklearn_on_one_column(column):
    frame = pd.DataFrame({"c": column})
    mine, reference = OneHotEncoder().fit(frame), _sk_encoder().fit(frame)
    out = mine.transform(frame)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, reference.transform(frame))
    assert mine.get_features_names() == list(reference.get_feature_names_out())
    np.testing.assert_array_equal(mine.categories_[0], reference.categories_[0])
    codes = mine.inverse_transform(out)
    assert codes.shape == (len(column),)
    np.testing.assert_array_equal(mine.categories_[0][codes], np.array(column))


def test_encoder_matches_sklearn_on_mixed_frames_and_arrays():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"city": rng.choice(["NY", "LA", "CHI", "SF"], 40),
                          "size": rng.integers(0, 3, 40), "flag": rng.choice(["y", "n"], 40)})
    mine, reference = OneHotEncoder().fit(frame), _sk_encoder().fit(frame)
    np.testing.assert_array_equal(mine.transform(frame), reference.transform(frame))
    assert mine.get_features_names() == list(reference.get_feature_names_out())
    codes = mine.inverse_transform(mine.transform(frame))
    assert codes.shape == (40, 3)
    for j, cats in enumerate(mine.categories_):
        np.testing.assert_array_equal(cats[codes[:, j]], frame.iloc[:, j].to_numpy())
    array = np.array([["b", "x"], ["a", "y"], ["b", "y"]])
    np.testing.assert_array_equal(OneHotEncoder().fit_transform(array),
                                  _sk_encoder().fit_transform(array))
    assert OneHotEncoder().fit(array).get_features_names() == ["F0_a", "F0_b", "F1_x", "F1_y"]


def test_encoder_unseen_category():
    train = pd.DataFrame({"c": ["a", "b"], "n": [1, 2]})
    test = pd.DataFrame({"c": ["b", "zebra", "a"], "n": [2, 1, 7]})
    with pytest.raises(ValueError, match=r"column 'c' has categories not seen in fit: \['zebra'\]"
                                         r".*handle_unknown='ignore'"):
        OneHotEncoder().fit(train).transform(test)
    ignoring = OneHotEncoder(handle_unknown="ignore").fit(train)
    out = ignoring.transform(test)
    reference = _sk_encoder(handle_unknown="ignore").fit(train)
    np.testing.assert_array_equal(out, reference.transform(test))
    np.testing.assert_array_equal(ignoring.inverse_transform(out), [[1, 1], [-1, 0], [0, -1]])
    with pytest.raises(ValueError, match="handle_unknown"):
        OneHotEncoder(handle_unknown="skip")


def test_encoder_missing_values_and_mixed_types():
    for missing in (None, np.nan, pd.NA):
        frame = pd.DataFrame({"c": ["a", missing, "b"]}, dtype=object)
        with pytest.raises(ValueError, match="column 'c' has missing values.*fillna"):
            OneHotEncoder().fit(frame)
    with pytest.raises(ValueError, match="column 'F0' has missing values"):
        OneHotEncoder().fit(np.array([[1.0], [np.nan]]))
    with pytest.raises(ValueError, match=r"mixes values of types \['int', 'str'\]"):
        OneHotEncoder().fit(pd.DataFrame({"c": ["a", 1]}, dtype=object))
    fitted = OneHotEncoder().fit(pd.DataFrame({"c": ["1", "2"]}))
    with pytest.raises(ValueError, match="fitted on strings"):
        fitted.transform(np.array([[1], [2]]))
    fitted = OneHotEncoder().fit(pd.DataFrame({"c": [1, 2]}))
    with pytest.raises(ValueError, match="cannot be compared"):  # the string '1' is not the int 1
        fitted.transform(pd.DataFrame({"c": ["1"]}, dtype=object))


def test_encoder_widths_and_unmodified_input():
    frame = pd.DataFrame({"a": ["x", "y"], "b": ["u", "v"]})
    keep = frame.copy()
    encoder = OneHotEncoder().fit(frame)
    encoder.transform(frame)
    pd.testing.assert_frame_equal(frame, keep)
    with pytest.raises(ValueError, match="X has 1 column.*fitted on 2"):
        encoder.transform(np.array([["x"], ["y"]]))
    with pytest.raises(ValueError, match="X has 3 column.*fitted on 4"):
        encoder.inverse_transform(np.ones((2, 3)))


# ---- ColumnTransformer ----------------------------------------------------------------------
def _people(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(18, 90, n).astype(float),
                         "income": rng.lognormal(10, 1, n),
                         "city": rng.choice(["NY", "LA", "SF"], n),
                         "tier": rng.integers(1, 4, n), "ignored": rng.standard_normal(n)})


def test_column_transformer_matches_sklearn():
    compose = pytest.importorskip("sklearn.compose")
    frame = _people()
    mine = ColumnTransformer([("scale", StandardScaler(), ["age", "income"]),
                              ("robust", RobustScaler(), ["income"]),
                              ("onehot", OneHotEncoder(), ["city", "tier"])])
    reference = compose.ColumnTransformer([("scale", skp.StandardScaler(), ["age", "income"]),
                                           ("robust", skp.RobustScaler(), ["income"]),
                                           ("onehot", _sk_encoder(), ["city", "tier"])],
                                          remainder="drop", sparse_threshold=0)
    out = mine.fit_transform(frame)
    np.testing.assert_allclose(out, reference.fit_transform(frame), rtol=1e-12, atol=1e-12)
    assert mine.get_features_names() == [n.replace("__", "_")
                                         for n in reference.get_feature_names_out()]
    assert mine.n_features == out.shape[1] == 9
    later = _people(7, seed=1)
    np.testing.assert_allclose(mine.transform(later), reference.transform(later), rtol=1e-12,
                               atol=1e-12)
    back = mine.inverse_transform(out)
    np.testing.assert_allclose(back[:, :3], frame[["age", "income", "income"]].to_numpy(),
                               rtol=1e-12)
    city_codes, tier_codes = back[:, 3].astype(int), back[:, 4].astype(int)
    np.testing.assert_array_equal(mine.transformers[2][1].categories_[0][city_codes], frame["city"])
    np.testing.assert_array_equal(mine.transformers[2][1].categories_[1][tier_codes], frame["tier"])


def test_column_transformer_empty_batch_and_series_input():
    frame = pd.DataFrame({"x": [1.0, 2.0, 4.0], "c": ["a", "b", "a"]})
    ct = ColumnTransformer([("s", MinMaxScaler(), "x"), ("e", OneHotEncoder(), ["c"])]).fit(frame)
    np.testing.assert_allclose(ct.transform(frame), [[0, 1, 0], [1 / 3, 0, 1], [1, 1, 0]])
    assert ct.transform(frame.iloc[:0]).shape == (0, 3)
    assert ct.inverse_transform(np.ones((0, 3))).shape == (0, 2)
    encoder = OneHotEncoder().fit(frame["c"])  # a Series is one named column
    assert encoder.get_features_names() == ["c_a", "c_b"]
    np.testing.assert_array_equal(encoder.transform(frame["c"]), [[1, 0], [0, 1], [1, 0]])


def test_column_transformer_on_arrays_by_position():
    X = np.array([[1.0, 0.0, 5.0], [3.0, 1.0, 7.0], [5.0, 1.0, 6.0]])
    ct = ColumnTransformer([("m", MinMaxScaler(), [0, 2]), ("e", OneHotEncoder(), [1])])
    out = ct.fit_transform(X)
    np.testing.assert_allclose(out, np.column_stack([skp.MinMaxScaler().fit_transform(X[:, [0, 2]]),
                                                     _sk_encoder().fit_transform(X[:, [1]])]))
    with pytest.raises(TypeError, match="need a pandas DataFrame|needs a pandas DataFrame"):
        ColumnTransformer([("m", MinMaxScaler(), ["a"])]).fit(X)
    with pytest.raises(ValueError, match="out of range"):
        ColumnTransformer([("m", MinMaxScaler(), [5])]).fit(X)


def test_column_transformer_spec_errors_and_atomic_fit():
    with pytest.raises(ValueError, match="unique"):
        ColumnTransformer([("a", MinMaxScaler(), [0]), ("a", StandardScaler(), [1])])
    with pytest.raises(TypeError, match="not a transformer"):
        ColumnTransformer([("a", object(), [0])])
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
    ct = ColumnTransformer([("s", MinMaxScaler(), ["x"]), ("e", OneHotEncoder(), ["c"])]).fit(frame)
    before = ct.transform(frame)
    with pytest.raises(ValueError, match="missing values"):  # fails in the second transformer
        ct.fit(pd.DataFrame({"x": [10.0, 50.0], "c": ["a", None]}))
    np.testing.assert_array_equal(ct.transform(frame), before)  # the first was rolled back


def test_load_state_dict_checks_everything_first():
    scaler = StandardScaler().fit(np.array([[1.0, 2.0], [3.0, 5.0]]))
    state = scaler.state_dict()
    for broken, message in [
        (dict(state, std=np.ones(3)), "same nonzero length"),
        (dict(state, extra=1), "unexpected keys"),
        ({k: v for k, v in state.items() if k != "mean"}, "missing keys"),
        (dict(state, numerical_features=["a"]), "do not match"),
    ]:
        with pytest.raises(ValueError, match=message):
            scaler.load_state_dict(broken)
    np.testing.assert_array_equal(scaler.mean_, [2.0, 3.5])  # unchanged by the failures
    encoder = OneHotEncoder().fit(pd.DataFrame({"c": ["a", "b"]}))
    with pytest.raises(ValueError, match="sorted and unique"):
        encoder.load_state_dict({"features": {"c": np.array(["b", "a"])}})
    assert encoder.get_features_names() == ["c_a", "c_b"]
    ct = ColumnTransformer([("s", MinMaxScaler(), ["x"])])
    with pytest.raises(ValueError, match=r"no state for \['s'\]"):
        ct.load_state_dict({"n_features": 1, "transformers_states": [("t", {}, ["x"])]})
