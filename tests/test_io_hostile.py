"""Hostile-input review of coverage.inputs.tables: one test (or more) per defect found.

Each test failed before its fix; the item numbers are those of the review.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import DATA
from helpers import raises_with, run, write

from coverage.errors import InputValidationError
from coverage.inputs.tables import (
    MAX_COST_RATIO,
    MAX_POPULATION_PER_POINT,
    as_demand,
    as_sites,
    read_demand,
    read_sites,
)
from coverage.model.geo import colocated_pairs

# --------------------------------------------------------------------------------------
# 1. Degrees declared as metres
# --------------------------------------------------------------------------------------


def test_degrees_declared_as_3857_are_refused(tmp_path):
    path = write(tmp_path / "deg.csv", "id,lat,lon,population\na,40.4,-3.7,5\nb,41.4,2.2,6\n")
    raises_with(read_demand, path, crs="EPSG:3857",
                match=["deg.csv", "look like degrees", "rows 1, 2",
                       "drop --demand-crs", "EPSG:4326"])
    raises_with(read_sites, path, crs="EPSG:32630", match=["--candidates-crs"])


def test_messages_name_the_options_as_a_batch_file_spells_them(tmp_path):
    """option_style="toml" (batch): the reading options as [base] keys, never a flag."""
    path = write(tmp_path / "deg.csv", "id,lat,lon,population\na,40.4,-3.7,5\nb,41.4,2.2,6\n")
    with pytest.raises(InputValidationError) as e:
        read_demand(path, crs="EPSG:3857", option_style="toml")
    assert "drop demand_crs" in str(e.value) and 'demand_crs = "EPSG:4326"' in str(e.value)
    assert "--demand" not in str(e.value)
    with pytest.raises(InputValidationError) as e:
        read_sites(path, layer="x", option_style="toml")
    assert "candidates_layer" in str(e.value) and "--candidates" not in str(e.value)


def test_a_few_degree_like_points_in_metres_are_warned_about(tmp_path, caplog):
    x = np.array([-411_000.0, 242_000.0, 2.2, -400_000.0])
    y = np.array([4_930_000.0, 5_070_000.0, 41.4, 4_900_000.0])
    df = pd.DataFrame({"x": x, "y": y, "population": 1.0})
    with caplog.at_level(logging.WARNING, logger="coverage.inputs.tables"):
        out = as_demand(df, crs="EPSG:3857")
    assert len(out) == 4
    assert "look like degrees" in caplog.text and "row 3" in caplog.text


def test_vector_file_declaring_metres_with_degrees_is_refused(tmp_path):
    gdf = gpd.GeoDataFrame({"population": [1, 2]},
                           geometry=[shapely.Point(-3.7, 40.4), shapely.Point(2.2, 41.4)],
                           crs="EPSG:3857")
    path = tmp_path / "wrong_crs.gpkg"
    gdf.to_file(path, driver="GPKG")
    raises_with(read_demand, path, match=["look like degrees", "re-save it with its true CRS"])


def test_cli_degrees_as_metres_exit_2(tmp_path):
    path = write(tmp_path / "deg.csv", "id,lat,lon,population\na,40.4,-3.7,5\nb,41.4,2.2,6\n")
    out = tmp_path / "o"
    r = run("plan", "--demand", path, "--demand-crs", "EPSG:3857",
            "--candidates", DATA / "west_candidates.csv", "--out", out)
    assert r.returncode == 2 and "look like degrees" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


# --------------------------------------------------------------------------------------
# 2. Multi-layer vector files
# --------------------------------------------------------------------------------------


@pytest.fixture
def two_layers(tmp_path) -> Path:
    path = tmp_path / "both.gpkg"
    sites = gpd.GeoDataFrame({"site_id": ["s1", "s2"]},
                             geometry=[shapely.Point(-118.2, 34.0), shapely.Point(-117.2, 32.7)],
                             crs=4326)
    demand = gpd.GeoDataFrame({"population": [10, 20, 30]},
                              geometry=[shapely.Point(-118.3, 34.1), shapely.Point(-117.1, 32.8),
                                        shapely.Point(-118.0, 33.9)], crs=4326)
    sites.to_file(path, layer="sites", driver="GPKG")
    demand.to_file(path, layer="demand", driver="GPKG")
    return path


def test_multi_layer_without_layer_is_refused(two_layers):
    raises_with(read_demand, two_layers,
                match=["both.gpkg", "2 layers", "'sites' (Point)", "'demand' (Point)",
                       "--demand-layer NAME"])
    raises_with(read_sites, two_layers, match=["--candidates-layer NAME"])


def test_layer_picks_the_layer(two_layers):
    assert read_demand(two_layers, layer="demand")["population"].tolist() == [10, 20, 30]
    assert read_sites(two_layers, layer="sites")["site_id"].tolist() == ["s1", "s2"]


def test_unknown_layer_lists_the_layers(two_layers, tmp_path):
    raises_with(read_demand, two_layers, layer="people",
                match=["layer 'people' not found", "'sites'", "'demand'"])
    csv = write(tmp_path / "d.csv", "lat,lon,population\n1,1,1\n")
    raises_with(read_demand, csv, layer="demand", match=["has no layers", "--demand-layer"])


def test_cli_layers(two_layers, tmp_path):
    out = tmp_path / "o"
    r = run("plan", "--demand", two_layers, "--candidates", two_layers, "--out", out)
    assert r.returncode == 2 and "Traceback" not in r.stderr and not out.exists()
    assert "--demand-layer NAME" in r.stderr and "--candidates-layer NAME" in r.stderr
    r = run("plan", "--demand", two_layers, "--demand-layer", "demand",
            "--candidates", two_layers, "--candidates-layer", "sites", "--failures", 0,
            "--budget-ms", 60, "--no-map", "--no-report", "--no-gis", "--out", out)
    assert r.returncode == 0, r.stderr
    assert (out / "summary.json").exists()


# --------------------------------------------------------------------------------------
# 3. Ids are text
# --------------------------------------------------------------------------------------


def test_na_like_ids_and_names_are_text(tmp_path):
    path = write(tmp_path / "ids.csv",
                 "id,lat,lon,population,name\nNA,1,1,1,NA\nNone,1,2,1,None\nnull,1,3,1,null\n"
                 "nan,1,4,1,\n,1,5,1,x\n")
    raises_with(read_demand, path, match=["demand_id is missing/empty (row 5)"])
    df = read_demand(write(tmp_path / "ok.csv", path.read_text().rsplit("\n", 2)[0] + "\n"))
    assert df["demand_id"].tolist() == ["NA", "None", "null", "nan"]
    assert df["name"].tolist() == ["NA", "None", "null", "nan"]  # empty name -> id


def test_ids_beyond_64_bits_survive(tmp_path):
    big = ["18446744073709551616", "12345678901234567890", "99999999999999999999999"]
    path = write(tmp_path / "big.csv", "id,lat,lon,population\n"
                 + "".join(f"{b},1,{i},1\n" for i, b in enumerate(big)))
    assert read_sites(path)["site_id"].tolist() == big
    df = as_demand(pd.DataFrame({"id": [2**64, 2**70], "lat": [1, 2], "lon": [1, 2],
                                 "population": [1, 1]}))
    assert df["demand_id"].tolist() == [str(2**64), str(2**70)]


def test_byte_string_columns_are_decoded_or_refused(tmp_path):
    """Parquet binary columns (and Python bytes values) are text when they are UTF-8;
    otherwise one message names the column and the rows (it was an internal error)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ok = pa.table({"demand_id": pa.array([b"a", "é".encode(), b"c"], pa.binary()),
                   "name": pa.array([b"x", b"y", None], pa.binary()),
                   "lat": [1.0, 2.0, 3.0], "lon": [1.0, 2.0, 3.0],
                   "population": [1.0, 2.0, 3.0]})
    pq.write_table(ok, tmp_path / "ok.parquet")
    df = read_demand(tmp_path / "ok.parquet")
    assert df["demand_id"].tolist() == ["a", "é", "c"]
    assert df["name"].tolist()[:2] == ["x", "y"]
    bad = ok.set_column(0, "demand_id", pa.array([b"a", b"\xff\xfe", b"c"], pa.binary()))
    pq.write_table(bad, tmp_path / "bad.parquet")
    raises_with(read_demand, tmp_path / "bad.parquet",
                match=["bad.parquet", "'demand_id' holds bytes that are not UTF-8", "(row 2)",
                 "store the column as UTF-8 text"])
    frame = pd.DataFrame({"site_id": ["s1", b"\xff"], "lat": [1.0, 2.0], "lon": [1.0, 2.0]})
    raises_with(as_sites, frame, match=["'site_id' holds bytes", "(row 2)"])
    frame.loc[1, "site_id"] = b"s2"
    assert as_sites(frame)["site_id"].tolist() == ["s1", "s2"]


