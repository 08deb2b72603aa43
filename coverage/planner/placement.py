"""k-median placement of a national plan, without the full reach matrix.

Row generation (:mod:`coverage.solvers.rowgen`) proves the fewest sites of a national grid
without ever building the reach matrix, which the exact k-median stage needs. This module
places those sites anyway:

1. **The objective on bins.** The demand is binned into near-squares of ``cell_km`` (per
   access class, :func:`coverage.model.aggregate.aggregate_grid`); each bin is one
   weighted row at its population-weighted centroid, with its p50 latency to every
   candidate within budget. Bins are small enough (a tenth of the budget radius by default)
   that their latencies stand for their members'.
2. **The constraints on the original cells, generated.** Every original cell keeps its own
   requirement ``min(k + 1, |N_i|)``. The rows that bind are held as zero-weight rows with
   their requirement (identical reach sets merged): first the cells with exactly their
   requirement of the starting plan's sites in reach; after each local search, the cells it
   left short. The local search (:func:`coverage.solvers.kmedian.k_median`, swap moves from
   the proven cover, which satisfies every cell) runs on the bins plus the held rows; the
   result is then checked on **every** original cell by a radius count. It stops when the
   check passes (the placement is feasible for every cell) or after ``max_rounds``, keeping
   the proven cover then. With failure domains (``Problem.count_domains``) a held cell
   brings its domains' rows too, and the check also finds the cells whose sites in budget
   lie in too few domains (:func:`coverage.solvers.domain_rows.domain_short`).
3. **The loss measured on the original cells, and a bound.** The population-weighted p50
   latency of every original cell to its nearest chosen site is reported for the cover and
   for the placement; the lower bound is every cell's p50 latency to its nearest
   *candidate* (open or not), a valid bound on any plan's objective. The gap is reported.

Only the site count is proven optimal; the placement is a local optimum with a stated gap.

**By independent pieces** (:func:`place_components`, after a count by components,
:mod:`coverage.solvers.components`): a cell's latency and requirement depend only on the
candidates of its component, so each piece of the count is placed on its own, with the
piece's share of the cover (its sites stay in it): one Dask task per piece with a client,
or one after the other in this process. The objectives, covers and bounds add up over the
pieces; every piece checks every one of its cells.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

logger = logging.getLogger(__name__)

__all__ = ["NationalPlacement", "place_national", "place_components", "place_piece",
           "DEFAULT_BIN_FRACTION", "MAX_ROUNDS", "MAX_BIN_PAIRS", "MIN_PIECE_S",
           "MAX_REVERT_PAIRS", "MAX_REVERT_STEPS", "REPAIR_TIME_S"]

#: Bin edge as a share of the median budget radius, at most :data:`MAX_BIN_KM`.
DEFAULT_BIN_FRACTION = 0.1
#: Largest default bin edge, km (then coarsened only to stay within
#: :data:`MAX_BIN_PAIRS`): a tenth of a 100 ms radius is 322 km, 11 bins for Germany with
#: offsets of up to 335 km (about 7.5 ms): that placement was 2.7 % worse than the 50 ms
#: plan's sites, which are feasible at 100 ms too.
MAX_BIN_KM = 25.0
#: Local-search rounds (each followed by a check of every cell) before the cover is kept.
MAX_ROUNDS = 5
#: Most (cell, candidate) pairs held as constraint rows per hold (the first, and each
#: round's): beyond it the cells with the fewest candidates in budget are held first (the
#: most constraining; every cell is counted after each search anyway, and the short ones
#: are held next). At 50 ms every cell of a 596k-cell national grid was tight with about
#: 690 candidates in budget: 412M pairs held, 13.8 GB and 169 s, before any search.
MAX_HOLD_PAIRS = 8_000_000
#: Largest bins x candidates reach the placement builds; above, the bins are coarsened.
MAX_BIN_PAIRS = 4_000_000
#: In this process, the least time a piece's local search gets, s (pieces share the limit).
MIN_PIECE_S = 1.0
#: Largest number of moves (dropped and added site pairs) the repair of a placement with
#: cells short pairs up (a dense distance matrix of that side).
MAX_REVERT_PAIRS = 3_000
#: Steps (one count of every cell each) the repair takes at most.
MAX_REVERT_STEPS = 50
#: Seconds the repair may take after the rounds (it starts when their time is up).
REPAIR_TIME_S = 10.0

#: Demand columns a piece's placement reads (:func:`place_piece` builds its problem from
#: them); the others (names, a user's own columns) stay in the client.
PIECE_DEMAND_COLUMNS = ("demand_id", "lat", "lon", "population", "access", "tiers",
                        "budget_ms", "service_class")


@dataclass(frozen=True)
class NationalPlacement:
    """Result of :func:`place_national`.

    Attributes
    ----------
    sites : numpy.ndarray
        Chosen candidate indices (the cover's count).
    status : str
        ``"local_search"`` (a feasible improvement or the cover itself, checked on every
        cell), ``"kept_cover"`` (no feasible improvement within ``max_rounds``) or why it
        was skipped.
    lower_bound : float
        Population-weighted p50 latency of every cell to its nearest candidate (ms x
        people): no plan does better.
    info : dict
        ``summary.json["placement"]``: bins, rounds, held rows, the objective of the cover
        and of the placement on the original cells, the bound and the gap, timings.
    """

    sites: npt.NDArray[np.int64]
    status: str
    lower_bound: float = float("nan")
    info: dict[str, Any] = field(default_factory=dict)


def _objective(problem: Any, sites: npt.ArrayLike, source: Any) -> tuple[float, float]:
    """Population-weighted p50 latency of every cell to its nearest site of ``sites`` (ms x
    people), and the population with such a site in reach."""
    from ..model.geo import nearest

    s = np.asarray(sites, dtype=np.int64)
    pop = problem.population
    d_km = nearest(problem.site_lat[s], problem.site_lon[s], source.points_xyz)[0][:, 0]
    rl = problem.rows
    within = d_km <= rl.radius_km
    lat = rl.fixed_p50_ms + rl.ms_per_km * d_km
    return float(np.dot(pop[within], lat[within])), float(pop[within].sum())


def _figures(problem: Any, obj: float, cover_obj: float, lower: float,
             served: float) -> dict[str, Any]:
    """``summary.json["placement"]``'s figures: the objectives (ms x people) of the placement
    and of the cover, their means over the people served, the bound and the gap."""
    return {"objective_ms_pop": obj, "cover_objective_ms_pop": cover_obj,
            "mean_p50_ms": obj / served if served > 0 else None,
            "cover_mean_p50_ms": cover_obj / served if served > 0 else None,
            "lower_bound_ms_pop": lower,
            "gap": (obj - lower) / obj if obj > 0 and math.isfinite(lower) else None,
            "population_served": served,
            "population_total": float(problem.population.sum())}


def _lower_bound(problem: Any, source: Any) -> float:
    """Every cell's p50 latency to its nearest candidate within budget, weighted: a lower
    bound on any plan's k-median objective over the cells it serves."""
    value, _ = _objective(problem, np.arange(len(problem.sites)), source)
    return value


def place_national(problem: Any, cover_sites: npt.ArrayLike, n_covering: npt.ArrayLike, *,
                   source: Any, bin_reach: Callable[[Any], Any],
                   cell_km: float | None = None, time_limit_s: float = 60.0,
                   max_rounds: int = MAX_ROUNDS, hold_tight: bool = True,
                   repair: bool = True) -> NationalPlacement:
    """Place the proven number of sites of a row-generation plan to minimise the
    population-weighted p50 latency, every original cell kept within its requirement.

    Parameters
    ----------
    problem : Problem
        The plan's problem (original cells).
    cover_sites : array_like of int
        The proven cover (feasible for every cell): the start and the fallback.
    n_covering : array_like of int
        Candidates within budget of every cell (``|N_i|``).
    source : coverage.solvers.rowgen.RowSource
        The problem's rows (:func:`coverage.planner.stages.row_source`): counts and rows of
        the original cells.
    bin_reach : callable
        ``bin_reach(problem)``: the reach matrix of a problem
        (:func:`coverage.planner.stages.reach_matrix`), applied to the bins.
    cell_km : float, optional
        Bin edge of the objective's bins, km; default a tenth of the median budget radius,
        at most :data:`MAX_BIN_KM`.
    time_limit_s : float, default 60
        Time for the local searches together, s.
    max_rounds : int, default :data:`MAX_ROUNDS`
        Search-and-check rounds before the cover is kept.
    hold_tight : bool, default True
        After a round that leaves cells short, hold (as constraint rows of the next search)
        the short cells and also those the round's plan keeps at exactly their requirement
        that were not held yet; False holds the short cells only.
    repair : bool, default True
        When the rounds end with cells short (``max_rounds`` or the time limit), revert the
        last search's moves near them until every cell is kept (:func:`_revert_toward`)
        instead of keeping the cover; False keeps the cover.

    Returns
    -------
    NationalPlacement

    Notes
    -----
    Each round searches from the cover on the bins with the held rows as constraints, then
    counts every original cell's sites within budget. The first rounds hold the cells the
    cover keeps at exactly their requirement. Holding only the short cells after a round
    converges slowly on large pieces: the next search, again from the cover, pushes the
    cells the last one brought down to their requirement further (hand runs, 2026-12-01:
    a 479k-cell piece of the 2M-cell world kept its cover after 5 rounds; a 1M-cell Asian
    grid's largest piece needed all 5 rounds, 1,410 -> 543 -> 54 -> 14 -> 0 cells short,
    and with the tight cells held 3, 1,410 -> 5 -> 0, objective 0.003 % lower).
    """
    from ..model.aggregate import aggregate_grid
    from ..model.problem import Problem
    from ..solvers.cover import identical_row_groups
    from ..solvers.domain_rows import domain_rows, domain_short
    from ..solvers.kmedian import k_median

    t0 = time.perf_counter()
    deadline = t0 + float(time_limit_s)
    cover = np.sort(np.asarray(cover_sites, dtype=np.int64))
    n_cov = np.asarray(n_covering, dtype=np.int64)
    info: dict[str, Any] = {"method": "local search on bins, constraints generated on the "
                                      "original cells"}
    if problem.service is not None:
        return NationalPlacement(cover, "skipped (service classes: bins would mix budgets)",
                                 info={**info, "skipped": "service classes"})
    if problem.routed or problem.radius_shrink_km is not None:
        return NationalPlacement(
            cover, "skipped (site tiers, mobile anchors or a backbone: the bins and the bound "
                   "use great-circle latencies)", info={**info, "skipped": "routed"})
    if not len(cover):
        return NationalPlacement(cover, "skipped (no site)", info=info)
    req = problem.requirement(n_cov)
    k = int(problem.config.failures)
    codes = problem.count_domains if k >= 1 else None
    n_dom = np.full(len(req), -1, dtype=np.int64)  # cells' domains in budget, once read

    def short_of(sites: npt.NDArray[np.int64], have: npt.NDArray[np.int64],
                 ) -> npt.NDArray[np.int64]:
        """The cells short of their requirement under ``sites`` (``have`` in budget), or
        of their failure domains (:func:`coverage.solvers.domain_rows.domain_short`)."""
        short = have < req
        if codes is not None:
            short[domain_short(source, sites, have, req, codes, k, n_dom)] = True
        return np.flatnonzero(short)

    radius = problem.rows.radius_km
    ok_r = radius[radius > 0]
    if cell_km is None:
        cell_km = (min(MAX_BIN_KM, max(1.0, DEFAULT_BIN_FRACTION * float(np.median(ok_r))))
                   if len(ok_r) else 10.0)
    # 1. bins and their reach (p50 latencies), coarsened when too large
    t = time.perf_counter()
    while True:
        agg = aggregate_grid(problem.demand, float(cell_km))
        est = float(len(agg.demand)) * float(np.mean(n_cov)) if len(n_cov) else 0.0
        if est <= MAX_BIN_PAIRS:
            break
        cell_km *= math.sqrt(est / MAX_BIN_PAIRS) * 1.1
    bins = Problem.build(agg.demand, problem.sites, problem.config, problem.model,
                         tiers=problem.tier_catalog, routing=problem.routing)
    lat_bins = sp.csr_array(bin_reach(bins).values("p50_ms"))
    w_bins = bins.population
    info.update({"cell_km": float(cell_km), "bins": int(len(agg.demand)),
                 "bin_pairs": int(lat_bins.nnz), "bins_s": time.perf_counter() - t})
    # 2. constraint rows: the cells the cover holds at exactly their requirement
    t = time.perf_counter()
    count = source.count(cover)
    tight0 = np.flatnonzero((req > 0) & (count <= req))
    held = _within_pairs(tight0, n_cov)
    info["tight_cells"] = int(len(tight0))
    info["held_cells"] = int(len(held))
    pattern = sp.csr_array((0, len(problem.sites)), dtype=bool)
    held_req = np.zeros(0, dtype=np.int64)

    rng = np.random.default_rng(0)

    def hold(cells: npt.NDArray[np.int64]) -> None:
        """Add the rows of ``cells`` to the held constraints, identical rows merged (the
        largest requirement kept)."""
        nonlocal pattern, held_req
        block = source.rows(cells)
        blocks, r_all = [pattern, block], [held_req, req[cells]]
        if codes is not None:  # and their failure domains' rows
            extra = domain_rows(block, codes, k)
            blocks.append(extra.matrix.astype(bool))
            r_all.append(extra.requirement)
        stacked = sp.csr_array(sp.vstack(blocks))
        stacked.sort_indices()
        r_all = np.concatenate(r_all)
        merged = identical_row_groups(stacked, rng)
        if merged is None:  # a hash collision: keep every row
            pattern, held_req = stacked, r_all
            return
        first, inverse = merged
        keep = np.zeros(len(first), dtype=np.int64)
        np.maximum.at(keep, inverse, r_all)
        pattern, held_req = sp.csr_array(stacked[first]), keep

    hold(held)
    is_held = np.zeros(len(req), dtype=bool)
    is_held[held] = True
    info["hold_s"] = time.perf_counter() - t
    cover_obj, _ = _objective(problem, cover, source)
    best, status, rounds = cover, "kept_cover", []
    last: npt.NDArray[np.int64] | None = None  # the last search's plan, with cells short
    for rnd in range(max_rounds):
        remaining = deadline - time.perf_counter()
        if remaining <= 0.5:
            break
        t = time.perf_counter()
        con = sp.csr_array((np.ones(pattern.nnz), pattern.indices, pattern.indptr),
                           shape=pattern.shape)
        lat = sp.csr_array(sp.vstack([lat_bins, con]))
        w = np.concatenate([w_bins, np.zeros(con.shape[0])])
        r = np.concatenate([np.zeros(len(w_bins), dtype=np.int64), held_req])
        med = k_median(lat, len(cover), weights=w, requirement=r, required=problem.required,
                       start=cover, time_limit_s=remaining, max_pairs_exact=0, bound=False)
        search_s = time.perf_counter() - t
        t = time.perf_counter()
        cnt_med = source.count(med.sites)
        short = short_of(np.asarray(med.sites, dtype=np.int64), cnt_med)
        check_s = time.perf_counter() - t
        rounds.append({"held_rows": int(pattern.shape[0]), "short_cells": int(len(short)),
                       "search_s": search_s, "check_s": check_s})
        logger.info("national placement round %d: %d held rows, %d cells short", rnd + 1,
                    pattern.shape[0], len(short))
        if not len(short):
            best, status = np.sort(med.sites), "local_search"
            break
        last = np.asarray(med.sites, dtype=np.int64)
        # the short cells, and those the search brought down to exactly their requirement
        # (hold_tight, see Notes)
        is_held[short] = True
        tight = np.zeros(0, dtype=np.int64)
        if hold_tight:
            tight = np.flatnonzero((req > 0) & (cnt_med == req) & ~is_held)
            is_held[tight] = True
        chosen = _within_pairs(np.concatenate([short, tight]), n_cov,
                               first=len(short))
        is_held[np.setdiff1d(tight, chosen)] = False  # not held: may be held later
        rounds[-1]["tight_cells_held"] = int(len(chosen) - min(len(short), len(chosen)))
        hold(chosen)
    if status == "kept_cover" and repair and last is not None:
        t = time.perf_counter()
        fixed, rep = _revert_toward(problem, cover, last, source, req,
                                    deadline=time.perf_counter() + REPAIR_TIME_S,
                                    short_of=short_of)
        info["repair"] = {**rep, "repair_s": time.perf_counter() - t}
        if fixed is not None:
            best, status = fixed, "local_search"
    obj, served = _objective(problem, best, source)
    if status == "local_search" and obj > cover_obj:  # better on bins, worse on the cells
        best, status = cover, "kept_cover"
        obj, served = _objective(problem, best, source)
    lower = _lower_bound(problem, source)
    info.update({"rounds": rounds, "status": status,
                 **_figures(problem, obj, cover_obj, lower, served),
                 "runtime_s": time.perf_counter() - t0})
    return NationalPlacement(best, status, lower, info)


def _within_pairs(cells: npt.NDArray[np.int64], n_cov: npt.NDArray[np.int64], *,
                  first: int = 0, max_pairs: int | None = None) -> npt.NDArray[np.int64]:
    """The cells to hold (:func:`coverage.solvers.rowgen.fewest_within_pairs`, at most
    ``max_pairs``, default :data:`MAX_HOLD_PAIRS`): the first ``first`` (the short ones)
    before the others; all of them, in their order, when they fit."""
    from ..solvers.rowgen import fewest_within_pairs

    limit = MAX_HOLD_PAIRS if max_pairs is None else max_pairs
    if int(n_cov[cells].sum()) <= limit:
        return cells
    return fewest_within_pairs(cells, n_cov, limit, first=first)


def _revert_toward(problem: Any, cover: npt.NDArray[np.int64], plan: npt.ArrayLike,
                   source: Any, req: npt.NDArray[np.int64], max_pairs: int = MAX_REVERT_PAIRS,
                   max_steps: int = MAX_REVERT_STEPS, deadline: float = math.inf,
                   short_of: Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]],
                                      npt.NDArray[np.int64]] | None = None,
                   ) -> tuple[npt.NDArray[np.int64] | None, dict[str, Any]]:
    """A plan of ``len(cover)`` sites that keeps every cell, from ``plan`` (cells short) by
    undoing its moves away from the cover near the short cells.

    The sites the plan dropped from the cover are paired one to one with those it added
    (nearest pairs: :func:`scipy.optimize.linear_sum_assignment` on chord distances); a
    step reverts every pair whose dropped site is within budget of a cell still short
    (the added site goes, the cover's site comes back), then counts every cell again. A
    cell short of its requirement always has an unreverted dropped site within budget
    (the cover keeps it), so each step reverts at least one pair and reverting them all
    gives the cover back: the loop ends with every cell kept. Required sites are never
    dropped (the search keeps them). ``short_of(sites, counts)``: the cells short under
    ``sites`` (default: fewer than ``req`` in budget); with failure domains also those in
    too few domains, which the same argument covers: the cover's sites in budget span the
    cell's domains, so a domain it misses has a dropped site in budget.

    Returns
    -------
    (sites, info)
        The sorted sites, or None when the plan has more than ``max_pairs`` moves or
        ``max_steps`` steps (or ``deadline``, a :func:`time.perf_counter` time) did not
        suffice (the caller keeps the cover); ``info`` has the pairs, the pairs reverted
        and the counts of every cell made (``steps``).
    """
    from scipy.optimize import linear_sum_assignment

    from ..model.geo import unit_xyz

    dropped = np.setdiff1d(cover, plan)
    added = np.setdiff1d(np.asarray(plan, dtype=np.int64), cover)
    info: dict[str, Any] = {"pairs": int(len(dropped)), "pairs_reverted": 0, "steps": 0}
    if len(dropped) != len(added) or len(dropped) > max_pairs:
        return None, info
    xyz = unit_xyz(problem.site_lat, problem.site_lon)
    chord = np.sqrt(np.maximum(2.0 - 2.0 * (xyz[dropped] @ xyz[added].T), 0.0))
    rows, cols = linear_sum_assignment(chord)
    dropped, added = dropped[rows], added[cols]
    reverted = np.zeros(len(dropped), dtype=bool)
    is_dropped = np.full(len(problem.sites), -1, dtype=np.int64)
    is_dropped[dropped] = np.arange(len(dropped))
    for step in range(max_steps + 1):  # the last count checks the last reverts
        sites = np.sort(np.concatenate([np.setdiff1d(cover, dropped[~reverted]),
                                        added[~reverted]]))
        have = source.count(sites)
        short = (np.flatnonzero(have < req) if short_of is None
                 else short_of(sites, have))
        info["steps"] = step + 1
        info["pairs_reverted"] = int(reverted.sum())
        if not len(short):
            return sites, info
        if step == max_steps or time.perf_counter() > deadline:
            break
        near = np.unique(source.rows(short).indices)
        pair = is_dropped[near]
        pair = pair[pair >= 0]
        pair = pair[~reverted[pair]]
        if not len(pair):  # not expected (see above): keep the cover
            break
        reverted[pair] = True
    return None, info


