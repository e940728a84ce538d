"""A recorded step and its replay: the steps over slots (record.py), the guards that say
when the recording still holds, and the structure of what the step returned."""

from __future__ import annotations

import numpy as np

from chainrule.compile.guard import MISSING, guard
from chainrule.compile.lower import _CONST, _DICT, _SEQ, _TENSOR, lower
from chainrule.compile.record import BACKWARD, OP, Recorder
from chainrule.graph import grad_mode
from chainrule.tensor import Tensor


class Plan:
    """What a replay needs; built from a finished recording and the step's result.

    A recording that was refused still makes a plan, with ``reason`` set and nothing to
    replay: its guards say when the step runs eagerly without trying to record again.
    """

    def __init__(self, rec: Recorder, result, args: tuple, names: tuple, fn):
        self.result = _structure(result, rec) if rec.reason is None else None
        self.steps = [rec.flatten(s) if s[0] == BACKWARD else s for s in rec.steps]
        self.reason = rec.reason
        self.slots = rec.slots
        self.arg_slots = rec.arg_slots
        self.argdata_slots = rec.argdata_slots
        self.externals = [(t, s, tuple(t.data.shape), t.data.dtype, t._rg)
                          for t, s in rec.externals]
        self.checks = rec.checks
        self.meta = rec.meta
        self.modules = [(m, m.training) for m in rec.modules.values()]
        # each module's parameters, buffers and submodules, by identity: one replaced
        # (model.fc.weight = Parameter(...)) or added (Sequential.append) is read or run by
        # eager code, never by the plan
        self.members = [(d, name, t) for m in rec.modules.values()
                        for d in (m._parameters, m._buffers, m._modules)
                        for name, t in d.items()]
        self.sizes = [(d, len(d)) for m in rec.modules.values()
                      for d in (m._parameters, m._buffers, m._modules)]
        self.n_ops = sum(1 for s in self.steps if s[0] == OP)
        # the call itself: the keyword names, grad mode, each argument, and the plain
        # values the step's code reads from its globals and closure (api._free_numbers)
        self.names = names
        self.grad_enabled = grad_mode.state.enabled
        self.args = [_argument(a) for a in args]
        self.free = _free_values(fn)
        self.key = None  # api.Compiled's cache key, set there
        self.run = None
        # every guard above as one generated function of the arguments: True while this
        # recording holds (docs/compile.md, "Guards")
        self.holds = guard(self, args)

    def replay(self, args):
        """Run the recorded steps on ``args``; return what the step returned."""
        if self.run is None:
            self.run = lower(self)  # on the first replay: a refused plan never needs it
        return self.run(args)


def _structure(value, rec: Recorder):
    """What the step returned, as slots: tensors it computed come back with the replay's
    values; anything else must be a constant of the step (else the recorder refuses)."""
    if isinstance(value, Tensor):
        s = rec.tensors.get(id(value))
        if s is None:
            if id(value) in rec.arg_tensor:
                return (_CONST, None, rec.arg_tensor[id(value)][1])
            rec.refuse("the step returns a tensor the recording did not compute")
            return None
        return (_TENSOR, s)
    if isinstance(value, (tuple, list)):
        return (_SEQ, type(value), [_structure(v, rec) for v in value])
    if isinstance(value, dict):
        return (_DICT, type(value), [(k, _structure(v, rec)) for k, v in value.items()])
    if isinstance(value, (int, float, str, bool, type(None))):
        return (_CONST, value)
    rec.refuse(f"the step returns a {type(value).__name__}, which a replay cannot rebuild")
    return None


def _argument(a) -> tuple:
    """What the guard checks of one argument (as api._guard keys it): a tensor's shape,
    dtype and requires_grad, an array's shape and dtype, a plain value, else identity."""
    if isinstance(a, Tensor):
        return ("tensor", tuple(a.data.shape), a.data.dtype, a._rg, type(a.data),
                bool(a._hooks))
    if isinstance(a, np.ndarray):
        return ("array", a.shape, a.dtype)
    if isinstance(a, (int, float, str, bool, type(None))):
        return ("plain", type(a), a)
    return ("object", a)


def _free_values(fn) -> tuple:
    """The step's globals and closure cells that its own code reads, each with what it held
    at the recording: ``(globals, [(name, value)]), [(cell, value)]`` (MISSING: unset)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return ({}, []), []
    scope = getattr(fn, "__globals__", {})
    names = [(name, scope.get(name, MISSING)) for name in code.co_names]
    cells = []
    for cell in fn.__closure__ or ():
        try:
            cells.append((cell, cell.cell_contents))
        except ValueError:  # a cell not yet filled
            cells.append((cell, MISSING))
    return (scope, names), cells
