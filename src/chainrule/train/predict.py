"""`chainrule predict RUN INPUT`: class probabilities of a trained run for new inputs.

INPUT is one of:
- an image file, read by Pillow (which matplotlib needs, so it is always installed): PNG,
  JPEG, BMP, GIF (its first frame), TIFF, WebP. It becomes one sample: grayscale (ITU-R
  601 luma; a transparent pixel counts as black, the training images' background),
  scaled to [0, 1] (8-bit values / 255, 16-bit / 65535), and averaged down by a whole
  factor to the run's image size when it is a multiple of it (a 32x32 image to the 8x8
  digits: the way the digits themselves were made from 32x32 bitmaps). Any other size is a
  one-line error naming the size expected. The training images are light strokes on a
  dark background: ``--invert`` flips a dark-on-light drawing.
- a ``.npy`` file: one sample, or many along the first axis, each of the run's input
  shape or flattened; the values are taken as they are, in the units the model trained
  on (what ``load_dataset`` gives: digits and (Fashion-)MNIST pixels in [0, 1]).
- a ``.csv`` (or ``.txt``) file: one sample per row, the values comma-separated, in the
  same units; a first row that is not numbers is a header and skipped.

Every file is read no further than its size or header says (STYLE.md habit 16): a
regular file only, a size cap, the image's pixel count and the .npy header's array size
checked before anything is decoded or allocated.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chainrule._files import NotRegularFileError, open_regular, read_up_to
from chainrule.train.errors import PredictError
from chainrule.train.rundir import show

MAX_TEXT_BYTES = 256 << 20  # a CSV larger than this is refused before it is read
MAX_PIXELS = 40_000_000  # an image larger than this is refused before it is decoded
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass
class Loaded:
    """A run's checkpoint, ready to predict: its model in eval mode and what it expects."""

    file: Path
    state: dict
    recipe: object
    model: object
    input_shape: tuple
    class_names: tuple


def checkpoint_file(run, which: str | None) -> Path:
    """The checkpoint that ``run`` (a run directory or a checkpoint file) and ``--checkpoint
    best|last`` (None: best) name."""
    from chainrule.train.checkpoint import paths

    run = Path(run)
    if not run.is_dir():
        if which is not None:
            raise PredictError(f"--checkpoint {which}: chooses a checkpoint of a run "
                               f"directory, and {show(run)} is a file. help: give the run "
                               "directory, or the file alone")
        if not run.exists():
            raise PredictError(f"{show(run)}: no such run directory or checkpoint. help: give "
                               "a directory that `chainrule train` wrote, e.g. runs/digits-mlp")
        return run
    which = which or "best"
    file = paths(run)[which]
    if not file.is_file():
        if not paths(run)["last"].is_file():
            raise PredictError(f"{show(run)}: not a run directory (no "
                               "checkpoints/last.safetensors). help: give a directory that "
                               "`chainrule train` wrote, e.g. runs/digits-mlp")
        raise PredictError(f"{show(file)}: no such checkpoint yet (the run has finished no "
                           "epoch with it). help: --checkpoint last")
    return file


def load(run, which: str | None = None) -> Loaded:
    """The model of ``run``'s best (or ``which``) checkpoint, with its input shape and class
    names; PredictError (or a CheckpointError) in one line otherwise."""
    from chainrule.train import checkpoint
    from chainrule.train.errors import RecipeError
    from chainrule.train.models import build_model
    from chainrule.train.recipes import Recipe

    file = checkpoint_file(run, which)
    state = checkpoint.read(file)
    try:
        recipe = Recipe.from_dict(state.get("recipe"))
    except RecipeError as e:
        raise PredictError(f"{show(file)}: not a complete training checkpoint: its recipe: "
                           f"{checkpoint.reason(e)}") from None
    inputs = state.get("inputs") if isinstance(state.get("inputs"), dict) else {}
    shape, classes = inputs.get("shape"), inputs.get("classes")
    if not (isinstance(shape, list) and shape and all(isinstance(n, int) and n >= 1
                                                      for n in shape)
            and isinstance(classes, int) and classes >= 1):
        # Written before checkpoints recorded their inputs: the data says what they are.
        from chainrule.train.datasets import load_split

        try:
            split = load_split(recipe)
        except (ValueError, OSError) as e:
            raise PredictError(f"{show(file)}: records no input shape (an older checkpoint), "
                               f"and its {recipe.dataset} data cannot be read to learn it: "
                               f"{checkpoint.reason(e)}") from None
        shape, classes, names = split.input_shape, split.num_classes, split.class_names
    else:
        names = inputs.get("class_names")
        if not (isinstance(names, list) and len(names) == classes
                and all(isinstance(n, str) for n in names)):
            names = _class_names(recipe.dataset, classes)
    shape = tuple(shape)
    if not isinstance(state.get("model"), dict):
        raise PredictError(f"{show(file)}: not a complete training checkpoint (no model "
                           "weights)")
    model = build_model(recipe, shape, classes, recorded=True)
    try:
        model.load_state_dict(state["model"])
    except (KeyError, ValueError, TypeError) as e:
        raise PredictError(f"{show(file)}: its weights do not fit the model its recipe "
                           f"describes ({recipe.model}, inputs {'x'.join(map(str, shape))}): "
                           f"{checkpoint.reason(e)}. help: for your own --model class, "
                           "restore the class as it was when the run trained") from None
    return Loaded(file, state, recipe, model.eval(), shape, tuple(names))


