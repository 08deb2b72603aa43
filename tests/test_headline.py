"""The CLI headline (coverage.outputs.headline.headline_lines) says what its numbers mean."""

import re

import numpy as np
import pytest
from helpers import ON_NET

from coverage import plan_sites
from coverage.outputs.headline import headline_lines

BAD = re.compile(r"\b(nan|NaN|None|inf)\b")


def test_aggregation_losses_are_stated(sample_inputs):
    demand, sites = sample_inputs
    # 80 km bins at 25 ms under the on-net model the sample data was designed for (252 km)
    plan = plan_sites(demand, sites, budget_ms=25.0, aggregate_km=80.0, kmedian_time_limit_s=2,
                      model=ON_NET)
    s = plan.summary()
    agg = s["aggregation"]
    assert agg["cells_short"] > 0 and agg["population_short"] > 0
    text = "\n".join(headline_lines(s, access="ftth"))
    want = (f"On the original points, {agg['cells_short']:,} "
            f"({agg['population_short']:,.0f} people, {agg['population_short_share']:.2%}) "
            "are short of their own requirement")
    assert want in text
    assert f"{agg['demand_points_in']:,} demand points binned into " \
           f"{agg['demand_points_solved']:,} cells of 80 km" in text
    assert "population outside budget under the worst failure" in text
    assert "(over the bins)" in text and "the figures above are over the bins" in text
    assert ("latency model: on-net (route factor 1.50, overhead 0.0/0.0 ms p50/p99; median "
            "error 14.3 ms against 11,294 measured pairs)") in text


def test_no_nan_in_the_headline():
    s = {"site_count": 0, "status": "optimal", "objective": "count", "lower_bound": 0.0,
         "mip_gap": float("nan"), "budget_ms": 30.0, "percentile": "p99",
         "max_radius_km": float("nan"), "failures_tolerated": 1,
         "population_total": 10.0, "population_covered": 0.0, "population_gap": 10.0,
         "population_single_coverable": 0.0, "population_uncoverable": float("inf"),
         "mean_latency_ms": float("nan"), "n1_worst_latency_ms": None,
         "n1_population_outside_budget": float("nan")}
    lines = headline_lines(s, access="ftth")
    text = "\n".join(lines)
    assert not BAD.search(text), text
    assert "mean primary latency (p50): n/a (nobody within budget)" in text
    assert "worst under N-1: n/a (no user has a second site)" in text
    assert "radius n/a (ftth)" in text
    # a rollout without the step figures: n/a, never None
    s["rollout"] = {"steps": 3, "steps_to_covered": {"50pct": None}}
    text = "\n".join(headline_lines(s, access="ftth"))
    assert not BAD.search(text), text
    assert "with n/a of the 3 sites" in text


def test_the_rollout_line_states_the_plan_figures(sample_inputs):
    demand, sites = sample_inputs
    s = plan_sites(demand, sites, budget_ms=25.0, kmedian_time_limit_s=2,
                   model=ON_NET).summary()
    to = s["rollout"]["steps_to_covered"]
    text = "\n".join(headline_lines(s, access="ftth"))
    assert (f"rollout order (rollout.csv): 50 % of the covered population with {to['50pct']} "
            f"of the {s['site_count']} sites, 90 % with {to['90pct']}, all with "
            f"{to['100pct']}") in text
    s["rollout"] = {"steps": 0, "absent": "row generation: ..."}
    assert "rollout" not in "\n".join(headline_lines(s, access="ftth"))


def test_cost_objective_labels_bound_and_gap_as_cost():
    base = {"site_count": 12, "objective": "cost", "objective_value": 130_000.0,
            "lower_bound": 120_000.0, "mip_gap": (130_000.0 - 120_000.0) / 130_000.0,
            "status": "time_limit", "budget_ms": 30.0, "percentile": "p99",
            "max_radius_km": 592.0, "failures_tolerated": 1}
    first = headline_lines(base)[0]
    assert first == ("sites: 12 (time_limit; total cost 130,000, proven lower bound on the "
                     "cost 120,000, cost gap 7.7%)")
    assert "lower bound 1.2e+05" not in first
    opt = headline_lines({**base, "status": "optimal", "lower_bound": 130_000.0,
                          "mip_gap": 0.0})[0]
    assert opt == "sites: 12 (optimal: cheapest plan; total cost 130,000)"
    count = headline_lines({**base, "objective": "count", "lower_bound": 11.0})[0]
    assert count == "sites: 12 (time_limit; proven lower bound 11 sites, gap 7.7%)"
    # summaries written before the "objective" key: from the parameters
    old = {k: v for k, v in base.items() if k != "objective"}
    old["parameters"] = {"objective": "min_cost"}
    assert "on the cost" in headline_lines(old)[0]


