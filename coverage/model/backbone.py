"""Backbone routing graph: read, clean and route an operator network (``--backbone FILE``).

A backbone file (GML, e.g. an Internet Topology Zoo file, or GraphML) gives PoPs with
coordinates and the links between them. :func:`read_backbone` reads it with networkx,
drops what cannot be routed (nodes without coordinates and their links, self-loops,
parallel links beyond the shortest) and computes the round-trip propagation delay of the
shortest path between every pair of nodes in one bulk Dijkstra call. A link's one-way
length is its great-circle length times ``edge_factor``; with ``latency_attr`` a link's own
one-way latency (ms) is used where it is given. Users and sites attach to their nearest
node (:meth:`Backbone.nearest_node`).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra

from ..errors import InputValidationError
from .geo import colocated_pairs, haversine_km, km_from_chord, unit_tree, unit_xyz

__all__ = ["COLOCATED_NODE_M", "DEFAULT_EDGE_FACTOR", "LINK_MS_ROUNDING", "MAX_BACKBONE_NODES",
           "MAX_EDGE_FACTOR", "MAX_LINK_MS",
           "Backbone", "backbone_from_graph", "check_backbone_file", "read_backbone"]

logger = logging.getLogger(__name__)

#: Fibre route length over the straight line between two PoPs. Fibre follows roads,
#: railways and existing ducts rather than the great circle, so a link is longer than the
#: distance between its ends; 1.5 is the route factor of the ``on-net`` latency profile
#: (``coverage.model.latency``), so a one-link backbone and the great-circle model agree.
DEFAULT_EDGE_FACTOR = 1.5

#: Nodes closer than this (great circle, m) are at one place: one PoP, joined by 0 ms
#: links (a node's coordinates are a city's or a building's, never metres apart for two
#: PoPs; 1e-6 degree is 0.11 m).
COLOCATED_NODE_M = 1.0

#: Coordinate attribute pairs tried in order (names compared case-insensitively).
COORDINATE_KEYS = (("latitude", "longitude"), ("lat", "lon"), ("lat", "lng"), ("y", "x"))
SUFFIXES = (".gml", ".graphml", ".xml")
_FEW = 5
#: The smallest distance from its nearest node at which a site is outside a backbone, km.
MIN_ATTACH_KM = 300.0
#: Most located nodes a backbone may have: the all-pairs table of round trips is
#: ``8 n^2`` bytes (0.8 GB at 10,000 nodes; the largest Topology Zoo network has 754).
MAX_BACKBONE_NODES = 10_000
#: Largest edge factor (a link's fibre route over the great circle between its ends): the
#: latency model's largest route factor.
MAX_EDGE_FACTOR = 20.0
#: Largest one-way latency of one link, ms (a geostationary satellite hop takes about 270).
MAX_LINK_MS = 10_000.0
#: Smallest one-way delay of a link, ms per great-circle km: light in vacuum.
_LIGHT_MS_PER_KM = 1.0 / 299.792458
#: How far a link's given latency may fall below light over the great circle between its
#: nodes, ms: latencies in whole ms between PoPs placed at city coordinates (0 ms over 34
#: km is a rounding, 0 ms over 560 km is not).
LINK_MS_ROUNDING = 0.5


@dataclass(frozen=True, eq=False)
class Backbone:
    """A cleaned, connected backbone with all-pairs shortest-path round-trip delays.

    Attributes
    ----------
    node_ids : numpy.ndarray
        Object array of node labels (str), in matrix order.
    node_lat, node_lon : numpy.ndarray
        Node coordinates, float64 degrees.
    path_ms : numpy.ndarray
        Shape ``(n, n)``: round-trip propagation delay (ms) of the shortest path between
        two nodes; 0 on the diagonal, symmetric.
    source : str
        File path, or ``"<graph>"``.
    name : str
        The graph's label (``label``, ``Network`` or ``name``) if it has one, else the
        file stem.
    n_edges : int
        Links kept, after collapsing parallel links.
    dropped : dict
        What cleaning removed (JSON-ready): ``nodes_without_coordinates`` (labels),
        ``edges_of_dropped_nodes``, ``self_loops`` and ``parallel_edges`` (counts; in a
        directed file an arc and its reverse are one link, the second counted as parallel),
        and ``edges_distance_fallback``: kept links whose ``latency_attr`` was missing or
        bad and whose delay therefore comes from the distance rule (0 without
        ``latency_attr``).
    edge_factor : float
        Link length over great-circle length.
    latency_attr : str or None
        Edge attribute read as one-way latency in ms, if any.
    fiber_us_per_km : float
        One-way propagation delay in fibre, microseconds per km.
    """

    node_ids: np.ndarray
    node_lat: np.ndarray
    node_lon: np.ndarray
    path_ms: np.ndarray
    source: str
    name: str
    n_edges: int
    dropped: dict
    edge_factor: float
    latency_attr: str | None
    fiber_us_per_km: float = 4.9
    _tree: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("node_ids", "node_lat", "node_lon", "path_ms"):
            getattr(self, name).setflags(write=False)
        object.__setattr__(self, "_tree", unit_tree(self.node_lat, self.node_lon))

    def nearest_node(
        self, lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Nearest backbone node of each point (one bulk tree query).

        Parameters
        ----------
        lat_deg, lon_deg : array_like
            Point coordinates in degrees, finite, same length.

        Returns
        -------
        index : numpy.ndarray
            int64 index of the nearest node (into ``node_ids`` and ``path_ms``).
        distance_km : numpy.ndarray
            float64 great-circle distance to that node, km.
        """
        lat = np.asarray(lat_deg, dtype=np.float64).ravel()
        lon = np.asarray(lon_deg, dtype=np.float64).ravel()
        if lat.shape != lon.shape:
            raise InputValidationError(
                f"nearest_node: {lat.size} latitudes but {lon.size} longitudes")
        bad = ~(np.isfinite(lat) & np.isfinite(lon))
        if bad.any():
            raise InputValidationError(
                f"nearest_node: {int(bad.sum())} points have non-finite coordinates")
        if lat.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        chord, index = self._tree.query(unit_xyz(lat, lon), k=1)
        return index[:, 0].astype(np.int64), km_from_chord(chord[:, 0])

    @property
    def attach_limit_km(self) -> float:
        """How far from its nearest node a site may be and still be on this backbone, km:
        twice the largest distance from a node to its nearest other node (the graph's own
        spacing), at least :data:`MIN_ATTACH_KM`."""
        if self.node_ids.size < 2:
            return MIN_ATTACH_KM
        chord, _ = self._tree.query(unit_xyz(self.node_lat, self.node_lon), k=2)
        return max(MIN_ATTACH_KM, 2.0 * float(km_from_chord(chord[:, 1]).max()))

    def check_sites(self, site_ids: npt.ArrayLike, lat_deg: npt.ArrayLike,
                    lon_deg: npt.ArrayLike, *, source: str = "candidates") -> None:
        """Refuse sites outside the backbone (farther than :attr:`attach_limit_km` from every
        node): one :class:`InputValidationError` naming them, their distance and the fix."""
        _, km = self.nearest_node(lat_deg, lon_deg)
        limit = self.attach_limit_km
        far = np.flatnonzero(km > limit)
        if not len(far):
            return
        ids = np.asarray(site_ids, dtype=object)
        shown = ", ".join(f"{ids[i]} ({km[i]:,.0f} km)" for i in far[:10])
        raise InputValidationError(
            f"{source}: {len(far)} site(s) are outside backbone {self.name} ({self.source}): "
            f"farther than {limit:,.0f} km (twice the graph's node spacing) from every node: "
            f"{shown}{' ...' if len(far) > 10 else ''}. Fix: remove these candidates, or give "
            "a backbone that reaches them")

    def summary(self) -> dict:
        """JSON-ready description: source, name, counts, what was dropped, parameters and
        ``diameter_ms`` (the largest shortest-path round trip)."""
        return {
            "source": self.source, "name": self.name, "nodes": int(self.node_ids.size),
            "edges": int(self.n_edges),
            "dropped": {k: list(x) if isinstance(x, list) else x for k, x in self.dropped.items()},
            "edge_factor": float(self.edge_factor), "latency_attr": self.latency_attr,
            "fiber_us_per_km": float(self.fiber_us_per_km),
            "diameter_ms": float(self.path_ms.max()),
        }


