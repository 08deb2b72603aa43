"""The least capacity of every chosen site that carries every scenario
(:mod:`coverage.solvers.sizing`, ``sizing="least"``, what compare prices).

Checked against an independent dense linear program (scipy's linprog over every point and
every scenario, its own reach and scenario list, no component reduction), and every sizing
the tool returns, and every fleet compare prices, against networkx's max-flow in every
failure scenario (tests/test_capacity.py's reference).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import ON_NET
from scipy.optimize import linprog
from test_capacity import (
    BUDGET_MS,
    brute_force,
    geo_instance,
    own_reach,
    reference,
    scenarios,
    shortfall,
    site_index,
)

from coverage import plan_sites
from coverage.errors import InputValidationError
from coverage.solvers.sizing import least_capacity, neighbourhood

LOAD = {"requests_per_person_day": 28.8, "peak_to_mean": 3.0}  # population / 1000 rps


def dense_least(mask, load, cap, chosen, k, domains) -> float | None:
    """min sum c_j over every scenario's flow, every point, written out densely."""
    n = mask.shape[0]
    scen = scenarios(sorted(chosen), k, domains)
    reach = [set(np.flatnonzero(mask[i]).tolist()) for i in range(n)]
    col = {j: t for t, j in enumerate(chosen)}
    n_var = len(chosen)
    var: dict[tuple[int, int, int], int] = {}
    eq: list[tuple[dict[int, float], float]] = []
    ub: list[dict[int, float]] = []
    for s, failed in enumerate(scen):
        for i in range(n):
            if load[i] <= 0 or reach[i] <= failed:  # no load, or excused
                continue
            row = {}
            for j in chosen:
                if j in reach[i] and j not in failed:
                    var[(s, i, j)] = n_var
                    row[n_var] = 1.0
                    n_var += 1
            eq.append((row, load[i]))
        for j in chosen:
            if j not in failed:
                row = {var[(s, i, j)]: 1.0 for i in range(n) if (s, i, j) in var}
                row[col[j]] = -1.0
                ub.append(row)

    def dense(rows):
        out = np.zeros((len(rows), n_var))
        for t, r in enumerate(rows):
            for c, v in r.items():
                out[t, c] = v
        return out

    c = np.zeros(n_var)
    c[:len(chosen)] = 1.0
    res = linprog(c, A_ub=dense(ub), b_ub=np.zeros(len(ub)), A_eq=dense([r for r, _ in eq]),
                  b_eq=[b for _, b in eq],
                  bounds=[(0, cap[j]) for j in chosen] + [(0, None)] * (n_var - len(chosen)),
                  method="highs")
    return float(res.fun) if res.status == 0 else None


def carries_every_scenario(N, load, chosen, size_rps, k, domains) -> bool:
    """networkx: every scenario's load served with every site at ``size_rps`` (integer
    thousandths, rounded up by one part in 1e7 for the sizes' float rounding)."""
    need = [int(np.ceil(v * 1000 * (1 + 1e-7))) for v in size_rps]
    for failed in scenarios(sorted(chosen), k, domains):
        want, served = shortfall(N, load, need, set(chosen), failed)
        if served < want:
            return False
    return True


