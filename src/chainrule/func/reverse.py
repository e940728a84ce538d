"""Reverse-mode transforms, torch.func's names: ``vjp``, ``grad``, ``grad_and_value``,
``jacrev``. One backward pass gives the gradient of one output with respect to every input:
why training (one loss, many parameters) runs in reverse."""

from __future__ import annotations

from chainrule import _backend as B
from chainrule.autograd import engine
from chainrule.errors import BackwardError
from chainrule.func import batched
from chainrule.func._args import (
    argnums_tuple,
    as_primal,
    basis,
    check_fn,
    differentiable,
    nested,
    outputs,
    root_and_seed,
    shape_of,
    split_aux,
    tree_leaves,
    zeros,
)
from chainrule.graph import batching_mode, grad_mode
from chainrule.ops.shape import stack
from chainrule.tensor import Tensor, _wrap


def vjp(func, *primals, has_aux: bool = False):
    """``vjp(f, *primals)`` -> ``(f(*primals), vjp_fn)``; ``vjp_fn(u)`` gives u^T J for each
    primal, a tuple (u: one cotangent per output, of its shape). ``vjp_fn`` may be called
    again with other cotangents. With ``has_aux``, f returns (output, aux) and vjp returns
    (output, vjp_fn, aux)."""
    check_fn(func, "vjp")
    xs = tuple(as_primal(p, "vjp") for p in primals)
    keep = nested(xs)
    pairs = [differentiable(x) for x in xs]
    inputs = tuple(p[1] for p in pairs)
    with grad_mode.enable_grad():
        out, aux = split_aux(func(*(p[0] for p in pairs)), has_aux, "vjp")
    outs, single = outputs(out, "vjp")

    def vjp_fn(*cotangents):
        if single and len(cotangents) == 1 and not isinstance(cotangents[0], Tensor) \
                and isinstance(cotangents[0], (tuple, list)):
            cotangents = tuple(cotangents[0])
        if len(cotangents) == 1 and not single and isinstance(cotangents[0], (tuple, list)):
            cotangents = tuple(cotangents[0])
        if len(cotangents) != len(outs):
            raise TypeError(f"vjp_fn: {len(cotangents)} cotangent(s) for {len(outs)} "
                            "output(s). help: give one per output, of its shape")
        return _pullback(outs, cotangents, inputs, keep)

    result = out if keep else _detach(out)
    return (result, vjp_fn, aux) if has_aux else (result, vjp_fn)


def _pullback(outs, cotangents, inputs, keep: bool) -> tuple:
    live = [(o, u) for o, u in zip(outs, cotangents) if o.requires_grad]
    if not live:
        return _logical(tuple(zeros(x.shape, x) for x in inputs))
    for o, u in live:
        if shape_of(u) != o.shape:
            raise BackwardError(f"vjp_fn: a cotangent of shape {shape_of(u)} for an "
                                f"output of shape {o.shape}. help: each cotangent must have "
                                "its output's shape")
    with grad_mode.enable_grad():
        if batching_mode.active():  # one sum per sample, walked back at once
            root, seed = root_and_seed(sum((o * u).sum() for o, u in live))
        elif len(live) == 1:
            root, seed = live[0]
            seed = seed if isinstance(seed, Tensor) else _wrap(B.constant(seed, root.data))
        else:  # several outputs: d/dx of sum_i <u_i, out_i>, the same product
            root = sum((o * u).sum() for o, u in live)
            seed = None
    grads = engine.grad(root, inputs, seed, retain_graph=True, create_graph=keep)
    return _logical(grads if keep else tuple(g.detach() for g in grads))


def _logical(grads: tuple) -> tuple:
    """Gradients at the walk's stops, as f's inputs look (batched inside vmap)."""
    if not batching_mode.active():
        return grads
    return tuple(batched.rewrap(g) for g in grads)


def _detach(out):
    if isinstance(out, Tensor):
        return out.detach()
    if isinstance(out, (tuple, list)):
        return type(out)(_detach(o) for o in out)
    return out


