"""Tests for coverage.inputs.tables: reading and validating demand and site files."""

from __future__ import annotations

import gzip
import logging
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import DATA
from helpers import raises_with, write
from pyproj import Transformer

from coverage.errors import CoverageWarning, InputValidationError
from coverage.inputs.tables import as_demand, as_sites, format_rows, read_demand, read_sites

DEMAND_COLUMNS = ["demand_id", "lat", "lon", "population", "name"]
SITE_COLUMNS = ["site_id", "lat", "lon", "name", "tier", "required"]




no_crs_write = pytest.mark.filterwarnings("ignore:'crs' was not provided:UserWarning")


def to_3857(lon, lat):
    return Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)


# --------------------------------------------------------------------------------------
# Good inputs
# --------------------------------------------------------------------------------------


def test_csv_aliases_latitude_longitude(tmp_path):
    path = write(
        tmp_path / "demand.csv",
        "ID,Latitude,Longitude,Pop,City,extra\n"
        "01,40.4168,-3.7038,3300000,Madrid,a\n"
        "02,41.3874,2.1686,1600000,,b\n",
    )
    df = read_demand(path)
    assert list(df.columns) == [*DEMAND_COLUMNS, "extra"]
    assert isinstance(df.index, pd.RangeIndex)
    assert df["demand_id"].tolist() == ["01", "02"]  # leading zeros preserved
    assert df["name"].tolist() == ["Madrid", "02"]  # missing name falls back to the id
    assert df["lat"].dtype == np.float64 and df["lon"].dtype == np.float64
    assert df["population"].dtype == np.float64
    np.testing.assert_allclose(df["lat"], [40.4168, 41.3874])
    np.testing.assert_allclose(df["lon"], [-3.7038, 2.1686])
    assert df["extra"].tolist() == ["a", "b"]
    assert "access" not in df.columns


def test_csv_lng_alias_without_id_uses_row_numbers(tmp_path, caplog):
    path = write(tmp_path / "d.txt", "lat,lng,population,access_type\n10,20,5,FTTH\n11,21,0,lte\n")
    with caplog.at_level(logging.INFO, logger="coverage.inputs.tables"):
        df = read_demand(path)
    assert df["demand_id"].tolist() == ["1", "2"]
    assert df["name"].tolist() == ["1", "2"]
    assert df["lon"].tolist() == [20.0, 21.0]
    assert df["access"].tolist() == ["ftth", "lte"]
    assert "row numbers" in caplog.text


def test_csv_gz(tmp_path):
    path = tmp_path / "d.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("geoid,y,x,POPULATION\nA,1.5,2.5,7\n")
    df = read_demand(path)
    assert df.loc[0, ["demand_id", "lat", "lon", "population"]].tolist() == ["A", 1.5, 2.5, 7.0]


def test_geojson_polygons_use_a_point_inside(tmp_path):
    # A U shape: its centroid lies outside the polygon.
    u_shape = shapely.Polygon([(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3)])
    multi = shapely.MultiPolygon([shapely.box(10, 10, 11, 11), shapely.box(12, 12, 13, 13)])
    line = shapely.LineString([(20, 20), (21, 21)])
    gdf = gpd.GeoDataFrame(
        {"id": ["u", "m", "l"], "population": [1, 2, 3]},
        geometry=[u_shape, multi, line],
        crs=4326,
    )
    path = tmp_path / "areas.geojson"
    gdf.to_file(path, driver="GeoJSON")
    df = read_demand(path)
    assert not u_shape.contains(u_shape.centroid)
    pts = shapely.points(df["lon"], df["lat"])
    assert u_shape.contains(pts[0])
    assert multi.contains(pts[1])
    assert line.distance(pts[2]) < 1e-9
    assert "geometry" not in df.columns


def test_geopackage_in_3857_is_reprojected(tmp_path):
    lon = np.array([-3.7038, 2.1686, 151.2093])
    lat = np.array([40.4168, 41.3874, -33.8688])
    x, y = to_3857(lon, lat)
    gdf = gpd.GeoDataFrame(
        {"code": ["m", "b", "s"], "pop_total": [3.0, 1.6, 5.0]},
        geometry=gpd.points_from_xy(x, y),
        crs=3857,
    )
    path = tmp_path / "pts.gpkg"
    gdf.to_file(path, driver="GPKG")
    df = read_demand(path)
    exp_lon, exp_lat = Transformer.from_crs(3857, 4326, always_xy=True).transform(x, y)
    np.testing.assert_allclose(df["lon"], exp_lon, atol=1e-6)
    np.testing.assert_allclose(df["lat"], exp_lat, atol=1e-6)
    np.testing.assert_allclose(df["lat"], lat, atol=1e-6)
    assert df["demand_id"].tolist() == ["m", "b", "s"]


def test_shapefile(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"site_id": ["a", "b"], "tier": ["metro", "edge"], "cost": [2.5, 4.0]},
        geometry=gpd.points_from_xy([1.0, 2.0], [3.0, 4.0]),
        crs=4326,
    )
    path = tmp_path / "sites.shp"
    gdf.to_file(path)
    df = read_sites(path)
    assert list(df.columns) == [*SITE_COLUMNS, "cost"]
    assert df["lon"].tolist() == [1.0, 2.0]
    assert df["lat"].tolist() == [3.0, 4.0]
    assert df["tier"].tolist() == ["metro", "edge"]
    assert df["required"].tolist() == [False, False]
    assert df["cost"].tolist() == [2.5, 4.0]


@no_crs_write
def test_shapefile_without_crs_warns_and_assumes_4326(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"population": [1.0]}, geometry=gpd.points_from_xy([5.0], [6.0]), crs=None
    )
    path = tmp_path / "nocrs.shp"
    gdf.to_file(path)
    with pytest.warns(CoverageWarning, match="EPSG:4326"):
        df = read_demand(path)
    assert (df["lat"].item(), df["lon"].item()) == (6.0, 5.0)


