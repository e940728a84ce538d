"""The graph view: structure, values and gradients per node, DOT, PNG and SVG."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.explain import example, trace
from chainrule.viz import GraphError, build_graph, draw_graph, watch
from chainrule.viz.draw import layout
from chainrule.viz.network import network_graph

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def small():
    w = cr.tensor(np.array([0.5, -1.0]), requires_grad=True)
    x = cr.tensor(np.array([2.0, 1.0]))
    z = (w * x).sum()
    a = z.tanh()
    return w, x, z, a


def test_structure_values_and_gradients():
    w, x, z, a = small()
    watch(a)
    a.backward()
    g = build_graph(a, names={"w": w, "z": z})
    assert [n.title for n in g.ops()] == ["Mul", "z = Sum", "Tanh"]
    assert g.root.is_root and g.root.value == pytest.approx(np.tanh(0.0))
    assert g.node("w").kind == "leaf" and g.node("w").grad == pytest.approx([2.0, 1.0])
    assert g.node("z").value == pytest.approx(0.0)
    assert g.node("z").grad == pytest.approx(1.0)  # tanh'(0) = 1
    mul = g.ops()[0]
    assert g.nodes[mul.inputs[1]].kind == "const"  # x needs no grad: not recorded
    # Inputs come before their consumers.
    for n in g.nodes:
        assert all(i < n.id for i in n.inputs)


def test_gradients_sum_where_paths_meet():
    x = cr.tensor(np.array([3.0]), requires_grad=True)
    y = x * 2
    out = (y * y).sum()  # y used twice: dL/dy = y + y, summed over both uses
    watch(out)
    out.backward()
    g = build_graph(out, names={"y": y})
    assert g.node("y").grad == pytest.approx([12.0])
    assert len(g.node("y").inputs) == 2


def test_graph_of_the_lecture_matches_explain():
    spec = example("lecture")
    g = network_graph(spec)
    rec = trace(spec)
    for k in range(2):
        assert g.node(f"z{k}").value == pytest.approx([n.z for n in rec.layer_neurons(k)])
        assert g.node(f"z{k}").grad == pytest.approx([n.dl_dz for n in rec.layer_neurons(k)])
        assert g.node(f"a{k}").grad == pytest.approx([n.dl_da for n in rec.layer_neurons(k)])
    expected = [[rec.weight(0, j, i).dl_dw for i in range(2)] for j in range(2)]
    assert g.node("W0").grad == pytest.approx(np.array(expected))
    assert g.root.value == pytest.approx(rec.loss)


def test_dot_export():
    w, x, z, a = small()
    g = draw_graph(a, names={'say "hi"': w})
    dot = g.to_dot()
    assert dot.startswith("digraph chainrule {") and dot.rstrip().endswith("}")
    assert dot.count(" -> ") == sum(len(n.inputs) for n in g.nodes)
    assert 'say \\"hi\\"' in dot  # quotes escaped
    for n in g.nodes:
        assert f"  n{n.id} [" in dot


@pytest.mark.parametrize("suffix", ["png", "svg", "dot"])
def test_files(tmp_path, suffix):
    g = network_graph(example("mlp"))
    path = tmp_path / f"g.{suffix}"
    g.draw(path)
    data = path.read_bytes()
    if suffix == "png":
        assert data.startswith(PNG_MAGIC)
    elif suffix == "svg":
        assert ET.fromstring(data).tag.endswith("svg")
    else:
        assert data.startswith(b"digraph")


def test_draw_graph_writes_and_rejects_unknown_formats(tmp_path):
    _, _, _, a = small()
    draw_graph(a, tmp_path / "a.svg")
    draw_graph(a, tmp_path / "a.out", fmt="png")
    assert (tmp_path / "a.out").read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(GraphError, match="unknown format"):
        draw_graph(a, tmp_path / "a.pdf")
    with pytest.raises(GraphError, match="needs a path"):
        draw_graph(a, fmt="png")
    assert "<svg" in draw_graph(a)._repr_svg_()


def test_a_leaf_alone():
    t = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    g = build_graph(t)
    assert len(g.nodes) == 1 and g.root.kind == "leaf"
    assert layout(g) == {0: (0, 0)}


def test_deep_graph_needs_no_recursion():
    x = cr.tensor(np.array(0.5), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    watch(y)
    y.backward()
    g = build_graph(y)
    assert len(g.ops()) == 5000
    assert g.nodes[0].kind in ("leaf", "const")
    assert g.to_dot().count(" -> ") == 10000
    assert len(layout(g, sweeps=1)) == len(g.nodes)


def test_layout_points_edges_forward():
    g = network_graph(example("mlp"))
    pos = layout(g)
    for n in g.nodes:
        for i in n.inputs:
            assert pos[i][0] < pos[n.id][0]


def test_cli(tmp_path, capsys):
    assert main(["graph"]) == 0
    assert capsys.readouterr().out.startswith("digraph")
    path = tmp_path / "x.png"
    assert main(["graph", "xor", "--sample", "3", "-o", str(path)]) == 0
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert main(["graph", "softmax", "--no-backward", "--format", "svg", "-o",
                 str(tmp_path / "y")]) == 0
    assert ET.parse(tmp_path / "y").getroot().tag.endswith("svg")


@pytest.mark.parametrize("argv, message", [
    (["graph", "nosuch"], 'unknown example "nosuch"'),
    (["graph", "batch", "--sample", "5"], "--sample: expected 0 to 1"),
    (["graph", "-o", "g.pdf"], "unknown format"),
    (["graph", "--format", "png"], "needs -o FILE"),
])
def test_cli_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainrule graph: error: ") and message in err


def test_svg_keeps_its_text_as_text(tmp_path):
    import matplotlib

    before = matplotlib.rcParams["svg.fonttype"]
    g = network_graph(example("lecture"))
    svg = g.draw(tmp_path / "g.svg").read_text("utf-8")
    assert "<text" in svg and ">z0 = Add<" in svg and "DejaVu Sans Mono" in svg
    assert ">z0 = Add<" in g._repr_svg_()  # the notebook view too
    assert matplotlib.rcParams["svg.fonttype"] == before  # only during the save


@pytest.mark.parametrize("build", ["lecture", "leaf"])
def test_the_drawing_says_what_colours_and_borders_mean(build):
    from matplotlib.colors import same_color

    from chainrule.viz.draw import FILL, GRAD, LEGEND, figure

    if build == "lecture":
        g = network_graph(example("lecture"))
    else:  # the narrowest drawing: the legend wraps into one column, inside the figure
        g = build_graph(cr.tensor(np.array([1.0, 2.0]), requires_grad=True))
    fig = figure(g)
    (legend,) = fig.legends
    texts = legend.get_texts()
    assert [t.get_text() for t in texts] == list(LEGEND.values())
    assert same_color(texts[-1].get_color(), GRAD)
    boxes = legend.legend_handles[:4]
    assert [same_color(b.get_facecolor(), FILL[k]) for b, k in
            zip(boxes, ("op", "leaf", "const", "op"))] == [True] * 4
    assert boxes[3].get_linewidth() > boxes[0].get_linewidth()  # the root's thick border
    box = legend.get_window_extent()
    assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig.bbox.width


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_a_failed_save_leaves_the_earlier_drawing_whole(tmp_path, monkeypatch, suffix):
    from matplotlib.figure import Figure

    def savefig(self, fname, **kwargs):  # half a picture, then a full disk
        fname.write(b"half") if hasattr(fname, "write") else fname.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    target = tmp_path / f"g.{suffix}"
    target.write_bytes(b"the earlier drawing")
    monkeypatch.setattr(Figure, "savefig", savefig)
    with pytest.raises(OSError, match="No space"):
        network_graph(example("lecture")).draw(target)
    assert target.read_bytes() == b"the earlier drawing"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left
