"""health.jsonl written and read back (hostile files too), the text report and the figure,
in English and Chinese."""

import json
import os
import warnings

import matplotlib.text
import pytest
from fontTools.ttLib import TTFont

import chainrule.nn as nn
import chainrule.optim as optim
from chainrule.explain import fonts
from chainrule.health import Monitor, records
from chainrule.health.figure import draw, make_figure
from chainrule.health.records import HealthFileError, append, read
from chainrule.health.report import report_text

from .helpers import batch, mlp, step


@pytest.fixture(scope="module")
def planted():
    """Records of a run with problems: a dead ReLU layer and a 10-layer sigmoid stack."""
    model = nn.Sequential(*mlp([64, 32], nn.ReLU), *mlp([10] + [16] * 10, nn.Sigmoid,
                                                           flatten=False))
    with __import__("chainrule").no_grad():
        model[1].bias.fill_(-10.0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    monitor = Monitor(model, every=2, log=None)
    for i in range(6):
        step(model, opt, monitor, *batch(i))
    return monitor.records


def _write(path, recs):
    for r in recs:
        append(path, r)
    return path


def test_records_survive_the_round_trip_and_nan_becomes_null(tmp_path, planted):
    path = _write(tmp_path / "health.jsonl", planted)
    assert read(tmp_path).records == json.loads(json.dumps(planted))
    append(path, {"step": 99, "loss": float("nan"), "activations": [], "params": []})
    assert read(path).records[-1]["loss"] is None
    assert read(path).every == 2


def test_a_step_written_twice_keeps_its_last_record(tmp_path):
    path = tmp_path / "health.jsonl"
    for step_, loss in ((0, 1.0), (5, 2.0), (5, 3.0)):  # a resumed run repeats step 5
        append(path, {"step": step_, "loss": loss, "activations": [], "params": []})
    assert [(r["step"], r["loss"]) for r in read(path).records] == [(0, 1.0), (5, 3.0)]


def test_a_last_line_cut_short_is_left_out_with_a_note(tmp_path):
    path = tmp_path / "health.jsonl"
    append(path, {"step": 0, "activations": [], "params": []})
    with open(path, "a") as f:
        f.write('{"step": 1, "activa')
    loaded = read(path)
    assert [r["step"] for r in loaded.records] == [0]
    assert loaded.notes == ["line 2 is incomplete (the run stopped while writing it): left out"]


@pytest.mark.parametrize("line", [
    "not json", "[1, 2]", '{"step": "0", "activations": [], "params": []}',
    '{"step": 0, "activations": {}, "params": []}',
    '{"step": 0, "activations": [{"layer": 2, "kind": "relu"}], "params": []}',
    '{"step": 0, "activations": [], "params": [{"name": "w", "layer": "", "grad_norm": "x"}]}',
])
def test_a_line_that_is_not_a_record_is_named(tmp_path, line):
    path = tmp_path / "health.jsonl"
    path.write_text(line + "\n" + json.dumps({"step": 1, "activations": [], "params": []})
                    + "\n")
    with pytest.raises(HealthFileError, match="line 1 is not a health record.*help:"):
        read(path)


def test_missing_empty_huge_and_not_regular_files_are_refused(tmp_path, monkeypatch):
    with pytest.raises(HealthFileError, match="trained without --health. help: .*--health"):
        read(tmp_path)
    (tmp_path / "health.jsonl").write_text("\n")
    with pytest.raises(HealthFileError, match="no records in it"):
        read(tmp_path)
    (tmp_path / "health.jsonl").write_text("x" * 100)
    monkeypatch.setattr(records, "MAX_BYTES", 50)
    with pytest.raises(HealthFileError, match="100 bytes, more than a health record holds"):
        read(tmp_path)
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="FIFO"):
        read(fifo)


def test_the_report_names_the_layers_and_the_warnings(planted):
    text = report_text(planted, "runs/x", "en", every=2)
    assert text.startswith("chainrule health: runs/x\n3 sampled steps (every 2 steps), steps "
                           "0 to 4\ninitial loss ")
    assert "    2      relu     0      0       —          100.0 %  0\n" in text
    assert "    5      sigmoid  0.52   0.0439  0.0 %      —        0.248\n" in text
    assert "    24.weight  0.349      0.204      -1.69\n" in text
    assert "warnings (2):" in text
    assert "step 0: layer 2: 100 % of ReLU units dead" in text
    assert "step 0: layer 1: gradient 0 (at layer 24: RMS " in text


def test_the_report_in_chinese_writes_each_warning_again_from_its_facts(planted):
    text = report_text(planted, "runs/x", "zh", every=2)
    assert "第 0 步：第 2 层：100 % 的 ReLU 单元已死亡" in text
    assert "第 0 步：第 1 层：梯度为 0（第 24 层的 RMS 为 " in text
    assert "梯度消失" in text and "建议：" in text
    assert "help" not in text


def test_a_healthy_report_says_so():
    rec = {"step": 0, "activations": [], "params": [], "warnings": []}
    assert report_text([rec], "r").endswith("no warnings: every signal stayed within its "
                                            "threshold")


def _drawn(fig) -> str:
    return "".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))


def test_the_figure_draws_every_layer_and_the_warnings(planted, tmp_path):
    path = draw(planted, tmp_path / "health.png", "runs/x")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    text = _drawn(make_figure(planted, "runs/x"))
    for label in ("saturated fraction", "dead ReLU fraction", "update-to-data ratio",
                  "gradient norm", "layer 2 (relu)", "layer 23 (sigmoid)", "24.weight",
                  "healthy: near 10^-3", "warnings: 2"):
        assert label in text


def test_the_chinese_figure_draws_with_the_shipped_font_and_no_missing_glyph(planted,
                                                                             tmp_path,
                                                                             monkeypatch):
    monkeypatch.setattr(fonts, "_known_cjk_families", lambda: [])  # the subset alone
    fig = make_figure(planted, "runs/x", "zh")
    drawn = _drawn(fig)
    for path in (fonts.FONT_DIR / name for name in fonts.SHIPPED_FILES):
        cmap = set(TTFont(path).getBestCmap())
        assert not sorted(ch for ch in set(drawn) if ord(ch) > 0x2E80 and ord(ch) not in cmap)
    assert "饱和比例" in drawn and "第 2 层" in drawn
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw(planted, tmp_path / "zh.png", "runs/x", "zh")
    assert not [w for w in caught if "missing from font" in str(w.message)]


def test_nan_statistics_are_drawn_as_gaps(tmp_path, planted):
    recs = json.loads(json.dumps(planted))
    recs[1]["params"][0]["grad_norm"] = None
    recs[1]["activations"][0]["dead"] = None
    with open(draw(recs, tmp_path / "gaps.png", "x"), "rb") as f:  # drawn, not raised
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_docs_describe_every_field_of_a_record(planted):
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "health.md").read_text()
    section = doc[doc.index("## health.jsonl"):doc.index("## health.png")]
    documented = set(re.findall(r"`(\w+)`", section))
    first = planted[0]
    fields = set(first) | set(first["activations"][0]) | set(first["params"][0]) \
        | set(first["warnings"][0]) | {"loss", "expected", "classes"}
    assert fields - documented == set()
