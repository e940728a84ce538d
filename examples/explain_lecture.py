"""The lecture's backpropagation example, with real numbers from chainrule's engine.

    python examples/explain_lecture.py                 # tables in English
    python examples/explain_lecture.py --lang zh       # 中文
    python examples/explain_lecture.py --figure lecture.png

x = (1, -1) goes through two sigmoid neurons with weights (1, -2), (-1, 1) and biases
1, 0, giving a = (0.98, 0.12), then through the output layer to y = (0.86, 0.11); the
target is (0, 1). For every weight, dl/dw = dz/dw (the input it multiplies: forward
pass) x dl/dz (from the reversed network: backward pass). explain reads z, a, dl/da and
dl/dz from the engine through hooks and checks the product against autograd and a
finite difference before taking one gradient-descent step.
"""

import argparse

from chainrule import explain
from chainrule.explain.text import text

# This script's own lines, in both languages (the tables come from explain's phrase table).
LINES = {
    "en": {"case2": "case 2 by hand: dl/dz = σ'(z)·Σ_k w_k·dl/dz_k",
           "engine": "the engine's dl/dz (hook on z):                 ",
           "w00": "dl/dw for w[0←0] of layer 0: dz/dw × dl/dz",
           "autograd": "autograd", "numeric": "finite difference",
           "disagree": "the product, autograd and the finite difference disagree"},
    "zh": {"case2": "情况二，手算：dl/dz = σ'(z)·Σ_k w_k·dl/dz_k",
           "engine": "引擎的 dl/dz（z 上的钩子）：                    ",
           "w00": "第 0 层 w[0←0] 的 dl/dw：dz/dw × dl/dz",
           "autograd": "自动微分", "numeric": "数值微分",
           "disagree": "乘积、自动微分与数值微分不一致"},
}

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--lang", choices=("en", "zh"), default="en")
parser.add_argument("--figure", help="also write the two-panel figure (.png or .svg)")
args = parser.parse_args()
say = LINES[args.lang]

record = explain.trace("lecture")  # record first ...
explain.print_tables(record, lang=args.lang)  # ... render second

# The same numbers, read from the record: one hidden neuron, by the lecture's recursion.
h = record.neuron(layer=0, index=0)
out = record.layer_neurons(1)
w = [record.weight(1, k, 0).value for k in range(2)]  # weights from h to the outputs
case2 = h.sigma_prime * sum(wk * o.dl_dz for wk, o in zip(w, out))
print(f"\n{say['case2']} = {h.sigma_prime:.6f} · "
      f"({w[0]:g}·({out[0].dl_dz:.6f}) + ({w[1]:g})·({out[1].dl_dz:.6f})) = {case2:.6f}")
print(f"{say['engine']} {h.dl_dz:.6f}")

w00 = record.weight(0, 0, 0)
print(f"{say['w00']} = {w00.dz_dw[0]:g} × {w00.dl_dz[0]:.6f} = {w00.dl_dw:.6f}; "
      f"{say['autograd']} {w00.autograd:.6f}; {say['numeric']} {w00.numeric:.6f}")

if not record.agrees():
    raise SystemExit(say["disagree"])
if args.figure:
    explain.draw_figure(record, args.figure, lang=args.lang)
    print(text(args.lang)["fig_written"].format(path=args.figure))
