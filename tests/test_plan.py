"""Planner end to end through the Python API, with independent invariant and N-1 checks."""

import math

import numpy as np
import pandas as pd
import pytest
from helpers import ON_NET
from invariants import check_invariants, naive_n_minus_1

from coverage import InputValidationError, LatencyModel, NoFeasiblePlanError, plan_sites
from coverage.inputs.geonames import geonames_candidates, geonames_demand
from coverage.model.geo import haversine_km

SUMMARY_KEYS = [
    "site_count", "lower_bound", "status", "mip_gap", "budget_ms", "percentile",
    "failures_tolerated", "n_demand", "n_candidates", "population_total", "population_covered",
    "population_single_coverable", "population_uncoverable", "max_radius_km", "mean_latency_ms",
    "n1_worst_latency_ms", "n1_population_outside_budget", "runtime_s", "parameters", "version",
]


def assert_n1_matches_naive(plan):
    naive = naive_n_minus_1(plan)
    f = plan.failures.set_index("failed_site_id")
    assert set(naive) == set(f.index)
    for site, (rerouted, outside, worst, n_outside) in naive.items():
        row = f.loc[site]
        assert row["population_rerouted"] == pytest.approx(rerouted)
        assert row["population_outside_budget"] == pytest.approx(outside)
        assert row["n_demand_outside_budget"] == n_outside
        assert bool(row["meets_budget"]) == (n_outside == 0)
        if math.isnan(worst):
            assert math.isnan(row["worst_latency_ms"])
        else:
            assert row["worst_latency_ms"] == pytest.approx(worst, abs=1e-3)


# The sample data's tight / medium / loose budgets: 25 / 30 / 50 ms under the on-net model
# they were designed for (radius 252 / 592 / 1952 km), 30 / 35 / 50 ms under the default
# internet model (88 / 313 / 985 km; 25 ms is infeasible there). The tight ones leave
# uncoverable and single-coverable demand.
SAMPLE_BUDGETS = [pytest.param(ON_NET, b, id=f"on-net-{b:g}") for b in (25.0, 30.0, 50.0)] + [
    pytest.param(None, b, id=f"internet-{b:g}") for b in (30.0, 35.0, 50.0)]


@pytest.mark.parametrize("model,budget_ms", SAMPLE_BUDGETS)
@pytest.mark.parametrize("failures", [0, 1, 2])
def test_sample_plans_hold_their_invariants(sample_inputs, model, budget_ms, failures):
    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=budget_ms, failures=failures, model=model)
    assert plan.model.profile == ("internet" if model is None else "on-net")
    s = plan.summary()
    assert all(k in s for k in SUMMARY_KEYS)
    assert s["status"] == "optimal" and s["lower_bound"] == s["site_count"]
    assert check_invariants(plan) == []
    assert_n1_matches_naive(plan)
    assert s["population_total"] == pytest.approx(demand["population"].sum())
    if failures >= 1:
        assert s["n1_population_outside_budget_redundant"] == 0


def test_more_failures_or_tighter_budget_never_need_fewer_sites(sample_inputs):
    demand, sites = sample_inputs
    count = {(b, k): plan_sites(demand, sites, budget_ms=b, failures=k,
                                model=ON_NET).summary()["site_count"]
             for b in (25.0, 35.0) for k in (0, 1)}
    assert count[(25.0, 1)] >= count[(25.0, 0)] and count[(35.0, 1)] >= count[(35.0, 0)]
    assert count[(25.0, 1)] >= count[(35.0, 1)]


