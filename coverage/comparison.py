"""Edge or region? The edge plan against the centralized alternative, with numbers.

:func:`compare` plans the edge fleet (the capacitated N-k plan of
:func:`coverage.plan_sites`, from the demand's load), prices it with the cost model
(:mod:`coverage.model.costs`), measures the public-cloud regions against the same budget
with the same latency model (:func:`coverage.model.regions.region_coverage`), prices the
same load in a region, and fills in the domain's decision table and its anti-pattern
warnings (:mod:`coverage.advisor`). The result, a :class:`Comparison`, is what
``edge-coverage compare`` writes as ``compare.json`` (docs/edge-vs-region.md).

The fleet is priced **right-sized**: each chosen site gets the accelerators its worst
scenario's load needs (the most even flow of normal operation and of every failure
scenario the capacitated plan checked, at the run's target utilisation), not the most its
power envelope could hold. The per-site flows of every scenario fit those capacities, so
the plan's N-k capacity proof holds for the priced fleet when its scenario list is
complete (``edge.sizing`` says so).
"""

from __future__ import annotations

import contextvars
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .errors import InputValidationError, NoFeasiblePlanError
from .inputs.validation import plain_value, plain_values
from .model.costs import (
    SECONDS_PER_YEAR,
    CostModel,
    FleetCost,
    RegionCostResult,
    breakeven_utilisation,
    fleet_cost,
    region_cost,
)
from .wording import reporter

logger = logging.getLogger(__name__)

__all__ = ["Comparison", "compare", "compare_input_problems", "compare_data_problems",
           "cost_tier_problems",
           "DEFAULT_REQUESTS_PER_PERSON_DAY", "COMPARE_BUDGETS_MS", "sovereign_mask",
           "right_size"]

#: Requests per person per day when neither the call nor the demand (``load_rps``) gives
#: a load: an assumption of the comparison, recorded in ``compare.json``.
DEFAULT_REQUESTS_PER_PERSON_DAY = 100.0
#: Budgets the region's coverage is always reported at (the chapter's thresholds).
COMPARE_BUDGETS_MS = (30.0, 50.0, 100.0)

_MAX_COUNT = 2 ** 53
# "1.0" / "0.0": a true/false column with a gap, as pandas stores it (float 1.0 / 0.0 / NaN)
_TRUE = {"true", "1", "1.0", "yes", "y", "t"}
_FALSE = {"false", "0", "0.0", "no", "n", "f", ""}


def sovereign_mask(demand: pd.DataFrame, source: str = "demand") -> npt.NDArray[np.bool_]:
    """Rows whose data may not leave for a region (a ``sovereign`` column; absent: none).

    Accepted values: true/false, 1/0, yes/no (any case); empty is false.

    Raises
    ------
    InputValidationError
        Other values, naming the rows.
    """
    if "sovereign" not in demand.columns:
        return np.zeros(len(demand), dtype=bool)
    raw = demand["sovereign"]
    if raw.dtype == bool:
        return raw.to_numpy(dtype=bool)
    text = raw.astype(str).str.strip().str.lower().where(raw.notna(), "")
    ok = text.isin(_TRUE | _FALSE).to_numpy()
    if not ok.all():
        rows = np.flatnonzero(~ok)
        shown = ", ".join(f"row {r + 1} ({plain_value(raw.iloc[r])!r})" for r in rows[:10])
        raise InputValidationError(
            f"{source}: column 'sovereign' must be true/false (or 1/0, yes/no): {shown}"
            f"{f' ... ({len(rows):,} rows in all)' if len(rows) > 10 else ''}. Fix: correct "
            "these rows")
    return text.isin(_TRUE).to_numpy()


def right_size(worst_load_rps: npt.ArrayLike, envelope: npt.ArrayLike, *,
               throughput_rps: float, target_utilisation: float,
               min_accelerators: int) -> npt.NDArray[np.int64]:
    """Accelerators a site needs to carry its worst load at the target utilisation.

    ``ceil(worst / (throughput x target))`` rounded up to whole systems of
    ``min_accelerators``, at least one system, at most the envelope's count (a negative
    envelope, unknown, is not a cap) and at most 2^53 (a count a float holds exactly).

    Examples
    --------
    >>> right_size([0.0, 100.0, 1e9], [8, 8, 8], throughput_rps=50.0,
    ...            target_utilisation=0.8, min_accelerators=1).tolist()
    [1, 3, 8]
    >>> right_size([1e12], [-1], throughput_rps=1e-6, target_utilisation=0.01,
    ...            min_accelerators=1).tolist()
    [9007199254740992]
    """
    worst = np.asarray(worst_load_rps, dtype=np.float64)
    env = np.asarray(envelope, dtype=np.int64)
    step = max(int(min_accelerators), 1)
    need = np.ceil(worst / (throughput_rps * target_utilisation) / step - 1e-9) * step
    # at most 2^53 (exact in float64): an extreme load over a tiny throughput would wrap
    # around int64 into a negative count, and a negative price
    need = np.clip(np.nan_to_num(need, nan=step, posinf=_MAX_COUNT), step,
                   _MAX_COUNT).astype(np.int64)
    return np.where(env >= 0, np.minimum(need, np.maximum(env, step)), need)


@dataclass
class Comparison:
    """The edge fleet against the region for one demand, budget and cost model.

    Attributes
    ----------
    plan : Plan or None
        The edge plan (``None`` when no candidate can host the workload).
    document : dict
        ``compare.json``: ``edge``, ``region``, ``breakeven``, ``decision``, ``warnings``,
        ``verdict``, ``assumptions``, ``region_coverage``, ``cost_model``.
    sites : pandas.DataFrame
        ``compare_sites.csv``: one row per chosen site, its accelerators (envelope and
        priced), loads, utilisations and annual cost by line.
    region_coverage : pandas.DataFrame
        ``region_coverage.csv``: one row per budget (:func:`region_coverage`).
    """

    plan: Any
    document: dict[str, Any]
    sites: pd.DataFrame
    region_coverage: pd.DataFrame
    _inputs: _CallInputs | None = field(default=None, repr=False, compare=False)
    """What the :func:`compare` call that made it was given, for :meth:`repriced`
    (``None`` after pickling)."""

    def repriced(self, **changes: Any) -> Comparison:
        """The same comparison with the same edge plan, priced again with other costs,
        regions or advice thresholds: without planning again (a national plan takes
        minutes; its price under another cost model, seconds).

        Parameters
        ----------
        **changes
            Arguments of :func:`compare` that the edge plan does not depend on:
            ``costs``, ``regions``, ``region_workload``, ``preference_share``,
            ``thin_utilisation`` and ``progress`` (as :func:`compare` takes them;
            ``costs=None`` is the built-in cost model). Every other argument is this
            comparison's, as it was given (a copy: later edits of a dict or a table do
            not reach it; the cost model and regions as they were read).

        Returns
        -------
        Comparison
            What :func:`compare` returns for these arguments and this comparison's
            inputs, its ``plan`` this one's.

        Raises
        ------
        TypeError
            An argument the edge plan depends on (the budget, the load, the candidates,
            ...): call :func:`compare` again for those.
        ValueError
            A comparison not made by :func:`compare` in this process (an unpickled one).
        InputValidationError
            Bad costs, regions, workloads or thresholds, as :func:`compare` says them; a
            file an argument names (a model, workloads or tiers file) changed since the
            comparison (its plan was made from the earlier contents).
        """
        other = sorted(set(changes) - set(REPRICE_ARGUMENTS))
        if other:
            raise TypeError(
                f"repriced() takes only {', '.join(REPRICE_ARGUMENTS)} (the edge plan does "
                f"not depend on them). Fix: call coverage.compare for {', '.join(other)}")
        held = self._inputs
        if held is None:
            raise ValueError(
                "this comparison does not hold the inputs it was made from (an unpickled "
                "one, or not made by coverage.compare). Fix: call coverage.compare again")
        changed = sorted(path for path, state in held.files.items()
                         if _file_states({"": path}).get(path) != state)
        if changed:
            raise InputValidationError(
                f"{', '.join(changed)} changed since this comparison was made: its edge plan "
                "was made from the earlier contents. Fix: call coverage.compare again")
        token = _REPRICING.set(self.plan)
        try:
            return compare(held.demand, held.sites, **{**held.arguments, **changes})
        finally:
            _REPRICING.reset(token)

    @property
    def warnings(self) -> list[dict[str, Any]]:
        """The advisor's warnings: ``{code, message, figures}``."""
        out: list[dict[str, Any]] = self.document["warnings"]
        return out

    @property
    def codes(self) -> list[str]:
        """The warning codes, in order."""
        return [w["code"] for w in self.warnings]

    def to_dict(self) -> dict[str, Any]:
        """``compare.json`` as a dict."""
        return self.document

    def to_dir(self, path: Any, *, map: bool = True, tiles: str | None = "osm",
               report: bool = True, gis: bool = True,
               sweep_options: Mapping[str, Any] | None = None) -> Any:
        """Write the plan directory with ``compare.json``, ``compare_sites.csv`` and
        ``region_coverage.csv`` (and the report's "Edge or region" section).

        Without an edge plan only the comparison files (and the report) are written.
        Returns :class:`coverage.outputs.plandir.PlanOutputs`.
        """
        from .outputs.plandir import write_comparison

        return write_comparison(self, path, map=map, tiles=tiles, report=report, gis=gis,
                                sweep_options=sweep_options)

    def __repr__(self) -> str:
        d = self.document
        return (f"<Comparison {d['budget_ms']:g} ms {d['percentile']}: edge "
                f"{d['edge'].get('cost_per_million_requests')} vs region "
                f"{d['region'].get('cost_per_million_requests')} USD per million requests; "
                f"warnings {', '.join(self.codes) or 'none'}>")


