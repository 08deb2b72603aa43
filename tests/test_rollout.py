"""The rollout order (issue 14 part 5): ``rollout_order`` and ``rollout.csv``.

Expected values never come from the library's solvers or reach matrix: on random 0/1
instances the optima are brute force over every subset of sites; in plans the reach is
recomputed from coordinates (``tests/invariants.py``: dense haversine and the model's
latency formula) and every prefix of the order is evaluated with plain loops.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from helpers import ON_NET
from invariants import latency_table

from coverage import plan_sites
from coverage.planner.stages import ROLLOUT_COLUMNS
from coverage.solvers import rollout as rollout_mod
from coverage.solvers.maxcover import MaxCoverResult
from coverage.solvers.rollout import order_coverage, rollout_order

HEADER = ["step", "site_id", "population_covered", "population_n1_safe", "bound"]


def random_instance(seed: int, n: int = 18, m: int = 7):
    """A random reach pattern (some rows with nothing in reach) and integer weights."""
    rng = np.random.default_rng(seed)
    reach = rng.random((n, m)) < rng.uniform(0.15, 0.45)
    weights = rng.integers(0, 1000, n).astype(np.float64)
    return reach, weights


def covered_by(reach, weights, sites, need=None):
    """Weight of the rows with ``need`` (default 1) of ``sites`` in reach: plain numpy."""
    sites = list(sites)
    have = reach[:, sites].sum(axis=1) if sites else np.zeros(reach.shape[0])
    need = np.ones(reach.shape[0]) if need is None else need
    return float(weights[(need >= 1) & (have >= need)].sum())


def brute_best(reach, weights, t, required=()):
    """The most weight any ``t`` sites cover; with required sites R, the best ``t`` of R
    for ``t <= |R|``, else the best ``t``-set holding R."""
    req = set(required)
    best = 0.0
    for s in itertools.combinations(range(reach.shape[1]), t):
        s = set(s)
        if (t <= len(req) and not s <= req) or (t > len(req) and not req <= s):
            continue
        best = max(best, covered_by(reach, weights, s))
    return best


# --------------------------------------------------------------------------- the solver


@pytest.mark.parametrize("seed", range(12))
def test_first_step_is_the_single_best_site(seed):
    reach, w = random_instance(seed)
    res = rollout_order(sp.csr_array(reach), w)
    single = [covered_by(reach, w, [j]) for j in range(reach.shape[1])]
    first = int(res.order[0])
    assert single[first] == max(single)
    assert res.population_covered[0] == max(single)
    # ties: the lowest column among the best that also make the most newly N-1 safe
    safe_gain = [covered_by(reach, w, [j], np.minimum(2, reach.sum(axis=1)))
                 for j in range(reach.shape[1])]
    best = [j for j in range(reach.shape[1]) if single[j] == max(single)]
    top = max(safe_gain[j] for j in best)
    assert first == min(j for j in best if safe_gain[j] == top)


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "greedy-only"])
@pytest.mark.parametrize("seed", range(10))
def test_bound_against_brute_force_best_subsets(seed, exact):
    reach, w = random_instance(seed)
    kw = {} if exact else {"exact_max_sites": 0}
    res = rollout_order(reach, w, **kw)
    m = reach.shape[1]
    assert sorted(res.order.tolist()) == list(range(m))
    for t in range(1, m + 1):
        best = brute_best(reach, w, t)
        b, how = float(res.bound[t - 1]), res.bound_method[t - 1]
        assert b >= best - 1e-9, (t, b, best, how)
        if how == "optimal":  # the exact MCLP optimum (or the order's own, proven)
            assert b == pytest.approx(best), (t, b, best)
        assert res.population_covered[t - 1] <= best + 1e-9  # no order beats the optimum
        assert res.population_covered[t - 1] == covered_by(reach, w, res.order[:t])
    if exact:
        assert set(res.bound_method) == {"optimal"}
    assert res.bound.tolist() == sorted(res.bound.tolist())


def test_the_brute_force_checks_can_fail():
    """On these instances the bound is not just the order's own coverage (the exact
    optima are not nested, and greedy bounds are above the optimum): a bound set to the
    order's coverage, or a greedy bound taken as optimal, would fail the checks above."""
    nested_gap = greedy_slack = 0
    for seed in range(10):
        reach, w = random_instance(seed)
        exact = rollout_order(reach, w)
        greedy = rollout_order(reach, w, exact_max_sites=0)
        for t in range(1, reach.shape[1] + 1):
            best = brute_best(reach, w, t)
            nested_gap += exact.population_covered[t - 1] < best - 1e-9
            greedy_slack += (greedy.bound_method[t - 1] == "greedy"
                             and greedy.bound[t - 1] > best + 1e-9)
    assert nested_gap > 0 and greedy_slack > 0


