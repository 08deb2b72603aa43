"""The matrix solvers of ``coverage.optimize``: max_cover (MCLP) and p_center against brute
force on small random instances (every p-subset), and all four solvers at spopt's optima on
spopt's San Francisco instance (skipped when ``shared/data`` is absent)."""

import doctest
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import coverage.optimize as optimize
import coverage.solvers.maxcover as maxcover_mod
import coverage.solvers.pcenter as pcenter_mod
from coverage.errors import NoFeasiblePlanError
from coverage.optimize import max_cover, max_cover_greedy, min_cover, p_center, p_median

SF = Path(__file__).resolve().parents[2] / "shared" / "data" / "spopt_sf"


# --------------------------------------------------------------------------- brute force


def brute_max_cover(pattern, w, p, k, required=()):
    """Best covered weight over every p-subset containing ``required``."""
    n_reach = pattern.sum(axis=1)
    need = np.minimum(k + 1, n_reach)
    best = -np.inf
    for subset in itertools.combinations(range(pattern.shape[1]), p):
        if not set(required) <= set(subset):
            continue
        have = pattern[:, list(subset)].sum(axis=1)
        best = max(best, w[(n_reach > 0) & (have >= need)].sum())
    return best


def radius(cost, subset, k):
    """Largest cost of a reachable client to its min(k+1, |N_i|)-th nearest open facility."""
    fin = np.isfinite(cost)
    keep = fin.any(axis=1)
    if not keep.any():
        return 0.0
    need = np.minimum(k + 1, fin[keep].sum(axis=1))
    s = np.sort(cost[keep][:, list(subset)], axis=1)
    s = np.hstack([s, np.full((len(s), k + 1), np.inf)])
    return float(s[np.arange(len(s)), need - 1].max())


def brute_p_center(cost, p, k, required=()):
    return min((radius(cost, subset, k)
                for subset in itertools.combinations(range(cost.shape[1]), p)
                if set(required) <= set(subset)), default=np.inf)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("k", [0, 1])
def test_max_cover_equals_brute_force(seed, k):
    rng = np.random.default_rng(seed)
    pattern = rng.random((15, 8)) < 0.3
    pattern[:3] = pattern[3:6]  # identical rows, merged with summed weights
    w = rng.integers(0, 20, size=15).astype(float)
    reach = sp.csr_array(pattern) if seed % 2 else pattern.astype(int)
    for p in (1, 2, 3, 5):
        res = max_cover(reach, p, w, failures=k)
        best = brute_max_cover(pattern, w, p, k)
        assert res.status == "optimal"
        assert res.objective == best == res.upper_bound == res.lower_bound
        assert len(res.sites) == p and np.all(np.diff(res.sites) > 0)
        # the reported objective is the plan's own covered weight
        have = pattern[:, res.sites].sum(axis=1)
        need = np.minimum(k + 1, pattern.sum(axis=1))
        assert w[(pattern.sum(axis=1) > 0) & (have >= need)].sum() == res.objective


@pytest.mark.parametrize("seed", range(10))
def test_max_cover_required_and_float_weights(seed):
    rng = np.random.default_rng(100 + seed)
    pattern = rng.random((12, 7)) < 0.35
    w = rng.uniform(0.0, 3.0, size=12)
    required = [int(rng.integers(7))]
    for k in (0, 1):
        res = max_cover(pattern, 3, w, failures=k, required=required)
        assert required[0] in res.sites and len(res.sites) == 3
        assert res.objective == pytest.approx(brute_max_cover(pattern, w, 3, k, required),
                                              rel=1e-12)
        assert res.status == "optimal"


def brute_lexicographic(pattern, w, p, k, required=()):
    """Best (weight with 1+ open in reach, weight with k+1+ open in reach) over every
    p-subset containing ``required``, compared lexicographically."""
    best = None
    for subset in itertools.combinations(range(pattern.shape[1]), p):
        if not set(required) <= set(subset):
            continue
        have = pattern[:, list(subset)].sum(axis=1)
        value = (w[have >= 1].sum(), w[have >= k + 1].sum())
        best = value if best is None or value > best else best
    return best


