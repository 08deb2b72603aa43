"""Site count against the latency budget: the curve the report draws.

:func:`budget_sweep` solves only the site-count stage (the minimum ``min(k + 1, |N_i|)``-cover,
no k-median, no N-1 check) at each budget of a list, with a short time limit per solve, and
reports every solve honestly: its status (``optimal``, ``time_limit``, ``heuristic``), its
proven lower bound and gap. Budgets that no access class can meet even at distance zero get
the status ``infeasible_budget``; budgets at which no demand point has a candidate in reach
get ``no_candidate_in_reach``. With ``total_time_s``, the budgets the sweep has not reached when
that time is up get ``not_run`` (no solve, no figures) instead of being solved: on a
continental grid one solve of a wide budget can take far longer than its MILP time limit
(the count and the rows it fetches are not bounded by it).

Each budget first estimates the pairs in reach from a count-only BallTree query on a seeded
sample of demand points (:func:`coverage.model.geo.count_within`). When the estimate is at most
``max_full_pairs`` the reach matrix is built and :func:`coverage.solvers.cover.min_cover` solves it;
above that (wide budgets: nearly every candidate reaches every point) the cover is found by row
generation (:func:`coverage.solvers.rowgen.lazy_cover`) with a small seed, so the sweep never
materialises a nearly dense matrix. Both paths count every point's candidates in budget
exactly, so the population figures are exact.

Service classes: the sweep varies **one uniform budget for every row**; each row keeps its
class's percentile and workload (the per-class budgets themselves are the plan's row,
``source="plan"``). :data:`UNIFORM_NOTE` says so in the report and the table's
``attrs["note"]``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..config import DEFAULT_SCENARIO_LIMIT, PlannerConfig, as_model
from ..errors import (
    PROOF_LOGGER,
    InfeasibleBudgetError,
    InputValidationError,
    NoFeasiblePlanError,
)
from ..model.capacity import failure_domains
from ..model.geo import count_within, unit_tree, unit_xyz
from ..model.latency import PERCENTILES, LatencyModel
from ..model.problem import Problem
from ..model.reach import ReachMatrix
from ..model.service import ServiceRows
from ..resilience.status import coverage_status, gap_mask
from ..solvers.domain_rows import domain_codes, row_domains
from ..wording import counted, reporter
from .stages import (
    STATUS_UNPROVEN,
    bounded_chosen_reach,
    capacitated_component_sites,
    capacitated_sites,
    capacitated_sites_lazy,
    choose_strategy,
    component_sites,
    min_sites,
    reach_matrix,
)

if TYPE_CHECKING:
    from .plan import Plan

logger = logging.getLogger(__name__)

__all__ = ["CAPACITY_NOTE", "DEFAULT_BUDGETS_MS", "SWEEP_COLUMNS", "UNIFORM_NOTE",
           "budget_sweep",
           "quiet_inner_logs"]

DEFAULT_BUDGETS_MS: tuple[float, ...] = (20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0)
"""Budgets of the default sweep, ms (the report marks 30, 50 and 100)."""

SWEEP_COLUMNS = (
    "budget_ms", "failures", "status", "site_count", "lower_bound", "mip_gap", "objective",
    "radius_km", "n_pairs_in_reach", "population_total", "population_covered",
    "population_short", "population_single_coverable", "population_uncoverable",
    "n_demand_uncoverable", "method", "solve_s", "source",
)
"""Columns of the table :func:`budget_sweep` returns (and of ``sweep.csv``)."""

_SWEEP_LAZY = {"seed_rows": 2_000, "max_rows_per_round": 5_000, "at_risk_rows": 1_000}
"""Row-generation sizes of a sweep solve (short time limits: small rounds)."""

_SWEEP_MIN_PIECE_S = 0.1
"""Least time of one piece of a sweep budget counted by components (the pieces share the
budget's limit; the plan's own pieces get at least 1 s)."""

_SWEEP_CAPACITATED = {**_SWEEP_LAZY, "final_repair_s": None}
"""A capacitated sweep solve: the same sizes, and the solver's bounded final repair (a plan
still short then is status ``time_limit_short``)."""

UNIFORM_NOTE = ("with service classes the sweep applies one uniform budget to every demand "
                "row; each row keeps its class's percentile and workload (the plan's own "
                "row, source=plan, has the per-class budgets)")
"""What a sweep of a plan with service classes varies (the report prints it)."""

CAPACITY_NOTE = ("the plan is capacitated, and so is every budget of the sweep (method "
                 "'full (capacitated)' on the reach matrix, 'lazy (capacitated)' by row and "
                 "cut generation, 'components (capacitated)' the same by independent "
                 "pieces)")
STATUS_NO_CAPACITY = "infeasible_capacity"
"""What a sweep of a capacitated plan shows (the report prints it)."""

SWEEP_STRATEGIES = ("auto", "components")
"""What :func:`budget_sweep`'s ``strategy`` takes."""

