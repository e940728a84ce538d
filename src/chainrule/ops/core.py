"""The machinery every primitive shares: ``Op`` (the registry), ``apply``, ``unbroadcast``,
and the save markers ``INPUT(i)`` and ``OUTPUT`` (re-exported from the graph layer)."""

from __future__ import annotations

import numpy as np

from chainrule import _backend
from chainrule.errors import BackendError, ShapeError
from chainrule.graph import anomaly, batching_mode, forward_mode, grad_mode, trace
from chainrule.graph.node import INPUT, OUTPUT, Input, Node, memory_id  # noqa: F401 - INPUT: the ops' save marker
from chainrule.graph.node import clock as _clock
from chainrule.tensor import Tensor, _wrap

#: Every primitive, by name. The test suite's guard fails if one has no test row.
PRIMITIVES: dict[str, type] = {}


class Op(Node):
    """Base of the primitives: subclassing registers the op in ``PRIMITIVES``."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        PRIMITIVES[cls.__name__] = cls


def apply(op_cls: type[Op], *inputs, **params) -> Tensor:
    """Run primitive ``op_cls`` on ``inputs`` and, if any input requires grad, record it.

    Inputs are tensors or constants (ndarrays, Python numbers). Recording means: the node
    gets one edge per input and keeps what its ``forward`` saved; the output tensor points
    to the node as its ``grad_fn``.
    """
    if _vmap_on[0]:  # some thread runs vmap: a batched input takes the batching rule
        out = batching_mode.dispatch(op_cls, inputs, params)
        if out is not None:
            return out
    op = _new(op_cls)
    if params:
        op.__dict__.update(params)
    arrays = []
    edges = []
    leaves = None
    record = False
    foreign = False
    for x in inputs:
        if isinstance(x, Tensor):
            data = x.data
            if type(data) is not _ndarray:
                foreign = True
            arrays.append(data)
            if x._rg:
                record = True
                if x._node is None:  # a leaf: remember its shape (input_shape, engine)
                    if leaves is None:
                        leaves = [None] * len(inputs)
                    leaves[len(edges)] = data.shape
                    edges.append(x)
                else:
                    edges.append(x._node)
            else:
                edges.append(None)
        else:
            if type(x) is not _ndarray and type(x) not in _NUMBERS and _backend.is_foreign(x):
                foreign = True
            arrays.append(x)
            edges.append(None)
    if foreign:  # another library's arrays (_backend.py): not the NumPy path
        arrays = _enter_backend(op, inputs, arrays)
    if record and (not _grad_off[0] or _grad_mode.enabled):
        op.parents = tuple(edges)
        if leaves is not None:
            op.leaves = leaves
        if _anomaly_on[0] and _anomaly.enabled:
            anomaly.note_creation(op)
        if op.sums_over_steps and not _warned_growth:
            _check_graph_growth(op)
    else:
        record = False
    try:
        out = op.forward(*arrays)
    except ValueError:
        # Shapes are checked where NumPy's message would not say enough (the public
        # functions: matmul, reshape, concatenate ...); operands that do not broadcast are
        # found here, by their shapes, and only once NumPy has refused them.
        shapes = [np.shape(a) for a in arrays]
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            raise ShapeError(
                f"{op.name.lower()}: shapes {', '.join(map(str, shapes))} do not broadcast. "
                "help: NumPy broadcasting aligns trailing axes, which must be equal or 1 "
                "(use reshape or expand_dims to line them up)"
            ) from None
        raise
    if type(out) is not np.ndarray and not foreign:
        out = np.asarray(out)  # NumPy returns scalars from 0-d operations
    if _anomaly_on[0] and _anomaly.enabled:
        anomaly.check_forward(op, arrays, out)
    t = _new(Tensor)  # _wrap, inlined: this is the hot path of every op
    t.data = out
    t._grad = None
    t._hooks = None
    if foreign or out.base is not None or out is arrays[0]:
        _share_version(t, inputs)  # a view: in-place edits through either are one edit
    else:
        t._vc = [0, False, 0]  # a new version counter (see graph/node.py), inlined
    if record:
        op.out_shape = out.shape
        op.out_dtype = out.dtype
        t._rg = True
        t._node = op
        if op._saved:
            _fill_saves(op, inputs, arrays, t)
    else:
        t._rg = False
        t._node = None
    if _fwd_on[0] and _fwd.levels:
        _push_tangents(op, inputs, t)
    if _trace_on[0] and _trace.recorder is not None:  # cr.compile is recording this step
        _trace.recorder.apply(op, inputs, t, params)
    return t


def _enter_backend(op: Op, inputs, arrays) -> list:
    """Set ``op.xp`` and ``op.device`` from inputs of a library other than NumPy, moving
    NumPy constants there; refuse tensors of two libraries, and ops with no portable path."""
    tensors = [x.data for x in inputs if isinstance(x, Tensor)]
    first = next((a for a in arrays if _backend.is_foreign(a)), None)
    for a in tensors:
        if _backend.name(a) != _backend.name(first):
            raise _backend.mixed(op.name.lower(), first, a)
    xp, device, arrays = _backend.common(arrays, op.name.lower())
    op.xp = xp  # first: an op's portable property may ask what the namespace can do
    op.device = device
    if not op.portable:
        raise BackendError(
            f"{op.name.lower()}: no path for {_backend.name(first)} arrays yet "
            "(docs/backends.md lists what runs where). help: move the tensors to NumPy "
            "with .to('numpy') for this step")
    return arrays


def _push_tangents(op: Op, inputs, t: Tensor) -> None:
    """Forward mode: give ``t`` its tangent at every open level where an input has one,
    from ``op.jvp``; outer levels first, so that an inner level's rule sees the outer
    tangents of ``t`` (see graph/forward_mode.py)."""
    duals = [getattr(x, "_tangents", None) if isinstance(x, Tensor) else None for x in inputs]
    if not any(duals):
        return  # no input moves
    data = t.data
    if not (data.dtype.kind == "f" if type(data) is _ndarray else _backend.is_float(data.dtype)):
        return  # an integer output (indices, counts): no tangent
    levels = _fwd.levels
    out = {}
    for depth, level in enumerate(levels):
        dxs = tuple(None if d is None else d.get(level) for d in duals)
        if all(dx is None for dx in dxs):
            continue
        t._tangents = out
        _fwd.levels = levels[:depth]  # the rule's own ops carry the outer levels only
        try:
            dy = op.jvp(tuple(inputs), t, dxs)
        finally:
            _fwd.levels = levels
        if dy is None:
            continue
        if not isinstance(dy, Tensor):
            dy = _wrap_tangent(dy, t.data)
        if dy.shape != t.data.shape:
            raise ShapeError(f"{op.name}.jvp gave a tangent of shape {dy.shape} for an output "
                             f"of shape {t.data.shape}. This is a bug in that op's jvp; "
                             "please report it")
        if dy.dtype != t.data.dtype:  # one library's two dtypes: == is theirs
            dy = dy.astype(t.data.dtype)
        out[level] = dy
    if not out:
        return
    t._tangents = out
    if t._node is op:  # recorded: a backward under create_graph needs them (Node.tangents)
        op.tangents = out
        consts = {i: x for i, (x, d) in enumerate(zip(inputs, duals))
                  if d is not None and not x._rg}
        if consts:  # moving inputs that want no gradient: Node.vjp_recorded keeps them
            op.dual_inputs = consts


def _wrap_tangent(array, like) -> Tensor:
    """A rule's raw array (or number) as a tangent tensor in the library of output ``like``."""
    return _wrap(array if _backend.is_foreign(array) else _backend.constant(array, like))