@pytest.mark.parametrize("all_at_once", [0, 1000])
@pytest.mark.parametrize("seed", [1, 2, 3, 5, 8, 9, 10, 11, 12, 14, 15, 16, 20, 24])
def test_least_capacity_is_the_dense_programs_and_carries_every_scenario(seed, all_at_once):
    """Random k (0-2) and shared-risk domains; seeds whose load some plan carries. Every
    scenario in one program, and by scenario generation from normal operation alone."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(0, 3))
    n_domains = [None, 3, 5][int(rng.integers(0, 3))]
    demand, sites = geo_instance(seed, 30, 8, cap_range=(150, 700))
    mask = own_reach(demand, sites)
    N, load, cap = reference(demand, sites, mask)
    domains = (None if n_domains is None
               else [f"F{d}" for d in rng.integers(0, n_domains, len(sites))])
    best, plan = brute_force(N, load, cap, k, domains)
    assert best is not None
    chosen = sorted(plan)
    load_rps, cap_rps = np.asarray(load, float) / 1000, np.asarray(cap, float) / 1000
    got = least_capacity(sp.csr_array(mask), load_rps, cap_rps, chosen, k, domains=domains,
                         all_at_once=all_at_once)
    want = dense_least(mask, load_rps, cap_rps, chosen, k, domains)
    assert got.status == "optimal" and want is not None
    assert got.lower_bound_rps == pytest.approx(want, rel=1e-6)
    assert got.total_rps == pytest.approx(want, rel=1e-6)
    assert np.all(got.need_rps[chosen] <= cap_rps[chosen])  # (exactly: tester 142)
    assert np.all(got.need_rps[np.setdiff1d(np.arange(len(cap)), chosen)] == 0)
    assert carries_every_scenario(N, load, chosen, got.need_rps, k, domains)
    # the program's own normal flow: within the sizes, all the load in reach, and a flow
    # (networkx carries normal operation with every site at its load there)
    normal = got.normal_load_rps
    assert np.all(normal <= got.need_rps) and np.all(normal >= 0)
    served = mask[:, chosen].any(axis=1)
    assert normal.sum() == pytest.approx(load_rps[served].sum(), rel=1e-9)
    assert carries_every_scenario(N, load, chosen, normal * (1 + 1e-6), 0, None)


def chain(seed: int, m: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Sites 0..m-1 on a line: point i within budget of sites i and i + 1, and a point
    within budget of site j alone for every j; random loads (a failure's load moves along
    the line, as far as the loads make it)."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((2 * m - 1, m), dtype=bool)
    mask[np.arange(m - 1), np.arange(m - 1)] = True
    mask[np.arange(m - 1), np.arange(1, m)] = True
    mask[m - 1 + np.arange(m), np.arange(m)] = True
    load = rng.uniform(0.1, 1.0, 2 * m - 1) * rng.choice([1.0, 8.0], 2 * m - 1)
    return mask, load


def nx_carries(mask: np.ndarray, load: np.ndarray, size_rps: np.ndarray, k: int,
               unit: float = 1e-9, slack: float = 1e-7) -> bool:
    """networkx: every scenario of up to ``k`` failed sites served at ``size_rps``, in exact
    integers of ``unit`` requests/s (the loads rounded up, the sizes down after ``slack``
    for their float rounding, 1e-7 as :func:`carries_every_scenario`); a point whose
    every site failed is excused."""
    import itertools

    import networkx as nx

    n, m = mask.shape
    for failed in itertools.chain.from_iterable(
            itertools.combinations(range(m), r) for r in range(k + 1)):
        alive = [j for j in range(m) if j not in failed]
        g = nx.DiGraph()
        want = 0
        for i in range(n):
            if not mask[i, alive].any():
                continue
            units = int(np.ceil(load[i] / unit))
            want += units
            g.add_edge("src", ("d", i), capacity=units)
            for j in alive:
                if mask[i, j]:
                    g.add_edge(("d", i), ("s", j))
        for j in alive:
            g.add_edge(("s", j), "snk", capacity=int(np.floor(size_rps[j] / unit
                                                              * (1 + slack))))
        if want and nx.maximum_flow_value(g, "src", "snk") < want:
            return False
    return True


def test_a_scenarios_neighbourhood_grows_a_step_at_a_time():
    """Hand-computed on the chain: site 0 failed; step 1 is the points within budget of
    it (0, and its own point, excused and so not in the block), step 2 adds point 1
    (within budget of site 1, which point 0 reaches), step 3 point 2; the block's own
    points of sites 1, 2 come in with their sites' step."""
    mask, load = chain(0, m=6)
    a = sp.csr_array(mask)
    m = mask.shape[1]
    keep = np.setdiff1d(np.arange(a.shape[0]), [5])  # site 0's own point is excused
    block = sp.csr_array(a[keep][:, 1:].astype(float))
    block = sp.csr_array((block.data, block.indices + 1, block.indptr), shape=(len(keep), m))
    one, closed = neighbourhood(a, keep, block, (0,), 1)
    assert keep[one].tolist() == [0] and not closed
    two, _ = neighbourhood(a, keep, block, (0,), 2)
    assert keep[two].tolist() == [0, 1, 6]
    three, _ = neighbourhood(a, keep, block, (0,), 3)
    assert keep[three].tolist() == [0, 1, 2, 6, 7]
    every, closed = neighbourhood(a, keep, block, (0,), 50)
    assert keep[every].tolist() == keep.tolist() and closed


