"""Optimizers: update rules step for step as PyTorch's, on the parameters' data in place.

Each ``step()`` reads ``p.grad`` (skipping parameters without one), updates ``p.data``
in place and bumps the parameter's version, so a backward pass through a graph recorded
before the step refuses to run (its saved weights are stale). NumPy parameters take
``_update`` (in-place NumPy operations); another library's (PyTorch, CuPy,
array-api-strict) take ``_update_portable``: the same arithmetic in the same order, through
the parameters' array namespace, so the same rounding (but for a library whose sqrt is
not correctly rounded: PyTorch's float32 one, docs/backends.md); its state lives in that
library.

Notation in the docstrings: w a parameter, g its gradient, lr the learning rate, wd the
weight decay, t the step count of that parameter (1 on the first step).

Speed (NumPy): an update allocates nothing per step. Intermediate results go into two work arrays
per parameter shape (``_work``), shared by the parameters of that shape since they are
updated one after the other; the optimizer state (moments, momentum buffers) is updated
in place. ``p.grad`` is read, never written.

Subnormal state: where a gradient stays zero (a dead ReLU unit, an input that is always
0), a decaying state (Adam's moments, a momentum buffer) shrinks by its factor each step
into the subnormal numbers, and stays there: 0.9 times 4 units of the last place rounds
back to 4 (5.6e-45 in float32), so it never reaches zero. x86 arithmetic on subnormals is
many times slower: the digits run's epochs went from 0.018 to 0.04 s from about epoch 20
on, with 8,000-10,000 of its first moments stuck there (docs/performance.md). Every
``FLUSH_EVERY`` steps, ``step()`` sets those entries to zero (``flush_subnormals``). Their
part in an update is below 1e-30 of a weight, under half an ulp of any weight above
1e-22, so the weights keep their bits: the digits run's 100 epochs end with the same
weights either way, and tests/optim/test_optim.py checks each optimizer.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import _backend as B
from chainrule.graph import grad_mode, trace
from chainrule.graph.node import note_write
from chainrule.tensor import Tensor

FLUSH_EVERY = 16  # steps between two flushes of subnormal state (module docstring)


def flush_subnormals(a, work=None, mask=None):
    """``a`` with its subnormal entries (0 < |x| < the smallest normal number) set to zero:
    in place for a NumPy array (``work`` and ``mask``: scratch arrays of its shape, of its
    dtype and of bool, or None to allocate them), a new array for another library's."""
    if type(a) is np.ndarray:
        small = np.abs(a, out=work)
        np.copyto(a, 0, where=np.less(small, np.finfo(a.dtype).smallest_normal, out=mask))
        return a
    xp = B.namespace(a)
    return xp.where(xp.abs(a) < xp.finfo(a.dtype).smallest_normal, xp.zeros_like(a), a)


