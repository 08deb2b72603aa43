"""Reading and validating demand (population) and candidate-site files.

Two tables enter the planner:

* **demand** -- where the users are and how many: ``demand_id``, ``lat``, ``lon``,
  ``population``, ``name`` and, when the input has one, ``access`` (the access-network
  technology, a key of :data:`coverage.model.latency.ACCESS_PROFILES_MS`);
* **sites** -- where a micro-site may be placed: ``site_id``, ``lat``, ``lon``, ``name``,
  ``tier``, ``required`` and, when the input has one, ``cost``.

Both can be read from CSV (``.csv``, ``.csv.gz``, ``.txt``, ``.tsv``), GeoJSON, GeoPackage,
Shapefile and (Geo)Parquet files, or taken from an in-memory (Geo)DataFrame. Column names
are matched case-insensitively against a list of aliases (see :data:`DEMAND_ALIASES` and
:data:`SITE_ALIASES`). Coordinates always come out as EPSG:4326 degrees.

Validation collects *every* problem of an input before raising a single
:class:`~coverage.errors.InputValidationError` whose message names the file, each problem,
the offending rows (1-based data-row numbers: row 1 is the first data row after a CSV
header, or the first feature of a vector file) and how to fix it.

Hostile or sloppy inputs are handled as follows (the decisions, in one place):

* **CSV dialect** -- a ``.csv``/``.txt`` whose header line holds no ``,`` but ``;`` (or a
  tab) is read with that separator, with a log line saying so; in a ``;``-separated file a
  number with one decimal comma (``50,85``) is read as ``50.85`` (the locales that write
  ``;`` use ``,`` as the decimal mark). A trailing separator on every line (an empty extra
  column, with or without a header name) is dropped with a log line; data rows with more
  non-empty fields than the header are refused. A NUL byte anywhere in the file (scanned in
  1 MiB blocks, so memory stays bounded for any size) is refused with its byte offset and
  line; a UTF-16 file is refused with "re-save as UTF-8". A plain CSV file without a
  quote character is parsed by Arrow's multithreaded reader when every row has the
  header's fields and the text is UTF-8 (the same table, in a sixth of the time on 1M
  rows); any other file by pandas, whose table the rules here describe.
* **Ids and names are text**: only an empty cell is missing (``NA``, ``None``, ``null``,
  ``nan`` are ids like any other, e.g. Namibia's ``NA``); ids longer than 64-bit integers
  survive exactly. Ids stored as floating-point numbers of 2**53 or more (JSON numbers,
  float columns) have already lost digits and are refused.
* **Ambiguous columns**: two columns matching the same field (``LAT`` and ``lat``, ``lat``
  and ``latitude``, two population columns, ...) are refused, naming both; for ``name``
  only a case-only clash is refused (``name`` and ``city`` both present: ``name`` wins).
* **Multi-layer vector files** need ``layer=`` (CLI ``--demand-layer`` /
  ``--candidates-layer``); the message lists the layers.
* **Degrees declared as metres**: with a projected CRS (``crs=``/``--demand-crs`` or the
  file's own), coordinates with ``|x|`` and ``|y|`` below 360 units (which land within a
  few hundred metres of the CRS origin, e.g. lat/lon 0/0 for EPSG:3857) look like degrees:
  refused when they are at least half of the points, else a warning names the rows.
* **Antimeridian**: a polygon or line spanning more than 180 degrees of longitude whose
  span shrinks when negative longitudes are shifted by +360 is placed on the shifted
  geometry (then shifted back), so a Fiji polygon from 179 to -179 stays in Fiji.
* **Plausibility limits** (also for DataFrames given to :func:`coverage.plan_sites`):
  population per point <= :data:`MAX_POPULATION_PER_POINT` and in total <=
  :data:`MAX_POPULATION_TOTAL`; candidate ``cost`` within [:data:`MIN_COST`,
  :data:`MAX_COST`] and max/min <= :data:`MAX_COST_RATIO`.
* **In-memory (Geo)DataFrames** (:func:`as_demand` / :func:`as_sites`, what
  :func:`coverage.plan_sites` calls): the caller's frame is never changed; its index is
  dropped (shuffled, duplicated, text or MultiIndex: rows are numbered in order) but for a
  level named like one of the table's fields (``df.set_index("site_id")``), which is that
  column. A boolean column is no number (``population = df.pop > 1000`` is refused, not
  read as 0/1); ``1`` and ``1.0`` in an object id column are one id. Text that is not
  valid Unicode (a lone surrogate) is refused in any column. A carried column whose values
  an output cannot store (mixed types, shapely objects, a second GeoSeries, complex
  numbers, periods, fractions, integers beyond 64 bits) is carried as text, a sparse one
  dense, so that ``Plan.to_dir`` never fails on it.
* **An access column empty in every row** is read as absent (the run's access class for
  every point), with a warning; an empty cell among filled ones is refused (which class
  that row has cannot be told).
* **Co-located candidates**: pairs of candidates within ``colocated_m`` metres (default
  :data:`DEFAULT_COLOCATED_M`) are logged as a warning: N-1 would count each as the other's
  backup although one power cut or fibre cut likely takes both.
"""

from __future__ import annotations

import csv
import errno
import gzip
import hashlib
import logging
import math
import os
import re
import warnings
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import CoverageWarning, InputValidationError, LoggedWarning
from ..wording import counted
from .limits import (  # the readers' limits, re-exported here
    DEFAULT_COLOCATED_M,
    DEGREE_LIKE_MAX,
    MAX_COST,
    MAX_COST_RATIO,
    MAX_POPULATION_PER_POINT,
    MAX_POPULATION_TOTAL,
    MIN_COST,
)
from .validation import ProblemReport as _Report
from .validation import crs_kind, file_kind, format_rows
from .validation import format_values as _format_values

__all__ = [
    "file_kind",
    "file_info",
    "sha256_file",
    "DEMAND_ALIASES",
    "SITE_ALIASES",
    "DEFAULT_ACCESS_TYPES",
    "read_demand",
    "resolve_columns",
    "keep_validated",
    "is_validated",
    "read_sites",
    "read_region_table",
    "as_region_table",
    "as_demand",
    "as_sites",
    "format_rows",
    "MAX_POPULATION_PER_POINT",
    "MAX_POPULATION_TOTAL",
    "MIN_COST",
    "MAX_COST",
    "MAX_COST_RATIO",
    "DEFAULT_COLOCATED_M",
    "colocated_threshold",
    "DEGREE_LIKE_MAX",
    "H3_ALIASES",
    "is_h3_table",
    "read_h3_population",
    "read_table",
    "parse_numbers",
    "access_names",
]


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_info(path: str | os.PathLike[str], rows: int | None = None,
              sha256: str | None = None) -> dict[str, object]:
    """How a plan records an input file: ``path``, ``name``, ``sha256`` and, when given,
    ``rows`` (``sha256`` is computed unless passed)."""
    info: dict[str, object] = {"path": str(path), "name": os.path.basename(path),
                               "sha256": sha256 or sha256_file(path)}
    if rows is not None:
        info["rows"] = int(rows)
    return info

logger = logging.getLogger(__name__)

#: Column aliases of demand inputs, by canonical name (matched case-insensitively, in order).
DEMAND_ALIASES: dict[str, tuple[str, ...]] = {
    "demand_id": ("demand_id", "id", "geoid", "fid", "code"),
    "lat": ("lat", "latitude", "y"),
    "lon": ("lon", "lng", "long", "longitude", "x"),
    "population": ("population", "pop", "pop_total", "total_population"),
    "name": ("name", "city", "place", "site_name"),
    "access": ("access", "access_type", "access_technology"),
    "budget_ms": ("budget_ms",),
    "service_class": ("service_class",),
}

#: Column aliases of site inputs, by canonical name (matched case-insensitively, in order).
SITE_ALIASES: dict[str, tuple[str, ...]] = {
    "site_id": ("site_id", "id", "fid", "code"),
    "lat": ("lat", "latitude", "y"),
    "lon": ("lon", "lng", "long", "longitude", "x"),
    "name": ("name", "city", "place", "site_name"),
    "tier": ("tier", "site_tier"),
    "required": ("required", "existing", "fixed"),
    "cost": ("cost",),
}

#: Access technologies accepted when :mod:`coverage.model.latency` cannot be imported.
DEFAULT_ACCESS_TYPES: tuple[str, ...] = (
    "ftth",
    "cable",
    "lld",
    "dsl",
    "lte",
    "5g-nsa",
    "5g-sa",
    "5g-urllc",
    "lan",
)

#: US Census centre-of-population files: FIPS parts concatenated into the id, with widths.
_CENPOP_ID_PARTS: tuple[tuple[str, int], ...] = (
    ("statefp", 2),
    ("countyfp", 3),
    ("tractce", 6),
    ("blkgrpce", 1),
)

_CSV_SUFFIXES = {".csv": ",", ".txt": ",", ".tsv": "\t", ".tab": "\t"}
#: Raster formats GDAL reads that the demand reader does not (it reads GeoTIFF): named in
#: the message with the conversion.
_OTHER_RASTER_SUFFIXES = (".asc", ".img", ".bil", ".xyz", ".nc", ".vrt", ".jp2", ".grd",
                          ".hdf", ".dem", ".adf", ".flt", ".sdat", ".rst", ".ers")
_SEP_NAMES = {",": "','", ";": "';'", "\t": "tab"}
_SCAN_BLOCK_BYTES = 1 << 20
_HEAD_BYTES = 65536
#: The longest header line read (1.4 MB holds 200,000 column names).
_MAX_HEADER_BYTES = 16 << 20
_EXACT_FLOAT_INT = 2.0**53
_PARQUET_SUFFIXES = {".parquet", ".geoparquet", ".pq"}
_VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb", ".gml", ".kml"}
_MISSING_TOKENS = ("", "nan", "na", "n/a", "null", "none", "<na>")
_TRUE_TOKENS = ("true", "t", "yes", "y", "1", "1.0")
_FALSE_TOKENS = ("false", "f", "no", "n", "0", "0.0")
_COMPLETE_HINT = "check the file is complete and in the format its extension says"


# --------------------------------------------------------------------------------------
# Problems and messages
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def read_demand(
    path: str | os.PathLike[str],
    *,
    crs: Any | None = None,
    access_profiles: Collection[str] | Mapping[str, Any] | None = None,
    layer: str | None = None,
    option_style: str = "cli",
) -> pd.DataFrame:
    """Read and validate a demand (population) file.

    Parameters
    ----------
    path : str or path-like
        CSV (``.csv``, ``.csv.gz``, ``.txt``, ``.tsv``), GeoJSON, GeoPackage, Shapefile or
        (Geo)Parquet file. CSV and plain Parquet files need latitude/longitude columns
        (aliases ``lat, latitude, y`` / ``lon, lng, long, longitude, x``); vector files
        use their geometry (polygons and lines by a representative point inside them).
        A GeoTIFF (``.tif``/``.tiff``) is read as a population raster and a table with an
        ``h3`` column and no latitude/longitude columns (Kontur) as H3 cells, by
        :mod:`coverage.inputs.raster`.
    crs : optional
        CRS of the coordinate columns of a CSV / plain Parquet file (anything
        :meth:`pyproj.CRS.from_user_input` accepts, e.g. ``"EPSG:3857"``), or of a vector
        file that has no CRS of its own. ``None`` means EPSG:4326 degrees.
    access_profiles : collection of str or mapping, optional
        Allowed access technologies (keys are used for a mapping). Defaults to the keys of
        :data:`coverage.model.latency.ACCESS_PROFILES_MS`.
    layer : str, optional
        Layer of a multi-layer vector file (GeoPackage, ...; CLI ``--demand-layer``).
        Required when the file has more than one layer; refused for CSV/Parquet.
    option_style : {"cli", "toml"}, default "cli"
        How error messages name ``crs`` and ``layer``: the command line's
        ``--demand-crs EPSG:3857``, or a batch file's ``demand_crs = "EPSG:3857"``.

    Returns
    -------
    pandas.DataFrame
        RangeIndex; columns ``demand_id`` (str, unique), ``lat``, ``lon`` (float64,
        EPSG:4326 degrees), ``population`` (float64, finite, 0 to
        :data:`MAX_POPULATION_PER_POINT`), ``name`` (str) and,
        only if the input has an access column, ``access`` (str, lower case); the
        remaining input columns follow.

    Raises
    ------
    InputValidationError
        Listing every problem found (file, problem, rows, fix).
    """
    if Path(path).suffix.lower() in (".tif", ".tiff"):
        from .raster import read_population_raster

        if layer is not None:  # (it was ignored: tester 146)
            report = _Report(str(path), "population raster", option_style=option_style)
            report.add(f"a layer ({layer!r}) was given but a GeoTIFF has no layers",
                       f"drop layer= / {report.option('layer')} (it is for multi-layer "
                       "vector files such as GeoPackages; a GeoTIFF is read by its band 1)")
            report.raise_if_any()
        return read_population_raster(path, crs=crs, option_style=option_style)
    report = _Report(str(path), "demand", option_style=option_style)
    loaded = load_file(path, report, layer=layer)
    if is_h3_table(loaded.frame):
        return _h3_demand(loaded, report, access_profiles)
    return _build(loaded, report, kind="demand", crs=crs, access_profiles=access_profiles)


def read_sites(
    path: str | os.PathLike[str],
    *,
    crs: Any | None = None,
    layer: str | None = None,
    colocated_m: float | None = None,
    option_style: str = "cli",
) -> pd.DataFrame:
    """Read and validate a candidate-site file.

    Parameters
    ----------
    path : str or path-like
        Same formats as :func:`read_demand`.
    crs : optional
        CRS of the coordinate columns, as in :func:`read_demand`.
    layer : str, optional
        Layer of a multi-layer vector file (CLI ``--candidates-layer``); see
        :func:`read_demand`.
    colocated_m : float, optional
        Log a warning naming candidate pairs within this many metres of each other (a
        failure that takes one likely takes both, yet a plan that tolerates failures, N-1
        and up, counts each as the other's backup). ``None`` means
        :data:`DEFAULT_COLOCATED_M`; 0 disables the check. The value is kept in
        ``attrs["colocated_m"]`` of the result: :func:`as_sites` (and
        :func:`coverage.plan_sites`) check a changed frame with the same threshold.
    option_style : {"cli", "toml"}, default "cli"
        How error messages name ``crs`` and ``layer`` (as in :func:`read_demand`).

    Returns
    -------
    pandas.DataFrame
        RangeIndex; columns ``site_id`` (str, unique), ``lat``, ``lon`` (float64,
        EPSG:4326 degrees), ``name`` (str), ``tier`` (str, ``"candidate"`` when absent),
        ``required`` (bool, from a ``required``/``existing``/``fixed`` column holding
        true/false/1/0/yes/no, default False) and, only if present in the input, ``cost``
        (float64, in [:data:`MIN_COST`, :data:`MAX_COST`], max/min at most
        :data:`MAX_COST_RATIO`); the remaining input columns follow.

    Raises
    ------
    InputValidationError
        Listing every problem found (file, problem, rows, fix).
    """
    colocated_m = colocated_threshold(colocated_m)
    report = _Report(str(path), "sites", option_style=option_style)
    loaded = load_file(path, report, layer=layer)
    return _build(loaded, report, kind="sites", crs=crs, access_profiles=None,
                  colocated_m=colocated_m)


def colocated_threshold(colocated_m: Any) -> float:
    """``colocated_m`` checked: :data:`DEFAULT_COLOCATED_M` for ``None``, else a finite
    number of metres >= 0 (0: no check).

    Raises
    ------
    InputValidationError
        Anything else (-1 and NaN were taken, and turned the check off: tester 145).
    """
    if colocated_m is None:
        return DEFAULT_COLOCATED_M
    try:
        ok = not isinstance(colocated_m, bool) and math.isfinite(float(colocated_m))
    except (TypeError, ValueError):
        ok = False
    if not ok or float(colocated_m) < 0:
        raise InputValidationError(
            f"colocated_m must be a number of metres >= 0 (0 turns the co-located check "
            f"off); got {colocated_m!r}")
    return float(colocated_m)


