"""Tests for coverage.maps: offline HTML, layers, legend, escaping, atomic save, scale."""

from __future__ import annotations

import re
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

folium = pytest.importorskip("folium")

from coverage.errors import InputValidationError  # noqa: E402
from coverage.maps import (  # noqa: E402
    LAYER_DEMAND,
    LAYER_N1,
    LAYER_RADIUS,
    LAYER_SINGLE,
    LAYER_SITES,
    LAYER_UNCOVERABLE,
    plan_map,
    save_map,
)

EVIL = "<script>alert(1)</script>"
EVIL_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"

EXTERNAL_TAG = re.compile(
    r"<script\b[^>]*\bsrc\s*=|<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//", re.IGNORECASE
)


def make_plan(n_demand: int = 50, n_sites: int = 6, seed: int = 0) -> types.SimpleNamespace:
    """A plan-like object with every status represented (duck-typed like the real Plan)."""
    rng = np.random.default_rng(seed)
    budget_ms = 20.0
    site_ids = [f"S{j:03d}" for j in range(n_sites)]
    sites = pd.DataFrame(
        {
            "site_id": site_ids,
            "name": [EVIL] + [f"Site {j}" for j in range(1, n_sites)],
            "lat": rng.uniform(45.0, 48.0, n_sites),
            "lon": rng.uniform(5.0, 10.0, n_sites),
            "tier": ["metro" if j % 2 else "edge" for j in range(n_sites)],
            "required": [j == 1 for j in range(n_sites)],
            "population_primary": rng.uniform(1e3, 1e5, n_sites).round(),
            "n_demand_primary": rng.integers(1, 20, n_sites),
            "population_backup": rng.uniform(1e3, 1e5, n_sites).round(),
        }
    )
    status = np.array(["redundant"] * n_demand, dtype=object)
    status[1::10] = "single"
    status[2::10] = "uncoverable"
    uncov = status == "uncoverable"
    single = status == "single"
    primary = rng.choice(site_ids, n_demand).astype(object)
    backup = rng.choice(site_ids, n_demand).astype(object)
    primary_ms = rng.uniform(2.0, budget_ms, n_demand)
    backup_ms = rng.uniform(2.0, budget_ms, n_demand)
    n1_ms = rng.uniform(2.0, 1.5 * budget_ms, n_demand)
    primary[uncov] = None
    primary_ms[uncov] = np.nan
    backup[uncov | single] = None
    backup_ms[uncov | single] = np.nan
    n1_ms[uncov | single] = np.nan
    n1_ok = ~uncov & ~single & (n1_ms <= budget_ms)
    demand = pd.DataFrame(
        {
            "demand_id": [f"D{i}" for i in range(n_demand)],
            "name": [f"Town {i}" for i in range(n_demand)],
            "lat": rng.uniform(45.0, 48.0, n_demand),
            "lon": rng.uniform(5.0, 10.0, n_demand),
            "population": rng.lognormal(8, 1.5, n_demand).round(),
            "primary_site_id": primary,
            "primary_latency_ms": primary_ms,
            "backup_site_id": backup,
            "backup_latency_ms": backup_ms,
            "n_covering_sites": np.where(uncov, 0, np.where(single, 1, 3)),
            "coverage_status": status,
            "n1_latency_ms": n1_ms,
            "n1_within_budget": n1_ok,
        }
    )
    failures = pd.DataFrame(
        {
            "failed_site_id": site_ids,
            "population_rerouted": rng.uniform(1e3, 1e5, n_sites).round(),
            "population_outside_budget": rng.uniform(0, 1e3, n_sites).round(),
            "worst_latency_ms": rng.uniform(budget_ms, 2 * budget_ms, n_sites),
        }
    )
    pop = demand["population"]
    summary = {
        "site_count": n_sites,
        "population_total": float(pop.sum()),
        "population_covered": float(pop[~uncov].sum()),
        "population_uncoverable": float(pop[uncov].sum()),
        "population_single_coverable": float(pop[single].sum()),
        "mean_latency_ms": float(np.nanmean(primary_ms)),
        "n1_worst_latency_ms": float(np.nanmax(n1_ms)),
        "n1_population_outside_budget": float(pop[~n1_ok & ~uncov].sum()),
        "status": "optimal",
    }
    return types.SimpleNamespace(
        sites=sites,
        demand=demand,
        failures=failures,
        budget_ms=budget_ms,
        percentile="p99",
        radius_km=120.0,
        failures_tolerated=1,
        summary=lambda: summary,
    )


