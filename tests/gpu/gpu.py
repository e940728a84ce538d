"""What the GPU tests need, and the reason they skip without it: CuPy and a CUDA device.

``make gpu-check`` runs them (and benchmarks/gpu.py) on a machine with an NVIDIA GPU;
anywhere else every test here skips, saying which of the two is missing.
"""

from __future__ import annotations

import pytest


def cupy_or_skip():
    """The cupy module, or a skip naming what is missing (CuPy, or a CUDA device)."""
    cupy = pytest.importorskip(
        "cupy", reason="CuPy is not installed: the GPU tests need it (pip install "
                       "cupy-cuda12x or cupy-cuda13x; docs/backends.md)")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # noqa: BLE001 - no driver, no runtime: all the same here
        pytest.skip(f"CuPy is installed but CUDA is not usable here ({type(e).__name__}: {e})")
    if count == 0:
        pytest.skip("CuPy is installed but this machine has no CUDA device")
    return cupy
