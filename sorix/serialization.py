"""``sorix.save`` / ``sorix.load``: a zip archive that loads without running code.

Layout of a saved file::

    meta.json        {"format": "sorix.save", "version": 1, "root": <node>}
    arrays/<n>.npy   one NumPy array per tensor or ndarray (no pickle inside)
    pickles/<n>.pkl  only for objects with no safe description (whole modules)

Every node in ``meta.json`` is a dict with a ``"type"``; containers hold
nodes, tensors and arrays name their ``.npy`` entry. Loading a file that
holds only tensors, arrays, numbers, strings, containers and instances of
registered safe classes (:func:`register_safe_class`, e.g. the fitted
transformers of ``sorix.preprocessing``) reads JSON and ``.npy`` data with
``allow_pickle=False``: nothing in the file can make Python run code. Pickled
entries are refused unless the caller opts in with ``weights_only=False``,
which is only safe for files from a trusted source.

What ``save`` guarantees: to a path, the archive is written to a temporary
file in the same folder, fsynced, then renamed over the target, so an error,
Ctrl-C or a kill mid-write leaves the previous file intact. What ``load``
refuses before allocating anything: compressed or encrypted entries (``save``
writes stored entries only, so a small file cannot inflate into a huge
array), a ``meta.json`` over :data:`MAX_META_BYTES`, arrays whose size
disagrees with their ``.npy`` header, and entries that together claim more
bytes than the file holds (overlapping entries).
"""
import base64
import io
import json
import math
import os
import pickle
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from . import dtypes as _dtypes
from ._atomic import atomic_write
from .device import device as _device
from .tensor import Size, Tensor

FORMAT = "sorix.save"
VERSION = 1
META = "meta.json"
MAX_META_BYTES = 16 * 2 ** 20  # a model's description is kilobytes; arrays are separate entries
_TRUST_HINT = ("Pass weights_only=False only if you trust the file's source: unpickling "
               "can run arbitrary code.")


class SerializationError(RuntimeError, ValueError):
    """The file is not a readable sorix save file (truncated, corrupted or forged)."""


class WeightsOnlyError(SerializationError, pickle.UnpicklingError):
    """The file needs unpickling, which ``weights_only=True`` refuses."""


# ---- classes that load without pickle -------------------------------------------------------
_SAFE_CLASSES = {}  # saved name -> class
_SAFE_NAMES = {}    # class -> saved name (exact type: a subclass is not covered)
# sorix classes in modules that ``import sorix`` does not load. A file naming one of these
# makes ``load`` import that sorix module (which registers the class), and nothing else.
_SAFE_MODULES = {f"sorix.preprocessing.{name}": "sorix.preprocessing"
                 for name in ("MinMaxScaler", "StandardScaler", "RobustScaler", "OneHotEncoder",
                              "ColumnTransformer")}


def register_safe_class(cls=None, *, name=None):
    """Let ``load(weights_only=True)`` rebuild instances of ``cls`` from data alone.

    Use as ``register_safe_class(cls)`` or as a decorator. An instance is saved as
    ``name`` (default ``module.QualName``) plus its state, ``obj._sorix_state()`` if the
    class defines it, else ``obj.state_dict()``: a dict of what ``save`` stores without
    pickle (tensors, arrays, numbers, strings, containers, other registered objects).
    Loading rebuilds it with ``cls._sorix_from_state(state)`` if defined, else ``cls()``
    followed by ``load_state_dict(state)``; those must validate the state, since it comes
    from the file. A file can only name registered classes, never import others.
    """
    def register(klass):
        if not isinstance(klass, type):
            raise TypeError(f"register_safe_class expects a class, got {klass!r}")
        key = name or f"{klass.__module__}.{klass.__qualname__}"
        _SAFE_CLASSES[key] = klass
        _SAFE_NAMES[klass] = key
        return klass
    return register if cls is None else register(cls)


def _safe_class(name):
    cls = _SAFE_CLASSES.get(name)
    if cls is None and name in _SAFE_MODULES:
        import importlib
        importlib.import_module(_SAFE_MODULES[name])
        cls = _SAFE_CLASSES.get(name)
    if cls is None:
        # the file may be sound: the class is simply unknown to this process
        raise SerializationError(
            f"the file holds an object of class {name!r}, which is not registered as safe to "
            "load in this process: before sorix.load, import the module that registers it, "
            "or register it yourself with sorix.serialization.register_safe_class")
    return cls


