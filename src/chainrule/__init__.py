"""chainrule: error backpropagation for real.

The public surface (see API.md), re-exported from where each piece lives::

    import chainrule as cr
    x = cr.tensor([1.0, -1.0], requires_grad=True)
    loss = (x.sigmoid() * 2).sum()
    loss.backward()          # x.grad now holds d loss / d x
"""

import numpy as _np

# tensor first: it imports the ops at its end, once the Tensor class exists.
from chainrule.tensor import Tensor  # isort: skip
from chainrule import ops

# cr.autograd (the subpackage) holds PyTorch's form: cr.autograd.grad(outputs, inputs).
from chainrule.autograd import (
    enable_grad,
    gradcheck,
    gradgradcheck,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
    value_and_grad,
)
from chainrule.autograd.functional import grad  # JAX's transform: cr.grad(f)(x)
from chainrule.compile import compile  # noqa: A004 - torch.compile's name
from chainrule.errors import (
    BackendError,
    BackwardError,
    ChainruleError,
    GradcheckError,
    ShapeError,
)
from chainrule.factories import (
    arange,
    as_tensor,
    eye,
    from_numpy,
    full,
    full_like,
    get_default_backend,
    get_default_dtype,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randn,
    randn_like,
    set_default_backend,
    set_default_dtype,
    tensor,
    zeros,
    zeros_like,
)
from chainrule.graph.anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled
from chainrule.graph.grad_mode import inference_mode
from chainrule.ops import (
    abs,
    add,
    argmax,
    argmin,
    argsort,
    broadcast_to,
    cat,
    clip,
    concatenate,
    cos,
    cumprod,
    cumsum,
    div,
    einsum,
    exp,
    expand_dims,
    flatten,
    gather,
    index_add,
    index_select,
    log,
    logsumexp,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    neg,
    outer,
    pad,
    pow,
    relu,
    reshape,
    scatter_add,
    sigmoid,
    sin,
    sort,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    swapaxes,
    take_along_axis,
    take_along_dim,
    tanh,
    topk,
    transpose,
    tril,
    triu,
    unsqueeze,
    var,
    where,
)
from chainrule.ops.vector_norm import norm  # not in chainrule.ops: there, norm is a module

float16, float32, float64 = _np.float16, _np.float32, _np.float64
int32, int64, bool_ = _np.int32, _np.int64, _np.bool_

__version__ = "0.1.0"

#: Loaded on first use (``cr.nn.Linear``, ``cr.save(...)``), so that ``import chainrule``
#: stays light (tests/test_startup.py; docs/performance.md, "Start-up"): the packages
#: above the engine, and the names defined in one of them (name: the module that holds
#: it; a package holds itself). ``dir(cr)`` lists them all, loaded or not.
_LAZY = {name: f"chainrule.{name}" for name in
         ("data", "distributed", "func", "health", "nn", "optim", "serialization", "viz")}
_LAZY.update(dict.fromkeys(("CheckpointError", "load", "save"), "chainrule.serialization"))


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])  # which binds a package here
        if module.__name__ == f"chainrule.{name}":
            return module
        value = globals()[name] = getattr(module, name)  # later uses find it directly
        return value
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


# `from chainrule import *` brings what it brought before the names above became lazy
# (data, health and viz were lazy already: a star import does not load them).
__all__ = sorted({name for name in globals() if not name.startswith("_")}
                 | (set(_LAZY) - {"data", "health", "viz"}))