def test_float_ids_that_lost_digits_are_refused(tmp_path):
    path = tmp_path / "big.geojson"
    path.write_text('{"type":"FeatureCollection","features":['
                    '{"type":"Feature","properties":{"id":18446744073709551616,"population":1},'
                    '"geometry":{"type":"Point","coordinates":[1,2]}}]}')
    raises_with(read_demand, path, match=["2**53", "store the ids as text"])
    df = as_sites(pd.DataFrame({"id": [1.0, 2.0, np.inf], "lat": [1, 2, 3], "lon": [1, 2, 3]}),
                  colocated_m=0)
    assert df["site_id"].tolist() == ["1", "2", "inf"]


# --------------------------------------------------------------------------------------
# 4. Ambiguous columns
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("header,names", [
    ("id,LAT,lat,lon,population", "'LAT', 'lat'"),
    ("id,lat,latitude,lon,population", "'lat', 'latitude'"),
    ("id,lat,lon,lng,population", "'lon', 'lng'"),
    ("id,lat,lon,population,pop", "'population', 'pop'"),
    ("id,ID,lat,lon,population", "'id', 'ID'"),
    ("id,lat,lon,population,Name,name", "'Name', 'name'"),
])
def test_ambiguous_columns_are_refused(tmp_path, header, names):
    n = header.count(",") + 1  # columns holding different values (1, 2, 3, ...)
    path = write(tmp_path / "amb.csv", header + "\n" + ",".join(map(str, range(1, n + 1)))
                 + "\n")
    raises_with(read_demand, path, match=["amb.csv", names, "ambiguous", "rename or drop"])


def test_ambiguous_columns_of_an_h3_table_are_refused(tmp_path):
    path = write(tmp_path / "h3.csv", "h3,population,pop\n8928308280fffff,1,2\n")
    raises_with(read_demand, path, match=["'population', 'pop'", "ambiguous"])


