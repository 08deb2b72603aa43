"""Offline Folium maps of a coverage plan.

:func:`plan_map` draws a plan onto a :class:`folium.Map`; :func:`save_map` writes it as one
self-contained HTML file. The overlays, each in the layer control:

* demand coloured by primary latency (continuous scale, legend), by coverage status
  (redundant / partial / single / uncoverable for the plan's ``k``,
  :mod:`coverage.resilience.status`)
  and by N-1 worst-case latency;
* demand outside budget under a failure, and the coverage gaps (points short of ``k + 1``
  sites within budget, :func:`coverage.resilience.status.is_gap`, as :attr:`coverage.Plan.gaps`);
* the chosen sites, one overlay per tier (existing sites square, new sites round), their
  budget radius and their primary service areas (convex hull of their users);
* proposed new sites (when the plan has any);
* a failure explorer: pick a site (drop-down, or the button in a site's popup) and see whose
  traffic is re-routed to which site and the latency it gets.

The file works with no network: Leaflet 1.9.4 (vendored in ``coverage/_static``,
BSD-2-Clause, see ``LEAFLET_LICENSE``) and the map script ``covmap.js`` are inlined, and
folium's other default assets (jQuery, Bootstrap, awesome-markers, Font Awesome) are dropped
because nothing here uses them. Only the optional OpenStreetMap tile layer needs the network;
without it the map has a plain background.

Demand is not made of folium objects: it is embedded once as compact column-wise JSON and
drawn on canvas renderers by ``covmap.js`` when a layer is first shown. Up to ``max_points``
demand points are drawn one by one; above that they are aggregated to H3 hexagons, with the
resolution chosen from the extent, so a national plan with a million points stays a file of a
few MB. Points are assigned to hexagons without a Python loop over them (see
:func:`h3_bins`). Every string from the plan is HTML-escaped before it reaches the page.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import math
import os
import re
import time
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import InputValidationError
from ..model.h3index import (  # noqa: F401 - h3_bins and choose_h3_resolution re-exported
    H3_MAX_RES,
    MAX_HEXAGONS,
    choose_h3_resolution,
    choose_resolution_projected,
    group_starts,
    h3_bins,
    h3_bins_projected,
)
from ..resilience.status import COVERAGE_STATUSES, is_gap, status_label

if TYPE_CHECKING:
    import folium
    from branca.element import Element

__all__ = [
    "choose_h3_resolution",
    "h3_bins",
    "layer_names",
    "plan_map",
    "render_map_html",
    "save_map",
]

logger = logging.getLogger(__name__)

#: Layer names, as listed in the layer control (site overlays are ``"Sites: <tier>"``).
LAYER_DEMAND = "Demand: primary latency"
LAYER_STATUS = "Demand: coverage status"
LAYER_N1 = "Demand: N-1 worst-case latency"
LAYER_OUTSIDE = "Outside budget under a failure"
LAYER_GAPS = "Coverage gaps"
LAYER_SITES = "Sites"
LAYER_RADIUS = "Budget radius"
LAYER_AREAS = "Service areas (primary)"
LAYER_PROPOSED = "Proposed new sites"
LAYER_FAILURE = "Failure explorer"

#: Latency colour ramp (green -> yellow -> red), lowest primary latency .. budget.
LATENCY_COLORS = ("#1a9850", "#fee08b", "#d73027")
#: Latency above the budget (N-1 layer, failure explorer).
OVER_BUDGET_COLOR = "#49006a"
#: Fill of demand with no site (no primary, or no surviving site).
MISSING_COLOR = "#9e9e9e"
#: Coverage status colours: redundant (k+1 sites in budget), partial (2..k), single,
#: uncoverable (the order of :data:`coverage.resilience.status.COVERAGE_STATUSES`).
STATUS_COLORS = ("#4575b4", "#91bfdb", "#fdae61", "#7b3294")
#: Outline of demand outside budget under a failure, and of a failed site.
OUTSIDE_COLOR = "#e31a1c"
#: Ring around the sites that take over a failed site's users.
REROUTE_COLOR = "#1f78b4"
#: Site fill colours by tier (in sorted tier order).
TIER_COLORS = (
    "#263238",
    "#00acc1",
    "#8d6e63",
    "#f06292",
    "#7cb342",
    "#5c6bc0",
    "#ffb300",
    "#6d4c41",
)
#: Service-area colours, cycled over the chosen sites.
AREA_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
#: Background of the map div (visible with no tiles or offline).
MAP_BACKGROUND = "#f2efe9"
#: Demand marker radius limits, pixels.
DEMAND_RADIUS_MIN_PX = 2.0
DEMAND_RADIUS_MAX_PX = 12.0
#: Above this many demand points the map aggregates them to H3 hexagons (``aggregate="auto"``).
MAX_POINTS = 20_000
# MAX_HEXAGONS (most hexagons the automatic resolution may produce) lives in h3index.

_PALETTE_SIZE = 64
_STATUS_ORDER = COVERAGE_STATUSES
_STATIC = "_static"


# --------------------------------------------------------------------------------------
# Vendored Leaflet and the map script
# --------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _static_assets() -> tuple[str, str, str]:
    """Return ``(leaflet.js, leaflet.css, covmap.js)``, made safe to inline."""
    static = resources.files(__package__ or "coverage").joinpath(_STATIC)
    js = static.joinpath("leaflet.js").read_text(encoding="utf-8")
    css = static.joinpath("leaflet.css").read_text(encoding="utf-8")
    app = static.joinpath("covmap.js").read_text(encoding="utf-8")
    # None of the files contains these today; keep it that way if they change.
    return js.replace("</", "<\\/"), css.replace("</", "<\\/"), app.replace("</", "<\\/")


def _iter_elements(root: Element) -> Any:
    """Yield ``root`` and every element below it (children, and Figure/Popup parts)."""
    from branca.element import Element

    stack = [root]
    seen: set[int] = set()
    while stack:
        el = stack.pop()
        if id(el) in seen:
            continue
        seen.add(id(el))
        yield el
        stack.extend(getattr(el, "_children", {}).values())
        for part in ("header", "html", "script"):
            sub = getattr(el, part, None)
            if isinstance(sub, Element):
                stack.append(sub)


def _make_offline(m: Element) -> None:
    """Drop folium's CDN links from ``m``'s tree and make sure Leaflet is inlined once."""
    import folium

    root = m.get_root()
    dropped: list[str] = []
    maps: list[folium.Map] = []
    has_inline = False
    for el in _iter_elements(root):
        for attr in ("default_js", "default_css"):
            links = getattr(el, attr, None)
            if links:
                if not isinstance(el, folium.Map):  # a Map's stock CDN list is expected
                    dropped.extend(name for name, _ in links)
                # An instance attribute: folium's class-level lists stay untouched.
                setattr(el, attr, [])
        if isinstance(el, folium.Map):
            maps.append(el)
        has_inline = has_inline or isinstance(el, _elements().InlineLeaflet)
    if dropped:
        logger.warning(
            "map: dropped external assets %s (the saved map must work offline)",
            sorted(set(dropped)),
        )
    if not has_inline:
        target = m if isinstance(m, folium.Map) else (maps[0] if maps else None)
        if target is None:
            raise InputValidationError("save_map: no folium.Map found in the element tree")
        # Inserted first so Leaflet is loaded before anything that might use it.
        target.add_child(_elements().InlineLeaflet(), index=0)


_EXTERNAL_TAG = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script\s*>"
    r"|<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>",
    flags=re.IGNORECASE,
)


def _strip_external_tags(text: str) -> str:
    """Remove any ``<script src=http...>`` / ``<link href=http...>`` left in ``text``."""

    def _drop(match: re.Match[str]) -> str:
        logger.warning("map: removed external asset tag %s", match.group(0)[:120])
        return ""

    return _EXTERNAL_TAG.sub(_drop, text)


# --------------------------------------------------------------------------------------
# Column helpers (duck-typed plan)
# --------------------------------------------------------------------------------------


def _has(df: pd.DataFrame, name: str) -> bool:
    return name in df.columns or df.index.name == name


def _series(df: pd.DataFrame, name: str) -> pd.Series:
    """Column ``name``, or the index when it carries that name."""
    if name in df.columns:
        return df[name]
    if df.index.name == name:
        return pd.Series(df.index, index=df.index, name=name)
    raise KeyError(name)


def _float(df: pd.DataFrame, name: str, default: float = math.nan) -> npt.NDArray[np.float64]:
    if not _has(df, name):
        return np.full(len(df), default, dtype=np.float64)
    return pd.to_numeric(_series(df, name), errors="coerce").to_numpy(dtype=np.float64)


def _bool(df: pd.DataFrame, name: str, default: bool) -> npt.NDArray[np.bool_]:
    if not _has(df, name):
        return np.full(len(df), default, dtype=bool)
    s = _series(df, name)
    if s.dtype == bool:
        return s.to_numpy()
    return s.astype("boolean").fillna(default).to_numpy(dtype=bool)


def _ids(df: pd.DataFrame, name: str) -> pd.Series:
    """String ids (missing stay missing), positionally indexed.

    Integer ids that became floats because of missing values (``3.0``) read as ``"3"``.
    """
    if not _has(df, name):
        return pd.Series([None] * len(df), dtype=object)
    s = _series(df, name).reset_index(drop=True)
    if pd.api.types.is_float_dtype(s.dtype):
        finite = s.dropna()
        if (finite == np.round(finite)).all():
            s = s.astype("Int64")
    s = s.astype(object)
    present = s.notna()
    out = pd.Series([None] * len(s), dtype=object)
    out[present] = s[present].astype(str)
    return out


def _latlon(df: pd.DataFrame) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Latitude and longitude in degrees, from ``lat``/``lon`` or a point ``geometry``."""
    if _has(df, "lat") and _has(df, "lon"):
        return _float(df, "lat"), _float(df, "lon")
    geom = df["geometry"]  # x=lon, y=lat (shapely order)
    return (
        np.asarray(geom.y, dtype=np.float64),
        np.asarray(geom.x, dtype=np.float64),
    )


