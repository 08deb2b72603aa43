"""Capacitated N-k site selection by row generation: national inputs without the reach matrix.

:func:`coverage.solvers.capacitated.capacitated_cover` needs every (point, candidate) pair in
budget; at national scale (a million cells, thousands of candidates) they do not fit in
memory. The capacitated problem does not need them all either: coverage binds on few rows,
and a capacity cut only needs the candidates of its demand set. :func:`capacitated_lazy`
joins the row generation of :mod:`coverage.solvers.rowgen` and the cut generation of
:mod:`coverage.solvers.capacitated`. Every round:

1. the MILP (HiGHS via :func:`scipy.optimize.milp`) on the coverage rows held and the
   capacity cuts found so far: a relaxation of the problem, so its bound is valid;
2. **coverage**: the plan's sites within budget of every cell are counted (one radius query
   against the few chosen sites); short cells' rows are fetched, with the cells exactly at
   their requirement (as :func:`coverage.solvers.rowgen.lazy_cover` does);
3. **capacity**: every cell's pattern *restricted to the plan's failure domains* (the open
   sites and, with shared-risk domains, the other candidates of their domains), plus one
   *witness* column for a cell that also has a candidate in budget outside them (such a
   candidate never fails in the plan's scenarios, so the cell is never excused: the witness
   is never open and carries no flow, it only says so). This is exactly what every failure
   scenario of the plan needs (:func:`coverage.solvers.capacitated.check_scenarios`, one
   max-flow per scenario on the cells merged by pattern). A violated scenario's minimum cut
   ``S`` gives the cut ``sum_{s in N(S) \\ F} cap_s y_s >= load(S)``, where ``N(S)``, every
   candidate in budget of a cell of ``S``, comes from the full rows of ``S`` (fetched in
   batches and dropped: only the cut is kept).

A plan that violates neither coverage nor capacity is feasible for every cell and every
scenario, and optimal when its MILP was solved to optimality. Out of rounds or time with a
plan short of either, :func:`capacitated_lazy` repairs it greedily (coverage by
:func:`coverage.solvers.cover.greedy_cover` on the rows held, capacity by opening, for each
violated cut, enough closed candidates of ``N(S)`` to meet it, the most capacity per unit
cost first) until every check passes, and returns it with the best bound (status
``time_limit``). Every repair stops at its deadline (the search's, or the final repair's
window past it); a plan still short then is returned as such (status
``time_limit_short``), never as a feasible one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint

from .capacitated import (
    CapacityResult,
    ScenarioFlow,
    check_scenarios_until,
    merge_identical_rows,
    plan_columns,
    split_cut,
    with_witness,
)
from .capacity_bound import capacity_lower_bound
from .cover import drop_dominated_rows, greedy_cover
from .interrupt import milp
from .matrix_args import required_mask
from .rowgen import RowPool, RowSource

logger = logging.getLogger(__name__)

__all__ = ["LazyCapacityInfo", "PlanCheck", "capacitated_lazy", "check_plan", "region_cuts"]

#: Most short regions turned into cuts per call (each holds a dense row of candidates while
#: its candidates are gathered): the largest shortfalls first.
MAX_CUT_REGIONS = 200


@dataclass(frozen=True)
class PlanCheck:
    """Coverage and capacity of one plan over every cell (:func:`check_plan`).

    Attributes
    ----------
    have : numpy.ndarray
        Open sites within budget of every cell.
    short : numpy.ndarray
        Cells below their requirement.
    reach, load_rps, inverse
        Cells merged by their pattern over the plan's failure domains (plus the witness
        column): the problem every scenario of the plan is checked on, its loads, and each
        cell's merged row.
    scenarios : list of ScenarioFlow
        Normal operation first; stops after ``stop_after`` infeasible ones.
    complete : bool
        Every failure scenario was listed.
    finished : bool
        ``False`` when a deadline stopped the check (see
        :func:`coverage.solvers.capacitated.check_scenarios_until`): the plan is then not
        known to be feasible.
    """

    have: npt.NDArray[np.int64]
    short: npt.NDArray[np.int64]
    reach: sp.csr_array
    load_rps: npt.NDArray[np.float64]
    inverse: npt.NDArray[np.intp]
    scenarios: list[ScenarioFlow]
    complete: bool
    finished: bool = True

    @property
    def bad(self) -> list[ScenarioFlow]:
        """The scenarios short of capacity."""
        return [f for f in self.scenarios if not f.feasible]

    @property
    def feasible(self) -> bool:
        """Coverage met and every scenario carried (the check finished)."""
        return self.finished and not len(self.short) and not self.bad


@dataclass(frozen=True)
class LazyCapacityInfo:
    """What :func:`capacitated_lazy` did (the row-generation side)."""

    n_covering: npt.NDArray[np.int64]
    rounds: list[dict[str, Any]] = field(default_factory=list)
    rows_fetched: int = 0
    pairs_fetched: int = 0
    count_s: float = 0.0
    repaired: bool = False


def check_plan(source: RowSource, load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
               requirement: npt.ArrayLike, n_covering: npt.ArrayLike,
               sites: npt.ArrayLike, failures: int, *,
               domains: npt.ArrayLike | None = None, scenario_limit: int = 20_000,
               stop_after: int | None = None, deadline: float | None = None,
               resume: PlanCheck | None = None) -> PlanCheck:
    """Coverage and capacity of ``sites`` over every cell, without the full reach matrix.

    Parameters
    ----------
    source : coverage.solvers.rowgen.RowSource
        The cells' pairs within budget.
    load_rps, cap_rps : array_like
        Load of every cell and capacity of every candidate, requests/s.
    requirement, n_covering : array_like of int
        Every cell's requirement and its candidates in budget (all candidates).
    sites : array_like of int
        The plan.
    failures : int
        Failure domains lost at once (k).
    domains : array_like, optional
        Failure domain of every candidate (default: each site alone).
    scenario_limit, stop_after : int, optional
        As in :func:`coverage.solvers.capacitated.check_scenarios`.
    deadline : float, optional
        :func:`time.perf_counter` time after which no further failure scenario is solved
        (:func:`coverage.solvers.capacitated.check_scenarios_until`).
    resume : PlanCheck, optional
        An unfinished check of the same plan: its coverage, merged cells and scenarios
        solved are kept, and only the scenarios left are solved.

    Returns
    -------
    PlanCheck
    """
    n, m = source.shape
    sites = np.asarray(sites, dtype=np.int64)
    if resume is not None:
        scenarios, complete, finished = check_scenarios_until(
            resume.reach, resume.load_rps, cap_rps, sites, failures, domains=domains,
            limit=scenario_limit, stop_after=stop_after, deadline=deadline,
            done=resume.scenarios)
        return PlanCheck(resume.have, resume.short, resume.reach, resume.load_rps,
                         resume.inverse, scenarios, complete, finished)
    n_cov = np.asarray(n_covering, dtype=np.int64)
    have = source.count(sites)
    short = np.flatnonzero(have < np.asarray(requirement))
    keep = plan_columns(domains, sites, m)
    cols = np.flatnonzero(keep)
    # candidates in budget outside the plan's domains: counted with the same query as
    # n_covering (a pair exactly at the budget counts the same on both sides)
    outside = np.flatnonzero(n_cov > source.count(cols))
    pattern = with_witness(source.rows(np.arange(n), sites=cols), outside, keep)
    reach, load, inverse = merge_identical_rows(pattern, load_rps)
    scenarios, complete, finished = check_scenarios_until(
        reach, load, cap_rps, sites, failures, domains=domains, limit=scenario_limit,
        stop_after=stop_after, deadline=deadline)
    return PlanCheck(have, short, reach, load, inverse, scenarios, complete, finished)


def _cuts(source: RowSource, check: PlanCheck, cap: npt.NDArray[np.float64],
          sites: npt.NDArray[np.int64], n_cov: npt.NDArray[np.int64],
          fetch_pairs: int, load_rps: npt.ArrayLike,
          lifted: bool) -> tuple[list[npt.NDArray[np.float64]], int]:
    """Capacity cuts of the plan's violated scenarios, as dense coefficient vectors scaled
    to a right-hand side of 1; and the pairs fetched for them.

    For a scenario with failed candidates ``F`` and minimum-cut cells ``S``, split into its
    regions (:func:`coverage.solvers.capacitated.split_cut`), each region short of capacity
    on its own gives a cut: with ``need`` the load of its cells not excused,
    ``sum_s min(cap_s, need) / need y_s >= 1`` over ``s in N(S) \\ F``. With ``lifted``
    (single-site failures, ``k >= 1``) each region also gives the cut of
    :func:`region_cuts` that holds whichever of its sites fails, when it is stronger.
    """
    m = source.shape[1]
    bad = check.bad
    if not bad:
        return [], 0
    members: list[npt.NDArray[np.int64]] = []
    shortfalls: list[float] = []
    needs: list[float] = []
    downs: list[npt.NDArray[np.bool_]] = []
    cell_merged = check.inverse
    for f in bad:
        down = np.zeros(m, dtype=bool)
        down[list(f.failed)] = True
        alive = np.asarray(check.reach @ (~down).astype(np.int64)).ravel() > 0
        s_m = np.asarray(f.cut_rows, dtype=np.int64)
        # each region of the cut short of capacity on its own is a cut of its own
        for part in split_cut(check.reach, sites, f.failed, s_m[alive[s_m]]):
            need = float(check.load_rps[part].sum())
            # what the open sites alive can take from the region: min(cap, load in reach)
            within = np.asarray(check.load_rps[part] @ check.reach[part]).ravel()
            near = np.flatnonzero(within > 0)
            near = near[np.isin(near, sites) & ~down[near]]
            avail = float(np.minimum(cap[near], within[near]).sum())
            if need <= 0 or avail >= need * (1 - 1e-9):
                continue  # this region's cut is not violated
            in_s = np.zeros(check.reach.shape[0], dtype=bool)
            in_s[part] = True
            members.append(np.flatnonzero(in_s[cell_merged]))
            logger.debug("cut: scenario %s, %d cells, load %.1f > open capacity %.1f of %d "
                         "sites", f.failed, len(members[-1]), need, avail, len(near))
            needs.append(need)
            downs.append(down)
            shortfalls.append(need - avail)
    if not members:
        return [], 0
    if len(members) > MAX_CUT_REGIONS:  # bounded memory: the largest shortfalls first
        keep = np.argsort([-x for x in shortfalls], kind="stable")[:MAX_CUT_REGIONS]
        members = [members[j] for j in keep]
        needs = [needs[j] for j in keep]
        downs = [downs[j] for j in keep]
    cells = np.unique(np.concatenate(members))
    load = np.asarray(load_rps, dtype=np.float64)
    # which region holds each fetched cell, weighted by the cell's load: (region x cell)
    ind_rows = np.concatenate([np.full(len(s), j) for j, s in enumerate(members)])
    ind_cells = np.concatenate(members)
    ind = sp.csc_array((load[ind_cells], (ind_rows, np.searchsorted(cells, ind_cells))),
                       shape=(len(members), len(cells)))
    # reach_load[j, t]: load of region j's cells within budget of candidate t, the most t
    # can take from them (0 outside N(S))
    reach_load = np.zeros((len(members), m))
    pairs = 0
    batch_of = np.cumsum(n_cov[cells]) // max(int(fetch_pairs), 1)
    for b in np.split(np.arange(len(cells)), np.flatnonzero(np.diff(batch_of)) + 1):
        if not len(b):
            continue
        block = source.rows(cells[b]).astype(np.float64)
        pairs += block.nnz
        reach_load += (ind[:, b] @ block).toarray()
    out = []
    for j, (need, down) in enumerate(zip(needs, downs, strict=True)):
        # what t can serve of the region: min(cap_t, its load within budget of t)
        full = np.minimum(cap, reach_load[j])
        coef = np.where(down, 0.0, full)
        if need <= 0 or coef[sites].sum() >= need * (1 - 1e-9):
            continue  # not violated in real numbers (flow rounding): no cut
        out.append(np.minimum(coef, need) / need)
        near = full > 0
        if lifted and near.any():
            # whichever open site of N(S) fails, the cells with two candidates or more
            # keep needing the others (see region_cuts)
            kept = float(load[members[j]][n_cov[members[j]] >= 2].sum())
            least = float(full[near].min())
            rhs = kept + least
            if rhs > max(need, 2.0 * least) * (1 + 1e-9):
                out.append(np.minimum(full, rhs) / rhs)
    return out, pairs


def region_cuts(source: RowSource, load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
                n_covering: npt.ArrayLike, failures: int, *,
                domains: npt.ArrayLike | None = None,
                scales_km: tuple[float, ...] = (),
                fetch_pairs: int = 4_000_000) -> tuple[sp.csr_array, int]:
    """Valid capacity cuts for squares of cells, known before any plan: the load of a region
    must fit the capacity of the candidates within budget of its cells.

    For every square ``S`` of every scale (the near-square grid of
    :func:`coverage.model.aggregate.grid_cells`), with ``N(S)`` the candidates in budget of
    its cells:

    - normal operation: ``sum_{s in N(S)} cap_s y_s >= load(S)``;
    - with ``k >= 1`` failures of single sites (no shared-risk domains): whatever site of
      ``N(S)`` fails, the others carry the load of the cells that keep a candidate, so
      ``sum_{s in N(S)} cap_s y_s >= L' + min_{s in N(S)} cap_s``, where ``L'`` is the load
      of the cells of ``S`` with at least two candidates (a cell with one is excused when it
      fails) and the minimum is the least the failed open site can have taken away (at
      least one site of ``N(S)`` is open whenever ``L' > 0``).

    A candidate can take from a region at most the load of the region's cells within its
    budget, so its coefficient is ``min(cap_s, load(S_s), rhs)`` (``S_s``: the cells of
    ``S`` within budget of ``s``; the ``rhs`` bound holds for binary ``y``), scaled to a
    right-hand side of 1; the minimum above is then over these coefficients. Squares where
    two sites of the least coefficient already meet the cut are dropped (usually implied by
    the coverage requirement; dropping a valid cut is always safe). The cuts cut off nothing
    feasible: they only spare the cut generation the rounds it would take to find them one by
    one.

    Returns
    -------
    scipy.sparse.csr_array
        One row per cut, ``(n_cuts, n_sites)``.
    int
        Pairs fetched.
    """
    n, m = source.shape
    load = np.asarray(load_rps, dtype=np.float64)
    cap = np.asarray(cap_rps, dtype=np.float64)
    n_cov = np.asarray(n_covering, dtype=np.int64)
    cells = np.flatnonzero((n_cov > 0) & (load > 0))
    if not len(cells) or not scales_km:
        return sp.csr_array((0, m)), 0
    from ..model.aggregate import grid_cells

    # every (scale, square) a region id; a cell belongs to one square per scale
    region_of = []
    offset = 0
    for size in scales_km:
        ix, iy = grid_cells(source.demand_lat_deg[cells], source.demand_lon_deg[cells],
                            float(size))
        codes, uniq = pd.factorize(pd.MultiIndex.from_arrays([ix, iy]))
        region_of.append(np.asarray(codes, dtype=np.int64) + offset)
        offset += len(uniq)
    n_reg = offset
    reg = np.stack(region_of, axis=1)  # (cells, scales)
    lifted = failures >= 1 and domains is None
    w_all = load[cells]
    w_kept = np.where(n_cov[cells] >= 2, w_all, 0.0)
    r_load = np.bincount(reg.ravel(), weights=np.repeat(w_all, reg.shape[1]), minlength=n_reg)
    r_kept = np.bincount(reg.ravel(), weights=np.repeat(w_kept, reg.shape[1]),
                         minlength=n_reg)
    # load of each region's cells within budget of each candidate (sparse, summed per batch)
    within = sp.csr_array((n_reg, m), dtype=np.float64)
    pairs = 0
    batch_of = np.cumsum(n_cov[cells]) // max(int(fetch_pairs), 1)
    for b in np.split(np.arange(len(cells)), np.flatnonzero(np.diff(batch_of)) + 1):
        if not len(b):
            continue
        block = source.rows(cells[b]).astype(np.float64)
        pairs += block.nnz
        for j in range(reg.shape[1]):
            ind = sp.csr_array((w_all[b], (reg[b, j], np.arange(len(b)))),
                               shape=(n_reg, len(b)))
            within = sp.csr_array(within + ind @ block)
    within.sort_indices()
    # a candidate takes at most min(cap, the region's load within its budget)
    coef = sp.csr_array((np.minimum(cap[within.indices], within.data), within.indices,
                         within.indptr), shape=within.shape)
    counts = np.diff(coef.indptr)
    has = counts > 0
    least = np.zeros(n_reg)
    least[has] = np.minimum.reduceat(coef.data, coef.indptr[:-1][has])
    rhs = np.maximum(r_load, r_kept + least) if lifted else r_load
    keep = has & (rhs > 2.0 * least * (1 + 1e-9)) & (rhs > 0)
    rows = np.flatnonzero(keep)
    sub = sp.csr_array(coef[rows])
    rr = np.repeat(rhs[rows], np.diff(sub.indptr))
    sub.data = np.minimum(sub.data, rr) / rr
    return sub, pairs


def capacitated_lazy(source: RowSource, load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
                     requirement: npt.ArrayLike, n_covering: npt.ArrayLike, *,
                     failures: int = 1, domains: npt.ArrayLike | None = None,
                     cost: npt.ArrayLike | None = None,
                     required: npt.ArrayLike | None = None,
                     time_limit_s: float = 300.0, max_rounds: int = 200,
                     cuts_per_round: int = 50, scenario_limit: int = 20_000,
                     seed_rows: int = 20_000, max_rows_per_round: int = 50_000,
                     at_risk_rows: int = 10_000, fetch_pairs: int = 4_000_000,
                     spread: bool = True, count_s: float = 0.0,
                     region_scales: tuple[float, ...] | None = None,
                     repair_every: int = 1, final_repair_s: float | None = None,
                     ) -> tuple[CapacityResult, LazyCapacityInfo]:
    """Fewest sites (least cost) meeting coverage and capacity in every failure scenario,
    by row and cut generation (see the module notes).

    Parameters
    ----------
    source : coverage.solvers.rowgen.RowSource
        The cells' pairs within budget.
    load_rps, cap_rps : array_like
        Load of every cell and capacity of every candidate, requests/s.
    requirement, n_covering : array_like of int
        Every cell's requirement (``min(k + 1, |N_i|)``) and candidates in budget.
    failures : int, default 1
        Failure domains lost at once (k).
    domains : array_like, optional
        Failure domain of every candidate (shared-risk groups); default each site alone.
    cost, required : array_like, optional
        Per-candidate cost (minimise the total) and must-open mask.
    time_limit_s : float, default 300
        For the whole search.
    max_rounds, cuts_per_round, scenario_limit : int
        As in :func:`coverage.solvers.capacitated.capacitated_cover`.
    seed_rows, max_rows_per_round, at_risk_rows, fetch_pairs, spread
        As in :func:`coverage.solvers.rowgen.lazy_cover`.
    count_s : float, default 0
        Seconds the caller spent counting ``n_covering`` (reported).
    region_scales : tuple of float, optional
        Square sizes, km, of the a-priori region cuts (:func:`region_cuts`); default half,
        one and two times the largest budget radius; ``()`` for none.
    repair_every : int, default 1
        Repair every this many rounds' plan into a feasible one (an incumbent; the search
        stops as optimal when one meets the bound), adding the cuts the repair meets; 0:
        only when out of rounds or time. A round's repair stops adding sites at the time
        limit (its plan is then no incumbent; the final repair goes on from it); closing
        the sites it added is limited to ``max(5 s, 2 %)`` of the time limit.
    final_repair_s : float, optional
        When the search stops (rounds or time) with no feasible plan: the seconds the final
        repair of the last plan may take, adding and closing sites; default ``max(10 s,
        10 %)`` of the time limit. This is the only time spent past ``time_limit_s``
        (besides the step under way: one MILP, or one check of a plan).

    Returns
    -------
    CapacityResult
        ``reach``, ``load_rps`` and ``inverse`` are those of the final plan's check (cells
        merged by their pattern over its failure domains). ``status`` is ``"optimal"``,
        ``"time_limit"`` (a feasible plan, gap open), ``"infeasible"`` (no plan exists) or
        ``"time_limit_short"``: the final repair ran out of ``final_repair_s`` before any
        plan was shown feasible; ``sites`` is the plan it reached, its ``scenarios`` those
        of its last check (the ones short of capacity: ``feasible`` False, ``shed_rps``;
        ``complete`` False when that check did not solve every scenario), the bound holds
        and the gap is ``nan``.
    LazyCapacityInfo
    """
    t0 = time.perf_counter()
    deadline = t0 + float(time_limit_s)
    n, m = source.shape
    load = np.asarray(load_rps, dtype=np.float64)
    cap = np.asarray(cap_rps, dtype=np.float64)
    req = np.asarray(requirement, dtype=np.int64)
    n_cov = np.asarray(n_covering, dtype=np.int64)
    c = np.ones(m) if cost is None else np.asarray(cost, dtype=np.float64)
    must = required_mask(required, m)
    lb = must.astype(np.float64)
    radius = np.asarray(source.row_latency.radius_km, dtype=np.float64)
    bin_km = max(float(np.max(radius, initial=0.0)) / 16.0, 5.0)
    pool = RowPool(source, req, n_cov, fetch_pairs)
    pool.seed(failures, seed_rows, bin_km, spread)
    lifted = failures >= 1 and domains is None
    if region_scales is None:
        top = float(np.max(radius, initial=0.0))
        region_scales = (0.5 * top, top, 2.0 * top) if top > 0 else ()
    t = time.perf_counter()
    regional, cut_pairs = region_cuts(source, load, cap, n_cov, failures, domains=domains,
                                      scales_km=tuple(region_scales),
                                      fetch_pairs=fetch_pairs)
    logger.info("capacitated row generation: %d region cuts (squares of %s km) in %.1f s",
                regional.shape[0], ", ".join(f"{x:.0f}" for x in region_scales),
                time.perf_counter() - t)
    cut_blocks: list[sp.csr_array] = [regional] if regional.shape[0] else []
    n_region_cuts = int(regional.shape[0])
    rounds: list[dict[str, Any]] = []
    # the fleet's total capacity: a bound the local cuts reach late or never
    bound = capacity_lower_bound(load, cap, n_cov, failures, domains=domains, cost=c) or 0.0
    status = "time_limit"
    sites = np.flatnonzero(must)
    check: PlanCheck | None = None
    incumbent: npt.NDArray[np.int64] | None = None  # best plan known feasible
    inc_check: PlanCheck | None = None
    prune_s = max(5.0, 0.02 * float(time_limit_s))
    integral = bool(np.array_equal(c, np.round(c)))
    if final_repair_s is None:
        final_repair_s = max(10.0, 0.1 * float(time_limit_s))
    # a round's repair stopped by the deadline: its plan and check (the final repair goes on)
    partial: tuple[npt.NDArray[np.int64], PlanCheck] | None = None

    def run_check(plan: npt.NDArray[np.int64], stop: int | None,
                  until: float | None = None, resume: PlanCheck | None = None) -> PlanCheck:
        return check_plan(source, load, cap, req, n_cov, plan, failures, domains=domains,
                          scenario_limit=scenario_limit, stop_after=stop, deadline=until,
                          resume=resume)

    for round_no in range(1, max_rounds + 1):
        t = time.perf_counter()
        # coverage rows implied by another (a subset of its candidates, no smaller
        # requirement) go: exact, and far fewer rows for HiGHS
        keep = drop_dominated_rows(pool.pool, pool.pool_req)
        blocks = [sp.csr_array(pool.pool[keep], dtype=np.float64)]
        lo = [pool.pool_req[keep].astype(np.float64)]
        if cut_blocks:
            blocks.append(sp.vstack(cut_blocks, format="csr"))
            lo.append(np.ones(blocks[-1].shape[0]))
        a = sp.vstack(blocks, format="csr")
        cons = [LinearConstraint(a, np.concatenate(lo), np.inf)] if a.shape[0] else []
        remaining = max(deadline - time.perf_counter(), 1.0)
        res = milp(c, constraints=cons, integrality=np.ones(m), bounds=Bounds(lb, 1.0),
                   options={"time_limit": remaining, "disp": False})
        if res.status == 2:  # the valid cuts and rows held exclude every plan
            if incumbent is not None:
                # a plan passed every check: the cuts are tight to HiGHS's tolerance, not
                # wrong; keep the incumbent and the bound so far
                logger.warning("capacitated row generation: the MILP reports no plan while "
                               "a checked plan exists (numerical tolerance); keeping it")
                break
            status = "infeasible"
            break
        if res.x is None:
            break
        sites = np.flatnonzero(res.x > 0.5)
        # HiGHS's dual bound (its gap tolerance makes the plan's value optimal only to
        # within that gap); integer costs round it up below
        dual = getattr(res, "mip_dual_bound", None)
        round_bound = (float(dual) if dual is not None and np.isfinite(dual)
                       else float(res.fun) if res.status == 0 else 0.0)
        bound = max(bound, round_bound)
        solve_s = time.perf_counter() - t
        t = time.perf_counter()
        check = run_check(sites, cuts_per_round)
        cuts_before = sum(b.shape[0] for b in cut_blocks)
        new_cuts, p = _cuts(source, check, cap, sites, n_cov, fetch_pairs, load, lifted)
        cut_pairs += p
        if new_cuts:
            cut_blocks.append(sp.csr_array(np.vstack(new_cuts)))
        n_cuts = sum(b.shape[0] for b in cut_blocks)
        held_before = int(pool.held.sum())
        if len(check.short):
            pool.fetch(pool.next_rows(check.short, check.have, max_rows=max_rows_per_round,
                                      at_risk_rows=at_risk_rows, bin_km=bin_km,
                                      spread=spread))
        rounds.append({"round": round_no, "rows_held": int(pool.held.sum()),
                       "cuts": n_cuts, "region_cuts": n_region_cuts,
                       "sites": float(c[sites].sum()), "bound": bound,
                       "milp_status": int(res.status), "violated": int(len(check.short)),
                       "short_scenarios": len(check.bad), "solve_s": solve_s,
                       "check_s": time.perf_counter() - t})
        logger.info("capacitated row generation round %d: %g sites (bound %g), %d cells "
                    "short of coverage, %d scenario(s) short of capacity, %d rows, %d cuts",
                    round_no, c[sites].sum(), bound, len(check.short), len(check.bad),
                    int(pool.held.sum()), n_cuts)
        if check.feasible:
            status = "optimal" if res.status == 0 else "time_limit"
            if incumbent is None or c[sites].sum() <= c[incumbent].sum():
                incumbent, inc_check = sites, check
            break
        if repair_every and round_no % repair_every == 0:
            # an incumbent meanwhile: this plan repaired greedily; the short scenarios the
            # repair meets are cuts too (they make the next plans fail less)
            t = time.perf_counter()
            try:
                r_sites, r_check, r_cuts = _repair(
                    source, pool, load, cap, c, must, sites, n_cov, fetch_pairs, run_check,
                    deadline, lifted, prune_s=prune_s, checked=check)
            except NoPlanError:
                status = "infeasible"
                break
            if r_cuts:
                cut_blocks.append(sp.csr_array(np.vstack(r_cuts)))
            partial = None if r_check.feasible else (r_sites, r_check)
            if r_check.feasible and (incumbent is None
                                     or c[r_sites].sum() < c[incumbent].sum()):
                incumbent, inc_check = r_sites, r_check
            best = None if incumbent is None else float(c[incumbent].sum())
            rounds[-1].update({"incumbent": best, "repair_cuts": len(r_cuts),
                               "repair_feasible": bool(r_check.feasible),
                               "repair_s": time.perf_counter() - t})
            logger.info("capacitated row generation round %d: repaired plan %g sites%s "
                        "(incumbent %s), %d repair cuts, %.1f s", round_no,
                        c[r_sites].sum(), "" if r_check.feasible else " (stopped short)",
                        "-" if best is None else f"{best:g}", len(r_cuts),
                        time.perf_counter() - t)
            if best is not None and best <= (np.ceil(bound - 1e-6) if integral
                                             else bound) + 1e-9:
                status = "optimal"
                break
        if (sum(b.shape[0] for b in cut_blocks) == cuts_before
                and int(pool.held.sum()) == held_before):
            # the plan meets every row and cut held to HiGHS's feasibility tolerance, yet
            # the exact check finds it short: the next MILP would return it again
            logger.warning("capacitated row generation: round %d's plan meets its cuts only "
                           "to the MILP's tolerance (a cut tight to 1e-7); stopping the "
                           "rounds with the bound so far", round_no)
            break
        if time.perf_counter() >= deadline:
            break
    else:
        logger.warning("capacitated row generation stopped after %d rounds", max_rounds)
    if incumbent is None and status != "infeasible":
        logger.warning("capacitated row generation: out of rounds or time before a feasible "
                       "plan; repairing the last plan greedily")
        try:
            start, known = (sites, None) if partial is None else partial
            incumbent, inc_check, _ = _repair(source, pool, load, cap, c, must, start, n_cov,
                                              fetch_pairs, run_check,
                                              time.perf_counter() + float(final_repair_s),
                                              checked=known,
                                              prune_s=min(float(final_repair_s),
                                                          max(10.0, 0.1 * float(time_limit_s))))
        except NoPlanError:
            status = "infeasible"
    if status == "infeasible":
        if check is None:
            check = run_check(sites, None)
        return (CapacityResult(sites, float("nan"), float("nan"), "infeasible", float("nan"),
                               rounds, check.scenarios, check.complete,
                               time.perf_counter() - t0, check.reach, check.load_rps,
                               check.inverse),
                _info(n_cov, rounds, pool, cut_pairs, count_s, False))
    assert incumbent is not None and inc_check is not None
    repaired = inc_check is not check
    sites, check = incumbent, inc_check
    short = not check.feasible
    complete = check.complete
    if short:  # its last check, not another: every scenario listed unless it stopped early
        complete = (check.complete and check.finished
                    and len(check.bad) < min(MAX_CUT_REGIONS, cuts_per_round))
    elif repaired and not check.complete:
        check = run_check(sites, None)
        complete = check.complete
    objective = float(c[sites].sum())
    if integral:
        bound = float(np.ceil(bound - 1e-6))
    if short:  # no feasible plan: the bound is no bound of this plan
        status, gap = "time_limit_short", float("nan")
        logger.warning("capacitated row generation: no feasible plan within the time limit "
                       "and the final repair's %.0f s: returning a plan of %g, short of "
                       "capacity in %d of the %d scenario(s) checked%s (%.1f requests/s shed "
                       "at worst), %d cell(s) short of coverage; raise the time limit",
                       final_repair_s, objective, len(check.bad), len(check.scenarios),
                       "" if complete else " (not every scenario)" if check.finished
                       else " (the check ran out of time: not verified)",
                       max((f.shed_rps for f in check.scenarios), default=0.0),
                       len(check.short))
    elif objective < bound - 1e-9:
        # fewer sites than the capacity bound: the plan passed only the scenarios listed
        # and falls short in one that was not checked
        status, gap, complete = "time_limit_short", float("nan"), False
        logger.warning("capacitated row generation: the plan of %g passes the %d scenario(s) "
                       "checked but is below the capacity bound %g: it falls short in a "
                       "scenario not checked (scenario limit %d)", objective,
                       len(check.scenarios), bound, scenario_limit)
    else:
        bound = min(bound, objective)
        if objective <= bound + 1e-9:
            status = "optimal"
        elif status == "optimal":
            status = "time_limit"
        gap = (objective - bound) / objective if objective else 0.0
    return (CapacityResult(sites, objective, bound, status, gap, rounds, check.scenarios,
                           complete, time.perf_counter() - t0, check.reach,
                           check.load_rps, check.inverse),
            _info(n_cov, rounds, pool, cut_pairs, count_s, repaired))


class NoPlanError(RuntimeError):
    """A repair met a short region whose every candidate is open: no plan exists."""


def _info(n_cov: npt.NDArray[np.int64], rounds: list[dict[str, Any]], pool: RowPool,
          cut_pairs: int, count_s: float, repaired: bool) -> LazyCapacityInfo:
    return LazyCapacityInfo(n_cov, rounds, int(pool.held.sum()), int(pool.pairs + cut_pairs),
                            count_s, repaired)


def _open_for_cuts(cuts: list[npt.NDArray[np.float64]], is_open: npt.NDArray[np.bool_],
                   cost: npt.NDArray[np.float64]) -> int:
    """Open, for every cut still violated, enough closed candidates at once to meet it.

    A cut ``coef @ y >= 1`` (:func:`_cuts`, scaled to a right-hand side of 1) holds for every
    feasible plan, so every feasible plan containing the open sites adds at least its
    deficit ``1 - coef @ y`` of coefficient. Its closed candidates are taken in decreasing
    coefficient per unit cost until their coefficients (what the cut counts for them) cover
    the deficit (with unit costs: the fewest candidates that can meet the cut). A cut is a
    necessary condition only, so a later check may find the region still short and open
    more. Cuts are met in turn, each counting the sites opened for the ones before (a region
    short in several scenarios is mostly served once).

    Parameters
    ----------
    cuts : list of numpy.ndarray
        Dense coefficient vectors over every candidate.
    is_open : numpy.ndarray of bool
        The plan; updated in place.
    cost : numpy.ndarray
        Cost of every candidate (> 0).

    Returns
    -------
    int
        Candidates opened.
    """
    before = int(is_open.sum())
    for coef in cuts:
        deficit = 1.0 - float(coef[is_open].sum())
        if deficit <= 1e-9:
            continue
        cand = np.flatnonzero(~is_open & (coef > 0))
        if not len(cand):
            continue  # no closed candidate helps: the caller tells no plan exists
        order = cand[np.argsort(-coef[cand] / cost[cand], kind="stable")]
        upto = int(np.searchsorted(np.cumsum(coef[order]), deficit * (1 + 1e-9))) + 1
        is_open[order[:upto]] = True
    return int(is_open.sum()) - before


def _repair(source: RowSource, pool: RowPool, load: npt.NDArray[np.float64],
            cap: npt.NDArray[np.float64],
            c: npt.NDArray[np.float64], must: npt.NDArray[np.bool_],
            sites: npt.NDArray[np.int64], n_cov: npt.NDArray[np.int64], fetch_pairs: int,
            run_check: Any, deadline: float, lifted: bool = False,
            max_steps: int = 1000, prune_s: float | None = None,
            checked: PlanCheck | None = None,
            ) -> tuple[npt.NDArray[np.int64], PlanCheck, list[npt.NDArray[np.float64]]]:
    """Add sites to ``sites`` until coverage and capacity hold, then close the added sites
    that are not needed while time remains (see the module notes).

    Every step checks the plan (:func:`check_plan`, up to :data:`MAX_CUT_REGIONS` short
    scenarios), fixes coverage greedily on the rows held, and opens for every violated cut of
    the short scenarios enough candidates at once to meet it (:func:`_open_for_cuts`): the
    steps, each one check and one fetch of the cut rows, grow with the rounds of cuts the
    repair meets, not with the sites it adds.

    Parameters
    ----------
    source, pool, load, cap, c, must, sites, n_cov, fetch_pairs, run_check, lifted
        As in :func:`capacitated_lazy` (``must``: required sites; ``run_check(plan,
        stop_after, deadline=None, resume=None)``: the plan's :class:`PlanCheck`, its failure
        scenarios solved until ``deadline``, going on from ``resume``, see
        :func:`check_plan`).
    deadline : float
        :func:`time.perf_counter` time after which no check solves a further scenario and
        no step starts (the overrun is one scenario's max-flow, or one step's coverage fix
        and cut rows). A plan still short then, or not fully checked, is returned as it is:
        its check says so (``check.feasible`` is ``False``).
    max_steps : int, default 1000
        Safety cap of the steps.
    prune_s : float, optional
        Seconds for closing sites, from when closing starts (never past ``deadline``;
        default: until ``deadline``).
    checked : PlanCheck, optional
        A check of ``sites`` (any ``stop_after``), when known: the first step uses it
        instead of checking the plan again, or goes on from it when a deadline stopped it
        (``run_check(plan, stop_after, deadline, resume)``).

    Returns
    -------
    sites : numpy.ndarray
        The plan: feasible when ``check.feasible``.
    check : PlanCheck
        Its check (every scenario when the plan was repaired and pruned; when stopped by
        ``deadline``, the scenarios up to the last short one checked).
    cuts : list of numpy.ndarray
        The cuts of every short scenario met on the way (valid cuts: the caller may add them
        to its model).

    Raises
    ------
    NoPlanError
        A short region whose every candidate is open: no plan exists.
    """
    m = source.shape[1]
    start = np.asarray(sites, dtype=np.int64)
    found: list[npt.NDArray[np.float64]] = []
    t0 = time.perf_counter()
    steps = 0
    for steps in range(1, max_steps + 1):
        if steps == 1 and checked is not None:  # known, or stopped: go on from it
            check = (checked if checked.finished else
                     run_check(sites, MAX_CUT_REGIONS, deadline, checked))
        else:
            check = run_check(sites, MAX_CUT_REGIONS, deadline)
        if check.feasible:
            break
        if not check.finished or time.perf_counter() >= deadline:
            logger.warning("capacitated repair: stopped at its deadline after %d step(s), "
                           "%.1f s, with %d site(s) (%d added): %d cell(s) short of coverage "
                           "and %d scenario(s) short of capacity remain", steps,
                           time.perf_counter() - t0, len(sites), len(sites) - len(start),
                           len(check.short), len(check.bad))
            return sites, check, found
        opened = np.zeros(m, dtype=bool)
        opened[sites] = True
        if len(check.short):  # coverage first: greedy on the rows held, keeping the plan
            # the most constrained short cells first, a bounded batch per step
            short = check.short[np.argsort(n_cov[check.short], kind="stable")]
            pool.fetch(short[:50_000])
            sites = greedy_cover(pool.pool, pool.pool_req, cost=c, required=must | opened)
            opened[sites] = True
        cuts, _ = _cuts(source, check, cap, sites, n_cov, fetch_pairs, load, lifted)
        found.extend(cuts)
        added = _open_for_cuts(cuts, opened, np.maximum(c, 1e-12))
        new = np.flatnonzero(opened)
        logger.debug("capacitated repair step %d: %d short scenario(s), %d cut(s), %d "
                     "site(s) opened", steps, len(check.bad), len(cuts), added)
        if not cuts and not len(check.short):
            raise RuntimeError("capacitated repair: a short scenario gave no cut (flow "
                               "rounding)")
        if len(new) == len(sites) and not len(check.short):
            # a short region with every candidate that could serve it open: the cut holds
            # for every plan and no plan meets it
            raise NoPlanError("capacitated repair: no candidate adds capacity where needed")
        sites = new
    else:
        raise RuntimeError("capacitated repair did not converge")
    logger.info("capacitated repair: a feasible plan of %d site(s) (%d added) in %d step(s), "
                "%.1f s", len(sites), len(sites) - len(start), steps,
                time.perf_counter() - t0)
    # close added sites that are not needed, the least capacity first; a closing that
    # violates a cut met on the way (valid for every plan) is not even checked
    stop_prune = deadline if prune_s is None else min(deadline,
                                                       time.perf_counter() + float(prune_s))
    added = np.setdiff1d(sites, start)
    held = sp.csc_array(np.vstack(found)) if found else sp.csc_array((0, m))
    is_open = np.zeros(m, dtype=bool)
    is_open[sites] = True
    spare = held @ is_open.astype(np.float64) - 1.0  # every cut's slack
    tried = 0
    for j in added[np.argsort(cap[added], kind="stable")]:
        if time.perf_counter() >= stop_prune:
            break
        rows_j = held.indices[held.indptr[j]:held.indptr[j + 1]]
        coef_j = held.data[held.indptr[j]:held.indptr[j + 1]]
        if np.any(coef_j > spare[rows_j] + 1e-9):
            continue  # closing j violates a known cut
        tried += 1
        trial = sites[sites != j]
        t_check = run_check(trial, 1, stop_prune)
        if t_check.feasible:
            sites, check = trial, t_check
            spare[rows_j] -= coef_j
    logger.info("capacitated repair: %d of %d added site(s) closed (%d checked), %.1f s "
                "in all", len(added) - len(np.setdiff1d(sites, start)), len(added), tried,
                time.perf_counter() - t0)
    if len(added) and not check.complete:
        check = run_check(sites, None)
    return sites, check, found
