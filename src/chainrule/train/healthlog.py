"""``chainrule train --health``: a run's health monitor, its records and its figure.

A ``chainrule.health.Monitor`` samples one step in ``every``; each record is appended to
``RUN/health.jsonl`` as it is made, each warning printed as one line when its signal
crosses its threshold, and ``RUN/health.png`` drawn when the run ends. A resumed run goes
on counting steps from where it stopped and appends to the same file. Without
``--health`` none of this exists: the model gets no hook.
"""

from __future__ import annotations

from pathlib import Path

from chainrule.errors import UsageError

# NOTE: chainrule.health is imported by HealthLog only: `chainrule train` reads
# ``sampling_interval`` from here on every run, --health or not.


def sampling_interval(health: bool, every: int | None) -> int:
    """The interval of ``--health`` and ``--health-every N`` (0: off)."""
    if every is None:
        return 50 if health else 0
    if not health:
        raise UsageError("--health-every sets how often --health samples. help: add --health")
    if every < 1:
        raise UsageError(f"--health-every must be at least 1, got {every}")
    return every


class HealthLog:
    """The monitor of one run, and the files it leaves in the run directory."""

    def __init__(self, model, every: int, out_dir: Path, console, num_classes: int,
                 start_step: int):
        from chainrule.health import Monitor, records

        self.records = records
        self.path = Path(out_dir) / records.FILE_NAME
        self.figure = self.path.with_name("health.png")
        self.console = console
        self.monitor = Monitor(model, every, num_classes=num_classes, start_step=start_step,
                               log=self._print, keep=False)

    def _print(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False)

    def new_epoch(self, epoch: int) -> None:
        self.monitor.new_epoch(epoch)

    def step(self, path: Path, loss: float, optimizer) -> None:
        """After ``optimizer.step()``: a record appended to ``path`` on a sampled step."""
        record = self.monitor.step(loss, optimizer)
        if record is not None:
            self.records.append(path, record)

    def finish(self, figure: Path, run_name: str) -> None:
        """Draw ``figure`` from the whole record (a resumed run's earlier steps too)."""
        from chainrule.health.figure import draw

        self.monitor.close()
        if self.path.exists():
            draw(self.records.read(self.path).records, figure, run_name)

    def close(self) -> None:
        self.monitor.close()
