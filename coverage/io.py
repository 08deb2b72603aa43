"""Reading and validating demand (population) and candidate-site files.

Two tables enter the planner:

* **demand** -- where the users are and how many: ``demand_id``, ``lat``, ``lon``,
  ``population``, ``name`` and, when the input has one, ``access`` (the access-network
  technology, a key of :data:`coverage.latency.ACCESS_PROFILES_MS`);
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
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import warnings
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .errors import CoverageWarning, InputValidationError

__all__ = [
    "file_info",
    "sha256_file",
    "DEMAND_ALIASES",
    "SITE_ALIASES",
    "DEFAULT_ACCESS_TYPES",
    "read_demand",
    "read_sites",
    "as_demand",
    "as_sites",
    "format_rows",
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

#: Access technologies accepted when :mod:`coverage.latency` cannot be imported.
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
_PARQUET_SUFFIXES = {".parquet", ".geoparquet", ".pq"}
_VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb", ".gml", ".kml"}
_MISSING_TOKENS = ("", "nan", "na", "n/a", "null", "none", "<na>")
_TRUE_TOKENS = ("true", "t", "yes", "y", "1", "1.0")
_FALSE_TOKENS = ("false", "f", "no", "n", "0", "0.0")
_COMPLETE_HINT = "check the file is complete and in the format its extension says"


# --------------------------------------------------------------------------------------
# Problems and messages
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    """One validation problem: what is wrong, where (1-based rows) and how to fix it."""

    what: str
    fix: str
    rows: npt.NDArray[np.int64] | None = None

    def render(self) -> str:
        text = self.what.rstrip(". ")
        if self.rows is not None and len(self.rows):
            text += f" ({format_rows(self.rows)})"
        return f"{text}. Fix: {self.fix.rstrip('. ')}."


@dataclass
class _Report:
    """Collects the problems of one input and raises them all at once."""

    source: str
    kind: str
    problems: list[_Problem] = field(default_factory=list)

    def add(self, what: str, fix: str, mask: npt.ArrayLike | None = None) -> None:
        rows = None
        if mask is not None:
            rows = np.flatnonzero(np.asarray(mask, dtype=bool)).astype(np.int64) + 1
        self.problems.append(_Problem(what, fix, rows))

    def raise_if_any(self) -> None:
        if not self.problems:
            return
        n = len(self.problems)
        head = f"Invalid {self.kind} input {self.source!r}: {n} problem{'s' if n > 1 else ''}"
        body = "\n".join(f"  {i}. {p.render()}" for i, p in enumerate(self.problems, 1))
        raise InputValidationError(f"{head}\n{body}")


def format_rows(rows: npt.ArrayLike, limit: int = 10) -> str:
    """Format 1-based row numbers for an error message.

    Parameters
    ----------
    rows : array_like of int
        1-based data-row numbers (row 1 is the first data row after a CSV header).
    limit : int, default 10
        Show at most this many numbers; the rest is summarised as "and N more".

    Returns
    -------
    str
        E.g. ``"row 3"``, ``"rows 1, 4, 9"`` or ``"rows 1, 2, ..., 10 and 5 more"``.

    Examples
    --------
    >>> format_rows([3])
    'row 3'
    >>> format_rows(range(1, 14), limit=3)
    'rows 1, 2, 3 and 10 more'
    """
    arr = np.asarray(rows, dtype=np.int64).ravel()
    if arr.size == 0:
        return "no rows"
    shown = ", ".join(str(int(r)) for r in arr[:limit])
    more = f" and {arr.size - limit} more" if arr.size > limit else ""
    return f"{'row' if arr.size == 1 else 'rows'} {shown}{more}"


def _format_values(values: Iterable[Any], limit: int = 10) -> str:
    """Quote the first ``limit`` distinct values for a message."""
    uniq = list(dict.fromkeys(str(v) for v in values))
    shown = ", ".join(repr(v) for v in uniq[:limit])
    return shown + (f" and {len(uniq) - limit} more" if len(uniq) > limit else "")


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def read_demand(
    path: str | os.PathLike[str],
    *,
    crs: Any | None = None,
    access_profiles: Collection[str] | Mapping[str, Any] | None = None,
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
        :mod:`coverage.grids`.
    crs : optional
        CRS of the coordinate columns of a CSV / plain Parquet file (anything
        :meth:`pyproj.CRS.from_user_input` accepts, e.g. ``"EPSG:3857"``), or of a vector
        file that has no CRS of its own. ``None`` means EPSG:4326 degrees.
    access_profiles : collection of str or mapping, optional
        Allowed access technologies (keys are used for a mapping). Defaults to the keys of
        :data:`coverage.latency.ACCESS_PROFILES_MS`.

    Returns
    -------
    pandas.DataFrame
        RangeIndex; columns ``demand_id`` (str, unique), ``lat``, ``lon`` (float64,
        EPSG:4326 degrees), ``population`` (float64, finite, >= 0), ``name`` (str) and,
        only if the input has an access column, ``access`` (str, lower case); the
        remaining input columns follow.

    Raises
    ------
    InputValidationError
        Listing every problem found (file, problem, rows, fix).
    """
    if Path(path).suffix.lower() in (".tif", ".tiff"):
        from .grids import read_population_raster

        return read_population_raster(path, crs=crs)
    report = _Report(str(path), "demand")
    loaded = _load_file(path, report)
    from .grids import _h3_demand, is_h3_table

    if is_h3_table(loaded.frame):
        return _h3_demand(loaded, report, access_profiles)
    return _build(loaded, report, kind="demand", crs=crs, access_profiles=access_profiles)


