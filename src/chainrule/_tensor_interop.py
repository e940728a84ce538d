"""Tensor's NumPy interop: ``np.asarray(t)``, NumPy ufuncs and functions on tensors.

A mixin that ``Tensor`` (tensor.py) inherits, kept apart from the class's core because it
answers NumPy's protocols (``__array__``, ``__array_ufunc__``, ``__array_function__``)
rather than describing a tensor. The rule it keeps: NumPy computes on the arrays and
returns arrays, except where that would silently drop a tensor from the graph.

tensor.py imports this module before it defines ``Tensor``, and the ops import ``Tensor``,
so the names from tensor.py are imported late: tensor.py calls ``_late_imports()`` at its
end, once they exist.
"""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B
from chainrule.graph import grad_mode, trace


class NumpyInterop:
    """NumPy's protocols on a tensor (see the module docstring)."""

    __slots__ = ()  # Tensor keeps __slots__: no base may add a __dict__

    def __array__(self, dtype=None, copy=None):
        if trace.active[0]:
            trace.refuse("np.asarray(t) (or another NumPy call on a tensor) reads its values "
                         "inside the step")
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


def _late_imports() -> None:
    """Bind the names from tensor.py; it calls this at its end, once ``Tensor`` exists."""
    global Tensor, _wrap
    from chainrule.tensor import Tensor, _wrap
