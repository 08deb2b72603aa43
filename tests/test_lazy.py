"""Row generation (coverage.solvers.rowgen) against the full model; few seed rows, so it
iterates."""

import numpy as np
import pytest
from helpers import ON_NET

from coverage.model.latency import LatencyModel
from coverage.model.reach import build_reach
from coverage.solvers.cover import min_cover
from coverage.solvers.rowgen import lazy_cover


@pytest.mark.parametrize("model,seed_rows,budget_ms", [
    # the sample data's tight and medium budgets under the on-net model it was designed for
    pytest.param(ON_NET, 5, 25.0, id="on-net-5-25.0"),
    pytest.param(ON_NET, 30, 25.0, id="on-net-30-25.0"),
    pytest.param(ON_NET, 10, 30.0, id="on-net-10-30.0"),
    # the tight budget of the default internet model (88 km radius)
    pytest.param(LatencyModel(), 5, 30.0, id="internet-5-30.0"),
])
def test_lazy_cover_iterates_to_the_full_optimum(sample_inputs, model, seed_rows, budget_ms):
    demand, sites = sample_inputs
    args = (demand.lat, demand.lon, sites.lat, sites.lon)
    full = build_reach(*args, model=model, budget_ms=budget_ms)
    exact = min_cover(full.boolean(), np.minimum(2, full.n_covering()))
    res = lazy_cover(*args, model=model, budget_ms=budget_ms,
                     access=np.full(len(demand), "ftth"), seed_rows=seed_rows)
    assert res.cover.objective == exact.objective and res.cover.status == "optimal"
    assert (res.n_covering == full.n_covering()).all()
    assert res.rows_fetched < len(demand)
    # the plan meets every row of the full matrix
    chosen = np.zeros(len(sites), dtype=bool)
    chosen[res.cover.sites] = True
    have = full.boolean() @ chosen.astype(np.int64)
    assert (have >= np.minimum(2, full.n_covering())).all()


@pytest.mark.parametrize("fetch_pairs", [1, 37, 500])
def test_fetching_in_small_batches_gives_the_same_model(sample_inputs, fetch_pairs):
    """Rows fetched in batches of ~fetch_pairs pairs (merged after each) = one big fetch."""
    demand, sites = sample_inputs
    model = LatencyModel()
    args = (demand.lat, demand.lon, sites.lat, sites.lon)
    kw = dict(model=model, budget_ms=40.0, access=np.full(len(demand), "ftth"), seed_rows=60)
    one = lazy_cover(*args, **kw)
    batched = lazy_cover(*args, fetch_pairs=fetch_pairs, **kw)
    # same seed rows; later rounds may differ (an equally good plan can violate other cells)
    assert batched.rounds[0]["rows_held"] == one.rounds[0]["rows_held"]
    assert batched.cover.objective == one.cover.objective
    assert batched.cover.status == "optimal"
    full = build_reach(*args, model=model, budget_ms=40.0)
    chosen = np.zeros(len(sites), dtype=bool)
    chosen[batched.cover.sites] = True
    assert ((full.boolean() @ chosen.astype(np.int64)) >= np.minimum(2, full.n_covering())).all()


def test_per_bin_min_against_a_loop():
    from coverage.model.geo import chord_from_km, unit_xyz
    from coverage.solvers.rowgen import _cube_keys, _per_bin_min

    rng = np.random.default_rng(3)
    n = 3_000
    lat, lon = rng.uniform(-89, 89, n), rng.uniform(-180, 180, n)
    n_cov = rng.integers(0, 50, n)
    cells = np.flatnonzero(rng.random(n) < 0.7)
    xyz = unit_xyz(lat, lon)
    key = _cube_keys(xyz, 500.0)
    got = _per_bin_min(cells, key, n_cov)
    edge = chord_from_km(500.0)
    best: dict = {}
    for i in cells:  # the naive version: one cube per cell, keep the fewest (then first)
        cube = tuple(int(np.floor((v + 1.0) / edge)) for v in xyz[i])
        if cube not in best or n_cov[i] < n_cov[best[cube]]:
            best[cube] = i
    assert len(got) == len(best) and len(got) < len(cells)
    assert sorted(got) == sorted(best.values())
    assert len(_per_bin_min(cells[:0], key, n_cov)) == 0
    # cubes of a smaller edge split the points further; one huge cube keeps one point
    assert len(_per_bin_min(cells, _cube_keys(xyz, 50.0), n_cov)) > len(got)
    assert len(_per_bin_min(cells, _cube_keys(xyz, 20_000.0), n_cov)) == 1


