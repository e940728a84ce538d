// The playground page: it draws what the server computes and sends intents back. The
// server owns the engine and the state (HTTP for settings and the ledger, a WebSocket that
// streams one message per epoch while playing); every requestAnimationFrame draws the
// newest message, so the page keeps its frame rate however fast the engine steps.

import { Api } from "./api.js";
import { Controls, readHash, writeHash } from "./controls.js";
import { exportPNG, download } from "./export.js";
import { getLang, num, percent, setLang, setStrings, t, translatePage } from "./i18n.js";
import { renderLedger } from "./ledger.js";
import { NetworkView } from "./network.js";
import { OutputView } from "./output.js";

const $ = (id) => document.getElementById(id);
const api = new Api();
const page = { state: null, view: "forward", sample: null, selected: null, playing: false,
  pending: null, ws: null, frames: 0, fps: 0, lastLedger: 0, ledgerBusy: false };
// For tests and the frame-rate benchmark: read through Selenium.
window.playground = page;
page.session = api.session;

function message(text, isError = false) {
  const m = $("message");
  m.textContent = text;
  m.classList.toggle("error", isError);
}

async function change(fields) {
  try {
    show(await api.post("/api/config", fields));
    message("");
  } catch (e) {
    message(e.message, true);
  }
}

const network = new NetworkView($("network"), $("neuron-controls"), $("card"), {
  onNeuron: (k, j) => openLedger(k, j),
  onFeature: (name) => {
    const now = page.state.config.features;
    change({ features: now.includes(name) ? now.filter((f) => f !== name) : [...now, name] });
  },
  onNeurons: (k, delta) => {
    const hidden = [...page.state.config.hidden];
    hidden[k] += delta;
    change({ hidden: hidden[k] < 1 ? hidden.filter((_, i) => i !== k) : hidden });
  },
  onEdit: async (layer, to, from, value) => {
    try { show(await api.post("/api/weight", { layer, to, from, value })); } catch (e) { message(e.message, true); }
  },
});
const output = new OutputView($("heatmap"), $("chart"), (i) => selectSample(i));
const controls = new Controls(change);

// A whole state (GET /api/state, or the answer to any POST): rebuild what it shapes.
function show(state) {
  page.state = state;
  if (page.sample === null || page.sample >= state.points.length) page.sample = firstTraining(state);
  controls.show(state);
  network.build(state, page.view);
  output.build(state);
  output.update(state.heatmaps);
  output.select(page.sample);
  showNumbers(state);
  output.drawChart(state.history);
  if (page.selected && page.selected[0] >= state.sizes.length - 1) page.selected = null;
  network.select(...(page.selected ?? [null, null]));
  if (page.selected) refreshLedger(); else resetLedger();
  if (page.view === "backward") refreshNeurons();
  page.ws?.readyState === 1 && page.ws.send(JSON.stringify({ type: "select", sample: page.view === "backward" ? page.sample : null }));
  writeHash(state.config, { lang: getLang(), view: page.view, sample: page.sample });
}

function firstTraining(state) {
  const i = state.points.findIndex((p) => p[3] === 1);
  return i < 0 ? 0 : i;
}

function showNumbers(n) {
  $("epoch").textContent = String(n.step).padStart(6, "0").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  $("loss").textContent = num(n.loss);
  $("test-loss").textContent = num(n.test_loss);
  $("accuracy").textContent = n.accuracy === null ? "—"
    : `${percent(n.accuracy)} · ${t("pg.test_accuracy")} ${percent(n.test_accuracy)}`;
  if (n.diverged) message(t("pg.paused.diverged"), true);
}

// One WebSocket message per epoch while playing; drawn at the next animation frame.
function onMessage(msg) {
  if (msg.type === "step") {
    page.pending = msg;
    const h = page.state.history;
    h.push([msg.step, msg.loss, msg.test_loss, msg.accuracy, msg.test_accuracy]);
    if (h.length > 1000) page.state.history = h.filter((_, i) => i % 2 === 0 || i === h.length - 1);
  } else if (msg.type === "paused") {
    setPlaying(false);
    if (msg.reason !== "user") {
      const c = page.state.config;
      message(t(`pg.paused.${msg.reason}`, { n: c.stop_epochs, v: c.stop_loss }), msg.reason === "diverged");
    }
    api.get("/api/state").then(show);
  } else if (msg.type === "error") {
    message(msg.error, true);
  }
}

function draw(msg) {
  page.state = { ...page.state, step: msg.step, loss: msg.loss, test_loss: msg.test_loss, accuracy: msg.accuracy,
    test_accuracy: msg.test_accuracy, layers: msg.layers, heatmaps: msg.heatmaps, health: msg.health };
  showNumbers(msg);
  network.update(msg, msg.neurons);
  network.flow();
  output.update(msg.heatmaps);
  output.drawChart(page.state.history);
  $("ms").textContent = t("pg.ms", { ms: msg.ms.toFixed(1) });
  if (page.selected && performance.now() - page.lastLedger > 500) refreshLedger();
}

function frame(now) {
  page.frames += 1;
  if (!page.fpsStart) page.fpsStart = now;
  if (now - page.fpsStart >= 1000) {
    page.fps = (page.frames - (page.fpsFrames ?? 0)) * 1000 / (now - page.fpsStart);
    page.fpsFrames = page.frames;
    page.fpsStart = now;
    $("fps").textContent = t("pg.fps", { fps: page.fps.toFixed(0) });
  }
  if (page.pending) {
    const msg = page.pending;
    page.pending = null;
    draw(msg);
  }
  requestAnimationFrame(frame);
}

