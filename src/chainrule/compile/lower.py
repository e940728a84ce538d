"""Lowering a plan to one Python function: the replay as straight-line code.

The interpreter in plan.py read every step's tuple, looked its slots up in a list and
branched on its kind, for every op of every replay: on a small step that costs as much as
the arithmetic. Here each step becomes a line of source, once, and Python's compiler
makes a function of them: slots are local variables, ops' methods and constants are
names in the function's globals. The lines call exactly what the interpreter called, in
the same order (an op's ``forward``, a node's ``vjp``, the engine's accumulation), or a
kernel (kernels.py) that calls the same NumPy functions on the same arrays, so a replay
stays bitwise the eager step.
"""

from __future__ import annotations

import re

import numpy as np

from chainrule.autograd.engine import _accumulate
from chainrule.compile import kernels
from chainrule.compile.record import ADD, BACKWARD, CALL, CAST, OP, VJP
from chainrule.graph.node import note_write
from chainrule.tensor import _wrap

_TENSOR, _CONST, _SEQ, _DICT = range(4)  # plan._structure's kinds


class _Source:
    """The lines and globals of the function being written."""

    def __init__(self):
        self.lines: list[str] = []
        self.names: dict = {"ndarray": np.ndarray, "asarray": np.asarray, "np": np,
                            "acc": _accumulate, "wrap": _wrap, "note_write": note_write,
                            **kernels.NAMES}
        self._ids: dict = {}

    def name(self, obj, hint: str) -> str:
        """A global name for ``obj`` (one per object)."""
        key = id(obj)
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = f"{hint}{len(self._ids)}"
            self.names[found] = obj
        return found

    def emit(self, line: str) -> None:
        self.lines.append("    " + line)


def lower(plan):
    """The function ``run(args)`` that replays ``plan`` (a plan.Plan that holds)."""
    src = _Source()
    slot = _slot_names(plan)
    for s, value in enumerate(plan.slots):
        # constants of the step (None included); a slot the code assigns is a local,
        # which shadows its global
        src.names[slot(s)] = value
    src.emit("(" + "".join(f"{slot(s)}, " for _, s in plan.arg_slots) + ") = "
             + "(" + "".join(f"args[{k}], " for k, _ in plan.arg_slots) + ")"
             if plan.arg_slots else "pass")
    for k, s in plan.argdata_slots:
        src.emit(f"{slot(s)} = args[{k}].data")
    for t, s, *_ in plan.externals:
        src.emit(f"{slot(s)} = {src.name(t, 'ext')}.data")
    # first the kernels, so that an op whose every vjp has one skips refilling its saves
    sites, forward_lines, vjp_lines, needs_saves = {}, {}, {}, set()
    for step in plan.steps:
        if step[0] == OP:
            _, op, ins, out, patches, _, _ = step
            site = sites[id(op)] = kernels.Site(op, [slot(s) for s in ins], slot(out),
                                                plan.meta, ins, out, src.name(op, "op"),
                                                {name: slot(s) for name, s in patches})
            forward_lines[id(op)] = kernels.forward(site)
        elif step[0] == BACKWARD:
            for event in step[1]:
                if event[0] == VJP:
                    _, node, g, outs = event
                    lines = vjp_lines[id(event)] = kernels.vjp(
                        sites.get(id(node)), slot(g), {i: slot(s) for i, s in outs})
                    if lines is None:
                        needs_saves.add(id(node))
    for step in plan.steps:  # a node with one vjp left as its method: all of them are
        if step[0] == BACKWARD:
            for event in step[1]:
                if event[0] == VJP and id(event[1]) in needs_saves:
                    vjp_lines[id(event)] = None
    for step in plan.steps:
        kind = step[0]
        if kind == OP:
            op = step[1]
            # an op whose vjp runs as its own method gets its own forward too: every save
            # that vjp reads (derived ones such as relu's mask included) is then this call's
            lines = None if id(op) in needs_saves else forward_lines[id(op)]
            _op(src, slot, step, sites[id(op)], lines)
        elif kind == CALL:
            _, fn, ins, outs = step
            call = f"{src.name(fn, 'call')}({', '.join(slot(s) for s in ins)})"
            if type(outs) is tuple:
                src.emit(f"({''.join(slot(s) + ', ' for s in outs)}) = {call}")
            else:
                src.emit(f"{slot(outs)} = {call}")
        elif kind == BACKWARD:
            _backward(src, slot, step, vjp_lines)
        else:  # OPAQUE: one call, as recorded, or its lines (_opaque)
            _opaque(src, plan, step)
    src.emit(f"return {_result(src, plan.result, slot)}")
    code = "def run(args):\n" + "\n".join(_free_dead(src.lines)) + "\n"
    namespace = dict(src.names)
    exec(compile(code, f"<cr.compile plan, {plan.n_ops} ops>", "exec"), namespace)
    run = namespace["run"]
    run.source = code  # what a curious user (or a failing test) can read
    return run