def test_uncoverable_and_single_coverable_are_reported_not_fatal():
    # two clusters far apart; one candidate near the second cluster only, and a remote point
    demand = pd.DataFrame({
        "demand_id": ["a1", "a2", "b1", "far"],
        "lat": [48.85, 48.86, 52.52, -33.9],
        "lon": [2.35, 2.36, 13.40, 18.4],
        "population": [1000, 2000, 500, 70],
    })
    sites = pd.DataFrame({"site_id": ["paris-1", "paris-2", "berlin"],
                          "lat": [48.80, 48.90, 52.50], "lon": [2.30, 2.40, 13.40]})
    plan = plan_sites(demand, sites, budget_ms=25.0, model=ON_NET)  # radius ~252 km
    s = plan.summary()
    assert s["population_uncoverable"] == 70
    assert s["population_single_coverable"] == 500
    assert s["site_count"] == 3  # both Paris sites (N-1) and Berlin (its only site, forced)
    status = plan.demand.set_index("demand_id")["coverage_status"]
    assert status.to_dict() == {"a1": "redundant", "a2": "redundant", "b1": "single",
                                "far": "uncoverable"}
    assert set(plan.gaps["demand_id"]) == {"b1", "far"}
    assert check_invariants(plan) == []
    assert_n1_matches_naive(plan)
    # Berlin's users have no backup in budget: its failure puts them outside the budget
    f = plan.failures.set_index("failed_site_id")
    assert f.loc["berlin", "population_outside_budget"] == 500
    assert s["n1_population_outside_budget"] == 500
    assert s["n1_population_outside_budget_redundant"] == 0


def test_required_sites_and_mixed_access(sample_inputs):
    demand, sites = sample_inputs
    demand = demand.assign(access=np.where(np.arange(len(demand)) % 3 == 0, "cable", "ftth"))
    sites = sites.assign(required=sites["site_id"] == sites["site_id"].iloc[0])
    plan = plan_sites(demand, sites, budget_ms=60.0)
    assert sites["site_id"].iloc[0] in set(plan.sites["site_id"])
    assert check_invariants(plan) == []
    assert plan.summary()["parameters"]["access_classes"] == ["cable", "ftth"]


def test_options_are_validated_with_names(sample_inputs):
    demand, sites = sample_inputs
    with pytest.raises(InputValidationError, match="budget_ms"):
        plan_sites(demand, sites, budget_ms=-1)
    with pytest.raises(InputValidationError, match="budget_ms"):
        plan_sites(demand, sites, budget_ms="fast")
    with pytest.raises(InputValidationError, match="access .*'fiber'"):
        plan_sites(demand, sites, access="fiber")
    with pytest.raises(InputValidationError, match="failures"):
        plan_sites(demand, sites, failures=-1)


def test_inputs_and_client_of_the_wrong_type_are_named(sample_inputs):
    """``inputs=[1]`` raised AttributeError ('list' object has no attribute 'get') and
    ``client='x'`` AttributeError ('scheduler_info'), the latter after the work: each is
    now a sentence of the one message of the options, before any work."""
    from helpers import raises_with

    demand, sites = sample_inputs
    raises_with(plan_sites, demand, sites, inputs=[1],
                match=["inputs must be a mapping", "got list"])
    raises_with(plan_sites, demand, sites, inputs={"demand": "d.csv"},
                match=["inputs['demand'] must be a mapping", "got str"])
    msg = raises_with(plan_sites, demand, sites, client="x", budget_ms=-1,
                      match=["client must be a Dask distributed.Client", "got str 'x'",
                             "budget_ms"])
    assert "AttributeError" not in msg
    plan = plan_sites(demand, sites, budget_ms=30.0, model=ON_NET, failures=0,
                      inputs={"demand": {"path": "d.csv"}}, kmedian_time_limit_s=5)
    assert plan.summary()["inputs"] == {"demand": {"path": "d.csv"}}


def test_budget_out_of_reach():
    """The error names the nearest (demand point, candidate) pair, its distance (by hand
    computation) and the budget it would need (the model's great-circle latency)."""
    demand = pd.DataFrame({"demand_id": ["a", "b", "c"], "lat": [0.0, 10.0, -20.0],
                           "lon": [0.0, 10.0, 0.0], "population": [1, 1, 1]})
    sites = pd.DataFrame({"site_id": ["far", "near"], "lat": [40.0, 12.0],
                          "lon": [40.0, 12.0]})
    with pytest.raises(NoFeasiblePlanError, match="no demand point has a candidate") as err:
        plan_sites(demand, sites, budget_ms=30.0)
    km = haversine_km(10.0, 10.0, 12.0, 12.0)  # b to near: the closest of the six pairs
    need = LatencyModel().latency_ms(km, "ftth", "p99")
    assert (f"the nearest pair, demand point 'b' and candidate 'near', is {km:,.0f} km "
            f"apart, about {need:,.1f} ms p99: add candidates" in str(err.value))
    assert need > 30.0


