"""A recorded step and its replay: the steps over slots (record.py), the guards that say
when the recording still holds, and the structure of what the step returned."""

from __future__ import annotations

from chainrule.compile.lower import _CONST, _DICT, _SEQ, _TENSOR, lower
from chainrule.compile.record import BACKWARD, OP, Recorder
from chainrule.graph import accumulate, anomaly
from chainrule.tensor import Tensor


class Plan:
    """What a replay needs; built from a finished recording and the step's result.

    A recording that was refused still makes a plan, with ``reason`` set and nothing to
    replay: its guards say when the step runs eagerly without trying to record again.
    """

    def __init__(self, rec: Recorder, result):
        self.result = _structure(result, rec) if rec.reason is None else None
        self.steps = [rec.flatten(s) if s[0] == BACKWARD else s for s in rec.steps]
        self.reason = rec.reason
        self.slots = rec.slots
        self.arg_slots = rec.arg_slots
        self.argdata_slots = rec.argdata_slots
        self.externals = [(t, s, t.data.shape, t.data.dtype, t._rg)
                          for t, s in rec.externals]
        self.checks = rec.checks
        self.meta = rec.meta
        self.modules = [(m, m.training) for m in rec.modules.values()]
        # each module's parameters and buffers, by identity: one replaced (model.fc.weight =
        # Parameter(...)) is read by eager code, never by the plan
        self.members = [(d, name, t) for m in rec.modules.values()
                        for d in (m._parameters, m._buffers) for name, t in d.items()]
        self.sizes = [(d, len(d)) for m in rec.modules.values()
                      for d in (m._parameters, m._buffers)]
        self.n_ops = sum(1 for s in self.steps if s[0] == OP)
        self.run = None

    def holds(self, args) -> bool:
        """The guards beyond the cache key: modules' modes and parameters, the tensors read
        by reference, no hooks or anomaly mode since, and the answers ``depends`` got."""
        if anomaly.state.enabled:
            return False
        if accumulate.registry and any(
                accumulate.hooks_of(t) for t in (*(e[0] for e in self.externals), *args)
                if isinstance(t, Tensor)):
            return False
        for m, training in self.modules:
            if m.training != training or m._forward_pre_hooks or m._forward_hooks \
                    or m._backward_hooks:
                return False
        for d, name, t in self.members:
            if d.get(name) is not t:
                return False
        for d, n in self.sizes:
            if len(d) != n:
                return False
        for t, _, shape, dtype, rg in self.externals:
            if t.data.shape != shape or t.data.dtype != dtype or t._rg != rg or t._hooks:
                return False
        if self.checks:
            slots = self._start(args)
            for fn, ins, answer in self.checks:
                if fn(*[slots[s] for s in ins]) != answer:
                    return False
        return True

    def _start(self, args) -> list:
        slots = self.slots.copy()
        for k, s in self.arg_slots:
            slots[s] = args[k]
        for k, s in self.argdata_slots:
            slots[s] = args[k].data
        for t, s, *_ in self.externals:
            slots[s] = t.data
        return slots

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
