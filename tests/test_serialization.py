"""save / load: exact round trips, the on-disk layout, atomic writes, and clear errors.

Most tests use plain ndarrays; the tensor tests run once ``cr.tensor`` exists.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from safetensors.numpy import load_file
from safetensors.numpy import save as st_save

import chainrule as cr
import chainrule.serialization as S
import chainrule.serialization.atomic as A
import chainrule.serialization.schema as schema
from chainrule.serialization import CheckpointError, CheckpointNotFoundError, load, save

needs_tensor = pytest.mark.skipif(not hasattr(cr, "tensor"), reason="engine not there yet")

# --- helpers ------------------------------------------------------------------------------

DTYPES = ["?", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8", "c8",
          ">i4", ">u8", ">f4", ">f8", ">c8"]  # big-endian arrays come back big-endian


def assert_same(a, b, where="obj"):
    """Equal in type, structure, dtype, shape and bits (NaN payloads and -0.0 included)."""
    if isinstance(a, dict):  # any mapping (e.g. a module's OrderedDict) loads as a dict
        assert type(b) is dict, f"{where}: {type(b)}"
    else:
        assert type(a) is type(b), f"{where}: {type(a)} vs {type(b)}"
    if isinstance(a, np.ndarray):
        assert (a.dtype.str, a.shape) == (b.dtype.str, b.shape), where
        assert a.tobytes() == b.tobytes(), where
    elif isinstance(a, np.generic):
        assert a.dtype.str == b.dtype.str and a.tobytes() == b.tobytes(), where
    elif hasattr(a, "requires_grad"):
        assert a.requires_grad == b.requires_grad, where
        assert_same(a.numpy(), b.numpy(), where)
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        assert all(type(x) is type(y) for x, y in zip(a, b)), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b), where
    else:
        assert a == b, where


def header(path) -> dict:
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n])


def small_state():
    return {"model": {"0.weight": np.arange(6.0).reshape(2, 3), "0.bias": np.zeros(2, "f4")},
            "step": 3, "lr": 0.5, "betas": (0.9, 0.999), "name": "adam", "none": None}


# --- round trips ----------------------------------------------------------------------------

def any_array(dtype):
    base = hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    # views that are not C-contiguous: transposed, reversed, strided
    return base | base.map(lambda a: a.T) | base.map(lambda a: a[..., ::-1] if a.ndim else a) | \
        base.map(lambda a: a[::2] if a.ndim else a)


arrays = st.sampled_from(DTYPES).flatmap(any_array)
np_scalars = st.sampled_from(["?", "i1", "u8", "f2", "f4", "f8", "c8"]).flatmap(
    lambda dt: hnp.arrays(dt, ())).map(lambda a: a[()])
keys = st.one_of(st.text(max_size=6), st.integers(-3, 300),
                 st.sampled_from(["a/b", "a.b", "%2F", "%", "/", "", "__metadata__", "0",
                                  "1", "x%1", "é/ß", "\0"]))
leaves = st.one_of(st.none(), st.booleans(), st.integers(-2**200, 2**200),
                   st.text(max_size=8), st.floats(allow_nan=True, allow_infinity=True),
                   arrays, np_scalars)
trees = st.recursive(
    leaves,
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.lists(children, max_size=3).map(tuple),
                               st.dictionaries(keys, children, max_size=4)),
    max_leaves=10)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_round_trip_is_exact_in_type_dtype_shape_and_bits(tmp_path_factory, tree):
    path = tmp_path_factory.mktemp("rt") / "state.safetensors"
    obj = {"root": tree}
    save(obj, path)
    assert_same(obj, load(path))


@given(st.integers(), st.integers(-2**300, 2**300))
def test_big_ints_are_exact(tmp_path_factory, small, big):
    path = tmp_path_factory.mktemp("int") / "s"
    save({"a": small, "b": big, "c": [2**128 - 1, -(2**127)]}, path)
    assert load(path) == {"a": small, "b": big, "c": [2**128 - 1, -(2**127)]}


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937,
                                           np.random.Philox, np.random.SFC64])
def test_rng_states_round_trip_and_the_stream_continues(tmp_path, bit_generator):
    gen = np.random.Generator(bit_generator(12345))
    gen.standard_normal(7)  # not at the start of the stream
    save({"rng": gen.bit_generator.state}, tmp_path / "s")
    state = load(tmp_path / "s")["rng"]
    assert_same(gen.bit_generator.state, state)
    other = np.random.Generator(bit_generator(0))
    other.bit_generator.state = state
    np.testing.assert_array_equal(other.standard_normal(5), gen.standard_normal(5))


def test_edge_arrays_and_values(tmp_path):
    obj = {"zero_d": np.array(3.5), "empty": np.zeros((0, 4), "i8"), "empty_0d_bool":
           np.array(True), "f16": np.array([1e-4, 65504, -0.0], "f2"),
           "nan": np.array([np.nan, -np.inf]), "view": np.arange(24.0).reshape(2, 3, 4)[:, ::2],
           "fortran": np.asfortranarray(np.arange(6).reshape(2, 3)),
           "neg_zero": -0.0, "nan_float": float("nan"), "np_f32": np.float32(0.1),
           "np_bool": np.bool_(False), "np_int": np.int64(-5), "empty_dict": {},
           "empty_list": [], "empty_tuple": (), "nested_tuple": ((1, (2.0,)), [None])}
    save(obj, tmp_path / "s")
    back = load(tmp_path / "s")
    assert_same(obj, back)
    assert back["view"].flags.c_contiguous


def test_loaded_arrays_are_writable_and_independent(tmp_path):
    save({"a": np.zeros(3), "b": np.zeros(3)}, tmp_path / "s")
    state = load(tmp_path / "s")
    state["a"] += 1  # optimizers update their state in place
    assert state["b"].sum() == 0 and state["a"].flags.writeable


def test_str_path_and_pathlike_are_accepted(tmp_path):
    class Where(os.PathLike):
        def __fspath__(self):
            return str(tmp_path / "p.safetensors")

    save(small_state(), str(tmp_path / "p.safetensors"))
    assert_same(load(Where()), small_state())
    save(small_state(), Where())
    assert_same(load(str(tmp_path / "p.safetensors")), small_state())


def test_the_public_names_stay_in_chainrule_serialization():
    """The package split keeps every name where callers import it, and the error types
    named by that home (a traceback or a pickle says chainrule.serialization.*)."""
    assert (S.save, S.load) == (cr.save, cr.load) and callable(S.write_atomic)
    for error in (S.CheckpointError, S.CheckpointNotFoundError):
        assert error.__module__ == "chainrule.serialization"
        assert type(pickle.loads(pickle.dumps(error("x")))) is error
    assert issubclass(S.CheckpointNotFoundError, (S.CheckpointError, FileNotFoundError))


# --- tensors --------------------------------------------------------------------------------

@needs_tensor
def test_tensors_come_back_as_tensors_with_their_flags(tmp_path):
    state = {"w": cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True),
             "b": cr.tensor(np.zeros(3, "f4")), "i": cr.tensor(np.arange(4)),
             "s": cr.tensor(np.array(2.5)), "arr": np.ones(2)}
    save(state, tmp_path / "s.safetensors")
    back = load(tmp_path / "s.safetensors")
    assert_same(state, back)
    assert isinstance(back["w"], cr.Tensor) and back["w"].is_leaf
    assert type(back["arr"]) is np.ndarray


@needs_tensor
def test_a_module_and_optimizer_state_round_trip(tmp_path):
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.ReLU(), cr.nn.Linear(4, 2))
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    model(cr.randn(5, 3)).sum().backward()
    opt.step()
    state = {"model": model.state_dict(), "optimizer": opt.state_dict()}
    save(state, tmp_path / "ckpt.safetensors")
    assert_same(state, load(tmp_path / "ckpt.safetensors"))


@needs_tensor
def test_any_object_with_numpy_and_requires_grad_is_saved_as_a_tensor(tmp_path):
    class StandIn:
        requires_grad = True

        def numpy(self):
            return np.array([1.0, 2.0])

    save({"t": StandIn()}, tmp_path / "s")
    back = load(tmp_path / "s")["t"]
    assert isinstance(back, cr.Tensor) and back.requires_grad
    np.testing.assert_array_equal(back.numpy(), [1.0, 2.0])


# --- the layout: a real safetensors file ---------------------------------------------------

def test_arrays_are_keyed_by_their_escaped_path(tmp_path):
    obj = {"model": {"0.weight": np.ones(2), "0.bias": np.zeros(1)},
           "optimizer": {"state": {0: {"exp_avg": np.ones(2)}}},
           "list": [np.ones(1), (np.zeros(1),)], "a/b": np.ones(1), "50%": np.ones(1),
           "__metadata__": np.ones(1), "x": {1: np.ones(1), "1": np.zeros(1)}}
    save(obj, tmp_path / "s")
    names = set(load_file(str(tmp_path / "s")))
    assert names == {"model/0.weight", "model/0.bias", "optimizer/state/0/exp_avg",
                     "list/0", "list/1/0", "a%2Fb", "50%25", "__metadata__%1", "x/1",
                     "x/1%1"}
    assert [unquote(p) for p in "a%2Fb/50%25/%252F".split("/")] == ["a/b", "50%", "%2F"]
    assert_same(obj, load(tmp_path / "s"))


def test_metadata_schema(tmp_path):
    save(small_state(), tmp_path / "s")
    meta = header(tmp_path / "s")["__metadata__"]
    assert set(meta) == {"format", "version", "tree", "sha256"}
    assert (meta["format"], meta["version"]) == ("chainrule", "2")
    assert len(meta["sha256"]) == 64
    tree = json.loads(meta["tree"])
    assert tree["dict"][0] == ["model", {"dict": [
        ["0.weight", {"array": "model/0.weight", "kind": "ndarray"}],
        ["0.bias", {"array": "model/0.bias", "kind": "ndarray"}]]}]
    assert ["lr", {"float": "0.5"}] in tree["dict"]
    assert ["betas", {"tuple": [{"float": "0.9"}, {"float": "0.999"}]}] in tree["dict"]


def test_file_is_readable_by_safetensors_numpy(tmp_path):
    save(small_state(), tmp_path / "s.safetensors")
    raw = load_file(str(tmp_path / "s.safetensors"))
    assert_same(raw["model/0.weight"], np.arange(6.0).reshape(2, 3))
    assert_same(raw["model/0.bias"], np.zeros(2, "f4"))


def test_file_is_readable_by_torch(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    save(small_state(), tmp_path / "s.safetensors")
    raw = st_torch.load_file(str(tmp_path / "s.safetensors"))
    assert torch.equal(raw["model/0.weight"], torch.arange(6.0, dtype=torch.float64)
                       .reshape(2, 3))
    assert raw["model/0.bias"].dtype == torch.float32


def test_version_1_files_still_load(tmp_path):
    """Files written before arrays were keyed by path: keys 0, 1, ... and the old digest."""
    arrays = {"0": np.arange(3.0), "1": np.ones((2, 2), "f4")}
    digest = hashlib.sha256()
    for key in ("0", "1"):
        digest.update(f"{key}:{arrays[key].dtype.str}:{arrays[key].shape};".encode())
        digest.update(arrays[key].tobytes())
    tree = {"dict": [["w", {"array": 0, "kind": "ndarray"}],
                     ["t", {"array": 1, "kind": "tensor", "requires_grad": False}],
                     ["lr", {"float": "0.1"}], ["b", {"tuple": [1, 2]}]]}
    meta = {"format": "chainrule", "version": "1", "tree": json.dumps(tree),
            "sha256": digest.hexdigest()}
    (tmp_path / "old").write_bytes(st_save(arrays, metadata=meta))
    back = load(tmp_path / "old")
    assert_same(back["w"], np.arange(3.0))
    assert back["lr"] == 0.1 and back["b"] == (1, 2)
    if hasattr(cr, "tensor"):
        assert isinstance(back["t"], cr.Tensor)


# --- atomic writes --------------------------------------------------------------------------

def _fail_write(real_write):
    def write(fd, data):
        real_write(fd, bytes(data)[: max(1, len(data) // 2)])  # half the file is on disk
        raise OSError("disk on fire")
    return write


def _raise(error):
    def fail(*args, **kwargs):
        raise error
    return fail


@pytest.mark.parametrize("fail_at", ["write", "fsync", "replace", "interrupt"])
@pytest.mark.parametrize("existed", [True, False])
def test_a_failure_mid_write_leaves_the_old_file_whole(tmp_path, monkeypatch, fail_at, existed):
    path = tmp_path / "ckpt.safetensors"
    if existed:
        save({"v": np.array([1.0])}, path)
    if fail_at == "write":
        monkeypatch.setattr(A.os, "write", _fail_write(os.write))
    elif fail_at == "interrupt":
        monkeypatch.setattr(A.os, "write", _raise(KeyboardInterrupt()))
    else:
        monkeypatch.setattr(A.os, fail_at, _raise(OSError("disk on fire")))
    error = KeyboardInterrupt if fail_at == "interrupt" else OSError
    with pytest.raises(error):
        save({"v": np.arange(1000.0)}, path)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == (["ckpt.safetensors"] if existed else [])
    if existed:
        assert_same(load(path), {"v": np.array([1.0])})


def test_a_hard_crash_before_the_rename_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    save({"v": np.array([1.0])}, path)
    script = ("import os, sys, numpy as np, chainrule.serialization as S\n"
              "import chainrule.serialization.atomic as A\n"
              "A.os.replace = lambda *a: os._exit(3)\n"  # killed after fsync, before rename
              "S.save({'v': np.arange(10.0)}, sys.argv[1])\n")
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True)
    assert proc.returncode == 3, proc.stderr.decode()
    assert_same(load(path), {"v": np.array([1.0])})
    stale = [p for p in os.listdir(tmp_path) if p != "ckpt.safetensors"]
    assert len(stale) == 1 and stale[0].startswith(".ckpt.safetensors.")  # harmless leftover
    save({"v": np.array([2.0])}, path)
    assert_same(load(path), {"v": np.array([2.0])})


def test_the_data_is_fsynced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync file")
        real_fsync(fd)

    def replace(a, b):
        events.append("replace")
        real_replace(a, b)

    monkeypatch.setattr(A.os, "fsync", fsync)
    monkeypatch.setattr(A.os, "replace", replace)
    save(small_state(), tmp_path / "s")
    if os.path.isdir("/proc/self/fd"):
        assert events == ["fsync file", "replace", "fsync dir"]
    else:
        assert events[1] == "replace" and len(events) == 3


def test_the_new_file_has_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        save(small_state(), tmp_path / "s")
        assert (tmp_path / "s").stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(umask)


def test_a_refused_save_writes_nothing(tmp_path):
    with pytest.raises(CheckpointError):
        save({"ok": np.ones(3), "bad": object()}, tmp_path / "s")
    assert os.listdir(tmp_path) == []


# --- bad files ------------------------------------------------------------------------------

def test_a_missing_file_is_a_checkpoint_error_and_a_file_not_found_error(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="missing.safetensors: no such file"):
        load(tmp_path / "missing.safetensors")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.safetensors")
    with pytest.raises(CheckpointError, match="is a folder"):
        load(tmp_path)


def test_a_file_truncated_anywhere_is_a_clear_error(tmp_path):
    path = tmp_path / "s.safetensors"
    save(small_state(), path)
    data = path.read_bytes()
    bad = tmp_path / "cut.safetensors"
    for cut in range(len(data)):
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="cut.safetensors") as info:
            load(bad)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("mask", [1 << bit for bit in range(8)])
def test_every_single_bit_flip_is_caught(tmp_path, mask):
    path = tmp_path / "s.safetensors"
    save(small_state(), path)
    data = path.read_bytes()
    bad = tmp_path / "flip.safetensors"
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= mask
        bad.write_bytes(bytes(flipped))
        with pytest.raises(CheckpointError, match="flip.safetensors"):
            load(bad)


def test_a_flipped_byte_in_the_data_is_caught_by_the_checksum(tmp_path):
    path = tmp_path / "s.safetensors"
    save({"w": np.arange(50.0)}, path)
    data = bytearray(path.read_bytes())
    data[-7] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="s.safetensors: checksum mismatch"):
        load(path)


def test_an_edited_structure_is_caught_by_the_checksum(tmp_path):
    path = tmp_path / "s.safetensors"
    save(small_state(), path)
    data = path.read_bytes()
    assert data.count(b'\\"0.5\\"') == 1  # JSON in a JSON string: quotes escaped
    path.write_bytes(data.replace(b'\\"0.5\\"', b'\\"0.7\\"'))  # lr 0.5 -> 0.7
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        load(path)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_random_bytes_never_load(tmp_path, blob):
    path = tmp_path / "random.bin"
    for candidate in (blob, struct.pack("<Q", len(blob)) + blob):  # also past the length
        path.write_bytes(candidate)
        with pytest.raises(CheckpointError, match="random.bin"):
            load(path)


def test_foreign_files_are_named(tmp_path):
    png = tmp_path / "picture.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(CheckpointError, match="picture.png: truncated or not a safetensors"):
        load(png)
    other = tmp_path / "other.safetensors"
    other.write_bytes(st_save({"x": np.ones(2)}, metadata={"format": "pt"}))
    with pytest.raises(CheckpointError, match="other.safetensors: .*not one written by"):
        load(other)
    npz = tmp_path / "arrays.npz"
    np.savez(npz, a=np.ones(3))
    text = tmp_path / "notes.json"
    text.write_text('{"format": "chainrule"}')
    for path in (npz, text, tmp_path / "empty"):
        path.touch()
        with pytest.raises(CheckpointError, match=path.name):
            load(path)


def test_a_newer_version_is_refused_with_a_hint(tmp_path):
    meta = {"format": "chainrule", "version": "3", "tree": "null", "sha256": ""}
    (tmp_path / "new").write_bytes(st_save({"x": np.ones(1)}, metadata=meta))
    with pytest.raises(CheckpointError, match="version '3' is not supported"):
        load(tmp_path / "new")


# --- loading never runs code ----------------------------------------------------------------

class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"w": _Exploit(marker)}))
    with pytest.raises(CheckpointError, match="model.pkl"):
        load(path)
    assert not marker.exists()


def test_strings_that_look_like_code_are_data(tmp_path):
    marker = tmp_path / "pwned"
    payloads = [f"__import__('os').system('touch {marker}')", "{\"dict\": []}",
                "{'array': 'x'}", "\\u0000", "cos\nsystem\n(S'touch x'\ntR."]
    obj = {p: p for p in payloads}
    save(obj, tmp_path / "s")
    assert_same(load(tmp_path / "s"), obj)
    assert not marker.exists()


def _crafted(path, tree, arrays):
    """A file with a hand-made tree but a valid digest, as an attacker could write."""
    tree_json = json.dumps(tree)
    meta = {"format": "chainrule", "version": "2", "tree": tree_json,
            "sha256": schema._digest_v2(tree_json, arrays)}
    path.write_bytes(st_save(arrays, metadata=meta))


@pytest.mark.parametrize("tree", [
    {"pickle": "gASVAAAAAAAAAACMAm9zlIwGc3lzdGVtlJOUjAJsc5SFlFKULg=="},
    {"array": "x", "kind": "ndarray", "dtype": "O"},
    {"array": "x", "kind": "object"},
    {"array": "missing", "kind": "ndarray"},
    {"list": [{"array": "x", "kind": "ndarray"}, {"array": "x", "kind": "ndarray"}]},
    {"dict": [[1.5, None]]},
    {"float": 1.5},
    {"list": [], "tuple": []},
    1.5,
    {"dict": []},  # an array in the file that the structure does not use
])
def test_a_crafted_structure_is_refused_not_interpreted(tmp_path, tree):
    _crafted(tmp_path / "evil", tree, {"x": np.ones(2)})
    with pytest.raises(CheckpointError, match="evil: malformed structure"):
        load(tmp_path / "evil")


def test_deeply_nested_crafted_structure_is_a_clear_error(tmp_path):
    tree_json = '{"list": [' * 100_000 + "]}" * 100_000
    meta = {"format": "chainrule", "version": "2", "tree": tree_json,
            "sha256": schema._digest_v2(tree_json, {})}
    (tmp_path / "deep").write_bytes(st_save({}, metadata=meta))
    with pytest.raises(CheckpointError, match="deep: malformed structure"):
        load(tmp_path / "deep")


# --- values that cannot be saved ------------------------------------------------------------

@pytest.mark.parametrize("obj, message", [
    ({"model": {"f": print}}, r"state\['model'\]\['f'\]: cannot save a builtins."
                              r"builtin_function_or_method\. help:"),
    ({"s": {1, 2}}, r"state\['s'\]: cannot save a builtins.set"),
    ({"b": b"raw"}, r"state\['b'\]: cannot save a builtins.bytes"),
    ({"l": [1, object()]}, r"state\['l'\]\[1\]: cannot save a builtins.object"),
    ({1.5: 2}, r"state: dict key 1.5 is a float; keys must be strings"),
    ({"d": {True: 2}}, r"state\['d'\]: dict key True is a bool"),
    ({"d": {(1, 2): 2}}, r"dict key \(1, 2\) is a tuple.*help: convert the keys with str"),
    ({"a": np.array(["x"])}, r"state\['a'\]: arrays of dtype <U1 cannot be saved"),
    ({"a": np.array([None])}, r"arrays of dtype object cannot be saved"),
    ({"a": np.ones(2, np.complex128)}, r"arrays of dtype complex128 .*help: convert"),
])
def test_unsupported_values_name_their_place_and_type(tmp_path, obj, message):
    with pytest.raises(CheckpointError, match=message) as info:
        save(obj, tmp_path / "s")
    assert "\n" not in str(info.value)


def test_a_structure_that_contains_itself_is_refused(tmp_path):
    loop = {"a": []}
    loop["a"].append(loop)
    with pytest.raises(CheckpointError, match=r"state\['a'\]\[0\]: the dict contains itself"):
        save(loop, tmp_path / "s")
    shared = [1.0]
    save({"x": shared, "y": shared}, tmp_path / "s")  # shared, not circular: fine
    assert load(tmp_path / "s") == {"x": [1.0], "y": [1.0]}


def test_a_structure_nested_too_deeply_is_refused(tmp_path):
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(CheckpointError, match="nested too deeply"):
        save({"d": deep}, tmp_path / "s")



# --- hostile files: read no more than the header promises (STYLE.md habit 16) ----------------

@pytest.mark.parametrize("kind", ["dev zero", "fifo", "link to dev zero"])
def test_load_refuses_what_is_not_a_regular_file_before_reading(tmp_path, kind):
    path = tmp_path / "ckpt.safetensors"
    if kind == "dev zero":
        path = Path("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)  # a blocking open would wait here forever for a writer
    else:
        path.symlink_to("/dev/zero")
    with pytest.raises(CheckpointError) as info:
        load(path)
    what = "a FIFO (named pipe)" if kind == "fifo" else "a character device"
    assert str(info.value).startswith(f"load: {path}: is {what}, not a regular file. help:")


def test_load_reads_one_byte_past_the_data_and_no_further(tmp_path):
    path = tmp_path / "s.safetensors"
    save(small_state(), path)
    size = path.stat().st_size
    os.truncate(path, size + (64 << 30))  # 64 GiB of (sparse) zeros after the data
    with pytest.raises(CheckpointError, match=r"s.safetensors: corrupt: bytes follow the \d+ "
                       r"bytes of array data the header describes \(trailing data\)"):
        load(path)
    os.truncate(path, size + 1)
    with pytest.raises(CheckpointError, match="trailing data"):
        load(path)


def test_offsets_beyond_the_file_are_refused_before_reading(tmp_path):
    header = json.dumps({"__metadata__": {"format": "chainrule", "version": "2"},
                         "w": {"dtype": "F64", "shape": [2**40], "data_offsets": [0, 2**43]}})
    path = tmp_path / "claims.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + bytes(16))
    with pytest.raises(CheckpointError, match=f"truncated: the header says {2**43} bytes of "
                       "array data, the file holds 16"):
        load(path)


@pytest.mark.parametrize("offsets", [[0], [8, 0], [-1, 8], [0, "8"], None, [0, 1.5]])
def test_malformed_offsets_are_a_clear_error(tmp_path, offsets):
    header = json.dumps({"__metadata__": {"format": "chainrule", "version": "2"},
                         "w": {"dtype": "F64", "shape": [1], "data_offsets": offsets}})
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + bytes(8))
    with pytest.raises(CheckpointError, match="bad.safetensors: corrupt safetensors header"):
        load(path)


# --- strings that UTF-8 cannot hold ------------------------------------------------------------

@pytest.mark.parametrize("obj, where", [
    ({"meta": {"data_dir": "/data/\udcff"}}, r"save: state\['meta'\]\['data_dir'\]: the string "),
    ({"model": {"w\udcffx": np.ones(2)}}, r"save: state\['model'\]: dict key 'w\\udcffx' "),
    ({"runs": ["ok", ("a", "\ud800")]}, r"save: state\['runs'\]\[1\]\[1\]: the string "),
])
def test_a_lone_surrogate_is_refused_naming_its_place_before_anything_is_written(
        tmp_path, obj, where):
    path = tmp_path / "s.safetensors"
    save({"v": np.ones(1)}, path)
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match=where + r".*cannot be written as UTF-8: .* lone "
                       r"surrogate .*help:") as info:
        save(obj, path)
    assert "\n" not in str(info.value)
    assert os.listdir(tmp_path) == ["s.safetensors"] and path.read_bytes() == before


# --- replacing a file keeps what the user made of it ----------------------------------------

@pytest.mark.parametrize("mode", [0o600, 0o640, 0o400])
def test_save_keeps_the_mode_of_the_file_it_replaces(tmp_path, mode):
    path = tmp_path / "s.safetensors"
    save({"v": np.ones(1)}, path)
    path.chmod(mode)
    umask = os.umask(0o022)
    try:
        save({"v": np.zeros(3)}, path)
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o7777 == mode
    assert_same(load(path), {"v": np.zeros(3)})


def test_save_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "s.safetensors"
    save({"v": np.ones(1)}, target)
    target.chmod(0o600)
    (tmp_path / "middle").symlink_to(target)
    link = tmp_path / "s.safetensors"
    link.symlink_to(tmp_path / "middle")  # a chain of two links
    save({"v": np.arange(4.0)}, link)
    assert link.is_symlink() and (tmp_path / "middle").is_symlink()
    assert_same(load(target), {"v": np.arange(4.0)})
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(tmp_path / "real")) == ["s.safetensors"]


def test_save_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "s.safetensors"
    link.symlink_to("made.safetensors")
    save({"v": np.ones(2)}, link)
    assert link.is_symlink() and (tmp_path / "made.safetensors").is_file()
    assert_same(load(link), {"v": np.ones(2)})


def test_save_through_a_symlink_loop_is_an_os_error_and_writes_nothing(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(OSError, match="symbolic links"):
        save({"v": np.ones(1)}, tmp_path / "a")
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]


def test_save_refuses_to_replace_a_fifo(tmp_path):
    fifo = tmp_path / "s.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match=r"s.safetensors: is a FIFO \(named pipe\), not a "
                       "regular file"):
        save({"v": np.ones(1)}, fifo)
    assert os.listdir(tmp_path) == ["s.safetensors"] and fifo.is_fifo()


def test_a_path_through_a_file_is_not_found_and_a_symlink_loop_is_one_line(tmp_path):
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(CheckpointNotFoundError, match="no such file"):
        load(tmp_path / "file" / "last.safetensors")
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(CheckpointError, match=r"load: .*a: cannot read the file: Too many "
                       "levels of symbolic links"):
        load(tmp_path / "a")
