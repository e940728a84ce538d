"""The playground's network on chainrule's engine: ``nn.Linear`` layers in float64, trained
by ``optim.SGD`` on the loss the engine differentiates.

Layer k computes z = W a + b and a' = sigma(z), as the explain view counts them (layer 0
is the first hidden layer, the output layer is last). The output is TF Playground's: tanh
for two classes (labels -1 and +1) and linear for regression, both under the half squared
error l = 1/2 (y - t)^2; softmax under the cross-entropy for three classes or more. The
cost of a batch is the mean of l^n over its points plus the penalty reg_rate * R(w) on the
weights (biases are not penalised): R = 1/2 sum w^2 (L2) or sum |w| (L1).
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
import chainrule.optim as optim
from chainrule.explain.network import activate

#: Initial weights as TF Playground's: uniform in [-0.5, 0.5], every bias 0.1.
INIT_RANGE = 0.5
INIT_BIAS = 0.1


def features(x: np.ndarray, names: list[str]) -> np.ndarray:
    """The input layer: the chosen features of points ``x`` (N, 2), one column each."""
    x1, x2 = x[:, 0], x[:, 1]
    table = {"x1": x1, "x2": x2, "x1sq": x1 * x1, "x2sq": x2 * x2, "x1x2": x1 * x2,
             "sinx1": np.sin(x1), "sinx2": np.sin(x2)}
    return np.stack([table[name] for name in names], axis=1)


def output_activation(task: str) -> str:
    return {"classification": "tanh", "regression": "linear", "multiclass": "softmax"}[task]


def loss_name(task: str) -> str:
    """The per-sample loss, by the explain view's names."""
    return "cross_entropy" if task == "multiclass" else "half_squared_error"


def targets(labels: np.ndarray, task: str, classes: int) -> np.ndarray:
    """Network targets (N, outputs): the label itself, or the one-hot row of the class."""
    if task == "multiclass":
        return np.eye(classes)[labels.astype(np.int64)]
    return labels[:, None].astype(np.float64)


class Network:
    """A chain of dense layers with the hidden ``activation`` and the task's output."""

    def __init__(self, n_in: int, hidden: list[int], activation: str, task: str,
                 classes: int, rng: np.random.Generator):
        self.task = task
        n_out = classes if task == "multiclass" else 1
        sizes = [n_in, *hidden, n_out]
        self.layers = [nn.Linear(a, b, dtype=np.float64) for a, b in zip(sizes, sizes[1:])]
        # The session's own generator, not cr.manual_seed: sessions run in several threads.
        with cr.no_grad():
            for layer in self.layers:
                layer.weight.data[...] = rng.uniform(-INIT_RANGE, INIT_RANGE,
                                                      layer.weight.shape)
                layer.bias.data[...] = INIT_BIAS
        self.activations = [activation] * len(hidden) + [output_activation(task)]

    @property
    def sizes(self) -> list[int]:
        return [self.layers[0].in_features] + [layer.out_features for layer in self.layers]

    def parameters(self) -> list[nn.Parameter]:
        return [p for layer in self.layers for p in (layer.weight, layer.bias)]

    def forward(self, x: cr.Tensor, keep: list | None = None,
                keep_z: list | None = None) -> cr.Tensor:
        """The output: tanh or linear values, or for softmax the logits z (the loss takes
        them). ``keep`` collects every layer's a (the output's softmax included),
        ``keep_z`` every layer's z."""
        a = x
        for layer, act in zip(self.layers, self.activations):
            z = layer(a)
            if keep_z is not None:
                keep_z.append(z)
            if act == "softmax":
                if keep is not None:
                    keep.append(F.softmax(z, axis=-1))
                return z
            a = activate(z, act)
            if keep is not None:
                keep.append(a)
        return a

    def cost(self, out: cr.Tensor, labels: np.ndarray) -> cr.Tensor:
        """The mean per-sample loss of a batch (without the penalty)."""
        if self.task == "multiclass":
            return F.cross_entropy(out, labels.astype(np.int64))
        # One output: the mean over elements is the mean over the batch of l^n.
        return F.mse_loss(out, labels[:, None]) * 0.5

    def penalty(self, kind: str, rate: float) -> cr.Tensor | None:
        if kind == "none" or rate == 0:
            return None
        terms = [(layer.weight * layer.weight).sum() * 0.5 if kind == "l2"
                 else layer.weight.abs().sum() for layer in self.layers]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total * rate

    def train_epoch(self, x: np.ndarray, labels: np.ndarray, order: np.ndarray,
                    batch_size: int, lr: float, regularization: str, reg_rate: float) -> None:
        """One pass over the training points in ``order``, one SGD step per batch."""
        opt = optim.SGD(self.parameters(), lr=lr)
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            cost = self.cost(self.forward(cr.tensor(x[batch])), labels[batch])
            extra = self.penalty(regularization, reg_rate)
            if extra is not None:
                cost = cost + extra
            opt.zero_grad()
            cost.backward()
            opt.step()

    def evaluate(self, x: np.ndarray, labels: np.ndarray) -> tuple[float | None, float | None]:
        """(mean loss, accuracy) over the points; accuracy is None for regression, both
        None without points."""
        if len(labels) == 0:
            return None, None
        with cr.no_grad():
            out = self.forward(cr.tensor(x))
            loss = float(self.cost(out, labels).item())
            y = out.numpy()
        if self.task == "regression":
            return loss, None
        if self.task == "multiclass":
            hits = y.argmax(axis=1) == labels
        else:
            hits = np.where(y[:, 0] >= 0, 1.0, -1.0) == labels
        return loss, float(hits.mean())

    def activations_on(self, x: np.ndarray) -> list[np.ndarray]:
        """Every layer's a on the points ``x``, forward only (for the heat maps)."""
        keep: list = []
        with cr.no_grad():
            self.forward(cr.tensor(x), keep)
        return [a.numpy() for a in keep]

    def hidden_on(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(z, a) of every hidden layer on the points ``x``, forward only (the health)."""
        keep: list = []
        keep_z: list = []
        with cr.no_grad():
            self.forward(cr.tensor(x), keep, keep_z)
        return [(z.numpy(), a.numpy()) for z, a in zip(keep_z, keep)][:len(self.layers) - 1]

    def to_layers(self) -> list[dict]:
        """The network as the explain network file's ``layers``."""
        return [{"weight": layer.weight.numpy().tolist(), "bias": layer.bias.numpy().tolist(),
                 "activation": act} for layer, act in zip(self.layers, self.activations)]

    def finite(self) -> bool:
        return all(np.isfinite(p.numpy()).all() for p in self.parameters())

    def set_weight(self, layer: int, to: int, from_, value: float) -> None:
        """Set ``layers[layer].weight[to][from_]`` (``from_`` = "bias": the bias)."""
        target = self.layers[layer]
        with cr.no_grad():
            if from_ == "bias":
                target.bias.data[to] = value
                target.bias.bump_version()
            else:
                target.weight.data[to, from_] = value
                target.weight.bump_version()

