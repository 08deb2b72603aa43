"""What a capacitated plan adds to the map: site size by capacity, colour by utilisation,
capacity figures in the site popups, and the failure explorer's per-scenario site loads.

Only a plan whose ``sites`` table has ``capacity_rps`` and ``utilisation`` columns (a
capacitated plan, ``docs/capacity.md``) gets any of this; an uncapacitated plan's map is
unchanged. Sites are few: the per-site loops here are over chosen sites and scenarios,
never over demand points. Every string from the plan is HTML-escaped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from ...wording import load_unit
from .columns import (
    bool_column,
    finite_or,
    float_column,
    has_column,
    id_column,
    user_html,
)
from .style import (
    PALETTE_SIZE,
    SATURATED_AT,
    SATURATED_COLOR,
    SITE_SIZE_MAX_PX,
    SITE_SIZE_MIN_PX,
    THIN_BELOW,
    THIN_COLOR,
    UTILISATION_COLORS,
    fmt_int,
    fmt_pct,
    fmt_rps,
)

__all__ = [
    "CapacityView",
    "MAX_EXPLORER_ENTRIES",
    "capacity_view",
    "is_capacitated",
    "scenario_payload",
    "site_sizes",
    "utilisation_palette",
]

logger = logging.getLogger(__package__)

#: Most (scenario, site) loads handed to the failure explorer. Up to this many, every
#: surviving site's load is sent for every scenario the explorer can show; above, each
#: scenario keeps its largest load increases (at least :data:`MIN_EXPLORER_SITES`) and
#: every saturated site.
MAX_EXPLORER_ENTRIES = 250_000
MIN_EXPLORER_SITES = 25

#: ``failed_site_ids`` of the normal-operation row of ``capacity_scenarios.csv``.
NORMAL_LABEL = "(none: normal operation)"


class CapacityView(NamedTuple):
    """A capacitated plan's additions to the map (see :func:`capacity_view`)."""

    payload: dict[str, Any]
    """``data.capacity`` of the page: sizes, loads, palette and the explorer's scenarios."""
    colors: list[str]
    """Site fill colours by normal-operation utilisation (replace the tier colours)."""
    popup_rows: list[list[tuple[str, str]]]
    """Escaped ``(label, value)`` popup rows per site."""
    legend: str
    """The legend's capacity block (HTML)."""


def is_capacitated(sites: pd.DataFrame) -> bool:
    """Whether ``sites`` is a capacitated plan's site table (``capacity_rps`` and
    ``utilisation`` columns)."""
    return has_column(sites, "capacity_rps") and has_column(sites, "utilisation")


def site_sizes(capacity_rps: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Marker sizes (px) proportional to the square root of capacity (area proportional to
    capacity): the largest capacity gets :data:`SITE_SIZE_MAX_PX`, clipped to
    :data:`SITE_SIZE_MIN_PX`; missing or non-positive capacity gets the smallest size.

    Parameters
    ----------
    capacity_rps : array_like
        Capacity of each site, requests/s.

    Returns
    -------
    numpy.ndarray
        Sizes in pixels (0.1 px), non-decreasing in capacity.
    """
    cap = np.asarray(capacity_rps, dtype=np.float64)
    cap = np.where(np.isfinite(cap) & (cap > 0), cap, 0.0)
    top = float(cap.max()) if cap.size else 0.0
    if top <= 0:
        return np.full(cap.shape, SITE_SIZE_MIN_PX)
    size = SITE_SIZE_MAX_PX * np.sqrt(cap / top)
    return np.round(np.clip(size, SITE_SIZE_MIN_PX, SITE_SIZE_MAX_PX), 1)


def utilisation_palette() -> list[str]:
    """:data:`~coverage.outputs.maps.style.PALETTE_SIZE` colours of the sequential
    utilisation ramp, 0 % .. 100 %."""
    from branca.colormap import LinearColormap

    cmap = LinearColormap(list(UTILISATION_COLORS), vmin=0.0, vmax=1.0)
    return [cmap.rgb_hex_str(v) for v in np.linspace(0.0, 1.0, PALETTE_SIZE)]


def utilisation_colors(util: npt.ArrayLike, palette: list[str],
                       missing: str) -> list[str]:
    """The palette colour of each utilisation (capped at 100 %); ``missing`` when not a
    number."""
    u = np.asarray(util, dtype=np.float64)
    idx = np.round(np.clip(np.nan_to_num(u, nan=0.0), 0.0, 1.0) * (len(palette) - 1))
    table = np.asarray(palette, dtype=object)
    return np.where(np.isfinite(u), table[idx.astype(np.int64)], missing).tolist()


def _round(values: npt.ArrayLike, digits: int) -> list[float]:
    """Finite values rounded for the page's JSON; missing as -1."""
    v = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(v), np.round(v, digits), -1.0).tolist()