@pytest.mark.parametrize("start_hops", [1, 2, None])
@pytest.mark.parametrize(("k", "all_at_once"), [(1, 1000), (1, 0), (2, 1000), (2, 0)])
def test_blocks_near_the_failed_sites_reach_the_whole_programs_optimum(k, all_at_once,
                                                                       start_hops):
    """Along a chain a failure's load moves site to site, so blocks of a step or two are
    short at their sizes and grow (counted over the seeds) when every scenario is in the
    program; generated scenarios never grow, their capacity cuts carry the rest. The least
    total is the dense program's, and the sizes carry every scenario (networkx)."""
    grown = cuts = 0
    for seed in range(6):
        mask, load = chain(seed)
        m = mask.shape[1]
        cap = np.full(m, 1e3)
        chosen = list(range(m))
        got = least_capacity(sp.csr_array(mask), load, cap, chosen, k,
                             all_at_once=all_at_once, start_hops=start_hops)
        want = dense_least(mask, load, cap, chosen, k, None)
        assert got.status == "optimal" and want is not None
        assert got.total_rps == pytest.approx(want, rel=1e-6)
        assert got.lower_bound_rps == pytest.approx(want, rel=1e-6)
        assert nx_carries(mask, load, got.need_rps, k)
        # the least: a thousandth less everywhere leaves some scenario short
        assert not nx_carries(mask, load, got.need_rps * (1 - 1e-3), k)
        grown += got.info["grown"]
        cuts += got.info["cuts"]
        if start_hops is None:
            assert got.info["near_failed"] == 0
    if all_at_once:
        assert (grown > 0) == (start_hops == 1)
    else:  # (normal operation alone first: its sizes leave failure scenarios short)
        assert grown == 0 and cuts > 0


def test_the_least_capacity_is_below_the_sum_of_worst_loads():
    """On the instances above the program is at most each site's worst load over the
    scenarios checked one by one at full capacity, and below it on some (the reason to
    size this way)."""
    below = 0
    for seed in range(6):
        demand, sites = geo_instance(seed, 30, 8, cap_range=(150, 700))
        plan = plan_sites(demand, sites, budget_ms=BUDGET_MS, model=ON_NET, failures=1,
                          strategy="full", sizing="least", **LOAD)
        t = plan.sites
        worst = t["worst_utilisation"] * t["capacity_rps"]
        least = t["sized_capacity_rps"]
        assert least.sum() <= worst.sum() * (1 + 1e-6)
        below += least.sum() < worst.sum() * (1 - 1e-3)
    assert below >= 1


def test_tiny_loads_beside_huge_ones_are_carried():
    """A load of 1e-9 requests/s beside one of 1e6 (HiGHS's tolerances are absolute): every
    point's load is in the sizes, by the exact flows, not the solver's rounding."""
    rng = np.random.default_rng(5)
    n, m = 40, 6
    mask = rng.random((n, m)) < 0.5
    mask[np.arange(n), rng.integers(0, m, n)] = True
    mask[np.arange(n), (np.arange(n) + 1) % m] = True
    load = np.where(rng.random(n) < 0.5, 1e-9, 1e6) * rng.uniform(0.5, 1.5, n)
    cap = np.full(m, 1e8)
    got = least_capacity(sp.csr_array(mask), load, cap, np.arange(m), 1)
    assert got.status == "optimal"
    # every single failure: the survivors' sizes carry what must move (networkx, exact
    # integers in units of 1e-9 requests/s: the loads rounded up, the sizes down)
    assert nx_carries(mask, load, got.need_rps, 1, slack=1e-9)


def test_the_plans_sized_capacities_carry_every_scenario():
    """``sizing="least"``: sites.csv's sized capacities carry every scenario (networkx);
    without it the column is empty and the summary says nothing."""
    demand, sites = geo_instance(3, 40, 9, cap_range=(300, 700))
    kw = dict(budget_ms=BUDGET_MS, model=ON_NET, failures=1, strategy="full", **LOAD)
    plan = plan_sites(demand, sites, sizing="least", **kw)
    s = plan.summary()["capacity"]["sizing"]
    assert s["status"] == "optimal" and s["scenarios"] == plan.summary()["site_count"] + 1
    chosen = site_index(plan, sites)
    mask = own_reach(demand, sites)
    N, load, _ = reference(demand, sites, mask)
    size = np.zeros(len(sites))
    pos = {x: j for j, x in enumerate(sites["site_id"])}
    for x, v in zip(plan.sites["site_id"], plan.sites["sized_capacity_rps"], strict=True):
        size[pos[x]] = v
    assert carries_every_scenario(N, load, chosen, size, 1, None)
    assert plan_sites(demand, sites, **kw).summary()["capacity"]["sizing"] is None
    assert "sized_capacity_rps" in plan_sites(demand, sites, **kw).sites.columns


