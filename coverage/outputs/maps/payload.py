"""The data handed to the page: per-point table, units (points or H3 hexagons), failure
records, sites, proposed sites, service areas and the latency waterfall.

Everything here is numpy over the demand points (no Python loop over points); sites are few
and get ready-made, escaped popup HTML. Every string taken from the plan is HTML-escaped.
"""

from __future__ import annotations

import contextlib
import html
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ...model.h3index import group_starts, h3_bins, h3_bins_projected
from ...resilience.status import COVERAGE_STATUSES, UNSERVED, is_gap, plan_status
from .columns import (
    bool_column,
    column_series,
    finite_or,
    float_column,
    has_column,
    id_column,
    lat_lon,
    user_html,
)
from .style import AREA_COLORS, fmt_int, fmt_ms

__all__ = [
    "areas_payload",
    "failure_payload",
    "h3_units",
    "point_table",
    "point_units",
    "proposed_payload",
    "site_labels",
    "site_payload",
    "waterfall_table",
    "component_waterfall",
    "WATERFALL_COLUMNS",
]

# One logger for the whole map package, named as before the split into modules.
logger = logging.getLogger(__package__)


def _escape_all(values: pd.Series) -> list[str]:
    return [user_html(v) for v in values.fillna("").astype(str)]


def _ms(values: npt.NDArray[np.float64]) -> list[float]:
    """Latencies rounded to 0.1 ms; missing as -1."""
    return np.where(np.isfinite(values), np.round(values, 1), -1.0).tolist()


def _counts(values: npt.ArrayLike) -> list[Any]:
    """Rounded counts for the page's JSON: integers while exact in a double, else floats.

    Never an int64 cast of a float beyond 2**53 (1e300 people would wrap to a negative
    int64); non-finite values become 0.
    """
    v = np.round(np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0,
                               neginf=0.0))
    if not len(v) or float(np.abs(v).max()) < 2.0**53:
        return v.astype(np.int64).tolist()
    return v.tolist()


