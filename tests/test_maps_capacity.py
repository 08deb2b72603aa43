"""The map and the report of a capacitated plan (issue 13): site size by capacity, colour by
utilisation, capacity popups, the failure explorer's per-scenario loads (payload and a real
headless Chromium), and the report's Capacity section.

The instance (:func:`tight_instance`) is built so that every feature shows, with expected
values worked out by hand:

* cluster A (10 points of 1 request/s) has two candidates of 10.05 requests/s: both are
  needed, each runs at 50 % in normal operation and the survivor of either failure at
  10 / 10.05 = 99.5 % (saturated, >= 99 %);
* cluster B (4 points of 1 request/s, ~210 km away) has one candidate of 40 requests/s:
  10 % utilisation, below the 40 % thin-utilisation warning;
* cluster C (6 points of 1 request/s, ~180 km from A and ~330 km from B) has three
  candidates of 4 requests/s: two carry the normal load but not a failure (one left: 6 > 4),
  so all three open, 50 % each (75 % under one of their failures, with the most even
  flow);
* one more candidate has a 0.05 kW power envelope: it cannot host the workload and is
  excluded (``candidates_excluded.csv``).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import shutil

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("folium")

from helpers import ON_NET  # noqa: E402
from test_maps import EVIL, EVIL_ESCAPED, payload  # noqa: E402
from test_report import Page, VisibleText, lookup  # noqa: E402

from coverage import plan_sites  # noqa: E402
from coverage.errors import InputValidationError  # noqa: E402
from coverage.outputs.maps import capacity as mapcap  # noqa: E402
from coverage.outputs.maps import plan_map, save_map  # noqa: E402
from coverage.outputs.maps.style import (  # noqa: E402
    SATURATED_AT,
    SITE_SIZE_MAX_PX,
    SITE_SIZE_MIN_PX,
    THIN_BELOW,
)
from coverage.outputs.plandir import write_report  # noqa: E402
from coverage.outputs.report import SECTIONS  # noqa: E402

try:  # the browser test reuses tests/test_browser.py (skipped there without selenium)
    import test_browser as tb
    from test_browser import browser  # noqa: F401 - the fixture
except pytest.skip.Exception:
    tb = None

BUDGET_MS = 23.0  # on-net FTTH p99: ~116 km radius (as tests/test_capacity.py)


def tight_instance(*, domains: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The instance of the module docstring (demand with a ``load_rps`` column)."""
    rng = np.random.default_rng(13)

    def cluster(prefix: str, n: int, lat: float, lon: float) -> pd.DataFrame:
        return pd.DataFrame({
            "demand_id": [f"{prefix}{i}" for i in range(n)],
            "lat": lat + rng.uniform(-0.05, 0.05, n),
            "lon": lon + rng.uniform(-0.05, 0.05, n),
            "population": np.full(n, 1000),
            "load_rps": np.ones(n),
        })

    demand = pd.concat([cluster("a", 10, 45.0, 5.0), cluster("b", 4, 46.5, 7.2),
                        cluster("c", 6, 43.6, 6.2)], ignore_index=True)
    sites = pd.DataFrame({
        "site_id": ["A1", "A2", "B1", "C1", "C2", "C3", "X1"],
        "name": ["Alpha one", "Alpha two", EVIL, "C one", "C two", "C three", "Tiny"],
        "lat": [45.0, 45.02, 46.5, 43.6, 43.63, 43.58, 45.01],
        "lon": [5.0, 5.03, 7.2, 6.2, 6.22, 6.18, 5.01],
        "capacity_rps": [10.05, 10.05, 40.0, 4.0, 4.0, 4.0, 50.0],
        "power_kw": [10.0, None, None, None, None, None, 0.05],
    })
    if domains:
        sites["failure_domain"] = ["a", "a", "b", "c1", "c2", "c3", "x"]
    return demand, sites


@functools.cache
def tight_plan(domains: bool = False):
    demand, sites = tight_instance(domains=domains)
    return plan_sites(demand, sites, budget_ms=BUDGET_MS, model=ON_NET, failures=1,
                      strategy="full", kmedian_time_limit_s=2)


