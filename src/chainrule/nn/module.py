"""Module and Parameter: the building blocks of networks, as in PyTorch."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from chainrule import _backend as B
from chainrule.errors import ChainruleError, ShapeError
from chainrule.graph import anomaly, trace
from chainrule.nn import hooks
from chainrule.tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a module's learnable weight: a leaf with requires_grad=True.

    ``Parameter(t)`` shares ``t``'s data, and ``Parameter(array)`` shares a writable float
    ndarray, without copying (as ``torch.nn.Parameter``); anything else (lists, numbers,
    read-only or integer arrays) is converted as ``cr.tensor`` does.
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        source = data if isinstance(data, Tensor) else None
        if source is not None:
            data = data.data
        if not (isinstance(data, np.ndarray) and data.flags.writeable
                and B.is_float(data.dtype)):
            data = Tensor(data).data
            source = None
        super().__init__(np.empty(0, dtype=data.dtype))
        self.data = data  # shared, not copied
        if source is not None:  # one memory, one version counter
            source._vc[1] = True
            self._vc = source._vc
        if requires_grad:
            self.requires_grad = True

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class StateDictError(ChainruleError, KeyError):
    """A state dict whose keys do not match the module's (missing or unexpected names)."""

    def __str__(self) -> str:  # KeyError would show the message quoted, as a repr
        return str(self.args[0]) if self.args else ""


class LoadResult(NamedTuple):
    """What ``load_state_dict(..., strict=False)`` left out, as PyTorch's."""

    missing_keys: list
    unexpected_keys: list


class _Running(threading.local):
    """The modules whose forward is running in this thread, outermost first: to name a
    failing layer's path. Per thread: two threads running two models have two paths."""

    def __init__(self):
        self.stack: list = []


_running = _Running()