@pytest.mark.parametrize("rppd", [50.0, 100.0])
def test_compare_prices_the_least_sizing_and_it_carries_every_scenario(rppd):
    """compare (its default sizing "least") on a small real-data-free instance: the priced
    fleet (accelerators x throughput x target utilisation per site) carries every failure
    scenario by networkx, with no more accelerators than the most even sizing."""
    from coverage import compare

    demand, sites = geo_instance(3, 150, 25, cap_range=(300, 700), box_deg=3.0)
    sites = sites.drop(columns="capacity_rps").assign(power_kw=3.0)
    c = compare(demand, sites, budget_ms=BUDGET_MS, model=ON_NET, failures=1,
                requests_per_person_day=rppd, strategy="full")
    e = c.document["edge"]
    sz = e["sizing"]
    assert sz["least_capacity"] == "optimal" and sz["by"] == "least"
    assert sz["accelerators"] < sz["accelerators_most_even"]
    from coverage.model.workloads import WorkloadCatalog

    table = c.sites
    thr = WorkloadCatalog.builtin().get(e["workload"]).throughput_rps
    target = c.document["assumptions"]["target_utilisation"]
    chosen = site_index(c.plan, sites)
    mask = own_reach(demand, sites)
    load_rps = c.plan.capacity.load_rps
    N = [set(np.flatnonzero(mask[i]).tolist()) for i in range(len(demand))]
    load = np.round(np.asarray(load_rps) * 1000).astype(int).tolist()
    size = np.zeros(len(sites))
    pos = {x: j for j, x in enumerate(sites["site_id"])}
    for x, n_acc in zip(table["site_id"], table["n_accelerators"], strict=True):
        size[pos[x]] = n_acc * thr * target * (1 - 1e-6)  # (the loads are rounded up)
    assert carries_every_scenario(N, load, chosen, size, 1, None)
    # utilisation from the sizing's own normal flow: no site above the target (the most
    # even flow's loads read up to 2.9 on Kenya's demo; tester 151), the peak all the load
    own_normal = c.plan.sites.set_index("site_id")["sized_normal_load_rps"]
    assert np.allclose(table["peak_load_rps"], own_normal.reindex(table["site_id"]))
    assert (table["utilisation_peak"] <= target * (1 + 1e-9)).all()
    assert table["peak_load_rps"].sum() == pytest.approx(c.plan.sites["load_rps"].sum(),
                                                         rel=1e-9)
    size = np.zeros(len(sites))
    for x, v in own_normal.items():
        size[pos[x]] = v * (1 + 1e-6)
    assert carries_every_scenario(N, load, chosen, size, 0, None)


def test_a_site_without_capacity_gets_none():
    """Tester 137: a chosen site of capacity 0 was sized above it (its row's unit fell
    back to 1)."""
    mask = np.ones((4, 3), dtype=bool)
    got = least_capacity(sp.csr_array(mask), [0.3] * 4, [0.0, 10.0, 10.0], [0, 1, 2], 1)
    assert got.status == "optimal"
    assert got.need_rps[0] == 0.0
    assert got.total_rps == pytest.approx(2 * 1.2, rel=1e-6)  # N-1 over the two others


@pytest.mark.parametrize("capacity", [1e3, 1e7, 1e11])
def test_the_sizes_do_not_depend_on_how_large_the_capacities_are(capacity):
    """Tester 137: with capacities 1e7 x the loads the sizes drifted from the optimum
    (the capacity rows in units of the capacity fell under HiGHS's tolerances)."""
    rng = np.random.default_rng(0)
    n, m = 30, 5
    mask = rng.random((n, m)) < 0.6
    mask[np.arange(n), rng.integers(0, m, n)] = True
    mask[np.arange(n), (rng.integers(1, m, n) + mask.argmax(1)) % m] = True
    load = rng.uniform(1, 50, n)
    want = least_capacity(sp.csr_array(mask), load, np.full(m, 1e3), np.arange(m), 1)
    got = least_capacity(sp.csr_array(mask), load, np.full(m, capacity), np.arange(m), 1)
    assert got.status == want.status == "optimal"
    assert got.total_rps == pytest.approx(want.total_rps, rel=1e-6)
    assert got.lower_bound_rps == pytest.approx(want.lower_bound_rps, rel=1e-6)