def read_region_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate a cloud-region file (``compare --regions``) as a sites file.

    Same formats and checks as :func:`read_sites` (no co-location warning), with messages
    that call it a regions input and its id ``region_id``; a ``region_id`` column
    (case-insensitive) is the id before the sites' aliases (``site_id``, ``id``, ``fid``,
    ``code``: a GeoJSON feature id, a GIS export's fid), so its duplicates are refused.

    Returns
    -------
    pandas.DataFrame
        As :func:`read_sites`, the id in ``site_id``.
    """
    report = _Report(str(path), "regions")
    return _build_regions(load_file(path, report), report)


def as_region_table(obj: pd.DataFrame, *, source: str = "<regions>") -> pd.DataFrame:
    """Validate an in-memory (Geo)DataFrame of cloud regions as :func:`read_region_table`
    validates a file (coordinates in range and finite, unique non-empty ids; the id in a
    ``region_id`` column before the sites' aliases).

    Parameters
    ----------
    obj : pandas.DataFrame or geopandas.GeoDataFrame
        Regions: an id column and ``lat``/``lon`` (or a geometry).
    source : str, default "<regions>"
        Name used for the input in error messages.

    Returns
    -------
    pandas.DataFrame
        As :func:`read_sites`, the id in ``site_id``.

    Raises
    ------
    InputValidationError
        Listing every problem found (rows named).
    """
    report = _Report(source, "regions", option_style="api")
    return _build_regions(_load_object(obj, report), report)


def _build_regions(loaded: _Loaded, report: _Report) -> pd.DataFrame:
    """A loaded regions table validated as sites, its ``region_id`` column the id."""
    frame = loaded.frame
    region_id = _find_column(frame.columns, ("region_id",))
    if region_id is not None:  # the id, before the sites' aliases (a GeoJSON id, a fid)
        site_id = _find_column(frame.columns, ("site_id",))
        renames = {region_id: "site_id"}
        if site_id is not None:
            renames[site_id] = f"{site_id}_in_file"
        loaded.frame = frame.rename(columns=renames)
    return _build(loaded, report, kind="sites", crs=None, access_profiles=None,
                  colocated_m=0)


def read_table(path: str | os.PathLike[str], report: _Report
               ) -> tuple[pd.DataFrame, str]:
    """A file's raw table and its decimal mark (``","`` for a ``;``-separated CSV), read
    and checked as :func:`read_demand` reads its file (missing, empty, binary, UTF-16,
    truncated gzip, duplicate column names: problems of ``report``, raised)."""
    loaded = load_file(path, report)
    return loaded.frame, loaded.decimal


def parse_numbers(s: pd.Series, decimal: str = "."
                  ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Numbers of a column as the readers parse them: ``(values, missing, bad)``."""
    return _numeric(s, decimal)


def as_demand(
    obj: pd.DataFrame,
    *,
    source: str = "<DataFrame>",
    crs: Any | None = None,
    access_profiles: Collection[str] | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Validate an in-memory (Geo)DataFrame as demand; same contract as :func:`read_demand`.

    Parameters
    ----------
    obj : pandas.DataFrame or geopandas.GeoDataFrame
        With latitude/longitude columns, or an active geometry column.
    source : str, default "<DataFrame>"
        Name used for the input in error messages.
    crs : optional
        CRS of the coordinate columns (or of a GeoDataFrame without a CRS).
    access_profiles : collection of str or mapping, optional
        Allowed access technologies; see :func:`read_demand`.

    Returns
    -------
    pandas.DataFrame
        See :func:`read_demand`.

    Raises
    ------
    InputValidationError
        Listing every problem found.
    """
    if crs is None and _already_validated(obj, "demand", access_profiles):
        return obj.copy()  # read and validated once (read_demand / an earlier as_demand)
    report = _Report(source, "demand", option_style="api")
    loaded = _load_object(obj, report)
    return _build(loaded, report, kind="demand", crs=crs, access_profiles=access_profiles)


def as_sites(
    obj: pd.DataFrame,
    *,
    source: str = "<DataFrame>",
    crs: Any | None = None,
    colocated_m: float | None = None,
) -> pd.DataFrame:
    """Validate an in-memory (Geo)DataFrame as sites; same contract as :func:`read_sites`.

    Parameters
    ----------
    obj : pandas.DataFrame or geopandas.GeoDataFrame
        With latitude/longitude columns, or an active geometry column.
    source : str, default "<DataFrame>"
        Name used for the input in error messages.
    crs : optional
        CRS of the coordinate columns (or of a GeoDataFrame without a CRS).
    colocated_m : float, optional
        See :func:`read_sites`. ``None``: the value an earlier :func:`read_sites` /
        :func:`as_sites` recorded in ``obj.attrs["colocated_m"]``, else
        :data:`DEFAULT_COLOCATED_M`. A frame returned by them and not changed since is
        not validated (nor checked) again.

    Returns
    -------
    pandas.DataFrame
        See :func:`read_sites`.

    Raises
    ------
    InputValidationError
        Listing every problem found.
    """
    if crs is None and colocated_m is None and _already_validated(obj, "sites", None):
        return obj.copy()  # read and validated once (read_sites / an earlier as_sites)
    report = _Report(source, "sites", option_style="api")
    loaded = _load_object(obj, report)
    if colocated_m is None:  # the threshold the frame was read with, else the default
        colocated_m = getattr(obj, "attrs", {}).get("colocated_m", DEFAULT_COLOCATED_M)
    return _build(loaded, report, kind="sites", crs=crs, access_profiles=None,
                  colocated_m=colocated_threshold(colocated_m))


_NEVER_USED = ("capacity", "workload", "pue", "requests_per_day", "srlg", "risk_group")
UNUSED_BUT_MEANINGFUL: dict[str, tuple[str, ...]] = {
    # site properties given on demand rows, and the other way round
    "demand": _NEVER_USED + ("capacity_rps", "power_kw", "failure_domain", "local_breakout",
                             "tier"),
    "sites": _NEVER_USED + ("load_rps", "tiers", "budget_ms", "service_class"),
}
"""Column names a user may expect the planner to use, which it does not (on that table):
named in a warning so that nobody believes they changed the plan."""


def _name_unused(kind: str, columns: list[str], source: str) -> None:
    """Say once which columns the planner carries without using them."""
    unused = UNUSED_BUT_MEANINGFUL.get(kind, _NEVER_USED)
    meaningful = [c for c in columns if c.strip().lower() in unused]
    if meaningful:
        logger.warning(
            "%s: column(s) %s are not used by the planner (they do not change the plan; "
            "they are carried to the outputs)", source, ", ".join(meaningful))
    rest = [c for c in columns if c not in meaningful]
    if rest:
        logger.info("%s: %s column(s) carried to the outputs: %s", source, kind,
                    ", ".join(rest[:12]) + (f" and {len(rest) - 12} more" if len(rest) > 12
                                            else ""))


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


@dataclass
class _Loaded:
    """A raw attribute table plus, for vector inputs, the geometry column (a GeoSeries)."""

    frame: pd.DataFrame
    geometry: Any | None = None  # geopandas.GeoSeries
    empty_file: bool = False
    # "," for a ';'-separated CSV (decimal commas in number columns), ",." when it holds
    # decimal commas (50,85): its dots are then thousands separators (1.019.022)
    decimal: str = "."
    # an in-memory (Geo)DataFrame (messages speak of a table, not of a file)
    in_memory: bool = False
    # a CSV's columns whose header field is empty (pandas names them "Unnamed: N"),
    # with their 1-based positions in the header line, for messages
    unnamed: Mapping[str, int] = field(default_factory=dict)


def _load_object(obj: Any, report: _Report) -> _Loaded:
    if not isinstance(obj, pd.DataFrame):
        report.add(
            f"expected a pandas DataFrame or GeoDataFrame, got {type(obj).__name__}",
            "pass a DataFrame, or a file path to read_demand/read_sites",
        )
        report.raise_if_any()
    return replace(_split_geometry(_quiet_decimals(_index_as_columns(obj, report))),
                   in_memory=True)


def _quiet_decimals(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every signalling ``Decimal('sNaN')`` of its object columns missing
    (``None``): pandas' null check raises ``decimal.InvalidOperation`` on one, from inside
    any of the readers' steps, with no row named (tester 192). A column is read value by
    value only when that check fails on it; ``df`` itself comes back when none does."""
    fixed: dict[Any, pd.Series] = {}
    for c in dict.fromkeys(df.columns):
        col = df[c]
        # (a repeated column name, a DataFrame here, is named elsewhere)
        if isinstance(col, pd.DataFrame) or not pd.api.types.is_object_dtype(col.dtype):
            continue
        try:
            col.isna()
        except ArithmeticError:
            fixed[c] = col.map(lambda v: None if isinstance(v, Decimal) and v.is_snan()
                               else v)
    if not fixed:
        return df
    out = df.copy(deep=False)  # (the caller's frame is not changed)
    for c, v in fixed.items():
        out[c] = v
    return out


def _index_as_columns(df: pd.DataFrame, report: _Report) -> pd.DataFrame:
    """``df`` with its index levels named like one of the table's fields as columns.

    ``df.set_index("site_id")`` is how pandas keys a table by its id: the index was
    dropped, so the plan named the sites by row numbers. A level named like an alias of a
    field (``site_id``, ``id``, ``name``, ``lat``, ... case-insensitive; ``region_id`` for
    regions) becomes a column, unless a column of that very name exists (``set_index(...,
    drop=False)``: the level repeats it). Other levels (unnamed, or named otherwise) are
    dropped as before. The caller's frame is not changed.

    Parameters
    ----------
    df : pandas.DataFrame or geopandas.GeoDataFrame
        The caller's table.
    report : ProblemReport
        Its report (``kind`` selects the aliases; ``source`` names it in the log).

    Returns
    -------
    pandas.DataFrame
        ``df`` itself when no level moves, else a new frame.
    """
    aliases = DEMAND_ALIASES if report.kind == "demand" else SITE_ALIASES
    known = {a for names in aliases.values() for a in names}
    if report.kind == "regions":
        known.add("region_id")
    columns = {c for c in df.columns if isinstance(c, str)}
    move = [name for name in df.index.names
            if isinstance(name, str) and name.strip().lower() in known and name not in columns]
    if not move or len(set(move)) < len(move):
        return df
    logger.info("%s: index level(s) %s used as column(s)", report.source, _format_values(move))
    return df.reset_index(level=move)


def _split_geometry(df: pd.DataFrame) -> _Loaded:
    """Separate the active geometry (if any) from the attribute columns."""
    import geopandas as gpd

    if isinstance(df, gpd.GeoDataFrame):
        geom_name = df.active_geometry_name
        if geom_name is not None and geom_name in df.columns:
            geom = df.geometry.reset_index(drop=True)
            attrs = pd.DataFrame(df.drop(columns=[geom_name])).reset_index(drop=True)
            return _Loaded(attrs, geom)
    return _Loaded(pd.DataFrame(df).reset_index(drop=True))


def _suffixes(path: Path) -> tuple[str, bool]:
    """Return (format suffix, gzip-compressed) from a file name."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        return (suffixes[-2] if len(suffixes) > 1 else ""), True
    return (suffixes[-1] if suffixes else ""), False


def load_file(
    path: str | os.PathLike[str], report: _Report, layer: str | None = None
) -> _Loaded:
    """A file's raw table, its geometry (if any) and its decimal mark, read and checked as
    the demand and sites readers read theirs (problems go to ``report``); reader warnings
    are logged."""
    # Reader chatter (GDAL's "duplicate feature ids", "unrecognized user_version", pandas'
    # parser notes) is logged, not shown as Python warnings.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return _load_file_quiet(path, report, layer)
        finally:
            for w in caught:
                logger.info("%s: while reading: %s", report.source, w.message)


def _broken_link(p: Path) -> str | None:
    """Why the path ``p``, which does not resolve, is a symbolic link that leads nowhere:
    one that loops, or one to a path that does not exist; None when it is no link."""
    if not p.is_symlink():
        return None
    try:
        p.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 raises this for a loop
        return "it is a symbolic link that loops (it leads back to itself)"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "it is a symbolic link that loops (it leads back to itself)"
        return f"it is a symbolic link to {os.readlink(p)}, which does not exist"
    return None


def _holds_bytes(p: Path) -> bool | str:
    """Whether reading ``p`` (a regular file the system says has 0 bytes) gives a byte, or
    why it cannot be read (the error's text)."""
    try:
        with open(p, "rb") as fh:
            return bool(fh.read(1))
    except OSError as exc:
        return exc.strerror or type(exc).__name__


#: File systems whose files the kernel makes as they are read (their sizes say nothing).
_KERNEL_FS = frozenset({"proc", "sysfs", "debugfs", "tracefs", "securityfs", "cgroup",
                        "cgroup2", "configfs", "bpf", "pstore", "efivarfs", "binfmt_misc"})


def _kernel_fs(p: Path) -> tuple[str, str] | None:
    """``(mount point, type)`` of the kernel file system (/proc, /sys, ...) holding ``p``,
    or None: the innermost mount of ``/proc/self/mounts`` that holds its real path."""
    try:
        real = os.path.realpath(p)
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as fh:
            mounts = [f[1:3] for f in map(str.split, fh) if len(f) >= 3]
    except OSError:
        return None
    best: tuple[str, str] | None = None
    for point, fstype in mounts:
        point = point.replace("\\040", " ")
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, fstype)
    return best if best is not None and best[1] in _KERNEL_FS else None


def _load_file_quiet(path: str | os.PathLike[str], report: _Report, layer: str | None) -> _Loaded:
    p = Path(path)
    if "\x00" in str(p):  # no file system takes one; os calls raise ValueError
        report.add("the path holds a NUL character, which no path may hold",
                   "give the path without it")
        report.raise_if_any()
    try:
        os.stat(p)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:  # Path.exists() raises it
            report.add(f"the path is too long ({exc.strerror}: a name in it may have at "
                       "most 255 bytes, the whole path 4,096)", "give a shorter path")
            report.raise_if_any()
    if not p.exists():
        link = _broken_link(p)
        report.add(
            "file not found" + (f": {link}" if link else ""),
            f"check the path (working directory is {os.getcwd()!r})",
        )
        report.raise_if_any()
    if not p.is_file():
        kind = file_kind(p)
        report.add(f"path is {kind}, not a regular file", "pass the path of a file" + (
            "" if kind == "a directory" else
            " (a named pipe or a device cannot be read twice, as the checks need)"))
        report.raise_if_any()
    kernel = _kernel_fs(p)
    if kernel is not None:
        report.add(
            f"the file is under {kernel[0]}, a {kernel[1]} file system: the kernel makes its "
            "files as they are read: it is no data table",
            "pass a CSV or vector file (to plan from such a file's text, copy it to a "
            "regular file first, e.g. cp FILE copy.csv)",
        )
        report.raise_if_any()
    size = p.stat().st_size
    if not os.access(p, os.R_OK):
        report.add("file cannot be read: permission denied",
                   "give your user read permission on it (e.g. chmod u+r), or copy it to a "
                   "readable place")
        report.raise_if_any()
    if size == 0:
        holds = _holds_bytes(p)
        if isinstance(holds, str):
            report.add(f"file cannot be read: {holds}",
                       "check the path and your permissions, or copy the file to a "
                       "readable place")
        elif holds:  # made as it is read, with a size of 0 (a FUSE or kernel file)
            report.add(
                "the system reports the file's size as 0 but reading it gives data: a "
                "file generated as it is read (a FUSE or kernel file system), which the "
                "checks cannot read twice as the same file",
                "copy it to a regular file first (e.g. cp FILE copy.csv) and pass the copy",
            )
        else:
            report.add(
                "file is empty (0 bytes, no header and no data rows)",
                "write a header line and at least one data row, " + _COMPLETE_HINT,
            )
        report.raise_if_any()

    suffix, gz = _suffixes(p)
    if layer is not None and (suffix in _CSV_SUFFIXES or suffix in _PARQUET_SUFFIXES or gz):
        report.add(
            f"a layer ({layer!r}) was given but a {suffix or 'plain'} file has no layers",
            f"drop layer= / {report.option('layer')} (it is for multi-layer vector files "
            "such as GeoPackages)",
        )
        report.raise_if_any()
    try:
        if suffix in _CSV_SUFFIXES:
            return _read_csv(p, _CSV_SUFFIXES[suffix], gz, report)
        if gz:
            report.add(
                f"unsupported compressed format {''.join(p.suffixes)!r}",
                "only .csv.gz/.txt.gz/.tsv.gz are read compressed; decompress the file",
            )
            report.raise_if_any()
        if suffix in _PARQUET_SUFFIXES:
            return _read_parquet(p)
        if suffix == ".gpkg":
            _check_sqlite(p, report)
        elif suffix == ".shp":
            _check_shapefile(p, report)
        return _read_vector(p, _pick_layer(p, layer, report))
    except InputValidationError:
        raise
    except UnicodeDecodeError as exc:
        bad = (_first_non_utf8(p, gz=False)
               if suffix in (".geojson", ".json") and not gz else None)
        if bad is None:
            report.add(f"cannot read the file: text that is not UTF-8 ({exc.reason})",
                       "re-save it as UTF-8, " + _COMPLETE_HINT)
        else:
            report.add(f"file is not UTF-8 text: line {bad[0]} (byte {bad[1]}) holds a byte "
                       f"that is not UTF-8; read as Windows-1252 (Latin-1) it says "
                       f"{bad[2]!r}", "re-save it as UTF-8 (GeoJSON is UTF-8 by "
                       "definition, RFC 7946), " + _COMPLETE_HINT)
        report.raise_if_any()
    except Exception as exc:  # noqa: BLE001 - any parser failure becomes a validation error
        known = suffix in _CSV_SUFFIXES or suffix in _PARQUET_SUFFIXES or suffix in _VECTOR_SUFFIXES
        what = "cannot read the file" if known else f"unsupported or unreadable format {suffix!r}"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = reason.split("; It might help to specify")[0]  # (GDAL's: no help here)
        fix = _COMPLETE_HINT
        fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if fields:
            fix = (f"line {fields[2]} has {fields[3]} fields but the header has {fields[1]}: "
                   "quote values that contain the separator, or remove the extra fields")
        if not known:
            fix += (
                "; supported: .csv, .csv.gz, .txt, .tsv, .geojson, .json, .gpkg, .shp, "
                ".parquet/.geoparquet"
                + (", and .tif/.tiff for a population raster" if report.kind == "demand"
                   else "")
            )
            if report.kind in ("demand", "sites") and (
                    suffix in _OTHER_RASTER_SUFFIXES or suffix in (".tif", ".tiff")):
                # (the list left out GeoTIFF and gave no way on: tester 146)
                fix += ("; candidate sites are a table of points, not a raster"
                        if report.kind == "sites" else
                        f"; a raster in another format: convert it to GeoTIFF "
                        f"(gdal_translate -of GTiff in{suffix} out.tif)")
        report.add(f"{what}: {type(exc).__name__}: {reason}", fix)
        report.raise_if_any()
    raise AssertionError("unreachable")  # pragma: no cover


def _find_nul(path: Path, gz: bool) -> tuple[tuple[int, int] | None, bool]:
    """Byte offset (0-based) and line (1-based) of the first NUL byte (or None), and
    whether the file holds a quote character (``"``), in one pass.

    Streams the (decompressed) file in blocks of :data:`_SCAN_BLOCK_BYTES`, so memory stays
    bounded whatever the file size.
    """
    opener = gzip.open if gz else open
    offset, line, quote = 0, 1, False
    with opener(path, "rb") as fh:
        while block := fh.read(_SCAN_BLOCK_BYTES):
            at = block.find(b"\x00")
            if at >= 0:
                return (offset + at, line + block.count(b"\n", 0, at)), quote
            quote = quote or b'"' in block
            offset += len(block)
            line += block.count(b"\n")
    return None, quote

def _first_non_utf8(path: Path, gz: bool) -> tuple[int, int, str] | None:
    """Line (1-based), byte offset (0-based; of the decompressed text when ``gz``) and
    that line (or 60 bytes each side of it) read as Windows-1252 (the usual other encoding
    of a spreadsheet's CSV) of the first byte that is not UTF-8, or None.

    Streams the (decompressed) file in blocks, with an incremental decoder (a character
    split across two blocks is not an error); the end of the block before is kept, so the
    line shown is whole when the bad byte lies just after a block boundary. Only called
    once pandas found such a byte.
    """
    import codecs

    opener = gzip.open if gz else open
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1  # bytes and newlines before ``block``
    tail = b""  # the last bytes before ``block`` (at most 60, up to their line's start)
    with opener(path, "rb") as fh:
        while True:
            block = fh.read(_SCAN_BLOCK_BYTES)
            held = len(decoder.getstate()[0])  # a character's start, left from the last block
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                # exc.start counts from the held bytes, which end the block before
                absolute = offset - held + exc.start
                buf = tail + block
                at = absolute - (offset - len(tail))  # the bad byte's index in buf
                line_no = line - tail.count(b"\n") + buf.count(b"\n", 0, at)
                start = buf.rfind(b"\n", 0, at) + 1
                if buf.find(b"\n", at) < 0 and len(buf) < at + 60:  # the line goes on
                    buf += fh.read(at + 60 - len(buf))
                end = buf.find(b"\n", at)
                end = end if end >= 0 else len(buf)
                # the line, or 60 bytes each side of the bad one on a long line
                text = buf[max(start, at - 60):min(end, at + 60)]
                return line_no, absolute, text.decode("cp1252", "replace").strip()
            if not block:
                return None
            tail = (tail + block)[-60:]
            offset += len(block)
            line += block.count(b"\n")


def _header_line(head: bytes) -> str:
    """First line of a CSV head (BOM dropped, undecodable bytes replaced)."""
    text = head.decode("utf-8-sig", errors="replace")
    return text.splitlines()[0] if text.strip() else ""


def _read_csv(path: Path, sep: str, gz: bool, report: _Report) -> _Loaded:
    opener = gzip.open if gz else open
    with opener(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
        # the whole header line (a file of 200,000 columns has a 1.4 MB one: cut at 64 KiB
        # its last name matched an earlier one, "duplicate column names"; tester 159), up
        # to _MAX_HEADER_BYTES; each new block searched once (review 144)
        if len(head) >= _HEAD_BYTES and b"\n" not in head and b"\r" not in head:
            blocks, size = [head], len(head)
            while size < _MAX_HEADER_BYTES:
                more = fh.read(_HEAD_BYTES)
                if not more:
                    break
                blocks.append(more)
                size += len(more)
                if b"\n" in more or b"\r" in more:
                    break
            else:
                report.add(f"the first line is longer than {_MAX_HEADER_BYTES >> 20} MiB "
                           "without a line break: no header line a table has",
                           "check that the file is a CSV with one line per row")
                report.raise_if_any()
            head = b"".join(blocks)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        report.add(
            "file is UTF-16 text, not UTF-8",
            "re-save it as UTF-8 CSV (e.g. Excel: 'CSV UTF-8 (comma delimited)')",
        )
        report.raise_if_any()
    kind = _binary_kind(head)
    if kind is not None:  # a binary format under a .csv name: say which, not "NUL byte"
        what, fix = kind
        if gz:  # the decompressed text is itself one
            what, fix = (("gzip-compressed twice", "decompress it once (gunzip), keeping the "
                          ".csv.gz name") if what == "gzip-compressed" else
                         (f"{what}, compressed with gzip", f"decompress it (gunzip) and {fix}"))
        report.add(f"file is {what}, not comma-separated text", fix)
        report.raise_if_any()
    first = _header_line(head).strip()
    if re.fullmatch(r"sep=.?", first, flags=re.IGNORECASE):
        report.add(
            f"the first line is {first!r}, Excel's hint naming the separator, not the header "
            "line",
            "delete that line (the header must be the first line), or save the sheet as "
            "'CSV UTF-8 (comma delimited)', which writes none",
        )
        report.raise_if_any()
    nul, quoted = _find_nul(path, gz)
    if nul is not None:
        where = "decompressed byte" if gz else "byte"
        report.add(
            f"file contains a NUL byte at {where} {nul[0]} (line {nul[1]}): it is binary or "
            "corrupt, not comma-separated text",
            "export the data as a UTF-8 CSV, " + _COMPLETE_HINT,
        )
        report.raise_if_any()
    bom = b"\xef\xbb\xbf"
    if not head.removeprefix(bom).strip():  # (Excel's "CSV UTF-8" of an empty sheet: a BOM)
        report.add(
            "file is empty (only "
            + ("whitespace" if not head.startswith(bom) else "a byte-order mark"
               if head == bom else "a byte-order mark and whitespace")
            + ", no header and no data rows)",
            "write a header line and at least one data row, " + _COMPLETE_HINT,
        )
        report.raise_if_any()
    header = _header_line(head)
    decimal = "."
    sep = _sniff_separator(header, sep, report)
    if sep == ";":
        decimal = ","
    names = [n.strip() for n in next(csv.reader([header], delimiter=sep), [])]
    seen = Counter(names)
    dup_names = sorted(n for n, c in seen.items() if n and c > 1)
    if dup_names:  # pandas would silently rename the second one 'name.1'
        report.add(
            f"duplicate column names {_format_values(dup_names)} in the header line",
            "give every column a distinct name",
        )
        report.raise_if_any()
    df = None if gz or quoted else _read_csv_arrow(path, sep, len(names))
    try:
        if df is None:
            df = pd.read_csv(
                path,
                sep=sep,
                dtype=str,
                keep_default_na=False,
                encoding="utf-8-sig",
                compression="gzip" if gz else None,
            )
    except UnicodeDecodeError as exc:
        bad = _first_non_utf8(path, gz)
        where = (f"line {bad[0]} ({'decompressed ' if gz else ''}byte {bad[1]}) holds a "
                 "byte that is not UTF-8; read as "
                 f"Windows-1252 (Latin-1) it says {bad[2]!r}" if bad else str(exc))
        report.add(
            f"file is not UTF-8 text: {where}",
            "re-save it as UTF-8 CSV (e.g. Excel: 'CSV UTF-8 (comma delimited)'), "
            + _COMPLETE_HINT,
        )
        report.raise_if_any()
    # a header field left empty or blank has no name: pandas' "Unnamed: N" for both (two
    # blank ones of different widths, " " and "  ", would both strip to "", a duplicate)
    cols = [str(c) for c in df.columns]
    unnamed: dict[str, int] = {}
    for i, c in enumerate(cols):
        if i < len(names) and not names[i]:
            if not c.startswith("Unnamed: "):  # a blank name; one no other column has
                new, k = f"Unnamed: {i}", 0
                while new in cols:
                    k += 1
                    new = f"Unnamed: {i}.{k}"
                cols[i] = new
            unnamed[cols[i]] = i + 1
    df.columns = cols
    df = _trailing_fields(df, sep, report)
    df.columns = [str(c).strip() for c in df.columns]
    df = _empty_rows(df, sep, report)
    if not gz and len(df):
        with open(path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            last = fh.read(1)
        if last not in (b"\n", b"\r"):
            logger.warning(
                "%s: the file does not end with a line break: if it was cut short, its last "
                "row (data row %d) may be incomplete (e.g. a number cut to its first digits); "
                "check that row or copy the file again", report.source, len(df))
    return _Loaded(df, decimal=decimal, unnamed=unnamed)


_ARROW_BLOCK_BYTES = 1 << 20
"""Bytes one Arrow thread parses at a time."""


def _read_csv_arrow(path: Path, sep: str, n_header: int) -> pd.DataFrame | None:
    """Every field of a plain CSV file without quote characters (the caller checks, in its
    scan for NUL bytes) as text, read by Arrow, or None for pandas to read.

    The table ``pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
    encoding="utf-8-sig")`` gives for a well-formed file without quotes (a header and rows
    of as many fields, UTF-8; an empty field is empty text, not missing), in a sixth of the
    time on a 1M-row file. Anything else returns None and pandas reads it, whose checks
    after it name the rows and the fix as before: a file with a quote character anywhere
    (quoting rules differ between the parsers at the edges: an unclosed quote at the end
    of the file is an error for pandas and a long last value for Arrow), a row with more
    or fewer fields, bytes that are not UTF-8, an empty or repeated column name, a file of
    one column or with two byte-order marks.
    """
    try:
        if n_header < 2:  # one column: pandas skips blank-looking lines (spaces, tabs),
            return None      # Arrow keeps them
        import pyarrow as pa
        import pyarrow.csv as pacsv

        with open(path, "rb") as fh:
            first = fh.readline()
        names = first.decode("utf-8-sig").rstrip("\r\n").split(sep)
        if (len(names) != n_header or any(not n for n in names)
                or len(set(names)) < len(names) or names[0].startswith("\ufeff")):
            return None  # a second byte-order mark: pandas drops it, Arrow not
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=_ARROW_BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(delimiter=sep, quote_char=False,
                                             newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False, null_values=[]))
    except Exception as exc:  # noqa: BLE001 - pandas reads it and reports what is wrong
        logger.debug("%s: not read by Arrow (%s: %s); reading it with pandas", path.name,
                     type(exc).__name__, exc)
        return None
    if table.column_names != names:
        return None
    df = table.to_pandas(split_blocks=True, self_destruct=True)
    text = pd.Series([], dtype=str).dtype  # what pandas reads text as (str or object)
    for c in df.columns:
        if df[c].dtype != text:
            df[c] = df[c].astype(text)
    return df


_DECIMAL_COMMA = r"[+-]?\d+,\d+"
_DOT_THOUSANDS = r"[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?"


def _has_decimal_commas(df: pd.DataFrame, columns: Iterable[Any]) -> bool:
    """Whether some cell of ``columns`` of ``df`` (text as read) is a number with a decimal
    comma."""
    for col in columns:
        txt = df[col].astype("string").str.strip()
        if bool(txt.str.fullmatch(_DECIMAL_COMMA).fillna(False).any()):
            return True
    return False


#: At most this many rows after an empty row at the end of a table are named as a footer.
_FOOTER_ROWS = 3


def _empty_rows(df: pd.DataFrame, sep: str, report: _Report) -> pd.DataFrame:
    """Rows whose every field is blank (``;;;;``: rows a spreadsheet cleared but kept):
    those at the end are dropped, with a log line (they hold nothing, and the rows before
    keep their numbers); one among the data is refused on its own, before the other
    checks would name it once per missing field."""
    if not len(df) or not len(df.columns):
        return df

    def empty(col: pd.Series) -> npt.NDArray[np.bool_]:
        return (col.isna() | (col.astype("string").str.strip() == "")).to_numpy(dtype=bool)

    # one pass over the first column; the others only on the rows blank there
    cand = np.flatnonzero(empty(df.iloc[:, 0]))
    for i in range(1, len(df.columns)):
        if not len(cand):
            return df
        cand = cand[empty(df.iloc[cand, i])]
    if not len(cand):
        return df
    blank = np.zeros(len(df), dtype=bool)
    blank[cand] = True
    data = np.flatnonzero(~blank)
    end = int(data[-1]) + 1 if len(data) else 0
    inner = blank.copy()
    inner[end:] = False
    if inner.any():
        report.add(
            f"the row is empty (every field blank, only the {_SEP_NAMES.get(sep, repr(sep))} "
            "separators: a row cleared in a spreadsheet?)",
            "delete those rows",
            inner,
        )
        # a spreadsheet's footer (`,,,` then `Total,,,N`): the rows after the last empty
        # one, when they are a few at the end, named too (tester 174: they were found one
        # per run, the total line only once the empty row was gone)
        last = int(np.flatnonzero(inner)[-1]) + 1
        tail = end - last
        if 0 < tail <= _FOOTER_ROWS:
            # a footer row leaves blank a field every data row above fills (its
            # coordinates); a data row after an empty one does not
            data_rows = ~blank[:last]
            footer = np.zeros(len(df), dtype=bool)
            for c in range(len(df.columns)):
                if data_rows.any() and not empty(df.iloc[:last, c])[data_rows].any():
                    footer[last:end] |= empty(df.iloc[last:end, c])
            n_footer = int(footer.sum())
            if n_footer:
                report.add(
                    f"{'this row follows' if n_footer == 1 else 'these rows follow'} the "
                    "empty row at the end of the table, with a field blank that every "
                    "row above fills: a footer under the data (a total line?)",
                    "delete it too" if n_footer == 1 else "delete them too",
                    footer,
                )
        report.raise_if_any()
    if end < len(df):
        logger.warning("%s: %s at the end with every field blank (only separators) "
                       "skipped", report.source, counted(len(df) - end, "row"))
    return df.iloc[:end].reset_index(drop=True)


def _binary_kind(head: bytes) -> tuple[str, str] | None:
    """What a file named like a CSV is when it is another format, by its first bytes
    (binary formats, and GeoJSON), and the fix; or None."""
    if head.startswith(b"PAR1"):
        return ("a Parquet file", "name it .parquet (it is read as Parquet then)")
    if head.startswith(b"\x1f\x8b"):
        return ("gzip-compressed", "name it .csv.gz (it is read as a compressed CSV then)")
    if head.startswith(b"PK\x03\x04"):
        return ("a zip archive (an Excel .xlsx workbook is one)",
                "save the sheet as 'CSV UTF-8 (comma delimited)', or unpack the archive")
    if head.startswith(b"SQLite format 3\x00"):
        return ("an SQLite database (a GeoPackage is one)", "name it .gpkg")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{") and (b'"type"' in text[:4096] or b'"features"' in text[:4096]):
        return ("JSON (GeoJSON?)", "name it .geojson (it is read as GeoJSON then)")
    return None


def column_list(columns: Iterable[Any], unnamed: Mapping[str, int] | None = None) -> str:
    """The column names of an input for a message, quoted; a column in ``unnamed`` (a CSV
    header field left empty, which pandas names ``Unnamed: N``: no such name is in the
    user's file) is shown by its position in the header line instead.

    >>> column_list(["id", "lat", "Unnamed: 2"], {"Unnamed: 2": 3})
    "'id', 'lat', (column 3: no name)"
    >>> column_list([])
    'none'
    """
    unnamed = unnamed or {}

    def one(c: Any) -> str:
        at = unnamed.get(str(c))
        return f"(column {at}: no name)" if at is not None else repr(str(c))

    return ", ".join(one(c) for c in columns) or "none"


def _sniff_separator(header: str, sep: str, report: _Report) -> str:
    """``sep``, or ``;`` / tab when a comma file's header line holds more of those than commas.

    A ``;``-separated file (Excel in locales with a decimal comma) is read as such, with a
    log line; its numbers may then use a decimal comma (see :func:`_numeric`).
    """
    if sep != ",":
        return sep
    counts = {c: header.count(c) for c in (",", ";", "\t")}
    best = max(counts, key=lambda c: counts[c])
    if best == "," or counts[best] <= counts[","]:
        return sep
    logger.warning(
        "%s: the header line is separated by %s, not ','; reading the file as %s-separated%s",
        report.source,
        _SEP_NAMES[best],
        _SEP_NAMES[best],
        " (numbers with one decimal comma, e.g. 50,85, are read as 50.85)" if best == ";" else "",
    )
    return best


def _trailing_fields(df: pd.DataFrame, sep: str, report: _Report) -> pd.DataFrame:
    """Undo pandas' implicit index (data rows longer than the header) and drop empty
    trailing columns (a separator at the end of every line)."""
    sep_name = _SEP_NAMES.get(sep, repr(sep))
    header = [str(c) for c in df.columns]
    extra_names: list[str] = []
    if not isinstance(df.index, pd.RangeIndex):
        # pandas made the first field(s) the index: every row has more fields than the header
        n_extra = df.index.nlevels
        df = df.reset_index()
        extra_names = [f"Unnamed: {len(header) + i}" for i in range(n_extra)]
        df.columns = [*header, *extra_names]
    blank = [c for c in df.columns if str(c) in extra_names or str(c).startswith("Unnamed: ")]
    if not blank:
        return df
    empty = {
        c: bool((df[c].isna() | (df[c].astype("string").str.strip() == "")).all())
        for c in blank
    }
    drop = [c for c in blank if empty[c]]
    if drop:
        logger.info(
            "%s: every line ends with %s (an empty extra column without a header name); "
            "ignored",
            report.source,
            sep_name,
        )
        df = df.drop(columns=drop)
    longer = [c for c in extra_names if not empty[c]]
    if longer:
        filled = np.zeros(len(df), dtype=bool)
        for c in longer:
            filled |= (df[c].astype("string").str.strip().fillna("") != "").to_numpy(dtype=bool)
        report.add(
            f"data rows have {len(extra_names)} more field(s) than the header line names, "
            f"holding values",
            f"add the missing column name(s) to the header, or remove the extra fields "
            f"(and any {sep_name} at the end of the lines)",
            filled,
        )
        report.raise_if_any()
    return df


def _read_parquet(path: Path) -> _Loaded:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    if b"geo" in meta:
        import geopandas as gpd

        return _split_geometry(gpd.read_parquet(path))
    return _Loaded(pd.read_parquet(path))


def _pick_layer(path: Path, layer: str | None, report: _Report) -> str | None:
    """The layer to read: ``layer`` if the file has it, else its only layer.

    Refuses a file with several layers and no ``layer``, an unknown ``layer`` and a file
    without layers, listing the layers and the option that picks one.
    """
    import pyogrio

    listed = pyogrio.list_layers(path)
    names = [str(name) for name in listed[:, 0]] if len(listed) else []
    kinds = [str(kind) for kind in listed[:, 1]] if len(listed) else []
    shown = ", ".join(
        f"{name!r} ({kind if kind != 'None' else 'no geometry'})"
        for name, kind in zip(names, kinds, strict=True)
    )
    option = f"layer=NAME / {report.option('layer', 'NAME')}"
    if not names:
        report.add("the file has no layers (no tables to read)", _COMPLETE_HINT)
    elif layer is not None and layer not in names:
        report.add(
            f"layer {layer!r} not found; the file has {len(names)} layer"
            f"{'s' if len(names) > 1 else ''}: {shown}",
            f"pick one of them with {option} (names are case-sensitive)",
        )
    elif layer is None and len(names) > 1:
        report.add(
            f"the file has {len(names)} layers and none was chosen: {shown}",
            f"pick the {report.kind} layer with {option}",
        )
    report.raise_if_any()
    return layer


def _read_vector(path: Path, layer: str | None = None) -> _Loaded:
    import geopandas as gpd

    df = gpd.read_file(path, engine="pyogrio", layer=layer)
    return _split_geometry(df)


def _check_sqlite(path: Path, report: _Report) -> None:
    """Detect a GeoPackage that is not SQLite or is shorter than its header says."""
    with open(path, "rb") as fh:
        header = fh.read(100)
    if not header.startswith(b"SQLite format 3\x00"):
        report.add(
            "file is not a GeoPackage (no SQLite header)",
            _COMPLETE_HINT,
        )
        report.raise_if_any()
    if len(header) < 100:
        report.add("GeoPackage is truncated (shorter than its 100-byte header)", _COMPLETE_HINT)
        report.raise_if_any()
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    n_pages = int.from_bytes(header[28:32], "big")
    valid = header[24:28] == header[92:96]
    expected = page_size * n_pages
    actual = path.stat().st_size
    if valid and n_pages and actual < expected:
        report.add(
            f"GeoPackage is truncated: its header says {expected} bytes but the file has {actual}",
            "copy or download the file again; " + _COMPLETE_HINT,
        )
        report.raise_if_any()


def _check_shapefile(path: Path, report: _Report) -> None:
    """Detect a .shp shorter than the length recorded in its header."""
    with open(path, "rb") as fh:
        header = fh.read(100)
    if len(header) < 100 or int.from_bytes(header[0:4], "big") != 9994:
        report.add("file is not a Shapefile (bad .shp header)", _COMPLETE_HINT)
        report.raise_if_any()
    expected = int.from_bytes(header[24:28], "big") * 2
    actual = path.stat().st_size
    if actual < expected:
        report.add(
            f"Shapefile is truncated: its header says {expected} bytes but the .shp has {actual}",
            "copy the .shp/.shx/.dbf/.prj files again; " + _COMPLETE_HINT,
        )
        report.raise_if_any()
    # its attributes (population, ids) live in the .dbf beside it: without one the reader
    # sees geometries and no column (tester 174: "missing column: population; columns:
    # none"); the .shx is the index GDAL needs too
    missing = [ext for ext in (".dbf", ".shx")
               if not path.with_suffix(ext).exists()
               and not path.with_suffix(ext.upper()).exists()]
    if missing:
        report.add(f"the Shapefile's {' and '.join(missing)} file"
                   f"{'s are' if len(missing) > 1 else ' is'} missing beside it (a Shapefile "
                   "is several files: the .dbf holds its columns, the .shx its index)",
                   f"copy {', '.join(path.with_suffix(e).name for e in missing)} next to "
                   f"{path.name}, or give the data as a GeoPackage or GeoJSON")
        report.raise_if_any()


# --------------------------------------------------------------------------------------
# Column helpers (all vectorised)
# --------------------------------------------------------------------------------------


def _find_column(columns: Iterable[Any], aliases: Iterable[str]) -> Any | None:
    """First column matching an alias (case-insensitive, alias order wins)."""
    lookup: dict[str, Any] = {}
    for col in columns:
        lookup.setdefault(str(col).strip().lower(), col)
    for alias in aliases:
        if alias in lookup:
            return lookup[alias]
    return None


def _geometry_columns(raw: pd.DataFrame) -> list[str]:
    """Names of the columns of a plain DataFrame that hold shapely geometries (a
    GeoDataFrame turned into a DataFrame, or one built by hand), vectorised per column."""
    import shapely

    found = []
    for col in raw.columns:
        s = raw[col]
        if s.dtype == object or s.dtype.name == "geometry":
            values = np.asarray(s.dropna().to_numpy(dtype=object)[:1000], dtype=object)
            if len(values) and bool(shapely.is_geometry(values).all()):
                found.append(str(col))
    return found


def _decoded(raw: pd.DataFrame, report: _Report) -> pd.DataFrame:
    """``raw`` with its byte-string columns (Parquet ``binary``, Python ``bytes`` values)
    decoded as UTF-8 text; values that are not UTF-8 are refused, rows named.

    Only columns that hold bytes are touched: text and numeric columns are recognised
    without a per-value loop (``pandas.api.types.infer_dtype``). Text that is not valid
    Unicode (a lone surrogate such as ``"\\udcff"``, what ``surrogateescape`` makes of a
    file name's undecodable bytes) is refused too, rows named: no output can store it.
    """
    out = raw
    for col in raw.columns:
        s = raw[col]
        bad_text = _lone_surrogates(s)
        if bad_text is not None:
            report.add(f"column {str(col)!r} holds text that is not valid Unicode (a lone "
                       "surrogate, as a file name's undecodable bytes give)",
                       "decode the text with its true encoding (or replace the bad "
                       "characters), or drop the column", bad_text)
            continue
        arrow = isinstance(s.dtype, pd.ArrowDtype)
        if arrow:
            import pyarrow as pa

            t = s.dtype.pyarrow_dtype
            if not (pa.types.is_binary(t) or pa.types.is_large_binary(t)
                    or pa.types.is_fixed_size_binary(t)):
                continue
        elif s.dtype != object or pd.api.types.infer_dtype(s, skipna=True) not in (
                "bytes", "mixed"):
            continue
        values = s.to_numpy(dtype=object)
        text = np.empty(len(values), dtype=object)
        bad = np.zeros(len(values), dtype=bool)
        for i, v in enumerate(values):  # only columns that hold bytes come here
            if isinstance(v, bytes | bytearray | memoryview):
                try:
                    text[i] = bytes(v).decode("utf-8")
                except UnicodeDecodeError:
                    bad[i] = True
                    text[i] = None
            else:
                text[i] = v
        if bad.any():
            report.add(f"column {str(col)!r} holds bytes that are not UTF-8 text",
                       "store the column as UTF-8 text (a string column)", bad)
            continue
        if out is raw:
            out = raw.copy()
        out[col] = pd.Series(text, index=raw.index, dtype=object)
    report.raise_if_any()
    return out


def _lone_surrogates(s: pd.Series) -> npt.NDArray[np.bool_] | None:
    """Rows of a text column whose string holds a lone surrogate, or None when none does.

    Only ``object`` and Python-backed ``string`` columns can hold one (Arrow-backed text is
    valid UTF-8 by construction). The first pass encodes every string strictly (by Arrow,
    or by Python when Arrow cannot type the column); only when it fails are the rows found.
    """
    import pyarrow as pa

    python_text = isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "python"
    kind = pd.api.types.infer_dtype(s, skipna=True) if (s.dtype == object or python_text) else ""
    if kind not in ("string", "mixed", "mixed-integer"):
        return None
    try:  # Arrow encodes every string (and converts the rest) in C
        pa.array(s.to_numpy(dtype=object), type=pa.large_string() if kind == "string" else None,
                 from_pandas=True)
        return None
    except (pa.ArrowException, TypeError, ValueError):  # mixed types: strings in Python
        try:
            s.str.encode("utf-8")
            return None
        except UnicodeEncodeError:
            pass
    replaced = s.str.encode("utf-8", errors="replace")
    kept = s.str.encode("utf-8", errors="surrogatepass")
    return (replaced.notna().to_numpy(dtype=bool)
            & (replaced.to_numpy(dtype=object) != kept.to_numpy(dtype=object)))


def _text(
    s: pd.Series, missing_tokens: Collection[str] = _MISSING_TOKENS
) -> tuple[pd.Series, npt.NDArray[np.bool_]]:
    """Stripped string values and a missing mask; integral floats print without ``.0``.

    A cell is missing when it is null or its stripped, lower-cased text is one of
    ``missing_tokens`` (ids and names pass ``("",)``: only an empty cell is missing).
    Each integral float prints as the integer it is, also beside others that are not (a
    GeoJSON's ids 1, 2.5 and "3", read as a float column, came out as 1.0, 2.5 and 3.0,
    and no longer joined back to the file: a tester's find).
    """
    if pd.api.types.is_float_dtype(s.dtype):
        vals = s.to_numpy(dtype=np.float64, na_value=np.nan)
        exact = np.isfinite(vals) & (np.abs(np.nan_to_num(vals, nan=0.0)) < _EXACT_FLOAT_INT)
        exact &= np.equal(np.mod(np.where(exact, vals, 0.0), 1), 0)
        if exact.any():
            ints = pd.Series(np.where(exact, vals, 0.0).astype(np.int64)).astype("string")
            s = ints.where(exact, pd.Series(vals).astype("string").where(~np.isnan(vals)))
    txt = s.astype("string").str.strip()
    missing = (txt.isna() | txt.str.lower().isin(list(missing_tokens))).to_numpy(dtype=bool)
    return txt.where(~missing), missing


def _numeric(
    s: pd.Series, decimal: str = "."
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Parse numbers: (float64 values with NaN, missing mask, non-numeric-or-infinite mask).

    With ``decimal=","`` a text value with exactly one comma and no dot (``50,85``) is read
    with the comma as the decimal mark. With ``decimal=",."`` (a file whose number columns
    use decimal commas) a column whose dots all group thousands reads them so:
    ``1.019.022`` and ``529.247,5`` are 1019022 and 529247.5; a column with a dot that
    cannot group thousands (``51.2``, ``0.5``) keeps its dots as decimal points.

    A boolean column (``bool``, ``boolean``) holds no numbers: its true/false values are
    bad, not 1/0 (a population of ``df.pop > 1000`` is no population), as ``"True"`` in a
    text column is. Infinite values are bad and come back as NaN, as in a text column (so
    that a range check does not name them a second time).
    """
    if pd.api.types.is_bool_dtype(s.dtype):
        missing = s.isna().to_numpy(dtype=bool)
        return np.full(len(s), np.nan), missing, ~missing
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_complex_dtype(s.dtype):
        vals = s.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(vals)
        infinite = np.isinf(vals)
        return np.where(infinite, np.nan, vals), missing, infinite
    txt = s.astype("string").str.strip()
    missing = (txt.isna() | txt.str.lower().isin(_MISSING_TOKENS)).to_numpy(dtype=bool)
    if decimal == ",.":
        grouped = txt.str.fullmatch(_DOT_THOUSANDS).fillna(False)
        dotted = txt.str.contains(".", regex=False).fillna(False)
        if not bool((dotted & ~grouped).any()):  # a dot that groups nothing: decimal points
            txt = txt.where(~grouped, txt.str.replace(".", "", regex=False))
    if decimal in (",", ",."):
        comma = (txt.str.count(",") == 1) & ~txt.str.contains(".", regex=False)
        txt = txt.where(~comma.fillna(False), txt.str.replace(",", ".", regex=False))
    vals = _parse_floats_arrow(txt.where(~missing))
    if vals is None:  # some value Arrow does not parse: pandas says which are not numbers
        num = pd.to_numeric(txt.where(~missing), errors="coerce")
        vals = pd.Series(num).to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~missing & ~np.isfinite(vals)
    return np.where(np.isfinite(vals), vals, np.nan), missing, bad


def _parse_floats_arrow(txt: pd.Series) -> npt.NDArray[np.float64] | None:
    """Stripped text (missing values missing) as float64 by Arrow's parser, or None when a
    value does not parse.

    Where it parses every value it gives what ``pd.to_numeric`` gives (the same correctly
    rounded doubles; ``nan``, ``inf`` alike) in a fraction of the time (30M coordinates and
    populations of a 10M-row file: 19 s in ``to_numeric``); Arrow refuses text that pandas
    also reads as no number (``1,5``, ``0x10``, ``1_000``, ...) and text with spaces, so
    those columns go to pandas (tests/test_csv_fast_read.py)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        parsed = pc.cast(pa.array(txt, type=pa.string(), from_pandas=True), pa.float64())
    except pa.ArrowException:  # a value that is no number, or text beyond 2 GB: pandas
        return None
    return np.asarray(parsed.to_numpy(zero_copy_only=False), dtype=np.float64)


def _raw_values(s: pd.Series, mask: npt.NDArray[np.bool_], limit: int = 10) -> str:
    """The first ``limit`` distinct bad values of ``s`` and how many more there are (over
    every masked row: tester 174 read "and 30 more" of 60 distinct values, counted in the
    first ``4 * limit`` rows only)."""
    bad = s[mask]
    shown = list(dict.fromkeys(bad.head(limit * 4).astype(str).tolist()))[:limit]
    total = int(bad.astype(str).nunique()) if len(bad) > limit * 4 else len(
        dict.fromkeys(bad.astype(str).tolist()))
    text = ", ".join(repr(v) for v in shown)
    return text + (f" and {total - len(shown)} more" if total > len(shown) else "")


def _access_keys(access_profiles: Collection[str] | Mapping[str, Any] | None) -> list[str]:
    if access_profiles is not None:
        return [str(k).lower() for k in access_profiles]
    try:
        from ..model.latency import ACCESS_PROFILES_MS
    except ImportError:  # pragma: no cover - latency module is optional at read time
        return list(DEFAULT_ACCESS_TYPES)
    return [str(k).lower() for k in ACCESS_PROFILES_MS]


def _parse_crs(crs: Any, report: _Report) -> Any | None:
    """pyproj CRS or None; an invalid CRS is reported."""
    if crs is None:
        return None
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(crs)
    except CRSError as exc:
        report.add(
            f"crs {crs!r} is not a valid CRS ({exc})",
            f"pass an authority code such as {report.crs_option('EPSG:3857')}",
        )
        return None


def _planar_crs(src: Any, report: _Report, *, declared: bool) -> bool:
    """Whether ``src`` (a pyproj CRS, or None) can place points on the map: geographic
    (latitude/longitude) or projected. A geocentric CRS (EPSG:4978: X/Y/Z metres from the
    Earth's centre), a vertical or an engineering one cannot: its x/y taken as a map's
    gave points nowhere near the data (all out of reach, "no feasible plan"); it is
    reported (``declared``: the data's own CRS, else the ``crs`` argument's) and ``False``
    returned."""
    if src is None:
        return True
    if src.is_geographic or src.is_projected:
        from pyproj import Transformer
        from pyproj.exceptions import ProjError

        try:  # a CRS of Mars or a sphere of radius 1 (tester 159: "internal error")
            Transformer.from_crs(src, "EPSG:4326", always_xy=True)
        except ProjError as exc:
            auth = src.to_authority()
            name = f"{':'.join(auth)} ({src.name})" if auth else repr(src.name)
            why = str(exc).splitlines()[0]
            other = "celestial body" in why
            what = (f"{name} cannot be converted to latitude/longitude on the Earth"
                    + (" (it is of another body)" if other else f" ({why[:200]})"))
            if not declared:
                report.add(f"crs {what}", "give the CRS the coordinates are in, e.g. "
                           f"{report.crs_option('EPSG:4326')}")
            elif report.option_style == "api":
                report.add(f"the GeoDataFrame's CRS {what}",
                           "set the CRS its coordinates are in, e.g. "
                           "gdf.set_crs('EPSG:4326', allow_override=True)")
            else:
                report.add(f"the file's CRS {what}",
                           "re-save it with the CRS its coordinates are in, e.g. with "
                           "ogr2ogr -a_srs EPSG:4326 (the file's own CRS takes precedence "
                           "over --demand-crs / --candidates-crs)")
            return False
        return True
    kind = crs_kind(src)
    what = (f"{src.to_string()} ({src.name}) is {kind}, not latitude/longitude or a map "
            "projection")
    if not declared:
        report.add(f"crs {what}",
                   f"give the CRS the coordinates are in, e.g. {report.crs_option('EPSG:4326')}"
                   " for degrees or a projected one such as EPSG:3857")
    elif report.option_style == "api":
        report.add(f"the GeoDataFrame's CRS {what}",
                   "reproject it to degrees first, e.g. gdf.to_crs('EPSG:4326')"
                   if src.is_geocentric else "set the CRS its coordinates are in, e.g. "
                   "gdf.set_crs('EPSG:4326', allow_override=True)")
    else:
        report.add(f"the file's CRS {what}",
                   "re-save it in EPSG:4326 (lon/lat degrees) or a projected CRS, e.g. with "
                   "ogr2ogr -t_srs EPSG:4326")
    return False


def _to_lonlat(
    lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64], src: Any
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], str | None]:
    """Transform x/y (lon/lat order) from ``src`` to EPSG:4326 lon/lat degrees.

    The third element names the source CRS when a transformation happened, else None.
    """
    from pyproj import CRS, Transformer

    if src is None or src == CRS.from_epsg(4326):
        return lon, lat, None
    tr = Transformer.from_crs(src, 4326, always_xy=True)
    ok = np.isfinite(lon) & np.isfinite(lat)
    out_lon = np.full_like(lon, np.nan)
    out_lat = np.full_like(lat, np.nan)
    if ok.any():
        x, y = tr.transform(lon[ok], lat[ok])
        out_lon[ok] = np.asarray(x, dtype=np.float64)
        out_lat[ok] = np.asarray(y, dtype=np.float64)
    return out_lon, out_lat, src.to_string()


# --------------------------------------------------------------------------------------
# Building the canonical table
# --------------------------------------------------------------------------------------


def _build(
    loaded: _Loaded,
    report: _Report,
    *,
    kind: str,
    crs: Any | None,
    access_profiles: Collection[str] | Mapping[str, Any] | None,
    colocated_m: float = 0.0,
) -> pd.DataFrame:
    aliases = DEMAND_ALIASES if kind == "demand" else SITE_ALIASES
    id_col_name = "demand_id" if kind == "demand" else "site_id"
    crs_flag = report.option("crs")
    raw = loaded.frame
    n = len(raw)
    dup_cols = raw.columns[raw.columns.duplicated()]
    if len(dup_cols):
        report.add(
            f"duplicate column names {_format_values(dup_cols)}",
            "give every column a distinct name",
        )
        report.raise_if_any()
    raw = _decoded(raw, report)
    cols = resolve_columns(raw, aliases, report, has_geometry=loaded.geometry is not None)
    used: list[Any] = [c for c in cols.values() if c is not None]
    numbers = [cols.get(k) for k in ("lat", "lon", "population", "budget_ms", "cost")
               if cols.get(k) is not None]
    decimal = loaded.decimal
    if decimal == "," and _has_decimal_commas(raw, numbers):
        decimal = ",."
        logger.info("%s: numbers use decimal commas (50,85): in a number column whose dots "
                    "all group thousands, they are read as such (1.019.022)", report.source)
    loaded = replace(loaded, frame=raw, decimal=decimal)

    # --- nothing at all: one problem, not a missing column and no rows (tester 172) ---
    if n == 0 and not len(raw.columns):
        report.add("no rows and no columns (an empty FeatureCollection or layer, or an "
                   "empty table)",
                   "pass a table with its columns and at least one row" if loaded.in_memory
                   else "export the layer with its features; " + _COMPLETE_HINT)
        report.raise_if_any()

    # --- required columns ---------------------------------------------------------
    missing_cols: list[str] = []
    if loaded.geometry is None:
        for key, label in (("lat", "latitude"), ("lon", "longitude")):
            if cols[key] is None:
                missing_cols.append(f"{label} (looked for: {', '.join(aliases[key])})")
    if kind == "demand" and cols["population"] is None:
        missing_cols.append(f"population (looked for: {', '.join(aliases['population'])})")
    if missing_cols:
        have = column_list(raw.columns, loaded.unnamed)
        shapes = _geometry_columns(raw) if loaded.geometry is None and loaded.in_memory else []
        tuples = loaded.in_memory and any(isinstance(c, tuple) for c in raw.columns)
        report.add(
            f"missing column{'s' if len(missing_cols) > 1 else ''}: {'; '.join(missing_cols)}; "
            f"the input has columns: {have}",
            "rename the columns to one of the names looked for (case does not matter)"
            + ("" if loaded.geometry is not None else
               f" (or make the table a GeoDataFrame of its geometry column {shapes[0]!r}: "
               f"geopandas.GeoDataFrame(df, geometry={shapes[0]!r}, crs='EPSG:4326'), with "
               "its true CRS)" if shapes else " (or use a vector file with geometries)")
            + ("; the column names are tuples (a column MultiIndex): flatten them first, "
               "e.g. df.columns = df.columns.get_level_values(-1)" if tuples else ""),
        )
    if n == 0:
        if loaded.in_memory:
            report.add("no rows (the table has its columns but no rows)",
                       "pass a table with at least one row (did a filter keep none?)")
        else:
            report.add(
                "no data rows (the input has a header but no rows)",
                "add at least one data row; " + _COMPLETE_HINT,
            )
        report.raise_if_any()

    # --- ids -----------------------------------------------------------------------
    ids = _ids(raw, cols[id_col_name], report, kind, used)

    # --- coordinates ---------------------------------------------------------------
    lat, lon = _coordinates(loaded, cols, report, crs, crs_flag)

    # --- name (text: only an empty cell is missing) ------------------------------------
    if cols["name"] is not None:
        names, name_missing = _text(raw[cols["name"]], missing_tokens=("",))
        names = names.where(~name_missing, ids)
    else:
        names = ids

    out: dict[str, Any] = {id_col_name: ids, "lat": lat, "lon": lon}
    if kind == "demand":
        if cols["population"] is not None:
            out["population"] = _population(raw[cols["population"]], report, decimal)
        out["name"] = names
        if cols["access"] is not None and _all_empty(raw[cols["access"]]):
            _say_empty_access(report, raw[cols["access"]].name)  # as if absent
        elif cols["access"] is not None:
            out["access"] = _access(raw[cols["access"]], report, _access_keys(access_profiles),
                                    access_names(access_profiles))
        if cols.get("budget_ms") is not None:
            out["budget_ms"] = _budget(raw[cols["budget_ms"]], report, decimal)
        if cols.get("service_class") is not None:
            txt, missing = _text(raw[cols["service_class"]])
            low = txt.str.strip().str.lower().astype(object).to_numpy()
            out["service_class"] = np.where(missing, None, low)
    else:
        out["name"] = names
        out["tier"] = _tier(raw, cols["tier"])
        out["required"] = _required(raw, cols["required"], report)
        if cols["cost"] is not None:
            out["cost"] = _cost(raw[cols["cost"]], report, decimal,
                                required=np.asarray(out["required"], dtype=bool))

    report.raise_if_any()

    result = pd.DataFrame({k: _column_values(v) for k, v in out.items()})
    for key in (id_col_name, "name") + (("access",) if "access" in out else ()):
        result[key] = result[key].astype(str)
    if "tier" in result:
        result["tier"] = result["tier"].astype(str)
    extras = raw.drop(columns=[c for c in dict.fromkeys(used)])
    extras = extras.loc[:, [c for c in extras.columns if str(c) not in result.columns]]
    nameless = [c for c in extras.columns if str(c) in loaded.unnamed]
    if nameless:  # pandas' "Unnamed: N" would be its name in every output
        them = "them" if len(nameless) > 1 else "it"
        logger.info("%s: %s not carried to the outputs (no name in the header; name %s "
                    "to carry %s)", report.source,
                    ", ".join(f"column {loaded.unnamed[str(c)]}" for c in nameless),
                    them, them)
        extras = extras.drop(columns=nameless)
    if len(extras.columns):
        extras = _storable(extras, kind, report.source)
        result = pd.concat([result, extras.reset_index(drop=True)], axis=1)
        _name_unused(kind, [str(c) for c in extras.columns], report.source)
    result.index = pd.RangeIndex(len(result))
    logger.info("read %s of %s from %s", counted(len(result), "row"), report.kind,
                report.source)
    _warn_null_island(result, kind, report)
    if kind == "sites":
        _warn_colocated(result, colocated_m, report)
        result.attrs["colocated_m"] = float(colocated_m)
    result.attrs[_VALIDATED] = _fingerprint(result, kind, access_profiles)
    return result


def _writes(s: pd.Series, *, json: bool) -> bool:
    """Whether Parquet (and, with ``json``, pandas' JSON writer) stores the column ``s``
    as it is (a date32 or a categorical of periods does not)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = s.reset_index(drop=True).to_frame(name="column")
    try:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), io.BytesIO())
        if json:
            with warnings.catch_warnings():  # pandas' notes on date formats: not here
                warnings.simplefilter("ignore")
                frame.to_json(orient="records")
    except (pa.ArrowException, TypeError, ValueError, OverflowError, NotImplementedError):
        return False
    return True


def _stored_as_is(dtype: Any) -> bool:
    """Whether every writer stores a column of ``dtype`` whatever its values: integers,
    booleans, 32- and 64-bit floats (numpy's or pandas' nullable ones) and strings. Those
    skip :func:`_writes`' trial write, about 1 ms a column (a file of 12,000 columns took
    10 s to read)."""
    if isinstance(dtype, pd.StringDtype):
        return True
    kind = getattr(dtype, "kind", None)
    return (kind is not None and len(kind) == 1 and kind in "iub") or (
        kind == "f" and getattr(dtype, "itemsize", 0) >= 4)


def _storable(extras: pd.DataFrame, kind: str, source: str) -> pd.DataFrame:
    """The carried columns as every output can store them.

    The plan's tables carry the input's other columns to ``assignment.csv`` /
    ``.parquet``, ``sites.csv``, ``sites.geojson`` and the GIS files. A column whose values
    one of those writers cannot store made :meth:`~coverage.Plan.to_dir` fail after the
    plan was made (``sites.geojson`` and ``assignment.parquet`` are the plan), or skip a GIS
    file. Such a column is carried as text (``str`` of each value, missing values kept
    missing) and named in the log:

    * complex numbers, periods and geometries (a second GeoSeries, shapely objects);
    * ``object`` columns Arrow cannot type (mixed types, lists of mixed types, integers
      beyond 64 bits, fractions, ...) and, for sites (written as GeoJSON), those pandas'
      JSON writer cannot write;
    * columns of another type Parquet (or, for sites, JSON) cannot store (Arrow dates,
      categoricals of periods, ...), tried on their first rows.

    A sparse column is made dense (same values). The other columns (numbers, text,
    booleans, dates, categories, lists and dicts Arrow and JSON store) are kept as they are.

    Parameters
    ----------
    extras : pandas.DataFrame
        The carried columns (unique names).
    kind : {"demand", "sites"}
        The table (sites are also written as GeoJSON).
    source : str
        The input's name, for the log.

    Returns
    -------
    pandas.DataFrame
        ``extras`` itself when nothing changes, else a new frame.
    """
    import pyarrow as pa

    out = extras
    as_text: list[str] = []
    for col in extras.columns:  # a loop over the (few) columns; each check is vectorised
        s = extras[col]
        changed = isinstance(s.dtype, pd.SparseDtype)
        if changed:
            s = s.sparse.to_dense()
        if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) not in (
                "string", "floating", "boolean", "empty"):  # those every writer stores
            try:
                pa.array(s.to_numpy(dtype=object), from_pandas=True)
                text = False
            except (pa.ArrowException, TypeError, ValueError, OverflowError):
                text = True
            if not text and kind == "sites":
                text = not _writes(s, json=True)
        elif s.dtype == object:
            text = False
        elif _stored_as_is(s.dtype):
            text = False
        else:  # a type no writer knows fails on any row: a few rows tell
            text = (pd.api.types.is_complex_dtype(s.dtype)
                    or isinstance(s.dtype, pd.PeriodDtype) or s.dtype.name == "geometry"
                    or not _writes(s.iloc[:64], json=kind == "sites"))
        if text:
            s = s.astype(object).astype("string")
            as_text.append(str(col))
        if changed or text:
            if out is extras:
                out = extras.copy(deep=False)
            out[col] = s
    if as_text:
        logger.info("%s: carried column(s) %s written as text (the outputs cannot store "
                    "their values as they are)", source, _format_values(as_text))
    return out


_VALIDATED = "coverage_validated"
_KEY_COLUMNS = {"demand": ("demand_id", "lat", "lon", "population", "name", "access",
                           "budget_ms", "service_class"),
                "sites": ("site_id", "lat", "lon", "name", "tier", "required", "cost")}


def _fingerprint(df: pd.DataFrame, kind: str,
                 access_profiles: Collection[str] | Mapping[str, Any] | None) -> str:
    """Hash of what validation checked: the kind, the columns and the key columns' values
    (vectorised; a frame changed after validation no longer matches)."""
    keys = sorted(_access_keys(access_profiles)) if kind == "demand" else []
    h = hashlib.sha256(f"{kind}|{list(map(str, df.columns))}|{len(df)}|{keys}".encode())
    if len(df):
        for c in _KEY_COLUMNS[kind]:
            if c in df.columns:
                h.update(f"|{c}|{df[c].dtype}|".encode())
                _digest_values(h, df[c])
    return h.hexdigest()


def _digest_arrow_chunk(parts: tuple[Any, Any, Any], chunk: Any, base: int) -> int:
    """Feed one arrow array of a flat type to the hashes ``parts`` (nulls, offsets,
    values): its values and nulls as they are, not its buffers' layout, nor how the column
    is cut into chunks (a pickled copy has the same values in buffers of another size, and
    pandas' pickling joins the chunks: both must hash the same). ``base`` is the text
    bytes of the chunks before this one (offsets continue from it); returns the new one."""
    import pyarrow as pa

    nulls, offs, vals = parts
    n, at = len(chunk), chunk.offset
    if not n:
        return base
    if chunk.null_count:
        nulls.update(np.asarray(chunk.is_null(), dtype=np.bool_).view(np.uint8).data)
    else:
        nulls.update(np.zeros(n, dtype=np.uint8).data)
    bufs = chunk.buffers()
    kind = chunk.type
    if pa.types.is_boolean(kind):
        vals.update(np.asarray(chunk.fill_null(False), dtype=np.bool_).view(np.uint8).data)
        return base
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
            or pa.types.is_binary(kind) or pa.types.is_large_binary(kind)):
        # integers and floats: the values (the buffer's slice of this array)
        width = kind.bit_width // 8
        if bufs[1] is not None:
            vals.update(memoryview(bufs[1])[at * width:(at + n) * width])
        return base
    large = pa.types.is_large_string(kind) or pa.types.is_large_binary(kind)
    if bufs[1] is None:
        return base
    offsets = np.frombuffer(bufs[1], dtype=np.int64 if large else np.int32)[at:at + n + 1]
    # each row's end offset, counted from the column's first byte
    offs.update((offsets[1:] - offsets[0] + base).astype(np.int64).view(np.uint8).data)
    if bufs[2] is not None:
        vals.update(memoryview(bufs[2])[int(offsets[0]):int(offsets[-1])])
    return base + int(offsets[-1] - offsets[0])


def _digest_values(h: Any, s: pd.Series) -> None:
    """Feed a column's values to hash ``h`` without a per-row pass in Python.

    Numbers: their bytes. Arrow-backed text, binary and primitive values (pandas' default
    string type): each chunk's values and nulls straight from its buffers (the part of
    the buffers the chunk uses: a pickled copy hashes the same). Anything else (object,
    categorical, nested or dictionary arrow types):
    :func:`pandas.util.hash_pandas_object`. Hashing the text columns that way cost 7.4
    of the 11.4 s of validating a 2M-row demand frame (hand measurement); the buffers
    take a fraction of a second.
    """
    values = s.array
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "biuf":
        h.update(np.ascontiguousarray(s.to_numpy()).view(np.uint8).data)
        return
    arrow = getattr(values, "__arrow_array__", None)
    if arrow is not None and isinstance(s.dtype, pd.StringDtype | pd.ArrowDtype):
        import pyarrow as pa

        chunked = arrow()
        flat = (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary,
                pa.types.is_large_binary, pa.types.is_integer, pa.types.is_floating,
                pa.types.is_boolean)
        if not any(is_type(chunked.type) for is_type in flat):
            # nested or dictionary types keep values outside their own buffers
            h.update(pd.util.hash_pandas_object(s, index=False).to_numpy().tobytes())
            return
        parts = (hashlib.sha256(), hashlib.sha256(), hashlib.sha256())
        base = 0
        for chunk in getattr(chunked, "chunks", [chunked]):
            base = _digest_arrow_chunk(parts, chunk, base)
        h.update(f"{chunked.type}|{len(chunked)}|".encode())
        for part in parts:
            h.update(part.digest())
        return
    h.update(pd.util.hash_pandas_object(s, index=False).to_numpy().tobytes())


def _column_values(v: Any) -> Any:
    """A built column's values for the result frame: a text Series keeps its (arrow)
    array; made into a numpy array it was one Python string per row (0.6 GiB a column at
    10M rows, converted back at once)."""
    if not isinstance(v, pd.Series):
        return v
    return v.array if isinstance(v.dtype, pd.StringDtype) else v.to_numpy()


def _already_validated(obj: Any, kind: str,
                       access_profiles: Collection[str] | Mapping[str, Any] | None) -> bool:
    """``obj`` is a frame this module returned and nobody changed since."""
    token = getattr(obj, "attrs", {}).get(_VALIDATED)
    return (isinstance(obj, pd.DataFrame) and not hasattr(obj, "geometry") and token is not None
            and obj.index.equals(pd.RangeIndex(len(obj)))
            and token == _fingerprint(obj, kind, access_profiles))


def is_validated(df: Any, kind: str,
                 access_profiles: Collection[str] | Mapping[str, Any] | None = None) -> bool:
    """Whether ``df`` is a frame :func:`as_demand` / :func:`as_sites` (``kind``) returned,
    or :func:`keep_validated` marked, unchanged since: validating it again is skipped."""
    return _already_validated(df, kind, access_profiles)


def keep_validated(df: pd.DataFrame, new: pd.DataFrame, kind: str,
                   access_profiles: Collection[str] | Mapping[str, Any] | None = None,
                   ) -> pd.DataFrame:
    """``new`` marked as validated when ``df`` is a validated frame (as :func:`as_demand`
    / :func:`as_sites` returned it, unchanged since) and ``new`` is derived from it in a way
    that keeps it valid: a selection of its columns that keeps the required ones, or a
    column added whose values the caller has checked (the default ``access``).

    A later :func:`as_demand` / :func:`as_sites` of ``new`` (a budget sweep's process)
    then takes it as it is instead of validating ten million rows again. Otherwise ``new``
    is returned unmarked (it is validated again, as any frame).

    Parameters
    ----------
    df : pandas.DataFrame
        The frame ``new`` was derived from.
    new : pandas.DataFrame
        The derived frame (same rows, same order).
    kind : {"demand", "sites"}
        What ``df`` was validated as.
    access_profiles : collection of str or mapping, optional
        The access classes ``df`` was validated against (demand).

    Returns
    -------
    pandas.DataFrame
        ``new``, marked when ``df`` was.
    """
    required = ("demand_id", "lat", "lon", "population") if kind == "demand" else (
        "site_id", "lat", "lon")
    if not (_already_validated(df, kind, access_profiles) and len(new) == len(df)
            and new.index.equals(df.index) and all(c in new.columns for c in required)):
        return new
    for c in _KEY_COLUMNS[kind]:  # the checked columns: unchanged, or a checked access
        if c not in new.columns:
            continue
        if c not in df.columns:
            if not (c == "access" and kind == "demand" and access_profiles is not None
                    and new[c].dtype == df["demand_id"].dtype
                    and set(pd.unique(new[c])) <= set(_access_keys(access_profiles))):
                return new
        elif new[c].dtype != df[c].dtype or not (
                _same_memory(new[c], df[c]) or _column_digest(new[c]) == _column_digest(df[c])):
            return new
    new = new.copy(deep=False)
    new.attrs[_VALIDATED] = _fingerprint(new, kind, access_profiles)
    return new


def _same_memory(a: pd.Series, b: pd.Series) -> bool:
    """``a`` and ``b`` hold their values in the same memory, at the same place (a column
    selection or ``assign`` shares them under copy-on-write): equal without hashing ten
    million values. ``False`` only means "not known": compare the values then."""
    x, y = a.array, b.array
    if isinstance(x, pd.arrays.NumpyExtensionArray | np.ndarray) or not hasattr(
            x, "__arrow_array__"):
        u, v = np.asarray(x), np.asarray(y)
        return (u.dtype == v.dtype and u.shape == v.shape and u.strides == v.strides
                and u.__array_interface__["data"][0] == v.__array_interface__["data"][0])
    p, q = x.__arrow_array__(), y.__arrow_array__()
    cp, cq = getattr(p, "chunks", [p]), getattr(q, "chunks", [q])
    return len(cp) == len(cq) and all(
        s.type == t.type and s.offset == t.offset and len(s) == len(t)
        and [None if b is None else b.address for b in s.buffers()]
        == [None if b is None else b.address for b in t.buffers()]
        for s, t in zip(cp, cq, strict=True))


def _column_digest(s: pd.Series) -> str:
    """Hash of one column's values (:func:`_digest_values`)."""
    h = hashlib.sha256()
    _digest_values(h, s)
    return h.hexdigest()


_LABEL_FIELDS = ("demand_id", "site_id", "name", "tier", "h3")
"""Fields that only label a row: of two matching columns the first alias wins (logged)."""


def resolve_columns(
    raw: pd.DataFrame,
    aliases: Mapping[str, tuple[str, ...]],
    report: _Report,
    *,
    has_geometry: bool,
) -> dict[str, Any | None]:
    """The input column of each canonical field; ambiguous matches are reported (the
    demand, site and ping readers).

    Several columns matching one field:

    * names equal but for case (``LAT`` and ``lat``): refused, nothing tells which is meant;
    * different aliases of a field that changes the plan (``lat`` and ``latitude``,
      ``population`` and ``pop``, ``cost`` ...): refused when their values differ, the
      first alias used when they are equal;
    * different aliases of a label (ids, name, tier: ``FID`` and ``CODE`` in an ArcGIS
      export, ``fid`` and ``id`` in QGIS, ``name`` and ``city``): the first alias wins, and
      the column left out is logged.

    Latitude/longitude columns of a vector file are not used (the geometry is), so they
    may clash.
    """
    columns = raw.columns
    cols: dict[str, Any | None] = {}
    for key, names in aliases.items():
        matches = [c for c in columns if str(c).strip().lower() in names]
        cols[key] = _find_column(columns, names)
        if len(matches) < 2 or (has_geometry and key in ("lat", "lon")):
            continue
        lowered = [str(c).strip().lower() for c in matches]
        case_only = [c for c, low in zip(matches, lowered, strict=True)
                     if lowered.count(low) > 1]
        if not case_only:
            if key in _LABEL_FIELDS:
                logger.info("%s: %s taken from column %r; %s not used for it", report.source,
                            key, str(cols[key]), _format_values(
                                [c for c in matches if c != cols[key]]))
                continue
            first = raw[matches[0]].astype("string").str.strip().fillna("")
            if all(raw[c].astype("string").str.strip().fillna("").eq(first).all()
                   for c in matches[1:]):
                continue  # the same values (vectorised per column): no ambiguity
        clash = case_only or matches
        both = "both" if len(clash) == 2 else "all"
        report.add(
            f"columns {_format_values(clash)} {both} look like {key} (looked for: "
            f"{', '.join(names)}; case does not matter)"
            + ("" if case_only else " and hold different values")
            + "; which one to use is ambiguous",
            "rename or drop all but one of them",
        )
    return cols


#: Degrees by which a vector input's lat/lon columns may differ from its geometry before
#: the difference is reported (about 11 m; the geometry is what is used).
GEOMETRY_LATLON_TOLERANCE_DEG = 1e-4


def _warn_geometry_disagrees(lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64],
                             col_lat: pd.Series, col_lon: pd.Series, report: _Report,
                             decimal: str) -> None:
    """Warn when a vector input's lat/lon columns say other places than its geometry (the
    geometry is used; a stale column after a move in a GIS would otherwise pass silently)."""
    c_lat = _numeric(col_lat, decimal)[0]
    c_lon = _numeric(col_lon, decimal)[0]
    both = np.isfinite(lat) & np.isfinite(lon) & np.isfinite(c_lat) & np.isfinite(c_lon)
    if not both.any() or (np.abs(c_lat[both]) > 90.0).any() or (
            np.abs(c_lon[both]) > 180.0).any():
        return  # not degrees (x / y in a projected CRS, the aliases of lon / lat)
    dlon = np.abs((c_lon - lon + 180.0) % 360.0 - 180.0)
    off = both & ((np.abs(c_lat - lat) > GEOMETRY_LATLON_TOLERANCE_DEG)
                  | (dlon > GEOMETRY_LATLON_TOLERANCE_DEG))
    if not off.any():
        return
    from ..model.geo import haversine_km

    rows = np.flatnonzero(off)
    km = haversine_km(lat[rows], lon[rows], c_lat[rows], c_lon[rows])
    shown = ", ".join(str(r + 1) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
    logger.warning(
        "%s: the %s / %s columns differ from the geometry on %d feature(s) (features %s; up "
        "to %.3g km): the geometry is used. Fix: drop or update the columns if they are "
        "stale", report.source, col_lat.name, col_lon.name, len(rows), shown, float(km.max()))
    warnings.warn(f"{report.source}: lat/lon columns differ from the geometry on {len(rows)} "
                  "feature(s); the geometry is used", LoggedWarning, stacklevel=4)


def _warn_null_island(table: pd.DataFrame, kind: str, report: _Report) -> None:
    """Log a warning naming the rows at exactly latitude 0, longitude 0 (in the Gulf of
    Guinea, where nobody lives: the coordinates a geocoder or a spreadsheet gives a place
    it could not locate). Kept, not refused: the plan shows them as they are."""
    at_zero = ((table["lat"].to_numpy() == 0.0) & (table["lon"].to_numpy() == 0.0))
    if not at_zero.any():
        return
    logger.warning(
        "%s: %s (%s) at latitude 0, longitude 0 exactly, in the sea off West Africa: the "
        "coordinates given to a place that could not be located? They are kept as they "
        "are; give them their real coordinates, or drop them", report.source,
        counted(int(at_zero.sum()), "row"), format_rows(np.flatnonzero(at_zero) + 1))


def _warn_colocated(sites: pd.DataFrame, colocated_m: float, report: _Report) -> None:
    """Log a warning naming candidate pairs within ``colocated_m`` metres of each other."""
    if not colocated_m > 0 or len(sites) < 2:
        return
    from ..model.geo import chord_from_km, count_colocated, haversine_km, unit_tree, unit_xyz

    lat, lon = sites["lat"].to_numpy(), sites["lon"].to_numpy()
    near = count_colocated(lat, lon, colocated_m)
    n_pairs = int(near.sum()) // 2
    if not n_pairs:
        return
    # examples from the first points that have a neighbour, each with its partners
    # anywhere in the file (pairs are never all built; partners looked for only among the
    # first 20 flagged rows were missed when they came later: "( and 39 more)", tester 172)
    some = np.flatnonzero(near > 0)[:3]
    nb = unit_tree(lat, lon).query_radius(unit_xyz(lat[some], lon[some]),
                                          r=float(chord_from_km(colocated_m / 1000.0)))
    first = np.repeat(some, [len(x) for x in nb])
    second = np.concatenate(nb).astype(np.int64)
    keep = first < second
    pair_i, pair_j = first[keep], second[keep]
    if not len(pair_i):  # each of the first flagged rows pairs with an earlier one
        pair_i, pair_j = second[first > second], first[first > second]
    distance_m = haversine_km(lat[pair_i], lon[pair_i], lat[pair_j], lon[pair_j]) * 1000.0
    ids = sites["site_id"].to_numpy(dtype=object)
    shown = min(3, len(pair_i))
    examples = ", ".join(f"{ids[i]!r} and {ids[j]!r} ({d:.0f} m)" for i, j, d in zip(
        pair_i[:shown].tolist(), pair_j[:shown].tolist(), distance_m[:shown].tolist(),
        strict=True))
    more = f" and {n_pairs - shown} more" if n_pairs > shown else ""
    logger.warning(
        "%s: %d candidate pair%s within %g m of each other (%s%s): a failure that takes one "
        "(power, fibre cut) likely takes both, yet a plan that tolerates failures (N-1 and "
        "up) counts each as the other's backup; "
        "merge them into one candidate (or, if they really fail independently, silence "
        "this with --colocated-m 0, in Python coverage.inputs.tables.as_sites(df, "
        "colocated_m=0) passed to plan_sites; a batch has no such option)",
        report.source,
        n_pairs,
        " is" if n_pairs == 1 else "s are",
        colocated_m,
        examples,
        more,
    )


def _ids(
    raw: pd.DataFrame, id_col: Any | None, report: _Report, kind: str, used: list[Any]
) -> pd.Series:
    n = len(raw)
    label = ("demand_id" if kind == "demand"
             else "region_id" if report.kind == "regions" else "site_id")
    if id_col is None and kind == "demand":
        found = [(_find_column(raw.columns, [part]), width) for part, width in _CENPOP_ID_PARTS]
        parts = [(col, width) for col, width in found if col is not None]
        if parts:
            pieces = []
            for col, width in parts:
                txt, _ = _text(raw[col], missing_tokens=("",))
                txt = txt.fillna("")
                digits = txt.str.fullmatch(r"\d+").fillna(False)
                pieces.append(txt.where(~digits, txt.str.zfill(width)))
            ids = pieces[0]
            for piece in pieces[1:]:
                ids = ids + piece
            logger.info(
                "%s: no id column; built %s from %s",
                report.source,
                label,
                "+".join(str(c) for c, _ in parts),
            )
            used.extend(c for c, _ in parts)
            missing = (ids == "").to_numpy(dtype=bool)
            return _check_ids(ids, missing, report, label)
    if id_col is None:
        logger.info("%s: no id column; using 1-based row numbers as %s", report.source, label)
        return pd.Series(np.arange(1, n + 1).astype(str), dtype="string")
    column = raw[id_col]
    if column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) in (
            "floating", "mixed-integer-float"):
        # Python floats (and ints) in an object column: 1.0 is the id 1, as in a float
        # column (else 1 and 1.0 were two ids, "1" and "1.0"), unless beyond 2**53
        num = pd.to_numeric(column, errors="coerce")
        if pd.api.types.is_integer_dtype(num.dtype):
            column = num
        elif pd.api.types.is_float_dtype(num.dtype):
            vals = num.to_numpy(dtype=np.float64, na_value=np.nan)
            if bool((np.abs(vals[np.isfinite(vals)]) < _EXACT_FLOAT_INT).all()):
                column = num
    inexact = None
    if column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) == "mixed":
        # text and JSON numbers in one column (a GeoJSON with one id unquoted): its floats
        # of 2**53 or more had lost their digits too, and passed as text (tester 159)
        is_float = column.map(type).isin((float, np.float64, np.float32)).to_numpy(bool)
        if is_float.any():
            vals = np.zeros(len(column))
            vals[is_float] = column[is_float].to_numpy(dtype=np.float64)
            inexact = is_float & np.isfinite(vals) & (np.abs(vals) >= _EXACT_FLOAT_INT)
    if pd.api.types.is_float_dtype(column.dtype):
        vals = column.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(vals)
        inexact = finite & (np.abs(np.where(finite, vals, 0.0)) >= _EXACT_FLOAT_INT)
    if inexact is not None and inexact.any():
        report.add(
            f"{label} values in column {str(id_col)!r} are floating-point numbers of "
            f"2**53 or more ({_raw_values(column, inexact)}): their last digits are "
            "already lost (JSON numbers and float columns hold about 16 digits)",
            "store the ids as text (quoted strings), or drop the id column to number rows",
            inexact,
        )
    ids, missing = _text(column, missing_tokens=("",))
    if inexact is None or not inexact.any():
        # a JSON number GDAL turned into text ("1.2345678901234567e+19" in a column of
        # text ids), or a spreadsheet's exponent form: digits lost all the same
        # (the "+" a printed float has: a hex id such as "1e20" is text; review 144)
        expo = ids.str.fullmatch(r"[+-]?\d(\.\d+)?[eE]\+\d+").fillna(False).to_numpy(bool)
        if expo.any():
            big = np.zeros(len(ids), dtype=bool)
            vals = pd.to_numeric(ids[expo], errors="coerce").to_numpy(dtype=np.float64)
            big[expo] = np.isfinite(vals) & (np.abs(vals) >= _EXACT_FLOAT_INT)
            if big.any():
                report.add(
                    f"{label} values in column {str(id_col)!r} are numbers of 2**53 or more "
                    f"in exponent form ({_raw_values(column, big)}): their last digits are "
                    "already lost (a JSON number read among text ids, or a spreadsheet's "
                    "display)",
                    "store the ids as text (quoted strings; in a spreadsheet, a Text "
                    "column), or drop the id column to number rows",
                    big,
                )
    return _check_ids(ids, missing, report, label, raw=column)


def _check_ids(
    ids: pd.Series, missing: npt.NDArray[np.bool_], report: _Report, label: str,
    raw: pd.Series | None = None,
) -> pd.Series:
    if missing.any():
        report.add(
            f"{label} is missing/empty",
            "fill in a unique id for every row, or remove the id column to number rows",
            missing,
        )
    dup = ids.duplicated(keep=False).to_numpy(dtype=bool) & ~missing
    if dup.any():
        # ids that differ only in spaces before or after (which are dropped) say so
        # (tester 182: "duplicate site_id values 'SiteA'" for 'SiteA', ' SiteA', 'SiteA ')
        spaced = False
        if raw is not None:
            raw_txt = pd.Series(raw).astype("string").reset_index(drop=True)
            spaced = bool(raw_txt[dup].nunique() > ids.reset_index(drop=True)[dup].nunique())
        report.add(
            f"duplicate {label} values {_format_values(ids[dup].tolist())}"
            + (" (some differ only in spaces before or after the id, which are dropped)"
               if spaced else ""),
            "make every id unique (or remove the id column to number rows 1..n)",
            dup,
        )
    return ids


def _coordinates(
    loaded: _Loaded,
    cols: dict[str, Any | None],
    report: _Report,
    crs: Any | None,
    crs_flag: str,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    raw = loaded.frame
    n = len(raw)
    nan = np.full(n, np.nan)
    if loaded.geometry is not None:
        lat, lon = geometry_coordinates(loaded.geometry, report, crs, crs_flag)
        # points only: a polygon's point is one inside it, not its stored centroid
        if (cols["lat"] is not None and cols["lon"] is not None
                and bool((loaded.geometry.geom_type == "Point").all())):
            _warn_geometry_disagrees(lat, lon, raw[cols["lat"]], raw[cols["lon"]], report,
                                     loaded.decimal)
        return lat, lon
    if cols["lat"] is None or cols["lon"] is None:
        return nan, nan.copy()
    lat, lat_missing, lat_bad = _numeric(raw[cols["lat"]], loaded.decimal)
    lon, lon_missing, lon_bad = _numeric(raw[cols["lon"]], loaded.decimal)
    missing = lat_missing | lon_missing
    if missing.any():
        # a row written with another separator lands whole in one field (the first)
        # (only the rows that lack a coordinate are looked at)
        first = raw.iloc[np.flatnonzero(missing), 0].astype("string").fillna("")
        other = np.zeros(len(first), dtype=bool)
        for mark in (";", "\t", ","):
            other |= (first.str.count(mark) >= 3).to_numpy(dtype=bool)
        joined = np.zeros(n, dtype=bool)
        joined[np.flatnonzero(missing)[other]] = True
        if joined.any():
            report.add(
                "the row holds all its fields in its first column, separated by another "
                "character than the file's separator (written by another program?)",
                "write those rows with the same separator as the header line",
                joined,
            )
        if (missing & ~joined).any():
            report.add(
                "latitude/longitude is missing/empty",
                "fill in both coordinates or drop those rows",
                missing & ~joined,
            )
    for bad, col in ((lat_bad, cols["lat"]), (lon_bad, cols["lon"])):
        if bad.any():
            report.add(
                f"column {str(col)!r} is not a finite number: {_raw_values(raw[col], bad)}",
                "use plain decimal numbers (dot as decimal separator, no units)",
                bad,
            )
    src = _parse_crs(crs, report)
    if (crs is not None and src is None) or not _planar_crs(src, report, declared=False):
        return lat, lon  # invalid CRS already reported; range checks would mislead
    valid = ~(missing | lat_bad | lon_bad)
    _check_degree_like(lon, lat, valid, src, report,
                       f"drop {crs_flag} (degrees are the default) or use "
                       f"{report.option('crs', 'EPSG:4326')}")
    lon, lat, transformed = _to_lonlat(lon, lat, src)
    _check_ranges(lat, lon, valid, report, transformed, crs_flag)
    return lat, lon


def _check_degree_like(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    valid: npt.NDArray[np.bool_],
    src: Any | None,
    report: _Report,
    fix: str,
) -> None:
    """Degrees declared in a projected CRS: refused if at least half the points, else logged.

    Under a projected CRS (metres, feet) a point with ``|x|`` and ``|y|`` below
    :data:`DEGREE_LIKE_MAX` lies within a few hundred units of the CRS origin -- for
    EPSG:3857 at about lat/lon 0/0 in the Gulf of Guinea -- which is where lat/lon degrees
    read as metres end up. Refused only when those numbers, read as lon/lat, also fall in the
    CRS's area of use (degrees of the place the CRS is for); otherwise (a local CRS centred
    on the study area, or one without an area of use) a warning names the rows.
    """
    if src is None or not getattr(src, "is_projected", False):
        return
    ok = valid & np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return
    tiny = ok & (np.abs(np.where(ok, x, np.inf)) < DEGREE_LIKE_MAX) & (
        np.abs(np.where(ok, y, np.inf)) < DEGREE_LIKE_MAX
    )
    if not tiny.any():
        return
    unit = str(src.axis_info[0].unit_name) if src.axis_info else "unit"
    units = unit[:-4] + "feet" if unit.endswith("foot") else unit + "s"
    what = (
        f"coordinates look like degrees, not {src.to_string()} {units}: |x| and |y| are "
        f"below {DEGREE_LIKE_MAX:g} {units}, i.e. within a few hundred {units} of the CRS "
        "origin (for EPSG:3857 at about lat 0, lon 0)"
    )
    # refuse only when the numbers, read as lon/lat, lie where the CRS is meant to be used
    # (EPSG:3857: the world; a UTM zone: its band); a local CRS centred on the study area
    # (no area of use, or points elsewhere) gets a warning
    area = getattr(src, "area_of_use", None)
    inside = np.zeros_like(tiny)
    if area is not None:
        inside = tiny & (x >= area.west) & (x <= area.east) & (y >= area.south) & (
            y <= area.north)
    if tiny.sum() * 2 >= ok.sum() and inside.sum() * 2 >= tiny.sum():
        report.add(f"{int(tiny.sum())} of {int(ok.sum())} " + what, fix, tiny)
    else:
        rows = np.flatnonzero(tiny) + 1
        logger.warning("%s: %s (%s). %s", report.source, what, format_rows(rows), fix)


def geometry_coordinates(
    geom: Any, report: _Report, crs: Any | None, crs_flag: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``(lat, lon)`` in degrees of a geometry column (points, or a representative point of
    other shapes), reprojected from ``crs``; problems go to ``report`` naming ``crs_flag``."""
    import shapely

    arr = np.asarray(geom.array, dtype=object) if hasattr(geom, "array") else np.asarray(geom)
    absent = shapely.is_missing(arr) | shapely.is_empty(arr)
    if absent.any():
        report.add(
            "geometry is missing or empty",
            "give every feature a geometry (a point, or a polygon/line to use a point inside it) "
            "or drop those features",
            absent,
        )
    # a NaN or infinite vertex (GeoJSON readers accept NaN / Infinity) would give a point
    # anywhere, or none: refused like a non-number in a coordinate column
    nonfinite = _nonfinite_vertices(np.where(absent, None, arr))
    if nonfinite.any():
        report.add(
            "geometry has a coordinate that is not a finite number (NaN or infinity)",
            "give every vertex finite coordinates, or drop those features",
            nonfinite,
        )
        absent = absent | nonfinite
    own_crs = geom.crs
    src = own_crs
    if src is None and crs is not None:
        src = _parse_crs(crs, report)
        if src is None:
            x, y = _representative_xy(np.where(absent, None, arr), wrap=False)
            return y, x
    elif src is not None and crs is not None:
        logger.warning(
            "%s has its own CRS (%s); the crs argument %r is ignored",
            report.source,
            src.to_string(),
            crs,
        )
    if not _planar_crs(src, report, declared=own_crs is not None):
        x, y = _representative_xy(np.where(absent, None, arr), wrap=False)
        return y, x  # reported; range checks would mislead
    x, y = _representative_xy(np.where(absent, None, arr),
                              wrap=src is None or bool(src.is_geographic))
    ok = np.isfinite(x) & np.isfinite(y)
    _check_degree_like(
        x, y, ok, src, report,
        f"drop {crs_flag} (degrees are the default) or use "
        f"{report.option('crs', 'EPSG:4326')}"
        if own_crs is None
        else f"the file declares {src.to_string()}: re-save it with its true CRS "
        "(EPSG:4326 for lon/lat degrees)",
    )
    if src is None:
        in_range = np.all(np.abs(y[ok]) <= 90) and np.all(np.abs(x[ok]) <= 180)
        if in_range:
            warnings.warn(
                f"{report.source}: the {'table' if report.option_style == 'api' else 'file'} "
                "has no CRS; assuming EPSG:4326 (lon/lat degrees). "
                + ("Set its CRS (gdf.set_crs(...)) if that is wrong."
                   if report.option_style == "api" else
                   f"Pass {report.crs_option()} if that is wrong."),
                CoverageWarning,
                stacklevel=5,
            )
    lon, lat, transformed = _to_lonlat(x, y, src)
    _check_ranges(lat, lon, ok, report, transformed, crs_flag, from_geometry=True)
    return lat, lon


#: Vertices whose coordinates :func:`_nonfinite_vertices` copies at once (2 floats each).
_VERTEX_CHUNK = 4_000_000


def _nonfinite_vertices(arr: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
    """Geometries with a NaN or infinite x or y in any vertex (None: False).

    The coordinates are copied a chunk of geometries holding about :data:`_VERTEX_CHUNK`
    vertices at a time: national polygon layers hold tens of millions of vertices.
    """
    import shapely

    out = np.zeros(len(arr), dtype=bool)
    ends = np.cumsum(shapely.get_num_coordinates(arr), dtype=np.int64)
    start = 0
    while start < len(arr):
        done = int(ends[start - 1]) if start else 0
        stop = max(int(np.searchsorted(ends, done + _VERTEX_CHUNK, side="right")), start + 1)
        coords, owner = shapely.get_coordinates(arr[start:stop], return_index=True)
        out[start + owner[~np.isfinite(coords).all(axis=1)]] = True
        start = stop
    return out


def _representative_xy(
    arr: npt.NDArray[np.object_], *, wrap: bool
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """x, y of a point inside each geometry (NaN for a missing one), vectorised.

    With ``wrap`` (longitude/latitude coordinates) a geometry spanning more than 180
    degrees of longitude whose span shrinks when negative longitudes are shifted by +360
    (it crosses the antimeridian, e.g. a Fiji polygon from 179 to -179) gets its point
    from the shifted geometry, shifted back to [-180, 180).
    """
    import shapely

    try:
        pts = shapely.point_on_surface(arr)
    except shapely.errors.GEOSException:
        pts = shapely.point_on_surface(shapely.make_valid(arr))
    x = np.asarray(shapely.get_x(pts), dtype=np.float64)
    y = np.asarray(shapely.get_y(pts), dtype=np.float64)
    if not wrap or not len(arr):
        return x, y
    xmin, _, xmax, _ = np.asarray(shapely.bounds(arr), dtype=np.float64).reshape(-1, 4).T
    with np.errstate(invalid="ignore"):
        wide = (xmax - xmin) > 180.0
    if not wide.any():
        return x, y
    idx = np.flatnonzero(wide)

    def east(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out = coords.copy()
        out[:, 0] = np.where(out[:, 0] < 0, out[:, 0] + 360.0, out[:, 0])
        return out

    shifted = shapely.transform(arr[idx], east)
    sxmin, _, sxmax, _ = np.asarray(shapely.bounds(shifted), dtype=np.float64).reshape(-1, 4).T
    better = (sxmax - sxmin) < (xmax - xmin)[idx]
    if not better.any():
        return x, y
    try:
        spts = shapely.point_on_surface(shifted[better])
    except shapely.errors.GEOSException:
        spts = shapely.point_on_surface(shapely.make_valid(shifted[better]))
    sx = np.asarray(shapely.get_x(spts), dtype=np.float64)
    x[idx[better]] = (sx + 180.0) % 360.0 - 180.0
    y[idx[better]] = np.asarray(shapely.get_y(spts), dtype=np.float64)
    return x, y


def _check_ranges(
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    valid: npt.NDArray[np.bool_],
    report: _Report,
    transformed_from: str | None,
    crs_flag: str,
    *,
    from_geometry: bool = False,
) -> None:
    """Out-of-range, swapped and projected-metres checks on valid (parsed) rows.

    ``transformed_from`` names the CRS the coordinates were transformed from (None when
    they were taken as EPSG:4326 degrees, in which case the heuristics apply).
    """
    finite = valid & np.isfinite(lat) & np.isfinite(lon)
    failed_transform = valid & ~finite
    if failed_transform.any():
        report.add(
            f"coordinates could not be transformed from {transformed_from} to EPSG:4326",
            "check the crs matches the coordinate columns",
            failed_transform,
        )
    abs_lat = np.where(finite, np.abs(lat), 0.0)
    abs_lon = np.where(finite, np.abs(lon), 0.0)
    bad_lat = abs_lat > 90
    bad_lon = abs_lon > 180
    if not (bad_lat.any() or bad_lon.any()):
        return
    if transformed_from is not None:
        report.add(
            f"coordinates fall outside [-90, 90] latitude / [-180, 180] longitude after "
            f"transforming from {transformed_from}",
            f"check that crs ({crs_flag}) is the CRS the coordinates are in",
            bad_lat | bad_lon,
        )
        return
    projected = (abs_lat > 360) & (abs_lon > 360)
    if projected.any():
        report.add(
            "coordinates look like projected metres (e.g. EPSG:3857), not degrees",
            report.crs_fix("EPSG:3857"),
            projected,
        )
        bad_lat &= ~projected
        bad_lon &= ~projected
    rest = finite & ~projected
    swapped = bad_lat.any() and np.all(abs_lon[rest] <= 90) and np.all(abs_lat[rest] <= 180)
    if swapped and from_geometry:
        report.add(
            "geometry coordinates look swapped (y holds values outside [-90, 90] while every "
            "x would be a valid latitude)",
            "write the geometries as (x=longitude, y=latitude)",
            bad_lat,
        )
        return
    if swapped:
        report.add(
            "lat and lon columns look swapped (latitudes outside [-90, 90] while every "
            "longitude would be a valid latitude)",
            "swap the columns or rename them (lat <-> lon)",
            bad_lat,
        )
        return
    if bad_lat.any():
        report.add(
            "latitude outside [-90, 90]",
            "fix those latitudes (degrees, EPSG:4326), or pass "
            f"{report.crs_option()} if they are projected",
            bad_lat,
        )
    if bad_lon.any():
        report.add(
            "longitude outside [-180, 180]",
            "fix those longitudes (degrees, EPSG:4326), or pass "
            f"{report.crs_option()} if they are projected",
            bad_lon,
        )


_DOT_GROUPED = r"\d{1,3}(?:\.\d{3})+"


def _warn_dot_thousands(s: pd.Series, report: _Report) -> None:
    """A text population whose every dot is followed by exactly three digits, some ending
    in 0 (``816.614``, ``639.890``), and no plain number of four digits or more: thousands
    grouped with dots (German, Italian spreadsheets), read as decimals, 1000 times too
    small (tester 182). Said, not refused: ``12.340`` may be a decimal written with three
    places."""
    txt = s.astype("string").str.strip()
    dotted = txt.str.contains(".", regex=False).fillna(False).to_numpy(dtype=bool)
    if not dotted.any():
        return
    grouped = txt.str.fullmatch(_DOT_GROUPED).fillna(False).to_numpy(dtype=bool)
    if (dotted & ~grouped).any():
        return
    long_plain = txt.str.fullmatch(r"\d{4,}").fillna(False).to_numpy(dtype=bool)
    zero_end = txt.str.endswith("0").fillna(False).to_numpy(dtype=bool) & grouped
    if long_plain.any() or not zero_end.any():
        return
    shown = ", ".join(repr(str(v)) for v in txt[grouped].head(3))
    logger.warning(
        "%s: column %r: %d population value(s) look like thousands grouped with dots (%s: "
        "three digits after every dot, some ending in 0, and no plain number above 999); "
        "they are read as decimals (%s is %s people). Fix: if the dots group thousands, "
        "remove them (or save the sheet without thousands separators)", report.source,
        str(s.name), int(grouped.sum()), shown, repr(str(txt[grouped].iloc[0])),
        str(txt[grouped].iloc[0]))


def _population(s: pd.Series, report: _Report, decimal: str = ".") -> npt.NDArray[np.float64]:
    vals, missing, bad = _numeric(s, decimal)
    if decimal == ",." and not pd.api.types.is_numeric_dtype(s.dtype):
        # dots read as thousands groupings: say so with the column and an example (a
        # population of 425.247 read as 425,247 multiplied a town by 1000 unnoticed,
        # tester 172)
        txt = s.astype("string").str.strip()
        grouped = txt.str.fullmatch(_DOT_THOUSANDS).fillna(False).to_numpy(dtype=bool)
        dotted = txt.str.contains(".", regex=False).fillna(False).to_numpy(dtype=bool)
        # (as _numeric reads them: only when every dot of the column can group thousands)
        if grouped.any() and not (dotted & ~grouped).any():
            first = int(np.flatnonzero(grouped)[0])
            logger.warning(
                "%s: column %r: %d value(s) with dots read as thousands groupings, as the "
                "file's numbers use decimal commas (%r read as %s); if those dots are "
                "decimal points, write the file with one decimal mark", report.source,
                str(s.name), int(grouped.sum()), str(txt.iloc[first]),
                f"{vals[first]:,.0f}")
    elif decimal in (".", ",") and not pd.api.types.is_numeric_dtype(s.dtype):
        # (also in a ';'-separated file, whose numbers may use decimal commas: its dots
        # were read as decimal points with no word, tester 207)
        _warn_dot_thousands(s, report)
    if missing.any():
        report.add(
            f"population is missing/empty (NaN) in column {str(s.name)!r}",
            "fill in a population (0 is allowed) or drop those rows",
            missing,
        )
    if bad.any():
        fix = "use plain numbers (no thousands separators, units or text)"
        if not pd.api.types.is_numeric_dtype(s.dtype):
            # a value with two dots (1.650.070) among others with one (32.890, read as
            # 32.89): the fix of the bad rows alone left the others 1000 times too small
            # (tester 207)
            txt = s.astype("string").str.strip()
            grouped = txt.str.fullmatch(_DOT_GROUPED).fillna(False).to_numpy(dtype=bool)
            others = grouped & ~bad
            if (grouped & bad).any() and others.any():
                fix += (f"; {int(others.sum())} other value(s) of the column have dots "
                        f"that may group thousands too (e.g. {str(txt[others].iloc[0])!r}, "
                        "read as a decimal): remove the dots from every value")
        report.add(
            f"population is not a finite number: {_raw_values(s, bad)}",
            fix,
            bad,
        )
    known = np.nan_to_num(vals, nan=0.0)
    negative = known < 0
    if negative.any():
        report.add(
            "population is negative",
            "population must be >= 0; fix or drop those rows",
            negative,
        )
    huge = known > MAX_POPULATION_PER_POINT
    if huge.any():
        report.add(
            f"population above {MAX_POPULATION_PER_POINT:.0e} people at one point (more than "
            f"the world's population): {_raw_values(s, huge)}",
            "check the column holds people (not a density, an id or a sum in another unit), "
            "or fix/drop those rows",
            huge,
        )
    total = float(np.sum(np.clip(known, 0.0, MAX_POPULATION_PER_POINT)))
    if not huge.any() and total > MAX_POPULATION_TOTAL:
        report.add(
            f"total population {total:.3g} is above {MAX_POPULATION_TOTAL:.0e} people (over "
            "100 times the world's population)",
            "check the column holds people and that points are not repeated (overlapping "
            "layers or duplicated rows)",
        )
    return vals + 0.0  # -0 is 0 (it came out as -0.0 in assignment.csv)


def access_names(access_profiles: Collection[str] | Mapping[str, Any] | None,
                 ) -> dict[str, str]:
    """Each access class's lower-cased name -> its name as the model spells it, for the
    names no other class shares whatever the case (review 164: a model's "Starlink" read
    from a column as "starlink", then unknown). An access column's values and the access
    option are matched through it."""
    names = [str(k) for k in (access_profiles or ())]
    return {n.lower(): n for n in names if sum(m.lower() == n.lower() for m in names) == 1}


def _all_empty(s: pd.Series) -> bool:
    """Whether every cell of the column ``s`` (of one row or more) is missing."""
    return len(s) > 0 and bool(_text(s)[1].all())


def _say_empty_access(report: _Report, column: Any) -> None:
    """Warn that the access column ``column`` is empty in every row, so the run's access
    option applies to every point, as without the column (tester 192: it was refused,
    while the other optional columns, all empty, take the run's value)."""
    option = {"api": "access=", "toml": "access"}.get(report.option_style, "--access")
    logger.warning(
        "%s: the access column %r is empty in every row: it is read as absent, so the "
        "run's access class (%s, ftth by default) applies to every point (an empty cell "
        "among filled ones is refused). Fix: fill in each row's access class, or drop the "
        "column to silence this", report.source, str(column), option)


def _access(s: pd.Series, report: _Report, keys: list[str],
            names: Mapping[str, str] | None = None) -> pd.Series:
    """An ``access`` column: each value one of ``keys`` (lower-cased), whatever its case,
    returned as ``names`` spells it (the model's own name; lower case otherwise)."""
    txt, missing = _text(s)
    txt = txt.str.lower()
    if missing.any():
        report.add(
            f"access is missing/empty in column {str(s.name)!r}",
            f"fill in one of: {', '.join(keys)} (or drop the access column)",
            missing,
        )
    unknown = ~missing & ~txt.isin(keys).to_numpy(dtype=bool)
    if unknown.any():
        report.add(
            f"unknown access values {_format_values(txt[unknown].tolist())}",
            f"use one of: {', '.join(keys)}",
            unknown,
        )
    return txt.replace(dict(names)) if names else txt


def _budget(s: pd.Series, report: _Report, decimal: str = ".") -> npt.NDArray[np.float64]:
    """A demand ``budget_ms`` column: positive finite ms; an empty cell takes the run's
    budget (``nan``)."""
    vals, _missing, bad = _numeric(s, decimal)
    if bad.any():
        report.add(
            f"budget_ms is not a finite number: {_raw_values(s, bad)}",
            "write the row's latency budget in ms (e.g. 30), or leave the cell empty to use "
            "--budget-ms",
            bad,
        )
    nonpos = np.isfinite(vals) & ((vals <= 0) | (vals > 1e6))
    if nonpos.any():
        report.add(
            f"budget_ms must be a positive number of ms up to 1,000,000: "
            f"{_raw_values(s, nonpos)}",
            "write a budget > 0 ms, or leave the cell empty to use --budget-ms",
            nonpos,
        )
    return vals


def _tier(raw: pd.DataFrame, col: Any | None) -> pd.Series:
    if col is None:
        return pd.Series(np.full(len(raw), "candidate", dtype=object), dtype="string")
    txt, missing = _text(raw[col])
    return txt.where(~missing, "candidate")


def _required(raw: pd.DataFrame, col: Any | None, report: _Report) -> npt.NDArray[np.bool_]:
    n = len(raw)
    if col is None:
        return np.zeros(n, dtype=bool)
    s = raw[col]
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.fillna(False).to_numpy(dtype=bool)
    txt, missing = _text(s)
    low = txt.str.lower()
    is_true = low.isin(_TRUE_TOKENS).to_numpy(dtype=bool)
    is_false = low.isin(_FALSE_TOKENS).to_numpy(dtype=bool)
    bad = ~missing & ~is_true & ~is_false
    if bad.any():
        report.add(
            f"column {str(col)!r} is not a boolean: {_raw_values(s, bad)}",
            "use true/false, 1/0 or yes/no",
            bad,
        )
    return is_true


def _cost(s: pd.Series, report: _Report, decimal: str = ".",
          required: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[np.float64]:
    vals, missing, bad = _numeric(s, decimal)
    if missing.any():
        report.add(
            "cost is missing/empty (NaN)",
            "give every site a cost > 0, or drop the cost column",
            missing,
        )
    if bad.any():
        report.add(
            f"cost is not a finite number: {_raw_values(s, bad)}",
            "use plain positive numbers (no currency symbols or thousands separators)",
            bad,
        )
    known = np.nan_to_num(vals, nan=1.0)
    nonpos = known <= 0
    if nonpos.any():
        report.add("cost is <= 0", "costs must be > 0", nonpos)
    tiny = ~nonpos & (known < MIN_COST)
    if tiny.any():
        report.add(
            f"cost below {MIN_COST:g}: {_raw_values(s, tiny)} (likely a unit error)",
            "express costs in a smaller unit (e.g. currency units, not millions)",
            tiny,
        )
    huge = known > MAX_COST
    if huge.any():
        report.add(
            f"cost above {MAX_COST:.0e}: {_raw_values(s, huge)}",
            "express costs in a larger unit (e.g. thousands) or fix those rows",
            huge,
        )
    ok = ~nonpos & ~tiny & ~huge & ~missing & ~bad
    if required is not None:  # an existing site's cost changes no choice: not in the spread
        ok &= ~required
    if ok.sum() > 1:
        low = float(known[ok].min())
        spread = ok & (known > low * MAX_COST_RATIO)
        if spread.any():
            row_low = int(np.flatnonzero(ok & (known == low))[0]) + 1
            report.add(
                f"costs span more than {MAX_COST_RATIO:.0e} to 1 (lowest {low:g} at row "
                f"{row_low}), beyond what the solver handles reliably: "
                f"{_raw_values(s, spread)}",
                f"check for typos or mixed units; give costs within a {MAX_COST_RATIO:.0e} "
                "range",
                spread,
            )
    return vals


# --------------------------------------------------------------------------------------
# H3 population tables (Kontur style): demand at the cell centres
# --------------------------------------------------------------------------------------

#: Column aliases of the H3 cell id (matched case-insensitively, in order).
H3_ALIASES: tuple[str, ...] = ("h3", "h3_index", "h3_cell", "hex_id")
_H3_EXAMPLES = 3


def is_h3_table(frame: pd.DataFrame) -> bool:
    """Whether a table is an H3 population table (an H3 column and no lat/lon columns).

    Parameters
    ----------
    frame : pandas.DataFrame
        Attribute columns of a demand input.

    Returns
    -------
    bool
    """
    has_h3 = _find_column(frame.columns, H3_ALIASES) is not None
    has_xy = (
        _find_column(frame.columns, DEMAND_ALIASES["lat"]) is not None
        and _find_column(frame.columns, DEMAND_ALIASES["lon"]) is not None
    )
    return has_h3 and not has_xy


def read_h3_population(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read an H3-indexed population table (Kontur style) as demand at the cell centres.

    Parameters
    ----------
    path : str or path-like
        CSV (or any table :func:`~coverage.inputs.tables.read_demand` reads: GeoPackage, Parquet,
        ...) with an ``h3`` column (aliases :data:`H3_ALIASES`; H3 cell ids as hex strings, any
        resolution) and a ``population`` column. A geometry (Kontur's hexagons) is ignored:
        the point is the H3 cell centre.

    Returns
    -------
    pandas.DataFrame
        As :func:`coverage.inputs.tables.read_demand`, with ``demand_id`` the H3 id (lower case); an
        ``access`` column is kept when present. ``attrs["population_grid"]`` has
        ``source``, ``kind``, ``total_population``, ``demand_rows`` and ``resolutions``.

    Raises
    ------
    InputValidationError
        Missing columns, invalid H3 ids, NaN / negative / non-numeric population,
        duplicate cells (to merge or drop), no cell with population > 0.

    Notes
    -----
    h3-py 4.5 has no array version of ``cell_to_latlng`` (``h3.api.numpy_int`` only
    converts inputs; its ``cell_to_latlng`` is scalar), so the centres cost one call per
    distinct cell (about 1 us each).
    """
    report = _Report(str(path), "demand")
    loaded = load_file(path, report)
    return _h3_demand(loaded, report)


def _h3_demand(
    loaded: _Loaded,
    report: _Report,
    access_profiles: Collection[str] | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    import h3

    raw = loaded.frame
    cols = resolve_columns(
        raw,
        {"h3": H3_ALIASES, "population": DEMAND_ALIASES["population"],
         "access": DEMAND_ALIASES["access"]},
        report,
        has_geometry=True,
    )
    report.raise_if_any()  # ambiguous columns
    h3_col, pop_col, access_col = cols["h3"], cols["population"], cols["access"]
    have = column_list(raw.columns, loaded.unnamed)
    if h3_col is None or pop_col is None:
        missing = [name for name, col in (("h3", h3_col), ("population", pop_col)) if col is None]
        report.add(
            f"missing column(s) {', '.join(missing)}; the input has columns: {have}",
            f"name the H3 column one of {', '.join(H3_ALIASES)} and the population column "
            f"one of {', '.join(DEMAND_ALIASES['population'])}",
        )
        report.raise_if_any()
    if len(raw) == 0:
        report.add("no data rows", "add at least one H3 cell with its population")
        report.raise_if_any()

    cells = raw[h3_col].astype("string").str.strip().str.lower()
    missing = cells.isna().to_numpy(dtype=bool) | (cells.fillna("") == "").to_numpy(dtype=bool)
    cells = cells.fillna("")
    uniq, inverse = np.unique(cells.to_numpy(dtype=object).astype(str), return_inverse=True)

    def centre(cell: str) -> tuple[float, float]:
        try:
            if not h3.is_valid_cell(cell):
                return (np.nan, np.nan)
            return h3.cell_to_latlng(cell)
        except (ValueError, TypeError, OverflowError, h3.H3BaseException):
            return (np.nan, np.nan)

    # One h3 call per distinct cell: h3-py 4.5 has no vectorised cell_to_latlng.
    centres = np.array([centre(cell) for cell in uniq], dtype=np.float64).reshape(-1, 2)
    lat = centres[inverse, 0]
    lon = centres[inverse, 1]
    # one spelling per cell ('0871f...', '0x871F...' and '871f...' are one cell to h3): the
    # duplicate check below and the demand ids see the canonical id
    good = np.isfinite(centres[:, 0])
    canon = np.array([h3.int_to_str(h3.str_to_int(c)) if ok else c
                      for c, ok in zip(uniq, good, strict=True)], dtype=object)
    cells = pd.Series(canon[inverse], index=cells.index, dtype="string").where(~missing, "")
    # a cell inside a coarser cell of the table counts its people twice
    present = set(canon[good])
    res = {c: h3.get_resolution(c) for c in present}
    levels = sorted(set(res.values()))
    # (by H3's parentage, as h3.compact_cells divides an area: a compacted table is one
    # count of each cell. Not by where a cell's centre lies: H3 is not nested
    # geometrically, and that test refused compacted tables; review 140)
    inside = {c: parent for c in present for r in levels if r < res[c]
              if (parent := h3.cell_to_parent(c, r)) in present}
    if inside:
        nested = cells.isin(list(inside)).to_numpy(dtype=bool)
        child, parent = next(iter(sorted(inside.items())))
        report.add(
            f"H3 cells of column {str(h3_col)!r} lie inside coarser cells of the same table "
            f"(e.g. {child!r} inside {parent!r}): their people would be counted twice",
            "keep one resolution for each area (drop the finer rows or the coarser one)",
            nested,
        )
    if missing.any():
        report.add(
            f"H3 cell id is missing/empty in column {str(h3_col)!r}",
            "fill in the H3 id or drop those rows",
            missing,
        )
    invalid = ~missing & ~np.isfinite(lat)
    if invalid.any():
        examples = ", ".join(repr(v) for v in pd.unique(cells[invalid])[:_H3_EXAMPLES])
        report.add(
            f"not valid H3 cell ids in column {str(h3_col)!r} (e.g. {examples})",
            "use H3 cell ids as hex strings such as '8928308280fffff' (h3.int_to_str converts "
            "64-bit integers)",
            invalid,
        )
    # an H3 id is a place: a cell listed twice is merged or dropped, not renamed
    dup = cells.duplicated(keep=False).to_numpy(dtype=bool) & ~missing & ~invalid
    if dup.any():
        report.add(
            f"duplicate H3 cells in column {str(h3_col)!r} "
            f"({_format_values(cells[dup].tolist(), _H3_EXAMPLES)}): an H3 id is a place, "
            "listed once with all its people",
            "merge the rows of each cell (sum their population, e.g. df.groupby("
            f"{str(h3_col)!r}, as_index=False)[{str(pop_col)!r}].sum()) or drop the duplicate "
            "rows",
            dup,
        )
    pop = _population(raw[pop_col], report, loaded.decimal)
    report.raise_if_any()
    if not (pop > 0).any():  # as a raster without any populated cell
        report.add(
            f"no H3 cell holds population > 0 (all {counted(len(pop), 'cell')} hold 0 in "
            f"column {str(pop_col)!r})",
            "check the population column holds people per cell, and that the table is the "
            "population layer (not an empty extract)",
        )
        report.raise_if_any()

    frame = pd.DataFrame(
        {"demand_id": cells.to_numpy(dtype=str), "lat": lat, "lon": lon, "population": pop}
    )
    if access_col is not None:
        frame["access"] = raw[access_col].to_numpy()
    # (the caller's option style: an H3 file's messages name --access, not access=;
    # review 165)
    checked = _Report(report.source, "demand", option_style=report.option_style)
    demand = _build(_load_object(frame, checked), checked, kind="demand", crs=None,
                    access_profiles=access_profiles)
    total = float(demand["population"].sum())
    resolutions = sorted(
        {int(uniq_res) for uniq_res in (h3.get_resolution(cell) for cell in uniq if cell)}
    )
    demand.attrs["population_grid"] = {
        "source": report.source,
        "kind": "h3",
        "total_population": total,
        "demand_rows": int(len(demand)),
        "resolutions": resolutions,
    }
    logger.info(
        "%s: %d H3 cells (resolution %s), total population %.6g",
        report.source,
        len(demand),
        resolutions,
        total,
    )
    return demand
