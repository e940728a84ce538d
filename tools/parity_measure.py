"""The measurements behind tools/parity_report.py: each runs cases of the tests (imported
from tests/, never written here) against PyTorch and returns cells of Diffs, the largest
differences seen, instead of asserting a tolerance."""

from __future__ import annotations

import functools
import math
import runpy
import sys
import tempfile
import warnings
from pathlib import Path
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]  # this checkout's chainrule, and its tests

import torch  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.nn import init  # noqa: E402
from tests.autograd.test_engine import frozen_after_forward  # noqa: E402
from tests.nn import test_init as tinit  # noqa: E402
from tests.nn import test_utils as tutils  # noqa: E402
from tests.nn.test_hooks import dropout_p_1  # noqa: E402
from tests.ops.optable import ROWS as OP_ROWS  # noqa: E402
from tests.ops.optable import make_inputs  # noqa: E402
from tests.ops.test_optable import _run_chainrule, _run_torch  # noqa: E402
from tests.optim import test_lr_scheduler as sched  # noqa: E402

REL_FLOOR = 1e-3
F64, F32 = np.float64, np.float32
SEEDS = {F64: (2, 3), F32: (4, 5)}  # (inputs, output gradient): test_optable.py's


class Diff:
    """The largest |mine - ref| seen (NaN where both are NaN counts as equal), the
    largest relative one where |ref| >= REL_FLOOR, and the largest |ref| (the scale)."""

    def __init__(self):
        self.abs = self.rel = self.scale = 0.0

    def add(self, mine, ref) -> Diff:
        mine, ref = np.asarray(mine, np.float64), np.asarray(ref, np.float64)
        if mine.shape != ref.shape:
            raise ValueError(f"shapes differ: {mine.shape} and {ref.shape}")
        d = np.where(np.isnan(mine) & np.isnan(ref), 0.0, np.abs(mine - ref))
        d = np.where(np.isnan(d), np.inf, d)  # NaN on one side only
        big = np.abs(ref) >= REL_FLOOR
        self.abs = max(self.abs, float(d.max(initial=0.0)))
        self.rel = max(self.rel, float((d[big] / np.abs(ref[big])).max(initial=0.0)))
        self.scale = max(self.scale, float(np.nan_to_num(np.abs(ref)).max(initial=0.0)))
        return self

    def merge(self, other: Diff) -> Diff:
        self.abs, self.rel = max(self.abs, other.abs), max(self.rel, other.rel)
        self.scale = max(self.scale, other.scale)
        return self

    def __str__(self):
        return "0" if self.abs == 0 else f"{self.abs:.1e} ({self.rel:.0e})"


def _mk(obj, dtype):
    return np.asarray(obj.numpy() if hasattr(obj, "numpy") else obj, dtype)


# --- op-table rows: the harness of test_optable.py, measured instead of asserted ---

def row_diffs(row, dtype) -> tuple[Diff, Diff]:
    seed, gseed = SEEDS[dtype]
    arrays = make_inputs(row, seed=seed, dtype=dtype)
    ref = row.torch_fn(*[torch.tensor(a) for a in arrays]).detach().numpy()
    g = np.random.default_rng(gseed).standard_normal(ref.shape).astype(dtype)
    out, grads = _run_chainrule(row, arrays, g)
    t_out, t_grads = _run_torch(row, arrays, g)
    value, grad = Diff().add(out, t_out), Diff()
    for mine, theirs in zip(grads, t_grads):
        grad.add(mine, theirs)
    return value, grad


def rows_cells(rows) -> list:
    cells = [Diff(), Diff(), Diff(), Diff()]
    for row in rows:
        for i, dtype in enumerate((F64, F32)):
            v, g = row_diffs(row, dtype)
            cells[2 * i].merge(v)
            cells[2 * i + 1].merge(g)
    return cells


def select(rows, *prefixes, contains=()):
    return [r for r in rows if r.id.startswith(prefixes) and all(c in r.id for c in contains)]


# --- layer cases (test_conv_norm_layers.py): outputs and state, gradients ---

def layer_cells(case, *args) -> list:
    cells = []
    for dtype in (F64, F32):
        value, grad = Diff(), Diff()

        def compare(what, mine, theirs, value=value, grad=grad):
            (grad if what.startswith("grad") else value).add(mine, theirs)

        case(*args, dtype=dtype, compare=compare)
        cells += [value, grad]
    return cells