def test_geonames_small_country_demo():
    demand, sites = geonames_demand("LU"), geonames_candidates("LU", 5_000)
    plan = plan_sites(demand, sites, budget_ms=30.0,
                      model=LatencyModel(route_factor=2.0, workload="bert-l4"))
    assert plan.summary()["status"] == "optimal"
    assert plan.summary()["parameters"]["latency_model"]["route_factor"] == 2.0
    assert check_invariants(plan) == []


def test_geonames_us_matches_the_issue_figures():
    demand = geonames_demand("US")
    assert 21_000 < len(demand) < 22_500
    assert demand["population"].sum() == pytest.approx(279e6, rel=0.01)
    assert 900 < len(geonames_candidates("US")) < 1100


@pytest.mark.parametrize("model,budget_ms,failures", [
    pytest.param(ON_NET, 25.0, 1, id="on-net-25.0-1"),
    pytest.param(ON_NET, 30.0, 1, id="on-net-30.0-1"),
    pytest.param(ON_NET, 25.0, 2, id="on-net-25.0-2"),
    pytest.param(ON_NET, 40.0, 0, id="on-net-40.0-0"),
    pytest.param(None, 30.0, 1, id="internet-30.0-1"),  # tight under the default model
])
def test_row_generation_matches_the_full_model(sample_inputs, model, budget_ms, failures):
    demand, sites = sample_inputs
    full = plan_sites(demand, sites, budget_ms=budget_ms, failures=failures, strategy="full",
                      model=model)
    lazy = plan_sites(demand, sites, budget_ms=budget_ms, failures=failures, strategy="lazy",
                      model=model)
    s = lazy.summary()
    assert s["solver"]["strategy"] == "lazy" and s["status"] == "optimal"
    assert s["site_count"] == full.summary()["site_count"]
    assert s["n_pairs_in_reach"] == full.summary()["n_pairs_in_reach"]
    assert check_invariants(lazy) == []
    assert_n1_matches_naive(lazy)


def test_auto_strategy_follows_the_memory_cap(sample_inputs):
    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=30.0, max_memory_gb=1e-4)
    assert plan.summary()["solver"]["strategy"] == "lazy"
    assert plan.reach is None
    assert plan_sites(demand, sites, budget_ms=30.0).summary()["solver"]["strategy"] == "full"


def test_row_generation_out_of_time_still_returns_a_valid_plan(sample_inputs):
    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=25.0, strategy="lazy", time_limit_s=0.01,
                      kmedian_time_limit_s=1, model=ON_NET)
    s = plan.summary()
    assert s["status"] in ("optimal", "time_limit")
    assert s["lower_bound"] <= s["site_count"]
    assert check_invariants(plan) == []


def test_every_public_name_resolves():
    import coverage

    for name in coverage.__all__:
        assert getattr(coverage, name) is not None, name
    from coverage.inputs.raster import read_population_raster

    assert coverage.read_population_raster is read_population_raster


