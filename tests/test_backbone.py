"""The backbone routing graph (coverage.model.backbone): cleaning, shortest-path round trips
against hand arithmetic and an independent networkx computation, hostile files, and real
Internet Topology Zoo graphs (skipped when ``shared/data`` is absent)."""

import json
import logging
import math

import networkx as nx
import numpy as np
import pytest

from coverage.errors import InputValidationError
from coverage.model.backbone import (
    DEFAULT_EDGE_FACTOR,
    Backbone,
    backbone_from_graph,
    read_backbone,
)
from coverage.model.geo import EARTH_RADIUS_KM
from tests.conftest import SHARED_DATA

ZOO = SHARED_DATA / "topology_zoo"

KM_PER_DEG = 111.19508          # 6371.0088 km * pi / 180: one degree of equator or meridian
R_MS = 2 * 1.5 * KM_PER_DEG * 4.9 / 1000   # round trip of a 1-degree link: 1.634568 ms


def line_graph(graph_cls=nx.Graph):
    """A-B-C-D on the equator at longitudes 0..3; N one degree north of A, linked to A only.

    No link joins A and D or N and D: their shortest paths are 3 and 4 hops."""
    g = graph_cls()
    for name, lat, lon in [("A", 0, 0), ("B", 0, 1), ("C", 0, 2), ("D", 0, 3), ("N", 1, 0)]:
        g.add_node(name, Latitude=lat, Longitude=lon)
    g.add_edges_from([("A", "B"), ("B", "C"), ("C", "D"), ("A", "N")])
    return g


# hops of the shortest path between each pair of line_graph, each hop one degree
HAND_HOPS = {("A", "B"): 1, ("A", "C"): 2, ("A", "D"): 3, ("A", "N"): 1, ("B", "C"): 1,
             ("B", "D"): 2, ("B", "N"): 2, ("C", "D"): 1, ("C", "N"): 3, ("D", "N"): 4}


def ms(bb: Backbone, u: str, v: str) -> float:
    ids = list(bb.node_ids)
    return float(bb.path_ms[ids.index(u), ids.index(v)])


def check_line(bb: Backbone, factor: float = 1.5) -> None:
    assert sorted(bb.node_ids) == ["A", "B", "C", "D", "N"]
    for (u, v), hops in HAND_HOPS.items():
        assert ms(bb, u, v) == pytest.approx(hops * R_MS * factor / 1.5, rel=1e-6)
        assert ms(bb, v, u) == ms(bb, u, v)
    assert np.all(np.diag(bb.path_ms) == 0)


def test_hand_arithmetic_constant():
    assert EARTH_RADIUS_KM * math.pi / 180 == pytest.approx(KM_PER_DEG, abs=1e-5)
    assert R_MS == pytest.approx(1.634568, abs=1e-6)
    assert DEFAULT_EDGE_FACTOR == 1.5


def test_line_graph_against_hand_arithmetic():
    bb = backbone_from_graph(line_graph())
    check_line(bb)
    assert ms(bb, "A", "C") == pytest.approx(2 * 1.5 * 222.39016 * 4.9 / 1000, rel=1e-6)
    assert bb.n_edges == 4 and bb.source == "<graph>" and bb.name == "<graph>"
    assert bb.dropped == {"nodes_without_coordinates": [], "edges_of_dropped_nodes": 0,
                          "self_loops": 0, "parallel_edges": 0, "edges_distance_fallback": 0,
                          "colocated_nodes_joined": 0}
    s = bb.summary()
    json.dumps(s)
    assert s["nodes"] == 5 and s["edges"] == 4
    assert s["diameter_ms"] == pytest.approx(4 * R_MS, rel=1e-6)
    # edge factor and fibre speed scale every entry
    bb2 = backbone_from_graph(line_graph(), edge_factor=2.0, fiber_us_per_km=5.0)
    assert ms(bb2, "D", "N") == pytest.approx(2 * 2.0 * 4 * KM_PER_DEG * 5.0 / 1000, rel=1e-6)
    with pytest.raises(ValueError):
        bb.path_ms[0, 1] = 0.0                               # frozen result


@pytest.mark.parametrize("suffix", [".gml", ".graphml", ".xml"])
def test_file_round_trip(tmp_path, suffix):
    g = line_graph()
    g.graph["label"] = "Line"
    path = tmp_path / f"line{suffix}"
    (nx.write_gml if suffix == ".gml" else nx.write_graphml)(g, path)
    bb = read_backbone(path)
    check_line(bb)
    assert bb.source == str(path) and bb.name == "Line"


