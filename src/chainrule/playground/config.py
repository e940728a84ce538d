"""The playground's settings: what ``POST /api/config`` takes, checked field by field.

A config is a plain dict of JSON values with these fields (the defaults are TensorFlow
Playground's)::

    dataset         circle xor gauss spiral (two classes), gauss3 spiral3 (three),
                    plane multi-gauss (regression), csv (your own points)
    features        a non-empty list of x1 x2 x1sq x2sq x1x2 sinx1 sinx2
    hidden          hidden layer sizes, e.g. [4, 2]: at most MAX_HIDDEN_LAYERS layers of
                    1 to MAX_NEURONS neurons ([] is a network with no hidden layer)
    activation      of the hidden layers: tanh sigmoid relu linear
    lr              the learning rate, > 0
    regularization  none l1 l2, and reg_rate >= 0 (the penalty's weight)
    batch_size      points per gradient step, 1 to MAX_BATCH
    noise           0 to 50 (percent, as TF Playground)
    train_fraction  the share of points trained on, 0.1 to 1 (the rest are the test set)
    points          how many points a generated dataset has
    seed            the data and the initial weights (reset keeps it, regenerate adds 1)
    stop_epochs     pause when the epoch counter reaches it (0: never)
    stop_loss       pause when the training loss falls to it or below (0: never)
    speed           epochs per second while playing (0: as fast as the engine goes)

Every check raises ``ConfigError`` naming the field, which the server turns into a 400.
"""

from __future__ import annotations

import difflib
import json
import math

from chainrule.errors import ChainruleError

CLASSIFICATION = ("circle", "xor", "gauss", "spiral")
MULTICLASS = ("gauss3", "spiral3")
REGRESSION = ("plane", "multi-gauss")
DATASETS = CLASSIFICATION + MULTICLASS + REGRESSION + ("csv",)
#: Feature id -> how the page writes it. The input layer's neuron i is FEATURES order.
FEATURES = {"x1": "X₁", "x2": "X₂", "x1sq": "X₁²", "x2sq": "X₂²", "x1x2": "X₁X₂",
            "sinx1": "sin(X₁)", "sinx2": "sin(X₂)"}
ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear")
REGULARIZATIONS = ("none", "l1", "l2")

#: The largest network the page draws: the explain tables count its layers from 0 with the
#: output layer last, so 7 hidden layers make 8 layers. It also keeps every exported
#: network within explain's own limit of 2048 weights and biases.
MAX_HIDDEN_LAYERS = 7
MAX_NEURONS = 16
#: explain traces at most 256 samples: the ledger of a batch must fit.
MAX_BATCH = 256
MIN_POINTS, MAX_POINTS = 20, 2000
MAX_LR = 10.0
MAX_REG_RATE = 10.0
MAX_SPEED = 240
MAX_STOP_EPOCHS = 10**7
MAX_SEED = 2**31 - 1

DEFAULTS = {
    "dataset": "circle",
    "features": ["x1", "x2"],
    "hidden": [4, 2],
    "activation": "tanh",
    "lr": 0.03,
    "regularization": "none",
    "reg_rate": 0.0,
    "batch_size": 10,
    "noise": 0.0,
    "train_fraction": 0.5,
    "points": 500,
    "seed": 0,
    "stop_epochs": 0,
    "stop_loss": 0.0,
    "speed": 30,
}
#: Changing one of these builds new data and a new network (the epoch counter restarts);
#: the others take effect at the next step, on the network as it is.
REBUILDS = ("dataset", "features", "hidden", "activation", "noise", "train_fraction",
            "points", "seed")


