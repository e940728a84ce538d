"""chainrule keeps freed memory for reuse (src/chainrule/_allocator.py): a CNN training
step stops writing to fresh pages every time. Counted in page faults, not timed."""

import os
import subprocess
import sys
import textwrap

import pytest

import chainrule._allocator as allocator

STEP = textwrap.dedent("""
    import resource
    import numpy as np
    import chainrule as cr, chainrule.nn.functional as F
    from chainrule import optim
    from chainrule.train import models
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
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
""")


def _faults_per_step(**env) -> float:
    out = subprocess.run([sys.executable, "-c", STEP], capture_output=True, text=True,
                         env={**os.environ, "OPENBLAS_NUM_THREADS": "1", **env}, timeout=300,
                         check=True)
    return float(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_settings_are_applied_on_import():
    assert allocator.active


@pytest.mark.skipif(not allocator.active, reason="the allocator settings did not apply")
def test_a_cnn_step_reuses_memory_and_the_system_setting_turns_it_off():
    kept = _faults_per_step()
    system = _faults_per_step(CHAINRULE_MALLOC="system")
    assert system > 1000  # glibc's defaults: fresh pages for the big arrays every step
    assert kept < system / 20
