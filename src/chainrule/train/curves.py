"""curves.png, the loss and accuracy per epoch: drawn here, or in a helper process that
loads matplotlib while the run trains.

Drawing the figure needs matplotlib, whose import alone takes about 0.4 s (a tenth of the
digits run, docs/performance.md, "Start-up"), and the drawing itself about 0.15 s. A run
therefore starts a ``Drawer`` as it starts training: when a core is idle, the drawer
starts a helper process that imports matplotlib on that core and waits; at the end the
run sends it the history and gets the PNG's bytes back, which it writes itself (so a
failed write is reported as any other). When no core is idle, a helper would only take
time from training: the run draws the figure itself at the end. The bytes are the same
either way, and a helper that fails for any reason is replaced by drawing here.

"A core is idle": the cores this process may run on were, together, at least half a core
idle (``_IDLE``) while the run set itself up (from the import of this module to the
first epoch: the data, the model, the run directory; Linux's /proc/stat counts each
core's idle time). Not the load average, which remembers the last minute: the previous
run of a benchmark's loop, or of a user's, would count as busy. Where /proc/stat is
missing, or the set-up was too short to tell, the load average decides: below the cores
less one. A system with neither (Windows) draws here.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys


def curves_png(history: list, title: str, best_epoch: int | None = None) -> bytes:
    """The figure of ``curves_figure`` as PNG bytes."""
    import io

    buf = io.BytesIO()
    curves_figure(history, title, best_epoch).savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def curves_figure(history: list, title: str, best_epoch: int | None = None):
    """The loss and accuracy plot as a matplotlib ``Figure`` (object API: no pyplot state).

    ``best_epoch`` (the one chosen on validation) is marked by a dotted line, with the
    test accuracy of that model: the number a reader should quote, not the test maximum.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in history]
    style = ("o-", "^-", "s-") if len(epochs) <= 30 else ("-", "-", "-")  # markers while sparse
    with_val = any(row.get("val_accuracy") is not None for row in history)
    sets = [("train", style[0])] + ([("val", style[1])] if with_val else []) + \
        [("test", style[2])]
    fig = Figure(figsize=(10, 4))
    # Fixed margins: tight_layout would lay the text out once more to find them (a third
    # of the drawing time), and they come out the same for every run's labels.
    fig.subplots_adjust(left=0.075, right=0.985, bottom=0.15, top=0.83, wspace=0.2)
    ax_loss, ax_acc = fig.subplots(1, 2)
    for name, fmt in sets:
        label = "validation" if name == "val" else name
        ax_loss.plot(epochs, [_nan(r.get(f"{name}_loss")) for r in history], fmt, label=label)
        ax_acc.plot(epochs, [_nan(r.get(f"{name}_accuracy")) for r in history], fmt,
                    label=label)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    best = next((r for r in history if r["epoch"] == best_epoch), None)
    acc_title = "accuracy"
    if best is not None:
        for ax in (ax_loss, ax_acc):
            ax.axvline(best["epoch"], color="gray", linestyle=":", linewidth=1)
        # in the title, where no curve can hide it
        acc_title += (f"; best{' by validation' if with_val else ' (last)'}: epoch "
                      f"{best['epoch']}, test {best['test_accuracy']:.4f}")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title=acc_title)
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
        # Whole epochs only, even when one epoch leaves a single integer in view.
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    fig.suptitle(title)
    return fig


def _nan(value) -> float:
    return math.nan if value is None else value


#: How long the run waits for the helper's figure before drawing it itself (seconds).
_WAIT = 60.0


#: Idle cores, at least, that make a helper worth starting; and the least time (clock
#: ticks, all cores together) that /proc/stat must have counted to tell.
_IDLE, _WINDOW = 0.5, 10


