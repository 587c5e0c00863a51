"""Where compiled kernels are kept on disk, and a disk cache that repairs itself.

numba keeps a ``cache=True`` function's machine code in an index file
(``.nbi``) and one data file per signature (``.nbc``). sorix's kernels use
the cache below instead of numba's default one (the user's own jitted
functions are not touched), because the default one fails in four ways:

- A damaged file (a truncated write, an emptied or bit-flipped file) makes
  every later load raise EOFError or UnpicklingError until someone deletes
  it. Here each file carries a SHA-256 digest of its contents; a file that
  fails the check, or fails to load in any other way, is deleted and the
  kernel recompiled, with one warning per process.
- A failed save (a full disk) raises out of whatever call compiled the
  kernel (``optimizer.step()``). Here the process warns once and keeps the
  kernels it compiles in memory.
- With an unwritable cache folder, numba writes into the package's own
  ``__pycache__`` (site-packages in a real install) or its own user folder,
  silently. Here kernels go to ``NUMBA_CACHE_DIR`` when it is set and
  writable, else to sorix's per-user cache folder (:func:`user_folder`),
  else nowhere (compiled in memory), with one warning saying which.
- Two processes saving two signatures of one kernel at once (float32 and
  float64, say: ``sorix.warmup --jobs``, ``pytest -n``, the ranks of a job
  on a shared cache) both number their data file 1, and the index can end
  up naming the other signature's machine code, which the next process runs
  on the wrong types. Here a data file is named after its signature and the
  source's digest, written before the index names it, and holds both, which
  loading checks; the index is rewritten under a file lock where the
  platform and file system give one, so that neither writer drops the
  other's entry; data files no index names are deleted once ten minutes old.
"""
import contextlib
import hashlib
import os
import pickle
import tempfile
import threading
import time
import warnings

try:
    import fcntl
except ImportError:  # (not on Windows: there index writes may race, costing a recompile)
    fcntl = None

_MAGIC = b"sorix kernel cache 1\n"
_DIGEST = 32  # bytes of SHA-256

_lock = threading.Lock()
_folder = None
_folder_decided = False
_warned = set()
_saving = True  # False after a save failed: the disk is full or gone
_stamps = {}
_classes = {}


class DamagedEntry(Exception):
    """A cache file that cannot be read back as it was written."""


def _warn_once(kind, message):
    with _lock:
        if kind in _warned:
            return
        _warned.add(kind)
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def saving():
    """Whether kernels are still written to disk in this process."""
    return _saving


def save_failed(path, exc):
    """Stop writing kernels to disk for this process after writing to ``path`` failed."""
    global _saving
    _saving = False
    _warn_once("save", f"sorix: could not save compiled kernels to {path} "
                       f"({exc.strerror or exc}); kernels compiled from now on are kept in "
                       "memory only, for this process")


# ---- the folder --------------------------------------------------------------------

def user_folder():
    """sorix's per-user cache folder: ``$XDG_CACHE_HOME/sorix`` or ``~/.cache/sorix`` on
    Linux, ``~/Library/Caches/sorix`` on macOS, ``%LOCALAPPDATA%\\sorix\\Cache`` on Windows."""
    from numba.misc.appdirs import AppDirs
    return AppDirs("sorix", appauthor=False).user_cache_dir


def _unusable(path):
    """Why ``path`` cannot hold cache files (an OSError), or None when it can."""
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:
        return exc
    return None


def _choose_folder():
    from numba.core import config as numba_config
    candidates = []
    if numba_config.CACHE_DIR:
        candidates.append(("NUMBA_CACHE_DIR", numba_config.CACHE_DIR))
    candidates.append(("sorix's user cache folder", user_folder()))
    refused = []
    for label, path in candidates:
        reason = _unusable(path)
        if reason is None:
            if refused:
                _warn_once("folder", f"sorix: the kernel cache folder {refused[0]} is not "
                                     f"usable; compiled kernels are cached in {path} instead")
            return path
        refused.append(f"{path} ({label}: {reason.strerror or reason})")
    _warn_once("folder", "sorix: no usable kernel cache folder (tried " + "; ".join(refused) +
               "); kernels are compiled in memory and recompiled in every new process. "
               "Set NUMBA_CACHE_DIR to a writable folder to keep them.")
    return None


def folder():
    """The folder kernels are cached in, decided once per process; None: none is usable."""
    global _folder, _folder_decided
    if not _folder_decided:
        chosen = _choose_folder()
        with _lock:
            if not _folder_decided:
                _folder, _folder_decided = chosen, True
    return _folder


