// Downloads: the network file (from /api/export) and a PNG of the view, drawn from the
// page's own SVGs (with their styles inlined) onto one canvas.

export function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

let css = null;

async function svgImage(svg) {
  css ??= await (await fetch("/static/style.css")).text();
  const copy = svg.cloneNode(true);
  const box = svg.getBoundingClientRect();
  copy.setAttribute("width", box.width);
  copy.setAttribute("height", box.height);
  copy.classList.add("exported");
  const style = document.createElementNS("http://www.w3.org/2000/svg", "style");
  style.textContent = css;
  copy.prepend(style);
  const url = URL.createObjectURL(new Blob([new XMLSerializer().serializeToString(copy)], { type: "image/svg+xml" }));
  const img = new Image();
  await new Promise((ok, fail) => { img.onload = ok; img.onerror = fail; img.src = url; });
  URL.revokeObjectURL(url);
  return { img, box };
}

// The SVGs side by side, as on the page (their positions relative to the first one's).
export async function exportPNG(svgs, name) {
  const parts = await Promise.all(svgs.map(svgImage));
  const left = Math.min(...parts.map((p) => p.box.left));
  const top = Math.min(...parts.map((p) => p.box.top));
  const width = Math.max(...parts.map((p) => p.box.right)) - left;
  const height = Math.max(...parts.map((p) => p.box.bottom)) - top;
  const canvas = document.createElement("canvas");
  canvas.width = Math.ceil(width);
  canvas.height = Math.ceil(height);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (const { img, box } of parts) ctx.drawImage(img, box.left - left, box.top - top, box.width, box.height);
  canvas.toBlob((blob) => download(blob, name), "image/png");
}
