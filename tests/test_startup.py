"""Start-up stays light: what `import chainrule` and `chainrule train --help` load, counted
in a fresh interpreter (module counts, not times: the machine's load cannot move them)."""

import json
import os
import subprocess
import sys

import pytest

#: Loaded on first use only (matplotlib when drawing, rich by a command that prints with
#: it, safetensors when saving, threadpoolctl when a run sets its threads, socket when a
#: distributed group starts).
HEAVY = ("matplotlib", "rich", "safetensors", "threadpoolctl", "torch", "scipy", "mpi4py",
         "multiprocessing", "importlib.resources", "numpy.polynomial", "socket",
         "chainrule.data", "chainrule.health", "chainrule.viz", "chainrule.train",
         "chainrule.explain", "chainrule.playground", "chainrule.nn", "chainrule.optim",
         "chainrule.func", "chainrule.distributed", "chainrule.serialization", "numpy.ma")

#: What `import chainrule` loads of chainrule itself: the engine (tensor, ops, autograd,
#: graph, compile). 47 modules when the layers above it became lazy (93 before); the
#: bound leaves room for a new op family, not for a layer.
ENGINE_MODULES = 60


def loaded_after(code: str) -> list:
    """The modules a fresh interpreter holds after running ``code``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [os.path.join(os.path.dirname(__file__), "..", "src"), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\n"
                          "print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, env=env, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def heavy_in(modules: list) -> list:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_import_chainrule_loads_nothing_heavy():
    assert heavy_in(loaded_after("import chainrule")) == []


def test_import_chainrule_loads_only_the_engine():
    ours = [m for m in loaded_after("import chainrule") if m.split(".")[0] == "chainrule"]
    assert len(ours) <= ENGINE_MODULES, ours


def test_the_lazy_names_are_still_the_public_surface():
    """Each name loads on first use, is the object its module defines, and is listed by
    dir() and brought by a star import, loaded or not."""
    import chainrule as cr
    import chainrule.distributed
    import chainrule.func
    import chainrule.nn
    import chainrule.optim
    import chainrule.serialization

    assert (cr.nn, cr.optim, cr.func, cr.distributed, cr.serialization) == (
        chainrule.nn, chainrule.optim, chainrule.func, chainrule.distributed,
        chainrule.serialization)
    for name in ("save", "load", "CheckpointError"):
        assert getattr(cr, name) is getattr(chainrule.serialization, name)
    code = ("import chainrule as cr\nnames = set(dir(cr))\nstar = {}\n"
            "exec('from chainrule import *', star)\n"
            "assert {'nn', 'optim', 'func', 'distributed', 'serialization', 'save', 'load',"
            " 'CheckpointError', 'data', 'viz', 'health', 'compile'} <= names, names\n"
            "assert {'nn', 'save', 'CheckpointError', 'tensor'} <= set(star), sorted(star)\n"
            "assert not {'data', 'viz', 'health'} & set(star)\n"
            "assert cr.save is cr.serialization.save\n")
    modules = loaded_after(code)
    assert "chainrule.nn" in modules and "chainrule.viz" not in modules


def test_the_lazy_subpackages_load_on_first_use():
    modules = loaded_after("import chainrule as cr\nassert cr.data.DataLoader\n"
                           "assert 'viz' in dir(cr)")
    assert "chainrule.data" in modules and "chainrule.viz" not in modules


def test_an_unknown_attribute_is_still_an_attribute_error():
    import chainrule as cr

    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        cr.nonexistent  # noqa: B018


def test_train_help_loads_only_the_train_command():
    code = ("import io, contextlib\nfrom chainrule.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main(['train', '--help'])\n"
            "    except SystemExit:\n        pass")
    heavy = heavy_in(loaded_after(code))
    # train.backends: the --backend/--device options (argparse alone; the libraries load
    # only when a run checks its backend)
    assert heavy == ["chainrule.train", "chainrule.train.backends", "chainrule.train.cli",
                     "chainrule.train.errors", "chainrule.train.recipes"], heavy


def test_the_top_level_help_still_lists_every_command(capsys):
    from chainrule.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("train", "evaluate", "predict", "explain", "graph", "health",
                    "playground"):
        assert f"    {command}" in out


@pytest.mark.parametrize("idle", [True, False])
def test_a_run_loads_matplotlib_only_to_draw_its_figure_itself(tmp_path, idle):
    """With a core idle the helper process draws curves.png (train/curves.py): the run's
    own process never loads matplotlib; without one, it does, at the end. Neither loads
    the health monitor without --health."""
    code = ("import io, contextlib\nfrom chainrule.train import curves\n"
            f"curves.core_idle = lambda: {idle}\nfrom chainrule.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert main(['train', '--epochs', '1', '--hidden', '8', '--no-progress', "
            f"'--out', {str(tmp_path / 'run')!r}]) == 0")
    modules = loaded_after(code)
    assert (tmp_path / "run" / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert ("matplotlib" in modules) is not idle
    assert not [m for m in modules if m.startswith("chainrule.health")]
