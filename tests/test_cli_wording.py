"""What a helper's audit of unseen countries found in the words the tool prints: empty
option values that silently meant the default, a breakeven sentence that said the
opposite of the warning, a budget floor rounded onto the budget, empty brackets and
"any 0 site(s) fail"."""

from __future__ import annotations

import pytest
from helpers import run

from coverage.errors import InfeasibleBudgetError, InputValidationError
from coverage.inputs.geonames import geonames_places
from coverage.model.latency import LatencyModel
from coverage.outputs.headline import headline_lines, nk_line


@pytest.mark.parametrize("command", ["plan", "compare"])
def test_an_empty_country_is_refused_not_the_default(tmp_path, command):
    """``--country "$CC"`` with CC unset planned the whole US."""
    out = tmp_path / "out"
    r = run(command, "--demo", "--country", "", "--out", out)
    assert r.returncode == 2, r.stderr
    assert "--country is empty" in r.stderr and "Fix:" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


@pytest.mark.parametrize("given, meant", [("UK", "GB"), ("deu", "DE"), ("Germany", "DE"),
                                          ("EL", "GR")])
def test_a_country_spelled_otherwise_names_its_code(given, meant):
    with pytest.raises(InputValidationError, match=f"Fix: write {meant} "):
        geonames_places(given)
    assert len(geonames_places(" nz ", 100_000)) > 0  # spaces around a code are no error


def test_empty_providers_are_refused_not_all(tmp_path):
    out = tmp_path / "out"
    r = run("compare", "--demo", "--country", "LU", "--providers", " , ", "--out", out)
    assert r.returncode == 2 and "--providers ' , ' names no provider" in r.stderr
    assert not out.exists()


def test_the_budget_floor_reads_above_the_budget():
    """28.0306 ms at distance 0 was printed "28.0 ms" against a budget of 28.03 ms."""
    model = LatencyModel()
    fixed = model.fixed_ms("ftth", "p99")
    budget = float(f"{fixed - 0.0006:.4f}")
    assert budget < fixed
    with pytest.raises(InfeasibleBudgetError) as info:
        model.radius_km(budget, "ftth", "p99")
    text = str(info.value).split("alone takes ")[1].split(" ms")[0]
    assert float(text) > budget, (text, budget)


def test_no_worst_set_is_named_when_no_set_pushes_anyone_out():
    s = {"nk_failures": 2, "nk_worst_latency_ms": 40.0,
         "nk_worst_set_population_outside_budget": 0, "nk_worst_set_site_ids": [],
         "nk_worst_set_status": "optimal", "nk_population_outside_budget": 0}
    line = nk_line(s, 2)
    assert "()" not in line and "no set of 2 pushes anyone outside budget" in line


def test_a_radius_past_the_antipode_says_so():
    s = {"site_count": 2, "lower_bound": 2, "status": "optimal", "objective": "count",
         "budget_ms": 1e5, "percentile": "p99", "max_radius_km": 4.5e6,
         "failures_tolerated": 1}
    budget = next(x for x in headline_lines(s, access="ftth") if x.startswith("budget:"))
    assert "(ftth; past the antipode: anywhere on Earth)" in budget
    s["max_radius_km"] = 88.0
    budget = next(x for x in headline_lines(s, access="ftth") if x.startswith("budget:"))
    assert "antipode" not in budget and "(ftth)" in budget


def test_no_breakeven_reads_as_none():
    """"matches the region's price per request at no utilisation up to 100 %" said the
    opposite of the warning ("never breaks even")."""
    from coverage.cli import _compare_lines

    side = {"coverage": {"share_within_budget": 0.9, "share_within_budget_n1": 0.8},
            "cost_usd_per_year": {"total": 1e6}, "cost_per_million_requests": 2.0,
            "cost_per_user_month": 0.1}
    doc = {"verdict": {"text": "region"}, "warnings": [],
           "edge": {**side, "feasible": True, "sites": 3,
                    "sizing": {"accelerators": 6}, "utilisation": {"fleet_mean": 0.1}},
           "region": {**side, "regions": 2, "utilisation": {"utilisation": 0.5}},
           "breakeven": {"utilisation": None, "fleet_utilisation": 0.1}}
    line = next(x for x in _compare_lines(doc) if x.startswith("breakeven"))
    assert line.startswith("breakeven: none; the edge costs more per request than the "
                           "region at any mean utilisation up to 100 %")
    doc["breakeven"]["utilisation"] = 0.25
    line = next(x for x in _compare_lines(doc) if x.startswith("breakeven"))
    assert "matches the region's price per request at 25.0 % mean utilisation" in line


def test_an_n2_comparison_names_its_n2_share():
    """The verdict of a plan for N-2 gave only the one-failure figure."""
    import numpy as np

    from coverage import compare
    from coverage.inputs.geonames import geonames_candidates, geonames_demand

    demand, sites = geonames_demand("LU", 1000), geonames_candidates("LU", 2000)
    doc = compare(demand, sites, budget_ms=30.0, failures=2).to_dict()
    cov = doc["edge"]["coverage"]
    assert cov["share_nk_safe"] is not None and 0 <= cov["share_nk_safe"] <= cov["share_n1_safe"]
    assert f"{100 * cov['share_nk_safe']:.1f} % through any 2" in doc["verdict"]["text"]
    one = compare(demand, sites, budget_ms=30.0, failures=1).to_dict()
    assert one["edge"]["coverage"]["share_nk_safe"] is None
    assert "through any 2" not in one["verdict"]["text"]
    assert np.isfinite(one["edge"]["coverage"]["share_n1_safe"])


def test_a_budget_no_access_can_meet_says_one_fix(tmp_path):
    """Tester 207: LTE at 50 ms read as two messages run together ("... on your own
    network. no demand point can meet ... Fix: ..."), with two fixes and "drop the Wi-Fi
    hop" under --wifi none."""
    out = tmp_path / "out"
    r = run("plan", "--demo", "--country", "LU", "--access", "lte", "--budget-ms", 50,
            "--out", out)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    line = next(x for x in r.stderr.splitlines() if "cannot be met with lte" in x)
    assert line.count("Fix:") == 1 and "Wi-Fi" not in line
    assert "At the site tiers present: metro-colo: 132.2 ms at distance 0" in line
    assert ". no demand point" not in line and not out.exists()