def _failure_text(label: Any, chosen: Collection[str] = ()) -> str:
    """A ``worst_failure`` value for display: the failed sites, or normal operation.

    A failure domain's scenario lists every candidate of the domain, open or not; with
    ``chosen`` (the plan's site ids) only its chosen sites are named, and the others
    counted (the legend read "11 ids ... failed" of a plan of 11 sites where one had
    failed; tester 157)."""
    if label is None or (isinstance(label, float) and math.isnan(label)):
        return "n/a"
    text = str(label)
    if text in ("(none)", NORMAL_LABEL, ""):
        return "none (normal operation)"
    ids = [i for i in text.split(";") if i != ""]
    if chosen and len(ids) > 1:
        mine = [i for i in ids if i in chosen]
        rest = len(ids) - len(mine)
        if mine and rest:
            return (user_html(", ".join(mine)) + f" (with {rest:,} other candidate"
                    + ("s" if rest > 1 else "") + " of its failure domain)")
    return user_html(text.replace(";", ", "))


def _pool_workloads(summary: Mapping[str, Any]) -> list[str]:
    """The workloads of a shared pool (``summary.json["capacity"]["workloads"]``), in
    order; empty without one (or in a summary where it is not an object)."""
    cap = summary.get("capacity")
    pooled = cap.get("workloads") if isinstance(cap, Mapping) else None
    return [str(w) for w in pooled] if isinstance(pooled, Mapping) else []


def _popup_rows(sites: pd.DataFrame, util: npt.NDArray[np.float64],
                unit: str = "requests/s", workloads: Iterable[str] = (),
                chosen: Collection[str] = (), priced: PricedSites | None = None,
                ) -> list[list[tuple[str, str]]]:
    """Capacity rows of each site popup (escaped; ``unit``: the load's; ``workloads``: the
    pool's, whose ``requests_<workload>_rps`` columns give each one's own requests;
    ``chosen``: the plan's site ids, named in a failure domain's failure; ``priced``: a
    comparison's priced fleet, whose rows come first)."""
    own = [(user_html(w), float_column(sites, f"requests_{w}_rps"))
           for w in workloads if has_column(sites, f"requests_{w}_rps")]
    n_acc = float_column(sites, "n_accelerators")
    power = float_column(sites, "power_kw")
    cap = float_column(sites, "capacity_rps")
    load = float_column(sites, "load_rps")
    # people in flows.csv's flow (a plan directory written before the column: none)
    served = (float_column(sites, "population_served")
              if has_column(sites, "population_served") else None)
    worst = float_column(sites, "worst_utilisation")
    cause = (id_column(sites, "worst_failure") if has_column(sites, "worst_failure")
             else pd.Series([None] * len(sites), dtype=object))
    out = []
    # a comparison's map: the plan's capacity is the power envelope's, the priced fleet's
    # the accelerators compare pays for (the colours are the latter's)
    env = " (power envelope)" if priced is not None else ""
    plan_util = util if priced is None else priced.plan_util
    for k in range(len(sites)):  # chosen sites, not demand points
        thin = bool(np.isfinite(util[k]) and util[k] < THIN_BELOW)
        first: list[tuple[str, str]] = []
        if priced is not None:
            first = [
                ("Priced accelerators (compare)", fmt_int(priced.n_accelerators[k])),
                ("Priced capacity", fmt_rps(priced.capacity_rps[k], unit)),
                ("Utilisation at peak, priced", fmt_pct(util[k])
                 + (f" (below {100 * THIN_BELOW:.0f} %: thin)" if thin else "")),
                ("Worst failure, priced", fmt_pct(priced.utilisation_worst[k])),
            ]
        out.append([
            *first,
            ("Accelerators" + env,
             fmt_int(n_acc[k]) if n_acc[k] >= 0 else "n/a (capacity given)"),
            ("Power", f"{power[k]:,.1f} kW" if np.isfinite(power[k]) else "n/a"),
            ("Capacity" + env, fmt_rps(cap[k], unit)),
            ("Load (normal operation)", fmt_rps(load[k], unit)),
            *((("Population served (flows)", fmt_int(served[k])),)
              if served is not None else ()),
            *((f"&hellip; requests of {w}", fmt_rps(req[k])) for w, req in own),
            ("Utilisation" + env, fmt_pct(plan_util[k])
             + (f" (below {100 * THIN_BELOW:.0f} %: thin)" if thin and priced is None
                else "")),
            ("Worst utilisation" + env, fmt_pct(worst[k])),
            ("&hellip; under the failure of", _failure_text(cause[k], chosen)),
        ])
    return out


