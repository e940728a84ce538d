"""examples/ddp_digits.py on 2 ranks learns the digits, and its ranks stay bitwise equal."""

from pathlib import Path

from .helpers import mpi

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ddp_digits.py"


def test_the_ddp_example_learns_on_two_ranks():
    result = mpi(2, str(EXAMPLE), "--epochs", "2")
    assert result.returncode == 0, result.stderr
    last = [line for line in result.stdout.splitlines() if line.startswith("epoch 2:")]
    assert len(last) == 1 and float(last[0].split()[4]) > 0.9, result.stdout  # rank 0 alone
    assert "weights bitwise the same on every rank: True" in result.stdout
