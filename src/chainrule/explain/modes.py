"""``chainrule explain --modes``: all of dL/dw by forward mode and by reverse mode.

The lecture's point, made visible: forward mode carries one direction through the
network per pass, so all of dL/dw costs one pass per parameter; reverse mode (the
backward pass) gives every dL/dw from one forward and one backward pass, and that
backward pass costs about as much as the forward one. Both modes run on chainrule's
engine (``func.jvp`` once per parameter; ``func.grad`` once), and give the same numbers.

Record first, render second: ``trace_modes`` measures and counts into a ``ModesRecord``;
``modes_section`` renders it as tables (en, zh), ``ModesRecord.to_dict`` as JSON.

Multiply-adds, per sample (n_k neurons in layer k, n_0 inputs; P parameters, P_w of
them weights), as the lecture counts them:
- the forward pass F = sum_k n_k n_(k-1) (every w·a);
- the backward pass B = sum_(k>=2) n_k n_(k-1) (dl/da_j = sum_k w_kj dl/dz_k, not needed
  for the inputs) + sum_k n_k (each amplifier sigma'(z)) + P_w (each dz/dw × dl/dz);
- a forward-mode pass along a parameter of layer m: F for the values, and for the
  tangent n_m n_(m-1) (dW a, for a weight), sum_(k>m) n_k n_(k-1) (W da) and
  sum_(k>=m) n_k (sigma'(z) dz); the layers below m carry no tangent at all.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule import func
from chainrule.explain import network as net
from chainrule.explain.spec import Spec


@dataclass(frozen=True)
class ModeCost:
    passes: int  # forward mode: one per parameter; reverse: 1 (a forward and a backward)
    multiply_adds: int
    seconds: float  # median time of all of dL/dw by this mode


@dataclass(frozen=True)
class ModesRecord:
    samples: int
    parameters: int
    forward_pass: int  # multiply-adds of one forward pass (all samples)
    backward_pass: int  # multiply-adds of one backward pass (all samples)
    forward_mode: ModeCost
    reverse_mode: ModeCost
    labels: tuple  # (layer, to, from) per parameter, from = "bias" for a bias
    by_forward: tuple  # dL/dw per parameter, by forward mode
    by_reverse: tuple  # the same, by reverse mode
    repeats: int

    @property
    def max_difference(self) -> float:
        return float(max(abs(a - b) for a, b in zip(self.by_forward, self.by_reverse)))

    def to_dict(self) -> dict:
        def cost(c: ModeCost) -> dict:
            return {"passes": c.passes, "multiply_adds": c.multiply_adds,
                    "seconds": c.seconds}

        return {
            "samples": self.samples, "parameters": self.parameters,
            "forward_pass_multiply_adds": self.forward_pass,
            "backward_pass_multiply_adds": self.backward_pass,
            "forward_mode": cost(self.forward_mode), "reverse_mode": cost(self.reverse_mode),
            "ratio_multiply_adds": self.forward_mode.multiply_adds
            / self.reverse_mode.multiply_adds,
            "ratio_seconds": self.forward_mode.seconds / self.reverse_mode.seconds,
            "gradients": [{"layer": k, "to": j, "from": i, "forward_mode": f,
                           "reverse_mode": r}
                          for (k, j, i), f, r in zip(self.labels, self.by_forward,
                                                     self.by_reverse)],
            "max_difference": self.max_difference,
            "repeats": self.repeats,
        }


def counts(sizes, n_samples: int) -> tuple[int, int, list[int]]:
    """Multiply-adds (all samples) of a forward pass, of a backward pass, and of each
    forward-mode pass's tangent per layer m (weight and bias directions alike, the dW a
    term added for weights by the caller)."""
    prods = [sizes[k] * sizes[k - 1] for k in range(1, len(sizes))]
    forward = sum(prods)
    weights = forward
    backward = sum(prods[1:]) + sum(sizes[1:]) + weights
    tangent = [sum(prods[m + 1:]) + sum(sizes[m + 1:]) for m in range(len(prods))]
    return forward * n_samples, backward * n_samples, [t * n_samples for t in tangent]


def trace_modes(spec: Spec, repeats: int = 20) -> ModesRecord:
    weights = [np.array(layer.weight, dtype=np.float64) for layer in spec.layers]
    biases = [np.array(layer.bias, dtype=np.float64) for layer in spec.layers]
    flat = [t for w, b in zip(weights, biases) for t in (w, b)]
    tensors = [cr.tensor(t) for t in flat]

    def loss(*ps):
        return net.total_loss(spec, [(ps[i], ps[i + 1]) for i in range(0, len(ps), 2)])

    def by_reverse():
        return func.grad(loss, argnums=tuple(range(len(tensors))))(*tensors)

    def by_forward():
        out = []
        for i, t in enumerate(tensors):
            def along(x, i=i):  # only parameter tensor i moves: no tangent below its layer
                return loss(*tensors[:i], x, *tensors[i + 1:])
            for e in np.eye(t.size).reshape((t.size,) + t.shape):
                out.append(func.jvp(along, (t,), (cr.tensor(e),))[1].item())
        return out

    forward_values = by_forward()
    reverse_values = np.concatenate([g.numpy().ravel() for g in by_reverse()])
    t_forward, t_reverse = _median_times(by_forward, by_reverse, repeats)

    n = len(spec.inputs)
    sizes = spec.sizes
    fwd, bwd, tangent = counts(sizes, n)
    forward_mode = 0
    labels = []
    for k, (w, b) in enumerate(zip(weights, biases)):
        per_weight = fwd + tangent[k] + sizes[k + 1] * sizes[k] * n  # + dW a, dense
        per_bias = fwd + tangent[k]
        forward_mode += w.size * per_weight + b.size * per_bias
        labels += [(k, j, i) for j in range(w.shape[0]) for i in range(w.shape[1])]
        labels += [(k, j, "bias") for j in range(b.size)]
    return ModesRecord(
        samples=n, parameters=len(forward_values), forward_pass=fwd, backward_pass=bwd,
        forward_mode=ModeCost(len(forward_values), forward_mode, t_forward),
        reverse_mode=ModeCost(1, fwd + bwd, t_reverse),
        labels=tuple(labels), by_forward=tuple(forward_values),
        by_reverse=tuple(float(v) for v in reverse_values), repeats=repeats)


def _median_times(a, b, repeats: int) -> tuple[float, float]:
    """Median seconds of ``a`` and of ``b``, alternating, so that noise hits both."""
    ta, tb = [], []
    for _ in range(repeats):
        for fn, out in ((a, ta), (b, tb)):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(ta), statistics.median(tb)
