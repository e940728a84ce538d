"""explain: the lecture's backpropagation, laid out with real numbers from the real engine.

Record first, render second::

    from chainrule import explain
    rec = explain.trace("lecture")          # or a Spec, a dict, a path to a network file
    explain.print_tables(rec, lang="zh")    # forward pass, backward pass, check, update
    explain.draw_figure(rec, "lecture.png") # forward network | reversed network
    rec.to_json()                           # the same numbers as one JSON document

A trained MLP (a ``chainrule train`` checkpoint) is explained one neuron at a time::

    rec = explain.trace_checkpoint("runs/digits-mlp", sample=7, neuron=(1, 3))

For every weight, dl/dw = dz/dw * dl/dz: dz/dw is the input the weight multiplies
(forward pass), dl/dz comes from the reversed network run from the output with each
sigma'(z) as an amplifier (backward pass). The record checks the product against the
engine's autograd and central finite differences.
"""

from chainrule.explain.checkpoint import ModelError, trace_checkpoint
from chainrule.explain.examples import EXAMPLES, example
from chainrule.explain.figure import draw_figure, make_figure
from chainrule.explain.fonts import FontWarning
from chainrule.explain.record import BIAS, NeuronRecord, Record, WeightRecord
from chainrule.explain.spec import (
    ACTIVATIONS,
    LOSSES,
    Layer,
    Spec,
    SpecError,
    load_spec,
    parse_spec,
)
from chainrule.explain.table import print_tables, tables_text
from chainrule.explain.tracing import as_spec, trace
