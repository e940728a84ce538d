"""The process group: which rank this process is, how many there are, and the communicator.

``init()`` reads the MPI environment that a launcher (``mpiexec``, ``srun``) leaves; a
process that no launcher started is a world of 1 and never imports MPI. Every rank runs
the same program (SPMD); rank 0 is the one that writes files.

Nothing else in chainrule speaks MPI: nn.parallel, the sampler, SyncBatchNorm and the
training loop call this package. Two communicators are duplicated from MPI_COMM_WORLD:
one for the collectives, one on which a failing rank tells the others why it stops, so
that their waits end with a message that names it (``wait`` in collectives.py).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

from chainrule.distributed.errors import DistributedError

#: Variables that MPI launchers set in each process they start (MPICH/Hydra and Intel MPI,
#: Open MPI, PMIx, Slurm's PMI). Any of them means: initialise MPI.
LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "PMI_FD", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK",
                      "MPI_LOCALNRANKS")
#: Seconds a rank waits in one collective before it gives the others up (a lost host, a
#: launcher that does not stop the others when one dies). Checkpoints and evaluations run
#: between collectives, so this bounds a hang, not a step.
DEFAULT_TIMEOUT = 1800.0
#: The tag of the message a failing rank sends the others on the notice communicator.
FAILURE_TAG = 77


class _World:
    """The group's state: one per process, set once by ``init``."""

    def __init__(self):
        self.lock = threading.Lock()  # init from two threads at once: one initialises
        self.initialized = False
        self.rank, self.size = 0, 1
        self.comm = None  # the collectives' communicator (None in a world of 1)
        self.notices = None  # the failure notices' communicator
        self.peers: list = []  # (host, pid) of every rank
        self.timeout = DEFAULT_TIMEOUT
        self.mpi = None  # the mpi4py.MPI module
        self.busy = threading.RLock()  # held while a collective is under way
        self.busy_owner: str | None = None


world = _World()


def launched_by_mpi() -> bool:
    """Whether an MPI launcher started this process (its variables are set)."""
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


