"""Population rasters and H3 tables as demand (coverage.inputs.raster; real files, no mocks)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer

from coverage.errors import InputValidationError
from coverage.inputs.raster import read_population_raster
from coverage.inputs.tables import as_demand, read_demand, read_h3_population, read_sites

DATA = Path(__file__).resolve().parents[1] / "data"


def from_origin(west: float, north: float, xsize: float, ysize: float) -> Affine:
    """North-up geotransform (rasterio's from_origin, without its deprecated Affine mul)."""
    return Affine(xsize, 0.0, west, 0.0, -ysize, north)


def population_array(height: int, width: int, seed: int = 0, nodata: float = -99999.0):
    """Integer-valued float32 counts with zeros and nodata cells."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(1, 1000, size=(height, width)).astype(np.float32)
    arr[rng.random((height, width)) < 0.3] = 0.0
    arr[rng.random((height, width)) < 0.1] = nodata
    return arr


def write_raster(path: Path, arr, transform, crs="EPSG:4326", nodata=-99999.0, block=16):
    profile = dict(
        driver="GTiff",
        height=arr.shape[0],
        width=arr.shape[1],
        count=1,
        dtype=arr.dtype.name,
        transform=transform,
        nodata=nodata,
        tiled=True,
        blockxsize=block,
        blockysize=block,
    )
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr, 1)
    return path


def hand_centres(arr, transform, crs, nodata=-99999.0):
    """Expected demand by hand: transform @ (col + 0.5, row + 0.5), then pyproj."""
    rows, cols = np.nonzero((arr != nodata) & (arr > 0))
    xs = np.array([(transform @ (c + 0.5, r + 0.5))[0] for r, c in zip(rows, cols, strict=True)])
    ys = np.array([(transform @ (c + 0.5, r + 0.5))[1] for r, c in zip(rows, cols, strict=True)])
    lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform(xs, ys)
    ids = [f"r{r}_c{c}" for r, c in zip(rows, cols, strict=True)]
    return ids, np.asarray(lat), np.asarray(lon), arr[rows, cols].astype(np.float64)


@pytest.mark.parametrize(
    ("crs", "transform"),
    [
        ("EPSG:4326", from_origin(-10.0, 50.0, 0.25, 0.25)),
        ("EPSG:3035", from_origin(4_000_000.0, 3_200_000.0, 1000.0, 1000.0)),
        ("ESRI:54009", from_origin(500_000.0, 5_600_000.0, 1000.0, 1000.0)),
    ],
)
def test_raster_centres_total_and_dropped_cells(tmp_path, crs, transform, caplog):
    arr = population_array(40, 50)
    path = write_raster(tmp_path / "pop.tif", arr, transform, crs=crs)
    with caplog.at_level(logging.INFO, logger="coverage.inputs.raster"):
        df = read_population_raster(path, window_size=16)
    ids, lat, lon, pop = hand_centres(arr, transform, crs)
    assert df["demand_id"].tolist() == ids  # zero and nodata cells dropped, raster order
    np.testing.assert_allclose(df["lat"], lat, rtol=0, atol=1e-9)
    np.testing.assert_allclose(df["lon"], lon, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(df["population"].to_numpy(), pop)
    info = df.attrs["population_grid"]
    expected_total = float(arr[(arr != -99999.0)].astype(np.float64).sum())
    assert info["total_population"] == expected_total == df["population"].sum()
    assert info["cells_nodata"] == int((arr == -99999.0).sum())
    assert info["cells_zero"] == int((arr == 0).sum())
    assert info["cells_populated"] == len(df) == len(ids)
    assert info["windows"] == 3 * 4  # 40 x 50 in 16 x 16 windows
    assert "total population" in caplog.text


def test_windowed_reading_equals_whole_array_read(tmp_path):
    arr = population_array(45, 37, seed=3)
    transform = from_origin(4_000_000.0, 3_200_000.0, 100.0, 100.0)
    path = write_raster(tmp_path / "pop.tif", arr, transform, crs="EPSG:3035")
    whole = read_population_raster(path, window_size=10_000)
    assert whole.attrs["population_grid"]["windows"] == 1
    for size in (16, (7, 5), None):
        windowed = read_population_raster(path, window_size=size)
        pd.testing.assert_frame_equal(windowed, whole)
    assert (
        read_population_raster(path, window_size=(7, 5)).attrs["population_grid"]["windows"]
        == 7 * 8
    )


@pytest.mark.parametrize("factor", [2, 3, 7])
def test_aggregation_preserves_population_and_uses_block_centres(tmp_path, factor):
    arr = population_array(40, 50, seed=1)
    transform = from_origin(-10.0, 50.0, 0.25, 0.25)
    path = write_raster(tmp_path / "pop.tif", arr, transform)
    df = read_population_raster(path, aggregate=factor, window_size=16)
    whole = read_population_raster(path, aggregate=factor, window_size=10_000)
    pd.testing.assert_frame_equal(df, whole)
    vals = np.where(arr == -99999.0, 0.0, arr).astype(np.float64)
    total = vals.sum()
    assert df["population"].sum() == total == df.attrs["population_grid"]["total_population"]
    # Hand computation of each block: sum and centre of the block clipped to the raster.
    expected = {}
    for r0 in range(0, 40, factor):
        for c0 in range(0, 50, factor):
            s = vals[r0 : r0 + factor, c0 : c0 + factor].sum()
            if s > 0:
                r1, c1 = min(r0 + factor, 40), min(c0 + factor, 50)
                x, y = transform @ ((c0 + c1) / 2, (r0 + r1) / 2)
                expected[f"r{r0 // factor}_c{c0 // factor}"] = (y, x, s)
    assert df["demand_id"].tolist() == list(expected)
    got = df[["lat", "lon", "population"]].to_numpy()
    np.testing.assert_allclose(got, np.array(list(expected.values())), rtol=0, atol=1e-9)


def test_negative_and_nan_cells_need_a_nodata_value(tmp_path):
    arr = np.array([[5, -200, 0], [3, 2, -200]], dtype=np.float32)
    path = write_raster(tmp_path / "ghsl.tif", arr, from_origin(0, 10, 1, 1), nodata=None)
    with pytest.raises(InputValidationError) as info:
        read_population_raster(path)
    msg = str(info.value)
    assert "ghsl.tif" in msg and "2 cells hold a negative population" in msg
    assert "-200 at row 0, col 1" in msg and "nodata=VALUE" in msg and "Fix:" in msg
    df = read_population_raster(path, nodata=-200)
    assert df["demand_id"].tolist() == ["r0_c0", "r1_c0", "r1_c1"]
    assert df.attrs["population_grid"]["total_population"] == 10.0

    nan_arr = np.array([[1, np.nan], [2, 3]], dtype=np.float32)
    nan_path = write_raster(tmp_path / "nan.tif", nan_arr, from_origin(0, 10, 1, 1), nodata=None)
    with pytest.raises(InputValidationError, match="NaN is not the raster's nodata"):
        read_population_raster(nan_path)
    assert read_population_raster(nan_path, nodata=float("nan"))["population"].sum() == 6.0
    declared = write_raster(
        tmp_path / "nan2.tif", nan_arr, from_origin(0, 10, 1, 1), nodata=float("nan")
    )
    assert len(read_population_raster(declared)) == 3


def test_missing_crs_is_an_error_naming_the_fix(tmp_path):
    arr = np.ones((4, 4), dtype=np.float32)
    path = write_raster(tmp_path / "nocrs.tif", arr, from_origin(-120, 40, 1, 1), crs=None)
    with pytest.raises(InputValidationError) as info:
        read_population_raster(path)
    msg = str(info.value)
    assert "nocrs.tif" in msg and "no CRS" in msg and "crs='EPSG:4326'" in msg
    assert "--demand-crs" not in msg  # the API's caller is told the API's keyword
    df = read_population_raster(path, crs="EPSG:4326")
    assert len(df) == 16 and df["lat"].max() == 39.5


def test_a_degree_raster_declared_projected_is_refused(tmp_path):
    """A raster without a CRS in degrees, read with a projected CRS: its extent lies within
    360 m of EPSG:3857's origin, off lat 0 / lon 0 (it was planned there, in the Gulf of
    Guinea); a CSV already got this check. The same extent in the file's own CRS too."""
    arr = np.ones((4, 4), dtype=np.float32)
    path = write_raster(tmp_path / "deg.tif", arr, from_origin(5.0, 47.0, 0.5, 0.5), crs=None)
    with pytest.raises(InputValidationError) as info:
        read_population_raster(path, crs="EPSG:3857")
    msg = str(info.value)
    assert "deg.tif" in msg and "looks like degrees, not EPSG:3857 metres" in msg
    assert "crs='EPSG:4326'" in msg
    with pytest.raises(InputValidationError, match="--demand-crs EPSG:4326"):
        read_demand(path, crs="EPSG:3857")
    own = write_raster(tmp_path / "own.tif", arr, from_origin(5.0, 47.0, 0.5, 0.5),
                       crs="EPSG:3857")
    with pytest.raises(InputValidationError, match="the file's CRS is wrong"):
        read_population_raster(own)
    # a raster in metres is read (1 km cells off the origin, where 3857 metres start)
    metres = write_raster(tmp_path / "m.tif", arr, from_origin(560_000.0, 5_950_000.0, 1000.0,
                                                               1000.0), crs="EPSG:3857")
    assert len(read_population_raster(metres)) == 16


