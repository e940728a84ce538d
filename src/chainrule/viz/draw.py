"""Drawing a ``Graph`` with matplotlib: a layered layout computed here, no Graphviz needed.

Layout (a small Sugiyama-style scheme):

1. rank: a node's rank is its longest distance from the root (the root in the last
   rank), so every edge points forward, from inputs to the root;
2. order within a rank: start in discovery order, then sweep forward and back a few
   times, sorting each rank by the mean position of its neighbours in the rank before
   (the barycentre heuristic), which removes most crossings;
3. coordinates: ranks are drawn as rows, top to bottom, as tall as their tallest box;
   boxes in a rank are placed side by side and centred.
"""

from __future__ import annotations

import io
import math
import textwrap

from chainrule.viz.labels import FILL, box_lines

EDGE = {"op": "#4a6a9a", "leaf": "#3d8b3d", "const": "#999999"}
GRAD = "#b03000"  # the colour of a box's gradient line
#: What the colours and line widths mean, one legend entry each (see ``_legend``).
LEGEND = {
    "op": "op: a recorded primitive",
    "leaf": "leaf: requires grad",
    "const": "const: not recorded (needs no grad)",
    "root": "thick border: the root (the loss)",
    "grad": "grad: dL/d(the box's output)",
}
LEGEND_TITLE = ("values flow down the arrows and gradients back up; an arrow has the "
                "colour of the box it leaves")
LEGEND_W = 2.5  # inches per legend column
LEGEND_ROW = 0.2  # inches per legend row

CHAR_W = 0.085  # inches per character at FONT points (DejaVu Sans Mono is ~0.6 em)
LINE_H = 0.2  # inches per text line
FONT = 8.5
COL_GAP = 0.45  # inches between ranks (rows of the drawing)
ROW_GAP = 0.3  # inches between boxes in one rank


def image(graph, fmt: str, dpi: int = 150) -> bytes:
    """``graph`` (a ``Graph``) drawn as a "png" or "svg" file's bytes."""
    buf = io.BytesIO()
    with _svg_text():
        figure(graph).savefig(buf, format=fmt, dpi=dpi, facecolor="white")
    return buf.getvalue()


def svg_text(graph) -> str:
    """``graph`` drawn as SVG text (what a notebook shows)."""
    buf = io.StringIO()
    with _svg_text():
        figure(graph).savefig(buf, format="svg", facecolor="white")
    return buf.getvalue()


def _svg_text():
    """SVG keeps its text as <text> with the font named: selectable and searchable."""
    import matplotlib

    return matplotlib.rc_context({"svg.fonttype": "none"})


def layout(graph, sweeps: int = 4) -> dict[int, tuple[int, int]]:
    """(column, row) of every node: root in the last column, edges pointing right."""
    consumers: dict[int, list[int]] = {n.id: [] for n in graph.nodes}
    for n in graph.nodes:
        for i in n.inputs:
            consumers[i].append(n.id)
    # Longest distance to the root, in reverse topological order (root first).
    depth = {graph.root.id: 0}
    for n in reversed(graph.nodes):
        if n.id not in depth:
            depth[n.id] = max((depth[c] + 1 for c in consumers[n.id] if c in depth), default=0)
    last = max(depth.values())
    column = {k: last - d for k, d in depth.items()}
    columns: list[list[int]] = [[] for _ in range(last + 1)]
    for n in graph.nodes:  # topological order: a stable first guess
        columns[column[n.id]].append(n.id)

    def neighbours(k: int, side: int) -> list[int]:
        node = graph.nodes[k]
        return node.inputs if side < 0 else consumers[k]

    for sweep in range(sweeps):
        side = -1 if sweep % 2 == 0 else 1
        span = range(1, len(columns)) if side < 0 else range(len(columns) - 2, -1, -1)
        for c in span:
            ref = {k: i for i, k in enumerate(columns[c + side])}
            now = {k: i for i, k in enumerate(columns[c])}

            def centre(k: int, ref=ref, now=now, side=side) -> float:
                rows = [ref[m] for m in neighbours(k, side) if m in ref]
                # Rows of the neighbouring column, scaled to this column's length.
                scale = len(now) / max(len(ref), 1)
                return sum(rows) / len(rows) * scale if rows else now[k]

            columns[c].sort(key=centre)
    return {k: (c, r) for c, col in enumerate(columns) for r, k in enumerate(col)}


