// The page's words (GET /api/text: explain's phrase tables plus the page's own) and how
// numbers are written: num() is explain/text.py's num(), so both languages and the
// terminal tables print the very same digits.

let strings = { en: {}, zh: {} };
let lang = "en";

export function setStrings(s) { strings = s; }
export function setLang(l) { lang = l === "zh" ? "zh" : "en"; }
export function getLang() { return lang; }

export function t(key, params = {}) {
  const s = strings[lang][key] ?? strings.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? params[k] : m));
}

// Every element with data-t gets its phrase; data-t-title its tooltip.
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of root.querySelectorAll("[data-t-title]")) el.title = t(el.dataset.tTitle);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("pg.title");
}

// Python's f"{x:.{digits}g}", as explain's num(): whole numbers as integers.
export function num(x, digits = 4) {
  if (x === null || x === undefined) return "—";
  if (x === 0) return "0";
  if (Number.isInteger(x) && Math.abs(x) < 1e6) return String(x);
  return formatG(x, digits);
}

function formatG(x, p) {
  if (!Number.isFinite(x)) return String(x);
  const [mant, ex] = x.toExponential(p - 1).split("e");
  const exp = parseInt(ex, 10);
  const strip = (s) => (s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s);
  if (exp < -4 || exp >= p) {
    const a = Math.abs(exp);
    return `${strip(mant)}e${exp < 0 ? "-" : "+"}${a < 10 ? "0" : ""}${a}`;
  }
  return strip(x.toFixed(Math.max(0, p - 1 - exp)));
}

// A number inside a product: negative ones in parentheses, 2·(-0.5) (explain's paren()).
export function paren(x, digits = 4) {
  const s = num(x, digits);
  return s.startsWith("-") ? `(${s})` : s;
}

// A small difference, explain's sci(): 6.0e-11.
export function sci(x) {
  if (x === 0) return "0";
  const [m, e] = x.toExponential(1).split("e");
  const n = parseInt(e, 10);
  return `${m}e${n < 0 ? "-" : "+"}${Math.abs(n) < 10 ? "0" : ""}${Math.abs(n)}`;
}

export function percent(x) { return x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`; }