class ConfigError(ChainruleError, ValueError):
    """A setting the playground cannot use; ``field`` names it (``hidden[1]``)."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def merge(current: dict, changes) -> dict:
    """``current`` with ``changes`` applied, every changed field checked.

    ``changes`` is what the client sent (any JSON value); unknown fields are refused with
    the nearest known name, so a typo never passes silently.
    """
    if not isinstance(changes, dict):
        raise ConfigError("(body)", f"expected a JSON object of settings, got {_kind(changes)}. "
                          'help: send e.g. {"lr": 0.1, "hidden": [4, 2]}')
    out = dict(current)
    for key, value in changes.items():
        if key not in DEFAULTS:
            near = difflib.get_close_matches(str(key), DEFAULTS, n=1)
            hint = f' (did you mean "{near[0]}"?)' if near else ""
            raise ConfigError(str(key)[:40], f"unknown setting{hint}; the settings are "
                              f"{', '.join(DEFAULTS)}")
        out[key] = _CHECKS[key](value, key)
    return out


def task(config: dict) -> str:
    """``classification`` (two classes, tanh output, targets -1 and +1), ``multiclass``
    (softmax output, cross-entropy) or ``regression`` (linear output); a csv dataset's
    task comes from its labels."""
    if config["dataset"] in REGRESSION:
        return "regression"
    if config["dataset"] in MULTICLASS:
        return "multiclass"
    return "classification"


def _kind(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f"the string {json.dumps(v[:24])}"
    if isinstance(v, (int, float)):
        return f"the number {v}" if abs(v) < 1e15 else "a very large number"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def _choice(allowed):
    def check(v, field):
        if not isinstance(v, str) or v not in allowed:
            near = difflib.get_close_matches(v, allowed, n=1) if isinstance(v, str) else []
            hint = f' (did you mean "{near[0]}"?)' if near else ""
            raise ConfigError(field, f"expected one of {', '.join(allowed)}, got "
                              f"{_kind(v)}{hint}")
        return v
    return check


def _number(lo, hi, *, integer=False, above=False):
    """A finite number in [lo, hi] ((lo, hi] with ``above``), an int if ``integer``."""
    def check(v, field):
        kind = "a whole number" if integer else "a number"
        ok = (isinstance(v, int) or (isinstance(v, float) and not integer)
              or (isinstance(v, float) and v.is_integer()))
        if isinstance(v, bool) or not ok:
            raise ConfigError(field, f"expected {kind}, got {_kind(v)}")
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(field, f"expected a finite number, got {v}")
        low_ok = v > lo if above else v >= lo
        if not (low_ok and v <= hi):
            span = f"> {lo:g} and <= {hi:g}" if above else f"from {lo:g} to {hi:g}"
            raise ConfigError(field, f"expected {kind} {span}, got {v}")
        return int(v) if integer else float(v)
    return check


def _features(v, field):
    if not isinstance(v, list):
        raise ConfigError(field, f"expected a list of feature names ({', '.join(FEATURES)}), "
                          f"got {_kind(v)}")
    if not v:
        raise ConfigError(field, "expected at least one feature, got an empty list. help: "
                          'e.g. ["x1", "x2"]')
    for i, name in enumerate(v):
        _choice(tuple(FEATURES))(name, f"{field}[{i}]")
    if len(set(v)) != len(v):
        raise ConfigError(field, "lists a feature twice")
    return [name for name in FEATURES if name in v]  # the input layer's fixed order


def _hidden(v, field):
    if not isinstance(v, list):
        raise ConfigError(field, f"expected a list of layer sizes such as [4, 2], got {_kind(v)}")
    if len(v) > MAX_HIDDEN_LAYERS:
        raise ConfigError(field, f"{len(v)} hidden layers is more than the page draws: at "
                          f"most {MAX_HIDDEN_LAYERS} hidden layers ({MAX_HIDDEN_LAYERS + 1} "
                          "layers with the output). help: remove a layer")
    sizes = []
    for i, n in enumerate(v):
        if isinstance(n, int) and not isinstance(n, bool) and n > MAX_NEURONS:
            raise ConfigError(f"{field}[{i}]", f"{n} neurons is more than the page draws: at "
                              f"most {MAX_NEURONS} per layer. help: use {MAX_NEURONS} or fewer")
        sizes.append(_number(1, MAX_NEURONS, integer=True)(n, f"{field}[{i}]"))
    return sizes


_CHECKS = {
    "dataset": _choice(DATASETS),
    "features": _features,
    "hidden": _hidden,
    "activation": _choice(ACTIVATIONS),
    "lr": _number(0, MAX_LR, above=True),
    "regularization": _choice(REGULARIZATIONS),
    "reg_rate": _number(0, MAX_REG_RATE),
    "batch_size": _number(1, MAX_BATCH, integer=True),
    "noise": _number(0, 50),
    "train_fraction": _number(0.1, 1.0),
    "points": _number(MIN_POINTS, MAX_POINTS, integer=True),
    "seed": _number(0, MAX_SEED, integer=True),
    "stop_epochs": _number(0, MAX_STOP_EPOCHS, integer=True),
    "stop_loss": _number(0, 1e6),
    "speed": _number(0, MAX_SPEED, integer=True),
}
