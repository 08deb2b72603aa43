"""The planner: reach matrix -> minimum N-k-safe sites -> k-median -> N-1 check -> Plan."""

from __future__ import annotations

import copy
import logging
import math
import re
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..config import DEFAULT_SCENARIO_LIMIT, PlannerConfig, as_model
from ..errors import (
    PROOF_LOGGER,
    SKIPPED_LOGGER,
    InfeasibleBudgetError,
    InputValidationError,
)
from ..inputs.limits import DEFAULT_COLOCATED_M
from ..inputs.validation import plain_values, typed_value
from ..model.aggregate import Aggregation, aggregate_grid, suggested_bin_km
from ..model.aggregate import aggregate_h3 as aggregate_h3_bins
from ..model.capacity import (
    DEFAULT_PEAK_TO_MEAN,
    DEFAULT_TARGET_UTILISATION,
    CapacitySetup,
    build_capacity,
    capacity_column_problems,
    failure_domains,
    fit_sites,
)
from ..model.latency import LatencyModel
from ..model.problem import Problem, largest_radius, tiers_change_latency
from ..model.reach import ReachMatrix, cluster_partitions
from ..model.routing import MOBILE_ACCESS, Routing
from ..model.service import (
    DEFAULT_CLASS,
    ServiceRows,
    preset_budget,
    read_service_classes,
    resolve_service,
)
from ..model.workloads import WorkloadCatalog, inference_table
from ..resilience.domain_nk import domain_nk_figures
from ..resilience.domain_reroute import DOMAIN_REROUTE_COLUMNS, domain_reroute
from ..resilience.status import (
    COVERAGE_STATUSES,
    coverage_by_k,
    coverage_status_categorical,
    is_gap,
)
from ..solvers.domain_rows import domain_codes, row_domains
from ..solvers.kmedian import MAX_PAIRS_EXACT
from ..wording import counted, reporter
from .stages import (
    BYTES_PER_PAIR,
    LATENCY_COMPONENT_COLUMNS,
    Placement,
    assign_and_fail,
    best_sites,
    best_summary,
    bounded_chosen_reach,
    by_service_class,
    capacitated_component_sites,
    capacitated_sites,
    capacitated_sites_lazy,
    check_aggregation,
    check_any_coverable,
    choose_strategy,
    chosen_pairs,
    component_sites,
    domain_entry_limit,
    fit_domains,
    min_sites,
    n_minus_1,
    place_capacitated,
    place_capacitated_national,
    place_sites,
    plan_status,
    plan_summary,
    propose_gaps,
    reach_matrix,
    refuse_routed_components,
    rollout_stage,
    site_table,
    status_figures,
)

logger = logging.getLogger(__name__)

__all__ = ["Plan", "plan_sites", "n_minus_1", "check_plan_options", "check_service",
           "resolve_plan_service", "COVERAGE_STATUSES"]


#: ``assignment.csv``'s columns, in order (DESIGN section 4 first), when the plan has them;
#: the demand input's own other columns follow (:attr:`Plan.user_columns`).
ASSIGNMENT_COLUMNS = (
    "demand_id", "population", "primary_site_id", "primary_latency_ms",
    "backup_site_id", "backup_latency_ms", "n_covering_sites", "coverage_status",
    "primary_p50_ms", "n1_latency_ms", "n1_within_budget", "access", "service_class",
    "budget_ms", "name", "lat", "lon",
    "n1_site_id", "nk_latency_ms", "nk_within_budget", "nk_site_id", "outside_latency_ms",
    "n_domains_in_budget", "domain_nk_latency_ms", "domain_nk_within_budget",
    "domain_nk_site_id",
    *LATENCY_COMPONENT_COLUMNS,
)
#: The demand input's columns among them (the reader's contract).
DEMAND_INPUT_COLUMNS = ("demand_id", "population", "access", "service_class", "budget_ms",
                        "name", "lat", "lon")

#: The :class:`Plan` attributes that are tables, each read as a copy of the plan's.
PLAN_TABLES = frozenset({"sites", "demand", "failures", "candidates", "proposed", "sweep",
                         "flows", "capacity_scenarios", "excluded", "scenario_loads",
                         "rollout", "domain_failures"})

#: The options :meth:`Plan.explore` passes on to :func:`coverage.outputs.maps.plan_map`.
_EXPLORE_OPTIONS = ("tiles", "aggregate", "max_points", "h3_resolution")


@dataclass(frozen=True)
class Plan:
    """A site plan and everything needed to explain it.

    Attributes
    ----------
    sites : pandas.DataFrame
        Chosen sites: ``site_id, lat, lon, tier, population_primary, name, required,
        n_demand_primary, population_backup, ...`` (what happens if each fails, radius;
        a capacitated plan's capacity columns and ``population_served``, the people it
        serves in :attr:`flows`).
    demand : pandas.DataFrame
        One row per demand point: coordinates, population, the assignment columns of
        ``assignment.csv`` and the N-1 columns ``n1_latency_ms``, ``n1_within_budget``.
        The site-id columns are categoricals of the chosen sites' ids (missing: no such
        site) and ``coverage_status`` one of its four statuses.
    failures : pandas.DataFrame
        One row per chosen site (the N-1 scenarios), see :func:`n_minus_1`; a
        capacitated plan's adds ``population_served`` and ``load_rerouted_rps`` (what the
        site carries in :attr:`flows`) and ``capacity_worst_utilisation`` and
        ``capacity_shed_rps`` (its failure alone's row of :attr:`capacity_scenarios`), see
        :func:`flow_failure_columns`.
    candidates : pandas.DataFrame
        All candidate sites, with a boolean ``chosen`` column.
    reach : ReachMatrix
        The (demand, candidate) pairs within budget (the plan's own arrays, not a copy:
        read them, do not change them).
    model : LatencyModel
        Latency model used.
    budget_ms, percentile, failures_tolerated, radius_km
        Run settings; ``radius_km`` is the largest budget radius over the access classes
        present in the demand.
    info : dict
        The content of ``summary.json`` (a copy: changing it changes nothing of the plan).
    proposed : pandas.DataFrame
        New sites (not among the candidates) that would close the coverage gaps, see
        :func:`~coverage.resilience.gaps.propose_sites`; empty when every point has ``k + 1``
        candidates.
    sweep : pandas.DataFrame or None
        Site count against the latency budget (:func:`coverage.planner.sweep.budget_sweep`), drawn
        by the report; ``None`` until :meth:`with_sweep` computes it.
    pending_sweep : object, optional
        A budget sweep still running in its own process (``plan_sites(..., sweep={"wait":
        False})``): :meth:`finish_sweep` waits for it and sets ``sweep``; ``None`` otherwise.
    service : coverage.model.service.ServiceRows or None
        Per-row budget, percentile and workload of a plan with service classes or a
        ``budget_ms`` column (``None``: every row has the run's).
    flows, capacity_scenarios : pandas.DataFrame or None
        A capacitated plan's ``flows.csv`` and ``capacity_scenarios.csv`` (``None`` for an
        uncapacitated plan).
    excluded : pandas.DataFrame or None
        ``candidates_excluded.csv``: the candidates that cannot host the workload (may be
        empty).
    scenario_loads : pandas.DataFrame or None
        A capacitated plan's load of every chosen site in every scenario
        (:func:`scenario_load_table`): ``scenario`` (row of :attr:`capacity_scenarios`),
        ``site_id``, ``failed``, ``load_rps``, ``utilisation``; ``None`` for an
        uncapacitated plan, or when it would exceed :data:`MAX_SCENARIO_LOADS` entries.
        Not written to the plan directory (the map's failure explorer uses it).
    rollout : pandas.DataFrame or None
        ``rollout.csv``: the order in which to open the chosen sites, one row per step
        (``step, site_id, population_covered, population_n1_safe, bound, bound_method,
        required``, and ``population_nk_safe`` with ``k >= 2``), see
        :func:`coverage.planner.stages.rollout_stage`; ``None`` when it was not built
        (``summary.json["rollout"]["absent"]`` says why).
    domain_failures : pandas.DataFrame or None
        ``domain_failures.csv``, with failure domains (shared-risk groups): one row per
        domain holding a chosen site, worst first: ``failure_domain, n_chosen_sites,
        chosen_site_ids`` (``;``-separated), ``population_primary`` (people whose primary
        site is in it), ``population_outside_budget`` (people its failure alone leaves
        with no chosen site within budget), and its users rerouted to the nearest chosen
        site outside it (:func:`coverage.resilience.domain_reroute.domain_reroute`:
        ``n_demand_rerouted, population_rerouted, worst_latency_ms,
        mean_rerouted_latency_ms, n_demand_outside_budget, meets_budget``). :attr:`demand`
        then has
        ``n_domains_in_budget``: the domains of the chosen sites within budget of each
        point (N-1 safe by domains at 2 or more), and ``domain_nk_latency_ms,
        domain_nk_within_budget, domain_nk_site_id``: its worst latency under any ``k``
        failures of whole domains and the site then serving it (the nearest chosen site of
        its ``(k + 1)``-th nearest domain; :mod:`coverage.resilience.domain_nk`). ``None``
        without domains.
    user_columns : tuple of str
        The demand input's columns: those that are not the planner's (``state``, a region
        code, a ``load_rps`` column) are carried to :attr:`assignment` (``assignment.csv``
        and the GIS demand layers) after the planner's columns, as the reader announces.
    """

    sites: pd.DataFrame
    demand: pd.DataFrame
    failures: pd.DataFrame
    candidates: pd.DataFrame
    reach: ReachMatrix | None = field(repr=False)
    model: LatencyModel = field(repr=False)
    budget_ms: float = 30.0
    percentile: str = "p99"
    failures_tolerated: int = 1
    radius_km: float = 0.0
    info: dict[str, Any] = field(default_factory=dict, repr=False)
    proposed: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    sweep: pd.DataFrame | None = field(default=None, repr=False)
    service: ServiceRows | None = field(default=None, repr=False)
    tier_catalog: Any = field(default=None, repr=False)
    routing: Routing | None = field(default=None, repr=False)
    flows: pd.DataFrame | None = field(default=None, repr=False)
    capacity_scenarios: pd.DataFrame | None = field(default=None, repr=False)
    capacity: CapacitySetup | None = field(default=None, repr=False)
    excluded: pd.DataFrame | None = field(default=None, repr=False)
    scenario_loads: pd.DataFrame | None = field(default=None, repr=False)
    rollout: pd.DataFrame | None = field(default=None, repr=False)
    domain_failures: pd.DataFrame | None = field(default=None, repr=False)
    pending_sweep: Any = field(default=None, repr=False, compare=False)
    user_columns: tuple[str, ...] = field(default=(), repr=False)

    def __getattribute__(self, name: str) -> Any:
        """A table attribute (:data:`PLAN_TABLES`) as a copy of the plan's: changing it
        (``plan.failures["x"] /= 1e6``, a dropped row) changes nothing of the plan, so
        :meth:`to_dir` still writes tables that agree with ``summary.json`` (a tester's
        find: they were the plan's own). A shallow copy: pandas' copy-on-write copies the
        data only when it is changed. :attr:`info` likewise, as a deep copy."""
        value = object.__getattribute__(self, name)
        if name in PLAN_TABLES and isinstance(value, pd.DataFrame):
            return value.copy(deep=False)
        if name == "info":  # (tester 192: an edit of it went into summary.json)
            return copy.deepcopy(value)
        return value

    def summary(self) -> dict[str, Any]:
        """The headline figures (the content of ``summary.json``), as a new dict (a deep
        copy: changing it changes nothing of the plan), with Python numbers where an
        option was given as a NumPy scalar (tester 182: ``json.dumps`` refused
        ``max_sites=np.int64(3)``), and ISO 8601 text for a date or time (a
        ``pandas.Timestamp`` in ``inputs=``: tester 192). A figure that is not defined is
        ``NaN`` here and ``null`` in ``summary.json``."""
        return plain_values(self.info)  # (``info`` is a deep copy already)

    @property
    def assignment(self) -> pd.DataFrame:
        """``assignment.csv``: one row per demand point (DESIGN section 4 columns first)."""
        cols = [*ASSIGNMENT_COLUMNS,
                *(c for c in self.user_columns if c not in ASSIGNMENT_COLUMNS)]
        demand = self.demand  # once: each read is a copy (8,000 columns took minutes)
        have = set(demand.columns)
        return demand[[c for c in cols if c in have]]

    @property
    def gaps(self) -> pd.DataFrame:
        """Demand points short of ``k + 1`` sites within budget (not N-k safe).

        Status ``single``, ``partial`` or ``uncoverable``: see :mod:`coverage.resilience.status`
        (:func:`coverage.resilience.status.is_gap`).
        """
        return self.demand[is_gap(self.demand)]

    def explore(self, m: Any = None, **kwargs: Any) -> Any:
        """Interactive Folium map of the plan (see :func:`coverage.outputs.maps.plan_map`).

        Parameters
        ----------
        m : folium.Map, optional
            Existing map to draw on; by default a new map.
        **kwargs
            ``tiles``, ``aggregate``, ``max_points`` and ``h3_resolution`` of
            :func:`~coverage.outputs.maps.plan_map`.

        Returns
        -------
        folium.Map

        Raises
        ------
        InputValidationError
            An unknown option, or a bad value of one (every problem in one message).
        """
        from ..outputs.maps import plan_map

        unknown = sorted(set(kwargs) - set(_EXPLORE_OPTIONS))
        if unknown:
            raise InputValidationError(
                f"Plan.explore has no option {', '.join(unknown)}. Fix: use "
                f"{', '.join(_EXPLORE_OPTIONS[:-1])} or {_EXPLORE_OPTIONS[-1]} (see plan_map), "
                "or none")
        return plan_map(self, m=m, caller="Plan.explore", **kwargs)

    def finish_sweep(self, progress: Callable[[str], None] | None = None) -> Plan:
        """This plan once its pending budget sweep has finished (see :attr:`pending_sweep`).

        Parameters
        ----------
        progress : callable, optional
            Called with the sweep's progress lines when it runs here (a sweep that was to
            run after the plan).

        Returns
        -------
        Plan
            A new plan with ``sweep`` set, or without it and ``info["sweep"]["error"]`` when
            the sweep failed; this plan when no sweep is pending.
        """
        pending = self.pending_sweep
        if pending is None:
            return self
        base = replace(self, pending_sweep=None)
        if not pending.done:
            out = _attach_sweep(base, pending.background, pending.opts,
                                progress or pending.say)
            pending.done.update(sweep=out.sweep, info=out.info.get("sweep"))
        return replace(base, sweep=pending.done["sweep"],
                       info={**base.info, "sweep": pending.done["info"]})

    def close_sweep(self) -> None:
        """Stop a pending budget sweep's process, if any (its result is not wanted): a later
        :meth:`finish_sweep` of this plan or a copy gives the plan without a sweep, and
        ``info["sweep"]["error"]`` says it was stopped."""
        if self.pending_sweep is not None and self.pending_sweep.background is not None:
            self.pending_sweep.background.close()

    def with_sweep(
        self,
        budgets_ms: Iterable[float] | None = None,
        *,
        time_limit_s: float = 2.0,
        progress: Callable[[str], None] | None = None,
        total_time_s: float | None = None,
        max_full_pairs: int = 3_000_000,
    ) -> Plan:
        """This plan with :attr:`sweep` computed: site count against the latency budget.

        The sweep solves the site-count stage of the same problem (the plan's demand, or its
        bins when aggregated, its candidates, model, percentile and failure count) at each
        budget; the plan's own budget takes the plan's result. With service classes the
        sweep varies one uniform budget for every row, each row keeping its class's
        percentile and workload (the plan's own row is then a plan with per-class budgets,
        ``source="plan"``). See
        :func:`coverage.planner.sweep.budget_sweep`.

        Parameters
        ----------
        budgets_ms : iterable of float or float, optional
            Budgets, ms (one number: one budget);
            :data:`coverage.planner.sweep.DEFAULT_BUDGETS_MS` (20, 30, ..., 100) when omitted.
        time_limit_s : float, default 2
            Time limit of each solve, s.
        progress : callable, optional
            Called with a short message per budget.
        total_time_s : float, optional
            Time for the whole sweep, s: budgets not reached by then get the status
            ``not_run`` (default: no limit; the CLI's ``--sweep-total-s`` is 60 s).
        max_full_pairs : int, default 3,000,000
            Largest estimated number of (demand, candidate) pairs of a budget for which
            its reach matrix is built; wider budgets are counted by row generation, by
            independent components when the plan was (budgets up to the plan's own).

        Returns
        -------
        Plan
            A new plan (plans are immutable) with ``sweep`` set.
        """
        from .sweep import budget_sweep

        agg = self.info.get("aggregation") or {}
        shrink = (self.demand["max_offset_km"].to_numpy(dtype=np.float64)
                  if agg.get("mode") == "conservative" and "max_offset_km" in self.demand
                  else None)
        params = self.info.get("parameters", {})
        kwargs = _sweep_arguments(
            self.demand, self.candidates.drop(columns=["chosen"], errors="ignore"),
            budgets_ms=budgets_ms, budget_ms=float(self.budget_ms),
            failures=self.failures_tolerated, percentile=self.percentile,
            access=str(params.get("access_default", "ftth")), model=self.model,
            time_limit_s=time_limit_s, total_time_s=total_time_s, radius_shrink_km=shrink,
            service=self.service, tiers=self.tier_catalog, routing=self.routing,
            capacity=self.capacity, max_sites=self.info.get("max_sites"),
            scenario_limit=int(params.get("scenario_limit", DEFAULT_SCENARIO_LIMIT)),
            domain_radius_km=params.get("domain_radius_km"),
            strategy=str(self.info.get("solver", {}).get("strategy", "auto")))
        # a --max-sites plan is not the fewest sites at its budget: the sweep solves it
        if kwargs["always_ms"] is None:
            kwargs["plan"] = self
        sweep = budget_sweep(progress=progress, max_full_pairs=max_full_pairs, **kwargs)
        # a pending sweep is not needed by this plan any more (copies may still finish it)
        return replace(self, sweep=sweep, pending_sweep=None)

    def to_dir(self, path: str | Path, *, map: bool = True, tiles: str | None = "osm",
               report: bool = True, gis: bool = True, assignment_format: str = "csv",
               gpkg: bool | None = None) -> Path:
        """Write every output of the plan into directory ``path``, replaced as a whole.

        ``path`` must be absent, empty or a plan directory this tool wrote; the new
        directory is swapped in complete (:func:`coverage.outputs.plandir.write_plan`). Optional
        outputs (map, report, GIS files) that fail are skipped with a logged warning and a
        :class:`~coverage.errors.CoverageWarning` naming them and why (a notebook shows
        it); :func:`coverage.outputs.plandir.write_plan` returns the list.

        Parameters
        ----------
        path : str or pathlib.Path
            Output directory (created if needed).
        map : bool, default True
            Write ``map.html``.
        tiles : str or None, default "osm"
            Map background (``None`` for none, offline).
        report : bool, default True
            Write ``sweep.csv`` and ``report.html``; the sweep is computed with
            :meth:`with_sweep` defaults when :attr:`sweep` is ``None``.
        gis : bool, default True
            Write ``demand.parquet`` and ``sites.parquet``, and ``plan.gpkg`` (see
            ``gpkg``).
        assignment_format : {"csv", "parquet"}, default "csv"
            Write the per-demand table as ``assignment.csv`` or ``assignment.parquet``
            (much faster for national grids; ``report=False`` only).
        gpkg : bool or None, default None
            Write ``plan.gpkg``; ``None``: only up to 250,000 demand points
            (:data:`coverage.outputs.plandir.GPKG_MAX_ROWS`).

        Returns
        -------
        pathlib.Path
            The output directory.
        """
        from ..errors import CoverageWarning
        from ..outputs.plandir import write_plan

        out = write_plan(self, path, map=map, tiles=tiles, report=report, gis=gis, gpkg=gpkg,
                         assignment_format=assignment_format, caller="Plan.to_dir")
        if out.skipped:
            warnings.warn(f"{out.path}: skipped "
                          + "; ".join(f"{k} ({v})" for k, v in out.skipped.items())
                          + "; the other outputs are written", CoverageWarning, stacklevel=2)
        return out.path

    def __repr__(self) -> str:
        i = self.info
        return (
            f"Plan(site_count={i.get('site_count')}, status={i.get('status')!r}, "
            f"budget_ms={self.budget_ms:g}, percentile={self.percentile!r}, "
            f"failures_tolerated={self.failures_tolerated}, n_demand={i.get('n_demand')}, "
            f"population_uncoverable={i.get('population_uncoverable')})"
        )


