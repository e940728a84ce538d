"""One box of the graph drawing, ``GraphNode``, and ``GraphError``: what every part of viz
shares, so that the graph, its renderers and the hooks that watch it import only down."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chainrule.errors import ChainruleError


class GraphError(ChainruleError, ValueError):
    """A graph that cannot be built or drawn as asked."""


@dataclass
class GraphNode:
    """One box of the drawing.

    ``kind`` is "op" (a recorded primitive), "leaf" (a tensor that requires grad and was
    made by no op: a parameter or input) or "const" (an input the engine did not record).
    ``inputs`` are the ids of the nodes feeding this one, in argument order.
    """

    id: int
    kind: str
    name: str
    shape: tuple
    inputs: list[int] = field(default_factory=list)
    label: str | None = None
    value: np.ndarray | None = None
    grad: np.ndarray | None = None
    is_root: bool = False

    @property
    def title(self) -> str:
        """The first line of the box: 'label = Name' for a named op, else one of them."""
        if self.kind == "op":
            return f"{self.label} = {self.name}" if self.label else self.name
        return self.label or self.name
