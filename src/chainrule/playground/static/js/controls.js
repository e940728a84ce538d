// The settings controls, and the settings in the URL: every field of /api/config, plus
// the page's own lang, view and sample, live in the hash (#dataset=xor&hidden=6,6&...),
// so a link reproduces the page.

import { t } from "./i18n.js";

export const LR = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
export const REG_RATES = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
export const DATASETS = ["circle", "xor", "gauss", "spiral", "gauss3", "spiral3", "plane", "multi-gauss", "csv"];
const LISTS = ["features", "hidden"];
const NUMBERS = ["lr", "reg_rate", "batch_size", "noise", "train_fraction", "points", "seed", "stop_epochs", "stop_loss", "speed"];
const PAGE = ["lang", "view", "sample"];

// The hash as {config changes} and {page settings}.
export function readHash() {
  const q = new URLSearchParams(location.hash.slice(1));
  const config = {};
  const page = {};
  for (const [k, v] of q) {
    if (PAGE.includes(k)) page[k] = v;
    else if (LISTS.includes(k)) config[k] = v === "" ? [] : v.split(",").map((s) => (k === "hidden" ? Number(s) : s));
    else if (NUMBERS.includes(k)) config[k] = Number(v);
    else config[k] = v;
  }
  return { config, page };
}

export function writeHash(config, page) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(config)) q.set(k, Array.isArray(v) ? v.join(",") : String(v));
  for (const [k, v] of Object.entries(page)) if (v !== null && v !== undefined) q.set(k, String(v));
  history.replaceState(null, "", `#${q}`);
}

function options(select, values, fmt = String) {
  select.replaceChildren(...values.map((v) => {
    const o = document.createElement("option");
    o.value = String(v);
    o.textContent = fmt(v);
    return o;
  }));
}

// Wire the controls to ``change(fields)`` (a POST /api/config); ``show(state)`` sets them.
export class Controls {
  constructor(change) {
    this.change = change;
    const $ = (id) => document.getElementById(id);
    this.$ = $;
    options($("lr"), LR);
    options($("reg-rate"), REG_RATES);
    for (const id of ["lr", "reg-rate"]) $(id).onchange = (ev) => change({ [ev.target.dataset.field]: Number(ev.target.value) });
    for (const id of ["activation", "regularization"]) $(id).onchange = (ev) => change({ [ev.target.dataset.field]: ev.target.value });
    const slider = (id, field, fromSlider) => { $(id).onchange = (ev) => change({ [field]: fromSlider(Number(ev.target.value)) }); };
    slider("train-fraction", "train_fraction", (v) => v / 100);
    slider("noise", "noise", (v) => v);
    slider("batch-size", "batch_size", (v) => v);
    slider("points", "points", (v) => v);
    slider("speed", "speed", (v) => v);
    for (const [id, field] of [["train-fraction", "train_fraction"], ["noise", "noise"], ["batch-size", "batch_size"], ["points", "points"], ["speed", "speed"]]) {
      $(id).oninput = (ev) => this.label(field, Number(ev.target.value) / (field === "train_fraction" ? 100 : 1));
    }
    $("seed").onchange = (ev) => change({ seed: Number(ev.target.value) });
    $("stop-epochs").onchange = (ev) => change({ stop_epochs: Number(ev.target.value) });
    $("stop-loss").onchange = (ev) => change({ stop_loss: Number(ev.target.value) });
    const box = $("datasets");
    for (const name of DATASETS) {
      const b = document.createElement("button");
      b.dataset.testid = `dataset-${name}`;
      b.dataset.dataset = name;
      b.className = "dataset";
      b.onclick = () => change({ dataset: name });
      box.append(b);
    }
  }

  label(field, v) {
    const $ = this.$;
    if (field === "train_fraction") $("train-fraction-label").textContent = t("pg.train_fraction", { v: Math.round(v * 100) });
    if (field === "noise") $("noise-label").textContent = t("pg.noise", { v });
    if (field === "batch_size") $("batch-size-label").textContent = t("pg.batch_size", { v });
    if (field === "points") $("points-label").textContent = t("pg.points", { v });
    if (field === "speed") $("speed-label").textContent = v === 0 ? `${t("pg.speed", { v: "∞" })} (${t("pg.speed_max")})` : t("pg.speed", { v });
  }

  show(state) {
    const c = state.config;
    const $ = this.$;
    const pick = (id, v, list) => {
      if (list && !list.includes(v)) options($(id), [...list, v].sort((a, b) => a - b));
      $(id).value = String(v);
    };
    pick("lr", c.lr, LR);
    pick("reg-rate", c.reg_rate, REG_RATES);
    $("activation").value = c.activation;
    $("regularization").value = c.regularization;
    $("train-fraction").value = Math.round(c.train_fraction * 100);
    $("noise").value = c.noise;
    $("batch-size").value = c.batch_size;
    $("points").value = c.points;
    $("speed").value = c.speed;
    $("seed").value = c.seed;
    $("stop-epochs").value = c.stop_epochs;
    $("stop-loss").value = c.stop_loss;
    for (const f of ["train_fraction", "noise", "batch_size", "points", "speed"]) this.label(f, c[f]);
    for (const b of $("datasets").children) {
      b.classList.toggle("chosen", b.dataset.dataset === c.dataset);
      b.textContent = t(`pg.ds.${b.dataset.dataset}`);
    }
    $("problem").textContent = state.task === "multiclass" ? t("pg.multiclass", { k: state.classes }) : t(`pg.${state.task}`);
    $("layer-count").textContent = t("pg.hidden_layers", { n: c.hidden.length });
  }
}
