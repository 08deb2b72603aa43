"""The planning problem: validated inputs plus everything derived from them once.

:class:`RowLatency` is **the one place** where a demand point's latency constants are
computed: the latency of a (demand, site) pair at great-circle distance ``d`` km is
``fixed_ms[i] + ms_per_km * d`` and the pair is within budget when ``d <= radius_km[i]``.
Every stage (reach matrix, row generation, assignment and failure check, gaps, sweep)
takes these arrays instead of recomputing them from the model.

:class:`Problem` holds the validated demand and candidate tables, the model, the
:class:`~coverage.config.PlannerConfig`, the :class:`RowLatency` of the demand, and the
site-side arrays (required, cost). It is the seam where a richer model plugs in: per-site
tiers and per-demand budgets change ``RowLatency`` (per-row budget, per-pair inference),
capacity and power add site-side arrays; see ``docs/architecture.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..config import PlannerConfig
from .latency import LatencyModel, access_codes
from .service import ServiceRows

__all__ = ["RowLatency", "Problem", "largest_radius"]


@dataclass(frozen=True)
class RowLatency:
    """Latency constants of every demand point for one budget.

    Attributes
    ----------
    fixed_ms : numpy.ndarray
        Latency at distance 0 at the budget's percentile, ms (access, Wi-Fi, proxy,
        inference and hops combined).
    fixed_p50_ms : numpy.ndarray
        The same at p50, ms.
    radius_km : numpy.ndarray
        Budget radius, km, after any shrink; ``-1`` where the point's access class cannot
        meet the budget even at distance 0 (such a point is never within budget).
    ms_per_km : float
        Round-trip ms per km of great-circle distance.
    budget_ms : float
        The budget, ms.
    percentile : str
        Percentile the budget is checked at.
    infeasible_classes : tuple of str
        Access classes present that cannot meet the budget at distance 0.
    reasons : tuple of str
        The model's explanation for each of them.
    row_budget_ms : numpy.ndarray or None
        Each row's own budget, ms, with service classes / a ``budget_ms`` column (``None``:
        every row has ``budget_ms``).
    row_percentile : numpy.ndarray or None
        Each row's percentile, with service classes (``None``: every row has
        ``percentile``).
    """

    fixed_ms: npt.NDArray[np.float64]
    fixed_p50_ms: npt.NDArray[np.float64]
    radius_km: npt.NDArray[np.float64]
    ms_per_km: float
    budget_ms: float
    percentile: str
    infeasible_classes: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    row_budget_ms: npt.NDArray[np.float64] | None = field(default=None, repr=False)
    row_percentile: npt.NDArray[np.object_] | None = field(default=None, repr=False)

    @classmethod
    def from_model(cls, model: LatencyModel, access: npt.ArrayLike, budget_ms: float,
                   percentile: str = "p99",
                   radius_shrink_km: npt.ArrayLike | None = None, *,
                   factorized: tuple[npt.NDArray[np.intp], Any] | None = None,
                   service: ServiceRows | None = None,
                   uniform_budget: bool = False) -> RowLatency:
        """Compute the constants of every demand point (one pass per access class).

        Parameters
        ----------
        model : LatencyModel
            The latency model.
        access : array_like or str
            Access class of every demand point (or one for all).
        budget_ms : float
            Latency budget, ms.
        percentile : {"p99", "p50"}
            Percentile the budget is checked at.
        radius_shrink_km : array_like, optional
            Per point, km taken off the radius (conservative aggregation).
        factorized : tuple, optional
            ``(codes, classes)`` of ``access`` when already known
            (:func:`coverage.model.latency.access_codes`).
        service : coverage.model.service.ServiceRows, optional
            Per-row budget, percentile and workload (service classes, a ``budget_ms``
            column): each row gets its own fixed latency and radius.
        uniform_budget : bool, default False
            With ``service``: every row takes ``budget_ms`` (its class's percentile and
            workload are kept); what a budget sweep varies.

        Returns
        -------
        RowLatency
        """
        own = None
        pct = None
        if service is not None:
            own = None if uniform_budget else service.budget_ms
            pct = service.percentile
        c = model.row_constants(access, budget_ms, percentile, radius_shrink_km,
                                factorized=factorized, row_budget_ms=own,
                                row_percentile=pct,
                                row_workload=None if service is None else service.workload)
        row_budget = (None if service is None
                      else np.where(np.isnan(own), float(budget_ms), own) if own is not None
                      else np.full(len(service), float(budget_ms)))
        return cls(fixed_ms=c["fixed_ms"], fixed_p50_ms=c["fixed_p50_ms"],
                   radius_km=c["radius_km"], ms_per_km=float(model.ms_per_km),
                   budget_ms=float(budget_ms), percentile=percentile,
                   infeasible_classes=c["infeasible_classes"], reasons=c["reasons"],
                   row_budget_ms=row_budget, row_percentile=pct)

    def latency_ms(self, rows: npt.ArrayLike, distance_km: npt.ArrayLike, *,
                   p50: bool = False) -> npt.NDArray[np.float64]:
        """Latency of demand ``rows`` at ``distance_km`` from a site, ms (vectorised).

        The one formula of a (demand, site) pair's latency; ``p50=True`` gives the median.
        """
        fixed = self.fixed_p50_ms if p50 else self.fixed_ms
        return fixed[np.asarray(rows)] + self.ms_per_km * np.asarray(distance_km,
                                                                     dtype=np.float64)

    def subset(self, index: npt.ArrayLike) -> RowLatency:
        """The constants of the demand points ``index`` (an integer or boolean index)."""
        return replace(self, fixed_ms=self.fixed_ms[index],
                       fixed_p50_ms=self.fixed_p50_ms[index], radius_km=self.radius_km[index],
                       row_budget_ms=(None if self.row_budget_ms is None
                                      else self.row_budget_ms[index]),
                       row_percentile=(None if self.row_percentile is None
                                       else self.row_percentile[index]))

    @property
    def budgets_ms(self) -> npt.NDArray[np.float64]:
        """Every row's budget, ms."""
        if self.row_budget_ms is not None:
            return self.row_budget_ms
        return np.full(len(self.radius_km), self.budget_ms)

    @property
    def percentiles(self) -> npt.NDArray[np.object_]:
        """Every row's percentile."""
        if self.row_percentile is not None:
            return self.row_percentile
        return np.full(len(self.radius_km), self.percentile, dtype=object)

    @property
    def max_radius_km(self) -> float:
        """The largest radius (``-1`` when no point can meet the budget)."""
        return float(self.radius_km.max()) if len(self.radius_km) else -1.0

    def __len__(self) -> int:
        return len(self.radius_km)


