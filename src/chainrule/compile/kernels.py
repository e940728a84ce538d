"""Kernels: the hottest ops written out as NumPy lines for a lowered replay (lower.py).

A replay knows what eager code finds out on every call: the shapes and dtypes (the
guards fix them), which inputs want a gradient, which branch of an op's forward runs.
A kernel is an op's ``forward`` or ``vjp`` with those answers put in: the same NumPy
calls on the same arrays in the same order, so the result is bitwise the op's own
(tests/compile/test_kernels.py holds each kernel to its op, branch by branch), without
the method call, the saves, ``needs()``, the shape tests or ``unbroadcast``'s search.
A vjp kernel also reads the forward kernel's temporaries (MSE's p - t) instead of
computing them again. An op without a kernel, or a case a kernel does not take (returns
None), is called as the op itself.
"""

from __future__ import annotations

import numpy as np

from chainrule.ops import elementwise, linalg, loss, unary
from chainrule.ops.core import sum_rows, unbroadcast


class Site:
    """One application of an op in a plan: its local names and recorded shapes."""

    def __init__(self, op, ins, out, meta: dict, in_slots, out_slot, op_name: str,
                 params: dict):
        self.op = op
        self.params = params  # an array parameter's name -> its local (CE's target)
        self.ins = ins  # the inputs' local (or global constant) names
        self.out = out
        self.shapes = [meta.get(s, (None, None))[0] for s in in_slots]
        self.dtypes = [meta.get(s, (None, None))[1] for s in in_slots]
        self.out_shape = meta.get(out_slot, (None, None))[0]
        self.op_name = op_name  # the op's global name, for its saves (op.__dict__)
        self.temps: dict = {}  # name -> local: what the forward kernel left for the vjp

    def temp(self, what: str) -> str:
        name = self.temps[what] = f"{self.out}_{what}"
        return name


def forward(site: Site):
    """The lines of ``site.op.forward``, or None (no kernel)."""
    rule = _FORWARD.get(type(site.op))
    if rule is None or site.params and rule is not _cross_entropy:
        return None  # an op with array parameters is called itself, unless its kernel reads them
    return rule(site)


def vjp(site: Site | None, g: str, outs: dict):
    """The lines of ``site.op.vjp(g)`` that fill ``outs`` (input index -> local name), or
    None. ``site`` is None for a node whose forward the plan did not record."""
    if site is None:
        return None
    rule = _VJP.get(type(site.op))
    return None if rule is None else rule(site, g, outs)


# --- forward -------------------------------------------------------------------------------


def _linear(site: Site):
    x, w = site.ins[0], site.ins[1]
    b = site.ins[2] if len(site.ins) > 2 else None
    (xs, ws), (xt, wt) = site.shapes[:2], site.dtypes[:2]
    if xs is None or ws is None:
        return None
    y = site.out
    if len(xs) == 2 and 16 <= xs[0] <= 32 and ws[0] >= 128 and xt == wt == np.float32:
        # linalg.Linear's other GEMM orientation, taken for these shapes
        lines = [f"{y} = np.empty(({xs[0]}, {ws[0]}), dtype=np.float32)"]
        if b is None:
            return lines + [f"np.copyto({y}, ({w} @ {x}.T).T)"]
        return lines + [f"np.add(({w} @ {x}.T).T, {b}, out={y})"]
    lines = [f"{y} = {x} @ {w}.T"]
    if b is not None:
        lines.append(f"{y} += {b}")
    return lines


def _tanh(site: Site):
    return [f"{site.out} = np.tanh({site.ins[0]})"]


def _sigmoid(site: Site):
    x, y = site.ins[0], site.out
    e, d = site.temp("e"), site.temp("d")
    return [f"{e} = np.exp(-np.abs({x}))",
            f"{d} = 1 + {e}",
            f"{y} = np.where({x} >= 0, 1 / {d}, {e} / {d})"]


def _relu(site: Site):
    x, y = site.ins[0], site.out
    lines = [f"{y} = np.maximum({x}, 0)"]
    if site.op.parents is not None:  # recorded: the mask its vjp (kernel) reads
        lines.append(f"{site.temp('mask')} = {x} > 0")
    return lines


def _mse(site: Site):
    p, t = site.ins
    d, y = site.temp("d"), site.out
    lines = [f"{d} = {p} - {t}"]
    reduction = site.op.reduction
    if reduction == "none":
        return lines + [f"{y} = {d} * {d}"]
    if site.out_shape is None or site.shapes[0] is None:
        return None
    size = int(np.prod(np.broadcast_shapes(site.shapes[0], site.shapes[1] or ())))
    total = f"np.vdot({d}, {d})"
    return lines + [f"{y} = asarray({total} / {size})" if reduction == "mean"
                    else f"{y} = asarray({total})"]


