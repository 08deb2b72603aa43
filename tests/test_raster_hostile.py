"""Hostile population rasters and H3 tables (an audit's findings): scale/offset, bands,
declared size, GDAL's cache, large aggregate factors, files that are no GeoTIFF, control
points, H3 duplicates and all-zero tables, and the words of the messages and the log."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import h3
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning

import coverage.inputs.raster as raster
from coverage.errors import InputValidationError
from coverage.inputs.raster import read_population_raster
from coverage.inputs.tables import read_demand, read_h3_population

NORTH_UP = Affine(0.05, 0.0, 9.0, 0.0, -0.05, 53.0)  # 0.05 degree cells from 9 E, 53 N


def write(path: Path, arr: np.ndarray, transform: Affine | None = NORTH_UP,
          crs: str | None = "EPSG:4326", **profile) -> Path:
    """A GeoTIFF of ``arr`` (2-D: one band; 3-D: bands first)."""
    arr = arr if arr.ndim == 3 else arr[None]
    meta = dict(driver="GTiff", count=arr.shape[0], height=arr.shape[1], width=arr.shape[2],
                dtype=arr.dtype.name)
    if transform is not None:
        meta["transform"] = transform
    if crs is not None:
        meta["crs"] = crs
    meta.update(profile)
    with rasterio.open(path, "w", **meta) as dst:
        dst.write(arr)
    return path


def counts(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Whole-number float32 counts, about a third of them 0."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(1, 500, size=(height, width)).astype(np.float32)
    arr[rng.random((height, width)) < 0.3] = 0.0
    return arr


# ---- 1. scale and offset


def test_scale_and_offset_are_applied_after_the_nodata_test(tmp_path, caplog):
    """An int32 raster of hundredths of people (scale 0.01) was read as 100x the people;
    nodata is a stored value: -1 stored is nodata, not -0.01 people."""
    stored = np.array([[250, -1, 0], [100, 7, -1]], dtype=np.int32)
    path = write(tmp_path / "hundredths.tif", stored, nodata=-1)
    with rasterio.open(path, "r+") as dst:
        dst.scales = (0.01,)
        dst.offsets = (0.0,)
    with caplog.at_level(logging.INFO, logger="coverage.inputs.raster"):
        df = read_population_raster(path)
    assert df["demand_id"].tolist() == ["r0_c0", "r1_c0", "r1_c1"]
    np.testing.assert_allclose(df["population"], [2.5, 1.0, 0.07])
    grid = df.attrs["population_grid"]
    assert grid["cells_nodata"] == 2 and grid["scale"] == 0.01 and grid["offset"] == 0.0
    assert "scale 0.01" in caplog.text

    # with an offset, the nodata cells (stored 0) are not offset into people
    stored = np.array([[0, 4], [2, 0]], dtype=np.int16)
    path = write(tmp_path / "offset.tif", stored, nodata=0)
    with rasterio.open(path, "r+") as dst:
        dst.scales = (0.5,)
        dst.offsets = (10.0,)
    df = read_population_raster(path)
    assert df["demand_id"].tolist() == ["r0_c1", "r1_c0"]
    np.testing.assert_allclose(df["population"], [12.0, 11.0])


def test_a_scale_of_zero_is_refused(tmp_path):
    path = write(tmp_path / "zero_scale.tif", np.ones((2, 2), dtype=np.int32))
    with rasterio.open(path, "r+") as dst:
        dst.scales = (0.0,)
    with pytest.raises(InputValidationError, match="(?s)zero_scale.tif.*scale 0.*gdal_edit"):
        read_population_raster(path)


# ---- 2. bands


def test_several_bands_are_refused_unless_one_is_chosen(tmp_path):
    stack = np.stack([counts(4, 5, seed) for seed in range(3)])
    path = write(tmp_path / "stack.tif", stack)
    with pytest.raises(InputValidationError) as info:
        read_population_raster(path)
    msg = str(info.value)
    assert "stack.tif" in msg and "3 bands" in msg
    assert "gdal_translate -b N stack.tif" in msg and "band=N" in msg
    with pytest.raises(InputValidationError) as info:
        read_population_raster(path, option_style="cli")  # the CLI has no band option
    assert "gdal_translate -b N" in str(info.value) and "band=" not in str(info.value)
    second = read_population_raster(path, band=2)
    assert second["population"].sum() == float(stack[1].astype(np.float64).sum())
    assert second.attrs["population_grid"]["band"] == 2


def test_an_rgba_image_is_refused_naming_its_colours(tmp_path):
    rgba = np.random.default_rng(3).integers(0, 255, (4, 6, 6)).astype(np.uint8)
    path = write(tmp_path / "photo.tif", rgba, photometric="RGB", alpha="YES")
    with pytest.raises(InputValidationError, match=r"(?s)photo.tif.*4 bands.*red, green, "
                                                   r"blue, alpha.*RGB\(A\) image"):
        read_population_raster(path)


def test_a_single_palette_band_is_read_with_a_warning(tmp_path, caplog):
    path = write(tmp_path / "classes.tif", np.full((3, 3), 2, dtype=np.uint8))
    with rasterio.open(path, "r+") as dst:
        dst.write_colormap(1, {0: (0, 0, 0, 255), 2: (255, 0, 0, 255)})
    with caplog.at_level(logging.WARNING, logger="coverage.inputs.raster"):
        df = read_population_raster(path)
    assert len(df) == 9
    assert "palette colour band" in caplog.text


def test_band_is_checked(tmp_path):
    path = write(tmp_path / "one.tif", counts(3, 3))
    with pytest.raises(InputValidationError, match="band 2 does not exist.*1 band\\)"):
        read_population_raster(path, band=2)
    with pytest.raises(InputValidationError, match="band True does not exist"):
        read_population_raster(path, band=True)


# ---- 3. declared size and progress


def test_a_raster_above_the_cell_limit_is_refused_at_once(tmp_path):
    """A sparse 200,000 x 200,000 raster (4e10 cells) would be read for hours."""
    path = tmp_path / "huge.tif"
    with rasterio.open(path, "w", driver="GTiff", width=200_000, height=200_000, count=1,
                       dtype="float32", crs="EPSG:3035", nodata=-200, tiled=True,
                       blockxsize=1024, blockysize=1024, sparse_ok=True, BIGTIFF="YES",
                       transform=Affine(100, 0, 4e6, 0, -100, 3.6e6)) as dst:
        dst.write(np.full((1024, 1024), 10, np.float32), 1,
                  window=rasterio.windows.Window(0, 0, 1024, 1024))
    with pytest.raises(InputValidationError) as info:
        read_population_raster(path)
    msg = str(info.value)
    assert "huge.tif" in msg and "200,000 x 200,000 cells" in msg and "2e+10" in msg
    assert "gdal_translate -projwin" in msg and "gdalwarp -r sum -tr 1000 1000" in msg


def test_the_limit_applies_whatever_the_content(tmp_path, monkeypatch):
    monkeypatch.setattr(raster, "MAX_RASTER_CELLS", 100, raising=False)
    path = write(tmp_path / "small.tif", counts(11, 10))
    with pytest.raises(InputValidationError, match="11 x 10 cells"):
        read_population_raster(path)


def test_long_reads_log_their_progress(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(raster, "_PROGRESS_SECONDS", 0.0, raising=False)
    path = write(tmp_path / "p.tif", counts(20, 20))
    with caplog.at_level(logging.INFO, logger="coverage.inputs.raster"):
        read_population_raster(path, window_size=10)
    progress = [r.getMessage() for r in caplog.records if "% read" in r.getMessage()]
    assert progress and "25 % read (1 window of 4" in progress[0]
    caplog.clear()
    monkeypatch.setattr(raster, "_MAX_WINDOW_CELLS", 100, raising=False)
    with caplog.at_level(logging.INFO, logger="coverage.inputs.raster"):  # in pieces too
        read_population_raster(path, aggregate=20, window_size=8)
    assert any("% read" in r.getMessage() for r in caplog.records)


# ---- 4. GDAL's block cache


def test_cells_are_read_with_a_small_gdal_cache(tmp_path, monkeypatch):
    seen = []
    original = raster._window_population

    def spy(*args, **kwargs):
        seen.append(rasterio.env.get_gdal_config("GDAL_CACHEMAX"))
        return original(*args, **kwargs)

    monkeypatch.setattr(raster, "_window_population", spy)
    read_population_raster(write(tmp_path / "p.tif", counts(8, 8)), window_size=4)
    assert len(seen) == 4 and all(int(v) <= 256 for v in seen)


def test_striped_rasters_are_read_in_whole_strips(tmp_path):
    """Each strip is one block: windows of 1024 columns decoded every strip once per
    window across (a small cache cannot hold them)."""
    arr = counts(6, 3000, seed=5)
    path = write(tmp_path / "strips.tif", arr, Affine(0.001, 0, 9.0, 0, -0.001, 53.0),
                 blockysize=1)
    df = read_population_raster(path)
    assert df.attrs["population_grid"]["window_shape"][1] == 3000
    assert df["population"].sum() == float(arr.astype(np.float64).sum())


# ---- 5. large aggregate factors


def block_sums(arr: np.ndarray, f: int) -> np.ndarray:
    h, w = arr.shape
    pad = np.zeros((-(-h // f) * f, -(-w // f) * f))
    pad[:h, :w] = arr
    return pad.reshape(pad.shape[0] // f, f, pad.shape[1] // f, f).sum(axis=(1, 3))


def test_window_memory_does_not_grow_with_the_factor(tmp_path, monkeypatch):
    """A factor's blocks above the window budget are read in pieces and summed: the
    same table, windows no larger than asked for."""
    arr = counts(61, 47, seed=8)
    path = write(tmp_path / "p.tif", arr)
    expected = read_population_raster(path, aggregate=25)
    sums = block_sums(arr.astype(np.float64), 25)
    np.testing.assert_allclose(expected["population"], sums[sums > 0])

    shapes = []
    original = raster._window_population

    def spy(src, band, win, *args, **kwargs):
        shapes.append((int(win.height), int(win.width)))
        return original(src, band, win, *args, **kwargs)

    monkeypatch.setattr(raster, "_window_population", spy)
    monkeypatch.setattr(raster, "_MAX_WINDOW_CELLS", 100, raising=False)
    pieces = read_population_raster(path, aggregate=25, window_size=8)
    assert max(h * w for h, w in shapes) <= 64
    pd.testing.assert_frame_equal(pieces[["demand_id", "lat", "lon"]],
                                  expected[["demand_id", "lat", "lon"]])
    np.testing.assert_allclose(pieces["population"], expected["population"], rtol=1e-12)


def test_an_aggregate_above_the_raster_size_is_one_block(tmp_path, caplog):
    """aggregate=100000 on a 40 x 60 raster asked numpy for 74.5 GiB."""
    arr = counts(40, 60, seed=2)
    path = write(tmp_path / "p.tif", arr)
    with caplog.at_level(logging.WARNING, logger="coverage.inputs.raster"):
        df = read_population_raster(path, aggregate=100_000)
    assert "aggregate=100000 is larger than the raster" in caplog.text
    pd.testing.assert_frame_equal(df, read_population_raster(path, aggregate=60))
    assert df["demand_id"].tolist() == ["r0_c0"]
    assert df.attrs["population_grid"]["aggregate"] == 60


# ---- 6, 7. files that are no GeoTIFF, control points


def test_a_table_named_tif_is_said_to_be_text(tmp_path):
    path = tmp_path / "people.tif"
    path.write_text("lat,lon,population\n52.5,13.4,1000\n")
    with pytest.raises(InputValidationError) as info:
        read_population_raster(path)
    msg = str(info.value)
    assert "people.tif" in msg and "not a GeoTIFF" in msg and "looks like text" in msg
    assert "rename it to people.csv" in msg and "X spacing" not in msg


def test_binary_and_empty_files_are_said_not_to_be_geotiffs(tmp_path):
    png = tmp_path / "map.tif"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(InputValidationError, match="not a GeoTIFF.*PNG"):
        read_population_raster(png)
    empty = tmp_path / "empty.tif"
    empty.write_bytes(b"")
    with pytest.raises(InputValidationError, match=r"empty \(0 bytes\)"):
        read_population_raster(empty)


def test_a_raster_placed_by_control_points_only_is_told_to_rectify(tmp_path):
    path = tmp_path / "scan.tif"
    with warnings.catch_warnings():  # no geotransform until the control points are set
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1,
                           dtype="float32") as dst:
            dst.write(counts(4, 4), 1)
            dst.gcps = ([GroundControlPoint(0, 0, 9.0, 53.0),
                         GroundControlPoint(0, 4, 10.0, 53.0),
                         GroundControlPoint(4, 0, 9.0, 52.0)], CRS.from_epsg(4326))
    with pytest.raises(InputValidationError) as info:
        read_population_raster(path, option_style="cli")
    msg = str(info.value)
    assert "3 ground control points only" in msg and "gdalwarp -r sum scan.tif" in msg
    assert "--demand-crs" not in msg and "1 problem" in msg


# ---- 9. words


def test_a_truncated_raster_says_so_in_plain_words(tmp_path):
    arr = counts(256, 256)
    path = write(tmp_path / "whole.tif", arr, tiled=True, blockxsize=16, blockysize=16,
                 compress="deflate")
    cut = tmp_path / "cut.tif"
    cut.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.6)])
    with pytest.raises(InputValidationError) as info:
        read_population_raster(cut)
    msg = str(info.value)
    assert "cut.tif" in msg and "truncated or corrupt" in msg
    assert "See previous exception" not in msg


def test_aggregate_zero_names_valid_values(tmp_path):
    path = write(tmp_path / "p.tif", counts(3, 3))
    with pytest.raises(InputValidationError) as info:
        read_population_raster(path, aggregate=0)
    assert "aggregate=2 or 10." in str(info.value) and "2,." not in str(info.value)


def test_the_log_counts_windows_in_words(tmp_path, caplog):
    path = write(tmp_path / "p.tif", counts(3, 3))
    with caplog.at_level(logging.INFO, logger="coverage.inputs.raster"):
        read_population_raster(path)
    assert " in 1 window of " in caplog.text and "1 windows" not in caplog.text


def test_cli_refuses_an_image_with_exit_code_2(tmp_path, capsys):
    from coverage.cli import main

    rgba = np.random.default_rng(3).integers(0, 255, (4, 6, 6)).astype(np.uint8)
    path = write(tmp_path / "photo.tif", rgba, photometric="RGB", alpha="YES")
    cands = tmp_path / "cands.csv"
    pd.DataFrame({"site_id": ["a"], "lat": [52.9], "lon": [9.1]}).to_csv(cands, index=False)
    argv = ["plan", "--demand", str(path), "--candidates", str(cands), "--budget-ms", "30",
            "--out", str(tmp_path / "out"), "--no-report", "--no-gis"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "photo.tif" in err and "RGB(A) image" in err and "Traceback" not in err


# ---- H3


def h3_cells(n: int = 3) -> list[str]:
    return [h3.latlng_to_cell(52.5, 13.4 + 0.1 * i, 7) for i in range(n)]


def test_h3_duplicates_are_to_merge_not_to_renumber(tmp_path):
    cells = h3_cells()
    path = tmp_path / "kontur.csv"
    pd.DataFrame({"h3": [cells[0], cells[1], cells[0]], "population": [5, 6, 7]}).to_csv(
        path, index=False)
    for read in (read_h3_population, read_demand):
        with pytest.raises(InputValidationError) as info:
            read(path)
        msg = str(info.value)
        assert "kontur.csv" in msg and f"duplicate H3 cells in column 'h3' ('{cells[0]}')" in msg
        assert "rows 1, 3" in msg and "merge the rows of each cell" in msg
        assert "remove the id column" not in msg


def test_an_all_zero_h3_table_is_refused_as_an_all_zero_raster(tmp_path):
    path = tmp_path / "zero.csv"
    pd.DataFrame({"h3": h3_cells(), "population": [0, 0.0, 0]}).to_csv(path, index=False)
    for read in (read_h3_population, read_demand):
        with pytest.raises(InputValidationError,
                           match="(?s)zero.csv.*no H3 cell holds population > 0"):
            read(path)
    pd.DataFrame({"h3": h3_cells(), "population": [0, 3, 0]}).to_csv(path, index=False)
    assert read_h3_population(path)["population"].sum() == 3


def test_a_complex_band_is_refused(tmp_path):
    """A complex64 band (radar, not people) was read as its real part."""
    arr = (counts(4, 5) + 1j * counts(4, 5, seed=1)).astype(np.complex64)
    path = write(tmp_path / "complex.tif", arr)
    with pytest.raises(InputValidationError, match=r"complex numbers \(complex64\)"):
        read_population_raster(path)
    with pytest.raises(InputValidationError, match=r"band 1 holds complex numbers"):
        read_population_raster(path, band=1)  # a band chosen is checked too


def test_a_negative_value_after_the_offset_names_the_stored_value(tmp_path):
    """With an offset, the values shown are people, and nodata is a stored value: the fix
    says how to get from one to the other."""
    path = write(tmp_path / "offset.tif", np.array([[0, 5], [7, 8]], dtype=np.int32))
    with rasterio.open(path, "r+") as dst:
        dst.offsets = (-100.0,)
    with pytest.raises(InputValidationError) as info:
        read_population_raster(path)
    msg = str(info.value)
    assert "-100 at row 0, col 0" in msg and "stored value x 1 - 100" in msg
    assert "(VALUE - offset) / scale" in msg
