"""Compile kernels for the GPU from the same sources as the CPU, lazily.

The CPU builder's rules hold here too (see :mod:`sorix.kernels.build`): a
kernel is a copy of a plain function from a real source file, whose globals
bind placeholders (``F``, ``COMBINE``, ``DTYPE`` ...) and whose qualified
name holds what was bound (op, dtype, a hash of the definitions, the launch
sizes frozen into it), so numba-cuda's disk cache can find it and a changed
definition gets a new entry. Copies and scalar definitions go through the
CPU's mechanism (:mod:`sorix.kernels.bind`): the :data:`GPU` target compiles
definitions as device functions per dtype with their literals retyped, so
float32 stays float32, binding ``np`` to libdevice functions.

A kernel is named by a *recipe*, a tuple of strings and ints:
``(module, function, dtype name or None, bindings)``, each binding
``(placeholder, kind, *spec)`` with kind ``unary``/``binary`` (an op's
definition from :mod:`sorix.kernels.defs`: ``("F", "unary", "exp", "forward")``)
``source`` (a hand-written device function: ``("BETTER", "source", module,
name)``) or ``block`` (the block's tree reduction in shared memory, combining
with a binary op's forward definition: ``("BLOCK_SUM", "block", "add")``).
Recipes are plain data so that a test can record the launches made under
the simulator and compile the same kernels to PTX in another process
(``tests/test_cuda_ptx.py``).
"""
import hashlib
import importlib

import numpy as np

from .. import bind, defs, registry
from ..bind import definition_hash
from . import config, runtime

_helper_functions = registry.cache("cuda helpers")
_kernels = registry.cache("cuda kernels")
_block_reductions = registry.cache("cuda block reductions")


def _device_jit():
    return runtime.cuda().jit(device=True)


def _device_extra():
    # the GPU's exp is fast as it is: the bit-level CPU version is not used
    return {"cuda": runtime.cuda(), "VECTOR_EXP": False}


#: Scalar definitions compiled as device functions: ``math`` (the simulator's IEEE
#: stand-in under the simulator) and an ``np`` of libdevice functions.
GPU = bind.Target("cuda", _device_jit, runtime.scalar_modules, _device_extra)

#: A list while launches are recorded (``record()``); None otherwise.
recorded = None


def sizes():
    """Threads per block, grid bound, reduction block and matmul tile in use."""
    return config.sizes(runtime.simulated())


def _definition(kind, spec):
    if kind == "unary":
        name, field = spec
        return getattr(defs.UNARY[name], field), True
    if kind == "binary":
        name, field = spec
        return getattr(defs.BINARY[name], field), True
    if kind == "source":
        module, name = spec
        return getattr(importlib.import_module(module), name), False
    raise ValueError(f"unknown binding kind {kind!r}")


def device_function(fn, dtype, typed=True):
    """``fn`` as a CUDA device function for ``dtype`` (helpers of ``scalar`` compiled alike).

    ``typed`` retypes its numeric literals to ``dtype`` (scalar definitions);
    hand-written device functions keep theirs (their ints are indices).
    """
    return GPU.compile(fn, np.dtype(dtype) if dtype is not None else None, typed)


def _helpers():
    """grid_range and offset_of as device functions, compiled once per process."""
    if not _helper_functions:
        templates = _templates()
        cuda = runtime.cuda()
        for name in ("grid_range", "offset_of"):
            # Inlined in Numba IR: grid_range returns a range object, which
            # numba-cuda cannot return from a separately compiled function.
            _helper_functions[name] = cuda.jit(device=True, inline="always")(
                bind.copy(getattr(templates, name), {"cuda": cuda}))
    return _helper_functions


def block_reduce(op, dtype):
    """:func:`sorix.kernels.cuda.templates.block_reduce` as a device function for ``dtype``
    combining with the binary op ``op``'s forward definition."""
    dtype = np.dtype(dtype)
    block = sizes()["reduce_threads"]
    key = (op, dtype, block)
    found = _block_reductions.get(key)
    if found is None:
        env = {"cuda": runtime.cuda(), "BLOCK": block,
               "COMBINE": device_function(defs.BINARY[op].forward, dtype)}
        found = _block_reductions[key] = _device_jit()(bind.copy(_templates().block_reduce, env))
    return found


def _templates():
    from . import templates
    return templates


