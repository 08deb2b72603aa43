"""The row-weighting local search (coverage.solvers.cover_search) against brute force, and
min_cover with it on models where the LP path leaves a gap."""

import time

import numpy as np
import pytest
import scipy.sparse as sp

import coverage.solvers.cover as cover
from coverage.solvers.cover import greedy_cover, min_cover
from coverage.solvers.cover_search import _RowWeighting, row_weighting_search
from tests.test_cover_lp_path import brute, geometric


def unit_instance(seed):
    """A random unit-cost multicover of 20-40 rows and 9-13 sites, k = 1 or 2."""
    rng = np.random.default_rng(500 + seed)
    n, m = int(rng.integers(20, 41)), int(rng.integers(9, 14))
    pattern = rng.random((n, m)) < rng.uniform(0.2, 0.5)
    req = np.minimum(1 + seed % 2, pattern.sum(axis=1))
    return pattern, req


def greedy_mask(a, req):
    x = np.zeros(a.shape[1], dtype=bool)
    x[greedy_cover(a, req)] = True
    return x


def counts(a, x):
    """Each row's open sites, by a dense product (independent of the search's counts)."""
    return a.toarray().astype(np.int64) @ np.asarray(x, dtype=np.int64)


@pytest.mark.parametrize("seed", range(24))
def test_search_finds_the_brute_force_optimum(seed):
    pattern, req = unit_instance(seed)
    a = sp.csr_array(pattern.astype(np.int8))
    best = brute(pattern, req, np.ones(pattern.shape[1]))
    x0 = greedy_mask(a, req)
    x = row_weighting_search(a, req, x0, deadline=time.perf_counter() + 30.0, goal=best,
                             max_moves=20_000, min_stall_moves=20_000)
    assert np.all(counts(a, x) >= req)
    assert x.sum() <= x0.sum()
    assert x.sum() == best  # reached (the goal only stops the search there)


@pytest.mark.parametrize("seed", range(4))
def test_search_on_geometric_models_is_feasible_and_no_larger(seed):
    a, req, _ = geometric(seed, n=400, m=150, radius=0.2)
    x0 = greedy_mask(a, req)
    x = row_weighting_search(a, req, x0, deadline=time.perf_counter() + 30.0,
                             max_moves=5_000)
    assert np.all(counts(a, x) >= req)
    assert x.sum() <= x0.sum()
    ref = min_cover(a, req, time_limit_s=30)  # the exact optimum: the search never beats it
    assert ref.status == "optimal" and x.sum() >= ref.objective


@pytest.mark.parametrize("seed", range(3))
def test_incremental_scores_counts_and_weights_stay_exact(seed):
    """After every one of many moves, the scores kept by the moves equal the scores
    recomputed from scratch, and the counts a fresh product."""
    a, req = dense_double_cover(seed, n=400, m=120)
    x0 = greedy_mask(a, req)
    st = _RowWeighting(a, req.astype(np.int64), x0.copy())
    rng = np.random.default_rng(seed)
    st.flip(st.pick(np.flatnonzero(st.x)), False)  # as the search does: one site fewer
    tabu, n_short_seen = -1, 0
    for _ in range(300):
        if st.n_short == 0:
            st.flip(st.pick(np.flatnonzero(st.x)), False)
            continue
        tabu = st.step(rng, tabu)
        assert np.array_equal(st.cov, counts(a, st.x))
        assert st.n_short == int((st.cov < req).sum())
        assert np.array_equal(st.short, np.flatnonzero(st.cov < req))  # kept, not rescanned
        assert np.array_equal(st.score, st.fresh_scores())
        n_short_seen += st.n_short
    assert st.w.max() > 1 and n_short_seen > 0  # the weights did rise


def test_search_stops_at_the_goal_and_at_the_deadline():
    a, req, _ = geometric(1, n=400, m=150, radius=0.2)
    x0 = greedy_mask(a, req)
    same = row_weighting_search(a, req, x0, deadline=time.perf_counter() - 1.0)
    assert np.array_equal(same, x0)  # past its deadline: no move
    reached = row_weighting_search(a, req, x0, deadline=time.perf_counter() + 30.0,
                                   goal=x0.sum() - 1)
    assert reached.sum() == x0.sum() - 1 and np.all(counts(a, reached) >= req)
    assert np.array_equal(row_weighting_search(a, req, x0, deadline=time.perf_counter() + 30,
                                               goal=x0.sum()), x0)