def place_piece(demand: Any, sites: Any, config: Any, model: Any, tiers: Any, routing: Any,
                cover_sites: npt.ArrayLike, n_covering: npt.ArrayLike,
                domain_codes: npt.ArrayLike | None = None, *,
                source_of: Callable[[Any], Any], bin_reach: Callable[[Any], Any],
                time_limit_s: float) -> dict[str, Any]:
    """One piece's national placement (a Dask task): the piece's problem is built from its
    cells and candidates, then :func:`place_national` runs on it.

    Parameters
    ----------
    demand, sites : pandas.DataFrame
        The piece's validated cells and candidates (every candidate of its cells).
    config, model, tiers, routing
        The whole problem's options, latency model, tier catalog and routing.
    cover_sites : array_like of int
        The piece's sites of the proven cover, as positions in ``sites``.
    n_covering : array_like of int
        ``|N_i|`` of the piece's cells.
    domain_codes : array_like of int, optional
        The failure domain code of every candidate of the piece
        (``Problem.count_domains``).
    source_of, bin_reach : callable
        ``source_of(problem)``: its row source (:func:`coverage.planner.stages.row_source`);
        ``bin_reach(problem)``: its reach matrix (:func:`coverage.planner.stages.reach_matrix`).
    time_limit_s : float
        The piece's local-search time, s.

    Returns
    -------
    dict
        ``sites`` (positions in ``sites``), ``status``, ``lower_bound``, ``info`` (as
        :class:`NationalPlacement`), ``wall_s``, ``peak_rss_mib`` and ``pid``.
    """
    from ..model.problem import Problem
    from ..solvers.components import peak_rss_mib

    t = time.perf_counter()
    sub = Problem.build(demand, sites, config, model, tiers=tiers, routing=routing)
    if domain_codes is not None:
        from dataclasses import replace

        sub = replace(sub, count_domains=np.asarray(domain_codes, dtype=np.int64))
    nat = place_national(sub, cover_sites, n_covering, source=source_of(sub),
                         bin_reach=bin_reach, time_limit_s=time_limit_s)
    return {"sites": nat.sites, "status": nat.status, "lower_bound": nat.lower_bound,
            "info": nat.info, "wall_s": time.perf_counter() - t,
            "peak_rss_mib": peak_rss_mib(), "pid": os.getpid()}


