"""``--max-sites P`` (issue 14 parts 5 and 6): the best P sites, checked by brute force.

Expected values never come from the library's solvers or reach matrix: the reach and the
p99 latencies are computed here (own haversine + :meth:`LatencyModel.p99_ms`, the model's
formula), and the optima come from every P-subset of the candidates:

* max-cover: the most population with a chosen site within budget, then, among the subsets
  reaching it, the most population with ``max(k, 1) + 1`` chosen sites within budget;
* p-center: the least, over the subsets that keep every point with a candidate in budget
  within it (``min(k + 1, |N_i|)`` chosen sites within budget), of the largest latency from
  a point to its ``min(k + 1, |N_i|)``-th nearest chosen site.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from helpers import ON_NET, run

from coverage import NoFeasiblePlanError, plan_sites
from coverage.errors import InputValidationError

EARTH_KM = 6371.0088
BUDGET_MS = 23.0  # on-net FTTH p99: 21.3 ms at distance 0, a radius of about 116 km


def haversine(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def own_latency(demand: pd.DataFrame, sites: pd.DataFrame, margin_ms: float = 1e-3):
    """(n, m) p99 latency, +inf beyond the budget; refuses a pair within ``margin_ms`` of
    the budget (float32 latencies could round either way)."""
    d = haversine(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                  sites["lat"].to_numpy()[None, :], sites["lon"].to_numpy()[None, :])
    lat = ON_NET.p99_ms(d, "ftth")
    if np.any(np.abs(lat - BUDGET_MS) < margin_ms):
        return None
    return np.where(lat <= BUDGET_MS, lat, np.inf)


def instance(seed: int, n: int = 14, m: int = 7, required: bool = False):
    """Random demand and candidates in a 3 x 3 degree box (some pairs in budget, some
    points with none), with an unambiguous reach."""
    rng = np.random.default_rng(seed)
    while True:
        demand = pd.DataFrame({
            "demand_id": [f"d{i}" for i in range(n)],
            "lat": 44.0 + 3.0 * rng.random(n), "lon": -101.0 + 3.0 * rng.random(n),
            "population": rng.integers(1, 1000, n).astype(float)})
        sites = pd.DataFrame({
            "site_id": [f"s{j}" for j in range(m)],
            "lat": 44.0 + 3.0 * rng.random(m), "lon": -101.0 + 3.0 * rng.random(m)})
        if required:
            sites["required"] = [j == 0 for j in range(m)]
        lat = own_latency(demand, sites)
        if lat is not None:
            return demand, sites, lat


def subsets(m: int, p: int, required: bool):
    for s in itertools.combinations(range(m), p):
        if not required or 0 in s:
            yield list(s)


def brute_max_cover(lat, pop, p, k, required=False):
    best = None
    for s in subsets(lat.shape[1], p, required):
        have = np.isfinite(lat[:, s]).sum(axis=1)
        value = (pop[have >= 1].sum(), pop[have >= max(k, 1) + 1].sum())
        best = value if best is None or value > best else best
    return best


def worst_latency(lat, s, k):
    """Largest latency of a coverable point to its min(k+1, |N_i|)-th nearest chosen site
    within budget; inf when a coverable point has fewer chosen sites within budget."""
    n_cov = np.isfinite(lat).sum(axis=1)
    worst = 0.0
    for i in np.flatnonzero(n_cov > 0):
        need = min(k + 1, int(n_cov[i]))
        got = np.sort(lat[i, s])
        if len(got) < need or not np.isfinite(got[need - 1]):
            return np.inf
        worst = max(worst, float(got[need - 1]))
    return worst


def brute_p_center(lat, p, k, required=False):
    return min(worst_latency(lat, s, k) for s in subsets(lat.shape[1], p, required))


def plan(demand, sites, **kw):
    return plan_sites(demand, sites, budget_ms=BUDGET_MS, model=ON_NET, strategy="full",
                      **kw)


# --------------------------------------------------------------------------- max-cover


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("k", [0, 1])
def test_max_cover_is_the_best_p_subset_then_the_most_n1_safe(seed, k):
    required = seed % 3 == 2
    demand, sites, lat = instance(seed, required=required)
    pop = demand["population"].to_numpy()
    n_cov = np.isfinite(lat).sum(axis=1)
    for p in (1, 2, 3):
        best = brute_max_cover(lat, pop, p, k, required)
        s = plan(demand, sites, failures=k, max_sites=p).summary()
        assert s["objective"] == "max_cover" and s["status"] == "optimal"
        assert s["site_count"] == s["max_sites"] == p
        assert s["objective_value"] == pytest.approx(best[0])
        assert s["population_covered"] == pytest.approx(best[0])
        assert s["upper_bound"] == pytest.approx(best[0])
        assert s["secondary_value"] == pytest.approx(best[1])
        assert s["secondary_failures"] == max(k, 1)
        assert s["population_coverable"] == pytest.approx(pop[n_cov >= 1].sum())
        assert s["population_uncoverable"] == pytest.approx(pop[n_cov == 0].sum())
        assert s["kmedian_status"].startswith("skipped")


def test_max_cover_plan_tables_follow_the_chosen_sites():
    demand, sites, lat = instance(3, required=True)
    pop = demand["population"].to_numpy()
    res = plan(demand, sites, failures=1, max_sites=3)
    s = res.summary()
    chosen = sites.index[sites["site_id"].isin(res.sites["site_id"])].to_numpy()
    assert len(res.sites) == 3 and "s0" in set(res.sites["site_id"])  # required stays open
    assert res.candidates["chosen"].sum() == 3
    have = np.isfinite(lat[:, chosen]).sum(axis=1)
    # the summary's figures are those of the chosen sites, computed here
    assert s["population_covered"] == pytest.approx(pop[have >= 1].sum())
    assert s["population_n1_safe"] == pytest.approx(pop[have >= 2].sum())
    assert s["population_outside_budget"] == pytest.approx(pop[have == 0].sum())
    assert s["population_safe_by_failures"] == pytest.approx(
        {"N-0": pop[have >= 1].sum(), "N-1": pop[have >= 2].sum()})
    # assignment: a primary site exactly for the points with a chosen site in budget, and
    # its latency is the nearest chosen one's
    served = res.assignment["primary_site_id"].notna().to_numpy()
    assert np.array_equal(served, have >= 1)
    near = np.min(lat[:, chosen], axis=1)
    got = res.assignment["primary_latency_ms"].to_numpy()
    assert np.allclose(got[served], near[served], rtol=1e-5)
    # one failure row per chosen site
    assert sorted(res.failures["failed_site_id"]) == sorted(res.sites["site_id"])


def test_proposals_still_short_count_the_chosen_sites_not_every_candidate():
    """``proposed.gap_points_still_short`` / ``population_still_short``: gap points (fewer
    than ``k + 1`` candidates in budget) that have fewer than ``k + 1`` sites in budget with
    the plan's chosen sites plus the proposed ones. A --max-sites plan leaves candidates
    closed, so counting every candidate (the old figure) said 0 where a gap point whose only
    candidate is closed keeps one proposal and stays short. The reach of the chosen and of
    the proposed sites is computed here (own haversine, the model's p99 formula)."""
    differs = 0
    for seed, k, p in itertools.product((1, 2, 3), (1, 2), (1, 2, None)):
        demand, sites, lat = instance(seed)
        pop = demand["population"].to_numpy()
        n_cov = np.isfinite(lat).sum(axis=1)
        res = plan(demand, sites, failures=k, max_sites=p)
        s = res.summary()["proposed"]
        chosen = sites.index[sites["site_id"].isin(res.sites["site_id"])].to_numpy()
        prop = res.proposed
        d = haversine(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                      prop["lat"].to_numpy()[None, :], prop["lon"].to_numpy()[None, :])
        p99 = ON_NET.p99_ms(d, "ftth")
        # an unambiguous reach: a crossing lies 1 m (about 1e-5 ms) inside two budgets
        assert not np.any(np.abs(p99 - BUDGET_MS) < 1e-8)
        n_prop = (p99 <= BUDGET_MS).sum(axis=1)
        gap = n_cov < k + 1
        short = gap & (np.isfinite(lat[:, chosen]).sum(axis=1) + n_prop < k + 1)
        assert s["gap_points"] == gap.sum()
        assert s["gap_points_still_short"] == short.sum(), (seed, k, p)
        assert s["population_still_short"] == pytest.approx(pop[short].sum())
        # all candidates open + proposals: what the figure said before, and still says
        # for a fewest-sites plan (it opens every candidate of a gap point)
        all_open = gap & (n_cov + n_prop < k + 1)
        if p is None:
            assert np.array_equal(short, all_open)
        # a gap point whose candidate the plan leaves closed: still short, or given more
        # sites by the repair cover after the main one (which counts the chosen sites:
        # counting every candidate, it would see nothing to repair)
        differs += int(short.sum() != all_open.sum() or s["status"] == "repaired")
    assert differs  # some max-sites plan here leaves a gap point's candidate closed


def expected_plan_status(have, n_cov, k):
    """Status over the chosen sites, from this file's own reach: ``have`` chosen sites in
    budget, ``n_cov`` candidates."""
    return np.select(
        [(have == 0) & (n_cov == 0), have == 0, have >= k + 1, have == 1],
        ["uncoverable", "unserved", "redundant", "single"], default="partial")


@pytest.mark.parametrize("k", [0, 1, 2])
def test_the_map_of_a_max_sites_plan_shows_the_chosen_sites_status(tmp_path, k):
    """The map's status layer, gap flags, legend counts of a --max-sites plan count the
    chosen sites in budget (own reach), not the candidates: it said "redundant: N-1 safe"
    for people the capped plan leaves outside budget."""
    pytest.importorskip("folium")
    from coverage.outputs.maps import plan_map, save_map
    from coverage.resilience.status import status_label

    unserved_seen = 0
    for seed in (1, 2, 3):
        demand, sites, lat = instance(seed)
        pop = demand["population"].to_numpy()
        n_cov = np.isfinite(lat).sum(axis=1)
        res = plan(demand, sites, failures=k, max_sites=2)
        chosen = sites.index[sites["site_id"].isin(res.sites["site_id"])].to_numpy()
        have = np.isfinite(lat[:, chosen]).sum(axis=1)
        want = expected_plan_status(have, n_cov, k)
        path = save_map(plan_map(res, tiles=None, aggregate="none"), tmp_path / f"{seed}.html")
        text = path.read_text(encoding="utf-8")
        start = text.index("= covmap(") + len("= covmap(")
        data, _ = json.JSONDecoder().raw_decode(text[start:])
        names = data["config"]["statusNames"]
        # units are drawn largest population first (stable)
        order = np.argsort(-pop, kind="stable")
        got = [names[c] for c in data["units"]["st"]]
        assert got == [status_label(s, k) for s in want[order]], seed
        assert data["units"]["gap"] == (want[order] != "redundant").astype(int).tolist()
        legend = text[text.index("Status with the chosen sites (people)"):]
        outside = pop[want == "unserved"].sum()
        assert f"{status_label('unserved', k)}: {outside:,.0f}" in legend
        unserved_seen += int((want == "unserved").any())
        # the candidates' status is still what assignment.csv says
        assert (res.assignment["coverage_status"].to_numpy() == "redundant").sum() >= (
            want == "redundant").sum()
    assert unserved_seen  # some plan here leaves a reachable point outside budget


# --------------------------------------------------------------------------- p-center


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("k", [0, 1, 2])
def test_p_center_is_the_best_p_subset(seed, k):
    required = seed % 3 == 2
    demand, sites, lat = instance(100 + seed, n=10, m=6, required=required)
    pop = demand["population"].to_numpy()
    checked = 0
    for p in range(1, 7):
        best = brute_p_center(lat, p, k, required)
        if not np.isfinite(best):  # no P sites keep every coverable point within budget
            with pytest.raises(NoFeasiblePlanError, match="--max-sites"):
                plan(demand, sites, failures=k, max_sites=p, objective="p-center")
            continue
        res = plan(demand, sites, failures=k, max_sites=p, objective="p-center")
        s = res.summary()
        assert s["objective"] == "p_center" and s["status"] == "optimal"
        assert s["site_count"] == p
        # float64 figures (they were the solver's float32 latencies, 1e-6 ms below the
        # plan's own worst, which summary.json's N-1 figure then contradicted)
        assert s["worst_latency_ms"] == pytest.approx(best, rel=1e-12)
        assert s["objective_value"] == s["worst_latency_ms"] == s["upper_bound"]
        assert s["lower_bound"] == pytest.approx(best, rel=1e-12)
        chosen = sites.index[sites["site_id"].isin(res.sites["site_id"])].to_numpy()
        assert worst_latency(lat, chosen, k) == pytest.approx(best, rel=1e-5)
        # every point with a candidate in budget is served; the others are reported
        n_cov = np.isfinite(lat).sum(axis=1)
        assert s["population_covered"] == pytest.approx(pop[n_cov >= 1].sum())
        assert s["population_outside_budget"] == pytest.approx(pop[n_cov == 0].sum())
        assert s["population_uncoverable"] == pytest.approx(pop[n_cov == 0].sum())
        checked += 1
    assert checked  # p = 6 opens every candidate


# --------------------------------------------------------------------------- refusals


def test_bad_combinations_refused_before_any_work():
    demand, sites, _ = instance(0)
    with pytest.raises(InputValidationError, match=r"needs max_sites \(--max-sites P\)"):
        plan(demand, sites, objective="p-center")
    with pytest.raises(InputValidationError, match="exclude each other"):
        plan(demand, sites, objective="fewest", max_sites=2)
    with pytest.raises(InputValidationError, match=r"max_sites \(--max-sites\) must be"):
        plan(demand, sites, max_sites=0)
    with pytest.raises(InputValidationError, match="more than the 7 candidate sites"):
        plan(demand, sites, max_sites=8)
    with pytest.raises(InputValidationError, match="row generation"):
        plan_sites(demand, sites, budget_ms=BUDGET_MS, model=ON_NET, strategy="lazy",
                   max_sites=2)
    with pytest.raises(InputValidationError, match="capacitated"):
        plan(demand, sites, max_sites=2, requests_per_person_day=10)
    with pytest.raises(InputValidationError, match="capacitated"):
        plan(demand.assign(load_rps=1.0), sites.assign(capacity_rps=100.0), max_sites=2)
    req = sites.assign(required=[True, True, True, False, False, False, False])
    with pytest.raises(InputValidationError, match="fewer than the 3 required sites"):
        plan(demand, req, max_sites=2)


def test_default_objective_is_still_the_fewest_sites():
    demand, sites, _ = instance(1)
    s = plan(demand, sites).summary()
    assert s["objective"] == "count" and "max_sites" not in s
    assert s["parameters"]["objective_requested"] == "auto"
    assert s["parameters"]["max_sites"] is None


# --------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    demand, sites, _ = instance(5)
    d = tmp_path_factory.mktemp("ms")
    demand.to_csv(d / "demand.csv", index=False)
    sites.to_csv(d / "sites.csv", index=False)
    return d / "demand.csv", d / "sites.csv"


def cli(files, out, *args):
    return run("plan", "--demand", files[0], "--candidates", files[1], "--budget-ms",
               BUDGET_MS, "--latency-model", "on-net", "--out", out, "--tiles", "none",
               *args)


def test_cli_max_sites_reaches_the_summary(tmp_path, files):
    out = tmp_path / "o"
    r = cli(files, out, "--max-sites", 2, "--no-report", "--no-gis")
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert (s["objective"], s["site_count"], s["max_sites"]) == ("max_cover", 2, 2)
    assert s["parameters"]["max_sites"] == 2
    assert len(pd.read_csv(out / "sites.csv")) == 2
    assert "best 2: most people within budget" in r.stdout + r.stderr
    out = tmp_path / "c"
    r = cli(files, out, "--max-sites", 7, "--objective", "p-center", "--failures", 0)
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["objective"] == "p_center" and s["worst_latency_ms"] > 0
    assert (out / "report.html").is_file() and (out / "map.html").is_file()
    html = (out / "report.html").read_text()
    assert "Plan at a glance" in html
    # the coverage table counts candidates: its title, header and outcomes say so
    assert "number of candidate sites within budget (not the chosen ones)" in html
    assert "<th>candidate sites within budget</th>" in html


@pytest.mark.parametrize(("args", "phrase"), [
    (["--objective", "p-center"], "needs max_sites (--max-sites P)"),
    (["--max-sites", 2, "--objective", "fewest"], "exclude each other"),
    (["--max-sites", 2, "--requests-per-person-day", 5], "capacitated"),
    (["--max-sites", 2, "--strategy", "lazy"], "row generation"),
    (["--max-sites", 0], "--max-sites"),
    (["--max-sites", 50], "more than the 7 candidate sites"),
])
def test_cli_bad_combinations_exit_2(tmp_path, files, args, phrase):
    out = tmp_path / "o"
    r = cli(files, out, *args)
    assert r.returncode == 2, r.stderr
    assert phrase in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_cli_p_center_too_few_sites_exit_3(tmp_path, files):
    _, _, lat = instance(5)
    assert not np.isfinite(brute_p_center(lat, 1, 1))  # one site cannot do it
    out = tmp_path / "o"
    r = cli(files, out, "--max-sites", 1, "--objective", "p-center", "--failures", 1)
    assert r.returncode == 3, r.stderr
    assert "--max-sites" in r.stderr and "Traceback" not in r.stderr


def test_sweep_of_a_max_sites_plan_solves_the_fewest_at_its_budget():
    demand, sites, _ = instance(2)
    fewest = plan(demand, sites, failures=1).summary()["site_count"]
    res = plan(demand, sites, failures=1, max_sites=1).with_sweep([40.0], time_limit_s=5)
    row = res.sweep[res.sweep["budget_ms"] == BUDGET_MS].iloc[0]
    assert int(row["site_count"]) == fewest and row["source"] != "plan"


def test_sweep_total_time_still_solves_a_max_sites_plans_budget():
    """With the sweep's time already up, a --max-sites plan's own budget is still solved
    (the fewest sites to compare with); the other budgets are not_run."""
    demand, sites, _ = instance(2)
    fewest = plan(demand, sites, failures=1).summary()["site_count"]
    res = plan(demand, sites, failures=1, max_sites=1).with_sweep(
        [20.0, 40.0, 60.0], time_limit_s=5, total_time_s=1e-9)
    by = res.sweep.set_index("budget_ms")
    assert int(by.loc[BUDGET_MS, "site_count"]) == fewest
    assert by.loc[60.0, "status"] == "not_run"


@pytest.mark.parametrize("big,tiny", [(3e5, 1e-4), (1.2e7, 0.01), (7e7, 0.05), (7e8, 1.0),
                                      (3e8, 1e-4), (1e8, 1e-5), (5e7, 1e-6)])
def test_a_light_row_beside_heavy_ones_keeps_the_lexicographic_optimum(big, tiny):
    """Tester 100: a cell of 1e-4 people beside cells of 3e5 (or 1 beside 7e8) fell under
    HiGHS's tolerances; level 2's plan dropped it, was rightly refused, and the first plan
    came back as "optimal" with its own value as the bound (half the N-1 safe people of
    the optimum). Checked against every plan of 3 of the 4 sites."""
    import itertools

    from coverage.solvers.maxcover import max_cover_lexicographic

    # rows a, b, c; columns s0, s1, s2, s4 of the tester's instance
    reach = np.array([[0, 1, 0, 0], [1, 0, 0, 1], [1, 0, 1, 1]], dtype=bool)
    w = np.array([tiny, big, big])

    def levels(cols):
        n = reach[:, list(cols)].sum(axis=1)
        return float(w[n >= 1].sum()), float(w[(n >= 2) & (reach.sum(axis=1) >= 2)].sum())

    best = max(levels(c) for c in itertools.combinations(range(4), 3))
    res = max_cover_lexicographic(reach, 3, w, failures=1, time_limit_s=20)
    assert levels(res.sites) == best
    assert res.secondary == pytest.approx(best[1])
    assert res.secondary_upper_bound >= best[1] * (1 - 1e-9)
    if res.status == "optimal":
        assert res.secondary_upper_bound == pytest.approx(best[1])


@pytest.mark.parametrize("reach,w,p", [
    # reviewer 101, B: level 2 scaled by level 1's heaviest row vanished under HiGHS's gap
    ([[0, 0, 1, 0, 1], [0, 0, 0, 0, 0], [1, 1, 0, 1, 1], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]],
     [0.0632, 0.0073, 7.1e-6, 4e8, 3.4e-6], 3),
    # C: holding the first plan's light rows, not their total, ruled out the optimum
    ([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1],
      [1, 0, 0, 0, 1]], [1e8, 1e8, 2e-3, 1e-3, 1e-3, 5e7], 4)])