def check_plan_options(*, budget_ms: Any = 30.0, failures: Any = 1, percentile: Any = "p99",
                       access: Any = "ftth", model: LatencyModel | None = None,
                       time_limit_s: Any = 300.0, kmedian_time_limit_s: Any = 60.0,
                       kmedian_gap_pct: Any = 0.5, strategy: Any = "auto",
                       max_memory_gb: Any = 4.0,
                       aggregate_km: Any = None, aggregate_mode: Any = "centroid",
                       aggregate_h3: Any = None, service_classes: Any = None,
                       tiers: Any = None, upf: Any = "default", backbone: Any = None,
                       backbone_edge_factor: Any = None,
                       backbone_latency_attr: Any = None, workloads: Any = None,
                       requests_per_person_day: Any = None, peak_to_mean: Any = 3.0,
                       target_utilisation: Any = 0.8,
                       domain_radius_km: Any = None, max_sites: Any = None,
                       objective: Any = "auto",
                       scenario_limit: Any = DEFAULT_SCENARIO_LIMIT,
                       sizing: Any = "off", sizing_time_limit_s: Any = None,
                       proposal_time_limit_s: Any = None) -> list[str]:
    """Every problem with the options of :func:`plan_sites`, without planning.

    The one check of option values, used by :func:`plan_sites`, the CLI and batch sweeps
    before any work starts.

    Parameters
    ----------
    budget_ms, failures, percentile, access, model, time_limit_s, kmedian_time_limit_s,
    kmedian_gap_pct, strategy, max_memory_gb, aggregate_km, aggregate_mode, aggregate_h3,
    service_classes, max_sites, objective, ...
        As in :func:`plan_sites` (a service classes file is read and checked).

    Returns
    -------
    list of str
        One sentence per problem, naming the option (and its CLI flag); empty when all
        values are valid.
    """
    try:
        model = as_model(model)
    except InputValidationError as exc:
        return [str(exc)]
    found = PlannerConfig(
        budget_ms=budget_ms, failures=failures, percentile=percentile, access=access,
        time_limit_s=time_limit_s, kmedian_time_limit_s=kmedian_time_limit_s,
        kmedian_gap_pct=kmedian_gap_pct,
        strategy=strategy, max_memory_gb=max_memory_gb, aggregate_km=aggregate_km,
        aggregate_h3=aggregate_h3, aggregate_mode=aggregate_mode,
        service_classes=service_classes, tiers=tiers, upf=upf, backbone=backbone,
        backbone_edge_factor=backbone_edge_factor, backbone_latency_attr=backbone_latency_attr,
        workloads=workloads, requests_per_person_day=requests_per_person_day,
        peak_to_mean=peak_to_mean, target_utilisation=target_utilisation,
        domain_radius_km=domain_radius_km, max_sites=max_sites, objective=objective,
        scenario_limit=scenario_limit, sizing=sizing, sizing_time_limit_s=sizing_time_limit_s,
        proposal_time_limit_s=proposal_time_limit_s,
    ).problems(model.access_profiles_ms)
    if isinstance(workloads, str | Path) and "workloads (--workloads)" not in " ".join(found):
        try:
            warning = WorkloadCatalog.from_file(workloads).host_size_warning(model.workload)
            if warning is not None:
                logger.warning("%s", warning)
        except InputValidationError as exc:
            found.append(str(exc))
    if service_classes is not None and not any("service_classes" in p for p in found):
        try:  # a class's workload is a name of the run's catalog (unchecked if unreadable)
            try:
                names: list[str] | None = WorkloadCatalog.from_spec(workloads).names()
            except InputValidationError:
                names = None  # reported above
            read_service_classes(service_classes, workload_names=names,
                                 check_workloads=names is not None)
        except InputValidationError as exc:
            found.append(str(exc))
    found.extend(check_routing_files(tiers=tiers, upf=upf, backbone=backbone,
                                     backbone_edge_factor=backbone_edge_factor,
                                     backbone_latency_attr=backbone_latency_attr,
                                     model=model, skip=found))
    return found


def check_routing_files(*, tiers: Any = None, upf: Any = "default", backbone: Any = None,
                        backbone_edge_factor: Any = None, backbone_latency_attr: Any = None,
                        model: LatencyModel | None = None,
                        skip: list[str] | None = None) -> list[str]:
    """Read and check the tier catalog, UPF table and backbone graph files (one sentence
    per problem), before any work starts."""
    found: list[str] = []
    already = " ".join(skip or [])
    if isinstance(tiers, str | Path) and "tiers (--tiers)" not in already:
        from ..model.tiers import TierCatalog

        try:
            TierCatalog.from_file(tiers)
        except InputValidationError as exc:
            found.append(str(exc))
    if (isinstance(upf, str | Path) and str(upf) not in ("default", "none")
            and "upf (--upf)" not in already):
        from ..inputs.upf import read_upf

        try:
            read_upf(upf, quiet=True)  # read again (and said) by the plan
        except InputValidationError as exc:
            found.append(str(exc))
    if isinstance(backbone, str | Path) and "backbone" not in already:
        from ..model.backbone import DEFAULT_EDGE_FACTOR, check_backbone_file

        try:
            check_backbone_file(
                backbone, edge_factor=DEFAULT_EDGE_FACTOR
                if backbone_edge_factor is None else float(backbone_edge_factor),
                latency_attr=backbone_latency_attr,
                fiber_us_per_km=(model or LatencyModel()).fiber_us_per_km)
        except InputValidationError as exc:
            found.append(str(exc))
    return found


def check_service(demand: pd.DataFrame, *, budget_ms: Any = 30.0, percentile: str = "p99",
                  service_classes: Any = None, aggregate_km: Any = None,
                  aggregate_h3: Any = None, source: str = "<demand>",
                  workloads: Any = None) -> list[str]:
    """Every problem with the demand's ``service_class`` / ``budget_ms`` rows (unknown
    classes, rows named) and with their combination with aggregation, without planning
    (the CLI checks it before any output is touched)."""
    try:
        resolve_plan_service(demand, budget_ms=budget_ms, percentile=percentile,
                             service_classes=service_classes, aggregate_km=aggregate_km,
                             aggregate_h3=aggregate_h3, source=source, workloads=workloads)
    except InputValidationError as exc:
        return [str(exc)]
    return []


def table_column_problems(demand: pd.DataFrame | None, sites: pd.DataFrame | None, *,
                          tiers: Any = None, with_load: bool,
                          demand_source: str = "<demand>", sites_source: str = "<sites>",
                          tier_columns: bool = True) -> list[str]:
    """The capacity columns (:func:`~coverage.model.capacity.capacity_column_problems`)
    and tier columns (:func:`check_tier_columns`, unless ``tier_columns`` is false) of
    whichever of the demand and candidates tables is valid (``None``: unread or invalid),
    so that a bad demand does not hide the candidates' problems (one message for all)."""
    if demand is None and sites is None:
        return []
    d = demand if demand is not None else pd.DataFrame()
    s = sites if sites is not None else pd.DataFrame()
    found = capacity_column_problems(d, s, demand_source=demand_source,
                                     sites_source=sites_source, with_load=with_load)
    if tier_columns:
        found += check_tier_columns(d, s, tiers=tiers, demand_source=demand_source,
                                    sites_source=sites_source)
    return found


def check_tier_columns(demand: pd.DataFrame, sites: pd.DataFrame, *, tiers: Any = None,
                       demand_source: str = "<demand>",
                       sites_source: str = "<sites>") -> list[str]:
    """Every problem with the demand's ``tiers`` column (unknown tier names, rows named),
    the sites' ``tier`` column (a catalog name mistyped:
    :func:`~coverage.model.tiers.check_site_tiers`) and their ``local_breakout`` column,
    without planning (the CLI checks it before
    any output is touched)."""
    from ..model.problem import parse_flags
    from ..model.tiers import TierCatalog, check_site_tiers, parse_tier_list

    found: list[str] = []
    try:
        catalog = TierCatalog.from_spec(tiers)
    except InputValidationError:
        return found  # reported by check_plan_options
    if "tiers" in demand.columns:
        try:
            parse_tier_list(demand["tiers"], catalog, source=demand_source)
        except InputValidationError as exc:
            found.append(str(exc))
    if "tier" in sites.columns:
        try:
            check_site_tiers(sites["tier"], catalog, source=sites_source)
        except InputValidationError as exc:
            found.append(str(exc))
    if "local_breakout" in sites.columns:
        try:
            parse_flags(sites["local_breakout"], column="local_breakout", source=sites_source)
        except InputValidationError as exc:
            found.append(str(exc))
    return found


def resolve_plan_service(demand: pd.DataFrame, *, budget_ms: Any, percentile: str,
                         service_classes: Any = None, aggregate_km: Any = None,
                         aggregate_h3: Any = None, source: str = "<demand>",
                         workloads: Any = None) -> ServiceRows | None:
    """The per-row service of validated ``demand`` (:func:`resolve_service`) under the
    run's budget (a number or a preset name) and the classes of ``service_classes``, whose
    workloads are names of the ``workloads`` catalog (``None``: the built-in one) and take
    its inference times.

    Raises
    ------
    InputValidationError
        Bad classes or workloads file, unknown class labels (rows named), or per-row
        budgets together with ``aggregate_km`` / ``aggregate_h3``.
    """
    preset = preset_budget(budget_ms)
    catalog = WorkloadCatalog.from_spec(workloads)
    classes = read_service_classes(service_classes, workload_names=catalog.names())
    service = resolve_service(demand, percentile=percentile, classes=classes, source=source,
                              default_label=preset.name if preset else DEFAULT_CLASS,
                              inference_ms=inference_table(catalog))
    if service is not None and (aggregate_km is not None or aggregate_h3 is not None):
        raise InputValidationError(
            f"{source}: per-row budgets (a service_class or budget_ms column) cannot be "
            "combined with --aggregate-km / --aggregate-h3: a bin would mix rows of "
            "different budgets. Fix: drop the aggregation, or plan each service class "
            "separately (filter the demand by service_class)")
    return service


_PARAMETER_NAMES = {"access": "access_default", "strategy": "strategy_requested",
                    "objective": "objective_requested"}
"""Names of options in ``summary.json["parameters"]`` where they differ from the option's."""


def _warn_sites_for_nobody(assignment: pd.DataFrame) -> None:
    """A warning naming the chosen sites that serve only demand rows of no people
    (population 0): such rows are held to the coverage requirement like any other, so a
    plan can open sites for them alone (tester 186: 16 sites where the 43 rows of
    population 0 dropped gave 13, the same people within budget)."""
    pop = assignment["population"].to_numpy(dtype=np.float64)
    nobody = pop <= 0
    if not nobody.any():
        return
    cols = [c for c in ("primary_site_id", "backup_site_id", "n1_site_id", "nk_site_id")
            if c in assignment.columns]
    with_people: set[str] = set()
    for_nobody: set[str] = set()
    for col in cols:  # by the columns' codes (categoricals), not a text copy of each row
        codes, uniq = pd.factorize(assignment[col], sort=False)
        uniq = np.asarray(uniq, dtype=object).astype(str)
        used = np.bincount(codes[codes >= 0], minlength=len(uniq)) > 0
        people = np.bincount(codes[(codes >= 0) & ~nobody], minlength=len(uniq)) > 0
        with_people.update(uniq[people])
        for_nobody.update(uniq[used & ~people])
    names = sorted(for_nobody - with_people)
    if names:
        logger.warning(
            "%s chosen site(s) (%s%s) serve only demand rows of no people: the %s row(s) "
            "of population 0 are held to the coverage requirement like any other, so sites "
            "are opened for them. Fix: drop those rows (or give them a population) if they "
            "need no coverage", f"{len(names):,}", ", ".join(names[:10]),
            f" and {len(names) - 10:,} more" if len(names) > 10 else "",
            f"{int(nobody.sum()):,}")


def _warn_idle_required(problem: Problem, assignment: pd.DataFrame) -> None:
    """A warning naming the required (existing) sites that serve no one: nobody's primary,
    backup or N-1 site (no demand point within budget, or every one nearer to other
    chosen sites)."""
    required = problem.required
    if not np.any(required):
        return
    ids = pd.Index(problem.sites["site_id"].to_numpy(dtype=object)[required].astype(str))
    used = pd.Index([])
    for col in ("primary_site_id", "backup_site_id", "n1_site_id", "nk_site_id"):
        if col in assignment.columns:
            values = pd.Index(assignment[col].dropna().unique())  # distinct ids first
            used = used.union(values.astype(str))
    names = ids.difference(used).tolist()
    if names:
        logger.warning(
            "required site(s) %s%s serve no one (nobody's primary, backup or N-1 site): "
            "open as required, with no demand point within budget or every one nearer to "
            "other chosen sites; check their coordinates, or drop 'required' if they are "
            "not needed",
            ", ".join(names[:10]), f" and {len(names) - 10} more" if len(names) > 10 else "")


def _sweep_arguments(
    demand: pd.DataFrame, sites: pd.DataFrame, *, budgets_ms: Iterable[float] | None,
    budget_ms: float, failures: int, percentile: str, access: str, model: LatencyModel,
    time_limit_s: float, total_time_s: float | None, radius_shrink_km: Any, service: Any,
    tiers: Any, routing: Any, capacity: Any, max_sites: int | None, scenario_limit: int,
    domain_radius_km: float | None = None, strategy: str = "auto",
) -> dict[str, Any]:
    """The keyword arguments of :func:`coverage.planner.sweep.budget_sweep` for the sweep of
    a plan of these inputs (the problem the plan solves: ``demand`` its rows, bins when it
    aggregates; ``sites`` its candidates), without ``plan`` / ``own``. ``strategy`` is the
    strategy the plan's count ran by: a plan counted by components has its budgets too
    wide for the reach matrix, up to its own, counted by components too.

    The same for :meth:`Plan.with_sweep` (after the plan) and for ``plan_sites(...,
    sweep=...)`` (alongside it). A ``max_sites`` plan is not the fewest sites at its budget:
    its budget is then solved by the sweep (``always_ms``).
    """
    from ..inputs.tables import keep_validated
    from .sweep import DEFAULT_BUDGETS_MS, check_budgets

    cols = [c for c in ("demand_id", "lat", "lon", "population", "access", "tiers")
            if c in demand.columns]
    budgets = check_budgets(DEFAULT_BUDGETS_MS if budgets_ms is None else budgets_ms)
    best = max_sites is not None
    if best:
        budgets = sorted(set(map(float, budgets)) | {float(budget_ms)})
    return dict(
        # still validated: the sweep (in its own process) does not validate it again
        demand=keep_validated(demand, demand[cols], "demand", model.access_profiles_ms),
        sites=sites, budgets_ms=budgets, failures=(int(failures),),
        percentile=percentile, access=access, model=model, time_limit_s=time_limit_s,
        radius_shrink_km=radius_shrink_km, service=service, tiers=tiers, routing=routing,
        capacity=capacity, total_time_s=total_time_s,
        always_ms=float(budget_ms) if best else None, scenario_limit=int(scenario_limit),
        domain_radius_km=domain_radius_km,
        strategy="components" if strategy == "components" else "auto",
    )


def _own_copy(value: Any) -> Any:
    """A deep copy of a dict option (the plan's own), or the value itself when it is no
    dict or holds what cannot be copied (a lock: review 164; its summary then says so)."""
    if not isinstance(value, Mapping):
        return value
    try:
        return copy.deepcopy(value)
    except (TypeError, copy.Error):
        return value


def _access_class(access: Any, profiles: Mapping[str, Any]) -> Any:
    """``access`` as the model's access class of that name, whatever its case ("FTTH" is
    ``ftth``, "starlink" a model's ``Starlink``: :func:`coverage.inputs.tables.access_names`,
    as an access column's values); as given when no class or several match (the options'
    check names it)."""
    from ..inputs.tables import access_names

    if not isinstance(access, str) or access in profiles:
        return access
    return access_names(profiles).get(access.lower(), access)


