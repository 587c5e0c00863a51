"""Every numba option and size threshold sorix uses, in one place.

Environment variables override the defaults so that a user can tune a
machine without editing the package:

- ``SORIX_PARALLEL_THRESHOLD``: element count from which kernels use threads.
- ``SORIX_OPTIMIZER_PARALLEL_THRESHOLD``: the same for every optimizer update (their
  defaults are measured per update; a higher ``SORIX_PARALLEL_THRESHOLD`` raises them).
- ``SORIX_FUSION_THRESHOLD``: element count from which backward fuses elementwise
  regions into one generated loop (``0`` turns fusion off).
- ``SORIX_KERNEL_CACHE``: set to ``0`` to compile kernels without the disk cache.
- ``SORIX_LOAD_INTERVAL``: seconds between looks at how busy the cores are (``0``:
  never look; kernels above the threshold always use every thread).
- ``SORIX_FREE_CORE_IDLE``: share of a core that must be idle for it to take a thread.
- ``SORIX_BLAS_SPIN_SECONDS``: how long after a matrix product kernels stay serial.
- ``SORIX_CONV_COLUMNS_LIMIT``: the most values of one convolution column buffer.
- ``SORIX_RECYCLE_MB``: the most megabytes of recycled blocks behind large CPU arrays
  (``0``: none).
"""
import os

#: Below this many elements a serial loop beats spreading work over threads:
#: starting numba's thread pool costs a few microseconds per call.
_THRESHOLD_SET = os.environ.get("SORIX_PARALLEL_THRESHOLD") or None
PARALLEL_THRESHOLD = int(_THRESHOLD_SET or 131072)

#: Per optimizer update, the element count from which its threaded build may run (each
#: thread takes whole chunks of the vectorised serial loop, :mod:`sorix.kernels.optim`).
#: Below it the serial build runs; from it on, the updates at each size time both builds
#: now and then and use the faster (:func:`sorix.kernels.variants.run_measured`). Measured
#: with benchmarks/bench_threads.py on quiet 2-core machines, the threaded builds never
#: won below 65536 elements. Above it the answer depends on the machine: the threaded
#: Adam update at 1e6 float32 elements took twice the serial build's time on an AMD EPYC
#: (Zen 4) and half of it on an Intel Xeon (Sapphire Rapids).
#: ``SORIX_OPTIMIZER_PARALLEL_THRESHOLD`` sets all three; a ``SORIX_PARALLEL_THRESHOLD``
#: above one of them raises it too (never lowers it: it is the way to keep threads off).
OPTIMIZER_PARALLEL_THRESHOLDS = {"sgd": 65536, "rmsprop": 65536, "adam": 65536}
if os.environ.get("SORIX_OPTIMIZER_PARALLEL_THRESHOLD"):
    OPTIMIZER_PARALLEL_THRESHOLDS = dict.fromkeys(
        OPTIMIZER_PARALLEL_THRESHOLDS, int(os.environ["SORIX_OPTIMIZER_PARALLEL_THRESHOLD"]))
elif _THRESHOLD_SET:
    OPTIMIZER_PARALLEL_THRESHOLDS = {name: max(value, PARALLEL_THRESHOLD)
                                     for name, value in OPTIMIZER_PARALLEL_THRESHOLDS.items()}

#: A threaded kernel waits for its slowest thread, and a thread that shares its core
#: with a busy process is slow: kernels use only the cores other processes leave free
#: (serial when fewer than two are), measured at most this often, in seconds
#: (:mod:`sorix.kernels.threads`). 0 turns the check off.
LOAD_CHECK_INTERVAL = float(os.environ.get("SORIX_LOAD_INTERVAL", 0.5))

#: For this long after sorix calls BLAS (a float matmul), kernels run serially: BLAS's
#: worker threads spin on the cores after a call (OpenBLAS for about 0.1 s, measured as
#: CPU time burnt after a product), so a threaded kernel would share its cores with them.
#: 0 when BLAS is told to use one thread (nothing spins then). Like the load check, off
#: when ``SORIX_LOAD_INTERVAL`` is 0.
_ONE_BLAS_THREAD = any(os.environ.get(name, "").strip() == "1" for name in
                       ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"))
BLAS_SPIN_SECONDS = float(os.environ.get("SORIX_BLAS_SPIN_SECONDS",
                                         0.0 if _ONE_BLAS_THREAD else 0.1))

#: Products of at most this many multiply-adds (m n k) run on one BLAS thread, which
#: leaves no threads spinning: OpenBLAS's own threshold (65536 x 4).
BLAS_THREADED_WORK = 262144

#: The share of a core that must be idle (over the last interval) for it to count as free.
FREE_CORE_IDLE = float(os.environ.get("SORIX_FREE_CORE_IDLE", 0.75))

#: Options shared by every CPU kernel. ``error_model='numpy'`` removes the
#: division-by-zero branch that stops LLVM from vectorising loops. Fast-math's
#: ``contract`` flag, and no other, lets LLVM fuse a multiply and an add into one FMA
#: instruction, rounded once instead of twice (as GPUs do by default): float32 exp, tanh
#: and sigmoid run about a third faster, and NaN and inf behave as usual.
NJIT_OPTIONS = {"nogil": True, "error_model": "numpy", "fastmath": {"contract": True}}

#: Options of the helpers a kernel module lists in ``REASSOCIATE`` (row sums): fast-math's
#: reassociation flag too, and no other, so NaN and inf behave as usual. LLVM vectorises a
#: floating-point sum only when it may reorder the additions.
REASSOCIATE_OPTIONS = dict(NJIT_OPTIONS, fastmath={"contract": True, "reassoc": True})

#: Whether to ask numba to keep compiled kernels on disk.
CACHE_KERNELS = os.environ.get("SORIX_KERNEL_CACHE", "1") != "0"

#: From this many elements the backward pass runs a region of connected
#: elementwise nodes as one generated loop (:mod:`sorix.autograd.fusion`).
#: Below it the per-node kernels are as fast and a new region's compile
#: would not pay for itself. 0 (or less) turns fusion off, here as in the environment.
FUSION_THRESHOLD = int(os.environ.get("SORIX_FUSION_THRESHOLD", 65536))

#: The most nodes one fused loop covers: the loop's compile time grows with it.
FUSION_MAX_NODES = 32

#: The most values one im2col column buffer of a convolution holds (the batch is cut
#: into chunks that fit): 2**22 values is 16 MB in float32. When the whole batch fits,
#: forward keeps the buffer for the weight gradient instead of building it again.
CONV_COLUMNS_LIMIT = int(os.environ.get("SORIX_CONV_COLUMNS_LIMIT", 2 ** 22))

#: A float32 sum or mean over every element of at least this many runs as one
#: float64 pass over blocks (:mod:`sorix.kernels.grad_norm`); smaller ones are NumPy's,
#: whose call costs less than a kernel's at that size.
TOTAL_KERNEL_MIN = 4096

#: CPU arrays of at least this many bytes that sorix's kernels write (outputs, gradients,
#: convolution columns) are cut from recycled blocks (:mod:`sorix.kernels.recycle`): a
#: fresh multi-megabyte array costs page faults on every training step.
RECYCLE_MIN_BYTES = 2 ** 20

#: The most bytes those blocks hold, in use or free (``SORIX_RECYCLE_MB``; 0 turns
#: recycling off). What a script frees stays held up to this much, for its next step.
RECYCLE_MAX_BYTES = int(float(os.environ.get("SORIX_RECYCLE_MB", 256)) * 2 ** 20)
