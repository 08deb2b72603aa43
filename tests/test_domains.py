"""Failure domains in the resilience figures: who stays within budget when whole
shared-risk domains fail, against a brute force over every set of failed domains."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from coverage import plan_sites
from coverage.resilience.status import domain_safety


def brute(mask, chosen, domains, pop, k):
    """People within budget of a chosen site whatever j <= k domains fail, and the people
    each single domain's failure leaves with no chosen site within budget."""
    names = sorted(set(domains[c] for c in chosen))
    safe = {}
    for j in range(k + 1):
        ok = np.ones(len(pop), dtype=bool)
        for failed in itertools.combinations(names, min(j, len(names))):  # (j or all)
            alive = [c for c in chosen if domains[c] not in failed]
            ok &= mask[:, alive].any(axis=1) if alive else False
        safe[f"N-{j}"] = float(pop[ok].sum())
    had = mask[:, chosen].any(axis=1)
    lost = {d: float(pop[had & ~mask[:, [c for c in chosen if domains[c] != d]].any(axis=1)]
                     .sum()) for d in names}
    return safe, lost


@pytest.mark.parametrize("seed", range(12))
def test_domain_safety_is_the_brute_forces(seed):
    rng = np.random.default_rng(seed)
    n, m, k = 40, 9, int(rng.integers(1, 4))
    mask = rng.random((n, m)) < 0.35
    domains = np.array([f"D{d}" for d in rng.integers(0, 4, m)], dtype=object)
    chosen = np.sort(rng.choice(m, int(rng.integers(3, m + 1)), replace=False))
    pop = rng.integers(1, 1000, n).astype(float)
    # merged points: two original points per row of the pattern
    inverse = np.repeat(np.arange(n), 2)
    pop2 = np.repeat(pop, 2) / 2
    got = domain_safety(sp.csr_array(mask), chosen, domains, pop2, k, inverse=inverse)
    safe, lost = brute(mask, chosen, domains, pop, k)
    assert got["population_safe"] == pytest.approx(safe)
    worst = max(lost.values())
    assert got["worst_domain_population_outside_budget"] == pytest.approx(worst)
    if worst > 0:
        assert lost[got["worst_domain"]] == pytest.approx(worst)
    # every domain holding a chosen site, worst first, and each point's domain count
    table = got["by_domain"]
    assert sorted(table["failure_domain"]) == sorted(lost)
    assert table.set_index("failure_domain")["population_outside_budget"].to_dict() == \
        pytest.approx(lost)
    assert (np.diff(table["population_outside_budget"].to_numpy()) <= 0).all()
    per_row = [len({domains[c] for c in chosen if mask[i, c]}) for i in range(n)]
    assert got["n_domains"].tolist() == np.repeat(per_row, 2).tolist()


def test_a_plan_says_who_one_domain_failure_leaves_outside_budget(caplog):
    """Tester 154: sites a, b in domain D1 and c, e in D2 each give their towns two sites
    within budget, so the plan read 10,000 people N-1 safe, while D2's failure leaves
    7,000 of them with no site within budget and D1's 3,000: by domains nobody is."""
    demand = pd.DataFrame({"demand_id": ["L1", "L2", "M", "R1", "R2"], "lat": 1.0,
                           "lon": [0.02, -0.3, 1.01, 2.02, 2.4],
                           "population": [1000.0, 2000.0, 500.0, 3000.0, 4000.0]})
    sites = pd.DataFrame({"site_id": ["a", "b", "c", "e", "g"], "lat": 1.0,
                          "lon": [0.0, 0.05, 2.0, 2.05, 1.0],
                          "failure_domain": ["D1", "D1", "D2", "D2", "D3"],
                          "capacity_rps": 1e6})
    with caplog.at_level("WARNING"):
        plan = plan_sites(demand, sites, budget_ms=30.0, failures=1,
                          requests_per_person_day=10.0, kmedian_time_limit_s=5)
    s = plan.summary()
    assert s["population_safe_by_failures"]["N-1"] == 10_000.0
    assert s["population_safe_by_domain_failures"] == {"N-0": 10_500.0, "N-1": 0.0}
    worst = s["domain_failures"]
    assert worst["worst_domain"].endswith("D2")
    assert worst["worst_domain_population_outside_budget"] == 7_000.0
    assert "10,000 people keep 2 chosen sites within budget but not in 2 domains" in \
        caplog.text
    from coverage.outputs.headline import headline_lines

    assert any(line.startswith("within budget whatever j failure domains fail: N-0 10,500")
               for line in headline_lines(s))
    # without domains the figures are not there
    plain = plan_sites(demand, sites.drop(columns="failure_domain"), budget_ms=30.0,
                       failures=1, requests_per_person_day=10.0, kmedian_time_limit_s=5)
    assert "population_safe_by_domain_failures" not in plain.summary()
    # one row per domain holding a chosen site, and each point's domains within budget
    table = plan.domain_failures.set_index("failure_domain")
    assert table.index[0].endswith("D2")
    chosen = set(plan.sites["site_id"])
    for dom in table.index:
        mine = sorted(sites.loc[sites["failure_domain"] == dom.split(":")[-1], "site_id"])
        assert table.loc[dom, "chosen_site_ids"].split(";") == [x for x in mine
                                                                if x in chosen]
        assert table.loc[dom, "n_chosen_sites"] == len(table.loc[dom, "chosen_site_ids"]
                                                      .split(";"))
        primary = plan.assignment["primary_site_id"].astype(str).isin(
            table.loc[dom, "chosen_site_ids"].split(";"))
        assert table.loc[dom, "population_primary"] == \
            plan.assignment.loc[primary, "population"].sum()
    assert table["population_outside_budget"].to_dict() == {
        "domain:D2": 7000.0, "domain:D1": 3000.0, "domain:D3": 500.0}
    assert plan.assignment["n_domains_in_budget"].tolist() == [1, 1, 1, 1, 1]
    # a town with sites of two domains within budget counts 2 (and is N-1 safe by them)
    two = sites.assign(failure_domain=["D1", "D4", "D2", "D2", "D3"])
    plan2 = plan_sites(demand, two, budget_ms=30.0, failures=1,
                       requests_per_person_day=10.0, kmedian_time_limit_s=5)
    by_id = plan2.assignment.set_index("demand_id")["n_domains_in_budget"]
    assert by_id["L1"] == 2 and by_id["R1"] == 1
    assert plan2.summary()["population_safe_by_domain_failures"]["N-1"] == \
        plan2.assignment.loc[plan2.assignment["n_domains_in_budget"] >= 2, "population"].sum()
    assert plain.domain_failures is None
    assert "n_domains_in_budget" not in plain.assignment.columns


def test_the_command_line_writes_and_rebuilds_the_report_of_a_plan_with_domains(tmp_path):
    """The first version of the domain figures put a mapping under a population_ key,
    which the plan directory's check read as a damaged number: sweep.csv and
    report.html were not written (exit 5). The report shows both figures, and
    `edge-coverage report` rebuilds it."""
    from helpers import run

    d, s = tmp_path / "d.csv", tmp_path / "s.csv"
    d.write_text("demand_id,lat,lon,population\nL1,1,0.02,1000\nL2,1,-0.3,2000\n"
                 "M,1,1.01,500\nR1,1,2.02,3000\nR2,1,2.4,4000\n")
    s.write_text("site_id,lat,lon,failure_domain,capacity_rps\na,1,0.0,D1,1e6\n"
                 "b,1,0.05,D1,1e6\nc,1,2.0,D2,1e6\ne,1,2.05,D2,1e6\ng,1,1.0,D3,1e6\n")
    out = tmp_path / "out"
    r = run("plan", "--demand", d, "--candidates", s, "--budget-ms", "30",
            "--requests-per-person-day", "10", "--out", out, "--no-map")
    assert r.returncode == 0, r.stderr
    assert "within budget whatever j failure domains fail: N-0 10,500" in r.stdout + r.stderr
    table = pd.read_csv(out / "domain_failures.csv")
    assert table.columns.tolist() == [
        "failure_domain", "n_chosen_sites", "chosen_site_ids", "population_primary",
        "population_outside_budget", "n_demand_rerouted", "population_rerouted",
        "worst_latency_ms", "mean_rerouted_latency_ms", "n_demand_outside_budget",
        "meets_budget"]
    assert table["population_outside_budget"].tolist() == [7000.0, 3000.0, 500.0]
    # every domain's failure leaves someone outside budget, the users rerouted to a site
    # at least 0.97 degrees away
    assert not table["meets_budget"].any()
    summary = json.loads((out / "summary.json").read_text())["domain_failures"]
    assert summary["n_domains_meeting_budget"] == 0
    assert summary["n_domains_with_chosen_sites"] == 3
    assert summary["worst_rerouted_latency_ms"] == table["worst_latency_ms"].max()
    assert pd.read_csv(out / "assignment.csv")["n_domains_in_budget"].tolist() == [1] * 5
    for rebuilt in (False, True):
        if rebuilt:
            (out / "report.html").unlink()
            r = run("report", out)
            assert r.returncode == 0, r.stderr
        html = (out / "report.html").read_text()
        assert 'data-key="population_safe_by_domain_failures.N-1" data-value="0.0"' in html
        assert ('data-key="domain_failures.worst_domain_population_outside_budget" '
                'data-value="7000.0"') in html
        assert 'data-key="domain_failures.worst_rerouted_latency_ms"' in html
        assert "0 of 3 domains keep every rerouted user within budget" in html


def _places(rng, n, m, *, lat_span, lon_span, pop=(100, 5000), lon0=8.0, prefix=""):
    """Random demand (``n`` points, populations drawn from ``pop``, or each 100 when
    None) and candidates (``m``) in a box at 50 N, ``lon0`` E: the draws in one order, so
    that the seeds of the tests below keep their instances."""
    demand = pd.DataFrame({"demand_id": [f"{prefix}d{i}" for i in range(n)],
                           "lat": 50 + rng.uniform(0, lat_span, n),
                           "lon": lon0 + rng.uniform(0, lon_span, n)})
    demand["population"] = (100.0 if pop is None
                            else rng.integers(pop[0], pop[1], n).astype(float))
    sites = pd.DataFrame({"site_id": [f"{prefix}s{j}" for j in range(m)],
                          "lat": 50 + rng.uniform(0, lat_span, m),
                          "lon": lon0 + rng.uniform(0, lon_span, m)})
    return demand, sites


def _city_domains(sites):
    """Domains of 2 x 2 degrees (as cities: near sites share one)."""
    return [f"{int(a / 2)}:{int(b / 2)}" for a, b in zip(sites["lat"], sites["lon"], strict=True)]


# ------------------------------------------------ a plan without a load fails whole domains


