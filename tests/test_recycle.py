"""Recycled blocks behind large CPU arrays (sorix.kernels.recycle): a block anything can
still reach is never handed out again, a free one is, the byte limit holds, and the
layers that use them keep their results and gradients intact."""
import threading

import numpy as np
import pytest

import sorix
import sorix.nn.functional as F
from sorix import config
from sorix.kernels import cpu, recycle

MB = 2 ** 20


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    """An empty recycler, with a 1 MB threshold and a 64 MB limit, for each test."""
    monkeypatch.setattr(config, "RECYCLE_MIN_BYTES", MB)
    monkeypatch.setattr(config, "RECYCLE_MAX_BYTES", 64 * MB)
    monkeypatch.setattr(recycle, "_blocks", type(recycle._blocks)())
    monkeypatch.setattr(recycle, "_handed", {})
    monkeypatch.setattr(recycle, "_held", [0])


def _address(a):
    return a.__array_interface__["data"][0]


def test_arrays_are_what_np_empty_gives():
    for shape, dtype in [((512, 1024), np.float32), ((3, 5, 70000), np.float64),
                         ((10,), np.float32), ((0, 4), np.float64)]:
        a = recycle.empty(shape, dtype)
        assert a.shape == shape and a.dtype == dtype
        assert a.flags.c_contiguous and a.flags.writeable and a.flags.aligned
        a[...] = 1.5
        assert np.all(a == 1.5)


def test_small_arrays_are_plain():
    a = recycle.empty((100, 100), np.float32)  # 40 KB
    assert a.base is None and recycle.held_bytes() == 0


def test_a_free_block_is_handed_out_again():
    a = recycle.empty((1024, 1024), np.float32)
    where = _address(a)
    del a
    b = recycle.empty((512, 1024), np.float64)  # the same 4 MB, another dtype and shape
    assert _address(b) == where and recycle.held_bytes() == 4 * MB


@pytest.mark.parametrize("keep", [
    lambda a: a,
    lambda a: a[::2],
    lambda a: a.reshape(-1),
    lambda a: a.T,
    lambda a: a.view(np.int32),
    lambda a: memoryview(a),
    lambda a: np.frombuffer(memoryview(a), np.float32),
    lambda a: sorix.tensor(a),
], ids=["itself", "slice", "reshape", "transpose", "view", "memoryview", "frombuffer",
        "tensor"])
def test_a_block_anything_still_reaches_is_not_handed_out(keep):
    a = recycle.empty((1024, 1024), np.float32)
    a[...] = 7.0
    kept = keep(a)
    del a
    b = recycle.empty((1024, 1024), np.float32)
    b[...] = -1.0
    assert not np.shares_memory(b, np.asarray(kept)) if not isinstance(kept, sorix.Tensor) \
        else not np.shares_memory(b, kept.data)
    seen = np.asarray(kept.data if isinstance(kept, sorix.Tensor) else kept)
    assert np.all(seen.view(np.float32) == 7.0)


def test_a_torch_view_keeps_its_block():
    torch = pytest.importorskip("torch")
    a = recycle.empty((1024, 1024), np.float32)
    a[...] = 3.0
    t = torch.from_numpy(a)
    del a
    b = recycle.empty((1024, 1024), np.float32)
    b[...] = 0.0
    assert float(t.min()) == 3.0 and float(t.max()) == 3.0


def test_only_the_array_cut_from_a_block_counts_as_its_own_memory():
    a = recycle.empty((1024, 1024), np.float32)
    assert recycle.is_whole(a) and cpu.owns_memory(a)
    assert not recycle.is_whole(a[1:]) and not cpu.owns_memory(a.reshape(-1))
    plain = np.empty((4, 4))
    assert recycle.is_whole(plain) and not recycle.is_whole(plain[1:])


