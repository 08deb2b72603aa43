"""Capacitated plans by row and cut generation (national inputs without the reach matrix).

:func:`coverage.solvers.capacitated_rowgen.capacitated_lazy` is checked against the
full-matrix solver, against brute force, and every plan it returns against an independent
reach (haversine) and an independent networkx max-flow per failure scenario
(tests/test_capacity.py's reference).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import ON_NET, run
from test_capacity import (
    BUDGET_MS,
    brute_force,
    check_least_latency_even_flow,
    geo_instance,
    own_reach,
    reference,
    scenarios,
    shortfall,
    site_index,
)

from coverage import NoFeasiblePlanError, plan_sites
from coverage.model.problem import RowLatency
from coverage.solvers.capacitated import capacitated_cover
from coverage.solvers.capacitated_rowgen import capacitated_lazy, check_plan
from coverage.solvers.rowgen import RowSource


def source_of(demand: pd.DataFrame, sites: pd.DataFrame) -> RowSource:
    rl = RowLatency.from_model(ON_NET, np.full(len(demand), "ftth", dtype=object), BUDGET_MS,
                               "p99", None)
    return RowSource(demand["lat"].to_numpy(float), demand["lon"].to_numpy(float),
                     sites["lat"].to_numpy(float), sites["lon"].to_numpy(float), ON_NET,
                     BUDGET_MS, "p99", rl)


def independent_ok(N, load, cap, chosen, k, domains=None) -> bool:
    """Coverage and every scenario by networkx max-flow on our own reach."""
    chosen = set(int(j) for j in chosen)
    if any(len(ni & chosen) < min(k + 1, len(ni)) for ni in N):
        return False
    for failed in scenarios(sorted(chosen), k, domains):
        need, served = shortfall(N, load, cap, chosen, failed)
        if served < need:
            return False
    return True


def lazy_solve(demand, sites, k, domains=None, **kw):
    src = source_of(demand, sites)
    n_cov = src.count()
    load = demand["population"].to_numpy(float) / 1000.0
    cap = sites["capacity_rps"].to_numpy(float)
    return capacitated_lazy(src, load, cap, np.minimum(k + 1, n_cov), n_cov, failures=k,
                            domains=domains, seed_rows=5, at_risk_rows=3, **kw)


# --------------------------------------------------------------------------------------
# Solver level: the same optimum as the full-matrix solver and as brute force
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed,n,m,k,n_domains", [
    (31, 40, 9, 1, None), (32, 60, 10, 1, None), (33, 50, 8, 2, None), (34, 30, 7, 0, None),
    (35, 45, 9, 1, 4), (36, 40, 8, 2, 5),
])
def test_lazy_matches_full_and_brute_force(seed, n, m, k, n_domains):
    demand, sites = geo_instance(seed, n, m, cap_range=(150, 450))
    mask = own_reach(demand, sites)
    N, load, cap = reference(demand, sites, mask)
    domains = None
    if n_domains is not None:
        rng = np.random.default_rng(seed)
        domains = [f"F{d}" for d in rng.integers(0, n_domains, m)]
    res, info = lazy_solve(demand, sites, k, domains)
    best, _ = brute_force(N, load, cap, k, domains)
    full = capacitated_cover(mask, np.asarray(load, float) / 1000.0,
                             np.asarray(cap, float) / 1000.0,
                             np.minimum(k + 1, mask.sum(axis=1)), failures=k, domains=domains)
    if best is None:
        assert res.status == full.status == "infeasible"
        return
    assert res.status == full.status == "optimal"
    assert res.objective == full.objective == best == len(res.sites)
    assert independent_ok(N, load, cap, res.sites, k, domains)
    # the row generation held only part of the rows
    assert 0 < info.rows_fetched <= n


def test_solver_instances_bind_on_capacity():
    """The instances above are not all decided by coverage alone."""
    bound_by_capacity = 0
    for seed, n, m, k in [(31, 40, 9, 1), (32, 60, 10, 1), (33, 50, 8, 2)]:
        demand, sites = geo_instance(seed, n, m, cap_range=(150, 450))
        mask = own_reach(demand, sites)
        N, load, cap = reference(demand, sites, mask)
        best, _ = brute_force(N, load, cap, k)
        plain, _ = brute_force(N, [0] * len(N), cap, k)
        bound_by_capacity += best is not None and best > plain
    assert bound_by_capacity >= 1


@pytest.mark.parametrize("repair_every", [0, 1])
@pytest.mark.parametrize("seed,k,n_domains", [(41, 1, None), (42, 2, None), (43, 1, 4)])
def test_repair_gives_a_feasible_plan(seed, k, n_domains, repair_every):
    """Out of rounds after one MILP: the greedy repair returns a plan that is feasible by
    the independent check, at least the bound and no larger than every candidate."""
    demand, sites = geo_instance(seed, 60, 12, cap_range=(150, 450))
    mask = own_reach(demand, sites)
    N, load, cap = reference(demand, sites, mask)
    domains = None
    if n_domains is not None:
        domains = [f"F{d}" for d in np.random.default_rng(seed).integers(0, n_domains, 12)]
    best, _ = brute_force(N, load, cap, k, domains)
    assert best is not None
    res, info = lazy_solve(demand, sites, k, domains, max_rounds=1,
                           repair_every=repair_every)
    assert independent_ok(N, load, cap, res.sites, k, domains)
    assert res.lower_bound <= best <= res.objective <= len(sites)
    if res.objective > best:
        assert res.status == "time_limit" and info.repaired
    # the repaired plan reports the scenarios of its own check: all carried
    assert all(f.feasible for f in res.scenarios)


def test_repair_stays_close_to_the_optimum():
    """Across instances the repair prunes what it added: on average within two sites of the
    optimum (opening every candidate would be far more)."""
    excess, total = [], []
    for seed in (41, 44, 45, 46):
        demand, sites = geo_instance(seed, 60, 12, cap_range=(150, 450))
        mask = own_reach(demand, sites)
        N, load, cap = reference(demand, sites, mask)
        best, _ = brute_force(N, load, cap, 1)
        res, _ = lazy_solve(demand, sites, 1, max_rounds=1, repair_every=0)
        excess.append(res.objective - best)
        total.append(len(sites) - best)
    assert np.mean(excess) <= 2 and sum(excess) < sum(total)


def test_infeasible_is_proven_by_the_cuts():
    demand, sites = geo_instance(9, 20, 5, cap_range=(1, 3))
    mask = own_reach(demand, sites)
    N, load, cap = reference(demand, sites, mask)
    assert brute_force(N, load, cap, 1)[0] is None
    res, _ = lazy_solve(demand, sites, 1)
    assert res.status == "infeasible"
    with pytest.raises(NoFeasiblePlanError, match="no plan carries the load"):
        plan_sites(demand, sites, budget_ms=BUDGET_MS, model=ON_NET, strategy="lazy",
                   requests_per_person_day=28.8, peak_to_mean=3.0)


def test_witness_keeps_cells_with_candidates_elsewhere_from_being_excused():
    """A cell whose open candidates all fail but which has a closed candidate in budget
    outside the plan's domains must still be served: the restricted check says so."""
    demand, sites = geo_instance(47, 60, 9, cap_range=(150, 450))
    mask = own_reach(demand, sites)
    j = int(np.argmax(mask.sum(axis=0)))
    # the cells that reach site j: a plan of j alone carries them in normal operation
    demand = demand[mask[:, j]].reset_index(drop=True)
    mask = mask[mask[:, j]]
    src = source_of(demand, sites)
    n_cov = src.count()
    load = demand["population"].to_numpy(float) / 1000.0
    cap = np.full(len(sites), 1e6)
    chk = check_plan(src, load, cap, np.minimum(1, n_cov), n_cov, [j], 1)
    assert chk.scenarios[0].feasible
    fail = [f for f in chk.scenarios if f.failed == (j,)][0]
    # failing j excuses only the cells whose only candidate is j; the others have a closed
    # candidate elsewhere and must still be served (and cannot be: nothing else is open)
    need_ref = load[mask.sum(axis=1) > 1].sum()
    assert 0 < need_ref <= load.sum()  # without the witness every cell would be excused
    assert fail.load_rps == pytest.approx(need_ref)
    assert not fail.feasible  # nothing left open to serve them


