"""Where the backward pass's gradients go, and which arrays a leaf may keep.

The engine walks the graph; these decide what happens at its ends:

- :class:`Accumulate` (``backward()``): each leaf's gradient is added into
  its ``.grad``, post-accumulate hooks run once a leaf's last contribution
  arrived, and tensors that called ``retain_grad()`` keep theirs;
- :class:`Capture` (``autograd.grad()``): the gradients reaching the target
  tensors are collected and returned; nothing is accumulated;
- :class:`Ownership`: how often each gradient array was handed out. A leaf
  may keep an array as its ``.grad`` without a copy only when the array was
  made during this backward and handed out once.
"""
import numpy as np

from ..kernels import cpu as _cpu
from ..kernels.backend import of
from . import hooks

_ndarray = np.ndarray


def _is_tensor(g):
    return hasattr(g, "grad_fn")  # (this layer does not import Tensor: it sits below it)


class IndexedGrad:
    """A NumPy gradient that is zero but for ``values`` at ``index``: what an indexing
    node's backward gives. Kept so while it waits among the pending gradients, the slices
    of one tensor taken one at a time (a loop over time steps, unbind, chunk) sum into one
    buffer at the cost of their own elements; expanding each to the whole tensor first
    made such a loop quadratic in its length."""
    __slots__ = ("shape", "index", "values")

    def __init__(self, shape, index, values):
        self.shape, self.index, self.values = shape, index, values

    @property
    def dtype(self):
        return self.values.dtype

    def dense(self):
        return _cpu.scatter_add(self.shape, self.index, self.values)


class _OwnedSum:
    """A dense NumPy gradient sum that only this backward holds: later terms are added
    into it in place."""
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def dense(self):
        return self.array


LAZY_GRADS = (IndexedGrad, _OwnedSum)


def dense(g):
    """``g`` as an array (an :class:`IndexedGrad` or a pending sum expanded: a new array)."""
    return g.dense() if type(g) in LAZY_GRADS else g


def add(a, b):
    """a + b for two gradients: arrays of one device, or tensors (create_graph)."""
    if type(a) in LAZY_GRADS or type(b) in LAZY_GRADS:
        return _add_in_place(a, b)
    if isinstance(a, _ndarray) or _is_tensor(a):
        return a + b
    return of(a).binary("add", a, b)


def _add_in_place(a, b):
    if type(a) is not _OwnedSum:
        if type(b) is _OwnedSum:
            a, b = b, a
        else:  # start a sum of our own: a dense ``a`` may be shared, so it is copied
            a = _OwnedSum(a.dense() if type(a) is IndexedGrad else a.copy())
    if type(b) is IndexedGrad:
        _cpu.add_at(a.array, b.index, b.values)
    else:
        np.add(a.array, dense(b), out=a.array)
    return a


def accumulate_leaf(leaf, grad, create_graph, fresh=False):
    """Add ``grad`` into ``leaf.grad``.

    ``fresh`` says the array was made during this backward and handed out
    once, so the leaf may keep it. Anything else is copied: the same array
    can reach several leaves (the two inputs of an add), be a read-only
    broadcast view, or belong to the caller.
    """
    if create_graph:
        if grad.dtype != leaf.dtype:
            grad = grad.to(leaf.dtype)
        leaf._grad = grad if leaf._grad is None else leaf._grad + grad
        return
    current = leaf._grad
    if current is not None and not current._requires_grad:  # the usual case first
        of(grad).inplace("add", current.data, grad)
        current._version[0] += 1
        return
    B = of(grad)
    if current is None:
        if not (fresh and grad.dtype == leaf.data.dtype and B.owns_memory(grad)):
            grad = B.copy(grad, leaf.data.dtype)
        leaf._grad = type(leaf)._wrap(grad)
    else:  # a gradient built with create_graph=True: replaced, not changed in place
        leaf._grad = type(leaf)._wrap(B.binary("add", current.data, grad))


