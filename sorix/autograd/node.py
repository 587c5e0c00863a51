"""Node: one recorded operation in the graph.

A node holds the tensors it was applied to (``inputs``), which of them
need a gradient, and whatever its backward rule saved. ``apply`` turns the
gradient of the node's output into gradients for its inputs.

Each node writes its rule once, as ``backward(grad, F, saved)`` against a
namespace ``F`` of array functions (``F.binary``, ``F.sum``, ``F.reshape`` ...):

- a first-order backward passes the gradient's array backend
  (:func:`sorix.kernels.backend.of`) and the arrays the forward saved;
- ``create_graph=True`` passes the backend's tensor twin
  (:mod:`sorix.ops.twin`: the same names, made of differentiable ops) and the
  saved values as tensors of the graph (:meth:`Node.graph_saved`), so the
  same rule builds a graph that can be differentiated again.

A node whose backward is one hand-written CPU kernel (the fused losses, batch
and layer normalisation) runs it when ``F`` is the CPU backend and the same
gradient as tensor ops otherwise: there the formula is the specification,
and the tests check the kernel against it through PyTorch, first and second
order.
"""
import numpy as np

from ..kernels import cpu as _cpu
from ..kernels.backend import of

_ndarray = np.ndarray


class Node:
    __slots__ = ("inputs", "needs", "saved", "_versions", "_freed", "_released", "_retained",
                 "__weakref__")

    def __init__(self, inputs, saved=None, watch=()):
        # (two operands written out: a node is made per op, and on small tensors the
        # comprehension's own call costs as much as the rest of this method)
        self.inputs = inputs
        if len(inputs) == 2:
            a, b = inputs
            self.needs = (a is not None and a._requires_grad, b is not None and b._requires_grad)
        else:
            self.needs = tuple([t is not None and t._requires_grad for t in inputs])
        self.saved = saved
        # Tensors whose values backward reads: their versions now, to
        # detect an in-place change before backward runs.
        if not watch:
            self._versions = ()
        elif len(watch) == 2:
            a, b = watch
            self._versions = ((a, a._version[0]), (b, b._version[0]))
        elif len(watch) == 1:  # (an index tensor, a where condition, a unary op's input)
            a, = watch
            self._versions = ((a, a._version[0]),)
        else:
            self._versions = tuple([(t, t._version[0]) for t in watch])
        self._freed = False
        self._released = False  # a backward without retain_graph went through it
        self._retained = None

    @property
    def name(self):
        return type(self).__name__.replace("Node", "Backward")

    def __repr__(self):
        return f"<{self.name}>"

    @property
    def next_functions(self):
        return tuple((t.grad_fn if t is not None else None, 0) for t in self.inputs)

    def apply(self, grad, create_graph):
        if self._freed:
            raise RuntimeError(
                f"backward through a freed graph ({self.name}): its saved values were released "
                "by an earlier backward. Pass retain_graph=True to the first backward() "
                "to backpropagate through the graph more than once.")
        for tensor, version in self._versions:
            if tensor._version[0] != version:
                raise RuntimeError(
                    f"a tensor of shape {tuple(tensor.shape)} saved by {self.name} for backward was "
                    f"modified by an in-place operation (version {tensor._version[0]}, expected "
                    f"{version}). Use an out-of-place operation or clone() the tensor before "
                    "changing it.")
        if create_graph:
            return self.backward(grad, twin, self.graph_saved())
        return self.backward(grad, _cpu if type(grad) is _ndarray else of(grad), self.saved)

    def watch_output(self, tensor):
        """Guard ``tensor``, this node's output, which its backward reads: an in-place change
        to it (through ``no_grad``, ``detach()`` or a view) makes backward raise. Returns it."""
        self._versions = self._versions + ((_WatchedOutput(tensor), tensor._version[0]),)
        return tensor

    def release(self):
        """Drop what backward needed; a later apply raises instead of guessing."""
        self._released = True
        if self.saved is not None or self._versions:
            self.saved = None
            self._versions = ()
            self._freed = True

    # Subclasses implement ``backward(grad, F, saved)``: one gradient (or None) per
    # input, computed with F's functions only, so that it holds for arrays and tensors.
    def backward(self, grad, F, saved):
        raise NotImplementedError

    def graph_saved(self):
        """What ``saved`` holds, as tensors of the graph (for ``create_graph=True``).
        Most nodes save their inputs' arrays, so the inputs themselves by default;
        a node that saves outputs or statistics recomputes them from its inputs."""
        return self.inputs


class _WatchedOutput:
    """A node's output as its version guard sees it: the version counter (shared with the
    output's views and detached copies) and the shape, but not the tensor, which holds the
    node (no reference cycle keeps a large output alive)."""
    __slots__ = ("_version", "shape")

    def __init__(self, tensor):
        self._version = tensor._version
        self.shape = tensor.data.shape  # (the array's: a tuple already, and quicker to read)


#: The tensor twin of the array backends (:mod:`sorix.ops.twin` sets it on import:
#: the graph layer sits below the ops, which the twin is made of).
twin = None


def edges(nodes):
    """Each edge (input tensor, the node that made it or None for a leaf) that carries a
    gradient in the graph below ``nodes``, visiting every node once."""
    stack = list(nodes)
    seen = set(stack)
    while stack:
        node = stack.pop()
        for tensor, need in zip(node.inputs, node.needs):
            if need:
                child = tensor.grad_fn
                yield tensor, child
                if child is not None and child not in seen:
                    seen.add(child)
                    stack.append(child)
