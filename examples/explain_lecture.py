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

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--lang", choices=("en", "zh"), default="en")
parser.add_argument("--figure", help="also write the two-panel figure (.png or .svg)")
args = parser.parse_args()

record = explain.trace("lecture")  # record first ...
explain.print_tables(record, lang=args.lang)  # ... render second

# The same numbers, read from the record: one hidden neuron, by the lecture's recursion.
h = record.neuron(layer=0, index=0)
out = record.layer_neurons(1)
w = [record.weight(1, k, 0).value for k in range(2)]  # weights from h to the outputs
case2 = h.sigma_prime * sum(wk * o.dl_dz for wk, o in zip(w, out))
print(f"\ncase 2 by hand: dl/dz = σ'(z)·Σ_k w_k·dl/dz_k = {h.sigma_prime:.6f} · "
      f"({w[0]:g}·({out[0].dl_dz:.6f}) + ({w[1]:g})·({out[1].dl_dz:.6f})) = {case2:.6f}")
print(f"the engine's dl/dz (hook on z):                  {h.dl_dz:.6f}")

w00 = record.weight(0, 0, 0)
print(f"dl/dw for w[0←0] of layer 0: dz/dw × dl/dz = {w00.dz_dw[0]:g} × {w00.dl_dz[0]:.6f}"
      f" = {w00.dl_dw:.6f}; autograd {w00.autograd:.6f}; finite difference "
      f"{w00.numeric:.6f}")

if not record.agrees():
    raise SystemExit("the product, autograd and the finite difference disagree")
if args.figure:
    explain.draw_figure(record, args.figure, lang=args.lang)
    print(f"figure: {args.figure}")