@functools.cache
def plain_plan():
    """The same instance, uncapacitated (no load column, no capacity column)."""
    demand, sites = tight_instance()
    return plan_sites(demand.drop(columns=["load_rps"]),
                      sites.drop(columns=["capacity_rps", "power_kw"]), budget_ms=BUDGET_MS,
                      model=ON_NET, failures=1, strategy="full", kmedian_time_limit_s=2)


def map_payload(plan, tmp_path, name: str = "map.html") -> tuple[dict, str]:
    text = save_map(plan_map(plan, tiles=None), tmp_path / name).read_text(encoding="utf-8")
    return payload(text), text


def site_order(data: dict, plan) -> list[str]:
    """Site ids in the payload's drawing order (the plan's sites: all located here)."""
    ids = plan.sites["site_id"].astype(str).tolist()
    assert len(data["sites"]["lat"]) == len(ids)
    return ids


# --------------------------------------------------------------------------------------
# the instance and Plan.scenario_loads
# --------------------------------------------------------------------------------------

def test_the_instance_is_what_the_docstring_says():
    plan = tight_plan()
    s = plan.sites.set_index("site_id")
    assert sorted(s.index) == ["A1", "A2", "B1", "C1", "C2", "C3"]
    assert plan.excluded["site_id"].tolist() == ["X1"]
    assert plan.summary()["candidates_excluded"] == 1
    assert s.loc["A1", "utilisation"] == pytest.approx(5 / 10.05, abs=0.01)
    assert s.loc["A1", "worst_utilisation"] == pytest.approx(10 / 10.05, abs=1e-3)
    assert s.loc["A1", "worst_failure"] == "A2"
    assert s.loc["B1", "utilisation"] == pytest.approx(0.1)
    assert s.loc["C1", "utilisation"] == pytest.approx(0.5, abs=0.01)
    assert s.loc["A1", "n_accelerators"] > 0 and s.loc["A1", "power_kw"] == 10.0
    info = plan.summary()["capacity"]
    assert info["sites_below_40pct"] == 1 and info["load_shed_max_rps"] == pytest.approx(0)
    assert len(plan.capacity_scenarios) == 7  # normal operation + 6 single failures


def test_scenario_loads_agree_with_the_site_and_scenario_tables():
    plan = tight_plan()
    sl = plan.scenario_loads
    sc = plan.capacity_scenarios
    assert list(sl.columns) == ["scenario", "site_id", "failed", "load_rps", "utilisation"]
    assert len(sl) == len(sc) * len(plan.sites)
    normal = sl[sl["scenario"] == 0].set_index("site_id")
    s = plan.sites.set_index("site_id")
    assert not normal["failed"].any()
    assert normal.loc[s.index, "load_rps"].to_numpy() == pytest.approx(s["load_rps"])
    assert normal.loc[s.index, "utilisation"].to_numpy() == pytest.approx(s["utilisation"])
    cap = s["capacity_rps"]
    for r, g in sl.groupby("scenario"):
        row = sc.iloc[r]
        failed = set() if r == 0 else set(str(row["failed_site_ids"]).split(";"))
        assert set(g.loc[g["failed"], "site_id"]) == failed & set(s.index)
        assert (g.loc[g["failed"], "load_rps"] == 0).all()
        assert g["load_rps"].sum() == pytest.approx(row["served_rps"], rel=1e-6)
        u = g.set_index("site_id")["load_rps"] / cap
        assert g["utilisation"].to_numpy() == pytest.approx(u.loc[g["site_id"]].to_numpy())
        assert u.max() == pytest.approx(row["worst_utilisation"])
        assert u.idxmax() == row["worst_site_id"] or u.max() == pytest.approx(
            u.loc[row["worst_site_id"]])
    # the worst utilisation of each site in sites.csv is its largest over the scenarios
    worst = sl.groupby("site_id")["utilisation"].max()
    assert worst.loc[s.index].to_numpy() == pytest.approx(s["worst_utilisation"])