def jvp_via_composed(op: Op, xs: tuple, dxs: tuple):
    """The jvp of a fused op from its ``composed`` form: run that with the tangents at a
    level of its own, and read the output's tangent there. Costs a second forward pass of
    the composition; exact as the composition's rules are."""
    level = forward_mode.enter()
    try:
        duals = []
        for x, dx in zip(xs, dxs):
            if dx is not None:
                x = alias(x)
                x._tangents = {**(forward_mode.tangents(x) or {}), level: dx}
            elif _backend.is_foreign(x):  # a constant array: strict's has no methods
                x = _wrap(x)
            duals.append(x)
        y = op.composed(*duals)
        return forward_mode.tangent(y, level)
    finally:
        forward_mode.exit(level)


def alias(x: Tensor) -> Tensor:
    """A new tensor that views ``x``: recorded (so gradients reach ``x``) and carrying
    ``x``'s tangents; forward mode gives it tangents of its own without touching ``x``."""
    from chainrule.ops.shape import Reshape  # the identity: a view with the same shape

    return apply(Reshape, x, shape=x.shape)


def _share_version(t: Tensor, inputs) -> None:
    """Give view ``t`` the version counter of the input whose memory it views."""
    memory = memory_id(t.data)
    for x in inputs:
        if isinstance(x, Tensor) and memory_id(x.data) == memory:
            x._vc[1] = True  # shared: see Tensor._update
            t._vc = x._vc
            return
    t._vc = [0, False, 0]


def _fill_saves(op: Op, inputs, arrays, t: Tensor) -> None:
    """Put the arrays behind ``INPUT(i)`` and ``OUTPUT`` into ``op``'s saves, and guard them.

    Each saved tensor's version counter is kept with the write clock now (checked at
    backward: Node.check_versions). Saved arrays that the engine made (the output, a
    non-leaf input's data) are made read-only until the node is released, so that a write
    through ``t.data`` fails at once instead of silently changing the gradient; a leaf's
    array belongs to the user and is left alone (its in-place methods bump its version).
    """
    # Hot path of every recorded op that saves: plain loops (measured).
    d = op.__dict__
    counters = None
    for name, kind in op._saved.items():
        if kind is OUTPUT:
            value = d[name] = t.data
            counter, i, ours = t._vc, -1, True
        elif type(kind) is Input:
            i = kind.index
            value = d[name] = arrays[i]
            x = inputs[i]
            if not isinstance(x, Tensor):
                continue
            counter, ours = x._vc, x._node is not None
        else:
            continue  # derived: a snapshot, nothing to guard
        if counters is None:
            counters = [(i, counter)]
        else:
            counters.append((i, counter))
        if ours and type(value) is _ndarray and value.flags.writeable:  # NumPy can freeze
            value.setflags(write=False)
            if op.frozen is None:
                op.frozen = [value]
            else:
                op.frozen.append(value)
    if counters is not None:
        op.counters = counters
        op.clock_at = _clock[0]


