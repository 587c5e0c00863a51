"""The hot CPU kernels compile to vector (SIMD) code, serial and threaded builds alike.

A property of the machine code, not a timing: each kernel is compiled afresh
(numba cannot show the code of a kernel loaded from its disk cache) and its
assembly must hold packed floating-point arithmetic (``mulps``, ``vfmadd231pd``
...), which LLVM emits only for a vectorised loop. A kernel whose loop stays
scalar runs 4 to 16 times fewer elements per instruction; the threaded
optimizer updates once lost to their serial builds that way. Nor may the
code gather its vector lanes one element at a time (``vgatherqps``): the
gradient-norm sums did, at a third of their speed, until their indices were
made unsigned.

Compiling afresh takes most of a minute (the threaded builds above all), so
each kernel's assembly is kept, compressed, under the kernel cache folder,
keyed by everything that decides it: the digest of every source file of the
package and of this module, the arguments' numba types, the numba, llvmlite
and NumPy versions, the host CPU and its features, and the ``NUMBA_*`` and
``SORIX_*`` settings. Any change to any of them compiles again; an empty
cache (CI's) compiles everything.
"""
import glob
import hashlib
import os
import platform
import re
import shutil
import time
import zlib

import llvmlite
import llvmlite.binding as llvm
import numba
import numpy as np
import pytest

import sorix
from sorix import config
from sorix.kernels import batchnorm as K_BN
from sorix.kernels import build, cache
from sorix.kernels import grad_norm as K_NORM
from sorix.kernels import losses as K_LOSSES
from sorix.kernels import optim as KO
from sorix.kernels import softmax as K_SOFTMAX
from sorix.kernels import softmax_across as K_ACROSS
from sorix.kernels.variants import register_reassociating
from sorix.kernels.defs import BINARY, UNARY

pytestmark = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"),
    reason="the packed-instruction names checked are x86-64's")

# packed single (ps) or double (pd) add, multiply, divide, square root, min/max, FMA,
# compare and blend (and/or/xor are left out: scalar code uses them on whole registers)
PACKED = re.compile(
    r"\bv?(?:add|sub|mul|div|sqrt|max|min|fn?m(?:add|sub)\d*|cmp\w*|blendv)p[sd]\b")


@pytest.fixture(autouse=True)
def fresh_compiles(monkeypatch):
    """No disk cache and no in-memory kernel cache: every kernel here is compiled now."""
    monkeypatch.setattr(config, "CACHE_KERNELS", False)
    monkeypatch.setattr(build, "_kernel_cache", {})


# a gather loads vector lanes one element at a time: LLVM emits one for a contiguous
# loop when it cannot prove the index non-negative (numba wraps negative indices)
GATHER = re.compile(r"\bvp?gather\w+")


def assembly(kernel):
    dispatcher = getattr(kernel, "dispatcher", kernel)  # threaded builds are wrapped
    assert dispatcher.signatures, "the kernel was never called"
    return "".join(dispatcher.overloads[s].library.get_asm_str()
                   for s in dispatcher.signatures)


def _build_stamp():
    """A digest of what decides the machine code besides the kernel and its arguments."""
    digest = hashlib.sha256()
    package = os.path.dirname(os.path.abspath(sorix.__file__))
    sources = sorted(glob.glob(os.path.join(package, "**", "*.py"), recursive=True))
    for path in sources + [os.path.abspath(__file__)]:
        with open(path, "rb") as source:
            digest.update(path.encode() + b"\0" + source.read() + b"\0")
    try:
        features = llvm.get_host_cpu_features().flatten()
    except RuntimeError:
        features = "?"
    settings = sorted((k, v) for k, v in os.environ.items() if k.startswith(("NUMBA_", "SORIX_")))
    digest.update(repr((numba.__version__, llvmlite.__version__, np.__version__,
                        llvm.get_host_cpu_name(), features, settings)).encode())
    return digest.hexdigest()


_STAMP = []  # computed once, on first use


