"""Edge or region (issue 14 parts 2-4 and 8): the cost model against hand computation, the
right-sized fleet's capacity under every failure re-checked by an independent max-flow,
each advisor warning triggered by a case built for it and absent from one built against
it, and ``edge-coverage compare`` end to end."""

from __future__ import annotations

import functools
import json
import subprocess

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from helpers import EXE, run, write
from test_capacity import haversine

import coverage
from coverage.advisor import CODES
from coverage.comparison import right_size, sovereign_mask
from coverage.errors import InputValidationError
from coverage.model.costs import (
    CostModel,
    annuity_factor,
    breakeven_utilisation,
    fleet_cost,
    region_cost,
)
from coverage.model.latency import LatencyModel

# ----------------------------------------------------------------- the cost model by hand

TINY = {
    "fleet": {"depreciation_years": 4.0, "cost_of_capital": 0.0, "ztp": True,
              "truck_roll_usd": 100.0, "idle_power_share": 0.5},
    "edge": {"t1": {"cabinet_usd": 1000.0, "install_usd": 200.0, "install_usd_manual": 800.0,
                    "redundancy_usd": 0.0, "power_usd_per_kwh": 0.1,
                    "lease_usd_per_kw_month": 10.0, "rent_usd_per_month": 50.0,
                    "backhaul_usd_per_month": 100.0, "remote_ops_usd_per_year": 300.0,
                    "truck_rolls_per_year_ztp": 1.0, "truck_rolls_per_year_manual": 5.0}},
    "accelerators": {"X": {"unit_usd": 1000.0, "host_usd": 2000.0, "accelerators_per_host": 2,
                           "region_hour_usd": 1.0}},
    "region": {"utilisation": 0.5, "network_usd_per_million_requests": 0.0},
}
SECONDS = 365 * 86400


def tiny_fleet(model):
    # site A: 3 accelerators (2 hosts), mean 150 rps of 300 (u = 0.5); site B: 1, idle
    return fleet_cost(model, tiers=["t1", "t1"], n_accelerators=[3, 1],
                      mean_load_rps=[150.0, 0.0], accelerator="X", throughput_rps=100.0,
                      accelerator_w=100.0, host_w=200.0, pue=[1.5, 1.5])


def test_tiny_fleet_and_region_cost_by_hand():
    m = CostModel.builtin().with_overrides(TINY)
    f = tiny_fleet(m)
    # A: capex 3x1000 + 2x2000 + 1000 + 200 = 8200 over 4 years = 2050;
    #    energy (2x200 + 3x100x(0.5 + 0.5x0.5)) W = 625 W x 1.5 x 8760 h x 0.1 = 821.25;
    #    lease 700 W x 1.5 = 1.05 kW x 10 x 12 + 50 x 12 = 726; backhaul 1200; ops 300 + 100
    # B: capex 4200 / 4 = 1050; energy (200 + 100 x 0.5) W x 1.5 x 8760 x 0.1 = 328.5;
    #    lease 0.45 x 120 + 600 = 654; backhaul 1200; ops 400
    a_total = 2050 + 821.25 + 726 + 1200 + 400
    b_total = 1050 + 328.5 + 654 + 1200 + 400
    assert f.sites.capex_usd.tolist() == [8200.0, 4200.0]
    assert f.total_usd_per_year == pytest.approx(a_total + b_total)
    assert f.by_line_usd_per_year == pytest.approx(
        {"capital": 3100.0, "energy": 821.25 + 328.5, "lease": 726 + 654, "backhaul": 2400.0,
         "operations": 800.0})
    requests_m = 150 * SECONDS / 1e6
    assert f.cost_per_million_requests == pytest.approx((a_total + b_total) / requests_m)
    assert f.utilisation == pytest.approx(150 / 400)
    assert f.truck_rolls_per_year == 2.0
    # the region: 150 rps / (100 rps x 0.5) = 3 accelerators all year at $1 an hour
    r = region_cost(m, mean_load_rps=150.0, accelerator="X", throughput_rps=100.0)
    assert r.accelerators_mean == pytest.approx(3.0)
    assert r.total_usd_per_year == pytest.approx(3 * 8760.0)
    assert r.cost_per_million_requests == pytest.approx(26280.0 / requests_m)
    # breakeven, the load scaled by s at every site: fixed 8829.75 - 0.5 x 197.1 = 8731.2
    # (A's busy energy at full use is 0.15 kW x 1.5 x 8760 x 0.1 = 197.1, at its load
    # 98.55; B idle); the present requests at the region's price cost 26,280 a year
    u = breakeven_utilisation(f, r.cost_per_million_requests)
    s_star = 8731.2 / (26280.0 - 98.55)
    assert u == pytest.approx(s_star * 150 / 400)
    # the price at that load is the region's, computed from the lines again
    g = fleet_cost(m, tiers=["t1", "t1"], n_accelerators=[3, 1],
                   mean_load_rps=[150.0 * s_star, 0.0], accelerator="X",
                   throughput_rps=100.0, accelerator_w=100.0, host_w=200.0, pue=[1.5, 1.5])
    assert g.cost_per_million_requests == pytest.approx(r.cost_per_million_requests)
    # without a load, every site at u: fixed 8731.2 again (the idle fleet's whole cost),
    # revenue at full use 400 rps x a year = 70,080
    idle = fleet_cost(m, tiers=["t1", "t1"], n_accelerators=[3, 1], mean_load_rps=[0.0, 0.0],
                      accelerator="X", throughput_rps=100.0, accelerator_w=100.0,
                      host_w=200.0, pue=[1.5, 1.5])
    assert idle.total_usd_per_year == pytest.approx(8731.2)
    assert breakeven_utilisation(idle, r.cost_per_million_requests) == pytest.approx(
        8731.2 / (70080.0 - 262.8))


def test_the_breakeven_agrees_with_the_prices_on_mixed_tiers():
    """Tester 120: with costly energy at some tiers, a fleet cheaper per request than the
    region was said not to reach its breakeven (every site taken at one utilisation). The
    breakeven scales the present load, so it is cleared exactly when the fleet costs
    less, on either side of the region's price."""
    m = CostModel.builtin().with_overrides(TINY).with_overrides(
        {"edge": {"t2": {"power_usd_per_kwh": 5.0}}})
    f = fleet_cost(m, tiers=["t1", "t2"], n_accelerators=[3, 2], mean_load_rps=[30.0, 150.0],
                   accelerator="X", throughput_rps=100.0, accelerator_w=100.0, host_w=200.0,
                   pue=[1.5, 1.5])
    for price in (f.cost_per_million_requests * 0.99, f.cost_per_million_requests * 1.01):
        u = breakeven_utilisation(f, price)
        assert u is not None
        assert (f.utilisation >= u) == (f.cost_per_million_requests <= price)


def test_without_ztp_installs_and_truck_rolls_cost_more():
    m = CostModel.builtin().with_overrides(TINY)
    with_ztp = tiny_fleet(m)
    without = tiny_fleet(m.with_overrides({"fleet": {"ztp": False}}))
    # operations 300 + 5 x 100 per site; install 800 instead of 200 over 4 years
    assert without.by_line_usd_per_year["operations"] == pytest.approx(1600.0)
    assert without.ops_install_usd_per_year == pytest.approx(1600.0 + 2 * 800 / 4)
    assert with_ztp.ops_install_usd_per_year == pytest.approx(800.0 + 2 * 200 / 4)
    assert with_ztp.ops_install_usd_per_year_other_mode == pytest.approx(
        without.ops_install_usd_per_year)
    assert without.truck_rolls_per_year == 10.0


def test_annuity_and_never_breaking_even():
    assert annuity_factor(0.0, 4) == 0.25
    # r / (1 - (1 + r)^-n) by hand for 10 %, 5 years
    assert annuity_factor(0.1, 5) == pytest.approx(0.1 / (1 - 1.1 ** -5))
    m = CostModel.builtin().with_overrides(TINY)
    f = tiny_fleet(m)
    assert breakeven_utilisation(f, 0.001) is None  # a region this cheap is never matched


def test_builtin_cost_model_is_complete_and_sourced():
    m = CostModel.builtin()
    assert m.date and set(m.edge) >= {"default", "on-prem", "mec", "metro-colo", "cdn-pop"}
    for t in m.edge.values():
        assert t.sources and t.truck_rolls_per_year_manual >= t.truck_rolls_per_year_ztp
        assert t.install_usd_manual >= t.install_usd
    for name in ("NVIDIA L4", "Jetson AGX Orin 64GB", "GB200 NVL72"):
        assert m.accelerator(name) is not None and m.accelerator(name).sources
    # the chapter: metro and on-prem power at 2-4x a rural region's
    ratio = m.tier("metro-colo").power_usd_per_kwh / m.region.power_usd_per_kwh
    assert 2.0 <= ratio <= 4.0
    assert 0.8 <= m.region.utilisation <= 0.9
    assert m.tier("unknown-tier").name == "default"


