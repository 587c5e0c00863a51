"""How every kernel is made: a copy of a plain function with chosen globals.

numba caches a function by its source file and qualified name. A closure
that captures another jitted function never hits the cache (numba issue
6264), and code made by ``exec`` has no source file. So a kernel is the code
of a function from a real file (a loop template, a hand-written kernel, a
scalar definition) under new globals that bind its placeholders, and often
under a new name that says what was bound (:func:`copy`).

A scalar definition of :mod:`sorix.kernels.defs` is compiled the same way on
every target (:class:`Target`): its numeric literals retyped to the data's
dtype, its globals the target's ``math`` and ``np``, the flags of
:mod:`sorix.kernels.scalar` and the helpers it calls, each compiled alike.
A target supplies only its jit decorator and its ``math``/``np`` modules.
"""
import hashlib
import math
import types

import numpy as np

from . import registry, scalar


def copy(fn, env, name=None, module=None):
    """``fn`` (a function or a code object) as a new function with globals ``env``;
    ``name`` names it (and is its qualified name, numba's cache key), ``module`` sets
    its ``__module__``."""
    code = fn if isinstance(fn, types.CodeType) else fn.__code__
    new = types.FunctionType(code, env, name or code.co_name)
    if name is not None:
        new.__qualname__ = name
    if module is not None:
        new.__module__ = module
    return new


def typed_constants(code, dtype):
    """``code`` with its numeric literals as scalars of ``dtype``: numba types a literal
    ``1.0`` as float64, so ``1.0 - y * y`` on float32 data would compute in float64."""
    kind = np.dtype(dtype).type

    def convert(c):
        if isinstance(c, (float, int)) and not isinstance(c, bool):
            return kind(c)
        return c

    return code.replace(co_consts=tuple(convert(c) for c in code.co_consts))


def helpers_used(fn):
    """The helpers of :mod:`sorix.kernels.scalar` that ``fn`` calls."""
    # co_names also holds attribute names: the ``exp`` of ``math.exp`` is not a helper call
    return [scalar.HELPERS[n] for n in fn.__code__.co_names
            if n in scalar.HELPERS and scalar.HELPERS[n] is not fn]


def definition_hash(fn):
    """A short digest of a definition and the helpers it calls."""
    h = hashlib.sha1()
    stack, seen = [fn], set()
    while stack:
        f = stack.pop()
        if f.__name__ in seen:
            continue
        seen.add(f.__name__)
        c = f.__code__
        h.update(c.co_code)
        h.update(repr(c.co_consts).encode())
        h.update(repr(c.co_names).encode())
        stack.extend(helpers_used(f))
    return h.hexdigest()[:10]


def definition_flags(dtype):
    """The flags a definition or helper is compiled with for ``dtype`` on the CPU
    (a target may override them: the GPU's exp needs no VECTOR_EXP)."""
    float32 = np.dtype(dtype) == np.float32
    return {"FLOAT32": float32, "VECTOR_EXP": float32}


class Target:
    """Where scalar definitions are compiled to: ``jit()`` gives the decorator making a
    callable scalar function, ``modules(dtype)`` the ``(math, np)`` to bind, ``extra``
    further globals (or flag overrides) for every definition."""

    def __init__(self, name, jit, modules, extra=None):
        self.jit, self.modules, self.extra = jit, modules, extra or (lambda: {})
        self._compiled = registry.cache(name + " scalar functions")

    def definition_globals(self, dtype):
        """The globals a definition compiled for ``dtype`` sees (its helpers aside)."""
        math_module, np_module = self.modules(dtype)
        env = {"math": math_module, "np": np_module}
        env.update(definition_flags(dtype))
        env.update(self.extra())
        return env

    def compile(self, fn, dtype, typed=True):
        """``fn`` compiled for ``dtype`` with its helpers compiled alike; ``typed`` retypes
        its numeric literals to ``dtype`` (scalar definitions; hand-written device
        functions keep theirs: their ints are indices)."""
        key = (fn, dtype, typed)
        found = self._compiled.get(key)
        if found is None:
            work = np.float64 if dtype is None else dtype
            env = self.definition_globals(work)
            for helper in helpers_used(fn):
                env[helper.__name__] = self.compile(helper, dtype)
            code = typed_constants(fn.__code__, dtype) if typed and dtype is not None \
                else fn.__code__
            found = self._compiled[key] = self.jit()(copy(code, env))
        return found


#: The placeholders of the elementwise loop templates, each with the field of an op's
#: definition (:class:`sorix.kernels.defs.Unary` or ``Binary``) bound to it.
PLACEHOLDERS = {"F": "forward", "D": "derivative", "DA": "derivative_a", "DB": "derivative_b"}


def placeholders(template):
    """``{placeholder: field}`` for the placeholders that the loop ``template`` reads."""
    return {p: field for p, field in PLACEHOLDERS.items() if p in template.__code__.co_names}


def cpu_modules(dtype):
    """The CPU binds Python's ``math`` and NumPy: numba compiles both on scalars."""
    return math, np
