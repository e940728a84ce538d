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
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import stat
import struct
from pathlib import Path

import numpy as np

from chainrule._files import NotRegularFileError, file_kind, open_regular, read_up_to
from chainrule.errors import ChainruleError

__all__ = ["CheckpointError", "CheckpointNotFoundError", "load", "save", "write_atomic"]

FORMAT = "chainrule"
VERSION = "2"
_READABLE = ("1", "2")  # version 1: arrays under "0", "1", ...; digest of the arrays only

# The dtypes safetensors can store, in little-endian byte order.
_DTYPES = frozenset(np.dtype(c).newbyteorder("<") for c in
                    ["?", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8",
                     "f2", "f4", "f8", "c8"])
_RESERVED = "__metadata__"  # safetensors' own header key; no array may be called that
_MAX_HEADER = 100_000_000  # safetensors refuses larger headers too


class CheckpointError(ChainruleError, ValueError):
    """A state dict that cannot be saved, or a file that cannot be loaded as one."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """``load`` of a path where there is no file (also a ``FileNotFoundError``)."""


# --- save -----------------------------------------------------------------------------


def save(obj, path) -> None:
    """Write the state dict ``obj`` to ``path`` (``str`` or ``os.PathLike``), atomically.

    ``obj`` is a tree of dicts (keys: ``str``, or ``int`` as in optimizer state), lists
    and tuples whose leaves are tensors (anything with ``.numpy()`` and
    ``.requires_grad``), ndarrays, NumPy scalars, Python ints (any size), floats, bools,
    strings and None. Raises ``CheckpointError`` naming the place of anything else;
    ``OSError`` if the file cannot be written, and then the old file is untouched.
    """
    encoder = _Encoder()
    try:
        tree = encoder.encode(obj, (), "state")
        tree_json = json.dumps(tree, ensure_ascii=False, allow_nan=False)
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError("save: the state dict is nested too deeply to save") from None
    except ValueError as e:  # json: an int with more digits than Python will print
        raise CheckpointError(f"save: the state dict cannot be written as JSON "
                              f"({_one_line(e)})") from None
    metadata = {"format": FORMAT, "version": VERSION, "tree": tree_json,
                "sha256": _digest_v2(tree_json, encoder.arrays)}
    from safetensors.numpy import save as st_save

    write_atomic(path, st_save(encoder.arrays, metadata=metadata))


class _Encoder:
    """Turns a state dict into a JSON-able tree, collecting its arrays by key."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self._open: set[int] = set()  # ids of the containers being encoded (cycle check)

    def encode(self, obj, parts: tuple, where: str):
        """The tree node for ``obj``, found at key parts ``parts`` (``where`` in messages)."""
        if hasattr(obj, "numpy") and hasattr(obj, "requires_grad"):  # a tensor
            array = obj.numpy()
            if not isinstance(array, np.ndarray):
                raise CheckpointError(f"save: {where}: {type(obj).__name__}.numpy() gave a "
                                      f"{type(array).__name__}, not an ndarray")
            node = {"kind": "tensor", "requires_grad": bool(obj.requires_grad)}
            return self._array(array, node, parts, where)
        if isinstance(obj, np.ndarray):
            return self._array(obj, {"kind": "ndarray"}, parts, where)
        if isinstance(obj, np.generic) and not isinstance(obj, (str, bytes)):
            return self._array(np.asarray(obj), {"kind": "scalar"}, parts, where)
        if isinstance(obj, str):
            _check_utf8(obj, where, "the string")
            return obj
        if obj is None or isinstance(obj, (bool, int)):
            return obj
        if isinstance(obj, float):
            if obj != obj:  # NaN: its sign and payload bits, which repr would drop
                return {"float_bits": struct.pack(">d", obj).hex()}
            return {"float": repr(obj)}  # repr round-trips exactly, inf and -0.0 included
        if isinstance(obj, (dict, list, tuple)):
            if id(obj) in self._open:
                raise CheckpointError(f"save: {where}: the {type(obj).__name__} contains "
                                      "itself; a state dict must be a tree")
            self._open.add(id(obj))
            try:
                return self._container(obj, parts, where)
            finally:
                self._open.discard(id(obj))
        if callable(getattr(obj, "state_dict", None)):  # a Module or an optimizer, whole
            raise CheckpointError(
                f"save: {where}: cannot save a {type(obj).__name__} itself (that would store "
                "code, which loading must never run). help: save its state: "
                "cr.save(model.state_dict(), path), then model.load_state_dict(cr.load(path))"
            )
        raise CheckpointError(
            f"save: {where}: cannot save a {type(obj).__module__}.{type(obj).__qualname__}. "
            "help: a state dict holds tensors, arrays, numbers, strings, None and "
            "lists/tuples/dicts of them; convert it (e.g. to a str, a number or an array) "
            "or leave it out")

    def _container(self, obj, parts: tuple, where: str):
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise CheckpointError(
                        f"save: {where}: dict key {key!r} is a {type(key).__name__}; keys "
                        "must be strings (or ints, as in optimizer state). help: convert "
                        "the keys with str()")
                if isinstance(key, str):
                    _check_utf8(key, where, "dict key")
                part = _escape(key) if isinstance(key, str) else str(int(key))
                items.append([key if isinstance(key, str) else int(key),
                              self.encode(value, (*parts, part), f"{where}[{key!r}]")])
            return {"dict": items}
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [self.encode(v, (*parts, str(i)), f"{where}[{i}]")
                       for i, v in enumerate(obj)]}

    def _array(self, array: np.ndarray, node: dict, parts: tuple, where: str) -> dict:
        little = array.dtype.newbyteorder("<") if array.dtype.byteorder != "|" else array.dtype
        if little not in _DTYPES:
            raise CheckpointError(
                f"save: {where}: arrays of dtype {array.dtype} cannot be saved (safetensors "
                "stores bool, int8-64, uint8-64, float16/32/64 and complex64). help: convert "
                "it first, e.g. .astype(np.float64)")
        if array.dtype != little:  # big-endian: stored little-endian, given back as it was
            node["dtype"] = array.dtype.str
            array = array.astype(little)
        # a contiguous copy when needed (np.ascontiguousarray would make 0-d arrays 1-d)
        if not array.flags.c_contiguous:
            array = array.copy(order="C")
        key = self._unique("/".join(parts))
        self.arrays[key] = array
        return {"array": key, **node}

    def _unique(self, key: str) -> str:
        if key not in self.arrays and key != _RESERVED:
            return key
        n = 1
        while f"{key}%{n}" in self.arrays:
            n += 1
        return f"{key}%{n}"


