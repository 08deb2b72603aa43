"""The capacitated repair's deadline and bulk opening, and the exactness of scenario flows.

- Repair (:func:`coverage.solvers.capacitated_rowgen._repair`, :func:`capacitated_lazy`,
  :func:`coverage.solvers.capacitated.capacitated_cover`): it opens sites in bulk (a few
  checks for many sites added), never starts a further check after its deadline, and a
  search out of time says so (status ``time_limit_short``) instead of claiming a plan.
- Flows (:func:`coverage.solvers.capacitated.scenario_flow`): every cell served exactly its
  load when feasible, no site over capacity, and "feasible" only when the real-valued
  loads and capacities allow it.

Every verdict is checked here with an independent computation on a reach computed here
(haversine, tests/test_capacity.py): an exact integer max-flow of each scenario (scipy's
``maximum_flow`` on a network built here; integer loads and capacities) or its
transportation LP (scipy's HiGHS ``linprog``, real loads), and numpy sums of the flows.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import maximum_flow
from test_capacity import geo_instance, own_reach
from test_capacity_lazy import source_of

from coverage.solvers import capacitated
from coverage.solvers.capacitated import capacitated_cover, check_scenarios, scenario_flow
from coverage.solvers.capacitated_rowgen import _repair, capacitated_lazy, check_plan
from coverage.solvers.rowgen import RowPool

RTOL = 1e-9  # the documented tolerance of the capacity check (share of a scenario's load)


# --------------------------------------------------------------------------------------
# Independent references
# --------------------------------------------------------------------------------------

def lp_served(mask: np.ndarray, load: np.ndarray, cap: np.ndarray, open_sites, failed=()
              ) -> tuple[float, float]:
    """(load to serve, most load servable) of one scenario by the transportation LP: cells
    whose every candidate within budget failed are excused, as in docs/capacity.md."""
    mask = np.asarray(mask, dtype=bool)
    down = np.zeros(mask.shape[1], dtype=bool)
    down[list(failed)] = True
    up = np.zeros(mask.shape[1], dtype=bool)
    up[list(open_sites)] = True
    up &= ~down
    need = np.where((mask & ~down).any(axis=1), load, 0.0)
    i, j = np.nonzero(mask & up[None, :])
    if not len(i):
        return float(need.sum()), 0.0
    k = len(i)
    rows = sp.csr_array((np.ones(k), (i, np.arange(k))), shape=(mask.shape[0], k))
    cols = sp.csr_array((np.ones(k), (j, np.arange(k))), shape=(mask.shape[1], k))
    res = linprog(-np.ones(k), A_ub=sp.vstack([rows, cols]), b_ub=np.concatenate([need, cap]),
                  bounds=(0, None), method="highs")
    assert res.status == 0
    return float(need.sum()), float(-res.fun)


def mf_served(mask: np.ndarray, load: np.ndarray, cap: np.ndarray, open_sites, failed=()
              ) -> tuple[int, int]:
    """(load to serve, most load servable) of one scenario by an exact integer max-flow:
    integer loads and capacities (asserted), excused cells as in :func:`lp_served`."""
    load_i, cap_i = np.asarray(load).astype(np.int64), np.asarray(cap).astype(np.int64)
    assert np.array_equal(load_i, load) and np.array_equal(cap_i, cap)
    mask = np.asarray(mask, dtype=bool)
    n, m = mask.shape
    down = np.zeros(m, dtype=bool)
    down[list(failed)] = True
    up = np.zeros(m, dtype=bool)
    up[list(open_sites)] = True
    up &= ~down
    need = np.where((mask & ~down).any(axis=1), load_i, 0)
    i, j = np.nonzero(mask & up[None, :])
    src, snk = n + m, n + m + 1
    rows = np.concatenate([np.full(n, src), i, n + np.arange(m)])
    cols = np.concatenate([np.arange(n), n + j, np.full(m, snk)])
    caps = np.concatenate([need, np.full(len(i), need.sum()), np.where(up, cap_i, 0)])
    keep = caps > 0
    g = sp.csr_array((caps[keep].astype(np.int32), (rows[keep], cols[keep])),
                     shape=(n + m + 2, n + m + 2))
    return int(need.sum()), int(maximum_flow(g, src, snk).flow_value)


def plan_feasible(mask, load, cap, plan) -> bool:
    """Every scenario of ``plan`` (normal operation and each single site failed, k = 1)
    carries its load, by the exact integer max-flow."""
    for failed in [()] + [(int(s),) for s in plan]:
        need, served = mf_served(mask, load, cap, plan, failed)
        if served < need:
            return False
    return True


def covers(mask, plan, k: int = 1) -> bool:
    have = np.asarray(mask, dtype=bool)[:, list(plan)].sum(axis=1)
    return bool(np.all(have >= np.minimum(k + 1, np.asarray(mask).sum(axis=1))))


# --------------------------------------------------------------------------------------
# Defect A: the repair of a plan short of capacity
# --------------------------------------------------------------------------------------

def repair_setup(seed: int = 7, n: int = 1500, m: int = 150):
    """An instance whose coverage-only plan (a few sites) is far short of capacity: the
    repair must add dozens of sites. Returns what :func:`_repair` takes, and a recorder of
    its checks (start time, stop_after, seconds)."""
    demand, sites = geo_instance(seed, n, m, cap_range=(500, 1100))
    mask = own_reach(demand, sites)
    src = source_of(demand, sites)
    n_cov = src.count()
    assert np.array_equal(n_cov, mask.sum(axis=1))  # the solver's reach is ours
    load = demand["population"].to_numpy(float) / 1000.0
    cap = sites["capacity_rps"].to_numpy(float)
    req = np.minimum(2, n_cov)
    pool = RowPool(src, req, n_cov, 4_000_000)
    calls: list[tuple[float, int | None, float]] = []

    def run_check(plan, stop, until=None):
        t = time.perf_counter()
        out = check_plan(src, load, cap, req, n_cov, plan, 1, stop_after=stop,
                         **({} if until is None else {"deadline": until}))
        calls.append((t, stop, time.perf_counter() - t))
        return out

    args = (src, pool, load, cap, np.ones(m), np.zeros(m, dtype=bool),
            np.zeros(0, dtype=np.int64), n_cov, 4_000_000, run_check)
    return args, calls, mask, load, cap


def test_repair_opens_sites_in_bulk():
    """Dozens of sites added in a handful of checks (one site per cut and check took one
    check per site), and the plan is feasible by the LP of every scenario."""
    args, calls, mask, load, cap = repair_setup()
    t = time.perf_counter()
    plan, check, _ = _repair(*args, time.perf_counter() + 600.0)
    spent_s = time.perf_counter() - t
    adding = [c for c in calls if c[1] != 1]  # the closing phase checks with stop_after=1
    assert check.feasible
    assert len(plan) >= 30  # from nothing: coverage, then capacity for ~46,000 requests/s
    assert len(adding) <= 6, f"{len(adding)} checks to add {len(plan)} sites"
    assert covers(mask, plan) and plan_feasible(mask, load, cap, plan)
    assert spent_s < 60


def test_repair_stops_at_its_deadline():
    """A deadline that cannot be met: no check starts after it but the one under way (the
    old adding phase went on to a feasible plan, one check per site), and the plan
    returned is not claimed feasible unless it is; the scenarios it reports short are."""
    args, calls, mask, load, cap = repair_setup()
    start = time.perf_counter()
    deadline = start + 0.05
    plan, check, _ = _repair(*args, deadline)
    late = [c for c in calls if c[0] > deadline]
    assert len(late) <= 1, f"{len(late)} checks started after the deadline"
    longest_s = max(c[2] for c in calls)
    assert time.perf_counter() - deadline <= 2 * longest_s + 5.0
    if check.feasible:
        assert covers(mask, plan) and plan_feasible(mask, load, cap, plan)
    else:
        assert not covers(mask, plan) or not check.finished or check.bad
        for f in check.bad:  # every scenario said short is short
            need, served = mf_served(mask, load, cap, plan, f.failed)
            assert served < need


def test_lazy_search_out_of_time_is_honest():
    """Out of rounds at once and no time for the final repair: the result is the plan
    reached with status time_limit_short, no gap, and the scenario it reports short is
    short by the LP; given the time, the same search returns a feasible plan."""
    demand, sites = geo_instance(7, 1500, 150, cap_range=(500, 1100))
    mask = own_reach(demand, sites)
    src = source_of(demand, sites)
    n_cov = src.count()
    load = demand["population"].to_numpy(float) / 1000.0
    cap = sites["capacity_rps"].to_numpy(float)
    kw = {"failures": 1, "seed_rows": 5, "at_risk_rows": 3, "max_rounds": 1,
          "repair_every": 0, "region_scales": ()}
    res, info = capacitated_lazy(src, load, cap, np.minimum(2, n_cov), n_cov,
                                 final_repair_s=0.0, **kw)
    assert res.status == "time_limit_short"
    assert np.isnan(res.gap)
    short = [f for f in res.scenarios if not f.feasible]
    assert short and all(f.shed_rps > 0 for f in short)
    for f in short:
        need, served = mf_served(mask, load, cap, res.sites, f.failed)
        assert served < need
    assert not plan_feasible(mask, load, cap, res.sites)
    ok, _ = capacitated_lazy(src, load, cap, np.minimum(2, n_cov), n_cov, **kw)
    assert ok.status in ("optimal", "time_limit")
    assert covers(mask, ok.sites) and plan_feasible(mask, load, cap, ok.sites)


def integer_instance(seed: int, n: int, m: int, density: float, load_high: int,
                     cap_range: tuple[int, int]):
    """Random reach (every row with a candidate), integer loads in [1, load_high) and
    integer capacities in ``cap_range``."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n, m)) < density
    mask[np.arange(n), rng.integers(0, m, n)] = True
    load = rng.integers(1, load_high, n).astype(float)
    cap = rng.integers(*cap_range, m).astype(float)
    return mask, load, cap


