"""Proposed new sites for the coverage gaps no candidate can close.

A demand point is a *gap* when fewer than ``k + 1`` candidates lie within its budget (status
``single``, ``partial`` or ``uncoverable``, :func:`coverage.resilience.status.gap_mask`, the
definition :attr:`coverage.Plan.gaps` uses too): no choice of candidates makes it N-k safe. A
fewest-sites (or least-cost) plan opens all of them (the requirement is capped at ``|N_i|``);
a ``--max-sites`` plan may leave some of them closed.
:func:`propose_sites` suggests where new sites (not in the candidate list) would close those
gaps, with the same exact multicover solver: each gap point needs ``k + 1 - |N_i|`` more
sites within its budget radius, and the fewest possible locations are chosen. The possible
locations are:

- the gap points themselves (binned into near-squares when there are many, above
  ``max_locations`` points or ``max_pairs`` pairs);
- with the points themselves (not binned), the *crossings* of their budget circles, each
  point with its :data:`CROSSING_NEIGHBOURS` nearest (Church's circle intersect point set,
  :func:`coverage.model.geo.circle_crossings`): the sites that reach a set of points form
  the intersection of their discs, which holds a crossing or a whole disc's centre, so for
  a single cover (``k = 0``) and great-circle reach the points and *all* their crossings
  hold an optimal plan among sites anywhere. Here each point is paired with its 8 nearest
  (fewer when the pairs would pass ``max_pairs``; logged), and the colocation rule below
  moves or drops some, so that holds only where no point has more neighbours within its
  radius plus the largest radius and nothing was moved. Two towns 150 km apart with an
  88 km radius get one site midway instead of one each. A town of many points (raster
  cells, districts) also gets one circle per cell of a quarter of the median radius
  (round the cell's centroid, shrunk to reach every member), whose crossings join towns
  whose points' 8 nearest are all their own. With aggregated demand the circles are the
  bins' radii less their farthest member (``shrink_km``);
- with routed rows (:func:`coverage.planner.stages.propose_gaps`): where their paths
  enter the network, their UPFs (mobile rows) and backbone nodes, each with ``2k + 1``
  twins round it (below): a mobile town 170 km from its breakout is reached by a site at
  the breakout, not by one in the town (the path goes to the breakout and back);
- *twins*: a gap point with fewer of the kept locations within its reach than the sites it
  lacks (an isolated town, which used to get one proposal and stay single-covered),
  counted after the colocation rule and on the real reach (``reach_fn``), gets
  ``2 x lacking + 1`` (at most 11) round it, ``2 x --colocated-m`` from it at bearings
  evenly spaced, of which the cover takes what it needs: its own ``k + 1`` sites across
  town, whichever spots the colocation rule leaves;
- *clear places*: a gap point that still has fewer locations within reach than the sites
  it lacks (every spot near it within ``--colocated-m`` of a candidate: with failure
  domains of tens of km, dense candidates chain into one domain and a town's own spot and
  its twins all fall within it) is offered the demand rows (of some population) within
  its reach that lie at least ``--colocated-m`` from every site, the most populous of
  each cell of an eighth of its radius (:func:`_free_spots`; cells widened to keep the
  pairs near ``max_pairs``): a populated place, on land, a domain of its own. Those that
  reach such a point outrank the other locations near them (which did not reach it),
  then by the points they reach. After the cover, points it left short get a second,
  smaller cover over the populated places clear of the candidates and of the chosen
  proposals (status ``repaired``).

No two sites that would fail together: a location within ``--colocated-m`` of a candidate
is moved to twice that distance from it (a second site across town, not in the same
building), and of locations that close to each other the most populous are kept (gap
points before crossings and twins), each skipping those within ``--colocated-m`` of it.

A location hosts one site, so with ``k >= 1`` the locations are not complete the way they
are for a single cover (two sites of a plan on sites anywhere may want the same crossing):
the proposal is optimal among its locations (``lower_bound``), not among all. Gap points
whose access class cannot meet the budget even at distance zero (no site anywhere helps
them, or a mobile point whose way to its breakout alone takes the budget) stay short, as
may a point whose radius is under ``2 x --colocated-m`` (no twin
reaches it; two clear places on opposite sides could, but its own location, kept first,
excludes those near it), or whose locations the colocation rule left out (with ``k >= 2``
a point may need two places the thinning does not both keep, review 153); ``still_short``
says how many
points and people are in those cases. It counts the sites the plan opens (``n_open``: its
chosen sites within budget) plus the proposals, not every candidate in budget: a gap point
whose candidates a ``--max-sites`` plan leaves closed can stay short even where the
proposals would close its gap with all candidates open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from ..inputs.tables import DEFAULT_COLOCATED_M
from ..model.aggregate import aggregate_grid, grid_cells
from ..model.geo import (
    EARTH_RADIUS_KM,
    chord_from_km,
    circle_crossings,
    colocated_pairs,
    count_within,
    haversine_km,
    nearest,
    unit_tree,
    unit_xyz,
)
from ..model.latency import LatencyModel, Percentile
from ..model.problem import RowLatency
from ..solvers.cover import min_cover
from .status import gap_mask

logger = logging.getLogger(__name__)

__all__ = ["MAX_PROPOSAL_PAIRS", "Proposal", "propose_sites", "proposed_ids"]

PROPOSED_COLUMNS = ("proposed_site_id", "lat", "lon", "n_demand_gained", "population_gained")

#: Most (gap point, possible location) pairs of the proposals' cover: above, the locations
#: are grid centroids, on cells wide enough to keep about this many pairs. With every gap
#: point a location the pairs grew with the square of the gap points: 9,000 points within
#: each other's radius peaked at 4.8 GB (tester 146).
MAX_PROPOSAL_PAIRS = 4_000_000


@dataclass(frozen=True)
class Proposal:
    """New sites proposed for the gaps.

    Attributes
    ----------
    sites : pandas.DataFrame
        ``proposed_site_id, lat, lon, n_demand_gained, population_gained``: one row per new
        site; the gained figures count gap points (and their people) within its budget.
    n_gap_points, population_gap : int, float
        Gap points (fewer than ``k + 1`` candidates in budget,
        :func:`~coverage.resilience.status.gap_mask`)
        and their population: the same points as :attr:`coverage.Plan.gaps`.
    n_still_short, population_still_short : int, float
        Gap points that stay below ``k + 1`` sites within budget even with the proposals,
        counting the plan's open sites (``n_open`` of :func:`propose_sites`) plus the
        proposed ones.
    status : str
        Status of the cover solve (``"optimal"``, ``"time_limit"``, ``"none"`` without
        gaps), or ``"repaired"`` when points the cover left short got more sites after it
        (populated places clear of the candidates and of the chosen proposals: the plan is
        then no longer optimal among one set of locations).
    tier : str or None
        With site tiers: the tier every proposed site is placed for (also a ``tier``
        column of :attr:`sites`), of the candidates' tiers the one whose sites would reach
        the most gap people (:func:`coverage.planner.stages.propose_gaps`).
    lower_bound : float
        Proven lower bound of the proposal's cover: no set of the possible locations (the
        gap points themselves, or grid centroids above ``max_locations`` points; the
        crossings of their budget circles; the twins of isolated points) gives every
        helpable gap point what it can get (``k + 1`` sites, or as many as the locations in
        its reach allow) with fewer sites. Equal to the number proposed when ``status`` is
        ``"optimal"``; 0 when no gap point can be helped.
    """

    sites: pd.DataFrame
    n_gap_points: int = 0
    population_gap: float = 0.0
    n_still_short: int = 0
    population_still_short: float = 0.0
    status: str = "none"
    lower_bound: float = 0.0
    tier: str | None = None

    def summary(self) -> dict[str, float | int | str]:
        """The figures ``summary.json`` reports under ``proposed``."""
        return {
            "proposed_sites": int(len(self.sites)),
            "gap_points": self.n_gap_points,
            "population_gap": self.population_gap,
            "gap_points_still_short": self.n_still_short,
            "population_still_short": self.population_still_short,
            "status": self.status,
            "lower_bound": self.lower_bound,
            **({"tier": self.tier} if self.tier is not None else {}),
        }


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c == "proposed_site_id" else float)
                         for c in PROPOSED_COLUMNS})


def _away_from(site_lat: npt.NDArray[np.float64], site_lon: npt.NDArray[np.float64],
               lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64],
               distance_km: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The points ``distance_km`` from each site along the bearing from the site to
    ``(lat, lon)`` (north when the two are less than a metre apart), degrees."""
    la1, lo1 = np.radians(site_lat), np.radians(site_lon)
    la2, lo2 = np.radians(lat), np.radians(lon)
    dlon = lo2 - lo1
    bearing = np.arctan2(np.sin(dlon) * np.cos(la2),
                         np.cos(la1) * np.sin(la2) - np.sin(la1) * np.cos(la2) * np.cos(dlon))
    apart_km = haversine_km(site_lat, site_lon, lat, lon)
    return _destination(site_lat, site_lon, np.where(apart_km < 1e-3, 0.0, bearing),
                        distance_km)


