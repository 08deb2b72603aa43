"""k-median placement of a national plan, without the full reach matrix.

Row generation (:mod:`coverage.solvers.rowgen`) proves the fewest sites of a national grid
without ever building the reach matrix, which the exact k-median stage needs. This module
places those sites anyway:

1. **The objective on bins.** The demand is binned into squares of ``cell_km`` (equal-area
   grid, per access class, :func:`coverage.model.aggregate.aggregate_grid`); each bin is one
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
   the proven cover then.
3. **The loss measured on the original cells, and a bound.** The population-weighted p50
   latency of every original cell to its nearest chosen site is reported for the cover and
   for the placement; the lower bound is every cell's p50 latency to its nearest
   *candidate* (open or not), a valid bound on any plan's objective. The gap is reported.

Only the site count is proven optimal; the placement is a local optimum with a stated gap.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

logger = logging.getLogger(__name__)

__all__ = ["NationalPlacement", "place_national", "DEFAULT_BIN_FRACTION", "MAX_ROUNDS",
           "MAX_BIN_PAIRS"]

#: Bin edge as a share of the median budget radius.
DEFAULT_BIN_FRACTION = 0.1
#: Local-search rounds (each followed by a check of every cell) before the cover is kept.
MAX_ROUNDS = 5
#: Largest bins x candidates reach the placement builds; above, the bins are coarsened.
MAX_BIN_PAIRS = 4_000_000


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
    from ..model.geo import km_from_chord, unit_tree

    s = np.asarray(sites, dtype=np.int64)
    pop = problem.population
    tree = unit_tree(problem.site_lat[s], problem.site_lon[s])
    dist, _ = tree.query(source.points_xyz, k=1)
    d_km = km_from_chord(np.asarray(dist).ravel())
    rl = problem.rows
    within = d_km <= rl.radius_km
    lat = rl.fixed_p50_ms + rl.ms_per_km * d_km
    return float(np.dot(pop[within], lat[within])), float(pop[within].sum())


def _lower_bound(problem: Any, source: Any) -> float:
    """Every cell's p50 latency to its nearest candidate within budget, weighted: a lower
    bound on any plan's k-median objective over the cells it serves."""
    value, _ = _objective(problem, np.arange(len(problem.sites)), source)
    return value


def place_national(problem: Any, cover_sites: npt.ArrayLike, n_covering: npt.ArrayLike, *,
                   source: Any, bin_reach: Callable[[Any], Any],
                   cell_km: float | None = None, time_limit_s: float = 60.0,
                   max_rounds: int = MAX_ROUNDS) -> NationalPlacement:
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
        Bin edge of the objective's bins, km; default a tenth of the median budget radius.
    time_limit_s : float, default 60
        Time for the local searches together, s.
    max_rounds : int, default :data:`MAX_ROUNDS`
        Search-and-check rounds before the cover is kept.

    Returns
    -------
    NationalPlacement
    """
    from ..model.aggregate import aggregate_grid
    from ..model.problem import Problem
    from ..solvers.cover import identical_row_groups
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
    radius = problem.rows.radius_km
    ok_r = radius[radius > 0]
    if cell_km is None:
        cell_km = max(1.0, DEFAULT_BIN_FRACTION * float(np.median(ok_r)) if len(ok_r) else 10.0)
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
    held = np.flatnonzero((req > 0) & (count <= req))
    info["tight_cells"] = int(len(held))
    pattern = sp.csr_array((0, len(problem.sites)), dtype=bool)
    held_req = np.zeros(0, dtype=np.int64)

    rng = np.random.default_rng(0)

    def hold(cells: npt.NDArray[np.int64]) -> None:
        """Add the rows of ``cells`` to the held constraints, identical rows merged (the
        largest requirement kept)."""
        nonlocal pattern, held_req
        stacked = sp.csr_array(sp.vstack([pattern, source.rows(cells)]))
        stacked.sort_indices()
        r_all = np.concatenate([held_req, req[cells]])
        merged = identical_row_groups(stacked, rng)
        if merged is None:  # a hash collision: keep every row
            pattern, held_req = stacked, r_all
            return
        first, inverse = merged
        keep = np.zeros(len(first), dtype=np.int64)
        np.maximum.at(keep, inverse, r_all)
        pattern, held_req = sp.csr_array(stacked[first]), keep

    hold(held)
    info["hold_s"] = time.perf_counter() - t
    cover_obj, _ = _objective(problem, cover, source)
    best, status, rounds = cover, "kept_cover", []
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
        short = np.flatnonzero(source.count(med.sites) < req)
        check_s = time.perf_counter() - t
        rounds.append({"held_rows": int(pattern.shape[0]), "short_cells": int(len(short)),
                       "search_s": search_s, "check_s": check_s})
        logger.info("national placement round %d: %d held rows, %d cells short", rnd + 1,
                    pattern.shape[0], len(short))
        if not len(short):
            best, status = np.sort(med.sites), "local_search"
            break
        hold(short)
    obj, served = _objective(problem, best, source)
    if status == "local_search" and obj > cover_obj:  # better on bins, worse on the cells
        best, status = cover, "kept_cover"
        obj, served = _objective(problem, best, source)
    lower = _lower_bound(problem, source)
    pop_total = float(problem.population.sum())
    info.update({
        "rounds": rounds, "status": status,
        "objective_ms_pop": obj, "cover_objective_ms_pop": cover_obj,
        "mean_p50_ms": obj / served if served > 0 else None,
        "cover_mean_p50_ms": cover_obj / served if served > 0 else None,
        "lower_bound_ms_pop": lower,
        "gap": (obj - lower) / obj if obj > 0 and math.isfinite(lower) else None,
        "population_served": served, "population_total": pop_total,
        "runtime_s": time.perf_counter() - t0,
    })
    return NationalPlacement(best, status, lower, info)