@pytest.mark.parametrize("seed", range(8))
def test_required_sites_open_first_and_bound_the_constrained_sets(seed):
    reach, w = random_instance(seed, n=16, m=6)
    rng = np.random.default_rng(100 + seed)
    required = sorted(rng.choice(6, size=int(rng.integers(1, 4)), replace=False).tolist())
    res = rollout_order(reach, w, required=required, exact_max_sites=0 if seed % 2 else 300)
    r = len(required)
    assert res.n_required == r
    assert sorted(res.order[:r].tolist()) == required
    frame = res.to_frame()
    assert frame["required"].tolist() == [True] * r + [False] * (6 - r)
    for t in range(1, 7):
        best = brute_best(reach, w, t, required)
        assert res.bound[t - 1] >= best - 1e-9
        if res.bound_method[t - 1] == "optimal":
            assert res.bound[t - 1] == pytest.approx(best)


@pytest.mark.parametrize("failures", [1, 2])
def test_safe_population_against_prefix_loops(failures):
    reach, w = random_instance(4, n=30, m=8)
    res = rollout_order(reach, w, failures=failures)
    n_cov = reach.sum(axis=1)
    need = np.minimum(failures + 1, n_cov)
    for t in range(1, 9):
        opened = res.order[:t]
        want = sum(w[i] for i in range(reach.shape[0])
                   if need[i] >= 1 and reach[i, opened].sum() >= need[i])
        assert res.population_safe[t - 1] == pytest.approx(want)


def test_population_covered_is_non_decreasing_and_ends_at_the_pool_coverage():
    reach, w = random_instance(7, n=40, m=9)
    pool = [1, 3, 4, 6, 8]
    res = rollout_order(reach, w, pool)
    assert sorted(res.order.tolist()) == pool
    assert np.all(np.diff(res.population_covered) >= 0)
    assert np.all(np.diff(res.population_safe) >= 0)
    assert res.population_covered[-1] == covered_by(reach, w, pool)


def test_deterministic_and_independent_of_the_pool_order():
    reach, w = random_instance(11, n=60, m=10)
    w[:] = 100.0  # many ties
    a = rollout_order(reach, w, [9, 2, 5, 0, 7, 3])
    b = rollout_order(reach, w, [0, 2, 3, 5, 7, 9])
    c = rollout_order(reach, w, np.isin(np.arange(10), [0, 2, 3, 5, 7, 9]))
    for other in (b, c):
        assert a.order.tolist() == other.order.tolist()
        np.testing.assert_array_equal(a.bound, other.bound)
        assert a.bound_method.tolist() == other.bound_method.tolist()


def test_ties_go_to_the_safe_population_then_the_lowest_column():
    #         s0 s1 s2 s3
    reach = np.array([[1, 1, 0, 0],    # 5 people, reachable by s0 and s1
                      [0, 0, 1, 0],    # 5 people, only s2
                      [1, 0, 0, 1]])   # 0 people
    res = rollout_order(reach, [5.0, 5.0, 0.0])
    # s0, s1 and s2 each cover 5; s2 also makes its point N-1 safe (it has one candidate)
    assert res.order.tolist()[:2] == [2, 0]
    # then s1 (makes row 0 N-1 safe) before s3 (nothing)
    assert res.order.tolist() == [2, 0, 1, 3]
    same = rollout_order(np.array([[1, 1], [1, 1]]), [1.0, 1.0])
    assert same.order.tolist() == [0, 1]


