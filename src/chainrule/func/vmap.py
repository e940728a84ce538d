"""``vmap(f, in_dims=0, out_dims=0)``: f mapped over a batch axis, torch.func's signature.

NOTE: a first, honest version. It has no batching rules: it runs f once per batch entry
and stacks the results, so it equals the Python loop by construction and costs what the
loop costs. Every op is thus "batched" (correctly), none is fast; batching rules per op
(a batched matmul for a loop of matmuls) are the next step. What works already is the
interface and its nesting: ``vmap(grad(loss), in_dims=(None, 0, 0))`` gives per-sample
gradients, ``vmap(jacrev(f))`` a Jacobian per sample, and every transform can wrap it.
"""

from __future__ import annotations

import numpy as np

from chainrule.errors import ShapeError
from chainrule.func._args import check_fn
from chainrule.ops.shape import stack
from chainrule.tensor import Tensor


def vmap(func, in_dims=0, out_dims=0, randomness: str = "error", *, chunk_size=None):
    """``vmap(f, in_dims, out_dims)(*args)``: f applied to each slice of the args along
    their ``in_dims`` (an int for all, or one int/None per argument: None = not mapped,
    passed whole), results stacked along ``out_dims`` (an int, or one per output)."""
    check_fn(func, "vmap")

    def wrapped(*args):
        dims = (in_dims,) * len(args) if isinstance(in_dims, int) or in_dims is None \
            else tuple(in_dims)
        if len(dims) != len(args):
            raise ValueError(f"vmap: in_dims has {len(dims)} entries for {len(args)} "
                             "argument(s). help: one int or None per positional argument")
        sizes = {np.shape(a)[d] for a, d in zip(args, dims) if d is not None and
                 _check_dim(a, d)}
        if len(sizes) != 1:
            raise ShapeError(f"vmap: the mapped axes have sizes {sorted(sizes)}. help: "
                             "every mapped argument needs the same batch size (and at least "
                             "one argument must be mapped)" if sizes else
                             "vmap: no argument is mapped. help: give in_dims an int")
        n = sizes.pop()
        results = []
        for b in range(n):
            call = [a if d is None else _take(a, d, b) for a, d in zip(args, dims)]
            results.append(func(*call))
        return _stack(results, out_dims)

    return wrapped


def _check_dim(a, d) -> bool:
    ndim = np.ndim(a)
    if not -ndim <= d < ndim:
        raise ShapeError(f"vmap: in_dim {d} is out of range for an argument of shape "
                         f"{np.shape(a)}. help: in_dims names the batch axis of each argument")
    return True


def _take(a, d: int, b: int):
    index = (slice(None),) * (d % np.ndim(a)) + (b,)
    return a[index] if isinstance(a, Tensor) else np.asarray(a)[index]


def _stack(results, out_dims):
    first = results[0]
    if isinstance(first, Tensor):
        return stack(results, axis=out_dims if isinstance(out_dims, int) else out_dims[0])
    if isinstance(first, (tuple, list)):
        dims = (out_dims,) * len(first) if isinstance(out_dims, int) else tuple(out_dims)
        return type(first)(_stack([r[i] for r in results], dims[i])
                           for i in range(len(first)))
    raise TypeError(f"vmap: f must return tensors (or tuples of them), got "
                    f"{type(first).__name__}")