@pytest.mark.parametrize("seed", range(6))
def test_the_domain_rows_hold_exactly_the_plans_that_span_enough_domains(seed):
    """Every set of candidates meets the plain rows and the domain rows if and only if
    every point has ``min(k + 1, |N_i|)`` of them in budget in ``min(k + 1, |D_i|)``
    domains (brute force over every set, k = 0 to 3)."""
    from coverage.solvers.domain_rows import domain_rows

    rng = np.random.default_rng(seed)
    for _ in range(40):
        n, m, k = int(rng.integers(1, 6)), int(rng.integers(1, 8)), int(rng.integers(0, 4))
        a = (rng.random((n, m)) < rng.uniform(0.2, 0.9)).astype(np.int8)
        codes = rng.integers(0, int(rng.integers(1, m + 1)), m)
        dr = domain_rows(sp.csr_array(a), codes, k)
        extra = dr.matrix.toarray() != 0
        assert (dr.requirement >= 1).all()
        for bits in range(1 << m):
            s = np.array([(bits >> j) & 1 for j in range(m)], dtype=bool)
            spans = all((s & (a[i] != 0)).sum() >= min(k + 1, (a[i] != 0).sum())
                        and len(set(codes[s & (a[i] != 0)]))
                        >= min(k + 1, len(set(codes[a[i] != 0]))) for i in range(n))
            rows = (all((s & (a[i] != 0)).sum() >= min(k + 1, (a[i] != 0).sum())
                        for i in range(n))
                    and all((s & extra[t]).sum() >= dr.requirement[t]
                            for t in range(len(extra))))
            assert spans == rows


@pytest.mark.parametrize("seed", range(6))
def test_dropping_redundant_sites_keeps_every_point_and_leaves_none_to_drop(seed):
    """drop_redundant (review 157's completions): from any plan that meets every point,
    a subset that still does (counted here point by point), with the required sites,
    from which no single site can be dropped."""
    from coverage.solvers.domain_rows import drop_redundant

    rng = np.random.default_rng(40 + seed)

    def meets(s, a, codes, k):
        return all((s & a[i]).sum() >= min(k + 1, a[i].sum())
                   and len(set(codes[s & a[i]])) >= min(k + 1, len(set(codes[a[i]])))
                   for i in range(len(a)))

    for _ in range(30):
        n, m, k = int(rng.integers(2, 25)), int(rng.integers(3, 14)), int(rng.integers(1, 4))
        a = rng.random((n, m)) < rng.uniform(0.2, 0.7)
        codes = rng.integers(0, int(rng.integers(1, m + 1)), m)
        required = rng.random(m) < 0.15
        cost = rng.uniform(0.5, 3.0, m) if rng.random() < 0.5 else None
        plan = (rng.random(m) < 0.8) | required
        if not meets(plan, a, codes, k):
            plan = np.ones(m, dtype=bool)
        req = np.minimum(k + 1, a.sum(axis=1))
        need = np.array([min(k + 1, len(set(codes[row]))) for row in a])
        kept = drop_redundant(sp.csr_array(a.astype(np.int8)), np.flatnonzero(plan), req,
                              need, codes, required=required, cost=cost)
        s = np.zeros(m, dtype=bool)
        s[kept] = True
        assert not (s & ~plan).any() and (s | ~required).all()
        assert meets(s, a, codes, k)
        for j in np.flatnonzero(s & ~required):
            t = s.copy()
            t[j] = False
            assert not meets(t, a, codes, k), (j, kept)
    # a stored entry counts once whatever its value (review 159: latencies were summed)
    assert drop_redundant(sp.csr_array([[5.0, 5.0]]), [0, 1], [2], [1], [0, 0]).tolist() \
        == [0, 1]


def _fewest_spanning(mask, domains, k, required=()):
    """Brute force: the fewest candidates giving every point min(k + 1, |N_i|) in budget
    in min(k + 1, |D_i|) domains."""
    n, m = mask.shape
    for size in range(m + 1):
        for combo in itertools.combinations(range(m), size):
            if not set(required) <= set(combo):
                continue
            s = np.zeros(m, dtype=bool)
            s[list(combo)] = True
            if all((s & mask[i]).sum() >= min(k + 1, mask[i].sum())
                   and len(set(domains[s & mask[i]])) >= min(k + 1, len(set(domains[mask[i]])))
                   for i in range(n)):
                return size
    raise AssertionError("no plan")


# in the first three the domains need one site more than single sites do (brute force);
# in all, a placement that drops the domains' rows leaves some point short of them
@pytest.mark.parametrize("seed,k", [(0, 2), (6, 1), (9, 2), (1, 1), (2, 2), (4, 2)])
def test_a_plan_without_a_load_fails_whole_domains(seed, k):
    """A plan without a load and a failure_domain column: its count is the brute force's
    fewest sites spanning the domains, the placed plan spans them for every point (checked
    on the assignment's n_domains_in_budget and on the pattern recomputed here), and the
    summary says so."""
    from coverage.model.geo import haversine_km
    from coverage.model.latency import LatencyModel

    rng = np.random.default_rng(seed)
    n, m = 14, 9
    demand, sites = _places(rng, n, m, lat_span=4, lon_span=6)
    sites["failure_domain"] = [f"D{d}" for d in rng.integers(0, 4, m)]
    model = LatencyModel.from_profile("on-net")
    budget = 25.0  # 252 km
    plan = plan_sites(demand, sites, budget_ms=budget, failures=k, model=model,
                      kmedian_time_limit_s=10)
    radius = model.radius_km(budget, "ftth", "p99")
    dist = haversine_km(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                        sites["lat"].to_numpy()[None, :], sites["lon"].to_numpy()[None, :])
    mask = dist <= radius
    assert (mask.sum(axis=1) > 0).any()
    doms = sites["failure_domain"].to_numpy()
    s = plan.summary()
    assert s["domain_failures"]["count_fails"] == "whole failure domains"
    assert len(plan.sites) == _fewest_spanning(mask, doms, k)
    chosen = sites["site_id"].isin(plan.sites["site_id"]).to_numpy()
    need = np.minimum(k + 1, [len(set(doms[mask[i]])) for i in range(n)])
    got = [len(set(doms[chosen & mask[i]])) for i in range(n)]
    assert (np.asarray(got) >= need).all()
    by_id = plan.assignment.set_index("demand_id")["n_domains_in_budget"]
    assert by_id.reindex(demand["demand_id"]).tolist() == got


def test_row_generation_and_components_with_domains(caplog):
    """Row generation and the count by components fail whole domains too (a fetched cell
    brings its domains' rows; a plan's check finds the cells that meet their count in too
    few domains); --max-sites (max-cover) puts the most people in two domains as its
    second objective; its p-center's radius holds when whole domains fail too."""
    demand = pd.DataFrame({"demand_id": ["a", "b"], "lat": [50.0, 50.1], "lon": [8.0, 8.1],
                           "population": [1000.0, 2000.0]})
    sites = pd.DataFrame({"site_id": ["s1", "s2", "s3"], "lat": [50.0, 50.1, 50.4],
                          "lon": [8.0, 8.1, 8.4], "failure_domain": ["A", "A", "B"]})
    lazy = plan_sites(demand, sites, budget_ms=30.0, failures=1, strategy="lazy",
                      kmedian_time_limit_s=5)
    s = lazy.summary()
    assert s["domain_failures"]["count_fails"] == "whole failure domains"
    assert s["population_safe_by_domain_failures"]["N-1"] == 3000.0
    pieces = plan_sites(demand, sites, budget_ms=30.0, failures=1, strategy="components",
                        kmedian_time_limit_s=5)
    assert pieces.summary()["domain_failures"]["count_fails"] == "whole failure domains"
    assert pieces.summary()["population_safe_by_domain_failures"]["N-1"] == 3000.0
    best = plan_sites(demand, sites, budget_ms=30.0, failures=1, max_sites=2,
                      kmedian_time_limit_s=5)
    b = best.summary()
    assert b["domain_failures"]["count_fails"].startswith("whole failure domains (--max-sites")
    # {s1, s2} keeps both towns N-1 safe by sites, not by domains: s3 is one of the two
    assert "s3" in set(best.sites["site_id"])
    assert b["secondary_objective"] == "population_n1_safe_by_domains"
    assert b["secondary_value"] == b["population_safe_by_domain_failures"]["N-1"] == 3000.0
    with caplog.at_level("WARNING"):
        center = plan_sites(demand, sites, budget_ms=30.0, failures=1, max_sites=2,
                            objective="p-center", kmedian_time_limit_s=5)
    assert "fails single sites" not in caplog.text
    c = center.summary()
    assert c["domain_failures"]["count_fails"].startswith(
        "whole failure domains (--max-sites p-center")
    # {s1, s2} is the nearer pair by single sites; by domains s3 must be one of the two
    assert "s3" in set(center.sites["site_id"])
    assert c["population_safe_by_domain_failures"]["N-1"] == 3000.0
    full = plan_sites(demand, sites, budget_ms=30.0, failures=1, kmedian_time_limit_s=5)
    assert full.summary()["domain_failures"]["count_fails"] == "whole failure domains"
    assert full.summary()["population_safe_by_domain_failures"]["N-1"] == 3000.0
    assert "s3" in set(full.sites["site_id"])


@pytest.mark.parametrize("seed,k", [(0, 1), (1, 2), (2, 1), (3, 2)])
def test_row_generation_with_domains_finds_the_full_count(seed, k):
    """Row generation over rounds (a small seed: most rows come from the plans' checks)
    gives the full matrix's proven count with domains, and its plan spans every cell's
    domains (checked here on the pattern); so does the national placement's, whatever
    its rounds (a placement on 4 cells' bins with one round and no repair falls back to
    the count's sites, still spanning)."""
    from coverage.config import PlannerConfig
    from coverage.model.latency import LatencyModel
    from coverage.model.problem import Problem
    from coverage.planner.stages import min_sites, reach_matrix
    from coverage.solvers.domain_rows import domain_codes, row_domains

    rng = np.random.default_rng(seed)
    demand, sites = _places(rng, 1500, 80, lat_span=5, lon_span=8, pop=(10, 500))
    sites["failure_domain"] = _city_domains(sites)  # where N-1 costs sites
    from coverage.inputs.tables import as_demand, as_sites

    demand, sites = as_demand(demand), as_sites(sites)
    problem = Problem.build(demand, sites, PlannerConfig(budget_ms=24.0, failures=k,
                                                         time_limit_s=60),
                            LatencyModel.from_profile("on-net"))
    problem = replace_domains(problem, domain_codes(sites["failure_domain"]))
    reach = reach_matrix(problem)
    full = min_sites(problem, reach=reach)
    lazy = min_sites(problem, lazy_options={"seed_rows": 20, "max_rows_per_round": 50,
                                            "spread": False,
                                            "at_risk_rows": 20})
    assert full.cover.status == lazy.cover.status == "optimal"
    assert lazy.cover.objective == full.cover.objective
    assert lazy.lazy.rounds and len(lazy.lazy.rounds) >= 2
    plain = min_sites(replace_domains(problem, None), reach=reach)
    assert full.cover.objective > plain.cover.objective  # the domains cost sites here
    pattern = reach.boolean()
    codes = domain_codes(sites["failure_domain"])
    need = np.minimum(k + 1, row_domains(pattern, codes))
    chosen = sp.csr_array(pattern[:, lazy.cover.sites])
    assert (row_domains(chosen, codes[lazy.cover.sites]) >= need).all()
    from coverage.planner.placement import place_national
    from coverage.planner.stages import row_source

    for kw in ({}, {"max_rounds": 1, "repair": False}, {"cell_km": 100.0}):
        placed = place_national(problem, lazy.cover.sites, lazy.n_covering,
                                source=row_source(problem), bin_reach=reach_matrix,
                                time_limit_s=20, **kw)
        assert len(placed.sites) == len(lazy.cover.sites)
        sub = sp.csr_array(pattern[:, placed.sites])
        assert (row_domains(sub, codes[placed.sites]) >= need).all(), (kw, placed.status)
        assert (np.diff(sub.indptr) >= problem.requirement(lazy.n_covering)).all()


