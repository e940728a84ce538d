"""The backward pass: the chain rule, applied once per edge, from the loss to the leaves.

1. Count, for every node reachable from the root, how many of its outputs' consumers
   are in the graph (an iterative walk: no recursion, so any depth works).
2. Start from the root with the seed gradient. Take a node whose gradient is complete
   (all its consumers have sent theirs), run its tensor hooks, and call its ``vjp`` to
   get one gradient per input. Send each to the input's node, summing where paths meet
   (that sum is the chain rule's "sum over paths"), or, for a leaf, collect it.
3. Free each node's saved arrays once used, unless ``retain_graph``.
4. Finally run the leaves' hooks and accumulate into ``.grad`` (summing over calls, as
   L = sum of l^n requires when each l^n is backpropagated on its own). A leaf with
   post-accumulate-grad hooks is accumulated as soon as its last edge has sent its
   gradient, and its hooks run then, while the walk goes on (graph/accumulate.py);
   callbacks queued during the pass run after it.

The engine knows nothing about any particular op: only ``Node``'s interface.
"""

from __future__ import annotations

import numpy as np

from chainrule import _backend as B
from chainrule.autograd.on_tensors import vjp_on_tensors
from chainrule.errors import BackwardError
from chainrule.graph import accumulate, anomaly, grad_mode, trace
from chainrule.graph.node import Node
from chainrule.graph.node import clock as write_clock
from chainrule.tensor import Tensor, _wrap, register_engine


