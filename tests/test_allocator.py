"""chainrule keeps freed memory for reuse (src/chainrule/_allocator.py) where training pays
for it: `chainrule train`, `chainrule.train.run` and `fit`, and benchmarks/run.py for every
framework alike; a bare `import chainrule` changes nothing. Each check runs in a fresh
process and counts the page faults of a CNN training step, not its time: with glibc's
defaults every step writes to fresh pages (thousands of faults), with the settings none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")

# Counts the faults of a CNN step, and spies on the C library: which of its functions named
# mallopt were looked up (through ctypes, as _allocator.py does).
PRELUDE = textwrap.dedent("""
    import ctypes, json, resource, sys
    calls = []

    class SpyCDLL(ctypes.CDLL):
        def __getitem__(self, name):
            if name == "mallopt":
                calls.append(name)
            return super().__getitem__(name)

    ctypes.CDLL = SpyCDLL
    import numpy as np
    import chainrule as cr, chainrule.nn.functional as F
    import chainrule.train, chainrule.train.loop, chainrule.train.cli  # training's modules too
    from chainrule import _allocator, optim
    from chainrule.train import models

    def faults_per_step():
        cr.manual_seed(0)
        m = models.cnn((1, 28, 28), (32, 64), 10, batch_norm=True)
        opt = optim.AdamW(m.parameters(), lr=1e-3)
        x = cr.tensor(np.random.default_rng(0).random((64, 1, 28, 28), dtype=np.float32))
        y = np.arange(64) % 10
        def step():
            loss = F.cross_entropy(m(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        for _ in range(3):
            step()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(5):
            step()
        return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5

    def report(**kw):
        print(json.dumps({"active": _allocator.active, "mallopt": len(calls), **kw}))
""")

TINY_FIT = """
    from chainrule import nn
    from chainrule.data import load_dataset
    x, y, _ = load_dataset("moons", "train", samples=64)
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    cr.train.fit(model, optim.SGD(model.parameters(), lr=0.1), (x, y), (x, y), epochs=1,
                 log=None)
"""


def _run(*snippets: str, **env) -> dict:
    """Run PRELUDE and then ``snippets`` in a fresh process; the dict its ``report`` printed."""
    code = PRELUDE + "".join(textwrap.dedent(s) for s in snippets)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "OPENBLAS_NUM_THREADS": "1", **env}, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_bare_import_changes_nothing_and_fit_applies_the_settings():
    got = _run("""
        bare = (_allocator.active, len(calls), faults_per_step())
        """, TINY_FIT, """
        report(bare=bare, after=faults_per_step())
        """)
    active, mallopt, faults = got["bare"]
    assert (active, mallopt) == (False, 0)  # importing every floor looked up no mallopt
    assert faults > 1000  # glibc's defaults: fresh pages for the big arrays every step
    assert got["active"] and got["mallopt"] == 1  # fit set it (the spy sees the call)
    assert got["after"] < faults / 20


def test_chainrule_train_applies_the_settings(tmp_path):
    got = _run(f"""
        from chainrule.cli import main
        bare = faults_per_step()
        code = main(["train", "--dataset", "moons", "--samples", "64", "--hidden", "4",
                     "--epochs", "1", "--threads", "1", "--no-progress",
                     "--out", {str(tmp_path / "run")!r}])
        report(code=code, bare=bare, after=faults_per_step())
        """)
    assert got["code"] == 0 and got["active"] and got["mallopt"] == 1
    assert got["bare"] > 1000 and got["after"] < got["bare"] / 20


def test_the_system_setting_keeps_glibcs_defaults_for_a_run():
    got = _run(TINY_FIT, """
        report(after=faults_per_step())
        """, CHAINRULE_MALLOC="system")
    assert (got["active"], got["mallopt"]) == (False, 0)
    assert got["after"] > 1000


def test_the_benchmarks_apply_the_settings_for_every_framework():
    got = _run(f"""
        sys.path.insert(0, {str(BENCHMARKS)!r})
        import run
        said = run.keep_freed_memory()
        report(said=said, after=faults_per_step())
        """)
    assert got["active"] and got["mallopt"] == 1 and got["after"] < 100
    assert got["said"].startswith("freed memory kept for reuse")


def test_the_benchmark_process_sets_them_before_measuring():
    """run.py's child process (one thread count) says what it set; W4 is the quickest."""
    env = {**os.environ, "BENCH_NO_JAX": "1", "BENCH_NO_MICROGRAD": "1"}
    out = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--child", "--threads",
                          "1", "--workloads", "W4", "--repeats", "1", "--rounds", "1",
                          "--no-memory"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "allocator: freed memory kept for reuse (mallopt), for every framework alike" in \
        out.stdout.splitlines()
