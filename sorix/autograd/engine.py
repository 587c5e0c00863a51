"""The backward engine.

It orders the graph with an explicit stack (a chain of 100,000 operations
backpropagates without recursion), runs each node once all the nodes that
feed it a gradient have run, reduces broadcast gradients to their input's
shape in one place (:func:`sum_to`), and accumulates into leaves. Leaves with
post-accumulate hooks and callbacks queued for the end of a backward are
served through :mod:`sorix.autograd.hooks`.
"""
import numpy as np

from .. import config
from ..errors import ShapeMismatchError
from ..kernels.backend import mixed_devices, of
from . import fusion, hooks
from .grad_mode import _state
from .node import edges

_ndarray = np.ndarray


def _is_tensor(g):
    return hasattr(g, "grad_fn")  # (the engine does not import Tensor: it sits below it)


def sum_to(grad, shape):
    """Sum ``grad`` (an array or a tensor) over the axes broadcasting added to ``shape``."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if _is_tensor(grad):
        if axes:
            grad = grad.sum(axis=axes, keepdims=True)
        return grad if grad.shape == shape else grad.reshape(shape)
    B = of(grad)
    if axes:
        grad = B.sum(grad, axes, True)
    return grad if grad.shape == shape else B.reshape(grad, shape)


def _add(a, b):
    """a + b for two gradients: arrays of one device, or tensors (create_graph)."""
    if isinstance(a, _ndarray) or _is_tensor(a):
        return a + b
    return of(a).binary("add", a, b)


def _cast(g, dtype):
    if isinstance(g, _ndarray) or _is_tensor(g):
        return g.astype(dtype)
    return of(g).astype(g, dtype)


def seed(output, gradient, create_graph, what="gradient"):
    """The gradient backward starts from at ``output``: ones for a one-element output when
    ``gradient`` is None, else ``gradient`` checked against the output's shape and device
    (a tensor when ``create_graph``, else an array of the output's dtype)."""
    data = output.data
    B = of(data)
    if gradient is None:
        if data.size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        g = B.full(data.shape, 1, data.dtype)
        return type(output)._wrap(g) if create_graph else g
    is_tensor = _is_tensor(gradient)
    given = gradient.data if is_tensor else gradient
    if is_tensor or hasattr(given, "__cuda_array_interface__") \
            or getattr(given, "__cuda_ndarray__", False):
        found = of(given)
        if found is not B:
            raise mixed_devices(B.DEVICE, found.DEVICE)
    else:
        given = B.to_device(np.asarray(given, dtype=data.dtype))
    if tuple(given.shape) != tuple(data.shape):
        raise ShapeMismatchError(f"{what} has shape {tuple(given.shape)} but the output has "
                                 f"shape {tuple(data.shape)}; they must match")
    if create_graph:
        return gradient if is_tensor else type(output)._wrap(given)
    return given if given.dtype == data.dtype else B.astype(given, data.dtype)


def _dependencies(roots):
    """How many graph edges lead into each node reachable from ``roots``."""
    deps = {}
    for _, child in edges(roots):
        if child is not None:
            deps[child] = deps.get(child, 0) + 1
    return deps


def unreached(roots, tensors):
    """The indices of ``tensors`` that no gradient from ``roots`` can reach: checked before
    a backward runs, so that asking for one of them fails with the graph still intact."""
    nodes = [r.grad_fn for r in roots if r.grad_fn is not None]
    reached = set(nodes)
    leaves = {id(r) for r in roots if r.grad_fn is None}
    for tensor, child in edges(nodes):
        if child is None:
            leaves.add(id(tensor))
        else:
            reached.add(child)
    return [i for i, t in enumerate(tensors)
            if (t.grad_fn not in reached if t.grad_fn is not None else id(t) not in leaves)]


def _accumulate_leaf(leaf, grad, create_graph, fresh=False):
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
    B = of(grad)
    current = leaf._grad
    if current is None:
        if not (fresh and grad.dtype == leaf.data.dtype and B.owns_memory(grad)):
            grad = B.copy(grad, leaf.data.dtype)
        leaf._grad = type(leaf)._wrap(grad)
    elif current.requires_grad:
        leaf._grad = type(leaf)._wrap(B.binary("add", current.data, grad))
    else:
        B.inplace("add", current.data, grad)
        current._version[0] += 1


def accumulate_into(tensors, grads, create_graph):
    """``backward(inputs=...)``: add each gradient found (None: skipped) into its tensor's
    ``.grad``, run the tensors' post-accumulate hooks, then the callbacks they queued."""
    outer_callbacks = hooks.open_queue()
    completed = False
    try:
        for tensor, g in zip(tensors, grads):
            if g is not None:
                _accumulate_leaf(tensor, g if create_graph else g.data, create_graph)
                if hooks.registry:
                    hooks.run_post_accumulate_hooks(tensor)
        completed = True
    finally:
        hooks.close_queue(outer_callbacks, completed)


def run_backward(roots, root_grads, retain_graph, create_graph, targets=None):
    """Backpropagate ``root_grads`` from ``roots``.

    With ``targets`` (a list of tensors), gradients are returned for them
    instead of accumulated into ``.grad``. Callbacks queued during the pass
    (:func:`sorix.autograd.hooks.queue_callback`) run once it completes.
    """
    outer_callbacks = hooks.open_queue()
    completed = False
    try:
        captured = _backpropagate(roots, root_grads, retain_graph, create_graph, targets)
        completed = True
    finally:
        hooks.close_queue(outer_callbacks, completed)
    return captured


def _backpropagate(roots, root_grads, retain_graph, create_graph, targets):
    captured = None
    target_nodes = {}
    if targets is not None:
        captured = [None] * len(targets)
        leaf_slots = {}
        for i, t in enumerate(targets):
            if t.grad_fn is None:
                leaf_slots.setdefault(id(t), []).append(i)
            else:
                target_nodes.setdefault(t.grad_fn, []).append(i)

    # How often each gradient array was handed out in this backward: only
    # an array handed out once may become a leaf's .grad without a copy.
    # (A reused id only ever causes an unneeded copy.)
    # Root gradients may be the caller's arrays: counted as handed out twice.
    handed = {}
    for g in root_grads:
        handed[id(g)] = 2

    hooked = None  # the leaves with post-accumulate hooks, when there are any

    def deliver_leaf(leaf, grad, fresh=False, edges=1):
        if captured is None:
            _accumulate_leaf(leaf, grad, create_graph, fresh)
            if hooked is not None:
                hooked.arrived(leaf, edges)
            return
        for i in leaf_slots.get(id(leaf), ()):
            captured[i] = grad if captured[i] is None else _add(captured[i], grad)

    root_nodes = []
    pending = {}
    if hooks.registry and captured is None:
        hooked = hooks.HookedLeaves([r for r in roots if r.grad_fn is None],
                                    {r.grad_fn for r in roots if r.grad_fn is not None})
    for root, grad in zip(roots, root_grads):
        node = root.grad_fn
        if node is None:
            deliver_leaf(root, grad)
        elif node in pending:
            pending[node] = _add(pending[node], grad)
        else:
            pending[node] = grad
            root_nodes.append(node)

    deps = _dependencies(root_nodes)
    # (one root, the usual loss.backward(), has nothing feeding it: no filtering needed)
    ready = root_nodes if len(root_nodes) == 1 else [n for n in root_nodes if n not in deps]
    previous_mode = _state.enabled
    _state.enabled = bool(create_graph)
    try:
        while ready:
            node = ready.pop()
            grad = pending.pop(node, None)
            if grad is not None:
                handed[id(grad)] = handed.get(id(grad), 1) - 1  # no longer held as pending
                for i in target_nodes.get(node, ()):
                    captured[i] = grad
                if node._retained is not None and captured is None:
                    _retain(node, grad, create_graph)
                members = None
                threshold = config.FUSION_THRESHOLD  # (0 or less: fusion off)
                if not create_graph and type(grad) is _ndarray and 0 < threshold <= grad.size:
                    members = fusion.region(node, grad, deps, pending, target_nodes)
                if members is not None:
                    _run_region(members, grad, retain_graph, pending, deps, ready, handed,
                                deliver_leaf)
                    continue
                input_grads = node.apply(grad, create_graph)
                if not retain_graph:
                    node.release()
            else:
                input_grads = (None,) * len(node.inputs)
            # (the test keeps the call off the common path: a binary node's two
            # gradients are different arrays unless it is add)
            if len(input_grads) > 1 and (input_grads[0] is input_grads[1]
                                         or len(input_grads) > 2):
                _count_repeats(node.inputs, input_grads, handed)
            for tensor, need, g in zip(node.inputs, node.needs, input_grads):
                if not need:
                    continue
                if g is not None:
                    data = tensor.data
                    if g.shape != data.shape:
                        g = sum_to(g, data.shape)
                    if g.dtype != data.dtype:  # the op computed in a promoted dtype
                        g = _cast(g, data.dtype)
                    key = id(g)
                    count = handed[key] = handed.get(key, 0) + 1
                child = tensor.grad_fn
                if child is None:
                    if g is not None:
                        deliver_leaf(tensor, g, count == 1)
                    elif hooked is not None:
                        hooked.arrived(tensor, 1, received=False)
                    continue
                if g is not None:
                    before = pending.get(child)
                    pending[child] = g if before is None else _add(before, g)
                deps[child] -= 1
                if deps[child] == 0:
                    ready.append(child)
    finally:
        _state.enabled = previous_mode
    return captured


def _count_repeats(inputs, grads, handed):
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
                handed[id(g)] = handed.get(id(g), 0) + 1
                return


def _run_region(members, grad, retain_graph, pending, deps, ready, handed, deliver_leaf):
    """Backpropagate through a fused region (see :mod:`sorix.autograd.fusion`) and hand
    its gradients on as the loop over single nodes would."""
    for tensor, g, edges in fusion.run(members, grad):
        handed[id(g)] = 1
        child = tensor.grad_fn
        if child is None:
            deliver_leaf(tensor, g, True, edges)
            continue
        before = pending.get(child)
        pending[child] = g if before is None else _add(before, g)
        deps[child] -= edges
        if deps[child] == 0:
            ready.append(child)
    if not retain_graph:
        for node, _ in members:
            node.release()


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
        tensor.grad = type(tensor)._wrap(_add(tensor.grad.data, grad.data))