class PricedSites(NamedTuple):
    """A comparison's priced fleet on the drawn sites (:func:`priced_sites`), in drawing
    order; NaN for a drawn site the table does not price."""

    n_accelerators: npt.NDArray[np.float64]
    capacity_rps: npt.NDArray[np.float64]
    utilisation_peak: npt.NDArray[np.float64]
    utilisation_worst: npt.NDArray[np.float64]
    peak_load_rps: npt.NDArray[np.float64]
    plan_util: npt.NDArray[np.float64]
    """The plan's own normal-operation utilisation (over the power envelope's capacity)."""


def priced_sites(table: pd.DataFrame, site_ids: list[str],
                 plan_util: npt.NDArray[np.float64]) -> PricedSites:
    """``compare_sites.csv`` (``site_id, n_accelerators, capacity_rps, peak_load_rps,
    utilisation_peak, utilisation_worst``) on the drawn sites ``site_ids``."""
    t = table.assign(site_id=table["site_id"].astype(str)).drop_duplicates("site_id")
    t = t.set_index("site_id").reindex(site_ids)

    def col(name: str) -> npt.NDArray[np.float64]:
        return (pd.to_numeric(t[name], errors="coerce").to_numpy(dtype=np.float64)
                if name in t.columns else np.full(len(site_ids), np.nan))

    return PricedSites(col("n_accelerators"), col("capacity_rps"), col("utilisation_peak"),
                       col("utilisation_worst"), col("peak_load_rps"),
                       np.asarray(plan_util, dtype=np.float64))


def _wide(loads: pd.DataFrame, column: str, n_rows: int, site_ids: list[str]) -> pd.DataFrame:
    """One column of ``Plan.scenario_loads`` as a (scenario row, drawn site) table."""
    once = loads.drop_duplicates(["scenario", "site_id"])
    wide = once.pivot(index="scenario", columns="site_id", values=column)
    return wide.reindex(index=np.arange(n_rows), columns=site_ids)


