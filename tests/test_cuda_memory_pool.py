"""The stream-ordered pool allocator (SORIX_CUDA_POOL=1), against a recording stand-in for
the CUDA driver: the calls it makes, in order, with the pointers and the stream."""
import gc

import pytest

pytest.importorskip("numba_cuda")
binding = pytest.importorskip("cuda.bindings.driver")

from numba.cuda.cudadrv import driver as drv  # noqa: E402

from sorix.kernels.cuda import memory  # noqa: E402


class RecordingDriver:
    def __init__(self, out_of_memory_once=False):
        self.calls = []
        self.next = 4096
        self.oom = out_of_memory_once

    def cuDeviceGetDefaultMemPool(self, device):
        self.calls.append(("pool", device))
        return "pool0"

    def cuMemPoolSetAttribute(self, pool, attribute, value):
        self.calls.append(("set", pool, attribute, int(value)))

    def cuMemAllocAsync(self, size, stream):
        if self.oom:
            self.oom = False
            raise drv.CudaAPIError(binding.CUresult.CUDA_ERROR_OUT_OF_MEMORY, "out of memory")
        self.calls.append(("alloc", size, int(stream)))
        self.next += size
        return self.next - size

    def cuMemFreeAsync(self, ptr, stream):
        self.calls.append(("free", ptr, int(stream)))

    def cuCtxSynchronize(self):
        self.calls.append(("sync",))

    def cuMemPoolTrimTo(self, pool, keep):
        self.calls.append(("trim", pool, keep))


class FakeDevice:
    id = 0


class FakeContext:
    device = FakeDevice()


@pytest.fixture
def pool(monkeypatch):
    def make(**kwargs):
        fake = RecordingDriver(**kwargs)
        monkeypatch.setattr(drv, "driver", fake)
        context = FakeContext()
        manager = memory._plugin_class()(context=context)
        manager.initialize()
        manager._keep_context = context  # the pointers hold a weak proxy to it
        return fake, manager
    return make


def test_initialize_keeps_freed_blocks_in_the_device_pool(pool):
    fake, _ = pool()
    attribute = int(binding.CUmemPool_attribute.CU_MEMPOOL_ATTR_RELEASE_THRESHOLD)
    assert fake.calls == [("pool", 0), ("set", "pool0", attribute, 2 ** 64 - 1)]


def test_blocks_are_allocated_and_freed_on_the_default_stream(pool):
    fake, manager = pool()
    fake.calls.clear()
    block = manager.memalloc(1000)
    assert block.size == 1000 and int(block.device_pointer) == 4096
    del block
    gc.collect()
    assert fake.calls == [("alloc", 1000, 0), ("free", 4096, 0)]


def test_out_of_memory_waits_returns_cached_blocks_and_retries_once(pool):
    fake, manager = pool(out_of_memory_once=True)
    fake.calls.clear()
    block = manager.memalloc(64)
    assert fake.calls == [("sync",), ("trim", "pool0", 0), ("alloc", 64, 0)]
    assert block.size == 64


def test_the_pool_is_opt_in_and_never_under_the_simulator(monkeypatch):
    class Simulated:
        class jit:
            __module__ = "numba.cuda.simulator.api"
    monkeypatch.setattr(memory, "_installed", False)
    monkeypatch.delenv("SORIX_CUDA_POOL", raising=False)
    assert memory.install(Simulated) is False
    monkeypatch.setenv("SORIX_CUDA_POOL", "1")
    assert memory.install(Simulated) is False
    monkeypatch.setenv("NUMBA_CUDA_MEMORY_MANAGER", "some.plugin")
    assert memory.install(Simulated) is False
