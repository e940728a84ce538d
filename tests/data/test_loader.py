"""DataLoader with worker processes: same batches as in-process, errors, lifetime, arguments.

The datasets live at module level: worker processes import this module to unpickle them.
"""

import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    DataLoader,
    DataLoaderError,
    Dataset,
    DatasetPickleError,
    TensorDataset,
    WorkerError,
    get_worker_info,
)

SRC = str(Path(cr.__file__).resolve().parents[1])


class Squares(Dataset):
    """(i as float64, i*i); sample ``bad`` raises, ``transform`` is stored untouched."""

    def __init__(self, n=20, bad=None, transform=None):
        self.n, self.bad, self.transform = n, bad, transform

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.bad:
            raise ValueError(f"sample {i} is corrupt")
        return np.float64(i) / 3, i * i


class MissingKey(Squares):
    def __getitem__(self, i):
        return {}["no such key"] if i == self.bad else super().__getitem__(i)


class ExitsAt(Squares):
    def __getitem__(self, i):
        if i == self.bad:
            os._exit(3)
        return super().__getitem__(i)


class SleepsAt(Squares):
    def __getitem__(self, i):
        if i == self.bad:
            time.sleep(30)
        return super().__getitem__(i)


class WhoAmI(Squares):
    """Each sample says which process, worker and seed made it."""

    def __getitem__(self, i):
        info = get_worker_info()
        return (np.int64(os.getpid()), np.int64(info.id), np.uint64(info.seed),
                np.int64(getattr(self, "tag", -1)))


def tag_dataset(worker_id):
    get_worker_info().dataset.tag = 100 + worker_id


def fail_init(worker_id):
    raise RuntimeError(f"no licence for worker {worker_id}")


def arrays(loader):
    return [[t.numpy() for t in batch] for batch in loader]


def assert_same(a, b):
    assert len(a) == len(b)
    for batch_a, batch_b in zip(a, b):
        for x, y in zip(batch_a, batch_b, strict=True):
            assert x.dtype == y.dtype and np.array_equal(x, y)


def children():
    return {p.pid for p in multiprocessing.active_children()}


@pytest.fixture(autouse=True)
def no_leftover_workers():
    before = children()
    yield
    assert children() == before, "a test left DataLoader workers running"


@pytest.mark.parametrize("dataset", [
    TensorDataset(np.random.default_rng(0).normal(size=(23, 3)), np.arange(23)),
    Squares(23),
], ids=["TensorDataset", "Dataset"])
def test_workers_give_the_same_batches_as_num_workers_0(dataset):
    for drop_last in (False, True):
        kw = dict(batch_size=4, shuffle=True, seed=7, drop_last=drop_last)
        single, multi = DataLoader(dataset, **kw), DataLoader(dataset, num_workers=2, **kw)
        for _epoch in range(2):  # a new order each epoch, the same on both sides
            expected = arrays(single)
            assert_same(arrays(multi), expected)
        assert multi.state_dict()["generator"] == single.state_dict()["generator"]
    # num_workers=0 is what it always was: the seed's permutation, cut into batches
    order = np.random.default_rng(7).permutation(23)
    first = arrays(DataLoader(dataset, batch_size=4, shuffle=True, seed=7))
    assert np.array_equal(np.concatenate([b[1] for b in first]), dataset[order][1]
                          if isinstance(dataset, TensorDataset) else order ** 2)
    # prefetch_factor=1 with more batches than the window, and pin_memory (a no-op)
    kw = dict(batch_size=2, shuffle=True, seed=1)
    assert_same(arrays(DataLoader(dataset, num_workers=2, prefetch_factor=1, pin_memory=True,
                                  **kw)), arrays(DataLoader(dataset, **kw)))


def test_spawn_workers_give_the_same_batches_too():
    kw = dict(batch_size=3, shuffle=True, seed=2)
    assert_same(arrays(DataLoader(Squares(), num_workers=2, multiprocessing_context="spawn",
                                  **kw)), arrays(DataLoader(Squares(), **kw)))


def test_prefetch_keeps_prefetch_factor_times_num_workers_batches_in_flight():
    loader = DataLoader(Squares(40), batch_size=2, num_workers=2, prefetch_factor=3,
                        persistent_workers=True)
    it = iter(loader)
    next(it)
    assert sum(loader._pool.pending) == 6  # batch 0 taken, batches 1..6 asked for
    rest = list(it)
    assert len(rest) == 19 and sum(loader._pool.pending) == 0
    loader.shutdown_workers()