@pytest.mark.parametrize("failures", [0, 1, 3, 5])
def test_status_gaps_and_summary_follow_the_failures_tolerated(sample_inputs, failures):
    from coverage.outputs.gis import plan_layers

    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=failures, kmedian_time_limit_s=5)
    d = plan.demand
    n = d["n_covering_sites"].to_numpy()
    pop = d["population"].to_numpy(dtype=float)
    want = np.select([n >= failures + 1, n == 0, n == 1], ["redundant", "uncoverable", "single"],
                     "partial")
    assert d["coverage_status"].tolist() == want.tolist()
    gap = n < failures + 1
    assert d["coverage_status"].isin(["partial"]).any() == (failures >= 3)  # sample has 2..5
    # one definition everywhere: Plan.gaps, the proposer, the GIS gaps layer
    assert set(plan.gaps["demand_id"]) == set(d.loc[gap, "demand_id"])
    s = plan.summary()
    assert s["proposed"]["gap_points"] == int(gap.sum()) == s["n_demand_gap"]
    assert s["proposed"]["population_gap"] == pytest.approx(pop[gap].sum())
    layers = plan_layers(plan.sites, plan.assignment, plan.proposed)
    assert set(layers["gaps"]["demand_id"]) == set(plan.gaps["demand_id"])
    # summary: by status, and by number of sites within budget 0 .. k, >= k+1
    assert s["population_redundant"] == pytest.approx(pop[~gap].sum())
    assert s["population_gap"] == pytest.approx(pop[gap].sum())
    assert s["population_single_coverable"] == pytest.approx(pop[(n == 1) & gap].sum())
    assert s["population_partial"] == pytest.approx(pop[(n >= 2) & gap].sum())
    assert s["population_uncoverable"] == pytest.approx(pop[n == 0].sum())
    by_k = s["coverage_by_k"]
    assert list(by_k) == [str(j) for j in range(failures + 1)] + [f">={failures + 1}"]
    for j in range(failures + 1):
        assert by_k[str(j)]["n_demand"] == int((n == j).sum())
        assert by_k[str(j)]["population"] == pytest.approx(pop[n == j].sum())
    assert by_k[f">={failures + 1}"]["population"] == pytest.approx(pop[~gap].sum())
    safe = s["population_safe_by_failures"]
    assert list(safe) == [f"N-{j}" for j in range(failures + 1)]
    for j in range(failures + 1):
        assert safe[f"N-{j}"] == pytest.approx(pop[n >= j + 1].sum())
    assert check_invariants(plan) == []


def test_five_failures_do_not_call_two_sites_redundant():
    # the review's case: with --failures 5, points with 2-3 sites were "redundant"
    demand = pd.DataFrame({"demand_id": ["two", "three", "six"], "lat": [0.0, 10.0, 20.0],
                           "lon": [0.0, 0.0, 0.0], "population": [10, 20, 40]})
    offsets = {"two": 2, "three": 3, "six": 6}
    rows = [(f"{k}-{i}", lat, 0.01 * (i + 1)) for (k, lat) in zip(offsets, [0.0, 10.0, 20.0],
                                                                   strict=True)
            for i in range(offsets[k])]
    sites = pd.DataFrame(rows, columns=["site_id", "lat", "lon"])
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=5, kmedian_time_limit_s=2)
    status = plan.demand.set_index("demand_id")["coverage_status"].to_dict()
    assert status == {"two": "partial", "three": "partial", "six": "redundant"}
    assert set(plan.gaps["demand_id"]) == {"two", "three"}
    s = plan.summary()
    assert s["population_redundant"] == 40 and s["population_partial"] == 30
    assert s["proposed"]["gap_points"] == 2
    assert s["coverage_by_k"]["2"] == {"n_demand": 1, "population": 10.0}
    assert s["coverage_by_k"][">=6"] == {"n_demand": 1, "population": 40.0}
    # N-1: the partial points have two sites, so no single failure pushes them out
    assert s["n1_population_outside_budget_redundant"] == 0


def test_huge_populations_and_costs_plan_like_small_ones(sample_inputs):
    # populations up to 1e10 per point (1e12 in total) and costs ~1e9..1e12 (the largest
    # the readers accept) reach the solvers; the plan equals the one of the same instance
    # scaled down
    demand, sites = sample_inputs
    rng = np.random.default_rng(7)
    demand = demand.iloc[:100].copy()
    small_pop = rng.uniform(0.01, 1.0, len(demand))
    small_cost = rng.integers(1, 1000, len(sites)).astype(float)
    big = plan_sites(demand.assign(population=small_pop * 1e10),
                     sites.assign(cost=small_cost * 1e9), budget_ms=30.0,
                     kmedian_time_limit_s=5)
    small = plan_sites(demand.assign(population=small_pop), sites.assign(cost=small_cost),
                       budget_ms=30.0, kmedian_time_limit_s=5)
    b, s = big.summary(), small.summary()
    assert b["status"] == s["status"] == "optimal"
    assert b["objective_value"] == pytest.approx(s["objective_value"] * 1e9, rel=1e-9)
    assert sorted(big.sites["site_id"]) == sorted(small.sites["site_id"])
    assert b["population_total"] == pytest.approx(small_pop.sum() * 1e10)
    assert b["mean_latency_ms"] == pytest.approx(s["mean_latency_ms"])
    assert check_invariants(big) == []
    # k-median stage (count objective) with the huge populations
    big_count = plan_sites(demand.assign(population=small_pop * 1e10), sites, budget_ms=30.0,
                           kmedian_time_limit_s=5)
    small_count = plan_sites(demand.assign(population=small_pop), sites, budget_ms=30.0,
                             kmedian_time_limit_s=5)
    assert big_count.summary()["kmedian_status"] == small_count.summary()["kmedian_status"]
    assert big_count.summary()["mean_latency_ms"] == pytest.approx(
        small_count.summary()["mean_latency_ms"], rel=1e-9)


