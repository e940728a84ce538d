"""The playground's speed: the server's time per epoch (one message to the page), and the
frame rate the page holds while playing, measured in headless Chromium.

    python benchmarks/playground_speed.py               # both
    python benchmarks/playground_speed.py --no-browser  # the server side only

Workload: the issue's 2-6-6-1 tanh network (features X1, X2) on 500 training points of the
xor set (train_fraction 1), batch size 10 (TF Playground's default): one epoch is 50 SGD
steps through nn.Linear and optim.SGD, then the losses over the 500 points, the heat maps
(48x48 output, 20x20 per neuron) and the JSON message. Also TF Playground's own default
(500 points, half of them for training). The page's frame rate is requestAnimationFrame
callbacks per second while the WebSocket streams one message per epoch, as fast as the
server makes them (speed 0) and at the default 30 epochs/s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from chainrule.playground import Session, protocol  # noqa: E402

WORKLOADS = {
    "2-6-6-1, 500 training points, batch 10": {"dataset": "xor", "hidden": [6, 6],
                                               "train_fraction": 1.0},
    "2-6-6-1, 500 training points, batch 30": {"dataset": "xor", "hidden": [6, 6],
                                               "train_fraction": 1.0, "batch_size": 30},
    "TF default (2-4-2-1, 250 training points, batch 10)": {},
}


def server_side(epochs: int) -> None:
    print(f"server: ms per epoch + message, median of {epochs} (min)")
    for name, settings in WORKLOADS.items():
        s = Session(settings)
        total, engine = [], []
        for _ in range(epochs):
            t0 = time.perf_counter()
            s.play_step()
            t1 = time.perf_counter()
            protocol.encode(protocol.message("step", **s.summary()))
            t2 = time.perf_counter()
            engine.append(t1 - t0)
            total.append(t2 - t0)
        ms = lambda xs: f"{statistics.median(xs) * 1e3:6.2f} ({min(xs) * 1e3:.2f})"  # noqa: E731
        print(f"  {name:54s} epoch {ms(engine)}  + message = {ms(total)} ms")


def browser_side(seconds: float) -> None:
    from tests.playground.browser import chromium, server

    print(f"page: requestAnimationFrame callbacks per second over {seconds:g} s of play")
    with tempfile.TemporaryDirectory() as tmp, server() as url, \
            chromium(Path(tmp) / "profile", Path(tmp)) as d:
        for speed in (0, 30):
            d.get("about:blank")  # a new page load: the page reads its hash once, at load
            d.get(f"{url}#dataset=xor&hidden=6,6&train_fraction=1&speed={speed}")
            time.sleep(3)
            d.find_element("css selector", '[data-testid="play"]').click()
            time.sleep(1)
            read = ("return [window.playground.frames, performance.now(), "
                    "window.playground.state.step]")
            f0, t0, s0 = d.execute_script(read)
            time.sleep(seconds)
            f1, t1, s1 = d.execute_script(read)
            d.find_element("css selector", '[data-testid="pause"]').click()
            dt = (t1 - t0) / 1000
            label = "as fast as it goes" if speed == 0 else f"{speed} epochs/s asked"
            print(f"  speed {speed:2d} ({label:18s}): {(f1 - f0) / dt:5.1f} frames/s, "
                  f"{(s1 - s0) / dt:5.1f} epochs/s drawn")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--no-browser", action="store_true")
    args = p.parse_args()
    server_side(args.epochs)
    if not args.no_browser:
        browser_side(args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