def test_cost_plan_summary_says_cost(sample_inputs):
    demand, sites = sample_inputs
    sites = sites.assign(cost=np.linspace(1e4, 9e4, len(sites)).round())
    plan = plan_sites(demand, sites, budget_ms=30.0, kmedian_time_limit_s=2)
    s = plan.summary()
    assert s["objective"] == "cost" and s["parameters"]["objective"] == "min_cost"
    chosen_cost = plan.candidates.loc[plan.candidates["chosen"], "cost"].sum()
    assert s["objective_value"] == pytest.approx(chosen_cost)
    assert s["lower_bound"] <= s["objective_value"] * (1 + 1e-9)
    assert f"total cost {chosen_cost:,.0f}" in headline_lines(s)[0]
    count = plan_sites(demand, sites.drop(columns="cost"), budget_ms=30.0,
                       kmedian_time_limit_s=2).summary()
    assert count["objective"] == "count" and count["objective_value"] == count["site_count"]


@pytest.mark.parametrize("failures", [0, 1, 2, 3])
def test_gaps_and_n_k_safe_lines_follow_k(sample_inputs, failures):
    demand, sites = sample_inputs
    s = plan_sites(demand, sites, budget_ms=30.0, failures=failures,
                   kmedian_time_limit_s=2).summary()
    text = "\n".join(headline_lines(s, access="ftth"))
    assert f"tolerating {failures} failure{'' if failures == 1 else 's'}" in text
    assert ("latency model: internet (route factor 2.28, overhead 6.4/10.3 ms p50/p99; median "
            "error 6.4 ms against 11,294 measured pairs)") in text
    sites_word = "site" if failures == 0 else "sites"
    assert f"{s['population_gap']:,.0f} short of {failures + 1} {sites_word}" in text
    assert ("with 2-3 sites" in text) == (failures == 3)
    assert "2-2" not in text and "2 to 2" not in text
    assert ("with 2 sites" in text) == (failures == 2)
    assert ("single-coverable" in text) == (failures >= 1)
    safe = s["population_safe_by_failures"]
    assert "(N-j): " + ", ".join(
        f"{key} {v:,.0f}" + f" ({v / s['population_total']:.1%})" for key, v in safe.items()
    ) in text
    assert not BAD.search(text)


@pytest.mark.parametrize("budget_ms", [25.0, 40.0])
def test_the_placement_line_states_the_k_median_result(sample_inputs, budget_ms):
    """The k-median's objective in the summary is the population-weighted p50 latency of
    every point's primary site (recomputed from the assignment table), its bound is below
    it, and the headline states the status and the gap the two give."""
    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=budget_ms, kmedian_time_limit_s=5,
                      model=ON_NET)
    s = plan.summary()
    a = plan.assignment
    served = a["primary_p50_ms"].notna().to_numpy()
    weighted = float(np.sum(a["population"].to_numpy()[served]
                            * a["primary_p50_ms"].to_numpy()[served]))
    assert s["kmedian_objective_ms_pop"] == pytest.approx(weighted, rel=1e-6)  # (float32 p50s)
    assert s["kmedian_lower_bound_ms_pop"] <= s["kmedian_objective_ms_pop"] * (1 + 1e-9)
    gap = ((s["kmedian_objective_ms_pop"] - s["kmedian_lower_bound_ms_pop"])
           / s["kmedian_objective_ms_pop"])
    assert s["kmedian_gap"] == pytest.approx(max(gap, 0.0), abs=1e-12)
    line = [x for x in headline_lines(s, access="ftth") if x.startswith("placement")]
    assert len(line) == 1 and not BAD.search(line[0])
    if s["kmedian_status"] == "optimal":
        assert line[0].endswith(": optimal")
    else:
        assert (f"gap {100 * s['kmedian_gap']:.2f} % (its proven lower bound is "
                f"{100 * s['kmedian_gap']:.2f} % below its objective)") in line[0]
    s.update(kmedian_status="local_search", kmedian_gap=None)
    assert [x for x in headline_lines(s, access="ftth")
            if x.startswith("placement")][0].endswith("local search, no lower bound")
    s.update(kmedian_status="skipped (capacitated)")
    assert not any(x.startswith("placement") for x in headline_lines(s, access="ftth"))