def source(recipe):
    """``(name, function copy)`` for ``recipe``: the plain function numba-cuda compiles."""
    module, fn_name, dtype_name, bindings = recipe
    fn = getattr(importlib.import_module(module), fn_name)
    dtype = np.dtype(dtype_name) if dtype_name else None
    sz = sizes()
    math_module, np_module = runtime.scalar_modules(dtype or np.float64)
    # Only the bindings and builtins: not the source module's globals, where
    # the public reductions shadow the builtins sum, max and min.
    env = {"cuda": runtime.cuda(), "math": math_module, "np": np_module,
           "BLOCK": sz["reduce_threads"], "TILE": sz["tile"],
           "DTYPE": dtype.type if dtype is not None else None}
    env.update(_helpers())
    env["prange"] = env["grid_range"]  # the CPU templates' loop placeholder
    digest = hashlib.sha1(repr((sz["reduce_threads"], sz["tile"])).encode())
    for placeholder, kind, *spec in bindings:
        if kind == "block":  # the block's tree reduction, combining with an op's forward
            definition = defs.BINARY[spec[0]].forward
            env[placeholder] = block_reduce(spec[0], dtype)
            digest.update(("%s=%s" % (placeholder, definition_hash(_templates().block_reduce))
                           ).encode())
        else:
            definition, typed = _definition(kind, spec)
            env[placeholder] = device_function(definition, dtype, typed)
        digest.update(("%s=%s" % (placeholder, definition_hash(definition))).encode())
    ops = "_".join(sorted({spec[0] if kind != "source" else spec[1]
                           for _, kind, *spec in bindings}))
    name = "cuda__{}__{}__{}__{}".format(fn_name, ops or "none", dtype_name or "any",
                                         digest.hexdigest()[:10])
    return name, bind.copy(fn, env, name, fn.__module__)


def _jit(fn):
    cuda = runtime.cuda()
    if runtime.simulated():
        return cuda.jit(fn)  # the simulator has no cache
    compiled = cuda.jit(fn)
    if config.CACHE_KERNELS:
        # the CPU kernels' folder and self-repairing cache (see sorix.kernels.cache)
        from .. import cache
        cache.attach(compiled, "cuda")
    return compiled


class Kernel:
    """A compiled kernel and the launch shapes sorix uses."""

    __slots__ = ("recipe", "compiled", "launched")

    def __init__(self, recipe, compiled):
        self.recipe, self.compiled = recipe, compiled
        self.launched = False

    def launch(self, blocks, threads, *args):
        if recorded is not None:
            recorded.append((self.recipe, [describe(a) for a in args]))
        for a in args:
            if isinstance(a, np.ndarray):  # numba copies it in, and back out after the launch
                runtime.count_transfer("to_device")
                runtime.count_transfer("to_host")
        self.compiled[blocks, threads](*args)
        if not self.launched:  # compiled or loaded now: say so once if it was compiled
            self.launched = True
            from .. import compile_note
            compile_note.after_launch(self.compiled)

    def over(self, n, *args):
        """A grid-stride launch over ``n`` elements (nothing to do when n == 0)."""
        if n:
            sz = sizes()
            threads = sz["threads"]
            self.launch(min(sz["max_blocks"], -(-n // threads)), threads, *args)

    def over_rows(self, rows, *args):
        """One block of ``BLOCK`` threads per row, the blocks striding over ``rows``."""
        if rows:
            sz = sizes()
            self.launch(min(sz["max_blocks"], rows), sz["reduce_threads"], *args)


def kernel(fn, dtype=None, **bindings):
    """The compiled kernel ``fn`` (a plain function) for ``dtype`` with ``bindings`` bound.

    Each binding value is ``(kind, *spec)``: ``("binary", "add", "forward")``,
    ``("source", module, name)``.
    """
    recipe = (fn.__module__, fn.__name__, np.dtype(dtype).name if dtype is not None else None,
              tuple(sorted((k,) + tuple(v) for k, v in bindings.items())))
    return get(recipe)


def get(recipe):
    found = _kernels.get(recipe)
    if found is None:
        _, copy = source(recipe)
        found = _kernels[recipe] = Kernel(recipe, _jit(copy))
    return found


def elementwise(template, op_name, dtype):
    """An elementwise loop template (CPU's, or a strided CUDA one) bound to one op."""
    module = templates_module(template)
    fn = getattr(module, template)
    kind = "unary" if template.startswith("unary") else "binary"
    bindings = {p: (kind, op_name, field) for p, field in bind.placeholders(fn).items()}
    return kernel(fn, dtype, **bindings)


def templates_module(template):
    from .. import templates as cpu_templates
    from . import templates as cuda_templates
    return cuda_templates if template.endswith("_nd") else cpu_templates


# ---- recording launches (for the PTX compile check) ---------------------------

def describe(value):
    """A launch argument's type as plain data (numba types are rebuilt from it)."""
    if isinstance(value, tuple):
        return ["tuple", [describe(v) for v in value]]
    if runtime.is_device_array(value):
        contiguous = runtime.is_contiguous(value.shape, runtime.element_strides(value))
        return ["array", value.dtype.str, len(value.shape), "C" if contiguous else "A"]
    if isinstance(value, (bool, np.bool_)):
        return ["scalar", "|b1"]
    if isinstance(value, (int, float)):
        return ["scalar", np.dtype(type(value)).str]
    return ["scalar", np.asarray(value).dtype.str]


def record():
    """Start recording launches into ``recorded`` (a list of ``(recipe, argument types)``)."""
    global recorded
    recorded = []
    return recorded