def check_backbone_file(path: str | Path, *, edge_factor: float = DEFAULT_EDGE_FACTOR,
                        latency_attr: str | None = None, fiber_us_per_km: float = 4.9) -> None:
    """Every check of :func:`read_backbone` (the file, its nodes, links and connectivity)
    without the all-pairs routing: what the command line runs before the work, so that a
    large backbone is not routed twice.

    Raises
    ------
    InputValidationError
        As :func:`read_backbone`.
    """
    read_backbone(path, edge_factor=edge_factor, latency_attr=latency_attr,
                  fiber_us_per_km=fiber_us_per_km, _route=False)


def read_backbone(path: str | Path, *, edge_factor: float = DEFAULT_EDGE_FACTOR,
                  latency_attr: str | None = None, fiber_us_per_km: float = 4.9,
                  _route: bool = True) -> Backbone:
    """Read a GML or GraphML backbone file and route it (see :func:`backbone_from_graph`).

    GML is read by node ``id`` (Topology Zoo files repeat some labels) and always as a
    multigraph (several Zoo files repeat links without declaring ``multigraph 1``).

    Raises
    ------
    InputValidationError
        Missing, unreadable or malformed file, unknown suffix, bad parameter, no located
        node, or a disconnected graph.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputValidationError(
            f"{p}: unknown backbone file type {p.suffix or '(no suffix)'!r}. Fix: give a GML "
            "(.gml, e.g. an Internet Topology Zoo file) or GraphML (.graphml, .xml) file")
    if p.is_dir():
        raise InputValidationError(
            f"{p}: is a directory, not a backbone file. Fix: give the path of a GML or "
            "GraphML file to --backbone")
    from ..inputs.validation import special_file_problem

    special = special_file_problem(p, "backbone file")
    if special:
        raise InputValidationError(special)
    if not p.is_file():
        raise InputValidationError(
            f"{p}: backbone file not found. Fix: check the path given to --backbone")
    kind = "GML" if suffix == ".gml" else "GraphML"
    try:
        if kind == "GraphML":
            _check_graphml_ids(p)
    except OSError:
        pass  # said below, where the file is read
    try:
        if kind == "GML":
            raw = p.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            text = re.sub(r"^(\s*graph\s*\[)", r"\1 multigraph 1", text, count=1,
                          flags=re.M)
            graph = nx.parse_gml(text, label="id")
        else:
            graph = nx.read_graphml(p)
    except PermissionError as exc:
        raise InputValidationError(
            f"{p}: cannot read the backbone file ({exc.strerror or exc}). Fix: make it "
            "readable by this user, or copy it somewhere it is") from None
    except (OSError, nx.NetworkXError, ValueError, TypeError, KeyError, IndexError,
            SyntaxError, RecursionError) as exc:
        raise InputValidationError(
            f"{p}: not a readable {kind} graph ({type(exc).__name__}: {str(exc)[:200]}). "
            f"Fix: give a valid {kind} file of nodes and links") from None
    return backbone_from_graph(graph, edge_factor=edge_factor, latency_attr=latency_attr,
                               fiber_us_per_km=fiber_us_per_km, source=str(p), _route=_route)


def backbone_from_graph(graph: nx.Graph, *, edge_factor: float = DEFAULT_EDGE_FACTOR,
                        latency_attr: str | None = None, fiber_us_per_km: float = 4.9,
                        source: str = "<graph>", _route: bool = True) -> Backbone:
    """Clean a networkx graph and compute all-pairs shortest-path round trips.

    Parameters
    ----------
    graph : networkx.Graph
        Any networkx graph (directed graphs are read as undirected, multigraphs collapsed).
        Node coordinates come from ``Latitude``/``Longitude``, ``lat``/``lon``,
        ``lat``/``lng`` or ``y``/``x`` (case-insensitive, numbers or numeric strings).
    edge_factor : float, default DEFAULT_EDGE_FACTOR
        One-way link length over great-circle length, finite and >= 1.
    latency_attr : str, optional
        Edge attribute holding the link's one-way latency in ms (round trip = 2x); links
        without a valid (finite, >= 0) value fall back to the distance rule.
    fiber_us_per_km : float, default 4.9
        One-way propagation delay in fibre, microseconds per km, > 0.
    source : str, default "<graph>"
        Name of the input in messages and :meth:`Backbone.summary`.

    Returns
    -------
    Backbone
        A link's round trip is ``2 * haversine_km * edge_factor * fiber_us_per_km / 1000``
        ms (or ``2 * latency_attr``).

    Raises
    ------
    InputValidationError
        Bad parameter, no node, no located node, or a graph disconnected after cleaning.
    """
    edge_factor, fiber_us_per_km = _check_params(source, edge_factor, latency_attr,
                                                 fiber_us_per_km)
    if graph.number_of_nodes() == 0:
        raise InputValidationError(f"{source}: the backbone has no nodes. Fix: give a graph "
                                   "of PoPs with Latitude/Longitude and the links between them")
    labels = _labels(graph)
    coords = {n: _coords(d) for n, d in graph.nodes(data=True)}
    invalid = [f"{labels[n]} ({c[1]})" for n, c in coords.items() if isinstance(c, tuple)
               and isinstance(c[0], str)]
    if invalid:
        raise InputValidationError(
            f"{source}: {len(invalid)} backbone node(s) have coordinates that are not "
            f"latitude/longitude degrees: {_few(invalid)}. Fix: correct them (latitude "
            "-90 to 90, longitude -180 to 180; swapped values or layout positions land "
            "here), or delete the attributes to drop the node")
    coords = {n: c if c is not None and not isinstance(c[0], str) else None
              for n, c in coords.items()}
    nodes = [n for n in graph if coords[n] is not None]
    missing = [labels[n] for n in graph if coords[n] is None]
    if len(nodes) > MAX_BACKBONE_NODES:
        raise InputValidationError(
            f"{source}: the backbone has {len(nodes):,} located nodes, more than "
            f"{MAX_BACKBONE_NODES:,}: the table of round trips between every two nodes would "
            f"take {8 * len(nodes) ** 2 / 2 ** 30:,.1f} GiB. Fix: give a backbone of PoPs "
            "(the routers where users and sites attach), not of every device")
    if not nodes:
        raise InputValidationError(
            f"{source}: no backbone node has coordinates. Fix: give each node numeric "
            "Latitude/Longitude (or lat/lon, y/x) attributes in degrees")
    if missing:
        # the check before the work (no routing) says it once, at debug level: the plan's
        # own read says it again
        (logger.warning if _route else logger.debug)(
            "%s: %d backbone nodes without coordinates dropped with their links: %s",
            source, len(missing), _few(missing))
    index = {n: i for i, n in enumerate(nodes)}
    lat = np.array([coords[n][0] for n in nodes], dtype=np.float64)
    lon = np.array([coords[n][1] for n in nodes], dtype=np.float64)

    u, v, given, has, raw_given, raw_links = [], [], [], [], [], nx.Graph()
    raw_links.add_nodes_from(graph)
    self_loops = of_dropped = 0
    for a, b, data in graph.edges(data=True):
        if a == b:
            self_loops += 1
            continue
        raw_links.add_edge(a, b)
        if a not in index or b not in index:
            of_dropped += 1
            continue
        u.append(min(index[a], index[b]))
        v.append(max(index[a], index[b]))
        given.append(_number(data.get(latency_attr)) if latency_attr is not None else math.nan)
        has.append(latency_attr is not None and not _blank(data.get(latency_attr)))
        raw_given.append(data.get(latency_attr) if latency_attr is not None else None)
    u_a, v_a, given_a = (np.array(x, dtype=t) for x, t in
                         ((u, np.int64), (v, np.int64), (given, np.float64)))
    gc_km = haversine_km(lat[u_a], lon[u_a], lat[v_a], lon[v_a])
    km = gc_km * edge_factor
    if latency_attr is not None:
        names = [f"{labels[nodes[i]]}-{labels[nodes[j]]} ({x!r:.20})"
                 for i, j, x in zip(u, v, raw_given, strict=True)]
        _check_link_latency(source, graph, latency_attr, given_a, np.array(has, dtype=bool),
                            gc_km, names, warn=_route)
    use_given = np.isfinite(given_a) & (given_a >= 0)
    rtt_ms = np.where(use_given, 2.0 * given_a, 2.0 * km * fiber_us_per_km / 1000.0)
    key = u_a * len(nodes) + v_a
    order = np.lexsort((rtt_ms, key))                    # shortest link first in each pair
    _, first = np.unique(key[order], return_index=True)
    keep = order[first]
    dropped = {"nodes_without_coordinates": missing, "edges_of_dropped_nodes": of_dropped,
               "self_loops": self_loops, "parallel_edges": int(key.size - keep.size),
               "edges_distance_fallback":
                   int((~use_given[keep]).sum()) if latency_attr is not None else 0}

    # nodes at one place are one PoP: joined by a link of 0 ms, so that the node a user or
    # site attaches to among them (the first in the file) does not decide its route
    # (tester 116: Bellsouth's two New Orleans nodes are 23 ms apart on the graph). One
    # place: within COLOCATED_NODE_M on the sphere, transitively (rounded coordinates
    # split two nodes 2 cm apart across a step, and +180 from -180). Equal coordinates
    # are grouped first, then pairs of distinct places sought (review 123: 10,000 nodes
    # at one point were 50M pairs).
    same = pd.DataFrame({"lat": lat, "lon": lon}).groupby(
        ["lat", "lon"], sort=False).ngroup().to_numpy()
    rep = pd.Series(np.arange(len(nodes))).groupby(same).min().to_numpy()  # one per place
    pairs, _ = colocated_pairs(lat[rep], lon[rep], COLOCATED_NODE_M)
    head = same
    if len(pairs):
        _, place = connected_components(sp.coo_array(
            (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
            shape=(len(rep), len(rep))), directed=False)
        head = place[same]
    first_of = pd.Series(np.arange(len(nodes))).groupby(head).transform("min").to_numpy()
    twin = np.flatnonzero(first_of != np.arange(len(nodes)))
    dropped["colocated_nodes_joined"] = int(twin.size)
    raw_links.add_edges_from((nodes[int(first_of[t])], nodes[int(t)]) for t in twin)
    link_u = np.r_[u_a[keep], first_of[twin]]   # first_of < twin: the (u < v) order
    link_v = np.r_[v_a[keep], twin]
    link_ms = np.r_[rtt_ms[keep], np.zeros(twin.size)]
    if twin.size:  # a real link between twins too: the shortest of the pair (a sparse
        order = np.lexsort((link_ms, link_u * len(nodes) + link_v))  # matrix would add)
        _, first = np.unique((link_u * len(nodes) + link_v)[order], return_index=True)
        link_u, link_v, link_ms = (x[order[first]] for x in (link_u, link_v, link_ms))

    clean = nx.Graph()
    clean.add_nodes_from(range(len(nodes)))
    clean.add_edges_from(zip(link_u.tolist(), link_v.tolist(), strict=True))
    ids = np.array([labels[n] for n in nodes], dtype=object)
    _check_connected(source, clean, ids, raw_links, nodes, [n for n in graph if n not in index],
                     labels)
    if not _route:  # check_backbone_file: every check done, no routing
        return None  # type: ignore[return-value]
    adjacency = sp.csr_array((link_ms, (link_u, link_v)),
                             shape=(len(nodes), len(nodes)))   # explicit zeros stay links
    path_ms = dijkstra(adjacency, directed=False)
    path_ms = np.minimum(path_ms, path_ms.T)             # exact symmetry
    np.fill_diagonal(path_ms, 0.0)
    name = next((str(graph.graph[k]) for k in ("label", "Network", "name")
                 if str(graph.graph.get(k, "")).strip()), Path(source).stem)
    logger.info("%s: backbone %r, %d nodes, %d links, dropped %s", source, name, len(nodes),
                keep.size, {k: (len(x) if isinstance(x, list) else x) for k, x in dropped.items()})
    return Backbone(ids, lat, lon, path_ms, source, name, int(keep.size), dropped,
                    edge_factor, latency_attr, fiber_us_per_km)


def _check_link_latency(source: str, graph: nx.Graph, attr: str,
                        given_ms: npt.NDArray[np.float64], has: npt.NDArray[np.bool_],
                        gc_km: npt.NDArray[np.float64], names: list[str], *,
                        warn: bool = True) -> None:
    """Refuse a ``latency_attr`` no link has, and values that are no one-way latency of
    the link (not a number, negative, faster than light over the great circle between its
    ends, above :data:`MAX_LINK_MS`), naming the links (``names``: ``"A-B (value as
    given)"`` per link); warn of links without it (they take the distance rule)."""
    if not any(not _blank(d.get(attr)) for _, _, d in graph.edges(data=True)):
        seen = sorted({str(k) for _, _, d in graph.edges(data=True) for k in d})
        raise InputValidationError(
            f"{source}: no link has the attribute {attr!r} (--backbone-latency-attr); the "
            f"links have: {_few(seen) if seen else 'no attributes'}. Fix: give the name of "
            "the attribute that holds a link's one-way latency in ms, or leave the option "
            "out to use the links' lengths")
    problems = []
    for what, bad in (
            ("not a number >= 0", has & ~(np.isfinite(given_ms) & (given_ms >= 0))),
            ("faster than light over the great circle between its ends",
             has & np.isfinite(given_ms) & (given_ms >= 0)
             & (given_ms + LINK_MS_ROUNDING < gc_km * _LIGHT_MS_PER_KM)),
            (f"above {MAX_LINK_MS:g} ms", has & np.isfinite(given_ms)
             & (given_ms > MAX_LINK_MS))):
        rows = np.flatnonzero(bad)
        if len(rows):
            problems.append(f"{what}: " + _few([names[i] for i in rows]))
    if problems:
        raise InputValidationError(
            f"{source}: links whose {attr!r} is no one-way latency in ms: "
            + "; ".join(problems) + ". Fix: correct these links' values (one-way ms, at "
            "least the great-circle length at the speed of light, 3.34 us per km, less "
            f"{LINK_MS_ROUNDING:g} ms for rounding), or delete them to use the distance rule")
    without = int((~has).sum())
    if without:
        (logger.warning if warn else logger.debug)(
            "%s: %d of %d links have no %r: their delay is their length x edge "
            "factor in fibre", source, without, len(has), attr)


