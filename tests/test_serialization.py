"""cr.save / cr.load: exact round trips, atomic writes, and clear errors for bad files."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule.serialization import CheckpointError

DTYPES = [np.bool_, np.uint8, np.int32, np.int64, np.float16, np.float32, np.float64]

arrays = st.sampled_from(DTYPES).flatmap(
    lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)))
leaves = st.one_of(st.none(), st.booleans(), st.integers(-2**130, 2**130), st.text(max_size=8),
                   st.floats(allow_nan=True, allow_infinity=True), arrays)
trees = st.recursive(
    leaves,
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.lists(children, max_size=3).map(tuple),
                               st.dictionaries(st.one_of(st.text(max_size=6), st.integers()),
                                               children, max_size=3)),
    max_leaves=8)


def assert_same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
    elif isinstance(a, cr.Tensor):
        assert a.requires_grad == b.requires_grad
        assert_same(a.numpy(), b.numpy())
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


@given(trees)
def test_round_trip_is_exact(tmp_path_factory, tree):
    path = tmp_path_factory.mktemp("rt") / "state.safetensors"
    obj = {"root": tree}
    cr.save(obj, path)
    assert_same(cr.load(path), obj)


def test_tensors_come_back_as_tensors_with_their_flags(tmp_path):
    state = {"w": cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True),
             "b": cr.zeros(3), "step": 7, "betas": (0.9, 0.999),
             "rng": np.random.default_rng(1).bit_generator.state}
    cr.save(state, tmp_path / "s.safetensors")
    assert_same(cr.load(tmp_path / "s.safetensors"), state)


def test_non_contiguous_arrays_are_saved_by_value(tmp_path):
    a = np.arange(12.0).reshape(3, 4).T
    cr.save({"a": a}, tmp_path / "s")
    np.testing.assert_array_equal(cr.load(tmp_path / "s")["a"], a)


def test_file_is_real_safetensors_readable_by_other_tools(tmp_path):
    from safetensors.numpy import load_file

    cr.save({"w": cr.ones(2, 2)}, tmp_path / "s.safetensors")
    raw = load_file(str(tmp_path / "s.safetensors"))
    np.testing.assert_array_equal(raw["0"], np.ones((2, 2), np.float32))
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file as torch_load

    assert torch.equal(torch_load(str(tmp_path / "s.safetensors"))["0"], torch.ones(2, 2))


@pytest.mark.parametrize("fail_at", ["write", "fsync", "replace"])
def test_a_crash_mid_write_leaves_the_old_file_whole(tmp_path, monkeypatch, fail_at):
    path = tmp_path / "ckpt.safetensors"
    cr.save({"v": np.array([1.0])}, path)

    def boom(*args, **kwargs):
        raise OSError("disk on fire")

    import chainrule.serialization as S

    if fail_at == "replace":
        monkeypatch.setattr(S.os, "replace", boom)
    elif fail_at == "fsync":
        monkeypatch.setattr(S.os, "fsync", boom)
    else:
        monkeypatch.setattr(S.os, "fdopen", boom)
    with pytest.raises(OSError, match="disk on fire"):
        cr.save({"v": np.array([2.0])}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(cr.load(path)["v"], [1.0])
    assert sorted(os.listdir(tmp_path)) == ["ckpt.safetensors"]  # no temp file left


def test_truncated_files_are_clear_errors(tmp_path):
    path = tmp_path / "s.safetensors"
    cr.save({"w": np.arange(100.0)}, path)
    data = path.read_bytes()
    for cut in sorted({0, 3, 8, 9, 40, len(data) // 2, len(data) - 1}):
        bad = tmp_path / f"cut{cut}"
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=f"cut{cut}"):
            cr.load(bad)


@given(st.binary(max_size=200))
def test_random_bytes_never_load_and_never_crash_otherwise(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fuzz") / "random.bin"
    path.write_bytes(blob)
    with pytest.raises(CheckpointError):
        cr.load(path)


def test_foreign_files_are_named(tmp_path):
    png = tmp_path / "picture.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(CheckpointError, match="picture.png"):
        cr.load(png)
    from safetensors.numpy import save_file

    other = tmp_path / "other.safetensors"
    save_file({"x": np.ones(2)}, str(other))
    with pytest.raises(CheckpointError, match="not one written by chainrule"):
        cr.load(other)
    pickle_file = tmp_path / "model.pkl"
    import pickle

    pickle_file.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError):
        cr.load(pickle_file)
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        cr.load(tmp_path / "missing.safetensors")


def test_a_flipped_byte_in_the_data_is_caught_by_the_checksum(tmp_path):
    path = tmp_path / "s.safetensors"
    cr.save({"w": np.arange(50.0)}, path)
    data = bytearray(path.read_bytes())
    data[-7] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        cr.load(path)


def test_metadata_is_data_never_code(tmp_path):
    # A string that would be code if anything evaluated it comes back as the same string.
    payload = "__import__('os').system('touch /tmp/chainrule-pwned')"
    cr.save({"s": payload}, tmp_path / "s")
    assert cr.load(tmp_path / "s")["s"] == payload
    assert not os.path.exists("/tmp/chainrule-pwned")


def test_unsupported_values_name_their_place():
    with pytest.raises(CheckpointError, match=r"state\['model'\]\['f'\].*function"):
        cr.save({"model": {"f": print}}, "/tmp/never-written.safetensors")
    with pytest.raises(CheckpointError, match="keys must be strings or ints"):
        cr.save({1.5: 2}, "/tmp/never-written.safetensors")