def test_label_aliases_take_the_first_and_equal_columns_are_not_ambiguous(tmp_path):
    """ArcGIS exports carry FID and CODE, QGIS fid and id: the first id alias wins; two
    coordinate columns holding the same values are no ambiguity."""
    path = write(tmp_path / "arc.csv", "FID,CODE,lat,latitude,lon,population\n"
                 "7,R1,40.5,40.5,-80,10\n8,R2,40.6,40.6,-80.1,20\n")
    df = read_demand(path)
    assert df["demand_id"].tolist() == ["7", "8"]
    assert df["lat"].tolist() == [40.5, 40.6]
    differ = write(tmp_path / "diff.csv", "id,lat,latitude,lon,population\na,40.5,41,-80,1\n")
    raises_with(read_demand, differ, match=["'lat', 'latitude'", "different values"])


def test_name_and_city_are_not_ambiguous(tmp_path):
    path = write(tmp_path / "nc.csv", "id,lat,lon,population,name,city\na,1,1,1,N,C\n")
    df = read_demand(path)
    assert df["name"].tolist() == ["N"] and df["city"].tolist() == ["C"]


# --------------------------------------------------------------------------------------
# 5. CSV dialects
# --------------------------------------------------------------------------------------


def test_semicolon_csv_with_decimal_commas_is_read(tmp_path, caplog):
    path = write(tmp_path / "semi.csv",
                 "id;lat;lon;population;name\na;50,85;4,35;1000;Brussel, centrum\nb;51.2;4.4;7;x\n")
    with caplog.at_level(logging.INFO, logger="coverage.inputs.tables"):
        df = read_demand(path)
    assert df["lat"].tolist() == [50.85, 51.2] and df["lon"].tolist() == [4.35, 4.4]
    assert df["name"].tolist() == ["Brussel, centrum", "x"]
    assert "separated by ';'" in caplog.text


def test_decimal_comma_files_read_dots_as_thousands_separators(tmp_path):
    """German-style ';' files: with decimal commas in the file, a value whose dots group
    thousands is read so (529.247 people were read as 529.247, 1000x too few); a dot that
    cannot group thousands stays a decimal point; without decimal commas in the file, dots
    are decimal points."""
    path = write(tmp_path / "de.csv", "id;lat;lon;population\n"
                 "a;51,22047;4,40026;529.247\nb;51,05;3,71667;1.019.022\n"
                 "c;50.5;4.5;12.345,5\nd;50,4;4,4;-0\n")
    df = read_demand(path)
    assert df["population"].tolist() == [529247.0, 1019022.0, 12345.5, 0.0]
    assert df["lat"].tolist() == [51.22047, 51.05, 50.5, 50.4]
    path = write(tmp_path / "dots.csv", "id;lat;lon;population\na;51.2;4.4;529.247\n")
    assert read_demand(path)["population"].tolist() == [529.247]
    # a decimal comma in a column the reader does not parse decides nothing (found by review)
    path = write(tmp_path / "other.csv", "id;lat;lon;population;area_km2\n"
                 "a;52.520;13.405;1000;12,5\nb;48.137;11.575;2.500;3,25\n")
    df = read_demand(path)
    assert df["lat"].tolist() == [52.52, 48.137] and df["population"].tolist() == [1000, 2.5]
    # a column with a dot that groups nothing keeps its dots as decimal points
    path = write(tmp_path / "mixed.csv", "id;lat;lon;population\n"
                 "a;52,52;13,405;1.250\nb;48,1372;11,5755;0.5\n")
    assert read_demand(path)["population"].tolist() == [1.25, 0.5]


def test_trailing_comma_on_every_line_is_ignored(tmp_path, caplog):
    for header in ("id,lat,lon,population", "id,lat,lon,population,"):
        path = write(tmp_path / "trail.csv", f"{header}\na,1,2,3,\nb,1,3,4,\n")
        with caplog.at_level(logging.INFO, logger="coverage.inputs.tables"):
            df = read_demand(path)
        assert df["demand_id"].tolist() == ["a", "b"] and df["population"].tolist() == [3, 4]
        assert list(df.columns) == ["demand_id", "lat", "lon", "population", "name"]
        assert "ends with ','" in caplog.text


def test_rows_longer_than_the_header_are_refused(tmp_path):
    path = write(tmp_path / "long.csv", "id,lat,lon,population\na,1,2,3,x\nb,1,3,4,y\n")
    raises_with(read_demand, path, match=["more field(s) than the header", "header"])
    path = write(tmp_path / "ragged.csv", "id,lat,lon,population\na,1,2,3\nb,1,3,4,y\n")
    raises_with(read_demand, path, match=["line 3 has 5 fields but the header has 4"])


# --------------------------------------------------------------------------------------
# 6. NUL bytes anywhere
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_nul_byte_far_into_the_file(tmp_path, gz):
    body = b"id,lat,lon,population\n" + b"".join(
        b"r%d,1,%d,1\n" % (i, i % 170) for i in range(3000))
    data = body + b"x,1\x00,1,1\n"
    path = tmp_path / ("nul.csv.gz" if gz else "nul.csv")
    path.write_bytes(gzip.compress(data) if gz else data)
    raises_with(read_demand, path,
                match=[path.name, f"NUL byte at {'decompressed ' if gz else ''}byte "
                       f"{len(body) + 3}", "line 3002"])


