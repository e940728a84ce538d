"""The models `chainrule train` builds from a recipe: an MLP, a small CNN, or the user's
own Module class (``--model FILE.py:Class``, see ``usermodel.py``)."""

from __future__ import annotations

from chainrule import nn
from chainrule.train.recipes import Recipe, is_custom


def build_model(recipe: Recipe, input_shape: tuple, num_classes: int,
                recorded: bool = False) -> nn.Module:
    """An ``nn.Sequential`` for ``recipe.model``, sized for ``input_shape`` (no batch axis);
    for ``FILE.py:Class``, that class constructed (``recorded``: the recipe comes from a
    run, so a missing file may have moved)."""
    if is_custom(recipe.model):
        from chainrule.train.usermodel import construct

        return construct(recipe.model, input_shape, num_classes, recorded)
    if recipe.model == "mlp":
        return mlp(input_shape, recipe.hidden, num_classes, recipe.batch_norm, recipe.dropout)
    if recipe.model == "cnn":
        if len(input_shape) != 3:
            raise ValueError(
                f"a cnn needs image inputs (channels, height, width); {recipe.dataset} has "
                f"inputs of shape {tuple(input_shape)}. help: use --model mlp"
            )
        return cnn(input_shape, recipe.channels, num_classes, recipe.batch_norm, recipe.dropout)
    raise ValueError(f"unknown model {recipe.model!r}")


def mlp(input_shape, hidden, num_classes, batch_norm=False, dropout=0.0) -> nn.Sequential:
    """Flatten, then [Linear, (BatchNorm), ReLU, (Dropout)] per hidden size, then Linear."""
    size = 1
    for n in input_shape:
        size *= n
    layers: list = [nn.Flatten()]
    for width in hidden:
        layers.append(nn.Linear(size, width, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU())
        if dropout:
            layers.append(nn.Dropout(dropout))
        size = width
    layers.append(nn.Linear(size, num_classes))
    return nn.Sequential(*layers)


def cnn(input_shape, channels, num_classes, batch_norm=True, dropout=0.0) -> nn.Sequential:
    """[Conv 3x3 (same padding), (BatchNorm), ReLU, MaxPool 2] per block, then Linear."""
    c, h, w = input_shape
    layers: list = []
    for out in channels:
        layers.append(nn.Conv2d(c, out, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers += [nn.ReLU(), nn.MaxPool2d(2)]
        c, h, w = out, h // 2, w // 2
    layers.append(nn.Flatten())
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(c * h * w, num_classes))
    return nn.Sequential(*layers)


def count_parameters(model: nn.Module) -> int:
    return sum(p.size for p in model.parameters())
