"""Population rasters as demand: GeoTIFF grids (GHSL / WorldPop).

:func:`read_population_raster` reads a GeoTIFF population raster in any CRS window by
window (never the whole raster at once; whole blocks per window, GDAL's block cache capped
at 64 MB, progress logged on long reads, at most :data:`MAX_RASTER_CELLS` cells). Every
cell with population > 0 (and not nodata) becomes a demand point at its cell centre,
converted to EPSG:4326 with pyproj; a band's GDAL scale and offset are applied. An optional
``aggregate`` factor sums ``f x f`` blocks of cells into one coarser cell first (large
blocks are read in pieces, so memory does not grow with ``f``). H3
population tables (Kontur) are tables: :func:`coverage.inputs.tables.read_h3_population`.

The result is the demand table of :mod:`coverage.inputs.tables` (``demand_id``, ``lat``, ``lon``,
``population``, ``name``) with ``attrs["population_grid"]`` holding a small report (total
population read, cell counts). Bad input raises one
:class:`~coverage.errors.InputValidationError` naming the file, each problem and the fix.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .validation import ProblemReport as _Report
from .validation import crs_kind

__all__ = [
    "MAX_RASTER_CELLS",
    "RASTER_SUFFIXES",
    "read_population_raster",
]

logger = logging.getLogger(__name__)

#: File suffixes read as population rasters.
RASTER_SUFFIXES: tuple[str, ...] = (".tif", ".tiff")

#: Largest raster read, in cells (height x width, whatever their content): 2e10 admits
#: a continent at 100 m (Europe in EPSG:3035: about 3e9) and the world at 250 m (GHSL:
#: 1.04e10) or 1 km (6.5e8), not the world at 100 m (GHSL: 6.5e10; hours of reading).
MAX_RASTER_CELLS = 20_000_000_000

_DEFAULT_WINDOW = 1024
#: Largest window read at once (cells) unless the caller's ``window_size`` is larger:
#: windows that hold whole ``aggregate`` blocks are used up to this size; above it
#: (large factors) the blocks are read in pieces and summed.
_MAX_WINDOW_CELLS = 4 * _DEFAULT_WINDOW * _DEFAULT_WINDOW
#: GDAL's block cache while reading, MB: windows hold whole blocks, so each block is read
#: once (GDAL's default, 5 % of the RAM, only grew the process).
_GDAL_CACHE_MB = 64
#: Seconds between two progress lines in the log on long reads.
_PROGRESS_SECONDS = 5.0
_EXAMPLES = 3
#: TIFF and BigTIFF magic bytes (little- and big-endian).
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
#: Colour interpretations of an image band (not a grid of counts).
_IMAGE_BANDS = frozenset({"red", "green", "blue", "alpha", "palette", "hue", "saturation",
                          "lightness", "cyan", "magenta", "yellow", "black", "Y", "Cb", "Cr"})


# --------------------------------------------------------------------------------------
# Rasters
# --------------------------------------------------------------------------------------


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _window_shape(
    block: tuple[int, int], shape: tuple[int, int], window_size: int | tuple[int, int] | None
) -> tuple[int, int]:
    """Window (rows, cols) before rounding to ``aggregate``: the caller's ``window_size``,
    else whole blocks up to about ``_DEFAULT_WINDOW`` squared cells. Strips (blocks wider
    than that) give windows of whole strips across the raster, so that no block is read
    twice; a block above ``_MAX_WINDOW_CELLS`` is read in ``_DEFAULT_WINDOW`` pieces."""
    if window_size is not None:
        if isinstance(window_size, int):
            return max(1, window_size), max(1, window_size)
        return max(1, int(window_size[0])), max(1, int(window_size[1]))
    (bh, bw), width = block, shape[1]
    if bw > _DEFAULT_WINDOW and bh * bw <= _MAX_WINDOW_CELLS:
        wide = min(bw, width)
        return max(bh, (_DEFAULT_WINDOW * _DEFAULT_WINDOW // wide) // bh * bh), bw

    def whole_blocks(blk: int) -> int:
        return (_DEFAULT_WINDOW // blk) * blk if blk <= _DEFAULT_WINDOW else _DEFAULT_WINDOW

    return whole_blocks(bh), whole_blocks(bw)


def _plan_windows(
    shape: tuple[int, int], base: tuple[int, int], factor: int, budget: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]], bool, tuple[int, int]]:
    """The windows to read: (start, length) along the rows and along the columns, whether
    they are pieces of ``factor x factor`` blocks, and the nominal window shape.

    Windows hold whole blocks (a multiple of ``factor`` cells each way) while that stays
    within ``budget`` cells; otherwise each block is cut into near-equal pieces of at most
    ``base`` cells each way (read and summed one by one), so that the memory of one window
    does not grow with the factor. Loops run over windows, never over cells."""
    height, width = shape
    whole = (_round_up(base[0], factor), _round_up(base[1], factor))
    if factor == 1 or min(whole[0], height) * min(whole[1], width) <= budget:
        rows = [(r, min(whole[0], height - r)) for r in range(0, height, whole[0])]
        cols = [(c, min(whole[1], width - c)) for c in range(0, width, whole[1])]
        return rows, cols, False, whole

    def pieces(n: int, size: int) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for b0 in range(0, n, factor):
            length = min(factor, n - b0)
            step = -(-length // -(-length // size))  # near-equal pieces of <= size
            out.extend((s, min(step, b0 + length - s)) for s in range(b0, b0 + length, step))
        return out

    return pieces(height, base[0]), pieces(width, base[1]), True, base


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
            f"aggregate={aggregate!r} is not a whole number >= 1",
            "pass aggregate=1 (every cell) or a block size in cells such as aggregate=2 or 10",
        )
        report.raise_if_any()
    return int(aggregate)


def _capped_aggregate(p: Path, factor: int, shape: tuple[int, int]) -> int:
    """``factor``, or the raster's larger side when it is larger: every factor from there
    on gives the same single block (the whole raster, its centre, ``r0_c0``)."""
    side = max(shape)
    if factor > side:
        logger.warning("%s: aggregate=%d is larger than the raster (%d x %d cells): one "
                       "block holds it all; read as aggregate=%d", p, factor, shape[0],
                       shape[1], side)
        return side
    return factor


def _open_raster(report: _Report, p: Path) -> Any:
    """The open rasterio dataset of the regular file ``p`` (else the error is raised)."""
    import rasterio

    if not p.is_file():
        report.add(
            "file not found" if not p.exists() else "path is not a regular file",
            f"check the path (working directory is {os.getcwd()!r})",
        )
        report.raise_if_any()
    if p.suffix.lower() in RASTER_SUFFIXES:
        _check_tiff_header(report, p)
    try:
        # (no CRS or transform: said by the checks below; GDAL's "Warning 1:" lines
        # about a cut header went to stderr: the check of the first cell says it)
        with warnings.catch_warnings(), rasterio.Env(CPL_LOG=os.devnull):
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            src = rasterio.open(p)
    except Exception as exc:  # noqa: BLE001 - any GDAL failure becomes a validation error
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        report.add(
            f"cannot read the raster: the file is truncated or corrupt, or not a GeoTIFF "
            f"({type(exc).__name__}: {reason})",
            "pass a complete GeoTIFF (.tif/.tiff; download or export it again)",
        )
        report.raise_if_any()
    try:  # its first cell: a file cut inside its header opens, without its CRS, and was
        # told to assign one before it was found truncated (tester 146)
        with rasterio.Env(CPL_LOG=os.devnull):
            src.read(1, window=((0, 1), (0, 1)))
    except Exception as exc:  # noqa: BLE001 - any GDAL failure becomes a validation error
        src.close()
        _raise_truncated(report, exc)
    return src


def _raise_truncated(report: _Report, exc: BaseException) -> None:
    """Raise "the file is truncated or corrupt" with GDAL's own words from ``exc``."""
    cause = exc.__cause__ or exc.__context__ or exc
    reason = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    report.add("cannot read the raster's cells: the file is truncated or corrupt"
               + (f" (GDAL: {reason.rstrip('.')})" if reason else ""),
               "pass a complete GeoTIFF (download or export it again)")
    report.raise_if_any()


