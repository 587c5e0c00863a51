"""sorix.metrics classification scores against scikit-learn and closed forms."""
import warnings

import numpy as np
import pytest

import sorix
from sorix.metrics import (accuracy_score, classification_report, confusion_matrix, f1_score,
                           precision_score, recall_score)

SCORES = {"precision": precision_score, "recall": recall_score, "f1": f1_score}
AVERAGES = [None, "micro", "macro", "weighted"]


def sk():
    return pytest.importorskip("sklearn.metrics")


def random_labels(seed, n=None, n_classes=None):
    """Labels where some classes are rare, some never predicted, some never true."""
    rng = np.random.default_rng(seed)
    n = n or int(rng.integers(1, 60))
    n_classes = n_classes or int(rng.integers(2, 6))
    y_true = rng.integers(0, n_classes, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, n_classes + 1, n))
    return y_true, y_pred


def reference_counts(y_true, y_pred, classes):
    """tp, predicted and actual per class, one class at a time (the textbook definition)."""
    tp = np.array([np.sum((y_true == c) & (y_pred == c)) for c in classes])
    predicted = np.array([np.sum(y_pred == c) for c in classes])
    actual = np.array([np.sum(y_true == c) for c in classes])
    return tp, predicted, actual


# ---- scikit-learn as the oracle --------------------------------------------------------

@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("zero_division", [0.0, 1.0, np.nan])
def test_every_average_matches_sklearn(seed, zero_division):
    skm = sk()
    y_true, y_pred = random_labels(seed)
    for name, ours in SCORES.items():
        theirs = getattr(skm, f"{name}_score")
        for average in AVERAGES:
            expected = theirs(y_true, y_pred, average=average, zero_division=zero_division)
            got = ours(y_true, y_pred, average=average, zero_division=zero_division)
            np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True,
                                       err_msg=f"{name} average={average}")


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("pos_label", [0, 1])
def test_binary_matches_sklearn(seed, pos_label):
    skm = sk()
    y_true, y_pred = random_labels(seed, n_classes=2)
    y_pred = np.minimum(y_pred, 1)
    if len(np.union1d(y_true, y_pred)) < 2:
        y_true[0], y_pred[0] = 0, 1
    for name, ours in SCORES.items():
        expected = getattr(skm, f"{name}_score")(y_true, y_pred, pos_label=pos_label,
                                                 zero_division=0.0)
        assert ours(y_true, y_pred, pos_label=pos_label, zero_division=0.0) == \
            pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_binary_on_many_classes_is_one_versus_rest(seed):
    skm = sk()
    y_true, y_pred = random_labels(seed, n=80, n_classes=4)
    for pos_label in (0, 2):
        for name, ours in SCORES.items():
            expected = getattr(skm, f"{name}_score")(y_true, y_pred, labels=[pos_label],
                                                     average="micro", zero_division=0.0)
            assert ours(y_true, y_pred, pos_label=pos_label, zero_division=0.0) == \
                pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_confusion_matrix_and_accuracy_match_sklearn(seed):
    skm = sk()
    y_true, y_pred = random_labels(seed)
    cm = confusion_matrix(y_true, y_pred)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(y_true, y_pred))
    assert cm.dtype == np.int64
    for normalize in ("true", "pred", "all"):
        np.testing.assert_allclose(confusion_matrix(y_true, y_pred, normalize=normalize),
                                   skm.confusion_matrix(y_true, y_pred, normalize=normalize),
                                   rtol=1e-12)
    assert accuracy_score(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred),
                                                           rel=1e-15)


@pytest.mark.filterwarnings("ignore:A single label was found")  # sklearn on labels=[1]
@pytest.mark.parametrize("labels", [[2, 0], [1], [3, 0, 1, 2, 7]])
def test_chosen_labels_match_sklearn(labels):
    skm = sk()
    y_true, y_pred = random_labels(5, n=50, n_classes=4)
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, labels=labels),
                                  skm.confusion_matrix(y_true, y_pred, labels=labels))
    for name, ours in SCORES.items():
        for average in AVERAGES:
            expected = getattr(skm, f"{name}_score")(y_true, y_pred, labels=labels,
                                                     average=average, zero_division=0.0)
            np.testing.assert_allclose(ours(y_true, y_pred, labels=labels, average=average,
                                            zero_division=0.0), expected, rtol=1e-12)


