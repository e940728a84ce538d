"""viz: draw the computational graph the engine records, with values and gradients.

    loss = ((W @ x + b).sigmoid() - t).sum()
    cr.viz.watch(loss)                      # gradients on every op node (optional)
    loss.backward()
    g = cr.viz.draw_graph(loss, "graph.svg", names={"W": W, "x": x})
    print(g.to_dot())                       # Graphviz DOT text, for any viewer
    cr.viz.unwatch(loss)                    # removes the hooks watch put there

PNG and SVG are drawn with matplotlib and a layered layout computed here, so no system
Graphviz is needed.
"""

from chainrule.viz.capture import unwatch, watch
from chainrule.viz.graph import Graph, build_graph, draw_graph
from chainrule.viz.node import GraphError, GraphNode