def _status_codes(demand: pd.DataFrame, by_plan: int | None = None,
                  by_domains: bool = False) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Coverage status codes (the order of ``COVERAGE_STATUSES``, others after).

    ``by_plan`` (the plan's k, for a ``--max-sites`` plan): the statuses over the plan's
    chosen sites (:func:`~coverage.resilience.status.plan_status`), from the primary and
    N-1 / N-k columns, instead of the candidates' ``coverage_status``; with ``by_domains``
    (a plan whose statuses count failure domains) from ``n_domains_in_budget``, the
    domains of the chosen sites in budget.
    """
    if not has_column(demand, "coverage_status"):
        return np.zeros(len(demand), dtype=np.int64), list(COVERAGE_STATUSES)
    status = column_series(demand, "coverage_status")
    if by_plan is not None and by_domains and has_column(demand, "n_domains_in_budget"):
        n_dom = np.nan_to_num(float_column(demand, "n_domains_in_budget"), nan=0.0)
        n_cov = np.nan_to_num(float_column(demand, "n_covering_sites"), nan=1.0)
        status = pd.Series(plan_status(n_dom.astype(np.int64), n_cov.astype(np.int64),
                                       int(by_plan)))
    elif by_plan is not None and has_column(demand, "primary_site_id") and (
            by_plan < 2 or has_column(demand, "nk_within_budget")):
        k = int(by_plan)
        has_primary = column_series(demand, "primary_site_id").notna().to_numpy()
        n1 = has_primary & bool_column(demand, "n1_within_budget", False)
        chosen = has_primary.astype(np.int64)
        if k >= 1:
            chosen = chosen + n1  # 2 chosen sites in budget (2..k with k >= 2)
        if k >= 2:
            chosen = np.where(n1 & bool_column(demand, "nk_within_budget", False), k + 1,
                              chosen)
        n_cov = np.nan_to_num(float_column(demand, "n_covering_sites"), nan=1.0)
        status = pd.Series(plan_status(chosen, n_cov.astype(np.int64), k))
    codes, uniques = pd.factorize(status, use_na_sentinel=True)
    found = ["unknown" if u is None else str(u) for u in uniques]
    if (codes < 0).any():
        found.append("unknown")
    known = list(COVERAGE_STATUSES) + ([UNSERVED] if by_plan is not None else [])
    names = known + sorted(set(found) - set(known))
    table = np.array([names.index(f) for f in found], dtype=np.int64)
    return table[np.where(codes < 0, len(found) - 1, codes)], names


def _site_codes(
    demand: pd.DataFrame, column: str, site_index: dict[str, int], labels: list[str]
) -> npt.NDArray[np.int64]:
    """Position of each row's site id (``column``) in ``labels``; -1 when missing.

    The column is factorised first, so only its distinct ids are looked at in Python. Ids
    that are not chosen sites get a bare (escaped) label appended to ``labels``.
    """
    if not has_column(demand, column):
        return np.full(len(demand), -1, dtype=np.int64)
    codes, uniques = pd.factorize(column_series(demand, column), use_na_sentinel=True)
    ids = id_column(pd.DataFrame({column: np.asarray(uniques)}), column)
    table = np.full(len(ids) + 1, -1, dtype=np.int64)  # last slot: missing
    for k, sid in enumerate(ids):
        if sid is None:
            continue
        if sid not in site_index:
            site_index[sid] = len(labels)
            labels.append(user_html(sid))
        table[k] = site_index[sid]
    return table[np.where(codes < 0, len(ids), codes)]


def _with_service(names: list[str], d: pd.DataFrame) -> list[str]:
    """Popup titles with each point's service class and budget (``Lisbon &middot;
    realtime, 30 ms``) when the plan has per-row budgets (a ``service_class`` column, or a
    ``budget_ms`` column that varies); vectorised, the text escaped."""
    has_class = has_column(d, "service_class")
    budget = float_column(d, "budget_ms") if has_column(d, "budget_ms") else None
    varies = budget is not None and len(np.unique(budget[np.isfinite(budget)])) > 1
    if not has_class and not varies:
        return names
    parts = pd.Series(np.full(len(d), "", dtype=object))
    if has_class:
        cls = column_series(d, "service_class").reset_index(drop=True)
        ok = cls.notna() & (cls.astype(str).str.strip() != "")
        # a missing class is "" before the text is escaped (astype(str) keeps it missing)
        shown = cls.astype(object).where(ok, "").astype(str).map(html.escape)
        parts = parts.where(~ok.to_numpy(), shown)
    if budget is not None:
        uniq, inverse = np.unique(budget, return_inverse=True)  # format each budget once
        shown = np.array([f"{b:g} ms" if math.isfinite(b) else "" for b in uniq], dtype=object)
        text = pd.Series(shown[inverse.ravel()] if len(uniq) else np.zeros(0, dtype=object))
        sep = np.where((parts != "") & (text != ""), ", ", "")
        parts = parts + sep + text
    return [n + (" &middot; " + p if p else "") for n, p in zip(names, parts, strict=True)]


def point_table(
    plan: Any, demand: pd.DataFrame, site_index: dict[str, int], labels: list[str],
    by_plan: int | None = None, by_domains: bool = False,
) -> dict[str, Any]:
    """Per demand point arrays (numpy, no Python loop over points).

    ``by_plan``: the plan's k when its statuses and gaps are to count the chosen sites
    (a ``--max-sites`` plan), not the candidates; ``by_domains``: their failure domains
    (a plan whose statuses count domains).
    """
    lat, lon = lat_lon(demand)
    pop = np.clip(np.nan_to_num(float_column(demand, "population"), nan=0.0), 0.0, None)
    st, status_names = _status_codes(demand, by_plan, by_domains)
    if not has_column(demand, "coverage_status"):
        gap = np.zeros(len(demand), dtype=bool)
    elif by_plan is not None:
        gap = st != COVERAGE_STATUSES.index("redundant")
    else:
        gap = is_gap(demand)
    p = _site_codes(demand, "primary_site_id", site_index, labels)
    b = _site_codes(demand, "backup_site_id", site_index, labels)
    n1s_col = _site_codes(demand, "n1_site_id", site_index, labels)
    pl = float_column(demand, "primary_latency_ms")
    n1 = float_column(demand, "n1_latency_ms")
    has_primary = p >= 0
    if has_column(demand, "n1_site_id"):
        n1s = n1s_col
    else:  # without the column, the backup is where a point goes when its primary fails
        n1s = np.where(np.isfinite(n1), b, -1)
    n1_ok = bool_column(demand, "n1_within_budget", True)
    model = getattr(plan, "model", None)
    percentile = str(getattr(plan, "percentile", "p99"))
    ms_per_km = finite_or(getattr(model, "ms_per_km", None), math.nan)
    access = (
        column_series(demand, "access").astype(str).to_numpy()
        if has_column(demand, "access")
        else np.full(len(demand), "", dtype=object)
    )
    ac, access_names = pd.factorize(pd.Series(access), sort=True)
    groups = None
    if all(has_column(demand, c) for c in WATERFALL_COLUMNS if c != "latency_tier_ms"):
        # the plan's own per-point components (assignment.csv's latency_*_ms): points with
        # the same access label and the same fixed components share one waterfall entry
        # (a plan written before tiers has no tier column: 0)
        fixed = np.column_stack([float_column(demand, c, 0.0 if c == "latency_tier_ms"
                                              else math.nan) for c in WATERFALL_COLUMNS])
        key = pd.DataFrame(np.round(fixed, 3), columns=list(WATERFALL_COLUMNS))
        key.insert(0, "access", access)
        codes, uniq = pd.factorize(pd.MultiIndex.from_frame(key.fillna(-1.0)), sort=True)
        ac = np.asarray(codes)
        groups = [(str(g[0]), [float(v) for v in g[1:]]) for g in uniq]
    if has_column(demand, "primary_distance_km") and math.isfinite(ms_per_km):
        prop = ms_per_km * float_column(demand, "primary_distance_km")
        if has_column(demand, "latency_route_detour_ms"):  # via a breakout or a backbone
            prop = prop + np.nan_to_num(float_column(demand, "latency_route_detour_ms"))
    elif model is not None and has_column(demand, "access"):
        try:
            prop = pl - model.fixed_ms_array(access, percentile)
        except Exception:  # an unknown access class: no waterfall
            prop = np.full(len(demand), math.nan)
    else:
        prop = np.full(len(demand), math.nan)
    # each row's own budget (service classes, a budget_ms column): a point is over budget
    # against its own, not the run's (the map coloured by the run's hid N-1 violations)
    run_budget = finite_or(getattr(plan, "budget_ms", None), math.nan)
    bu = (float_column(demand, "budget_ms") if has_column(demand, "budget_ms")
          else np.full(len(demand), math.nan))
    own = bool(np.isfinite(bu).any()) and bool(
        (np.abs(bu[np.isfinite(bu)] - run_budget) > 1e-9).any() or not math.isfinite(run_budget))
    with np.errstate(invalid="ignore"):
        primary_over = has_primary & np.isfinite(pl) & (pl > bu + 1e-6)
    return {
        "own_budgets": own,
        "bu": bu,
        "po": primary_over,
        "no": has_primary & ~n1_ok,
        "lat": lat,
        "lon": lon,
        "pop": pop,
        "st": st,
        "gap": gap,
        "status_names": status_names,
        "p": p,
        "b": b,
        "n1s": n1s,
        "pl": np.where(has_primary, pl, np.nan),
        "bl": np.where(b >= 0, float_column(demand, "backup_latency_ms"), np.nan),
        "n1": np.where(has_primary, n1, np.nan),
        "out": pop * (has_primary & ~n1_ok),
        "ac": np.asarray(ac).astype(np.int64),
        "access_names": [str(a) for a in access_names],
        "waterfall_groups": groups,
        "pd": np.where(has_primary, prop, np.nan),
        "nc": np.nan_to_num(float_column(demand, "n_covering_sites"), nan=-1).astype(np.int64),
    }


def point_units(t: dict[str, Any], keep: npt.NDArray[np.intp], demand: pd.DataFrame):
    """One unit per demand point (``keep`` in drawing order) and one failure record each."""
    d = demand.iloc[keep]
    if has_column(d, "name"):
        names = _escape_all(column_series(d, "name").reset_index(drop=True))
    elif has_column(d, "demand_id"):
        names = _escape_all(column_series(d, "demand_id").reset_index(drop=True))
    else:
        names = [html.escape(str(v)) for v in d.index]
    names = _with_service(names, d)
    units = {
        "lat": np.round(t["lat"][keep], 5).tolist(),
        "lon": np.round(t["lon"][keep], 5).tolist(),
        "pop": _counts(t["pop"][keep]),
        "name": names,
        "p": t["p"][keep].tolist(),
        "pl": _ms(t["pl"][keep]),
        "b": t["b"][keep].tolist(),
        "bl": _ms(t["bl"][keep]),
        "st": t["st"][keep].tolist(),
        "gap": t["gap"][keep].astype(np.int8).tolist(),
        "nc": t["nc"][keep].tolist(),
        "n1": _ms(t["n1"][keep]),
        "n1s": t["n1s"][keep].tolist(),
        "out": _counts(t["out"][keep]),
        "ac": t["ac"][keep].tolist(),
        "pd": _ms(t["pd"][keep]),
    }
    rec = np.arange(len(keep))
    has = t["p"][keep] >= 0
    recs = {
        "unit": rec[has],
        "site": t["p"][keep][has],
        "to": t["n1s"][keep][has],
        "pop": t["pop"][keep][has],
        "lat": t["n1"][keep][has],
        "out": t["out"][keep][has],
        "n": None,
    }
    if t.get("own_budgets"):  # each point against its own budget
        units["bu"] = _budgets(t["bu"][keep])
        units["po"] = t["po"][keep].astype(np.int8).tolist()
        units["no"] = t["no"][keep].astype(np.int8).tolist()
        recs["o"] = t["no"][keep][has]
    return units, recs


def _budgets(values: npt.NDArray[np.float64]) -> list[float]:
    """Budgets, ms, to 0.001 ms; missing as -1 (the run's budget)."""
    return np.where(np.isfinite(values), np.round(values, 3), -1.0).tolist()


def _weighted_mean(unit, values, weights, n_units):
    ok = np.isfinite(values)
    w = np.where(ok, weights, 0.0)
    num = np.bincount(unit, weights=np.where(ok, values, 0.0) * w, minlength=n_units)
    den = np.bincount(unit, weights=w, minlength=n_units)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _dominant(unit, code, weight, n_units):
    """Per unit, the code with the largest total weight (ties: lowest code) and its share."""
    best = np.full(n_units, -1, dtype=np.int64)
    share = np.zeros(n_units)
    ok = code >= 0
    if not ok.any():
        return best, share
    u, c, w = unit[ok], code[ok], weight[ok]
    base = int(c.max()) + 1
    keys, inv = np.unique(u.astype(np.int64) * base + c, return_inverse=True)
    tot = np.bincount(inv.ravel(), weights=w)
    ku, kc = keys // base, keys % base
    order = np.lexsort((kc, -tot, ku))
    first = order[group_starts(ku[order])]
    best[ku[first]] = kc[first]
    unit_tot = np.bincount(u, weights=w, minlength=n_units)
    share[ku[first]] = tot[first] / np.maximum(unit_tot[ku[first]], 1e-12)
    return best, share


def _reduce(unit_sorted_values, starts, ufunc, n_units, fill):
    out = np.full(n_units, fill, dtype=np.float64)
    if len(starts):
        out[:] = ufunc.reduceat(unit_sorted_values, starts)
    return out


def h3_units(t: dict[str, Any], ok: npt.NDArray[np.bool_], res: int, proj: Any):
    """Aggregate the located points ``ok`` to H3 cells: one unit per cell."""
    import h3

    idx = np.flatnonzero(ok)
    lat, lon = t["lat"][idx], t["lon"][idx]
    if proj is not None:  # the projection of exactly these points, from _choose_resolution
        face, rg, theta = proj
        unit, cells = h3_bins_projected(lat, lon, face, rg, theta, res, h3)
    else:
        unit, cells = h3_bins(lat, lon, res)
    n = len(cells)
    pop = t["pop"][idx]
    w = pop + 1e-6  # every point counts a little, so empty cells still get a value
    order = np.argsort(unit, kind="stable")
    starts = group_starts(unit[order])
    st = t["st"][idx]
    n_status = len(t["status_names"])
    p_best, p_share = _dominant(unit, t["p"][idx], w, n)
    b_best, _ = _dominant(unit, t["b"][idx], w, n)
    n1_best, _ = _dominant(unit, t["n1s"][idx], w, n)
    ac = t["ac"][idx].astype(np.float64)
    ac_min = _reduce(ac[order], starts, np.minimum, n, -1)
    ac_max = _reduce(ac[order], starts, np.maximum, n, -1)
    n1 = t["n1"][idx]
    n1_max = _reduce(n1[order], starts, np.fmax, n, np.nan)
    nc_min = _reduce(t["nc"][idx][order].astype(np.float64), starts, np.minimum, n, -1)

    # Cell centres and boundaries: one h3 call per cell (5-10 vertices: pentagons have 5,
    # cells cut by an icosahedron edge up to 10). Vertices are stored as offsets from the
    # centre in 1e-5 degrees, both rounded the same way, so neighbours share them exactly.
    centre = np.array([h3.cell_to_latlng(c) for c in cells], dtype=np.float64).reshape(-1, 2)
    bounds = [h3.cell_to_boundary(c) for c in cells]
    counts = np.array([len(b) for b in bounds], dtype=np.int64)
    verts = np.array([v for b in bounds for v in b], dtype=np.float64).reshape(-1, 2)
    c_r = np.round(centre, 5)
    owner = np.repeat(np.arange(n), counts)
    v_r = np.round(verts, 5)
    d_lat = np.round((v_r[:, 0] - c_r[owner, 0]) * 1e5)
    d_lon = np.round(((v_r[:, 1] - c_r[owner, 1] + 180.0) % 360.0 - 180.0) * 1e5)
    hx = np.column_stack([d_lat, d_lon]).astype(np.int64)
    hex_deg = float(np.abs(d_lat).max()) * 1e-5 * 1.05 if n else 0.0

    units = {
        "lat": c_r[:, 0].tolist(),
        "lon": c_r[:, 1].tolist(),
        "hx": hx.ravel().tolist(),
        "hv": np.r_[0, np.cumsum(counts)].tolist(),
        "h": cells,
        "np": np.bincount(unit, minlength=n).tolist(),
        "pop": _counts(np.bincount(unit, weights=pop, minlength=n)),
        "sp": _counts(np.bincount(unit * n_status + st, weights=pop, minlength=n * n_status)),
        "st": _reduce(st[order].astype(np.float64), starts, np.maximum, n, 0)
        .astype(np.int64).tolist(),
        "gap": (np.bincount(unit, weights=t["gap"][idx].astype(np.float64), minlength=n) > 0)
        .astype(np.int8).tolist(),
        "p": p_best.tolist(),
        "ps": np.round(p_share, 3).tolist(),
        "pl": _ms(_weighted_mean(unit, t["pl"][idx], w, n)),
        "b": b_best.tolist(),
        "bl": _ms(_weighted_mean(unit, t["bl"][idx], w, n)),
        "n1": _ms(n1_max),
        "n1s": n1_best.tolist(),
        "out": _counts(np.bincount(unit, weights=t["out"][idx], minlength=n)),
        "ac": np.where(ac_min == ac_max, ac_min, -1).astype(np.int64).tolist(),
        "pd": _ms(_weighted_mean(unit, t["pd"][idx], w, n)),
        "nc": nc_min.astype(np.int64).tolist(),
    }
    own = bool(t.get("own_budgets"))
    if own:  # a cell's smallest budget for its colour ramp; over when any point is
        units["bu"] = _budgets(_reduce(t["bu"][idx][order], starts, np.fmin, n, np.nan))
        for key in ("po", "no"):
            units[key] = (np.bincount(unit, weights=t[key][idx].astype(np.float64),
                                      minlength=n) > 0).astype(np.int8).tolist()

    # Failure records: one per (cell, primary site), with the dominant N-1 site.
    p = t["p"][idx]
    has = p >= 0
    recs = {"unit": np.zeros(0, np.int64), "site": np.zeros(0, np.int64),
            "to": np.zeros(0, np.int64), "pop": np.zeros(0), "lat": np.zeros(0),
            "out": np.zeros(0), "n": np.zeros(0, np.int64)}
    if has.any():
        base = int(p.max()) + 1
        key = unit[has].astype(np.int64) * base + p[has]
        keys, inv = np.unique(key, return_inverse=True)
        inv = inv.ravel()
        m = len(keys)
        o = np.argsort(inv, kind="stable")
        s = group_starts(inv[o])
        to, _ = _dominant(inv, t["n1s"][idx][has], w[has], m)
        recs = {
            "unit": keys // base,
            "site": keys % base,
            "to": to,
            "pop": np.bincount(inv, weights=pop[has], minlength=m),
            "lat": _reduce(n1[has][o], s, np.fmax, m, np.nan),
            "out": np.bincount(inv, weights=t["out"][idx][has], minlength=m),
            "n": np.bincount(inv, minlength=m),
        }
        if own:
            recs["o"] = np.bincount(inv, weights=t["no"][idx][has].astype(np.float64),
                                    minlength=m) > 0
    elif own:
        recs["o"] = np.zeros(0, dtype=bool)
    return units, recs, hex_deg


def failure_payload(recs: dict[str, Any], n_sites: int) -> dict[str, Any]:
    """Failure records sorted by the failed (primary) site, with per-site offsets."""
    order = np.argsort(recs["site"], kind="stable")
    site = recs["site"][order]
    out = {
        "u": recs["unit"][order].astype(np.int64).tolist(),
        "to": recs["to"][order].astype(np.int64).tolist(),
        "pop": _counts(recs["pop"][order]),
        "lat": _ms(recs["lat"][order]),
        "out": _counts(recs["out"][order]),
        "off": np.searchsorted(site, np.arange(n_sites + 1), side="left").tolist(),
    }
    if recs.get("n") is not None:
        out["n"] = recs["n"][order].astype(np.int64).tolist()
    if recs.get("o") is not None:  # over its own budget (per-row budgets)
        out["o"] = np.asarray(recs["o"])[order].astype(np.int8).tolist()
    return out


def site_labels(site_ids: pd.Series, names: pd.Series) -> tuple[list[str], dict[str, int]]:
    """Escaped ``"name (id)"`` labels, one per site row, and the first row of each id."""
    labels: list[str] = []
    index: dict[str, int] = {}
    for k, (sid, name) in enumerate(zip(site_ids, names, strict=True)):
        sid_s = "" if sid is None else sid
        shown = str(name) if name is not None and str(name) not in ("", "nan") else sid_s
        if shown == sid_s:
            label = html.escape(shown)
        else:
            label = f"{html.escape(shown)} ({html.escape(sid_s)})"
        labels.append(label)
        if sid is not None and sid not in index:
            index[sid] = k
    return labels, index


def site_payload(
    sites: pd.DataFrame,
    failures: pd.DataFrame | None,
    tiers: list[str],
    tier_colors: Mapping[str, str],
    radius_km: float,
    extra_rows: Sequence[Sequence[tuple[str, str]]] | None = None,
) -> dict[str, Any]:
    """Per-site data with ready-made, escaped popup HTML (sites are few).

    ``extra_rows`` (one list of escaped ``(label, value)`` pairs per site, e.g. a
    capacitated plan's capacity figures) go into each popup before what happens if the
    site fails.
    """
    lat, lon = lat_lon(sites)
    ids = id_column(sites, "site_id")
    names = id_column(sites, "name") if has_column(sites, "name") else ids
    tier = id_column(sites, "tier").fillna("")
    required = bool_column(sites, "required", False)
    pop_p = float_column(sites, "population_primary")
    pop_b = float_column(sites, "population_backup")
    n_dem = float_column(sites, "n_demand_primary")
    rkm = float_column(sites, "radius_km", radius_km)
    rkm = np.where(np.isfinite(rkm), rkm, radius_km)

    fail: dict[str, tuple[float, float, float, float]] = {}
    if isinstance(failures, pd.DataFrame) and has_column(failures, "failed_site_id"):
        for fid, rr, out, worst, mean in zip(
            id_column(failures, "failed_site_id"),
            float_column(failures, "population_rerouted"),
            float_column(failures, "population_outside_budget"),
            float_column(failures, "worst_latency_ms"),
            float_column(failures, "mean_rerouted_latency_ms"),
            strict=True,
        ):
            if fid is not None:
                fail[fid] = (rr, out, worst, mean)

    popups: list[str] = []
    tips: list[str] = []
    for k in range(len(sites)):
        sid = ids[k] if ids[k] is not None else ""
        name = names[k] if names[k] is not None else sid
        kind = "existing (required)" if required[k] else "new"
        rows = [
            ("Site id", html.escape(sid)),
            ("Tier", html.escape(tier[k]) or "(none)"),
            ("Site", kind),
            ("Population served (primary)", fmt_int(pop_p[k])),
            ("Demand points (primary)", fmt_int(n_dem[k])),
            ("Population backed up", fmt_int(pop_b[k])),
            ("Budget radius", f"{rkm[k]:,.0f} km" if math.isfinite(rkm[k]) else "n/a"),
        ]
        if extra_rows is not None:
            rows += list(extra_rows[k])
        if sid in fail:
            rr, out, worst, mean = fail[sid]
            rows += [
                ("If this site fails: re-routed", fmt_int(rr)),
                ("&hellip; outside budget", fmt_int(out)),
                ("&hellip; worst latency", fmt_ms(worst)),
                ("&hellip; mean latency", fmt_ms(mean)),
            ]
        body = "".join(f"<tr><th>{key}</th><td>{val}</td></tr>" for key, val in rows)
        popups.append(
            f"<div class='covmap-popup covmap-site-popup'><b>{html.escape(name)}</b>"
            f"<table>{body}</table></div>"
        )
        tips.append(html.escape(name) + (" (existing)" if required[k] else ""))
    tier_index = {t: i for i, t in enumerate(tiers)}
    return {
        "lat": np.round(lat, 5).tolist(),
        "lon": np.round(lon, 5).tolist(),
        "req": required.astype(np.int8).tolist(),
        "tier": [tier_index[t] for t in tier],
        "color": [tier_colors[t] for t in tier],
        "rkm": np.where(np.isfinite(rkm), np.round(rkm, 3), -1.0).tolist(),
        "popup": popups,
        "tip": tips,
    }


def proposed_payload(proposed: Any) -> dict[str, Any]:
    empty: dict[str, Any] = {"lat": [], "lon": [], "popup": [], "tip": []}
    if not isinstance(proposed, pd.DataFrame) or not len(proposed):
        return empty
    if not (has_column(proposed, "lat") and has_column(proposed, "lon")):
        return empty
    lat, lon = lat_lon(proposed)
    ok = np.isfinite(lat) & np.isfinite(lon)
    prop = proposed.loc[ok]
    ids = id_column(prop, "proposed_site_id")
    n_gain = float_column(prop, "n_demand_gained")
    pop_gain = float_column(prop, "population_gained")
    popups, tips = [], []
    for k in range(len(prop)):
        pid = html.escape(ids[k] or f"proposed {k + 1}")
        rows = [
            ("Demand points gained", fmt_int(n_gain[k])),
            ("Population gained", fmt_int(pop_gain[k])),
            ("Location", f"{lat[ok][k]:.4f}, {lon[ok][k]:.4f}"),
        ]
        body = "".join(f"<tr><th>{a}</th><td>{b}</td></tr>" for a, b in rows)
        popups.append(
            f"<div class='covmap-popup'><b>Proposed new site {pid}</b><table>{body}</table>"
            "<div class='covmap-note'>Not among the candidates: a new location that would give "
            "gap demand its missing site(s) within budget.</div></div>"
        )
        tips.append(f"Proposed {pid}")
    return {
        "lat": np.round(lat[ok], 5).tolist(),
        "lon": np.round(lon[ok], 5).tolist(),
        "popup": popups,
        "tip": tips,
    }


def areas_payload(
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    primary: npt.NDArray[np.int64],
    n_sites: int,
) -> dict[str, Any]:
    """Convex hull of each chosen site's primary users (qhull on each site's points)."""
    from scipy.spatial import ConvexHull, QhullError

    ok = (primary >= 0) & (primary < n_sites) & np.isfinite(lat) & np.isfinite(lon)
    out: dict[str, Any] = {"site": [], "ring": [], "color": []}
    if not ok.any():
        return out
    idx = np.flatnonzero(ok)
    idx = idx[np.argsort(primary[idx], kind="stable")]
    codes = primary[idx]
    starts = group_starts(codes)
    ends = np.r_[starts[1:], len(idx)]
    for a, e in zip(starts, ends, strict=True):  # one qhull call per site
        pts = np.column_stack([lat[idx[a:e]], lon[idx[a:e]]])
        ring = None
        if len(pts) >= 3:
            with contextlib.suppress(QhullError, ValueError):
                ring = pts[ConvexHull(pts).vertices]
        if ring is None:  # one or two points, or all on a line: a small box around them
            lo, hi = pts.min(axis=0) - 0.02, pts.max(axis=0) + 0.02
            ring = np.array([[lo[0], lo[1]], [lo[0], hi[1]], [hi[0], hi[1]], [hi[0], lo[1]]])
        code = int(codes[a])
        out["site"].append(code)
        out["ring"].append(np.round(ring, 4).ravel().tolist())
        out["color"].append(AREA_COLORS[code % len(AREA_COLORS)])
    return out


#: The fixed (distance-independent) component columns of the assignment table, in the order
#: :func:`component_waterfall` lists them (propagation is added by the popup).
WATERFALL_COLUMNS = ("latency_network_fixed_ms", "latency_access_ms", "latency_wifi_ms",
                     "latency_proxy_ms", "latency_tier_ms", "latency_inference_ms",
                     "latency_tail_ms")


def component_waterfall(groups: Sequence[tuple[str, Sequence[float]]],
                        percentile: str) -> list[dict[str, Any]]:
    """Popup waterfall entries from the plan's own per-point components: one entry per
    (access label, fixed components) group, in :data:`WATERFALL_COLUMNS` order; the parts
    add up to the point's latency at distance 0 (its class's percentile and workload)."""
    table = []
    for access, values in groups:
        net, acc, wifi, proxy, tier, inference, tail = values
        parts: list[list[Any]] = [
            ["network (hops and overhead) p50", round(net, 2)],
            [f"access ({html.escape(access)}) p50" if access else "access p50", round(acc, 2)],
        ]
        if wifi > 0:
            parts.append(["wifi p50", round(wifi, 2)])
        parts.append(["proxy p50", round(proxy, 2)])
        if tier > 0:
            parts.append(["site tier p50", round(tier, 2)])
        parts.append(["inference p50", round(inference, 2)])
        if tail > 0 or percentile == "p99":
            parts.append(["p99 tail (root sum of squares)", round(tail, 2)])
        table.append({"parts": parts})
    return table


def waterfall_table(
    plan: Any, access_names: Sequence[str], percentile: str
) -> list[dict[str, Any]] | None:
    """Fixed latency components per access class, for the popups' waterfall (plans whose
    demand table lacks the per-point components; see :func:`component_waterfall`)."""
    model = getattr(plan, "model", None)
    if model is None or not hasattr(model, "components_ms") or not access_names:
        return None
    table = []
    try:
        for a in access_names:
            comps = model.components_ms(a)
            parts: list[list[Any]] = [
                [f"{html.escape(name)}{' (' + html.escape(a) + ')' if name == 'access' else ''}"
                 " p50", round(float(p50), 2)]
                for name, (p50, _p99) in comps.items()
                if p50 > 0 or name not in ("wifi", "network jitter")
            ]
            parts.append(["router hops", round(float(model.hops * model.per_hop_ms), 2)])
            overhead = float(getattr(model, "overhead_ms", 0.0))
            if overhead > 0:  # the fitted fixed network overhead (latency model profile)
                parts.append([f"network overhead ({html.escape(str(model.profile))}) p50",
                              round(overhead, 2)])
            if percentile == "p99":
                tail = math.sqrt(sum((p99 - p50) ** 2 for p50, p99 in comps.values()))
                parts.append(["p99 tail (root sum of squares)", round(tail, 2)])
            table.append({"parts": parts})
    except Exception as exc:  # an access class the model does not know
        logger.info("map: no latency waterfall (%s)", exc)
        return None
    return table

