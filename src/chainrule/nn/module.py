"""Module and Parameter: the building blocks of networks, as in PyTorch."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from chainrule.autograd import anomaly
from chainrule.errors import ShapeError
from chainrule.tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a module's learnable weight: a leaf with requires_grad=True."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        if isinstance(data, Tensor):
            data = data.data  # share, don't copy: a Parameter wraps an existing tensor's data
            super().__init__(np.empty(0))
            self.data = data
        else:
            super().__init__(data)
        if requires_grad:
            self.requires_grad = True

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


# The modules whose forward is running, outermost first: to name a failing layer's path.
_running: list = []


class Module:
    """Base class of layers and models: parameters, buffers and submodules are registered
    by attribute assignment; ``model(x)`` runs ``forward``."""

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
        for store in (self._parameters, self._buffers, self._modules):
            store.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, value) -> None:
        """A tensor that is state but not a parameter (e.g. BatchNorm's running mean)."""
        self._buffers[name] = value
        object.__setattr__(self, name, value)

    def register_parameter(self, name: str, value) -> None:
        if value is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, value)

    # --- running -------------------------------------------------------------------------

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        _running.append(self)
        try:
            if anomaly.state.enabled:
                with anomaly.module_scope(self._describe_path()):
                    return self.forward(*args, **kwargs)
            return self.forward(*args, **kwargs)
        except ShapeError as e:
            if getattr(e, "_located", False) or not self._is_leaf_module():
                raise
            shapes = ", ".join(str(getattr(a, "shape", type(a).__name__)) for a in args)
            err = ShapeError(f"{self._describe_path()} got input {shapes}: {e}")
            err._located = True
            raise err from None
        finally:
            _running.pop()

    def _is_leaf_module(self) -> bool:
        return not self._modules

    def _describe_path(self) -> str:
        """``model.2 (Linear 256->10)``: the path from the outermost running module."""
        names = ["model"]
        for parent, child in zip(_running, _running[1:]):
            names.append(next((k for k, m in parent._modules.items() if m is child), "?"))
        if not _running or _running[-1] is not self:
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

    def named_buffers(self):
        for mod_prefix, module in self.named_modules():
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{mod_prefix}.{name}" if mod_prefix else name), b

    def train(self, mode: bool = True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    # --- state ---------------------------------------------------------------------------

    def state_dict(self) -> OrderedDict:
        """Parameters and buffers by dotted name, sharing data with the module."""
        out = OrderedDict()
        for name, p in self.named_parameters():
            out[name] = p.detach()
        for name, b in self.named_buffers():
            out[name] = b.detach()
        return out

    def load_state_dict(self, state: dict, strict: bool = True):
        """Copy values into this module's parameters and buffers (in place)."""
        own = dict(self.named_parameters())
        own.update(self.named_buffers())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys "
                           f"{unexpected}. help: the state dict comes from a different "
                           "architecture; use strict=False to load the matching part")
        for name, target in own.items():
            if name not in state:
                continue
            value = state[name]
            arr = np.asarray(value.data if isinstance(value, Tensor) else value)
            if arr.shape != target.shape:
                raise ShapeError(f"load_state_dict: {name} has shape {arr.shape} in the state "
                                 f"dict but {target.shape} in the module")
            target.data[...] = arr
            target.bump_version()
        return missing, unexpected

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
    """Modules applied in order: ``Sequential(a, b, c)(x) = c(b(a(x)))``."""

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleList(Module):
    """A list of modules whose parameters the parent module sees."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module):
        setattr(self, str(len(self._modules)), module)
        return self

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