REPRICE_ARGUMENTS = ("costs", "regions", "region_workload", "preference_share",
                     "thin_utilisation", "progress")
"""Arguments of :func:`compare` the edge plan does not depend on
(:meth:`Comparison.repriced`)."""

_NO_PLAN = object()  # compare plans its edge fleet (no plan to reuse)
_REPRICING: contextvars.ContextVar[Any] = contextvars.ContextVar("repricing",
                                                                 default=_NO_PLAN)
"""The plan :meth:`Comparison.repriced` hands to its :func:`compare` call (set only for
that call, in its own context: no keyword a caller could pass by mistake)."""

_NOT_COPIED = ("progress", "client")  # callables and live connections: kept as they are


class _CallInputs:
    """What :func:`compare` was called with, for :meth:`Comparison.repriced`: the
    validated demand and candidates, a deep copy of every other argument (the caller's
    later edits of a dict or a frame do not reach it), the resolved cost model and regions,
    and the state of every file an argument names (a file changed since is refused).
    Shared by copies of the comparison; not pickled (it may hold a progress callback or a
    Dask client): an unpickled comparison holds ``None``."""

    __slots__ = ("demand", "sites", "arguments", "files")

    def __init__(self, demand: pd.DataFrame, sites: pd.DataFrame,
                 arguments: dict[str, Any]) -> None:
        self.demand, self.sites = demand, sites
        self.arguments = {k: v if k in _NOT_COPIED else _copied(v)
                          for k, v in arguments.items()}
        self.files = _file_states(self.arguments)

    def __deepcopy__(self, memo: dict[int, Any]) -> _CallInputs:
        return self  # a snapshot nobody edits: shared

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (_no_inputs, ())


def _copied(value: Any) -> Any:
    """A deep copy of ``value``, or ``value`` itself when it cannot be copied (a lock, a
    connection: the comparison made from it is never lost for the copy it keeps)."""
    import copy

    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001 - any object may refuse; it is kept as given
        return value


def _no_inputs() -> None:
    """What an unpickled :class:`_CallInputs` becomes."""
    return None


def _file_states(arguments: Mapping[str, Any]) -> dict[str, tuple[int, int, str]]:
    """``{path: (size, mtime_ns, sha256)}`` of every existing file a top-level argument
    names (a model, workloads or tiers file, ...)."""
    from .inputs.tables import sha256_file

    states = {}
    for value in arguments.values():
        if isinstance(value, str | os.PathLike):
            try:
                if os.path.isfile(value):
                    st = os.stat(value)
                    states[os.fspath(value)] = (st.st_size, st.st_mtime_ns,
                                                sha256_file(value))
            except (OSError, ValueError):  # (a name with a NUL, ...: compare says it)
                continue
    return states


def _raw_edge_names(costs: Any) -> list[str] | None:
    """The ``[edge.NAME]`` table names of a cost model file that does not parse as a cost
    model (read as plain TOML), or None when it cannot be read."""
    if not isinstance(costs, str | os.PathLike):
        return None
    try:
        import tomllib

        with open(costs, "rb") as f:
            edge = tomllib.load(f).get("edge")
    except (OSError, ValueError):
        return None
    return [str(k) for k in edge] if isinstance(edge, dict) else None


def _model_of(name: str) -> str:
    """A workload's model: its name up to the last ``-`` (``vision-l4`` -> ``vision``)."""
    return str(name).rsplit("-", 1)[0]


def _region_workload(catalog: Any, workload: Any, costs: CostModel,
                     name: str | None) -> Any:
    """The workload the region serves: ``name``, else the edge's when the region rents its
    accelerator, else the same model on an accelerator the region rents (same name up to
    the last ``-``)."""
    if name is not None:
        w = catalog.get(name)
        if w is None:
            raise InputValidationError(
                f"region workload {name!r} is not in the workload catalog ({catalog.source}). "
                f"Fix: choose one of {', '.join(catalog.names())}")
        return w

    def rented(w: Any) -> bool:
        acc = costs.accelerator(w.accelerator)
        return acc is not None and acc.region_hour_usd is not None

    if rented(workload):
        return workload
    stem = workload.name.rsplit("-", 1)[0]
    for cand in catalog.entries.values():
        if cand.name.rsplit("-", 1)[0] == stem and rented(cand) and cand.throughput_rps:
            return cand
    raise InputValidationError(
        f"the region cannot serve workload {workload.name!r}: the cost model has no region "
        f"price for {workload.accelerator!r} and no workload of the same model runs on an "
        "accelerator the region rents. Fix: give a region workload (--region-workload NAME) "
        "or set region_hour_usd for that accelerator in a --costs file")


def _pool_problems(service: Any, ctx: dict[str, Any], source: str) -> list[str]:
    """The problems of service classes on other workloads than the edge plan's: they must
    share its pool of accelerators (:func:`coverage.model.capacity.shared_pool`, the
    plan's own check, made before any work) and the region must serve each of them (its
    workload on an accelerator the region rents: ``--region-workload`` names the run's
    only, the others take the same model on a rented accelerator). Sets
    ``ctx["region_workloads"]``: workload name -> the region's, for every workload of the
    rows (``None`` when every row takes the run's)."""
    from .model.capacity import row_workload_names, shared_pool

    run, catalog, costs = ctx["workload"], ctx.get("catalog"), ctx.get("costs")
    try:
        pool = shared_pool(run, service.workload, catalog, source=source, warn=False)
    except InputValidationError as exc:
        return [str(exc)]
    ctx["pool"] = pool
    if pool is None or costs is None or ctx.get("region_workload") is None:
        return []
    found: list[str] = []
    region: dict[str, Any] = {}
    names = {str(n) for n in pd.unique(row_workload_names(service.workload, run.name))}
    for name in sorted(names, key=lambda n: (n != run.name, n)):  # the run's first
        if name == run.name:
            region[name] = ctx["region_workload"]
            continue
        try:
            rw = _region_workload(catalog, pool.workloads[name], costs, None)
            if rw.throughput_rps is None:
                raise InputValidationError(
                    f"region workload {rw.name!r} (the region's for the service classes on "
                    f"{name!r}) has no throughput_rps, so the region's accelerator-hours "
                    f"are unknown. Fix: set throughput_rps in [workloads.{rw.name}] "
                    "(--workloads FILE)")
            region_cost(costs, mean_load_rps=1.0, accelerator=rw.accelerator,
                        throughput_rps=float(rw.throughput_rps))  # a missing price
            region[name] = rw
        except InputValidationError as exc:
            w = pool.workloads[name]
            if str(exc).startswith("the region cannot serve workload"):
                # --region-workload names the run's workload only (tester 126)
                stem = name.rsplit("-", 1)[0]
                found.append(
                    f"the region cannot serve workload {name!r} (service classes of the "
                    f"demand take it): the cost model has no region price for "
                    f"{w.accelerator!r} and no workload of the same model ({stem}-...) "
                    "runs on an accelerator the region rents; --region-workload names the "
                    "region's workload for the run's own rows only. Fix: add such a "
                    f"workload (e.g. [workloads.{stem}-l4]) to the workloads file "
                    f"(--workloads), or set region_hour_usd for {w.accelerator!r} in a "
                    "--costs file")
            else:
                found.append(f"{exc} (the service classes on {name!r})")
    ctx["region_workloads"] = region if not found else None
    return found


def refused_plan_options(*, max_sites: Any, objective: Any, aggregate_km: Any,
                         aggregate_h3: Any) -> list[tuple[str, str]]:
    """The planner options given that :func:`compare` cannot use (it plans the fewest sites
    that carry the load: no best-P plan, no other objective, no aggregated demand), as
    (keyword, command-line flag) pairs.

    Examples
    --------
    >>> refused_plan_options(max_sites=5, objective="auto", aggregate_km=None,
    ...                      aggregate_h3=None)
    [('max_sites', '--max-sites')]
    """
    return [(name, flag) for name, flag, bad in (
        ("max_sites", "--max-sites", max_sites is not None),
        ("objective", "--objective", objective not in ("auto", "fewest")),
        ("aggregate_km", "--aggregate-km", aggregate_km is not None),
        ("aggregate_h3", "--aggregate-h3", aggregate_h3 is not None)) if bad]


