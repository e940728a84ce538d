"""A user's own Module class as a training model: ``--model path/to/file.py:Net``.

The file is imported as a module of its own (its folder on ``sys.path`` while it is
imported, so it can import its neighbours) and the class is constructed with no
arguments, or with ``input_shape=`` and ``num_classes=`` keywords for each of those two
names its ``__init__`` takes. A run records the file's absolute path, and evaluate,
predict and resume import it from there again: importing runs the file's code, as
training it did.

Every failure (no such file, a syntax error, no such class, a constructor that needs
other arguments, a forward pass that gives the wrong shape) is a ``UserModelError``
with a one-line message naming the file and the class.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path

import numpy as np

from chainrule.train.errors import UserModelError
from chainrule.train.rundir import show

#: The keyword arguments a class may take, and what they hold.
KEYWORDS = ("input_shape", "num_classes")


def split_spec(spec: str) -> tuple[Path, str]:
    file, name = spec.rsplit(":", 1)
    return Path(file), name


def load_class(spec: str, recorded: bool = False) -> type:
    """The class ``spec`` (``file.py:Class``) names. ``recorded``: the path comes from a
    run's recipe (messages then say the file may have moved)."""
    from chainrule import nn

    file, name = split_spec(spec)
    label = f"{show(file)}:{name}"
    if not file.is_file():
        why = "is not a file" if file.exists() else "no such file"
        if recorded:
            raise UserModelError(
                f"{label}: {why}; this run's model class was imported from there. help: put "
                "the file back at that path (the run records its absolute path)")
        raise UserModelError(f"{label}: {why}. help: --model takes FILE.py:CLASS, the path "
                             "of a Python file and the name of an nn.Module class in it")
    module_name = "chainrule_user_model_" + hashlib.sha256(
        os.fsencode(file.resolve())).hexdigest()[:16]
    loader_spec = importlib.util.spec_from_file_location(module_name, file)
    module = importlib.util.module_from_spec(loader_spec)
    folder = str(file.resolve().parent)
    sys.path.insert(0, folder)
    try:
        loader_spec.loader.exec_module(module)
    except (Exception, SystemExit) as e:  # the user's code: anything can happen
        raise UserModelError(f"{label}: importing {show(file)} failed: {_describe(e)}. "
                             f"help: run `python {show(file)}` to see the whole error") from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    cls = getattr(module, name, None)
    if cls is None:
        found = sorted(k for k, v in vars(module).items()
                       if isinstance(v, type) and issubclass(v, nn.Module)
                       and v.__module__ == module_name)
        hint = f"it defines {', '.join(found)}" if found else "it defines no nn.Module class"
        raise UserModelError(f"{label}: {show(file)} has no {name!r}; {hint}")
    if isinstance(cls, type) and not issubclass(cls, nn.Module):
        raise UserModelError(f"{label}: the class {name} is not an nn.Module. help: "
                             f"class {name}(chainrule.nn.Module)")
    if not isinstance(cls, type):
        raise UserModelError(f"{label}: is a value of type {type(cls).__name__}, not an "
                             "nn.Module class")
    return cls


def construct(spec: str, input_shape: tuple, num_classes: int, recorded: bool = False):
    """An instance of ``spec``'s class: ``Class()``, with ``input_shape=`` and
    ``num_classes=`` for those of the two names ``__init__`` takes."""
    from chainrule import nn

    cls = load_class(spec, recorded)
    file, name = split_spec(spec)
    label = f"{show(file)}:{name}"
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        params = {}
    values = {"input_shape": tuple(input_shape), "num_classes": num_classes}
    kwargs = {k: values[k] for k in KEYWORDS if k in params}
    needed = [p for p, v in params.items() if p not in kwargs and v.default is v.empty
              and v.kind in (v.POSITIONAL_ONLY, v.POSITIONAL_OR_KEYWORD, v.KEYWORD_ONLY)]
    if needed:
        raise UserModelError(
            f"{label}: its __init__ needs {', '.join(needed)}, but chainrule constructs it "
            "with no arguments (or input_shape= and num_classes=, when __init__ names them). "
            f"help: give {', '.join(needed)} a default")
    try:
        model = cls(**kwargs)
    except (Exception, SystemExit) as e:
        given = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise UserModelError(f"{label}: {name}({given}) failed: {_describe(e)}") from None
    if not isinstance(model, nn.Module):  # a __new__ that returns something else
        raise UserModelError(f"{label}: {name}() returned a {type(model).__name__}, not an "
                             "nn.Module")
    if not list(model.parameters()):
        raise UserModelError(f"{label}: has no parameters to train. help: assign its layers "
                             "(nn.Linear, nn.Conv2d...) as attributes in __init__")
    return model


def probe(model, spec: str, x: np.ndarray, num_classes: int, dataset: str) -> None:
    """One forward pass on ``x`` (a couple of samples), in eval mode and without recording:
    the output must be logits of shape (batch, num_classes). Changes no state."""
    import chainrule as cr

    file, name = split_spec(spec)
    label = f"{show(file)}:{name}"
    shape = "x".join(map(str, x.shape))
    was_training = model.training
    model.eval()
    try:
        with cr.no_grad():
            out = model(cr.tensor(x))
    except (Exception, SystemExit) as e:
        raise UserModelError(f"{label}: its forward pass on a batch of {dataset} inputs "
                             f"(shape {shape}) failed: {_describe(e)}") from None
    finally:
        model.train(was_training)
    got = getattr(out, "shape", None)
    if not isinstance(out, cr.Tensor) or tuple(got) != (len(x), num_classes):
        what = f"shape {got}" if isinstance(out, cr.Tensor) else f"a {type(out).__name__}"
        raise UserModelError(
            f"{label}: its forward pass on a batch of {dataset} inputs (shape {shape}) "
            f"returned {what}; training needs a tensor of logits of shape ({len(x)}, "
            f"{num_classes}): one score per class. help: end forward with a layer of "
            f"{num_classes} outputs (no softmax: the loss applies it)")


def _describe(e: BaseException) -> str:
    """An exception in one line: its type, message and, for a syntax error, where."""
    if isinstance(e, SyntaxError):
        return f"SyntaxError: {e.msg} (line {e.lineno})"
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