def merged(cell_lists) -> list:
    out = [Diff(), Diff(), Diff(), Diff()]
    for cells in cell_lists:
        for o, c in zip(out, cells):
            if c is not None:
                o.merge(c)
    return out


def frozen_cells() -> list:
    """The frozen weight's grad: None in both, or an infinite difference."""
    cells = []
    for dtype, tdtype in ((cr.float64, torch.float64), (cr.float32, torch.float32)):
        ours = frozen_after_forward(cr, cr.nn.Linear(3, 2).to(dtype), dtype)
        theirs = frozen_after_forward(torch, torch.nn.Linear(3, 2).to(tdtype), tdtype)
        grad = Diff().add(_mk(ours[1], F64), theirs[1].numpy())
        if (ours[0] is None) != (theirs[0] is None):
            grad.abs = grad.rel = math.inf
        cells += [None, grad]
    return cells


def dropout_cells() -> list:
    cells = []
    for dtype, tdtype in ((cr.float64, torch.float64), (cr.float32, torch.float32)):
        y, g = dropout_p_1(cr, cr.nn, dtype)
        ty, tg = dropout_p_1(torch, torch.nn, tdtype)
        cells += [Diff().add(y.numpy(), ty.detach().numpy()), Diff().add(g.numpy(), tg.numpy())]
    return cells


def argsort_cells() -> list:
    """argsort on the sort rows' inputs: the largest index difference (a count of places)."""
    cells = []
    for dtype in (F64, F32):
        d = Diff()
        for row in select(OP_ROWS, "sort"):
            x = make_inputs(row, seed=SEEDS[dtype][0], dtype=dtype)[0]
            for dim, desc in ((-1, False), (0, True)):
                d.add(cr.argsort(x, dim=dim, descending=desc).numpy(),
                      torch.argsort(torch.tensor(x), dim=dim, descending=desc).numpy())
        cells += [d, None]
    return cells


# --- schedulers (test_lr_scheduler.py): max |lr diff| (and momentum) over 50 steps ---

def _walked(run) -> Diff:
    d = Diff()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run(lambda mine, theirs, what: d.add(mine, theirs))
    return d