def test_sizing_without_a_load_is_said(caplog):
    """Tester 137: plan_sites(sizing="least") without a load was silently ignored."""
    demand, sites = geo_instance(3, 20, 6)
    with caplog.at_level("WARNING", logger="coverage"):
        plan = plan_sites(demand, sites.drop(columns="capacity_rps"), budget_ms=BUDGET_MS,
                          model=ON_NET, failures=1, sizing="least", sizing_time_limit_s=9)
    assert plan.capacity is None
    assert "sizing 'least' is not used: this plan has no load" in caplog.text
    assert "sizing_time_limit_s 9 is not used: this plan has no load" in caplog.text


def test_a_capacity_column_without_a_load_is_said(caplog):
    """Tester 145: a capacity_rps column with no load was silently unused."""
    demand, sites = geo_instance(3, 20, 6)
    assert "capacity_rps" in sites.columns
    with caplog.at_level("WARNING", logger="coverage"):
        plan = plan_sites(demand, sites, budget_ms=BUDGET_MS, model=ON_NET, failures=1)
    assert plan.capacity is None
    assert "column capacity_rps not used: this plan has no load" in caplog.text


def test_compare_sites_keep_the_worst_load_and_give_the_sized_one():
    """Tester 137: with the least sizing, compare_sites.csv's worst_load_rps held the sizes;
    it keeps the most even flows' worst load, sized_load_rps is what was sized for, and the
    worst utilisation is over the sized load (at most the target)."""
    from coverage import compare

    demand, sites = geo_instance(3, 150, 25, cap_range=(300, 700), box_deg=3.0)
    sites = sites.drop(columns="capacity_rps").assign(power_kw=3.0)
    c = compare(demand, sites, budget_ms=BUDGET_MS, model=ON_NET, failures=1,
                requests_per_person_day=100.0, strategy="full")
    sz = c.document["edge"]["sizing"]
    assert sz["by"] == "least" and sz["accelerators"] < sz["accelerators_most_even"]
    t = c.sites.set_index("site_id")
    p = c.plan.sites.set_index("site_id")
    want_worst = np.maximum(p["worst_utilisation"] * p["capacity_rps"], p["load_rps"])
    assert np.allclose(t["worst_load_rps"], want_worst.reindex(t.index), rtol=1e-9)
    assert np.allclose(t["sized_load_rps"], p["sized_capacity_rps"].reindex(t.index),
                       rtol=1e-9)
    target = c.document["assumptions"]["target_utilisation"]
    assert (t["utilisation_worst"] <= target * (1 + 1e-9)).all()


@pytest.mark.parametrize("start_hops", [2, None])
def test_a_site_without_capacity_is_never_given_a_rounding_remainder(start_hops):
    """Tester 139: the max-flow check placed a float remainder (1e-16) on a site of size 0,
    which failed the site test (relative to 0), and a feasible plan read "error"."""
    mask = np.array([[1, 1, 1, 0, 1], [1, 0, 1, 1, 0]], dtype=bool)
    load = np.array([0.6527754099873045, 8.086027169993683])
    cap = np.array([0.0, *[304.0880030722222] * 4])
    got = least_capacity(sp.csr_array(mask), load, cap, np.arange(5), 1,
                         start_hops=start_hops)
    want = dense_least(mask, load, cap, list(range(5)), 1, None)
    assert got.status == "optimal" and got.total_rps == pytest.approx(want, rel=1e-9)
    assert got.need_rps[0] == 0
    assert nx_carries(mask, load, got.need_rps, 1)


def test_a_witness_column_past_the_capacities_is_never_open():
    """The reach may carry a witness column past ``cap_rps`` (the docstring's contract):
    it was handed to the check without a size and crashed (tester 139)."""
    mask = np.array([[1, 1, 0], [1, 1, 1], [1, 1, 0]], dtype=bool)
    got = least_capacity(sp.csr_array(mask), [1.0, 2.0, 3.0], [100.0, 100.0], [0, 1], 1)
    assert got.status == "optimal" and got.need_rps.tolist() == [6.0, 6.0]


def test_no_open_site_for_a_loaded_point_is_infeasible():
    """No site chosen and a point with load and a candidate in budget: not optimal at zero
    sizes (tester 139); a point with no candidate at all is excused."""
    mask = np.array([[1, 0], [0, 0]], dtype=bool)
    assert least_capacity(sp.csr_array(mask), [5.0, 1.0], [10.0, 10.0], [], 1
                          ).status == "infeasible"
    assert least_capacity(sp.csr_array(mask), [0.0, 1.0], [10.0, 10.0], [], 1
                          ).status == "optimal"