def test_geoparquet_and_plain_parquet(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"demand_id": ["a", "b"], "population": [1, 2]},
        geometry=gpd.points_from_xy([10.0, 11.0], [50.0, 51.0]),
        crs=4326,
    )
    gpath = tmp_path / "d.parquet"
    gdf.to_parquet(gpath)
    df = read_demand(gpath)
    assert df["lat"].tolist() == [50.0, 51.0]
    assert df["population"].tolist() == [1.0, 2.0]

    ppath = tmp_path / "plain.parquet"
    pd.DataFrame({"id": [7, 8], "lat": [1.0, 2.0], "lon": [3.0, 4.0], "pop": [5, 6]}).to_parquet(
        ppath
    )
    df = read_demand(ppath)
    assert df["demand_id"].tolist() == ["7", "8"]
    assert df["lon"].tolist() == [3.0, 4.0]


def test_csv_with_crs_argument(tmp_path):
    lon = np.array([-3.7038, 2.1686])
    lat = np.array([40.4168, 41.3874])
    x, y = to_3857(lon, lat)
    text = "id,x,y,population\n" + "".join(
        f"{i},{float(xi)!r},{float(yi)!r},1\n" for i, (xi, yi) in enumerate(zip(x, y, strict=True))
    )
    path = write(tmp_path / "proj.csv", text)
    df = read_demand(path, crs="EPSG:3857")
    exp_lon, exp_lat = Transformer.from_crs(3857, 4326, always_xy=True).transform(x, y)
    np.testing.assert_allclose(df["lon"], exp_lon, atol=1e-6)
    np.testing.assert_allclose(df["lat"], exp_lat, atol=1e-6)
    np.testing.assert_allclose(df["lat"], lat, atol=1e-6)


def test_cenpop_file_with_bom_and_plus_signs(tmp_path):
    path = write(
        tmp_path / "CenPop2020_Mean_TR01.txt",
        "STATEFP,COUNTYFP,TRACTCE,POPULATION,LATITUDE,LONGITUDE\n"
        "01,001,020100,1775,+32.481959,-086.491580\n"
        "01,001,020200,2055,+32.475758,-086.472468\n",
        encoding="utf-8-sig",
    )
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    df = read_demand(path)
    assert df["demand_id"].tolist() == ["01001020100", "01001020200"]
    np.testing.assert_allclose(df["lat"], [32.481959, 32.475758])
    np.testing.assert_allclose(df["lon"], [-86.491580, -86.472468])
    assert df["population"].tolist() == [1775.0, 2055.0]


def test_sites_tier_required_cost(tmp_path):
    path = write(
        tmp_path / "sites.csv",
        "Site_ID,lat,lon,site_name,tier,Existing,cost\n"
        "A,1,2,Alpha,metro,yes,10\n"
        "B,1,3,,,0,5.5\n"
        "C,2,3,Gamma,edge,TRUE,1\n"
        "D,2,4,Delta,edge,,2\n",
    )
    df = read_sites(path)
    assert list(df.columns) == [*SITE_COLUMNS, "cost"]
    assert df["site_id"].tolist() == ["A", "B", "C", "D"]
    assert df["name"].tolist() == ["Alpha", "B", "Gamma", "Delta"]
    assert df["tier"].tolist() == ["metro", "candidate", "edge", "edge"]
    assert df["required"].dtype == bool
    assert df["required"].tolist() == [True, False, True, False]
    assert df["cost"].dtype == np.float64
    assert df["cost"].tolist() == [10.0, 5.5, 1.0, 2.0]


def test_sites_defaults(tmp_path):
    path = write(tmp_path / "s.csv", "latitude,longitude\n1,2\n3,4\n")
    df = read_sites(path)
    assert list(df.columns) == SITE_COLUMNS
    assert df["site_id"].tolist() == ["1", "2"]
    assert df["tier"].tolist() == ["candidate", "candidate"]
    assert df["required"].tolist() == [False, False]


def test_in_memory_frames():
    df = as_demand(pd.DataFrame({"LAT": [1.0], "LON": [2.0], "Population": [3]}))
    assert df.loc[0, ["demand_id", "lat", "lon", "population"]].tolist() == ["1", 1.0, 2.0, 3.0]
    gdf = gpd.GeoDataFrame({"id": [5]}, geometry=gpd.points_from_xy([7.0], [8.0]), crs=4326)
    sites = as_sites(gdf)
    assert sites.loc[0, ["site_id", "lat", "lon"]].tolist() == ["5", 8.0, 7.0]
    raises_with(
        as_demand,
        pd.DataFrame({"lat": [1.0, 2.0], "lon": [2.0, 3.0], "population": [1.0, -1.0]}),
        source="my-frame",
        match=["my-frame", "negative", "row 2"],
    )


def test_format_rows():
    assert format_rows(np.array([4])) == "row 4"
    assert format_rows(np.arange(1, 16)) == "rows 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 5 more"


# --------------------------------------------------------------------------------------
# Bad inputs: one error, naming the file, the rows and a fix
# --------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    raises_with(read_demand, tmp_path / "nope.csv", match=["nope.csv", "not found", "path"])


def test_directory_is_not_a_file(tmp_path):
    raises_with(read_sites, tmp_path, match=[str(tmp_path), "a directory, not a regular file"])


def test_a_named_pipe_is_called_one(tmp_path):
    """Tester 95: a FIFO input was called "(a directory?)"."""
    import os

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    msg = raises_with(read_demand, fifo, match=["a named pipe (FIFO), not a regular file"])
    assert "directory" not in msg


@pytest.mark.parametrize("gz", [False, True])
def test_a_latin1_csv_names_its_first_bad_line(tmp_path, gz):
    """Tester 95: a Latin-1 CSV's error gave the byte offset of pandas' buffer, not a
    row. The line is counted over the whole file (here past the first 1 MiB block) and
    shown as Windows-1252 would read it."""
    rows = ["name,lat,lon,population"] + [f"p{i},{40 + i * 1e-5:.5f},-100,10"
                                          for i in range(80_000)]
    rows[70_001] = "Bogot\xe1,4.6,-74.1,100"
    data = "\n".join(rows).encode("latin-1") + b"\n"
    assert len(data) > 1.5 * 2**20
    path = tmp_path / ("latin.csv.gz" if gz else "latin.csv")
    path.write_bytes(gzip.compress(data) if gz else data)
    raises_with(read_demand, path, match=["not UTF-8", "line 70002 ", "'Bogot\u00e1,4.6",
                                          "CSV UTF-8"])