STATUS_SHORT = "time_limit_short"
"""A capacitated budget whose search and bounded final repair ran out of time before any
plan carried the load in every scenario: no site count, the proven lower bound kept."""

STATUS_INFEASIBLE = "infeasible_budget"
STATUS_NO_REACH = "no_candidate_in_reach"
STATUS_NOT_RUN = "not_run"
"""A budget the sweep did not reach within its ``total_time_s``."""


_INNER_LOGGERS = ("coverage.inputs", "coverage.model", "coverage.solvers")
"""Package loggers whose per-stage INFO lines a sweep keeps out of the log."""


@contextmanager
def quiet_inner_logs(names: tuple[str, ...] = _INNER_LOGGERS) -> Iterator[None]:
    """Keep the per-stage INFO lines of the loggers ``names`` out of the log (the caller logs
    one line per solve instead), and the warning of a plan not proven (its status is in the
    caller's line), unless debug logging is on."""
    if logging.getLogger("coverage").getEffectiveLevel() <= logging.DEBUG:
        yield
        return
    saved = {n: logging.getLogger(n).level for n in (*names, PROOF_LOGGER)}
    try:
        for n in names:
            logging.getLogger(n).setLevel(logging.WARNING)
        logging.getLogger(PROOF_LOGGER).setLevel(logging.ERROR)
        yield
    finally:
        for n, level in saved.items():
            logging.getLogger(n).setLevel(level)


def check_budgets(budgets_ms: Iterable[Any] | float) -> list[float]:
    """The sweep's budgets, ms, sorted and unique (one number is one budget).

    Raises
    ------
    InputValidationError
        Not one or more positive finite numbers.
    """
    from decimal import Decimal

    if isinstance(budgets_ms, int | float | np.number | Decimal | str) and not isinstance(
            budgets_ms, bool):
        budgets_ms = [budgets_ms]
    try:
        if isinstance(budgets_ms, bytes):
            raise TypeError("not numbers")
        items = list(budgets_ms)  # type: ignore[arg-type]  # once: a generator is used up
        if any(isinstance(b, bool | bytes) for b in items):
            raise TypeError("not numbers")
        # numbers as text ("50") and Decimals too, as plan_sites takes its budget
        # (tester 182: with_sweep([Decimal("35"), "50"]) was refused)
        values = [float(b.strip()) if isinstance(b, str) else float(b) for b in items]
    except (TypeError, ValueError):
        raise InputValidationError(
            f"budgets_ms (--sweep-budgets-ms) must be numbers of ms; got {budgets_ms!r}"
        ) from None
    from ..config import MAX_BUDGET_MS

    bad = [b for b in values if not (math.isfinite(b) and 0 < b <= MAX_BUDGET_MS)]
    if bad or not values:
        raise InputValidationError(
            "budgets_ms (--sweep-budgets-ms) must be one or more numbers of ms above 0 and "
            f"at most {MAX_BUDGET_MS:g} (as --budget-ms), e.g. 20,30,50,100; got "
            f"{budgets_ms!r}"
        )
    return sorted(set(values))


def _failures(failures: Iterable[Any] | int) -> list[int]:
    """The failure counts, sorted and unique (one integer is one count, as ``(k,)``)."""
    from ..config import MAX_FAILURES

    if isinstance(failures, int | np.integer) and not isinstance(failures, bool):
        failures = (failures,)
    values: list[Any] = []  # (text, or nothing to iterate: refused below)
    if not isinstance(failures, str | bytes):
        try:
            values = list(failures)  # type: ignore[arg-type]  # once: a generator is used up
        except TypeError:
            pass
    bad = [k for k in values
           if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0
           or k > MAX_FAILURES]
    if bad or not values:
        raise InputValidationError(
            f"failures must be one or more integers from 0 to {MAX_FAILURES}; "
            f"got {failures!r}. Fix: give one count (failures=1) or several "
            "(failures=(0, 1))"
        )
    return sorted({int(k) for k in values})