def _option_problems(*, budget_ms: Any, failures: Any, percentile: Any, access: Any,
                     model: Any, workloads: Any, tiers: Any, requests_per_person_day: Any,
                     peak_to_mean: Any, target_utilisation: Any,
                     plan_options: Mapping[str, Any]) -> list[str]:
    """The plan options' problems as :func:`coverage.plan_sites` would find them, found
    before the work (a comparison without a feasible edge never calls it), plus what a
    capacitated comparison cannot take and keyword arguments it does not know."""
    import inspect

    from .planner.plan import check_plan_options, plan_sites

    found: list[str] = []
    known = set(inspect.signature(plan_sites).parameters) - {"demand", "sites"}
    unknown = [k for k in plan_options if k not in known]
    if unknown:
        from .model.catalog import unknown_keys_text

        found.append(f"compare got unknown keyword argument(s) "
                     f"{unknown_keys_text(unknown, sorted(known))}. Fix: use the keyword "
                     "arguments of coverage.compare and coverage.plan_sites")
    refused = [f"{name} ({flag})" for name, flag in refused_plan_options(
        max_sites=plan_options.get("max_sites"),
        objective=plan_options.get("objective", "auto"),
        aggregate_km=plan_options.get("aggregate_km"),
        aggregate_h3=plan_options.get("aggregate_h3"))]
    if refused:
        found.append(
            f"compare plans the fewest sites that carry the load (a capacitated plan), so "
            f"{', '.join(refused)} cannot be used with it. Fix: drop "
            + ("them" if len(refused) > 1 else "it")
            + " (plan the best P sites or an aggregated demand with edge-coverage plan)")
    checked = set(inspect.signature(check_plan_options).parameters)
    found += check_plan_options(
        budget_ms=budget_ms, failures=failures, percentile=percentile, access=access,
        model=model, workloads=workloads,
        tiers=None if isinstance(tiers, str) and tiers == "builtin" else tiers,
        requests_per_person_day=requests_per_person_day, peak_to_mean=peak_to_mean,
        target_utilisation=target_utilisation,
        **{k: v for k, v in plan_options.items() if k in checked})
    return found


def compare_input_problems(*, model: Any, costs: Any, regions: Any, workloads: Any,
                           region_workload: str | None, preference_share: Any,
                           thin_utilisation: Any) -> tuple[list[str], dict[str, Any]]:
    """Every problem of a comparison's own inputs, before any work: the thresholds, the
    cost model, the regions, the workload the edge prices and the one the region serves,
    and their prices.

    Parameters
    ----------
    model : LatencyModel or None
        The latency model (its ``workload`` names the edge's); ``None``: it could not be
        built (its problem is reported elsewhere), the workload checks are skipped.
    costs, regions, workloads, region_workload, preference_share, thin_utilisation
        As for :func:`compare`.

    Returns
    -------
    problems : list of str
        One sentence per problem, each naming the input (file, table, key) and the fix.
    context : dict
        What was read: ``costs`` (:class:`CostModel`), ``regions`` (the validated table),
        ``catalog``, ``workload`` and ``region_workload`` (``None`` where a problem was
        found).
    """
    from .model.catalog import folded, is_number
    from .model.costs import edge_price_problem
    from .model.regions import as_regions
    from .model.workloads import WorkloadCatalog

    found: list[str] = []
    ctx: dict[str, Any] = {"costs": None, "regions": None, "catalog": None,
                           "workload": None, "region_workload": None}
    for name, value in (("preference_share (--preference-share)", preference_share),
                        ("thin_utilisation (--thin-utilisation)", thin_utilisation)):
        if not (is_number(value) and 0.0 <= value <= 1.0):
            found.append(f"{name} must be a number in [0, 1] (a share of people or of "
                         f"capacity); got {value!r}")
    if costs is not None and not isinstance(costs, str | os.PathLike | CostModel):
        found.append(f"costs must be a CostModel, the path of a cost model file or None "
                     f"(the built-in model); got {type(costs).__name__}. Fix: pass "
                     "CostModel.from_file(PATH) or a path")
    else:
        try:
            ctx["costs"] = CostModel.from_spec(costs)
        except InputValidationError as exc:
            found.append(str(exc))
            # its [edge.NAME] tables' names are checked against the tiers all the same
            # (tester 181: a misspelt tier was named only once every other problem of
            # the file was fixed)
            ctx["cost_edge_names"] = _raw_edge_names(costs)
            ctx["cost_source"] = str(costs)
    try:
        ctx["regions"] = as_regions(regions)
    except InputValidationError as exc:
        found.append(str(exc))
    if model is None:
        return found, ctx
    try:
        ctx["catalog"] = catalog = WorkloadCatalog.from_spec(workloads)
    except InputValidationError as exc:
        found.append(str(exc))
        return found, ctx
    cost_model = ctx["costs"]
    workload = catalog.get(model.workload)
    if workload is None or workload.throughput_rps is None:
        found.append(
            f"compare needs a workload with a throughput (requests/s per accelerator) to "
            f"price the fleet; the model's workload is {model.workload!r}. Fix: choose a "
            f"catalog workload (--workload) or add throughput_rps with --workloads FILE")
    elif workload.accelerator_w is None or workload.host_w is None:
        found.append(
            f"compare prices the fleet's power and lease from the workload's accelerator_w and "
            f"host_w; workload {workload.name!r} leaves "
            + " and ".join(k for k in ("accelerator_w", "host_w") if getattr(workload, k) is None)
            + " out. Fix: set them in a --workloads file")
    else:
        ctx["workload"] = workload
    if region_workload is not None and catalog.get(region_workload) is None:
        found.append(
            f"region workload {region_workload!r} is not in the workload catalog "
            f"({catalog.source}). Fix: choose one of {', '.join(catalog.names())}")
        return found, ctx
    if cost_model is None or workload is None:
        return found, ctx
    try:
        r_workload = _region_workload(catalog, workload, cost_model, region_workload)
        if r_workload.throughput_rps is None:
            raise InputValidationError(
                f"region workload {r_workload.name!r} has no throughput_rps, so the region's "
                "accelerator-hours are unknown. Fix: set throughput_rps in [workloads."
                f"{r_workload.name}] (--workloads FILE), or choose another --region-workload")
        region_cost(cost_model, mean_load_rps=1.0, accelerator=r_workload.accelerator,
                    throughput_rps=float(r_workload.throughput_rps))  # a missing price
        ctx["region_workload"] = r_workload
    except InputValidationError as exc:
        found.append(str(exc))
    problem = edge_price_problem(cost_model, workload.accelerator)
    if problem is not None:
        found.append(f"{problem} (the accelerator of workload {workload.name!r})")
    acc = cost_model.accelerator(workload.accelerator)
    if (problem is None and acc is not None
            and acc.accelerators_per_host != workload.accelerators_per_host):
        found.append(
            f"workload {workload.name!r} puts {workload.accelerators_per_host} "
            f"{workload.accelerator} accelerator(s) on a host (accelerators_per_host, its "
            f"sites' power and capacity) but the cost model ({cost_model.source}) prices "
            f"hosts of {acc.accelerators_per_host}: the priced fleet would not be the one "
            f"the plan was sized with. Fix: set the same accelerators_per_host in "
            f"[workloads.{workload.name}] (--workloads FILE) and in "
            f"[accelerators.\"{workload.accelerator}\"] (--costs FILE)")
    # a priced type of the user's that is another spelling of a catalog accelerator: its
    # prices would silently not apply
    used = {w.accelerator for w in catalog.entries.values() if w.accelerator}
    by_fold = {folded(a): a for a in used}
    builtin = CostModel.builtin().accelerators
    for name in cost_model.accelerators:
        meant = by_fold.get(folded(name))
        if name not in builtin and name not in used and meant is not None:
            found.append(
                f"cost model ({cost_model.source}): [accelerators.{name!r}] prices no "
                f"workload's accelerator but looks like {meant!r} (names must match a "
                f"workload's accelerator exactly, so these prices would not apply). Fix: "
                f"rename the table [accelerators.\"{meant}\"]")
    return found, ctx


def cost_tier_problems(sites: pd.DataFrame | None, tiers: Any,
                       context: Mapping[str, Any]) -> list[str]:
    """The user's ``[edge.NAME]`` cost tables that price no tier of the catalog or the
    validated ``sites`` but look like one (another case or punctuation), also when the
    cost file has other problems (``context``: :func:`compare_input_problems`' own; tester
    181: a misspelt tier was named only once the file's other problems were fixed)."""
    from .model.catalog import folded
    from .model.tiers import TierCatalog

    found: list[str] = []
    ctx = context
    s = sites
    cost_model = ctx.get("costs")
    edge_names = (list(cost_model.edge) if cost_model is not None
                  else ctx.get("cost_edge_names"))
    cost_source = cost_model.source if cost_model is not None else ctx.get("cost_source")
    if s is None or not edge_names:
        return found
    try:
        catalog = TierCatalog.from_spec(None if isinstance(tiers, str) and tiers == "builtin"
                                        else tiers)
    except InputValidationError:
        return found  # reported with the options
    labels = set() if "tier" not in s.columns else set(
        s["tier"].dropna().astype(str).str.strip().unique().tolist())
    in_use = labels | set(catalog.names())
    by_fold = {folded(t): t for t in sorted(in_use)}
    builtin = CostModel.builtin().edge
    for name in edge_names:
        meant = by_fold.get(folded(name))
        if name == "default" or name in builtin or name in in_use or meant is None:
            continue
        found.append(
            f"cost model ({cost_source}): [edge.{name!r}] prices no tier of the "
            f"catalog or the sites but looks like {meant!r} (tier names are case-sensitive: "
            f"the sites of {meant!r} would be priced without it). Fix: rename the table "
            f"[edge.{meant}]")
    return found