def test_missing_columns(tmp_path):
    path = write(tmp_path / "cols.csv", "foo,bar\n1,2\n")
    msg = raises_with(
        read_demand,
        path,
        match=["cols.csv", "missing columns", "latitude", "longitude", "population", "'foo'"],
    )
    assert "lat, latitude, y" in msg and "rename" in msg


def test_duplicate_ids(tmp_path):
    path = write(
        tmp_path / "dup.csv",
        "id,lat,lon,population\na,1,1,1\nb,1,1,1\na,1,1,1\nc,1,1,1\nb,1,1,1\n",
    )
    raises_with(read_demand, path, match=["dup.csv", "duplicate", "'a', 'b'", "rows 1, 2, 3, 5"])


def test_nan_population(tmp_path):
    path = write(tmp_path / "nan.csv", "id,lat,lon,population\na,1,1,1\nb,1,1,\nc,1,1,NaN\n")
    raises_with(read_demand, path, match=["nan.csv", "population is missing", "rows 2, 3", "fill"])


def test_negative_population(tmp_path):
    path = write(tmp_path / "neg.csv", "id,lat,lon,population\na,1,1,-5\nb,1,1,1\n")
    raises_with(read_demand, path, match=["neg.csv", "negative", "row 1", ">= 0"])


def test_non_numeric_population(tmp_path):
    path = write(tmp_path / "txt.csv", 'id,lat,lon,population\na,1,1,abc\nb,1,1,2\nc,1,1,"1,2x"\n')
    raises_with(
        read_demand,
        path,
        match=["txt.csv", "not a finite number", "'abc'", "'1,2x'", "rows 1, 3", "plain numbers"],
    )


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    raises_with(read_demand, path, match=["empty.csv", "empty", "0 bytes", "header"])


def test_header_only_csv(tmp_path):
    path = write(tmp_path / "header.csv", "id,lat,lon,population\n")
    raises_with(read_demand, path, match=["header.csv", "no data rows", "add at least one"])


def test_out_of_range_coordinates(tmp_path):
    path = write(
        tmp_path / "range.csv",
        "id,lat,lon,population\na,10,100,1\nb,91,100,1\nc,-10,-200,1\n",
    )
    raises_with(
        read_demand,
        path,
        match=["range.csv", "latitude outside [-90, 90] (row 2)", "longitude outside", "row 3"],
    )


def test_swapped_lat_lon(tmp_path):
    path = write(
        tmp_path / "swap.csv",
        "id,lat,lon,population\na,-3.7,40.4,1\nb,151.2,-33.9,1\nc,-122.4,37.8,1\n",
    )
    raises_with(read_demand, path, match=["swap.csv", "look swapped", "rows 2, 3", "swap the"])


def test_projected_metres_as_degrees(tmp_path):
    x, y = to_3857([-3.7, 2.2], [40.4, 41.4])
    path = write(
        tmp_path / "metres.csv",
        f"id,lat,lon,population\na,{y[0]},{x[0]},1\nb,{y[1]},{x[1]},1\n",
    )
    raises_with(
        read_demand,
        path,
        match=["metres.csv", "projected metres", "rows 1, 2", "crs=", "--demand-crs"],
    )


@no_crs_write
def test_vector_without_crs_in_metres(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"population": [1.0]}, geometry=gpd.points_from_xy([-400000.0], [4900000.0]), crs=None
    )
    path = tmp_path / "metres.shp"
    gdf.to_file(path)
    raises_with(read_demand, path, match=["metres.shp", "projected metres", "row 1", "crs="])


def test_truncated_geopackage(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"id": np.arange(50), "population": np.ones(50)},
        geometry=gpd.points_from_xy(np.linspace(0, 1, 50), np.linspace(0, 1, 50)),
        crs=4326,
    )
    path = tmp_path / "cut.gpkg"
    gdf.to_file(path, driver="GPKG")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    raises_with(read_demand, path, match=["cut.gpkg", "truncated", "check the file is complete"])


def test_truncated_geojson(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"id": np.arange(20), "population": np.ones(20)},
        geometry=gpd.points_from_xy(np.linspace(0, 1, 20), np.linspace(0, 1, 20)),
        crs=4326,
    )
    path = tmp_path / "cut.geojson"
    gdf.to_file(path, driver="GeoJSON")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    raises_with(
        read_demand, path, match=["cut.geojson", "cannot read", "check the file is complete"]
    )


def test_garbage_bytes_in_csv(tmp_path):
    path = tmp_path / "garbage.csv"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    raises_with(read_demand, path, match=["garbage.csv", "check the file is complete"])


def test_non_utf8_csv(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("id,lat,lon,population,name\na,1,1,1,M\xe1laga\n".encode("latin-1"))
    raises_with(read_demand, path, match=["latin.csv", "UTF-8", "check the file is complete"])


def test_broken_quote_csv(tmp_path):
    path = write(
        tmp_path / "quote.csv",
        'id,lat,lon,population,name\na,1,1,1,"ok"\nb,1,1,1,"broken\n' + "c,1,1,1,x\n" * 3,
    )
    raises_with(read_demand, path, match=["quote.csv", "cannot read", "check the file is complete"])


def test_unknown_access_value(tmp_path):
    path = write(
        tmp_path / "acc.csv",
        "id,lat,lon,population,access\na,1,1,1,ftth\nb,1,1,1,FIBRE\nc,1,1,1,5G-SA\nd,1,1,1,\n",
    )
    msg = raises_with(
        read_demand,
        path,
        match=["acc.csv", "unknown access values 'fibre'", "row 2", "use one of", "5g-urllc"],
    )
    assert re.search(r"access is missing.*row 4", msg)
    assert "row 3" not in msg  # case-insensitive match of 5G-SA


def test_an_access_column_empty_in_every_row_takes_the_access_option(tmp_path, caplog,
                                                                    sample_inputs):
    """Tester 192: an access column empty in every row was refused, while the other
    optional columns, all empty, take the run's value. It is read as absent, so the access
    option applies to every point, with a warning naming the file, the column and the
    fix; an empty cell among filled ones is still refused (test_unknown_access_value)."""
    from helpers import ON_NET

    from coverage import plan_sites

    path = write(tmp_path / "acc.csv",
                 "id,lat,lon,population,access\na,1,1,1,\nb,1,1,2, \nc,1,1,3,\n")
    with caplog.at_level(logging.WARNING, logger="coverage"):
        d = read_demand(path)
    assert "access" not in d.columns and len(d) == 3
    assert (f"{path}: the access column 'access' is empty in every row: it is read as "
            "absent, so the run's access class (--access, ftth by default)") in caplog.text
    assert "Fix: fill in each row's access class, or drop the column" in caplog.text
    # an H3 population table names the command's option too (review 165: access=)
    import h3

    cells = [h3.latlng_to_cell(1.0 + i / 10, 1.0, 7) for i in range(3)]
    path = write(tmp_path / "h3.csv", "h3,population,access\n"
                 + "".join(f"{c},{i + 1},\n" for i, c in enumerate(cells)))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="coverage"):
        d = read_demand(path)
    assert "access" not in d.columns and len(d) == 3
    assert "(--access, ftth by default)" in caplog.text, caplog.text
    demand, sites = sample_inputs
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="coverage"):
        plan = plan_sites(demand.assign(access=np.nan), sites, budget_ms=60, failures=0,
                          access="cable", model=ON_NET, kmedian_time_limit_s=0)
    assert set(plan.demand["access"]) == {"cable"}
    assert plan.summary()["parameters"]["access_classes"] == ["cable"]
    assert "(access=, ftth by default)" in caplog.text


