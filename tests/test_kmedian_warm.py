"""The k-median's second start (``warm``: a plan that leaves rows short, repaired by swaps)
and its known lower bound (``lower_bound``: a relaxation's), as the placement by failure
domains uses them between its rounds."""

import itertools
import time

import numpy as np
import pytest
import scipy.sparse as sp

from coverage.solvers.kmedian import _inputs, _repair, k_median


def _instance(seed: int, n: int = 30, m: int = 10):
    """A random reach of ``n`` rows x ``m`` sites (every row one site at least), weights,
    and requirements of 1 or 2 (a third of the rows weightless, as domains' rows are)."""
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((n, m)) < 0.45, rng.uniform(1, 50, (n, m)), 0.0)
    dense[np.arange(n), rng.integers(0, m, n)] = rng.uniform(1, 50, n)
    w = np.where(rng.random(n) < 0.67, rng.uniform(1, 10, n), 0.0)
    req = np.minimum(rng.integers(1, 3, n), (dense > 0).sum(axis=1))
    return rng, dense, w, req


def _fewest_from(dense, w, req, p: int) -> tuple[int, float]:
    """The least ``p`` from ``p`` up with a plan meeting ``req``, and its brute-force
    optimum."""
    while not np.isfinite(opt := _brute(dense, w, req, p)):
        p += 1
    return p, opt


def _meets(dense, sites, req) -> bool:
    return bool(((dense[:, list(sites)] > 0).sum(axis=1) >= req).all())


def _brute(dense, w, req, p) -> float:
    """The least weighted latency over every set of ``p`` sites meeting ``req`` (inf: none)."""
    best = np.inf
    for combo in itertools.combinations(range(dense.shape[1]), p):
        sub = dense[:, list(combo)]
        if ((sub > 0).sum(axis=1) < req).any():
            continue
        best = min(best, float((w * np.where(sub > 0, sub, np.inf).min(axis=1)).sum()))
    return best


def test_repair_returns_p_sites_meeting_every_row_with_the_required_kept():
    """From random plans that leave rows short, the repair gives as many sites, the
    required one among them, meeting every row's requirement; or None (it is a local
    step). Of the plans of a size for which the brute force has a plan with the required
    site, it repairs most (hand run: 93 of 107)."""
    repaired = tried = 0
    for seed in range(12):
        rng, dense, w, req = _instance(seed)
        m = dense.shape[1]
        indptr, indices, latency, csc, w_, r, _ = _inputs(sp.csr_array(dense), w, req, None)
        fixed = np.zeros(m, dtype=bool)
        fixed[0] = True
        for p in (4, 5, 6):
            if not any(_meets(dense, (0, *rest), r)
                       for rest in itertools.combinations(range(1, m), p - 1)):
                continue
            for _ in range(5):
                plan = np.union1d(rng.choice(np.arange(1, m), p - 1, replace=False), [0])
                if _meets(dense, plan, r):
                    continue
                tried += 1
                out = _repair(indptr, indices, latency, w_, r, csc, plan, fixed, np.inf)
                if out is None:
                    continue
                repaired += 1
                assert len(out) == p and 0 in out.tolist()
                assert _meets(dense, out, r)
    assert tried >= 50 and repaired >= 0.7 * tried


def test_repair_gives_up_at_its_deadline_and_when_no_swap_helps():
    """A deadline already past returns None at once; so does a plan no swap brings nearer
    (two rows each needing the only two sites, one of them closed and the other fixed
    elsewhere: p = 1)."""
    dense = np.array([[1.0, 2.0, 0.0], [1.0, 2.0, 0.0]])
    indptr, indices, latency, csc, w, r, _ = _inputs(sp.csr_array(dense), None, 2, None)
    fixed = np.zeros(3, dtype=bool)
    assert _repair(indptr, indices, latency, w, r, csc, [2], fixed, np.inf) is None
    assert _repair(indptr, indices, latency, w, r, csc, [0, 2], fixed,
                   time.perf_counter() - 1) is None
    out = _repair(indptr, indices, latency, w, r, csc, [0, 2], fixed, np.inf)
    assert out.tolist() == [0, 1]


@pytest.mark.parametrize("seed", range(10))
def test_warm_start_is_searched_too_and_never_worse(seed):
    """With ``warm`` the plan is the better of the searches from ``start`` and from the
    repaired ``warm``: never worse than without it, always meeting every row, never below
    the brute force's optimum; the MILP off, so the searches alone decide."""
    rng, dense, w, req = _instance(seed, n=40, m=12)
    p, opt = _fewest_from(dense, w, req, 5)
    lat = sp.csr_array(dense)
    plain = k_median(lat, p, weights=w, requirement=req, max_pairs_exact=0, bound=False,
                     time_limit_s=10)
    warm = rng.choice(dense.shape[1], p, replace=False)
    both = k_median(lat, p, weights=w, requirement=req, max_pairs_exact=0, bound=False,
                    time_limit_s=10, warm=warm)
    assert _meets(dense, both.sites, req)
    assert both.objective <= plain.objective + 1e-9
    assert both.objective >= opt - 1e-9


