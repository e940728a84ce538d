"""Explain one neuron of a trained MLP checkpoint, and draw a checkpoint's graph."""

import io
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import rich.console

import chainrule as cr
from chainrule.cli import main
from chainrule.explain import tables_text
from chainrule.explain.checkpoint import (
    build_model,
    fold,
    folded_logits,
    load_run,
    model_logits,
    trace_checkpoint,
)
from chainrule.nn import functional as F
from chainrule.serialization import save
from chainrule.train.loop import run as train_run
from chainrule.train.recipes import recipe_for

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NUMBER = re.compile(r"-?\d+\.\d+(?:e[+-]\d+)?")
SAMPLE = 5


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny digits MLP, 64-16-8-10 with BatchNorm and dropout, trained for 2 epochs."""
    out = tmp_path_factory.mktemp("run") / "digits-tiny"
    recipe = recipe_for("digits", "mlp", epochs=2, hidden=(16, 8), batch_norm=True)
    train_run(recipe, out, show_progress=False,
              console=rich.console.Console(file=io.StringIO()))
    return out


@pytest.fixture(scope="module")
def loaded(run_dir):
    return load_run(run_dir)


# --- folding --------------------------------------------------------------------------------


def test_folded_network_equals_the_models_logits(loaded):
    model = build_model(loaded)  # float64, eval mode
    layers, sources = fold(model)
    assert [layer.activation for layer in layers] == ["relu", "relu", "softmax"]
    assert [layer.weight.shape for layer in layers] == [(16, 64), (8, 16), (10, 8)]
    assert "BatchNorm1d (folded)" in sources[0] and "Dropout" in sources[0]
    # The running statistics moved away from (0, 1): the fold is not a no-op.
    bn = model[2]
    assert np.abs(bn.running_var.data - 1).max() > 1e-3
    x = loaded.split.x_test.reshape(len(loaded.split.y_test), -1).astype(np.float64)
    assert np.abs(folded_logits(layers, x) - model_logits(model, x)).max() < 1e-12
    # The float64 copy is the checkpoint's own float32 model, up to float32 rounding.
    model32 = build_model(loaded, dtype=None)
    with cr.no_grad():
        logits32 = model32(cr.tensor(loaded.split.x_test)).numpy()
    assert np.abs(logits32 - folded_logits(layers, x)).max() < 1e-4


# --- the decomposition ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def strongest(run_dir):
    """Per layer, the neuron with the largest |dl/dz| on SAMPLE (one not switched off)."""
    rec = trace_checkpoint(run_dir, SAMPLE, (2, 0))  # every neuron's dl/dz is recorded
    return [max(rec.layer_neurons(k), key=lambda n: abs(n.dl_dz)).index
            for k in range(rec.n_layers)]


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_products_equal_autograd_and_finite_differences(run_dir, strongest, layer):
    index = strongest[layer]
    neuron = (layer, index)
    rec = trace_checkpoint(run_dir, SAMPLE, neuron)
    assert rec.focus == neuron and rec.agrees()
    me = rec.neuron(layer, index)
    incoming = [w for w in rec.weights if w.layer == layer and w.to == index]
    assert len(incoming) == rec.sizes[layer] + 1  # every incoming weight and the bias
    inputs = rec.layer_input(layer)
    for w in incoming:
        expected = 1.0 if w.is_bias else inputs[w.from_]
        assert w.dz_dw[0] == expected  # dz/dw is the input the weight multiplies
        assert w.dl_dz[0] == me.dl_dz
        assert w.dl_dw == pytest.approx(w.dz_dw[0] * w.dl_dz[0], abs=1e-15)
        assert abs(w.dl_dw - w.autograd) <= 1e-6
        assert abs(w.dl_dw - w.numeric) <= 1e-6
    assert any(abs(w.dl_dw) > 1e-4 for w in incoming)  # something to see
    # Backward recursion: case 2 from the layer above, case 1 (y - t) at the output.
    if layer < rec.n_layers - 1:
        above = rec.layer_neurons(layer + 1)
        dl_da = sum(rec.weight(layer + 1, m.index, index).value * m.dl_dz for m in above)
        assert me.dl_da == pytest.approx(dl_da, abs=1e-12)
        assert me.dl_dz == pytest.approx(me.sigma_prime * dl_da, abs=1e-12)
        outgoing = [w for w in rec.weights if w.layer == layer + 1]
        assert {w.from_ for w in outgoing} == {index} and len(outgoing) == len(above)
    else:
        assert me.dl_dz == pytest.approx(me.a - rec.targets[0][index], abs=1e-12)
    # Only the neuron's own weights were finite-differenced, not the whole model.
    assert len(rec.weights) < 0.5 * sum(a * b + b for a, b in zip(rec.sizes, rec.sizes[1:]))


def test_a_switched_off_neuron_passes_no_gradient(run_dir):
    rec = trace_checkpoint(run_dir, SAMPLE, (2, 0))
    off = next(n for k in (0, 1) for n in rec.layer_neurons(k) if n.z < -1e-3)
    rec = trace_checkpoint(run_dir, SAMPLE, (off.layer, off.index))
    me = rec.neuron(off.layer, off.index)
    assert me.a == 0 and me.sigma_prime == 0 and me.dl_dz == 0  # the amplifier is closed
    for w in rec.weights:
        if w.layer == off.layer and w.to == off.index:
            assert w.dl_dw == 0 and w.autograd == 0 and abs(w.numeric) <= 1e-9


def test_folded_gradients_are_the_real_models(run_dir, loaded):
    """The real model's gradient (unfolded, float64) is the folded one times the BN scale."""
    rec = trace_checkpoint(run_dir, SAMPLE, (0, 3))
    model = build_model(loaded)
    x = loaded.split.x_test[SAMPLE:SAMPLE + 1].astype(np.float64)
    F.cross_entropy(model(cr.tensor(x)), loaded.split.y_test[SAMPLE:SAMPLE + 1]).backward()
    bn = model[2]
    scale = bn.weight.data / np.sqrt(bn.running_var.data + bn.eps)
    real = model[1].weight.grad.numpy()[3]
    folded = np.array([rec.weight(0, 3, i).autograd for i in range(64)])
    np.testing.assert_allclose(real, scale[3] * folded, rtol=1e-9, atol=1e-12)
    last = model[9].weight.grad.numpy()  # the output Linear has nothing folded into it
    rec2 = trace_checkpoint(run_dir, SAMPLE, (2, 4))
    np.testing.assert_allclose(last[4], [rec2.weight(2, 4, i).autograd for i in range(8)],
                               rtol=1e-9, atol=1e-12)