def test_utf16_is_named(tmp_path):
    path = tmp_path / "u16.csv"
    path.write_bytes("lat,lon,population\n1,1,1\n".encode("utf-16"))
    raises_with(read_demand, path, match=["UTF-16", "UTF-8"])


# --------------------------------------------------------------------------------------
# 7. Antimeridian
# --------------------------------------------------------------------------------------


def test_antimeridian_polygon_stays_in_the_pacific(tmp_path):
    fiji = shapely.Polygon([(179.0, -17.0), (-179.0, -17.0), (-179.0, -16.0), (179.0, -16.0)])
    aleutian = shapely.MultiPolygon([
        shapely.box(172.0, 52.0, 180.0, 53.0), shapely.box(-180.0, 52.0, -176.0, 53.0)])
    ordinary = shapely.box(10.0, 50.0, 12.0, 51.0)
    gdf = gpd.GeoDataFrame({"population": [1, 2, 3]}, geometry=[fiji, aleutian, ordinary],
                           crs=4326)
    path = tmp_path / "pacific.geojson"
    gdf.to_file(path, driver="GeoJSON")
    df = read_demand(path)
    assert abs(abs(df["lon"][0]) - 180.0) < 1.01 and -17 < df["lat"][0] < -16
    assert abs(df["lon"][1]) > 170 and 52 < df["lat"][1] < 53
    assert 10 < df["lon"][2] < 12
    assert df["lon"].between(-180, 180).all()


# --------------------------------------------------------------------------------------
# 8. Plausibility limits
# --------------------------------------------------------------------------------------


def test_absurd_populations_are_refused_in_memory():
    df = pd.DataFrame({"lat": [1, 2, 3], "lon": [1, 2, 3], "population": [1.7e308, 1e300, 5]})
    raises_with(as_demand, df, match=["population above 1e+10", "rows 1, 2"])
    ok = as_demand(df.assign(population=[MAX_POPULATION_PER_POINT, 0, 5]))
    assert ok["population"].max() == MAX_POPULATION_PER_POINT


def test_total_population_limit():
    df = pd.DataFrame({"lat": np.linspace(0, 10, 200), "lon": 1.0, "population": 9e9})
    raises_with(as_demand, df, match=["total population", "above 1e+12"])


def test_absurd_costs_are_refused(tmp_path):
    path = write(tmp_path / "c.csv",
                 "site_id,lat,lon,cost\na,1,1,1e13\nb,2,2,1\nc,3,3,5e9\nd,4,4,1e-9\n")
    raises_with(read_sites, path, match=["cost above 1e+12", "row 1", "cost below 1e-06", "row 4",
                                         "span more than 1e+09", "row 3"])
    sites = pd.DataFrame({"lat": [1, 2], "lon": [1, 2], "cost": [1.0, MAX_COST_RATIO]})
    assert as_sites(sites)["cost"].tolist() == [1.0, MAX_COST_RATIO]


def test_plan_sites_validates_the_limits():
    from coverage import plan_sites

    demand = pd.DataFrame({"lat": [34.0], "lon": [-118.0], "population": [1e300]})
    sites = pd.DataFrame({"lat": [34.0], "lon": [-118.0]})
    with pytest.raises(InputValidationError, match="population above"):
        plan_sites(demand, sites, failures=0)


# --------------------------------------------------------------------------------------
# 9. Co-located candidates
# --------------------------------------------------------------------------------------


def test_colocated_pairs_detector():
    lat = np.array([40.0, 40.001, 40.0, 41.0, 41.0])
    lon = np.array([-3.0, -3.0, -3.002, -3.0, -3.0])
    pairs, d = colocated_pairs(lat, lon, 300)
    assert pairs.tolist() == [[0, 1], [0, 2], [1, 2], [3, 4]]
    assert np.allclose(d[[0, 3]], [111.2, 0.0], atol=0.5)
    assert len(colocated_pairs(lat, lon, 0)[0]) == 0
    assert len(colocated_pairs(lat, lon, 150)[0]) == 2


def test_colocated_candidates_are_warned_about_once(tmp_path, caplog):
    path = write(tmp_path / "s.csv", "site_id,lat,lon\na,40,-3\nb,40.001,-3\nc,45,-3\n")
    with caplog.at_level(logging.WARNING, logger="coverage.inputs.tables"):
        sites = read_sites(path)
        as_sites(sites)  # plan_sites validates again: no second warning
    assert caplog.text.count("within 300 m") == 1
    assert "1 candidate pair is within 300 m" in caplog.text
    assert "'a' and 'b' (111 m)" in caplog.text
    assert "merge them" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="coverage.inputs.tables"):
        read_sites(path, colocated_m=0)
        read_sites(path, colocated_m=100)
        as_sites(pd.read_csv(path), colocated_m=50)
    assert "within" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="coverage.inputs.tables"):
        as_sites(pd.read_csv(path))
    assert "within 300 m" in caplog.text


def test_cli_colocated_option(tmp_path):
    path = write(tmp_path / "s.csv", "site_id,lat,lon\na,34.05,-118.25\nb,34.051,-118.25\n"
                 "c,32.72,-117.16\n")
    base = ("plan", "--demand", DATA / "west_demand.csv", "--candidates", path,
            "--failures", 0, "--budget-ms", 100, "--no-map", "--no-report", "--no-gis")
    r = run(*base, "--out", tmp_path / "a")
    assert "1 candidate pair is within 300 m" in r.stderr, r.stderr
    r = run(*base, "--colocated-m", 0, "--out", tmp_path / "b")
    assert "candidate pair" not in r.stderr
    r = run(*base, "--colocated-m", -1, "--out", tmp_path / "c")
    assert r.returncode == 2 and "--colocated-m" in r.stderr