def compare_data_problems(demand: Any, sites: Any, *, model: Any, tiers: Any,
                          context: Mapping[str, Any],
                          demand_source: str = "<demand>", budget_ms: Any = 30.0,
                          percentile: str = "p99", service_classes: Any = None,
                          workloads: Any = None) -> list[str]:
    """Every problem of the demand and sites a comparison prices, before any work: the
    tables themselves, a demand without people or load, its ``sovereign`` column, service
    classes on another workload than the (capacitated) edge plan's, and cost tables of
    the user's that are another spelling of a tier the sites use.

    Parameters
    ----------
    demand, sites : pandas.DataFrame
        As for :func:`compare`.
    model : LatencyModel or None
        The latency model (its access classes check the demand).
    tiers : TierCatalog, path, "builtin" or None
        The tier catalog.
    context : dict
        :func:`compare_input_problems`' context; ``demand`` and ``sites`` (the validated
        tables) are added to it.
    demand_source : str, default "<demand>"
        The demand's name in the messages (its file on the command line).
    budget_ms, percentile, service_classes, workloads
        The run's options that resolve the rows' service classes.

    Returns
    -------
    list of str
        One sentence per problem, naming the input and the fix.
    """
    from .inputs.tables import as_demand, as_sites
    from .model.capacity import load_column

    found: list[str] = []
    ctx = context if isinstance(context, dict) else dict(context)
    d = s = None
    try:
        d = as_demand(demand, access_profiles=None if model is None
                      else model.access_profiles_ms)
    except InputValidationError as exc:
        found.append(str(exc))
    try:
        s = as_sites(sites)
    except InputValidationError as exc:
        found.append(str(exc))
    ctx["demand"], ctx["sites"] = d, s
    if d is not None:
        try:
            sovereign_mask(d, source=demand_source)
        except InputValidationError as exc:
            found.append(str(exc))
        if not float(d["population"].sum()) > 0:
            found.append(
                "compare: the demand has no people (population sums to 0); shares within "
                "budget and costs per user-month are per person. Fix: give the rows their "
                "population")
        load = None
        if "load_rps" in d.columns:  # the plan's check first: a bad row is named as such
            try:
                load = load_column(d, source=demand_source)
            except InputValidationError as exc:
                found.append(str(exc))
        if load is not None and not float(np.nansum(load)) > 0:
            found.append(
                "compare: the demand's load_rps sums to 0, so there is nothing to price per "
                "request. Fix: give the rows their peak load, or drop the column and use "
                "requests_per_person_day")
        if ctx.get("workload") is not None:  # the edge plan is capacitated: its classes
            from .planner.plan import resolve_plan_service

            try:  # on other workloads share the plan's pool (refused here, not after the
                service = resolve_plan_service(  # region's coverage, when they cannot)
                    d, budget_ms=budget_ms, percentile=percentile,
                    service_classes=service_classes, workloads=workloads, source=demand_source)
                ctx["service"] = service
                if service is not None:
                    found += _pool_problems(service, ctx, demand_source)
            except InputValidationError as exc:
                found.append(str(exc))
    found += cost_tier_problems(s, tiers, ctx)
    return found


#: The priced figures of ``compare.json`` (dotted paths) that are always finite numbers.
_PRICED = ("edge.capex_usd", "edge.cost_usd_per_year", "edge.cost_per_million_requests",
           "edge.load", "edge.utilisation.fleet_mean", "region.cost_usd_per_year",
           "region.cost_per_million_requests", "region.load", "region.utilisation",
           "region.region_hour_usd", "breakeven.fixed_usd_per_year",
           "breakeven.energy_at_full_use_usd_per_year", "breakeven.capacity_rps",
           "breakeven.region_cost_per_million_requests", "breakeven.fleet_utilisation")


def _non_finite(doc: Mapping[str, Any], paths: tuple[str, ...]) -> list[str]:
    """The dotted ``paths`` of ``doc`` (absent ones skipped) holding a number that is not
    finite (NaN, an infinity), or a mapping or list that holds one."""
    out: list[str] = []

    def walk(o: Any, path: str) -> None:
        if isinstance(o, Mapping):
            for k, v in o.items():
                walk(v, f"{path}.{k}")
        elif isinstance(o, list | tuple):
            for i, v in enumerate(o):
                walk(v, f"{path}[{i}]")
        elif isinstance(o, float | np.floating) and not math.isfinite(float(o)):
            out.append(path.lstrip("."))

    for path in paths:
        node: Any = doc
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        walk(node, path)
    return out


