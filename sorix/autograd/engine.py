"""The backward engine.

It orders the graph with an explicit stack (a chain of 100,000 operations
backpropagates without recursion), runs each node once all the nodes that
feed it a gradient have run (or, for a chain of elementwise nodes, runs the
chain as one fused kernel: :mod:`sorix.autograd.fusion`), and reduces
broadcast gradients to their input's shape in one place (:func:`sum_to`).
Where gradients end up (leaves' ``.grad``, or the targets of
``autograd.grad``) and which arrays a leaf may keep are
:mod:`sorix.autograd.delivery`'s concern; callbacks queued for the end of a
backward are :mod:`sorix.autograd.hooks`'.
"""
import numpy as np

from .. import config
from ..errors import ShapeMismatchError
from ..kernels.backend import mixed_devices, of
from . import fusion, hooks
from .delivery import LAZY_GRADS, Accumulate, Capture, Ownership, accumulate_leaf, add, dense
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
    """How many graph edges lead into each node reachable from ``roots``.

    (The walk of :func:`edges`, written out: it runs before every backward, and for a
    small graph a generator's per-edge cost is most of it.)"""
    deps = {}
    stack = list(roots)
    # a node is expanded when its first edge is counted; a root reached from another root
    # is expanded as a root only
    roots = set(stack) if len(stack) > 1 else ()
    while stack:
        node = stack.pop()
        for tensor, need in zip(node.inputs, node.needs):
            if need:
                child = tensor.grad_fn
                if child is None:
                    continue
                if child in deps:
                    deps[child] += 1
                else:
                    deps[child] = 1
                    if child not in roots:
                        stack.append(child)
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


def accumulate_into(tensors, grads, create_graph):
    """``backward(inputs=...)``: add each gradient found (None: skipped) into its tensor's
    ``.grad``, run the tensors' post-accumulate hooks, then the callbacks they queued."""
    outer_callbacks = hooks.open_queue()
    completed = False
    try:
        for tensor, g in zip(tensors, grads):
            if g is not None:
                accumulate_leaf(tensor, g if create_graph else g.data, create_graph)
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
    sink = Accumulate(roots, create_graph) if targets is None else Capture(targets)
    owners = Ownership(root_grads)
    pending = {}  # node -> the gradient of its output gathered so far
    for root, grad in zip(roots, root_grads):
        node = root.grad_fn
        if node is None:
            sink.at_leaf(root, grad)
        else:
            pending[node] = grad if node not in pending else add(pending[node], grad)
    root_nodes = list(pending)
    deps = _dependencies(root_nodes)
    # (one root, the usual loss.backward(), has nothing feeding it: no filtering needed)
    ready = root_nodes if len(root_nodes) == 1 else [n for n in root_nodes if n not in deps]

    def pass_on(tensor, g, fresh, count=1):
        """``g`` (None: nothing) travels ``count`` edges to ``tensor``: into its node's
        pending gradient, or to the sink when it is a leaf."""
        child = tensor.grad_fn
        if child is None:
            if type(g) in LAZY_GRADS:  # (expanded into a new array: the leaf may keep it)
                g, fresh = g.dense(), True
            sink.at_leaf(tensor, g, fresh, count)
            return
        if g is not None:
            before = pending.get(child)
            pending[child] = g if before is None else add(before, g)
        left = deps[child] = deps[child] - count
        if left == 0:
            ready.append(child)

    fusion_from = config.FUSION_THRESHOLD  # (0 or less: fusion off)
    # (bound once: the loop below runs per node, and tiny graphs are mostly this loop)
    taken, hand_out, every_node = owners.taken, owners.hand_out, targets is not None
    node_hooks = hooks.node_hooks if hooks.node_hooks else None  # (register_hook)
    previous_mode = _state.enabled
    _state.enabled = bool(create_graph)
    try:
        while ready:
            node = ready.pop()
            grad = pending.pop(node, None)
            if grad is None:  # no gradient reached it: none leaves it either
                for tensor, need in zip(node.inputs, node.needs):
                    if need:
                        pass_on(tensor, None, False)
                continue
            if type(grad) in LAZY_GRADS:
                grad = grad.dense()
            taken(grad)
            if node_hooks is not None and node in node_hooks:
                # the made tensor's gradient hooks (register_hook), before retain_grad and
                # autograd.grad see it; the result may be the caller's: never kept as is
                grad = hooks.apply_grad_hooks(node_hooks[node][1], grad)
                owners[id(grad)] = 1
            if every_node or node._retained is not None:
                sink.at_node(node, grad)
            if not create_graph and type(grad) is _ndarray and 0 < fusion_from <= grad.size:
                members = fusion.region(node, grad, deps, pending, sink.kept_nodes)
                if members is not None:
                    for tensor, g, count in fusion.run(members, grad):
                        owners[id(g)] = 1
                        pass_on(tensor, g, True, count)
                    if not retain_graph:
                        for member, _ in members:
                            member.release()
                    continue
            input_grads = node.apply(grad, create_graph)
            if not retain_graph:
                node.release()
            # (a binary node's two gradients are different arrays unless it is add)
            if len(input_grads) > 1 and (input_grads[0] is input_grads[1]
                                         or len(input_grads) > 2):
                owners.expect_repeats(node.inputs, input_grads)
            for tensor, need, g in zip(node.inputs, node.needs, input_grads):
                if need:
                    if g is not None:
                        data = tensor.data
                        if g.shape != data.shape or g.dtype != data.dtype:
                            g = _conform(dense(g), data)
                    pass_on(tensor, g, g is not None and hand_out(g))
    finally:
        _state.enabled = previous_mode
    return sink.result()


def _conform(g, data):
    """``g`` in its input's shape (broadcasting summed away) and dtype (the op may have
    computed in a promoted one)."""
    if g.shape != data.shape:
        g = sum_to(g, data.shape)
    if g.dtype != data.dtype:
        g = _cast(g, data.dtype)
    return g