def _check_tiff_header(report: _Report, p: Path) -> None:
    """Refuse a ``.tif`` that is no TIFF (a CSV renamed, an empty file) before GDAL reads
    it: GDAL's message ("Couldn't determine X spacing") does not say so."""
    try:
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        report.add(f"cannot read the file ({exc.strerror or exc})",
                   "check the file's permissions")
        report.raise_if_any()
    if head[:4] in _TIFF_MAGIC:
        return
    if not head:
        report.add("cannot read the raster: the file is empty (0 bytes)",
                   "pass a complete GeoTIFF (download or export it again)")
    else:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
            for cut in range(1, 4):  # a multi-byte character cut at the end of the sample
                try:
                    text = head[:-cut].decode("utf-8")
                    break
                except UnicodeDecodeError:
                    continue
        looks_text = bool(text) and all(ch.isprintable() or ch in "\r\n\t\ufeff"
                                        for ch in text)
        if looks_text:
            first = text.splitlines()[0][:60] if text.splitlines() else text[:60]
            report.add(f"cannot read the raster: the file is not a GeoTIFF (no TIFF header); "
                       f"it looks like text (first line {first!r})",
                       f"if it is a table, give it its real extension (rename it to "
                       f"{p.stem}.csv); otherwise pass the GeoTIFF itself")
        else:
            report.add(f"cannot read the raster: the file is not a GeoTIFF (it starts with "
                       f"{head[:4]!r}, not a TIFF header)",
                       "pass a GeoTIFF (.tif/.tiff); convert other rasters with gdal_translate "
                       f"(gdal_translate -of GTiff FILE {p.stem}.tif)")
    report.raise_if_any()


