"""UPF (mobile packet-core breakout) locations: read_upf, default_upf, anchor_rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from coverage.inputs.geonames import geonames_demand
from coverage.inputs.upf import (
    DEFAULT_UPF_MERGE_KM,
    DEFAULT_UPF_MIN_POPULATION,
    MAX_COUNTRY_SAMPLE,
    MOBILE_ACCESS,
    UPF_COLUMNS,
    anchor_rows,
    default_upf,
    read_upf,
)
from coverage.model.geo import haversine_km
from tests.helpers import raises_with, write

# --------------------------------------------------------------------------- read_upf


def test_mobile_access_classes():
    assert MOBILE_ACCESS == ("lte", "5g-nsa", "5g-sa", "5g-urllc")


def test_read_csv(tmp_path):
    path = write(tmp_path / "upf.csv",
                 "upf_id,name,lat,lon,operator\n"
                 "nyc,New York,40.7128,-74.0060,x\n"
                 "lax, ,34.0522,-118.2437,x\n"
                 "7,Chicago,41.8781,-87.6298,x\n")
    upf = read_upf(path)
    assert list(upf.columns) == ["upf_id", "lat", "lon", "name"]
    assert upf["upf_id"].tolist() == ["nyc", "lax", "7"]
    assert upf["name"].tolist() == ["New York", "lax", "Chicago"]  # empty name -> the id
    assert upf["lat"].dtype == np.float64 and upf["lon"].dtype == np.float64
    np.testing.assert_allclose(upf["lat"], [40.7128, 34.0522, 41.8781])
    np.testing.assert_allclose(upf["lon"], [-74.0060, -118.2437, -87.6298])
    assert isinstance(upf.index, pd.RangeIndex)


def test_read_csv_aliases_without_ids_and_semicolons(tmp_path):
    path = write(tmp_path / "upf.csv", "Latitude;Longitude\n38,7223;-9,1393\n41,1579;-8,6291\n")
    upf = read_upf(path)
    assert upf["upf_id"].tolist() == ["upf-1", "upf-2"]
    assert upf["name"].tolist() == ["upf-1", "upf-2"]
    np.testing.assert_allclose(upf["lat"], [38.7223, 41.1579])
    np.testing.assert_allclose(upf["lon"], [-9.1393, -8.6291])


def test_read_geojson_points(tmp_path):
    features = [
        {"type": "Feature", "properties": {"id": 1, "name": "Lisbon"},
         "geometry": {"type": "Point", "coordinates": [-9.1393, 38.7223]}},
        {"type": "Feature", "properties": {"id": 2, "name": "Porto"},
         "geometry": {"type": "Point", "coordinates": [-8.6291, 41.1579]}},
    ]
    path = write(tmp_path / "upf.geojson",
                 json.dumps({"type": "FeatureCollection", "features": features}))
    upf = read_upf(path)
    assert upf["upf_id"].tolist() == ["1", "2"]
    assert upf["name"].tolist() == ["Lisbon", "Porto"]
    np.testing.assert_allclose(upf["lat"], [38.7223, 41.1579])
    np.testing.assert_allclose(upf["lon"], [-9.1393, -8.6291])


def test_read_geojson_in_a_projected_crs(tmp_path):
    import geopandas as gpd

    gdf = gpd.GeoDataFrame({"upf_id": ["lis"]}, geometry=gpd.points_from_xy([-9.1393],
                                                                            [38.7223]),
                           crs=4326).to_crs(3857)
    path = tmp_path / "upf3857.geojson"
    gdf.to_file(path, driver="GeoJSON")
    upf = read_upf(path)
    np.testing.assert_allclose(upf[["lat", "lon"]].to_numpy(), [[38.7223, -9.1393]],
                               atol=1e-6)


def test_missing_file(tmp_path):
    raises_with(read_upf, tmp_path / "nope.csv", match=["nope.csv", "file not found"])


def test_empty_file(tmp_path):
    path = write(tmp_path / "empty.csv", "")
    raises_with(read_upf, path, match=["empty.csv", "file is empty"])


def test_header_only(tmp_path):
    path = write(tmp_path / "header.csv", "upf_id,lat,lon\n")
    raises_with(read_upf, path, match=["header.csv", "no data rows"])


def test_missing_coordinate_columns(tmp_path):
    path = write(tmp_path / "nocoords.csv", "upf_id,lat,city\na,1,x\n")
    msg = raises_with(read_upf, path, match=["nocoords.csv", "missing column", "longitude",
                                             "'upf_id', 'lat', 'city'"])
    assert "latitude (looked" not in msg


def test_bad_coordinates_name_rows_and_values(tmp_path):
    path = write(tmp_path / "bad.csv",
                 "upf_id,lat,lon\n"
                 "a,40.7,-74.0\n"
                 "b,abc,-74.0\n"
                 "c,95.5,-74.0\n"
                 "d,40.7,-200\n"
                 "e,,-74.0\n")
    msg = raises_with(read_upf, path, match=[
        "bad.csv", "lat is not a finite number: 'abc' (row 2)",
        "lat outside [-90, 90] degrees: '95.5' (row 3)",
        "lon outside [-180, 180] degrees: '-200' (row 4)",
        "lat is empty (or NaN, NA) (row 5)"])
    assert msg.count("Fix:") == 4


def test_duplicate_and_empty_ids(tmp_path):
    path = write(tmp_path / "dup.csv",
                 "id,lat,lon\nx,1,1\ny,2,2\nx,3,3\n,4,4\ny,5,500\n")
    raises_with(read_upf, path, match=[
        "dup.csv", "duplicate id values 'x', 'y' (rows 1, 2, 3, 5)", "id is empty (row 4)",
        "lon outside [-180, 180] degrees: '500' (row 5)", "3 problems"])


def test_ambiguous_and_case_clashing_columns(tmp_path):
    path = write(tmp_path / "clash.csv", "lat,latitude,lon\n1,2,3\n")
    raises_with(read_upf, path, match=["clash.csv", "'lat', 'latitude'", "look like the lat"])
    path = write(tmp_path / "case.csv", "LAT,lat,lon\n1,2,3\n")
    raises_with(read_upf, path, match=["case.csv", "same name but for case"])


def test_directory_and_binary_files(tmp_path):
    raises_with(read_upf, tmp_path, match=[str(tmp_path), "not a regular file"])
    path = tmp_path / "bin.csv"
    path.write_bytes(b"upf_id,lat,lon\n\x00\x01\x02\n")
    raises_with(read_upf, path, match=["bin.csv", "NUL byte"])


# --------------------------------------------------------------------------- default_upf


def _pairwise_km(upf: pd.DataFrame) -> np.ndarray:
    lat, lon = upf["lat"].to_numpy(), upf["lon"].to_numpy()
    d = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    np.fill_diagonal(d, np.inf)
    return d


@pytest.fixture(scope="module")
def us_demand() -> pd.DataFrame:
    return geonames_demand("US")


def test_default_upf_us_metros(us_demand):
    upf = default_upf(us_demand["lat"], us_demand["lon"])
    assert list(upf.columns) == list(UPF_COLUMNS)
    names = set(upf["name"])
    for city in ("New York City, US", "Los Angeles, US", "Chicago, US", "Houston, US",
                 "Washington, US", "Seattle, US", "Atlanta, US", "Boston, US"):
        assert city in names
    # merged into larger metros: Brooklyn/Queens (New York), Fort Worth (Dallas),
    # San Francisco (San Jose), Baltimore (Washington)
    for merged in ("Brooklyn, US", "Fort Worth, US", "San Francisco, US", "Baltimore, US"):
        assert merged not in names
    assert len(upf) == 33  # the figure quoted in the module notes
    assert (upf["country"] == "US").all()
    assert (upf["population"] >= DEFAULT_UPF_MIN_POPULATION).all()
    assert _pairwise_km(upf).min() >= DEFAULT_UPF_MERGE_KM
    assert upf["population"].is_monotonic_decreasing
    assert upf["upf_id"].str.fullmatch(r"upf-\d+").all() and upf["upf_id"].is_unique
    assert upf["upf_id"].iloc[0] == "upf-5128581"  # New York City's GeoNames id
    assert upf["population"].dtype == np.int64 and upf["lat"].dtype == np.float64


def test_default_upf_border_spill_over(us_demand):
    rng = np.random.default_rng(3)
    lat = us_demand["lat"].to_numpy() + rng.normal(0, 0.1, len(us_demand))
    lon = us_demand["lon"].to_numpy() + rng.normal(0, 0.1, len(us_demand))
    assert set(default_upf(lat, lon)["country"]) == {"US"}
    # literal rule: every country of a nearest place, Mexico and Canada included
    everything = default_upf(lat, lon, min_country_share=0)
    assert {"US", "MX", "CA"} <= set(everything["country"])
    by_country = everything.groupby("country")
    for _, group in by_country:
        if len(group) > 1:
            assert _pairwise_km(group).min() >= DEFAULT_UPF_MERGE_KM


@pytest.mark.parametrize("country, count", [("US", 33), ("DE", 11), ("BR", 32), ("IN", 71),
                                            ("JP", 13), ("PT", 1)])
def test_default_upf_counts_quoted_in_the_notes(country, count):
    d = geonames_demand(country)
    upf = default_upf(d["lat"], d["lon"])
    assert len(upf) == count
    assert (upf["country"] == country).all()


def test_default_upf_portugal():
    d = geonames_demand("PT")
    upf = default_upf(d["lat"], d["lon"])
    assert upf["name"].tolist() == ["Lisbon, PT"]  # Porto (252,687) is below 500,000
    lower = default_upf(d["lat"], d["lon"], min_population=250_000)
    assert lower["name"].tolist() == ["Lisbon, PT", "Porto, PT"]
    merged = default_upf(d["lat"], d["lon"], min_population=250_000, merge_km=300)
    assert merged["name"].tolist() == ["Lisbon, PT"]  # Porto lies 274 km from Lisbon


def test_default_upf_small_country_gets_its_largest_city():
    d = geonames_demand("LU")
    upf = default_upf(d["lat"], d["lon"])
    assert upf["name"].tolist() == ["Luxembourg, LU"]
    assert upf["population"].iloc[0] < DEFAULT_UPF_MIN_POPULATION


def test_default_upf_two_countries():
    pt, lu = geonames_demand("PT"), geonames_demand("LU")
    lat = np.concatenate([pt["lat"], lu["lat"]])
    lon = np.concatenate([pt["lon"], lu["lon"]])
    upf = default_upf(lat, lon, min_country_share=0)
    assert upf["name"].tolist() == ["Lisbon, PT", "Luxembourg, LU"]
    # LU holds 206 of the 1,230 points (17%, above the 5% share): kept by default too
    assert default_upf(lat, lon)["name"].tolist() == ["Lisbon, PT", "Luxembourg, LU"]


def test_default_upf_empty_demand():
    upf = default_upf(np.array([]), np.array([]))
    assert upf.empty and list(upf.columns) == list(UPF_COLUMNS)
    assert upf["population"].dtype == np.int64


def test_default_upf_samples_large_demand():
    rng = np.random.default_rng(5)
    n = MAX_COUNTRY_SAMPLE + 1000
    lat = rng.uniform(37.0, 42.0, n)  # northern Portugal / Spain
    lon = rng.uniform(-8.5, -7.0, n)
    first = default_upf(lat, lon)
    assert first.equals(default_upf(lat, lon))  # seeded sample: the same answer
    assert set(first["country"]) <= {"PT", "ES"}


def test_default_upf_refuses_bad_input():
    raises_with(default_upf, [1.0, np.nan], [2.0, 3.0],
                match=["default_upf", "row 2", "validate the demand"])
    raises_with(default_upf, [1.0], [2.0, 3.0], match=["1 latitudes but 2 longitudes"])
    with pytest.raises(Exception, match="merge_km=-1"):
        default_upf([38.7], [-9.1], merge_km=-1)
    with pytest.raises(Exception, match="min_country_share=2"):
        default_upf([38.7], [-9.1], min_country_share=2)


# --------------------------------------------------------------------------- anchor_rows


def test_anchor_rows_matches_brute_force(us_demand):
    upf = default_upf(us_demand["lat"], us_demand["lon"])
    rng = np.random.default_rng(11)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 1000)))  # uniform on the sphere
    lon = rng.uniform(-180, 180, 1000)
    lat[:500] = rng.uniform(25, 49, 500)  # half of them over the contiguous US
    lon[:500] = rng.uniform(-125, -67, 500)
    index, distance_km = anchor_rows(lat, lon, upf)
    assert index.dtype == np.int64 and distance_km.dtype == np.float64
    d = haversine_km(lat[:, None], lon[:, None], upf["lat"].to_numpy()[None, :],
                     upf["lon"].to_numpy()[None, :])
    np.testing.assert_array_equal(index, d.argmin(axis=1))
    np.testing.assert_allclose(distance_km, d.min(axis=1), rtol=0, atol=1e-6)


def test_anchor_rows_read_upf_frame(tmp_path):
    path = write(tmp_path / "upf.csv", "id,lat,lon\nnyc,40.7128,-74.0060\nla,34.0522,-118.2437\n")
    upf = read_upf(path)
    index, distance_km = anchor_rows([40.7128, 33.0, 40.0], [-74.0060, -117.0, -75.0], upf)
    assert index.tolist() == [0, 1, 0]
    assert distance_km[0] == pytest.approx(0.0, abs=1e-6)


def test_anchor_rows_edges():
    upf = pd.DataFrame({"lat": [1.0], "lon": [2.0]})
    index, distance_km = anchor_rows([], [], upf)
    assert index.shape == (0,) and index.dtype == np.int64 and distance_km.dtype == np.float64
    raises_with(anchor_rows, [1.0], [2.0], upf.iloc[:0], match=["no UPF locations"])
    raises_with(anchor_rows, [1.0], [2.0], pd.DataFrame({"x": [1]}), match=["lat and lon"])
    raises_with(anchor_rows, [1.0], [2.0], pd.DataFrame({"lat": [np.nan], "lon": [1.0]}),
                match=["UPF row 1"])
