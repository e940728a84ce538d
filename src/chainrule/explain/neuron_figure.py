"""The figure for one neuron of a trained model (a ``Record`` traced with ``focus``).

A layer of a trained MLP has hundreds of neurons, far too many edges to draw. So the
figure keeps the lecture's two panels but only the chosen neuron's neighbourhood:

Panel 1, forward pass: the neuron's strongest incoming edges (the ``TOP`` inputs with the
largest |dl/dw|, largest first) with their weights, the neuron itself with z, a and b,
and the neurons of the next layer it feeds (all of them when there are at most ``TOP``,
else the ``TOP`` with the largest |w_kj·dl/dz_k|), or the loss when it is an output.
What is left out is summed in a note, so every drawn number still adds up. For an
image input the sample is drawn too, with the drawn pixels framed.

Panel 2, backward pass: the same neighbourhood reversed. dl/dz of those next-layer neurons
(case 2), or y - t from the loss (case 1), comes back along the weights into the sum
dl/da = sum_k w_kj dl/dz_k, through the amplifier sigma'(z) to dl/dz, and on to the
incoming weights: each edge is labelled dl/dw = dz/dw x dl/dz, with dz/dw = the input.
"""

from __future__ import annotations

import numpy as np

from chainrule.explain.figure import (
    AMP_FILL,
    FOOTER_AT,
    FOOTER_H,
    INPUT_FILL,
    NEG,
    NEURON_FILL,
    POS,
    PT,
    SCALE,
    _Box,
    _sub,
    edge_legend,
)
from chainrule.explain.record import Record, WeightRecord
from chainrule.explain.text import num, paren, sci

#: How many incoming edges, and next-layer neurons, are drawn at most.
TOP = 12
DY = 0.9  # vertical distance between rows of a column
BW, BH = 2.5, 0.62  # a small box (an input, a next-layer neuron)
NW, NH = 3.3, 1.9  # the chosen neuron (forward panel)
PW = 2.3  # backward panel: the sum and dl/dz boxes
X_IN, X_NEURON, X_NEXT = 0.0, 7.6, 15.2  # forward panel columns
X_BNEXT, X_SUM, X_AMP, X_OUT, X_BIN = 0.0, 5.6, 7.9, 10.2, 16.2  # backward panel columns


def make_neuron_figure(record: Record, T: dict, figure_cls):
    """The two panels for ``record.focus`` as a matplotlib Figure (labels from ``T``)."""
    return _NeuronDrawing(record, T, figure_cls).figure