def test_headline_docstring_examples():
    import doctest

    from coverage.outputs import headline

    assert doctest.testmod(headline).failed == 0


def test_a_placement_beyond_the_exact_milp_states_its_gap():
    """Great Britain on the embedded GeoNames data, 30 ms, N-1: about 190,000 reach pairs,
    beyond the exact k-median MILP (150,000), so the local search's plan comes with the
    Lagrangian bound. The bound is below the placed plan and below the site-count stage's
    own plan (another feasible plan of the same size), and the headline states the gap."""
    import scipy.sparse as sp

    from coverage.inputs.geonames import geonames_candidates, geonames_demand
    from coverage.solvers.cover import min_cover

    demand, sites = geonames_demand("GB", 500), geonames_candidates("GB", 50_000)
    # (no MILP above 150,000 pairs: the limit only caps the search and the bound)
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=1, kmedian_time_limit_s=60)
    s = plan.summary()
    assert s["n_pairs_in_reach"] > 150_000
    assert s["kmedian_status"] in ("local_search", "optimal", "within_gap")
    lower, obj = s["kmedian_lower_bound_ms_pop"], s["kmedian_objective_ms_pop"]
    assert np.isfinite(lower) and 0 < lower <= obj
    assert 0 <= s["kmedian_gap"] < 0.05
    # another plan of the same size (a minimum double cover of the reach matrix, not
    # latency-placed), costed here on its own, costs at least the bound too
    pattern = plan.reach.boolean()
    lat = sp.csr_array(plan.reach.values("p50_ms")).toarray()
    dense = sp.csr_array(pattern).toarray().astype(bool)
    req = np.minimum(2, dense.sum(axis=1))
    other = min_cover(sp.csr_array(dense), req).sites
    assert len(other) == s["site_count"]
    near = np.where(dense[:, other], lat[:, other], np.inf).min(axis=1)
    pop = plan.assignment["population"].to_numpy(dtype=float)
    ok = np.isfinite(near)
    assert lower <= float(np.sum(pop[ok] * near[ok]))
    line = [x for x in headline_lines(s) if x.startswith("placement")][0]
    assert ("optimal" in line if s["kmedian_status"] == "optimal"
            else f"gap {100 * s['kmedian_gap']:.2f} %" in line)


@pytest.mark.parametrize("column, value, budget, label", [
    ("service_class", "instant", 100.0, "instant"),
    ("budget_ms", 40.0, 40.0, "budget_ms=40"),
])
def test_the_budget_line_states_the_rows_own_budget(sample_inputs, column, value, budget,
                                                    label):
    """Every row with its own budget: the line states that budget (and the radius it has),
    not the --budget-ms default nobody uses; one row on the default keeps the default."""
    demand, sites = sample_inputs
    own = demand.assign(**{column: value})
    s = plan_sites(own, sites, budget_ms=30.0, kmedian_time_limit_s=2).summary()
    line = headline_lines(s, access="ftth")[1]
    assert line.startswith(f"budget: {budget:g} ms p99 (every row's own: {label}), radius "), line
    assert f"radius {s['max_radius_km']:.0f} km" in line and "30 ms" not in line
    mixed = own.astype({column: object})
    mixed.loc[mixed.index[0], column] = None
    s = plan_sites(mixed, sites, budget_ms=30.0, kmedian_time_limit_s=2).summary()
    line = headline_lines(s, access="ftth")[1]
    assert line.startswith("default budget (rows without their own): 30 ms p99, largest"), line
    two = own.astype({column: object})  # two budgets of their own, none on the default
    two.loc[two.index[0], column] = "realtime" if column == "service_class" else 35.0
    s = plan_sites(two, sites, budget_ms=30.0, kmedian_time_limit_s=2).summary()
    line = headline_lines(s, access="ftth")[1]
    assert line.startswith("budgets: every row's own (the classes below), largest radius "), line


