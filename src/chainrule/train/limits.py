"""Checks that a recipe can run on this machine, made before anything is allocated.

A recipe that asks for more memory than the machine has would die mid-allocation with a
MemoryError (or be killed by the kernel); a CNN with more pooling blocks than its image
has halvings would fail in the middle of the first forward pass. Both are refused here,
in one line, from arithmetic on the recipe alone. The estimates are lower bounds (the
arrays that must exist at once), so a refusal is never a false alarm; a run that passes
may still need somewhat more.
"""

from __future__ import annotations

import math
import os

from chainrule.train.errors import RecipeError

FLOAT_BYTES = 4  # training runs in float32
#: generating a 2-D point set holds about a dozen float64 values per point at its peak
#: (angles, coordinates, noise, the shuffled copy), train and test (a quarter more)
BYTES_PER_POINT = 96
EVAL_BATCH = 512  # loop.evaluate's batch


def available_memory() -> int:
    """Bytes of memory available to a new allocation now (MemAvailable), else all RAM."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):  # pragma: no cover - not POSIX
        return 1 << 62


def size(n: float) -> str:
    """Bytes in binary units: ``size(3 << 30) == '3.0 GiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def _require(needed: int, what: str, hint: str, available: int | None) -> None:
    available = available_memory() if available is None else available
    if needed > available:
        raise RecipeError(f"{what} needs at least {size(needed)} of memory; this machine has "
                          f"{size(available)} available. help: {hint}")


def check_samples(recipe, available: int | None = None) -> None:
    """Refuse a generated 2-D set too large to hold (before it is generated)."""
    if recipe.dataset in ("digits", "fashion-mnist", "mnist"):
        return  # read from files whose size bounds them
    needed = recipe.samples * BYTES_PER_POINT * 5 // 4
    _require(needed, f"--samples {recipe.samples}: generating the {recipe.dataset} set",
             "use fewer --samples", available)


def blocks_that_fit(height: int, width: int) -> int:
    """How many 2x2 max-pool blocks an image of ``height`` x ``width`` survives."""
    return int(math.log2(min(height, width))) if min(height, width) >= 1 else 0


def check_model(recipe, input_shape: tuple, num_classes: int, train_size: int,
                test_size: int, available: int | None = None) -> None:
    """Refuse a model that cannot be built on these inputs, or cannot fit in memory.

    A user's own Module (``FILE.py:Class``) is known only once built: see ``check_built``.
    """
    from chainrule.train.recipes import is_custom

    if is_custom(recipe.model):
        return
    if recipe.model == "cnn" and len(input_shape) == 3:
        _, h, w = input_shape
        fit = blocks_that_fit(h, w)
        n = len(recipe.channels)
        if n > fit:
            raise RecipeError(
                f"--channels {','.join(map(str, recipe.channels))}: each conv block halves "
                f"the image, and the {recipe.dataset} images ({h}x{w}) are too small for {n} "
                f"blocks ({fit} halvings reach {h >> fit}x{w >> fit}). help: "
                + (f"give at most {fit} sizes, e.g. --channels "
                   f"{','.join(map(str, recipe.channels[:fit]))}" if fit else
                   "use --model mlp"))
    params, per_sample = model_size(recipe, input_shape, num_classes)
    states = {"sgd": 1 if recipe.momentum else 0, "adam": 2, "adamw": 2,
              "rmsprop": 1 + (1 if recipe.momentum else 0)}[recipe.optimizer]
    batch = max(min(recipe.batch_size, train_size), min(EVAL_BATCH, test_size))
    # parameters, their gradients and the optimizer's state; each activation of a batch
    # and its gradient
    needed = FLOAT_BYTES * (params * (2 + states) + 2 * batch * per_sample)
    if recipe.model == "mlp":
        arch = "-".join(map(str, (math.prod(input_shape), *recipe.hidden, num_classes)))
        hint = "use smaller --hidden sizes or a smaller --batch-size"
    else:
        arch = "with channels " + ",".join(map(str, recipe.channels))
        hint = "use fewer --channels or a smaller --batch-size"
    _require(needed, f"the {recipe.model} {arch} ({params:,} parameters, with their "
             f"gradients, the {recipe.optimizer} state and a batch of {batch})", hint, available)


def check_built(recipe, params: int, available: int | None = None) -> None:
    """Refuse a built model whose parameters, gradients and optimizer state alone exceed
    the memory available (a user's own Module: its activations are unknown)."""
    states = {"sgd": 1 if recipe.momentum else 0, "adam": 2, "adamw": 2,
              "rmsprop": 1 + (1 if recipe.momentum else 0)}[recipe.optimizer]
    from chainrule.train.recipes import model_name

    _require(FLOAT_BYTES * params * (2 + states),
             f"the model {model_name(recipe.model)} ({params:,} parameters, with their "
             f"gradients and the {recipe.optimizer} state)", "make the model smaller",
             available)


def model_size(recipe, input_shape: tuple, num_classes: int) -> tuple[int, int]:
    """(parameters, activation values per sample) of the model ``models.build_model``
    would build, computed without building it (Python ints: no overflow)."""
    bn = recipe.batch_norm
    if recipe.model == "mlp":
        n_in = math.prod(input_shape)
        params, acts = 0, n_in
        for width in recipe.hidden:
            params += n_in * width + (4 * width if bn else width)  # BN: weight, bias, 2 stats
            acts += width * (4 if bn else 3)  # linear, (bn), relu, dropout
            n_in = width
        return params + n_in * num_classes + num_classes, acts + num_classes
    c, h, w = input_shape
    params, acts = 0, c * h * w
    for out in recipe.channels:
        params += c * out * 9 + (4 * out if bn else out)
        acts += c * 9 * h * w + out * h * w * (4 if bn else 3)  # im2col, conv, (bn), relu
        c, h, w = out, h // 2, w // 2
        acts += c * h * w  # pooled
    return params + c * h * w * num_classes + num_classes, acts + num_classes