def place_components(problem: Any, count: Any, *, source_of: Callable[[Any], Any],
                     bin_reach: Callable[[Any], Any], client: Any = None,
                     time_limit_s: float = 60.0) -> NationalPlacement:
    """:func:`place_national` piece by piece after a count by independent components.

    A cell's candidates all lie in its piece (the split never cuts a component), so the
    placement of one piece changes no other piece's latencies or requirements: every piece
    is placed with its own sites of the cover (the count per piece is kept), its cells
    checked, and the results are combined (union of the sites; objective, cover objective,
    bound and population served summed). Required candidates that no cell reaches stay.

    Parameters
    ----------
    problem : Problem
        The whole plan's problem.
    count : coverage.planner.stages.SiteCount
        The count by components (``count.components`` holds the pieces).
    source_of, bin_reach : callable
        As :func:`place_piece`.
    client : distributed.Client, optional
        One task per piece (largest first), each with the whole ``time_limit_s``; without
        one, the pieces run here, smallest first, each with its share (by cells) of the
        time left (at least :data:`MIN_PIECE_S`).
    time_limit_s : float, default 60
        Time for the local searches, s.

    Returns
    -------
    NationalPlacement
        ``status`` ``"kept_cover"`` when every piece kept its cover, else
        ``"local_search"``; ``info["pieces"]`` has one row per piece.
    """
    t0 = time.perf_counter()
    res = count.components
    cover = np.sort(np.asarray(count.cover.sites, dtype=np.int64))
    if (res is None or not res.piece_cells or problem.service is not None or problem.routed
            or problem.radius_shrink_km is not None or not len(cover)):
        # what place_national does with the whole problem (it says why it skips)
        return place_national(problem, cover, count.n_covering, source=source_of(problem),
                              bin_reach=bin_reach, time_limit_s=time_limit_s)
    n_cov = np.asarray(count.n_covering, dtype=np.int64)
    site_piece = np.full(len(problem.sites), -1, dtype=np.int64)
    for p, cols in enumerate(res.piece_sites):
        site_piece[cols] = p
    common = (problem.config, problem.model, problem.tier_catalog, problem.routing)
    # the columns a piece's problem reads (a user's other columns would cross the network)
    demand = problem.demand[[c for c in problem.demand.columns if c in PIECE_DEMAND_COLUMNS]]
    jobs = []
    for p, (rows, cols) in enumerate(zip(res.piece_cells, res.piece_sites, strict=True)):
        mine = cover[site_piece[cover] == p]
        if not len(mine):  # no site: none of its cells reaches a candidate
            continue
        args = (demand.iloc[rows].reset_index(drop=True),
                problem.sites.iloc[cols].reset_index(drop=True), *common,
                np.searchsorted(cols, mine), n_cov[rows],
                None if problem.count_domains is None else problem.count_domains[cols])
        jobs.append((p, rows, cols, args))
    kw = {"source_of": source_of, "bin_reach": bin_reach}
    outs: dict[int, dict[str, Any]] = {}
    if client is None:  # smallest first: what a piece does not use passes on
        deadline = t0 + float(time_limit_s)
        order = sorted(range(len(jobs)), key=lambda j: len(jobs[j][1]))
        cells_left = float(sum(len(j[1]) for j in jobs))
        for j in order:
            share = len(jobs[j][1]) / cells_left if cells_left else 1.0
            cells_left -= len(jobs[j][1])
            limit = max((deadline - time.perf_counter()) * share, MIN_PIECE_S)
            outs[j] = place_piece(*jobs[j][3], **kw, time_limit_s=limit)
    else:  # largest first (the longest tasks start first), each with the whole limit
        from ..solvers.components import run_pieces

        order = sorted(range(len(jobs)), key=lambda j: -len(jobs[j][1]))
        done = run_pieces(client, place_piece,
                          [(jobs[j][3], dict(kw, time_limit_s=float(time_limit_s)))
                           for j in order])
        outs = dict(zip(order, done, strict=True))
    chosen = [cover[site_piece[cover] < 0]]
    total = {"objective_ms_pop": 0.0, "cover_objective_ms_pop": 0.0,
             "lower_bound_ms_pop": 0.0, "population_served": 0.0}
    table = []
    for j, (p, rows, cols, _) in enumerate(jobs):
        out = outs[j]
        chosen.append(cols[np.asarray(out["sites"], dtype=np.int64)])
        inf = out["info"]
        for key in total:
            total[key] += float(inf.get(key, float("nan")))
        table.append({"piece": p, "cells": int(len(rows)), "candidates": int(len(cols)),
                      "sites": int(len(out["sites"])), "status": out["status"],
                      "rounds": len(inf.get("rounds", [])),
                      "short_cells_by_round": [int(r["short_cells"])
                                               for r in inf.get("rounds", [])],
                      "repair": inf.get("repair"), "bins": inf.get("bins"),
                      "objective_ms_pop": inf.get("objective_ms_pop"),
                      "cover_objective_ms_pop": inf.get("cover_objective_ms_pop"),
                      "lower_bound_ms_pop": inf.get("lower_bound_ms_pop"),
                      "wall_s": out["wall_s"], "peak_rss_mib": out["peak_rss_mib"],
                      "pid": out["pid"]})
    sites = np.sort(np.concatenate(chosen)).astype(np.int64)
    kept = sum(1 for r in table if r["status"] == "kept_cover")
    status = "kept_cover" if kept == len(table) else "local_search"
    lower = total["lower_bound_ms_pop"]
    info = {"method": "local search on bins per independent piece, constraints generated on "
                      "the original cells",
            "status": status, "pieces": table, "pieces_kept_cover": kept,
            "workers": (0 if client is None
                        else len(client.scheduler_info().get("workers", {}))),
            **_figures(problem, total["objective_ms_pop"], total["cover_objective_ms_pop"],
                       lower, total["population_served"]),
            "runtime_s": time.perf_counter() - t0}
    logger.info("national placement by %d pieces: %s (%d kept their cover), %.1f s",
                len(table), status, kept, info["runtime_s"])
    return NationalPlacement(sites, status, lower, info)
