"""Offline Folium maps of a coverage plan.

:func:`plan_map` draws a plan (chosen sites, demand coloured by primary latency, budget
radii and the N-1 / coverage-status layers) onto a :class:`folium.Map`;
:func:`save_map` writes it as one self-contained HTML file. The file works with no network:
Leaflet 1.9.4 (vendored in ``coverage/_static``, BSD-2-Clause, see ``LEAFLET_LICENSE``) is
inlined, and folium's other default assets (jQuery, Bootstrap, awesome-markers, Font
Awesome) are dropped because nothing here uses them. Only the optional OpenStreetMap tile
layer needs the network, and without it the map simply has a plain background.

Demand points are not folium objects: they are embedded once as compact column-wise JSON
and turned into ``L.circleMarker``\\ s on a canvas renderer by a short script, with popups
built on click. 50,000 points render in a second or two and cost about 65 bytes each.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import math
import os
import re
import tempfile
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

from .errors import InputValidationError

if TYPE_CHECKING:
    import folium
    from branca.element import Element

__all__ = ["plan_map", "render_map_html", "save_map"]

logger = logging.getLogger(__name__)

#: Layer names, as listed in the layer control.
LAYER_DEMAND = "Demand (primary latency)"
LAYER_SITES = "Chosen sites"
LAYER_RADIUS = "Budget radius"
LAYER_N1 = "Lose budget under N-1"
LAYER_UNCOVERABLE = "Uncoverable demand"
LAYER_SINGLE = "Single-coverable demand"

#: Latency colour ramp (green -> yellow -> red), lowest primary latency .. budget.
LATENCY_COLORS = ("#1a9850", "#fee08b", "#d73027")
#: Fill of demand with no primary site.
UNCOVERABLE_FILL = "#9e9e9e"
#: Ring colours of the status layers.
N1_COLOR = "#e31a1c"
UNCOVERABLE_COLOR = "#6a3d9a"
SINGLE_COLOR = "#1f78b4"
#: Site fill colours by tier (in order of first appearance after sorting).
TIER_COLORS = (
    "#263238",
    "#8d6e63",
    "#00acc1",
    "#f06292",
    "#7cb342",
    "#5c6bc0",
    "#ffb300",
    "#6d4c41",
)
#: Background of the map div (visible with no tiles or offline).
MAP_BACKGROUND = "#f2efe9"
#: Demand marker radius limits, pixels.
DEMAND_RADIUS_MIN_PX = 2.0
DEMAND_RADIUS_MAX_PX = 12.0

_PALETTE_SIZE = 64
_STATUS_ORDER = ("redundant", "single", "uncoverable")
_STATIC = "_static"


# --------------------------------------------------------------------------------------
# Vendored Leaflet
# --------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _leaflet_assets() -> tuple[str, str]:
    """Return the vendored ``(leaflet.js, leaflet.css)`` text, made safe to inline."""
    static = resources.files(__package__ or "coverage").joinpath(_STATIC)
    js = static.joinpath("leaflet.js").read_text(encoding="utf-8")
    css = static.joinpath("leaflet.css").read_text(encoding="utf-8")
    # Neither file contains these today; keep it that way if the vendored copy changes.
    js = js.replace("</", "<\\/")
    css = css.replace("</", "<\\/")
    return js, css


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


def _validate(plan: Any, tiles: str | None, max_demand_points: int | None) -> str | None:
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
    if max_demand_points is not None and (
        isinstance(max_demand_points, bool)
        or not isinstance(max_demand_points, int | np.integer)
        or max_demand_points < 1
    ):
        problems.append(f"max_demand_points must be a positive int, got {max_demand_points!r}")
    if problems:
        raise InputValidationError("plan_map: " + "; ".join(problems))
    return "osm" if tile_key == "osm" else None


# --------------------------------------------------------------------------------------
# Payload
# --------------------------------------------------------------------------------------


def _site_labels(site_ids: pd.Series, names: pd.Series) -> tuple[list[str], dict[str, int]]:
    """Escaped ``"name (id)"`` labels of the chosen sites and their position by id."""
    labels: list[str] = []
    index: dict[str, int] = {}
    for sid, name in zip(site_ids, names, strict=True):
        if sid is None or sid in index:
            continue
        index[sid] = len(labels)
        shown = str(name) if name is not None and str(name) not in ("", "nan") else sid
        label = html.escape(shown) if shown == sid else f"{html.escape(shown)} ({html.escape(sid)})"
        labels.append(label)
    return labels, index


def _codes(ids: pd.Series, index: Mapping[str, int]) -> list[int]:
    return ids.map(index).fillna(-1).astype(np.int64).tolist()


def _ms(values: npt.NDArray[np.float64]) -> list[float]:
    """Latencies rounded to 0.1 ms; missing as -1."""
    return np.where(np.isfinite(values), np.round(values, 1), -1.0).tolist()


def _demand_payload(
    demand: pd.DataFrame, site_index: dict[str, int], labels: list[str], keep: npt.NDArray[np.intp]
) -> tuple[dict[str, Any], dict[str, npt.NDArray[np.intp]], list[str], float]:
    """Column-wise JSON payload of the kept demand rows (largest population first)."""
    d = demand.iloc[keep]
    lat, lon = _latlon(d)
    pop = np.clip(np.nan_to_num(_float(d, "population"), nan=0.0), 0.0, None)
    status = _series(d, "coverage_status").astype(object) if _has(d, "coverage_status") else None
    if status is None:
        status_str = pd.Series(["redundant"] * len(d), dtype=object)
    else:
        status_str = status.reset_index(drop=True).fillna("unknown").astype(str)
    names_order = list(_STATUS_ORDER) + sorted(set(status_str) - set(_STATUS_ORDER))
    status_code = status_str.map({s: i for i, s in enumerate(names_order)}).to_numpy(np.int64)

    primary = _ids(d, "primary_site_id")
    backup = _ids(d, "backup_site_id")
    for ids in (primary, backup):  # ids only found in the assignment get a bare label
        for sid in pd.unique(ids[ids.notna()]):
            if sid not in site_index:
                site_index[sid] = len(labels)
                labels.append(html.escape(sid))

    if _has(d, "name"):
        names = _escape_all(_series(d, "name").reset_index(drop=True))
    elif _has(d, "demand_id"):
        names = _escape_all(_series(d, "demand_id").reset_index(drop=True))
    else:
        names = [html.escape(str(v)) for v in d.index]

    n1_ok = _bool(d, "n1_within_budget", True)
    uncoverable = status_code == _STATUS_ORDER.index("uncoverable")
    subsets = {
        "n1": np.flatnonzero(~n1_ok & ~uncoverable),
        "uncoverable": np.flatnonzero(uncoverable),
        "single": np.flatnonzero(status_code == _STATUS_ORDER.index("single")),
    }
    positive = pop[pop > 0]
    ref = float(np.quantile(positive, 0.99)) if positive.size else 1.0
    radius_scale = DEMAND_RADIUS_MAX_PX / math.sqrt(max(ref, 1e-9))
    payload = {
        "lat": np.round(lat, 5).tolist(),
        "lon": np.round(lon, 5).tolist(),
        "pop": np.round(pop).astype(np.int64).tolist(),
        "name": names,
        "p": _codes(primary, site_index),
        "pl": _ms(_float(d, "primary_latency_ms")),
        "b": _codes(backup, site_index),
        "bl": _ms(_float(d, "backup_latency_ms")),
        "st": status_code.tolist(),
        "nc": np.nan_to_num(_float(d, "n_covering_sites"), nan=-1).astype(np.int64).tolist(),
        "n1": _ms(_float(d, "n1_latency_ms")),
        "n1ok": n1_ok.astype(np.int8).tolist(),
    }
    return payload, subsets, [html.escape(s) for s in names_order], radius_scale


def _fmt_int(value: Any) -> str:
    x = _finite_or(value, math.nan)
    return "n/a" if math.isnan(x) else f"{x:,.0f}"


def _fmt_ms(value: Any) -> str:
    x = _finite_or(value, math.nan)
    return "n/a" if math.isnan(x) else f"{x:,.1f} ms"


def _site_payload(
    sites: pd.DataFrame, failures: pd.DataFrame | None, tier_colors: dict[str, str]
) -> dict[str, Any]:
    """Per-site data with ready-made, escaped popup HTML (sites are few)."""
    lat, lon = _latlon(sites)
    ids = _ids(sites, "site_id")
    names = _ids(sites, "name") if _has(sites, "name") else ids
    tiers = _ids(sites, "tier").fillna("")
    required = _bool(sites, "required", False)
    pop_p = _float(sites, "population_primary")
    pop_b = _float(sites, "population_backup")
    n_dem = _float(sites, "n_demand_primary")

    fail: dict[str, tuple[float, float, float]] = {}
    if isinstance(failures, pd.DataFrame) and _has(failures, "failed_site_id"):
        for fid, rr, out, worst in zip(
            _ids(failures, "failed_site_id"),
            _float(failures, "population_rerouted"),
            _float(failures, "population_outside_budget"),
            _float(failures, "worst_latency_ms"),
            strict=True,
        ):
            if fid is not None:
                fail[fid] = (rr, out, worst)

    popups: list[str] = []
    tooltips: list[str] = []
    for k in range(len(sites)):
        sid = ids[k] if ids[k] is not None else ""
        name = names[k] if names[k] is not None else sid
        rows = [
            ("Site id", html.escape(sid)),
            ("Tier", html.escape(tiers[k]) + (" (required / existing)" if required[k] else "")),
            ("Population (primary)", _fmt_int(pop_p[k])),
            ("Population (backup)", _fmt_int(pop_b[k])),
            ("Demand points (primary)", _fmt_int(n_dem[k])),
        ]
        if sid in fail:
            rr, out, worst = fail[sid]
            rows += [
                ("If this site fails: rerouted", _fmt_int(rr)),
                ("&hellip; outside budget", _fmt_int(out)),
                ("&hellip; worst latency", _fmt_ms(worst)),
            ]
        body = "".join(f"<tr><th>{key}</th><td>{val}</td></tr>" for key, val in rows)
        popups.append(
            f"<div class='covmap-popup'><b>{html.escape(name)}</b><table>{body}</table></div>"
        )
        tooltips.append(html.escape(name))
    return {
        "lat": np.round(lat, 5).tolist(),
        "lon": np.round(lon, 5).tolist(),
        "req": required.astype(np.int8).tolist(),
        "color": [tier_colors.get(t, TIER_COLORS[-1]) for t in tiers],
        "popup": popups,
        "tip": tooltips,
    }


# --------------------------------------------------------------------------------------
# Map elements
# --------------------------------------------------------------------------------------

_PLAN_JS = """
var {name} = (function () {{
    "use strict";
    var D = {demand};
    var S = {sites};
    var C = {config};
    function fmtInt(v) {{ return Math.round(v).toLocaleString("en-US"); }}
    function fmtMs(v) {{ return v < 0 ? "n/a" : v.toFixed(1) + " ms"; }}
    function site(k) {{ return k < 0 ? "none" : C.siteLabels[k]; }}
    function row(k, v) {{ return "<tr><th>" + k + "</th><td>" + v + "</td></tr>"; }}
    function radius(i) {{
        return Math.min(C.rMax, Math.max(C.rMin, C.rScale * Math.sqrt(D.pop[i])));
    }}
    function fill(i) {{
        var v = D.pl[i];
        if (D.st[i] === C.uncoverableCode || v < 0) {{ return C.missingColor; }}
        var t = Math.min(1, Math.max(0, (v - C.vmin) / (C.budget - C.vmin)));
        return C.palette[Math.round(t * (C.palette.length - 1))];
    }}
    function popup(i) {{
        var n1 = D.n1[i] < 0 ? "no surviving site in budget" : fmtMs(D.n1[i]);
        if (D.st[i] !== C.uncoverableCode) {{
            n1 += D.n1ok[i] ? " (within budget)" : " (outside budget)";
        }}
        return "<div class='covmap-popup'><b>" + D.name[i] + "</b><table>" +
            row("Population", fmtInt(D.pop[i])) +
            row("Primary", site(D.p[i]) + ", " + fmtMs(D.pl[i])) +
            row("Backup", site(D.b[i]) + ", " + fmtMs(D.bl[i])) +
            row("Status", C.statusNames[D.st[i]] +
                (D.nc[i] >= 0 ? " (" + D.nc[i] + " sites in budget)" : "")) +
            row("If primary fails", n1) + "</table></div>";
    }}
    function events(group, map) {{
        group.on("click", function (e) {{
            var i = e.layer.options.covIndex;
            L.popup({{maxWidth: 360}}).setLatLng(e.layer.getLatLng())
                .setContent(popup(i)).openOn(map);
        }});
        group.on("mouseover", function (e) {{
            var mk = e.layer;
            if (!mk.getTooltip()) {{
                mk.bindTooltip(D.name[mk.options.covIndex]).openTooltip();
            }}
        }});
    }}
    function demand(group, map, idx, ring) {{
        var n = idx === null ? D.lat.length : idx.length;
        for (var k = 0; k < n; k++) {{
            var i = idx === null ? k : idx[k];
            var opts = ring === null ? {{
                radius: radius(i), color: "#333", weight: 0.5, opacity: 0.5,
                fillColor: fill(i), fillOpacity: 0.85, covIndex: i
            }} : {{
                radius: radius(i) + ring.pad, color: ring.color, weight: 2, opacity: 0.95,
                fill: false, covIndex: i
            }};
            group.addLayer(L.circleMarker([D.lat[i], D.lon[i]], opts));
        }}
        events(group, map);
    }}
    function sites(group) {{
        for (var j = 0; j < S.lat.length; j++) {{
            var req = S.req[j] === 1;
            var mk = L.circleMarker([S.lat[j], S.lon[j]], {{
                radius: req ? 9 : 7.5, color: req ? "#000" : "#222", weight: req ? 3.5 : 1.5,
                opacity: 1, fillColor: S.color[j], fillOpacity: 1
            }});
            mk.bindPopup(S.popup[j], {{maxWidth: 360}});
            mk.bindTooltip(S.tip[j]);
            group.addLayer(mk);
        }}
    }}
    function order(map, back, front) {{
        function apply() {{
            back.forEach(function (l) {{ if (map.hasLayer(l)) {{ l.bringToBack(); }} }});
            front.forEach(function (l) {{ if (map.hasLayer(l)) {{ l.bringToFront(); }} }});
        }}
        map.on("overlayadd", apply);
        apply();
    }}
    return {{demand: demand, sites: sites, order: order}};
}})();
"""


_LEGEND_CSS = """
.covmap-legend {
    position: fixed; left: 10px; bottom: 40px; z-index: 1000; max-width: 380px;
    max-height: calc(100% - 120px); overflow-y: auto;
    background: rgba(255, 255, 255, 0.94); border-radius: 6px; padding: 8px 10px;
    box-shadow: 0 1px 5px rgba(0, 0, 0, 0.35);
    font: 12px/1.35 "Helvetica Neue", Arial, Helvetica, sans-serif; color: #222;
}
.covmap-legend summary { font-weight: bold; font-size: 13px; cursor: pointer; }
.covmap-legend table, .covmap-popup table { border-collapse: collapse; margin: 4px 0; }
.covmap-legend th, .covmap-popup th {
    text-align: left; font-weight: normal; color: #555; padding: 1px 8px 1px 0;
    vertical-align: top;
}
.covmap-legend td, .covmap-popup td { text-align: right; padding: 1px 0; }
.covmap-legend td { white-space: nowrap; }
.covmap-popup td { text-align: left; }
.covmap-legend .covmap-h { font-weight: bold; margin-top: 6px; }
.covmap-legend .covmap-note { color: #666; margin-top: 4px; }
.covmap-legend .covmap-key { display: flex; align-items: center; margin: 2px 0; }
.covmap-legend .covmap-dot {
    display: inline-block; width: 12px; height: 12px; border-radius: 50%;
    margin-right: 6px; box-sizing: border-box; flex: none;
}
.covmap-legend .covmap-ramp { height: 10px; border-radius: 2px; margin: 3px 0 1px; }
.covmap-legend .covmap-ticks {
    display: flex; justify-content: space-between; color: #555;
}
"""


@lru_cache(maxsize=1)
def _elements() -> SimpleNamespace:
    """The map element classes, defined on first use so importing this module stays light."""
    from branca.element import MacroElement
    from folium.map import FeatureGroup
    from folium.template import Template

    class InlineLeaflet(MacroElement):
        """Leaflet's CSS and JS inlined in the document head."""

        _template = Template(
            """
            {% macro header(this, kwargs) %}
            <style>{{ this.css }}</style>
            <script>{{ this.js }}</script>
            {% endmacro %}
            """
        )

        def __init__(self) -> None:
            super().__init__()
            self._name = "InlineLeaflet"
            self.js, self.css = _leaflet_assets()

    class PlanData(MacroElement):
        """Script defining the plan's data and the JS builders the point layers call."""

        _template = Template(
            """
            {% macro script(this, kwargs) %}
            {{ this.code }}
            {% endmacro %}
            """
        )

        def __init__(self, demand: dict[str, Any], sites: dict[str, Any], config: dict[str, Any]):
            super().__init__()
            self._name = "CoveragePlanData"
            self.code = _PLAN_JS.format(
                name=self.get_name(),
                demand=_js_json(demand),
                sites=_js_json(sites),
                config=_js_json(config),
            )

    class PointLayer(FeatureGroup):
        """A layer-control overlay whose markers are made in JS from :class:`PlanData`.

        ``kind="demand"`` draws demand points (all when ``indices`` is None, else that subset)
        filled by latency, or as rings of colour ``ring``; ``kind="sites"`` draws chosen sites.
        """

        _template = Template(
            """
            {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.featureGroup();
            {%- if this.kind == "sites" %}
            {{ this.data.get_name() }}.sites({{ this.get_name() }});
            {%- else %}
            {{ this.data.get_name() }}.demand({{ this.get_name() }}, {{ this._parent.get_name() }},
                {{ this.indices_json }}, {{ this.ring_json }});
            {%- endif %}
            {% endmacro %}
            """
        )

        def __init__(
            self,
            data: PlanData,
            name: str,
            *,
            kind: str = "demand",
            indices: npt.NDArray[np.intp] | None = None,
            ring: str | None = None,
            ring_pad_px: float = 2.5,
            show: bool = True,
        ):
            super().__init__(name=name, overlay=True, control=True, show=show)
            self._name = "CoveragePoints"
            self.data = data
            self.kind = kind
            self.indices_json = "null" if indices is None else _js_json(indices.tolist())
            self.ring_json = _js_json(None if ring is None else {"color": ring, "pad": ring_pad_px})

    class LayerOrder(MacroElement):
        """Keep budget circles under the demand and sites/status rings on top when toggling."""

        _template = Template(
            """
            {% macro script(this, kwargs) %}
            {{ this.data.get_name() }}.order({{ this._parent.get_name() }},
                [{{ this.back_names }}], [{{ this.front_names }}]);
            {% endmacro %}
            """
        )

        def __init__(self, data: PlanData, back: list[Element], front: list[Element]):
            super().__init__()
            self._name = "CoverageLayerOrder"
            self.data = data
            self.back_names = ", ".join(layer.get_name() for layer in back)
            self.front_names = ", ".join(layer.get_name() for layer in front)

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
            self.css = _LEGEND_CSS

    return SimpleNamespace(
        InlineLeaflet=InlineLeaflet,
        PlanData=PlanData,
        PointLayer=PointLayer,
        LayerOrder=LayerOrder,
        Legend=Legend,
    )


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
    status_layers: Sequence[tuple[str, str, int]],
    n_shown: int,
    n_total: int,
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
        ("Uncoverable", _fmt_int(summary.get("population_uncoverable"))),
        ("Single-coverable", _fmt_int(summary.get("population_single_coverable"))),
        ("N-1: outside budget", _fmt_int(summary.get("n1_population_outside_budget"))),
        ("Mean primary latency (p50)", _fmt_ms(summary.get("mean_latency_ms"))),
        ("N-1: worst latency", _fmt_ms(summary.get("n1_worst_latency_ms"))),
    ]
    if "status" in summary:
        rows.append(("Solver status", html.escape(str(summary.get("status")))))
    if k != 1:
        rows.append(("Failures tolerated", str(k)))
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
        f"<div class='covmap-key'><span class='covmap-dot' style='background:{UNCOVERABLE_FILL}'>"
        "</span>no site within budget</div>",
        "<div class='covmap-note'>Circle area &prop; population.</div>",
    ]
    if status_layers:
        parts.append("<div class='covmap-h'>Status rings</div>")
        for label, color, count in status_layers:
            parts.append(
                f"<div class='covmap-key'><span class='covmap-dot' "
                f"style='border:2px solid {color}'></span>{html.escape(label)} "
                f"({count:,} points)</div>"
            )
    if tier_colors:
        parts.append("<div class='covmap-h'>Sites by tier</div>")
        for tier, color in tier_colors.items():
            parts.append(
                f"<div class='covmap-key'><span class='covmap-dot' style='background:{color};"
                f"border:1.5px solid #222'></span>{html.escape(tier) or '(no tier)'}</div>"
            )
        if has_required:
            parts.append(
                "<div class='covmap-key'><span class='covmap-dot' style='background:#fff;"
                "border:3px solid #000'></span>required / existing site</div>"
            )
    if n_shown < n_total:
        parts.append(
            f"<div class='covmap-note'>Showing the {n_shown:,} most populous of {n_total:,} "
            "demand points.</div>"
        )
    return "".join(parts)


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def plan_map(
    plan: Any,
    m: folium.Map | None = None,
    *,
    tiles: str | None = "osm",
    max_demand_points: int | None = 50_000,
) -> folium.Map:
    """Draw a coverage plan as an offline-capable Folium map.

    Parameters
    ----------
    plan : Plan
        A plan result (duck-typed): ``sites`` and ``demand`` DataFrames with ``lat``/``lon``
        in degrees, ``failures`` (one row per chosen site, optional), ``budget_ms``,
        ``percentile`` (``"p99"`` or ``"p50"``), ``radius_km`` (budget radius of the run's
        default access class), ``failures_tolerated`` and a ``summary()`` returning a mapping
        with the headline numbers.
    m : folium.Map, optional
        Existing map to draw on (its tiles are kept and ``tiles`` is ignored). It is switched
        to the canvas renderer and its CDN assets are replaced by inlined Leaflet. By default
        a new map is created.
    tiles : {"osm", None}, default "osm"
        ``"osm"`` adds an OpenStreetMap tile layer (the only part that needs the network: it
        stays blank offline). ``None`` or ``"none"``: no tiles, plain light background.
    max_demand_points : int or None, default 50_000
        At most this many demand points are drawn (the most populous ones); the legend says
        how many are shown. ``None`` draws all.

    Returns
    -------
    folium.Map
        The map, with overlays "Demand (primary latency)", "Chosen sites", "Budget radius"
        (hidden at start) and, when non-empty, "Lose budget under N-1", "Uncoverable demand"
        and "Single-coverable demand", a layer control and a legend box.

    Raises
    ------
    InputValidationError
        If the plan lacks the needed tables or columns, ``tiles`` is not ``"osm"``/None, or
        ``max_demand_points`` is not a positive int.

    See Also
    --------
    save_map : Write the map as one self-contained HTML file.

    Notes
    -----
    Demand points are embedded once as column-wise JSON (coordinates to 5 decimals, about
    1 m; latencies to 0.1 ms) and drawn as ``L.circleMarker`` on a canvas renderer by a JS
    loop; popups are built on click. Cost is O(n) in Python and about 65 bytes of HTML per
    point plus 190 kB of Leaflet, so 50,000 points give a file of about 3.5 MB that opens
    in a second or two. Marker radius is proportional to the square root of population
    (area to population), scaled so the 99th-percentile population gets 12 px, and clipped
    to 2-12 px. The colour scale runs from the lowest primary latency (floored to whole ms)
    to the budget: access and inference put a floor under every latency, often most of the
    budget, so starting at 0 would leave most of the scale unused. All strings taken from
    the plan are HTML-escaped.

    Examples
    --------
    >>> m = plan_map(plan, tiles=None)  # doctest: +SKIP
    >>> save_map(m, "out/map.html")  # doctest: +SKIP
    PosixPath('out/map.html')
    """
    import folium
    from branca.colormap import LinearColormap

    t0 = time.perf_counter()
    tile_key = _validate(plan, tiles, max_demand_points)
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

    # Keep the most populous points, drawn largest first so small ones stay visible on top.
    n_total = len(demand)
    population = np.nan_to_num(_float(demand, "population"), nan=0.0)
    order = np.argsort(-population, kind="stable")
    lat_all, lon_all = _latlon(demand)
    order = order[np.isfinite(lat_all[order]) & np.isfinite(lon_all[order])]
    if max_demand_points is not None and len(order) > max_demand_points:
        logger.info(
            "map: drawing the %s most populous of %s demand points",
            f"{max_demand_points:,}",
            f"{n_total:,}",
        )
        order = order[: int(max_demand_points)]
    n_shown = len(order)

    site_ids = _ids(sites, "site_id")
    site_names = _ids(sites, "name") if _has(sites, "name") else site_ids
    labels, site_index = _site_labels(site_ids, site_names)
    site_lat, site_lon = _latlon(sites)
    located = np.isfinite(site_lat) & np.isfinite(site_lon)
    if not located.all():
        logger.warning("map: %d chosen sites have no coordinates; not drawn", int((~located).sum()))
        sites = sites.loc[located]
        site_lat, site_lon = site_lat[located], site_lon[located]
    demand_json, subsets, status_names, radius_scale = _demand_payload(
        demand, site_index, labels, order
    )
    tiers = sorted(set(_ids(sites, "tier").fillna("")))
    tier_colors = {t: TIER_COLORS[i % len(TIER_COLORS)] for i, t in enumerate(tiers)}
    site_json = _site_payload(sites, failures, tier_colors)

    # The scale starts at the lowest primary latency (whole ms): access and inference put a
    # floor under every latency (often most of the budget), and 0..floor would stay unused.
    finite = primary_ms[np.isfinite(primary_ms)]
    vmin_ms = float(math.floor(finite.min())) if finite.size else 0.0
    if not 0.0 <= vmin_ms < budget_ms:
        vmin_ms = 0.0
    caption = f"{percentile} latency to primary site (ms), budget {budget_ms:g} ms"
    cmap = LinearColormap(list(LATENCY_COLORS), vmin=vmin_ms, vmax=budget_ms, caption=caption)
    palette = [cmap.rgb_hex_str(v) for v in np.linspace(vmin_ms, budget_ms, _PALETTE_SIZE)]
    config = {
        "budget": budget_ms,
        "vmin": vmin_ms,
        "palette": palette,
        "missingColor": UNCOVERABLE_FILL,
        "uncoverableCode": _STATUS_ORDER.index("uncoverable"),
        "statusNames": status_names,
        "siteLabels": labels,
        "rMin": DEMAND_RADIUS_MIN_PX,
        "rMax": DEMAND_RADIUS_MAX_PX,
        "rScale": radius_scale,
    }

    # ---- the map
    lat_shown, lon_shown = lat_all[order], lon_all[order]
    if n_shown == 0:
        lat_shown, lon_shown = site_lat, site_lon
    if m is None:
        center = [float(np.mean(lat_shown)), float(np.mean(lon_shown))] if len(lat_shown) else None
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

    # Fit before any point is added: a zoom change afterwards re-projects and redraws every
    # marker (about 1.5 s for 50,000 points).
    if len(lat_shown):
        m.fit_bounds(
            [
                [float(np.min(lat_shown)), float(np.min(lon_shown))],
                [float(np.max(lat_shown)), float(np.max(lon_shown))],
            ],
            padding=(20, 20),
        )

    # Layer-control order: demand, sites, budget radius, status rings. Drawing order on the
    # shared canvas is fixed by LayerOrder: radius at the back, rings then sites on top.
    el = _elements()
    data = el.PlanData(demand_json, site_json, config).add_to(m)
    el.PointLayer(data, LAYER_DEMAND).add_to(m)
    site_layer = el.PointLayer(data, LAYER_SITES, kind="sites").add_to(m)
    back: list[Element] = []
    if math.isfinite(radius_km) and radius_km > 0 and len(sites):
        radius_group = folium.FeatureGroup(name=LAYER_RADIUS, show=False).add_to(m)
        for la, lo in zip(site_lat, site_lon, strict=True):
            folium.Circle(
                location=(float(la), float(lo)),
                radius=radius_km * 1000.0,  # folium.Circle takes metres
                color="#555555",
                weight=1,
                opacity=0.7,
                fill=True,
                fill_color="#555555",
                fill_opacity=0.04,
                interactive=False,
            ).add_to(radius_group)
        back.append(radius_group)
    else:
        logger.info("map: plan has no usable radius_km; no budget-radius layer")

    # Single-coverable points usually also lose budget under N-1: their ring goes outside.
    status_specs = [
        (LAYER_N1, "n1", N1_COLOR, 2.5, "loses budget when its primary fails"),
        (LAYER_UNCOVERABLE, "uncoverable", UNCOVERABLE_COLOR, 2.5, "uncoverable"),
        (LAYER_SINGLE, "single", SINGLE_COLOR, 5.0, "single-coverable"),
    ]
    front: list[Element] = []
    status_keys: list[tuple[str, str, int]] = []
    for layer_name, key, color, pad, label in status_specs:
        idx = subsets[key]
        if idx.size:
            layer = el.PointLayer(data, layer_name, indices=idx, ring=color, ring_pad_px=pad)
            front.append(layer.add_to(m))
            status_keys.append((label, color, int(idx.size)))
    front.append(site_layer)
    el.LayerOrder(data, back, front).add_to(m)

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
        status_layers=status_keys,
        n_shown=n_shown,
        n_total=n_total,
    )
    el.Legend(legend).add_to(m)

    # A layer control must come after the layers it lists: move an existing one to the end.
    for key, child in list(m._children.items()):
        if isinstance(child, folium.LayerControl):
            del m._children[key]
    folium.LayerControl(collapsed=False).add_to(m)

    logger.info(
        "map: %s of %s demand points, %s sites, %.2f s",
        f"{n_shown:,}",
        f"{n_total:,}",
        f"{len(sites):,}",
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
    mode = out.stat().st_mode & 0o777 if out.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    logger.info("map: wrote %s (%.1f MB, %.2f s)", out, len(data) / 1e6, time.perf_counter() - t0)
    return out