def test_a_metre_raster_declared_in_degrees_says_so(tmp_path):
    """A raster without a CRS in metres read as EPSG:4326: the message said "cannot be
    transformed from EPSG:4326 to EPSG:4326"; it now says the numbers are not degrees."""
    arr = np.ones((4, 4), dtype=np.float32)
    path = write_raster(tmp_path / "m.tif", arr, from_origin(560_000.0, 5_950_000.0, 1000.0,
                                                             1000.0), crs=None)
    with pytest.raises(InputValidationError) as info:
        read_demand(path, crs="EPSG:4326")
    msg = str(info.value)
    assert "beyond latitude +-90 or longitude +-540 degrees" in msg
    assert "not EPSG:4326 degrees" in msg
    assert "EPSG:4326 to EPSG:4326" not in msg
    assert "--demand-crs ESRI:54009" in msg


def test_bad_arguments_and_files(tmp_path):
    arr = np.ones((4, 4), dtype=np.float32)
    path = write_raster(tmp_path / "p.tif", arr, from_origin(-120, 40, 1, 1))
    with pytest.raises(InputValidationError, match="band 2 does not exist"):
        read_population_raster(path, band=2)
    with pytest.raises(InputValidationError, match="aggregate=0"):
        read_population_raster(path, aggregate=0)
    empty = write_raster(tmp_path / "zeros.tif", arr * 0, from_origin(-120, 40, 1, 1))
    with pytest.raises(InputValidationError, match="no cell holds population > 0"):
        read_population_raster(empty)
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"not a tiff at all")
    with pytest.raises(InputValidationError, match="cannot read the raster"):
        read_population_raster(junk)


