"""Compile recorded kernel launches (tests/cuda_exercise.py) to PTX, without a GPU.

Reads the JSON list of ``[recipe, argument types]`` on stdin, rebuilds each
kernel with :func:`sorix.kernels.cuda.build.source` (GPU launch sizes, GPU
stand-ins for ``math``/``np``) and compiles it with ``numba.cuda.compile_ptx``
for compute capability 7.5. Prints a JSON summary: compiled count and the
failures with their errors; exits 3 when NVVM (libnvvm, from
``numba-cuda[cu12]``/``[cu13]``) is missing, so the caller can skip.

Device functions compile for the current device's compute capability,
which needs a driver; a stand-in device answers instead (a test-only patch).
"""
import json
import sys
import time

import numpy as np


def _patch_device():
    import numba.cuda.dispatcher as dispatcher

    class Device:
        compute_capability = (7, 5)

    dispatcher.get_current_device = lambda: Device()


def _numba_type(description):
    from numba import from_dtype, types
    kind = description[0]
    if kind == "array":
        _, dtype, ndim, layout = description
        return types.Array(from_dtype(np.dtype(dtype)), ndim, layout)
    if kind == "tuple":
        return types.BaseTuple.from_types([_numba_type(d) for d in description[1]])
    return from_dtype(np.dtype(description[1]))


def main():
    from numba import cuda
    try:
        cuda.compile_ptx(lambda x: None, (_numba_type(["scalar", "<f4"]),), cc=(7, 5))
    except Exception as exc:  # no libnvvm: nothing to check here
        print(json.dumps({"skip": f"NVVM unavailable: {exc}"}))
        sys.exit(3)
    _patch_device()
    from sorix.kernels.cuda import build
    launches = json.load(sys.stdin)
    failures, start = [], time.time()
    for recipe, arguments in launches:
        recipe = (recipe[0], recipe[1], recipe[2], tuple(tuple(b) for b in recipe[3]))
        name, fn = build.source(recipe)
        signature = tuple(_numba_type(a) for a in arguments)
        try:
            cuda.compile_ptx(fn, signature, cc=(7, 5))
        except Exception as exc:
            failures.append({"kernel": name, "signature": str(signature),
                             "error": f"{type(exc).__name__}: {str(exc)[:2000]}"})
    print(json.dumps({"compiled": len(launches) - len(failures), "failures": failures,
                      "seconds": round(time.time() - start, 1)}))


if __name__ == "__main__":
    main()