def test_random_seed_still_available(sample_inputs):
    demand, sites = sample_inputs
    model = ON_NET  # 25 ms: the sample data's tight budget under on-net (252 km)
    args = (demand.lat, demand.lon, sites.lat, sites.lon)
    full = build_reach(*args, model=model, budget_ms=25.0)
    exact = min_cover(full.boolean(), np.minimum(2, full.n_covering()))
    res = lazy_cover(*args, model=model, budget_ms=25.0, access=np.full(len(demand), "ftth"),
                     seed_rows=20, spread=False)
    assert res.cover.objective == exact.objective and res.cover.status == "optimal"


def test_one_swap_against_brute_force():
    """_one_swap finds a feasible same-size swap exactly when one exists (200 instances:
    a feasible plan with one site moved at random, so both outcomes occur)."""
    import itertools

    import scipy.sparse as sp

    from coverage.solvers.cover import greedy_cover
    from coverage.solvers.rowgen import _one_swap

    found = missing = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        n, m = 14, 9
        pattern = rng.random((n, m)) < 0.4
        need = np.minimum(rng.integers(1, 3, n), pattern.sum(axis=1))
        cost = rng.integers(1, 3, m).astype(float) if seed % 2 else np.ones(m)
        keep = rng.random(m) < 0.15
        a = sp.csr_array(pattern.astype(np.int8))
        sites = np.asarray(greedy_cover(a, need, cost=cost), dtype=np.int64)
        out = rng.choice(sites)
        others = np.setdiff1d(np.arange(m), sites)
        if not len(others):
            continue
        sites = np.sort(np.append(sites[sites != out], rng.choice(others)))
        got = _one_swap(a, need, sites, cost, keep)

        def ok(plan, pattern=pattern, need=need):
            return bool(np.all(pattern[:, plan].sum(axis=1) >= need))

        exists = (not ok(sites)) and any(
            ok(np.append(sites[sites != j], k)) and cost[k] <= cost[j]
            for j, k in itertools.product(sites, np.setdiff1d(np.arange(m), sites))
            if not keep[j])
        assert (got is not None) == exists, seed
        if got is not None:
            found += 1
            assert ok(got) and len(got) == len(sites) and cost[got].sum() <= cost[sites].sum()
            assert np.isin(sites[keep[sites]], got).all()
        else:
            missing += 1
    assert found >= 20 and missing >= 20, (found, missing)


def test_swap_descent_returns_only_feasible_same_size_plans():
    """_swap_descent on plans with two sites moved at random (300 instances): whatever it
    returns meets every row, has the same size, costs no more and keeps the required sites;
    it finds a plan in a good share of the cases, including some one swap cannot fix."""
    import scipy.sparse as sp

    from coverage.solvers.cover import greedy_cover
    from coverage.solvers.rowgen import _one_swap, _swap_descent

    found = beyond_one = 0
    for seed in range(300):
        rng = np.random.default_rng(seed)
        n, m = 30, 12
        pattern = rng.random((n, m)) < 0.35
        need = np.minimum(rng.integers(1, 3, n), pattern.sum(axis=1))
        cost = rng.integers(1, 3, m).astype(float) if seed % 2 else np.ones(m)
        keep = rng.random(m) < 0.1
        a = sp.csr_array(pattern.astype(np.int8))
        sites = np.asarray(greedy_cover(a, need, cost=cost, required=keep), dtype=np.int64)
        for _ in range(2):
            movable = sites[~keep[sites]]
            others = np.setdiff1d(np.arange(m), sites)
            if not len(movable) or not len(others):
                break
            sites = np.sort(np.append(sites[sites != rng.choice(movable)],
                                      rng.choice(others)))
        got = _swap_descent(a, need, sites, cost, keep)
        if got is None:
            continue
        found += 1
        assert np.all(pattern[:, got].sum(axis=1) >= need)
        assert len(got) == len(sites) and cost[got].sum() <= cost[sites].sum() + 1e-9
        assert keep[sites].sum() == keep[got].sum()
        if _one_swap(a, need, sites, cost, keep) is None and not np.all(
                pattern[:, sites].sum(axis=1) >= need):
            beyond_one += 1
    assert found >= 100 and beyond_one >= 5, (found, beyond_one)