def _code_folder():
    """This build's folder of kept assembly (None without a kernel cache folder). Folders
    of other builds untouched for a day are removed, so that edits do not pile them up."""
    if not cache.folder():
        return None
    if not _STAMP:
        _STAMP.append(_build_stamp())
    kept = os.path.join(cache.folder(), "test-assembly")
    for other in glob.glob(os.path.join(kept, "*")):
        if os.path.basename(other) != _STAMP[0] and time.time() - os.path.getmtime(other) > 86400:
            shutil.rmtree(other, ignore_errors=True)
    return os.path.join(kept, _STAMP[0])


def compiled_code(name, make, args):
    """The assembly of the kernel ``make()`` returns, called with ``args``; ``name`` must
    tell it apart from the module's other kernels. Read from the folder above when this
    very build was compiled before, else compiled now and kept there."""
    folder = _code_folder()
    key = hashlib.sha256(repr((name, [str(numba.typeof(a)) for a in args])).encode())
    path = os.path.join(folder, key.hexdigest() + ".asm.z") if folder else None
    if path and os.path.exists(path):
        with open(path, "rb") as kept:
            return zlib.decompress(kept.read()).decode()
    kernel = make()
    kernel(*args)
    code = assembly(kernel)
    if path:
        os.makedirs(folder, exist_ok=True)
        partial = f"{path}.{os.getpid()}"
        with open(partial, "wb") as out:
            out.write(zlib.compress(code.encode(), 6))
        os.replace(partial, path)  # (whole or absent, for a process reading it meanwhile)
    return code


def packed_ops(code):
    """The packed arithmetic instructions of the assembly ``code``, which must load its
    vectors whole (no gathers)."""
    assert not GATHER.findall(code), "a contiguous loop gathers its elements one by one"
    return len(PACKED.findall(code))


def optimizer_args(name, dtype):
    kind = np.dtype(dtype).type
    n = 64
    p, g = np.ones(n, dtype), np.full(n, 0.5, dtype)
    state = [np.zeros(n, dtype) for _ in range(2)]
    empty = KO.EMPTY[np.dtype(dtype)]
    if name == "sgd":  # with momentum
        return (p, g, state[0], *map(kind, (0.1, 0.0, 0.9, 1.0)), False, False, False)
    if name == "rmsprop":  # the defaults: not centered, no momentum
        return (p, g, state[0], empty, empty, *map(kind, (0.01, 0.99, 0.01, 1e-8, 0.0, 0.0)),
                False)
    return (p, g, state[0], state[1], empty,  # adam
            *map(kind, (0.001, 0.1, 0.999, 0.001, 1e-8, 0.0, 1.0, 0.5)), False)


#: each update in float32, the dtype of training, and the longest one in float64 too: the
#: dtype does not change a loop's shape, and each case compiles two builds afresh
OPTIMIZER_CASES = [("sgd", np.float32), ("rmsprop", np.float32), ("adam", np.float32),
                   ("adam", np.float64)]


@pytest.mark.parametrize("name, dtype", OPTIMIZER_CASES,
                         ids=[f"{n}-{np.dtype(d).name}" for n, d in OPTIMIZER_CASES])
def test_optimizer_updates_are_vectorised_in_both_builds(name, dtype):
    counts = {}
    for parallel in (False, True):
        kernel_name = f"{name}_vector_check{'_par' if parallel else ''}"
        code = compiled_code(kernel_name, lambda: build.jit_kernel(
            getattr(KO, name), parallel=parallel, name=kernel_name), optimizer_args(name, dtype))
        counts[parallel] = packed_ops(code)
    assert counts[False] > 0
    # every vector loop of the serial build is in the threaded one (a per-element prange
    # over the same body vectorised only some of the flag combinations)
    assert counts[True] >= counts[False], counts


