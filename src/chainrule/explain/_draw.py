"""The drawing kit of the explain figures: one scale, one palette, and the pieces both draw.

Both figures (``network_figure``: the whole small network; ``neuron_figure``: one neuron
of a trained model) are planned in data units at one scale, ``SCALE`` inches per unit on
both axes, so text sizes and spacings are planned in data units and labels never depend
on the screen. A figure draws each panel through a ``Panel``: boxes, text in boxes,
edges and the labels on them (placed where they overlap nothing drawn before), the
amplifier, headings; and under the panels the ``footer`` and the ``edge_legend``.

Where the two figures draw a piece at different sizes (the corner radius, the
amplifier, the footer's font), each keeps its own look: the sizes are the figure's
``Style``, passed in, not constants of this kit.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from chainrule.explain.text import num

SCALE = 0.72  # inches per data unit, both axes
PT = 1 / (72 * SCALE)  # one typographic point in data units

POS, NEG = "#1f5fbf", "#c0392b"  # edge colours: a positive and a negative number
NEURON_FILL, INPUT_FILL, AMP_FILL = "#eef4fb", "#f4f4f4", "#fde3b5"
BOX_EDGE = "#4a5a70"
FLOW = "#555555"  # the arrows inside one neuron: sum -> amplifier -> dl/dz
#: The footer, bottom up, in inches above the figure's bottom edge: the result line, the
#: loss function, the edge legend (a title and one row). Inches, not figure fractions, so
#: a tall figure does not lift them into the drawing.
FOOTER_AT = (0.12, 0.42, 0.72)
FOOTER_H = 1.2  # inches the footer takes


@dataclass(frozen=True)
class Amp:
    """The sizes of an amplifier, in data units from its centre."""

    half: float  # half the triangle's width (and the softmax box's)
    tip: float  # half the triangle's height
    box: float  # half the softmax box's height
    gain_at: float  # sigma'(z) is written this far above the centre
    note_at: float  # the softmax box's note is written this far above the centre
    gain_size: float  # font size of sigma'(z)
    caption_at: float | None = None  # "amplifier sigma'(z)" this far below; None: not written


@dataclass(frozen=True)
class Style:
    """What one figure draws at its own size (the two figures' looks differ here)."""

    rounding: float  # corner radius of a box
    edges: tuple[float, float]  # an edge's line width: thinnest (0) and thickest (|max|)
    sub_size: float  # font size of a heading's second line
    sub_gap: float  # gap between a heading and its second line
    title_gap: float  # a panel's title, below the panel's top
    footer_x: float  # the footer's left edge, as a fraction of the figure's width
    footer_size: float  # the footer's font size
    amp: Amp


@dataclass
class Box:
    """An axis-aligned rectangle in data units, for label collision checks."""

    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Box, margin: float = 0.04) -> float:
        dx = min(self.x1, other.x1) - max(self.x0, other.x0) + margin
        dy = min(self.y1, other.y1) - max(self.y0, other.y0) + margin
        return max(dx, 0) * max(dy, 0)


