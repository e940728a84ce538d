"""Heat maps: what every neuron (and the output) says over the plane, packed for the page.

A map is a G x G grid over the data's square, row 0 at the top (x2 largest), column 0 at
the left (x1 smallest). Values are packed as one byte each, base64 (a 2-6-6-1 network's
maps are about 5 KB a step, where JSON numbers would be ten times that):

    byte = round((clip(v, -1, 1) + 1) / 2 * 255)   for tanh, linear, relu outputs and inputs
    byte = round(clip(p, 0, 1) * 255)              for the softmax output's probabilities

``decode`` is the inverse, for tests and scripts (to within 1/255 of the clipped value).
"""

from __future__ import annotations

import base64

import numpy as np

#: Grid sizes: the output's large map and each neuron's small one.
OUTPUT_GRID = 48
NEURON_GRID = 20


def grid(domain: tuple[float, float], size: int) -> np.ndarray:
    """The (size * size, 2) points of the grid, row by row from the top."""
    ticks = np.linspace(domain[0], domain[1], size)
    x1, x2 = np.meshgrid(ticks, ticks[::-1])
    return np.c_[x1.ravel(), x2.ravel()]


def pack(values: np.ndarray, *, probability: bool = False) -> str:
    """Values as base64 bytes (see the module docstring)."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    scaled = np.clip(v, 0, 1) if probability else (np.clip(v, -1, 1) + 1) / 2
    return base64.b64encode(np.round(scaled * 255).astype(np.uint8).tobytes()).decode("ascii")


def decode(packed: str, *, probability: bool = False) -> np.ndarray:
    """The values a packed map stands for (flat, row by row)."""
    b = np.frombuffer(base64.b64decode(packed), dtype=np.uint8) / 255
    return b if probability else b * 2 - 1


def feature_maps(feature_values: np.ndarray) -> list[str]:
    """One map per input feature, each scaled by its largest |value| on the grid, so
    X1 and X1^2 both show their shape."""
    out = []
    for column in feature_values.T:
        top = float(np.max(np.abs(column))) or 1.0
        out.append(pack(column / top))
    return out


def network_maps(per_layer: list[np.ndarray], softmax: bool) -> list[list[str]]:
    """One map per neuron, layer by layer (``per_layer[k]`` is (G*G, size_k))."""
    maps = []
    for k, a in enumerate(per_layer):
        probability = softmax and k == len(per_layer) - 1
        maps.append([pack(a[:, j], probability=probability) for j in range(a.shape[1])])
    return maps


def output_map(out: np.ndarray, softmax: bool) -> list[str]:
    """The output layer on the large grid: one map (tanh or linear), or one per class."""
    if softmax:
        return [pack(out[:, c], probability=True) for c in range(out.shape[1])]
    return [pack(out[:, 0])]