#: one op or two of each elementwise template, not every op: each case compiles its kernel
#: afresh to read the machine code, and the templates, not the ops' formulas, make the loops
ELEMENTWISE = [
    ("binary", "add", {"F": BINARY["add"].forward}),
    ("binary", "mul", {"F": BINARY["mul"].forward}),
    ("binary_grad_ab", "mul", {"DA": BINARY["mul"].derivative_a,
                               "DB": BINARY["mul"].derivative_b}),
    # one operand of one element (a learnable scale, say), read once before the loop
    ("binary_grad_ab_bs", "mul", {"DA": BINARY["mul"].derivative_a,
                                  "DB": BINARY["mul"].derivative_b}),
    ("binary_grad_ab_as", "div", {"DA": BINARY["div"].derivative_a,
                                  "DB": BINARY["div"].derivative_b}),
    # an operand repeated along the rows (a bias) or the columns (a per-sample scale),
    # read in place
    ("binary_rows", "add", {"F": BINARY["add"].forward}),
    ("binary_cols_a", "mul", {"F": BINARY["mul"].forward}),
    ("binary_grad_rows", "mul", {"DA": BINARY["mul"].derivative_a,
                                 "DB": BINARY["mul"].derivative_b}),
    ("binary_grad_cols_a", "div", {"DA": BINARY["div"].derivative_a,
                                   "DB": BINARY["div"].derivative_b}),
    ("unary0", "relu", {"F": UNARY["relu"].forward}),
    ("unary0_grad", "tanh", {"D": UNARY["tanh"].derivative}),
    ("unary0_grad", "sigmoid", {"D": UNARY["sigmoid"].derivative}),
]


#: Each template in both builds and both dtypes, in two of the four pairings (serial float32
#: and threaded float64 for one row, the other two for the next): every build and every
#: dtype of each template is compiled, at half the cost of all four.
ELEMENTWISE_CASES = [(template, op, bindings, dtype, parallel)
                     for row, (template, op, bindings) in enumerate(ELEMENTWISE)
                     for dtype, parallel in (((np.float32, False), (np.float64, True)) if row % 2
                                             else ((np.float64, False), (np.float32, True)))]


@pytest.mark.parametrize("template, op, bindings, dtype, parallel", ELEMENTWISE_CASES,
                         ids=[f"{t}-{o}-{np.dtype(d).name}-{'threaded' if p else 'serial'}"
                              for t, o, _, d, p in ELEMENTWISE_CASES])
def test_elementwise_loops_are_vectorised(template, op, bindings, dtype, parallel):
    n = 64
    x = np.linspace(-1, 1, n).astype(dtype)
    full = x.reshape(4, 16)
    if template == "binary":
        args = (x, x[::-1].copy(), np.empty(n, dtype))
    elif template in ("binary_rows", "binary_cols_a"):
        small = x[:16] if template == "binary_rows" else x[:4]
        pair = (full, small) if template == "binary_rows" else (small, full)
        args = (*pair, np.empty((4, 16), dtype))
    elif template.startswith("binary_grad_rows") or template.startswith("binary_grad_cols"):
        small = x[:16] if "rows" in template else x[:4]
        a, b = (full, small) if not template.endswith("_a") else (small, full)
        args = (full, a, b, full, np.empty((4, 16), dtype), np.empty((4, 16), dtype), True, True)
    elif template.startswith("binary_grad_ab"):
        args = (x, x, x, x, np.empty(n, dtype), np.empty(n, dtype))
    elif template == "unary0":
        args = (x, np.empty(n, dtype), np.zeros(0, dtype))
    else:
        args = (x, x, x, np.empty(n, dtype), np.zeros(0, dtype))
    code = compiled_code(f"{template}-{op}-{parallel}",
                         lambda: build.kernel(template, op, bindings, dtype, parallel), args)
    assert packed_ops(code) > 0


@pytest.mark.parametrize("dtype", [np.float32])
def test_float32_exp_and_tanh_forwards_are_vectorised(dtype):
    # float32 exp, log, log1p, tanh and erfc (in gelu) are written so that LLVM can
    # vectorise them (no libm call in the loop)
    for op in ("exp", "log", "log1p", "tanh", "sigmoid", "gelu"):
        assert packed_ops(_unary_forward_code(op, dtype)) > 0, op


