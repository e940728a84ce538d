"""trace: run one gradient step on the real engine and record every number on the way.

The observer never differentiates anything itself. For each sample n it builds the
network with chainrule ops, registers a hook on every pre-activation z and activation a
(``register_hook`` is called with dl/dz and dl/da during ``backward``) and runs
``l^n.backward()``. From those readings the lecture's decomposition follows:

    dl^n/dw_ji = dz_j/dw_ji * dl^n/dz_j = a_i * dl^n/dz_j      (a_i = x_i in layer 0)
    dl^n/db_j  = 1 * dl^n/dz_j
    dL/dw      = sum_n dl^n/dw                                    (L = sum_n l^n)

and three independent checks of it:

- ``autograd``: one backward pass of L over all samples at once, read from ``w.grad``;
- ``numeric``: central finite differences (L(w + eps) - L(w - eps)) / (2 eps);
- the amplifier: dl/dz = sigma'(z) * dl/da, with sigma'(z) from the forward values.

Then the gradient-descent step w' = w - lr * dL/dw and the loss L' recomputed with w'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chainrule.errors import BackwardError
from chainrule.explain import network as net
from chainrule.explain.examples import EXAMPLES, example
from chainrule.explain.record import BIAS, NeuronRecord, Record, WeightRecord
from chainrule.explain.spec import Spec, SpecError, check_targets, load_spec, parse_spec


def as_spec(network) -> Spec:
    """A ``Spec`` from a Spec, a built-in example's name, a network-file path, or a dict."""
    if isinstance(network, Spec):
        return network
    if isinstance(network, dict):
        return parse_spec(network)
    if isinstance(network, (str, Path)):
        if isinstance(network, str) and network in EXAMPLES:
            return example(network)
        return load_spec(network)
    raise TypeError(
        f"trace: expected a Spec, an example name, a file path or a dict, got "
        f"{type(network).__name__}"
    )


def trace(network, eps: float = 1e-6, focus: tuple[int, int] | None = None) -> Record:
    """Explain one gradient step of ``network`` (see ``as_spec`` for what it may be).

    Returns the ``Record``; raises ``SpecError`` for a bad network file or when the
    numbers overflow (a non-finite z, a, loss or gradient names its place).

    ``focus=(layer, index)`` records (and finite-differences) only what one neuron needs:
    its incoming weights and bias, and its outgoing weights (layer + 1, ``from`` = index),
    whose values the backward pass's case 2 sums. Every neuron's z, a and dl/dz are still
    recorded, and the gradient-descent step still updates every parameter. This is what
    makes a trained model explainable: a finite difference for each of its parameters
    would cost two forward passes each.
    """
    spec = as_spec(network)
    # A Spec built in code skipped parse_spec: its targets must make the printed formulas
    # true too.
    check_targets(spec.loss, spec.targets, spec.several)
    if focus is not None:
        layer, index = focus
        if not (0 <= layer < len(spec.layers) and 0 <= index < spec.layers[layer].size):
            raise SpecError("focus", f"no neuron {index} in layer {layer} (layer sizes "
                            f"{', '.join(str(s) for s in spec.sizes[1:])}, counted from 0)")
        focus = (int(layer), int(index))
    with np.errstate(all="ignore"):  # overflow is reported by _finite, with its place
        return _trace(spec, eps, focus)


def _entries(spec: Spec, focus: tuple[int, int] | None) -> list[tuple[int, int, int | str]]:
    """(layer, to, from) of every weight and bias to record, in the record's order."""
    if focus is None:
        return [(k, j, i) for k, layer in enumerate(spec.layers) for j in range(layer.size)
                for i in [*range(layer.weight.shape[1]), BIAS]]
    k, j = focus
    out = [(k, j, i) for i in [*range(spec.layers[k].weight.shape[1]), BIAS]]
    if k + 1 < len(spec.layers):
        out += [(k + 1, m, j) for m in range(spec.layers[k + 1].size)]
    return out