def test_the_byte_limit_holds_and_free_blocks_of_other_sizes_make_room(monkeypatch):
    monkeypatch.setattr(config, "RECYCLE_MAX_BYTES", 10 * MB)
    held = [recycle.empty((MB,), np.float32) for _ in range(2)]  # 8 MB in use
    assert recycle.held_bytes() == 8 * MB
    over = recycle.empty((MB,), np.float32)  # 4 more would pass the limit: a plain array
    assert over.base is None and recycle.held_bytes() == 8 * MB
    del held[1]  # 4 MB free
    two = recycle.empty((2 * MB // 4,), np.float32)  # 2 MB: fits beside the 8 already held
    assert recycle.held_bytes() == 10 * MB
    three = recycle.empty((3 * MB // 4,), np.float32)  # 3 MB: the free 4 MB block goes
    assert three.base is not None and recycle.held_bytes() == 9 * MB
    assert not np.shares_memory(three, held[0]) and not np.shares_memory(three, two)


def test_free_blocks_of_the_sizes_least_recently_asked_for_go_first(monkeypatch):
    monkeypatch.setattr(config, "RECYCLE_MAX_BYTES", 9 * MB)
    recycle.empty((MB // 4,), np.float32)  # 1 MB, asked for first, now free
    recycle.empty((MB // 2,), np.float32)  # 2 MB, free
    recycle.empty((MB,), np.float32)  # 4 MB, free
    recycle.empty((MB // 4,), np.float32)  # the 1 MB size asked for again: recent
    assert recycle.held_bytes() == 7 * MB
    kept = recycle.empty((MB,), np.int32)  # 4 MB again: its free block, no room needed
    assert recycle.held_bytes() == 7 * MB
    recycle.empty((3 * MB // 4,), np.float32)  # 3 MB must drop one: the 2 MB, the oldest
    assert sorted(recycle._blocks) == [MB, 3 * MB, 4 * MB]
    assert recycle.held_bytes() == 8 * MB and recycle.is_whole(kept)


def test_no_size_is_listed_without_blocks(monkeypatch):
    monkeypatch.setattr(config, "RECYCLE_MAX_BYTES", 4 * MB)
    for k in range(1, 50):  # many sizes, each at the limit: each drops the one before
        recycle.empty((3 * MB // 4 + 1024 * k,), np.float32)  # 3 MB and k pages
    assert len(recycle._blocks) == 1 and recycle.held_bytes() <= 4 * MB
    recycle.release()
    assert len(recycle._blocks) == 0 and recycle.held_bytes() == 0


def test_arrays_larger_than_the_limit_are_plain(monkeypatch):
    monkeypatch.setattr(config, "RECYCLE_MAX_BYTES", 2 * MB)
    assert recycle.empty((MB,), np.float32).base is None and recycle.held_bytes() == 0


def test_release_drops_free_blocks_and_keeps_those_in_use():
    used = recycle.empty((MB,), np.float32)
    recycle.empty((2 * MB,), np.float32)  # dropped at once: free
    assert recycle.held_bytes() == 12 * MB
    recycle.release()
    assert recycle.held_bytes() == 4 * MB
    used[...] = 1.0
    assert recycle.is_whole(used)
    del used
    recycle.release()
    assert recycle.held_bytes() == 0


def test_recycling_off_gives_plain_arrays(monkeypatch):
    monkeypatch.setattr(config, "RECYCLE_MAX_BYTES", 0)
    assert recycle.empty((1024, 1024), np.float32).base is None


def test_threads_never_share_a_block():
    errors = []

    def worker(k):
        for i in range(200):
            a = recycle.empty((MB // 4,), np.float64)  # 2 MB
            a[...] = k * 1000 + i
            for _ in range(3):  # let the other threads run between the write and the check
                np.sqrt(a[:1000])
            if not np.all(a == k * 1000 + i):
                errors.append((k, i))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # a thread holds its previous array while it asks for the next: two blocks each at most
    assert recycle.held_bytes() <= 6 * 2 * 2 * MB


def test_layer_norm_reuses_its_blocks_and_keeps_results_apart():
    rng = np.random.default_rng(0)
    x_data = rng.standard_normal((512, 1024)).astype(np.float32)  # 2 MB
    x = sorix.tensor(x_data, requires_grad=True)
    first = F.layer_norm(x, (1024,))
    kept = first.data.copy()
    first.sum().backward()
    grad = x.grad.data
    assert recycle.is_whole(grad)  # the leaf kept the kernel's array: no copy
    expected_grad = grad.copy()
    held = recycle.held_bytes()
    for _ in range(3):  # results still referenced are never overwritten
        F.layer_norm(sorix.tensor(x_data * 2), (1024,))
    np.testing.assert_array_equal(first.data, kept)
    np.testing.assert_array_equal(x.grad.data, expected_grad)
    assert recycle.held_bytes() == held + 2 * MB  # one more block, lent out three times