class _NeuronDrawing:
    def __init__(self, record: Record, T: dict, figure_cls):
        if record.focus is None:
            raise ValueError("figure: a neuron figure needs a record traced with focus")
        self.r, self.T = record, T
        self.k, self.j = record.focus
        self.last = record.n_layers - 1
        self.nr = record.neuron(self.k, self.j)
        self._choose()
        rows = max(len(self.inputs), len(self.nexts), 5)
        self.half = (rows - 1) * DY / 2
        x0, x1 = -BW / 2 - 0.5, X_BIN + BW / 2 + 2.0
        panel_h = 2 * self.half + 3.9
        top_h, footer = 1.5, FOOTER_H / SCALE
        width, height = x1 - x0, top_h + 2 * panel_h + footer
        self.figure = figure_cls(figsize=(width * SCALE, height * SCALE))
        self.labels: list[_Box] = []
        ext = (x0, x1, -self.half - 2.1, self.half + 1.8)
        ax_f = self.figure.add_axes((0, (footer + panel_h) / height, 1, panel_h / height))
        ax_b = self.figure.add_axes((0, footer / height, 1, panel_h / height))
        for ax in (ax_f, ax_b):
            ax.set_xlim(ext[0], ext[1])
            ax.set_ylim(ext[2], ext[3])
            ax.axis("off")
        self._title(height)
        self._forward(ax_f, ext)
        self.labels = []
        self._backward(ax_b, ext)
        self._footer()
        edge_legend(self.figure, T["nfig_legend"], ("> 0", "< 0", T["nfig_legend_size"]),
                    widths=(0.6, 2.8))  # as _arrow draws them

    # --- what to draw --------------------------------------------------------------------

    def _choose(self) -> None:
        r, k, j = self.r, self.k, self.j
        incoming = [w for w in r.layer_weights(k) if w.to == j and not w.is_bias]
        self.bias = r.weight(k, j, "bias")
        self.n_in = len(incoming)
        self.inputs = sorted(incoming, key=lambda w: (-abs(w.dl_dw), -abs(w.value * w.dz_dw[0]),
                                                       w.from_))[:TOP]
        self.rest_in = [w for w in incoming if w not in self.inputs]
        self.nexts: list[WeightRecord] = []
        self.rest_next: list[WeightRecord] = []
        if k < self.last:
            out = [w for w in r.layer_weights(k + 1) if w.from_ == j]
            if len(out) > TOP:
                dl = {n.index: n.dl_dz for n in r.layer_neurons(k + 1)}
                self.nexts = sorted(out, key=lambda w: -abs(w.value * dl[w.to]))[:TOP]
            else:
                self.nexts = out
            self.rest_next = [w for w in out if w not in self.nexts]
            self.n_next = len(out)

    def _ys(self, n: int) -> list[float]:
        return [(n - 1) * DY / 2 - i * DY for i in range(n)]

    def _source_name(self, i: int) -> str:
        return f"x{_sub(i)}" if self.k == 0 else f"a{_sub(i)}"

    # --- primitives (as in the network figure) ------------------------------------------------

    def _box(self, ax, x, y, w, h, fill, edge="#4a5a70", lw=1.0):
        from matplotlib.patches import FancyBboxPatch

        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                    boxstyle="round,pad=0,rounding_size=0.14",
                                    facecolor=fill, edgecolor=edge, linewidth=lw, zorder=3))
        self.labels.append(_Box(x - w / 2, y - h / 2, x + w / 2, y + h / 2))

    def _arrow(self, ax, p0, p1, value, vmax, colour=None):
        colour = colour or (POS if value >= 0 else NEG)
        lw = 0.6 + 2.2 * abs(value) / vmax if vmax > 0 else 1.0
        ax.annotate("", xy=p1, xytext=p0, zorder=1,
                    arrowprops={"arrowstyle": "-|>", "color": colour, "lw": lw, "alpha": 0.75,
                                "shrinkA": 0, "shrinkB": 0, "mutation_scale": 9})

    def _label(self, ax, p0, p1, s, text, colour, fontsize=7.5):
        """``text`` on the segment p0-p1 at fraction ``s``, nudged along it off other labels."""
        w = (len(text) * 0.6 * fontsize + 5) * PT
        h = (fontsize * 1.25 + 3) * PT
        best = None
        for ds in (0, 0.06, -0.06, 0.12, -0.12, 0.18, -0.18):
            t = min(max(s + ds, 0.1), 0.9)
            x, y = p0[0] + t * (p1[0] - p0[0]), p0[1] + t * (p1[1] - p0[1])
            box = _Box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
            cost = sum(box.overlaps(o) for o in self.labels)
            if best is None or cost < best[0] - 1e-9:
                best = (cost, x, y, box)
            if cost == 0:
                break
        _, x, y, box = best
        self.labels.append(box)
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=5,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": colour,
                      "linewidth": 0.8})

    def _heading(self, ax, x, y, title, sub=None):
        ax.text(x, y, title, ha="center", va="bottom", fontsize=10, fontweight="bold")
        if sub:
            ax.text(x, y - 0.06, sub, ha="center", va="top", fontsize=8, color="#555555",
                    style="italic")

    def _note(self, ax, x, y, text, ha="center"):
        ax.text(x, y, text, ha=ha, va="top", fontsize=8, color="#444444", linespacing=1.4)

    # --- the title -----------------------------------------------------------------------------

    def _title(self, height):
        r, T, m = self.r, self.T, self.r.meta
        names = m.get("class_names") or []
        if "checkpoint" in m:
            line = T["nfig_title"].format(
                layer=self.k, index=self.j, dataset=m["dataset"], n=m["sample"],
                true=names[m["true_class"]], pred=names[m["predicted_class"]],
                p=num(m["probability"]))
            sub = T["ckpt_file"].format(path=m["run"]) + f" · {T['network']} " + "-".join(
                str(s) for s in r.sizes)
        else:
            line = T["focus"].format(layer=self.k, index=self.j)
            sub = f"{T['network']} " + "-".join(str(s) for s in r.sizes)
        self.figure.text(0.012, 1 - 0.35 / height, line, ha="left", va="top", fontsize=12.5,
                         fontweight="bold")
        self.figure.text(0.012, 1 - 0.95 / height, sub, ha="left", va="center",
                         fontsize=9, color="#444444")

    # --- panel 1: forward ----------------------------------------------------------------------

    def _forward(self, ax, ext):
        r, T, k, nr = self.r, self.T, self.k, self.nr
        ax.text(ext[0] + 0.2, ext[3] - 0.1, T["fig_forward"], ha="left", va="top",
                fontsize=12, fontweight="bold")
        head = self.half + 0.55
        src_title = T["fig_input_layer"] if k == 0 else T["fig_hidden_layer"].format(k=k - 1)
        self._heading(ax, X_IN, head, src_title,
                      T["nfig_strongest_in"].format(top=len(self.inputs), n=self.n_in))
        key = "fig_output_layer" if k == self.last else "fig_hidden_layer"
        self._heading(ax, X_NEURON, NH / 2 + 0.25, T[key].format(k=k) + "  ·  "
                      + T["nfig_neuron"].format(j=self.j))
        # The chosen neuron.
        self._box(ax, X_NEURON, 0, NW, NH, NEURON_FILL, edge="#1f3f70", lw=1.8)
        act = r.activations[k]
        ax.text(X_NEURON, 0.5, f"z = {num(nr.z)}", ha="center", va="center", fontsize=10,
                zorder=4)
        a_text = (f"a = {act}(z) = {num(nr.a)}" if act != "softmax"
                  else f"y = softmax(z){_sub(self.j)} = {num(nr.a)}")
        ax.text(X_NEURON, 0.0, a_text, ha="center", va="center", fontsize=10,
                fontweight="bold", zorder=4)
        ax.text(X_NEURON, -0.5, f"b = {num(self.bias.value)}", ha="center", va="center",
                fontsize=9, color="#555555", zorder=4)
        # Inputs and incoming edges (labels near the input end: they fan out there).
        ys = self._ys(len(self.inputs))
        wmax = max([abs(w.value) for w in self.inputs] + [1e-12])
        for w, y in zip(self.inputs, ys):
            self._box(ax, X_IN, y, BW, BH, INPUT_FILL)
            ax.text(X_IN, y, f"{self._source_name(w.from_)} = {num(w.dz_dw[0])}", ha="center",
                    va="center", fontsize=9, zorder=4)
        for w, y in zip(self.inputs, ys):
            self._arrow(ax, (X_IN + BW / 2, y), (X_NEURON - NW / 2, 0), w.value, wmax)
        for w, y in zip(self.inputs, ys):
            self._label(ax, (X_IN + BW / 2, y), (X_NEURON - NW / 2, 0), 0.3,
                        f"w = {num(w.value)}", POS if w.value >= 0 else NEG)
        drawn = sum(w.value * w.dz_dw[0] for w in self.inputs)
        rest = sum(w.value * w.dz_dw[0] for w in self.rest_in)
        note = T["nfig_sum"].format(n=self.n_in, top=len(self.inputs), drawn=num(drawn),
                                    more=len(self.rest_in), rest=num(rest),
                                    b=num(self.bias.value), z=num(nr.z))
        self._note(ax, X_NEURON, -NH / 2 - 0.35, note)
        self._image(ax)
        # Next layer, or the loss.
        if k < self.last:
            self._forward_next(ax, head)
        else:
            self._forward_loss(ax)

    def _forward_next(self, ax, head):
        r, T, k = self.r, self.T, self.k
        key = "fig_output_layer" if k + 1 == self.last else "fig_hidden_layer"
        sub = (T["nfig_all_next"] if not self.rest_next else
               T["nfig_strongest_next"].format(top=len(self.nexts), n=self.n_next))
        self._heading(ax, X_NEXT, head, T[key].format(k=k + 1), sub)
        ys = self._ys(len(self.nexts))
        wmax = max([abs(w.value) for w in self.nexts] + [1e-12])
        output = k + 1 == self.last
        for w, y in zip(self.nexts, ys):
            m = r.neuron(k + 1, w.to)
            self._box(ax, X_NEXT, y, BW + 0.3, BH, NEURON_FILL)
            label = (f"z{_sub(w.to)} = {num(m.z)}" if not output
                     else f"y{_sub(w.to)} = {num(m.a)}")
            ax.text(X_NEXT, y, label, ha="center", va="center", fontsize=9, zorder=4)
            if output:
                t = float(r.targets[0][w.to])
                names = r.meta.get("class_names") or []
                name = names[w.to] if w.to < len(names) and names[w.to] != str(w.to) else ""
                ax.text(X_NEXT + (BW + 0.3) / 2 + 0.15, y,
                        f"t{_sub(w.to)} = {num(t)}" + (f"  {name}" if name else ""),
                        ha="left", va="center", fontsize=8.5,
                        fontweight="bold" if t else "normal",
                        color="#222222" if t else "#666666")
        for w, y in zip(self.nexts, ys):
            self._arrow(ax, (X_NEURON + NW / 2, 0), (X_NEXT - (BW + 0.3) / 2, y), w.value, wmax)
        for w, y in zip(self.nexts, ys):
            self._label(ax, (X_NEURON + NW / 2, 0), (X_NEXT - (BW + 0.3) / 2, y), 0.72,
                        f"w = {num(w.value)}", POS if w.value >= 0 else NEG)
        if self.rest_next:
            self._note(ax, X_NEXT, ys[-1] - BH / 2 - 0.15,
                       T["nfig_more_next"].format(n=len(self.rest_next)))

    def _forward_loss(self, ax):
        r, T = self.r, self.T
        t = float(r.targets[0][self.j])
        x = X_NEXT
        self._box(ax, x, 0, BW + 1.0, 1.2, INPUT_FILL)
        ax.text(x, 0.22, f"{T['target']} t{_sub(self.j)} = {num(t)}", ha="center",
                va="center", fontsize=9, zorder=4)
        ax.text(x, -0.22, f"l = {num(r.losses[0], 6)}", ha="center", va="center",
                fontsize=9.5, fontweight="bold", zorder=4)
        self._arrow(ax, (X_NEURON + NW / 2, 0), (x - (BW + 1.0) / 2, 0), 1.0, 1.0,
                    colour="#555555")
        self._heading(ax, x, 0.85, T["loss_function"], "l = −Σ_k t_k log y_k")

    def _image(self, ax):
        """The input image above the neuron; for layer 0, the drawn pixels framed."""
        from matplotlib.patches import Rectangle

        shape = self.r.meta.get("image_shape")
        if not shape:
            return
        h, w = shape
        img = np.asarray(self.r.inputs[0]).reshape(h, w)
        size = min(2.6, self.half + 1.0 - NH / 2 - 0.9)
        if size < 1.2:
            return
        x0, y0 = X_NEURON - size / 2, NH / 2 + 0.85
        ax.imshow(img, cmap="gray_r", extent=(x0, x0 + size, y0, y0 + size), zorder=2,
                  interpolation="nearest", vmin=min(0.0, float(img.min())),
                  vmax=max(1e-12, float(img.max())))
        ax.add_patch(Rectangle((x0, y0), size, size, fill=False, edgecolor="#888888", lw=0.8,
                               zorder=3))
        self.labels.append(_Box(x0, y0, x0 + size, y0 + size))
        if self.k == 0:
            cell = size / w
            for wr in self.inputs:
                row, col = divmod(int(wr.from_), w)
                ax.add_patch(Rectangle((x0 + col * cell, y0 + size - (row + 1) * cell), cell,
                                       cell, fill=False, lw=1.3, zorder=4,
                                       edgecolor=POS if wr.dl_dw >= 0 else NEG))
        m = self.r.meta
        if "sample" in m:
            names = m["class_names"]
            ax.text(x0 + size + 0.15, y0 + size / 2,
                    self.T["nfig_image"].format(n=m["sample"], true=names[m["true_class"]]),
                    ha="left", va="center", fontsize=8, color="#444444")

    # --- panel 2: backward ---------------------------------------------------------------------

    def _backward(self, ax, ext):
        r, T, k, nr = self.r, self.T, self.k, self.nr
        ax.text(ext[0] + 0.2, ext[3] - 0.1, T["nfig_backward"], ha="left", va="top",
                fontsize=12, fontweight="bold")
        head = self.half + 0.55
        softmax = r.activations[k] == "softmax"
        # The neuron: sum (dl/da) -> amplifier sigma'(z) -> dl/dz.
        key = "fig_output_layer" if k == self.last else "fig_hidden_layer"
        self._heading(ax, X_AMP, 1.0, T[key].format(k=k) + "  ·  "
                      + T["nfig_neuron"].format(j=self.j),
                      T["fig_case1"] if k == self.last else T["fig_case2"])
        self._box(ax, X_SUM, 0, PW, 0.95, "white" if not softmax else INPUT_FILL)
        top = "y − t" if softmax else T["fig_sum"]
        ax.text(X_SUM, 0.2, top, ha="center", va="center", fontsize=8.5, color="#444444",
                zorder=4)
        ax.text(X_SUM, -0.2, num(nr.dl_dz if softmax else nr.dl_da), ha="center",
                va="center", fontsize=9.5, zorder=4)
        self._amplifier(ax, X_AMP, 0, nr.sigma_prime)
        self._box(ax, X_OUT, 0, PW, 0.95, NEURON_FILL, edge="#1f3f70", lw=1.8)
        ax.text(X_OUT, 0.2, "dl/dz", ha="center", va="center", fontsize=8.5, color="#444444",
                zorder=4)
        ax.text(X_OUT, -0.2, num(nr.dl_dz), ha="center", va="center", fontsize=10,
                fontweight="bold", zorder=4)
        for xa, xb in ((X_SUM + PW / 2, X_AMP - 0.45), (X_AMP + 0.45, X_OUT - PW / 2)):
            ax.annotate("", xy=(xb, 0), xytext=(xa, 0), zorder=2,
                        arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 1,
                                    "mutation_scale": 8, "shrinkA": 0, "shrinkB": 0})
        # Where dl/da comes from.
        if k < self.last:
            self._backward_next(ax, head)
        else:
            t = float(r.targets[0][self.j])
            self._box(ax, X_BNEXT, 0, BW + 0.4, 0.95, INPUT_FILL)
            ax.text(X_BNEXT, 0.2, T["loss_function"], ha="center", va="center", fontsize=8.5,
                    color="#444444", zorder=4)
            # dl/dy of the loss: 2(y - t) for the squared error; y - t for half of it, and
            # for softmax + cross-entropy (where it is dl/dz, the targets a distribution).
            two = "2" if r.loss_name == "squared_error" else ""
            ax.text(X_BNEXT, -0.2, f"{two}(y − t) = {two}({num(nr.a)} − {paren(t)})"
                    if two else f"y − t = {num(nr.a)} − {paren(t)}", ha="center",
                    va="center", fontsize=9, zorder=4)
            ax.annotate("", xy=(X_SUM - PW / 2, 0), xytext=(X_BNEXT + (BW + 0.4) / 2, 0),
                        zorder=2, arrowprops={"arrowstyle": "-|>", "color": "#555555",
                                              "lw": 1, "mutation_scale": 8})
        # On to the incoming weights: dl/dw = dz/dw x dl/dz.
        self._heading(ax, X_BIN, head, T["nfig_weights"],
                      "dl/dw = dz/dw × dl/dz")
        ys = self._ys(len(self.inputs))
        gmax = max([abs(w.dl_dw) for w in self.inputs] + [1e-12])
        for w, y in zip(self.inputs, ys):
            self._box(ax, X_BIN, y, BW + 0.5, BH, INPUT_FILL)
            ax.text(X_BIN, y, f"dz/dw = {self._source_name(w.from_)} = {num(w.dz_dw[0])}",
                    ha="center", va="center", fontsize=8.5, zorder=4)
        for w, y in zip(self.inputs, ys):
            self._arrow(ax, (X_OUT + PW / 2, 0), (X_BIN - (BW + 0.5) / 2, y), w.dl_dw, gmax)
        for w, y in zip(self.inputs, ys):
            self._label(ax, (X_OUT + PW / 2, 0), (X_BIN - (BW + 0.5) / 2, y), 0.7,
                        f"dl/dw = {num(w.dl_dw)}", POS if w.dl_dw >= 0 else NEG)
        zeros = sum(1 for w in self.rest_in if w.dz_dw[0] == 0)
        checked = [w for w in self.r.weights if w.layer == k and w.to == self.j]
        worst = max(w.disagreement for w in checked)
        note = T["nfig_more_in"].format(n=len(self.rest_in), zeros=zeros) if self.rest_in else ""
        weights = sum(1 for w in checked if not w.is_bias)  # the bias is named on its own
        note += ("\n" if note else "") + T["nfig_checked"].format(n=weights, dis=sci(worst))
        self._note(ax, X_BIN, ys[-1] - BH / 2 - 0.15, note)
        self._note(ax, X_OUT, -0.75, f"b: dl/db = dl/dz = {num(self.bias.dl_dw)}")

    def _backward_next(self, ax, head):
        r, T, k = self.r, self.T, self.k
        key = "fig_output_layer" if k + 1 == self.last else "fig_hidden_layer"
        sub = (T["nfig_all_next"] if not self.rest_next else
               T["nfig_strongest_next"].format(top=len(self.nexts), n=self.n_next))
        self._heading(ax, X_BNEXT, head, T[key].format(k=k + 1), sub)
        ys = self._ys(len(self.nexts))
        wmax = max([abs(w.value) for w in self.nexts] + [1e-12])
        for w, y in zip(self.nexts, ys):
            m = r.neuron(k + 1, w.to)
            self._box(ax, X_BNEXT, y, BW + 0.3, BH, NEURON_FILL)
            ax.text(X_BNEXT, y, f"dl/dz{_sub(w.to)} = {num(m.dl_dz)}", ha="center",
                    va="center", fontsize=8.5, zorder=4)
        for w, y in zip(self.nexts, ys):
            self._arrow(ax, (X_BNEXT + (BW + 0.3) / 2, y), (X_SUM - PW / 2, 0), w.value, wmax)
        for w, y in zip(self.nexts, ys):
            self._label(ax, (X_BNEXT + (BW + 0.3) / 2, y), (X_SUM - PW / 2, 0), 0.3,
                        f"w = {num(w.value)}", POS if w.value >= 0 else NEG)
        dl = {n.index: n.dl_dz for n in r.layer_neurons(k + 1)}
        drawn = sum(w.value * dl[w.to] for w in self.nexts)
        rest = sum(w.value * dl[w.to] for w in self.rest_next)
        if self.rest_next:
            note = T["nfig_sum_back"].format(top=len(self.nexts), drawn=num(drawn),
                                             more=len(self.rest_next), rest=num(rest),
                                             total=num(self.nr.dl_da))
            self._note(ax, X_SUM, -0.75, note)

    def _amplifier(self, ax, x, y, gain):
        from matplotlib.patches import Polygon, Rectangle

        if gain is None:
            ax.add_patch(Rectangle((x - 0.45, y - 0.32), 0.9, 0.64, facecolor="#eeeeee",
                                   edgecolor="#777777", zorder=3))
            ax.text(x, y, "×1", ha="center", va="center", fontsize=8.5, zorder=4)
            ax.text(x, y + 0.42, self.T["fig_softmax_ce"], ha="center", va="bottom", fontsize=7.5,
                    color="#444444")
            return
        closed = gain == 0
        ax.add_patch(Polygon([(x - 0.45, y + 0.4), (x - 0.45, y - 0.4), (x + 0.45, y)],
                             closed=True, facecolor="#dddddd" if closed else AMP_FILL,
                             edgecolor="#888888" if closed else "#b36b00", linewidth=1.2,
                             zorder=3))
        ax.text(x, y + 0.45, f"σ' = {num(gain)}", ha="center", va="bottom", fontsize=9,
                color="#666666" if closed else "#7a4a00", fontweight="bold")
        ax.text(x, y - 0.48, self.T["fig_amp"], ha="center", va="top", fontsize=7.5,
                color="#666666")

    def _footer(self):
        r, T = self.r, self.T
        inch = 1 / self.figure.get_figheight()
        self.figure.text(0.012, FOOTER_AT[0] * inch, T["nfig_footer"].format(
            loss=num(r.loss, 6), after=num(r.loss_after, 6), lr=num(r.lr),
            dis=sci(r.max_disagreement), n=len(r.weights)),
            ha="left", va="bottom", fontsize=8.5, color="#222222")
        loss = T[f"loss.{r.loss_name}"].replace("½", "1/2")
        self.figure.text(0.012, FOOTER_AT[1] * inch, f"{T['loss_function']}{T[':']}{loss}",
                         ha="left", va="bottom", fontsize=8.5, color="#222222")
