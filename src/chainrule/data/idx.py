"""The IDX format of MNIST and Fashion-MNIST, gzip-compressed or raw.

An IDX file is: two zero bytes, a type code (0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int,
0x0D float, 0x0E double), the number of dimensions, each dimension as a big-endian
32-bit integer, then exactly prod(dims) values, big-endian. Anything else is an error
that names the file: a truncated file is never a silently shorter array.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from chainrule._files import NotRegularFileError, file_kind, open_regular, read_up_to
from chainrule.data.errors import DataError
from chainrule.data.labels import class_indices

_GZIP_MAGIC = b"\x1f\x8b"
#: Deflate's best case is one 258-byte match per 2 bits, about 1032-fold; a gzip file of
#: n bytes can never inflate to more than this many times n.
_MAX_GZIP_RATIO = 1032

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

#: Where `apt-get install dataset-fashion-mnist` puts Fashion-MNIST.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path) -> np.ndarray:
    """The array stored in IDX file ``path`` (gzip detected by its magic bytes).

    Reads no more than the header promises (STYLE.md habit 16): the 4-byte magic, the
    dimensions, prod(dims) values and then at most one byte more, to tell a file with
    trailing data from an exact one. A gzip bomb (a small file that inflates to
    gigabytes) is therefore never inflated past what its header claims. Only regular
    files are read: a FIFO, a device such as ``/dev/zero`` or a folder is refused before
    a byte is read.
    """
    path = Path(path)
    try:
        f = open_regular(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except NotRegularFileError as e:
        raise DataError(f"{path}: {e.strerror}. help: give the IDX file itself "
                        "(e.g. train-images-idx3-ubyte.gz)") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read the IDX file: {e.strerror or e}") from None
    with f:
        size = os.fstat(f.fileno()).st_size
        if f.read(2) != _GZIP_MAGIC:
            f.seek(0)
            return _read(f, str(path), size)
        f.seek(0)
        try:
            with gzip.GzipFile(fileobj=f, mode="rb") as g:
                return _read(g, str(path), _MAX_GZIP_RATIO * size + 1024, size)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path}: corrupt gzip data ({e})") from None


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """The array stored in the IDX bytes ``raw`` (not compressed); ``name`` for messages."""
    return _read(io.BytesIO(raw), name, len(raw))


def _read(stream, name: str, limit: int, gzip_size: int | None = None) -> np.ndarray:
    """Read one IDX array from ``stream``, which holds at most ``limit`` bytes.

    ``gzip_size`` is the compressed size when ``stream`` inflates a gzip file (then
    ``limit`` is the most it can inflate to).
    """
    head = read_up_to(stream, 4)
    if len(head) < 4:
        raise DataError(f"{name}: not an IDX file: {len(head)} bytes, shorter than the header")
    if head[0] != 0 or head[1] != 0:
        raise DataError(f"{name}: not an IDX file: the magic number must start with two zero "
                        f"bytes, found {head[:2].hex()}")
    code, ndim = head[2], head[3]
    if code not in _TYPES:
        raise DataError(f"{name}: unknown IDX type code 0x{code:02x} (expected one of "
                        f"{', '.join(f'0x{c:02x}' for c in _TYPES)})")
    header = 4 + 4 * ndim
    raw_dims = read_up_to(stream, 4 * ndim)
    if ndim == 0 or len(raw_dims) < 4 * ndim:
        raise DataError(f"{name}: truncated IDX header: {ndim} dimensions need {header} bytes, "
                        f"found {4 + len(raw_dims)}")
    dims = struct.unpack(f">{ndim}I", raw_dims)
    dtype = np.dtype(_TYPES[code])
    # Python ints: a product of dims that overflows int64 must not wrap into a small size.
    expected = math.prod(dims) * dtype.itemsize
    says = f"header says {_shape_text(dims)} = {expected} bytes of data"
    if expected > limit - header:
        if gzip_size is None:
            raise DataError(f"{name}: truncated IDX file: {says}, found {limit - header}")
        raise DataError(f"{name}: truncated IDX file: {says}, more than a {gzip_size}-byte "
                        f"gzip file can hold (deflate inflates at most {_MAX_GZIP_RATIO}-fold)")
    if gzip_size is None and expected < limit - header:
        raise DataError(f"{name}: too long IDX file: {says}, found {limit - header}")
    try:
        # np.empty only reserves: pages are touched as the data arrives, not before.
        data = np.empty(expected, np.uint8)
        array = data.view(dtype).reshape(dims)
    except (ValueError, MemoryError):
        raise DataError(f"{name}: the IDX header's shape {_shape_text(dims)} is too large "
                        "for an array") from None
    found = _read_into(stream, memoryview(data))
    if found < expected:
        raise DataError(f"{name}: truncated IDX file: {says}, found {found}")
    if stream.read(1):  # one byte more is enough to know; the rest is never inflated
        raise DataError(f"{name}: too long IDX file: {says}, found more (trailing data)")
    return array.astype(dtype.newbyteorder("="))


def _read_into(stream, view: memoryview) -> int:
    """Fill ``view`` from ``stream`` as far as it goes; the number of bytes read."""
    filled = 0
    while filled < len(view):
        n = stream.readinto(view[filled:filled + (1 << 24)])
        if not n:
            break
        filled += n
    return filled


def _shape_text(dims) -> str:
    """60000x28x28; a long shape is shortened so that the message stays one short line."""
    if len(dims) <= 8:
        return "x".join(map(str, dims))
    return "x".join(map(str, dims[:4])) + f"x...x{dims[-1]} ({len(dims)} dimensions)"


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.exists():
            return candidate
    raise DataError(
        f"{folder / stem}[.gz]: no such file. help: install Fashion-MNIST with "
        "`apt-get install dataset-fashion-mnist`, or pass --data-dir with the four IDX files")


def load_mnist_like(data_dir, split: str = "train"):
    """(images float32 (n, 1, 28, 28) in [0, 1], labels int64) from an MNIST-format folder."""
    if split not in FILES:
        raise DataError(f"unknown split {split!r}: expected 'train' or 'test'")
    folder = Path(data_dir)
    if not folder.is_dir():
        what = f"is {file_kind(folder.stat().st_mode)}, not a folder" if folder.exists() \
            else "no such folder"
        raise DataError(f"{folder}: {what}. help: pass --data-dir with the IDX files")
    image_file, label_file = (_find(folder, stem) for stem in FILES[split])
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{image_file}: expected uint8 images (n, rows, cols), found "
                        f"{images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{label_file}: {labels.shape[0] if labels.ndim else 0} labels for "
                        f"{len(images)} images in {image_file.name}")
    y = class_indices(labels, 10, str(label_file))
    x = (images.astype(np.float32) / 255.0)[:, None, :, :]
    return x, y


def load_fashion_mnist(split: str = "train", data_dir=None):
    return load_mnist_like(data_dir or FASHION_MNIST_DIR, split)


def load_mnist(split: str = "train", data_dir=None):
    if not data_dir:
        raise DataError("mnist: give --data-dir, the folder with MNIST's four IDX files")
    return load_mnist_like(data_dir, split)
