"""Settings: every field checked, every refusal names its field (what /api/config's 400 says)."""

import pytest

from chainrule.playground.config import (
    DATASETS,
    DEFAULTS,
    MAX_HIDDEN_LAYERS,
    MAX_NEURONS,
    ConfigError,
    merge,
    task,
)


def test_defaults_are_tf_playgrounds_and_pass_their_own_checks():
    assert merge(DEFAULTS, DEFAULTS) == DEFAULTS
    assert (DEFAULTS["dataset"], DEFAULTS["hidden"], DEFAULTS["lr"], DEFAULTS["batch_size"]) == \
        ("circle", [4, 2], 0.03, 10)


def test_changes_keep_the_rest():
    new = merge(DEFAULTS, {"lr": 0.1, "hidden": [6, 6]})
    assert new["lr"] == 0.1 and new["hidden"] == [6, 6]
    assert {k: v for k, v in new.items() if k not in ("lr", "hidden")} == \
        {k: v for k, v in DEFAULTS.items() if k not in ("lr", "hidden")}


def test_features_take_the_input_layers_order():
    assert merge(DEFAULTS, {"features": ["sinx2", "x1"]})["features"] == ["x1", "sinx2"]


def test_whole_floats_pass_as_whole_numbers():
    assert merge(DEFAULTS, {"batch_size": 30.0})["batch_size"] == 30


BAD = [
    ({"dataset": "spirals"}, "dataset", 'did you mean "spiral"'),
    ({"dataset": 3}, "dataset", "the number 3"),
    ({"features": []}, "features", "at least one"),
    ({"features": "x1"}, "features", "list of feature names"),
    ({"features": ["x1", "x3"]}, "features[1]", "expected one of"),
    ({"features": ["x1", "x1"]}, "features", "twice"),
    ({"hidden": "4,2"}, "hidden", "list of layer sizes"),
    ({"hidden": [4, 0]}, "hidden[1]", "from 1 to 16"),
    ({"hidden": [4, 2.5]}, "hidden[1]", "whole number"),
    ({"hidden": [True]}, "hidden[0]", "whole number"),
    ({"activation": "gelu"}, "activation", "tanh, sigmoid, relu, linear"),
    ({"lr": 0}, "lr", "> 0"),
    ({"lr": -1}, "lr", "> 0"),
    ({"lr": "fast"}, "lr", "expected a number"),
    ({"lr": float("nan")}, "lr", "finite"),
    ({"lr": 1e300}, "lr", "<= 10"),
    ({"regularization": "L3"}, "regularization", "none, l1, l2"),
    ({"reg_rate": -0.1}, "reg_rate", "from 0"),
    ({"batch_size": 0}, "batch_size", "from 1 to 256"),
    ({"batch_size": 257}, "batch_size", "from 1 to 256"),
    ({"noise": 51}, "noise", "from 0 to 50"),
    ({"train_fraction": 0.05}, "train_fraction", "from 0.1 to 1"),
    ({"points": 5}, "points", "from 20 to 2000"),
    ({"seed": -1}, "seed", "from 0"),
    ({"seed": None}, "seed", "null"),
    ({"stop_epochs": 1.5}, "stop_epochs", "whole number"),
    ({"stop_loss": -1}, "stop_loss", "from 0"),
    ({"speed": 1000}, "speed", "from 0 to 240"),
    ({"learning_rate": 0.1}, "learning_rate", "unknown setting"),
    ([1, 2], "(body)", "JSON object"),
]


@pytest.mark.parametrize("changes, field, says", BAD,
                         ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD)])
def test_bad_settings_name_their_field(changes, field, says):
    with pytest.raises(ConfigError) as e:
        merge(DEFAULTS, changes)
    assert e.value.field == field
    assert says in str(e.value), str(e.value)
    assert str(e.value).startswith(f"{field}: ")


def test_a_network_too_large_for_the_page_is_refused_politely():
    with pytest.raises(ConfigError) as e:
        merge(DEFAULTS, {"hidden": [2] * (MAX_HIDDEN_LAYERS + 1)})
    assert e.value.field == "hidden" and "help: remove a layer" in str(e.value)
    with pytest.raises(ConfigError) as e:
        merge(DEFAULTS, {"hidden": [4, MAX_NEURONS + 1]})
    assert e.value.field == "hidden[1]" and f"at most {MAX_NEURONS} per layer" in str(e.value)
    assert merge(DEFAULTS, {"hidden": [MAX_NEURONS] * MAX_HIDDEN_LAYERS})  # the largest is fine


def test_every_dataset_has_a_task():
    tasks = {name: task({**DEFAULTS, "dataset": name}) for name in DATASETS}
    assert tasks["xor"] == "classification" and tasks["spiral3"] == "multiclass"
    assert tasks["multi-gauss"] == "regression"
