"""How the map looks: layer names, colours, marker sizes, number formats, CSS and the legend.

Everything a reader of the map sees named or coloured is set here; the payload and the
elements only refer to these names.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .columns import finite_or, user_html

__all__ = [
    "AREA_COLORS",
    "CSS",
    "DEMAND_RADIUS_MAX_PX",
    "DEMAND_RADIUS_MIN_PX",
    "LATENCY_COLORS",
    "LAYER_AREAS",
    "LAYER_DEMAND",
    "LAYER_FAILURE",
    "LAYER_GAPS",
    "LAYER_N1",
    "LAYER_OUTSIDE",
    "LAYER_PROPOSED",
    "LAYER_RADIUS",
    "LAYER_SITES",
    "LAYER_STATUS",
    "MAP_BACKGROUND",
    "MAX_POINTS",
    "MISSING_COLOR",
    "OUTSIDE_COLOR",
    "OVER_BUDGET_COLOR",
    "PALETTE_SIZE",
    "REROUTE_COLOR",
    "STATUS_COLORS",
    "TIER_COLORS",
    "fmt_int",
    "fmt_ms",
    "fmt_pct",
    "fmt_rps",
    "legend_html",
    "CAPACITY_CSS",
    "SATURATED_AT",
    "SATURATED_COLOR",
    "SITE_SIZE_MAX_PX",
    "SITE_SIZE_MIN_PX",
    "THIN_BELOW",
    "THIN_COLOR",
    "UTILISATION_COLORS",
]

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
#: uncoverable (the order of :data:`coverage.resilience.status.COVERAGE_STATUSES`), then
#: unserved (a ``--max-sites`` plan's map: no chosen site in budget, a candidate is).
STATUS_COLORS = ("#4575b4", "#91bfdb", "#fdae61", "#7b3294", "#d73027")
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

#: Colours in the latency palette handed to the page (and sampled for the legend).
PALETTE_SIZE = 64

# ---- capacitated plans only (an uncapacitated map never uses these)
#: Site marker size limits, pixels: the size is proportional to the square root of the
#: site's capacity (marker area proportional to capacity), the largest capacity at the
#: upper bound, clipped to the lower one.
SITE_SIZE_MIN_PX = 12.0
SITE_SIZE_MAX_PX = 34.0
#: Sequential utilisation colour ramp (yellow -> orange -> red), 0 % .. 100 %.
UTILISATION_COLORS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
#: Normal-operation utilisation below this is thin (the domain's warning: capacity paid
#: for and idle); such sites get a dashed ring of :data:`THIN_COLOR`.
THIN_BELOW = 0.4
THIN_COLOR = "#2166ac"
#: Utilisation at or above this in a failure scenario is saturated (failure explorer).
SATURATED_AT = 0.99
SATURATED_COLOR = "#7a0177"


#: Counts at or above this are shown in scientific notation (and sent as floats).
_BIG_COUNT = 1e15


def fmt_int(value: Any) -> str:
    """A count (people, points) for display: ``1,234``, ``1.000e+300``, or ``n/a``."""
    x = finite_or(value, math.nan)
    if math.isnan(x):
        return "n/a"
    return f"{x:.3e}" if abs(x) >= _BIG_COUNT else f"{x:,.0f}"


def fmt_ms(value: Any) -> str:
    """A latency for display: ``12.3 ms``, or ``n/a``."""
    x = finite_or(value, math.nan)
    return "n/a" if math.isnan(x) else f"{x:,.1f} ms"


def fmt_rps(value: Any, unit: str = "requests/s") -> str:
    """A request rate for display: ``12.3 requests/s`` (whole numbers from 1,000), or
    ``n/a``; ``unit``: :func:`coverage.wording.load_unit`'s (no markup)."""
    x = finite_or(value, math.nan)
    if math.isnan(x):
        return "n/a"
    if abs(x) >= _BIG_COUNT:
        return f"{x:.3e} {unit}"
    return f"{x:,.0f} {unit}" if abs(x) >= 1000 else f"{x:,.1f} {unit}"


def fmt_pct(value: Any) -> str:
    """A share for display: ``76.0 %``, or ``n/a``."""
    x = finite_or(value, math.nan)
    return "n/a" if math.isnan(x) else f"{100 * x:,.1f} %"


