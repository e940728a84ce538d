"""The playground's messages, independent of the transport (the server sends them over a
WebSocket; another backend could serve the page the same protocol).

Every message is a JSON object with ``type`` and ``version`` (VERSION). The page sends
intents, the server answers with numbers:

    page -> server   {"type": "play"}                 stream one "step" message per epoch
                     {"type": "pause"}                stop streaming ("paused", reason "user")
                     {"type": "select", "sample": i}  the point whose neurons ride along in
                                                      each step (the backward view); null: none
    server -> page   {"type": "hello", "session": id}
                     {"type": "step", "step", "loss", "test_loss", "accuracy",
                      "test_accuracy", "layers", "heatmaps", "health", "sample", "neurons",
                      "ms"}
                     {"type": "paused", "reason": "user" | "stop_epochs" | "stop_loss" |
                      "diverged" | "error"}
                     {"type": "error", "error": message, "field": name}
"""

from __future__ import annotations

import json
import time

from chainrule.explain.spec import SpecError
from chainrule.playground.config import ConfigError
from chainrule.playground.session import Session

VERSION = 2  # 2: step messages carry the per-neuron "health"
INTENTS = ("play", "pause", "select")
#: The longest intent the server reads; anything longer is refused unread.
MAX_INTENT_BYTES = 4096


def message(kind: str, **fields) -> dict:
    return {"type": kind, "version": VERSION, **fields}


def encode(msg: dict) -> str:
    """Strict JSON: a NaN or infinity here is a bug (the session reports them as null)."""
    return json.dumps(msg, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def parse_intent(raw: str) -> dict:
    """A page's intent, checked; ConfigError names what is wrong."""
    if len(raw) > MAX_INTENT_BYTES:
        raise ConfigError("(message)", f"longer than {MAX_INTENT_BYTES} bytes")
    try:
        intent = json.loads(raw)
    except ValueError:
        raise ConfigError("(message)", 'expected JSON such as {"type": "play"}') from None
    if not isinstance(intent, dict) or intent.get("type") not in INTENTS:
        raise ConfigError("type", f"expected one of {', '.join(INTENTS)}")
    if intent["type"] == "select":
        sample = intent.get("sample")
        if sample is not None and (isinstance(sample, bool) or not isinstance(sample, int)):
            raise ConfigError("sample", f"expected a point index or null, got {sample!r:.40}")
    return intent


def step(session: Session, sample: int | None) -> tuple[str, str | None]:
    """Run one epoch of ``session`` and build its message: (JSON text, reason to pause).

    ``ms`` is the time of the epoch and of building the message (heat maps, and the
    selected point's neurons), the server's share of a frame.
    """
    start = time.perf_counter()
    reason = session.play_step()
    numbers = session.summary()
    neurons = None
    if sample is not None:
        try:
            neurons = session.neurons(sample)
        except ConfigError:  # the point went away with a rebuild: the page re-selects
            sample = None
        except SpecError:  # its numbers overflow: the step message says so (diverged)
            neurons = None
    msg = message("step", **numbers, sample=sample, neurons=neurons,
                  ms=round((time.perf_counter() - start) * 1000, 3))
    return encode(msg), reason