def _rebuild(cls, name, state):
    try:
        builder = getattr(cls, "_sorix_from_state", None)
        if builder is not None:
            return builder(state)
        obj = cls()
        obj.load_state_dict(state)
        return obj
    except SerializationError:
        raise
    except Exception as exc:  # the state is data from the file: any refusal is a bad file
        raise _bad(f"cannot rebuild {name} from its saved state ({type(exc).__name__}: "
                   f"{exc})") from None


# ---- saving ------------------------------------------------------------------------------
class _Writer:
    """Turns an object into JSON nodes, collecting arrays and pickles as archive entries."""

    def __init__(self):
        self.entries = []       # (name, ndarray or bytes) in writing order
        self._arrays = {}       # id(ndarray) -> entry name, so shared arrays are stored once
        self._tensors = {}      # id(Tensor) -> key, so a tensor saved twice loads as one
        self._keep = []         # keeps saved objects alive so their ids stay unique
        self._open = set()      # ids of containers being encoded, to refuse cycles
        self._pickles = 0

    def _array_entry(self, array):
        name = self._arrays.get(id(array))
        if name is None:
            name = self._arrays[id(array)] = f"arrays/{len(self._arrays)}.npy"
            self.entries.append((name, array))
            self._keep.append(array)
        return name

    def _pickle(self, obj):
        name = f"pickles/{self._pickles}.pkl"
        self._pickles += 1
        self.entries.append((name, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)))
        cls = type(obj)
        return {"type": "pickle", "entry": name, "class": f"{cls.__module__}.{cls.__qualname__}"}

    def _tensor(self, t):
        key = self._tensors.get(id(t))
        if key is not None:
            return {"type": "tensor_ref", "key": key}
        key = self._tensors[id(t)] = len(self._tensors)
        self._keep.append(t)
        array = t.data if isinstance(t.data, np.ndarray) else np.asarray(t.cpu().data)
        node = {"type": "tensor", "key": key, "entry": self._array_entry(array),
                "dtype": array.dtype.str, "shape": list(array.shape),
                "requires_grad": bool(t.requires_grad), "device": str(t.device)}
        if type(t) is not Tensor:  # e.g. a Parameter subclass defined inside sorix
            node["class"] = f"{type(t).__module__}:{type(t).__qualname__}"
        return node

    def encode(self, obj):
        kind = type(obj)
        if obj is None:
            return {"type": "none"}
        if kind is bool:
            return {"type": "bool", "value": obj}
        if kind is int:
            return {"type": "int", "value": obj}
        if kind is float:  # hex keeps every bit, and nan/inf, which JSON cannot hold
            return {"type": "float", "value": obj.hex()}
        if kind is complex:
            return {"type": "complex", "real": obj.real.hex(), "imag": obj.imag.hex()}
        if kind is str:
            return {"type": "str", "value": obj}
        if kind is bytes:
            return {"type": "bytes", "value": base64.b64encode(obj).decode("ascii")}
        if isinstance(obj, Tensor):
            return self._tensor(obj)
        if kind in (np.ndarray, np.memmap) and not obj.dtype.hasobject:
            array = obj if kind is np.ndarray else np.asarray(obj)  # a memmap is plain data
            return {"type": "ndarray", "entry": self._array_entry(array),
                    "dtype": array.dtype.str, "shape": list(array.shape)}
        if isinstance(obj, np.generic) and not obj.dtype.hasobject:
            return {"type": "numpy_scalar", "entry": self._array_entry(np.asarray(obj))}
        if isinstance(obj, _dtypes.DType):
            return {"type": "dtype", "value": obj.dtype.str}
        if kind in (list, tuple, Size, dict, OrderedDict):
            return self._container(obj, kind)
        if kind in _SAFE_NAMES:
            return self._object(obj, _SAFE_NAMES[kind])
        return self._pickle(obj)

    def _object(self, obj, name):
        if id(obj) in self._open:
            raise ValueError("cannot save an object that contains itself")
        self._open.add(id(obj))
        try:
            getter = getattr(obj, "_sorix_state", None)
            state = getter() if getter is not None else obj.state_dict()
            if type(state) not in (dict, OrderedDict):
                raise TypeError(f"{name} gave a state of type {type(state).__name__}, not a dict")
            self._keep.append(state)  # its arrays may be temporaries: keep their ids unique
            return {"type": "object", "class": name, "state": self.encode(state)}
        finally:
            self._open.discard(id(obj))

    def _container(self, obj, kind):
        if id(obj) in self._open:
            raise ValueError("cannot save a container that contains itself")
        self._open.add(id(obj))
        try:
            if kind in (dict, OrderedDict):
                # Keys are nodes too, so int keys (optimizer state) come back as ints.
                items = [[self.encode(k), self.encode(v)] for k, v in obj.items()]
                return {"type": "dict" if kind is dict else "ordered_dict", "items": items}
            name = {list: "list", tuple: "tuple", Size: "size"}[kind]
            return {"type": name, "items": [self.encode(v) for v in obj]}
        finally:
            self._open.discard(id(obj))


