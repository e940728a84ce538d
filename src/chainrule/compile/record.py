"""Recording a step: the recorder that ``graph.trace`` reports to while a step runs eagerly.

The plan it builds is a flat list of steps over numbered slots. A slot holds one value of
the step: a step input (or its array), a tensor from outside read by reference (a
parameter, a buffer), a constant, or an array the step computes. Each step says which
slots it reads and which one it fills:

- ``OP``: a primitive's ``forward`` on raw arrays, with the same op object (so its
  parameters, its saves for the backward pass and its node in the graph are reused);
- ``CALL``: an array function library code ran through ``trace.call`` (a dropout mask,
  the running statistics);
- ``BACKWARD``: ``engine.run`` over the recorded nodes, which the ``OP`` steps have filled
  with this replay's arrays: the same walk, the same sums, the same order as eager;
- ``OPAQUE``: a method kept as one call (``optimizer.step``, ``zero_grad``).

``depends`` answers become checks that a replay runs first, before anything changes.
Whatever has no recording rule makes the recorder ``refuse``: the step runs eagerly, as it
already did while being recorded, and the reason is kept.
"""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B
from chainrule.graph import accumulate, anomaly
from chainrule.graph.node import OUTPUT, Input, Node
from chainrule.tensor import Tensor

OP, CALL, BACKWARD, OPAQUE = range(4)
VJP, ADD, CAST, LEAF = range(4)  # the events of a flattened backward pass
_PLAIN = (int, float, complex, str, bool, type(None), np.dtype, np.generic)