def check_sweep_options(budgets_ms: Iterable[Any], time_limit_s: Any,
                        total_time_s: Any) -> list[float]:
    """The budgets, sorted and without repeats, once the sweep's options are checked.

    Parameters
    ----------
    budgets_ms : iterable of float
        Latency budgets, ms (``--sweep-budgets-ms``).
    time_limit_s : float
        Time limit of each solve, s (``--sweep-time-limit-s``).
    total_time_s : float or None
        Time for the whole sweep, s (``--sweep-total-s``); ``None``: no limit.

    Returns
    -------
    list of float

    Raises
    ------
    InputValidationError
        A budget that is not a positive number of ms, a time limit or total time that is not
        a positive number of seconds (``total_time_s`` may be ``None``: no limit).
    """
    budgets = check_budgets(budgets_ms)
    if not (isinstance(time_limit_s, int | float) and time_limit_s > 0):
        raise InputValidationError(
            f"time_limit_s (--sweep-time-limit-s) must be a positive number of seconds; "
            f"got {time_limit_s!r}")
    if total_time_s is not None and not (isinstance(total_time_s, int | float)
                                         and total_time_s > 0):
        raise InputValidationError(
            f"total_time_s (--sweep-total-s) must be a positive number of seconds; "
            f"got {total_time_s!r}")
    return budgets


