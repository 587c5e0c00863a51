"""sorix.save / sorix.load: round trips, and refusing hostile or broken files without
running anything from them."""
import io
import json
import math
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import sorix
from sorix.optim import RMSprop
from sorix.serialization import SerializationError, WeightsOnlyError, load, save

from conftest import archive_meta, npy_bytes


def _archive(path, meta, entries=()):
    """Write a hand-made archive: ``meta`` is a dict (dumped as JSON) or raw bytes."""
    with zipfile.ZipFile(path, "w") as z:
        if meta is not None:
            z.writestr("meta.json", meta if isinstance(meta, bytes) else json.dumps(meta))
        for name, payload in dict(entries).items():
            z.writestr(name, payload)
    return path


class Payload:
    """Unpickling this runs code that creates ``marker``: what an attacker would ship."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


class TinyModel:
    """Stands in for a user's module: an arbitrary object holding tensors."""

    def __init__(self):
        self.W = sorix.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        self.b = sorix.tensor([0.5, -0.5, 1.5], requires_grad=True)
        self.name = "tiny"


# ---- round trips ---------------------------------------------------------------------
DTYPES = [np.float32, np.float64, np.float16, np.int8, np.int16, np.int32, np.int64,
          np.uint8, np.bool_]
SHAPES = [(), (0,), (3, 0, 2), (5,), (2, 3), (2, 3, 4)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_tensor_round_trip_keeps_values_dtype_shape(tmp_path, dtype, shape):
    rng = np.random.default_rng(len(shape) * 31 + np.dtype(dtype).num)
    reference = np.asarray(rng.standard_normal(shape) * 50).astype(dtype)
    grad = np.dtype(dtype).kind == "f"
    path = tmp_path / "t.sorix"
    save(sorix.tensor(reference, requires_grad=grad), path)
    out = load(path)
    assert isinstance(out, sorix.Tensor)
    assert out.data.dtype == np.dtype(dtype)
    assert out.data.shape == shape
    np.testing.assert_array_equal(out.data, reference)
    assert out.requires_grad is grad and out.is_leaf and out.grad is None


def test_non_contiguous_tensor_and_special_floats(tmp_path):
    base = np.array([[1.0, -0.0, np.nan], [np.inf, -np.inf, 3.5]], dtype=np.float32)
    path = tmp_path / "t.sorix"
    transposed = sorix.tensor(base).T
    assert not transposed.data.flags.c_contiguous
    save(transposed, path)
    out = load(path)
    np.testing.assert_array_equal(out.data, base.T)
    assert np.signbit(out.data[1, 0])  # -0.0 survives


def test_nested_containers_and_scalars(tmp_path):
    obj = OrderedDict([
        ("z", 1), ("a", [1, 2.5, None, True, False, "héllo ✓", b"\x00\xff"]),
        (3, {"inner": (1, (2, [3])), 0: -7}),
        ("big", 2 ** 80), ("floats", [math.inf, -math.inf, 0.1, -0.0, 1e-310]),
        ("c", 1 + 2j), ("arr", np.arange(6, dtype=np.int16).reshape(2, 3)),
        ("np_scalar", np.float32(2.25)), ("empty", {}), ("empty_list", []), ("t", ()),
    ])
    path = tmp_path / "nested.sorix"
    save(obj, path)
    out = load(path)
    assert type(out) is OrderedDict and list(out) == ["z", "a", 3, "big", "floats", "c", "arr",
                                                      "np_scalar", "empty", "empty_list", "t"]
    assert out["a"] == [1, 2.5, None, True, False, "héllo ✓", b"\x00\xff"]
    assert type(out["a"][3]) is bool and type(out["a"][0]) is int
    assert out[3] == {"inner": (1, (2, [3])), 0: -7} and type(out[3]["inner"]) is tuple
    assert 0 in out[3] and "0" not in out[3]
    assert out["big"] == 1208925819614629174706176
    assert out["floats"][:3] == [math.inf, -math.inf, 0.1] and math.copysign(1, out["floats"][3]) < 0
    assert out["floats"][4] == 1e-310
    assert out["c"] == 1 + 2j
    assert out["arr"].dtype == np.int16 and out["arr"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert type(out["np_scalar"]) is np.float32 and out["np_scalar"] == 2.25
    assert out["empty"] == {} and out["empty_list"] == [] and out["t"] == ()
    nan_path = tmp_path / "nan.sorix"
    save(float("nan"), nan_path)
    assert math.isnan(load(nan_path))


def test_shared_tensor_loads_as_one_object(tmp_path):
    t = sorix.tensor([1.0, 2.0])
    path = tmp_path / "shared.sorix"
    save({"a": t, "b": [t]}, path)
    out = load(path)
    assert out["a"] is out["b"][0]


def test_dtype_objects_and_size(tmp_path):
    path = tmp_path / "meta.sorix"
    save({"dtype": sorix.float64, "shape": sorix.tensor([[1, 2]]).shape}, path)
    out = load(path)
    assert out["dtype"] == np.float64 and tuple(out["shape"]) == (1, 2)


def test_paths_str_pathlib_and_file_objects(tmp_path):
    reference = np.array([[1.5, -2.0]], dtype=np.float64)
    t = sorix.tensor(reference)
    for target in (str(tmp_path / "s.sorix"), tmp_path / "p.sorix"):
        save(t, target)
        np.testing.assert_array_equal(load(target).data, reference)
    with open(tmp_path / "f.sorix", "wb") as fh:
        save(t, fh)
    with open(tmp_path / "f.sorix", "rb") as fh:
        np.testing.assert_array_equal(load(fh).data, reference)
    buf = io.BytesIO()
    save(t, buf)
    buf.seek(0)
    assert load(buf).data.dtype == np.float64

    class ReadOnlyStream:  # a pipe-like object: read() but no seek()
        def __init__(self, data):
            self._buf = io.BytesIO(data)

        def read(self, n=-1):
            return self._buf.read(n)

    np.testing.assert_array_equal(load(ReadOnlyStream(buf.getvalue())).data, reference)


def test_archive_layout_is_json_plus_npy(tmp_path):
    path = tmp_path / "layout.sorix"
    save({"w": sorix.tensor([1.0, 2.0])}, path)
    with zipfile.ZipFile(path) as z:
        meta = json.loads(z.read("meta.json"))
        assert meta["format"] == "sorix.save" and meta["version"] == 1
        npys = [n for n in z.namelist() if n.endswith(".npy")]
        assert len(npys) == 1
        array = np.load(io.BytesIO(z.read(npys[0])), allow_pickle=False)
        np.testing.assert_array_equal(array, np.array([1.0, 2.0], np.float32))
        assert not [n for n in z.namelist() if n.endswith(".pkl")]


def _train(params, opt, steps, seed):
    rng = np.random.default_rng(seed)
    targets = [rng.standard_normal(p.data.shape).astype(np.float32) for p in params]
    for _ in range(steps):
        loss = None
        for p, target in zip(params, targets):
            term = ((p - sorix.tensor(target)) ** 2).sum()
            loss = term if loss is None else loss + term
        opt.zero_grad()
        loss.backward()
        opt.step()


@pytest.mark.parametrize("options", [{}, {"momentum": 0.9, "centered": True, "weight_decay": 0.01}])
def test_rmsprop_state_round_trip_continues_bit_for_bit(tmp_path, options):
    init = [np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), np.array([0.5], np.float32)]
    a = [sorix.tensor(v, requires_grad=True) for v in init]
    opt_a = RMSprop(a, lr=0.01, **options)
    _train(a, opt_a, 5, seed=1)
    path = tmp_path / "ckpt.sorix"
    save({"params": [p.detach() for p in a], "optimizer": opt_a.state_dict(), "epoch": 5}, path)

    ckpt = load(path)
    assert set(ckpt["optimizer"]["state"]) == {0, 1}  # int keys stay ints
    assert ckpt["optimizer"]["state"][0]["step"] == 5
    assert ckpt["optimizer"]["param_groups"][0]["lr"] == 0.01
    b = [sorix.tensor(p.data.copy(), requires_grad=True) for p in ckpt["params"]]
    opt_b = RMSprop(b, lr=0.5)
    opt_b.load_state_dict(ckpt["optimizer"])

    _train(a, opt_a, 7, seed=2)
    _train(b, opt_b, 7, seed=2)
    for pa, pb in zip(a, b):
        assert pa.data.tobytes() == pb.data.tobytes()


def test_lr_scheduler_state_round_trip(tmp_path):
    from sorix.optim.lr_scheduler import ReduceLROnPlateau
    p = sorix.tensor([1.0], requires_grad=True)
    sched = ReduceLROnPlateau(RMSprop([p], lr=0.1), patience=1)
    sched.step(3.0)
    path = tmp_path / "sched.sorix"
    save(sched.state_dict(), path)
    out = load(path)
    assert out == sched.state_dict() and out["best"] == 3.0 and out["mode_worse"] == math.inf


# ---- whole objects need the explicit opt-in --------------------------------------------
def test_arbitrary_object_needs_weights_only_false(tmp_path):
    path = tmp_path / "model.sorix"
    save({"model": TinyModel(), "epoch": 3}, path)
    with pytest.raises(pickle.UnpicklingError, match="weights_only=False"):
        load(path)
    with pytest.raises(WeightsOnlyError, match="TinyModel"):
        load(path, weights_only=True)
    out = load(path, weights_only=False)
    assert out["epoch"] == 3 and out["model"].name == "tiny"
    np.testing.assert_array_equal(out["model"].W.data, np.arange(6.0).reshape(2, 3))
    assert out["model"].b.requires_grad


def test_sorix_module_round_trip_if_available(tmp_path):
    nn = pytest.importorskip("sorix.nn")
    if not hasattr(nn, "Linear"):
        pytest.skip("sorix.nn.Linear not available yet")
    model = nn.Linear(3, 2)
    path = tmp_path / "linear.sorix"
    save(model, path)
    with pytest.raises(WeightsOnlyError):
        load(path)
    again = load(path, weights_only=False)
    np.testing.assert_array_equal(again.W.data, model.W.data)
    save(model.state_dict(), path)
    state = load(path)  # a state dict loads safely
    np.testing.assert_array_equal(state["W"].data, model.W.data)


def test_unsaveable_object_leaves_existing_file_alone(tmp_path):
    path = tmp_path / "keep.sorix"
    save([1, 2], path)
    before = path.read_bytes()
    with pytest.raises(Exception):
        save({"f": lambda: 0}, path)  # lambdas cannot be pickled
    assert path.read_bytes() == before


def test_cycles_are_refused(tmp_path):
    loop = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        save(loop, tmp_path / "cycle.sorix")


# ---- hostile and broken files ----------------------------------------------------------
def test_payload_really_runs_under_plain_pickle(tmp_path):
    """Control for the tests below: this payload does create its marker when unpickled."""
    marker = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()


def test_plain_pickle_file_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"weights": Payload(marker)}))
    with pytest.raises(WeightsOnlyError, match="weights_only=False"):
        load(path)
    with pytest.raises(pickle.UnpicklingError):
        load(str(path), weights_only=True)
    with open(path, "rb") as fh, pytest.raises(SerializationError):
        load(fh)
    assert not marker.exists()