@functools.cache  # the silent differences' lines read the same walks
def scheduler_cells(name) -> list:
    """Alone, with the tests' manual lr edit (at EDIT_AT), chained with each partner, and
    through a state-dict round trip."""
    chained = Diff()
    for partner in sched.PARTNERS:
        chained.merge(_walked(lambda c, p=partner: sched.walk(*sched.pair(name, p),
                                                               sched.STEPS, compare=c)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sched.safetensors"
        return [_walked(lambda c: sched.walk(*sched.pair(name), sched.STEPS, compare=c)),
                _walked(lambda c: sched.walk(*sched.pair(name), sched.STEPS, sched.EDIT_AT,
                                             compare=c)),
                chained, _walked(lambda c: sched.round_trip(name, path, compare=c))]


def plateau_cells() -> list:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plateau.safetensors"
        alone = _walked(lambda c: sched.plateau(None, path, compare=c))
        return [alone, _walked(lambda c: sched.plateau(4, path, compare=c)), None, alone]


# --- nn.init: the distribution's parameters each library asks its generator for ---

class _Recorder(np.random.Generator):
    def __init__(self):
        super().__init__(np.random.PCG64(0))
        self.calls = []

    def uniform(self, low=0.0, high=1.0, size=None):
        self.calls.append(("uniform", low, high))
        return super().uniform(low, high, size)

    def normal(self, loc=0.0, scale=1.0, size=None):
        self.calls.append(("normal", loc, scale))
        return super().normal(loc, scale, size)


def init_params(name, shape, **kw) -> tuple[list, list]:
    """The (kind, a, b) of every uniform/normal draw by chainrule's and PyTorch's init."""
    rng = _Recorder()
    getattr(init, name)(cr.nn.Parameter(np.zeros(shape)), generator=rng, **kw)
    theirs = []

    def recording(kind):
        original = getattr(torch.Tensor, kind + "_")

        def record(t, a, b, **k):
            theirs.append((kind, a, b))
            return original(t, a, b, **k)
        return record

    with mock.patch.object(torch.Tensor, "uniform_", recording("uniform")), \
            mock.patch.object(torch.Tensor, "normal_", recording("normal")):
        getattr(torch.nn.init, name)(torch.empty(shape, dtype=torch.float64), **kw)
    return rng.calls, theirs


def params_cell(cases) -> list:
    d = Diff()
    for name, shape, kw in cases:
        ours, theirs = init_params(name, shape, **kw)
        if [c[0] for c in ours] != [c[0] for c in theirs]:
            raise AssertionError(f"{name}{kw}: draws {ours} and {theirs}")
        d.add([c[1:] for c in ours], [c[1:] for c in theirs])
    return [d, None, None, None]


def kaiming_cases(kind):
    return [(kind, tinit.SHAPE, dict(a=a, mode=m, nonlinearity=nl))
            for m in tinit.MODES for nl, a in tinit.NONLINEARITIES]


def exact_cell(pairs) -> list:
    d = Diff()
    for mine, theirs in pairs:
        d.add(mine, theirs)
    return [d, None, None, None]


def trunc_normal_cells() -> list:
    ours = tinit._draw(init.trunc_normal_, (400, 500), **tinit.TRUNC_DRAW)
    torch.manual_seed(0)
    theirs = torch.nn.init.trunc_normal_(torch.empty(400, 500, dtype=torch.float64),
                                         **tinit.TRUNC_DRAW).numpy()
    q = tinit.QUANTILES
    return [Diff().add(np.quantile(ours, q), np.quantile(theirs, q)), None, None, None]


def orthogonal_gram(lib_init, t, gain):
    w = lib_init.orthogonal_(t, gain=gain)
    w = _mk(w.detach() if hasattr(w, "detach") else w, F64).reshape(len(w), -1)
    return w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w


def sparse_cells() -> list:
    d = params_cell([("sparse_", (50, 400), dict(sparsity=s, std=0.3))
                     for s in tinit.SPARSITIES])[0]
    for s in tinit.SPARSITIES:  # and the same count of zeros in every column
        torch.manual_seed(0)
        theirs = torch.nn.init.sparse_(torch.empty(50, 400, dtype=torch.float64), s, 0.3)
        d.add((tinit._draw(init.sparse_, (50, 400), sparsity=s, std=0.3) == 0).sum(0),
              (theirs.numpy() == 0).sum(0))
    return [d, None, None, None]


def eye_dirac_pairs():
    for shape, groups in tinit.EYE_DIRAC:
        t, ref = cr.nn.Parameter(np.full(shape, 7.0)), torch.full(shape, 7.0,
                                                                  dtype=torch.float64)
        if groups is None:
            yield init.eye_(t).numpy(), torch.nn.init.eye_(ref).numpy()
        else:
            yield (init.dirac_(t, groups=groups).numpy(),
                   torch.nn.init.dirac_(ref, groups=groups).numpy())


def clip_cells(clip) -> list:
    cells = []
    for dtype in (F64, F32):
        value, grad = Diff(), Diff()
        for norm_type in tutils.NORM_TYPES if clip == "norm" else [None]:
            for max_norm in tutils.MAX_NORMS if clip == "norm" else [tutils.CLIP_VALUE]:
                ours, theirs = tutils._pair(dtype)
                if clip == "norm":
                    value.add(cr.nn.utils.clip_grad_norm_(ours, max_norm, norm_type).numpy(),
                              torch.nn.utils.clip_grad_norm_(theirs, max_norm,
                                                             norm_type).numpy())
                elif clip == "value":
                    cr.nn.utils.clip_grad_value_(ours, max_norm)
                    torch.nn.utils.clip_grad_value_(theirs, max_norm)
                else:
                    value.add(cr.nn.utils.parameters_to_vector(ours).numpy(),
                              torch.nn.utils.parameters_to_vector(theirs).detach().numpy())
                if clip != "vector":
                    for p, q in zip(ours, theirs):
                        grad.add(p.grad.numpy(), q.grad.numpy())
        cells += [value if clip != "value" else None, grad if clip != "vector" else None]
    return cells


def from_pytorch_cells() -> list:
    with warnings.catch_warnings(), mock.patch("builtins.print"):
        warnings.simplefilter("ignore")
        ns = runpy.run_path(str(ROOT / "examples" / "from_pytorch.py"))
    return [Diff().add(ns["got"], ns["expected"]), None, None, None]
