"""Fitted transformers through sorix.save / sorix.load with weights_only=True (no pickle),
their state dicts, the safe-class registry, and files that name classes or states they
should not."""
import json
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

from sorix import serialization
from sorix.preprocessing import (ColumnTransformer, MinMaxScaler, OneHotEncoder, RobustScaler,
                                 StandardScaler)
from sorix.serialization import SerializationError, WeightsOnlyError, load, save

from conftest import python_env

pd = pytest.importorskip("pandas")


def _frame(n=30, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(18, 90, n).astype(float),
                         "income": rng.lognormal(9, 1, n),
                         "city": rng.choice(["NY", "LA", "SF"], n), "tier": rng.integers(1, 4, n)})


def _fitted():
    frame = _frame()
    numbers = frame[["age", "income"]].to_numpy()
    return frame, [
        (MinMaxScaler().fit(numbers), numbers),
        (StandardScaler().fit(frame[["age", "income"]]), frame[["age", "income"]]),
        (RobustScaler().fit(numbers.astype(np.float32)), numbers.astype(np.float32)),
        (OneHotEncoder().fit(frame[["city", "tier"]]), frame[["city", "tier"]]),
        (OneHotEncoder(handle_unknown="ignore").fit(frame[["city"]]), frame[["city"]]),
        (ColumnTransformer([("num", StandardScaler(), ["age", "income"]),
                            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "tier"]),
                            ("rob", RobustScaler(), ["income"])]).fit(frame), frame),
    ]


def _entries(path):
    with zipfile.ZipFile(path) as z:
        return z.namelist()


@pytest.mark.parametrize("index", range(6))
def test_fitted_transformer_round_trips_without_pickle(tmp_path, index):
    _, cases = _fitted()
    transformer, data = cases[index]
    path = tmp_path / "t.sorix"
    save(transformer, path)
    assert not [n for n in _entries(path) if n.endswith(".pkl")]
    loaded = load(path)  # weights_only=True by default
    assert type(loaded) is type(transformer)
    out = loaded.transform(data)
    expected = transformer.transform(data)
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(loaded.inverse_transform(expected),
                                  transformer.inverse_transform(expected))
    assert loaded.get_features_names() == transformer.get_features_names()
    assert loaded.n_features == transformer.n_features


def test_loaded_column_transformer_keeps_its_configuration(tmp_path):
    frame, cases = _fitted()
    ct = cases[-1][0]
    path = tmp_path / "ct.sorix"
    save({"preprocess": ct, "epoch": 4}, path)
    loaded = load(path)["preprocess"]
    assert [(n, type(t), c) for n, t, c in loaded.transformers] == \
        [(n, type(t), c) for n, t, c in ct.transformers]
    assert loaded.transformers[1][1].handle_unknown == "ignore"
    unseen = frame.head(3).assign(city=["Paris", "NY", "Rome"])
    np.testing.assert_array_equal(loaded.transform(unseen), ct.transform(unseen))


@pytest.mark.parametrize("index", range(6))
def test_state_dict_round_trip_through_a_file(tmp_path, index):
    _, cases = _fitted()
    transformer, data = cases[index]
    path = tmp_path / "state.sorix"
    save(transformer.state_dict(), path)
    fresh = (ColumnTransformer([(n, type(t)(), c) for n, t, c in transformer.transformers])
             if isinstance(transformer, ColumnTransformer) else type(transformer)())
    fresh.load_state_dict(load(path, weights_only=True))
    np.testing.assert_array_equal(fresh.transform(data), transformer.transform(data))


def test_unfitted_transformers_round_trip_too(tmp_path):
    path = tmp_path / "blank.sorix"
    save([MinMaxScaler(), OneHotEncoder(handle_unknown="ignore")], path)
    scaler, encoder = load(path)
    assert scaler.min is None and encoder.features == {} and encoder.handle_unknown == "ignore"


def test_a_fresh_process_loads_a_transformer_without_importing_it_first(tmp_path):
    frame, cases = _fitted()
    path = tmp_path / "ct.sorix"
    save(cases[-1][0], path)
    expected = cases[-1][0].transform(frame)
    np.save(tmp_path / "expected.npy", expected)
    frame.to_pickle(tmp_path / "frame.pkl")  # test data only, read back by the test's child
    script = textwrap.dedent(f"""
        import sys, numpy as np, pandas as pd, sorix
        assert "sorix.preprocessing" not in sys.modules
        ct = sorix.load({str(path)!r})
        frame = pd.read_pickle({str(tmp_path / "frame.pkl")!r})
        assert np.array_equal(ct.transform(frame), np.load({str(tmp_path / "expected.npy")!r}))
        print("ok", type(ct).__module__)
    """)
    env = python_env()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", "sorix.preprocessing.transformers"]