def test_access_profiles_argument(tmp_path):
    path = write(tmp_path / "acc.csv", "lat,lon,population,access\n1,1,1,sat\n")
    assert read_demand(path, access_profiles={"sat": (300.0, 600.0)})["access"].tolist() == ["sat"]


def test_missing_geometry_in_vector_file(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"id": ["a", "b", "c"], "population": [1, 2, 3]},
        geometry=[shapely.Point(1, 1), None, shapely.Point(2, 2)],
        crs=4326,
    )
    path = tmp_path / "holes.geojson"
    gdf.to_file(path, driver="GeoJSON")
    raises_with(read_demand, path, match=["holes.geojson", "geometry is missing", "row 2"])


@pytest.mark.parametrize("suffix, chunk", [(".gpkg", None), (".parquet", None),
                                           (".gpkg", 2)])
def test_nonfinite_geometry_coordinates_are_refused(tmp_path, monkeypatch, suffix, chunk):
    """NaN / infinite vertices (GeoJSON readers accept ``NaN`` and ``Infinity``) are named,
    not read as a point at (0, 0) or silently dropped; a polygon with one such vertex too
    (also when the vertices are scanned a few at a time)."""
    if chunk is not None:
        import coverage.inputs.tables as tables

        monkeypatch.setattr(tables, "_VERTEX_CHUNK", chunk)
    with np.errstate(invalid="ignore"):  # shapely warns of the NaN it is asked to build
        geoms = [shapely.Point(float("nan"), 34), shapely.Point(-118.25, 34.05),
                 shapely.Point(float("inf"), 34),
                 shapely.Polygon([(1, 1), (2, 1), (float("nan"), 2), (1, 1)]),
                 shapely.Point(2, 2)]
    gdf = gpd.GeoDataFrame({"id": list("abcde"), "population": [5, 100, 7, 3, 1]},
                           geometry=geoms, crs=4326)
    path = tmp_path / f"nan{suffix}"
    if suffix == ".parquet":
        gdf.to_parquet(path)
    else:
        gdf.to_file(path)
    for reader in (read_demand, read_sites):
        msg = raises_with(reader, path, match=[f"nan{suffix}", "not a finite number"])
        assert "(rows 1, 3, 4)" in msg
    # GeoJSON as text (GDAL writes such geometries as null): NaN and Infinity are read
    text = tmp_path / "nan.geojson"
    feature = ('{"type":"Feature","properties":{"population":5},"geometry":{"type":"%s",'
               '"coordinates":%s}}')
    text.write_text('{"type":"FeatureCollection","features":[' + ",".join(
        feature % g for g in (("Point", "[NaN, 34]"), ("Point", "[-118.25, 34.05]"),
                              ("Point", "[Infinity, 34]"),
                              ("Polygon", "[[[1, 1], [2, 1], [NaN, 2], [1, 1]]]"),
                              ("Point", "[2, 2]"))) + "]}")
    for reader in (read_demand, read_sites):
        msg = raises_with(reader, text, match=["nan.geojson", "not a finite number"])
        assert "(rows 1, 3, 4)" in msg


def test_bad_site_costs_and_flags(tmp_path):
    path = write(
        tmp_path / "s.csv",
        "site_id,lat,lon,required,cost\na,1,1,maybe,1\nb,1,1,no,0\nc,1,1,yes,\nd,1,1,1,free\n",
    )
    raises_with(
        read_sites,
        path,
        match=[
            "s.csv",
            "not a boolean: 'maybe' (row 1)",
            "cost is <= 0 (row 2)",
            "cost is missing/empty (NaN) (row 3)",
            "'free' (row 4)",
        ],
    )


def test_invalid_crs_argument(tmp_path):
    path = write(tmp_path / "c.csv", "lat,lon,population\n1,1,1\n")
    raises_with(read_demand, path, crs="EPSG:not-a-code", match=["c.csv", "not a valid CRS"])


def test_many_problems_reported_at_once(tmp_path):
    rows = ["id,lat,lon,population,access"]
    rows += [f"r{i},1,1,1,ftth" for i in range(1, 13)]
    rows[1] = "dup,1,1,1,ftth"
    rows[2] = "dup,1,1,-1,ftth"
    rows[3] = "r3,,1,1,ftth"
    rows[4] = "r4,1,1,abc,ftth"
    rows[5] = "r5,1,1,1,carrier-pigeon"
    rows += [f"neg{i},1,1,-2,ftth" for i in range(13)]  # 13 more negative rows
    path = write(tmp_path / "many.csv", "\n".join(rows) + "\n")
    msg = raises_with(
        read_demand,
        path,
        match=[
            "many.csv",
            "duplicate demand_id values 'dup' (rows 1, 2)",
            "latitude/longitude is missing/empty (row 3)",
            "not a finite number: 'abc' (row 4)",
            "unknown access values 'carrier-pigeon' (row 5)",
            "population is negative (rows 2, 13, 14, 15, 16, 17, 18, 19, 20, 21 and 4 more)",
        ],
    )
    assert msg.count("Fix:") == 5
    assert "5 problems" in msg