def _destination(lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64],
                 bearing: npt.NDArray[np.float64], distance_km: float,
                 ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The points ``distance_km`` from each ``(lat, lon)`` (degrees) along ``bearing``
    (radians, clockwise from north), degrees."""
    la1, lo1 = np.radians(lat), np.radians(lon)
    delta = distance_km / EARTH_RADIUS_KM
    la3 = np.arcsin(np.clip(np.sin(la1) * np.cos(delta)
                            + np.cos(la1) * np.sin(delta) * np.cos(bearing), -1.0, 1.0))
    lo3 = lo1 + np.arctan2(np.sin(bearing) * np.sin(delta) * np.cos(la1),
                           np.cos(delta) - np.sin(la1) * np.sin(la3))
    return np.degrees(la3), (np.degrees(lo3) + 180.0) % 360.0 - 180.0


def _heaviest_apart(weight: npt.NDArray[np.float64],
                    pairs: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The locations a greedy pass keeps, heaviest first, skipping any within reach of one
    kept (``pairs``: the ``(i, j)`` pairs too close to both be kept): a maximal set of
    locations no two of them paired, the lexicographically first by weight (ties in a
    fixed pseudo-random order). Rounds over the pair list (no loop over locations): each round keeps
    every undecided location that outranks all its undecided neighbours and drops their
    neighbours.

    Examples
    --------
    >>> _heaviest_apart(np.array([1.0, 3.0, 2.0, 5.0]), np.array([[0, 1], [1, 2], [2, 3]]))
    array([1, 3])
    """
    n = len(weight)
    rank = np.empty(n, dtype=np.int64)
    # ties in a fixed pseudo-random order (not by index: equal weights on a grid in index
    # order would decide one row per round)
    tie = np.random.default_rng(0).permutation(n)
    rank[np.lexsort((tie, -weight))] = np.arange(n)
    state = np.zeros(n, dtype=np.int8)  # 0 undecided, 1 kept, 2 dropped
    pi, pj = pairs[:, 0], pairs[:, 1]
    while True:
        open_ = state == 0
        live = open_[pi] & open_[pj]
        if not live.any():
            state[open_] = 1  # no undecided neighbour left
            break
        best = np.full(n, n, dtype=np.int64)  # the best rank among undecided neighbours
        np.minimum.at(best, pi[live], rank[pj[live]])
        np.minimum.at(best, pj[live], rank[pi[live]])
        kept = open_ & (rank < best)
        state[kept] = 1
        near = np.zeros(n, dtype=bool)
        near[pj[kept[pi]]] = True
        near[pi[kept[pj]]] = True
        state[near & (state == 0)] = 2
    return np.flatnonzero(state == 1)


