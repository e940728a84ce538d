"""The playground's neuron health: plant a dead ReLU layer and a saturated tanh layer
through the HTTP API the page uses (in-process, no server), and print the marks.

    python examples/playground_health.py

A ReLU network whose first hidden layer has every bias at -10 never fires on any training
point: each of those neurons is marked `dead` (no gradient reaches its weights, so training
cannot revive it). A tanh network on large inputs (X1^2, X2^2) with weights 5x too large
sits in tanh's flat tails: `saturated`. The default network has no mark. Needs the
playground extra: pip install 'chainrule[playground]'.
"""

from __future__ import annotations

from starlette.testclient import TestClient

from chainrule.playground.server import create_app


def marks(state: dict) -> str:
    """One line per hidden layer: each neuron's mark and numbers."""
    lines = []
    for k, layer in enumerate(state["health"]):
        cells = []
        for j, n in enumerate(layer):
            sat = "-" if n["saturated"] is None else f"{n['saturated']:.0%}"
            cells.append(f"{j}: {n['mark'] or 'ok'} (saturated {sat}, σ' {n['amplifier']:.3f})")
        lines.append(f"  layer {k} [{state['activations'][k]}]  " + "; ".join(cells))
    return "\n".join(lines)


def main() -> None:
    with TestClient(create_app()) as client:
        def post(path, body, session):
            r = client.post(f"{path}?session={session}", json=body)
            r.raise_for_status()
            return r.json()

        st = client.get("/api/state?session=healthy").json()
        print("the default network (circle, 2-4-2-1 tanh):\n" + marks(st))

        post("/api/config", {"hidden": [4, 3], "activation": "relu"}, "dead")
        for j in range(4):
            st = post("/api/weight", {"layer": 0, "to": j, "from": "bias", "value": -10}, "dead")
        st = post("/api/step", {"steps": 20}, "dead")
        print(f"\nReLU, layer 0's biases at -10, after {st['step']} epochs:\n" + marks(st))

        st = post("/api/config", {"features": ["x1", "x2", "x1sq", "x2sq"], "hidden": [4, 3]},
                  "saturated")
        for k, layer in enumerate(st["layers"][:-1]):  # every hidden weight x5, by the API
            for j, row in enumerate(layer["weight"]):
                for i, w in enumerate(row):
                    st = post("/api/weight", {"layer": k, "to": j, "from": i, "value": 5 * w},
                              "saturated")
        print("\ntanh on X1^2, X2^2, weights x5:\n" + marks(st))
        print("\nhelp: smaller initial weights, a lower learning rate, or leaky units")


if __name__ == "__main__":
    main()
