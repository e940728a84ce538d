"""The playground's data: TensorFlow Playground's generators, two multi-class sets, and
your own CSV of 2-D points.

Labels follow TF Playground: two classes are -1 and +1 (the output is tanh, the loss the
half squared error), regression labels lie in [-1, 1] (a linear output); the multi-class
sets label their classes 0, 1, 2 (a softmax output with the cross-entropy). Every draw
comes from one ``numpy.random.Generator`` seeded by the config, so a seed gives the same
points on every machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from chainrule.playground.config import ConfigError

#: The square the generated sets live in, as TF Playground's: x1, x2 in [-6, 6].
DOMAIN = (-6.0, 6.0)
#: An uploaded CSV: at most this many bytes, rows and classes.
MAX_CSV_BYTES = 1024 * 1024
MAX_CSV_ROWS = 2000
MIN_CSV_ROWS = 4
MAX_CLASSES = 8


@dataclass(frozen=True)
class Data:
    """Points ``x`` (N, 2), their ``labels`` (N,), and which are trained on.

    ``task`` is classification (labels -1, +1), multiclass (0 .. classes - 1) or
    regression; ``domain`` is the square (lo, hi) the page draws, for both axes.
    """

    x: np.ndarray
    labels: np.ndarray
    train: np.ndarray  # bool (N,)
    task: str
    classes: int
    domain: tuple[float, float]

    @property
    def train_indices(self) -> np.ndarray:
        return np.flatnonzero(self.train)

    @property
    def test_indices(self) -> np.ndarray:
        return np.flatnonzero(~self.train)


@dataclass(frozen=True)
class Points:
    """Points before the train/test split (what a generator or the CSV reader gives)."""

    x: np.ndarray
    labels: np.ndarray
    task: str
    classes: int
    domain: tuple[float, float] = DOMAIN


def generate(config: dict, uploaded: Points | None = None) -> Data:
    """The config's dataset, split into training and test points (``train_fraction``)."""
    rng = np.random.default_rng(config["seed"])
    name = config["dataset"]
    if name == "csv":
        if uploaded is None:
            raise ConfigError("dataset", "no CSV uploaded in this session. help: drop a CSV "
                              "file on the page, or POST it to /api/data first")
        points = uploaded
    else:
        points = _GENERATORS[name](config["points"], config["noise"] / 100, rng)
    n = len(points.labels)
    order = rng.permutation(n)
    n_train = max(1, min(n, round(n * config["train_fraction"])))
    train = np.zeros(n, dtype=bool)
    train[order[:n_train]] = True
    return Data(points.x, points.labels, train, points.task, points.classes, points.domain)


# --- TF Playground's generators (dataset.ts), noise in [0, 0.5] -----------------------------


def _circle(n, noise, rng):
    radius = 5.0

    def ring(m, r_lo, r_hi):
        r = rng.uniform(r_lo, r_hi, m)
        angle = rng.uniform(0, 2 * math.pi, m)
        x = np.c_[r * np.sin(angle), r * np.cos(angle)]
        shaken = x + rng.uniform(-radius, radius, (m, 2)) * noise
        return x, np.where(np.hypot(*shaken.T) < radius * 0.5, 1.0, -1.0)

    inner, outer = ring(n // 2, 0, radius * 0.5), ring(n - n // 2, radius * 0.7, radius)
    return _classes(np.r_[inner[0], outer[0]], np.r_[inner[1], outer[1]])


def _xor(n, noise, rng):
    padding = 0.3
    x = rng.uniform(-5, 5, (n, 2))
    x += np.where(x > 0, padding, -padding)
    shaken = x + rng.uniform(-5, 5, (n, 2)) * noise
    return _classes(x, np.where(shaken[:, 0] * shaken[:, 1] >= 0, 1.0, -1.0))


def _gauss(n, noise, rng):
    spread = 0.5 + 3.5 * noise / 0.5  # TF: variance from 0.5 (no noise) to 4 (50 %)
    return _blobs(n, [(2.0, 2.0), (-2.0, -2.0)], spread, rng, labels=(1.0, -1.0))


def _spiral(n, noise, rng):
    return _arms(n, 2, noise, rng, labels=(1.0, -1.0))


def _gauss3(n, noise, rng):
    spread = 0.5 + 3.5 * noise / 0.5
    centres = [(3 * math.cos(a), 3 * math.sin(a)) for a in np.radians([90, 210, 330])]
    return _blobs(n, centres, spread, rng, labels=(0.0, 1.0, 2.0))


def _spiral3(n, noise, rng):
    return _arms(n, 3, noise, rng, labels=(0.0, 1.0, 2.0))


def _plane(n, noise, rng):
    x = rng.uniform(-6, 6, (n, 2))
    shaken = x + rng.uniform(-6, 6, (n, 2)) * noise
    return Points(x, np.clip(shaken.sum(axis=1) / 10, -1, 1), "regression", 0)


_BUMPS = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]