def plan_sites(
    demand: pd.DataFrame,
    sites: pd.DataFrame,
    *,
    budget_ms: float | str = 30.0,
    failures: int = 1,
    percentile: str = "p99",
    access: str = "ftth",
    model: LatencyModel | None = None,
    time_limit_s: float = 300.0,
    kmedian_time_limit_s: float = 60.0,
    kmedian_gap_pct: float = 0.5,
    inputs: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    strategy: str = "auto",
    max_memory_gb: float = 4.0,
    aggregate_km: float | None = None,
    aggregate_mode: str = "centroid",
    aggregate_h3: int | None = None,
    client: Any = None,
    reach_partitions: int | None = None,
    service_classes: Any = None,
    tiers: Any = "builtin",
    upf: Any = "default",
    backbone: Any = None,
    backbone_edge_factor: float | None = None,
    backbone_latency_attr: str | None = None,
    workloads: Any = None,
    requests_per_person_day: float | None = None,
    peak_to_mean: float = 3.0,
    target_utilisation: float = 0.8,
    domain_radius_km: float | None = None,
    max_sites: int | None = None,
    objective: str = "auto",
    scenario_limit: int = DEFAULT_SCENARIO_LIMIT,
    sizing: str = "off",
    sizing_time_limit_s: float | None = None,
    proposal_time_limit_s: float | None = None,
    sweep: bool | Mapping[str, Any] | None = None,
) -> Plan:
    """Find the fewest sites that keep every user within budget under ``failures`` failures
    (or, with ``max_sites``, the best ``max_sites`` sites).

    Parameters
    ----------
    demand : pandas.DataFrame or geopandas.GeoDataFrame
        Demand points (``population`` plus coordinates or geometry; optional ``access``);
        validated with :func:`coverage.inputs.tables.as_demand`.
    sites : pandas.DataFrame or geopandas.GeoDataFrame
        Candidate sites; optional ``required`` (existing sites) and ``cost``; validated with
        :func:`coverage.inputs.tables.as_sites`.
    budget_ms : float or str, default 30
        Latency budget, ms, checked at ``percentile``: the budget of every demand row
        without one of its own (a number, or its text: ``"30"``). A preset name is
        accepted too: ``"realtime"`` (30 ms p99),
        ``"interactive"`` (50 ms p99), ``"instant"`` (100 ms p99). A demand ``budget_ms``
        column overrides it row by row; a ``service_class`` column gives rows the budget,
        percentile and workload of a class (presets, or ``service_classes``); a row's own
        ``budget_ms`` wins over its class's budget (see ``docs/service-classes.md``).
    failures : int, default 1
        Number of simultaneous site failures to tolerate (k): each demand point needs
        ``min(k + 1, |N_i|)`` chosen sites within budget.
    percentile : {"p99", "p50"}, default "p99"
        Percentile at which the budget is checked.
    access : str, default "ftth"
        Access technology of demand without an ``access`` column.
    model : LatencyModel, str or path, optional
        Latency model; the defaults of :class:`LatencyModel` when omitted; a profile name
        (``"on-net"``) or a model file (``edge-coverage calibrate``) is read with
        :func:`coverage.config.as_model`.
    time_limit_s : float, default 300
        HiGHS time limit of the site-count stage, s.
    kmedian_time_limit_s : float, default 60
        Time limit of the k-median stage, s.
    kmedian_gap_pct : float, default 0.5
        The k-median stage stops once its plan is proven within this percentage of the
        best placement (``summary()["kmedian_status"]`` ``"within_gap"``); 0 runs it to
        proven optimality or its time limit.
    inputs : dict, optional
        Description of the input files, recorded in the summary.
    progress : callable, optional
        Called with a short message at the start of each stage.
    strategy : {"auto", "full", "lazy", "components"}, default "auto"
        ``"full"`` builds the whole reach matrix; ``"lazy"`` solves by row generation
        (:mod:`coverage.solvers.rowgen`) without it, for national inputs; ``"components"``
        splits the problem into independent components (:mod:`coverage.solvers.components`)
        and solves each piece by row generation, as one task per piece on ``client``'s
        cluster (``"lazy"`` with a ``client`` does the same); ``"auto"`` picks ``"lazy"``
        when the estimated reach matrix would take more than half of ``max_memory_gb``.
    max_memory_gb : float, default 4
        Memory budget for the reach matrix, GiB.
    aggregate_km : float, optional
        Bin demand into near-squares of this size (per access class;
        :func:`coverage.model.aggregate.grid_cells`) before solving; the plan's demand
        table is then the bins, and
        ``summary()["aggregation"]`` reports how many original points and people the plan
        leaves short of their own requirement. Off by default (identical reach sets are
        always merged exactly anyway).
    aggregate_h3 : int, optional
        Bin demand into H3 cells of this resolution (0-10) instead of squares
        (:func:`coverage.model.aggregate.aggregate_h3`); excludes ``aggregate_km``.
    aggregate_mode : {"centroid", "conservative"}, default "centroid"
        ``"conservative"`` shrinks each bin's radius by its farthest member's offset, so that
        every member is within budget of the sites that serve its bin.
    client : distributed.Client, optional
        Build the reach matrix in demand partitions on this Dask cluster's workers
        (:func:`coverage.build_reach`; same matrix, entry for entry) with the ``"full"``
        strategy; with ``"lazy"`` or ``"components"``, solve the independent components
        of the cover as one task per piece on its workers (docs/components.md).
    reach_partitions : int, optional
        Number of partitions with ``client`` (default: twice the number of workers).
    service_classes : str, path or dict, optional
        A TOML file of service classes (``[service_classes.NAME]`` with ``budget_ms``,
        optional ``percentile`` and ``workload``) or the same as a dict
        ``{name: {"budget_ms": ..., ...}}``, for the demand's ``service_class`` column.
    tiers : TierCatalog, path or "builtin", default "builtin"
        The tier catalog (:mod:`coverage.model.tiers`; a path: the built-in one with the
        file's overrides): a site's ``tier`` changes the latency of every pair it serves,
        and a demand ``tiers`` column names the tiers a row may use (``on-prem`` serves
        only rows that name it). ``None`` is the built-in catalog too. Site labels outside
        the catalog are the reference site (the model's proxy, no tier terms), but for a
        catalog name in another case or punctuation (``On-Prem``, ``on_prem``), refused as
        a typo (:func:`~coverage.model.tiers.check_site_tiers`).
    upf : "default", "none", path or DataFrame, default "default"
        Packet-core breakouts for mobile access classes (lte, 5g-*): such a user reaches a
        site without local breakout through its nearest UPF. ``"default"``: one per large
        metro of the demand's countries (:func:`coverage.inputs.upf.default_upf`), used
        only when the demand has mobile rows; ``"none"``: no detour.
    backbone : path or Backbone, optional
        Route over this backbone graph (GML / GraphML, :mod:`coverage.model.backbone`):
        user -> nearest node -> shortest path -> the site's node -> site.
    backbone_edge_factor : float, optional
        Fibre length over the straight line of a backbone edge (default 1.5).
    backbone_latency_attr : str, optional
        Edge attribute holding the one-way latency in ms (instead of the distance rule).
    workloads : WorkloadCatalog or path, optional
        Workload catalog overrides (:mod:`coverage.model.workloads`); the model's
        ``workload`` names the entry whose power, memory and throughput size the sites.
        Candidates whose power envelope (``power_kw`` column, else their tier's) cannot
        host it are excluded (``Plan.excluded``).
    requests_per_person_day : float, optional
        With ``peak_to_mean``, the peak load of every demand point from its population;
        a demand ``load_rps`` column is used instead when present. Either turns on the
        capacitated plan (:mod:`coverage.solvers.capacitated`): the fewest sites such that
        in normal operation and in every failure scenario the surviving sites within
        budget carry all the load (splittable) within their capacity.
    peak_to_mean : float, default 3
        Peak-hour load over the daily mean.
    target_utilisation : float, default 0.8
        Capacity = accelerators x throughput x this (a ``capacity_rps`` column wins).
    domain_radius_km : float, optional
        Sites within this distance of each other fail together (networkx components); a
        sites ``failure_domain`` column wins.
    max_sites : int, optional
        Answer "the best P sites" instead of "the fewest": open exactly ``max_sites`` sites
        (the required ones among them) chosen by ``objective``; the k-median placement is
        skipped (the objective chose the sites) and a ``cost`` column is not used. Needs
        the reach matrix (refused with row generation) and an uncapacitated plan.
    objective : {"auto", "fewest", "max-cover", "p-center"}, default "auto"
        ``"fewest"``: the fewest sites (least cost with a ``cost`` column).
        ``"max-cover"`` (with ``max_sites``): the most population within budget of a chosen
        site, then, among those optima, the most population with ``max(k, 1) + 1`` chosen
        sites within budget (:func:`coverage.solvers.maxcover.max_cover_lexicographic`).
        ``"p-center"`` (with ``max_sites``): the least worst latency at ``percentile`` from a
        point to its ``min(k + 1, |N_i|)``-th nearest chosen site, every point with a
        candidate in budget kept within it (:func:`coverage.solvers.pcenter.p_center`).
        ``"auto"``: ``"max-cover"`` with ``max_sites``, else ``"fewest"``.
        See ``docs/optimize.md``.
    scenario_limit : int, default 20000
        With a load: the failure scenarios the capacity check lists per plan
        (:func:`coverage.solvers.capacitated.failure_scenarios`; combinations across
        independent parts of the plan, and pairs whose local reroutes are disjoint, are
        implied, not listed). Above it the list is cut: ``summary()["capacity"]`` says how
        many of how many were checked, and a plan below the capacity bound has status
        ``time_limit_short``, an optimal one for the scenarios checked ``unproven`` (a
        warning is logged; the command line's exit code 7 for both).
    sizing : {"off", "least"}, default "off"
        With a load, ``"least"``: also the least capacity of every chosen site with which
        normal operation and every failure scenario carry the load
        (:func:`coverage.solvers.sizing.least_capacity`, one linear program over all the
        scenarios, each near its failed sites until its sizes carry it, within
        ``sizing_time_limit_s``): ``sites.csv``'s ``sized_capacity_rps`` and
        ``summary()["capacity"]["sizing"]``. :func:`coverage.compare` prices it.
    sizing_time_limit_s : float, optional
        With a load, the time limit of each capacity stage after the plan, s: the worst
        utilisation of the implied failure scenarios, ``flows.csv``'s least-latency flow
        (at least 1 s), the check of every chosen site at its own worst load
        (``summary()["capacity"]["most_even_sizes"]``) and the least sizing. Default:
        ``time_limit_s`` each. Not bounded by it: the most even flow of every listed
        failure scenario (``capacity_scenarios.csv``, which the fleet's worst utilisation
        needs exactly).
    proposal_time_limit_s : float, optional
        Time limit of the proposed new sites' cover (``proposed_sites.csv``: the fewest new
        locations that give the gap demand its k+1 sites; the best found is kept, and
        ``summary()["proposed"]`` has its status and lower bound), s. Default: 10 s, or
        ``time_limit_s`` when shorter.
    sweep : bool or mapping, optional
        Also solve the budget sweep (:attr:`Plan.sweep`: the fewest sites at each budget,
        what the report plots): ``True``, or the options of :meth:`Plan.with_sweep`
        (``budgets_ms``, ``time_limit_s``, ``total_time_s``), ``process``: ``"auto"``
        (default), ``"always"`` or ``"never"``, and ``wait`` (default ``True``; ``False``:
        return as soon as the plan is done, the sweep pending in :attr:`Plan.pending_sweep`
        until :meth:`Plan.finish_sweep`, as the command line does to write the other
        outputs meanwhile). With a process
        (:class:`coverage.planner.background.BackgroundSweep`; ``"auto"``: from
        :data:`~coverage.planner.background.SWEEP_PROCESS_MIN_ROWS` demand rows) the sweep
        runs in a second process while this one plans, so that on two cores it costs no
        wall time; otherwise it runs here after the plan. The sweep is optional: when it
        fails, the plan is returned without it (``summary()["sweep"]["error"]`` says why).
        ``summary()["sweep"]`` gives ``process`` and, from a process, its ``wall_s`` and
        ``peak_rss_mib``. Default: no sweep (:meth:`Plan.with_sweep` and the report compute
        it later). A script that passes a process must start from an ``if __name__ ==
        "__main__":`` block (``spawn``: the new process imports the main module).

    Returns
    -------
    Plan

    Raises
    ------
    InputValidationError
        Bad demand, sites or options.
    InfeasibleBudgetError
        The budget cannot be met even at distance zero.
    NoFeasiblePlanError
        No demand point has any candidate within budget.

    Examples
    --------
    >>> from coverage.inputs.geonames import geonames_demand, geonames_candidates
    >>> plan = plan_sites(geonames_demand("LU"), geonames_candidates("LU", 5_000), budget_ms=30)
    >>> plan.summary()["status"]
    'optimal'
    """
    from .. import __version__
    from ..inputs.tables import as_demand, as_sites, keep_validated

    # a text option as a text column's value is read (tester 192: an access column of
    # "FTTH" was accepted and access="FTTH" refused); the access class is matched to the
    # model's below, whatever its case (review 164: a model's "Starlink" was refused)
    access, percentile = (v.strip() if isinstance(v, str) else v
                          for v in (access, percentile))
    if isinstance(percentile, str):
        percentile = percentile.lower()
    if isinstance(budget_ms, str) and preset_budget(budget_ms) is None:
        try:  # "30", as the command line reads it (tester 174: refused by the API only)
            budget_ms = float(budget_ms.strip())
        except ValueError:
            pass  # named by the options' check

    # the plan keeps its own copies of the options given as dicts (tester 192: the
    # caller's service_classes dict, changed after planning, changed the plan's summary)
    service_classes, inputs, tiers, workloads = (
        _own_copy(v) for v in (service_classes, inputs, tiers, workloads))
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    say = reporter(progress, logger)
    # every problem of the options and of both tables, before any work, in one message
    t = time.perf_counter()
    problems: list[str] = []
    try:
        model = as_model(model)
    except InputValidationError as exc:
        problems.append(str(exc))
    else:
        access = _access_class(access, model.access_profiles_ms)
    config = PlannerConfig(
        budget_ms=budget_ms, percentile=percentile, failures=failures, access=access,
        time_limit_s=time_limit_s, kmedian_time_limit_s=kmedian_time_limit_s,
        kmedian_gap_pct=kmedian_gap_pct,
        max_memory_gb=max_memory_gb, strategy=strategy, aggregate_km=aggregate_km,
        aggregate_h3=aggregate_h3, aggregate_mode=aggregate_mode,
        service_classes=service_classes,
        tiers=None if isinstance(tiers, str) and tiers == "builtin" else tiers, upf=upf,
        backbone=backbone, backbone_edge_factor=backbone_edge_factor,
        backbone_latency_attr=backbone_latency_attr, workloads=workloads,
        requests_per_person_day=requests_per_person_day, peak_to_mean=peak_to_mean,
        target_utilisation=target_utilisation, domain_radius_km=domain_radius_km,
        max_sites=max_sites, objective=objective, scenario_limit=scenario_limit,
        sizing=sizing, sizing_time_limit_s=sizing_time_limit_s,
        proposal_time_limit_s=proposal_time_limit_s,
    )
    profiles = None if problems else model.access_profiles_ms
    try:  # the options' problems too when the model is wrong (access classes: unchecked)
        config.validate(profiles)
    except InputValidationError as exc:
        problems.append(str(exc))
    try:
        sweep_opts = sweep_options(sweep)
    except InputValidationError as exc:
        problems.append(str(exc))
    found = inputs_client_problems(inputs, client)
    problems.extend(found)
    if found:  # the table sources below read ``inputs``; ``client`` is not used before
        inputs, client = None, None
    demand_src = source_name((inputs or {}).get("demand", {}), "demand")
    sites_src = source_name((inputs or {}).get("candidates", {}), "sites")
    demand_ok = sites_ok = True
    raw_columns = tuple(getattr(demand, "columns", ()))
    try:
        demand = as_demand(demand, source=demand_src, access_profiles=profiles)
    except InputValidationError as exc:
        problems.append(str(exc))
        demand_ok = False
    with_load = ("load_rps" in (demand.columns if demand_ok else raw_columns)
                 or requests_per_person_day is not None)
    try:
        sites = as_sites(sites, source=sites_src)
    except InputValidationError as exc:
        problems.append(str(exc))
        sites_ok = False
    tables_ok = demand_ok and sites_ok
    budget_given = budget_ms
    columns_meant = tables_ok and not problems  # the options valid: their columns next
    tier_catalog = None
    if (demand_ok or sites_ok) and not any("(--tiers)" in p for p in problems):
        # the catalog is read once here (the option check read the file for its problems):
        # the columns are checked against the catalog the plan then uses
        try:
            tier_catalog = tier_catalog_of(config.tiers)
        except InputValidationError as exc:
            problems.append(str(exc))
    # the capacity and tier columns of whichever table is valid, whatever the options
    problems.extend(table_column_problems(
        demand if demand_ok else None, sites if sites_ok else None, tiers=tier_catalog,
        with_load=with_load, demand_source=demand_src, sites_source=sites_src,
        tier_columns=tier_catalog is not None))
    if columns_meant:  # the columns the options give a meaning
        if tier_catalog is not None and not problems:  # a user's tier no site names
            from ..model.tiers import unused_tier_entries

            for line in unused_tier_entries(
                    tier_catalog, sites["tier"] if "tier" in sites.columns else None,
                    sites_source=sites_src):
                logger.warning("%s", line)
        # the input's columns, before any stage adds its own: those that are not the
        # planner's go to assignment.csv after its columns (the reader says they are carried)
        user_columns = tuple(str(c) for c in demand.columns)
        if "access" not in demand.columns:  # the default class only fills a missing column
            # the class was checked with the options: the frame stays validated (a sweep's
            # process takes it as it is)
            demand = keep_validated(demand, demand.assign(access=access), "demand",
                                    model.access_profiles_ms)
        try:  # (the tier columns were checked above, against this catalog)
            found_agg = aggregation_problem(
                demand, sites, model=model, tier_catalog=tier_catalog, upf=upf,
                backbone=backbone, aggregate_km=aggregate_km, aggregate_h3=aggregate_h3)
            if found_agg is not None:
                problems.append(found_agg)
        except InputValidationError as exc:
            problems.append(str(exc))
        try:
            service = resolve_plan_service(
                demand, budget_ms=budget_given, percentile=percentile,
                service_classes=service_classes, aggregate_km=aggregate_km,
                aggregate_h3=aggregate_h3, source=demand_src, workloads=workloads)
        except InputValidationError as exc:
            problems.append(str(exc))
        if service_classes is not None and "service_class" not in demand.columns:
            # the classes would name no row: said, not ignored (tester 126)
            logger.warning("%s has no service_class column, so the service classes "
                           "(--service-classes) apply to no row: every row takes the run's "
                           "budget%s. Fix: add a service_class column naming each row's "
                           "class", demand_src,
                           "" if "budget_ms" not in demand.columns else
                           " or its own budget_ms")
    if problems:
        raise InputValidationError("\n".join(dict.fromkeys(problems)))
    preset = preset_budget(budget_ms)
    if preset is not None:
        budget_ms, percentile = preset.budget_ms, preset.percentile
    budget_ms = float(budget_ms)
    config = replace(config, budget_ms=budget_ms, percentile=percentile,
                     failures=int(failures))
    if (config.max_sites is not None and 0 < int(config.max_sites) <= int(failures)
            and config.resolved_objective == "max-cover"):
        # (tester 174: --max-sites 2 --failures 2 ran without a word)
        logger.warning(
            "--max-sites %d with --failures %d: no point can have %d chosen sites within "
            "budget, so the second objective (the people N-%d safe) is 0 for every plan; "
            "the plan puts the most people within budget of a site, nothing more. Fix: "
            "--max-sites %d or more, or fewer --failures", int(config.max_sites),
            int(failures), int(failures) + 1, int(failures), int(failures) + 1)
    _warn_output_names(demand, sites, demand_source=demand_src, sites_source=sites_src)
    # an earlier plan's figures (its assignment.csv given back as demand) are not this plan's:
    # a column this plan does not compute (domain_nk_* without domains) would pass as its own
    stale = [c for c in demand.columns if str(c) in DEMAND_OUTPUT_COLUMNS]
    if stale:
        demand = demand.drop(columns=stale)
    if len(demand) and not float(demand["population"].sum()) > 0:  # (tester 144)
        logger.warning("%s: every demand row has population 0: the plan covers the points, "
                       "but every figure weighted by people (coverage shares, latencies, "
                       "the rollout) is 0 or n/a. Fix: give each row its population",
                       demand_src)
    timings["validate_s"] = time.perf_counter() - t
    routing = build_routing(demand, upf=upf, backbone=backbone, model=model,
                            edge_factor=backbone_edge_factor,
                            latency_attr=backbone_latency_attr)
    assert tier_catalog is not None  # read with the column checks
    sites, n_acc, excluded, capacity, workload = site_capacity(
        demand, sites, model=model, tier_catalog=tier_catalog, workloads=workloads,
        requests_per_person_day=requests_per_person_day, peak_to_mean=peak_to_mean,
        target_utilisation=target_utilisation, domain_radius_km=domain_radius_km,
        max_sites=max_sites, aggregate_km=aggregate_km, aggregate_h3=aggregate_h3,
        demand_source=demand_src, sites_source=sites_src, say=say, service=service)
    if capacity is not None and capacity.domains is not None and config.failures > 0:
        # a failure of every domain at once excuses every user: the guarantee is empty
        # (tester 144: one domain for all candidates read "tolerating 1 failure")
        n_domains = len(pd.unique(pd.Series(capacity.domains, dtype=object)))
        if n_domains <= config.failures:
            logger.warning(
                "%s: the candidates fall in %d failure domain(s) and the plan tolerates %d "
                "failure(s): one scenario fails every site, and excuses every user (their "
                "candidates all failed), so that guarantee holds for no one. Fix: give the "
                "sites their own failure_domain (or split the domains), or lower --failures",
                sites_src, n_domains, config.failures)
    # the failure domains of a plan without a load (its failure_domain column, else
    # domain_radius_km): its count fails them (below), and it is reported by them
    # (domain_failures.csv, n_domains_in_budget, the summary's figures)
    plain_domains = None
    if capacity is None and config.failures > 0:
        if domain_radius_km is not None and "failure_domain" in sites.columns:
            logger.warning("domain_radius_km (--domain-radius-km) %g is not used: the "
                           "candidates' failure_domain column gives the domains",
                           domain_radius_km)
        plain_domains = failure_domains(sites, domain_radius_km, source=sites_src)
    if capacity is None:
        if ("capacity_rps" in sites.columns
                and pd.to_numeric(sites["capacity_rps"], errors="coerce").notna().any()):
            # (tester 145: it was silently unused; power_kw still excludes the sites that
            # cannot host the workload)
            logger.warning("%s: column capacity_rps not used: this plan has no load, so no "
                           "site capacity is checked (give the demand a load_rps column or "
                           "requests_per_person_day)", sites_src)
    if capacity is None and config.sizing != "off":  # (the command line refuses it)
        logger.warning("sizing %r is not used: this plan has no load (no load_rps column, "
                       "no requests_per_person_day)", config.sizing)
    if capacity is None and config.sizing_time_limit_s is not None:
        logger.warning("sizing_time_limit_s %g is not used: this plan has no load (no "
                       "load_rps column, no requests_per_person_day)",
                       config.sizing_time_limit_s)
    if routing.backbone is not None:
        routing.backbone.check_sites(sites["site_id"], sites["lat"], sites["lon"],
                                     source=(inputs or {}).get("candidates", {}).get(
                                         "path", "<sites>"))
    deferred: InfeasibleBudgetError | None = None
    if service is None:
        # radius per access class present; raises when no class present can meet the budget
        # (unless a tier off the WAN may still meet it: checked on the problem below)
        try:
            radius_km, radius_access = largest_radius(
                model, map(str, pd.unique(demand["access"])), budget_ms, percentile)
        except InfeasibleBudgetError as exc:
            deferred = exc

    original, aggregation, shrink = None, None, None
    if aggregate_km is None and aggregate_h3 is None and aggregate_mode != "centroid":
        # (it was ignored without a word: tester 146; a warning, not a refusal, so that a
        # batch's base mode still serves its scenarios with bins: review 140)
        logger.warning("aggregate_mode %r (--aggregate-mode) is not used: no aggregation "
                       "is given (--aggregate-km or --aggregate-h3)", aggregate_mode)
    if aggregate_km is not None or aggregate_h3 is not None:
        original, aggregation = demand, aggregate_demand(demand, config)
        demand = aggregation.demand
        if aggregate_mode == "conservative":
            shrink = demand["max_offset_km"].to_numpy(dtype=np.float64)
        what = (f"H3 cells of resolution {aggregate_h3}" if aggregate_h3 is not None
                else f"bins of {float(aggregate_km):g} km")
        say(f"aggregated {len(original):,} demand points into {len(demand):,} {what} "
            f"({aggregate_mode})")
        if deferred is None and service is None:  # the radius is known here
            _warn_wide_bins(demand, model, float(budget_ms), percentile, what,
                            aggregate_mode)

    # the problem actually solved (bins when aggregating): latency constants computed once
    problem = Problem.build(demand, sites, config, model, radius_shrink_km=shrink,
                            service=service, tiers=tier_catalog, routing=routing)
    if deferred is not None and not problem.routed:
        raise deferred
    # "candidate" is the label of sites without a tier (the reference site by design)
    named = [t for t in problem.unknown_tiers if t != "candidate"]
    if named:
        logger.info("site tier(s) %s are not in the tier catalog: those sites are the "
                    "reference site (the model's proxy, no tier terms)",
                    ", ".join(named[:10]))
    if problem.routed:
        r = problem.routing
        say("pair latency by site tier"
            + (f", via {len(r.upf)} UPF(s) for mobile access" if r.upf is not None else "")
            + (f", over backbone {r.backbone.name} ({len(r.backbone.node_ids)} nodes)"
               if r.backbone is not None else ""))
    if aggregation is not None and problem.routed:  # (refused before the work: kept as
        # the problem's own word)
        raise InputValidationError(AGGREGATION_ROUTED)
    if service is not None or problem.routed:
        # the largest row radius; raises when no row can meet its budget
        radius_km, radius_access = problem.largest_radius()
    _warn_extrapolated(model, radius_km)
    _log_infeasible_classes(problem)
    if reach_partitions is not None and (isinstance(reach_partitions, bool) or not isinstance(
            reach_partitions, int | np.integer) or reach_partitions < 1):
        raise InputValidationError(
            f"reach_partitions must be an integer >= 1 (or None); got {reach_partitions!r}")
    strategy, est_pairs = choose_strategy(
        problem, strategy, max_memory_gb / 2 * 2**30 / BYTES_PER_PAIR,
        need_matrix=max_sites is not None or client is not None)
    if max_sites is not None and strategy != "full":
        raise InputValidationError(
            f"max_sites (--max-sites) needs the reach matrix, and this one (about "
            f"{est_pairs:,.0f} pairs) is above half of --max-memory-gb {max_memory_gb:g}, "
            "where the planner switches to row generation, which cannot choose the best P "
            "sites. Fix: raise --max-memory-gb, pass --strategy full, or bin the demand "
            "with --aggregate-km")
    count_fails = None
    if plain_domains is not None:
        # a plan without a load: its count and placement fail whole domains (the rows of
        # coverage.solvers.domain_rows, on the reach matrix, by row generation or piece
        # by piece); --max-sites, and rows above their memory limit, count single sites,
        # and the figures by domain say what that leaves
        if max_sites is None:
            problem = replace(problem, count_domains=domain_codes(plain_domains))
            count_fails = "whole failure domains" + (
                "" if aggregation is None else " (of the bins; the aggregation check counts "
                "the original points' sites, not their domains)")
        elif config.resolved_objective != "p-center":
            # max-cover: its second objective (the people N-k safe) counts them by domains
            problem = replace(problem, count_domains=domain_codes(plain_domains))
            count_fails = ("whole failure domains (--max-sites: the people N-k safe, its "
                           "second objective)")
        else:
            # p-center: the worst latency after any k whole domains (or k single sites)
            # fail; it counted single sites only before 2026-12-07
            problem = replace(problem, count_domains=domain_codes(plain_domains))
            count_fails = ("whole failure domains (--max-sites p-center: the worst latency "
                           "after any k domains fail)")
    background = None
    try:
        reach: ReachMatrix | None = None
        solver: dict[str, Any] = {"strategy": strategy, "estimated_pairs": int(est_pairs)}
        if strategy == "full":
            say(f"reach matrix: {counted(len(demand), 'demand point')} x "
                f"{counted(len(sites), 'candidate')} "
                f"within {budget_ms:g} ms {percentile} (about {est_pairs:,.0f} pairs)")
            t = time.perf_counter()
            reach = reach_matrix(problem, client=client, partitions=reach_partitions)
            timings["reach_s"] = time.perf_counter() - t
            if client is not None:
                solver["reach_cluster"] = {
                    "workers": len(client.scheduler_info().get("workers", {})),
                    "partitions": cluster_partitions(client, reach_partitions, len(demand))}
            n_cov = reach.n_covering()
            check_any_coverable(problem, n_cov, radius_km, radius_access)
            say(f"solving: fewest sites with {failures + 1}-fold coverage "
                f"(HiGHS, limit {time_limit_s:g} s)")
            t = time.perf_counter()
            if max_sites is not None:
                what = ("the lowest worst latency" if config.resolved_objective == "p-center"
                        else "the most people within budget")
                say(f"solving: the {int(max_sites)} sites with {what} (HiGHS, limit "
                    f"{time_limit_s:g} s)")
                problem, too_big = fit_domains(problem, reach, domain_entry_limit(problem))
                if too_big is not None:
                    count_fails = _domains_dropped(sites_src, too_big, max_memory_gb)
                count = best_sites(problem, reach, n_cov)
            elif capacity is None:
                # the domains' rows are generated for the points short of them, and the
                # count fails single sites, said, when those pass half of --max-memory-gb
                # (tester 178: the size of every point's rows, checked first, dropped the
                # domains of a Brazilian N-2 plan whose generated rows were 329)
                count = min_sites(problem, reach=reach, n_covering=n_cov)
                if count.domains_dropped is not None and problem.count_domains is not None:
                    problem = replace(problem, count_domains=None)  # and its placement
                    count_fails = _domains_dropped(sites_src, count.domains_dropped,
                                                   max_memory_gb)
            else:
                say(f"capacitated: {capacity.load_text()}; "
                    f"cut generation with a max-flow check of every failure scenario")
                count, cap_result = capacitated_sites(problem, reach, n_cov, capacity)
            timings["solve_s"] = time.perf_counter() - t
            n_pairs = reach.nnz
        else:
            est_gb = est_pairs * BYTES_PER_PAIR / 2**30
            say(f"row generation: {counted(len(demand), 'demand point')} x "
                f"{counted(len(sites), 'candidate')}, "
                f"about {est_pairs:,.0f} pairs ({est_gb:.1f} GiB) not materialised")
            t = time.perf_counter()
            # lazy with a cluster splits by components where it can (great-circle rows); a
            # routed problem (tiers, anchors, backbone) stays one row generation in this process
            by_components = strategy == "components" or (
                strategy == "lazy" and client is not None and not problem.routed)
            if by_components:
                refuse_routed_components(problem)  # before saying what it would do
                where = ("in this process" if client is None else
                         f"on {len(client.scheduler_info().get('workers', {}))} Dask workers")
                say(f"row generation by independent components, one task per piece, {where}"
                    + ("" if capacity is None else
                       f"; capacitated: {capacity.load_text()}, cut generation with a "
                       "max-flow check of every failure scenario in each piece, then of "
                       "the whole plan"))
                if capacity is None:
                    count = component_sites(problem, client=client)
                else:
                    count, cap_result = capacitated_component_sites(problem, capacity,
                                                                    client=client)
                assert count.components is not None
                solver["strategy"] = "components"
                solver["components"] = {**count.components.info,
                                        "pieces_table": count.components.pieces}
            elif capacity is None:
                count = min_sites(problem)
            else:
                say(f"capacitated: {capacity.load_text()}; "
                    "row and cut generation with a max-flow check of every failure scenario")
                count, cap_result = capacitated_sites_lazy(problem, capacity)
            if count.domains_dropped is not None and problem.count_domains is not None:
                problem = replace(problem, count_domains=None)  # and its placement
                count_fails = _domains_dropped(sites_src, count.domains_dropped,
                                               max_memory_gb)
            lazy = count.lazy
            assert lazy is not None
            timings["reach_s"] = lazy.count_s
            timings["solve_s"] = time.perf_counter() - t - lazy.count_s
            check_any_coverable(problem, count.n_covering, radius_km, radius_access)
            n_pairs = int(count.n_covering.sum())
            solver.update({"rounds": lazy.rounds, "rows_fetched": lazy.rows_fetched,
                           "pairs_fetched": lazy.pairs_fetched})
        n_cov = count.n_covering
        # the budget sweep from here on: it needs only the problem, and started before the
        # count it would share the machine with the count and its rows (issue 15 measures
        # them against the bare tree query)
        background = _start_sweep(
            sweep_opts, demand=demand, sites=sites, shrink=shrink, config=config,
            model=model, service=service, problem=problem, capacity=capacity, say=say,
            strategy=str(solver["strategy"]))

        t = time.perf_counter()
        if (problem.cost is None and max_sites is None and len(count.cover.sites)
                and config.kmedian_time_limit_s > 0):
            how = ("" if reach is not None else " (national: bins for the objective, "
                   "every cell's requirement checked)")
            if capacity is not None:
                how = (" (every failure scenario still carrying the load: capacity cuts, a "
                       "max-flow check per scenario)"
                       if reach is not None and n_pairs <= MAX_PAIRS_EXACT else
                       f" (the uncapacitated {'national ' if reach is None else ''}"
                       "placement, taken if it carries every failure scenario: a max-flow "
                       "check per scenario)")
            say(f"k-median: placing {counted(len(count.cover.sites), 'site')} to minimise "
                "population-weighted latency" + how)
        if count.best is not None:  # --max-sites: the objective chose the sites
            placement = Placement(count.cover.sites, "skipped (the objective chose the sites)")
        elif capacity is None:
            placement = place_sites(problem, count, reach, client=client)
        elif reach is not None:  # the placed plan carries every scenario, or the count's stays
            placement, cap_result = place_capacitated(problem, count, reach, capacity,
                                                      cap_result)
        else:  # row generation: the national placement, its capacity checked
            placement, cap_result = place_capacitated_national(problem, count, capacity,
                                                               cap_result, client=client)
        count.domain_rows = None  # (the count's domain rows: not held past the placement)
        if placement.status.startswith("skipped (") and count.best is None:
            say(f"k-median: {placement.status}: the site-count stage's plan is kept")
        chosen = placement.sites
        timings["kmedian_s"] = time.perf_counter() - t

        say("N-1 check: failing each chosen site in turn")
        t = time.perf_counter()
        demand_out, failure_table, worst_set = assign_and_fail(problem, chosen, n_cov)
        timings["n1_s"] = time.perf_counter() - t
        _warn_idle_required(problem, demand_out)
        _warn_sites_for_nobody(demand_out)

        aggregation_info = None
        if aggregation is not None:
            t = time.perf_counter()
            aggregation_info = check_aggregation(problem, original, aggregation, chosen)
            timings["aggregation_check_s"] = time.perf_counter() - t
            say(f"aggregation check: {aggregation_info['cells_short']:,} of {len(original):,} "
                f"original points ({aggregation_info['population_short']:,.0f} people) short of "
                "their requirement")
        sites_out = site_table(problem, chosen, demand_out, failure_table, radius_km)
        flows = scen_table = scen_loads = None
        if capacity is not None:
            if config.sizing == "least":
                say(f"sizing: the least capacity of the {counted(len(chosen), 'chosen site')} "
                    "that carries every failure scenario (one linear program over them all, "
                    "each near its failed sites until the sizes carry it; up to a minute on "
                    f"national plans, within {config.sizing_limit[0]:g} s "
                    f"({config.sizing_limit[1]}); --sizing off skips it)")
            t = time.perf_counter()
            sites_out, flows, scen_table, cap_info = capacity_outputs(
                problem, capacity, cap_result, chosen, sites_out, reach)
            scen_loads = scenario_load_table(problem, cap_result, sites_out)
            failure_table = flow_failure_columns(failure_table, sites_out, scen_table)
            timings["capacity_outputs_s"] = time.perf_counter() - t
        say(f"rollout order: opening the {counted(len(chosen), 'chosen site')} one at a time")
        t = time.perf_counter()
        # without a reach matrix the chosen sites' pairs, built once: the rollout order's
        # and, with failure domains, their figures'
        chosen_once = (bounded_chosen_reach(problem, chosen)
                        if reach is None and len(chosen) else None)
        rollout, rollout_info = rollout_stage(problem, chosen, n_cov, reach, chosen_once)
        timings["rollout_s"] = time.perf_counter() - t
        candidates = sites.assign(chosen=np.isin(np.arange(len(sites)), chosen))
        # the catalog's time of --workload NAME is named as the classes name it (not
        # "inference_ms": review 112)
        run_workload = (workload.name if workload is not None and (
            model.inference_ms is None
            or tuple(model.inference_ms) == tuple(workload.inference_ms)) else None)
        default_label = preset.name if preset is not None else None
        info = plan_summary(problem, count=count, placement=placement, assignment=demand_out,
                            failure_table=failure_table, radius_km=radius_km,
                            radius_access=radius_access, n_pairs=n_pairs,
                            default_label=default_label, worst_set=worst_set,
                            run_workload=run_workload)
        if count.best is not None:
            assert reach is not None
            info.update(best_summary(problem, count, reach, chosen, demand_out))
        domain_table = None
        dom_info = None
        if (capacity is not None and capacity.domains is not None
                and cap_result is not None and cap_result.reach is not None):
            dom_info, dom_columns, domain_table = _domain_figures(
                problem, capacity.domains, cap_result.reach, cap_result.inverse, chosen,
                info["population_safe_by_failures"], sites_out, demand_out)
        elif plain_domains is not None and len(chosen):
            t = time.perf_counter()
            pattern = reach.boolean() if reach is not None else _chosen_pattern(
                problem, chosen, chosen_once)
            if pattern is not None:
                dom_info, dom_columns, domain_table = _domain_figures(
                    problem, plain_domains, pattern, None, chosen,
                    info["population_safe_by_failures"], sites_out, demand_out,
                    count_fails=count_fails)
            timings["domain_figures_s"] = time.perf_counter() - t
        chosen_once = None  # (the pairs: not needed from here)
        if dom_info is not None:
            info.update(dom_info)
            n_domains = dom_columns["n_domains_in_budget"]
            demand_out = demand_out.assign(**dom_columns)
            dom_columns = None
        plan_domains = (capacity.domains if capacity is not None
                        and capacity.domains is not None else plain_domains)
        if plan_domains is not None and len(chosen) and int(failures) >= 1:
            # each user's worst latency under any k failures of whole domains, and for
            # k >= 2 the single worst set of k domains (the nk_ figures by domain): no
            # reach needed, so also when the figures above were skipped for its size
            t = time.perf_counter()
            nk_columns, nk_figures = domain_nk_figures(
                problem, chosen, plan_domains,
                demand_out["primary_site_id"].notna().to_numpy())
            demand_out = demand_out.assign(**nk_columns)
            info.setdefault("domain_failures", {}).update(nk_figures)
            timings["domain_nk_s"] = time.perf_counter() - t
        t = time.perf_counter()
        taken = None if excluded is None else excluded["site_id"]
        gaps_by = None
        if (dom_info is not None and capacity is None
                and str(count_fails).startswith("whole failure domains")):
            # a point is a gap when its candidates in budget lie in fewer than k + 1
            # domains (row generation: its chosen sites', which the count gave
            # min(k + 1, |D_i|) domains), lacking k + 1 less the domains of its chosen
            # sites in budget; a proposal is a domain of its own (with --domain-radius-km:
            # farther than that from every candidate and every other proposal)
            gaps_by = "failure domains"
            apart_m = (float(domain_radius_km) * 1000.0 if domain_radius_km is not None
                       and "failure_domain" not in sites.columns else None)
            spans = (row_domains(reach.boolean(), domain_codes(plain_domains))
                     if reach is not None else n_domains)
            # the statuses count domains too: a point is redundant when its candidates in
            # budget lie in k + 1 domains (row generation: its chosen sites', which the
            # count made min(k + 1, |D_i|), so the status is the same)
            status = coverage_status_categorical(spans, failures)
            demand_out = demand_out.assign(coverage_status=status)
            info.update(status_figures(np.asarray(status, dtype=object), problem.population))
            info["by_service_class"] = by_service_class(problem, demand_out, spans,
                                                        default_label,
                                                        run_workload=run_workload)
            info["statuses_by"] = "failure domains"
            proposal = propose_gaps(problem, demand_out, spans, None, reach,
                                    taken_ids=taken, apart_m=apart_m, n_open=n_domains)
            say(f"proposed sites by failure domain: {proposal.n_gap_points:,} point(s) "
                f"({proposal.population_gap:,.0f} people) have their candidates within "
                f"budget in fewer than {failures + 1} domains; "
                f"{counted(len(proposal.sites), 'new site')}, each a domain of its own"
                + (f"; {proposal.n_still_short:,} point(s) still short"
                   if proposal.n_still_short else ""))
        else:
            gaps_by = (None if plain_domains is None else
                       "single sites" if not str(count_fails).startswith("whole") else
                       "single sites (the figures by domain were not computed)")
            if gaps_by is not None:  # a plan with domains whose statuses count sites
                info["statuses_by"] = gaps_by
            # a fewest-sites plan opens every candidate of a gap point (its requirement
            # is min(k + 1, |N_i|)): only a --max-sites plan counts its own open sites
            proposal = propose_gaps(problem, demand_out, n_cov,
                                    chosen if config.max_sites is not None else None, reach,
                                    taken_ids=taken)
        timings["proposals_s"] = time.perf_counter() - t
        info.update({
            "solver": solver,
            "aggregation": aggregation_info,
            "failure_check": failure_check(int(failures), cap_info if capacity is not None
                                           else None, domains=dom_info is not None),
            "proposed": {**proposal.summary(),
                         **({} if gaps_by is None else {"gaps_by": gaps_by})},
            "placement": placement.info,
            "rollout": rollout_info,
            "timings_s": timings,
            "runtime_s": time.perf_counter() - t_start,
            "latency_model": model.summary(),
            "tiers": tier_summary(problem),
            "workload": None if workload is None else workload.to_dict(),
            "capacity": cap_info if capacity is not None else None,
            "candidates_excluded": int(len(excluded)),
            "routing": problem.routing.summary(),
            "parameters": {
                "latency_model": model.to_dict(),
                # every option of config.PLANNER_OPTIONS; two keep their earlier names
                **{_PARAMETER_NAMES.get(k, k): v for k, v in config.to_dict().items()},
                "access_classes": problem.access_classes,
                # sites closer than this fail together (the candidates' check, the
                # proposals' spacing); not recorded before (tester 158)
                "colocated_m": float(problem.sites.attrs.get("colocated_m",
                                                             DEFAULT_COLOCATED_M)),
                "budget_preset": preset.name if preset is not None else None,
                "required_sites": int(problem.required.sum()),
                "objective": ("min_cost" if problem.cost is not None else "min_sites")
                if count.best is None else info["objective"],
            },
            "inputs": inputs or {},
            "version": __version__,
        })
        cut = info["capacity"]
        if (cut is not None and cut.get("scenarios_complete") is False
                and info["status"] != "time_limit_short"):  # that one says it itself
            logging.getLogger(PROOF_LOGGER).warning(
                "the capacity check's failure scenarios were cut at the scenario limit "
                "(%s of %s checked, the riskiest first): the plan (status %s) is NOT proven "
                "to carry the load in the others; raise scenario_limit to %s or more for a "
                "proof", f"{cut['scenarios_checked']:,}",
                f"{cut['scenarios_total']:,}", info["status"],
                f"{cut['scenarios_total']:,}")
        plan = Plan(
            sites=sites_out, demand=demand_out, failures=failure_table, candidates=candidates,
            reach=reach, model=model, budget_ms=budget_ms, percentile=percentile,
            failures_tolerated=int(failures), radius_km=float(radius_km), info=info,
            proposed=proposal.sites, service=service, tier_catalog=problem.tier_catalog,
            routing=problem.routing, flows=flows, capacity_scenarios=scen_table,
            capacity=capacity,
            excluded=excluded, scenario_loads=scen_loads, rollout=rollout,
            user_columns=user_columns, domain_failures=domain_table,
        )
    except BaseException:
        if background is not None:
            background.close()
        raise
    if sweep_opts is None:
        return plan
    if not sweep_opts["wait"]:
        return replace(plan, pending_sweep=_PendingSweep(background, sweep_opts, say))
    return _attach_sweep(plan, background, sweep_opts, say)