def budget_sweep(
    demand: pd.DataFrame,
    sites: pd.DataFrame,
    budgets_ms: Iterable[float] = DEFAULT_BUDGETS_MS,
    failures: Iterable[int] | int = (1,),
    *,
    percentile: str = "p99",
    access: str = "ftth",
    model: LatencyModel | str | os.PathLike[str] | None = None,
    time_limit_s: float = 2.0,
    max_full_pairs: int = 3_000_000,
    radius_shrink_km: npt.ArrayLike | None = None,
    plan: Plan | None = None,
    progress: Callable[[str], None] | None = None,
    service: ServiceRows | None = None,
    tiers: Any = "builtin",
    routing: Any = None,
    capacity: Any = None,
    total_time_s: float | None = None,
    always_ms: float | None = None,
    own: tuple[float, int] | None = None,
    scenario_limit: int = DEFAULT_SCENARIO_LIMIT,
    domain_radius_km: float | None = None,
    strategy: str = "auto",
    target_cells: int | None = None,
) -> pd.DataFrame:
    """Fewest sites (with bound and status) at each latency budget and failure count.

    Parameters
    ----------
    demand : pandas.DataFrame or geopandas.GeoDataFrame
        Demand points, validated with :func:`~coverage.inputs.tables.as_demand` (optional
        ``access``).
    sites : pandas.DataFrame or geopandas.GeoDataFrame
        Candidate sites, validated with :func:`coverage.inputs.tables.as_sites` (optional
        ``required``
        and ``cost``, honoured as in :func:`coverage.planner.plan.plan_sites`).
    budgets_ms : iterable of float, default 20, 30, ..., 100
        Latency budgets, ms, at ``percentile``.
    failures : iterable of int or int, default (1,)
        Failure counts k to tolerate (one integer: one count); each demand point needs
        ``min(k + 1, |N_i|)`` sites.
    percentile : {"p99", "p50"}, default "p99"
        Percentile the budget is checked at.
    access : str, default "ftth"
        Access technology of demand without an ``access`` column.
    model : LatencyModel, str or path, optional
        Latency model, as :func:`coverage.planner.plan.plan_sites` takes it: the defaults
        of :class:`LatencyModel` when omitted, a profile name (``"on-net"``) or a model
        file (a name raised ``AttributeError``; tester 145).
    time_limit_s : float, default 2
        Time limit of each site-count solve, s. A solve that hits it reports
        ``status="time_limit"`` with its best plan and proven ``lower_bound``.
    max_full_pairs : int, default 3,000,000
        Largest estimated number of (demand, candidate) pairs in reach for which the reach
        matrix is built; wider budgets are solved by row generation.
    radius_shrink_km : array_like, optional
        Per demand point, km taken off its radius (conservative aggregation, as in
        :func:`coverage.model.reach.build_reach`).
    plan : Plan, optional
        A plan of the same inputs: its own budget and failure count are taken from its
        summary (``source="plan"``) instead of being solved again, and added to the sweep
        when they are not among ``budgets_ms`` / ``failures``.
    progress : callable, optional
        Called with a short message per budget.
    service : coverage.model.service.ServiceRows, optional
        Per-row percentile and workload of a plan with service classes (its rows must be
        ``demand``'s): every budget of the sweep applies to all rows alike, each row
        keeping its class's percentile and workload.
    tiers : TierCatalog, path or "builtin", default "builtin"
        The tier catalog (as in :func:`coverage.plan_sites`).
    routing : coverage.model.routing.Routing, optional
        The plan's UPFs and backbone (``Plan.routing``).
    capacity : coverage.model.capacity.CapacitySetup, optional
        The plan's load and capacity (``Plan.capacity``; its candidates must be ``sites``):
        every budget is then capacitated: on the full reach matrix
        (:func:`~coverage.planner.stages.capacitated_sites`, method ``full
        (capacitated)``) or by row and cut generation
        (:func:`~coverage.planner.stages.capacitated_sites_lazy`, method ``lazy
        (capacitated)``); status ``infeasible_capacity`` when no plan carries the load.
    scenario_limit : int, default 20000
        With ``capacity``: the failure scenarios each solve's check lists (the plan's
        ``scenario_limit``); a plan below the capacity bound when the list is cut has status
        ``time_limit_short``.
    total_time_s : float, optional
        Time for the whole sweep, s (the CLI's ``--sweep-total-s``). Budgets are solved in
        increasing order (the first always); once this time has passed, each budget not
        yet started gets the status ``not_run`` (the plan's own rows and ``always_ms`` are
        still reported), and a solve started before it gets at most the time left as its
        limit (at least 0.5 s). Default: no limit.
    always_ms : float, optional
        A budget solved whatever ``total_time_s`` (a ``--max-sites`` plan's own budget,
        where the sweep gives the fewest sites to compare with).
    own : tuple of (float, int), optional
        ``(budget_ms, failures)`` of a plan being solved elsewhere (the sweep in a process of
        its own, :class:`coverage.planner.background.BackgroundSweep`): as with ``plan``,
        that row is not solved; it gets its coverage figures and ``source="plan"``, and its
        solve figures come later from :func:`with_plan_rows`.
    domain_radius_km : float, optional
        Without ``capacity``: sites this close fail together (the plan's
        ``domain_radius_km``; a ``failure_domain`` column of ``sites`` wins). With failure
        domains every budget fails whole domains
        (:func:`coverage.solvers.domain_rows.domain_rows`), as the plan's count does.
    strategy : {"auto", "components"}, default "auto"
        How a budget too wide for the reach matrix (``max_full_pairs``) is solved:
        ``"auto"`` by row generation over the whole demand (method ``lazy``);
        ``"components"`` by row generation per independent component, the pieces one
        after another in this process (:func:`~coverage.planner.stages.component_sites`,
        method ``components``; a plan's sweep when the plan was counted so,
        docs/components.md). With ``plan`` or ``own``, only budgets up to the plan's own
        are split: wider radii merge the components (a 2M-cell world grid: 658 at 30 ms,
        20 at 40 ms with 79 % of the cells in one), so the split (13 s there) would buy
        nothing (``always_ms`` counts as the plan's own). The pieces share the budget's
        ``time_limit_s``, the split included, each with at least 0.1 s. Rows that are
        not great-circle radii (tiers, anchors, a backbone) are counted by ``lazy``. With
        failure domains the size limit of their rows (``max_full_pairs`` entries) holds
        per piece, so a piece can keep its domains where the whole would drop them.
    target_cells : int, optional
        With ``strategy="components"``: cells per piece (default, as the plan's: an
        eighth of the cells, at least 20,000).

    Returns
    -------
    pandas.DataFrame
        One row per (budget, failure count), sorted, with the columns of
        :data:`SWEEP_COLUMNS`: ``status`` (``optimal``, ``time_limit``, ``heuristic``,
        ``infeasible_budget``, ``no_candidate_in_reach``, ``not_run``; capacitated:
        ``infeasible_capacity``, ``time_limit_short``, ``unproven``: optimal for the
        failure scenarios checked, the list cut at ``scenario_limit``), ``site_count``
        (nullable integer, missing when there is no plan), ``lower_bound`` and
        ``objective`` (the objective is the total cost with a ``cost`` column, else the
        site count), ``mip_gap``,
        ``radius_km`` (the largest radius over the access classes present, missing when
        none can meet the budget), ``n_pairs_in_reach``, population figures
        (``population_short``: fewer than
        ``k + 1`` candidates within budget, the gaps of :mod:`coverage.resilience.status`;
        ``population_single_coverable``: status ``single``, one candidate and ``k >= 1``),
        ``method`` (``full``, ``lazy``, ``components`` or ``none``, the plan's own row its
        strategy; `` (capacitated)`` added with ``capacity``; with failure domains
        and no ``capacity``, `` (single sites)`` added where the count failed single
        sites: the domains' rows above ``max_full_pairs`` entries (on the reach matrix,
        those generated for the points short of them), or the plan's own),
        ``solve_s`` and ``source`` (``sweep`` or ``plan``).

    Raises
    ------
    InputValidationError
        Bad demand, sites or options.

    Examples
    --------
    >>> from coverage.inputs.geonames import geonames_demand, geonames_candidates
    >>> df = budget_sweep(geonames_demand("LU"), geonames_candidates("LU", 5_000),
    ...                   budgets_ms=(25, 50))
    >>> df["site_count"].tolist()  # doctest: +SKIP
    [4, 2]
    """
    from ..inputs.tables import as_demand, as_sites, is_validated

    model = as_model(model)  # (a profile name or file too, as plan_sites takes it)
    budgets = check_sweep_options(budgets_ms, time_limit_s, total_time_s)
    ks = _failures(failures)
    if percentile not in PERCENTILES:
        raise InputValidationError(
            f"percentile must be one of {PERCENTILES}; got {percentile!r}")
    model.check_access(access)
    if strategy not in SWEEP_STRATEGIES:
        raise InputValidationError(
            f"sweep strategy must be one of {SWEEP_STRATEGIES}; got {strategy!r}")
    say = reporter(progress, logger)
    known: dict[tuple[float, int], dict[str, Any]] = {}
    if plan is not None:
        key = (float(plan.budget_ms), int(plan.failures_tolerated))
        known[key] = _row_from_plan(plan)
        budgets = sorted(set(budgets) | {key[0]})
        ks = sorted(set(ks) | {key[1]})
    if own is not None:
        key = (float(own[0]), int(own[1]))
        known[key] = {"source": "plan"}  # solve figures: with_plan_rows
        budgets = sorted(set(budgets) | {key[0]})
        ks = sorted(set(ks) | {key[1]})

    if logger.isEnabledFor(logging.DEBUG):  # (a check hashes every row: only when shown)
        logger.debug("budget sweep: %s", "the demand was validated by the planner"
                     if is_validated(demand, "demand", model.access_profiles_ms)
                     else "validating the demand")
    with quiet_inner_logs():
        demand = as_demand(demand, source="<sweep demand>",
                           access_profiles=model.access_profiles_ms)
        sites = as_sites(sites, source="<sweep sites>")
        config = PlannerConfig(budget_ms=float(budgets[0]) if budgets else 30.0,
                               percentile=percentile, failures=0, access=access,
                               time_limit_s=float(time_limit_s),
                               scenario_limit=int(scenario_limit))
        problem0 = Problem.build(demand, sites, config, model,
                                 radius_shrink_km=radius_shrink_km, service=service,
                                 tiers="builtin" if tiers is None else tiers,
                                 routing=routing)
        domains = (failure_domains(sites, domain_radius_km, source="<sweep sites>")
                   if capacity is None else None)
        if domains is not None:
            # a plan without a load fails whole domains (coverage.solvers.domain_rows;
            # the plan's own count does the same)
            problem0 = replace(problem0, count_domains=domain_codes(domains))
        # by components only where the split holds (great-circle rows) and pays
        split = strategy == "components" and not problem0.routed
        split_up_to_ms = max([b for b, _ in known] + ([float(always_ms)] if always_ms
                                                      is not None else []),
                             default=math.inf)
        if strategy == "components" and not split:
            logger.info("budget sweep: rows that are not great-circle radii are not split "
                        "by components; the wide budgets are solved by row generation")
        pop = problem0.population
        pts = unit_xyz(problem0.demand_lat, problem0.demand_lon)
        tree = unit_tree(problem0.site_lat, problem0.site_lon)
        rows: list[dict[str, Any]] = []
        t_all = time.perf_counter()
        skipped: list[float] = []
        started = 0  # the first budget always runs, however little time is given
        for budget in budgets:
            base = {"budget_ms": budget, "population_total": float(pop.sum())}
            left = (math.inf if total_time_s is None
                    else float(total_time_s) - (time.perf_counter() - t_all))
            ks_now = ks
            if left <= 0 and started and budget != always_ms:
                # time is up: only the plan's own rows still come
                ks_now = [k for k in ks if (budget, k) in known]
                if len(ks_now) < len(ks):
                    skipped.append(budget)
                rows.extend({**base, "failures": k, "status": STATUS_NOT_RUN,
                             "method": "none", "solve_s": 0.0, "source": "sweep"}
                            for k in ks if k not in ks_now)
                if not ks_now:
                    continue
            started += 1
            problem = problem0.with_budget(budget)
            if left < float(time_limit_s):  # the sweep's time is nearly up
                problem = replace(problem, config=replace(problem.config,
                                                          time_limit_s=max(left, 0.5)))
            radius = problem.rows.radius_km
            # the largest radius over the access classes present (not the default class)
            try:
                radius_access = problem.largest_radius()[0]
            except InfeasibleBudgetError:
                radius_access = float("nan")
            if not (radius >= 0).any():
                for k in ks_now:
                    rows.append({
                        **base, "failures": k, "status": STATUS_INFEASIBLE,
                        "radius_km": float("nan"),
                        "n_pairs_in_reach": 0, "population_covered": 0.0,
                        "population_short": float(pop.sum()),
                        "population_single_coverable": 0.0,
                        "population_uncoverable": float(pop.sum()),
                        "n_demand_uncoverable": int(len(pop)), "method": "none", "solve_s": 0.0,
                        "source": "sweep"})
                say(f"sweep {budget:g} ms: the budget cannot be met even at distance 0")
                continue
            t = time.perf_counter()
            # full reach matrix or row generation, by the planner's rule (stages)
            full = choose_strategy(problem, "auto", max_full_pairs)[0] == "full"
            reach: ReachMatrix | None = None
            n_cov: npt.NDArray[np.int64] | None = None
            if full:
                reach = reach_matrix(problem)
                n_cov = reach.n_covering()
            elif any((budget, k) in known for k in ks):  # the plan's row needs the figures
                n_cov = (problem.engine.count() if problem.routed
                         else count_within(tree, pts, radius))
            count_s = time.perf_counter() - t
            pieces = split and budget <= split_up_to_ms
            for k in ks_now:
                t = time.perf_counter()
                result: Any = None
                problem_k = replace(problem, config=replace(problem.config, failures=k))
                no_capacity = False
                dropped = None
                n_pieces = 0  # (counted by components: how many pieces)
                if (budget, k) not in known and not full:
                    try:
                        lazy = _lazy_count(problem_k, capacity, max_full_pairs, {
                            "target_cells": target_cells,
                            "min_piece_s": _SWEEP_MIN_PIECE_S} if pieces else None)
                    except NoFeasiblePlanError:
                        no_capacity = True
                        n_cov = (problem.engine.count() if problem.routed
                                 else count_within(tree, pts, radius))
                    else:
                        result, n_cov = lazy.cover, lazy.n_covering
                        dropped = getattr(lazy, "domains_dropped", None)
                        if lazy.components is not None:
                            n_pieces = len(lazy.components.pieces)
                assert n_cov is not None
                n_pairs = int(n_cov.sum())
                status = coverage_status(n_cov, k)
                row = {
                    **base, "failures": k, "radius_km": radius_access,
                    "n_pairs_in_reach": n_pairs,
                    "population_covered": float(pop[n_cov >= 1].sum()),
                    "population_short": float(pop[gap_mask(n_cov, k)].sum()),
                    "population_single_coverable": float(pop[status == "single"].sum()),
                    "population_uncoverable": float(pop[n_cov == 0].sum()),
                    "n_demand_uncoverable": int((n_cov == 0).sum()),
                }
                if (budget, k) in known:
                    rows.append({**row, **known[(budget, k)]})
                    continue
                if n_pairs == 0:
                    rows.append({**row, "status": STATUS_NO_REACH, "method": "none",
                                 "solve_s": count_s, "source": "sweep"})
                    continue
                lazy_name = "components" if pieces else "lazy"
                method = "full" if full else f"{lazy_name} (capacitated)" if capacity \
                    is not None else f"{lazy_name} (single sites)" if dropped else lazy_name
                if no_capacity:
                    rows.append({**row, "status": STATUS_NO_CAPACITY, "method": method,
                                 "solve_s": time.perf_counter() - t, "source": "sweep"})
                    say(f"sweep {budget:g} ms, {counted(k, 'failure')}: no plan carries "
                        "the load")
                    continue
                if result is None and capacity is not None:
                    assert reach is not None
                    try:
                        result = capacitated_sites(problem_k, reach, n_cov, capacity,
                                                   final_repair_s=None)[0].cover
                    except NoFeasiblePlanError:
                        rows.append({**row, "status": STATUS_NO_CAPACITY,
                                     "method": "full (capacitated)",
                                     "solve_s": count_s + time.perf_counter() - t,
                                     "source": "sweep"})
                        say(f"sweep {budget:g} ms, {counted(k, 'failure')}: no plan carries "
                        "the load")
                        continue
                    method = "full (capacitated)"
                if result is None:
                    assert reach is not None
                    counted_k = min_sites(problem_k, reach=reach, n_covering=n_cov,
                                          max_domain_entries=max_full_pairs)
                    if counted_k.domains_dropped is not None:  # (its rows, generated,
                        # above the limit: single sites)
                        problem_k = replace(problem_k, count_domains=None)
                        method = "full (single sites)"
                    result = counted_k.cover
                cover = result
                if (problem_k.count_domains is not None and not dropped
                        and cover.status != STATUS_SHORT):
                    # the count failed whole domains: its statuses count domains (the
                    # plan's own do)
                    by_dom = _short_by_domains(problem_k, reach, cover.sites, pop, k)
                    if by_dom is None:
                        method += " (statuses by single sites)"
                    else:
                        row.update(by_dom)
                if cover.status == STATUS_SHORT:  # no plan carries the load yet: no count
                    rows.append({**row, "status": STATUS_SHORT,
                                 "lower_bound": float(cover.lower_bound), "method": method,
                                 "solve_s": (count_s if full else 0.0) + time.perf_counter() - t,
                                 "source": "sweep"})
                    say(f"sweep {budget:g} ms, {counted(k, 'failure')}: out of time before a "
                        "plan carried the load")
                    continue
                rows.append({
                    **row, "status": cover.status, "site_count": int(len(cover.sites)),
                    "lower_bound": float(cover.lower_bound), "mip_gap": float(cover.mip_gap),
                    "objective": float(cover.objective), "method": method,
                    "solve_s": (count_s if full else 0.0) + time.perf_counter() - t,
                    "source": "sweep",
                })
                say(f"sweep {budget:g} ms, {counted(k, 'failure')}: "
                    f"{counted(len(cover.sites), 'site')} "
                    f"({cover.status}, bound {cover.lower_bound:g}, {method}"
                    + (f" in {counted(n_pieces, 'piece')}" if n_pieces else "")
                    + f", {time.perf_counter() - t:.1f} s)")
            del reach
    out = _table(rows)
    if service is not None:
        logger.info("budget sweep: %s", UNIFORM_NOTE)
    logger.info("budget sweep: %d solves in %.1f s", len(out), time.perf_counter() - t_all)
    out = out.reset_index(drop=True)
    notes = []
    if skipped:
        note = (f"the sweep's time ({total_time_s:g} s, --sweep-total-s) ran out before "
                + ", ".join(f"{b:g}" for b in skipped) + " ms: not run")
        notes.append(note)
        say(f"sweep: {note}")
    if service is not None:
        notes.append(UNIFORM_NOTE)
    if capacity is not None:
        # the meaning of a capacitated status, only for those the table holds (a legend
        # printed for every sweep read as a finding: a tester's find)
        held = set(out["status"].astype(str))
        legend = [f"{STATUS_NO_CAPACITY} at " + _budgets(out, STATUS_NO_CAPACITY)
                  + ": no plan carries the load" if STATUS_NO_CAPACITY in held else "",
                  f"{STATUS_UNPROVEN} at " + _budgets(out, STATUS_UNPROVEN) + ": the fewest "
                  "sites for the failure scenarios checked (cut at scenario_limit), not "
                  "proven in the others" if STATUS_UNPROVEN in held else ""]
        note = CAPACITY_NOTE + "".join(f"; {x}" for x in legend if x)
        notes.append(note)
        logger.info("budget sweep: %s", note)
    if notes:
        out.attrs["note"] = "; ".join(notes)
    return out