def test_meta_names_the_sample(run_dir, loaded):
    rec = trace_checkpoint(run_dir, SAMPLE, (1, 0))
    true = int(loaded.split.y_test[SAMPLE])
    assert rec.meta["true_class"] == true and rec.targets[0][true] == 1
    assert rec.meta["predicted_class"] == int(np.argmax(rec.outputs[0]))
    assert rec.meta["fold_check"] < 1e-12 and rec.meta["batch_norm_folded"]
    np.testing.assert_array_equal(rec.inputs[0], loaded.split.x_test[SAMPLE])


def test_default_neuron_is_the_strongest_of_the_last_hidden_layer(run_dir):
    rec = trace_checkpoint(run_dir, SAMPLE)
    layer, index = rec.focus
    assert layer == 1
    strengths = [abs(n.dl_dz) for n in rec.layer_neurons(1)]
    assert strengths[index] == max(strengths)


# --- command line ---------------------------------------------------------------------------


def test_cli_tables_in_both_languages(run_dir, capsys):
    argv = ["explain", "--checkpoint", str(run_dir), "--sample", str(SAMPLE), "--neuron", "1:5"]
    assert main(argv) == 0
    en = capsys.readouterr().out
    assert main(argv + ["--lang", "zh"]) == 0
    zh = capsys.readouterr().out
    assert f"test sample {SAMPLE} of digits" in en and "true class" in en
    assert "only neuron 5 of layer 1" in en and "✓ they agree" in en
    assert "2: hidden layer" in en and "BatchNorm1d (folded)" in en
    assert f"测试样本 {SAMPLE}" in zh and "三者一致" in zh and "反向传播" in zh
    assert len(re.findall(r"w\[5←\d+\]", en)) == 2 * 16  # chain rule and update tables
    rec = trace_checkpoint(run_dir, SAMPLE, (1, 5))
    wide_en, wide_zh = tables_text(rec, "en", width=250), tables_text(rec, "zh", width=250)
    assert NUMBER.findall(wide_en) == NUMBER.findall(wide_zh)