# --------------------------------------------------------------------------- access classes


def _west_with_access(sample_inputs, first, rest):
    demand, sites = sample_inputs
    demand = demand.copy()
    demand["access"] = rest
    demand.loc[demand.index[0], "access"] = first
    return demand, sites


def test_mixed_access_plans_whatever_the_first_row(sample_inputs):
    """A first demand row of a class that cannot meet the budget used to abort the plan
    (exit 3 after solving) while the same file with that row last succeeded."""
    from coverage.planner.plan import plan_sites

    demand, sites = _west_with_access(sample_inputs, "dsl", "ftth")
    plan = plan_sites(demand, sites, budget_ms=30, kmedian_time_limit_s=5)
    last = demand.iloc[list(range(1, len(demand))) + [0]]
    plan_last = plan_sites(last, sites, budget_ms=30, kmedian_time_limit_s=5)
    assert plan.summary()["site_count"] == plan_last.summary()["site_count"]
    s = plan.summary()
    assert s["max_radius_km"] == pytest.approx(plan.model.radius_km(30, "ftth"))
    assert s["max_radius_access"] == "ftth"
    assert (plan.sites["radius_km"] == s["max_radius_km"]).all()
    first = plan.assignment.set_index("demand_id").loc[demand["demand_id"].iloc[0]]
    assert first["coverage_status"] == "uncoverable"


def test_default_access_only_fills_a_missing_column(sample_inputs):
    """Every row ftth plus access='dsl' at 30 ms used to exit 3 (dsl cannot meet 30 ms)
    although no point uses dsl."""
    from coverage.planner.plan import plan_sites

    demand, sites = _west_with_access(sample_inputs, "ftth", "ftth")
    plan = plan_sites(demand, sites, budget_ms=30, access="dsl", kmedian_time_limit_s=5)
    ref = plan_sites(demand, sites, budget_ms=30, kmedian_time_limit_s=5)
    assert plan.summary()["site_count"] == ref.summary()["site_count"]
    assert plan.summary()["max_radius_access"] == "ftth"


def test_max_radius_is_over_the_classes_present(sample_inputs):
    from coverage.planner.plan import plan_sites

    demand, sites = _west_with_access(sample_inputs, "lan", "cable")
    plan = plan_sites(demand, sites, budget_ms=60, failures=0, kmedian_time_limit_s=5)
    assert plan.summary()["max_radius_km"] == pytest.approx(plan.model.radius_km(60, "lan"))
    assert plan.summary()["max_radius_access"] == "lan"


def test_no_class_present_can_meet_the_budget(sample_inputs):
    from coverage.errors import InfeasibleBudgetError
    from coverage.planner.plan import plan_sites

    demand, sites = _west_with_access(sample_inputs, "dsl", "lte")
    with pytest.raises(InfeasibleBudgetError, match="dsl access"):
        plan_sites(demand, sites, budget_ms=30)


