"""Training: recipes, models, the fit loop, checkpoints with exact resume, reports.

``chainrule.train.run(recipe, out_dir)`` is what `chainrule train` runs;
``chainrule.train.fit(model, optimizer, (x, y), (x_test, y_test), epochs)`` is the plain
loop for scripts.
"""


def __getattr__(name):
    # Lazy, so that `import chainrule.train.recipes` stays light (the CLI's parser uses it).
    if name in ("fit", "run", "evaluate", "train_step"):
        from chainrule.train import loop

        return getattr(loop, name)
    raise AttributeError(name)
