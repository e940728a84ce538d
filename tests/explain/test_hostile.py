"""explain on hostile input, and no printed equation that is false.

Network files that are not regular files (a FIFO, /dev/zero) or too large end in one
line; cross-entropy targets that are not a distribution are refused, because the
printed dl/dz = y - t holds only for them; every loss's printed output-layer formula is
checked against the value printed beside it.
"""

from __future__ import annotations

import copy
import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from matplotlib.text import Text

from chainrule.cli import main
from chainrule.explain import EXAMPLES, SpecError, parse_spec, tables_text, trace
from chainrule.explain.figure import make_figure
from chainrule.explain.spec import MAX_FILE_BYTES, Spec, load_spec
from chainrule.explain.text import num, paren

from .test_spec import networks

SOFTMAX = EXAMPLES["softmax"]


def _softmax_with(target):
    spec = copy.deepcopy(SOFTMAX)
    spec["target"] = target
    return spec


def _explain_file(path, capsys):
    code = main(["explain", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


# --- files that are not regular, or too large -------------------------------------------------


def test_a_fifo_is_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "net.json"
    os.mkfifo(fifo)  # a blocking open would wait here forever for a writer
    code, out, err = _explain_file(fifo, capsys)
    assert code == 2 and out == ""
    assert err == (f"chainrule explain: error: {fifo}: cannot read the network file: it is a "
                   "FIFO (named pipe), not a regular file. help: give a JSON file (see "
                   "`chainrule explain --show lecture`)\n")


def test_dev_zero_is_refused_before_reading(capsys):
    code, out, err = _explain_file("/dev/zero", capsys)
    assert code == 2 and err.count("\n") == 1
    assert "/dev/zero: cannot read the network file: it is a character device" in err


def test_a_file_over_the_size_cap_is_refused_with_the_cap_named(tmp_path, capsys):
    path = tmp_path / "huge.json"
    path.write_bytes(b" " * (MAX_FILE_BYTES + 1))  # JSON whitespace, one byte over the cap
    code, out, err = _explain_file(path, capsys)
    assert code == 2 and err.count("\n") == 1
    assert "larger than 16 MiB, the most explain reads" in err


def test_a_file_at_the_size_cap_is_read(tmp_path):
    text = json.dumps(EXAMPLES["lecture"])
    path = tmp_path / "padded.json"
    path.write_text(text + " " * (MAX_FILE_BYTES - len(text)))
    assert path.stat().st_size == MAX_FILE_BYTES
    assert load_spec(path).to_dict()["layers"] == EXAMPLES["lecture"]["layers"]


def test_a_sparse_endless_looking_file_costs_one_read_past_the_cap(tmp_path):
    path = tmp_path / "sparse.json"
    with open(path, "wb") as f:
        f.truncate(64 << 30)  # 64 GiB of zeros on paper, nothing on disk
    with pytest.raises(SpecError, match="larger than 16 MiB"):
        load_spec(path)


# --- cross-entropy targets ----------------------------------------------------------------------

BAD_TARGETS = {
    "all ones": ([1, 1, 1], "target", "got a sum of 3"),
    "too small": ([0.2, 0.2, 0.2], "target", "got a sum of 0.6"),
    "negative": ([1.5, -0.5, 0], "target[1]", "each t_k >= 0, summing to 1), got -0.5"),
    "zero": ([0, 0, 0], "target", "got a sum of 0"),
    "one sample of several": ([[0, 1, 0], [0.5, 0.6, 0]], "target[1]", "got a sum of 1.1"),
}


@pytest.mark.parametrize("case", list(BAD_TARGETS))
def test_cross_entropy_targets_that_are_no_distribution_give_one_line(case, tmp_path, capsys):
    target, field, phrase = BAD_TARGETS[case]
    spec = _softmax_with(target)
    if isinstance(target[0], list):
        spec["input"] = [spec["input"], spec["input"]]
    path = tmp_path / "net.json"
    path.write_text(json.dumps(spec))
    code, out, err = _explain_file(path, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"chainrule explain: error: {field}: cross_entropy needs a target "
                          "distribution"), err
    assert phrase in err and "help:" in err


def test_targets_within_the_tolerance_of_a_distribution_are_accepted():
    rec = trace(_softmax_with([0.3, 0.3, 0.4 + 5e-7]))
    assert rec.agrees()
    with pytest.raises(SpecError, match="within 1e-06"):
        parse_spec(_softmax_with([0.3, 0.3, 0.4 + 2e-6]))


def test_a_spec_built_in_code_is_checked_too():
    good = parse_spec(SOFTMAX)
    bad = Spec(good.layers, good.inputs, np.array([[1.0, 1.0, 1.0]]), "cross_entropy")
    with pytest.raises(SpecError, match="target: cross_entropy needs a target distribution"):
        trace(bad)


def test_squared_error_targets_need_not_be_a_distribution():
    spec = copy.deepcopy(EXAMPLES["mlp"])
    spec["target"] = [5.0, -3.0]
    assert trace(spec).agrees()


# --- every printed formula holds ----------------------------------------------------------------


def _check_output_formulas(rec):
    """The output layer's printed rule, and the values printed beside it, agree."""
    text = tables_text(rec, "en", width=400)
    last = rec.n_layers - 1
    for n in range(rec.n_samples):
        for nr in rec.layer_neurons(last, n):
            y, t = nr.a, float(rec.targets[n][nr.index])
            if rec.loss_name == "half_squared_error":
                assert nr.dl_da == pytest.approx(y - t, rel=1e-9, abs=1e-12)
                assert f"y − t = {num(y)} − {paren(t)}" in text
            elif rec.loss_name == "squared_error":
                assert nr.dl_da == pytest.approx(2 * (y - t), rel=1e-9, abs=1e-12)
                assert f"2(y − t) = 2({num(y)} − {paren(t)})" in text
            else:
                assert nr.dl_dz == pytest.approx(y - t, rel=1e-9, abs=1e-12)
                assert nr.dl_da == pytest.approx(-t / y, rel=1e-9, abs=1e-12)
                assert (f"−t / y = −{paren(t)} / {num(y)};  dl/dz = y − t = {num(y)} − "
                        f"{paren(t)}") in text
    assert rec.chain_rule_check <= 1e-9 * max(1.0, *(abs(n.dl_dz) for n in rec.neurons))


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_printed_output_formulas_hold_for_every_example(name):
    _check_output_formulas(trace(name))


@settings(max_examples=40, deadline=None)
@given(networks())
def test_printed_output_formulas_hold_for_random_networks(spec):
    _check_output_formulas(trace(spec))


@pytest.mark.parametrize("name, formula", [
    ("xor", "2(y − t) = 2("),  # squared error: dl/dy = 2(y - t), not y - t
    ("lecture", "y − t = "),
    ("softmax", "y − t = "),
])
def test_the_neuron_figure_prints_the_loss_s_own_formula(name, formula):
    rec = trace(name, focus=(len(EXAMPLES[name]["layers"]) - 1, 0))
    nr = rec.neuron(rec.n_layers - 1, 0)
    t = float(rec.targets[0][0])
    labels = [x.get_text() for x in make_figure(rec).findobj(Text)]
    two = "2(" if formula.startswith("2") else ""
    close = ")" if two else ""
    assert f"{formula}{num(nr.a)} − {paren(t)}{close}" in labels
    if not two:
        assert not any(label.startswith("2(y − t)") for label in labels)
    else:
        assert f"y − t = {num(nr.a)} − {paren(t)}" not in labels


@pytest.mark.parametrize("kind", ["fifo", "dev zero"])
def test_explain_checkpoint_of_a_fifo_or_device_gives_one_line(tmp_path, kind, capsys):
    path = tmp_path / "last.safetensors"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    assert main(["explain", "--checkpoint", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"chainrule explain: error: load: {path}: is a ")
    assert "not a regular file" in err