def _escape_all(values: pd.Series) -> list[str]:
    return [html.escape(v) for v in values.fillna("").astype(str)]


def _js_json(obj: Any) -> str:
    """JSON for inclusion in a ``<script>`` element (no ``<``/``>`` can end it early)."""
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


def _finite_or(value: Any, default: float) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


def _ms(values: npt.NDArray[np.float64]) -> list[float]:
    """Latencies rounded to 0.1 ms; missing as -1."""
    return np.where(np.isfinite(values), np.round(values, 1), -1.0).tolist()


#: Counts at or above this are shown in scientific notation (and sent as floats).
_BIG_COUNT = 1e15


def _fmt_int(value: Any) -> str:
    """A count (people, points) for display: ``1,234``, ``1.000e+300``, or ``n/a``."""
    x = _finite_or(value, math.nan)
    if math.isnan(x):
        return "n/a"
    return f"{x:.3e}" if abs(x) >= _BIG_COUNT else f"{x:,.0f}"


def _fmt_ms(value: Any) -> str:
    x = _finite_or(value, math.nan)
    return "n/a" if math.isnan(x) else f"{x:,.1f} ms"


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


# --------------------------------------------------------------------------------------
# Payload
# --------------------------------------------------------------------------------------


def _status_codes(demand: pd.DataFrame) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Coverage status codes (redundant 0, single 1, uncoverable 2, others after)."""
    if not _has(demand, "coverage_status"):
        return np.zeros(len(demand), dtype=np.int64), list(_STATUS_ORDER)
    codes, uniques = pd.factorize(_series(demand, "coverage_status"), use_na_sentinel=True)
    found = ["unknown" if u is None else str(u) for u in uniques]
    if (codes < 0).any():
        found.append("unknown")
    names = list(_STATUS_ORDER) + sorted(set(found) - set(_STATUS_ORDER))
    table = np.array([names.index(f) for f in found], dtype=np.int64)
    return table[np.where(codes < 0, len(found) - 1, codes)], names


def _site_codes(
    demand: pd.DataFrame, column: str, site_index: dict[str, int], labels: list[str]
) -> npt.NDArray[np.int64]:
    """Position of each row's site id (``column``) in ``labels``; -1 when missing.

    The column is factorised first, so only its distinct ids are looked at in Python. Ids
    that are not chosen sites get a bare (escaped) label appended to ``labels``.
    """
    if not _has(demand, column):
        return np.full(len(demand), -1, dtype=np.int64)
    codes, uniques = pd.factorize(_series(demand, column), use_na_sentinel=True)
    ids = _ids(pd.DataFrame({column: np.asarray(uniques)}), column)
    table = np.full(len(ids) + 1, -1, dtype=np.int64)  # last slot: missing
    for k, sid in enumerate(ids):
        if sid is None:
            continue
        if sid not in site_index:
            site_index[sid] = len(labels)
            labels.append(html.escape(sid))
        table[k] = site_index[sid]
    return table[np.where(codes < 0, len(ids), codes)]


def _point_table(
    plan: Any, demand: pd.DataFrame, site_index: dict[str, int], labels: list[str]
) -> dict[str, Any]:
    """Per demand point arrays (numpy, no Python loop over points)."""
    lat, lon = _latlon(demand)
    pop = np.clip(np.nan_to_num(_float(demand, "population"), nan=0.0), 0.0, None)
    st, status_names = _status_codes(demand)
    gap = (is_gap(demand) if _has(demand, "coverage_status")
           else np.zeros(len(demand), dtype=bool))
    p = _site_codes(demand, "primary_site_id", site_index, labels)
    b = _site_codes(demand, "backup_site_id", site_index, labels)
    n1s_col = _site_codes(demand, "n1_site_id", site_index, labels)
    pl = _float(demand, "primary_latency_ms")
    n1 = _float(demand, "n1_latency_ms")
    has_primary = p >= 0
    if _has(demand, "n1_site_id"):
        n1s = n1s_col
    else:  # without the column, the backup is where a point goes when its primary fails
        n1s = np.where(np.isfinite(n1), b, -1)
    n1_ok = _bool(demand, "n1_within_budget", True)
    model = getattr(plan, "model", None)
    percentile = str(getattr(plan, "percentile", "p99"))
    ms_per_km = _finite_or(getattr(model, "ms_per_km", None), math.nan)
    access = (
        _series(demand, "access").astype(str).to_numpy()
        if _has(demand, "access")
        else np.full(len(demand), "", dtype=object)
    )
    ac, access_names = pd.factorize(pd.Series(access), sort=True)
    if _has(demand, "primary_distance_km") and math.isfinite(ms_per_km):
        prop = ms_per_km * _float(demand, "primary_distance_km")
    elif model is not None and _has(demand, "access"):
        try:
            prop = pl - model.fixed_ms_array(access, percentile)
        except Exception:  # an unknown access class: no waterfall
            prop = np.full(len(demand), math.nan)
    else:
        prop = np.full(len(demand), math.nan)
    return {
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
        "bl": np.where(b >= 0, _float(demand, "backup_latency_ms"), np.nan),
        "n1": np.where(has_primary, n1, np.nan),
        "out": pop * (has_primary & ~n1_ok),
        "ac": ac.astype(np.int64),
        "access_names": [str(a) for a in access_names],
        "pd": np.where(has_primary, prop, np.nan),
        "nc": np.nan_to_num(_float(demand, "n_covering_sites"), nan=-1).astype(np.int64),
    }


def _units_points(t: dict[str, Any], keep: npt.NDArray[np.intp], demand: pd.DataFrame):
    """One unit per demand point (``keep`` in drawing order) and one failure record each."""
    d = demand.iloc[keep]
    if _has(d, "name"):
        names = _escape_all(_series(d, "name").reset_index(drop=True))
    elif _has(d, "demand_id"):
        names = _escape_all(_series(d, "demand_id").reset_index(drop=True))
    else:
        names = [html.escape(str(v)) for v in d.index]
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
    return units, {
        "unit": rec[has],
        "site": t["p"][keep][has],
        "to": t["n1s"][keep][has],
        "pop": t["pop"][keep][has],
        "lat": t["n1"][keep][has],
        "out": t["out"][keep][has],
        "n": None,
    }


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


def _units_h3(t: dict[str, Any], ok: npt.NDArray[np.bool_], res: int, proj: Any):
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
    return units, recs, hex_deg


def _failure_payload(recs: dict[str, Any], n_sites: int) -> dict[str, Any]:
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
    return out


def _site_labels(site_ids: pd.Series, names: pd.Series) -> tuple[list[str], dict[str, int]]:
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


def _site_payload(
    sites: pd.DataFrame,
    failures: pd.DataFrame | None,
    tiers: list[str],
    tier_colors: Mapping[str, str],
    radius_km: float,
) -> dict[str, Any]:
    """Per-site data with ready-made, escaped popup HTML (sites are few)."""
    lat, lon = _latlon(sites)
    ids = _ids(sites, "site_id")
    names = _ids(sites, "name") if _has(sites, "name") else ids
    tier = _ids(sites, "tier").fillna("")
    required = _bool(sites, "required", False)
    pop_p = _float(sites, "population_primary")
    pop_b = _float(sites, "population_backup")
    n_dem = _float(sites, "n_demand_primary")
    rkm = _float(sites, "radius_km", radius_km)
    rkm = np.where(np.isfinite(rkm), rkm, radius_km)

    fail: dict[str, tuple[float, float, float, float]] = {}
    if isinstance(failures, pd.DataFrame) and _has(failures, "failed_site_id"):
        for fid, rr, out, worst, mean in zip(
            _ids(failures, "failed_site_id"),
            _float(failures, "population_rerouted"),
            _float(failures, "population_outside_budget"),
            _float(failures, "worst_latency_ms"),
            _float(failures, "mean_rerouted_latency_ms"),
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
            ("Population served (primary)", _fmt_int(pop_p[k])),
            ("Demand points (primary)", _fmt_int(n_dem[k])),
            ("Population backed up", _fmt_int(pop_b[k])),
            ("Budget radius", f"{rkm[k]:,.0f} km" if math.isfinite(rkm[k]) else "n/a"),
        ]
        if sid in fail:
            rr, out, worst, mean = fail[sid]
            rows += [
                ("If this site fails: re-routed", _fmt_int(rr)),
                ("&hellip; outside budget", _fmt_int(out)),
                ("&hellip; worst latency", _fmt_ms(worst)),
                ("&hellip; mean latency", _fmt_ms(mean)),
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


def _proposed_payload(proposed: Any) -> dict[str, Any]:
    empty: dict[str, Any] = {"lat": [], "lon": [], "popup": [], "tip": []}
    if not isinstance(proposed, pd.DataFrame) or not len(proposed):
        return empty
    if not (_has(proposed, "lat") and _has(proposed, "lon")):
        return empty
    lat, lon = _latlon(proposed)
    ok = np.isfinite(lat) & np.isfinite(lon)
    prop = proposed.loc[ok]
    ids = _ids(prop, "proposed_site_id")
    n_gain = _float(prop, "n_demand_gained")
    pop_gain = _float(prop, "population_gained")
    popups, tips = [], []
    for k in range(len(prop)):
        pid = html.escape(ids[k] or f"proposed {k + 1}")
        rows = [
            ("Demand points gained", _fmt_int(n_gain[k])),
            ("Population gained", _fmt_int(pop_gain[k])),
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


def _areas_payload(
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


def _waterfall_table(
    plan: Any, access_names: Sequence[str], percentile: str
) -> list[dict[str, Any]] | None:
    """Fixed latency components per access class, for the popups' waterfall."""
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
                if p50 > 0 or name != "wifi"
            ]
            parts.append(["router hops", round(float(model.hops * model.per_hop_ms), 2)])
            if percentile == "p99":
                tail = math.sqrt(sum((p99 - p50) ** 2 for p50, p99 in comps.values()))
                parts.append(["p99 tail (root sum of squares)", round(tail, 2)])
            table.append({"parts": parts})
    except Exception as exc:  # an access class the model does not know
        logger.info("map: no latency waterfall (%s)", exc)
        return None
    return table


