"""The stages of a plan, shared by :func:`coverage.plan_sites` and
:func:`coverage.planner.sweep.budget_sweep`.

Each stage takes a :class:`~coverage.model.problem.Problem` and never recomputes what the problem
holds (radii, latency constants, requirements):

1. :func:`estimate_pairs` and :func:`choose_strategy`: full reach matrix or row generation,
   by one rule (the estimated pairs against a limit);
2. :func:`reach_matrix`: the sparse (demand, site) pairs within budget;
3. :func:`min_sites`: the fewest sites (or least cost) giving every point
   ``min(k + 1, |N_i|)`` sites within budget, on the reach matrix or by row generation;
4. :func:`assign_and_fail` and :func:`n_minus_1`: primary, backup, N-1 latency of every
   point and the single-failure table.

Placement (k-median), gaps and the summary are composed by :func:`coverage.plan_sites`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..model.geo import count_within, km_from_chord, unit_tree, unit_xyz
from ..model.problem import Problem
from ..model.reach import ReachMatrix, build_reach
from ..resilience.status import coverage_status
from ..solvers.cover import CoverResult, min_cover
from ..solvers.rowgen import LazyCoverResult, lazy_cover

logger = logging.getLogger(__name__)

__all__ = ["SiteCount", "assign_and_fail", "choose_strategy", "estimate_pairs", "min_sites",
           "n_minus_1", "reach_matrix", "BYTES_PER_PAIR"]

BYTES_PER_PAIR = 40  # indices + three float32 arrays, plus the copies the solvers make


def estimate_pairs(problem: Problem, sample: int = 4000) -> float:
    """Expected number of (demand, site) pairs in reach, from a seeded sample of demand."""
    n = len(problem.demand)
    if n == 0 or len(problem.sites) == 0:
        return 0.0
    rng = np.random.default_rng(0)
    idx = rng.choice(n, size=min(sample, n), replace=False)
    tree = unit_tree(problem.site_lat, problem.site_lon)
    counts = count_within(tree, unit_xyz(problem.demand_lat[idx], problem.demand_lon[idx]),
                          problem.rows.radius_km[idx])
    return float(counts.mean() * n)



def choose_strategy(problem: Problem, strategy: str, max_pairs: float,
                    ) -> tuple[str, float]:
    """``"full"`` or ``"lazy"`` for ``strategy="auto"`` (else ``strategy`` itself): full
    when the estimated pairs are at most ``max_pairs``; also returns the estimate."""
    est = estimate_pairs(problem)
    if strategy == "auto":
        strategy = "full" if est <= max_pairs else "lazy"
    return strategy, est


def reach_matrix(problem: Problem, *, client: Any = None,
                 partitions: int | None = None) -> ReachMatrix:
    """The reach matrix of ``problem`` (on a Dask cluster with ``client``)."""
    return build_reach(problem.demand_lat, problem.demand_lon, problem.site_lat,
                       problem.site_lon, model=problem.model,
                       budget_ms=problem.config.budget_ms,
                       percentile=problem.config.percentile, client=client,
                       partitions=partitions, row_latency=problem.rows)


@dataclass
class SiteCount:
    """Result of :func:`min_sites`.

    Attributes
    ----------
    cover : coverage.solvers.cover.CoverResult
        The chosen sites, objective, bound and status.
    n_covering : numpy.ndarray
        Candidates within budget of every demand point.
    method : str
        ``"full"`` (on the reach matrix) or ``"lazy"`` (row generation).
    lazy : coverage.solvers.rowgen.LazyCoverResult or None
        The row-generation details.
    """

    cover: CoverResult
    n_covering: npt.NDArray[np.int64]
    method: str
    lazy: LazyCoverResult | None = field(default=None, repr=False)


def min_sites(problem: Problem, *, reach: ReachMatrix | None = None,
              n_covering: npt.ArrayLike | None = None, time_limit_s: float | None = None,
              lazy_options: dict[str, Any] | None = None) -> SiteCount:
    """The fewest sites (least cost) giving every point ``min(k + 1, |N_i|)`` in budget.

    Parameters
    ----------
    problem : Problem
        The problem (``config.failures`` is k).
    reach : ReachMatrix, optional
        Its reach matrix: solve on it (:func:`coverage.solvers.cover.min_cover`); without it,
        row generation (:func:`coverage.solvers.rowgen.lazy_cover`).
    n_covering : array_like, optional
        ``reach.n_covering()`` when already known.
    time_limit_s : float, optional
        Solver time limit (default: ``config.time_limit_s``).
    lazy_options : dict, optional
        More options of :func:`coverage.solvers.rowgen.lazy_cover` (seed and round sizes).

    Returns
    -------
    SiteCount
    """
    limit = problem.config.time_limit_s if time_limit_s is None else time_limit_s
    if reach is not None:
        n_cov = reach.n_covering() if n_covering is None else np.asarray(n_covering)
        cover = min_cover(reach.boolean(), problem.requirement(n_cov), cost=problem.cost,
                          required=problem.required, time_limit_s=limit)
        return SiteCount(cover=cover, n_covering=n_cov, method="full")
    lazy = lazy_cover(
        problem.demand_lat, problem.demand_lon, problem.site_lat, problem.site_lon,
        model=problem.model, budget_ms=problem.config.budget_ms,
        access=problem.demand["access"].to_numpy(), percentile=problem.config.percentile,
        failures=int(problem.config.failures), cost=problem.cost, required=problem.required,
        time_limit_s=limit, row_latency=problem.rows, **(lazy_options or {}))
    return SiteCount(cover=lazy.cover, n_covering=lazy.n_covering, method="lazy", lazy=lazy)


def assign_and_fail(problem: Problem, chosen: npt.ArrayLike, n_cov: npt.ArrayLike,
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Primary, backup and N-1 latency of every demand point from one bulk nearest-two query.

    Latency is monotone in distance for a demand point, so its primary is the nearest chosen
    site when that is within the point's budget radius, the backup the second nearest (when
    in radius), and the N-1 latency (primary failed) that of the second nearest chosen site,
    wherever it is.
    """
    # the point's own radius, without an aggregation shrink: the table describes the points
    demand, sites, rows = problem.demand, problem.sites, problem.rows_unshrunk
    failures, budget_ms = problem.config.failures, problem.config.budget_ms
    chosen = np.asarray(chosen, dtype=np.int64)
    n = len(demand)
    site_ids = sites["site_id"].to_numpy(dtype=object)
    radius = rows.radius_km
    k = min(2, len(chosen))
    near = np.full((n, 2), -1, dtype=np.int64)
    dkm = np.full((n, 2), np.nan)
    if k and n:
        tree = unit_tree(problem.site_lat[chosen], problem.site_lon[chosen])
        dist, ind = tree.query(unit_xyz(problem.demand_lat, problem.demand_lon), k=k)
        near[:, :k] = np.asarray(chosen)[ind]
        dkm[:, :k] = km_from_chord(dist)
    within = (dkm <= radius[:, None] + 1e-9) & (near >= 0)
    lat = rows.fixed_ms[:, None] + rows.ms_per_km * dkm

    def ids(col: int) -> npt.NDArray[np.object_]:
        out = np.full(n, None, dtype=object)
        ok = within[:, col]
        out[ok] = site_ids[near[ok, col]]
        return out

    has_primary = within[:, 0]
    out = demand.copy()
    out["primary_site_id"] = ids(0)
    out["primary_latency_ms"] = np.where(has_primary, lat[:, 0], np.nan)
    out["primary_p50_ms"] = np.where(has_primary, rows.fixed_p50_ms + rows.ms_per_km * dkm[:, 0],
                                     np.nan)
    out["primary_distance_km"] = np.where(has_primary, dkm[:, 0], np.nan)
    out["backup_site_id"] = ids(1)
    out["backup_latency_ms"] = np.where(within[:, 1], lat[:, 1], np.nan)
    out["n_covering_sites"] = np.asarray(n_cov, dtype=np.int64)
    out["coverage_status"] = coverage_status(n_cov, failures)
    n1_site = np.full(n, None, dtype=object)
    surv = has_primary & (near[:, 1] >= 0)
    n1_site[surv] = site_ids[near[surv, 1]]
    out["n1_site_id"] = n1_site
    out["n1_latency_ms"] = np.where(surv, lat[:, 1], np.nan)
    out["n1_within_budget"] = surv & within[:, 1]
    failures = n_minus_1(out, site_ids[chosen], budget_ms)
    return out, failures


