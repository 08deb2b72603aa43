"""coverage.model.geo.BinnedPoints: binned radius counts equal count_within's exactly."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coverage.model.geo import (
    EARTH_RADIUS_KM,
    BinnedPoints,
    chord_from_km,
    count_within,
    unit_tree,
    unit_xyz,
)


def reference(p_lat, p_lon, radius_km, s_lat, s_lon):
    """count_within (a BallTree on the sites), the counts BinnedPoints must equal."""
    xyz = unit_xyz(p_lat, p_lon)
    if not len(s_lat):
        return np.zeros(len(xyz), dtype=np.int64)
    return count_within(unit_tree(s_lat, s_lon), xyz, np.asarray(radius_km, dtype=float))


def binned(p_lat, p_lon, radius_km, s_lat, s_lon, **kw):
    bp = BinnedPoints.from_km(unit_xyz(p_lat, p_lon), radius_km, **kw)
    return bp.count(unit_xyz(s_lat, s_lon).reshape(-1, 3))


def mixed_radii(rng, n, classes=(40.0, 150.0, 600.0, -1.0)):
    """Several access classes' radii (a negative one reaches nothing) with a little spread."""
    r = rng.choice(np.asarray(classes), size=n)
    return np.where(r >= 0, r * rng.uniform(0.9, 1.1, n), r)


def uniform_sphere(rng, n):
    """Points uniform on the sphere, degrees."""
    return np.degrees(np.arcsin(rng.uniform(-1, 1, n))), rng.uniform(-180, 180, n)


def clustered(rng, n, centres, spread_deg):
    """Points around the (lat, lon) centres; longitudes wrapped to [-180, 180), latitudes
    reflected at the poles."""
    c = np.asarray(centres, dtype=float)[rng.integers(0, len(centres), n)]
    lat = c[:, 0] + rng.normal(0, spread_deg, n)
    lat = np.where(lat > 90, 180 - lat, np.where(lat < -90, -180 - lat, lat))
    lon = (c[:, 1] + rng.normal(0, spread_deg, n) + 180.0) % 360.0 - 180.0
    return lat, lon


@pytest.mark.parametrize("seed", range(6))
def test_uniform_points_mixed_radii(seed):
    rng = np.random.default_rng(seed)
    p_lat, p_lon = uniform_sphere(rng, 20_000)
    s_lat, s_lon = uniform_sphere(rng, 500)
    r = mixed_radii(rng, len(p_lat), (300.0, 1_000.0, 2_500.0, -5.0))
    r[rng.random(len(r)) < 0.01] = np.nan  # NaN: reaches nothing, as in count_within
    want = reference(p_lat, p_lon, r, s_lat, s_lon)
    assert want.sum() > 0 and (want[~(r >= 0)] == 0).all()
    np.testing.assert_array_equal(binned(p_lat, p_lon, r, s_lat, s_lon), want)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("where", ["antimeridian", "north-pole", "south-pole", "mixed"])
def test_clustered_near_the_antimeridian_and_the_poles(seed, where):
    rng = np.random.default_rng(100 + seed)
    centres = {"antimeridian": [(10.0, 179.95), (-40.0, -179.9), (60.0, 180.0)],
               "north-pole": [(89.99, 0.0), (88.0, 120.0)],
               "south-pole": [(-90.0, 0.0), (-89.5, -60.0)],
               "mixed": [(89.9, 10.0), (0.0, 179.99), (-30.0, 20.0), (45.0, -100.0)]}[where]
    p_lat, p_lon = clustered(rng, 30_000, centres, 1.5)
    s_lat, s_lon = clustered(rng, 300, centres, 2.0)
    r = mixed_radii(rng, len(p_lat))
    want = reference(p_lat, p_lon, r, s_lat, s_lon)
    assert want.sum() > 0
    np.testing.assert_array_equal(binned(p_lat, p_lon, r, s_lat, s_lon), want)