def is_available() -> bool:
    """Whether mpi4py can be imported (the ``distributed`` extra is installed)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def init(timeout: float | None = None) -> None:
    """Join the process group that the MPI launcher started; a world of 1 without one.

    Idempotent (a second call does nothing). ``timeout``: seconds a collective may wait
    for the other ranks before this rank stops with an error (default
    ``$CHAINRULE_DIST_TIMEOUT`` or 1800). In a world of more than one, an uncaught
    exception on any rank prints its traceback, tells the other ranks, and ends the
    process at once (MPI's exit handler would otherwise wait for ranks that wait for it).
    """
    with world.lock:
        if world.initialized:
            return
        world.timeout = _timeout(timeout)
        if launched_by_mpi():
            _init_mpi()
        world.initialized = True
    if world.size > 1:
        _exchange_peers()
        _install_excepthook()


def init_process_group(backend: str = "mpi", timeout=None, **ignored) -> None:
    """PyTorch's name for ``init``; the backend is MPI (the launcher gives rank and size)."""
    if backend not in ("mpi", None):
        raise DistributedError(f"init_process_group: backend {backend!r} is not available; "
                               "chainrule runs its collectives on MPI. help: "
                               "init_process_group('mpi'), or chainrule.distributed.init()")
    seconds = getattr(timeout, "total_seconds", None)
    init(seconds() if seconds else timeout)


def _timeout(timeout) -> float:
    if timeout is None:
        text = os.environ.get("CHAINRULE_DIST_TIMEOUT", "")
        try:
            timeout = float(text) if text else DEFAULT_TIMEOUT
        except ValueError:
            raise DistributedError(f"CHAINRULE_DIST_TIMEOUT={text!r} is not a number of "
                                   "seconds. help: e.g. CHAINRULE_DIST_TIMEOUT=600") from None
    if not timeout > 0:
        raise DistributedError(f"init: timeout must be a positive number of seconds, got "
                               f"{timeout!r}")
    return float(timeout)


def _init_mpi() -> None:
    try:
        from mpi4py import MPI
    except ImportError:
        raise DistributedError(
            "this process was started by an MPI launcher, but mpi4py is not installed. "
            "help: pip install 'chainrule[distributed]' (mpi4py and the mpich runtime)"
        ) from None
    world.mpi = MPI
    world.comm = MPI.COMM_WORLD.Dup()
    world.notices = MPI.COMM_WORLD.Dup()
    world.rank, world.size = world.comm.Get_rank(), world.comm.Get_size()


def _exchange_peers() -> None:
    # A blocking exchange, not collectives.all_gather_object: the peer table is what the
    # collectives' failure checks read, so it is built before any of them can run.
    import socket  # here: `import chainrule` should not pay for the socket module

    world.peers = world.comm.allgather((socket.gethostname(), os.getpid()))
    if world.rank == 0:
        from chainrule.distributed.launch import write_rank_table

        write_rank_table(world.peers)


def destroy_process_group() -> None:
    """PyTorch's name: leave the group. Collectives afterwards need ``init`` again."""
    with world.lock:
        for comm in (world.comm, world.notices):
            if comm is not None:
                comm.Free()
        world.comm = world.notices = None
        world.rank, world.size, world.peers = 0, 1, []
        world.initialized = False


def _require(what: str) -> None:
    if not world.initialized:
        raise DistributedError(f"{what}: the process group is not initialised. help: call "
                               "chainrule.distributed.init() first (under mpiexec it joins "
                               "the launched ranks; alone it is a world of 1)")


def is_initialized() -> bool:
    return world.initialized


def get_rank() -> int:
    """This process's rank, 0 .. world size - 1."""
    _require("get_rank")
    return world.rank


def get_world_size() -> int:
    """How many processes train together."""
    _require("get_world_size")
    return world.size


def peer_line() -> str:
    """``rank 0: pid 123 on host-a, rank 1: pid 124 on host-a``: to match a launcher's
    message, which names a process by pid, to its rank."""
    return ", ".join(f"rank {r}: pid {pid} on {host}" for r, (host, pid) in
                     enumerate(world.peers))


@contextlib.contextmanager
def exclusive(what: str):
    """One thread at a time issues collectives in this process: MPI matches collectives by
    their order on each rank, which two threads calling at once would make differ between
    ranks. The thread holding it may nest (a backward pass that all-reduces inside the
    hooks of a DistributedDataParallel model)."""
    acquire(what)
    try:
        yield
    finally:
        release()


def acquire(what: str) -> None:
    if not world.busy.acquire(blocking=False):
        me = threading.current_thread().name
        raise DistributedError(
            f"{what}: thread {me!r} called a collective while thread {world.busy_owner!r} "
            "is inside one; MPI pairs collectives by their order on each rank, which two "
            "threads cannot keep. help: run collectives (and the backward pass of a "
            "DistributedDataParallel model) from one thread at a time")
    world.busy_owner = threading.current_thread().name


def release() -> None:
    world.busy.release()


def abort(message: str, code: int = 1) -> None:
    """Stop this rank now: print ``message`` (naming this rank), tell the other ranks, and
    end the process without MPI's exit handler (which would wait for them)."""
    prefix = f"rank {world.rank} of {world.size}: " if world.size > 1 else ""
    try:
        print(f"{prefix}{message}", file=sys.stderr, flush=True)
        sys.stdout.flush()
    finally:
        _tell_others(message)
        os._exit(code)


def _tell_others(message: str) -> None:
    """Send the failure notice to every other rank; best effort, for at most a second."""
    if world.notices is None or world.size < 2:
        return
    import time

    data = message.encode("utf-8", "replace")[:4000]
    requests = [world.notices.Isend(data, dest=r, tag=FAILURE_TAG)
                for r in range(world.size) if r != world.rank]
    deadline = time.monotonic() + 1.0
    while not world.mpi.Request.Testall(requests) and time.monotonic() < deadline:
        time.sleep(0.01)


def _install_excepthook() -> None:
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        if kind is KeyboardInterrupt:
            os._exit(130)
        abort(f"stopped by {kind.__name__}: {value}", 1)

    sys.excepthook = hook