def _source_stamp(path):
    """A digest of the source file's contents (not its time stamp: a reinstall that
    rewrites the same file keeps its kernels) and of what else decides the machine code
    of a hand-written kernel: sorix's version and the numba options it compiles with
    (a kernel module that did not change may be compiled differently by a new release)."""
    from .. import config
    from .._version import __version__
    st = os.stat(path)
    settings = repr((__version__, sorted(config.NJIT_OPTIONS.items()),
                     sorted(config.REASSOCIATE_OPTIONS.items(), key=str)))
    key = (path, st.st_mtime_ns, st.st_size, settings)
    found = _stamps.get(key)
    if found is None:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read())
        digest.update(settings.encode())
        found = _stamps[key] = digest.hexdigest()
    return found


class _Locator:
    """numba's cache locator interface: every sorix kernel goes under :func:`folder`,
    in a sub-folder named after its source file's folder (numba's own layout)."""

    def __init__(self, py_func, py_file, root):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        parent = os.path.dirname(os.path.abspath(py_file))
        if os.path.dirname(parent) == os.path.abspath(root):
            # generated sources kept in the cache folder itself (the fused kernels'): a
            # name without the folder's path, so that a cache folder moved or copied
            # elsewhere (a Docker layer, a warmed-up copy) still serves them
            name = os.path.basename(parent) + "_kernels"
        else:
            name = os.path.basename(parent) + "_" + hashlib.sha1(parent.encode()).hexdigest()
        self._cache_path = os.path.join(root, name)

    @classmethod
    def from_function(cls, py_func, py_file):
        root = folder()
        if root is None or not os.path.exists(py_file):
            return None
        return cls(py_func, py_file, root)

    def ensure_cache_path(self):
        os.makedirs(self._cache_path, exist_ok=True)

    def get_cache_path(self):
        return self._cache_path

    def get_source_stamp(self):
        return _source_stamp(self._py_file)

    def get_disambiguator(self):
        return str(self._lineno)


# ---- checked files -----------------------------------------------------------------

def _sealed(payload):
    return _MAGIC + hashlib.sha256(payload).digest() + payload


def _opened(blob, path):
    """The object in a sealed ``blob`` read from ``path``; DamagedEntry if it is not intact."""
    start = len(_MAGIC) + _DIGEST
    if len(blob) < start or not blob.startswith(_MAGIC):
        raise DamagedEntry(f"{path}: truncated or not a sorix cache file ({len(blob)} bytes)")
    payload = blob[start:]
    if hashlib.sha256(payload).digest() != blob[len(_MAGIC):start]:
        raise DamagedEntry(f"{path}: contents do not match their checksum")
    return pickle.loads(payload)


