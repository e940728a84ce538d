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
                   help="with --backend torch: its device, e.g. cuda, cuda:1 (array-api-strict: "
                   "device1; CuPy: the current device, CUDA_VISIBLE_DEVICES picks it); "
                   "default: the library's default device")


def _choice(text: str) -> str:
    """A ``--backend`` value as ``_backend``'s name ("array-api-strict" -> "array_api_strict")."""
    if text not in CHOICES:
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from "
                                         f"{', '.join(CHOICES)})")
    return text.replace("-", "_")


def check(backend: str, device):
    """The device to put the run's arrays on (None: the library's default), from
    ``device`` as given (a name, or the library's own device object); ``RecipeError``
    unless ``backend`` is a library that is installed (the message names the pip command
    that installs it) with such a device."""
    from chainrule import _backend as B
    from chainrule.errors import BackendError
    from chainrule.train.errors import RecipeError

    flag = f"--backend {backend.replace('_', '-')}"
    if backend == "numpy":
        if device is not None:
            raise RecipeError(f"--device {device} places another library's arrays; NumPy's "
                              "live on the host. help: add --backend torch (or cupy)")
        return None
    try:
        B.namespace_of(backend)
    except BackendError as e:
        raise RecipeError(f"{flag}: {e}") from None
    if device is None or not isinstance(device, str):
        return device
    if backend == "cupy":
        raise RecipeError(f"{flag} --device {device}: CuPy puts arrays on its current device. "
                          "help: drop --device and pick the GPU with CUDA_VISIBLE_DEVICES=N")
    return _named_device(backend, device, flag)


def _named_device(backend: str, name: str, flag: str):
    """The library's device called ``name`` (PyTorch's "cuda:1", array-api-strict's
    "device1"), or ``RecipeError`` saying which it has."""
    from chainrule.train.errors import RecipeError

    if backend == "array_api_strict":
        import array_api_strict

        try:
            return array_api_strict.Device(name)
        except ValueError:
            names = [d._device for d in array_api_strict.__array_namespace_info__().devices()]
            raise RecipeError(f"{flag} --device {name}: no such device. help: one of "
                              f"{', '.join(names)}") from None
    import torch

    try:
        device = torch.device(name)
    except RuntimeError:
        raise RecipeError(f"{flag} --device {name}: not a PyTorch device. help: e.g. cpu, "
                          "cuda, cuda:1") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RecipeError(f"{flag} --device {name}: this PyTorch has no CUDA device here. "
                          "help: drop --device (the CPU), or install a CUDA build of PyTorch "
                          "on a machine with an NVIDIA GPU")
    return device
