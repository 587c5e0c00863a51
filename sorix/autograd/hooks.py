"""Hooks on the backward pass: after a leaf's gradient is final, and when a backward ends.

``register_post_accumulate_grad_hook(tensor, hook)`` (also the Tensor method
of that name, as PyTorch spells it) calls ``hook(tensor)`` once per backward
pass, after the last contribution to ``tensor.grad`` in that pass was added.
A leaf used several times receives several contributions; the engine knows
how many edges lead into it and calls the hook when the last one arrived.

``queue_callback(fn)``, called while a backward runs (from a hook), runs
``fn()`` once that backward has walked the whole graph, before
``backward()`` returns (PyTorch's ``Variable._execution_engine.queue_callback``).

Data-parallel training uses both: a parameter's final gradient starts its
share of the gradient exchange while the rest of backward runs, and a
callback waits for the exchange to finish.

The engine pays for this only when a hook is registered: with none, one
truth test of :data:`registry` per backward.
"""
import itertools
import threading
import weakref

#: id(leaf) -> (weak reference to the leaf, {handle id: hook}). Hooks are held
#: per live tensor: the entry goes when the tensor is collected.
registry = {}
_handle_ids = itertools.count()


class RemovableHandle:
    """Returned by a hook registration; ``remove()`` unregisters the hook (idempotent)."""

    __slots__ = ("_key", "_id")

    def __init__(self, key, handle_id):
        self._key, self._id = key, handle_id

    def remove(self):
        entry = registry.get(self._key)
        if entry is None:
            return
        entry[1].pop(self._id, None)
        if not entry[1]:
            del registry[self._key]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def _forget(key, ref):
    entry = registry.get(key)
    if entry is not None and entry[0] is ref:
        del registry[key]


def register_post_accumulate_grad_hook(tensor, hook):
    """Call ``hook(tensor)`` after each backward pass has finished adding to ``tensor.grad``."""
    if not callable(hook):
        raise TypeError(f"hook must be callable, got {type(hook).__name__}")
    if tensor.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                           "tensors: only leaves accumulate .grad")
    if not tensor.requires_grad:
        raise RuntimeError("cannot register a post accumulate grad hook on a tensor that does "
                           "not require grad; set requires_grad=True first")
    key = id(tensor)
    entry = registry.get(key)
    if entry is None or entry[0]() is not tensor:
        ref = weakref.ref(tensor, lambda r, key=key: _forget(key, r))
        entry = registry[key] = (ref, {})
    handle_id = next(_handle_ids)
    entry[1][handle_id] = hook
    return RemovableHandle(key, handle_id)


def run_post_accumulate_hooks(tensor):
    """Call ``tensor``'s post-accumulate hooks, in registration order."""
    entry = registry.get(id(tensor))
    if entry is not None and entry[0]() is tensor:
        for hook in list(entry[1].values()):
            hook(tensor)


class HookedLeaves:
    """For one backward pass: how many gradient edges still have to reach each hooked leaf.

    ``arrived(leaf, edges, received)`` is told of every edge into a leaf,
    including those that carried no gradient (an input whose rule returned
    None); when the count reaches zero and the leaf received a gradient in
    this pass, its hooks run.
    """

    __slots__ = ("remaining",)

    def __init__(self, root_leaves, root_nodes):
        remaining = {}
        for leaf in root_leaves:
            _count(remaining, leaf)
        stack = list(root_nodes)
        seen = set(stack)
        while stack:
            node = stack.pop()
            for tensor, need in zip(node.inputs, node.needs):
                if not need:
                    continue
                child = tensor.grad_fn
                if child is None:
                    _count(remaining, tensor)
                elif child not in seen:
                    seen.add(child)
                    stack.append(child)
        self.remaining = remaining

    def arrived(self, leaf, edges=1, received=True):
        entry = self.remaining.get(id(leaf))
        if entry is None:
            return
        entry[0] -= edges
        entry[1] = entry[1] or received
        if entry[0] <= 0:
            del self.remaining[id(leaf)]
            if entry[1]:
                run_post_accumulate_hooks(leaf)


def _count(remaining, leaf):
    key = id(leaf)
    if key not in registry:
        return
    entry = remaining.get(key)
    if entry is None:
        remaining[key] = [1, False]
    else:
        entry[0] += 1


# ---- callbacks at the end of a backward --------------------------------------------------

class _Queue(threading.local):
    callbacks = None  # a list while a backward runs on this thread


_queue = _Queue()


def queue_callback(fn):
    """Run ``fn()`` when the backward now running on this thread has finished its graph walk.

    Only valid during a backward (from a hook); callbacks run in the order queued,
    and one queued by a callback runs too."""
    if not callable(fn):
        raise TypeError(f"callback must be callable, got {type(fn).__name__}")
    if _queue.callbacks is None:
        raise RuntimeError("queue_callback can only be called while a backward pass runs "
                           "(from a hook)")
    _queue.callbacks.append(fn)


def open_queue():
    """Start collecting callbacks for a backward; returns the enclosing backward's list."""
    outer = _queue.callbacks
    _queue.callbacks = []
    return outer


def close_queue(outer, run):
    """End this backward's queue: run its callbacks when ``run``, then restore ``outer``."""
    callbacks = _queue.callbacks
    try:
        if run:
            i = 0
            while i < len(callbacks):  # a callback may queue another
                callbacks[i]()
                i += 1
    finally:
        _queue.callbacks = outer