def _class_names(dataset: str, k: int) -> tuple:
    if dataset == "fashion-mnist" and k == 10:
        from chainrule.data.idx import FASHION_CLASSES

        return FASHION_CLASSES
    return tuple(str(i) for i in range(k))


def image_size(dataset: str, shape: tuple) -> tuple | None:
    """(height, width) when the run's inputs are grayscale images, else None."""
    if len(shape) == 3 and shape[0] == 1:
        return shape[1], shape[2]
    if dataset == "digits" and tuple(shape) == (64,):
        return 8, 8  # the MLP sees the 8x8 digits flattened
    return None


# --- reading the input ----------------------------------------------------------------------


def read_input(path, dataset: str, shape: tuple, invert: bool = False,
               notes: list | None = None) -> np.ndarray:
    """The samples in ``path`` as float32 of shape (n, *shape); PredictError otherwise.
    ``notes`` collects remarks for the user (a light background, values out of range)."""
    path = Path(path)
    notes = notes if notes is not None else []
    suffix = path.suffix.lower()
    try:
        f = open_regular(path)
    except FileNotFoundError:
        raise PredictError(f"{show(path)}: no such file") from None
    except NotRegularFileError as e:
        raise PredictError(f"{show(path)}: {e.strerror}. help: give an image, a .npy or a "
                           ".csv file") from None
    except OSError as e:
        raise PredictError(f"{show(path)}: cannot read it ({e.strerror or e})") from None
    with f:
        if suffix == ".npy":
            x = _read_npy(f, path)
        elif suffix in (".csv", ".txt"):
            x = _read_csv(f, path, math.prod(shape))
        else:
            x = _read_image(f, path, dataset, shape, invert, notes)
            return x.reshape(1, *shape)
    x = _as_samples(x, path, dataset, shape)
    if invert:
        x = 1.0 - x
    if image_size(dataset, shape) and x.size and (x.min() < 0 or x.max() > 1):
        notes.append(f"{show(path)} has values from {x.min():g} to {x.max():g}, but the "
                     f"model trained on {dataset} pixels scaled to [0, 1]. help: scale them "
                     "first (digits: counts / 16; 8-bit images: / 255)")
    return x


def _as_samples(x: np.ndarray, path: Path, dataset: str, shape: tuple) -> np.ndarray:
    """``x`` as (n, *shape): one sample or many, each in the run's shape or flattened (or,
    for images, height x width)."""
    size = math.prod(shape)
    image = image_size(dataset, shape)
    one = {tuple(shape), (size,)} | ({image} if image else set())
    if x.shape in one:
        x = x.reshape(1, *shape)
    elif x.ndim >= 2 and x.shape[1:] in one:
        x = x.reshape(len(x), *shape)
    else:
        forms = sorted({"x".join(map(str, s)) for s in one})
        raise PredictError(
            f"{show(path)}: holds an array of shape {'x'.join(map(str, x.shape))}, but the "
            f"model takes samples of shape {' or '.join(forms)}. help: one sample of that "
            "shape, or many stacked along a first axis (N x shape)")
    if not np.isfinite(x).all():
        raise PredictError(f"{show(path)}: holds NaN or infinite values. help: predict on "
                           "finite numbers")
    return x.astype(np.float32)