def test_scenario_loads_are_skipped_above_the_bound(monkeypatch, caplog, tmp_path):
    import coverage.planner.plan as planmod

    monkeypatch.setattr(planmod, "MAX_SCENARIO_LOADS", 5)
    demand, sites = tight_instance()
    with caplog.at_level(logging.WARNING, logger="coverage.planner.plan"):
        plan = plan_sites(demand, sites, budget_ms=BUDGET_MS, model=ON_NET, failures=1,
                          strategy="full", kmedian_time_limit_s=2)
    assert plan.scenario_loads is None
    assert "per-scenario site loads not kept" in caplog.text
    assert plan.capacity_scenarios is not None and len(plan.capacity_scenarios) == 7
    # the map still finds each site's own failure row, and shows its shed only
    data, _ = map_payload(plan, tmp_path)
    cap = data["capacity"]
    ids = site_order(data, plan)
    assert "not kept" in cap["note"]
    assert cap["scen"]["site"] == [] and set(cap["scen"]["off"]) == {0}
    for j, sid in enumerate(ids):
        q = cap["siteScen"][j]
        assert plan.capacity_scenarios["failed_site_ids"].iloc[cap["scen"]["row"][q]] == sid
        assert cap["scen"]["failed"][q] == [j]


# --------------------------------------------------------------------------------------
# the payload
# --------------------------------------------------------------------------------------

def test_site_sizes_grow_with_capacity():
    sizes = mapcap.site_sizes([1.0, 36.0, 100.0, 0.0, np.nan, 64.0])
    assert sizes[2] == SITE_SIZE_MAX_PX
    assert sizes[0] == sizes[3] == sizes[4] == SITE_SIZE_MIN_PX  # 1: clipped
    assert sizes[1] == pytest.approx(SITE_SIZE_MAX_PX * 0.6, abs=0.05)  # sqrt(36 / 100)
    assert sizes[5] == pytest.approx(SITE_SIZE_MAX_PX * 0.8, abs=0.05)
    rng = np.random.default_rng(0)
    cap = rng.lognormal(3, 2, 200)
    s = mapcap.site_sizes(cap)
    o = np.argsort(cap)
    assert (np.diff(s[o]) >= 0).all()
    assert (s >= SITE_SIZE_MIN_PX).all() and (s <= SITE_SIZE_MAX_PX).all()


def test_payload_sizes_colours_and_popups(tmp_path):
    plan = tight_plan()
    data, text = map_payload(plan, tmp_path)
    cap = data["capacity"]
    ids = site_order(data, plan)
    s = plan.sites.set_index("site_id").loc[ids]
    # size: monotone in capacity, the largest capacity at the upper bound
    sizes = np.array(cap["size"])
    order = np.argsort(s["capacity_rps"].to_numpy(), kind="stable")
    assert (np.diff(sizes[order]) >= 0).all()
    assert sizes[ids.index("B1")] == SITE_SIZE_MAX_PX
    assert sizes[ids.index("C1")] < sizes[ids.index("A1")] < sizes[ids.index("B1")]
    assert cap["cap"] == pytest.approx(s["capacity_rps"].tolist())
    assert cap["load"] == pytest.approx(s["load_rps"].tolist(), abs=1e-3)
    assert cap["util"] == pytest.approx(s["utilisation"].tolist(), abs=1e-5)
    # colour: the utilisation's place on the sequential palette
    palette = cap["palette"]
    assert palette == mapcap.utilisation_palette()
    want = [palette[round(min(1.0, u) * (len(palette) - 1))] for u in s["utilisation"]]
    assert data["sites"]["color"] == want
    assert len(set(want)) >= 2  # 10 % and 50 % are different colours
    # thin: below 40 % (B1 only)
    assert cap["thin"] == [int(u < THIN_BELOW) for u in s["utilisation"]]
    assert [ids[j] for j, t in enumerate(cap["thin"]) if t] == ["B1"]
    # popups: accelerators, power, capacity, load, utilisation, worst and its failure
    a1 = data["sites"]["popup"][ids.index("A1")]
    assert f"{s.loc['A1', 'n_accelerators']:,.0f}" in a1 and "10.0 kW" in a1
    assert "10.1 requests/s" in a1  # 10.05 capacity
    assert f"{100 * s.loc['A1', 'utilisation']:.1f} %" in a1
    assert f"{100 * s.loc['A1', 'worst_utilisation']:.1f} %" in a1
    assert "under the failure of</th><td>A2<" in a1
    b1 = data["sites"]["popup"][ids.index("B1")]
    assert "10.0 %" in b1 and "thin" in b1 and "capacity given" in b1
    assert EVIL not in text and EVIL_ESCAPED in b1
    # the legend and the style
    assert "Sites: utilisation in normal operation" in text
    assert "thin utilisation): 1 of 6 sites" in text
    assert ".covmap-site-thin" in text