def save(obj, f):
    """Save ``obj`` to ``f`` (a path or a binary file opened for writing).

    A path is replaced atomically: the archive goes to a temporary file in the same
    folder, is fsynced and renamed over ``f``, so a failure leaves the old file intact.
    """
    writer = _Writer()
    # Encode everything first, so an unsaveable object fails before the file is touched.
    meta = {"format": FORMAT, "version": VERSION, "root": writer.encode(obj)}
    if isinstance(f, (str, os.PathLike)):
        with atomic_write(f) as fh:  # the old file survives any failure mid-write
            _write_archive(fh, meta, writer.entries)
    else:
        if not hasattr(f, "write"):
            raise TypeError(f"save expects a path or a binary file, got {type(f).__name__}")
        _write_archive(f, meta, writer.entries)


def _write_archive(fh, meta, entries):
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(META, json.dumps(meta))
        for name, payload in entries:
            if isinstance(payload, bytes):
                archive.writestr(name, payload)
            else:  # stream the array straight into the archive, no extra copy
                with archive.open(name, "w", force_zip64=True) as out:
                    np.lib.format.write_array(out, payload, allow_pickle=False)


# ---- loading -----------------------------------------------------------------------------
def _bad(message):
    return SerializationError(f"not a valid sorix save file: {message}")


def _field(node, name, types):
    value = node.get(name) if isinstance(node, dict) else None
    if not isinstance(value, types) or (types is int and isinstance(value, bool)):
        raise _bad(f"node {str(node)[:80]} has no valid '{name}'")
    return value


def _check_entry(info, limit, what):
    """Refuse an entry before reading it if it could expand past what the file holds."""
    if info.flag_bits & 0x1:
        raise _bad(f"entry {info.filename!r} is encrypted")
    if info.compress_type != zipfile.ZIP_STORED:
        raise _bad(f"entry {info.filename!r} is compressed; sorix writes uncompressed entries "
                   "only and does not inflate data it did not write")
    if info.file_size != info.compress_size:
        raise _bad(f"entry {info.filename!r} claims {info.file_size} bytes but stores "
                   f"{info.compress_size}")
    if info.file_size > limit:
        raise _bad(f"{what} {info.filename!r} holds {info.file_size} bytes, more than the "
                   f"{limit} allowed")