@pytest.fixture(scope="module")
def plan() -> types.SimpleNamespace:
    return make_plan()


def _save(plan: types.SimpleNamespace, path: Path, **kwargs: object) -> str:
    out = save_map(plan_map(plan, **kwargs), path)
    assert out == path
    return path.read_text(encoding="utf-8")


def test_offline_no_external_assets(plan, tmp_path):
    text = _save(plan, tmp_path / "map.html", tiles=None)
    assert not EXTERNAL_TAG.search(text)
    for lib in ("jquery", "bootstrap", "awesome-markers", "fontawesome", "font-awesome", "d3."):
        assert lib not in text.lower()
    # No tile server at all without tiles.
    assert "openstreetmap" not in text.lower()
    assert "{z}" not in text
    # Leaflet itself is inline.
    assert "Leaflet 1.9.4" in text
    assert ".leaflet-container" in text
    assert "preferCanvas" in text


def test_osm_tiles_only_as_js_url(plan, tmp_path):
    text = _save(plan, tmp_path / "map.html", tiles="osm")
    assert "tile.openstreetmap.org" in text
    assert not EXTERNAL_TAG.search(text)


def test_layers_listed(plan, tmp_path):
    text = _save(plan, tmp_path / "map.html", tiles=None)
    for name in (LAYER_DEMAND, LAYER_SITES, LAYER_RADIUS, LAYER_N1, LAYER_UNCOVERABLE):
        assert f'"{name}"' in text
    assert f'"{LAYER_SINGLE}"' in text
    assert "L.control.layers" in text
    # Budget radius is a Circle in metres, hidden at start.
    assert '"radius": 120000.0' in text


def test_status_layers_only_when_present(tmp_path):
    plan = make_plan()
    d = plan.demand
    d["coverage_status"] = "redundant"
    d["n1_within_budget"] = True
    text = _save(plan, tmp_path / "map.html", tiles=None)
    for name in (LAYER_N1, LAYER_UNCOVERABLE, LAYER_SINGLE):
        assert f'"{name}"' not in text
    assert f'"{LAYER_DEMAND}"' in text


def test_legend_numbers(plan, tmp_path):
    text = _save(plan, tmp_path / "map.html", tiles=None)
    s = plan.summary()
    assert "covmap-legend" in text
    for key in (
        "population_covered",
        "population_total",
        "population_uncoverable",
        "population_single_coverable",
        "n1_population_outside_budget",
    ):
        assert f"{s[key]:,.0f}" in text, key
    assert "20 ms (p99)" in text
    assert "p99 latency to primary site (ms), budget 20 ms" in text
    assert f"<th>Sites</th><td>{s['site_count']}</td>" in text


def test_site_name_escaped(plan, tmp_path):
    text = _save(plan, tmp_path / "map.html", tiles=None)
    assert EVIL_ESCAPED in text
    assert EVIL not in text
    assert "alert(1)</script" not in text


def test_atomic_write_leaves_no_temp_files(plan, tmp_path):
    path = tmp_path / "map.html"
    path.write_text("old", encoding="utf-8")
    _save(plan, path, tiles=None)
    _save(plan, path, tiles=None)
    assert [p.name for p in tmp_path.iterdir()] == ["map.html"]
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_save_into_missing_directory_raises(plan, tmp_path):
    with pytest.raises(FileNotFoundError):
        save_map(plan_map(plan, tiles=None), tmp_path / "nope" / "map.html")


def test_existing_map_is_made_offline(plan, tmp_path):
    m = folium.Map(location=[46, 7], zoom_start=5)  # stock map with CDN assets
    assert plan_map(plan, m) is m
    # Even folium's own rendering (m.save, notebooks) is offline after plan_map.
    assert not EXTERNAL_TAG.search(m.get_root().render())
    text = save_map(m, tmp_path / "map.html").read_text(encoding="utf-8")
    assert not EXTERNAL_TAG.search(text)
    assert text.count("Leaflet 1.9.4") == 1
    # folium's class-level asset lists are untouched for other maps.
    assert any("jquery" in url for _, url in folium.Map.default_js)