def test_full_solver_out_of_time_is_honest():
    """The same for the reach-matrix solver: no time for the final repair gives the plan
    reached, status time_limit_short (not a false 'infeasible', not a false plan)."""
    m = 40
    mask, load, cap = integer_instance(3, 200, m, 0.15, 20, (30, 80))
    req = np.minimum(2, mask.sum(axis=1))
    reach = sp.csr_array(mask.astype(np.int8))
    short = capacitated_cover(reach, load, cap, req, failures=1, max_rounds=1,
                              repair_every=0, final_repair_s=0.0)
    assert short.status == "time_limit_short" and np.isnan(short.gap)
    assert len(short.sites) < m
    bad = [f for f in short.scenarios if not f.feasible]
    assert bad or not short.complete
    for f in bad:  # scenarios refer to merged points: checked on the plan, not the rows
        need, served = mf_served(mask, load, cap, short.sites, f.failed)
        assert served < need
    full = capacitated_cover(reach, load, cap, req, failures=1, max_rounds=1,
                             repair_every=0)
    assert full.status in ("optimal", "time_limit")
    assert covers(mask, full.sites) and plan_feasible(mask, load, cap, full.sites)


def test_a_check_stopped_at_its_deadline_goes_on_where_it_stopped():
    """A check stopped at once (normal operation only) says it did not finish; resumed, it
    solves only the scenarios left and ends as the check run in one go."""
    mask, load, cap = integer_instance(5, 120, 16, 0.3, 10, (40, 90))
    reach = sp.csr_array(mask.astype(np.int8))
    plan = np.arange(12)  # normal operation carried, two failures not
    whole, complete = check_scenarios(reach, load, cap, plan, 1)
    assert len(whole) == 13 and 0 < sum(not f.feasible for f in whole) < 13
    until = capacitated.check_scenarios_until
    part, _, finished = until(reach, load, cap, plan, 1, deadline=time.perf_counter() - 1.0)
    assert not finished and len(part) == 1 < len(whole)
    rest, complete2, finished2 = until(reach, load, cap, plan, 1, done=part)
    assert finished2 and complete2 == complete
    assert rest[0] is part[0]
    assert [(f.failed, f.feasible, f.shed_rps) for f in rest] == [
        (f.failed, f.feasible, f.shed_rps) for f in whole]
    for f in rest:  # each verdict by the exact max-flow
        need, served = mf_served(mask, load, cap, plan, f.failed)
        assert f.feasible == (served >= need)