# --------------------------------------------------------------------------------------
# Planner level: --strategy lazy with a load
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed,n,m,k,load_column", [
    (1, 20, 6, 1, False), (4, 60, 12, 1, True), (6, 40, 8, 2, True),
])
def test_planner_lazy_capacitated_equals_brute_force(seed, n, m, k, load_column):
    demand, sites = geo_instance(seed, n, m, load_column=load_column)
    mask = own_reach(demand, sites)
    N, load, cap = reference(demand, sites, mask)
    extra = {} if load_column else {"requests_per_person_day": 28.8, "peak_to_mean": 3.0}
    plan = plan_sites(demand, sites, budget_ms=BUDGET_MS, model=ON_NET, failures=k,
                      strategy="lazy", **extra)
    s = plan.summary()
    best, _ = brute_force(N, load, cap, k)
    chosen = site_index(plan, sites)
    assert s["solver"]["strategy"] == "lazy" and plan.reach is None
    assert s["site_count"] == len(chosen) == best and s["status"] == "optimal"
    assert independent_ok(N, load, cap, chosen, k)
    # flows: inside the budget, within capacity, every coverable point's load served
    col = {x: j for j, x in enumerate(sites["site_id"])}
    row = {x: i for i, x in enumerate(demand["demand_id"])}
    f = plan.flows
    assert all(mask[row[d], col[x]] for d, x in zip(f["demand_id"], f["site_id"],
                                                     strict=True))
    per_site = f.groupby("site_id")["load_rps"].sum()
    caps = dict(zip(sites["site_id"], sites["capacity_rps"], strict=True))
    assert all(v <= caps[x] * (1 + 1e-6) for x, v in per_site.items())
    per_point = f.groupby("demand_id")["load_rps"].sum()
    for d, i in row.items():
        want = load[i] / 1000.0 if mask[i].any() else 0.0
        assert per_point.get(d, 0.0) == pytest.approx(want, rel=1e-6, abs=1e-5)
    # the latencies and the least-latency most even flow, with no reach matrix
    check_least_latency_even_flow(plan, demand, sites, mask,
                                  dict(zip(demand["demand_id"], np.asarray(load) / 1000.0,
                                           strict=True)), caps)
    sc = plan.capacity_scenarios
    assert len(sc) == len(scenarios(chosen, k, None)) and sc["feasible"].all()
    assert s["capacity"]["status"] == "optimal" and s["capacity"]["scenarios_complete"]
    # the full-matrix plan of the same instance has the same count
    full = plan_sites(demand, sites, budget_ms=BUDGET_MS, model=ON_NET, failures=k,
                      strategy="full", **extra)
    assert full.summary()["site_count"] == s["site_count"]


