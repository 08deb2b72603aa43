"""Hostile inputs of the edge-or-region comparison: ``edge-coverage compare`` and
``coverage.compare`` with their cost model (``--costs``), regions (``--regions``), workload
and tier catalogs (``--workloads``, ``--tiers``) and options.

Every case here was an internal error, a traceback, a silent wrong or null figure, accepted
nonsense, or a problem reported only after another was fixed. The rule: one message naming
the input, the key or rows and the fix, exit 2, before any work."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from helpers import run, write
from test_compare import FAR, regions_at, run_compare, town

from coverage.comparison import right_size
from coverage.config import build_model
from coverage.errors import InputValidationError
from coverage.model.costs import CostModel, FleetCosts, RegionCost, fleet_cost, region_cost
from coverage.model.tiers import TierCatalog
from coverage.model.workloads import WorkloadCatalog


def refused(func, *args, **kwargs) -> str:
    """The message of the InputValidationError ``func`` raises."""
    with pytest.raises(InputValidationError) as info:
        func(*args, **kwargs)
    return str(info.value)


# ------------------------------------------------------------------ the cost model file


def test_unknown_cost_keys_name_the_key_they_stand_for(tmp_path):
    p = write(tmp_path / "c.toml", "[fleet]\nztp_enabled = false\n[region]\nutilization = 0.5\n"
              "[edge.mec]\nrent_usd_month = 3.0\n[regions]\nx = 1\n")
    msg = refused(CostModel.from_file, p)
    for hint in ("'ztp_enabled' (did you mean 'ztp'?)",
                 "'utilization' (did you mean 'utilisation'?)",
                 "'rent_usd_month' (did you mean 'rent_usd_per_month'?)",
                 "'regions' (did you mean 'region'?)"):
        assert hint in msg
    assert str(p) in msg and "Fix:" in msg


@pytest.mark.parametrize("text", ["", "# only a comment\n", "[fleet]\n",
                                  "[edge.mec]\n[region]\nutilisation = 0.8\n",
                                  "edge = {}\n"])
def test_a_cost_file_or_table_that_sets_nothing_is_refused(tmp_path, text):
    p = write(tmp_path / "c.toml", text)
    msg = refused(CostModel.from_file, p)
    assert str(p) in msg and "sets nothing" in msg and "Fix:" in msg


@pytest.mark.parametrize("text, key", [
    ("[fleet]\ndepreciation_years = 1e-300\n", "depreciation_years"),   # ZeroDivisionError
    ("[fleet]\ndepreciation_years = 0.0001\ncost_of_capital = 0.0\n", "depreciation_years"),
    ("[region]\nutilisation = 1e-300\n", "utilisation"),  # 5.9e299 USD per million
])
def test_cost_numbers_outside_their_physical_range_are_refused(tmp_path, text, key):
    p = write(tmp_path / "c.toml", text)
    msg = refused(CostModel.from_file, p)
    assert f"{key} must be a number > 0" in msg and "at least" in msg


def test_a_cost_model_built_in_code_is_checked_like_a_file():
    base = CostModel.builtin()
    assert "utilisation" in refused(replace, base, region=RegionCost(utilisation=0.0))
    assert "depreciation_years" in refused(
        replace, base, fleet=FleetCosts(depreciation_years=float("nan")))
    assert "[edge.default]" in refused(replace, base, edge={})
    # the functions it feeds refuse a throughput that would divide by zero
    assert "throughput_rps" in refused(region_cost, base, mean_load_rps=1.0,
                                       accelerator="NVIDIA L4", throughput_rps=0.0)
    assert "throughput_rps" in refused(
        fleet_cost, base, tiers=["mec"], n_accelerators=[1], mean_load_rps=[1.0],
        accelerator="NVIDIA L4", throughput_rps=float("nan"), accelerator_w=72.0,
        host_w=300.0, pue=[1.2])


# ------------------------------------------------------------------- the catalogs


def test_unknown_catalog_keys_name_the_key_they_stand_for(tmp_path):
    w = write(tmp_path / "w.toml", "[workloads.vision-l4]\nthroughput = 100.0\n")
    assert "'throughput' (did you mean 'throughput_rps'?)" in refused(
        WorkloadCatalog.from_file, w)
    t = write(tmp_path / "t.toml", "[tiers.mec]\nextra = [1.0, 2.0]\n")
    assert "'extra' (did you mean 'extra_ms'?)" in refused(TierCatalog.from_file, t)
    top = write(tmp_path / "top.toml", "[workload.vision-l4]\nthroughput_rps = 100.0\n")
    assert "'workload' (did you mean 'workloads'?)" in refused(WorkloadCatalog.from_file, top)


def test_a_throughput_too_small_to_price_is_refused_and_counts_saturate(tmp_path):
    # 1e-12 requests/s per accelerator: the fleet came out at a NEGATIVE price (an int64
    # count wrapped around) and the region at 1e302 USD
    w = write(tmp_path / "w.toml", "[workloads.vision-l4]\nthroughput_rps = 1e-12\n")
    assert "throughput_rps must be a finite number > 0" in refused(WorkloadCatalog.from_file, w)
    n = right_size([1e12, 1e300], [-1, -1], throughput_rps=1e-6, target_utilisation=0.01,
                   min_accelerators=1)
    assert n.tolist() == [2 ** 53, 2 ** 53]


# ------------------------------------------------------------- coverage.compare (the API)


def test_options_are_checked_before_the_work_even_without_an_edge_plan():
    demand, sites = town()
    tiny = sites.assign(power_kw=0.01)  # no candidate fits: plan_sites is never called
    for kw, key in (({"peak_to_mean": 0.0}, "peak_to_mean"),               # ZeroDivisionError
                    ({"requests_per_person_day": float("nan")}, "requests_per_person_day"),
                    ({"requests_per_person_day": True}, "requests_per_person_day"),
                    ({"budget_ms": float("nan")}, "budget_ms"),            # IndexError
                    ({"budget_ms": "fast"}, "budget_ms"),                  # ValueError
                    ({"preference_share": True}, "preference_share"),
                    ({"thin_utilisation": True}, "thin_utilisation")):
        assert key in refused(run_compare, demand, tiny, **kw)
    # a NumPy number is a number (a float32 share was refused)
    c = run_compare(demand, sites, thin_utilisation=np.float32(0.25))
    assert c.document["edge"]["feasible"]


def test_an_unknown_keyword_is_named_with_the_one_it_stands_for():
    demand, sites = town()
    msg = refused(run_compare, demand, sites, time_limit=5)  # was a TypeError
    assert "'time_limit' (did you mean 'time_limit_s'?)" in msg


@pytest.mark.parametrize("regions, needle", [
    (regions_at([(95.0, 10.0), (50.0, 200.0)]), "latitude outside [-90, 90]"),  # accepted
    (regions_at([(float("nan"), 10.0), (50.0, 10.0)]), "missing"),  # ValueError: NaN
    (regions_at([(50.0, float("inf"))]), "'lon' is not a finite number"),  # ValueError
    (pd.DataFrame({"x": [1]}), "missing column: latitude"),        # KeyError: 'lat'
    (pd.DataFrame({"region_id": ["a", "a"], "lat": [50.0, 51.0], "lon": [10.0, 10.0]}),
     "duplicate region_id"),                                        # accepted
    ([(50.0, 10.0)], "regions must be a table"),                   # TypeError
])
def test_the_regions_table_is_validated(regions, needle):
    demand, sites = town()
    msg = refused(run_compare, demand, sites, regions=regions)
    assert needle in msg and "Fix:" in msg


def test_an_empty_or_misspelt_provider_list_is_refused():
    from coverage.model.regions import builtin_regions

    # an empty list gave an empty table, refused as a "<regions>" input without rows
    assert "no cloud provider named" in refused(builtin_regions, [])
    assert "gcpp (did you mean gcp?)" in refused(builtin_regions, ["aws", "gcpp"])


def test_a_regions_file_path_is_read(tmp_path):
    demand, sites = town()
    p = write(tmp_path / "r.csv", "region_id,lat,lon\nnear,50.0,10.0\nfar,-40,170\n")
    c = run_compare(demand, sites, regions=str(p))
    assert c.document["region"]["regions"] == 2
    assert c.document["region"]["coverage"]["share_within_budget"] > 0


def test_every_problem_is_in_one_message(tmp_path):
    demand, sites = town()
    costs = write(tmp_path / "c.toml", "[region]\nutilization = 0.5\n")
    msg = refused(run_compare, demand, sites, regions=regions_at([(95.0, 10.0)]),
                  costs=str(costs), region_workload="nope", requests_per_person_day=-1.0,
                  preference_share=2.0)
    for needle in ("requests_per_person_day", "preference_share", str(costs),
                   "did you mean 'utilisation'", "Invalid regions input",
                   "region workload 'nope'"):
        assert needle in msg


def test_a_new_accelerator_without_an_edge_price_is_not_priced_free(tmp_path):
    wl = write(tmp_path / "w.toml", "[workloads.x-l4]\naccelerator = \"X\"\n"
               "inference_ms = [4.0, 5.0]\nthroughput_rps = 100.0\naccelerator_w = 72.0\n"
               "host_w = 300.0\n")
    model = build_model({"workload": "x-l4"}, workloads=str(wl))
    costs = CostModel.builtin().with_overrides({"accelerators": {"X": {"region_hour_usd": 1.0}}})
    demand, sites = town()
    msg = refused(run_compare, demand, sites, model=model, workloads=str(wl), costs=costs)
    assert "'X' has no edge price (unit_usd, host_usd)" in msg and "Fix:" in msg
    # region-only prices stay usable for the region
    assert region_cost(costs, mean_load_rps=100.0, accelerator="X",
                       throughput_rps=100.0).total_usd_per_year > 0


def test_cost_tables_spelled_like_a_tier_or_an_accelerator_in_use_are_refused(tmp_path):
    demand, sites = town()
    base = CostModel.builtin()
    mec = base.with_overrides({"edge": {"MEC": {"rent_usd_per_month": 1.0}}})
    msg = refused(run_compare, demand, sites.assign(tier="mec"), costs=mec)
    assert "[edge.'MEC']" in msg and "looks like 'mec'" in msg
    l4 = base.with_overrides({"accelerators": {"nvidia l4": {"region_hour_usd": 0.1}}})
    assert "looks like 'NVIDIA L4'" in refused(run_compare, demand, sites, costs=l4)
    # a tier the sites name is not a misspelling, even when it folds to another one
    own = base.with_overrides({"edge": {"On-Prem": {"rent_usd_per_month": 1.0}}})
    tiers = write(tmp_path / "t.toml", "[tiers.On-Prem]\npower_kw = [1.0, 20.0]\npue = 1.3\n")
    assert run_compare(demand, sites.assign(tier="On-Prem"), costs=own,
                       tiers=str(tiers)).document["edge"]["feasible"]


def test_a_site_that_costs_nothing_but_its_redundancy_does_not_divide_by_zero():
    demand, sites = town(n=80, spread=3.0)
    zero = dict.fromkeys(
        ("cabinet_usd", "install_usd", "install_usd_manual", "power_usd_per_kwh",
         "lease_usd_per_kw_month", "rent_usd_per_month", "backhaul_usd_per_month",
         "remote_ops_usd_per_year", "truck_rolls_per_year_ztp",
         "truck_rolls_per_year_manual"), 0.0)
    costs = CostModel.builtin().with_overrides({
        "edge": {"metro-colo": {**zero, "redundancy_usd": 1000.0}},
        "accelerators": {"NVIDIA L4": {"unit_usd": 0.0, "host_usd": 0.0}}})
    c = run_compare(demand, sites, costs=costs, failures=0)  # was ZeroDivisionError
    w = c.warnings[c.codes.index("per-site-redundancy")]
    assert w["figures"]["extra_sites"] is None and "costs nothing else" in w["message"]


def test_an_all_sovereign_demand_says_why_the_regions_latency_is_null():
    demand, sites = town()
    c = run_compare(demand.assign(sovereign=True), sites)
    cov = c.document["region"]["coverage"]
    assert cov["mean_latency_ms"] is None and "sovereign" in cov["note"]
    assert c.document["region"]["cost_per_million_requests"] > 0


# ------------------------------------------------------------------ edge-coverage compare


def test_cli_reports_catalog_cost_and_region_workload_problems_together(tmp_path):
    tiers = write(tmp_path / "t.toml", "[tiers.mec]\npue = 0\n")
    costs = write(tmp_path / "c.toml", "[region]\nnetwork_usd_per_million_requests = -1\n")
    out = tmp_path / "never"
    r = run("compare", "--demo", "--country", "LU", "--out", out, "--tiers", tiers,
            "--costs", costs, "--region-workload", "nope")
    assert r.returncode == 2 and "Traceback" not in r.stderr and not out.exists()
    for needle in (str(tiers), "pue must be", str(costs), "network_usd_per_million_requests",
                   "region workload 'nope'"):
        assert needle in r.stderr
    # a missing input file does not hide the cost model's problem either
    r = run("compare", "--demand", tmp_path / "absent.csv", "--candidates",
            tmp_path / "absent2.csv", "--out", out, "--costs", costs)
    assert r.returncode == 2 and str(costs) in r.stderr and "absent.csv" in r.stderr
    assert not out.exists()


def test_cli_refuses_a_misspelt_cost_table_before_the_output_directory(tmp_path):
    costs = write(tmp_path / "c.toml", "[edge.Metro_Colo]\nrent_usd_per_month = 5.0\n")
    out = tmp_path / "never"
    r = run("compare", "--demo", "--country", "LU", "--out", out, "--costs", costs)
    assert r.returncode == 2 and "Traceback" not in r.stderr and not out.exists()
    assert "looks like 'metro-colo'" in r.stderr and "[edge.metro-colo]" in r.stderr


def test_far_regions_still_price_and_stay_finite():
    """The guard against silent nulls: a normal comparison's priced figures are numbers."""
    from coverage.comparison import _PRICED, _non_finite

    demand, sites = town()
    c = run_compare(demand, sites, regions=FAR)
    assert _non_finite(c.document, _PRICED) == []
    assert c.document["edge"]["cost_per_million_requests"] > 0


