"""No lost or mixed runs: next free names, refused --out, whole --overwrite, the run lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import chainrule as cr
from chainrule.train import rundir
from chainrule.train.errors import RunBusyError, RunDirError, RunExistsError

from .helpers import TINY, one_line, snapshot, train


def epochs_in(run) -> int:
    return json.loads((run / "metrics.json").read_text())["epochs"]


def test_without_out_a_new_run_gets_the_next_free_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert train(TINY + ["--epochs", "1"], capsys)[0] == 0
    first = snapshot(tmp_path / "runs" / "digits-mlp")
    code, out, _ = train(TINY + ["--epochs", "2"], capsys)
    assert code == 0 and "run directory runs/digits-mlp-2" in out
    assert train(TINY + ["--epochs", "1"], capsys)[0] == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "digits-mlp", "digits-mlp-2", "digits-mlp-3"]
    assert snapshot(tmp_path / "runs" / "digits-mlp") == first  # the first run, untouched
    assert epochs_in(tmp_path / "runs" / "digits-mlp-2") == 2


def test_claim_new_is_atomic_under_a_race(tmp_path):
    """Two claims of the same base never get the same directory."""
    a, lock_a = rundir.claim_new(tmp_path / "runs" / "x")
    b, lock_b = rundir.claim_new(tmp_path / "runs" / "x")
    assert (a.name, b.name) == ("x", "x-2")
    lock_a.release()
    lock_b.release()


def test_an_out_that_holds_a_run_is_refused_and_left_as_it_was(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(TINY + ["--epochs", "2", "--out", str(run)], capsys)[0] == 0
    before = snapshot(run)
    code, out, err = train(TINY + ["--epochs", "1", "--out", str(run)], capsys)
    line = one_line(err)
    assert code == 2 and "already holds a run" in line and "a run is never overwritten" in line
    assert f"--resume {run}" in line and "--overwrite" in line
    assert out == "" and snapshot(run) == before


def test_overwrite_replaces_the_run_whole(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(TINY + ["--epochs", "3", "--keep-checkpoints", "0", "--out", str(run)],
                 capsys)[0] == 0
    (run / "checkpoints" / ".last.safetensors.abc.tmp").write_bytes(b"debris of a crash")
    assert train(TINY + ["--epochs", "1", "--out", str(run), "--overwrite"], capsys)[0] == 0
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "best.safetensors", "epoch-001.safetensors", "last.safetensors"]
    assert epochs_in(run) == 1
    assert cr.load(run / "checkpoints" / "best.safetensors")["progress"]["epoch"] == 1


def test_overwrite_without_out_replaces_the_default_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert train(TINY + ["--epochs", "2"], capsys)[0] == 0
    assert train(TINY + ["--epochs", "1", "--overwrite"], capsys)[0] == 0
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["digits-mlp"]
    assert epochs_in(tmp_path / "runs" / "digits-mlp") == 1


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_directory_that_is_not_a_run_is_never_used(tmp_path, capsys, overwrite):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    code, _, err = train(TINY + ["--out", str(folder)] + ["--overwrite"] * overwrite, capsys)
    assert code == 2 and "holds files that are not a chainrule run (notes.txt" in one_line(err)
    assert snapshot(folder) == {"notes.txt": b"mine"}


def test_an_empty_out_directory_is_used(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert train(TINY + ["--epochs", "1", "--out", str(tmp_path / "empty")], capsys)[0] == 0
    assert epochs_in(tmp_path / "empty") == 1


def test_resume_and_overwrite_or_out_do_not_mix(tmp_path, capsys):
    for extra in (["--overwrite"], ["--out", str(tmp_path / "b")]):
        code, _, err = train(["--resume", str(tmp_path)] + extra, capsys)
        assert code == 2 and "--resume continues a run with its own recipe and directory " \
            "(--epochs N alone may set a new total); drop" in one_line(err)


# --- the lock -----------------------------------------------------------------------------


def test_lock_excludes_a_second_holder_and_is_removed_on_release(tmp_path):
    with rundir.RunLock.acquire(tmp_path) as lock:
        assert (tmp_path / "train.lock").read_text().strip() == str(os.getpid())
        assert rundir.holder(tmp_path) == os.getpid()
        with pytest.raises(RunBusyError, match=rf"in use by another run \(process {os.getpid()}"):
            rundir.RunLock.acquire(tmp_path)
        assert lock.stale_pid is None
    assert not (tmp_path / "train.lock").exists() and rundir.holder(tmp_path) is None
    rundir.RunLock.acquire(tmp_path).release()  # free again


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (tmp_path / "train.lock").write_text(dead + "\n")
    assert rundir.holder(tmp_path) is None  # a file nobody holds is no lock
    with rundir.RunLock.acquire(tmp_path) as lock:
        assert lock.stale_pid == int(dead)


def test_the_lock_is_released_after_a_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(TINY + ["--epochs", "1", "--out", str(run)], capsys)[0] == 0
    assert not (run / "train.lock").exists()
    assert train(["--resume", str(run), "--no-progress"], capsys)[0] == 0  # complete: no-op
    assert not (run / "train.lock").exists()


def test_resume_takes_over_a_stale_lock_and_says_so(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(TINY + ["--epochs", "1", "--out", str(run)], capsys)[0] == 0
    (run / "train.lock").write_text("4194304\n")  # above Linux's pid_max: never a live pid
    code, out, err = train(["--resume", str(run), "--no-progress"], capsys)
    assert code == 0, err
    assert "train.lock was left by process 4194304, which is no longer running; taken over" \
        in out
    assert not (run / "train.lock").exists()


def _wait_for(path, proc, seconds=120):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_a_run_in_use_is_refused_and_a_killed_runs_lock_is_stale(tmp_path, capsys):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "train", *TINY, "--epochs", "100000",
         "--batch-size", "4", "--out", str(run)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(run / "checkpoints" / "last.safetensors", proc)
        _wait_for(run / "metrics.json", proc)  # written after the checkpoint: wait for both
        for argv in (TINY + ["--out", str(run)], TINY + ["--out", str(run), "--overwrite"],
                     ["--resume", str(run)]):
            code, _, err = train(argv, capsys)
            assert code == 2, err
            assert f"is in use by another run (process {proc.pid} holds train.lock)" in \
                one_line(err)
        assert epochs_in(run) >= 1  # the running run's own files, still its own
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    # Killed: the OS dropped its lock; the file that stays behind is stale.
    assert (run / "train.lock").read_text().strip() == str(proc.pid)
    assert rundir.holder(run) is None
    with rundir.RunLock.acquire(run) as lock:
        assert lock.stale_pid == proc.pid
    with pytest.raises(RunExistsError):
        rundir.claim(run)


def test_a_lock_cannot_be_made_in_a_read_only_directory(tmp_path, monkeypatch, capsys):
    """A read-only directory (simulated: this test may run as root, whom modes do not stop)."""
    import errno
    import tempfile

    run = tmp_path / "run"
    assert train(TINY + ["--epochs", "1", "--out", str(run)], capsys)[0] == 0
    before = snapshot(run)

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    code, _, err = train(["--resume", str(run)], capsys)
    assert code == 2 and f"{run}: cannot write there (Read-only file system)" in one_line(err)
    assert snapshot(run) == before
    code, _, err = train(TINY + ["--out", str(tmp_path / "new" / "run")], capsys)
    assert code == 2 and "cannot write there (Read-only file system)" in one_line(err)
    assert not (tmp_path / "new").exists()  # the directories it made are gone again
    with pytest.raises(RunDirError, match="cannot write there"):
        rundir.claim_new(tmp_path / "runs" / "x")
    assert not (tmp_path / "runs").exists()


def test_the_python_api_raises_typed_errors(tmp_path):
    import io

    import rich.console

    from chainrule.train.loop import run
    from chainrule.train.recipes import recipe_for

    quiet = dict(show_progress=False, console=rich.console.Console(file=io.StringIO()))
    r = recipe_for("digits", "mlp", hidden=(8,), epochs=1)
    result = run(r, tmp_path / "a", **quiet)
    assert result.out_dir == tmp_path / "a" and result.metrics["complete"]
    with pytest.raises(RunExistsError, match="already holds a run"):
        run(r, tmp_path / "a", **quiet)
    with pytest.raises(ValueError, match="resume=True needs out_dir"):
        run(None, None, resume=True, **quiet)
    with pytest.raises(ValueError, match="differs from the one given"):
        run(recipe_for("digits", "mlp", hidden=(8,), epochs=2), tmp_path / "a", resume=True,
            **quiet)
    assert run(None, tmp_path / "a", resume=True, **quiet).metrics["complete"]
