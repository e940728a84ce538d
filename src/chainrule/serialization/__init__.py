"""``cr.save`` / ``cr.load``: state dicts in the safetensors format, written atomically.

A file is a real safetensors file. Every array of the state dict is stored under its
path in the structure, its parts joined by ``/`` (``model/0.weight``,
``optimizer/state/0/exp_avg``); the header's ``__metadata__`` (strings only) holds the
rest as JSON:

    {"format": "chainrule", "version": "2",
     "tree": the structure, each array replaced by {"array": its key, "kind": ...},
     "sha256": a digest of the tree and of every array's key, dtype, shape and bytes}

Tree nodes: JSON null, true/false, ints (any size) and strings stand for themselves;
``{"float": repr}`` (``{"float_bits": 16 hex digits}`` for a NaN, keeping its bits),
``{"dict": [[key, node], ...]}`` (keys: strings or ints, in order), ``{"list": [...]}``,
``{"tuple": [...]}``, and ``{"array": key, "kind": "ndarray" | "scalar" | "tensor"}``
(a tensor also has ``"requires_grad"``; a big-endian array has ``"dtype"``, e.g. ``">f4"``).

Key escaping: in a dict key, ``%`` becomes ``%25`` and ``/`` becomes ``%2F`` (and nothing
else changes), so ``urllib.parse.unquote`` of each ``/``-separated part gives the key
back. Dict keys that are ints and list indices are written in decimal. The tree holds
the exact key of every array, so keys only have to be unique: in the rare case where two
paths would give the same key (a dict with both ``1`` and ``"1"``) or the reserved name
``__metadata__``, a suffix ``%1``, ``%2``, ... makes them distinct.

Loading never executes code: it parses JSON and copies bytes (no pickle anywhere),
verifies the digest so that silent corruption is caught, and rebuilds the structure.
Writing goes to a temporary file in the same folder, fsyncs it and renames it over the
target, so a crash at any point leaves the previous file whole.

The parts, each a module: ``schema`` (what both directions share: the format name and
versions, the error types, the digest), ``encode`` (``save``), ``decode`` (``load``) and
``atomic`` (``write_atomic``, which the training run and the figures use too). This
package re-exports their public names, so ``chainrule.serialization.save`` and the rest
stay where callers find them.
"""

from chainrule.serialization.atomic import link_atomic, write_atomic
from chainrule.serialization.decode import load
from chainrule.serialization.encode import dumps, save
from chainrule.serialization.schema import (
    FORMAT,
    VERSION,
    CheckpointError,
    CheckpointNotFoundError,
)

__all__ = ["CheckpointError", "CheckpointNotFoundError", "dumps", "link_atomic", "load", "save",
           "write_atomic"]