def figure(graph):
    """The drawing of ``graph`` (a ``Graph``) as a matplotlib ``Figure`` (object API: no
    pyplot state).

    Layers run top to bottom (inputs at the top, the root at the bottom), so a long chain
    of ops stays readable; the layout's columns become the drawing's rows.
    """
    from matplotlib.figure import Figure

    texts = {n.id: box_lines(n) for n in graph.nodes}
    size = {k: (max(len(s) for s in lines) * CHAR_W + 0.25, len(lines) * LINE_H + 0.15)
            for k, lines in texts.items()}
    ranks = _ranks(layout(graph))
    rank_h = [max(size[k][1] for k in ranks[c]) for c in range(len(ranks))]
    rank_w = {c: sum(size[k][0] for k in ks) + ROW_GAP * (len(ks) - 1)
              for c, ks in ranks.items()}
    width = max(max(rank_w.values()), LEGEND_W) + 0.4
    # The legend under the drawing: as many columns as fit, the title wrapped to fit.
    ncol = max(1, min(len(LEGEND), int((width - 0.2) // LEGEND_W)))
    title = textwrap.wrap(LEGEND_TITLE, int((width - 0.2) / 0.06))
    legend_h = (math.ceil(len(LEGEND) / ncol) + len(title)) * LEGEND_ROW + 0.2
    height = sum(rank_h) + COL_GAP * (len(ranks) - 1) + 0.4 + legend_h

    # Box centres, in inches; each rank centred horizontally.
    xy = {}
    y = height - 0.2
    for c in range(len(ranks)):
        x = (width - rank_w[c]) / 2
        for k in ranks[c]:
            xy[k] = (x + size[k][0] / 2, y - rank_h[c] / 2)
            x += size[k][0] + ROW_GAP
        y -= rank_h[c] + COL_GAP

    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    _arrows(ax, graph, xy, size)
    _boxes(ax, graph, xy, size, texts)
    _legend(fig, ncol, "\n".join(title))
    return fig


def _ranks(pos: dict[int, tuple[int, int]]) -> dict[int, list[int]]:
    """The nodes of each rank (a layout column), in their order within it."""
    ranks: dict[int, list[int]] = {}
    for k, (c, _) in sorted(pos.items(), key=lambda item: item[1]):
        ranks.setdefault(c, []).append(k)
    return ranks


def _arrows(ax, graph, xy: dict, size: dict) -> None:
    """One arrow per edge, from the bottom of the input's box to the top of its consumer's,
    in the input's colour."""
    for node in graph.nodes:
        x1, y1 = xy[node.id]
        h1 = size[node.id][1]
        for i in node.inputs:
            x0, y0 = xy[i]
            h0 = size[i][1]
            ax.annotate("", xy=(x1, y1 + h1 / 2), xytext=(x0, y0 - h0 / 2), zorder=1,
                        arrowprops={"arrowstyle": "-|>", "color": EDGE[graph.nodes[i].kind],
                                    "lw": 1.0, "shrinkA": 0, "shrinkB": 1,
                                    "mutation_scale": 9})


def _boxes(ax, graph, xy: dict, size: dict, texts: dict) -> None:
    """Every box with its lines: the title in bold, the gradient line in ``GRAD``."""
    from matplotlib.patches import FancyBboxPatch

    for node in graph.nodes:
        (x, y), (w, h) = xy[node.id], size[node.id]
        ax.add_patch(FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.06",
            facecolor=FILL[node.kind], edgecolor="#333333" if node.is_root else "#8090a8",
            linewidth=2.0 if node.is_root else 0.9,
            linestyle="--" if node.kind == "const" else "-", zorder=2))
        lines = texts[node.id]
        top = y + h / 2 - 0.075 - LINE_H / 2
        for j, line in enumerate(lines):
            colour = GRAD if line.startswith("grad ") else "#111111"
            ax.text(x - w / 2 + 0.12, top - j * LINE_H, line, ha="left", va="center",
                    fontsize=FONT, family="DejaVu Sans Mono", color=colour, zorder=3,
                    fontweight="bold" if j == 0 else "normal")


def _legend(fig, ncol: int, title: str) -> None:
    """Say what the box colours, the thick border and the red line mean (``LEGEND``)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    def box(kind, lw=0.9, linestyle="-", edge="#8090a8"):
        return Patch(facecolor=FILL[kind], edgecolor=edge, linewidth=lw, linestyle=linestyle)

    handles = [box("op"), box("leaf"), box("const", linestyle="--"),
               box("op", lw=2.0, edge="#333333"), Line2D([], [], lw=0)]
    width, height = fig.get_size_inches()
    legend = fig.legend(handles, list(LEGEND.values()), loc="lower left",
                        bbox_to_anchor=(0.08 / width, 0.08 / height), ncol=ncol,
                        frameon=False, fontsize=7.5, title=title, title_fontsize=7.5,
                        alignment="left", handlelength=1.6, columnspacing=1.2)
    legend.get_texts()[-1].set_color(GRAD)  # as the grad lines in the boxes