_LOCAL = re.compile(r"\bs\d+(?:_\w+)?\b")


def _free_dead(lines: list[str]) -> list[str]:
    """``del`` each local after the line that reads it last: NumPy can then reuse its
    memory for the next array of that size, warm in the cache, as eager code that drops
    its temporaries does (W5: 5,000 steps of three arrays each would otherwise all stay)."""
    assigned = set()
    last = {}
    for i, line in enumerate(lines):
        names = _LOCAL.findall(line)
        for name in names:
            last[name] = i
        head = line.split("=", 1)[0] if "=" in line.split("(", 1)[0] else ""
        assigned.update(n for n in _LOCAL.findall(head))
    dead_after: dict = {}
    for name, i in last.items():
        if name in assigned:
            dead_after.setdefault(i, []).append(name)
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        if i in dead_after and not line.lstrip().startswith("return"):
            out.append("    del " + ", ".join(sorted(dead_after[i])))
    return out


def _slot_names(plan):
    def slot(s: int) -> str:
        return f"s{s}"
    return slot


def _op(src: _Source, slot, step, site, lines) -> None:
    _, op, ins, out, patches, harvest, fills = step
    o, y = site.op_name, site.out
    # a kernel reads its parameters and keeps its saves as locals; the op itself needs
    # them in its __dict__
    patches, fills = (patches, fills) if lines is None else ((), None)
    if patches or fills:
        src.emit(f"d_{o} = {o}.__dict__")
    for name, s in patches:
        src.emit(f"d_{o}[{name!r}] = {slot(s)}")
    if lines is None:
        src.emit(f"{y} = {o}.forward({', '.join(site.ins)})")
        src.emit(f"if type({y}) is not ndarray: {y} = asarray({y})")
    else:
        for line in lines:
            src.emit(line)
    for name, i in fills or ():  # the saves the op's own vjp reads
        src.emit(f"d_{o}[{name!r}] = {y if i < 0 else site.ins[i]}")
    for d, key, s in harvest:
        src.emit(f"{slot(s)} = {src.name(d, 'params')}[{key!r}]")


def _backward(src: _Source, slot, step, vjp_lines: dict) -> None:
    _, events, seed_slot, ones = step
    if ones is not None:
        shape, dtype = ones
        src.emit(f"{slot(seed_slot)} = np.ones({shape!r}, {src.name(dtype, 'dtype')})")
    for event in events:
        kind = event[0]
        if kind == VJP:
            _, node, g, outs = event
            lines = vjp_lines[id(event)]
            if lines is not None:
                for line in lines:
                    src.emit(line)
                continue
            src.emit(f"r = {src.name(node, 'op')}.vjp({slot(g)})")
            if len(outs) == 1 and outs[0][0] == 0:
                src.emit(f"{slot(outs[0][1])} = r if type(r) is not tuple else r[0]")
            else:
                for i, s in outs:
                    src.emit(f"{slot(s)} = r[{i}]")
        elif kind == ADD:
            src.emit(f"{slot(event[3])} = {slot(event[1])} + {slot(event[2])}")
        elif kind == CAST:
            src.emit(f"{slot(event[2])} = {slot(event[1])}.astype("
                     f"{src.name(event[3], 'dtype')})")
        else:  # LEAF
            _, leaf, g, owned, keeps = event
            target = f"args[{leaf}]" if type(leaf) is int else src.name(leaf, "leaf")
            if keeps:  # the engine's _accumulate, its first branch written out
                src.emit(f"if {target}._grad is None: {target}._grad = wrap({slot(g)})")
                src.emit(f"else: acc({target}, {slot(g)}, False, True)")
            else:
                src.emit(f"acc({target}, {slot(g)}, False, {owned!r})")


def _opaque(src: _Source, plan, step) -> None:
    """An opaque method (record.py): ``zero_grad`` and plain SGD's ``step`` as their lines,
    under a test that the optimizer (or module) is still as it was lowered; anything else,
    or a test that fails, is the one recorded call."""
    _, method, obj, a, kw = step
    call = (f"{src.name(method, 'method')}({src.name(obj, 'obj')}, *{src.name(a, 'const')}, "
            f"**{src.name(kw, 'const')})")
    # nn and optim are imported here, not at the top: `import chainrule` loads compile but
    # not them (tests/test_startup.py), and a step that calls these methods has them loaded.
    from chainrule.nn.module import Module
    from chainrule.optim.optimizer import SGD, Optimizer

    lines = None
    if method is Optimizer.zero_grad.__wrapped__ and not a and not kw:
        lines = _zero_grad(src, obj)
    elif method is Module.zero_grad.__wrapped__ and not a and not kw:
        lines = _module_zero_grad(src, plan, obj)
    elif method is Optimizer.step.__wrapped__ and not a and not kw \
            and type(obj)._update is SGD._update:
        lines = _sgd_step(src, obj)
    if lines is None:
        src.emit(call)
        return
    test, body = lines
    src.emit(f"if {test}:")
    for line in body:
        src.emit("    " + line)
    src.emit("else:")
    src.emit(f"    {call}")


