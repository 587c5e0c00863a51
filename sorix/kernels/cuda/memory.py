"""Device memory from the CUDA driver's stream-ordered pool, for every array sorix makes.

numba-cuda allocates each device array with ``cuMemAlloc`` and frees it with
``cuMemFree``, which synchronises the device. A training step makes and drops
dozens of arrays, so that costs more than the kernels themselves on a fast
GPU (a 1e7-element elementwise op took 0.35 ms, of which the kernel is
0.03 ms). The driver's own pool (``cuMemAllocAsync``/``cuMemFreeAsync``,
CUDA 11.2+) keeps freed blocks for reuse and orders each free after the work
already queued on the stream, which is what a caching allocator does.

This module is a numba-cuda External Memory Management plugin. With
``SORIX_CUDA_POOL=1`` it is installed by :func:`install` when sorix first
loads numba.cuda on a real GPU (not under the simulator, which has no
driver), unless the user chose a memory manager of their own
(``NUMBA_CUDA_MEMORY_MANAGER``). It is opt-in until a real-GPU run of
``benchmarks/gpu_check.sh`` has validated it. Memory is allocated and freed on the stream
sorix launches its kernels on (the default stream), so a block is never
reused while a kernel may still read it.
"""
import os
import weakref

_installed = False


def _plugin_class():
    """The plugin, defined on first use: its base classes live in numba.cuda."""
    from cuda.bindings import driver as binding
    from numba.cuda.cudadrv import driver as drv

    class StreamOrderedPool(drv.GetIpcHandleMixin, drv.HostOnlyCUDAMemoryManager):
        def initialize(self):
            self._stream = _stream_handle(binding)
            self._pool = drv.driver.cuDeviceGetDefaultMemPool(self.context.device.id)
            # Keep freed memory in the pool instead of returning it to the driver at the
            # next synchronisation (the pool's default release threshold is 0 bytes).
            drv.driver.cuMemPoolSetAttribute(
                self._pool, binding.CUmemPool_attribute.CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                binding.cuuint64_t(2 ** 64 - 1))

        def memalloc(self, size):
            stream = self._stream
            try:
                ptr = drv.driver.cuMemAllocAsync(size, stream)
            except drv.CudaAPIError as exc:
                if exc.code != binding.CUresult.CUDA_ERROR_OUT_OF_MEMORY:
                    raise
                # blocks freed but not yet returned (their stream work still queued), and
                # blocks cached for reuse: wait, hand them back, and try once more
                drv.driver.cuCtxSynchronize()
                drv.driver.cuMemPoolTrimTo(self._pool, 0)
                self.deallocations.clear()
                ptr = drv.driver.cuMemAllocAsync(size, stream)

            allocations = self.allocations

            def free():  # (no reference to self: the manager outlives no pointer)
                allocations.pop(ptr, None)
                drv.driver.cuMemFreeAsync(ptr, stream)

            memory = drv.AutoFreePointer(weakref.proxy(self.context), ptr, size, finalizer=free)
            # The manager holds the block while arrays own views of it, as numba's does:
            # the finalizer runs when the last owner goes, and frees it in stream order.
            allocations[ptr] = memory
            return memory.own()

        def get_memory_info(self):
            free, total = drv.driver.cuMemGetInfo()
            return drv.MemoryInfo(free=free, total=total)

        @property
        def interface_version(self):
            return 1

    return StreamOrderedPool


def _stream_handle(binding):
    """The driver handle of numba's default stream, where sorix launches its kernels: 0
    (the legacy default stream), or the per-thread default stream when numba is set to use
    it. Read from numba's configuration: asking numba.cuda for its stream object here
    would need the context that is being made."""
    from numba.cuda.core import config
    if getattr(config, "CUDA_PER_THREAD_DEFAULT_STREAM", 0):
        return binding.CUstream(int(binding.CU_STREAM_PER_THREAD))
    return binding.CUstream(0)


def install(cuda):
    """Make ``cuda`` (numba.cuda, just imported) allocate from the driver's pool, when that
    is possible and wanted. Returns whether the pool is in use."""
    global _installed
    if _installed:
        return True
    if os.environ.get("SORIX_CUDA_POOL", "0") != "1" \
            or os.environ.get("NUMBA_CUDA_MEMORY_MANAGER", "default") != "default" \
            or cuda.jit.__module__.startswith("numba.cuda.simulator"):
        return False
    try:  # (a context numba made already keeps its allocator; later ones use the pool)
        cuda.set_memory_manager(_plugin_class())
    except Exception:  # an older numba-cuda or driver binding: numba's own allocator stays
        return False
    _installed = True
    return True


def in_use():
    """Whether sorix installed the pool allocator in this process (SORIX_CUDA_POOL=1)."""
    return _installed
