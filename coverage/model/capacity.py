"""Power-bound sites: which candidates can host the workload, their capacity, the load.

**Fit.** A candidate hosts the workload when the model fits the accelerators' memory
(:meth:`~coverage.model.workloads.Workload.memory_fits`) and at least ``min_accelerators``
fit its power envelope: ``(hosts x host_w + n x accelerator_w) / 1000 x PUE <= power_kw``
with ``hosts = ceil(n / accelerators_per_host)``
(:meth:`~coverage.model.workloads.Workload.max_accelerators`, rounded down to whole systems
of ``min_accelerators``). The envelope is the site's ``power_kw`` column, else the upper
end of its tier's ``power_kw`` (with the tier's PUE); a site with neither is not checked
(its power is unknown). Candidates that cannot host it are excluded with a reason.

**Capacity** (requests/s): a ``capacity_rps`` column, else ``n x throughput_rps x
target_utilisation``. **Load** (requests/s at peak): a demand ``load_rps`` column, else
``population x requests_per_person_day x peak_to_mean / 86400``. The capacitated plan runs
when the run has a load (the column, or ``requests_per_person_day``); then every candidate
needs a capacity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import InputValidationError, NoFeasiblePlanError
from ..inputs.validation import plain_value
from ..wording import load_unit
from .geo import colocated_pairs
from .workloads import MAX_SITE_KW

logger = logging.getLogger(__name__)

__all__ = ["CapacitySetup", "DEFAULT_PEAK_TO_MEAN", "DEFAULT_TARGET_UTILISATION",
           "POOL_SYSTEM_KEYS", "SharedPool", "shared_pool", "row_workload_names",
           "check_weighted_load", "fit_sites",
           "build_capacity",
           "capacity_column_problems", "load_column", "failure_domains"]

#: Largest load, capacity or power value read (requests/s or kW): larger values are in
#: other units or broken, and their sums would overflow the flow arithmetic.
MAX_VALUE = 1e12

#: Smallest positive load read (requests/s; one request in about 30,000 years): below it a
#: load is not one, and a flow's units cannot resolve it (5e-324 was "0.0 of 0.0 requests/s
#: cannot be served").
MIN_LOAD_RPS = 1e-12

#: Smallest positive total load from population (requests/s): the flow's unit is the total
#: over 2^30, and below this its scale overflows. Single points may carry less (a raster
#: cell of 1e-8 people), as long as the total does not.
MIN_TOTAL_LOAD_RPS = 1e-250

#: Peak-hour load over the daily mean (diurnal factor) when no ``load_rps`` column is given.
DEFAULT_PEAK_TO_MEAN = 3.0
#: Share of a site's throughput planned to be used (headroom for bursts).
DEFAULT_TARGET_UTILISATION = 0.8


def _column(df: pd.DataFrame, name: str, *, source: str, positive: bool = True,
            allow_missing: bool = False, maximum: float = MAX_VALUE,
            tiny: float = 0.0) -> npt.NDArray[np.float64] | None:
    """A numeric column as float64 (``None`` when absent); bad values refused naming rows
    (a boolean column holds no numbers: its true/false values are refused, not read as
    1/0)."""
    if name not in df.columns:
        return None
    raw = df[name]
    if pd.api.types.is_bool_dtype(raw.dtype):
        values = np.full(len(raw), np.nan)
    else:
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    missing = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
    bad = ~np.isfinite(values) & ~(missing & allow_missing)
    bad |= np.isfinite(values) & ((values <= 0) if positive else (values < 0))
    bad |= np.isfinite(values) & (values > maximum)
    bad |= np.isfinite(values) & (values > 0) & (values < tiny)
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(f"row {r + 1} ({plain_value(raw.iloc[r])!r})" for r in rows[:10])
        need = (("a positive number" if positive else "a number >= 0") + f" up to {maximum:g}"
                + (f" (0, or at least {tiny:g})" if tiny else ""))
        raise InputValidationError(
            f"{source}: column {name!r} must be {need}: {shown}"
            f"{' ...' if len(rows) > 10 else ''}. Fix: correct these rows"
            + (" or leave them empty" if allow_missing else ""))
    return values


def load_column(demand: pd.DataFrame, *, source: str = "demand"
                ) -> npt.NDArray[np.float64] | None:
    """The demand's ``load_rps`` column as float64 requests/s (``None`` when absent).

    Raises
    ------
    InputValidationError
        A value that is not a number from 0 to :data:`MAX_VALUE` (text, a boolean, a
        negative or infinite number), naming the rows.
    """
    return _column(demand, "load_rps", source=source, positive=False, tiny=MIN_LOAD_RPS)


def capacity_column_problems(demand: pd.DataFrame, sites: pd.DataFrame, *,
                             demand_source: str = "demand", sites_source: str = "sites",
                             with_load: bool = True) -> list[str]:
    """What is wrong with the capacity columns of validated tables (``load_rps`` of the
    demand, ``power_kw`` of the sites and, for a plan with a load, their ``capacity_rps``),
    one message per column, so that the planner names them with the tables' other
    problems before any work.

    Parameters
    ----------
    demand, sites : pandas.DataFrame
        The validated tables.
    demand_source, sites_source : str
        Their names in the messages.
    with_load : bool, default True
        Whether the plan carries a load (a ``load_rps`` column or requests per person):
        only then is ``capacity_rps`` read (a fewest-sites plan without a load carries it
        to the outputs as it is).

    Returns
    -------
    list of str
        One message per bad column (rows and values named), empty when all are good or
        absent.
    """
    found: list[str] = []
    for df, name, source, allow_missing, positive in (
            (demand, "load_rps", demand_source, False, False),
            *(((sites, "capacity_rps", sites_source, True, True),) if with_load else ()),
            (sites, "power_kw", sites_source, True, True)):
        try:
            _column(df, name, source=source, positive=positive, allow_missing=allow_missing,
                    maximum=MAX_SITE_KW if name == "power_kw" else MAX_VALUE,
                    tiny=MIN_LOAD_RPS if name == "load_rps" else 0.0)
        except InputValidationError as exc:
            found.append(str(exc))
    return found


def site_power(sites: pd.DataFrame, catalog: Any, *, source: str = "sites",
               warn: bool = True,
               ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[Any]]:
    """Every candidate's power envelope (kW, ``nan``: unknown), PUE and where they came
    from (``"column"``, ``"tier NAME"`` or ``"unknown"``). ``warn``: say a ``power_kw``
    above its tier's envelope (once a run: the callers after the first pass False)."""
    n = len(sites)
    own = _column(sites, "power_kw", source=source, allow_missing=True, maximum=MAX_SITE_KW)
    power = np.full(n, np.nan) if own is None else own.copy()
    pue = np.full(n, 1.0)
    origin = np.where(np.isfinite(power), "column", "unknown").astype(object)
    labels = (sites["tier"].astype(str).to_numpy() if "tier" in sites.columns
              else np.full(n, "candidate", dtype=object))
    for name in pd.unique(labels):
        tier = catalog.get(str(name)) if catalog is not None else None
        if tier is None:
            continue
        m = labels == name
        if tier.pue is not None:
            pue[m] = float(tier.pue)
        if tier.power_kw is not None:
            fill = m & ~np.isfinite(power)
            power[fill] = float(tier.power_kw[1])
            origin[fill] = f"tier {name}"
            # a column's envelope above the tier's largest is taken as given, and said
            # (tester 185: a mec site of 5,000 kW held 17,005 L4s without a word); below
            # its smallest is a share of a larger facility (a cabinet in a colo), not odd
            lo, hi = (float(v) for v in tier.power_kw)
            odd = m & (origin == "column") & (power > hi)
            if warn and odd.any():
                ids = (sites["site_id"].astype(str).to_numpy() if "site_id" in sites.columns
                       else np.arange(1, n + 1).astype(str))
                shown = ", ".join(f"{ids[i]} ({power[i]:g} kW)"
                                  for i in np.flatnonzero(odd)[:5])
                more = int(odd.sum()) - min(int(odd.sum()), 5)
                logger.warning(
                    "%s: %d site(s) of tier %s have a power_kw above the tier's envelope "
                    "of %g-%g kW (%s%s): used as given. Fix: check the column, or give "
                    "them another tier", source, int(odd.sum()), name, lo, hi, shown,
                    f" and {more} more" if more else "")
    return power, pue, origin