# --------------------------------------------------------------------------------------
# Found by fuzzing (tests/test_fuzz_inputs.py)
# --------------------------------------------------------------------------------------


def test_fuzz_duplicate_csv_header_names_are_refused(tmp_path):
    # pandas renames the second 'h3' to 'h3.1', which hid the duplicate
    path = write(tmp_path / "dup.csv", "lat,lon,population,lat\n1,1,1,2\n")
    raises_with(read_demand, path, match=["duplicate column names 'lat'"])


def test_fuzz_h3_ids_that_are_negative_numbers(tmp_path):
    path = tmp_path / "h3.geojson"
    path.write_text('{"type": "Feature", "properties": {"population": 1, "h3": -1}, '
                    '"geometry": {"type": "Point", "coordinates": [0.0, 0.0]}}')
    raises_with(read_demand, path, match=["not valid H3 cell ids"])


def test_fuzz_reader_chatter_is_logged_not_warned(tmp_path, caplog):
    path = tmp_path / "ids.geojson"
    path.write_text('{"type": "FeatureCollection", "features": ['
                    '{"type": "Feature", "properties": {"id": 0, "population": 1}, '
                    '"geometry": {"type": "Point", "coordinates": [1.0, 1.0]}}, '
                    '{"type": "Feature", "properties": {"id": 0, "population": 1}, '
                    '"geometry": {"type": "Point", "coordinates": [2.0, 2.0]}}]}')
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a GDAL RuntimeWarning used to escape
        with pytest.raises(InputValidationError, match="duplicate demand_id"):
            read_demand(path)


def test_fuzz_swapped_geometry_message_names_the_geometry(tmp_path):
    gdf = gpd.GeoDataFrame({"population": [1, 2]},
                           geometry=[shapely.Point(40, -100), shapely.Point(45, -120)], crs=4326)
    path = tmp_path / "swapped.geojson"
    gdf.to_file(path, driver="GeoJSON")
    raises_with(read_demand, path, match=["geometry coordinates look swapped", "x=longitude"])


def test_fuzz_rows_with_extra_values_are_named(tmp_path):
    path = write(tmp_path / "extra.csv", "id,lat,lon,population\na,1,2,3,\nb,1,3,4,y\n")
    raises_with(read_demand, path, match=["more field(s) than the header", "(row 2)"])


def test_a_token_cost_of_an_existing_site_is_not_a_spread(tmp_path):
    """Required sites are open whatever they cost: their cost is not compared."""
    path = write(tmp_path / "c.csv", "site_id,lat,lon,cost,required\n"
                 "old,1,1,0.001,true\nb,2,2,2500000,false\nc,3,3,3000000,false\n")
    assert read_sites(path)["cost"].tolist() == [0.001, 2.5e6, 3e6]


def test_a_local_crs_centred_on_the_study_area_is_read_with_a_warning(caplog):
    """Metres near the origin of a custom transverse Mercator are not degrees."""
    import logging

    df = pd.DataFrame({"lon": [120.0, -200.0, 300.0], "lat": [150.0, 80.0, -250.0],
                       "population": [1, 2, 3]})
    crs = "+proj=tmerc +lat_0=45.5 +lon_0=7.7 +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m"
    with caplog.at_level(logging.WARNING, logger="coverage"):
        out = as_demand(df, crs=crs)
    assert out["lat"].between(45.49, 45.51).all() and out["lon"].between(7.69, 7.71).all()
    assert "look like degrees" in caplog.text


def test_a_file_without_a_final_line_break_is_warned_about(tmp_path, caplog):
    """A CSV cut short mid-number reads as a smaller number: nothing in the text tells, but
    a file without a final line break names its last row in a warning."""
    cut = write(tmp_path / "cut.csv", "id,lat,lon,population\na,1,2,52490\nb,1,3,524")
    with caplog.at_level(logging.WARNING, logger="coverage.inputs.tables"):
        df = read_demand(cut)
    assert df["population"].tolist() == [52490, 524]
    assert "does not end with a line break" in caplog.text and "data row 2" in caplog.text
    caplog.clear()
    whole = write(tmp_path / "whole.csv", "id,lat,lon,population\na,1,2,52490\r\n")
    with caplog.at_level(logging.WARNING, logger="coverage.inputs.tables"):
        read_demand(whole)
    assert "line break" not in caplog.text


