"""Optimizers: update rules step for step as PyTorch's, on the parameters' data in place.

Each ``step()`` reads ``p.grad`` (skipping parameters without one), updates ``p.data``
with in-place NumPy operations and bumps the parameter's version, so a backward pass
through a graph recorded before the step refuses to run (its saved weights are stale).
"""

from __future__ import annotations

import math

import numpy as np

from chainrule.tensor import Tensor


class Optimizer:
    defaults: dict = {}

    def __init__(self, params, **hyper):
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = []
        for group in groups:
            group = {**self.defaults, **hyper, **group}
            group["params"] = list(group["params"])
            for p in group["params"]:
                if not isinstance(p, Tensor) or not p.requires_grad:
                    raise TypeError(f"{type(self).__name__}: every parameter must be a tensor "
                                    "that requires grad")
            self._check(group)
            self.param_groups.append(group)
        self.state: dict[int, dict] = {}  # by parameter index across groups

    def _check(self, group: dict) -> None:
        if group["lr"] is None or group["lr"] < 0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {group['lr']}")
        if group.get("weight_decay", 0) < 0:
            raise ValueError(f"{type(self).__name__}: weight_decay must be >= 0")

    def _indexed(self):
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                yield i, p, group
                i += 1

    def zero_grad(self) -> None:
        for _, p, _ in self._indexed():
            p.grad = None

    def step(self) -> None:
        for i, p, group in self._indexed():
            if p.grad is None:
                continue
            g = p.grad.data
            if g.dtype != p.data.dtype:
                g = g.astype(p.data.dtype)
            self._update(p.data, g, self.state.setdefault(i, {}), group)
            p.bump_version()

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError  # pragma: no cover

    def state_dict(self) -> dict:
        """{'state': {index: {...}}, 'param_groups': [{hyper-parameters, 'params': [index]}]}"""
        groups, start = [], 0
        for group in self.param_groups:
            n = len(group["params"])
            groups.append({**{k: v for k, v in group.items() if k != "params"},
                           "params": list(range(start, start + n))})
            start += n
        state = {i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                 for i, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(a["params"]) != len(b["params"]) for a, b in zip(groups, self.param_groups)):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved parameter "
                             "groups do not match this optimizer's")
        for saved, group in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = tuple(v) if isinstance(v, list) else v
        self.state = {}
        for i, s in state_dict["state"].items():
            self.state[int(i)] = {k: (np.array(v.data if isinstance(v, Tensor) else v)
                                      if not isinstance(v, (int, float)) else v)
                                  for k, v in s.items()}


class SGD(Optimizer):
    """g += wd * w;  b = momentum * b + (1 - dampening) * g (b = g at first);
    g = g + momentum * b (nesterov) or b;  w -= lr * g"""

    defaults = {"momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False}

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening 0")
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov)

    def _update(self, w, g, state, group):
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        if wd:
            g = g + wd * w
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= mu
                buf += (1 - group["dampening"]) * g
            g = g + mu * buf if group["nesterov"] else buf
        w -= lr * g


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)   (g += wd * w first)"""

    defaults = {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {betas}")
        super().__init__(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)

    def _update(self, w, g, state, group):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if wd:
            if self.decoupled:
                w *= 1 - lr * wd
            else:
                g = g + wd * w
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(w)
            state["exp_avg_sq"] = np.zeros_like(w)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        step_size = lr / (1 - b1**t)
        denom = np.sqrt(v) / math.sqrt(1 - b2**t)
        denom += eps
        w -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay: w *= 1 - lr * wd, then the Adam step."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


class RMSprop(Optimizer):
    """s = alpha s + (1 - alpha) g^2;  d = g / (sqrt(s) + eps);
    with momentum: b = momentum b + d, w -= lr b; else w -= lr d   (g += wd * w first)"""

    defaults = {"alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0}

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum)

    def _update(self, w, g, state, group):
        lr, alpha, eps, wd, mu = (group[k] for k in ("lr", "alpha", "eps", "weight_decay",
                                                     "momentum"))
        if wd:
            g = g + wd * w
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(w)
            if mu:
                state["momentum_buffer"] = np.zeros_like(w)
        state["step"] += 1
        s = state["square_avg"]
        s *= alpha
        s += (1 - alpha) * (g * g)
        avg = np.sqrt(s)
        avg += eps
        if mu:
            buf = state["momentum_buffer"]
            buf *= mu
            buf += g / avg
            w -= lr * buf
        else:
            w -= lr * (g / avg)
