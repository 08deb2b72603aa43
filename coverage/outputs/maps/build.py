"""Building the map: input validation, :func:`plan_map` and :func:`layer_names`."""

from __future__ import annotations

import html
import logging
import math
import time
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from ...errors import CoverageWarning, InputValidationError
from ...inputs.validation import typed_value
from ...model.h3index import H3_MAX_RES, MAX_HEXAGONS, choose_resolution_projected
from ...resilience.status import COVERAGE_STATUSES, status_label, status_possible
from .capacity import capacity_view, is_capacitated
from .columns import (
    bool_column,
    finite_or,
    float_column,
    has_column,
    id_column,
    lat_lon,
    lon_window,
    user_html,
    wrap_lon,
)
from .elements import map_elements
from .offline import make_offline, plugin_assets
from .payload import (
    areas_payload,
    component_waterfall,
    failure_payload,
    h3_units,
    point_table,
    point_units,
    proposed_payload,
    site_labels,
    site_payload,
    waterfall_table,
)
from .style import (
    CAPACITY_CSS,
    CSS,
    DEMAND_RADIUS_MAX_PX,
    DEMAND_RADIUS_MIN_PX,
    LATENCY_COLORS,
    LAYER_AREAS,
    LAYER_DEMAND,
    LAYER_FAILURE,
    LAYER_GAPS,
    LAYER_N1,
    LAYER_OUTSIDE,
    LAYER_PROPOSED,
    LAYER_RADIUS,
    LAYER_SITES,
    LAYER_STATUS,
    MAX_POINTS,
    MISSING_COLOR,
    OUTSIDE_COLOR,
    OVER_BUDGET_COLOR,
    PALETTE_SIZE,
    REROUTE_COLOR,
    STATUS_COLORS,
    TIER_COLORS,
    legend_html,
)

if TYPE_CHECKING:
    import folium

__all__ = ["layer_names", "plan_map"]

# One logger for the whole map package, named as before the split into modules.
logger = logging.getLogger(__package__)


def _validate(
    plan: Any, tiles: str | None, aggregate: str, max_points: Any, h3_resolution: Any,
    m: Any = None, caller: str = "plan_map",
) -> str | None:
    """Collect every problem with the inputs, then raise one error (naming ``caller``)."""
    import folium

    problems: list[str] = []
    if m is not None and not isinstance(m, folium.Map):
        problems.append(f"m must be a folium.Map to draw on, or None; got {typed_value(m)}. "
                        f"Fix: pass folium.Map(...), or leave m out for a new map")
    for attr in ("sites", "demand"):
        df = getattr(plan, attr, None)
        if not isinstance(df, pd.DataFrame):
            problems.append(f"plan.{attr} must be a DataFrame, got {type(df).__name__}")
            continue
        if not ((has_column(df, "lat") and has_column(df, "lon")) or "geometry" in df.columns):
            problems.append(f"plan.{attr} needs 'lat' and 'lon' columns (degrees)")
    sites = getattr(plan, "sites", None)
    if isinstance(sites, pd.DataFrame) and not has_column(sites, "site_id"):
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
        raise InputValidationError(f"{caller}: " + "; ".join(problems))
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


# ---- plan_map, step by step (each step's output feeds the next; see plan_map)


class _DemandUnits(NamedTuple):
    """What the page draws demand as: one unit per point, or per H3 hexagon."""

    units: dict[str, Any]
    recs: dict[str, Any]
    use_h3: bool
    res: int | None
    hex_deg: float
    note: str | None


def _summary(plan: Any) -> Mapping[str, Any]:
    """The plan's headline numbers as a mapping (``summary()`` may return a Series)."""
    summary_raw = plan.summary()
    return summary_raw.to_dict() if isinstance(summary_raw, pd.Series) else dict(summary_raw)