def _independent_locations(
    loc_lat: npt.NDArray[np.float64], loc_lon: npt.NDArray[np.float64],
    weight: npt.NDArray[np.float64], avoid_lat: npt.ArrayLike | None,
    avoid_lon: npt.ArrayLike | None, colocated_m: float,
    toward_lat: npt.ArrayLike | None = None, toward_lon: npt.ArrayLike | None = None,
    move_m: float | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """The possible locations a proposal may take, none within ``colocated_m`` of an
    existing site or of another location (a moved one goes ``move_m`` from the site,
    default twice ``colocated_m``).

    Two sites that close fail together (one power or fibre cut), so a proposal on a
    candidate's spot, or two proposals on one spot (two demand points at the same
    coordinates), gave a gap point a "second site" that fails with the first, and counted
    it as N-1 safe. A location within ``colocated_m`` of an existing site is moved to
    ``2 x colocated_m`` from it (away from the site; when on its spot, towards the
    nearest of ``toward`` at least ``colocated_m`` from it, the demand points: a populated
    place rather than due north, which could put a coastal proposal in the sea; north only
    when there is none): a second site across town, whose reach the proposal then uses;
    one still within ``colocated_m`` of a site after the move (among dense candidates) is
    left out. Of locations within ``colocated_m`` of each other the heaviest are kept,
    each skipping those within ``colocated_m`` of it (:func:`_heaviest_apart`: a chain of
    points 250 m apart keeps every other one, not one). Vectorised: nearest-site queries,
    one tree count, one pair query and rounds over the pairs.

    Returns
    -------
    lat, lon : numpy.ndarray
        The kept locations' coordinates (moved ones moved), degrees, in input order.
    index : numpy.ndarray
        Their positions in the input.
    """
    n = len(loc_lat)
    lat, lon = loc_lat.copy(), loc_lon.copy()
    keep = np.ones(n, dtype=bool)
    if colocated_m <= 0 or not n:
        return lat, lon, np.arange(n)
    move_km = (2.0 * colocated_m if move_m is None else float(move_m)) / 1000.0
    moved = 0
    if avoid_lat is not None and avoid_lon is not None:
        av_lat = np.asarray(avoid_lat, dtype=np.float64)
        av_lon = np.asarray(avoid_lon, dtype=np.float64)
        if len(av_lat):
            dist_km, j = nearest(av_lat, av_lon, unit_xyz(lat, lon), k=1)
            near = dist_km[:, 0] * 1000.0 < colocated_m
            if near.any():
                js = j[near, 0]
                to_lat, to_lon = lat[near], lon[near]
                on_spot = dist_km[near, 0] < 1e-3  # no bearing: towards a populated place
                if on_spot.any() and toward_lat is not None and toward_lon is not None:
                    t_lat = np.asarray(toward_lat, dtype=np.float64)
                    t_lon = np.asarray(toward_lon, dtype=np.float64)
                    kk = min(16, len(t_lat))
                    if kk:
                        sj = js[on_spot]
                        d_t, i_t = nearest(t_lat, t_lon, unit_xyz(av_lat[sj], av_lon[sj]), k=kk)
                        apart = d_t * 1000.0 >= colocated_m
                        has = apart.any(axis=1)
                        first = i_t[np.arange(len(sj)), np.argmax(apart, axis=1)]
                        rows = np.flatnonzero(on_spot)[has]
                        to_lat[rows], to_lon[rows] = t_lat[first[has]], t_lon[first[has]]
                lat[near], lon[near] = _away_from(av_lat[js], av_lon[js], to_lat, to_lon,
                                                  move_km)
                moved = int(near.sum())
                keep &= unit_tree(av_lat, av_lon).query_radius(
                    unit_xyz(lat, lon), r=chord_from_km(colocated_m / 1000.0),
                    count_only=True) == 0
    idx = np.flatnonzero(keep)
    pairs, _ = colocated_pairs(lat[idx], lon[idx], colocated_m)
    if len(pairs):
        idx = idx[_heaviest_apart(weight[idx], pairs)]
    if moved or len(idx) < n:
        logger.info("possible locations of new sites: %d moved %g m from the existing site "
                    "on whose spot they lay, %d left out (within %g m of a site or of "
                    "another location: they would fail together)", moved, move_km * 1000.0,
                    n - len(idx), colocated_m)
    return lat[idx], lon[idx], idx


#: Each gap point's nearest others whose budget circles' crossings become possible
#: locations (:func:`coverage.model.geo.circle_crossings`), at most.
CROSSING_NEIGHBOURS = 8


def _crossing_locations(g: pd.DataFrame, radius_km: npt.NDArray[np.float64],
                        g_xyz: npt.NDArray[np.float64], max_pairs: int,
                        ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The crossings of the gap points' circles of ``radius_km``, each point paired with
    its :data:`CROSSING_NEIGHBOURS` nearest, then those of the cells' circles
    (:func:`_cell_circles`) likewise, each set with fewer neighbours when its (gap point,
    location) pairs would pass what ``max_pairs`` leaves it (the points' first; a
    count-only tree query per try). Logged when fewer."""
    lat = g["lat"].to_numpy(dtype=np.float64)
    lon = g["lon"].to_numpy(dtype=np.float64)
    c_lat, c_lon, c_r = _cell_circles(g, radius_km)
    out_lat: list[npt.NDArray[np.float64]] = []
    out_lon: list[npt.NDArray[np.float64]] = []
    left = int(max_pairs)
    for what, (p_lat, p_lon, p_r) in (("gap point's", (lat, lon, radius_km)),
                                      ("cell's", (c_lat, c_lon, c_r))):
        neighbours, full = CROSSING_NEIGHBOURS, 0
        while neighbours >= 1 and left > 0 and len(p_lat) >= 2:
            x_lat, x_lon, _ = circle_crossings(p_lat, p_lon, p_r, neighbours=neighbours)
            extra = (int(count_within(unit_tree(x_lat, x_lon), g_xyz, radius_km).sum())
                     if len(x_lat) else 0)
            full = full or extra  # the pairs with every neighbour
            if extra <= left:
                if neighbours < CROSSING_NEIGHBOURS:
                    logger.info("gap proposals: the crossings of each %s budget circle "
                                "with its %d nearest only (with %d: %s pairs with the gap "
                                "points, above the %s left)", what, neighbours,
                                CROSSING_NEIGHBOURS, f"{full:,}", f"{left:,}")
                out_lat.append(x_lat)
                out_lon.append(x_lon)
                left -= extra
                break
            neighbours //= 2
        else:
            if len(p_lat) >= 2:
                logger.info("gap proposals: the crossings of each %s budget circle are left "
                            "out (more than the %s pairs with the gap points left)", what,
                            f"{max(left, 0):,}")
    if not out_lat:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(out_lat), np.concatenate(out_lon)


def _cell_circles(g: pd.DataFrame, radius_km: npt.NDArray[np.float64],
                  ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                             npt.NDArray[np.float64]]:
    """One circle per bin of a quarter of the median radius (:func:`aggregate_grid`) that
    holds two or more gap points: round the bin's centroid, of the smallest radius any
    member leaves from it (``r_i - d(member, centroid)``), so a site inside it reaches
    every member. A town of many points (raster cells, districts) paired each point with 8
    of its own, and the crossing between two towns was never offered (tester 158: two
    towns of 3 x 3 cells 165 km apart got 2 sites where one midway reaches all). Empty
    when no bin holds two points."""
    from ..config import MAX_CELL_KM

    empty = (np.zeros(0), np.zeros(0), np.zeros(0))
    ok = np.flatnonzero(radius_km >= 0)
    if len(ok) < 2:
        return empty
    cell_km = min(max(float(np.median(radius_km[ok])) / 4.0, 0.5), MAX_CELL_KM)
    agg = aggregate_grid(g.iloc[ok].assign(access="any"), cell_km)
    bins = agg.demand
    if not (bins["n_cells"] >= 2).any():
        return empty
    c_lat = bins["lat"].to_numpy(dtype=np.float64)
    c_lon = bins["lon"].to_numpy(dtype=np.float64)
    left = radius_km[ok] - haversine_km(g["lat"].to_numpy(dtype=np.float64)[ok],
                                        g["lon"].to_numpy(dtype=np.float64)[ok],
                                        c_lat[agg.group], c_lon[agg.group])
    r = np.full(len(bins), np.inf)
    np.minimum.at(r, agg.group, left)
    keep = (bins["n_cells"].to_numpy() >= 2) & (r >= 0)
    return c_lat[keep], c_lon[keep], r[keep]

def _free_spots(lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64],
                pop: npt.NDArray[np.float64], need_xyz: npt.NDArray[np.float64],
                need_km: float, avoid_lat: npt.ArrayLike | None,
                avoid_lon: npt.ArrayLike | None, colocated_m: float, cell_km: float,
                max_spots: int, chunk_rows: int = 1_000_000,
                ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                           npt.NDArray[np.float64]]:
    """Populated places a proposal may take where the gap points' own spots, moved, and
    their twins could not: demand rows within ``need_km`` of a point still lacking sites
    (``need_xyz``) and at least ``colocated_m`` from every existing site, the most populous
    of each cell of about ``cell_km`` (wider when more than ``max_spots`` cells).

    Among dense candidates whose failure domains chain (``--domain-radius-km``: the
    Boston to New York corridor is one domain of 605 places at 25 km) every spot near a
    town is within the domain radius of some candidate, so the town's own location, moved
    once, and its twins were all left out: 1,421 cells of a 1M-cell grid stayed short
    though each had free land within its budget (hand run). A demand row is a place on
    land, and one far enough from every candidate is a domain of its own (rows of no
    population are not offered). Vectorised: one nearest query of the rows (in chunks)
    against the lacking points, one against the sites among those near, a sort by cell.

    Parameters
    ----------
    lat, lon, pop : numpy.ndarray
        Every demand row's coordinates (degrees) and population.
    need_xyz : numpy.ndarray
        Unit vectors (:func:`coverage.model.geo.unit_xyz`) of the points lacking sites.
    need_km : float
        The largest of their radii: rows farther than this from all of them are not
        offered (the reach of each point is checked afterwards).
    avoid_lat, avoid_lon : array_like, optional
        The existing sites.
    colocated_m : float
        How far a place must stand from every existing site, m.
    cell_km : float
        Cell size of the thinning, km.
    max_spots : int
        Most places: the cells are widened until there are at most this many (at most
        to the size of the Earth).
    chunk_rows : int, default 1,000,000
        Rows per nearest query (bounded memory).

    Returns
    -------
    lat, lon, population : numpy.ndarray
        The spots (degrees) and their rows' population.
    """
    from scipy.spatial import cKDTree

    if not len(need_xyz) or not len(lat):
        return np.zeros(0), np.zeros(0), np.zeros(0)
    tree = cKDTree(need_xyz)
    bound = float(chord_from_km(np.asarray(need_km)))
    near = np.zeros(len(lat), dtype=bool)
    for start in range(0, len(lat), chunk_rows):
        part = slice(start, start + chunk_rows)
        d, _ = tree.query(unit_xyz(lat[part], lon[part]), k=1, distance_upper_bound=bound)
        near[part] = np.isfinite(d)
    rows = np.flatnonzero(near & (pop > 0))
    if len(rows) and avoid_lat is not None and avoid_lon is not None and len(avoid_lat):
        d_km, _ = nearest(avoid_lat, avoid_lon, unit_xyz(lat[rows], lon[rows]), k=1)
        rows = rows[d_km[:, 0] * 1000.0 >= colocated_m]
    if not len(rows):
        return np.zeros(0), np.zeros(0), np.zeros(0)
    r_lat, r_lon, r_pop = lat[rows], lon[rows], pop[rows]
    while True:  # one row per near-square cell (the aggregation's grid), the most populous
        ix, iy = grid_cells(r_lat, r_lon, cell_km)
        key = np.unique((iy - iy.min()) * (int(ix.max()) + 1) + ix,
                        return_inverse=True)[1].ravel()
        n_cells = int(key.max()) + 1
        if n_cells <= max(int(max_spots), 1) or cell_km >= 2.0 * np.pi * EARTH_RADIUS_KM:
            break
        cell_km = min(cell_km * float(np.sqrt(n_cells / max(int(max_spots), 1))) * 1.01,
                      2.0 * np.pi * EARTH_RADIUS_KM)
    order = np.lexsort((-r_pop, key))
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]]
    return r_lat[first], r_lon[first], r_pop[first]


def _clear_places(lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64],
                  pop: npt.NDArray[np.float64], rows: npt.NDArray[np.int64],
                  g_xyz: npt.NDArray[np.float64], r_gap: npt.NDArray[np.float64],
                  avoid_lat: npt.ArrayLike | None, avoid_lon: npt.ArrayLike | None,
                  colocated_m: float, max_spots: int, max_pairs: int,
                  pair_rows: npt.NDArray[np.int64] | None = None,
                  ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                             npt.NDArray[np.float64]]:
    """:func:`_free_spots` for the gap points ``rows`` (positions in ``g_xyz`` and
    ``r_gap``, their unit vectors and radii): cells of an eighth of their largest radius
    (at least half ``colocated_m``), widened until the places within reach of the gap
    points ``pair_rows`` (default all) make at most ``max_pairs`` pairs (a count-only
    tree query), so the reach pattern built on them stays bounded (review 153)."""
    r_need = float(r_gap[rows].max())
    cell_km = max(colocated_m / 2000.0, r_need / 8.0)
    pr = slice(None) if pair_rows is None else pair_rows
    f_lat = f_lon = f_pop = np.zeros(0)
    for _ in range(4):
        f_lat, f_lon, f_pop = _free_spots(lat, lon, pop, g_xyz[rows], r_need, avoid_lat,
                                          avoid_lon, colocated_m, cell_km, max_spots)
        if not len(f_lat):
            break
        n_pairs = int(count_within(unit_tree(f_lat, f_lon), g_xyz[pr], r_gap[pr]).sum())
        if n_pairs <= max_pairs:
            break
        cell_km *= float(np.sqrt(n_pairs / max(max_pairs, 1))) * 1.01
    return f_lat, f_lon, f_pop


def _add_locations(a: sp.csr_array, loc_lat: npt.NDArray[np.float64],
                   loc_lon: npt.NDArray[np.float64], new_lat: npt.NDArray[np.float64],
                   new_lon: npt.NDArray[np.float64], w_old: npt.NDArray[np.float64],
                   w_new: npt.NDArray[np.float64], avoid_lat: npt.ArrayLike | None,
                   avoid_lon: npt.ArrayLike | None, sep_m: float, move_m: float | None,
                   toward: tuple[Any, Any], reach: tuple[Any, ...],
                   ) -> tuple[sp.csr_array, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The possible locations with ``new_*`` added (:func:`_independent_locations`, the
    kept ones weighing ``w_old``, the new ``w_new``) and the pattern ``a`` (gap points x
    locations) extended by the new ones' reach, or built again when a kept location moved
    or left (outranked by a new one). ``reach``: :func:`_reach_pattern`'s gap rows, their
    unit vectors, radii and ``reach_fn``."""
    n_old = len(loc_lat)
    lat2, lon2, idx = _independent_locations(
        np.concatenate([loc_lat, new_lat]), np.concatenate([loc_lon, new_lon]),
        np.concatenate([w_old, w_new]), avoid_lat, avoid_lon, sep_m,
        toward_lat=toward[0], toward_lon=toward[1], move_m=move_m)
    if np.array_equal(idx[:n_old], np.arange(n_old)):
        extra = _reach_pattern(*reach[:3], lat2[n_old:], lon2[n_old:], reach[3])
        return (sp.csr_array(sp.hstack([a, extra], format="csr"), dtype=np.int8),
                lat2, lon2)
    return _reach_pattern(*reach[:3], lat2, lon2, reach[3]), lat2, lon2


def _reach_pattern(gap: npt.NDArray[np.int64], g_xyz: npt.NDArray[np.float64],
                   radius_km: npt.NDArray[np.float64], loc_lat: npt.NDArray[np.float64],
                   loc_lon: npt.NDArray[np.float64],
                   reach_fn: Callable[..., Any] | None) -> sp.csr_array:
    """The ``(gap points, locations)`` pattern of locations within budget: ``reach_fn``'s
    (tiered or anchored pair latencies) or one radius query per point (great circle)."""
    if not len(loc_lat):
        return sp.csr_array((len(gap), 0), dtype=np.int8)
    if reach_fn is not None:
        return sp.csr_array(reach_fn(gap, loc_lat, loc_lon), dtype=np.int8)
    ind = unit_tree(loc_lat, loc_lon).query_radius(g_xyz, r=chord_from_km(radius_km))
    counts = np.fromiter(map(len, ind), dtype=np.int64, count=len(ind))
    indptr = np.concatenate([[0], np.cumsum(counts)])
    cols = np.concatenate(ind) if counts.sum() else np.zeros(0, dtype=np.int64)
    return sp.csr_array((np.ones(len(cols), dtype=np.int8), cols, indptr),
                        shape=(len(gap), len(loc_lat)))


def _spares(lacking: Any) -> Any:
    """How many twins to offer a point that lacks ``lacking`` sites: ``2 x lacking + 1``,
    at most 11 (which ``2 x --colocated-m`` from the point still keeps ``--colocated-m``
    apart) or ``lacking`` itself above that, so the ones the colocation rule drops (one on
    the spot the point's own location was moved to, review 143) leave enough; the cover
    takes what it needs."""
    return np.minimum(2 * np.asarray(lacking) + 1, np.maximum(np.asarray(lacking), 11))


def _twin_km(colocated_m: float) -> float:
    """How far a twin lies from its point: twice ``colocated_m`` (twice the default when
    it is 0), km."""
    return 2.0 * (colocated_m if colocated_m > 0 else DEFAULT_COLOCATED_M) / 1000.0


def _around(lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64],
            count: npt.NDArray[np.int64], distance_km: float | npt.NDArray[np.float64],
            ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``count[i]`` points ``distance_km`` (one for all, or one per point) from point
    ``i``, at bearings evenly spaced round it (``count[i] + 1`` directions, the first left
    free), degrees."""
    rows = np.repeat(np.arange(len(count)), count)
    if not len(rows):
        return np.zeros(0), np.zeros(0)
    nth = np.arange(len(rows)) - np.repeat(np.cumsum(count) - count, count) + 1
    bearing = 2.0 * np.pi * nth / (count[rows] + 1)
    far = (np.asarray(distance_km, dtype=np.float64)[rows] if np.ndim(distance_km)
           else float(distance_km))
    return _destination(lat[rows], lon[rows], bearing, far)


def proposed_ids(n: int, taken: npt.ArrayLike | None = None) -> list[str]:
    """The first ``n`` names of ``new-001``, ``new-002``, ... that are not in ``taken``.

    A candidate may be called ``new-001`` (a user's list of planned sites): a proposal of
    that name would be taken for the candidate in the plan's tables and maps. The names are
    deterministic: the same ``n`` and ``taken`` give the same names, in order.

    Parameters
    ----------
    n : int
        Number of names.
    taken : array_like, optional
        Ids already in use (compared as text).

    Returns
    -------
    list of str

    Examples
    --------
    >>> proposed_ids(3, ["new-002", "s1"])
    ['new-001', 'new-003', 'new-004']
    """
    names = np.array([f"new-{i:03d}" for i in range(1, n + 1)], dtype=object)
    if taken is None or not n:
        return names.tolist()
    used = pd.Index(pd.Series(np.asarray(taken, dtype=object)).dropna().astype(str)).unique()
    used = used[used.str.startswith("new-")]
    if not len(used):
        return names.tolist()
    # at most len(used) names of the first n + len(used) are taken: enough are left
    names = np.array([f"new-{i:03d}" for i in range(1, n + len(used) + 1)], dtype=object)
    return names[~pd.Index(names).isin(used)][:n].tolist()


def propose_sites(
    demand: pd.DataFrame,
    n_covering: np.ndarray,
    *,
    model: LatencyModel,
    budget_ms: float,
    percentile: Percentile = "p99",
    failures: int = 1,
    time_limit_s: float = 30.0,
    max_locations: int = 20_000,
    max_pairs: int = MAX_PROPOSAL_PAIRS,
    row_latency: RowLatency | None = None,
    reach_fn: Callable[..., Any] | None = None,
    n_open: npt.ArrayLike | None = None,
    avoid_lat: npt.ArrayLike | None = None,
    avoid_lon: npt.ArrayLike | None = None,
    colocated_m: float = DEFAULT_COLOCATED_M,
    taken_ids: npt.ArrayLike | None = None,
    crossings: bool = True,
    anchor_lat: npt.ArrayLike | None = None,
    anchor_lon: npt.ArrayLike | None = None,
    shrink_km: npt.ArrayLike | None = None,
    apart_km: float | None = None,
) -> Proposal:
    """Fewest new sites that give every gap point ``k + 1`` sites within budget.

    Parameters
    ----------
    demand : pandas.DataFrame
        Demand with ``lat``, ``lon``, ``population`` and ``access``.
    n_covering : numpy.ndarray
        Candidates within budget of each demand point (``|N_i|``), or, for a plan that
        fails whole failure domains, their domains (each proposal is a domain of its
        own).
    model, budget_ms, percentile
        Latency model and budget (a point's radius is that of its access class).
    failures : int, default 1
        Failures to tolerate (k).
    time_limit_s : float, default 30
        Time limit of the cover solve.
    max_locations : int, default 20_000
        Above this many gap points, possible locations are the population-weighted centroids
        of gap points binned on a grid of a quarter of the budget radius (up to half of it
        when that keeps the pairs near ``max_pairs``).
    max_pairs : int, default :data:`MAX_PROPOSAL_PAIRS`
        The same when the gap points as locations would give more (gap point, location)
        pairs within budget than this (a count-only tree query; gap points within each
        other's radius): the grid's cells are then wide enough to keep about this many.
    row_latency : coverage.model.problem.RowLatency, optional
        The points' latency constants when already computed (:class:`coverage.Problem`).
    reach_fn : callable, optional
        ``reach_fn(gap_rows, loc_lat, loc_lon)`` -> the ``(len(gap_rows), n_locations)``
        sparse pattern of locations within budget of each gap point, for tiered or
        anchored pair latencies (the stage :func:`coverage.planner.stages.propose_gaps`
        passes one); default: one great-circle radius per point.
    n_open : array_like of int, optional
        Sites the plan opens (its chosen sites) within budget of each demand point, at least
        for the gap points (only those are read): the count ``still_short`` adds the
        proposals to. Default ``n_covering``: a plan that opens every candidate in budget of
        a gap point (a fewest-sites plan); a ``--max-sites`` plan passes its own (the stage
        :func:`coverage.planner.stages.propose_gaps` does).
    avoid_lat, avoid_lon : array_like, optional
        Existing sites (the candidates): a site within ``colocated_m`` metres of one would
        fail with it (one power or fibre cut), so a location that close is moved to twice
        that distance from it (across town), or left out when still that close to another
        site. A gap point that is itself a candidate place made the first proposal the
        candidate's own spot, and counted the pair as two sites.
    colocated_m : float, default 300
        The distance under which two sites fail together (``--colocated-m``; 0: not
        checked). Of possible locations within it of each other the most populous are
        kept, each skipping those that close to it, so no two proposals fail together (two
        demand points at one spot gave two proposals 0 m apart).
    taken_ids : array_like, optional
        Site ids the proposals must not take (the candidates' ids): a proposal is named
        ``new-001``, ``new-002``, ... skipping the names in it (:func:`proposed_ids`).
    crossings : bool, default True
        Also offer the crossings of the gap points' budget circles as locations (not with
        grid centroids). ``False``: the gap points (or centroids) and twins only.
    anchor_lat, anchor_lon : array_like, optional
        More locations, each with ``2k + 1`` twins round it: where routed rows' paths enter
        the network (their UPFs, backbone nodes: :meth:`coverage.model.routing.PairEngine.
        anchor_points`), the nearest a site can be on such a path. A mobile town whose
        breakout is 80 km away is reached by a site at the breakout, not in the town.
    apart_km : float, optional
        Failure domains by distance (``--domain-radius-km``): a proposal closer than this
        to a candidate or to another proposal would share its domain, so this is the
        colocation distance (when larger than ``colocated_m``); a location that close to
        a candidate moves to 1.05 times it away (not twice: with domains of tens of km that
        left the budget), and so do twins from their point (farther than it from the
        point's own location, and neighbouring twins of four directions 1.5 times it
        apart), at least the usual distance; a point whose radius is shorter but longer
        than the domain radius gets its twins midway between the two, and a point whose
        radius is at most the domain radius none (two proposals opposite each other could
        serve it, but the point's own location, kept first, excludes them).
    shrink_km : array_like, optional
        Aggregated demand: how far each row's members lie from it at most (a bin's
        ``max_offset_km``). The locations are placed and counted on radii this much
        smaller (where that leaves a radius), so a proposal reaches a bin's members, not
        only its centroid (by great-circle distance; the aggregation check of the plan
        measures the chosen sites, not the proposals).

    Returns
    -------
    Proposal
    """
    n_cov = np.asarray(n_covering, dtype=np.int64)
    opened = n_cov if n_open is None else np.asarray(n_open, dtype=np.int64)
    if row_latency is None:
        row_latency = RowLatency.from_model(model, demand["access"].to_numpy(), budget_ms,
                                            percentile)
    radius = row_latency.radius_km
    pop = demand["population"].to_numpy(dtype=np.float64)
    is_gap = gap_mask(n_cov, failures)
    n_gap, pop_gap = int(is_gap.sum()), float(pop[is_gap].sum())
    # a point whose budget is out of reach even at distance zero cannot be helped: still short
    deficit = np.where(is_gap & (radius >= 0), failures + 1 - n_cov, 0)
    gap = np.flatnonzero(deficit > 0)
    if not len(gap):
        return Proposal(_empty(), n_gap_points=n_gap, population_gap=pop_gap,
                        n_still_short=n_gap, population_still_short=pop_gap)
    g = demand.iloc[gap]
    g_xyz = unit_xyz(g["lat"], g["lon"])
    coarse = len(gap) > max_locations
    if not coarse:  # (pairs counted, not listed: the tree adds whole nodes in reach)
        n_pairs = int(count_within(unit_tree(g["lat"], g["lon"]), g_xyz, radius[gap]).sum())
        coarse = n_pairs > max_pairs
    if coarse:
        from ..config import MAX_CELL_KM

        # a quarter of the largest radius, or wider when that keeps more pairs than
        # max_pairs (about pi (r / cell)^2 locations within a point's radius), at most
        # half of it (wider cells' centroids left points short: 727 of 30,000 at a
        # radius-wide cell, review 140); within aggregate_grid's range (a budget of
        # seconds has radii of the Earth's size)
        r_km = float(radius[gap].max())
        wide = r_km * float(np.sqrt(np.pi * len(gap) / max(int(max_pairs), 1)))
        cell_km = min(max(r_km / 4.0, min(wide, r_km / 2.0), 1.0), MAX_CELL_KM)
        locs = aggregate_grid(g.assign(access="any"), cell_km).demand
        logger.info("gap proposals: %s gap points, their locations on a %.4g km grid (%s)",
                    f"{len(gap):,}", cell_km, f"{len(locs):,} locations")
    else:
        locs = g
    loc_lat = locs["lat"].to_numpy(dtype=np.float64)
    loc_lon = locs["lon"].to_numpy(dtype=np.float64)
    # gap points (or centroids) first: crossings, breakouts and twins weigh -1, so of
    # two locations too close to both be kept the gap point stays (review 143)
    loc_weight = locs["population"].to_numpy(dtype=np.float64)
    parts = [(loc_lat, loc_lon, loc_weight)]
    move_m = None
    twin_km = _twin_km(colocated_m)
    if apart_km is not None and float(apart_km) * 1000.0 > colocated_m:
        colocated_m = float(apart_km) * 1000.0
        move_m = 1.05 * colocated_m
        twin_km = max(move_m / 1000.0, _twin_km(DEFAULT_COLOCATED_M))
    # locations at least 1 m apart even with --colocated-m 0: two demand rows at one spot
    # gave two proposals there, a town "N-1 safe" on one spot (review 154)
    sep_m = max(colocated_m, 1.0)
    # aggregated demand: a location must reach a bin's members, up to shrink_km from its
    # centroid (review 143: crossings on the edge of two centroids' budgets left members
    # outside); a bin wider than its radius keeps the centroid's radius
    r_gap = radius[gap]
    if shrink_km is not None:
        inner = r_gap - np.asarray(shrink_km, dtype=np.float64)[gap]
        r_gap = np.where(inner > 0, inner, r_gap)
    if not coarse and crossings:
        x_lat, x_lon = _crossing_locations(g, r_gap, g_xyz, max_pairs - n_pairs)
        parts.append((x_lat, x_lon, np.full(len(x_lat), -1.0)))
    if anchor_lat is not None and anchor_lon is not None and len(anchor_lat):
        # the network's entry points and 2k + 1 spares round each (a row needs k + 1 sites
        # there; :func:`_spares`)
        a_lat = np.asarray(anchor_lat, dtype=np.float64)
        a_lon = np.asarray(anchor_lon, dtype=np.float64)
        tw_lat, tw_lon = _around(a_lat, a_lon, np.full(len(a_lat), _spares(failures)),
                                 twin_km)
        parts.append((np.concatenate([a_lat, tw_lat]), np.concatenate([a_lon, tw_lon]),
                      np.full(len(a_lat) + len(tw_lat), -1.0)))
    toward = (demand["lat"].to_numpy(dtype=np.float64),
              demand["lon"].to_numpy(dtype=np.float64))
    loc_lat, loc_lon, _ = _independent_locations(
        np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]), avoid_lat, avoid_lon, sep_m,
        toward_lat=toward[0], toward_lon=toward[1], move_m=move_m)
    a = _reach_pattern(gap, g_xyz, r_gap, loc_lat, loc_lon, reach_fn)
    # twins: a gap point with fewer locations in reach than the sites it lacks (an isolated
    # town) gets as many more round it, counted on the kept locations' real reach (rows
    # at one spot are one location after the colocation rule; review 143)
    lacking = deficit[gap] - np.diff(a.indptr)
    twin_at = np.full(len(gap), twin_km)
    if move_m is not None:  # a radius just above the domain radius: twins between them
        ring = (r_gap < twin_km) & (r_gap > colocated_m / 1000.0)
        twin_at[ring] = 0.5 * (colocated_m / 1000.0 + r_gap[ring])
    lacking = np.where(r_gap >= twin_at, np.maximum(lacking, 0), 0)
    if lacking.any():
        t_lat, t_lon = _around(g["lat"].to_numpy(dtype=np.float64),
                               g["lon"].to_numpy(dtype=np.float64),
                               np.where(lacking > 0, _spares(lacking), 0), twin_at)
        # clear of the candidates, of the kept locations (which stay: weight 1) and of
        # each other
        a, loc_lat, loc_lon = _add_locations(
            a, loc_lat, loc_lon, t_lat, t_lon, np.ones(len(loc_lat)), np.zeros(len(t_lat)),
            avoid_lat, avoid_lon, sep_m, move_m, toward, (gap, g_xyz, r_gap, reach_fn))
    # points still lacking (every spot near them within colocated_m of a candidate):
    # populated places farther than that from every site, within their reach, apart from
    # the kept locations and each other (at least 1 m: distinct spots with
    # --colocated-m 0, review 153)
    lacking = deficit[gap] - np.diff(a.indptr)
    still = np.flatnonzero((lacking > 0) & (r_gap > 0))
    if len(still):
        f_lat, f_lon, f_pop = _clear_places(toward[0], toward[1], pop, still, g_xyz, r_gap,
                                            avoid_lat, avoid_lon, colocated_m,
                                            max_locations, max_pairs)
        n_old = len(loc_lat)
        if len(f_lat):
            # only places that reach a lacking point; they outrank the kept locations
            # (weight 2) near them, which did not reach it (review 153: a place 20 km
            # from a kept location was thrown away, and its town left short), then by
            # the lacking points they reach and by population
            hits = np.bincount(_reach_pattern(gap[still], g_xyz[still], r_gap[still], f_lat,
                                              f_lon, reach_fn).indices,
                               minlength=len(f_lat)).astype(np.float64)
            use = hits > 0
            f_lat, f_lon = f_lat[use], f_lon[use]
            f_w = 3.0 + hits[use] + f_pop[use] / (f_pop.max() + 1.0)
        if len(f_lat):
            a, loc_lat, loc_lon = _add_locations(
                a, loc_lat, loc_lon, f_lat, f_lon, np.full(n_old, 2.0), f_w, avoid_lat,
                avoid_lon, sep_m, move_m, toward, (gap, g_xyz, r_gap, reach_fn))
        logger.info("gap proposals: %d point(s) lacked spots clear of the sites; %d "
                    "populated place(s) clear of them offered, %d location(s) in all",
                    len(still), len(f_lat), len(loc_lat))
    counts = np.diff(a.indptr).astype(np.int64)
    need = np.minimum(deficit[gap], counts)
    res = min_cover(a, need, time_limit_s=time_limit_s)
    chosen = np.asarray(res.sites, dtype=np.int64)
    status = res.status
    gained = a[:, chosen] if len(chosen) else sp.csr_array((len(gap), 0), dtype=np.int8)
    site_lat, site_lon = loc_lat[chosen], loc_lon[chosen]
    # the plan's open sites, not every candidate: a --max-sites plan leaves some closed
    have = opened[gap] + np.asarray(gained.sum(axis=1)).ravel()
    # repair: points the cover left short get populated places clear of the candidates and
    # of the chosen proposals (not of every offered location: a place within the colocation
    # distance of a location that the cover did not take, and that does not reach the
    # point, was thrown away before the cover; review 153), ranked by the short points
    # they reach, then by population
    left = np.flatnonzero((have < failures + 1) & (r_gap > 0))
    if len(left):
        ex_lat = np.concatenate([np.asarray([] if avoid_lat is None else avoid_lat,
                                            dtype=np.float64), site_lat])
        ex_lon = np.concatenate([np.asarray([] if avoid_lon is None else avoid_lon,
                                            dtype=np.float64), site_lon])
        f_lat, f_lon, f_pop = _clear_places(toward[0], toward[1], pop, left, g_xyz, r_gap,
                                            ex_lat, ex_lon, sep_m, max_locations, max_pairs,
                                            pair_rows=left)
        n_new = 0
        if len(f_lat):
            b = _reach_pattern(gap[left], g_xyz[left], r_gap[left], f_lat, f_lon, reach_fn)
            hits = np.bincount(b.indices, minlength=len(f_lat)).astype(np.float64)
            useful = np.flatnonzero(hits > 0)
            lat3, lon3, idx = _independent_locations(
                f_lat[useful], f_lon[useful],
                hits[useful] + f_pop[useful] / (f_pop.max() + 1.0), ex_lat, ex_lon, sep_m,
                move_m=move_m)
            b = sp.csr_array(b[:, useful[idx]], dtype=np.int8)
            need2 = np.minimum(failures + 1 - have[left], np.diff(b.indptr))
            res2 = min_cover(b, need2, time_limit_s=time_limit_s)
            pick = np.asarray(res2.sites, dtype=np.int64)
            n_new = len(pick)
            if n_new:
                extra = _reach_pattern(gap, g_xyz, r_gap, lat3[pick], lon3[pick], reach_fn)
                gained = sp.csr_array(sp.hstack([gained, extra], format="csr"),
                                      dtype=np.int8)
                site_lat = np.concatenate([site_lat, lat3[pick]])
                site_lon = np.concatenate([site_lon, lon3[pick]])
                have = opened[gap] + np.asarray(gained.sum(axis=1)).ravel()
                status = "repaired"
        logger.info("gap proposals: %d point(s) left short by the cover; %d more site(s) "
                    "at populated places clear of the sites and proposals", len(left), n_new)
    n_gained = np.asarray(gained.sum(axis=0)).ravel()
    pop_gained = gained.T @ pop[gap] if gained.shape[1] else np.zeros(0)
    sites = pd.DataFrame({
        "proposed_site_id": proposed_ids(len(site_lat), taken_ids),
        "lat": site_lat,
        "lon": site_lon,
        "n_demand_gained": n_gained.astype(np.int64),
        "population_gained": np.asarray(pop_gained, dtype=np.float64),
    })
    short = have < failures + 1
    n_unhelpable = n_gap - len(gap)
    # (the still short too: "proposed 4 new sites for 59 gap points (optimal)" read as
    # success where all 59 stayed short, tester 172)
    logger.info("proposed %d new sites for %d gap points (%s); %d still short of %d "
                "site(s) within budget", len(sites), n_gap, status,
                int(short.sum()) + n_unhelpable, failures + 1)
    return Proposal(
        sites=sites,
        n_gap_points=n_gap,
        population_gap=pop_gap,
        n_still_short=int(short.sum()) + n_unhelpable,
        population_still_short=float(pop[gap][short].sum())
        + float(pop[is_gap & (radius < 0)].sum()),
        status=status,
        lower_bound=float(min(res.lower_bound, len(chosen))),
    )
