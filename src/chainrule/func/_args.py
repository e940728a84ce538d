"""What the transforms share: argument checks, the inputs they differentiate, and outputs."""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B
from chainrule.errors import BackendError, ShapeError
from chainrule.func import batched
from chainrule.func.layout import array
from chainrule.graph import batching_mode, forward_mode
from chainrule.ops.core import alias
from chainrule.tensor import Tensor, _wrap


def check_fn(f, name: str) -> None:
    if isinstance(f, Tensor) or not callable(f):
        raise TypeError(f"func.{name} takes a function (torch.func's form: {name}(f)(x)), got "
                        f"{type(f).__name__}. help: pass the function itself, then call the "
                        "result with the inputs")


def argnums_tuple(argnums, nargs: int, name: str) -> tuple:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise ValueError(f"func.{name}: argnums is empty. help: name at least one argument")
    for i in nums:
        if not isinstance(i, int) or not -nargs <= i < nargs:
            raise ValueError(f"func.{name}: argnums {i} is out of range for {nargs} positional "
                             "argument(s). help: argnums counts the positional arguments "
                             "from 0")
    return tuple(i % nargs for i in nums)


def zeros(shape, like) -> Tensor:
    """A tensor of zeros of ``shape``, with tensor ``like``'s dtype, library and device."""
    return _wrap(B.full(shape, 0, B.array_of(like)))


def basis(like, k: int) -> Tensor:
    """The ``k``-th unit tensor (flat index) of tensor ``like``'s shape, dtype and library:
    one column of a Jacobian's seed. Made in NumPy, then moved (an op's constant's path)."""
    a = B.array_of(like)
    e = np.zeros(int(np.prod(like.shape, dtype=np.int64)), dtype=B.numpy_dtype(a.dtype))
    e[k] = 1
    return _wrap(B.like(e.reshape(tuple(like.shape)), a))


def as_primal(x, name: str) -> Tensor:
    """A floating-point tensor for input ``x`` (a tensor, array or number)."""
    t = x if isinstance(x, Tensor) else _wrap(array(x))
    if not B.is_float(t.dtype):
        raise TypeError(f"func.{name}: inputs to differentiate must be floating point, got "
                        f"{t.dtype}. help: convert with .double() or .float()")
    return t


def as_tangent(v, primal: Tensor, name: str) -> Tensor:
    """Tangent ``v`` of ``primal``: a tensor or array of its library (a NumPy array or
    Python data moves there, as an op's constants do), of its shape, in its dtype."""
    where = B.array_of(primal)
    if isinstance(v, Tensor):
        t = v
    else:
        t = _wrap(B.like(np.asarray(v), where) if B.is_foreign(where) and not B.is_foreign(v)
                  else array(v))
    have = B.array_of(t)
    if type(have) is not type(where) and B.name(have) != B.name(where):
        raise BackendError(
            f"func.{name}: a tangent on {B.name(have)} for a primal on "
            f"{B.name(where)}. help: move the tangent with .to({B.name(where)!r})")
    if t.shape != primal.shape:
        raise ShapeError(f"func.{name}: a tangent of shape {t.shape} for a primal of shape "
                         f"{primal.shape}. help: each tangent must have its primal's shape")
    if not B.is_float(t.dtype):
        raise TypeError(f"func.{name}: tangents must be floating point, got {t.dtype}")
    return t if B.same_dtype(t.dtype, primal.dtype) else t.astype(primal.dtype)


def differentiable(x: Tensor) -> tuple:
    """A fresh tensor for ``x`` that requires grad, so that a reverse pass can stop there:
    ``(what f gets, what the backward walk stops at)``, the same tensor outside vmap.

    Inside an outer transform (``x`` requires grad or carries tangents) it is an alias
    recorded on ``x``, so the outer transform still sees through it; otherwise a new leaf.
    Inside vmap the walk stops at the physical array, with one leading axis per open
    vmap: an unmapped ``x`` is first copied to every sample, so that each sample's
    gradient lands in its own copy (per-sample gradients) instead of summing into one.
    """
    if batching_mode.active():
        p = batched.expand(x)
        stop = _fresh(p)
        return batched.rewrap(stop), stop
    t = _fresh(x)
    return t, t


def _fresh(x: Tensor) -> Tensor:
    if x.requires_grad or forward_mode.tangents(x):
        t = alias(x)
        if not t.requires_grad:
            t.requires_grad = True  # a leaf with tangents (jvp of grad): keep them
        return t
    t = _wrap(B.alias(x.data))
    t.requires_grad = True
    return t


def root_and_seed(out: Tensor):
    """The tensor and seed a backward walk starts from for a one-element ``out``; inside
    vmap, the physical loss (one per sample) seeded with ones: the samples' gradients
    are independent, so one walk gives them all."""
    if not batching_mode.active():
        return out, None
    root = batched.expand(out)
    return root, _wrap(B.full(root.shape, 1, root.data))


def nested(xs) -> bool:
    """Is an outer transform watching? Then the inner one records what it does
    (create_graph), so that the outer one can differentiate it."""
    return forward_mode.active() or any(x.requires_grad or forward_mode.tangents(x)
                                        for x in xs)


def outputs(out, name: str) -> tuple:
    """``f``'s output as a tuple of tensors, and whether it was one tensor."""
    if isinstance(out, Tensor):
        return (out,), True
    if isinstance(out, (tuple, list)) and out and all(isinstance(o, Tensor) for o in out):
        return tuple(out), False
    raise TypeError(f"func.{name}: f must return a tensor or a tuple of tensors, got "
                    f"{type(out).__name__}. help: return the tensor(s) to differentiate; put "
                    "anything else in an aux output (has_aux=True)")


def split_aux(out, has_aux: bool, name: str):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"func.{name}: with has_aux=True f must return a pair (output, aux), "
                        f"got {type(out).__name__}")
    return out


def tree_leaves(x) -> tuple:
    """``x``'s leaves (a tensor; or the tensors in a tuple, list or dict, nested) and a
    function that rebuilds ``x``'s structure from new leaves, as torch.func's pytrees."""
    if isinstance(x, (tuple, list)):
        parts = [tree_leaves(v) for v in x]
        kind = type(x)
    elif isinstance(x, dict):
        parts = [tree_leaves(v) for v in x.values()]
        keys = list(x)
    else:
        return [x], lambda leaves: leaves[0]
    leaves = [leaf for p in parts for leaf in p[0]]

    def rebuild(new):
        out, at = [], 0
        for p in parts:
            k = len(p[0])
            out.append(p[1](new[at:at + k]))
            at += k
        return dict(zip(keys, out)) if isinstance(x, dict) else kind(out)

    return leaves, rebuild


def shape_of(x) -> tuple:
    """``x``'s shape (a tensor's own: NumPy's np.shape refuses a tensor in a graph)."""
    return tuple(x.shape) if hasattr(x, "shape") else tuple(np.shape(x))