# --------------------------------------------------------------------------- read once



def test_inputs_are_read_and_validated_once(caplog):
    import logging

    from coverage.inputs.tables import read_demand, read_sites
    from coverage.planner.plan import plan_sites

    with caplog.at_level(logging.INFO, logger="coverage"):
        demand = read_demand(DATA / "west_demand.csv")
        sites = read_sites(DATA / "west_candidates.csv")
        plan_sites(demand, sites, budget_ms=40, kmedian_time_limit_s=5)
    text = caplog.text
    assert text.count("read 458 rows of demand") == 1
    assert text.count("read 68 rows of sites") == 1


def test_a_frame_changed_after_reading_is_validated_again():
    from coverage.inputs.tables import read_demand, read_sites
    from coverage.planner.plan import plan_sites

    demand = read_demand(DATA / "west_demand.csv")
    demand.loc[3, "population"] = -5.0
    with pytest.raises(InputValidationError, match="population"):
        plan_sites(demand, read_sites(DATA / "west_candidates.csv"), budget_ms=40)


def test_columns_the_planner_does_not_use_are_named_once(tmp_path, caplog, sample_inputs):
    import logging

    import pandas as pd

    from coverage.inputs.tables import read_demand
    from coverage.planner.plan import plan_sites

    d = pd.read_csv(DATA / "west_demand.csv")
    d["capacity"] = 5
    d["Power_kW"] = 3.0
    d.to_csv(tmp_path / "d.csv", index=False)
    with caplog.at_level(logging.INFO, logger="coverage"):
        demand = read_demand(tmp_path / "d.csv")
        plan_sites(demand, sample_inputs[1], budget_ms=40, kmedian_time_limit_s=5)
    warned = [r for r in caplog.records
              if r.levelno == logging.WARNING and "not used by the planner" in r.message]
    assert len(warned) == 1
    assert "capacity" in warned[0].message and "Power_kW" in warned[0].message



def test_labels_and_index_changed_after_reading_are_validated_again():
    demand = read_demand(DATA / "west_demand.csv")
    demand.loc[0, "name"] = None
    assert as_demand(demand)["name"].iloc[0] == demand["demand_id"].iloc[0]  # filled again
    shifted = read_demand(DATA / "west_demand.csv")
    shifted.index = shifted.index + 100
    assert as_demand(shifted).index.equals(pd.RangeIndex(len(shifted)))


@pytest.mark.parametrize("change", ["text", "duplicate_id", "swap_rows", "number"])
def test_every_kind_of_change_to_a_validated_frame_is_seen(change):
    """The fingerprint (number bytes, text buffers) tells a changed frame from the one
    validated: each change is caught by the validation it would have failed, or re-run."""
    from coverage.inputs.tables import _VALIDATED, _fingerprint

    demand = read_demand(DATA / "west_demand.csv")
    token = demand.attrs[_VALIDATED]
    assert _fingerprint(demand.copy(), "demand", None) == token  # same values: same token
    changed = demand.copy()
    if change == "text":
        changed["demand_id"] = changed["demand_id"].str.replace("0", "o")
    elif change == "duplicate_id":
        changed.loc[1, "demand_id"] = changed.loc[0, "demand_id"]
    elif change == "swap_rows":  # same values, another order: a different table
        changed = changed.iloc[::-1].reset_index(drop=True)
    else:
        changed.loc[5, "lat"] = changed.loc[5, "lat"] + 1e-9
    assert _fingerprint(changed, "demand", None) != token
    if change == "duplicate_id":
        with pytest.raises(InputValidationError, match="demand_id"):
            as_demand(changed)


def test_the_fingerprint_of_dictionary_and_nested_arrow_columns_follows_their_values():
    """Their values live outside their own buffers: two tables of equal buffers and other
    values must not share a token."""
    import pyarrow as pa

    from coverage.inputs.tables import _fingerprint

    def frame(names):
        return pd.DataFrame({"demand_id": ["1", "2", "3"], "lat": [1.0, 2.0, 3.0],
                             "lon": [1.0, 2.0, 3.0], "population": [1.0, 1.0, 1.0],
                             "name": names})

    idx = pa.array([0, 1, 0], pa.int32())
    one = pd.Series(pd.arrays.ArrowExtensionArray(
        pa.DictionaryArray.from_arrays(idx, pa.array(["x", "y"]))))
    two = pd.Series(pd.arrays.ArrowExtensionArray(
        pa.DictionaryArray.from_arrays(idx, pa.array(["q", "y"]))))
    assert _fingerprint(frame(one), "demand", None) != _fingerprint(frame(two), "demand", None)
    assert _fingerprint(frame(one), "demand", None) == _fingerprint(frame(one.copy()),
                                                                    "demand", None)


def test_a_pickled_validated_frame_is_not_validated_again(caplog):
    """A budget sweep's process gets the plan's demand pickled: its values are the same
    (in buffers of another size), so it is taken as validated, not read again."""
    import pickle

    demand = read_demand(DATA / "west_demand.csv")
    back = pickle.loads(pickle.dumps(demand))
    with caplog.at_level(logging.INFO, logger="coverage"):
        again = as_demand(back)
    assert "demand rows" not in caplog.text
    pd.testing.assert_frame_equal(again, demand)
    sliced = read_demand(DATA / "west_demand.csv").iloc[5:].reset_index(drop=True)
    from coverage.inputs.tables import _fingerprint

    # a slice's text buffers start part-way: its values, not the buffers, are hashed
    assert _fingerprint(sliced, "demand", None) == _fingerprint(
        pickle.loads(pickle.dumps(sliced)), "demand", None)
    assert _fingerprint(sliced, "demand", None) == _fingerprint(
        pd.DataFrame({c: sliced[c].tolist() for c in sliced.columns}).astype(
            sliced.dtypes.to_dict()), "demand", None)