def _unary_forward_code(op, dtype):
    args = (np.linspace(-1, 1, 64).astype(dtype), np.empty(64, dtype), np.zeros(0, dtype))
    return compiled_code(f"unary0-{op}-False",
                         lambda: build.kernel("unary0", op, {"F": UNARY[op].forward}, dtype,
                                              False), args)


def _host_has_fma():
    # (evaluated while collecting, before the module's skip applies: on a CPU whose
    # features LLVM cannot read it raises, which would fail the whole module)
    import llvmlite.binding as llvm
    try:
        return bool(llvm.get_host_cpu_features().get("fma", False))
    except RuntimeError:
        return False


@pytest.mark.skipif(not _host_has_fma(), reason="this CPU has no fused multiply-add")
def test_multiply_adds_are_fused_into_fma_instructions():
    # config.NJIT_OPTIONS grants fast-math's contract flag: the polynomial in float32 exp
    # then runs as FMA instructions (one rounding each, and a third less time) instead of
    # separate multiplies and adds
    code = _unary_forward_code("exp", np.float32)
    assert re.findall(r"\bvfn?m(?:add|sub)\d+p[sd]\b", code)


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "threaded"])
def test_block_sums_load_vectors_not_gathers(parallel):
    # one kernel holds every kind's loop (the gradient norms' and whole-array sums')
    register_reassociating(vars(K_NORM))  # its block sums may be reordered
    suffix = "_par" if parallel else ""
    code = compiled_code(f"norm_part_gather_check{suffix}", lambda: build.jit_kernel(
        K_NORM.norm_part, parallel=parallel, name=f"norm_part_gather_check{suffix}"),
        (np.linspace(-1, 1, 3 * K_NORM.BLOCK).astype(np.float32), K_NORM.SUM, 0.0))
    assert packed_ops(code) > 0
    # and the sums of each row along the last axis: packed float64 additions
    rows = compiled_code(f"row_sums_vector_check{suffix}", lambda: build.jit_kernel(
        K_NORM.row_sums, parallel=parallel, name=f"row_sums_vector_check{suffix}"),
        (np.linspace(-1, 1, 64 * 100).astype(np.float32), 100, np.empty(64)))
    packed_ops(rows)  # (no gathers)
    assert re.findall(r"\bv?addpd\b", rows)


def test_batch_norm_statistics_add_in_vector_lanes():
    # the (N, C, L) statistics: float64 sums along each row of L values (BatchNorm2d's H W)
    register_reassociating(vars(K_BN))
    x = np.linspace(-1, 1, 2 * 3 * 40).astype(np.float32).reshape(2, 3, 40)
    code = compiled_code("grad_sums_vector_check", lambda: build.jit_kernel(
        K_BN.grad_sums, parallel=True, name="grad_sums_vector_check"),
        (x, x, np.zeros(3), np.ones(3), np.empty(3), np.empty(3)))
    packed_ops(code)  # (no gathers)
    # packed additions: the sums themselves run in vector lanes (without reassociation
    # the code still holds packed multiplies, the sums' adds stay scalar)
    assert re.findall(r"\bv?addp[sd]\b", code)


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "threaded"])
def test_softmax_and_cross_entropy_exponentiate_in_vector_lanes(parallel):
    # float32: their exp is the vectorised polynomial, whose 2^k is built by packed
    # float-to-int conversions, and the row sums of exponentials add float64 lanes
    # (packed float32-to-float64 conversions); libm's expf would leave both scalar
    f32 = np.float32
    x = np.linspace(-3, 3, 4 * 40).astype(f32).reshape(4, 40)
    rows, index = np.zeros(4, f32), np.zeros(4, np.int64)
    # kernel, arguments, whether it sums in float64, whether it exponentiates
    cases = [(K_SOFTMAX.softmax_forward, (x, np.empty_like(x)), True, True),
             (K_SOFTMAX.log_softmax_forward, (x, np.empty_like(x)), True, True),
             (K_SOFTMAX.log_softmax_backward, (x, -abs(x), np.empty_like(x)), False, True),
             (K_SOFTMAX.ce_index_forward, (x, index, np.empty(0, f32), f32(0), rows.copy(),
                                           np.zeros(4), rows.copy()), True, True),
             (K_SOFTMAX.ce_index_backward, (x, rows, np.zeros(4), index, np.ones(4, f32),
                                            f32(0), np.empty_like(x)), False, True)]
    _check_exp_and_sums(cases, parallel)