# --------------------------------------------------------------------------------------
# Map elements
# --------------------------------------------------------------------------------------


_CSS = """
.covmap-legend {
    position: fixed; left: 10px; bottom: 30px; z-index: 1000; max-width: 360px;
    max-height: calc(100% - 160px); overflow-y: auto;
    background: rgba(255, 255, 255, 0.94); border-radius: 6px; padding: 8px 10px;
    box-shadow: 0 1px 5px rgba(0, 0, 0, 0.35);
    font: 12px/1.35 "Helvetica Neue", Arial, Helvetica, sans-serif; color: #222;
}
.covmap-legend summary { font-weight: bold; font-size: 13px; cursor: pointer; }
.covmap-legend table, .covmap-popup table, .covmap-explorer table {
    border-collapse: collapse; margin: 4px 0;
}
.covmap-legend th, .covmap-popup th, .covmap-explorer th {
    text-align: left; font-weight: normal; color: #555; padding: 1px 8px 1px 0;
    vertical-align: top;
}
.covmap-legend td { text-align: right; padding: 1px 0; white-space: nowrap; }
.covmap-popup td, .covmap-explorer td { text-align: left; padding: 1px 0; }
.covmap-popup .covmap-wf td { text-align: right; }
.covmap-h { font-weight: bold; margin-top: 6px; }
.covmap-note { color: #666; margin-top: 4px; }
.covmap-legend .covmap-key { display: flex; align-items: center; margin: 2px 0; }
.covmap-legend .covmap-dot {
    display: inline-block; width: 12px; height: 12px; border-radius: 50%;
    margin-right: 6px; box-sizing: border-box; flex: none;
}
.covmap-legend .covmap-sq { border-radius: 2px; }
.covmap-legend .covmap-ramp { height: 10px; border-radius: 2px; margin: 3px 0 1px; }
.covmap-legend .covmap-ticks { display: flex; justify-content: space-between; color: #555; }
.covmap-site span {
    display: block; width: 14px; height: 14px; border-radius: 50%;
    border: 2px solid #fff; box-shadow: 0 0 0 1.5px #111, 0 1px 3px rgba(0, 0, 0, 0.5);
}
.covmap-site-existing span { border-radius: 2px; border-color: #000; }
.covmap-proposed span {
    display: block; width: 12px; height: 12px; margin: 2px; transform: rotate(45deg);
    background: #fff; border: 2.5px dashed #d7301f; box-sizing: border-box;
}
.covmap-explorer {
    background: rgba(255, 255, 255, 0.95); padding: 6px 8px; max-width: 320px;
    font: 12px/1.35 "Helvetica Neue", Arial, Helvetica, sans-serif; color: #222;
}
.covmap-explorer-head { font-weight: bold; margin-bottom: 3px; }
.covmap-explorer select { max-width: 300px; }
.covmap-fail-title { font-weight: bold; margin-top: 5px; color: #b10026; }
.covmap-fail-btn { margin-top: 4px; cursor: pointer; }
"""


