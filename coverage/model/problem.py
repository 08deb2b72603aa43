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

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..config import PlannerConfig
from .latency import LatencyModel, above_budget_text, access_codes
from .routing import PairEngine, Routing, SiteSet, TierRows, TierTerms
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
    tier_rows: TierRows | None = field(default=None, repr=False)

    @classmethod
    def from_model(cls, model: LatencyModel, access: npt.ArrayLike, budget_ms: float,
                   percentile: str = "p99",
                   radius_shrink_km: npt.ArrayLike | None = None, *,
                   factorized: tuple[npt.NDArray[np.intp], Any] | None = None,
                   service: ServiceRows | None = None,
                   uniform_budget: bool = False,
                   tiers: tuple[TierTerms, npt.NDArray[np.bool_]] | None = None,
                   ) -> RowLatency:
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
        tiers : tuple, optional
            ``(terms, allowed)``: the site tiers' terms and the ``(n_rows, n_tiers)`` tiers
            each row may use. Then every (row, tier) has its own fixed latency and radius
            (:class:`~coverage.model.routing.TierRows`) and ``fixed_ms``, ``fixed_p50_ms``
            and ``radius_km`` hold each row's best over the tiers it may use.

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
                                row_workload=None if service is None else service.workload,
                                workload_inference_ms=(None if service is None
                                                       else service.inference_ms))
        row_budget = (None if service is None
                      else np.where(np.isnan(own), float(budget_ms), own) if own is not None
                      else np.full(len(service), float(budget_ms)))
        out = cls(fixed_ms=c["fixed_ms"], fixed_p50_ms=c["fixed_p50_ms"],
                  radius_km=c["radius_km"], ms_per_km=float(model.ms_per_km),
                  budget_ms=float(budget_ms), percentile=percentile,
                  infeasible_classes=c["infeasible_classes"], reasons=c["reasons"],
                  row_budget_ms=row_budget, row_percentile=pct)
        if tiers is None:
            return out
        return out._with_tiers(model, access, tiers, factorized, service, radius_shrink_km)

    def _with_tiers(self, model: LatencyModel, access: npt.ArrayLike,
                    tiers: tuple[TierTerms, npt.NDArray[np.bool_]],
                    factorized: tuple[npt.NDArray[np.intp], Any] | None,
                    service: ServiceRows | None,
                    radius_shrink_km: npt.ArrayLike | None) -> RowLatency:
        """These constants with per-(row, tier) terms: the demand side computed once per
        (access class, workload) group."""
        terms, allowed = tiers
        codes, classes = access_codes(access) if factorized is None else factorized
        n = len(self.radius_km)
        wl = (pd.Series(np.full(n, None, dtype=object)) if service is None
              else pd.Series(service.workload, dtype=object))
        frame = pd.DataFrame({"a": np.asarray(codes), "w": wl.fillna("").to_numpy()})
        group_of, uniq = pd.factorize(pd.MultiIndex.from_frame(frame)) if n else (
            np.zeros(0, dtype=np.intp), [])
        b50, btail = np.zeros(len(uniq)), np.zeros(len(uniq))
        for g, (a, w) in enumerate(uniq):
            m = service.model_for(model, w) if service is not None else model
            b50[g], btail[g] = m.row_parts(str(classes[int(a)]))
        pct = self.percentiles
        shrink = (None if radius_shrink_km is None else np.broadcast_to(
            np.asarray(radius_shrink_km, dtype=np.float64), (n,)).copy())
        tier_rows = TierRows(terms=terms, base_p50_ms=b50[group_of],
                             base_tail_sq=btail[group_of], p99=pct == "p99",
                             budget_ms=self.budgets_ms.astype(np.float64), shrink_km=shrink,
                             allowed=np.asarray(allowed, dtype=bool),
                             ms_per_km=float(model.ms_per_km))
        fixed, fixed50, radius = tier_rows.best()
        infeasible = self.infeasible_classes if (radius < 0).any() else ()
        return replace(self, fixed_ms=fixed, fixed_p50_ms=fixed50, radius_km=radius,
                       tier_rows=tier_rows, infeasible_classes=infeasible,
                       reasons=self.reasons if infeasible else ())

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
                                       else self.row_percentile[index]),
                       tier_rows=(None if self.tier_rows is None
                                  else self.tier_rows.subset(index)))

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
    count_domains : numpy.ndarray or None
        Failure domain code of every candidate
        (:func:`coverage.solvers.domain_rows.domain_codes`) that the site count (reach
        matrix, row generation, by components) and the placement (k-median, national)
        fail together (a plan without a load with failure domains: a ``failure_domain``
        column or ``domain_radius_km``; :func:`coverage.solvers.domain_rows.domain_rows`);
        ``None``: single sites.
    """

    demand: pd.DataFrame
    sites: pd.DataFrame
    model: LatencyModel
    config: PlannerConfig
    rows: RowLatency
    radius_shrink_km: npt.NDArray[np.float64] | None = field(default=None, repr=False)
    service: ServiceRows | None = field(default=None, repr=False)
    uniform_budget: bool = False
    routing: Routing = field(default_factory=Routing, repr=False)
    tier_setup: tuple[TierTerms, npt.NDArray[np.bool_]] | None = field(default=None,
                                                                      repr=False)
    site_tier: npt.NDArray[np.intp] | None = field(default=None, repr=False)
    site_local_breakout: npt.NDArray[np.bool_] | None = field(default=None, repr=False)
    tier_catalog: Any = field(default=None, repr=False)
    unknown_tiers: tuple[str, ...] = ()
    count_domains: npt.NDArray[np.int64] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, demand: pd.DataFrame, sites: pd.DataFrame, config: PlannerConfig,
              model: LatencyModel, *,
              radius_shrink_km: npt.ArrayLike | None = None,
              service: ServiceRows | None = None,
              tiers: Any = "builtin",
              routing: Routing | None = None) -> Problem:
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
        tiers : TierCatalog, "builtin" or None, default "builtin"
            The tier catalog (:mod:`coverage.model.tiers`): a site's ``tier`` changes the
            latency of every pair it serves and a demand ``tiers`` column restricts the
            tiers a row may use; ``None``: tiers are labels only (the flat model).
        routing : coverage.model.routing.Routing, optional
            Mobile anchors (UPFs) and a backbone graph.

        Returns
        -------
        Problem
        """
        if "access" not in demand.columns:  # the default class only fills a missing column
            demand = demand.assign(access=config.access)
        shrink = (None if radius_shrink_km is None
                  else np.asarray(radius_shrink_km, dtype=np.float64))
        codes = access_codes(demand["access"].to_numpy())
        routing = routing or Routing()
        catalog = _catalog(tiers)
        setup, site_tier, lbo, unknown = _tier_setup(demand, sites, model, catalog, routing)
        rows = RowLatency.from_model(model, demand["access"], config.budget_ms,
                                     config.percentile, shrink, factorized=codes,
                                     service=service, tiers=setup)
        problem = cls(demand=demand, sites=sites, model=model, config=config, rows=rows,
                      radius_shrink_km=shrink, service=service, routing=routing,
                      tier_setup=setup, site_tier=site_tier, site_local_breakout=lbo,
                      tier_catalog=catalog, unknown_tiers=tuple(unknown))
        problem.__dict__["access_factorized"] = codes  # computed once, shared by with_budget
        return problem

    def with_budget(self, budget_ms: float) -> Problem:
        """The same problem at another budget (for sweeps): one uniform budget for every
        row; with service classes, each row keeps its class's percentile and workload."""
        config = replace(self.config, budget_ms=float(budget_ms))
        rows = RowLatency.from_model(self.model, self.demand["access"], budget_ms,
                                     config.percentile, self.radius_shrink_km,
                                     factorized=self.access_factorized, service=self.service,
                                     uniform_budget=True, tiers=self.tier_setup)
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
                                     uniform_budget=self.uniform_budget,
                                     tiers=self.tier_setup)

    # -- tiers and routing
    @property
    def routed(self) -> bool:
        """Pair latency depends on the site or the path (tiers, UPFs or a backbone): the
        stages use :attr:`engine` instead of one great-circle radius per row."""
        return self.tier_setup is not None

    def engine_for(self, rows: RowLatency) -> PairEngine:
        """The :class:`~coverage.model.routing.PairEngine` of ``rows`` (tiered)."""
        if rows.tier_rows is None:
            raise ValueError("engine_for needs tiered rows (Problem.routed)")
        mobile = self.demand["access"].isin(sorted(self.routing.mobile_access)).to_numpy()
        return PairEngine(rows.tier_rows, self.demand_lat, self.demand_lon, mobile,
                          self.site_set, self.routing)

    @cached_property
    def engine(self) -> PairEngine:
        """The pair engine of :attr:`rows` (with any aggregation shrink)."""
        return self.engine_for(self.rows)

    @cached_property
    def engine_unshrunk(self) -> PairEngine:
        """The pair engine of :attr:`rows_unshrunk` (each point's own radius)."""
        if self.radius_shrink_km is None:
            return self.engine
        return self.engine_for(self.rows_unshrunk)

    @cached_property
    def site_set(self) -> SiteSet:
        """The candidates as the pair latency sees them."""
        n = len(self.sites)
        tier = self.site_tier if self.site_tier is not None else np.zeros(n, dtype=np.intp)
        lbo = (self.site_local_breakout if self.site_local_breakout is not None
               else np.zeros(n, dtype=bool))
        return SiteSet(self.site_lat, self.site_lon, tier, lbo)

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

    def cover_rows(self, matrix: Any, n_covering: npt.ArrayLike,
                   ) -> tuple[Any, npt.NDArray[np.int64], int]:
        """The multicover rows of the count and the placement on ``matrix`` (points x
        candidates in budget, any values): the points' own rows with
        :meth:`requirement`, then, with :attr:`count_domains` and ``k >= 1``, the rows
        that put every point's chosen sites in ``min(k + 1, |D_i|)`` failure domains
        (:func:`coverage.solvers.domain_rows.domain_rows`, values carried). Returns the
        rows, their requirement and the number of rows added."""
        import scipy.sparse as sp

        req = self.requirement(n_covering)
        k = int(self.config.failures)
        if self.count_domains is None or k < 1:
            return matrix, req, 0
        from ..solvers.domain_rows import domain_rows

        extra = domain_rows(matrix, self.count_domains, k)
        if not extra.matrix.shape[0]:
            return matrix, req, 0
        return (sp.csr_array(sp.vstack([sp.csr_array(matrix), extra.matrix], format="csr")),
                np.concatenate([req, extra.requirement]), int(extra.matrix.shape[0]))

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
        if self.service is not None or self.routed:
            rows = self.rows_unshrunk
            if not len(rows) or rows.max_radius_km < 0:
                from ..errors import InfeasibleBudgetError

                raise InfeasibleBudgetError(self._why_infeasible(rows))
            i = int(np.argmax(rows.radius_km))
            return float(rows.radius_km[i]), str(self.demand["access"].iloc[i])
        return largest_radius(self.model, self.access_classes, self.config.budget_ms,
                              self.config.percentile)

    def _why_infeasible(self, rows: RowLatency) -> str:
        """Why no row can meet its budget: per tier present, the fastest row's latency at
        distance 0 against its budget."""
        tr = rows.tier_rows
        if tr is None or not len(tr):
            return " ".join(rows.reasons) or "no demand point can meet its budget"
        parts = []
        all_rows = np.arange(len(tr))
        named = (sorted({str(t).strip() for v in self.demand["tiers"].dropna()
                         for t in re.split(r"[;,|]", str(v)) if t.strip()})
                 if "tiers" in self.demand.columns else [])
        if not tr.allowed.any():
            # no row may use any tier present, and no budget fixes that (the message said
            # "raise --budget-ms": tester 145, review 140)
            have = ", ".join(map(str, tr.terms.names))
            if not named:
                return (f"no demand row may use any candidate: the candidates' tiers "
                        f"({have}) serve only rows naming them in a 'tiers' column, and no "
                        "row does. Fix: add a 'tiers' column naming them for the rows they "
                        "serve, or add candidates of an unrestricted tier")
            shown = ", ".join(named[:8]) + (f" and {len(named) - 8} more" if len(named) > 8
                                             else "")
            return (f"no demand row may use any candidate: the demand's 'tiers' column names "
                    f"{shown}, and the candidates' tiers are {have}. Fix: name the "
                    "candidates' tiers in the 'tiers' column (an empty cell allows every "
                    "unrestricted tier), or add candidates of the tiers it names")
        for t, name in enumerate(tr.terms.names):
            ok = tr.allowed[:, t]
            if not ok.any():
                parts.append(f"{name}: no demand row names it in its 'tiers' column")
                continue
            slack = tr.budget_ms[ok] - tr.fixed_ms(all_rows[ok], t)
            i = int(np.argmax(slack))
            fixed, budget = float(tr.fixed_ms(all_rows[ok][i:i + 1], t)[0]), tr.budget_ms[ok][i]
            parts.append(f"{name}: {above_budget_text(fixed, budget)} ms at distance 0 against "
                         f"a budget of {budget:g} ms")
        if rows.reasons:
            # the model's explanation per access class (at the reference site), with its
            # fix, then the tiers' figures as one more sentence (the two read as one run-on
            # message with two fixes: tester 207)
            return (" ".join(rows.reasons) + " At the site tiers present: "
                    + "; ".join(parts) + " (a faster tier: see --tiers and "
                    "docs/latency-model.md).")
        return ("no demand point can meet its budget at any site tier present ("
                + "; ".join(parts) + "). Fix: raise --budget-ms, use faster access, a "
                "faster workload or a faster tier (see --tiers and docs/latency-model.md)")

    def describe(self) -> dict[str, Any]:
        """Sizes for logs and the summary."""
        return {"n_demand": len(self.demand), "n_candidates": len(self.sites),
                "access_classes": self.access_classes,
                "infeasible_classes": list(self.rows.infeasible_classes)}