def _check_exp_and_sums(cases, parallel):
    """Each float32 kernel of ``cases`` (kernel, arguments, sums, exponentiates) compiles to
    packed arithmetic without gathers, with packed float32-to-float64 conversions where
    it sums in float64 and packed float-to-int ones (exp's 2^k) where it exponentiates."""
    for kernel, args, sums, exponentiates in cases:
        name = kernel.__module__.rsplit(".", 1)[-1] + "_" + kernel.__name__ + "_vector_check"
        code = compiled_code(f"{name}-{parallel}", lambda: build.jit_kernel(
            kernel, parallel=parallel, dtype=np.float32, name=name), args)
        assert packed_ops(code) > 0, kernel.__name__  # (and no gathers)
        if sums:
            assert re.findall(r"\bv?cvtps2pd\b", code), kernel.__name__
        if exponentiates:
            assert re.findall(r"\bv?cvtt?ps2dq\b", code), kernel.__name__


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "threaded"])
def test_softmax_across_an_axis_runs_along_vectors(parallel):
    # along an axis other than the last, every loop runs along a block of neighbouring
    # columns: vectors of them, loaded whole, with the float32 exp and float64 sums
    f32 = np.float32
    x = np.linspace(-3, 3, 2 * 5 * 70).astype(f32).reshape(2, 5, 70)
    positions, index = np.zeros(140, f32), np.zeros(140, np.int64)
    # kernel, arguments, whether it sums in float64, whether it exponentiates
    cases = [(K_ACROSS.softmax_forward, (x, np.empty_like(x)), True, True),
             (K_ACROSS.log_softmax_forward, (x, np.empty_like(x)), True, True),
             (K_ACROSS.softmax_backward, (x, x, np.empty_like(x)), True, False),
             (K_ACROSS.log_softmax_backward, (x, -abs(x), np.empty_like(x)), True, True),
             (K_ACROSS.ce_index_forward, (x, index, np.empty(0, f32), f32(0), positions,
                                          np.zeros(140), positions.copy()), True, True),
             (K_ACROSS.ce_index_backward, (x, positions, np.zeros(140), index,
                                           np.ones(140, f32), f32(0), np.empty_like(x)),
              False, True)]
    _check_exp_and_sums(cases, parallel)


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "threaded"])
def test_binary_cross_entropy_kernels_are_vectorised(parallel):
    # float32 log1p(exp(-|x|)) and the sigmoid: the vectorised helpers (packed
    # float-to-int conversions build exp's 2^k), not libm calls per element
    f32 = np.float32
    x = np.linspace(-3, 3, 256).astype(f32)
    t = (x > 0).astype(f32)
    cases = [(K_LOSSES.bce_each, (x, t, f32(0), np.empty_like(x))),
             (K_LOSSES.bce_grad, (x, t, np.ones(1, f32), f32(1), np.empty_like(x)))]
    for kernel, args in cases:
        name = kernel.__name__ + "_vector_check"
        code = compiled_code(f"{name}-{parallel}", lambda: build.jit_kernel(
            kernel, parallel=parallel, dtype=f32, name=name), args)
        assert packed_ops(code) > 0, kernel.__name__
        assert re.findall(r"\bv?cvtt?ps2dq\b", code), kernel.__name__


def test_the_check_tells_scalar_code_apart():
    # each element needs the one before (a recurrence): without reassociation LLVM cannot
    # vectorise the loop, so the code holds scalar arithmetic only
    from numba import njit

    @njit
    def scalar_loop(x, out):
        for i in range(1, x.size):
            out[i] = out[i - 1] * x[i] + 1.0

    scalar_loop(np.ones(8), np.zeros(8))
    assert packed_ops(assembly(scalar_loop)) == 0