def replace_domains(problem, codes):
    from dataclasses import replace

    return replace(problem, count_domains=codes)


def test_a_domain_radius_without_a_load_groups_the_sites_and_the_sweep_follows(tmp_path):
    """--domain-radius-km in a plan without a load (refused before): sites within it of
    each other fail together; the count is the brute force's over those groups, and so is
    the budget sweep's at another budget."""
    import networkx as nx

    from coverage.cli import main
    from coverage.model.geo import haversine_km
    from coverage.model.latency import LatencyModel

    # at both budgets the groups need a site more than single sites do (brute force)
    rng = np.random.default_rng(3)
    m = 9
    demand, sites = _places(rng, 14, m, lat_span=4, lon_span=6)
    sl, sn = sites["lat"].to_numpy(), sites["lon"].to_numpy()
    apart = haversine_km(sl[:, None], sn[:, None], sl[None, :], sn[None, :])
    radius_km = float(np.sort(apart[np.triu_indices(m, 1)])[4]) + 0.5  # a few groups
    graph = nx.Graph()
    graph.add_nodes_from(range(m))
    graph.add_edges_from(zip(*np.nonzero(np.triu(apart <= radius_km, 1)), strict=True))
    groups = np.empty(m, dtype=object)
    for g, comp in enumerate(nx.connected_components(graph)):
        groups[list(comp)] = g
    assert 2 <= len(set(groups)) < m
    d = demand[["lat", "lon"]].to_numpy()
    on_net = LatencyModel.from_profile("on-net")
    mask = (haversine_km(d[:, :1], d[:, 1:], sl[None, :], sn[None, :])
            <= on_net.radius_km(24.0, "ftth", "p99"))
    demand.to_csv(tmp_path / "d.csv", index=False)
    sites.to_csv(tmp_path / "s.csv", index=False)
    assert main(["plan", "--demand", str(tmp_path / "d.csv"), "--candidates",
                 str(tmp_path / "s.csv"), "--latency-model", "on-net", "--budget-ms", "24",
                 "--failures", "1", "--domain-radius-km", f"{radius_km:.6f}",
                 "--sweep-budgets-ms", "24,25", "--no-map", "--no-gis", "--sweep-process",
                 "never", "--out", str(tmp_path / "out"), "-q"]) == 0
    import json

    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    fewest = _fewest_spanning(mask, groups, 1)
    assert s["site_count"] == fewest and s["domain_failures"]["count_fails"] == \
        "whole failure domains"
    assert s["parameters"]["domain_radius_km"] == pytest.approx(radius_km, abs=1e-5)
    sweep = pd.read_csv(tmp_path / "out" / "sweep.csv").set_index("budget_ms")
    assert sweep.loc[24.0, "site_count"] == fewest and sweep.loc[24.0, "source"] == "plan"
    mask25 = (haversine_km(d[:, :1], d[:, 1:], sl[None, :], sn[None, :])
              <= on_net.radius_km(25.0, "ftth", "p99"))
    assert sweep.loc[25.0, "source"] == "sweep"
    assert sweep.loc[25.0, "site_count"] == _fewest_spanning(mask25, groups, 1)
    table = pd.read_csv(tmp_path / "out" / "domain_failures.csv")
    assert table["failure_domain"].str.startswith("radius-").all()
    page = (tmp_path / "out" / "report.html").read_text()
    assert "whatever 1 failure domain(s) fail" in page
    assert "what the site count failed together" in page and "whole failure domains" in page


def _dense(n=30, m=60, per_domain=3, seed=0):
    """Every candidate within budget of every point, in m / per_domain domains."""
    rng = np.random.default_rng(seed)
    demand = pd.DataFrame({"demand_id": [f"d{i}" for i in range(n)],
                           "lat": 50 + rng.uniform(0, 0.2, n), "lon": 8 + rng.uniform(0, 0.2, n),
                           "population": 1000.0})
    sites = pd.DataFrame({"site_id": [f"s{j}" for j in range(m)],
                          "lat": 50 + rng.uniform(0, 0.2, m), "lon": 8 + rng.uniform(0, 0.2, m),
                          "failure_domain": [f"D{j // per_domain}" for j in range(m)]})
    return demand, sites


def test_domain_rows_above_the_memory_limit_fall_back_to_single_sites_and_say_so(caplog):
    """A review's find: the domains' rows grow with the sets of each point's domains (N-3,
    50 points of 200 candidates in 60 domains: 343M entries). Their size is estimated
    first (an upper bound: tested), and above half of max_memory_gb the count fails single
    sites, with a warning and count_fails saying why; the sweep labels such budgets."""
    import scipy.sparse as sp

    from coverage.planner.sweep import budget_sweep
    from coverage.solvers.domain_rows import domain_row_entries, domain_rows

    rng = np.random.default_rng(2)
    for k in (1, 2, 3):
        a = sp.csr_array((rng.random((40, 30)) < 0.5).astype(np.int8))
        codes = rng.integers(0, 9, 30)
        assert domain_rows(a, codes, k).matrix.nnz <= domain_row_entries(a, codes, k)
    demand, sites = _dense()
    # 1,800 pairs; the rows at N-2, built once for the 30 points' one set of candidates:
    # (20 + 190) sets of domains x 60 entries = 12,600 (bound)
    small_gb = 5_000 * 40 * 2 / 2**30  # 5,000 pairs at 40 bytes, half of the limit
    with caplog.at_level("WARNING"):
        plan = plan_sites(demand, sites, budget_ms=30.0, failures=2, strategy="full",
                          max_memory_gb=small_gb, kmedian_time_limit_s=5)
    # (generated for the points short of them: tester 178)
    assert "the failure domains' rows generated for 30 points hold" in caplog.text
    assert plan.summary()["domain_failures"]["count_fails"] == \
        "single sites (the domains' rows above --max-memory-gb)"
    fits = plan_sites(demand, sites, budget_ms=30.0, failures=2, strategy="full",
                      kmedian_time_limit_s=5)
    assert fits.summary()["domain_failures"]["count_fails"] == "whole failure domains"
    assert fits.summary()["population_safe_by_domain_failures"]["N-2"] == 30_000.0
    sweep = budget_sweep(demand, sites, [30.0, 40.0], failures=2, max_full_pairs=5_000)
    assert set(sweep["method"]) == {"full (single sites)"}
    sweep = budget_sweep(demand, sites, [30.0], failures=2, max_full_pairs=0)
    assert set(sweep["method"]) == {"lazy (single sites)"}  # the row generation's limit
    sweep = budget_sweep(demand, sites, [30.0], failures=2, max_full_pairs=10)
    assert set(sweep["method"]) == {"lazy (single sites)"}
    # row generation within its limit fails whole domains (below: a bigger limit)
    lazy = plan_sites(demand, sites, budget_ms=30.0, failures=2, strategy="lazy",
                      kmedian_time_limit_s=5)
    assert lazy.summary()["domain_failures"]["count_fails"] == "whole failure domains"
    assert lazy.summary()["population_safe_by_domain_failures"]["N-2"] == 30_000.0
    caplog.clear()
    with caplog.at_level("WARNING"):
        tight = plan_sites(demand, sites, budget_ms=30.0, failures=2, strategy="lazy",
                           max_memory_gb=small_gb, kmedian_time_limit_s=5)
    assert tight.summary()["domain_failures"]["count_fails"] == \
        "single sites (the domains' rows above --max-memory-gb)"
    assert "the failure domains' rows would hold about" in caplog.text
    with caplog.at_level("WARNING"):
        pieces = plan_sites(demand, sites, budget_ms=30.0, failures=2,
                            strategy="components", max_memory_gb=small_gb,
                            kmedian_time_limit_s=5, sweep={"budgets_ms": [30.0]})
    assert pieces.summary()["domain_failures"]["count_fails"] == \
        "single sites (the domains' rows above --max-memory-gb)"
    assert pieces.sweep["method"].tolist() == ["components (single sites)"]
    assert pieces.summary()["solver"]["components"]["domains_dropped"][0].startswith(
        "the failure domains' rows would hold about")
    sweep = budget_sweep(demand, sites, [30.0], failures=2)
    assert set(sweep["method"]) == {"full"}
    assert sweep["site_count"].tolist() == [3]


def test_a_plan_on_bins_says_its_domains_are_the_bins():
    """With --aggregate-km the rows and figures are the bins' (a review's find: an
    original point kept one domain while the summary read whole failure domains)."""
    demand, sites = _dense()
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=1, aggregate_km=5.0,
                      kmedian_time_limit_s=5)
    assert plan.summary()["domain_failures"]["count_fails"].startswith(
        "whole failure domains (of the bins;")


def test_domain_rows_are_built_once_per_set_of_candidates():
    """A point's rows depend only on its set of candidates: repeated points (as the tracts
    of one town) add no row, and the estimate does not grow with them."""
    import scipy.sparse as sp

    from coverage.solvers.domain_rows import domain_row_entries, domain_rows

    rng = np.random.default_rng(4)
    a = sp.csr_array((rng.random((6, 12)) < 0.6).astype(np.int8))
    codes = rng.integers(0, 4, 12)
    many = sp.csr_array(sp.vstack([a] * 50, format="csr"))
    for k in (1, 2):
        one, all_ = domain_rows(a, codes, k), domain_rows(many, codes, k)
        assert all_.matrix.shape == one.matrix.shape and all_.matrix.nnz == one.matrix.nnz
        assert (all_.matrix != one.matrix).nnz == 0
        assert np.array_equal(all_.requirement, one.requirement)
        assert domain_row_entries(many, codes, k) == domain_row_entries(a, codes, k)


