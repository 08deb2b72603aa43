"""The total-capacity lower bound against brute force: never above the true optimum."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from coverage.solvers.capacitated import FLOW_RTOL, capacitated_cover
from coverage.solvers.capacity_bound import CHECK_RTOL, capacity_lower_bound


def test_the_tolerance_is_the_checks():
    assert CHECK_RTOL == FLOW_RTOL


def carries(reach: np.ndarray, load: np.ndarray, cap: np.ndarray, plan: tuple[int, ...],
            failures: int) -> bool:
    """Every scenario of up to ``failures`` failed open sites serves every cell that keeps
    a candidate alive, by networkx max-flow (independent of the module's flow)."""
    for f in range(min(failures, len(plan)) + 1):
        for failed in itertools.combinations(plan, f):
            alive = [s for s in plan if s not in failed]
            g = nx.DiGraph()
            need = 0.0
            for i in range(reach.shape[0]):
                if not (reach[i] & ~np.isin(np.arange(reach.shape[1]), failed)).any():
                    continue  # excused: every candidate in budget failed
                need += load[i]
                g.add_edge("src", ("d", i), capacity=float(load[i]))
                for s in alive:
                    if reach[i, s]:
                        g.add_edge(("d", i), ("s", s), capacity=float("inf"))
            for s in alive:
                g.add_edge(("s", s), "sink", capacity=float(cap[s]))
            if need <= 0:
                continue
            if "sink" not in g or nx.maximum_flow_value(g, "src", "sink") < need - 1e-6:
                return False
    return True


def brute_optimum(reach, load, cap, failures, cost):
    m = reach.shape[1]
    best = None
    for r in range(1, m + 1):
        for plan in itertools.combinations(range(m), r):
            value = float(cost[list(plan)].sum())
            if best is not None and value >= best:
                continue
            if carries(reach, load, cap, plan, failures):
                best = value
    return best


def random_case(seed: int):
    """A small random instance: reach, loads, capacities, failures and costs (unequal for
    every third seed, else None)."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(3, 8)), int(rng.integers(3, 7))
    reach = rng.random((n, m)) < rng.uniform(0.5, 0.95)
    load = rng.uniform(1.0, 60.0, n)
    cap = rng.uniform(20.0, 250.0, m)
    failures = int(rng.integers(0, 3))
    cost = rng.uniform(1.0, 5.0, m) if seed % 3 == 0 else None
    return reach, load, cap, failures, cost


@pytest.mark.parametrize("seed", range(30))
def test_never_above_the_brute_force_optimum(seed):
    reach, load, cap, failures, cost = random_case(seed)
    bound = capacity_lower_bound(load, cap, reach.sum(axis=1), failures, cost=cost)
    best = brute_optimum(reach, load, cap, failures,
                         np.ones(len(cap)) if cost is None else cost)
    if best is None or bound is None:
        return  # no plan, or no bound: nothing claimed
    assert bound <= best + 1e-9, (bound, best)


def test_the_brute_force_cases_are_mostly_plannable_and_often_tight():
    """The random family above is not vacuous: most cases have a plan, and the bound meets
    the optimum in some."""
    found = tight = 0
    for seed in range(30):
        reach, load, cap, failures, cost = random_case(seed)
        if cost is not None:
            continue
        bound = capacity_lower_bound(load, cap, reach.sum(axis=1), failures)
        best = brute_optimum(reach, load, cap, failures, np.ones(len(cap)))
        found += best is not None and bound is not None
        tight += best is not None and bound == best
    assert found >= 12 and tight >= 4, (found, tight)


def test_tight_when_capacity_binds():
    # 5 cells reached by all 8 sites, 450 requests/s, sites of 100: normal operation
    # needs 5, N-1 6, N-2 7 (the largest failures taken out)
    reach = np.ones((5, 8), dtype=bool)
    load = np.full(5, 90.0)
    cap = np.full(8, 100.0)
    for k, want in ((0, 5), (1, 6), (2, 7)):
        assert capacity_lower_bound(load, cap, reach.sum(axis=1), k) == want
        assert brute_optimum(reach, load, cap, k, np.ones(8)) == want
    reach = np.ones((10, 12), dtype=bool)
    load = np.full(10, 95.0)
    # unequal sites: the largest fails first
    cap = np.array([400.0, 300.0, 200.0, 100.0, 100.0, 100.0, 50.0, 50.0, 50.0, 50.0, 50.0,
                    50.0])
    # N-1: the p largest minus the largest >= 950: 400 | 300+200+100+100+100+50+50+50 -> 9
    assert capacity_lower_bound(load, cap, reach.sum(axis=1), 1) == 9
    # with shared-risk domains only normal operation counts: 400+300+200+100 = 1000 -> 4
    assert capacity_lower_bound(load, cap, reach.sum(axis=1), 1,
                                domains=np.arange(12) // 2) == 4
    # short of the load whatever opens: no bound
    assert capacity_lower_bound(load, np.full(12, 10.0), reach.sum(axis=1), 1) is None


def test_excused_cells_are_not_counted():
    # a cell with one candidate is excused when it fails: N-1 counts only the others
    load = np.array([500.0, 100.0])
    n_cov = np.array([1, 3])
    cap = np.full(3, 600.0)
    assert capacity_lower_bound(load, cap, n_cov, 1) == 2  # 600 >= 100 after a failure
    assert capacity_lower_bound(load, cap, np.array([3, 3]), 1) == 2  # 600 >= 600
    assert capacity_lower_bound(load, cap, np.array([0, 0]), 1) is None  # no load


@pytest.mark.parametrize("seed", range(6))
def test_the_solver_never_returns_less_than_the_bound(seed):
    rng = np.random.default_rng(100 + seed)
    n, m = 30, 10
    reach = rng.random((n, m)) < 0.5
    reach[np.arange(n), rng.integers(0, m, n)] = True
    load = rng.uniform(10.0, 60.0, n)
    cap = rng.uniform(150.0, 400.0, m)
    n_cov = reach.sum(axis=1)
    req = np.minimum(2, n_cov)
    res = capacitated_cover(sp.csr_array(reach), load, cap, req, failures=1,
                            time_limit_s=60.0)
    bound = capacity_lower_bound(load, cap, n_cov, 1)
    if res.status == "infeasible" or bound is None:
        return
    assert res.status == "optimal"
    assert bound <= res.objective + 1e-9
    assert res.lower_bound >= bound - 1e-9  # the solver reports at least this bound


def test_a_plan_below_the_bound_is_not_called_optimal():
    """A truncated scenario list (scenario_limit) let a 3-site plan pass: 4 sites of 50 are
    needed for 100 requests/s through any 2 failures. The bound proves it short."""
    reach = sp.csr_array(np.ones((1, 4)))
    res = capacitated_cover(reach, [100.0], [50.0] * 4, [3], failures=2, scenario_limit=3)
    assert capacity_lower_bound([100.0], [50.0] * 4, [4], 2) == 4
    assert len(res.sites) == 3 and res.status == "time_limit_short"
    assert res.lower_bound == 4 and np.isnan(res.gap) and not res.complete
    full = capacitated_cover(reach, [100.0], [50.0] * 4, [3], failures=2)
    assert len(full.sites) == 4 and full.status == "optimal"


def test_edge_values():
    # an unlimited site carries everything: one site
    assert capacity_lower_bound([100.0], [np.inf, 50.0, 50.0], [3], 0) == 1
    # capacity enough only by the pairwise sum, not the running one: no bound, no crash
    from coverage.solvers.capacity_bound import _knapsack

    assert _knapsack(np.full(10, 0.1), np.arange(1.0, 11.0), 1.0) is None
    assert _knapsack(np.full(10, 0.1), np.arange(1.0, 11.0), 0.5) == pytest.approx(15.0)
    assert capacity_lower_bound([0.0], [10.0], [1], 1) is None  # no load
    assert capacity_lower_bound([5.0], [], [1], 1) is None      # no candidate
