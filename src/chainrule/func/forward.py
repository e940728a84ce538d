"""Forward-mode transforms, torch.func's names: ``jvp``, ``jacfwd``, ``hessian``, and
``hvp`` (torch.func's documented recipe, jvp of grad). One forward pass carries one
direction v through every op (its ``jvp`` rule) and gives J v for every output: it suits
few inputs and many outputs, the mirror image of reverse mode."""

from __future__ import annotations

from chainrule.errors import ShapeError
from chainrule.func import batched
from chainrule.func._args import (
    argnums_tuple,
    as_primal,
    as_tangent,
    basis,
    check_fn,
    outputs,
    zeros,
)
from chainrule.func.reverse import grad, jacrev
from chainrule.graph import batching_mode, forward_mode
from chainrule.ops.core import alias
from chainrule.ops.shape import stack


def jvp(func, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """``jvp(f, primals, tangents)`` -> ``(f(*primals), J v)``: f's output and its
    directional derivative along ``tangents`` (one per primal, of its shape), in one
    forward pass. ``primals`` and ``tangents`` are tuples; the result mirrors f's output
    (a tensor or a tuple). With ``has_aux``: ``(output, J v, aux)``."""
    check_fn(func, "jvp")
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("func.jvp: primals and tangents must be tuples, as torch.func's. "
                        "help: jvp(f, (x,), (v,))")
    if len(primals) != len(tangents):
        raise ShapeError(f"func.jvp: {len(primals)} primal(s) but {len(tangents)} "
                         "tangent(s). help: give one tangent per primal")
    xs = [as_primal(p, "jvp") for p in primals]
    vs = [as_tangent(v, x, "jvp") for v, x in zip(tangents, xs)]
    vm = bool(batching_mode.active())  # inside vmap: tangents ride on the physical arrays
    level = forward_mode.enter()
    try:
        duals = []
        for x, v in zip(xs, vs):
            if vm:
                x, v = batched.expand(x), batched.expand(v)
            d = alias(x)  # x itself is never touched: its alias carries the tangent
            d._tangents = {**(forward_mode.tangents(d) or {}), level: v}
            duals.append(batched.rewrap(d) if vm else d)
        out = func(*duals)
        aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError("func.jvp: with has_aux=True f must return (output, aux)")
            out, aux = out
        outs, single = outputs(out, "jvp")
        tans = []
        for o in outs:
            p = batched.expand(o) if vm else o
            t = forward_mode.tangent(p, level)
            if t is None:
                t = zeros(p.shape, p)  # o does not depend on the primals
            tans.append(batched.rewrap(t) if vm else t)
    finally:
        forward_mode.exit(level)
    result = (outs[0], tans[0]) if single else (tuple(outs), tuple(tans))
    return (*result, aux) if has_aux else result


def jacfwd(func, argnums=0, *, has_aux: bool = False):
    """``jacfwd(f)(*args)``: the Jacobian of f's output with respect to args[argnums],
    shape ``out.shape + arg.shape``, by one forward pass per input element (so it suits
    few inputs and many outputs). As torch.func's: a tuple over the arguments for a tuple
    ``argnums``; for a tuple of outputs, a tuple over them (of those). Equal to
    ``jacrev``'s, which costs one reverse pass per output element instead."""
    check_fn(func, "jacfwd")

    def wrapped(*args):
        nums = argnums_tuple(argnums, len(args), "jacfwd")
        args = list(args)
        for i in nums:
            args[i] = as_primal(args[i], "jacfwd")
        xs = [args[i] for i in nums]

        def f_of(*picked):
            call = list(args)
            for i, x in zip(nums, picked):
                call[i] = x
            return func(*call)

        cols, out, aux = None, None, None  # cols[output][argument]: one column per element
        for j, x in enumerate(xs):
            for k in range(x.size):
                vs = [basis(x, k) if m == j else zeros(z.shape, z) for m, z in enumerate(xs)]
                res = jvp(f_of, tuple(xs), tuple(vs), has_aux=has_aux)
                out, tan = res[0], res[1]
                aux = res[2] if has_aux else None
                outs, single = outputs(out, "jacfwd")
                if cols is None:
                    cols = [[[] for _ in xs] for _ in outs]
                for m, t in enumerate((tan,) if single else tan):
                    cols[m][j].append(t)
        if out is None:  # empty inputs: one call for the outputs' shapes
            res = func(*args)
            out, aux = (res[0], res[1]) if has_aux else (res, None)
            outs, single = outputs(out, "jacfwd")
            cols = [[[] for _ in xs] for _ in outs]
        jacs = []
        for m, o in enumerate(outs):
            per = []
            for j, x in enumerate(xs):
                shape = o.shape + x.shape
                per.append(stack(cols[m][j], axis=-1).reshape(shape) if cols[m][j]
                           else zeros(shape, o))
            jacs.append(per[0] if isinstance(argnums, int) else tuple(per))
        jac = jacs[0] if single else type(out)(jacs)
        return (jac, aux) if has_aux else jac

    return wrapped


def hessian(func, argnums=0):
    """``hessian(f)(*args)``: the matrix of second derivatives of scalar f, shape
    ``arg.shape + arg.shape``: ``jacfwd(jacrev(f))``, forward-over-reverse, as torch.func."""
    check_fn(func, "hessian")
    return jacfwd(jacrev(func, argnums), argnums)


def hvp(func, primals, tangents):
    """``hvp(f, primals, tangents)`` -> H v: the Hessian of scalar f times v without forming
    H, as ``jvp(grad(f), primals, tangents)[1]`` (torch.func's documented recipe): one
    forward pass carried through one recorded backward pass, about the cost of a few
    gradients. A tuple for several primals."""
    check_fn(func, "hvp")
    nums = tuple(range(len(primals)))
    g = grad(func, argnums=nums[0] if len(nums) == 1 else nums)
    return jvp(g, tuple(primals), tuple(tangents))[1]
