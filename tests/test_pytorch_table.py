"""Walk docs/pytorch.md: every row's chainrule code runs, and does what the row says.

**same** rows run the PyTorch column too, on the same values, and the results (values and
dtypes, where both are arrays) must agree; **error** rows must raise an error with help.
"""

import ast
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
import chainrule.optim as optim
from chainrule.data import DataLoader, TensorDataset

TABLE = Path(__file__).resolve().parents[1] / "docs" / "pytorch.md"
ROW = re.compile(r"^\| `(?P<torch>[^`]+)` \| `(?P<cr>[^`]+)` \| (?P<says>.+) \|$")
X = np.random.default_rng(0).normal(size=(3, 4))


def rows():
    found = [m.groupdict() for line in TABLE.read_text(encoding="utf-8").splitlines()
             if (m := ROW.match(line))]
    assert len(found) >= 105, "the table lost rows"
    return found


def _namespace(lib, tmp_path):
    if lib == "cr":
        ns = dict(cr=cr, nn=nn, F=F, optim=optim, np=np, DataLoader=DataLoader,
                  OrderedDict=OrderedDict)
        ns["x"] = cr.tensor(X)
        ns["w"] = cr.tensor(X.copy(), requires_grad=True)
        ns["ds"] = TensorDataset(cr.tensor(X), cr.tensor(np.arange(3)))
    else:
        import torch.nn as tnn
        import torch.nn.functional as tF
        from torch.utils.data import DataLoader as TDL
        from torch.utils.data import TensorDataset as TDS

        ns = dict(torch=torch, nn=tnn, F=tF, optim=torch.optim, np=np, DataLoader=TDL,
                  OrderedDict=OrderedDict)
        ns["x"] = torch.tensor(X)
        ns["w"] = torch.tensor(X.copy(), requires_grad=True)
        ns["ds"] = TDS(torch.tensor(X), torch.arange(3))
        torch.manual_seed(0)
    ns["m"] = ns["nn"].Linear(4, 2)
    ns["path"] = str(tmp_path / f"{lib}.ckpt")
    return ns


def run(code: str, ns: dict):
    """Execute ``code`` (statements joined by '; '); return the last expression's value,
    or ``y`` when the code ends in a statement that made one."""
    tree = ast.parse(code)
    last = tree.body[-1]
    if isinstance(last, ast.Expr):
        exec(compile(ast.Module(tree.body[:-1], []), "<row>", "exec"), ns)
        return eval(compile(ast.Expression(last.value), "<row>", "eval"), ns)
    exec(compile(tree, "<row>", "exec"), ns)
    return ns.get("y")


def comparable(v):
    """An array (with its dtype) for values both libraries can give; None for objects."""
    if isinstance(v, torch.dtype):
        return str(v).removeprefix("torch.")
    if isinstance(v, np.dtype):
        return str(v)
    if isinstance(v, torch.Tensor):
        return v.detach().numpy()
    if isinstance(v, cr.Tensor):
        return v.numpy()
    if isinstance(v, torch.Size):
        return np.asarray(tuple(v))
    if isinstance(v, (np.ndarray, int, float, list, tuple)):
        return np.asarray(v)
    return None


@pytest.mark.parametrize("row", rows(), ids=lambda r: r["cr"])
def test_row(row, tmp_path):
    says = row["says"]
    ns = _namespace("cr", tmp_path)
    if says.startswith("error") or "same error" in says:
        with pytest.raises(Exception) as info:  # noqa: PT011 - the help is what is checked
            run(row["cr"], ns)
        assert "help" in str(info.value), str(info.value)
        return
    got = run(row["cr"], ns)
    if not says.startswith(("same", "differs")):
        return  # chainrule-only behaviour: running without error is the check
    want = run(row["torch"], _namespace("torch", tmp_path))
    a, b = comparable(got), comparable(want)
    if a is None or b is None:
        assert (a is None) == (b is None), (got, want)
        return
    if "same shape" in says:
        assert a.shape == b.shape
        return
    if isinstance(a, str):
        assert a == b
        return
    assert a.shape == b.shape, (a.shape, b.shape)
    if a.dtype.kind in "US":  # names
        assert a.tolist() == b.tolist()
        return
    if a.dtype != object:
        assert a.dtype == b.dtype, (a.dtype, b.dtype)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