def test_an_unreadable_file_is_named_as_such(tmp_path):
    """A file without read permission: one message says so and how to fix it (not "check
    the file is complete"). Skipped where permissions do not bind (root)."""
    import os

    path = write(tmp_path / "locked.csv", "id,lat,lon,population\na,1,2,3\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("this user reads any file (root): permissions cannot be tested")
        raises_with(read_demand, path, match=["locked.csv", "permission denied", "chmod"])
    finally:
        path.chmod(0o644)


def test_a_row_written_with_another_separator_is_named_as_such(tmp_path):
    """A ';' row in a ',' file lands whole in its first field: the message says so (it said
    that latitude/longitude were missing)."""
    path = write(tmp_path / "mixed.csv", "id,lat,lon,population\na,50.1,4.2,10\n"
                 "b;50.2;4.3;20\nc,50.3,4.4,30\nd,,4.5,40\n")
    msg = raises_with(read_demand, path,
                      match=["holds all its fields in its first column", "(row 2)",
                             "same separator as the header line",
                             "latitude/longitude is missing/empty (row 4)"])
    assert "latitude/longitude is missing/empty (rows" not in msg  # row 4 only


# --------------------------------------------------------------------------------------
# Empty header names are shown by position, not as pandas' "Unnamed: N"
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["id,lat,,", "id,lat, ,", 'id,lat,"",', "id,lat, ,  "])
def test_empty_header_names_are_named_by_position(tmp_path, header):
    """A header field left empty (or blank, or quoted empty) is "(column N: no name)" in
    the message listing the columns: ``Unnamed: 2`` is in no user's file."""
    path = write(tmp_path / "blank.csv", f"{header}\na,52.5,13.4,1000\n")
    with pytest.raises(InputValidationError) as info:
        read_demand(path)
    msg = str(info.value)
    assert "(column 3: no name), (column 4: no name)" in msg, msg
    assert "Unnamed" not in msg and "blank.csv" in msg


def test_a_column_named_unnamed_keeps_its_name(tmp_path):
    """A header field that really says ``Unnamed: 2`` is quoted as it is."""
    path = write(tmp_path / "named.csv", "id,lat,Unnamed: 2\na,52.5,13.4\n")
    with pytest.raises(InputValidationError) as info:
        read_demand(path)
    assert "'Unnamed: 2'" in str(info.value) and "no name" not in str(info.value)


def test_column_list_examples():
    import doctest

    from coverage.inputs import tables

    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    for test in finder.find(tables.column_list, "column_list",
                            globs={"column_list": tables.column_list}):
        runner.run(test)
    assert runner.failures == 0 and runner.tries == 2


def _mounts() -> dict[str, str]:
    """Mount point -> file system type, from /proc/self/mounts ({} without it)."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return {}
    return {f[1]: f[2] for f in (line.split() for line in lines) if len(f) >= 3}


@pytest.mark.skipif(_mounts().get("/proc") != "proc", reason="needs Linux /proc mounted")
def test_a_proc_file_is_not_called_empty():
    """A /proc file has a size of 0 and holds data: it is not "empty (0 bytes)"; the fix
    is to copy it. A truly empty file keeps its message."""
    msg = raises_with(read_demand, "/proc/self/status",
                      match=["/proc/self/status", "under /proc, a proc file system",
                             "copy it to a regular file"])
    assert "file is empty" not in msg
    if _mounts().get("/sys") == "sysfs":  # sysfs files claim 4,096 bytes (tester 102)
        found = next((p for p in map(Path, ("/sys/devices/system/cpu/online",
                                            "/sys/class/net/lo/address",
                                            "/sys/kernel/mm/transparent_hugepage/enabled"))
                      if p.is_file()), None)
        if found is not None:
            raises_with(read_demand, found, match=["under /sys, a sysfs file system"])


def test_a_file_of_size_0_that_cannot_be_read_says_so(tmp_path):
    """A read error on a file the system sizes at 0 (/proc/1/environ: permission denied,
    /proc/self/mem: I/O error) was called empty; the helper now returns the error's text."""
    from coverage.inputs.tables import _holds_bytes

    d = tmp_path / "dir"
    d.mkdir()
    assert isinstance(_holds_bytes(d), str)  # reading a directory: an error, not "empty"
    assert _holds_bytes(write(tmp_path / "e.csv", "")) is False
    assert _holds_bytes(write(tmp_path / "f.csv", "x")) is True


def test_an_empty_file_is_still_empty(tmp_path):
    raises_with(read_demand, write(tmp_path / "e.csv", ""), match=["file is empty (0 bytes"])


def test_a_column_without_a_name_is_not_carried_as_unnamed(tmp_path, caplog):
    """A column whose header field is empty (pandas' ``Unnamed: 0`` of ``df.to_csv()``'s
    index) is not carried to the outputs under that made-up name; the log says so. A named
    extra column still is."""
    path = write(tmp_path / "d.csv", ",id,lat,lon,population,note\n"
                                     "0,a,52.5,13.4,1000,x\n1,b,48.1,11.6,2000,y\n")
    with caplog.at_level(logging.INFO, logger="coverage"):
        d = read_demand(path)
    assert "note" in d.columns and not any("Unnamed" in str(c) for c in d.columns)
    assert "column 1 not carried to the outputs (no name in the header" in caplog.text


@pytest.mark.parametrize("content,what", [(b"\xef\xbb\xbf", "only a byte-order mark,"),
                                          (b"\xef\xbb\xbf\r\n\n  \n",
                                           "only a byte-order mark and whitespace")])
def test_a_csv_of_only_a_byte_order_mark_is_empty(tmp_path, content, what):
    """Excel's "CSV UTF-8" of an empty sheet is a byte-order mark: it is an empty file,
    not pandas' "EmptyDataError: No columns to parse from file" (tester 102)."""
    path = tmp_path / "bom.csv"
    path.write_bytes(content)
    msg = raises_with(read_demand, path, match=["bom.csv", "file is empty", what])
    assert "EmptyDataError" not in msg