def test_string_labels_match_sklearn():
    skm = sk()
    names = np.array(["cat", "dog", "emu"])
    y_true, y_pred = random_labels(3, n=40, n_classes=3)
    y_true, y_pred = names[y_true], names[np.minimum(y_pred, 2)]
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred),
                                  skm.confusion_matrix(y_true, y_pred))
    assert f1_score(y_true, y_pred, average="macro") == pytest.approx(
        skm.f1_score(y_true, y_pred, average="macro"), rel=1e-12)
    assert precision_score(y_true, y_pred, pos_label="dog") == pytest.approx(
        skm.precision_score(y_true, y_pred, labels=["dog"], average="micro"), rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_classification_report_dict_matches_sklearn(seed):
    skm = sk()
    y_true, y_pred = random_labels(seed, n=50)
    ours = classification_report(y_true, y_pred, output_dict=True, zero_division=0.0)
    theirs = skm.classification_report(y_true, y_pred, output_dict=True, zero_division=0.0)
    assert set(ours) == set(theirs)
    for key, expected in theirs.items():
        if key == "accuracy":
            assert ours[key] == pytest.approx(expected, rel=1e-12)
            continue
        for field in ("precision", "recall", "f1-score", "support"):
            assert ours[key][field] == pytest.approx(expected[field], rel=1e-12), (key, field)


# ---- closed forms ----------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_per_class_scores_follow_their_formulas(seed):
    y_true, y_pred = random_labels(seed, n=70)
    classes = np.union1d(y_true, y_pred)
    tp, predicted, actual = reference_counts(y_true, y_pred, classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = {"precision": tp / predicted, "recall": tp / actual,
                    "f1": 2 * tp / (predicted + actual)}
    for name, ours in SCORES.items():
        per_class = ours(y_true, y_pred, average=None, zero_division=np.nan)
        assert per_class.dtype == np.float64 and per_class.shape == (len(classes),)
        np.testing.assert_allclose(per_class, expected[name], rtol=1e-15, equal_nan=True)
        defined = ~np.isnan(expected[name])
        assert ours(y_true, y_pred, average="macro", zero_division=np.nan) == pytest.approx(
            expected[name][defined].mean(), rel=1e-13)
        assert ours(y_true, y_pred, average="weighted", zero_division=np.nan) == pytest.approx(
            np.average(expected[name][defined], weights=actual[defined]), rel=1e-13)
    micro = tp.sum() / len(y_true)  # every sample is one true and one predicted label
    for ours in SCORES.values():
        assert ours(y_true, y_pred, average="micro") == pytest.approx(micro, rel=1e-13)
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(matrix, (np.searchsorted(classes, y_true), np.searchsorted(classes, y_pred)), 1)
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred), matrix)


def test_perfect_predictions_score_one():
    y = np.array([0, 2, 1, 2, 0, 1, 1])
    for ours in SCORES.values():
        for average in ("binary", "micro", "macro", "weighted"):
            assert ours(y, y, average=average) == 1.0
    assert accuracy_score(y, y) == 1.0
    np.testing.assert_array_equal(confusion_matrix(y, y), np.diag([2, 3, 2]))


def test_single_class_present():
    y = [3, 3, 3]
    np.testing.assert_array_equal(confusion_matrix(y, y), [[3]])
    assert precision_score(y, y, average="macro") == 1.0
    assert accuracy_score(y, y) == 1.0
    # pos_label 1 never occurs: tp = fp = 0, so precision is 0/0 -> zero_division
    assert precision_score(y, y, zero_division=1.0) == 1.0
    with pytest.warns(RuntimeWarning, match="Division by zero in precision"):
        assert precision_score(y, y) == 0.0