class Panel:
    """One panel of a figure: its axes (in data units, no frame) and what labels must avoid.

    ``taken`` holds every box drawn so far and every label placed: an edge label goes
    where it overlaps the least of them.
    """

    def __init__(self, figure, rect: tuple[float, float, float, float],
                 ext: tuple[float, float, float, float], style: Style):
        self.ax = figure.add_axes(rect)
        self.ax.set_xlim(ext[0], ext[1])
        self.ax.set_ylim(ext[2], ext[3])
        self.ax.axis("off")
        self.ext, self.style = ext, style
        self.taken: list[Box] = []

    def title(self, text: str) -> None:
        """The panel's title, top left."""
        self.ax.text(self.ext[0] + 0.2, self.ext[3] - self.style.title_gap, text, ha="left",
                     va="top", fontsize=12, fontweight="bold")

    def heading(self, x: float, y: float, title: str, sub: str | None = None) -> None:
        """A column's heading above ``y``, and an italic second line under it."""
        self.ax.text(x, y, title, ha="center", va="bottom", fontsize=10, fontweight="bold")
        if sub:
            self.ax.text(x, y - self.style.sub_gap, sub, ha="center", va="top",
                         fontsize=self.style.sub_size, color="#555555", style="italic")

    def box(self, x: float, y: float, w: float, h: float, fill: str, edge: str = BOX_EDGE,
            lw: float = 1.0) -> None:
        """A rounded box centred on (x, y); labels keep off it."""
        from matplotlib.patches import FancyBboxPatch

        self.ax.add_patch(FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h,
            boxstyle=f"round,pad=0,rounding_size={self.style.rounding}", facecolor=fill,
            edgecolor=edge, linewidth=lw, zorder=3))
        self.keep_clear(Box(x - w / 2, y - h / 2, x + w / 2, y + h / 2))

    def keep_clear(self, box: Box) -> None:
        """Keep edge labels off ``box`` (text drawn outside a box, an image)."""
        self.taken.append(box)

    def text_in(self, x: float, y: float, text: str, size: float, **style) -> None:
        """A line of text centred on (x, y), over the boxes."""
        self.ax.text(x, y, text, ha="center", va="center", fontsize=size, zorder=4, **style)

    def edge(self, p0, p1, value: float, vmax: float, colour: str | None = None) -> None:
        """An arrow p0 -> p1 in the colour of ``value``'s sign, thicker as |value| nears vmax."""
        colour = colour or (POS if value >= 0 else NEG)
        thin, thick = self.style.edges
        lw = thin + (thick - thin) * abs(value) / vmax if vmax > 0 else 1.0
        self.ax.annotate("", xy=p1, xytext=p0, zorder=1,
                         arrowprops={"arrowstyle": "-|>", "color": colour, "lw": lw,
                                     "alpha": 0.75, "shrinkA": 0, "shrinkB": 0,
                                     "mutation_scale": 9})

    def edge_label(self, p0, p1, text: str, colour: str, at, fontsize: float = 7.5) -> None:
        """Put ``text`` on the segment p0-p1 at the first fraction in ``at`` where it overlaps
        nothing taken, else where it overlaps the least."""
        w = (len(text) * 0.6 * fontsize + 5) * PT
        h = (fontsize * 1.25 + 3) * PT
        best, best_cost = None, None
        for s in at:
            x = p0[0] + s * (p1[0] - p0[0])
            y = p0[1] + s * (p1[1] - p0[1])
            box = Box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
            cost = sum(box.overlaps(other) for other in self.taken)
            if best_cost is None or cost < best_cost - 1e-9:
                best, best_cost = (x, y, box), cost
            if cost == 0:
                break
        x, y, box = best
        self.taken.append(box)
        self.ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color="black",
                     zorder=5, bbox={"boxstyle": "round,pad=0.15", "facecolor": "white",
                                     "edgecolor": colour, "linewidth": 0.8})

    def flow(self, p0, p1, shrink: bool = False) -> None:
        """A thin grey arrow inside one neuron (sum -> amplifier -> dl/dz).

        ``shrink`` leaves matplotlib's small gap at both ends."""
        props = {"arrowstyle": "-|>", "color": FLOW, "lw": 1, "mutation_scale": 8}
        if not shrink:
            props.update(shrinkA=0, shrinkB=0)
        self.ax.annotate("", xy=p1, xytext=p0, zorder=2, arrowprops=props)

    def amplifier(self, x: float, y: float, gain: float | None, T: dict) -> None:
        """A triangle pointing along the backward flow, its gain sigma'(z) above it.

        ``gain`` None is softmax with cross-entropy: no elementwise amplifier, a "×1" box.
        A closed amplifier (gain 0) is grey: nothing gets through.
        """
        from matplotlib.patches import Polygon, Rectangle

        a, ax = self.style.amp, self.ax
        if gain is None:
            ax.add_patch(Rectangle((x - a.half, y - a.box), 2 * a.half, 2 * a.box,
                                   facecolor="#eeeeee", edgecolor="#777777", zorder=3))
            ax.text(x, y, "×1", ha="center", va="center", fontsize=8.5, zorder=4)
            ax.text(x, y + a.note_at, T["fig_softmax_ce"], ha="center", va="bottom",
                    fontsize=7.5, color="#444444")
            return
        closed = gain == 0
        ax.add_patch(Polygon([(x - a.half, y + a.tip), (x - a.half, y - a.tip), (x + a.half, y)],
                             closed=True, facecolor="#dddddd" if closed else AMP_FILL,
                             edgecolor="#888888" if closed else "#b36b00", linewidth=1.2,
                             zorder=3))
        ax.text(x, y + a.gain_at, f"σ' = {num(gain)}", ha="center", va="bottom",
                fontsize=a.gain_size, color="#666666" if closed else "#7a4a00",
                fontweight="bold")
        if a.caption_at is not None:
            ax.text(x, y - a.caption_at, T["fig_amp"], ha="center", va="top", fontsize=7.5,
                    color="#666666")