@pytest.mark.parametrize("seed", range(15))
@pytest.mark.parametrize("k", [1, 2])
def test_max_cover_lexicographic_equals_brute_force(seed, k):
    rng = np.random.default_rng(300 + seed)
    pattern = rng.random((14, 7)) < 0.35
    pattern[:2] = pattern[2:4]  # identical rows
    w = (rng.integers(0, 20, size=14).astype(float) if seed % 3
         else rng.uniform(0.0, 5.0, size=14))  # float weights: the 1e-9 tolerance path
    required = [int(rng.integers(7))] if seed % 2 else []
    for p in (1, 2, 3, 5):
        if p < len(required):
            continue
        res = maxcover_mod.max_cover_lexicographic(pattern, p, w, failures=k,
                                                   required=required or None)
        best = brute_lexicographic(pattern, w, p, k, required)
        assert res.status == "optimal" and len(res.sites) == p
        assert set(required) <= set(res.sites.tolist())
        assert res.objective == pytest.approx(best[0], rel=1e-12)
        assert res.secondary == pytest.approx(best[1], rel=1e-12)
        assert res.secondary_upper_bound == pytest.approx(res.secondary, rel=1e-12)
        # the primary optimum is max_cover's
        assert res.objective == pytest.approx(max_cover(pattern, p, w,
                                                        required=required or None).objective,
                                              rel=1e-12)


def exact_levels(pattern, w, cols, t):
    """(weight with >= 1, weight with >= t open sites in reach) of a plan, in exact
    fractions (a population of 1 beside 1e9 does not vanish in a rounded total)."""
    from fractions import Fraction

    n = pattern[:, list(cols)].sum(axis=1)
    t_ok = pattern.sum(axis=1) >= t
    one = zip(w, n, strict=True)
    many = zip(w, n, t_ok, strict=True)
    return (sum((Fraction(float(x)) for x, k in one if k >= 1), Fraction(0)),
            sum((Fraction(float(x)) for x, k, ok in many if k >= t and ok), Fraction(0)))


