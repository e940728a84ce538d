"""Matrix products: ``matmul`` (1-d, 2-d and batched, as NumPy's) and the fused linear
layer."""

from __future__ import annotations

import numpy as np

from chainrule.errors import ShapeError
from chainrule.ops.core import INPUT, Op, apply, sum_rows, tangent_sum, unbroadcast
from chainrule.tensor import as_operand


class MatMul(Op):
    """y = a @ b;  da = g @ b^T,  db = a^T @ g   (batch axes broadcast, 1-d promoted)

    jvp: dy = da @ b + a @ db

    A 1-d ``a`` is a row (1, k) and a 1-d ``b`` a column (k, 1) for the products;
    the gradients are reshaped back to their shapes afterwards.
    """

    portable = True

    def forward(self, a, b):
        self.save(a=INPUT(0), b=INPUT(1))
        return self.xp.matmul(a, b)

    def jvp(self, xs, y, dxs):
        (a, b), (da, db) = xs, dxs
        return tangent_sum(y.shape, None if da is None else apply(MatMul, da, b),
                           None if db is None else apply(MatMul, a, db))

    def vjp(self, g):
        a, b = self.a, self.b
        if a.ndim == 2 and b.ndim == 2:  # the common case, without the general reshapes
            da = g @ b.T if self.needs(0) else None
            db = a.T @ g if self.needs(1) else None
            return da, db
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        # g has a's batch/row axes and b's column axis; put the dropped 1-d axes back.
        if a.ndim == 1 and b.ndim == 1:
            g2 = g.reshape(1, 1)
        elif a.ndim == 1:
            g2 = g.reshape(g.shape[:-1] + (1, g.shape[-1]))
        elif b.ndim == 1:
            g2 = g.reshape(g.shape + (1,))
        else:
            g2 = g
        da = db = None
        if self.needs(0):
            da = unbroadcast(g2 @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape)
        if self.needs(1):
            db = unbroadcast(a2.swapaxes(-1, -2) @ g2, b2.shape).reshape(b.shape)
        return da, db


class Linear(Op):
    """y = x @ W^T + b;  dx = g @ W,  dW = g^T @ x,  db = sum of g over the batch

    jvp: dy = dx @ W^T + x @ dW^T + db

    Fused: one node instead of transpose + matmul + add, for every layer of every MLP.
    """

    portable = True

    def forward(self, x, w, b=None):
        self.save(x=INPUT(0), w=INPUT(1))
        if self.xp is not np:
            y = self.xp.matmul(x, self.xp.matrix_transpose(w))
            return y if b is None else y + b
        if (x.ndim == 2 and 16 <= x.shape[0] <= 32 and w.shape[0] >= 128
                and x.dtype == w.dtype == np.float32):
            # Same y, other GEMM orientation. Measured with NumPy's OpenBLAS (0.3.31, 1 and
            # 2 threads): for 16-32 rows and a wide layer, float32 x @ w.T takes 1.4-1.9x as
            # long as w @ x.T (float64: no gain, up to 1.2x slower, so not there); its
            # transpose goes back to row order in the pass that adds the bias.
            y = np.empty((x.shape[0], w.shape[0]), dtype=np.float32)
            if b is None:
                np.copyto(y, (w @ x.T).T)
            else:
                np.add((w @ x.T).T, b, out=y)
            return y
        y = x @ w.T
        if b is not None:
            y += b
        return y

    def jvp(self, xs, y, dxs):
        x, w = xs[0], xs[1]
        dx, dw = dxs[0], dxs[1]
        db = dxs[2] if len(dxs) > 2 else None
        if dw is not None:  # x dW^T + db as one Linear: its bias add is in place
            dw = apply(Linear, x, dw) if db is None else apply(Linear, x, dw, db)
            db = None
        return tangent_sum(y.shape, None if dx is None else apply(Linear, dx, w), dw, db)

    def vjp(self, g):
        x, w = self.x, self.w
        dx = g @ w if self.needs(0) else None
        g2 = g.reshape(-1, g.shape[-1])
        dw = g2.T @ x.reshape(-1, x.shape[-1]) if self.needs(1) else None
        db = sum_rows(g2) if len(self.parents) > 2 and self.needs(2) else None
        return dx, dw, db


def matmul(a, b):
    a, b = as_operand(a), as_operand(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(
            f"matmul: {a.shape} @ {b.shape}: operands must have at least one axis. "
            "help: use * to multiply by a scalar"
        )
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ShapeError(
            f"matmul: {a.shape} @ {b.shape}: inner sizes {k_a} and {k_b} differ. "
            "help: the last axis of the left operand must equal the second-to-last of the "
            "right; transpose one operand (.T) or check the layer sizes"
        )
    return apply(MatMul, a, b)


def linear(x, weight, bias=None):
    if x.shape[-1] != weight.shape[-1]:
        raise ShapeError(
            f"linear: input has {x.shape[-1]} features (shape {x.shape}) but the weight expects "
            f"{weight.shape[-1]} (weight shape {weight.shape}). help: check the previous "
            "layer's output size, or add a Flatten")
    if bias is None:
        return apply(Linear, x, weight)
    return apply(Linear, x, weight, bias)