def loss_line(T: dict, loss_name: str, more: str = "") -> str:
    """'loss function: <its formula>' (+ ``more``), for the footer."""
    # NOTE: "½" is drawn badly by some CJK fonts; "1/2" reads the same everywhere.
    loss = T[f"loss.{loss_name}"].replace("½", "1/2")
    return f"{T['loss_function']}{T[':']}{loss}{more}"


def footer(figure, style: Style, result: str, loss: str) -> None:
    """The two footer lines under the panels: the result, then the loss function."""
    inch = 1 / figure.get_figheight()
    for at, line in ((FOOTER_AT[0], result), (FOOTER_AT[1], loss)):
        figure.text(style.footer_x, at * inch, line, ha="left", va="bottom",
                    fontsize=style.footer_size, color="#222222")


def edge_legend(figure, title: str, labels: tuple[str, str, str],
                widths: tuple[float, float]) -> None:
    """Say in the footer what an edge's colour and thickness mean.

    Colour is the sign of the number on the edge, blue positive and red negative; the
    line width grows with its size, from ``widths[0]`` to ``widths[1]`` points (as
    ``Panel.edge`` draws them: ``Style.edges``). ``labels`` name the samples: positive,
    negative, thin to thick.
    """
    from matplotlib.legend_handler import HandlerTuple
    from matplotlib.lines import Line2D

    def line(colour, lw):
        return Line2D([], [], color=colour, lw=lw, alpha=0.75, solid_capstyle="round")

    thin, thick = (line("#777777", lw) for lw in widths)
    handles = [line(POS, 2.0), line(NEG, 2.0), (thin, thick)]
    bottom = FOOTER_AT[2] / figure.get_figheight()
    figure.legend(handles, list(labels), loc="lower left", bbox_to_anchor=(0.005, bottom),
                  ncol=3, frameon=False, title=title, alignment="left", fontsize=8.5,
                  title_fontsize=8.5, handlelength=2.6, columnspacing=1.6,
                  handler_map={tuple: HandlerTuple(ndivide=None, pad=0.6)})


@contextlib.contextmanager
def quiet_fonts():
    """Silence matplotlib's per-label "findfont" messages while drawing.

    NOTE: many CJK fonts have no bold face; matplotlib then logs a warning for every
    bold label and uses the regular weight, which is fine.
    """
    font_log = logging.getLogger("matplotlib.font_manager")
    level = font_log.level
    font_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        font_log.setLevel(level)


_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def sub(i: int) -> str:
    """``i`` in subscript digits: x₁₂."""
    return str(i).translate(_SUBSCRIPTS)
