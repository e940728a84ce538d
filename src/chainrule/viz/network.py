"""The graph of one sample through an explain network, every tensor named as in the lecture.

x, then per layer k: W{k}, b{k}, z{k} = W{k} x + b{k}, a{k} = sigma(z{k}); then l.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule.explain import network as net
from chainrule.explain.spec import Spec
from chainrule.viz.graph import Graph, build_graph, watch


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