def test_explorer_scenarios_match_the_scenario_table(tmp_path):
    plan = tight_plan()
    data, _ = map_payload(plan, tmp_path)
    cap = data["capacity"]
    X = cap["scen"]
    ids = site_order(data, plan)
    sc = plan.capacity_scenarios
    sl = plan.scenario_loads.set_index(["scenario", "site_id"])
    assert cap["note"] is None and cap["perSite"] == 0
    assert sorted(X["row"]) == list(range(1, 7))
    for j, sid in enumerate(ids):
        q = cap["siteScen"][j]
        r = X["row"][q]
        row = sc.iloc[r]
        assert row["failed_site_ids"] == sid and X["label"][q] == sid
        assert X["failed"][q] == [j]
        assert X["shed"][q] == pytest.approx(abs(row["shed_rps"]), abs=1e-3)
        assert X["feasible"][q] == int(row["feasible"])
        assert X["worst"][q] == pytest.approx(row["worst_utilisation"], abs=1e-5)
        assert ids[X["worstSite"][q]] == row["worst_site_id"]
        got = dict(zip(X["site"][X["off"][q]:X["off"][q + 1]],
                       X["sload"][X["off"][q]:X["off"][q + 1]], strict=True))
        # every surviving site, with its load in that scenario
        assert sorted(got) == [k for k in range(len(ids)) if k != j]
        for k, load in got.items():
            assert load == pytest.approx(sl.loc[(r, ids[k]), "load_rps"], abs=1e-3)
        # largest load increase first
        inc = [got[k] - cap["load"][k] for k in X["site"][X["off"][q]:X["off"][q + 1]]]
        assert inc == sorted(inc, reverse=True)
    # A1 fails: A2 takes its load and saturates
    q = cap["siteScen"][ids.index("A1")]
    first = X["site"][X["off"][q]]
    assert ids[first] == "A2"
    assert X["sload"][X["off"][q]] / cap["cap"][first] >= SATURATED_AT


def test_failure_domains_fail_together_in_the_explorer(tmp_path):
    plan = tight_plan(domains=True)
    data, _ = map_payload(plan, tmp_path)
    cap = data["capacity"]
    X = cap["scen"]
    ids = site_order(data, plan)
    a1, a2 = ids.index("A1"), ids.index("A2")
    assert cap["siteScen"][a1] == cap["siteScen"][a2] >= 0
    q = cap["siteScen"][a1]
    assert sorted(X["failed"][q]) == sorted([a1, a2])
    assert set(plan.capacity_scenarios["failed_site_ids"].iloc[X["row"][q]].split(";")) == \
        {"A1", "A2"}
    # cluster A is excused with its whole domain down: nothing shed, nobody else loaded more
    assert X["shed"][q] == pytest.approx(0.0, abs=1e-6)
    survivors = X["site"][X["off"][q]:X["off"][q + 1]]
    assert a1 not in survivors and a2 not in survivors


