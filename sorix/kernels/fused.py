"""One backward pass for a whole region of elementwise operations.

Without fusion, each elementwise node's backward is one pass that writes
its inputs' gradients to memory, and the next node reads them back. For a
region of such nodes (found by :mod:`sorix.autograd.fusion`) this module
generates one loop that, per element, carries every intermediate gradient
in a register and writes only the gradients that leave the region.

A region is plain data, a :class:`Program`: its steps in order (each the
scalar derivative definitions of :mod:`sorix.kernels.defs` with the slots
of the arrays and parameters they read) and the gradient variables to
write out. The loop's source is generated from it, written to a file named
by its hash and compiled from that file: numba caches a function by its
source file and qualified name, so a second process loads the kernel
instead of compiling it. Where no folder is writable the kernel is
compiled without the disk cache.
"""
import hashlib
import os
import types
from typing import NamedTuple, Optional, Tuple

import numpy as np

from .. import config
from .._atomic import write_atomic
from . import bind, registry, threads
from .build import build_settings, definition_hash, jit_cached, scalar_function

_compiled = registry.cache("fused")


class Step(NamedTuple):
    """One node: ``gradient[target] += gradient[grad] * derivative(values..., params...)``
    for each input whose target is not None."""
    derivatives: Tuple  # per input: the scalar derivative definition
    values: Tuple[Optional[int], ...]  # per derivative argument: an array slot (None: unused)
    params: Tuple[int, ...]  # per parameter: its index in the parameter vector
    grad: int  # the gradient variable holding this node's output gradient (0: incoming)
    targets: Tuple[Optional[int], ...]  # per input: its gradient variable, None if not needed


class Program(NamedTuple):
    steps: Tuple[Step, ...]
    outputs: Tuple[int, ...]  # the gradient variables written out, in order


def _source(program, name, full, scalar_grad):
    """The loop's source. ``full[k]`` says whether array slot k is read per element
    (else it holds one value, read once before the loop)."""
    nslots = len(full)
    args = ["g"] + [f"a{k}" for k in range(nslots)] + \
        [f"o{k}" for k in range(len(program.outputs))] + ["p"]
    lines = [f"def {name}({', '.join(args)}):"]
    for k in range(nslots):
        if not full[k]:
            lines.append(f"    v{k} = a{k}[0]")
    nparams = max([i + 1 for s in program.steps for i in s.params], default=0)
    for i in range(nparams):
        lines.append(f"    p{i} = p[{i}]")
    if scalar_grad:
        lines.append("    g0 = g[0]")
    lines.append("    for i in prange(o0.size):")
    body = []
    if not scalar_grad:
        body.append("g0 = g[i]")
    body += [f"v{k} = a{k}[i]" for k in range(nslots) if full[k]]
    assigned = {0}
    for s_index, step in enumerate(program.steps):
        # An argument the node did not save (add and sub keep no values: their
        # derivatives are constants) gets any scalar of the dtype: g is at hand.
        values = [f"v{v}" if v is not None else f"g{step.grad}" for v in step.values]
        values += [f"p{i}" for i in step.params]
        for j, target in enumerate(step.targets):
            if target is None:
                continue
            term = f"g{step.grad} * d{s_index}_{j}({', '.join(values)})"
            if target in assigned:
                body.append(f"g{target} = g{target} + {term}")
            else:
                body.append(f"g{target} = {term}")
                assigned.add(target)
    body += [f"o{k}[i] = g{var}" for k, var in enumerate(program.outputs)]
    lines += ["        " + line for line in body]
    return "\n".join(lines) + "\n"


def _source_dir():
    """Where generated kernel sources live: beside the compiled kernels (see
    :func:`sorix.kernels.cache.folder`), or None when no folder is usable."""
    from . import cache
    root = cache.folder()
    return None if root is None else os.path.join(root, "sorix_fused")


def _source_file(name, source):
    """The path of a file holding ``source`` (written once), or None where no folder is
    writable."""
    from . import cache
    if not (config.CACHE_KERNELS and cache.saving()):
        return None
    folder = _source_dir()
    if folder is None:  # (cache.folder() has warned)
        return None
    path = os.path.join(folder, name + ".py")
    try:
        with open(path) as f:
            if f.read() == source:
                return path  # written by an earlier process: nothing to do
    except (OSError, UnicodeDecodeError):
        pass  # missing, or damaged: written again below
    try:
        os.makedirs(folder, exist_ok=True)
        # Two threads or processes may write the same kernel: each writes a private
        # temporary file and renames it, so a reader sees all of the file or none of it.
        write_atomic(path, source)
        return path
    except OSError as exc:
        cache.save_failed(folder, exc)
        return None


def _build(program, full, scalar_grad, dtype, parallel):
    from numba import prange
    env = {"prange": prange if parallel else range}
    digest = hashlib.sha1()
    # The name changes with anything that changes the machine code, so that a disk
    # cache written by another version or other settings is never loaded.
    digest.update(build_settings(dtype).encode())
    for s_index, step in enumerate(program.steps):
        for j, fn in enumerate(step.derivatives):
            if step.targets[j] is not None:
                env[f"d{s_index}_{j}"] = scalar_function(fn, dtype)
                digest.update(definition_hash(fn).encode())
    placeholder = "fused_kernel"
    source = _source(program, placeholder, full, scalar_grad)
    digest.update(source.encode())
    name = "fused_{}_{}{}".format(digest.hexdigest()[:16], dtype.name, "_par" if parallel else "")
    source = source.replace(placeholder, name, 1)
    path = _source_file(name, source)
    module = compile(source, path or f"<sorix fused {name}>", "exec")
    code = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    # (without a source file: compiled in memory)
    return jit_cached(bind.copy(code, env, name, __name__), parallel)


def run(program, arrays, params, grad):
    """Run ``program`` over ``arrays`` (each of ``grad``'s shape or of size 1) with the
    incoming gradient ``grad`` (possibly a broadcast view, of at least one element);
    returns the output gradients as new arrays of ``grad``'s shape and dtype."""
    shape, dtype, n = grad.shape, grad.dtype, grad.size
    if dtype.char == "e":  # float16: computed in float32 (no float16 arithmetic in numba)
        wide = run(program, [a.astype(np.float32) for a in arrays], params,
                   grad.astype(np.float32))
        return [w.astype(dtype) for w in wide]
    full = tuple(a.size != 1 or n == 1 for a in arrays)
    scalar_grad = grad.size == 1 or all(s == 0 for s in grad.strides)
    parallel = threads.use(n)
    key = (program, full, scalar_grad, dtype.char, parallel)
    kernel = _compiled.get(key)
    if kernel is None:
        kernel = _compiled[key] = _build(program, full, scalar_grad, dtype, parallel)
    g = np.array([grad.flat[0]], dtype) if scalar_grad else grad.ravel()
    outputs = [np.empty(shape, dtype) for _ in program.outputs]
    kernel(g, *[a.ravel() for a in arrays], *[o.reshape(-1) for o in outputs],
           np.array(params, dtype) if params else np.zeros(1, dtype))
    return outputs