@pytest.mark.parametrize("leaf_km,top_bins", [(0.5, 1), (5.0, 64), (50.0, 8), (5_000.0, 1)])
def test_any_leaf_size_and_depth(leaf_km, top_bins):
    """The leaf edge and the depth of the hierarchy change the speed, never the counts."""
    rng = np.random.default_rng(7)
    p_lat, p_lon = clustered(rng, 20_000, [(40.0, -100.0), (35.0, -80.0)], 3.0)
    s_lat, s_lon = clustered(rng, 400, [(40.0, -100.0), (35.0, -80.0)], 3.0)
    r = mixed_radii(rng, len(p_lat), (20.0, 88.0, 300.0))
    want = reference(p_lat, p_lon, r, s_lat, s_lon)
    got = binned(p_lat, p_lon, r, s_lat, s_lon, leaf_km=leaf_km, top_bins=top_bins)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("class_leaves", [1e-3, 2.0, 1e9])
def test_radius_classes_change_the_speed_not_the_counts(monkeypatch, class_leaves):
    """Radius classes of any width: one class a point, the default, one class for all (bins
    mixing long, short and negative radii)."""
    monkeypatch.setattr(BinnedPoints, "CLASS_LEAVES", class_leaves)
    rng = np.random.default_rng(8)
    p_lat, p_lon = clustered(rng, 15_000, [(40.0, -100.0), (35.0, -80.0)], 2.0)
    s_lat, s_lon = clustered(rng, 300, [(40.0, -100.0), (35.0, -80.0)], 2.0)
    r = mixed_radii(rng, len(p_lat), (88.0, 591.0, -1.0)) - rng.uniform(0, 30, len(p_lat))
    want = reference(p_lat, p_lon, r, s_lat, s_lon)
    np.testing.assert_array_equal(binned(p_lat, p_lon, r, s_lat, s_lon), want)


def test_sites_at_bin_centres_and_on_points():
    """Sites exactly at the bins' centres (every level) and exactly on points."""
    rng = np.random.default_rng(11)
    p_lat, p_lon = clustered(rng, 10_000, [(40.0, -100.0), (-10.0, 30.0)], 2.0)
    xyz = unit_xyz(p_lat, p_lon)
    r = mixed_radii(rng, len(p_lat), (30.0, 120.0, -1.0))
    bp = BinnedPoints.from_km(xyz, r)
    assert bp.n_levels >= 2
    centres = np.vstack([bp.bin_centres(lv) for lv in range(bp.n_levels)])
    sites = np.vstack([centres[::5], xyz[rng.choice(len(xyz), 200, replace=False)]])
    from sklearn.neighbors import BallTree

    want = count_within(BallTree(sites), xyz, r)
    assert (want > 0).any()
    np.testing.assert_array_equal(bp.count(sites), want)


def test_zero_radius_counts_the_site_on_the_point():
    xyz = unit_xyz([10.0, 10.0, 20.0], [5.0, 5.0, 5.0])
    bp = BinnedPoints.from_km(xyz, [0.0, -0.0, 0.0])
    assert bp.count(xyz[:1]).tolist() == [1, 1, 0]


def test_empty_sites_single_point_and_no_live_point():
    xyz = unit_xyz([40.0], [-100.0])
    bp = BinnedPoints.from_km(xyz, [50.0])
    assert bp.count(np.zeros((0, 3))).tolist() == [0]
    near = unit_xyz([40.1, 45.0], [-100.0, -100.0])
    assert bp.count(near).tolist() == [1]
    assert bp.count(near, chunk_sites=1).tolist() == [1]
    dead = BinnedPoints.from_km(unit_xyz([1.0, 2.0], [3.0, 4.0]), [-1.0, np.nan])
    assert dead.n_levels == 0 and dead.count(near).tolist() == [0, 0]
    none = BinnedPoints.from_km(np.zeros((0, 3)), np.zeros(0))
    assert none.count(near).shape == (0,)


