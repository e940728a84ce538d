"""Rebuild src/chainrule/data/digits.npz from the UCI optical-recognition digits.

Source: the UCI "Optical Recognition of Handwritten Digits" data set (Alpaydin & Kaynak,
1998; CC BY 4.0; DOI 10.24432/C50P49), the 1,797 8x8 images (pixel counts 0..16) as
scikit-learn ships them in ``sklearn/datasets/data/digits.csv.gz``: one image per line,
64 pixel values then the label. Run once, with that file's path:

    python tools/make_digits.py PATH/TO/digits.csv.gz
"""

import gzip
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "src" / "chainrule" / "data" / "digits.npz"


def main(csv_gz: str) -> None:
    with gzip.open(csv_gz, "rt") as f:
        rows = np.loadtxt(f, delimiter=",")
    images = rows[:, :64].astype(np.uint8).reshape(-1, 8, 8)
    labels = rows[:, 64].astype(np.uint8)
    if images.shape != (1797, 8, 8) or images.max() > 16 or set(labels) != set(range(10)):
        raise SystemExit(f"unexpected contents: {images.shape}, max {images.max()}")
    np.savez_compressed(OUT, images=images, labels=labels)  # ~45 KB
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1])
