"""health.png: the signals of a run over its steps, one line per layer, four panels.

saturated fraction (tanh, sigmoid layers) | dead fraction (ReLU layers)
update-to-data ratio, log10 (weights)     | gradient norm (weights, log scale)

Each panel draws its warning threshold (dashed red), and each warning as a red cross
where it was raised; the update ratio's panel shades the healthy band around 10^-3.
Layers are coloured first to last along one colour map, so a gradient that fades with
depth reads as a fade. Drawn with matplotlib's object API (no pyplot state), like the
run's curves.png; Chinese with the CJK subset that explain ships (its ``figure_lang``).
"""

from __future__ import annotations

import io
from pathlib import Path

from chainrule.explain._draw import quiet_fonts
from chainrule.explain.fonts import figure_lang
from chainrule.health import signals
from chainrule.health.text import text
from chainrule.serialization import write_atomic

WARN = "#c0392b"
BAND = "#2e8b57"


def draw(records: list, path, run: str, lang: str = "en", dpi: int = 110) -> Path:
    """Write the figure of ``records`` to ``path`` (PNG), whole or not at all."""
    import matplotlib

    path = Path(path)
    fig = make_figure(records, run, lang)
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}), quiet_fonts():
        fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    write_atomic(path, buf.getvalue())
    return path


def make_figure(records: list, run: str, lang: str = "en"):
    """The figure as a matplotlib ``Figure`` (e.g. to show in a notebook)."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    lang, families = figure_lang(lang)
    T = text(lang)
    rc = {"font.size": 9}
    if families:
        rc["font.family"] = families
    with matplotlib.rc_context(rc), quiet_fonts():
        fig = Figure(figsize=(13, 8))
        axes = fig.subplots(2, 2).ravel()
        warnings = [w for r in records for w in r.get("warnings", ())]
        _activation_panel(axes[0], records, ("tanh", "sigmoid"), "saturated",
                          signals.SATURATED_ABOVE, T["fig_saturated"], T, warnings)
        _activation_panel(axes[1], records, ("relu",), "dead", signals.DEAD_ABOVE,
                          T["fig_dead"], T, warnings)
        _param_panel(axes[2], records, "update_ratio", T["fig_update"], T, warnings)
        _param_panel(axes[3], records, "grad_norm", T["fig_grad"], T, warnings)
        for ax in axes:
            ax.set_xlabel(T["fig_step"])
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            if records:
                ax.set_xlim(*_span([r["step"] for r in records]))
        fig.suptitle(T["fig_title"].format(run=run))
        fig.text(0.01, 0.01, T["fig_warnings"].format(n=len(warnings)) if warnings
                 else T["fig_no_warnings"], color=WARN if warnings else "#333333")
        fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def _span(steps: list) -> tuple[float, float]:
    """The x range of the steps, with a margin (and some width for a single step)."""
    lo, hi = min(steps), max(steps)
    pad = max((hi - lo) * 0.03, 0.5)
    return lo - pad, hi + pad


def _colours(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(0.85 * i / max(n - 1, 1)) for i in range(n)]


def _series(records: list, key: str, name_key: str, name: str, field: str):
    """(steps, values) of one layer's (or parameter's) ``field`` over the records."""
    xs, ys = [], []
    for r in records:
        for item in r.get(key, ()):
            if item.get(name_key) == name and item.get(field) is not None:
                xs.append(r["step"])
                ys.append(item[field])
    return xs, ys


def _legend(ax, n: int) -> None:
    """Inside the panel while it is short; beside it, where no line runs, when long."""
    if n <= 6:
        ax.legend(fontsize=7, loc="best")
    else:
        ax.legend(fontsize=7, ncol=1 + n // 14, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0)


def _activation_panel(ax, records, kinds, field, threshold, title, T, warnings) -> None:
    layers = []
    for r in records:
        for a in r.get("activations", ()):
            if a["kind"] in kinds and a["layer"] not in [x for x, _ in layers]:
                layers.append((a["layer"], a["kind"]))
    ax.set_title(title)
    ax.set_ylim(-0.02, 1.02)
    if not layers:
        ax.text(0.5, 0.5, T["fig_none"], ha="center", va="center", transform=ax.transAxes,
                color="#777777")
        return
    for (layer, kind), colour in zip(layers, _colours(len(layers))):
        xs, ys = _series(records, "activations", "layer", layer, field)
        ax.plot(xs, ys, "-", marker="." if len(xs) < 40 else None, color=colour,
                label=f"{T['layer'].format(layer=layer)} ({kind})")
    ax.axhline(threshold, color=WARN, linestyle="--", linewidth=1, label=T["fig_threshold"])
    for w in warnings:
        if w["signal"] == field and w.get("value") is not None:
            ax.plot([w["step"]], [w["value"]], "x", color=WARN, markersize=9, mew=2)
    _legend(ax, len(layers) + 1)


def _param_panel(ax, records, field, title, T, warnings) -> None:
    names = []
    for r in records:
        for p in r.get("params", ()):
            if len(p.get("shape") or ()) >= 2 and p["name"] not in names:
                names.append(p["name"])
    ax.set_title(title)
    if field == "grad_norm":
        ax.set_yscale("log")
    else:
        healthy = signals.UPDATE_RATIO_HEALTHY
        ax.axhspan(healthy - 0.5, healthy + 0.5, color=BAND, alpha=0.12)
        ax.axhline(healthy, color=BAND, linewidth=1, label=T["fig_band"])
        ax.axhline(signals.UPDATE_RATIO_ABOVE, color=WARN, linestyle="--", linewidth=1,
                   label=T["fig_threshold"])
    if not names:
        ax.text(0.5, 0.5, T["fig_none"], ha="center", va="center", transform=ax.transAxes,
                color="#777777")
        return
    for name, colour in zip(names, _colours(len(names))):
        xs, ys = _series(records, "params", "name", name, field)
        if field == "grad_norm":
            xs, ys = zip(*[(x, y) for x, y in zip(xs, ys) if y > 0]) if any(ys) else ([], [])
        ax.plot(xs, ys, "-", marker="." if len(xs) < 40 else None, color=colour, label=name)
    wanted = ("update_ratio",) if field == "update_ratio" else ("vanishing", "exploding")
    for w in warnings:
        if w["signal"] not in wanted:
            continue
        param = (w.get("facts") or {}).get("param") or f"{w['layer']}.weight"
        _, ys = _series([r for r in records if r["step"] == w["step"]], "params", "name",
                        param, field)
        if ys and (field != "grad_norm" or ys[0] > 0):
            ax.plot([w["step"]], ys[:1], "x", color=WARN, markersize=9, mew=2)
    _legend(ax, len(names) + (2 if field == "update_ratio" else 0))
