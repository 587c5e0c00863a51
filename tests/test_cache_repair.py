"""The kernel disk cache under stress: many processes filling it at once, damaged
files, a full disk, folders that cannot be written, copied folders, and data files
that do not belong to their index entry. Most cases run ``cache_probe.py`` (a short
training run) in fresh processes; the rest a single kernel, or the cache's file
classes directly."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, python_env

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, "cache_probe.py")


def _env(tmp_path, cache_dir, **extra):
    """A clean environment: the cache in ``cache_dir`` (None: unset), HOME and the user
    cache folder inside ``tmp_path`` so that nothing outside it is written."""
    env = python_env(drop=("NUMBA_", "SORIX_"), HOME=str(tmp_path / "home"),
                     XDG_CACHE_HOME=str(tmp_path / "home" / ".cache"), SORIX_FUSION_THRESHOLD="1")
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    env.update(extra)
    return env


def _start(env):
    return subprocess.Popen([sys.executable, PROBE], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(process):
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _run(env):
    return _finish(_start(env))


def _values(result):
    return result["weight"], result["bias"], result["loss"]


def _cache_files(folder, suffixes=(".nbi", ".nbc")):
    found = {}
    for path, _, names in os.walk(folder):
        for name in names:
            if name.endswith(suffixes):
                full = os.path.join(path, name)
                found[full] = os.stat(full).st_mtime_ns
    return found


@pytest.fixture(scope="module")
def filled_cache(tmp_path_factory):
    """A cache written by one probe run, and that run's result."""
    tmp = tmp_path_factory.mktemp("filled")
    result = _run(_env(tmp, tmp / "cache"))
    assert result["misses"] > 0 and result["hits"] == 0 and result["fused"] >= 1
    assert result["warnings"] == []
    return tmp / "cache", result


