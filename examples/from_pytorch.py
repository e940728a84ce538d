"""A PyTorch model's weights in chainrule: the same architecture, the same logits.

    python examples/from_pytorch.py

PyTorch is not needed by chainrule itself; this example uses it (pip install torch) to
make a model, then moves its state_dict across as NumPy arrays. chainrule's layers use
PyTorch's parameter names and shapes (Linear's weight is (out, in), Conv2d's (out, in,
kh, kw), BatchNorm keeps running_mean/running_var), so the keys match one to one.
"""

import numpy as np
import torch

import chainrule as cr
import chainrule.nn as nn

torch.manual_seed(0)
theirs = torch.nn.Sequential(
    torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
    torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 10),
).double().eval()
ours = nn.Sequential(
    nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
    nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 10),
).double().eval()

# The one step: a state dict of PyTorch tensors -> a state dict of NumPy arrays.
state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
result = ours.load_state_dict(state)  # every key and shape checked before anything is copied
print("loaded", len(state), "tensors; missing", result.missing_keys, "unexpected",
      result.unexpected_keys)

x = np.random.default_rng(0).normal(size=(2, 1, 8, 8))
with torch.no_grad():
    expected = theirs(torch.tensor(x)).numpy()
with cr.no_grad():
    got = ours(cr.tensor(x)).numpy()
print("largest logit difference:", float(np.abs(got - expected).max()))
assert np.allclose(got, expected, rtol=1e-10, atol=1e-12)
