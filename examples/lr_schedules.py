"""Learning-rate schedules as PyTorch's: a warm-up then a cosine (SequentialLR), two
schedules multiplied (ChainedScheduler), and a manual lr edit that the schedule respects.

    python examples/lr_schedules.py

Each line is the lr of each epoch; the same code with ``torch.optim`` prints the same
numbers (tests/optim/test_lr_scheduler.py checks every scheduler against PyTorch's).
"""

import numpy as np

import chainrule.nn as nn
from chainrule import optim
from chainrule.optim import lr_scheduler as S


def optimizer(lr):
    return optim.SGD([nn.Parameter(np.zeros(3))], lr=lr, momentum=0.9)


def run(opt, sched, epochs, edit=None):
    seen = []
    for epoch in range(epochs):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()  # the epoch's training steps would go here
        if edit and epoch == edit[0]:
            opt.param_groups[0]["lr"] = edit[1]
        sched.step()
    return " ".join(f"{lr:.4f}" for lr in seen)


opt = optimizer(0.1)
warmup_cosine = S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.1, total_iters=3),
                                     S.CosineAnnealingLR(opt, T_max=7)], milestones=[3])
print("warm-up 3, then cosine 7:  ", run(opt, warmup_cosine, 10))

opt = optimizer(0.1)
chained = S.ChainedScheduler([S.StepLR(opt, 3, gamma=0.5), S.ExponentialLR(opt, gamma=0.9)])
print("step x exponential:        ", run(opt, chained, 10))

opt = optimizer(1.0)
step = S.StepLR(opt, 5, gamma=0.5)
print("StepLR(5, 0.5), lr=0.123 set after epoch 2:", run(opt, step, 10, edit=(1, 0.123)))
