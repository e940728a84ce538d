"""``chainrule train --backend LIB [--device D]``: the array library a run's model,
optimizer state and batches live in (docs/backends.md). Checkpoints are NumPy on disk
whatever the library, so a run resumes, evaluates and predicts on any."""

from __future__ import annotations

import argparse

#: The choices, as a command line spells them: ``_backend.MODULES``' names, "-" for "_".
CHOICES = ("numpy", "torch", "array-api-strict", "cupy")


def add_options(p) -> None:
    p.add_argument("--backend", type=_choice, default="numpy", metavar="{" + ",".join(CHOICES)
                   + "}", help="the array library the model, optimizer and batches live in "
                   "(docs/backends.md; the step then runs eagerly). Checkpoints are NumPy on "
                   "disk, so a run resumes, evaluates and predicts on any. default: numpy")
    p.add_argument("--device", metavar="D",
                   help="with --backend: that library's device, e.g. cuda, cuda:1; default: "
                   "its default device")


def _choice(text: str) -> str:
    """A ``--backend`` value as ``_backend``'s name ("array-api-strict" -> "array_api_strict")."""
    if text not in CHOICES:
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from "
                                         f"{', '.join(CHOICES)})")
    return text.replace("-", "_")


def check(backend: str, device) -> None:
    """``RecipeError`` unless ``backend`` is a library that is installed (the message names
    the pip command that installs it) and ``device`` is given only with another library
    than NumPy."""
    from chainrule import _backend as B
    from chainrule.errors import BackendError
    from chainrule.train.errors import RecipeError

    flag = f"--backend {backend.replace('_', '-')}"
    if backend == "numpy":
        if device is not None:
            raise RecipeError(f"--device {device} places another library's arrays; NumPy's "
                              "live on the host. help: add --backend torch (or cupy)")
        return
    try:
        B.namespace_of(backend)
    except BackendError as e:
        raise RecipeError(f"{flag}: {e}") from None