def test_a_required_site_that_serves_no_one_is_named_in_a_warning(caplog):
    """A required site far from every demand point is opened (it is required) and named in
    a warning; required sites that serve someone are not."""
    import logging

    demand = pd.DataFrame({"demand_id": ["a", "b"], "lat": [50.85, 50.86],
                           "lon": [4.35, 4.36], "population": [100, 50]})
    sites = pd.DataFrame({"site_id": ["near", "far", "near2"], "lat": [50.85, -40.0, 50.86],
                          "lon": [4.35, 170.0, 4.36], "required": [True, True, False]})
    with caplog.at_level(logging.WARNING, logger="coverage.planner.plan"):
        plan = plan_sites(demand, sites, budget_ms=30.0, model=ON_NET, failures=1)
    assert {"near", "far"} <= set(plan.sites["site_id"])
    text = caplog.text
    assert "required site(s) far serve no one" in text
    assert "near," not in text and "site(s) near " not in text
    # two required sites 1 km apart, one demand point: one is everyone's primary, the
    # other everyone's backup (N-1): neither is idle
    caplog.clear()
    sites2 = sites.assign(required=[True, False, True])
    with caplog.at_level(logging.WARNING, logger="coverage.planner.plan"):
        plan_sites(demand.iloc[:1], sites2, budget_ms=30.0, model=ON_NET, failures=1)
    assert "serve no one" not in caplog.text


@pytest.mark.parametrize("seed", [0, 1])
def test_sites_opened_only_for_rows_of_no_people_are_named(caplog, seed):
    """Tester 186: rows of population 0 are held to the requirement, and a plan opened
    sites for them alone without a word. Two towns with people and a hamlet of 0 people
    300 km away with its own two sites: the hamlet's sites are named (their served rows,
    recomputed here, have no people); the towns' are not; without the hamlet, no
    warning."""
    import logging

    rng = np.random.default_rng(seed)
    towns = pd.DataFrame({"demand_id": ["a", "b"], "lat": [50.85, 50.9], "lon": [4.35, 4.4],
                          "population": rng.integers(100, 1000, 2).astype(float)})
    hamlet = pd.DataFrame({"demand_id": ["h"], "lat": [48.0], "lon": [2.0],
                           "population": [0.0]})
    sites = pd.DataFrame({"site_id": ["t1", "t2", "h1", "h2"],
                          "lat": [50.85, 50.9, 48.0, 48.01], "lon": [4.35, 4.4, 2.0, 2.01]})
    with caplog.at_level(logging.WARNING, logger="coverage.planner.plan"):
        plan = plan_sites(pd.concat([towns, hamlet], ignore_index=True), sites,
                          budget_ms=30.0, failures=1, kmedian_time_limit_s=2)
    a = plan.demand
    served = set()
    for col in ("primary_site_id", "backup_site_id", "n1_site_id"):
        served |= set(a.loc[a["population"] > 0, col].dropna().astype(str))
    idle = sorted(set(plan.sites["site_id"]) - served)
    assert idle == ["h1", "h2"]
    assert "2 chosen site(s) (h1, h2) serve only demand rows of no people" in caplog.text
    assert "the 1 row(s) of population 0" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="coverage.planner.plan"):
        plan_sites(towns, sites, budget_ms=30.0, failures=1, kmedian_time_limit_s=2)
    assert "rows of no people" not in caplog.text


def test_the_api_takes_a_profile_name_and_one_budget(sample_inputs):
    """``model="on-net"`` (as a batch file writes it) and ``with_sweep(40)`` are what an
    analyst types; a wrong type is one input error naming the option."""
    from helpers import ON_NET

    from coverage.errors import InputValidationError
    from coverage.planner.plan import plan_sites

    demand, sites = sample_inputs
    by_name = plan_sites(demand, sites, budget_ms=30.0, failures=0, model="on-net",
                         kmedian_time_limit_s=5)
    by_model = plan_sites(demand, sites, budget_ms=30.0, failures=0, model=ON_NET,
                          kmedian_time_limit_s=5)
    assert by_name.summary()["site_count"] == by_model.summary()["site_count"]
    assert by_name.summary()["latency_model"] == by_model.summary()["latency_model"]
    with pytest.raises(InputValidationError, match="model must be a LatencyModel"):
        plan_sites(demand, sites, budget_ms=30.0, model=3)
    sweep = by_name.with_sweep(40, time_limit_s=5).sweep
    assert sweep["budget_ms"].tolist() == [30.0, 40.0]
    with pytest.raises(InputValidationError, match="budgets_ms"):
        by_name.with_sweep("forty")