def test_search_refuses_a_start_that_leaves_rows_short():
    a = sp.csr_array(np.array([[1, 1, 0], [0, 1, 1]], dtype=np.int8))
    with pytest.raises(ValueError, match="short"):
        row_weighting_search(a, np.array([2, 1]), np.array([True, False, False]),
                             deadline=time.perf_counter() + 1)
    with pytest.raises(ValueError, match="values"):
        row_weighting_search(a, np.array([1]), np.array([True, True, True]),
                             deadline=time.perf_counter() + 1)


def test_search_does_not_change_its_inputs():
    a, req, _ = geometric(2, n=300, m=120, radius=0.2)
    x0 = greedy_mask(a, req)
    before = (a.copy(), req.copy(), x0.copy())
    row_weighting_search(a, req, x0, deadline=time.perf_counter() + 30.0, max_moves=2_000)
    assert (a != before[0]).nnz == 0
    assert np.array_equal(req, before[1]) and np.array_equal(x0, before[2])


def dense_double_cover(seed, n=1_500, m=300, radius=0.12):  # (defaults: small LP gaps)
    """Many sites close together, two needed per point: the LP leaves a gap (as in the
    dense countries' national models), so min_cover reaches the search and the MILP."""
    rng = np.random.default_rng(seed)
    centres = rng.random((6, 2))
    points = (centres[rng.integers(6, size=n)] + rng.normal(0, 0.12, (n, 2)))
    sites = (centres[rng.integers(6, size=m)] + rng.normal(0, 0.15, (m, 2)))
    reach = np.linalg.norm(points[:, None] - sites[None], axis=2) < radius
    return sp.csr_array(reach.astype(np.int8)), np.minimum(2, reach.sum(axis=1))


LIMIT_S = 4.0  # (8 s until 2026-12-07: the same checks; the LP path still leaves a gap)


@pytest.mark.parametrize("seed", range(2))
def test_min_cover_with_the_search_is_feasible_and_its_bound_valid(seed, monkeypatch, caplog):
    a, req = dense_double_cover(seed, n=3_000, m=500, radius=0.1)  # LP gap >= 2 sites
    caplog.set_level("DEBUG", logger="coverage.solvers.cover_search")
    with_search = min_cover(a, req, time_limit_s=LIMIT_S)
    assert "row-weighting search" in caplog.text  # the LP path did not settle it
    x = np.zeros(a.shape[1], dtype=bool)
    x[with_search.sites] = True
    assert np.all(counts(a, x) >= req)  # re-checked independently
    monkeypatch.setattr(cover, "SEARCH_SHARE", 0.0)
    exact = min_cover(a, req, time_limit_s=LIMIT_S)
    assert exact.lower_bound <= with_search.objective
    assert with_search.lower_bound <= exact.objective
    if exact.status == "optimal":
        assert with_search.lower_bound <= exact.objective <= with_search.objective


@pytest.mark.parametrize("seed", range(3))
def test_fixed_sites_stay_open(seed):
    a, req, _ = geometric(seed, n=400, m=150, radius=0.2)
    x0 = greedy_mask(a, req)
    fixed = np.zeros(a.shape[1], dtype=bool)
    fixed[np.flatnonzero(x0)[::3]] = True  # a third of the start's sites are existing ones
    x = row_weighting_search(a, req, x0, deadline=time.perf_counter() + 30.0, fixed=fixed,
                             max_moves=3_000)
    assert np.all(x[fixed]) and np.all(counts(a, x) >= req) and x.sum() <= x0.sum()
    free = row_weighting_search(a, req, x0, deadline=time.perf_counter() + 30.0,
                                max_moves=3_000)
    assert not np.all(free[fixed])  # without them the search closes some of these sites
    with pytest.raises(ValueError, match="fixed"):
        row_weighting_search(a, req, x0, deadline=time.perf_counter() + 1, fixed=~x0)