def test_warm_start_finds_what_the_start_alone_misses():
    """Over random instances the search from the repaired warm start (the brute force's
    optimum with a site swapped out, as a round's plan before the rows of its short points
    are added) beats the search from the greedy start at least once: ``warm`` is used."""
    better = 0
    for seed in range(30):
        rng, dense, w, req = _instance(100 + seed, n=40, m=12)
        p = 5
        best, best_plan = np.inf, None
        for combo in itertools.combinations(range(dense.shape[1]), p):
            sub = dense[:, list(combo)]
            if ((sub > 0).sum(axis=1) < req).any():
                continue
            value = float((w * np.where(sub > 0, sub, np.inf).min(axis=1)).sum())
            if value < best:
                best, best_plan = value, combo
        if best_plan is None:
            continue
        lat = sp.csr_array(dense)
        plain = k_median(lat, p, weights=w, requirement=req, max_pairs_exact=0,
                         bound=False, time_limit_s=10)
        others = np.setdiff1d(np.arange(dense.shape[1]), best_plan)
        warm = np.array(best_plan)
        warm[rng.integers(p)] = rng.choice(others)
        both = k_median(lat, p, weights=w, requirement=req, max_pairs_exact=0,
                        bound=False, time_limit_s=10, warm=warm)
        assert both.objective >= best - 1e-9
        better += both.objective < plain.objective - 1e-9
    assert better >= 1


@pytest.mark.parametrize("seed", range(6))
def test_a_known_lower_bound_is_kept_and_proves_the_gap_without_a_milp(seed):
    """``lower_bound`` (the optimum of a relaxation) is the result's bound when nothing
    else bounds (no MILP, no Lagrangian), and it alone decides ``within_gap``; a bound at
    the plan's objective proves it optimal."""
    _, dense, w, req = _instance(seed, n=40, m=12)
    p, opt = _fewest_from(dense, w, req, 5)
    lat = sp.csr_array(dense)
    kw = dict(weights=w, requirement=req, max_pairs_exact=0, bound=False, time_limit_s=10)
    base = k_median(lat, p, **kw)
    given = 0.995 * opt
    res = k_median(lat, p, gap=0.01, lower_bound=given, **kw)
    assert res.objective == pytest.approx(base.objective)
    assert res.lower_bound == pytest.approx(given)
    expect = "within_gap" if given >= res.objective * (1 - 0.01) else "local_search"
    assert res.status == expect
    exact = k_median(lat, p, lower_bound=base.objective, **kw)
    assert exact.status == "optimal" and exact.lower_bound == pytest.approx(base.objective)


def test_a_warm_start_keeps_the_required_sites_and_p_distinct_sites():
    """Review 163: ``warm`` was not merged with the required sites nor de-duplicated, so
    the plan could lack a required site (339 of 1,500 random runs) or have fewer than
    ``p`` sites (``warm=[1, 3, 3, 6]`` gave 3). Now every plan has ``p`` distinct sites,
    the required ones among them, whatever ``warm`` is (repeated sites, fewer or more than
    ``p``)."""
    lat = sp.csr_array(np.array([[1.0, 1.0, 9.0], [1.0, 9.0, 1.0], [100.0, 50.0, 50.0]]))
    res = k_median(lat, 2, required=[0], warm=[1, 2], max_pairs_exact=0, bound=False)
    assert 0 in res.sites.tolist() and len(res.sites) == 2
    rng = np.random.default_rng(7)
    for _ in range(200):
        _, dense, w, req = _instance(int(rng.integers(1 << 30)), n=20, m=8)
        p = 4
        if not any(_meets(dense, (0, *rest), req)
                   for rest in itertools.combinations(range(1, 8), p - 1)):
            continue
        warm = rng.integers(0, 8, int(rng.integers(1, 7)))
        res = k_median(sp.csr_array(dense), p, weights=w, requirement=req, required=[0],
                       warm=warm, max_pairs_exact=0, bound=False)
        assert len(res.sites) == p == len(set(res.sites.tolist()))
        assert 0 in res.sites.tolist() and _meets(dense, res.sites, req)


def test_the_bound_stops_at_the_gap_asked_only_after_its_share():
    """The k-median's Lagrangian bound, past its share of the time (``enough_after``),
    stops once it proves the gap asked (``enough``); before it, it goes on to its last
    step: a bound stopped at ``enough`` reaches it and is at most the one run to the end,
    and both are at most the brute force's optimum."""
    from coverage.solvers.kmedian import _lagrangian_bound

    _, dense, w, req = _instance(3, n=40, m=12)
    p, opt = _fewest_from(dense, w, req, 5)
    indptr, indices, latency, csc, w_, r, fixed = _inputs(sp.csr_array(dense), w, req, None)
    res = k_median(sp.csr_array(dense), p, weights=w, requirement=req, max_pairs_exact=0,
                   bound=False)
    is_open = np.isin(np.arange(dense.shape[1]), res.sites)
    args = (indptr, indices, latency, w_, r, dense.shape[1], p, fixed, is_open,
            res.objective, np.inf)
    full = _lagrangian_bound(*args)
    enough = full - 0.5 * (full - _lagrangian_bound(*args, iterations=(0, 1)))
    early = _lagrangian_bound(*args, enough=enough)
    late = _lagrangian_bound(*args, enough=enough, enough_after=np.inf)
    assert enough <= early < full <= opt * (1 + 1e-9)  # (stopped early)
    assert late == full
