"""Renderers: tables, JSON and figures carry the record's numbers, in both languages."""

import json
import re
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib
import matplotlib.text
import pytest
from fontTools.ttLib import TTFont
from matplotlib.colors import same_color
from matplotlib.lines import Line2D

from chainrule.cli import main
from chainrule.explain import EXAMPLES, FontWarning, draw_figure, fonts, tables_text, trace
from chainrule.explain.figure import NEG, POS, make_figure
from chainrule.explain.text import LANGS, TEXT, num

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


def _no_cjk_font_at_all(monkeypatch):
    """A broken install on a machine with no CJK font: no shipped files, none installed."""
    monkeypatch.setattr(fonts, "shipped_family", lambda: None)
    monkeypatch.setattr(fonts, "cjk_family", lambda: None)


def test_no_cjk_font_falls_back_to_english(records, tmp_path, monkeypatch):
    _no_cjk_font_at_all(monkeypatch)
    with pytest.warns(FontWarning, match="English labels"):
        path = draw_figure(records["lecture"], tmp_path / "x.svg", "zh")
    assert ET.parse(path).getroot().tag.endswith("svg")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FontWarning)
        draw_figure(records["lecture"], tmp_path / "y.svg", "en")  # English never warns


def test_cli_figure_prints_the_font_warning(tmp_path, monkeypatch, capsys):
    _no_cjk_font_at_all(monkeypatch)
    path = tmp_path / "f.png"
    assert main(["explain", "--figure", str(path), "--lang", "zh"]) == 0
    out, err = capsys.readouterr()
    assert "chainrule explain: warning: no font with Chinese glyphs" in err
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert "一、前向传播" in out  # the tables stay Chinese


# --- the shipped CJK font -------------------------------------------------------------------

SHIPPED = [fonts.FONT_DIR / name for name in fonts.SHIPPED_FILES]
HAN = re.compile(r"[\u4e00-\u9fff]")


def _cmap(path) -> set[int]:
    return set(TTFont(path).getBestCmap())


def _drawn(fig) -> list[str]:
    """Every string the figure draws: labels, titles, notes, the legend."""
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def _zh_records(records):
    """Each built-in example's zh figure, and the one-neuron figure (trained models)."""
    return [*records.values(), trace("mlp", focus=(1, 2)), trace("softmax", focus=(1, 0))]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_font_has_every_phrase_character(path):
    cmap = _cmap(path)
    zh = {ch for phrase in TEXT["zh"].values() for ch in phrase} - {"\n"}
    missing = sorted(ch for ch in zh | set(fonts.figure_charset()) if ord(ch) not in cmap)
    assert not missing, f"run tools/subset_cjk_font.py: {path.name} lacks {missing}"
    assert TTFont(path)["name"].getDebugName(1) == fonts.SHIPPED_FAMILY
    assert "SIL OPEN FONT LICENSE Version 1.1" in (path.parent / "OFL.txt").read_text()


def test_every_character_a_zh_figure_draws_is_in_the_shipped_font(records):
    cmaps = [_cmap(path) for path in SHIPPED]
    for record in _zh_records(records):
        drawn = set("".join(_drawn(make_figure(record, "zh")))) - {"\n"}
        assert HAN.search("".join(drawn))  # Chinese labels, not the English fallback
        for cmap in cmaps:
            assert not sorted(ch for ch in drawn if ord(ch) not in cmap), record.name


def _missing_glyph_warnings(draw) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_zh_figure_renders_with_no_missing_glyph(records, tmp_path, monkeypatch):
    # Only the shipped subset may supply Chinese: an installed CJK font would hide a gap.
    monkeypatch.setattr(fonts, "_known_cjk_families", lambda: [])

    def draw():
        draw_figure(records["lecture"], tmp_path / "zh.png", "zh")
        draw_figure(trace("mlp", focus=(1, 2)), tmp_path / "neuron.png", "zh")

    assert _missing_glyph_warnings(draw) == []
    # A phrase with a character the subset lacks is caught by the same check.
    monkeypatch.setitem(TEXT["zh"], "fig_input_layer", "输入层龘")
    assert any("CJK UNIFIED IDEOGRAPH-9F98" in m for m in _missing_glyph_warnings(draw))


def test_zh_figure_uses_the_shipped_font(records):
    fig = make_figure(records["lecture"], "zh")
    title = next(t for t in fig.findobj(matplotlib.text.Text)
                 if t.get_text().startswith(TEXT["zh"]["fig_forward"]))
    assert fonts.SHIPPED_FAMILY in title.get_fontfamily()


# --- SVG, legends, the slips ----------------------------------------------------------------


@pytest.mark.parametrize("lang, label, family", [("en", "Forward pass", "DejaVu Sans"),
                                                 ("zh", "前向传播", fonts.SHIPPED_FAMILY)])
