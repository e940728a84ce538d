"""A run on several ranks: `mpiexec -n N chainrule train ...` or `chainrule train --nproc N`.

Every rank runs the same run (SPMD). Rank 0 alone reads the checkpoint to resume, claims
and locks the run directory, prints, and writes metrics, plots and checkpoints; a step
of it and its decisions reach the others by broadcast (``agree``), so that an error
before training (a refused option, a busy directory) is raised on every rank alike.
Before the first step the ranks compare what they are about to train (``check_same``):
a rank with another recipe, model or data stops the run with an error that names it.

``--batch-size`` is per process: a step trains on a global batch of N * batch-size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from chainrule import distributed as dist
from chainrule.distributed.errors import MismatchError
from chainrule.train.errors import RecipeError


@dataclass(frozen=True)
class World:
    """This process's place in the run: rank, number of ranks, ranks on this host."""

    rank: int = 0
    size: int = 1
    local: int = 1

    @property
    def writer(self) -> bool:
        """Whether this rank prints and writes the run's files (rank 0)."""
        return self.rank == 0

    def agree(self, fn):
        """``fn()`` on rank 0, its result (or its error, raised) on every rank."""
        if self.size == 1:
            return fn()
        outcome = None
        if self.writer:
            try:
                outcome = (True, fn())
            except Exception as e:  # noqa: BLE001 - every rank raises it, below
                outcome = (False, e)
        ok, value = dist.broadcast_object(outcome)
        if not ok:
            value.agreed = True  # raised on every rank: the CLI prints it once (rank 0)
            raise value
        return value

    def shard_size(self, n: int) -> int:
        """Samples per rank and epoch of a training set of ``n`` (the sampler's, padded)."""
        return -(-n // self.size)

    def threads(self, threads: int) -> int:
        """BLAS threads: the recipe's, or with 0 the cores this rank's share of its host
        (two ranks on two cores: one each, not two; the work then decides within it), or
        0 in a world of one (all this process's cores)."""
        if threads or self.size == 1:
            return threads
        return max(1, (os.cpu_count() or 1) // self.local)


def join() -> World:
    """The world this process trains in: the MPI launcher's, or a world of 1."""
    if not dist.launched_by_mpi():
        return World()
    dist.init()
    from chainrule.distributed.group import world

    here = world.peers[world.rank][0] if world.peers else None
    local = sum(1 for host, _ in world.peers if host == here) or 1
    return World(world.rank, world.size, local)


def check_same(world: World, recipe, model, data) -> None:
    """Every rank must train what rank 0 trains: the same recipe, model and data sizes."""
    if world.size == 1:
        return
    from chainrule.nn.parallel import _signature

    mine = {"recipe": recipe.to_dict(),
            "model": _signature(model),
            "data": {"train": data.train_size, "val": data.val_size, "test": data.test_size,
                     "inputs": list(data.input_shape), "classes": data.num_classes},
            "chainrule": _version()}
    everyone = dist.all_gather_object(mine)
    for rank, theirs in enumerate(everyone[1:], start=1):
        for part in ("chainrule", "recipe", "data", "model"):
            if theirs[part] != everyone[0][part]:
                raise agreed(MismatchError(f"rank {rank} would train another run than rank 0: "
                                    f"{_difference(part, everyone[0][part], theirs[part], rank)}"
                                    ". help: start every rank with the same command, "
                                    "chainrule version and data"))


def _version() -> str:
    from chainrule import __version__

    return __version__


def _difference(part: str, ours, theirs, rank: int) -> str:
    if part == "chainrule":
        return f"chainrule {theirs} on rank {rank}, {ours} on rank 0"
    if isinstance(ours, dict):
        for key in ours:
            if ours[key] != theirs.get(key):
                return (f"its {part} has {key} = {theirs.get(key)!r}, rank 0's "
                        f"{ours[key]!r}")
    for a, b in zip(ours, theirs):
        if a != b:
            return f"its model has {b[0]} {b[1]!r} {b[2]} {b[3]}, rank 0's {a[1]!r} {a[2]} {a[3]}"
    return f"its model has {len(theirs)} parameters and buffers, rank 0's {len(ours)}"


# --- resuming with the number of ranks the checkpoint was written with ---------------------


def saved_size(contents: dict) -> int:
    """The number of ranks a checkpoint's run trained with (1 before distributed runs)."""
    part = contents.get("distributed")
    size = part.get("world_size", 1) if isinstance(part, dict) else 1
    return size if isinstance(size, int) and size >= 1 else 1


def check_resume(world: World, contents: dict, state, file, batch_size: int) -> str | None:
    """Whether a checkpoint written by N ranks can go on with this world's; the note to
    print when the number changes at an epoch's end. Mid-epoch it cannot: the position in
    the epoch (batch k) names other samples with another number of ranks."""
    saved = saved_size(contents)
    if saved == world.size:
        return None
    from chainrule.train.rundir import show

    def runs(n: int) -> str:
        return f"{n} process{'es' * (n != 1)}"

    if state.batch:
        raise agreed(RecipeError(
            f"{show(file)}: the run stopped in the middle of epoch {state.epoch + 1} (batch "
            f"{state.batch}) on {runs(saved)}, and this resume has {runs(world.size)}: "
            "batch k of an epoch holds other samples with another number of processes. "
            f"help: resume with {runs(saved)} (chainrule train --resume DIR --nproc {saved})"))
    return (f"note: the run trained on {runs(saved)} (global batch {saved * batch_size}); "
            f"it goes on with {runs(world.size)} (global batch {world.size * batch_size}) "
            "from this epoch: the same recipe, but no longer the steps of a run on "
            f"{runs(saved)} throughout")


def rng_states(world: World) -> list:
    """Every rank's random generator state (dropout), gathered on every rank."""
    from chainrule.train import checkpoint

    return dist.all_gather_object(checkpoint.rng_state()) if world.size > 1 else []


def restore_rng(world: World, contents: dict, seed: int) -> None:
    """This rank's generator from the checkpoint (rank 0's is its ``rng``); a rank the
    checkpoint has no state for starts a stream of its own, from (seed, rank)."""
    from chainrule.train import checkpoint

    if world.rank == 0:
        return
    saved = contents.get("distributed", {}).get("rng_ranks") if isinstance(
        contents.get("distributed"), dict) else None
    if isinstance(saved, list) and world.rank < len(saved) and saved_size(contents) == \
            world.size:
        checkpoint.set_rng_state(saved[world.rank])
    else:
        seed_rank(world, seed)


def seed_rank(world: World, seed: int) -> None:
    """Rank r > 0 draws its dropout masks from a stream of its own (rank 0 keeps the one a
    single process has): the same masks on every rank would drop the same units."""
    import numpy as np

    from chainrule.train import checkpoint

    if world.rank:
        checkpoint.set_rng_state(np.random.default_rng([seed, world.rank]).bit_generator.state)


def announce_line(world: World, recipe) -> str:
    from chainrule.distributed.group import peer_line

    b = recipe.batch_size
    return (f"distributed: {world.size} processes x batch {b} = a global batch of "
            f"{world.size * b} per step; rank 0 prints and writes the run ({peer_line()})")


def agreed(error: BaseException) -> BaseException:
    """Mark ``error`` as raised alike on every rank (the CLI then prints it once)."""
    error.agreed = True
    return error


def fail(error: BaseException) -> int:
    """A rank's error in a run on several ranks; the exit code.

    An error every rank raised alike (``agreed``: a refused option, a mismatch, a
    divergence) is printed by rank 0 alone, and every rank exits with the same code.
    Any other error is this rank's alone: it prints it (naming the rank), tells the
    other ranks, and ends the process at once, so that no rank waits for it.
    """
    import traceback

    from chainrule.distributed import group
    from chainrule.distributed.errors import RankFailedError
    from chainrule.errors import UsageError

    origin = error.__context__ if isinstance(error, UsageError) else None
    code = 2 if isinstance(error, UsageError) else 1
    if not group.world.initialized:
        # the command line was refused before joining: alike on every rank
        rank = next((os.environ[v] for v in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
                     if v in os.environ), "0")
        if rank == "0":
            raise error
        return code
    if getattr(error, "agreed", False) or getattr(origin, "agreed", False):
        if group.world.rank == 0:
            raise error
        return code
    if not isinstance(error, (UsageError, RankFailedError)):
        traceback.print_exception(error)  # a bug or an unexpected failure: where it was
        error = f"{type(error).__name__}: {error}"
    stops = "" if isinstance(error, RankFailedError) else "; every rank stops"
    group.abort(f"chainrule train: error: {error}{stops}", code)
    return code


def launch(nproc: int, argv: list) -> int:
    """``chainrule train --nproc N ...``: the same command on N ranks under mpiexec."""
    from chainrule.distributed import DistributedError, launched_by_mpi
    from chainrule.distributed import launch as launcher
    from chainrule.errors import UsageError

    if nproc < 1:
        raise UsageError(f"--nproc must be at least 1, got {nproc}")
    if launched_by_mpi():
        raise UsageError("--nproc starts mpiexec, and this process already runs under an MPI "
                         "launcher. help: drop --nproc (mpiexec -n N has started the ranks)")
    try:
        launcher.mpiexec()
    except DistributedError as e:
        raise UsageError(str(e)) from None
    return launcher.run(nproc, _without_nproc(argv), "chainrule train")


def _without_nproc(argv: list) -> list:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out
