"""The figure of a ``Record``: which picture, in which language, written whole.

A record of a small network gets the network figure (``network_figure``): the forward
network and the reversed, backward network, every neuron and weight. A record traced
with ``focus`` (one neuron of a trained model) gets the neuron figure
(``neuron_figure``): that neuron's neighbourhood, not every edge. Both are drawn with
the kit in ``_draw`` and matplotlib's object API (no pyplot state): Agg for PNG, the
SVG backend for SVG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chainrule.explain._draw import NEG, POS, quiet_fonts
from chainrule.explain.fonts import figure_lang
from chainrule.explain.network_figure import make_network_figure
from chainrule.explain.neuron_figure import make_neuron_figure
from chainrule.explain.record import Record
from chainrule.explain.text import text

__all__ = ["FORMATS", "NEG", "POS", "draw_figure", "image_size", "make_figure"]

FORMATS = ("png", "svg")


def draw_figure(record: Record, path: str | Path, lang: str = "en", sample: int = 0,
                dpi: int = 150) -> Path:
    """Write the two-panel figure to ``path``; the suffix (.png or .svg) picks the format.

    A record traced with ``focus`` (one neuron of a trained model) gets the neuron figure
    of ``chainrule.explain.neuron_figure``: that neuron's neighbourhood, not every edge.

    ``lang="zh"`` draws with the CJK font subset shipped in the package
    (``chainrule.explain.fonts``); SVG text stays text (``<text>``, the font named).
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(
            f"figure: unknown format {path.suffix or '(no suffix)'!r} for {path}; "
            "expected a .png or .svg file name"
        )
    import io

    import matplotlib

    from chainrule.serialization import write_atomic

    fig = make_figure(record, lang, sample)
    buf = io.BytesIO()
    # SVG keeps its text as <text> with the font named: selectable and searchable.
    with matplotlib.rc_context({"svg.fonttype": "none"}), quiet_fonts():
        fig.savefig(buf, format=fmt, dpi=dpi, facecolor="white", bbox_inches="tight",
                    pad_inches=0.15)
    write_atomic(path, buf.getvalue())  # whole or not at all, never half a picture
    return path


def make_figure(record: Record, lang: str = "en", sample: int = 0):
    """The figure as a matplotlib ``Figure`` (e.g. to show in a notebook)."""
    import matplotlib
    from matplotlib.figure import Figure

    if not 0 <= sample < record.n_samples:
        raise ValueError(f"figure: sample {sample} out of range: the record has "
                         f"{record.n_samples} sample(s)")
    lang, families = figure_lang(lang)
    rc = {"font.size": 9}
    if families:  # Chinese: the shipped CJK subset, registered now
        rc["font.family"] = families
    with matplotlib.rc_context(rc), quiet_fonts():
        if record.focus is not None:  # one neuron of a big network: its neighbourhood only
            return make_neuron_figure(record, text(lang), Figure)
        return make_network_figure(record, text(lang), sample, Figure)


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) in pixels of a PNG file, read from its header."""
    with open(path, "rb") as f:
        head = f.read(24)
    return int(np.frombuffer(head[16:20], ">u4")[0]), int(np.frombuffer(head[20:24], ">u4")[0])
