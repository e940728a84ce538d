"""Terminal tables: the four sections of the explain view, rendered from a ``Record``.

1. forward pass: z = sum_i w_i a_i + b and a = sigma(z) for every neuron, with the sum
   written out in numbers;
2. backward pass, output layer first: dl/da (case 1 from the loss, case 2 as
   sum_k w_kj dl/dz_k), the amplifier sigma'(z), and dl/dz = sigma'(z) dl/da;
3. the chain rule per weight: dl/dw = dz/dw x dl/dz next to autograd and the finite
   difference, and the largest disagreement;
4. gradient descent: w - lr dL/dw, and the loss before and after.
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from chainrule.explain.record import Record, WeightRecord
from chainrule.explain.text import num, paren, sci, text

#: Terms written out in a sum before it is shortened with "+ ...".
MAX_TERMS = 4
#: With more samples than this, the chain-rule table shows only the sums (JSON has all).
MAX_SAMPLE_COLUMNS = 4
#: Width used when the output is not a terminal (a file, a pipe, a test).
PIPE_WIDTH = 120


def render(record: Record, lang: str = "en", neuron: tuple[int, int] | None = None,
           top: int | None = None) -> Group:
    """All four sections as one rich renderable.

    ``neuron=(layer, index)`` keeps only that neuron's rows and its incoming weights (a
    record traced with ``focus`` is always shown for its neuron). ``top=K`` keeps, per
    neuron, the K weights with the largest |dL/dw| (and the bias) in sections 3 and 4.
    """
    T = text(lang)
    if neuron is None and record.focus is not None:
        neuron = record.focus
    parts = [_header(record, T)]
    if neuron is not None:
        parts.append(Text(T["focus"].format(layer=neuron[0], index=neuron[1]), style="italic"))
    parts += [_forward(record, T, neuron), _backward(record, T, neuron),
              _chain(record, T, neuron, top), _descent(record, T, neuron, top)]
    return Group(*parts)


def print_tables(record: Record, lang: str = "en", console: Console | None = None,
                 neuron: tuple[int, int] | None = None, top: int | None = None) -> None:
    """Print the four sections to ``console`` (stdout by default, 120 wide when piped)."""
    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=PIPE_WIDTH)
    console.print(render(record, lang, neuron, top))


def tables_text(record: Record, lang: str = "en", width: int = PIPE_WIDTH,
                neuron: tuple[int, int] | None = None, top: int | None = None) -> str:
    """The tables as plain text (no colour codes), e.g. for docs and tests."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False)
    console.print(render(record, lang, neuron, top))
    return buf.getvalue()


# --- sections ----------------------------------------------------------------------------


def _table(columns: list[tuple[str, str]], rows: list[list[str] | None]) -> Table:
    """A table from (header, kind) columns and rows (None = a section break).

    kind "n" is a number (right-aligned, never wrapped or shortened: its width is kept),
    "b" a bold number, "t" text (may wrap when the terminal is narrow).
    """
    table = Table(box=box.SIMPLE_HEAVY, pad_edge=False, show_edge=False)
    for c, (header, kind) in enumerate(columns):
        if kind == "t":
            table.add_column(header, overflow="fold")
            continue
        widest = max([len(row[c]) for row in rows if row is not None] + [1])
        table.add_column(header, justify="left" if kind == "l" else "right", no_wrap=True,
                         min_width=widest,
                         style="bold" if kind == "b" else None)
    for i, row in enumerate(rows):
        if row is None:
            if 0 < i < len(rows) - 1:
                table.add_section()
        else:
            table.add_row(*row)
    return table


def _section(title: str, rule: str, table: Table, *notes: Text | str) -> Group:
    """A section: its heading (title and formula), the table, notes, a blank line."""
    heading = Text(title, style="bold")
    heading.append(f"   {rule}", style="bold cyan")
    lines = [heading, table]
    lines += [n if isinstance(n, Text) else Text(n, style="dim") for n in notes]
    return Group(*lines, Text(""))


def _vec(values) -> str:
    return "(" + ", ".join(num(v) for v in values) + ")"


def _header(r: Record, T: dict) -> Group:
    if "checkpoint" in r.meta:
        return _checkpoint_header(r, T)
    sizes = "-".join(str(s) for s in r.sizes)
    lines = [
        Text(T["title"].format(name=r.name), style="bold"),
    ]
    description = T.get(f"example.{r.name}", r.description)
    if description:
        lines.append(Text(description, style="italic"))
    lines.append(Text(
        f"{T['network']} {sizes} · {T['activations']}{T[':']}{', '.join(r.activations)} · "
        f"{T['lr']} η = {num(r.lr)}"
    ))
    lines.append(Text(f"{T['loss_function']}{T[':']}{T['loss.' + r.loss_name]}"
                      + (f" · {T['total_loss']}" if r.several else "")))
    for n in range(r.n_samples):
        who = f"{T['sample']} {n}: " if r.several else ""
        lines.append(Text(
            f"{who}{T['input']} x = {_vec(r.inputs[n])}   {T['target']} t = {_vec(r.targets[n])}"
            f"   {T['output']} y = {_vec(r.outputs[n])}   l = {num(r.losses[n], 6)}"
        ))
    return Group(*lines, Text(""))


