"""Tensor: an n-d array that remembers how it was made, so gradients can flow back.

A tensor holds ``data`` (an ndarray), ``grad`` (a Tensor or None), ``requires_grad``
and ``grad_fn`` (the node that made it; None for a leaf). Every operator and method
is a thin call into ``chainrule.ops``, the one table of primitives.

This file holds the class's core (attributes, conversion, autodiff, the operators, which
are on every op's path) and the helpers the ops import (``_wrap``, ``as_operand``,
``as_tensor``, ``register_engine``). ``Tensor`` inherits the rest from mixins beside it:
``_tensor_interop`` (NumPy's protocols), ``_tensor_inplace`` (``+=``, ``add_``, ``t[i] =
v``: one update path and the version counter), ``_tensor_methods`` (the named methods,
NumPy's names and PyTorch's), ``_tensor_torch_ops`` (gather, sort, cumsum, norm ...).
"""

from __future__ import annotations

import weakref

import numpy as np

from chainrule import _backend as B
from chainrule import _tensor_inplace, _tensor_interop, _tensor_methods, _tensor_torch_ops
from chainrule.errors import BackwardError, ShapeError
from chainrule.graph import accumulate as _accumulate_hooks
from chainrule.graph import trace
from chainrule.graph.node import HookHandle

_new = object.__new__