def n2_instance(seed: int):
    """A random geographic instance, the fewest sites carrying it at N-2 (brute force), in
    requests/s: (mask, reach lists, loads in thousandths, chosen sites, loads, capacities)."""
    demand, sites = geo_instance(seed, 30, 8, cap_range=(150, 700))
    mask = own_reach(demand, sites)
    N, load, cap = reference(demand, sites, mask)
    best, plan = brute_force(N, load, cap, 2)
    assert best is not None
    chosen = np.asarray(sorted(plan))
    return (mask, N, load, chosen, np.asarray(load, float) / 1000,
            np.asarray(cap, float) / 1000)


@pytest.mark.parametrize("seed", [1, 2, 3, 5])
def test_capacity_cuts_hold_for_every_carrying_sizing_and_cut_off_the_short_one(seed):
    """Each cut of a scenario short at some sizes is violated by those sizes and holds for
    the least sizing (which carries every scenario, networkx); its sites are exactly the
    open sites alive within budget of its points, its load theirs, no point of it
    excused (written out from the mask, not the tool's matrices)."""
    from coverage.solvers.capacitated import check_scenarios
    from coverage.solvers.sizing import capacity_cuts

    mask, N, load, chosen, load_rps, cap_rps = n2_instance(seed)
    least = least_capacity(sp.csr_array(mask), load_rps, cap_rps, chosen, 2)
    assert least.status == "optimal"
    assert carries_every_scenario(N, load, chosen, least.need_rps, 2, None)
    a = sp.csr_array(mask)
    pattern = sp.csr_array((np.ones(a.nnz, dtype=np.int8), a.indices, a.indptr),
                           shape=a.shape)
    n_cuts = 0
    for scale in (0.5, 0.9, 0.99):
        low = least.need_rps * scale
        flows, _ = check_scenarios(a, load_rps, low, chosen, 2)
        for f in flows:
            if f.feasible or not f.failed:
                continue
            for cols, need in capacity_cuts(pattern, load_rps, chosen, f, low):
                n_cuts += 1
                alive = set(chosen.tolist()) - set(f.failed)
                points = [i for i in f.cut_rows
                          if load_rps[i] > 0 and not set(N[i]) <= set(f.failed)
                          and set(N[i]) & set(cols)]
                assert need == pytest.approx(sum(load_rps[i] for i in points), rel=1e-12)
                assert set(cols) == set().union(*(set(N[i]) & alive for i in points))
                assert low[list(cols)].sum() < need * (1 - 1e-9)
                assert least.need_rps[list(cols)].sum() >= need * (1 - 1e-7)
    assert n_cuts > 0


def test_capacity_cuts_are_the_violated_connected_parts_of_the_minimum_cut():
    """Every cut a short scenario gives is exactly a connected part (networkx, the graph of
    the cut's points and the open sites alive within budget) of its minimum cut's demand
    side, its excused and unloaded points out, whose load the sizes do not carry; and
    every such part gives its cut, in the order of the parts' first points."""
    import networkx as nx

    from coverage.solvers.capacitated import check_scenarios
    from coverage.solvers.sizing import capacity_cuts

    several = 0
    for seed in (4, 6, 7, 8, 9):
        # three regions that share no site (a minimum cut can hold points of several), a
        # random reach in each, some points with no open site, some without load
        rng = np.random.default_rng(seed)
        mask = np.zeros((45, 15), dtype=bool)
        for r in range(3):
            block = rng.random((15, 5)) < 0.45
            mask[15 * r:15 * (r + 1), 5 * r:5 * (r + 1)] = block
        N = [set(np.flatnonzero(row).tolist()) for row in mask]
        load_rps = rng.uniform(0.2, 1.0, 45) * (rng.random(45) > 0.1)
        cap = rng.uniform(2.0, 8.0, 15)
        chosen = np.flatnonzero(mask.any(axis=0))
        a = sp.csr_array(mask)
        pattern = sp.csr_array((np.ones(a.nnz, dtype=np.int8), a.indices, a.indptr),
                               shape=a.shape)
        for scale in (0.4, 0.7, 1.0):
            low = cap * scale
            flows, _ = check_scenarios(a, load_rps, low, chosen, 2)
            for f in flows:
                if f.feasible or not f.failed:
                    continue
                alive = set(chosen.tolist()) - set(f.failed)
                g = nx.Graph()
                g.add_nodes_from(("p", int(i)) for i in f.cut_rows)
                g.add_edges_from((("p", int(i)), ("s", j)) for i in f.cut_rows
                                 for j in N[i] if j in alive)
                parts = sorted((sorted(i for kind, i in c if kind == "p")
                                for c in nx.connected_components(g) if any(
                                    kind == "p" for kind, _ in c)), key=lambda p: p[0])
                want = []
                for part in parts:
                    points = [i for i in part
                              if load_rps[i] > 0 and not set(N[i]) <= set(f.failed)]
                    if not points:
                        continue
                    cols = sorted(set().union(*(set(N[i]) & alive for i in points)))
                    need = sum(load_rps[i] for i in points)
                    if low[cols].sum() < need * (1 - 1e-9):
                        want.append((tuple(cols), need))
                got = capacity_cuts(pattern, load_rps, chosen, f, low)
                assert [c for c, _ in got] == [c for c, _ in want]
                assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-12)
                several += len(want) > 1
    assert several > 0  # (the split is exercised)


