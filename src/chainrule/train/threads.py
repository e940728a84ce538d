"""How many BLAS threads a training run uses: chosen by its work, not by BLAS's default.

A second BLAS thread only pays when one matrix product is big enough to split: below
that, the threads wait for each other at every product, and on a machine where another
process holds a core they wait a scheduler time slice (measured on this project's 2-core
machine: a 1 M multiply-add product took 0.024 ms on one thread and 16 ms on two while
another job ran; the Fashion-MNIST CNN step 94 ms against 1,085 ms; docs/performance.md).

The rule (``choose``), for ``chainrule train``, ``chainrule.train.run`` and ``fit`` when
no thread count is given (``--threads 0``, the default):
1. one forward pass of the model on one batch, in eval mode and without recording,
   measures the largest matrix product its ``Linear`` and ``Conv2d`` layers make;
2. below ``PARALLEL_MACS`` multiply-adds: one thread;
3. at or above it: every core this process may use, less the cores other processes keep
   busy right now (``/proc/loadavg``'s running tasks that are not this process's threads),
   and at least one.
An explicit thread count (``--threads N``) is used as given.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

import chainrule as cr
from chainrule import nn

#: Multiply-adds of a training step's largest product from which a second thread pays.
#: Measured with benchmarks/threads.py (docs/performance.md): on a quiet 2-core machine
#: W1's 128x784 by 784x256 product (25.7 M) runs 1.5x faster on two threads, the digits
#: MLP's largest (1.0 M) no faster, W2's (16x784 by 784x256, 3.2 M) about 1.15x.
PARALLEL_MACS = 8_000_000


@dataclass(frozen=True)
class Choice:
    threads: int
    why: str  # in words, for the run's log

    def limit(self):
        """A context in which BLAS uses ``threads`` threads (threadpoolctl)."""
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=self.threads)


def choose(model: nn.Module, batch, requested: int = 0, cores: int | None = None) -> Choice:
    """The BLAS threads to train ``model`` with on batches like ``batch`` (an array).

    ``requested`` > 0 is taken as given; ``cores``: the cores this process may use (by
    default its CPU affinity's; a rank of a distributed run passes its share).
    """
    if requested < 0 or requested != int(requested):
        from chainrule.train.errors import RecipeError

        raise RecipeError(f"threads must be a whole number >= 0, got {requested!r}. help: "
                          "0 chooses by the work; N > 0 uses N BLAS threads")
    if requested:
        return Choice(requested, f"{requested} (--threads)")
    cores = cores or usable_cores()
    macs, shape = largest_product(model, batch)
    size = f"the largest product ({shape}) is {macs / 1e6:.1f} M multiply-adds"
    if macs < PARALLEL_MACS or cores == 1:
        why = f"below {PARALLEL_MACS / 1e6:g} M" if cores > 1 else f"{cores} core"
        return Choice(1, f"1 (by the work: {size}, {why})")
    busy = others_running()
    n = max(1, cores - busy)
    return Choice(n, f"{n} (by the work: {size}; {cores} cores, {busy} busy with other "
                     "processes)")


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def largest_product(model: nn.Module, batch) -> tuple[int, str]:
    """(multiply-adds, shape in words) of the largest product that ``model``'s Linear and
    Conv2d layers make on ``batch``; (0, "none") for a model with neither.

    NOTE: eval mode and no_grad: dropout draws no random numbers and batch norm keeps its
    statistics, so the probe changes nothing a resumed run could see.
    """
    found = [(0, "none")]

    def measure(module, args, output):
        if isinstance(module, nn.Conv2d):  # im2col: (batch * positions) x (in * k * k) x out
            out, inner = module.weight.shape[0], int(module.weight[0].size)
            rows = int(output.shape[0] * output.shape[2] * output.shape[3])
        else:
            out, inner = module.weight.shape
            rows = int(args[0].size // inner)
        found.append((rows * inner * out, f"{rows}x{inner} by {inner}x{out}"))

    handles = [m.register_forward_hook(measure) for m in model.modules()
               if isinstance(m, (nn.Linear, nn.Conv2d))]
    was_training = model.training
    try:
        model.eval()
        with cr.no_grad():
            model(batch if isinstance(batch, cr.Tensor) else cr.tensor(batch))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return max(found)


def others_running(samples: int = 5) -> int:
    """Tasks running on the machine now that are not this process's threads: the median
    of a few looks at ``/proc/loadavg`` (0 where there is no /proc)."""
    counts = []
    for i in range(samples):
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open("/proc/loadavg") as f:
                running = int(f.read().split()[3].split("/")[0])
            counts.append(max(0, running - _own_running()))
        if i + 1 < samples:
            time.sleep(0.002)
    return sorted(counts)[len(counts) // 2] if counts else 0


def _own_running() -> int:
    """This process's threads in state R (running or ready to), this one included."""
    n = 0
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError, IndexError):
            with open(f"/proc/self/task/{task}/stat") as f:
                # the state follows the command name, which is in parentheses
                n += f.read().rsplit(")", 1)[1].split()[0] == "R"
    return n
