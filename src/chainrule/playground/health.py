"""Training health per hidden neuron: chainrule.health's signals, one neuron at a time.

Computed by the server from the network's forward pass on every training point (the
engine's tensors, not the page's heat maps), with chainrule.health's definitions and
thresholds (``health.stats.unit_stats``, ``health.signals``):

- ``saturated``: the share of training points where the unit sits in sigma's flat tails
  (tanh |a| > 0.97, sigmoid a outside [0.03, 0.97]); None for relu and linear;
- ``dead``: a ReLU unit never active (a > 0) on any training point; None for the others;
- ``amplifier``: the mean of sigma'(z) over the training points;
- ``mark``: "dead", "saturated" (over 50 % of the points saturated, the monitor's
  threshold) or None. The output layer is not judged: its sigma is the task's, not a
  choice of the learner's.
"""

from __future__ import annotations

import numpy as np

from chainrule.health.signals import SATURATED_ABOVE
from chainrule.health.stats import unit_stats


def _ones(z):
    return np.ones_like(np.asarray(z, dtype=np.float64))  # linear: sigma'(z) = 1


def neuron_health(net, x: np.ndarray) -> list[list[dict]] | None:
    """Per hidden layer, per neuron: saturated, dead, amplifier and mark on points ``x``
    (the training inputs); None without points or with weights that are not finite."""
    if len(x) == 0 or not net.finite():
        return None
    layers = []
    with np.errstate(all="ignore"):
        pairs = net.hidden_on(x)
    for (z, a), kind in zip(pairs, net.activations):
        stats = unit_stats(kind, z, a, derivative=_ones)
        n = a.shape[1]
        sat = stats["saturated"] or [None] * n
        dead = stats["dead"] or [None] * n
        layers.append([{
            "saturated": sat[j], "dead": dead[j], "amplifier": stats["amplifier"][j],
            "mark": "dead" if dead[j] else
            "saturated" if sat[j] is not None and sat[j] > SATURATED_ABOVE else None,
        } for j in range(n)])
    return layers