@pytest.mark.parametrize("seed", [5, 6, 7, 8])
def test_order_coverage_against_loops(seed):
    reach, w = random_instance(seed, n=50, m=8)
    order = [6, 1, 3, 0]
    need = np.random.default_rng(seed).integers(0, 3, 50)
    got = order_coverage(sp.csr_array(reach), w, order, need)
    for t in range(1, 5):
        assert got[t - 1] == pytest.approx(covered_by(reach, w, order[:t], need))
    # the int8 pattern taken as it is (no copy) gives the same and is left unchanged
    pattern = sp.csr_array((reach != 0).astype(np.int8))
    before = (pattern.indptr.copy(), pattern.indices.copy(), pattern.data.copy())
    np.testing.assert_allclose(order_coverage(pattern, w, order, need), got)
    res = rollout_order(pattern, w)
    np.testing.assert_allclose(res.population_covered,
                               rollout_order(reach, w).population_covered)
    for x, y in zip(before, (pattern.indptr, pattern.indices, pattern.data), strict=True):
        np.testing.assert_array_equal(x, y)


def test_the_chosen_columns_of_a_pattern_are_a_column_selection():
    from coverage.planner.stages import _chosen_columns

    rng = np.random.default_rng(3)
    chosen = np.array([7, 2, 9, 4])  # not sorted
    dense = np.zeros((40, 12), dtype=bool)
    dense[:, chosen] = rng.random((40, 4)) < 0.4
    got = _chosen_columns(sp.csr_array(dense), chosen)
    assert got.dtype == np.int8 and got.has_canonical_format
    np.testing.assert_array_equal(got.toarray(), dense[:, chosen].astype(np.int8))
    dense[0, 0] = True  # an entry outside the chosen columns: the general selection
    np.testing.assert_array_equal(_chosen_columns(sp.csr_array(dense), chosen).toarray(),
                                  dense[:, chosen])


def test_greedy_bound_with_non_integer_weights_and_a_stop():
    reach, _ = random_instance(2, n=40, m=8)
    w = np.random.default_rng(2).random(40) * 10
    res = rollout_order(reach, w, n_steps=5, exact_max_sites=0)
    assert len(res.order) == 5
    for t in range(1, 6):
        assert res.bound[t - 1] >= brute_best(reach, w, t) - 1e-9


def test_time_limited_exact_steps_keep_a_valid_bound(monkeypatch):
    reach, w = random_instance(3, n=30, m=7)
    real = rollout_mod.max_cover

    def slow(*args, **kwargs):  # HiGHS stopped early: a plan and a bound above it
        res = real(*args, **kwargs)
        return MaxCoverResult(res.sites, res.objective, res.upper_bound + 7.0, "time_limit",
                              0.1, res.solve_time_s)

    monkeypatch.setattr(rollout_mod, "max_cover", slow)
    res = rollout_order(reach, w)
    assert "time_limit" in set(res.bound_method)
    for t in range(1, 8):
        assert res.bound[t - 1] >= brute_best(reach, w, t) - 1e-9
    # no time at all for the exact steps: the greedy bounds stay
    none = rollout_order(reach, w, total_time_limit_s=0.0)
    assert none.info["exact_solves"] == 0 and "time_limit" not in set(none.bound_method)


def test_bad_arguments():
    reach, w = random_instance(0)
    with pytest.raises(ValueError, match="empty"):
        rollout_order(reach, w, np.zeros(7, dtype=bool))
    with pytest.raises(ValueError, match="in the pool"):
        rollout_order(reach, w, [0, 1], required=[2])
    with pytest.raises(ValueError, match="n_steps"):
        rollout_order(reach, w, [0, 1, 2], required=[0, 1], n_steps=1)
    with pytest.raises(ValueError, match="population"):
        rollout_order(reach, -w - 1)
    with pytest.raises(ValueError, match="n_covering"):
        rollout_order(reach, w, n_covering=np.zeros(len(w), dtype=int))


# --------------------------------------------------------------------------- in the planner


def own_curve(plan, order_ids, need_failures):
    """Population within budget / with at least j + 1 opened sites within budget after
    each step, from coordinates (dense latency table) and plain loops over the prefixes."""
    lat, _ = latency_table(plan)
    in_budget = lat <= plan.budget_ms + 1e-7
    pos = {sid: j for j, sid in enumerate(plan.candidates["site_id"])}
    cols = [pos[s] for s in order_ids]
    pop = plan.demand["population"].to_numpy(dtype=np.float64)
    need = need_failures + 1  # strictly: a point with fewer candidates is never N-k safe
    covered, safe = [], []
    for t in range(1, len(cols) + 1):
        have = in_budget[:, cols[:t]].sum(axis=1)
        covered.append(pop[have >= 1].sum())
        safe.append(pop[have >= need].sum())
    return np.array(covered), np.array(safe), in_budget, cols, pop


