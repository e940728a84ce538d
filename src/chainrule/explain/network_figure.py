"""The network figure: the forward network and the reversed (backward) network, from one
``Record``.

Panel 1, forward pass: inputs on the left, every neuron with z = sum w a + b and
a = sigma(z), every weight on its edge, the bias under its neuron, the target after
each output.

Panel 2, backward pass: the same network reversed, output layer on the left. Each
neuron is drawn as the lecture draws it: what arrives (dl/dy from the loss for the output
layer, case 1; sum_k w_kj dl/dz_k from the layer after it for a hidden layer, case 2)
goes through an amplifier, a triangle whose gain sigma'(z) was fixed by the forward pass,
and leaves as dl/dz. The weights are the same numbers on the same edges, now carrying
gradients backwards.

Both panels share the kit's scale (``_draw.SCALE``); drawn with matplotlib's object API
(no pyplot state).
"""

from __future__ import annotations

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
from chainrule.explain.record import Record
from chainrule.explain.text import num, sci

STYLE = Style(rounding=0.18, edges=(0.5, 2.5), sub_size=8.5, sub_gap=0.05, title_gap=0.35,
              footer_x=0.01, footer_size=9,
              amp=Amp(half=0.42, tip=0.38, box=0.3, gain_at=0.42, note_at=0.38,
                      gain_size=8.5))
DY = 1.5  # vertical distance between neurons
NW, NH = 1.9, 0.9  # forward neuron box
IW = 1.5  # input box width
PW = 1.7  # backward in/out node width
AX = 1.7  # backward: from a node's centre to its amplifier's centre
#: Where a weight's label may sit along its edge, in the order tried: near the arrow head
#: first, as the labels gather at the neuron that sums them.
LABEL_AT = (0.78, 0.7, 0.86, 0.62, 0.54, 0.46, 0.38, 0.3, 0.22)


def make_network_figure(record: Record, T: dict, sample: int, figure_cls):
    """Both panels for sample ``sample`` as a matplotlib Figure (labels from ``T``)."""
    return _Drawing(record, T, sample, figure_cls).figure


