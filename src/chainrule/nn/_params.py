"""What every layer's constructor shares: its ``dtype=``/``device=`` keywords and its
zero-filled parameters (filled by nn.init afterwards)."""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B
from chainrule.nn.module import Parameter


def zeros_param(*shape, dtype=None):
    return Parameter(np.zeros(shape, dtype=dtype_arg(dtype)))


def dtype_arg(dtype, device=None):
    """A layer's ``dtype=`` (PyTorch's factory keyword; the default dtype when None) and
    ``device=`` (only the CPU: chainrule runs on NumPy)."""
    if device is not None and str(device).split(":")[0] != "cpu":
        raise TypeError(f"device={device!r}: chainrule runs on NumPy arrays, on the CPU. "
                        "help: drop device=, or pass device='cpu'")
    if dtype is None:
        return B.DEFAULT_FLOAT
    dtype = np.dtype(dtype)
    if not B.is_float(dtype):
        raise TypeError(f"dtype={dtype}: parameters must be floating point. help: use "
                        "cr.float32 or cr.float64")
    return dtype