def test_the_count_by_components_fails_whole_domains_piece_by_piece():
    """Two far-apart regions (two components, two pieces): the count by components with
    domains is the full matrix's, and its placement, piece by piece, spans every cell's
    domains."""
    from coverage.config import PlannerConfig
    from coverage.inputs.tables import as_demand, as_sites
    from coverage.model.latency import LatencyModel
    from coverage.model.problem import Problem
    from coverage.planner.placement import place_components
    from coverage.planner.stages import component_sites, min_sites, reach_matrix, row_source
    from coverage.solvers.domain_rows import domain_codes, row_domains

    rng = np.random.default_rng(5)
    parts_d, parts_s = [], []
    for region, lon0 in enumerate((8.0, 60.0)):
        d, s = _places(rng, 700, 40, lat_span=5, lon_span=8, pop=(10, 500), lon0=lon0,
                       prefix=f"r{region}")
        s["failure_domain"] = _city_domains(s)
        parts_d.append(d)
        parts_s.append(s)
    demand = as_demand(pd.concat(parts_d, ignore_index=True))
    sites = as_sites(pd.concat(parts_s, ignore_index=True))
    codes = domain_codes(sites["failure_domain"])
    problem = replace_domains(Problem.build(
        demand, sites, PlannerConfig(budget_ms=24.0, failures=1, time_limit_s=60),
        LatencyModel.from_profile("on-net")), codes)
    reach = reach_matrix(problem)
    full = min_sites(problem, reach=reach)
    pieces = component_sites(problem, target_cells=300,
                             lazy_options={"seed_rows": 20, "spread": False})
    assert len(pieces.components.piece_cells) >= 2
    assert full.cover.status == pieces.cover.status == "optimal"
    assert pieces.cover.objective == full.cover.objective
    assert full.cover.objective > min_sites(replace_domains(problem, None),
                                            reach=reach).cover.objective
    placed = place_components(problem, pieces, source_of=row_source,
                              bin_reach=reach_matrix, time_limit_s=20)
    pattern = reach.boolean()
    need = np.minimum(2, row_domains(pattern, codes))
    sub = sp.csr_array(pattern[:, placed.sites])
    assert len(placed.sites) == len(pieces.cover.sites)
    assert (row_domains(sub, codes[placed.sites]) >= need).all()


@pytest.mark.parametrize("domains", [False, True])
def test_row_generation_stopped_after_one_round_still_returns_a_covering_plan(domains):
    """Review 147: after the rounds, the greedy repair's last plan was not checked, so a
    repair that converged on its last round raised "did not converge" (max_rounds=1)."""
    from coverage.config import PlannerConfig
    from coverage.inputs.tables import as_demand, as_sites
    from coverage.model.latency import LatencyModel
    from coverage.model.problem import Problem
    from coverage.planner.stages import min_sites, reach_matrix
    from coverage.solvers.domain_rows import domain_codes, row_domains

    rng = np.random.default_rng(7)
    demand, sites = _places(rng, 800, 60, lat_span=5, lon_span=8, pop=None)
    sites["failure_domain"] = _city_domains(sites)
    demand, sites = as_demand(demand), as_sites(sites)
    codes = domain_codes(sites["failure_domain"])
    problem = Problem.build(demand, sites, PlannerConfig(budget_ms=24.0, failures=1,
                                                         time_limit_s=5),
                            LatencyModel.from_profile("on-net"))
    if domains:
        problem = replace_domains(problem, codes)
    got = min_sites(problem, lazy_options={"seed_rows": 3, "max_rounds": 1,
                                           "max_rows_per_round": 40, "at_risk_rows": 0,
                                           "spread": False})
    pattern = reach_matrix(problem).boolean()
    sub = sp.csr_array(pattern[:, got.cover.sites])
    assert (np.diff(sub.indptr) >= problem.requirement(np.diff(pattern.indptr))).all()
    if domains:
        assert (row_domains(sub, codes[got.cover.sites])
                >= np.minimum(2, row_domains(pattern, codes))).all()


# ------------------------------------------- a domain's users rerouted outside the domain


def _tier_fixed_ms(demand, sites, model, budget, tier):
    """The p99 fixed latency of a site of ``tier`` (all rows ftth): the budget less the
    radius the planner gives that tier, as km of propagation."""
    from coverage.config import PlannerConfig
    from coverage.inputs.tables import as_demand, as_sites
    from coverage.model.problem import Problem

    config = PlannerConfig(budget_ms=budget).validate(model.access_profiles_ms)
    p = Problem.build(as_demand(demand), as_sites(sites.assign(tier=tier)), config, model)
    return budget - model.ms_per_km * float(p.rows.radius_km[0])


@pytest.mark.parametrize("seed,how", [
    (0, "plain"), (1, "plain"), (2, "tiers"), (3, "tiers"), (4, "load"), (5, "max_sites"),
    (6, "max_sites"), (7, "tiers, max_sites")])
def test_domain_failures_reroute_to_the_nearest_chosen_site_outside_the_domain(seed, how):
    """domain_failures.csv's reroute figures against a dense brute force: each point's
    primary (its lowest-latency chosen site in budget), the lowest latency outside the
    primary's domain, per domain the users, worst and mean latency and the points left
    outside budget; and the people left outside budget equal domain_safety's count on the
    reach pattern (an independent computation). Tiers (mec beside metro-colo) take the
    pair engine's path, a load the capacitated plan's; --max-sites plans (single sites,
    too few for every point) leave some rerouted points outside budget."""
    from coverage.model.geo import haversine_km
    from coverage.model.latency import LatencyModel

    rng = np.random.default_rng(seed)
    demand, sites = _places(rng, 60, 14, lat_span=4, lon_span=6)
    sites["failure_domain"] = [f"D{d}" for d in rng.integers(0, 4, len(sites))]
    model, budget = LatencyModel.from_profile("on-net"), 25.0
    kw: dict = {}
    tiers = "tiers" in how
    if tiers:
        sites["tier"] = np.where(np.arange(len(sites)) % 2, "mec", "metro-colo")
    if how == "load":
        sites["capacity_rps"] = 1e6
        kw = {"requests_per_person_day": 10.0}
    if "max_sites" in how:
        kw = {"max_sites": 3}
    plan = plan_sites(demand, sites, budget_ms=budget, failures=1, model=model,
                      kmedian_time_limit_s=5, **kw)
    fixed = np.array([_tier_fixed_ms(demand, sites, model, budget, t)
                      for t in (sites["tier"] if tiers else ["metro-colo"] * len(sites))])
    dist = haversine_km(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                        sites["lat"].to_numpy()[None, :], sites["lon"].to_numpy()[None, :])
    lat = fixed[None, :] + model.ms_per_km * dist
    chosen = np.flatnonzero(sites["site_id"].isin(plan.sites["site_id"]).to_numpy())
    doms = sites["failure_domain"].to_numpy()
    pop = demand["population"].to_numpy()
    rows = []
    for i in range(len(demand)):
        best = chosen[np.argmin(lat[i, chosen])]
        if lat[i, best] > budget + 1e-9:
            continue  # no chosen site in budget: nobody to reroute
        left = [c for c in chosen if doms[c] != doms[best]]
        to = min(lat[i, left]) if left else np.nan
        rows.append((doms[best], pop[i], to, bool(left) and to <= budget + 1e-9))
    ref = pd.DataFrame(rows, columns=["failure_domain", "pop", "lat", "ok"])
    got = plan.domain_failures.set_index("failure_domain")
    assert sorted(got.index) == sorted({f"domain:{doms[c]}" for c in chosen})
    for name, g in ref.groupby("failure_domain"):
        row = got.loc[f"domain:{name}"]
        assert row["n_demand_rerouted"] == len(g)
        assert row["population_rerouted"] == pytest.approx(g["pop"].sum())
        kept = g[g["lat"].notna()]
        assert row["worst_latency_ms"] == pytest.approx(kept["lat"].max(), nan_ok=True)
        mean = ((kept["lat"] * kept["pop"]).sum() / kept["pop"].sum() if len(kept)
                else np.nan)
        assert row["mean_rerouted_latency_ms"] == pytest.approx(mean, nan_ok=True)
        assert row["n_demand_outside_budget"] == (~g["ok"]).sum()
        assert row["meets_budget"] == g["ok"].all()
        assert row["population_outside_budget"] == pytest.approx(g.loc[~g["ok"], "pop"].sum())
    untouched = got.drop(index=[f"domain:{x}" for x in ref["failure_domain"].unique()])
    assert (untouched["n_demand_rerouted"] == 0).all()
    assert untouched["meets_budget"].all()
    if "max_sites" in how:  # the figures above were not all trivially "in budget"
        assert (~ref["ok"]).any() and ref["ok"].any()


def test_a_domain_holding_every_chosen_site_leaves_its_users_nowhere_to_go(tmp_path):
    """One domain for every candidate: its failure leaves every served user without a
    site (no latency, all outside budget), and the report says so (review 150: its row
    was left out)."""
    rng = np.random.default_rng(7)
    demand, sites = _places(rng, 20, 6, lat_span=1, lon_span=1)
    sites["failure_domain"] = "one"
    from coverage.model.latency import LatencyModel

    plan = plan_sites(demand, sites, budget_ms=25.0, failures=1,
                      model=LatencyModel.from_profile("on-net"), kmedian_time_limit_s=5)
    row = plan.domain_failures.set_index("failure_domain").loc["domain:one"]
    served = plan.assignment["primary_site_id"].notna()
    assert row["n_demand_rerouted"] == served.sum() == row["n_demand_outside_budget"]
    assert np.isnan(row["worst_latency_ms"]) and np.isnan(row["mean_rerouted_latency_ms"])
    assert not row["meets_budget"]
    assert row["population_outside_budget"] == pytest.approx(
        plan.assignment.loc[served, "population"].sum())
    html = (plan.to_dir(tmp_path / "out", map=False, gis=False) / "report.html").read_text()
    assert ("none: no rerouted user has a chosen site outside its domain; 0 of 1 domains "
            "keep every rerouted user within budget") in html


# ------------------------------------------------------------ proposals by failure domain


@pytest.mark.parametrize("seed,k,radius_km", [(0, 1, None), (1, 2, None), (2, 1, None),
                                              (3, 1, 30.0), (4, 2, 30.0)])