def compare(demand: pd.DataFrame, sites: pd.DataFrame, *, budget_ms: float | str = 30.0,
            failures: int = 1, percentile: str = "p99", access: str = "ftth",
            model: Any = None, regions: pd.DataFrame | None = None,
            costs: CostModel | str | None = None,
            requests_per_person_day: float | None = None, peak_to_mean: float = 3.0,
            target_utilisation: float = 0.8, workloads: Any = None, tiers: Any = "builtin",
            region_workload: str | None = None, preference_share: float = 0.8,
            thin_utilisation: float = 0.4, progress: Callable[[str], None] | None = None,
            **plan_options: Any) -> Comparison:
    """Compare the edge fleet a budget needs with serving the same demand from a region.

    Parameters
    ----------
    demand, sites : pandas.DataFrame
        As for :func:`coverage.plan_sites`. A demand ``sovereign`` column (true/false)
        marks rows whose data may not leave for a region (they count as outside every
        region's budget). A demand ``load_rps`` column gives the peak load; otherwise
        ``requests_per_person_day``.
    budget_ms, failures, percentile, access, model, workloads, tiers
        As for :func:`coverage.plan_sites`.
    regions : pandas.DataFrame or path, optional
        Regions (a table of ``region_id``, ``lat``, ``lon``, or a regions file; validated as
        :func:`coverage.model.regions.as_regions` does); default: every built-in region
        (:func:`coverage.model.regions.builtin_regions`).
    costs : CostModel or path, optional
        The cost model; default the built-in one (``coverage/model/costs.toml``).
    requests_per_person_day : float, optional
        Peak load from population (with ``peak_to_mean``); default
        :data:`DEFAULT_REQUESTS_PER_PERSON_DAY` unless the demand has ``load_rps``.
    peak_to_mean, target_utilisation : float
        As for :func:`coverage.plan_sites`; the mean load is the peak over
        ``peak_to_mean``.
    region_workload : str, optional
        The workload the region serves (default: the edge's when the region rents its
        accelerator, else the same model on one it does, e.g. ``vision-l4`` for
        ``vision-orin``).
    preference_share, thin_utilisation : float
        Thresholds of the ``preference-budget`` (region's share within budget at or above)
        and ``thin-utilisation`` (fleet mean utilisation below) warnings.
    progress : callable, optional
        Called with a short message at the start of each stage.
    **plan_options
        More keyword arguments of :func:`coverage.plan_sites` (time limits, strategy,
        ``domain_radius_km``, ...). ``sizing`` defaults to ``"least"`` here: the fleet is
        priced at the least capacity of every site that carries every scenario when that
        is found (``edge.sizing``), else at each site's worst load of the most even flows.

    Returns
    -------
    Comparison

    Raises
    ------
    InputValidationError
        Bad inputs, options, regions, workloads or cost model: every problem in one
        message (one line each), found before any work (:func:`compare_input_problems`,
        :func:`compare_data_problems` and the plan's option checks).
    """
    # this call's arguments, for Comparison.repriced (before any of them is rebound)
    arguments = {k: v for k, v in locals().items() if k not in ("demand", "sites")}
    arguments.update(arguments.pop("plan_options"))
    # Comparison.repriced's: the edge plan of an earlier call on the same inputs (taken
    # once: a compare that a progress callback of this one starts plans its own)
    reuse = _REPRICING.get()
    _REPRICING.set(_NO_PLAN)
    from . import advisor
    from .config import as_model
    from .model.capacity import fit_sites, site_power
    from .model.regions import region_coverage
    from .model.service import preset_budget
    from .model.tiers import TierCatalog
    from .planner.plan import plan_sites

    say = reporter(progress, logger)
    plan_options = {"sizing": "least", **plan_options}
    # every check before the work (the region's coverage, the plan), into one message
    try:
        model = as_model(model)
    except InputValidationError as exc:
        raise InputValidationError(str(exc)) from None
    problems = _option_problems(
        budget_ms=budget_ms, failures=failures, percentile=percentile, access=access,
        model=model, workloads=workloads, tiers=tiers,
        requests_per_person_day=requests_per_person_day, peak_to_mean=peak_to_mean,
        target_utilisation=target_utilisation, plan_options=plan_options)
    found, ctx = compare_input_problems(
        model=model, costs=costs, regions=regions, workloads=workloads,
        region_workload=region_workload, preference_share=preference_share,
        thin_utilisation=thin_utilisation)
    problems += found
    problems += compare_data_problems(
        demand, sites, model=model, tiers=tiers, context=ctx, budget_ms=budget_ms,
        percentile=percentile, service_classes=plan_options.get("service_classes"),
        workloads=workloads)
    if problems:
        raise InputValidationError("\n".join(dict.fromkeys(problems)))
    cost_model, regions = ctx["costs"], ctx["regions"]
    workload, r_workload = ctx["workload"], ctx["region_workload"]
    same_model = _model_of(r_workload.name) == _model_of(workload.name)
    if not same_model:
        # tester 181: --region-workload gptj-l4 against a vision-l4 edge flipped the verdict
        # to "edge" (the region priced on a 2.6 s language model) without a word
        logger.warning("the region serves %s (--region-workload) and the edge %s: another "
                       "model, so the two prices and latencies are not for the same work. "
                       "Fix: give --region-workload the edge's model on an accelerator the "
                       "region rents (the same name up to the last '-'), or drop it",
                       r_workload.name, workload.name)
    preset = preset_budget(budget_ms)
    budget = float(preset.budget_ms if preset is not None else budget_ms)
    pct = preset.percentile if preset is not None else percentile
    d, s_valid = ctx["demand"], ctx["sites"]
    sovereign = sovereign_mask(d)
    has_load = "load_rps" in d.columns
    if has_load and requests_per_person_day is not None:  # the plan's own warning, here
        logger.warning("requests_per_person_day (--requests-per-person-day) %g is not used: "
                       "the demand's load_rps column is the load", requests_per_person_day)
    rppd = (None if has_load else
            float(requests_per_person_day if requests_per_person_day is not None
                  else DEFAULT_REQUESTS_PER_PERSON_DAY))
    if ctx.get("pool") is not None:  # the plan's own check, before the region's coverage
        from .model.capacity import check_weighted_load

        rows = _row_requests(d, rppd, peak_to_mean)
        inputs = plan_options.get("inputs")
        source = (inputs.get("demand", {}).get("path", "<demand>")
                  if isinstance(inputs, Mapping) else "<demand>")
        check_weighted_load(rows * ctx["pool"].row_weights(ctx["service"].workload),
                            ctx["pool"], str(source))
    tier_catalog = TierCatalog.from_spec(None if isinstance(tiers, str) and tiers == "builtin"
                                         else tiers)
    # the fit check before the plan: its figures feed model-does-not-fit either way
    try:
        # (the plan says a power_kw above its tier's envelope)
        _, excluded = fit_sites(s_valid, workload, tier_catalog, warn=False)
        fit_error = None
    except NoFeasiblePlanError as exc:
        excluded, fit_error = None, str(exc)
    fit = advisor.fit_figures(s_valid, workload, tier_catalog, excluded)

    # region coverage with the planner's latency model, sovereign rows outside any region
    budgets = sorted({budget, *COMPARE_BUDGETS_MS})
    say(f"region coverage: {len(regions):,} regions at {', '.join(f'{b:g}' for b in budgets)} "
        f"ms {pct}")
    d_region = d.copy()
    d_region.loc[sovereign, "population"] = 0.0
    # the region serves its own workload (the same model on an accelerator it rents)
    region_model = (model if r_workload.name == workload.name or model.inference_ms is not None
                    else replace(model, inference_ms=tuple(r_workload.inference_ms)))
    # mobile rows reach a region through their packet-core breakout, as the plan's
    # reference-tier sites (tester 151: Bergen users counted at 72 ms p99 from a Bergen
    # region where a Bergen edge site is 86 ms via the Oslo UPF)
    upf = _region_upf(d, access, plan_options.get("upf", "default"))
    rc = region_coverage(d_region, regions, budgets, model=region_model, access=access,
                         percentile=pct, upf=upf)
    total_pop = float(d["population"].sum())
    for col in ("population_within_budget", "population_within_budget_n1"):
        share = col.replace("population", "share")
        rc[share] = rc[col] / total_pop if total_pop > 0 else math.nan
    rc["population"] = total_pop
    rc["population_sovereign"] = float(d.loc[sovereign, "population"].sum())
    here = rc[rc["budget_ms"] == budget].iloc[0]
    # the region's workload for each of the rows' (service classes on other workloads
    # than the run's: the same model on an accelerator the region rents)
    r_workloads = ctx.get("region_workloads") or {workload.name: r_workload}
    region_models = {name: (rw.name, region_model if name == workload.name else
                            model.with_workload(rw.name, {rw.name: tuple(rw.inference_ms)}))
                     for name, rw in r_workloads.items()}
    by_class = _region_by_class(d, d_region, regions, budget, pct, region_models, access,
                                plan_options.get("service_classes"), total_pop,
                                workloads=workloads, run_workload=workload.name, upf=upf)
    headline = {k: float(here[k]) for k in (
        "population_within_budget", "share_within_budget", "population_within_budget_n1",
        "share_within_budget_n1", "mean_latency_ms", "median_distance_km",
        "population_sovereign")}
    budget_label = f"{budget:g} ms {pct}"
    if by_class is not None:  # every row at its own class's budget, not the run's
        for k in ("population_within_budget", "population_within_budget_n1"):
            headline[k] = float(sum(r[k] for r in by_class))
            headline[k.replace("population", "share")] = headline[k] / total_pop
        # each class's own mean (its percentile, its workload's inference), weighted by
        # its people: the run's workload alone gave every class its inference (tester 126)
        served = sum(r["population_region_served"] for r in by_class
                     if r["mean_latency_ms"] is not None)
        headline["mean_latency_ms"] = (
            float(sum(r["mean_latency_ms"] * r["population_region_served"] for r in by_class
                      if r["mean_latency_ms"] is not None) / served)
            if served > 0 else math.nan)
        budget_label = "each row's own budget (service classes)"

    plan = None
    if fit_error is None and reuse is not _NO_PLAN:
        say("edge plan: the earlier comparison's (repriced, not planned again)")
        plan = reuse
    elif fit_error is None:
        say(f"edge plan: {budget:g} ms {pct}, N-{int(failures)}, load from "
            + ("the demand's load_rps" if has_load else f"{rppd:g} requests/person/day"))
        plan = plan_sites(demand, sites, budget_ms=budget, failures=failures, percentile=pct,
                          access=access, model=model, workloads=workloads, tiers=tiers,
                          requests_per_person_day=rppd, peak_to_mean=peak_to_mean,
                          target_utilisation=target_utilisation, progress=progress,
                          **plan_options)
    own_capacity = set()
    if "capacity_rps" in s_valid.columns:
        given = pd.to_numeric(s_valid["capacity_rps"], errors="coerce").notna()
        own_capacity = set(s_valid.loc[given, "site_id"].astype(str))
    doc, table, fleet = _edge_side(plan, workload, cost_model, tier_catalog, site_power,
                                   peak_to_mean, target_utilisation, fit_error, own_capacity)
    if fleet is not None and not fleet.mean_load_rps > 0:  # not an overflow (tester 120)
        raise InputValidationError(
            f"compare: the edge plan of {int(doc['sites'])} site(s) serves no request: "
            f"every row with a load is out of every candidate's reach at {budget_label}, "
            "so its price per request has no meaning. Fix: give a load (load_rps) to the "
            "rows the candidates reach, add candidates near the loaded rows, or allow a "
            "larger budget (--budget-ms)")
    note = (doc.get("sizing") or {}).get("over_envelope_note")
    if note:  # on the console too, not only in compare.json (tester 120; the facility's
        logger.warning("compare: %s", note)  # own note is said where it is made)
    # the same load from a region: the requests the demand asks for (all of them), each
    # workload's on the region's workload for it
    peak_by = _peak_requests_by_workload(d, ctx.get("service"), workload.name, rppd,
                                         peak_to_mean)
    peak_total = float(sum(peak_by.values()))
    mean_total = peak_total / peak_to_mean
    rcost, r_parts = _region_cost_by_workload(cost_model, peak_by, r_workloads, peak_to_mean)
    # the price per request the two sides are compared by: with several workloads, the
    # region's own price of each applied to the mix the edge serves (the demand's mix
    # would price requests the edge does not serve: a class no site reaches, tester 126)
    region_cpm, mix = _region_price_on_mix(rcost, r_parts, plan)
    region = {
        "regions": int(len(regions)),
        "providers": sorted(regions["provider"].dropna().astype(str).unique().tolist())
        if "provider" in regions.columns else [],
        # the region workloads it rents (not the run's when no row asks for it: tester 126)
        "workload": " + ".join(sorted({str(p["region_workload"]) for p in r_parts.values()}))
        or r_workload.name,
        "accelerator": rcost.accelerator,
        # whether the region serves the edge's model (the run's workload; false only when
        # --region-workload names another model)
        "same_model": bool(same_model),
        "coverage": {"budget_ms": budget, "percentile": pct, "budget": budget_label,
                     **headline, **({"note": "every person's data is sovereign (may not "
                                     "leave for a region): the region serves nobody, so "
                                     "its latency and distance figures are null"}
                                    if not float(d_region["population"].sum()) > 0
                                    else {})},
        "utilisation": {"utilisation": rcost.utilisation,
                        "accelerators_mean": rcost.accelerators_mean,
                        "accelerators_if_sized_for_peak": rcost.accelerators_mean
                        * peak_to_mean,
                        "note": "pooled: the region rents accelerator-hours for the mean "
                                "load at its utilisation"},
        "load": {"peak_rps": peak_total, "mean_rps": mean_total,
                 "requests_per_year": mean_total * SECONDS_PER_YEAR},
        "cost_usd_per_year": {"compute": rcost.compute_usd_per_year,
                              "network": rcost.network_usd_per_year,
                              "total": rcost.total_usd_per_year},
        "region_hour_usd": rcost.region_hour_usd,
        "cost_per_million_requests": region_cpm,
        **({"cost_per_million_requests_demand_mix": rcost.cost_per_million_requests,
            "price_mix": mix} if mix is not None else {}),
        "cost_per_user_month": (rcost.total_usd_per_year / 12 / total_pop
                                if total_pop > 0 else None),
        "power_usd_per_kwh": cost_model.region.power_usd_per_kwh,
    }
    if len(r_parts) > 1 or workload.name not in r_parts:  # service classes' workloads
        region["workloads"] = r_parts
    breakeven: dict[str, Any] = {"utilisation": None, "busiest_site_peak_at_breakeven": None,
                                 "fleet_utilisation": None, "note": "no edge plan"}
    if fleet is not None:
        u_star = breakeven_utilisation(fleet, region_cpm)
        # the busiest site's peak hour at the breakeven's load (the load scaled by
        # u* / the present utilisation): above 1, the priced equipment could not carry the
        # load the breakeven assumes (tester 151: a u* of 61 % where the fleet's sites peak
        # at 3 x their mean)
        u_peak = (table["utilisation_peak"].to_numpy(dtype=np.float64)
                  if len(table) else np.zeros(0))
        busiest = (float(u_peak.max()) * u_star / fleet.utilisation
                   if u_star is not None and fleet.utilisation > 0 and len(u_peak)
                   else None)
        breakeven = {
            "utilisation": u_star,
            "busiest_site_peak_at_breakeven": busiest,
            "fixed_usd_per_year": fleet.fixed_usd_per_year,
            "energy_at_full_use_usd_per_year": float(
                fleet.sites.energy_per_util_usd_per_year.sum()),
            # V and R of the breakeven (docs/edge-vs-region.md): the energy that scales
            # with use at the present load, and the present requests a year
            "energy_at_present_load_usd_per_year": fleet.energy_at_load_usd_per_year,
            "requests_per_year": fleet.mean_requests_rps * SECONDS_PER_YEAR,
            "capacity_rps": fleet.capacity_rps,
            # (in the plan's load unit: requests/s of the run's workload with a pool)
            "capacity_unit": (doc.get("load") or {}).get("load_unit") or "requests/s",
            "region_cost_per_million_requests": region_cpm,
            "fleet_utilisation": fleet.utilisation,
            "clears": bool(u_star is not None and fleet.utilisation >= u_star),
            "note": ("the fleet mean utilisation at which the priced edge fleet would cost "
                     "the region's price per million requests (equipment fixed, the present "
                     "load scaled in proportion at every site); null: not at or below "
                     "100 %. A price figure: busiest_site_peak_at_breakeven is the busiest "
                     "site's peak-hour utilisation at that load, above 1 a load the priced "
                     "accelerators could not carry"),
        }
    doc_all: dict[str, Any] = {
        "budget_ms": budget, "percentile": pct, "budget_label": budget_label,
        "failures": int(failures),
        "edge": doc, "region": region, "breakeven": breakeven,
        "assumptions": {
            "load_from": ("the demand's load_rps column" if has_load else
                          f"population x {rppd:g} requests/person/day x {peak_to_mean:g} "
                          "peak-to-mean / 86400"),
            "requests_per_person_day": rppd, "peak_to_mean": peak_to_mean,
            "target_utilisation": target_utilisation,
            "workload": workload.name, "region_workload": r_workload.name,
            "users": "cost per user-month divides by the people each side serves (edge: "
                     "within budget of the plan; region: every person of the demand)",
        },
        "region_coverage": _records(rc),
        "region_coverage_by_service_class": by_class,
        "cost_model": cost_model.to_dict(),
    }
    doc_all["decision"], doc_all["warnings"] = advisor.advise(
        doc_all, fit=fit, plan_summary=plan.summary() if plan is not None else None,
        fleet=fleet, costs=cost_model, sovereign_share=(
            headline["population_sovereign"] / total_pop),
        population_exposed=_exposed(plan), preference_share=preference_share,
        thin_utilisation=thin_utilisation)
    doc_all["verdict"] = advisor.verdict(doc_all, preference_share)
    bad = _non_finite(doc_all, _PRICED)
    if bad:  # every input is bounded, so this is a guard: never a silent null figure
        raise InputValidationError(
            f"compare: the figures {', '.join(bad[:10])} are not finite numbers (the inputs "
            "combine into an overflow). Fix: check the cost model's prices, the workload's "
            "throughput_rps and the load (requests_per_person_day, load_rps) for values "
            "off by orders of magnitude")
    # the validated tables (their own copies: copy-on-write keeps them as they are even
    # if they are the caller's, already validated), the cost model and regions as read
    inputs = _CallInputs(d.copy(deep=False), s_valid.copy(deep=False),
                         {**arguments, "costs": cost_model, "regions": regions.copy()})
    return Comparison(plan, plain_values(doc_all, json=True), table, rc, inputs)


