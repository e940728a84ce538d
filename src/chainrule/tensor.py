"""Tensor: an n-d array that remembers how it was made, so gradients can flow back.

A tensor holds ``data`` (an ndarray), ``grad`` (a Tensor or None), ``requires_grad``
and ``grad_fn`` (the node that made it; None for a leaf). Every operator and method
below is a thin call into ``chainrule.ops``, the one table of primitives.
"""

from __future__ import annotations

import weakref

import numpy as np

from chainrule import _backend as B
from chainrule.errors import BackwardError, ShapeError

_new = object.__new__


class Tensor:
    """An n-d array with autograd. Create one with ``cr.tensor(data, requires_grad=...)``."""

    __slots__ = ("data", "grad", "_rg", "_node", "_hooks", "_vc", "__weakref__")

    __hash__ = object.__hash__

    def __init__(self, data, dtype=None, requires_grad: bool = False):
        if isinstance(data, Tensor):
            data = data.data
        arr = B.as_array(data, dtype)
        if isinstance(data, np.ndarray) and arr is data:
            arr = arr.copy()  # like torch.tensor: a new tensor owns its data
        self.data = arr
        self.grad = None
        self._node = None
        self._hooks = None
        # The version counter, shared with views: see graph/node.py (new_counter).
        self._vc = [0, False, 0]
        self._rg = False
        if requires_grad:
            self.requires_grad = True

    # --- attributes ----------------------------------------------------------------------

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
        return _Size(self.data.size)

    def numel(self) -> int:
        """PyTorch's name for the number of elements."""
        return self.data.size

    def dim(self) -> int:
        """PyTorch's name for ``ndim``."""
        return self.data.ndim

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

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
        """The data as an ndarray (shared, not copied)."""
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(
                f"item: only a one-element tensor converts to a Python number, "
                f"this one has shape {self.shape}"
            )
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A tensor that shares data with this one but is cut from the graph."""
        # A new view object, not the same ndarray: saved-array identity stays unambiguous.
        t = _wrap(self.data.view())
        self._vc[1] = True
        t._vc = self._vc  # one memory, one version: an edit through either is seen
        return t

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy ufuncs on tensors: arrays in, an array out, as NumPy does (so
        ``p.data - lr * p.grad`` is an array, as ``p.data`` must be). When a tensor that
        requires grad takes part (grad mode on), an arithmetic or comparison operator with
        an array on the left (``ndarray * w``) is the tensor operation, in the graph; any
        other ufunc (``np.exp(w)``) would silently drop the graph, so it is an error with
        help."""
        if grad_mode.state.enabled and _in_graph(inputs):
            operator = (_UFUNC_OPERATORS.get(ufunc)
                        if method == "__call__" and not kwargs and len(inputs) == 2 else None)
            if operator is not None:
                a, b = (x if isinstance(x, Tensor) else _wrap(B.as_array(x)) for x in inputs)
                return operator(a, b)
            _refuse_graph(f"np.{ufunc.__name__}", ufunc.__name__)
        return getattr(ufunc, method)(*_arrays(inputs), **_arrays(kwargs))

    def __array_function__(self, func, types, args, kwargs):
        """NumPy functions (``np.sum(t)``, ``np.concatenate``) compute on the arrays and
        return arrays; on a tensor that requires grad, an error with help (see above)."""
        if grad_mode.state.enabled and _in_graph((args, kwargs)):
            _refuse_graph(f"np.{func.__name__}", func.__name__)
        return func(*_arrays(args), **_arrays(kwargs))

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(
                f"bool: the truth value of a tensor of shape {self.shape} is ambiguous. "
                "help: use (t).any() / (t).all() on .numpy(), or compare one element"
            )
        return bool(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != B.DEFAULT_FLOAT and B.is_float(self.data.dtype):
            extra += f", dtype={self.data.dtype}"
        elif not B.is_float(self.data.dtype):
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
        return _HookHandle(hooks, fn)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves keep it anyway)."""
        if not self._rg:
            raise BackwardError("retain_grad: this tensor does not require grad")
        if self._node is not None:
            self._node.retained = weakref.ref(self)

    def zero_grad(self) -> None:
        self.grad = None

    # --- in-place updates ----------------------------------------------------------------

    @property
    def _version(self) -> int:
        """How many in-place updates this tensor's memory has had (shared with its views)."""
        return self._vc[0]

    def bump_version(self) -> None:
        """Record that ``data`` was changed in place by other means (e.g. ``data -= ...``)."""
        note_write(self._vc)

    def _update(self, what: str, write, recorded, other):
        """``self <- f(self, other)`` in place: the one path of every in-place method.

        - Outside the graph (grad mode off, or no operand requires grad) the memory is
          written in place (``write(data, other)``) and the version bumped, so a node that
          saved it refuses to backpropagate instead of using the new values.
        - Inside the graph the update is recorded as its out-of-place form
          (``recorded(self, other)``) and this tensor takes the result, as PyTorch's
          in-place ops do: the gradient flows through the update, and what earlier nodes
          saved is untouched (so their gradients stay right).
        - A leaf that requires grad changes only under ``no_grad`` (optimizers do); a view,
          or a tensor with views, cannot be updated inside the graph (the other views would
          not see the recorded update): both are errors with help.
        """
        if grad_mode.state.enabled and (self._rg or (type(other) is not int and type(other)
                                                     is not float and _requires_grad(other))):
            if self._rg and self._node is None:
                raise BackwardError(
                    f"{what}: a leaf tensor that requires grad cannot be changed in place "
                    "while grad mode is on (its gradient would describe values it no longer "
                    "has). help: wrap the update in `with cr.no_grad():` (as optimizers do)"
                )
            if self._vc[1]:
                raise BackwardError(
                    f"{what}: this tensor shares memory with another (a view, or a tensor "
                    "viewed by one) and is part of the graph, so an in-place update cannot "
                    "be recorded for both. help: use the out-of-place form (x = x + y), or "
                    "update under `with cr.no_grad():`"
                )
            result = recorded(self, other)
            if result.shape != self.data.shape:
                raise ShapeError(
                    f"{what}: the result has shape {result.shape} but the tensor has shape "
                    f"{self.shape}; an in-place update cannot change the shape. help: use "
                    "the out-of-place form, which broadcasts"
                )
            if result.dtype != self.data.dtype:
                result = ops.astype(result, self.data.dtype)
            self.data = result.data
            self._node = result._node
            self._rg = result._rg
            self._vc = [self._vc[0] + 1, False, 0]  # new memory: earlier saves untouched
            return self
        data = self.data
        try:
            if data.flags.writeable:
                write(data, _data(other))
            else:
                _write_frozen(data, write, _data(other), what)
        except ValueError as e:
            if "broadcast" not in str(e):
                raise
            raise ShapeError(
                f"{what}: an operand of shape {np.shape(_data(other))} does not broadcast to "
                f"the tensor's shape {self.shape}, and an in-place update cannot change its "
                "shape. help: use the out-of-place form, which broadcasts"
            ) from None
        note_write(self._vc)
        return self

    def add_(self, other, alpha=1):
        other = as_operand(other) if alpha == 1 else as_operand(other) * alpha
        return self._update("add_", _iadd, _add, other)

    def sub_(self, other, alpha=1):
        other = as_operand(other) if alpha == 1 else as_operand(other) * alpha
        return self._update("sub_", _isub, _sub, other)

    def mul_(self, other):
        return self._update("mul_", _imul, _mul, as_operand(other))

    def div_(self, other):
        return self._update("div_", _idiv, _div, as_operand(other))

    def __iadd__(self, other):
        return self._update("+=", _iadd, _add, as_operand(other))

    def __isub__(self, other):
        return self._update("-=", _isub, _sub, as_operand(other))

    def __imul__(self, other):
        return self._update("*=", _imul, _mul, as_operand(other))

    def __itruediv__(self, other):
        return self._update("/=", _idiv, _div, as_operand(other))

    def copy_(self, other):
        return self._update("copy_", _assign, _replace, as_operand(other))

    def fill_(self, value):
        return self._update("fill_", _assign, _replace, as_operand(value))

    def zero_(self):
        return self.fill_(0)

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

    # --- methods (NumPy names) -----------------------------------------------------------

    def exp(self):
        return ops.exp(self)

    def log(self):
        return ops.log(self)

    def sqrt(self):
        return ops.sqrt(self)

    def abs(self):
        return ops.abs(self)

    def sin(self):
        return ops.sin(self)

    def cos(self):
        return ops.cos(self)

    def tanh(self):
        return _apply(_ew.Tanh, self)

    def sigmoid(self):
        return _apply(_ew.Sigmoid, self)

    def relu(self):
        return _apply(_ew.Relu, self)

    def clip(self, lo=None, hi=None):
        return ops.clip(self, lo, hi)

    def astype(self, dtype):
        return ops.astype(self, dtype)

    # Reductions take NumPy's axis=/keepdims= and PyTorch's dim=/keepdim= (ops.core).
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.sum(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.mean(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """The maximum; with PyTorch's ``dim=``, PyTorch's (values, indices) pair."""
        return ops.max(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """The minimum; with PyTorch's ``dim=``, PyTorch's (values, indices) pair."""
        return ops.min(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def var(self, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None,
            correction=None, unbiased=None):
        return ops.var(self, axis, keepdims, ddof, dim=dim, keepdim=keepdim,
                       correction=correction, unbiased=unbiased)

    def std(self, axis=None, keepdims=False, ddof=0, *, dim=None, keepdim=None,
            correction=None, unbiased=None):
        return ops.std(self, axis, keepdims, ddof, dim=dim, keepdim=keepdim,
                       correction=correction, unbiased=unbiased)

    def logsumexp(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.logsumexp(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.argmax(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.argmin(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def softmax(self, axis=-1, *, dim=None):
        axis, _ = _torch_names("softmax", None if dim is not None else axis, None, dim, None)
        return _ops_reduce.softmax(self, axis)

    def log_softmax(self, axis=-1, *, dim=None):
        axis, _ = _torch_names("log_softmax", None if dim is not None else axis, None, dim,
                               None)
        return _ops_reduce.log_softmax(self, axis)

    # --- shape ---------------------------------------------------------------------------

    def reshape(self, *shape):
        return ops.reshape(self, *shape)

    def view(self, *shape):
        """PyTorch's name for reshape (a view whenever NumPy can make one)."""
        return ops.reshape(self, *shape)

    def transpose(self, *axes):
        return ops.transpose(self, *axes)

    def permute(self, *dims):
        """PyTorch's name for transpose with a full permutation."""
        if _shape_of(dims) == tuple(range(self.data.ndim)):
            return self  # unambiguous here (see ops.transpose on (0, 1))
        return ops.transpose(self, *dims)

    def swapaxes(self, axis1, axis2):
        return ops.swapaxes(self, axis1, axis2)

    @property
    def T(self):
        return ops.transpose(self)

    def squeeze(self, axis=None, *, dim=None):
        return ops.squeeze(self, axis, dim=dim)

    def expand_dims(self, axis):
        return ops.expand_dims(self, axis)

    def unsqueeze(self, dim):
        return ops.expand_dims(self, dim)

    def flatten(self, start_axis=0, end_axis=-1, *, start_dim=None, end_dim=None):
        return ops.flatten(self, start_axis, end_axis, start_dim=start_dim, end_dim=end_dim)

    def broadcast_to(self, shape):
        return ops.broadcast_to(self, shape)

    def matmul(self, other):
        return ops.matmul(self, other)

    # --- copies, dtypes, clamping (PyTorch's names beside NumPy's) -------------------------

    def clone(self):
        """A copy with its own memory, in the graph (its gradient passes straight through)."""
        return ops.astype(self, self.data.dtype, copy=True)

    def float(self):  # noqa: A003 - PyTorch's name
        return ops.astype(self, np.float32)

    def double(self):
        return ops.astype(self, np.float64)

    def to(self, dtype):
        """``to(dtype)`` as astype; ``to("cpu")`` is this tensor (chainrule runs on NumPy)."""
        if isinstance(dtype, str) and dtype.split(":")[0] == "cpu":
            return self
        if isinstance(dtype, str) and dtype.split(":")[0] in ("cuda", "mps", "xpu"):
            raise TypeError(
                f"to: chainrule runs on NumPy arrays, on the CPU; there is no {dtype!r} "
                "device. help: drop the .to(device) call, or leave it as .to('cpu')"
            )
        return ops.astype(self, dtype)

    def clamp(self, min=None, max=None):  # noqa: A002 - PyTorch's names
        return ops.clip(self, min, max)

    def clamp_(self, min=None, max=None):  # noqa: A002
        return self._update("clamp_", lambda d, o: np.clip(d, min, max, out=d),
                            lambda t, o: ops.clip(t, min, max), None)

    def new_zeros(self, *shape, dtype=None):
        """Zeros of ``shape`` with this tensor's dtype (PyTorch's new_* factories)."""
        return _wrap(np.zeros(_shape_of(shape), dtype=dtype or self.data.dtype))

    def new_ones(self, *shape, dtype=None):
        return _wrap(np.ones(_shape_of(shape), dtype=dtype or self.data.dtype))

    def new_full(self, shape, value, dtype=None):
        return _wrap(np.full(_shape_of((shape,)), value, dtype=dtype or self.data.dtype))

    def new_tensor(self, data, dtype=None):
        return Tensor(data, dtype=dtype or self.data.dtype)

    def __setitem__(self, index, value):
        """``t[index] = value``: in place, as every in-place update (see ``_update``)."""
        parsed, _ = _index_arg(index)
        self._update("setitem", lambda d, o: d.__setitem__(parsed, o),
                     lambda t, o: ops.setitem(t, index, o), as_operand(value))


class _HookHandle:
    """Returned by ``register_hook``; ``handle.remove()`` unregisters the hook."""

    def __init__(self, hooks: list, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


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
    t.grad = None
    t._rg = node is not None
    t._node = node
    t._hooks = None
    t._vc = [0, False, 0]
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
        return data if dtype is None or data.data.dtype == np.dtype(dtype) else \
            ops.astype(data, dtype)
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == np.dtype(dtype)):
        if data.dtype.kind not in "biuf":
            raise TypeError(f"arrays of dtype {data.dtype} cannot be tensors. help: convert "
                            "to a number dtype first")
        return _wrap(data)
    return _wrap(B.as_array(data, dtype))


def _arrays(x):
    """Tensors inside (nested) arguments replaced by their arrays."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return type(x)(_arrays(v) for v in x)
    if isinstance(x, dict):
        return {k: _arrays(v) for k, v in x.items()}
    return x


def _in_graph(x) -> bool:
    """Does a tensor that requires grad appear in (nested) arguments?"""
    if isinstance(x, Tensor):
        return x._rg
    if isinstance(x, (list, tuple)):
        return any(_in_graph(v) for v in x)
    if isinstance(x, dict):
        return any(_in_graph(v) for v in x.values())
    return False


def _refuse_graph(call: str, name: str) -> None:
    raise TypeError(
        f"{call} on a tensor that requires grad: NumPy would compute on the array and drop "
        f"the graph, so no gradient would reach it. help: use the tensor's own operation "
        f"(t.{name}() or cr.{name}(t), differentiable), or np.{name}(t.detach().numpy()) "
        "for a plain array"
    )


class _Size(int):
    """``t.size`` is NumPy's int; calling it as PyTorch's ``t.size()`` explains, with help."""

    def __call__(self, *dim):
        raise TypeError(
            "size: chainrule's .size is NumPy's (the number of elements, an int), so it is "
            "not called. help: use t.shape for the shape (PyTorch's t.size()), t.shape[d] for "
            "t.size(d), and t.numel() or t.size for the number of elements"
        )


def _shape_of(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(n) for n in shape)


def _requires_grad(x) -> bool:
    return isinstance(x, Tensor) and x._rg


# In-place writes (outside the graph) and their recorded out-of-place forms (inside it).
def _iadd(d, o):
    d += o


def _isub(d, o):
    d -= o


def _imul(d, o):
    d *= o


def _idiv(d, o):
    d /= o


def _assign(d, o):
    d[...] = o


def _add(t, o):
    return t + o


def _sub(t, o):
    return t - o


def _mul(t, o):
    return t * o


def _div(t, o):
    return t / o


def _replace(t, o):
    # The new value is o everywhere: no gradient reaches t's old value, all of it reaches o.
    return ops.where(np.zeros(t.shape, dtype=bool), t, o)


def _write_frozen(data: np.ndarray, write, other, what: str) -> None:
    """Write into an array the engine made read-only while a node keeps it for backward
    (the version bump that follows makes that node refuse to run)."""
    chain = []
    a = data
    while isinstance(a, np.ndarray) and not a.flags.writeable:
        chain.append(a)
        a = a.base
    try:
        for a in reversed(chain):
            a.setflags(write=True)
    except ValueError:
        for a in chain:
            a.setflags(write=False)
        raise TypeError(
            f"{what}: this tensor's memory is read-only (a broadcast view, or a NumPy array "
            "marked read-only). help: make a copy first (t = t.clone() or cr.tensor(array))"
        ) from None
    try:
        write(data, other)
    finally:
        for a in chain:
            a.setflags(write=False)


# ndarray (op) w, w in the graph: NumPy calls the ufunc, which hands it to the tensor operator.
_UFUNC_OPERATORS = {
    np.add: lambda a, b: a + b,
    np.subtract: lambda a, b: a - b,
    np.multiply: lambda a, b: a * b,
    np.true_divide: lambda a, b: a / b,
    np.power: lambda a, b: a ** b,
    np.matmul: lambda a, b: a @ b,
    np.less: lambda a, b: a < b,
    np.less_equal: lambda a, b: a <= b,
    np.greater: lambda a, b: a > b,
    np.greater_equal: lambda a, b: a >= b,
    np.equal: lambda a, b: a == b,
    np.not_equal: lambda a, b: a != b,
}


# Imported last: the ops need the Tensor class defined above.
from chainrule import ops  # noqa: E402
from chainrule.graph import grad_mode  # noqa: E402
from chainrule.graph.node import note_write  # noqa: E402
from chainrule.ops import elementwise as _ew  # noqa: E402
from chainrule.ops import reduce as _ops_reduce  # noqa: E402
from chainrule.ops.core import apply as _apply  # noqa: E402
from chainrule.ops.core import torch_names as _torch_names  # noqa: E402
from chainrule.ops.shape import _index_arg  # noqa: E402
