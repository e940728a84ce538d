"""The IDX format of MNIST and Fashion-MNIST, gzip-compressed or raw.

An IDX file is: two zero bytes, a type code (0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int,
0x0D float, 0x0E double), the number of dimensions, each dimension as a big-endian
32-bit integer, then exactly prod(dims) values, big-endian. Anything else is an error
that names the file: a truncated file is never a silently shorter array.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from chainrule.data.errors import DataError

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
    """The array stored in IDX file ``path`` (gzip detected by its magic bytes)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected an IDX file") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path}: corrupt gzip data ({e})") from None
    return parse_idx(raw, path.name)


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    if len(raw) < 4:
        raise DataError(f"{name}: not an IDX file: {len(raw)} bytes, shorter than the header")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{name}: not an IDX file: the magic number must start with two zero "
                        f"bytes, found {raw[:2].hex()}")
    code, ndim = raw[2], raw[3]
    if code not in _TYPES:
        raise DataError(f"{name}: unknown IDX type code 0x{code:02x} (expected one of "
                        f"{', '.join(f'0x{c:02x}' for c in _TYPES)})")
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{name}: truncated IDX header: {ndim} dimensions need {header} bytes, "
                        f"found {len(raw)}")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_TYPES[code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        what = "truncated" if found < expected else "too long"
        raise DataError(f"{name}: {what} IDX file: header says {'x'.join(map(str, dims))} = "
                        f"{expected} bytes of data, found {found}")
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


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
        raise DataError(f"{folder}: no such folder. help: pass --data-dir with the IDX files")
    image_file, label_file = (_find(folder, stem) for stem in FILES[split])
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{image_file}: expected uint8 images (n, rows, cols), found "
                        f"{images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{label_file}: {labels.shape[0] if labels.ndim else 0} labels for "
                        f"{len(images)} images in {image_file.name}")
    if labels.size and labels.max() > 9:
        raise DataError(f"{label_file}: labels must be 0..9, found {labels.max()}")
    x = (images.astype(np.float32) / 255.0)[:, None, :, :]
    return x, labels.astype(np.int64)


def load_fashion_mnist(split: str = "train", data_dir=None):
    return load_mnist_like(data_dir or FASHION_MNIST_DIR, split)


def load_mnist(split: str = "train", data_dir=None):
    if not data_dir:
        raise DataError("mnist: give --data-dir, the folder with MNIST's four IDX files")
    return load_mnist_like(data_dir, split)