def test_explorer_keeps_the_largest_increases_when_too_many(monkeypatch, tmp_path):
    monkeypatch.setattr(mapcap, "MAX_EXPLORER_ENTRIES", 1)  # 25 per scenario at least
    plan = tight_plan()
    loads = plan.scenario_loads.copy()
    cap = mapcap.scenario_payload(
        plan.capacity_scenarios, loads, plan.sites["site_id"].tolist(),
        {s: j for j, s in enumerate(plan.sites["site_id"])},
        plan.sites["load_rps"].to_numpy(), plan.sites["capacity_rps"].to_numpy())
    assert cap["perSite"] == 0  # 25 >= 6 sites: everything is kept anyway
    monkeypatch.setattr(mapcap, "MAX_EXPLORER_ENTRIES", 0)
    monkeypatch.setattr(mapcap, "MIN_EXPLORER_SITES", 2)
    cap = mapcap.scenario_payload(
        plan.capacity_scenarios, loads, plan.sites["site_id"].tolist(),
        {s: j for j, s in enumerate(plan.sites["site_id"])},
        plan.sites["load_rps"].to_numpy(), plan.sites["capacity_rps"].to_numpy())
    assert cap["perSite"] == 2
    X = cap["scen"]
    ids = plan.sites["site_id"].tolist()
    util = plan.scenario_loads.set_index(["scenario", "site_id"])["utilisation"]
    for q, r in enumerate(X["row"]):
        kept = X["site"][X["off"][q]:X["off"][q + 1]]
        saturated = [k for k in kept if util.loc[(r, ids[k])] >= SATURATED_AT]
        assert len(kept) <= 2 + len(saturated)
        assert len(kept) >= 2


def test_no_failure_tolerated_has_no_explorer_scenario(tmp_path):
    demand, sites = tight_instance()
    plan = plan_sites(demand, sites, budget_ms=BUDGET_MS, model=ON_NET, failures=0,
                      strategy="full", kmedian_time_limit_s=2)
    assert len(plan.capacity_scenarios) == 1  # normal operation only
    data, _ = map_payload(plan, tmp_path)
    assert set(data["capacity"]["siteScen"]) == {-1}
    assert data["capacity"]["scen"]["row"] == []
    plan.with_sweep((23,), time_limit_s=5).to_dir(tmp_path / "k0", map=False, gis=False)
    seen = VisibleText((tmp_path / "k0" / "report.html").read_text(encoding="utf-8")).text
    assert "normal operation only (no failure scenario" in seen
    assert "highest worst utilisation" not in seen


def test_uncapacitated_map_has_no_capacity_part(tmp_path):
    plan = plain_plan()
    assert plan.capacity_scenarios is None and plan.scenario_loads is None
    data, text = map_payload(plan, tmp_path)
    assert "capacity" not in data
    assert "covmap-site-cap {" not in text and "Sites: utilisation" not in text
    assert "Sites by tier" in text


# --------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cap_dir(tmp_path_factory):
    plan = tight_plan().with_sweep((23, 30), time_limit_s=5)
    out = tmp_path_factory.mktemp("capreport")
    plan.to_dir(out, map=False, gis=False)
    return out


def test_report_has_a_capacity_section(cap_dir):
    text = (cap_dir / "report.html").read_text(encoding="utf-8")
    page = Page(text)
    want = list(SECTIONS)
    want.insert(want.index("sites") + 1, "capacity")
    assert page.sections == want
    assert '<a href="#capacity">Capacity</a>' in text
    assert len(page.images_by_section["capacity"]) == 1
    s = json.loads((cap_dir / "summary.json").read_text())
    for key in ("status", "lower_bound", "fleet_utilisation", "sites_below_40pct",
                "worst_utilisation", "scenarios_checked", "load_shed_max_rps",
                "load_total_rps", "capacity_total_rps"):
        assert page.values[f"capacity.{key}"] == lookup(s, f"capacity.{key}"), key
    for key, v in page.values.items():
        if not key.startswith(("sweep.", "capacity_scenarios.")):
            assert v == lookup(s, key), key
    assert page.values["candidates_excluded"] == 1
    sc = pd.read_csv(cap_dir / "capacity_scenarios.csv")
    worst = sc.iloc[int(sc["worst_utilisation"].idxmax())]
    assert page.values["capacity_scenarios.worst.failed_site_ids"] == worst["failed_site_ids"]
    assert page.values["capacity_scenarios.worst.worst_site_id"] == worst["worst_site_id"]
    assert page.values["capacity_scenarios.failures"] == len(sc) - 1
    # failure scenarios served: normal operation (the first row) is not one (tester 157:
    # "12 of 11")
    served = sc["feasible"].astype(str).str.lower().isin(("true", "1"))
    assert page.values["capacity_scenarios.feasible"] == int(served.iloc[1:].sum())
    assert page.values["capacity_scenarios.feasible"] <= len(sc) - 1
    assert page.values["capacity_scenarios.max_shed_rps"] == pytest.approx(sc["shed_rps"].max())
    seen = VisibleText(text).text
    i = seen.index("A capacitated plan")
    section = seen[i:seen.index("Which site's failure hurts most", i)]
    assert "load_rps column" in section and "capacity_rps column" in section
    assert "candidates_excluded.csv" in section and "thin utilisation" in section
    # the per-site table: every site, highest utilisation first; then the worst scenarios
    sites = pd.read_csv(cap_dir / "sites.csv")
    top = sites.sort_values("utilisation", ascending=False)
    for sid in top["site_id"]:
        assert sid in section
    assert section.index(f"{top['utilisation'].iloc[0]:.1%}") < \
        section.index(f"{top['utilisation'].iloc[-1]:.1%}")
    assert "The 6 failure scenario(s) with the highest worst utilisation" in section
    assert "<script" not in text.lower() and EVIL_ESCAPED in text


