"""Module hooks, as PyTorch names them: run code around a module's forward, or when the
gradients at its inputs are known.

- ``register_forward_pre_hook(hook)``: ``hook(module, args)`` before ``forward``; it may
  return new args (a tuple, or one value).
- ``register_forward_hook(hook)``: ``hook(module, args, output)`` after ``forward``; it may
  return a new output.
- ``register_full_backward_hook(hook)``: ``hook(module, grad_input, grad_output)`` once the
  gradients with respect to the module's positional tensor inputs are computed
  (``grad_input``, None where an input needs none) from those at its output
  (``grad_output``); it may return a new ``grad_input``. As PyTorch does, each input that
  requires grad passes through an identity node first, so ``grad_input`` is this
  module's share even when the input feeds other modules too.

Each returns a handle whose ``remove()`` unregisters the hook. A module with no hooks pays
three empty-dict checks per call.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict

from chainrule.ops import astype
from chainrule.tensor import Tensor

_ids = itertools.count()


class RemovableHandle:
    """``handle.remove()`` unregisters the hook (twice is harmless)."""

    def __init__(self, hooks: OrderedDict, key: int):
        self._hooks, self.id = hooks, key

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


class Hooks:
    """The hook registration methods of every Module (PyTorch's names)."""

    # Empty until a hook is registered (then the instance gets its own: see _hooks_of).
    _forward_pre_hooks = _forward_hooks = _backward_hooks = OrderedDict()

    def register_forward_pre_hook(self, hook) -> RemovableHandle:
        """``hook(module, args)`` before forward; may return new args."""
        return add(self._hooks_of("_forward_pre_hooks"), hook, "register_forward_pre_hook")

    def register_forward_hook(self, hook) -> RemovableHandle:
        """``hook(module, args, output)`` after forward; may return a new output."""
        return add(self._hooks_of("_forward_hooks"), hook, "register_forward_hook")

    def register_full_backward_hook(self, hook) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` when the gradients at the inputs are
        known; may return a new grad_input."""
        return add(self._hooks_of("_backward_hooks"), hook, "register_full_backward_hook")

    def _hooks_of(self, kind: str) -> OrderedDict:
        if kind not in self.__dict__:  # never add to the class's shared empty default
            object.__setattr__(self, kind, OrderedDict())
        return self.__dict__[kind]


def add(hooks: OrderedDict, hook, what: str) -> RemovableHandle:
    if not callable(hook):
        raise TypeError(f"{what}: the hook must be callable, got {type(hook).__name__}")
    key = next(_ids)
    hooks[key] = hook
    return RemovableHandle(hooks, key)


def call(module, args: tuple, kwargs: dict, forward):
    """``forward(*args, **kwargs)`` with ``module``'s hooks around it."""
    for hook in list(module._forward_pre_hooks.values()):
        new = hook(module, args)
        if new is not None:
            args = new if isinstance(new, tuple) else (new,)
    backward = list(module._backward_hooks.values())
    watch = None
    if backward:
        args, watch = _identity_inputs(args)
    out = forward(*args, **kwargs)
    for hook in list(module._forward_hooks.values()):
        new = hook(module, args, out)
        if new is not None:
            out = new
    if backward and isinstance(out, Tensor) and out.requires_grad:
        # grad_output is taken at what the caller receives, after the forward hooks (as
        # PyTorch does)
        _hook_gradients(module, backward, watch, out)
    return out


def _identity_inputs(args: tuple):
    """Each input that requires grad through its own identity node (a copy in the graph),
    so that its gradient there is this module's share alone."""
    new, watch = [], []
    for i, a in enumerate(args):
        if isinstance(a, Tensor) and a.requires_grad:
            a = astype(a, a.dtype, copy=True)
            watch.append(i)
        new.append(a)
    return tuple(new), (watch, tuple(new))


def _hook_gradients(module, hooks: list, watch, out: Tensor) -> None:
    indices, inputs = watch
    state = {"grad_output": None, "grad_input": [None] * len(inputs), "left": len(indices)}

    def fire():
        grad_input = tuple(state["grad_input"])
        for hook in hooks:
            new = hook(module, grad_input, state["grad_output"])
            if new is not None:
                grad_input = tuple(new)
        return grad_input

    def at_output(g):
        state["grad_output"] = (g,)
        if not indices:
            fire()  # no input needs a gradient: the hook sees only grad_output

    out.register_hook(at_output)
    for i in indices:
        def at_input(g, i=i):
            state["grad_input"][i] = g
            state["left"] -= 1
            if state["left"] == 0:
                return fire()[i]  # the last input's gradient may be replaced
            return None

        inputs[i].register_hook(at_input)