def test_class_never_predicted_takes_the_zero_division_value():
    y_true = np.array([0, 1, 2, 2, 1, 0])
    y_pred = np.array([0, 1, 1, 1, 1, 0])  # class 2 is never predicted
    with pytest.warns(RuntimeWarning, match=r"Division by zero in precision for label\(s\) \[2\]"):
        warned = precision_score(y_true, y_pred, average=None)
    np.testing.assert_allclose(warned, [1.0, 0.5, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit value is silent
        np.testing.assert_allclose(precision_score(y_true, y_pred, average=None,
                                                   zero_division=1), [1.0, 0.5, 1.0])
        # NaN marks the class as undefined and the averages skip it
        assert precision_score(y_true, y_pred, average="macro",
                               zero_division=np.nan) == pytest.approx(0.75)
        assert precision_score(y_true, y_pred, average="weighted",
                               zero_division=np.nan) == pytest.approx((2 * 1.0 + 2 * 0.5) / 4)
        # F1 of class 2 is defined (it has true samples): 2*0 / (0 + 2) = 0
        np.testing.assert_allclose(f1_score(y_true, y_pred, average=None, zero_division=np.nan),
                                   [1.0, 2 * 2 / (4 + 2), 0.0])


def test_weighted_average_without_any_true_sample_is_the_zero_division_value():
    assert precision_score([0, 0], [0, 1], labels=[2, 3], average="weighted",
                           zero_division=1.0) == 1.0
    with pytest.warns(RuntimeWarning, match="Division by zero"):
        assert recall_score([0, 0], [0, 1], labels=[2, 3], average="weighted") == 0.0


def test_return_types():
    y_true, y_pred = [0, 1, 2, 1], [0, 2, 2, 1]
    for ours in SCORES.values():
        for average in ("micro", "macro", "weighted"):
            assert type(ours(y_true, y_pred, average=average)) is float
        assert type(ours([0, 1, 1], [0, 1, 0])) is float
        assert isinstance(ours(y_true, y_pred, average=None), np.ndarray)
    assert type(accuracy_score(y_true, y_pred)) is float


# ---- input kinds -----------------------------------------------------------------------

def test_tensors_lists_series_and_columns_agree_with_arrays():
    pd = pytest.importorskip("pandas")
    y_true, y_pred = random_labels(7, n=30, n_classes=3)
    forms = [(y_true.tolist(), y_pred.tolist()), (tuple(y_true), tuple(y_pred)),
             (sorix.tensor(y_true), sorix.tensor(y_pred)),
             (sorix.tensor(y_true.astype(np.float32)), sorix.tensor(y_pred)),
             (pd.Series(y_true, index=np.arange(30) * 3), pd.Series(y_pred)),
             (y_true.reshape(-1, 1), y_pred)]
    for a, b in forms:
        assert accuracy_score(a, b) == accuracy_score(y_true, y_pred)
        np.testing.assert_array_equal(confusion_matrix(a, b), confusion_matrix(y_true, y_pred))
        for ours in SCORES.values():
            for average in AVERAGES:
                np.testing.assert_array_equal(ours(a, b, average=average, zero_division=0),
                                              ours(y_true, y_pred, average=average,
                                                   zero_division=0))
        if np.asarray(a).dtype.kind != "f":  # float labels are named "0.0", not "0"
            assert classification_report(a, b, zero_division=0) == \
                classification_report(y_true, y_pred, zero_division=0)


def test_tensor_that_requires_grad_is_read_not_changed():
    scores = sorix.tensor([0.0, 1.0, 1.0], requires_grad=True)
    assert accuracy_score([0.0, 1.0, 0.0], scores) == pytest.approx(2 / 3)
    assert scores.grad is None and scores.requires_grad


def test_inputs_are_not_modified():
    y_true, y_pred = random_labels(2, n=20)
    saved = y_true.copy(), y_pred.copy()
    classification_report(y_true, y_pred, zero_division=0)
    confusion_matrix(y_true, y_pred, labels=[2, 1, 0], normalize="true")
    f1_score(y_true, y_pred, average="weighted", zero_division=0)
    np.testing.assert_array_equal(y_true, saved[0])
    np.testing.assert_array_equal(y_pred, saved[1])


# ---- errors ----------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [accuracy_score, confusion_matrix, precision_score, recall_score,
                                f1_score, classification_report])