def _check_params(source: str, edge_factor: Any, latency_attr: Any,
                  fiber_us_per_km: Any) -> tuple[float, float]:
    """Validate the routing parameters; return them as floats."""
    problems = []
    ef, fu = _number(edge_factor), _number(fiber_us_per_km)
    if not MAX_EDGE_FACTOR >= ef >= 1.0:
        problems.append(f"edge_factor must be a number from 1 to {MAX_EDGE_FACTOR:g} (a fibre "
                        "route is never shorter than the straight line, and 20 times it is a "
                        f"typo); got {edge_factor!r}")
    if not fu > 0.0 or not math.isfinite(fu):
        problems.append(f"fiber_us_per_km must be a finite number > 0; got {fiber_us_per_km!r}")
    if latency_attr is not None and not (isinstance(latency_attr, str) and latency_attr):
        problems.append(f"latency_attr must be a non-empty edge attribute name; "
                        f"got {latency_attr!r}")
    if problems:
        raise InputValidationError(f"{source}: " + "; ".join(problems)
                                   + ". Fix: correct the backbone options")
    return ef, fu


def _number(value: Any) -> float:
    """A finite-or-not float from a number or numeric string; NaN for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, np.number)):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _coords(data: dict) -> tuple[float, float] | tuple[str, str] | None:
    """``(lat, lon)`` of a node from its attributes, None when it has none, or
    ``("invalid", text)`` when they are not degrees (out of range, NaN, text)."""
    lower = {str(k).lower(): val for k, val in data.items() if not _blank(val)}
    for lat_key, lon_key in COORDINATE_KEYS:
        if lat_key in lower and lon_key in lower:
            lat, lon = _number(lower[lat_key]), _number(lower[lon_key])
            if abs(lat) <= 90.0 and abs(lon) <= 180.0:     # False for NaN and inf
                return lat, lon
            if lat_key == "y":  # layout positions (yEd's x/y): no coordinates
                return None
            return ("invalid", f"{lat_key} {lower[lat_key]!r:.20}, {lon_key} "
                    f"{lower[lon_key]!r:.20}")
    return None


def _blank(value: Any) -> bool:
    """A missing attribute value: ``None``, NaN or blank text (a graph built from a table
    gives its unlocated nodes NaN, a GraphML file empty text)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip() or value.strip().lower() == "nan"
    return isinstance(value, float | np.floating) and math.isnan(value)