def own_flow_objective(demand, sites, site_ids):
    """Population-weighted p50 of the least-latency flow of every point's load
    (population / 1000) to ``site_ids`` within their capacities: our own haversine, model
    and dense LP (scipy's linprog); ``inf`` when they cannot carry it."""
    from scipy.optimize import linprog
    from test_capacity import haversine

    pos = {s: j for j, s in enumerate(sites["site_id"])}
    cols = [pos[x] for x in site_ids]
    km = haversine(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                   sites["lat"].to_numpy()[None, cols], sites["lon"].to_numpy()[None, cols])
    within = ON_NET.p99_ms(km, "ftth") <= BUDGET_MS
    p50 = ON_NET.p50_ms(km, "ftth")
    pop = demand["population"].to_numpy(float)
    load = pop / 1000.0
    pairs = np.argwhere(within)
    if not len(pairs):
        return 0.0
    rows = sorted(set(pairs[:, 0].tolist()))
    a_eq = np.array([(pairs[:, 0] == r).astype(float) for r in rows])
    a_ub = np.array([np.where(pairs[:, 1] == c, load[pairs[:, 0]], 0.0)
                     for c in range(len(cols))])
    cap = sites["capacity_rps"].to_numpy(float)[cols]
    res = linprog(pop[pairs[:, 0]] * p50[pairs[:, 0], pairs[:, 1]], A_ub=a_ub, b_ub=cap,
                  A_eq=a_eq, b_eq=np.ones(len(rows)), bounds=(0, 1), method="highs")
    return float(res.fun) if res.status == 0 else math.inf


