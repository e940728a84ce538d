"""THE table of primitives, by family. Each primitive's forward, VJP and JVP sit side by side.

- ``elementwise``: + - * / ** neg maximum minimum where; ``unary``: exp log sqrt abs sin cos
  tanh sigmoid relu clip astype erf
- ``reduce``: sum max min logsumexp (primitives); mean var std (compositions); argmax argmin
- ``shape``: reshape transpose broadcast_to getitem/scatter_add setitem concatenate pad
  (primitives); swapaxes squeeze expand_dims/unsqueeze flatten stack (compositions)
  erf (fused where it pays, each saying why)
- ``reduce``: ... and log_softmax (softmax is its exp)
- ``linalg``: matmul, linear (the fused layer)
- ``conv``: unfold (im2col), fold (col2im), affine (the GEMM with its bias), max_pool2d
- ``loss``: cross_entropy, mse_loss, binary_cross_entropy_with_logits (fused)
- ``norm``: batch_norm (fused)
- ``numerics``: erf for float32 arrays (no ops: plain NumPy)
- ``index``: gather take_along_axis index_select scatter_add index_add masked_fill tril
  triu (compositions of GetItem, ScatterAdd and Where)
- ``sorting``: sort argsort topk (one primitive: Sort)
- ``scan``: cumsum cumprod
- ``contraction``: einsum (a primitive), outer (a composition)
- ``vector_norm``: norm (vector p-norms and the Frobenius norm; ``cr.norm``, not re-exported
  here, where ``norm`` is the batch-norm family's module)

Every family is imported here, so ``core.PRIMITIVES`` lists them all on ``import
chainrule``; ``core.apply`` runs and records one.
"""

from chainrule.ops import conv, loss, norm, vector_norm  # noqa: F401 - registers their primitives
from chainrule.ops.contraction import einsum, outer
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
from chainrule.ops.index import (
    gather,
    index_add,
    index_select,
    masked_fill,
    scatter_add,
    take_along_axis,
    take_along_dim,
    tril,
    triu,
)
from chainrule.ops.linalg import linear, matmul
from chainrule.ops.reduce import (
    argmax,
    argmin,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    softmax,
    std,
    sum,
    var,
)
from chainrule.ops.scan import cumprod, cumsum
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
from chainrule.ops.sorting import argsort, sort, topk

__all__ = [
    "PRIMITIVES", "apply", "unbroadcast",
    "abs", "add", "astype", "clip", "cos", "div", "exp", "log", "maximum", "minimum", "mul",
    "neg", "pow", "relu", "sigmoid", "sin", "sqrt", "sub", "tanh", "where", "matmul", "linear",
    "log_softmax", "softmax",
    "argmax", "argmin", "logsumexp", "max", "mean", "min", "std", "sum", "var",
    "broadcast_to", "cat", "concatenate", "expand_dims", "flatten", "getitem", "pad", "reshape",
    "setitem", "squeeze", "stack", "swapaxes", "transpose", "unsqueeze",
    "einsum", "outer", "gather", "index_add", "index_select", "masked_fill", "scatter_add",
    "take_along_axis", "take_along_dim", "tril", "triu", "cumprod", "cumsum", "argsort", "sort",
    "topk",
]
