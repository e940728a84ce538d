"""Hostile data files: bounded work and one clear error (STYLE.md habit 16).

Gzip bombs, devices, FIFOs, headers whose sizes overflow int64, and labels that are not
class indices: each must end in a DataError naming the file, after reading no more than
the header promises.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np
import pytest

from chainrule.cli import main
from chainrule.data import DataError, load_dataset, load_mnist_like, read_idx, registry
from chainrule.data.idx import parse_idx
from chainrule.data.labels import class_indices

from .test_data import idx_bytes

U32 = 2**32 - 1


def _header(code: int, dims) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def _unfinished_gzip(data: bytes, zeros: int) -> bytes:
    """A gzip stream of ``data`` and then ``zeros`` zero bytes, cut before its end.

    Inflating it all ends in an EOFError ("corrupt gzip"); a reader that stops where the
    header says reports trailing data instead, which proves it never went further.
    """
    co = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    body = co.compress(data) + co.compress(b"\0" * zeros)
    return body + co.flush(zlib.Z_SYNC_FLUSH)  # no final block, no trailer


# --- gzip bombs and trailing data -------------------------------------------------------


def test_a_gzip_bomb_is_not_inflated_past_the_header(tmp_path):
    path = tmp_path / "bomb.gz"
    path.write_bytes(_unfinished_gzip(_header(0x08, [10]) + bytes(10), zeros=64 << 20))
    assert path.stat().st_size < 100_000  # 64 MiB of zeros behind a 10-item header
    with pytest.raises(DataError) as info:
        read_idx(path)
    message = str(info.value)
    assert message.startswith(f"{path}: too long IDX file: header says 10 = 10 bytes")
    assert "trailing data" in message and "corrupt" not in message


def test_the_same_stream_inflated_to_its_end_is_corrupt(tmp_path):
    """The control for the test above: the cut stream really is unfinished."""
    with pytest.raises(EOFError):
        gzip.decompress(_unfinished_gzip(_header(0x08, [10]) + bytes(10), zeros=1 << 20))


def test_one_trailing_byte_after_gzip_data_is_refused(tmp_path):
    path = tmp_path / "long.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(6, dtype=np.uint8)) + b"\0"))
    with pytest.raises(DataError, match=r"too long IDX file: header says 6 = 6 bytes of data"):
        read_idx(path)


def test_a_gzip_header_claiming_more_than_deflate_can_hold_is_refused_before_reading(tmp_path):
    path = tmp_path / "claims.gz"
    path.write_bytes(gzip.compress(_header(0x08, [1 << 30])))  # 1 GiB claimed, ~30 bytes
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert "header says 1073741824 = 1073741824 bytes of data" in str(info.value)
    assert "1032-fold" in str(info.value)


def test_a_truncated_gzip_payload_says_how_much_was_found(tmp_path):
    path = tmp_path / "short.gz"
    path.write_bytes(gzip.compress(_header(0x08, [2, 5]) + bytes(7)))
    with pytest.raises(DataError, match=r"truncated IDX file: header says 2x5 = 10 bytes of "
                       r"data, found 7"):
        read_idx(path)


# --- sizes that overflow int64 ------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_dims_whose_product_overflows_int64_are_a_data_error_with_the_true_size(tmp_path,
                                                                                compress):
    raw = _header(0x0E, [U32, U32, U32])
    path = tmp_path / "huge.idx"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    with pytest.raises(DataError) as info:
        read_idx(path)
    true_size = U32**3 * 8  # Python int: never wrapped
    assert f"header says {U32}x{U32}x{U32} = {true_size} bytes of data" in str(info.value)
    assert str(path) in str(info.value)


def test_a_zero_dim_beside_overflowing_dims_is_refused_not_a_raw_value_error(tmp_path):
    path = tmp_path / "zero.idx"
    path.write_bytes(_header(0x08, [0, U32, U32, U32]))
    with pytest.raises(DataError, match="too large for an array"):
        read_idx(path)


def test_parse_idx_of_overflowing_dims_is_a_data_error():
    with pytest.raises(DataError, match=f"= {U32**2 * 4} bytes"):
        parse_idx(_header(0x0C, [U32, U32]), "b")


# --- files that are not regular files -------------------------------------------------------


def test_dev_zero_is_refused_before_reading(tmp_path):
    with pytest.raises(DataError, match="/dev/zero: is a character device, not a regular file"):
        read_idx("/dev/zero")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "train-images-idx3-ubyte"
    os.mkfifo(fifo)
    # A blocking open would wait here forever for a writer that never comes.
    with pytest.raises(DataError, match=r"is a FIFO \(named pipe\), not a regular file"):
        read_idx(fifo)


def test_a_symlink_to_dev_zero_is_refused(tmp_path):
    link = tmp_path / "t10k-labels-idx1-ubyte"
    link.symlink_to("/dev/zero")
    with pytest.raises(DataError, match="character device"):
        read_idx(link)


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(DataError, match="is a folder, not a regular file"):
        read_idx(tmp_path)


def test_a_data_dir_that_is_a_device_is_named(tmp_path):
    with pytest.raises(DataError, match="/dev/zero: is a character device, not a folder"):
        load_mnist_like("/dev/zero")


# --- labels -----------------------------------------------------------------------------------

BAD_LABELS = {
    "minus one": (np.array([1, -1, 2], np.int8), "found -1 at position 1"),
    "INT_MIN": (np.array([0, 1, -2**31], np.int32), "found -2147483648 at position 2"),
    "NaN": (np.array([0, np.nan, 1], np.float32), "found nan at position 1"),
    "fractions": (np.array([0.5, 1.9, 3.7]), "found 0.5 at position 0 (and 2 more)"),
    "ten": (np.array([9, 10], np.uint8), "found 10 at position 1"),
    "infinity": (np.array([np.inf, 1.0]), "found inf at position 0"),
}


@pytest.mark.parametrize("case", list(BAD_LABELS))
def test_labels_that_are_not_class_indices_are_refused(tmp_path, case):
    labels, phrase = BAD_LABELS[case]
    _mnist_folder(tmp_path, labels)
    with pytest.raises(DataError) as info:
        load_mnist_like(tmp_path)
    message = str(info.value)
    assert message.startswith(str(tmp_path / "train-labels-idx1-ubyte"))
    assert "labels must be 0..9 (whole numbers: class indices)" in message
    assert phrase in message and "\n" not in message


def test_whole_float_labels_are_class_indices(tmp_path):
    _mnist_folder(tmp_path, np.array([3.0, 0.0, 9.0], np.float64))
    x, y = load_mnist_like(tmp_path)
    assert y.dtype == np.int64 and y.tolist() == [3, 0, 9]


def test_class_indices_compares_without_wrapping():
    assert class_indices(np.array([120], np.int8), 1000, "w").tolist() == [120]
    with pytest.raises(DataError, match="found 18446744073709551615"):
        class_indices(np.array([2**64 - 1], np.uint64), 10, "w")
    with pytest.raises(DataError, match="w: labels must be 0..9.*array of <U1"):
        class_indices(np.array(["a"]), 10, "w")


def test_every_dataset_source_has_its_labels_checked(monkeypatch):
    def bad_xor(n, seed):
        return np.zeros((n, 2), np.float32), np.array([0, 1] * (n // 2 - 1) + [0, -1])

    monkeypatch.setitem(registry._SYNTHETIC, "xor", bad_xor)
    with pytest.raises(DataError, match=r"xor \(train\): labels must be 0..1.*found -1"):
        load_dataset("xor", samples=8)


# --- the command line -----------------------------------------------------------------------


def _mnist_folder(folder, train_labels):
    n = len(train_labels)
    codes = {np.int8: 0x09, np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D,
             np.float64: 0x0E}
    images = np.zeros((n, 28, 28), np.uint8)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    head = _header(codes[train_labels.dtype.type], [n])
    body = train_labels.astype(train_labels.dtype.newbyteorder(">")).tobytes()
    (folder / "train-labels-idx1-ubyte").write_bytes(head + body)
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(images[:2]))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([1, 2], np.uint8)))


HOSTILE_DIRS = {
    "bomb": lambda d: (d / "train-images-idx3-ubyte.gz").write_bytes(
        _unfinished_gzip(_header(0x08, [5, 28, 28]) + bytes(5 * 784), zeros=16 << 20)),
    "fifo": lambda d: (os.unlink(d / "train-images-idx3-ubyte.gz"),
                       os.mkfifo(d / "train-images-idx3-ubyte.gz")),
    "dev zero": lambda d: (os.unlink(d / "train-images-idx3-ubyte.gz"),
                           (d / "train-images-idx3-ubyte.gz").symlink_to("/dev/zero")),
    "overflow": lambda d: (d / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(_header(0x08, [U32, U32, U32]))),
    "NaN label": lambda d: _mnist_folder(d, np.array([1, np.nan, 2, 3, 4], np.float32)),
}


@pytest.mark.parametrize("case", list(HOSTILE_DIRS))
def test_train_data_dir_with_hostile_files_gives_one_line_and_exit_2(tmp_path, case, capsys):
    data = tmp_path / "data"
    data.mkdir()
    _mnist_folder(data, np.array([1, 2, 3, 4, 5], np.uint8))
    HOSTILE_DIRS[case](data)
    argv = ["train", "--dataset", "mnist", "--data-dir", str(data), "--epochs", "1",
            "--no-progress", "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"chainrule train: error: {data}/"), err
    assert err.count("\n") == 1 and "Traceback" not in err
