"""The record: every number of one explained gradient step, and nothing about how to show it.

``trace`` fills it from the engine; the table, JSON and figure renderers read it, in any
language. Indices follow the network file: ``layer`` k is ``layers[k]``; a neuron's
``index`` j and a weight's ``to`` j / ``from`` i address ``layers[k].weight[j][i]``
(``from`` is the string ``"bias"`` for ``layers[k].bias[j]``). For the first layer,
``from`` i is the input x_i.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

#: ``from`` of a bias record.
BIAS = "bias"
#: |z| below which a relu neuron counts as sitting on its kink (see ``Record.kinks``).
KINK = 1e-4


@dataclass(frozen=True)
class NeuronRecord:
    """One neuron, one sample: forward values z, a and backward values dl/da, dl/dz.

    sigma_prime is sigma'(z), the amplifier: dl/dz = sigma'(z) * dl/da (None for a softmax
    output, whose dl/dz = y - t comes from the whole layer). dl/da is, for the output
    layer, dl/dy from the loss (case 1); for a hidden neuron j, sum_k w_kj dl/dz_k over
    the next layer's neurons k (case 2).
    """

    layer: int
    index: int
    sample: int
    z: float
    a: float
    sigma_prime: float | None
    dl_da: float
    dl_dz: float

    def to_dict(self, several: bool) -> dict:
        out = {"layer": self.layer, "index": self.index}
        if several:
            out["sample"] = self.sample
        out.update(z=self.z, a=self.a, sigma_prime=self.sigma_prime, dl_da=self.dl_da,
                   dl_dz=self.dl_dz)
        return out


@dataclass(frozen=True)
class WeightRecord:
    """One weight (or bias): dl/dw = dz/dw * dl/dz, checked two ways, and its update.

    ``dz_dw`` and ``dl_dz`` hold one value per sample: dz/dw is the input the weight
    multiplies (1 for a bias), dl/dz the backward value of the neuron it feeds. ``dl_dw``
    is the gradient of the total loss, the sum over samples of dz/dw * dl/dz;
    ``autograd`` is the engine's dL/dw from one backward pass of L, ``numeric`` the
    central difference (L(w + eps) - L(w - eps)) / (2 eps), and
    ``updated`` = value - lr * dl_dw.
    """

    layer: int
    to: int
    from_: int | str
    value: float
    dz_dw: tuple[float, ...]
    dl_dz: tuple[float, ...]
    dl_dw: float
    autograd: float
    numeric: float
    updated: float

    @property
    def is_bias(self) -> bool:
        return self.from_ == BIAS

    @property
    def products(self) -> tuple[float, ...]:
        """Per-sample dl^n/dw = dz/dw * dl/dz."""
        return tuple(x * g for x, g in zip(self.dz_dw, self.dl_dz))

    @property
    def disagreement(self) -> float:
        """The largest of |product - autograd|, |product - numeric|, |autograd - numeric|."""
        p, a, n = self.dl_dw, self.autograd, self.numeric
        return max(abs(p - a), abs(p - n), abs(a - n))

    def to_dict(self, several: bool) -> dict:
        out = {"layer": self.layer, "to": self.to, "from": self.from_, "value": self.value}
        if several:
            out.update(dz_dw=list(self.dz_dw), dl_dz=list(self.dl_dz),
                       dl_dw_per_sample=list(self.products))
        else:
            out.update(dz_dw=self.dz_dw[0], dl_dz=self.dl_dz[0])
        out.update(dl_dw=self.dl_dw, autograd=self.autograd, numeric=self.numeric,
                   updated=self.updated)
        return out


@dataclass(frozen=True)
class Record:
    """One forward pass, backward pass, gradient check and gradient-descent step.

    ``losses[n]`` is l^n and ``loss`` = L = sum_n l^n; ``losses_after`` / ``loss_after``
    are the same with every weight replaced by its ``updated`` value.
    """

    name: str
    description: str
    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss_name: str
    lr: float
    inputs: np.ndarray
    targets: np.ndarray
    outputs: np.ndarray
    losses: tuple[float, ...]
    loss: float
    losses_after: tuple[float, ...]
    loss_after: float
    neurons: tuple[NeuronRecord, ...]
    weights: tuple[WeightRecord, ...]
    eps: float
    several: bool
    #: max |sigma'(z) dl/da - dl/dz| (or |y - t - dl/dz| for softmax): the amplifier check.
    chain_rule_check: float = 0.0
    #: max |sum of per-sample backward passes - one backward pass of L|.
    per_sample_check: float = 0.0
    meta: dict = field(default_factory=dict)
    #: (layer, index) when only one neuron's weights were recorded (``trace(focus=...)``):
    #: ``weights`` then holds its incoming weights and bias and its outgoing weights.
    focus: tuple[int, int] | None = None

    # --- lookups ---------------------------------------------------------------------------

    @property
    def n_samples(self) -> int:
        return len(self.losses)

    @property
    def n_layers(self) -> int:
        return len(self.activations)

    def neuron(self, layer: int, index: int, sample: int = 0) -> NeuronRecord:
        for n in self.neurons:
            if (n.layer, n.index, n.sample) == (layer, index, sample):
                return n
        raise KeyError(f"no neuron {index} in layer {layer} for sample {sample}")

    def layer_neurons(self, layer: int, sample: int = 0) -> list[NeuronRecord]:
        return [n for n in self.neurons if n.layer == layer and n.sample == sample]

    def weight(self, layer: int, to: int, from_: int | str) -> WeightRecord:
        for w in self.weights:
            if (w.layer, w.to, w.from_) == (layer, to, from_):
                return w
        raise KeyError(f"no weight from {from_} to {to} in layer {layer}")

    def layer_weights(self, layer: int) -> list[WeightRecord]:
        return [w for w in self.weights if w.layer == layer]

    def layer_input(self, layer: int, sample: int = 0) -> list[float]:
        """a of the layer before (x for layer 0): what the weights of ``layer`` multiply."""
        if layer == 0:
            return [float(v) for v in self.inputs[sample]]
        return [n.a for n in self.layer_neurons(layer - 1, sample)]

    # --- checks ----------------------------------------------------------------------------

    @property
    def max_disagreement(self) -> float:
        """The largest disagreement between product, autograd and finite difference."""
        return max(w.disagreement for w in self.weights)

    @property
    def worst_weight(self) -> WeightRecord:
        return max(self.weights, key=lambda w: w.disagreement)

    def agrees(self, tol: float = 1e-6) -> bool:
        """Product, autograd and finite difference agree to ``tol`` (relative above 1).

        The finite difference has error ~ eps^2 * L''' + (rounding of L) / eps, so the
        tolerance scales with the size of the gradient and of the loss.
        """
        scale = max(1.0, abs(self.loss), *(abs(w.dl_dw) for w in self.weights))
        worst = max(self.max_disagreement, self.chain_rule_check, self.per_sample_check)
        return worst <= tol * scale

    @property
    def kinks(self) -> list[NeuronRecord]:
        """relu neurons with z within KINK of 0, where relu has no derivative.

        There the engine uses relu'(0) = 0 (as PyTorch) while a finite difference steps
        across the kink, so the two may rightly disagree.
        """
        return [n for k, act in enumerate(self.activations) if act == "relu"
                for n in self.neurons if n.layer == k and abs(n.z) <= KINK]

    # --- JSON --------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The JSON document (DESIGN.md field names). Language-free: numbers and names only."""

        def samples(arr):
            return arr.tolist() if self.several else arr[0].tolist()

        worst = self.worst_weight
        out = {
            "name": self.name,
            "description": self.description,
            "sizes": list(self.sizes),
            "activations": list(self.activations),
            "loss_function": self.loss_name,
            "lr": self.lr,
            "samples": self.n_samples,
            "input": samples(self.inputs),
            "target": samples(self.targets),
            "output": samples(self.outputs),
            "loss": self.loss,
            "loss_after": self.loss_after,
        }
        if self.several:
            out["loss_per_sample"] = list(self.losses)
            out["loss_after_per_sample"] = list(self.losses_after)
        out["neurons"] = [n.to_dict(self.several) for n in self.neurons]
        out["weights"] = [w.to_dict(self.several) for w in self.weights]
        out["max_disagreement"] = self.max_disagreement
        out["checks"] = {
            "worst_weight": {"layer": worst.layer, "to": worst.to, "from": worst.from_},
            "product_vs_autograd": max(abs(w.dl_dw - w.autograd) for w in self.weights),
            "product_vs_numeric": max(abs(w.dl_dw - w.numeric) for w in self.weights),
            "autograd_vs_numeric": max(abs(w.autograd - w.numeric) for w in self.weights),
            "chain_rule": self.chain_rule_check,
            "per_sample_sum_vs_total": self.per_sample_check,
            "finite_difference_eps": self.eps,
            "agree": self.agrees(),
            "relu_kinks": [{"layer": n.layer, "index": n.index, "sample": n.sample}
                           for n in self.kinks],
        }
        if self.focus is not None:
            out["focus"] = {"layer": self.focus[0], "index": self.focus[1]}
        if self.meta:
            out["meta"] = self.meta
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