def test_zoo_style_gml_with_undeclared_parallel_edges(tmp_path):
    # like Topology Zoo files: labels, a repeated link without "multigraph 1", string coords
    text = """graph [
  label "Tiny"
  node [ id 0 label "West" Latitude 0 Longitude 0 ]
  node [ id 1 label "East" Latitude "0.0" Longitude "1.0" ]
  node [ id 2 label "Ext" Internal 0 ]
  edge [ source 0 target 1 LinkLabel "10G" ]
  edge [ source 1 target 0 LinkLabel "1G" ]
  edge [ source 1 target 2 ]
]
"""
    path = tmp_path / "tiny.gml"
    path.write_text(text)
    bb = read_backbone(path)
    assert list(bb.node_ids) == ["West", "East"] and bb.name == "Tiny"
    assert bb.path_ms[0, 1] == pytest.approx(R_MS, rel=1e-6)
    assert bb.dropped["parallel_edges"] == 1
    assert bb.dropped["nodes_without_coordinates"] == ["Ext"]
    assert bb.dropped["edges_of_dropped_nodes"] == 1
    assert bb.n_edges == 1


def test_parallel_edges_collapse_to_the_shortest():
    g = line_graph(nx.MultiGraph)
    g.add_edge("A", "B", delay=0.4)            # 0.8 ms round trip, shorter than R_MS
    g.add_edge("A", "B", delay=9.0)
    g.add_edge("C", "D", delay=5.0)            # longer than the distance-rule C-D link
    bb = backbone_from_graph(g, latency_attr="delay")
    assert bb.dropped["parallel_edges"] == 3 and bb.n_edges == 4
    assert ms(bb, "A", "B") == pytest.approx(0.8)
    assert ms(bb, "A", "D") == pytest.approx(0.8 + 2 * R_MS, rel=1e-6)
    assert ms(bb, "C", "D") == pytest.approx(R_MS, rel=1e-6)
    # kept links from the distance rule: B-C, C-D (its distance link won) and A-N
    assert bb.dropped["edges_distance_fallback"] == 3
    # without latency_attr all four A-B links have the same length
    plain = backbone_from_graph(g)
    check_line(plain)
    assert plain.dropped["edges_distance_fallback"] == 0


def test_self_loops_dropped_and_counted():
    g = line_graph(nx.MultiGraph)
    g.add_edge("C", "C")
    g.add_edge("C", "C", delay=0.0)
    bb = backbone_from_graph(g)
    assert bb.dropped["self_loops"] == 2 and bb.n_edges == 4
    check_line(bb)


def test_node_without_coordinates_dropped_and_named(caplog):
    g = line_graph()
    g.add_node("Z", label="Z", Internal=0)
    g.add_node("Y")
    g.add_edges_from([("Z", "B"), ("Z", "D"), ("Y", "A")])
    with caplog.at_level(logging.WARNING, logger="coverage.model.backbone"):
        bb = backbone_from_graph(g)
    assert bb.dropped["nodes_without_coordinates"] == ["Z", "Y"]
    assert bb.dropped["edges_of_dropped_nodes"] == 3
    assert "2 backbone nodes without coordinates" in caplog.text and "Z, Y" in caplog.text
    check_line(bb)                                            # Z's links were not used


def test_coordinates_that_are_not_degrees_are_refused():
    """A latitude of 95 (or 147.61, a typo), infinite or text was dropped as "without
    coordinates": the users of that city attached to a node a thousand km away. They are
    refused, naming the nodes and the values (NaN and blanks stay missing)."""
    g = line_graph()
    g.add_node("Q", Latitude=95.0, Longitude=0.0)
    g.add_node("S", lat=float("inf"), lon=1.0)
    g.add_node("T", lat="north", lon="west")
    g.add_edges_from([("Q", "A"), ("S", "A"), ("T", "B")])
    with pytest.raises(InputValidationError) as info:
        backbone_from_graph(g, source="bb.gml")
    msg = str(info.value)
    assert msg.startswith("bb.gml: 3 backbone node(s) have coordinates that are not")
    assert "Q (latitude 95.0, longitude 0.0)" in msg and "S (lat inf" in msg
    assert "T (lat 'north', lon 'west')" in msg and "Fix:" in msg