class Module(hooks.Hooks):
    """Base class of layers and models: parameters, buffers and submodules are registered
    by attribute assignment; ``model(x)`` runs ``forward``. Hooks: see nn/hooks.py."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # --- registration --------------------------------------------------------------------

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() in __init__ "
                                 "before assigning attributes")
        if name in self._buffers and (value is None or isinstance(value, Tensor)) \
                and not isinstance(value, Parameter):
            self._buffers[name] = value  # a new value for a buffer stays a buffer
            object.__setattr__(self, name, value)
            return
        if name in self._parameters and value is None:
            self._parameters[name] = None  # as PyTorch: the slot stays, e.g. bias=None
            object.__setattr__(self, name, value)
            return
        if name in self._parameters and not isinstance(value, Parameter):
            # NOTE: a plain tensor here would silently drop out of parameters() and
            # state_dict(), and the optimizer would go on updating the old Parameter.
            raise TypeError(
                f"{type(self).__name__}: cannot assign a {type(value).__name__} to "
                f"parameter {name!r} (a Parameter or None is expected). help: update it in "
                f"place (`with cr.no_grad(): m.{name}.copy_(t)` or `m.{name} -= ...`), or "
                f"assign nn.Parameter(t) to replace it"
            )
        if name in self._parameters and isinstance(value, Parameter):
            # Replaced (or re-bound by `m.weight -= 0.1`): keep its place in the order, as
            # PyTorch's dict assignment does.
            self._parameters[name] = value
            object.__setattr__(self, name, value)
            return
        for store in (self._parameters, self._buffers, self._modules):
            store.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            store.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value) -> None:
        """A tensor that is state but not a parameter (e.g. BatchNorm's running mean):
        in ``state_dict()``, never in ``parameters()``, never touched by optimizers."""
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"{type(self).__name__}.register_buffer: {name!r} must be a tensor "
                            f"or None, got {type(value).__name__}")
        for store in (self._parameters, self._modules):
            store.pop(name, None)
        self._buffers[name] = value
        object.__setattr__(self, name, value)

    def add_module(self, name: str, module) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.add_module: {name!r} is a "
                            f"{type(module).__name__}, not a Module")
        setattr(self, name, module)

    def register_parameter(self, name: str, value) -> None:
        """Register ``value`` (a Parameter, or None for an absent one such as bias=None)."""
        if value is not None and not isinstance(value, Parameter):
            raise TypeError(f"{type(self).__name__}.register_parameter: {name!r} must be an "
                            f"nn.Parameter or None, got {type(value).__name__}. help: wrap it, "
                            "nn.Parameter(t)")
        for store in (self._buffers, self._modules):
            store.pop(name, None)
        self._parameters[name] = value
        object.__setattr__(self, name, value)

    # --- running -------------------------------------------------------------------------

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        for a in args:
            if type(a) is list:  # model([[0.5, 1.0]]): a PyTorch user would get an error here
                args = tuple(Tensor(a) if type(a) is list else a for a in args)
                break
        running = _running.stack
        running.append(self)
        if trace.active[0]:
            trace.module(self)  # a compiled step guards on its train/eval mode and hooks
        try:
            forward = self.forward
            if self._forward_pre_hooks or self._forward_hooks or self._backward_hooks:
                return hooks.call(self, args, kwargs, self._forward_scoped)
            if anomaly.state.enabled:
                with anomaly.module_scope(self._describe_path()):
                    return forward(*args, **kwargs)
            return forward(*args, **kwargs)
        except ShapeError as e:
            if getattr(e, "_located", False) or not self._is_leaf_module():
                raise
            shapes = ", ".join(str(getattr(a, "shape", type(a).__name__)) for a in args)
            err = ShapeError(f"{self._describe_path()} got input {shapes}: {e}")
            err._located = True
            raise err from None
        finally:
            running.pop()

    def _forward_scoped(self, *args, **kwargs):
        if anomaly.state.enabled:
            with anomaly.module_scope(self._describe_path()):
                return self.forward(*args, **kwargs)
        return self.forward(*args, **kwargs)

    def _is_leaf_module(self) -> bool:
        return not self._modules

    def _describe_path(self) -> str:
        """``model.2 (Linear 256->10)``: the path from the outermost running module."""
        names = ["model"]
        running = _running.stack
        for parent, child in zip(running, running[1:]):
            names.append(next((k for k, m in parent._modules.items() if m is child), "?"))
        if not running or running[-1] is not self:
            names = ["model"]
        return f"{'.'.join(names)} ({self._short()})"

    def _short(self) -> str:
        extra = self.extra_repr()
        return f"{type(self).__name__} {extra}" if extra else type(self).__name__

    # --- traversal -----------------------------------------------------------------------

    def children(self):
        return iter(self._modules.values())

    def named_children(self):
        return iter(self._modules.items())

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_modules(self, prefix: str = ""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self, prefix: str = ""):
        seen = set()
        for mod_prefix, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_prefix}.{name}" if mod_prefix else name), p

    def parameters(self):
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self, prefix: str = ""):
        for mod_prefix, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{mod_prefix}.{name}" if mod_prefix else name), b

    def buffers(self):
        for _, b in self.named_buffers():
            yield b

    def apply(self, fn):
        """Call ``fn(module)`` on every submodule, then on this one (e.g. custom init)."""
        for child in self._modules.values():
            child.apply(fn)
        fn(self)
        return self

    def train(self, mode: bool = True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    @trace.opaque
    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    # --- state ---------------------------------------------------------------------------

    def _state_items(self):
        """(dotted name, tensor) of every parameter and buffer, module by module, each
        module's parameters before its buffers: PyTorch's order and names."""
        for mod_prefix, module in self.named_modules():
            for store in (module._parameters, module._buffers):
                for name, t in store.items():
                    if t is not None:
                        yield (f"{mod_prefix}.{name}" if mod_prefix else name), t

    def state_dict(self) -> OrderedDict:
        """Parameters and buffers by dotted name (e.g. ``'0.weight'``, ``'1.running_mean'``),
        as tensors that share data with the module (save them, or copy before changing)."""
        return OrderedDict((name, t.detach()) for name, t in self._state_items())

    def load_state_dict(self, state: dict, strict: bool = True) -> LoadResult:
        """Copy the values in ``state`` into this module's parameters and buffers, in place.

        Every key and shape is checked before anything is copied, so a failed load leaves
        the module as it was. ``strict=True``: missing and unexpected keys are errors;
        ``strict=False``: they are returned (``missing_keys``, ``unexpected_keys``).
        """
        if not hasattr(state, "items"):
            raise TypeError(f"load_state_dict: expected a dict of tensors (from "
                            f"state_dict()), got {type(state).__name__}")
        own = dict(self._state_items())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise StateDictError(
                f"load_state_dict into {type(self).__name__}: missing keys {missing}, "
                f"unexpected keys {unexpected}. help: the state dict comes from a different "
                "architecture (compare model.state_dict().keys()); strict=False loads the "
                "keys that match")
        values, wrong = {}, []
        for name, target in own.items():
            if name not in state:
                continue
            value = state[name]
            arr = B.to_numpy(value.data if isinstance(value, Tensor) else value)
            if arr.shape != target.shape:
                wrong.append(f"{name} has shape {arr.shape} in the state dict but "
                             f"{target.shape} in the module")
            values[name] = arr
        if wrong:
            raise ShapeError(f"load_state_dict into {type(self).__name__}: "
                             + "; ".join(wrong) + ". help: build the model with the sizes "
                             "it was saved with")
        for name, arr in values.items():
            target = own[name]
            target.data[...] = B.like(arr, target.data)  # back to the module's library
            target.bump_version()
        return LoadResult(missing, unexpected)

    def to(self, dtype=None, *, backend=None, device=None):
        """Cast every floating parameter and buffer to ``dtype``, or move them and their
        gradients to library ``backend`` (also ``model.to("torch")``), in place: the
        Parameter objects stay, so an optimizer made before still holds them (its state
        does not move: make the optimizer after moving, as with PyTorch's ``.to("cuda")``)."""
        if isinstance(dtype, str) and dtype in B.MODULES:
            dtype, backend = None, dtype
        if backend is not None:
            B.check_backend(backend)
            for t in list(self.parameters()) + [b for b in self.buffers() if b is not None]:
                t.data = B.convert(t.data, backend, device)
                t._vc = [t._vc[0] + 1, False, 0]  # new memory: its old views keep theirs
                if t.grad is not None:
                    t.grad = type(t.grad)(B.convert(t.grad.data, backend, device))
            return self if dtype is None else self.to(dtype)
        if dtype is None:
            raise TypeError(f"{type(self).__name__}.to: give a dtype or a backend. help: "
                            "model.to(cr.float64), model.to('torch')")
        dtype = B.numpy_dtype(dtype)
        if not B.is_float(dtype):
            raise TypeError(f"{type(self).__name__}.to: {dtype} is not a floating dtype. "
                            "help: use cr.float32 or cr.float64")
        for t in list(self.parameters()) + [b for b in self.buffers() if b is not None]:
            if B.is_float(t.data.dtype) and not B.same_dtype(t.data.dtype, dtype):
                t.data = B.astype(t.data, dtype)
                t._vc = [t._vc[0] + 1, False, 0]  # new memory: its old views keep theirs
                if t.grad is not None:
                    t.grad = type(t.grad)(B.astype(t.grad.data, dtype))
        return self

    def double(self):
        """``to(float64)``."""
        return self.to(np.float64)

    def float(self):  # noqa: A003 - PyTorch's name
        """``to(float32)``."""
        return self.to(np.float32)

    def requires_grad_(self, flag: bool = True):
        """Freeze (False) or unfreeze (True) every parameter."""
        for p in self.parameters():
            p.requires_grad = flag
        return self

    # --- display -------------------------------------------------------------------------

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)


class Sequential(Module):
    """Modules applied in order: ``Sequential(a, b, c)(x) = c(b(a(x)))``; their names are
    '0', '1', ... (so parameters are '0.weight', '0.bias', ... as in PyTorch), or the keys
    of one ordered dict, ``Sequential(OrderedDict([("fc", ...), ...]))``, as PyTorch's."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, m in modules[0].items():
                if not isinstance(m, Module):
                    raise TypeError(f"Sequential: {name!r} is a {type(m).__name__}, not a "
                                    "Module")
                setattr(self, str(name), m)
            return
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(m).__name__}, not a "
                                "Module. help: wrap functions in a Module, or call them in a "
                                "forward() of your own")
            setattr(self, str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Sequential(*list(self._modules.values())[i])
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module):
        self.add_module(str(len(self._modules)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters the parent module sees (no forward of its own)."""

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def append(self, module: Module):
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ModuleList(list(self._modules.values())[i])
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