@pytest.mark.parametrize("seed", [1, 2, 3, 5, 8])
def test_neighbourhood_cuts_are_halls_sets_of_each_scenarios_points_and_hold(seed):
    """Every seeded cut, written out from the mask: in some scenario, the sites alive of one
    loaded point within budget of a failed site, with the load of every such point whose
    sites alive are among them (none excused); the largest over the scenarios, and every
    such set named. The least sizing (networkx: it carries every scenario) meets them all,
    and a generated sizing (every scenario past the first program) says it seeded them."""
    from coverage.solvers.sizing import neighbourhood_cuts

    mask, N, load, chosen, load_rps, cap_rps = n2_instance(seed)
    want: dict[tuple[int, ...], float] = {}
    for failed in scenarios(chosen.tolist(), 2, None):
        alive = set(chosen.tolist()) - set(failed)
        touched = [i for i in range(len(load)) if load_rps[i] > 0 and set(N[i]) & failed
                   and set(N[i]) & alive]
        for i in touched:
            own = set(N[i]) & alive
            need = sum(load_rps[p] for p in touched if set(N[p]) & alive <= own)
            key = tuple(sorted(own))
            want[key] = max(want.get(key, 0.0), need)
    a = sp.csr_array(mask)
    got = neighbourhood_cuts(a, load_rps, chosen, scenarios(chosen.tolist(), 2, None))
    assert got.keys() == want.keys()
    for key, need in want.items():
        assert got[key] == pytest.approx(need, rel=1e-12)
    least = least_capacity(a, load_rps, cap_rps, chosen, 2, all_at_once=0)
    assert least.status == "optimal" and least.info["seeded"] == len(got)
    assert carries_every_scenario(N, load, chosen, least.need_rps, 2, None)
    for key, need in got.items():
        assert least.need_rps[list(key)].sum() >= need * (1 - 1e-7)
    assert neighbourhood_cuts(a, load_rps, chosen, scenarios(chosen.tolist(), 2, None),
                              deadline=0.0) == {}


def test_the_sizing_has_its_own_time_limit(tmp_path):
    """``sizing_time_limit_s`` bounds the capacity stages after the plan (they each took
    ``time_limit_s`` on top of the run): a limit already over when the sizing starts stops
    it, names the flag, and leaves the site count as it was; the same plan without it sizes
    within ``time_limit_s``. The command line refuses a bad value (without a load it
    refuses the option too: test_sizing_without_a_load_is_said has the API's warning)."""
    import subprocess
    import sys

    demand, sites = geo_instance(3, 40, 9, cap_range=(300, 700))
    kw = dict(budget_ms=BUDGET_MS, model=ON_NET, failures=1, strategy="full", **LOAD,
              sizing="least")
    cut = plan_sites(demand, sites, sizing_time_limit_s=1e-9, **kw)
    whole = plan_sites(demand, sites, **kw)
    s_cut, s_whole = cut.summary(), whole.summary()
    assert s_cut["capacity"]["sizing"]["status"] == (
        "not computed: its program did not finish within 1e-09 s (--sizing-time-limit-s)")
    assert np.isnan(cut.sites["sized_capacity_rps"]).all()
    assert s_whole["capacity"]["sizing"]["status"] == "optimal"
    assert s_cut["site_count"] == s_whole["site_count"]
    assert s_cut["parameters"]["sizing_time_limit_s"] == 1e-9
    assert s_whole["parameters"]["sizing_time_limit_s"] is None
    with pytest.raises(InputValidationError, match=r"sizing_time_limit_s \(--sizing-time-l"):
        plan_sites(demand, sites, sizing_time_limit_s=0, **kw)
    run = subprocess.run(
        [sys.executable, "-m", "coverage", "plan", "--demo", "--country", "LU", "--out",
         str(tmp_path / "p"), "--sizing-time-limit-s", "-1"], capture_output=True, text=True)
    assert run.returncode == 2 and "--sizing-time-limit-s" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("seed", range(6))
