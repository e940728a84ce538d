"""Training checkpoints: everything needed to resume a run exactly.

A checkpoint is a ``cr.save`` state dict (safetensors + JSON metadata, atomic writes):

    {"format": "chainrule-checkpoint", "version": 1,
     "recipe": {...}, "model": model.state_dict(), "optimizer": ..., "scheduler": ...,
     "progress": {"epoch": completed epochs, "batch": batches done in the next epoch,
                  "history": [per-epoch metrics]},
     "rng": the global generator's state (dropout draws)}

In a run directory: ``checkpoints/epoch-NNN.safetensors`` after each epoch, ``last``
(the newest state, also written on Ctrl-C mid-epoch) and ``best`` (highest test accuracy).
"""

from __future__ import annotations

from pathlib import Path

from chainrule import _backend as B
from chainrule.serialization import CheckpointError, load, save

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


def write(path: Path, recipe, model, optimizer, scheduler, epoch: int, batch: int,
          history: list, **progress) -> None:
    state = {
        "format": FORMAT,
        "version": VERSION,
        "recipe": recipe.to_dict(),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else {},
        "progress": {"epoch": epoch, "batch": batch, "history": history, **progress},
        "rng": rng_state(),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save(state, path)


def read(path) -> dict:
    """Load and check a training checkpoint; a clear CheckpointError otherwise."""
    path = Path(path)
    if path.is_dir():
        path = paths(path)["last"]
    try:
        state = load(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint. help: give the run directory "
                              "or a .safetensors file that `chainrule train` wrote") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not a chainrule training checkpoint (a state dict saved by "
            "`chainrule train`) - it has no format tag"
        )
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {state.get('version')} is not "
                              f"supported (this chainrule reads version {VERSION})")
    return state