def test_svg_keeps_its_text_as_text(records, tmp_path, lang, label, family):
    before = matplotlib.rcParams["svg.fonttype"]
    svg = draw_figure(records["lecture"], tmp_path / "f.svg", lang).read_text("utf-8")
    assert "<text" in svg and label in svg and f"'{family}'" in svg
    assert matplotlib.rcParams["svg.fonttype"] == before  # only during the save


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("focus, key", [(None, "fig_legend"), ((1, 2), "nfig_legend")])
def test_figures_say_what_colour_and_thickness_mean(lang, focus, key):
    fig = make_figure(trace("mlp", focus=focus), lang)
    (legend,) = fig.legends
    assert legend.get_title().get_text() == TEXT[lang][key]
    labels = [t.get_text() for t in legend.get_texts()]
    if focus is None:  # the weights' range: the thickest edge is the largest |w|
        assert labels == ["w > 0", "w < 0", TEXT[lang]["fig_legend_size"].format(top="0.9")]
    else:
        assert labels == ["> 0", "< 0", TEXT[lang]["nfig_legend_size"]]
    samples = legend.findobj(Line2D)  # blue, red, then thin and thick grey
    assert [same_color(line.get_color(), c) for line, c in zip(samples, (POS, NEG))] == [
        True, True]
    widths = [line.get_linewidth() for line in samples[2:]]
    # The samples span the widths the edges are drawn with, thinnest to thickest.
    arrows = [t.arrow_patch for ax in fig.axes for t in ax.texts
              if getattr(t, "arrow_patch", None)]
    edges = [a.get_linewidth() for a in arrows
             if any(same_color(a.get_edgecolor()[:3], c) for c in (POS, NEG))]
    assert len(edges) > 10
    assert min(widths) <= min(edges) and max(widths) == pytest.approx(max(edges))


def test_neuron_figure_counts_the_weights_without_the_bias():
    # Neuron 2 of layer 1 has 4 inputs: 4 weights and the bias, never "5 weights".
    text = "\n".join(_drawn(make_figure(trace("mlp", focus=(1, 2)), "en")))
    assert "all 4 weights and the bias checked" in text
    assert "weights and biases checked" in text


def test_batch_formula_numbers_samples_from_0_like_the_tables(records):
    n = records["batch"].n_samples
    terms = " + ".join(f"l^{i}" for i in range(n))  # l^0 + l^1: samples 0 and 1
    assert f"L = {terms}" in EXAMPLES["batch"]["description"]
    assert f"L = {terms}" in TEXT["zh"]["example.batch"]
    zh = tables_text(records["batch"], "zh")
    assert f"{TEXT['zh']['sample']} 0" in zh and f"{TEXT['zh']['sample']} {n}" not in zh


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_zh_figure_and_output_have_no_english_left(records, name, tmp_path, capsys):
    # Function names (sigmoid, softmax, log) and formulas (dl/dz, w_kj) read the same in
    # both languages; any other word (figure, CE) is English left over.
    allowed = re.compile(r"sigmoid|tanh|relu|linear|softmax|log|eps|max|d[a-zA-Z]|kj")
    figure = tmp_path / "f.png"
    assert main(["explain", name, "--lang", "zh", "--figure", str(figure)]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]  # the title names the network
    lines += [line for s in _drawn(make_figure(records[name], "zh")) for line in s.split("\n")]
    for line in lines:
        if not HAN.search(line):
            assert not re.search(r"[A-Za-z]{2,}", allowed.sub("", line)), line
    assert lines and figure.read_bytes().startswith(PNG_MAGIC)


def test_a_figure_that_cannot_be_written_leaves_nothing(records, tmp_path, capsys):
    target = tmp_path / "taken.png"
    target.mkdir()  # a folder where the file should go: the rename fails
    with pytest.raises(OSError, match="is a folder, not a regular file"):
        draw_figure(records["lecture"], target, "zh")
    assert main(["explain", "--figure", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("chainrule explain: error: --figure: ")
    assert "is a folder, not a regular file" in err[0]
    assert [p.name for p in tmp_path.iterdir()] == ["taken.png"]  # no temporary file left


def _half_then_fail(monkeypatch):
    """savefig that writes half a picture to its target, then fails (a full disk, say)."""
    from matplotlib.figure import Figure

    def savefig(self, fname, **kwargs):
        if hasattr(fname, "write"):
            fname.write(b"half")
        else:
            Path(fname).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", savefig)


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_a_failed_save_leaves_the_earlier_figure_whole(records, tmp_path, monkeypatch, suffix):
    target = tmp_path / f"f.{suffix}"
    target.write_bytes(b"the earlier figure")
    _half_then_fail(monkeypatch)
    with pytest.raises(OSError, match="No space"):
        draw_figure(records["lecture"], target, "zh")
    assert target.read_bytes() == b"the earlier figure"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