def _trace(spec: Spec, eps: float, focus: tuple[int, int] | None = None) -> Record:
    """Record one gradient step of ``spec``, in the module docstring's order:

    1. each sample's forward and backward pass, watched through hooks on z and a;
    2. the engine's gradient of L, in one backward pass over all samples;
    3. the neurons: z, a, sigma'(z), dl/da, dl/dz, and the amplifier check;
    4. the weights: dz/dw * dl/dz summed over the samples, against the engine's gradient
       and finite differences, and the gradient-descent step w - lr * dL/dw;
    5. the loss after the step.
    """
    seen, summed = _watch_each_sample(spec)
    autograd = _engine_gradient(spec)
    neurons, outputs, chain_check = _neuron_records(spec, seen)
    entries = _entries(spec, focus)
    numeric = _finite_differences(spec, [layer.weight for layer in spec.layers],
                                  [layer.bias for layer in spec.layers], eps, entries)
    products = _products(spec, seen)
    per_sample_check = _largest_gap(summed, autograd)
    new_weights = [layer.weight - spec.lr * p.grad_w for layer, p in zip(spec.layers, products)]
    new_biases = [layer.bias - spec.lr * p.grad_b for layer, p in zip(spec.layers, products)]
    weights = _weight_records(spec, entries, products, autograd, numeric, new_weights,
                              new_biases)
    losses_after, loss_after = _losses_after(spec, new_weights, new_biases)
    losses = tuple(sample.loss for sample in seen)
    return Record(
        name=spec.name, description=spec.description, sizes=spec.sizes,
        activations=tuple(layer.activation for layer in spec.layers),
        loss_name=spec.loss, lr=spec.lr, inputs=spec.inputs.copy(),
        targets=spec.targets.copy(), outputs=outputs, losses=losses,
        loss=float(sum(losses)), losses_after=losses_after, loss_after=loss_after,
        neurons=neurons, weights=weights, eps=eps, several=spec.several,
        chain_rule_check=chain_check, per_sample_check=per_sample_check, meta=dict(spec.meta),
        focus=focus,
    )


@dataclass
class _Seen:
    """What the hooks saw of one sample: its loss l^n, and per (kind, layer), kind "z" or
    "a", the forward value and the gradient dl^n/d(it)."""

    loss: float
    values: dict = field(default_factory=dict)
    grads: dict = field(default_factory=dict)


@dataclass
class _Products:
    """One layer's dl/dw = dz/dw * dl/dz: per sample the inputs a (= dz/dw) and dl/dz, and
    their products summed over the samples (dL/dw, dL/db)."""

    a_prev: list
    dl_dz: list
    grad_w: np.ndarray
    grad_b: np.ndarray


def _watch_each_sample(spec: Spec) -> tuple[list[_Seen], list[tuple]]:
    """One forward and one backward pass per sample, watched through hooks on z and a.

    Returns what was seen, and the leaf gradients the engine accumulated over the samples'
    backward passes (sum_n dl^n/dw, per layer (weight, bias)).
    """
    params = net.parameters([layer.weight for layer in spec.layers],
                            [layer.bias for layer in spec.layers])
    seen: list[_Seen] = []
    for n in range(spec.n_samples):
        values: dict = {}
        grads: dict = {}

        def watch(kind, k, t, values=values, grads=grads):
            values[kind, k] = t.numpy().copy()
            t.register_hook(lambda g, key=(kind, k): grads.__setitem__(key, g.numpy().copy()))

        l = net.forward_sample(spec, params, spec.inputs[n], spec.targets[n], watch)
        loss = float(l.item())
        _finite(loss, "the loss", spec, n)
        l.backward()  # leaf grads accumulate over samples: sum_n dl^n/dw
        seen.append(_Seen(loss, values, grads))
    return seen, [(w.grad.numpy().copy(), b.grad.numpy().copy()) for w, b in params]


def _engine_gradient(spec: Spec) -> list[tuple]:
    """The engine's gradient of L in one backward pass over all samples, per layer
    (weight, bias)."""
    params = net.parameters([layer.weight for layer in spec.layers],
                            [layer.bias for layer in spec.layers])
    net.total_loss(spec, params).backward()
    return [(w.grad.numpy().copy(), b.grad.numpy().copy()) for w, b in params]


def _neuron_records(spec: Spec, seen: list[_Seen]):
    """Every neuron's forward value, amplifier and backward value, per sample; the outputs;
    and the largest gap between dl/dz and sigma'(z) * dl/da (the amplifier check)."""
    neurons = []
    chain_check = 0.0
    outputs = np.zeros_like(spec.targets)
    for n, obs in enumerate(seen):
        for k, layer in enumerate(spec.layers):
            z, a = obs.values["z", k], obs.values["a", k]
            dl_dz, dl_da = obs.grads.get(("z", k)), obs.grads.get(("a", k))
            if dl_dz is None or dl_da is None:  # pragma: no cover - an engine bug
                raise BackwardError(
                    f"trace: no gradient reached the hooks of layer {k}; this is an engine "
                    "bug, please report it"
                )
            slope = net.sigma_prime(z, a, layer.activation)
            if slope is None:
                # softmax + cross-entropy: dl/dz = y sum(t) - t, and sum(t) = 1 (checked by
                # check_targets), so this checks the printed formula dl/dz = y - t itself.
                expected = a - spec.targets[n]
            else:
                expected = slope * dl_da
            chain_check = max(chain_check, float(np.max(np.abs(expected - dl_dz))))
            for j in range(layer.size):
                rec = NeuronRecord(
                    layer=k, index=j, sample=n, z=float(z[j]), a=float(a[j]),
                    sigma_prime=None if slope is None else float(slope[j]),
                    dl_da=float(dl_da[j]), dl_dz=float(dl_dz[j]),
                )
                for name in ("z", "a", "dl_da", "dl_dz"):
                    _finite(getattr(rec, name), f"{name} of neuron {j}", spec, n, k)
                neurons.append(rec)
        outputs[n] = obs.values["a", len(spec.layers) - 1]
    return tuple(neurons), outputs, chain_check


