"""The training recipes' steps, compiled, are bitwise the eager ones: what lets `chainrule
train` and `fit` compile by default (the digits MLP on the embedded digits, over a whole
epoch with its short last batch and an evaluation between epochs; the Fashion-MNIST CNN
recipe's model, with batch norm and dropout, on small made-up images)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.train import loop, models, recipes, steps
from chainrule.train.state import EpochSums


def _train(recipe, x, y, compiled, epochs=1, batches=None):
    """Train ``epochs`` through steps.train_step, eager or through ``compiled``."""
    cr.manual_seed(recipe.seed)
    model = models.build_model(recipe, x.shape[1:], 10)
    opt = loop.make_optimizer(recipe, model.parameters())
    losses, sums = [], EpochSums()
    for epoch in range(epochs):
        model.train()
        for i, (xb, yb) in enumerate(steps.batches(x, y, recipe.batch_size, recipe.seed, epoch)):
            if batches is not None and i == batches:
                break
            losses.append(steps.train_step(model, opt, xb, yb, sums, compiled=compiled))
        losses.append(steps.evaluate(model, x[:64], y[:64])[0])
    return losses, sums, [t.data.copy() for t in model.state_dict().values()]


def _same(recipe, x, y, **kw):
    a, sa, pa = _train(recipe, x, y, None, **kw)
    update = steps.compiled_update()
    b, sb, pb = _train(recipe, x, y, update, **kw)
    n_steps = len(b) - kw.get("epochs", 1)  # the losses, less one evaluation per epoch
    # recorded for the full batch and the short one, replayed for every other
    assert update.stats == {"records": 2, "replays": n_steps - 2, "eager": 0}
    assert update.fallback_reason is None
    assert a == b
    assert (sa.loss, sa.correct, sa.seen) == (sb.loss, sb.correct, sb.seen)
    for u, v in zip(pa, pb):
        assert np.array_equal(u, v)


def test_digits_mlp_recipe_compiled_is_bitwise_eager_over_two_epochs():
    from chainrule.data import load_digits

    x, y = load_digits("train")
    x = np.asarray(x, np.float32)[:300]
    y = np.asarray(y)[:300]  # 300 / 32: nine full batches and one of 12
    _same(recipes.recipe_for("digits", "mlp"), x, y, epochs=2)


@pytest.mark.parametrize("dataset", ["fashion-mnist"])
def test_fashion_cnn_recipe_compiled_is_bitwise_eager(dataset):
    rng = np.random.default_rng(0)
    x = rng.random((80, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 80)  # batch 64: one full batch and one of 16
    _same(recipes.recipe_for(dataset, "cnn"), x, y, epochs=2)