@pytest.mark.parametrize("seed", [*range(30), 110, 169, 179, 197, 216, 257, 302, 398])
def test_max_cover_exact_with_populations_nine_orders_apart(seed):
    """Reviewer 101's brute force: cells of 1-2 people beside cells of 1e5-1e9 (and float
    weights down to 1e-2), every plan compared in exact fractions. With the weights scaled
    so that the heaviest is 1 and HiGHS's 1e-6 tolerances, level 1 lost a person under
    "optimal" with a bound below the optimum (seeds 216, 398) and level 2 one or two (21
    of 500 seeds); the instance maker is the script's, so its failing seeds are listed."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(3, 10)), int(rng.integers(3, 8))
    pattern = rng.random((n, m)) < rng.uniform(0.2, 0.7)
    heavy = rng.random(n) < 0.5
    if seed % 2 or seed >= 100:
        w = np.round(np.where(heavy, 10 ** rng.uniform(5, 9, n), rng.integers(1, 3, n)))
    else:
        w = np.where(heavy, 10 ** rng.uniform(5, 9, n), 10 ** rng.uniform(-2, 0, n))
    p, f = int(rng.integers(1, min(4, m) + 1)), int(rng.integers(1, 3))
    required = [int(rng.integers(0, m))] if rng.random() < 0.25 and p >= 2 else []
    plans = [c for c in itertools.combinations(range(m), p) if set(required) <= set(c)]
    values = {c: exact_levels(pattern, w, c, f + 1) for c in plans}
    best = max(values.values())
    res = maxcover_mod.max_cover_lexicographic(pattern, p, w, failures=f, time_limit_s=20,
                                               required=required or None)
    got = exact_levels(pattern, w, tuple(res.sites), f + 1)
    assert res.status == "optimal" and got == best, (res.sites, got, best)
    assert res.upper_bound >= float(best[0]) * (1 - 1e-15)
    assert res.secondary_upper_bound >= float(best[1]) * (1 - 1e-15)
    single = max_cover(pattern, p, w, required=required or None, time_limit_s=20)
    assert single.status == "optimal"
    assert exact_levels(pattern, w, tuple(single.sites), f + 1)[0] == best[0]
    assert single.upper_bound >= float(best[0]) * (1 - 1e-15)


def test_max_cover_lexicographic_validation():
    with pytest.raises(ValueError, match="failures"):
        maxcover_mod.max_cover_lexicographic(np.eye(3), 1, failures=0)


@pytest.mark.parametrize("seed", range(20))
def test_max_cover_greedy_within_its_bound(seed):
    rng = np.random.default_rng(200 + seed)
    pattern = rng.random((16, 9)) < 0.25
    w = rng.integers(1, 50, size=16).astype(float)
    for p in (1, 2, 4):
        g = max_cover_greedy(pattern, p, w)
        best = brute_max_cover(pattern, w, p, 0)
        assert len(g.sites) == p
        assert g.objective <= best <= g.upper_bound
        assert g.objective >= (1 - 1 / np.e) * best - 1e-9
        if p == 1:  # one greedy step is optimal, and the step bound says so
            assert g.objective == best and g.status == "optimal"


def test_max_cover_refuses_a_cost_matrix_as_reach():
    with pytest.raises(ValueError, match="cost <= radius"):
        max_cover(np.array([[1.0, np.inf], [2.0, 3.0]]), 1)


def test_max_cover_edge_cases():
    pattern = np.array([[1, 0, 0], [0, 0, 0], [0, 1, 0]])
    res = max_cover(pattern, 3, [2.0, 100.0, 1.0])  # client 1 reaches nothing
    assert res.objective == 3.0 and res.sites.tolist() == [0, 1, 2]
    assert res.reductions["rows_unreachable_or_weightless"] == 1
    with pytest.raises(ValueError, match="p must be"):
        max_cover(pattern, 4)
    with pytest.raises(ValueError, match="weights"):
        max_cover(pattern, 1, [1.0, -1.0, 1.0])
    with pytest.raises(NoFeasiblePlanError):
        max_cover(pattern, 1, required=[0, 1])
    huge = max_cover(pattern, 1, [3e20, 0.0, 1e20])  # scaled for HiGHS, exact
    assert huge.objective == 3e20 and huge.sites.tolist() == [0]


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("k", [0, 1])
def test_p_center_equals_brute_force(seed, k):
    rng = np.random.default_rng(seed)
    cost = rng.integers(1, 40, size=(12, 7)).astype(float)
    cost[rng.random(cost.shape) < 0.15] = np.inf
    cost[0] = np.inf  # a client with nothing in reach is ignored
    for p in (1, 2, 3, 4):
        best = brute_p_center(cost, p, k)
        if not np.isfinite(best):
            with pytest.raises(NoFeasiblePlanError):
                p_center(cost, p, failures=k)
            continue
        res = p_center(cost, p, failures=k)
        assert res.status == "optimal"
        assert res.objective == best == res.lower_bound
        assert len(res.sites) == p and radius(cost, res.sites, k) == best


def radius_by_domains(cost, subset, k, domains):
    """Largest over the reachable clients of the worst cost after any k whole failure
    domains fail (or any k single facilities), by enumeration: a client with D_i domains
    loses at most min(k, D_i - 1) of them, and at most min(k, |N_i| - 1) facilities."""
    fin = np.isfinite(cost)
    worst = 0.0
    subset = list(subset)
    for i in np.flatnonzero(fin.any(axis=1)):
        doms = sorted(set(domains[fin[i]]))
        fail_d = min(k, len(doms) - 1)
        fail_s = min(k, int(fin[i].sum()) - 1)
        # whole domains: every set of fail_d of its domains
        for down in itertools.combinations(doms, fail_d):
            left = [cost[i, f] for f in subset if domains[f] not in down]
            worst = max(worst, min(left, default=np.inf))
        for down in itertools.combinations(subset, fail_s):
            left = [cost[i, f] for f in subset if f not in down]
            worst = max(worst, min(left, default=np.inf))
    return float(worst)


@pytest.mark.parametrize("seed", range(16))
@pytest.mark.parametrize("k", [1, 2])
def test_p_center_by_failure_domains_equals_brute_force(seed, k):
    """p-center whose radius holds after any k whole failure domains fail (and any k
    single sites), against every p-subset's worst cost over every set of failures."""
    rng = np.random.default_rng(700 + seed)
    cost = rng.integers(1, 40, size=(11, 8)).astype(float)
    cost[rng.random(cost.shape) < 0.2] = np.inf
    domains = rng.integers(0, 4, size=8)
    for p in (2, 3, 4, 5):
        best = min((radius_by_domains(cost, sub, k, domains)
                    for sub in itertools.combinations(range(8), p)), default=np.inf)
        if not np.isfinite(best):
            with pytest.raises(NoFeasiblePlanError):
                p_center(cost, p, failures=k, domains=domains)
            continue
        res = p_center(cost, p, failures=k, domains=domains)
        assert res.status == "optimal"
        assert res.objective == best == res.lower_bound, (p, res)
        assert radius_by_domains(cost, res.sites, k, domains) == best
        # never better than the p-center by single sites
        assert best >= p_center(cost, p, failures=k).objective