def backward(root: Tensor, gradient=None, retain_graph=None, create_graph=False) -> None:
    """``root.backward(...)``: accumulate d root / d leaf into every leaf's ``.grad``."""
    seed = _seed(root, gradient, create_graph, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    run(root, seed, retain_graph=retain_graph, create_graph=create_graph)


def grad(outputs: Tensor, inputs, gradient=None, retain_graph=None, create_graph=False,
         materialize: bool = True):
    """d outputs / d inputs, returned (not accumulated into ``.grad``): a tuple, one per input.

    An input that the output does not depend on gets a zero gradient (None when not
    ``materialize``).
    """
    seed = _seed(outputs, gradient, create_graph, "grad")
    if retain_graph is None:
        retain_graph = create_graph
    inputs = tuple(inputs)
    for t in inputs:
        if not isinstance(t, Tensor) or not t._rg:
            raise BackwardError(
                "grad: every input must be a tensor that requires grad. help: create it with "
                "requires_grad=True"
            )
    captured = run(outputs, seed, retain_graph, create_graph, capture=inputs)
    result = []
    for t in inputs:
        g = captured.get(id(t) if t._node is None else t._node)
        if g is None:
            if not materialize:
                result.append(None)
                continue
            g = B.full(t.data.shape, 0, t.data)
        result.append(g if isinstance(g, Tensor) else _wrap(g))
    return tuple(result)


def _seed(root: Tensor, gradient, create_graph: bool, what: str):
    if not isinstance(root, Tensor):
        raise TypeError(f"{what}: expected a Tensor, got {type(root).__name__}")
    if not root._rg:
        raise BackwardError(
            f"{what}: this tensor does not require grad and has no grad_fn, so there is "
            "nothing to differentiate. help: create the inputs with requires_grad=True and "
            "do not compute the loss under cr.no_grad()"
        )
    if gradient is None:
        if B.size(root.data) != 1:
            raise BackwardError(
                f"{what}: a tensor of shape {root.shape} is not a scalar, so the gradient "
                "seed is ambiguous. help: reduce it first (loss.sum() or loss.mean()), or "
                f"pass gradient= of shape {root.shape}"
            )
        seed = B.full(root.shape, 1, root.data)
    else:
        seed = gradient.data if isinstance(gradient, Tensor) else B.asarray(gradient)
        if type(root.data) is not type(seed):  # a NumPy seed moves, as a constant does
            seed = B.common([root.data, seed], what)[2][1]
        if not B.is_number_dtype(seed.dtype):
            raise TypeError(
                f"{what}: gradient must be a tensor or array of numbers, got "
                f"{type(gradient).__name__} of dtype {seed.dtype}. help: pass a tensor of "
                f"the output's shape {root.shape}, e.g. cr.ones_like(out)"
            )
        if seed.shape != root.shape:
            raise BackwardError(
                f"{what}: gradient has shape {seed.shape} but the tensor has shape "
                f"{root.shape}. help: the gradient seed must have exactly the tensor's shape"
            )
        if seed.dtype != root.dtype:
            seed = B.astype(seed, root.dtype)
    if create_graph:
        return gradient if isinstance(gradient, Tensor) and gradient.dtype == root.dtype \
            else _wrap(seed)
    return seed


def _dependencies(root: Node) -> dict:
    """For every node reachable from ``root``: how many consumers will send it a gradient."""
    deps = {root: 0}
    stack = [root]
    while stack:
        node = stack.pop()
        for p in node.parents:
            if isinstance(p, Node):
                if p in deps:
                    deps[p] += 1
                else:
                    deps[p] = 1
                    stack.append(p)
    return deps


def run(root: Tensor, seed, retain_graph: bool, create_graph: bool, capture=None):
    """Walk the graph below ``root`` with ``seed`` = d out / d root.

    With ``capture`` (a tuple of tensors), return their gradients instead of accumulating
    into any ``.grad``: a dict keyed by ``id(t)`` for a leaf and by its node otherwise.
    Then the callbacks that hooks queued during the pass (``accumulate.queue_callback``).
    """
    rec = trace.recorder()
    # cr.compile is recording: it keeps the pass's log (each vjp, sum, cast and leaf
    # accumulation, with its arrays), which a replay then runs as a flat list
    log = None if rec is None else rec.backward(root, seed, retain_graph, create_graph,
                                                capture)
    queued = accumulate.open_pass()
    try:
        out = _run(root, seed, retain_graph, create_graph, capture, log)
    finally:
        accumulate.close_pass()
    for callback in queued:
        callback()
    return out


def _run(root: Tensor, seed, retain_graph: bool, create_graph: bool, capture, log=None):
    with grad_mode.set_grad_enabled(create_graph):
        leaf_grads: dict[int, list] = {}
        captured = None
        wanted_leaves = None
        if capture is not None:
            captured = {t._node: None for t in capture if t._node is not None}
            wanted_leaves = {id(t) for t in capture if t._node is None}
        if not create_graph:
            leaf_grads[None] = {id(seed)}  # the caller's seed array is never owned
        if root._node is None:
            _collect_leaf(leaf_grads, root, seed)
        else:
            _walk(root._node, seed, leaf_grads, retain_graph, create_graph, captured, log,
                  wanted_leaves)
        if capture is not None:
            leaf_grads.pop(None, None)
            wanted = {id(t) for t in capture if t._node is None}
            out = {k: _run_hooks(t._hooks, g, create_graph) if t._hooks else g
                   for k, (t, g, _) in leaf_grads.items() if k in wanted}
            out.update((node, g) for node, g in captured.items() if g is not None)
            return out
        leaf_grads.pop(None, None)
        for leaf, g, owned in leaf_grads.values():
            if not leaf._rg:
                continue  # frozen after the forward (requires_grad_(False)): no .grad, as PyTorch
            if leaf._hooks:
                g = _run_hooks(leaf._hooks, g, create_graph)
                owned = False
            if log is not None:
                log.append(("leaf", leaf, g, owned))
            _accumulate(leaf, g, create_graph, owned)
            if accumulate.registry:  # a leaf as the root itself: its hooks run here
                for hook in list(accumulate.hooks_of(leaf)):
                    hook(leaf)
    return None


def _needed(deps: dict, captured: dict, wanted_leaves: set) -> tuple:
    """For ``grad`` (gradients of some tensors only): the nodes on a path to one of them,
    each with the number of such consumers, and the captured nodes with nothing wanted
    below (their vjp need not run). Without this a gradient at an inner tensor (fused
    ops' composed vjp, under create_graph) would walk the whole graph below it."""
    consumers: dict = {}
    targets = [n for n in deps if n in captured]
    for node in deps:
        for p in node.parents:
            if isinstance(p, Node):
                consumers.setdefault(p, []).append(node)
            elif p is not None and id(p) in wanted_leaves:
                targets.append(node)
    needed = set(targets)
    stack = list(needed)
    while stack:
        for c in consumers.get(stack.pop(), ()):
            if c not in needed:
                needed.add(c)
                stack.append(c)
    counts = {n: sum(1 for c in consumers.get(n, ()) if c in needed) for n in needed}
    ends = {n for n in captured if n in needed and not any(
        (p in needed) if isinstance(p, Node) else (p is not None and id(p) in wanted_leaves)
        for p in n.parents)}
    return counts, ends


def _walk(root: Node, seed, leaf_grads: dict, retain_graph: bool, create_graph: bool,
          captured: dict | None = None, log: list | None = None, wanted_leaves=None):
    deps = _dependencies(root)
    ends = ()
    if captured is not None and wanted_leaves is not None:
        deps, ends = _needed(deps, captured, wanted_leaves)
        if root not in deps:
            return  # nothing wanted below the root: every gradient is zero
    anomaly_on = anomaly.state.enabled
    # leaves with post-accumulate hooks: how many gradients each still waits for
    waiting = _leaf_counts(deps) if accumulate.registry and captured is None else None
    ready = [(root, seed)]  # nodes whose gradient is complete, with that gradient
    pending = {}  # partial sums for nodes still waiting for some of their consumers
    # Hot loop (one pass per node): locals and inlined checks, measured to matter on
    # small graphs, where this loop costs more than the arithmetic.
    pop, push = ready.pop, ready.append
    while ready:
        node, g = pop()
        if node.released:
            raise BackwardError(
                f"backward: the graph through {node.name} was already freed by an earlier "
                "backward(). help: pass retain_graph=True to the first backward() if you need "
                "to run backward through the same graph again"
            )
        if node.hooks:
            g = _run_hooks(node.hooks, g, create_graph)
        if node.retained is not None and captured is None:
            t = node.retained()
            if t is not None:
                _accumulate(t, g, create_graph)
        if captured and node in captured:
            captured[node] = g
            if node in ends:  # nothing wanted below it
                if not retain_graph:
                    node.release()
                continue
        if node.counters is not None and node.clock_at != write_clock[0]:
            node.check_versions()  # something was written in place since node was recorded
        if not create_graph:
            grads = node.vjp(g) if node.xp is np else vjp_on_tensors(node, g)
        elif node.composed is None:
            grads = node.vjp_recorded(g, _wrap)
        else:
            grads = _vjp_composed(node, g)
        if type(grads) is not tuple:
            grads = (grads,)
        if log is not None:
            log.append(("vjp", node, g, grads))
        if anomaly_on:
            anomaly.check_backward(node, g, grads)
        if not retain_graph:
            node.release()
        for p, gp in zip(node.parents, grads):
            if p is None or gp is None:
                continue
            if type(p) is Tensor or not isinstance(p, Node):  # a leaf (or a subclass: Parameter)
                if gp.shape != p.data.shape or gp.dtype != p.data.dtype:
                    _check_leaf_shape(node, p, gp.shape)
                    gp = _conform(gp, p.data.shape, p.data.dtype, node, log)
                _collect_leaf(leaf_grads, p, gp, log)
                if waiting and id(p) in waiting:
                    _finish_leaf(p, leaf_grads, waiting, create_graph)
                continue
            left = deps.get(p)
            if left is None:
                continue  # leads to no wanted gradient (grad of some tensors only)
            if gp.shape != p.out_shape or gp.dtype != p.out_dtype:
                gp = _conform(gp, p.out_shape, p.out_dtype, node, log)
            if left == 1:  # the last consumer: p's gradient is complete
                if p in pending:
                    gp = _sum(pending.pop(p), gp, log) if log is not None else \
                        pending.pop(p) + gp
                push((p, gp))
            else:
                deps[p] = left - 1
                if p in pending:
                    pending[p] = _sum(pending[p], gp, log) if log is not None else \
                        pending[p] + gp
                else:
                    pending[p] = gp


def _leaf_counts(deps: dict) -> dict:
    """id(leaf) -> the number of edges that send it a gradient, for every leaf reachable
    that has post-accumulate-grad hooks."""
    counts: dict = {}
    hooked = accumulate.registry
    for node in deps:
        for p in node.parents:
            if p is not None and not isinstance(p, Node) and id(p) in hooked \
                    and accumulate.hooks_of(p):
                counts[id(p)] = counts.get(id(p), 0) + 1
    return counts


def _finish_leaf(leaf: Tensor, leaf_grads: dict, waiting: dict, create_graph: bool) -> None:
    """Once ``leaf``'s last gradient of the pass has arrived: run its hooks, accumulate, and
    run its post-accumulate hooks now (the final loop in ``_run`` then skips it)."""
    key = id(leaf)
    waiting[key] -= 1
    if waiting[key]:
        return
    _, g, owned = leaf_grads.pop(key)
    if not leaf._rg:
        return  # frozen after the forward: no .grad, as in the final loop
    if leaf._hooks:
        g = _run_hooks(leaf._hooks, g, create_graph)
        owned = False
    _accumulate(leaf, g, create_graph, owned)
    for hook in list(accumulate.hooks_of(leaf)):
        hook(leaf)


def _vjp_composed(node: Node, g) -> tuple:
    """Under create_graph, the vjp of a fused op that uses derived arrays: differentiate its
    composed form (its output written with chainrule ops), recorded, at the saved inputs."""
    inputs = []
    for i, edge in enumerate(node.parents):
        value = node.saved_input(i)
        if edge is None:  # a constant input (that may carry a tangent: forward mode)
            value = node.dual_inputs.get(i, value) if node.dual_inputs else value
            if node.xp is not np and hasattr(value, "shape") and not isinstance(value, Tensor):
                value = _wrap(value)  # another library's arrays have no NumPy methods
            inputs.append(value)
        elif isinstance(edge, Node):
            inputs.append(Node.stand_in(value, edge, _wrap))
        else:
            inputs.append(edge)  # a leaf: the tensor itself, so its gradient is reached
    wanted = [x for x, edge in zip(inputs, node.parents) if edge is not None]
    with grad_mode.enable_grad():
        y = node.composed(*inputs)
    grads = iter(grad(y, wanted, gradient=g, create_graph=True))
    return tuple(next(grads) if edge is not None else None for edge in node.parents)


def _check_leaf_shape(node, leaf, shape) -> None:
    """A leaf whose ``.data`` was replaced by an array of another shape since ``node`` used it."""
    recorded = [r for e, r in zip(node.parents, node.leaves or ()) if e is leaf and r]
    if shape != leaf.data.shape and shape in recorded:
        raise BackwardError(
            f"backward: a leaf tensor had shape {shape} when {node.name} used it and has "
            f"shape {leaf.data.shape} now: its .data was replaced after the forward pass, so "
            "its gradient no longer fits. help: change parameters in place (under "
            "cr.no_grad()) or run the forward pass again after replacing them"
        )


def _sum(a, b, log):
    s = a + b
    if log is not None:
        log.append(("add", a, b, s))
    return s


def _conform(g, shape, dtype, node, log=None):
    if g.shape != shape:
        raise BackwardError(
            f"backward: {node.name} produced a gradient of shape {g.shape} for an input of "
            f"shape {shape}. This is a bug in that op's vjp; please report it"
        )
    cast = B.astype(g, dtype)
    if log is not None:
        log.append(("cast", g, cast, dtype))
    return cast


def _collect_leaf(leaf_grads: dict, leaf: Tensor, g, log=None) -> None:
    """Sum the gradients reaching ``leaf`` in this pass; [leaf, sum, owned] per leaf.

    ``owned`` says the sum is an array nobody else holds, so it can become ``.grad``
    without a copy: a fresh, writeable array (no view, no broadcast) not already
    handed to another leaf (an ``add`` passes the same g to both inputs).
    """
    key = id(leaf)
    entry = leaf_grads.get(key)
    if entry is None:
        owned = type(g) is np.ndarray and g.base is None and g.flags.writeable
        if owned:
            given = leaf_grads.setdefault(None, set())
            owned = id(g) not in given
            given.add(id(g))
        leaf_grads[key] = [leaf, g, owned]
    else:
        entry[1] = _sum(entry[1], g, log)
        entry[2] = True


def _run_hooks(hooks, g, create_graph: bool):
    for hook in list(hooks):
        out = hook(g if create_graph else _wrap(g))
        if out is not None:
            if isinstance(out, Tensor):
                out = out if create_graph else out.data
            if out.shape != g.shape:
                raise BackwardError(
                    f"hook {getattr(hook, '__name__', hook)!r} returned a gradient of shape "
                    f"{out.shape}, expected {g.shape}"
                )
            g = out
    return g


def _accumulate(t: Tensor, g, create_graph: bool, owned: bool = False) -> None:
    """t.grad += g, in place when ``t.grad`` is an array of ours; stores a copy of g unless
    ``owned`` says nobody else holds it."""
    if create_graph:
        g = g if isinstance(g, Tensor) else _wrap(g)
        t._grad = g if t._grad is None else t._grad + g
        return
    grad = t._grad  # not .grad: the engine's own writes are no step's `p.grad = ...`
    if grad is None:
        if not owned or g.dtype != t.data.dtype:
            g = np.array(g, dtype=t.data.dtype, copy=True) \
                if isinstance(g, (np.ndarray, np.generic)) else \
                B.astype(g, t.data.dtype)  # astype copies: the grad owns its memory
        t._grad = _wrap(g)
    elif type(g) is np.ndarray and grad.data.flags.writeable and grad.data.shape == g.shape:
        grad.data += g
    else:
        t._grad = _wrap(grad.data + g)


register_engine(backward)  # Tensor.backward calls it (tensor.py sits a floor below)
