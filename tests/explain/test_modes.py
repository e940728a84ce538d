"""``chainrule explain --modes``: all of dL/dw by forward mode (one pass per parameter)
and by reverse mode (one backward pass), counted in multiply-adds and timed, with the
same numbers from both."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chainrule.cli import main
from chainrule.explain import EXAMPLES, trace
from chainrule.explain.modes import counts, trace_modes
from chainrule.explain.table import modes_text
from chainrule.explain.tracing import as_spec


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_both_modes_give_the_engines_gradient(name):
    spec = as_spec(name)
    m = trace_modes(spec, repeats=1)
    record = trace(spec)
    autograd = {(w.layer, w.to, w.from_): w.autograd for w in record.weights}
    assert m.parameters == len(m.labels) == len(autograd)
    for label, f, r in zip(m.labels, m.by_forward, m.by_reverse):
        key = (label[0], label[1], "bias" if label[2] == "bias" else label[2])
        assert f == pytest.approx(autograd[key], rel=1e-10, abs=1e-14)
        assert r == pytest.approx(autograd[key], rel=1e-10, abs=1e-14)
    assert m.max_difference < 1e-12
    assert m.forward_mode.passes == m.parameters and m.reverse_mode.passes == 1
    assert m.forward_mode.seconds > 0 and m.reverse_mode.seconds > 0


def test_the_lectures_multiply_adds_by_hand():
    """2-2-2 network, one sample: a forward pass is 2·2 + 2·2 = 8 products; the backward
    pass passes dl/dz back through layer 1 (4), multiplies 4 amplifiers and makes 8
    products dz/dw × dl/dz: 16. Forward mode, per parameter, one forward pass (8) plus a
    tangent: a layer-0 weight 4 (dW a, dense) + 4 (W da in layer 1) + 4 amplifiers = 12,
    a layer-0 bias 8, a layer-1 weight 4 (dW a) + 2 amplifiers = 6, a layer-1 bias 2."""
    m = trace_modes(as_spec("lecture"), repeats=1)
    assert (m.forward_pass, m.backward_pass) == (8, 16)
    assert m.reverse_mode.multiply_adds == 24
    layer0 = 4 * (8 + 4 + 4 + 4) + 2 * (8 + 4 + 4)
    layer1 = 4 * (8 + 4 + 2) + 2 * (8 + 2)
    assert m.forward_mode.multiply_adds == layer0 + layer1 == 188


def test_counts_grow_with_the_samples_and_forward_mode_with_the_parameters():
    f1, b1, t1 = counts((3, 4, 2), 1)
    f5, b5, t5 = counts((3, 4, 2), 5)
    assert (f5, b5, t5) == (5 * f1, 5 * b1, [5 * t for t in t1])
    # a wider hidden layer: reverse mode grows with it once, forward mode per parameter too
    narrow = trace_modes(as_spec(EXAMPLES["mlp"]), repeats=1)
    ratio = narrow.forward_mode.multiply_adds / narrow.reverse_mode.multiply_adds
    assert ratio > narrow.parameters / 4


def test_tables_in_both_languages():
    m = trace_modes(as_spec("lecture"), repeats=1)
    en, zh = modes_text(m, "en"), modes_text(m, "zh")
    assert "5. Forward mode vs reverse mode" in en and "12 (one per parameter)" in en
    assert "188" in en and "✓ they agree" in en
    assert "五、前向模式与反向模式" in zh and "反向模式" in zh and "188" in zh
    assert "✓ 两者一致" in zh


def test_cli_tables_json_and_checkpoint_refusal(capsys, tmp_path):
    assert main(["explain", "lecture", "--modes"]) == 0
    out = capsys.readouterr().out
    assert "4. Gradient descent" in out and "5. Forward mode vs reverse mode" in out
    assert main(["explain", "xor", "--modes", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    modes = doc["modes"]
    assert modes["parameters"] == len(modes["gradients"]) == 9
    assert modes["forward_mode"]["passes"] == 9 and modes["reverse_mode"]["passes"] == 1
    assert modes["max_difference"] < 1e-12
    weights = {(w["layer"], w["to"], w["from"]): w["autograd"] for w in doc["weights"]}
    for g in modes["gradients"]:
        assert np.isclose(g["reverse_mode"], weights[(g["layer"], g["to"], g["from"])])
    assert main(["explain", "--checkpoint", str(tmp_path), "--modes"]) == 2
    assert "--modes" in capsys.readouterr().err
    assert main(["explain", "--modes"]) == 0  # the lecture by default