@pytest.mark.parametrize("seed", range(8))
def test_p_center_sparse_and_required(seed):
    rng = np.random.default_rng(300 + seed)
    cost = rng.uniform(0.0, 10.0, size=(14, 8))
    cost[rng.random(cost.shape) < 0.2] = np.inf
    cost[1, 2] = 0.0  # a stored zero is reachable at cost 0
    fin = np.isfinite(cost)
    rows, cols = np.nonzero(fin)
    sparse = sp.csr_array((cost[rows, cols], (rows, cols)), shape=cost.shape)
    for k in (0, 1):
        best = brute_p_center(cost, 3, k, required=(5,))
        if not np.isfinite(best):
            continue
        res = p_center(sparse, 3, failures=k, required=[5])
        assert 5 in res.sites and res.objective == best and res.status == "optimal"


def test_p_center_validation():
    cost = np.array([[1.0, 2.0], [3.0, np.inf]])
    with pytest.raises(ValueError, match="NaN"):
        p_center(np.array([[np.nan, 1.0]]), 1)
    with pytest.raises(ValueError, match="non-negative"):
        p_center(np.array([[-1.0, 1.0]]), 1)
    with pytest.raises(ValueError, match="failures"):
        p_center(cost, 1, failures=-1)
    with pytest.raises(NoFeasiblePlanError):
        p_center(cost, 1, required=[0, 1])
    # client 1 reaches one facility only: with failures=1 it needs that one (min(2, |N_i|)),
    # client 0 needs two
    with pytest.raises(NoFeasiblePlanError, match="cannot"):
        p_center(cost, 1, failures=1)
    res = p_center(cost, 2, failures=1)
    assert res.objective == 3.0  # client 0's second nearest is 2, client 1's only one is 3


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("k", [1, 2])
def test_min_cover_max_objective_cutoff(seed, k):
    """The decision form p_center uses: within the cutoff the optimum, else a proven bound
    above it (status above_cutoff or optimal) and still a feasible plan."""
    rng = np.random.default_rng(400 + seed)
    a = sp.csr_array((rng.random((200, 60)) < 0.08).astype(np.int64))
    need = np.minimum(k, np.diff(a.indptr))
    opt = min_cover(a, k).objective
    for cut in (opt - 3, opt - 1, opt, opt + 2):
        res = min_cover(a, k, max_objective=cut)
        is_open = np.isin(np.arange(60), res.sites).astype(np.int64)
        assert np.all(a @ is_open >= need)
        if cut >= opt:
            assert res.status == "optimal" and res.objective == opt
        else:
            assert res.status in ("optimal", "above_cutoff")
            assert cut < res.lower_bound <= opt <= res.objective


def test_bounds_stay_honest_under_a_short_time_limit():
    rng = np.random.default_rng(7)
    xy, fac = rng.random((400, 2)), rng.random((60, 2))
    cost = np.hypot(xy[:, None, 0] - fac[None, :, 0], xy[:, None, 1] - fac[None, :, 1])
    cost[cost > 0.6] = np.inf
    w = rng.integers(1, 100, size=400).astype(float)
    for k in (0, 1):
        exact = p_center(cost, 10, failures=k)
        quick = p_center(cost, 10, failures=k, time_limit_s=0.01)
        assert exact.status == "optimal"
        assert quick.lower_bound <= exact.objective <= quick.objective
        assert quick.status == "optimal" or quick.lower_bound < quick.objective
    # max cover with N-1 (z binary) on 1,000 x 120: HiGHS needs about 0.6 s, stopped at 0.02
    xy, fac = rng.random((1000, 2)), rng.random((120, 2))
    reach = np.hypot(xy[:, None, 0] - fac[None, :, 0], xy[:, None, 1] - fac[None, :, 1]) <= 0.08
    w = rng.integers(1, 100, size=1000).astype(float)
    exact = max_cover(reach, 12, w, failures=1)
    quick = max_cover(reach, 12, w, failures=1, time_limit_s=0.02)
    assert exact.status == "optimal"
    assert quick.objective <= exact.objective <= quick.upper_bound
    assert quick.status == "optimal" or quick.mip_gap > 0


def test_docstring_examples():
    import coverage.solvers.cover as cover_mod
    import coverage.solvers.matrix_args as matrix_args_mod

    for mod in (optimize, maxcover_mod, pcenter_mod, cover_mod, matrix_args_mod):
        assert doctest.testmod(mod).failed == 0


# --------------------------------------------------------------------------- spopt SF


