"""Shared by the training tests: run the command in-process, snapshot a directory, IDX files."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from chainrule.cli import main

#: A run that takes a fraction of a second: the digits MLP with one small hidden layer.
TINY = ["--no-progress", "--hidden", "8", "--dropout", "0", "--threads", "1"]


def train(argv, capsys) -> tuple[int, str, str]:
    """``chainrule train ARGV`` in this process: (exit code, stdout, stderr)."""
    return command(["train", *argv], capsys)


def command(argv, capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    """The single line of an error report (fails if there are more, or a traceback)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def snapshot(folder) -> dict:
    """Every file under ``folder``: its bytes, keyed by relative path."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_idx_dir(folder, n: int = 40, side: int = 28, seed: int = 0) -> Path:
    """Four uncompressed MNIST-format IDX files of ``n`` random ``side`` x ``side`` images."""
    folder = os.fsencode(folder)
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for images, labels in ((b"train-images-idx3-ubyte", b"train-labels-idx1-ubyte"),
                           (b"t10k-images-idx3-ubyte", b"t10k-labels-idx1-ubyte")):
        x = rng.integers(0, 256, (n, side, side), dtype=np.uint8)
        y = np.arange(n, dtype=np.uint8) % 10
        with open(os.path.join(folder, images), "wb") as f:
            f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, n, side, side) + x.tobytes())
        with open(os.path.join(folder, labels), "wb") as f:
            f.write(struct.pack(">BBBBI", 0, 0, 8, 1, n) + y.tobytes())
    return Path(os.fsdecode(folder))