@lru_cache(maxsize=1)
def _elements() -> SimpleNamespace:
    """The map element classes, defined on first use so importing this module stays light."""
    from branca.element import MacroElement
    from folium.map import FeatureGroup
    from folium.template import Template

    class InlineLeaflet(MacroElement):
        """Leaflet's CSS and JS and the plan map script, inlined in the document head."""

        _template = Template(
            """
            {% macro header(this, kwargs) %}
            <style>{{ this.css }}</style>
            <script>{{ this.js }}</script>
            <script>{{ this.app }}</script>
            {% endmacro %}
            """
        )

        def __init__(self) -> None:
            super().__init__()
            self._name = "InlineLeaflet"
            self.js, self.css, self.app = _static_assets()

    class PlanData(MacroElement):
        """The plan payload, handed to ``covmap`` together with the map."""

        _template = Template(
            """
            {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = covmap({{ this.payload }}, {{ this._parent.get_name() }});
            {% endmacro %}
            """
        )

        def __init__(self, payload: dict[str, Any]):
            super().__init__()
            self._name = "CoveragePlanData"
            self.payload = _js_json(payload)

    class PlanLayer(FeatureGroup):
        """A layer-control overlay that ``covmap`` fills when it is first shown."""

        _template = Template(
            """
            {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.featureGroup();
            {{ this.data.get_name() }}.layer({{ this.get_name() }}, {{ this.kind_json }},
                {{ this.arg_json }});
            {% endmacro %}
            """
        )

        def __init__(self, data: PlanData, name: str, kind: str, arg: Any = None,
                     show: bool = True):
            super().__init__(name=name, overlay=True, control=True, show=show)
            self._name = "CoverageLayer"
            self.data = data
            self.kind = kind
            self.kind_json = _js_json(kind)
            self.arg_json = _js_json(arg)

    class Legend(MacroElement):
        """Fixed-position legend box (headline numbers and colour keys) plus map styling."""

        _template = Template(
            """
            {% macro header(this, kwargs) %}
            <style>
            #{{ this._parent.get_name() }}.leaflet-container { background: {{ this.background }}; }
            {{ this.css }}
            </style>
            {% endmacro %}

            {% macro html(this, kwargs) %}
            <div class="covmap-legend"><details open>{{ this.body }}</details></div>
            {% endmacro %}
            """
        )

        def __init__(self, body: str, background: str = MAP_BACKGROUND):
            super().__init__()
            self._name = "CoverageLegend"
            self.body = body
            self.background = background
            self.css = _CSS

    return SimpleNamespace(
        InlineLeaflet=InlineLeaflet, PlanData=PlanData, PlanLayer=PlanLayer, Legend=Legend
    )