def test_pickle_entry_inside_archive_runs_nothing(tmp_path):
    marker = tmp_path / "marker"
    path = _archive(tmp_path / "evil.sorix",
                    archive_meta({"type": "dict", "items": [[{"type": "str", "value": "w"},
                                                      {"type": "pickle", "entry": "pickles/0.pkl"}]]}),
                    {"pickles/0.pkl": pickle.dumps(Payload(marker))})
    with pytest.raises(WeightsOnlyError):
        load(path)
    assert not marker.exists()


def test_pickled_npy_inside_archive_runs_nothing(tmp_path):
    marker = tmp_path / "marker"
    evil = np.empty(1, dtype=object)
    evil[0] = Payload(marker)
    for node in ({"type": "ndarray", "entry": "arrays/0.npy"},
                 {"type": "tensor", "key": 0, "entry": "arrays/0.npy", "requires_grad": False}):
        path = _archive(tmp_path / "evil.sorix", archive_meta(node),
                        {"arrays/0.npy": npy_bytes(evil, allow_pickle=True)})
        with pytest.raises(SerializationError, match="not a readable array"):
            load(path)
        with pytest.raises(SerializationError):
            load(path, weights_only=False)  # arrays never unpickle, even when trusted
    assert not marker.exists()


def test_tensor_class_outside_sorix_is_refused(tmp_path):
    path = _archive(tmp_path / "cls.sorix",
                    archive_meta({"type": "tensor", "key": 0, "entry": "arrays/0.npy",
                           "requires_grad": False, "class": "os:system"}),
                    {"arrays/0.npy": npy_bytes(np.zeros(2))})
    with pytest.raises(SerializationError, match="not part of sorix"):
        load(path)