def test_no_search_when_the_plan_is_one_site_above_the_bound(caplog):
    """A gap of one site HiGHS closes fast: the search (which stalls only after 20,000
    moves) must not run there (it cost 6 s on a 1M-cell US grid's round-2 component)."""
    a, req = dense_double_cover(0)
    caplog.set_level("DEBUG", logger="coverage.solvers")
    res = min_cover(a, req, time_limit_s=30)
    assert "LP-guided plan" in caplog.text  # the LP path left a gap (of one site) ...
    assert "row-weighting search" not in caplog.text  # ... which the MILP closed alone
    assert res.status == "optimal"


def test_values_and_duplicate_entries_count_once():
    """A pair counts once whatever its stored value: with a value of 2, or the same entry
    stored twice, one open site must not pass for two."""
    ones = sp.csr_array(np.array([[1, 1, 1, 0], [0, 0, 1, 1]], dtype=np.int8))
    need = np.array([2, 1])
    start = np.ones(4, dtype=bool)
    twos = ones.copy()
    twos.data[:] = 2
    dup = sp.csr_array((np.ones(6), np.array([0, 0, 1, 2, 2, 3]), np.array([0, 4, 6])),
                       shape=(2, 4))  # row 0 holds site 0 twice, row 1 site 2 twice
    assert not dup.has_canonical_format
    dup_before = dup.copy()
    for a in (twos, dup):
        x = row_weighting_search(a, need, start, deadline=time.perf_counter() + 5,
                                 max_moves=200)
        assert np.all(counts(ones, x) >= need), (a.toarray(), x)
        assert x.sum() == 2  # two sites of row 0, one of them (site 2) in row 1 too
    assert np.array_equal(dup.indices, dup_before.indices)  # the input is left as it was
    assert not row_weighting_search(ones, np.array([0, 0]), start,
                                    deadline=time.perf_counter() + 5).any()


def test_no_search_on_a_small_model(caplog):
    """HiGHS proves small models at once: the search (20,000 stall moves, seconds) must
    not run there, however wide the gap after the LP rounding."""
    rng = np.random.default_rng(407)  # a random 200 x 60 cover: 112 x 54 after reductions
    a = sp.csr_array((rng.random((200, 60)) < 0.08).astype(np.int64))
    caplog.set_level("DEBUG", logger="coverage.solvers")
    res = min_cover(a, 1)
    assert "LP-guided plan" in caplog.text  # the LP path left a gap the MILP had to close
    assert "row-weighting search" not in caplog.text
    assert res.status == "optimal"


STALL = 3_000


@pytest.mark.parametrize("seed", range(2))
def test_restarts_never_end_above_one_run_and_stop_when_one_finds_nothing(seed, monkeypatch):
    """search_with_restarts: each run starts from the best plan so far with the next seed,
    and the first run that finds no smaller plan ends it: never larger than one run,
    feasible, and one run more than the runs that improved."""
    import coverage.solvers.cover_search as cs

    a, req = dense_double_cover(seed, n=1_000, m=200, radius=0.1)
    x0 = greedy_mask(a, req)
    runs = []
    real = cs.row_weighting_search

    def counted(*args, **kwargs):
        # (runs that stall after 3,000 moves, not 20,000: the same restarts, 4x faster)
        out = real(*args, **kwargs, min_stall_moves=STALL)
        runs.append((int(np.asarray(args[2]).sum()), int(out.sum()), kwargs["seed"]))
        return out

    monkeypatch.setattr(cs, "row_weighting_search", counted)
    x = cs.search_with_restarts(a, req, x0, deadline=time.perf_counter() + 60.0)
    assert np.all(counts(a, x) >= req)
    assert len(runs) >= 2  # a restart ran
    one = real(a, req, x0, deadline=time.perf_counter() + 60.0, min_stall_moves=STALL)
    assert x.sum() <= one.sum() <= x0.sum()
    assert [r[2] for r in runs] == list(range(len(runs)))  # the next seed each time
    assert all(r[1] < r[0] for r in runs[:-1])  # every run but the last improved
    assert runs[-1][1] >= runs[-1][0] or x.sum() == runs[-1][1]
    assert x.sum() == min(r[1] for r in runs)
    # a goal reached ends it at once
    runs.clear()
    x = cs.search_with_restarts(a, req, x0, deadline=time.perf_counter() + 60.0,
                                goal=float(x0.sum()))
    assert len(runs) == 1 and x.sum() == x0.sum()
