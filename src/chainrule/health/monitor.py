"""``Monitor``: watch a model train, every ``every`` steps, through its module hooks.

    monitor = Monitor(model, every=50)
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(); loss.backward(); optimizer.step()
        monitor.step(loss, optimizer)          # after optimizer.step()
    monitor.records, monitor.warnings          # the numbers, and what crossed a threshold
    monitor.close()                            # or: with Monitor(model) as monitor: ...

Sampling. Steps are counted by ``step()``; step s is sampled when s % every == 0 (step
0 always, for the initial loss). Hooks are registered on the model only for a sampled
step: when the step before it ends, on the model (a forward pre-hook and a forward hook)
and on every activation module (a forward hook); the model's forward hook removes them
all once that step's forward has run. Between sampled steps the model has no hooks at
all, and a monitor with ``enabled=False`` never registers one.

What a sampled step measures (stats.py has the definitions): at the model's forward
pre-hook, a copy of every parameter (the data before the update); at each activation
module's forward hook, its input z and output a; at ``step()``, after the optimizer has
stepped, each parameter's gradient and its change. The forward that is measured is the
first one in training mode with gradients on (an evaluation pass in between, under
``no_grad`` or in eval mode, is skipped) run by the thread that steps the monitor (the
one that made it, until ``step()`` is called from another).

Activations are seen through activation modules (``nn.ReLU``, ``nn.Tanh``, ``nn.Sigmoid``,
``nn.LeakyReLU``, ``nn.GELU``): a ``F.relu`` call inside a ``forward`` has no module to
hook, so its layer has no activation statistics (its parameters still have theirs).

Threads: a Monitor belongs to one model, and one model to one monitor at a time (a
second is refused until the first is closed). Its state is its own (no module-level
mutable state), so two threads may each train their own model with their own monitor;
a forward pass that another thread runs on the same model is never measured.

Other array libraries (a model moved with ``Module.to("torch")``, ``chainrule train
--backend``): the statistics are computed in NumPy from host copies of the arrays a sampled
step reads (``_backend.to_numpy``: the parameters before and after the update, their
gradients, each activation's input and output). One copy per array on one step in
``every``; the steps between are not touched.

Off means off: with ``enabled=False`` (or no monitor at all) nothing is registered, and
the training computes bitwise the same numbers with a monitor as without one (it only
reads arrays, and copies what it keeps).
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

from chainrule import _backend as B
from chainrule import nn
from chainrule.autograd import enable_grad, is_grad_enabled
from chainrule.health import signals, stats
from chainrule.health.text import message
from chainrule.tensor import Tensor

#: Activation module classes and the kind each computes (subclasses count as theirs).
ACTIVATIONS = ((nn.Tanh, "tanh"), (nn.Sigmoid, "sigmoid"), (nn.ReLU, "relu"),
               (nn.LeakyReLU, "leaky_relu"), (nn.GELU, "gelu"))


class HealthWarning:
    """A signal that crossed its threshold at ``step``: a record, not an exception.

    ``layer``: the module's path as ``named_modules`` gives it ("" for the whole model);
    ``signal``: one of ``saturated``, ``dead``, ``update_ratio``, ``vanishing``,
    ``exploding``, ``initial_loss``; ``value``: the number that crossed; ``message``: one
    line naming the layer, the problem and the fix.
    """

    __slots__ = ("layer", "signal", "value", "step", "message", "facts")

    def __init__(self, finding: signals.Finding, step: int):
        self.layer, self.signal, self.value = finding.layer, finding.signal, finding.value
        self.step, self.facts = step, dict(finding.facts)
        self.message = message(finding)

    def to_dict(self) -> dict:
        return {"layer": self.layer, "signal": self.signal, "value": stats.finite(self.value),
                "step": self.step, "message": self.message, "facts": self.facts}

    def __repr__(self) -> str:
        return f"HealthWarning(step {self.step}: {self.message})"


def _kind(module) -> str | None:
    return next((kind for cls, kind in ACTIVATIONS if isinstance(module, cls)), None)


class _Capture:
    """What one sampled step's forward saw."""

    def __init__(self, params: dict):
        self.before = params  # name -> a copy of the data before the update
        self.thread = threading.get_ident()
        self.activations: dict = {}  # layer -> stats
        self.classes: int | None = None
        self.done = False