def _edge_side(plan: Any, workload: Any, costs: CostModel, tier_catalog: Any,
               site_power: Any, peak_to_mean: float, target_utilisation: float,
               fit_error: str | None, own_capacity: set[str] = frozenset(),  # type: ignore[assignment]
               ) -> tuple[dict[str, Any], pd.DataFrame, FleetCost | None]:
    """``compare.json["edge"]``, ``compare_sites.csv`` and the priced fleet.

    Sites whose capacity came from a ``capacity_rps`` column (``own_capacity``, site ids)
    are sized by the workload's throughput without the power envelope's cap: their
    capacity is the user's, not the envelope's."""
    if plan is None:
        return ({"feasible": False, "reason": fit_error, "sites": 0,
                 "cost_per_million_requests": None, "cost_per_user_month": None},
                pd.DataFrame(), None)
    s = plan.summary()
    sites = plan.sites
    cap_info = s["capacity"]
    cap = sites["capacity_rps"].to_numpy(dtype=np.float64)
    peak = sites["load_rps"].to_numpy(dtype=np.float64)
    worst = sites["worst_utilisation"].to_numpy(dtype=np.float64) * cap
    worst = np.where(np.isfinite(worst), np.maximum(worst, peak), peak)
    envelope = sites["n_accelerators"].to_numpy(dtype=np.int64)
    thr = float(workload.throughput_rps)
    own = sites["site_id"].astype(str).isin(own_capacity).to_numpy()

    def sized(load: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        return right_size(load, np.where(own, -1, envelope), throughput_rps=thr,
                          target_utilisation=target_utilisation,
                          min_accelerators=int(workload.min_accelerators))

    n = sized(worst)
    # the least capacity carrying every scenario (plan_sites' sizing="least"), when found:
    # its flows need not be the most even ones, so its sites' loads are the sizes, and
    # the fleet is priced at whichever of the two sizings has fewer accelerators
    least = (sites["sized_capacity_rps"].to_numpy(dtype=np.float64)
             if "sized_capacity_rps" in sites.columns else np.full(len(sites), np.nan))
    sizing_lp = cap_info.get("sizing") or {}
    by = "most_even"
    n_even = int(n.sum())
    load_sized = worst
    # scenarios the check implied rather than listed (N-2 and up on large plans) are
    # carried at each site's most even worst load only when the plan's re-check says so
    # (capacity.most_even_sizes); else only the least capacity (its program holds every
    # scenario) is known to carry them
    n_implied = int(cap_info.get("scenarios_total") or 0) - int(
        cap_info.get("scenarios_checked") or 0)
    recheck = str((cap_info.get("most_even_sizes") or {}).get("status", "not checked"))
    even_unproven = n_implied > 0 and recheck != "every scenario carried"
    if len(sites) and np.isfinite(least).all():
        n_least = sized(least)
        if int(n_least.sum()) < n_even or even_unproven:
            n, load_sized, by = n_least, least, "least"
            # normal operation in the sizing's own flow: the most even flow's loads are
            # not what the least capacities carry (a site priced for 723 requests/s read a
            # peak of 2,646 from them, utilisation_peak 2.9; tester 151)
            own_normal = (sites["sized_normal_load_rps"].to_numpy(dtype=np.float64)
                          if "sized_normal_load_rps" in sites.columns else None)
            if own_normal is not None and np.isfinite(own_normal).all():
                peak = own_normal
    over = own & (envelope >= 0) & (n > envelope)
    power_kw, pue, _ = site_power(sites, tier_catalog, warn=False)
    tiers = (sites["tier"].astype(str).to_numpy(dtype=object) if "tier" in sites.columns
             else np.full(len(sites), "default", dtype=object))
    mean = peak / peak_to_mean
    # service classes on several workloads sharing the accelerators: the load is in
    # requests/s of the run's workload (accelerator time); the prices per request count
    # each workload's own requests (sites.csv's requests_rps)
    pooled = bool(cap_info.get("workloads"))  # (not a column the candidates may carry)
    requests_peak = (sites["requests_rps"].to_numpy(dtype=np.float64) if pooled else peak)
    fleet = fleet_cost(costs, tiers=tiers, n_accelerators=n, mean_load_rps=mean,
                       accelerator=workload.accelerator, throughput_rps=thr,
                       accelerator_w=float(workload.accelerator_w or 0.0),
                       host_w=float(workload.host_w or 0.0), pue=pue,
                       accelerators_per_host=int(workload.accelerators_per_host),
                       mean_requests_rps=float(requests_peak.sum()) / peak_to_mean)
    raw = n * thr
    u_peak = np.divide(peak, raw, out=np.zeros_like(peak), where=raw > 0)
    # the worst scenario's peak of the flows the sizing carries (the most even flows', or
    # the least capacity program's, whose largest load at a site is its size)
    u_worst = np.divide(load_sized, raw, out=np.zeros_like(load_sized), where=raw > 0)
    u_mean = fleet.utilisation_mean
    sc = fleet.sites
    # an independent check of the sizing: the priced hosts of a site sized within its
    # envelope draw no more than the envelope (the fit and the prices count the same hosts)
    facility_over = (np.isfinite(power_kw) & ~own
                     & (np.asarray(sc.facility_kw) > power_kw * (1 + 1e-9)))
    if facility_over.any():
        logger.warning(
            "%s of %s chosen sites draw more power than their envelope at the priced "
            "accelerators and hosts: their capacity, and the plan's proof, are optimistic "
            "(compare_sites.csv: facility_kw against power_envelope_kw)",
            f"{int(facility_over.sum()):,}", f"{len(sites):,}")
    table = pd.DataFrame({
        "site_id": sites["site_id"].to_numpy(), "tier": tiers,
        "n_accelerators_envelope": envelope, "n_accelerators": n,
        "n_hosts": sc.hosts,
        # the priced accelerators' raw throughput (what utilisation_* are over)
        "capacity_rps": raw,
        "peak_load_rps": peak, "mean_load_rps": mean, "worst_load_rps": worst,
        # the load the accelerators were sized for: worst_load_rps, or with by "least"
        # the site's least capacity that carries every scenario (tester 137)
        "sized_load_rps": load_sized,
        "utilisation_mean": u_mean, "utilisation_peak": u_peak,
        "utilisation_worst": u_worst, "facility_kw": sc.facility_kw,
        "power_envelope_kw": power_kw,
        "capex_usd": sc.capex_usd, "capital_usd_per_year": sc.capital_usd_per_year,
        "energy_usd_per_year": sc.energy_usd_per_year,
        "lease_usd_per_year": sc.lease_usd_per_year,
        "backhaul_usd_per_year": sc.backhaul_usd_per_year,
        "operations_usd_per_year": sc.operations_usd_per_year,
        "total_usd_per_year": sc.total_usd_per_year,
    })
    if pooled:  # the loads above are in requests/s of the run's workload
        table.insert(table.columns.get_loc("peak_load_rps"), "peak_requests_rps",
                     requests_peak)
    served_pop = float(s["population_covered"])
    n1_safe = _n1_safe(plan)
    complete = bool(cap_info.get("scenarios_complete", True))
    # (most even sizes with implied scenarios: carried at the fleet's worst level only)
    even_unchecked = by == "most_even" and even_unproven and complete
    if not complete:
        short_by = "the capacity check was cut at --scenario-limit"
        note = ("the capacitated plan checked only part of the failure scenarios; the "
                "priced capacities carry those it checked")
    elif even_unchecked:
        short_by = ("the priced loads were re-checked over the implied failure scenarios "
                    f"with the result '{recheck}'")
        note = (f"the priced capacities carry every listed scenario's flow; the {n_implied:,} "
                "scenarios the check implied were carried at the fleet's worst utilisation, "
                f"and at each site's priced capacity {recheck} (the least capacity, --sizing "
                "least, carries every one when found)")
    else:
        short_by, note = None, "every scenario's flow fits the priced capacities"
    doc = {
        "feasible": True, "sites": int(s["site_count"]), "status": s["status"],
        "workload": workload.name, "accelerator": workload.accelerator,
        "coverage": {
            "population": float(s["population_total"]),
            "population_within_budget": served_pop,
            "share_within_budget": (served_pop / s["population_total"]
                                    if s["population_total"] else None),
            # people who stay within budget when their nearest chosen site fails, from the
            # assignment (summary's N-1 figure counts candidates, and with --failures 0 it
            # is absent: the N-0 share was reported as N-1 safe, a tester's find)
            "population_n1_safe": n1_safe,
            "share_n1_safe": (n1_safe / s["population_total"]
                              if s["population_total"] else None),
            "mean_latency_ms": s.get("mean_latency_percentile_ms"),
            # the people within budget through any k failures (k >= 2: the plan's own N-k)
            "share_nk_safe": _nk_share(s),
        },
        "sizing": {
            "rule": ("right-sized: accelerators for the least capacity of every site that "
                     "carries every scenario (one linear program over all the scenarios), "
                     if by == "least" else
                     "right-sized: accelerators for the worst scenario's load of the most "
                     "even flows, ")
                    + f"at the target utilisation {target_utilisation:g} (whole systems of "
                    f"{workload.min_accelerators}), at most the power envelope's",
            "by": by,
            "accelerators_most_even": n_even,
            "least_capacity": sizing_lp.get("status", "not asked (sizing off)"),
            "capacity_proof_holds": short_by is None,
            # why not, in a clause (the advisor's text): the plan's own check cut, or the
            # priced loads' re-check over the implied scenarios
            "capacity_proof_short_by": short_by,
            "note": note,
            "accelerators": int(n.sum()),
            "accelerators_envelope": int(envelope[envelope >= 0].sum()),
            "sites_over_envelope": int(over.sum()),
            "sites_facility_over_envelope": int(facility_over.sum()),
            "facility_over_envelope_note": (
                f"{int(facility_over.sum())} site(s) draw more power than their envelope at "
                "the priced accelerators and hosts: their capacity is optimistic"
                if facility_over.any() else None),
            "over_envelope_note": (
                f"{int(over.sum())} site(s) with their own capacity_rps need more "
                f"{workload.accelerator} accelerators than their power envelope holds: priced "
                "at what the load needs" if over.any() else None),
        },
        "utilisation": {
            "fleet_mean": fleet.utilisation,
            "fleet_peak": float(peak.sum() / raw.sum()) if raw.sum() > 0 else None,
            "worst_failure_max": float(u_worst.max()) if len(u_worst) else None,
            "site_mean_p10": float(np.percentile(u_mean, 10)) if len(u_mean) else None,
            "site_mean_p50": float(np.percentile(u_mean, 50)) if len(u_mean) else None,
            "site_mean_p90": float(np.percentile(u_mean, 90)) if len(u_mean) else None,
            "sites_below_40pct": int((u_mean < 0.4).sum()),
            "note": "load over the priced accelerators' raw throughput (no headroom): mean "
                    "= daily mean load, peak = peak hour, worst = the worst failure "
                    "scenario's peak",
        },
        "load": {"peak_rps": float(requests_peak.sum()),
                 "mean_rps": fleet.mean_requests_rps,
                 "requests_per_year": fleet.mean_requests_rps * SECONDS_PER_YEAR,
                 **({"load_unit": cap_info.get("load_unit"),
                     "peak_in_load_unit_rps": float(peak.sum()),
                     "note": "requests/s of every workload; utilisation and sizing count "
                             "them in the load unit (each workload's accelerator time)"}
                    if pooled else {})},
        "capex_usd": float(sc.capex_usd.sum()),
        "cost_usd_per_year": {**fleet.by_line_usd_per_year,
                              "total": fleet.total_usd_per_year},
        "cost_per_million_requests": fleet.cost_per_million_requests,
        "cost_per_user_month": (fleet.total_usd_per_year / 12 / served_pop
                                if served_pop > 0 else None),
        "ztp": fleet.ztp,
        "truck_rolls_per_year": fleet.truck_rolls_per_year,
        "power_usd_per_kwh_mean": float(np.mean(
            [costs.tier(str(t)).power_usd_per_kwh for t in tiers])) if len(tiers) else None,
    }
    return doc, table, fleet


def _peak_requests_by_workload(d: pd.DataFrame, service: Any, run: str,
                               rppd: float | None, peak_to_mean: float) -> dict[str, float]:
    """The demand's peak requests/s by the rows' workload (``run`` where a row's service
    class names none): its ``load_rps`` column, else population x ``rppd`` x
    ``peak_to_mean`` / 86,400; every row, served or not."""
    from .model.capacity import row_workload_names

    req = _row_requests(d, rppd, peak_to_mean)
    if service is None:
        return {run: float(req.sum())}
    by = pd.Series(req).groupby(row_workload_names(service.workload, run).to_numpy()).sum()
    return {str(k): float(v) for k, v in sorted(by.items(), key=lambda kv: (kv[0] != run,
                                                                              kv[0]))}


def _row_requests(d: pd.DataFrame, rppd: float | None,
                  peak_to_mean: float) -> npt.NDArray[np.float64]:
    """Every demand row's peak requests/s: its ``load_rps`` (blank: 0), else population x
    ``rppd`` x ``peak_to_mean`` / 86,400."""
    if rppd is None:
        return pd.to_numeric(d["load_rps"], errors="coerce").fillna(0.0).to_numpy(
            dtype=np.float64)
    return d["population"].to_numpy(dtype=np.float64) * rppd / 86400.0 * peak_to_mean


def _region_cost_by_workload(costs: CostModel, peak_by: Mapping[str, float],
                             r_workloads: Mapping[str, Any], peak_to_mean: float,
                             ) -> tuple[RegionCostResult, dict[str, dict[str, Any]]]:
    """The region's price of every workload's mean requests on the region's workload for
    it, summed (one workload: :func:`region_cost` itself), and each workload's part for
    ``compare.json["region"]["workloads"]``. The combined ``region_hour_usd`` is the mean
    price of the rented accelerator-hours; the cost per million requests is over every
    workload's requests (each counts one request, whatever its accelerator time)."""
    parts = {name: region_cost(costs, mean_load_rps=peak / peak_to_mean,
                               accelerator=r_workloads[name].accelerator,
                               throughput_rps=float(r_workloads[name].throughput_rps))
             for name, peak in peak_by.items()}
    doc = {name: {"region_workload": r_workloads[name].name,
                  "accelerator": r.accelerator, "peak_rps": peak_by[name],
                  "mean_rps": peak_by[name] / peak_to_mean,
                  "accelerators_mean": r.accelerators_mean,
                  "region_hour_usd": r.region_hour_usd,
                  "cost_usd_per_year": r.total_usd_per_year,
                  "cost_per_million_requests": r.cost_per_million_requests}
           for name, r in parts.items()}
    if len(parts) == 1:
        return next(iter(parts.values())), doc
    hours = sum(r.accelerator_hours_per_year for r in parts.values())
    compute = sum(r.compute_usd_per_year for r in parts.values())
    network = sum(r.network_usd_per_year for r in parts.values())
    total = compute + network
    requests_m = sum(peak_by.values()) / peak_to_mean * SECONDS_PER_YEAR / 1e6
    accelerators = sorted({r.accelerator for r in parts.values()})
    first = next(iter(parts.values()))
    prices = {r.region_hour_usd for r in parts.values()}
    combined = RegionCostResult(
        " + ".join(accelerators),
        # one price: itself (not compute / hours, 0.4799999999999999 for 0.48: tester 126)
        prices.pop() if len(prices) == 1 else compute / hours if hours > 0
        else first.region_hour_usd,
        first.utilisation, sum(r.accelerators_mean for r in parts.values()), hours, compute,
        network, total, total / requests_m if requests_m > 0 else math.nan)
    return combined, doc


def _region_price_on_mix(rcost: RegionCostResult, parts: Mapping[str, Mapping[str, Any]],
                         plan: Any) -> tuple[float, dict[str, Any] | None]:
    """The region's price per million requests of the mix the edge plan serves: each
    workload's own region price weighted by the requests of it the plan's sites serve
    (``sites.csv``'s ``requests_<workload>_rps``), and that mix for ``compare.json``;
    the demand's price and ``None`` with one workload (the price does not depend on the
    mix) or without an edge plan."""
    if plan is None or len(parts) < 2:
        return rcost.cost_per_million_requests, None
    sites = plan.sites
    served = {w: float(pd.to_numeric(sites[f"requests_{w}_rps"], errors="coerce").sum())
              if f"requests_{w}_rps" in sites.columns else 0.0 for w in parts}
    total = sum(served.values())
    if not total > 0:
        return rcost.cost_per_million_requests, None
    price = sum(float(parts[w]["cost_per_million_requests"]) * r
                for w, r in served.items() if r > 0) / total
    return price, {"peak_rps_served": served,
                   "note": "the region's price per million requests of the mix of workloads "
                           "the edge serves (each workload's own region price, weighted by "
                           "its requests at the edge's sites); "
                           "cost_per_million_requests_demand_mix prices the demand's mix, "
                           "as the region's yearly cost does"}


def _region_upf(d: pd.DataFrame, access: str, spec: Any) -> pd.DataFrame | None:
    """The packet-core breakouts the plan routes the demand's mobile rows through (its
    ``upf`` option: ``"default"``, ``"none"``/``None``, a table or a file, read as
    :func:`coverage.planner.plan.build_routing` reads it, quietly: the plan says what it
    has to say about it), or ``None`` when no row is mobile."""
    from .model.routing import MOBILE_ACCESS

    acc = (d["access"].astype(str) if "access" in d.columns
           else pd.Series(access, index=d.index))
    if not acc.isin(MOBILE_ACCESS).any() or spec is None:
        return None
    if isinstance(spec, pd.DataFrame):
        return spec
    if isinstance(spec, str) and spec.strip() == "none":
        return None
    if isinstance(spec, str) and spec.strip() == "default":
        from .inputs.upf import default_upf

        return default_upf(d["lat"].to_numpy(float), d["lon"].to_numpy(float))
    from .inputs.upf import read_upf

    return read_upf(spec, quiet=True)


def _region_by_class(d: pd.DataFrame, d_region: pd.DataFrame, regions: pd.DataFrame,
                     budget: float, pct: str, models: Mapping[str, tuple[str, Any]],
                     access: str,
                     service_classes: Any, total_pop: float, *,
                     workloads: Any = None, run_workload: str = "",
                     upf: pd.DataFrame | None = None,
                     ) -> list[dict[str, Any]] | None:
    """The region's coverage of each service class at the class's own budget, percentile
    and workload (``models``: the rows' workload name -> the region's workload for it and
    its latency model, ``run_workload``'s for rows naming none; ``None`` without per-row
    budgets)."""
    from .model.regions import region_coverage
    from .planner.plan import resolve_plan_service

    service = resolve_plan_service(d, budget_ms=budget, percentile=pct,
                                   service_classes=service_classes, workloads=workloads)
    if service is None:
        return None
    eff = service.effective_budget_ms(budget)
    out = []
    labels = pd.Series(service.label, dtype=object)
    for label, rows in labels.groupby(labels, sort=True).groups.items():
        idx = np.asarray(rows, dtype=np.int64)
        b, p, w = float(eff[idx[0]]), str(service.percentile[idx[0]]), service.workload[idx[0]]
        # the region serves its own workload for the class's (the same model on an
        # accelerator it rents: compare_data_problems resolved one for each)
        r_name, m = models[str(w) if w else run_workload]
        sub = d_region.iloc[idx]
        row = region_coverage(sub, regions, [b], model=m, access=access,
                              percentile=p, upf=upf).iloc[0]
        people = float(d["population"].to_numpy(dtype=np.float64)[idx].sum())
        served = float(sub["population"].to_numpy(dtype=np.float64).sum())  # not sovereign
        out.append({"service_class": str(label), "budget_ms": b, "percentile": p,
                    "workload": str(w) if w else run_workload,
                    "region_workload": r_name, "population": people,
                    "population_within_budget": float(row["population_within_budget"]),
                    "population_within_budget_n1": float(row["population_within_budget_n1"]),
                    "share_within_budget": (float(row["population_within_budget"]) / people
                                            if people > 0 else None),
                    "share_within_budget_n1": (float(row["population_within_budget_n1"])
                                               / people if people > 0 else None),
                    # to the nearest region at the class's percentile, with the region's
                    # inference for the class's workload (the people a region may serve)
                    "mean_latency_ms": (float(row["mean_latency_ms"]) if served > 0
                                        else None),
                    "population_region_served": served})
    return out


def _nk_share(s: Mapping[str, Any]) -> float | None:
    """The share of people within budget through any ``k`` failures, ``k`` the plan's
    tolerated failures when at least 2 (``None`` below, or without the figure)."""
    k = int(s.get("failures_tolerated") or 0)
    safe = (s.get("population_safe_by_failures") or {}).get(f"N-{k}")
    total = s.get("population_total")
    if k < 2 or safe is None or not total:
        return None
    return float(safe) / float(total)


def _n1_safe(plan: Any) -> float:
    """People within budget of the plan who stay within it when their nearest chosen
    site fails (``n1_within_budget``: a second chosen site within their budget)."""
    a = plan.assignment
    kept = a["n1_within_budget"].fillna(False).to_numpy(dtype=bool)
    return float(a["population"].to_numpy(dtype=np.float64)[kept].sum())


def _exposed(plan: Any) -> float:
    """People within budget of the plan who leave it when their nearest site fails."""
    if plan is None:
        return 0.0
    a = plan.assignment
    within = (a["primary_latency_ms"].to_numpy(dtype=np.float64)
              <= a["budget_ms"].to_numpy(dtype=np.float64))
    kept = a["n1_within_budget"].fillna(False).to_numpy(dtype=bool)
    return float(a["population"].to_numpy(dtype=np.float64)[within & ~kept].sum())


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in df.to_dict(orient="records")]


