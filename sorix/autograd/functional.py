"""``sorix.autograd.grad``: gradients of outputs with respect to chosen inputs."""
from ..kernels.backend import of
from .engine import run_backward, seed, unreached
from .node import Node


class ConstantGradNode(Node):
    """A ``create_graph`` gradient that came out constant (the derivative of relu, of a
    pooling, of a linear loss in its input) hangs from its input with a zero derivative,
    as PyTorch's graph does: differentiating it again gives zeros, not an error."""
    __slots__ = ()

    def backward(self, grad, F, saved):
        return (F.zeros_like(grad),)


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Return ``d(sum of outputs * grad_outputs) / d input`` for each input, as a tuple.

    ``.grad`` attributes are left untouched. An input the outputs do not
    depend on raises unless ``allow_unused=True``, which gives None for it.
    """
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    grad_outputs = _as_list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad_outputs has {len(grad_outputs)} entries for {len(outputs)} outputs")
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("an input to grad() does not require grad; set requires_grad=True")
    Tensor = type(outputs[0])
    seeds = []
    for out, g in zip(outputs, grad_outputs):
        if not out.requires_grad:
            raise RuntimeError("an output of grad() does not require grad and has no grad_fn")
        seeds.append(seed(out, g, create_graph, what="grad_outputs entry"))
    if not allow_unused:
        missing = unreached(outputs, inputs)
        if missing:
            raise RuntimeError(f"the input at index {missing[0]} is not used to compute the "
                               "outputs; pass allow_unused=True to get None for it")
    if retain_graph is None:
        retain_graph = create_graph
    found = run_backward(outputs, seeds, retain_graph, create_graph, targets=inputs)
    result = []
    for t, g in zip(inputs, found):
        if g is None:
            if not allow_unused:
                raise RuntimeError("one of the inputs is not used to compute the outputs; "
                                   "pass allow_unused=True to get None for it")
            result.append(None)
        elif create_graph:
            result.append(g if g.requires_grad else Tensor._wrap(g.data, ConstantGradNode((t,))))
        else:
            result.append(Tensor._wrap(g if g.dtype == t.data.dtype
                                        else of(g).astype(g, t.data.dtype)))
    return tuple(result)
