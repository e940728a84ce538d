"""What ``save`` and ``load`` agree on: the format's name and versions, the error types,
the array key reserved by safetensors, and the digest that seals a file.

Its own module because both directions need it and neither should import the other:
``encode`` writes what ``decode`` reads, and a change to the contract shows up here, in
one place. The format itself is described in the package's docstring.
"""

from __future__ import annotations

import hashlib
import json

from chainrule.errors import ChainruleError

FORMAT = "chainrule"
VERSION = "2"
_READABLE = ("1", "2")  # version 1: arrays under "0", "1", ...; digest of the arrays only

_RESERVED = "__metadata__"  # safetensors' own header key; no array may be called that


class CheckpointError(ChainruleError, ValueError):
    """A state dict that cannot be saved, or a file that cannot be loaded as one."""

    # NOTE: named by its public home, where callers import it from: tracebacks and pickles
    # say chainrule.serialization.CheckpointError, as they did before the package split.
    __module__ = "chainrule.serialization"


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """``load`` of a path where there is no file (also a ``FileNotFoundError``)."""

    __module__ = "chainrule.serialization"


def _digest_v2(tree_json: str, arrays: dict) -> str:
    """SHA-256 of the tree and of every array (key, dtype, shape, bytes) in key order.

    Each array contributes a JSON line ``[key, dtype, shape, nbytes]`` and then its
    raw bytes, so the framing is unambiguous.
    """
    h = hashlib.sha256()
    h.update(f"chainrule {VERSION}\n".encode())
    h.update(tree_json.encode())
    h.update(b"\n")
    for key in sorted(arrays):
        a = arrays[key]
        head = json.dumps([key, a.dtype.str, list(a.shape), a.nbytes], ensure_ascii=False)
        h.update(head.encode() + b"\n")
        h.update(a.data)
    return h.hexdigest()


def _digest_v1(arrays: dict) -> str:
    """The digest of version-1 files: arrays ``0``, ``1``, ... (the tree not included)."""
    h = hashlib.sha256()
    for key in sorted(arrays, key=int):
        a = arrays[key]
        h.update(f"{key}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
