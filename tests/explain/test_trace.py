"""trace: the numbers of the explain view, checked against independent computations.

The oracle here is plain NumPy backpropagation written out by hand, the lecture's
recursion; explain itself never does this (it reads the engine through hooks).
"""

import copy

import numpy as np
import pytest

from chainrule.explain import BIAS, EXAMPLES, parse_spec, trace
from chainrule.explain.record import Record

TOL = 1e-6


def _act(name, z):
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "linear":
        return z
    e = np.exp(z - z.max())
    return e / e.sum()


def numpy_forward(spec: dict, weights=None, biases=None):
    """Per-sample (zs, as, l) with plain NumPy, for the spec's own or given weights."""
    layers = spec["layers"]
    W = weights or [np.array(layer["weight"], float) for layer in layers]
    B = biases or [np.array(layer["bias"], float) for layer in layers]
    xs = np.array(spec["input"], float).reshape(-1, W[0].shape[1])
    ts = np.array(spec["target"], float).reshape(xs.shape[0], -1)
    out = []
    for x, t in zip(xs, ts):
        zs, as_ = [], []
        a = x
        for w, b, layer in zip(W, B, layers):
            z = w @ a + b
            a = _act(layer["activation"], z)
            zs.append(z)
            as_.append(a)
        loss = spec.get("loss", "half_squared_error")
        if loss == "half_squared_error":
            l = 0.5 * np.sum((a - t) ** 2)
        elif loss == "squared_error":
            l = np.sum((a - t) ** 2)
        else:
            l = -np.sum(t * np.log(a))
        out.append((zs, as_, l))
    return out


def numpy_backprop(spec: dict):
    """Per-sample dl/dz by the lecture's recursion (case 1, then case 2)."""
    layers = spec["layers"]
    W = [np.array(layer["weight"], float) for layer in layers]
    ts = np.array(spec["target"], float).reshape(len(numpy_forward(spec)), -1)
    result = []
    for (zs, as_, _), t in zip(numpy_forward(spec), ts):
        y = as_[-1]
        loss = spec.get("loss", "half_squared_error")
        dl_dz = [None] * len(layers)
        if loss == "cross_entropy":
            dl_dz[-1] = y * t.sum() - t
        else:
            dl_dy = (y - t) * (2 if loss == "squared_error" else 1)
            dl_dz[-1] = _slope(layers[-1]["activation"], zs[-1], y) * dl_dy
        for k in range(len(layers) - 2, -1, -1):
            dl_da = W[k + 1].T @ dl_dz[k + 1]
            dl_dz[k] = _slope(layers[k]["activation"], zs[k], as_[k]) * dl_da
        result.append(dl_dz)
    return result


def _slope(name, z, a):
    return {"sigmoid": a * (1 - a), "tanh": 1 - a * a, "relu": (z > 0) * 1.0,
            "linear": np.ones_like(z)}[name]


@pytest.fixture(scope="module")
def records():
    return {name: trace(name) for name in EXAMPLES}


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_product_equals_autograd_and_finite_difference(records, name):
    rec = records[name]
    for w in rec.weights:
        product = sum(x * g for x, g in zip(w.dz_dw, w.dl_dz))
        assert w.dl_dw == pytest.approx(product, abs=1e-15)
        assert abs(w.dl_dw - w.autograd) <= TOL, w
        assert abs(w.dl_dw - w.numeric) <= TOL, w
    assert rec.max_disagreement <= TOL
    assert rec.agrees()
    assert rec.to_dict()["checks"]["agree"] is True


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_values_match_a_numpy_backprop(records, name):
    rec, spec = records[name], EXAMPLES[name]
    forward, backward = numpy_forward(spec), numpy_backprop(spec)
    for n, ((zs, as_, l), dl_dz) in enumerate(zip(forward, backward)):
        assert rec.losses[n] == pytest.approx(l, rel=1e-12)
        for k in range(len(zs)):
            for j in range(len(zs[k])):
                nr = rec.neuron(k, j, n)
                assert nr.z == pytest.approx(zs[k][j], abs=1e-12)
                assert nr.a == pytest.approx(as_[k][j], abs=1e-12)
                assert nr.dl_dz == pytest.approx(dl_dz[k][j], abs=1e-12)
                if nr.sigma_prime is not None:
                    assert nr.dl_dz == pytest.approx(nr.sigma_prime * nr.dl_da, abs=1e-15)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_dz_dw_is_the_input_the_weight_multiplies(records, name):
    rec = records[name]
    for w in rec.weights:
        for n in range(rec.n_samples):
            if w.from_ == BIAS:
                assert w.dz_dw[n] == 1
            else:
                assert w.dz_dw[n] == rec.layer_input(w.layer, n)[w.from_]
            assert w.dl_dz[n] == rec.neuron(w.layer, w.to, n).dl_dz


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_update_and_loss_after(records, name):
    rec, spec = records[name], EXAMPLES[name]
    for w in rec.weights:
        assert w.updated == pytest.approx(w.value - rec.lr * w.dl_dw, abs=1e-15)
    # Rebuild the weights from the JSON and recompute the loss with plain NumPy.
    doc = rec.to_dict()
    W = [np.array(layer["weight"], float) for layer in spec["layers"]]
    B = [np.array(layer["bias"], float) for layer in spec["layers"]]
    for w in doc["weights"]:
        if w["from"] == "bias":
            B[w["layer"]][w["to"]] = w["updated"]
        else:
            W[w["layer"]][w["to"], w["from"]] = w["updated"]
    after = sum(l for _, _, l in numpy_forward(spec, W, B))
    assert doc["loss_after"] == pytest.approx(after, rel=1e-12)
    assert doc["loss"] == pytest.approx(sum(l for _, _, l in numpy_forward(spec)), rel=1e-12)


