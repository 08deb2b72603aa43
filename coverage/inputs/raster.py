"""Population rasters as demand: GeoTIFF grids (GHSL / WorldPop).

:func:`read_population_raster` reads a GeoTIFF population raster in any CRS window by
window (never the whole raster at once). Every cell with population > 0 (and not nodata)
becomes a demand point at its cell centre, converted to EPSG:4326 with pyproj. An optional
``aggregate`` factor sums ``f x f`` blocks of cells into one coarser cell first. H3
population tables (Kontur) are tables: :func:`coverage.inputs.tables.read_h3_population`.

The result is the demand table of :mod:`coverage.inputs.tables` (``demand_id``, ``lat``, ``lon``,
``population``, ``name``) with ``attrs["population_grid"]`` holding a small report (total
population read, cell counts). Bad input raises one
:class:`~coverage.errors.InputValidationError` naming the file, each problem and the fix.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .validation import ProblemReport as _Report

__all__ = [
    "RASTER_SUFFIXES",
    "read_population_raster",
]

logger = logging.getLogger(__name__)

#: File suffixes read as population rasters.
RASTER_SUFFIXES: tuple[str, ...] = (".tif", ".tiff")

_DEFAULT_WINDOW = 1024
_EXAMPLES = 3


# --------------------------------------------------------------------------------------
# Rasters
# --------------------------------------------------------------------------------------


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _window_shape(
    block: tuple[int, int], window_size: int | tuple[int, int] | None, factor: int
) -> tuple[int, int]:
    """Window (rows, cols): whole blocks up to the target size, a multiple of ``factor``."""
    if window_size is None:
        target = (_DEFAULT_WINDOW, _DEFAULT_WINDOW)
    elif isinstance(window_size, int):
        target = (window_size, window_size)
    else:
        target = (int(window_size[0]), int(window_size[1]))
    shape = []
    for blk, tgt in zip(block, target, strict=True):
        size = max(1, tgt)
        if window_size is None and blk <= tgt:
            size = max(blk, (tgt // blk) * blk)
        shape.append(_round_up(size, factor))
    return shape[0], shape[1]


def _cell_ids(rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
    """``"r<row>_c<col>"`` ids as an object array of str (numpy string ufuncs, no loop)."""
    from numpy.dtypes import StringDType

    text = StringDType()
    ids = np.strings.add(np.strings.add("r", rows.astype(text)), "_c")
    return np.strings.add(ids, cols.astype(text)).astype(object)


def _examples(rows: npt.NDArray[Any], cols: npt.NDArray[Any], vals: npt.NDArray[Any]) -> list[str]:
    return [f"{v:g} at row {r}, col {c}" for r, c, v in zip(rows, cols, vals, strict=True)]


def _note_bad(
    bad: dict[str, list[Any]],
    key: str,
    count: int,
    rows: npt.NDArray[Any],
    cols: npt.NDArray[Any],
    vals: npt.NDArray[Any],
) -> None:
    """Count ``count`` bad cells of kind ``key``, keeping the first few as examples."""
    bad[key][0] += count
    room = _EXAMPLES - len(bad[key][1])
    if room > 0:
        bad[key][1] += _examples(rows[:room], cols[:room], vals[:room])


@dataclass
class _Scan:
    """What reading the raster window by window gathered."""

    rows: list[npt.NDArray[np.int64]] = field(default_factory=list)
    cols: list[npt.NDArray[np.int64]] = field(default_factory=list)
    lon: list[npt.NDArray[np.float64]] = field(default_factory=list)
    lat: list[npt.NDArray[np.float64]] = field(default_factory=list)
    pop: list[npt.NDArray[np.float64]] = field(default_factory=list)
    total: float = 0.0
    n_nodata: int = 0
    n_zero: int = 0
    n_pos: int = 0
    n_windows: int = 0
    #: Per kind of bad cell (NaN, infinite, negative, not transformable): count, examples.
    bad: dict[str, list[Any]] = field(
        default_factory=lambda: {"nan": [0, []], "inf": [0, []], "neg": [0, []], "tr": [0, []]}
    )


# ---- read_population_raster, step by step


def _checked_aggregate(report: _Report, aggregate: Any) -> int:
    """The aggregation factor, a whole number >= 1 (else the error is raised)."""
    whole = isinstance(aggregate, (int, np.integer)) and not isinstance(aggregate, bool)
    if not whole or aggregate < 1:
        report.add(
            f"aggregate={aggregate!r} is not a whole number >= 1", "pass aggregate=1, 2, ..."
        )
        report.raise_if_any()
    return int(aggregate)


def _open_raster(report: _Report, p: Path) -> Any:
    """The open rasterio dataset of the regular file ``p`` (else the error is raised)."""
    import rasterio

    if not p.is_file():
        report.add(
            "file not found" if not p.exists() else "path is not a regular file",
            f"check the path (working directory is {os.getcwd()!r})",
        )
        report.raise_if_any()
    try:
        src = rasterio.open(p)
    except Exception as exc:  # noqa: BLE001 - any GDAL failure becomes a validation error
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        report.add(
            f"cannot read the raster: {type(exc).__name__}: {reason}",
            "pass a complete GeoTIFF (.tif/.tiff); check the file is not truncated",
        )
        report.raise_if_any()
    return src


def _checked_crs(report: _Report, src: Any, p: Path, band: int,
                 crs: Any | None) -> tuple[Any, bool]:
    """The raster's CRS (or ``crs`` when it has none) and whether it came from ``crs``,
    after checking the band, that the raster is georeferenced and that its extent is
    plausible in that CRS; every problem is raised together."""
    from pyproj import CRS

    if not 1 <= band <= src.count:
        report.add(
            f"band {band} does not exist (the raster has {src.count})",
            f"pass band=1..{src.count}",
        )
        report.raise_if_any()
    raster_crs = src.crs
    given = False
    if raster_crs is None:
        if crs is None:
            report.add(
                "the raster has no CRS, so its cells cannot be placed on the map",
                "assign it (gdal_edit.py -a_srs EPSG:XXXX file.tif) or pass "
                f"{report.option('crs', 'EPSG:4326')} (or e.g. "
                f"{report.option('crs', 'ESRI:54009')} for GHSL)",
            )
        else:
            try:
                raster_crs = CRS.from_user_input(crs)
                given = True
            except Exception as exc:  # noqa: BLE001
                report.add(f"{report.option('crs', str(crs))} is not a valid CRS ({exc})",
                           f"pass e.g. {report.option('crs', 'EPSG:4326')}")
    elif crs is not None:
        logger.warning("%s has its own CRS (%s); %s is ignored", p, raster_crs,
                       report.option("crs", str(crs)))
    if src.transform.is_identity:
        report.add(
            "the raster has no geotransform (pixel coordinates only)",
            "georeference the file (gdal_translate -a_ullr ... / -a_srs ...) before reading",
        )
    report.raise_if_any()
    _check_degree_like_extent(report, src, p, CRS.from_user_input(raster_crs), given)
    return raster_crs, given


def _check_degree_like_extent(report: _Report, src: Any, p: Path, raster_crs: Any,
                              given: bool) -> None:
    """A raster in degrees declared projected: its whole extent within
    :data:`~coverage.inputs.tables.DEGREE_LIKE_MAX` units of the CRS origin (for EPSG:3857
    a few hundred metres off lat 0, lon 0), as a lat/lon extent would be. Refused when that
    extent, read as lon/lat, lies in the CRS's area of use (the tables' rule for points);
    otherwise logged (a local CRS centred on a small study area)."""
    from .limits import DEGREE_LIKE_MAX

    if not raster_crs.is_projected:
        return
    b = src.bounds
    if max(abs(b.left), abs(b.right), abs(b.bottom), abs(b.top)) >= DEGREE_LIKE_MAX:
        return
    unit = str(raster_crs.axis_info[0].unit_name) if raster_crs.axis_info else "unit"
    units = unit[:-4] + "feet" if unit.endswith("foot") else unit + "s"
    what = (f"the raster's extent (x {b.left:g} to {b.right:g}, y {b.bottom:g} to "
            f"{b.top:g}) looks like degrees, not {raster_crs.to_string()} {units}: all "
            f"of it lies within {DEGREE_LIKE_MAX:g} {units} of the CRS origin")
    area = raster_crs.area_of_use
    if area is None and raster_crs.to_epsg() is not None:  # a file's WKT carries none
        from pyproj import CRS

        area = CRS.from_epsg(raster_crs.to_epsg()).area_of_use
    if area is not None and area.west <= b.left <= b.right <= area.east and (
            area.south <= b.bottom <= b.top <= area.north):
        fix = (f"pass {report.option('crs', 'EPSG:4326')} (degrees)" if given else
               "the file's CRS is wrong: assign EPSG:4326 (gdal_edit.py -a_srs EPSG:4326 "
               f"{p.name})")
        report.add(what, fix)
        report.raise_if_any()
    logger.warning("%s: %s; planned as given", p, what)


def _window_population(
    src: Any,
    band: int,
    win: Any,
    nd: float | None,
    use_mask_band: bool,
    scan: _Scan,
) -> npt.NDArray[np.float64]:
    """One window's population, 0 where nodata, masked or bad (bad cells are noted)."""
    row0, col0 = int(win.row_off), int(win.col_off)
    native = src.read(band, window=win)
    invalid = np.zeros(native.shape, dtype=bool)
    if nd is not None:
        # Compare in the file's dtype: a float32 nodata such as -3.4028235e38
        # is not equal to its decimal tag once widened to float64.
        if np.isnan(nd):
            invalid |= np.isnan(native)
        elif native.dtype.kind == "f":
            invalid |= native == np.asarray(nd).astype(native.dtype)
        else:
            invalid |= native.astype(np.float64) == nd
    data = native.astype(np.float64)
    if use_mask_band:
        invalid |= src.read_masks(band, window=win) == 0
    scan.n_nodata += int(invalid.sum())
    for key, mask in (
        ("nan", np.isnan(data) & ~invalid),
        ("inf", np.isinf(data) & ~invalid),
        ("neg", (data < 0) & np.isfinite(data) & ~invalid),
    ):
        if mask.any():
            rr, cc = np.nonzero(mask)
            _note_bad(scan.bad, key, int(mask.sum()), rr + row0, cc + col0, data[rr, cc])
            invalid |= mask
    vals = np.where(invalid, 0.0, data)
    scan.n_zero += int(((vals == 0) & ~invalid).sum())
    scan.n_pos += int((vals > 0).sum())
    scan.total += float(vals.sum())
    return vals