def test_read_demand_dispatches_rasters(tmp_path):
    arr = population_array(20, 20, seed=5)
    transform = from_origin(-10.0, 50.0, 0.5, 0.5)
    path = write_raster(tmp_path / "pop.tiff", arr, transform)
    pd.testing.assert_frame_equal(read_demand(path), read_population_raster(path))


# --------------------------------------------------------------------------------------
# H3 tables
# --------------------------------------------------------------------------------------


def h3_table(res: int = 8) -> pd.DataFrame:
    pts = [(37.7749, -122.4194), (34.0522, -118.2437), (47.6062, -122.3321), (45.5, -122.7)]
    cells = [h3.latlng_to_cell(lat, lon, res) for lat, lon in pts]
    return pd.DataFrame({"h3": cells, "population": [120.0, 0.0, 35.5, 7.0]})


def check_h3_demand(df: pd.DataFrame, table: pd.DataFrame) -> None:
    assert df["demand_id"].tolist() == table["h3"].tolist()
    centres = np.array([h3.cell_to_latlng(c) for c in table["h3"]])
    np.testing.assert_allclose(df["lat"], centres[:, 0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(df["lon"], centres[:, 1], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(df["population"], table["population"])
    assert df.attrs["population_grid"]["total_population"] == table["population"].sum()


def test_h3_csv(tmp_path):
    table = h3_table()
    path = tmp_path / "kontur.csv"
    table.assign(h3=table["h3"].str.upper()).to_csv(path, index=False)
    check_h3_demand(read_h3_population(path), table)
    check_h3_demand(read_demand(path), table)


def test_h3_geopackage_uses_cell_centres_not_the_hexagons(tmp_path):
    table = h3_table(res=6)
    hexes = [
        shapely.Polygon([(lon, lat) for lat, lon in h3.cell_to_boundary(c)]) for c in table["h3"]
    ]
    gdf = gpd.GeoDataFrame(table, geometry=hexes, crs=4326).to_crs(3857)  # Kontur: 3857
    path = tmp_path / "kontur_population.gpkg"
    gdf.to_file(path, driver="GPKG")
    df = read_demand(path)
    check_h3_demand(df, table)
    assert "geometry" not in df.columns


def test_h3_validation(tmp_path):
    table = h3_table()
    table.loc[1, "h3"] = "not-a-cell"
    table.loc[2, "population"] = -5
    table.loc[3, "population"] = np.nan
    path = tmp_path / "bad.csv"
    table.to_csv(path, index=False)
    with pytest.raises(InputValidationError) as info:
        read_demand(path)
    msg = str(info.value)
    assert "bad.csv" in msg and "3 problems" in msg
    assert "not valid H3 cell ids" in msg and "'not-a-cell'" in msg and "row 2" in msg
    assert "population is negative (row 3)" in msg
    assert "population is missing/empty (NaN) in column 'population' (row 4)" in msg
    dup = h3_table()
    dup.loc[1, "h3"] = dup.loc[0, "h3"]
    dup.to_csv(path, index=False)
    with pytest.raises(InputValidationError, match="duplicate H3 cells.*Fix: merge"):
        read_h3_population(path)
    pd.DataFrame({"h3": ["8828308281fffff"], "people": [3]}).to_csv(path, index=False)
    with pytest.raises(InputValidationError, match="missing column"):
        read_h3_population(path)


# --------------------------------------------------------------------------------------
# End to end
# --------------------------------------------------------------------------------------


def test_raster_over_us_west_plans_end_to_end(tmp_path):
    from coverage.planner.plan import plan_sites

    rng = np.random.default_rng(7)
    arr = rng.integers(0, 5000, size=(32, 26)).astype(np.float32)  # 0.5 degree cells
    arr[rng.random(arr.shape) < 0.2] = -99999.0
    transform = from_origin(-124.0, 48.0, 0.5, 0.5)  # 124W-111W, 32N-48N
    path = write_raster(tmp_path / "west.tif", arr, transform)
    demand = read_population_raster(path, aggregate=2, window_size=16)
    sites = read_sites(DATA / "west_candidates.csv")
    plan = plan_sites(demand, sites, budget_ms=30, kmedian_time_limit_s=5)
    summary = plan.summary()
    total = float(np.where(arr == -99999.0, 0, arr).astype(np.float64).sum())
    assert summary["population_total"] == pytest.approx(total, rel=1e-12)
    assert summary["site_count"] >= 2
    assert len(plan.assignment) == len(demand)


def test_cli_plans_from_a_raster_and_rejects_one_without_crs(tmp_path, capsys):
    from coverage.cli import main

    rng = np.random.default_rng(11)
    arr = rng.integers(0, 3000, size=(16, 13)).astype(np.float32)
    path = write_raster(tmp_path / "west.tif", arr, from_origin(-124.0, 48.0, 1.0, 1.0))
    out = tmp_path / "out"
    argv = ["plan", "--demand", str(path), "--candidates", str(DATA / "west_candidates.csv")]
    argv += ["--budget-ms", "30", "--out", str(out), "--no-report", "--no-gis"]
    assert main(argv + ["--kmedian-time-limit-s", "5"]) == 0
    assignment = pd.read_csv(out / "assignment.csv")
    assert assignment["population"].sum() == float(arr.astype(np.float64).sum())

    bad = write_raster(tmp_path / "nocrs.tif", arr, from_origin(-124.0, 48.0, 1.0, 1.0), crs=None)
    argv[2] = str(bad)
    argv[argv.index(str(out))] = str(tmp_path / "out2")
    assert main(argv) == 2
    assert "no CRS" in capsys.readouterr().err
    assert not (tmp_path / "out2").exists()


def test_integer_striped_raster_with_default_windows(tmp_path):
    arr = np.array([[0, 7, 65535], [4, 0, 1]], dtype=np.uint16)
    profile = dict(driver="GTiff", height=2, width=3, count=1, dtype="uint16", nodata=65535)
    path = tmp_path / "worldpop.tif"
    with rasterio.open(path, "w", crs="EPSG:4326", transform=from_origin(10, 50, 1, 1), **profile):
        pass
    with rasterio.open(path, "r+") as dst:
        dst.write(arr, 1)
    df = read_population_raster(path)
    assert df["demand_id"].tolist() == ["r0_c1", "r1_c0", "r1_c2"]
    np.testing.assert_array_equal(df["population"], [7.0, 4.0, 1.0])
    np.testing.assert_allclose(df[["lon", "lat"]], [[11.5, 49.5], [10.5, 48.5], [12.5, 48.5]])


def test_h3_access_column_is_kept_and_checked(tmp_path):
    table = h3_table().assign(access=["ftth", "LTE", "cable", "dsl"])
    path = tmp_path / "kontur_access.csv"
    table.to_csv(path, index=False)
    assert read_demand(path)["access"].tolist() == ["ftth", "lte", "cable", "dsl"]
    table.assign(access=["ftth", "pigeon", "cable", "dsl"]).to_csv(path, index=False)
    with pytest.raises(InputValidationError, match="unknown access values 'pigeon'"):
        read_demand(path)


def test_raster_demand_is_in_the_canonical_io_form(tmp_path):
    arr = population_array(20, 30, seed=9)
    path = write_raster(tmp_path / "pop.tif", arr, from_origin(-10.0, 50.0, 0.5, 0.5))
    df = read_population_raster(path)
    pd.testing.assert_frame_equal(as_demand(df), df)
    assert df["demand_id"].map(type).eq(str).all() and df["name"].equals(df["demand_id"])


def test_float32_nodata_at_the_float32_limit(tmp_path):
    # WorldPop style: nodata is float32's lowest value, written as a decimal tag.
    nd = float(np.finfo(np.float32).min)
    arr = np.array([[nd, 2.5], [0.0, 4.0]], dtype=np.float32)
    path = write_raster(tmp_path / "wp.tif", arr, from_origin(0, 10, 1, 1), nodata=nd)
    df = read_population_raster(path)
    assert df["demand_id"].tolist() == ["r0_c1", "r1_c1"]
    assert df.attrs["population_grid"]["cells_nodata"] == 1


def test_a_truncated_raster_is_refused_naming_the_file(tmp_path):
    """A GeoTIFF cut short opens (its header is whole) and fails when its cells are read:
    one validation error naming the file (it was an internal error)."""
    arr = population_array(256, 256)
    path = write_raster(tmp_path / "whole.tif", arr, from_origin(13.0, 52.6, 0.01, 0.01))
    data = path.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(InputValidationError, match="(?s)cut.tif.*truncated") as raised:
        read_population_raster(cut)
    assert "cannot read" in str(raised.value)


def test_h3_cells_nested_in_coarser_cells_are_refused(tmp_path):
    """A cell and its parent in one table counted the child's people twice (7,000 + 1,000
    for 7,000 people): refused, naming the rows."""
    parent = h3.latlng_to_cell(52.5, 13.4, 6)
    child = h3.cell_to_children(parent, 7)[1]
    grandchild = h3.cell_to_children(child, 9)[0]
    other = h3.latlng_to_cell(48.1, 11.6, 7)  # elsewhere: fine
    p = tmp_path / "nested.csv"
    pd.DataFrame({"h3": [parent, child, other, grandchild],
                  "population": [7000, 1000, 50, 10]}).to_csv(p, index=False)
    with pytest.raises(InputValidationError, match="inside coarser cells") as raised:
        read_demand(p)
    assert "rows 2, 4" in str(raised.value)
    ok = tmp_path / "ok.csv"
    pd.DataFrame({"h3": [parent, other], "population": [7000, 50]}).to_csv(ok, index=False)
    assert read_demand(ok)["population"].sum() == 7050


def test_a_compacted_h3_table_is_read_once_per_person(tmp_path):
    """``h3.compact_cells`` divides an area by H3 parentage into cells of several
    resolutions: one count of each person. A check of where each cell's centre lies
    (H3 is not nested geometrically) refused 25 of such a table's 733 cells (review 140);
    the overlap check follows parentage."""
    fine = h3.grid_disk(h3.latlng_to_cell(50.85, 4.35, 9), 40)
    packed = h3.compact_cells(fine)
    assert len({h3.get_resolution(c) for c in packed}) > 2
    p = tmp_path / "compact.csv"
    pop = [10.0 * 7 ** (9 - h3.get_resolution(c)) for c in packed]
    pd.DataFrame({"h3": packed, "population": pop}).to_csv(p, index=False)
    got = read_demand(p)
    assert len(got) == len(packed) and got["population"].sum() == 10.0 * len(fine)


def test_h3_ids_are_made_canonical_before_the_duplicate_check(tmp_path):
    """'0871f...' and '0x871F...' are the cell '871f...' to h3: one id, so three spellings
    of a cell are duplicates (they were three demand points), and the id is canonical."""
    cell = h3.latlng_to_cell(52.5, 13.4, 7)
    p = tmp_path / "spellings.csv"
    pd.DataFrame({"h3": [cell, "0" + cell, "0x" + cell.upper()],
                  "population": [100, 100, 100]}).to_csv(p, index=False)
    with pytest.raises(InputValidationError, match="duplicate.*rows 1, 2, 3"):
        read_demand(p)
    q = tmp_path / "one.csv"
    pd.DataFrame({"h3": ["0x" + cell.upper()], "population": [5]}).to_csv(q, index=False)
    assert list(read_demand(q)["demand_id"]) == [cell]


def test_a_cell_above_the_world_population_is_named_by_its_cell(tmp_path):
    """The error named "row 12" (the 12th populated cell, a row of no file the user has);
    it names the raster cell."""
    arr = np.ones((4, 4), dtype=np.float64)
    arr[2, 3] = 1e13
    path = write_raster(tmp_path / "big.tif", arr, from_origin(5.0, 47.0, 0.5, 0.5))
    with pytest.raises(InputValidationError) as info:
        read_demand(path)
    msg = str(info.value)
    assert "big.tif" in msg and "1 cell holds more than 1e+10 people" in msg
    assert "r2_c3: 1e+13" in msg and "row 12" not in msg


@pytest.mark.parametrize("crs, phrase", [
    ('LOCAL_CS["a",UNIT["metre",1],AXIS["X",EAST],AXIS["Y",NORTH]]',
     "is an Engineering CRS, not latitude/longitude or a map projection"),
    ("EPSG:4978", "is geocentric (3-D X/Y/Z metres from the Earth's centre)"),
    ("IAU_2015:49900", "cannot be transformed to latitude and longitude"),
])
def test_a_raster_crs_off_the_earths_map_is_refused(tmp_path, crs, phrase):
    """An engineering, geocentric or other body's CRS: PROJ's "Error creating
    Transformer" came out as an internal error, and a geocentric raster was read onto the
    equator (tester 146). One message naming the CRS kind, the file's or the option's."""
    from pyproj import CRS

    arr = np.ones((4, 4), dtype=np.float32)
    own = write_raster(tmp_path / "own.tif", arr, from_origin(4.0, 51.0, 0.01, 0.01),
                       crs=CRS.from_user_input(crs))
    with pytest.raises(InputValidationError, match=re.escape(phrase)) as info:
        read_population_raster(own)
    assert "gdalwarp -t_srs EPSG:4326" in str(info.value)
    assert "You may override" not in str(info.value)
    bare = write_raster(tmp_path / "bare.tif", arr, from_origin(4.0, 51.0, 0.01, 0.01),
                        crs=None)
    with pytest.raises(InputValidationError, match=re.escape(phrase)):
        read_demand(bare, crs=crs)


@pytest.mark.parametrize("west", [10_084.0, -600.0])
def test_a_degree_raster_far_past_360_is_refused(tmp_path, west):
    """A degree raster at longitude 10,084 was wrapped 28 turns onto Belgium without a word
    (tester 146); a 0-360 grid is read as it is, also across 360 (review 140)."""
    arr = np.ones((4, 4), dtype=np.float32)
    far = write_raster(tmp_path / "far.tif", arr, from_origin(west, 51.0, 0.1, 0.1))
    with pytest.raises(InputValidationError, match=r"longitude \+-540 degrees"):
        read_population_raster(far)
    east = write_raster(tmp_path / "east.tif", arr, from_origin(358.0, 51.0, 1.0, 1.0))
    got = read_population_raster(east)
    assert len(got) == 16 and got["population"].sum() == 16.0


def test_a_layer_given_for_a_raster_is_refused(tmp_path):
    """``--demand-layer`` with a GeoTIFF was ignored (a CSV's is refused; tester 146)."""
    arr = np.ones((4, 4), dtype=np.float32)
    path = write_raster(tmp_path / "p.tif", arr, from_origin(4.0, 51.0, 0.1, 0.1))
    with pytest.raises(InputValidationError, match="a GeoTIFF has no layers"):
        read_demand(path, layer="people")
    assert len(read_demand(path)) == 16


@pytest.mark.parametrize("cut", [220, 300, 386])
def test_a_geotiff_cut_inside_its_header_is_called_truncated(tmp_path, cut, capfd):
    """A GeoTIFF cut inside its header tags opens without its CRS: the message said to
    assign a CRS, and only then that the file is truncated; GDAL's warnings reached stderr
    (tester 146)."""
    arr = np.ones((40, 40), dtype=np.float32)
    whole = write_raster(tmp_path / "whole.tif", arr, from_origin(4.0, 51.0, 0.01, 0.01))
    cut_path = tmp_path / "cut.tif"
    cut_path.write_bytes(whole.read_bytes()[:cut])
    with pytest.raises(InputValidationError, match="truncated or corrupt") as info:
        read_demand(cut_path)
    assert "no CRS" not in str(info.value)
    assert "Warning 1" not in capfd.readouterr().err


@pytest.mark.parametrize("kind, suffix, phrase", [
    ("demand", ".asc", "gdal_translate -of GTiff in.asc out.tif"),
    ("sites", ".tif", "candidate sites are a table of points, not a raster")])
def test_a_raster_where_it_is_not_read_is_named(tmp_path, kind, suffix, phrase):
    """Other raster formats were "unsupported" with a list that left out GeoTIFF, and a
    GeoTIFF as the candidates got the same (tester 146)."""
    from coverage.inputs.tables import read_sites

    path = tmp_path / f"pop{suffix}"
    if suffix == ".tif":
        write_raster(path, np.ones((4, 4), dtype=np.float32), from_origin(4.0, 51.0, 0.1, 0.1))
    else:
        path.write_text("ncols 2\nnrows 2\nxllcorner 4\nyllcorner 51\ncellsize 0.1\n"
                        "1 2\n3 4\n")
    reader = read_demand if kind == "demand" else read_sites
    with pytest.raises(InputValidationError, match=re.escape(phrase)) as info:
        reader(path)
    assert ("and .tif/.tiff for a population raster" in str(info.value)) == (kind == "demand")
    assert "It might help" not in str(info.value)