@dataclass(frozen=True)
class _PendingSweep:
    """A budget sweep not yet attached to its plan (:attr:`Plan.pending_sweep`): running in
    its process (``background``), or to run here (``background`` is ``None``). Copies of the
    plan (``dataclasses.replace``, ``copy.deepcopy``) share it; the first
    :meth:`Plan.finish_sweep` keeps its outcome in ``done`` for the others."""

    background: Any
    opts: dict[str, Any]
    say: Callable[[str], None]
    done: dict[str, Any] = field(default_factory=dict)

    def __deepcopy__(self, memo: dict[int, Any]) -> _PendingSweep:
        return self  # one process, shared by every copy of the plan

    def __reduce__(self) -> Any:
        raise TypeError("a plan whose budget sweep is pending cannot be pickled: call "
                        "plan.finish_sweep() (or plan.close_sweep()) first")


_SWEEP_KEYS = ("budgets_ms", "time_limit_s", "total_time_s", "process", "wait")


def inputs_client_problems(inputs: Any, client: Any) -> list[str]:
    """The problems of :func:`plan_sites`'s ``inputs`` and ``client``, one sentence each.

    Parameters
    ----------
    inputs : Any
        Must be ``None`` or a mapping; its ``"demand"`` and ``"candidates"`` entries, when
        there, mappings (as :func:`coverage.inputs.tables.file_info` makes them).
    client : Any
        Must be ``None`` or a ``distributed.Client`` (anything with its
        ``scheduler_info`` and ``submit`` methods).

    Returns
    -------
    list of str
        Empty when both are valid.
    """
    found = []
    example = "e.g. {'demand': {'path': 'demand.csv'}, 'candidates': {'path': 'sites.csv'}}"
    if inputs is not None and not isinstance(inputs, Mapping):
        found.append(f"inputs must be a mapping describing the input files; got "
                     f"{typed_value(inputs)}. Fix: give {example}, or leave "
                     "it out (it is only recorded in the summary)")
    elif inputs is not None:
        bad = [role for role in ("demand", "candidates")
               if role in inputs and not isinstance(inputs[role], Mapping)]
        if bad:
            found.append(f"inputs[{bad[0]!r}] must be a mapping (e.g. {{'path': ...}}); got "
                         f"{type(inputs[bad[0]]).__name__}. Fix: give {example}, or leave "
                         "inputs out")
    if client is not None and not all(callable(getattr(client, m, None))
                                      for m in ("scheduler_info", "submit")):
        found.append(f"client must be a Dask distributed.Client; got "
                     f"{typed_value(client)}. Fix: pass one, e.g. "
                     "distributed.Client(n_workers=2), or leave client out to plan in this "
                     "process")
    return found