def fit_sites(sites: pd.DataFrame, workload: Any, catalog: Any, *,
              source: str = "sites", warn: bool = True,
              ) -> tuple[npt.NDArray[np.int64], pd.DataFrame]:
    """Accelerators per candidate (``-1``: power unknown, not checked) and the candidates
    that cannot host ``workload``, with the reason (``site_id, tier, power_kw, reason``).
    ``warn`` as :func:`site_power`'s.

    Raises
    ------
    NoFeasiblePlanError
        No candidate can host the workload (the domain's verdict, with the figures).
    """
    power, pue, origin = site_power(sites, catalog, source=source, warn=warn)
    n = len(sites)
    n_acc = np.full(n, -1, dtype=np.int64)
    known = np.isfinite(power)
    if workload is None or workload.accelerator_w is None or workload.host_w is None:
        return n_acc, _excluded(sites, np.zeros(n, dtype=bool), power, [])
    reasons = np.full(n, "", dtype=object)
    if not workload.memory_fits():
        reasons[:] = (f"the model needs {workload.model_memory_gb:g} GB but "
                      f"{workload.min_accelerators} x {workload.accelerator_memory_gb:g} GB "
                      "accelerators hold less")
    if known.any():
        fits = np.asarray(workload.max_accelerators(power[known], pue[known]),
                          dtype=np.int64)
        step = max(int(workload.min_accelerators), 1)
        n_acc[known] = (fits // step) * step
    need_kw = workload.system_kw()
    short = known & (n_acc < max(int(workload.min_accelerators), 1))
    reasons[short & (reasons == "")] = [
        f"{workload.name} needs {_kw(need_kw * p)} kW ({workload.min_accelerators} "
        f"accelerator(s) and their host(s), PUE {p:g}); the site offers {_kw(w)} kW ({o})"
        for w, p, o in zip(power[short & (reasons == "")], pue[short & (reasons == "")],
                           origin[short & (reasons == "")], strict=True)]
    out = reasons != ""
    excluded = _excluded(sites, out, power, reasons[out].tolist())
    if n and out.all() and not workload.memory_fits():
        from .workloads import memory_problem

        raise NoFeasiblePlanError(
            f"no candidate can host workload {workload.name!r}, whatever its power: "
            f"{memory_problem(workload)}")
    if n and out.all():  # the memory fits: every candidate's power is known and short
        top = float(np.nanmax(power))
        system = (f"{workload.min_accelerators} x {workload.accelerator}" if workload.accelerator
                  else f"{workload.min_accelerators} accelerator(s) and their host(s)")
        raise NoFeasiblePlanError(
            f"{source}: no candidate can host workload {workload.name!r}: the model needs "
            f"{_kw(need_kw * float(np.nanmin(pue)))} kW for its smallest system "
            f"({system}); the largest site offers "
            f"{_kw(top)} kW: the edge case collapses (serve it from a region, or choose a "
            "smaller model: --workload)")
    return n_acc, excluded


def _kw(x: float) -> str:
    """A power for a reason: three figures below 10 kW (tester 119: "needs 0.4 kW ... offers
    0.4 kW" for 0.372 against 0.37), one decimal above."""
    return f"{x:.3g}" if abs(x) < 10 else f"{x:,.1f}"


def _excluded(sites: pd.DataFrame, mask: npt.NDArray[np.bool_], power: npt.ArrayLike,
              reasons: list[str]) -> pd.DataFrame:
    s = sites.loc[mask]
    return pd.DataFrame({
        "site_id": s["site_id"].to_numpy(dtype=object),
        "tier": (s["tier"].to_numpy(dtype=object) if "tier" in s.columns
                 else np.full(len(s), "candidate", dtype=object)),
        "power_kw": np.asarray(power)[mask],
        "reason": reasons,
    })


def failure_domains(sites: pd.DataFrame, domain_radius_km: float | None, *,
                    source: str = "sites") -> npt.NDArray[Any] | None:
    """Failure domain of every candidate: its ``failure_domain`` column, else the connected
    components (networkx) of candidates within ``domain_radius_km`` of each other, else
    ``None`` (each site its own domain)."""
    if "failure_domain" in sites.columns:
        dom = sites["failure_domain"]
        empty = dom.isna() | (dom.astype(str).str.strip() == "")
        ids = sites["site_id"].astype(str)
        return np.where(empty, "site:" + ids, "domain:" + dom.astype(str)).astype(object)
    if domain_radius_km is None:
        return None
    n = len(sites)
    pairs, _ = colocated_pairs(sites["lat"].to_numpy(float), sites["lon"].to_numpy(float),
                               float(domain_radius_km) * 1000.0)
    import networkx as nx  # lazy: a quarter second of every CLI start

    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(map(tuple, pairs))
    label = np.empty(n, dtype=object)
    for k, comp in enumerate(nx.connected_components(graph)):
        for i in comp:
            label[i] = f"radius-{k}"
    return label


@dataclass(frozen=True)
class CapacitySetup:
    """Load, capacity and failure domains of a capacitated plan.

    Attributes
    ----------
    load_rps : numpy.ndarray
        Peak load of every demand point, requests/s.
    cap_rps : numpy.ndarray
        Capacity of every candidate, requests/s.
    n_accelerators : numpy.ndarray
        Accelerators per candidate (``-1``: from a ``capacity_rps`` column / unknown).
    power_kw : numpy.ndarray
        Power envelope per candidate, kW (``nan``: unknown).
    domains : numpy.ndarray or None
        Failure domain per candidate (``None``: each site alone).
    describe : dict
        Where load and capacity came from (``summary.json["capacity"]``).
    row_workload : numpy.ndarray or None
        With a shared pool (service classes on several workloads): every demand point's
        workload name (the run's where its class names none); ``None`` otherwise.
    row_weight : numpy.ndarray or None
        With a shared pool: every demand point's weight, the requests/s of the run's
        workload one of its requests counts for (``load_rps`` is its requests times
        this); ``None`` otherwise (every weight 1).
    """

    load_rps: npt.NDArray[np.float64]
    cap_rps: npt.NDArray[np.float64]
    n_accelerators: npt.NDArray[np.int64]
    power_kw: npt.NDArray[np.float64]
    domains: npt.NDArray[Any] | None
    describe: dict[str, Any] = field(default_factory=dict)
    row_workload: npt.NDArray[np.object_] | None = None
    row_weight: npt.NDArray[np.float64] | None = None

    def requests_rps(self, point: npt.ArrayLike, load_rps: npt.ArrayLike,
                     ) -> npt.NDArray[np.float64]:
        """Requests/s of the points' own workloads from loads in the capacity's unit.

        Parameters
        ----------
        point : array_like of int
            Demand point of every load.
        load_rps : array_like of float
            Loads (or flows) in requests/s of the run's workload.

        Returns
        -------
        numpy.ndarray
            ``load_rps`` over the point's weight (``load_rps`` itself without a pool).
        """
        load = np.asarray(load_rps, dtype=np.float64)
        if self.row_weight is None:
            return load.copy()
        return load / self.row_weight[np.asarray(point, dtype=np.int64)]

    def load_text(self) -> str:
        """The total load for a progress line: ``"N requests/s at peak"``, with the unit
        and the requests of every workload when service classes share a pool."""
        total = f"{self.describe['load_total_rps']:,.0f} {load_unit(self.describe)} at peak"
        pooled = self.describe.get("workloads")
        if not pooled:
            return total
        parts = ", ".join(f"{e['requests_rps']:,.0f} of {name} (x {e['weight']:.3g})"
                          for name, e in pooled.items())
        return f"{total} ({parts})"


def check_weighted_load(load: npt.NDArray[np.float64], pool: SharedPool,
                        source: str) -> None:
    """Refuse a weighted load (requests times the pool's weights) out of the flow's range
    (the raw load was checked: a weight of up to 1e15 moves it out)."""
    total = float(load.sum())
    big = load > MAX_VALUE
    if big.any() or not np.isfinite(total) or 0 < total < MIN_TOTAL_LOAD_RPS:
        weights = ", ".join(f"{n} x {w:.6g}" for n, w in pool.weights.items())
        what = (f"{int(big.sum()):,} row(s) above {MAX_VALUE:g}" if big.any()
                else f"{total:g} in all")
        raise InputValidationError(
            f"{source}: the load in requests/s of {pool.run.name} (each workload's requests "
            f"times its weight: {weights}) is out of range ({what}): the workloads' "
            "throughputs are too far apart for one pool. Fix: plan those classes on their "
            "own (filter the demand by service_class), or correct throughput_rps in the "
            "workloads file (--workloads)")


def unused_without_load(names: list[str], rate_option: str) -> str:
    """The message for load-only options given to a plan without a load (``names`` as the
    caller spells them: flags on the command line, keys in a batch file; ``rate_option``
    likewise for the requests per person per day)."""
    them = "them" if len(names) > 1 else "it"
    return (f"{', '.join(names)} {'apply' if len(names) > 1 else 'applies'} to a capacitated "
            f"plan only, and this one has no load (neither {rate_option} nor a demand "
            f"load_rps column): the plan would be made without {them}"
            + f". Fix: add {rate_option} N (or a load_rps column), or drop "
            + ", ".join(names))


def build_capacity(demand: pd.DataFrame, sites: pd.DataFrame, *, workload: Any,
                   catalog: Any, n_accelerators: npt.NDArray[np.int64],
                   requests_per_person_day: float | None,
                   peak_to_mean: float = DEFAULT_PEAK_TO_MEAN,
                   target_utilisation: float = DEFAULT_TARGET_UTILISATION,
                   domain_radius_km: float | None = None,
                   demand_source: str = "demand", sites_source: str = "sites",
                   warn: bool = True, row_workload: npt.ArrayLike | None = None,
                   workload_catalog: Any = None) -> CapacitySetup | None:
    """The capacity model of a run, or ``None`` (no load: the uncapacitated plan).

    ``warn``: log the options a column makes unused (false in a batch's check before the
    scenarios, which log it each). ``row_workload``: every row's workload (its service
    class's; ``None`` or empty: ``workload``), names of ``workload_catalog`` (``None``:
    the built-in one); rows on
    other workloads share the sites' accelerators with ``workload``
    (:func:`shared_pool`), their load counted in requests/s of ``workload``.

    Raises
    ------
    InputValidationError
        Non-positive or non-numeric ``load_rps`` / ``capacity_rps`` / ``power_kw`` values,
        or a candidate without any capacity (no column value, no power, no throughput).
    """
    own_load = load_column(demand, source=demand_source)
    if own_load is None and requests_per_person_day is None:
        unused = [name for name, value, default in (
            ("peak_to_mean", peak_to_mean, DEFAULT_PEAK_TO_MEAN),
            ("target_utilisation", target_utilisation, DEFAULT_TARGET_UTILISATION))
            if value != default]
        if warn and unused:  # the command line and a batch refuse them; Python is told
            logger.warning("%s %s not used: this plan has no load (no load_rps column, no "
                           "requests_per_person_day)", ", ".join(unused),
                           "is" if len(unused) == 1 else "are")
        return None
    if own_load is not None:
        load = own_load
        load_from = "load_rps column"
        if requests_per_person_day is not None:  # said, not recorded as applied
            if warn:
                logger.warning("requests_per_person_day (--requests-per-person-day) %g is not "
                               "used: the demand's load_rps column is the load",
                               requests_per_person_day)
            requests_per_person_day = None
    else:
        pop = demand["population"].to_numpy(dtype=np.float64)
        load = pop * float(requests_per_person_day) * float(peak_to_mean) / 86400.0
        total = float(load.sum())
        if 0 < total < MIN_TOTAL_LOAD_RPS:  # a flow's units overflow (1e-300: "0.0 of 0.0")
            raise InputValidationError(
                f"{demand_source}: requests_per_person_day (--requests-per-person-day) "
                f"{requests_per_person_day:g} x population gives a load of {total:g} "
                "requests/s in all, which is not a load. Fix: give a real figure of "
                "requests per person per day, or a load_rps column")
        load_from = (f"population x {requests_per_person_day:g} requests/person/day x "
                     f"{peak_to_mean:g} peak-to-mean / 86400")
    own_cap = _column(sites, "capacity_rps", source=sites_source, allow_missing=True)
    cap = np.full(len(sites), np.nan) if own_cap is None else own_cap.copy()
    thr = None if workload is None else workload.throughput_rps
    derive = ~np.isfinite(cap) & (n_accelerators >= 0)
    if thr is not None:
        cap[derive] = n_accelerators[derive] * float(thr) * float(target_utilisation)
    missing = ~np.isfinite(cap)
    power, _, _ = site_power(sites, catalog, source=sites_source, warn=False)
    if missing.any() and workload is not None:
        # the sites have a power envelope but the workload cannot be sized on it: name
        # the workload's missing figures, not the sites (their power is known)
        powered = np.isfinite(power)
        lacks = [name for name, value in (
            ("throughput_rps", workload.throughput_rps),
            ("accelerator_w", workload.accelerator_w), ("host_w", workload.host_w))
            if value is None]
        if lacks and powered[missing].all():
            raise InputValidationError(
                f"workload {workload.name!r} has no {', '.join(lacks)}: the candidates' "
                "power envelopes cannot be turned into a capacity without "
                + ("them" if len(lacks) > 1 else "it")
                + f". Fix: add {', '.join(lacks)} to [workloads.{workload.name}] of the "
                "workloads file (--workloads), or give the candidates a capacity_rps column")
    if missing.any():
        rows = np.flatnonzero(missing)
        ids = sites["site_id"].astype(str).to_numpy()
        raise InputValidationError(
            f"{sites_source}: {len(rows)} candidate(s) have no capacity: "
            + ", ".join(ids[rows[:10]]) + (" ..." if len(rows) > 10 else "")
            + " (no capacity_rps value, and no power_kw column or tier power envelope to "
            "size accelerators from). Fix: give capacity_rps, power_kw or a tier with a "
            "power envelope (--tiers)")
    if (warn and own_cap is not None and not derive.any()
            and float(target_utilisation) != DEFAULT_TARGET_UTILISATION):
        # (compare still sizes the priced accelerators with it)
        logger.warning("target_utilisation (--target-utilisation) %g is not used for the "
                       "plan's capacity: every candidate's capacity is its capacity_rps "
                       "column", target_utilisation)
    if warn and domain_radius_km is not None and "failure_domain" in sites.columns:
        logger.warning("domain_radius_km (--domain-radius-km) %g is not used: the "
                       "candidates' failure_domain column gives the domains",
                       domain_radius_km)
    domains = failure_domains(sites, domain_radius_km, source=sites_source)
    requests = load
    pool = None
    names = weights = None
    if row_workload is not None and workload is not None:
        from .workloads import WorkloadCatalog

        pool = shared_pool(workload, row_workload,
                           WorkloadCatalog.builtin() if workload_catalog is None
                           else workload_catalog, source=demand_source, warn=warn)
    if pool is not None:
        assert row_workload is not None
        names = row_workload_names(row_workload, pool.run.name).to_numpy(dtype=object)
        weights = pool.row_weights(row_workload)
        load = load * weights
        check_weighted_load(load, pool, demand_source)
    describe = {
        "load_from": load_from,
        "load_total_rps": float(load.sum()),
        "capacity_from": ("capacity_rps column" if own_cap is not None and not derive.any()
                          else f"accelerators x {thr:g} rps x {target_utilisation:g} "
                          f"utilisation ({workload.name})" if own_cap is None
                          else "capacity_rps column, else accelerators x throughput"),
        "target_utilisation": float(target_utilisation),
        "peak_to_mean": float(peak_to_mean),
        "requests_per_person_day": requests_per_person_day,
        "failure_domains": ("failure_domain column" if "failure_domain" in sites.columns
                            else f"within {domain_radius_km:g} km" if domain_radius_km
                            else "each site"),
        "splittable": True,
    }
    if pool is not None:
        assert names is not None
        by_name = pd.Series(requests).groupby(names).sum()
        pooled = pool.describe()
        for name, entry in pooled.items():
            entry["requests_rps"] = float(by_name.get(name, 0.0))
        describe.update({
            "load_unit": f"requests/s of {pool.run.name}",
            "requests_total_rps": float(requests.sum()),
            "workloads": pooled,
            "pool_memory_gb": pool.memory_gb,
            "pool_memory_unknown": list(pool.memory_unknown),
        })
    return CapacitySetup(load, cap, n_accelerators, power, domains, describe,
                         row_workload=names, row_weight=weights)


def row_workload_names(row_workload: npt.ArrayLike, run_name: str) -> pd.Series:
    """Every row's workload name, ``run_name`` where the row has none (``None`` or
    empty)."""
    names = pd.Series(np.asarray(row_workload, dtype=object), dtype=object)
    return names.where(names.notna() & (names != ""), run_name)


#: The figures of a workload's system that must match for workloads to share a site's
#: accelerators: the same accelerator, with the same memory and power per accelerator and
#: per host, and the same smallest system, so that a site's systems are one count for all
#: of them.
POOL_SYSTEM_KEYS = ("accelerator", "accelerator_memory_gb", "min_accelerators",
                    "accelerator_w", "host_w", "accelerators_per_host")


@dataclass(frozen=True)
class SharedPool:
    """Several workloads served from one pool of accelerators per site.

    A request of workload ``w`` takes ``1 / throughput_rps(w)`` accelerator-seconds, so
    in the capacity's unit (requests/s of the run's workload) it counts
    ``weight(w) = throughput_rps(run) / throughput_rps(w)``: the site's capacity
    (``n x throughput_rps(run) x target_utilisation``, or its ``capacity_rps`` column) is
    shared by time, in proportion to each workload's load. That needs every system (of
    ``min_accelerators``, the same for all) to hold every model at once: the models'
    ``model_memory_gb`` summed within ``min_accelerators x accelerator_memory_gb``
    (:func:`shared_pool` refuses a pool that does not fit); the plan does not know in
    advance which classes a site will serve.

    Attributes
    ----------
    run : Workload
        The run's workload: the unit of load and capacity.
    workloads : dict
        Every workload the rows use, by name (the run's first).
    weights : dict
        Requests/s of ``run`` one request/s of each workload counts for.
    memory_gb : float
        The known models' memory summed, GB (the run's only when some row takes it).
    memory_unknown : tuple of str
        The workloads whose ``model_memory_gb`` (or the accelerator's memory) is unknown:
        the memory check is then partial (empty: complete).
    """

    run: Any
    workloads: dict[str, Any]
    weights: dict[str, float]
    memory_gb: float
    memory_unknown: tuple[str, ...] = ()

    def row_weights(self, row_workload: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Every row's weight (1 where the row takes the run's workload: ``None`` or
        empty)."""
        return row_workload_names(row_workload, self.run.name).map(self.weights).to_numpy(
            dtype=np.float64)

    def describe(self) -> dict[str, Any]:
        """The pool for ``summary.json["capacity"]["workloads"]``."""
        return {name: {"weight": self.weights[name],
                       "throughput_rps": float(w.throughput_rps),
                       "model_memory_gb": w.model_memory_gb}
                for name, w in self.workloads.items()}


def shared_pool(run: Any, row_workload: npt.ArrayLike, catalog: Any, *,
                source: str = "demand", warn: bool = True) -> SharedPool | None:
    """The pool of a capacitated plan whose rows take other workloads than ``run`` (their
    service classes'), or ``None`` when every row takes ``run``. ``warn``: log a memory
    the check cannot know.

    Raises
    ------
    InputValidationError
        A workload that cannot share the run's systems (another accelerator, other memory
        or power per accelerator or host, another smallest system), a throughput missing,
        a model that does not fit its own smallest system, or models that together do not
        fit one system: one message for all of them.
    """
    used = {str(n) for n in pd.unique(row_workload_names(row_workload, run.name))}
    others = sorted(used - {run.name})
    if not others:
        return None
    from .workloads import memory_problem

    workloads = {run.name: run, **{n: catalog.get(n) for n in others}}
    problems: list[str] = []
    for name, w in workloads.items():
        if w.throughput_rps is None:
            problems.append(f"{name!r} has no throughput_rps (its requests' share of an "
                            "accelerator is unknown)")
        if name != run.name:
            differ = [k for k in POOL_SYSTEM_KEYS if getattr(w, k) != getattr(run, k)]
            if not run.accelerator:
                differ = ["accelerator"] + [k for k in differ if k != "accelerator"]
            if differ:
                shown = ", ".join(f"{k} {getattr(w, k)!r} against {getattr(run, k)!r}"
                                  for k in differ)
                problems.append(f"{name!r} is not served on the run's system ({shown})")
        memory = memory_problem(w)
        if memory is not None:
            problems.append(memory)
    per = run.accelerator_memory_gb
    # the models the rows serve: the run's only when some row takes it (tester 119: every
    # row on a class's workload, and the run's 2 GB still refused 16 + 7 GB on 24)
    held = {n: w for n, w in workloads.items() if n in used}
    unknown = tuple(n for n, w in held.items() if w.model_memory_gb is None or per is None)
    total_gb = float(sum(w.model_memory_gb for w in held.values()
                         if w.model_memory_gb is not None))
    system_gb = None if per is None else int(run.min_accelerators) * float(per)
    if not problems and system_gb is not None and total_gb > system_gb:
        problems.append(
            f"the models need {total_gb:g} GB together ("
            + ", ".join(f"{n} {w.model_memory_gb:g}" for n, w in held.items()
                        if w.model_memory_gb is not None)
            + f" GB), and a system of {run.min_accelerators} x {float(per):g} GB holds "
            f"{system_gb:g} GB: every accelerator must hold every model to share its time "
            "(a site's accelerators split between the models would carry less than the "
            "plan counts)")
    if problems:
        raise InputValidationError(
            f"{source}: a capacitated plan serves every service class's workload from one "
            f"pool of accelerators per site, sized for the run's workload {run.name!r} "
            f"({run.accelerator or 'no accelerator named'}), and the classes' workloads "
            f"cannot share it: {'; '.join(problems)}. Fix: plan those classes on their own "
            "(filter the demand by service_class) with their workload as the run's "
            "(--workload, or a batch scenario's model.workload), or correct the workloads "
            "file (--workloads)")
    if unknown and warn:
        logger.warning("%s: the memory of %s is unknown (model_memory_gb or "
                       "accelerator_memory_gb): whether every system holds every model "
                       "is checked for the others only", source, ", ".join(unknown))
    return SharedPool(
        run=run, workloads=workloads,
        weights={n: float(run.throughput_rps) / float(w.throughput_rps)
                 for n, w in workloads.items()},
        memory_gb=total_gb, memory_unknown=unknown)
