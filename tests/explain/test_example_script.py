"""examples/explain_lecture.py runs and shows the derivation."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "explain_lecture.py"


def test_explain_lecture_example(tmp_path):
    fig = tmp_path / "lecture.svg"
    out = subprocess.run([sys.executable, str(SCRIPT), "--lang", "zh", "--figure", str(fig)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "反向传播" in out.stdout and "case 2 by hand" in out.stdout
    assert fig.exists()