def _catalog(tiers: Any) -> Any:
    """The tier catalog of :meth:`Problem.build`'s ``tiers``."""
    if tiers is None:
        return None
    from .tiers import TierCatalog

    if isinstance(tiers, str) and tiers == "builtin":
        return TierCatalog.builtin()
    if isinstance(tiers, TierCatalog):
        return tiers
    return TierCatalog.from_spec(tiers)


FLAG_TRUE = {"true", "yes", "y", "1", "t"}
FLAG_FALSE = {"false", "no", "n", "0", "f", ""}


def parse_flags(values: pd.Series, *, column: str, source: str) -> npt.NDArray[np.bool_]:
    """A yes/no column (true/false, yes/no, 1/0; empty = no here: a caller that gives a
    blank another meaning, as ``local_breakout`` the tier's default, masks it), one pass per
    distinct value.

    Raises
    ------
    InputValidationError
        Other values, naming the rows.
    """
    from ..errors import InputValidationError

    cells = values.astype(object).where(values.notna(), "")
    try:
        codes, uniques = pd.factorize(cells)
    except TypeError:  # unhashable cells (lists, dicts): their text, refused below
        codes, uniques = pd.factorize(cells.astype("string"))
    truth = []
    bad = []
    for j, u in enumerate(uniques):
        key = str(u).strip().lower()
        if key in {"true", "false"} or isinstance(u, bool | np.bool_):
            truth.append(key == "true" or u is True or u is np.True_)
        elif key in FLAG_TRUE or key in FLAG_FALSE or key in {"1.0", "0.0"}:
            truth.append(key in FLAG_TRUE or key == "1.0")
        else:
            truth.append(False)
            bad.append(j)
    if bad:
        rows = np.flatnonzero(np.isin(codes, bad))
        raise InputValidationError(
            f"{source}: column {column!r} has values that are not yes/no in row(s) "
            + ", ".join(str(r + 1) for r in rows[:10]) + (" ..." if len(rows) > 10 else "")
            + f" ({', '.join(repr(uniques[j]) for j in bad[:5])}). Fix: write true/false, "
            "yes/no or 1/0 (empty: the site's tier's default)")
    return np.asarray(truth, dtype=bool)[codes] if len(codes) else np.zeros(0, dtype=bool)