GOOD_ARRAY = {"arrays/0.npy": npy_bytes(np.arange(4, dtype=np.float32))}
TENSOR_NODE = {"type": "tensor", "key": 0, "entry": "arrays/0.npy", "requires_grad": False,
               "dtype": "<f4", "shape": [4]}


@pytest.mark.parametrize("meta, entries, message", [
    (None, GOOD_ARRAY, "no meta.json"),
    (b"{not json", GOOD_ARRAY, "not valid JSON"),
    (b"\xff\xfe", GOOD_ARRAY, "not valid JSON"),
    ({"format": "other", "version": 1, "root": {"type": "none"}}, {}, "does not describe"),
    ({"format": "sorix.save", "version": 99, "root": {"type": "none"}}, {}, "version"),
    ({"format": "sorix.save", "version": 1}, {}, "no root"),
    (archive_meta({"type": "mystery"}), {}, "unknown node type"),
    (archive_meta({"type": "int", "value": "7"}), {}, "no valid 'value'"),
    (archive_meta({"type": "list", "items": {"a": 1}}), {}, "no valid 'items'"),
    (archive_meta([1, 2]), {}, "no valid 'type'"),
    (archive_meta({"type": "dict", "items": [[{"type": "list", "items": []}, {"type": "none"}]]}), {},
     "unhashable"),
    (archive_meta(TENSOR_NODE), {}, "missing entry"),
    (archive_meta(dict(TENSOR_NODE, entry="../../etc/passwd")), GOOD_ARRAY, "missing entry"),
    (archive_meta(dict(TENSOR_NODE, dtype="<f8")), GOOD_ARRAY, "meta.json says"),
    (archive_meta(dict(TENSOR_NODE, shape=[2, 2])), GOOD_ARRAY, "meta.json says"),
    (archive_meta({"type": "tensor_ref", "key": 3}), {}, "not defined"),
    (archive_meta({"type": "tensor", "key": 0, "entry": "arrays/0.npy", "requires_grad": True}),
     {"arrays/0.npy": npy_bytes(np.array([True, False]))}, "cannot require grad"),
    (archive_meta(TENSOR_NODE), {"arrays/0.npy": b"\x93NUMPY garbage"}, "not a readable array"),
    (archive_meta(TENSOR_NODE), {"arrays/0.npy": npy_bytes(np.arange(4, dtype=np.float32))[:-3]},
     "truncated"),
    (archive_meta({"type": "float", "value": "zz"}), {}, "not a valid sorix"),
    (archive_meta({"type": "dtype", "value": "not-a-dtype"}), {}, "not a valid sorix"),
])
def test_broken_archives_raise_clear_errors(tmp_path, meta, entries, message):
    path = _archive(tmp_path / "broken.sorix", meta, entries)
    with pytest.raises(SerializationError, match=message):
        load(path)