def test_a_zero_population_is_not_called_nobody_within_budget():
    """Every population 0, everyone within budget: the mean latency has no weights; the
    headline said "nobody within budget" (a plan of Luxembourg's places, populations 0)."""
    from coverage.inputs.geonames import geonames_candidates, geonames_demand

    d = geonames_demand("LU")
    d["population"] = 0
    plan = plan_sites(d, geonames_candidates("LU", 3000), budget_ms=30, failures=1,
                      model=ON_NET)
    s = plan.summary()
    assert s["population_total"] == 0 and s["n_demand_redundant"] == len(d)  # the premise
    text = "\n".join(headline_lines(s, access="ftth"))
    assert "mean primary latency (p50): n/a (every population is 0: no weights)" in text
    assert "nobody within budget" not in text


def test_a_plan_short_of_capacity_says_so():
    s = {"site_count": 3, "status": "time_limit_short", "objective": "count",
         "lower_bound": 4.0, "mip_gap": float("nan"), "budget_ms": 30.0, "percentile": "p99",
         "failures_tolerated": 2, "population_total": 10.0, "population_covered": 10.0}
    text = "\n".join(headline_lines(s, access="ftth"))
    assert "sites: 3 (NOT a feasible plan: short of capacity in a failure scenario; " \
           "proven lower bound 4 sites" in text, text
    assert not BAD.search(text), text


def test_a_plan_short_of_capacity_exits_7_with_a_message_naming_it():
    """The command line's exit code: a written plan that is not a feasible one (status
    time_limit_short) exits 7 even when every output was written, and before 5."""
    from coverage.cli import plan_exit_code, short_plan_message
    from coverage.errors import EXIT_OUTPUTS_SKIPPED, EXIT_PLAN_SHORT

    assert EXIT_PLAN_SHORT == 7 and EXIT_OUTPUTS_SKIPPED == 5
    assert plan_exit_code({"status": "time_limit_short"}, {}) == 7
    assert plan_exit_code({"status": "time_limit_short"}, {"map.html": "boom"}) == 7
    assert plan_exit_code({"status": "optimal"}, {"map.html": "boom"}) == 5
    assert plan_exit_code({"status": "time_limit"}, {}) == 0
    assert plan_exit_code({"status": "optimal"}, {}) == 0
    # every scenario checked passed, but the list was cut: not proven, 7 as well
    cut = {"status": "optimal", "site_count": 82, "lower_bound": 82.0,
           "capacity": {"scenarios_checked": 21, "scenarios_total": 3161,
                        "scenarios_complete": False}}
    assert plan_exit_code(cut, {}) == 7 and plan_exit_code(cut, {"map.html": "x"}) == 7
    done = {**cut, "capacity": {**cut["capacity"], "scenarios_complete": True}}
    assert plan_exit_code(done, {}) == 0 and plan_exit_code({**cut, "capacity": None}, {}) == 0
    text = short_plan_message("/tmp/x", cut)
    assert "NOT proven to carry the load" in text and "21 of 3,161" in text
    assert "--scenario-limit to 3,161 or more" in text and "exit code 7" in text
    s = {"site_count": 3, "status": "time_limit_short", "lower_bound": 4.0,
         "capacity": {"scenarios_checked": 4, "scenarios_complete": False}}
    text = short_plan_message("/tmp/x", s)
    assert "NOT a feasible plan" in text and "3 sites" in text and "bound 4 sites" in text
    assert "not all: the scenario limit" in text and "exit code 7" in text
    assert "capacity_scenarios.csv" in text and "Fix:" in text


def test_an_optimal_count_with_scenarios_left_unchecked_says_so():
    """A plan whose failure scenarios were cut at the limit (k >= 3 on a large plan) is not
    called plainly proven: the sites line names the scenarios checked."""
    base = {"site_count": 40, "status": "optimal", "objective": "count", "lower_bound": 40.0,
            "mip_gap": 0.0, "budget_ms": 30.0, "percentile": "p99", "failures_tolerated": 3,
            "population_total": 10.0, "population_covered": 10.0}
    cut = {**base, "capacity": {"scenarios_checked": 20_001, "scenarios_total": 10_701_001,
                                "scenarios_complete": False}}
    # a summary of an earlier version ("optimal", the list cut) and of this one ("unproven")
    for status in ("optimal", "unproven"):
        text = "\n".join(headline_lines({**cut, "status": status}, access="ftth"))
        assert ("sites: 40 (unproven: the fewest that carry the load in the failure "
                "scenarios checked, 20,001 of 10,701,001, the riskiest first; NOT proven to "
                "carry it in the others)") in text
    full = {**base, "capacity": {"scenarios_checked": 500, "scenarios_total": 10_701,
                                 "scenarios_complete": True}}
    text = "\n".join(headline_lines(full, access="ftth"))
    assert "sites: 40 (optimal: proven fewest)" in text