def test_fetched_rows_hold_exactly_the_counted_candidates():
    """RowSource.rows and RowSource.count agree row by row (same exact test), on every
    row and on a subset of the candidates, with mixed radii."""
    from coverage.model.latency import LatencyModel
    from coverage.model.problem import RowLatency
    from coverage.solvers.rowgen import RowSource

    rng = np.random.default_rng(5)
    n, m = 4_000, 300
    lat, lon = rng.uniform(30, 50, n), rng.uniform(-120, -70, n)
    s_lat, s_lon = rng.uniform(30, 50, m), rng.uniform(-120, -70, m)
    access = rng.choice(np.array(["ftth", "lte", "cable"], dtype=object), size=n)
    model = LatencyModel()
    rows = RowLatency.from_model(model, access, 30.0, "p99", None)
    src = RowSource(lat, lon, s_lat, s_lon, model, 30.0, "p99", rows)
    every = np.arange(n)
    assert np.array_equal(src.rows(every).sum(axis=1), src.count())
    some = np.sort(rng.choice(m, size=90, replace=False))
    block = src.rows(every, sites=some)
    assert np.array_equal(block.sum(axis=1), src.count(some))
    assert set(np.unique(block.indices)) <= set(some)


@pytest.mark.parametrize("fetch_pairs", [1, 500, 10**9])
def test_row_pool_holds_the_same_rows_whatever_the_batches(fetch_pairs):
    """RowPool.fetch merges its batches into the pool when they hold as many pairs as the
    pool: the pool (distinct column sets, each with the largest requirement among its rows)
    is the same for batches of one row, of a few hundred pairs and one batch, and over
    several fetches."""
    from coverage.model.latency import LatencyModel
    from coverage.model.problem import RowLatency
    from coverage.solvers.rowgen import RowPool, RowSource

    rng = np.random.default_rng(9)
    n, m = 3_000, 120
    lat, lon = rng.uniform(40, 46, n), rng.uniform(-5, 5, n)
    s_lat, s_lon = rng.uniform(40, 46, m), rng.uniform(-5, 5, m)
    model = LatencyModel()
    rl = RowLatency.from_model(model, np.array(["ftth"] * n, dtype=object), 30.0, "p99",
                               None)
    src = RowSource(lat, lon, s_lat, s_lon, model, 30.0, "p99", rl)
    n_cov = src.count()
    req = np.minimum(rng.integers(1, 3, n), n_cov)
    pool = RowPool(src, req, n_cov, fetch_pairs=fetch_pairs)
    first = rng.choice(n, size=1_200, replace=False)
    pool.fetch(first)
    pool.fetch(rng.choice(n, size=1_500, replace=False))  # overlaps the first
    held = np.flatnonzero(pool.held)
    full = src.rows(held)
    want: dict[tuple[int, ...], int] = {}
    for i, row in enumerate(held):
        key = tuple(full.indices[full.indptr[i]:full.indptr[i + 1]])
        want[key] = max(want.get(key, 0), int(req[row]))
    got = {tuple(np.sort(pool.pool.indices[pool.pool.indptr[i]:pool.pool.indptr[i + 1]])):
           int(pool.pool_req[i]) for i in range(pool.pool.shape[0])}
    assert pool.pool.shape[0] == len(got) == len(want)
    assert got == want
    assert pool.pairs == full.nnz