def read_sites(path: str | os.PathLike[str], *, crs: Any | None = None) -> pd.DataFrame:
    """Read and validate a candidate-site file.

    Parameters
    ----------
    path : str or path-like
        Same formats as :func:`read_demand`.
    crs : optional
        CRS of the coordinate columns, as in :func:`read_demand`.

    Returns
    -------
    pandas.DataFrame
        RangeIndex; columns ``site_id`` (str, unique), ``lat``, ``lon`` (float64,
        EPSG:4326 degrees), ``name`` (str), ``tier`` (str, ``"candidate"`` when absent),
        ``required`` (bool, from a ``required``/``existing``/``fixed`` column holding
        true/false/1/0/yes/no, default False) and, only if present in the input, ``cost``
        (float64, > 0); the remaining input columns follow.

    Raises
    ------
    InputValidationError
        Listing every problem found (file, problem, rows, fix).
    """
    report = _Report(str(path), "sites")
    loaded = _load_file(path, report)
    return _build(loaded, report, kind="sites", crs=crs, access_profiles=None)


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
    report = _Report(source, "demand")
    loaded = _load_object(obj, report)
    return _build(loaded, report, kind="demand", crs=crs, access_profiles=access_profiles)


def as_sites(
    obj: pd.DataFrame, *, source: str = "<DataFrame>", crs: Any | None = None
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

    Returns
    -------
    pandas.DataFrame
        See :func:`read_sites`.

    Raises
    ------
    InputValidationError
        Listing every problem found.
    """
    report = _Report(source, "sites")
    loaded = _load_object(obj, report)
    return _build(loaded, report, kind="sites", crs=crs, access_profiles=None)


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


@dataclass
class _Loaded:
    """A raw attribute table plus, for vector inputs, the geometry column (a GeoSeries)."""

    frame: pd.DataFrame
    geometry: Any | None = None  # geopandas.GeoSeries
    empty_file: bool = False


def _load_object(obj: Any, report: _Report) -> _Loaded:
    if not isinstance(obj, pd.DataFrame):
        report.add(
            f"expected a pandas DataFrame or GeoDataFrame, got {type(obj).__name__}",
            "pass a DataFrame, or a file path to read_demand/read_sites",
        )
        report.raise_if_any()
    return _split_geometry(obj)


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


def _load_file(path: str | os.PathLike[str], report: _Report) -> _Loaded:
    p = Path(path)
    if not p.exists():
        report.add(
            "file not found",
            f"check the path (working directory is {os.getcwd()!r})",
        )
        report.raise_if_any()
    if not p.is_file():
        report.add("path is not a regular file (a directory?)", "pass the path of a file")
        report.raise_if_any()
    size = p.stat().st_size
    if size == 0:
        report.add(
            "file is empty (0 bytes, no header and no data rows)",
            "write a header line and at least one data row, " + _COMPLETE_HINT,
        )
        report.raise_if_any()

    suffix, gz = _suffixes(p)
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
        return _read_vector(p)
    except InputValidationError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure becomes a validation error
        known = suffix in _CSV_SUFFIXES or suffix in _PARQUET_SUFFIXES or suffix in _VECTOR_SUFFIXES
        what = "cannot read the file" if known else f"unsupported or unreadable format {suffix!r}"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        fix = _COMPLETE_HINT
        if not known:
            fix += (
                "; supported: .csv, .csv.gz, .txt, .tsv, .geojson, .json, .gpkg, .shp, "
                ".parquet/.geoparquet"
            )
        report.add(f"{what}: {type(exc).__name__}: {reason}", fix)
        report.raise_if_any()
    raise AssertionError("unreachable")  # pragma: no cover


def _read_csv(path: Path, sep: str, gz: bool, report: _Report) -> _Loaded:
    opener = gzip.open if gz else open
    with opener(path, "rb") as fh:
        head = fh.read(8192)
    if b"\x00" in head:
        report.add(
            "file looks binary (contains NUL bytes), not comma-separated text",
            "export the data as a UTF-8 CSV, " + _COMPLETE_HINT,
        )
        report.raise_if_any()
    if not head.strip():
        report.add(
            "file is empty (only whitespace, no header and no data rows)",
            "write a header line and at least one data row, " + _COMPLETE_HINT,
        )
        report.raise_if_any()
    try:
        df = pd.read_csv(
            path,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig",
            compression="gzip" if gz else None,
        )
    except UnicodeDecodeError as exc:
        report.add(
            f"file is not UTF-8 text: {exc}",
            "re-save it as UTF-8 CSV, " + _COMPLETE_HINT,
        )
        report.raise_if_any()
    df.columns = [str(c).strip() for c in df.columns]
    return _Loaded(df)


def _read_parquet(path: Path) -> _Loaded:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    if b"geo" in meta:
        import geopandas as gpd

        return _split_geometry(gpd.read_parquet(path))
    return _Loaded(pd.read_parquet(path))


def _read_vector(path: Path) -> _Loaded:
    import geopandas as gpd

    df = gpd.read_file(path, engine="pyogrio")
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


def _text(s: pd.Series) -> tuple[pd.Series, npt.NDArray[np.bool_]]:
    """Stripped string values and a missing mask; integral floats print without ``.0``."""
    if pd.api.types.is_float_dtype(s.dtype):
        vals = s.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(vals)
        if np.all(np.equal(np.mod(vals[finite], 1), 0)):
            s = pd.Series(s.to_numpy(dtype=np.float64, na_value=np.nan)).round().astype("Int64")
    txt = s.astype("string").str.strip()
    missing = (txt.isna() | txt.str.lower().isin(_MISSING_TOKENS)).to_numpy(dtype=bool)
    return txt.where(~missing), missing


def _numeric(
    s: pd.Series,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Parse numbers: (float64 values with NaN, missing mask, non-numeric-or-infinite mask)."""
    if pd.api.types.is_bool_dtype(s.dtype):
        s = s.astype("Int64")
    if pd.api.types.is_numeric_dtype(s.dtype):
        vals = s.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(vals)
        return vals, missing, np.isinf(vals)
    txt = s.astype("string").str.strip()
    missing = (txt.isna() | txt.str.lower().isin(_MISSING_TOKENS)).to_numpy(dtype=bool)
    num = pd.to_numeric(txt.where(~missing), errors="coerce")
    vals = pd.Series(num).to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~missing & ~np.isfinite(vals)
    return np.where(np.isfinite(vals), vals, np.nan), missing, bad


def _raw_values(s: pd.Series, mask: npt.NDArray[np.bool_], limit: int = 10) -> str:
    return _format_values(s[mask].head(limit * 4).astype(str).tolist(), limit)


def _access_keys(access_profiles: Collection[str] | Mapping[str, Any] | None) -> list[str]:
    if access_profiles is not None:
        return [str(k).lower() for k in access_profiles]
    try:
        from .latency import ACCESS_PROFILES_MS
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
            "pass an authority code such as crs='EPSG:3857' (CLI: --demand-crs/--candidates-crs)",
        )
        return None


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
) -> pd.DataFrame:
    aliases = DEMAND_ALIASES if kind == "demand" else SITE_ALIASES
    id_col_name = "demand_id" if kind == "demand" else "site_id"
    crs_flag = f"--{kind}-crs"
    raw = loaded.frame
    n = len(raw)
    dup_cols = raw.columns[raw.columns.duplicated()]
    if len(dup_cols):
        report.add(
            f"duplicate column names {_format_values(dup_cols)}",
            "give every column a distinct name",
        )
        report.raise_if_any()
    cols = {key: _find_column(raw.columns, names) for key, names in aliases.items()}
    used: list[Any] = [c for c in cols.values() if c is not None]

    # --- required columns ---------------------------------------------------------
    missing_cols: list[str] = []
    if loaded.geometry is None:
        for key, label in (("lat", "latitude"), ("lon", "longitude")):
            if cols[key] is None:
                missing_cols.append(f"{label} (looked for: {', '.join(aliases[key])})")
    if kind == "demand" and cols["population"] is None:
        missing_cols.append(f"population (looked for: {', '.join(aliases['population'])})")
    if missing_cols:
        have = ", ".join(repr(str(c)) for c in raw.columns) or "none"
        report.add(
            f"missing column{'s' if len(missing_cols) > 1 else ''}: {'; '.join(missing_cols)}; "
            f"the input has columns: {have}",
            "rename the columns to one of the names looked for (case does not matter)"
            + ("" if loaded.geometry is not None else " (or use a vector file with geometries)"),
        )
    if n == 0:
        report.add(
            "no data rows (the input has a header but no rows)",
            "add at least one data row; " + _COMPLETE_HINT,
        )
        report.raise_if_any()

    # --- ids -----------------------------------------------------------------------
    ids = _ids(raw, cols[id_col_name], report, kind, used)

    # --- coordinates ---------------------------------------------------------------
    lat, lon = _coordinates(loaded, cols, report, crs, crs_flag)

    # --- name --------------------------------------------------------------------------
    if cols["name"] is not None:
        names, name_missing = _text(raw[cols["name"]])
        names = names.where(~name_missing, ids)
    else:
        names = ids

    out: dict[str, Any] = {id_col_name: ids, "lat": lat, "lon": lon}
    if kind == "demand":
        if cols["population"] is not None:
            out["population"] = _population(raw[cols["population"]], report)
        out["name"] = names
        if cols["access"] is not None:
            out["access"] = _access(raw[cols["access"]], report, _access_keys(access_profiles))
    else:
        out["name"] = names
        out["tier"] = _tier(raw, cols["tier"])
        out["required"] = _required(raw, cols["required"], report)
        if cols["cost"] is not None:
            out["cost"] = _cost(raw[cols["cost"]], report)

    report.raise_if_any()

    result = pd.DataFrame(
        {k: (v.to_numpy() if isinstance(v, pd.Series) else v) for k, v in out.items()}
    )
    for key in (id_col_name, "name") + (("access",) if "access" in out else ()):
        result[key] = result[key].astype(str)
    if "tier" in result:
        result["tier"] = result["tier"].astype(str)
    extras = raw.drop(columns=[c for c in dict.fromkeys(used)])
    extras = extras.loc[:, [c for c in extras.columns if str(c) not in result.columns]]
    if len(extras.columns):
        result = pd.concat([result, extras.reset_index(drop=True)], axis=1)
    result.index = pd.RangeIndex(len(result))
    logger.info("read %d %s rows from %s", len(result), kind, report.source)
    return result


