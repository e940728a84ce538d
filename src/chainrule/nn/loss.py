"""Losses as modules, PyTorch's torch.nn losses: each keeps its options and calls the
function of nn.functional (functional_loss.py) in ``forward``.

A class ``weight`` (and BCEWithLogitsLoss's ``pos_weight``) is a buffer, as in PyTorch: in
``state_dict()`` when given, cast by ``Module.to``, never a parameter.
"""

from __future__ import annotations

from chainrule.nn import functional_loss as FL
from chainrule.nn.module import Module
from chainrule.tensor import as_tensor


class _Loss(Module):
    def __init__(self, reduction: str, allowed: tuple = FL.REDUCTIONS):
        super().__init__()
        FL._check_reduction(reduction, type(self).__name__, allowed)
        self.reduction = reduction

    def _constant(self, name: str, value) -> None:
        if value is None:
            setattr(self, name, None)
        else:
            self.register_buffer(name, as_tensor(value))

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """``F.cross_entropy``: logits (N, C) or (N, C, d1, ...), class indices (N, d1, ...)
    or probabilities of the logits' shape; ``weight`` per class, ``ignore_index``,
    ``label_smoothing``. ``CrossEntropyLoss('sum')`` still reads as the reduction."""

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        weight, reduction = FL._weight_or_reduction(weight, reduction, "CrossEntropyLoss")
        super().__init__(reduction)
        if not 0 <= label_smoothing <= 1:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got "
                             f"{label_smoothing}")
        self._constant("weight", weight)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, logits, target):
        return FL.cross_entropy(logits, target, self.weight, self.ignore_index,
                                self.reduction, self.label_smoothing)


class NLLLoss(_Loss):
    """``F.nll_loss``: log-probabilities (from LogSoftmax), class indices; ``weight``,
    ``ignore_index``."""

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self._constant("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, log_probs, target):
        return FL.nll_loss(log_probs, target, self.weight, self.ignore_index, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """``F.binary_cross_entropy_with_logits``: logits and 0/1 (or soft) targets of the same
    shape; ``weight`` broadcast to them, ``pos_weight`` (C,) for the positives."""

    def __init__(self, weight=None, *, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self._constant("weight", weight)
        self._constant("pos_weight", pos_weight)

    def forward(self, logits, target):
        return FL.binary_cross_entropy_with_logits(logits, target, self.weight,
                                                   self.reduction, self.pos_weight)


class BCELoss(_Loss):
    """``F.binary_cross_entropy``: probabilities in [0, 1] (after a Sigmoid) and targets;
    ``weight`` broadcast to them. BCEWithLogitsLoss on the logits is the stabler choice."""

    def __init__(self, weight=None, *, reduction: str = "mean"):
        super().__init__(reduction)
        self._constant("weight", weight)

    def forward(self, probs, target):
        return FL.binary_cross_entropy(probs, target, self.weight, self.reduction)


class MSELoss(_Loss):
    """``F.mse_loss``: mean (or sum, or each) of the squared errors."""

    def __init__(self, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, pred, target):
        return FL.mse_loss(pred, target, self.reduction)


class L1Loss(_Loss):
    """``F.l1_loss``: mean (or sum, or each) of the absolute errors."""

    def __init__(self, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, pred, target):
        return FL.l1_loss(pred, target, self.reduction)


class SmoothL1Loss(_Loss):
    """``F.smooth_l1_loss``: quadratic within ``beta`` of the target, linear beyond."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, pred, target):
        return FL.smooth_l1_loss(pred, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """``F.huber_loss``: quadratic within ``delta`` of the target, then linear with slope
    delta (SmoothL1Loss with beta = delta, times delta)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, pred, target):
        return FL.huber_loss(pred, target, self.reduction, self.delta)


class KLDivLoss(_Loss):
    """``F.kl_div``: KL(target || input) with the input as log-probabilities;
    ``reduction='batchmean'`` is the divergence per sample, ``log_target`` takes the target
    as log-probabilities too."""

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction, FL.REDUCTIONS + ("batchmean",))
        self.log_target = log_target

    def forward(self, log_probs, target):
        return FL.kl_div(log_probs, target, self.reduction, self.log_target)