def scenario_payload(scenarios: Any, loads: Any, site_ids: list[str],
                     site_index: Mapping[str, int], normal_load: npt.NDArray[np.float64],
                     cap: npt.NDArray[np.float64]) -> dict[str, Any]:
    """The failure explorer's capacity scenarios: for each drawn site, the scenario that
    fails it with the fewest other chosen sites (its own failure, or its failure domain's),
    and every surviving site's load in it.

    Parameters
    ----------
    scenarios : pandas.DataFrame or None
        ``Plan.capacity_scenarios`` (``capacity_scenarios.csv``).
    loads : pandas.DataFrame or None
        ``Plan.scenario_loads`` (``scenario, site_id, failed, load_rps``); without it the
        explorer finds a site's own single-failure row by its id and shows its load shed
        only.
    site_ids : list of str
        Ids of the drawn sites, in drawing order.
    site_index : mapping
        Site id to drawing position.
    normal_load, cap : numpy.ndarray
        Normal-operation load and capacity of each drawn site, requests/s.

    Returns
    -------
    dict
        ``siteScen`` (per drawn site, its scenario in ``scen`` or -1), ``scen`` (per
        scenario: ``row`` of the scenario table, ``label``, ``failed`` drawn sites,
        ``load``, ``served``, ``shed``, ``feasible``, ``worst``, ``worstSite`` /
        ``worstId``, and the surviving sites' loads as ``off`` / ``site`` / ``sload``),
        ``perSite`` (loads are every surviving site's: 0; else the largest increases
        kept per scenario) and ``note`` (why loads are missing, or null).
    """
    n = len(site_ids)
    empty: dict[str, Any] = {"row": [], "label": [], "failed": [], "load": [], "served": [],
                             "shed": [], "feasible": [], "worst": [], "worstSite": [],
                             "worstId": [], "off": [0], "site": [], "sload": []}
    out: dict[str, Any] = {"siteScen": [-1] * n, "scen": empty, "perSite": 0, "note": None}
    if not isinstance(scenarios, pd.DataFrame) or not len(scenarios):
        out["note"] = "This plan has no capacity scenario table."
        return out
    n_rows = len(scenarios)
    have_loads = (isinstance(loads, pd.DataFrame)
                  and {"scenario", "site_id", "failed", "load_rps"} <= set(loads.columns))
    if have_loads:
        keyed = loads.assign(site_id=id_column(loads, "site_id").to_numpy(dtype=object))
        failed = _wide(keyed, "failed", n_rows, site_ids).eq(True).to_numpy(dtype=bool)
        load_m = _wide(keyed, "load_rps", n_rows, site_ids).to_numpy(dtype=np.float64)
        count = failed.sum(axis=1)
        key = np.where(failed, count[:, None], np.iinfo(np.int64).max)
        row_of = np.where(failed.any(axis=0), key.argmin(axis=0), -1) if n else \
            np.zeros(0, np.int64)
    else:
        labels = scenarios["failed_site_ids"].astype(str)
        first = pd.Series(np.arange(n_rows), index=labels.to_numpy())
        first = first[~first.index.duplicated(keep="first")]
        row_of = pd.Series(site_ids, dtype=object).map(first).fillna(-1).to_numpy(np.int64)
        failed = load_m = None
        out["note"] = ("The per-site loads of failure scenarios were not kept (too many "
                       "scenario x site entries, see docs/capacity.md): only the load shed "
                       "is shown.")
    rows = np.unique(row_of[row_of >= 0])
    site_scen = np.full(n, -1, dtype=np.int64)
    site_scen[row_of >= 0] = np.searchsorted(rows, row_of[row_of >= 0])
    out["siteScen"] = site_scen.tolist()
    if not len(rows):
        return out
    sc = scenarios.iloc[rows]
    worst_ids = id_column(sc, "worst_site_id")
    scen = {
        "row": rows.tolist(),
        "label": [user_html(v) for v in sc["failed_site_ids"]],
        "load": _round(float_column(sc, "load_rps"), 3),
        "served": _round(float_column(sc, "served_rps"), 3),
        "shed": _round(np.abs(float_column(sc, "shed_rps", 0.0)), 3),
        "feasible": bool_column(sc, "feasible", True).astype(np.int8).tolist(),
        "worst": _round(float_column(sc, "worst_utilisation"), 5),
        "worstSite": [site_index.get(w, -1) if w is not None else -1 for w in worst_ids],
        "worstId": [user_html(w) if w is not None else "n/a" for w in worst_ids],
        "failed": [], "off": [0], "site": [], "sload": [],
    }
    if failed is None or load_m is None:
        scen["failed"] = [np.flatnonzero(site_scen == k).tolist() for k in range(len(rows))]
        scen["off"] = [0] * (len(rows) + 1)
        out["scen"] = scen
        return out
    per = max(MIN_EXPLORER_SITES, MAX_EXPLORER_ENTRIES // len(rows))
    out["perSite"] = 0 if per >= n else per
    util = load_m[rows] / np.where(cap > 0, cap, 1.0)[None, :]
    delta = load_m[rows] - normal_load[None, :]
    alive = ~failed[rows] & np.isfinite(load_m[rows])
    # per scenario: surviving sites by load increase; the first `per`, and any saturated
    order = np.argsort(np.where(alive, -np.nan_to_num(delta, nan=0.0), np.inf), axis=1,
                       kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n)[None, :].repeat(len(rows), axis=0), axis=1)
    keep = alive & ((rank < per) | (util >= SATURATED_AT))
    r_idx, s_idx = np.nonzero(keep)  # row-major: grouped by scenario
    # within a scenario, largest increase first
    o = np.lexsort((rank[r_idx, s_idx], r_idx))
    r_idx, s_idx = r_idx[o], s_idx[o]
    scen["failed"] = [np.flatnonzero(failed[r]).tolist() for r in rows]  # scenarios, few
    scen["off"] = np.searchsorted(r_idx, np.arange(len(rows) + 1)).tolist()
    scen["site"] = s_idx.tolist()
    scen["sload"] = np.round(load_m[rows][r_idx, s_idx], 3).tolist()
    out["scen"] = scen
    return out