@pytest.mark.parametrize("seed,k", [(11, 1), (12, 1), (13, 2), (14, 0)])
def test_planner_lazy_capacitated_placement_is_checked(seed, k):
    """A capacitated plan by row generation is placed (it kept the count's plan,
    "skipped (capacitated, row generation)"): the placed plan keeps every requirement and
    carries every scenario (networkx), its objective is our own least-latency flow's and
    never worse than the count's plan's, and the bound is every coverable cell at its
    nearest candidate (ours)."""
    from test_capacity import haversine

    demand, sites = geo_instance(seed, 60, 12, cap_range=(300, 700))
    mask = own_reach(demand, sites)
    N, load, cap = reference(demand, sites, mask)
    kw = {"budget_ms": BUDGET_MS, "model": ON_NET, "failures": k, "strategy": "lazy",
          "requests_per_person_day": 28.8, "peak_to_mean": 3.0}
    plan = plan_sites(demand, sites, **kw)
    kept = plan_sites(demand, sites, kmedian_time_limit_s=0, **kw)
    s = plan.summary()
    assert s["placement"]["method"] == "uncapacitated national placement, capacity checked"
    chosen = site_index(plan, sites)
    assert independent_ok(N, load, cap, chosen, k)
    ours = own_flow_objective(demand, sites, plan.sites["site_id"])
    assert s["kmedian_objective_ms_pop"] == pytest.approx(ours, rel=1e-6)
    assert ours <= own_flow_objective(demand, sites, kept.sites["site_id"]) * (1 + 1e-9)
    km = haversine(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                   sites["lat"].to_numpy()[None], sites["lon"].to_numpy()[None])
    p50 = np.where(mask, ON_NET.p50_ms(km, "ftth"), np.inf).min(axis=1)
    pop = demand["population"].to_numpy(float)
    bound = float(np.sum(pop[np.isfinite(p50)] * p50[np.isfinite(p50)]))
    assert s["kmedian_lower_bound_ms_pop"] == pytest.approx(bound, rel=1e-6)
    assert s["kmedian_lower_bound_ms_pop"] <= ours * (1 + 1e-9)
    # the plan's outputs are the placed plan's: its flows and scenarios name only its sites
    assert set(plan.flows["site_id"]) <= set(plan.sites["site_id"])
    assert len(plan.capacity_scenarios) == len(scenarios(chosen, k, None))


def test_the_lazy_placement_instances_move_and_keep():
    """The instances above meet each outcome: sites moved, and the count's plan kept
    because the uncapacitated placement is short in a failure scenario."""
    outcomes = set()
    for seed, k in [(11, 1), (12, 1), (13, 2), (14, 0)]:
        demand, sites = geo_instance(seed, 60, 12, cap_range=(300, 700))
        info = plan_sites(demand, sites, budget_ms=BUDGET_MS, model=ON_NET, failures=k,
                          strategy="lazy", requests_per_person_day=28.8,
                          peak_to_mean=3.0).summary()["placement"]
        outcomes.add("moved" if info["moved_sites"] else info.get("kept_because"))
    assert {"moved", "short in a failure scenario"} <= outcomes, outcomes


def test_a_lazy_refusal_names_the_scenarios_its_cuts_come_from():
    """Tester 131: by row generation, a load that no plan carries because of the
    shared-risk domains was blamed on normal operation (the last plan tried fell short
    there) and the fix never named the domains; it names the scenarios of the cuts and
    every fix the full strategy's proof would give."""
    demand, sites = geo_instance(25, 40, 10, cap_range=(200, 400))
    kw = {"budget_ms": BUDGET_MS, "model": ON_NET, "failures": 1,
          "requests_per_person_day": 28.8, "peak_to_mean": 3.0, "domain_radius_km": 60}
    with pytest.raises(NoFeasiblePlanError) as lazy:
        plan_sites(demand, sites, strategy="lazy", **kw)
    with pytest.raises(NoFeasiblePlanError, match="in the failure of 1 shared-risk domain"):
        plan_sites(demand, sites, strategy="full", **kw)  # the proof: a domain's failure
    msg = str(lazy.value)
    assert "every failure of up to 1 shared-risk domain exclude every plan" in msg
    assert "tolerate fewer failures" in msg and "make the shared-risk domains smaller" in msg