def test_coordinate_attribute_spellings():
    g = nx.Graph()
    g.add_node(1, LAT=0, LON="1")
    g.add_node(2, latitude=0.0, longitude=2.0)
    g.add_node(3, y="0", x=3)
    g.add_node(4, lat=0, lng=4)
    g.add_edges_from([(1, 2), (2, 3), (3, 4)])
    bb = backbone_from_graph(g)
    assert list(bb.node_ids) == ["1", "2", "3", "4"]
    assert np.allclose(bb.node_lon, [1, 2, 3, 4]) and np.allclose(bb.node_lat, 0)
    assert bb.path_ms[0, 3] == pytest.approx(3 * R_MS, rel=1e-6)


def test_zero_latency_edge_still_connects():
    g = nx.Graph()
    g.add_node("far0", Latitude=0, Longitude=50)
    g.add_node("far1", Latitude=0, Longitude=50)  # co-located PoPs: 0 ms is physical
    g.add_node("far2", Latitude=0, Longitude=51)
    g.add_edge("far0", "far1", ow_ms=0)        # a zero-weight link must not vanish
    g.add_edge("far1", "far2", ow_ms="0.5")    # numeric string
    bb = backbone_from_graph(g, latency_attr="ow_ms")
    assert bb.path_ms[0, 1] == 0.0 and bb.path_ms[0, 2] == pytest.approx(1.0)
    assert bb.dropped["edges_distance_fallback"] == 0
    # co-located PoPs: distance-rule links of length zero connect too
    h = nx.Graph()
    for i, lon in enumerate([0.0, 0.0, 1.0]):
        h.add_node(i, Latitude=0.0, Longitude=lon)
    h.add_edges_from([(0, 1), (1, 2)])
    bb = backbone_from_graph(h)
    assert bb.path_ms[0, 1] == 0.0 and bb.path_ms[0, 2] == pytest.approx(R_MS, rel=1e-6)


def test_latency_attr_used_instead_of_distance_and_links_without_it_fall_back(caplog):
    g = line_graph()
    nx.set_edge_attributes(g, {("A", "B"): 0.5}, "lat_ms")
    g.add_edge("A", "D", lat_ms=1.2)           # direct link (333 km), 2.4 ms round trip
    g.add_edge("B", "D", lat_ms=50.0)          # slow direct link: the path avoids it
    with caplog.at_level(logging.WARNING, logger="coverage.model.backbone"):
        bb = backbone_from_graph(g, latency_attr="lat_ms")
    assert ms(bb, "A", "B") == pytest.approx(1.0)
    assert ms(bb, "A", "D") == pytest.approx(2.4)
    # B-C-D (2 x 1.63 ms) beats B-A-D (3.4 ms) and the slow direct link (100 ms)
    assert ms(bb, "B", "D") == pytest.approx(2 * R_MS, rel=1e-6)
    assert ms(bb, "B", "C") == pytest.approx(R_MS, rel=1e-6)         # none: distance rule
    assert ms(bb, "C", "N") == pytest.approx(R_MS + 1.0 + R_MS, rel=1e-6)   # C-B-A-N
    assert bb.dropped["edges_distance_fallback"] == 3
    assert bb.summary()["latency_attr"] == "lat_ms"
    assert "3 of 6 links have no 'lat_ms'" in caplog.text


def test_latency_attr_values_that_are_no_latency_are_refused():
    """-1, "abc", NaN, a value faster than light over the link's great circle, 1e308
    (overflowed to inf and cut the graph): each fell back to the distance rule or broke
    the routes without a word. They are refused, every link named with its value; an
    attribute no link has names the attributes the links do have."""
    g = line_graph()
    nx.set_edge_attributes(g, {("A", "B"): "abc", ("B", "C"): -1.0, ("C", "D"): 0.1,
                               ("A", "N"): 1e308}, "lat_ms")
    g.add_edge("A", "D", lat_ms=0.5)  # 333 km: light takes 1.11 ms, more than 0.5 + 0.5
    with pytest.raises(InputValidationError) as info:
        backbone_from_graph(g, latency_attr="lat_ms", source="bb.gml")
    msg = str(info.value)
    assert "not a number >= 0: A-B ('abc'), B-C (-1.0)" in msg
    # 0.1 ms over 111 km (light: 0.37 ms) is within the 0.5 ms of a rounded figure
    assert "faster than light over the great circle between its ends: A-D (0.5)" in msg
    assert "C-D" not in msg
    assert "above 10000 ms: A-N (1e+308)" in msg and "Fix:" in msg
    g = line_graph()
    nx.set_edge_attributes(g, 3.0, "delay")
    with pytest.raises(InputValidationError, match="no link has the attribute 'lat_ms' .* "
                                                   "the links have: delay"):
        backbone_from_graph(g, latency_attr="lat_ms")


