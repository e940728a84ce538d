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
    assert "反向传播" in out.stdout and "情况二，手算" in out.stdout
    assert f"图已写入：{fig}" in out.stdout
    assert "by hand" not in out.stdout and "figure:" not in out.stdout  # no English left
    assert fig.exists()
    en = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                        timeout=120)
    assert en.returncode == 0 and "case 2 by hand" in en.stdout
