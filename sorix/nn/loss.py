"""Loss modules, called as ``loss(y_pred, y_true)``.

Each takes PyTorch's ``reduction``: 'mean' (default), 'sum' or 'none'.
Predictions and targets of different shapes are an error, never a silent
broadcast (an (N,) target against (N, 1) predictions would otherwise
compare every prediction with every target).
"""
from ..ops.cross_entropy import check_label_smoothing
from ..ops.losses import check_kl_reduction, check_reduction
from ..tensor import Tensor
from . import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = check_reduction(reduction)

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """(y_pred - y_true)^2, averaged over every element by default."""

    def forward(self, y_pred, y_true):
        return F.mse_loss(y_pred, y_true, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, in the stable form
    max(x, 0) - x y + log(1 + exp(-|x|)); 'mean' averages over every element,
    so an (N, C) multi-label target gets gradient (sigmoid(x) - y) / (N C).

    ``weight`` (broadcast to the input's shape) rescales each element;
    ``pos_weight`` (broadcast along the last, class, dim: one per class) rescales
    the positive term: w [(1 - y) x + (1 + (pos_weight - 1) y) log(1 + exp(-x))].
    (A string as the first argument is the reduction, as Sorix's positional form.)
    """

    # (class defaults: a loss pickled before these options existed still runs)
    weight = pos_weight = None

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        if isinstance(weight, str):  # Sorix's positional reduction
            if reduction != "mean":
                raise TypeError(f"BCEWithLogitsLoss: weight must be a tensor, got {weight!r} "
                                f"(the reduction is {reduction!r})")
            weight, reduction = None, weight
        super().__init__(reduction)
        for name, value in (("weight", weight), ("pos_weight", pos_weight)):
            if value is not None and not isinstance(value, Tensor):
                value = Tensor(value)
            self.register_buffer(name, value)

    def forward(self, y_pred, y_true):
        return F.binary_cross_entropy_with_logits(y_pred, y_true, self.weight, self.reduction,
                                                  self.pos_weight)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits (N, C).

    Targets are class indices (N,) (an (N, 1) column is accepted, as Sorix
    code holds labels) or, with ``one_hot=True``, probability rows (N, C).
    ``weight`` (C,) rescales classes; 'mean' is then the weighted mean
    sum_i w[y_i] loss_i / sum_i w[y_i], as PyTorch. Targets equal to
    ``ignore_index`` are skipped. ``label_smoothing`` e in [0, 1] mixes the target
    with the uniform distribution: (1 - e) loss + e / C sum_c w_c (-log softmax(x)_c).
    """

    label_smoothing = 0.0  # (a class default, as for BCEWithLogitsLoss's options)

    def __init__(self, weight=None, one_hot=False, reduction="mean", ignore_index=-100,
                 label_smoothing=0.0):
        super().__init__(reduction)
        self.one_hot = bool(one_hot)
        self.ignore_index = int(ignore_index)
        self.label_smoothing = check_label_smoothing(label_smoothing)
        if weight is not None and not isinstance(weight, Tensor):
            weight = Tensor(weight)
        self.register_buffer("weight", weight)

    def forward(self, y_pred, y_true):
        return F.cross_entropy(y_pred, y_true, self.weight, self.reduction, self.ignore_index,
                               self.one_hot, self.label_smoothing)

    def extra_repr(self):
        parts = [super().extra_repr()] + (["one_hot=True"] if self.one_hot else []) + \
            ([f"label_smoothing={self.label_smoothing}"] if self.label_smoothing else [])
        return ", ".join(p for p in parts if p)


class L1Loss(_Loss):
    """|y_pred - y_true|, averaged over every element by default."""

    def forward(self, y_pred, y_true):
        return F.l1_loss(y_pred, y_true, self.reduction)


class SmoothL1Loss(_Loss):
    """(y_pred - y_true)^2 / (2 beta) where the difference is below beta in size, else
    |y_pred - y_true| - beta / 2 (the L1 loss when beta = 0)."""

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = float(beta)
        if self.beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta}")

    def forward(self, y_pred, y_true):
        return F.smooth_l1_loss(y_pred, y_true, self.reduction, self.beta)

    def extra_repr(self):
        return ", ".join(p for p in (super().extra_repr(), f"beta={self.beta}") if p)


class HuberLoss(_Loss):
    """(y_pred - y_true)^2 / 2 where the difference is below delta in size, else
    delta (|y_pred - y_true| - delta / 2)."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = float(delta)
        if not self.delta > 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")

    def forward(self, y_pred, y_true):
        return F.huber_loss(y_pred, y_true, self.reduction, self.delta)

    def extra_repr(self):
        return ", ".join(p for p in (super().extra_repr(), f"delta={self.delta}") if p)


class NLLLoss(_Loss):
    """Negative log-likelihood of class indices given log-probabilities (N, C), e.g. the
    output of log_softmax: -weight[t] x[i, t]; 'mean' divides by the weights of the
    targets counted. Targets equal to ``ignore_index`` are skipped."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        self.ignore_index = int(ignore_index)
        if weight is not None and not isinstance(weight, Tensor):
            weight = Tensor(weight)
        self.register_buffer("weight", weight)

    def forward(self, y_pred, y_true):
        return F.nll_loss(y_pred, y_true, self.weight, self.ignore_index, self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities: -w (y log p + (1 - y) log(1 - p)), each log
    clamped at -100 (as PyTorch). ``weight`` rescales each element (broadcast to the
    input's shape). For logits use BCEWithLogitsLoss."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        if weight is not None and not isinstance(weight, Tensor):
            weight = Tensor(weight)
        self.register_buffer("weight", weight)

    def forward(self, y_pred, y_true):
        return F.binary_cross_entropy(y_pred, y_true, self.weight, self.reduction)


class KLDivLoss(_Loss):
    """Pointwise KL divergence, input holding log-probabilities (as PyTorch):
    t (log t - x) (0 where t = 0), or exp(t) (t - x) with ``log_target=True``.
    ``reduction``: 'mean' (over every element; warns, as PyTorch), 'batchmean' (the sum
    over the batch size: the divergence), 'sum' or 'none'."""

    def __init__(self, reduction="mean", log_target=False):
        Module.__init__(self)
        self.reduction = check_kl_reduction(reduction)
        self.log_target = bool(log_target)

    def forward(self, y_pred, y_true):
        return F.kl_div(y_pred, y_true, self.reduction, self.log_target)

    def extra_repr(self):
        parts = [super().extra_repr()] + (["log_target=True"] if self.log_target else [])
        return ", ".join(p for p in parts if p)
