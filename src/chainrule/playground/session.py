"""One playground session: its settings, data, network, epoch counter and history.

The server keeps one session per browser tab (the page makes up a session id; scripts that
give none share the session "default"). Every public method takes the session's lock, so
two requests (a step from the page, a ledger from a script) never see half a step.

An epoch (``step``) is TF Playground's: one pass over the training points in a shuffled
order, one SGD step per batch. The order of the next epoch is drawn in advance, so the
ledger can show the batch a point will be trained in.
"""

from __future__ import annotations

import threading

import numpy as np

from chainrule.explain.spec import SpecError, parse_spec
from chainrule.explain.tracing import trace
from chainrule.playground import heatmaps
from chainrule.playground.config import DEFAULTS, FEATURES, REBUILDS, ConfigError, merge
from chainrule.playground.datasets import Points, generate, read_csv
from chainrule.playground.health import neuron_health
from chainrule.playground.model import Network, features, loss_name, targets

#: Loss curves keep at most this many points; older ones are thinned to every other.
MAX_HISTORY = 1000
#: The most epochs one ``POST /api/step`` runs.
MAX_STEPS = 1000


class Diverged(Exception):
    """The weights are no longer finite (a learning rate too large): reset to go on."""


class Session:
    def __init__(self, config: dict | None = None):
        self.lock = threading.RLock()
        self.uploaded: Points | None = None
        self.config = merge(DEFAULTS, config or {})
        self._build()

    # --- settings --------------------------------------------------------------------------

    def configure(self, changes) -> None:
        """Apply the changed settings; a changed dataset, feature, layer, activation, noise,
        split, point count or seed rebuilds data and network (epoch 0)."""
        with self.lock:
            new = merge(self.config, changes)
            rebuild = any(new[k] != self.config[k] for k in REBUILDS)
            old, self.config = self.config, new
            if rebuild:
                try:
                    self._build()
                except ConfigError:
                    self.config = old
                    raise

    def reset(self) -> None:
        """Back to epoch 0: the same seed, so the same points and initial weights."""
        with self.lock:
            self._build()

    def regenerate(self) -> None:
        """New points and initial weights: the seed plus one."""
        with self.lock:
            self.configure({"seed": (self.config["seed"] + 1) % (2**31 - 1)})

    def upload(self, raw: bytes) -> None:
        """Use the points of a CSV file (dataset ``csv``)."""
        points = read_csv(raw)
        with self.lock:
            old = self.uploaded, self.config
            self.uploaded, self.config = points, {**self.config, "dataset": "csv"}
            try:
                self._build()
            except ConfigError:
                self.uploaded, self.config = old
                raise

    def set_weight(self, layer, to, from_, value) -> None:
        """Edit one weight (``from_`` "bias": a bias) by hand, as the hover card does."""
        with self.lock:
            sizes = self.net.sizes
            _index(layer, len(self.net.layers), "layer")
            _index(to, sizes[layer + 1], "to")
            if from_ != "bias":
                _index(from_, sizes[layer], "from")
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not np.isfinite(value) or abs(value) > 1e6:
                raise ConfigError("value", f"expected a finite number up to 1e6 in size, got "
                                  f"{value!r:.40}")
            self.net.set_weight(layer, to, from_, float(value))
            self._evaluate()

    def _build(self) -> None:
        c = self.config
        self.data = generate(c, self.uploaded)
        self.inputs = features(self.data.x, c["features"])
        rng = np.random.default_rng([c["seed"], 1])
        self.net = Network(len(c["features"]), c["hidden"], c["activation"], self.data.task,
                           self.data.classes, rng)
        self.order_rng = np.random.default_rng([c["seed"], 2])
        self.next_order = self.order_rng.permutation(self.data.train_indices)
        self.step_count = 0
        self.history: list[list] = []
        self.stopped: str | None = None
        self.diverged = False
        self._evaluate()
        self._record()

    # --- training --------------------------------------------------------------------------

    def step(self, steps: int = 1) -> None:
        """Run ``steps`` epochs; raises Diverged when the weights stop being finite."""
        with self.lock:
            for _ in range(steps):
                self._epoch()

    def play_step(self) -> str | None:
        """One epoch while playing; the reason to pause (None: go on): ``stop_epochs``,
        ``stop_loss`` or ``diverged``."""
        with self.lock:
            self.stopped = self._play_epoch()
            return self.stopped

    def _play_epoch(self) -> str | None:
        c = self.config
        try:
            self._epoch()
        except Diverged:
            return "diverged"
        if c["stop_epochs"] and self.step_count >= c["stop_epochs"]:
            return "stop_epochs"
        if c["stop_loss"] and self.loss is not None and self.loss <= c["stop_loss"]:
            return "stop_loss"
        return None

    def _epoch(self) -> None:
        if self.diverged:
            raise Diverged("the weights overflowed")
        c = self.config
        labels = self.data.labels
        with np.errstate(all="ignore"):  # an overflow shows as non-finite weights, below
            self.net.train_epoch(self.inputs, labels, self.next_order, c["batch_size"],
                                 c["lr"], c["regularization"], c["reg_rate"])
        self.next_order = self.order_rng.permutation(self.data.train_indices)
        self.step_count += 1
        self._evaluate()
        self._record()
        if self.diverged:
            raise Diverged("the weights overflowed")

    def _evaluate(self) -> None:
        d = self.data
        self.diverged = not self.net.finite()
        with np.errstate(all="ignore"):
            train = self.net.evaluate(self.inputs[d.train], d.labels[d.train])
            test = self.net.evaluate(self.inputs[~d.train], d.labels[~d.train])
        (self.loss, self.accuracy), (self.test_loss, self.test_accuracy) = (
            tuple(_finite(v) for v in train), tuple(_finite(v) for v in test))
        if self.loss is None:
            self.diverged = True

    def _record(self) -> None:
        self.history.append([self.step_count, self.loss, self.test_loss, self.accuracy,
                             self.test_accuracy])
        if len(self.history) > MAX_HISTORY:
            kept = self.history[::2]
            if kept[-1] is not self.history[-1]:
                kept.append(self.history[-1])
            self.history = kept

    # --- views -----------------------------------------------------------------------------

    def summary(self) -> dict:
        """The numbers of a step message: counter, losses, accuracies, the network."""
        with self.lock:
            return self._summary()

    def _summary(self) -> dict:
        return {
            "step": self.step_count, "loss": self.loss, "test_loss": self.test_loss,
            "accuracy": self.accuracy, "test_accuracy": self.test_accuracy,
            "diverged": self.diverged, "stopped": self.stopped,
            "layers": self.net.to_layers() if not self.diverged else None,
            "heatmaps": self.maps(),
            "health": neuron_health(self.net, self.inputs[self.data.train]),
        }

    def state(self) -> dict:
        """Everything the page draws (``GET /api/state``)."""
        with self.lock:
            d = self.data
            points = np.c_[d.x, d.labels, d.train.astype(np.float64)]
            return {
                **self._summary(),
                "config": dict(self.config),
                "task": d.task, "classes": d.classes,
                "loss_function": loss_name(d.task),
                "sizes": self.net.sizes, "activations": list(self.net.activations),
                "domain": list(d.domain),
                "points": points.tolist(),
                "history": [list(h) for h in self.history],
                "feature_maps": dict(zip(FEATURES, heatmaps.feature_maps(
                    features(heatmaps.grid(d.domain, heatmaps.NEURON_GRID), list(FEATURES))))),
            }

    def maps(self) -> dict:
        """The output's large map and every neuron's small one (see ``heatmaps``)."""
        d, net = self.data, self.net
        softmax = d.task == "multiclass"
        with np.errstate(all="ignore"):
            big = net.activations_on(features(heatmaps.grid(d.domain, heatmaps.OUTPUT_GRID),
                                              self.config["features"]))[-1]
            small = net.activations_on(features(heatmaps.grid(d.domain, heatmaps.NEURON_GRID),
                                                self.config["features"]))
        return {"output": heatmaps.output_map(big, softmax),
                "neurons": heatmaps.network_maps(small, softmax),
                "output_grid": heatmaps.OUTPUT_GRID, "neuron_grid": heatmaps.NEURON_GRID}

    # --- the ledger --------------------------------------------------------------------------

    def batch_of(self, sample: int) -> np.ndarray:
        """The training points that share ``sample``'s batch in the next epoch."""
        size = self.config["batch_size"]
        where = int(np.flatnonzero(self.next_order == sample)[0])
        start = where - where % size
        return self.next_order[start:start + size]

    def export(self, sample, batch: bool = False) -> dict:
        """The network file (explain's format) of the network as it is and point ``sample``.

        With ``batch``, the samples are the batch the point is in next epoch, and ``lr`` is
        the learning rate over the batch size: the file's gradient-descent step is then
        the playground's SGD step on that batch (the penalty aside), since explain's loss
        is the sum L = sum_n l^n where the playground's cost is the mean.
        """
        with self.lock:
            d = self.data
            sample = _index(sample, len(d.labels), "sample")
            if self.diverged:
                raise SpecError("layers", "the weights overflowed (the learning rate is too "
                                "large for this network). help: lower lr and press reset")
            c = self.config
            kind = "training" if d.train[sample] else "test"
            if batch and not d.train[sample]:
                raise ConfigError("batch", f"point {sample} is a test point: it is in no "
                                  "training batch. help: pick a training point, or drop batch")
            rows = self.batch_of(sample) if batch else np.array([sample])
            t = targets(d.labels[rows], d.task, d.classes)
            x = self.inputs[rows]
            where = f"the batch of {len(rows)} points of point {sample}" if batch \
                else f"point {sample} ({kind})"
            spec = {
                "name": "playground",
                "description": f"chainrule playground: {c['dataset']}, {where}, after epoch "
                f"{self.step_count}",
                "layers": self.net.to_layers(),
                "input": x.tolist() if batch else x[0].tolist(),
                "target": t.tolist() if batch else t[0].tolist(),
                "loss": loss_name(d.task),
                "lr": c["lr"] / len(rows),
            }
            parse_spec(spec)  # the file must be one explain reads, or this is a bug
            return spec

    def ledger(self, sample, batch: bool = False) -> dict:
        """explain's JSON document for ``export(sample, batch)``: what ``chainrule explain
        FILE --json`` prints for that file."""
        spec = self.export(sample, batch)
        return trace(parse_spec(spec, name="playground")).to_dict()

    def neurons(self, sample) -> list[dict] | None:
        """Every neuron's z, a, sigma'(z), dl/da and dl/dz for one point: the backward view
        while playing (a trace that checks only the output's first neuron's weights)."""
        with self.lock:
            if self.diverged:
                return None
            spec = parse_spec(self.export(sample), name="playground")
            return trace(spec, focus=(len(spec.layers) - 1, 0)).to_dict()["neurons"]


class Sessions:
    """The server's sessions by id; the least recently used goes past MAX_SESSIONS."""

    MAX_SESSIONS = 32

    def __init__(self):
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def get(self, sid: str) -> Session:
        with self._lock:
            session = self._sessions.pop(sid, None) or Session()
            self._sessions[sid] = session  # most recent last
            while len(self._sessions) > self.MAX_SESSIONS:
                self._sessions.pop(next(iter(self._sessions)))
            return session

    def __len__(self) -> int:
        return len(self._sessions)


def _index(v, n: int, field: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < n:
        raise ConfigError(field, f"expected a whole number from 0 to {n - 1}, got {v!r:.40}")
    return v


def _finite(v):
    return v if v is not None and np.isfinite(v) else None