@pytest.mark.parametrize("text, match", [
    ("[fleet]\nztp = 3\n", ["ztp must be true or false"]),
    ("[fleet]\ndepreciation_years = 0\n", ["depreciation_years must be a number > 0"]),
    ("[edge.mec]\nrent_usd_per_month = -5\n", ["[edge.'mec']", "rent_usd_per_month"]),
    ("[edge.mec]\nbogus = 1\n", ["unknown key(s) 'bogus'"]),
    ("[accelerators.\"NVIDIA L4\"]\naccelerators_per_host = 1.5\n", ["a whole number"]),
    ("[region]\nutilisation = 1.5\n", ["utilisation must be a number > 0 and <= 1"]),
    ("[nonsense]\nx = 1\n", ["unknown top-level key(s) 'nonsense'"]),
    ("[fleet\n", ["not valid TOML"]),
])
def test_hostile_cost_files_get_one_message(tmp_path, text, match):
    p = write(tmp_path / "costs.toml", text)
    with pytest.raises(InputValidationError) as exc:
        CostModel.from_file(p)
    for m in [str(p), *match]:
        assert m in str(exc.value)
    with pytest.raises(InputValidationError, match="not found"):
        CostModel.from_file(tmp_path / "absent.toml")


def test_a_cost_file_amends_field_by_field(tmp_path):
    p = write(tmp_path / "c.toml", "[edge.mec]\nrent_usd_per_month = 10.0\n"
              "[edge.factory]\nbackhaul_usd_per_month = 1.0\n[fleet]\nztp = false\n")
    m = CostModel.from_file(p)
    base = CostModel.builtin()
    assert m.tier("mec").rent_usd_per_month == 10.0
    assert m.tier("mec").cabinet_usd == base.tier("mec").cabinet_usd
    assert m.tier("factory").backhaul_usd_per_month == 1.0  # new: from [edge.default]
    assert m.tier("factory").cabinet_usd == base.tier("default").cabinet_usd
    assert m.fleet.ztp is False and str(p) in m.source


# ------------------------------------------------------------------ small instances


def town(n=40, seed=0, lat0=50.0, lon0=10.0, spread=1.0):
    """Demand points around (lat0, lon0) and candidates on some of them (metro-colo)."""
    rng = np.random.default_rng(seed)
    demand = pd.DataFrame({"lat": lat0 + rng.uniform(-spread, spread, n),
                           "lon": lon0 + rng.uniform(-spread, spread, n),
                           "population": rng.integers(10_000, 200_000, n).astype(float)})
    pick = rng.choice(n, size=12, replace=False)
    sites = pd.DataFrame({"site_id": [f"s{i}" for i in range(len(pick))],
                          "lat": demand["lat"].to_numpy()[pick],
                          "lon": demand["lon"].to_numpy()[pick], "tier": "metro-colo"})
    return demand, sites


def regions_at(points):
    return pd.DataFrame({"region_id": [f"r{i}" for i in range(len(points))],
                         "lat": [p[0] for p in points], "lon": [p[1] for p in points],
                         "provider": "test"})


FAR = regions_at([(-40.0, 170.0), (-41.0, 171.0)])  # New Zealand: no European user
NEAR = regions_at([(50.0, 10.0), (50.2, 10.2)])


def run_compare(demand, sites, **kw):
    kw.setdefault("regions", FAR)
    kw.setdefault("budget_ms", 30.0)
    kw.setdefault("time_limit_s", 60.0)
    kw.setdefault("kmedian_time_limit_s", 10.0)
    return coverage.compare(demand, sites, **kw)