def _groups_unchanged(src: _Source, opt) -> tuple:
    """The test that ``opt``'s parameter groups hold the same parameters as now, and the
    parameters' names."""
    groups = opt.param_groups
    gs = src.name(groups, "groups")
    test = [f"{src.name(opt, 'obj')}.param_groups is {gs}", f"len({gs}) == {len(groups)}"]
    params = []
    for i, group in enumerate(groups):
        g, ps = src.name(group, "group"), src.name(group["params"], "plist")
        test += [f"{gs}[{i}] is {g}", f"{g}['params'] is {ps}",
                 f"len({ps}) == {len(group['params'])}"]
        for j, p in enumerate(group["params"]):
            params.append((src.name(p, "param"), group, p))
            test.append(f"{ps}[{j}] is {params[-1][0]}")
    return test, params


def _zero_grad(src: _Source, opt):
    """``Optimizer.zero_grad()``: ``p.grad = None`` for each parameter (no recorder runs
    in a replay, so the setter is its one write)."""
    test, params = _groups_unchanged(src, opt)
    return " and ".join(test), [f"{p}._grad = None" for p, _, _ in params]


def _module_zero_grad(src: _Source, plan, module):
    """``Module.zero_grad()``, when the replay's guards fix its whole tree (every
    submodule ran in the step: their members are guarded)."""
    ran = {id(m) for m, _ in plan.modules}
    if not all(id(m) in ran for m in module.modules()):
        return None
    return "True", [f"{src.name(p, 'param')}._grad = None" for p in module.parameters()]


def _sgd_step(src: _Source, opt):
    """``SGD.step()`` without momentum or weight decay: per parameter with a gradient,
    ``w -= np.multiply(g, lr, out=work)`` and the version bump, as SGD._update does, with
    lr read from its group on every replay (a scheduler changes it). The test also holds
    every gradient to its parameter's shape and dtype; else the method runs."""
    test, params = _groups_unchanged(src, opt)
    o = src.name(opt, "obj")
    state = src.name(opt.state, "state")
    test.append(f"{o}.state is {state}")
    for group in opt.param_groups:
        g = src.name(group, "group")
        test.append(f"not {g}['momentum'] and not {g}['weight_decay']")
    body = [f"lr{k} = {src.name(group, 'group')}['lr']"
            for k, group in enumerate(opt.param_groups)]
    for j, (p, group, param) in enumerate(params):
        w = param.data
        if type(w) is not np.ndarray:
            return None
        dt, k = src.name(w.dtype, "dtype"), opt.param_groups.index(group)
        test.append(f"((g{j} := {p}._grad) is None or type(w{j} := {p}.data) is ndarray and "
                    f"w{j}.shape == {w.shape!r} and w{j}.dtype is {dt} and "
                    f"type(gd{j} := g{j}.data) is ndarray and gd{j}.shape == {w.shape!r} and "
                    f"gd{j}.dtype is {dt} and {p} in {state})")
        work = src.name(opt._scratch(w, 1), "work")
        body += [f"if g{j} is not None:",
                 f"    w{j} -= np.multiply(gd{j}, lr{k}, out={work})",
                 f"    note_write({p}._vc)"]
    body.append(f"{o}._steps += 1")  # as step() counts (no state to flush without momentum)
    return " and ".join(test), body


def _result(src: _Source, structure, slot) -> str:
    """The return expression: the step's result rebuilt from this replay's slots."""
    if structure[0] == _TENSOR:  # the usual: the loss
        return f"wrap({slot(structure[1])})"
    used = sorted(_slots_of(structure))
    return (f"{src.name(_rebuild, 'rebuild')}({src.name(structure, 'const')}, "
            "{" + ", ".join(f"{s}: {slot(s)}" for s in used) + "})")


def _slots_of(structure) -> set:
    kind = structure[0]
    if kind == _TENSOR:
        return {structure[1]}
    if kind == _CONST:
        return {structure[2]} if len(structure) == 3 else set()
    parts = structure[2] if kind == _SEQ else [s for _, s in structure[2]]
    return set().union(*map(_slots_of, parts)) if parts else set()


def _rebuild(structure, slots):
    kind = structure[0]
    if kind == _TENSOR:
        return _wrap(slots[structure[1]])
    if kind == _CONST:
        return structure[1] if len(structure) == 2 else slots[structure[2]]
    if kind == _SEQ:
        return structure[1](_rebuild(s, slots) for s in structure[2])
    return structure[1]((k, _rebuild(s, slots)) for k, s in structure[2])