# --------------------------------------------------------------------------------------
# Defect B: per-cell flows and the feasibility verdict
# --------------------------------------------------------------------------------------

def flow_instance(seed: int, n: int = 300, m: int = 12, density: float = 0.4):
    rng = np.random.default_rng(seed)
    mask = rng.random((n, m)) < density
    mask[np.arange(n), rng.integers(0, m, n)] = True
    # loads over nine orders of magnitude: a unit of 2**-30 of the largest is a large
    # share of the smallest
    load = 10.0 ** rng.uniform(-3, 6, n)
    load[rng.random(n) < 0.05] = 0.0
    return mask, load, rng


def served_and_site_load(f, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    flows = sp.coo_array(f.flows)
    assert np.all(flows.data >= 0)
    return (np.bincount(flows.row, flows.data, minlength=n),
            np.bincount(flows.col, flows.data, minlength=m))


@pytest.mark.parametrize("seed", range(6))
def test_feasible_flows_serve_every_cell_exactly_its_load(seed):
    """Ample capacity, some sites failed: each cell not excused is served exactly its load,
    excused cells nothing, no site above its capacity, closed and failed sites idle."""
    mask, load, rng = flow_instance(seed)
    n, m = mask.shape
    cap = np.full(m, 2.0 * load.sum())
    plan = np.arange(m)
    failed = rng.choice(m, 2, replace=False)
    f = scenario_flow(sp.csr_array(mask.astype(np.int8)), load, cap, plan, failed,
                      with_flows=True)
    assert f.feasible
    served, site_load = served_and_site_load(f, n, m)
    up = np.zeros(m, dtype=bool)
    up[plan] = True
    up[failed] = False
    excused = ~(mask & ~np.isin(np.arange(m), failed)[None, :]).any(axis=1)
    np.testing.assert_allclose(served[~excused], load[~excused], rtol=1e-12, atol=0)
    assert np.all(served[excused] == 0)
    assert np.all(site_load[~up] == 0)
    assert np.all(site_load <= cap)
    np.testing.assert_allclose(f.site_load_rps, site_load, rtol=1e-12, atol=1e-12)
    assert f.served_rps == pytest.approx(load[~excused].sum(), rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_capacity_exactly_the_load_is_feasible_and_served_exactly(seed):
    """Capacities summing exactly to the load, every cell within budget of every site: the
    real numbers allow it, so it is feasible, every cell fully served, no site over (a
    flow from loads rounded up and capacities down fell short of some cell)."""
    rng = np.random.default_rng(seed)
    n, m = 2000, 4
    mask = np.ones((n, m), dtype=bool)
    load = rng.uniform(0.5, 1.5, n)
    cap = np.full(m, load.sum() / m)
    f = scenario_flow(sp.csr_array(mask.astype(np.int8)), load, cap, np.arange(m),
                      with_flows=True)
    assert f.feasible
    served, site_load = served_and_site_load(f, n, m)
    np.testing.assert_allclose(served, load, rtol=1e-12, atol=0)
    assert np.all(site_load <= cap + RTOL * load.sum())


@pytest.mark.parametrize("short_by", [1e-7, 1e-5])
def test_capacity_just_short_of_the_load_is_infeasible(short_by):
    """Capacity a hair short of the load (by less than the n + m rounding units once
    tolerated): infeasible, as the LP says; the load shed is positive, the flow within
    capacity and no cell served above its load, and the cut is violated in real numbers."""
    rng = np.random.default_rng(11)
    n, m = 2000, 4
    mask = np.ones((n, m), dtype=bool)
    load = rng.uniform(0.5, 1.5, n)
    cap = np.full(m, load.sum() / m * (1 - short_by))
    need, best = lp_served(mask, load, cap, np.arange(m))
    assert best < need
    f = scenario_flow(sp.csr_array(mask.astype(np.int8)), load, cap, np.arange(m),
                      with_flows=True)
    assert not f.feasible and f.shed_rps > 0
    served, site_load = served_and_site_load(f, n, m)
    assert np.all(served <= load * (1 + 1e-12)) and np.all(site_load <= cap)
    assert f.served_rps <= best * (1 + 1e-9)
    cut = f.cut_rows
    near = mask[cut].any(axis=0)
    assert load[cut].sum() > cap[near].sum()


def tight_instance(seed: int):
    """Random reach, real loads, capacities from 0.8 to 1.35 times what the load needs
    (seed 0 to 11), every site open, one failed: both verdicts, some near the edge."""
    mask, _, rng = flow_instance(100 + seed, n=150, m=10, density=0.3)
    n, m = mask.shape
    load = rng.uniform(0, 10, n)
    cap = rng.uniform(0.2, 1.8, m) * load.sum() / (m - 1) * (0.8 + 0.05 * seed)
    return mask, load, cap, np.arange(m), rng.integers(0, m, 1)


@pytest.mark.parametrize("seed", range(12))
def test_feasibility_agrees_with_the_lp(seed):
    """Feasible exactly when the LP serves the load (instances within 1e-7 of the edge are
    not asked); a feasible flow serves each cell its load, an infeasible one never more
    than the LP's optimum, and its cut is violated in real numbers."""
    mask, load, cap, plan, failed = tight_instance(seed)
    n, m = mask.shape
    need, best = lp_served(mask, load, cap, plan, failed)
    if abs(best - need) <= 1e-7 * need and best < need * (1 - 1e-12):
        pytest.skip("on the edge of feasibility")
    f = scenario_flow(sp.csr_array(mask.astype(np.int8)), load, cap, plan, failed,
                      with_flows=True)
    assert f.feasible == (best >= need * (1 - 1e-7))
    served, site_load = served_and_site_load(f, n, m)
    assert np.all(site_load <= cap + RTOL * need)
    excused = ~(mask & ~np.isin(np.arange(m), failed)[None, :]).any(axis=1)
    if f.feasible:
        np.testing.assert_allclose(served[~excused], load[~excused], rtol=1e-12, atol=0)
    else:
        assert np.all(served <= load * (1 + 1e-12))
        assert f.served_rps <= best * (1 + 1e-9)
        up = np.ones(m, dtype=bool)
        up[failed] = False
        near = (mask[f.cut_rows] & up[None, :]).any(axis=0)
        assert np.where(excused, 0.0, load)[f.cut_rows].sum() > cap[near].sum()


def test_tight_instances_have_both_verdicts():
    """The instances above are not all feasible, nor all infeasible."""
    verdicts = set()
    for seed in range(12):
        mask, load, cap, plan, failed = tight_instance(seed)
        need, best = lp_served(mask, load, cap, plan, failed)
        verdicts.add(best >= need * (1 - 1e-7))
    assert verdicts == {True, False}


def test_site_loads_without_pair_flows_are_those_with_them():
    """The failure scenarios' utilisations are solved without pair flows (their site loads
    only); a scenario saturated on its second pass returned that pass's remainder alone
    (0.009 of a site's 637,315 requests/s on Germany's 2-site plan at 45 ms: the notebook's
    cheapest fleet halved). Both modes give the same loads, on instances where the first
    pass does not saturate (large real loads)."""
    bad = []
    for seed in range(120):
        rng = np.random.default_rng(seed)
        n, m = int(rng.integers(5, 60)), int(rng.integers(2, 8))
        reach = sp.csr_array((rng.random((n, m)) < 0.6).astype(np.int8))
        load = rng.uniform(1e3, 3e4, n) * rng.choice([1.0, 1e-3, 1e2])
        cap = rng.uniform(0.3, 2, m) * load.sum() / m * 2
        failed = [int(rng.integers(0, m))]
        for u in (1.0, 0.5, 0.3):
            full = scenario_flow(reach, load, cap * u, np.arange(m), failed, with_flows=True)
            bare = scenario_flow(reach, load, cap * u, np.arange(m), failed)
            assert full.feasible == bare.feasible
            if full.feasible and not np.allclose(full.site_load_rps, bare.site_load_rps,
                                                 rtol=1e-6, atol=1e-6 * load.sum()):
                bad.append((seed, u))
    assert not bad, bad