class Optimizer:
    """Base class: parameter groups, state per parameter, zero_grad, step, state dicts.

    ``params`` is an iterable of tensors, or of dicts (parameter groups) each with a
    ``"params"`` list and any hyper-parameters that differ from the optimizer's defaults.
    """

    #: the state entries that decay where the gradient is zero (module docstring)
    decaying: tuple = ()

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self._steps = 0  # step() calls, for FLUSH_EVERY (a compiled replay counts too)
        self.param_groups: list[dict] = []
        #: state per parameter (keyed by the parameter tensor), e.g. {"step": 3, "exp_avg": ...}
        self.state: dict[Tensor, dict] = {}
        self._work: dict[tuple, np.ndarray] = {}
        if isinstance(params, Tensor):
            raise TypeError(f"{self._name}: params must be an iterable of tensors (e.g. "
                            "model.parameters()) or of dicts, got a single tensor. help: wrap "
                            "it in a list")
        params = list(params)
        if not params:
            raise ValueError(f"{self._name}: got an empty parameter list. help: pass "
                             "model.parameters() of a model that has parameters")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    def add_param_group(self, group: dict) -> None:
        """Add a group of parameters with its own hyper-parameters (others: the defaults)."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{self._name}: a parameter group is a dict with a 'params' list, "
                            f"got {type(group).__name__}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
                raise TypeError(f"{self._name}: every parameter must be a leaf tensor that "
                                "requires grad (an nn.Parameter, or cr.tensor(..., "
                                f"requires_grad=True)), got {_describe(p)}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError(f"{self._name}: a parameter appears more than once in the "
                             "parameter groups. help: give each parameter to one group only")
        unknown = sorted(set(group) - set(self.defaults) - {"params"})
        if unknown:
            raise TypeError(f"{self._name}: unknown hyper-parameter(s) {unknown} in a parameter "
                            f"group; known: {sorted(self.defaults)}")
        full = {**self.defaults, **group, "params": params}
        self._check(full)
        self.param_groups.append(full)

    def _check(self, group: dict) -> None:
        lr = group["lr"]
        if not isinstance(lr, (int, float)) or lr < 0:
            raise ValueError(f"{self._name}: lr must be a number >= 0, got {lr!r}")
        if group.get("weight_decay", 0) < 0:
            raise ValueError(f"{self._name}: weight_decay must be >= 0, got "
                             f"{group['weight_decay']}")
        if group.get("eps", 0) < 0:
            raise ValueError(f"{self._name}: eps must be >= 0, got {group['eps']}")

    def _params(self):
        for group in self.param_groups:
            for p in group["params"]:
                yield p, group

    @trace.opaque  # a compiled step replays it as one call
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None`` (or zero them in place)."""
        for p, _ in self._params():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    @trace.opaque  # a compiled step replays it as one call: the same array updates
    def step(self, closure=None):
        """One update of every parameter that has a gradient. ``closure``, if given, is
        called first (with gradients enabled) and its loss returned, as in PyTorch."""
        loss = None
        if closure is not None:
            with grad_mode.enable_grad():
                loss = closure()
        update, states = self._update, self.state
        for group in self.param_groups:  # the hot loop of a small model's step: kept lean
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                w = p.data
                g = grad.data
                if g.shape != w.shape:
                    raise ValueError(f"{self._name}.step: a parameter of shape {w.shape} has "
                                     f"a gradient of shape {g.shape}")
                if g.dtype != w.dtype:
                    g = B.astype(g, w.dtype)
                state = states.get(p)
                if state is None:
                    state = states[p] = {}
                if type(w) is np.ndarray:
                    update(w, g, state, group)
                else:  # another library's arrays: no out= buffers, the same arithmetic
                    self._update_portable(w, g, state, group)
                note_write(p._vc)  # p.bump_version()
        self._steps += 1
        if self.decaying and self._steps % FLUSH_EVERY == 0:
            self._flush_state()
        return loss

    def _flush_state(self) -> None:
        """Set every subnormal entry of the decaying state to zero (module docstring)."""
        for state in self.state.values():
            for name in self.decaying:
                a = state.get(name)
                if a is None:
                    continue
                if type(a) is np.ndarray:
                    flush_subnormals(a, self._scratch(a, 1), self._scratch(a, 0, bool))
                else:
                    state[name] = flush_subnormals(a)

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError  # pragma: no cover

    def _update_portable(self, w, g, state: dict, group: dict) -> None:
        raise NotImplementedError  # pragma: no cover

    def _scratch(self, like: np.ndarray, k: int, dtype=None) -> np.ndarray:
        """The k-th work array of ``like``'s shape and dtype, or of ``dtype`` (reused from
        step to step)."""
        dtype = like.dtype if dtype is None else np.dtype(dtype)
        key = (like.shape, dtype, k)
        buf = self._work.get(key)
        if buf is None:
            buf = self._work[key] = np.empty(like.shape, dtype=dtype)
        return buf

    def _with_weight_decay(self, w, g, wd):
        """g + wd * w (L2 regularisation), in a work array."""
        out = np.multiply(w, wd, out=self._scratch(w, 0))
        out += g
        return out

    # --- state dicts -------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """{'state': {index: {name: value}}, 'param_groups': [{hyper-parameters, 'params':
        [index, ...]}]}, parameters numbered across groups in order, as PyTorch's. Arrays
        are copies: the dict is a snapshot that later steps do not change."""
        index = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index[id(p)] = len(index)
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {}
        for p, s in self.state.items():
            if id(p) in index:
                state[index[id(p)]] = {k: (B.copy(v) if isinstance(v, np.ndarray)
                                           or B.is_foreign(v) else v)
                                       for k, v in s.items()}
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and state saved by ``state_dict()`` (possibly through
        ``cr.save``/``cr.load``) into an optimizer over the same parameters."""
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(f"{self._name}.load_state_dict: expected a dict with 'state' and "
                             "'param_groups' (from optimizer.state_dict())")
        groups = state_dict["param_groups"]
        mine = [len(g["params"]) for g in self.param_groups]
        theirs = [len(g["params"]) for g in groups]
        if mine != theirs:
            raise ValueError(f"{self._name}.load_state_dict: the saved state has parameter "
                             f"groups of sizes {theirs}, this optimizer {mine}. help: build "
                             "the optimizer over the same model (and groups) that was saved")
        params = [p for p, _ in self._params()]
        state = {}
        for i, saved in state_dict["state"].items():
            i = int(i)
            if not 0 <= i < len(params):
                raise ValueError(f"{self._name}.load_state_dict: state for parameter {i}, but "
                                 f"there are {len(params)} parameters")
            p = params[i]
            entry = {}
            for k, v in saved.items():
                if isinstance(v, Tensor):
                    v = v.data
                if isinstance(v, np.ndarray) and v.ndim > 0:
                    if v.shape != p.shape:
                        raise ValueError(f"{self._name}.load_state_dict: state {k!r} of "
                                         f"parameter {i} has shape {v.shape}, the parameter "
                                         f"{p.shape}. help: load into the same architecture")
                    v = np.array(v, dtype=B.numpy_dtype(p.dtype), order="C")  # owned
                    v = B.like(v, p.data)  # in the parameter's library
                elif k == "step":
                    v = int(np.asarray(v))
                elif isinstance(v, np.ndarray):
                    v = v.item()
                entry[k] = v
            state[p] = entry
        for saved, group in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = tuple(v) if isinstance(v, list) else v
        self.state = state
        # the flushes resume where they were for states that count their steps (Adam's,
        # RMSprop's); PyTorch's SGD state has no count, so its flushes restart
        self._steps = max((entry["step"] for entry in state.values() if "step" in entry),
                          default=0)

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        return "\n".join(lines + [")"])


