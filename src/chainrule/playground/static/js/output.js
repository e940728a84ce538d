// The output: the large heat map with the data points (click one to choose the sample),
// and the training and test loss curves.

import { CLASS_COLORS, classesURL, diverging, mapURL, rgb } from "./heat.js";

const NS = "http://www.w3.org/2000/svg";
const SIDE = 300;

function el(name, attrs = {}, parent = null) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

export class OutputView {
  constructor(svg, chart, onPoint) {
    this.svg = svg;
    this.chart = chart;
    this.onPoint = onPoint;
  }

  build(state) {
    this.state = state;
    const [lo, hi] = state.domain;
    const scale = (v) => ((v - lo) / (hi - lo)) * SIDE;
    this.svg.replaceChildren();
    this.image = el("image", { width: SIDE, height: SIDE, preserveAspectRatio: "none" }, this.svg);
    const dots = el("g", { class: "points" }, this.svg);
    this.dots = state.points.map(([x1, x2, label, train], i) => {
      const fill = state.task === "multiclass" ? CLASS_COLORS[label % CLASS_COLORS.length]
        : state.task === "classification" ? diverging(label) : diverging(label);
      const c = el("circle", { cx: scale(x1).toFixed(1), cy: (SIDE - scale(x2)).toFixed(1), r: 3.2,
        fill: rgb(fill), class: train ? "point train" : "point test", "data-testid": `point-${i}`,
        "data-sample": i }, dots);
      c.addEventListener("click", () => this.onPoint(i));
      return c;
    });
    this.ring = el("circle", { r: 7, class: "selected-ring", visibility: "hidden" }, this.svg);
    this.axes(lo, hi);
  }

  axes(lo, hi) {
    for (const v of [lo, (lo + hi) / 2, hi]) {
      const p = ((v - lo) / (hi - lo)) * SIDE;
      const label = el("text", { x: Math.min(Math.max(p, 8), SIDE - 8), y: SIDE - 3, class: "axis", "text-anchor": "middle" }, this.svg);
      label.textContent = Number(v.toFixed(1));
    }
  }

  update(maps) {
    if (!maps) return;
    const grid = maps.output_grid;
    const href = this.state.task === "multiclass" ? classesURL(maps.output, grid) : mapURL(maps.output[0], grid);
    this.image.setAttribute("href", href);
  }

  select(i) {
    const dot = this.dots[i];
    if (!dot) { this.ring.setAttribute("visibility", "hidden"); return; }
    this.ring.setAttribute("cx", dot.getAttribute("cx"));
    this.ring.setAttribute("cy", dot.getAttribute("cy"));
    this.ring.setAttribute("visibility", "visible");
  }

  // The loss curves: [step, loss, test_loss, accuracy, test_accuracy] per recorded epoch.
  drawChart(history) {
    this.chart.replaceChildren();
    if (history.length < 2) return;
    const w = 300;
    const h = 60;
    const losses = history.flatMap((r) => [r[1], r[2]]).filter((v) => v !== null);
    const top = Math.max(1e-9, ...losses);
    const first = history[0][0];
    const span = Math.max(1, history[history.length - 1][0] - first);
    const line = (col, cls) => {
      const pts = history.filter((r) => r[col] !== null)
        .map((r) => `${(((r[0] - first) / span) * w).toFixed(1)},${(h - (r[col] / top) * (h - 4)).toFixed(1)}`);
      if (pts.length) el("polyline", { points: pts.join(" "), class: cls }, this.chart);
    };
    line(2, "curve test");
    line(1, "curve train");
  }
}