@pytest.mark.parametrize("derive,kept", [
    ("columns", True), ("access", True), ("copied", True), ("unknown_access", False),
    ("changed_lat", False), ("changed_id", False), ("no_lat", False), ("rows", False)])
def test_keep_validated_marks_only_frames_that_are_still_valid(derive, kept, caplog):
    from coverage.inputs.tables import _already_validated, keep_validated
    from coverage.model.latency import LatencyModel

    profiles = LatencyModel().access_profiles_ms
    demand = as_demand(read_demand(DATA / "west_demand.csv"), access_profiles=profiles)
    if "access" in demand.columns:
        demand = as_demand(demand.drop(columns="access"), access_profiles=profiles)
    new = {
        "columns": lambda d: d[["demand_id", "lat", "lon", "population"]],
        "access": lambda d: d.assign(access="ftth"),
        "copied": lambda d: d.copy(deep=True),  # other memory, same values: by hash
        "unknown_access": lambda d: d.assign(access="carrier-pigeon"),
        "changed_lat": lambda d: d.assign(lat=d["lat"] + 1.0),
        "changed_id": lambda d: d.assign(demand_id=d["demand_id"] + "x"),
        "no_lat": lambda d: d.drop(columns="lat"),
        "rows": lambda d: d.iloc[::-1],
    }[derive](demand)
    out = keep_validated(demand, new, "demand", profiles)
    assert _already_validated(out, "demand", profiles) is kept
    # nothing marked when the frame it comes from was not validated
    raw = pd.read_csv(DATA / "west_demand.csv")
    assert not _already_validated(keep_validated(raw, raw[["lat"]], "demand", profiles),
                                  "demand", profiles)


def test_cli_reports_lat_lon_disagreeing_with_the_geometry_once(tmp_path):
    """The command line prints the log line (features, distance, fix) and not the short
    warning too (it printed both, two lines for one finding); a notebook gets the warning
    (test above)."""
    from helpers import run

    d = pd.DataFrame({"demand_id": ["a", "b"], "lat": [52.5, 48.1], "lon": [13.4, 12.0],
                      "population": [1000, 2000]})
    gpd.GeoDataFrame(d, geometry=gpd.points_from_xy([13.4, 11.6], d["lat"]),
                     crs="EPSG:4326").to_file(tmp_path / "d.gpkg")
    write(tmp_path / "c.csv", "site_id,lat,lon\ns1,52.5,13.4\ns2,48.1,11.6\n")
    r = run("plan", "--demand", tmp_path / "d.gpkg", "--candidates", tmp_path / "c.csv",
            "--budget-ms", 30, "--failures", 0, "--out", tmp_path / "out", "--no-map")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("differ from the geometry") == 1, r.stderr
    assert "features 2; up to 29.7 km" in r.stderr


def test_many_co_located_candidates_are_counted_without_building_every_pair(caplog):
    """20,000 candidates at one point: 199,990,000 pairs counted, only a few built."""
    n = 20_000
    with caplog.at_level(logging.WARNING, logger="coverage"):
        as_sites(pd.DataFrame({"lat": np.full(n, 45.0), "lon": np.full(n, 7.0)}))
    assert f"{n * (n - 1) // 2} candidate pairs are within 300 m" in caplog.text


def test_co_located_candidates_far_apart_in_the_file_are_named(caplog):
    """Tester 172: a candidate list with a re-id'd copy of itself appended warned "39
    candidate pairs are within 300 m of each other ( and 39 more)": the partners came
    after the first 20 flagged rows, where examples were looked for. Now three pairs are
    named and the rest counted."""
    n = 40
    lat = 40.0 + np.arange(n) * 0.5
    sites = pd.DataFrame({"site_id": [f"s{i}" for i in range(n)] + [f"c{i}" for i in range(n)],
                          "lat": np.r_[lat, lat], "lon": np.full(2 * n, 7.0)})
    with caplog.at_level(logging.WARNING, logger="coverage"):
        as_sites(sites)
    assert (f"{n} candidate pairs are within 300 m of each other ('s0' and 'c0' (0 m), "
            f"'s1' and 'c1' (0 m), 's2' and 'c2' (0 m) and {n - 3} more)") in caplog.text


def test_lat_lon_columns_that_disagree_with_the_geometry_are_reported(tmp_path, caplog):
    """The geometry is used; a stale lat/lon column (a point moved in a GIS) is named."""
    import warnings

    import geopandas as gpd

    from coverage.errors import CoverageWarning
    from coverage.inputs.tables import as_demand, read_demand

    d = pd.DataFrame({"demand_id": ["a", "b", "c"], "lat": [40.0, 41.0, 42.0],
                      "lon": [-8.0, -8.5, -9.0], "population": [10, 20, 30]})
    moved = gpd.GeoDataFrame(d, geometry=gpd.points_from_xy(d["lon"] + [0, 1.0, 0], d["lat"]),
                             crs="EPSG:4326")
    with pytest.warns(CoverageWarning, match="differ from the geometry on 1 feature"):
        out = as_demand(moved)
    assert out["lon"].tolist() == [-8.0, -7.5, -9.0]  # the geometry's
    moved.to_file(tmp_path / "d.gpkg")
    with caplog.at_level("WARNING"), pytest.warns(CoverageWarning):
        read_demand(tmp_path / "d.gpkg")
    assert "features 2; up to 83.9 km" in caplog.text
    same = gpd.GeoDataFrame(d, geometry=gpd.points_from_xy(d["lon"], d["lat"]),
                            crs="EPSG:4326").to_crs("EPSG:3857")
    with warnings.catch_warnings():
        warnings.simplefilter("error", CoverageWarning)
        as_demand(same)  # the same places in another CRS: nothing to say
        # x / y columns in metres (aliases of lon / lat) beside a projected geometry
        as_demand(same.drop(columns=["lat", "lon"]).assign(x=same.geometry.x,
                                                           y=same.geometry.y))
        # polygons with their centroid's columns: the point used lies inside, elsewhere
        as_demand(gpd.GeoDataFrame(d, geometry=gpd.points_from_xy(d["lon"], d["lat"]).buffer(
            0.5).translate(0.3, 0.0), crs="EPSG:4326"))


