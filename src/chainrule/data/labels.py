"""Labels to class indices: the one place where a label array becomes int64 classes.

A label that is not a whole number in 0..k-1 (a negative one, one past the classes, NaN,
0.5) would either crash training far from its cause (an IndexError in the loss) or,
worse, be truncated silently by ``astype``: 1.9 would train as class 1. So every label is
checked before the cast, and the error names the file and the first bad label.
"""

from __future__ import annotations

import numpy as np

from chainrule.data.errors import DataError


def class_indices(labels, num_classes: int, where: str) -> np.ndarray:
    """``labels`` as int64 class indices, or a ``DataError`` naming ``where``.

    Accepts any integer or boolean array, and float arrays whose values are exact whole
    numbers (3.0); refuses NaN, infinities, fractions and anything outside 0..k-1.
    """
    labels = np.asarray(labels)
    if labels.dtype == np.bool_:
        labels = labels.astype(np.int64)
    if not (np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.floating)):
        raise DataError(f"{where}: labels must be 0..{num_classes - 1} (whole numbers: class "
                        f"indices), found an array of {labels.dtype}")
    flat = labels.reshape(-1)
    if np.issubdtype(flat.dtype, np.floating):
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(flat) | (flat != np.floor(flat))
        bad |= ~bad & ((flat < 0) | (flat > num_classes - 1))
    else:
        # NOTE: compare in the label's own dtype: casting INT_MIN or 2**64-1 first could wrap.
        bad = (flat < 0) | (flat > num_classes - 1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        more = int(bad.sum()) - 1
        also = f" (and {more} more)" if more else ""
        raise DataError(
            f"{where}: labels must be 0..{num_classes - 1} (whole numbers: class indices), "
            f"found {flat[first].item()!r} at position {first}{also}. help: fix or drop "
            "those samples; labels are never rounded or wrapped")
    return labels.astype(np.int64)