def test_a_blank_header_beside_a_real_unnamed_column(tmp_path):
    """Reviewer 105: a blank header field at position 4 renamed to ``Unnamed: 4`` clashed
    with a real column of that name (an internal error); the blank one gets a name of its
    own and is dropped, the real one kept."""
    for header in ("id,lat,lon,population, ,Unnamed: 4", "id,lat,lon,population,Unnamed: 4, "):
        d = read_demand(write(tmp_path / "d.csv", f"{header}\na,52.5,13.4,100,x,y\n"))
        assert [c for c in d.columns if "Unnamed" in c] == ["Unnamed: 4"]


def test_option_files_that_are_pipes_are_refused_not_waited_on(tmp_path):
    """Tester 159: a named pipe with no writer as --tiers, --service-classes,
    --workloads, --latency-model, --backbone, compare --costs, a batch file or calibrate's
    --out blocked for ever (or was said not to exist); ``<(cat tiers.toml)`` was read
    twice and said to hold none of its tables. Each is refused at once (the run's
    timeout would end a hang as a failure), naming the file and what it is."""
    import os

    fifo = tmp_path / "f.toml"
    os.mkfifo(fifo)
    gml = tmp_path / "f.gml"
    os.mkfifo(gml)
    d, s = DATA / "west_demand.csv", DATA / "west_candidates.csv"
    base = ("plan", "--demand", d, "--candidates", s, "--no-map", "--out", tmp_path / "o")
    cases = [(*base, "--tiers", fifo), (*base, "--service-classes", fifo),
             (*base, "--workloads", fifo), (*base, "--latency-model", fifo),
             (*base, "--backbone", gml), ("batch", fifo, "--out", tmp_path / "b")]
    for args in cases:
        r = run(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert "named pipe (FIFO), not a regular file" in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr
    pings = tmp_path / "p.csv"
    pings.write_text("user_lat,user_lon,site_lat,site_lon,rtt_ms\n")
    r = run("calibrate", "--pings", pings, "--out", fifo)
    assert r.returncode == 2 and "named pipe (FIFO)" in r.stderr, r.stderr


def test_a_crs_of_another_body_is_refused(tmp_path):
    """Tester 159: a demand CRS of Mars (IAU_2015:49900, ESRI:104905) or a sphere of
    radius 1 made an "internal error" (exit 1): refused with exit 2 and the fix."""
    d, s = DATA / "west_demand.csv", DATA / "west_candidates.csv"
    for crs in ("IAU_2015:49900", "+proj=longlat +a=1"):
        r = run("plan", "--demand", d, "--candidates", s, "--demand-crs", crs,
                "--no-map", "--out", tmp_path / "o")
        assert r.returncode == 2, r.stderr
        assert "cannot be converted to latitude/longitude on the Earth" in r.stderr
        assert "internal error" not in r.stderr and "Traceback" not in r.stderr


def test_a_header_longer_than_the_first_read_is_read_whole(tmp_path):
    """Tester 159: 200,000 distinct column names made a 1.4 MB header line; cut at the
    first 64 KiB its last name matched an earlier one: "duplicate column names 'c1094'"."""
    cols = ",".join(f"c{i}" for i in range(12_000))  # (a header of 70 kB: above 64 KiB)
    path = write(tmp_path / "wide.csv", f"demand_id,lat,lon,population,{cols}\n"
                 f"a,52.5,13.4,100,{','.join('1' for _ in range(12_000))}\n")
    assert len(path.read_text().splitlines()[0]) > 65536
    demand = read_demand(path)
    assert len(demand) == 1 and demand["demand_id"].tolist() == ["a"]
    dup = write(tmp_path / "dup.csv", f"demand_id,lat,lon,population,{cols},c7\n"
                f"a,52.5,13.4,100,{','.join('1' for _ in range(12_001))}\n")
    with pytest.raises(InputValidationError, match="duplicate column names 'c7'"):
        read_demand(dup)
    # a first line of more than 16 MiB without a break is no header (review 144: read
    # block by block with a rescan of all it had, 64 MB took 25 s and 887 MB)
    huge = tmp_path / "huge.csv"
    huge.write_bytes(b"demand_id,lat,lon," + b"c," * (9 << 20))
    with pytest.raises(InputValidationError, match="longer than 16 MiB without a line"):
        read_demand(huge)


@pytest.mark.parametrize("dtype", ["int8", "int64", "uint64", "float32", "float64", "bool",
                                   "Int64", "UInt8", "Float32", "boolean", "string",
                                   "string[python]"])
def test_types_carried_without_a_trial_write_are_stored_by_every_writer(dtype):
    """The column types ``_storable`` keeps without a trial write (12,000 of them took 10 s)
    are written by Parquet and pandas' JSON writer, with missing and extreme values."""
    from coverage.inputs.tables import _stored_as_is, _writes

    if "bool" in dtype:
        values = [True, None, False] if dtype == "boolean" else [True, False, True]
    elif dtype.startswith("string"):
        values = ["a", None, "\u00e9\x00"]
    elif dtype[0].isupper():
        values = [1, None, 3]
    elif dtype.startswith("float"):
        values = [1.5, float("nan"), float("inf")]
    else:
        values = [0, 1, np.iinfo(dtype).max]
    s = pd.Series(values, dtype=dtype)
    assert _stored_as_is(s.dtype)
    assert _writes(s, json=True) and _writes(s, json=False)


@pytest.mark.parametrize("dtype", ["float16", "object", "datetime64[ns]", "category",
                                   "complex128"])
def test_other_types_are_tried(dtype):
    from coverage.inputs.tables import _stored_as_is

    assert not _stored_as_is(pd.Series([], dtype=dtype).dtype)


def test_a_long_number_among_text_ids_is_refused(tmp_path):
    """Tester 159: a GeoJSON whose ids are text but one, the JSON number
    12345678901234567890, planned with that id turned into '1.2345678901234567e+19'
    (GDAL reads the mixed column as text). Refused like a float column of such ids, as is
    a spreadsheet's exponent form in a CSV and a Python float among text ids."""
    import json

    df = pd.read_csv(DATA / "west_demand.csv").head(5)
    g = gpd.GeoDataFrame(df.drop(columns=["lat", "lon"]),
                         geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)
    doc = json.loads(g.to_json())
    doc["features"][0]["properties"]["demand_id"] = 12345678901234567890
    path = tmp_path / "bigid.geojson"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputValidationError, match="2\\*\\*53 or more in exponent form"):
        read_demand(path)
    csv = write(tmp_path / "excel.csv", "demand_id,lat,lon,population\n"
                "1.23457E+19,52.5,13.4,100\nb,52.6,13.5,100\n")
    with pytest.raises(InputValidationError, match="exponent form"):
        read_demand(csv)
    frame = pd.DataFrame({"demand_id": pd.Series([1.2345678901234567e19, "b"], dtype=object),
                          "lat": [52.5, 52.6], "lon": [13.4, 13.5], "population": [1.0, 2.0]})
    from coverage.inputs.tables import as_demand

    with pytest.raises(InputValidationError, match="2\\*\\*53 or more"):
        as_demand(frame)
    # small numbers in exponent form are exact, and a hex id is text: kept as written
    # (review 144: "1e20", a hex id, was refused)
    ok = write(tmp_path / "ok.csv", "demand_id,lat,lon,population\n1e5,52.5,13.4,100\n"
               "b,52.6,13.5,100\n1e20,52.7,13.6,100\n2E100,52.8,13.7,100\n")
    assert read_demand(ok)["demand_id"].tolist() == ["1e5", "b", "1e20", "2E100"]