def test_a_plan_failing_whole_domains_proposes_sites_for_points_in_too_few(seed, k, radius_km):
    """The proposals of a plan that fails whole domains: a gap point is one whose
    candidates in budget lie in fewer than k + 1 domains (a dense recount here), each
    proposal is a domain of its own (with --domain-radius-km: farther than the radius from
    every candidate and every other proposal, so the networkx grouping of candidates plus
    proposals keeps each alone), and with them every gap point not counted still short
    has its chosen sites and proposals in budget in k + 1 domains."""
    from coverage.model.capacity import failure_domains
    from coverage.model.geo import haversine_km
    from coverage.model.latency import LatencyModel

    rng = np.random.default_rng(seed)
    demand, sites = _places(rng, 50, 12, lat_span=5, lon_span=7)
    kw: dict = {}
    if radius_km is None:
        sites["failure_domain"] = [f"D{d}" for d in rng.integers(0, 3, len(sites))]
    else:
        kw["domain_radius_km"] = radius_km
    model, budget = LatencyModel.from_profile("on-net"), 25.0
    plan = plan_sites(demand, sites, budget_ms=budget, failures=k, model=model,
                      kmedian_time_limit_s=5, **kw)
    s = plan.summary()
    assert s["proposed"]["gaps_by"] == "failure domains"
    doms = np.asarray(failure_domains(sites, radius_km))
    radius = model.radius_km(budget, "ftth", "p99")
    lat, lon = demand["lat"].to_numpy(), demand["lon"].to_numpy()
    mask = haversine_km(lat[:, None], lon[:, None], sites["lat"].to_numpy()[None, :],
                        sites["lon"].to_numpy()[None, :]) <= radius
    n_dom = np.array([len(set(doms[mask[i]])) for i in range(len(demand))])
    gap = n_dom < k + 1
    assert s["proposed"]["gap_points"] == int(gap.sum()) > 0
    assert s["proposed"]["population_gap"] == pytest.approx(demand["population"][gap].sum())
    new = plan.proposed
    assert len(new) == s["proposed"]["proposed_sites"] > 0
    # each proposal a domain of its own, among the candidates' domains
    both = pd.concat([sites[["site_id", "lat", "lon"]],
                      new.rename(columns={"proposed_site_id": "site_id"})[
                          ["site_id", "lat", "lon"]]], ignore_index=True)
    if radius_km is not None:
        grouped = failure_domains(both, radius_km)
        assert len(set(grouped[len(sites):])) == len(new)
        assert not set(grouped[len(sites):]) & set(grouped[:len(sites)])
    chosen = sites["site_id"].isin(plan.sites["site_id"]).to_numpy()
    near_new = haversine_km(lat[:, None], lon[:, None], new["lat"].to_numpy()[None, :],
                            new["lon"].to_numpy()[None, :]) <= radius + 1e-6
    got = np.array([len(set(doms[chosen & mask[i]])) + int(near_new[i].sum())
                    for i in range(len(demand))])
    short = gap & (got < k + 1)
    assert s["proposed"]["gap_points_still_short"] == int(short.sum())
    assert s["proposed"]["population_still_short"] == pytest.approx(
        demand["population"][short].sum())


def test_a_max_sites_plan_counts_its_gaps_on_its_candidates_domains():
    """--max-sites (max-cover) counts domains: its gap points are those whose candidates
    in budget lie in one domain (a dense recount), whatever its P sites open."""
    from coverage.model.geo import haversine_km
    from coverage.model.latency import LatencyModel

    rng = np.random.default_rng(5)
    demand, sites = _places(rng, 30, 10, lat_span=2, lon_span=3)
    sites["failure_domain"] = [f"D{d}" for d in rng.integers(0, 3, len(sites))]
    model = LatencyModel.from_profile("on-net")
    plan = plan_sites(demand, sites, budget_ms=25.0, failures=1, max_sites=3, model=model,
                      kmedian_time_limit_s=5)
    p = plan.summary()["proposed"]
    mask = haversine_km(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                        sites["lat"].to_numpy()[None, :], sites["lon"].to_numpy()[None, :]
                        ) <= model.radius_km(25.0, "ftth", "p99")
    doms = sites["failure_domain"].to_numpy()
    spans = np.array([len(set(doms[mask[i]])) for i in range(len(demand))])
    assert p["gaps_by"] == "failure domains"
    assert p["gap_points"] == int((spans < 2).sum())


def test_a_proposal_keeps_out_of_the_domain_radius_of_every_candidate():
    """A town whose two candidates lie 4 km apart (one domain at --domain-radius-km 30):
    it lacks a second domain, and its proposed site stands farther than 30 km from both
    (nearer, it would fail with them), within its budget."""
    from coverage.model.capacity import failure_domains
    from coverage.model.geo import haversine_km
    from coverage.model.latency import LatencyModel

    demand = pd.DataFrame({"demand_id": ["town"], "lat": [50.0], "lon": [8.0],
                           "population": [1000.0]})
    sites = pd.DataFrame({"site_id": ["a", "b"], "lat": [50.02, 50.0], "lon": [8.0, 8.05]})
    model = LatencyModel.from_profile("on-net")
    plan = plan_sites(demand, sites, budget_ms=25.0, failures=1, model=model,
                      domain_radius_km=30.0, kmedian_time_limit_s=5)
    s = plan.summary()
    assert s["proposed"]["gaps_by"] == "failure domains"
    assert (s["proposed"]["proposed_sites"], s["proposed"]["gap_points"],
            s["proposed"]["gap_points_still_short"]) == (1, 1, 0)
    new = plan.proposed.iloc[0]
    apart = haversine_km(new["lat"], new["lon"], sites["lat"].to_numpy(),
                         sites["lon"].to_numpy())
    assert (apart > 30.0).all()
    assert haversine_km(new["lat"], new["lon"], 50.0, 8.0) <= model.radius_km(
        25.0, "ftth", "p99")
    both = pd.concat([sites, pd.DataFrame({"site_id": ["new"], "lat": [new["lat"]],
                                           "lon": [new["lon"]]})], ignore_index=True)
    assert len(set(failure_domains(both, 30.0))) == 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_domain_failures_agree_with_themselves_on_conservative_bins(seed):
    """Review 150: with conservative aggregation the reroute checked the bins' own radii
    and the people outside budget their shrunk ones, so rows met their budget beside
    people outside it. Both now count on the shrunk radii."""
    rng = np.random.default_rng(seed)
    demand, sites = _places(rng, 3000, 50, lat_span=3, lon_span=3)
    sites["failure_domain"] = [f"D{d}" for d in rng.integers(0, 8, len(sites))]
    from coverage.model.latency import LatencyModel

    plan = plan_sites(demand, sites, budget_ms=22.0, failures=1,
                      model=LatencyModel.from_profile("on-net"), aggregate_km=12.0,
                      aggregate_mode="conservative", kmedian_time_limit_s=3)
    t = plan.domain_failures
    assert len(t) > 1
    assert ((t["population_outside_budget"] > 0) == (t["n_demand_outside_budget"] > 0)).all()
    assert (t["meets_budget"] == (t["population_outside_budget"] == 0)).all()
    assert (~t["meets_budget"]).any()  # (some domain's failure leaves people outside)


def test_a_rerouted_user_just_inside_or_just_outside_its_budget():
    """domain_reroute on a hand-built plan: a town whose primary's domain fails goes to a
    site 0.3 km inside its budget radius (within budget) or 0.3 km outside it (not),
    at the latency the model gives that distance."""
    from coverage.config import PlannerConfig
    from coverage.inputs.tables import as_demand, as_sites
    from coverage.model.geo import haversine_km
    from coverage.model.latency import LatencyModel
    from coverage.model.problem import Problem
    from coverage.planner.stages import assign_and_fail
    from coverage.resilience.domain_reroute import domain_reroute

    model, budget = LatencyModel.from_profile("on-net"), 25.0
    radius = model.radius_km(budget, "ftth", "p99")
    deg = radius / 111.19492664455873  # km per degree of latitude (haversine, R 6371.0088)
    demand = pd.DataFrame({"demand_id": ["town"], "lat": [10.0], "lon": [0.0],
                           "population": [500.0]})
    step = 0.3 / 111.19  # 0.3 km of latitude
    sites = pd.DataFrame({"site_id": ["a", "a2", "in", "out"],
                          "lat": [10.0, 10.001, 10.0 + deg - step, 10.0 - deg - step],
                          "lon": [0.01, 0.01, 0.0, 0.0]})
    domains = np.array(["D1", "D1", "D2", "D3"], dtype=object)
    config = PlannerConfig(budget_ms=budget, failures=1).validate(model.access_profiles_ms)
    problem = Problem.build(as_demand(demand), as_sites(sites), config, model)
    for far, ok in (("in", True), ("out", False)):
        chosen = np.array([0, 1, 2 if far == "in" else 3])
        d_km = haversine_km(10.0, 0.0, sites["lat"][chosen[-1]], 0.0)
        assert (d_km < radius) == ok and abs(d_km - radius) < 0.31
        assignment, _, _ = assign_and_fail(problem, chosen, np.array([4]))
        got = domain_reroute(problem, assignment, chosen, domains).loc["D1"]
        assert got["n_demand_rerouted"] == 1 and got["population_rerouted"] == 500.0
        assert got["worst_latency_ms"] == pytest.approx(model.latency_ms(d_km, "ftth", "p99"))
        assert got["meets_budget"] == ok and got["n_demand_outside_budget"] == (not ok)


# ------------------------------------------------- --max-sites: N-k safe by whole domains


def _lex_brute(mask, w, p, k, codes, required=()):
    """The lexicographic optimum over every set of p facilities holding ``required``:
    (weight with an open facility in reach, weight with open ones in k + 1 domains)."""
    n, m = mask.shape
    best = None
    for combo in itertools.combinations(range(m), p):
        if not set(required) <= set(combo):
            continue
        s = np.zeros(m, dtype=bool)
        s[list(combo)] = True
        v1 = float(w[(mask & s).any(axis=1)].sum())
        v2 = float(w[[len(set(codes[mask[i] & s])) >= k + 1 for i in range(n)]].sum())
        if best is None or (v1, v2) > best:
            best = (v1, v2)
    return best