class Recorder:
    """Builds a plan while the step runs; ``graph.trace`` calls the methods below."""

    def __init__(self, args: tuple):
        self.slots: list = []  # what a replay starts from: constants, None elsewhere
        self.steps: list = []
        self.reason: str | None = None  # set by refuse(): no plan, the eager result stands
        self.depth = 0  # inside an opaque method or a trace.call: nothing is recorded
        self.arrays: dict = {}  # id(array) -> slot
        self.tensors: dict = {}  # id(tensor) -> slot of its array
        self.keep: list = []  # every object whose id is a key above: ids stay unique
        self.made_ids: set = set()  # ids of tensors made inside the step (cr.tensor, factories)
        self.arg_slots: list = []  # (k, slot): the k-th argument itself
        self.argdata_slots: list = []  # (k, slot): the k-th argument's array
        self.arg_tensor: dict = {}  # id(argument tensor) -> (k, slot of the tensor itself)
        self.externals: list = []  # (tensor, slot): read by reference at each replay
        self.outside: set = set()  # their ids
        self.modules: dict = {}  # id -> module that ran inside the step
        self.checks: list = []  # (fn, arg slots, answer): run first by a replay
        self.meta: dict = {}  # slot -> (shape, dtype) of the array an op read or made
        for k, a in enumerate(args):
            if isinstance(a, Tensor) and type(a.data) is not np.ndarray:
                self.refuse(_foreign(a.data))
            if isinstance(a, Tensor):
                s = self._new_slot()
                self.arg_slots.append((k, s))
                self.arg_tensor[id(a)] = (k, s)
                d = self._new_slot()
                self.argdata_slots.append((k, d))
                self._name(a, d)
            elif isinstance(a, np.ndarray):
                s = self._new_slot()
                self.arg_slots.append((k, s))
                self.arrays[id(a)] = s
                self.keep.append(a)

    # --- slots ------------------------------------------------------------------------------

    def _new_slot(self, value=None) -> int:
        self.slots.append(value)
        return len(self.slots) - 1

    def _name(self, t: Tensor, slot: int) -> None:
        self.tensors[id(t)] = slot
        self.arrays[id(t.data)] = slot
        self.keep.append(t)

    def _array_source(self, x, what: str):
        """The slot of an array (or tensor) an op reads; None after refusing."""
        if isinstance(x, Tensor):
            s = self.tensors.get(id(x))
            if s is None:
                s = self.arrays.get(id(x.data))
            if s is not None:
                return s
            if id(x) in self.made_ids:
                return self.refuse(f"{what} reads a tensor made inside the step by no "
                                   "differentiable op (a comparison, cr.tensor, cr.randn, a "
                                   ".grad ...): a replay could not follow its values; make "
                                   "it outside the step or pass it in")
            s = self._new_slot()
            self.externals.append((x, s))
            self.outside.add(id(x))
            self._name(x, s)
            return s
        if isinstance(x, np.ndarray):
            s = self.arrays.get(id(x))
            if s is None:
                return self.refuse(f"{what} reads an array computed outside chainrule's ops "
                                   "(NumPy on a tensor's values, a constant array): a replay "
                                   "could not follow it; pass it to the step as an argument")
            return s
        if isinstance(x, _PLAIN):
            return self._new_slot(x)
        return self.refuse(f"{what} got a {type(x).__name__}, which a replay cannot follow")

    def _call_source(self, x, what: str):
        """The slot of an argument of ``trace.call``/``depends``: tensors stay tensors."""
        if isinstance(x, Tensor):
            if id(x) in self.arg_tensor:
                return self.arg_tensor[id(x)][1]
            if id(x) in self.tensors or id(x.data) in self.arrays:
                return self._array_source(x, what)  # a computed tensor: its array
            if id(x) in self.made_ids:
                return self._array_source(x, what)  # refuses
            return self._new_slot(x)  # a tensor from outside: itself, by reference
        if isinstance(x, tuple) and all(isinstance(v, _PLAIN) for v in x):
            return self._new_slot(x)
        if isinstance(x, tuple) and all(
                isinstance(v, Tensor) and (id(v) in self.outside or id(v) not in self.tensors
                                           and id(v) not in self.made_ids) for v in x):
            return self._new_slot(x)  # tensors from outside (parameters), by reference
        return self._array_source(x, what)

    def _output(self, value) -> int:
        s = self._new_slot()
        if isinstance(value, np.ndarray):
            self.arrays[id(value)] = s
            self.keep.append(value)
        return s

    # --- what graph.trace reports -------------------------------------------------------------

    def refuse(self, reason: str):
        if self.depth == 0 and self.reason is None:
            self.reason = reason
        return None

    def made(self, t) -> None:
        if self.depth == 0:
            self.made_ids.add(id(t))
            self.keep.append(t)

    def alias(self, t, source) -> None:
        s = self.tensors.get(id(source))
        if s is not None and self.depth == 0:
            self._name(t, s)

    def grad_set(self, t, value) -> None:
        if self.depth:
            return  # inside an opaque method (zero_grad): that method is replayed
        if value is not None:
            self.refuse("the step sets a .grad to a tensor, which a replay would not "
                        "repeat; set it outside the step")
        elif id(t) in self.arg_tensor:
            self.refuse("the step sets the .grad of an argument; clear it outside the step")
        else:
            self.steps.append((OPAQUE, _clear_grad, t, (), {}))

    def module(self, m) -> None:
        if self.depth or id(m) in self.modules:
            return
        self.modules[id(m)] = m
        if m._forward_pre_hooks or m._forward_hooks or m._backward_hooks:
            self.refuse(f"{type(m).__name__} has hooks, which a replay would not call")

    def apply(self, op, inputs, t, params: dict) -> None:
        if self.depth or self.reason is not None:
            return
        what = op.name
        ins = [self._array_source(x, what) for x in inputs]
        patches, harvest = [], []
        for name, value in params.items():
            if isinstance(value, np.ndarray):
                patches.append((name, self._array_source(value, f"{what}'s {name}")))
            elif isinstance(value, dict):
                harvest.extend((value, key) for key, v in value.items()
                               if isinstance(v, np.ndarray))
            elif isinstance(value, (tuple, list)) and any(
                    isinstance(v, (np.ndarray, Tensor)) for v in value):
                self.refuse(f"{what}'s {name} holds arrays (an index?), which a replay "
                            "cannot follow yet")
            elif isinstance(value, Tensor):
                self.refuse(f"{what}'s {name} is a tensor, which a replay cannot follow yet")
        if self.reason is not None:
            return
        if type(t.data) is not np.ndarray:  # a parameter of another library, say
            self.refuse(_foreign(t.data))
            return
        out = self._new_slot()
        self._name(t, out)
        meta = self.meta
        for s, x in zip(ins, inputs):
            data = x.data if isinstance(x, Tensor) else x
            if isinstance(data, np.ndarray):
                meta[s] = (data.shape, data.dtype)
        meta[out] = (t.data.shape, t.data.dtype)
        harvested = []
        for d, key in harvest:
            harvested.append((d, key, self._output(d[key])))
        # what apply put into the op's saves (ops/core.py _fill_saves): a replay puts the
        # same arrays of its own there; -1 is the output, i >= 0 input i
        fills = None if op.parents is None else tuple(
            (name, -1 if kind is OUTPUT else kind.index)
            for name, kind in (op._saved.items() if op._saved else ())
            if kind is OUTPUT or type(kind) is Input)
        self.steps.append((OP, op, tuple(ins), out, tuple(patches), tuple(harvested), fills))

    def call(self, fn, args):
        if self.depth or self.reason is not None:
            return fn(*args)
        what = getattr(fn, "__name__", "a function")
        ins = tuple(self._call_source(a, what) for a in args)
        self.depth += 1
        try:
            result = fn(*args)
        finally:
            self.depth -= 1
        if isinstance(result, tuple):
            outs = tuple(self._output(r) for r in result)
        else:
            outs = self._output(result)
        self.steps.append((CALL, fn, ins, outs))
        return result

    def depends(self, fn, args):
        if self.depth or self.reason is not None:
            return fn(*args)
        what = getattr(fn, "__name__", "a check")
        ins = tuple(self._call_source(a, what) for a in args)
        computed = {s for step in self.steps for s in _filled(step)}
        if any(s in computed for s in ins if s is not None):
            self.refuse(f"Python code branched on values computed inside the step ({what})")
        self.depth += 1
        try:
            answer = fn(*args)
        finally:
            self.depth -= 1
        self.checks.append((fn, ins, answer))
        return answer

    def opaque(self, method, obj, args, kwargs):
        if self.depth or self.reason is not None:
            return method(obj, *args, **kwargs)
        if not all(isinstance(a, _PLAIN) for a in (*args, *kwargs.values())):
            self.refuse(f"{type(obj).__name__}.{method.__name__} got an argument (a closure, "
                        "a tensor) that a replay cannot follow")
        self.steps.append((OPAQUE, method, obj, args, kwargs))
        self.depth += 1
        try:
            result = method(obj, *args, **kwargs)
        finally:
            self.depth -= 1
        if result is not None:
            self.refuse(f"{type(obj).__name__}.{method.__name__} returned a value")
        return result

    def backward(self, root, seed, retain_graph, create_graph, capture):
        """Called as a backward pass starts; returns the list the engine logs the pass
        into (None: not recorded)."""
        if self.depth or self.reason is not None:
            return None
        if capture is not None:
            return self.refuse("cr.grad / autograd.grad inside the step has no recording "
                               "rule yet; use loss.backward()")
        if create_graph:
            return self.refuse("backward(create_graph=True) inside the step")
        if anomaly.state.enabled:
            return self.refuse("cr.detect_anomaly() is on")
        if self.tensors.get(id(root)) is None or root._node is None:
            return self.refuse("backward() from a tensor the recording did not compute")
        seed_slot = self.arrays.get(id(seed))
        if seed_slot is None:
            if not (seed.shape == root.shape and (seed == 1).all()):
                return self.refuse("backward(gradient=...) with an array computed outside "
                                   "chainrule's ops")
            seed_slot = self._new_slot()
            ones = (seed.shape, seed.dtype)
        else:
            ones = None
        self._check_graph(root._node)
        if self.reason is not None:
            return None
        log: list = []
        self.steps.append((BACKWARD, log, seed, seed_slot, ones))
        return log

    def _check_graph(self, root: Node) -> None:
        """Refuse hooks anywhere below ``root``: a replay would not call them."""
        seen, stack = {root}, [root]
        while stack:
            node = stack.pop()
            if node.hooks or node.retained is not None:
                self.refuse(f"a hook or retain_grad() on {node.name}'s output")
            for p in node.parents:
                if isinstance(p, Node):
                    if p not in seen:
                        seen.add(p)
                        stack.append(p)
                elif p is not None:
                    if p._hooks:
                        self.refuse("a tensor hook (register_hook) on a leaf")
                    if accumulate.registry and accumulate.hooks_of(p):
                        self.refuse("a post-accumulate-grad hook (DistributedDataParallel?) "
                                    "would not run in a replay")

    def flatten(self, step) -> tuple:
        """A backward step whose pass has run: its log as flat events over slots,
        ``(VJP, node, g, ((i, slot) ...))``, ``(ADD, a, b, out)``, ``(CAST, a, out, dtype)``,
        ``(LEAF, leaf or argument index, g, owned, keeps)``, in the engine's order."""
        _, log, seed, seed_slot, ones = step
        slot = {id(seed): seed_slot}
        events = []
        try:
            for event in log:
                kind = event[0]
                if kind == "vjp":
                    _, node, g, grads = event
                    g_slot = slot[id(g)]  # before the outputs: a vjp may return g itself
                    outs = []
                    for i, gi in enumerate(grads):
                        if gi is not None:
                            outs.append((i, self._new_slot()))
                            slot[id(gi)] = outs[-1][1]
                    events.append((VJP, node, g_slot, tuple(outs)))
                elif kind == "add":
                    _, a, b, out = event
                    events.append((ADD, slot[id(a)], slot[id(b)], self._new_slot()))
                    slot[id(out)] = events[-1][3]
                elif kind == "cast":
                    _, a, out, dtype = event
                    events.append((CAST, slot[id(a)], self._new_slot(), dtype))
                    slot[id(out)] = events[-1][2]
                else:
                    _, leaf, g, owned = event
                    k = self.arg_tensor.get(id(leaf))
                    # owned, and of its leaf's dtype: a first gradient becomes .grad as it is
                    keeps = owned and type(g) is np.ndarray and g.dtype == leaf.data.dtype
                    events.append((LEAF, leaf if k is None else k[0], slot[id(g)], owned,
                                   keeps))
        except KeyError:
            self.refuse("a backward pass whose gradients a replay could not follow")
        return (BACKWARD, tuple(events), seed_slot, ones)


def _foreign(array) -> str:
    return (f"its tensors hold {B.name(array)} arrays, and a replay runs NumPy code "
            "(kernels, out= buffers): on another library the step runs eagerly")


def _clear_grad(t) -> None:
    """``t.grad = None``, replayed (a parameter's, set so by the step's own code)."""
    t._grad = None


def _filled(step) -> tuple:
    """The slots a step fills."""
    if step[0] == OP:
        return (step[3],) + tuple(h[2] for h in step[5])
    if step[0] == CALL:
        return step[3] if isinstance(step[3], tuple) else (step[3],)
    return ()