def largest_radius(model: LatencyModel, classes: Iterable[str], budget_ms: float,
                   percentile: str = "p99") -> tuple[float, str]:
    """The largest budget radius over access ``classes`` (one model call per class), and
    its class.

    Raises
    ------
    InfeasibleBudgetError
        No class can meet the budget at distance 0 (the fastest class's reason).
    """
    classes = list(classes)
    fixed = {c: model.fixed_ms(c, percentile) for c in classes}
    feasible = {c: model.radius_km(budget_ms, c, percentile)
                for c in classes if fixed[c] <= budget_ms}
    if not feasible:
        model.radius_km(budget_ms, min(fixed, key=fixed.__getitem__), percentile)  # raises
    best = max(feasible, key=feasible.__getitem__)
    return float(feasible[best]), best


@dataclass(frozen=True)
class Problem:
    """Validated demand and candidates, the model and config, and what derives from them.

    Build with :meth:`build`; stages read its arrays and never recompute them.

    Attributes
    ----------
    demand : pandas.DataFrame
        Validated demand with an ``access`` column (the config's default access fills
        a missing column only).
    sites : pandas.DataFrame
        Validated candidate sites.
    model : LatencyModel
        The latency model.
    config : PlannerConfig
        The planner options.
    rows : RowLatency
        Latency constants of every demand point at the config's budget.
    radius_shrink_km : numpy.ndarray or None
        Per-point radius shrink (conservative aggregation).
    service : coverage.model.service.ServiceRows or None
        Per-row budget, percentile and workload (service classes); ``None``: every row
        has the config's.
    """

    demand: pd.DataFrame
    sites: pd.DataFrame
    model: LatencyModel
    config: PlannerConfig
    rows: RowLatency
    radius_shrink_km: npt.NDArray[np.float64] | None = field(default=None, repr=False)
    service: ServiceRows | None = field(default=None, repr=False)
    uniform_budget: bool = False

    @classmethod
    def build(cls, demand: pd.DataFrame, sites: pd.DataFrame, config: PlannerConfig,
              model: LatencyModel, *,
              radius_shrink_km: npt.ArrayLike | None = None,
              service: ServiceRows | None = None) -> Problem:
        """The problem of validated ``demand`` and ``sites`` under ``config``.

        Parameters
        ----------
        demand, sites : pandas.DataFrame
            Validated by :func:`~coverage.inputs.tables.as_demand` /
            :func:`~coverage.inputs.tables.as_sites`.
        config : PlannerConfig
            Options (already validated).
        model : LatencyModel
            The latency model.
        radius_shrink_km : array_like, optional
            Per demand point, km taken off its radius.
        service : coverage.model.service.ServiceRows, optional
            Per-row budget, percentile and workload
            (:func:`coverage.model.service.resolve_service`).

        Returns
        -------
        Problem
        """
        if "access" not in demand.columns:  # the default class only fills a missing column
            demand = demand.assign(access=config.access)
        shrink = (None if radius_shrink_km is None
                  else np.asarray(radius_shrink_km, dtype=np.float64))
        codes = access_codes(demand["access"].to_numpy())
        rows = RowLatency.from_model(model, demand["access"], config.budget_ms,
                                     config.percentile, shrink, factorized=codes,
                                     service=service)
        problem = cls(demand=demand, sites=sites, model=model, config=config, rows=rows,
                      radius_shrink_km=shrink, service=service)
        problem.__dict__["access_factorized"] = codes  # computed once, shared by with_budget
        return problem

    def with_budget(self, budget_ms: float) -> Problem:
        """The same problem at another budget (for sweeps): one uniform budget for every
        row; with service classes, each row keeps its class's percentile and workload."""
        config = replace(self.config, budget_ms=float(budget_ms))
        rows = RowLatency.from_model(self.model, self.demand["access"], budget_ms,
                                     config.percentile, self.radius_shrink_km,
                                     factorized=self.access_factorized, service=self.service,
                                     uniform_budget=True)
        problem = replace(self, config=config, rows=rows, uniform_budget=True)
        problem.__dict__["access_factorized"] = self.access_factorized
        return problem

    @cached_property
    def access_factorized(self) -> tuple[npt.NDArray[np.intp], Any]:
        """``(codes, classes)`` of the demand's access labels (one pass, shared)."""
        return access_codes(self.demand["access"].to_numpy())

    @cached_property
    def rows_unshrunk(self) -> RowLatency:
        """:attr:`rows` without the aggregation shrink (each point's own radius)."""
        if self.radius_shrink_km is None:
            return self.rows
        return RowLatency.from_model(self.model, self.demand["access"],
                                     self.config.budget_ms, self.config.percentile,
                                     factorized=self.access_factorized, service=self.service,
                                     uniform_budget=self.uniform_budget)

    # -- demand side
    @cached_property
    def population(self) -> npt.NDArray[np.float64]:
        """People per demand point."""
        return self.demand["population"].to_numpy(dtype=np.float64)

    @cached_property
    def demand_lat(self) -> npt.NDArray[np.float64]:
        """Demand latitudes, degrees."""
        return self.demand["lat"].to_numpy(dtype=np.float64)

    @cached_property
    def demand_lon(self) -> npt.NDArray[np.float64]:
        """Demand longitudes, degrees."""
        return self.demand["lon"].to_numpy(dtype=np.float64)

    def requirement(self, n_covering: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Sites each demand point needs: ``min(k + 1, |N_i|)``."""
        return np.minimum(int(self.config.failures) + 1,
                          np.asarray(n_covering, dtype=np.int64))

    # -- site side
    @cached_property
    def site_lat(self) -> npt.NDArray[np.float64]:
        """Candidate latitudes, degrees."""
        return self.sites["lat"].to_numpy(dtype=np.float64)

    @cached_property
    def site_lon(self) -> npt.NDArray[np.float64]:
        """Candidate longitudes, degrees."""
        return self.sites["lon"].to_numpy(dtype=np.float64)

    @cached_property
    def required(self) -> npt.NDArray[np.bool_]:
        """Candidates that must stay open (existing sites)."""
        return self.sites["required"].to_numpy(dtype=bool)

    @cached_property
    def cost(self) -> npt.NDArray[np.float64] | None:
        """Candidate costs, or ``None`` (minimise the count)."""
        return (self.sites["cost"].to_numpy(dtype=np.float64) if "cost" in self.sites.columns
                else None)

    @property
    def access_classes(self) -> list[str]:
        """Access classes present in the demand, sorted."""
        return [str(c) for c in self.access_factorized[1]]

    def largest_radius(self) -> tuple[float, str]:
        """The largest budget radius over the access classes present (before any shrink),
        and its class (:func:`largest_radius`); with service classes, the largest row
        radius and the access class of its row."""
        if self.service is not None:
            rows = self.rows_unshrunk
            if not len(rows) or rows.max_radius_km < 0:
                from ..errors import InfeasibleBudgetError

                raise InfeasibleBudgetError(" ".join(rows.reasons)
                                            or "no demand point can meet its budget")
            i = int(np.argmax(rows.radius_km))
            return float(rows.radius_km[i]), str(self.demand["access"].iloc[i])
        return largest_radius(self.model, self.access_classes, self.config.budget_ms,
                              self.config.percentile)

    def describe(self) -> dict[str, Any]:
        """Sizes for logs and the summary."""
        return {"n_demand": len(self.demand), "n_candidates": len(self.sites),
                "access_classes": self.access_classes,
                "infeasible_classes": list(self.rows.infeasible_classes)}
