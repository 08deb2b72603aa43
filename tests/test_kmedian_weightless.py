"""The k-median's rows of weight 0 (failure domains' coverage rows): left unsorted, and the
placement still the brute force's."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from coverage.solvers.kmedian import _sorted_rows, k_median


@pytest.mark.parametrize("seed", range(4))
def test_sorted_rows_sorts_only_the_weighted_rows_and_the_plan_is_the_brute_forces(seed):
    """Tester 172: sorting the 30M entries of the failure domains' weightless rows took
    12 s of a 3 s placement. Only rows of positive weight are sorted now (the others keep
    their order, entries and latencies), and the k-median with unsorted weightless rows
    (each asking 2 open sites) is the brute force's over every set of p sites."""
    rng = np.random.default_rng(seed)
    n, m, p = 30, 10, 4
    dense = np.where(rng.random((n, m)) < 0.5, rng.uniform(1, 50, (n, m)), 0.0)
    dense[np.arange(n), rng.integers(0, m, n)] = rng.uniform(1, 50, n)
    lat = sp.csr_array(dense)
    keep = rng.random(n) < 0.6
    indptr, indices, latency, _ = _sorted_rows(lat, keep)
    full = _sorted_rows(lat)
    for i in range(n):
        seg = slice(indptr[i], indptr[i + 1])
        if keep[i]:
            assert (np.diff(latency[seg]) >= 0).all()
            assert indices[seg].tolist() == full[1][seg].tolist()
        else:
            assert indices[seg].tolist() == lat.indices[lat.indptr[i]:lat.indptr[i + 1]].tolist()
        assert sorted(latency[seg]) == sorted(full[2][seg])
    w = np.where(keep, rng.uniform(1, 10, n), 0.0)
    req = np.minimum(np.where(keep, 1, 2), (dense > 0).sum(axis=1))
    best = np.inf
    while not np.isfinite(best):  # the fewest sites that meet every requirement, p or more
        for combo in itertools.combinations(range(m), p):
            sub = dense[:, list(combo)]
            if ((sub > 0).sum(axis=1) < req).any():
                continue
            best = min(best, float((w * np.where(sub > 0, sub, np.inf).min(axis=1)).sum()))
        p += 0 if np.isfinite(best) else 1
    res = k_median(lat, p, weights=w, requirement=req, time_limit_s=20)
    assert res.objective == pytest.approx(best)
