"""A recording's guard: one generated function that says whether it applies to a call.

The checks (docs/compile.md, "Guards") were a cache key built from every argument, the
globals the step reads, then a loop over modules, members and tensors: on a small step
(W4) that cost a sixth of the step. Here they are written out once per recording as
straight-line code over the objects themselves (lower.py's way for the replay), so a
call that matches pays a few attribute reads per object and nothing else.
"""

from __future__ import annotations

import functools

from chainrule.compile.lower import _Source
from chainrule.graph import accumulate, grad_mode
from chainrule.tensor import Tensor

#: what a guard checks by value, wherever the step reads it (an argument, a global)
PLAIN = (bool, int, float, complex, str, type(None))
MISSING = object()  # a global not set, a closure cell not filled


def guard(plan, args: tuple):
    """The function ``holds(args)``: True while ``plan`` (a plan.Plan, recorded on ``args``)
    applies to a call.

    Every check of docs/compile.md's "Guards" as straight-line code, in the order that
    fails soonest for a loop that changes batch sizes or modes: the arguments, grad mode,
    the globals and closure cells the step reads, each module's mode, hooks and members,
    the tensors read by reference, hooks after accumulation, the recorded checks. A
    recording whose state had a hook (and so runs eagerly) holds while that hook is there.
    """
    src = _Source()
    src.names.update(Tensor=Tensor, MISSING=MISSING, off=grad_mode.off,
                     gstate=grad_mode.state, registry=accumulate.registry)
    emit, name = src.emit, src.name
    expr = {}  # slot -> the expression of its value in this call (for the checks)
    n = len(plan.args)
    emit(f"if len(args) != {n}: return False")
    if n:
        emit("(" + "".join(f"a{k}, " for k in range(n)) + ") = args")
    for k, s in plan.arg_slots:
        expr[s] = f"a{k}"
    for k, s in plan.argdata_slots:
        expr[s] = f"a{k}.data"
    for k, (kind, *what) in enumerate(plan.args):
        a = f"a{k}"
        if kind == "tensor":
            shape, dtype, rg, array_type, hooked = what
            dt = name(dtype, "dtype")
            emit(f"if not isinstance({a}, Tensor): return False")
            emit(f"d = {a}.data")
            emit(f"if type(d) is not {name(array_type, 'type')} or d.shape != {shape!r} or "
                 f"d.dtype is not {dt} and d.dtype != {dt} or {a}._rg != {rg!r}: "
                 "return False")
            emit(f"if {'not ' if hooked else ''}{a}._hooks: return False")
        elif kind == "array":
            shape, dtype = what
            dt = name(dtype, "dtype")
            emit(f"if not isinstance({a}, ndarray) or {a}.shape != {shape!r} or "
                 f"{a}.dtype is not {dt} and {a}.dtype != {dt}: return False")
        elif kind == "plain":
            kind_of, value = what
            v = name(value, "const")
            emit(f"if type({a}) is not {name(kind_of, 'type')} or {a} is not {v} and "
                 f"{a} != {v}: return False")
        else:
            emit(f"if {a} is not {name(what[0], 'obj')}: return False")
    # grad mode: off[0] counts the threads with it off; while 0 it is on here too
    emit("if off[0] and not gstate.enabled: return False" if plan.grad_enabled else
         "if not off[0] or gstate.enabled: return False")
    (scope, names), cells = plan.free
    g = name(scope, "globals")
    for key, value in names:
        _free_value(src, f"v = {g}.get({key!r}, MISSING)", value)
    for cell, value in cells:
        c = name(cell, "cell")
        emit("try:")
        emit(f"    v = {c}.cell_contents")
        emit("except ValueError:")
        emit("    v = MISSING")
        _free_value(src, None, value)
    for module, training in plan.modules:
        m = name(module, "module")
        # NOTE: a module without hooks reads Hooks' shared empty dicts (nn/hooks.py): its
        # own __dict__ has none, which is cheaper to ask than the attributes
        emit(f"d = {m}.__dict__")
        emit(f"if d['training'] != {training!r}: return False")
        hooked = ("d[k] for k in ('_forward_pre_hooks', '_forward_hooks', "
                  "'_backward_hooks') if k in d")
        if module._forward_pre_hooks or module._forward_hooks or module._backward_hooks:
            emit(f"if not any({hooked}): return False")
        else:
            emit("if ('_forward_pre_hooks' in d or '_forward_hooks' in d or "
                 f"'_backward_hooks' in d) and any({hooked}): return False")
    # a member replaced or added (model.fc.weight = Parameter(...)) is a miss; a dict's
    # size first: then a missing name is a KeyError
    if plan.sizes:
        emit("try:")
    by_dict: dict = {}
    for d, key, t in plan.members:
        by_dict.setdefault(id(d), (d, []))[1].append((key, t))
    for d, size in plan.sizes:
        members = by_dict.get(id(d), (d, []))[1]
        dn = name(d, "members")
        emit(f"    if len({dn}) != {size}"
             + "".join(f" or {dn}[{key!r}] is not {name(t, 'tensor')}" for key, t in members)
             + ": return False")
    if plan.sizes:
        emit("except KeyError:")
        emit("    return False")
    for t, s, shape, dtype, rg in plan.externals:
        e, dt = name(t, "tensor"), name(dtype, "dtype")
        expr[s] = f"{e}.data"
        emit(f"d = {e}.data")
        emit(f"if d.shape != {shape!r} or d.dtype is not {dt} and d.dtype != {dt} or "
             f"{e}._rg != {rg!r} or {'not ' if t._hooks else ''}{e}._hooks: return False")
    watched = tuple(t for t, *_ in plan.externals)
    hooked = _post_hooks(watched, args)
    check = name(functools.partial(_post_hooks, watched), "post_hooks")
    emit(f"if {'not ' if hooked else ''}(registry and {check}(args)): return False")
    for fn, ins, answer in plan.checks:
        values = [expr.get(s) or name(plan.slots[s], "const") for s in ins]
        emit(f"if {name(fn, 'check')}({', '.join(values)}) != {name(answer, 'const')}: "
             "return False")
    emit("return True")
    code = "def holds(args):\n" + "\n".join(src.lines) + "\n"
    namespace = dict(src.names)
    exec(compile(code, f"<cr.compile guard, {plan.n_ops} ops>", "exec"), namespace)
    holds = namespace["holds"]
    holds.source = code
    return holds


def _free_value(src: _Source, read, value) -> None:
    """The lines that hold a global or cell (read into ``v``) to what the recording saw:
    a plain value to that value (its type too), anything else to not being plain. The
    same object as then (the usual case) passes at once."""
    if read is not None:
        src.emit(read)
    was = src.name(value, "const")
    if isinstance(value, PLAIN):
        src.emit(f"if v is not {was} and (type(v) is not {src.name(type(value), 'type')} or "
                 f"v != {was}): return False")
    else:
        src.emit(f"if v is not {was} and isinstance(v, {src.name(PLAIN, 'plain')}): "
                 "return False")


def _post_hooks(watched: tuple, args) -> bool:
    """Has any tensor the step reads a post-accumulate-grad hook (DDP)?"""
    return any(accumulate.hooks_of(t) for t in (*watched, *args) if isinstance(t, Tensor))