@pytest.fixture(scope="module")
def west_plan(sample_inputs):
    demand, sites = sample_inputs
    return plan_sites(demand, sites, budget_ms=25.0, model=ON_NET, kmedian_time_limit_s=5)


def test_plan_rollout_covers_the_chosen_sites_and_ends_at_the_plan_coverage(west_plan):
    plan = west_plan
    ro = plan.rollout
    assert list(ro.columns) == list(ROLLOUT_COLUMNS[:7])
    assert sorted(ro["site_id"]) == sorted(plan.sites["site_id"])
    assert ro["step"].tolist() == list(range(1, len(plan.sites) + 1))
    covered, safe, in_budget, cols, pop = own_curve(plan, ro["site_id"], 1)
    np.testing.assert_allclose(ro["population_covered"], covered)
    np.testing.assert_allclose(ro["population_n1_safe"], safe)
    # the last step is the plan's coverage, computed from the coordinates
    assert ro["population_covered"].iloc[-1] == pytest.approx(
        pop[in_budget.sum(axis=1) >= 1].sum())
    assert ro["population_covered"].iloc[-1] == pytest.approx(
        plan.summary()["population_covered"])
    # and its N-1 safe population is the summary's (same definition, same label)
    assert ro["population_n1_safe"].iloc[-1] == pytest.approx(
        plan.summary()["population_safe_by_failures"]["N-1"])
    assert (in_budget.sum(axis=1) == 1).any()  # single-coverable points exist here
    assert np.all(np.diff(ro["population_covered"]) >= 0)
    assert np.all(ro["bound"] >= ro["population_covered"] - 1e-6)
    # the first step is the single best chosen site
    singles = [pop[in_budget[:, j]].sum() for j in cols]
    assert ro["population_covered"].iloc[0] == pytest.approx(max(singles))
    # and every bound is at least the best that many chosen sites cover (brute force)
    for t in (1, 2, 3):
        best = max(pop[in_budget[:, list(s)].any(axis=1)].sum()
                   for s in itertools.combinations(cols, t))
        assert ro["bound"].iloc[t - 1] >= best - 1e-6
        if ro["bound_method"].iloc[t - 1] == "optimal":
            assert ro["bound"].iloc[t - 1] == pytest.approx(best)
    info = plan.summary()["rollout"]
    assert info["steps"] == len(ro) and info["reach"] == "reach matrix"
    assert info["population_covered"] == pytest.approx(ro["population_covered"].iloc[-1])
    first90 = int(np.flatnonzero(covered >= 0.9 * covered[-1])[0]) + 1
    assert info["steps_to_covered"]["90pct"] == first90
    assert info["steps_to_covered"]["100pct"] == int(np.flatnonzero(covered >= covered[-1])[0]) + 1
    assert sum(info["bound_methods"].values()) == len(ro)


def test_plan_rollout_is_deterministic(sample_inputs, west_plan):
    demand, sites = sample_inputs
    again = plan_sites(demand, sites, budget_ms=25.0, model=ON_NET, kmedian_time_limit_s=5)
    pd.testing.assert_frame_equal(again.rollout, west_plan.rollout)