def _short_by_domains(problem: Problem, reach: ReachMatrix | None,
                      chosen: npt.ArrayLike, pop: npt.NDArray[np.float64], k: int,
                      ) -> dict[str, float] | None:
    """The sweep's status figures of a budget whose count failed whole failure domains:
    a point is short when its candidates in budget lie in fewer than ``k + 1`` domains
    (on the reach matrix; by row generation, its chosen sites', which the count made
    ``min(k + 1, |D_i|)``, so the status is the same), single with one. ``None`` when the
    chosen sites' pairs are above half of ``max_memory_gb``
    (:func:`coverage.planner.stages.bounded_chosen_reach`)."""
    codes = problem.count_domains
    if reach is not None:
        pattern = reach.boolean()
    else:
        pattern, _ = bounded_chosen_reach(problem, chosen)
        if pattern is None:
            return None
    status = coverage_status(row_domains(pattern, codes), k)
    return {"population_short": float(pop[status != "redundant"].sum()),
            "population_single_coverable": float(pop[status == "single"].sum())}


def _lazy_count(problem: Problem, capacity: Any, max_full_pairs: int,
                split: dict[str, Any] | None) -> Any:
    """The site count of a budget too wide for the reach matrix: by row generation (and
    cut generation with ``capacity``), over the whole demand, or per independent piece
    with ``split`` (the keywords of the count by components)."""
    if capacity is not None:
        return (capacitated_component_sites(problem, capacity, options=_SWEEP_CAPACITATED,
                                            **split)
                if split is not None else
                capacitated_sites_lazy(problem, capacity, _SWEEP_CAPACITATED))[0]
    options = {**_SWEEP_LAZY, "max_domain_entries": float(max_full_pairs)}
    return (component_sites(problem, lazy_options=options, **split) if split is not None
            else min_sites(problem, lazy_options=options))