def test_the_validation_fingerprint_does_not_depend_on_the_chunks():
    """pandas' pickling joins an arrow column's chunks (a CSV read in blocks has several):
    the fingerprint hashed each chunk's length and offsets, so a pickled copy of such a
    frame was validated again (tests/test_io.py's pickling test failed when the read gave
    two chunks). Equal values, any chunking: one fingerprint; another value: another."""
    import pickle

    import pyarrow as pa

    from coverage.inputs.tables import _fingerprint

    demand = read_demand(DATA / "west_demand.csv")
    split = demand.copy()
    for col in ("demand_id", "name"):
        c = split[col]
        split[col] = pd.concat([c.iloc[:7], c.iloc[7:207], c.iloc[207:]], ignore_index=True)
        chunks = pa.chunked_array(split[col].array.__arrow_array__()).num_chunks
        assert chunks == 3 and split[col].dtype == demand[col].dtype  # the premise
    assert split.equals(demand)
    fp = _fingerprint(demand, "demand", None)
    assert _fingerprint(split, "demand", None) == fp
    assert _fingerprint(pickle.loads(pickle.dumps(split)), "demand", None) == fp
    changed = split.copy()
    changed.loc[3, "name"] = changed.loc[3, "name"] + "x"
    assert _fingerprint(changed, "demand", None) != fp
    moved = split.copy()  # the same bytes cut into other rows
    moved.loc[0, "name"], moved.loc[1, "name"] = (moved.loc[0, "name"] + moved.loc[1, "name"][:1],
                                                  moved.loc[1, "name"][1:])
    assert _fingerprint(moved, "demand", None) != fp


def test_a_latin1_geojson_names_its_bad_byte(tmp_path):
    """A GeoJSON in Latin-1 said "can't decode byte 0xe3 in position 1" (a position in
    some string of the parser's); it names the line and byte, and shows the text there."""
    path = tmp_path / "l1.geojson"
    path.write_bytes(
        b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        b'{"name":"S\xe3o Paulo","population":10},"geometry":{"type":"Point",'
        b'"coordinates":[-46.6,-23.5]}}]}')
    raises_with(read_demand, path, match=["not UTF-8", "line 1 (byte 81)",
                                          "S\u00e3o Paulo", "RFC 7946"])


@pytest.mark.parametrize("gz", [False, True])
def test_the_first_non_utf8_byte_is_found_across_block_boundaries(tmp_path, monkeypatch, gz):
    """Reviewer: the scanner showed a line cut at a block boundary, and counted the byte
    of a character begun in the block before from the wrong place. Every position of the
    bad byte against 16-byte blocks gives its line, its byte and its whole line; a .gz
    file's message says the byte is of the decompressed text."""
    import gzip as gzip_mod

    import coverage.inputs.tables as tables

    monkeypatch.setattr(tables, "_SCAN_BLOCK_BYTES", 16)
    for pad in range(0, 20):
        for bad in (b"M\xfcnchen", b"caf\xc3A"):  # Latin-1; a UTF-8 start cut off
            head = b"demand_id,lat,lon,population\n" + b"x" * pad + b",1,2,3\n"
            row = b"d1," + bad + b",2,3\n"
            data = head + row
            path = tmp_path / ("t.csv.gz" if gz else "t.csv")
            path.write_bytes(gzip_mod.compress(data) if gz else data)
            line, byte, text = tables._first_non_utf8(path, gz)
            want = len(head) + 3 + bad.index(b"\xfc" if b"\xfc" in bad else b"\xc3")
            assert (line, byte) == (3, want), (pad, bad)
            assert text == row.decode("cp1252").strip(), (pad, bad, text)
    where = "decompressed byte" if gz else "byte"
    with pytest.raises(InputValidationError, match=rf"line 3 \({where} \d+\)"):
        read_demand(path)


def test_points_at_lat_0_lon_0_are_named(tmp_path, caplog):
    """Tester 96: demand at (0, 0) exactly, where a geocoder puts a place it could not find,
    was read without a word. A warning names the rows; the rows are kept."""
    path = tmp_path / "d.csv"
    path.write_text("demand_id,lat,lon,population\na,50.1,8.6,100\nb,0,0,200\n"
                    "c,0.0,0.0,5\nd,0,8.6,7\n")
    with caplog.at_level(logging.WARNING, logger="coverage"):
        demand = read_demand(path)
    assert len(demand) == 4
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "2 rows (rows 2, 3) at latitude 0, longitude 0 exactly" in text
    caplog.clear()
    path.write_text("demand_id,lat,lon,population\na,50.1,8.6,100\nd,0,8.6,7\n")
    with caplog.at_level(logging.WARNING, logger="coverage"):
        read_demand(path)
    assert "longitude 0 exactly" not in " ".join(r.getMessage() for r in caplog.records)


def test_spreadsheet_and_binary_files_named_csv_get_their_own_message(tmp_path):
    """Tester 96: Excel's ``sep=,`` first line read as the header ("4 more fields"); a
    Parquet (gzip, xlsx) file named .csv was "a NUL byte: binary or corrupt"; ``;;;;`` rows
    at the end of an Excel export were four problems each. Each gets one message naming
    it and the fix; blank rows at the end are skipped (they hold nothing)."""
    good = "demand_id,lat,lon,population\na,50.1,8.6,100\nb,50.2,8.7,200\n"
    cases = {
        "sep.csv": ("sep=,\n" + good).encode(),
        "pq.csv": None,
        "gz.csv": gzip.compress(good.encode()),
        "x.csv": b"PK\x03\x04" + b"\x00" * 40,
    }
    buf = tmp_path / "t.parquet"
    pd.read_csv(pd.io.common.StringIO(good)).to_parquet(buf)
    cases["pq.csv"] = buf.read_bytes()
    cases["gj.csv"] = b'{"type": "FeatureCollection", "features": []}'
    want = {"gj.csv": "file is JSON (GeoJSON?), not comma-separated text",
            "sep.csv": "the first line is 'sep=,', Excel's hint naming the separator",
            "pq.csv": "file is a Parquet file, not comma-separated text. Fix: name it .parquet",
            "gz.csv": "file is gzip-compressed, not comma-separated text. Fix: name it .csv.gz",
            "x.csv": "file is a zip archive (an Excel .xlsx workbook is one)"}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(InputValidationError) as info:
            read_demand(path)
        assert want[name] in str(info.value) and "NUL" not in str(info.value), name
        assert str(info.value).count("\n  ") == 1, str(info.value)  # one problem
    tail = tmp_path / "tail.csv"
    tail.write_text(good + ",,,\n,,,\n")
    assert read_demand(tail)["demand_id"].tolist() == ["a", "b"]
    inner = tmp_path / "inner.csv"
    inner.write_text("demand_id,lat,lon,population\na,50.1,8.6,100\n,,,\n, ,,\n"
                     "b,50.2,8.7,200\n")
    with pytest.raises(InputValidationError) as info:
        read_demand(inner)
    text = str(info.value)
    assert "the row is empty" in text and "(rows 2, 3)" in text and "1 problem" in text
    # an Excel footer (an empty row, then a total line) is named in the same run
    footer = tmp_path / "footer.csv"
    footer.write_text(good + ",,,\nTotal,,,300\n")
    with pytest.raises(InputValidationError) as info:
        read_demand(footer)
    text = str(info.value)
    assert "2 problems" in text and "(row 3)" in text and "a total line?) (row 4)" in text