def _read_npy(f, path: Path) -> np.ndarray:
    from numpy.lib import format as npy

    from chainrule.train.limits import available_memory, size

    size_on_disk = os.fstat(f.fileno()).st_size
    try:
        version = npy.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = npy.read_array_header_2_0(f)
        else:
            raise ValueError(f"format version {version[0]}.{version[1]} is not read here")
    except (ValueError, OSError, SyntaxError) as e:
        raise PredictError(f"{show(path)}: not a .npy file NumPy wrote "
                           f"({' '.join(str(e).split())})") from None
    if dtype.kind not in "biuf" or dtype.hasobject:
        raise PredictError(f"{show(path)}: holds {dtype} values; predict takes numbers "
                           "(integers or floats)")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > available_memory() // 2:
        raise PredictError(f"{show(path)}: its header declares {size(nbytes)} of data, more "
                           f"than half the memory available ({size(available_memory())})")
    if f.tell() + nbytes != size_on_disk:
        raise PredictError(f"{show(path)}: its header declares {nbytes} bytes of data, but the "
                           f"file holds {size_on_disk - f.tell()} (truncated or damaged)")
    data = read_up_to(f, nbytes)
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C") \
        .astype(np.float64)


def _read_csv(f, path: Path, width: int) -> np.ndarray:
    from chainrule.train.limits import size

    n = os.fstat(f.fileno()).st_size
    if n > MAX_TEXT_BYTES:
        raise PredictError(f"{show(path)}: is {size(n)}; predict reads CSV files up to "
                           f"{size(MAX_TEXT_BYTES)}. help: save many samples as .npy")
    try:
        text = read_up_to(f, n).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise PredictError(f"{show(path)}: not UTF-8 text (byte {e.start}). help: a CSV of "
                           "numbers, one sample per row") from None
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [v.strip() for v in line.split(",")]
        try:
            values = [float(v) for v in fields]
        except ValueError:
            if not rows and number == _first_line(text):
                continue  # a header
            bad = next(v for v in fields if not _is_float(v))
            raise PredictError(f"{show(path)}, line {number}: {bad[:30]!r} is not a "
                               "number") from None
        if len(values) != width:
            raise PredictError(f"{show(path)}, line {number}: {len(values)} values, but the "
                               f"model takes {width} per sample (one sample per row)")
        rows.append(values)
    if not rows:
        raise PredictError(f"{show(path)}: no samples (no rows of numbers)")
    return np.array(rows, dtype=np.float64)


