"""The figure: the forward network and the reversed (backward) network, from one ``Record``.

Panel 1, forward pass: inputs on the left, every neuron with z = sum w a + b and
a = sigma(z), every weight on its edge, the bias under its neuron, the target after
each output.

Panel 2, backward pass: the same network reversed, output layer on the left. Each
neuron is drawn as the lecture draws it: what arrives (dl/dy from the loss for the output
layer, case 1; sum_k w_kj dl/dz_k from the layer after it for a hidden layer, case 2)
goes through an amplifier, a triangle whose gain sigma'(z) was fixed by the forward pass,
and leaves as dl/dz. The weights are the same numbers on the same edges, now carrying
gradients backwards.

Both panels share one scale (inches per data unit), so text sizes and spacings are
planned in data units and labels never depend on the screen. Drawn with matplotlib's
object API (no pyplot state), Agg for PNG and the SVG backend for SVG.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chainrule.explain.fonts import figure_lang
from chainrule.explain.record import Record
from chainrule.explain.text import num, sci, text

SCALE = 0.72  # inches per data unit, both axes
PT = 1 / (72 * SCALE)  # one typographic point in data units
DY = 1.5  # vertical distance between neurons
FORMATS = ("png", "svg")

POS, NEG = "#1f5fbf", "#c0392b"  # edge colours: positive and negative weights
#: The footer, bottom up, in inches above the figure's bottom edge: the result line, the
#: loss function, the edge legend (a title and one row). Inches, not figure fractions, so
#: a tall figure does not lift them into the drawing.
FOOTER_AT = (0.12, 0.42, 0.72)
FOOTER_H = 1.2  # inches the footer takes
NEURON_FILL, INPUT_FILL, AMP_FILL = "#eef4fb", "#f4f4f4", "#fde3b5"


@dataclass
class _Box:
    """An axis-aligned rectangle in data units, for label collision checks."""

    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: _Box, margin: float = 0.04) -> float:
        dx = min(self.x1, other.x1) - max(self.x0, other.x0) + margin
        dy = min(self.y1, other.y1) - max(self.y0, other.y0) + margin
        return max(dx, 0) * max(dy, 0)


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
            from chainrule.explain.neuron_figure import make_neuron_figure

            return make_neuron_figure(record, text(lang), Figure)
        return _Drawing(record, text(lang), sample, Figure).figure


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


class _Drawing:
    """Lays out and draws both panels. One instance per figure."""

    def __init__(self, record: Record, T: dict, sample: int, figure_cls):
        self.r, self.T, self.n = record, T, sample
        sizes = record.sizes
        self.top = (max(sizes) - 1) * DY / 2  # y of the first neuron in the tallest layer
        fwd = self._forward_extent()
        bwd = self._backward_extent()
        width = max(fwd[1] - fwd[0], bwd[1] - bwd[0])
        h_fwd, h_bwd = fwd[3] - fwd[2], bwd[3] - bwd[2]
        footer = FOOTER_H / SCALE
        height = h_fwd + h_bwd + footer
        self.figure = figure_cls(figsize=(width * SCALE, height * SCALE))
        W, H = width, height
        ax_f = self.figure.add_axes(
            ((W - (fwd[1] - fwd[0])) / 2 / W, (footer + h_bwd) / H, (fwd[1] - fwd[0]) / W,
             h_fwd / H))
        ax_b = self.figure.add_axes(
            ((W - (bwd[1] - bwd[0])) / 2 / W, footer / H, (bwd[1] - bwd[0]) / W, h_bwd / H))
        for ax, ext in ((ax_f, fwd), (ax_b, bwd)):
            ax.set_xlim(ext[0], ext[1])
            ax.set_ylim(ext[2], ext[3])
            ax.axis("off")
        self.labels: list[_Box] = []
        self._draw_forward(ax_f, fwd)
        self.labels = []
        self._draw_backward(ax_b, bwd)
        self._footer()
        edge_legend(self.figure, T["fig_legend"],
                    ("w > 0", "w < 0", T["fig_legend_size"].format(top=num(self._wmax()))))

    # --- geometry ------------------------------------------------------------------------

    def _ys(self, size: int) -> list[float]:
        """Neuron centres of a layer of ``size``, top to bottom, centred on 0."""
        return [(size - 1) * DY / 2 - j * DY for j in range(size)]

    NW, NH = 1.9, 0.9  # forward neuron box
    IW = 1.5  # input box width
    PW = 1.7  # backward in/out node width
    AX = 1.7  # backward: from a node's centre to its amplifier's centre

    def _gap(self, k: int) -> float:
        """Room for the weights of layer k: wider when many edges cross."""
        fan = max(self.r.sizes[k], self.r.sizes[k + 1])
        return max(2.8, 1.1 * fan)

    def _fx(self, c: int) -> float:
        """Forward panel: x of column c (0 = the inputs, k + 1 = layer k)."""
        x, width = 0.0, self.IW
        for k in range(c):
            x += width / 2 + self._gap(k) + self.NW / 2
            width = self.NW
        return x

    def _bx(self, c: int) -> float:
        """Backward panel: x of column c's in-node (column c shows layer L - 1 - c)."""
        L = self.r.n_layers
        return sum(2 * self.AX + self.PW + self._gap(L - 1 - i) for i in range(c))

    def _forward_extent(self):
        L = self.r.n_layers
        return (-self.IW / 2 - 0.4, self._fx(L) + self.NW / 2 + 1.8,
                -self.top - DY / 2 - 0.5, self.top + 2.3)

    def _backward_extent(self):
        L = self.r.n_layers
        return (-self.PW / 2 - 0.4, self._bx(L - 1) + 2 * self.AX + self.PW / 2 + 0.4,
                -self.top - DY / 2 - 1.0, self.top + 2.3)

    # --- drawing primitives ----------------------------------------------------------------

    def _box(self, ax, x, y, w, h, fill, edge="#4a5a70", lw=1.0, round_=True):
        from matplotlib.patches import FancyBboxPatch

        style = "round,pad=0,rounding_size=0.18" if round_ else "square,pad=0"
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=style,
                                    facecolor=fill, edgecolor=edge, linewidth=lw, zorder=3))
        self.labels.append(_Box(x - w / 2, y - h / 2, x + w / 2, y + h / 2))

    def _edge(self, ax, p0, p1, weight, wmax, arrow=False):
        colour = POS if weight >= 0 else NEG
        lw = 0.5 + 2.0 * abs(weight) / wmax if wmax > 0 else 1.0
        if arrow:
            ax.annotate("", xy=p1, xytext=p0, zorder=1,
                        arrowprops={"arrowstyle": "-|>", "color": colour, "lw": lw,
                                    "alpha": 0.75, "shrinkA": 0, "shrinkB": 0,
                                    "mutation_scale": 9})
        else:
            ax.plot([p0[0], p1[0]], [p0[1], p1[1]], color=colour, lw=lw, alpha=0.75,
                    zorder=1, solid_capstyle="round")

    def _edge_label(self, ax, p0, p1, label: str, colour: str, fontsize=7.5):
        """Put ``label`` on the segment p0-p1 where it overlaps no earlier label or box."""
        w = (len(label) * 0.6 * fontsize + 5) * PT
        h = (fontsize * 1.25 + 3) * PT
        best, best_cost = None, None
        # Near the arrow head first: the labels gather at the neuron that sums them.
        for s in (0.78, 0.7, 0.86, 0.62, 0.54, 0.46, 0.38, 0.3, 0.22):
            x = p0[0] + s * (p1[0] - p0[0])
            y = p0[1] + s * (p1[1] - p0[1])
            box = _Box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
            cost = sum(box.overlaps(other) for other in self.labels)
            if best_cost is None or cost < best_cost - 1e-9:
                best, best_cost = (x, y, box), cost
            if cost == 0:
                break
        x, y, box = best
        self.labels.append(box)
        ax.text(x, y, label, ha="center", va="center", fontsize=fontsize, color="black",
                zorder=5, bbox={"boxstyle": "round,pad=0.15", "facecolor": "white",
                                "edgecolor": colour, "linewidth": 0.8})

    def _wmax(self) -> float:
        return max((abs(w.value) for w in self.r.weights if not w.is_bias), default=1.0)

    # --- panel 1: forward --------------------------------------------------------------------

    def _draw_forward(self, ax, ext):
        r, T, n = self.r, self.T, self.n
        title = T["fig_forward"]
        if r.several:
            title += "    (" + T["fig_sample"].format(n=n, N=r.n_samples) + ")"
        ax.text(ext[0] + 0.2, ext[3] - 0.35, title, ha="left", va="top", fontsize=12,
                fontweight="bold")
        head_y = self.top + 1.0
        L = r.n_layers
        # Column headings.
        ax.text(0, head_y, T["fig_input_layer"], ha="center", va="bottom", fontsize=10,
                fontweight="bold")
        for k in range(L):
            key = "fig_output_layer" if k == L - 1 else "fig_hidden_layer"
            ax.text(self._fx(k + 1), head_y, T[key].format(k=k), ha="center", va="bottom",
                    fontsize=10, fontweight="bold")
            ax.text(self._fx(k + 1), head_y - 0.05, r.activations[k], ha="center", va="top",
                    fontsize=8.5, color="#555555", style="italic")
        # Nodes first (their boxes block labels), then edges and weight labels.
        x_ys = self._ys(r.sizes[0])
        for i, (y, v) in enumerate(zip(x_ys, r.inputs[n])):
            self._box(ax, 0, y, self.IW, 0.7, INPUT_FILL)
            ax.text(0, y, f"x{_sub(i)} = {num(float(v))}", ha="center", va="center",
                    fontsize=9.5, zorder=4)
        for k in range(L):
            x = self._fx(k + 1)
            for nr, y in zip(r.layer_neurons(k, n), self._ys(r.sizes[k + 1])):
                self._box(ax, x, y, self.NW, self.NH, NEURON_FILL)
                ax.text(x, y + 0.2, f"z = {num(nr.z)}", ha="center", va="center",
                        fontsize=9.5, zorder=4)
                ax.text(x, y - 0.2, f"a = {num(nr.a)}", ha="center", va="center",
                        fontsize=9.5, fontweight="bold", zorder=4)
                bias = r.weight(k, nr.index, "bias").value
                ax.text(x, y - self.NH / 2 - 0.06, f"b = {num(bias)}", ha="center", va="top",
                        fontsize=8, color="#555555")
                self.labels.append(_Box(x - 0.5, y - self.NH / 2 - 0.35, x + 0.5,
                                        y - self.NH / 2))
                if k == L - 1:
                    t = float(r.targets[n][nr.index])
                    ax.text(x + self.NW / 2 + 0.15, y,
                            f"{T['target']} t{_sub(nr.index)} = {num(t)}", ha="left",
                            va="center", fontsize=9, color="#333333")
        wmax = self._wmax()
        for k in range(L):
            x0 = self._fx(k) + (self.IW if k == 0 else self.NW) / 2
            x1 = self._fx(k + 1) - self.NW / 2
            ys_in, ys_out = self._ys(r.sizes[k]), self._ys(r.sizes[k + 1])
            for w in r.layer_weights(k):
                if w.is_bias:
                    continue
                p0, p1 = (x0, ys_in[w.from_]), (x1, ys_out[w.to])
                self._edge(ax, p0, p1, w.value, wmax, arrow=True)
            for w in r.layer_weights(k):
                if not w.is_bias:
                    p0, p1 = (x0, ys_in[w.from_]), (x1, ys_out[w.to])
                    self._edge_label(ax, p0, p1, num(w.value), POS if w.value >= 0 else NEG)

    # --- panel 2: backward -------------------------------------------------------------------

    def _draw_backward(self, ax, ext):
        r, T, n, AX, PW = self.r, self.T, self.n, self.AX, self.PW
        L = r.n_layers
        title = T["fig_backward"]
        if r.several:
            title += "    (" + T["fig_sample"].format(n=n, N=r.n_samples) + ")"
        ax.text(ext[0] + 0.2, ext[3] - 0.35, title, ha="left", va="top", fontsize=12,
                fontweight="bold")
        head_y = self.top + 1.0
        wmax = self._wmax()
        # Column c shows layer L-1-c: in-node at x, amplifier at x + AX, out-node x + 2AX.
        for c in range(L):
            k = L - 1 - c
            x = self._bx(c)
            key = "fig_output_layer" if k == L - 1 else "fig_hidden_layer"
            ax.text(x + AX, head_y, T[key].format(k=k), ha="center", va="bottom",
                    fontsize=10, fontweight="bold")
            ax.text(x + AX, head_y - 0.05, T["fig_case1"] if k == L - 1 else T["fig_case2"],
                    ha="center", va="top", fontsize=8.5, color="#555555", style="italic")
            softmax = r.activations[k] == "softmax"
            for nr, y in zip(r.layer_neurons(k, n), self._ys(r.sizes[k + 1])):
                # in-node: dl/da
                top = T["fig_start"] if k == L - 1 else T["fig_sum"]
                if softmax:
                    top = "y − t"
                self._box(ax, x, y, PW, 0.9, INPUT_FILL if k == L - 1 else "white")
                ax.text(x, y + 0.2, top, ha="center", va="center", fontsize=8.5, zorder=4,
                        color="#444444")
                ax.text(x, y - 0.2, num(nr.dl_dz if softmax else nr.dl_da), ha="center",
                        va="center", fontsize=9.5, zorder=4)
                # amplifier
                self._amplifier(ax, x + AX, y, nr.sigma_prime)
                # out-node: dl/dz
                self._box(ax, x + 2 * AX, y, PW, 0.9, NEURON_FILL)
                ax.text(x + 2 * AX, y + 0.2, "dl/dz", ha="center", va="center", fontsize=8.5,
                        zorder=4, color="#444444")
                ax.text(x + 2 * AX, y - 0.2, num(nr.dl_dz), ha="center", va="center",
                        fontsize=9.5, fontweight="bold", zorder=4)
                ax.annotate("", xy=(x + AX - 0.42, y), xytext=(x + PW / 2, y), zorder=2,
                            arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 1,
                                        "mutation_scale": 8, "shrinkA": 0, "shrinkB": 0})
                ax.annotate("", xy=(x + 2 * AX - PW / 2, y), xytext=(x + AX + 0.42, y),
                            zorder=2,
                            arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 1,
                                        "mutation_scale": 8, "shrinkA": 0, "shrinkB": 0})
        # Edges: from dl/dz of layer k (column c) to the in-node of layer k-1 (column c+1),
        # carrying w_kj: the sum_k w_kj dl/dz_k of case 2.
        for c in range(L - 1):
            k = L - 1 - c
            x0 = self._bx(c) + 2 * AX + PW / 2
            x1 = self._bx(c + 1) - PW / 2
            ys_from, ys_to = self._ys(r.sizes[k + 1]), self._ys(r.sizes[k])
            for w in r.layer_weights(k):
                if not w.is_bias:
                    self._edge(ax, (x0, ys_from[w.to]), (x1, ys_to[w.from_]), w.value, wmax,
                               arrow=True)
            for w in r.layer_weights(k):
                if not w.is_bias:
                    self._edge_label(ax, (x0, ys_from[w.to]), (x1, ys_to[w.from_]),
                                     num(w.value), POS if w.value >= 0 else NEG)
        ax.text(ext[0] + 0.2, ext[2] + 0.1, "▷ " + T["fig_amp"] + "\n"
                + T["backward_note"], ha="left", va="bottom", fontsize=8.5,
                color="#444444", linespacing=1.6)

    def _amplifier(self, ax, x, y, gain: float | None):
        """A triangle pointing along the backward flow, its gain sigma'(z) above it."""
        from matplotlib.patches import Polygon, Rectangle

        if gain is None:  # softmax + cross-entropy: no elementwise amplifier
            ax.add_patch(Rectangle((x - 0.42, y - 0.3), 0.84, 0.6, facecolor="#eeeeee",
                                   edgecolor="#777777", zorder=3))
            ax.text(x, y, "×1", ha="center", va="center", fontsize=8.5, zorder=4)
            ax.text(x, y + 0.38, self.T["fig_softmax_ce"], ha="center", va="bottom", fontsize=7.5,
                    color="#444444")
        else:
            closed = gain == 0
            ax.add_patch(Polygon([(x - 0.42, y + 0.38), (x - 0.42, y - 0.38), (x + 0.42, y)],
                                 closed=True, facecolor="#dddddd" if closed else AMP_FILL,
                                 edgecolor="#b36b00" if not closed else "#888888",
                                 linewidth=1.2, zorder=3))
            ax.text(x, y + 0.42, f"σ' = {num(gain)}", ha="center", va="bottom", fontsize=8.5,
                    color="#7a4a00" if not closed else "#666666", fontweight="bold")
        self.labels.append(_Box(x - 0.7, y - 0.4, x + 0.7, y + 0.75))

    def _footer(self):
        r, T = self.r, self.T
        line = T["fig_footer"].format(loss=num(r.loss, 6), after=num(r.loss_after, 6),
                                      lr=num(r.lr), dis=sci(r.max_disagreement))
        inch = 1 / self.figure.get_figheight()
        self.figure.text(0.01, FOOTER_AT[0] * inch, line, ha="left", va="bottom", fontsize=9,
                         color="#222222")
        # NOTE: "½" is drawn badly by some CJK fonts; "1/2" reads the same everywhere.
        loss = T[f"loss.{r.loss_name}"].replace("½", "1/2")
        if r.several:
            loss += f";  {T['total_loss']};  l^{self.n} = {num(r.losses[self.n], 6)}"
        self.figure.text(0.01, FOOTER_AT[1] * inch, f"{T['loss_function']}{T[':']}{loss}",
                         ha="left", va="bottom", fontsize=9, color="#222222")


def edge_legend(figure, title: str, labels: tuple[str, str, str],
                widths: tuple[float, float] = (0.5, 2.5)) -> None:
    """Say in the footer what an edge's colour and thickness mean.

    Colour is the sign of the number on the edge, blue positive and red negative; the
    line width grows with its size, from ``widths[0]`` to ``widths[1]`` points (``_edge``:
    0.5 + 2 |w| / max |w|). ``labels`` name the samples: positive, negative, thin to thick.
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


_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _sub(i: int) -> str:
    return str(i).translate(_SUBSCRIPTS)


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) in pixels of a PNG file, read from its header."""
    with open(path, "rb") as f:
        head = f.read(24)
    return int(np.frombuffer(head[16:20], ">u4")[0]), int(np.frombuffer(head[20:24], ">u4")[0])
