"""Collectives on tensors (``torch.distributed``'s names) and on arrays, over MPI.

A tensor's NumPy array goes to MPI as it is when it is C-contiguous and writeable (no
copy: MPI reads and writes its memory); otherwise through a contiguous copy that is
written back. A tensor of another library (PyTorch, CuPy, array-api-strict) goes through a
NumPy copy in host memory, which MPI sends, and the result is moved back into its array
(a host round trip: MPI here is built for host buffers). In a world of 1 every collective
is the identity and MPI is never touched.

Every wait polls (``wait``): it spins for a moment (a step's collectives finish in
microseconds to milliseconds), then sleeps between polls, and while it waits it watches
for a rank that failed: a notice from it (it names its error), its process gone (ranks on
this host), or the group's timeout. A hang becomes an error that names the rank.
"""

from __future__ import annotations

import os
import pickle
import time

import numpy as np

from chainrule import _backend as B
from chainrule.distributed.errors import DistributedError, RankFailedError
from chainrule.distributed.group import FAILURE_TAG, _require, exclusive, world
from chainrule.tensor import Tensor


class ReduceOp:
    """``op=`` of ``all_reduce``: PyTorch's names for the strings it takes."""

    SUM = "sum"
    AVG = "mean"
    MAX = "max"


_OPS = ("sum", "mean", "max")
#: Seconds a wait polls without sleeping (yielding the core to any other runnable
#: process between polls); then it naps between polls, up to _MAX_NAP, and checks the
#: peers every _CHECK_EVERY. MPI moves a collective on only inside MPI calls, so a
#: message sent in pieces needs a poll per piece: naps early on would stretch a 1 MB
#: all-reduce from 2 ms to 7 (measured).
_SPIN, _MAX_NAP, _CHECK_EVERY = 0.2, 1e-3, 0.25
_POLLS = 200  # polls before the first yield: a step's small all-reduce is done by then


def wait(requests: list, what: str) -> None:
    """Wait for MPI ``requests`` to complete, or raise RankFailedError naming the rank that
    will never answer (see the module docstring)."""
    test_all = world.mpi.Request.Testall
    for _ in range(_POLLS):
        if test_all(requests):
            return
    start = time.perf_counter()
    while time.perf_counter() - start < _SPIN:
        if test_all(requests):
            return
        os.sched_yield()
    nap, checked = 1e-4, start
    while not test_all(requests):
        time.sleep(nap)
        nap = min(nap * 2, _MAX_NAP)
        now = time.perf_counter()
        if now - checked >= _CHECK_EVERY:
            checked = now
            check_peers(what, now - start)


def check_peers(what: str, waited: float) -> None:
    """Raise RankFailedError if a rank has sent its failure notice, or its process (on this
    host) is gone, or ``waited`` passed the group's timeout."""
    mpi = world.mpi
    status = mpi.Status()
    if world.notices.Iprobe(source=mpi.ANY_SOURCE, tag=FAILURE_TAG, status=status):
        rank = status.Get_source()
        data = bytearray(status.Get_count(mpi.BYTE))
        world.notices.Recv(data, source=rank, tag=FAILURE_TAG)
        raise RankFailedError(f"{what}: rank {rank} failed ({data.decode('utf-8', 'replace')})"
                              "; this rank stops too", rank)
    here = world.peers[world.rank][0] if world.peers else None
    for rank, (host, pid) in enumerate(world.peers):
        if rank != world.rank and host == here and not _alive(pid):
            raise RankFailedError(f"{what}: rank {rank} (pid {pid} on {host}) is gone: it "
                                  "was killed or crashed; this rank stops too", rank)
    if waited > world.timeout:
        raise RankFailedError(
            f"{what}: no answer from the other ranks after {waited:.0f} s (the timeout); a "
            "rank on another host may have died or hung. help: the launcher's log names "
            "the process that stopped; raise CHAINRULE_DIST_TIMEOUT if a rank is only slow")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")  # a zombie has exited; only its entry is left
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True


