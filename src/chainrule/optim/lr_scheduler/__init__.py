"""Learning-rate schedules, PyTorch's (``torch.optim.lr_scheduler``): call
``scheduler.step()`` once per epoch, after the epoch's ``optimizer.step()`` calls (per
batch for ``OneCycleLR``; ``ReduceLROnPlateau.step(metric)`` takes the epoch's metric).

Each scheduler records every group's initial lr (``group["initial_lr"]``, ``base_lrs``)
and counts its steps (``last_epoch``, 0 right after construction). The schedules are
chainable as PyTorch's: they scale the lr that is in the group, so a manual
``group["lr"] = x`` is respected and two schedulers on one optimizer compose (base.py
says how ``StepLR`` and ``CosineAnnealingLR`` alone stay exactly their closed forms).

The parts: ``base`` (the base classes), ``decay`` (factor schedules), ``cosine`` (cosine
annealing, warm restarts, one cycle), ``plateau`` (``ReduceLROnPlateau``) and ``compose``
(``ChainedScheduler``, ``SequentialLR``).
"""

from chainrule.optim.lr_scheduler.base import LRScheduler
from chainrule.optim.lr_scheduler.compose import ChainedScheduler, SequentialLR
from chainrule.optim.lr_scheduler.cosine import (
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    OneCycleLR,
)
from chainrule.optim.lr_scheduler.decay import (
    ConstantLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from chainrule.optim.lr_scheduler.plateau import ReduceLROnPlateau

__all__ = ["ChainedScheduler", "ConstantLR", "CosineAnnealingLR",
           "CosineAnnealingWarmRestarts", "ExponentialLR", "LRScheduler", "LambdaLR",
           "LinearLR", "MultiStepLR", "MultiplicativeLR", "OneCycleLR", "PolynomialLR",
           "ReduceLROnPlateau", "SequentialLR", "StepLR"]
