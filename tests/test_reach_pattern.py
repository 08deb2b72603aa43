"""One reach, one answer: every solver that takes a reach matrix reads it as the pattern of
its stored pairs (values ignored, explicit zeros included, a pair stored twice counted once),
and none changes the caller's arrays.

Before 2026-12-06 the capacitated cover read a pair stored twice as two pairs and a stored 0
as a pair in one place and no pair in another (it returned every candidate where the
pattern needs six of eight), the repairs and the capacitated placement wrote 1.0 over a
float reach's values, and the cover search dropped stored zeros where the cover counted
them.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp

from coverage.solvers import capacitated as cap_mod
from coverage.solvers import cover, cover_search, kmedian, maxcover, rollout, sizing
from coverage.solvers.matrix_args import reach_pattern

N_POINTS, N_SITES = 25, 8


def instance(seed: int):
    """A random 0/1 pattern (each point with one or two candidates at least), and the same
    pattern stored oddly: values 2.5, 7 and 0, a third of the pairs stored twice (the two
    values summing to 0 or to the first), indices unsorted within rows."""
    rng = np.random.default_rng(seed)
    n, m = N_POINTS, N_SITES
    dense = rng.random((n, m)) < 0.35
    dense[np.arange(n), rng.integers(0, m, n)] = True
    dense[np.arange(n), rng.integers(0, m, n)] = True
    canon = sp.csr_array(dense.astype(np.int8))
    r, c = np.nonzero(dense)
    vals = rng.choice([2.5, 0.0, 1.0, 7.0], len(r))
    twice = rng.random(len(r)) < 0.3
    r2, c2 = np.r_[r, r[twice]], np.r_[c, c[twice]]
    v2 = np.r_[vals, -vals[twice]]
    order = np.lexsort((rng.random(len(r2)), r2))
    indptr = np.searchsorted(r2[order], np.arange(n + 1))
    odd = sp.csr_array((v2[order], c2[order], indptr), shape=(n, m))
    stored = sp.csr_array((np.ones(odd.nnz), odd.indices, odd.indptr), shape=(n, m))
    assert not odd.has_canonical_format and np.array_equal(stored.toarray() > 0, dense)
    assert (odd.toarray()[dense] == 0).any()  # (stored zeros, after the sums too)
    load = rng.integers(1, 20, n).astype(float)
    lat = sp.csr_array((rng.uniform(1.0, 30.0, canon.nnz), canon.indices, canon.indptr),
                       shape=(n, m))
    return canon, odd, load, lat


def solver_calls(load, lat):
    """Each public solver taking a reach, called on a reach ``R``: what it answers."""
    n, m = N_POINTS, N_SITES
    cap = np.full(m, load.sum() / 3)
    sites = np.arange(m)
    req = 2

    def capacitated_median(r):
        start = cap_mod.capacitated_cover(r, load, cap * 1.5, req, time_limit_s=20).sites
        med = kmedian.capacitated_median(lat, start, reach=r, load_rps=load,
                                         cap_rps=cap * 1.5, failures=1,
                                         point_load_rps=load, requirement=req,
                                         time_limit_s=20)
        return np.asarray(med.sites).tolist(), round(float(med.objective), 9)

    return {
        "scenario_flow": lambda r: cap_mod.scenario_flow(r, load, cap, sites, [0]).served_rps,
        "check_scenarios": lambda r: [(f.failed, f.feasible) for f in
                                      cap_mod.check_scenarios(r, load, cap, sites, 1)[0]],
        "balanced_flow": lambda r: round(cap_mod.balanced_flow(r, load, cap, sites, [1])[1],
                                         9),
        "plan_components": lambda r: [x.tolist() for x in cap_mod.plan_components(r, sites)],
        "split_cut": lambda r: [x.tolist() for x in
                                cap_mod.split_cut(r, sites[:5], [0], np.arange(n))],
        "capacitated_cover": lambda r: cap_mod.capacitated_cover(
            r, load, cap * 1.5, req, time_limit_s=20).sites.tolist(),
        "repair_plan": lambda r: cap_mod.repair_plan(r, load, cap * 1.5, req,
                                                     sites[:3]).tolist(),
        "repair_plan_until": lambda r: cap_mod.repair_plan_until(
            r, load, cap * 1.5, req, sites[:3])[0].tolist(),
        "least_capacity": lambda r: round(sizing.least_capacity(r, load, cap, sites, 1)
                                          .total_rps, 6),
        "capacitated_median": capacitated_median,
        "greedy_cover": lambda r: cover.greedy_cover(r, req).tolist(),
        "min_cover": lambda r: cover.min_cover(r, req).sites.tolist(),
        "row_weighting_search": lambda r: cover_search.row_weighting_search(
            r, np.full(n, req), np.ones(m, bool),
            deadline=time.perf_counter() + 60, max_moves=200).tolist(),
        "max_cover_greedy": lambda r: maxcover.max_cover_greedy(r, 3).sites.tolist(),
        "max_cover": lambda r: maxcover.max_cover(r, 3, failures=1).objective,
        "max_cover_lexicographic": lambda r: maxcover.max_cover_lexicographic(
            r, 3).sites.tolist(),
        "order_coverage": lambda r: rollout.order_coverage(r, load, sites, need=2).tolist(),
        "rollout_order": lambda r: rollout.rollout_order(r, load).order.tolist(),
    }


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name", sorted(solver_calls(np.ones(N_POINTS), None)))
def test_every_solver_reads_an_odd_reach_as_its_pattern(seed, name):
    """The same answer on the canonical 0/1 pattern and on the same pairs stored oddly;
    the odd matrix's arrays (values, order) unchanged after the call."""
    canon, odd, load, lat = instance(seed)
    kept = (odd.data.copy(), odd.indices.copy(), odd.indptr.copy())
    call = solver_calls(load, lat)[name]
    assert call(odd) == call(canon)
    assert all(np.array_equal(x, y) for x, y in
               zip(kept, (odd.data, odd.indices, odd.indptr), strict=True)), \
        "the caller's arrays changed"


