// The HTTP API and the WebSocket, for one session (one per page load: each tab its own).

export class Api {
  constructor() {
    const bytes = crypto.getRandomValues(new Uint8Array(9));
    this.session = "tab-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  url(path, params = {}) {
    const q = new URLSearchParams({ ...params, session: this.session });
    return `${path}?${q}`;
  }

  async get(path, params = {}) {
    return this._answer(await fetch(this.url(path, params)));
  }

  async post(path, body = {}, type = "application/json") {
    const data = type === "application/json" ? JSON.stringify(body) : body;
    const r = await fetch(this.url(path), { method: "POST", headers: { "Content-Type": type }, body: data });
    return this._answer(r);
  }

  async _answer(r) {
    const body = await r.json();
    if (!r.ok) {
      const e = new Error(body.error || `HTTP ${r.status}`);
      e.field = body.field;
      throw e;
    }
    return body;
  }

  socket(onMessage, onClose) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}${this.url("/ws")}`);
    ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
    ws.onclose = onClose;
    return ws;
  }
}