def _checkpoint_header(r: Record, T: dict) -> Group:
    """Where a checkpoint's network and sample come from, instead of the raw vectors."""
    m = r.meta
    names = m["class_names"]
    lines = [Text(T["title"].format(name=r.name), style="bold")]
    run = T["ckpt_file"].format(path=m["checkpoint"])
    if m.get("epoch") is not None:
        run += T["ckpt_epoch"].format(epoch=m["epoch"])
    if m.get("test_accuracy") is not None:
        run += T["ckpt_accuracy"].format(acc=f"{m['test_accuracy']:.4f}")
    lines.append(Text(run))
    lines.append(Text(T["ckpt_sample"].format(
        n=m["sample"], dataset=m["dataset"], total=m["test_samples"],
        true=names[m["true_class"]], pred=names[m["predicted_class"]],
        p=num(m["probability"], 4)), style="bold"))
    lines.append(Text(f"{T['network']} {'-'.join(str(s) for s in r.sizes)}"))
    last = r.n_layers - 1
    for k, source in enumerate(m["layers"]):
        source = source.replace(" (folded)", T["ckpt_folded"]).replace(
            " (identity in eval mode)", T["ckpt_identity"])
        key = "ckpt_output_layer" if k == last else "ckpt_layer"
        lines.append(Text(f"  {T[key].format(k=k, n=r.sizes[k + 1])}{T[':']}{source}",
                          style="dim"))
    if m.get("batch_norm_folded"):
        lines.append(Text(T["ckpt_fold"].format(value=sci(m["fold_check"]),
                                                n=m["fold_check_samples"])))
    else:
        lines.append(Text(T["ckpt_eval"].format(value=sci(m["fold_check"]),
                                                n=m["fold_check_samples"])))
    lines.append(Text(f"{T['loss_function']}{T[':']}{T['loss.' + r.loss_name]}"
                      + T["ckpt_target"].format(true=names[m["true_class"]])))
    lines.append(Text(f"{T['output']} y = {_vec(r.outputs[0])}   l = {num(r.losses[0], 6)}"))
    lines.append(Text(T["ckpt_step"].format(lr=num(r.lr), optimizer=m["optimizer"],
                                            batch=m["batch_size"]), style="dim"))
    if m.get("neuron_chosen") == "strongest" and r.focus is not None:
        lines.append(Text(T["ckpt_chosen"].format(layer=r.focus[0], index=r.focus[1]),
                          style="dim"))
    return Group(*lines, Text(""))


def _keep(neuron, layer: int, index: int) -> bool:
    return neuron is None or (layer, index) == tuple(neuron)


def _sum_expr(weights: list[float], inputs: list[float], bias: float | None,
              more_text: str = "… ({n} more)") -> str:
    """'1·1 + (-2)·(-1) + 1' with at most MAX_TERMS products written out.

    A longer sum keeps its MAX_TERMS - 1 largest products |w·a|, largest first, and says
    how many it leaves out: '0.9·1 + (-0.5)·0.75 + 0.3·0.5 + … (61 more) + 0.1'.
    """
    pairs = list(zip(weights, inputs))
    more = 0
    if len(pairs) > MAX_TERMS:
        more = len(pairs) - (MAX_TERMS - 1)
        pairs = sorted(pairs, key=lambda p: -abs(p[0] * p[1]))[:MAX_TERMS - 1]
    terms = [f"{paren(w)}·{paren(a)}" for w, a in pairs]
    if more:
        terms.append(more_text.format(n=more))
    if bias is not None:
        terms.append(paren(bias))
    return " + ".join(terms)


def _shown(r: Record, k: int, neuron, top: int | None) -> tuple[list[WeightRecord], int]:
    """The weights of layer k to show, and how many of them ``top`` left out.

    With ``top``, each neuron keeps its ``top`` weights with the largest |dL/dw| (largest
    first) and its bias; otherwise all, in index order.
    """
    rows = [w for w in r.layer_weights(k) if _keep(neuron, k, w.to)]
    if not top:
        return rows, 0
    out, left = [], 0
    for j in dict.fromkeys(w.to for w in rows):
        mine = [w for w in rows if w.to == j and not w.is_bias]
        ranked = sorted(mine, key=lambda w: -abs(w.dl_dw))
        out += ranked[:top] + [w for w in rows if w.to == j and w.is_bias]
        left += max(len(mine) - top, 0)
    return out, left