def test_huge_radii_reach_every_site():
    """Radii beyond half the circumference (chord 2) reach the antipode."""
    rng = np.random.default_rng(5)
    p_lat, p_lon = uniform_sphere(rng, 2_000)
    s_lat, s_lon = uniform_sphere(rng, 50)
    r = rng.choice([np.pi * EARTH_RADIUS_KM, 3 * np.pi * EARTH_RADIUS_KM, 15_000.0], 2_000)
    want = reference(p_lat, p_lon, r, s_lat, s_lon)
    assert (want[r >= np.pi * EARTH_RADIUS_KM] == 50).all()
    np.testing.assert_array_equal(binned(p_lat, p_lon, r, s_lat, s_lon), want)


def test_chunks_do_not_change_the_counts():
    rng = np.random.default_rng(2)
    p_lat, p_lon = clustered(rng, 10_000, [(50.0, 10.0)], 4.0)
    s = unit_xyz(*clustered(rng, 333, [(50.0, 10.0)], 4.0))
    bp = BinnedPoints.from_km(unit_xyz(p_lat, p_lon), np.full(10_000, 120.0))
    np.testing.assert_array_equal(bp.count(s, chunk_sites=7), bp.count(s))


def test_chord_radii_and_km_radii_agree():
    rng = np.random.default_rng(9)
    p_lat, p_lon = clustered(rng, 5_000, [(0.0, 0.0)], 2.0)
    xyz = unit_xyz(p_lat, p_lon)
    r_km = rng.uniform(10, 200, 5_000)
    s = unit_xyz(*clustered(rng, 100, [(0.0, 0.0)], 2.0))
    a = BinnedPoints(xyz, chord_from_km(r_km)).count(s)
    np.testing.assert_array_equal(a, BinnedPoints.from_km(xyz, r_km).count(s))
    with pytest.raises(ValueError, match="radii"):
        BinnedPoints(xyz, r_km[:-1])


def test_non_finite_coordinates_are_refused_like_count_within():
    xyz = unit_xyz([10.0, np.nan, 10.01], [5.0, 5.0, 5.0])
    site = unit_xyz([10.0], [5.0])
    with pytest.raises(ValueError):
        count_within(unit_tree([10.0], [5.0]), xyz, np.full(3, 50.0))
    with pytest.raises(ValueError, match="non-finite"):
        BinnedPoints.from_km(xyz, np.full(3, 50.0))
    # a point that reaches nothing is never looked at, in either
    r = np.array([50.0, -1.0, 50.0])
    want = count_within(unit_tree([10.0], [5.0]), xyz, r)
    bp = BinnedPoints.from_km(xyz, r)
    np.testing.assert_array_equal(bp.count(site), want)
    with pytest.raises(ValueError, match="non-finite"):
        bp.count(np.array([[np.nan, 0.0, 1.0]]))


def _mutants(bp):
    """Copies of ``bp`` with the annulus mishandled: pairs between a bin's inner and outer
    radii dropped (outer := inner), or counted for every point of the bin (inner := outer)."""
    import copy

    drop = copy.copy(bp)
    drop._outer2 = [np.maximum(i, 0.0) for i in bp._inner2]
    take = copy.copy(bp)
    take._inner2 = list(bp._outer2)
    return {"drop-annulus": drop, "take-annulus": take}


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 3_000), m=st.integers(0, 200),
       spread=st.sampled_from([0.2, 2.0, 20.0]),
       leaf_km=st.sampled_from([None, 1.0, 20.0, 200.0]))
def test_property_equals_count_within_and_mutants_do_not(seed, n, m, spread, leaf_km):
    rng = np.random.default_rng(seed)
    centres = [(rng.uniform(-90, 90), rng.uniform(-180, 180)) for _ in range(3)]
    p_lat, p_lon = clustered(rng, n, centres, spread)
    s_lat, s_lon = clustered(rng, m, centres, spread)
    r = mixed_radii(rng, n, (5.0, 60.0, 400.0, -1.0))
    want = reference(p_lat, p_lon, r, s_lat, s_lon)
    bp = BinnedPoints.from_km(unit_xyz(p_lat, p_lon), r, leaf_km=leaf_km)
    s = unit_xyz(s_lat, s_lon).reshape(-1, 3)
    np.testing.assert_array_equal(bp.count(s), want)
    # the bins' radii are valid bounds: the annulus dropped undercounts, taken whole overcounts
    mutants = _mutants(bp)
    assert (mutants["drop-annulus"].count(s) <= want).all()
    assert (mutants["take-annulus"].count(s) >= want).all()