def sweep_options(sweep: Any) -> dict[str, Any] | None:
    """The checked ``sweep`` option of :func:`plan_sites` (``None``: no sweep).

    Raises
    ------
    InputValidationError
        Not a bool or mapping, an unknown key, a bad budget, limit or process choice.
    """
    from .background import SWEEP_PROCESS_CHOICES
    from .sweep import check_sweep_options

    if sweep is None or sweep is False:
        return None
    if sweep is True:
        sweep = {}
    if not isinstance(sweep, Mapping):
        raise InputValidationError(
            f"sweep must be True, False, None or a mapping of {', '.join(_SWEEP_KEYS)}; "
            f"got {type(sweep).__name__}")
    unknown = sorted(set(map(str, sweep)) - set(_SWEEP_KEYS))
    if unknown:
        raise InputValidationError(
            f"sweep has unknown option(s) {', '.join(unknown)}; known: {', '.join(_SWEEP_KEYS)}")
    opts = {"budgets_ms": None, "time_limit_s": 2.0, "total_time_s": None, "process": "auto",
            "wait": True, **sweep}
    if not isinstance(opts["wait"], bool):
        raise InputValidationError(f"sweep wait must be True or False; got {opts['wait']!r}")
    from .sweep import DEFAULT_BUDGETS_MS

    # the checked list, not the object given (a generator would be used up by the check)
    opts["budgets_ms"] = check_sweep_options(
        DEFAULT_BUDGETS_MS if opts["budgets_ms"] is None else opts["budgets_ms"],
        opts["time_limit_s"], opts["total_time_s"])
    if opts["process"] not in SWEEP_PROCESS_CHOICES:
        raise InputValidationError(
            f"sweep process (--sweep-process) must be one of "
            f"{', '.join(SWEEP_PROCESS_CHOICES)}; got {opts['process']!r}")
    return opts


def _start_sweep(opts: dict[str, Any] | None, *, demand: pd.DataFrame, sites: pd.DataFrame,
                 shrink: Any, config: PlannerConfig, model: LatencyModel, service: Any,
                 problem: Problem, capacity: Any, say: Callable[[str], None],
                 strategy: str = "auto") -> Any:
    """The budget sweep started in a second process (``None`` when it runs here later);
    ``strategy`` is the one the plan's count ran by."""
    from .background import BackgroundSweep, wants_process

    if opts is None or not wants_process(opts["process"], len(demand)):
        return None
    kwargs = _sweep_arguments(
        demand, sites, budgets_ms=opts["budgets_ms"], budget_ms=config.budget_ms,
        failures=config.failures, percentile=config.percentile, access=config.access,
        model=model, time_limit_s=opts["time_limit_s"], total_time_s=opts["total_time_s"],
        radius_shrink_km=shrink, service=service, tiers=problem.tier_catalog,
        routing=problem.routing, capacity=capacity, max_sites=config.max_sites,
        scenario_limit=config.scenario_limit, domain_radius_km=config.domain_radius_km,
        strategy=strategy)
    if kwargs["always_ms"] is None:  # the plan's own budget: its row comes from the plan
        kwargs["own"] = (config.budget_ms, config.failures)
    try:
        background = BackgroundSweep(kwargs, progress=say)
    except Exception as exc:  # noqa: BLE001 - pickling or the process start: run it here
        logger.warning("the budget sweep cannot start in a second process (%s: %s): it runs "
                       "in this one after the plan", type(exc).__name__, exc)
        return None
    try:
        say(f"budget sweep: {_sweep_what(opts, config.budget_ms)}, in a second process "
            "alongside the plan")
    except BaseException:  # a progress sink that raises, Ctrl-C: the child is stopped
        background.close()
        raise
    return background


def _sweep_what(opts: dict[str, Any], budget_ms: float) -> str:
    """``9 budgets, MILP limit 2 s each, 60 s in all``."""
    return (f"{len(_sweep_budgets(opts, budget_ms))} budgets, MILP limit "
            f"{opts['time_limit_s']:g} s each"
            + (f", {opts['total_time_s']:g} s in all" if opts["total_time_s"] else ""))


def _attach_sweep(plan: Plan, background: Any, opts: dict[str, Any],
                  say: Callable[[str], None]) -> Plan:
    """``plan`` with its sweep: the second process's result, or solved here. A sweep that
    fails leaves the plan without one (``info["sweep"]["error"]``): it is optional."""
    from .background import SweepProcessError
    from .sweep import with_plan_rows

    if background is None:
        say(f"budget sweep: {_sweep_what(opts, plan.budget_ms)}")
        t = time.perf_counter()
        try:
            table = plan.with_sweep(opts["budgets_ms"], time_limit_s=opts["time_limit_s"],
                                    total_time_s=opts["total_time_s"], progress=say).sweep
        except Exception as exc:  # noqa: BLE001 - the sweep is optional: the plan is kept
            return _without_sweep(plan, "inline", f"{type(exc).__name__}: {exc}".strip())
        stats: dict[str, Any] = {"process": "inline", "wall_s": time.perf_counter() - t}
    else:
        try:
            table = with_plan_rows(background.result(), plan)
        except Exception as exc:  # noqa: BLE001 - the sweep is optional: the plan is kept
            return _without_sweep(plan, "background", str(exc) if isinstance(
                exc, SweepProcessError) else f"{type(exc).__name__}: {exc}".strip())
        finally:
            background.close()
        stats = background.stats
    return replace(plan, sweep=table, info={**plan.info, "sweep": stats})


def _without_sweep(plan: Plan, process: str, reason: str) -> Plan:
    """``plan`` kept without its failed sweep (``info["sweep"]["error"]`` says why)."""
    # said again as the reason of the report not written: the command line says that once
    logging.getLogger(SKIPPED_LOGGER).warning(
        "the budget sweep failed%s (%s): the plan is kept without it",
        " in its process" if process == "background" else "", reason)
    logger.debug("traceback of the sweep", exc_info=True)
    return replace(plan, info={**plan.info, "sweep": {"process": process, "error": reason}})


def _sweep_budgets(opts: dict[str, Any], budget_ms: float) -> list[float]:
    """The budgets a sweep with options ``opts`` reports (the plan's ``budget_ms`` too)."""
    from .sweep import DEFAULT_BUDGETS_MS

    given = DEFAULT_BUDGETS_MS if opts["budgets_ms"] is None else opts["budgets_ms"]
    return sorted(set(map(float, given)) | {float(budget_ms)})


#: Columns of ``domain_failures.csv`` (:attr:`Plan.domain_failures`): each domain holding
#: a chosen site, the people its failure alone leaves with no chosen site in budget
#: (:func:`~coverage.resilience.status.domain_safety`), and its users rerouted to the
#: nearest chosen site outside it (:func:`~coverage.resilience.domain_reroute.domain_reroute`).
DOMAIN_FAILURE_COLUMNS = ("failure_domain", "n_chosen_sites", "chosen_site_ids",
                          "population_primary", "population_outside_budget",
                          *DOMAIN_REROUTE_COLUMNS)
#: Demand columns the planner computes (an input column of that name is replaced by the
#: plan's value): those of ``assignment.csv`` that are not the input's, and the primary
#: site's distance it keeps to itself.
DEMAND_OUTPUT_COLUMNS = (*(c for c in ASSIGNMENT_COLUMNS if c not in DEMAND_INPUT_COLUMNS),
                         "primary_distance_km")
#: Columns of ``sites.csv`` the planner computes (``power_kw`` and ``capacity_rps`` are
#: inputs too: a capacitated plan writes the figures it used).
SITE_OUTPUT_COLUMNS = (
    "population_primary", "n_demand_primary", "population_backup",
    "population_outside_budget_if_failed", "worst_latency_if_failed_ms", "radius_km",
    "n_accelerators", "load_rps", "utilisation", "worst_utilisation", "worst_failure",
    "sized_capacity_rps", "sized_normal_load_rps")


def source_name(info: Mapping[str, Any], kind: str) -> str:
    """How messages name an input: its path, the embedded places (``--demo``: "GeoNames
    candidates of LU (>= 100,000 people)"; it read ``<sites>``, tester 174) or
    ``<demand>`` / ``<sites>`` for a table passed in."""
    if "path" in info:
        return str(info["path"])
    if "country" in info:
        what = "demand" if kind == "demand" else "candidates"
        floor = info.get("min_population")
        return (f"GeoNames {what} of {info['country']}"
                + (f" (>= {floor:,} people)" if isinstance(floor, int) else ""))
    return f"<{kind}>"


def _warn_output_names(demand: pd.DataFrame, sites: pd.DataFrame, *, demand_source: str,
                       sites_source: str) -> None:
    """Warn, before the work, about input columns named like a column the plan computes:
    the outputs hold the plan's values under that name, not the input's (a ``radius_km``
    column of the candidates was replaced in ``sites.csv`` without a word). A warning, not
    a refusal: a plan's own ``assignment.csv`` given back as demand is a fair input."""
    for source, frame, names, file in (
            (demand_source, demand, DEMAND_OUTPUT_COLUMNS, "assignment.csv"),
            (sites_source, sites, SITE_OUTPUT_COLUMNS, "sites.csv")):
        clash = [str(c) for c in frame.columns if str(c) in names]
        if clash:
            logger.warning(
                "%s: column(s) %s are computed by the plan: %s holds the plan's values "
                "under %s, not the input's%s. Fix: rename them to keep them (e.g. %s_input)",
                source, ", ".join(clash), file, "that name" if len(clash) == 1
                else "those names", " (left out where this plan computes none)"
                if file == "assignment.csv" else "", clash[0])


def site_capacity(demand: pd.DataFrame, sites: pd.DataFrame, *, model: LatencyModel,
                  tier_catalog: Any, workloads: Any = None,
                  requests_per_person_day: float | None = None,
                  peak_to_mean: float = DEFAULT_PEAK_TO_MEAN,
                  target_utilisation: float = DEFAULT_TARGET_UTILISATION,
                  domain_radius_km: float | None = None, max_sites: int | None = None,
                  aggregate_km: Any = None, aggregate_h3: Any = None,
                  demand_source: str = "<demand>", sites_source: str = "<sites>",
                  say: Callable[[str], None] | None = None, warn: bool = True,
                  service: ServiceRows | None = None,
                  ) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, CapacitySetup | None,
                             Any]:
    """The candidates that can host the run's workload, their accelerators and the
    capacity model, with every check on them that needs the inputs (``plan_sites``'s
    first step; a batch runs it on every scenario before planning any). ``service``: the
    rows' service classes (:func:`resolve_plan_service`); in a capacitated plan, rows on
    other workloads than the model's share the sites' accelerators with it
    (:func:`coverage.model.capacity.shared_pool`: the load counted in requests/s of the
    model's workload), or are refused when they cannot.

    Returns
    -------
    sites : pandas.DataFrame
        The candidates that can host the workload.
    n_accelerators : numpy.ndarray
        Accelerators per kept candidate (``-1``: power unknown).
    excluded : pandas.DataFrame
        The candidates that cannot host it, with the reason.
    capacity : CapacitySetup or None
        The capacity model (``None``: no load, the uncapacitated plan).
    workload : Workload
        The workload of ``model`` in the catalog of ``workloads``.

    Raises
    ------
    InputValidationError
        A candidate without capacity in a capacitated plan, a bad load, capacity, power or
        failure-domain column, ``max_sites`` with a capacitated plan, out of range of the
        candidates, or capacity with aggregation.
    NoFeasiblePlanError
        No candidate can host the workload.
    """
    catalog = WorkloadCatalog.from_spec(workloads)
    workload = catalog.get(model.workload)
    n_acc, excluded = fit_sites(sites, workload, tier_catalog, source=sites_source)
    if len(excluded) and "required" in sites.columns:
        # an existing site the plan must keep cannot be dropped without a word (a tester's
        # find: it left the plan, and only the count of excluded candidates said so)
        req = set(sites.loc[sites["required"].to_numpy(dtype=bool), "site_id"])
        bad = excluded[excluded["site_id"].isin(req)]
        if len(bad):
            shown = "; ".join(f"{sid!r}: {why}" for sid, why in
                              zip(bad["site_id"].head(5), bad["reason"].head(5), strict=True))
            raise InputValidationError(
                f"{sites_source}: {len(bad):,} required site(s) cannot host the workload "
                f"{workload.name!r} ({shown}{' ...' if len(bad) > 5 else ''}), and a plan "
                "must keep them. Fix: give them the power (power_kw or their tier) for the "
                "workload, choose another --workload, or mark them not required")
    if len(excluded):
        keep = ~sites["site_id"].isin(excluded["site_id"]).to_numpy()
        if say is not None:
            say(f"{len(excluded):,} of {len(sites):,} candidates cannot host {workload.name} "
                "(power envelope or memory): excluded (candidates_excluded.csv)")
        sites, n_acc = sites.loc[keep].reset_index(drop=True), n_acc[keep]
    capacity = build_capacity(demand, sites, workload=workload, catalog=tier_catalog,
                              n_accelerators=n_acc,
                              requests_per_person_day=requests_per_person_day,
                              peak_to_mean=peak_to_mean,
                              target_utilisation=target_utilisation,
                              domain_radius_km=domain_radius_km, demand_source=demand_source,
                              sites_source=sites_source, warn=warn,
                              # classes on other workloads share the sites' accelerators
                              # (refused when they cannot: another system, no throughput,
                              # models too large together)
                              row_workload=None if service is None else service.workload,
                              workload_catalog=catalog)
    if capacity is not None and max_sites is not None:
        # what made the plan capacitated (tester 181: "the demand's load_rps column" for a
        # demand without one, beside the options' own message)
        if "load_rps" in demand.columns:
            raise InputValidationError(
                "max_sites (--max-sites) cannot be combined with a capacitated plan (the "
                "demand's load_rps column): the best P sites are not sized for a load. Fix: "
                "drop the load_rps column, or drop --max-sites for the fewest sites that "
                "carry the load")
        raise InputValidationError(
            "max_sites (--max-sites) cannot be combined with a capacitated plan "
            "(--requests-per-person-day): the best P sites are not sized for a "
            "load. Fix: drop --requests-per-person-day, or drop --max-sites for "
            "the fewest sites that carry the load")
    if max_sites is not None:
        check_max_sites(sites, int(max_sites), sites_source, warn=warn)
    if capacity is not None and (aggregate_km is not None or aggregate_h3 is not None):
        raise InputValidationError(
            "a capacitated plan (a load_rps column or --requests-per-person-day) cannot be "
            "combined with --aggregate-km / --aggregate-h3. Fix: drop the aggregation")
    return sites, n_acc, excluded, capacity, workload


def check_max_sites(sites: pd.DataFrame, p: int, source: str = "<sites>", *,
                    warn: bool = True) -> None:
    """Refuse ``max_sites`` above the (hostable) candidates or below the required sites; a
    ``cost`` column is not used with it (logged when ``warn``)."""
    if p > len(sites):
        raise InputValidationError(
            f"max_sites (--max-sites) {p} is more than the {len(sites):,} candidate sites of "
            f"{source} (after excluding those that cannot host the workload). Fix: give "
            f"--max-sites {len(sites)} or fewer")
    n_req = int(sites["required"].sum()) if "required" in sites.columns else 0
    if n_req > p:
        raise InputValidationError(
            f"max_sites (--max-sites) {p} is fewer than the {n_req:,} required sites of "
            f"{source} (its 'required' column): they are always open. Fix: give "
            f"--max-sites {n_req} or more")
    if warn and "cost" in sites.columns:
        logger.warning("%s: the cost column is not used with --max-sites (the plan opens "
                       "%d sites, whatever they cost)", source, p)


def aggregate_demand(demand: pd.DataFrame, config: PlannerConfig) -> Aggregation:
    """Bin demand into grid squares (``aggregate_km``) or H3 cells (``aggregate_h3``)."""
    try:
        if config.aggregate_h3 is not None:
            return aggregate_h3_bins(demand, int(config.aggregate_h3))
        return aggregate_grid(demand, float(config.aggregate_km))
    except (TypeError, ValueError) as exc:
        raise InputValidationError(str(exc)) from None