def n_minus_1(assignment: pd.DataFrame, chosen_site_ids: npt.ArrayLike,
              budget_ms: float) -> pd.DataFrame:
    """Single-failure scenarios: fail each chosen site, re-route its users, measure the damage.

    Parameters
    ----------
    assignment : pandas.DataFrame
        Per-demand table with ``population``, ``primary_site_id``, ``n_covering_sites``
        (or, without it, ``coverage_status``), ``n1_latency_ms`` (latency at the nearest
        surviving site when the primary fails) and ``n1_within_budget``.
    chosen_site_ids : array_like
        The open sites.
    budget_ms : float
        Latency budget, ms.

    Returns
    -------
    pandas.DataFrame
        One row per failed site: ``failed_site_id, population_rerouted,
        population_outside_budget, worst_latency_ms, n_demand_rerouted,
        population_outside_budget_redundant, mean_rerouted_latency_ms, meets_budget``.
        ``population_outside_budget_redundant`` counts users that had two or more sites in
        budget (``n_covering_sites >= 2``; status ``redundant`` or ``partial`` for tables
        without that column), whatever ``k``: it must be 0 for a plan with ``k >= 1``.
    """
    a = assignment[assignment["primary_site_id"].notna()]
    pop = a["population"].to_numpy(dtype=np.float64)
    lat = a["n1_latency_ms"].to_numpy(dtype=np.float64)
    out_b = ~a["n1_within_budget"].to_numpy(dtype=bool)
    if "n_covering_sites" in a.columns:
        red = (a["n_covering_sites"].to_numpy(dtype=np.float64) >= 2)
    else:
        red = a["coverage_status"].isin(["redundant", "partial"]).to_numpy(dtype=bool)
    frame = pd.DataFrame({
        "failed_site_id": a["primary_site_id"].to_numpy(),
        "n_demand_rerouted": 1,
        "population_rerouted": pop,
        "population_outside_budget": pop * out_b,
        "population_outside_budget_redundant": pop * (out_b & red),
        "worst_latency_ms": lat,
        "_lat_pop": np.nan_to_num(lat) * pop,
    })
    g = frame.groupby("failed_site_id", sort=False).agg(
        n_demand_rerouted=("n_demand_rerouted", "sum"),
        population_rerouted=("population_rerouted", "sum"),
        population_outside_budget=("population_outside_budget", "sum"),
        population_outside_budget_redundant=("population_outside_budget_redundant", "sum"),
        worst_latency_ms=("worst_latency_ms", "max"),
        _lat_pop=("_lat_pop", "sum"),
    )
    ids = pd.Index(np.asarray(chosen_site_ids, dtype=object), name="failed_site_id")
    g = g.reindex(ids)
    g[["n_demand_rerouted"]] = g[["n_demand_rerouted"]].fillna(0).astype(np.int64)
    for c in ("population_rerouted", "population_outside_budget",
              "population_outside_budget_redundant", "_lat_pop"):
        g[c] = g[c].fillna(0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        g["mean_rerouted_latency_ms"] = np.where(
            g["population_rerouted"] > 0, g["_lat_pop"] / g["population_rerouted"], np.nan
        )
    g["meets_budget"] = g["population_outside_budget"] == 0
    cols = ["population_rerouted", "population_outside_budget", "worst_latency_ms",
            "n_demand_rerouted", "population_outside_budget_redundant",
            "mean_rerouted_latency_ms", "meets_budget"]  # DESIGN section 4 order first
    return g[cols].reset_index()


