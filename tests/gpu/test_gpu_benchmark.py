"""benchmarks/gpu.py runs (a short round) where there is a GPU, and says why not elsewhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu.py"


def test_gpu_benchmark_runs_or_says_what_is_missing():
    out = subprocess.run([sys.executable, str(SCRIPT), "--rounds", "1", "--repeats", "3"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    if "skipped:" in out.stdout:
        assert any(word in out.stdout for word in ("CuPy", "CUDA", "PyTorch")), out.stdout
    else:
        assert "W1: chainrule (CuPy)" in out.stdout and "W3:" in out.stdout, out.stdout