def test_directed_graph_read_as_undirected():
    g = line_graph(nx.DiGraph)
    bb = backbone_from_graph(g)
    check_line(bb)


def test_single_node_and_duplicate_labels():
    g = nx.Graph()
    g.add_node(0, Latitude=10.0, Longitude=20.0, label="Same")
    bb = backbone_from_graph(g)
    assert bb.path_ms.tolist() == [[0.0]] and list(bb.node_ids) == ["Same"]
    assert bb.summary()["diameter_ms"] == 0.0
    g.add_node(1, Latitude=10.0, Longitude=21.0, label="Same")
    g.add_edge(0, 1)
    assert list(backbone_from_graph(g).node_ids) == ["0", "1"]    # labels not unique: ids


def test_disconnected_graph_names_components():
    g = line_graph()
    g.add_node("Island", Latitude=5, Longitude=5)
    g.add_node("Rock", Latitude=6, Longitude=5)
    g.add_node("Lone", Latitude=7, Longitude=5)
    g.add_edge("Island", "Rock")
    with pytest.raises(InputValidationError,
                       match=r"disconnected: 3 components of sizes 5, 2, 1.*"
                             r"\{Island, Rock\}; \{Lone\}.*Fix: add the missing links"):
        backbone_from_graph(g, source="net.gml")


def test_disconnected_by_dropped_node_says_so():
    g = line_graph()
    g.add_node("Far", Latitude=0, Longitude=40)
    g.add_node("Hub")                                          # no coordinates
    g.add_edges_from([("Hub", "D"), ("Hub", "Far")])
    with pytest.raises(InputValidationError,
                       match=r"2 components.*\{Far\}.*because nodes without coordinates were "
                             r"dropped \(linking components: Hub\).*Fix: give those nodes"):
        backbone_from_graph(g)


def write_bytes(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name, data, match", [
    ("empty.gml", b"", "not a readable GML graph"),
    ("empty.graphml", b"", "not a readable GraphML graph"),
    ("noise.gml", bytes(np.random.default_rng(1).integers(0, 256, 600, dtype=np.uint8)),
     "not a readable GML graph"),
    ("table.gml", b"name,lat,lon\nA,0,0\nB,0,1\n", "not a readable GML graph"),
    ("noise.xml", b"\x00\xff<<graphml", "not a readable GraphML graph"),
    ("other.xml", b"<root><item/></root>", "not a readable GraphML graph"),
    ("nograph.gml", b'Creator "me"\n', "not a readable GML graph"),
    ("badedge.gml", b"graph [ node [ id 0 ] edge [ source 0 target 7 ] ]",
     "not a readable GML graph"),
    ("nodes.gml", b"graph [ ]", "has no nodes"),
    ("unlocated.gml", b'graph [ node [ id 0 label "a" ] node [ id 1 ] edge [ source 0 '
                      b"target 1 ] ]", "no backbone node has coordinates"),
    ("net.csv", b"a,b\n", "unknown backbone file type '.csv'"),
    ("net", b"", "unknown backbone file type"),
])
def test_hostile_files(tmp_path, name, data, match):
    path = write_bytes(tmp_path, name, data)
    with pytest.raises(InputValidationError, match=match) as info:
        read_backbone(path)
    assert str(path) in str(info.value) and "Fix:" in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputValidationError, match=r"missing\.gml: backbone file not found"):
        read_backbone(tmp_path / "missing.gml")
    (tmp_path / "dir.gml").mkdir()
    with pytest.raises(InputValidationError, match="is a directory, not a backbone file"):
        read_backbone(tmp_path / "dir.gml")