def _checked_band(report: _Report, src: Any, p: Path, band: int | None) -> int:
    """The 1-based band to read (else the error is raised): ``band`` when it exists; with
    ``band=None``, the only band of a one-band raster (a colour band of an image is said
    in the log), and refused for several bands (an RGB(A) image, or a stack of grids)."""
    count = int(src.count)
    interp = [ci.name for ci in src.colorinterp]
    if band is not None:
        whole = isinstance(band, (int, np.integer)) and not isinstance(band, bool)
        if not whole or not 1 <= band <= count:
            report.add(
                f"band {band!r} does not exist (the raster has {count} "
                f"band{'s' if count != 1 else ''})",
                f"pass band=1..{count}" if count > 1 else "pass band=1 (or leave band out)",
            )
            report.raise_if_any()
    else:
        band = _only_band(report, count, interp, p)
    dtype = str(src.dtypes[band - 1])
    if dtype.startswith("complex") or dtype.startswith("cint"):  # e.g. radar, not people
        report.add(f"band {band} holds complex numbers ({dtype}), not people per cell",
                   "pass a population raster (one band of people per cell, such as GHSL "
                   "GHS_POP or WorldPop)")
        report.raise_if_any()
    if interp and interp[band - 1] in _IMAGE_BANDS:
        logger.warning("%s: band %d is a %s colour band (image colours, not people per "
                       "cell?); its values are read as people per cell", p, band,
                       interp[band - 1])
    return int(band)