class Monitor:
    """Training-health statistics of ``model`` on every ``every``-th step (module docstring).

    ``num_classes``: C for the initial-loss check, ln(C) for a cross-entropy loss; None
    takes it from the model's output (its last axis), 0 skips the check (a regression).
    ``start_step``: the number of the first step (a resumed run goes on counting).
    ``log``: called with each warning's message as it is raised (None: silent).
    ``keep``: keep the records in ``records`` (False: ``step()`` returns each and keeps
    none, for a long run that writes them elsewhere).
    """

    def __init__(self, model, every: int = 50, *, enabled: bool = True,
                 num_classes: int | None = None, start_step: int = 0, log=print,
                 keep: bool = True):
        if not isinstance(model, nn.Module):
            raise TypeError(f"Monitor: expected an nn.Module, got {type(model).__name__}. "
                            "help: Monitor(model, every=50) with the model you train")
        for name, value, least in (("every", every, 1), ("start_step", start_step, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or value < least:
                raise ValueError(f"Monitor: {name} must be a whole number >= {least}, got "
                                 f"{value!r}. help: every=50 samples one step in 50")
        if num_classes is not None and (isinstance(num_classes, bool) or num_classes < 0):
            raise ValueError(f"Monitor: num_classes must be >= 0 or None, got {num_classes!r}")
        self.model, self.every, self.enabled = model, int(every), bool(enabled)
        self.num_classes, self.log, self.keep = num_classes, log, keep
        self.records: list[dict] = []
        self.warnings: list[HealthWarning] = []
        self.epoch: int | None = None
        self._step = int(start_step)
        self._flagged: set = set()  # (layer, signal) over the threshold at the last sample
        self._dead: dict = {}  # ReLU layer -> stats.DeadCount
        self._handles: list = []
        self._capture: _Capture | None = None
        self._owner = threading.get_ident()  # the thread whose forward passes are measured
        self._closed = not self.enabled
        if self.enabled:
            self._claim()
            if self._is_sampled(self._step):
                self._arm()

    # --- the model's hooks ---------------------------------------------------------------

    def _claim(self) -> None:
        """One monitor per model: a second would see the first one's hooks fire."""
        held = self.model.__dict__.get("_health_monitor")
        other = held() if held is not None else None
        if other is not None and not other._closed:
            raise RuntimeError(
                "Monitor: this model already has a health monitor (a Monitor belongs to one "
                "model, and a model to one monitor). help: close() the first one (or use "
                "`with Monitor(model) as monitor:`), or keep using it")
        object.__setattr__(self.model, "_health_monitor", weakref.ref(self))

    def _arm(self) -> None:
        """Hooks for the next sampled step's forward."""
        if self._handles:
            return
        model = self.model
        self._handles.append(model.register_forward_pre_hook(self._begin))
        for layer, module in model.named_modules():
            kind = _kind(module)
            if kind is not None:
                self._handles.append(module.register_forward_hook(self._measurer(layer, kind)))
        self._handles.append(model.register_forward_hook(self._end))

    def _disarm(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _begin(self, module, args):
        if not (module.training and is_grad_enabled()) or \
                threading.get_ident() != self._owner:
            return  # an evaluation pass, or another thread's: wait for the training step's
        self._capture = _Capture({name: np.array(B.to_numpy(p.data), copy=True)
                                  for name, p in module.named_parameters()})

    def _measuring(self) -> _Capture | None:
        cap = self._capture
        if cap is None or cap.done or cap.thread != threading.get_ident():
            return None
        return cap

    def _measurer(self, layer: str, kind: str):
        def measure(module, args, out):
            cap = self._measuring()
            if cap is None or layer in cap.activations or not isinstance(out, Tensor):
                return
            a = B.to_numpy(out.data)  # host copies of another library's arrays
            z = B.to_numpy(args[0].data) if args and isinstance(args[0], Tensor) else a
            derivative = _engine_derivative(module) if kind == "gelu" else None
            found = stats.activation_stats(kind, z, a,
                                           getattr(module, "negative_slope", 0.01), derivative)
            n = len(a) if a.ndim > 1 else 1
            found = {"layer": layer, "kind": kind, "units": int(a[0].size if a.ndim > 1
                                                                else a.size),
                     "samples": n, **found}
            if kind == "relu":
                count = self._dead.setdefault(layer, stats.DeadCount())
                found["dead"] = count.add(a)
                found["samples"] = count.samples
            else:
                found["dead"] = None
            cap.activations[layer] = found
        return measure

    def _end(self, module, args, out):
        cap = self._measuring()
        if cap is None:
            return
        cap.done = True
        shape = getattr(out, "shape", ())
        cap.classes = int(shape[-1]) if len(shape) >= 2 else None
        self._disarm()

    # --- the steps -----------------------------------------------------------------------

    def _is_sampled(self, s: int) -> bool:
        return s % self.every == 0

    def new_epoch(self, epoch: int | None = None) -> None:
        """A new epoch begins (``epoch``: its number; default: the last one + 1): the dead
        count ("never active this epoch") starts again."""
        self.epoch = epoch if epoch is not None else (self.epoch or 0) + 1
        for count in self._dead.values():
            count.reset()

    def step(self, loss=None, optimizer=None) -> dict | None:
        """Call once per training step, after ``optimizer.step()``. On a sampled step,
        returns its record (and warns of each signal that crossed its threshold);
        otherwise None. ``loss``: the step's loss (a tensor or a number); ``optimizer``:
        for the learning rate in the record (the update itself is measured)."""
        if self._closed:
            if self.enabled:
                raise RuntimeError("Monitor.step: this monitor is closed. help: make a new "
                                   "Monitor(model) to watch again")
            return None
        self._owner = threading.get_ident()
        _loss_value(loss)  # a wrong argument fails on every step, not one in `every`
        s = self._step
        self._step += 1
        record = self._record(s, loss, optimizer) if self._is_sampled(s) else None
        if self._is_sampled(self._step):
            self._arm()
        return record

    def _record(self, s: int, loss, optimizer) -> dict:
        cap, self._capture = self._capture, None
        if cap is not None and not cap.done:
            cap = None  # a forward that never finished: nothing measured is whole
        self._disarm()
        value = _loss_value(loss)
        groups = getattr(optimizer, "param_groups", None)
        record = {"step": s, "epoch": self.epoch, "loss": value,
                  "lr": float(groups[0]["lr"]) if groups else None,
                  "activations": list(cap.activations.values()) if cap else [],
                  "params": self._param_records(cap)}
        if s == 0:
            record["initial_loss"] = self._initial_loss(value, cap)
        found = signals.findings(record)
        raised = self._crossed(found, s)
        record["warnings"] = [w.to_dict() for w in raised]
        if self.keep:
            self.records.append(record)
        return record

    def _param_records(self, cap: _Capture | None) -> list:
        out = []
        for name, p in self.model.named_parameters():
            before = cap.before.get(name) if cap else None
            grad = B.to_numpy(p.grad.data) if p.grad is not None else None
            layer = name.rpartition(".")[0]
            out.append({"name": name, "layer": layer, "shape": list(p.shape),
                        "has_grad": grad is not None,
                        **stats.param_stats(before, B.to_numpy(p.data), grad)})
        return out

    def _initial_loss(self, loss: float | None, cap: _Capture | None) -> dict | None:
        classes = self.num_classes if self.num_classes is not None else (
            cap.classes if cap else None)
        if not classes or classes < 2 or loss is None:
            return None
        return {"loss": loss, "expected": float(np.log(classes)), "classes": classes}

    def _crossed(self, found: list, s: int) -> list[HealthWarning]:
        """The findings that were not over their threshold at the last sampled step."""
        now = {(f.layer, f.signal) for f in found}
        raised = [HealthWarning(f, s) for f in found if (f.layer, f.signal) not in self._flagged]
        self._flagged = now
        self.warnings += raised
        if self.log is not None:
            for w in raised:
                self.log(f"health warning: {w.message}")
        return raised

    # --- the end -------------------------------------------------------------------------

    @property
    def hooks(self) -> int:
        """How many hooks this monitor has on the model now."""
        return len(self._handles)

    def close(self) -> None:
        """Remove every hook from the model (twice is harmless); the records stay."""
        self._disarm()
        self._capture = None
        self._closed = True
        held = self.model.__dict__.get("_health_monitor")
        if held is not None and held() is self:
            del self.model.__dict__["_health_monitor"]

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"every {self.every} steps"
        return (f"Monitor({type(self.model).__name__}, {state}, {len(self.records)} records, "
                f"{len(self.warnings)} warnings)")


def _loss_value(loss) -> float | None:
    """The step's loss as a float (None: not given, or not finite)."""
    if loss is None:
        return None
    if isinstance(loss, Tensor):
        if loss.size != 1:
            raise ValueError(f"Monitor.step: the loss must be one number, got a tensor of "
                             f"shape {tuple(loss.shape)}. help: pass the loss you call "
                             "backward() on (a mean or sum)")
        return stats.finite(loss.item())
    if isinstance(loss, bool) or not isinstance(loss, (int, float, np.number)):
        raise TypeError(f"Monitor.step: the loss must be a number or a one-number tensor, got "
                        f"{type(loss).__name__}. help: monitor.step(loss, optimizer), after "
                        "optimizer.step()")
    return stats.finite(loss)


def _engine_derivative(module):
    """sigma'(z) of an elementwise activation module, from the engine's own gradient."""
    def derivative(z):
        zt = Tensor(np.array(z, copy=True), requires_grad=True)
        with enable_grad():
            module.forward(zt).sum().backward()
        return zt.grad.data
    return derivative
