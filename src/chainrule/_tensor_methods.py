"""Tensor's named methods: ``t.exp()``, ``t.sum(axis)``, ``t.reshape(...)`` under NumPy's
names, and ``t.view(...)``, ``t.clamp(...)``, ``t.to(...)`` under PyTorch's beside them.

Two mixins that ``Tensor`` (tensor.py) inherits, kept apart from the class's core because
each method is a thin call into ``chainrule.ops``, the one table of primitives, and adds
no state: ``NumpyNames`` (elementwise, reductions, shape) and ``TorchNames`` (the aliases
and conversions a PyTorch user looks for). The operators (``+``, ``*``, ...) stay in
tensor.py, on the hot path.

tensor.py imports this module before it defines ``Tensor``, and the ops import ``Tensor``,
so the ops and the names from tensor.py are imported late: tensor.py calls
``_late_imports()`` at its end, once they exist. The methods look them up as module
globals, as tensor.py's own do: no extra call on any op.
"""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B


class NumpyNames:
    """Methods under NumPy's names (see the module docstring)."""

    __slots__ = ()  # Tensor keeps __slots__: no base may add a __dict__

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

    # Straight to the primitive (not through ops.tanh & co.): one call less, as the operators.
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

    def transpose(self, *axes):
        return ops.transpose(self, *axes)

    def swapaxes(self, axis1, axis2):
        return ops.swapaxes(self, axis1, axis2)

    @property
    def T(self):
        return ops.transpose(self)

    def squeeze(self, axis=None, *, dim=None):
        return ops.squeeze(self, axis, dim=dim)

    def expand_dims(self, axis):
        return ops.expand_dims(self, axis)

    def flatten(self, start_axis=0, end_axis=-1, *, start_dim=None, end_dim=None):
        return ops.flatten(self, start_axis, end_axis, start_dim=start_dim, end_dim=end_dim)

    def broadcast_to(self, shape):
        return ops.broadcast_to(self, shape)

    def matmul(self, other):
        return ops.matmul(self, other)


