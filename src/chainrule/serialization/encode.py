"""``save``: a state dict turned into a tree and its arrays, sealed, written atomically.

Its own module because it is one direction of the format: it checks what may be saved
(and says where anything else sits in the state dict), escapes keys and gives every
array a unique one. It never needs the reader, as ``decode`` never needs it.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from chainrule import _backend as B
from chainrule.serialization.atomic import write_atomic
from chainrule.serialization.schema import (
    _RESERVED,
    FORMAT,
    VERSION,
    CheckpointError,
    _digest_v2,
    _one_line,
)

# The dtypes safetensors can store, in little-endian byte order.
_DTYPES = frozenset(np.dtype(c).newbyteorder("<") for c in
                    ["?", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8",
                     "f2", "f4", "f8", "c8"])


def save(obj, path) -> None:
    """Write the state dict ``obj`` to ``path`` (``str`` or ``os.PathLike``), atomically.

    ``obj`` is a tree of dicts (keys: ``str``, or ``int`` as in optimizer state), lists
    and tuples whose leaves are tensors (anything with ``.numpy()`` and
    ``.requires_grad``), ndarrays, other array libraries' arrays (PyTorch, CuPy,
    array-api-strict: stored as NumPy, given back as ndarrays), NumPy scalars, Python ints
    (any size), floats, bools, strings and None. Raises ``CheckpointError`` naming the
    place of anything else; ``OSError`` if the file cannot be written, and then the old
    file is untouched.
    """
    write_atomic(path, dumps(obj))


def dumps(obj) -> bytes:
    """The bytes ``save`` writes for ``obj``: encoded now, so they hold its values as they
    are now (a snapshot that another thread may write out later)."""
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

    return st_save(encoder.arrays, metadata=metadata)


class _Encoder:
    """Turns a state dict into a JSON-able tree, collecting its arrays by key."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self._open: set[int] = set()  # ids of the containers being encoded (cycle check)

    def encode(self, obj, parts: tuple, where):
        """The tree node for ``obj``, found at key parts ``parts`` (``where`` in messages)."""
        node = _plain(obj)
        if node is not _OTHER:
            return node
        if hasattr(obj, "numpy") and hasattr(obj, "requires_grad"):  # a tensor
            if B.is_foreign(obj):  # a torch.Tensor itself: another library's array
                return self._foreign(obj, parts, where)
            array = obj.numpy()
            if not isinstance(array, np.ndarray):
                raise CheckpointError(f"save: {_at(where)}: {type(obj).__name__}.numpy() gave a "
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
                raise CheckpointError(f"save: {_at(where)}: the {type(obj).__name__} contains "
                                      "itself; a state dict must be a tree")
            self._open.add(id(obj))
            try:
                return self._container(obj, parts, where)
            finally:
                self._open.discard(id(obj))
        if B.is_foreign(obj):  # a CuPy or array-api-strict array (optimizer state)
            return self._foreign(obj, parts, where)
        if callable(getattr(obj, "state_dict", None)):  # a Module or an optimizer, whole
            raise CheckpointError(
                f"save: {_at(where)}: cannot save a {type(obj).__name__} itself (that would store "
                "code, which loading must never run). help: save its state: "
                "cr.save(model.state_dict(), path), then model.load_state_dict(cr.load(path))"
            )
        raise CheckpointError(
            f"save: {_at(where)}: cannot save a {type(obj).__module__}.{type(obj).__qualname__}. "
            "help: a state dict holds tensors, arrays, numbers, strings, None and "
            "lists/tuples/dicts of them; convert it (e.g. to a str, a number or an array) "
            "or leave it out")

    def _container(self, obj, parts: tuple, where):
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                if not (type(key) is str and key.isascii()):
                    key = _dict_key(key, where)
                # A plain leaf's node needs no place: the key parts are only for arrays.
                node = _plain(value)
                if node is _OTHER:
                    part = _escape(key) if isinstance(key, str) else str(key)
                    node = self.encode(value, (*parts, part), (where, key))
                items.append([key, node])
            return {"dict": items}
        nodes = []
        for i, value in enumerate(obj):
            node = _plain(value)
            nodes.append(node if node is not _OTHER else
                         self.encode(value, (*parts, str(i)), (where, i)))
        return {"list" if isinstance(obj, list) else "tuple": nodes}

    def _foreign(self, array, parts: tuple, where) -> dict:
        """Another library's array: NumPy on disk (a host copy), an ndarray on load."""
        return self._array(B.to_numpy(array), {"kind": "ndarray"}, parts, where)

    def _array(self, array: np.ndarray, node: dict, parts: tuple, where) -> dict:
        little = array.dtype.newbyteorder("<") if array.dtype.byteorder != "|" else array.dtype
        if little not in _DTYPES:
            raise CheckpointError(
                f"save: {_at(where)}: arrays of dtype {array.dtype} cannot be saved (safetensors "
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


#: What ``_plain`` returns for anything else.
_OTHER = object()


def _plain(value):
    """The tree node of a float, int, bool, None or ASCII string, else ``_OTHER``.

    Tried first, and inline in containers: these leaves are most of a training
    checkpoint (its history of floats grows by a row every epoch, and is saved every
    epoch), and they need neither a place nor any check.
    """
    kind = type(value)
    if kind is float:
        if value != value:  # NaN: its sign and payload bits, which repr would drop
            return {"float_bits": struct.pack(">d", value).hex()}
        return {"float": repr(value)}  # repr round-trips exactly, inf and -0.0 included
    if kind is int or kind is bool or value is None or (kind is str and value.isascii()):
        return value
    return _OTHER


def _dict_key(key, where):
    """A dict key as the tree holds it (a str, or an int), checked; any other key is a
    CheckpointError."""
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise CheckpointError(
            f"save: {_at(where)}: dict key {key!r} is a {type(key).__name__}; keys "
            "must be strings (or ints, as in optimizer state). help: convert "
            "the keys with str()")
    if isinstance(key, str):
        _check_utf8(key, where, "dict key")
        return key
    return int(key)


def _at(where) -> str:
    """The place in a message: ``where`` is "state" or (the parent's place, a key or an
    index), kept as a tuple while encoding so that no string is built unless needed."""
    if type(where) is str:
        return where
    parent, key = where
    return f"{_at(parent)}[{key!r}]"


def _check_utf8(text: str, where, what: str) -> None:
    """A CheckpointError unless ``text`` can be written as UTF-8 (the file's encoding).

    Python strings can hold lone surrogates ('\\udcff'): that is what a file name that is
    not UTF-8 becomes (``os.fsdecode``), and no UTF-8 encoder takes them.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise CheckpointError(
            f"save: {_at(where)}: {what} {shown!r} cannot be written as UTF-8: {text[e.start]!r} "
            f"at position {e.start} is a lone surrogate (what a file name that is not UTF-8 "
            "becomes in Python). help: store valid text, e.g. "
            "s.encode('utf-8', 'backslashreplace').decode()") from None


def _escape(key: str) -> str:
    """A dict key as one part of an array's key: ``%`` -> ``%25``, ``/`` -> ``%2F``."""
    return key.replace("%", "%25").replace("/", "%2F")