def _dot(color: str, *, square: bool = False, ring: bool = False) -> str:
    cls = "covmap-dot covmap-sq" if square else "covmap-dot"
    style = f"border:2.5px solid {color}" if ring else f"background:{color};border:1.5px solid #222"
    return f"<span class='{cls}' style='{style}'></span>"


def _legend_html(
    summary: Mapping[str, Any],
    plan: Any,
    *,
    budget_ms: float,
    vmin_ms: float,
    radius_km: float,
    percentile: str,
    ramp: Sequence[str],
    caption: str,
    tier_colors: Mapping[str, str],
    has_required: bool,
    status_pop: Sequence[tuple[str, str, float]],
    outside_pop: float,
    n_proposed: int,
    aggregation: str | None,
) -> str:
    """The legend's inner HTML; every plan-provided string is escaped here."""
    total = _finite_or(summary.get("population_total"), math.nan)
    covered = _finite_or(summary.get("population_covered"), math.nan)
    share = f" ({100 * covered / total:.1f}%)" if total > 0 and not math.isnan(covered) else ""
    k = int(_finite_or(getattr(plan, "failures_tolerated", 1), 1))
    rows = [
        ("Sites", _fmt_int(summary.get("site_count"))),
        ("Budget", f"{budget_ms:g} ms ({html.escape(percentile)})"),
        ("Budget radius", f"{radius_km:,.1f} km" if math.isfinite(radius_km) else "n/a"),
        ("Population covered", f"{_fmt_int(covered)} of {_fmt_int(total)}{share}"),
    ]
    # who is short of the k + 1 sites: with k = 1 that is single-coverable plus uncoverable
    if k >= 2 and "population_gap" in summary:
        rows += [(f"Short of {k + 1} sites (gaps)", _fmt_int(summary.get("population_gap"))),
                 (f"&hellip; partial (2-{k} sites)", _fmt_int(summary.get("population_partial")))]
    if k >= 1:
        rows.append(("&hellip; single-coverable" if k >= 2 else "Single-coverable",
                     _fmt_int(summary.get("population_single_coverable"))))
    rows += [
        ("&hellip; uncoverable" if k >= 2 else "Uncoverable",
         _fmt_int(summary.get("population_uncoverable"))),
        ("N-1: outside budget", _fmt_int(summary.get("n1_population_outside_budget"))),
        ("Mean primary latency (p50)", _fmt_ms(summary.get("mean_latency_ms"))),
        ("N-1: worst latency", _fmt_ms(summary.get("n1_worst_latency_ms"))),
    ]
    if "status" in summary:
        rows.append(("Solver status", html.escape(str(summary.get("status")))))
    if k != 1:
        rows.append(("Failures tolerated (k)", str(k)))
    table = "".join(f"<tr><th>{a}</th><td>{b}</td></tr>" for a, b in rows)
    stops = ", ".join(ramp)
    parts = [
        "<summary>Edge coverage plan</summary>",
        f"<table>{table}</table>",
        f"<div class='covmap-h'>{html.escape(caption)}</div>",
        f"<div class='covmap-ramp' style='background: linear-gradient(to right, {stops});'></div>",
        "<div class='covmap-ticks'>"
        f"<span>{vmin_ms:g}</span><span>{(vmin_ms + budget_ms) / 2:g}</span>"
        f"<span>{budget_ms:g} ms</span></div>",
        f"<div class='covmap-key'>{_dot(OVER_BUDGET_COLOR)}over budget (N-1 layer, failures)"
        "</div>",
        f"<div class='covmap-key'>{_dot(MISSING_COLOR)}no site within budget</div>",
    ]
    if aggregation is None:
        parts.append("<div class='covmap-note'>Circle area &prop; population.</div>")
    parts.append("<div class='covmap-h'>Coverage status (people)</div>")
    for label, color, pop in status_pop:
        parts.append(f"<div class='covmap-key'>{_dot(color)}{label}: {_fmt_int(pop)}</div>")
    parts.append(
        f"<div class='covmap-key'>{_dot(OUTSIDE_COLOR, ring=True)}outside budget under a "
        f"failure: {_fmt_int(outside_pop)}</div>"
    )
    if tier_colors:
        parts.append("<div class='covmap-h'>Sites by tier</div>")
        for tier, color in tier_colors.items():
            parts.append(
                f"<div class='covmap-key'>{_dot(color)}{html.escape(tier) or '(no tier)'}</div>"
            )
        parts.append(f"<div class='covmap-key'>{_dot('#ffffff')}new site</div>")
        if has_required:
            parts.append(
                f"<div class='covmap-key'>{_dot('#ffffff', square=True)}existing (required) "
                "site</div>"
            )
    if n_proposed:
        parts.append(
            "<div class='covmap-key'><span class='covmap-dot covmap-sq' style='border:2.5px "
            f"dashed #d7301f;transform:rotate(45deg)'></span>proposed new site ({n_proposed:,})"
            "</div>"
        )
    if aggregation:
        parts.append(f"<div class='covmap-note'>{aggregation}</div>")
    parts.append(
        "<div class='covmap-note'>Failure explorer (top right): pick a site to see who is "
        "re-routed where. Click demand for its numbers.</div>"
    )
    return "".join(parts)


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def _validate(
    plan: Any, tiles: str | None, aggregate: str, max_points: Any, h3_resolution: Any
) -> str | None:
    """Collect every problem with the inputs, then raise one error."""
    problems: list[str] = []
    for attr in ("sites", "demand"):
        df = getattr(plan, attr, None)
        if not isinstance(df, pd.DataFrame):
            problems.append(f"plan.{attr} must be a DataFrame, got {type(df).__name__}")
            continue
        if not ((_has(df, "lat") and _has(df, "lon")) or "geometry" in df.columns):
            problems.append(f"plan.{attr} needs 'lat' and 'lon' columns (degrees)")
    sites = getattr(plan, "sites", None)
    if isinstance(sites, pd.DataFrame) and not _has(sites, "site_id"):
        problems.append("plan.sites needs a 'site_id' column")
    if not hasattr(plan, "summary"):
        problems.append("plan has no summary() method")
    tile_key = None if tiles is None else str(tiles).strip().lower()
    if tile_key in ("openstreetmap", "osm"):
        tile_key = "osm"
    elif tile_key not in (None, "none"):
        problems.append(f"tiles must be 'osm' or None, got {tiles!r}")
    if aggregate not in ("auto", "h3", "none"):
        problems.append(f"aggregate must be 'auto', 'h3' or 'none', got {aggregate!r}")
    if (
        isinstance(max_points, bool)
        or not isinstance(max_points, int | np.integer)
        or max_points < 1
    ):
        problems.append(f"max_points must be a positive int, got {max_points!r}")
    if h3_resolution is not None and (
        isinstance(h3_resolution, bool)
        or not isinstance(h3_resolution, int | np.integer)
        or not 0 <= h3_resolution <= H3_MAX_RES
    ):
        problems.append(f"h3_resolution must be an int in 0..{H3_MAX_RES}, got {h3_resolution!r}")
    if problems:
        raise InputValidationError("plan_map: " + "; ".join(problems))
    return "osm" if tile_key == "osm" else None


