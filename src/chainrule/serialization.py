"""``cr.save`` / ``cr.load``: state dicts in the safetensors format, written atomically.

A file is a real safetensors file: the arrays under the keys ``0``, ``1``, ... and, in the
header's ``__metadata__`` (strings only), the rest of the state dict as JSON:

    {"format": "chainrule", "version": "1",
     "tree": the structure, with each array replaced by {"array": i, "kind": "tensor"|...},
     "sha256": a digest of every array's dtype, shape and bytes, in key order}

Loading never executes code: it parses JSON and copies bytes (no pickle anywhere), checks
the digest so that silent corruption is caught, and rebuilds the structure. Writing goes
to a temporary file in the same folder, fsyncs it and renames it over the target, so a
crash at any point leaves the previous file whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

from chainrule.errors import ChainruleError

FORMAT = "chainrule"
VERSION = "1"


class CheckpointError(ChainruleError, ValueError):
    """A file that cannot be saved or loaded as a chainrule state dict."""


# --- save -----------------------------------------------------------------------------------


def save(obj, path) -> None:
    """Write the state dict ``obj`` to ``path`` (atomically; see the module docstring).

    Leaves may be tensors, ndarrays, Python numbers, strings, None, and lists, tuples and
    dicts (with string or int keys) of those.
    """
    arrays: list[np.ndarray] = []
    tree = _encode(obj, arrays, "state")
    # (np.ascontiguousarray would turn a 0-d array into shape (1,))
    tensors = {str(i): a if a.flags.c_contiguous else a.copy(order="C")
               for i, a in enumerate(arrays)}
    metadata = {"format": FORMAT, "version": VERSION, "tree": json.dumps(tree),
                "sha256": _digest(tensors)}
    from safetensors.numpy import save as st_save

    write_atomic(Path(path), st_save(tensors, metadata=metadata))


def _encode(obj, arrays: list, where: str):
    if hasattr(obj, "numpy") and hasattr(obj, "requires_grad"):  # a chainrule Tensor
        arrays.append(obj.numpy())
        return {"array": len(arrays) - 1, "kind": "tensor", "requires_grad": obj.requires_grad}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise CheckpointError(f"save: {where}: arrays of dtype {obj.dtype} cannot be saved "
                                  "(numbers and booleans only)")
        arrays.append(obj)
        return {"array": len(arrays) - 1, "kind": "ndarray"}
    if isinstance(obj, np.generic):
        return _encode(obj.item(), arrays, where)
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return {"float": repr(obj)}  # repr round-trips exactly, nan and inf included
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise CheckpointError(
                    f"save: {where}: dict keys must be strings or ints, got "
                    f"{type(key).__name__} {key!r}. help: convert the keys with str()")
            items.append([key, _encode(value, arrays, f"{where}[{key!r}]")])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    raise CheckpointError(
        f"save: {where}: cannot save a {type(obj).__name__}. help: a state dict holds "
        "tensors, arrays, numbers, strings, None, and lists/tuples/dicts of them")


def _digest(tensors: dict) -> str:
    h = hashlib.sha256()
    for key in sorted(tensors, key=int):
        a = tensors[key]
        h.update(f"{key}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one.

    A temporary file in the same folder is written, flushed and fsynced, given the usual
    permissions (0666 less the umask), renamed over ``path``, and the folder fsynced.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with _quiet():
            os.unlink(tmp)
        raise
    with _quiet():  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _quiet:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is not None and issubclass(kind, OSError)


# --- load -----------------------------------------------------------------------------------


def load(path):
    """Read a state dict written by ``save``. Tensors come back as tensors, arrays as arrays."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"load: {path}: no such file") from None
    except IsADirectoryError:
        raise CheckpointError(f"load: {path}: is a folder, not a checkpoint file") from None
    metadata = _header(path, data)
    from safetensors.numpy import load as st_load

    try:
        tensors = st_load(data)
    except Exception as e:  # the parser's own error types vary by version
        raise CheckpointError(f"load: {path}: corrupt safetensors data ({e})") from None
    if metadata.get("sha256") != _digest(tensors):
        raise CheckpointError(f"load: {path}: checksum mismatch: the file was modified or "
                              "corrupted after it was written")
    try:
        tree = json.loads(metadata["tree"])
        return _decode(tree, tensors)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"load: {path}: malformed structure ({e})") from None


def _header(path: Path, data: bytes) -> dict:
    if len(data) < 8:
        raise CheckpointError(f"load: {path}: truncated or not a safetensors file "
                              f"({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8 or n > 100_000_000:
        raise CheckpointError(f"load: {path}: truncated or not a safetensors file (header "
                              f"length {n}, file length {len(data)})")
    try:
        header = json.loads(data[8:8 + n])
    except (UnicodeDecodeError, ValueError):
        raise CheckpointError(f"load: {path}: not a safetensors file (unreadable header)") \
            from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise CheckpointError(f"load: {path}: a safetensors file, but not one written by "
                              "chainrule (no chainrule metadata)")
    if metadata.get("version") != VERSION:
        raise CheckpointError(f"load: {path}: format version {metadata.get('version')} is not "
                              f"supported (this chainrule reads version {VERSION})")
    return metadata


def _decode(node, tensors: dict):
    if node is None or isinstance(node, (bool, int, str)):
        return node
    if "array" in node:
        arr = tensors[str(node["array"])]
        if node["kind"] == "tensor":
            from chainrule.tensor import Tensor

            return Tensor(arr, requires_grad=bool(node.get("requires_grad", False)))
        return arr
    if "float" in node:
        return float(node["float"])
    if "dict" in node:
        return {key: _decode(value, tensors) for key, value in node["dict"]}
    if "list" in node:
        return [_decode(v, tensors) for v in node["list"]]
    if "tuple" in node:
        return tuple(_decode(v, tensors) for v in node["tuple"])
    raise ValueError(f"unknown node {sorted(node)}")