def test_a_symbolic_link_that_leads_nowhere_says_so(tmp_path):
    """Tester 96: an input that is a symbolic link loop was "file not found"."""
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(InputValidationError, match="a symbolic link that loops"):
        read_demand(tmp_path / "a")
    (tmp_path / "c").symlink_to(tmp_path / "nowhere.csv")
    with pytest.raises(InputValidationError,
                       match=r"a symbolic link to .*nowhere.csv, which does not exist"):
        read_demand(tmp_path / "c")


def test_geojson_ids_come_out_as_written(tmp_path):
    """Tester 100: GeoJSON ids 1, 2.5 and "3" (a float column once read) came out as 1.0,
    2.5 and 3.0, so the outputs no longer joined back to the file."""
    from coverage.inputs.tables import read_sites

    feats = [(1, 11.146, 45.367), (2.5, 12.024, 46.466), ("3", 11.034, 45.498)]
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"site_id": i},
         "geometry": {"type": "Point", "coordinates": [x, y]}} for i, x, y in feats]}
    path = tmp_path / "s.geojson"
    path.write_text(__import__("json").dumps(doc))
    assert read_sites(path)["site_id"].tolist() == ["1", "2.5", "3"]


def test_a_population_of_minus_zero_is_zero(tmp_path):
    """Tester 100: a population of -0 came out as -0.0 in assignment.csv."""
    path = tmp_path / "d.csv"
    path.write_text("demand_id,lat,lon,population\na,50,8,-0\nb,50.1,8,3\n")
    pop = read_demand(path)["population"].to_numpy()
    assert pop.tolist() == [0.0, 3.0] and not np.signbit(pop).any()


def test_a_population_with_dots_grouping_thousands_is_said(caplog):
    """Tester 182: '816.614' and '639.890' (thousands grouped with dots) were read as 816.6
    and 639.9 people without a word; a column of decimals keeps quiet."""
    from coverage.inputs.tables import as_demand

    base = pd.DataFrame({"demand_id": ["a", "b", "c"], "lat": [50.1, 50.2, 50.3],
                         "lon": [8.6, 8.7, 8.8]})
    with caplog.at_level("WARNING"):
        got = as_demand(base.assign(population=["816.614", "639.890", "512"]))
    assert got["population"].tolist() == [816.614, 639.89, 512.0]
    assert "look like thousands grouped with dots ('816.614', '639.890'" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        as_demand(base.assign(population=["12.5", "639.890", "7"]))  # a decimal: quiet
        as_demand(base.assign(population=["816.614", "639.891", "5120"]))  # 4 digits
    assert "grouped with dots" not in caplog.text


def test_dots_grouping_thousands_in_a_semicolon_file_are_said(tmp_path, caplog):
    """Tester 207: in a ';'-separated file (whose numbers may use decimal commas) a
    population of '32.890' was read as 32.89 people without a word (the same file with
    commas said so); and '1.650.070' refused named its row only, so fixing it left the
    others 1000 times too small."""
    rows = ["a;Silver Lake;34.08668;-118.27023;32.890", "b;Echo Park;34.07808;-118.26066;"
            "43.832", "c;Valley Glen;34.18568;-118.42032;60.000"]
    path = tmp_path / "d.csv"
    path.write_text("demand_id;name;lat;lon;population\n" + "\n".join(rows) + "\n")
    with caplog.at_level("WARNING"):
        got = read_demand(path)
    assert got["population"].tolist() == [32.89, 43.832, 60.0]
    assert "look like thousands grouped with dots ('32.890', '43.832', '60.000'" in caplog.text
    path.write_text("demand_id;name;lat;lon;population\n" + "\n".join(rows)
                    + "\nd;Encanto;33.47937;-112.07823;1.650.070\n")
    with pytest.raises(InputValidationError) as info:
        read_demand(path)
    text = str(info.value)
    assert "'1.650.070' (row 4)" in text
    assert "3 other value(s) of the column have dots that may group thousands too" in text
    assert "remove the dots from every value" in text
    # decimals of a ';' file keep quiet
    caplog.clear()
    path.write_text("demand_id;lat;lon;population\na;50,1;8,6;12,5\nb;50,2;8,7;7.25\n")
    with caplog.at_level("WARNING"):
        assert read_demand(path)["population"].tolist() == [12.5, 7.25]
    assert "grouped with dots" not in caplog.text


def test_ids_that_differ_only_in_spaces_are_said_so():
    """Tester 182: 'SiteA', ' SiteA' were refused as "duplicate site_id values 'SiteA'",
    without a word on the spaces that made them one."""
    from coverage.inputs.tables import as_sites

    sites = pd.DataFrame({"site_id": ["SiteA", " SiteA", "B"], "lat": [50.0, 51.0, 52.0],
                          "lon": [8.0, 9.0, 10.0]})
    with pytest.raises(InputValidationError, match="some differ only in spaces"):
        as_sites(sites)
    with pytest.raises(InputValidationError) as info:
        as_sites(sites.assign(site_id=["SiteA", "SiteA", "B"]))
    assert "spaces" not in str(info.value)