class Tensor(_tensor_interop.NumpyInterop, _tensor_inplace.InPlace,
             _tensor_methods.NumpyNames, _tensor_methods.TorchNames, _tensor_torch_ops.TorchOps):
    """An n-d array with autograd. Create one with ``cr.tensor(data, requires_grad=...)``."""

    # _tangents: forward mode's tangents by level (graph/forward_mode.py); unset on most tensors
    __slots__ = ("data", "_grad", "_rg", "_node", "_hooks", "_vc", "_tangents", "__weakref__")

    __hash__ = object.__hash__

    def __init__(self, data, dtype=None, requires_grad: bool = False):
        if isinstance(data, Tensor):
            data = data.data
        arr = B.as_array(data, dtype)
        if arr is data:
            arr = B.copy(arr)  # like torch.tensor: a new tensor owns its data
        self.data = arr
        self._grad = None
        self._node = None
        self._hooks = None
        # The version counter, shared with views: see graph/node.py (new_counter).
        self._vc = [0, False, 0]
        self._rg = False
        if requires_grad:
            self.requires_grad = True
        if trace.active[0]:
            trace.made(self)

    # --- attributes ----------------------------------------------------------------------

    @property
    def grad(self):
        """dL/dself after ``backward()``: a Tensor of this tensor's shape, or None."""
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad: assigned a {type(value).__name__}, expected a Tensor "
                                "or None. help: p.grad = cr.tensor(array)")
            if value.data.shape != self.data.shape:
                raise ShapeError(f"grad: assigned a gradient of shape {value.data.shape} to a "
                                 f"tensor of shape {self.data.shape}. help: a gradient has "
                                 "its tensor's shape")
        if trace.active[0]:  # cr.compile recording: `p.grad = None` is part of the step
            trace.grad_set(self, value)
        self._grad = value

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self) -> int:
        """The number of elements, as NumPy's ``.size`` (an int; ``t.size()`` explains)."""
        return _Size(B.size(self.data))

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        flag = bool(flag)
        if self._node is not None and not flag:
            raise BackwardError(
                "requires_grad: cannot turn off requires_grad on a non-leaf tensor "
                f"(made by {self._node.name}). help: use .detach() to cut it from the graph"
            )
        if flag and not B.is_float(self.data.dtype):
            raise TypeError(
                f"requires_grad: only floating-point tensors can require grad, got "
                f"{self.data.dtype}. help: create it with dtype=cr.float32 or .astype(float)"
            )
        self._rg = flag

    def requires_grad_(self, flag: bool = True) -> Tensor:
        self.requires_grad = flag
        return self

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    # --- conversion ----------------------------------------------------------------------

    def numpy(self) -> np.ndarray:
        """The data as an ndarray: shared for a NumPy tensor, a host copy for another
        library's (a GPU array comes to the CPU)."""
        if trace.active[0]:
            trace.refuse("numpy() reads a tensor's values inside the step")
        return B.to_numpy(self.data)

    def _backing(self):
        """The array behind the tensor, for its library, device and dtype, not its values
        (a batched tensor under vmap answers with its batch: func/batched.py)."""
        return self.data

    @property
    def backend(self) -> str:
        """The library holding the data: "numpy", "torch", "cupy", "array_api_strict"."""
        return B.name(self._backing())

    def _moved(self, backend: str, device=None) -> Tensor:
        """``to(backend)``: this tensor's values in library ``backend`` (on ``device``), a
        new leaf with its ``.grad`` moved too; ``self`` when the data is there already."""
        if B.name(self.data) == B.check_backend(backend) and (
                device is None or B.device(self.data) == device):
            return self
        t = _wrap(B.convert(self.data, backend, device))
        t._rg = self._rg
        if self.grad is not None:
            t.grad = _wrap(B.convert(self.grad.data, backend, device))
        return t

    def item(self):
        if trace.active[0]:
            trace.refuse("item() (or float(t), int(t), bool(t), an `if` on a tensor) reads a "
                         "tensor's value inside the step")
        if B.size(self.data) != 1:
            raise ValueError(
                f"item: only a one-element tensor converts to a Python number, "
                f"this one has shape {self.shape}"
            )
        return B.to_numpy(self.data).item()

    def tolist(self):
        if trace.active[0]:
            trace.refuse("tolist() reads a tensor's values inside the step")
        return B.to_numpy(self.data).tolist()

    def detach(self) -> Tensor:
        """A tensor that shares data with this one but is cut from the graph."""
        # A new view object, not the same ndarray: saved-array identity stays unambiguous.
        t = _wrap(B.alias(self.data))
        if trace.active[0]:
            trace.alias(t, self)
        self._vc[1] = True
        t._vc = self._vc  # one memory, one version: an edit through either is seen
        return t

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if B.size(self.data) != 1:
            raise ValueError(
                f"bool: the truth value of a tensor of shape {self.shape} is ambiguous. "
                "help: use (t).any() / (t).all() on .numpy(), or compare one element"
            )
        if trace.active[0]:
            trace.refuse("bool(t) (an `if` or `while` on a tensor) reads a tensor's value "
                         "inside the step")
        return bool(self.data)

    def __repr__(self) -> str:
        body = np.array2string(B.to_numpy(self.data), separator=", ", prefix="tensor(")
        extra = "" if type(self.data) is np.ndarray else f", backend={B.name(self.data)!r}"
        if not B.same_dtype(self.data.dtype, B.DEFAULT_FLOAT.name):
            extra += f", dtype={self.data.dtype}"
        if self._node is not None:
            extra += f", grad_fn=<{self._node.name}>"
        elif self._rg:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # --- autodiff ------------------------------------------------------------------------

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False) -> None:
        """Accumulate dself/dleaf into ``.grad`` of every leaf that requires grad."""
        _engine.backward(self, gradient, retain_graph, create_graph)

    def register_hook(self, fn):
        """Call ``fn(grad)`` with dL/dself during backward; a returned tensor replaces it."""
        if not self._rg:
            raise BackwardError(
                "register_hook: this tensor does not require grad, so no gradient will reach "
                "the hook. help: create it with requires_grad=True"
            )
        if self._node is not None:
            if self._node.hooks is None:
                self._node.hooks = []
            hooks = self._node.hooks
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        hooks.append(fn)
        return HookHandle(hooks, fn)

    def register_post_accumulate_grad_hook(self, fn):
        """Call ``fn(self)`` once backward has accumulated this leaf's gradient into
        ``.grad``, while the rest of the backward pass still runs (PyTorch's name)."""
        if not self._rg or self._node is not None:
            raise BackwardError(
                "register_post_accumulate_grad_hook: only a leaf that requires grad (a "
                "parameter) accumulates a .grad. help: for a non-leaf tensor, use "
                "register_hook(fn), which receives its gradient"
            )
        return _accumulate_hooks.register(self, fn)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves keep it anyway)."""
        if not self._rg:
            raise BackwardError("retain_grad: this tensor does not require grad")
        if self._node is not None:
            self._node.retained = weakref.ref(self)

    def zero_grad(self) -> None:
        self.grad = None

    # --- operators -----------------------------------------------------------------------

    # The arithmetic operators call the primitives directly (not through ops.add & co.):
    # one call less on the hottest path of every model.
    def __add__(self, other):
        return _apply(_ew.Add, self, as_operand(other))

    def __radd__(self, other):
        return _apply(_ew.Add, as_operand(other), self)

    def __sub__(self, other):
        return _apply(_ew.Sub, self, as_operand(other))

    def __rsub__(self, other):
        return _apply(_ew.Sub, as_operand(other), self)

    def __mul__(self, other):
        return _apply(_ew.Mul, self, as_operand(other))

    def __rmul__(self, other):
        return _apply(_ew.Mul, as_operand(other), self)

    def __truediv__(self, other):
        return _apply(_ew.Div, self, as_operand(other))

    def __rtruediv__(self, other):
        return _apply(_ew.Div, as_operand(other), self)

    def __pow__(self, other):
        return ops.pow(self, other)

    def __rpow__(self, other):
        return ops.pow(other, self)

    def __neg__(self):
        return ops.neg(self)

    def __pos__(self):
        return self

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __getitem__(self, index):
        return ops.getitem(self, index)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # Comparisons give boolean tensors and have no gradient.
    def __lt__(self, other):
        return _wrap(self.data < _data(other))

    def __le__(self, other):
        return _wrap(self.data <= _data(other))

    def __gt__(self, other):
        return _wrap(self.data > _data(other))

    def __ge__(self, other):
        return _wrap(self.data >= _data(other))

    def __eq__(self, other):
        return _wrap(self.data == _data(other))

    def __ne__(self, other):
        return _wrap(self.data != _data(other))

    def __invert__(self):
        return _wrap(~self.data)

    def __and__(self, other):
        return _wrap(self.data & _data(other))

    def __or__(self, other):
        return _wrap(self.data | _data(other))



class _Engine:
    """The backward walk lives a floor above (chainrule.autograd.engine) and registers
    itself here on import (``register_engine``): tensor.py never imports upward."""

    @staticmethod
    def backward(*args):
        raise RuntimeError("backward: the engine is not loaded. help: import chainrule")


_engine = _Engine()


def register_engine(backward) -> None:
    """Called by chainrule.autograd.engine when it is imported."""
    _engine.backward = backward


def _wrap(data, node=None) -> Tensor:
    """Make a tensor around an existing array without copying (the ops' fast path)."""
    t = _new(Tensor)
    t.data = data
    t._grad = None
    t._rg = node is not None
    t._node = node
    t._hooks = None
    t._vc = [0, False, 0]
    if trace.active[0]:  # made outside the ops' apply (a comparison, a factory, a grad)
        trace.made(t)
    return t


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def as_operand(x):
    """An operand of a binary op (``t + 1``, ``cr.add(t, x)``): tensors pass; Python numbers
    stay numbers, weakly typed as in NumPy 2 and PyTorch (float32 + 1.5 stays float32);
    anything else becomes an array constant."""
    if isinstance(x, (Tensor, int, float)):
        return x
    return B.as_array(x)


def as_tensor(data, dtype=None) -> Tensor:
    """``data`` as a tensor, sharing memory when it can (a tensor or ndarray of that dtype is
    not copied), as ``torch.as_tensor``; a Python number or list becomes a new tensor
    (floats in the default dtype). The one coercion of an op's main input, so
    ``cr.exp(1.0)`` is float32 as ``cr.tensor(1.0).exp()`` is."""
    if isinstance(data, Tensor):
        return data if dtype is None or B.same_dtype(data.data.dtype, dtype) else \
            ops.astype(data, dtype)
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == np.dtype(dtype)):
        if data.dtype.kind not in "biuf":
            raise TypeError(f"arrays of dtype {data.dtype} cannot be tensors. help: convert "
                            "to a number dtype first")
        return _wrap(data)
    return _wrap(B.as_array(data, dtype))


class _Size(int):
    """``t.size`` is NumPy's int; calling it as PyTorch's ``t.size()`` explains, with help."""

    def __call__(self, *dim):
        raise TypeError(
            "size: chainrule's .size is NumPy's (the number of elements, an int), so it is "
            "not called. help: use t.shape for the shape (PyTorch's t.size()), t.shape[d] for "
            "t.size(d), and t.numel() or t.size for the number of elements"
        )


# Imported last: the ops need the Tensor class defined above; so do the mixins' own imports.
from chainrule import ops  # noqa: E402
from chainrule.ops import elementwise as _ew  # noqa: E402
from chainrule.ops.core import apply as _apply  # noqa: E402

_tensor_interop._late_imports()
_tensor_inplace._late_imports()
_tensor_methods._late_imports()
_tensor_torch_ops._late_imports()