def test_a_worker_exception_is_reraised_with_worker_batch_and_traceback():
    loader = DataLoader(Squares(10, bad=7), batch_size=2, num_workers=2)
    with pytest.raises(ValueError) as info:
        list(loader)
    text = str(info.value)
    assert text.startswith("DataLoader worker 1 (pid ")
    assert "raised ValueError: sample 7 is corrupt while making batch 3" in text
    assert "sample indices [6, 7]" in text and "help: run with num_workers=0" in text
    assert "Traceback in worker 1" in text and 'raise ValueError(f"sample {i} is corrupt")' in text


def test_a_worker_keyerror_stays_a_keyerror_with_a_readable_message():
    with pytest.raises(KeyError) as info:
        list(DataLoader(MissingKey(6, bad=1), batch_size=2, num_workers=2))
    assert str(info.value).startswith("DataLoader worker 0 ") and "'no such key'" in str(info.value)


def test_an_unpicklable_dataset_is_named_before_any_worker_starts(tmp_path):
    with pytest.raises(DatasetPickleError) as info:
        next(iter(DataLoader(Squares(transform=lambda x: x), num_workers=2)))
    text = str(info.value)
    assert "dataset.transform (function " in text and "<lambda>" in text
    assert "help: replace the lambda with a function defined at module level" in text
    assert "num_workers=0" in text and "\n" not in text
    with open(tmp_path / "labels.txt", "w") as f:
        with pytest.raises(DatasetPickleError, match=r"dataset\.transform\[1\] \(a TextIOWrapper"
                                                     r" object\).*open the file in __getitem__"):
            next(iter(DataLoader(Squares(transform=[1, f]), num_workers=2)))
    with pytest.raises(DatasetPickleError, match=r"worker_init_fn \(function .*<lambda>"):
        next(iter(DataLoader(Squares(), num_workers=2, worker_init_fn=lambda w: None)))
    # the same datasets are fine in this process
    assert len(list(DataLoader(Squares(transform=lambda x: x)))) == 20


def test_worker_init_fn_and_get_worker_info_run_in_each_worker():
    assert get_worker_info() is None  # in the main process
    batches = arrays(DataLoader(WhoAmI(8), batch_size=2, num_workers=2, seed=5,
                                worker_init_fn=tag_dataset))
    pids, ids, seeds, tags = (np.concatenate(col) for col in zip(*batches))
    assert ids.tolist() == [0, 0, 1, 1, 0, 0, 1, 1]  # batch k from worker k % 2
    assert tags.tolist() == [100 + w for w in ids.tolist()]
    assert len(set(pids.tolist())) == 2 and os.getpid() not in pids.tolist()
    assert len(set(seeds.tolist())) == 2  # each worker its own seed
    def seeds_with(seed):
        return np.concatenate([b[2] for b in arrays(
            DataLoader(WhoAmI(8), batch_size=2, num_workers=2, seed=seed))]).tolist()

    assert seeds_with(5) == seeds.tolist() and seeds_with(6) != seeds.tolist()  # from seed


def test_a_failing_worker_init_fn_names_the_stage():
    with pytest.raises(RuntimeError, match=r"worker 0 \(pid \d+\) could not start: "
                                           r"worker_init_fn raised RuntimeError: no licence"):
        list(DataLoader(Squares(), num_workers=1, worker_init_fn=fail_init))


def test_persistent_workers_are_reused_across_epochs():
    persistent = DataLoader(WhoAmI(8), batch_size=2, num_workers=2, persistent_workers=True)
    first, second = ({int(p) for b in arrays(persistent) for p in b[0]} for _ in range(2))
    assert len(first) == 2 and first == second and first <= children()
    persistent.shutdown_workers()
    assert not first & children()
    fresh = DataLoader(WhoAmI(8), batch_size=2, num_workers=2)
    first, second = ({int(p) for b in arrays(fresh) for p in b[0]} for _ in range(2))
    assert not first & second  # without persistent_workers each epoch starts new ones


def test_a_persistent_epoch_abandoned_midway_does_not_leak_into_the_next():
    kw = dict(batch_size=3, shuffle=True, seed=4)
    single = DataLoader(Squares(), **kw)
    loader = DataLoader(Squares(), num_workers=2, persistent_workers=True, **kw)
    it = iter(loader)
    next(it)
    arrays(single)  # the abandoned epoch, on the reference side
    assert_same(arrays(loader), arrays(single))
    with pytest.raises(WorkerError, match="superseded by a newer iter"):
        next(it)  # the old iterator may not steal the new epoch's batches
    loader.shutdown_workers()