def layer_names(m: folium.Map) -> list[str]:
    """Names of the overlays of ``m`` as the layer control lists them (HTML-escaped).

    Parameters
    ----------
    m : folium.Map
        A map from :func:`plan_map`.

    Returns
    -------
    list of str
    """
    import folium

    return [
        child.layer_name
        for child in m._children.values()
        if isinstance(child, folium.map.Layer) and child.control and child.overlay
    ]


def plan_map(
    plan: Any,
    m: folium.Map | None = None,
    *,
    tiles: str | None = "osm",
    aggregate: str = "auto",
    max_points: int = MAX_POINTS,
    h3_resolution: int | None = None,
) -> folium.Map:
    """Draw a coverage plan as an offline-capable Folium map.

    Parameters
    ----------
    plan : Plan
        A plan result (duck-typed): ``sites`` and ``demand`` DataFrames with ``lat``/``lon``
        in degrees, ``failures`` (one row per chosen site, optional), ``proposed`` (optional),
        ``model`` (a :class:`~coverage.model.latency.LatencyModel`, optional: the popups' latency
        waterfall), ``budget_ms``, ``percentile`` (``"p99"`` or ``"p50"``), ``radius_km``
        (the largest budget radius over the access classes present), ``failures_tolerated``
        and a
        ``summary()`` returning a mapping with the headline numbers.
    m : folium.Map, optional
        Existing map to draw on (its tiles are kept and ``tiles`` is ignored). It is switched
        to the canvas renderer and its CDN assets are replaced by inlined Leaflet. By default
        a new map is created.
    tiles : {"osm", None}, default "osm"
        ``"osm"`` adds an OpenStreetMap tile layer (the only part that needs the network: it
        stays blank offline). ``None`` or ``"none"``: no tiles, plain light background.
    aggregate : {"auto", "h3", "none"}, default "auto"
        ``"auto"``: demand points are drawn one by one up to ``max_points`` and aggregated
        to H3 hexagons above; ``"h3"``: always hexagons; ``"none"``: always points (slow in
        the browser beyond ~50,000).
    max_points : int, default 20_000
        Largest number of demand points drawn individually with ``aggregate="auto"``.
    h3_resolution : int, optional
        H3 resolution of the hexagons (0-10). Default: the finest with at most 30,000
        occupied hexagons and on average at least 4 points per hexagon
        (:func:`choose_h3_resolution`).

    Returns
    -------
    folium.Map
        The map. Overlays (see :func:`layer_names`): "Demand: primary latency", "Demand:
        coverage status", "Demand: N-1 worst-case latency", "Outside budget under a failure",
        "Coverage gaps" (when there are any), one "Sites: <tier>" per tier, "Budget radius",
        "Service areas (primary)", "Proposed new sites" (when there are any) and "Failure
        explorer"; a failure-explorer control, a layer control and a legend box.

    Raises
    ------
    InputValidationError
        If the plan lacks the needed tables or columns, or an option is invalid.

    See Also
    --------
    save_map : Write the map as one self-contained HTML file.
    h3_bins : The vectorised point-to-hexagon assignment.

    Notes
    -----
    Shown at start: primary latency, the sites, users outside budget under a failure and
    proposed sites; the rest is drawn by the browser when first ticked. Demand points are
    embedded once as column-wise JSON (coordinates to 5 decimals, about 1 m; latencies to
    0.1 ms), about 90 bytes per point, and drawn on a canvas. Marker radius is proportional
    to the square root of population, scaled so the 99th-percentile population gets 12 px,
    clipped to 2-12 px. Hexagons carry the population-weighted mean primary latency, the
    worst status and N-1 latency of their points and the population outside budget; the
    failure explorer keeps one record per (hexagon, primary site), so its totals are exact.
    The colour scale runs from the lowest primary latency (floored to whole ms) to the
    budget, because access and inference put a floor under every latency. Service areas
    are convex hulls in longitude/latitude (not meaningful across the antimeridian). All
    strings taken from the plan are HTML-escaped, layer names included.

    Examples
    --------
    >>> m = plan_map(plan, tiles=None)  # doctest: +SKIP
    >>> save_map(m, "out/map.html")  # doctest: +SKIP
    PosixPath('out/map.html')
    """
    import folium
    from branca.colormap import LinearColormap

    t0 = time.perf_counter()
    tile_key = _validate(plan, tiles, aggregate, max_points, h3_resolution)
    sites: pd.DataFrame = plan.sites
    demand: pd.DataFrame = plan.demand
    failures = getattr(plan, "failures", None)
    summary_raw = plan.summary()
    summary: Mapping[str, Any] = (
        summary_raw.to_dict() if isinstance(summary_raw, pd.Series) else dict(summary_raw)
    )
    percentile = str(getattr(plan, "percentile", "p99"))
    primary_ms = _float(demand, "primary_latency_ms")
    budget_ms = _finite_or(getattr(plan, "budget_ms", None), math.nan)
    if not budget_ms > 0:
        finite = primary_ms[np.isfinite(primary_ms)]
        budget_ms = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        logger.warning("map: plan has no usable budget_ms; colour scale ends at %g ms", budget_ms)
    radius_km = _finite_or(getattr(plan, "radius_km", None), math.nan)

    # ---- sites (rows without coordinates are not drawn)
    site_lat, site_lon = _latlon(sites)
    located = np.isfinite(site_lat) & np.isfinite(site_lon)
    if not located.all():
        logger.warning("map: %d chosen sites have no coordinates; not drawn", int((~located).sum()))
        sites = sites.loc[located]
        site_lat, site_lon = site_lat[located], site_lon[located]
    n_sites = len(sites)
    site_ids = _ids(sites, "site_id")
    labels, site_index = _site_labels(site_ids, _ids(sites, "name") if _has(sites, "name")
                                      else site_ids)
    tiers = sorted(set(_ids(sites, "tier").fillna("")))
    tier_colors = {t: TIER_COLORS[i % len(TIER_COLORS)] for i, t in enumerate(tiers)}

    # ---- demand
    table = _point_table(plan, demand, site_index, labels)
    n_total = len(demand)
    located_d = np.isfinite(table["lat"]) & np.isfinite(table["lon"])
    if not located_d.all():
        logger.warning("map: %d demand points have no coordinates; not drawn",
                       int((~located_d).sum()))
    use_h3 = aggregate == "h3" or (aggregate == "auto" and int(located_d.sum()) > max_points)
    aggregation_note: str | None = None
    hex_deg = 0.0
    if use_h3:
        import h3

        lat_ok, lon_ok = table["lat"][located_d], table["lon"][located_d]
        if h3_resolution is None:
            # At most 30,000 hexagons, and on average at least 4 points in each.
            limit = min(MAX_HEXAGONS, max(1, len(lat_ok) // 4))
            res, proj = choose_resolution_projected(lat_ok, lon_ok, limit)
        else:
            res, proj = int(h3_resolution), None
        units, recs, hex_deg = _units_h3(table, located_d, res, proj)
        n_units = len(units["pop"])
        area = h3.average_hexagon_area(res, unit="km^2")
        aggregation_note = (
            f"{int(located_d.sum()):,} demand points aggregated to {n_units:,} H3 hexagons "
            f"(resolution {res}, about {area:,.1f} km&sup2; each); a hexagon shows its worst "
            "status and N-1 latency and its mean primary latency."
        )
        logger.info("map: %s demand points -> %s H3 cells at resolution %d",
                    f"{int(located_d.sum()):,}", f"{n_units:,}", res)
    else:
        # Largest population first, so small points are drawn on top.
        keep = np.argsort(-table["pop"], kind="stable")
        keep = keep[located_d[keep]]
        units, recs = _units_points(table, keep, demand)
        res = None
    failure_payload = _failure_payload(recs, n_sites)

    pop_all = table["pop"]
    positive = pop_all[pop_all > 0]
    ref = float(np.quantile(positive, 0.99)) if positive.size else 1.0
    radius_scale = DEMAND_RADIUS_MAX_PX / math.sqrt(max(ref, 1e-9))

    # The scale starts at the lowest primary latency (whole ms): access and inference put a
    # floor under every latency (often most of the budget), and 0..floor would stay unused.
    finite = primary_ms[np.isfinite(primary_ms)]
    vmin_ms = float(math.floor(finite.min())) if finite.size else 0.0
    if not 0.0 <= vmin_ms < budget_ms:
        vmin_ms = 0.0
    caption = f"{percentile} latency to primary site (ms), budget {budget_ms:g} ms"
    cmap = LinearColormap(list(LATENCY_COLORS), vmin=vmin_ms, vmax=budget_ms, caption=caption)
    palette = [cmap.rgb_hex_str(v) for v in np.linspace(vmin_ms, budget_ms, _PALETTE_SIZE)]
    status_names = table["status_names"]
    status_colors = [
        STATUS_COLORS[k] if k < len(STATUS_COLORS) else MISSING_COLOR
        for k in range(len(status_names))
    ]
    model = getattr(plan, "model", None)
    k_failures = max(int(_finite_or(getattr(plan, "failures_tolerated", 1), 1)), 0)
    config = {
        "mode": "h3" if use_h3 else "points",
        "h3Resolution": res,
        "hexDeg": hex_deg,
        "budget": budget_ms,
        "vmin": vmin_ms,
        "palette": palette,
        "overColor": OVER_BUDGET_COLOR,
        "missingColor": MISSING_COLOR,
        "outsideColor": OUTSIDE_COLOR,
        "rerouteColor": REROUTE_COLOR,
        "statusNames": [html.escape(status_label(s, k_failures)) for s in status_names],
        "statusColors": status_colors,
        "uncoverableCode": _STATUS_ORDER.index("uncoverable"),
        "siteLabels": labels,
        "rMin": DEMAND_RADIUS_MIN_PX,
        "rMax": DEMAND_RADIUS_MAX_PX,
        "rScale": radius_scale,
        "pct": html.escape(percentile),
        "msPerKm": _finite_or(getattr(model, "ms_per_km", None), 1.0),
        "waterfall": _waterfall_table(plan, table["access_names"], percentile),
    }
    proposed = _proposed_payload(getattr(plan, "proposed", None))
    areas = _areas_payload(table["lat"], table["lon"], table["p"], n_sites)
    payload = {
        "units": units,
        "failures": failure_payload,
        "sites": _site_payload(sites, failures, tiers, tier_colors, radius_km),
        "proposed": proposed,
        "areas": areas,
        "config": config,
    }

    # ---- the map
    lat_fit = np.r_[table["lat"][located_d], site_lat]
    lon_fit = np.r_[table["lon"][located_d], site_lon]
    if m is None:
        center = [float(np.mean(lat_fit)), float(np.mean(lon_fit))] if len(lat_fit) else None
        m = folium.Map(
            location=center,
            tiles=None,
            prefer_canvas=True,
            control_scale=True,
            zoom_start=6,
        )
        if tile_key == "osm":
            folium.TileLayer("OpenStreetMap", name="OpenStreetMap", control=False).add_to(m)
    else:
        m.options["prefer_canvas"] = True
    _make_offline(m)
    # covmap.js fits the view to these bounds before anything is drawn, without animation
    # (an animated zoom would re-project every shape, and overrides a view set meanwhile).
    if len(lat_fit):
        config["bounds"] = [
            [float(np.min(lat_fit)), float(np.min(lon_fit))],
            [float(np.max(lat_fit)), float(np.max(lon_fit))],
        ]

    el = _elements()
    data = el.PlanData(payload).add_to(m)
    gap_units = np.asarray(units["gap"])
    out_units = np.asarray(units["out"])
    specs: list[tuple[str, str, Any, bool]] = [
        (LAYER_DEMAND, "latency", None, True),
        (LAYER_STATUS, "status", None, False),
        (LAYER_N1, "n1", None, False),
    ]
    if (out_units > 0).any():
        specs.append((LAYER_OUTSIDE, "outside", None, True))
    if (gap_units > 0).any():
        specs.append((LAYER_GAPS, "gaps", None, False))
    for k, tier in enumerate(tiers):
        name = f"{LAYER_SITES}: {html.escape(tier)}" if tier else LAYER_SITES
        specs.append((name, "sites", k, True))
    if any(r > 0 for r in payload["sites"]["rkm"]):
        specs.append((LAYER_RADIUS, "radius", None, False))
    if areas["site"]:
        specs.append((LAYER_AREAS, "areas", None, False))
    if proposed["lat"]:
        specs.append((LAYER_PROPOSED, "proposed", None, True))
    if n_sites:
        specs.append((LAYER_FAILURE, "failure", None, False))
    for name, kind, arg, show in specs:
        el.PlanLayer(data, name, kind, arg, show=show).add_to(m)

    pop_by_status = np.bincount(table["st"], weights=pop_all, minlength=len(status_names))
    legend = _legend_html(
        summary,
        plan,
        budget_ms=budget_ms,
        vmin_ms=vmin_ms,
        radius_km=radius_km,
        percentile=percentile,
        ramp=[palette[i] for i in np.linspace(0, _PALETTE_SIZE - 1, 9).astype(int)],
        caption=caption,
        tier_colors=tier_colors,
        has_required=bool(_bool(sites, "required", False).any()),
        status_pop=[
            (config["statusNames"][k], status_colors[k], float(pop_by_status[k]))
            for k in range(len(status_names))
        ],
        outside_pop=float(table["out"].sum()),
        n_proposed=len(proposed["lat"]),
        aggregation=aggregation_note,
    )
    el.Legend(legend).add_to(m)

    # A layer control must come after the layers it lists: move an existing one to the end.
    for key, child in list(m._children.items()):
        if isinstance(child, folium.LayerControl):
            del m._children[key]
    folium.LayerControl(collapsed=False).add_to(m)

    logger.info(
        "map: %s demand points (%s drawn as %s), %s sites, %.2f s",
        f"{n_total:,}",
        f"{len(units['pop']):,}",
        "H3 hexagons" if use_h3 else "points",
        f"{n_sites:,}",
        time.perf_counter() - t0,
    )
    return m


def render_map_html(m: folium.Map) -> str:
    """Render a map to self-contained HTML text (Leaflet inlined, no external assets).

    Parameters
    ----------
    m : folium.Map
        The map, typically from :func:`plan_map`.

    Returns
    -------
    str
        The HTML document.
    """
    _make_offline(m)
    return _strip_external_tags(m.get_root().render())


def save_map(m: folium.Map, path: str | os.PathLike[str]) -> Path:
    """Render a map to a self-contained HTML file, written atomically.

    Parameters
    ----------
    m : folium.Map
        The map (typically from :func:`plan_map`). Any folium CDN asset still attached to it
        is dropped (with a warning) and Leaflet is inlined, so the file works offline.
    path : str or os.PathLike
        Output file. Its directory must exist. An existing file is replaced.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    FileNotFoundError
        If the output directory does not exist.

    Notes
    -----
    The HTML goes to a temporary file in the same directory, is flushed to disk, then
    renamed over ``path`` with :func:`os.replace`, so readers never see a partial file and
    an interrupted write leaves the old file in place.

    Examples
    --------
    >>> save_map(plan_map(plan, tiles=None), "map.html")  # doctest: +SKIP
    PosixPath('map.html')
    """
    t0 = time.perf_counter()
    out = Path(path)
    parent = out.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"save_map: directory {str(parent)!r} does not exist")
    data = render_map_html(m).encode("utf-8")
    from .outdir import write_atomic

    write_atomic(out, data, mode=out.stat().st_mode & 0o777 if out.exists() else 0o644)
    logger.info("map: wrote %s (%.1f MB, %.2f s)", out, len(data) / 1e6, time.perf_counter() - t0)
    return out