def test_the_capacity_line_gives_units_small_shares_and_domains():
    """Capacity in requests/s (it read "on 814,711,594 of capacity"), a fleet utilisation
    below 1 % to two decimals (0.13 % read "0%"), and scenarios of shared-risk domains
    said as such (testers' finds)."""
    from coverage.outputs.headline import capacity_line

    c = {"load_total_rps": 1000.0, "capacity_total_rps": 814_711_594.0,
         "fleet_utilisation": 0.0013, "worst_utilisation": 0.07, "sites_below_40pct": 3,
         "scenarios_checked": 42, "scenarios_complete": True, "scenarios_total": 42,
         "load_shed_max_rps": 0.0, "failure_domains": "each site"}
    line = capacity_line({"capacity": c, "failures_tolerated": 1})
    assert "on 814,711,594 requests/s of capacity" in line
    assert "utilisation 0.13% (fleet), 7% (worst" in line and "shared-risk" not in line
    line = capacity_line({"capacity": {**c, "failure_domains": "within 5 km"},
                          "failures_tolerated": 1})
    assert "42 N-1 scenario(s) checked (failures of shared-risk domains)" in line
    assert "normal-operation flow" not in line  # an older summary: no flow figure
    line = capacity_line({"capacity": {**c, "normal_flow_mean_p50_ms": 17.947},
                          "failures_tolerated": 1})
    assert line.endswith("; mean p50 of the normal-operation flow (flows.csv): 17.9 ms")


def test_a_placement_whose_objective_was_not_computed_keeps_its_bound():
    """Tester 131: a capacitated placement out of time priced no flow; the headline said
    "no lower bound" beside the summary's bound."""
    from coverage.outputs.headline import placement_line

    line = placement_line({"kmedian_status": "kept_cover", "kmedian_gap": None,
                           "kmedian_objective_ms_pop": None,
                           "kmedian_lower_bound_ms_pop": 1.0164e9})
    assert "no lower bound" not in line and "objective not computed" in line
    assert placement_line({"kmedian_status": "kept_cover", "kmedian_gap": None}).endswith(
        "kept cover, no lower bound")


def test_the_worst_utilisation_says_what_it_is_the_worst_of():
    """Over every scenario only when every one was checked: with scenarios implied (or
    cut) the headline read "worst, any scenario", 13 points below the worst of all of them
    on a tester's N-2 plan; 99.67 % read "100%", like a saturated site."""
    from coverage.outputs.headline import capacity_line

    c = {"load_total_rps": 1000.0, "capacity_total_rps": 2000.0, "fleet_utilisation": 0.5,
         "worst_utilisation": 0.9967, "sites_below_40pct": 0, "scenarios_checked": 42,
         "scenarios_complete": True, "scenarios_total": 42, "load_shed_max_rps": 0.0,
         "failure_domains": "each site"}
    line = capacity_line({"capacity": c, "failures_tolerated": 2})
    assert "99.7% (worst, any scenario)" in line
    line = capacity_line({"capacity": {**c, "worst_utilisation": 0.99996},
                          "failures_tolerated": 2})
    assert "99.9% (worst, any scenario)" in line  # tester 131: it read "100.0%"
    line = capacity_line({"capacity": {**c, "scenarios_total": 15_226, "worst_utilisation": 1.0},
                          "failures_tolerated": 2})
    assert "100% (worst over the 42 scenarios checked)" in line
    assert "(of 15,226: the others implied)" in line


def test_a_share_short_of_all_never_reads_100_percent():
    """Tester 100: one person not N-1 safe of 2e10 read "(100.0%)", and one person of
    2e10 "(0.0%)": a share that is not all (or not none) says so."""
    from coverage.outputs.headline import _share

    assert _share(2e10, 2e10 + 1) == ">99.9%" and _share(1, 2e10) == "<0.1%"
    assert _share(10, 10) == "100.0%" and _share(0, 10) == "0.0%"
    assert _share(5, 10) == "50.0%" and _share(1, 0) == "n/a"