@pytest.mark.parametrize("name", [n for n in EXAMPLES if isinstance(EXAMPLES[n]["input"][0], list)])
def test_multi_sample_gradient_is_the_sum_of_single_sample_ones(records, name):
    rec = records[name]
    assert rec.several and rec.n_samples > 1
    singles = []
    for x, t in zip(EXAMPLES[name]["input"], EXAMPLES[name]["target"]):
        one = copy.deepcopy(EXAMPLES[name])
        one["input"], one["target"] = x, t
        singles.append(trace(one))
    assert rec.loss == pytest.approx(sum(s.loss for s in singles), rel=1e-14)
    for w in rec.weights:
        parts = [s.weight(w.layer, w.to, w.from_) for s in singles]
        assert w.dl_dw == pytest.approx(sum(p.dl_dw for p in parts), abs=1e-14)
        assert w.products == pytest.approx([p.dl_dw for p in parts], abs=1e-15)
    assert rec.per_sample_check <= 1e-12
    # The neurons of each sample are those of the single-sample run.
    for n, s in enumerate(singles):
        for nr in s.neurons:
            assert rec.neuron(nr.layer, nr.index, n).dl_dz == pytest.approx(nr.dl_dz, abs=1e-15)


def test_json_fields(records):
    doc = records["lecture"].to_dict()
    assert {"loss", "loss_after", "neurons", "weights", "max_disagreement"} <= set(doc)
    assert set(doc["neurons"][0]) == {"layer", "index", "z", "a", "sigma_prime", "dl_da",
                                      "dl_dz"}
    assert set(doc["weights"][0]) == {"layer", "to", "from", "value", "dz_dw", "dl_dz",
                                      "dl_dw", "autograd", "numeric", "updated"}
    assert [w["from"] for w in doc["weights"][:3]] == [0, 1, "bias"]
    assert len(doc["neurons"]) == 4 and len(doc["weights"]) == 12
    batch = records["batch"].to_dict()
    assert [n["sample"] for n in batch["neurons"]] == [0] * 4 + [1] * 4
    assert isinstance(batch["weights"][0]["dz_dw"], list)
    assert batch["loss"] == pytest.approx(sum(batch["loss_per_sample"]))


def test_lecture_numbers(records):
    """The lecture's forward pass: x = (1, -1) gives 0.98, 0.12, then 0.86, 0.11."""
    rec = records["lecture"]
    assert [round(n.a, 2) for n in rec.layer_neurons(0)] == [0.98, 0.12]
    assert [round(n.a, 2) for n in rec.layer_neurons(1)] == [0.86, 0.11]
    assert rec.loss_after < rec.loss


def test_relu_off_closes_the_amplifier(records):
    rec = records["mlp"]
    off = rec.neuron(1, 2)
    assert off.z < 0 and off.sigma_prime == 0 and off.dl_dz == 0
    assert all(w.dl_dw == 0 for w in rec.layer_weights(1) if w.to == 2)


def test_trace_accepts_spec_dict_name_and_path(tmp_path):
    import json

    path = tmp_path / "net.json"
    path.write_text(json.dumps(EXAMPLES["lecture"]))
    a, b, c = trace("lecture"), trace(path), trace(parse_spec(EXAMPLES["lecture"]))
    assert a.loss == b.loss == c.loss
    with pytest.raises(TypeError):
        trace(42)


def test_overflow_is_a_spec_error():
    from chainrule.explain import SpecError

    spec = copy.deepcopy(EXAMPLES["softmax"])
    spec["layers"][1]["weight"][2] = [1e308, 1e308, 1e308]
    with pytest.raises(SpecError, match="overflow"):
        trace(spec)


def test_record_is_a_record(records):
    assert all(isinstance(r, Record) for r in records.values())
