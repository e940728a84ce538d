"""Renderers: tables, JSON and figures carry the record's numbers, in both languages."""

import json
import re
import warnings
import xml.etree.ElementTree as ET

import pytest

from chainrule.cli import main
from chainrule.explain import EXAMPLES, FontWarning, draw_figure, fonts, tables_text, trace
from chainrule.explain.text import TEXT, num

NUMBER = re.compile(r"-?\d+\.\d+(?:e[+-]\d+)?")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def records():
    return {name: trace(name) for name in EXAMPLES}


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_tables_carry_the_same_numbers_in_both_languages(records, name):
    # Wide enough that no cell wraps: then the numbers come in the same order.
    en = tables_text(records[name], "en", width=250)
    zh = tables_text(records[name], "zh", width=250)
    assert NUMBER.findall(en) == NUMBER.findall(zh)
    assert len(NUMBER.findall(en)) > 20
    # At the usual width text cells may wrap differently, but the numbers are the same.
    assert sorted(NUMBER.findall(tables_text(records[name], "en"))) == sorted(
        NUMBER.findall(tables_text(records[name], "zh")))
    for word in ("前向传播", "反向传播", "链式法则", "梯度下降", "损失函数", "激活函数", "学习率"):
        assert word in zh
    for word in ("Forward pass", "Backward pass", "Chain rule", "Gradient descent"):
        assert word in en


def test_tables_show_the_derivation(records):
    text = tables_text(records["lecture"], "en")
    assert "1·1 + (-2)·(-1) + 1" in text  # z of the first neuron, written out
    assert "0.982" in text and "0.1192" in text
    assert "y − t = 0.8635 − 0" in text  # case 1
    assert "2·0.1018 + (-2)·(-0.08757)" in text  # case 2
    assert "✓" in text
    assert f"{num(records['lecture'].loss, 6)}" in text
    assert f"{num(records['lecture'].loss_after, 6)}" in text


def test_every_phrase_exists_in_both_languages():
    assert set(TEXT["en"]) - {k for k in TEXT["en"] if k.startswith("example.")} <= set(
        TEXT["zh"])
    for key in TEXT["zh"]:
        assert key in TEXT["en"] or key.startswith("example."), key


def test_neuron_focus(records):
    text = tables_text(records["mlp"], "en", neuron=(1, 2))
    assert "w[2←0]" in text and "w[0←0]" not in text


@pytest.mark.parametrize("name", ["lecture", "batch"])
def test_json_is_the_same_in_both_languages(name, capsys):
    assert main(["explain", name, "--json", "--lang", "en"]) == 0
    en = capsys.readouterr().out
    assert main(["explain", name, "--json", "--lang", "zh"]) == 0
    zh = capsys.readouterr().out
    assert en == zh
    doc = json.loads(en)
    assert doc["loss"] == trace(name).loss


@pytest.mark.parametrize("name", ["lecture", "mlp"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_png_figure(records, name, lang, tmp_path):
    path = draw_figure(records[name], tmp_path / f"{name}.png", lang)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 20_000


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_svg_figure(records, lang, tmp_path):
    path = draw_figure(records["batch"], tmp_path / "batch.svg", lang, sample=1)
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")


def test_figure_rejects_other_formats(records, tmp_path):
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        draw_figure(records["lecture"], tmp_path / "x.pdf")
    with pytest.raises(ValueError, match="sample"):
        draw_figure(records["lecture"], tmp_path / "x.png", sample=3)


def test_no_cjk_font_falls_back_to_english(records, tmp_path, monkeypatch):
    monkeypatch.setattr(fonts, "cjk_family", lambda: None)
    with pytest.warns(FontWarning, match="English labels"):
        path = draw_figure(records["lecture"], tmp_path / "x.svg", "zh")
    assert ET.parse(path).getroot().tag.endswith("svg")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FontWarning)
        draw_figure(records["lecture"], tmp_path / "y.svg", "en")  # English never warns


def test_cli_figure_prints_the_font_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fonts, "cjk_family", lambda: None)
    path = tmp_path / "f.png"
    assert main(["explain", "--figure", str(path), "--lang", "zh"]) == 0
    out, err = capsys.readouterr()
    assert "chainrule explain: warning: no font with Chinese glyphs" in err
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert "一、前向传播" in out  # the tables stay Chinese
