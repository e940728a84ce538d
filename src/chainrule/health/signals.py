"""When a number is a problem: the thresholds, and the findings a record raises.

A signal is flagged when its number crosses its threshold (the monitor warns once per
crossing, not on every sampled step while it stays there):

- saturated: over 50 % of a tanh/sigmoid layer's outputs in the flat tails (those units
  pass < 6 % (tanh) or < 3 % (sigmoid) of the gradient);
- dead: over 50 % of a ReLU layer's units never active this epoch (no gradient reaches
  their weights);
- update_ratio: log10(std(update) / std(w)) above -1 for a weight matrix or kernel (each
  step moves the weights by over 10 % of their spread; healthy is near -3);
- vanishing: the first weight's gradient RMS below 1/100 of the last weight's (the early
  layers barely learn);
- exploding: the first weight's gradient RMS above 100 x the last weight's, or a gradient
  that is not finite;
- initial_loss: the first loss above 1.5 x ln(C) for C classes (the untrained network is
  confidently wrong).

Biases and 1-d parameters (batch norm's) are not judged on their update ratio: their
spread at the start is 0 or tiny, so the ratio says nothing about the learning rate.
Adam's first step moves every weight by lr exactly (m / sqrt(v) = +-1 whatever the
gradient), so update ratios are judged from step 10 on, when its moments have something to
average (the digits recipe, AdamW at lr 5e-3: -0.92 at step 0, -1.06 at step 1, -1.35 at
step 10 for its middle layer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

SIGNALS = ("saturated", "dead", "update_ratio", "vanishing", "exploding", "initial_loss")

SATURATED_ABOVE = 0.5
DEAD_ABOVE = 0.5
UPDATE_RATIO_ABOVE = -1.0  # log10
UPDATE_RATIO_HEALTHY = -3.0  # log10: Karpathy's rule of thumb, the figure's band
UPDATE_RATIO_FROM = 10  # the first step whose update ratio is judged
VANISHING_BELOW = 1e-2
EXPLODING_ABOVE = 1e2
INITIAL_LOSS_ABOVE = 1.5  # x ln(C)


@dataclass(frozen=True)
class Finding:
    """A signal over its threshold in one record: ``layer`` is the module's path as
    ``named_modules`` gives it ("" for the whole model), ``facts`` what a message says."""

    layer: str
    signal: str
    value: float
    facts: dict = field(default_factory=dict, compare=False)


def findings(record: dict) -> list[Finding]:
    """Every signal of ``record`` (one sampled step's) over its threshold."""
    found = []
    for act in record.get("activations", ()):
        sat, dead = act.get("saturated"), act.get("dead")
        if sat is not None and sat > SATURATED_ABOVE:
            found.append(Finding(act["layer"], "saturated", sat, {"kind": act["kind"]}))
        if dead is not None and dead > DEAD_ABOVE:
            found.append(Finding(act["layer"], "dead", dead,
                                 {"kind": act["kind"], "samples": act.get("samples")}))
    if record["step"] >= UPDATE_RATIO_FROM:
        for p in record.get("params", ()):
            ratio = p.get("update_ratio")
            if len(p.get("shape", ())) >= 2 and ratio is not None and ratio > UPDATE_RATIO_ABOVE:
                found.append(Finding(p["layer"], "update_ratio", ratio, {"param": p["name"]}))
    found += _gradient_flow(record.get("params", ()))
    initial = record.get("initial_loss")
    if initial and initial.get("loss") is not None and \
            initial["loss"] > INITIAL_LOSS_ABOVE * initial["expected"]:
        found.append(Finding("", "initial_loss", initial["loss"], dict(initial)))
    return found


def _gradient_flow(params) -> list[Finding]:
    """vanishing / exploding: the first weight matrix's gradient against the last one's."""
    weights = [p for p in params if len(p.get("shape", ())) >= 2]
    broken = [p for p in params if p.get("grad_norm") is None and p.get("has_grad")]
    if broken:  # a gradient that is NaN or infinite
        return [Finding(broken[0]["layer"], "exploding", math.inf,
                        {"param": broken[0]["name"]})]
    if len(weights) < 2:
        return []
    first, last = weights[0], weights[-1]
    a, b = first.get("grad_rms"), last.get("grad_rms")
    if a is None or b is None or b == 0:
        return []
    ratio = a / b
    facts = {"last": last["layer"], "rms": a, "last_rms": b}
    if ratio < VANISHING_BELOW:
        return [Finding(first["layer"], "vanishing", ratio, facts)]
    if ratio > EXPLODING_ABOVE:
        return [Finding(first["layer"], "exploding", ratio, facts)]
    return []