def _describe(p) -> str:
    if isinstance(p, Tensor):
        what = "a non-leaf tensor" if not p.is_leaf else "a tensor without requires_grad"
        return f"{what} of shape {p.shape}"
    return type(p).__name__


class SGD(Optimizer):
    """Stochastic gradient descent, with PyTorch's momentum, dampening and Nesterov:

        g <- g + wd * w                                      (if wd)
        b <- g at t = 1, else momentum * b + (1 - dampening) * g   (if momentum)
        g <- g + momentum * b if nesterov else b             (if momentum)
        w <- w - lr * g
    """

    decaying = ("momentum_buffer",)

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        if momentum < 0:
            raise ValueError(f"SGD: momentum must be >= 0, got {momentum}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening 0, got momentum "
                             f"{momentum}, dampening {dampening}")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _update(self, w, g, state, group):
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        if wd:
            g = self._with_weight_decay(w, g, wd)
        work = self._scratch(w, 1)
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, order="C")
            else:
                buf *= mu
                damp = group["dampening"]
                if damp:
                    buf += np.multiply(g, 1 - damp, out=work)
                else:
                    buf += g
            if group["nesterov"]:
                nesterov = np.multiply(buf, mu, out=work)
                nesterov += g
                g = nesterov
            else:
                g = buf
        w -= np.multiply(g, lr, out=work)

    def _update_portable(self, w, g, state, group):
        """``_update`` in array-API arithmetic, in the same order (the same rounding)."""
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        if wd:
            g = g + w * wd
        if mu:
            buf = state.get("momentum_buffer")
            damp = group["dampening"]
            buf = B.copy(g) if buf is None else buf * mu + (g * (1 - damp) if damp else g)
            state["momentum_buffer"] = buf
            g = buf * mu + g if group["nesterov"] else buf
        w[...] = w - g * lr


class Adam(Optimizer):
    """Adam (Kingma and Ba), as PyTorch's:

        g <- g + wd * w                                    (if wd; AdamW decays w instead)
        m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
        v_max <- max(v_max, v), used for v below            (if amsgrad)
        w <- w - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    """

    decoupled = False
    decaying = ("exp_avg", "exp_avg_sq")  # amsgrad's maximum never decays

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False):
        betas = tuple(betas)
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"{type(self).__name__}: betas must be two numbers in [0, 1), "
                             f"got {betas}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad))

    def _update(self, w, g, state, group):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if wd:
            if self.decoupled:
                w *= 1 - lr * wd
            else:
                g = self._with_weight_decay(w, g, wd)
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(w, order="C")
            state["exp_avg_sq"] = np.zeros_like(w, order="C")
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(w, order="C")
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        work = self._scratch(w, 1)
        m *= b1
        m += np.multiply(g, 1 - b1, out=work)
        v *= b2
        sq = np.multiply(g, g, out=work)
        sq *= 1 - b2
        v += sq
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        denom = np.sqrt(v, out=work)
        denom /= math.sqrt(1 - b2**t)
        denom += eps
        step = np.divide(m, denom, out=work)
        step *= lr / (1 - b1**t)
        w -= step

    def _update_portable(self, w, g, state, group):
        """``_update`` in array-API arithmetic, in the same order (the same rounding)."""
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        xp = B.namespace(w)
        if wd:
            if self.decoupled:
                w[...] = w * (1 - lr * wd)
            else:
                g = g + w * wd
        if not state:
            state["step"] = 0
            for name in ("exp_avg", "exp_avg_sq") + (
                    ("max_exp_avg_sq",) if group["amsgrad"] else ()):
                state[name] = xp.zeros_like(w)
        state["step"] += 1
        t = state["step"]
        m = state["exp_avg"] = state["exp_avg"] * b1 + g * (1 - b1)
        v = state["exp_avg_sq"] = state["exp_avg_sq"] * b2 + (g * g) * (1 - b2)
        if group["amsgrad"]:
            v = state["max_exp_avg_sq"] = xp.maximum(state["max_exp_avg_sq"], v)
        denom = xp.sqrt(v) / math.sqrt(1 - b2**t) + eps
        w[...] = w - (m / denom) * (lr / (1 - b1**t))


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): first w <- w (1 - lr wd),
    then the Adam step without wd. ``weight_decay`` defaults to 1e-2, as PyTorch's."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)