def _labels(graph: nx.Graph) -> dict:
    """Node -> output label: its ``label`` attribute when present and unique, else its id."""
    given = {n: str(d["label"]) for n, d in graph.nodes(data=True)
             if str(d.get("label", "")).strip()}
    counts: dict[str, int] = {}
    for text in given.values():
        counts[text] = counts.get(text, 0) + 1
    labels = {n: given[n] if counts.get(given.get(n, ""), 0) == 1 else str(n) for n in graph}
    if len(set(labels.values())) < len(labels):            # a label equals another node's id
        labels = {n: str(n) for n in graph}
    return labels


def _check_graphml_ids(path: Path) -> None:
    """Refuse a GraphML file that defines a node id twice in one graph: networkx keeps the
    last definition without a word (the first one's coordinates and attributes are lost).
    One streaming pass (comments are not elements; a malformed file is left to the reader's
    own message)."""
    import xml.etree.ElementTree as ET

    seen: dict[tuple[int, str], int] = {}
    graphs = 0
    try:
        for event, elem in ET.iterparse(path, events=("start", "end")):
            tag = elem.tag.rsplit("}", 1)[-1]
            if event == "start" and tag == "graph":
                graphs += 1
            elif event == "start" and tag == "node" and elem.get("id") is not None:
                key = (graphs, str(elem.get("id")))
                seen[key] = seen.get(key, 0) + 1
            elif event == "end" and tag in ("node", "edge"):
                elem.clear()
    except ET.ParseError:
        return
    twice = [key[1] for key, count in seen.items() if count > 1]
    if twice:
        raise InputValidationError(
            f"{path}: node id(s) defined more than once: {_few(twice)}. Fix: give each "
            "<node> its own id (the links name nodes by id)")


