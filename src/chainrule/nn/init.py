"""Weight initialisers, with PyTorch's names, arguments and formulas (``torch.nn.init``).

Each fills a tensor in place (its ``data``, so no graph is recorded, as under PyTorch's
``no_grad``), bumps its version, and returns it. Random draws come from chainrule's global
generator, so ``cr.manual_seed(n)`` makes every model's initial weights reproducible, or
from ``generator=``, a NumPy ``np.random.Generator`` (as ``DataLoader`` takes), which
leaves the global one untouched.

``fan_in`` of a weight (out, in, *kernel) is in * prod(kernel), ``fan_out`` is
out * prod(kernel).
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import _backend as B
from chainrule.tensor import Tensor


def _fill(t, values) -> None:
    t.data[...] = values
    t.bump_version()


def _target(t, who: str, ndim: tuple | None = None) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"init.{who}: expected a tensor or Parameter, got "
                        f"{type(t).__name__}. help: pass the layer's weight, e.g. "
                        f"nn.init.{who}(layer.weight)")
    if ndim is not None and t.ndim not in ndim:
        raise ValueError(f"init.{who}: takes a tensor with {' or '.join(map(str, ndim))} axes, "
                         f"got shape {tuple(t.shape)}. help: "
                         + ("use it on a Linear weight" if ndim == (2,) else
                            "use it on a Conv weight (out, in, *kernel)"))


def _rng(generator, who: str):
    """The generator to draw from: chainrule's global one unless one is given."""
    if generator is None:
        return B.random.generator
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"init.{who}: generator must be a NumPy Generator, got "
                        f"{type(generator).__name__}. help: generator=np.random.default_rng"
                        "(seed), or leave it out and use cr.manual_seed(seed)")
    return generator


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel)."""
    if len(shape) < 2:
        raise ValueError(f"init: fan_in and fan_out need a weight with at least 2 axes, got "
                         f"shape {tuple(shape)}. help: initialise a bias with uniform_ or "
                         "zeros_ instead")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _calculate_fan_in_and_fan_out(t) -> tuple[int, int]:
    """PyTorch's (private, but often called) name for ``fans(t.shape)``."""
    return fans(t.shape)


_LINEAR = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
           "conv_transpose2d", "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain that keeps activations' variance steady through ``nonlinearity``:
    1 (linear, convolutions, sigmoid), 5/3 (tanh), sqrt(2) (relu), sqrt(2 / (1 + a^2))
    (leaky_relu with slope a, default 0.01), 3/4 (selu)."""
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is not None and (isinstance(param, bool)
                                  or not isinstance(param, (int, float))):
            raise ValueError(f"calculate_gain: leaky_relu's negative slope must be a number, "
                             f"got {param!r}. help: e.g. calculate_gain('leaky_relu', 0.2)")
        a = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + a * a))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}. help: one of "
                     f"{', '.join(_LINEAR + ('tanh', 'relu', 'leaky_relu', 'selu'))}")


def _fan(shape, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}. help: "
                         "'fan_in' keeps the forward pass's variance, 'fan_out' the backward's")
    fan_in, fan_out = fans(shape)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(t, a: float = 0.0, b: float = 1.0, generator=None):
    """U(a, b)"""
    _target(t, "uniform_")
    _fill(t, _rng(generator, "uniform_").uniform(a, b, t.shape))
    return t


def normal_(t, mean: float = 0.0, std: float = 1.0, generator=None):
    """N(mean, std^2)"""
    _target(t, "normal_")
    _fill(t, _rng(generator, "normal_").normal(mean, std, t.shape))
    return t


def constant_(t, val: float | None = None, *, value: float | None = None):
    """Every element ``val`` (PyTorch's name; ``value=`` works too)."""
    _target(t, "constant_")
    if (val is None) == (value is None):
        raise TypeError("init.constant_: give the value once. help: nn.init.constant_(w, 0.5)")
    _fill(t, val if value is None else value)
    return t


def zeros_(t):
    _target(t, "zeros_")
    _fill(t, 0)
    return t


def ones_(t):
    _target(t, "ones_")
    _fill(t, 1)
    return t


def eye_(t):
    """The identity matrix (ones on the diagonal of a 2-d tensor, whatever its shape)."""
    _target(t, "eye_", ndim=(2,))
    _fill(t, np.eye(*t.shape))
    return t


def dirac_(t, groups: int = 1):
    """The identity of a convolution (out, in, *kernel) with 1 to 3 spatial axes: a one at
    the kernel's centre for each of the first min(out / groups, in) channel pairs of every
    group, zeros elsewhere."""
    _target(t, "dirac_", ndim=(3, 4, 5))
    out, cin = t.shape[:2]
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1 or out % groups:
        raise ValueError(f"init.dirac_: groups must be an int >= 1 that divides the {out} "
                         f"output channels, got {groups!r}. help: pass the conv's groups")
    per_group = out // groups
    values = np.zeros(t.shape)
    centre = tuple(k // 2 for k in t.shape[2:])
    for g in range(groups):
        for d in range(min(per_group, cin)):
            values[(g * per_group + d, d, *centre)] = 1
    _fill(t, values)
    return t


def kaiming_uniform_(t, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator=None):
    """U(-bound, bound), bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)
    (He et al.)"""
    _target(t, "kaiming_uniform_")
    if t.size == 0:
        return t  # nothing to fill (and no fan to divide by)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(t.shape, mode))
    return uniform_(t, -bound, bound, generator=generator)


def kaiming_normal_(t, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator=None):
    """N(0, std^2), std = gain / sqrt(fan) (He et al.)"""
    _target(t, "kaiming_normal_")
    if t.size == 0:
        return t  # nothing to fill (and no fan to divide by)
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(t.shape, mode))
    return normal_(t, 0.0, std, generator=generator)


def xavier_uniform_(t, gain: float = 1.0, generator=None):
    """U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio)"""
    _target(t, "xavier_uniform_")
    if t.size == 0:
        return t  # nothing to fill (and no fan to divide by)
    fan_in, fan_out = fans(t.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, generator=generator)


def xavier_normal_(t, gain: float = 1.0, generator=None):
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)) (Glorot and Bengio)"""
    _target(t, "xavier_normal_")
    if t.size == 0:
        return t  # nothing to fill (and no fan to divide by)
    fan_in, fan_out = fans(t.shape)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator=generator)


def trunc_normal_(t, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None):
    """N(mean, std^2) truncated to [a, b] (a and b absolute, not in stds), by inverse
    transform: Phi^-1 of a uniform draw between Phi((a - mean) / std) and
    Phi((b - mean) / std). Exact for any window, in a tail too (a window above the mean
    is drawn as its mirror image below it, where Phi keeps its precision)."""
    _target(t, "trunc_normal_")
    if not std > 0 or not a < b:
        raise ValueError(f"init.trunc_normal_: needs std > 0 and a < b, got std={std}, a={a}, "
                         f"b={b}. help: a and b bound the values themselves, e.g. "
                         "trunc_normal_(w, std=0.02, a=-0.04, b=0.04)")
    lo, hi = (a - mean) / std, (b - mean) / std
    mirror = lo > 0
    if mirror:
        lo, hi = -hi, -lo
    p_lo, p_hi = _phi(lo), _phi(hi)
    z = _normal_quantile(p_lo + (p_hi - p_lo) * _rng(generator, "trunc_normal_").random(t.shape))
    _fill(t, np.clip(mean + std * (-z if mirror else z), a, b))
    return t


def _phi(x: float) -> float:
    """The standard normal's distribution function."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