@pytest.mark.parametrize("kwargs, match", [
    ({"edge_factor": 0.9}, "edge_factor must be a number from 1 to 20"),
    ({"edge_factor": 1e308}, "edge_factor must be a number from 1 to 20"),
    ({"edge_factor": float("nan")}, "edge_factor"),
    ({"edge_factor": float("inf")}, "edge_factor"),
    ({"edge_factor": "x"}, "edge_factor"),
    ({"fiber_us_per_km": 0}, "fiber_us_per_km must be a finite number > 0"),
    ({"latency_attr": ""}, "latency_attr must be a non-empty"),
])
def test_bad_parameters(tmp_path, kwargs, match):
    with pytest.raises(InputValidationError, match=match):
        backbone_from_graph(line_graph(), **kwargs)
    path = tmp_path / "line.gml"
    nx.write_gml(line_graph(), path)
    with pytest.raises(InputValidationError, match=match):
        read_backbone(path, **kwargs)


def test_empty_graph():
    with pytest.raises(InputValidationError, match="has no nodes"):
        backbone_from_graph(nx.Graph())


def test_nearest_node_against_hand_expectations():
    bb = backbone_from_graph(line_graph())
    ids = list(bb.node_ids)
    lat = np.array([0.0, 0.6, 0.0, 0.3, -2.0])
    lon = np.array([1.1, 0.0, 2.6, 3.0, 0.0])
    index, dist_km = bb.nearest_node(lat, lon)
    assert [ids[i] for i in index] == ["B", "N", "D", "D", "A"]
    assert index.dtype == np.int64 and dist_km.dtype == np.float64
    assert dist_km == pytest.approx(np.array([0.1, 0.4, 0.4, 0.3, 2.0]) * KM_PER_DEG, rel=1e-5)
    i0, d0 = bb.nearest_node([], [])
    assert i0.size == 0 and d0.size == 0
    with pytest.raises(InputValidationError, match="non-finite"):
        bb.nearest_node([0.0, np.nan], [0.0, 0.0])
    with pytest.raises(InputValidationError, match="2 latitudes but 1 longitudes"):
        bb.nearest_node([0.0, 1.0], [0.0])


# ------------------------------------------------------------------ Topology Zoo files

needs_zoo = pytest.mark.skipif(not ZOO.is_dir(), reason="shared/data/topology_zoo absent")


def independent_path_lengths(path, pairs):
    """Round trips of ``pairs`` (positions in the sorted ids of the located nodes) by hand:
    networkx's own GML reader, a math.* haversine, one Dijkstra per pair
    (nx.shortest_path_length), nothing from coverage.model."""
    g = nx.read_gml(path, label="id")
    g.remove_nodes_from([n for n, d in g.nodes(data=True) if "Latitude" not in d])
    for u, v, d in g.edges(data=True):
        p1, p2 = math.radians(g.nodes[u]["Latitude"]), math.radians(g.nodes[v]["Latitude"])
        dl = math.radians(g.nodes[v]["Longitude"] - g.nodes[u]["Longitude"])
        a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        d["rtt"] = 2 * 1.5 * 2 * 6371.0088 * math.asin(math.sqrt(a)) * 4.9 / 1000
    nodes = sorted(g)
    label = {n: d["label"] for n, d in g.nodes(data=True)}
    return g, {(label[nodes[i]], label[nodes[j]]):
               nx.shortest_path_length(g, nodes[i], nodes[j], weight="rtt") for i, j in pairs}


@needs_zoo
def test_topology_zoo_geant2012():
    path = ZOO / "Geant2012.gml"
    bb = read_backbone(path)
    assert bb.name == "Geant2012"
    assert bb.node_ids.size == 37 and bb.n_edges == 58
    assert len(bb.dropped["nodes_without_coordinates"]) == 3
    p = bb.path_ms
    assert np.array_equal(p, p.T) and np.all(np.diag(p) == 0)
    assert np.all(p[~np.eye(len(p), dtype=bool)] > 0) and np.all(np.isfinite(p))
    # triangle inequality over every (i, j, k): p[i, k] <= p[i, j] + p[j, k]
    assert np.all(p[:, None, :] <= p[:, :, None] + p[None, :, :] + 1e-9)
    g, expected = independent_path_lengths(path, [(0, 10), (3, 30), (5, 21), (12, 36), (1, 2)])
    assert g.number_of_nodes() == 37                 # 40 in the file, 3 without coordinates
    for (u, v), rtt in expected.items():
        assert ms(bb, u, v) == pytest.approx(rtt, rel=1e-9), (u, v)