def test_cli_top_lists_the_largest_gradients(run_dir, capsys):
    assert main(["explain", "--checkpoint", str(run_dir), "--sample", str(SAMPLE),
                 "--neuron", "0:3", "--top", "4"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^\s+0\s+(w\[3←\d+\]|b\[3\])", out, re.M)
    assert len(rows) == 2 * 5  # 4 weights and the bias, in sections 3 and 4
    assert "60 more are checked too" in out


def test_cli_json(run_dir, loaded, capsys):
    assert main(["explain", "--checkpoint", str(run_dir / "checkpoints" / "best.safetensors"),
                 "--sample", "0", "--neuron", "0:2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["focus"] == {"layer": 0, "index": 2}
    assert doc["meta"]["true_class"] == int(loaded.split.y_test[0])
    assert doc["checks"]["agree"]
    incoming = [w for w in doc["weights"] if w["layer"] == 0 and w["to"] == 2]
    assert len(incoming) == 65 and incoming[-1]["from"] == "bias"
    for w in incoming:
        assert abs(w["dl_dw"] - w["autograd"]) <= 1e-6 and abs(w["dl_dw"] - w["numeric"]) <= 1e-6


@pytest.mark.parametrize("suffix", ["png", "svg"])
@pytest.mark.parametrize("neuron, lang", [("0:3", "en"), ("2:1", "zh")])
def test_cli_figure(run_dir, tmp_path, suffix, neuron, lang, capsys):
    path = tmp_path / f"neuron.{suffix}"
    assert main(["explain", "--checkpoint", str(run_dir), "--sample", str(SAMPLE),
                 "--neuron", neuron, "--lang", lang, "--figure", str(path)]) == 0
    data = path.read_bytes()
    if suffix == "png":
        assert data.startswith(PNG_MAGIC) and len(data) > 50_000
    else:
        assert ET.fromstring(data).tag.endswith("svg")


def _bad_files(tmp_path, run_dir):
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint")
    plain = tmp_path / "plain.safetensors"
    save({"weight": np.zeros(3)}, plain)
    cnn = tmp_path / "cnn.safetensors"
    save({"format": "chainrule-checkpoint", "version": 1,
          "recipe": recipe_for("fashion-mnist", "cnn").to_dict(), "model": {}}, cnn)
    return text, plain, cnn


def test_bad_input_is_one_line_and_exit_2(run_dir, tmp_path, capsys):
    text, plain, cnn = _bad_files(tmp_path, run_dir)
    cases = [
        ([str(tmp_path / "nosuch")], "no such checkpoint"),
        ([str(text)], str(text)),
        ([str(plain)], "not a chainrule training checkpoint"),
        ([str(cnn)], "a cnn checkpoint"),
        ([str(run_dir), "--sample", "100000"], "--sample: expected 0 to"),
        ([str(run_dir), "--sample", "-1"], "--sample: expected 0 to"),
        ([str(run_dir), "--neuron", "3:0"], "--neuron: no layer 3"),
        ([str(run_dir), "--neuron", "0:16"], "--neuron: no neuron 16 in layer 0"),
        ([str(run_dir), "--neuron", "x"], "--neuron: expected LAYER:INDEX"),
        ([str(run_dir), "--top", "-1"], "--top: expected"),
    ]
    for args, message in cases:
        assert main(["explain", "--checkpoint", *args]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("chainrule explain: error: ") and message in err, (args, err)
        assert err.count("\n") == 1, err
    assert main(["explain", "lecture", "--checkpoint", str(run_dir)]) == 2
    assert "not both" in capsys.readouterr().err


# --- the graph of a checkpoint --------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["png", "svg", "dot"])
def test_graph_of_a_checkpoint(run_dir, tmp_path, suffix, capsys):
    path = tmp_path / f"model.{suffix}"
    assert main(["graph", "--checkpoint", str(run_dir), "--sample", str(SAMPLE),
                 "-o", str(path)]) == 0
    assert "boxes" in capsys.readouterr().out
    data = path.read_bytes()
    if suffix == "png":
        assert data.startswith(PNG_MAGIC)
    elif suffix == "svg":
        assert ET.fromstring(data).tag.endswith("svg")
    else:
        dot = data.decode()
        assert dot.startswith("digraph chainrule {") and dot.rstrip().endswith("}")
        for label in ("model.1 = Linear", "model.2 (BatchNorm1d) = Add", "model.3 = Relu",
                      "model.1.weight", "l = CrossEntropy"):
            assert label in dot, label
        assert "Dropout" not in dot  # the identity in eval mode records no op
        # Big tensors: their size and range, never every value.
        assert "1024 values in [" in dot


def test_graph_loss_is_the_explained_loss(run_dir, loaded):
    from chainrule.viz.network import model_graph

    model = build_model(loaded, dtype=None)
    g = model_graph(model, loaded.split.x_test[SAMPLE], int(loaded.split.y_test[SAMPLE]))
    rec = trace_checkpoint(run_dir, SAMPLE, (2, 0))
    assert float(g.root.value) == pytest.approx(rec.loss, rel=1e-5)  # float32 vs float64


def test_graph_bad_input(run_dir, tmp_path, capsys):
    text, plain, _ = _bad_files(tmp_path, run_dir)
    for args, message in [([str(tmp_path / "nosuch")], "no such checkpoint"),
                          ([str(plain)], "not a chainrule training checkpoint"),
                          ([str(run_dir), "--sample", "5000"], "--sample: expected 0 to")]:
        assert main(["graph", "--checkpoint", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("chainrule graph: error: ") and message in err
        assert err.count("\n") == 1
