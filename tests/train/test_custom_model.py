"""`chainrule train --model path/to/file.py:Net`: a user's own Module, with the same loop,
checkpoints and reports; evaluate, predict and resume import it again from its path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from .helpers import command, one_line, snapshot, train

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "my_model.py"
QUICK = ["--no-progress", "--threads", "1"]

MODULE = "import math\nimport chainrule.nn as nn\n\n"
NO_ARGS = MODULE + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.flat = nn.Flatten()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(self.flat(x))
"""
CLASSES_ONLY = MODULE + """
class Net(nn.Module):
    def __init__(self, num_classes, hidden=WIDTH):
        super().__init__()
        self.flat = nn.Flatten()
        self.fc = nn.Linear(64, hidden)
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, x):
        return self.out(self.fc(self.flat(x)).relu())
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_the_example_model_trains_evaluates_predicts_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no --out: the run goes to runs/digits-Net
    code, out, err = train(QUICK + ["--model", f"{EXAMPLE}:Net", "--epochs", "2"], capsys)
    assert code == 0, err
    run = tmp_path / "runs" / "digits-Net"
    assert f"Net (from {EXAMPLE}) with 8,970 parameters; run directory runs/digits-Net" in out
    m = json.loads((run / "metrics.json").read_text())
    assert m["recipe"]["model"] == f"{EXAMPLE}:Net" and m["epochs"] == 2
    assert m["test_accuracy"] > 0.5 and (run / "history.csv").exists()
    # the digits-mlp recipe's training options, without its architecture
    assert m["recipe"]["optimizer"] == "adamw" and m["recipe"]["lr"] == 0.005
    code, out, _ = command(["evaluate", str(run)], capsys)
    assert code == 0 and f"test accuracy {m['test_accuracy']:.4f}" in out
    np.save(tmp_path / "x.npy", np.zeros((2, 1, 8, 8)))
    code, out, _ = command(["predict", str(run), str(tmp_path / "x.npy")], capsys)
    assert code == 0 and "Net on digits" in out and len(out.strip().splitlines()) == 3
    code, out, _ = train(["--resume", str(run), "--epochs", "3", "--no-progress"], capsys)
    assert code == 0 and json.loads((run / "metrics.json").read_text())["epochs"] == 3


def test_the_example_model_takes_the_input_shape_of_a_2d_set(tmp_path, capsys):
    run = tmp_path / "run"
    code, _, err = train(QUICK + ["--model", f"{EXAMPLE}:Net", "--dataset", "moons",
                                  "--samples", "100", "--epochs", "2", "--out", str(run)],
                         capsys)
    assert code == 0, err
    # Net(input_shape=(2,), num_classes=2): 2*64 + 64 + 64*64 + 64 + 64*2 + 2 parameters
    assert json.loads((run / "metrics.json").read_text())["parameters"] == 4482


@pytest.mark.parametrize("source,width,params", [(NO_ARGS, None, 650),
                                                 (CLASSES_ONLY, 5, 64 * 5 + 5 + 5 * 10 + 10)])
def test_a_class_gets_the_keywords_its_init_names(tmp_path, capsys, source, width, params):
    file = write(tmp_path, "net.py", source.replace("WIDTH", str(width)))
    run = tmp_path / "run"
    code, _, err = train(QUICK + ["--model", f"{file}:Net", "--epochs", "1", "--out", str(run)],
                         capsys)
    assert code == 0, err
    assert json.loads((run / "metrics.json").read_text())["parameters"] == params


BAD = {
    "syntax.py": "def broken(:\n",
    "raises.py": MODULE + "raise RuntimeError('no GPU here')\n",
    "needs.py": MODULE + "class Net(nn.Module):\n    def __init__(self, width):\n"
                         "        super().__init__()\n",
    "notmodule.py": "class Net:\n    pass\n\n\nVALUE = 3\n",
    "noparams.py": MODULE + "class Net(nn.Module):\n    def forward(self, x):\n        return x\n",
    "shape.py": NO_ARGS.replace("nn.Linear(64, 10)", "nn.Linear(64, 3)"),
    "forward.py": NO_ARGS.replace("nn.Linear(64, 10)", "nn.Linear(65, 10)"),
}


@pytest.mark.parametrize("spec,message", [
    ("missing.py:Net", "missing.py:Net: no such file. help: --model takes FILE.py:CLASS"),
    ("syntax.py:Net", "importing TMP/syntax.py failed: SyntaxError: invalid syntax (line 1)"),
    ("raises.py:Net", "importing TMP/raises.py failed: RuntimeError: no GPU here"),
    ("needs.py:Net", "its __init__ needs width, but chainrule constructs it with no arguments"),
    ("needs.py:Other", "TMP/needs.py has no 'Other'; it defines Net"),
    ("notmodule.py:Net", "TMP/notmodule.py:Net: the class Net is not an nn.Module. help: "
                         "class Net(chainrule.nn.Module)"),
    ("notmodule.py:VALUE", "TMP/notmodule.py:VALUE: is a value of type int, not an nn.Module"),
    ("noparams.py:Net", "has no parameters to train"),
    ("shape.py:Net", "returned shape (2, 3); training needs a tensor of logits of shape (2, 10)"),
    ("forward.py:Net", "its forward pass on a batch of digits inputs (shape 2x1x8x8) failed: "
                       "ShapeError"),
])
def test_a_model_that_cannot_train_is_one_line_and_writes_nothing(tmp_path, capsys, spec,
                                                                  message):
    for name, text in BAD.items():
        write(tmp_path, name, text)
    out_dir = tmp_path / "run"
    code, _, err = train(QUICK + ["--model", str(tmp_path / spec), "--epochs", "1",
                                  "--out", str(out_dir)], capsys)
    assert code == 2
    assert message.replace("TMP", str(tmp_path)) in one_line(err)
    assert not out_dir.exists()


@pytest.mark.parametrize("args,message", [
    (["--model", "net.txt"], "argument --model: expected mlp, cnn or FILE.py:CLASS"),
    (["--model", "net.py:1x"], "argument --model: expected mlp, cnn or FILE.py:CLASS"),
    (["--model", "EXAMPLE:Net", "--hidden", "8"], "--hidden: built-in models only"),
    (["--model", "EXAMPLE:Net", "--dropout", "0.1", "--batch-norm"],
     "--batch-norm, --dropout: built-in models only"),
])
def test_bad_model_options_are_one_line(tmp_path, capsys, args, message):
    args = [a.replace("EXAMPLE", str(EXAMPLE)) for a in args]
    code, _, err = train(QUICK + args + ["--out", str(tmp_path / "r")], capsys)
    assert code == 2 and message in one_line(err)


def test_a_moved_or_changed_class_is_one_line_for_evaluate_predict_and_resume(tmp_path,
                                                                              capsys):
    file = write(tmp_path, "net.py", CLASSES_ONLY.replace("WIDTH", "5"))
    run = tmp_path / "run"
    assert train(QUICK + ["--model", f"{file}:Net", "--epochs", "1", "--out", str(run)],
                 capsys)[0] == 0
    np.save(tmp_path / "x.npy", np.zeros(64))
    uses = {"evaluate": ["evaluate", str(run)],
            "predict": ["predict", str(run), str(tmp_path / "x.npy")],
            "train": ["train", "--resume", str(run), "--epochs", "2"]}
    before = snapshot(run)
    shutil.move(file, tmp_path / "elsewhere.py")
    for name, argv in uses.items():
        code, _, err = command(argv, capsys)
        assert code == 2, name
        assert (f"chainrule {name}: error: {file}:Net: no such file; this run's model class "
                "was imported from there. help: put the file back") in one_line(err), name
    # back, but with another hidden width: the weights no longer fit
    write(tmp_path, "net.py", CLASSES_ONLY.replace("WIDTH", "6"))
    for name, argv in uses.items():
        code, _, err = command(argv, capsys)
        assert code == 2 and "fc.weight has shape (5, 64) in the" in one_line(err), name
    assert snapshot(run) == before
