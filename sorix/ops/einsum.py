"""einsum: Einstein summation over any number of operands, as ``torch.einsum``.

The equation is parsed into one label list per operand (the dimensions an ellipsis
covers get labels of their own, aligned from the right so that they broadcast). Each
operand is then reduced on its own: repeated labels become a diagonal (an indexing),
a size-1 dimension that meets a larger one elsewhere is dropped (broadcasting: the
operand is constant along it), and a label no other operand and not the output
needs is summed away. The operands are then contracted two at a time, the pair with
the smallest result first, each pair as one batched ``matmul`` of permuted and
reshaped operands (never an elementwise product of the whole outer product). Only
differentiable ops are used, so gradients of every order and CUDA tensors come
from them; nothing here has a backward rule.
"""
import numpy as np

from . import core
from . import reduce as _red
from . import shape as _shape

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ELLIPSIS_BASE = 1000  # the labels of ellipsis dimensions: 1000 + position


def _error(message, fix=""):
    return RuntimeError(f"einsum(): {message}" + (f"; {fix}" if fix else ""))


def _tokens(term, who):
    """The labels of a term: letters as indices into _LETTERS, an ellipsis as None
    (expanded once the ellipsis width of every operand is known)."""
    labels, pos = [], 0
    while pos < len(term):
        ch = term[pos]
        if ch == ".":
            if term[pos:pos + 3] != "...":
                raise _error(f"found '.' for {who} that is not part of an ellipsis",
                             "write the ellipsis as three dots '...'")
            if None in labels:
                raise _error(f"{who} has more than one ellipsis", "use one '...' per term")
            labels.append(None)
            pos += 3
            continue
        if ch not in _LETTERS:
            raise _error(f"invalid subscript {ch!r} for {who}",
                         "subscripts must be letters a-z or A-Z")
        labels.append(_LETTERS.index(ch))
        pos += 1
    return labels


def _parse_term(term, ndim, i):
    """The labels of operand ``i`` (of ``ndim`` dimensions), the ellipsis as None."""
    labels = _tokens(term, f"operand {i}")
    letters = len(labels) - (None in labels)
    if None not in labels and letters != ndim:
        raise _error(f"the term {term!r} has {letters} subscripts but operand {i} has {ndim} "
                     "dimensions", "give one subscript per dimension, or use '...'")
    if None in labels and letters > ndim:
        raise _error(f"the term {term!r} has {letters} subscripts but operand {i} has only "
                     f"{ndim} dimensions", "remove subscripts")
    return labels


def _expand(labels, ndim, width):
    """Labels with the ellipsis replaced by labels for its ``ndim - letters`` dimensions,
    the last of which is aligned with the last of the ``width`` widest ellipsis."""
    if None not in labels:
        return labels
    k = ndim - (len(labels) - 1)
    at = labels.index(None)
    dots = [_ELLIPSIS_BASE + width - k + j for j in range(k)]
    return labels[:at] + dots + labels[at + 1:]


