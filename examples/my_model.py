"""Your own model, trained by `chainrule train` with its loop, checkpoints and reports:

    chainrule train --model examples/my_model.py:Net
    chainrule train --model examples/my_model.py:Net --dataset moons
    chainrule predict runs/digits-Net digit.png

`chainrule train` constructs the class with the keywords its __init__ names, of
``input_shape`` (one sample's shape: digits and (Fashion-)MNIST as 1 x H x W images, the
2-D sets as (2,)) and ``num_classes``; a class that names neither is constructed with no
arguments. ``forward`` returns one score (logit) per class; the loss applies the softmax.
"""

import math

import chainrule.nn as nn


class Net(nn.Module):
    """An MLP with a residual hidden block: Flatten, Linear, ReLU, (Linear, ReLU) + skip,
    Linear to the classes."""

    def __init__(self, input_shape=(1, 8, 8), num_classes=10, width=64):
        super().__init__()
        self.flatten = nn.Flatten()
        self.inp = nn.Linear(math.prod(input_shape), width)
        self.block = nn.Sequential(nn.Linear(width, width), nn.ReLU())
        self.out = nn.Linear(width, num_classes)

    def forward(self, x):
        h = self.inp(self.flatten(x)).relu()
        h = h + self.block(h)  # the skip: gradients reach self.inp along two paths, summed
        return self.out(h)
