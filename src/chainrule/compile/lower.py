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
from chainrule.tensor import _wrap

_TENSOR, _CONST, _SEQ, _DICT = range(4)  # plan._structure's kinds


class _Source:
    """The lines and globals of the function being written."""

    def __init__(self):
        self.lines: list[str] = []
        self.names: dict = {"ndarray": np.ndarray, "asarray": np.asarray, "np": np,
                            "acc": _accumulate, "wrap": _wrap, **kernels.NAMES}
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
        else:  # OPAQUE: one call, as recorded
            _, method, obj, a, kw = step
            src.emit(f"{src.name(method, 'method')}({src.name(obj, 'obj')}, "
                     f"*{src.name(a, 'const')}, **{src.name(kw, 'const')})")
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
            _, leaf, g, owned = event
            target = f"args[{leaf}]" if type(leaf) is int else src.name(leaf, "leaf")
            src.emit(f"acc({target}, {slot(g)}, False, {owned!r})")


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