def tiers_change_latency(demand: pd.DataFrame, sites: pd.DataFrame, model: LatencyModel,
                         tiers: Any = "builtin") -> bool:
    """Whether the sites' tiers or a demand ``tiers`` column make some pair's latency differ
    from the flat model's, anchors and backbone aside: with either of those too, what
    :attr:`Problem.routed` says of the problem :meth:`Problem.build` makes of the same
    tables (checked before the work, e.g. against an aggregation)."""
    return _tier_setup(demand, sites, model, _catalog(tiers), Routing())[0] is not None


def _tier_setup(demand: pd.DataFrame, sites: pd.DataFrame, model: LatencyModel, catalog: Any,
                routing: Routing) -> tuple[Any, Any, Any, list[str]]:
    """``(tier_setup, site tier codes, site local breakout, unknown labels)`` of
    :meth:`Problem.build`: ``tier_setup`` is ``None`` when every pair's latency is the flat
    model's (no catalog tier changes it, no row is restricted, no anchors, no graph)."""
    if catalog is None and routing.flat:
        return None, None, None, []
    labels = (sites["tier"] if "tier" in sites.columns
              else pd.Series(["candidate"] * len(sites)))
    if catalog is not None and "tier" in sites.columns:
        from .tiers import check_site_tiers

        check_site_tiers(labels, catalog, source="sites")  # a catalog name mistyped
    terms, site_tier, unknown = TierTerms.from_labels(model, catalog, labels.to_numpy())
    n = len(demand)
    allowed = np.broadcast_to(~terms.restricted, (n, len(terms))).copy()
    restricted_rows = False
    if "tiers" in demand.columns and catalog is not None:
        from .tiers import parse_tier_list

        codes, sets = parse_tier_list(demand["tiers"], catalog, source="demand")
        table = np.array([[(name in chosen) if chosen is not None else not restr
                           for name, restr in zip(terms.names, terms.restricted, strict=True)]
                          for chosen in sets], dtype=bool).reshape(len(sets), len(terms))
        allowed = table[np.asarray(codes, dtype=np.intp)] if n else allowed
        restricted_rows = any(chosen is not None for chosen in sets)
    default = terms.local_breakout[site_tier] if len(sites) else np.zeros(0, dtype=bool)
    if "local_breakout" in sites.columns:
        col = sites["local_breakout"]
        lbo = parse_flags(col, column="local_breakout", source="sites")
        # a blank cell is the tier's default, as without the column (tester 116: it was
        # "no breakout", and a Chicago MEC user went through the Mexico City UPF)
        blank = (col.isna() | (col.astype("string").str.strip() == "")).to_numpy(dtype=bool)
        lbo = np.where(blank, default, lbo)
    else:
        lbo = default
    trivial = (terms.is_reference_only and not restricted_rows and bool(allowed.all())
               and routing.flat)
    if trivial:
        return None, site_tier, lbo, unknown
    return (terms, allowed), site_tier, lbo, unknown