def _legend(summary: Mapping[str, Any], scenarios: Any, cap: npt.NDArray[np.float64],
            util: npt.NDArray[np.float64], palette: list[str],
            unit: str = "requests/s", chosen: Collection[str] = (),
            priced: PricedSites | None = None) -> str:
    """The legend's capacity block: utilisation ramp, thin sites, sizes and the headline
    capacity figures (with ``priced``, the colours' utilisation is the priced fleet's)."""
    info = summary.get("capacity") if isinstance(summary.get("capacity"), Mapping) else {}
    n_thin = int((np.isfinite(util) & (util < THIN_BELOW)).sum())
    ok = cap[np.isfinite(cap) & (cap > 0)]
    ramp = ", ".join(palette[i] for i in np.linspace(0, len(palette) - 1, 9).astype(int))
    worst_u = finite_or(info.get("worst_utilisation"), math.nan)
    worst_when = ""
    if isinstance(scenarios, pd.DataFrame) and len(scenarios) and \
            has_column(scenarios, "worst_utilisation"):
        w = float_column(scenarios, "worst_utilisation")
        if np.isfinite(w).any():
            r = int(np.nanargmax(w))
            worst_u = float(w[r]) if math.isnan(worst_u) else worst_u
            worst_when = _failure_text(scenarios["failed_site_ids"].iloc[r], chosen)
    env = " (power envelope)" if priced is not None else ""
    rows = [
        *((("Fleet utilisation at peak, priced", fmt_pct(
            float(np.nansum(priced.peak_load_rps)) / float(np.nansum(priced.capacity_rps))
            if np.nansum(priced.capacity_rps) > 0 else math.nan)),)
          if priced is not None else ()),
        ("Fleet utilisation" + env, fmt_pct(info.get("fleet_utilisation"))),
        ("Worst utilisation" + env, fmt_pct(worst_u) + (f" ({worst_when} failed)"
                                                  if worst_when and "normal" not in worst_when
                                                  else "")),
        ("Largest load shed", fmt_rps(info.get("load_shed_max_rps"), unit)),
        ("Scenarios checked", fmt_int(info.get("scenarios_checked",
                                               len(scenarios) if isinstance(
                                                   scenarios, pd.DataFrame) else math.nan))),
    ]
    table = "".join(f"<tr><th>{a}</th><td>{b}</td></tr>" for a, b in rows)
    size = (f"{fmt_rps(ok.min(), unit)} to {fmt_rps(ok.max(), unit)}" if ok.size else "n/a")
    colours = ("Sites: utilisation at peak of the priced accelerators (compare_sites.csv)"
               if priced is not None else "Sites: utilisation in normal operation")
    note = ("" if priced is None else
            "<div class='covmap-note'>The plan's capacity is its power envelope's; compare "
            "prices the accelerators that carry the load at the target utilisation. The "
            "failure explorer's utilisations are over the envelope's capacity.</div>")
    return (
        f"<div class='covmap-h'>Capacity ({unit} at peak)</div>"
        f"<table class='covmap-cap-legend'>{table}</table>{note}"
        f"<div class='covmap-h'>{colours}</div>"
        f"<div class='covmap-ramp' style='background: linear-gradient(to right, {ramp});'>"
        "</div><div class='covmap-ticks'><span>0 %</span><span>50 %</span>"
        "<span>100 %</span></div>"
        f"<div class='covmap-key'><span class='covmap-ring' style='border:2.5px dashed "
        f"{THIN_COLOR}'></span>below {100 * THIN_BELOW:.0f} % (thin utilisation): "
        f"{n_thin:,} of {len(util):,} sites</div>"
        f"<div class='covmap-note'>Marker area &prop; capacity{env} ({size}).</div>"
    )