# ---- what a file may and may not name ------------------------------------------------------
def _object_file(path, name, state_items):
    meta = {"format": "sorix.save", "version": 1,
            "root": {"type": "object", "class": name, "state": {"type": "dict",
                                                                  "items": state_items}}}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("meta.json", json.dumps(meta))
    return path


def _str(value):
    return {"type": "str", "value": value}


@pytest.mark.parametrize("name", ["os.system", "builtins.eval", "sorix.nn.Linear",
                                  "this.Zen", "sorix.preprocessing.scalers._Scaler",
                                  "sorix.preprocessing.Nope"])
def test_unregistered_class_names_are_refused_and_nothing_is_imported(tmp_path, name):
    sys.modules.pop("this", None)
    path = _object_file(tmp_path / "cls.sorix", name, [])
    for weights_only in (True, False):
        with pytest.raises(SerializationError, match="not registered as safe to load in "
                                                     "this process.*register_safe_class"):
            load(path, weights_only=weights_only)
    assert "this" not in sys.modules


def test_the_registry_is_reachable_from_a_plain_import_sorix():
    import subprocess
    code = "import sorix; print(sorix.serialization.register_safe_class.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "register_safe_class"


@pytest.mark.parametrize("name, items, message", [
    ("sorix.preprocessing.MinMaxScaler", [[_str("min"), _str("rm -rf")]], "missing keys"),
    ("sorix.preprocessing.MinMaxScaler", [[_str("__class__"), _str("x")]], "unexpected keys"),
    ("sorix.preprocessing.OneHotEncoder",
     [[_str("features"), {"type": "dict", "items": [[_str("c"), {"type": "list", "items": [
         _str("b"), _str("a")]}]]}]], "sorted and unique"),
    ("sorix.preprocessing.ColumnTransformer",
     [[_str("transformers"), {"type": "list", "items": []}], [_str("n_features"),
                                                              {"type": "int", "value": 0}]],
     "non-empty list"),
])
def test_registered_class_with_a_hostile_state_is_refused(tmp_path, name, items, message):
    path = _object_file(tmp_path / "state.sorix", name, items)
    with pytest.raises(SerializationError, match=f"cannot rebuild.*{message}"):
        load(path)


class MyScaler(MinMaxScaler):
    pass


def test_subclasses_are_not_covered_by_the_registry(tmp_path):
    path = tmp_path / "sub.sorix"
    save(MyScaler().fit(np.ones((2, 1))), path)
    with pytest.raises(WeightsOnlyError, match="MyScaler"):
        load(path)


class Window:
    """A user's class made loadable by registering it."""

    def __init__(self, size=3):
        self.size = size
        self.buffer = np.zeros(size)

    def state_dict(self):
        return {"size": self.size, "buffer": self.buffer}

    def load_state_dict(self, state):
        size, buffer = int(state["size"]), np.asarray(state["buffer"], dtype=np.float64)
        if buffer.shape != (size,):
            raise ValueError("buffer does not match size")
        self.size, self.buffer = size, buffer.copy()


def test_register_safe_class_for_another_class(tmp_path, monkeypatch):
    monkeypatch.setattr(serialization, "_SAFE_CLASSES", dict(serialization._SAFE_CLASSES))
    monkeypatch.setattr(serialization, "_SAFE_NAMES", dict(serialization._SAFE_NAMES))
    window = Window(4)
    window.buffer[:] = [1.0, 2.0, 3.0, 4.0]
    path = tmp_path / "window.sorix"
    save(window, path)
    with pytest.raises(WeightsOnlyError):  # not registered yet: it was pickled
        load(path)
    serialization.register_safe_class(Window, name="tests.Window")
    save(window, path)
    loaded = load(path)
    assert type(loaded) is Window and loaded.size == 4
    np.testing.assert_array_equal(loaded.buffer, window.buffer)
    with pytest.raises(TypeError, match="expects a class"):
        serialization.register_safe_class(window)


@pytest.mark.parametrize("columns", [[1.5, 2.5], "multiindex"])
def test_encoder_with_float_or_multiindex_column_names_round_trips(columns, tmp_path):
    pd = pytest.importorskip("pandas")
    if columns == "multiindex":
        columns = pd.MultiIndex.from_tuples([("a", 1), ("b", 2)])
    frame = pd.DataFrame([[1, "x"], [2, "y"], [1, "y"]], columns=columns)
    encoder = OneHotEncoder().fit(frame)
    path = tmp_path / "encoder.sor"
    save(encoder, path)
    np.testing.assert_array_equal(np.asarray(load(path).transform(frame)),
                                  np.asarray(encoder.transform(frame)))
    fresh = OneHotEncoder()
    fresh.load_state_dict(encoder.state_dict())
    np.testing.assert_array_equal(np.asarray(fresh.transform(frame)),
                                  np.asarray(encoder.transform(frame)))