class _Reader:
    """Rebuilds objects from JSON nodes, reading arrays with ``allow_pickle=False``."""

    def __init__(self, archive, weights_only, map_location, size):
        self.archive = archive
        self.names = set(archive.namelist())
        self.weights_only = weights_only
        self.map_location = map_location
        # Entries are read at most once each, and honest entries do not overlap, so all of
        # them together fit in the file: this bounds what overlapping entries can allocate.
        self._budget = size
        self._arrays = {}
        self._tensors = {}

    def _info(self, entry):
        if not isinstance(entry, str) or entry not in self.names:
            raise _bad(f"meta.json refers to a missing entry {entry!r}")
        info = self.archive.getinfo(entry)
        _check_entry(info, self._budget, "entry")
        self._budget -= info.file_size
        return info

    def _array(self, entry):
        if entry in self._arrays:
            return self._arrays[entry]
        info = self._info(entry)
        fmt = np.lib.format
        try:
            with self.archive.open(info) as fh:  # check the header before allocating
                version = fmt.read_magic(fh)
                read_header = {(1, 0): fmt.read_array_header_1_0,
                               (2, 0): fmt.read_array_header_2_0}.get(version)
                if read_header is None:
                    raise _bad(f"entry {entry!r} is not a readable array: .npy format "
                               f"version {version} is not one sorix reads")
                shape, _, dtype = read_header(fh)
                if dtype.hasobject:
                    raise _bad(f"entry {entry!r} is not a readable array: it holds Python "
                               f"objects ({dtype}), which would need unpickling")
                if dtype.itemsize == 0:
                    raise _bad(f"entry {entry!r} is not a readable array: its dtype {dtype} "
                               "has size 0")
                needed = math.prod(shape) * dtype.itemsize
                if needed != info.file_size - fh.tell():
                    raise _bad(f"entry {entry!r} is truncated or padded: its header promises "
                               f"{needed} bytes of data, the entry holds "
                               f"{info.file_size - fh.tell()}")
            with self.archive.open(info) as fh:
                array = fmt.read_array(fh, allow_pickle=False)
                if fh.read(1):  # (also reaches the end, where zipfile checks the CRC)
                    raise _bad(f"entry {entry!r} has data past its array")
        except SerializationError:
            raise
        except Exception as exc:  # bad magic/header, short data, CRC errors
            raise _bad(f"entry {entry!r} is not a readable array ({exc})") from None
        self._arrays[entry] = array
        return array

    def _checked(self, node):
        array = self._array(_field(node, "entry", str))
        if "dtype" in node and np.dtype(array.dtype).str != node["dtype"]:
            raise _bad(f"entry {node['entry']!r} holds {array.dtype}, meta.json says {node['dtype']}")
        if "shape" in node and list(array.shape) != node["shape"]:
            raise _bad(f"entry {node['entry']!r} has shape {array.shape}, meta.json says "
                       f"{node['shape']}")
        return array

    def _tensor(self, node):
        key = _field(node, "key", int)
        if key in self._tensors:
            raise _bad(f"tensor key {key} is defined twice")
        array = self._checked(node)
        if array.dtype.kind not in "biufc":
            raise _bad(f"a tensor cannot hold {array.dtype}")
        cls = _tensor_class(node.get("class"))
        # Tensor's own constructor, building the saved class (a Parameter's _wrap gives a
        # plain Tensor, as results computed from parameters are)
        t = Tensor._wrap.__func__(cls, array)
        if _field(node, "requires_grad", bool):
            if array.dtype.kind not in "fciu":  # (what Tensor.requires_grad accepts)
                raise _bad(f"a {array.dtype} tensor cannot require grad")
            t.requires_grad = True
        device = self.map_location if self.map_location is not None else _saved_device(node)
        if device.type != "cpu":
            try:
                t = t.to(device)
            except RuntimeError as exc:
                raise SerializationError(
                    f"the file holds a tensor on {device}, which is not available here "
                    f"({exc}); pass map_location='cpu' to load it on the CPU") from None
        self._tensors[key] = t
        return t

    def meta(self):
        if META not in self.names:
            raise _bad(f"the archive has no {META}")
        info = self.archive.getinfo(META)
        _check_entry(info, min(self._budget, MAX_META_BYTES), "the description")
        self._budget -= info.file_size
        with self.archive.open(info) as fh:
            return fh.read()

    def _pickled(self, node):
        if self.weights_only:
            raise WeightsOnlyError(
                f"the file holds a pickled object ({node.get('class', 'unknown class')}), which "
                f"weights_only=True does not load. {_TRUST_HINT}")
        info = self._info(_field(node, "entry", str))
        return pickle.loads(self.archive.read(info))

    def decode(self, node):
        kind = _field(node, "type", str)
        if kind == "none":
            return None
        if kind in ("bool", "int", "str"):
            return _field(node, "value", {"bool": bool, "int": int, "str": str}[kind])
        if kind == "float":
            return float.fromhex(_field(node, "value", str))
        if kind == "complex":
            return complex(float.fromhex(_field(node, "real", str)),
                           float.fromhex(_field(node, "imag", str)))
        if kind == "bytes":
            return base64.b64decode(_field(node, "value", str), validate=True)
        if kind in ("list", "tuple", "size"):
            items = [self.decode(v) for v in _field(node, "items", list)]
            return {"list": list, "tuple": tuple, "size": Size}[kind](items)
        if kind in ("dict", "ordered_dict"):
            out = {} if kind == "dict" else OrderedDict()
            for pair in _field(node, "items", list):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise _bad("a dict item is not a [key, value] pair")
                out[self.decode(pair[0])] = self.decode(pair[1])
            return out
        if kind == "tensor":
            return self._tensor(node)
        if kind == "tensor_ref":
            key = _field(node, "key", int)
            if key not in self._tensors:
                raise _bad(f"reference to tensor {key}, which is not defined before it")
            return self._tensors[key]
        if kind == "ndarray":
            return self._checked(node)
        if kind == "numpy_scalar":
            array = self._checked(node)
            if array.ndim != 0:
                raise _bad("a NumPy scalar entry is not 0-d")
            return array[()]
        if kind == "dtype":
            return _dtypes.as_dtype(np.dtype(_field(node, "value", str)))
        if kind == "object":
            name = _field(node, "class", str)
            cls = _safe_class(name)
            state = self.decode(_field(node, "state", dict))
            if type(state) not in (dict, OrderedDict):
                raise _bad(f"the state of {name} is not a dict")
            return _rebuild(cls, name, state)
        if kind == "pickle":
            return self._pickled(node)
        raise _bad(f"unknown node type {kind!r}")