@pytest.mark.parametrize("country", ["LU", "PT"])
@pytest.mark.parametrize("swap", ["demand", "sites"])
def test_swapped_lat_lon_of_one_file_is_named(country, swap):
    """Tester 95: a file with its lat and lon exchanged (still valid coordinates: LU's
    49.6, 6.1 read as 6.1, 49.6) ended in "add candidates near the demand". The message
    names the likely cause; a plan of the unswapped files covers, so the test can fail."""
    demand, sites = geonames_demand(country), geonames_candidates(country)
    plan = plan_sites(demand, sites, budget_ms=30, failures=0, kmedian_time_limit_s=5)
    assert plan.info["population_covered"] > 0
    exchanged = {"lat": "lon", "lon": "lat"}
    if swap == "demand":
        demand = demand.rename(columns=exchanged)
    else:
        sites = sites.rename(columns=exchanged)
    with pytest.raises(NoFeasiblePlanError) as info:
        plan_sites(demand, sites, budget_ms=30, failures=0)
    msg = str(info.value)
    assert "lat and lon of the demand or of the candidates look swapped" in msg
    assert "add candidates" not in msg


def test_far_apart_files_are_not_called_swapped():
    """Demand in Portugal and candidates in Luxembourg: no exchange brings them together,
    the message stays "add candidates"."""
    from coverage.planner.stages import swapped_coordinates_hint

    demand, sites = geonames_demand("PT"), geonames_candidates("LU")
    assert swapped_coordinates_hint(demand, sites, 88.0) is None
    with pytest.raises(NoFeasiblePlanError, match="add candidates near the demand"):
        plan_sites(demand, sites, budget_ms=30, failures=0)


def test_a_few_swapped_demand_rows_are_named(caplog):
    """Tester 96: a few rows typed lon-first (the others right) were planned around as
    uncoverable, without a word. A warning names them; the rows of a plan without them are
    not named (the test can fail)."""
    import logging

    demand, sites = geonames_demand("PT"), geonames_candidates("PT")
    rows = [3, 10, 40]
    swapped = demand.copy()
    swapped.loc[rows, ["lat", "lon"]] = swapped.loc[rows, ["lon", "lat"]].to_numpy()
    with caplog.at_level(logging.WARNING, logger="coverage"):
        plan = plan_sites(swapped, sites, budget_ms=30, failures=0, kmedian_time_limit_s=5)
    text = " ".join(r.getMessage() for r in caplog.records if "look swapped" in r.getMessage())
    assert "3 demand points without a candidate in budget" in text, text
    for i in rows:
        assert repr(str(demand["demand_id"].iloc[i])) in text
    assert plan.info["n_demand_uncoverable"] >= 3
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="coverage"):
        plan_sites(demand, sites, budget_ms=30, failures=0, kmedian_time_limit_s=5)
    assert not any("look swapped" in r.getMessage() for r in caplog.records)


def test_a_progress_callback_that_raises_does_not_lose_the_plan(caplog, sample_inputs):
    """Tester 96: a progress callback that raised (a closed notebook widget) ended the
    plan with its error, the computed plan lost. It is named once and not called again;
    the plan is returned whole."""
    import logging

    calls = []

    def broken(msg):
        calls.append(msg)
        raise RuntimeError("widget closed")

    with caplog.at_level(logging.WARNING, logger="coverage"):
        plan = plan_sites(*sample_inputs, budget_ms=40, kmedian_time_limit_s=5,
                          progress=broken)
    assert plan.summary()["site_count"] >= 1 and len(calls) == 1
    warned = [r.getMessage() for r in caplog.records if "progress callback" in r.getMessage()]
    assert len(warned) == 1 and "RuntimeError: widget closed" in warned[0]


def test_a_point_near_the_diagonal_is_not_called_swapped():
    """Reviewer 99: a point just out of reach at (39.5, 41.0) mirrors onto a site at (41.0,
    39.5), 210 km away: not a swap. A point typed lon-first far from every site is."""
    from coverage.planner.stages import swapped_rows

    sites = pd.DataFrame({"lat": [41.0, 38.7], "lon": [39.5, -9.1]})
    demand = pd.DataFrame({"lat": [39.5, -9.1], "lon": [41.0, 38.7]})
    assert swapped_rows(demand, sites, [True, True], 88.0).tolist() == [1]