def test_reach_pattern_of_sparse_and_dense_input():
    """Stored entries (zeros too) each once for sparse input, nonzero entries for dense; the
    canonical int8 pattern itself comes back, a float one shares its index arrays; a
    matrix stored with a repeated pair never has the caller's arrays summed in place."""
    odd = sp.csr_array(([2.5, 0.0, 1.0, 1.0], [1, 0, 1, 1], [0, 2, 4]), shape=(2, 2))
    kept = odd.data.copy(), odd.indices.copy()
    assert reach_pattern(odd).toarray().tolist() == [[1, 1], [0, 1]]
    assert reach_pattern(odd).has_canonical_format
    assert np.array_equal(odd.data, kept[0]) and np.array_equal(odd.indices, kept[1])
    assert odd.nnz == 4
    canon = sp.csr_array(np.array([[1, 0, 1], [0, 1, 0]], dtype=np.int8))
    assert reach_pattern(canon) is canon
    floats = sp.csr_array(np.array([[2.0, 0.0, 1.0], [0.0, 0.5, 0.0]]))
    got = reach_pattern(floats)
    assert got.dtype == np.int8 and got.data.tolist() == [1, 1, 1]
    assert np.shares_memory(got.indices, floats.indices)
    assert floats.data.tolist() == [2.0, 1.0, 0.5]
    assert reach_pattern(sp.coo_matrix(floats)).toarray().tolist() == [[1, 0, 1], [0, 1, 0]]
    assert reach_pattern([[0, 3], [True, 0]]).toarray().tolist() == [[0, 1], [1, 0]]
    with pytest.raises(ValueError, match="2-D"):
        reach_pattern([1, 0, 1])
    with pytest.raises(ValueError, match="finite"):
        reach_pattern([[np.inf, 1.0]])