def parse(equation, shapes):
    """(input label lists, output labels, {label: size}) for ``equation`` and the operand
    shapes, with every check torch makes."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): the equation must be a string, got {type(equation).__name__}")
    eq = "".join(equation.split())  # spaces are allowed anywhere
    lhs, arrow, rhs = eq.partition("->")
    if arrow and "->" in rhs:
        raise _error("the equation has more than one '->'", "write one output after one '->'")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        few = "fewer" if len(shapes) < len(terms) else "more"
        raise _error(f"{few} operands ({len(shapes)}) were given than the equation has terms "
                     f"({len(terms)})", "give one operand per comma-separated term")
    parsed = [_parse_term(t, len(s), i) for i, (t, s) in enumerate(zip(terms, shapes))]
    width = max([len(s) - len(p) + 1 for p, s in zip(parsed, shapes) if None in p], default=0)
    inputs = [_expand(p, len(s), width) for p, s in zip(parsed, shapes)]

    sizes = {}
    for i, (labels, shape) in enumerate(zip(inputs, shapes)):
        own = {}
        for label, n in zip(labels, shape):
            if own.setdefault(label, n) != n:
                raise _error(f"subscript {_name(label)} is repeated for operand {i} but the "
                             f"sizes don't match, {own[label]} != {n}",
                             "a repeated subscript takes a diagonal of equal-sized dimensions")
        for label, n in own.items():
            seen = sizes.get(label, 1)
            if n != seen and seen != 1 and n != 1:
                raise _error(f"subscript {_name(label)} has size {n} for operand {i} which does "
                             f"not broadcast with previously seen size {seen}",
                             "make the sizes equal, or 1 to broadcast")
            sizes[label] = n if seen == 1 else seen

    if not arrow:  # implicit: the ellipsis, then the letters used once, in ASCII order
        counts = {}
        for labels in inputs:
            for label in labels:
                counts[label] = counts.get(label, 0) + 1
        dots = [_ELLIPSIS_BASE + j for j in range(width)]
        output = dots + sorted(lb for lb, c in counts.items() if c == 1 and lb < _ELLIPSIS_BASE)
    else:
        dots = [_ELLIPSIS_BASE + j for j in range(width)]
        output = []
        for label in _tokens(rhs, "the output"):
            if label is None:
                output.extend(dots)
                continue
            if label in output:
                raise _error(f"output subscript {_name(label)} appears more than once in the "
                             "output", "each output subscript may appear once")
            if label not in sizes:
                raise _error(f"output subscript {_name(label)} does not appear in the equation "
                             "for any input operand", "use only subscripts of the inputs")
            output.append(label)
    return inputs, output, sizes


def _name(label):
    return _LETTERS[label] if label < _ELLIPSIS_BASE else "of the ellipsis '...'"


# ---- per-operand reductions ---------------------------------------------------------------

def _diagonals(x, labels):
    """x with each repeated label reduced to its diagonal (one dimension per label)."""
    while len(set(labels)) != len(labels):
        label = next(lb for lb in labels if labels.count(lb) > 1)
        where = [d for d, lb in enumerate(labels) if lb == label]
        rest = [d for d in range(len(labels)) if d not in where]
        # the repeated dimensions last, where one array index each picks the diagonal
        x = _shape.permute(x, tuple(rest + where))
        ar = np.arange(x.shape[-1])
        x = x[(Ellipsis,) + (ar,) * len(where)]
        labels = [labels[d] for d in rest] + [label]
    return x, labels


def _drop(x, labels, keep):
    """x summed over its labels that ``keep`` lacks."""
    axes = tuple(d for d, lb in enumerate(labels) if lb not in keep)
    if not axes:
        return x, labels
    x = _red.sum(x, axes, False)
    return x, [lb for lb in labels if lb in keep]


def _broadcast_ones(x, labels, sizes):
    """Drop the size-1 dimensions whose label is larger elsewhere: the operand is constant
    along them, which is what broadcasting means; the pair contraction then sees the label
    in the other operands only."""
    keep = [d for d, lb in enumerate(labels) if not (x.shape[d] == 1 and sizes[lb] != 1)]
    if len(keep) == len(labels):
        return x, labels
    return x.reshape(tuple(x.shape[d] for d in keep)), [labels[d] for d in keep]


# ---- contraction ----------------------------------------------------------------------------

def _size(labels, sizes):
    return int(np.prod([sizes[lb] for lb in labels], dtype=np.int64))


def _contract(a, la, b, lb, needed, sizes):
    """The product of a and b summed over their shared labels that ``needed`` lacks, as a
    batched matmul: a as (batch, kept of a, summed), b as (batch, summed, kept of b)."""
    batch = [lbl for lbl in la if lbl in lb and lbl in needed]
    summed = [lbl for lbl in la if lbl in lb and lbl not in needed]
    a_only = [lbl for lbl in la if lbl not in lb]
    b_only = [lbl for lbl in lb if lbl not in la]
    a = _shape.permute(a, tuple(la.index(lbl) for lbl in batch + a_only + summed))
    b = _shape.permute(b, tuple(lb.index(lbl) for lbl in batch + summed + b_only))
    nb, m, k, n = (_size(part, sizes) for part in (batch, a_only, summed, b_only))
    out = a.reshape((nb, m, k)) @ b.reshape((nb, k, n))
    labels = batch + a_only + b_only
    return out.reshape(tuple(sizes[lbl] for lbl in labels)), labels


def _pair_order(labelled, output, sizes):
    """The pair (i, j) to contract next: the one whose result is smallest (the first such
    pair from the left on ties), a cheap greedy order that keeps intermediates small."""
    best = None
    for i in range(len(labelled)):
        for j in range(i + 1, len(labelled)):
            others = set(output)
            for k, (_, labels) in enumerate(labelled):
                if k != i and k != j:
                    others.update(labels)
            kept = {lb for lb in labelled[i][1] + labelled[j][1] if lb in others}
            size = _size(kept, sizes)
            if best is None or size < best[0]:
                best = (size, i, j)
    return best[1], best[2]


def einsum(equation, *operands):
    """einsum(equation, *operands): the sum of products of the operands' elements named by
    ``equation`` (torch.einsum's notation: 'ij,jk->ik', 'ii', '...ij,...jk', ...)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise _error("must give the equation string and at least one operand",
                     "einsum('ij->ji', x)")
    Tensor = core.Tensor
    first = next((o for o in operands if isinstance(o, Tensor)), None)
    ops = [o if isinstance(o, Tensor) else
           core.constant(np.asarray(o), like=None if first is None else first.data)
           for o in operands]
    inputs, output, sizes = parse(equation, [tuple(o.shape) for o in ops])

    labelled = []
    for x, labels in zip(ops, inputs):
        x, labels = _diagonals(x, list(labels))
        labelled.append(_broadcast_ones(x, labels, sizes))
    counts = {}
    for _, labels in labelled:
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
    # a label that only one operand has and the output lacks is summed there at once
    labelled = [_drop(x, labels, set(output) | {lb for lb in labels if counts[lb] > 1})
                for x, labels in labelled]

    while len(labelled) > 1:
        i, j = _pair_order(labelled, output, sizes)
        (a, la), (b, lb) = labelled[i], labelled[j]
        needed = set(output)
        for k, (_, labels) in enumerate(labelled):
            if k != i and k != j:
                needed.update(labels)
        labelled = ([t for k, t in enumerate(labelled) if k not in (i, j)]
                    + [_contract(a, la, b, lb, needed, sizes)])

    x, labels = _drop(*labelled[0], set(output))
    x = _shape.permute(x, tuple(labels.index(lb) for lb in output))
    if first is None:
        return x.data  # arrays in, an array out (as sorix's other functions on arrays)
    return x if x is not ops[0] else x.clone()