@needs_zoo
def test_topology_zoo_undeclared_multigraph_and_disconnected():
    bb = read_backbone(ZOO / "AttMpls.gml")          # nx.read_gml refuses: "is duplicated"
    assert bb.node_ids.size == 25 and bb.n_edges == 56 and bb.dropped["parallel_edges"] == 1
    with pytest.raises(InputValidationError,
                       match=r"Cogentco\.gml: the backbone is disconnected: 4 components of "
                             r"sizes 181, 2, 2, 1.*nodes without coordinates were dropped"):
        # (5 components of 180, 2, 2, 1, 1 before co-located nodes were joined as one PoP)
        read_backbone(ZOO / "Cogentco.gml")


def test_blank_values_and_layout_positions_are_missing_not_wrong(caplog):
    """A graph built from a table gives unlocated nodes and links without a latency NaN or
    None, a GraphML file empty text, and yEd stores layout positions as x/y: those are
    missing values (the node dropped, the link on the distance rule), not wrong ones."""
    g = line_graph()
    g.add_node("Z", Latitude=float("nan"), Longitude=None)
    g.add_node("Y", y="-330.0", x="612.0")                    # yEd layout position
    g.add_edges_from([("Z", "B"), ("Y", "C")])
    nx.set_edge_attributes(g, {("A", "B"): 0.5, ("B", "C"): float("nan"), ("C", "D"): ""},
                           "lat_ms")
    with caplog.at_level(logging.WARNING, logger="coverage.model.backbone"):
        bb = backbone_from_graph(g, latency_attr="lat_ms")
    assert bb.dropped["nodes_without_coordinates"] == ["Z", "Y"]
    assert ms(bb, "A", "B") == pytest.approx(1.0)
    assert ms(bb, "B", "C") == pytest.approx(R_MS, rel=1e-6)
    assert bb.dropped["edges_distance_fallback"] == 3
    g = line_graph()
    nx.set_edge_attributes(g, float("nan"), "lat_ms")        # all blank: no such attribute
    with pytest.raises(InputValidationError, match="no link has the attribute 'lat_ms'"):
        backbone_from_graph(g, latency_attr="lat_ms")


def test_graphml_node_defined_twice_is_refused(tmp_path):
    """networkx keeps the last of two <node id="a"> without a word (the first one's
    coordinates are lost); GML's duplicate ids were refused already."""
    path = tmp_path / "dup.graphml"
    nx.write_graphml(line_graph(), path)
    text = path.read_text()
    first = text.index("<node ")
    node = text[first:text.index("</node>", first) + len("</node>")]
    path.write_text(text.replace(node, node + "\n" + node, 1))
    with pytest.raises(InputValidationError, match=r"dup\.graphml: node id\(s\) defined more "
                                                   r"than once: A\. Fix:"):
        read_backbone(path)
    # a node in a comment, or a tag across lines, is no second definition
    path.write_text(text.replace(node, node + "\n<!-- " + node + " -->", 1)
                    .replace("<node ", "<node\n   ", 1))
    read_backbone(path)


def test_a_backbone_too_large_for_its_table_is_refused_before_routing():
    """200,000 nodes ended in "internal error: MemoryError: Unable to allocate 298 GiB"."""
    from coverage.model.backbone import MAX_BACKBONE_NODES

    n = MAX_BACKBONE_NODES + 1
    g = nx.path_graph(n)
    nx.set_node_attributes(g, {i: {"lat": (i % 170) - 85.0, "lon": (i // 170) % 360 - 180.0}
                               for i in range(n)})
    with pytest.raises(InputValidationError, match=r"10,001 located nodes, more than 10,000: "
                                                   r"the table .* 0\.7 GiB"):
        backbone_from_graph(g)


def test_a_graph_cut_by_a_dropped_node_says_so_beside_colocated_nodes():
    """Review 117: once co-located nodes were joined, a graph disconnected by a node
    without coordinates lost that explanation (the raw links had no twin links)."""
    g = nx.Graph()
    g.add_node("A", lat=0.0, lon=0.0)
    g.add_node("B", lat=0.0, lon=2.0)
    g.add_node("X")  # no coordinates: dropped, and A - X - B with it
    g.add_node("C", lat=0.0, lon=0.0)  # at A's place
    g.add_node("D", lat=0.0, lon=0.5)
    g.add_edges_from([("A", "X"), ("X", "B"), ("C", "D")])
    with pytest.raises(InputValidationError, match="nodes without coordinates were dropped"):
        backbone_from_graph(g)