def capacity_view(plan: Any, sites: pd.DataFrame, site_index: Mapping[str, int],
                  summary: Mapping[str, Any], missing_color: str,
                  priced: pd.DataFrame | None = None) -> CapacityView:
    """Everything a capacitated plan adds to its map.

    Parameters
    ----------
    plan : Plan
        A capacitated plan (duck-typed: ``capacity_scenarios`` and ``scenario_loads`` are
        optional attributes).
    sites : pandas.DataFrame
        The drawn (located) sites, in drawing order, with the capacity columns of
        ``sites.csv``.
    site_index : mapping
        Site id to drawing position.
    summary : mapping
        The plan's ``summary()`` (its ``capacity`` entry).
    missing_color : str
        Colour of a site without a utilisation.
    priced : pandas.DataFrame, optional
        A comparison's ``compare_sites.csv``: the sites are coloured by the priced
        accelerators' utilisation at peak (``utilisation_peak``), not the power envelope's
        (the plan's capacity, often a hundred times the load), and the popups and legend
        give both; the failure explorer stays over the envelope's capacity, said in it.

    Returns
    -------
    CapacityView
    """
    ids = id_column(sites, "site_id")
    site_ids = [str(s) if s is not None else "" for s in ids]
    cap = float_column(sites, "capacity_rps")
    load = float_column(sites, "load_rps")
    util = float_column(sites, "utilisation")
    palette = utilisation_palette()
    scenarios = getattr(plan, "capacity_scenarios", None)
    explorer = scenario_payload(scenarios, getattr(plan, "scenario_loads", None), site_ids,
                                site_index, load, cap)
    view = None
    if priced is not None:
        view = priced_sites(priced, site_ids, util)
        util = view.utilisation_peak
        explorer["capNote"] = (
            "Utilisation here is over the plan's capacity (the power envelope's), not the "
            "priced accelerators'; theirs in the worst scenario they were sized for is "
            "compare_sites.csv's utilisation_worst.")
    payload = {
        "cap": _round(cap, 3),
        "load": _round(load, 3),
        "util": _round(util, 5),
        "size": site_sizes(cap).tolist(),
        "thin": (np.isfinite(util) & (util < THIN_BELOW)).astype(np.int8).tolist(),
        "palette": palette,
        "thinBelow": THIN_BELOW,
        "saturated": SATURATED_AT,
        "saturatedColor": SATURATED_COLOR,
        **explorer,
    }
    # requests/s of the run's workload when service classes share a pool of accelerators
    unit = load_unit(summary.get("capacity"))
    chosen = (set(id_column(sites, "site_id").dropna().astype(str))
              if has_column(sites, "site_id") else set())
    return CapacityView(
        payload=payload,
        colors=utilisation_colors(util, palette, missing_color),
        popup_rows=_popup_rows(sites, util, unit, _pool_workloads(summary), chosen, view),
        legend=_legend(summary, scenarios, cap, util, palette, unit, chosen, view),
    )
