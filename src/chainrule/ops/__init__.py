"""THE table of primitives, by family. Each primitive's forward and VJP sit side by side.

- ``elementwise``: + - * / ** neg exp log sqrt abs sin cos tanh sigmoid relu clip
  astype maximum minimum where
- ``reduce``: sum max min logsumexp (primitives); mean var std (compositions); argmax argmin
- ``shape``: reshape transpose broadcast_to getitem/scatter_add setitem concatenate pad
  (primitives); swapaxes squeeze expand_dims/unsqueeze flatten stack (compositions)
- ``linalg``: matmul

``core.PRIMITIVES`` lists them all; ``core.apply`` runs and records one.
"""

from chainrule.ops.core import PRIMITIVES, apply, unbroadcast
from chainrule.ops.elementwise import (
    abs,
    add,
    astype,
    clip,
    cos,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    sin,
    sqrt,
    sub,
    tanh,
    where,
)
from chainrule.ops.linalg import matmul
from chainrule.ops.reduce import argmax, argmin, logsumexp, max, mean, min, std, sum, var
from chainrule.ops.shape import (
    broadcast_to,
    cat,
    concatenate,
    expand_dims,
    flatten,
    getitem,
    pad,
    reshape,
    setitem,
    squeeze,
    stack,
    swapaxes,
    transpose,
    unsqueeze,
)

__all__ = [
    "PRIMITIVES", "apply", "unbroadcast",
    "abs", "add", "astype", "clip", "cos", "div", "exp", "log", "maximum", "minimum", "mul",
    "neg", "pow", "relu", "sigmoid", "sin", "sqrt", "sub", "tanh", "where", "matmul",
    "argmax", "argmin", "logsumexp", "max", "mean", "min", "std", "sum", "var",
    "broadcast_to", "cat", "concatenate", "expand_dims", "flatten", "getitem", "pad", "reshape",
    "setitem", "squeeze", "stack", "swapaxes", "transpose", "unsqueeze",
]
