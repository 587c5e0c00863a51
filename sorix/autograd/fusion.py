"""Fusing the backward pass of connected elementwise nodes.

When the engine reaches an elementwise node with a large gradient, it
grows a region from it towards the inputs: an elementwise node joins when
every edge that brings it a gradient comes from inside the region, so its
gradient is complete once the region's loop has computed it. The region's
intermediate gradients then never reach memory: one generated loop
(:mod:`sorix.kernels.fused`) reads the values the nodes saved and writes
only the gradients of the tensors that feed the region.

A node offers itself through ``fusion()``, which returns its derivative
definitions, the arrays they read and its parameters, or None. A node
joins only where the result is exactly what its own backward would give:
first-order backward, CPU arrays of one float dtype and the region's
shape (a size-1 operand that needs no gradient is allowed), not freed, not
changed in place since it was saved, and no retained gradient or
``autograd.grad`` input in the middle. The loop evaluates the same
derivative definitions; only a gradient with three or more contributions
may be summed in another order (a difference of an ulp or so).
"""
import numpy as np

from .. import config
from ..kernels import fused
from . import hooks

_ndarray = np.ndarray


def _spec(node, shape, dtype):
    """The node's fusion description if it may join a region of ``shape`` and ``dtype``."""
    offer = getattr(node, "fusion", None)
    if offer is None or node._freed or node._retained is not None:
        return None
    if hooks.node_hooks and node in hooks.node_hooks:
        return None  # its tensor's gradient hooks must see (and may replace) its gradient
    for tensor, version in node._versions:
        if tensor._version[0] != version:
            return None  # its own backward raises the error
    spec = offer()
    if spec is None:
        return None
    derivatives, values, params = spec
    for array in values:
        if array is None:
            continue
        if type(array) is not _ndarray or array.dtype != dtype or \
                (array.shape != shape and array.size != 1):
            return None
    for tensor, need in zip(node.inputs, node.needs):
        if need:
            data = tensor.data
            if type(data) is not _ndarray or data.shape != shape or data.dtype != dtype:
                return None
    return spec


def _key(tensor):
    return tensor.grad_fn if tensor.grad_fn is not None else id(tensor)


def region(root, grad, deps, pending, excluded):
    """The nodes of the region grown from ``root`` with their descriptions, in an order
    where every node follows all its consumers; None when no region of two or more
    nodes is worth a generated loop.

    ``grad`` is root's output gradient, a NumPy array of at least
    ``config.FUSION_THRESHOLD`` elements; ``deps`` counts the edges into each node.
    A node never joins when part of its gradient comes from elsewhere: from a
    consumer that ran before the region (or a second output), held in ``pending``;
    nor when it is in ``excluded`` (autograd.grad inputs, whose gradient must exist
    as an array)."""
    shape, dtype = grad.shape, grad.dtype
    if dtype.char not in "fd":  # the kernels' dtypes: float32 and float64
        return None
    spec = _spec(root, shape, dtype)
    if spec is None:
        return None
    members = [(root, spec)]
    edges = {}  # node outside the region -> edges from the region into it
    stack = [root]
    while stack and len(members) < config.FUSION_MAX_NODES:
        node = stack.pop()
        for tensor, need in zip(node.inputs, node.needs):
            child = tensor.grad_fn
            if not need or child is None:
                continue
            edges[child] = count = edges.get(child, 0) + 1
            # Complete: every consumer of the child is in the region already.
            if count == deps.get(child) and child not in excluded and child not in pending \
                    and len(members) < config.FUSION_MAX_NODES:
                spec = _spec(child, shape, dtype)
                if spec is not None:
                    members.append((child, spec))
                    stack.append(child)
    return members if len(members) > 1 else None


def run(members, grad):
    """Run the region's loop. Returns ``(tensor, gradient, edges)`` for each tensor that
    feeds the region and needs a gradient; ``edges`` counts its uses in the region."""
    variables = {}  # node or leaf key -> gradient variable
    arrays, slots = [], {}
    params = []
    outside = []  # tensors feeding the region, in variable order
    edges = {}  # tensor feeding the region -> its uses in the region
    root = members[0][0]
    variables[root] = 0
    inside = {node for node, _ in members}
    steps = []

    def slot(array):
        if array is None:
            return None
        if id(array) not in slots:
            slots[id(array)] = len(arrays)
            arrays.append(array)
        return slots[id(array)]

    for node, (derivatives, values, node_params) in members:
        targets = []
        for tensor, need in zip(node.inputs, node.needs):
            if not need:
                targets.append(None)
                continue
            key = _key(tensor)
            if key not in variables:
                variables[key] = len(variables)
                if tensor.grad_fn not in inside:
                    outside.append((key, tensor))
            if tensor.grad_fn not in inside:
                edges[key] = edges.get(key, 0) + 1
            targets.append(variables[key])
        first = len(params)
        params.extend(node_params)
        steps.append(fused.Step(tuple(derivatives), tuple(slot(a) for a in values),
                                tuple(range(first, len(params))), variables[node],
                                tuple(targets)))
    program = fused.Program(tuple(steps), tuple(variables[key] for key, _ in outside))
    grads = fused.run(program, arrays, params, grad)
    return [(tensor, g, edges[key]) for (key, tensor), g in zip(outside, grads)]