def _forward(r: Record, T: dict, neuron) -> Group:
    columns = [(T["layer"], "n"), (T["neuron"], "n"), (T["z_expr"], "t"), ("z", "n"),
               ("a = σ(z)", "b")]
    if r.several:
        columns.insert(0, (T["sample"], "n"))
    rows: list = []
    for n in range(r.n_samples):
        for k in range(r.n_layers):
            inputs = r.layer_input(k, n)
            for nr in r.layer_neurons(k, n):
                if not _keep(neuron, k, nr.index):
                    continue
                ws = [r.weight(k, nr.index, i).value for i in range(len(inputs))]
                b = r.weight(k, nr.index, "bias").value
                row = [str(k), str(nr.index), _sum_expr(ws, inputs, b, T["more"]), num(nr.z),
                       num(nr.a)]
                rows.append(([str(n)] if r.several else []) + row)
        rows.append(None)
    return _section(T["forward"], T["forward_rule"], _table(columns, rows), T["forward_note"])


def _backward(r: Record, T: dict, neuron) -> Group:
    columns = [(T["layer"], "n"), (T["neuron"], "n"), (T["case"], "t"), (T["rule"], "t"),
               ("dl/da", "n"), ("σ'(z)", "n"), ("dl/dz", "b")]
    if r.several:
        columns.insert(0, (T["sample"], "n"))
    rows: list = []
    last = r.n_layers - 1
    for n in range(r.n_samples):
        for k in range(last, -1, -1):
            for nr in r.layer_neurons(k, n):
                if not _keep(neuron, k, nr.index):
                    continue
                if k == last:
                    case = T["case1"]
                    y, tgt = num(nr.a), paren(float(r.targets[n][nr.index]))
                    rule = T["dl_dy." + r.loss_name]
                    if r.loss_name == "cross_entropy":
                        # The column is dl/da = dl/dy = -t / y; softmax then gives dl/dz
                        # = y - t directly (the targets are a distribution: check_targets).
                        rule = f"{rule} = −{tgt} / {y};  dl/dz = y − t = {y} − {tgt}"
                    elif r.loss_name == "squared_error":
                        rule = f"{rule} = 2({y} − {tgt})"
                    else:
                        rule = f"{rule} = {y} − {tgt}"
                else:
                    case = T["case2"]
                    nxt = r.layer_neurons(k + 1, n)
                    ws = [r.weight(k + 1, m.index, nr.index).value for m in nxt]
                    rule = _sum_expr(ws, [m.dl_dz for m in nxt], None, T["more"])
                row = [str(k), str(nr.index), case, rule, num(nr.dl_da), num(nr.sigma_prime),
                       num(nr.dl_dz)]
                rows.append(([str(n)] if r.several else []) + row)
        rows.append(None)
    notes = [T["backward_note"]]
    if r.loss_name == "cross_entropy":
        notes.append(T["softmax_note"])
    if neuron is not None and r.activations[neuron[0]] == "relu":
        off = [nr for nr in r.layer_neurons(neuron[0]) if nr.index == neuron[1]
               and nr.sigma_prime == 0]
        if off:
            notes.append(Text(T["relu_off"].format(z=num(off[0].z)), style="bold yellow"))
    return _section(T["backward"], T["backward_rule"], _table(columns, rows), *notes)


def _weight_label(w: WeightRecord) -> str:
    """w[j←i] for a weight into neuron j from input i, b[j] for a bias."""
    return f"b[{w.to}]" if w.is_bias else f"w[{w.to}←{w.from_}]"


