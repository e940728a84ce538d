"""Optimizers (SGD, Adam, AdamW, RMSprop) and learning-rate schedulers."""

from chainrule.optim import lr_scheduler
from chainrule.optim.optimizer import SGD, Adam, AdamW, Optimizer
from chainrule.optim.rmsprop import RMSprop