_new = object.__new__
_ndarray = np.ndarray
_NUMBERS = (int, float, bool)
# The per-thread flags, bound once, and the counts that let most ops skip reading them.
_grad_mode, _grad_off = grad_mode.state, grad_mode.off
_anomaly, _anomaly_on = anomaly.state, anomaly.on
_fwd, _fwd_on = forward_mode.state, forward_mode.on
_trace, _trace_on = trace.state, trace.active
_vmap_on = batching_mode.on
_warned_growth = False


class GraphGrowthWarning(UserWarning):
    """A running total keeps the graphs of earlier steps alive."""


def _check_graph_growth(op) -> None:
    """Warn (once) about ``total = total + loss`` with a loss already backpropagated.

    Such a total links every step's graph to the next: memory grows with each step, and
    nothing ever reads those graphs again. One level of parents is enough to see it.
    """
    global _warned_growth
    for edge in op.parents:
        if isinstance(edge, Node):
            for p in edge.parents:
                if isinstance(p, Node) and p.released:
                    import warnings

                    _warned_growth = True
                    warnings.warn(
                        "adding to a tensor that holds a graph already used by backward(): a "
                        "running total like `total += loss` keeps every step's graph alive, "
                        "so memory grows. help: accumulate `loss.item()` (or "
                        "`loss.detach()`) instead",
                        GraphGrowthWarning, stacklevel=4)
                    return


def torch_names(name: str, axis, keepdims, dim, keepdim):
    """PyTorch's ``dim=``/``keepdim=`` as aliases of NumPy's ``axis=``/``keepdims=``.

    The NumPy names stay primary (API.md); the aliases let PyTorch code run unchanged.
    """
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{name}: got both axis= and dim= (the same argument: dim is "
                            "PyTorch's name for it). help: pass one")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return axis, keepdims


def tangent_sum(shape: tuple, *terms):
    """The sum of a jvp's tangent terms, None standing for zero, broadcast to the output's
    ``shape`` (a term from a broadcast input has that input's smaller shape); None if all are.

    Forward mode's counterpart of ``unbroadcast``: a broadcast input's tangent is copied
    along the broadcast axes, as its value is.
    """
    out = None
    for term in terms:
        if term is not None:
            out = term if out is None else out + term
    if out is not None and out.shape != shape:
        out = out.broadcast_to(shape)
    return out


_ONES: dict = {}  # (rows, dtype) -> a read-only vector of ones, for sum_rows


def sum_rows(a):
    """The sum of a 2-D array's rows (``a.sum(axis=0)``) as one GEMV with a vector of
    ones: a bias's gradient, every step of every layer.

    NOTE: NumPy reduces axis 0 of a C-ordered array row after row with little
    vectorization; BLAS does the same sum 2-7x faster for a batch of 16-1000 rows (measured
    on (100, 16), (128, 128), (1000, 512), float32) and no less accurately (both add in
    float32 along the rows; the GEMV's partial sums were within 1e-7 relative of float64 in
    every case measured, the same as or closer than NumPy's).
    """
    if type(a) is not np.ndarray:  # a tensor of another library (the vjp on tensors)
        return a.sum(axis=0)
    key = (a.shape[0], a.dtype)
    ones = _ONES.get(key)
    if ones is None:
        if len(_ONES) > 64:  # a bound: batch sizes that change every step
            _ONES.clear()
        ones = np.ones(a.shape[0], dtype=a.dtype)
        ones.flags.writeable = False
        _ONES[key] = ones
    return ones @ a


def unbroadcast(g, shape: tuple):
    """Sum ``g`` back down to ``shape``: the adjoint of NumPy broadcasting.

    Broadcasting copies an operand along new leading axes and along axes of size 1; the
    gradient of a copy is the sum of the gradients of its copies. Every binary VJP ends
    here, so broadcasting is undone in exactly one place.
    """
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    if gshape[lead:] == shape:  # only new leading axes (a bias): one sum, no reshape
        if type(g) is np.ndarray and g.flags.c_contiguous and g.dtype.kind == "f" and g.size:
            return sum_rows(g.reshape(-1, int(np.prod(shape)))).reshape(shape)
        return g.sum(axis=tuple(range(lead)))
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1
    )
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if lead or g.shape != shape:
        g = g.reshape(shape)
    return g
