"""Turn scalar definitions into compiled, disk-cached CPU kernels, lazily.

Each kernel is a copy (:func:`sorix.kernels.bind.copy`) of a loop template
from :mod:`sorix.kernels.templates` (a real file, so numba's disk cache can
find it) whose globals bind ``F``/``D``/``DA``/``DB`` to one op's
definitions, compiled for the data's dtype by the :data:`CPU` target, under
a qualified name that holds the op, the dtype and a hash of the definitions
and build settings. A changed definition therefore gets a new cache entry
instead of a stale one. Hand-written kernels (:func:`jit_kernel`) are copies
of their own functions with ``prange`` bound to numba's.

The compiled kernels are kept in caches of :mod:`sorix.kernels.registry`.
"""
import hashlib

import numpy as np

from .. import config
from .._version import __version__
from . import bind, registry, scalar, templates
from .bind import definition_hash

_kernel_cache = registry.cache("cpu kernels")
_module_helper_cache = registry.cache("cpu module helpers")


def _njit():
    from numba import njit  # imported on first compile: keeps `import sorix` fast
    return njit(**config.NJIT_OPTIONS)


#: Scalar definitions compiled for the CPU: numba's ``math`` and NumPy on scalars.
CPU = bind.Target("cpu", _njit, bind.cpu_modules)


def build_settings(dtype):
    """What besides the definitions decides a kernel's machine code: sorix's version,
    the flags bound for ``dtype`` and numba's options. Kernel names include its hash,
    so a disk cache written under other settings is never loaded."""
    flags = sorted(bind.definition_flags(dtype).items())
    return repr((__version__, flags, sorted(config.NJIT_OPTIONS.items())))


def scalar_function(fn, dtype):
    """``fn`` compiled for one dtype, with its helpers compiled alike."""
    return CPU.compile(fn, np.dtype(dtype))


def jit_cached(fn, parallel):
    """``fn`` compiled with the shared options and sorix's disk cache
    (:mod:`sorix.kernels.cache`: in memory, with one warning, where no cache folder
    is usable; a damaged entry is recompiled)."""
    from numba import njit
    from . import compile_note  # noqa: F401  (importing it listens for compiles: a note on stderr)
    compiled = njit(parallel=parallel, **config.NJIT_OPTIONS)(fn)
    if config.CACHE_KERNELS:
        from . import cache
        cache.attach(compiled)
    if parallel:
        from . import threads
        return threads.threaded(compiled)
    return compiled


def kernel(template_name, op_name, bindings, dtype, parallel):
    """The compiled ``template_name`` loop for one op and dtype.

    ``bindings`` maps the template's placeholder names (``F``, ``D`` ...)
    to scalar definitions.
    """
    dtype = np.dtype(dtype)
    key = (template_name, op_name, dtype, parallel)
    found = _kernel_cache.get(key)
    if found is not None:
        return found
    template = getattr(templates, template_name)
    from numba import prange
    env = {"prange": prange}
    digest = hashlib.sha1(build_settings(dtype).encode())
    for placeholder, fn in sorted(bindings.items()):
        env[placeholder] = scalar_function(fn, dtype)
        digest.update(definition_hash(fn).encode())
    name = "{}__{}__{}__{}{}".format(template_name, op_name, dtype.name,
                                     digest.hexdigest()[:10], "__par" if parallel else "")
    compiled = jit_cached(bind.copy(template, env, name, templates.__name__), parallel)
    _kernel_cache[key] = compiled
    return compiled


def jit_kernel(fn, parallel=False, name=None, dtype=None):
    """A hand-written kernel (optimizer updates ...) compiled with the shared options.

    Its module's ``prange`` placeholder is bound to numba's here. ``name``
    gives the copy its own qualified name (and so its own cache entry),
    for example for the threaded build of a kernel.

    A module that lists ``SCALAR_HELPERS`` (names of :mod:`sorix.kernels.scalar`'s
    helpers its kernels call) is compiled per ``dtype``: the helpers as the elementwise
    kernels get them for that dtype (float32's vectorised ``exp``), ``DTYPE`` bound to
    the dtype's scalar type, and the module's own helpers compiled alongside, under a
    name holding the dtype and a hash of the helpers' definitions (a changed helper
    gets a new cache entry, as a changed definition does).
    """
    from numba import prange
    env = dict(fn.__globals__, prange=prange)
    name = name or fn.__name__
    if is_typed(fn):
        dtype = np.dtype(dtype)
        helpers, digest = _typed_helpers(fn.__globals__, dtype)
        env.update(helpers)
        name = "{}__{}__{}".format(name, dtype.name, digest)
    else:
        env.update(_module_helpers(fn.__globals__))
    return jit_cached(bind.copy(fn, env, name), parallel)


def is_typed(fn):
    """Whether ``fn``'s module is compiled per dtype (it lists ``SCALAR_HELPERS``)."""
    return bool(fn.__globals__.get("SCALAR_HELPERS"))


def _module_helpers(module_globals):
    """The jitted builds of the functions a kernel module lists in ``JIT_HELPERS``
    (serial code that several of its kernels call), made once per module."""
    names = module_globals.get("JIT_HELPERS", ())
    key = module_globals.get("__name__")
    if names and key not in _module_helper_cache:
        _module_helper_cache[key] = {n: _njit()(module_globals[n]) for n in names}
    return _module_helper_cache.get(key, {})


def _typed_helpers(module_globals, dtype):
    """(globals, digest) for a per-dtype module's kernels: its ``SCALAR_HELPERS`` compiled
    for ``dtype``, ``DTYPE``, and its ``JIT_HELPERS`` and ``REASSOCIATE`` functions
    compiled as copies that see those same globals (the latter with
    ``config.REASSOCIATE_OPTIONS``), made once per module and dtype."""
    from numba import njit
    key = (module_globals.get("__name__"), dtype)
    found = _module_helper_cache.get(key)
    if found is None:
        env = dict(module_globals, DTYPE=dtype.type)
        digest = hashlib.sha1(build_settings(dtype).encode())
        for helper_name in module_globals["SCALAR_HELPERS"]:
            helper = scalar.HELPERS[helper_name]
            env[helper_name] = scalar_function(helper, dtype)
            digest.update(definition_hash(helper).encode())
        helpers = {"DTYPE": dtype.type}
        for names, options in ((module_globals.get("JIT_HELPERS", ()), config.NJIT_OPTIONS),
                               (module_globals.get("REASSOCIATE", ()),
                                config.REASSOCIATE_OPTIONS)):
            for n in names:
                env[n] = helpers[n] = njit(**options)(bind.copy(module_globals[n], env))
        for helper_name in module_globals["SCALAR_HELPERS"]:
            helpers[helper_name] = env[helper_name]
        found = _module_helper_cache[key] = (helpers, digest.hexdigest()[:10])
    return found