function setPlaying(on) {
  page.playing = on;
  document.body.classList.toggle("playing", on);
}

function connect() {
  page.ws = api.socket(onMessage, () => { setPlaying(false); setTimeout(connect, 1000); });
  page.ws.onopen = () => page.ws.send(JSON.stringify({ type: "select", sample: page.view === "backward" ? page.sample : null }));
}

// --- the ledger ---------------------------------------------------------------------------

function resetLedger() {
  $("ledger").replaceChildren(Object.assign(document.createElement("p"), { className: "hint", textContent: t("pg.ledger_hint") }));
  delete $("ledger").dataset.layer;
}

function openLedger(layer, index) {
  page.selected = [layer, index];
  network.select(layer, index);
  refreshLedger();
}

async function refreshLedger() {
  if (page.ledgerBusy || !page.selected) return;
  page.ledgerBusy = true;
  page.lastLedger = performance.now();
  const [layer, index] = page.selected;
  const sample = page.sample;
  const training = page.state.points[sample][3] === 1;
  try {
    const [doc, batch] = await Promise.all([api.get("/api/ledger", { sample }),
      training ? api.get("/api/ledger", { sample, batch: 1 }) : null]);
    renderLedger($("ledger"), { doc, batch, layer, index, sample, kind: training ? "train" : "test",
      regularization: page.state.config.regularization });
  } catch (e) {
    message(e.message, true);
  } finally {
    page.ledgerBusy = false;
  }
}

async function refreshNeurons() {
  if (page.view !== "backward" || page.state.diverged) return;
  try {
    const doc = await api.get("/api/ledger", { sample: page.sample });
    network.update({}, doc.neurons);
  } catch (e) {
    message(e.message, true);
  }
}

function selectSample(i) {
  page.sample = i;
  output.select(i);
  page.ws?.send(JSON.stringify({ type: "select", sample: page.view === "backward" ? i : null }));
  writeHash(page.state.config, { lang: getLang(), view: page.view, sample: i });
  if (page.selected) refreshLedger();
  refreshNeurons();
}

// --- buttons -----------------------------------------------------------------------------

function bind() {
  $("play").onclick = () => { page.ws.send(JSON.stringify({ type: "play" })); setPlaying(true); message(""); };
  $("pause").onclick = () => page.ws.send(JSON.stringify({ type: "pause" }));
  $("step").onclick = async () => { try { show(await api.post("/api/step", { steps: 1 })); network.flow(); } catch (e) { message(e.message, true); } };
  $("reset").onclick = async () => { show(await api.post("/api/reset")); message(""); };
  $("regenerate").onclick = async () => show(await api.post("/api/regenerate"));
  $("add-layer").onclick = () => { const h = page.state.config.hidden; change({ hidden: [...h, h.length ? h[h.length - 1] : 2] }); };
  $("remove-layer").onclick = () => change({ hidden: page.state.config.hidden.slice(0, -1) });
  $("lang").onclick = () => { setLang(getLang() === "en" ? "zh" : "en"); relabel(); show(page.state); };
  $("view").onclick = () => { page.view = page.view === "forward" ? "backward" : "forward"; relabel(); show(page.state); };
  $("export").onclick = async () => {
    try {
      const spec = await api.get("/api/export", { sample: page.sample });
      download(new Blob([JSON.stringify(spec, null, 2)], { type: "application/json" }), `playground-point-${page.sample}.json`);
    } catch (e) { message(e.message, true); }
  };
  $("export-png").onclick = () => exportPNG([$("network"), $("heatmap"), $("chart")], "playground.png");
  $("csv-input").onchange = (ev) => ev.target.files[0] && upload(ev.target.files[0]);
  const drop = document.body;
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); $("drop").classList.add("over"); });
  drop.addEventListener("dragleave", () => $("drop").classList.remove("over"));
  drop.addEventListener("drop", (ev) => {
    ev.preventDefault();
    $("drop").classList.remove("over");
    if (ev.dataTransfer.files[0]) upload(ev.dataTransfer.files[0]);
  });
}

async function upload(file) {
  try {
    show(await api.post("/api/data", await file.text(), "text/csv"));
    message("");
  } catch (e) {
    message(`${file.name}: ${e.message}`, true);
  }
}

function relabel() {
  translatePage();
  $("lang").textContent = t("pg.lang");
  $("lang").lang = getLang() === "en" ? "zh-CN" : "en"; // it names the other language, in it
  $("view").textContent = `${t("pg.view")}: ${t(page.view === "forward" ? "pg.view.forward" : "pg.view.backward")}`;
}

async function main() {
  // The Chinese glyphs first: text laid out while the web font loads could keep its tofu.
  await Promise.all([api.get("/api/text").then(setStrings),
    document.fonts.load('1em "Chainrule Playground CJK"', "中文").catch(() => null)]);
  const { config, page: fromUrl } = readHash();
  setLang(fromUrl.lang || "en");
  page.view = fromUrl.view === "backward" ? "backward" : "forward";
  if (fromUrl.sample !== undefined && /^\d+$/.test(fromUrl.sample)) page.sample = Number(fromUrl.sample);
  relabel();
  bind();
  let state;
  try {
    state = await api.post("/api/config", config);
  } catch (e) {
    message(`${t("pg.error")}: ${e.message}`, true);
    state = await api.get("/api/state");
  }
  show(state);
  connect();
  requestAnimationFrame(frame);
  document.body.dataset.ready = "1";
}

main();