def test_capacity_report_regenerates_identically(cap_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(cap_dir, copy)
    (copy / "report.html").unlink()
    assert write_report(copy).read_bytes() == (cap_dir / "report.html").read_bytes()


def test_capacity_report_needs_its_scenario_table(cap_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(cap_dir, copy)
    (copy / "capacity_scenarios.csv").unlink()
    with pytest.raises(InputValidationError, match=re.escape(
            "missing capacity_scenarios.csv (summary.json describes a capacitated plan)")):
        write_report(copy)


def test_uncapacitated_report_has_no_capacity_section(tmp_path):
    plain_plan().with_sweep((23, 30), time_limit_s=5).to_dir(tmp_path, map=False, gis=False)
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert Page(text).sections == list(SECTIONS)
    assert "#capacity" not in text and "capacity_scenarios.csv" not in text


# --------------------------------------------------------------------------------------
# a real browser (headless Chromium; the helpers of tests/test_browser.py)
# --------------------------------------------------------------------------------------

@pytest.mark.skipif(tb is None, reason="selenium is not installed")
def test_browser_explorer_shows_the_rerouted_loads(browser, tmp_path):  # noqa: F811
    plan = tight_plan()
    m = plan_map(plan, tiles=None)
    path = save_map(m, tmp_path / "cap.html")
    tb._open(browser, path)
    assert tb._errors(browser) == []
    ids = plan.sites["site_id"].astype(str).tolist()
    s = plan.sites.set_index("site_id")
    # markers sized by capacity in the page
    widths = browser.execute_script(
        "var out = {}; document.querySelectorAll('.covmap-site span').forEach(function (e) {"
        " out[e.getAttribute('data-site')] = e.getBoundingClientRect().width; });"
        "return out;")
    assert widths[str(ids.index("B1"))] == pytest.approx(SITE_SIZE_MAX_PX, abs=0.5)
    assert widths[str(ids.index("C1"))] < widths[str(ids.index("A1"))] < \
        widths[str(ids.index("B1"))]
    assert browser.execute_script(
        "return document.querySelectorAll('.covmap-site-thin').length") == 1
    # a site popup with its capacity figures
    a1 = ids.index("A1")
    _, text = tb._click_site(browser, a1)
    assert "Capacity" in text and "10.1 requests/s" in text
    assert f"{100 * s.loc['A1', 'worst_utilisation']:.1f} %" in text
    # fail A1 in the explorer: every surviving site's load and utilisation, A2 saturated
    text = tb._fail_site(browser, a1)
    assert "Capacity: where its load goes" in text
    r = int(np.flatnonzero(plan.capacity_scenarios["failed_site_ids"] == "A1")[0])
    want = plan.scenario_loads[(plan.scenario_loads["scenario"] == r)
                               & ~plan.scenario_loads["failed"]].set_index("site_id")
    rows = browser.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll("
        "'.covmap-explorer-out .covmap-cap-row'), function (e) { return {"
        " site: +e.getAttribute('data-site'), load: +e.getAttribute('data-load'),"
        " util: +e.getAttribute('data-util'), sat: e.classList.contains('covmap-cap-sat'),"
        " text: e.innerText}; });")
    assert sorted(ids[x["site"]] for x in rows) == sorted(want.index)
    for x in rows:
        sid = ids[x["site"]]
        # the page carries loads to 0.001 rps: utilisations agree to about that
        assert x["load"] == pytest.approx(want.loc[sid, "load_rps"], abs=1e-3)
        assert x["util"] == pytest.approx(want.loc[sid, "utilisation"], abs=1e-3)
        assert x["sat"] == (want.loc[sid, "utilisation"] >= SATURATED_AT)
        assert f"{100 * want.loc[sid, 'utilisation']:.1f} %" in x["text"]
        assert f"{want.loc[sid, 'load_rps']:,.1f}" in x["text"]
    assert "A2" in [ids[x["site"]] for x in rows if x["sat"]]
    assert ids[rows[0]["site"]] == "A2"  # it takes the failed site's load
    shed = browser.find_element("css selector", ".covmap-explorer-out .covmap-cap-shed").text
    assert shed == "0.0 requests/s"
    stats = browser.execute_script("return window.covmapLast.stats.capacity")
    assert stats["scenario"] == r and stats["sites"] == len(want)
    assert stats["saturated"] == sum(x["sat"] for x in rows)
    assert "A2" in text and "99.5 %" in text
    # a site named <script>: text in the explorer, no alert
    b1 = ids.index("B1")
    text = tb._fail_site(browser, b1)
    assert EVIL in text
    tb._no_alert(browser)
    assert tb._errors(browser) == []
    assert not math.isnan(stats["shed"])


def test_a_domain_failure_names_its_chosen_sites():
    """Tester 157: a failure domain's scenario lists every candidate of the domain, and
    the map's legend read "gn1, gn2, ... (11 ids) failed" of a plan where one chosen site
    had: the chosen ones are named, the others counted."""
    from coverage.outputs.maps.capacity import _failure_text

    assert _failure_text("a;b;c;d", {"b", "x"}) == \
        "b (with 3 other candidates of its failure domain)"
    assert _failure_text("a;b", {"a", "b"}) == "a, b"
    assert _failure_text("a;b", set()) == "a, b"
    assert _failure_text("(none)", {"a"}) == "none (normal operation)"


def test_the_map_has_a_title():
    """Tester 157: map.html's <title> was empty."""
    import folium

    from coverage.outputs.maps.offline import render_map_html

    assert "<title>edge-coverage map</title>" in render_map_html(
        folium.Map(location=[0, 0], tiles=None))


@pytest.mark.skipif(tb is None, reason="selenium is not installed")
def test_browser_a_priced_map_says_what_the_explorers_utilisation_is_over(
        browser, tmp_path):  # noqa: F811
    """A comparison's map (``priced``): the explorer's utilisations stay over the plan's
    capacity, and the failure's panel says so; the markers' thin rings follow the priced
    utilisation."""
    plan = tight_plan()
    ids = plan.sites["site_id"].astype(str).tolist()
    s = plan.sites.set_index("site_id").loc[ids]
    priced = pd.DataFrame({"site_id": ids, "n_accelerators": 2.0,
                           "capacity_rps": s["load_rps"].to_numpy() / 0.75,
                           "peak_load_rps": s["load_rps"].to_numpy(),
                           "utilisation_peak": 0.75, "utilisation_worst": 0.8})
    path = save_map(plan_map(plan, tiles=None, priced=priced), tmp_path / "priced.html")
    tb._open(browser, path)
    assert tb._errors(browser) == []
    assert browser.execute_script(
        "return document.querySelectorAll('.covmap-site-thin').length") == 0
    a1 = ids.index("A1")
    _, text = tb._click_site(browser, a1)
    assert "Priced accelerators (compare)" in text and "75.0 %" in text
    text = tb._fail_site(browser, a1)
    assert "Capacity: where its load goes" in text
    assert "over the plan's capacity (the power envelope's)" in text