def _warn_wide_bins(bins: pd.DataFrame, model: LatencyModel, budget_ms: float,
                    percentile: str, what: str, mode: str) -> None:
    """Warn when a bin's farthest member is as far from its centroid as the budget's radius
    of the bin's access class.

    Such bins plan at a point that says little of their members: centroid mode leaves
    members short (the aggregation check counts them), conservative mode leaves those bins
    no candidate at all. (Each bin against its own class's radius: against the largest
    class's, 10 % of LAN rows hid FTTH bins twice their radius wide; tester 152.)
    """
    if "max_offset_km" not in bins.columns or "access" not in bins.columns:
        return
    access = bins["access"].astype(str).to_numpy()
    radius = np.full(len(bins), np.inf)
    for c in pd.unique(access):
        if model.fixed_ms(c, percentile) <= budget_ms:  # (else uncoverable anyway)
            radius[access == c] = model.radius_km(budget_ms, c, percentile)
    offset = bins["max_offset_km"].to_numpy(dtype=np.float64)
    wide = (offset >= radius) & (radius > 0)
    if not wide.any():
        return
    tight = float(radius[wide].min())
    classes = ", ".join(f"{c} {model.radius_km(budget_ms, c, percentile):.0f} km"
                        for c in sorted(set(access[wide])))
    logger.warning(
        "%d of %d bins (%s) have a member at least the budget's radius of their access "
        "class (%s) from the bin's centroid (the farthest %s km): %s. Fix: bins well below "
        "the radius (e.g. --aggregate-km %.3g, or a finer --aggregate-h3)",
        int(wide.sum()), len(offset), what, classes,
        f"{float(offset[wide].max()):,.0f}",
        "those bins get no candidate in reach" if mode == "conservative"
        else "their members far from the centroid will be short of the budget",
        suggested_bin_km(tight))


def _domains_dropped(sites_src: str, why: str, max_memory_gb: float) -> str:
    """Say that a count with failure domains fails single sites (``why``: their rows are
    above half of ``max_memory_gb``), and return its ``count_fails``."""
    logger.warning(
        "%s: this plan's site count fails single sites, not whole domains: %s (half of "
        "--max-memory-gb %g); domain_failures.csv and n_domains_in_budget say what a "
        "domain's failure does. Fix: raise --max-memory-gb, or fewer failures", sites_src,
        why, max_memory_gb)
    return "single sites (the domains' rows above --max-memory-gb)"


def _chosen_pattern(problem: Problem, chosen: np.ndarray,
                    chosen_once: tuple[Any, int] | None) -> Any:
    """The pairs within budget of the chosen sites of a plan made by row generation (no
    reach matrix; :func:`bounded_chosen_reach`, built once with the rollout order), or
    ``None`` when their estimated size is above half of ``max_memory_gb`` (logged)."""
    pattern, est = chosen_once or bounded_chosen_reach(problem, chosen)
    if pattern is None:
        logger.warning("failure domains: no domain_failures.csv, n_domains_in_budget or "
                       "N-j safe population by domain (the domain_nk_ latencies are "
                       "computed): the reach of the %d chosen sites has %s pairs, above "
                       "half of --max-memory-gb %g", len(chosen), f"{est:,}",
                       problem.config.max_memory_gb)
    return pattern


def _domain_figures(problem: Problem, domains: np.ndarray, pattern: Any,
                    inverse: np.ndarray | None, chosen: np.ndarray,
                    by_sites: Mapping[str, float], sites_out: pd.DataFrame,
                    assignment: pd.DataFrame, *, count_fails: str | None = None,
                    ) -> tuple[dict[str, Any], dict[str, Any], pd.DataFrame]:
    """``summary.json``'s figures of the failure domains (shared-risk groups): the
    population N-j safe when whole domains fail (:func:`coverage.resilience.status.
    domain_safety` on ``pattern``, the points x candidates within budget, ``inverse`` the
    row of each original point), and a warning when fewer people are safe so than by
    single sites; each demand point's ``n_domains_in_budget`` and the
    ``domain_failures.csv`` table (:attr:`Plan.domain_failures`). (The ``domain_nk_*``
    columns and their figures need no pattern: the caller adds them,
    :func:`coverage.resilience.domain_nk.domain_nk_figures`.)

    ``population_safe_by_failures``, ``failures.csv`` and the top-level ``nk_`` figures
    count single sites; the statuses too, but for a plan whose count failed whole domains
    (set by the caller). ``count_fails`` ``None``: a capacitated plan, whose check removes
    whole domains but excuses a user whose candidates within budget all lie in failed
    domains (tester 154: people in one domain only were reported N-1 safe). Otherwise a
    plan without a load, whose count failed ``"whole failure domains"`` (the rows of
    :mod:`coverage.solvers.domain_rows`: people still short have their candidates in
    fewer domains) or ``"single sites (...)"``; it is recorded in the figures."""
    from ..resilience.status import domain_safety

    k = int(problem.config.failures)
    got = domain_safety(pattern, chosen, domains, problem.population, k, inverse=inverse)
    safe = got["population_safe"]
    short = by_sites.get(f"N-{k}", 0.0) - safe.get(f"N-{k}", 0.0)
    if k >= 1 and short > 0:
        if count_fails is None:
            how = ("the capacity check excuses users whose candidates within budget all lie "
                   "in the failed domains. Fix: candidates in other domains near them")
        elif (count_fails.startswith("whole") and "--max-sites" in count_fails
              and problem.config.resolved_objective == "p-center"):
            how = ("this plan's --max-sites p-center objective gives every point chosen "
                   "sites in min(k + 1, its domains in budget) domains within its worst "
                   "latency, so these people have their candidates within budget in too few "
                   "domains. Fix: candidates in other domains near them")
        elif count_fails.startswith("whole") and "--max-sites" in count_fails:
            how = ("this plan's --max-sites objective puts in k + 1 domains the most people "
                   "its sites can, after the most people within budget. Fix: raise "
                   "--max-sites, or drop it for the fewest sites that keep everyone so")
        elif count_fails.startswith("whole"):
            how = ("this plan's count gives every point chosen sites in min(k + 1, its "
                   "domains in budget) domains, so these people have their candidates "
                   "within budget in too few domains. Fix: candidates in other domains "
                   "near them")
        else:
            how = (f"this plan has no load and its count failed {count_fails}. Fix: "
                   "candidates in other domains near them, or see the warning on the "
                   "count above")
        logger.warning(
            "failure domains: %s people keep %d chosen sites within budget but not in %d "
            "domains, so a failure of %d domain(s) can leave them outside budget (N-%d safe "
            "by domains: %s, by single sites: %s; the worst single domain, %s, leaves %s "
            "people outside budget). %s; %s",
            f"{short:,.0f}", k + 1, k + 1, k, k, f"{safe.get(f'N-{k}', 0.0):,.0f}",
            f"{by_sites.get(f'N-{k}', 0.0):,.0f}", got["worst_domain"],
            f"{got['worst_domain_population_outside_budget']:,.0f}",
            "failures.csv and the N-k figures count single sites, the statuses domains"
            if count_fails is not None and count_fails.startswith("whole")
            else "The statuses, failures.csv and the N-k figures count single sites", how)
    chosen = np.asarray(chosen, dtype=np.int64)
    site_dom = pd.Series(np.asarray(domains, dtype=object)[chosen]).astype(str)
    ids = pd.Series(problem.sites["site_id"].to_numpy(dtype=object)[chosen]).astype(str)
    primary = sites_out.set_index(sites_out["site_id"].astype(str))["population_primary"]
    per_site = pd.DataFrame({
        "failure_domain": site_dom.to_numpy(dtype=object),
        "site_id": ids.to_numpy(dtype=object),
        "population_primary": primary.reindex(ids).fillna(0.0).to_numpy(dtype=np.float64)})
    grouped = per_site.groupby("failure_domain", sort=False).agg(
        n_chosen_sites=("site_id", "size"), chosen_site_ids=("site_id", ";".join),
        population_primary=("population_primary", "sum"))
    # the users of each domain's sites rerouted outside it (as failures.csv's)
    reroute = domain_reroute(problem, assignment, chosen, domains)
    table = got["by_domain"].join(grouped, on="failure_domain").join(
        reroute, on="failure_domain")[list(DOMAIN_FAILURE_COLUMNS)]
    lat = reroute["worst_latency_ms"]
    slow = lat.idxmax() if lat.notna().any() else None
    info = {"population_safe_by_domain_failures": safe,
            "domain_failures": {
                # demand and people by the number of domains of chosen sites within budget
                # (0, 1, ..., k, >= k+1), as the top-level coverage_by_k counts sites
                "coverage_by_k": coverage_by_k(got["n_domains"], problem.population, k),
                "worst_domain": got["worst_domain"],
                "worst_domain_population_outside_budget":
                    got["worst_domain_population_outside_budget"],
                "population_one_domain": got["population_one_domain"],
                # the users of a failed domain's sites at the nearest chosen site outside
                "worst_rerouted_latency_ms": (float(lat[slow]) if slow is not None
                                              else float("nan")),
                "worst_rerouted_latency_domain": None if slow is None else str(slow),
                "n_domains_meeting_budget": int(reroute["meets_budget"].sum()),
                "n_domains_with_chosen_sites": int(len(reroute)),
                "note": "population_safe_by_domain_failures counts chosen sites within "
                        "budget by failure domain (N-j: j + 1 domains or more), and the "
                        "nk_ figures here whole domains (each user's worst k domain "
                        "failures, and for k >= 2 the single worst set of k domains); "
                        "population_safe_by_failures, failures.csv and the top-level nk_ "
                        "figures count single sites; domain_failures.csv has every "
                        "domain holding a chosen site, failed alone, with its users "
                        "rerouted to the nearest chosen site outside it (latency, people "
                        "left outside budget), and assignment.csv each point's "
                        "n_domains_in_budget and domain_nk_ columns",
                "count_fails": ("whole failure domains (capacity check)"
                                if count_fails is None else count_fails)}}
    return info, {"n_domains_in_budget": got["n_domains"]}, table


def _log_infeasible_classes(problem: Problem) -> None:
    """Classes present that cannot meet the budget at distance 0: their points are
    uncoverable (the plan goes on for the others)."""
    rows = problem.rows_unshrunk
    if problem.service is not None or rows.tier_rows is not None:
        # per-row budgets or tiers: the rows that cannot meet theirs, and why (tester 153:
        # a row allowed only a tier no candidate has was said to be too slow, with the
        # access classes of rows that were not)
        mask = np.asarray(rows.radius_km) < 0
        tr = rows.tier_rows
        no_tier = (mask & ~np.asarray(tr.allowed).any(axis=1) if tr is not None
                   else np.zeros(len(mask), dtype=bool))
        slow_rows = mask & ~no_tier
        access = problem.demand["access"].astype(str).to_numpy()
        if no_tier.any():
            named = (problem.demand["tiers"].astype(str).to_numpy()[no_tier]
                     if "tiers" in problem.demand.columns else np.asarray([], dtype=str))
            logger.warning(
                "%d demand points (%s people) may use only site tiers no candidate has "
                "(their tiers: %s): they are uncoverable. Fix: add candidates of one of "
                "those tiers, or let those rows use others (their 'tiers' column)",
                int(no_tier.sum()), f"{float(problem.population[no_tier].sum()):,.0f}",
                ", ".join(sorted(set(named))) or "none")
        if slow_rows.any():
            logger.warning(
                "%d demand points (%s people) cannot meet their own budget even at "
                "distance 0 (access %s): they are uncoverable", int(slow_rows.sum()),
                f"{float(problem.population[slow_rows].sum()):,.0f}",
                ", ".join(sorted(set(access[slow_rows]))))
        return
    slow = list(problem.rows.infeasible_classes)
    if not slow:
        return
    mask = problem.demand["access"].astype(str).isin(slow).to_numpy()
    logger.warning(
        "%d demand points (%s people) with %s access cannot meet a %s budget of %g ms even "
        "at distance 0: they are uncoverable", int(mask.sum()),
        f"{float(problem.population[mask].sum()):,.0f}", ", ".join(slow),
        problem.config.percentile, problem.config.budget_ms)


def aggregation_problem(demand: pd.DataFrame, sites: pd.DataFrame, *, model: LatencyModel,
                        tier_catalog: Any, upf: Any = "default", backbone: Any = None,
                        aggregate_km: float | None = None, aggregate_h3: int | None = None,
                        option_style: str = "cli") -> str | None:
    """Why the aggregation options cannot be used with these tables and options, or
    ``None``: a plan whose pair latency depends on the site or the path (a tier that
    changes the latency, a demand ``tiers`` column, mobile rows with UPFs, a backbone)
    cannot aggregate, since the aggregation check measures great-circle radii only.
    Checked before the work (``plan_sites``, and the batch's check of its scenarios) on
    validated tables, ``demand`` with its ``access`` column; ``option_style`` "toml"
    names the options as a batch file spells them."""
    if aggregate_km is None and aggregate_h3 is None:
        return None
    has_mobile = "access" in demand.columns and bool(
        demand["access"].isin(frozenset(MOBILE_ACCESS)).any())
    anchors = has_mobile and not (upf is None or (isinstance(upf, str) and upf == "none"))
    if not (anchors or backbone is not None
            or tiers_change_latency(demand, sites, model, tier_catalog)):
        return None
    if option_style == "toml":
        return (AGGREGATION_ROUTED.replace("--aggregate-km / --aggregate-h3",
                                           "aggregate_km / aggregate_h3")
                .replace("(--upf)", "(upf)").replace("(--backbone)", "(backbone)")
                .replace("no --upf / --backbone", "no upf / backbone"))
    return AGGREGATION_ROUTED


#: :func:`aggregation_problem`'s message.
AGGREGATION_ROUTED = (
    "--aggregate-km / --aggregate-h3 cannot be combined with site tiers that change the "
    "latency, a demand 'tiers' column, mobile anchors (--upf) or a backbone (--backbone): "
    "the aggregation check measures great-circle radii only. Fix: drop the aggregation, or "
    "give every site the reference tier (metro-colo) and no --upf / --backbone")


def build_routing(demand: pd.DataFrame, *, upf: Any = "default", backbone: Any = None,
                  model: LatencyModel, edge_factor: float | None = None,
                  latency_attr: str | None = None) -> Routing:
    """The :class:`~coverage.model.routing.Routing` of :func:`plan_sites`'s ``upf`` and
    ``backbone`` options (files read and checked here, before any work)."""
    mobile = frozenset(MOBILE_ACCESS)
    has_mobile = "access" in demand.columns and bool(demand["access"].isin(mobile).any())
    frame: pd.DataFrame | None = None
    if upf is None or (isinstance(upf, str) and upf == "none"):
        frame = None
    elif isinstance(upf, pd.DataFrame):
        frame = upf
    elif isinstance(upf, str) and upf == "default":
        if has_mobile:
            from ..inputs.upf import default_upf

            frame = default_upf(demand["lat"].to_numpy(float), demand["lon"].to_numpy(float))
            frame.attrs["source"] = "default (one per large metro)"
    else:  # a file: read (and refused when bad) even when no row would use it
        from ..inputs.upf import read_upf

        frame = read_upf(upf)
        frame.attrs["source"] = str(upf)
    if frame is not None and not has_mobile:
        logger.warning("%s: no demand row has mobile access (%s): the UPFs are not used",
                       frame.attrs.get("source", "upf table"), ", ".join(sorted(mobile)))
        frame = None  # no mobile rows: nothing takes the detour
    if frame is not None:
        _warn_far_upf(demand, frame, mobile)
    graph = None
    if backbone is not None:
        from ..model.backbone import DEFAULT_EDGE_FACTOR, Backbone, read_backbone

        if isinstance(backbone, Backbone):
            graph = backbone
        else:
            graph = read_backbone(
                backbone, edge_factor=DEFAULT_EDGE_FACTOR if edge_factor is None
                else float(edge_factor), latency_attr=latency_attr,
                fiber_us_per_km=model.fiber_us_per_km)
    return Routing(upf=frame, backbone=graph, mobile_access=mobile if frame is not None
                   else frozenset())


#: Distance from its nearest UPF beyond which a mobile demand point is named, km.
FAR_UPF_KM = 2000.0


def _warn_extrapolated(model: LatencyModel, radius_km: float) -> None:
    """Warn when the plan's budget radius lies outside the distances the model was fitted
    on (``edge-coverage calibrate`` records them): its latencies there are extrapolated."""
    fit = model.fit or {}
    if fit.get("method") == "not fitted":  # (on-net: physics only, checked against pings
        # but not fitted to them; its warning said "fitted on pings": tester 153)
        return
    lo, hi = fit.get("fitted_min_distance_km"), fit.get("fitted_max_distance_km")
    if hi is None:  # a model file of an older calibrate: the range it kept pings under
        hi = fit.get("max_distance_km")
    source = fit.get("data") or model.profile
    if isinstance(hi, int | float) and radius_km > hi:
        logger.warning(
            "the latency model (%s) was fitted on pings up to %s km, and this plan's budget "
            "radius is %s km: latencies between them are extrapolated. Fix: calibrate with "
            "pings over the distances the plan uses", source, f"{hi:,.0f}",
            f"{radius_km:,.0f}")
    elif isinstance(lo, int | float) and radius_km < lo:
        logger.warning(
            "the latency model (%s) was fitted on pings of %s km and more, and this plan's "
            "budget radius is %s km: every latency it uses is extrapolated below the fitted "
            "distances. Fix: calibrate with pings over the distances the plan uses", source,
            f"{lo:,.0f}", f"{radius_km:,.0f}")


def _warn_far_upf(demand: pd.DataFrame, upf: pd.DataFrame, mobile: frozenset[str]) -> None:
    """Warn when mobile demand points lie more than :data:`FAR_UPF_KM` from every UPF: a
    UPF table with a typo (a UPF at Point Nemo) made every mobile row uncoverable without
    a word. One nearest-neighbour query of the mobile rows."""
    from ..model.geo import nearest, unit_xyz

    rows = demand["access"].isin(mobile).to_numpy()
    if not rows.any() or not len(upf):
        return
    km, _ = nearest(upf["lat"].to_numpy(float), upf["lon"].to_numpy(float),
                    unit_xyz(demand["lat"].to_numpy(float)[rows],
                             demand["lon"].to_numpy(float)[rows]))
    far = km[:, 0] > FAR_UPF_KM
    if far.any():
        people = float(demand["population"].to_numpy(float)[rows][far].sum())
        source = str(upf.attrs.get("source", "upf table"))
        fix = ("the built-in table has one UPF per large metro of the demand's countries: "
               "give --upf a table with one near them" if source.startswith("default") else
               "check the UPF table's coordinates, or give their region a UPF")
        logger.warning(
            "%s: %d mobile demand point(s) (%s people) are more than %s km from every UPF "
            "(the farthest %s km): their traffic detours through it; %s", source,
            int(far.sum()), f"{people:,.0f}", f"{FAR_UPF_KM:,.0f}", f"{km[:, 0].max():,.0f}",
            fix)


def tier_summary(problem: Problem) -> dict[str, Any]:
    """``summary.json["tiers"]``: the catalog's source, the tiers the candidates use (with
    their latency terms and how many candidates and chosen sites each), and the site labels
    outside the catalog (those sites are the reference site)."""
    catalog = problem.tier_catalog
    labels = (problem.sites["tier"].astype(str) if "tier" in problem.sites.columns
              else pd.Series(["candidate"] * len(problem.sites)))
    counts = labels.value_counts()
    used = {}
    for name, n in counts.items():
        tier = catalog.get(str(name)) if catalog is not None else None
        used[str(name)] = {"candidates": int(n),
                           "terms": tier.to_dict() if tier is not None
                           else "reference (no tier given)" if str(name) == "candidate"
                           else "reference"}
    # "candidate" is the label of sites given no tier, the reference site by design, not a
    # label outside the catalog (as the warning at plan time treats it; tester 172 read
    # its listing here as the sites being outside the catalog)
    return {"catalog": getattr(catalog, "source", None), "used": used,
            "outside_catalog": [t for t in problem.unknown_tiers if t != "candidate"],
            "latency_by_tier": problem.routed and problem.tier_setup is not None}