def test_reference_run_matches_a_numpy_training_loop(filled_cache):
    """The probe's numbers are right, so that the other tests compare with a true result."""
    x = np.linspace(-1.0, 1.0, 24).reshape(6, 4)
    y = np.linspace(0.5, -0.5, 12).reshape(6, 2)
    w = np.linspace(-0.3, 0.3, 8).reshape(4, 2)
    b = np.array([[0.1, -0.2]])
    square_avg = [np.zeros_like(w), np.zeros_like(b)]
    for _ in range(2):
        z = x @ w + b
        t = np.tanh(z)
        loss = ((t - y) ** 2).mean()
        dz = 2 * (t - y) / t.size * (1 - t * t)
        grads = [x.T @ dz, dz.sum(0, keepdims=True)]
        for k, (p, g) in enumerate(zip((w, b), grads)):
            square_avg[k] = 0.99 * square_avg[k] + 0.01 * g * g
            p -= 0.01 * g / (np.sqrt(square_avg[k]) + 1e-8)
    _, result = filled_cache
    np.testing.assert_allclose(result["weight"], w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(result["bias"], b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(result["loss"], loss, rtol=1e-5)


def test_processes_filling_one_empty_cache_at_once_all_succeed(tmp_path, filled_cache):
    cache = tmp_path / "cache"
    env = _env(tmp_path, cache)
    results = [_finish(p) for p in [_start(env) for _ in range(3)]]
    _, reference = filled_cache
    for result in results:
        assert _values(result) == _values(reference)
        assert result["warnings"] == []
    # what they wrote, racing, is whole: a fifth process loads every kernel
    after = _run(env)
    assert after["misses"] == 0 and after["hits"] == reference["misses"]
    assert _values(after) == _values(reference) and after["warnings"] == []


def test_a_copied_cache_serves_every_kernel(tmp_path, filled_cache):
    # a cache folder moved or copied elsewhere (a warmed-up Docker layer) keeps working,
    # generated kernels (the fused backward) included
    source, reference = filled_cache
    shutil.copytree(source, tmp_path / "copy")
    result = _run(_env(tmp_path, tmp_path / "copy"))
    assert result["misses"] == 0 and result["hits"] == reference["misses"]
    assert _values(result) == _values(reference) and result["warnings"] == []


#: One hand-written kernel (SGD's update) called in the dtype given, in a fresh process:
#: prints its result and its disk-cache hits and misses
SIGNATURE_PROBE = """
import json, sys, warnings
import numpy as np
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    from sorix.kernels import build, optim
    kind = np.dtype(sys.argv[1]).type
    update = build.jit_kernel(optim.sgd, name="sgd_signature_probe")
    p, g, buf = np.ones(4, kind), np.full(4, 0.5, kind), np.zeros(4, kind)
    update(p, g, buf, *map(kind, (0.1, 0.0, 0.9, 1.0)), False, False, False)
print(json.dumps({"p": p.tolist(), "hits": sum(update.stats.cache_hits.values()),
                  "misses": sum(update.stats.cache_misses.values()),
                  "warnings": [str(w.message) for w in caught if "sorix" in str(w.message)]}))
"""


def _signature_run(tmp_path, cache, dtype):
    done = subprocess.run([sys.executable, "-c", SIGNATURE_PROBE, dtype],
                          env=_env(tmp_path, cache), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_data_file_holding_another_signatures_code_is_never_run(tmp_path):
    # Two processes saving the float32 and float64 builds of one kernel at once: what the
    # folder holds when the float32 machine code lands where the index expects the
    # float64 one (numba's own cache numbers both data files 1, so that it can; the
    # next float64 call then ran float32 code and failed).
    for name, dtype in (("a", "float32"), ("b", "float64")):
        first = _signature_run(tmp_path, tmp_path / name, dtype)
        assert first["misses"] == 1 and first["warnings"] == []
    (a_file,), (b_file,) = (
        [p for p in _cache_files(tmp_path / name, (".nbc",)) if "sgd_signature_probe" in p]
        for name in ("a", "b"))
    shutil.copyfile(a_file, b_file)
    result = _signature_run(tmp_path, tmp_path / "b", "float64")
    np.testing.assert_array_equal(result["p"], np.full(4, 0.95))
    assert result["misses"] == 1 and result["hits"] == 0
    assert len(result["warnings"]) == 1 and "damaged kernel cache entry" in result["warnings"][0]
    again = _signature_run(tmp_path, tmp_path / "b", "float64")
    assert again["hits"] == 1 and again["misses"] == 0 and again["warnings"] == []


#: Saves (writer) or loads (check) entries of one function's disk cache straight through
#: sorix's cache classes. Arguments ``FOLDER writer K N``: save N entries of writer K's
#: own; ``FOLDER check WRITERS N``: print how many of all of them load their own data.
INDEX_STRESS = """
import sys
sys.path.insert(0, sys.argv[1])
import one_function
from sorix.kernels import cache
kernel_cache = cache._cache_class("cpu")(one_function.f)
kernel_cache._impl.locator.ensure_cache_path()  # (as numba does before a save)
files = kernel_cache._cache_file
if sys.argv[2] == "writer":
    k = int(sys.argv[3])
    for i in range(int(sys.argv[4])):
        files.save(("signature", k, i), ("machine code", k, i))
else:
    writers, count = int(sys.argv[3]), int(sys.argv[4])
    print(sum(files.load(("signature", k, i)) == ("machine code", k, i)
              for k in range(writers) for i in range(count)))
"""


def test_processes_adding_entries_to_one_index_at_once_keep_every_one(tmp_path):
    # Each save rewrites the whole index; without a lock around that, a writer drops the
    # entries another added since it read the index (a recompile later).
    (tmp_path / "one_function.py").write_text("def f(x):\n    return x\n")
    env = _env(tmp_path, tmp_path / "cache")
    writers, count = 4, 150
    started = [subprocess.Popen([sys.executable, "-c", INDEX_STRESS, str(tmp_path), "writer",
                                 str(k), str(count)], env=env, stderr=subprocess.PIPE,
                                text=True) for k in range(writers)]
    for process in started:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-3000:]
    check = subprocess.run([sys.executable, "-c", INDEX_STRESS, str(tmp_path), "check",
                            str(writers), str(count)], env=env, capture_output=True, text=True,
                           timeout=600)
    assert check.returncode == 0, check.stderr[-3000:]
    assert int(check.stdout) == writers * count


def _index_files(folder):
    """A function's index and data files in ``folder``, through sorix's cache classes."""
    from sorix.kernels import cache
    return cache._cache_class("cpu").file_class(str(folder), "f-1.py311-sx3", "source stamp")


def test_without_a_file_lock_entries_are_still_saved(tmp_path, monkeypatch):
    # NFS without a lock daemon, a file system without flock: the index is written unlocked
    import errno
    from sorix.kernels import cache
    if cache.fcntl is None:
        pytest.skip("no fcntl on this platform")

    def no_lock(*args):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(cache.fcntl, "flock", no_lock)
    files = _index_files(tmp_path)
    files.save(("signature", 1), ("machine code", 1))
    assert files.load(("signature", 1)) == ("machine code", 1)
    assert files.load(("signature", 2)) is None


def test_data_files_no_index_names_are_removed_once_old(tmp_path):
    files = _index_files(tmp_path)
    prefix = "f-1.py311-sx3."
    old, fresh = tmp_path / (prefix + "0123456789abcdef.nbc"), tmp_path / (prefix + "1.nbc")
    other = tmp_path / "g-1.py311-sx3.0123456789abcdef.nbc"  # another function's
    for path in (old, fresh, other):
        path.write_bytes(b"left by an older source")
    hour_ago = os.stat(old).st_mtime - 3600
    os.utime(old, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))
    files.save(("signature", 1), ("machine code", 1))
    assert not old.exists()
    assert fresh.exists() and other.exists()  # (a writer may be about to name a fresh one)
    assert files.load(("signature", 1)) == ("machine code", 1)


def _damage(path, how):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if how == "truncated":
        data = data[:len(data) // 2]
    elif how == "emptied":
        data = bytearray()
    else:  # one flipped bit in the middle
        data[len(data) // 2] ^= 0x10
    with open(path, "wb") as f:
        f.write(bytes(data))


SUFFIXES = [".nbi", ".nbc"]
DAMAGES = ["truncated", "emptied", "bit-flipped"]


@pytest.fixture(scope="module")
def damaged_runs(tmp_path_factory, filled_cache):
    """Per (damage, suffix): the file damaged in a copy of the filled cache, the run that
    finds it, and the run after it. The cases' processes run side by side (they share
    nothing), the repairing runs first, then the runs after."""
    source, _ = filled_cache
    cases = {}
    for how in DAMAGES:
        for suffix in SUFFIXES:
            tmp = tmp_path_factory.mktemp(f"{how}{suffix}")
            cache = tmp / "cache"
            shutil.copytree(source, cache)
            # one kernel's file: its kernel alone is compiled again
            damaged = sorted(_cache_files(cache, (suffix,)))[:1]
            for path in damaged:
                _damage(path, how)
            cases[how, suffix] = damaged, _env(tmp, cache)
    repairing = {key: _start(env) for key, (_, env) in cases.items()}
    repaired = {key: _finish(process) for key, process in repairing.items()}
    following = {key: _start(env) for key, (_, env) in cases.items()}
    return {key: (cases[key][0], repaired[key], _finish(process))
            for key, process in following.items()}


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_cache_files_are_removed_and_recompiled(damaged_runs, filled_cache, suffix, how):
    _, reference = filled_cache
    damaged, repaired, again = damaged_runs[how, suffix]
    assert damaged
    assert _values(repaired) == _values(reference)
    assert repaired["misses"] == 1 and repaired["hits"] == reference["misses"] - 1
    assert len(repaired["warnings"]) == 1, repaired["warnings"]
    assert "damaged kernel cache entry" in repaired["warnings"][0]
    # the repaired cache serves the next process whole, silently
    assert again["misses"] == 0 and again["warnings"] == []
    assert _values(again) == _values(reference)


def test_full_disk_while_saving_keeps_kernels_in_memory(tmp_path, filled_cache):
    _, reference = filled_cache
    cache = tmp_path / "cache"
    result = _run(_env(tmp_path, cache, SORIX_PROBE_FULL_DISK="1"))
    assert _values(result) == _values(reference)
    assert len(result["warnings"]) == 1, result["warnings"]
    assert "could not save compiled kernels" in result["warnings"][0]
    assert "No space left on device" in result["warnings"][0]
    assert _cache_files(cache) == {}


def _package_files():
    return _cache_files(os.path.join(ROOT, "sorix"))


def test_unusable_cache_dir_moves_kernels_to_the_user_folder(tmp_path, filled_cache):
    _, reference = filled_cache
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    before = _package_files()
    env = _env(tmp_path, blocker / "cache")
    result = _run(env)
    assert _values(result) == _values(reference)
    user = tmp_path / "home" / ".cache" / "sorix"
    assert len(result["warnings"]) == 1, result["warnings"]
    message = result["warnings"][0]
    assert str(blocker / "cache") in message and f"cached in {user}" in message
    assert _cache_files(user)
    assert not (tmp_path / "home" / ".cache" / "numba").exists()
    assert _package_files() == before  # nothing written into the package
    second = _run(env)
    assert second["misses"] == 0 and _values(second) == _values(reference)


def test_no_usable_folder_compiles_in_memory(tmp_path, filled_cache):
    _, reference = filled_cache
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    before = _package_files()
    env = _env(tmp_path, blocker / "cache", XDG_CACHE_HOME=str(blocker / "xdg"),
               HOME=str(blocker / "home"))
    result = _run(env)
    assert _values(result) == _values(reference)
    assert len(result["warnings"]) == 1, result["warnings"]
    assert "compiled in memory" in result["warnings"][0]
    assert _package_files() == before
    assert result["hits"] == 0


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="permission bits do not stop root from writing")
def test_read_only_cache_dir_moves_kernels_to_the_user_folder(tmp_path, filled_cache):
    _, reference = filled_cache
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    before = _package_files()
    try:
        result = _run(_env(tmp_path, locked))
    finally:
        locked.chmod(0o755)
    assert _values(result) == _values(reference)
    assert len(result["warnings"]) == 1 and str(locked) in result["warnings"][0]
    assert _cache_files(tmp_path / "home" / ".cache" / "sorix")
    assert _package_files() == before and _cache_files(locked) == {}


# ---- the same on real file systems (where this user may mount a tmpfs) -------------------

@pytest.fixture
def tmpfs(tmp_path):
    """mount(options) mounts a small tmpfs at a new folder and returns it; unmounted after."""
    mounted = []

    def mount(options):
        if os.name != "posix" or os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("mounting a tmpfs needs root")
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=False)


def test_really_full_disk(tmp_path, filled_cache, tmpfs):
    _, reference = filled_cache
    disk = tmpfs("size=256k")
    handle = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(handle, b"\0" * 4096):
            pass
    except OSError:
        pass  # full
    finally:
        os.close(handle)
    result = _run(_env(tmp_path, disk / "cache"))
    assert _values(result) == _values(reference)
    assert len(result["warnings"]) == 1, result["warnings"]
    assert "No space left on device" in result["warnings"][0]


def test_really_read_only_file_system(tmp_path, filled_cache, tmpfs):
    _, reference = filled_cache
    read_only = tmpfs("ro,size=64k")
    before = _package_files()
    result = _run(_env(tmp_path, read_only))
    assert _values(result) == _values(reference)
    assert len(result["warnings"]) == 1, result["warnings"]
    assert str(read_only) in result["warnings"][0]
    assert "Read-only file system" in result["warnings"][0]
    assert _cache_files(tmp_path / "home" / ".cache" / "sorix")
    assert _package_files() == before


def test_the_source_stamp_changes_with_the_compile_options(monkeypatch, tmp_path):
    # an unchanged kernel module compiled with other numba options (a new release) must not
    # load the kernels cached under the old ones
    from sorix import config
    from sorix.kernels import cache
    source = tmp_path / "kernels.py"
    source.write_text("def f(x):\n    return x\n")
    before = cache._source_stamp(str(source))
    assert cache._source_stamp(str(source)) == before
    monkeypatch.setattr(config, "NJIT_OPTIONS", dict(config.NJIT_OPTIONS, fastmath=True))
    assert cache._source_stamp(str(source)) != before
    monkeypatch.undo()
    assert cache._source_stamp(str(source)) == before
    source.write_text("def f(x):\n    return x + 1\n")
    assert cache._source_stamp(str(source)) != before
