"""The graph of one sample through a network, every tensor named.

``network_graph``: an explain network, named as in the lecture: x, then per layer k:
W{k}, b{k}, z{k} = W{k} x + b{k}, a{k} = sigma(z{k}); then l.

``model_graph``: a trained ``nn.Sequential`` (a checkpoint), named after its modules:
the parameters by their state-dict names (``model.1.weight``), each module's output by
its path (``model.1``), the loss l = cross-entropy with the true class.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule.explain import network as net
from chainrule.explain.spec import Spec
from chainrule.viz.capture import watch
from chainrule.viz.graph import Graph, build_graph


def network_graph(spec: Spec, sample: int = 0, backward: bool = True) -> Graph:
    """Build, run (forward and, if ``backward``, backward) and record one sample's graph."""
    params = net.parameters([layer.weight for layer in spec.layers],
                            [layer.bias for layer in spec.layers])
    # The input requires grad only so that the graph records it (with dl/dx).
    x = cr.tensor(np.array(spec.inputs[sample], dtype=np.float64), requires_grad=True)
    names = {"x": x}
    for k, (w, b) in enumerate(params):
        names[f"W{k}"], names[f"b{k}"] = w, b

    def name(kind, k, t):
        names[f"{kind}{k}"] = t

    l = net.forward_sample(spec, params, x, spec.targets[sample], name)
    names["l"] = l
    if backward:
        watch(l)
        l.backward()
    return build_graph(l, names)


def model_graph(model, x: np.ndarray, target: int, backward: bool = True) -> Graph:
    """One sample through an ``nn.Sequential`` in eval mode, forward and backward, recorded.

    ``x`` is one sample (no batch axis); it is run as a batch of one. Modules that return
    their input unchanged (Flatten of a flat input, Dropout in eval mode) record no op and
    get no box.
    """
    from chainrule.nn import functional as F

    dtype = next(model.parameters()).dtype
    # The input requires grad only so that the graph records it (with dl/dx).
    xt = cr.tensor(np.asarray(x, dtype=dtype)[None], requires_grad=True)
    names = {"x": xt}
    for name, p in model.named_parameters():
        names[f"model.{name}"] = p
    h = xt
    for name, module in model.named_children():
        out = module(h)
        if out is not h:
            # "model.1 = Linear", but "model.2 (BatchNorm1d) = Add": the module's kind when
            # its last op does not say it
            kind = type(module).__name__
            op = getattr(out.grad_fn, "name", kind)
            label = f"model.{name}" if op.lower() == kind.lower() else f"model.{name} ({kind})"
            names[label] = out
        h = out
    loss = F.cross_entropy(h, np.array([int(target)]))
    names["l"] = loss
    if backward:
        watch(loss)
        loss.backward()
    return build_graph(loss, names)
