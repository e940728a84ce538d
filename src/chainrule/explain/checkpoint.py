"""Explain one neuron of a trained model: an MLP checkpoint of ``chainrule train``.

In eval mode the MLP that ``chainrule.train.models.mlp`` builds is exactly the lecture's
chain of dense layers: Flatten is a reshape, Dropout is the identity, and BatchNorm1d is
an affine map per feature, y = gamma (u - mu) / sqrt(var + eps) + beta, with the running
mean mu and variance var. It folds into the Linear u = W a + b before it::

    s  = gamma / sqrt(var + eps)
    W' = diag(s) W,   b' = s (b - mu) + beta        (b = 0 for a Linear without bias)

so hidden layer k is z = W'_k a + b'_k, a = relu(z), and the output layer is the logits
z with y = softmax(z) and the loss l = cross-entropy against the one-hot true class.
``fold`` builds those layers; ``fold_check`` compares the folded network's logits with the
real model's (eval mode, float64) on test samples, and ``trace_checkpoint`` traces one
test sample through it with ``focus`` on one neuron, so that only that neuron's weights
are finite-differenced.

    rec = trace_checkpoint("runs/digits-mlp", sample=7, neuron=(1, 3))
    rec.meta["true_class"], rec.meta["predicted_class"], rec.neuron(1, 3).dl_dz
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.errors import ChainruleError
from chainrule.explain import network as net
from chainrule.explain.record import Record
from chainrule.explain.spec import Layer, Spec

#: Test samples (besides the explained one) on which the folded logits are compared.
FOLD_CHECK_SAMPLES = 256
#: Largest |folded logits - model logits| accepted (both in float64).
FOLD_TOLERANCE = 1e-9


class ModelError(ChainruleError, ValueError):
    """A checkpoint that explain cannot turn into a chain of dense layers (one line)."""


@dataclass
class Run:
    """A training checkpoint with its recipe and its data split."""

    path: Path  # the checkpoint file itself
    state: dict
    recipe: object  # chainrule.train.recipes.Recipe
    split: object  # chainrule.train.datasets.Split

    @property
    def name(self) -> str:
        """The run directory's name (``digits-mlp``), or the file's stem."""
        if self.path.parent.name == "checkpoints":
            return self.path.parent.parent.name or self.path.stem
        return self.path.stem

    @property
    def epoch(self) -> int | None:
        return (self.state.get("progress") or {}).get("epoch")

    @property
    def test_accuracy(self) -> float | None:
        history = (self.state.get("progress") or {}).get("history") or []
        return history[-1].get("test_accuracy") if history else None


def checkpoint_file(path) -> Path:
    """The checkpoint a path names: a .safetensors file, or a run directory's last one."""
    path = Path(path)
    if path.is_dir():
        from chainrule.train.checkpoint import paths

        return paths(path)["last"]
    return path