@pytest.mark.parametrize("how", ["geojson", "frame"])
def test_an_empty_feature_collection_is_one_problem(tmp_path, how):
    """Tester 172: an empty GeoJSON FeatureCollection gave two problems, "missing column:
    population ... columns: none" and "the input has a header but no rows". Now one: no
    rows and no columns; so does an empty DataFrame."""
    from coverage.errors import InputValidationError
    from coverage.inputs.tables import as_demand, read_demand

    with pytest.raises(InputValidationError) as info:
        if how == "geojson":
            path = tmp_path / "empty.geojson"
            path.write_text('{"type": "FeatureCollection", "features": []}')
            read_demand(path)
        else:
            as_demand(pd.DataFrame())
    text = str(info.value)
    assert "1 problem" in text and "no rows and no columns" in text, text
    assert "missing column" not in text


def test_dots_read_as_thousands_are_named_with_an_example(tmp_path, caplog):
    """Tester 172: a ';' file with decimal commas whose populations were written with dots
    as decimal points (425.247) was read 1000x too large, said only by an INFO line. A
    warning now names the column and an example; none where the dots stay decimals."""
    path = write(tmp_path / "de.csv", "id;lat;lon;population\n"
                 "a;34,08668;-118,27023;425.247\nb;34,07808;-118,26066;247.370\n")
    with caplog.at_level(logging.WARNING, logger="coverage.inputs.tables"):
        assert read_demand(path)["population"].tolist() == [425247.0, 247370.0]
    assert ("column 'population': 2 value(s) with dots read as thousands groupings"
            in caplog.text and "('425.247' read as 425,247)" in caplog.text)
    caplog.clear()
    path = write(tmp_path / "mixed.csv", "id;lat;lon;population\n"
                 "a;52,52;13,405;1.250\nb;48,1372;11,5755;0.5\n")
    with caplog.at_level(logging.WARNING, logger="coverage.inputs.tables"):
        assert read_demand(path)["population"].tolist() == [1.25, 0.5]
    assert "thousands groupings" not in caplog.text


def test_the_count_of_bad_values_left_unnamed_is_every_one(tmp_path):
    """Tester 174: 60 distinct bad populations read "... and 30 more" (the values were
    counted in the first 40 rows only); the rows' count said 50."""
    rows = "\n".join(f"d{i},45.{i:02d},5.0,\"{i + 1},000\"" for i in range(60))
    path = write(tmp_path / "thousands.csv", "id,lat,lon,population\n" + rows + "\n")
    raises_with(read_demand, path, match=["not a finite number", "'1,000'", "'10,000'",
                                          "and 50 more (rows", "and 50 more)"])


@pytest.mark.parametrize("gone", [[".dbf"], [".dbf", ".shx"]])
def test_a_shapefile_without_its_sidecar_files_says_which(tmp_path, gone):
    """Tester 174: a Shapefile without its .dbf read "missing column: population;
    columns: none"."""
    import os

    g = gpd.GeoDataFrame({"id": ["a", "b"], "population": [10, 20]},
                         geometry=[shapely.Point(6.1, 49.6), shapely.Point(6.2, 49.7)],
                         crs="EPSG:4326")
    g.to_file(tmp_path / "d.shp")
    for ext in gone:
        os.remove(tmp_path / f"d{ext}")
    raises_with(read_demand, tmp_path / "d.shp",
                match=[f"the Shapefile's {' and '.join(gone)} file", "copy d.dbf",
                       "next to d.shp"])