def _make_classes(file_base, cache_base, impl_base, dumps):
    """Subclasses of one numba target's cache classes (the CPU's or numba-cuda's)."""

    class CheckedFile(file_base):
        """numba's index and data files, each sealed with a digest of its contents.

        The index holds ``(numba version, source stamp, overloads)`` in one sealed
        pickle, so that a damaged version field is caught like any other damage. A
        data file holds ``(source stamp, key, compiled code)`` and is named after a
        digest of the first two, so that loading can tell it belongs to the key.
        """

        def __init__(self, cache_path, filename_base, source_stamp):
            super().__init__(cache_path, filename_base, source_stamp)
            self._filename_base = filename_base

        def _load_index(self):
            try:
                with open(self._index_path, "rb") as f:
                    blob = f.read()
            except FileNotFoundError:
                return {}
            version, stamp, overloads = _opened(blob, self._index_path)
            if version != self._version or stamp != self._source_stamp:
                return {}  # another numba, or an older source: overwritten on save
            return overloads

        def _save_index(self, overloads):
            blob = _sealed(dumps((self._version, self._source_stamp, overloads)))
            with self._open_for_write(self._index_path) as f:
                f.write(blob)

        def _load_data(self, name):
            path = self._data_path(name)
            with open(path, "rb") as f:
                blob = f.read()
            return _opened(blob, path)

        def _save_data(self, name, data):
            blob = _sealed(dumps(data))
            with self._open_for_write(self._data_path(name)) as f:
                f.write(blob)

        def _data_name_of(self, key):
            # A name of its own per signature and source: concurrent writers of two
            # signatures, or of two versions of the source, never write the same file.
            digest = hashlib.sha1(repr((self._source_stamp, key)).encode()).hexdigest()[:16]
            return f"{self._filename_base}.{digest}.nbc"

        @contextlib.contextmanager
        def _index_locked(self):
            """Hold an exclusive lock on this function's index where the platform and the
            file system give one; without it writers may drop each other's entries (a
            recompile later, never wrong code), so a lock that cannot be had is skipped."""
            try:
                handle = os.open(self._index_path + ".lock", os.O_RDONLY | os.O_CREAT, 0o666)
            except (OSError, AttributeError):
                handle = None
            locked = False
            if handle is not None and fcntl is not None:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX)
                    locked = True
                except OSError:  # (NFS without a lock daemon, a file system without flock)
                    pass
            try:
                yield
            finally:
                if locked:
                    fcntl.flock(handle, fcntl.LOCK_UN)
                if handle is not None:
                    os.close(handle)

        def save(self, key, data):
            name = self._data_name_of(key)
            self._save_data(name, (self._source_stamp, key, data))  # before the index names it
            with self._index_locked():
                overloads = self._load_index()
                if overloads.get(key) != name:
                    overloads[key] = name
                    self._save_index(overloads)
                self._remove_unnamed(set(overloads.values()))

        def _remove_unnamed(self, named, older_than=600.0):
            """Delete data files the index does not name (other versions of the source,
            other machines' signatures), once old enough that no writer can still be
            about to name them."""
            prefix = self._filename_base + "."
            try:
                names = os.listdir(self._cache_path)
            except OSError:
                return
            now = time.time()
            for name in names:
                if name in named or not (name.startswith(prefix) and name.endswith(".nbc")):
                    continue
                path = os.path.join(self._cache_path, name)
                try:
                    if now - os.stat(path).st_mtime > older_than:
                        os.remove(path)
                except OSError:
                    pass

        def load(self, key):
            name = self._load_index().get(key)
            if name is None:
                return None
            try:
                stamp, stored_key, data = self._load_data(name)
            except OSError:  # removed since (a repair in another process), unreadable
                return None
            if stamp != self._source_stamp or stored_key != key:
                raise DamagedEntry(f"{self._data_path(name)}: holds another kernel's code")
            return data

        def discard(self):
            """Delete this function's index and data files (all its signatures)."""
            prefix = self._filename_base + "."
            try:
                names = os.listdir(self._cache_path)
            except OSError:
                return
            for name in names:
                if name == self._index_name or (name.startswith(prefix) and
                                                name.endswith(".nbc")):
                    try:
                        os.remove(os.path.join(self._cache_path, name))
                    except OSError:
                        pass

    class Impl(impl_base):
        _locator_classes = [_Locator]

        def get_filename_base(self, fullname, abiflags):
            # A mark of the sealed format, so that files in numba's own format under
            # the same names are never read as damaged ones.
            return super().get_filename_base(fullname, abiflags) + "-sx3"

    class HealingCache(cache_base):
        _impl_class = Impl
        file_class = CheckedFile  # (its index and data files, for tests and diagnostics)

        def __init__(self, py_func):
            super().__init__(py_func)
            self._cache_file = CheckedFile(self._cache_path, self._impl.filename_base,
                                           self._impl.locator.get_source_stamp())

        def load_overload(self, sig, target_context):
            try:
                return super().load_overload(sig, target_context)
            except Exception as exc:  # any failure to load is a miss, never an error
                self._cache_file.discard()
                _warn_once("damaged", f"sorix: a damaged kernel cache entry was removed and "
                                      f"the kernel recompiled ({type(exc).__name__}: {exc}); "
                                      "further damaged entries are repaired silently")
                return None

        def save_overload(self, sig, data):
            if not _saving:
                return
            try:
                super().save_overload(sig, data)
            except DamagedEntry:  # the index was damaged after it was loaded
                self._cache_file.discard()
            except OSError as exc:
                save_failed(self._cache_path, exc)

    return HealingCache


def _cache_class(target):
    found = _classes.get(target)
    if found is None:
        if target == "cpu":
            from numba.core import caching
            from numba.core.serialize import dumps
            found = _make_classes(caching.IndexDataCacheFile, caching.FunctionCache,
                                  caching.CompileResultCacheImpl, dumps)
        else:
            from numba.cuda import dispatcher
            from numba.cuda.core import caching
            from numba.cuda.serialize import dumps
            found = _make_classes(caching.IndexDataCacheFile, dispatcher.CUDACache,
                                  dispatcher.CUDACacheImpl, dumps)
        _classes[target] = found
    return found


def attach(dispatcher, target="cpu"):
    """Give a numba dispatcher (``njit``'s or ``cuda.jit``'s, compiled without
    ``cache=True``) sorix's disk cache; without a usable folder it stays in memory.
    Returns the dispatcher."""
    try:
        cls = _cache_class(target)
    except (ImportError, AttributeError):  # a numba(-cuda) whose cache classes differ
        try:
            dispatcher.enable_caching()  # its own cache, as cache=True would give
        except RuntimeError:
            pass
        return dispatcher
    try:
        cache = cls(dispatcher.py_func)
    except RuntimeError:  # no locator: no folder, or a function without a source file
        return dispatcher
    dispatcher._cache = cache
    return dispatcher
