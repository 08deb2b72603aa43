"""min_cover's LP path (certified LP bound, LP rounding, LP-support MILP, reduced-cost
restricted MILP) against brute force, and mutations of it that these checks must catch."""

import dataclasses
import functools
import logging
import time

import numpy as np
import pytest
import scipy.sparse as sp

import coverage.solvers.cover as cover
from coverage.solvers.cover import min_cover

N_INSTANCES = 240
N_GEOMETRIC = 60


def instance(seed):
    """A random multicover: 20-40 rows, 9-12 sites, k = 1 or 2, unit / integer / fractional
    costs, sometimes required sites."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(20, 41)), int(rng.integers(9, 13))
    pattern = rng.random((n, m)) < rng.uniform(0.25, 0.5)
    k = 1 + seed % 2
    req = np.minimum(k, pattern.sum(axis=1))
    kind = (seed // 2) % 3
    cost = (np.ones(m) if kind == 0 else rng.integers(1, 5, size=m).astype(float) if kind == 1
            else rng.uniform(0.5, 3.0, size=m))
    required = np.zeros(m, dtype=bool)
    if seed % 5 == 0:
        required[rng.choice(m, size=int(rng.integers(1, 3)), replace=False)] = True
    return pattern, req, cost, required


def feasible_plans(pattern, req):
    """Every feasible plan (rows of a bool matrix), all 2**m enumerated at once."""
    m = pattern.shape[1]
    plans = ((np.arange(2**m)[:, None] >> np.arange(m)) & 1).astype(bool)
    return plans[np.all(plans.astype(np.int64) @ pattern.T.astype(np.int64) >= req, axis=1)]


def brute(pattern, req, cost, required=None):
    """Optimum over all 2**m plans (vectorised); inf when none is feasible."""
    plans = feasible_plans(pattern, req)
    if required is not None:
        plans = plans[np.all(plans[:, required], axis=1)]
    return float((plans @ cost).min()) if len(plans) else np.inf


def geometric(seed, n=200, m=120, radius=0.15):
    """Sites and demand points in the unit square, reach within ``radius`` (as the national
    models, in small): too many sites for brute force, compared with the plain MILP."""
    rng = np.random.default_rng(1000 + seed)
    points, sites = rng.random((n, 2)), rng.random((m, 2))
    reach = np.linalg.norm(points[:, None] - sites[None], axis=2) < radius
    cost = np.ones(m) if seed % 3 else rng.integers(1, 4, size=m).astype(float)
    return sp.csr_array(reach.astype(np.int8)), np.minimum(1 + seed % 2, reach.sum(axis=1)), cost


def problems(seeds, **kw):
    """What goes wrong on these instances (LP path on every component), and the methods
    that settled their components."""
    bad, methods = [], {}
    for seed in seeds:
        pattern, req, cost, required = instance(seed)
        res = min_cover(sp.csr_array(pattern), req, cost=cost, required=required,
                        lp_min_rows=0, **kw)
        best = brute(pattern, req, cost, required)
        for how, count in res.methods.items():
            methods[how] = methods.get(how, 0) + count
        plan = np.zeros(pattern.shape[1], dtype=bool)
        plan[res.sites] = True
        if not np.all(pattern[:, plan].sum(axis=1) >= req) or not np.all(plan[required]):
            bad.append((seed, "infeasible plan"))
        elif res.status != "optimal" or abs(res.objective - best) > 1e-9 * max(1.0, best):
            bad.append((seed, f"{res.status} {res.objective} against the optimum {best}"))
        elif res.lower_bound > best + 1e-9 * max(1.0, best):
            bad.append((seed, f"bound {res.lower_bound} above the optimum {best}"))
    return bad, methods


def geometric_problems(seeds):
    """Where the LP path (on every component) and the plain MILP disagree."""
    bad, methods = [], {}
    for seed in seeds:
        a, req, cost = geometric(seed)
        plain = min_cover(a, req, cost=cost, lp_min_rows=10**9)
        res = min_cover(a, req, cost=cost, lp_min_rows=0)
        for how, count in res.methods.items():
            methods[how] = methods.get(how, 0) + count
        if not np.all(a[:, res.sites].sum(axis=1) >= req):
            bad.append((seed, "infeasible plan"))
        elif res.status != "optimal" or res.objective != plain.objective:
            bad.append((seed, f"{res.status} {res.objective} against {plain.objective}"))
        elif res.lower_bound > plain.objective:
            bad.append((seed, f"bound {res.lower_bound} above the optimum {plain.objective}"))
    return bad, methods


def test_lp_path_equals_brute_force_and_is_taken(caplog):
    caplog.set_level(logging.DEBUG, logger="coverage.solvers.cover")
    bad, methods = problems(range(N_INSTANCES))
    assert bad == []
    # the LP settles most components without the full MILP; the rest go to step 4
    assert methods.get("lp", 0) >= 100 and methods.get("milp", 0) >= 5
    assert "LP rounding plan" in caplog.text and "MILP on" in caplog.text


def test_lp_path_equals_the_plain_milp_on_geometric_models(caplog):
    caplog.set_level(logging.DEBUG, logger="coverage.solvers.cover")
    bad, methods = geometric_problems(range(N_GEOMETRIC))
    assert bad == []
    assert methods.get("lp", 0) >= N_GEOMETRIC // 2
    for step in ("LP rounding plan", "LP-support MILP plan", "MILP on"):
        assert step in caplog.text, step


@pytest.mark.parametrize("seed", range(40))
def test_reduced_cost_exclusion_keeps_every_better_plan(seed):
    """Sites excluded by reduced cost against a plan of cost U (the greedy plan, and the
    optimum) appear in no plan cheaper than U: the restricted MILP and the support proof
    miss nothing."""
    pattern, req, cost, _ = instance(seed)
    keep = req > 0
    a, r = sp.csr_array(pattern[keep].astype(np.int8)), req[keep]
    rel = cover._cover_lp(a, r, cost, 10.0)
    integral = bool(np.array_equal(cost, np.round(cost)))
    plans = feasible_plans(pattern, req)
    values = plans @ cost
    for ub in (float(cost[cover.greedy_cover(a, r, cost)].sum()), float(values.min())):
        excluded = cover._proves(rel.bound + np.maximum(rel.d, 0.0) - rel.err, ub, integral)
        better = plans[values < ub - 1e-9 * max(1.0, ub)]
        assert not np.any(better[:, excluded])


def test_default_threshold_keeps_min_cover_exact():
    for seed in range(0, N_INSTANCES, 4):
        pattern, req, cost, required = instance(seed)
        res = min_cover(sp.csr_array(pattern), req, cost=cost, required=required)
        assert res.status == "optimal"
        assert res.objective == pytest.approx(brute(pattern, req, cost, required), rel=1e-9)


@pytest.mark.parametrize("seed", range(30))
def test_lp_bound_and_reduced_cost_bounds_are_valid(seed):
    """The certified bound is below the optimum; with site j forced open (closed) the bound
    rises by max(d_j, 0) (max(-d_j, 0)) and stays below that restricted optimum."""
    pattern, req, cost, _ = instance(seed)
    keep = req > 0
    a, r = sp.csr_array(pattern[keep].astype(np.int8)), req[keep]
    rel = cover._cover_lp(a, r, cost, 10.0)
    assert rel is not None
    tol = 1e-9 * max(1.0, float(cost.sum()))
    assert rel.bound <= brute(pattern, req, cost) + tol
    m = pattern.shape[1]
    for j in range(m):
        opened = np.zeros(m, dtype=bool)
        opened[j] = True
        assert rel.bound + max(rel.d[j], 0.0) <= brute(pattern, req, cost, opened) + tol
        without = np.delete(pattern, j, axis=1)
        assert rel.bound + max(-rel.d[j], 0.0) <= brute(without, req, np.delete(cost, j)) + tol


def cycle(n_nodes):
    """Vertex cover of an odd cycle: every edge (row) needs one of its two endpoints. The LP
    optimum is n/2 (all x = 1/2), the integer one (n + 1) / 2."""
    rows = np.arange(n_nodes)
    ends = np.column_stack([rows, (rows + 1) % n_nodes]).ravel()
    return sp.csr_array((np.ones(2 * n_nodes, dtype=np.int8), (np.repeat(rows, 2), ends)),
                        shape=(n_nodes, n_nodes))


@pytest.mark.parametrize("n_nodes", [5, 7, 9])
def test_fractional_lp_rounds_up_to_the_optimum(n_nodes):
    """ceil(LP) proves the rounding plan optimal: no MILP at all."""
    res = min_cover(cycle(n_nodes), 1, lp_min_rows=0)
    assert res.objective == res.lower_bound == (n_nodes + 1) // 2 and res.status == "optimal"
    assert res.methods == {"lp": 1}
    # the rounding matters: with a fractional LP there is no integer LP solution to read off
    rel = cover._cover_lp(sp.csr_array(cycle(n_nodes)), np.ones(n_nodes, dtype=np.int64),
                          np.ones(n_nodes), 10.0)
    assert rel.bound == pytest.approx(n_nodes / 2, abs=1e-6)
    assert np.allclose(rel.x, 0.5)


def test_lp_bound_answers_the_cutoff_question():
    """A cutoff below ceil(LP) is answered by the LP bound alone."""
    res = min_cover(cycle(9), 1, max_objective=4, lp_min_rows=0)
    assert res.status == "above_cutoff" and res.lower_bound == 5 and res.methods == {"lp": 1}


@pytest.mark.parametrize("seed", range(0, 60, 2))
def test_lp_path_answers_the_decision_question(seed):
    """With a cutoff: the optimum within it, else a feasible plan and a bound above it."""
    pattern, req, cost, required = instance(seed)
    if not np.array_equal(cost, np.round(cost)):
        cost = np.ceil(cost)
    best = brute(pattern, req, cost, required)
    for cut in (best - 2, best - 1, best, best + 1):
        res = min_cover(sp.csr_array(pattern), req, cost=cost, required=required,
                        max_objective=cut, lp_min_rows=0)
        plan = np.zeros(pattern.shape[1], dtype=bool)
        plan[res.sites] = True
        assert np.all(pattern[:, plan].sum(axis=1) >= req) and np.all(plan[required])
        if cut >= best:
            assert res.status == "optimal" and res.objective == best
        else:
            assert res.status in ("optimal", "above_cutoff")
            assert cut < res.lower_bound <= best <= res.objective


def test_an_optimum_above_the_cutoff_is_reported_as_such():
    """Geometric seed 42 has an integrality gap (LP 32, optimum 33): with the optimum known
    (target 33) and a cutoff of 32 the optimal plan is proven at once but lies above the
    cutoff, so the answer is "above_cutoff" with the optimum as bound."""
    a, req, cost = geometric(42)
    keep = req > 0
    a, req = sp.csr_array(a[keep]), req[keep]
    plain = min_cover(a, req, cost=cost, lp_min_rows=10**9)
    assert plain.objective == 33 and np.ceil(cover._cover_lp(a, req, cost, 10.0).bound) == 32
    x0 = np.zeros(a.shape[1], dtype=bool)
    x0[plain.sites] = True
    deadline = time.perf_counter() + 30.0
    x, status, bound, how = cover._lp_guided_cover(a, req, cost, x0, deadline, 33.0, 32.0)
    assert (status, bound, how) == ("above_cutoff", 33.0, "lp")
    # without the target the MILP decides; like _solve_cover_milp with a start one above the
    # cutoff it may report the start as optimal (both are allowed, the bound is the point)
    x, status, bound, how = cover._lp_guided_cover(a, req, cost, x0, deadline, None, 32.0)
    assert status in ("above_cutoff", "optimal") and 32 < bound <= 33
    x, status, bound, how = cover._lp_guided_cover(a, req, cost, x0, deadline)
    assert (status, bound, cost[x].sum()) == ("optimal", 33.0, 33.0)


def test_lp_path_keeps_the_time_limit_bound_valid():
    """When nothing is proven the reported bound is still valid (at most the optimum)."""
    for seed in range(0, 60, 3):
        pattern, req, cost, required = instance(seed)
        res = min_cover(sp.csr_array(pattern), req, cost=cost, required=required,
                        time_limit_s=0.0, lp_min_rows=0)
        best = brute(pattern, req, cost, required)
        assert res.lower_bound <= best + 1e-9 * max(1.0, best) <= res.objective * (1 + 1e-9)


# ----------------------------------------------------------------------------- mutations
# Each mutation breaks one piece of the LP path; the checks above must notice it.


def test_mutation_floor_instead_of_ceil_loses_the_fast_path(monkeypatch):
    monkeypatch.setattr(cover, "_integer_bound",
                        lambda bound, integral: np.floor(bound) if integral else bound)
    res = min_cover(cycle(7), 1, lp_min_rows=0)
    assert res.objective == 4
    assert res.methods != {"lp": 1}  # test_fractional_lp_rounds_up_to_the_optimum fails


def test_mutation_off_by_one_optimality_claim_is_caught(monkeypatch):
    proves = cover._proves
    monkeypatch.setattr(cover, "_proves", lambda bound, ub, integral:
                        proves(bound + 1.0 if integral else bound * 1.1, ub, integral))
    bad, _ = problems(range(N_INSTANCES))
    assert bad


def test_mutation_unchecked_rounding_is_caught(monkeypatch):
    """A rounding that stops short (only x >= 1/2) is caught by the feasibility guard; with
    the guard skipped the brute-force comparison catches it."""
    monkeypatch.setattr(cover, "_lp_rounding", lambda a, need, c, x: x >= 0.5)
    bad, _ = problems(range(N_INSTANCES))
    assert bad == []  # the guard falls back to the greedy plan
    monkeypatch.setattr(cover, "_covers", lambda a, need, x: True)
    bad, _ = problems(range(N_INSTANCES))
    assert any(why == "infeasible plan" for _, why in bad)


def test_mutation_overstated_reduced_costs_are_caught(monkeypatch):
    """Reduced costs that exclude too many sites (support MILP proof, restricted MILP)."""
    lp = cover._cover_lp

    def inflated(*args, **kw):
        rel = lp(*args, **kw)
        return None if rel is None else dataclasses.replace(rel, d=np.abs(rel.d) * 10 + 1.0)

    monkeypatch.setattr(cover, "_cover_lp", inflated)
    bad, _ = problems(range(N_INSTANCES))
    bad_geometric, _ = geometric_problems(range(N_GEOMETRIC))
    assert bad + bad_geometric


def test_interior_point_lp_keeps_the_path_exact(monkeypatch):
    """Large components solve their LP by the interior point method without crossover
    (LP_IPM_MIN_NNZ): its duals are only approximate and its point has no exact zeros, yet
    the bound recomputed from the duals stays valid and every answer equals brute force and
    the plain MILP."""
    monkeypatch.setattr(cover, "LP_IPM_MIN_NNZ", 0)
    bad, methods = problems(range(0, N_INSTANCES, 3))
    assert bad == [] and methods.get("lp", 0) >= 30
    bad, _ = geometric_problems(range(12))
    assert bad == []
    # the bound from the interior point's duals is never above the optimum
    for seed in range(20):
        a, req, cost = geometric(seed)
        rel = cover._cover_lp(a, req, cost, 10.0)
        assert rel is not None
        plain = min_cover(a, req, cost=cost, lp_min_rows=10**9)
        assert rel.bound <= plain.objective + 1e-9


@pytest.mark.parametrize("seed", range(40))
def test_start_plan_is_repaired_and_keeps_min_cover_exact(seed):
    """min_cover(start=...) with a start that lost rows (as after a row-generation round):
    each component's repaired start is feasible and no dearer than the greedy plan only
    when kept, and the answer equals brute force whatever the start."""
    pattern, req, cost, required = instance(seed)
    rng = np.random.default_rng(seed)
    a = sp.csr_array(pattern.astype(np.int8))
    best = brute(pattern, req, cost, required)
    for start in (rng.choice(pattern.shape[1], size=3, replace=False),
                  np.arange(pattern.shape[1]), np.zeros(0, dtype=np.int64)):
        res = min_cover(a, req, cost=cost, required=required, start=start)
        assert res.status == "optimal" and abs(res.objective - best) <= 1e-9 * max(1, best)
        x = np.zeros(pattern.shape[1], dtype=bool)
        x[start] = True
        fixed = cover._repair_start(a, req, cost, x)
        assert np.all(pattern[:, fixed].sum(axis=1) >= req)
        if np.all(pattern[:, x].sum(axis=1) >= req):
            assert np.array_equal(fixed, x)  # a covering start is kept as it is


def test_start_outside_the_sites_is_refused():
    a = sp.csr_array(np.eye(3, dtype=np.int8))
    with pytest.raises(ValueError, match="outside 0..2"):
        min_cover(a, 1, start=[0, 3])


def test_lagrangian_fallback_when_the_lp_is_not_solved(monkeypatch):
    """A component whose LP is not solved in its time share (forced here) gets the
    Lagrangian bound and plan before the MILP, as without the LP path, whatever its size
    (``lagrangian_min_rows`` only concerns components without the LP path); answers stay
    exact."""
    calls = []
    real = cover._lagrangian_cover

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cover, "_cover_lp", lambda *args, **kwargs: None)
    monkeypatch.setattr(cover, "_lagrangian_cover", counted)
    for seed in range(0, 60, 3):
        pattern, req, cost, required = instance(seed)
        res = min_cover(sp.csr_array(pattern), req, cost=cost, required=required,
                        lp_min_rows=0)
        best = brute(pattern, req, cost, required)
        assert res.status == "optimal" and abs(res.objective - best) <= 1e-9 * max(1, best)
    assert len(calls) >= 5  # components of one site, or no plan, have no Lagrangian


def test_a_boolean_start_is_refused():
    a = sp.csr_array(np.eye(3, dtype=np.int8))
    with pytest.raises(ValueError, match="not a boolean mask"):
        min_cover(a, 1, start=np.array([True, False, True]))


@pytest.mark.parametrize("seed", range(20))
def test_swap_descent_with_a_capped_score_table(seed):
    """With the dense score table capped to a few entries, swap_descent still returns a
    plan of the same size and no higher cost that leaves no met row short."""
    a, req, cost = geometric(seed)
    x = np.zeros(a.shape[1], dtype=bool)
    x[min_cover(a, req, cost=cost).sites] = True
    rng = np.random.default_rng(seed)
    moved = x.copy()
    moved[rng.choice(np.flatnonzero(x), size=2, replace=False)] = False
    moved[rng.choice(np.flatnonzero(~x), size=2, replace=False)] = True
    met = a @ moved.astype(np.int64) >= req
    for cap in (1, 10, 10**9):
        y = cover.swap_descent(a, req, cost, moved, max_pairs=cap)
        assert y.sum() == moved.sum() and cost[y].sum() <= cost[moved].sum() + 1e-9
        assert np.all((a @ y.astype(np.int64) >= req)[met])


def test_new_highs_in_threads_leaves_stdout_alone(capfd):
    """HiGHS objects built by several threads at once: stdout still reaches its file (the
    banner is silenced once per process, under a lock)."""
    import threading

    from coverage.solvers import highs

    def build():
        for _ in range(20):
            highs.new_highs()

    threads = [threading.Thread(target=build) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    import os
    os.write(1, b"stdout-still-here\n")
    assert "stdout-still-here" in capfd.readouterr().out


def test_a_time_limited_plan_that_meets_the_rounded_bound_is_optimal(monkeypatch):
    """A component's MILP stopped at its limit with a fractional bound whose rounding up
    meets its plan (forced here: HiGHS under a short limit): the summed, rounded bound
    proves the plan, so the status is ``optimal`` with gap 0, not ``time_limit``."""
    real = cover._solve_cover_milp

    def stopped(a, need, c, x0, *args, **kwargs):
        x, _, _ = real(a, need, c, x0, *args, **kwargs)
        return x, "time_limit", float(c[x].sum()) - 0.5  # a dual bound just below

    monkeypatch.setattr(cover, "_solve_cover_milp", stopped)
    a = sp.csr_array(np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 1]],
                              dtype=np.int8))
    res = min_cover(a, 1, lp_min_rows=10**9)
    assert res.objective == 2.0 and res.lower_bound == 2.0
    assert res.status == "optimal" and res.mip_gap == 0.0
    # non-integer costs: a bound below the plan proves nothing
    res = min_cover(a, 1, cost=[1.5, 1.5, 1.5, 1.5], lp_min_rows=10**9)
    assert res.status == "time_limit" and res.lower_bound < res.objective


def _unit_instance(seed):
    """A unit-cost geometric multicover above ``SEARCH_MIN_NNZ`` entries: the pattern, the
    needs, the costs, the greedy plan and the proven optimum's result (copies: the
    instance and its proof are made once per seed for the tests that share it)."""
    a, req, c, x0, opt = _unit_instance_made(seed)
    return a.copy(), req.copy(), c.copy(), x0.copy(), opt


@functools.cache
def _unit_instance_made(seed):
    a, req, _ = geometric(seed, n=600, m=400, radius=0.14)
    a = sp.csr_array(a)
    req = np.minimum(req, np.diff(a.indptr))
    assert a.nnz >= cover.SEARCH_MIN_NNZ
    opt = min_cover(a, req, time_limit_s=120)
    assert opt.status == "optimal"
    x0 = np.zeros(a.shape[1], dtype=bool)
    x0[cover.greedy_cover(a, req)] = True
    return a, req, np.ones(a.shape[1]), x0, opt


@pytest.mark.parametrize("seed", range(6))
def test_the_search_after_the_lagrangian_when_no_milp_runs(seed, monkeypatch, caplog):
    """With no MILP to run after it (forced here), the Lagrangian takes most of the time
    and the row-weighting search the rest, from its plan: the plan covers every row
    (checked here), is no larger than the start, and the bound stays below the optimum
    (the plain MILP's, proven here). The gap proposals of the US demo: 544 -> 515 sites
    at 10 s (hand run)."""
    a, req, c, x0, opt = _unit_instance(seed)
    monkeypatch.setattr(cover, "_no_time_for", lambda *args, **kwargs: True)
    with caplog.at_level(logging.INFO, logger="coverage.solvers.cover"):
        lag, x, milp = cover._lagrangian_first(a, req, c, x0, time.perf_counter() + 1.5)
    assert not milp
    assert np.all(a @ x.astype(np.int64) >= req)
    assert x.sum() <= x0.sum()
    assert np.ceil(lag - 1e-6) <= opt.objective <= x.sum()
    searched = "row-weighting search after the Lagrangian plan" in caplog.text
    carried = caplog.text.count("Lagrangian bound") == 2  # a tight gap: the bound goes on
    assert searched or carried


@pytest.mark.parametrize("seed", range(4))
def test_the_search_before_a_milp_after_the_lagrangian(seed, monkeypatch, caplog):
    """With a MILP to follow (forced here) on a unit-cost model above
    ``FEASIBILITY_JUMP_MAX_NNZ`` entries (lowered here), the search improves a wide-gap
    Lagrangian plan before the MILP gets it as cutoff and fallback: the plan returned is
    the search's, it covers every row, and the bound stays below the proven optimum."""
    a, req, c, x0, opt = _unit_instance(seed)
    plans: dict[str, np.ndarray] = {}
    real_lagrangian, real_search = cover._lagrangian_cover, cover.search_with_restarts

    def lagrangian(*args, **kwargs):  # 3 iterations: a plan well above the bound
        lag, x = real_lagrangian(*args, **{**kwargs, "max_iter": 3})
        plans["lagrangian"] = x.copy()
        return lag, x

    def search(*args, **kwargs):
        plans["search"] = real_search(*args, **kwargs)
        return plans["search"]

    monkeypatch.setattr(cover, "FEASIBILITY_JUMP_MAX_NNZ", 0)
    monkeypatch.setattr(cover, "_milp_follows", lambda *args, **kwargs: True)
    monkeypatch.setattr(cover, "_lagrangian_cover", lagrangian)
    monkeypatch.setattr(cover, "search_with_restarts", search)
    with caplog.at_level(logging.INFO, logger="coverage.solvers.cover"):
        lag, x, milp = cover._lagrangian_first(a, req, c, x0, time.perf_counter() + 4.0)
    assert milp
    assert np.all(a @ x.astype(np.int64) >= req)
    assert np.ceil(lag - 1e-6) <= opt.objective <= x.sum() <= x0.sum()
    assert caplog.text.count("Lagrangian bound") == 1  # no carried run before a MILP
    sites = plans["lagrangian"].sum()
    assert sites - np.ceil(lag - 1e-6) >= max(cover.SEARCH_MIN_GAP_SITES,
                                             cover.SEARCH_MIN_GAP * sites)  # a wide gap
    assert "search" in plans
    if plans["search"].sum() < sites:
        assert np.array_equal(x, plans["search"])
    else:
        assert np.array_equal(x, plans["lagrangian"])


def test_no_milp_after_the_lagrangian_when_it_is_not_worth_it(monkeypatch):
    """When the Lagrangian judges the MILP's time too short (forced here), the callers run
    no HiGHS MILP on that model; answers stay valid (covering, bound below the optimum)."""
    runs = []
    real = cover._solve_cover_milp

    def recorded(*args, **kwargs):
        runs.append(kwargs.get("run", True))
        return real(*args, **kwargs)

    monkeypatch.setattr(cover, "_cover_lp", lambda *args, **kwargs: None)
    monkeypatch.setattr(cover, "_milp_follows", lambda *args, **kwargs: False)
    monkeypatch.setattr(cover, "_solve_cover_milp", recorded)
    skipped = {0: 0, 10**9: 0}
    for seed in range(0, 45, 3):
        pattern, req, cost, required = instance(seed)
        for lp_min_rows in (0, 10**9):  # the LP path's fallback, the component loop's
            runs.clear()
            res = min_cover(sp.csr_array(pattern), req, cost=cost, required=required,
                            lp_min_rows=lp_min_rows, lagrangian_min_rows=0)
            best = brute(pattern, req, cost, required)
            assert res.lower_bound <= best + 1e-9 <= res.objective + 2e-9
            covered = np.asarray(pattern)[:, res.sites].sum(axis=1) if len(res.sites) else 0
            assert np.all(covered >= req)
            assert all(run is False for run in runs)
            skipped[lp_min_rows] += len(runs)
            assert res.methods.get("milp", 0) == 0  # (what ran is named: "lagrangian")
            assert res.methods.get("lagrangian", 0) == len(runs)
    # (components of one site, or proven by the bound, run no MILP)
    assert skipped[0] >= 2 and skipped[10**9] >= 2, skipped


def test_a_lagrangian_plan_at_its_bound_is_optimal_on_the_lp_path(monkeypatch):
    """Review 162: on the LP path (its LP not solved in time, forced here) a Lagrangian
    plan that meets its bound is optimal, as the component loop says, not a skipped
    MILP's ``time_limit``: 200 groups of 10 rows, each reaching its own 10 sites."""
    groups, a, req, c, x0 = _groups_instance()
    monkeypatch.setattr(cover, "_cover_lp", lambda *args, **kwargs: None)
    for follows in (False, True):
        monkeypatch.setattr(cover, "_milp_follows", lambda *args, f=follows, **kwargs: f)
        x, st, lb, how = cover._lp_guided_cover(a, req, c, x0.copy(),
                                                time.perf_counter() + 5.0, lagrangian=True)
        assert (st, lb, how) == ("optimal", groups, "greedy") and x.sum() == groups
        # a cutoff below the optimum: the optimum is above it
        x, st, lb, how = cover._lp_guided_cover(a, req, c, x0.copy(),
                                                time.perf_counter() + 5.0, cutoff=groups - 1,
                                                lagrangian=True)
        assert (st, lb) == ("above_cutoff", groups)


def test_a_milp_after_the_lagrangian_needs_a_multiple_of_its_presolve():
    """A MILP follows the Lagrangian only with at least ``MILP_MIN_PRESOLVE_MULTIPLE``
    times its presolve estimate left (less the search's share when it runs first); models at
    most ``FEASIBILITY_JUMP_MAX_NNZ`` entries always get theirs."""
    nnz = cover.FEASIBILITY_JUMP_MAX_NNZ + 50_000
    rng = np.random.default_rng(0)
    a = sp.csr_array((np.ones(nnz, dtype=np.int8),
                      (rng.integers(0, 20_000, nnz), rng.integers(0, 5_000, nnz))),
                     shape=(20_000, 5_000))
    a.sum_duplicates()
    presolve_s = a.nnz * cover.HIGHS_PRESOLVE_S_PER_ENTRY
    need_s = cover.MILP_MIN_PRESOLVE_MULTIPLE * presolve_s
    assert a.nnz > cover.FEASIBILITY_JUMP_MAX_NNZ
    assert not cover._milp_follows(a, 0.99 * need_s, search_first=False)
    assert cover._milp_follows(a, 1.01 * need_s, search_first=False)
    with_search = need_s / (1.0 - cover.SEARCH_SHARE)
    assert not cover._milp_follows(a, 0.99 * with_search, search_first=True)
    assert cover._milp_follows(a, 1.01 * with_search, search_first=True)
    small = sp.csr_array(np.eye(4, dtype=np.int8))
    assert cover._milp_follows(small, 0.0, search_first=True)


def _groups_instance(groups=200, per=10, sites=10):
    """``groups`` groups of ``per`` rows, each group reaching its own ``sites`` sites (one
    site a group is optimal, and the Lagrangian proves it): the count of groups, the
    pattern, the needs, unit costs and the greedy plan."""
    rows = np.repeat(np.arange(groups * per), sites)
    cols = (np.repeat(np.arange(groups * per) // per, sites) * sites
            + np.tile(np.arange(sites), groups * per))
    a = sp.csr_array((np.ones(len(rows), dtype=np.int8), (rows, cols)),
                     shape=(groups * per, groups * sites))
    req = np.ones(a.shape[0], dtype=np.int64)
    x0 = np.zeros(a.shape[1], dtype=bool)
    x0[cover.greedy_cover(a, req)] = True
    return groups, a, req, np.ones(a.shape[1]), x0


def test_a_lagrangian_plan_at_its_bound_ends_the_work(monkeypatch, caplog):
    """200 groups of 10 rows, each group reaching its own 10 sites: the Lagrangian plan
    meets its bound, so neither the search nor a second Lagrangian runs."""
    groups, a, req, c, x0 = _groups_instance()
    monkeypatch.setattr(cover, "_no_time_for", lambda *args, **kwargs: True)
    with caplog.at_level(logging.INFO, logger="coverage.solvers.cover"):
        lag, x, milp = cover._lagrangian_first(a, req, c, x0, time.perf_counter() + 1.0)
    assert not milp
    assert x.sum() == groups and np.all(a @ x.astype(np.int64) >= 1)
    assert np.ceil(lag - 1e-6) == groups
    assert "row-weighting search after" not in caplog.text
    assert caplog.text.count("Lagrangian bound") == 1


@pytest.mark.parametrize("seed", range(3))
def test_a_carried_lagrangian_goes_on_from_its_multipliers(seed):
    """``state`` carries a run on: the second run starts from the first's bound and
    multipliers (its bound is at least the first's; a fresh run of that length starts
    from the cheapest-site multipliers) and stays below the optimum."""
    a, req, c, x0, opt = _unit_instance(seed)
    state: dict = {}
    first, _ = cover._lagrangian_cover(a, req, c, x0, time.perf_counter() + 10.0,
                                       max_iter=40, state=state)
    u1 = state["u"].copy()
    second, x = cover._lagrangian_cover(a, req, c, x0, time.perf_counter() + 10.0,
                                        max_iter=40, state=state)
    assert second >= first - 1e-9 and state["bound"] == second
    assert not np.array_equal(state["u"], u1)  # it moved on from where the first stopped
    assert np.ceil(second - 1e-6) <= opt.objective <= x.sum()