def load_run(path, load_data: bool = True) -> Run:
    """Read a checkpoint (file or run directory), its recipe and its test split.

    Raises ``ModelError`` with a one-line message for a missing file, a file that is no
    chainrule training checkpoint, an unreadable recipe or missing data.
    """
    from chainrule.serialization import CheckpointError
    from chainrule.train import checkpoint
    from chainrule.train.recipes import Recipe

    file = checkpoint_file(path)
    try:
        state = checkpoint.read(file)
    except CheckpointError as e:
        raise ModelError(str(e)) from None
    except OSError as e:
        raise ModelError(f"{file}: cannot read the checkpoint: {e.strerror or e}") from None
    try:
        recipe = Recipe.from_dict(state["recipe"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{file}: the checkpoint's recipe is unreadable ({e})") from None
    if not isinstance(state.get("model"), dict):
        raise ModelError(f"{file}: the checkpoint holds no model state")
    run = Run(file, state, recipe, None)
    if load_data:
        load_data_split(run)
    return run


def load_data_split(run: Run) -> None:
    """Load the run's data split into ``run.split`` (ModelError if it cannot be read)."""
    from chainrule.data import DataError
    from chainrule.train.datasets import load_split

    try:
        run.split = load_split(run.recipe)
    except (DataError, ValueError, OSError) as e:
        raise ModelError(f"{run.path}: cannot load its {run.recipe.dataset} test split: "
                         f"{' '.join(str(e).split())}") from None


def build_model(run: Run, dtype=np.float64):
    """The run's model with the checkpoint's weights, in eval mode, as ``dtype``.

    float64 by default, so that the folded network can be compared with it exactly;
    ``dtype=None`` keeps the checkpoint's own (float32), as training ran it.
    """
    from chainrule import nn
    from chainrule.train.models import build_model as build

    try:
        model = build(run.recipe, run.split.input_shape, run.split.num_classes)
        model.load_state_dict(run.state["model"])
    except (KeyError, ValueError) as e:
        raise ModelError(f"{run.path}: the weights do not fit the model its recipe "
                         f"describes ({' '.join(str(e).split())})") from None
    if dtype is None:
        return model.eval()
    dtype = np.dtype(dtype)
    for module in model.modules():
        if next(module.children(), None) is not None:
            continue
        for name, p in list(module.named_parameters()):
            setattr(module, name, nn.Parameter(np.asarray(p.data, dtype=dtype)))
        for name, b in list(module.named_buffers()):
            if np.issubdtype(b.data.dtype, np.floating):
                module.register_buffer(name, cr.tensor(np.asarray(b.data, dtype=dtype)))
    return model.eval()


def fold(model) -> tuple[list[Layer], list[str]]:
    """The dense layers of an eval-mode MLP, BatchNorm folded in; and where each came from.

    Returns (layers, sources): ``layers[k]`` has float64 weight (out, in), bias (out,) and
    activation "relu" (hidden) or "softmax" (the output layer, whose z are the logits);
    ``sources[k]`` names the modules it stands for, e.g.
    "model.1 Linear 64→16 + model.2 BatchNorm1d (folded) + model.3 ReLU".
    """
    from chainrule import nn

    layers: list[Layer] = []
    sources: list[str] = []
    pending = None  # [weight, bias, parts, normed] of the Linear being assembled

    def finish(activation: str) -> None:
        nonlocal pending
        weight, bias, parts, _ = pending
        layers.append(Layer(weight, bias, activation))
        sources.append(" + ".join(parts))
        pending = None

    for name, m in model.named_children():
        where = f"model.{name} {type(m).__name__}"
        if isinstance(m, nn.Flatten):
            if layers or pending is not None:
                raise ModelError(f"{where}: a Flatten after the first layer is not an MLP")
            continue
        if isinstance(m, nn.Dropout):  # the identity in eval mode
            part = f"{where} (identity in eval mode)"
            if pending is not None:
                pending[2].append(part)
            elif sources:
                sources[-1] += f" + {part}"
            continue
        if isinstance(m, nn.Linear):
            if pending is not None:  # two Linear layers in a row: a linear activation
                raise ModelError(f"{where}: two Linear layers without an activation between")
            w = np.asarray(m.weight.data, dtype=np.float64)
            b = (np.zeros(w.shape[0]) if m.bias is None
                 else np.asarray(m.bias.data, dtype=np.float64))
            arrow = f"{m.in_features}→{m.out_features}"
            pending = [w.copy(), b.copy(), [f"model.{name} Linear {arrow}"], False]
        elif isinstance(m, nn.BatchNorm1d):
            if pending is None or pending[3]:
                raise ModelError(f"{where}: a BatchNorm1d that follows no Linear")
            gamma = np.asarray(m.weight.data, dtype=np.float64)
            beta = np.asarray(m.bias.data, dtype=np.float64)
            mean = np.asarray(m.running_mean.data, dtype=np.float64)
            var = np.asarray(m.running_var.data, dtype=np.float64)
            scale = gamma / np.sqrt(var + m.eps)
            pending[0] = scale[:, None] * pending[0]
            pending[1] = scale * (pending[1] - mean) + beta
            pending[2].append(f"model.{name} BatchNorm1d (folded)")
            pending[3] = True
        elif isinstance(m, nn.ReLU):
            if pending is None:
                raise ModelError(f"{where}: a ReLU that follows no Linear")
            pending[2].append(f"model.{name} ReLU")
            finish("relu")
        else:
            raise ModelError(f"{where}: explain folds only Flatten, Linear, BatchNorm1d, ReLU "
                             "and Dropout")
    if pending is None:
        raise ModelError("the model does not end in a Linear layer (the logits)")
    pending[2].append("softmax")
    finish("softmax")
    return layers, sources


def folded_logits(layers: list[Layer], x: np.ndarray) -> np.ndarray:
    """The folded network's logits for the rows of ``x`` (NumPy, float64)."""
    a = np.asarray(x, dtype=np.float64)
    for k, layer in enumerate(layers):
        a = a @ layer.weight.T + layer.bias
        if k < len(layers) - 1:
            a = np.maximum(a, 0.0)
    return a


def model_logits(model, x: np.ndarray) -> np.ndarray:
    """The real model's eval-mode logits for the rows of ``x``."""
    with cr.no_grad():
        return model(cr.tensor(np.asarray(x, dtype=np.float64))).numpy().copy()


def fold_check(model, layers: list[Layer], x: np.ndarray) -> float:
    """max |folded logits - model logits| over the rows of ``x`` (0 up to rounding)."""
    return float(np.max(np.abs(folded_logits(layers, x) - model_logits(model, x))))


def checkpoint_spec(path, sample: int = 0, run: Run | None = None) -> Spec:
    """The network explain runs for test sample ``sample`` of the checkpoint at ``path``.

    The input is the sample (flattened), the target the one-hot true class, the loss
    cross-entropy on the softmax output, and lr the run's learning rate. ``meta`` tells
    where it all came from (shown in the tables' header and in the JSON).
    """
    run = run or load_run(path, load_data=False)
    recipe = run.recipe
    if recipe.model != "mlp":
        raise ModelError(
            f"{run.path}: a {recipe.model} checkpoint; explain shows an MLP's neurons (a chain "
            f"of dense layers). help: `chainrule graph --checkpoint {run.path}` draws its "
            "computational graph")
    if run.split is None:
        load_data_split(run)
    split = run.split
    n_test = len(split.y_test)
    if not 0 <= sample < n_test:
        raise ModelError(f"--sample: expected 0 to {n_test - 1} (the {recipe.dataset} test "
                         f"split has {n_test} samples), got {sample}")
    model = build_model(run)
    layers, sources = fold(model)
    x_all = np.asarray(split.x_test, dtype=np.float64).reshape(n_test, -1)
    x = x_all[sample]
    if x.shape[0] != layers[0].weight.shape[1]:
        raise ModelError(f"{run.path}: the first layer takes {layers[0].weight.shape[1]} "
                         f"inputs but a {recipe.dataset} sample has {x.shape[0]}")
    rows = np.concatenate([x[None], x_all[:FOLD_CHECK_SAMPLES]])
    check = fold_check(model, layers, rows)
    if not check <= FOLD_TOLERANCE * max(1.0, float(np.max(np.abs(folded_logits(layers, rows))))):
        raise ModelError(f"{run.path}: the folded layers' logits differ from the model's by "
                         f"{check:.3g}; this is a bug, please report it")
    logits = model_logits(model, x[None])[0]
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    true_class, predicted = int(split.y_test[sample]), int(np.argmax(logits))
    target = np.zeros(split.num_classes)
    target[true_class] = 1.0
    names = [str(c) for c in split.class_names] or [str(c) for c in range(split.num_classes)]
    meta = {
        "checkpoint": str(run.path),
        "run": run.name,
        "dataset": recipe.dataset,
        "model": recipe.model,
        "epoch": run.epoch,
        "test_accuracy": run.test_accuracy,
        "optimizer": recipe.optimizer,
        "batch_size": recipe.batch_size,
        "split": "test",
        "sample": sample,
        "test_samples": n_test,
        "true_class": true_class,
        "predicted_class": predicted,
        "probability": float(probs[predicted]),
        "class_names": names,
        "layers": sources,
        "batch_norm_folded": bool(recipe.batch_norm),
        "fold_check": check,
        "fold_check_samples": len(rows),
        "input_shape": list(split.input_shape),
        "image_shape": _image_shape(split.input_shape),
    }
    description = (f"test sample {sample} of {recipe.dataset}: true class "
                   f"{names[true_class]}, predicted {names[predicted]}")
    return Spec(tuple(layers), x[None].copy(), target[None], "cross_entropy",
                float(recipe.lr), run.name, description, False, meta)


def _image_shape(input_shape) -> list[int] | None:
    """(height, width) when a sample is a one-channel image (8x8 digits: 64 inputs)."""
    shape = tuple(int(n) for n in input_shape)
    if len(shape) == 3 and shape[0] == 1:
        return list(shape[1:])
    if len(shape) == 2:
        return list(shape)
    if len(shape) == 1 and shape[0] >= 16 and math.isqrt(shape[0]) ** 2 == shape[0]:
        return [math.isqrt(shape[0])] * 2
    return None


def default_neuron(spec: Spec) -> tuple[int, int]:
    """The neuron to explain when none is named: in the last hidden layer, the one with the
    largest |dl/dz| for this sample (the one the loss is most sensitive to); without a
    hidden layer, the output neuron of the true class."""
    last = len(spec.layers) - 1
    if last == 0:
        return 0, int(np.argmax(spec.targets[0]))
    grads: dict = {}

    def watch(kind, k, t):
        if kind == "z" and k == last - 1:
            t.register_hook(lambda g: grads.__setitem__("z", g.numpy().copy()))

    params = net.parameters([layer.weight for layer in spec.layers],
                            [layer.bias for layer in spec.layers])
    with np.errstate(all="ignore"):
        net.forward_sample(spec, params, spec.inputs[0], spec.targets[0], watch).backward()
    return last - 1, int(np.argmax(np.abs(grads["z"])))


def check_neuron(spec: Spec, neuron: tuple[int, int]) -> None:
    """Raise ModelError unless ``neuron`` = (layer, index) is a neuron of ``spec``."""
    layer, index = neuron
    sizes = ", ".join(f"{k}: {s}" for k, s in enumerate(spec.sizes[1:]))
    if not 0 <= layer < len(spec.layers):
        raise ModelError(f"--neuron: no layer {layer}; the model's layers (counted from 0) "
                         f"have {sizes} neurons")
    if not 0 <= index < spec.layers[layer].size:
        raise ModelError(f"--neuron: no neuron {index} in layer {layer}, which has "
                         f"{spec.layers[layer].size} (0 to {spec.layers[layer].size - 1})")


def trace_checkpoint(path, sample: int = 0, neuron: tuple[int, int] | None = None,
                     eps: float = 1e-6) -> Record:
    """Explain ``neuron`` = (layer, index) of the MLP checkpoint at ``path`` on test
    sample ``sample`` (see ``default_neuron`` when None). Raises ``ModelError``."""
    from chainrule.explain.tracing import trace

    spec = checkpoint_spec(path, sample)
    chosen = neuron is None
    neuron = default_neuron(spec) if chosen else (int(neuron[0]), int(neuron[1]))
    check_neuron(spec, neuron)
    spec.meta["neuron_chosen"] = "strongest" if chosen else "given"
    return trace(spec, eps, focus=neuron)
