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

from chainrule.explain._draw import (
    FOOTER_H,
    INPUT_FILL,
    NEG,
    NEURON_FILL,
    POS,
    SCALE,
    Amp,
    Box,
    Panel,
    Style,
    edge_legend,
    footer,
    loss_line,
    sub,
)
from chainrule.explain.record import Record, WeightRecord
from chainrule.explain.text import num, paren, sci

STYLE = Style(rounding=0.14, edges=(0.6, 2.8), sub_size=8, sub_gap=0.06, title_gap=0.1,
              footer_x=0.012, footer_size=8.5,
              amp=Amp(half=0.45, tip=0.4, box=0.32, gain_at=0.45, note_at=0.42, gain_size=9,
                      caption_at=0.48))
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
    """Chooses what to draw, lays out and draws both panels. One instance per figure."""

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
        top_h, foot = 1.5, FOOTER_H / SCALE
        width, height = x1 - x0, top_h + 2 * panel_h + foot
        self.figure = figure_cls(figsize=(width * SCALE, height * SCALE))
        ext = (x0, x1, -self.half - 2.1, self.half + 1.8)
        forward = Panel(self.figure, (0, (foot + panel_h) / height, 1, panel_h / height), ext,
                        STYLE)
        backward = Panel(self.figure, (0, foot / height, 1, panel_h / height), ext, STYLE)
        self._title(height)
        self._forward(forward)
        self._backward(backward)
        self._footer()
        edge_legend(self.figure, T["nfig_legend"], ("> 0", "< 0", T["nfig_legend_size"]),
                    STYLE.edges)

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
        return f"x{sub(i)}" if self.k == 0 else f"a{sub(i)}"

    def _edges(self, p: Panel, edges, vmax: float, at: float) -> None:
        """Edges, then their labels (so that no edge covers a label): ``edges`` holds
        (value, one end, the other end, label) and each label sits near fraction ``at`` of
        its edge, nudged along it off other labels."""
        for value, p0, p1, _ in edges:
            p.edge(p0, p1, value, vmax)
        near = tuple(min(max(at + ds, 0.1), 0.9)
                     for ds in (0, 0.06, -0.06, 0.12, -0.12, 0.18, -0.18))
        for value, p0, p1, label in edges:
            p.edge_label(p0, p1, label, POS if value >= 0 else NEG, near)

    def _note(self, p: Panel, x, y, text, ha="center"):
        p.ax.text(x, y, text, ha=ha, va="top", fontsize=8, color="#444444", linespacing=1.4)

    def _layer_title(self, k: int) -> str:
        key = "fig_output_layer" if k == self.last else "fig_hidden_layer"
        return self.T[key].format(k=k)

    def _next_sub(self) -> str:
        """The next layer's heading's second line: all its neurons drawn, or the strongest."""
        if not self.rest_next:
            return self.T["nfig_all_next"]
        return self.T["nfig_strongest_next"].format(top=len(self.nexts), n=self.n_next)

    # --- the title -----------------------------------------------------------------------------

    def _title(self, height):
        r, T, m = self.r, self.T, self.r.meta
        names = m.get("class_names") or []
        if "checkpoint" in m:
            line = T["nfig_title"].format(
                layer=self.k, index=self.j, dataset=m["dataset"], n=m["sample"],
                true=names[m["true_class"]], pred=names[m["predicted_class"]],
                p=num(m["probability"]))
            sub_line = T["ckpt_file"].format(path=m["run"]) + f" · {T['network']} " + "-".join(
                str(s) for s in r.sizes)
        else:
            line = T["focus"].format(layer=self.k, index=self.j)
            sub_line = f"{T['network']} " + "-".join(str(s) for s in r.sizes)
        self.figure.text(0.012, 1 - 0.35 / height, line, ha="left", va="top", fontsize=12.5,
                         fontweight="bold")
        self.figure.text(0.012, 1 - 0.95 / height, sub_line, ha="left", va="center",
                         fontsize=9, color="#444444")

    # --- panel 1: forward ----------------------------------------------------------------------

    def _forward(self, p: Panel):
        r, T, k, nr = self.r, self.T, self.k, self.nr
        p.title(T["fig_forward"])
        head = self.half + 0.55
        src_title = T["fig_input_layer"] if k == 0 else T["fig_hidden_layer"].format(k=k - 1)
        p.heading(X_IN, head, src_title,
                  T["nfig_strongest_in"].format(top=len(self.inputs), n=self.n_in))
        p.heading(X_NEURON, NH / 2 + 0.25, self._layer_title(k) + "  ·  "
                  + T["nfig_neuron"].format(j=self.j))
        # The chosen neuron.
        p.box(X_NEURON, 0, NW, NH, NEURON_FILL, edge="#1f3f70", lw=1.8)
        act = r.activations[k]
        p.text_in(X_NEURON, 0.5, f"z = {num(nr.z)}", 10)
        a_text = (f"a = {act}(z) = {num(nr.a)}" if act != "softmax"
                  else f"y = softmax(z){sub(self.j)} = {num(nr.a)}")
        p.text_in(X_NEURON, 0.0, a_text, 10, fontweight="bold")
        p.text_in(X_NEURON, -0.5, f"b = {num(self.bias.value)}", 9, color="#555555")
        # Inputs and incoming edges (labels near the input end: they fan out there).
        ys = self._ys(len(self.inputs))
        for w, y in zip(self.inputs, ys):
            p.box(X_IN, y, BW, BH, INPUT_FILL)
            p.text_in(X_IN, y, f"{self._source_name(w.from_)} = {num(w.dz_dw[0])}", 9)
        wmax = max([abs(w.value) for w in self.inputs] + [1e-12])
        self._edges(p, [(w.value, (X_IN + BW / 2, y), (X_NEURON - NW / 2, 0),
                         f"w = {num(w.value)}") for w, y in zip(self.inputs, ys)], wmax, 0.3)
        drawn = sum(w.value * w.dz_dw[0] for w in self.inputs)
        rest = sum(w.value * w.dz_dw[0] for w in self.rest_in)
        note = T["nfig_sum"].format(n=self.n_in, top=len(self.inputs), drawn=num(drawn),
                                    more=len(self.rest_in), rest=num(rest),
                                    b=num(self.bias.value), z=num(nr.z))
        self._note(p, X_NEURON, -NH / 2 - 0.35, note)
        self._image(p)
        # Next layer, or the loss.
        if k < self.last:
            self._forward_next(p, head)
        else:
            self._forward_loss(p)

    def _forward_next(self, p: Panel, head):
        r, k = self.r, self.k
        p.heading(X_NEXT, head, self._layer_title(k + 1), self._next_sub())
        ys = self._ys(len(self.nexts))
        output = k + 1 == self.last
        w_box = BW + 0.3
        for w, y in zip(self.nexts, ys):
            m = r.neuron(k + 1, w.to)
            p.box(X_NEXT, y, w_box, BH, NEURON_FILL)
            label = (f"z{sub(w.to)} = {num(m.z)}" if not output
                     else f"y{sub(w.to)} = {num(m.a)}")
            p.text_in(X_NEXT, y, label, 9)
            if output:
                self._target(p, w.to, X_NEXT + w_box / 2 + 0.15, y)
        wmax = max([abs(w.value) for w in self.nexts] + [1e-12])
        self._edges(p, [(w.value, (X_NEURON + NW / 2, 0), (X_NEXT - w_box / 2, y),
                         f"w = {num(w.value)}") for w, y in zip(self.nexts, ys)], wmax, 0.72)
        if self.rest_next:
            self._note(p, X_NEXT, ys[-1] - BH / 2 - 0.15,
                       self.T["nfig_more_next"].format(n=len(self.rest_next)))

    def _target(self, p: Panel, i: int, x: float, y: float) -> None:
        """Output i's target t_i (and its class name), left-aligned at x: bold where t_i > 0."""
        t = float(self.r.targets[0][i])
        names = self.r.meta.get("class_names") or []
        name = names[i] if i < len(names) and names[i] != str(i) else ""
        p.ax.text(x, y, f"t{sub(i)} = {num(t)}" + (f"  {name}" if name else ""),
                  ha="left", va="center", fontsize=8.5, fontweight="bold" if t else "normal",
                  color="#222222" if t else "#666666")

    def _forward_loss(self, p: Panel):
        r, T = self.r, self.T
        t = float(r.targets[0][self.j])
        x = X_NEXT
        p.box(x, 0, BW + 1.0, 1.2, INPUT_FILL)
        p.text_in(x, 0.22, f"{T['target']} t{sub(self.j)} = {num(t)}", 9)
        p.text_in(x, -0.22, f"l = {num(r.losses[0], 6)}", 9.5, fontweight="bold")
        p.edge((X_NEURON + NW / 2, 0), (x - (BW + 1.0) / 2, 0), 1.0, 1.0, colour="#555555")
        p.heading(x, 0.85, T["loss_function"], "l = −Σ_k t_k log y_k")

    def _image(self, p: Panel):
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
        ax = p.ax
        x0, y0 = X_NEURON - size / 2, NH / 2 + 0.85
        ax.imshow(img, cmap="gray_r", extent=(x0, x0 + size, y0, y0 + size), zorder=2,
                  interpolation="nearest", vmin=min(0.0, float(img.min())),
                  vmax=max(1e-12, float(img.max())))
        ax.add_patch(Rectangle((x0, y0), size, size, fill=False, edgecolor="#888888", lw=0.8,
                               zorder=3))
        p.keep_clear(Box(x0, y0, x0 + size, y0 + size))
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

    def _backward(self, p: Panel):
        r, T, k, nr = self.r, self.T, self.k, self.nr
        p.title(T["nfig_backward"])
        head = self.half + 0.55
        softmax = r.activations[k] == "softmax"
        # The neuron: sum (dl/da) -> amplifier sigma'(z) -> dl/dz.
        p.heading(X_AMP, 1.0, self._layer_title(k) + "  ·  " + T["nfig_neuron"].format(j=self.j),
                  T["fig_case1"] if k == self.last else T["fig_case2"])
        p.box(X_SUM, 0, PW, 0.95, "white" if not softmax else INPUT_FILL)
        p.text_in(X_SUM, 0.2, "y − t" if softmax else T["fig_sum"], 8.5, color="#444444")
        p.text_in(X_SUM, -0.2, num(nr.dl_dz if softmax else nr.dl_da), 9.5)
        p.amplifier(X_AMP, 0, nr.sigma_prime, T)
        p.box(X_OUT, 0, PW, 0.95, NEURON_FILL, edge="#1f3f70", lw=1.8)
        p.text_in(X_OUT, 0.2, "dl/dz", 8.5, color="#444444")
        p.text_in(X_OUT, -0.2, num(nr.dl_dz), 10, fontweight="bold")
        half = STYLE.amp.half
        p.flow((X_SUM + PW / 2, 0), (X_AMP - half, 0))
        p.flow((X_AMP + half, 0), (X_OUT - PW / 2, 0))
        # Where dl/da comes from.
        if k < self.last:
            self._backward_next(p, head)
        else:
            self._backward_loss(p)
        self._backward_weights(p, head)

    def _backward_loss(self, p: Panel):
        """Case 1: dl/dy of the loss arrives at the sum."""
        r, nr = self.r, self.nr
        t = float(r.targets[0][self.j])
        p.box(X_BNEXT, 0, BW + 0.4, 0.95, INPUT_FILL)
        p.text_in(X_BNEXT, 0.2, self.T["loss_function"], 8.5, color="#444444")
        # dl/dy of the loss: 2(y - t) for the squared error; y - t for half of it, and
        # for softmax + cross-entropy (where it is dl/dz, the targets a distribution).
        two = "2" if r.loss_name == "squared_error" else ""
        p.text_in(X_BNEXT, -0.2, f"{two}(y − t) = {two}({num(nr.a)} − {paren(t)})"
                  if two else f"y − t = {num(nr.a)} − {paren(t)}", 9)
        p.flow((X_BNEXT + (BW + 0.4) / 2, 0), (X_SUM - PW / 2, 0), shrink=True)

    def _backward_weights(self, p: Panel, head):
        """On to the incoming weights: dl/dw = dz/dw x dl/dz, and what was checked."""
        k, T = self.k, self.T
        p.heading(X_BIN, head, T["nfig_weights"], "dl/dw = dz/dw × dl/dz")
        ys = self._ys(len(self.inputs))
        w_box = BW + 0.5
        for w, y in zip(self.inputs, ys):
            p.box(X_BIN, y, w_box, BH, INPUT_FILL)
            p.text_in(X_BIN, y, f"dz/dw = {self._source_name(w.from_)} = {num(w.dz_dw[0])}",
                      8.5)
        gmax = max([abs(w.dl_dw) for w in self.inputs] + [1e-12])
        self._edges(p, [(w.dl_dw, (X_OUT + PW / 2, 0), (X_BIN - w_box / 2, y),
                         f"dl/dw = {num(w.dl_dw)}") for w, y in zip(self.inputs, ys)], gmax, 0.7)
        zeros = sum(1 for w in self.rest_in if w.dz_dw[0] == 0)
        checked = [w for w in self.r.weights if w.layer == k and w.to == self.j]
        worst = max(w.disagreement for w in checked)
        note = T["nfig_more_in"].format(n=len(self.rest_in), zeros=zeros) if self.rest_in else ""
        weights = sum(1 for w in checked if not w.is_bias)  # the bias is named on its own
        note += ("\n" if note else "") + T["nfig_checked"].format(n=weights, dis=sci(worst))
        self._note(p, X_BIN, ys[-1] - BH / 2 - 0.15, note)
        self._note(p, X_OUT, -0.75, f"b: dl/db = dl/dz = {num(self.bias.dl_dw)}")

    def _backward_next(self, p: Panel, head):
        """Case 2: dl/dz of the next layer's neurons comes back along the weights."""
        r, k = self.r, self.k
        p.heading(X_BNEXT, head, self._layer_title(k + 1), self._next_sub())
        ys = self._ys(len(self.nexts))
        w_box = BW + 0.3
        for w, y in zip(self.nexts, ys):
            m = r.neuron(k + 1, w.to)
            p.box(X_BNEXT, y, w_box, BH, NEURON_FILL)
            p.text_in(X_BNEXT, y, f"dl/dz{sub(w.to)} = {num(m.dl_dz)}", 8.5)
        wmax = max([abs(w.value) for w in self.nexts] + [1e-12])
        self._edges(p, [(w.value, (X_BNEXT + w_box / 2, y), (X_SUM - PW / 2, 0),
                         f"w = {num(w.value)}") for w, y in zip(self.nexts, ys)], wmax, 0.3)
        dl = {n.index: n.dl_dz for n in r.layer_neurons(k + 1)}
        drawn = sum(w.value * dl[w.to] for w in self.nexts)
        rest = sum(w.value * dl[w.to] for w in self.rest_next)
        if self.rest_next:
            note = self.T["nfig_sum_back"].format(
                top=len(self.nexts), drawn=num(drawn), more=len(self.rest_next),
                rest=num(rest), total=num(self.nr.dl_da))
            self._note(p, X_SUM, -0.75, note)

    def _footer(self):
        r, T = self.r, self.T
        result = T["nfig_footer"].format(loss=num(r.loss, 6), after=num(r.loss_after, 6),
                                         lr=num(r.lr), dis=sci(r.max_disagreement),
                                         n=len(r.weights))
        footer(self.figure, STYLE, result, loss_line(T, r.loss_name))