def _multi_gauss(n, noise, rng):
    x = rng.uniform(-6, 6, (n, 2))
    shaken = x + rng.uniform(-6, 6, (n, 2)) * noise
    label = np.zeros(n)
    for cx, cy, sign in _BUMPS:  # the strongest bump wins, as TF's getLabel
        bump = sign * np.clip(1 - np.hypot(shaken[:, 0] - cx, shaken[:, 1] - cy) / 2, 0, 1)
        label = np.where(np.abs(bump) > np.abs(label), bump, label)
    return Points(x, label, "regression", 0)


def _blobs(n, centres, spread, rng, labels):
    k = len(centres)
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    x = np.concatenate([rng.normal(c, math.sqrt(spread), (m, 2)) for c, m in zip(centres, sizes)])
    y = np.concatenate([np.full(m, label) for label, m in zip(labels, sizes)])
    return _classes(x, y)


def _arms(n, k, noise, rng, labels):
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    xs = []
    for c, m in enumerate(sizes):
        i = np.arange(m) / m
        r = 5 * i
        t = 1.75 * i * 2 * math.pi + 2 * math.pi * c / k
        xs.append(np.c_[r * np.sin(t), r * np.cos(t)] + rng.uniform(-1, 1, (m, 2)) * noise)
    y = np.concatenate([np.full(m, label) for label, m in zip(labels, sizes)])
    return _classes(np.concatenate(xs), y)


def _classes(x, y):
    k = len(np.unique(y))
    if set(np.unique(y)) <= {-1.0, 1.0}:
        return Points(x, y.astype(np.float64), "classification", 2)
    return Points(x, y.astype(np.float64), "multiclass", k)


_GENERATORS = {"circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral,
               "gauss3": _gauss3, "spiral3": _spiral3, "plane": _plane,
               "multi-gauss": _multi_gauss}


# --- your own points ---------------------------------------------------------------------------


def read_csv(raw: bytes) -> Points:
    """Points from a CSV file: one point per line, ``x1,x2,label``; a header line is skipped.

    Integer labels with at most MAX_CLASSES distinct values are classes (two classes give
    the -1/+1 task, more the softmax one); any other numbers are a regression target.
    Raises ConfigError (field ``csv``) naming the line and what is wrong.
    """
    if len(raw) > MAX_CSV_BYTES:
        raise ConfigError("csv", f"the file is larger than {MAX_CSV_BYTES // 1024} KiB, the "
                          "most the playground reads. help: use fewer points")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError("csv", f"not a text file (byte {e.start} is not UTF-8). help: save "
                          "the points as a UTF-8 CSV: x1,x2,label per line") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.replace(";", ",").replace("\t", ",").split(",")]
        try:
            values = [float(c) for c in cells]
        except ValueError:
            if not rows and number == _first_line(text):
                continue  # a header such as "x1,x2,label"
            raise ConfigError("csv", f"line {number}: expected numbers x1,x2,label, got "
                              f"{line[:40]!r}") from None
        if len(values) != 3:
            raise ConfigError("csv", f"line {number}: expected 3 numbers (x1, x2, label), got "
                              f"{len(values)}")
        if not all(math.isfinite(v) for v in values):
            raise ConfigError("csv", f"line {number}: expected finite numbers, got {line[:40]!r}")
        rows.append(values)
        if len(rows) > MAX_CSV_ROWS:
            raise ConfigError("csv", f"more than {MAX_CSV_ROWS} points. help: use fewer")
    if len(rows) < MIN_CSV_ROWS:
        raise ConfigError("csv", f"expected at least {MIN_CSV_ROWS} points (lines x1,x2,label), "
                          f"got {len(rows)}")
    table = np.array(rows, dtype=np.float64)
    x, y = table[:, :2], table[:, 2]
    return Points(x, *_label_task(y), _square(x))


def _first_line(text: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.strip().startswith("#"):
            return number
    return 0


def _label_task(y: np.ndarray) -> tuple[np.ndarray, str, int]:
    values = np.unique(y)
    if np.all(values == np.round(values)) and len(values) <= MAX_CLASSES:
        if len(values) < 2:
            raise ConfigError("csv", f"every point has the label {values[0]:g}: a classifier "
                              "needs at least two classes")
        if len(values) == 2:  # the lower label is the -1 class
            return np.where(y == values[1], 1.0, -1.0), "classification", 2
        return np.searchsorted(values, y).astype(np.float64), "multiclass", len(values)
    return y, "regression", 0


def _square(x: np.ndarray) -> tuple[float, float]:
    """A square around the points with a margin, the same for both axes."""
    lo, hi = float(x.min()), float(x.max())
    half = max((hi - lo) / 2 * 1.1, 1e-3)
    mid = (hi + lo) / 2
    return (mid - half, mid + half)