def _chain(r: Record, T: dict, neuron, top: int | None = None) -> Group:
    per_sample = r.several and r.n_samples <= MAX_SAMPLE_COLUMNS
    columns = [(T["layer"], "n"), (T["weight"], "l"), ("w", "n")]
    if not r.several:
        columns += [("dz/dw", "n"), ("dl/dz", "n"), (f"dl/dw = {T['product']}", "b")]
    else:
        if per_sample:
            columns += [(T["product_sample"].format(n=n), "n") for n in range(r.n_samples)]
        columns.append((T["sum"], "b"))
    columns += [(T["autograd"], "n"), (T["numeric"], "n"), ("|Δ|", "n")]
    rows: list = []
    left_out = 0
    for k in range(r.n_layers):
        shown, left = _shown(r, k, neuron, top)
        left_out += left
        for w in shown:
            if not r.several:
                middle = [num(w.dz_dw[0]), num(w.dl_dz[0])]
            else:
                middle = [num(p) for p in w.products] if per_sample else []
            rows.append([str(k), _weight_label(w), num(w.value), *middle, num(w.dl_dw, 6),
                         num(w.autograd, 6), num(w.numeric, 6), sci(w.disagreement)])
        rows.append(None)
    ok = r.agrees()
    summary = Text(T["agree"].format(value=sci(r.max_disagreement), eps=sci(r.eps)) + "  ")
    if ok:
        summary.append(T["agree_ok"], style="bold green")
    elif r.kinks:
        where = ", ".join(f"{n.layer}:{n.index}" for n in r.kinks)
        summary.append(T["agree_kink"].format(where=where), style="bold yellow")
    else:
        summary.append(T["agree_bad"], style="bold red")
    notes: list = [summary]
    if left_out:
        notes.insert(0, T["top_note"].format(top=top, left=left_out))
    if r.several:
        notes.insert(0, T["per_sample_note"])
        notes.append(T["per_sample_check"].format(value=sci(r.per_sample_check)))
    notes.append(T["chain_check"].format(value=sci(r.chain_rule_check)))
    return _section(T["chain"], T["chain_rule"], _table(columns, rows), *notes)


def _descent(r: Record, T: dict, neuron, top: int | None = None) -> Group:
    columns = [(T["layer"], "n"), (T["weight"], "l"), ("w", "n"), ("dL/dw", "n"),
               (T["updated"], "b")]
    rows: list = []
    for k in range(r.n_layers):
        for w in _shown(r, k, neuron, top)[0]:
            rows.append([str(k), _weight_label(w), num(w.value), num(w.dl_dw, 6),
                         num(w.updated, 6)])
        rows.append(None)
    loss = Text(f"{T['loss_before']} = {num(r.loss, 6)}  →  {T['loss_after']}{T[':']}"
                f"{num(r.loss_after, 6)}", style="bold")
    return _section(T["descent"], T["descent_rule"].format(lr=num(r.lr)),
                    _table(columns, rows), loss)


# --- --modes: forward mode against reverse mode ----------------------------------------

#: Gradients listed in the --modes table before "... (n more)" (JSON has all).
MAX_MODE_ROWS = 16


def modes_text(m, lang: str = "en", width: int = PIPE_WIDTH) -> str:
    """The --modes section as plain text (``m``: explain.modes.ModesRecord)."""
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, force_terminal=False).print(
        _modes(m, text(lang)))
    return buf.getvalue()


def print_modes(m, lang: str = "en") -> None:
    console = Console()
    if not console.is_terminal:
        console = Console(width=PIPE_WIDTH)
    console.print(_modes(m, text(lang)))


def _modes(m, T: dict) -> Group:
    fm, rm = m.forward_mode, m.reverse_mode
    cost = _table(
        [(T["mode"], "l"), (T["passes"], "l"), (T["multiply_adds"], "n"), (T["time"], "n")],
        [[T["forward_mode"], T["passes_forward"].format(p=fm.passes), f"{fm.multiply_adds:,}",
          f"{1e3 * fm.seconds:.3g} ms"],
         [T["reverse_mode"], T["passes_reverse"], f"{rm.multiply_adds:,}",
          f"{1e3 * rm.seconds:.3g} ms"],
         None,
         [T["ratio"], "", f"{fm.multiply_adds / rm.multiply_adds:.3g}×",
          f"{fm.seconds / rm.seconds:.3g}×"]])
    rows = [[str(k), f"w[{j}←{i}]" if i != "bias" else f"b[{j}]", num(f, 6), num(r, 6),
             sci(abs(f - r))]
            for (k, j, i), f, r in list(zip(m.labels, m.by_forward, m.by_reverse))[
                :MAX_MODE_ROWS]]
    grads = _table([(T["layer"], "n"), (T["weight"], "l"), (T["forward_mode"], "n"),
                    (T["reverse_mode"], "n"), ("|Δ|", "n")], rows)
    same = Text(T["modes_same"].format(value=sci(m.max_difference)) + "  ")
    same.append(T["modes_ok"] if m.max_difference <= 1e-9 else T["agree_bad"],
                style="bold green" if m.max_difference <= 1e-9 else "bold red")
    notes = [T["modes_counts"].format(f=f"{m.forward_pass:,}", b=f"{m.backward_pass:,}",
                                      n=m.samples, r=m.repeats), same]
    if m.parameters > MAX_MODE_ROWS:
        notes.insert(0, T["more"].format(n=m.parameters - MAX_MODE_ROWS))
    return Group(_section(T["modes"], T["modes_rule"].format(p=m.parameters), cost),
                 grads, *[n if isinstance(n, Text) else Text(n, style="dim") for n in notes],
                 Text(""))