def test_deeply_nested_meta_is_an_error_not_a_crash(tmp_path):
    deep = '{"type": "list", "items": [' * 100_000 + ']}' * 100_000
    meta = '{"format": "sorix.save", "version": 1, "root": ' + deep + "}"
    path = _archive(tmp_path / "deep.sorix", meta.encode())
    with pytest.raises(SerializationError):
        load(path)


def test_truncated_and_corrupted_files(tmp_path):
    path = tmp_path / "good.sorix"
    save({"w": sorix.tensor(np.arange(64, dtype=np.float32)), "n": 3}, path)
    data = path.read_bytes()
    for cut in (0, 1, 3, 10, len(data) // 2, len(data) - 1):
        broken = tmp_path / f"cut{cut}.sorix"
        broken.write_bytes(data[:cut])
        with pytest.raises(SerializationError):
            load(broken)
    # Flip bytes inside the stored array: the zip CRC check catches it.
    start = data.find(b"\x93NUMPY") + 128 + 40  # past the npy header, into the values
    corrupted = bytearray(data)
    corrupted[start:start + 8] = b"\x00\x11\x22\x33\x44\x55\x66\x77"
    bad = tmp_path / "flipped.sorix"
    bad.write_bytes(bytes(corrupted))
    with pytest.raises(SerializationError):
        load(bad)
    for junk in (b"hello world, not an archive", b"\x00" * 100):
        other = tmp_path / "junk.bin"
        other.write_bytes(junk)
        with pytest.raises(SerializationError, match="not a zip archive"):
            load(other)


def test_load_rejects_text_mode_and_non_files(tmp_path):
    path = tmp_path / "x.sorix"
    save(1, path)
    with open(path, "r", encoding="latin-1") as fh, pytest.raises(TypeError, match="binary"):
        load(fh)
    with pytest.raises(TypeError):
        load(12345)


def test_errors_are_runtime_and_value_errors():
    assert issubclass(SerializationError, RuntimeError) and issubclass(SerializationError, ValueError)
    assert issubclass(WeightsOnlyError, pickle.UnpicklingError)


def test_pathlib_round_trip_of_top_level_export():
    if not hasattr(sorix, "save"):
        pytest.skip("sorix.save is not exported yet")
    buf = io.BytesIO()
    sorix.save({"x": sorix.tensor([1, 2, 3])}, buf)
    buf.seek(0)
    assert sorix.load(buf)["x"].data.dtype == np.int64


def test_integer_tensors_that_require_grad_and_parameters_load_as_saved(tmp_path):
    """Integer leaves may require grad (as in Sorix), and a Parameter stays a Parameter
    (a frozen one is then still registered when assigned to a module)."""
    ints = sorix.tensor([1, 2, 3], requires_grad=True)
    frozen = sorix.nn.Parameter(sorix.tensor([0.5, 1.5]))
    frozen.requires_grad = False
    path = tmp_path / "state.sor"
    save({"ints": ints, "frozen": frozen}, path)
    for weights_only in (True, False):
        got = load(path, weights_only=weights_only)
        assert got["ints"].requires_grad and got["ints"].dtype == sorix.int64
        np.testing.assert_array_equal(got["ints"].data, [1, 2, 3])
        assert type(got["frozen"]) is sorix.nn.Parameter and not got["frozen"].requires_grad
        np.testing.assert_array_equal(got["frozen"].data, [0.5, 1.5])


def test_a_file_opened_in_text_mode_is_refused_clearly(tmp_path):
    path = tmp_path / "state.sor"
    save({"a": sorix.zeros(2)}, path)
    with open(path) as text, pytest.raises(TypeError, match="binary mode"):
        load(text)
