"""How close chainrule is to PyTorch on every addition of issue 19 (nn parity).

    .venv/bin/python tools/parity_report.py          # the table, grouped as the issue
    .venv/bin/python tools/parity_report.py --rows   # and every op-table row on its own

For each addition: the largest |chainrule - PyTorch| of the values and of the gradients,
in float64 and float32, with the largest relative difference in brackets (over elements
where |PyTorch's| >= REL_FLOOR, so that values near 0 do not blow it up). The cases are
the tests' own, imported from tests/ (op-table rows with their seeds, the layer cases,
the scheduler walks, the init and utils constants, examples/from_pytorch.py): nothing
here is a case of its own, so the report measures exactly what the tests bound. PyTorch
is needed (the test extra). tests/test_parity_report.py keeps it from going stale.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# this checkout's chainrule (not an installed one), its tests, and parity_measure beside us
sys.path[:0] = [str(ROOT / "src"), str(ROOT), str(ROOT / "tools")]

import numpy as np  # noqa: E402
import parity_measure as pm  # noqa: E402
import torch  # noqa: E402
from parity_measure import REL_FLOOR, rows_cells, sched, select, tinit  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.nn import init  # noqa: E402
from tests.nn import test_conv_norm_layers as layers  # noqa: E402
from tests.ops.nn_conv_optable import ROWS as CONV_ROWS  # noqa: E402
from tests.ops.nn_optable import ROWS as NN_ROWS  # noqa: E402
from tests.ops.optable import ROWS as OP_ROWS  # noqa: E402


@dataclass
class Entry:
    group: str
    name: str
    run: Callable[[], list]  # -> 4 cells, each a Diff or None (does not apply)
    cases: int = 1
    rows: tuple = ()  # the op-table rows it measures, if any


# --- the table, grouped as issue 19 groups its points ---

def _rows(group, name, rows) -> Entry:
    return Entry(group, name, lambda: rows_cells(rows), len(rows), tuple(rows))


def _layers(group, name, case, args) -> Entry:
    return Entry(group, name, lambda: pm.merged(pm.layer_cells(case, *a) for a in args), len(args))


LOSS_ROWS = NN_ROWS[[r.id for r in NN_ROWS].index("cross_entropy_weight"):
                    [r.id for r in NN_ROWS].index("kl_div_log_target_none") + 1]
TENSOR_ROWS = OP_ROWS[[r.id for r in OP_ROWS].index("gather"):]


def entries() -> list[Entry]:
    L, C, N, T = "losses", "conv and pooling", "norm layers", "tensor ops"
    loss = [_rows(L, f"cross_entropy({what})", select(LOSS_ROWS, "cross_entropy", contains=(c,)))
            for what, c in (("weight=", "weight"), ("ignore_index=", "ignore"),
                            ("label_smoothing=", "smoothing"),
                            ("probability targets", "probabilities"))]
    loss += [_rows(L, name, select(LOSS_ROWS, *prefixes)) for name, prefixes in (
        ("cross_entropy((N, C, d1, ...), unbatched)", ("cross_entropy_nd",
                                                       "cross_entropy_unbatched")),
        ("nll_loss(weight=, ignore_index=, N-d)", ("nll_loss",)),
        ("bce_with_logits(pos_weight=, weight=)", ("bce_with_logits",)),
        ("binary_cross_entropy(weight=)", ("binary_cross_entropy",)),
        ("l1_loss(reduction=)", ("l1_loss",)), ("smooth_l1_loss(beta=)", ("smooth_l1",)),
        ("huber_loss(delta=)", ("huber_loss",)), ("kl_div(log_target=, batchmean)", ("kl_div",)))]
    loss.append(_rows(L, "mse_loss(reduction=)", select(NN_ROWS, "mse_loss")))
    conv = [_rows(C, name, select(CONV_ROWS, *prefixes)) for name, prefixes in (
        ("conv2d(dilation=)", ("conv2d_dilation", "conv2d_groups_dilation")),
        ("conv2d(groups=), depthwise", ("conv2d_groups", "conv2d_depthwise")),
        ("conv2d(padding='same'/'valid')", ("conv2d_same", "conv2d_valid")),
        ("conv1d", ("conv1d",)), ("pad(mode=reflect/replicate/circular)", ("pad_", "conv2d_ref")),
        ("max_pool2d(padding=, ceil_mode=, dilation=)", ("max_pool2d",)),
        ("max_pool1d", ("max_pool1d",)),
        ("avg_pool2d(padding=, ceil_mode=, count_include_pad=, divisor_override=)",
         ("avg_pool2d",)), ("avg_pool1d", ("avg_pool1d",)),
        ("adaptive_avg_pool2d", ("adaptive_avg",)), ("adaptive_max_pool2d", ("adaptive_max",)),
        ("interpolate (nearest, nearest-exact)", ("interpolate",)))]
    conv += [_layers(C, "nn.Conv2d(bias=False, padding_mode=, groups=)", layers.conv2d_case,
                     [(k,) for k in layers.CONV2DS]),
             _layers(C, "nn.Conv1d", layers.conv1d_case, [(k,) for k in layers.CONV1DS]),
             _layers(C, "nn.MaxPool/AvgPool/Adaptive*Pool/Upsample", layers.pool_case,
                     [(k,) for k in (*layers.POOLS, *layers.POOLS_1D)])]
    norm = [_rows(N, name, select(CONV_ROWS, *prefixes)) for name, prefixes in (
        ("batch_norm on (N, C, L)", ("batch_norm_ncl",)),
        ("batch_norm(affine=False)", ("batch_norm_no_affine",)),
        ("batch_norm(training=False)", ("batch_norm_eval",)),
        ("layer_norm", ("layer_norm",)), ("group_norm", ("group_norm",)))]
    norm += [_layers(N, "nn.BatchNorm1d(affine=, track_running_stats=, momentum=None)",
                     layers.batchnorm1d_case, layers.BATCHNORM1DS),
             _layers(N, "nn.BatchNorm2d(track_running_stats=False), eval",
                     layers.batchnorm2d_untracked_case, [()]),
             _layers(N, "nn.LayerNorm", layers.norm_case, [(k,) for k in layers.NORMS
                                                         if k.startswith("ln")]),
             _layers(N, "nn.GroupNorm", layers.norm_case, [(k,) for k in layers.NORMS
                                                         if k.startswith("gn")]),
             Entry(N, "Dropout(p=1)", pm.dropout_cells)]
    tensor = [_rows(T, name, select(TENSOR_ROWS, *prefixes)) for name, prefixes in (
        ("gather", ("gather",)), ("take_along_axis", ("take_along_axis",)),
        ("index_select", ("index_select",)), ("scatter_add", ("scatter_add",)),
        ("index_add", ("index_add",)), ("masked_fill", ("masked_fill",)),
        ("where(tensor condition)", ("where",)), ("topk", ("topk",)), ("sort", ("sort",)))]
    tensor.append(Entry(T, "argsort (index difference)", pm.argsort_cells, 4))
    tensor += [_rows(T, name, select(TENSOR_ROWS, *prefixes)) for name, prefixes in (
        ("cumsum", ("cumsum",)), ("cumprod", ("cumprod",)), ("einsum", ("einsum",)),
        ("norm", ("norm",)), ("outer", ("outer",)), ("tril / triu", ("tril", "triu")))]
    I = "init and utils"  # noqa: E741 - a group's initial, as the others
    inits = [
        Entry(I, "calculate_gain", lambda: pm.exact_cell(
            (init.calculate_gain(n, p), torch.nn.init.calculate_gain(n, p))
            for n, p in tinit.GAINS), len(tinit.GAINS)),
        Entry(I, "fan_in / fan_out", lambda: pm.exact_cell(
            (init.fans(s), torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(s)))
            for s in tinit.SHAPES), len(tinit.SHAPES)),
        *[Entry(I, f"{k} (bound / std asked for)",
                lambda k=k: pm.params_cell(pm.kaiming_cases(k)), 8)
          for k in ("kaiming_uniform_", "kaiming_normal_")],
        *[Entry(I, f"{k} (bound / std asked for)", lambda k=k: pm.params_cell(
            [(k, tinit.SHAPE, dict(gain=g)) for g in tinit.XAVIER_GAINS]), 2)
          for k in ("xavier_uniform_", "xavier_normal_")],
        Entry(I, "trunc_normal_ (quantiles of 200000 draws)", pm.trunc_normal_cells),
        Entry(I, "trunc_normal_'s Phi^-1 vs torch.special.ndtri", lambda: pm.exact_cell(
            [(init._normal_quantile(tinit.NDTRI_P),
              torch.special.ndtri(torch.tensor(tinit.NDTRI_P)).numpy())])),
        Entry(I, "orthogonal_ (W W^T)", lambda: pm.exact_cell(
            (pm.orthogonal_gram(init, cr.nn.Parameter(np.zeros(s)), g),
             pm.orthogonal_gram(torch.nn.init, torch.empty(s, dtype=torch.float64), g))
            for s in tinit.ORTHOGONAL_SHAPES for g in tinit.ORTHOGONAL_GAINS), 10),
        Entry(I, "sparse_ (std asked for, zeros per column)", pm.sparse_cells, 4),
        Entry(I, "eye_ / dirac_", lambda: pm.exact_cell(pm.eye_dirac_pairs()),
              len(tinit.EYE_DIRAC)),
        Entry(I, "clip_grad_norm_ (total norm / grads)", lambda: pm.clip_cells("norm"), 6),
        Entry(I, "clip_grad_value_", lambda: pm.clip_cells("value")),
        Entry(I, "parameters_to_vector", lambda: pm.clip_cells("vector")),
    ]
    S = "schedulers"
    scheds = [Entry(S, name, lambda n=name: pm.scheduler_cells(n)) for name in sched.SCHEDULERS]
    scheds.append(Entry(S, "ReduceLROnPlateau", pm.plateau_cells, 2))
    silent = [
        Entry("silent differences", "scheduler after a manual group['lr'] edit", lambda: [
            pm.merged([[pm.scheduler_cells(n)[1]] for n in sched.SCHEDULERS])[0], None, None,
            None], len(sched.SCHEDULERS)),
        Entry("silent differences", "two schedulers on one optimizer", lambda: [
            pm.merged([[pm.scheduler_cells(n)[2]] for n in sched.SCHEDULERS])[0], None, None,
            None], len(sched.SCHEDULERS) * len(sched.PARTNERS)),
        Entry("silent differences", "requires_grad_(False) between forward and backward",
              pm.frozen_cells)]
    return [*silent, *loss, *conv, *norm, *tensor, *inits, *scheds,
            Entry("from_pytorch", "examples/from_pytorch.py logits", pm.from_pytorch_cells)]


CELL = 18
NOTES = {"schedulers": " (max |diff| of both param groups' lr and momentum, 50 steps, float64)",
         "silent differences": " (the scheduler lines: max |lr diff| over every scheduler)",
         "init and utils": " (init: the bound or std each library asks its generator for)"}
HEADERS = {"schedulers": ("alone", "manual lr edit", "chained", "state dict saved"),
           "silent differences": ("float64 values", "float64 grads", "float32 values",
                                  "float32 grads")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", action="store_true", help="every op-table row on its own")
    args = parser.parse_args(argv)
    print(f"chainrule vs PyTorch {torch.__version__}: max |diff| (max rel. diff where "
          f"|PyTorch| >= {REL_FLOOR:g}); '-' where it does not apply")
    warnings.simplefilter("ignore")  # PyTorch's notes (padding='same' copies, ...)
    table = entries()
    labels = [f"{e.name} [{e.cases}]" if e.cases > 1 else e.name for e in table]
    width = max(map(len, labels)) + 2
    group = None
    for e, label in zip(table, labels):
        if e.group != group:
            group = e.group
            head = HEADERS.get(group, HEADERS["silent differences"])
            print(f"\n== {group}" + NOTES.get(group, ""))
            print(f"  {'[n]: cases':<{width}}" + "".join(f"{h:>{CELL}}" for h in head))
        print(f"  {label:<{width}}" + "".join(f"{str(c) if c else '-':>{CELL}}"
                                              for c in e.run()))
    if args.rows:
        print("\n== every op-table row of issue 19")
        for row in [*LOSS_ROWS, *CONV_ROWS, *TENSOR_ROWS]:
            print(f"  {row.id:<{width}}" + "".join(f"{str(c):>{CELL}}"
                                                  for c in rows_cells([row])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