def _only_band(report: _Report, count: int, interp: list[str], p: Path) -> int:
    """Band 1 of a one-band raster; several bands (an RGB(A) image, a stack of grids)
    without a choice are refused."""
    if count > 1:
        image = sum(name in _IMAGE_BANDS for name in interp) >= 2
        what = (f"the raster has {count} bands (colour interpretation: {', '.join(interp)})"
                + (": an RGB(A) image, not a population grid" if image else
                   " and no band was chosen"))
        api = report.option_style == "api"
        fix = ("pass a population raster (one band of people per cell, such as GHSL "
               "GHS_POP or WorldPop)" + ("; if one band does hold people per cell, pass "
                                         "band=N" if api else "") if image else
               f"extract the population band N into its own file (gdal_translate -b N "
               f"{p.name} population.tif)" + (" or pass band=N" if api else ""))
        report.add(what, fix)
        report.raise_if_any()
    return 1


def _checked_crs(report: _Report, src: Any, p: Path, crs: Any | None) -> tuple[Any, bool]:
    """The raster's CRS (or ``crs`` when it has none) and whether it came from ``crs``,
    after checking that the raster is georeferenced and that its extent is plausible in
    that CRS; every problem is raised together."""
    from pyproj import CRS

    gcps, gcp_crs = src.gcps
    if src.transform.is_identity and gcps:
        report.add(
            f"the raster is georeferenced by {len(gcps)} ground control points only (no "
            "geotransform): its cells are not on a regular grid this reader can place",
            "rectify it to a regular grid first (gdalwarp -r sum "
            + ("" if gcp_crs is not None else "-s_srs EPSG:XXXX ")
            + f"{p.name} rectified.tif; -r sum adds the counts up instead of sampling them)",
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
    _check_crs_kind(report, CRS.from_user_input(raster_crs), given)
    _check_degree_like_extent(report, src, p, CRS.from_user_input(raster_crs), given)
    return raster_crs, given


def _check_crs_kind(report: _Report, raster_crs: Any, given: bool) -> None:
    """Refuse a CRS that is not 2-D latitude/longitude or a map projection of the Earth:
    an engineering (local) CRS, another body's, a geocentric or 3-D one raised PROJ's
    "Error creating Transformer" as an internal error, or placed the cells on the
    equator (tester 146)."""
    from pyproj import Transformer
    from pyproj.exceptions import ProjError

    name = raster_crs.name or raster_crs.to_string()
    fix = (f"pass the raster's real CRS, e.g. {report.option('crs', 'EPSG:4326')}" if given
           else "reproject the raster to EPSG:4326 or a map projection (gdalwarp -t_srs "
                "EPSG:4326 in.tif out.tif)")
    if not (raster_crs.is_geographic or raster_crs.is_projected):
        report.add(f"the raster's CRS ({name}) is {crs_kind(raster_crs)}, not "
                   "latitude/longitude or a map projection", fix)
    else:
        try:
            Transformer.from_crs(raster_crs, 4326, always_xy=True)
        except ProjError as exc:
            reason = str(exc).split("(Internal Proj Error: ")[-1].rstrip(")")
            reason = reason.split(" You may override")[0].rstrip(". ")  # (not a fix)
            report.add(f"the raster's CRS ({name}) cannot be transformed to latitude and "
                       f"longitude ({reason})", fix)
    report.raise_if_any()


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
    scale: tuple[float, float] = (1.0, 0.0),
) -> npt.NDArray[np.float64]:
    """One window's population, 0 where nodata, masked or bad (bad cells are noted).

    ``scale`` is the band's (scale, offset): population = stored value x scale + offset,
    applied after the nodata test (nodata is a stored value) and before the checks."""
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
    if scale != (1.0, 0.0):
        data = data * scale[0] + scale[1]
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


@dataclass(frozen=True)
class _Read:
    """How the cells are read: band, nodata, mask band, (scale, offset), the aggregation
    factor and the transformer to EPSG:4326."""

    band: int
    nodata: float | None
    use_mask_band: bool
    scale: tuple[float, float]
    factor: int
    tr: Any