def grad_and_value(func, argnums=0, has_aux: bool = False):
    """``grad_and_value(f)(*args)`` -> ``(grad, value)``, torch.func's order; with
    ``has_aux``: ``(grad, (value, aux))``. f returns a scalar tensor; ``grad`` is a tuple
    when ``argnums`` is. Nests: ``grad(grad(f))``, ``jvp(grad(f), ...)``."""
    check_fn(func, "grad_and_value")

    def wrapped(*args, **kwargs):
        nums = argnums_tuple(argnums, len(args), "grad")
        args = list(args)
        trees = {i: tree_leaves(args[i]) for i in nums}  # an argument may be a tuple, dict
        for i in nums:
            trees[i] = ([as_primal(x, "grad") for x in trees[i][0]], trees[i][1])
        keep = nested([x for i in nums for x in trees[i][0]])
        inputs, counts = [], []
        for i in nums:
            pairs = [differentiable(x) for x in trees[i][0]]
            args[i] = trees[i][1]([p[0] for p in pairs])
            inputs += [p[1] for p in pairs]
            counts.append(len(pairs))
        with grad_mode.enable_grad():
            out, aux = split_aux(func(*args, **kwargs), has_aux, "grad")
        if not isinstance(out, Tensor) or out.size != 1:
            raise BackwardError(
                f"func.grad: f must return a one-element tensor, got "
                f"{getattr(out, 'shape', type(out).__name__)}. help: reduce it (loss.sum() or "
                "loss.mean()), or use jacrev for a vector output")
        if out.requires_grad:
            root, seed = root_and_seed(out)
            grads = engine.grad(root, inputs, seed, create_graph=keep)
        else:  # f does not depend on the inputs
            grads = tuple(zeros(t.shape, t) for t in inputs)
        if not keep:
            grads, out = tuple(g.detach() for g in grads), out.detach()
        grads, per_arg, at = _logical(grads), [], 0
        for i, k in zip(nums, counts):
            per_arg.append(trees[i][1](list(grads[at:at + k])))
            at += k
        g = per_arg[0] if isinstance(argnums, int) else tuple(per_arg)
        return (g, (out, aux)) if has_aux else (g, out)

    return wrapped


def grad(func, argnums=0, has_aux: bool = False):
    """``grad(f)(*args)`` -> df/dargs[argnums] (a tuple when ``argnums`` is a tuple); with
    ``has_aux``: ``(grad, aux)``."""
    check_fn(func, "grad")
    gv = grad_and_value(func, argnums, has_aux)

    def wrapped(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapped


def jacrev(func, argnums=0, *, has_aux: bool = False):
    """``jacrev(f)(*args)``: the Jacobian of f's output with respect to args[argnums],
    shape ``out.shape + arg.shape``, by one reverse pass per output element (so it suits
    few outputs and many inputs). As torch.func's: a tuple over the arguments for a
    tuple ``argnums``; for a tuple of outputs, a tuple over them (of those)."""
    check_fn(func, "jacrev")

    def wrapped(*args):
        nums = argnums_tuple(argnums, len(args), "jacrev")
        args = list(args)

        def f_of(*picked):
            call = list(args)
            for i, x in zip(nums, picked):
                call[i] = x
            return func(*call)

        result = vjp(f_of, *(args[i] for i in nums), has_aux=has_aux)
        outs, single = outputs(result[0], "jacrev")
        pull = result[1]
        none = [zeros(o.shape, o) for o in outs]
        jacs = []
        for m, y in enumerate(outs):
            rows = []
            for k in range(y.size):
                seeds = list(none)
                seeds[m] = basis(y, k)
                rows.append(pull(*seeds) if not single else pull(seeds[0]))
            jac = []
            for j, i in enumerate(nums):
                shape = y.shape + shape_of(args[i])
                jac.append(stack([r[j] for r in rows]).reshape(shape) if rows
                           else zeros(shape, y))
            jacs.append(jac[0] if isinstance(argnums, int) else tuple(jac))
        jac = jacs[0] if single else type(result[0])(jacs)
        return (jac, result[2]) if has_aux else jac

    return wrapped
