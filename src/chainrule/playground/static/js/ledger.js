// The ledger of one neuron for one point, the lecture's way, from explain's JSON document
// (GET /api/ledger): the forward pass z = Σ w·a + b and a = σ(z); the backward pass with
// σ'(z) and dl/dz (case 1 or case 2, terms written out); and per incoming weight
// dl/dw = dz/dw × dl/dz next to the engine's autograd value, the finite difference and the
// sum over the point's batch. Every number is the document's; the cells keep the exact
// values in data- attributes so a test can compare them with /api/ledger.

import { num, paren, sci, t } from "./i18n.js";

const MAX_TERMS = 8;
const SLOPE = { sigmoid: "a(1 − a)", tanh: "1 − a²", relu: "[z > 0]", linear: "1" };

function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function sum(terms) {
  if (terms.length <= MAX_TERMS) return terms.join(" + ");
  return `${terms.slice(0, MAX_TERMS).join(" + ")} + ${t("more", { n: terms.length - MAX_TERMS })}`;
}

function weightName(w) { return w.from === "bias" ? `b[${w.to}]` : `w[${w.to}←${w.from}]`; }

export function renderLedger(box, { doc, batch, layer, index, sample, kind, regularization }) {
  const last = doc.activations.length - 1;
  const act = doc.activations[layer];
  const n = doc.neurons.find((r) => r.layer === layer && r.index === index);
  const incoming = doc.weights.filter((w) => w.layer === layer && w.to === index);
  const batchOf = (w) => batch?.weights.find((b) => b.layer === w.layer && b.to === w.to && b.from === w.from);
  box.replaceChildren();
  box.dataset.layer = layer;
  box.dataset.index = index;
  box.dataset.sample = sample;
  const names = { z: "z", a: "a", sigma_prime: "sigmaPrime", dl_da: "dlDa", dl_dz: "dlDz" };
  for (const [key, name] of Object.entries(names)) box.dataset[name] = String(n[key]);

  box.append(h("h3", {}, t("pg.ledger_title", { layer, index, sample, kind: t(`pg.kind.${kind}`) })));

  // 1. forward pass
  const zTerms = incoming.filter((w) => w.from !== "bias").map((w) => `${paren(w.value)}·${paren(w.dz_dw)}`);
  const bias = incoming.find((w) => w.from === "bias");
  box.append(h("h4", {}, t("forward")),
    h("p", { class: "formula", "data-testid": "ledger-z" }, `z = Σ w·a + b = ${sum([...zTerms, paren(bias.value)])} = ${num(n.z)}`),
    h("p", { class: "formula", "data-testid": "ledger-a" }, act === "softmax"
      ? `a = softmax(z)_${index} = ${num(n.a)}` : `a = σ(z) = ${act}(${num(n.z)}) = ${num(n.a)}`));

  // 2. backward pass
  box.append(h("h4", {}, t("backward")));
  if (act !== "softmax") {
    box.append(h("p", { class: "formula", "data-testid": "ledger-sigma" },
      `${t("fig_amp")}: σ'(z) = ${SLOPE[act]} = ${num(n.sigma_prime)}`));
  }
  let rule;
  if (layer === last) {
    const y = n.a;
    const target = doc.target[index];
    const dy = doc.loss_function === "cross_entropy" ? `−t / y = −${num(target)} / ${num(y)}`
      : `y − t = ${num(y)} − ${num(target)}`;
    rule = `${t("case")} ${t("case1")}: dl/da = dl/dy = ${dy} = ${num(n.dl_da)}`;
  } else {
    const next = doc.weights.filter((w) => w.layer === layer + 1 && w.from === index);
    const terms = next.map((w) => {
      const k = doc.neurons.find((r) => r.layer === layer + 1 && r.index === w.to);
      return `${paren(w.value)}·${paren(k.dl_dz)}`;
    });
    rule = `${t("case")} ${t("case2")}: dl/da = Σ_k w_k${index}·dl/dz_k = ${sum(terms)} = ${num(n.dl_da)}`;
  }
  box.append(h("p", { class: "formula", "data-testid": "ledger-case" }, rule));
  box.append(h("p", { class: "formula", "data-testid": "ledger-dl-dz" }, act === "softmax"
    ? `dl/dz = y − t = ${num(n.a)} − ${num(doc.target[index])} = ${num(n.dl_dz)}`
    : `dl/dz = σ'(z)·dl/da = ${paren(n.sigma_prime)}·${paren(n.dl_da)} = ${num(n.dl_dz)}`));

  // 3. chain rule, per incoming weight
  box.append(h("h4", {}, `${t("chain")}: ${t("chain_rule")}`));
  const head = [t("weight"), "w", t("pg.dz_dw_in"), "dl/dz", `dl/dw = ${t("product")}`, t("autograd"),
    t("numeric"), t("pg.batch_sum"), t("autograd")];
  const table = h("table", { class: "ledger-table" },
    h("thead", {}, h("tr", {}, ...head.map((c) => h("th", {}, c)))));
  const body = h("tbody");
  for (const w of incoming) {
    const b = batchOf(w);
    const row = h("tr", { "data-testid": "ledger-row", "data-from": String(w.from), "data-value": String(w.value),
      "data-dz-dw": String(w.dz_dw), "data-dl-dz": String(w.dl_dz), "data-dl-dw": String(w.dl_dw),
      "data-autograd": String(w.autograd), "data-numeric": String(w.numeric) },
    h("td", {}, weightName(w)), h("td", {}, num(w.value)), h("td", {}, num(w.dz_dw)), h("td", {}, num(w.dl_dz)),
    h("td", { class: "product" }, num(w.dl_dw, 6)), h("td", {}, num(w.autograd, 6)), h("td", {}, num(w.numeric, 6)),
    h("td", { class: "batch" }, b ? num(b.dl_dw, 6) : "—"), h("td", { class: "batch" }, b ? num(b.autograd, 6) : "—"));
    if (b) row.dataset.batchDlDw = String(b.dl_dw);
    body.append(row);
  }
  table.append(body);
  box.append(h("div", { class: "table-wrap" }, table));
  const kink = doc.checks.relu_kinks.length > 0;
  const verdict = doc.checks.agree ? t("agree_ok") : kink ? t("agree_kink", { where: doc.checks.relu_kinks.map((k) => `${k.layer}:${k.index}`).join(", ") }) : t("agree_bad");
  box.append(h("p", { class: doc.checks.agree ? "ok" : "bad", "data-testid": "ledger-agree" },
    `${t("agree", { value: sci(doc.max_disagreement), eps: sci(doc.checks.finite_difference_eps) })}  ${verdict}`));
  if (batch) {
    box.append(h("p", { class: "hint" }, t("pg.batch_note", { n: batch.samples, ok: batch.checks.agree ? "✓" : "✗" })));
  } else if (kind === "test") {
    box.append(h("p", { class: "hint" }, t("pg.no_batch")));
  }
  if (regularization !== "none") box.append(h("p", { class: "hint" }, t("pg.reg_note")));
}