# Acklam's rational approximations of the normal quantile (relative error < 1.2e-9),
# highest power first: one for the centre, one for the tails.
_CENTRE = ((-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
            1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00),
           (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
            6.680131188771972e+01, -1.328068155288572e+01, 1.0))
_TAIL = ((-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
          -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00),
         (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
          3.754408661907416e+00, 1.0))


def _normal_quantile(p: np.ndarray) -> np.ndarray:
    """Phi^-1(p), elementwise, for p in [0, 1] (0 and 1 give about -+37.5: finite)."""
    tail = np.maximum(np.minimum(p, 1 - p), 1e-300)
    r = np.sqrt(-2 * np.log(tail))
    x_tail = np.polyval(_TAIL[0], r) / np.polyval(_TAIL[1], r)
    s = p - 0.5
    x_centre = s * np.polyval(_CENTRE[0], s * s) / np.polyval(_CENTRE[1], s * s)
    return np.where(tail < 0.02425, np.where(p < 0.5, x_tail, -x_tail), x_centre)


def orthogonal_(t, gain: float = 1.0, generator=None):
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al.): the Q of the QR
    decomposition of a standard normal draw, its columns' signs set by R's diagonal so that
    it is uniform over orthogonal matrices. Axes past the first are flattened: rows
    W.reshape(out, -1) are orthonormal (if out <= the rest; else its columns are)."""
    _target(t, "orthogonal_")
    if t.ndim < 2:
        raise ValueError(f"init.orthogonal_: needs at least 2 axes, got shape "
                         f"{tuple(t.shape)}. help: use it on a weight matrix")
    if t.size == 0:
        return t
    rows = t.shape[0]
    cols = t.size // rows
    draw = _rng(generator, "orthogonal_").standard_normal((rows, cols))
    wide = rows < cols
    q, r = np.linalg.qr(draw.T if wide else draw)
    q *= np.sign(np.diag(r))
    _fill(t, (q.T if wide else q).reshape(t.shape) * gain)
    return t


def sparse_(t, sparsity: float, std: float = 0.01, generator=None):
    """N(0, std^2) with ceil(sparsity * rows) entries of every column set to zero, the
    rows drawn at random per column (Martens)."""
    _target(t, "sparse_", ndim=(2,))
    if not 0 <= sparsity <= 1:
        raise ValueError(f"init.sparse_: sparsity must be in [0, 1], got {sparsity}. help: "
                         "it is the fraction of each column set to zero")
    rng = _rng(generator, "sparse_")
    rows, cols = t.shape
    values = rng.normal(0.0, std, (rows, cols))
    zeros = math.ceil(sparsity * rows)
    for c in range(cols):
        values[rng.permutation(rows)[:zeros], c] = 0
    _fill(t, values)
    return t


def default_layer_init(weight, bias) -> None:
    """Linear and Conv2d defaults, PyTorch's: kaiming_uniform(a=sqrt(5)) for the weight,
    which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same range for the bias."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = fans(weight.shape)
        bound = 1 / math.sqrt(fan_in) if fan_in else 0
        uniform_(bias, -bound, bound)