# 40 seeds, and 56 and 62, where required facilities left in the rows cost level 2
@pytest.mark.parametrize("seed", [*range(40), 56, 62])
def test_max_cover_by_domains_is_the_brute_forces(seed):
    """max_cover_lexicographic with domain codes: its level 2 counts clients whose open
    facilities in reach span k + 1 domains; both levels equal a brute force over every
    set of p facilities (required ones too)."""
    from coverage.solvers.maxcover import max_cover_lexicographic

    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(4, 13)), int(rng.integers(4, 10))
    mask = rng.random((n, m)) < rng.uniform(0.3, 0.8)
    codes = rng.integers(0, int(rng.integers(2, m // 2 + 2)), m)  # several sites a domain
    w = rng.integers(1, 100, n).astype(float)
    k = int(rng.integers(1, 4))
    p = int(rng.integers(1, m + 1))
    # required facilities in half of them (review 151: not subtracting them from the
    # domains' rows passed every test)
    required = (list(rng.choice(m, int(rng.integers(1, min(p, 3) + 1)), replace=False))
                if seed % 2 == 0 else [])
    res = max_cover_lexicographic(sp.csr_array(mask.astype(np.int8)), p, w, failures=k,
                                  time_limit_s=30, required=required or None,
                                  domain_codes=codes)
    assert res.status == "optimal"
    assert (res.objective, res.secondary) == _lex_brute(mask, w, p, k, codes, required)
    assert set(required) <= set(res.sites.tolist()) and len(res.sites) == p


@pytest.mark.parametrize("seed,k", [(0, 1), (1, 1), (2, 2), (3, 1)])
def test_a_max_sites_plan_puts_the_most_people_in_k_plus_1_domains(seed, k):
    """A --max-sites plan with domains: the most people within budget of a chosen site,
    then the most with chosen sites in budget in k + 1 domains (a brute force over every
    set of P candidates on a dense recount), the second figure equal to the plan's
    population_safe_by_domain_failures (counted on the reach pattern)."""
    from coverage.model.geo import haversine_km
    from coverage.model.latency import LatencyModel

    rng = np.random.default_rng(seed)
    demand, sites = _places(rng, 25, 9, lat_span=4, lon_span=6)
    sites["failure_domain"] = [f"D{d}" for d in rng.integers(0, 3, len(sites))]
    model, budget, p = LatencyModel.from_profile("on-net"), 25.0, 4
    plan = plan_sites(demand, sites, budget_ms=budget, failures=k, max_sites=p, model=model,
                      kmedian_time_limit_s=5)
    s = plan.summary()
    mask = haversine_km(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                        sites["lat"].to_numpy()[None, :], sites["lon"].to_numpy()[None, :]
                        ) <= model.radius_km(budget, "ftth", "p99")
    codes = sites["failure_domain"].to_numpy()
    v1, v2 = _lex_brute(mask, demand["population"].to_numpy(float), p, k, codes)
    assert s["status"] == "optimal" and s["secondary_status"] in ("optimal", "not needed")
    assert (s["objective_value"], s["secondary_value"]) == (v1, v2)
    assert s["population_safe_by_domain_failures"][f"N-{k}"] == v2


@pytest.mark.parametrize("seed", range(12))
def test_the_k_median_milp_holds_weightless_rows_as_coverage_only(seed):
    """The k-median's exact MILP gives a row of weight 0 (a failure domain's row) no
    assignment variables, only its coverage row: its optimum equals a brute force over
    every set of p sites meeting every row (the domains' rows of a random instance
    appended with weight 0), directly and through k_median with the search and bound
    off."""
    from coverage.solvers.domain_rows import domain_rows
    from coverage.solvers.kmedian import _inputs, _median_milp, k_median

    rng = np.random.default_rng(seed)
    n, m, k = int(rng.integers(4, 9)), int(rng.integers(4, 8)), int(rng.integers(1, 3))
    mask = rng.random((n, m)) < 0.6
    mask[np.arange(n), rng.integers(0, m, n)] = True
    lat = np.where(mask, rng.uniform(1, 30, (n, m)), 0.0)
    codes = rng.integers(0, 3, m)
    dr = domain_rows(sp.csr_array(mask.astype(np.int8)), codes, k)
    extra = dr.matrix.toarray() != 0
    rows = sp.csr_array(np.vstack([lat, np.where(extra, 1.0, 0.0)]))
    req = np.concatenate([np.minimum(k + 1, mask.sum(axis=1)), dr.requirement])
    w = np.concatenate([rng.integers(1, 50, n).astype(float), np.zeros(len(extra))])
    allrows = np.vstack([mask, extra])
    best: dict[int, float] = {}  # the least cost of each feasible number of sites
    for p in range(1, m + 1):
        for combo in itertools.combinations(range(m), p):
            s = np.zeros(m, dtype=bool)
            s[list(combo)] = True
            if ((allrows & s).sum(axis=1) < req).any():
                continue
            cost = float(sum(w[i] * lat[i][mask[i] & s].min() for i in range(n)))
            best[p] = min(best.get(p, np.inf), cost)
    assert best, "no feasible set"
    p = min(best)  # the fewest sites that meet every row
    indptr, indices, entry_latency, _, w_in, r_in, fixed = _inputs(rows, w, req, None)
    got = _median_milp(indptr, indices, entry_latency, w_in, r_in, m, p, fixed, 30.0)
    assert got is not None and got[2] == "optimal"
    assert got[1] == pytest.approx(best[p])
    open_ = np.zeros(m, dtype=bool)
    open_[got[0]] = True
    assert ((allrows & open_).sum(axis=1) >= req).all()
    res = k_median(rows, p, weights=w, requirement=req, time_limit_s=30, bound=False)
    assert res.objective == pytest.approx(best[p])


@pytest.mark.parametrize("town_site,radius_km", [(False, 30.0), (True, 30.0), (False, 46.0)])
def test_proposals_stand_a_domain_radius_apart_within_a_short_budget(town_site, radius_km):
    """Review 151: with --domain-radius-km 30 and a 47.6 km budget radius, twins and moved
    locations went twice the radius out, beyond the budget: a town with no candidate got
    one proposal (still short), a town with a candidate 5.5 km away none. They now stand
    just beyond the radius: the town gets its k + 1 sites in separate domains. Review 152:
    at 46 km (1.05 radii is beyond the budget) the twins stand midway between the two."""
    from coverage.model.capacity import failure_domains
    from coverage.model.geo import haversine_km
    from coverage.model.latency import LatencyModel

    model = LatencyModel.from_profile("on-net")
    demand = pd.DataFrame({"demand_id": ["town", "c1", "c2"], "lat": [50.0, 53.0, 53.1],
                           "lon": [8.0, 8.0, 8.1], "population": [1000.0, 500.0, 500.0]})
    sites = pd.DataFrame({"site_id": ["a", "b", "c"], "lat": [53.0, 53.1, 53.5],
                          "lon": [8.0, 8.1, 8.3]})
    if town_site:
        sites = pd.concat([sites, pd.DataFrame({"site_id": ["t"], "lat": [50.05],
                                                "lon": [8.0]})], ignore_index=True)
    plan = plan_sites(demand, sites, budget_ms=22.0, failures=1, model=model,
                      domain_radius_km=radius_km, kmedian_time_limit_s=2)
    p = plan.summary()["proposed"]
    assert p["gaps_by"] == "failure domains" and p["gap_points_still_short"] == 0
    new = plan.proposed
    near_town = new[haversine_km(new["lat"].to_numpy(), new["lon"].to_numpy(), 50.0, 8.0)
                    <= model.radius_km(22.0, "ftth", "p99")]
    assert len(near_town) == (1 if town_site else 2)
    both = pd.concat([sites, new.rename(columns={"proposed_site_id": "site_id"})[
        ["site_id", "lat", "lon"]]], ignore_index=True)
    groups = failure_domains(both, radius_km)
    assert len(set(groups[len(sites):])) == len(new)
    assert not set(groups[len(sites):]) & set(groups[:len(sites)])


def test_a_max_sites_plan_by_domains_proposes_by_domains():
    """Review 151: a --max-sites plan that counts domains proposed by single sites. A town
    whose two candidates share one domain: 0 N-1 safe by domains, one proposal."""
    demand = pd.DataFrame({"demand_id": ["a"], "lat": [50.0], "lon": [8.0],
                           "population": [1000.0]})
    sites = pd.DataFrame({"site_id": ["s1", "s2"], "lat": [50.0, 50.1], "lon": [8.0, 8.1],
                          "failure_domain": ["X", "X"]})
    s = plan_sites(demand, sites, budget_ms=30.0, failures=1, max_sites=2,
                   kmedian_time_limit_s=2).summary()
    assert s["secondary_value"] == 0.0 and s["population_safe_by_failures"]["N-1"] == 1000.0
    assert (s["proposed"]["gaps_by"], s["proposed"]["proposed_sites"],
            s["proposed"]["gap_points_still_short"]) == ("failure domains", 1, 0)
    from coverage.outputs.headline import _sites_line

    assert "then most N-1 safe by failure domains, 0" in _sites_line(s)


def test_max_sites_domains_rows_above_the_limit_count_single_sites():
    """Review 151: the --max-sites path's size bound (its domains' rows above half of
    --max-memory-gb): the count fails single sites, its second objective says so."""
    rng = np.random.default_rng(3)
    demand, sites = _places(rng, 30, 10, lat_span=2, lon_span=3)
    sites["failure_domain"] = [f"D{d}" for d in rng.integers(0, 3, len(sites))]
    from coverage.model.latency import LatencyModel

    plan = plan_sites(demand, sites, budget_ms=25.0, failures=1, max_sites=3,
                      strategy="full", max_memory_gb=1e-6,
                      model=LatencyModel.from_profile("on-net"), kmedian_time_limit_s=2)
    s = plan.summary()
    assert s["domain_failures"]["count_fails"].startswith("single sites (the domains' rows")
    assert s["secondary_objective"] == "population_n1_safe"
    assert s["proposed"]["gaps_by"] == "single sites"


def test_a_plan_whose_domain_figures_were_skipped_says_its_proposals_count_sites():
    """Review 151: row generation with the chosen sites' reach above the limit skips the
    figures by domain; its proposals count single sites and now say why."""
    rng = np.random.default_rng(0)
    demand, sites = _places(rng, 50, 12, lat_span=5, lon_span=7)
    sites["failure_domain"] = [f"S{j}" for j in range(len(sites))]
    from coverage.model.latency import LatencyModel

    plan = plan_sites(demand, sites, budget_ms=25.0, failures=1, strategy="lazy",
                      max_memory_gb=3e-6, model=LatencyModel.from_profile("on-net"),
                      kmedian_time_limit_s=2)
    assert (plan.summary()["proposed"]["gaps_by"]
            == "single sites (the figures by domain were not computed)")


@pytest.mark.parametrize("bearing_deg,spacing_km", [(90.0, 12.0), (200.0, 10.0),
                                                     (0.0, 15.0)])
def test_a_town_inside_a_dense_chained_domain_gets_a_populated_place_clear_of_it(
        bearing_deg, spacing_km):
    """Among dense candidates whose domains chain (the Boston to New York corridor is one
    domain of 605 places at 25 km), every spot near a town lies within the domain radius of
    some candidate: the town's own location, moved, and its twins were all left out, and
    the town stayed short (1,421 cells of a 1M-cell grid, hand run) though a populated
    place 80 km away, clear of every candidate, reaches it. That place is now offered."""
    from coverage.model.capacity import failure_domains
    from coverage.model.geo import haversine_km
    from coverage.model.latency import LatencyModel

    km_lat, km_lon = 111.195, 111.195 * np.cos(np.radians(50.0))
    half = int(48 // spacing_km)
    off = np.arange(-half, half + 1) * spacing_km
    gx, gy = np.meshgrid(off, off)
    b = np.radians(bearing_deg)

    def at(dist_km):
        return 50.0 + dist_km * np.cos(b) / km_lat, 8.0 + dist_km * np.sin(b) / km_lon

    # the place 80 km out, 140 km a candidate of another domain (beyond the town's
    # budget radius, within the place's): the place is not a gap, the town is
    d_lat, d_lon = at(80.0)
    e_lat, e_lon = at(140.0)
    sites = pd.DataFrame({"site_id": [f"g{i}" for i in range(gx.size)] + ["far"],
                          "lat": np.r_[50.0 + gy.ravel() / km_lat, e_lat],
                          "lon": np.r_[8.0 + gx.ravel() / km_lon, e_lon]})
    demand = pd.DataFrame({"demand_id": ["town", "place"], "lat": [50.0, d_lat],
                           "lon": [8.0, d_lon], "population": [5000.0, 200.0]})
    clear = haversine_km(d_lat, d_lon, sites["lat"].to_numpy(), sites["lon"].to_numpy())
    assert clear.min() > 25.0  # (bearings near the square's sides)
    model = LatencyModel()
    radius = model.radius_km(30.0, "ftth", "p99")
    assert haversine_km(50.0, 8.0, e_lat, e_lon) > radius > 80.0
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=1, model=model,
                      domain_radius_km=25.0, kmedian_time_limit_s=2)
    p = plan.summary()["proposed"]
    assert (p["gaps_by"], p["gap_points"], p["gap_points_still_short"],
            p["proposed_sites"]) == ("failure domains", 1, 0, 1)
    new = plan.proposed
    assert haversine_km(new["lat"].to_numpy(), new["lon"].to_numpy(), 50.0,
                        8.0).max() <= radius
    both = pd.concat([sites, new.rename(columns={"proposed_site_id": "site_id"})[
        ["site_id", "lat", "lon"]]], ignore_index=True)
    groups = failure_domains(both, 25.0)
    assert not set(groups[len(sites):]) & set(groups[:len(sites)])


# ------------------------------------------------------------- statuses by failure domain


def _domain_status(demand, sites, doms, model, budget_ms, k):
    """Dense recount: each point's status by the distinct domains of its candidates in
    budget (great circle, ftth)."""
    from coverage.model.geo import haversine_km
    from coverage.resilience.status import coverage_status

    radius = model.radius_km(budget_ms, "ftth", "p99")
    dist = haversine_km(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                        sites["lat"].to_numpy()[None, :], sites["lon"].to_numpy()[None, :])
    mask = dist <= radius
    spans = np.array([len(set(doms[mask[i]])) for i in range(len(demand))])
    return coverage_status(spans, k), mask


@pytest.mark.parametrize("seed,k,strategy", [(0, 1, "full"), (1, 2, "full"),
                                             (2, 1, "lazy"), (3, 2, "lazy"),
                                             (4, 1, "components")])
def test_a_plan_failing_whole_domains_counts_its_statuses_in_domains(seed, k, strategy):
    """The statuses of a plan that fails whole domains count domains: a town whose
    candidates in budget all share one domain is ``single`` (one power cut leaves it
    nothing), not ``redundant``; the summary's people by status, the gaps, the service
    class's safe people, Plan.gaps and the proposals' gap points all agree with a dense
    recount by domains; the headline says domains."""
    from coverage.model.latency import LatencyModel
    from coverage.outputs.headline import headline_lines

    rng = np.random.default_rng(seed)
    demand, sites = _places(rng, 60, 24, lat_span=4, lon_span=6)
    sites["failure_domain"] = _city_domains(sites)
    model = LatencyModel.from_profile("on-net")
    budget = 23.0  # (every status present, and towns the two counts tell apart)
    plan = plan_sites(demand, sites, budget_ms=budget, failures=k, model=model,
                      strategy=strategy, kmedian_time_limit_s=5)
    s = plan.summary()
    assert s["domain_failures"]["count_fails"] == "whole failure domains"
    assert s["statuses_by"] == "failure domains"
    doms = sites["failure_domain"].to_numpy()
    want, mask = _domain_status(demand, sites, doms, model, budget, k)
    by_sites = np.where(mask.sum(axis=1) >= k + 1, "redundant", "gap")
    # the instance has towns the two counts tell apart
    assert ((by_sites == "redundant") & (want != "redundant")).any()
    got = plan.assignment.set_index("demand_id")["coverage_status"].reindex(
        demand["demand_id"]).astype(str).to_numpy()
    assert got.tolist() == want.tolist()
    pop = demand["population"].to_numpy()
    for name, key in (("redundant", "redundant"), ("partial", "partial"),
                      ("single", "single_coverable"), ("uncoverable", "uncoverable")):
        assert s[f"population_{key}"] == pytest.approx(pop[want == name].sum())
        assert s[f"n_demand_{key}"] == int((want == name).sum())
    assert s["population_gap"] == pytest.approx(pop[want != "redundant"].sum())
    assert s["n_demand_gap"] == len(plan.gaps) == int((want != "redundant").sum())
    assert s["proposed"]["gap_points"] == s["n_demand_gap"]
    assert s["by_service_class"][0]["population_safe"] == pytest.approx(
        pop[want == "redundant"].sum())
    text = "\n".join(headline_lines(s))
    assert f"short of {k + 1} domains" in text and "in one domain" in text


def test_a_plan_without_domains_keeps_its_statuses_by_sites():
    """Without failure domains (or with a load) the statuses count sites, as before, and
    the summary has no ``statuses_by``."""
    from coverage.model.latency import LatencyModel

    rng = np.random.default_rng(5)
    demand, sites = _places(rng, 40, 15, lat_span=4, lon_span=6)
    model = LatencyModel.from_profile("on-net")
    plan = plan_sites(demand, sites, budget_ms=22.0, failures=1, model=model,
                      kmedian_time_limit_s=5)
    s = plan.summary()
    assert "statuses_by" not in s
    n = plan.assignment.set_index("demand_id")["n_covering_sites"].reindex(demand["demand_id"])
    got = plan.assignment.set_index("demand_id")["coverage_status"].reindex(
        demand["demand_id"]).astype(str)
    assert ((n >= 2) == (got == "redundant")).all()


@pytest.mark.parametrize("max_full_pairs", [3_000_000, 50])
def test_the_sweep_of_a_plan_with_domains_counts_its_short_people_in_domains(max_full_pairs):
    """The budget sweep of a plan failing whole domains counts every budget's short people
    in domains (the plan's own row is the plan's figures), checked by a dense recount at
    each budget, on the reach matrix and by row generation (the chosen sites' domains); a
    budget whose count fell back to single sites (its domains' rows above the limit)
    counts sites, as such a plan does."""
    from coverage.model.latency import LatencyModel
    from coverage.resilience.status import coverage_status

    rng = np.random.default_rng(7)
    demand, sites = _places(rng, 60, 24, lat_span=4, lon_span=6)
    sites["failure_domain"] = _city_domains(sites)
    model = LatencyModel.from_profile("on-net")
    plan = plan_sites(demand, sites, budget_ms=23.0, failures=1, model=model,
                      kmedian_time_limit_s=5).with_sweep(budgets_ms=[22.0, 23.0, 24.0],
                                                         max_full_pairs=max_full_pairs)
    sw = plan.sweep
    doms = sites["failure_domain"].to_numpy()
    pop = demand["population"].to_numpy()
    by_domains = []
    for _, row in sw.iterrows():
        want, mask = _domain_status(demand, sites, doms, model, float(row["budget_ms"]), 1)
        if "(single sites)" in row["method"]:
            want = coverage_status(mask.sum(axis=1), 1)
        else:
            by_domains.append(row["method"])
        assert row["population_short"] == pytest.approx(pop[want != "redundant"].sum())
        assert row["population_single_coverable"] == pytest.approx(pop[want == "single"].sum())
    assert by_domains == (["full"] * 3 if max_full_pairs > 50 else ["lazy", "full"])


def _two_towns():
    """Town ``a`` with two candidates of one domain, town ``b`` with two of two domains."""
    demand = pd.DataFrame({"demand_id": ["a", "b"], "lat": [50.0, 51.0], "lon": [8.0, 8.0],
                           "population": [1000.0, 2000.0]})
    sites = pd.DataFrame({"site_id": ["s1", "s2", "s3", "s4"],
                          "lat": [50.0, 50.05, 51.0, 51.1], "lon": [8.0, 8.05, 8.0, 8.1],
                          "failure_domain": ["A", "A", "B", "C"]})
    return demand, sites


def test_a_max_sites_map_counts_the_chosen_sites_domains():
    """A --max-sites plan's map shows its statuses over the chosen sites; counting
    domains, a town whose two chosen sites share one domain is ``single`` there, not
    ``redundant``; and the legend says so."""
    from coverage.outputs.maps import plan_map
    from coverage.outputs.maps.payload import _status_codes

    demand, sites = _two_towns()
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=1, max_sites=4,
                      kmedian_time_limit_s=5)
    s = plan.summary()
    assert s["statuses_by"] == "failure domains"
    codes, names = _status_codes(plan.demand, by_plan=1, by_domains=True)
    got = dict(zip(plan.demand["demand_id"], np.asarray(names)[codes], strict=True))
    assert got == {"a": "single", "b": "redundant"}
    by_sites, names = _status_codes(plan.demand, by_plan=1)
    assert np.asarray(names)[by_sites].tolist() == ["redundant", "redundant"]
    html = plan_map(plan, tiles=None).get_root().render()
    assert "Status with the chosen sites (people), by failure domain" in html


def test_a_clear_place_outranks_a_location_near_it_that_does_not_reach_the_town():
    """Review 153: a clear place P 80 km from a town inside a dense domain, and a gap
    point Q 20 km beyond P, more populous, whose own location was kept first: P was
    thrown away (within 25 km of Q's location) and the town left short. P reaches the
    town, P and Q: one site there closes every gap."""
    from coverage.model.geo import haversine_km
    from coverage.model.latency import LatencyModel

    km_lat, km_lon = 111.195, 111.195 * np.cos(np.radians(50.0))
    gx, gy = np.meshgrid(np.arange(-4, 5) * 12.0, np.arange(-10, 11) * 12.0)
    sites = pd.DataFrame({"site_id": [f"g{i}" for i in range(gx.size)],
                          "lat": 50.0 + gy.ravel() / km_lat, "lon": 8.0 + gx.ravel() / km_lon})
    demand = pd.DataFrame({"demand_id": ["town", "P", "Q"], "lat": [50.0, 50.0, 50.0],
                           "lon": 8.0 + np.array([0.0, 80.0, 100.0]) / km_lon,
                           "population": [5000.0, 200.0, 1000.0]})
    model = LatencyModel()
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=1, model=model,
                      domain_radius_km=25.0, kmedian_time_limit_s=2, sweep=False)
    p = plan.summary()["proposed"]
    assert (p["gap_points"], p["proposed_sites"], p["gap_points_still_short"]) == (3, 1, 0)
    new = plan.proposed
    d = haversine_km(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                     new["lat"].to_numpy()[None, :], new["lon"].to_numpy()[None, :])
    assert (d <= model.radius_km(30.0, "ftth", "p99")).all()
    clear = haversine_km(new["lat"].to_numpy()[:, None], new["lon"].to_numpy()[:, None],
                         sites["lat"].to_numpy()[None, :], sites["lon"].to_numpy()[None, :])
    assert (clear > 25.0).all()


def test_the_report_and_map_word_statuses_by_domain_in_domains(tmp_path):
    """Review 154: with statuses by failure domain the report's status table and the map's
    legend still said "single: 1 site in budget", beside a town with two candidates; now
    domains, and the gap table shows the chosen sites' domains. The report rebuilt from
    the directory says the same."""
    import re

    from helpers import run

    demand, sites = _two_towns()
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=1, kmedian_time_limit_s=5,
                      sweep=False)
    out = tmp_path / "plan"
    plan.to_dir(out)

    def text(path):
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", path.read_text()))

    report = text(out / "report.html")
    assert "single: 1 domain in budget, short of 2" in report
    assert "exactly one failure domain (all its sites) within budget" in report
    assert "domains of chosen sites in budget" in report
    assert "1 site in budget" not in report
    # tester 189: the gaps section opened with the single sites' definition
    assert "its candidates within budget lie in fewer than 2 failure domains" in report
    assert "fewer than 2 candidates lie within its budget" not in report
    assert "single: 1 domain in budget" in (out / "map.html").read_text()
    r = run("report", out)
    assert r.returncode == 0, r.stderr
    assert text(out / "report.html") == report


