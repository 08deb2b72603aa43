"""The single worst set of k simultaneous failures, against brute force over every set."""

from __future__ import annotations

import html
import itertools
import json
import re

import numpy as np
import pytest
from test_capacity import haversine  # the suite's independent great-circle distance

import coverage
from coverage.inputs.geonames import geonames_candidates, geonames_demand
from coverage.model.latency import LatencyModel
from coverage.outputs.headline import headline_lines
from coverage.outputs.plandir import _summary_problems, write_plan
from coverage.resilience import worst_set as worst_set_module
from coverage.resilience.worst_set import worst_failure_set


def brute(within_all: np.ndarray, pop: np.ndarray, k: int) -> tuple[float, set]:
    """Damage of every set of k of the m sites: people with a site within budget and none
    left within budget once the set fails."""
    m = within_all.shape[1]
    has = within_all.any(axis=1)
    best, arg = -1.0, None
    for f in itertools.combinations(range(m), min(k, m)):
        alive = np.ones(m, dtype=bool)
        alive[list(f)] = False
        out = has & ~within_all[:, alive].any(axis=1)
        val = float(pop[out].sum())
        if val > best:
            best, arg = val, set(f)
    return best, arg


def damage(within_all, pop, failed) -> float:
    alive = np.ones(within_all.shape[1], dtype=bool)
    alive[list(failed)] = False
    has = within_all.any(axis=1)
    return float(pop[has & ~within_all[:, alive].any(axis=1)].sum())


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_worst_set_equals_brute_force_on_random_plans(seed, k):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(5, 60)), int(rng.integers(2, 9))
    # latency of every user to every site; within budget below 1
    lat = rng.uniform(0.2, 2.0, size=(n, m)) * rng.choice([1.0, 3.0], size=(n, 1))
    within_all = lat <= 1.0
    pop = rng.integers(0, 1000, size=n).astype(float)
    depth = min(k + 1, m)
    near = np.argsort(lat, axis=1, kind="stable")[:, :depth]
    within = np.take_along_axis(within_all, near, axis=1)
    w = worst_failure_set(near, within, pop, k)
    expect, _ = brute(within_all, pop, k)
    assert w.status == "optimal"
    assert w.population == pytest.approx(expect)
    assert w.upper_bound == pytest.approx(expect)
    assert len(w.sites) <= k and len(set(w.sites.tolist())) == len(w.sites)
    # the set it names does that damage (padded to k sites with any others)
    assert damage(within_all, pop, w.sites.tolist()) == pytest.approx(expect)


@pytest.mark.parametrize("k", [2, 3])
def test_sites_within_budget_need_not_come_first(k):
    """With tiers a nearer site by distance can be outside budget and a later one inside:
    the sets are read from every column, not the first k."""
    rng = np.random.default_rng(k)
    n, m = 40, 6
    within_all = rng.random((n, m)) < 0.35
    pop = rng.integers(1, 50, size=n).astype(float)
    near = np.stack([rng.permutation(m)[:k + 1] for _ in range(n)])
    within = np.take_along_axis(within_all, near, axis=1)
    # the brute force sees only the k + 1 sites each user was given
    seen = np.zeros((n, m), dtype=bool)
    np.put_along_axis(seen, near, within, axis=1)
    # users with more than k sites within budget among those never count: give them all
    many = within.sum(axis=1) > k
    seen[many] = True
    w = worst_failure_set(near, within, pop, k)
    expect, _ = brute(seen, pop, k)
    assert w.population == pytest.approx(expect)
    assert damage(seen, pop, w.sites.tolist()) == pytest.approx(expect)


@pytest.mark.parametrize("seed", range(40))
def test_three_failures_by_enumeration_equal_brute_force(seed):
    """k = 3 is enumerated (held triples, held pairs with each site sharing a pair, held
    pairs with the best single-site site, the three largest single-site totals): against
    every set of three, on plans with up to 15 sites, hubs and dense or sparse reach."""
    rng = np.random.default_rng(1000 + seed)
    n, m = int(rng.integers(5, 300)), int(rng.integers(4, 16))
    within_all = rng.random((n, m)) < rng.uniform(0.05, 0.6)
    if seed % 3 == 0:  # a hub: one site within budget of half the users
        within_all[:, int(rng.integers(m))] |= rng.random(n) < 0.5
    pop = rng.integers(0, 1000, size=n).astype(float)
    near = np.tile(np.arange(m), (n, 1))
    w = worst_failure_set(near, within_all, pop, 3)
    expect, _ = brute(within_all, pop, 3)
    assert w.status == "optimal" and w.method == "enumeration"
    assert w.population == pytest.approx(expect) and w.upper_bound == pytest.approx(expect)
    assert len(w.sites) <= 3
    assert damage(within_all, pop, w.sites.tolist()) == pytest.approx(expect)


