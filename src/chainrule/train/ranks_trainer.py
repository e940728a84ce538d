"""The Trainer of a run on several ranks (ranks.py says what every rank does).

What differs from one process, and why:

- The model trains wrapped in DistributedDataParallel: rank 0's initial weights on every
  rank, gradients averaged over the global batch, so the weights stay bitwise the same
  on every rank and one checkpoint (rank 0's) is the run's.
- Batches come from a DistributedSampler: rank r takes every N-th sample of the epoch's
  permutation (the same permutation one process draws from (seed, epoch)), so a step of
  N ranks with batch b trains on the samples of one process's step with batch N * b.
- After each step one small all-reduce sums the ranks' loss, correct predictions and
  samples, and whether a rank was asked to stop (Ctrl-C, SIGTERM): every rank then sees
  the same global running sums, the same non-finite loss, the same stop, at the same
  step. No rank ever leaves a collective that the others still wait in.
- Validation and test sets are split across the ranks, each scoring its share with rank
  0's batch-norm statistics; the sums are all-reduced.
- Checkpoints also hold every rank's random generator (dropout), so a resume with the
  same number of ranks goes on exactly.
"""

from __future__ import annotations

import numpy as np

from chainrule.data import DataLoader, DistributedSampler, TensorDataset
from chainrule.distributed.collectives import all_reduce_array
from chainrule.nn.parallel import DistributedDataParallel
from chainrule.train import checkpoint, ranks, steps
from chainrule.train.state import EpochSums
from chainrule.train.trainer import StopRequest, Trainer

#: The signals a step's all-reduce counts (one slot each, after the loss sums).
_SIGNALS = ("SIGINT", "SIGTERM")


class DistributedTrainer(Trainer):
    def __init__(self, setup, out_dir, state, console, show_progress=True, keep=5,
                 saved=None, *, world: ranks.World):
        super().__init__(setup, out_dir, state, console, show_progress, keep, saved)
        self.world = world
        self.writer = world.writer
        self.ddp = DistributedDataParallel(self.model)
        self.train_set = TensorDataset(self.data.x_train, self.data.y_train)
        self.sampler = DistributedSampler(self.train_set, world.size, world.rank,
                                          shuffle=True, seed=self.recipe.seed)

    def _batches(self):
        self.sampler.set_epoch(self.state.epoch)
        backend, device = steps.place(self.model)  # --backend: where the model is
        return DataLoader(self.train_set, batch_size=self.recipe.batch_size,
                          sampler=self.sampler, backend=backend, device=device)

    def _step(self, xb, yb, sums, stop: StopRequest) -> float:
        mine = EpochSums()
        steps.train_step(self.ddp, self.optimizer, xb, yb, mine)
        totals = np.array([mine.loss, mine.correct, mine.seen] +
                          [stop.signal == name for name in _SIGNALS], dtype=np.float64)
        all_reduce_array(totals, "sum", "the step's loss and stop flags")
        sums.loss += float(totals[0])
        sums.correct += int(totals[1])
        sums.seen += int(totals[2])
        if stop.signal is None:
            # another rank was signalled: stop here too (SIGTERM over SIGINT)
            stop.signal = next((name for name, count in reversed(list(zip(_SIGNALS,
                                totals[3:]))) if count), None)
        return float(totals[0] / max(totals[2], 1))  # NaN on every rank if on any

    def _evaluate(self, x, y):
        self.ddp.sync_buffers()  # rank 0's running statistics: the model the checkpoint saves
        n, world = len(y), self.world
        lo, hi = world.rank * n // world.size, (world.rank + 1) * n // world.size
        loss, accuracy, _ = steps.evaluate(self.model, x[lo:hi], y[lo:hi])
        m = hi - lo
        totals = np.array([loss * m, round(accuracy * m), m], dtype=np.float64)
        all_reduce_array(totals, "sum", "the evaluation's sums")
        return float(totals[0] / max(n, 1)), float(totals[1] / n) if n else 0.0, None

    def _checkpoint_data(self) -> bytes | None:
        states = ranks.rng_states(self.world)  # every rank takes part, rank 0 writes
        if not self.writer:
            return None
        return checkpoint.encode(self.recipe, self.model, self.optimizer, self.scheduler,
                                 self.state, inputs=self.inputs,
                                 distributed={"world_size": self.world.size,
                                              "rng_ranks": states})

    def _metrics(self) -> dict:
        metrics = super()._metrics()
        b = self.recipe.batch_size
        metrics["distributed"] = {"world_size": self.world.size, "batch_size_per_process": b,
                                  "global_batch": self.world.size * b}
        return metrics

    def _diverged(self, error):
        return ranks.agreed(super()._diverged(error))  # the same global loss on every rank
