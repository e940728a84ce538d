"""playground: backpropagation live in the browser, driven by the real engine.

``chainrule playground`` serves a page in the spirit of TensorFlow Playground (datasets,
features, layers, activations, regularization, play and pause, heat maps, loss curves)
whose every number comes from chainrule's engine in the server process; click a neuron
and the page shows its ledger, the same JSON document ``chainrule explain --json`` gives
for the exported network file. The server needs the ``playground`` extra (Starlette,
uvicorn, websockets); this package's sessions and protocol do not::

    from chainrule.playground import Session
    s = Session({"dataset": "xor", "hidden": [6, 6]})
    s.step(50)
    s.loss, s.accuracy
    s.ledger(sample=3)      # explain's JSON document for point 3
    s.export(sample=3)      # the network file `chainrule explain` reads

docs/playground.md describes the page and its HTTP API.
"""

from chainrule.playground.config import DEFAULTS, ConfigError
from chainrule.playground.session import Diverged, Session, Sessions