def _block_sums(vals: npt.NDArray[np.float64], factor: int) -> npt.NDArray[np.float64]:
    """Sums of ``factor x factor`` blocks (the window padded with zeros to whole blocks)."""
    h, w = vals.shape
    ph, pw = _round_up(h, factor), _round_up(w, factor)
    padded = np.zeros((ph, pw))
    padded[:h, :w] = vals
    blocks = padded.reshape(ph // factor, factor, pw // factor, factor)
    return blocks.sum(axis=(1, 3))


def _cell_centres(
    top: npt.NDArray[np.int64],
    left: npt.NDArray[np.int64],
    factor: int,
    shape: tuple[int, int],
    transform: Any,
    tr: Any,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Longitude and latitude (EPSG:4326) of the centres of the cells (or blocks, clipped to
    the raster of ``shape``) whose top-left cells are ``(top, left)``."""
    height, width = shape
    a, b, c, d, e, f = (
        transform.a,
        transform.b,
        transform.c,
        transform.d,
        transform.e,
        transform.f,
    )
    # Cell (or block, clipped to the raster) centre in pixel coordinates.
    py = (top + np.minimum(top + factor, height)) / 2.0
    px = (left + np.minimum(left + factor, width)) / 2.0
    x = a * px + b * py + c
    y = d * px + e * py + f
    lon, lat = tr.transform(x, y)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _scan_windows(
    src: Any,
    band: int,
    nd: float | None,
    use_mask_band: bool,
    window: tuple[int, int],
    factor: int,
    tr: Any,
) -> _Scan:
    """Read the raster window by window: every populated cell (or block) and its centre."""
    from rasterio.windows import Window

    height, width = src.height, src.width
    win_h, win_w = window
    scan = _Scan()
    for row0 in range(0, height, win_h):
        h = min(win_h, height - row0)
        for col0 in range(0, width, win_w):
            w = min(win_w, width - col0)
            scan.n_windows += 1
            vals = _window_population(src, band, Window(col0, row0, w, h), nd, use_mask_band,
                                      scan)
            if factor > 1:
                vals = _block_sums(vals, factor)
            rr, cc = np.nonzero(vals > 0)
            if rr.size == 0:
                continue
            pop = vals[rr, cc]
            top = row0 + rr * factor
            left = col0 + cc * factor
            lon, lat = _cell_centres(top, left, factor, (height, width), src.transform, tr)
            ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90)
            if not ok.all():
                _note_bad(scan.bad, "tr", int((~ok).sum()), top[~ok], left[~ok], pop[~ok])
            scan.rows.append(top // factor)
            scan.cols.append(left // factor)
            scan.lon.append(lon)
            scan.lat.append(lat)
            scan.pop.append(pop)
    return scan


def _raise_bad_cells(report: _Report, bad: dict[str, list[Any]], raster_crs: Any,
                     given: bool = False) -> None:
    """Raise one error naming every kind of bad cell found, with examples and the fix."""
    from pyproj import CRS

    crs = CRS.from_user_input(raster_crs)
    if crs.is_geographic:  # nothing to transform: the numbers are not degrees
        tr = (f"populated cells lie beyond latitude +-90 degrees, so their coordinates are "
              f"not {crs.to_string()} degrees as the raster's CRS says")
    else:
        tr = f"populated cells cannot be transformed from {crs.to_string()} to EPSG:4326"
    fixes = {
        "nan": (
            "cells are NaN but NaN is not the raster's nodata value",
            "declare it (gdal_edit.py -a_nodata nan file.tif)"
            + _nodata_option(report, "float('nan')"),
        ),
        "inf": ("cells are infinite", "fix the raster, or declare that value as nodata"),
        "neg": (
            "cells hold a negative population that is not the nodata value",
            "if it is a nodata marker, declare it (gdal_edit.py -a_nodata VALUE file.tif"
            + _nodata_option(report, "VALUE") + "; GHSL uses -200, WorldPop -99999), "
            "otherwise fix the cells",
        ),
        "tr": (
            tr,
            (f"pass the raster's real CRS, e.g. {report.option('crs', 'ESRI:54009')} for "
             "GHSL" if given else "the file's CRS is wrong: assign the right one "
             "(gdal_edit.py -a_srs EPSG:XXXX file.tif)"),
        ),
    }
    for key, (count, examples) in bad.items():
        if count:
            what, fix = fixes[key]
            report.add(f"{count} {what} (e.g. {'; '.join(examples)})", fix)
    report.raise_if_any()


def _nodata_option(report: _Report, value: str) -> str:
    """`` or pass nodata=VALUE`` for a caller of :func:`read_population_raster` (the CLI
    and batch files have no nodata option: only the file's own declaration works there)."""
    return f" or pass nodata={value}" if report.option_style == "api" else ""


def _demand_table(report: _Report, scan: _Scan, factor: int = 1) -> pd.DataFrame:
    """The demand table of the populated cells, in raster order (none: the error is raised)."""

    def cat(parts: list[npt.NDArray[Any]], dtype: Any) -> npt.NDArray[Any]:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    rows, cols = cat(scan.rows, np.int64), cat(scan.cols, np.int64)
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    lon = cat(scan.lon, np.float64)[order]
    lon = (lon + 180.0) % 360.0 - 180.0  # 0..360 grids
    lat = cat(scan.lat, np.float64)[order]
    pop = cat(scan.pop, np.float64)[order]
    if pop.size == 0:
        report.add(
            f"no cell holds population > 0 ({scan.n_nodata} nodata, {scan.n_zero} zero cells)",
            "check the band and the nodata value, and that the raster holds people per cell",
        )
        report.raise_if_any()
    # The table is valid by construction (unique ids, finite coordinates, population > 0),
    # so it is built in the canonical form of coverage.inputs.tables directly: as_demand would only
    # repeat the checks (plan_sites runs it anyway), naming rows of a table the user never
    # saw; the population limits are checked here, naming cells.
    from .limits import MAX_POPULATION_PER_POINT, MAX_POPULATION_TOTAL

    ids = _cell_ids(rows, cols)
    huge = np.flatnonzero(pop > MAX_POPULATION_PER_POINT)
    if len(huge):
        cells = "; ".join(f"{ids[i]}: {pop[i]:.3g}" for i in huge[:5])
        report.add(
            f"{len(huge)} {'block' if factor > 1 else 'cell'}"
            f"{' holds' if len(huge) == 1 else 's hold'} more than "
            f"{MAX_POPULATION_PER_POINT:.0e} people (more than the world's population; e.g. "
            f"{cells}; r<row>_c<col> is the raster row and column)",
            "check the band holds people per cell (not a density or another unit) and that "
            "its nodata value is declared (gdal_edit.py -a_nodata VALUE file.tif)")
    elif float(pop.sum()) > MAX_POPULATION_TOTAL:
        report.add(f"the raster holds {float(pop.sum()):.3g} people in all, more than "
                   f"{MAX_POPULATION_TOTAL:.0e}",
                   "check the band holds people per cell (not a density or another unit)")
    report.raise_if_any()
    return pd.DataFrame(
        {"demand_id": ids, "lat": lat, "lon": lon, "population": pop, "name": ids.copy()}
    )


def read_population_raster(
    path: str | os.PathLike[str],
    *,
    band: int = 1,
    aggregate: int = 1,
    nodata: float | None = None,
    crs: Any | None = None,
    window_size: int | tuple[int, int] | None = None,
    option_style: str = "api",
) -> pd.DataFrame:
    """Read a GeoTIFF population raster (GHSL, WorldPop, ...) as demand points.

    The raster is read window by window; per window, everything is numpy (no Python loop
    over cells). Cells that are nodata or hold 0 are dropped; every other cell (or, with
    ``aggregate > 1``, every ``aggregate x aggregate`` block of cells with a positive sum)
    becomes one demand point at its centre, transformed to EPSG:4326.

    Parameters
    ----------
    path : str or path-like
        GeoTIFF file (``.tif``/``.tiff``), any CRS.
    band : int, default 1
        1-based band holding the population counts (people per cell, not density).
    aggregate : int, default 1
        Sum blocks of ``aggregate x aggregate`` cells into one demand point, anchored at
        the raster's top-left corner. Its centre is the centre of the block clipped to the
        raster (blocks on the right/bottom edge may be partial). The total population is
        unchanged.
    nodata : float, optional
        Nodata value to use instead of the file's (e.g. ``float("nan")`` or ``-200`` when
        the file does not declare it). Internal mask bands are honoured as well.
    crs : optional
        CRS to assume when the file has none (anything :meth:`pyproj.CRS.from_user_input`
        accepts). Ignored, with a warning in the log, when the file has its own.
    window_size : int or (int, int), optional
        Window height/width in cells (rounded up to a multiple of ``aggregate``). Default:
        whole internal blocks up to about 1024 x 1024 cells.
    option_style : {"api", "cli", "toml"}, default "api"
        How error messages name the ``crs`` option (``crs='EPSG:4326'``,
        ``--demand-crs EPSG:4326``, ``demand_crs = "EPSG:4326"``).

    Returns
    -------
    pandas.DataFrame
        As :func:`coverage.inputs.tables.read_demand`: ``demand_id`` (``"r<row>_c<col>"``, raster
        row/column, or block row/column of the coarser grid with ``aggregate > 1``),
        ``lat``, ``lon`` (EPSG:4326), ``population`` (float64, > 0), ``name``; rows in
        raster order. ``attrs["population_grid"]`` is a dict: ``source``, ``kind``,
        ``crs``, ``aggregate``, ``total_population`` (sum of all valid cells, float64),
        ``cells``, ``cells_nodata``, ``cells_zero``, ``cells_populated``, ``demand_rows``,
        ``windows``, ``window_shape``.

    Raises
    ------
    InputValidationError
        Unreadable file, bad band/aggregate, no CRS or geotransform, negative, NaN or
        infinite values that are not nodata, or cells that cannot be transformed.
    """
    import rasterio.errors
    from pyproj import CRS, Transformer
    from rasterio.enums import MaskFlags

    report = _Report(str(path), "population raster", option_style=option_style)
    factor = _checked_aggregate(report, aggregate)
    p = Path(path)
    src = _open_raster(report, p)

    with src:
        raster_crs, given = _checked_crs(report, src, p, band, crs)
        nd = src.nodatavals[band - 1] if nodata is None else float(nodata)
        flags = src.mask_flag_enums[band - 1]
        use_mask_band = MaskFlags.per_dataset in flags or MaskFlags.alpha in flags
        height, width = src.height, src.width
        win_h, win_w = _window_shape(src.block_shapes[band - 1], window_size, factor)
        tr = Transformer.from_crs(CRS.from_user_input(raster_crs), 4326, always_xy=True)
        try:
            scan = _scan_windows(src, band, nd, use_mask_band, (win_h, win_w), factor, tr)
        except rasterio.errors.RasterioIOError as exc:  # a block GDAL cannot read
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "read failed"
            report.add(f"cannot read the raster's cells: {reason}",
                       "the file is truncated or damaged: pass a complete GeoTIFF")
            report.raise_if_any()

    _raise_bad_cells(report, scan.bad, raster_crs, given)
    demand = _demand_table(report, scan, factor)
    total = scan.total
    info = {
        "source": str(path),
        "kind": "raster",
        "crs": CRS.from_user_input(raster_crs).to_string(),
        "aggregate": factor,
        "total_population": total,
        "cells": int(height * width),
        "cells_nodata": scan.n_nodata,
        "cells_zero": scan.n_zero,
        "cells_populated": scan.n_pos,
        "demand_rows": int(len(demand)),
        "windows": scan.n_windows,
        "window_shape": (win_h, win_w),
    }
    demand.attrs["population_grid"] = info
    logger.info(
        "%s: %d x %d raster (%s) in %d windows of %d x %d: total population %.6g in %d "
        "populated cells (%d nodata, %d zero) -> %d demand points (aggregate %d)",
        path,
        height,
        width,
        info["crs"],
        scan.n_windows,
        win_h,
        win_w,
        total,
        scan.n_pos,
        scan.n_nodata,
        scan.n_zero,
        len(demand),
        factor,
    )
    out_total = float(demand["population"].sum())
    if not np.isclose(out_total, total, rtol=1e-9, atol=1e-6):  # pragma: no cover - guard
        raise AssertionError(f"population not preserved: read {total}, output {out_total}")
    return demand