def test_bad_shapes_and_empty_inputs_raise(fn):
    with pytest.raises(ValueError, match=r"must have the same shape, got \(3,\) and \(2,\)"):
        fn([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="must have the same shape"):
        fn(np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="must not be empty"):
        fn([], [])
    with pytest.raises(ValueError, match="scalar"):
        fn(1, 1)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="average must be one of"):
        f1_score([0, 1], [0, 1], average="samples")
    with pytest.raises(ValueError, match="zero_division must be"):
        precision_score([0, 1], [0, 1], zero_division=0.5)
    with pytest.raises(ValueError, match="zero_division must be"):
        classification_report([0, 1], [0, 1], zero_division="ignore")
    with pytest.raises(ValueError, match="pos_label=1 is not one of the labels"):
        recall_score([0, 2, 2], [2, 0, 2])
    with pytest.raises(ValueError, match="mix numeric and string"):
        accuracy_score([0, 1], ["0", "1"])
    with pytest.raises(ValueError, match="must not repeat"):
        confusion_matrix([0, 1], [0, 1], labels=[0, 1, 0])
    with pytest.raises(ValueError, match="at least one class"):
        precision_score([0, 1], [0, 1], labels=[], average=None)
    with pytest.raises(ValueError, match="normalize must be"):
        confusion_matrix([0, 1], [0, 1], normalize="rows")
    with pytest.raises(ValueError, match="length of target_names does not match"):
        classification_report([0, 1], [0, 1], target_names=["a", "b", "c"])


# ---- the text report -------------------------------------------------------------------

def test_report_text_shows_the_dict_values():
    y_true = [0, 1, 2, 2, 0, 1]
    y_pred = [0, 0, 2, 2, 0, 2]
    values = classification_report(y_true, y_pred, output_dict=True, zero_division=0,
                                   target_names=["low", "mid", "high"])
    text = classification_report(y_true, y_pred, zero_division=0, digits=3,
                                 target_names=["low", "mid", "high"])
    lines = text.splitlines()
    assert lines[0].split() == ["precision", "recall", "f1-score", "support"]
    rows = {" ".join(line.split()[:-4]): line.split()[-4:] for line in lines[1:]
            if len(line.split()) >= 5}
    for name in ("low", "mid", "high", "macro avg", "weighted avg"):
        expected = [f"{values[name][k]:.3f}" for k in ("precision", "recall", "f1-score")]
        assert rows[name] == expected + [str(values[name]["support"])]
    accuracy_line = next(line for line in lines if line.startswith("accuracy"))
    assert accuracy_line.split() == ["accuracy", f"{4 / 6:.3f}", "6"]
    # recall of class 1 = 0/2, precision of class 0 = 2/3, f1 of class 2 = 2*2/(3+2)
    assert values["mid"]["recall"] == 0.0
    assert values["low"]["precision"] == pytest.approx(2 / 3)
    assert values["high"]["f1-score"] == pytest.approx(0.8)


def test_report_labels_choose_and_order_the_rows():
    report = classification_report([0, 1, 2, 1], [0, 1, 1, 1], labels=[2, 1],
                                   output_dict=True, zero_division=0)
    assert list(report)[:2] == ["2", "1"] and "0" not in report
    assert report["macro avg"]["support"] == 3
    assert report["accuracy"] == 0.75  # over every sample


@pytest.mark.parametrize("missing", ["nan", "none", "pandas_na"])
@pytest.mark.parametrize("where", ["y_true", "y_pred"])
def test_missing_labels_are_refused_as_sklearn_does(missing, where):
    """A NaN label would become a class of its own that no prediction matches."""
    if missing == "nan":
        bad, good = [0.0, 1.0, np.nan], [0.0, 1.0, 1.0]
    else:
        value = None if missing == "none" else pytest.importorskip("pandas").NA
        bad, good = np.array(["a", "b", value], dtype=object), ["a", "b", "a"]
    args = (bad, good) if where == "y_true" else (good, bad)
    for metric in (accuracy_score, confusion_matrix, f1_score):
        with pytest.raises(ValueError, match=f"{where} contains NaN or a missing value"):
            metric(*args) if metric is not f1_score else metric(*args, average="macro")


def test_missing_labels_are_found_without_pandas_too(monkeypatch):
    """Object labels are checked by pandas.isna when pandas is loaded, else one by one."""
    import sys
    monkeypatch.setitem(sys.modules, "pandas", None)
    labels = np.array(["a", "b", None], dtype=object)
    with pytest.raises(ValueError, match="y_true contains NaN or a missing value"):
        accuracy_score(labels, ["a", "b", "a"])
    with pytest.raises(ValueError, match="y_pred contains NaN or a missing value"):
        accuracy_score(["a", "b", "a"], np.array(["a", float("nan"), "b"], dtype=object))
    assert accuracy_score(np.array(["a", "b"], dtype=object), ["a", "a"]) == 0.5