def _few(items: list) -> str:
    """The first few items, and how many more."""
    more = f" and {len(items) - _FEW} more" if len(items) > _FEW else ""
    return ", ".join(map(str, items[:_FEW])) + more


def _check_connected(source: str, clean: nx.Graph, ids: np.ndarray, raw_links: nx.Graph,
                     nodes: list, unlocated: list, labels: dict) -> None:
    """Refuse a disconnected cleaned graph, naming its components and the likely cause."""
    parts = sorted(nx.connected_components(clean), key=lambda c: (-len(c), min(c)))
    if len(parts) == 1:
        return
    sizes = [len(c) for c in parts]
    smaller = "; ".join(f"{{{_few([ids[i] for i in sorted(c)])}}}" for c in parts[1:_FEW + 1])
    more = f"; and {len(parts) - _FEW - 1} more" if len(parts) > _FEW + 1 else ""
    msg = (f"{source}: the backbone is disconnected: {len(parts)} components of sizes "
           f"{_few(sizes)}; the smaller ones hold {smaller}{more}.")
    raw_part = {n: i for i, c in enumerate(nx.connected_components(raw_links)) for n in c}
    if len({raw_part[n] for n in nodes}) < len(parts):
        comp = {nodes[i]: k for k, c in enumerate(parts) for i in c}
        bridges = [labels[n] for n in unlocated
                   if len({comp[m] for m in raw_links[n] if m in comp}) > 1]
        msg += (" It is disconnected because nodes without coordinates were dropped"
                + (f" (linking components: {_few(bridges)})" if bridges else "")
                + ". Fix: give those nodes Latitude/Longitude, or add the missing links")
    else:
        msg += " Fix: add the missing links, or remove the unconnected nodes from the file"
    raise InputValidationError(msg)