class Accumulate:
    """``backward()``: gradients go into leaves' ``.grad``."""
    __slots__ = ("create_graph", "hooked")
    #: nodes whose own gradient must exist as an array (none here: see Capture)
    kept_nodes = frozenset()

    def __init__(self, roots, create_graph):
        self.create_graph = create_graph
        # the leaves with post-accumulate or gradient hooks, when any such hook is registered
        self.hooked = hooks.HookedLeaves(
            [r for r in roots if r.grad_fn is None],
            {r.grad_fn for r in roots if r.grad_fn is not None}) \
            if hooks.registry or hooks.leaf_hooks else None

    def result(self):
        return None

    def at_node(self, node, grad):
        """``grad`` reached ``node``, which made a tensor that retains its grad (the engine
        calls this only for those): that tensor keeps a copy."""
        _retain(node, grad, self.create_graph)

    def at_leaf(self, leaf, grad, fresh=False, edges=1):
        """``grad`` (None: nothing) reached ``leaf`` along ``edges`` edges."""
        hooked = self.hooked
        if hooked is not None:  # (a leaf with gradient hooks: its summed gradient, at the end)
            grad, held = hooked.gather(leaf, grad, fresh, edges, add)
            fresh = fresh and not held
        if grad is not None:
            accumulate_leaf(leaf, grad, self.create_graph, fresh)
        if hooked is not None:
            hooked.arrived(leaf, edges, received=grad is not None)


class Capture:
    """``autograd.grad()``: the gradients reaching ``targets`` are kept and returned."""
    __slots__ = ("captured", "leaf_slots", "node_slots")

    def __init__(self, targets):
        self.captured = [None] * len(targets)
        self.leaf_slots = {}  # id(leaf target) -> its positions in targets
        self.node_slots = {}  # the node that made a target -> its positions
        for i, t in enumerate(targets):
            if t.grad_fn is None:
                self.leaf_slots.setdefault(id(t), []).append(i)
            else:
                self.node_slots.setdefault(t.grad_fn, []).append(i)

    @property
    def kept_nodes(self):
        """The nodes that made targets: their gradient must exist as an array (never
        folded into a fused region)."""
        return self.node_slots

    def result(self):
        if hooks.leaf_hooks:  # a leaf target's gradient hooks see its whole gradient, once
            for key, slots in self.leaf_slots.items():
                entry = hooks.leaf_hooks.get(key)
                grad = self.captured[slots[0]]
                if entry is not None and grad is not None:
                    grad = hooks.apply_grad_hooks(entry[1], grad)
                    for i in slots:
                        self.captured[i] = grad
        return self.captured

    def at_node(self, node, grad):
        """``grad`` reached ``node`` (called for every node): kept when it made a target."""
        for i in self.node_slots.get(node, ()):
            self.captured[i] = grad

    def at_leaf(self, leaf, grad, fresh=False, edges=1):
        if grad is None:
            return
        captured = self.captured
        for i in self.leaf_slots.get(id(leaf), ()):
            captured[i] = grad if captured[i] is None else add(captured[i], grad)


class Ownership(dict):
    """id(gradient array) -> how often it was handed out in this backward.

    (A reused id only ever causes an unneeded copy.) Root gradients may be the
    caller's arrays: counted as handed out twice, so no leaf keeps them.
    """
    __slots__ = ()

    def __init__(self, root_grads):
        for g in root_grads:  # (a plain loop: a generator costs more than the backward of
            self[id(g)] = 2   # a small graph's node)

    def taken(self, grad):
        """A node took ``grad`` from the pending gradients: it is held once less."""
        key = id(grad)
        self[key] = self.get(key, 1) - 1

    def hand_out(self, grad):
        """Count one more holder of ``grad``; True when it is the only one (a leaf may keep it)."""
        key = id(grad)
        count = self[key] = self.get(key, 0) + 1
        return count == 1

    def expect_repeats(self, inputs, grads):
        """Count in advance an array that one node hands to several inputs (add gives
        ``(g, g)``) when one of them is not a leaf: that receiver holds it as its pending
        gradient, so a leaf served first must not keep it as its ``.grad`` (a later
        in-place accumulation into the leaf would change the pending gradient too).
        Leaves alone may share it: the second one sees the array counted twice and copies."""
        for k, g in enumerate(grads):
            if g is None:
                continue
            for m in range(k + 1, len(grads)):
                if grads[m] is g and (inputs[k].grad_fn is not None
                                      or inputs[m].grad_fn is not None):
                    self[id(g)] = self.get(id(g), 0) + 1
                    return


def _retain(node, grad, create_graph):
    tensor = node._retained()
    if tensor is None:
        return
    if not create_graph:
        grad = type(tensor)._wrap(of(grad).copy(grad, tensor.data.dtype))
    if tensor.grad is None:
        tensor.grad = grad
    elif create_graph:
        tensor.grad = tensor.grad + grad
    else:
        tensor.grad = type(tensor)._wrap(add(tensor.grad.data, grad.data))