def _rows_sorted(m) -> bool:
    """Whether every row's column indices really ascend (whatever the flag says)."""
    d = np.diff(m.indices)
    starts = m.indptr[1:-1]
    inner = np.ones(len(d), dtype=bool)
    inner[starts[(starts > 0) & (starts < len(m.indices))] - 1] = False  # row boundaries
    return bool(np.all(d[inner] > 0))


@pytest.mark.parametrize("query_rows", [37, 1_000, 100_000])
def test_fetched_rows_equal_a_dense_computation_on_both_query_paths(query_rows):
    """RowSource.rows queries per row (chunks smaller than the candidate set) or per
    candidate (larger chunks, radius bands), or both in one call (1,000-row chunks and a
    last one of 300): each gives, for rows in any order with repeats and candidate subsets
    in any order, sorted or not, exactly the pairs of a dense distance computation with the
    count's arithmetic (point minus site, squared, against the squared chord), every row's
    indices ascending."""
    from coverage.model.geo import chord_from_km, unit_xyz
    from coverage.model.latency import LatencyModel
    from coverage.model.problem import RowLatency
    from coverage.solvers.rowgen import RowSource

    rng = np.random.default_rng(11)
    n, m = 2_500, 400
    lat, lon = rng.uniform(30, 48, n), rng.uniform(-120, -75, n)
    s_lat, s_lon = rng.uniform(30, 48, m), rng.uniform(-120, -75, m)
    s_lat[:50], s_lon[:50] = lat[:50], lon[:50]  # candidates on cells: distance 0
    access = rng.choice(np.array(["ftth", "ftth", "ftth", "cable"], dtype=object), size=n)
    # radii from 0 to 985 km (ftth at 50 ms, less a shrink); cable reaches nothing at 50 ms
    shrink = np.where(rng.random(n) < 0.6, rng.uniform(0.0, 1_000.0, n), 0.0)
    model = LatencyModel()
    rl = RowLatency.from_model(model, access, 50.0, "p99", shrink)
    src = RowSource(lat, lon, s_lat, s_lon, model, 50.0, "p99", rl)
    src.query_rows = query_rows
    p, s = unit_xyz(lat, lon), unit_xyz(s_lat, s_lon)
    d2 = ((p[:, None, :] - s[None, :, :]) ** 2).sum(axis=2)
    radius = rl.radius_km
    truth = (d2 <= (chord_from_km(np.maximum(radius, 0.0)) ** 2)[:, None]) & (
        radius >= 0)[:, None]
    assert truth.any(axis=1).mean() > 0.5 and (~truth.any(axis=1)).any()
    # unordered, with repeats: 4,300 rows that reach something (chunks of 1,000 end with one
    # of 300, fewer than the candidates) and 500 that reach nothing
    live, dead = np.flatnonzero(radius >= 0), np.flatnonzero(radius < 0)
    rows = rng.permutation(np.concatenate([rng.choice(live, size=4_300, replace=True),
                                           rng.choice(dead, size=500, replace=True)]))
    got = src.rows(rows)
    assert got.shape == (len(rows), m) and _rows_sorted(got)
    assert np.array_equal(got.toarray(), truth[rows])
    for sub in (rng.choice(m, size=150, replace=True),  # unordered, with repeats
                np.sort(rng.choice(m, size=150, replace=False))):  # sorted, unique
        got = src.rows(rows, sites=sub)
        want = np.zeros_like(truth[rows])
        want[:, sub] = truth[rows][:, sub]
        assert _rows_sorted(got) and np.array_equal(got.toarray(), want)