#: Style sheet of the legend, popups and failure explorer (in the legend element).
CSS = """
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

#: Extra style of a capacitated plan's map (site sizes, thin sites, the explorer's loads).
CAPACITY_CSS = f"""
.covmap-site-cap span {{ box-sizing: border-box; }}
.covmap-site-thin span {{ outline: 2.5px dashed {THIN_COLOR}; outline-offset: 2px; }}
.covmap-cap-sites td {{ padding-right: 8px; white-space: nowrap; }}
.covmap-cap-sites td.n {{ text-align: right; }}
.covmap-cap-sat td {{ color: {SATURATED_COLOR}; font-weight: bold; }}
.covmap-explorer {{ max-height: calc(100vh - 40px); overflow-y: auto; max-width: 460px; }}
.covmap-cap-sites th.n {{ text-align: right; padding-right: 8px; }}
.covmap-legend .covmap-ring {{
    display: inline-block; width: 12px; height: 12px; border-radius: 50%; margin-right: 6px;
    box-sizing: border-box; flex: none;
}}
"""


def _dot(color: str, *, square: bool = False, ring: bool = False) -> str:
    cls = "covmap-dot covmap-sq" if square else "covmap-dot"
    style = f"border:2.5px solid {color}" if ring else f"background:{color};border:1.5px solid #222"
    return f"<span class='{cls}' style='{style}'></span>"


def legend_html(
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
    capacity_html: str | None = None,
) -> str:
    """The legend's inner HTML; every plan-provided string is escaped here.

    ``capacity_html`` (a capacitated plan's capacity keys, already escaped) replaces the
    colour keys of the tiers: site markers are then coloured by utilisation.
    """
    total = finite_or(summary.get("population_total"), math.nan)
    covered = finite_or(summary.get("population_covered"), math.nan)
    share = f" ({100 * covered / total:.1f}%)" if total > 0 and not math.isnan(covered) else ""
    k = int(finite_or(getattr(plan, "failures_tolerated", 1), 1))
    rows = [
        ("Sites", fmt_int(summary.get("site_count"))),
        ("Budget", f"{budget_ms:g} ms ({html.escape(percentile)})"),
        ("Budget radius", f"{radius_km:,.1f} km" if math.isfinite(radius_km) else "n/a"),
        ("Population covered", f"{fmt_int(covered)} of {fmt_int(total)}{share}"),
    ]
    # who is short of the k + 1 sites: with k = 1 that is single-coverable plus uncoverable
    # a plan that fails whole failure domains counts its statuses in domains
    unit = "domain" if summary.get("statuses_by") == "failure domains" else "site"
    # a --max-sites plan: these count candidates, the status block below its chosen sites
    # (tester 184: "Single-coverable 1,185,803" above "single: 66,457,206")
    capped = math.isfinite(finite_or(summary.get("max_sites"), math.nan))
    by = " (candidates)" if capped else ""
    if k >= 2 and "population_gap" in summary:
        rows += [(f"Short of {k + 1} {unit}s (gaps){by}",
                  fmt_int(summary.get("population_gap"))),
                 ("&hellip; partial (" + (f"2 {unit}s" if k == 2 else f"2-{k} {unit}s") + ")",
                  fmt_int(summary.get("population_partial")))]
    if k >= 1:
        single = "single-coverable" if unit == "site" else "in one domain"
        rows.append((f"&hellip; {single}" if k >= 2 else single.capitalize() + by,
                     fmt_int(summary.get("population_single_coverable"))))
    rows += [
        ("&hellip; uncoverable" if k >= 2 else "Uncoverable" + by,
         fmt_int(summary.get("population_uncoverable"))),
        # the worst single failure; the key below counts anyone some failure pushes out
        # (tester 184: the two read alike)
        ("N-1: outside budget, worst failure",
         fmt_int(summary.get("n1_population_outside_budget"))),
        ("Mean primary latency (p50)", fmt_ms(summary.get("mean_latency_ms"))),
        ("N-1: worst latency", fmt_ms(summary.get("n1_worst_latency_ms"))),
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
    # a --max-sites plan's statuses count its chosen sites (payload.point_table's by_plan)
    parts.append("<div class='covmap-h'>" + ("Status with the chosen sites (people)" if capped
                                              else "Coverage status (people)")
                 + (", by failure domain" if unit == "domain" else "") + "</div>")
    for label, color, pop in status_pop:
        parts.append(f"<div class='covmap-key'>{_dot(color)}{label}: {fmt_int(pop)}</div>")
    parts.append(
        f"<div class='covmap-key'>{_dot(OUTSIDE_COLOR, ring=True)}outside budget under some "
        f"failure (any one site): {fmt_int(outside_pop)}</div>"
    )
    if capacity_html is not None:
        parts.append(capacity_html)
        parts.append(f"<div class='covmap-key'>{_dot('#ffffff')}new site</div>")
        if has_required:
            parts.append(
                f"<div class='covmap-key'>{_dot('#ffffff', square=True)}existing (required) "
                "site</div>"
            )
    elif tier_colors:
        parts.append("<div class='covmap-h'>Sites by tier</div>")
        for tier, color in tier_colors.items():
            parts.append(
                f"<div class='covmap-key'>{_dot(color)}{user_html(tier) or '(no tier)'}</div>"
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