def test_mutants_are_caught():
    """The equality tests above catch an annulus left out or taken whole."""
    rng = np.random.default_rng(3)
    p_lat, p_lon = clustered(rng, 20_000, [(40.0, -100.0)], 3.0)
    s_lat, s_lon = clustered(rng, 300, [(40.0, -100.0)], 3.0)
    r = mixed_radii(rng, len(p_lat), (30.0, 88.0))
    want = reference(p_lat, p_lon, r, s_lat, s_lon)
    bp = BinnedPoints.from_km(unit_xyz(p_lat, p_lon), r)
    s = unit_xyz(s_lat, s_lon)
    np.testing.assert_array_equal(bp.count(s), want)
    mutants = _mutants(bp)
    dropped, taken = mutants["drop-annulus"].count(s), mutants["take-annulus"].count(s)
    assert (dropped <= want).all() and (dropped < want).any()
    assert (taken >= want).all() and (taken > want).any()


def test_row_source_counts_through_the_bins():
    """RowSource.count (great-circle radii) equals count_within, all sites or a subset."""
    from coverage.model.latency import LatencyModel
    from coverage.model.problem import RowLatency
    from coverage.solvers.rowgen import RowSource

    rng = np.random.default_rng(4)
    d_lat, d_lon = clustered(rng, 20_000, [(40.0, -100.0), (33.0, -85.0)], 3.0)
    s_lat, s_lon = clustered(rng, 300, [(40.0, -100.0), (33.0, -85.0)], 3.0)
    access = rng.choice(np.array(["ftth", "lan", "dsl"], dtype=object), len(d_lat))
    model = LatencyModel()
    rl = RowLatency.from_model(model, access, 30.0, "p99", None)
    assert (rl.radius_km < 0).any() and len(np.unique(rl.radius_km)) == 3
    source = RowSource(d_lat, d_lon, s_lat, s_lon, model, 30.0, "p99", rl)
    xyz = unit_xyz(d_lat, d_lon)
    for sites in (None, rng.choice(300, 40, replace=False), np.zeros(0, dtype=np.int64)):
        s = np.arange(300) if sites is None else sites
        want = (count_within(unit_tree(s_lat[s], s_lon[s]), xyz, rl.radius_km) if len(s)
                else np.zeros(len(xyz), dtype=np.int64))
        np.testing.assert_array_equal(source.count(sites), want)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("leaf_km", [None, 5.0, 400.0])
def test_reach_pairs_are_the_leaves_of_the_pairs_within_radius(seed, leaf_km):
    """reach_pairs equals the (leaf, site) pairs of every (point, site) pair within the
    point's radius (the BallTree's pairs, each point mapped to its leaf), each once."""
    rng = np.random.default_rng(40 + seed)
    p_lat, p_lon = clustered(rng, 1_500, [(48, 2), (-33, 151), (64, -179)], 6.0)
    radius = mixed_radii(rng, len(p_lat))
    s_lat, s_lon = clustered(rng, 120, [(48, 2), (-33, 151), (64, 179)], 8.0)
    bp = BinnedPoints.from_km(unit_xyz(p_lat, p_lon), radius, leaf_km=leaf_km)
    leaf, site = bp.reach_pairs(unit_xyz(s_lat, s_lon))
    tree = unit_tree(s_lat, s_lon)
    xyz = unit_xyz(p_lat, p_lon)
    live = np.flatnonzero(radius >= 0)
    ind = tree.query_radius(xyz[live], r=chord_from_km(radius[live]))
    point_leaf = bp.point_leaf()
    want = {(int(point_leaf[p]), int(j)) for p, row in zip(live, ind, strict=True) for j in row}
    got = list(zip(leaf.tolist(), site.tolist(), strict=True))
    assert len(got) == len(set(got)) and set(got) == want
    assert (point_leaf[radius < 0] == -1).all() and (point_leaf[live] >= 0).all()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("leaf_km", [None, 5.0, 400.0])
