"""health: see when a network stops learning, and why.

The lecture's amplifiers sigma'(z) explain why deep sigmoid networks stop learning
(vanishing gradients), why a ReLU can die and why the learning rate matters; this package
measures exactly these signals on the real tensors of a training run::

    from chainrule.health import Monitor
    with Monitor(model, every=50) as monitor:
        for x, y in loader:
            ...; optimizer.step()
            monitor.step(loss, optimizer)
    monitor.records    # per sampled step: activations, gradients, updates (docs/health.md)
    monitor.warnings   # the signals that crossed a threshold, each with its fix

``chainrule train --health`` writes the records to ``health.jsonl`` and draws
``health.png``; ``chainrule health RUN`` reports a finished run, in English or Chinese.
"""

from chainrule.health.monitor import ACTIVATIONS, HealthWarning, Monitor
from chainrule.health.signals import SIGNALS

__all__ = ["ACTIVATIONS", "SIGNALS", "HealthWarning", "Monitor"]
