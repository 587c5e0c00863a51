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

``register_hook(tensor, hook)`` (the Tensor method of that name) calls
``hook(grad)`` with the gradient of ``tensor`` once per backward pass, before
it is used: a computed tensor's before it goes into the node that made the
tensor (and before ``retain_grad`` keeps it), a leaf's (the sum of all its
contributions in the pass) before it is added into ``.grad`` or returned by
``autograd.grad``. A returned tensor replaces the gradient, for the next hook
too, as in PyTorch.

The engine pays for this only when a hook is registered: with none, one
truth test of :data:`registry` (and of the gradient hooks' tables) per backward.
"""
import itertools
import threading
import weakref

from ..kernels.backend import of
from .node import edges

#: id(leaf) -> (weak reference to the leaf, {handle id: hook}). Hooks are held
#: per live tensor: the entry goes when the tensor is collected.
registry = {}
_handle_ids = itertools.count()

#: Gradient hooks (:func:`register_hook`). A leaf's: id(leaf) -> (weak reference to the
#: leaf, {handle id: hook}), as in :data:`registry`. A computed tensor's gradient is the
#: output gradient of the node that made it, so its hooks are held by that node, for as
#: long as the graph lives (as PyTorch holds them on grad_fn): node -> (None, {...}).
leaf_hooks = {}
node_hooks = weakref.WeakKeyDictionary()
_tensor_type = None  # the Tensor class, to hand hooks tensors (this layer sits below it)


class RemovableHandle:
    """Returned by a hook registration; ``remove()`` unregisters the hook (idempotent)."""

    __slots__ = ("_key", "_id", "_table")

    def __init__(self, key, handle_id, table=None):
        self._key, self._id = key, handle_id
        self._table = registry if table is None else table

    def remove(self):
        key = self._key
        if isinstance(key, weakref.ref):  # a node (the handle does not keep the graph alive)
            key = key()
            if key is None:
                return
        table = self._table
        entry = table.get(key)
        if entry is None:
            return
        entry[1].pop(self._id, None)
        if not entry[1]:
            del table[key]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def _forget(key, ref, table=registry):
    entry = table.get(key)
    if entry is not None and entry[0] is ref:
        del table[key]


def _leaf_entry(table, tensor):
    """``tensor``'s entry in ``table`` (id(leaf) -> (weak reference, hooks)), made if new."""
    key = id(tensor)
    entry = table.get(key)
    if entry is None or entry[0]() is not tensor:
        ref = weakref.ref(tensor, lambda r, key=key: _forget(key, r, table))
        entry = table[key] = (ref, {})
    return key, entry


def register_hook(tensor, hook):
    """Call ``hook(grad)`` with ``tensor``'s gradient in each backward pass, before it is
    used; a tensor it returns replaces the gradient. Returns a removable handle."""
    global _tensor_type
    if not callable(hook):
        raise TypeError(f"hook must be callable, got {type(hook).__name__}")
    if not tensor.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    _tensor_type = type(tensor)
    node = tensor.grad_fn
    if node is None:
        key, entry = _leaf_entry(leaf_hooks, tensor)
        table = leaf_hooks
    else:
        entry = node_hooks.get(node)
        if entry is None:
            entry = node_hooks[node] = (None, {})
        key, table = weakref.ref(node), node_hooks
    handle_id = next(_handle_ids)
    entry[1][handle_id] = hook
    return RemovableHandle(key, handle_id, table)


def leaf_grad_hooks(leaf):
    """The gradient hooks of ``leaf`` ({handle id: hook}), or None."""
    entry = leaf_hooks.get(id(leaf))
    return entry[1] if entry is not None and entry[0]() is leaf else None


def apply_grad_hooks(hooks, grad):
    """``grad`` (an array, or a tensor under create_graph) after ``hooks``, in registration
    order. Each hook gets the gradient as a tensor and may return a tensor to replace it.
    First-order hooks get a copy, so that a hook changing it in place (as PyTorch allows)
    changes this gradient alone and never an array the graph shares (or a read-only
    broadcast view); the result is the caller's to keep, not a fresh array."""
    graph = hasattr(grad, "grad_fn")
    for hook in list(hooks.values()):
        given = grad if graph else _tensor_type._wrap(of(grad).copy(grad, grad.dtype))
        result = hook(given)
        if result is None:
            grad = given if graph else given.data
            continue
        name = getattr(hook, "__name__", type(hook).__name__)
        if not hasattr(result, "grad_fn"):
            raise TypeError(f"hook '{name}' returned a {type(result).__name__}; a gradient "
                            "hook returns a tensor or None")
        data, before = result.data, grad.data if graph else grad
        if tuple(data.shape) != tuple(before.shape):
            raise RuntimeError(f"hook '{name}' has changed the size of value (was "
                               f"{tuple(before.shape)}, got {tuple(data.shape)})")
        if data.dtype != before.dtype:
            raise RuntimeError(f"hook '{name}' has changed the type of value (was "
                               f"{before.dtype}, got {data.dtype})")
        if of(data) is not of(before):
            raise RuntimeError(f"hook '{name}' has changed the device of value")
        grad = result if graph else data
    return grad


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
    this pass, its post-accumulate hooks run. A leaf with gradient hooks
    has its contributions held and summed by ``gather`` until the last one
    arrived: its hooks see its whole gradient of the pass, once, as in PyTorch.
    """

    __slots__ = ("remaining",)

    def __init__(self, root_leaves, root_nodes):
        remaining = {}
        for leaf in root_leaves:
            _count(remaining, leaf)
        for tensor, child in edges(root_nodes):
            if child is None:
                _count(remaining, tensor)
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

    def gather(self, leaf, grad, fresh, edges, add):
        """``(gradient to deliver now, held)`` for ``grad`` (None: nothing) reaching ``leaf``
        along ``edges`` edges, before :meth:`arrived` counts them. A leaf with gradient hooks
        gets None (held: True) until its last edge, then the sum through its hooks (held;
        not fresh: a hook's result may be the caller's); any other leaf its ``grad``."""
        entry = self.remaining.get(id(leaf))
        if entry is None or entry[2] is None:
            return grad, False
        if grad is not None:
            if entry[3] is not None:
                entry[3] = add(entry[3], grad)
            else:  # (an array another leaf may keep and add into later: copied unless fresh)
                entry[3] = grad if fresh or hasattr(grad, "grad_fn") else of(grad).copy(
                    grad, grad.dtype)
        if entry[0] > edges:
            return None, True
        total, entry[3] = entry[3], None
        return (None if total is None else apply_grad_hooks(entry[2], total)), True


def _count(remaining, leaf):
    key = id(leaf)
    if key not in registry and key not in leaf_hooks:
        return
    entry = remaining.get(key)
    if entry is None:
        # [edges left, received a gradient, gradient hooks or None, held sum or None]
        remaining[key] = [1, False, leaf_grad_hooks(leaf), None]
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