def test_a_plan_with_domains_whose_statuses_count_sites_says_so_in_its_sweep():
    """Review 154: a plan with domains whose figures by domain were skipped (its chosen
    sites' pairs above the memory limit) counts its statuses by sites; its own row of the
    sweep said nothing, beside budgets that count domains. Both now say which."""
    from coverage.model.latency import LatencyModel

    rng = np.random.default_rng(1)
    demand, sites = _places(rng, 50, 18, lat_span=4, lon_span=6)
    sites["failure_domain"] = _city_domains(sites)
    plan = plan_sites(demand, sites, budget_ms=23.0, failures=2,
                      model=LatencyModel.from_profile("on-net"), max_memory_gb=2e-6,
                      kmedian_time_limit_s=5).with_sweep(budgets_ms=[23.0, 24.0])
    s = plan.summary()
    assert s["statuses_by"].startswith("single sites")
    own = plan.sweep[plan.sweep["source"] == "plan"]
    assert own["method"].str.endswith("(statuses by single sites)").all() and len(own) == 1


def _domain_instance(seed: int, n: int, m: int):
    """``n`` random points and ``m`` candidates in 4 failure domains (:func:`_places`), the
    on-net model, the points' distances to the candidates (km) and which are within its
    25 ms radius."""
    from coverage.model.geo import haversine_km
    from coverage.model.latency import LatencyModel

    rng = np.random.default_rng(seed)
    demand, sites = _places(rng, n, m, lat_span=4, lon_span=6)
    sites["failure_domain"] = [f"D{d}" for d in rng.integers(0, 4, m)]
    model = LatencyModel.from_profile("on-net")
    radius = model.radius_km(25.0, "ftth", "p99")
    dist = haversine_km(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                        sites["lat"].to_numpy()[None, :], sites["lon"].to_numpy()[None, :])
    return demand, sites, model, dist, dist <= radius


