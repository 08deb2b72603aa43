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
  traffic is re-routed to which site and the latency it gets;
* for a capacitated plan (:mod:`.capacity`): sites sized by capacity and coloured by
  utilisation, capacity figures in their popups, and in the failure explorer every
  surviving site's load and utilisation in the failed site's scenario and the load shed.

The file works with no network: Leaflet 1.9.4 (vendored in ``coverage/outputs/_static``,
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

Modules: :mod:`.build` (:func:`plan_map`, :func:`layer_names`, input checks), :mod:`.payload`
(the data handed to the page), :mod:`.style` (layer names, colours, sizes, CSS, legend),
:mod:`.elements` (the folium elements), :mod:`.offline` (inlined Leaflet, no external assets,
:func:`render_map_html`, :func:`save_map`), :mod:`.columns` (reading the plan's columns),
:mod:`.capacity` (what a capacitated plan adds).
"""

from __future__ import annotations

from ...model.h3index import (  # noqa: F401 - re-exported
    H3_MAX_RES,
    MAX_HEXAGONS,
    choose_h3_resolution,
    h3_bins,
)
from .build import layer_names, plan_map
from .offline import render_map_html, save_map
from .style import (  # noqa: F401 - re-exported: constants callers and tests use
    AREA_COLORS,
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
    MAP_BACKGROUND,
    MAX_POINTS,
    MISSING_COLOR,
    OUTSIDE_COLOR,
    OVER_BUDGET_COLOR,
    REROUTE_COLOR,
    STATUS_COLORS,
    TIER_COLORS,
    fmt_int,
)

__all__ = [
    "choose_h3_resolution",
    "h3_bins",
    "layer_names",
    "plan_map",
    "render_map_html",
    "save_map",
]
