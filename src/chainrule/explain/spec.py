"""The network file: a small fully connected network, its input(s), target(s) and loss.

The format (DESIGN.md, "The explain view")::

    {"layers": [{"weight": [[0.15, 0.20], [0.25, 0.30]], "bias": [0.35, 0.35],
                 "activation": "sigmoid"},
                {"weight": [[0.40, 0.45], [0.50, 0.55]], "bias": [0.60, 0.60],
                 "activation": "sigmoid"}],
     "input": [0.05, 0.10], "target": [0.01, 0.99],
     "loss": "half_squared_error", "lr": 0.5}

``weight[j][i]`` is the weight from input i to neuron j (PyTorch's (out, in) layout), so
layer k computes z = W a + b and a' = sigma(z), where a is the previous layer's output
(the input x for the first layer). ``input`` and ``target`` may also be lists of samples;
then the total loss is L = sum over samples n of l^n.

Everything here is validation: ``parse_spec`` turns any JSON value into a ``Spec`` or
raises ``SpecError`` whose one-line message names the field and what was expected, e.g.
``layers[1].weight: expected 2 columns (the previous layer's size), got 3``.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chainrule._files import NotRegularFileError, open_regular, read_up_to
from chainrule.errors import ChainruleError

#: Activations by name. ``softmax`` is only for the output layer under ``cross_entropy``.
ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear", "softmax")
#: Per-sample losses l(y, t) by name; the total loss is L = sum over samples of l^n.
LOSSES = ("half_squared_error", "squared_error", "cross_entropy")

#: explain is for networks small enough to read: limits keep the finite differences and
#: the tables cheap (two forward passes per parameter).
MAX_PARAMETERS = 2048
MAX_SAMPLES = 256
#: The largest network file explain reads. 2048 parameters and 256 samples fit in well
#: under 1 MiB of JSON; the cap keeps a huge or endless file from costing unbounded memory.
MAX_FILE_BYTES = 16 * 1024 * 1024
#: How far the targets of ``cross_entropy`` may sum from 1 (see ``check_targets``).
TARGET_SUM_TOLERANCE = 1e-6

_TOP_FIELDS = ("layers", "input", "target", "loss", "lr", "name", "description")
_LAYER_FIELDS = ("weight", "bias", "activation")


class SpecError(ChainruleError, ValueError):
    """A network file (or dict) that does not describe a network explain can run.

    ``field`` is the JSON path of the offending value (``layers[1].weight``); the message
    is one line: ``"<field>: <what was expected, what was found>"``.
    """

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Layer:
    """One fully connected layer: z = weight @ a + bias, a' = activation(z).

    ``weight`` has shape (out, in) and ``bias`` shape (out,), both float64.
    """

    weight: np.ndarray
    bias: np.ndarray
    activation: str

    @property
    def size(self) -> int:
        """Number of neurons (the weight's rows)."""
        return self.weight.shape[0]


@dataclass(frozen=True)
class Spec:
    """A validated network with its samples: what ``chainrule.explain.trace`` runs.

    ``inputs`` has shape (N, n_in) and ``targets`` shape (N, n_out), one row per sample,
    even when the file gave a single sample (``several`` is False then).
    """

    layers: tuple[Layer, ...]
    inputs: np.ndarray
    targets: np.ndarray
    loss: str = "half_squared_error"
    lr: float = 0.5
    name: str = "network"
    description: str = ""
    several: bool = False
    #: Extra facts a caller wants carried into the record (e.g. a checkpoint's path).
    meta: dict = field(default_factory=dict)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer sizes, input first: (2, 2, 2) for a 2-2-2 network."""
        return (self.inputs.shape[1],) + tuple(layer.size for layer in self.layers)

    @property
    def n_samples(self) -> int:
        return self.inputs.shape[0]

    def to_dict(self) -> dict:
        """The network file that describes this spec (round-trips through ``parse_spec``)."""

        def samples(arr):
            return arr.tolist() if self.several else arr[0].tolist()

        out = {
            "layers": [
                {"weight": layer.weight.tolist(), "bias": layer.bias.tolist(),
                 "activation": layer.activation}
                for layer in self.layers
            ],
            "input": samples(self.inputs),
            "target": samples(self.targets),
            "loss": self.loss,
            "lr": self.lr,
        }
        if self.name != "network":
            out["name"] = self.name
        if self.description:
            out["description"] = self.description
        return out


# --- reading ------------------------------------------------------------------------------


def load_spec(path: str | Path) -> Spec:
    """Read and validate a network file (JSON). Raises ``SpecError`` naming the problem."""
    path = Path(path)
    try:
        with open_regular(path) as f:  # no FIFO (blocks) or /dev/zero (never ends)
            raw = read_up_to(f, MAX_FILE_BYTES + 1)  # one byte more tells "too large"
        if len(raw) > MAX_FILE_BYTES:
            raise SpecError(str(path), f"the network file is larger than "
                            f"{MAX_FILE_BYTES // (1024 * 1024)} MiB, the most explain reads "
                            "(explain is for small networks)")
        text = raw.decode("utf-8")
    except NotRegularFileError as e:
        raise SpecError(str(path), f"cannot read the network file: it {e.strerror}. help: "
                        "give a JSON file (see `chainrule explain --show lecture`)") from None
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise SpecError(str(path), f"cannot read the network file: {reason}") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise SpecError(
            str(path), f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
        ) from None
    except RecursionError:
        raise SpecError(str(path), "invalid JSON: nested too deeply") from None
    except ValueError as e:  # e.g. an integer literal with too many digits
        raise SpecError(str(path), f"invalid JSON: {e}") from None
    return parse_spec(obj, name=path.stem)


def parse_spec(obj, name: str = "network") -> Spec:
    """Validate a parsed JSON value (dicts, lists, numbers) and build a ``Spec``.

    Any value either gives a ``Spec`` or raises ``SpecError``; nothing else escapes.
    """
    if not isinstance(obj, dict):
        raise SpecError(
            "(top level)",
            f'expected a JSON object with "layers", "input" and "target", got {_kind(obj)}',
        )
    _no_unknown(obj, _TOP_FIELDS, "(top level)")
    for key in ("layers", "input", "target"):
        if key not in obj:
            raise SpecError(key, "missing field (required: layers, input, target)")

    loss = _choice(obj.get("loss", "half_squared_error"), LOSSES, "loss", "loss")
    lr = _number(obj.get("lr", 0.5), "lr")
    if lr < 0:
        raise SpecError("lr", f"expected a learning rate >= 0, got {lr}")
    name = _text(obj.get("name", name), "name")
    description = _text(obj.get("description", ""), "description")

    inputs, several = _samples(obj["input"], "input")
    n_samples = inputs.shape[0]
    if n_samples > MAX_SAMPLES:
        raise SpecError("input", f"at most {MAX_SAMPLES} samples, got {n_samples}")

    layers = _layers(obj["layers"], inputs.shape[1])
    _check_output(layers, loss)
    width = layers[-1].weight.shape[0]
    targets = _targets(obj["target"], several, n_samples, width)
    check_targets(loss, targets, several)
    return Spec(tuple(layers), inputs, targets, loss, lr, name, description, several)


def _layers(raw_layers, width: int) -> list:
    """The ``layers`` field as ``Layer``s, each checked against the width before it."""
    if not isinstance(raw_layers, list):
        raise SpecError("layers", f"expected a list of layers, got {_kind(raw_layers)}")
    if not raw_layers:
        raise SpecError("layers", "expected at least one layer, got an empty list")
    layers = []
    n_params = 0
    for k, raw in enumerate(raw_layers):
        layers.append(_layer(raw, k, width))
        width = layers[-1].weight.shape[0]
        n_params += layers[-1].weight.size + layers[-1].bias.size
        if n_params > MAX_PARAMETERS:
            raise SpecError(
                "layers",
                f"more than {MAX_PARAMETERS} weights and biases: explain is for small networks",
            )
    return layers


def _layer(raw, k: int, width: int) -> Layer:
    where = f"layers[{k}]"
    if not isinstance(raw, dict):
        raise SpecError(
            where, f'expected an object with "weight", "bias", "activation", got {_kind(raw)}'
        )
    _no_unknown(raw, _LAYER_FIELDS, where)
    for key in _LAYER_FIELDS:
        if key not in raw:
            raise SpecError(f"{where}.{key}", "missing field")
    weight = _matrix(raw["weight"], f"{where}.weight")
    what = "the input's size" if k == 0 else "the previous layer's size"
    if weight.shape[1] != width:
        raise SpecError(
            f"{where}.weight", f"expected {width} columns ({what}), got {weight.shape[1]}"
        )
    bias = _vector(raw["bias"], f"{where}.bias")
    if bias.shape[0] != weight.shape[0]:
        raise SpecError(
            f"{where}.bias",
            f"expected {weight.shape[0]} values (one per neuron: the weight's rows), "
            f"got {bias.shape[0]}",
        )
    activation = _choice(raw["activation"], ACTIVATIONS, f"{where}.activation", "activation")
    return Layer(weight, bias, activation)


def _check_output(layers: list, loss: str) -> None:
    """Softmax only on the output layer and only with cross-entropy, which needs it."""
    last = len(layers) - 1
    for k, layer in enumerate(layers):
        if layer.activation == "softmax" and (k != last or loss != "cross_entropy"):
            raise SpecError(
                f"layers[{k}].activation",
                'softmax is only for the output layer with "loss": "cross_entropy"',
            )
    if loss == "cross_entropy" and layers[last].activation != "softmax":
        raise SpecError(
            f"layers[{last}].activation",
            f'cross_entropy needs "softmax" on the output layer, got "{layers[last].activation}"',
        )


def _targets(raw, several: bool, n_samples: int, width: int) -> np.ndarray:
    """The ``target`` field: as many samples as ``input``, each of the output's width."""
    targets, target_several = _samples(raw, "target")
    if target_several != several or targets.shape[0] != n_samples:
        if several:
            raise SpecError(
                "target",
                f"expected {n_samples} samples (one per input sample), got "
                + (f"{targets.shape[0]}" if target_several else "a single sample"),
            )
        raise SpecError(
            "target",
            "expected a single sample (a list of numbers), like input, got a list of lists",
        )
    if targets.shape[1] != width:
        first = "target[0]" if several else "target"
        raise SpecError(
            first, f"expected {width} values (the output layer's size), got {targets.shape[1]}"
        )
    return targets


def check_targets(loss: str, targets: np.ndarray, several: bool) -> None:
    """Targets that make the printed backward formula true, or a ``SpecError``.

    With softmax and cross-entropy, dl/dz_k = y_k sum(t) - t_k, which is the lecture's
    dl/dz = y - t only when the target is a distribution: every t_k >= 0 and sum(t) = 1.
    explain prints y - t, so any other target is refused rather than shown next to a
    different number. (The network format has no class-index targets: a class c is the
    one-hot row with t_c = 1.) The squared errors take any finite target.
    """
    if loss != "cross_entropy":
        return
    for n, row in enumerate(targets):
        where = f"target[{n}]" if several else "target"
        if np.any(row < 0):
            k = int(np.flatnonzero(row < 0)[0])
            raise SpecError(
                f"{where}[{k}]", f"cross_entropy needs a target distribution (each t_k >= 0, "
                f"summing to 1), got {row[k]:g}. help: for class c use the one-hot row with "
                "t_c = 1")
        total = float(row.sum())
        if abs(total - 1.0) > TARGET_SUM_TOLERANCE:
            raise SpecError(
                where, f"cross_entropy needs a target distribution summing to 1 (within "
                f"{TARGET_SUM_TOLERANCE:g}), got a sum of {total:.10g}: dl/dz = y - t holds "
                "only then. help: divide the target by its sum, or use the one-hot row of "
                "the class")


# --- field checkers -----------------------------------------------------------------------


def _kind(v) -> str:
    """How a JSON value reads in an error message."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f"the string {_quote(v)}"
    if isinstance(v, int) and abs(v) > 10**15:
        return "a very large integer"
    if isinstance(v, (int, float)):
        return f"the number {v}"
    if isinstance(v, list):
        return "a list" if v else "an empty list"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def _quote(s: str) -> str:
    """A string as it appears in a message: quoted, escaped (one line), shortened."""
    return json.dumps(s if len(s) <= 24 else s[:21] + "...")


def _no_unknown(obj: dict, allowed: tuple, where: str) -> None:
    for key in obj:
        if key not in allowed:
            near = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f' (did you mean "{near[0]}"?)' if near else ""
            raise SpecError(
                where, f"unknown field {_quote(str(key))}{hint}; expected {', '.join(allowed)}"
            )


def _number(v, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SpecError(where, f"expected a number, got {_kind(v)}")
    try:
        x = float(v)
    except OverflowError:  # a huge JSON integer
        raise SpecError(where, "expected a finite number, got one too large for float64") from None
    if not math.isfinite(x):
        raise SpecError(where, f"expected a finite number, got {v}")
    return x


def _vector(v, where: str) -> np.ndarray:
    if not isinstance(v, list):
        raise SpecError(where, f"expected a list of numbers, got {_kind(v)}")
    if not v:
        raise SpecError(where, "expected a list of numbers, got an empty list")
    return np.array([_number(x, f"{where}[{i}]") for i, x in enumerate(v)], dtype=np.float64)


def _matrix(v, where: str) -> np.ndarray:
    if not isinstance(v, list):
        raise SpecError(where, f"expected a list of rows (one per neuron), got {_kind(v)}")
    if not v:
        raise SpecError(where, "expected a list of rows (one per neuron), got an empty list")
    rows = []
    for j, row in enumerate(v):
        if not isinstance(row, list):
            raise SpecError(
                f"{where}[{j}]", f"expected a row (a list of numbers), got {_kind(row)}"
            )
        rows.append(_vector(row, f"{where}[{j}]"))
        if rows[j].shape[0] != rows[0].shape[0]:
            raise SpecError(
                f"{where}[{j}]", f"expected {rows[0].shape[0]} values (like row 0), got "
                f"{rows[j].shape[0]}"
            )
    return np.stack(rows)


def _samples(v, where: str) -> tuple[np.ndarray, bool]:
    """One sample (a list of numbers) or several (a list of such lists): (N, n) array."""
    if not isinstance(v, list):
        raise SpecError(
            where, f"expected a list of numbers (or a list of samples), got {_kind(v)}"
        )
    if not v:
        raise SpecError(
            where, "expected a list of numbers (or a list of samples), got an empty list"
        )
    nested = [isinstance(x, list) for x in v]
    if all(nested):
        rows = []
        for n, row in enumerate(v):
            rows.append(_vector(row, f"{where}[{n}]"))
            if rows[n].shape[0] != rows[0].shape[0]:
                raise SpecError(
                    f"{where}[{n}]",
                    f"expected {rows[0].shape[0]} values (like {where}[0]), got {rows[n].shape[0]}",
                )
        return np.stack(rows), True
    if any(nested):
        raise SpecError(
            where, "mixes numbers and lists: give one sample [x1, x2] or samples [[...], [...]]"
        )
    return _vector(v, where)[None, :], False


def _choice(v, allowed: tuple, where: str, what: str) -> str:
    if not isinstance(v, str):
        raise SpecError(
            where, f"expected the name of a {what} ({', '.join(allowed)}), got {_kind(v)}"
        )
    if v not in allowed:
        near = difflib.get_close_matches(v, allowed, n=1)
        hint = f' (did you mean "{near[0]}"?)' if near else ""
        raise SpecError(
            where, f"unknown {what} {_quote(v)}{hint}; expected one of {', '.join(allowed)}"
        )
    return v


def _text(v, where: str) -> str:
    if not isinstance(v, str):
        raise SpecError(where, f"expected a string, got {_kind(v)}")
    return v