def test_max_demand_points_keeps_most_populous(plan, tmp_path):
    text = _save(plan, tmp_path / "map.html", tiles=None, max_demand_points=10)
    assert "Showing the 10 most populous of 50 demand points" in text
    top = plan.demand.nlargest(10, "population")["name"]
    bottom = plan.demand.nsmallest(5, "population")["name"]
    assert all(f'"{n}"' in text for n in top)
    assert not any(f'"{n}"' in text for n in bottom)


@pytest.mark.parametrize(
    "kwargs", [{"tiles": "stamen"}, {"max_demand_points": 0}, {"max_demand_points": 2.5}]
)
def test_bad_options_raise(plan, kwargs):
    with pytest.raises(InputValidationError):
        plan_map(plan, **kwargs)


def test_missing_columns_listed(plan):
    bad = types.SimpleNamespace(**vars(plan))
    bad.sites = plan.sites.drop(columns=["lat", "site_id"])
    with pytest.raises(InputValidationError, match="site_id") as err:
        plan_map(bad)
    assert "lat" in str(err.value)


def test_large_plan_fast_and_small(tmp_path):
    plan = make_plan(n_demand=30_000, n_sites=40, seed=1)
    t0 = time.perf_counter()
    path = save_map(plan_map(plan), tmp_path / "big.html")
    elapsed = time.perf_counter() - t0
    size = path.stat().st_size
    assert elapsed < 10.0, elapsed
    assert size < 4_000_000, size
    # One JSON payload, not one folium object per point.
    text = path.read_text(encoding="utf-8")
    assert text.count("L.circleMarker(") < 10


def test_plugin_cdn_assets_dropped_with_warning(plan, tmp_path, caplog):
    from folium.plugins import Fullscreen

    m = plan_map(plan, tiles=None)
    Fullscreen().add_to(m)
    with caplog.at_level("WARNING", logger="coverage.maps"):
        text = save_map(m, tmp_path / "map.html").read_text(encoding="utf-8")
    assert not EXTERNAL_TAG.search(text)
    assert "dropped external assets" in caplog.text


def test_numeric_ids_and_series_summary(tmp_path):
    plan = make_plan()
    codes = {f"S{j:03d}": j for j in range(len(plan.sites))}
    plan.sites["site_id"] = plan.sites["site_id"].map(codes)
    for col in ("primary_site_id", "backup_site_id"):
        plan.demand[col] = plan.demand[col].map(codes).astype(float)  # NaN makes them floats
    summary = pd.Series(plan.summary())
    plan.summary = lambda: summary
    text = _save(plan, tmp_path / "map.html", tiles=None)
    # Demand rows reference site labels by position; no "3.0"-style ids leak in.
    labels = re.search(r'"siteLabels":(\[[^\]]*\])', text).group(1)
    assert '"0.0"' not in labels and "(0)" in labels
    assert f"{summary['population_covered']:,.0f}" in text


def test_plan_map_draws_onto_given_map_twice(plan, tmp_path):
    m = plan_map(plan, tiles=None)
    plan_map(plan, m)
    text = save_map(m, tmp_path / "map.html").read_text(encoding="utf-8")
    assert text.count("L.control.layers(") == 1
    assert text.count("Leaflet 1.9.4") == 1


def test_messy_values_do_not_break_the_map(tmp_path, caplog):
    plan = make_plan()
    plan.sites.loc[2, "lat"] = np.nan  # a site without coordinates is skipped
    plan.demand.loc[0, "population"] = -5.0
    plan.demand.loc[1, "population"] = np.nan
    plan.demand.loc[3, "lon"] = np.nan  # a demand point without coordinates is skipped
    with caplog.at_level("WARNING", logger="coverage.maps"):
        text = _save(plan, tmp_path / "map.html", tiles=None)
    assert "no coordinates" in caplog.text
    assert "NaN" not in text.split("covmap-legend")[-1]


def test_import_does_not_load_folium():
    import subprocess
    import sys

    code = "import sys, coverage.maps; print('folium' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