class TorchNames:
    """Methods under PyTorch's names, beside NumPy's (see the module docstring)."""

    __slots__ = ()  # Tensor keeps __slots__: no base may add a __dict__

    def numel(self) -> int:
        """PyTorch's name for the number of elements."""
        return self.data.size

    def dim(self) -> int:
        """PyTorch's name for ``ndim``."""
        return self.data.ndim

    def view(self, *shape):
        """PyTorch's name for reshape (a view whenever NumPy can make one)."""
        return ops.reshape(self, *shape)

    def permute(self, *dims):
        """PyTorch's name for transpose with a full permutation."""
        if _shape_of(dims) == tuple(range(self.data.ndim)):
            return self  # unambiguous here (see ops.transpose on (0, 1))
        return ops.transpose(self, *dims)

    def unsqueeze(self, dim):
        return ops.expand_dims(self, dim)

    def expand(self, *sizes):
        """PyTorch's broadcast_to, where -1 keeps an axis's size."""
        sizes = _shape_of(sizes)
        lead = len(sizes) - self.data.ndim
        shape = tuple(self.data.shape[i - lead] if n == -1 and i >= lead else n
                      for i, n in enumerate(sizes))
        return ops.broadcast_to(self, shape)

    def repeat(self, *repeats):
        """PyTorch's repeat (NumPy's tile): the tensor copied ``repeats[i]`` times along
        axis i; composed of reshape and broadcast, so its gradient sums the copies."""
        reps = _shape_of(repeats)
        if len(reps) < self.data.ndim:
            raise ValueError(f"repeat: {len(reps)} counts for a {self.data.ndim}-d tensor. "
                             "help: give one count per axis (at least)")
        shape = (1,) * (len(reps) - self.data.ndim) + self.data.shape
        spread = tuple(v for n in shape for v in (1, n))  # (1, n0, 1, n1, ...)
        tiled = tuple(v for r, n in zip(reps, shape) for v in (r, n))
        out = ops.broadcast_to(ops.reshape(self, spread), tiled)
        return ops.reshape(out, tuple(r * n for r, n in zip(reps, shape)))

    def contiguous(self):
        """This tensor (NumPy arrays need no contiguous copy for chainrule's ops)."""
        return self

    def cpu(self):
        """This tensor when it is on the CPU; a GPU one's values as a NumPy tensor."""
        return self.to("cpu")

    def cuda(self, *args, **kwargs):
        return self.to("cuda")

    @property
    def device(self):
        """Where the data lives: "cpu" for NumPy, the library's device otherwise (PyTorch
        code reads it to place new tensors)."""
        return B.device(self.data)

    @property
    def is_cuda(self) -> bool:
        return B.name(self.data) == "cupy" or "cuda" in str(B.device(self.data))

    def type(self, dtype=None):  # noqa: A003 - PyTorch's name
        """With a dtype: as astype; without one: the dtype's name, as a string."""
        return str(self.data.dtype) if dtype is None else ops.astype(self, dtype)

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    # --- copies, dtypes, clamping ----------------------------------------------------------

    def clone(self):
        """A copy with its own memory, in the graph (its gradient passes straight through)."""
        return ops.astype(self, self.data.dtype, copy=True)

    def float(self):  # noqa: A003 - PyTorch's name
        return ops.astype(self, np.float32)

    def double(self):
        return ops.astype(self, np.float64)

    def to(self, dtype=None, *, backend=None, device=None):
        """``to(dtype)`` as astype; ``to("numpy" | "torch" | "cupy" | "array_api_strict")``
        (or ``backend=``, with ``device=``) moves the data to that library
        (docs/backends.md); ``to("cpu")`` is this tensor when it is on the CPU already."""
        if isinstance(dtype, str) and dtype in B.MODULES:
            dtype, backend = None, dtype
        if backend is not None:
            moved = self._moved(backend, device)
            return moved if dtype is None else ops.astype(moved, dtype)
        if isinstance(dtype, str) and dtype.split(":")[0] == "cpu":
            return self if str(B.device(self.data)) == "cpu" else self._moved("numpy")
        if isinstance(dtype, str) and dtype.split(":")[0] in ("cuda", "mps", "xpu"):
            if B.name(self.data) == "torch":
                return self._moved("torch", dtype)
            raise TypeError(
                f"to: a {B.name(self.data)} tensor has no {dtype!r} device. help: "
                "t.to('cupy') puts it on an NVIDIA GPU with CuPy, t.to('torch', "
                "device='cuda') as a PyTorch CUDA tensor (docs/backends.md)")
        if isinstance(dtype, str) and not B.is_dtype_name(dtype):
            B.check_backend(dtype)  # neither a dtype nor a backend: BackendError, with help
        return ops.astype(self, dtype)

    def clamp(self, min=None, max=None):  # noqa: A002 - PyTorch's names
        return ops.clip(self, min, max)

    def new_zeros(self, *shape, dtype=None):
        """Zeros of ``shape`` with this tensor's dtype (PyTorch's new_* factories)."""
        return _wrap(np.zeros(_shape_of(shape), dtype=dtype or self.data.dtype))

    def new_ones(self, *shape, dtype=None):
        return _wrap(np.ones(_shape_of(shape), dtype=dtype or self.data.dtype))

    def new_full(self, shape, value, dtype=None):
        return _wrap(np.full(_shape_of((shape,)), value, dtype=dtype or self.data.dtype))

    def new_tensor(self, data, dtype=None):
        return Tensor(data, dtype=dtype or self.data.dtype)


def _shape_of(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(n) for n in shape)


def _late_imports() -> None:
    """Bind the ops and the names from tensor.py; tensor.py calls this at its end, once
    ``Tensor`` (which the ops import) exists."""
    global ops, _ew, _ops_reduce, _apply, _torch_names, Tensor, _wrap
    from chainrule import ops
    from chainrule.ops import elementwise as _ew
    from chainrule.ops import reduce as _ops_reduce
    from chainrule.ops.core import apply as _apply
    from chainrule.ops.core import torch_names as _torch_names
    from chainrule.tensor import Tensor, _wrap