def test_planner_lazy_with_tiers_equals_full():
    """Tiered sites (the pair engine's rows) give the same count lazily as on the matrix."""
    demand, sites = geo_instance(5, 40, 10, cap_range=(200, 500))
    sites["tier"] = ["mec" if j % 2 else "metro-colo" for j in range(len(sites))]
    kw = dict(budget_ms=BUDGET_MS + 4.0, model=ON_NET, failures=1,
              requests_per_person_day=28.8, peak_to_mean=3.0)
    lazy = plan_sites(demand, sites, strategy="lazy", **kw)
    full = plan_sites(demand, sites, strategy="full", **kw)
    assert lazy.summary()["site_count"] == full.summary()["site_count"]
    assert lazy.summary()["status"] == full.summary()["status"] == "optimal"


def test_sweep_budgets_solved_lazily_are_capacitated():
    """A budget the sweep solves by row generation has the capacitated count of plan_sites
    at that budget (not the coverage-only count); the notes say every budget is
    capacitated."""
    from coverage.planner.sweep import budget_sweep

    demand, sites = geo_instance(31, 40, 10, cap_range=(120, 300), load_column=True)
    kw = {"model": ON_NET, "strategy": "full", "time_limit_s": 30}
    plan = plan_sites(demand, sites, budget_ms=BUDGET_MS, **kw)
    other = BUDGET_MS + 1.0
    want = plan_sites(demand, sites, budget_ms=other, **kw).summary()["site_count"]
    plain = plan_sites(demand.drop(columns="load_rps"), sites, budget_ms=other,
                       **kw).summary()["site_count"]
    assert want > plain  # capacity binds at this budget: the test can tell them apart
    sweep = budget_sweep(demand, sites, [other], failures=(1,), model=ON_NET,
                         time_limit_s=30, max_full_pairs=0, capacity=plan.capacity)
    row = sweep.iloc[0]
    assert row["method"] == "lazy (capacitated)"
    assert row["site_count"] == want and row["status"] == "optimal"
    assert "lazy (capacitated)" in sweep.attrs["note"]
    # every budget carries the load: no legend of a status the table does not hold (it
    # read as a finding)
    assert "infeasible_capacity" not in sweep.attrs["note"]
    assert "unproven" not in sweep.attrs["note"]


@pytest.mark.parametrize("seed,k", [(51, 1), (52, 1), (53, 2), (54, 0)])
def test_region_cuts_hold_for_every_feasible_plan(seed, k):
    """The a-priori region cuts are valid: every feasible plan of a small instance (all
    subsets enumerated, feasibility by the independent max-flow) satisfies each of them;
    and they are not empty (they say something)."""
    import itertools

    from coverage.solvers.capacitated_rowgen import region_cuts

    demand, sites = geo_instance(seed, 50, 8, cap_range=(150, 450))
    mask = own_reach(demand, sites)
    N, load, cap = reference(demand, sites, mask)
    src = source_of(demand, sites)
    cuts, _ = region_cuts(src, np.asarray(load, float) / 1000.0,
                          sites["capacity_rps"].to_numpy(float), src.count(), k,
                          scales_km=(15.0, 40.0, 90.0))
    assert cuts.shape[0] > 0
    dense = cuts.toarray()
    feasible = 0
    for size in range(len(sites) + 1):
        for subset in itertools.combinations(range(len(sites)), size):
            if not independent_ok(N, load, cap, subset, k):
                continue
            feasible += 1
            y = np.zeros(len(sites))
            y[list(subset)] = 1.0
            assert (dense @ y >= 1.0 - 1e-9).all(), subset
    assert feasible > 0


