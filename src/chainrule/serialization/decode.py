"""``load``: a checkpoint file read no further than its header promises, its digest
verified, its tree rebuilt, and no code run.

Its own module because it is the side that meets hostile input (STYLE.md habit 16):
every check on a file that did not come from ``save`` (truncation, trailing bytes, a
foreign or newer format, a crafted tree) lives here, apart from the writer.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np

from chainrule._files import NotRegularFileError, open_regular, read_up_to
from chainrule.serialization.schema import (
    _READABLE,
    _RESERVED,
    FORMAT,
    CheckpointError,
    CheckpointNotFoundError,
    _digest_v1,
    _digest_v2,
    _one_line,
)

_MAX_HEADER = 100_000_000  # safetensors refuses larger headers too


def load(path):
    """Read a state dict written by ``save`` (``path``: ``str`` or ``os.PathLike``).

    Tensors come back as ``chainrule`` tensors (with their ``requires_grad``), ndarrays
    and NumPy scalars as themselves, tuples as tuples; dtypes, shapes and bits exactly.
    Raises ``CheckpointError`` naming the file if it is missing (then also a
    ``FileNotFoundError``), unreadable, not a regular file, truncated, corrupted, or not
    a chainrule file.
    """
    path = Path(path)
    data, metadata = _read(path)
    from safetensors.numpy import load as st_load

    try:
        arrays = st_load(data)
    except Exception as e:  # the parser's own error types vary by version
        raise CheckpointError(f"load: {path}: truncated or corrupt safetensors data "
                              f"({_one_line(e)})") from None
    tree_json = metadata.get("tree")
    if not isinstance(tree_json, str):
        raise CheckpointError(f"load: {path}: no structure in the metadata")
    try:
        expected = (_digest_v1(arrays) if metadata["version"] == "1"
                    else _digest_v2(tree_json, arrays))
    except ValueError:  # version 1 keys that are not numbers
        expected = None
    if metadata.get("sha256") != expected:
        raise CheckpointError(f"load: {path}: checksum mismatch: the file was modified or "
                              "corrupted after it was written")
    try:
        tree = json.loads(tree_json)
        decoder = _Decoder(arrays, legacy=metadata["version"] == "1")
        obj = decoder.decode(tree)
        decoder.check_all_used()
    except RecursionError:
        raise CheckpointError(f"load: {path}: malformed structure (nested too deeply)") \
            from None
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"load: {path}: malformed structure ({_one_line(e)})") \
            from None
    return obj


def _read(path: Path) -> tuple[bytes, dict]:
    """The bytes of a chainrule file and its ``__metadata__``, read no further than its
    header promises (STYLE.md habit 16); a CheckpointError that says why not.

    Only a regular file is opened (a FIFO would block, ``/dev/zero`` never ends). The
    8-byte header length and the arrays' ``data_offsets`` say how long the file is; a
    header or data that the file is too short for is refused before it is read, and one
    byte past the data tells trailing bytes from the end.
    """
    try:
        f = open_regular(path)
    except (FileNotFoundError, NotADirectoryError):  # also a/b where a is a file
        raise CheckpointNotFoundError(f"load: {path}: no such file") from None
    except NotRegularFileError as e:
        if e.kind == "a folder":
            raise CheckpointError(f"load: {path}: is a folder, not a checkpoint file") from None
        raise CheckpointError(f"load: {path}: {e.strerror}. help: give the path of a "
                              "checkpoint file written by cr.save") from None
    except OSError as e:  # permissions, a symlink loop: still one line naming the file
        raise CheckpointError(f"load: {path}: cannot read the file: {e.strerror or e}") \
            from None
    with f:
        size = os.fstat(f.fileno()).st_size
        prefix = read_up_to(f, 8)
        if len(prefix) < 8:
            raise CheckpointError(f"load: {path}: truncated or not a safetensors file "
                                  f"({len(prefix)} bytes)")
        (n,) = struct.unpack("<Q", prefix)
        if n > size - 8 or n > _MAX_HEADER:
            raise CheckpointError(f"load: {path}: truncated or not a safetensors file (header "
                                  f"length {n}, file length {size})")
        header_bytes = read_up_to(f, n)
        if len(header_bytes) < n:  # the file shrank while being read
            raise CheckpointError(f"load: {path}: truncated (header length {n}, found "
                                  f"{len(header_bytes)})")
        try:
            header = json.loads(header_bytes)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise CheckpointError(f"load: {path}: truncated or not a safetensors file "
                                  "(unreadable header)") from None
        metadata = _metadata(path, header)
        length = _data_length(header)
        if length is None:
            raise CheckpointError(f"load: {path}: corrupt safetensors header (an array without "
                                  "valid data_offsets)")
        if length > size - 8 - n:
            raise CheckpointError(f"load: {path}: truncated: the header says {length} bytes of "
                                  f"array data, the file holds {size - 8 - n}")
        body = read_up_to(f, length)
        if len(body) < length:
            raise CheckpointError(f"load: {path}: truncated: the header says {length} bytes of "
                                  f"array data, found {len(body)}")
        if f.read(1):
            raise CheckpointError(f"load: {path}: corrupt: bytes follow the {length} bytes of "
                                  "array data the header describes (trailing data)")
    return prefix + header_bytes + body, metadata


def _data_length(header: dict) -> int | None:
    """How many bytes of array data the header's ``data_offsets`` describe (None: invalid)."""
    end = 0
    for key, info in header.items():
        if key == _RESERVED:
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(type(o) is int and o >= 0 for o in offsets)
                and offsets[0] <= offsets[1]):
            return None
        end = max(end, offsets[1])
    return end