def test_compare_document_has_the_contract():
    demand, sites = town()
    c = run_compare(demand, sites)
    d = c.to_dict()
    json.dumps(d)  # JSON-ready
    # compare.json as a dict: equal to the JSON text read back (review 162: the sources
    # were tuples in the dict, lists in the file)
    from coverage.outputs.plandir import json_text
    assert d == json.loads(json_text(d))
    for side in ("edge", "region"):
        for key in ("coverage", "utilisation", "cost_per_million_requests",
                    "cost_per_user_month"):
            assert key in d[side], (side, key)
    assert "utilisation" in d["breakeven"]
    assert all(set(w) == {"code", "message", "figures"} for w in d["warnings"])
    assert [r["driver"] for r in d["decision"]] == [
        "latency budget", "demand density", "model size", "data gravity / sovereignty",
        "operations"]
    assert d["edge"]["sites"] == c.plan.summary()["site_count"] == len(c.sites)
    # the fleet's annual cost is the sum of its sites' lines
    assert c.sites["total_usd_per_year"].sum() == pytest.approx(
        d["edge"]["cost_usd_per_year"]["total"])
    # the region's budgets include the chapter's three
    assert {30.0, 50.0, 100.0} <= set(c.region_coverage["budget_ms"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_right_sized_fleet_carries_every_single_failure(seed):
    """An independent max-flow (networkx) over the budget radius: with the priced
    accelerators, normal operation and every single-site failure carry the whole load."""
    demand, sites = town(seed=seed)
    c = run_compare(demand, sites, requests_per_person_day=500.0)
    d = c.document
    assert d["edge"]["sizing"]["capacity_proof_holds"]
    model = LatencyModel()
    radius = model.radius_km(30.0, "ftth", "p99")
    plan = c.plan
    chosen = c.sites["site_id"].tolist()
    sp = sites.set_index("site_id").loc[chosen]
    dist = haversine(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                     sp["lat"].to_numpy()[None, :], sp["lon"].to_numpy()[None, :])
    within = dist <= radius * (1 + 1e-9)
    load = demand["population"].to_numpy() * 500.0 * 3.0 / 86400
    w = coverage.model.workloads.WorkloadCatalog.builtin().get("vision-l4")
    cap = c.sites["n_accelerators"].to_numpy() * w.throughput_rps * 0.8
    assert (c.sites["n_accelerators"] <= c.sites["n_accelerators_envelope"]).all()
    for failed in [None, *range(len(chosen))]:
        g = nx.DiGraph()
        for i in np.flatnonzero(load > 0):
            g.add_edge("s", ("d", i), capacity=float(load[i]))
            for j in np.flatnonzero(within[i]):
                if j != failed:
                    g.add_edge(("d", i), ("f", j), capacity=float("inf"))
        for j in range(len(chosen)):
            if j != failed:
                g.add_edge(("f", j), "t", capacity=float(cap[j]))
        # only users with a surviving site in budget can be served at all
        servable = np.array([within[i][[j for j in range(len(chosen)) if j != failed]].any()
                             for i in range(len(load))])
        flow = nx.maximum_flow_value(g, "s", "t")
        assert flow == pytest.approx(load[servable].sum(), rel=1e-7), failed
    # and the plan is the capacitated one the planner proves
    assert plan.summary()["capacity"]["load_shed_max_rps"] == 0


def test_right_size_rounds_to_whole_systems():
    assert right_size([0.0, 100.0, 1e9], [8, 8, 8], throughput_rps=50.0,
                      target_utilisation=0.8, min_accelerators=1).tolist() == [1, 3, 8]
    assert right_size([100.0, 100.0], [-1, 144], throughput_rps=1.0,
                      target_utilisation=1.0, min_accelerators=72).tolist() == [144, 144]


# ------------------------------------------------------------- each warning, for and against


def test_preference_budget_when_the_region_already_meets_it():
    demand, sites = town()
    hit = run_compare(demand, sites, regions=NEAR, budget_ms=100.0)
    assert "preference-budget" in hit.codes
    w = hit.warnings[hit.codes.index("preference-budget")]
    assert w["figures"]["region_share_within_budget"] >= 0.8
    assert hit.document["verdict"]["recommendation"] == "region"
    miss = run_compare(demand, sites, regions=FAR, budget_ms=100.0)
    assert "preference-budget" not in miss.codes
    assert miss.document["verdict"]["recommendation"] == "edge"
    assert miss.document["region"]["coverage"]["share_within_budget"] == 0.0


def test_model_does_not_fit_for_a_rack_scale_model(tmp_path):
    demand, sites = town()
    big = sites.assign(tier="mec")  # a few kW to 30 kW: no GB200 NVL72 rack (132 kW)
    model = LatencyModel(workload="frontier-moe-gb200-nvl72")
    c = run_compare(demand, big, model=model, budget_ms=100.0)
    assert c.plan is None and not c.document["edge"]["feasible"]
    w = c.warnings[c.codes.index("model-does-not-fit")]
    assert w["figures"]["excluded"] == len(big)
    assert "No edge fleet can serve it" in w["message"]
    assert c.document["verdict"]["recommendation"] == "region"
    out = c.to_dir(tmp_path / "nofit", map=False, gis=False)
    assert sorted(out.written) == ["compare.json", "compare_sites.csv", "region_coverage.csv"]
    assert json.loads((tmp_path / "nofit" / "compare.json").read_text())["edge"]["feasible"] \
        is False
    # the region still has its price and coverage
    assert c.document["region"]["cost_per_million_requests"] > 0
    # some candidates too small for one L4 system: warned, the rest planned
    part = sites.assign(power_kw=[0.2] * 3 + [None] * 9)
    p = run_compare(demand, part)
    assert "model-does-not-fit" in p.codes and p.plan is not None
    assert p.warnings[p.codes.index("model-does-not-fit")]["figures"]["excluded"] == 3
    ok = run_compare(demand, sites)
    assert "model-does-not-fit" not in ok.codes


def test_thin_utilisation_for_thin_demand_only():
    demand, sites = town()
    thin = run_compare(demand, sites, requests_per_person_day=1.0)
    assert "thin-utilisation" in thin.codes
    assert thin.document["edge"]["utilisation"]["fleet_mean"] < 0.4
    # dense demand, flat day, sites sized to run full: utilisation above 40 %
    dense = run_compare(demand, sites, requests_per_person_day=20_000.0, peak_to_mean=1.0,
                        target_utilisation=1.0)
    assert dense.document["edge"]["utilisation"]["fleet_mean"] >= 0.4
    assert "thin-utilisation" not in dense.codes


def test_the_price_ratio_tells_a_dearer_edge_from_an_equal_one():
    """Tester 151: "at 1.0x the region's price" for an edge 1.3 % dearer."""
    from coverage.advisor import _ratio

    assert _ratio(1.6150, 1.5943) == "1.013x"
    assert _ratio(1.0004, 1.0) == "1.0004x" and _ratio(0.9996, 1.0) == "0.9996x"
    assert _ratio(1.0, 1.0) == "1.0x" and _ratio(3.0, 1.5) == "2.0x"
    assert _ratio(0.031, 1.0) == "0.031x"


@pytest.mark.parametrize("rppd,beyond", [(20.0, True), (200.0, False)])
def test_the_breakeven_says_when_its_load_is_beyond_the_priced_sites(rppd, beyond):
    """Tester 151: a u* of 61 % (peaks at 3 x the mean: 184 % of the accelerators) was
    said as a utilisation the fleet "does not reach", as if it could. The busiest site's
    peak-hour utilisation at the breakeven's load, from compare_sites.csv by hand: at 20
    requests/person/day above 1 (the warning says so), at 200 below."""
    demand, sites = town()
    c = run_compare(demand, sites, requests_per_person_day=rppd)
    be = c.document["breakeven"]
    assert be["utilisation"] is not None and be["fleet_utilisation"] < be["utilisation"]
    thr = coverage.model.workloads.WorkloadCatalog.builtin().get(
        c.document["edge"]["workload"]).throughput_rps
    peak = (c.sites["peak_load_rps"] / (c.sites["n_accelerators"] * thr)).max()
    got = be["busiest_site_peak_at_breakeven"]
    assert got == pytest.approx(peak * be["utilisation"] / be["fleet_utilisation"], rel=1e-9)
    assert (got > 1) == beyond
    text = c.warnings[c.codes.index("thin-utilisation")]["message"]
    assert ("its busiest site would run at" in text) == beyond


def test_no_ztp_only_without_zero_touch():
    demand, sites = town()
    base = CostModel.builtin()
    off = run_compare(demand, sites, costs=base.with_overrides({"fleet": {"ztp": False}}))
    assert "no-ztp" in off.codes
    w = off.warnings[off.codes.index("no-ztp")]
    n = off.document["edge"]["sites"]
    assert w["figures"]["truck_rolls_per_year"] == pytest.approx(
        n * base.tier("metro-colo").truck_rolls_per_year_manual)
    on = run_compare(demand, sites, costs=base)
    assert "no-ztp" not in on.codes


def test_per_site_redundancy_against_an_extra_site_in_the_gap():
    demand, sites = town(n=80, spread=3.0)  # wider than a budget radius: single covers
    pricey = CostModel.builtin().with_overrides(
        {"edge": {"metro-colo": {"redundancy_usd": 2_000_000.0}}})
    # N-0: users one failure away from leaving the budget, and redundancy money to spare
    hit = run_compare(demand, sites, costs=pricey, failures=0)
    assert "per-site-redundancy" in hit.codes
    f = hit.warnings[hit.codes.index("per-site-redundancy")]["figures"]
    assert f["population_exposed"] > 0 and f["extra_sites"] >= 1
    assert f["redundancy_usd_per_year"] >= f["site_usd_per_year"]
    # tester 181: the proposals close the coverage gap, not the exposure: its own people
    text = hit.warnings[hit.codes.index("per-site-redundancy")]["message"]
    gap = hit.plan.summary()["proposed"]
    if gap["proposed_sites"]:
        assert (f"would close the coverage gap ({gap['population_gap']:,.0f} people with too "
                "few candidates within budget)") in text
    assert "would cover the gap" not in text
    # no redundancy spend: nothing to move
    assert "per-site-redundancy" not in run_compare(demand, sites, failures=0).codes
    # N-1 with every user kept twice: nobody is exposed, the warning stays away
    n1 = run_compare(demand, sites, costs=pricey, failures=1)
    s = n1.plan.summary()
    if s["population_covered"] == s["population_redundant"]:
        assert "per-site-redundancy" not in n1.codes


def _chosen_in_budget(c, demand, sites):
    """How many of the comparison's chosen sites each demand point has within budget (our
    own haversine and the latency model's radius)."""
    radius = LatencyModel().radius_km(30.0, "ftth", "p99")
    sp = sites.set_index("site_id").loc[c.sites["site_id"].tolist()]
    dist = haversine(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                     sp["lat"].to_numpy()[None, :], sp["lon"].to_numpy()[None, :])
    return (dist <= radius * (1 + 1e-9)).sum(axis=1)


@pytest.mark.parametrize("seed", [0, 3])
def test_failure_exposed_when_people_within_budget_have_no_second_site(seed):
    """N-1 asked, and people within budget of one chosen site only (a town wider than a
    budget radius: single-coverable points): ``failure-exposed``, with the people counted
    here from the chosen sites' distances. Absent at N-0 (asked for no failure) and from
    a town where everyone has two sites in budget (tester 204: Luxembourg's one candidate
    read 100 % within budget, 0 % with it down, and no warning)."""
    demand, sites = town(n=80, spread=3.0, seed=seed)
    c = run_compare(demand, sites, failures=1)
    n_in = _chosen_in_budget(c, demand, sites)
    pop = demand["population"].to_numpy(float)
    within, exposed = pop[n_in >= 1].sum(), pop[n_in == 1].sum()
    assert exposed / within >= 0.05  # the premise
    assert "failure-exposed" in c.codes
    f = c.warnings[c.codes.index("failure-exposed")]["figures"]
    assert f["population_within_budget"] == pytest.approx(within)
    assert f["population_exposed"] == pytest.approx(exposed)
    assert f["exposed_share"] == pytest.approx(exposed / within)
    assert f["failures"] == 1 and f["threshold"] == 0.05
    text = c.warnings[c.codes.index("failure-exposed")]["message"]
    assert f"{exposed:,.0f} people" in text and "with any one site down" in text
    # the verdict's reason for the edge says what it keeps with a site down (FAR regions:
    # the region keeps nobody, so the edge is recommended)
    reason = c.document["verdict"]["reason"]
    assert c.document["verdict"]["recommendation"] == "edge"
    assert "while every site is up (with any one site down it keeps" in reason
    assert ": failure-exposed)" in reason
    # the decision table's latency row gives the edge's share with one site down too
    row = c.document["decision"][0]
    assert row["figures"]["edge_share_n1_safe"] == pytest.approx((within - exposed)
                                                                 / pop.sum())
    assert "with any one site down" in row["value"]
    # asked for no failure: the exposure is the plan asked for, and the decision row
    # gives no share with a site down
    n0 = run_compare(demand, sites, failures=0)
    assert "failure-exposed" not in n0.codes
    assert "site down" not in n0.document["decision"][0]["value"]
    # N-2: also the people who leave the budget when their two nearest fail
    n2 = run_compare(demand, sites, failures=2)
    n_in = _chosen_in_budget(n2, demand, sites)
    within = pop[n_in >= 1].sum()
    f2 = n2.warnings[n2.codes.index("failure-exposed")]["figures"]
    assert f2["failures"] == 2
    assert f2["population_exposed"] == pytest.approx(pop[n_in == 1].sum())
    assert f2["population_exposed_nk"] == pytest.approx(pop[(n_in >= 1) & (n_in <= 2)].sum())
    assert "through any 2" in n2.warnings[n2.codes.index("failure-exposed")]["message"]
    # everyone within budget of two chosen sites, or all but under 5 %: nothing to say
    dense, dense_sites = town(seed=seed)
    ok = run_compare(dense, dense_sites, failures=1)
    n_in = _chosen_in_budget(ok, dense, dense_sites)
    pop = dense["population"].to_numpy(float)
    assert pop[n_in == 1].sum() < 0.05 * pop[n_in >= 1].sum()  # the premise (0 %, 4.1 %)
    assert "failure-exposed" not in ok.codes


def test_codes_are_stable_and_ordered():
    assert CODES == ("preference-budget", "failure-exposed", "model-does-not-fit",
                     "thin-utilisation", "no-ztp", "per-site-redundancy")


def test_sovereign_rows_count_outside_every_region():
    demand, sites = town()
    demand["sovereign"] = ["yes"] * 10 + ["no"] * (len(demand) - 10)
    c = run_compare(demand, sites, regions=NEAR, budget_ms=100.0)
    rc = c.document["region"]["coverage"]
    sov = demand["population"].iloc[:10].sum()
    assert rc["population_sovereign"] == pytest.approx(sov)
    assert rc["population_within_budget"] <= demand["population"].sum() - sov + 1e-6
    row = next(r for r in c.document["decision"] if r["driver"].startswith("data gravity"))
    assert row["favours"] == "edge"
    bad = demand.assign(sovereign=["maybe"] + ["no"] * (len(demand) - 1))
    with pytest.raises(InputValidationError, match="row 1 .*'maybe'"):
        sovereign_mask(bad)


def test_orin_workload_is_compared_with_the_same_model_on_an_l4():
    demand, sites = town()
    c = run_compare(demand, sites, model=LatencyModel(workload="vision-orin"), budget_ms=50.0)
    assert c.document["region"]["workload"] == "vision-l4"
    assert c.document["edge"]["accelerator"] == "Jetson AGX Orin 64GB"


# ------------------------------------------------------------------------------ the CLI


def test_cli_compare_writes_the_plan_and_the_comparison(tmp_path):
    out = tmp_path / "cmp"
    r = run("compare", "--demo", "--country", "LU", "--out", str(out), "--no-map",
            "--no-gis", "--tiles", "none", "--budget-ms", "50", "--providers", "aws,gcp",
            "--sweep-budgets-ms", "30,50")
    assert r.returncode == 0, r.stderr
    assert "per million requests" in r.stdout and "breakeven" in r.stdout
    doc = json.loads((out / "compare.json").read_text())
    assert doc["budget_ms"] == 50.0 and doc["region"]["providers"] == ["aws", "gcp"]
    for name in ("summary.json", "sites.csv", "compare_sites.csv", "region_coverage.csv",
                 "report.html"):
        assert (out / name).is_file(), name
    html = (out / "report.html").read_text()
    assert 'id="compare"' in html and "Edge or region" in html
    for w in doc["warnings"]:
        assert f'data-code="{w["code"]}"' in html
    # rebuilding the report keeps the section
    (out / "report.html").unlink()
    r2 = run("report", str(out))
    assert r2.returncode == 0, r2.stderr
    assert 'id="compare"' in (out / "report.html").read_text()


def test_cli_compare_runs_the_sweep_in_a_second_process_on_request(tmp_path):
    out = tmp_path / "cmp"
    r = run("compare", "--demo", "--country", "LU", "--out", str(out), "--no-map",
            "--no-gis", "--tiles", "none", "--budget-ms", "50", "--providers", "aws",
            "--sweep-budgets-ms", "30,70", "--sweep-process", "always")
    assert r.returncode == 0, r.stderr
    assert "in a second process" in r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sweep"]["process"] == "background"
    sweep = pd.read_csv(out / "sweep.csv")
    assert sweep["budget_ms"].tolist() == [30.0, 50.0, 70.0]
    assert sweep.loc[sweep["budget_ms"] == 50.0, "source"].item() == "plan"
    assert 'id="compare"' in (out / "report.html").read_text()


def test_cli_compare_refuses_bad_cost_and_region_files_before_work(tmp_path):
    bad = write(tmp_path / "c.toml", "[fleet]\nztp = 7\n")
    regions = write(tmp_path / "r.csv", "region_id,lat,lon\nx,95,0\n")
    out = tmp_path / "never"
    r = run("compare", "--demo", "--country", "LU", "--out", str(out), "--costs", str(bad),
            "--regions", str(regions))
    assert r.returncode == 2
    assert "ztp must be true or false" in r.stderr and str(regions) in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


def test_region_coverage_by_service_class():
    demand, sites = town()
    demand["service_class"] = ["realtime"] * 20 + ["instant"] * (len(demand) - 20)
    c = run_compare(demand, sites, regions=NEAR, budget_ms=50.0)
    rows = {r["service_class"]: r for r in c.document["region_coverage_by_service_class"]}
    assert set(rows) == {"realtime", "instant"}
    assert rows["realtime"]["budget_ms"] == 30.0 and rows["instant"]["budget_ms"] == 100.0
    model = LatencyModel()
    for name, sl in (("realtime", slice(0, 20)), ("instant", slice(20, None))):
        sub = demand.iloc[sl]
        d = haversine(sub["lat"].to_numpy()[:, None], sub["lon"].to_numpy()[:, None],
                      NEAR["lat"].to_numpy()[None, :], NEAR["lon"].to_numpy()[None, :])
        lat = model.p99_ms(d, "ftth")
        pop = sub["population"].to_numpy()
        b = rows[name]["budget_ms"]
        assert rows[name]["population_within_budget"] == pytest.approx(
            pop[(lat <= b).sum(axis=1) >= 1].sum())
        assert rows[name]["population_within_budget_n1"] == pytest.approx(
            pop[(lat <= b).sum(axis=1) >= 2].sum())
    plain = run_compare(*town(), regions=NEAR)
    assert plain.document["region_coverage_by_service_class"] is None


@pytest.mark.parametrize("share, edge_cost, region_cost_m, expected", [
    (0.9, 2.0, 1.5, "region"),   # the region meets the budget and costs less
    (0.9, 1.0, 1.5, "either"),   # it meets the budget, the few sites cost less
    (0.3, 2.0, 1.5, "edge"),     # the budget binds: edge, at a premium
    (0.3, 1.0, 1.5, "edge"),
])
def test_verdict_follows_the_fork(share, edge_cost, region_cost_m, expected):
    from coverage.advisor import verdict

    doc = {"budget_ms": 30.0, "percentile": "p99", "failures": 1, "warnings": [],
           "edge": {"feasible": True, "sites": 5, "cost_per_million_requests": edge_cost,
                    "coverage": {"share_within_budget": 1.0}},
           "region": {"cost_per_million_requests": region_cost_m,
                      "coverage": {"share_within_budget": share}}}
    v = verdict(doc, preference_share=0.8)
    assert v["recommendation"] == expected
    assert v["cheaper_per_request"] == ("edge" if edge_cost < region_cost_m else "region")
    if expected == "edge" and edge_cost > region_cost_m:
        assert "1.3x the region's price" in v["text"]
    doc["edge"] = {"feasible": False, "sites": 0, "cost_per_million_requests": None}
    assert verdict(doc)["recommendation"] == "region"


def _verdict_doc(share, edge_share=1.0, edge_cost=2.0, region_cost=1.5, **edge):
    return {"budget_ms": 30.0, "percentile": "p99", "failures": 1, "warnings": [],
            "edge": {"feasible": True, "sites": 5, "cost_per_million_requests": edge_cost,
                     "coverage": {"share_within_budget": edge_share, "population": 1000.0},
                     **edge},
            "region": {"cost_per_million_requests": region_cost,
                       "coverage": {"share_within_budget": share}}}


def test_verdict_never_recommends_the_edge_for_fewer_people():
    """Tester 120: Faro and Funchal against a Lisbon region: the region kept 37.4 %, the
    edge 8.7 % at 1.3x the price, and the verdict said "edge (the edge keeps another
    -28.8 % of the people ...)"."""
    from coverage.advisor import verdict

    v = verdict(_verdict_doc(0.374, edge_share=0.087, edge_cost=2.05, region_cost=1.59))
    assert v["recommendation"] == "region"
    assert "keeps no more people within it (8.7 % against the region's 37.4 %)" in v["text"]
    assert "-" not in v["reason"].split("(")[0] and "another" not in v["text"]
    assert verdict(_verdict_doc(0.3, edge_share=0.3))["recommendation"] == "region"
    assert verdict(_verdict_doc(0.3, edge_share=0.31))["recommendation"] == "edge"
    # the same people within budget and a cheaper edge: either (review 123: "region")
    assert verdict(_verdict_doc(0.5, edge_share=0.5, edge_cost=1.0))["recommendation"] \
        == "either"
    # tester 181: the region meets the budget (88.5 %) and the edge, cheaper per request
    # it serves, keeps 37.4 %: region, not "either"
    v = verdict(_verdict_doc(0.885, edge_share=0.374, edge_cost=1.15, region_cost=1.59,
                             sites=1))
    assert v["recommendation"] == "region"
    assert "the edge keeps fewer people within it (37.4 %)" in v["reason"]
    one = verdict(_verdict_doc(0.885, edge_share=0.9, edge_cost=1.15, sites=1))
    assert one["recommendation"] == "either" and "the 1 site costs less" in one["reason"]


def test_verdict_says_when_neither_side_meets_the_budget():
    """Tester 120: a workload that fits no candidate, and a region at 0 % within budget:
    "Recommendation: region" without a word; and --preference-share 0 recommended the
    region at 0 %."""
    from coverage.advisor import verdict

    doc = _verdict_doc(0.0)
    doc["edge"] = {"feasible": False, "sites": 0, "cost_per_million_requests": None}
    v = verdict(doc)
    assert v["recommendation"] == "region" and "neither side meets it" in v["reason"]
    assert "neither" not in verdict(_verdict_doc(0.9) | {"edge": doc["edge"]})["reason"]
    assert verdict(_verdict_doc(0.0), preference_share=0.0)["recommendation"] == "edge"


def test_verdict_names_sovereignty_and_an_unproven_capacity():
    """Tester 120: with every row sovereign the reason was "the budget binds"; with a cut
    scenario list (--scenario-limit) the price of a fleet that may be short was stated
    without a qualifier; a ratio of 0.03 printed as "0.0x"."""
    from coverage.advisor import verdict

    doc = _verdict_doc(0.0, sizing={"capacity_proof_holds": False})
    doc["region"]["coverage"]["population_sovereign"] = 250.0
    v = verdict(doc)
    assert "the budget and data sovereignty bind (25.0 % of people may not leave" in v["text"]
    assert "checked on part of the failure scenarios only" in v["text"]
    assert "sovereignty" not in verdict(_verdict_doc(0.0))["text"]
    assert "part of the failure" not in verdict(_verdict_doc(0.0))["text"]
    assert "(0.031x)" in verdict(_verdict_doc(0.0, edge_cost=0.05, region_cost=1.6))["text"]


def test_an_edge_plan_serving_no_request_says_so():
    """Tester 120: a load only on rows no candidate reaches (the Azores) gave "the figures
    edge.cost_per_million_requests are not finite numbers (the inputs combine into an
    overflow). Fix: check the cost model's prices ..."; the prices were fine."""
    demand, sites = town()
    far = demand.iloc[:3].assign(lat=38.0, lon=-28.0, population=1000.0)
    demand = pd.concat([demand.assign(load_rps=0.0), far.assign(load_rps=5.0)],
                       ignore_index=True)
    demand["demand_id"] = [f"d{i}" for i in range(len(demand))]
    with pytest.raises(InputValidationError) as err:
        run_compare(demand, sites)
    text = str(err.value)
    assert "serves no request: every row with a load is out of every candidate's reach" \
        in text
    assert "overflow" not in text


def test_compare_refuses_what_a_capacitated_plan_cannot_do(tmp_path):
    demand, sites = town()
    with pytest.raises(InputValidationError, match="max_sites .*cannot be used"):
        run_compare(demand, sites, max_sites=3)
    with pytest.raises(InputValidationError, match="aggregate_km"):
        run_compare(demand, sites, aggregate_km=10.0)
    r = run("compare", "--demo", "--country", "LU", "--out", str(tmp_path / "x"),
            "--max-sites", "2", "--objective", "p-center")
    assert r.returncode == 2 and "--max-sites, --objective cannot be used" in r.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("failures", [0, 1, 2])
def test_n1_safe_share_counts_two_chosen_sites_within_budget(failures):
    """Tester 106: with --failures 0, compare.json's N-1-safe share was the share within
    budget (the summary has no N-1 figure then). Recomputed here: the people with at
    least two chosen sites in the plan's reach."""
    demand, sites = town(n=60, spread=1.5)
    c = run_compare(demand, sites, failures=failures, budget_ms=35.0)
    reach = c.plan.reach.boolean().toarray() > 0
    ids = list(c.plan.candidates["site_id"])
    chosen = [ids.index(s) for s in c.plan.sites["site_id"]]
    pop = c.plan.demand["population"].to_numpy()
    safe = float(pop[reach[:, chosen].sum(axis=1) >= 2].sum())
    cov = c.document["edge"]["coverage"]
    assert cov["population_n1_safe"] == pytest.approx(safe)
    assert cov["share_n1_safe"] == pytest.approx(safe / pop.sum())
    if failures == 0:
        assert cov["share_n1_safe"] < cov["share_within_budget"]


def test_compare_by_row_generation_matches_the_full_matrix():
    demand, sites = town(n=60, spread=2.0)
    full = run_compare(demand, sites, strategy="full").document
    lazy = run_compare(demand, sites, strategy="lazy").document
    assert lazy["edge"]["sites"] == full["edge"]["sites"]
    assert lazy["region"] == full["region"]
    for key in ("population_within_budget", "population_n1_safe"):
        assert lazy["edge"]["coverage"][key] == pytest.approx(full["edge"]["coverage"][key])


# ------------------------------------------------ review findings (each failed before its fix)


def test_service_classes_judge_the_region_at_each_rows_own_budget():
    demand, sites = town()
    demand["service_class"] = "realtime"  # 30 ms, whatever the run's budget
    north = regions_at([(53.5, 10.0), (53.6, 10.1)])  # ~400 km: in 100 ms, not in 30
    c = run_compare(demand, sites, regions=north, budget_ms=100.0)
    rc = c.document["region"]["coverage"]
    by = c.document["region_coverage_by_service_class"]
    assert [r["budget_ms"] for r in by] == [30.0]
    assert rc["population_within_budget"] == pytest.approx(by[0]["population_within_budget"])
    assert rc["share_within_budget"] == 0.0
    assert "preference-budget" not in c.codes
    assert c.document["verdict"]["recommendation"] == "edge"
    assert "service classes" in c.document["verdict"]["text"]


def test_own_capacity_sites_are_priced_for_their_load_not_their_envelope(caplog):
    demand, sites = town()
    s = sites.assign(capacity_rps=20_000.0, power_kw=3.0)
    with caplog.at_level("WARNING", logger="coverage"):
        c = run_compare(demand, s, requests_per_person_day=500.0)
    t = c.sites
    assert (t["utilisation_worst"] <= 0.8 + 1e-9).all()
    assert c.document["edge"]["sizing"]["sites_over_envelope"] > 0
    # said on the console too, not only in compare.json (tester 120)
    assert c.document["edge"]["sizing"]["over_envelope_note"] in caplog.text
    assert c.document["edge"]["utilisation"]["fleet_mean"] <= 0.8 / 3 + 1e-9


def test_the_priced_hosts_are_the_hosts_the_plan_was_sized_with():
    """The capacity check once counted one host per site and the prices one per four L4s:
    a 5 kW site held 39 L4s in the plan while its priced facility drew about 9 kW. Both
    count a host per four L4s now: 5 kW at PUE 1.58 (3,164.6 W of IT) hold 5 hosts of
    four (2,940 W), 20 L4s, and every priced facility is within its envelope."""
    demand, sites = town()
    c = run_compare(demand, sites.assign(power_kw=5.0), requests_per_person_day=40.0)
    t = c.sites
    assert (t["n_accelerators_envelope"] == 20).all()
    n = t["n_accelerators"].to_numpy()
    assert (n >= 1).all() and (n <= 20).all()
    # independent: ceil(n / 4) hosts of 300 W, n L4s of 72 W, PUE 1.58
    hosts = -(-n // 4)
    assert t["n_hosts"].tolist() == hosts.tolist()
    want_kw = (hosts * 300.0 + n * 72.0) / 1000.0 * 1.58
    assert t["facility_kw"].to_numpy() == pytest.approx(want_kw)
    assert (t["facility_kw"] <= t["power_envelope_kw"] * (1 + 1e-9)).all()
    sizing = c.document["edge"]["sizing"]
    assert sizing["sites_facility_over_envelope"] == 0
    assert sizing["facility_over_envelope_note"] is None


def test_a_cost_model_with_other_hosts_is_refused(tmp_path):
    demand, sites = town()
    costs = write(tmp_path / "c.toml", '[accelerators."NVIDIA L4"]\naccelerators_per_host = 8\n')
    with pytest.raises(InputValidationError) as err:
        run_compare(demand, sites, costs=str(costs))
    msg = str(err.value)
    assert "puts 4 NVIDIA L4 accelerator(s) on a host" in msg and "hosts of 8" in msg, msg
    assert "[workloads.vision-l4]" in msg and "Fix:" in msg
    # a new workload of the user's that leaves the host size out gets 1, and is refused
    # against the built-in prices (hosts of four), naming the key to set
    wl = write(tmp_path / "w.toml", '[workloads.ocr]\naccelerator = "NVIDIA L4"\n'
               "inference_ms = [4.0, 5.0]\nthroughput_rps = 100.0\naccelerator_w = 72.0\n"
               "host_w = 300.0\n")
    from coverage.config import build_model

    model = build_model({"workload": "ocr"}, workloads=str(wl))
    with pytest.raises(InputValidationError, match=r"puts 1 NVIDIA L4 accelerator\(s\) on a "
                       r"host .* hosts of 4.*\[workloads\.ocr\]"):
        run_compare(demand, sites, model=model, workloads=str(wl))
    fixed = write(tmp_path / "w4.toml", wl.read_text() + "accelerators_per_host = 4\n")
    model = build_model({"workload": "ocr"}, workloads=str(fixed))
    c = run_compare(demand, sites, model=model, workloads=str(fixed))
    assert c.document["edge"]["sizing"]["sites_facility_over_envelope"] == 0


def test_the_region_runs_its_own_workload_for_latency_too():
    demand, sites = town()
    regions = regions_at([(57.0, 10.0), (57.1, 10.1)])
    c = run_compare(demand, sites, regions=regions, budget_ms=50.0,
                    model=LatencyModel(workload="vision-orin"))
    from coverage.model.regions import region_coverage

    l4 = region_coverage(demand, regions, [50.0], model=LatencyModel(workload="vision-l4"))
    orin = region_coverage(demand, regions, [50.0], model=LatencyModel(workload="vision-orin"))
    got = c.document["region"]["coverage"]["population_within_budget"]
    assert got == pytest.approx(l4["population_within_budget"].iloc[0])
    assert l4["population_within_budget"].iloc[0] > orin["population_within_budget"].iloc[0]


def test_compare_refuses_what_it_cannot_price(tmp_path):
    demand, sites = town()
    wl = write(tmp_path / "w.toml", "[workloads.nopower]\naccelerator = \"NVIDIA L4\"\n"
               "inference_ms = [4.0, 5.0]\nthroughput_rps = 100.0\n")
    from coverage.config import build_model

    model = build_model({"workload": "nopower"}, workloads=str(wl))
    with pytest.raises(InputValidationError, match="accelerator_w and host_w out"):
        run_compare(demand, sites.assign(capacity_rps=1000.0), model=model, workloads=str(wl))
    with pytest.raises(InputValidationError, match="no people"):
        run_compare(demand.assign(population=0.0), sites)
    with pytest.raises(InputValidationError, match="load_rps sums to 0"):
        run_compare(demand.assign(load_rps=0.0), sites)


def test_model_does_not_fit_names_the_sites_own_power():
    demand, sites = town()
    part = sites.assign(power_kw=[0.1] + [None] * 11)
    c = run_compare(demand, part)
    w = c.warnings[c.codes.index("model-does-not-fit")]
    assert "at most 0.1 kW (site power_kw column" in w["message"]
    assert "3,000" not in w["message"]


def test_verdict_survives_a_missing_price():
    from coverage.advisor import verdict

    doc = {"budget_ms": 30.0, "percentile": "p99", "failures": 1, "warnings": [],
           "edge": {"feasible": True, "sites": 3, "cost_per_million_requests": float("nan"),
                    "coverage": {"share_within_budget": 1.0}},
           "region": {"cost_per_million_requests": 1.0,
                      "coverage": {"share_within_budget": 0.1}}}
    v = verdict(doc)
    assert v["cheaper_per_request"] is None and "nan" not in v["text"]


def test_verdict_names_the_n1_safe_share_not_the_planned_level():
    """The headline said "keeps 84.1 % (N-1)" for a one-site fleet whose N-1 safe share
    was 0: the share within budget next to the planned failure level. It now gives the
    N-1 check's own share."""
    from coverage.advisor import verdict

    doc = {"budget_ms": 30.0, "percentile": "p99", "failures": 1, "warnings": [],
           "edge": {"feasible": True, "sites": 1, "cost_per_million_requests": 2.0,
                    "coverage": {"share_within_budget": 0.841, "share_n1_safe": 0.0}},
           "region": {"cost_per_million_requests": 1.0,
                      "coverage": {"share_within_budget": 0.2}}}
    text = verdict(doc)["text"]
    assert "the edge fleet of 1 site (planned for N-1) keeps 84.1 %" in text
    assert "0.0 % also through any one site's failure" in text
    assert "84.1 % (N-1)" not in text
    doc["failures"] = 0
    text = verdict(doc)["text"]
    assert "(planned for N-0) keeps 84.1 %;" in text and "failure" not in text


def test_cli_compare_verdict_agrees_with_its_document(tmp_path):
    """Iceland at 30 ms: the headline's shares are the document's (an independent read of
    compare.json, on an instance no other test plans)."""
    out = tmp_path / "cmp"
    r = subprocess.run([EXE, "compare", "--demo", "--country", "IS", "--budget-ms", "30",
                        "--time-limit-s", "20", "--no-map", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "compare.json").read_text())
    cov = doc["edge"]["coverage"]
    text = doc["verdict"]["text"]
    assert f"keeps {cov['share_within_budget'] * 100:.1f} %" in text
    assert f"{cov['share_n1_safe'] * 100:.1f} % also through any one site's failure" in text


def test_fit_figures_name_where_the_envelope_came_from():
    """With no candidate excluded, the envelope (the largest site's) came from the sites'
    power_kw column, and compare.json said it came from the tier (3,000 kW)."""
    from coverage.advisor import fit_figures
    from coverage.model.tiers import TierCatalog
    from coverage.model.workloads import WorkloadCatalog

    _, sites = town()
    wl = WorkloadCatalog.builtin().get("vision-l4")
    cat = TierCatalog.builtin()
    own = fit_figures(sites.assign(tier="metro-colo", power_kw=5.0), wl, cat,
                      excluded=sites.iloc[:0].assign(tier="metro-colo"))
    t = own["tiers"]["metro-colo"]
    assert t["excluded"] == 0 and t["envelope_kw"] == 5.0
    assert t["envelope_from"] == "site power_kw column"
    tier = fit_figures(sites.assign(tier="metro-colo"), wl, cat,
                       excluded=sites.iloc[:0].assign(tier="metro-colo"))["tiers"]["metro-colo"]
    assert tier["envelope_from"] == "tier metro-colo"
    assert tier["envelope_kw"] == cat.get("metro-colo").power_kw[1]


def _compare_nlp_on(tmp_path, demand, sites, workload, out_name):
    """``edge-coverage compare`` at 50 ms with the class nlp (60 ms) on ``workload``: the
    demand file, the result and the output directory."""
    d, s = tmp_path / "d.csv", tmp_path / "s.csv"
    demand.to_csv(d, index=False)
    sites.to_csv(s, index=False)
    cls = write(tmp_path / "c.toml", '[service_classes.nlp]\nbudget_ms = 60\n'
                f'workload = "{workload}"\n')
    out = tmp_path / out_name
    r = run("compare", "--demand", d, "--candidates", s, "--service-classes", cls,
            "--out", str(out), "--budget-ms", "50")
    return d, r, out


def test_compare_refuses_classes_that_cannot_share_the_pool_before_work(tmp_path):
    """The edge plan of a comparison is capacitated, so a service class on a workload that
    cannot share the plan's accelerators (a Jetson's beside an L4's) is refused with the
    data checks, before the region's coverage; the command line names the demand file."""
    demand, sites = town()
    demand["service_class"] = ["nlp"] * 20 + ["instant"] * 20
    classes = {"nlp": {"budget_ms": 60, "workload": "bert-orin"}}
    with pytest.raises(coverage.errors.InputValidationError, match="bert-orin"):
        run_compare(demand, sites, regions=NEAR, budget_ms=50.0, service_classes=classes)
    d, r, out = _compare_nlp_on(tmp_path, demand, sites, "bert-orin", "never")
    assert r.returncode == 2 and "bert-orin" in r.stderr and str(d) in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()
    # refused with the data checks, before the region's coverage (review 112: the plan's
    # own refusal came after it)
    assert "region coverage" not in r.stderr + r.stdout
    assert "cannot share it" in r.stderr


def test_compare_prices_a_class_on_a_pooled_workload(tmp_path):
    """A class on bert-l4 shares the vision-l4 plan's L4s: compare prices it (it was
    refused until 2026-12-05), from the command line too; compare.json and compare_sites.csv
    count the requests of both workloads."""
    demand, sites = town()
    demand["service_class"] = ["nlp"] * 20 + ["instant"] * 20
    _, r, out = _compare_nlp_on(tmp_path, demand, sites, "bert-l4", "out")
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "compare.json").read_text())
    assert set(doc["region"]["workloads"]) == {"vision-l4", "bert-l4"}
    table = pd.read_csv(out / "compare_sites.csv")
    assert table["peak_requests_rps"].sum() == pytest.approx(doc["edge"]["load"]["peak_rps"])
    assert doc["edge"]["load"]["load_unit"] == "requests/s of vision-l4"
    html = (out / "report.html").read_text()
    assert 'data-key="region-workloads"' in html and "bert-l4 on bert-l4" in html
    assert "Traceback" not in r.stderr


def test_region_coverage_by_class_naming_the_edge_workload_is_the_regions(tmp_path):
    """Review 112: a class naming the edge's own workload (the only one compare takes)
    was measured with the edge accelerator's inference, not the region's own workload:
    the region's figures must equal those of the class without a workload."""
    demand, sites = town()
    demand["service_class"] = ["nlp"] * 20 + ["gaming"] * 20
    sites["power_kw"] = 50.0
    docs = []
    for extra in ({"workload": "vision-orin"}, {}):
        classes = {"gaming": {"budget_ms": 40.0}, "nlp": {"budget_ms": 40.0, **extra}}
        # ~250 km north: in 40 ms with the region's vision-l4 (538 km), not all with the
        # edge's vision-orin (229 km)
        c = run_compare(demand, sites, regions=regions_at([(52.3, 10.0), (52.4, 10.2)]),
                        budget_ms=40.0, failures=0, service_classes=classes,
                        model=LatencyModel(workload="vision-orin"))
        docs.append(c.document)
    a, b = ({r["service_class"]: r["population_within_budget"]
             for r in d["region_coverage_by_service_class"]} for d in docs)
    assert a == b
    assert a["nlp"] == pytest.approx(demand["population"][:20].sum())  # the region's reach
    assert docs[0]["region"]["coverage"] == docs[1]["region"]["coverage"]


def test_region_mean_latency_with_pooled_classes_is_each_class_own(tmp_path):
    """Tester 126: with a class on another workload (bert-l4 beside the run's vision-l4),
    the region's mean latency took the run's workload for every row; each row now takes
    its own class's workload and percentile (our own haversine and latency model)."""
    demand, sites = town()
    demand["service_class"] = ["nlp"] * 20 + ["instant"] * 20
    classes = {"nlp": {"budget_ms": 60.0, "workload": "bert-l4"}}
    doc = run_compare(demand, sites, regions=NEAR, budget_ms=50.0,
                      service_classes=classes).document
    lat, lon = np.radians(demand["lat"].to_numpy()), np.radians(demand["lon"].to_numpy())
    r_lat, r_lon = np.radians(NEAR["lat"].to_numpy()), np.radians(NEAR["lon"].to_numpy())
    hav = (np.sin((r_lat[None] - lat[:, None]) / 2) ** 2 + np.cos(lat[:, None])
           * np.cos(r_lat[None]) * np.sin((r_lon[None] - lon[:, None]) / 2) ** 2)
    km = (2 * 6371.0088 * np.arcsin(np.sqrt(hav))).min(axis=1)
    own = np.where(np.arange(len(demand)) < 20,
                   LatencyModel(workload="bert-l4").p99_ms(km, "ftth"),
                   LatencyModel(workload="vision-l4").p99_ms(km, "ftth"))
    pop = demand["population"].to_numpy()
    want = float(np.sum(own * pop) / pop.sum())
    assert doc["region"]["coverage"]["mean_latency_ms"] == pytest.approx(want, rel=1e-6)
    run_only = float(np.sum(LatencyModel(workload="vision-l4").p99_ms(km, "ftth") * pop)
                     / pop.sum())
    assert abs(want - run_only) > 0.1  # the two workloads' inference differ here
    rows = {r["service_class"]: r for r in doc["region_coverage_by_service_class"]}
    assert rows["nlp"]["mean_latency_ms"] == pytest.approx(
        float(np.sum(own[:20] * pop[:20]) / pop[:20].sum()), rel=1e-6)
    assert doc["region"]["workload"] == "bert-l4 + vision-l4"  # both are rented
    # every row on the class: the region rents bert-l4 only (it named vision-l4)
    demand["service_class"] = "nlp"
    alone = run_compare(demand, sites, regions=NEAR, budget_ms=50.0,
                        service_classes=classes).document
    assert alone["region"]["workload"] == "bert-l4"
    assert set(alone["region"]["workloads"]) == {"bert-l4"}


def test_compare_says_requests_per_person_day_is_unused_beside_load_rps(caplog):
    """A load_rps column is the load; compare took --requests-per-person-day beside it
    without a word (plan warns)."""
    demand, sites = town()
    demand["load_rps"] = 5.0
    with caplog.at_level("WARNING", logger="coverage"):
        c = run_compare(demand, sites, regions=NEAR, budget_ms=50.0,
                        requests_per_person_day=500)
    assert any("requests_per_person_day (--requests-per-person-day) 500 is not used" in
               r.getMessage() for r in caplog.records)
    assert c.document["edge"]["load"]["peak_rps"] == pytest.approx(5.0 * len(demand))


def _three_towns():
    """Three towns 6 degrees of latitude apart (independent parts of the plan at 30 ms)."""
    parts = [town(n=30, seed=s, lat0=44.0 + 6.0 * s) for s in range(3)]
    demand = pd.concat([d for d, _ in parts], ignore_index=True)
    sites = pd.concat([s.assign(site_id=[f"t{i}{x}" for x in s["site_id"]])
                       for i, (_, s) in enumerate(parts)], ignore_index=True)
    return demand, sites


def test_most_even_sizes_are_rechecked_over_the_implied_scenarios():
    """N-2 on three independent towns with a scenario limit below the pairs: the pairs
    are implied, not listed (and the least capacity's program, which lists them, is
    cut), and 15 of them were short at each site's worst load of the table's most even
    flows, which compare priced while saying the proof holds. The plan now checks every
    scenario again at those loads and adds the short ones' flows until none is; compare
    claims the proof from that check, and networkx max-flows of every single and pair
    failure at the loads the accelerators were sized for agree."""
    import itertools

    import networkx as nx

    demand, sites = _three_towns()
    c = run_compare(demand, sites, failures=2, requests_per_person_day=500.0,
                    scenario_limit=40)
    cap = c.plan.summary()["capacity"]
    assert cap["scenarios_complete"] and cap["scenarios_checked"] < cap["scenarios_total"]
    s = c.document["edge"]["sizing"]
    assert s["least_capacity"].startswith("not computed")
    assert s["by"] == "most_even"
    check = cap["most_even_sizes"]["status"]
    assert s["capacity_proof_holds"] == (check == "every scenario carried")
    if not s["capacity_proof_holds"]:
        assert "implied" in s["note"] and check in s["note"]
    # independently: every single and pair failure at the priced capacities
    model = LatencyModel()
    radius = model.radius_km(30.0, "ftth", "p99")
    chosen = c.sites["site_id"].tolist()
    # the loads the accelerators were sized for (the priced capacities are at least these)
    priced = c.sites["sized_load_rps"].to_numpy(float)
    sp_ = sites.set_index("site_id").loc[chosen]
    dist = haversine(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                     sp_["lat"].to_numpy()[None, :], sp_["lon"].to_numpy()[None, :])
    within = dist <= radius
    load = demand["population"].to_numpy(float) * 500.0 * 3.0 / 86400.0

    def carried(failed):
        g = nx.DiGraph()
        need = 0.0
        for i in range(len(demand)):
            alive = [j for j in np.flatnonzero(within[i]) if j not in failed]
            if not alive:
                continue  # excused: every site it reaches failed
            need += load[i]
            g.add_edge("s", ("p", i), capacity=load[i])
            for j in alive:
                g.add_edge(("p", i), ("c", j), capacity=float("inf"))
        for j in range(len(chosen)):
            if j not in failed:
                g.add_edge(("c", j), "t", capacity=float(priced[j]) * (1 + 1e-6))
        return need == 0 or nx.maximum_flow_value(g, "s", "t") >= need * (1 - 1e-9)

    singles_and_pairs = [(j,) for j in range(len(chosen))] + list(
        itertools.combinations(range(len(chosen)), 2))
    every = all(carried(set(f)) for f in singles_and_pairs)
    assert every == (check == "every scenario carried")
    assert check == "every scenario carried" and s["capacity_proof_holds"]
    assert cap["most_even_sizes"]["scenarios_added"] > 0  # (the loads were raised)
    table = c.plan.capacity_scenarios
    assert int(table["implied"].sum()) == cap["scenarios_implied_added"]


@pytest.mark.parametrize("upf", ["default", "none"])
def test_mobile_users_reach_the_region_through_the_plans_breakout(upf):
    """Tester 151: Bergen's 5G users were counted at 72 ms p99 from a Bergen region while
    a Bergen edge site (metro-colo, no local breakout) is 86 ms via the Oslo UPF (their
    plan serves them from Oslo, 79 ms). With the
    plan's breakouts (``upf``, default: one per large metro, here Oslo) the region is
    reached the same way: at 80 ms only Oslo's users keep two regions; with ``"none"``
    everyone does, directly."""
    demand = pd.DataFrame({"demand_id": ["bergen1", "bergen2", "oslo"],
                           "lat": [60.39, 60.35, 59.91], "lon": [5.32, 5.35, 10.75],
                           "population": [200_000, 100_000, 600_000]})
    sites = pd.DataFrame({"site_id": ["bgn1", "bgn2", "osl1", "osl2"],
                          "lat": [60.391, 60.36, 59.92, 59.90],
                          "lon": [5.321, 5.34, 10.76, 10.70], "tier": "metro-colo"})
    regions = pd.DataFrame({"region_id": ["bergen-r", "oslo-r"], "lat": [60.392, 59.915],
                            "lon": [5.322, 10.755]})
    c = coverage.compare(demand, sites, budget_ms=80.0, access="5g-sa", regions=regions,
                         upf=upf, kmedian_time_limit_s=5)
    row = c.document["region_coverage"]
    at80 = next(r for r in row if r["budget_ms"] == 80.0)
    assert at80["population_within_budget"] == 900_000
    assert at80["population_within_budget_n1"] == (600_000 if upf == "default" else 900_000)
    # the mean latency to the nearest region, by hand: via the breakout or direct
    from coverage.inputs.upf import default_upf

    model = LatencyModel()
    u = default_upf(demand["lat"], demand["lon"]) if upf == "default" else None
    ms = []
    for la, lo in zip(demand["lat"], demand["lon"], strict=True):
        paths = [(haversine(la, lo, float(u["lat"].iloc[0]), float(u["lon"].iloc[0]))
                  + haversine(float(u["lat"].iloc[0]), float(u["lon"].iloc[0]), rla, rlo))
                 if u is not None else haversine(la, lo, rla, rlo)
                 for rla, rlo in zip(regions["lat"], regions["lon"], strict=True)]
        ms.append(float(model.p99_ms(min(paths), "5g-sa")))
    assert at80["mean_latency_ms"] == pytest.approx(
        np.average(ms, weights=demand["population"]), rel=1e-9)


def test_a_region_workload_of_another_model_is_said(caplog):
    """Tester 181: --region-workload gptj-l4 against the edge's vision-l4 priced the
    region on a language model and flipped the verdict without a word."""
    with caplog.at_level("WARNING"):
        c = run_compare(*town(), region_workload="gptj-l4")
    assert c.document["region"]["same_model"] is False
    assert "another model, so the two prices" in caplog.text
    assert "another model than the edge's" in c.document["verdict"]["text"]
    plain = run_compare(*town())
    assert plain.document["region"]["same_model"] is True
    assert "another model" not in plain.document["verdict"]["text"]


def test_the_comparisons_map_colours_the_priced_fleet(tmp_path):
    """The comparison's map coloured its sites by the plan's utilisation over the power
    envelope (0.1-0.5 % on Germany's demo, every site "thin") beside the report's priced
    75 %: it colours them by compare_sites.csv's utilisation_peak, over the priced
    accelerators' raw throughput (capacity_rps = n_accelerators x throughput, checked
    here), and the popups and legend give both."""
    from test_maps import payload

    from coverage.outputs.maps.capacity import utilisation_palette

    demand, sites = town(seed=3)
    c = run_compare(demand, sites, requests_per_person_day=500.0)
    w = coverage.model.workloads.WorkloadCatalog.builtin().get("vision-l4")
    priced = c.sites.set_index("site_id")
    assert priced["capacity_rps"].to_numpy() == pytest.approx(
        priced["n_accelerators"].to_numpy() * w.throughput_rps)
    assert priced["utilisation_peak"].to_numpy() == pytest.approx(
        priced["peak_load_rps"].to_numpy() / priced["capacity_rps"].to_numpy())
    out = c.to_dir(tmp_path / "out", gis=False, report=False).path
    written = pd.read_csv(out / "compare_sites.csv")
    assert "capacity_rps" in written.columns
    text = (out / "map.html").read_text(encoding="utf-8")
    data = payload(text)
    ids = c.plan.sites["site_id"].astype(str).tolist()
    u = priced.loc[ids, "utilisation_peak"].to_numpy()
    envelope = c.plan.sites.set_index("site_id").loc[ids, "utilisation"].to_numpy()
    assert (u > 10 * envelope).all()  # the two differ: the test can tell them apart
    palette = utilisation_palette()
    assert data["sites"]["color"] == [palette[round(min(1.0, x) * (len(palette) - 1))]
                                      for x in u]
    assert data["capacity"]["util"] == pytest.approx(u.tolist(), abs=1e-5)
    assert "Sites: utilisation at peak of the priced accelerators" in text
    first = data["sites"]["popup"][0]
    assert f"Priced accelerators (compare)</th><td>{priced.loc[ids[0], 'n_accelerators']:,.0f}" \
        in first
    assert f"{100 * u[0]:.1f} %" in first and "(power envelope)" in first
    assert "over the plan's capacity (the power envelope's)" in data["capacity"]["capNote"]
    # the plan's own map (Plan.to_dir, plan.explore) keeps the plan's utilisation
    own = payload((c.plan.to_dir(tmp_path / "plan", gis=False, report=False)
                   / "map.html").read_text(encoding="utf-8"))
    assert own["capacity"]["util"] == pytest.approx(envelope.tolist(), abs=1e-5)
    assert "capNote" not in own["capacity"]


# ----------------------------------------------------------- repriced: the same plan again

def _document_text(c):
    return json.dumps(c.document, sort_keys=True)


def test_repriced_equals_a_new_comparison_without_planning_again(monkeypatch):
    """Another cost model, regions and thresholds on the same edge plan: the document a new
    comparison with those arguments gives (its plan the same, as the instance is solved
    to optimality: kmedian off), and no plan is made."""
    import coverage.planner.plan as plan_module

    demand, sites = town()
    kw = {"kmedian_time_limit_s": 0}
    c = run_compare(demand, sites, **kw)
    base = CostModel.builtin()
    changes = {"costs": base.with_overrides({"fleet": {"ztp": False}}), "regions": NEAR,
               "preference_share": 0.5, "thin_utilisation": 0.9}
    fresh = run_compare(demand, sites, **kw, **changes)

    real, planned = plan_module.plan_sites, []

    @functools.wraps(real)  # (compare checks its options against this signature)
    def counted(*args, **kwargs):
        planned.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(plan_module, "plan_sites", counted)
    again = c.repriced(**changes)
    assert planned == []
    assert again.plan is c.plan
    assert _document_text(again) == _document_text(fresh) != _document_text(c)
    assert again.sites.equals(fresh.sites) and again.codes == fresh.codes
    assert "no-ztp" in again.codes and "no-ztp" not in c.codes
    # the region's side moved with the regions, the edge's fleet did not
    assert again.document["edge"]["sites"] == c.document["edge"]["sites"]
    assert (again.document["region"]["coverage"]["share_within_budget"]
            > c.document["region"]["coverage"]["share_within_budget"])
    # nothing changed: the same document
    assert _document_text(c.repriced()) == _document_text(c)


def test_repriced_keeps_the_inputs_the_plan_was_made_from(tmp_path):
    """Editing the caller's tables, regions or option dicts after the comparison does not
    reach the repriced one (its plan was made from them as they were; review 166: a
    service-class budget edited afterwards moved the region's side under the old plan); a
    file an argument names, changed since, is refused."""
    import copy
    import shutil

    demand, sites = town()
    demand = demand.assign(service_class=["gaming", None] * (len(demand) // 2)
                           + [None] * (len(demand) % 2))
    classes = {"gaming": {"budget_ms": 30}}
    regions = NEAR.copy()
    tiers = tmp_path / "tiers.toml"
    shutil.copy(coverage.__path__[0] + "/model/tiers.toml", tiers)
    c = run_compare(demand, sites, kmedian_time_limit_s=0, regions=regions,
                    service_classes=classes, tiers=tiers)
    text = _document_text(c)
    demand["population"] *= 10  # in place, after the comparison
    sites.loc[:, "lat"] = 0.0
    regions.loc[:, "lat"] = -40.0
    classes["gaming"]["budget_ms"] = 100
    assert _document_text(c.repriced()) == text
    # copies share what it was made from
    assert _document_text(copy.copy(c).repriced()) == text
    assert _document_text(copy.deepcopy(c).repriced()) == text
    with open(tiers, "a") as f:
        f.write("\n# edited\n")
    with pytest.raises(InputValidationError, match="tiers.toml changed since this comparison"):
        c.repriced()


def test_repriced_refuses_what_would_change_the_plan_and_a_pickled_comparison():
    import pickle

    demand, sites = town()
    c = run_compare(demand, sites, kmedian_time_limit_s=0)
    for key, value in (("budget_ms", 40.0), ("requests_per_person_day", 5.0),
                       ("failures", 0), ("tiers", None), ("_reuse_plan", None)):
        with pytest.raises(TypeError, match=f"Fix: call coverage.compare for {key}"):
            c.repriced(**{key: value})
    # (a keyword of compare cannot smuggle in another plan)
    with pytest.raises(InputValidationError, match="_reuse_plan"):
        run_compare(demand, sites, kmedian_time_limit_s=0, _reuse_plan=c.plan)
    with pytest.raises(InputValidationError):  # checked as compare checks it
        c.repriced(preference_share=2.0)
    copy = pickle.loads(pickle.dumps(c))
    assert _document_text(copy) == _document_text(c)
    with pytest.raises(ValueError, match="does not hold the inputs"):
        copy.repriced(costs=None)


def test_an_argument_that_cannot_be_copied_is_kept_as_given():
    """The comparison keeps a copy of its arguments for repriced(); one that refuses to be
    copied (a lock, a connection) is kept as it is rather than losing the comparison."""
    import threading

    from coverage.comparison import _copied

    lock = threading.Lock()
    assert _copied(lock) is lock
    nested = {"a": [1, 2]}
    assert _copied(nested) == nested and _copied(nested)["a"] is not nested["a"]


def test_a_compare_started_inside_a_repricing_plans_its_own():
    """The plan repriced() hands on is taken once: a comparison that the repricing's
    progress callback starts (another budget) plans its own fleet."""
    demand, sites = town()
    c = run_compare(demand, sites, kmedian_time_limit_s=0)
    inner = []

    def progress(message):
        if not inner:
            inner.append(run_compare(demand, sites, budget_ms=40.0, kmedian_time_limit_s=0))

    c.repriced(progress=progress)
    assert inner and inner[0].plan is not c.plan
    assert inner[0].plan.summary()["budget_ms"] == 40.0