def _cpu_ticks() -> tuple[int, int] | None:
    """(idle, all) clock ticks of the cores this process may run on, since boot (idle
    includes waiting for the disk); None without /proc/stat."""
    try:
        allowed = {f"cpu{i}".encode() for i in os.sched_getaffinity(0)}
        with open("/proc/stat", "rb") as f:
            rows = [line.split() for line in f if line.startswith(b"cpu")]
    except (OSError, AttributeError):
        return None
    idle = total = 0
    for row in rows:
        if row[0] in allowed:
            ticks = [int(x) for x in row[1:9]]  # user nice system idle iowait irq softirq steal
            idle, total = idle + ticks[3] + ticks[4], total + sum(ticks)
    return (idle, total) if total else None


_SET_UP = _cpu_ticks()  # when the run's modules load: the start of its set-up


def core_idle() -> bool:
    """Whether a core is idle besides the one this run trains on (the module's docstring)."""
    since, now = _SET_UP, _cpu_ticks()
    if since is not None and now is not None and now[1] - since[1] >= _WINDOW:
        cores = len(os.sched_getaffinity(0))
        return (now[0] - since[0]) / (now[1] - since[1]) * cores >= _IDLE
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):  # no load average on this system
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        os.cpu_count() or 1
    return load < cores - 1


class Drawer:
    """Draws curves.png at the end of a run, in a helper process started now (loading
    matplotlib while the run trains) when ``helper``: by default when a core is idle."""

    def __init__(self, helper: bool | None = None):
        self._process, self._asked = None, False
        if helper if helper is not None else core_idle():
            self._process = _start_helper()

    @property
    def in_helper(self) -> bool:
        return self._process is not None

    def ask(self, history: list, title: str, best_epoch: int | None = None) -> None:
        """Hand the helper the figure now, so that it draws while the run writes its last
        files; ``png`` with the same arguments collects it."""
        self._asked = True
        if self._process is not None:
            # one line: JSON escapes every newline inside it
            request = json.dumps({"history": history, "title": title,
                                  "best_epoch": best_epoch}).encode() + b"\n"
            try:
                self._process.stdin.write(request)
                self._process.stdin.flush()
            except OSError:  # the helper is gone: drawn here
                self.close()

    def png(self, history: list, title: str, best_epoch: int | None = None) -> bytes:
        """The figure's PNG bytes: the helper's when it gives them, else drawn here."""
        if not self._asked:
            self.ask(history, title, best_epoch)
        process, self._process = self._process, None
        if process is not None:
            try:
                png, _ = process.communicate(timeout=_WAIT)
            except (OSError, subprocess.TimeoutExpired):
                png = None
            finally:
                _end(process)
            if process.returncode == 0 and png:
                return png
        return curves_png(history, title, best_epoch)

    def close(self) -> None:
        """End the helper when the run stops before asking for the figure."""
        process, self._process = self._process, None
        if process is not None:
            _end(process)


def _start_helper():
    """The helper process: this module of this chainrule, under this Python; None when it
    cannot start (the run then draws the figure itself)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = (f"import sys; sys.path.insert(0, {root!r}); "
            "from chainrule.train.curves import _serve; _serve()")
    try:
        # A session of its own: the terminal's Ctrl-C goes to the run, which stops it.
        return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    except OSError:
        return None


def _end(process) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()
    for pipe in (process.stdin, process.stdout):
        if pipe is not None and not pipe.closed:
            pipe.close()


def _serve() -> None:
    """The helper: import matplotlib, then draw the figure that stdin's line asks for, its
    PNG to stdout; nothing when stdin closes first (the run stopped without asking)."""
    # A small figure first, while the run trains: matplotlib loaded, its fonts read.
    curves_png([{"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.5, "test_loss": 1.0,
                 "test_accuracy": 0.5}], "")
    request = sys.stdin.buffer.readline()
    if not request:
        return
    request = json.loads(request)
    sys.stdout.buffer.write(curves_png(request["history"], request["title"],
                                       request["best_epoch"]))
    sys.stdout.buffer.flush()
