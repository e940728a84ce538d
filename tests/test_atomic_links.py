"""serialization.link_atomic, write_atomic(durable=False) and dumps: the pieces a training
run's background writes are made of (train/writes.py)."""

import errno
import os
import threading

import numpy as np
import pytest

import chainrule as cr
from chainrule.serialization import atomic, dumps, link_atomic, write_atomic
from chainrule.train.writes import WriteFailed, Writes


def test_link_atomic_gives_the_file_a_second_name(tmp_path):
    src, dst = tmp_path / "epoch-001", tmp_path / "last"
    write_atomic(src, b"one")
    write_atomic(dst, b"old")
    link_atomic(src, dst)
    assert dst.read_bytes() == b"one" and os.path.samefile(src, dst)
    # replacing either name later leaves the other's bytes alone
    write_atomic(dst, b"two")
    assert src.read_bytes() == b"one" and dst.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-001", "last"]  # no .tmp


def test_link_atomic_copies_where_there_are_no_hard_links(tmp_path, monkeypatch):
    def no_links(*args):
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(atomic.os, "link", no_links)
    src, dst = tmp_path / "a", tmp_path / "b"
    write_atomic(src, b"bytes")
    link_atomic(src, dst)
    assert dst.read_bytes() == b"bytes" and not os.path.samefile(src, dst)


def test_link_atomic_writes_through_a_symlink(tmp_path):
    src, target, link = tmp_path / "a", tmp_path / "target", tmp_path / "link"
    write_atomic(src, b"new")
    write_atomic(target, b"old")
    link.symlink_to(target)
    link_atomic(src, link)
    assert link.is_symlink() and target.read_bytes() == b"new"


def test_link_atomic_reports_a_missing_source(tmp_path):
    with pytest.raises(FileNotFoundError):
        link_atomic(tmp_path / "missing", tmp_path / "last")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("durable, syncs", [(True, 2), (False, 0)])
def test_a_write_that_need_not_survive_a_power_cut_skips_the_fsyncs(
        tmp_path, monkeypatch, durable, syncs):
    calls = []
    real = os.fsync
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    write_atomic(tmp_path / "f", b"x" * 10, durable=durable)
    assert (tmp_path / "f").read_bytes() == b"x" * 10 and len(calls) == syncs


def test_dumps_is_what_save_writes(tmp_path):
    state = {"w": cr.tensor(np.arange(6.0).reshape(2, 3)), "step": 3}
    data = dumps(state)
    state["w"].numpy()[0, 0] = 7.0  # the bytes are a snapshot: later edits are not in them
    write_atomic(tmp_path / "d", data)
    back = cr.load(tmp_path / "d")
    assert back["step"] == 3 and back["w"].numpy().tolist() == [[0, 1, 2], [3, 4, 5]]
    # (byte-for-byte equality is not promised: safetensors orders its metadata freely)
    assert len(data) == len(open(cr.save(state, tmp_path / "s") or tmp_path / "s", "rb").read())


def test_writes_run_in_order_and_report_the_first_failure(tmp_path):
    seen, writes = [], Writes()

    def fail(path):
        raise OSError(errno.ENOSPC, "No space left on device")

    writes.submit([("a", seen.append, "a"), ("b", fail, "b"), ("c", seen.append, "c")])
    with pytest.raises(WriteFailed) as info:
        writes.submit([("d", seen.append, "d")])  # waits for the first batch, which failed
    assert info.value.path == "b" and info.value.error.errno == errno.ENOSPC
    assert seen == ["a"]  # the jobs after the failed one did not run, nor the new batch
    writes.submit([("e", seen.append, "e")])
    writes.wait()
    assert seen == ["a", "e"]


def test_writes_happen_on_another_thread_while_the_caller_goes_on():
    started, release, writes = threading.Event(), threading.Event(), Writes()

    def slow(_):
        started.set()
        release.wait(10)

    writes.submit([("x", slow, None)])
    assert started.wait(10)  # running in the background while this thread is here
    release.set()
    writes.wait()
    writes.close()  # nothing in flight, nothing failed: a no-op


def test_the_switch_interval_is_short_while_writing_and_restored_after():
    import sys

    seen, writes = [], Writes()
    before = sys.getswitchinterval()
    writes.submit([("x", lambda: seen.append(sys.getswitchinterval()))])
    writes.wait()
    assert seen == [min(before, 0.0005)] and sys.getswitchinterval() == before
