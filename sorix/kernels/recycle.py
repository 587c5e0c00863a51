"""Recycled memory for large CPU arrays.

A fresh large NumPy array can cost more than the arithmetic that fills it.
glibc returns big freed blocks to the operating system, so the next array of
the same size is mapped again and every page is zeroed on first touch: a
LayerNorm forward and backward at (4096, 1024) float32, in a script of its
own, took 3.7 ms with 324 page faults a step, and takes 1.55 ms with none
from recycled blocks (2-core EPYC). A training loop allocates the same
sizes at every step, so sorix keeps the blocks behind its large kernel outputs
(at least ``config.RECYCLE_MIN_BYTES``) and hands a block out again once
nothing refers to it any more.

A block is free when its reference count says that only this module holds
it: every NumPy view of an array, however derived (reshapes, slices,
``.numpy()``, ``torch.from_numpy``), keeps the block it was cut from alive,
so a block someone can still read or write is never handed out twice. The
blocks held, in use or free, total at most ``config.RECYCLE_MAX_BYTES``
(``SORIX_RECYCLE_MB``, default 256; 0 turns recycling off): past it, free
blocks of the sizes least recently asked for are dropped, and when none is
free a plain array is made instead.
:func:`release` drops every free block.
"""
import sys
import threading
import weakref
from collections import OrderedDict

import numpy as np

from .. import config

_PAGE = 4096
_lock = threading.Lock()
#: size in bytes (a multiple of a page) -> [uint8 block, ...], the size asked for most
#: recently last; a size is listed only while it has blocks
_blocks = OrderedDict()
_handed = {}  # id(block) -> weak reference to the array made from it
_held = [0]  # bytes in _blocks


def _refs(bucket, i):
    return sys.getrefcount(bucket[i])


def _free_count():
    """The reference count :func:`_refs` reports for a block nothing else refers to
    (measured, not assumed: it depends on how the interpreter counts)."""
    probe = [np.empty(1, np.uint8)]
    return _refs(probe, 0)


_FREE = _free_count()


def _take_free(bucket):
    for i in range(len(bucket)):
        if _refs(bucket, i) == _FREE:
            return bucket[i]
    return None


def _make_room(size):
    """Drop free blocks, of the sizes least recently asked for first, until ``size`` more
    bytes fit under the limit; False when they cannot."""
    limit = config.RECYCLE_MAX_BYTES
    for key in list(_blocks):
        if _held[0] + size <= limit:
            break
        bucket = _blocks[key]
        i = 0
        while i < len(bucket) and _held[0] + size > limit:
            if _refs(bucket, i) == _FREE:
                _handed.pop(id(bucket[i]), None)
                del bucket[i]
                _held[0] -= key
            else:
                i += 1
        if not bucket:
            del _blocks[key]
    return _held[0] + size <= limit


def empty(shape, dtype):
    """An uninitialised C-contiguous array, like ``np.empty(shape, dtype)``; a large one
    is cut from a recycled block."""
    dtype = np.dtype(dtype)
    count = 1
    for n in shape:
        count *= n
    nbytes = count * dtype.itemsize
    if nbytes < config.RECYCLE_MIN_BYTES or nbytes > config.RECYCLE_MAX_BYTES:
        return np.empty(shape, dtype)
    size = -(-nbytes // _PAGE) * _PAGE
    with _lock:
        bucket = _blocks.get(size)
        block = None
        if bucket is not None:
            _blocks.move_to_end(size)
            block = _take_free(bucket)
        if block is None:
            if not _make_room(size):
                return np.empty(shape, dtype)
            block = np.empty(size, np.uint8)
            _blocks.setdefault(size, []).append(block)
            _blocks.move_to_end(size)
            _held[0] += size
        out = block[:nbytes].view(dtype).reshape(shape)
        _handed[id(block)] = weakref.ref(out)
    return out


def is_whole(x):
    """Whether ``x`` is the very array :func:`empty` cut from its block (not a view of
    it): it may then be handed on as its own memory, as an array without a base is."""
    base = x.base
    if base is None:
        return True
    ref = _handed.get(id(base))
    return ref is not None and ref() is x


def release():
    """Drop every free block (the blocks of arrays still in use stay until those go)."""
    with _lock:
        for key in list(_blocks):
            bucket = _blocks[key]
            kept = []
            for i in range(len(bucket)):
                if _refs(bucket, i) == _FREE:
                    _handed.pop(id(bucket[i]), None)
                    _held[0] -= key
                else:
                    kept.append(bucket[i])
            if kept:
                bucket[:] = kept
            else:
                del _blocks[key]


def held_bytes():
    """Bytes in recycled blocks, in use or free."""
    return _held[0]
