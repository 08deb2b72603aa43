"""Synthetic instances (coverage.inputs.synthetic) and the textbook HiGHS peer (bench/peers.py)."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coverage.inputs.synthetic import (
    CONTIGUOUS_US_BBOX,
    clustered_instance,
    national_grid,
    us_candidates_places,
)
from coverage.inputs.tables import as_demand, as_sites
from coverage.solvers.cover import min_cover

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.peers import bare_neighbour_query, radius_csr, textbook_highs  # noqa: E402

DEMAND_COLS = ["demand_id", "lat", "lon", "population", "name"]
SITE_COLS = ["site_id", "lat", "lon", "name", "tier", "required"]


def test_every_seed_numpy_takes_is_taken():
    """Review 124: the argument check refused seed=None, a SeedSequence, a Generator and a
    list, which numpy.random.default_rng takes (and which worked before it)."""
    import numpy as np

    a, _ = clustered_instance(50, 5, seed=np.random.SeedSequence(3))
    b, _ = clustered_instance(50, 5, seed=np.random.default_rng(np.random.SeedSequence(3)))
    assert a.equals(b)
    for seed in (None, [1, 2], np.int64(4)):
        assert len(clustered_instance(50, 5, seed=seed)[0]) == 50


def test_clustered_instance_is_seeded():
    d1, s1 = clustered_instance(2_000, 120, seed=7)
    d2, s2 = clustered_instance(2_000, 120, seed=7)
    d3, s3 = clustered_instance(2_000, 120, seed=8)
    pd.testing.assert_frame_equal(d1, d2)
    pd.testing.assert_frame_equal(s1, s2)
    assert not np.allclose(d1["lat"], d3["lat"]) and not np.allclose(s1["lon"], s3["lon"])


def test_clustered_instance_contract_and_box():
    demand, sites = clustered_instance(3_000, 200, seed=1, city_share=0.6)
    assert list(demand.columns) == DEMAND_COLS and list(sites.columns) == SITE_COLS
    assert len(demand) == 3_000 and len(sites) == 200
    assert demand["demand_id"].is_unique and sites["site_id"].is_unique
    assert (demand["population"] >= 1).all()
    assert np.array_equal(demand["population"], np.round(demand["population"]))
    assert (sites["tier"] == "candidate").all() and not sites["required"].any()
    lat0, lat1, lon0, lon1 = CONTIGUOUS_US_BBOX
    for df in (demand, sites):
        assert df["lat"].between(lat0, lat1).all() and df["lon"].between(lon0, lon1).all()
    # the io validators accept both tables unchanged
    pd.testing.assert_frame_equal(as_demand(demand)[DEMAND_COLS], demand)
    pd.testing.assert_frame_equal(as_sites(sites)[SITE_COLS], sites)


def test_clustered_instance_clusters():
    # city points are much closer to their nearest neighbour than uniform rural points
    from sklearn.neighbors import BallTree

    from coverage.model.geo import latlon_rad

    demand, _ = clustered_instance(2_000, 10, seed=3, n_cities=8, city_share=0.5)
    x = latlon_rad(demand["lat"], demand["lon"])
    nn = BallTree(x, metric="haversine").query(x, k=2)[0][:, 1]
    assert np.median(nn[:1_000]) * 3 < np.median(nn[1_000:])
    pop = demand["population"].to_numpy()
    assert np.median(pop[:1_000]) > np.median(pop[1_000:])


def test_clustered_instance_arguments():
    with pytest.raises(ValueError, match="city_share"):
        clustered_instance(10, 2, city_share=1.5)
    with pytest.raises(ValueError, match="bbox"):
        clustered_instance(10, 2, bbox=(50, 40, 0, 10))
    d, s = clustered_instance(0, 0)
    assert len(d) == 0 and len(s) == 0 and list(d.columns) == DEMAND_COLS


@pytest.fixture(scope="module")
def grid_lu():
    return national_grid("LU", 5_000, seed=0)


def test_national_grid_conserves_population(grid_lu):
    from coverage.inputs.geonames import geonames_places

    total = int(geonames_places("LU", 500)["population"].sum())
    assert grid_lu.attrs["total_population"] == total
    assert int(grid_lu["population"].sum()) == total
    assert np.array_equal(grid_lu["population"], np.round(grid_lu["population"]))
    assert (grid_lu["population"] > 0).all()


def test_national_grid_contract_and_size(grid_lu):
    g = grid_lu
    assert list(g.columns[:5]) == DEMAND_COLS
    assert g["demand_id"].is_unique
    assert (g["demand_id"] == "c" + g["row"].astype(str) + "_" + g["col"].astype(str)).all()
    assert abs(len(g) - 5_000) <= 0.02 * 5_000  # calibrated to ~n_cells populated cells
    assert g.attrs["cell_km"] > 0
    # cells lie around Luxembourg (49.4-50.2 N, 5.7-6.5 E) give or take the kernel tails
    assert g["lat"].between(48.5, 51.0).all() and g["lon"].between(4.5, 7.5).all()
    pd.testing.assert_frame_equal(as_demand(g)[DEMAND_COLS], g[DEMAND_COLS])


def test_national_grid_seeded_and_fixed_cell(grid_lu):
    again = national_grid("LU", 5_000, seed=0)
    pd.testing.assert_frame_equal(grid_lu, again)
    coarse = national_grid("LU", 5_000, seed=0, cell_km=5.0)
    assert coarse.attrs["cell_km"] == 5.0 and len(coarse) < len(grid_lu)
    assert int(coarse["population"].sum()) == grid_lu.attrs["total_population"]


def test_national_grid_unknown_country():
    from coverage.errors import InputValidationError

    with pytest.raises(InputValidationError):
        national_grid("XX", 100)


@pytest.mark.parametrize("kwargs, needle", [
    ({"city_share": 2}, "city_share must be a number in [0, 1]"),
    ({"city_share": "0.5"}, "city_share must be a number in [0, 1]"),
    ({"bbox": (50, 40, 0, 10)}, "bbox (50, 40, 0, 10) is not a box"),
    ({"bbox": (-125.0, -66.9, 24.5, 49.5)}, "swapped"),
    ({"bbox": (40, 50, 0)}, "bbox must be 4 numbers"),
    ({"bbox": None}, "bbox must be 4 numbers; got NoneType"),
    ({"n_cities": 0}, "n_cities must be a whole number >= 1"),
    ({"seed": "a"}, "seed must be what numpy.random.default_rng takes"),
    ({"seed": 1.5}, "seed must be what numpy.random.default_rng takes"),
    ({"n_demand": 2.5}, "n_demand must be a whole number >= 0; got float 2.5"),
    ({"n_demand": "100"}, "n_demand must be a whole number >= 0; got str '100'"),
    ({"n_sites": -1}, "n_sites must be a whole number >= 0"),
])
def test_clustered_instance_names_a_bad_argument(kwargs, needle):
    """Tester t122: bare ValueErrors (from unpacking a 3-item bbox too), a numpy TypeError
    for ``seed='a'``, and 2.5 or "100" demand points taken as 2 and 100."""
    from helpers import raises_with

    from coverage.errors import InputValidationError

    args = {"n_demand": 10, "n_sites": 2, **kwargs}
    msg = raises_with(clustered_instance, args.pop("n_demand"), args.pop("n_sites"), **args,
                      match=["clustered_instance: ", needle])
    assert issubclass(InputValidationError, ValueError) and "Fix:" in msg


def test_clustered_instance_names_every_bad_argument_at_once():
    from helpers import raises_with

    msg = raises_with(clustered_instance, -1, "x", city_share="a", seed=-1,
                      match=["4 problems", "n_demand", "n_sites", "city_share", "seed"])
    assert msg.count("Fix:") == 4
    d, s = clustered_instance(1e3, np.int64(10), seed=np.int64(3))  # whole numbers all
    assert len(d) == 1_000 and len(s) == 10


@pytest.mark.parametrize("args, kwargs, needle", [
    (("LU", 0), {}, "n_cells must be a whole number >= 1"),
    (("LU", 100), {"cell_km": -1}, "cell_km must be a number above 0"),
    (("LU", 100), {"cell_km": "5"}, "cell_km must be a number above 0"),
    (([], 100), {}, "country is an empty list"),
    ((["FR", "XX"], 100), {}, "unknown ISO 3166-1 alpha-2 code(s) 'XX'"),
    ((5, 100), {}, "country must be an ISO code or a list of them"),
    (("LU", 100), {"seed": "a"}, "seed must be what numpy.random.default_rng takes"),
    (("LU", 100), {"density_per_km2": 0}, "density_per_km2 must be a number above 0"),
    ((["LU", "BE"], 100), {"min_population": "500"}, "min_population must be a whole"),
    ((["LU", "BE"], 100), {"min_population": 10**9}, "no place with >= 1,000,000,000"),
])
def test_national_grid_names_a_bad_argument(args, kwargs, needle):
    """Tester t122: n_cells=0, cell_km=-1 (after the sampling), country=[] were bare
    ValueErrors, seed='a' a numpy TypeError; an unknown code in a list was skipped."""
    from helpers import raises_with

    raises_with(national_grid, *args, **kwargs, match=["national_grid: ", needle])


def test_an_unknown_continent_is_an_input_error():
    from helpers import raises_with

    from coverage.inputs.synthetic import continent_countries

    raises_with(continent_countries, "Mars", match=["unknown continent 'Mars'", "AF AN AS"])
    assert "FR" in continent_countries(" eu ")


def test_us_candidates_places():
    sites = us_candidates_places()
    assert list(sites.columns) == SITE_COLS
    assert 3_000 <= len(sites) <= 4_000 and sites["site_id"].is_unique
    assert len(us_candidates_places(100_000)) < len(sites)


@pytest.mark.parametrize("k", [1, 2])
def test_textbook_highs_matches_min_cover(k):
    demand, sites = clustered_instance(400, 40, seed=5)
    a = radius_csr(demand, sites, 400.0)
    ref = min_cover(a, requirement=k)
    res = textbook_highs(a, k, time_limit_s=30)
    assert ref.status == "optimal" and res["status"] == "optimal"
    assert res["objective"] == ref.objective
    r = np.minimum(k, np.diff(a.indptr))
    chosen = np.zeros(a.shape[1])
    chosen[res["sites"]] = 1
    assert np.all(a @ chosen >= r)


def test_bare_neighbour_query_counts_pairs():
    """Against an independent count: the dense haversine distance matrix (500 x 60)."""
    from coverage.model.geo import haversine_km

    demand, sites = clustered_instance(500, 60, seed=2)
    dense = haversine_km(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                         sites["lat"].to_numpy()[None, :], sites["lon"].to_numpy()[None, :])
    want = int((dense <= 250.0).sum())
    assert want > 0
    rec = bare_neighbour_query(demand, sites, 250.0)
    assert rec["pairs"] == want
    csr = radius_csr(demand, sites, 250.0)
    assert csr.nnz == want
    assert np.array_equal(csr.toarray() != 0, dense <= 250.0)
    assert rec["seconds"] >= 0
    assert bare_neighbour_query(demand, sites, 250.0, metric="chord")["pairs"] == rec["pairs"]
