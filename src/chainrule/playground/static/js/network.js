// The network drawn in SVG: the feature column, every layer's neurons with their heat maps,
// links whose width is |w| and whose colour is the sign of w, and a hover card to read or
// edit a weight. The backward view draws the reversed network (output on the left) with
// each neuron's amplifier σ'(z) and its dl/dz for the selected point.

import { num, t } from "./i18n.js";
import { BLUE, ORANGE, classURL, diverging, mapURL, rgb } from "./heat.js";

const NS = "http://www.w3.org/2000/svg";
export const FEATURES = ["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"];
export const FEATURE_LABELS = { x1: "X₁", x2: "X₂", x1sq: "X₁²", x2sq: "X₂²", x1x2: "X₁X₂",
  sinx1: "sin(X₁)", sinx2: "sin(X₂)" };
const S = 36; // a node's side
const GAP = 12;
const COL = 130; // column spacing
const TOP = 34;
const LEFT = 70;

function el(name, attrs = {}, parent = null) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

export function linkWidth(w) { return 1 + 9 * Math.min(Math.abs(w), 5) / 5; }

export class NetworkView {
  constructor(svg, controls, card, handlers) {
    this.svg = svg;
    this.controls = controls;
    this.card = card;
    this.on = handlers;
    this.hideTimer = null;
    card.addEventListener("mouseenter", () => clearTimeout(this.hideTimer));
    card.addEventListener("mouseleave", () => this.hideCard());
    card.querySelector("input").addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter" || !this.editing) return;
      const value = parseFloat(ev.target.value);
      const { layer, to, from } = this.editing;
      this.card.hidden = true;
      this.on.onEdit(layer, to, from, value);
    });
  }

  // Column x of column c (0: the features, k + 1: layer k), by the view's direction.
  colX(c) {
    const n = this.sizes.length;
    return LEFT + (this.view === "backward" ? n - 1 - c : c) * COL;
  }

  // The backward view writes σ'(z) above and dl/dz below each neuron: more room.
  rowY(r) { return TOP + r * (S + (this.view === "backward" ? 2 * GAP : GAP)); }

  build(state, view) {
    this.state = state;
    this.view = view;
    this.sizes = state.sizes;
    this.active = state.config.features;
    const rows = Math.max(FEATURES.length, ...this.sizes.slice(1));
    const width = LEFT + (this.sizes.length - 1) * COL + S + 70;
    const height = this.rowY(rows) + 20;
    this.svg.replaceChildren();
    this.svg.setAttribute("width", width);
    this.svg.setAttribute("height", height);
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.svg.classList.toggle("backward", view === "backward");
    el("rect", { x: 0, y: 0, width, height, class: "background" }, this.svg);
    const linkLayer = el("g", { class: "links" }, this.svg);
    const nodeLayer = el("g", { class: "nodes" }, this.svg);
    this.buildFeatures(nodeLayer);
    this.nodes = [];
    for (let k = 0; k < this.sizes.length - 1; k++) {
      this.nodes.push([]);
      for (let j = 0; j < this.sizes[k + 1]; j++) this.nodes[k].push(this.buildNeuron(nodeLayer, k, j));
    }
    this.links = [];
    for (let k = 0; k < this.sizes.length - 1; k++) {
      this.links.push([]);
      for (let j = 0; j < this.sizes[k + 1]; j++) {
        this.links[k].push([]);
        for (let i = 0; i < this.sizes[k]; i++) this.links[k][j].push(this.buildLink(linkLayer, k, j, i));
      }
    }
    this.buildControls();
    this.update(state, null);
  }

  buildFeatures(parent) {
    this.featureNodes = {};
    FEATURES.forEach((name, r) => {
      const on = this.active.includes(name);
      const x = this.colX(0);
      const y = this.rowY(r);
      const g = el("g", { class: `feature${on ? "" : " off"}`, "data-testid": `feature-${name}`,
        transform: `translate(${x},${y})` }, parent);
      el("rect", { width: S, height: S, class: "frame" }, g);
      const image = el("image", { width: S, height: S, preserveAspectRatio: "none" }, g);
      const label = el("text", { x: this.view === "backward" ? S + 6 : -6, y: S / 2 + 4,
        class: "feature-label", "text-anchor": this.view === "backward" ? "start" : "end" }, g);
      label.textContent = FEATURE_LABELS[name];
      g.addEventListener("click", () => this.on.onFeature(name));
      this.featureNodes[name] = { g, image };
    });
  }

  buildNeuron(parent, k, j) {
    const x = this.colX(k + 1);
    const y = this.rowY(j);
    const g = el("g", { class: "neuron", "data-testid": `neuron-${k}-${j}`, "data-layer": k,
      "data-index": j, transform: `translate(${x},${y})` }, parent);
    el("rect", { width: S, height: S, class: "frame" }, g);
    const image = el("image", { width: S, height: S, preserveAspectRatio: "none" }, g);
    const fill = el("rect", { width: S, height: S, class: "grad-fill" }, g);
    const amp = el("polygon", { points: `-16,${S / 2 - 9} -16,${S / 2 + 9} -2,${S / 2}`, class: "amp" }, g);
    const ampText = el("text", { x: -9, y: S / 2 - 12, class: "amp-text", "text-anchor": "middle" }, g);
    const gradText = el("text", { x: S / 2, y: S + 11, class: "grad-text", "text-anchor": "middle" }, g);
    // The health mark of a hidden neuron (hidden while it is healthy): ring, badge, tooltip.
    const mark = k < this.sizes.length - 2 ? this.buildHealth(g, k, j) : {};
    const bias = el("rect", { x: -5, y: S - 5, width: 8, height: 8, class: "bias",
      "data-testid": `bias-${k}-${j}` }, g);
    bias.addEventListener("mouseenter", (ev) => this.showCard(ev, k, j, "bias"));
    bias.addEventListener("mouseleave", () => this.scheduleHide());
    g.addEventListener("click", (ev) => { if (ev.target !== bias) this.on.onNeuron(k, j); });
    return { g, image, fill, amp, ampText, gradText, bias, ...mark };
  }

  buildHealth(g, k, j) {
    const health = el("g", { class: "health", "data-testid": `health-${k}-${j}`, visibility: "hidden" }, g);
    el("rect", { x: -4, y: -4, width: S + 8, height: S + 8, rx: 6, class: "health-ring" }, health);
    el("circle", { cx: S + 2, cy: -2, r: 8, class: "health-badge" }, health);
    const badge = el("text", { x: S + 2, y: 2, class: "health-badge-text", "text-anchor": "middle" }, health);
    return { health, badge, tip: el("title", {}, health) };
  }

  buildLink(parent, k, j, i) {
    const row = k === 0 ? FEATURES.indexOf(this.active[i]) : i;
    const src = { x: this.colX(k), y: this.rowY(row) + S / 2 };
    const dst = { x: this.colX(k + 1), y: this.rowY(j) + S / 2 };
    // Forward: from the input's right edge to the neuron's left edge; backward: from the
    // neuron (nearer the output, on the left) to the input, the way dl/dz flows.
    const [a, b] = this.view === "backward" ? [{ x: dst.x + S, y: dst.y }, { x: src.x - 16, y: src.y }]
      : [{ x: src.x + S, y: src.y }, { x: dst.x, y: dst.y }];
    const mid = (a.x + b.x) / 2;
    const d = `M${a.x},${a.y} C${mid},${a.y} ${mid},${b.y} ${b.x},${b.y}`;
    const path = el("path", { d, class: "link", "data-testid": `link-${k}-${j}-${i}` }, parent);
    const hit = el("path", { d, class: "hit" }, parent);
    hit.addEventListener("mouseenter", (ev) => this.showCard(ev, k, j, i));
    hit.addEventListener("mouseleave", () => this.scheduleHide());
    return path;
  }

  buildControls() {
    this.controls.replaceChildren();
    for (let k = 0; k < this.sizes.length - 2; k++) {
      const box = document.createElement("div");
      box.className = "neuron-box";
      box.style.left = `${this.colX(k + 1) + S / 2 - 45}px`;
      const plus = document.createElement("button");
      plus.textContent = "+";
      plus.dataset.testid = `add-neuron-${k}`;
      plus.onclick = () => this.on.onNeurons(k, +1);
      const minus = document.createElement("button");
      minus.textContent = "−";
      minus.dataset.testid = `remove-neuron-${k}`;
      minus.onclick = () => this.on.onNeurons(k, -1);
      const label = document.createElement("div");
      label.textContent = t("pg.neurons", { n: this.sizes[k + 1] });
      box.append(plus, minus, label);
      this.controls.append(box);
    }
  }

  // Numbers of a state or a step message: weights, heat maps, the backward view's neurons.
  update(numbers, neurons) {
    const layers = numbers.layers;
    if (layers) {
      this.layers = layers;
      for (let k = 0; k < this.links.length; k++) {
        for (let j = 0; j < this.links[k].length; j++) {
          for (let i = 0; i < this.links[k][j].length; i++) {
            const w = layers[k].weight[j][i];
            const path = this.links[k][j][i];
            path.setAttribute("stroke-width", linkWidth(w).toFixed(2));
            path.setAttribute("stroke", rgb(w >= 0 ? BLUE : ORANGE));
          }
          const b = layers[k].bias[j];
          this.nodes[k][j].bias.setAttribute("fill", rgb(b >= 0 ? BLUE : ORANGE));
        }
      }
    }
    if (this.view === "forward" && numbers.heatmaps) this.paintMaps(numbers.heatmaps);
    if ("health" in numbers) this.paintHealth(numbers.health);
    if (this.state.feature_maps) {
      for (const name of FEATURES) {
        this.featureNodes[name].image.setAttribute("href", mapURL(this.state.feature_maps[name], this.state.heatmaps.neuron_grid));
      }
      this.state = { ...this.state, feature_maps: null }; // drawn once per build
    }
    if (neurons) this.showGradients(neurons);
  }

  paintMaps(maps) {
    const grid = maps.neuron_grid;
    const last = this.sizes.length - 2;
    const softmax = this.state.task === "multiclass";
    this.nodes.forEach((layer, k) => layer.forEach((node, j) => {
      const b64 = maps.neurons[k][j];
      node.image.setAttribute("href", softmax && k === last ? classURL(b64, grid, j) : mapURL(b64, grid));
    }));
  }

  // A dead or saturated hidden neuron (the server's chainrule.health numbers) gets a ring,
  // a badge and a tooltip that says what it means and the fix; healthy ones none.
  paintHealth(health) {
    this.nodes.forEach((layer, k) => layer.forEach((node, j) => {
      if (!node.health) return; // the output layer: not judged
      const h = health?.[k]?.[j];
      const mark = h?.mark ?? null;
      node.health.setAttribute("visibility", mark ? "visible" : "hidden");
      node.health.setAttribute("class", `health${mark ? ` ${mark}` : ""}`);
      node.health.dataset.mark = mark ?? "";
      node.g.classList.toggle("unhealthy", Boolean(mark));
      if (!mark) return;
      node.badge.textContent = t(`pg.health.badge.${mark}`);
      node.tip.textContent = t(`pg.health.${mark}`, { pct: Math.round(100 * (h.saturated ?? 1)),
        amp: num(h.amplifier, 3) });
    }));
  }

  // The backward view: each neuron's amplifier σ'(z) and dl/dz for one point.
  showGradients(neurons) {
    this.neurons = neurons;
    const top = Math.max(1e-12, ...neurons.map((n) => Math.abs(n.dl_dz)));
    for (const n of neurons) {
      const node = this.nodes[n.layer]?.[n.index];
      if (!node) continue;
      node.fill.setAttribute("fill", rgb(diverging(n.dl_dz / top)));
      node.gradText.textContent = num(n.dl_dz, 3);
      node.ampText.textContent = n.sigma_prime === null ? "y−t" : num(n.sigma_prime, 3);
      node.amp.classList.toggle("dead", n.sigma_prime === 0);
    }
  }

  // dl/dz runs back along the links for a moment after a step.
  flow() {
    if (this.view !== "backward") return;
    this.svg.classList.remove("flowing");
    void this.svg.getBoundingClientRect(); // restart the animation
    this.svg.classList.add("flowing");
    clearTimeout(this.flowTimer);
    this.flowTimer = setTimeout(() => this.svg.classList.remove("flowing"), 800);
  }

  select(layer, index) {
    for (const g of this.svg.querySelectorAll(".neuron.selected")) g.classList.remove("selected");
    if (layer !== null) this.nodes[layer]?.[index]?.g.classList.add("selected");
  }

  showCard(ev, layer, to, from) {
    clearTimeout(this.hideTimer);
    if (!this.layers) return;
    const value = from === "bias" ? this.layers[layer].bias[to] : this.layers[layer].weight[to][from];
    this.editing = { layer, to, from };
    this.card.querySelector("#card-title").textContent = from === "bias"
      ? t("pg.bias_card", { layer, to }) : t("pg.weight_card", { layer, to, from });
    const input = this.card.querySelector("input");
    input.value = String(value);
    input.dataset.value = String(value);
    const box = this.svg.parentElement.getBoundingClientRect();
    this.card.style.left = `${ev.clientX - box.left + 12}px`;
    this.card.style.top = `${ev.clientY - box.top + 12}px`;
    this.card.hidden = false;
  }

  scheduleHide() { this.hideTimer = setTimeout(() => this.hideCard(), 400); }

  hideCard() { if (document.activeElement !== this.card.querySelector("input")) this.card.hidden = true; }
}
