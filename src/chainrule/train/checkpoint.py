"""Training checkpoints: everything needed to resume a run exactly.

A checkpoint is a ``cr.save`` state dict (safetensors + JSON metadata, atomic writes):

    {"format": "chainrule-checkpoint", "version": 1,
     "recipe": {...}, "model": model.state_dict(), "optimizer": ..., "scheduler": ...,
     "progress": {"epoch": completed epochs, "batch": batches done in the next epoch,
                  "history": [per-epoch metrics], "seconds": training time so far},
     "rng": the global generator's state (dropout draws),
     "inputs": {"shape": one sample's shape, "classes": number of classes}}

``distributed`` ({"world_size": N, "rng_ranks": [every rank's generator state]}) is
there only for a run on several ranks (train/ranks.py).

``inputs`` came later: a checkpoint without it still loads (``evaluate`` then finds a
wrong image size from the weights' shapes instead).

In a run directory: ``checkpoints/epoch-NNN.safetensors`` after each epoch, ``last``
(the newest state, also written on Ctrl-C mid-epoch) and ``best`` (the highest validation
accuracy; the last epoch when the run has no validation set).

``progress`` is a ``RunState`` (state.py) written out, and read back by ``read_run``.
It may also hold ``partial`` (the running sums of the epoch cut short, when ``batch`` is
not 0), ``stopped_early`` ({"epoch", "patience", "best_epoch",
"best_val_accuracy"}: the run stopped there) and ``patience_from`` (the epoch from which an
extended run counts its patience again); ``inputs`` may hold ``class_names``.
"""

from __future__ import annotations

from pathlib import Path

from chainrule import _backend as B
from chainrule.serialization import CheckpointError, dumps, load, write_atomic
from chainrule.train.errors import RecipeError
from chainrule.train.recipes import Recipe, validate
from chainrule.train.rundir import show
from chainrule.train.state import ProgressError, RunState

FORMAT = "chainrule-checkpoint"
VERSION = 1


def paths(out_dir: Path) -> dict:
    ckpt = Path(out_dir) / "checkpoints"
    return {"dir": ckpt, "last": ckpt / "last.safetensors", "best": ckpt / "best.safetensors"}


def epoch_path(out_dir: Path, epoch: int) -> Path:
    return paths(out_dir)["dir"] / f"epoch-{epoch:03d}.safetensors"


def rng_state() -> dict:
    return B.random.generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    B.random.generator.bit_generator.state = state


def write(path: Path, recipe, model, optimizer, scheduler, state: RunState,
          inputs: dict | None = None, distributed: dict | None = None) -> None:
    """Save a run at ``state``: its recipe, weights, optimizer, scheduler, random generator
    (and, for a run on several ranks, ``distributed``: its world size and every rank's
    random generator, ranks.py)."""
    data = encode(recipe, model, optimizer, scheduler, state, inputs, distributed)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)


def encode(recipe, model, optimizer, scheduler, state: RunState, inputs: dict | None = None,
           distributed: dict | None = None) -> bytes:
    """The bytes ``write`` saves: the run as it is now (a snapshot)."""
    contents = {
        "format": FORMAT,
        "version": VERSION,
        "recipe": recipe.to_dict(),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else {},
        "progress": state.to_progress(),
        "rng": rng_state(),
        "inputs": inputs or {},
    }
    if distributed:
        contents["distributed"] = distributed
    return dumps(contents)


def file_of(path) -> Path:
    """The checkpoint file ``path`` names: itself, or a run directory's ``last``."""
    path = Path(path)
    return paths(path)["last"] if path.is_dir() else path


def read(path) -> dict:
    """Load and check a training checkpoint; a clear CheckpointError otherwise."""
    path = file_of(path)
    try:
        state = load(path)
    except FileNotFoundError:
        raise CheckpointError(f"{show(path)}: no such checkpoint. help: give the run directory "
                              "or a .safetensors file that `chainrule train` wrote") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{show(path)}: not a chainrule training checkpoint (a state dict saved by "
            "`chainrule train`) - it has no format tag"
        )
    if state.get("version") != VERSION:
        raise CheckpointError(f"{show(path)}: checkpoint version {state.get('version')} is not "
                              f"supported (this chainrule reads version {VERSION})")
    return state


#: What a checkpoint needs to be resumed, and the type of each part.
_PARTS = {"recipe": dict, "model": dict, "optimizer": dict, "scheduler": dict,
          "progress": dict, "rng": dict}


def read_run(path) -> tuple[dict, Recipe, RunState]:
    """A checkpoint that can be resumed: its contents, its recipe (validated as the CLI's
    would be) and the run's state (its ``progress``, checked field by field).

    ``read`` only checks the format tag; a file can carry the tag, pass its checksum and
    still not be a run (hand-made, or written by another tool). Every part that resuming
    touches is checked here, so such a file is one CheckpointError, never a KeyError
    halfway through restoring it.
    """
    file = file_of(path)
    contents = read(file)

    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"{show(file)}: not a complete training checkpoint: {what}. help: "
                               "resume a run directory that `chainrule train` wrote")

    for key, kind in _PARTS.items():
        if not isinstance(contents.get(key), kind):
            found = type(contents[key]).__name__ if key in contents else "missing"
            raise bad(f"its {key!r} is {found}, expected a {kind.__name__}")
    try:
        recipe = Recipe.from_dict(contents["recipe"])
        validate(recipe)
    except RecipeError as e:
        raise CheckpointError(f"{show(file)}: its recipe cannot train ({reason(e)}). help: "
                              "resume a run directory that `chainrule train` wrote") from None
    try:
        state = RunState.from_progress(contents["progress"], recipe.epochs)
    except ProgressError as e:
        raise bad(str(e)) from None
    return contents, recipe, state


def restore(contents: dict, file, model, optimizer, scheduler) -> None:
    """Load a ``read_run`` checkpoint into a freshly built model, optimizer and scheduler."""
    try:
        model.load_state_dict(contents["model"])
        optimizer.load_state_dict(contents["optimizer"])
        if scheduler is not None:
            unknown = set(contents["scheduler"]) - set(scheduler.state_dict())
            if unknown:
                raise ValueError(f"unknown scheduler keys {sorted(map(str, unknown))}")
            scheduler.load_state_dict(contents["scheduler"])
        set_rng_state(contents["rng"])
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as e:
        # NOTE: this wide net is for a file's contents only: each of these is what numpy
        # or load_state_dict raise for a value of the wrong shape, type or key.
        raise CheckpointError(f"{show(file)}: its saved state cannot be restored into the "
                              f"model its recipe describes ({reason(e)}). help: resume a run "
                              "directory that `chainrule train` wrote") from None


def reason(e: BaseException) -> str:
    """An inner error's message for a parenthesis in ours: one line, its help cut off."""
    return " ".join(str(e).split()).split(" help: ")[0].rstrip(".") or type(e).__name__