def test_gap_proposals_at_a_budget_of_seconds():
    """Reviewer 101: at a budget whose radius spans the Earth, the gap proposals' grid
    (a quarter of the radius) was above aggregate_grid's 20,000 km and the plan ended in
    an internal error."""
    rng = np.random.default_rng(3)
    n = 21_000  # above the proposals' 20,000 locations: they are binned
    demand = pd.DataFrame({"demand_id": np.arange(n).astype(str),
                           "lat": rng.uniform(-60, 60, n), "lon": rng.uniform(-180, 180, n),
                           "population": rng.uniform(1, 100, n)})
    sites = pd.DataFrame({"site_id": ["s"], "lat": [0.0], "lon": [0.0]})
    plan = plan_sites(demand, sites, budget_ms=2500, failures=1, kmedian_time_limit_s=5)
    assert plan.summary()["site_count"] == 1
    assert plan.summary()["proposed"]["proposed_sites"] >= 1


def test_the_planners_warnings_reach_a_script_that_configures_no_logging(tmp_path):
    """Tester 182: the package's logger had a NullHandler, so a script or notebook using
    the API saw none of the planner's warnings (swapped coordinates, co-located
    candidates, input columns named like outputs): Python's last-resort handler now
    prints them on stderr; the progress lines (INFO) stay quiet."""
    import subprocess
    import sys
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "data"
    code = ("import pandas as pd; from coverage import plan_sites; "
            f"d = pd.read_csv({str(data / 'west_demand.csv')!r}).head(60); "
            f"s = pd.read_csv({str(data / 'west_candidates.csv')!r}); "
            "d['coverage_status'] = 'mine'; "
            "p = plan_sites(d, s, budget_ms=30, kmedian_time_limit_s=2); print('sites', "
            "p.summary()['site_count'])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "column(s) coverage_status are computed by the plan" in r.stderr
    assert "reach matrix:" not in r.stderr  # (an INFO line)
    assert r.stdout.startswith("sites ")


def test_the_summary_of_numpy_options_is_json(sample_inputs):
    """Tester 182: options given as NumPy scalars (max_sites=np.int64(3), a float32 time
    limit) left NumPy numbers in summary()["parameters"], which json.dumps refused."""
    import json

    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=np.float32(25.0), max_sites=np.int64(4),
                      time_limit_s=np.int64(20), kmedian_time_limit_s=np.float32(2.0),
                      model=ON_NET)
    s = plan.summary()
    json.dumps(s)
    assert type(s["parameters"]["max_sites"]) is int
    assert s["parameters"]["max_sites"] == 4


def test_real_places_that_mirror_onto_sites_are_not_called_swapped(caplog):
    """Tester 194: three places of the embedded Russia (Usinsk 66.0 N 57.5 E, Parma,
    Amderma), out of reach as written and near Tyumen with their lat and lon exchanged,
    were said to "look swapped". A point inside the other demand's latitude and longitude
    range is not; a point typed lon-first away from the rest still is."""
    from coverage.planner.stages import swapped_rows

    sites = pd.DataFrame({"lat": [57.15, 61.0], "lon": [65.53, 69.0]})
    demand = pd.DataFrame({"lat": [66.01, 55.0, 68.0, 57.0], "lon": [57.53, 40.0, 70.0,
                                                                    65.0]})
    assert swapped_rows(demand, sites, [True, False, False, False], 88.0).tolist() == []
    far = pd.concat([demand, pd.DataFrame({"lat": [30.0], "lon": [57.0]})],
                    ignore_index=True)  # (57.0, 30.0) typed (30.0, 57.0): south of all
    sites = pd.concat([sites, pd.DataFrame({"lat": [57.1], "lon": [30.2]})],
                      ignore_index=True)
    assert swapped_rows(far, sites, [True, False, False, False, True], 88.0).tolist() == [4]