def test_scenarios_above_the_limit_are_the_riskiest_first():
    """Above the scenario limit (k = 2 on a plan of many sites) the list keeps normal
    operation, every single failure, then every pair of sites sharing a user before any
    pair that shares none; and says it is incomplete."""
    import itertools

    import scipy.sparse as sp

    from coverage.solvers.capacitated import failure_scenarios

    rng = np.random.default_rng(5)
    m = 30
    # points on a line, each reaching the sites within 2 positions: neighbours share users
    n = 300
    pos = rng.uniform(0, m, n)
    mask = np.abs(pos[:, None] - np.arange(m)[None, :]) <= 2.0
    reach = sp.csr_array(mask)
    sites = np.arange(m)
    total = 1 + m + m * (m - 1) // 2
    full, complete = failure_scenarios(sites, 2, limit=total)
    assert complete and len(full) == total
    limit = 1 + m + 60
    got, complete = failure_scenarios(sites, 2, limit=limit, reach=reach)
    assert not complete and len(got) == limit + 1
    assert got[0] == () and got[1:1 + m] == [(j,) for j in range(m)]
    share = (mask.T.astype(int) @ mask.astype(int)) > 0
    pairs = got[1 + m:]
    sharing = [p for p in itertools.combinations(range(m), 2) if share[p]]
    flags = [bool(share[p]) for p in pairs]
    # every sharing pair comes before any non-sharing one, as far as the limit allows
    first_other = flags.index(False) if False in flags else len(flags)
    assert all(flags[:first_other]) and not any(flags[first_other:])
    assert first_other == min(len(sharing), len(pairs))


@pytest.mark.parametrize("seed,failures", [(21, 1), (23, 2)])
def test_planner_lazy_with_domain_radius_equals_brute_force(seed, failures):
    """Shared-risk domains (sites 1 km apart fail together) by row generation: the
    brute-force count, and the plan feasible by the independent check."""
    from test_capacity import paired_sites

    demand, sites = paired_sites(seed, 3, 4)
    ids = sites["site_id"].tolist()
    labels = [ids[j].rstrip("b") for j in range(len(ids))]
    mask = own_reach(demand, sites)
    N, load, cap = reference(demand, sites, mask)
    plan = plan_sites(demand, sites, budget_ms=BUDGET_MS, model=ON_NET, failures=failures,
                      strategy="lazy", domain_radius_km=2.0, requests_per_person_day=28.8,
                      peak_to_mean=3.0)
    best, _ = brute_force(N, load, cap, failures, labels)
    chosen = site_index(plan, sites)
    assert len(chosen) == best and plan.summary()["status"] == "optimal"
    assert independent_ok(N, load, cap, chosen, failures, labels)
    assert plan.summary()["capacity"]["failure_domains"] == "within 2 km"


def test_points_with_hundreds_of_candidates_are_not_excused():
    """Regression: the excusal test counted live candidates in int8 and wrapped at 128, so
    a point with 256 candidates in budget was excused and an impossible plan "optimal"."""
    import scipy.sparse as sp

    reach = sp.csr_array(np.ones((1, 256), dtype=bool))
    res = capacitated_cover(reach, [10.0], np.ones(256), [1], failures=0)
    assert res.status == "optimal" and res.objective == 10 and len(res.sites) == 10
    res = capacitated_cover(reach, [10.0], np.ones(256), [2], failures=1)
    assert res.status == "optimal" and res.objective == 11


def test_near_integer_costs_are_not_rounded_as_integers():
    """Regression: costs like 100000.4 passed a loose "integral" test, and the bound was
    rounded up past the optimum."""
    import scipy.sparse as sp

    reach = sp.csr_array(np.array([[1, 1, 0], [0, 1, 1]], dtype=bool))
    cost = np.array([100000.4, 100000.0, 100000.4])
    res = capacitated_cover(reach, [1.0, 1.0], np.full(3, 10.0), [1, 1], failures=0,
                            cost=cost)
    assert res.objective == pytest.approx(100000.0) and res.lower_bound <= res.objective