@pytest.mark.parametrize("k", [2, 3])
def test_three_failures_match_the_proven_milp_and_repeated_sites_count_once(k):
    """20,000 users x 30 sites, each user's list drawn with repeats (a site listed twice is
    one site of its set): the enumeration equals the MILP run to optimality (no time limit
    that matters: it proves in seconds) and a hand count."""
    rng = np.random.default_rng(7)
    n, m = 20_000, 30
    near = rng.integers(0, m, size=(n, 5))
    within = np.cumprod(rng.random((n, 5)) < 0.35, axis=1).astype(bool)
    pop = rng.integers(1, 100, size=n).astype(float)
    w = worst_failure_set(near, within, pop, k)
    assert w.method == "enumeration" and w.status == "optimal"
    ws = worst_set_module
    groups, people = ws._sets_by_group(near, within, pop, k)
    mm = ws._milp(groups, people, np.unique(groups[groups >= 0]), k, 3600.0, 0.0)
    assert mm.status == "optimal"
    assert w.population == pytest.approx(mm.population)
    held = [set(near[i, within[i]].tolist()) for i in np.flatnonzero(within[:, 0])]
    failed = set(w.sites.tolist())
    hand = sum(p for s, p in zip(held, pop[within[:, 0]], strict=True)
               if len(s) <= k and s <= failed)
    assert w.population == pytest.approx(hand)


def test_a_time_limited_milp_reports_a_set_and_a_bound():
    rng = np.random.default_rng(5)
    n, m, k = 4000, 120, 5  # k >= 4: the MILP
    lat = rng.uniform(0.0, 1.0, size=(n, m))
    near = np.argsort(lat, axis=1)[:, :k + 1]
    within = rng.random((n, k + 1)) < 0.5
    within = np.cumprod(within, axis=1).astype(bool)  # a prefix, as from a latency order
    pop = rng.integers(1, 100, size=n).astype(float)
    w = worst_failure_set(near, within, pop, k, time_limit_s=0.2)
    assert w.status in ("optimal", "time_limit") and w.method == "milp"
    assert w.population <= w.upper_bound + 1e-9
    assert len(w.sites) <= k
    # recount the named set's damage by hand
    held = [set(near[i, within[i]].tolist()) for i in range(n)]
    failed = set(w.sites.tolist())
    hand = sum(p for s, p in zip(held, pop, strict=True)
               if 1 <= len(s) <= k and s <= failed)
    assert w.population == pytest.approx(hand)


@pytest.mark.parametrize("k", [2, 3])
def test_a_plan_names_its_worst_failure_set_and_an_independent_count_agrees(k, tmp_path):
    demand = geonames_demand("PT", 5_000)
    sites = geonames_candidates("PT", 20_000)
    plan = coverage.plan_sites(demand, sites, budget_ms=30, failures=k,
                               kmedian_time_limit_s=5)
    s = plan.summary()
    # independent: great-circle distances and the latency model, every chosen site
    model = LatencyModel()
    chosen = plan.sites
    d = haversine(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                  chosen["lat"].to_numpy()[None, :], chosen["lon"].to_numpy()[None, :])
    within_all = model.p99_ms(d, "ftth") <= 30.0 + 1e-9
    pop = demand["population"].to_numpy(float)
    expect, _ = brute(within_all, pop, k)
    ids = chosen["site_id"].astype(str).tolist()
    named = [ids.index(x) for x in s["nk_worst_set_site_ids"]]
    assert s["nk_worst_set_status"] == "optimal"
    assert s["nk_worst_set_population_outside_budget"] == pytest.approx(expect)
    assert damage(within_all, pop, named) == pytest.approx(expect)
    # one scenario never pushes out more than the union over every user's worst scenario
    assert expect <= s["nk_population_outside_budget"] + 1e-6
    assert expect > 0
    # and summary.json carries it
    # the report reads summary.json back and accepts the list and the status
    out = write_plan(plan, tmp_path / "p", map=False, report=True, gis=False)
    assert not out.skipped, out.skipped
    assert (tmp_path / "p" / "report.html").exists()
    on_disk = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert on_disk["nk_worst_set_site_ids"] == s["nk_worst_set_site_ids"]
    assert not _summary_problems(on_disk)
    # the report states both N-k figures, machine-readable as the summary's
    page = (tmp_path / "p" / "report.html").read_text()
    for key in ("nk_worst_set_population_outside_budget", "nk_population_outside_budget",
                "nk_worst_latency_ms"):
        m = re.search(rf'data-key="{key}" data-value="([^"]*)"', page)
        assert m, key
        assert float(m.group(1)) == pytest.approx(on_disk[key])
    assert f"worst single set of {k} failures" in page
    # and the command line's headline
    line = [x for x in headline_lines(on_disk) if x.startswith(f"under any {k} simultaneous")]
    assert len(line) == 1
    assert f"{on_disk['nk_worst_set_population_outside_budget']:,.0f}" in line[0]
    assert all(x in line[0] for x in on_disk["nk_worst_set_site_ids"])
    assert all(html.escape(x) in page for x in on_disk["nk_worst_set_site_ids"])
    bad = {**on_disk, "nk_worst_set_site_ids": 5, "nk_worst_set_status": "maybe"}
    problems = " ".join(_summary_problems(bad))
    assert "nk_worst_set_site_ids is not a list" in problems
    assert "nk_worst_set_status is not optimal or time_limit" in problems


def test_n1_plans_have_no_worst_set_keys_filled(tmp_path):
    demand = geonames_demand("PT", 20_000)
    sites = geonames_candidates("PT", 20_000)
    plan = coverage.plan_sites(demand, sites, budget_ms=30, failures=1,
                               kmedian_time_limit_s=5)
    s = plan.summary()
    assert s["nk_worst_set_site_ids"] is None and s["nk_worst_set_status"] is None
    page = (write_plan(plan, tmp_path / "n1", map=False, gis=False).path
            / "report.html").read_text()
    assert 'data-key="nk_' not in page
    assert not [x for x in headline_lines(s) if "simultaneous" in x]
