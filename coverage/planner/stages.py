"""The stages of a plan, shared by :func:`coverage.plan_sites` and
:func:`coverage.planner.sweep.budget_sweep`.

Each stage takes a :class:`~coverage.model.problem.Problem` and never recomputes what the problem
holds (radii, latency constants, requirements):

1. :func:`estimate_pairs` and :func:`choose_strategy`: full reach matrix or row generation,
   by one rule (the estimated pairs against a limit);
2. :func:`reach_matrix`: the sparse (demand, site) pairs within budget;
3. :func:`min_sites`: the fewest sites (or least cost) giving every point
   ``min(k + 1, |N_i|)`` sites within budget, on the reach matrix or by row generation;
4. :func:`place_sites`: at the proven site count, the k-median placement that minimises the
   population-weighted p50 latency under the same coverage constraints;
5. :func:`assign_and_fail` and :func:`n_minus_1`: primary, backup, N-1 latency of every
   point and the single-failure table;
6. :func:`check_aggregation`: what aggregation cost the original points;
7. :func:`propose_gaps`: coverage gaps and the sites that would close them;
8. :func:`site_table` and :func:`plan_summary`: the chosen sites and the summary;
9. :func:`rollout_stage`: the order in which to open the chosen sites (``rollout.csv``).

:func:`coverage.plan_sites` is their composition.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from ..errors import InputValidationError, NoFeasiblePlanError
from ..inputs.tables import DEFAULT_COLOCATED_M
from ..model.aggregate import Aggregation, shortfall, suggested_bin_km
from ..model.geo import REACH_EPS_KM, count_within, haversine_km, nearest, unit_tree, unit_xyz
from ..model.problem import Problem
from ..model.reach import ReachMatrix, build_reach, engine_reach
from ..resilience.domain_reroute import reroute_figures
from ..resilience.gaps import Proposal, propose_sites
from ..resilience.status import (
    coverage_by_k,
    coverage_status_categorical,
    gap_mask,
    population_safe_by_failures,
)
from ..resilience.worst_set import WorstSet, worst_failure_set
from ..solvers.cover import CoverResult, min_cover, row_ranges
from ..solvers.kmedian import k_median
from ..solvers.maxcover import max_cover_lexicographic
from ..solvers.pcenter import p_center
from ..solvers.rollout import BOUND_METHODS, order_coverage, rollout_order
from ..solvers.rowgen import LazyCoverResult, RowSource, lazy_cover
from ..wording import counted, load_unit

logger = logging.getLogger(__name__)

__all__ = ["LATENCY_COMPONENT_COLUMNS", "SiteCount", "Placement", "assign_and_fail",
           "best_sites", "best_summary",
           "capacitated_sites",
           "latency_components", "check_aggregation",
           "check_any_coverable", "choose_strategy", "component_sites", "estimate_pairs",
           "swapped_coordinates_hint",
           "min_sites", "n_minus_1",
           "open_in_budget", "place_sites", "plan_summary", "by_service_class", "propose_gaps",
           "reach_matrix",
           "site_table", "rollout_stage", "ROLLOUT_COLUMNS",
           "BYTES_PER_PAIR"]

BYTES_PER_PAIR = 40  # indices + three float32 arrays, plus the copies the solvers make


def estimate_pairs(problem: Problem, sample: int = 4000) -> float:
    """Expected number of (demand, site) pairs in reach, from a seeded sample of demand."""
    n = len(problem.demand)
    if n == 0 or len(problem.sites) == 0:
        return 0.0
    rng = np.random.default_rng(0)
    idx = rng.choice(n, size=min(sample, n), replace=False)
    if problem.routed:
        return float(problem.engine.count(rows=np.sort(idx)).mean() * n)
    tree = unit_tree(problem.site_lat, problem.site_lon)
    counts = count_within(tree, unit_xyz(problem.demand_lat[idx], problem.demand_lon[idx]),
                          problem.rows.radius_km[idx])
    return float(counts.mean() * n)



#: From this many demand rows, ``strategy="auto"`` takes row generation even when the reach
#: matrix would fit the memory budget, where the national placement
#: (:mod:`coverage.planner.placement`) applies (no tiers, anchors, backbone or service
#: classes, no ``max_sites``, no Dask reach partitions): on the 1M-cell US grid the full
#: matrix took (hand measurement) 8 s to build, 6 s to cover and 43 s to place, row
#: generation 1 s, 3 s and 12 s, with half the memory.
LAZY_MIN_ROWS = 250_000


def choose_strategy(problem: Problem, strategy: str, max_pairs: float, *,
                    need_matrix: bool = False) -> tuple[str, float]:
    """``"full"`` or ``"lazy"`` for ``strategy="auto"`` (else ``strategy`` itself): full
    when the estimated pairs are at most ``max_pairs``, unless the demand has at least
    :data:`LAZY_MIN_ROWS` rows and nothing needs the matrix (``need_matrix``: ``max_sites``
    or Dask reach partitions; tiers, anchors and service classes also keep it, for the
    k-median); also returns the estimate."""
    est = estimate_pairs(problem)
    if strategy == "auto":
        national = (len(problem.demand) >= LAZY_MIN_ROWS and not need_matrix
                    and not problem.routed and problem.service is None)
        strategy = "full" if est <= max_pairs and not national else "lazy"
    return strategy, est


def reach_matrix(problem: Problem, *, client: Any = None,
                 partitions: int | None = None) -> ReachMatrix:
    """The reach matrix of ``problem`` (on a Dask cluster with ``client``; tiered or
    anchored pair latencies are computed in this process)."""
    if problem.routed:
        if client is not None:
            logger.info("reach matrix with tiers / routing: built in this process")
        return engine_reach(problem.engine, budget_ms=problem.config.budget_ms,
                            percentile=problem.config.percentile)
    return build_reach(problem.demand_lat, problem.demand_lon, problem.site_lat,
                       problem.site_lon, model=problem.model,
                       budget_ms=problem.config.budget_ms,
                       percentile=problem.config.percentile, client=client,
                       partitions=partitions, row_latency=problem.rows)


def chosen_pairs(problem: Problem, chosen: npt.ArrayLike) -> ReachMatrix:
    """The reach matrix of ``problem`` restricted to the ``chosen`` sites (every candidate's
    columns, the pairs of the others left out): the pairs of a plan without building every
    candidate's (row generation), with the latencies :func:`reach_matrix` gives them."""
    chosen = np.asarray(chosen, dtype=np.int64)
    if problem.routed:
        return engine_reach(problem.engine, budget_ms=problem.config.budget_ms,
                            percentile=problem.config.percentile, sites=chosen)
    part = build_reach(problem.demand_lat, problem.demand_lon, problem.site_lat[chosen],
                       problem.site_lon[chosen], model=problem.model,
                       budget_ms=problem.config.budget_ms,
                       percentile=problem.config.percentile, row_latency=problem.rows)
    return replace(part, indices=chosen[part.indices].astype(part.indices.dtype),
                   n_sites=len(problem.sites))


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
        ``"full"`` (on the reach matrix), ``"lazy"`` (row generation) or
        ``"components"`` (row generation by independent pieces).
    lazy : coverage.solvers.rowgen.LazyCoverResult or None
        The row-generation details.
    """

    cover: CoverResult
    n_covering: npt.NDArray[np.int64]
    method: str
    lazy: LazyCoverResult | None = field(default=None, repr=False)
    components: Any = field(default=None, repr=False)
    """With ``strategy="components"``: the
    :class:`~coverage.solvers.components.ComponentsResult` (split, pieces)."""
    best: Any = field(default=None, repr=False)
    """With ``--max-sites``: the :class:`~coverage.solvers.maxcover.LexCoverResult` or
    :class:`~coverage.solvers.pcenter.CenterResult` that chose the sites."""
    domains_dropped: str | None = None
    """Why this count failed single sites though its problem has failure domains (their
    rows above the memory limit), or ``None``."""
    domain_rows: Any = field(default=None, repr=False)
    """On the reach matrix with failure domains: the count's rows with those it added
    (:meth:`coverage.model.problem.Problem.cover_rows`: the stacked pattern, its
    requirement and the number of the points' own rows, the rest the domains'), which the
    placement takes as they are (weightless, their values do not matter) instead of
    building them again (3.3 s of a 4,256 x 285 N-2 plan with 10 km domains, tester 172);
    the placement drops them (``None``) once used."""


#: Most rounds of :func:`_count_by_domains` (and of the placement's
#: :func:`_place_by_domains`); past them the best completion is the answer, its status
#: ``time_limit`` (the time or the rounds ran out) unless a round's bound meets it.
DOMAIN_ROUNDS = 12

#: Most assignment pairs (the points' own entries) for which a round of the k-median with
#: failure domains runs its MILP; above, the rounds search and bound, and the MILP runs once
#: a round's plan meets every point's domains (:func:`_place_by_domains`).
DOMAIN_ROUND_MILP_PAIRS = 20_000


def spans_too_few_domains(pattern: sp.csr_array, chosen: npt.ArrayLike,
                          codes: npt.ArrayLike,
                          need: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """The points whose chosen sites in budget (``pattern``: points x candidates) lie in
    fewer failure domains than ``need``."""
    from ..solvers.domain_rows import row_domains

    chosen = np.asarray(chosen, dtype=np.int64)
    is_chosen = np.zeros(pattern.shape[1], dtype=bool)
    is_chosen[chosen] = True
    keep = is_chosen[pattern.indices]
    row = np.repeat(np.arange(pattern.shape[0], dtype=np.int64), np.diff(pattern.indptr))
    counts = np.bincount(row[keep], minlength=pattern.shape[0])
    indptr = np.concatenate([[0], np.cumsum(counts)])
    mine = sp.csr_array((np.ones(int(keep.sum()), dtype=np.int8), pattern.indices[keep],
                         indptr), shape=pattern.shape)
    return row_domains(mine, codes) < need


def _count_by_domains(problem: Problem, pattern: sp.csr_array, n_cov: npt.NDArray[np.int64],
                      limit: float, max_entries: float | None = None) -> SiteCount:
    """The fewest sites (least cost) giving every point ``min(k + 1, |N_i|)`` sites in
    budget in ``min(k + 1, |D_i|)`` failure domains, the domains' rows generated: the
    count without them first, then with the rows of the points its plan leaves short
    (:func:`coverage.solvers.domain_rows.domain_rows` of those points), again until no point
    is. Every round solves a relaxation of the whole (fewer rows), so its bound holds and a
    plan of it that leaves no point short is the answer. Most points' plans span their
    domains unasked: the rows of all of them (295,000 rows, 31.6M entries on a Mexican
    N-2 plan with 40 km domains, tester 174) left HiGHS no time and took 5.7 GB. A round
    before the last takes half the time left. A round's plan that leaves points short is
    completed (kept open, with the sites its short points need: their rows, the plan's
    sites fixed; every other point keeps its domains, so the completion meets them all),
    and the fewest-sites completion is the next round's start and, when the rounds
    (:data:`DOMAIN_ROUNDS`) or the time run out, the answer (review 156: building every
    point's rows in the time left gave a greedy 116 sites where the plan so far had 80).
    The status is ``optimal`` only when a round's bound meets the plan."""
    from ..solvers.domain_rows import domain_rows, drop_redundant, row_domains

    t_end = time.perf_counter() + float(limit)
    k = int(problem.config.failures)
    codes = problem.count_domains
    n = pattern.shape[0]
    req0 = problem.requirement(n_cov)
    need = np.minimum(k + 1, row_domains(pattern, codes))
    held = np.zeros(n, dtype=bool)
    parts: list[sp.csr_array] = []
    part_req: list[npt.NDArray[np.int64]] = []
    bound, rounds = -np.inf, 0
    best: CoverResult | None = None  # the fewest sites found meeting every point's domains
    start: npt.NDArray[np.int64] | None = None
    required = (np.zeros(pattern.shape[1], dtype=bool) if problem.required is None
                else np.asarray(problem.required, dtype=bool))
    rows, req = pattern, req0  # (with the rows added so far: stacked once a round)
    while True:
        left = max(t_end - time.perf_counter(), 0.0)
        final = rounds + 1 >= DOMAIN_ROUNDS
        # a round before the last takes half the time left: the next, with the rows of the
        # points it leaves short, needs time too (review 156: round 1 took the whole limit)
        cover = min_cover(rows, req, cost=problem.cost, required=problem.required,
                          time_limit_s=left if final else left / 2, start=start)
        rounds += 1
        bound = max(bound, float(cover.lower_bound))
        short = spans_too_few_domains(pattern, cover.sites, codes, need) & ~held
        if not short.any():  # it meets every point's domains (from the best start)
            if best is None or cover.objective <= best.objective:
                best = cover
            break
        logger.info("failure domains: round %d, %s sites; %s point(s) short of their "
                    "domains: their rows added", rounds, f"{cover.objective:g}",
                    f"{int(short.sum()):,}")
        extra = domain_rows(pattern[np.flatnonzero(short)], codes, k)
        held |= short
        if extra.matrix.shape[0]:
            parts.append(sp.csr_array(extra.matrix))
            part_req.append(extra.requirement)
        entries = pattern.nnz + sum(int(p.nnz) for p in parts)
        cap = domain_entry_limit(problem) if max_entries is None else float(max_entries)
        if entries > cap:
            from ..solvers.domain_rows import DomainRowsTooLarge

            raise DomainRowsTooLarge(
                f"the failure domains' rows generated for {int(held.sum()):,} points hold "
                f"{entries - pattern.nnz:,} entries beside the reach matrix's "
                f"{pattern.nnz:,}, above {cap:,.0f}")
        rows = sp.csr_array(sp.vstack([pattern, *parts], format="csr"))
        req = np.concatenate([req0, *part_req])
        # its completion: the plan kept open and what its short points need besides, which
        # meets every point's domains (the others keep theirs); the next round's start
        fixed = required.copy()
        fixed[cover.sites] = True
        done = min_cover(rows, req, cost=problem.cost, required=fixed,
                         time_limit_s=min(max(t_end - time.perf_counter(), 0.0),
                                          max(1.0, 0.1 * float(limit))))
        # less the sites its additions made redundant, checked on every point (review
        # 157: a first round's plan completed to 132 sites where 113 of them do)
        kept = drop_redundant(pattern, done.sites, req0, need, codes,
                              required=problem.required, cost=problem.cost,
                              deadline=max(t_end, time.perf_counter() + 0.5))
        if len(kept) < len(done.sites):
            logger.info("failure domains: round %d's completion, %s sites, less %d "
                        "redundant", rounds, f"{done.objective:g}",
                        len(done.sites) - len(kept))
            done = replace(done, sites=kept, objective=float(
                len(kept) if problem.cost is None
                else np.asarray(problem.cost, dtype=np.float64)[kept].sum()))
        if best is None or done.objective < best.objective:
            best = done
        start = best.sites
        if final or time.perf_counter() >= t_end:
            if final:
                logger.info("failure domains: %d rounds, the best plan that meets every "
                            "point's domains kept (%s sites)", rounds,
                            f"{best.objective:g}")
            break
    assert best is not None
    cover = best
    obj = float(cover.objective)
    met = bound >= obj - 1e-9 * max(1.0, abs(obj))
    # optimal: a round's bound meets the plan (a completion's own "optimal" is with the
    # plan so far fixed)
    status = "optimal" if met else ("time_limit" if cover.status == "optimal"
                                    else cover.status)
    bound = min(bound, obj)
    gap = (obj - bound) / obj if obj > 0 else 0.0
    reductions = {**cover.reductions, "domain_rounds": rounds,
                  "domain_points_held": int(held.sum()),
                  "domain_rows": int(sum(p.shape[0] for p in parts))}
    cover = replace(cover, lower_bound=bound, status=status, mip_gap=max(gap, 0.0),
                    reductions=reductions)
    added = int(sum(p.shape[0] for p in parts))
    return SiteCount(cover=cover, n_covering=n_cov, method="full",
                     domain_rows=(rows, req, n) if added else None)


def domain_entry_limit(problem: Problem) -> float:
    """Entries the failure domains' rows may hold: half of ``max_memory_gb`` at
    :data:`BYTES_PER_PAIR` an entry (with the reach matrix's, on the full path)."""
    return float(problem.config.max_memory_gb) / 2 * 2**30 / BYTES_PER_PAIR


def fit_domains(problem: Problem, reach: ReachMatrix, max_entries: float,
                ) -> tuple[Problem, str | None]:
    """The problem whose count fails whole domains when the domains' rows
    (:func:`coverage.solvers.domain_rows.domain_rows`) fit in ``max_entries`` entries
    beside ``reach``; else the problem without them and the reason (their size grows
    with the sets of domains of each point: at N-2 and up in dense areas, many times the
    reach matrix)."""
    from ..solvers.domain_rows import domain_row_entries

    k = int(problem.config.failures)
    if problem.count_domains is None or k < 1:
        return problem, None
    pattern = sp.csr_array((np.ones(reach.nnz, dtype=np.int8), reach.indices, reach.indptr),
                           shape=reach.shape)
    est = domain_row_entries(pattern, problem.count_domains, k)
    if est + reach.nnz <= max_entries:
        return problem, None
    return (replace(problem, count_domains=None),
            f"the domains' rows would hold about {est:,.0f} entries beside the reach "
            f"matrix's {reach.nnz:,}, above {max_entries:,.0f}")


def min_sites(problem: Problem, *, reach: ReachMatrix | None = None,
              n_covering: npt.ArrayLike | None = None, time_limit_s: float | None = None,
              lazy_options: dict[str, Any] | None = None,
              max_domain_entries: float | None = None) -> SiteCount:
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
    max_domain_entries : float, optional
        On the reach matrix with failure domains: the most entries their generated rows
        and the matrix may hold (default :func:`domain_entry_limit`); above it the count
        fails single sites (``domains_dropped`` says why).

    Returns
    -------
    SiteCount
    """
    limit = problem.config.time_limit_s if time_limit_s is None else time_limit_s
    if reach is not None:
        n_cov = reach.n_covering() if n_covering is None else np.asarray(n_covering)
        if problem.count_domains is not None and int(problem.config.failures) >= 1:
            from ..solvers.domain_rows import DomainRowsTooLarge

            try:
                return _count_by_domains(problem, reach.boolean(), n_cov, limit,
                                         max_domain_entries)
            except DomainRowsTooLarge as exc:  # single sites, said by the caller
                count = min_sites(replace(problem, count_domains=None), reach=reach,
                                  n_covering=n_cov, time_limit_s=limit)
                count.domains_dropped = str(exc)
                return count
        rows, req, added = problem.cover_rows(reach.boolean(), n_cov)  # + failure domains
        cover = min_cover(rows, req, cost=problem.cost, required=problem.required,
                          time_limit_s=limit)
        return SiteCount(cover=cover, n_covering=n_cov, method="full",
                         domain_rows=(rows, req, len(n_cov)) if added else None)
    from ..solvers.domain_rows import DomainRowsTooLarge

    kw = dict(model=problem.model, budget_ms=problem.config.budget_ms,
              access=problem.demand["access"].to_numpy(),
              percentile=problem.config.percentile, failures=int(problem.config.failures),
              cost=problem.cost, required=problem.required, time_limit_s=limit,
              row_latency=problem.rows, engine=problem.engine if problem.routed else None,
              **{"max_domain_entries": domain_entry_limit(problem), **(lazy_options or {})})
    xy = (problem.demand_lat, problem.demand_lon, problem.site_lat, problem.site_lon)
    dropped = None
    t0 = time.perf_counter()
    try:
        lazy = lazy_cover(*xy, domain_codes=(problem.count_domains
                                             if int(problem.config.failures) >= 1 else None),
                          **kw)
    except DomainRowsTooLarge as exc:  # single sites, said by the caller
        dropped = str(exc)
        kw["time_limit_s"] = max(float(limit) - (time.perf_counter() - t0), 1.0)
        lazy = lazy_cover(*xy, **kw)
    return SiteCount(cover=lazy.cover, n_covering=lazy.n_covering, method="lazy", lazy=lazy,
                     domains_dropped=dropped)


def component_sites(problem: Problem, *, client: Any = None,
                    time_limit_s: float | None = None,
                    lazy_options: dict[str, Any] | None = None,
                    target_cells: int | None = None,
                    min_piece_s: float = 1.0) -> SiteCount:
    """:func:`min_sites` by independent components (:mod:`coverage.solvers.components`):
    each piece solved by row generation, one Dask task per piece with ``client``; the
    combined plan is proven optimal when every piece is. Great-circle rows only (no tiers,
    anchors or backbone). In this process the pieces share the time limit, each with at
    least ``min_piece_s``."""
    from ..solvers.components import solve_components

    refuse_routed_components(problem)
    c = problem.config
    limit = c.time_limit_s if time_limit_s is None else time_limit_s
    domains = problem.count_domains if int(c.failures) >= 1 else None
    t0 = time.perf_counter()

    def solve(codes: Any, options: dict[str, Any] | None, seconds: float) -> Any:
        return solve_components(
            problem.demand_lat, problem.demand_lon, problem.site_lat, problem.site_lon,
            model=problem.model, budget_ms=c.budget_ms, row_latency=problem.rows,
            access=problem.demand["access"].to_numpy(), percentile=c.percentile,
            failures=int(c.failures), cost=problem.cost, required=problem.required,
            time_limit_s=seconds, client=client, target_cells=target_cells,
            lazy_options=options, domain_codes=codes, min_piece_s=min_piece_s)

    res = solve(domains, {"max_domain_entries": domain_entry_limit(problem),
                          **(lazy_options or {})} if domains is not None else lazy_options,
                limit)
    dropped = None
    if res.info.get("domains_dropped"):
        # a piece's domains' rows above the limit: the whole count by single sites, so
        # that one rule holds for every piece (and its placement)
        dropped = res.info["domains_dropped"][0]
        res = solve(None, lazy_options, max(float(limit) - (time.perf_counter() - t0), 1.0))
        res.info["domains_dropped"] = [dropped]  # the first run's (this one has none)
    return SiteCount(cover=res.lazy.cover, n_covering=res.lazy.n_covering,
                     method="components", lazy=res.lazy, components=res,
                     domains_dropped=dropped)


def refuse_routed_components(problem: Problem) -> None:
    """Raise :class:`InputValidationError` when ``problem``'s rows are not great-circle
    radii (tiers that change the latency, mobile anchors, a backbone): the split into
    components does not support them yet."""
    if problem.routed:
        raise InputValidationError(
            "--strategy components splits the demand by great-circle radii; site tiers that "
            "change the latency, mobile anchors (--upf) or a backbone are not supported "
            "yet. Fix: --strategy lazy (one process) or full")


def capacitated_component_sites(problem: Problem, capacity: Any, *, client: Any = None,
                                time_limit_s: float | None = None,
                                options: dict[str, Any] | None = None,
                                target_cells: int | None = None,
                                min_piece_s: float = 1.0) -> tuple[SiteCount, Any]:
    """:func:`capacitated_sites_lazy` by independent components (one Dask task per piece
    with ``client``), exact: a flow stays in its component, so a plan carries a failure
    scenario exactly when every piece carries its part of it
    (:func:`coverage.solvers.components.solve_capacitated_piece`).

    The combined plan is then checked once more over every cell
    (:func:`coverage.solvers.capacitated_rowgen.check_plan`, the whole scenario list), an
    independent computation: its scenarios, merged rows and loads are the capacity result
    the outputs take, as row generation's are.

    Raises
    ------
    NoFeasiblePlanError
        A piece carries no plan: neither does the whole.
    """
    from ..solvers.capacitated import CapacityResult
    from ..solvers.capacitated_rowgen import check_plan
    from ..solvers.components import PieceCapacity, solve_components

    refuse_routed_components(problem)
    c = problem.config
    limit = c.time_limit_s if time_limit_s is None else time_limit_s
    # the plan's own solve repairs its last plan for as long as that takes, as
    # capacitated_sites_lazy's (a plan always carries the load)
    piece_cap = PieceCapacity(capacity.load_rps, capacity.cap_rps, capacity.domains,
                              int(c.scenario_limit),
                              {"final_repair_s": math.inf, **(options or {})})
    res = solve_components(
        problem.demand_lat, problem.demand_lon, problem.site_lat, problem.site_lon,
        model=problem.model, budget_ms=c.budget_ms, row_latency=problem.rows,
        access=problem.demand["access"].to_numpy(), percentile=c.percentile,
        failures=int(c.failures), cost=problem.cost, required=problem.required,
        time_limit_s=limit, client=client, target_cells=target_cells, capacity=piece_cap,
        min_piece_s=min_piece_s)
    cap = res.capacity
    assert cap is not None
    cover, n_cov = res.lazy.cover, res.lazy.n_covering
    count = SiteCount(cover=cover, n_covering=n_cov, method="components (capacitated)",
                      lazy=res.lazy, components=res)
    if cap["status"] == "infeasible":
        raise _piece_infeasible(problem, res, capacity)
    t = time.perf_counter()
    check = check_plan(row_source(problem), capacity.load_rps, capacity.cap_rps,
                       problem.requirement(n_cov), n_cov, cover.sites, int(c.failures),
                       domains=capacity.domains, scenario_limit=int(c.scenario_limit))
    status = cap["status"]
    if status != "time_limit_short" and not check.feasible:
        # the pieces' plans carry their scenarios but the whole does not: never expected
        # (a flow stays in its component); the independent check has the last word
        logger.error("components (capacitated): the combined plan of %s falls short over "
                     "the whole problem (%d cell(s) below their requirement, %d scenario(s) "
                     "short of capacity) though every piece carried its own: reporting it "
                     "short", counted(len(cover.sites), "site"), len(check.short),
                     len(check.bad))
        status = "time_limit_short"
    # every scenario listed by its pieces proves the whole (a scenario of the whole is
    # feasible when each piece's part of it is, and each part is a scenario of its piece):
    # the whole check may stop at --scenario-limit without taking that back (tester 135)
    result = CapacityResult(
        cover.sites, float(cover.objective), float(cover.lower_bound), status,
        float("nan") if status == "time_limit_short" else float(cover.mip_gap), cap["rounds"],
        check.scenarios, bool(cap["complete"]),
        float(cover.runtime_s) + time.perf_counter() - t, check.reach, check.load_rps,
        check.inverse)
    logger.info("components (capacitated): %s, %s; the whole plan checked in %.1f s",
                counted(len(cover.sites), "site"), status, time.perf_counter() - t)
    count = replace(count, cover=replace(cover, status=plan_status(result),
                                         mip_gap=result.gap))
    return count, result


def _piece_infeasible(problem: Problem, res: Any, capacity: Any) -> NoFeasiblePlanError:
    """:func:`capacity_infeasible` of a component piece that carries no plan, in the
    piece's own terms (its candidates, its last plan, its scenario with the most load
    shed), after the part of the demand it is."""
    from types import SimpleNamespace

    cap = res.capacity
    bad_pieces = [p["piece"] for p in res.pieces if p["status"] == "infeasible"]
    bad = [f for f in cap["short"] if f["piece"] in bad_pieces]
    if not bad:  # (a piece proven infeasible always reports its last plan's shortfall)
        return NoFeasiblePlanError(
            "no plan carries the load in an independent part of the demand. Fix: add "
            "candidates or capacity (capacity_rps, power_kw, a bigger tier), or lower the load")
    worst = max(bad, key=lambda f: f["shed_rps"])
    piece = res.pieces[worst["piece"]]
    cols = res.piece_sites[worst["piece"]]
    local = np.searchsorted(cols, np.asarray(worst["failed"], dtype=np.int64))
    scen = SimpleNamespace(failed=tuple(int(x) for x in local), load_rps=worst["load_rps"],
                           served_rps=worst["served_rps"], shed_rps=worst["shed_rps"],
                           feasible=False)
    view = SimpleNamespace(sites=problem.sites.iloc[cols], config=problem.config)
    plan = np.flatnonzero(np.isin(cols, res.lazy.cover.sites))
    domains = None if capacity.domains is None else np.asarray(capacity.domains,
                                                               dtype=object)[cols]
    msg = str(capacity_infeasible(view, SimpleNamespace(sites=plan, scenarios=[scen]),
                                  domains, load_unit(capacity.describe)))
    if len(res.pieces) == 1:  # the whole demand with a candidate in budget
        return NoFeasiblePlanError(msg)
    others = len(bad_pieces) - 1  # (tester 135: the next one was found on the next run)
    their = "its" if others == 1 else "their"
    where = (f"no plan carries the load of an independent part of the demand "
             f"({counted(piece['cells_in_budget'], 'demand point')} that only its "
             f"{counted(piece['candidates'], 'candidate')} reach: the others cannot help"
             + (f"; {counted(others, 'other part')} cannot carry {their} load either"
                if others else "") + "): ")
    return NoFeasiblePlanError(where + msg.removeprefix("no plan carries the load: "))


def best_sites(problem: Problem, reach: ReachMatrix,
               n_covering: npt.ArrayLike | None = None) -> SiteCount:
    """The best ``config.max_sites`` sites (``--max-sites P``) on the reach matrix.

    ``max-cover``: the most population within budget of a chosen site, then, among those
    optima, the most population with ``max(k, 1) + 1`` chosen sites within budget, in
    that many failure domains with ``problem.count_domains``
    (:func:`coverage.solvers.maxcover.max_cover_lexicographic`). ``p-center``: the least
    worst latency at the percentile from a point to its ``min(k + 1, |N_i|)``-th nearest
    chosen site, over the pairs within budget, every point with a candidate in budget kept
    within it (:func:`coverage.solvers.pcenter.p_center`; points with no candidate in budget
    are uncoverable and reported as such). The required sites stay open; a ``cost`` column
    is not used.

    Raises
    ------
    NoFeasiblePlanError
        p-center: ``P`` sites cannot keep every coverable point within budget.
    """
    c = problem.config
    p, k = int(c.max_sites), int(c.failures)
    n_cov = reach.n_covering() if n_covering is None else np.asarray(n_covering)
    if c.resolved_objective == "p-center":
        try:
            res = p_center(reach.values("latency_ms"), p, failures=k,
                           time_limit_s=c.time_limit_s, required=problem.required,
                           # its radius holds after any k whole domains fail too
                           domains=problem.count_domains if k >= 1 else None)
        except NoFeasiblePlanError as exc:
            if "in time" in str(exc):
                raise NoFeasiblePlanError(
                    f"no {p} sites keeping every demand point that has a candidate within "
                    "budget within it were found within --time-limit-s "
                    f"{c.time_limit_s:g} s (p-center). Fix: raise --time-limit-s or "
                    "--max-sites, or use --objective max-cover") from None
            raise NoFeasiblePlanError(
                f"no {p} sites keep every demand point that has a candidate within "
                f"{c.budget_ms:g} ms {c.percentile} within budget"
                + (f" of {k + 1} of them (all of them when it has fewer)" if k else "")
                + (f", in {k + 1} failure domains (all of its domains when it has fewer)"
                   if k and problem.count_domains is not None else "")
                + ": p-center minimises the worst latency of every such point. Fix: raise "
                "--max-sites (the plan without --max-sites gives the fewest that do), or "
                "use --objective max-cover for the most people within budget with "
                f"{p} sites") from None
        gap = (res.objective - res.lower_bound) / res.objective if res.objective > 0 else 0.0
        cover = CoverResult(res.sites, float(res.objective), float(res.lower_bound),
                            res.status, float(max(gap, 0.0)), res.solve_time_s,
                            {"cover_solves": int(res.cover_solves)})
    else:
        res = max_cover_lexicographic(reach.boolean(), p, problem.population,
                                      failures=max(k, 1), time_limit_s=c.time_limit_s,
                                      required=problem.required,
                                      # the people N-k safe by whole failure domains
                                      domain_codes=problem.count_domains if k >= 1
                                      else None)
        cover = CoverResult(res.sites, float(res.objective), float(res.objective),
                            res.status, float(res.mip_gap), res.solve_time_s,
                            dict(res.reductions))
    return SiteCount(cover=cover, n_covering=n_cov, method="full", best=res)


def _pcenter_worst_ms(assignment: pd.DataFrame, k: int) -> float | None:
    """The p-center objective from the assignment's float64 latencies: over the points with
    a candidate in budget, the latency of their ``min(k + 1, |N_i|)``-th nearest chosen site
    (primary, then the N-1 site, then the N-k site); ``None`` when a point needs a rank
    the table has no column for (``3 <= min(k + 1, |N_i|) <= k``)."""
    if "n_covering_sites" not in assignment.columns or not len(assignment):
        return None
    rank = np.minimum(k + 1, assignment["n_covering_sites"].to_numpy(dtype=np.int64))
    column = {1: "primary_latency_ms", 2: "n1_latency_ms"}
    if k >= 2:
        column[k + 1] = "nk_latency_ms"
    worst = -np.inf
    for r in np.unique(rank[rank >= 1]):
        col = column.get(int(r))
        if col is None or col not in assignment.columns:
            return None
        worst = max(worst, float(np.nanmax(
            assignment[col].to_numpy(dtype=np.float64)[rank == r], initial=-np.inf)))
    return worst if np.isfinite(worst) else None


def best_summary(problem: Problem, count: SiteCount, reach: ReachMatrix,
                 chosen: npt.ArrayLike, assignment: pd.DataFrame) -> dict[str, Any]:
    """The ``summary.json`` figures of a ``--max-sites`` plan, replacing those of
    :func:`plan_summary` that describe a fewest-sites plan.

    ``population_covered`` is the population within budget of a chosen site (in a
    fewest-sites plan that is everyone with a candidate in budget, the key's value there);
    ``population_coverable`` is the latter. ``population_safe_by_failures`` and
    ``population_n1_safe`` count chosen sites within budget (``N-j``: ``j + 1`` or more),
    not candidates.
    """
    c, res = problem.config, count.best
    pop = problem.population
    is_open = np.zeros(reach.shape[1], dtype=np.int64)
    is_open[np.asarray(chosen, dtype=np.int64)] = 1
    n_open = reach.boolean() @ is_open
    k = int(c.failures)
    served = float(pop[n_open >= 1].sum())
    out: dict[str, Any] = {
        "max_sites": int(c.max_sites),
        "population_covered": served,
        "population_coverable": float(pop[count.n_covering >= 1].sum()),
        "population_outside_budget": float(pop[n_open == 0].sum()),
        "n_demand_outside_budget": int((n_open == 0).sum()),
        "population_n1_safe": float(pop[n_open >= 2].sum()),
        "population_nk_safe": float(pop[n_open >= k + 1].sum()),
        "population_safe_by_failures": population_safe_by_failures(n_open, pop, k),
        "kmedian_status": "skipped (the objective chose the sites)",
        "kmedian_lower_bound_ms_pop": float("nan"),
        "kmedian_objective_ms_pop": float("nan"),
        "kmedian_gap": None,
    }
    if c.resolved_objective == "p-center":
        worst, bound = float(res.objective), float(res.lower_bound)
        # the solver's latencies are the reach matrix's float32 values: the plan's worst
        # from the assignment's float64 latencies instead (the same entry, 1e-6 ms apart)
        # (with failure domains the objective has a term by domains the assignment's rank
        # columns do not hold: the solver's value is kept; review 159)
        exact = (None if k >= 1 and problem.count_domains is not None
                 else _pcenter_worst_ms(assignment, k))
        if exact is not None and abs(exact - worst) <= 1e-4 * max(1.0, abs(exact)):
            bound = exact if bound >= worst else min(bound, exact)
            worst = exact
        out.update({
            "objective": "p_center",
            "objective_value": worst,
            "worst_latency_ms": worst,
            "worst_latency_nearest": (
                "primary" if k == 0 else
                f"the min({k} + 1, |N_i|)-th nearest chosen site, or the nearest chosen "
                f"site of the min({k} + 1, |D_i|)-th nearest failure domain when farther"
                if problem.count_domains is not None else
                f"the min({k} + 1, |N_i|)-th nearest chosen site"),
            "lower_bound": bound,
            "upper_bound": worst,
        })
    else:
        out.update({
            "objective": "max_cover",
            "objective_value": float(res.objective),
            "lower_bound": float(res.objective),
            "upper_bound": float(res.upper_bound),
            "secondary_objective": (f"population_{'n1' if k <= 1 else 'nk'}_safe"
                                    + ("_by_domains" if problem.count_domains is not None
                                       and k >= 1 else "")),
            "secondary_failures": max(k, 1),
            "secondary_value": float(res.secondary),
            "secondary_upper_bound": float(res.secondary_upper_bound),
            "secondary_status": res.secondary_status,
        })
    return out


def check_any_coverable(problem: Problem, n_cov: npt.ArrayLike, radius_km: float,
                        access: str) -> None:
    """Raise :class:`NoFeasiblePlanError` when no demand point has a candidate in budget;
    when only some have none, log a warning naming those whose lat and lon look swapped
    (:func:`swapped_rows`)."""
    n_cov = np.asarray(n_cov)
    if len(n_cov) and (n_cov == 0).any() and (n_cov > 0).any():
        rows = swapped_rows(problem.demand, problem.sites, n_cov == 0, radius_km)
        if len(rows):
            ids = problem.demand["demand_id"].to_numpy(dtype=object)[rows[:5]]
            logger.warning(
                "%s without a candidate in budget would have one within %.0f km with their "
                "lat and lon exchanged, and are far from every candidate as written (%s%s): "
                "their lat and lon look swapped; check those points of the demand (the "
                "plan and its proposed sites take them where they are written)",
                counted(len(rows), "demand point"), radius_km,
                ", ".join(repr(str(x)) for x in ids),
                f" and {len(rows) - 5} more" if len(rows) > 5 else "")
    if len(n_cov) and not (n_cov > 0).any():
        c = problem.config
        shrink = problem.radius_shrink_km
        if shrink is not None and len(shrink) and float(np.max(shrink)) > 0:
            # the conservative aggregation took the radius away, not the candidates
            raise NoFeasiblePlanError(
                f"no demand bin has a candidate site within {c.budget_ms:g} ms "
                f"{c.percentile}: the conservative aggregation shrinks each bin's radius "
                f"({radius_km:.0f} km with {access} access) by its farthest member, up to "
                f"{float(np.max(shrink)):,.0f} km. Fix: smaller bins (e.g. --aggregate-km "
                f"{suggested_bin_km(radius_km):.3g} or a finer --aggregate-h3), or "
                "--aggregate-mode centroid")
        hint = swapped_coordinates_hint(problem.demand, problem.sites, radius_km)
        if hint:
            raise NoFeasiblePlanError(
                f"no demand point has a candidate site within {c.budget_ms:g} ms "
                f"{c.percentile} (radius {radius_km:.0f} km with {access} access), and {hint}")
        raise NoFeasiblePlanError(
            f"no demand point has a candidate site within {c.budget_ms:g} ms {c.percentile} "
            f"(radius {radius_km:.0f} km with {access} access){nearest_pair(problem, access)}: "
            "add candidates near the demand or raise --budget-ms"
        )


def nearest_pair(problem: Problem, access: str) -> str:
    """``; the nearest pair is ... km apart`` for an error saying no demand point has a
    candidate in budget: the closest (demand point, candidate) of ``problem`` (one bulk
    tree query), and the budget that pair would need at great-circle latency with
    ``access`` (before any site tier); empty without demand or candidates."""
    if not (len(problem.demand) and len(problem.sites)):
        return ""
    dist_km, idx = nearest(problem.site_lat, problem.site_lon,
                           unit_xyz(problem.demand_lat, problem.demand_lon))
    row = int(np.argmin(dist_km[:, 0]))
    km = float(dist_km[row, 0])
    need_ms = float(problem.model.latency_ms(km, access, problem.config.percentile))
    demand_id = problem.demand["demand_id"].to_numpy(dtype=object)[row]
    site_id = problem.sites["site_id"].to_numpy(dtype=object)[int(idx[row, 0])]
    return (f"; the nearest pair, demand point {str(demand_id)!r} and candidate "
            f"{str(site_id)!r}, is {km:,.0f} km apart, about {need_ms:,.1f} ms "
            f"{problem.config.percentile}")


def swapped_coordinates_hint(demand: pd.DataFrame, sites: pd.DataFrame,
                             radius_km: float, *, sample: int = 2_000) -> str | None:
    """Whether one table's latitude and longitude look swapped against the other's.

    Asked when no demand point has a candidate in budget: when, with one table's ``lat``
    and ``lon`` exchanged (both still valid coordinates), most of an evenly spaced sample
    of the demand points has a candidate within ``radius_km``, that is the likely cause.

    Parameters
    ----------
    demand, sites : pandas.DataFrame
        With ``lat`` and ``lon`` columns, degrees.
    radius_km : float
        The budget's great-circle radius.
    sample : int, default 2000
        Demand points looked at (evenly spaced rows).

    Returns
    -------
    str or None
        The sentence with the fix (which file, how many of the sample reach a candidate
        swapped), or ``None``.
    """
    if not (len(demand) and len(sites)) or not np.isfinite(radius_km) or radius_km <= 0:
        return None
    rows = np.unique(np.linspace(0, len(demand) - 1, min(sample, len(demand))).astype(int))
    d_lat = demand["lat"].to_numpy(dtype=np.float64)[rows]
    d_lon = demand["lon"].to_numpy(dtype=np.float64)[rows]
    s_lat = sites["lat"].to_numpy(dtype=np.float64)
    s_lon = sites["lon"].to_numpy(dtype=np.float64)
    # exchanging the demand's or the sites' columns mirrors one set across the same line
    # (lat = lon): either brings them together, so which file is wrong cannot be told here
    tries = (("the demand", (d_lon, d_lat), (s_lat, s_lon)),
             ("the candidates", (d_lat, d_lon), (s_lon, s_lat)))
    valid = [who for who, (q_lat, _), (t_lat, _) in tries
             if np.abs(q_lat).max() <= 90 and np.abs(t_lat).max() <= 90]
    if not valid:
        return None
    # both tries (the two mirror the same way only for points near the line lat = lon;
    # a site file of a few points may lie elsewhere): the larger count
    reached = 0
    for _who, (q_lat, q_lon), (t_lat, t_lon) in (t for t in tries if t[0] in valid):
        dist_km, _ = nearest(t_lat, t_lon, unit_xyz(q_lat, q_lon))
        reached = max(reached, int((dist_km[:, 0] <= radius_km).sum()))
    if reached * 2 <= len(rows):
        return None
    which = " or of ".join(valid)
    return (f"the lat and lon of {which} look swapped: with one file's two columns exchanged, "
            f"{reached} of {len(rows)} demand points looked at have a candidate within "
            f"{radius_km:.0f} km. Fix: check the lat and lon columns of "
            + ("both files" if len(valid) == 2 else "that file")
            + " (lat is the latitude, -90 to 90; lon the longitude)")


def swapped_rows(demand: pd.DataFrame, sites: pd.DataFrame, mask: npt.ArrayLike,
                 radius_km: float) -> npt.NDArray[np.int64]:
    """The rows among ``mask`` (demand points without a candidate in budget) that, with
    their own ``lat`` and ``lon`` exchanged, have a candidate within ``radius_km``, and as
    written none within three radii (a point just out of reach near the line lat = lon
    mirrors onto nearby sites) and lie outside the latitude and longitude range of the
    other demand points: a few rows of a file typed in the wrong order (a partial swap;
    the whole file is :func:`swapped_coordinates_hint`). Two bulk nearest-candidate
    queries.

    Parameters
    ----------
    demand, sites : pandas.DataFrame
        With ``lat`` and ``lon`` columns, degrees.
    mask : array_like of bool
        The demand rows to look at.
    radius_km : float
        The budget's great-circle radius (the largest over the access classes).

    Returns
    -------
    numpy.ndarray of int64
        Row positions in ``demand``.
    """
    rows = np.flatnonzero(np.asarray(mask, dtype=bool))
    if not (len(rows) and len(sites)) or not np.isfinite(radius_km) or radius_km <= 0:
        return np.zeros(0, dtype=np.int64)
    q_lat = demand["lon"].to_numpy(dtype=np.float64)[rows]  # exchanged
    q_lon = demand["lat"].to_numpy(dtype=np.float64)[rows]
    ok = np.abs(q_lat) <= 90
    rows, q_lat, q_lon = rows[ok], q_lat[ok], q_lon[ok]
    if not len(rows):
        return np.zeros(0, dtype=np.int64)
    s_lat = sites["lat"].to_numpy(dtype=np.float64)
    s_lon = sites["lon"].to_numpy(dtype=np.float64)
    dist_km, _ = nearest(s_lat, s_lon, unit_xyz(q_lat, q_lon))
    hit = dist_km[:, 0] <= radius_km
    # and far from every site as written: a point just out of reach near the line
    # lat = lon mirrors onto sites nearby without being swapped
    was_km, _ = nearest(s_lat, s_lon, unit_xyz(q_lon[hit], q_lat[hit]))
    flagged = rows[hit][was_km[:, 0] > 3 * radius_km].astype(np.int64)
    if len(flagged) and len(flagged) < len(demand):
        # and, as written, outside the extent of the other demand points: a row typed
        # lon-first lands away from the file's region; a real place inside it that only
        # mirrors onto a site is not swapped (tester 194: Usinsk, 66.0 N 57.5 E, of the
        # embedded Russia, mirrors to 51 km from Tyumen)
        others = np.ones(len(demand), dtype=bool)
        others[flagged] = False
        lat = demand["lat"].to_numpy(dtype=np.float64)
        lon = demand["lon"].to_numpy(dtype=np.float64)
        inside = ((lat[flagged] >= lat[others].min()) & (lat[flagged] <= lat[others].max())
                  & (lon[flagged] >= lon[others].min())
                  & (lon[flagged] <= lon[others].max()))
        flagged = flagged[~inside]
    return flagged


@dataclass(frozen=True)
class Placement:
    """Result of :func:`place_sites` or :func:`place_capacitated`.

    Attributes
    ----------
    sites : numpy.ndarray
        Chosen candidate indices (the same count as the site-count stage).
    status : str
        k-median status (``"optimal"``, ``"within_gap"`` (proven within the
        ``kmedian_gap_pct`` asked), ``"time_limit"``, ``"local_search"``,
        ``"kept_cover"``) or why it was skipped (``"skipped ..."``).
    lower_bound : float
        Proven lower bound on the objective (``nan`` when none).
    """

    sites: npt.NDArray[np.int64]
    status: str
    lower_bound: float = float("nan")
    info: dict[str, Any] | None = None
    """Row generation: the national placement's figures (``summary.json["placement"]``)."""
    objective: float = float("nan")
    """The placed sites' population-weighted p50 latency, ms x people (as ``lower_bound``):
    to each point's nearest chosen site, or for a capacitated plan of the least-latency
    flow within the sites' capacities."""
    gap_asked: float | None = None
    """The relative gap the stage stops at (``kmedian_gap_pct`` / 100) when it uses one:
    the k-median on the reach matrix, capacitated or not; ``None`` for the national
    placement of row generation, whose rounds run whatever the gap (tester 138)."""

    @property
    def gap(self) -> float | None:
        """``(objective - lower_bound) / objective``, or ``None`` without both figures."""
        o, b = self.objective, self.lower_bound
        if not (np.isfinite(o) and np.isfinite(b)) or o <= 0:
            return None
        return max(0.0, (o - b) / o)


def _skipped_placement(problem: Problem, chosen: npt.NDArray[np.int64],
                       limit: float) -> Placement | None:
    """The placement that keeps the count's sites when none is made (a cost objective, no
    site, a time limit of 0), else ``None``."""
    if problem.cost is not None:  # (tester 192: a bare "skipped", with no reason)
        return Placement(chosen, "skipped (cost objective: the count chose the sites by "
                                 "cost)")
    if not len(chosen):
        return Placement(chosen, "skipped (no site)")
    if not limit > 0:
        return Placement(chosen, "skipped (kmedian_time_limit_s 0)")
    return None


def place_sites(problem: Problem, count: SiteCount, reach: ReachMatrix | None,
                time_limit_s: float | None = None, *, client: Any = None) -> Placement:
    """Place the proven number of sites to minimise population-weighted p50 latency.

    The k-median keeps every point's requirement ``min(k + 1, |N_i|)``, the required sites
    and the count of ``count.cover``. Without a reach matrix (row generation) the national
    placement runs instead (:func:`coverage.planner.placement.place_national`: the
    objective on bins, the constraints generated on the original cells, the loss and a
    lower bound measured on the cells); after a count by components, piece by piece
    (:func:`coverage.planner.placement.place_components`, one task per piece on
    ``client``'s cluster). Skipped (the site-count solution is kept) with a cost objective
    (the cover minimised cost, not count), with no site chosen, or with a time limit of 0.
    """
    chosen = count.cover.sites
    limit = problem.config.kmedian_time_limit_s if time_limit_s is None else time_limit_s
    skipped = _skipped_placement(problem, chosen, limit)
    if skipped is not None:
        return skipped
    if reach is None:  # row generation: bins for the objective, cells for the constraints
        from .placement import place_components, place_national

        if count.components is not None:
            nat = place_components(problem, count, source_of=row_source,
                                   bin_reach=reach_matrix, client=client, time_limit_s=limit)
        else:
            nat = place_national(problem, chosen, count.n_covering, source=row_source(problem),
                                 bin_reach=reach_matrix, time_limit_s=limit)
        return Placement(nat.sites, nat.status, nat.lower_bound, nat.info,
                         float(nat.info.get("objective_ms_pop", float("nan"))))
    gap = float(problem.config.kmedian_gap_pct) / 100.0
    if problem.count_domains is not None and int(problem.config.failures) >= 1:
        return _place_by_domains(problem, count, reach, limit, gap)
    rows, req, added = problem.cover_rows(reach.values("p50_ms"), count.n_covering)
    med = k_median(rows, len(chosen),
                   weights=np.concatenate([problem.population, np.zeros(added)]),
                   requirement=req, required=problem.required, start=chosen,
                   time_limit_s=limit, gap=gap)
    return Placement(med.sites, med.status, med.lower_bound, objective=med.objective,
                     gap_asked=gap)


def _place_by_domains(problem: Problem, count: SiteCount, reach: ReachMatrix, limit: float,
                      gap: float) -> Placement:
    """The k-median with failure domains: the domains' rows weigh nothing, they only
    constrain the sites. It starts with the rows the count held (:func:`_count_by_domains`;
    their values do not matter), and a placed plan that leaves a point's chosen sites in
    budget in too few domains gets that point's rows and is placed again (each placement
    is a relaxation of the whole: its bound holds).

    A round searches from the count's plan and from the last round's plan (repaired to
    meet the rows added: ``k_median(warm=...)``) and bounds, knowing the earlier rounds'
    bound; its MILP runs only when small (:data:`DOMAIN_ROUND_MILP_PAIRS`). Once a round's
    plan meets every point's domains, a larger MILP (up to
    :data:`coverage.solvers.kmedian.MAX_PAIRS_EXACT` pairs) runs on the same rows with the
    time left, as a round of its own: its plan, when it leaves points short, gets their
    rows like any round's. The answer is the best placed plan that meets every point's
    domains; when none does after :data:`DOMAIN_ROUNDS` rounds or at the time limit, the
    count's plan (which meets them all) is kept."""
    from ..solvers.domain_rows import domain_rows, row_domains
    from ..solvers.kmedian import MAX_PAIRS_EXACT

    t_end = time.perf_counter() + float(limit)
    chosen = count.cover.sites
    k, codes = int(problem.config.failures), problem.count_domains
    pattern = reach.boolean()
    need = np.minimum(k + 1, row_domains(pattern, codes))
    values = sp.csr_array(reach.values("p50_ms"))
    n = values.shape[0]
    parts: list[sp.csr_array] = []
    part_req: list[npt.NDArray[np.int64]] = []
    if count.domain_rows is not None:
        stacked, stacked_req, n_points = count.domain_rows
        count.domain_rows = None  # (not held through the rest of the plan)
        parts.append(sp.csr_array(stacked[n_points:]))
        part_req.append(stacked_req[n_points:])
        del stacked
    held = np.zeros(n, dtype=bool)
    req0 = problem.requirement(count.n_covering)
    # the MILP's assignment pairs (the points' own rows: the domains' rows weigh nothing)
    n_assign = int(np.count_nonzero(np.repeat(problem.population, np.diff(values.indptr)) > 0))
    lower = float("nan")  # the best of the rounds' bounds (each a relaxation's)
    previous = None  # the last round's plan, repaired as a second start for the next
    best = None  # the best placed plan that meets every point's domains
    exact = False  # whether this round is the larger MILP on the last round's rows
    for r in range(DOMAIN_ROUNDS):
        if not exact:  # (the larger MILP's round has the last round's rows)
            extra = (sp.csr_array(sp.vstack(parts, format="csr")) if parts
                     else sp.csr_array((0, values.shape[1])))
            rows = sp.csr_array(sp.vstack([values, sp.csr_array(
                (np.ones(extra.nnz), extra.indices, extra.indptr), shape=extra.shape)],
                format="csr"))
            weights = np.concatenate([problem.population, np.zeros(extra.shape[0])])
            requirement = np.concatenate([req0, *part_req])
        left = max(t_end - time.perf_counter(), 0.0)
        if exact:
            med = k_median(rows, len(chosen), weights=weights, requirement=requirement,
                           required=problem.required, start=previous, time_limit_s=left,
                           gap=gap, bound=False, lower_bound=lower)
        else:
            # a round before the last takes at most half the time left (the next, with the
            # rows of the points it leaves short, needs time too); its MILP only when
            # small: the MILPs of Germany's rounds at 30 ms with 15 km domains (139,000
            # pairs) took the whole 60 s on plans that left points short (hand run,
            # 2026-12-07)
            med = k_median(rows, len(chosen), weights=weights, requirement=requirement,
                           required=problem.required, start=chosen, warm=previous,
                           time_limit_s=left / (1 if r + 1 >= DOMAIN_ROUNDS else 2), gap=gap,
                           max_pairs_exact=DOMAIN_ROUND_MILP_PAIRS, lower_bound=lower,
                           tight_bound=True)  # (later rounds' plans reuse its bound)
        previous = med.sites
        short = spans_too_few_domains(pattern, med.sites, codes, need)
        if np.isfinite(med.lower_bound) and not med.lower_bound <= lower:
            lower = float(med.lower_bound)
        if not short.any():
            if best is None or med.objective <= best.objective:
                best = med
            if (exact or best.status in ("optimal", "within_gap")
                    or not DOMAIN_ROUND_MILP_PAIRS < n_assign <= MAX_PAIRS_EXACT
                    or t_end - time.perf_counter() <= 1.0):
                break
            exact = True  # the larger MILP, on these rows
            continue
        exact = False
        if time.perf_counter() >= t_end or (short & held).any():
            break
        logger.info("k-median: %s point(s) short of their failure domains: their rows "
                    "added", f"{int(short.sum()):,}")
        got = domain_rows(pattern[np.flatnonzero(short)], codes, k)
        held |= short
        if got.matrix.shape[0]:
            parts.append(sp.csr_array(got.matrix))
            part_req.append(got.requirement)
    if best is not None:
        status = best.status
        if np.isfinite(lower) and lower >= best.objective * (1 - 1e-9):
            status = "optimal"  # (a later relaxation's bound meets it)
        elif (status not in ("optimal", "within_gap") and gap > 0
                and lower >= best.objective * (1 - gap)):
            status = "within_gap"  # (an earlier round's bound proves it)
        return Placement(best.sites, status, min(lower, best.objective), objective=best.objective,
                         gap_asked=gap)
    # the count's plan, which meets every point's domains, with its objective and the
    # rounds' bound (review 156: both were left NaN)
    near = values[:, np.sort(chosen)]
    has = np.diff(near.indptr) > 0
    best_ms = np.zeros(n)
    if near.nnz:
        best_ms[has] = np.minimum.reduceat(near.data, near.indptr[:-1][has])
    objective = float(np.dot(problem.population, best_ms))
    logger.info("k-median: the placed plan still left points short of their failure "
                "domains when its rounds (at most %d) or its time ran out: the site "
                "count's plan is kept", DOMAIN_ROUNDS)
    return Placement(chosen, "kept_cover", min(lower, objective) if np.isfinite(lower)
                     else float("nan"), objective=objective, gap_asked=gap)


def assign_and_fail(problem: Problem, chosen: npt.ArrayLike, n_cov: npt.ArrayLike,
                     ) -> tuple[pd.DataFrame, pd.DataFrame, WorstSet | None]:
    """Primary, backup and N-1 latency of every demand point from one bulk nearest-two query
    (nearest ``k + 1`` with ``k >= 2`` failures: ``nk_*`` columns, the worst latency under
    any ``k`` simultaneous site failures, when the ``k`` nearest fail together), and for
    ``k >= 2`` the single worst set of ``k`` failures
    (:func:`coverage.resilience.worst_set.worst_failure_set`; ``None`` for ``k < 2``).

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
    # the k + 1 nearest: the worst latency under any k failures is the (k + 1)-th's
    depth = max(2, int(failures) + 1)
    k = min(depth, len(chosen))
    near = np.full((n, depth), -1, dtype=np.int64)
    dkm = np.full((n, depth), np.nan)
    routed = None
    if problem.routed:
        # lowest latency across tiers and paths, among the tiers each row may use
        routed = problem.engine_unshrunk.nearest(chosen, k=depth)
        near = routed["site"]
        within = routed["within"]
        lat = np.where(near >= 0, routed["latency_ms"], np.nan)
        p50 = routed["p50_ms"]
        dkm = np.full((n, depth), np.nan)
        ok = near >= 0
        dkm[ok] = haversine_km(np.broadcast_to(problem.demand_lat[:, None], (n, depth))[ok],
                               np.broadcast_to(problem.demand_lon[:, None], (n, depth))[ok],
                               problem.site_lat[near[ok]], problem.site_lon[near[ok]])
    else:
        if k and n:
            km, ind = nearest(problem.site_lat[chosen], problem.site_lon[chosen],
                              unit_xyz(problem.demand_lat, problem.demand_lon), k=k)
            near[:, :k] = np.asarray(chosen)[ind]
            dkm[:, :k] = km
        within = (dkm <= radius[:, None] + REACH_EPS_KM) & (near >= 0)
        lat = rows.fixed_ms[:, None] + rows.ms_per_km * dkm
        p50 = rows.fixed_p50_ms[:, None] + rows.ms_per_km * dkm

    # site ids as categories of the chosen sites' ids: one or two bytes a point where a
    # text column took 17 (four such columns were a quarter of a national table)
    chosen_ids = pd.Index(site_ids[chosen])
    pos_of = np.full(len(site_ids), -1, dtype=np.int64)
    pos_of[chosen] = np.arange(len(chosen))

    def ids(ok: npt.NDArray[np.bool_], site: npt.NDArray[np.int64]) -> pd.Categorical:
        codes = np.where(ok, pos_of[np.where(ok, site, 0)], -1)
        return pd.Categorical.from_codes(codes, categories=chosen_ids)

    has_primary = within[:, 0]
    out = demand.copy()
    out["primary_site_id"] = ids(within[:, 0], near[:, 0])
    out["primary_latency_ms"] = np.where(has_primary, lat[:, 0], np.nan)
    out["primary_p50_ms"] = np.where(has_primary, p50[:, 0], np.nan)
    out["primary_distance_km"] = np.where(has_primary, dkm[:, 0], np.nan)
    out["backup_site_id"] = ids(within[:, 1], near[:, 1])
    out["backup_latency_ms"] = np.where(within[:, 1], lat[:, 1], np.nan)
    out["n_covering_sites"] = np.asarray(n_cov, dtype=np.int64)
    out["coverage_status"] = coverage_status_categorical(n_cov, failures)
    surv = has_primary & (near[:, 1] >= 0)
    out["n1_site_id"] = ids(surv, near[:, 1])
    out["n1_latency_ms"] = np.where(surv, lat[:, 1], np.nan)
    out["n1_within_budget"] = surv & within[:, 1]
    # a point with no chosen site within budget: how far outside it is (tester 174: its
    # row had no latency at all)
    out["outside_latency_ms"] = np.where(~has_primary & (near[:, 0] >= 0), lat[:, 0], np.nan)
    if failures >= 2:
        # any k failures: at worst the k nearest chosen sites fail together
        last = int(failures)
        nk_ok = has_primary & (near[:, last] >= 0)
        out["nk_site_id"] = ids(nk_ok, near[:, last])
        out["nk_latency_ms"] = np.where(nk_ok, lat[:, last], np.nan)
        out["nk_within_budget"] = nk_ok & within[:, last]
        worst = worst_failure_set(near, within, problem.population, int(failures))
    else:
        worst = None
    out["budget_ms"] = rows.budgets_ms  # each row's effective budget (its own or the run's)
    # the (n, k + 1) arrays are in the table now: let them go before the next stages (at
    # 10M points each is 160 MB and more, and the peak is what bounds a national plan)
    primary_km = np.where(has_primary, dkm[:, 0], np.nan)
    path_tier = None if routed is None else (
        np.where(has_primary, routed["path_km"][:, 0], np.nan),
        np.where(has_primary, routed["tier"][:, 0], -1))
    del near, dkm, lat, p50, within, routed
    if path_tier is not None:
        parts = latency_components(problem, primary_km, path_km=path_tier[0],
                                   tier=path_tier[1])
    else:
        parts = latency_components(problem, primary_km)
    del primary_km, path_tier
    for name in list(parts):
        out[name] = parts.pop(name)  # one copy at a time
    failures = n_minus_1(out, site_ids[chosen], budget_ms)
    return out, failures, worst


#: The waterfall columns of the assignment table, in order; they add up to
#: ``primary_latency_ms`` (the tail column holds the percentile's excess over p50).
LATENCY_COMPONENT_COLUMNS = (
    "latency_propagation_ms", "latency_route_detour_ms", "latency_network_fixed_ms",
    "latency_access_ms", "latency_wifi_ms", "latency_proxy_ms", "latency_tier_ms",
    "latency_inference_ms", "latency_tail_ms")


def latency_components(problem: Problem, distance_km: npt.ArrayLike, *,
                       path_km: npt.ArrayLike | None = None,
                       tier: npt.ArrayLike | None = None,
                       ) -> dict[str, npt.NDArray[np.float64]]:
    """Every demand point's latency to its serving site, component by component.

    Parameters
    ----------
    problem : Problem
        The problem (model, access classes, percentile).
    distance_km : array_like
        Great-circle distance of each point to its serving site, km (``nan``: none).
    path_km : array_like, optional
        With tiers or routing (:attr:`Problem.routed`): the path length in the model's km
        (through the breakout or over the backbone); its excess over ``distance_km`` is
        the route detour.
    tier : array_like, optional
        With tiers or routing: the serving site's tier code.

    Returns
    -------
    dict
        :data:`LATENCY_COMPONENT_COLUMNS` -> array: propagation (great circle), the route
        detour (UPF or backbone path minus the great circle; 0 on the flat model), the
        network's fixed part (hops and overhead at p50; 0 at an on-prem tier), access,
        Wi-Fi, proxy (the tier's), the tier's extra latency and inference at p50, and the
        tail (root sum of squares of the components' p99 - p50 at a p99 budget, else 0).
        Their sum is the latency at the budget's percentile; ``nan`` where ``distance_km``
        is.
    """
    d = np.asarray(distance_km, dtype=np.float64)
    codes, classes = problem.access_factorized
    model, rows = problem.model, problem.rows_unshrunk
    names = ("access", "wifi", "proxy", "inference")
    table = np.array([[model.components_ms(str(c))[n][0] for n in names] for c in classes],
                     dtype=np.float64).reshape(len(classes), len(names))
    per_row = table[codes] if len(classes) else np.zeros((len(d), len(names)))
    if problem.service is not None:  # a class's workload replaces the model's inference
        service = problem.service
        wl = pd.Series(service.workload, dtype=object)
        own = wl.notna().to_numpy()
        if own.any():
            per_row = per_row.copy()
            p50 = {w: service.model_for(model, w).inference_pair_ms[0]  # per workload
                   for w in pd.unique(wl[own])}
            per_row[own, names.index("inference")] = wl[own].map(p50).to_numpy(
                dtype=np.float64)
    nan = np.isnan(d)

    def mask(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.where(nan, np.nan, values)

    out = {"latency_propagation_ms": rows.ms_per_km * d,
           "latency_route_detour_ms": mask(np.zeros(len(d))),
           "latency_network_fixed_ms": mask(np.full(len(d), model.network_fixed_ms[0]))}
    for j, n in enumerate(names):
        out[f"latency_{n}_ms"] = mask(per_row[:, j])
    out["latency_tier_ms"] = mask(np.zeros(len(d)))
    # (a row no site can serve has both fixed latencies infinite: no tail, not inf - inf;
    # tester 153 saw numpy's "invalid value" warning on the command line)
    both = np.isfinite(rows.fixed_ms) & np.isfinite(rows.fixed_p50_ms)
    out["latency_tail_ms"] = mask(np.subtract(rows.fixed_ms, rows.fixed_p50_ms, where=both,
                                              out=np.full(len(d), np.nan)))
    if tier is not None and rows.tier_rows is not None:
        tr = rows.tier_rows
        t = np.asarray(tier, dtype=np.int64)
        has = t >= 0
        tc = np.where(has, t, 0)
        terms = tr.terms
        # negative on backbone links faster than the model's fibre; a rounding-sized
        # negative (-6e-15 ms where the path is the great circle) is 0
        detour_km = np.asarray(path_km, dtype=np.float64) - d
        detour_km = np.where((detour_km < 0) & (detour_km > -1e-9), 0.0, detour_km)
        out["latency_route_detour_ms"] = mask(rows.ms_per_km * detour_km)
        out["latency_network_fixed_ms"] = mask(terms.network_p50_ms[tc])
        out["latency_proxy_ms"] = mask(terms.proxy_p50_ms[tc])
        out["latency_tier_ms"] = mask(terms.extra_p50_ms[tc])
        tail = np.full(len(d), np.nan)
        for code in np.unique(tc[has]):
            m = has & (tc == code)
            idx = np.flatnonzero(m)
            tail[m] = tr.fixed_ms(idx, int(code)) - tr.fixed_ms(idx, int(code), p50=True)
        out["latency_tail_ms"] = mask(tail)
    return out


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
        population_outside_budget_redundant, mean_rerouted_latency_ms, meets_budget,
        n_demand_outside_budget``.
        ``n_demand_outside_budget`` counts the rerouted demand points outside budget,
        whatever their population, and ``meets_budget`` is True when it is 0: the same
        points ``worst_latency_ms`` is the maximum over, so a point of population 0 left
        outside budget is not called within it beside a worst latency above the budget.
        ``population_outside_budget_redundant`` counts users that had two or more sites in
        budget (``n_covering_sites >= 2``; status ``redundant`` or ``partial`` for tables
        without that column), whatever ``k``: it is 0 for a fewest-sites plan with
        ``k >= 1`` (its chosen sites keep every such user two sites within budget), not
        necessarily for a ``--max-sites`` plan. ``mean_rerouted_latency_ms`` is the
        population-weighted mean over the rerouted users left a site (NaN when none is).
    """
    served = assignment["primary_site_id"].notna().to_numpy()
    # the columns used, served rows only (not a copy of the whole table)
    pop = assignment["population"][served].to_numpy(dtype=np.float64)
    lat = assignment["n1_latency_ms"][served].to_numpy(dtype=np.float64)
    out_b = ~assignment["n1_within_budget"][served].to_numpy(dtype=bool)
    if "n_covering_sites" in assignment.columns:
        red = assignment["n_covering_sites"][served].to_numpy(dtype=np.float64) >= 2
    else:
        red = assignment["coverage_status"][served].isin(["redundant", "partial"]).to_numpy(
            dtype=bool)
    # one pass of bincounts over the served points' site codes (a groupby of a table of
    # the points by their text ids held 1.9 GiB more at 10M points)
    codes, primary = pd.factorize(assignment["primary_site_id"][served], sort=False)
    codes = np.asarray(codes, dtype=np.int64)
    n_sites = len(primary)
    figures = reroute_figures(codes, n_sites, pop, lat, ~out_b)
    figures["population_outside_budget_redundant"] = np.bincount(
        codes, weights=pop * (out_b & red), minlength=n_sites).astype(np.float64)
    g = pd.DataFrame(figures, index=pd.Index(np.asarray(primary, dtype=object),
                                             name="failed_site_id"))
    # the chosen sites nobody is served by: nobody rerouted
    g = g.reindex(pd.Index(np.asarray(chosen_site_ids, dtype=object), name="failed_site_id"))
    for c in ("n_demand_rerouted", "n_demand_outside_budget"):
        g[c] = g[c].fillna(0).astype(np.int64)
    for c in ("population_rerouted", "population_outside_budget",
              "population_outside_budget_redundant"):
        g[c] = g[c].fillna(0.0)
    g["meets_budget"] = g["n_demand_outside_budget"] == 0
    cols = ["population_rerouted", "population_outside_budget", "worst_latency_ms",
            "n_demand_rerouted", "population_outside_budget_redundant",
            "mean_rerouted_latency_ms", "meets_budget",
            "n_demand_outside_budget"]  # DESIGN section 4 order first
    return g[cols].reset_index()




def check_aggregation(problem: Problem, original: pd.DataFrame, aggregation: Aggregation,
                      chosen: npt.ArrayLike) -> dict[str, Any]:
    """What solving on bins cost the original points: how many points and people the chosen
    sites leave short of their own requirement (``summary()["aggregation"]``)."""
    c = problem.config
    loss = shortfall(original, problem.sites["lat"], problem.sites["lon"], chosen,
                     model=problem.model, budget_ms=c.budget_ms, percentile=c.percentile,
                     failures=c.failures)
    demand = problem.demand
    return {
        "cell_km": aggregation.cell_km,
        "h3_res": aggregation.h3_res,
        "mode": c.aggregate_mode,
        "demand_points_in": int(len(original)),
        "demand_points_solved": int(len(demand)),
        "max_offset_km": float(demand["max_offset_km"].max()) if len(demand) else 0.0,
        **loss,
        "n_demand_short": loss["cells_short"],  # original points (cells_short: old name)
        "population_total": float(original["population"].sum()),
    }


def open_in_budget(problem: Problem, chosen: npt.ArrayLike, rows: npt.ArrayLike,
                   reach: ReachMatrix | None = None) -> npt.NDArray[np.int64]:
    """Chosen sites within budget of each of ``rows``, by the pairs ``n_covering`` counts:
    the reach matrix's rows when given, else radius queries of those rows against the chosen
    sites (:meth:`coverage.solvers.rowgen.RowSource.rows`)."""
    r = np.asarray(rows, dtype=np.int64)
    chosen = np.asarray(chosen, dtype=np.int64)
    if not len(r) or not len(chosen):
        return np.zeros(len(r), dtype=np.int64)
    if reach is None:
        return np.diff(row_source(problem).rows(r, sites=chosen).indptr).astype(np.int64)
    is_open = np.zeros(reach.n_sites, dtype=bool)
    is_open[chosen] = True
    start, stop = reach.indptr[r], reach.indptr[r + 1]
    row = np.repeat(np.arange(len(r)), stop - start)  # the row of each entry of the rows
    entries = reach.indices[row_ranges(start, stop)]
    return np.bincount(row[is_open[entries]], minlength=len(r)).astype(np.int64)


def propose_gaps(problem: Problem, assignment: pd.DataFrame, n_cov: npt.ArrayLike,
                 chosen: npt.ArrayLike | None = None,
                 reach: ReachMatrix | None = None,
                 taken_ids: npt.ArrayLike | None = None,
                 apart_m: float | None = None,
                 n_open: npt.ArrayLike | None = None) -> Proposal:
    """Coverage gaps (points with fewer than ``k + 1`` candidates in budget) and the new
    sites that would close them (:func:`coverage.resilience.gaps.propose_sites`).

    ``chosen`` (the plan's sites) makes the figures still short count the chosen sites
    within budget of each gap point (:func:`open_in_budget`, on ``reach`` when given) plus
    the proposals: a ``--max-sites`` plan leaves some candidates closed. Without it, every
    candidate in budget counts as open. The proposals' ids never take a candidate's id
    (those of ``problem.sites`` and ``taken_ids``: the candidates left out of the problem,
    e.g. those that cannot host the workload). ``apart_m`` raises the colocation distance
    (``--colocated-m``) for the proposals: with ``--domain-radius-km``, a proposal closer
    than that to a candidate or another proposal would share its failure domain.

    ``n_cov`` is what a gap is counted on: candidates in budget, or for a plan that fails
    whole failure domains the domains of its candidates in budget (a point lacks ``k + 1``
    minus that many sites, each a domain of its own); ``n_open`` then the domains of its
    chosen sites in budget (instead of ``chosen``).
    """
    c = problem.config
    n_cov_arr = np.asarray(n_cov, dtype=np.int64)
    gap_rows = np.flatnonzero(gap_mask(n_cov_arr, c.failures))
    if n_open is not None:
        n_open = np.asarray(n_open, dtype=np.int64)
    elif chosen is not None:
        n_open = np.zeros(len(n_cov_arr), dtype=np.int64)
        n_open[gap_rows] = open_in_budget(problem, chosen, gap_rows, reach)
    reach_fn = None
    picked: dict[str, Any] = {}
    anchors: tuple[Any, Any] = (None, None)
    if problem.routed:
        engine = problem.engine_unshrunk
        anchors = engine.anchor_points(gap_rows)
        # every proposed site has one tier among the candidates', with the local breakout
        # its candidates have: the (tier, breakout) whose sites would reach the most gap
        # people, ties to the commonest (it was always the commonest tier: with most
        # candidates restricted on-prem or cdn-pop too slow for the budget, 0 sites were
        # proposed as "optimal", tester 153; and never with breakout, so mobile towns far
        # from their UPF got none where a mec site in town reaches them, tester 158)
        site_set = problem.site_set
        groups = sorted(site_set.groups(), key=lambda g: -len(g[2]))
        options = [(int(t), bool(lbo)) for t, lbo, _ in groups] or [(0, False)]

        def reach_fn(rows: npt.NDArray[np.int64], lat: npt.NDArray[np.float64],
                     lon: npt.NDArray[np.float64]) -> Any:
            import scipy.sparse as sp

            from ..model.routing import SiteSet

            best: tuple[float, tuple[int, bool], Any] | None = None
            # chosen on the first call (the locations); the twins' call takes the same
            for tier, lbo in [picked["option"]] if "option" in picked else options:
                new = replace(engine, sites=SiteSet(lat, lon, np.full(len(lat), tier),
                                                    np.full(len(lat), lbo)))
                rowpos, cols, _, _ = new.pairs(rows)
                a = sp.csr_array((np.ones(len(cols), dtype=np.int8), (rowpos, cols)),
                                 shape=(len(rows), len(lat)))
                # people times the share of their missing sites the locations could
                # give (not merely reached by one: with k >= 1 they lack two; review 144)
                lacks = np.maximum(c.failures + 1 - n_cov_arr[rows], 1)
                share = np.minimum(np.diff(a.indptr), lacks) / lacks
                helped = float((problem.population[rows] * share).sum())
                if best is None or helped > best[0]:
                    best = (helped, (tier, lbo), a)
            assert best is not None
            picked["option"] = best[1]
            picked["tier"] = str(engine.tier_rows.terms.names[best[1][0]])
            return best[2]
    proposal = propose_sites(assignment, n_cov, model=problem.model, budget_ms=c.budget_ms,
                         percentile=c.percentile, failures=c.failures,
                         time_limit_s=c.proposal_limit_s,
                         row_latency=problem.rows_unshrunk, reach_fn=reach_fn,
                         n_open=n_open, anchor_lat=anchors[0], anchor_lon=anchors[1],
                         shrink_km=(problem.demand["max_offset_km"].to_numpy(dtype=float)
                                    if "max_offset_km" in problem.demand.columns else None),
                         avoid_lat=problem.sites["lat"].to_numpy(),
                         avoid_lon=problem.sites["lon"].to_numpy(),
                         colocated_m=float(problem.sites.attrs.get(
                             "colocated_m", DEFAULT_COLOCATED_M)),
                         apart_km=None if apart_m is None else float(apart_m) / 1000.0,
                         taken_ids=np.concatenate([
                             problem.sites["site_id"].to_numpy(dtype=object),
                             np.asarray([] if taken_ids is None else taken_ids,
                                        dtype=object)]))
    if "tier" in picked:  # the tier (and breakout) the proposals were placed for
        proposal = replace(proposal, sites=proposal.sites.assign(
            tier=picked["tier"], local_breakout=bool(picked["option"][1])),
            tier=picked["tier"])
    return proposal


def _sum_by_site(site_id: pd.Series, weights: npt.NDArray[np.float64],
                 ) -> tuple[pd.Series, pd.Series]:
    """Per site id of ``site_id`` (missing ids left out): the sum of ``weights`` and the
    number of rows, by codes and bincounts (a groupby of a 10M-row table by its text ids
    held gigabytes)."""
    codes, uniq = pd.factorize(site_id, sort=False)
    ok = codes >= 0
    index = pd.Index(np.asarray(uniq, dtype=object))
    return (pd.Series(np.bincount(codes[ok], weights=weights[ok], minlength=len(uniq)),
                      index=index),
            pd.Series(np.bincount(codes[ok], minlength=len(uniq)), index=index))


def site_table(problem: Problem, chosen: npt.ArrayLike, assignment: pd.DataFrame,
               failure_table: pd.DataFrame, radius_km: float) -> pd.DataFrame:
    """The chosen sites with the population they serve as primary and backup and what their
    failure costs (DESIGN section 4 column order first)."""
    s = problem.sites.iloc[np.asarray(chosen, dtype=np.int64)].reset_index(drop=True)
    pop = assignment["population"].to_numpy(dtype=np.float64)
    prim_pop, prim_n = _sum_by_site(assignment["primary_site_id"], pop)
    back_pop, _ = _sum_by_site(assignment["backup_site_id"], pop)
    ids = s["site_id"]
    s["population_primary"] = ids.map(prim_pop).fillna(0.0).to_numpy()
    s["n_demand_primary"] = ids.map(prim_n).fillna(0).astype(np.int64).to_numpy()
    s["population_backup"] = ids.map(back_pop).fillna(0.0).to_numpy()
    f = failure_table.set_index("failed_site_id")
    s["population_outside_budget_if_failed"] = ids.map(f["population_outside_budget"]).to_numpy()
    s["worst_latency_if_failed_ms"] = ids.map(f["worst_latency_ms"]).to_numpy()
    s["radius_km"] = radius_km if len(assignment) else np.nan  # largest over classes present
    if (problem.service is not None or problem.routed) and len(assignment):
        # per-row budgets: the largest own radius among the rows the site serves (primary);
        # with tiers, each row's radius at the site's tier
        row_r = problem.rows_unshrunk.radius_km
        tr = problem.rows_unshrunk.tier_rows
        if tr is not None and problem.site_tier is not None:
            pos = pd.Series(np.arange(len(sites_all := problem.sites)),
                            index=sites_all["site_id"].to_numpy())
            prim = assignment["primary_site_id"]
            has = prim.notna().to_numpy()
            t_row = np.full(len(prim), -1)
            t_row[has] = problem.site_tier[pos.reindex(prim[has].to_numpy()).to_numpy()]
            row_r = np.full(len(prim), np.nan)
            for code in np.unique(t_row[has]):
                m = np.flatnonzero(t_row == code)
                row_r[m] = tr.radius_km(m, int(code))
        r = pd.Series(row_r).groupby(assignment["primary_site_id"].to_numpy()).max()
        fallback = np.full(len(s), float(radius_km))
        if tr is not None and problem.site_tier is not None:
            # a site that is nobody's primary: the largest radius of any row at its own
            # tier, not the run's (tester 185: cdn-pop sites showed metro-colo's 985 km
            # where their tier reaches 412, and the map drew those circles)
            own = problem.site_tier[np.asarray(chosen, dtype=np.int64)]
            every = np.arange(len(problem.rows_unshrunk.radius_km))
            for code in np.unique(own):
                radii = tr.radius_km(every, int(code))
                fallback[own == code] = (float(np.nanmax(radii)) if np.isfinite(radii).any()
                                         else np.nan)
        got = ids.map(r).to_numpy(dtype=np.float64)
        s["radius_km"] = np.where(np.isnan(got), fallback, got)
    front = ["site_id", "lat", "lon", "tier", "population_primary", "name", "required",
             "n_demand_primary", "population_backup"]
    return s[front + [c for c in s.columns if c not in front]]


def status_figures(status: npt.ArrayLike, population: npt.NDArray[np.float64],
                   ) -> dict[str, Any]:
    """``summary.json``'s people and points by coverage status (``status``: each point's
    :func:`coverage.resilience.status.coverage_status`), and the gaps (not ``redundant``).

    Examples
    --------
    >>> status_figures(np.array(["redundant", "single"]), np.array([5.0, 2.0]))[
    ...     "population_gap"]
    2.0
    """
    status_arr = np.asarray(status, dtype=object)
    names = (("redundant", "redundant"), ("partial", "partial"),
             ("single", "single_coverable"), ("uncoverable", "uncoverable"))
    sel = {key: status_arr == name for name, key in names}
    gap = status_arr != "redundant"
    return {**{f"population_{key}": float(population[m].sum()) for key, m in sel.items()},
            "population_gap": float(population[gap].sum()),
            **{f"n_demand_{key}": int(m.sum()) for key, m in sel.items()},
            "n_demand_gap": int(gap.sum())}


def plan_summary(problem: Problem, *, count: SiteCount, placement: Placement,
                 assignment: pd.DataFrame, failure_table: pd.DataFrame, radius_km: float,
                 radius_access: str, n_pairs: int,
                 default_label: str | None = None,
                 worst_set: WorstSet | None = None,
                 run_workload: str | None = None) -> dict[str, Any]:
    """The plan's figures: objective, bound and status of the site count, population by
    coverage status, coverage by k, latency (mean p50, mean at the percentile, worst N-1),
    the single-failure damage and the k-median outcome (keys of ``summary.json``).
    ``run_workload``: the name of the rows without a class's workload in
    ``by_service_class`` (see :func:`by_service_class`)."""
    c, cover, n_cov = problem.config, count.cover, count.n_covering
    population = problem.population
    has_primary = assignment["primary_site_id"].notna().to_numpy()
    w = population[has_primary]

    def weighted_mean(column: str) -> float:
        if w.sum() <= 0:
            return float("nan")
        return float(np.average(assignment.loc[has_primary, column], weights=w))

    finite_n1 = assignment["n1_latency_ms"].dropna()

    def worst(column: str) -> float:
        return float(failure_table[column].max()) if len(failure_table) else 0.0

    return {
        "site_count": int(len(placement.sites)),
        "objective": "cost" if problem.cost is not None else "count",
        "objective_value": float(cover.objective),
        "lower_bound": float(cover.lower_bound),
        "status": cover.status,
        "mip_gap": float(cover.mip_gap),
        "budget_ms": float(c.budget_ms),
        "percentile": c.percentile,
        "failures_tolerated": int(c.failures),
        "n_demand": int(len(problem.demand)),
        "n_candidates": int(len(problem.sites)),
        "population_total": float(population.sum()),
        "population_covered": float(population[n_cov >= 1].sum()),
        **status_figures(assignment["coverage_status"].to_numpy(), population),
        "coverage_by_k": coverage_by_k(n_cov, population, c.failures),
        "population_safe_by_failures": population_safe_by_failures(n_cov, population,
                                                                   c.failures),
        "max_radius_km": float(radius_km),
        "max_radius_access": radius_access,
        "mean_latency_ms": weighted_mean("primary_p50_ms"),
        "mean_latency_percentile_ms": weighted_mean("primary_latency_ms"),
        "n1_worst_latency_ms": float(finite_n1.max()) if len(finite_n1) else float("nan"),
        "n1_population_outside_budget": worst("population_outside_budget"),
        "n1_population_outside_budget_redundant": worst(
            "population_outside_budget_redundant"),
        **nk_summary(assignment, population, int(c.failures), worst_set,
                     problem.sites["site_id"].to_numpy(dtype=object)),
        "kmedian_status": placement.status,
        "kmedian_lower_bound_ms_pop": placement.lower_bound,
        "kmedian_objective_ms_pop": placement.objective,
        "kmedian_gap": placement.gap,
        # the gap the stage stops at (kmedian_status "within_gap" when it did), a fraction;
        # None where the stage does not use one (the national placement)
        "kmedian_gap_asked": placement.gap_asked,
        "n_pairs_in_reach": int(n_pairs),
        "reductions": cover.reductions,
        "by_service_class": by_service_class(problem, assignment, n_cov, default_label,
                                             run_workload=run_workload),
    }


def nk_summary(assignment: pd.DataFrame, population: npt.NDArray[np.float64],
               failures: int, worst_set: WorstSet | None = None,
               site_ids: npt.NDArray[np.object_] | None = None) -> dict[str, Any]:
    """``summary.json`` figures of the worst case under any ``k >= 2`` simultaneous site
    failures (the ``nk_*`` columns of :func:`assign_and_fail`), each user's own worst
    ``k`` failures: the worst latency over the users who keep a site, the population with a
    primary site that its worst ``k`` failures push outside budget, and, of those, the
    population left with no site at all (plans of ``k`` sites or fewer) (``None`` for
    ``k < 2``: the ``n1_*`` figures are that case). The populations are unions over every
    set of ``k`` failures, not one scenario: no single set of ``k`` failed sites pushes out
    more people, and usually fewer (``n1_population_outside_budget`` is one scenario).
    ``worst_set`` (with ``site_ids``) adds that one scenario for ``k`` failures:
    ``nk_worst_set_site_ids``, the people it pushes outside budget, its status and the
    upper bound on any set's damage."""
    worst_keys = {"nk_worst_set_site_ids": None,
                  "nk_worst_set_population_outside_budget": None,
                  "nk_worst_set_upper_bound": None, "nk_worst_set_status": None}
    if failures < 2 or "nk_latency_ms" not in assignment:
        return {"nk_failures": None, "nk_worst_latency_ms": None,
                "nk_population_outside_budget": None, "nk_population_without_site": None,
                **worst_keys}
    if worst_set is not None and site_ids is not None:
        worst_keys = {
            "nk_worst_set_site_ids": [str(s) for s in site_ids[worst_set.sites]],
            "nk_worst_set_population_outside_budget": float(worst_set.population),
            "nk_worst_set_upper_bound": float(worst_set.upper_bound),
            "nk_worst_set_status": worst_set.status}
    has_primary = assignment["primary_site_id"].notna().to_numpy()
    outside = has_primary & ~assignment["nk_within_budget"].to_numpy(dtype=bool)
    lost = has_primary & assignment["nk_site_id"].isna().to_numpy()
    lat = assignment["nk_latency_ms"].dropna()
    return {"nk_failures": int(failures),
            "nk_worst_latency_ms": float(lat.max()) if len(lat) else float("nan"),
            "nk_population_outside_budget": float(population[outside].sum()),
            "nk_population_without_site": float(population[lost].sum()),
            **worst_keys}


def by_service_class(problem: Problem, assignment: pd.DataFrame, n_cov: npt.ArrayLike,
                     default_label: str | None = None, *,
                     run_workload: str | None = None) -> list[dict[str, Any]]:
    """One entry per service class present (``summary["by_service_class"]``): its rows,
    people, budget and percentile, the people within budget of a chosen site (N-0), N-k
    safe (``k + 1`` candidates within budget), uncoverable, and the mean primary p50
    latency. Without per-row budgets there is one entry, the default class
    (``default_label``: the preset name of ``--budget-ms NAME``, else ``"default"``)."""
    from ..model.service import DEFAULT_CLASS

    c, rows = problem.config, problem.rows_unshrunk
    n = len(problem.demand)
    pop = problem.population
    n_cov = np.asarray(n_cov)
    served = assignment["primary_site_id"].notna().to_numpy()
    safe = ~gap_mask(n_cov, c.failures)
    p50 = assignment["primary_p50_ms"].to_numpy(dtype=np.float64)
    budgets = rows.budgets_ms
    if problem.service is not None:
        codes, uniq = pd.factorize(pd.Series(problem.service.label, dtype=object), sort=True)
        classes = [(str(name), codes == j) for j, name in enumerate(uniq)]
    else:  # one class, every row (no per-row labels: 10M of them held 1.5 GiB)
        classes = [(default_label or DEFAULT_CLASS, np.ones(n, dtype=bool))] if n else []
    out = []
    for name, sel in classes:
        first = int(np.flatnonzero(sel)[0])
        workload = None if problem.service is None else problem.service.workload[first]
        w = pop[sel & served]
        out.append({
            "service_class": name,
            "n_demand": int(sel.sum()),
            "population": float(pop[sel].sum()),
            "budget_ms": float(budgets[first]),
            "percentile": str(rows.row_percentile[first] if rows.row_percentile is not None
                              else rows.percentile),
            "workload": (str(workload) if workload is not None
                         else run_workload if run_workload is not None
                         else problem.model.workload if problem.model.inference_ms is None
                         else "inference_ms"),
            "population_within_budget": float(pop[sel & served].sum()),
            "population_safe": float(pop[sel & safe].sum()),
            "population_uncoverable": float(pop[sel & (n_cov == 0)].sum()),
            "mean_latency_ms": (float(np.average(p50[sel & served], weights=w))
                                if w.sum() > 0 else float("nan")),
        })
    return out


def capacity_infeasible(problem: Problem, res: Any, domains: Any = None,
                        unit: str = "requests/s") -> NoFeasiblePlanError:
    """The error of a capacitated solve proven infeasible (``res.status == "infeasible"``):
    how it was proven and the scenario of the last plan tried with the most load shed
    (``domains``: the failure domain of every candidate, when sites fail together;
    ``unit``: the load's, :func:`coverage.model.capacity.load_unit`)."""
    worst = max(res.scenarios, key=lambda f: f.shed_rps)
    ids = problem.sites["site_id"].to_numpy(dtype=object)
    failed = [str(i) for i in ids[sorted(worst.failed)]]
    n_domains = (len(set(np.asarray(domains, dtype=object)[sorted(worst.failed)].tolist()))
                 if domains is not None and failed else 0)
    what = ("normal operation" if not failed
            else "the failure of "
            + (f"{counted(n_domains, 'shared-risk domain')} ({len(failed):,} sites: "
               if n_domains else "")
            + ", ".join(failed[:10])
            + (f" and {len(failed) - 10:,} more" if len(failed) > 10 else "")
            + (")" if n_domains else ""))
    all_open = len(res.sites) == len(ids)
    k = int(problem.config.failures)
    shared = (domains is not None
              and len(set(np.asarray(domains, dtype=object).tolist())) < len(ids))
    fixes = ["add candidates or capacity (capacity_rps, power_kw, a bigger tier)",
             "lower the load"]
    # the cuts of a search that did not open every candidate come from any scenario,
    # whatever the last plan fell short in (tester 131: "normal operation" and no word
    # of the shared-risk domains whose failures made the cuts)
    if failed or (not all_open and k > 0):
        fixes.append("tolerate fewer failures")
    if n_domains or (not all_open and shared and k > 0):
        fixes.append("make the shared-risk domains smaller (--domain-radius-km, or the "
                     "failure_domain column)")
    fix = ", ".join(fixes[:-1]) + ", or " + fixes[-1] if len(fixes) > 2 else " or ".join(fixes)
    if all_open:
        return NoFeasiblePlanError(
            f"no plan carries the load: even with all {len(ids):,} candidates open, "
            f"{worst.shed_rps:,.1f} of {worst.load_rps:,.1f} {unit} cannot be served "
            f"within budget in {what}. Fix: {fix}")
    scenarios = ("normal operation" if k == 0 else
                 f"normal operation and every failure of up to {counted(k, 'site')}"
                 if not shared else
                 f"normal operation and every failure of up to "
                 f"{counted(k, 'shared-risk domain')}")
    return NoFeasiblePlanError(
        f"no plan carries the load: the capacity cuts (max-flow / min-cut) of {scenarios} "
        f"exclude every plan of the {len(ids):,} candidates (the last plan tried, "
        f"{len(res.sites):,} sites, sheds {worst.shed_rps:,.1f} of {worst.load_rps:,.1f} "
        f"{unit} in {what}). Fix: {fix}")


STATUS_UNPROVEN = "unproven"
"""The status of a capacitated plan whose solve was optimal for the failure scenarios it
checked, the list cut at the scenario limit: the fewest sites that carry the load in those
(a proven lower bound), not proven to carry it in the others (the command line's exit
code 7)."""


def plan_status(res: Any) -> str:
    """The status a capacitated solve's plan reports: the solver's, except
    :data:`STATUS_UNPROVEN` for an optimal solve whose scenario list was cut
    (``res.complete`` false); ``time_limit`` and ``time_limit_short`` are kept (neither
    claims a proof)."""
    if res.status == "optimal" and not res.complete:
        return STATUS_UNPROVEN
    return str(res.status)


def place_capacitated(problem: Problem, count: SiteCount, reach: ReachMatrix,
                      capacity: Any, result: Any, time_limit_s: float | None = None,
                      ) -> tuple[Placement, Any]:
    """Place a capacitated plan's sites for latency
    (:func:`coverage.solvers.kmedian.capacitated_median`): the proven count, every
    point's requirement, and every failure scenario carrying the load (the capacity cuts
    of the count's search, and those the placement's checks add).

    Returns the placement and the capacity result of the placed plan (``result`` with
    the placed sites and their scenarios; ``result`` itself when the count's plan is
    kept). Skipped (the count's plan kept) with a cost objective, no site, a time limit of
    0, or a count without a plan that carries the load.
    """
    from dataclasses import replace

    from ..solvers.kmedian import capacitated_median

    chosen = count.cover.sites
    c = problem.config
    limit = c.kmedian_time_limit_s if time_limit_s is None else time_limit_s
    skipped = _skipped_placement(problem, chosen, limit)
    if skipped is None and result.status not in ("optimal", "time_limit"):
        skipped = Placement(chosen, "skipped (capacitated: no plan carries the load)")
    if skipped is not None:
        return skipped, result
    med = capacitated_median(
        reach.values("p50_ms"), chosen, reach=result.reach, load_rps=result.load_rps,
        cap_rps=capacity.cap_rps, failures=int(c.failures),
        point_load_rps=capacity.load_rps, weights=problem.population,
        requirement=problem.requirement(count.n_covering), required=problem.required,
        domains=capacity.domains, cuts=result.cuts, scenario_limit=int(c.scenario_limit),
        time_limit_s=limit, gap=float(c.kmedian_gap_pct) / 100.0)
    info = {"method": med.method, "rounds": med.rounds, "capacity_cuts": med.cuts,
            "moved_sites": int(len(np.setdiff1d(med.sites, chosen)))}
    if med.kept_because is not None:  # (tester 141: only the national path said why)
        info["kept_because"] = med.kept_because
    placement = Placement(med.sites, med.status, med.lower_bound, info, med.objective,
                          gap_asked=float(c.kmedian_gap_pct) / 100.0)
    if med.scenarios is None:
        return placement, result
    return placement, replace(result, sites=med.sites, scenarios=med.scenarios,
                              complete=med.complete)


def place_capacitated_national(problem: Problem, count: SiteCount, capacity: Any,
                               result: Any, time_limit_s: float | None = None, *,
                               client: Any = None) -> tuple[Placement, Any]:
    """Place a capacitated plan made by row generation (no reach matrix for the MILP of
    :func:`place_capacitated`): the uncapacitated national placement
    (:func:`place_sites`, its share of the time), taken when its plan keeps every cell's
    requirement and carries every failure scenario over every cell
    (:func:`coverage.solvers.capacitated_rowgen.check_plan`, the whole list) and its
    least-latency flow is better than the count's (:func:`capacitated_objective`).

    Its bound (every cell's p50 to its nearest candidate) is one of the capacitated
    objective too: a flow costs at least every cell's nearest latency. Returns the
    placement and the capacity result of the plan kept (as :func:`place_capacitated`).
    """
    from ..solvers.capacitated_rowgen import check_plan
    from ..solvers.kmedian import RELAXED_SHARE, relaxed_choice

    chosen = np.sort(np.asarray(count.cover.sites, dtype=np.int64))
    c = problem.config
    limit = c.kmedian_time_limit_s if time_limit_s is None else time_limit_s
    skipped = _skipped_placement(problem, chosen, limit)
    if skipped is None and (result is None or result.status not in ("optimal", "time_limit")):
        skipped = Placement(chosen, "skipped (capacitated: no plan carries the load)")
    if skipped is not None:
        return skipped, result
    t0 = time.perf_counter()
    deadline = t0 + float(limit)
    placed = place_sites(problem, count, None, time_limit_s=RELAXED_SHARE * float(limit),
                         client=client)
    if placed.status.startswith("skipped"):  # (routed, service classes: said why)
        return Placement(chosen, placed.status, info=placed.info), result
    bound = float(placed.lower_bound) if np.isfinite(placed.lower_bound) else float("nan")
    sites = np.sort(np.asarray(placed.sites, dtype=np.int64))
    info: dict[str, Any] = {"method": "uncapacitated national placement, capacity checked",
                            "uncapacitated_status": placed.status, "moved_sites": 0,
                            "uncapacitated": placed.info}
    # the flows' objectives after the check, in the time it leaves (the count's first took
    # the check's time and a good placement was dropped as "not all checked": review 130b)
    obj, how = float("nan"), ""
    if not np.array_equal(sites, chosen):
        check = check_plan(row_source(problem), capacity.load_rps, capacity.cap_rps,
                           problem.requirement(count.n_covering), count.n_covering, sites,
                           int(c.failures), domains=capacity.domains,
                           scenario_limit=int(c.scenario_limit), stop_after=1,
                           deadline=deadline)
        if not (check.feasible and check.complete):
            info["kept_because"] = (
                "short in a failure scenario" if check.bad else
                "a cell below its requirement" if len(check.short) else
                "its failure scenarios were not all checked (time or --scenario-limit)")
        else:
            obj, how = capacitated_objective(problem, capacity, sites,
                                             (deadline - time.perf_counter()) / 2)
    start_obj, start_how = capacitated_objective(problem, capacity, chosen,
                                                 deadline - time.perf_counter())
    info["objective_by"] = start_how
    # (no gap: the national placement's search does not stop at one)
    take, best_obj, lower, status = relaxed_choice(start_obj, obj if how else float("nan"),
                                                   bound)
    best, out = chosen, result
    if not how:  # the placement was the count's, or did not pass the check
        info.setdefault("kept_because", "the uncapacitated placement is the count's plan")
    elif take:
        best = sites
        info.update(moved_sites=int(len(np.setdiff1d(sites, chosen))), objective_by=how)
        out = replace(result, sites=sites, scenarios=check.scenarios,
                      complete=check.complete, reach=check.reach, load_rps=check.load_rps,
                      inverse=check.inverse)
    elif not (np.isfinite(obj) and np.isfinite(start_obj)):
        info["kept_because"] = (
            "the least-latency flows could not be compared: "
            + "; ".join(f"{who}'s {why}" for who, v, why in (
                ("the count", start_obj, start_how), ("the placement", obj, how))
                if not np.isfinite(v)))
    else:
        info["kept_because"] = ("no better: its least-latency flow "
                                f"({obj:.6g}) against the count's ({start_obj:.6g})")
    info["time_s"] = time.perf_counter() - t0
    logger.info("capacitated national placement: %s, objective %s (count's %s), %s",
                counted(len(best), "site"), _figure(best_obj), _figure(start_obj), status)
    return Placement(best, status, lower, info, best_obj), out


def _figure(value: float) -> str:
    """A log's objective: ``"not computed"`` rather than ``nan`` (tester 131)."""
    return f"{value:.6g}" if np.isfinite(value) else "not computed"


def capacitated_objective(problem: Problem, capacity: Any, sites: npt.ArrayLike,
                          time_limit_s: float = 60.0) -> tuple[float, str]:
    """The population-weighted p50 latency (ms x people) of the least-latency flow of every
    point's load to ``sites`` within their capacities, and how it was found: each point at
    its lowest-latency site when those loads fit every capacity (that flow is then the
    least-latency one), else the linear program over the points near the sites capacity
    binds (:func:`coverage.solvers.kmedian.flow_latency_near_overloaded`: the same
    optimum) up to :data:`MAX_PAIRS_LEAST_FLOW` pairs, within ``time_limit_s``; ``nan``
    above or past it."""
    from ..solvers.kmedian import flow_latency_near_overloaded

    sites = np.asarray(sites, dtype=np.int64)
    pairs = chosen_pairs(problem, sites)
    if not pairs.nnz:
        return 0.0, "no point in budget"
    limit = float(time_limit_s)
    # the placement's time is up: no program past it (the nearest sites still)
    value, how, status = flow_latency_near_overloaded(
        pairs.values("p50_ms"), sites, capacity.load_rps, capacity.cap_rps,
        problem.population, time_limit_s=limit if limit >= MIN_LP_TIME_S else 0.0,
        max_pairs=MAX_PAIRS_LEAST_FLOW)
    if status == "time_limit":  # (the option that sets it, in the user's words)
        how = (f"not computed: its linear program did not finish in {limit:.3g} s "
               "(--kmedian-time-limit-s)" if limit >= MIN_LP_TIME_S else
               "not computed: the placement's time limit was reached "
               "(--kmedian-time-limit-s)")
    return value, how


#: Most (point, chosen site) pairs of :func:`capacitated_objective`'s linear program (the
#: pairs of the points near the sites capacity binds, not all the plan's).
MAX_PAIRS_LEAST_FLOW = 1_000_000
#: Least time left for :func:`capacitated_objective`'s linear program, s (less: not run).
MIN_LP_TIME_S = 0.5


def capacitated_sites(problem: Problem, reach: ReachMatrix, n_cov: Any,
                      capacity: Any, final_repair_s: float | None = math.inf,
                      ) -> tuple[SiteCount, Any]:
    """The stage that replaces :func:`~coverage.planner.stages.min_sites` when the run has
    a load: :func:`coverage.solvers.capacitated.capacitated_cover` on the reach matrix.

    ``final_repair_s``: the time a search stopped without a feasible plan may take to
    repair its last plan into one (default: as long as that takes, so a plan always carries
    the load; ``None``: the solver's bounded default, after which the result has status
    ``time_limit_short`` and is no plan: the budget sweep's short solves).

    Raises
    ------
    NoFeasiblePlanError
        Not even every candidate open carries the load in every failure scenario.
    """
    from ..solvers.capacitated import capacitated_cover
    from ..solvers.cover import CoverResult

    c = problem.config
    res = capacitated_cover(reach.boolean(), capacity.load_rps, capacity.cap_rps,
                            problem.requirement(n_cov), failures=int(c.failures),
                            domains=capacity.domains, cost=problem.cost,
                            required=problem.required, time_limit_s=c.time_limit_s,
                            final_repair_s=final_repair_s,
                            scenario_limit=int(c.scenario_limit))
    if res.status == "infeasible":
        raise capacity_infeasible(problem, res, capacity.domains,
                                  load_unit(capacity.describe))
    cover = CoverResult(res.sites, res.objective, res.lower_bound, plan_status(res), res.gap,
                        res.runtime_s, {"capacity_rounds": len(res.rounds)})
    return SiteCount(cover=cover, n_covering=np.asarray(n_cov), method="capacitated"), res


def row_source(problem: Problem) -> RowSource:
    """The problem's rows for row generation (:class:`coverage.solvers.rowgen.RowSource`)."""
    c = problem.config
    return RowSource(problem.demand_lat, problem.demand_lon, problem.site_lat,
                     problem.site_lon, problem.model, float(c.budget_ms), c.percentile,
                     problem.rows, problem.engine if problem.routed else None)


def capacitated_sites_lazy(problem: Problem, capacity: Any,
                           lazy_options: dict[str, Any] | None = None,
                           ) -> tuple[SiteCount, Any]:
    """:func:`capacitated_sites` by row and cut generation, without the reach matrix
    (:func:`coverage.solvers.capacitated_rowgen.capacitated_lazy`).

    Raises
    ------
    NoFeasiblePlanError
        The capacity cuts exclude every plan: no plan carries the load.
    """
    from ..solvers.capacitated_rowgen import capacitated_lazy

    c = problem.config
    source = row_source(problem)
    t = time.perf_counter()
    n_cov = source.count()
    count_s = time.perf_counter() - t
    if not (n_cov > 0).any():  # nothing to plan: the caller reports it
        empty = CoverResult(np.zeros(0, dtype=np.int64), 0.0, 0.0, "optimal", 0.0, count_s,
                            {})
        return SiteCount(cover=empty, n_covering=n_cov, method="lazy (capacitated)",
                         lazy=LazyCoverResult(cover=empty, n_covering=n_cov,
                                              count_s=count_s)), None
    # the plan's own solve repairs its last plan for as long as that takes (a plan always
    # carries the load); the sweep's short solves pass final_repair_s=None (bounded)
    options = {"final_repair_s": math.inf, **(lazy_options or {})}
    res, info = capacitated_lazy(source, capacity.load_rps, capacity.cap_rps,
                                 problem.requirement(n_cov), n_cov, failures=int(c.failures),
                                 domains=capacity.domains, cost=problem.cost,
                                 required=problem.required, time_limit_s=c.time_limit_s,
                                 count_s=count_s, scenario_limit=int(c.scenario_limit),
                                 **options)
    if res.status == "infeasible":
        raise capacity_infeasible(problem, res, capacity.domains,
                                  load_unit(capacity.describe))
    cover = CoverResult(res.sites, res.objective, res.lower_bound, plan_status(res), res.gap,
                        res.runtime_s, {"capacity_rounds": len(res.rounds)})
    lazy = LazyCoverResult(cover=cover, n_covering=n_cov, rounds=info.rounds,
                           rows_fetched=info.rows_fetched, pairs_fetched=info.pairs_fetched,
                           count_s=count_s)
    return SiteCount(cover=cover, n_covering=n_cov, method="lazy (capacitated)",
                     lazy=lazy), res


#: Columns of ``rollout.csv``, in order (``population_nk_safe`` only with ``k >= 2``).
ROLLOUT_COLUMNS = ("step", "site_id", "population_covered", "population_n1_safe", "bound",
                   "bound_method", "required", "population_nk_safe")

#: Demand rows per radius query when the chosen sites' reach is built without the reach
#: matrix (row generation).
ROLLOUT_CHUNK_ROWS = 200_000

#: Time for the rollout's exact per-step optima together, s (at most the run's
#: ``time_limit_s``); the steps left keep the greedy bound.
ROLLOUT_EXACT_TIME_S = 10.0
#: The same from :data:`LAZY_MIN_ROWS` demand rows on (a national plan's minute budget).
ROLLOUT_NATIONAL_EXACT_TIME_S = 2.0


def chosen_reach(problem: Problem, chosen: npt.ArrayLike,
                 source: RowSource | None = None) -> Any:
    """Boolean ``(n_demand, n_sites)`` pattern of the pairs within budget of the chosen
    sites only (the other columns empty), by radius queries of ``ROLLOUT_CHUNK_ROWS`` rows
    (:meth:`coverage.solvers.rowgen.RowSource.rows`; ``source``: the problem's
    :func:`row_source`, when the caller has it): the reach of a plan made by row
    generation, which has no reach matrix."""
    source = source or row_source(problem)
    chosen = np.asarray(chosen, dtype=np.int64)
    n = len(problem.demand)
    blocks = [source.rows(np.arange(lo, min(lo + ROLLOUT_CHUNK_ROWS, n)), sites=chosen)
              for lo in range(0, n, ROLLOUT_CHUNK_ROWS)]
    if not blocks:
        return sp.csr_array((0, len(problem.sites)), dtype=bool)
    return sp.csr_array(sp.vstack(blocks, format="csr"))


def bounded_chosen_reach(problem: Problem, chosen: npt.ArrayLike,
                         source: RowSource | None = None) -> tuple[Any, int]:
    """:func:`chosen_reach` and its estimated pairs, or ``(None, pairs)`` when they are
    above half of ``max_memory_gb`` (at :data:`BYTES_PER_PAIR`): what a plan made by row
    generation builds once for its rollout order and its figures by failure domain."""
    source = source or row_source(problem)
    chosen = np.asarray(chosen, dtype=np.int64)
    est = int(source.count(sites=chosen).sum())
    if est > problem.config.max_memory_gb / 2 * 2**30 / BYTES_PER_PAIR:
        return None, est
    return chosen_reach(problem, chosen, source), est


def _chosen_columns(full: sp.csr_array, chosen: npt.NDArray[np.int64]) -> sp.csr_array:
    """``full[:, chosen]`` of a pattern whose entries all lie in the ``chosen`` columns, as
    the int8 pattern :func:`coverage.solvers.rollout.rollout_order` takes without a copy:
    the column indices renumbered in place of a column selection (which copied a 10M-row
    pattern twice over)."""
    pos = np.full(full.shape[1], -1, dtype=full.indices.dtype)
    pos[chosen] = np.arange(len(chosen), dtype=pos.dtype)
    cols = pos[full.indices]
    if (cols < 0).any():  # not the chosen sites' pattern: the general selection
        return sp.csr_array(full[:, chosen])
    out = sp.csr_array((np.ones(len(cols), dtype=np.int8), cols, full.indptr),
                       shape=(full.shape[0], len(chosen)))
    out.sort_indices()  # chosen need not be sorted
    return out


def _steps_to(curve: npt.NDArray[np.float64], shares: tuple[float, ...] = (0.5, 0.9, 1.0),
              ) -> dict[str, int | None]:
    """First step (1-based) at which ``curve`` reaches each share of its final value."""
    out: dict[str, int | None] = {}
    final = float(curve[-1]) if len(curve) else 0.0
    for q in shares:
        key = f"{round(q * 100)}pct"
        if final <= 0:
            out[key] = None
            continue
        hit = np.flatnonzero(curve >= q * final * (1 - 1e-12))
        out[key] = int(hit[0]) + 1
    return out


def rollout_stage(problem: Problem, chosen: npt.ArrayLike, n_covering: npt.ArrayLike,
                  reach: ReachMatrix | None = None,
                  chosen_once: tuple[Any, int] | None = None,
                  ) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    """The order in which to open the chosen sites (``rollout.csv``) and its summary.

    :func:`coverage.solvers.rollout.rollout_order` on the chosen sites: each step opens the
    site adding the most population within budget, ties to the most population made safe
    against ``max(k, 1)`` failures, then the candidate order; the required sites first.
    Without the reach matrix (row generation) the reach of the chosen sites alone is built
    by radius queries (:func:`chosen_reach`), unless its estimated size is above half of
    ``max_memory_gb``: then no table, and the summary says why. The exact per-step optima
    share :data:`ROLLOUT_EXACT_TIME_S` (at most ``time_limit_s``).

    Parameters
    ----------
    problem : Problem
        The problem solved.
    chosen : array_like of int
        The chosen candidates (positions).
    n_covering : array_like of int
        Candidates within budget of every demand point (``|N_i|``, over every candidate).
    reach : ReachMatrix, optional
        The reach matrix (full strategy).
    chosen_once : tuple, optional
        Without ``reach``: :func:`bounded_chosen_reach` of ``chosen`` when the caller has
        it (else it is built here).

    Returns
    -------
    (pandas.DataFrame or None, dict)
        ``rollout.csv`` (:data:`ROLLOUT_COLUMNS`: ``step, site_id, population_covered,
        population_n1_safe, bound, bound_method, required``, and ``population_nk_safe``
        with ``k >= 2``), or ``None``; and ``summary.json["rollout"]``.
    """
    c = problem.config
    k = int(c.failures)
    level = max(k, 1)
    chosen = np.asarray(chosen, dtype=np.int64)
    n_cov = np.asarray(n_covering, dtype=np.int64)
    info: dict[str, Any] = {
        "pool": "chosen sites",
        "order": ("greedy: most population newly within budget, ties to the most "
                  f"population newly N-{level} safe, then candidate order; required sites "
                  "first"),
        "safe_definition": ("population_n1_safe (population_nk_safe): at least 2 (k + 1) "
                            "opened sites within budget, as population_safe_by_failures; "
                            f"the order's tie-break counts min({level} + 1, |N_i|) opened "
                            "sites, |N_i| = candidates within budget (max_cover's "
                            f"failures={level} definition)"),
        "bound": ("upper bound on the population any that many chosen sites could cover "
                  "(the required ones among them): exact MCLP optimum where cheap, else the "
                  "greedy's data-dependent bound"),
    }
    if not len(chosen):
        info.update(steps=0, absent="no site chosen")
        return None, info
    if reach is not None:
        a = sp.csr_array(reach.boolean()[:, chosen])  # the chosen columns only
        info["reach"] = "reach matrix"
    else:
        pattern, est = chosen_once or bounded_chosen_reach(problem, chosen)
        if pattern is None:
            logger.warning("rollout order skipped: the reach of the %d chosen sites has %s "
                           "pairs, above half of --max-memory-gb %g", len(chosen),
                           f"{est:,}", c.max_memory_gb)
            info.update(steps=0, absent=(
                f"row generation: the reach of the chosen sites ({est:,} pairs) is above half "
                f"of max_memory_gb {c.max_memory_gb:g}"))
            return None, info
        a = _chosen_columns(pattern, chosen)
        info["reach"] = ("radius query of the chosen sites (row generation: no reach "
                         "matrix)")
    pop = problem.population
    # columns of ``a`` are the chosen sites; |N_i| counts every candidate
    exact_s = min(ROLLOUT_EXACT_TIME_S if len(problem.demand) < LAZY_MIN_ROWS
                  else ROLLOUT_NATIONAL_EXACT_TIME_S, float(c.time_limit_s))
    res = rollout_order(a, pop, failures=level, required=problem.required[chosen],
                        n_covering=n_cov, total_time_limit_s=exact_s)
    frame = res.to_frame(problem.sites["site_id"].to_numpy(dtype=object)[chosen])
    # N-j safe strictly (j + 1 opened sites within budget), as population_safe_by_failures:
    # a point with fewer candidates never counts (the order's tie-break counts it once its
    # min(j + 1, |N_i|) sites are open)
    n1 = order_coverage(a, pop, res.order, 2)
    frame.insert(3, "population_n1_safe", n1)
    frame = frame.drop(columns="population_safe")
    if k >= 2:
        frame["population_nk_safe"] = order_coverage(a, pop, res.order, k + 1)
    counts = res.info["steps_by_bound_method"]
    info.update({
        "steps": int(len(frame)),
        "failures": level,
        "required_steps": int(res.n_required),
        "population_covered": float(res.population_covered[-1]),
        "population_n1_safe": float(n1[-1]),
        "steps_to_covered": _steps_to(res.population_covered),
        "steps_to_n1_safe": _steps_to(n1),
        "exact": bool(res.exact),
        "exact_solves": int(res.info["exact_solves"]),
        "exact_time_limit_s": exact_s,
        "bound_methods": {m: counts.get(m, 0) for m in BOUND_METHODS},
        "largest_gap_to_bound": float(np.max(res.bound - res.population_covered)),
        "solve_time_s": float(res.solve_time_s),
    })
    return frame, info