# --- arrays ----------------------------------------------------------------------------


def _check_op(op: str, what: str) -> None:
    if op not in _OPS:
        raise DistributedError(f"{what}: op must be one of {', '.join(map(repr, _OPS))}, got "
                               f"{op!r}. help: e.g. op='sum' (or ReduceOp.SUM)")


def _mpi_op(op: str):
    return world.mpi.MAX if op == "max" else world.mpi.SUM


def _check_array(a, what: str) -> None:
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "fiub":
        raise DistributedError(f"{what}: expected a tensor of numbers, got "
                               f"{getattr(a, 'dtype', type(a).__name__)}")


def iall_reduce_array(buffer: np.ndarray, op: str = "sum"):
    """Start an all-reduce of contiguous ``buffer`` in place; the MPI request (None in a
    world of 1). ``wait([request], ...)`` before reading ``buffer``."""
    _check_op(op, "all_reduce")
    if world.comm is None:
        return None
    return world.comm.Iallreduce(world.mpi.IN_PLACE, buffer, op=_mpi_op(op))


def all_reduce_array(buffer: np.ndarray, op: str = "sum", what: str = "all_reduce"):
    """All-reduce contiguous ``buffer`` in place (op 'sum', 'mean' or 'max')."""
    _check_array(buffer, what)
    _check_op(op, what)
    if op == "mean" and buffer.dtype.kind != "f":
        raise DistributedError(f"{what}: op='mean' needs floating-point values, got "
                               f"{buffer.dtype}. help: use op='sum' and divide")
    if world.comm is not None:
        with exclusive(what):
            request = world.comm.Iallreduce(world.mpi.IN_PLACE, buffer, op=_mpi_op(op))
            wait([request], what)
        if op == "mean":
            buffer /= world.size
    return buffer


def broadcast_array(buffer: np.ndarray, src: int = 0, what: str = "broadcast"):
    """Overwrite contiguous ``buffer`` on every rank with rank ``src``'s."""
    _check_src(src, what)
    if world.comm is not None:
        with exclusive(what):
            wait([world.comm.Ibcast(buffer, root=src)], what)
    return buffer


def _check_src(src, what: str) -> None:
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) or \
            not 0 <= src < world.size:
        raise DistributedError(f"{what}: src={src!r} is not a rank of this world of "
                               f"{world.size}. help: ranks are 0 .. {world.size - 1}")


# --- tensors (torch.distributed's signatures) -------------------------------------------


def _contiguous(tensor, what: str) -> tuple:
    """(the array MPI works on, a function that puts the result back into ``tensor``)."""
    if isinstance(tensor, Tensor):
        data = tensor.data
    elif isinstance(tensor, np.ndarray):
        data = tensor
    else:
        raise DistributedError(f"{what}: expected a tensor, got {type(tensor).__name__}. "
                               "help: wrap it with cr.tensor(...)")
    if B.is_foreign(data):
        return _via_host(tensor, data, what)
    _check_array(data, what)
    if data.flags.c_contiguous and data.flags.writeable:
        buffer = data  # zero-copy: MPI reads and writes the tensor's own memory

        def done():
            pass
    else:
        buffer = np.ascontiguousarray(data).copy()

        def done():
            data[...] = buffer
    if isinstance(tensor, Tensor):
        finish = done

        def done():
            finish()
            tensor.bump_version()  # a node that saved the old values must refuse them
    return buffer, done


def _via_host(tensor: Tensor, data, what: str) -> tuple:
    """``_contiguous`` for another library's array: a NumPy copy, moved back when done."""
    buffer = np.array(B.to_numpy(data), order="C", copy=True)
    _check_array(buffer, what)

    def done():
        data[...] = B.like(buffer, data)
        tensor.bump_version()
    return buffer, done


def barrier() -> None:
    """Wait until every rank has called ``barrier``."""
    _require("barrier")
    if world.comm is not None:
        with exclusive("barrier"):
            wait([world.comm.Ibarrier()], "barrier")