class _Drawing:
    """Lays out and draws both panels. One instance per figure."""

    def __init__(self, record: Record, T: dict, sample: int, figure_cls):
        self.r, self.T, self.n = record, T, sample
        self.top = (max(record.sizes) - 1) * DY / 2  # y of the tallest layer's first neuron
        fwd = self._forward_extent()
        bwd = self._backward_extent()
        width = max(fwd[1] - fwd[0], bwd[1] - bwd[0])
        h_fwd, h_bwd = fwd[3] - fwd[2], bwd[3] - bwd[2]
        foot = FOOTER_H / SCALE
        W = width
        H = h_fwd + h_bwd + foot
        self.figure = figure_cls(figsize=(W * SCALE, H * SCALE))
        # Each panel centred horizontally, the forward one on top.
        forward = Panel(self.figure, ((W - (fwd[1] - fwd[0])) / 2 / W, (foot + h_bwd) / H,
                                      (fwd[1] - fwd[0]) / W, h_fwd / H), fwd, STYLE)
        backward = Panel(self.figure, ((W - (bwd[1] - bwd[0])) / 2 / W, foot / H,
                                       (bwd[1] - bwd[0]) / W, h_bwd / H), bwd, STYLE)
        self._draw_forward(forward)
        self._draw_backward(backward)
        self._footer()
        edge_legend(self.figure, T["fig_legend"],
                    ("w > 0", "w < 0", T["fig_legend_size"].format(top=num(self._wmax()))),
                    STYLE.edges)

    # --- geometry ------------------------------------------------------------------------

    def _ys(self, size: int) -> list[float]:
        """Neuron centres of a layer of ``size``, top to bottom, centred on 0."""
        return [(size - 1) * DY / 2 - j * DY for j in range(size)]

    def _gap(self, k: int) -> float:
        """Room for the weights of layer k: wider when many edges cross."""
        fan = max(self.r.sizes[k], self.r.sizes[k + 1])
        return max(2.8, 1.1 * fan)

    def _fx(self, c: int) -> float:
        """Forward panel: x of column c (0 = the inputs, k + 1 = layer k)."""
        x, width = 0.0, IW
        for k in range(c):
            x += width / 2 + self._gap(k) + NW / 2
            width = NW
        return x

    def _bx(self, c: int) -> float:
        """Backward panel: x of column c's in-node (column c shows layer L - 1 - c)."""
        L = self.r.n_layers
        return sum(2 * AX + PW + self._gap(L - 1 - i) for i in range(c))

    def _forward_extent(self):
        L = self.r.n_layers
        return (-IW / 2 - 0.4, self._fx(L) + NW / 2 + 1.8,
                -self.top - DY / 2 - 0.5, self.top + 2.3)

    def _backward_extent(self):
        L = self.r.n_layers
        return (-PW / 2 - 0.4, self._bx(L - 1) + 2 * AX + PW / 2 + 0.4,
                -self.top - DY / 2 - 1.0, self.top + 2.3)

    def _wmax(self) -> float:
        return max((abs(w.value) for w in self.r.weights if not w.is_bias), default=1.0)

    def _title(self, p: Panel, key: str) -> None:
        title = self.T[key]
        if self.r.several:
            title += "    (" + self.T["fig_sample"].format(n=self.n, N=self.r.n_samples) + ")"
        p.title(title)

    def _weights(self, p: Panel, edges) -> None:
        """Weights as edges, then their labels (so that no edge covers a label); ``edges``
        holds (weight, one end, the other end)."""
        wmax = self._wmax()
        for w, p0, p1 in edges:
            p.edge(p0, p1, w.value, wmax)
        for w, p0, p1 in edges:
            p.edge_label(p0, p1, num(w.value), POS if w.value >= 0 else NEG, LABEL_AT)

    # --- panel 1: forward --------------------------------------------------------------------

    def _draw_forward(self, p: Panel):
        r, T, n = self.r, self.T, self.n
        self._title(p, "fig_forward")
        head_y = self.top + 1.0
        L = r.n_layers
        p.heading(0, head_y, T["fig_input_layer"])
        for k in range(L):
            key = "fig_output_layer" if k == L - 1 else "fig_hidden_layer"
            p.heading(self._fx(k + 1), head_y, T[key].format(k=k), r.activations[k])
        # Nodes first (their boxes block labels), then edges and weight labels.
        for i, (y, v) in enumerate(zip(self._ys(r.sizes[0]), r.inputs[n])):
            p.box(0, y, IW, 0.7, INPUT_FILL)
            p.text_in(0, y, f"x{sub(i)} = {num(float(v))}", 9.5)
        for k in range(L):
            for nr, y in zip(r.layer_neurons(k, n), self._ys(r.sizes[k + 1])):
                self._neuron(p, k, nr, self._fx(k + 1), y)
        for k in range(L):
            x0 = self._fx(k) + (IW if k == 0 else NW) / 2
            x1 = self._fx(k + 1) - NW / 2
            ys_in, ys_out = self._ys(r.sizes[k]), self._ys(r.sizes[k + 1])
            self._weights(p, [(w, (x0, ys_in[w.from_]), (x1, ys_out[w.to]))
                              for w in r.layer_weights(k) if not w.is_bias])

    def _neuron(self, p: Panel, k: int, nr, x: float, y: float) -> None:
        """One neuron of the forward panel: z and a, its bias under it, and for an output
        its target after it."""
        r, ax = self.r, p.ax
        p.box(x, y, NW, NH, NEURON_FILL)
        p.text_in(x, y + 0.2, f"z = {num(nr.z)}", 9.5)
        p.text_in(x, y - 0.2, f"a = {num(nr.a)}", 9.5, fontweight="bold")
        bias = r.weight(k, nr.index, "bias").value
        ax.text(x, y - NH / 2 - 0.06, f"b = {num(bias)}", ha="center", va="top", fontsize=8,
                color="#555555")
        p.keep_clear(Box(x - 0.5, y - NH / 2 - 0.35, x + 0.5, y - NH / 2))
        if k == r.n_layers - 1:
            t = float(r.targets[self.n][nr.index])
            ax.text(x + NW / 2 + 0.15, y, f"{self.T['target']} t{sub(nr.index)} = {num(t)}",
                    ha="left", va="center", fontsize=9, color="#333333")

    # --- panel 2: backward -------------------------------------------------------------------

    def _draw_backward(self, p: Panel):
        r, T = self.r, self.T
        L = r.n_layers
        self._title(p, "fig_backward")
        head_y = self.top + 1.0
        # Column c shows layer L-1-c: in-node at x, amplifier at x + AX, out-node x + 2AX.
        for c in range(L):
            k = L - 1 - c
            x = self._bx(c)
            key = "fig_output_layer" if k == L - 1 else "fig_hidden_layer"
            p.heading(x + AX, head_y, T[key].format(k=k),
                      T["fig_case1"] if k == L - 1 else T["fig_case2"])
            for nr, y in zip(r.layer_neurons(k, self.n), self._ys(r.sizes[k + 1])):
                self._reversed_neuron(p, k, nr, x, y)
        # Edges: from dl/dz of layer k (column c) to the in-node of layer k-1 (column c+1),
        # carrying w_kj: the sum_k w_kj dl/dz_k of case 2.
        for c in range(L - 1):
            k = L - 1 - c
            x0 = self._bx(c) + 2 * AX + PW / 2
            x1 = self._bx(c + 1) - PW / 2
            ys_from, ys_to = self._ys(r.sizes[k + 1]), self._ys(r.sizes[k])
            self._weights(p, [(w, (x0, ys_from[w.to]), (x1, ys_to[w.from_]))
                              for w in r.layer_weights(k) if not w.is_bias])
        p.ax.text(p.ext[0] + 0.2, p.ext[2] + 0.1, "▷ " + T["fig_amp"] + "\n"
                  + T["backward_note"], ha="left", va="bottom", fontsize=8.5,
                  color="#444444", linespacing=1.6)

    def _reversed_neuron(self, p: Panel, k: int, nr, x: float, y: float) -> None:
        """One neuron of the backward panel: what arrives (dl/da) at x, the amplifier
        sigma'(z), and dl/dz."""
        T, output = self.T, k == self.r.n_layers - 1
        softmax = self.r.activations[k] == "softmax"
        top = "y − t" if softmax else T["fig_start"] if output else T["fig_sum"]
        p.box(x, y, PW, 0.9, INPUT_FILL if output else "white")
        p.text_in(x, y + 0.2, top, 8.5, color="#444444")
        p.text_in(x, y - 0.2, num(nr.dl_dz if softmax else nr.dl_da), 9.5)
        p.amplifier(x + AX, y, nr.sigma_prime, T)
        p.keep_clear(Box(x + AX - 0.7, y - 0.4, x + AX + 0.7, y + 0.75))
        p.box(x + 2 * AX, y, PW, 0.9, NEURON_FILL)
        p.text_in(x + 2 * AX, y + 0.2, "dl/dz", 8.5, color="#444444")
        p.text_in(x + 2 * AX, y - 0.2, num(nr.dl_dz), 9.5, fontweight="bold")
        half = STYLE.amp.half
        p.flow((x + PW / 2, y), (x + AX - half, y))
        p.flow((x + AX + half, y), (x + 2 * AX - PW / 2, y))

    def _footer(self):
        r, T = self.r, self.T
        result = T["fig_footer"].format(loss=num(r.loss, 6), after=num(r.loss_after, 6),
                                        lr=num(r.lr), dis=sci(r.max_disagreement))
        more = (f";  {T['total_loss']};  l^{self.n} = {num(r.losses[self.n], 6)}"
                if r.several else "")
        footer(self.figure, STYLE, result, loss_line(T, r.loss_name, more))
