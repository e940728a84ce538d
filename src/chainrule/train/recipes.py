"""Recipes: everything that defines a training run, with good defaults per dataset/model.

A ``Recipe`` is stored in every checkpoint, so a run can be resumed or evaluated
without repeating its options. ``recipe_for(dataset, model, **overrides)`` starts from
the recommended recipe for that pair and applies the options the user gave.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

DATASETS = ("digits", "fashion-mnist", "mnist", "moons", "spirals", "circles", "xor")
MODELS = ("mlp", "cnn")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "step", "cosine")


@dataclass(frozen=True)
class Recipe:
    dataset: str = "digits"
    model: str = "mlp"
    hidden: tuple = (128,)  # MLP hidden layer sizes
    channels: tuple = (32, 64)  # CNN: output channels of each conv block
    batch_norm: bool = False
    dropout: float = 0.0
    epochs: int = 30
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # SGD and RMSprop
    weight_decay: float = 0.0
    scheduler: str = "cosine"
    step_size: int = 10  # StepLR
    gamma: float = 0.1  # StepLR
    seed: int = 0
    threads: int = 0  # 0: leave BLAS's default
    data_dir: str = ""  # "" : the dataset's default location
    samples: int = 1000  # generated 2-D sets

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"], d["channels"] = list(self.hidden), list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Recipe:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown recipe fields {unknown}")
        d = dict(d)
        for key in ("hidden", "channels"):
            if key in d:
                d[key] = tuple(int(n) for n in d[key])
        return cls(**d)


#: The recommended recipe for each dataset/model pair (what `chainrule train` runs
#: when only --dataset and --model are given). Numbers measured: see README.
DEFAULTS: dict[tuple[str, str], dict] = {
    ("digits", "mlp"): dict(hidden=(256, 128), dropout=0.2, epochs=60, batch_size=32, lr=5e-3,
                            weight_decay=1e-4, optimizer="adamw"),
    ("digits", "cnn"): dict(channels=(16, 32), epochs=20, batch_size=32, lr=2e-3),
    ("fashion-mnist", "mlp"): dict(hidden=(256, 128, 64), batch_norm=True, dropout=0.2,
                                   epochs=40, batch_size=128, lr=2e-3, optimizer="adamw",
                                   weight_decay=1e-2),
    ("fashion-mnist", "cnn"): dict(channels=(32, 64), batch_norm=True, dropout=0.3,
                                   epochs=12, batch_size=64, lr=2e-3, optimizer="adamw",
                                   weight_decay=1e-2),
    ("mnist", "mlp"): dict(hidden=(256, 128), batch_norm=True, epochs=20, batch_size=128,
                           lr=2e-3),
    ("mnist", "cnn"): dict(channels=(32, 64), batch_norm=True, epochs=10, batch_size=64,
                           lr=2e-3),
    ("moons", "mlp"): dict(hidden=(16, 16), epochs=100, batch_size=32, lr=1e-2),
    ("spirals", "mlp"): dict(hidden=(64, 64), epochs=200, batch_size=32, lr=1e-2),
    ("circles", "mlp"): dict(hidden=(16, 16), epochs=100, batch_size=32, lr=1e-2),
    ("xor", "mlp"): dict(hidden=(8,), epochs=100, batch_size=32, lr=1e-2),
}


def recipe_for(dataset: str = "digits", model: str = "mlp", **overrides) -> Recipe:
    """The default recipe for (dataset, model) with ``overrides`` (None means: default)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    if (dataset, model) not in DEFAULTS:
        raise ValueError(f"no {model} recipe for {dataset}: 2-D point sets train an mlp")
    base = Recipe(dataset=dataset, model=model, **DEFAULTS[(dataset, model)])
    given = {k: v for k, v in overrides.items() if v is not None}
    recipe = replace(base, **given)
    validate(recipe)
    return recipe


def validate(r: Recipe) -> None:
    """Raise ValueError with a one-line message for any value that cannot work."""
    if r.optimizer not in OPTIMIZERS:
        raise ValueError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {r.optimizer!r}")
    if r.scheduler not in SCHEDULERS:
        raise ValueError(f"--scheduler must be one of {', '.join(SCHEDULERS)}, got {r.scheduler!r}")
    checks = [
        (r.epochs >= 1, f"--epochs must be at least 1, got {r.epochs}"),
        (r.batch_size >= 1, f"--batch-size must be at least 1, got {r.batch_size}"),
        (r.lr > 0, f"--lr must be positive, got {r.lr}"),
        (r.weight_decay >= 0, f"--weight-decay must be >= 0, got {r.weight_decay}"),
        (0 <= r.momentum < 1, f"--momentum must be in [0, 1), got {r.momentum}"),
        (0 <= r.dropout < 1, f"--dropout must be in [0, 1), got {r.dropout}"),
        (r.threads >= 0, f"--threads must be >= 0, got {r.threads}"),
        (r.samples >= 4, f"--samples must be at least 4, got {r.samples}"),
        (all(n >= 1 for n in r.hidden), f"--hidden sizes must be >= 1, got {r.hidden}"),
        (len(r.channels) >= 1 and all(n >= 1 for n in r.channels),
         f"--channels must be one or more sizes >= 1, got {r.channels}"),
        (r.step_size >= 1, f"--step-size must be at least 1, got {r.step_size}"),
        (r.gamma > 0, f"--gamma must be positive, got {r.gamma}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
