"""The data layer: IDX reading (and refusing bad files), digits, generated sets, loader."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
from chainrule.data import (
    DataError,
    DataLoader,
    TensorDataset,
    load_dataset,
    load_digits,
    load_mnist_like,
    read_idx,
)
from chainrule.data.idx import parse_idx

CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
         np.float64: 0x0E}


def idx_bytes(a: np.ndarray) -> bytes:
    header = bytes([0, 0, CODES[a.dtype.type], a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    return header + a.astype(a.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype", list(CODES))
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, dtype, compress):
    a = (np.arange(60) % 37 - 5).astype(dtype).reshape(3, 4, 5)
    data = idx_bytes(a)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def test_idx_errors_name_the_file_and_the_problem(tmp_path):
    good = idx_bytes(np.zeros((2, 3), np.uint8))
    cases = {
        "short.idx": (good[:-1], r"short.idx: truncated IDX file: header says 2x3 = 6 bytes"),
        "long.idx": (good + b"\0", "too long"),
        "magic.idx": (b"\x01" + good[1:], "two zero bytes"),
        "type.idx": (good[:2] + b"\x07" + good[3:], "unknown IDX type code 0x07"),
        "header.idx": (good[:6], "truncated IDX header"),
        "tiny.idx": (b"\0", "shorter than the header"),
        "gz.idx": (b"\x1f\x8b" + b"garbage" * 3, "corrupt gzip"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DataError, match=message) as info:
            read_idx(tmp_path / name)
        assert name in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(DataError, match="no such file"):
        read_idx(tmp_path / "absent.idx")


@given(st.binary(max_size=64))
def test_idx_fuzz_returns_a_correct_array_or_raises_data_error(blob):
    try:
        a = parse_idx(blob, "fuzz")
    except DataError:
        return
    assert a.size * a.dtype.itemsize == len(blob) - 4 - 4 * blob[3]


def _write_mnist(folder, n_train=5, n_test=3, labels_off_by=0, bad_label=False):
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        labels = rng.integers(0, 10, n + labels_off_by).astype(np.uint8)
        if bad_label:
            labels[0] = 12
        (folder / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
        (folder / f"{split}-labels-idx1-ubyte").write_bytes(idx_bytes(labels))


def test_mnist_folder_reader(tmp_path):
    _write_mnist(tmp_path)
    x, y = load_mnist_like(tmp_path, "train")
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.float32 and 0 <= x.min() <= x.max() <= 1
    assert y.dtype == np.int64 and len(y) == 5
    x, y = load_dataset("mnist", "test", data_dir=tmp_path)[:2]
    assert len(y) == 3


def test_mnist_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        load_mnist_like(tmp_path / "nope")
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_mnist_like(tmp_path)
    _write_mnist(tmp_path, labels_off_by=1)
    with pytest.raises(DataError, match="6 labels for 5 images"):
        load_mnist_like(tmp_path)
    _write_mnist(tmp_path, bad_label=True)
    with pytest.raises(DataError, match="labels must be 0..9"):
        load_mnist_like(tmp_path)


def test_real_fashion_mnist_if_installed():
    from chainrule.data.idx import FASHION_MNIST_DIR

    assert FASHION_MNIST_DIR.exists(), (
        "dataset-fashion-mnist is not installed. help: run `make test`, which installs it "
        "(tools/install_test_system_packages.sh)")
    x, y, info = load_dataset("fashion-mnist", "test")
    assert x.shape == (10000, 1, 28, 28) and np.bincount(y).tolist() == [1000] * 10
    assert info.class_names[9] == "Ankle boot"


def test_digits_split_is_stratified_deterministic_and_scaled():
    x, y = load_digits("all")
    assert x.shape == (1797, 64) and x.dtype == np.float32 and x.min() == 0 and x.max() == 1
    assert sorted(set(y.tolist())) == list(range(10))
    xtr, ytr = load_digits("train")
    xte, yte = load_digits("test")
    assert len(ytr) + len(yte) == 1797 and abs(len(yte) - 1797 * 0.25) < 10
    ratio = np.bincount(yte) / np.bincount(y)
    assert np.all(np.abs(ratio - 0.25) < 0.02)
    np.testing.assert_array_equal(load_digits("test")[0], xte)
    assert not np.array_equal(load_digits("test", seed=1)[1], yte)
    # train and test are disjoint: no test image appears among the training ones
    train_rows = {r.tobytes() for r in xtr}
    assert sum(r.tobytes() in train_rows for r in xte) < 5  # (the set has a few duplicates)


@pytest.mark.parametrize("name", ["moons", "spirals", "circles", "xor"])
def test_generated_sets_are_balanced_and_seeded(name):
    x, y, info = load_dataset(name, samples=200)
    assert x.shape == (200, 2) and x.dtype == np.float32 and info.num_classes == 2
    assert np.bincount(y).tolist() == [100, 100]
    np.testing.assert_array_equal(load_dataset(name, samples=200)[0], x)
    assert not np.array_equal(load_dataset(name, "test", samples=200)[0][:50], x[:50])


def test_unknown_dataset_lists_the_valid_ones():
    with pytest.raises(DataError, match="expected one of digits, fashion-mnist"):
        load_dataset("cifar")


def test_loader_batches_every_sample_once_per_epoch():
    x = np.arange(10, dtype=np.float32)[:, None]
    y = np.arange(10)
    dl = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=0)
    assert len(dl) == 3
    for _ in range(2):
        seen = [b[1].numpy() for b in dl]
        assert [len(s) for s in seen] == [4, 4, 2]
        assert sorted(np.concatenate(seen).tolist()) == list(range(10))
        assert all(isinstance(b, cr.Tensor) for b in next(iter(dl)))
    dl = DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)
    assert len(dl) == 2 and [len(b[1]) for b in dl] == [4, 4]
    assert next(iter(dl))[1].tolist() == [0, 1, 2, 3]  # no shuffle: in order
    assert next(iter(dl))[0].dtype == np.float32


def test_loader_order_is_seeded_and_resumable():
    ds = TensorDataset(np.arange(20))
    a = DataLoader(ds, batch_size=5, shuffle=True, seed=3)
    b = DataLoader(ds, batch_size=5, shuffle=True, seed=3)
    assert [t[0].tolist() for t in a] == [t[0].tolist() for t in b]
    state = a.state_dict()
    expected = [t[0].tolist() for t in a]
    c = DataLoader(ds, batch_size=5, shuffle=True, seed=99)
    c.load_state_dict(state)
    assert [t[0].tolist() for t in c] == expected and c.epoch == 2
    cr.manual_seed(5)
    d1 = [t[0].tolist() for t in DataLoader(ds, batch_size=5, shuffle=True)]
    cr.manual_seed(5)
    d2 = [t[0].tolist() for t in DataLoader(ds, batch_size=5, shuffle=True)]
    assert d1 == d2


def test_loader_and_dataset_reject_bad_input():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(TensorDataset(np.arange(3)), batch_size=0)
    with pytest.raises(ValueError, match="different length"):
        TensorDataset(np.arange(3), np.arange(4))


def test_loader_over_a_plain_dataset():
    class Squares(cr.data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.float32(i), i * i

    batches = list(DataLoader(Squares(), batch_size=2))
    assert batches[1][1].tolist() == [4, 9] and len(batches) == 3