def _budget_ms(plan: Any, primary_ms: npt.NDArray[np.float64]) -> float:
    """The plan's latency budget; without a usable one, the largest primary latency."""
    budget_ms = finite_or(getattr(plan, "budget_ms", None), math.nan)
    if not budget_ms > 0:
        finite = primary_ms[np.isfinite(primary_ms)]
        budget_ms = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        logger.warning("map: plan has no usable budget_ms; colour scale ends at %g ms", budget_ms)
    return budget_ms


def _located_sites(
    sites: pd.DataFrame,
) -> tuple[pd.DataFrame, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The chosen sites with coordinates (the others are not drawn) and their lat/lon."""
    site_lat, site_lon = lat_lon(sites)
    located = np.isfinite(site_lat) & np.isfinite(site_lon)
    if not located.all():
        logger.warning("map: %d chosen sites have no coordinates; not drawn", int((~located).sum()))
        sites = sites.loc[located]
        site_lat, site_lon = site_lat[located], site_lon[located]
    return sites, site_lat, site_lon


def _demand_units(
    table: dict[str, Any],
    located_d: npt.NDArray[np.bool_],
    demand: pd.DataFrame,
    aggregate: str,
    max_points: int,
    h3_resolution: int | None,
) -> _DemandUnits:
    """Demand as drawing units: points up to ``max_points`` (``"auto"``), else H3 hexagons."""
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
        units, recs, hex_deg = h3_units(table, located_d, res, proj)
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
        units, recs = point_units(table, keep, demand)
        res = None
    return _DemandUnits(units, recs, use_h3, res, hex_deg, aggregation_note)


def _radius_scale(pop_all: npt.NDArray[np.float64]) -> float:
    """Marker radius per square root of population: the 99th percentile gets the largest."""
    positive = pop_all[pop_all > 0]
    ref = float(np.quantile(positive, 0.99)) if positive.size else 1.0
    return DEMAND_RADIUS_MAX_PX / math.sqrt(max(ref, 1e-9))


def _colour_scale(
    primary_ms: npt.NDArray[np.float64], budget_ms: float, percentile: str
) -> tuple[float, str, list[str]]:
    """The latency colour scale: its start (ms), its caption and its palette."""
    from branca.colormap import LinearColormap

    # The scale starts at the lowest primary latency (whole ms): access and inference put a
    # floor under every latency (often most of the budget), and 0..floor would stay unused.
    finite = primary_ms[np.isfinite(primary_ms)]
    vmin_ms = float(math.floor(finite.min())) if finite.size else 0.0
    if not 0.0 <= vmin_ms < budget_ms:
        vmin_ms = 0.0
    caption = f"{percentile} latency to primary site (ms), budget {budget_ms:g} ms"
    cmap = LinearColormap(list(LATENCY_COLORS), vmin=vmin_ms, vmax=budget_ms, caption=caption)
    palette = [cmap.rgb_hex_str(v) for v in np.linspace(vmin_ms, budget_ms, PALETTE_SIZE)]
    return vmin_ms, caption, palette


def _base_map(
    m: folium.Map | None,
    lat_fit: npt.NDArray[np.float64],
    lon_fit: npt.NDArray[np.float64],
    tile_key: str | None,
    caller: str,
) -> folium.Map:
    """A new canvas map centred on the plan (with OSM tiles for ``"osm"``), made to work
    offline, or ``m`` switched to the canvas renderer, with Leaflet inlined and its
    plugins' assets kept (warned)."""
    import folium

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
        make_offline(m)
    else:  # the user's map: its plugins keep their assets (without them the page stopped
        # before the plan was drawn: tester 145), said once
        m.options["prefer_canvas"] = True
        make_offline(m, keep_plugins=True)
        names = plugin_assets(m)
        if names:
            warnings.warn(
                f"{caller}: the map's plugins load {len(names)} asset(s) from the internet "
                f"({', '.join(names)}): kept, so the map needs the network for them; "
                "save_map(m, path, offline=False) writes it so (a self-contained offline "
                "file cannot hold them)", CoverageWarning, stacklevel=4)
    return m


def _layer_specs(
    units: dict[str, Any],
    site_data: dict[str, Any],
    tiers: list[str],
    areas: dict[str, Any],
    proposed: dict[str, Any],
    n_sites: int,
) -> list[tuple[str, str, Any, bool]]:
    """The overlays, in layer-control order: ``(name, kind, argument, shown at start)``."""
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
        name = f"{LAYER_SITES}: {user_html(tier)}" if tier else LAYER_SITES
        specs.append((name, "sites", k, True))
    if any(r > 0 for r in site_data["rkm"]):
        specs.append((LAYER_RADIUS, "radius", None, False))
    if areas["site"]:
        specs.append((LAYER_AREAS, "areas", None, False))
    if proposed["lat"]:
        specs.append((LAYER_PROPOSED, "proposed", None, True))
    if n_sites:
        specs.append((LAYER_FAILURE, "failure", None, False))
    return specs


def _layer_control_last(m: folium.Map) -> None:
    """Add a layer control after the layers it lists (an existing one is moved to the end)."""
    import folium

    for key, child in list(m._children.items()):
        if isinstance(child, folium.LayerControl):
            del m._children[key]
    folium.LayerControl(collapsed=False).add_to(m)


def plan_map(
    plan: Any,
    m: folium.Map | None = None,
    *,
    tiles: str | None = "osm",
    aggregate: str = "auto",
    max_points: int = MAX_POINTS,
    h3_resolution: int | None = None,
    caller: str = "plan_map",
    priced: pd.DataFrame | None = None,
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
        to the canvas renderer and its stock CDN assets are replaced by inlined Leaflet; a
        plugin's assets (MarkerCluster, HeatMap, ...) are kept, with a
        :class:`~coverage.errors.CoverageWarning` that the map needs the network for
        them (:func:`save_map` refuses such a map unless ``offline=False``). By default a
        new map is created.
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
    caller : str, default "plan_map"
        The name the messages give the caller (:meth:`coverage.Plan.explore` gives its
        own).
    priced : pandas.DataFrame, optional
        A comparison's priced sites (``Comparison.sites``, ``compare_sites.csv``): a
        capacitated plan's sites are then coloured by the priced accelerators'
        utilisation at peak, not the power envelope's (see
        :func:`coverage.outputs.maps.capacity.capacity_view`).

    Returns
    -------
    folium.Map
        The map. Overlays (see :func:`layer_names`): "Demand: primary latency", "Demand:
        coverage status", "Demand: N-1 worst-case latency", "Outside budget under a failure",
        "Coverage gaps" (when there are any), one "Sites: <tier>" per tier, "Budget radius",
        "Service areas (primary)", "Proposed new sites" (when there are any) and "Failure
        explorer"; a failure-explorer control, a layer control and a legend box. A
        capacitated plan (``sites`` with ``capacity_rps`` and ``utilisation``; optional
        ``capacity_scenarios`` and ``scenario_loads``) has its sites sized by capacity and
        coloured by utilisation, capacity popups, and the explorer's per-scenario loads
        (:mod:`coverage.outputs.maps.capacity`).

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
    are convex hulls in longitude/latitude. Longitudes are drawn in the shortest window
    holding the plan (:func:`~coverage.outputs.maps.columns.lon_window`): a plan across
    the antimeridian is drawn east of 180 degrees where needed, the short way. All strings
    taken from the plan are HTML-escaped, layer names included.

    Examples
    --------
    >>> m = plan_map(plan, tiles=None)  # doctest: +SKIP
    >>> save_map(m, "out/map.html")  # doctest: +SKIP
    PosixPath('out/map.html')
    """
    import folium  # noqa: F401 - fail early, before any work, when folium is missing

    t0 = time.perf_counter()
    tile_key = _validate(plan, tiles, aggregate, max_points, h3_resolution, m, caller)
    sites: pd.DataFrame = plan.sites
    demand: pd.DataFrame = plan.demand
    failures = getattr(plan, "failures", None)
    summary = _summary(plan)
    percentile = str(getattr(plan, "percentile", "p99"))
    primary_ms = float_column(demand, "primary_latency_ms")
    budget_ms = _budget_ms(plan, primary_ms)
    radius_km = finite_or(getattr(plan, "radius_km", None), math.nan)

    # ---- sites (rows without coordinates are not drawn)
    sites, site_lat, site_lon = _located_sites(sites)
    n_sites = len(sites)
    site_ids = id_column(sites, "site_id")
    labels, site_index = site_labels(site_ids, id_column(sites, "name")
                                     if has_column(sites, "name") else site_ids)
    tiers = sorted(set(id_column(sites, "tier").fillna("")))
    tier_colors = {t: TIER_COLORS[i % len(TIER_COLORS)] for i, t in enumerate(tiers)}

    # ---- demand (a --max-sites plan's statuses count its chosen sites, not candidates)
    k_failures = max(int(finite_or(getattr(plan, "failures_tolerated", 1), 1)), 0)
    capped = math.isfinite(finite_or(summary.get("max_sites"), math.nan))
    table = point_table(plan, demand, site_index, labels,
                        by_plan=k_failures if capped else None,
                        by_domains=summary.get("statuses_by") == "failure domains")
    n_total = len(demand)
    located_d = np.isfinite(table["lat"]) & np.isfinite(table["lon"])
    # every longitude drawn in the shortest window holding them all: a plan across the
    # antimeridian opens on its points (not the whole world), its service areas and failure
    # lines go the short way (Leaflet draws lon 181 east of 179; tiles repeat)
    west = lon_window(np.r_[table["lon"][located_d], site_lon])
    table["lon"] = wrap_lon(table["lon"], west)
    site_lon = wrap_lon(site_lon, west)
    # what is drawn near the points but may lie west of the westernmost (an H3 cell's
    # centre, a proposal) goes into the window centred on them: into [west, west + 360)
    # it went a whole turn east (tester 184: the westernmost hexagons at lon ~370, the
    # failure explorer zoomed out to the world)
    drawn_lon = np.r_[table["lon"][located_d], site_lon]
    drawn_lon = drawn_lon[np.isfinite(drawn_lon)]
    centred = (0.5 * (west + float(drawn_lon.max())) - 180.0 if len(drawn_lon)
               else west)
    if not located_d.all():
        logger.warning("map: %d demand points have no coordinates; not drawn",
                       int((~located_d).sum()))
    drawn = _demand_units(table, located_d, demand, aggregate, max_points, h3_resolution)
    units = drawn.units
    failures_data = failure_payload(drawn.recs, n_sites)

    # ---- the page's settings and data
    pop_all = table["pop"]
    radius_scale = _radius_scale(pop_all)
    vmin_ms, caption, palette = _colour_scale(primary_ms, budget_ms, percentile)
    if table["own_budgets"]:  # service classes: each point against its own budget
        caption += "; each point coloured against its own budget"
    status_names = table["status_names"]
    status_colors = [
        STATUS_COLORS[k] if k < len(STATUS_COLORS) else MISSING_COLOR
        for k in range(len(status_names))
    ]
    model = getattr(plan, "model", None)
    config = {
        "mode": "h3" if drawn.use_h3 else "points",
        "h3Resolution": drawn.res,
        "hexDeg": drawn.hex_deg,
        "budget": budget_ms,
        "vmin": vmin_ms,
        "palette": palette,
        "overColor": OVER_BUDGET_COLOR,
        "missingColor": MISSING_COLOR,
        "outsideColor": OUTSIDE_COLOR,
        "rerouteColor": REROUTE_COLOR,
        "statusNames": [html.escape(status_label(
            s, k_failures, unit="domain" if summary.get("statuses_by") == "failure domains"
            else "site")) for s in status_names],
        "statusColors": status_colors,
        "uncoverableCode": COVERAGE_STATUSES.index("uncoverable"),
        "siteLabels": labels,
        "rMin": DEMAND_RADIUS_MIN_PX,
        "rMax": DEMAND_RADIUS_MAX_PX,
        "rScale": radius_scale,
        "pct": html.escape(percentile),
        "msPerKm": finite_or(getattr(model, "ms_per_km", None), 1.0),
        # the plan's own per-point components when it has them (any service class adds
        # up); else per access class, except with service classes (it would not add up)
        "waterfall": (component_waterfall(table["waterfall_groups"], percentile)
                      if table.get("waterfall_groups") is not None
                      else None if getattr(plan, "service", None) is not None
                      else waterfall_table(plan, table["access_names"], percentile)),
    }
    proposed = proposed_payload(getattr(plan, "proposed", None))
    areas = areas_payload(table["lat"], table["lon"], table["p"], n_sites)
    # a capacitated plan: sites sized by capacity, coloured by utilisation, capacity popups
    # and the explorer's per-scenario loads (an uncapacitated plan's payload is unchanged)
    cap_view = (capacity_view(plan, sites, site_index, summary, MISSING_COLOR,
                              priced=priced)
                if is_capacitated(sites) else None)
    site_data = site_payload(sites, failures, tiers, tier_colors, radius_km,
                             extra_rows=cap_view.popup_rows if cap_view else None)
    if cap_view is not None:
        site_data["color"] = cap_view.colors
    for part in (units, site_data, proposed):  # h3 centres, sites, proposals: same window
        if len(part["lon"]):
            part["lon"] = np.round(wrap_lon(part["lon"], centred), 5).tolist()
    payload = {
        "units": units,
        "failures": failures_data,
        "sites": site_data,
        "proposed": proposed,
        "areas": areas,
        "config": config,
    }
    if cap_view is not None:
        payload["capacity"] = cap_view.payload

    # ---- the map
    lat_fit = np.r_[table["lat"][located_d], site_lat]
    lon_fit = np.r_[table["lon"][located_d], site_lon]
    m = _base_map(m, lat_fit, lon_fit, tile_key, caller)
    # covmap.js fits the view to these bounds before anything is drawn, without animation
    # (an animated zoom would re-project every shape, and overrides a view set meanwhile).
    if len(lat_fit):
        config["bounds"] = [
            [float(np.min(lat_fit)), float(np.min(lon_fit))],
            [float(np.max(lat_fit)), float(np.max(lon_fit))],
        ]

    el = map_elements()
    data = el.PlanData(payload).add_to(m)
    for name, kind, arg, show in _layer_specs(units, payload["sites"], tiers, areas, proposed,
                                              n_sites):
        el.PlanLayer(data, name, kind, arg, show=show).add_to(m)

    pop_by_status = np.bincount(table["st"], weights=pop_all, minlength=len(status_names))
    legend = legend_html(
        summary,
        plan,
        budget_ms=budget_ms,
        vmin_ms=vmin_ms,
        radius_km=radius_km,
        percentile=percentile,
        ramp=[palette[i] for i in np.linspace(0, PALETTE_SIZE - 1, 9).astype(int)],
        caption=caption,
        tier_colors=tier_colors,
        has_required=bool(bool_column(sites, "required", False).any()),
        status_pop=[  # not the statuses k rules out (partial below k = 2, single at 0)
            (config["statusNames"][k], status_colors[k], float(pop_by_status[k]))
            for k in range(len(status_names))
            if status_possible(status_names[k], k_failures)
        ],
        outside_pop=float(table["out"].sum()),
        n_proposed=len(proposed["lat"]),
        aggregation=drawn.note,
        capacity_html=cap_view.legend if cap_view is not None else None,
    )
    el.Legend(legend, css=CSS + CAPACITY_CSS if cap_view is not None else CSS).add_to(m)
    _layer_control_last(m)

    logger.info(
        "map: %s demand points (%s drawn as %s), %s sites, %.2f s",
        f"{n_total:,}",
        f"{len(units['pop']):,}",
        "H3 hexagons" if drawn.use_h3 else "points",
        f"{n_sites:,}",
        time.perf_counter() - t0,
    )
    return m
