"""Helpers of benchmarks/gpu_check.sh (each one prints; none raises on a broken setup).

    python benchmarks/gpu_env.py wheels DIR   # the wheels of DIR worth installing, one a line
    python benchmarks/gpu_env.py env          # markdown lines: device, driver, versions, paths

``wheels``: nvmath-python's wheel, plus each other wheel of DIR whose
package is missing here or installed at a version nvmath-python's
requirements reject (a newer copy of a package the machine already has
could break what uses it, numba-cuda included, so one that fits is kept).
Reasons go to stderr.
"""
import glob
import importlib.metadata
import os
import platform
import re
import sys
import zipfile


def _name(wheel):
    """(normalised project name, version) from a wheel's file name."""
    parts = os.path.basename(wheel).split("-")
    return parts[0].lower().replace("_", "-"), parts[1]


def _release(version):
    """The numeric release of a version string as a tuple (pre/post/dev parts dropped)."""
    numbers = []
    for piece in version.split("."):
        match = re.match(r"\d+", piece)
        if not match:
            break
        numbers.append(int(match.group()))
        if match.group() != piece:
            break
    return tuple(numbers)


def _satisfies(version, spec):
    """Whether ``version`` meets a comma-separated specifier such as ``<2,>=0.5.0``."""
    have = _release(version)
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        op, want = re.match(r"(==|!=|<=|>=|<|>|~=)\s*(.+)", clause).groups()
        want_release = _release(want.rstrip(".*"))
        width = max(len(have), len(want_release))
        a = have + (0,) * (width - len(have))
        b = want_release + (0,) * (width - len(want_release))
        ok = {"==": a == b, "!=": a != b, "<=": a <= b, ">=": a >= b, "<": a < b, ">": a > b,
              "~=": a >= b}[op]
        if not ok:
            return False
    return True


def _requirements(wheel):
    """nvmath-python's unconditional requirements: {name: specifier}."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("Requires-Dist:") and ";" not in line:
            match = re.match(r"Requires-Dist:\s*([A-Za-z0-9_.\-]+)\s*(.*)", line)
            out[match.group(1).lower().replace("_", "-")] = match.group(2).strip("() ")
    return out


def _installed(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


_LAUNCH = """
import numpy as np
from numba import cuda
@cuda.jit
def one(a):
    a[0] = 1
a = cuda.to_device(np.zeros(1))
one[1, 1](a)
assert a.copy_to_host()[0] == 1
"""


def _numba_cuda_import_error():
    """None when numba-cuda imports and launches a kernel in a fresh interpreter (with the
    machine's numpy), else the error's last line."""
    import subprocess
    try:
        done = subprocess.run([sys.executable, "-c", _LAUNCH], capture_output=True,
                              text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "timed out"
    lines = done.stderr.strip().splitlines()
    return None if done.returncode == 0 else (lines[-1][:200] if lines else "failed")


def wheels(folder):
    found = sorted(glob.glob(os.path.join(folder, "*.whl")))
    nvmath = [w for w in found if _name(w)[0] == "nvmath-python"]
    if not nvmath:
        print(f"gpu_env: no nvmath-python wheel in {folder}", file=sys.stderr)
        return
    requirements = _requirements(nvmath[0])
    for wheel in found:
        name, version = _name(wheel)
        have = _installed(name)
        if name == "nvmath-python":
            keep = have != version
            why = f"installed: {have}" if have else "not installed"
        elif name == "numpy":  # only to repair a numba-cuda that the installed numpy breaks
            broken = _numba_cuda_import_error()
            keep = broken is not None and have != version
            why = (f"numba-cuda fails with numpy {have}: {broken}" if broken
                   else f"numba-cuda works with numpy {have}")
        else:
            spec = requirements.get(name, "")
            keep = have is None or not _satisfies(have, spec)
            why = ("not installed" if have is None
                   else f"installed {have} {'does not meet' if keep else 'meets'} '{spec}'")
        print(f"gpu_env: {'install' if keep else 'skip'} {name} {version} ({why})", file=sys.stderr)
        if keep:
            print(wheel)


def _try(what, fn):
    try:
        return fn()
    except Exception as exc:  # report, never stop the check
        message = " ".join(str(exc).split())[:200]
        return f"unavailable ({what}: {type(exc).__name__}: {message})"


def _versions():
    names = ("numpy", "numba", "numba-cuda", "torch", "nvmath-python", "cuda-bindings",
             "cuda-core", "cuda-pathfinder")
    return ", ".join(f"{n} {_installed(n) or 'not installed'}" for n in names)


def _device():
    from numba import cuda
    if cuda.jit.__module__.startswith("numba.cuda.simulator"):
        return "numba's CUDA simulator (no GPU; times mean nothing)"
    device = cuda.get_current_device()
    name = device.name.decode() if isinstance(device.name, bytes) else device.name
    driver = cuda.cudadrv.driver.driver.get_version()
    runtime = cuda.runtime.get_version()
    return (f"{name}, compute capability {device.compute_capability}, CUDA driver API "
            f"{driver[0]}.{driver[1]}, CUDA runtime {runtime[0]}.{runtime[1]}")


def _torch():
    import torch
    if not torch.cuda.is_available():
        return f"torch {torch.__version__}: no CUDA"
    return (f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees "
            f"{torch.cuda.get_device_name(0)}")


def _matmul_path():
    from sorix.kernels.cuda import blas
    return blas.status()


def _allocator():
    import sorix
    sorix.zeros(4, device="cuda")  # makes the context, with the pool when sorix installs it
    from sorix.kernels.cuda import memory
    return ("the driver's stream-ordered pool (cuMemAllocAsync)" if memory.in_use()
            else "numba-cuda's own (cuMemAlloc per array)")


def env():
    import sorix
    print(f"- python {platform.python_version()} ({sys.executable}); sorix from "
          f"{os.path.dirname(sorix.__file__)}")
    print(f"- packages: {_versions()}")
    print(f"- device (numba-cuda): {_try('numba.cuda', _device)}")
    print(f"- {_try('torch', _torch)}")
    print(f"- sorix float32/float64 matmul: {_try('sorix.kernels.cuda.blas', _matmul_path)}")
    print(f"- sorix device memory: {_try('sorix.kernels.cuda.memory', _allocator)}")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "wheels" and len(sys.argv) == 3:
        wheels(sys.argv[2])
    elif command == "env":
        env()
    else:
        sys.exit(__doc__)