@pytest.fixture(scope="module")
def sf():
    """spopt's San Francisco instance, built as spopt's tests build it: the pivot table of
    street distances (rows: tracts by name, columns: stores sorted as strings) and POP2000
    of the demand file sorted by NAME."""
    if not SF.is_dir():
        pytest.skip(f"spopt SF data not found at {SF} (expected shared/data beside the clone)")
    import pandas as pd

    dist = pd.read_csv(SF / "SF_network_distance_candidateStore_16_censusTract_205_new.csv")
    pivot = dist.pivot_table(values="distance", index="DestinationName", columns="name")
    demand = pd.read_csv(SF / "SF_demand_205_centroid_uniform_weight.csv").sort_values(
        by=["NAME"])
    assert np.allclose(demand["NAME"].to_numpy(), pivot.index.to_numpy())
    return pivot.to_numpy(), demand["POP2000"].to_numpy(dtype=np.float64)


def test_sf_lscp(sf):
    cost, _ = sf
    res = min_cover(sp.csr_array(cost <= 5000.0), 1)
    assert res.objective == 8 and res.status == "optimal"


def test_sf_pmedian(sf):
    cost, w = sf
    res = p_median(cost, 4, weights=w)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(2_848_268_129.71, abs=0.01)


def test_sf_mclp(sf):
    cost, w = sf
    res = max_cover(cost <= 5000.0, 4, w)
    assert res.status == "optimal" and res.objective == 875_247 == res.upper_bound
    greedy = max_cover_greedy(cost <= 5000.0, 4, w)
    assert greedy.objective <= 875_247 <= greedy.upper_bound


def test_sf_pcenter(sf):
    cost, _ = sf
    res = p_center(cost, 4)
    assert res.status == "optimal" and res.objective == pytest.approx(7403.06, abs=0.005)
    assert res.lower_bound == res.objective
    n1 = p_center(cost, 4, failures=1)  # N-1: second-nearest open store
    assert n1.status == "optimal" and n1.objective >= res.objective
    assert np.sort(cost[:, n1.sites], axis=1)[:, 1].max() == n1.objective


def test_solve_milp_statuses_against_hand_solutions():
    """The highspy MILP the max-cover models use: a small knapsack at its hand optimum
    (items 0 and 2: value 9 within weight 5), and an infeasible model named so."""
    from coverage.solvers.highs import solve_milp

    a = sp.csr_array(np.array([[2.0, 3.0, 3.0]]))
    res = solve_milp([-4.0, -3.0, -5.0], [True, True, True], a, [-np.inf], [5.0],
                     time_limit_s=10)
    assert res.status == "optimal" and np.round(res.x).tolist() == [1.0, 0.0, 1.0]
    assert res.objective == pytest.approx(-9.0) and res.dual_bound == pytest.approx(-9.0)
    bad = solve_milp([1.0, 1.0], [True, False], sp.csr_array(np.ones((1, 2))), [3.0],
                     [np.inf], time_limit_s=10)
    assert bad.status == "infeasible" and bad.x is None


def test_solve_milp_starting_basis_and_final_basis():
    """A continuous model solved from a starting basis (each point at its cheapest site:
    dual feasible; and a singular one: all four columns basic, their rows dependent)
    ends at the same hand optimum as from HiGHS's own start, and returns its final basis
    (as many basic as rows), which solves the model again; a basis of the wrong shape is
    refused."""
    from coverage.solvers.highs import AT_LOWER, BASIC, solve_milp

    # two points, two sites, capacity 1 each: point 0 (load 1) prefers site 0 (cost 1
    # against 4), point 1 (load 1) prefers site 0 too (2 against 3): by hand, point 0 at
    # site 0 and point 1 at site 1: 1 + 3 = 4 (the other way, 4 + 2 = 6)
    cost = np.array([1.0, 4.0, 2.0, 3.0])  # columns (0,0) (0,1) (1,0) (1,1)
    a = sp.csr_array(np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0],
                               [1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]]))
    lower, upper = [1.0, 1.0, -np.inf, -np.inf], [1.0, 1.0, 1.0, 1.0]
    cheapest = (np.array([BASIC, AT_LOWER, BASIC, AT_LOWER]),
                np.array([AT_LOWER, AT_LOWER, BASIC, BASIC]))
    no_rows = (np.array([BASIC, BASIC, BASIC, BASIC]), np.full(4, AT_LOWER))
    results = [solve_milp(cost, np.zeros(4, dtype=bool), a, lower, upper, time_limit_s=10,
                          presolve=False, start_basis=start, return_basis=True)
               for start in (None, cheapest, no_rows)]
    for res in results:
        assert res.status == "optimal" and res.objective == pytest.approx(4.0)
        np.testing.assert_allclose(res.x, [1.0, 0.0, 0.0, 1.0], atol=1e-9)
        cols, rows = res.basis
        assert len(cols) == 4 and len(rows) == 4
        assert np.count_nonzero(cols == BASIC) + np.count_nonzero(rows == BASIC) == 4
    again = solve_milp(cost, np.zeros(4, dtype=bool), a, lower, upper, time_limit_s=10,
                       presolve=False, start_basis=results[1].basis)
    assert again.objective == pytest.approx(4.0) and again.basis is None
    with pytest.raises(ValueError, match="a basis of 3 columns"):
        solve_milp(cost, np.zeros(4, dtype=bool), a, lower, upper, time_limit_s=10,
                   start_basis=(np.zeros(3), np.zeros(4)))
    for bad in (-1, 5):  # (review 137: -1 became "at upper", 3 and up crashed)
        with pytest.raises(ValueError, match="HiGHS's codes"):
            solve_milp(cost, np.zeros(4, dtype=bool), a, lower, upper, time_limit_s=10,
                       start_basis=(np.array([bad, 0, 1, 0]), cheapest[1]))