@pytest.mark.parametrize("seed,k", [(0, 2), (9, 2), (6, 1)])
def test_the_domains_rows_are_generated_for_the_points_left_short(seed, k, monkeypatch):
    """The count on the reach matrix adds the domains' rows only of the points its plans
    leave short (tester 174: every point's rows, 31.6M entries on a Mexican N-2 plan,
    took 5.7 GB and left HiGHS no time): fewer rows than all, the same fewest sites as
    the brute force; at the time limit the last round takes every point's rows, so the
    plan still spans every point's domains."""
    from coverage.solvers.domain_rows import domain_codes, domain_rows

    n, m = 14, 9
    demand, sites, model, dist, mask = _domain_instance(seed, n, m)
    doms = sites["failure_domain"].to_numpy()
    need = np.minimum(k + 1, [len(set(doms[mask[i]])) for i in range(n)])
    every = domain_rows(sp.csr_array(mask.astype(np.int8)), domain_codes(doms), k)
    fewest = _fewest_spanning(mask, doms, k)
    from coverage.planner import stages

    # the time limit, or the rounds, cut short: the plan so far kept open, the sites its
    # short points need added (review 156: all rows in the time left gave a greedy plan)
    for limit, rounds in ((60.0, 12), (1e-6, 12), (60.0, 1)):
        monkeypatch.setattr(stages, "DOMAIN_ROUNDS", rounds)
        plan = plan_sites(demand, sites, budget_ms=25.0, failures=k, model=model,
                          kmedian_time_limit_s=5, time_limit_s=limit)
        s = plan.summary()
        red = s["reductions"]
        chosen = sites["site_id"].isin(plan.sites["site_id"]).to_numpy()
        got = [len(set(doms[chosen & mask[i]])) for i in range(n)]
        assert (np.asarray(got) >= need).all()
        assert s["lower_bound"] <= fewest <= len(plan.sites)
        assert (s["status"] == "optimal") == (s["lower_bound"] == len(plan.sites))
        if limit > 1 and rounds > 1:
            assert len(plan.sites) == fewest
            assert red["domain_rounds"] >= 2  # the first plan left points short
            assert 0 < red["domain_rows"] <= every.matrix.shape[0]
        placed = s["kmedian_status"]
        if placed != "skipped (no time)":
            assert np.isfinite(s["kmedian_objective_ms_pop"])


def test_a_placement_that_keeps_the_counts_plan_reports_its_figures(monkeypatch):
    """When the placed plans still leave a point short of its domains at the end of the
    rounds, the count's plan is kept (kept_cover) with its objective (the people's p50
    latency to their primary site, recounted from the assignment) and the rounds' bound
    (review 156: both were NaN)."""
    from coverage.model.latency import LatencyModel
    from coverage.planner import stages

    monkeypatch.setattr(stages, "DOMAIN_ROUNDS", 1)
    rng = np.random.default_rng(4)
    demand, sites = _places(rng, 14, 9, lat_span=4, lon_span=6)
    sites["failure_domain"] = [f"D{d}" for d in rng.integers(0, 4, 9)]
    plan = plan_sites(demand, sites, budget_ms=25.0, failures=1,
                      model=LatencyModel.from_profile("on-net"), kmedian_time_limit_s=5)
    s = plan.summary()
    assert s["kmedian_status"] == "kept_cover"
    a = plan.assignment
    served = a["primary_site_id"].notna()
    own = float((a.loc[served, "population"] * a.loc[served, "primary_p50_ms"]).sum())
    assert s["kmedian_objective_ms_pop"] == pytest.approx(own)
    assert 0 < s["kmedian_lower_bound_ms_pop"] <= own


def test_a_p_center_with_domains_names_the_real_fix(caplog):
    """Tester 186: a --max-sites p-center with failure domains said its objective "puts in
    k + 1 domains the most people its sites can" (max-cover's) and told users to raise
    --max-sites; the p-center gives every point min(k + 1, its domains in budget)
    domains, so those short have their candidates in one domain: the fix is candidates
    in other domains."""
    demand = pd.DataFrame({"demand_id": ["a", "b", "lone"], "lat": [50.0, 50.1, 52.5],
                           "lon": [8.0, 8.1, 13.4], "population": [1000.0, 2000.0, 500.0]})
    sites = pd.DataFrame({"site_id": ["s1", "s2", "s3", "l1", "l2"],
                          "lat": [50.0, 50.1, 50.4, 52.5, 52.51],
                          "lon": [8.0, 8.1, 8.4, 13.4, 13.41],
                          "failure_domain": ["A", "A", "B", "L", "L"]})
    with caplog.at_level("WARNING"):
        plan = plan_sites(demand, sites, budget_ms=30.0, failures=1, max_sites=4,
                          objective="p-center", kmedian_time_limit_s=5)
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "puts in k + 1 domains the most people" not in text
    assert "p-center objective gives every point chosen sites in min(k + 1" in text
    assert plan.summary()["population_safe_by_domain_failures"]["N-1"] == 3000.0


@pytest.mark.parametrize("seed,pairs", [(0, 20_000), (4, 20_000), (6, 0), (9, 0), (25, 0),
                                        (25, 20_000)])
def test_the_placement_by_domains_is_the_brute_forces(seed, pairs, monkeypatch):
    """The placement with failure domains (rounds of searches from the count's plan and
    from the last round's, repaired, with their MILPs when small; with ``pairs`` 0 the
    larger MILP once a round's plan meets every point's domains) is the brute force's
    least population-weighted p50 latency over every plan of the count's size that spans
    every point's domains, and its bound is at most that optimum. Review 163: on seed 25
    that MILP's plan was cheaper and left points short; the round's plan was returned as
    "optimal", 1.2 % above the optimum."""
    from coverage.planner import stages

    monkeypatch.setattr(stages, "DOMAIN_ROUND_MILP_PAIRS", pairs)
    n, m, k = 14, 9, 1
    demand, sites, model, dist, mask = _domain_instance(seed, n, m)
    p50 = np.where(mask, model.p50_ms(dist), np.inf)
    doms = sites["failure_domain"].to_numpy()
    pop = demand["population"].to_numpy()
    plan = plan_sites(demand, sites, budget_ms=25.0, failures=k, model=model,
                      kmedian_time_limit_s=20, kmedian_gap_pct=0.0)
    s = plan.summary()
    size = len(plan.sites)
    best = np.inf
    for combo in itertools.combinations(range(m), size):
        on = np.zeros(m, dtype=bool)
        on[list(combo)] = True
        if all((on & mask[i]).sum() >= min(k + 1, mask[i].sum())
               and len(set(doms[on & mask[i]])) >= min(k + 1, len(set(doms[mask[i]])))
               for i in range(n)):
            near = p50[:, on].min(axis=1)
            best = min(best, float(np.dot(pop[np.isfinite(near)], near[np.isfinite(near)])))
    assert s["kmedian_status"] == "optimal"
    assert s["kmedian_objective_ms_pop"] == pytest.approx(best, rel=1e-6)
    assert s["kmedian_lower_bound_ms_pop"] <= best * (1 + 1e-6)
