"""Drive the playground from a script, through the same HTTP API its page uses.

    python examples/playground_api.py                        # starts its own server
    python examples/playground_api.py --url http://127.0.0.1:8765/   # a running one

It sets up TF Playground's XOR with a 2-6-6-1 tanh network, trains 40 epochs, prints the
loss before and after, reads the ledger of neuron 2 of layer 1 for one training point
(each incoming weight: dl/dw = dz/dw x dl/dz next to the engine's autograd value) and
saves the network file, which `chainrule explain FILE` reads into the same ledger.
Needs the playground extra: pip install 'chainrule[playground]'.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import threading
import time
import urllib.request
from pathlib import Path

SESSION = "example"


def call(url: str, path: str, body=None, **params) -> dict:
    query = "&".join(f"{k}={v}" for k, v in {"session": SESSION, **params}.items())
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}{path}?{query}", data=data,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as r:
        return json.loads(r.read())


@contextlib.contextmanager
def own_server():
    import uvicorn

    from chainrule.playground.server import LOOPBACK_HOSTS, create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(allowed_hosts=LOOPBACK_HOSTS),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join()


def main(url: str, out: Path) -> None:
    state = call(url, "api/config", {"dataset": "xor", "hidden": [6, 6], "seed": 0})
    print(f"network {'-'.join(map(str, state['sizes']))}, loss {state['loss']:.4f} at epoch 0")
    state = call(url, "api/step", {"steps": 40})
    print(f"loss {state['loss']:.4f}, accuracy {state['accuracy']:.3f} at epoch {state['step']}")

    sample = next(i for i, p in enumerate(state["points"]) if p[3] == 1)  # a training point
    ledger = call(url, "api/ledger", sample=sample)
    neuron = next(n for n in ledger["neurons"] if (n["layer"], n["index"]) == (1, 2))
    print(f"neuron 2 of layer 1, point {sample}: z = {neuron['z']:.4f}, a = {neuron['a']:.4f}, "
          f"sigma'(z) = {neuron['sigma_prime']:.4f}, dl/dz = {neuron['dl_dz']:.6f}")
    for w in ledger["weights"]:
        if (w["layer"], w["to"]) == (1, 2):
            name = "b" if w["from"] == "bias" else f"w[2<-{w['from']}]"
            print(f"  {name:8s} dz/dw = {w['dz_dw']:9.4f}  dl/dw = dz/dw x dl/dz = "
                  f"{w['dl_dw']:11.6f}  autograd {w['autograd']:11.6f}")
    print(f"largest disagreement {ledger['max_disagreement']:.1e}: "
          f"{'they agree' if ledger['checks']['agree'] else 'MISMATCH'}")

    out.write_text(json.dumps(call(url, "api/export", sample=sample), indent=2))
    print(f"network file: {out}  (chainrule explain {out} --neuron 1:2 prints this ledger)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="a running playground (default: start one here)")
    p.add_argument("--out", type=Path, default=Path("playground-network.json"))
    args = p.parse_args()
    if args.url:
        main(args.url.rstrip("/") + "/", args.out)
    else:
        with own_server() as url:
            main(url, args.out)
