"""``sorix.autograd.grad``: gradients of outputs with respect to chosen inputs."""
import numpy as np

from .engine import run_backward


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
        if g is None:
            if out.data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = np.ones(out.data.shape, out.data.dtype)
        else:
            g = g.data if isinstance(g, Tensor) else np.asarray(g, dtype=out.data.dtype)
            if g.shape != out.data.shape:
                raise RuntimeError(f"grad_outputs entry has shape {tuple(g.shape)} but its output "
                                   f"has shape {tuple(out.data.shape)}")
        seeds.append(Tensor._wrap(g) if create_graph else g)
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
            result.append(g)
        else:
            result.append(Tensor._wrap(np.asarray(g, dtype=t.data.dtype)))
    return tuple(result)
