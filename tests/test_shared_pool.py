"""Service classes on several workloads in one capacitated plan: one pool of accelerators
per site, shared by time (docs/capacity.md, "Several workloads on one pool").

The figures are recomputed independently: every row's load in the run workload's
requests/s written out from the catalog's throughputs, the normal flow re-summed per row
and per site against the capacities, each flow's distance against the row's own radius,
and the site count against a plan of the same rows carrying the hand-weighted load on the
run's workload alone.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from helpers import run, write
from test_service_classes import DEMAND, SITES, class_batch, hand_radius, haversine

from coverage import plan_sites
from coverage.errors import InputValidationError
from coverage.model.capacity import DEFAULT_PEAK_TO_MEAN, DEFAULT_TARGET_UTILISATION
from coverage.model.workloads import WorkloadCatalog

VISION = WorkloadCatalog.builtin().get("vision-l4")  # the run's workload (the default)
#: A workload on the run's own system (an L4) taking 10x the accelerator time a request:
#: the same inference time as vision-l4, so its rows reach the same candidates.
HEAVY_RPS = VISION.throughput_rps / 10.0
HEAVY = f"""[workloads.heavy-l4]
accelerator = "NVIDIA L4"
inference_ms = [4.7, 4.9]
throughput_rps = {HEAVY_RPS!r}
model_memory_gb = 4.0
accelerator_memory_gb = 24.0
accelerator_w = 72.0
host_w = 300.0
accelerators_per_host = 4
"""
CLASSES = {"gaming": {"budget_ms": 40.0}, "nlp": {"budget_ms": 60.0, "workload": "heavy-l4"}}
CLASSES_TOML = ('[service_classes.gaming]\nbudget_ms = 40\n\n'
                '[service_classes.nlp]\nbudget_ms = 60\nworkload = "heavy-l4"\n')
POWER_KW = [0.45, 1.0, 2.0, 0.45, 1.0, 2.0, 1.0, 0.45]
RPPD = 20000.0  # requests per person per day: the load, not the reach, sets the count


def _demand():
    return DEMAND.assign(service_class=["nlp", "gaming", "realtime"] * 4)


def _sites(power=POWER_KW):
    return SITES.assign(power_kw=power)


def _hand_load(demand):
    """Every row's peak load in requests/s of vision-l4, written out: population x
    requests per person per day x peak-to-mean / 86,400, a heavy-l4 request counting
    vision-l4's throughput over heavy-l4's."""
    weight = np.where(demand["service_class"] == "nlp",
                      VISION.throughput_rps / HEAVY_RPS, 1.0)
    requests = demand["population"].to_numpy(float) * RPPD * DEFAULT_PEAK_TO_MEAN / 86400
    return requests, requests * weight


@pytest.mark.parametrize("failures", [0, 1])
def test_classes_on_two_workloads_share_one_pool(tmp_path, failures):
    """The heavy class's requests count ten of the run's; the plan's flow carries every
    row's weighted load within the sites' capacities and the rows' own radii, and the site
    count is that of the same rows carrying the hand-weighted load on vision-l4 alone (the
    same reach, the same optimum), more than the unweighted load needs (the weights
    matter on this instance)."""
    wl = write(tmp_path / "wl.toml", HEAVY)
    demand, sites = _demand(), _sites()
    plan = plan_sites(demand, sites, budget_ms=50, failures=failures, service_classes=CLASSES,
                      workloads=str(wl), requests_per_person_day=RPPD, time_limit_s=30)
    cap = plan.summary()["capacity"]
    requests, load = _hand_load(demand)
    assert cap["status"] == "optimal"
    assert cap["load_unit"] == "requests/s of vision-l4"
    assert cap["load_total_rps"] == pytest.approx(load.sum(), rel=1e-12)
    assert cap["requests_total_rps"] == pytest.approx(requests.sum(), rel=1e-12)
    assert cap["workloads"]["heavy-l4"]["weight"] == pytest.approx(10.0, rel=1e-12)
    assert cap["workloads"]["vision-l4"]["weight"] == 1.0
    nlp = (demand["service_class"] == "nlp").to_numpy()
    assert cap["workloads"]["heavy-l4"]["requests_rps"] == pytest.approx(requests[nlp].sum())
    # the normal flow, recounted: every row's weighted load served, each site within
    # n x throughput x utilisation of vision-l4, each flow within the row's own radius
    flows = plan.flows
    served = flows.groupby("demand_id")["load_rps"].sum()
    np.testing.assert_allclose(served.reindex(demand["demand_id"]).fillna(0).to_numpy(),
                               load, rtol=1e-6)
    s = plan.sites.set_index("site_id")
    per_site = flows.groupby("site_id")["load_rps"].sum()
    limit = (s["n_accelerators"] * VISION.throughput_rps * DEFAULT_TARGET_UTILISATION)
    assert (per_site <= limit.reindex(per_site.index) * (1 + 1e-9)).all()
    # each flow's own requests, and every site's requests by workload, recounted from the
    # weighted flows and the rows' classes
    d = demand.set_index("demand_id")
    heavy = (d["service_class"] == "nlp").reindex(flows["demand_id"]).to_numpy()
    np.testing.assert_array_equal(flows["workload"].astype(str).to_numpy(),
                                  np.where(heavy, "heavy-l4", "vision-l4"))
    hand = flows["load_rps"].to_numpy() / np.where(heavy, 10.0, 1.0)
    np.testing.assert_allclose(flows["requests_rps"].to_numpy(), hand, rtol=1e-12)
    for w, mask in (("heavy-l4", heavy), ("vision-l4", ~heavy)):
        by_site = pd.Series(hand[mask]).groupby(flows["site_id"].to_numpy()[mask]).sum()
        np.testing.assert_allclose(s[f"requests_{w}_rps"].to_numpy(),
                                   by_site.reindex(s.index).fillna(0.0).to_numpy(),
                                   rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(
        s["requests_rps"].to_numpy(),
        s["requests_heavy-l4_rps"].to_numpy() + s["requests_vision-l4_rps"].to_numpy())
    assert s["requests_rps"].sum() == pytest.approx(requests.sum(), rel=1e-9)
    budget = d["service_class"].map({"gaming": 40.0, "nlp": 60.0, "realtime": 50.0})
    for r in flows.itertuples(index=False):
        dist = haversine(d.at[r.demand_id, "lat"], d.at[r.demand_id, "lon"],
                         s.at[r.site_id, "lat"], s.at[r.site_id, "lon"])
        assert dist <= hand_radius(budget[r.demand_id]) + 1e-6
    # the same optimum as the hand-weighted load on the run's workload alone
    plain = {"gaming": {"budget_ms": 40.0}, "nlp": {"budget_ms": 60.0}}
    ref = plan_sites(demand.assign(load_rps=load), sites, budget_ms=50, failures=failures,
                     service_classes=plain, time_limit_s=30)
    assert ref.summary()["capacity"]["status"] == "optimal"
    assert plan.summary()["site_count"] == ref.summary()["site_count"]
    unweighted = plan_sites(demand.assign(load_rps=requests), sites, budget_ms=50,
                            failures=failures, service_classes=plain, time_limit_s=30)
    assert plan.summary()["site_count"] > unweighted.summary()["site_count"]


def test_the_map_popups_give_each_workload_its_requests(tmp_path):
    """A site's popup adds each workload's own requests (sites.csv's columns) below the
    load in the run workload's unit."""
    from test_maps_capacity import map_payload

    from coverage.outputs.maps.style import fmt_rps

    wl = write(tmp_path / "wl.toml", HEAVY)
    plan = plan_sites(_demand(), _sites(), budget_ms=50, failures=1,
                      service_classes=CLASSES, workloads=str(wl),
                      requests_per_person_day=RPPD, time_limit_s=30)
    data, _ = map_payload(plan, tmp_path)
    ids = plan.sites["site_id"].astype(str).tolist()
    busy = plan.sites.set_index("site_id")["requests_heavy-l4_rps"].idxmax()
    popup = data["sites"]["popup"][ids.index(str(busy))]
    row = plan.sites.set_index("site_id").loc[busy]
    assert "requests of heavy-l4</th><td>" in popup
    for w in ("heavy-l4", "vision-l4"):
        assert f"requests of {w}</th><td>{fmt_rps(row[f'requests_{w}_rps'])}<" in popup
    assert "requests/s of vision-l4" in popup  # the load, in the pool's unit


def test_the_command_line_says_and_writes_the_pool(tmp_path):
    """From the command line: the progress names both workloads, summary.json holds the
    pool, and the report and headline give the load's unit."""
    d, s = tmp_path / "d.csv", tmp_path / "s.csv"
    _demand().to_csv(d, index=False)
    _sites().to_csv(s, index=False)
    wl = write(tmp_path / "wl.toml", HEAVY)
    cls = write(tmp_path / "classes.toml", CLASSES_TOML)
    out = tmp_path / "out"
    r = run("plan", "--demand", d, "--candidates", s, "--service-classes", cls,
            "--workloads", wl, "--requests-per-person-day", RPPD, "--budget-ms", 50,
            "--failures", 1, "--no-map", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "requests/s of vision-l4 at peak" in r.stderr + r.stdout
    assert "of heavy-l4 (x 10)" in r.stderr + r.stdout
    # the headline's figures in that unit (review 118: they said plain requests/s)
    assert "requests/s of vision-l4 of capacity" in r.stdout + r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["capacity"]["workloads"]) == {"vision-l4", "heavy-l4"}
    # the requests of each workload per site and per flow, in their own units
    sites = pd.read_csv(out / "sites.csv")
    assert {"requests_rps", "requests_vision-l4_rps", "requests_heavy-l4_rps"} <= set(
        sites.columns)
    assert sites["requests_rps"].sum() == pytest.approx(
        summary["capacity"]["requests_total_rps"], rel=1e-9)
    flows = pd.read_csv(out / "flows.csv")
    assert set(flows["workload"]) == {"vision-l4", "heavy-l4"}
    assert flows["requests_rps"].sum() == pytest.approx(sites["requests_rps"].sum())
    html = (out / "report.html").read_text()
    assert "Workloads on one pool" in html and "requests/s of vision-l4" in html
    r = run("report", out)
    assert r.returncode == 0, r.stderr


def test_a_workload_on_another_accelerator_is_refused(tmp_path):
    """An Orin workload cannot share an L4 site's accelerators: refused before any work,
    naming the accelerators; the same classes without a load are planned."""
    demand, sites = _demand(), _sites()
    classes = {"gaming": {"budget_ms": 40.0}, "nlp": {"budget_ms": 60.0, "workload": "bert-orin"}}
    with pytest.raises(InputValidationError,
                       match=r"'bert-orin' is not served on the run's system \(accelerator "
                             r"'Jetson AGX Orin 64GB' against 'NVIDIA L4'"):
        plan_sites(demand, sites, budget_ms=50, failures=0, service_classes=classes,
                   requests_per_person_day=10)
    plan = plan_sites(demand, sites, budget_ms=50, failures=0, service_classes=classes)
    assert plan.summary()["capacity"] is None
    d, s = tmp_path / "d.csv", tmp_path / "s.csv"
    demand.assign(load_rps=1.0).to_csv(d, index=False)
    sites.to_csv(s, index=False)
    cls = write(tmp_path / "c.toml", CLASSES_TOML.replace("heavy-l4", "bert-orin"))
    out = tmp_path / "never"
    r = run("plan", "--demand", d, "--candidates", s, "--service-classes", cls,
            "--failures", 0, "--out", out)
    assert r.returncode == 2 and "'bert-orin' is not served" in r.stderr, r.stderr
    assert str(d) in r.stderr and "Traceback" not in r.stderr and not out.exists()


def test_a_workload_without_throughput_or_accelerator_is_refused(tmp_path):
    """A class workload with no throughput has no share of an accelerator, and one with no
    accelerator named cannot be said to share the run's: both named in one message."""
    wl = write(tmp_path / "wl.toml", HEAVY.replace(f"throughput_rps = {HEAVY_RPS!r}\n", "")
               + '\n[workloads.bare]\ninference_ms = [3.0, 4.0]\nthroughput_rps = 10\n')
    demand = DEMAND.assign(service_class=["nlp", "realtime", "chat"] * 4)
    classes = {"nlp": {"budget_ms": 60.0, "workload": "heavy-l4"},
               "chat": {"budget_ms": 60.0, "workload": "bare"}}
    with pytest.raises(InputValidationError) as err:
        plan_sites(demand, _sites(), budget_ms=50, failures=0, service_classes=classes,
                   workloads=str(wl), requests_per_person_day=10)
    text = str(err.value)
    assert "'heavy-l4' has no throughput_rps" in text
    assert "'bare' is not served on the run's system (accelerator ''" in text


def test_models_that_do_not_fit_one_system_together_are_refused(tmp_path):
    """Review 118: time is shared only if every accelerator holds every model; the first
    version summed the models' memory over a whole site, so gptj-l4 (16 GB) with
    llm-8b-int4-l4 (11.5 GB) on two 24 GB L4s was planned, each L4 able to hold one model,
    and a site reported 67 % for an L4 at 115 %. 27.5 GB on a 24 GB system is refused; a
    pool that fits (vision-l4 2 GB with heavy-l4 4 GB) is planned; and a smallest system
    other than the run's is refused (the sites' systems are one count)."""
    from coverage.config import build_model

    demand = _demand()
    classes = {"gaming": {"budget_ms": 6000.0}, "nlp": {"budget_ms": 6000.0,
                                                        "workload": "llm-8b-int4-l4"}}
    with pytest.raises(InputValidationError,
                       match=r"the models need 27\.5 GB together \(gptj-l4 16, "
                             r"llm-8b-int4-l4 11\.5 GB\), and a system of 1 x 24 GB holds "
                             r"24 GB"):
        plan_sites(demand, _sites(), budget_ms=6000, failures=0, service_classes=classes,
                   model=build_model({"workload": "gptj-l4"}), requests_per_person_day=1)
    wl = write(tmp_path / "wl.toml", HEAVY.replace("accelerators_per_host = 4",
                                                   "accelerators_per_host = 4\n"
                                                   "min_accelerators = 2"))
    with pytest.raises(InputValidationError,
                       match=r"'heavy-l4' is not served on the run's system "
                             r"\(min_accelerators 2 against 1\)"):
        plan_sites(demand, _sites(), budget_ms=50, failures=0, service_classes=CLASSES,
                   workloads=str(wl), requests_per_person_day=1)


def test_the_run_model_is_held_only_when_rows_take_it(tmp_path):
    """Tester 119: every row on a class's workload (gptj-l4 16 GB, asr-l4 7 GB: 23 GB on
    a 24 GB L4), and vision-l4's 2 GB, the run's, which no row used, still refused the
    pool ("need 25 GB"); the answer depended on --workload. The run's model is held only
    when some row takes it."""
    wl = write(tmp_path / "wl.toml", HEAVY.replace("heavy-l4", "asr-l4").replace(
        "model_memory_gb = 4.0", "model_memory_gb = 7.0"))
    classes = {"a": {"budget_ms": 6000.0, "workload": "gptj-l4"},
               "b": {"budget_ms": 6000.0, "workload": "asr-l4"}}
    every_row = DEMAND.assign(service_class=["a", "b"] * 6)
    plan = plan_sites(every_row, _sites(), budget_ms=6000, failures=0,
                      service_classes=classes, workloads=str(wl),
                      requests_per_person_day=0.01, time_limit_s=30)
    assert plan.summary()["capacity"]["pool_memory_gb"] == 23.0
    some_run = DEMAND.assign(service_class=["a", "b", "realtime"] * 4)
    with pytest.raises(InputValidationError, match=r"the models need 25 GB together"):
        plan_sites(some_run, _sites(), budget_ms=6000, failures=0, service_classes=classes,
                   workloads=str(wl), requests_per_person_day=0.01)


def test_an_unknown_model_memory_is_said(tmp_path, caplog):
    """A workload without model_memory_gb leaves the pool's memory check partial: said,
    and recorded in the summary."""
    wl = write(tmp_path / "wl.toml", HEAVY.replace("model_memory_gb = 4.0\n", ""))
    wl_text = (tmp_path / "wl.toml").read_text()
    assert "model_memory_gb" not in wl_text
    with caplog.at_level("WARNING"):
        plan = plan_sites(_demand(), _sites(), budget_ms=50, failures=0,
                          service_classes=CLASSES, workloads=str(wl),
                          requests_per_person_day=10, time_limit_s=30)
    assert "the memory of heavy-l4 is unknown" in caplog.text
    assert plan.summary()["capacity"]["pool_memory_unknown"] == ["heavy-l4"]
    assert plan.summary()["capacity"]["pool_memory_gb"] == 2.0


def test_a_weighted_load_out_of_range_is_refused(tmp_path):
    """Review 118: the load's range was checked before the weights, which reach 1e15: a
    row of 1e5 requests/s on a workload of 1e-6 requests/s per accelerator counts 2.3e13
    requests/s of vision-l4. Refused, naming the weights."""
    wl = write(tmp_path / "wl.toml", HEAVY.replace(f"throughput_rps = {HEAVY_RPS!r}",
                                                   "throughput_rps = 1e-6"))
    demand = _demand().assign(load_rps=1e5)
    with pytest.raises(InputValidationError,
                       match=r"the load in requests/s of vision-l4 .*heavy-l4 x 2\.25923e\+08"
                             r".* is out of range \(4 row\(s\) above 1e\+12\)"):
        plan_sites(demand, _sites(), budget_ms=50, failures=0, service_classes=CLASSES,
                   workloads=str(wl))


def test_a_batch_plans_a_pooled_scenario(tmp_path):
    """A batch's pre-check passes a pool and its scenario plans it: the same site count as
    the Python API's plan."""
    from coverage.batch import load_config, run_batch

    cfg = class_batch(tmp_path, _demand(), _sites(), CLASSES_TOML, HEAVY,
                      f"requests_per_person_day = {RPPD}\nfailures = 1\nbudget_ms = 50\n")
    table = run_batch(load_config(cfg), tmp_path / "out", workers=0)
    assert table["ok"].all(), table[["error"]]
    plan = plan_sites(_demand(), _sites(), budget_ms=50, failures=1, service_classes=CLASSES,
                      workloads=str(tmp_path / "wl.toml"), requests_per_person_day=RPPD,
                      time_limit_s=30)
    assert int(table["site_count"].iloc[0]) == plan.summary()["site_count"]
    assert math.isfinite(float(table["site_count"].iloc[0]))


def test_compare_prices_a_pooled_edge_against_each_workload_in_the_region(tmp_path):
    """compare carries the pooled plan: the edge priced per request of every workload (its
    accelerators sized on the weighted load), the region renting each workload's
    accelerator-hours for its own requests; both recomputed from the cost model by hand,
    and the breakeven cleared exactly when the edge costs no more per request."""
    from coverage import compare
    from coverage.model.costs import HOURS_PER_YEAR, SECONDS_PER_YEAR, CostModel

    wl = write(tmp_path / "wl.toml", HEAVY)
    regions = pd.DataFrame({"region_id": ["r"], "lat": [45.0], "lon": [5.0],
                            "provider": ["test"]})
    demand = _demand()
    c = compare(demand, _sites(), regions=regions, budget_ms=50.0, failures=1,
                service_classes=CLASSES, workloads=str(wl), requests_per_person_day=RPPD,
                time_limit_s=30)
    doc = c.document
    requests, load = _hand_load(demand)
    nlp = (demand["service_class"] == "nlp").to_numpy()
    ptm = DEFAULT_PEAK_TO_MEAN
    # the region: each workload's mean requests on its own accelerator-hours
    costs = CostModel.builtin()
    u = costs.region.utilisation
    price = costs.accelerator("NVIDIA L4").region_hour_usd
    acc = (requests[nlp].sum() / ptm / (HEAVY_RPS * u)
           + requests[~nlp].sum() / ptm / (VISION.throughput_rps * u))
    req_m = requests.sum() / ptm * SECONDS_PER_YEAR / 1e6
    total = acc * HOURS_PER_YEAR * price + req_m * costs.region.network_usd_per_million_requests
    r = doc["region"]
    assert r["utilisation"]["accelerators_mean"] == pytest.approx(acc, rel=1e-9)
    assert r["cost_usd_per_year"]["total"] == pytest.approx(total, rel=1e-9)
    assert r["cost_per_million_requests"] == pytest.approx(total / req_m, rel=1e-9)
    assert r["load"]["peak_rps"] == pytest.approx(requests.sum(), rel=1e-12)
    assert set(r["workloads"]) == {"vision-l4", "heavy-l4"}
    assert r["workloads"]["heavy-l4"]["peak_rps"] == pytest.approx(requests[nlp].sum())
    # the edge: priced per request of every workload, sized on the weighted load
    e = doc["edge"]
    table = c.sites
    assert e["load"]["peak_rps"] == pytest.approx(requests.sum(), rel=1e-9)
    assert e["load"]["peak_in_load_unit_rps"] == pytest.approx(load.sum(), rel=1e-9)
    assert e["load"]["load_unit"] == "requests/s of vision-l4"
    assert table["peak_requests_rps"].sum() == pytest.approx(requests.sum(), rel=1e-9)
    per_m = table["total_usd_per_year"].sum() / (requests.sum() / ptm * SECONDS_PER_YEAR
                                                 / 1e6)
    assert e["cost_per_million_requests"] == pytest.approx(per_m, rel=1e-9)
    # every site's priced accelerators carry the weighted load it was sized for at the
    # target (its worst of the most even flows, or its least capacity that carries every
    # scenario: worst_load_rps stays the former, tester 137)
    raw = table["n_accelerators"] * VISION.throughput_rps * DEFAULT_TARGET_UTILISATION
    assert (table["sized_load_rps"] <= raw * (1 + 1e-9)).all()
    if e["sizing"]["by"] == "most_even":
        assert (table["sized_load_rps"] == table["worst_load_rps"]).all()
    be = doc["breakeven"]
    assert be["requests_per_year"] == pytest.approx(requests.sum() / ptm * SECONDS_PER_YEAR)
    assert be["clears"] == (e["cost_per_million_requests"]
                            <= r["cost_per_million_requests"] * (1 + 1e-12))
    classes = {row["service_class"]: row for row in doc["region_coverage_by_service_class"]}
    assert classes["nlp"]["workload"] == classes["nlp"]["region_workload"] == "heavy-l4"
    assert classes["gaming"]["region_workload"] == "vision-l4"


def test_compare_prices_the_region_on_the_mix_the_edge_serves(tmp_path):
    """A class no site can serve (gptj-l4's inference is seconds, its budget 100 ms): the
    region's yearly cost still rents its accelerator-hours for the whole demand, but the
    price per request the two sides are compared by is the region's on the mix the edge
    serves (tester 126: the demand's mix made the edge look 17x cheaper than it is)."""
    from coverage import compare

    regions = pd.DataFrame({"region_id": ["r"], "lat": [45.0], "lon": [5.0],
                            "provider": ["test"]})
    classes = {"gaming": {"budget_ms": 40.0},
               "nlp": {"budget_ms": 100.0, "workload": "gptj-l4"}}
    c = compare(_demand(), _sites(), regions=regions, budget_ms=50.0, failures=1,
                service_classes=classes, requests_per_person_day=RPPD, time_limit_s=30)
    r = c.document["region"]
    assert r["price_mix"]["peak_rps_served"]["gptj-l4"] == 0.0
    assert r["cost_per_million_requests"] == pytest.approx(
        r["workloads"]["vision-l4"]["cost_per_million_requests"], rel=1e-12)
    assert r["cost_per_million_requests_demand_mix"] > 10 * r["cost_per_million_requests"]
    be = c.document["breakeven"]
    assert be["region_cost_per_million_requests"] == r["cost_per_million_requests"]
    assert be["clears"] == (c.document["edge"]["cost_per_million_requests"]
                            <= r["cost_per_million_requests"] * (1 + 1e-12))
    # sites.csv keeps a column for the workload no flow carries
    assert (c.plan.sites["requests_gptj-l4_rps"] == 0).all()


def test_candidate_columns_named_like_the_requests_are_not_taken(tmp_path, caplog):
    """A candidates' requests_rps column (or a stale requests_<w>_rps of an earlier plan's
    sites.csv) is not the plan's: left out of a pooled plan's sites with a warning, and
    never taken for the edge's requests by compare (tester 126: 8,222x the price)."""
    from coverage import compare

    wl = write(tmp_path / "wl.toml", HEAVY)
    regions = pd.DataFrame({"region_id": ["r"], "lat": [45.0], "lon": [5.0],
                            "provider": ["test"]})
    sites = _sites().assign(**{"requests_rps": 1.0, "requests_gone-l4_rps": 5.0})
    plan = plan_sites(_demand(), sites, budget_ms=50, failures=1, service_classes=CLASSES,
                      workloads=str(wl), requests_per_person_day=RPPD, time_limit_s=30)
    assert "requests_gone-l4_rps" not in plan.sites.columns
    assert plan.sites["requests_rps"].sum() == pytest.approx(
        plan.summary()["capacity"]["requests_total_rps"], rel=1e-9)
    assert "are not carried to sites.csv" in caplog.text
    plain = _demand().drop(columns="service_class")
    ref = compare(plain, _sites(), regions=regions, budget_ms=50.0,
                  requests_per_person_day=RPPD, time_limit_s=30)
    for value in (1.0, "n/a"):
        c = compare(plain, _sites().assign(requests_rps=value), regions=regions,
                    budget_ms=50.0, requests_per_person_day=RPPD, time_limit_s=30)
        assert c.document["edge"]["cost_per_million_requests"] == pytest.approx(
            ref.document["edge"]["cost_per_million_requests"], rel=1e-9)


def _compare_cli(tmp_path, nlp_workload, workloads_file, *extra):
    """``edge-coverage compare`` at 50 ms of the test demand and sites, the class nlp on
    ``nlp_workload`` (of ``workloads_file``), into a directory that must not be written:
    the demand file, the result and that directory."""
    cls = write(tmp_path / "classes.toml", CLASSES_TOML.replace("heavy-l4", nlp_workload))
    d, s = tmp_path / "d.csv", tmp_path / "s.csv"
    _demand().to_csv(d, index=False)
    _sites().to_csv(s, index=False)
    out = tmp_path / "never"
    r = run("compare", "--demand", d, "--candidates", s, "--service-classes", cls,
            "--workloads", workloads_file, "--budget-ms", 50, "--out", out, *extra)
    return d, r, out


def test_a_class_workload_the_region_cannot_serve_names_the_right_fix(tmp_path):
    """--region-workload names the run's rows' region workload only: a class on a
    workload the region cannot serve is told to add a workload of the same model on a
    rented accelerator, or a region price (tester 126: it was told --region-workload)."""
    foo = HEAVY.replace("[workloads.heavy-l4]", "[workloads.heavy-x1]").replace(
        'accelerator = "NVIDIA L4"', 'accelerator = "Acme X1"')
    vision_x1 = (f"[workloads.vision-x1]\naccelerator = \"Acme X1\"\n"
                 f"inference_ms = [4.7, 4.9]\nthroughput_rps = {VISION.throughput_rps!r}\n"
                 "model_memory_gb = 2.0\naccelerator_memory_gb = 24.0\n"
                 "accelerator_w = 72.0\nhost_w = 300.0\naccelerators_per_host = 4\n")
    wl = write(tmp_path / "wl.toml", foo + "\n" + vision_x1)
    costs = write(tmp_path / "costs.toml",
                  '[accelerators."Acme X1"]\nunit_usd = 2000.0\nhost_usd = 8000.0\n'
                  "accelerators_per_host = 4\n")
    _, r, out = _compare_cli(tmp_path, "heavy-x1", wl, "--workload", "vision-x1",
                             "--costs", costs, "--region-workload", "vision-l4",
                             "--requests-per-person-day", RPPD)
    assert r.returncode == 2 and "Traceback" not in r.stderr and not out.exists()
    assert "the region cannot serve workload 'heavy-x1'" in r.stderr
    assert "[workloads.heavy-l4]" in r.stderr and "--region-workload names" in r.stderr


def test_compare_refuses_a_weighted_load_out_of_range_before_the_region(tmp_path):
    """The weighted load's range is checked before the region's coverage (tester 126: it
    came from the plan, after it), from the command line with the demand file named."""
    slow = HEAVY.replace("[workloads.heavy-l4]", "[workloads.slow-l4]").replace(
        f"throughput_rps = {HEAVY_RPS!r}", "throughput_rps = 1e-06")
    wl = write(tmp_path / "wl.toml", slow)
    d, r, out = _compare_cli(tmp_path, "slow-l4", wl, "--requests-per-person-day", 1e6)
    assert r.returncode == 2 and "Traceback" not in r.stderr and not out.exists()
    assert "is out of range" in r.stderr and str(d) in r.stderr
    assert "region coverage" not in r.stderr + r.stdout