def _products(spec: Spec, seen: list[_Seen]) -> list[_Products]:
    """Per layer, the products dz/dw * dl/dz of every sample, and their sums over samples."""
    out = []
    for k in range(len(spec.layers)):
        a_prev = [spec.inputs[n] if k == 0 else obs.values["a", k - 1]
                  for n, obs in enumerate(seen)]
        dl_dz = [obs.grads["z", k] for obs in seen]
        grad_w = sum(np.outer(g, x) for g, x in zip(dl_dz, a_prev))
        out.append(_Products(a_prev, dl_dz, grad_w, sum(dl_dz)))
    return out


def _largest_gap(summed: list[tuple], autograd: list[tuple]) -> float:
    """The largest gap between the per-sample gradients summed and the engine's gradient
    of L in one pass, over every weight and bias."""
    gap = 0.0
    for (w_sum, b_sum), (w_all, b_all) in zip(summed, autograd):
        gap = max(gap, float(np.max(np.abs(w_sum - w_all))),
                  float(np.max(np.abs(b_sum - b_all))))
    return gap


def _weight_records(spec: Spec, entries, products: list[_Products], autograd, numeric,
                    new_weights, new_biases) -> tuple[WeightRecord, ...]:
    """One record per entry: dz/dw and dl/dz per sample, their product summed (dL/dw)
    against the engine's gradient and finite differences, and the value after the step."""
    records = []
    for k, j, i in entries:
        p = products[k]
        dl_dz = tuple(float(g[j]) for g in p.dl_dz)
        if i == BIAS:
            records.append(WeightRecord(
                layer=k, to=j, from_=BIAS, value=float(spec.layers[k].bias[j]),
                dz_dw=(1.0,) * spec.n_samples, dl_dz=dl_dz,
                dl_dw=float(p.grad_b[j]), autograd=float(autograd[k][1][j]),
                numeric=float(numeric[k, j, i]), updated=float(new_biases[k][j]),
            ))
        else:
            records.append(WeightRecord(
                layer=k, to=j, from_=i, value=float(spec.layers[k].weight[j, i]),
                dz_dw=tuple(float(x[i]) for x in p.a_prev), dl_dz=dl_dz,
                dl_dw=float(p.grad_w[j, i]), autograd=float(autograd[k][0][j, i]),
                numeric=float(numeric[k, j, i]), updated=float(new_weights[k][j, i]),
            ))
    for w in records:
        where = f"weight {w.from_} -> {w.to}"
        for name in ("dl_dw", "autograd", "updated"):
            _finite(getattr(w, name), f"{name} of {where}", spec, None, w.layer)
    return tuple(records)


def _losses_after(spec: Spec, new_weights, new_biases) -> tuple[tuple[float, ...], float]:
    """The loss after the step, per sample and in total, with fresh tensors holding the
    updated weights."""
    losses_after = []
    for n in range(spec.n_samples):
        one = Spec(spec.layers, spec.inputs[n:n + 1], spec.targets[n:n + 1], spec.loss)
        losses_after.append(net.total_loss_value(one, new_weights, new_biases))
    loss_after = net.total_loss_value(spec, new_weights, new_biases)
    _finite(loss_after, "the loss after the step", spec, None)
    return tuple(losses_after), loss_after


def _finite_differences(spec: Spec, weights, biases, eps: float, entries) -> dict:
    """dL/dw ~ (L(w + eps) - L(w - eps)) / (2 eps) for each (layer, to, from) in ``entries``."""
    out = {}
    for k, j, i in entries:
        values = []
        for step in (eps, -eps):
            if i == BIAS:
                moved = [b.copy() if m == k else b for m, b in enumerate(biases)]
                moved[k][j] += step
                values.append(net.total_loss_value(spec, weights, moved))
            else:
                moved = [w.copy() if m == k else w for m, w in enumerate(weights)]
                moved[k][j, i] += step
                values.append(net.total_loss_value(spec, moved, biases))
        out[k, j, i] = (values[0] - values[1]) / (2 * eps)
    return out


def _finite(value: float, what: str, spec: Spec, sample: int | None,
            layer: int | None = None) -> None:
    """Raise SpecError naming the place if the numbers overflowed."""
    if np.isfinite(value):
        return
    field = f"layers[{layer}]" if layer is not None else "layers"
    where = f" for sample {sample}" if sample is not None and spec.several else ""
    raise SpecError(
        field, f"{what} is {value}{where}: the numbers overflow; use smaller weights or inputs"
    )