def _cross_entropy(site: Site):
    x, t = site.ins[0], site.params.get("target")
    xs = site.shapes[0]
    if t is None or xs is None or len(xs) != 2:
        return None
    n, y = xs[0], site.out
    m, sh, e, s, losses = (site.temp(k) for k in ("m", "sh", "e", "s", "l"))
    lines = [f"{m} = {x}.max(axis=1, keepdims=True)",
             f"{sh} = {x} - {m}",
             f"{e} = np.exp({sh})",
             f"{s} = {e}.sum(axis=1, keepdims=True)",
             f"{losses} = np.log({s}[:, 0]) - {sh}[np.arange({n}), {t}]"]
    if site.op.parents is not None:  # recorded: softmax(x), the gradient's main term
        lines.append(f"{site.temp('p')} = {e} / {s}")
    reduction = site.op.reduction
    if reduction == "none":
        return lines + [f"{y} = {losses}"]
    total = f"{losses}.sum()"
    return lines + [f"{y} = asarray({total} / {n})" if reduction == "mean"
                    else f"{y} = asarray({total})"]


def _binary(symbol: str):
    def rule(site: Site):
        a, b = site.ins
        return [f"{site.out} = {a} {symbol} {b}"]
    return rule


# --- vjp -----------------------------------------------------------------------------------


def _linear_vjp(site: Site, g: str, outs: dict):
    x, w = site.ins[0], site.ins[1]
    xs = site.shapes[0]
    if xs is None or site.out_shape is None:
        return None
    lines = []
    if 0 in outs:
        lines.append(f"{outs[0]} = {g} @ {w}")
    g2, x2 = g, x
    if len(site.out_shape) != 2:
        g2 = f"{g}.reshape(-1, {site.out_shape[-1]})"
    if len(xs) != 2:
        x2 = f"{x}.reshape(-1, {xs[-1]})"
    if 1 in outs:
        lines.append(f"{outs[1]} = {g2}.T @ {x2}")
    if 2 in outs:
        lines.append(f"{outs[2]} = sum_rows({g2})")
    return lines


def _cross_entropy_vjp(site: Site, g: str, outs: dict):
    p, t = site.temps.get("p"), site.params.get("target")
    if p is None or t is None:
        return None
    n, d = site.shapes[0][0], site.temp("d")
    lines = [f"{d} = {p}.copy()",  # a second backward pass reads p again
             f"{d}[np.arange({n}), {t}] -= 1"]
    reduction = site.op.reduction
    scale = (f"{g}.reshape({n}, 1)" if reduction == "none" else
             f"({g} / {n})" if reduction == "mean" else g)
    return lines + [f"{outs[0]} = {d} * {scale}"]


def _tanh_vjp(site: Site, g: str, outs: dict):
    y = site.out
    return [f"{outs[0]} = {g} * (1 - {y} * {y})"]


def _sigmoid_vjp(site: Site, g: str, outs: dict):
    y = site.out
    return [f"{outs[0]} = {g} * ({y} * (1 - {y}))"]


def _relu_vjp(site: Site, g: str, outs: dict):
    mask = site.temps.get("mask")
    return None if mask is None else [f"{outs[0]} = {g} * {mask}"]


def _mse_vjp(site: Site, g: str, outs: dict):
    d = site.temps.get("d")
    if d is None or site.shapes[0] is None:
        return None
    size = int(np.prod(np.broadcast_shapes(site.shapes[0], site.shapes[1] or ())))
    scale = site.temp("scale")
    factor = f"(2.0 / {size})" if site.op.reduction == "mean" else "2.0"
    dp = outs.get(0, site.temp("dp"))
    lines = [f"{scale} = {g} * {factor}", f"{dp} = {d} * {scale}"]
    if 1 in outs:
        lines.append(f"{outs[1]} = -{dp}")
    return lines


def _down(site: Site, i: int, value: str, out: str):
    """``out = unbroadcast(value, shape of input i)``, decided now: most often nothing."""
    shape = site.shapes[i]
    if shape is None:
        return None
    if shape == site.out_shape:
        return f"{out} = {value}"
    return f"{out} = unbroadcast({value}, {shape!r})"


def _add_vjp(site: Site, g: str, outs: dict):
    return _lines(_down(site, i, g, out) for i, out in outs.items())


def _sub_vjp(site: Site, g: str, outs: dict):
    return _lines(_down(site, i, g if i == 0 else f"-{g}", out) for i, out in outs.items())


def _mul_vjp(site: Site, g: str, outs: dict):
    a, b = site.ins
    return _lines(_down(site, i, f"{g} * {b if i == 0 else a}", out)
                  for i, out in outs.items())


def _lines(lines):
    lines = list(lines)
    return None if any(line is None for line in lines) else lines


_FORWARD = {
    linalg.Linear: _linear,
    unary.Tanh: _tanh,
    unary.Sigmoid: _sigmoid,
    unary.Relu: _relu,
    loss.MSELoss: _mse,
    loss.CrossEntropy: _cross_entropy,
    elementwise.Add: _binary("+"),
    elementwise.Sub: _binary("-"),
    elementwise.Mul: _binary("*"),
}

_VJP = {
    linalg.Linear: _linear_vjp,
    unary.Tanh: _tanh_vjp,
    unary.Sigmoid: _sigmoid_vjp,
    unary.Relu: _relu_vjp,
    loss.MSELoss: _mse_vjp,
    loss.CrossEntropy: _cross_entropy_vjp,
    elementwise.Add: _add_vjp,
    elementwise.Sub: _sub_vjp,
    elementwise.Mul: _mul_vjp,
}

#: What a lowered replay needs in its globals for these lines.
NAMES = {"unbroadcast": unbroadcast, "sum_rows": sum_rows}