def test_the_sweep_note_names_the_budgets_no_plan_carries():
    """A capacitated sweep's note said "status infeasible_capacity: no plan carries the
    load" on every run, read as a finding (a tester's find). It names the budgets of that
    status, and only when the table has them: at 23 ms (116 km) only the 50 requests/s
    site reaches the 100 requests/s point; at 30 ms the 200 requests/s one does too."""
    from coverage.planner.sweep import budget_sweep

    demand = pd.DataFrame({"demand_id": ["d0"], "lat": [45.0], "lon": [5.0],
                           "population": [1000.0], "load_rps": [100.0]})
    sites = pd.DataFrame({"site_id": ["near", "far"], "lat": [45.01, 46.5], "lon": [5.0, 5.0],
                          "capacity_rps": [50.0, 200.0]})  # far: 167 km
    plan = plan_sites(demand, sites, budget_ms=30, failures=0, model=ON_NET,
                      kmedian_time_limit_s=5)
    assert plan.sites["site_id"].tolist() == ["far"]
    sweep = budget_sweep(demand, sites, [23, 30], failures=(0,), model=ON_NET,
                         time_limit_s=10, capacity=plan.capacity)
    assert sweep["status"].tolist() == ["infeasible_capacity", "optimal"]
    assert "infeasible_capacity at 23 ms: no plan carries the load" in sweep.attrs["note"]
    sweep = budget_sweep(demand, sites, [30], failures=(0,), model=ON_NET, time_limit_s=10,
                         capacity=plan.capacity)
    assert "infeasible_capacity" not in sweep.attrs["note"]


def test_a_cut_scenario_list_checks_the_largest_failures_first(tmp_path):
    """Tester 116: under --scenario-limit the single failures went in site-id order, though
    the summary says "the riskiest first": the largest site's failure (600 rps of load on
    500 rps of the other sites) was left unchecked. A cut list takes the domains of the
    most capacity first; a complete list keeps its order."""
    from coverage.solvers.capacitated import failure_scenarios

    sites = np.array([0, 1, 3])
    cap = np.array([200.0, 300.0, 300.0, 400.0, 100.0])
    cut, complete = failure_scenarios(sites, 1, limit=1, site_risk=cap)
    assert not complete and cut == [(), (3,)]
    full, complete = failure_scenarios(sites, 1, limit=10, site_risk=cap)
    assert complete and full == [(), (0,), (1,), (3,)]
    # the command line: the plan it writes survives the largest site's failure
    d = tmp_path / "d.csv"
    d.write_text("id,lat,lon,population,load_rps\nu0,48.499,13.161,1000,100\n"
                 "u1,49.865,11.119,1000,200\nu2,49.67,12.49,1000,300\n")
    c = tmp_path / "c.csv"
    c.write_text("site_id,lat,lon,capacity_rps\ns0,48.969,11.405,200\ns1,48.147,13.207,300\n"
                 "s2,48.798,12.574,300\ns3,48.791,12.219,400\ns4,49.666,12.565,100\n")
    out = tmp_path / "o"
    r = run("plan", "--demand", d, "--candidates", c, "--budget-ms", 35, "--scenario-limit",
            1, "--out", out, "--no-map", "--no-report", "--no-gis")
    assert r.returncode == 7, r.stderr
    chosen = pd.read_csv(out / "sites.csv")
    checked = pd.read_csv(out / "capacity_scenarios.csv")["failed_site_ids"].tolist()
    biggest = chosen.loc[chosen["capacity_rps"].idxmax(), "site_id"]
    assert checked[1] == biggest
    assert chosen["capacity_rps"].sum() - chosen["capacity_rps"].max() >= 600.0


def test_the_cut_list_ranks_domains_by_their_open_capacity_only():
    """Review 117: a domain was ranked by all its candidates, closed ones included: a
    domain of one open 50 rps site and three closed 400 rps ones went before a 500 rps
    open site. And a list whose single domains all fit keeps its order."""
    from coverage.solvers.capacitated import failure_scenarios

    cap = np.array([500.0, 50.0, 400.0, 400.0, 400.0])
    dom = np.array(["A", "B", "B", "B", "B"], dtype=object)
    cut, complete = failure_scenarios(np.array([0, 1]), 1, dom, limit=1, site_risk=cap)
    assert not complete and cut == [(), (0,)]
    fits, _ = failure_scenarios(np.array([0, 1]), 1, dom, limit=1_000,
                                site_risk=cap[::-1].copy())
    plain, _ = failure_scenarios(np.array([0, 1]), 1, dom, limit=1_000)
    assert fits == plain
