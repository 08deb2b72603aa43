"""The reach matrix (coverage.model.reach) and the per-point latency constants
(coverage.model.problem)
against independent computations: a dense haversine distance matrix and the latency model
evaluated by hand."""

import numpy as np
import pytest

from coverage.errors import InfeasibleBudgetError
from coverage.model.geo import haversine_km
from coverage.model.latency import LatencyModel
from coverage.model.problem import RowLatency
from coverage.model.reach import build_reach


def instance(seed, n=300, m=40):
    rng = np.random.default_rng(seed)
    d_lat, d_lon = rng.uniform(35, 48, n), rng.uniform(-10, 15, n)
    s_lat, s_lon = rng.uniform(35, 48, m), rng.uniform(-10, 15, m)
    access = rng.choice(["ftth", "cable", "lan", "dsl"], n)
    return d_lat, d_lon, s_lat, s_lon, access


def dense_expected(model, budget, access, percentile, d_lat, d_lon, s_lat, s_lon,
                   shrink=None):
    """Pairs within budget, by hand: the latency of every pair from the model's fixed
    term per class and its ms per km, compared with the budget (no radius involved)."""
    dist = haversine_km(d_lat[:, None], d_lon[:, None], s_lat[None, :], s_lon[None, :])
    fixed = np.array([model.fixed_ms(a, percentile) for a in access])
    latency = fixed[:, None] + model.ms_per_km * dist
    ok = latency <= budget + 1e-9
    if shrink is not None:
        radius = (budget - fixed) / model.ms_per_km
        ok &= dist <= np.maximum(radius - shrink, 0)[:, None] + 1e-9
        ok &= (fixed <= budget)[:, None]
    return dist, latency, ok


@pytest.mark.parametrize("seed,budget,percentile", [(1, 30.0, "p99"), (2, 45.0, "p99"),
                                                      (3, 25.0, "p50"), (4, 80.0, "p99")])
def test_reach_matches_the_dense_latency_matrix(seed, budget, percentile):
    d_lat, d_lon, s_lat, s_lon, access = instance(seed)
    model = LatencyModel(route_factor=2.0)
    dist, latency, ok = dense_expected(model, budget, access, percentile, d_lat, d_lon,
                                       s_lat, s_lon)
    r = build_reach(d_lat, d_lon, s_lat, s_lon, model=model, budget_ms=budget, access=access,
                    percentile=percentile)
    got = r.boolean().toarray().astype(bool)
    # identical up to pairs within a micrometre of the boundary
    edge = np.abs(latency - budget) < 1e-6
    assert np.array_equal(got[~edge], ok[~edge])
    assert np.array_equal(r.n_covering(), got.sum(axis=1))
    rows = r.row_of_entry()
    np.testing.assert_allclose(r.distance_km, dist[rows, r.indices], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(r.latency_ms, latency[rows, r.indices], rtol=1e-5, atol=1e-3)
    fixed50 = np.array([model.fixed_ms(a, "p50") for a in access])
    np.testing.assert_allclose(r.p50_ms, fixed50[rows] + model.ms_per_km * dist[rows, r.indices],
                               rtol=1e-5, atol=1e-3)
    # entries of each row sorted by distance (the nearest open site is the first open entry)
    for i in np.flatnonzero(r.n_covering() > 1)[:50]:
        d = r.distance_km[r.indptr[i]:r.indptr[i + 1]]
        assert np.all(np.diff(d) >= 0)


def test_classes_that_cannot_meet_the_budget_have_no_pairs():
    d_lat, d_lon, s_lat, s_lon, access = instance(5)
    model = LatencyModel()
    assert model.fixed_ms("dsl") > 30
    r = build_reach(d_lat, d_lon, s_lat, s_lon, model=model, budget_ms=30.0, access=access)
    assert (r.n_covering()[access == "dsl"] == 0).all()
    assert (r.n_covering()[access == "lan"] > 0).any()
    with pytest.raises(InfeasibleBudgetError, match="dsl"):
        build_reach(d_lat, d_lon, s_lat, s_lon, model=model, budget_ms=30.0, access="dsl")


def test_shrink_and_row_latency_give_the_same_matrix():
    d_lat, d_lon, s_lat, s_lon, access = instance(6)
    model = LatencyModel()
    shrink = np.random.default_rng(6).uniform(0, 200, len(d_lat))
    direct = build_reach(d_lat, d_lon, s_lat, s_lon, model=model, budget_ms=40.0,
                         access=access, radius_shrink_km=shrink)
    rows = RowLatency.from_model(model, access, 40.0, "p99", shrink)
    via_rows = build_reach(d_lat, d_lon, s_lat, s_lon, model=model, budget_ms=40.0,
                           row_latency=rows)
    for name in ("indptr", "indices", "distance_km", "latency_ms", "p50_ms"):
        assert np.array_equal(getattr(direct, name), getattr(via_rows, name)), name
    _, latency, ok = dense_expected(model, 40.0, access, "p99", d_lat, d_lon, s_lat, s_lon,
                                    shrink)
    got = direct.boolean().toarray().astype(bool)
    assert np.array_equal(got, ok)
    with pytest.raises(ValueError, match="shrink"):
        build_reach(d_lat, d_lon, s_lat, s_lon, model=model, budget_ms=40.0,
                    row_latency=rows, radius_shrink_km=shrink)
    with pytest.raises(ValueError, match="demand points"):
        build_reach(d_lat[:10], d_lon[:10], s_lat, s_lon, model=model, budget_ms=40.0,
                    row_latency=rows)


def test_row_latency_by_hand():
    model = LatencyModel(route_factor=1.8, hops=4, per_hop_ms=0.1)
    rows = RowLatency.from_model(model, ["ftth", "dsl", "lan", "ftth"], 30.0, "p99")
    for i, a in enumerate(["ftth", "dsl", "lan", "ftth"]):
        fixed = model.fixed_ms(a, "p99")
        assert rows.fixed_ms[i] == fixed
        assert rows.fixed_p50_ms[i] == model.fixed_ms(a, "p50")
        want = (30.0 - fixed) / model.ms_per_km if fixed <= 30.0 else -1.0
        assert rows.radius_km[i] == want
    assert rows.infeasible_classes == ("dsl",) and "dsl" in rows.reasons[0]
    # a pair's latency is the model's latency at that distance
    d = np.array([0.0, 10.0, 250.0, 1000.0])
    np.testing.assert_allclose(rows.latency_ms([0, 1, 2, 3], d),
                               model.latency_ms(d, np.array(["ftth", "dsl", "lan", "ftth"]),
                                                "p99"))
    sub = rows.subset([3, 0])
    assert sub.radius_km.tolist() == [rows.radius_km[3], rows.radius_km[0]]
    assert np.array_equal(model.radius_km_array(30.0, ["ftth", "dsl"]), rows.radius_km[:2])


def test_empty_inputs():
    model = LatencyModel()
    r = build_reach([], [], [1.0], [1.0], model=model, budget_ms=30.0, access="ftth")
    assert r.shape == (0, 1) and r.nnz == 0
    r = build_reach([1.0], [1.0], [], [], model=model, budget_ms=30.0, access="ftth")
    assert r.shape == (1, 0) and r.nnz == 0