def broadcast(tensor, src: int = 0) -> None:
    """Overwrite ``tensor`` on every rank with rank ``src``'s values (in place)."""
    _require("broadcast")
    buffer, done = _contiguous(tensor, "broadcast")
    broadcast_array(buffer, src)
    done()


def all_reduce(tensor, op: str = "sum") -> None:
    """Replace ``tensor`` on every rank with the sum (or mean, or max) over all ranks, in
    place. Every rank receives the same values."""
    _require("all_reduce")
    buffer, done = _contiguous(tensor, "all_reduce")
    all_reduce_array(buffer, op)
    done()


def all_gather(tensor_list: list, tensor) -> None:
    """Fill ``tensor_list`` (one tensor per rank, each of ``tensor``'s shape) with every
    rank's ``tensor``, in rank order."""
    _require("all_gather")
    if not isinstance(tensor_list, list) or len(tensor_list) != world.size:
        got = (f"a list of {len(tensor_list)}" if isinstance(tensor_list, list)
               else type(tensor_list).__name__)
        raise DistributedError(f"all_gather: tensor_list must be a list of {world.size} "
                               f"tensors (one per rank), got {got}. help: "
                               f"[cr.zeros_like(t) for _ in range({world.size})]")
    source, _ = _contiguous(tensor, "all_gather")
    for i, out in enumerate(tensor_list):
        data = out.data if isinstance(out, Tensor) else out
        if tuple(getattr(data, "shape", ())) != source.shape or not B.same_dtype(
                getattr(data, "dtype", None), source.dtype):
            raise DistributedError(f"all_gather: tensor_list[{i}] has shape "
                                   f"{getattr(data, 'shape', '?')} and dtype "
                                   f"{getattr(data, 'dtype', '?')}; every entry must be like "
                                   f"the tensor ({source.shape}, {source.dtype})")
    gathered = np.empty((world.size,) + source.shape, dtype=source.dtype)
    if world.comm is None:
        gathered[0] = source
    else:
        with exclusive("all_gather"):
            wait([world.comm.Iallgather(source, gathered)], "all_gather")
    for out, part in zip(tensor_list, gathered):
        buffer, done = _contiguous(out, "all_gather")
        buffer[...] = part
        done()


def all_gather_object(obj) -> list:
    """Every rank's picklable ``obj``, in rank order (for small things: names, shapes)."""
    data = np.frombuffer(pickle.dumps(obj), dtype=np.uint8)
    if world.comm is None:
        return [obj]
    sizes = np.zeros(world.size, dtype=np.int64)
    with exclusive("all_gather_object"):
        mine = np.array([data.size], dtype=np.int64)
        wait([world.comm.Iallgather(mine, sizes)], "all_gather_object")
        out = np.empty(int(sizes.sum()), dtype=np.uint8)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        wait([world.comm.Iallgatherv(data, [out, (sizes, offsets), world.mpi.BYTE])],
             "all_gather_object")
    # NOTE: pickle, from the other ranks of this job only: the same program, not a file
    return [pickle.loads(out[o:o + n].tobytes()) for o, n in zip(offsets, sizes)]


def broadcast_object(obj, src: int = 0):
    """Rank ``src``'s picklable ``obj`` on every rank (a checkpoint, a decision)."""
    _check_src(src, "broadcast_object")
    if world.comm is None:
        return obj
    mine = world.rank == src
    data = pickle.dumps(obj) if mine else b""
    size = np.array([len(data)], dtype=np.int64)
    with exclusive("broadcast_object"):
        wait([world.comm.Ibcast(size, root=src)], "broadcast_object")
        buffer = (np.frombuffer(data, dtype=np.uint8).copy() if mine
                  else np.empty(int(size[0]), dtype=np.uint8))
        wait([world.comm.Ibcast(buffer, root=src)], "broadcast_object")
    return obj if mine else pickle.loads(buffer.tobytes())
