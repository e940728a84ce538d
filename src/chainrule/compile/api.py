"""``cr.compile(fn)``: record a step on its first call, replay it on the next ones.

torch.compile's name and basic contract (a callable in, a callable out, results as eager's);
jax.jit's semantics: the step's Python runs once per recording, so its side effects
outside chainrule (a print, a counter, a list append) happen only then, and a replay
reads the tensors the step used from outside (parameters, buffers) by reference, with
their values of the moment.
"""

from __future__ import annotations

import functools
import threading
import warnings

import numpy as np

from chainrule.compile.plan import Plan
from chainrule.compile.record import Recorder
from chainrule.graph import anomaly, forward_mode, grad_mode, trace
from chainrule.tensor import Tensor


class CompileWarning(UserWarning):
    """A compiled step runs eagerly (its reason is in ``fallback_reason``), or keeps
    recording again (its guards keep missing)."""


_PLAIN = (bool, int, float, complex, str, type(None))


def _free_numbers(fn) -> tuple:
    """The plain Python values (numbers, strings, None) that ``fn``'s own code reads from
    its globals and closure: a recording bakes them in, so they are part of the guard (a
    new value records again, as torch.compile's guards on globals). Values read deeper,
    in functions ``fn`` calls, are not seen: pass those as arguments (docs/compile.md)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return ()
    found = []
    scope = getattr(fn, "__globals__", {})
    for name in code.co_names:
        value = scope.get(name, _free_numbers)
        if isinstance(value, _PLAIN):
            found.append((name, type(value), value))
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            value = cell.cell_contents
        except ValueError:  # a cell not yet filled
            continue
        if isinstance(value, _PLAIN):
            found.append((name, type(value), value))
    return tuple(found)


class Compiled:
    """A step function that replays its recording while the guards hold.

    ``fallback_reason`` is None while the step replays, else the one-line reason why its
    latest call ran eagerly. ``stats`` counts ``records``, ``replays`` and ``eager`` calls.
    """

    def __init__(self, fn, cache_size: int = 8, report=None):
        if not callable(fn):
            raise TypeError(f"compile: expected a function (the step), got "
                            f"{type(fn).__name__}. help: cr.compile(step), or @cr.compile "
                            "above `def step(...)`")
        if not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(f"compile: cache_size must be a positive int, got {cache_size!r}")
        if report is not None and not callable(report):  # else it fails at the first message
            raise TypeError(f"compile: report must be a function of one message, got "
                            f"{type(report).__name__}. help: report=print, or a logger's method")
        functools.update_wrapper(self, fn, updated=())
        self.fn = fn
        self.cache_size = cache_size
        self.report = report  # called with each message instead of a CompileWarning
        self.fallback_reason: str | None = None
        self.stats = {"records": 0, "replays": 0, "eager": 0}
        self._misses = 0  # recordings for a key seen before (its guards missed), or evicted
        self._plans: list = []  # the recordings, the most recently used first
        self._lock = threading.Lock()  # a plan's ops hold one replay's arrays at a time
        self._warned: set = set()
        self._evicted: set = set()  # keys whose plans the cache dropped

    def __call__(self, *args, **kwargs):
        if kwargs:
            names = tuple(sorted(kwargs))
            args = args + tuple(kwargs[n] for n in names)
            call = functools.partial(_call_with_names, self.fn, len(args) - len(names), names)
        else:
            names, call = (), self.fn
        if (trace.active[0] or anomaly.on[0] or forward_mode.on[0]) and (
                trace.recorder() is not None or anomaly.state.enabled
                or forward_mode.state.levels):
            # inside another recording, checking for NaN, or under func.jvp (a replay
            # carries no tangents): eager
            return call(*args)
        with self._lock:
            # the most recently used first: a training loop finds its plan at once, and a
            # plan's guard (lower.guard: every check as straight-line code) is the whole test
            for plan in self._plans:
                if plan.names == names and plan.holds(args):
                    if plan is not self._plans[0]:
                        self._plans.remove(plan)
                        self._plans.insert(0, plan)
                    self.fallback_reason = plan.reason
                    if plan.reason is not None:
                        self.stats["eager"] += 1
                        return call(*args)
                    self.stats["replays"] += 1
                    return plan.replay(args)
            return self._record(names, call, args)

    def _record(self, names, call, args):
        key = (names, grad_mode.state.enabled, tuple(_guard(a) for a in args),
               _free_numbers(self.fn))
        rec = Recorder(args)
        if rec.reason is not None:  # known before it runs (arrays of another library)
            result = call(*args)
        else:
            trace.install(rec)
            try:
                result = call(*args)
            finally:
                trace.install(None)
        self.stats["records"] += 1
        plan = Plan(rec, result, args, names, self.fn)  # may still refuse: what it returns
        plan.key = key
        self.fallback_reason = plan.reason
        if plan.reason is not None:
            self.stats["eager"] += 1  # the recording ran eagerly: its result stands
            self._warn(plan.reason, f"cr.compile: {_name(self.fn)} runs eagerly: "
                       f"{plan.reason}")
        plans = self._plans
        if key in self._evicted or any(p.key == key for p in plans):
            self._misses += 1  # a key seen before: its guards missed, or it was evicted
        plans.insert(0, plan)  # the newest first: the guards that missed are older
        while len(plans) > self.cache_size:
            oldest = plans.pop()
            if not any(p.key == oldest.key for p in plans):
                if len(self._evicted) > 1000:
                    self._evicted.clear()  # a bound: it only tells misses from new keys
                self._evicted.add(oldest.key)
        if self._misses >= self.cache_size:
            self._warn("misses", f"cr.compile: {_name(self.fn)} was recorded again "
                       f"{self._misses} times: its guards keep missing (input shapes, "
                       "dtypes, train/eval, grad mode, parameters, hooks ...) or its cache "
                       f"(cache_size={self.cache_size}) is too small. help: keep the batch "
                       "shape fixed (drop_last=True), raise cache_size, or do not compile it")
        return result

    def _warn(self, kind: str, message: str) -> None:
        if kind not in self._warned:  # once per reason, not once per call
            self._warned.add(kind)
            if self.report is not None:
                self.report(message)
            else:
                warnings.warn(message, CompileWarning, stacklevel=4)

    def __repr__(self) -> str:
        return f"<compiled {_name(self.fn)}>"


def compile(fn=None, *, cache_size: int = 8, report=None):  # noqa: A001 - torch.compile's
    """Record ``fn`` (a step: forward, backward, optimizer) on its first call and replay it
    on later calls whose guards match; ``@cr.compile`` or ``cr.compile(step)``. ``report``:
    a function given each one-line message (why the step runs eagerly, or keeps recording
    again) instead of a ``CompileWarning``, once per message (a trainer's log)."""
    if fn is None:
        return lambda f: Compiled(f, cache_size=cache_size, report=report)
    return Compiled(fn, cache_size=cache_size, report=report)


def _call_with_names(fn, n: int, names: tuple, *args):
    return fn(*args[:n], **dict(zip(names, args[n:])))


def _guard(a):
    """The part of the cache key for one argument (the key tells a new call from a guard
    that missed; plan.Plan's generated guard decides)."""
    if isinstance(a, Tensor):
        return (Tensor, a.data.shape, getattr(a.data.dtype, "str", str(a.data.dtype)), a._rg)
    if isinstance(a, np.ndarray):
        return (np.ndarray, a.shape, a.dtype.str)
    if isinstance(a, (int, float, str, bool, type(None))):
        return (type(a), a)
    return (type(a), id(a))


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__