def test_the_plans_rows_keep_every_scenarios_load_shed_and_site_loads(seed):
    """``plan_rows`` (the sizing's reduction: the plan's domains, a witness, merged) leaves
    every scenario as the full reach has it: the load to serve (who is excused), whether it
    is carried and how much is shed, at capacities that carry some scenarios and not others;
    and sizing the full reach equals sizing the reduced one."""
    from coverage.solvers.capacitated import check_scenarios, plan_rows

    rng = np.random.default_rng(seed)
    n, m = 60, 12
    mask = rng.random((n, m)) < 0.4
    mask[rng.random(n) < 0.1] = False  # points with no candidate
    load = rng.uniform(0.1, 2.0, n) * rng.choice([0.0, 1.0, 5.0], n, p=[0.1, 0.6, 0.3])
    domains = None if seed % 3 == 0 else [f"D{d}" for d in rng.integers(0, 5, m)]
    chosen = np.sort(rng.choice(m, 8, replace=False))
    # the points with no open site in reach take no load (the plan has none for them)
    load = np.where(mask[:, chosen].any(axis=1), load, 0.0)
    cap = np.full(m, 0.3 * float(load.sum()))
    k = 1 + seed % 2
    full = sp.csr_array(mask)
    reduced, merged_load = plan_rows(full, load, chosen, domains, m)
    assert reduced.shape[0] <= n and merged_load.sum() == pytest.approx(load.sum())
    a, _ = check_scenarios(full, load, cap, chosen, k, domains=domains)
    b, _ = check_scenarios(reduced, merged_load, cap, chosen, k, domains=domains)
    assert [f.failed for f in a] == [f.failed for f in b]
    for x, y in zip(a, b, strict=True):
        assert (x.feasible, x.load_rps) == (y.feasible, pytest.approx(y.load_rps, rel=1e-12))
        assert x.shed_rps == pytest.approx(y.shed_rps, abs=1e-6 * load.sum())
    assert len({round(f.shed_rps, 6) for f in a}) > 1  # scenarios that differ
    # sizing: load only on points with open sites in k + 1 domains or more (some failing
    # scenario finds any other point without an open site and not excused)
    code = np.arange(m) if domains is None else np.unique(domains, return_inverse=True)[1]
    open_domains = np.array([len(set(code[chosen[mask[i, chosen]]])) for i in range(n)])
    load = np.where(open_domains >= k + 1, load, 0.0)
    assert (load > 0).sum() >= 5
    big = np.full(m, float(load.sum()))
    want = least_capacity(full, load, big, chosen, k, domains=domains)
    reduced, merged_load = plan_rows(full, load, chosen, domains, m)
    got = least_capacity(reduced, merged_load, big, chosen, k, domains=domains)
    assert want.status == got.status == "optimal"
    assert got.total_rps == pytest.approx(want.total_rps, rel=1e-7)


def test_out_of_contract_loads_and_domains_are_refused_not_merged():
    """Helper 162: with points merged, a NaN load summed into a valid one gave "optimal"
    at 0 (the old code ended "error"), and domains shorter than the candidates crashed on
    a broadcast; both are refused by name. Domains one per reach column (a witness column
    past the capacities) are taken for the candidates."""
    mask = sp.csr_array(np.array([[1, 1], [1, 1]], dtype=bool))
    for load in ([np.nan, 2.0], [-1.0, 2.0], [np.inf, 1.0]):
        with pytest.raises(ValueError, match="load_rps must be finite and >= 0"):
            least_capacity(mask, load, [5.0, 5.0], [0, 1], 1)
    reach = sp.csr_array(np.array([[1, 1, 0, 1], [1, 1, 1, 0], [1, 1, 0, 0]], dtype=bool))
    got = least_capacity(reach, [1.0, 2.0, 3.0], np.full(3, 10.0), [0, 1], 1,
                         domains=["a", "b", "c", "w"])
    assert got.status == "optimal" and got.total_rps == pytest.approx(12.0)
    with pytest.raises(ValueError, match="domains has 2 entries for 3 candidates"):
        least_capacity(reach, [1.0, 2.0, 3.0], np.full(3, 10.0), [0, 1], 1,
                       domains=["a", "b"])
