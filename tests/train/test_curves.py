"""curves.png: drawn in a helper process when a core is idle, else in the run's own; the
same bytes either way, and any failure of the helper falls back to drawing here."""

import os
import subprocess
import sys

import pytest

from chainrule.train import curves
from chainrule.train.curves import Drawer, curves_png

HISTORY = [{"epoch": e, "train_loss": 1 / e, "train_accuracy": 0.5 + 0.04 * e,
            "val_loss": 1.2 / e, "val_accuracy": 0.5 + 0.03 * e, "test_loss": float("nan")
            if e == 2 else 1.1 / e, "test_accuracy": 0.45 + 0.04 * e, "lr": 1e-3,
            "seconds": 0.01} for e in range(1, 6)]


def test_the_helper_draws_the_same_bytes_as_the_run():
    helper = Drawer(helper=True)
    process = helper._process
    assert helper.in_helper and os.getsid(process.pid) != os.getsid(0)  # no Ctrl-C for it
    png = helper.png(HISTORY, "run", best_epoch=3)
    assert process.returncode == 0  # its figure, not the fallback's
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png == Drawer(helper=False).png(HISTORY, "run", 3) == curves_png(HISTORY, "run", 3)


def test_asked_first_the_helper_draws_while_the_run_writes():
    helper = Drawer(helper=True)
    process = helper._process
    helper.ask(HISTORY, "run", 3)
    assert helper.png(HISTORY, "run", 3) == curves_png(HISTORY, "run", 3)
    assert process.returncode == 0


def test_a_helper_that_fails_is_replaced_by_drawing_here(monkeypatch):
    def broken():
        return subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    monkeypatch.setattr(curves, "_start_helper", broken)
    drawer = Drawer(helper=True)
    assert drawer.in_helper
    assert drawer.png(HISTORY, "run", 3) == curves_png(HISTORY, "run", 3)
    assert not drawer.in_helper  # asked once


def test_a_run_that_stops_early_ends_its_helper():
    drawer = Drawer(helper=True)
    process = drawer._process
    drawer.close()
    assert process.returncode is not None and not drawer.in_helper
    drawer.close()  # twice is harmless


@pytest.mark.parametrize("idle_ticks, idle", [(50, True), (25, True), (24, False), (0, False)])
def test_a_helper_only_when_a_core_was_idle_during_the_set_up(monkeypatch, idle_ticks, idle):
    """Over 100 ticks of 2 cores (one of them the run's own): idle ticks of 25 are half a
    core."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(curves, "_cpu_ticks", lambda: (1000 + idle_ticks, 5100))
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))  # not asked
    monkeypatch.setattr(curves, "_SET_UP", (1000, 5000))
    assert curves.core_idle() is idle
    started = []
    monkeypatch.setattr(curves, "_start_helper", lambda: started.append(1))
    Drawer()
    assert started == ([1] if idle else [])


def test_cpu_ticks_count_on():
    before = curves._cpu_ticks()
    if before is None:  # no /proc/stat here: the load average decides (below)
        return
    sum(range(2_000_000))
    after = curves._cpu_ticks()
    assert after[1] >= before[1] and after[0] >= before[0] and after[1] - before[1] > 0


@pytest.mark.parametrize("load, cores, idle", [(0.3, 2, True), (0.99, 2, True), (1.0, 2, False),
                                               (2.5, 2, False), (0.5, 1, False),
                                               (2.5, 4, True)])
def test_else_the_load_average_decides(monkeypatch, load, cores, idle):
    """Without /proc/stat, or after a set-up too short to count: below the cores less one."""
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(curves, "_cpu_ticks", lambda: (1000, 5005))
    monkeypatch.setattr(curves, "_SET_UP", None)
    assert curves.core_idle() is idle
    monkeypatch.setattr(curves, "_SET_UP", (1000, 5000))
    assert curves.core_idle() is idle  # 5 ticks: too few to tell


def test_no_load_average_no_helper(monkeypatch):
    def unknown():
        raise OSError("no load average")

    monkeypatch.setattr(os, "getloadavg", unknown)
    monkeypatch.setattr(curves, "_SET_UP", None)
    assert not curves.core_idle()