def test_rollout_csv_has_the_exact_header(west_plan, tmp_path):
    out = west_plan.to_dir(tmp_path / "p", map=False, report=False, gis=False)
    lines = (out / "rollout.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",")[:5] == HEADER
    assert lines[0] == ",".join(ROLLOUT_COLUMNS[:7])
    back = pd.read_csv(out / "rollout.csv", dtype={"site_id": str})
    pd.testing.assert_frame_equal(back, west_plan.rollout, check_dtype=False)
    s = json.loads((out / "summary.json").read_text())
    assert s["rollout"]["steps"] == len(back)


def test_required_sites_come_first_in_the_plan(sample_inputs):
    demand, sites = sample_inputs
    sites = sites.copy()
    req = sites["site_id"].iloc[[3, 40]].tolist()
    sites["required"] = sites["site_id"].isin(req)
    plan = plan_sites(demand, sites, budget_ms=25.0, model=ON_NET, kmedian_time_limit_s=5)
    ro = plan.rollout
    assert sorted(ro["site_id"].iloc[:2]) == sorted(req)
    assert ro["required"].tolist() == [True, True] + [False] * (len(ro) - 2)
    assert plan.summary()["rollout"]["required_steps"] == 2


def test_k2_plan_adds_the_nk_column(sample_inputs):
    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=25.0, failures=2, model=ON_NET,
                      kmedian_time_limit_s=5)
    ro = plan.rollout
    assert list(ro.columns) == list(ROLLOUT_COLUMNS)
    _, n1, *_ = own_curve(plan, ro["site_id"], 1)
    _, n2, *_ = own_curve(plan, ro["site_id"], 2)
    np.testing.assert_allclose(ro["population_n1_safe"], n1)
    np.testing.assert_allclose(ro["population_nk_safe"], n2)
    assert plan.summary()["rollout"]["failures"] == 2
    safe_by = plan.summary()["population_safe_by_failures"]
    assert ro["population_n1_safe"].iloc[-1] == pytest.approx(safe_by["N-1"])
    assert ro["population_nk_safe"].iloc[-1] == pytest.approx(safe_by["N-2"])


def test_max_sites_plan_ends_at_its_population_covered(sample_inputs):
    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=25.0, model=ON_NET, max_sites=4)
    ro = plan.rollout
    covered, *_ = own_curve(plan, ro["site_id"], 1)
    np.testing.assert_allclose(ro["population_covered"], covered)
    assert ro["population_covered"].iloc[-1] == pytest.approx(
        plan.summary()["population_covered"])


# --------------------------------------------------------------------------- row generation


def test_lazy_plan_builds_the_reach_of_the_chosen_sites(sample_inputs):
    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=25.0, model=ON_NET, strategy="lazy")
    assert plan.reach is None
    ro = plan.rollout
    info = plan.summary()["rollout"]
    assert info["reach"].startswith("radius query of the chosen sites")
    assert sorted(ro["site_id"]) == sorted(plan.sites["site_id"])
    covered, safe, *_ = own_curve(plan, ro["site_id"], 1)
    np.testing.assert_allclose(ro["population_covered"], covered)
    np.testing.assert_allclose(ro["population_n1_safe"], safe)
    assert ro["population_covered"].iloc[-1] == pytest.approx(
        plan.summary()["population_covered"])
    # the same order as the reach matrix of the same problem gives for these sites
    full = plan_sites(demand, sites, budget_ms=25.0, model=ON_NET, strategy="full",
                      kmedian_time_limit_s=5)
    pos = {s: j for j, s in enumerate(full.candidates["site_id"])}
    res = rollout_order(full.reach.boolean(), full.demand["population"].to_numpy(),
                        [pos[s] for s in plan.sites["site_id"]])
    assert full.candidates["site_id"].to_numpy()[res.order].tolist() == ro["site_id"].tolist()


def test_lazy_plan_above_the_memory_budget_says_why(sample_inputs, tmp_path):
    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=25.0, model=ON_NET, strategy="lazy",
                      max_memory_gb=1e-7)
    assert plan.rollout is None
    info = plan.summary()["rollout"]
    assert info["steps"] == 0 and "max_memory_gb" in info["absent"]
    out = plan.with_sweep((30,), time_limit_s=2).to_dir(tmp_path / "p", map=False, gis=False)
    assert not (out / "rollout.csv").exists()
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "No rollout order: row generation" in text


def test_a_safe_population_of_nobody_is_a_float():
    """Tester 151: with nobody N-1 safe (one site) rollout.csv read ``0`` beside
    ``6200.0``: numpy's bincount of no entries is int64."""
    from coverage.solvers.rollout import order_coverage

    a = sp.csr_array(np.ones((3, 1), dtype=bool))
    got = order_coverage(a, [1.0, 2.0, 3.0], [0], 2)
    assert got.dtype == np.float64 and got.tolist() == [0.0]
    assert order_coverage(a, [1.0, 2.0, 3.0], [0], 1).tolist() == [6.0]