def _add_cells(scan: _Scan, src: Any, how: _Read, top: npt.NDArray[np.int64],
               left: npt.NDArray[np.int64], pop: npt.NDArray[np.float64]) -> None:
    """Keep populated cells (or blocks) with top-left cells ``(top, left)`` and their
    centres in EPSG:4326 (cells that cannot be transformed are noted)."""
    factor = how.factor
    lon, lat = _cell_centres(top, left, factor, (src.height, src.width), src.transform, how.tr)
    # (a 0-360 grid is fine, and one past 360 to cross its prime meridian (review 140);
    # an origin at 10,084 degrees was wrapped 28 turns onto Belgium without a word:
    # tester 146)
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 540)
    if not ok.all():
        _note_bad(scan.bad, "tr", int((~ok).sum()), top[~ok], left[~ok], pop[~ok])
    scan.rows.append(top // factor)
    scan.cols.append(left // factor)
    scan.lon.append(lon)
    scan.lat.append(lat)
    scan.pop.append(pop)


def _scan_windows(src: Any, p: Path, how: _Read, rows: list[tuple[int, int]],
                  cols: list[tuple[int, int]], pieces: bool) -> _Scan:
    """Read the raster window by window: every populated cell (or block) and its centre.

    With ``pieces``, every window lies inside one ``factor x factor`` block: its sum is
    added to its block's, and a row of blocks is kept once all its pieces are read. The
    share of windows read is logged every ``_PROGRESS_SECONDS`` on long reads."""
    import time

    from rasterio.windows import Window

    from ..wording import counted

    factor = how.factor
    scan = _Scan()
    n_total = len(rows) * len(cols)
    start = last = time.monotonic()
    block_row = -1
    acc = np.zeros(-(-src.width // factor) if pieces else 0)

    def keep_block_row() -> None:
        cc = np.flatnonzero(acc > 0)
        if cc.size:
            top = np.full(cc.size, block_row * factor, dtype=np.int64)
            _add_cells(scan, src, how, top, cc.astype(np.int64) * factor, acc[cc].copy())

    for row0, h in rows:
        if pieces and row0 // factor != block_row:
            if block_row >= 0:
                keep_block_row()
            block_row = row0 // factor
            acc[:] = 0.0
        for col0, w in cols:
            scan.n_windows += 1
            vals = _window_population(src, how.band, Window(col0, row0, w, h), how.nodata,
                                      how.use_mask_band, scan, how.scale)
            if pieces:
                acc[col0 // factor] += float(vals.sum())
            else:
                if factor > 1:
                    vals = _block_sums(vals, factor)
                rr, cc = np.nonzero(vals > 0)
                if rr.size:
                    _add_cells(scan, src, how, row0 + rr * factor, col0 + cc * factor,
                               vals[rr, cc])
            now = time.monotonic()
            if now - last >= _PROGRESS_SECONDS and scan.n_windows < n_total:
                last = now
                logger.info("%s: %.0f %% read (%s of %s, %.0f s)", p,
                            100.0 * scan.n_windows / n_total, counted(scan.n_windows, "window"),
                            f"{n_total:,}", now - start)
    if pieces and block_row >= 0:
        keep_block_row()
    return scan


def _raise_bad_cells(report: _Report, bad: dict[str, list[Any]], raster_crs: Any,
                     given: bool = False, scale: tuple[float, float] = (1.0, 0.0)) -> None:
    """Raise one error naming every kind of bad cell found, with examples and the fix."""
    from pyproj import CRS

    crs = CRS.from_user_input(raster_crs)
    if crs.is_geographic:  # nothing to transform: the numbers are not degrees
        tr = (f"populated cells lie beyond latitude +-90 or longitude +-540 degrees, so "
              f"their coordinates are not {crs.to_string()} degrees as the raster's CRS "
              "says")
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
            "otherwise fix the cells"
            + ("" if scale == (1.0, 0.0) else
               f" (the values shown are people, stored value x {scale[0]:g} "
               f"{'-' if scale[1] < 0 else '+'} {abs(scale[1]):g}: "
               "nodata is the stored value, so declare (VALUE - offset) / scale)"),
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
    from ..wording import counted

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
            f"no cell holds population > 0 ({counted(scan.n_nodata, 'nodata cell')}, "
            f"{counted(scan.n_zero, 'zero cell')})",
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


def _check_size(report: _Report, src: Any, p: Path) -> None:
    """Refuse a raster of more than :data:`MAX_RASTER_CELLS` cells (every cell is read,
    whatever ``aggregate``): crop or aggregate it with GDAL first."""
    height, width = int(src.height), int(src.width)
    if height * width <= MAX_RASTER_CELLS:
        return
    res_x, res_y = abs(src.transform.a) or 1.0, abs(src.transform.e) or 1.0
    report.add(
        f"the raster is {height:,} x {width:,} cells ({height * width:.3g}), more than the "
        f"{MAX_RASTER_CELLS:.0e} this reader reads (the world at 100 m is 6.5e10: hours of "
        "reading; aggregate= still reads every cell)",
        "crop it to the study area (gdal_translate -projwin ULX ULY LRX LRY "
        f"{p.name} area.tif, corners in the raster's CRS) or aggregate it to coarser cells "
        f"(gdalwarp -r sum -tr {10 * res_x:g} {10 * res_y:g} {p.name} coarse.tif: 10 x 10 "
        "cells each; -r sum keeps the total)",
    )


def _checked_scale(report: _Report, src: Any, p: Path, band: int) -> tuple[float, float]:
    """The band's GDAL scale and offset (population = stored value x scale + offset),
    logged when they are not 1 and 0; refused when not finite or a scale of 0."""
    scales, offsets = src.scales, src.offsets
    scale = float(scales[band - 1]) if scales and scales[band - 1] is not None else 1.0
    offset = float(offsets[band - 1]) if offsets and offsets[band - 1] is not None else 0.0
    if not (np.isfinite(scale) and np.isfinite(offset)) or scale == 0.0:
        report.add(
            f"band {band} declares scale {scale:g} and offset {offset:g} (population = "
            "stored value x scale + offset), which gives no population",
            f"fix the file's metadata (gdal_edit.py -scale 1 -offset 0 {p.name}, or the "
            "product's real scale)",
        )
        report.raise_if_any()
    if (scale, offset) != (1.0, 0.0):
        logger.info("%s: band %d has scale %g and offset %g (GDAL metadata): population = "
                    "stored value x %g + %g (nodata is a stored value)", p, band, scale,
                    offset, scale, offset)
    return scale, offset


def read_population_raster(
    path: str | os.PathLike[str],
    *,
    band: int | None = None,
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
    becomes one demand point at its centre, transformed to EPSG:4326. A band's GDAL scale
    and offset are applied (population = stored value x scale + offset, logged). Reads
    taking longer than a few seconds log their progress (INFO, ``coverage.inputs.raster``).

    Parameters
    ----------
    path : str or path-like
        GeoTIFF file (``.tif``/``.tiff``), any CRS, at most :data:`MAX_RASTER_CELLS` cells.
    band : int, optional
        1-based band holding the population counts (people per cell, not density).
        Default: the raster's only band; a raster of several bands (an RGB(A) image, a
        stack of grids) is refused unless ``band`` says which one to read.
    aggregate : int, default 1
        Sum blocks of ``aggregate x aggregate`` cells into one demand point, anchored at
        the raster's top-left corner. Its centre is the centre of the block clipped to the
        raster (blocks on the right/bottom edge may be partial). The total population is
        unchanged. A factor larger than the raster is read as its larger side (one block,
        the same result; a warning in the log). Memory does not grow with the factor:
        large blocks are read in pieces.
    nodata : float, optional
        Nodata value to use instead of the file's (e.g. ``float("nan")`` or ``-200`` when
        the file does not declare it), compared with the stored value (before scale and
        offset). Internal mask bands are honoured as well.
    crs : optional
        CRS to assume when the file has none (anything :meth:`pyproj.CRS.from_user_input`
        accepts). Ignored, with a warning in the log, when the file has its own.
    window_size : int or (int, int), optional
        Window height/width in cells (rounded up to a multiple of ``aggregate``). Default:
        whole internal blocks up to about 1024 x 1024 cells (whole strips across the raster
        for a striped file).
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
        ``crs``, ``band``, ``scale``, ``offset``, ``aggregate`` (as read),
        ``total_population`` (sum of all valid cells, float64), ``cells``,
        ``cells_nodata``, ``cells_zero``, ``cells_populated``, ``demand_rows``,
        ``windows``, ``window_shape``.

    Raises
    ------
    InputValidationError
        A file that is no GeoTIFF (a renamed table), unreadable, truncated or corrupt;
        several bands and no ``band``; a bad band/aggregate; more than
        :data:`MAX_RASTER_CELLS` cells; no CRS or geotransform (or control points only);
        an unusable scale/offset; negative, NaN or infinite values that are not nodata;
        cells that cannot be transformed; no populated cell.

    Notes
    -----
    GDAL's block cache is capped at ``_GDAL_CACHE_MB`` (64 MB) while reading: windows are
    made of whole blocks, so each block is read once and a larger cache only grows the
    process.
    """
    import rasterio
    import rasterio.errors
    from pyproj import CRS, Transformer
    from rasterio.enums import MaskFlags

    from ..wording import counted

    report = _Report(str(path), "population raster", option_style=option_style)
    factor = _checked_aggregate(report, aggregate)
    p = Path(path)
    src = _open_raster(report, p)

    with src:
        band = _checked_band(report, src, p, band)
        _check_size(report, src, p)
        raster_crs, given = _checked_crs(report, src, p, crs)
        report.raise_if_any()  # the size, with the CRS's problems
        scale = _checked_scale(report, src, p, band)
        nd = src.nodatavals[band - 1] if nodata is None else float(nodata)
        flags = src.mask_flag_enums[band - 1]
        use_mask_band = MaskFlags.per_dataset in flags or MaskFlags.alpha in flags
        height, width = src.height, src.width
        factor = _capped_aggregate(p, factor, (height, width))
        base = _window_shape(src.block_shapes[band - 1], (height, width), window_size)
        budget = max(_MAX_WINDOW_CELLS, min(base[0], height) * min(base[1], width))
        rows, cols, pieces, (win_h, win_w) = _plan_windows((height, width), base, factor,
                                                           budget)
        tr = Transformer.from_crs(CRS.from_user_input(raster_crs), 4326, always_xy=True)
        how = _Read(band, nd, use_mask_band, scale, factor, tr)
        try:
            with rasterio.Env(GDAL_CACHEMAX=_GDAL_CACHE_MB):
                scan = _scan_windows(src, p, how, rows, cols, pieces)
        except rasterio.errors.RasterioIOError as exc:  # a block GDAL cannot read
            _raise_truncated(report, exc)

    _raise_bad_cells(report, scan.bad, raster_crs, given, scale)
    demand = _demand_table(report, scan, factor)
    total = scan.total
    info = {
        "source": str(path),
        "kind": "raster",
        "crs": CRS.from_user_input(raster_crs).to_string(),
        "band": band,
        "scale": scale[0],
        "offset": scale[1],
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
        "%s: %d x %d raster (%s) in %s of %d x %d%s: total population %.6g in %s (%s, %s) "
        "-> %s (aggregate %d)",
        path,
        height,
        width,
        info["crs"],
        counted(scan.n_windows, "window"),
        win_h,
        win_w,
        " (pieces of blocks)" if pieces else "",
        total,
        counted(scan.n_pos, "populated cell"),
        counted(scan.n_nodata, "nodata cell"),
        counted(scan.n_zero, "zero cell"),
        counted(len(demand), "demand point"),
        factor,
    )
    out_total = float(demand["population"].sum())
    if not np.isclose(out_total, total, rtol=1e-9, atol=1e-6):  # pragma: no cover - guard
        raise AssertionError(f"population not preserved: read {total}, output {out_total}")
    return demand