def _budgets(table: pd.DataFrame, status: str) -> str:
    """The budgets of ``table`` whose rows have ``status``, as text (``"20, 25 ms"``)."""
    b = table.loc[table["status"].astype(str) == status, "budget_ms"].drop_duplicates()
    return ", ".join(f"{float(x):g}" for x in sorted(b)) + " ms"


def with_plan_rows(sweep: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """``sweep`` with the solve figures of the plan's own row taken from ``plan``.

    Parameters
    ----------
    sweep : pandas.DataFrame
        What ``budget_sweep(..., own=(budget, k))`` returned for the inputs of ``plan``.
    plan : Plan
        The finished plan of budget ``budget`` and failure count ``k``.

    Returns
    -------
    pandas.DataFrame
        The table ``budget_sweep(..., plan=plan)`` gives (same rows, columns, types and
        ``attrs``).
    """
    figures = _row_from_plan(plan)
    key = (float(plan.budget_ms), int(plan.failures_tolerated))
    rows = [{**r, **figures} if (r["source"] == "plan"
                                 and (float(r["budget_ms"]), int(r["failures"])) == key) else r
            for r in sweep.to_dict("records")]
    out = _table(rows).reset_index(drop=True)
    out.attrs = dict(sweep.attrs)
    return out


def _table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The sweep's rows as its table: the columns of :data:`SWEEP_COLUMNS`, sorted, typed."""
    out = pd.DataFrame(rows)
    for c in SWEEP_COLUMNS:
        if c not in out.columns:
            out[c] = np.nan
    out = out[list(SWEEP_COLUMNS)].sort_values(["failures", "budget_ms"], kind="stable")
    out["site_count"] = out["site_count"].astype("Int64")
    out["failures"] = out["failures"].astype(np.int64)
    # missing only on rows that were not run (status not_run)
    for c in ("n_pairs_in_reach", "n_demand_uncoverable"):
        out[c] = (out[c].astype(np.int64) if out[c].notna().all()
                  else out[c].astype("Int64"))
    return out


def _row_from_plan(plan: Plan) -> dict[str, Any]:
    """The sweep figures of a finished plan (its own, longer, site-count solve)."""
    s = plan.summary()
    timings = s.get("timings_s", {})
    coverage: dict[str, Any] = {}
    if s.get("by_service_class"):
        # per-row budgets: the plan's own coverage, not that of the sweep's one budget for
        # every row (tester 119: 392,964 people uncoverable in the row, 94,100 in the plan)
        coverage = {
            "radius_km": float(s["max_radius_km"]),
            "n_pairs_in_reach": int(s["n_pairs_in_reach"]),
            "population_covered": float(s["population_covered"]),
            "population_short": float(s["population_gap"]),
            "population_single_coverable": float(s["population_single_coverable"]),
            "population_uncoverable": float(s["population_uncoverable"]),
            "n_demand_uncoverable": int(s["n_demand_uncoverable"]),
        }
    return {
        **coverage,
        "status": s["status"],
        "site_count": int(s["site_count"]),
        "lower_bound": float(s["lower_bound"]),
        "mip_gap": float(s["mip_gap"]),
        "objective": float(plan.candidates.loc[plan.candidates["chosen"], "cost"].sum())
        if "cost" in plan.candidates.columns else float(s["site_count"]),
        "method": (str(s.get("solver", {}).get("strategy", "full"))
                   + (" (capacitated)" if s.get("capacity") else "")
                   # a plan with failure domains whose count failed single sites (review
                   # 147: unlabelled beside the sweep's budgets that fail whole domains)
                   + (" (single sites)" if str((s.get("domain_failures") or {}).get(
                       "count_fails", "")).startswith("single sites") else
                      # its statuses count sites though it has domains (their figures
                      # skipped), beside budgets that count domains (review 154)
                      " (statuses by single sites)" if str(s.get("statuses_by", ""))
                      .startswith("single sites") else "")),
        "solve_s": float(timings.get("reach_s", 0.0) + timings.get("solve_s", 0.0)),
        "source": "plan",
    }
