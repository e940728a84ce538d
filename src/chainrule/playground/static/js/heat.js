// Heat maps: the server's packed bytes (heatmaps.py) turned into images for SVG <image>.
// TF Playground's colours: orange for -1, blue for +1, near-white for 0.

export const ORANGE = [245, 147, 34];
export const BLUE = [8, 119, 189];
export const WHITE = [232, 234, 235];
export const CLASS_COLORS = [BLUE, ORANGE, [44, 160, 44], [148, 103, 189], [214, 39, 40],
  [140, 86, 75], [227, 119, 194], [127, 127, 127]];

const canvases = {};

function canvas(size) {
  if (!canvases[size]) {
    const c = document.createElement("canvas");
    c.width = c.height = size;
    canvases[size] = c;
  }
  return canvases[size];
}

export function decode(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function mix(a, b, f) { return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * f)); }

export function rgb(c) { return `rgb(${c[0]},${c[1]},${c[2]})`; }

// -1 .. 1 as orange .. white .. blue.
export function diverging(v) { return v < 0 ? mix(WHITE, ORANGE, Math.min(1, -v)) : mix(WHITE, BLUE, Math.min(1, v)); }

const RAMP = Array.from({ length: 256 }, (_, b) => diverging((b / 255) * 2 - 1));

function paint(size, colorAt) {
  const c = canvas(size);
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    const col = colorAt(i);
    img.data.set(col, i * 4);
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return c.toDataURL("image/png");
}

// One map with values in [-1, 1] (a neuron, a feature, a tanh or linear output).
export function mapURL(b64, size) {
  const bytes = decode(b64);
  return paint(size, (i) => RAMP[bytes[i]]);
}

// One class's probabilities: white to its colour.
export function classURL(b64, size, c) {
  const bytes = decode(b64);
  const col = CLASS_COLORS[c % CLASS_COLORS.length];
  return paint(size, (i) => mix(WHITE, col, bytes[i] / 255));
}

// The softmax output: each pixel in the colour of its likeliest class, paler where unsure.
export function classesURL(maps, size) {
  const bytes = maps.map(decode);
  const k = bytes.length;
  return paint(size, (i) => {
    let best = 0;
    for (let c = 1; c < k; c++) if (bytes[c][i] > bytes[best][i]) best = c;
    const p = bytes[best][i] / 255;
    return mix(WHITE, CLASS_COLORS[best % CLASS_COLORS.length], Math.max(0, (p - 1 / k) / (1 - 1 / k)));
  });
}
