"""Binary elementwise primitives: y = f(a, b), entry by entry (+ - * / ** and neg,
maximum, minimum, where); the unary ones live in ``unary`` and are re-exported here.

Each class is one primitive: its docstring gives the function, its derivative and its
tangent; its ``forward`` runs on arrays, its ``vjp`` maps g = dL/dy to dL/dx, its ``jvp``
the inputs' tangents to dy (see graph/node.py). Binary ops broadcast as NumPy does: their
VJPs end in ``unbroadcast``, their JVPs in ``tangent_sum``.
"""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B
from chainrule.graph import batching_mode
from chainrule.ops import generic
from chainrule.ops.core import INPUT, OUTPUT, Op, apply, tangent_sum, unbroadcast
from chainrule.ops.unary import (  # noqa: F401 - re-exported: the unary half of the family
    Abs,
    Cast,
    Clip,
    Cos,
    Erf,
    Exp,
    Log,
    Relu,
    Sigmoid,
    Sin,
    Sqrt,
    Tanh,
    abs,
    astype,
    clip,
    cos,
    erf,
    exp,
    log,
    relu,
    sigmoid,
    sin,
    sqrt,
    tanh,
)
from chainrule.tensor import Tensor, as_operand, as_tensor

# --- arithmetic ---------------------------------------------------------------------------


class Add(Op):
    """y = a + b;  da = g,  db = g

    jvp: dy = da + db
    """

    sums_over_steps = True  # `total += loss` is an add: see core._check_graph_growth
    portable = True

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

    portable = True

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

    portable = True

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

    portable = True

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

    portable = True

    def forward(self, a, p):
        y = np.power(a, p) if self.xp is np else a ** p
        self.save(a=INPUT(0), p=INPUT(1), y=OUTPUT)
        return y

    def jvp(self, xs, y, dxs):
        (a, p), (da, dp) = xs, dxs
        term_a = None if da is None else da * p * a ** (p - 1)
        term_p = None
        if dp is not None:
            a0 = B.asarray(generic.constant(a)) == 0
            safe_a = generic.where(a0, 1.0, a) if B.any_true(a0) else a
            term_p = dp * y * generic.log(safe_a)
        return tangent_sum(y.shape, term_a, term_p)

    def vjp(self, g):
        a, p = self.a, self.p
        da = unbroadcast(g * p * a ** (p - 1), self.input_shape(0)) if self.needs(0) else None
        dp = None
        if self.needs(1):
            a0 = B.asarray(generic.constant(a)) == 0
            safe_a = generic.where(a0, 1.0, a) if B.any_true(a0) else a
            dp = unbroadcast(g * self.y * generic.log(safe_a), self.input_shape(1))
        return da, dp


class Neg(Op):
    """y = -x;  dx = -g

    jvp: dy = -dx
    """

    portable = True

    def forward(self, x):
        return -x

    def jvp(self, xs, y, dxs):
        return -dxs[0]

    def vjp(self, g):
        return -g


# --- selection ----------------------------------------------------------------------------


class Maximum(Op):
    """y = max(a, b);  da = g * w,  db = g * (1 - w), w = [a > b] + [a == b] / 2

    jvp: dy = da * w + db * (1 - w)

    NOTE: at ties the gradient is split evenly, as PyTorch does.
    """

    pick, wins = np.maximum, np.greater  # Minimum: the same rule with the other comparison
    portable = True

    def forward(self, a, b):
        xp = self.xp
        if xp is not np:
            pick, wins = getattr(xp, self.pick.__name__), getattr(xp, self.wins.__name__)
            y = pick(a, b)
            if self.recording:
                self.save(w=xp.where(a == b, 0.5, B.factor(wins(a, b), y)))
            return y
        if self.recording:
            dtype = np.result_type(a, b)
            self.save(w=np.where(a == b, 0.5, self.wins(a, b)).astype(dtype))
        return self.pick(a, b)

    def jvp(self, xs, y, dxs):
        a, b = (generic.constant(x) for x in xs)
        da, db = dxs
        xp = self.xp
        if xp is np:
            w = np.where(a == b, 0.5, self.wins(a, b)).astype(y.dtype)
        else:
            wins = getattr(xp, self.wins.__name__)(a, b)
            w = xp.where(a == b, 0.5, B.factor(wins, y.data))
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

    portable = True

    def forward(self, a, b):
        if self.xp is not np:  # the condition is a parameter, not an input: moved here
            return self.xp.where(self.xp.asarray(self.cond, device=self.device), a, b)
        return np.where(self.cond, a, b)

    def jvp(self, xs, y, dxs):
        zero = np.zeros((), dtype=y.dtype) if self.xp is np else 0.0
        da, db = (zero if d is None else d for d in dxs)
        return generic.where(self.cond, da, db).broadcast_to(y.shape)

    def vjp(self, g):
        cond = self.cond
        zero = np.zeros((), dtype=g.dtype) if self.xp is np else 0.0
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


def maximum(a, b):
    return apply(Maximum, as_operand(a), as_operand(b))


def minimum(a, b):
    return apply(Minimum, as_operand(a), as_operand(b))


@batching_mode.batchable  # a batched cond is a value vmap's rule reads per sample
def where(cond, a, b):
    cond = B.as_array(cond.data if isinstance(cond, Tensor) else cond)
    if B.dtype_name(cond.dtype) != "bool":
        raise TypeError(
            f"where: cond must be boolean, got {cond.dtype}. help: compare, e.g. where(x > 0, ...)"
        )
    return apply(Where, as_operand(a), as_operand(b), cond=cond)