def _saved_device(node):
    spec = node.get("device", "cpu")
    try:
        if not isinstance(spec, str):
            raise TypeError(f"not a string: {spec!r}")
        return _device(spec)
    except (RuntimeError, TypeError) as exc:
        raise _bad(f"unknown device {str(spec)[:40]!r} ({exc})") from None


def _tensor_class(name):
    """Tensor, or a Tensor subclass defined inside sorix (never a class named by the file alone)."""
    if name is None:
        return Tensor
    import importlib
    module, _, qualname = str(name).partition(":")
    if not (module == "sorix" or module.startswith("sorix.")):
        raise _bad(f"tensor class {name!r} is not part of sorix")
    try:
        cls = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError):
        raise _bad(f"unknown tensor class {name!r}") from None
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise _bad(f"{name!r} is not a tensor class")
    return cls


def load(f, weights_only=True, map_location=None):
    """Load what :func:`save` wrote to ``f`` (a path or a binary file).

    With ``weights_only=True`` (the default) nothing from the file is
    unpickled, so no code from it runs; files holding whole modules need
    ``weights_only=False``. That also reads plain pickle files (such as
    those the original Sorix wrote), and is only safe for trusted files.
    """
    if map_location is not None:
        map_location = _device(map_location)  # a bad value is the caller's error, not the file's
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            return _load_stream(fh, weights_only, map_location)
    if not hasattr(f, "read"):
        raise TypeError(f"load expects a path or a binary file, got {type(f).__name__}")
    if not (hasattr(f, "seekable") and f.seekable()):
        f = io.BytesIO(f.read())  # zip reading needs to seek
    return _load_stream(f, weights_only, map_location)


def _load_stream(fh, weights_only, map_location):
    binary_hint = "load needs a file opened in binary mode ('rb')"
    if isinstance(fh, io.TextIOBase):  # (before reading: decoding the archive would fail)
        raise TypeError(binary_hint)
    start = fh.tell()
    head = fh.read(4)
    fh.seek(start)
    if not isinstance(head, bytes):
        raise TypeError(binary_hint)
    if not head:
        raise _bad("the file is empty")
    if not head.startswith(b"PK"):
        if not weights_only:
            return pickle.load(fh)  # trusted legacy pickle, opted into by the caller
        if head[:1] == b"\x80":
            raise WeightsOnlyError(f"the file is a plain pickle, not a sorix archive. {_TRUST_HINT}")
        raise _bad("it is not a zip archive")
    size = fh.seek(0, os.SEEK_END) - start
    fh.seek(start)
    try:
        with zipfile.ZipFile(fh) as archive:
            return _read_archive(_Reader(archive, weights_only, map_location, size))
    except SerializationError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
            NotImplementedError, RecursionError, RuntimeError) as exc:
        # (RuntimeError: what zipfile raises for a password-protected entry)
        raise _bad(f"{type(exc).__name__}: {exc}") from None


def _read_archive(reader):
    try:
        meta = json.loads(reader.meta().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad(f"{META} is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _bad(f"{META} does not describe a {FORMAT!r} file")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        raise _bad(f"unsupported format version {version!r} (this sorix reads up to {VERSION})")
    if "root" not in meta:
        raise _bad(f"{META} has no root object")
    try:
        return reader.decode(meta["root"])
    except (SerializationError, pickle.UnpicklingError, zipfile.BadZipFile):
        raise
    except (TypeError, ValueError, KeyError, OverflowError, RecursionError) as exc:
        # e.g. an unhashable dict key or a bad dtype string
        raise _bad(f"{type(exc).__name__}: {exc}") from None
