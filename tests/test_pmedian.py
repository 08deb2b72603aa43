"""p_median against brute force on small random instances (all p-subsets enumerated)."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

import coverage.solvers.pmedian as pm
from coverage.errors import NoFeasiblePlanError
from coverage.solvers.pmedian import p_median


def as_dense(cost):
    """Dense copy with +inf for unreachable pairs (explicit sparse zeros stay reachable)."""
    if not sp.issparse(cost):
        return np.asarray(cost, dtype=float)
    coo = sp.coo_array(cost)
    dense = np.full(coo.shape, np.inf)
    dense[coo.row, coo.col] = coo.data
    return dense


def brute_p_median(cost, p, weights=None, required=()):
    """Best objective over all p-subsets; clients with no reachable facility are ignored."""
    d = as_dense(cost)
    w = np.ones(d.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    active = np.isfinite(d).any(axis=1)
    best = np.inf
    for subset in itertools.combinations(range(d.shape[1]), p):
        if not set(required) <= set(subset):
            continue
        nearest = d[np.ix_(active, subset)].min(axis=1)
        if np.all(np.isfinite(nearest)):
            best = min(best, float(np.sum(w[active] * nearest)))
    return best


def objective_of(cost, sites, weights=None):
    d = as_dense(cost)
    w = np.ones(d.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    active = np.isfinite(d).any(axis=1)
    nearest = d[np.ix_(active, sites)].min(axis=1)
    assert np.all(np.isfinite(nearest)), "a reachable client is left unserved"
    return float(np.sum(w[active] * nearest))


def random_cost(seed, n=16, m=9, density=1.0, integral=True, sparse=False):
    rng = np.random.default_rng(seed)
    vals = rng.integers(0, 40, size=(n, m)).astype(float) if integral else rng.uniform(
        0.0, 30.0, size=(n, m))
    if not sparse:
        return vals
    mask = rng.random((n, m)) < density
    mask[rng.integers(n)] = False  # one client with no reachable facility (ignored)
    r, c = np.nonzero(mask)
    return sp.csr_array((vals[r, c], (r, c)), shape=(n, m))


@pytest.fixture(params=["auto", "milp", "branch_and_bound"])
def exact_path(request, monkeypatch):
    """Run each case with the default policy and with each exact phase forced."""
    if request.param == "milp":
        monkeypatch.setattr(pm, "_BNB_MAX_K", -1)
    elif request.param == "branch_and_bound":
        monkeypatch.setattr(pm, "_BNB_MAX_K", 10**9)
        monkeypatch.setattr(pm, "_MILP_NNZ", -1)
    return request.param


def check(cost, p, weights=None, required=None):
    res = p_median(cost, p, weights=weights, required=required, time_limit_s=30)
    req = [] if required is None else list(np.flatnonzero(required)) if np.asarray(
        required).dtype == bool else list(required)
    expected = brute_p_median(cost, p, weights, req)
    assert res.status == "optimal"
    assert len(res.sites) == p and np.all(np.diff(res.sites) > 0)
    assert set(req) <= set(res.sites.tolist())
    assert res.objective == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert objective_of(cost, res.sites, weights) == pytest.approx(res.objective, rel=1e-12)
    assert res.lower_bound <= res.objective + 1e-9
    assert res.lower_bound == pytest.approx(res.objective, rel=1e-6, abs=1e-9)
    return res


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("p", [1, 2, 4])
def test_dense_integral(seed, p, exact_path):
    check(random_cost(seed), p)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("p", [2, 3])
def test_dense_float_weighted(seed, p, exact_path):
    rng = np.random.default_rng(100 + seed)
    weights = rng.uniform(0.0, 5.0, size=16)
    weights[0] = 0.0
    check(random_cost(seed, integral=False), p, weights=weights)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("p", [3, 5])
def test_sparse_missing_entries(seed, p, exact_path):
    cost = random_cost(seed, density=0.45, sparse=True, integral=seed % 2 == 0)
    weights = np.random.default_rng(seed).integers(1, 6, size=16).astype(float)
    if brute_p_median(cost, p, weights) == np.inf:
        with pytest.raises(NoFeasiblePlanError):
            p_median(cost, p, weights=weights)
    else:
        check(cost, p, weights=weights)


@pytest.mark.parametrize("seed", range(6))
def test_required_facilities(seed, exact_path):
    cost = random_cost(seed, integral=seed % 2 == 1)
    required = np.zeros(9, dtype=bool)
    required[[seed % 9, (seed + 4) % 9]] = True
    check(cost, 3, required=required)
    check(cost, 4, required=np.flatnonzero(required))  # integer indices work too


def test_dense_inf_means_unreachable():
    cost = random_cost(3)
    cost[0, :] = np.inf  # ignored client
    cost[1, :-1] = np.inf  # only the last facility reaches client 1: it must open
    res = check(cost, 2)
    assert 8 in res.sites


def test_explicit_zero_is_reachable():
    # client 1 reaches only facility 1, through an explicit zero: it must be served, so
    # facility 1 opens (cost 2 + 0); were the zero dropped, facility 0 (cost 1) would win
    cost = sp.csr_array((np.array([1.0, 2.0, 0.0]), ([0, 0, 1], [0, 1, 1])), shape=(2, 2))
    assert cost.nnz == 3
    res = check(cost, 1)
    assert res.sites.tolist() == [1] and res.objective == 2.0
    zero_only = sp.csr_array((np.zeros(2), ([0, 1], [1, 1])), shape=(2, 2))
    res = p_median(zero_only, 1)
    assert res.sites.tolist() == [1] and res.objective == 0.0 and res.status == "optimal"


def test_infeasible_and_invalid_inputs():
    cost = sp.csr_array((np.ones(3), ([0, 1, 2], [0, 1, 2])), shape=(3, 3))
    with pytest.raises(NoFeasiblePlanError):
        p_median(cost, 2)  # three clients each reachable by a different facility
    assert p_median(cost, 3).objective == 3.0
    with pytest.raises(NoFeasiblePlanError):
        p_median(np.ones((3, 4)), 1, required=[0, 1])
    with pytest.raises(ValueError):
        p_median(np.ones((3, 4)), 0)
    with pytest.raises(ValueError):
        p_median(np.ones((3, 4)), 5)
    with pytest.raises(ValueError):
        p_median(-np.ones((3, 4)), 1)
    with pytest.raises(ValueError):
        p_median(np.full((3, 4), np.nan), 1)
    with pytest.raises(ValueError):
        p_median(np.ones((3, 4)), 1, weights=[1.0, -1.0, 1.0])
    with pytest.raises(ValueError):
        p_median(np.ones((3, 4)), 1, weights=[1.0, 1.0])


def test_no_reachable_client():
    res = p_median(sp.csr_array((4, 5)), 2, required=[3])
    assert res.status == "optimal" and res.objective == 0.0
    assert len(res.sites) == 2 and 3 in res.sites


def test_time_limit_reports_a_valid_bound():
    rng = np.random.default_rng(7)
    pts = rng.random((300, 2))
    cost = np.round(100 * np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1)))
    res = p_median(cost, 12, time_limit_s=0.0)
    assert res.status == "local_search" and np.isnan(res.lower_bound)
    assert len(res.sites) == 12
    assert objective_of(cost, res.sites) == pytest.approx(res.objective)
    res2 = p_median(cost, 12, time_limit_s=60)
    assert res2.objective <= res.objective
    assert res2.lower_bound <= res2.objective
    if res2.status == "optimal":
        assert res2.lower_bound == pytest.approx(res2.objective, rel=1e-6)