def test_deleting_the_iterator_mid_epoch_leaves_no_child_process():
    before = children()
    it = iter(DataLoader(Squares(40), batch_size=2, num_workers=2))
    next(it)
    assert len(children() - before) == 2
    del it
    assert children() == before


def test_a_worker_that_dies_is_reported_not_waited_for():
    with pytest.raises(WorkerError, match=r"worker 1 \(pid \d+\) exited unexpectedly \(exit "
                                          r"code 3\) while making batch 3\. help: it ended "
                                          r"inside the dataset's code"):
        list(DataLoader(ExitsAt(10, bad=7), batch_size=2, num_workers=2))


def test_timeout_bounds_the_wait_for_a_batch():
    # 3 s, not less: a worker's start on a loaded machine took over 0.5 s (batch 0 timed out)
    with pytest.raises(WorkerError, match=r"worker 0 \(pid \d+\) sent no batch 1 within "
                                          r"timeout=3 s"):
        list(DataLoader(SleepsAt(8, bad=2), batch_size=2, num_workers=1, timeout=3))


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_workers=-1), "num_workers must be an integer >= 0, got -1"),
    (dict(num_workers=1.5), "num_workers must be an integer >= 0, got 1.5"),
    (dict(num_workers=True), "num_workers must be an integer >= 0, got True"),
    (dict(num_workers=2, prefetch_factor=0), "prefetch_factor must be an integer >= 1, got 0"),
    (dict(batch_size=0), "batch_size must be an integer >= 1, got 0"),
    (dict(batch_size="32"), "batch_size must be an integer >= 1, got '32'"),
    (dict(timeout=-1), "timeout must be a number of seconds >= 0, got -1"),
    (dict(persistent_workers=True), "persistent_workers=True needs num_workers > 0"),
    (dict(num_workers=2, worker_init_fn=3), "worker_init_fn must be a function"),
    (dict(num_workers=2, multiprocessing_context="threads"),
     "multiprocessing_context='threads' is not a start method here. help: use one of"),
])
def test_bad_arguments_get_one_line_errors(kwargs, message):
    with pytest.raises(DataLoaderError) as info:
        DataLoader(Squares(), **kwargs)
    text = str(info.value)
    assert text.startswith("DataLoader: ") and message in text
    assert "help: " in text and "\n" not in text
    assert isinstance(info.value, ValueError)  # PyTorch raises ValueError for these


def test_a_loader_pickles_without_its_workers():
    loader = DataLoader(Squares(), batch_size=5, num_workers=2, persistent_workers=True)
    list(loader)
    copy = pickle.loads(pickle.dumps(loader))
    assert copy._pool is None and len(arrays(copy)) == 4
    loader.shutdown_workers()
    copy.shutdown_workers()


EXIT_SCRIPT = """
import multiprocessing, sys, time
import numpy as np
from chainrule.data import DataLoader, TensorDataset

if __name__ == "__main__":
    ds = TensorDataset(np.arange(40.0))
    kept = DataLoader(ds, batch_size=2, num_workers=2, persistent_workers=True)
    list(kept)  # an epoch done; its workers stay for the next
    it = iter(DataLoader(ds, batch_size=2, num_workers=2))
    next(it)  # an epoch abandoned midway, still referenced at exit
    print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
    if sys.argv[1] == "wait":
        time.sleep(60)  # to be killed with SIGKILL: no clean-up of ours can run
"""


def gone(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"  # a zombie no one reaped is gone too


def run_script(tmp_path, mode):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(EXIT_SCRIPT))
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen([sys.executable, str(script), mode], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_program_exit_with_live_workers_neither_hangs_nor_orphans(tmp_path):
    proc = run_script(tmp_path, "exit")
    out, err = proc.communicate(timeout=60)  # a hang at exit fails here
    pids = [int(p) for p in out.split()]
    assert proc.returncode == 0 and err == "" and len(pids) == 4
    assert all(gone(pid) for pid in pids)


def test_workers_of_a_killed_program_exit_on_their_own(tmp_path):
    proc = run_script(tmp_path, "wait")
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) == 4 and not any(gone(pid) for pid in pids)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    deadline = time.monotonic() + 30  # workers look for their parent every second
    while not all(gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(gone(pid) for pid in pids)