def _first_line(text: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.strip().startswith("#"):
            return number
    return 0


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def _read_image(f, path: Path, dataset: str, shape: tuple, invert: bool, notes: list):
    target = image_size(dataset, shape)
    if target is None:
        raise PredictError(f"{show(path)}: the model takes {dataset} samples of "
                           f"{'x'.join(map(str, shape))} numbers, not images. help: give a "
                           ".csv (one sample per row) or a .npy file")
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - matplotlib depends on Pillow
        raise PredictError("reading images needs Pillow. help: pip install pillow, or give a "
                           ".npy or .csv file") from None
    try:
        im = Image.open(f)
        width, height = im.size
        if width * height > MAX_PIXELS:
            raise PredictError(f"{show(path)}: the image is {width}x{height} pixels; predict "
                               f"reads images up to {MAX_PIXELS:,} pixels")
        im.seek(0)
        im.load()
        gray = _grayscale(im)
    except UnidentifiedImageError:
        raise PredictError(
            f"{show(path)}: not an image Pillow can read (PNG, JPEG, BMP, GIF, TIFF, WebP), "
            "nor a .npy or .csv file. help: give one of those") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        if isinstance(e, PredictError):
            raise
        raise PredictError(f"{show(path)}: cannot decode the image "
                           f"({' '.join(str(e).split())})") from None
    h, w = target
    height, width = gray.shape
    k = height // h
    if k < 1 or height != k * h or width != k * w:
        raise PredictError(
            f"{show(path)}: the image is {width}x{height} pixels, but the model takes "
            f"{w}x{h} images ({dataset}). help: resize it to {w}x{h} (or to a whole "
            f"multiple, {2 * w}x{2 * h}, {3 * w}x{3 * h}..., which predict averages down)")
    if k > 1:
        gray = gray.reshape(h, k, w, k).mean(axis=(1, 3))
    if invert:
        gray = 1.0 - gray
    elif _border(gray) > 0.5:
        notes.append(f"{show(path)} has a light background, but the {dataset} images are "
                     "light strokes on a dark background. help: --invert")
    if not np.isfinite(gray).all():
        raise PredictError(f"{show(path)}: holds NaN or infinite pixel values")
    return gray.astype(np.float32)


def _grayscale(im) -> np.ndarray:
    """A Pillow image as float64 (height, width) in [0, 1]."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I"):
        return np.asarray(im, dtype=np.float64) / 65535.0  # 16-bit grayscale (PNG, TIFF)
    if im.mode == "F":
        return np.asarray(im, dtype=np.float64)  # already floating-point values
    rgba = np.asarray(im.convert("RGBA"), dtype=np.float64) / 255.0
    luma = rgba[..., 0] * 0.299 + rgba[..., 1] * 0.587 + rgba[..., 2] * 0.114
    return luma * rgba[..., 3]  # NOTE: transparent counts as black, the digits' background


def _border(gray: np.ndarray) -> float:
    """The mean of the outermost pixels: the background, in a centred drawing."""
    if min(gray.shape) < 3:
        return float(gray.mean())
    ring = np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])
    return float(ring.mean())


# --- predicting ------------------------------------------------------------------------------


def probabilities(model, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Softmax of the model's logits, (n, classes) float64, in eval mode."""
    import chainrule as cr

    out = []
    with cr.no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(cr.tensor(x[i:i + batch_size])).numpy().astype(np.float64)
            logits -= logits.max(axis=1, keepdims=True)
            e = np.exp(logits)
            out.append(e / e.sum(axis=1, keepdims=True))
    return np.concatenate(out)


def report(loaded: Loaded, source: str, probs: np.ndarray, names: list[str],
           top: int | None, as_json: bool) -> str:
    """The text (or JSON) `chainrule predict` prints."""
    progress = loaded.state.get("progress") if isinstance(loaded.state.get("progress"),
                                                          dict) else {}
    epoch = progress.get("epoch")
    k = probs.shape[1]
    top = k if not top else min(top, k)
    order = np.argsort(-probs, axis=1, kind="stable")[:, :top]
    if as_json:
        return json.dumps({
            "checkpoint": show(loaded.file), "epoch": epoch, "model": loaded.recipe.model,
            "dataset": loaded.recipe.dataset, "classes": list(loaded.class_names),
            "input": source,
            "predictions": [
                {"sample": i, "label": names[i], "class": int(order[i, 0]),
                 "name": loaded.class_names[order[i, 0]],
                 "probabilities": [float(p) for p in probs[i]],
                 "ranked": [{"class": int(c), "name": loaded.class_names[c],
                             "probability": float(probs[i, c])} for c in order[i]]}
                for i in range(len(probs))]}, indent=2)
    lines = [_header(loaded, epoch)]
    width = max(len(n) for n in names)
    for i in range(len(probs)):
        ranked = " | ".join(f"{loaded.class_names[c]} {_probability(probs[i, c])}"
                            for c in order[i])
        lines.append(f"{names[i]:<{width}}  {ranked}")
    return "\n".join(lines)


def _probability(p: float) -> str:
    """Four decimals; a probability below 0.0001 in powers of ten, not as a bare 0.0000."""
    return f"{p:.4f}" if p >= 1e-4 else f"{p:.0e}"


def _header(loaded: Loaded, epoch) -> str:
    from chainrule.train.recipes import model_name

    recipe = loaded.recipe
    history = loaded.state.get("progress", {}).get("history") if isinstance(
        loaded.state.get("progress"), dict) else None
    row = history[-1] if isinstance(history, list) and history and \
        isinstance(history[-1], dict) else {}
    which = loaded.file.stem
    how = ""
    if which == "best" and row.get("val_accuracy") is not None:
        how = f", chosen by validation accuracy {row['val_accuracy']:.4f}"
    elif which == "best":
        how = ", the last epoch (no validation set)"
    test = f"; its test accuracy {row['test_accuracy']:.4f}" if isinstance(
        row.get("test_accuracy"), (int, float)) else ""
    return (f"{show(loaded.file)}: {model_name(recipe.model)} on {recipe.dataset}, epoch "
            f"{epoch}{how}{test}; class probabilities, most likely first")