def _metadata(path: Path, header) -> dict:
    """The ``__metadata__`` of a chainrule file's header, or a CheckpointError saying why not."""
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise CheckpointError(f"load: {path}: a safetensors file, but not one written by "
                              "chainrule (no chainrule metadata)")
    if metadata.get("version") not in _READABLE:
        raise CheckpointError(f"load: {path}: format version {metadata.get('version')!r} is "
                              f"not supported (this chainrule reads versions "
                              f"{', '.join(_READABLE)}); a newer chainrule may read it")
    return metadata


class _Decoder:
    """Rebuilds a state dict from its tree, taking each array exactly once."""

    def __init__(self, arrays: dict, legacy: bool):
        self.arrays = arrays
        self.legacy = legacy  # version 1: arrays referred to by number
        self.used: set[str] = set()

    def decode(self, node):
        """The value of one tree node; a ValueError/TypeError/KeyError if it is malformed."""
        if node is None or isinstance(node, (bool, int, str)):
            return node
        if not isinstance(node, dict) or len(node) == 0:
            raise ValueError(f"unexpected {type(node).__name__} in the tree")
        if "array" in node:
            return self._array(node)
        (kind, body), *rest = node.items()
        if rest:
            raise ValueError(f"unknown node with keys {sorted(node)}")
        if kind == "float" and isinstance(body, str):
            return float(body)
        if kind == "float_bits" and isinstance(body, str) and len(body) == 16:
            return struct.unpack(">d", bytes.fromhex(body))[0]
        if kind == "dict" and isinstance(body, list):
            out = {}
            for key, value in body:
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise ValueError(f"dict key {key!r}")
                out[key] = self.decode(value)
            return out
        if kind in ("list", "tuple") and isinstance(body, list):
            items = [self.decode(v) for v in body]
            return items if kind == "list" else tuple(items)
        raise ValueError(f"unknown node {kind!r}")

    def _array(self, node: dict):
        key = str(node["array"]) if self.legacy else node["array"]
        if not isinstance(key, str) or key not in self.arrays:
            raise ValueError(f"array {key!r} is not in the file")
        if key in self.used:
            raise ValueError(f"array {key!r} is referred to twice")
        self.used.add(key)
        array = self.arrays[key]
        if "dtype" in node:  # saved from a big-endian array
            dtype = np.dtype(str(node["dtype"]))
            if dtype != array.dtype.newbyteorder(">"):
                raise ValueError(f"array {key!r}: dtype {node['dtype']!r}")
            array = array.astype(dtype)
        kind = node.get("kind")
        if kind == "ndarray":
            return array
        if kind == "scalar" and array.ndim == 0:
            return array[()]
        if kind == "tensor":
            return _as_tensor(array, requires_grad=bool(node.get("requires_grad", False)))
        raise ValueError(f"array {key!r} of unknown kind {kind!r}")

    def check_all_used(self) -> None:
        """Every array of the file belongs to the structure (none is left over)."""
        extra = sorted(set(self.arrays) - self.used)
        if extra:
            raise ValueError(f"arrays {extra[:3]} are not in the structure")


def _as_tensor(array: np.ndarray, requires_grad: bool):
    """The one place that makes engine tensors: imported lazily (the engine imports us)."""
    import chainrule as cr

    return cr.tensor(array, requires_grad=requires_grad)