def _check_utf8(text: str, where: str, what: str) -> None:
    """A CheckpointError unless ``text`` can be written as UTF-8 (the file's encoding).

    Python strings can hold lone surrogates ('\\udcff'): that is what a file name that is
    not UTF-8 becomes (``os.fsdecode``), and no UTF-8 encoder takes them.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise CheckpointError(
            f"save: {where}: {what} {shown!r} cannot be written as UTF-8: {text[e.start]!r} "
            f"at position {e.start} is a lone surrogate (what a file name that is not UTF-8 "
            "becomes in Python). help: store valid text, e.g. "
            "s.encode('utf-8', 'backslashreplace').decode()") from None


def _escape(key: str) -> str:
    """A dict key as one part of an array's key: ``%`` -> ``%25``, ``/`` -> ``%2F``."""
    return key.replace("%", "%25").replace("/", "%2F")


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


def write_atomic(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one.

    A temporary file ``.NAME.RANDOM.tmp`` is created in the same folder, written, flushed
    and fsynced, renamed over ``path`` with ``os.replace``, and the folder fsynced so the
    rename is durable. On any exception the temporary file is removed and ``path`` is
    untouched; only a hard kill between creating and renaming it can leave a stale
    ``.tmp`` file behind.

    Replacing a file keeps what the user made of it: the new file gets the old one's
    permissions (a 0600 file stays 0600; and its owner, where the process may set it),
    and a symlink is written through: its target is replaced, atomically, and the link
    stays a link. A new file gets 0666 less the umask, as ``open`` gives. A ``path`` that
    is a folder, FIFO, device or socket is refused (``NotRegularFileError``, an
    ``OSError``) before anything is written.
    """
    path = _link_target(Path(path))
    folder = path.parent
    try:
        old = os.stat(path)
    except FileNotFoundError:
        old = None
    if old is not None and not stat.S_ISREG(old.st_mode):
        raise NotRegularFileError(path, file_kind(old.st_mode))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    # Replacing a file: start private (0600) and take its mode once written, so that the
    # data of a 0600 file is never readable by others, not even for a moment.
    mode = 0o666 if old is None else 0o600
    while True:
        tmp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, flags, mode)
            break
        except FileExistsError:  # pragma: no cover - a 48-bit name collision
            continue
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                if written <= 0:
                    raise OSError(f"write to {tmp} made no progress")
                view = view[written:]
            if old is not None:
                _copy_owner_and_mode(fd, old)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (not possible on every platform or filesystem)
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _link_target(path: Path) -> Path:
    """The file a symlink at ``path`` points to (through every link), else ``path``."""
    if not os.path.islink(path):
        return path
    target = Path(os.path.realpath(path))
    if os.path.islink(target):  # realpath stops at a loop and gives back a link
        raise OSError(errno.ELOOP, "too many levels of symbolic links", str(path))
    return target


def _copy_owner_and_mode(fd: int, old: os.stat_result) -> None:
    """Give the new file (``fd``) the replaced file's owner, group and permissions."""
    new = os.fstat(fd)
    if hasattr(os, "fchown") and (old.st_uid, old.st_gid) != (new.st_uid, new.st_gid):
        try:
            os.fchown(fd, old.st_uid, old.st_gid)
        except OSError:  # only root may give a file away; the file is then ours
            pass
    try:
        os.fchmod(fd, stat.S_IMODE(old.st_mode))  # after fchown, which may clear set-id bits
    except (OSError, AttributeError):  # NOTE: filesystems without modes (FAT) refuse it
        pass


# --- load -----------------------------------------------------------------------------


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


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