def tier_catalog_of(tiers: Any) -> Any:
    """The tier catalog of ``plan_sites``'s ``tiers`` (``None`` / ``"builtin"``: built in)."""
    from ..model.tiers import TierCatalog

    if tiers is None or (isinstance(tiers, str) and tiers == "builtin"):
        return TierCatalog.builtin()
    return TierCatalog.from_spec(tiers)


#: The first this many failure scenarios get their own most even flow (a bisection of
#: max-flows, about ten each); the others a flow within the worst level of those before
#: them (one max-flow each when it carries the load; a plain max-flow saturates sites
#: arbitrarily: "100 % worst" on a tester's plan whose worst over every scenario is 85 %).
#: (5,000 before: the US GeoNames demo at 30 ms, N-2, 4,784 scenarios checked, spent 160 s
#: on them against 10 s with one max-flow each; hand run.)
BALANCED_SCENARIOS = 1000


def _scenario_total(chosen: Any, domains: Any, failures: int) -> int:
    """Every failure scenario of a plan: normal operation and every set of 1 to ``failures``
    failure domains holding an open site (checked, or implied by those checked)."""
    from ..solvers.capacitated import failure_groups, scenario_count

    if failures <= 0 or not len(chosen):
        return 1
    return scenario_count(len(failure_groups(chosen, domains)[0]), failures)


#: Most implied failure scenarios :func:`_implied_utilisation` evaluates (at least; the
#: scenario limit when larger): above it the worst utilisation stays over those checked.
IMPLIED_SCENARIO_LIMIT = DEFAULT_SCENARIO_LIMIT


#: The label of normal operation in ``capacity_scenarios.csv``'s ``failed_site_ids`` and
#: ``sites.csv``'s ``worst_failure`` (the map's ``NORMAL_LABEL``).
NORMAL_OPERATION = "(none: normal operation)"


def flow_failure_columns(failure_table: pd.DataFrame, sites_out: pd.DataFrame,
                         scenarios: pd.DataFrame | None = None) -> pd.DataFrame:
    """A capacitated plan's ``failures.csv`` with what each failed site carried in
    ``flows.csv``'s normal-operation flow, all of which moves when it fails:
    ``population_served`` (people) and ``load_rerouted_rps`` (its load); and what its
    failure alone does to the others' capacity, from its row of ``scenarios``
    (``capacity_scenarios.csv``): ``capacity_worst_utilisation`` (the busiest surviving
    site's) and ``capacity_shed_rps`` (NaN when its failure alone is not a row: a scenario
    implied by those checked and not evaluated, or with failure domains, whose rows fail
    whole domains).

    ``population_rerouted`` counts the people whose nearest chosen site it is; a site
    that takes a town's overflow is nobody's nearest and read 0 there (a third of a
    town's load moved when it failed).
    """
    by_id = sites_out.drop_duplicates("site_id").set_index("site_id")
    ids = failure_table["failed_site_id"]
    out = failure_table.copy()
    out["population_served"] = ids.map(by_id["population_served"]).fillna(0.0).to_numpy(
        dtype=np.float64)
    out["load_rerouted_rps"] = ids.map(by_id["load_rps"]).fillna(0.0).to_numpy(
        dtype=np.float64)
    alone = pd.DataFrame(columns=["worst_utilisation", "shed_rps"], dtype=np.float64)
    if scenarios is not None and len(scenarios):
        # (a failure checked, else implied and evaluated after the plan: the same figures)
        alone = scenarios.drop_duplicates("failed_site_ids").set_index("failed_site_ids")
    key = ids.astype(str)
    out["capacity_worst_utilisation"] = key.map(alone["worst_utilisation"]).to_numpy(
        dtype=np.float64)
    out["capacity_shed_rps"] = key.map(alone["shed_rps"]).to_numpy(dtype=np.float64)
    return out


def _implied_utilisation(reach: Any, load_rps: np.ndarray, cap_rps: np.ndarray,
                         chosen: np.ndarray, domains: Any, failures: int, normal: Any,
                         components: tuple[np.ndarray, np.ndarray],
                         checked: list[Any], u_worst: float, limit: int,
                         site_ids: np.ndarray, *, time_limit_s: float | None = None,
                         flag: str = "--time-limit-s",
                         ) -> tuple[list[Any], dict[str, Any]]:
    """The worst utilisation over the failure scenarios the capacity check left implied.

    The check lists, above its limit, only the combinations of failure domains within one
    component of the plan, and of those not the ones a local reroute certifies feasible:
    the others are feasible, but their utilisation was never computed and can be above
    every checked one (a tester's find: 87 % over all N-2 scenarios against 80 % over
    those checked). Every scenario's most even utilisation is at most the largest of its
    parts' (one per component it touches; the components share no flow; the users a part
    leaves out, excused by closed candidates of the other failed domains, only lighten
    it), and each part is itself a scenario: a single domain or a combination of up to
    ``failures`` domains with an open site in one component. So evaluating every such
    combination not checked gives the worst over every scenario. Each takes one max-flow
    at the worst level so far (``upper``); one above it gets its own most even flow (a
    bisection).

    Returns the scenarios that raised the worst level (their most even flows, to be added
    to the table) and ``{"evaluated": n, "every": bool, "left": m}``. ``every`` False,
    nothing evaluated: those combinations are more than ``limit`` (the scenario limit, at
    least :data:`IMPLIED_SCENARIO_LIMIT`: a small limit bounds the check's rounds, and this
    is one max-flow a scenario, once), or a checked scenario falls short (the plan is not
    feasible: no scenario is implied feasible then). ``every`` False with ``n`` evaluated:
    ``time_limit_s`` (``--sizing-time-limit-s``, by default the run's ``--time-limit-s``,
    named by ``flag``; counted from the call) ended the
    evaluation with ``m`` implied scenarios left; the worst level is then over the
    scenarios checked and the ``n`` evaluated.
    """
    import itertools

    from ..solvers.capacitated import balanced_scenario, failure_groups, groups_by_component

    t_end = (None if time_limit_s is None or not np.isfinite(time_limit_s)
             else time.perf_counter() + float(time_limit_s))
    if not all(sc.feasible for sc in checked):
        return [], {"evaluated": 0, "every": False, "left": None}
    groups, group_of_open = failure_groups(chosen, domains)
    top = min(int(failures), len(groups))
    in_comp = groups_by_component(reach, chosen, group_of_open)
    n_combos = len(groups) + sum(math.comb(len(members), j) for members in in_comp
                                 for j in range(2, top + 1))
    if n_combos > limit:
        logger.info("capacity: the %s failure scenarios within one part of the plan are more "
                    "than %s; the worst utilisation is over the scenarios checked",
                    f"{n_combos:,}", f"{limit:,}")
        return [], {"evaluated": 0, "every": False, "left": None}

    def within() -> Iterable[tuple[int, ...]]:
        yield from ((g,) for g in range(len(groups)))
        for members in in_comp:
            for j in range(2, top + 1):
                yield from itertools.combinations(members, j)

    seen = {frozenset(int(x) for x in sc.failed) for sc in checked}
    todo = [sites for sites in (tuple(int(s) for g in combo for s in groups[g])
                                for combo in within()) if frozenset(sites) not in seen]
    logger.info("capacity: the worst utilisation of the %s implied failure scenario(s) "
                "(one max-flow each)", f"{len(todo):,}")
    worse: list[Any] = []
    done = 0
    for failed in todo:
        if t_end is not None and done and time.perf_counter() > t_end:
            logger.warning(
                "capacity: the time limit (%g s) ended the evaluation of the implied failure "
                "scenarios after %s of %s; the worst utilisation is over the scenarios "
                "checked and those %s (raise %s for every scenario)",
                time_limit_s, f"{done:,}", f"{len(todo):,}", f"{done:,}", flag)
            break
        done += 1
        flow, u = balanced_scenario(reach, load_rps, cap_rps, chosen, failed, normal,
                                    components,
                                    upper=u_worst if np.isfinite(u_worst) else None)
        if not flow.feasible:  # implied feasible by the check: a certificate was wrong
            logger.warning("capacity: a failure scenario implied feasible by the check "
                           "(%s down) sheds %.6g requests/s; it is added to the scenarios "
                           "table", ";".join(map(str, site_ids[list(failed)])),
                           flow.shed_rps)
            worse.append(flow)
        elif np.isfinite(u) and (not np.isfinite(u_worst) or u > u_worst):
            u_worst = u
            worse.append(flow)
    logger.info("capacity: the worst utilisation over %s implied failure scenario(s) "
                "evaluated: %d raised it, to %.1f %%", f"{done:,}", len(worse),
                100 * u_worst if np.isfinite(u_worst) else float("nan"))
    return worse, {"evaluated": done, "every": done == len(todo), "left": len(todo) - done}


def _flow_order_keys(problem: Problem) -> tuple[Any, Any]:
    """Order keys of the demand points and the candidates for
    :func:`~coverage.solvers.flow_expand.expand_flows`: the coordinate along the inputs'
    longer axis (latitude, or longitude scaled by the cosine of the mean latitude), so
    that a merged point's northern (western) points go to its northern (western) sites."""
    d_lat = problem.demand["lat"].to_numpy(dtype=np.float64)
    d_lon = problem.demand["lon"].to_numpy(dtype=np.float64)
    s_lat = problem.sites["lat"].to_numpy(dtype=np.float64)
    s_lon = problem.sites["lon"].to_numpy(dtype=np.float64)
    if not len(d_lat):
        return d_lat, s_lat
    lat_span = float(np.ptp(d_lat))
    lon_span = float(np.ptp(d_lon)) * math.cos(math.radians(float(np.mean(d_lat))))
    return (d_lat, s_lat) if lat_span >= lon_span else (d_lon, s_lon)


def capacity_outputs(problem: Problem, capacity: CapacitySetup, result: Any, chosen: Any,
                     sites_out: pd.DataFrame, reach: ReachMatrix | None = None,
                     ) -> tuple[pd.DataFrame, pd.DataFrame,
                                                      pd.DataFrame, dict[str, Any]]:
    """The capacity columns of ``sites.csv``, ``flows.csv`` (normal operation: the most
    even flow, and of those the least latency; each flow's latency),
    ``capacity_scenarios.csv`` (one row per failure scenario) and
    ``summary.json["capacity"]``.

    ``reach``: the plan's reach matrix when it was built (its pairs with the chosen sites
    give the flows' latencies; without it they are computed for the chosen sites)."""
    ids = problem.sites["site_id"].to_numpy(dtype=object)
    demand_ids = problem.demand["demand_id"].to_numpy(dtype=object)
    chosen = np.asarray(chosen, dtype=np.int64)
    cap = capacity.cap_rps
    # normal operation: the flow that spreads load most evenly (min-max utilisation)
    from ..solvers.capacitated import balanced_flow, balanced_scenario, plan_components

    # on the merged points of the solve (identical candidates, loads summed)
    m_reach, m_load = result.reach, result.load_rps
    normal, u_worst = balanced_flow(m_reach, m_load, cap, chosen)
    # the pairs of the chosen sites, with their latencies (the flows' latency columns)
    pairs = reach if reach is not None else chosen_pairs(problem, chosen)
    # of the most even flows, the one of least latency (the bisection's max-flow is any
    # flow at that level: a user could be sent past a nearer site with room)
    least, flow_note = _least_latency_even_flow(problem, capacity, pairs, chosen, normal,
                                                u_worst)
    if least is not None:
        normal = replace(normal, flows=None, site_load_rps=np.bincount(
            least[1], weights=least[2], minlength=len(ids)))
    result.scenarios[0] = normal
    # failure scenarios: the most even flow of the components holding a failed site (the
    # other sites keep their normal load); past the first BALANCED_SCENARIOS, a flow
    # within the worst level so far (the fleet's worst utilisation stays exact)
    even = len(result.scenarios) <= BALANCED_SCENARIOS + 1
    comps = plan_components(m_reach, chosen) if len(result.scenarios) > 1 else None
    if comps is not None:
        for j in range(1, len(result.scenarios)):
            upper = (None if j <= BALANCED_SCENARIOS or not np.isfinite(u_worst)
                     else u_worst)
            result.scenarios[j], u = balanced_scenario(
                m_reach, m_load, cap, chosen, result.scenarios[j].failed, normal, comps,
                upper=upper)
            if np.isfinite(u):
                u_worst = max(u_worst, u) if np.isfinite(u_worst) else u
    total = _scenario_total(chosen, capacity.domains, int(problem.config.failures))
    n_checked = len(result.scenarios)
    implied: dict[str, Any] = {"evaluated": 0, "every": n_checked >= total,
                               "left": 0 if n_checked >= total else None}
    if comps is not None and not implied["every"] and result.complete:
        worse, implied = _implied_utilisation(
            m_reach, m_load, cap, chosen, capacity.domains, int(problem.config.failures),
            normal, comps, result.scenarios, u_worst,
            max(int(problem.config.scenario_limit), IMPLIED_SCENARIO_LIMIT), ids,
            time_limit_s=problem.config.sizing_limit[0], flag=problem.config.sizing_limit[1])
        result.scenarios.extend(worse)  # the scenarios that raised the fleet's worst level
    # every site at its own worst load of the table's flows must carry the implied
    # scenarios too (compare prices those loads): those short at them are added
    raised, even_check = _carry_implied(problem, capacity, result, chosen, normal, comps,
                                        n_checked, total)
    result.scenarios.extend(raised)
    # each original point takes its share of its merged point's flow, matched in order
    # along the country's longer axis (about one site per point, not every site of its
    # merged point: coverage.solvers.flow_expand)
    point, site, flow_rps = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if least is not None:
        point, site, flow_rps = least
    elif normal.flows is not None:
        from ..solvers.flow_expand import expand_flows

        p_key, s_key = _flow_order_keys(problem)
        point, site, flow_rps = expand_flows(normal.flows, result.inverse, capacity.load_rps,
                                         point_order=p_key, site_order=s_key)
    latency_ms, p50_ms = _pair_values(pairs, point, site)
    flows = pd.DataFrame({"demand_id": demand_ids[point], "site_id": ids[site],
                          "load_rps": flow_rps})
    # the people a flow carries: its share of its point's load, of the point's people
    load_pt = np.asarray(capacity.load_rps, dtype=np.float64)
    people = problem.population[point] * flow_rps / np.where(load_pt[point] > 0,
                                                             load_pt[point], 1.0)
    flow_p50 = (float(np.sum(people * p50_ms) / people.sum()) if people.sum() > 0
                else None)  # (no people carried: no mean)
    per_workload = None
    if capacity.row_workload is not None:  # a shared pool: each flow's own requests too
        names = pd.Categorical(capacity.row_workload[point])
        requests = capacity.requests_rps(point, flow_rps)
        flows["workload"] = names
        flows["requests_rps"] = requests
        # requests/s of each workload at each site, normal operation (one bincount each)
        per_workload = {str(w): np.bincount(site[names.codes == c], minlength=len(ids),
                                            weights=requests[names.codes == c])
                        for c, w in enumerate(names.categories)}
    flows["latency_ms"] = latency_ms
    flows["p50_ms"] = p50_ms
    # utilisation of the chosen sites only: scenarios x chosen, not x every candidate
    cap_c = cap[chosen]
    util = (np.stack([s.site_load_rps[chosen] for s in result.scenarios])
            / np.where(cap_c > 0, cap_c, 1)).reshape(len(result.scenarios), len(chosen))
    worst_scen = np.argmax(util, axis=0) if len(chosen) else np.zeros(0, dtype=np.int64)
    label = ["" if not s.failed else ";".join(map(str, ids[list(s.failed)]))
             for s in result.scenarios]
    top = np.argmax(util, axis=1) if len(chosen) else np.full(len(result.scenarios), -1)
    scen = pd.DataFrame({
        "failed_site_ids": [x or NORMAL_OPERATION for x in label],
        "load_rps": [s.load_rps for s in result.scenarios],
        "served_rps": [s.served_rps for s in result.scenarios],
        "shed_rps": [s.shed_rps for s in result.scenarios],
        "feasible": [s.feasible for s in result.scenarios],
        "worst_utilisation": (util[np.arange(len(top)), top] if len(chosen)
                              else np.full(len(top), np.nan)),
        "worst_site_id": ids[chosen[top]] if len(chosen) else [None] * len(top),
        # rows added after the plan: implied scenarios that raised the worst utilisation,
        # or that a site's worst load of the other rows did not carry (_carry_implied)
        "implied": np.arange(len(result.scenarios)) >= n_checked,
    })
    out = sites_out.copy()
    own = ([] if per_workload is None else
           [c for c in out.columns if REQUESTS_COLUMN.fullmatch(str(c))])
    if own:  # the candidates' own columns of those names would pass for the plan's
        logger.warning("the candidates' column(s) %s are not carried to sites.csv: "
                       "requests_rps and requests_<workload>_rps are the plan's own (each "
                       "workload's requests a site serves, with a shared pool). Fix: "
                       "rename them in the candidates file to keep them",
                       ", ".join(map(str, own)))
        out = out.drop(columns=own)
    pos = pd.Series(np.arange(len(ids)), index=ids)
    j = pos.reindex(out["site_id"].to_numpy()).to_numpy()
    col = pd.Series(np.arange(len(chosen)), index=chosen).reindex(j).to_numpy()
    out["n_accelerators"] = np.where(capacity.n_accelerators[j] >= 0,
                                     capacity.n_accelerators[j], -1)
    out["power_kw"] = capacity.power_kw[j]
    out["capacity_rps"] = cap[j]
    out["load_rps"] = normal.site_load_rps[j]
    # the people each site serves in flows.csv's flow (a point split across sites counts
    # its share at each): a site nobody has as nearest can carry a third of a town's load
    # and read population_primary 0
    out["population_served"] = np.bincount(site, weights=people, minlength=len(ids))[j]
    if per_workload is not None:  # requests of every workload, in their own units (a
        # workload of the pool no flow carries: 0)
        pooled = capacity.describe.get("workloads") or {}
        order = list(pooled) + sorted(w for w in per_workload if w not in pooled)
        zero = np.zeros(len(ids))
        out["requests_rps"] = sum(per_workload.get(w, zero)[j] for w in order)
        for w in order:
            out[f"requests_{w}_rps"] = per_workload.get(w, zero)[j]
    out["utilisation"] = util[0, col]
    out["worst_utilisation"] = util[worst_scen[col], col]
    out["worst_failure"] = [label[w] or NORMAL_OPERATION for w in worst_scen[col]]
    # the least capacity, starting from each site's worst scenario of the most even flows
    first = [result.scenarios[w].failed for w in np.unique(worst_scen)] if len(chosen) else []
    sizing, sized_normal, sizing_info = _least_capacity(problem, capacity, result, chosen,
                                                        first)
    out["sized_capacity_rps"] = sizing[j]
    # normal operation's load of every site in the least sizing's own flow (at most its
    # size): what compare prices utilisation with when it prices that sizing
    out["sized_normal_load_rps"] = sized_normal[j]
    served = float(normal.site_load_rps[chosen].sum())
    fleet = served / max(float(cap[chosen].sum()), 1e-12)
    # the load of points with no candidate within budget: in the total, served by no site
    # (tester 185: "110,879 requests/s at peak on 97,599 of capacity, load shed 0" where
    # 29,999 had no site within budget)
    unreachable = max(float(capacity.describe["load_total_rps"]) - served, 0.0)
    info = {
        **capacity.describe,
        "load_served_rps": served,
        "load_out_of_reach_rps": (unreachable if unreachable
                                  > 1e-9 * max(served, 1.0) else 0.0),
        # the plan's status (unproven when the scenario list was cut: never "optimal"
        # there, a tester's find); the cut generation's own verdict on the scenarios it
        # checked is solve_status
        "status": plan_status(result),
        "solve_status": result.status,
        "lower_bound": result.lower_bound,
        "rounds": len(result.rounds),
        "cuts": int(result.rounds[-1]["cuts"]) if result.rounds else 0,
        "scenarios_checked": n_checked,
        "scenarios_total": total,
        "scenarios_complete": bool(result.complete),
        **dict(zip(("single_failures_checked", "failure_groups"), _single_failures_checked(
            chosen, capacity.domains, result.scenarios[:n_checked]), strict=True)),
        "load_shed_max_rps": float(max(s.shed_rps for s in result.scenarios)),
        "fleet_utilisation": fleet,
        "sites_below_40pct": int((util[0] < 0.4).sum()),
        "worst_utilisation": float(util.max()) if len(chosen) else float("nan"),
        # every scenario: checked, or implied and evaluated after the plan
        # (_implied_utilisation); else over the scenarios checked: those cut were not
        # checked at all, or the implied ones were too many to evaluate
        "worst_utilisation_over": ("every scenario" if implied["every"]
                                   else "the scenarios checked"),
        "scenarios_implied_evaluated": int(implied["evaluated"]),
        # implied scenarios not evaluated: the time limit ended the evaluation (None: not
        # started, too many or the plan short in a checked scenario)
        "scenarios_implied_left": implied["left"],
        "scenarios_implied_added": len(result.scenarios) - n_checked,
        "utilisation_flows": ("the most even flow of every scenario" if even else
                              "the most even flow of normal operation and of the first "
                              f"{BALANCED_SCENARIOS:,} failure scenarios; the "
                              f"{n_checked - 1 - BALANCED_SCENARIOS:,} others: "
                              "a flow within the worst level of those before them (not "
                              "each one's own most even flow; the worst utilisation of "
                              "the fleet is exact, a site's may be above its own)"),
        "capacity_total_rps": float(cap[chosen].sum()),
        # flows.csv: which flow, and its population-weighted mean p50 latency
        "normal_flow": flow_note,
        "normal_flow_mean_p50_ms": flow_p50,
        # sites.csv's sized_capacity_rps: the least capacity carrying every scenario
        "sizing": sizing_info,
        # whether every site at its own worst load of the most even flows (what compare
        # prices without the least capacity) carries every scenario, implied ones too
        "most_even_sizes": even_check,
    }
    return out, flows, scen, info


