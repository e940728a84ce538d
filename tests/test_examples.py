"""The examples run and do what they say."""

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_xor_engine_example_learns_xor():
    out = subprocess.run([sys.executable, str(EXAMPLES / "xor_engine.py")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "predictions" in out.stdout