@pytest.mark.parametrize("required", [[3], np.array([3]), [1, 3],
                                      np.array([False, False, False, True])])
def test_required_is_a_mask_or_indices_in_every_solver(required):
    """``required=`` as column indices or a boolean mask, in every solver taking it:
    ``min_cover`` and ``greedy_cover`` read ``[3]`` as a mask broadcast over the sites and
    opened every one, ``[1, 3]`` raised numpy's broadcast error (tester 145)."""
    from coverage.solvers.capacitated import capacitated_cover
    from coverage.solvers.cover import greedy_cover
    from coverage.solvers.kmedian import k_median

    a = sp.csr_array(np.array([[1, 0, 1, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]],
                              dtype=np.int8))
    mask = np.zeros(4, dtype=bool)
    mask[np.flatnonzero(required) if np.asarray(required).dtype == bool else required] = True
    got = optimize.min_cover(a, required=required)
    assert set(mask.nonzero()[0]) <= set(got.sites.tolist())
    assert got.objective == optimize.min_cover(a, required=mask).objective
    dense = a.toarray() > 0
    best = min(len(s) for r in range(5) for s in itertools.combinations(range(4), r)
               if set(mask.nonzero()[0]) <= set(s) and dense[:, list(s)].any(axis=1).all())
    assert got.objective == best  # brute force over the plans holding the required ones
    assert set(mask.nonzero()[0]) <= set(greedy_cover(a, required=required).tolist())
    cap = capacitated_cover(a, np.ones(4), np.full(4, 10.0), 1, failures=0,
                            required=required, time_limit_s=20)
    assert set(mask.nonzero()[0]) <= set(cap.sites.tolist()) and len(cap.sites) <= 3
    lat = sp.csr_array(a.astype(np.float64))
    med = k_median(lat, 3, required=required, time_limit_s=20)
    assert set(mask.nonzero()[0]) <= set(np.asarray(med.sites).tolist())
    with pytest.raises(ValueError, match="out of range"):
        optimize.min_cover(a, required=[4])


@pytest.mark.parametrize("requirement", [1.5, np.nan, "2", [1, 2.5, 1, 1]])
def test_a_requirement_not_a_whole_number_is_refused(requirement):
    """``requirement=1.5`` was read as 1 (tester 145)."""
    a = sp.csr_array(np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.int8))
    with pytest.raises(ValueError, match="requirement must be a non-negative int"):
        optimize.min_cover(a, requirement=requirement)
    assert optimize.min_cover(a, requirement=2.0).objective == 3


def test_an_integer_mask_of_required_sites_is_refused_and_an_object_one_read():
    """``required=[0, 0, 0, 1]`` (a mask as integers) was read as indices 0 and 1, with no
    word; an object column of booleans too (review 140)."""
    from coverage.solvers.cover import greedy_cover

    a = sp.csr_array(np.array([[1, 0, 1, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]],
                              dtype=np.int8))
    with pytest.raises(ValueError, match="pass a mask as booleans"):
        optimize.min_cover(a, required=[0, 0, 0, 1])
    col = pd.Series([False, False, False, True], dtype=object)
    assert 3 in optimize.min_cover(a, required=col).sites.tolist()
    assert 3 in greedy_cover(a, required=col).tolist()
