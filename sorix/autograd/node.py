"""Node: one recorded operation in the graph.

A node holds the tensors it was applied to (``inputs``), which of them
need a gradient, and whatever its backward rule saved. ``apply`` turns the
gradient of the node's output into gradients for its inputs: NumPy arrays
normally, tensors (a differentiable graph) under ``create_graph=True``.
"""


class Node:
    __slots__ = ("inputs", "needs", "saved", "_versions", "_freed", "_released", "_retained",
                 "__weakref__")

    def __init__(self, inputs, saved=None, watch=()):
        self.inputs = inputs
        self.needs = tuple([t is not None and t._requires_grad for t in inputs])
        self.saved = saved
        # Tensors whose values backward reads: their versions now, to
        # detect an in-place change before backward runs.
        self._versions = tuple([(t, t._version[0]) for t in watch]) if watch else ()
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
            return self.backward_graph(grad)
        return self.backward(grad)

    def release(self):
        """Drop what backward needed; a later apply raises instead of guessing."""
        self._released = True
        if self.saved is not None or self._versions:
            self.saved = None
            self._versions = ()
            self._freed = True

    # Subclasses implement these. ``backward`` gets and returns NumPy arrays;
    # ``backward_graph`` gets and returns tensors and must use differentiable
    # tensor operations. Both return one gradient (or None) per input.
    def backward(self, grad):
        raise NotImplementedError

    def backward_graph(self, grad):
        raise NotImplementedError(f"{self.name} has no higher-order gradient")


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
