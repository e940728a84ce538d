"""Elementwise primitives: y = f(x) or y = f(x1, x2), applied entry by entry.

Each class is one primitive: its docstring gives the function and its derivative, its
``forward`` runs on arrays, its ``vjp`` maps g = dL/dy to dL/dx (see autograd/node.py).
Binary ops broadcast as NumPy does, and their VJPs end in ``unbroadcast``.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import _backend as B
from chainrule.ops import generic
from chainrule.ops.core import INPUT, OUTPUT, Op, apply, tangent_sum, unbroadcast
from chainrule.ops.numerics import erf_exact, erf_float32
from chainrule.tensor import Tensor, as_operand, as_tensor

# --- arithmetic ---------------------------------------------------------------------------


class Add(Op):
    """y = a + b;  da = g,  db = g

    jvp: dy = da + db
    """

    sums_over_steps = True  # `total += loss` is an add: see core._check_graph_growth

    def forward(self, a, b):
        return a + b

    def jvp(self, xs, y, dxs):
        return tangent_sum(y.shape, *dxs)

    def vjp(self, g):
        da = unbroadcast(g, self.input_shape(0)) if self.needs(0) else None
        db = unbroadcast(g, self.input_shape(1)) if self.needs(1) else None
        return da, db


class Sub(Op):
    """y = a - b;  da = g,  db = -g

    jvp: dy = da - db
    """

    def forward(self, a, b):
        return a - b

    def jvp(self, xs, y, dxs):
        da, db = dxs
        return tangent_sum(y.shape, da, None if db is None else -db)

    def vjp(self, g):
        da = unbroadcast(g, self.input_shape(0)) if self.needs(0) else None
        db = unbroadcast(-g, self.input_shape(1)) if self.needs(1) else None
        return da, db


class Mul(Op):
    """y = a * b;  da = g * b,  db = g * a

    jvp: dy = da * b + a * db
    """

    def forward(self, a, b):
        self.save(a=INPUT(0), b=INPUT(1))
        return a * b

    def jvp(self, xs, y, dxs):
        (a, b), (da, db) = xs, dxs
        return tangent_sum(y.shape, None if da is None else da * b,
                           None if db is None else a * db)

    def vjp(self, g):
        da = unbroadcast(g * self.b, self.input_shape(0)) if self.needs(0) else None
        db = unbroadcast(g * self.a, self.input_shape(1)) if self.needs(1) else None
        return da, db


class Div(Op):
    """y = a / b;  da = g / b,  db = -g * a / b^2 = -(g / b) * y

    jvp: dy = (da - db * y) / b
    """

    def forward(self, a, b):
        y = a / b
        self.save(b=INPUT(1), y=OUTPUT)
        return y

    def jvp(self, xs, y, dxs):
        b, (da, db) = xs[1], dxs
        return tangent_sum(y.shape, None if da is None else da / b,
                           None if db is None else -(db * y) / b)

    def vjp(self, g):
        g_over_b = g / self.b
        da = unbroadcast(g_over_b, self.input_shape(0)) if self.needs(0) else None
        db = unbroadcast(-g_over_b * self.y, self.input_shape(1)) if self.needs(1) else None
        return da, db


class Pow(Op):
    """y = a ** p;  da = g * p * a^(p-1),  dp = g * y * log(a)

    jvp: dy = da * p * a^(p-1) + dp * y * log(a)   (the dp term 0 where a == 0)

    NOTE: dp is taken as 0 where a == 0 (and p >= 0), as PyTorch does: the limit of
    y * log(a) there is 0, not the NaN that 0 * log(0) would give.
    """

    def forward(self, a, p):
        y = np.power(a, p)
        self.save(a=INPUT(0), p=INPUT(1), y=OUTPUT)
        return y

    def jvp(self, xs, y, dxs):
        (a, p), (da, dp) = xs, dxs
        term_a = None if da is None else da * p * a ** (p - 1)
        term_p = None
        if dp is not None:
            a0 = np.asarray(generic.constant(a)) == 0
            safe_a = generic.where(a0, 1.0, a) if np.any(a0) else a
            term_p = dp * y * generic.log(safe_a)
        return tangent_sum(y.shape, term_a, term_p)

    def vjp(self, g):
        a, p = self.a, self.p
        da = unbroadcast(g * p * a ** (p - 1), self.input_shape(0)) if self.needs(0) else None
        dp = None
        if self.needs(1):
            a0 = np.asarray(generic.constant(a)) == 0
            safe_a = generic.where(a0, 1.0, a) if np.any(a0) else a
            dp = unbroadcast(g * self.y * generic.log(safe_a), self.input_shape(1))
        return da, dp


class Neg(Op):
    """y = -x;  dx = -g

    jvp: dy = -dx
    """

    def forward(self, x):
        return -x

    def jvp(self, xs, y, dxs):
        return -dxs[0]

    def vjp(self, g):
        return -g


# --- unary functions ----------------------------------------------------------------------


class Exp(Op):
    """y = e^x;  dx = g * y

    jvp: dy = dx * y
    """

    def forward(self, x):
        y = np.exp(x)
        self.save(y=OUTPUT)
        return y

    def jvp(self, xs, y, dxs):
        return dxs[0] * y

    def vjp(self, g):
        return g * self.y


class Log(Op):
    """y = ln x;  dx = g / x

    jvp: dy = dx / x
    """

    def forward(self, x):
        self.save(x=INPUT(0))
        return np.log(x)

    def jvp(self, xs, y, dxs):
        return dxs[0] / xs[0]

    def vjp(self, g):
        return g / self.x


class Sqrt(Op):
    """y = sqrt(x);  dx = g / (2 y)

    jvp: dy = dx / (2 y)
    """

    def forward(self, x):
        y = np.sqrt(x)
        self.save(y=OUTPUT)
        return y

    def jvp(self, xs, y, dxs):
        return dxs[0] / (2 * y)

    def vjp(self, g):
        return g / (2 * self.y)


class Abs(Op):
    """y = |x|;  dx = g * sign(x)   (NOTE: sign(0) = 0, so |x|'(0) = 0, as PyTorch)

    jvp: dy = dx * sign(x)
    """

    def forward(self, x):
        if self.recording:
            self.save(sign=np.sign(x))
        return np.abs(x)

    def jvp(self, xs, y, dxs):
        return dxs[0] * np.sign(generic.constant(xs[0]))

    def vjp(self, g):
        return g * self.sign


class Sin(Op):
    """y = sin x;  dx = g * cos x

    jvp: dy = dx * cos x
    """

    def forward(self, x):
        self.save(x=INPUT(0))
        return np.sin(x)

    def jvp(self, xs, y, dxs):
        return dxs[0] * generic.cos(xs[0])

    def vjp(self, g):
        return g * generic.cos(self.x)


class Cos(Op):
    """y = cos x;  dx = -g * sin x

    jvp: dy = -dx * sin x
    """

    def forward(self, x):
        self.save(x=INPUT(0))
        return np.cos(x)

    def jvp(self, xs, y, dxs):
        return -dxs[0] * generic.sin(xs[0])

    def vjp(self, g):
        return -g * generic.sin(self.x)


class Tanh(Op):
    """y = tanh x;  dx = g * (1 - y^2)

    jvp: dy = dx * (1 - y^2)
    """

    def forward(self, x):
        y = np.tanh(x)
        self.save(y=OUTPUT)
        return y

    def jvp(self, xs, y, dxs):
        return dxs[0] * (1 - y * y)

    def vjp(self, g):
        y = self.y
        return g * (1 - y * y)


class Sigmoid(Op):
    """y = 1 / (1 + e^-x);  dx = g * y * (1 - y)

    jvp: dy = dx * y * (1 - y)

    Computed from e^-|x| so that no exponential overflows, for any x.
    """

    def forward(self, x):
        e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        self.save(y=OUTPUT)
        return y

    def jvp(self, xs, y, dxs):
        return dxs[0] * (y * (1 - y))

    def vjp(self, g):
        y = self.y
        return g * (y * (1 - y))


class Relu(Op):
    """y = max(x, 0);  dx = g * [x > 0]   (NOTE: relu'(0) = 0, as PyTorch)

    jvp: dy = dx * [x > 0]
    """

    def forward(self, x):
        y = np.maximum(x, 0)
        if self.recording:
            self.save(mask=x > 0)
        return y

    def jvp(self, xs, y, dxs):
        return dxs[0] * (generic.constant(xs[0]) > 0)

    def vjp(self, g):
        return g * self.mask


class Clip(Op):
    """y = min(max(x, lo), hi);  dx = g * [lo <= x <= hi]

    jvp: dy = dx * [lo <= x <= hi]
    """

    def forward(self, x):
        lo, hi = self.lo, self.hi
        if self.recording:
            inside = np.ones(np.shape(x), dtype=bool)
            if lo is not None:
                inside &= x >= lo
            if hi is not None:
                inside &= x <= hi
            self.save(mask=inside)
        return np.clip(x, lo, hi)

    def jvp(self, xs, y, dxs):
        x = generic.constant(xs[0])
        inside = np.ones(np.shape(x), dtype=bool)
        if self.lo is not None:
            inside &= x >= self.lo
        if self.hi is not None:
            inside &= x <= self.hi
        return dxs[0] * inside

    def vjp(self, g):
        return g * self.mask


class Cast(Op):
    """y = x as another dtype (or a copy in the same one);  dx = g as x's dtype

    jvp: dy = dx as y's dtype
    """

    def forward(self, x):
        self.src = x.dtype
        return x.astype(self.dtype, copy=True)

    def jvp(self, xs, y, dxs):
        return astype(dxs[0], self.dtype)

    def vjp(self, g):
        return g.astype(self.src)


class Erf(Op):
    """y = erf(x);  dx = g * 2/sqrt(pi) * exp(-x^2)

    jvp: dy = dx * 2/sqrt(pi) * exp(-x^2)

    NumPy has no erf: float32 (and float16) arrays get ``erf_float32``, vectorized and
    about 4.5x faster than ``math.erf`` per element; float64 gets ``math.erf`` itself,
    exact, as gradcheck needs.
    """

    def forward(self, x):
        self.save(x=INPUT(0))
        if x.dtype in (np.float32, np.float16):
            return erf_float32(x).astype(x.dtype, copy=False)
        return np.asarray(erf_exact(x), dtype=x.dtype)

    def jvp(self, xs, y, dxs):
        x = xs[0]
        return dxs[0] * (2 / math.sqrt(math.pi)) * generic.exp(-(x * x))

    def vjp(self, g):
        x = self.x
        return g * (2 / math.sqrt(math.pi)) * generic.exp(-(x * x))


# --- selection ----------------------------------------------------------------------------


class Maximum(Op):
    """y = max(a, b);  da = g * w,  db = g * (1 - w), w = [a > b] + [a == b] / 2

    jvp: dy = da * w + db * (1 - w)

    NOTE: at ties the gradient is split evenly, as PyTorch does.
    """

    pick, wins = np.maximum, np.greater  # Minimum: the same rule with the other comparison

    def forward(self, a, b):
        if self.recording:
            dtype = np.result_type(a, b)
            self.save(w=np.where(a == b, 0.5, self.wins(a, b)).astype(dtype))
        return self.pick(a, b)

    def jvp(self, xs, y, dxs):
        a, b = (generic.constant(x) for x in xs)
        da, db = dxs
        w = np.where(a == b, 0.5, self.wins(a, b)).astype(y.dtype)
        return tangent_sum(y.shape, None if da is None else da * w,
                           None if db is None else db * (1 - w))

    def vjp(self, g):
        w = self.w
        da = unbroadcast(g * w, self.input_shape(0)) if self.needs(0) else None
        db = unbroadcast(g * (1 - w), self.input_shape(1)) if self.needs(1) else None
        return da, db


class Minimum(Maximum):
    """y = min(a, b);  da = g * w,  db = g * (1 - w), w = [a < b] + [a == b] / 2

    jvp: dy = da * w + db * (1 - w)
    """

    pick, wins = np.minimum, np.less


class Where(Op):
    """y = a where cond else b;  da = g where cond else 0,  db = 0 where cond else g

    jvp: dy = da where cond else db

    ``cond`` is a constant of the op, not an input: it has no gradient.
    """

    def forward(self, a, b):
        return np.where(self.cond, a, b)

    def jvp(self, xs, y, dxs):
        zero = np.zeros((), dtype=y.dtype)
        da, db = (zero if d is None else d for d in dxs)
        return generic.where(self.cond, da, db).broadcast_to(y.shape)

    def vjp(self, g):
        cond = self.cond
        zero = np.zeros((), dtype=g.dtype)
        da = (unbroadcast(generic.where(cond, g, zero), self.input_shape(0))
              if self.needs(0) else None)
        db = (unbroadcast(generic.where(cond, zero, g), self.input_shape(1))
              if self.needs(1) else None)
        return da, db


# --- public functions ---------------------------------------------------------------------


def add(a, b):
    return apply(Add, as_operand(a), as_operand(b))


def sub(a, b):
    return apply(Sub, as_operand(a), as_operand(b))


def mul(a, b):
    return apply(Mul, as_operand(a), as_operand(b))


def div(a, b):
    return apply(Div, as_operand(a), as_operand(b))


def pow(a, p):  # noqa: A001 - the NumPy/PyTorch name
    return apply(Pow, as_operand(a), as_operand(p))


def neg(x):
    return apply(Neg, as_tensor(x))


def exp(x):
    return apply(Exp, as_tensor(x))


def log(x):
    return apply(Log, as_tensor(x))


def sqrt(x):
    return apply(Sqrt, as_tensor(x))


def abs(x):  # noqa: A001
    return apply(Abs, as_tensor(x))


def sin(x):
    return apply(Sin, as_tensor(x))


def cos(x):
    return apply(Cos, as_tensor(x))


def tanh(x):
    return apply(Tanh, as_tensor(x))


def sigmoid(x):
    return apply(Sigmoid, as_tensor(x))


def relu(x):
    return apply(Relu, as_tensor(x))


def clip(x, lo=None, hi=None):
    if lo is None and hi is None:
        raise ValueError("clip: give lo, hi or both")
    return apply(Clip, as_tensor(x), lo=lo, hi=hi)


def astype(x, dtype, copy: bool = False):
    """x as ``dtype``: x itself when it has that dtype already, unless ``copy``."""
    dtype = np.dtype(dtype)
    x = as_tensor(x)
    if x.dtype == dtype and not copy:
        return x
    if x.requires_grad and not B.is_float(dtype):
        from chainrule.tensor import _wrap

        return _wrap(x.data.astype(dtype))  # an integer copy carries no gradient
    return apply(Cast, x, dtype=dtype)


def maximum(a, b):
    return apply(Maximum, as_operand(a), as_operand(b))


def minimum(a, b):
    return apply(Minimum, as_operand(a), as_operand(b))


def where(cond, a, b):
    cond = np.asarray(cond.data if isinstance(cond, Tensor) else cond)
    if cond.dtype != bool:
        raise TypeError(
            f"where: cond must be boolean, got {cond.dtype}. help: compare, e.g. where(x > 0, ...)"
        )
    return apply(Where, as_operand(a), as_operand(b), cond=cond)


def erf(x):
    return apply(Erf, x)