@pytest.mark.parametrize("column,value,needle", [
    ("load_rps", "-1", "column 'load_rps' must be a number"),
    ("sovereign", "maybe", "column 'sovereign' must be true/false"),
])
def test_a_bad_demand_column_names_the_file(tmp_path, column, value, needle):
    """Tester 106: compare named the demand "<demand>" (load_rps) or "demand" (sovereign)
    where plan names the file."""
    demand, sites = town(n=12)
    good = "true" if column == "sovereign" else "5"
    demand[column] = [good] * 11 + [value]
    d = tmp_path / "my_demand.csv"
    demand.assign(demand_id=[f"d{i}" for i in range(12)]).to_csv(d, index=False)
    s = tmp_path / "sites.csv"
    sites.to_csv(s, index=False)
    r = run("compare", "--demand", d, "--candidates", s, "--out", tmp_path / "out")
    assert r.returncode == 2, r.stderr
    assert f"{d}: {needle}" in r.stderr and "row 12" in r.stderr, r.stderr
    assert "<demand>" not in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_compare_names_bad_capacity_rps_with_a_mistyped_tier(tmp_path):
    """Review (helper 109): compare always prices a load (100 requests a person a day by
    default), yet the capacity_rps column was checked with a mistyped tier only when the
    load came from an option or a column: it was refused later, after region coverage."""
    demand, sites = town(n=12)
    d = tmp_path / "d.csv"
    demand.assign(demand_id=[f"d{i}" for i in range(12)]).to_csv(d, index=False)
    s = tmp_path / "s.csv"
    sites.assign(tier=["MEC"] + ["metro-colo"] * 11,
                 capacity_rps=["x"] + [100.0] * 11).to_csv(s, index=False)
    r = run("compare", "--demand", d, "--candidates", s, "--out", tmp_path / "out")
    assert r.returncode == 2, r.stderr
    assert "'MEC'" in r.stderr and "column 'capacity_rps'" in r.stderr, r.stderr


def test_a_misspelt_cost_table_is_named_with_the_files_other_problems(tmp_path):
    """Tester 181: a misspelt tier table came one run after the file's other problems."""
    costs = write(tmp_path / "c.toml", "[fleet]\ndepreciation_yeras = 4\n"
                  "[edge.metrocolo]\ncabinet_usd = 1\n")
    r = run("compare", "--demo", "--country", "LU", "--out", tmp_path / "o", "--costs", costs)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "'depreciation_yeras'" in r.stderr and "looks like 'metro-colo'" in r.stderr
