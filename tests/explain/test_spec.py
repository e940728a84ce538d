"""The network-file parser: every bad file gives one line naming the field; fuzzed JSON
gives a Spec (and a Record) or the typed error, never another exception."""

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainrule.cli import main
from chainrule.explain import EXAMPLES, SpecError, parse_spec, trace
from chainrule.explain.spec import Spec, load_spec

GOOD = {
    "layers": [
        {"weight": [[0.15, 0.20], [0.25, 0.30]], "bias": [0.35, 0.35], "activation": "sigmoid"},
        {"weight": [[0.40, 0.45], [0.50, 0.55]], "bias": [0.60, 0.60], "activation": "sigmoid"},
    ],
    "input": [0.05, 0.10], "target": [0.01, 0.99], "loss": "half_squared_error", "lr": 0.5,
}


def _with(path: str, value=None, delete=False):
    """GOOD with one field replaced (or deleted); path like 'layers.1.weight'."""
    spec = copy.deepcopy(GOOD)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    obj = spec
    for p in parents:
        obj = obj[p]
    if delete:
        del obj[last]
    else:
        obj[last] = value
    return json.dumps(spec)


# (file text, the field the error must name, a phrase it must contain)
BAD = {
    "wrong columns": (_with("layers.1.weight", [[1, 2, 3], [4, 5, 6]]), "layers[1].weight",
                      "expected 2 columns (the previous layer's size), got 3"),
    "wrong input size": (_with("input", [1, 2, 3]), "layers[0].weight",
                         "expected 3 columns (the input's size), got 2"),
    "ragged rows": (_with("layers.0.weight", [[1, 2], [3]]), "layers[0].weight[1]",
                    "expected 2 values (like row 0), got 1"),
    "bias length": (_with("layers.0.bias", [1, 2, 3]), "layers[0].bias",
                    "expected 2 values (one per neuron"),
    "target length": (_with("target", [1, 2, 3]), "target",
                      "expected 2 values (the output layer's size), got 3"),
    "unknown activation": (_with("layers.0.activation", "relu6"), "layers[0].activation",
                           'unknown activation "relu6"'),
    "unknown loss": (_with("loss", "hinge"), "loss", 'unknown loss "hinge"'),
    "missing weight": (_with("layers.1.weight", delete=True), "layers[1].weight",
                       "missing field"),
    "missing input": (_with("input", delete=True), "input", "missing field"),
    "missing target": (_with("target", delete=True), "target", "missing field"),
    "missing layers": (_with("layers", delete=True), "layers", "missing field"),
    "string weight": (_with("layers.0.weight", [[1, "a"], [3, 4]]), "layers[0].weight[0][1]",
                      'expected a number, got the string "a"'),
    "null bias": (_with("layers.0.bias", [None, 1]), "layers[0].bias[0]",
                  "expected a number, got null"),
    "boolean input": (_with("input", [True, 1]), "input[0]", "expected a number, got true"),
    "NaN lr": (_with("lr", float("nan")), "lr", "expected a finite number"),
    "negative lr": (_with("lr", -1), "lr", "expected a learning rate >= 0"),
    "empty layers": (_with("layers", []), "layers", "at least one layer"),
    "layer not object": (_with("layers.0", [1, 2]), "layers[0]", "expected an object"),
    "typo field": (_with("layers.0.activaton", "sigmoid"), "layers[0]",
                   'unknown field "activaton" (did you mean "activation"?)'),
    "mixed samples": (_with("input", [[1, 2], 3]), "input", "mixes numbers and lists"),
    "sample count": (_with("target", [[1, 2], [3, 4]]), "target", "expected a single sample"),
    "softmax hidden": (_with("layers.0.activation", "softmax"), "layers[0].activation",
                       "softmax is only for the output layer"),
    "invalid JSON": ('{"layers": [', None, "invalid JSON at line 1, column 13"),
    "not an object": ("[1, 2]", "(top level)", "expected a JSON object"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_file_gives_one_line_and_exit_code_2(case, tmp_path, capsys):
    text, field, phrase = BAD[case]
    path = tmp_path / "net.json"
    path.write_text(text)
    assert main(["explain", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1, err
    field = field or str(path)
    assert err.startswith(f"chainrule explain: error: {field}: "), err
    assert phrase in err, err


def test_cross_entropy_needs_softmax_output():
    spec = copy.deepcopy(GOOD)
    spec["loss"] = "cross_entropy"
    with pytest.raises(SpecError) as e:
        parse_spec(spec)
    assert e.value.field == "layers[1].activation"
    assert "needs \"softmax\"" in str(e.value)


def test_unreadable_file(tmp_path):
    with pytest.raises(SpecError, match="cannot read the network file"):
        load_spec(tmp_path / "missing.json")
    with pytest.raises(SpecError, match="cannot read the network file"):
        load_spec(tmp_path)


def test_too_many_parameters():
    spec = copy.deepcopy(GOOD)
    spec["layers"][0] = {"weight": [[0.0] * 2] * 2000, "bias": [0.0] * 2000,
                         "activation": "tanh"}
    with pytest.raises(SpecError, match="explain is for small networks"):
        parse_spec(spec)


def test_spec_round_trips_through_its_file():
    for name in EXAMPLES:
        spec = parse_spec(EXAMPLES[name])
        again = parse_spec(json.loads(json.dumps(spec.to_dict())))
        assert again.to_dict() == spec.to_dict()
        a, b = trace(spec).to_dict(), trace(again).to_dict()
        assert a == b


# --- fuzzing --------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.floats(allow_nan=True)
    | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["layers", "input", "target", "loss", "lr", "weight",
                                       "bias", "activation", "x"]), children, max_size=5),
    max_leaves=20,
)


def _run(obj):
    try:
        spec = parse_spec(obj)
    except SpecError as e:
        assert "\n" not in str(e) and str(e).startswith(e.field + ": ")
        return None
    assert isinstance(spec, Spec)
    try:
        return trace(spec)
    except SpecError as e:  # overflow, named
        assert "\n" not in str(e)
        return None


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_fuzz_any_json_gives_a_spec_or_the_typed_error(obj):
    _run(obj)


@st.composite
def mutated(draw):
    """GOOD with one field, anywhere, replaced by arbitrary JSON."""
    paths = ["input", "target", "loss", "lr", "layers", "layers.0", "layers.1.weight",
             "layers.1.weight.0", "layers.1.weight.0.1", "layers.0.bias", "layers.0.bias.1",
             "layers.0.activation", "layers.1"]
    path = draw(st.sampled_from(paths))
    return json.loads(_with(path, draw(json_values)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fuzz_mutated_files(obj):
    _run(obj)


@st.composite
def networks(draw):
    """Random valid networks: the product must match autograd and finite differences."""
    sizes = draw(st.lists(st.integers(1, 3), min_size=2, max_size=4))
    acts = ["sigmoid", "tanh", "linear"]
    loss = draw(st.sampled_from(["half_squared_error", "squared_error", "cross_entropy"]))
    num = st.floats(-2, 2, allow_nan=False).map(lambda v: round(v, 2))
    layers = []
    for k in range(1, len(sizes)):
        act = draw(st.sampled_from(acts))
        if k == len(sizes) - 1 and loss == "cross_entropy":
            act = "softmax"
        layers.append({"weight": [[draw(num) for _ in range(sizes[k - 1])]
                                  for _ in range(sizes[k])],
                       "bias": [draw(num) for _ in range(sizes[k])], "activation": act})
    n = draw(st.integers(1, 3))
    xs = [[draw(num) for _ in range(sizes[0])] for _ in range(n)]
    ts = [[abs(draw(num)) for _ in range(sizes[-1])] for _ in range(n)]
    if loss == "cross_entropy":  # a target distribution: normalised, or one-hot if all 0
        ts = [[v / sum(t) for v in t] if sum(t) > 0 else [1.0] + [0.0] * (len(t) - 1)
              for t in ts]
    return {"layers": layers, "input": xs if n > 1 else xs[0],
            "target": ts if n > 1 else ts[0], "loss": loss, "lr": 0.1}


@settings(max_examples=60, deadline=None)
@given(networks())
def test_random_networks_agree(spec):
    rec = trace(spec)
    scale = max(1.0, *(abs(w.dl_dw) for w in rec.weights))
    assert rec.max_disagreement <= 1e-6 * scale
    for w in rec.weights:
        assert w.updated == pytest.approx(w.value - 0.1 * w.dl_dw, abs=1e-15)
