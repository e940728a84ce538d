"""Numerics the primitives need and NumPy lacks: erf, vectorized for float32.

Pure NumPy and math: no ops, no tensors.
"""

from __future__ import annotations

import functools
import math

import numpy as np

#: erf of each element by math.erf (exact, slow): what float64 arrays get.
erf_exact = np.frompyfunc(math.erf, 1, 1)


@functools.cache  # made on first use: it imports numpy.polynomial and calls math.erf 80 times
def _erf_pieces(width: float = 0.5, degree: int = 9, top: float = 4.0) -> np.ndarray:
    """Polynomials for erf(a) / a on [0, top), one per piece of ``width``, highest power first.

    Each interpolates math.erf at Chebyshev points of its piece, in u in [-1, 1] across
    the piece. Dividing by a makes the first piece's polynomial carry erf's slope at 0, so
    tiny arguments keep their relative accuracy.
    """
    cheb = np.polynomial.chebyshev
    rows = []
    for lo in np.arange(0.0, top, width):
        def h(u, lo=lo):
            a = lo + (np.atleast_1d(u) + 1) * (width / 2)
            return np.array([math.erf(v) / v if v else 2 / math.sqrt(math.pi) for v in a])

        rows.append(cheb.cheb2poly(cheb.chebinterpolate(h, degree))[::-1])
    return np.array(rows).T.copy()  # (degree + 1, pieces): row j = every piece's j-th coefficient


def erf_float32(x: np.ndarray) -> np.ndarray:
    """erf of a float32 array, correctly rounded on a 400,001-point grid over [-6, 6] and
    within 2e-7 relative for tiny arguments (tests/ops/test_erf.py), computed in float64
    with eight degree-9 pieces.

    erf is odd, and in float32 it is exactly 1 from |x| = 4 on (erfc(4) = 1.5e-8 is below
    half a float32 ulp of 1), so only [0, 4) needs a polynomial.
    """
    a = np.abs(x, dtype=np.float64)
    np.minimum(a, 4 - 1e-9, out=a)
    with np.errstate(invalid="ignore"):  # NaN: any piece will do, u is NaN too
        piece = (a * 2).astype(np.intp)  # width 0.5
    u = a * 4
    u -= 2 * piece + 1  # position within the piece, in [-1, 1]
    pieces = _erf_pieces()
    y = np.take(pieces[0], piece, mode="clip")
    for coefficients in pieces[1:]:
        y *= u
        y += np.take(coefficients, piece, mode="clip")
    y *= a
    return np.copysign(y, x).astype(np.float32)