@pytest.mark.parametrize("with_existing", [False, True])
def test_local_search_after_a_round_that_stops_short_keeps_a_full_cover(
        sample_inputs, monkeypatch, caplog, with_existing):
    """One round on few seed rows leaves cells short: the greedy repair covers them, and
    the local search on the rows held (``rowgen._polish``) may only return a plan that
    covers every cell (checked here on the full matrix) and is no larger."""
    import coverage.solvers.rowgen as rowgen

    demand, sites = sample_inputs
    args = (demand.lat, demand.lon, sites.lat, sites.lon)
    full = build_reach(*args, model=ON_NET, budget_ms=25.0)
    need = np.minimum(2, full.n_covering())
    kw = dict(model=ON_NET, budget_ms=25.0, access=np.full(len(demand), "ftth"), seed_rows=5,
              spread=False, max_rounds=1, time_limit_s=60)
    required = None
    if with_existing:  # equal costs of 5 (not 1) and three existing sites that stay open
        required = np.zeros(len(sites), dtype=bool)
        required[[3, 17, 40]] = True
        kw.update(cost=np.full(len(sites), 5.0), required=required)
    caplog.set_level("INFO", logger="coverage.solvers.rowgen")
    polished = lazy_cover(*args, **kw)
    if not with_existing:  # (with them, no smaller plan is found here: nothing to log)
        assert "local search" in caplog.text
    monkeypatch.setattr(rowgen, "_polish", lambda *a, **k: None)
    plain = lazy_cover(*args, **kw)
    assert plain.cover.status == polished.cover.status == "time_limit"
    assert polished.cover.objective <= plain.cover.objective
    for res in (plain, polished):
        chosen = np.zeros(len(sites), dtype=bool)
        chosen[res.cover.sites] = True
        assert (full.boolean() @ chosen.astype(np.int64) >= need).all()
        best = min_cover(full.boolean(), need, cost=kw.get("cost"), required=required)
        assert res.cover.lower_bound <= best.objective <= res.cover.objective
        if required is not None:
            assert chosen[required].all()


def test_the_seed_is_capped_by_pairs_and_the_optimum_still_proven(sample_inputs, monkeypatch):
    """At wide budgets every cell has many candidates in budget: 20,000 seed rows were 153M
    pairs for a 2-site plan. The seed is now capped (SEED_MAX_PAIRS, fewest candidates
    first); row generation still proves the full matrix's optimum."""
    import coverage.solvers.rowgen as rowgen
    from coverage.solvers.rowgen import fewest_within_pairs as _fewest_within_pairs

    n_cov = np.array([9, 1, 5, 3, 7])
    assert list(_fewest_within_pairs(np.arange(5), n_cov, 100)) == [1, 3, 2, 4, 0]
    assert list(_fewest_within_pairs(np.arange(5), n_cov, 9)) == [1, 3, 2]
    assert list(_fewest_within_pairs(np.array([0, 4]), n_cov, 1)) == [4]  # at least one

    demand, sites = sample_inputs
    model = LatencyModel()
    args = (demand.lat, demand.lon, sites.lat, sites.lon)
    full = build_reach(*args, model=model, budget_ms=60.0)
    exact = min_cover(full.boolean(), np.minimum(2, full.n_covering()))
    kw = dict(model=model, budget_ms=60.0, access=np.full(len(demand), "ftth"),
              seed_rows=len(demand))
    seeded = []
    original = rowgen.RowPool.seed

    def seed(self, *a, **k):  # the pairs the seed fetched
        original(self, *a, **k)
        seeded.append(int(self.pairs))

    monkeypatch.setattr(rowgen.RowPool, "seed", seed)
    lazy_cover(*args, **kw)
    cap = int(full.n_covering().sum() // 10)
    monkeypatch.setattr(rowgen, "SEED_MAX_PAIRS", cap)
    capped = lazy_cover(*args, **kw)
    tight = int(full.n_covering()[full.n_covering() <= 2].sum())  # always fetched
    assert seeded[1] <= 2 * cap + tight < seeded[0]
    assert capped.cover.objective == exact.objective and capped.cover.status == "optimal"
    chosen = np.zeros(len(sites), dtype=bool)
    chosen[capped.cover.sites] = True
    assert ((full.boolean() @ chosen.astype(np.int64)) >= np.minimum(2, full.n_covering())).all()