def test_reach_graph_has_the_components_of_the_pairs(seed, leaf_km):
    """reach_graph (a site inside a coarse bin joined to the bin's node, not to every leaf
    under it) has the connected components of the BallTree's (leaf, site) pairs, the same
    leaves and sites with an edge, and no more edges than the levels allow."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(70 + seed)
    p_lat, p_lon = clustered(rng, 1_500, [(48, 2), (-33, 151), (64, -179)], 6.0)
    radius = mixed_radii(rng, len(p_lat)) * (1 if seed % 2 else 20)  # wide: nested bins
    s_lat, s_lon = clustered(rng, 120, [(48, 2), (-33, 151), (64, 179)], 8.0)
    bp = BinnedPoints.from_km(unit_xyz(p_lat, p_lon), radius, leaf_km=leaf_km)
    n0, m = bp.bins(0), len(s_lat)
    tree = unit_tree(s_lat, s_lon)
    xyz = unit_xyz(p_lat, p_lon)
    live = np.flatnonzero(radius >= 0)
    ind = tree.query_radius(xyz[live], r=chord_from_km(radius[live]))
    point_leaf = bp.point_leaf()
    pairs = np.array(sorted({(int(point_leaf[p]), int(j))
                             for p, row in zip(live, ind, strict=True) for j in row}))

    def labels(a, b, n_nodes):
        g = sp.coo_array((np.ones(len(a)), (a, b)), shape=(n_nodes, n_nodes))
        lab = connected_components(g, directed=False)[1][:n0 + m]
        has = np.zeros(n_nodes, dtype=bool)
        has[a] = has[b] = True
        return np.where(has[:n0 + m], lab, -1)

    a, b, n_nodes = bp.reach_graph(unit_xyz(s_lat, s_lon))
    want = labels(pairs[:, 0], n0 + pairs[:, 1], n0 + m)
    got = labels(a, b, n_nodes)
    assert np.array_equal(got < 0, want < 0)  # the same leaves and sites reach something
    both = np.unique(np.column_stack([got[got >= 0], want[want >= 0]]), axis=0)
    assert len(both) == len(np.unique(got[got >= 0])) == len(np.unique(want[want >= 0]))
    assert len(a) <= len(pairs) + bp.n_levels * n0


@pytest.mark.parametrize("seed,k", [(0, 1), (1, 2), (2, 3), (3, 5)])
def test_nearest_sites_equal_a_haversine_scan(seed, k):
    """coverage.model.geo.nearest (k-d tree on unit vectors) against every pair's haversine,
    the whole globe with poles and the antimeridian."""
    from coverage.model.geo import haversine_km, nearest

    rng = np.random.default_rng(seed)
    s_lat, s_lon = rng.uniform(-90, 90, 40), rng.uniform(-180, 180, 40)
    p_lat = np.r_[rng.uniform(-90, 90, 500), 90.0, -90.0, 0.0]
    p_lon = np.r_[rng.uniform(-180, 180, 500), 0.0, 0.0, 180.0]
    km, idx = nearest(s_lat, s_lon, unit_xyz(p_lat, p_lon), k=k)
    full = haversine_km(p_lat[:, None], p_lon[:, None], s_lat[None, :], s_lon[None, :])
    assert km.shape == idx.shape == (len(p_lat), k)
    np.testing.assert_allclose(km, np.sort(full, axis=1)[:, :k], atol=1e-6)
    np.testing.assert_allclose(np.take_along_axis(full, idx, axis=1), km, atol=1e-6)
    with pytest.raises(ValueError, match="between 1 and the 40 sites"):
        nearest(s_lat, s_lon, unit_xyz(p_lat, p_lon), k=41)