def _carry_implied(problem: Problem, capacity: CapacitySetup, result: Any,
                   chosen: np.ndarray, normal: Any, comps: Any, n_checked: int,
                   total: int) -> tuple[list[Any], dict[str, Any]]:
    """The scenarios to add to the table so that every chosen site at its own worst load
    over the table's flows carries every failure scenario, and
    ``summary.json["capacity"]["most_even_sizes"]``.

    Each listed scenario's flow fits those worst loads by construction. A scenario the
    check implied rather than listed (N-2 and up on large plans, pairs whose reroutes
    are apart or absorbed together) was shown feasible at the full capacities, or at the
    fleet's worst utilisation, not at each site's own worst load: on three independent
    towns at N-2, 15 of 326 scenarios were short at those loads (tests/test_compare.py).
    So the plan's scenarios are checked again at those loads
    (:func:`coverage.solvers.capacitated.check_scenarios_until`, its implications then
    made at those loads); each scenario short there gets its most even flow at the full
    capacities (:func:`coverage.solvers.capacitated.balanced_scenario`), which raises the
    loads, and the check repeats until none is short (within ``sizing_time_limit_s``, by
    default ``time_limit_s``)."""
    from ..solvers.capacitated import balanced_scenario, check_scenarios_until

    c = problem.config
    if n_checked >= total:
        return [], {"status": "every scenario listed: each one's flow fits the sizes"}
    if comps is None or not (result.complete and all(sc.feasible
                                                     for sc in result.scenarios)):
        return [], {"status": "not checked: the plan's own check was cut or fell short"}
    t0 = time.perf_counter()
    limit_s, flag = c.sizing_limit
    deadline = t0 + limit_s
    worst = np.stack([sc.site_load_rps for sc in result.scenarios]).max(axis=0)
    added: list[Any] = []
    seen = {frozenset(int(x) for x in sc.failed) for sc in result.scenarios}
    rounds, status = 0, f"not finished: {flag}"
    while time.perf_counter() < deadline:
        rounds += 1
        sizes = np.zeros(len(capacity.cap_rps))
        # (the flows' loads, to the max-flow's tolerance)
        sizes[chosen] = worst[chosen] * (1 + 1e-7)
        flows, complete, finished = check_scenarios_until(
            result.reach, result.load_rps, sizes, chosen, int(c.failures),
            domains=capacity.domains, limit=int(c.scenario_limit), stop_after=50,
            deadline=deadline)
        short = [f for f in flows if not f.feasible]
        if not short:  # (a check the deadline stopped may read incomplete too: tester 138)
            status = ("every scenario carried" if complete and finished else
                      "not finished: " + (flag if not finished
                                          else "--scenario-limit cut the list"))
            break
        new = [f for f in short if frozenset(int(x) for x in f.failed) not in seen]
        if not new:  # short again after its own flow was added: not raised further
            status = f"short in {len(short):,} scenario(s)"
            break
        for f in new:
            flow, _ = balanced_scenario(result.reach, result.load_rps, capacity.cap_rps,
                                        chosen, f.failed, normal, comps)
            if not flow.feasible:  # (the plan's check found every scenario carried)
                return added, {"status": f"short in a scenario at the full capacities: "
                                         f"{sorted(map(int, f.failed))}"}
            seen.add(frozenset(int(x) for x in f.failed))
            added.append(flow)
            worst = np.maximum(worst, flow.site_load_rps)
    logger.info("capacity: every chosen site at its worst load of the table's flows: %s "
                "(%d round(s), %s scenario(s) added)", status, rounds, f"{len(added):,}")
    return added, {"status": status, "scenarios_added": len(added), "rounds": rounds,
                   "time_s": time.perf_counter() - t0}


def _least_capacity(problem: Problem, capacity: CapacitySetup, result: Any,
                    chosen: np.ndarray, first: list[Any],
                    ) -> tuple[np.ndarray, np.ndarray, dict[str, Any] | None]:
    """``sites.csv``'s ``sized_capacity_rps`` and ``sized_normal_load_rps`` (every
    candidate's; ``nan`` when not computed) and ``summary.json["capacity"]["sizing"]``:
    the least capacity of every
    chosen site with which normal operation and every failure scenario carry the load
    (:func:`coverage.solvers.sizing.least_capacity`, one linear program over all the
    scenarios, on the merged points of the plan's check), within
    ``sizing_time_limit_s`` (by default the run's ``time_limit_s``). Not computed for a
    plan short of capacity; ``None`` (and no sizes)
    with ``sizing="off"``."""
    from ..solvers.sizing import MAX_SIZING_ENTRIES, least_capacity

    m = len(capacity.cap_rps)
    none = np.full(m, np.nan)
    c = problem.config
    if c.sizing != "least":
        return none, none, None
    what = ("the least capacity of every chosen site with which normal operation and "
            "every failure scenario carry the load (one linear program over all the "
            "scenarios; sites.csv's sized_capacity_rps)")
    if result.status == "time_limit_short" or not all(f.feasible for f in result.scenarios):
        return none, none, {"status": "not computed: the plan does not carry every "
                                      "scenario", "rule": what}
    got = least_capacity(result.reach, result.load_rps, capacity.cap_rps, chosen,
                         int(c.failures), domains=capacity.domains,
                         limit=int(c.scenario_limit), time_limit_s=c.sizing_limit[0],
                         first=first)
    reasons = {
        "time_limit": f"not computed: its program did not finish within "
                      f"{c.sizing_limit[0]:g} s ({c.sizing_limit[1]})",
        "too_large": f"not computed: {got.entries:,} flow variables or more, above "
                     f"{MAX_SIZING_ENTRIES:,}",
        "scenarios_cut": "not computed: the failure scenarios are more than "
                         f"--scenario-limit {c.scenario_limit:,}",
        "infeasible": "not computed: a scenario cannot be carried (" +
                      str(got.info.get("message", "")) + ")",
        "error": "not computed: HiGHS ended " + str(got.info.get("message", ""))}
    info: dict[str, Any] = {
        "status": "optimal" if got.status == "optimal" else reasons.get(
            got.status, f"not computed: {got.status}"),
        "rule": what, "scenarios": got.scenarios,
        "scenarios_in_program": got.info.get("in_program"),
        "scenarios_near_failed_sites": got.info.get("near_failed"), "rounds": len(
            got.info.get("rounds", [])), "flow_variables": got.entries, "time_s": got.time_s}
    if got.status != "optimal":
        logger.warning("capacity: the least capacity of the chosen sites was %s",
                       info["status"])
        return none, none, info
    full = float(np.asarray(capacity.cap_rps, dtype=np.float64)[chosen].sum())
    info.update({"capacity_rps": got.total_rps, "lower_bound_rps": got.lower_bound_rps,
                 "capacity_total_rps": full,
                 "share_of_capacity": got.total_rps / full if full > 0 else None})
    normal = (got.normal_load_rps if got.normal_load_rps is not None else none)
    return got.need_rps, normal, info


#: Most (point, chosen site) pairs of the least-latency most even flow's linear program
#: (:func:`capacity_outputs`; the pairs of the points near the sites the level binds, not
#: all the plan's); above, ``flows.csv`` keeps the max-flow's flow.
MAX_PAIRS_EVEN_FLOW = 1_000_000


def _least_latency_even_flow(problem: Problem, capacity: CapacitySetup, pairs: ReachMatrix,
                             chosen: np.ndarray, normal: Any, u_even: float,
                             ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray] | None,
                                        str]:
    """Of the normal-operation flows within ``u_even`` x every site's capacity (the most
    even level), the one of least population-weighted p50 latency
    (:func:`coverage.solvers.kmedian.least_latency_flow_near_overloaded` on the original
    points, within ``sizing_time_limit_s``, by default the run's ``time_limit_s``), as
    ``(point, site, flow_rps)``, and the
    text ``summary.json`` gives the flow; ``None`` (the max-flow's flow kept) when the
    level is unknown, its program's pairs are more than :data:`MAX_PAIRS_EVEN_FLOW`, it
    stops at its time limit, or its flow is not within ``u_even`` x capacity to the
    check's tolerance."""
    from ..solvers.capacitated import SITE_RTOL
    from ..solvers.kmedian import least_latency_flow_near_overloaded

    kept = "the most even flow (a max-flow at the most even level: {}), not latency-optimised"
    if not normal.load_rps > 0:  # (tester 129: it named a flow that carries nothing)
        return None, "none: no load within reach of the chosen sites"
    if not (normal.feasible and np.isfinite(u_even)):
        return None, kept.format("the sites do not carry the load")
    level = np.asarray(capacity.cap_rps, dtype=np.float64) * u_even
    load = np.asarray(capacity.load_rps, dtype=np.float64)
    pop = problem.population
    # people weigh the latency; a load whose point has no people weighs a millionth of
    # the mean person's share, so that it too goes to its nearest site with room
    per_rps = float(pop.sum() / load.sum()) if load.sum() > 0 and pop.sum() > 0 else 1.0
    limit_s, flag = problem.config.sizing_limit
    limit = max(limit_s, 1.0)
    got, how = least_latency_flow_near_overloaded(
        pairs.values("p50_ms"), chosen, load, level, weights=pop + 1e-6 * per_rps * load,
        time_limit_s=limit, max_pairs=MAX_PAIRS_EVEN_FLOW)
    if got.status == "optimal":
        site_load = np.bincount(got.site, weights=got.flow_rps, minlength=len(level))
        if np.all(site_load[chosen] <= level[chosen] * (1 + SITE_RTOL)):
            return (got.point, got.site, got.flow_rps), (
                "the most even flow (the least utilisation every site can be held to), and "
                "of those the least population-weighted p50 latency")
        why = "its least-latency program's flow was above the level by more than 1e-6"
    elif got.status == "time_limit":
        why = (f"its least-latency program did not finish within {limit:g} s ({flag}"
               + (", at least 1 s for this program)" if limit > limit_s else ")"))
    elif got.status == "too_large":
        why = how.removeprefix("not computed: ")
    else:
        why = f"its least-latency program ended {got.status}"
    logger.warning("capacity: flows.csv keeps the max-flow's most even flow: %s", why)
    return None, kept.format(why)


def _pair_values(pairs: ReachMatrix, point: np.ndarray,
                 site: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The latency at the budget's percentile and the p50 of every (point, site) pair
    (``nan`` for a pair not within budget)."""
    if not len(point):
        return np.zeros(0), np.zeros(0)
    # each entry's position (explicit zeros are kept as reachable: looked up by position,
    # not by value), then the pair arrays at it
    pos = sp.csr_array((np.arange(1, pairs.nnz + 1, dtype=np.float64), pairs.indices,
                        pairs.indptr), shape=pairs.shape)
    k = np.asarray(pos[point, site]).ravel().astype(np.int64) - 1
    ok = k >= 0
    out_lat = np.full(len(point), np.nan)
    out_p50 = np.full(len(point), np.nan)
    out_lat[ok] = pairs.latency_ms[k[ok]]
    out_p50[ok] = pairs.p50_ms[k[ok]]
    return out_lat, out_p50


#: The names of ``sites.csv``'s requests columns (a shared pool's: every workload's
#: requests, then each one's).
REQUESTS_COLUMN = re.compile(r"requests(_.+)?_rps")

#: Most (scenario, chosen site) entries :func:`scenario_load_table` keeps; above, the table
#: is not built (``Plan.scenario_loads`` is ``None``) and a warning says so.
MAX_SCENARIO_LOADS = 2_000_000


def scenario_load_table(problem: Problem, result: Any,
                        sites_out: pd.DataFrame) -> pd.DataFrame | None:
    """The load of every chosen site in every capacity scenario (``Plan.scenario_loads``).

    Call after :func:`capacity_outputs`, which replaces the scenarios' flows by the ones
    its tables report (the most even flow), so that the loads here are those of
    ``sites.csv`` (scenario 0) and ``capacity_scenarios.csv``.

    Parameters
    ----------
    problem : Problem
        The problem solved (candidate ids).
    result : coverage.solvers.capacitated.CapacitatedResult
        The capacitated solve, its scenarios as :func:`capacity_outputs` left them.
    sites_out : pandas.DataFrame
        ``sites.csv`` (its ``site_id`` and ``capacity_rps`` columns, in its row order).

    Returns
    -------
    pandas.DataFrame or None
        One row per (scenario, chosen site), scenarios in the row order of
        ``capacity_scenarios.csv`` and sites in the row order of ``sites.csv``:
        ``scenario`` (row of ``capacity_scenarios.csv``, 0 = normal operation),
        ``site_id``, ``failed`` (the site is down in that scenario), ``load_rps`` and
        ``utilisation`` (load / capacity). ``None`` above :data:`MAX_SCENARIO_LOADS`
        entries (logged).
    """
    ids = problem.sites["site_id"].to_numpy(dtype=object)
    scenarios = result.scenarios
    site_ids = sites_out["site_id"].to_numpy(dtype=object)
    n_scen, n_sites = len(scenarios), len(site_ids)
    if n_scen * n_sites > MAX_SCENARIO_LOADS:
        logger.warning(
            "per-scenario site loads not kept: %s scenarios x %s sites is more than %s "
            "entries (the map's failure explorer shows each scenario's load shed only)",
            f"{n_scen:,}", f"{n_sites:,}", f"{MAX_SCENARIO_LOADS:,}")
        return None
    pos = pd.Series(np.arange(len(ids)), index=ids)
    j = pos.reindex(site_ids).to_numpy()
    loads = np.stack([s.site_load_rps[j] for s in scenarios]) if n_scen else np.zeros((0, 0))
    failed = np.zeros((n_scen, len(ids)), dtype=bool)
    for k, s in enumerate(scenarios):  # scenarios, not demand points
        failed[k, list(s.failed)] = True
    cap = sites_out["capacity_rps"].to_numpy(dtype=np.float64)
    util = loads / np.where(cap > 0, cap, 1.0)
    return pd.DataFrame({
        "scenario": np.repeat(np.arange(n_scen, dtype=np.int64), n_sites),
        "site_id": np.tile(site_ids, n_scen),
        "failed": failed[:, j].ravel(),
        "load_rps": loads.ravel(),
        "utilisation": util.ravel(),
    })


def _single_failures_checked(chosen: Any, domains: Any,
                             scenarios: list[Any]) -> tuple[int, int]:
    """Of ``scenarios`` (those checked), how many fail one failure domain (one open site's
    group: :func:`coverage.solvers.capacitated.failure_groups`), and the plan's groups."""
    from ..solvers.capacitated import failure_groups

    if not len(chosen):
        return 0, 0
    groups, group_of_open = failure_groups(chosen, domains)
    group_of = dict(zip(np.asarray(chosen, dtype=np.int64).tolist(), group_of_open.tolist(),
                        strict=True))
    singles = sum(len({group_of[j] for j in s.failed if j in group_of}) == 1
                  for s in scenarios)
    return int(singles), len(groups)


def failure_check(k: int, capacity: dict[str, Any] | None, *,
                  domains: bool = False) -> dict[str, Any]:
    """``summary.json["failure_check"]``: what the plan's failure guarantees were checked
    with, for ``k`` tolerated failures (so that "N-1" is never read as "N-k"); with
    ``domains`` (the plan's figures by failure domain) ``latency_by_domains`` too."""
    out: dict[str, Any] = {
        "failures_tolerated": k,
        "coverage": (f"every point keeps min({k} + 1, |N_i|) candidates within budget, so "
                     f"any {k} site failure(s) leave it a site within budget when it has "
                     f"more than {k}; population_safe_by_failures counts N-j for j <= {k}"),
        "latency": ("failures.csv: every single chosen site failed in turn, its users "
                    "re-routed to their nearest surviving site (N-1)"
                    + (f"; assignment nk_latency_ms / nk_within_budget / nk_site_id: the "
                       f"worst latency under any {k} simultaneous site failures (the {k} "
                       f"nearest chosen sites failed, the user served by the {k + 1}-th), "
                       "summarised by nk_worst_latency_ms and nk_population_outside_budget "
                       f"(the people whom some set of {k} failures pushes outside budget, "
                       "each user's own worst set: at least as many as any single set of "
                       f"failures); nk_worst_set_*: the single set of {k} chosen sites whose "
                       "failure together pushes the most people outside budget "
                       "(coverage.resilience.worst_set: enumeration for 2 and 3 failures, a MILP "
                       "beyond, with its status and upper bound)"
                       if k >= 2 else "")),
        "capacity": None,
    }
    if domains and k >= 1:
        out["latency_by_domains"] = (
            "domain_failures.csv: every failure domain holding a chosen site failed alone, "
            "its users re-routed to the nearest chosen site outside it; assignment "
            "domain_nk_latency_ms / domain_nk_within_budget / domain_nk_site_id: the worst "
            f"latency under any {k} whole failure domain(s) failing (the user's {k} nearest "
            f"domains failed, the user served by the nearest site of the {k + 1}-th), "
            "summarised in domain_failures' nk_ figures"
            + (f"; nk_worst_set_*: the single set of {k} domains whose failure together "
               "pushes the most people outside budget" if k >= 2 else ""))
    if capacity is not None:
        checked = int(capacity["scenarios_checked"])
        implied = int(capacity.get("scenarios_total", checked)) - checked
        singles, groups = (capacity.get("single_failures_checked"),
                           capacity.get("failure_groups"))
        if not capacity.get("scenarios_complete", True) and (
                singles is not None and groups is not None and singles < groups):
            # tester 190: "every single domain" read as N-1 checked where 10 of 73 were
            which = (f", not all (the scenario limit was reached): normal operation and "
                     f"{singles:,} of the {groups:,} single failure domains (those holding "
                     "the most capacity first); no combination of domains")
        elif not capacity.get("scenarios_complete", True):
            which = (", not all (the scenario limit was reached): normal operation, every "
                     "single domain, every combination of domains sharing users (the "
                     "riskiest), then others within a component of the plan")
        elif implied > 0:
            which = (f" that needs a check; the other {implied:,} are implied by them (sets "
                     "across independent components of the plan, or pairs whose failures "
                     "are absorbed by disjoint local reroutes: docs/capacity.md)")
        else:
            which = ""
        out["capacity"] = (
            f"capacity_scenarios.csv: {checked:,} scenario(s): normal operation and every set "
            f"of 1 to {k} failure domain(s) ({capacity['failure_domains']})" + which
            + f"; largest load shed {capacity['load_shed_max_rps']:,.1f} requests/s")
    return out