def _ids(
    raw: pd.DataFrame, id_col: Any | None, report: _Report, kind: str, used: list[Any]
) -> pd.Series:
    n = len(raw)
    label = "demand_id" if kind == "demand" else "site_id"
    if id_col is None and kind == "demand":
        found = [(_find_column(raw.columns, [part]), width) for part, width in _CENPOP_ID_PARTS]
        parts = [(col, width) for col, width in found if col is not None]
        if parts:
            pieces = []
            for col, width in parts:
                txt, _ = _text(raw[col])
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
    ids, missing = _text(raw[id_col])
    return _check_ids(ids, missing, report, label)


def _check_ids(
    ids: pd.Series, missing: npt.NDArray[np.bool_], report: _Report, label: str
) -> pd.Series:
    if missing.any():
        report.add(
            f"{label} is missing/empty",
            "fill in a unique id for every row, or remove the id column to number rows",
            missing,
        )
    dup = ids.duplicated(keep=False).to_numpy(dtype=bool) & ~missing
    if dup.any():
        report.add(
            f"duplicate {label} values {_format_values(ids[dup].tolist())}",
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
        return _geometry_coordinates(loaded.geometry, report, crs, crs_flag)
    if cols["lat"] is None or cols["lon"] is None:
        return nan, nan.copy()
    lat, lat_missing, lat_bad = _numeric(raw[cols["lat"]])
    lon, lon_missing, lon_bad = _numeric(raw[cols["lon"]])
    missing = lat_missing | lon_missing
    if missing.any():
        report.add(
            "latitude/longitude is missing/empty",
            "fill in both coordinates or drop those rows",
            missing,
        )
    for bad, col in ((lat_bad, cols["lat"]), (lon_bad, cols["lon"])):
        if bad.any():
            report.add(
                f"column {str(col)!r} is not a finite number: {_raw_values(raw[col], bad)}",
                "use plain decimal numbers (dot as decimal separator, no units)",
                bad,
            )
    src = _parse_crs(crs, report)
    if crs is not None and src is None:
        return lat, lon  # invalid CRS already reported; range checks would mislead
    lon, lat, transformed = _to_lonlat(lon, lat, src)
    _check_ranges(lat, lon, ~(missing | lat_bad | lon_bad), report, transformed, crs_flag)
    return lat, lon


def _geometry_coordinates(
    geom: Any, report: _Report, crs: Any | None, crs_flag: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
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
    pts = shapely.point_on_surface(np.where(absent, None, arr))
    x = np.asarray(shapely.get_x(pts), dtype=np.float64)
    y = np.asarray(shapely.get_y(pts), dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)

    src = geom.crs
    if src is None and crs is not None:
        src = _parse_crs(crs, report)
        if src is None:
            return y, x
    elif src is not None and crs is not None:
        logger.warning(
            "%s has its own CRS (%s); the crs argument %r is ignored",
            report.source,
            src.to_string(),
            crs,
        )
    if src is None:
        in_range = np.all(np.abs(y[ok]) <= 90) and np.all(np.abs(x[ok]) <= 180)
        if in_range:
            warnings.warn(
                f"{report.source}: the file has no CRS; assuming EPSG:4326 (lon/lat degrees). "
                f"Pass crs=... ({crs_flag}) if that is wrong.",
                CoverageWarning,
                stacklevel=5,
            )
    lon, lat, transformed = _to_lonlat(x, y, src)
    _check_ranges(lat, lon, ok, report, transformed, crs_flag)
    return lat, lon


def _check_ranges(
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    valid: npt.NDArray[np.bool_],
    report: _Report,
    transformed_from: str | None,
    crs_flag: str,
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
            f"pass crs=... / {crs_flag} with the CRS the coordinates are in, e.g. "
            f"crs='EPSG:3857' / {crs_flag} EPSG:3857",
            projected,
        )
        bad_lat &= ~projected
        bad_lon &= ~projected
    rest = finite & ~projected
    swapped = bad_lat.any() and np.all(abs_lon[rest] <= 90) and np.all(abs_lat[rest] <= 180)
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
            "fix those latitudes (degrees, EPSG:4326), or pass crs=... if they are projected",
            bad_lat,
        )
    if bad_lon.any():
        report.add(
            "longitude outside [-180, 180]",
            "fix those longitudes (degrees, EPSG:4326), or pass crs=... if they are projected",
            bad_lon,
        )


def _population(s: pd.Series, report: _Report) -> npt.NDArray[np.float64]:
    vals, missing, bad = _numeric(s)
    if missing.any():
        report.add(
            f"population is missing/empty (NaN) in column {str(s.name)!r}",
            "fill in a population (0 is allowed) or drop those rows",
            missing,
        )
    if bad.any():
        report.add(
            f"population is not a finite number: {_raw_values(s, bad)}",
            "use plain numbers (no thousands separators, units or text)",
            bad,
        )
    negative = np.nan_to_num(vals, nan=0.0) < 0
    if negative.any():
        report.add(
            "population is negative",
            "population must be >= 0; fix or drop those rows",
            negative,
        )
    return vals


def _access(s: pd.Series, report: _Report, keys: list[str]) -> pd.Series:
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
    return txt


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


def _cost(s: pd.Series, report: _Report) -> npt.NDArray[np.float64]:
    vals, missing, bad = _numeric(s)
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
    nonpos = np.nan_to_num(vals, nan=1.0) <= 0
    if nonpos.any():
        report.add("cost is <= 0", "costs must be > 0", nonpos)
    return vals
