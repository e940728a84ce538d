"""Built-in networks for ``chainrule explain NAME``, written in the network-file format.

Each is a plain dict, exactly what a JSON file would hold, so ``chainrule explain --show
NAME > my.json`` gives a file to edit. Weights are round numbers, chosen so every step of
the derivation shows a value worth reading (no neuron saturated to nothing, one relu
switched off on purpose in ``mlp``).
"""

from __future__ import annotations

import copy

from chainrule.explain.spec import Spec, SpecError, parse_spec

# The lecture's own forward-pass example: x = (1, -1) through sigmoid neurons with
# weights (1, -2), (-1, 1) and biases 1, 0 gives a = (0.98, 0.12); its next layer,
# weights (2, -1), (-2, -1) and biases 0, 0, gives (0.86, 0.11). The target (0, 1) is the
# opposite of what the network says, so every gradient is clearly non-zero.
_LECTURE_LAYERS = [
    {"weight": [[1, -2], [-1, 1]], "bias": [1, 0], "activation": "sigmoid"},
    {"weight": [[2, -1], [-2, -1]], "bias": [0, 0], "activation": "sigmoid"},
]

EXAMPLES: dict[str, dict] = {
    "lecture": {
        "name": "lecture",
        "description": "the lecture's 2-2-2 sigmoid network: x = (1, -1) gives a = (0.98, 0.12), "
        "then y = (0.86, 0.11); target (0, 1)",
        "layers": _LECTURE_LAYERS,
        "input": [1, -1],
        "target": [0, 1],
        "loss": "half_squared_error",
        "lr": 0.5,
    },
    "batch": {
        "name": "batch",
        "description": "the lecture network on two samples: L = l^0 + l^1, and each "
        "dL/dw is the sum of the two per-sample gradients",
        "layers": _LECTURE_LAYERS,
        "input": [[1, -1], [-1, 0]],
        "target": [[0, 1], [1, 0]],
        "loss": "half_squared_error",
        "lr": 0.5,
    },
    "xor": {
        "name": "xor",
        "description": "a 2-2-1 sigmoid network part-way to XOR (hidden: OR and NAND, "
        "output: AND), on all four XOR samples",
        "layers": [
            {"weight": [[4, 4], [-3, -3]], "bias": [-2, 5], "activation": "sigmoid"},
            {"weight": [[3, 3]], "bias": [-4.5], "activation": "sigmoid"},
        ],
        "input": [[0, 0], [0, 1], [1, 0], [1, 1]],
        "target": [[0], [1], [1], [0]],
        "loss": "squared_error",
        "lr": 1.0,
    },
    "mlp": {
        "name": "mlp",
        "description": "a 3-4-4-2 network (tanh, relu, linear) for regression; one relu is "
        "off (z < 0), so its amplifier sigma'(z) = 0 blocks the gradient",
        "layers": [
            {"weight": [[0.2, -0.4, 0.3], [-0.5, 0.1, 0.2], [0.3, 0.6, -0.1],
                        [-0.2, -0.3, 0.5]],
             "bias": [0.1, -0.2, 0.0, 0.3], "activation": "tanh"},
            {"weight": [[0.5, -0.3, 0.8, 0.2], [-0.6, 0.4, 0.1, 0.7],
                        [0.3, 0.9, -0.5, -0.4], [0.2, -0.7, 0.6, 0.3]],
             "bias": [0.1, 0.0, -0.1, 0.2], "activation": "relu"},
            {"weight": [[0.7, -0.2, 0.5, 0.3], [-0.4, 0.6, 0.2, -0.5]],
             "bias": [0.0, 0.1], "activation": "linear"},
        ],
        "input": [0.5, -1.0, 2.0],
        "target": [1.0, -0.5],
        "loss": "half_squared_error",
        "lr": 0.1,
    },
    "softmax": {
        "name": "softmax",
        "description": "a 2-3-3 classifier: tanh hidden layer, softmax output, cross-entropy "
        "loss; at the output dl/dz = y - t",
        "layers": [
            {"weight": [[1.0, -0.5], [0.5, 1.0], [-1.0, 0.5]], "bias": [0.0, 0.1, -0.1],
             "activation": "tanh"},
            {"weight": [[0.8, -0.6, 0.2], [-0.4, 0.9, 0.5], [0.3, 0.1, -0.7]],
             "bias": [0.0, 0.0, 0.0], "activation": "softmax"},
        ],
        "input": [0.5, -1.0],
        "target": [0, 0, 1],
        "loss": "cross_entropy",
        "lr": 0.5,
    },
}


def example(name: str) -> Spec:
    """The built-in example ``name`` as a validated ``Spec``."""
    if name not in EXAMPLES:
        raise SpecError(
            "example", f'unknown example "{name}"; built-in examples: {", ".join(EXAMPLES)}'
        )
    return parse_spec(copy.deepcopy(EXAMPLES[name]), name=name)
