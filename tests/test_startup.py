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
         "chainrule.explain", "chainrule.playground")


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