def test_lexicographic_max_cover_against_every_plan(reach, w, p):
    """Reviewer 101's instances: the plan is the lexicographic optimum of every plan of p
    sites, compared on the rows where two plans differ (exact where totals round)."""
    import itertools

    from coverage.solvers.maxcover import max_cover_lexicographic

    reach, w = np.array(reach, dtype=bool), np.array(w)
    size = reach.sum(axis=1)

    def levels(cols):
        n = reach[:, list(cols)].sum(axis=1)
        return n >= 1, (n >= 2) & (size >= 2)

    def better(a, b):  # plan a lexicographically above plan b, on the differing rows
        (a1, a2), (b1, b2) = levels(a), levels(b)
        d1 = w[a1 & ~b1].sum() - w[b1 & ~a1].sum()
        d2 = w[a2 & ~b2].sum() - w[b2 & ~a2].sum()
        return d1 > 0 or (d1 == 0 and d2 > 0)

    res = max_cover_lexicographic(reach, p, w, failures=1, time_limit_s=20)
    plans = list(itertools.combinations(range(reach.shape[1]), p))
    assert not any(better(c, tuple(res.sites)) for c in plans), res.sites


def test_a_second_objective_no_plan_can_meet_is_named(caplog):
    """Tester 174: --max-sites 2 --failures 2 ran without a word, though no point can
    have 3 chosen sites: its second objective is 0 for every plan."""
    demand, sites, _ = instance(3)
    plan(demand, sites, max_sites=2, failures=2)
    assert ("--max-sites 2 with --failures 2: no point can have 3 chosen sites within "
            "budget") in caplog.text
    caplog.clear()
    plan(demand, sites, max_sites=3, failures=2)
    assert "no point can have" not in caplog.text


def test_a_point_outside_budget_says_how_far_outside(seed=5):
    """Tester 174: a point with no chosen site within budget had no latency at all in
    assignment.csv; outside_latency_ms is its latency to its nearest chosen site (our
    own haversine), empty for the points served."""
    demand, sites, _ = instance(seed)
    d = haversine(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                  sites["lat"].to_numpy()[None, :], sites["lon"].to_numpy()[None, :])
    lat = ON_NET.p99_ms(d, "ftth")  # every pair, in budget or not
    p = plan(demand, sites, max_sites=2, failures=1)
    a = p.assignment.set_index("demand_id").loc[demand["demand_id"]]
    cols = sites["site_id"].isin(p.sites["site_id"]).to_numpy()
    nearest = lat[:, cols].min(axis=1)
    served = a["primary_site_id"].notna().to_numpy()
    assert (~served).any() and served.any()
    got = a["outside_latency_ms"].to_numpy(dtype=float)
    assert np.allclose(got[~served], nearest[~served], atol=1e-6)
    assert (got[~served] > BUDGET_MS).all() and np.isnan(got[served]).all()
