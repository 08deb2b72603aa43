"""GIS exports of a plan: one GeoPackage with every layer, and GeoParquet tables.

``plan.gpkg`` holds the layers

- ``sites``: chosen sites (points, the columns of ``sites.csv``);
- ``demand``: every demand point (points, the columns of ``assignment.csv``);
- ``assignment``: one line per served demand point, from the point to its primary site;
- ``gaps``: demand short of ``k + 1`` sites within budget (not N-k safe: ``coverage_status``
  single, partial or uncoverable, :func:`coverage.resilience.status.is_gap`);
- ``proposed_sites``: new sites proposed for the gaps (points, ``proposed_sites.csv``);

``demand.parquet`` and ``sites.parquet`` are the demand and sites layers as GeoParquet. Every
layer is in EPSG:4326 and opens in QGIS. Geometries are built with vectorised Shapely calls
(no Python loop over rows), so national demand tables (about a million points) export in
seconds.

Every layer goes through :func:`sanitise_layer` before it is written, so attribute columns
taken from the user's files always fit the formats: names that clash with the GeoPackage
feature id or geometry column (``fid``, ``geom``, ``geometry``, any case) get a ``_src``
suffix, timedeltas become float seconds (``_s`` suffix), and types OGR or Parquet cannot store
become text.

:func:`csv_safe` and :func:`write_csv` guard the CSV outputs against spreadsheet formula
injection (text cells starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return get a
``'`` in front, and so does a cell that starts with ``'`` itself, so the escaping is undone
exactly by :func:`csv_unescape`: one leading ``'`` off every text cell that has one).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from ..resilience.status import is_gap

logger = logging.getLogger(__name__)

__all__ = ["GPKG_LAYERS", "assignment_lines", "csv_safe", "csv_unescape", "plan_layers",
           "sanitise_layer", "unescape_text", "write_csv", "write_geoparquet", "write_gpkg",
           "write_points_geoparquet"]

GPKG_LAYERS = ("sites", "demand", "assignment", "gaps", "proposed_sites")
"""Layer names of ``plan.gpkg``, in the order they are written."""

CRS = "EPSG:4326"


def _points(df: pd.DataFrame) -> gpd.GeoDataFrame:
    """Point layer from ``lat``/``lon`` columns (kept as attributes too)."""
    geom = gpd.points_from_xy(df["lon"].to_numpy(dtype=np.float64),
                              df["lat"].to_numpy(dtype=np.float64), crs=CRS)
    return gpd.GeoDataFrame(_writable(pd.DataFrame(df)), geometry=geom, crs=CRS)


RESERVED_COLUMNS = ("fid", "geom", "geometry")
"""Attribute names (any case) that clash with a GeoPackage's feature id or geometry column."""


def _as_text(s: pd.Series, decode: bool = True) -> pd.Series:
    """Text of every present value (bytes decoded as UTF-8, undecodable bytes replaced,
    when ``decode``: a per-value type test, so only for columns that may hold bytes);
    missing values stay missing."""
    present = s.notna().to_numpy(dtype=bool)
    values = s.to_numpy(dtype=object, na_value=None)
    out = np.full(len(s), None, dtype=object)
    if present.any():
        v = pd.Series(values[present], dtype=object)
        is_bytes = (v.map(type).isin([bytes, bytearray]).to_numpy() if decode
                    else np.zeros(len(v), dtype=bool))
        if is_bytes.any():  # decoded first: str() of bytes would be "b'...'"
            v[is_bytes] = v[is_bytes].map(bytes).str.decode("utf-8", errors="replace")
        out[present] = v.astype(str).to_numpy(dtype=object)
    return pd.Series(out, index=s.index, dtype=object)


def _unique_names(names: list[str]) -> list[str]:
    """Make names unique case-insensitively (SQLite columns are) with ``_2``, ``_3``, ..."""
    seen: set[str] = set()
    out = []
    for name in names:
        new, k = name, 2
        while new.lower() in seen:
            new, k = f"{name}_{k}", k + 1
        seen.add(new.lower())
        out.append(new)
    return out


def _writable(df: pd.DataFrame, geometry: str | None = None,
              keep_strings: bool = False) -> pd.DataFrame:
    """Attribute columns any GIS writer can store (see :func:`sanitise_layer`).

    ``geometry`` is the active geometry column, left alone; every other column is converted:
    reserved names get ``_src``, timedeltas become float seconds with ``_s``, datetimes with a
    time zone become UTC, categoricals, bytes, mixed objects, periods, intervals, complex
    numbers, extra geometries and booleans with missing values become text. Text columns
    become Python objects, except pandas string columns when ``keep_strings`` (for Arrow,
    which stores both alike).
    """
    out = df.reset_index(drop=True)
    cols: list[pd.Series] = []
    names: list[str] = []
    for pos in range(out.shape[1]):
        name = str(out.columns[pos])
        s = out.iloc[:, pos]
        if geometry is not None and name == geometry:
            cols.append(s)
            names.append(name)
            continue
        dtype = s.dtype
        if name.lower() in RESERVED_COLUMNS:
            name = f"{name}_src"
        if isinstance(s, gpd.GeoSeries) or isinstance(dtype, gpd.array.GeometryDtype):
            s = pd.Series(shapely.to_wkt(np.asarray(s, dtype=object)), dtype=object)
        elif pd.api.types.is_timedelta64_dtype(dtype) or (
                isinstance(dtype, pd.ArrowDtype) and pa.types.is_duration(dtype.pyarrow_dtype)):
            s = s.dt.total_seconds().astype("float64")
            name = name if name.endswith("_s") else f"{name}_s"
        elif isinstance(dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_convert("UTC")
        elif isinstance(dtype, pd.CategoricalDtype):
            s = _as_text(s.astype(object))
        elif pd.api.types.is_bool_dtype(dtype):
            if s.isna().any():
                s = _as_text(s.astype(object), decode=False).str.lower()
            else:
                s = s.astype(bool)
        elif keep_strings and isinstance(dtype, pd.StringDtype) and s.notna().any():
            pass  # text already, missing values missing: Arrow takes it as it is (a column
            # with no value goes the object way: Arrow types it null, as the schema does)
        elif pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
            kind = pd.api.types.infer_dtype(s, skipna=True)
            if kind not in ("string", "empty"):
                s = _as_text(s, decode=kind in ("bytes", "mixed"))
            else:
                s = s.astype(object)
        elif (isinstance(dtype, pd.PeriodDtype | pd.IntervalDtype)
              or pd.api.types.is_complex_dtype(dtype)):
            s = _as_text(s.astype(object))
        cols.append(s)
        names.append(name)
    frame = pd.concat([s.reset_index(drop=True) for s in cols], axis=1) if cols \
        else pd.DataFrame(index=out.index)
    frame.columns = _unique_names(names)
    return frame


def sanitise_layer(layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy of ``layer`` whose attribute columns GeoPackage and GeoParquet can store.

    Applied by :func:`write_gpkg` and :func:`write_geoparquet` to every layer. The active
    geometry column is kept; for every other column:

    - names equal to ``fid``, ``geom`` or ``geometry`` in any case (they clash with the
      GeoPackage feature id and geometry columns; QGIS exports a ``fid`` column) get a
      ``_src`` suffix (``FID`` -> ``FID_src``);
    - timedeltas become float seconds, the name suffixed ``_s`` unless it already ends so;
    - datetimes with a time zone are converted to UTC (naive datetimes are kept);
    - categoricals, bytes (decoded as UTF-8, bad bytes replaced), objects of mixed types,
      periods, intervals, complex numbers and other geometry columns (WKT) become text;
    - booleans with missing values become ``"true"``/``"false"`` text (missing kept);
    - names are made unique ignoring case (SQLite columns are case-insensitive) by appending
      ``_2``, ``_3``, ...; non-text names become text.

    Missing values stay missing. Numbers are untouched.

    Parameters
    ----------
    layer : geopandas.GeoDataFrame
        The layer.

    Returns
    -------
    geopandas.GeoDataFrame
        A new layer, same rows and geometry and CRS.
    """
    geom_name = layer.geometry.name
    attrs = _writable(layer, geometry=geom_name)
    return gpd.GeoDataFrame(attrs, geometry=geom_name, crs=layer.crs)


def assignment_lines(assignment: pd.DataFrame, sites: pd.DataFrame) -> gpd.GeoDataFrame:
    """One LineString per served demand point, from the point to its primary site.

    Parameters
    ----------
    assignment : pandas.DataFrame
        ``demand_id, lat, lon, population, primary_site_id, primary_latency_ms, ...``.
    sites : pandas.DataFrame
        Chosen sites with ``site_id, lat, lon``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``demand_id, primary_site_id, population, primary_latency_ms, primary_distance_km``
        (when present) and ``coverage_status``, LineString geometry in EPSG:4326; demand
        without a primary site (uncoverable) has no line. A line across the antimeridian
        is drawn the short way, its site end past +-180 degrees of longitude.
    """
    a = assignment[assignment["primary_site_id"].notna()]
    pos = pd.Index(sites["site_id"].astype(str)).get_indexer(a["primary_site_id"].astype(str))
    if (pos < 0).any():
        missing = a["primary_site_id"].to_numpy()[pos < 0][:5]
        raise ValueError(f"primary sites not among the chosen sites: {list(missing)}")
    coords = np.empty((len(a), 2, 2), dtype=np.float64)
    coords[:, 0, 0] = a["lon"].to_numpy(dtype=np.float64)
    coords[:, 0, 1] = a["lat"].to_numpy(dtype=np.float64)
    site_lon = sites["lon"].to_numpy(dtype=np.float64)[pos]
    # the short way round: across the antimeridian the site end goes past +-180 degrees
    # (a line from 179.95 to -179.95 spanned 359.9 degrees, across the whole map)
    coords[:, 1, 0] = site_lon + 360.0 * np.round((coords[:, 0, 0] - site_lon) / 360.0)
    coords[:, 1, 1] = sites["lat"].to_numpy(dtype=np.float64)[pos]
    lines = shapely.linestrings(coords) if len(a) else np.array([], dtype=object)
    cols = [c for c in ("demand_id", "primary_site_id", "population", "primary_latency_ms",
                        "primary_distance_km", "coverage_status") if c in a.columns]
    return gpd.GeoDataFrame(_writable(a[cols]), geometry=gpd.GeoSeries(lines, crs=CRS),
                            crs=CRS)


def plan_layers(
    sites: pd.DataFrame, assignment: pd.DataFrame, proposed: pd.DataFrame,
    layers: tuple[str, ...] = GPKG_LAYERS,
) -> dict[str, gpd.GeoDataFrame]:
    """The layers of ``plan.gpkg``, keyed by :data:`GPKG_LAYERS` names.

    Parameters
    ----------
    sites : pandas.DataFrame
        Chosen sites (``sites.csv``).
    assignment : pandas.DataFrame
        Per demand point (``assignment.csv``, with ``lat``/``lon``).
    proposed : pandas.DataFrame
        Proposed new sites (``proposed_sites.csv``, may be empty).
    layers : tuple of str, default GPKG_LAYERS
        The layers to build (a national plan's demand and assignment layers are millions
        of geometries: only what is written is built).

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
    """
    unknown = set(layers) - set(GPKG_LAYERS)
    if unknown:
        raise ValueError(f"unknown layer(s) {sorted(unknown)}; the layers are {GPKG_LAYERS}")
    if not {"lat", "lon"} <= set(proposed.columns):  # a Plan built without a proposal
        from ..resilience.gaps import PROPOSED_COLUMNS

        proposed = pd.DataFrame({c: pd.Series(dtype=object if c == "proposed_site_id"
                                              else float) for c in PROPOSED_COLUMNS})
    build = {
        "sites": lambda: _points(sites),
        "demand": lambda: _points(assignment),
        "assignment": lambda: assignment_lines(assignment, sites),
        "gaps": lambda: _points(assignment[is_gap(assignment)]),
        "proposed_sites": lambda: _points(proposed),
    }
    return {name: build[name]() for name in GPKG_LAYERS if name in layers}


_GEOMETRY_TYPES = {"assignment": "LineString"}


def write_gpkg(layers: dict[str, gpd.GeoDataFrame], path: str | Path) -> Path:
    """Write ``layers`` into one GeoPackage at ``path`` (which must not exist yet).

    Empty layers are written too (with their columns and geometry type), so every plan's
    GeoPackage has the same layers.

    Parameters
    ----------
    layers : dict of str to geopandas.GeoDataFrame
        Layer name to layer, e.g. from :func:`plan_layers`.
    path : str or pathlib.Path
        Output file (``.gpkg``); the caller renames it into place.

    Returns
    -------
    pathlib.Path
    """
    import pyogrio

    path = Path(path)
    for name, layer in layers.items():
        # the geometry type is explicit: an empty layer has no geometry to infer it from
        pyogrio.write_dataframe(sanitise_layer(layer), path, layer=name, driver="GPKG",
                                geometry_type=_GEOMETRY_TYPES.get(name, "Point"),
                                promote_to_multi=False)
    logger.debug("wrote %s (%s)", path, ", ".join(f"{k}: {len(v):,}" for k, v in layers.items()))
    return path


def write_geoparquet(layer: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write one layer as GeoParquet (``geopandas.GeoDataFrame.to_parquet``), sanitised
    with :func:`sanitise_layer`.

    Parameters
    ----------
    layer : geopandas.GeoDataFrame
        The layer.
    path : str or pathlib.Path
        Output file (``.parquet``).

    Returns
    -------
    pathlib.Path
    """
    sanitise_layer(layer).to_parquet(path, index=False)
    return Path(path)


_FORMULA_START = r"^[=+\-@\t\r]"
ESCAPE = "'"
"""The character :func:`csv_safe` puts before a text cell starting like a formula (or
with this character), and :func:`csv_unescape` takes off again."""
#: A plain number written as text ("-6450", "+3.5e2"): a spreadsheet reads it as a number,
#: not a formula, so it is left as it is (a carried column of the user's file is text).
_PLAIN_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


def write_points_geoparquet(df: pd.DataFrame, path: str | Path,
                            chunk_rows: int = 250_000) -> Path:
    """Write the point layer of ``df`` (``lat``/``lon`` columns, every column an attribute)
    as GeoParquet, ``chunk_rows`` rows at a time.

    The file holds what ``write_geoparquet(plan_layers(...)["demand"], path)`` writes (the
    same columns, types, geometries and GeoParquet metadata, read back equal), but only one
    chunk's points, sanitised copy and Arrow table are in memory at once, where the whole
    layer built 1.8 GB beside a 2M-row assignment table and peaked 0.7 GB higher while
    writing (hand measurement): the demand layer of a world plan is tens of millions of rows.

    The schema comes from the whole-layer writer run on a sample holding, for every column,
    its first present and its first missing value: the sanitised type of a column depends
    only on its dtype and on whether values are present or missing (:func:`sanitise_layer`),
    so each chunk (sanitised on its own: a text column missing in all of a chunk's rows, a
    boolean with missing values elsewhere) is cast to it; the ``geo`` metadata gets the
    bounding box of every point. A chunk that does not cast falls back to the whole-layer
    writer.
    """
    import io
    import json

    import pyarrow.parquet as pq

    path = Path(path)
    n = len(df)
    chunk_rows = max(int(chunk_rows), 1)
    if n <= chunk_rows:
        return write_geoparquet(_points(df), path)
    picks = [0]
    for col in range(df.shape[1]):
        present = df.iloc[:, col].notna().to_numpy(dtype=bool)
        for mask in (present, ~present):
            if mask.any():
                picks.append(int(mask.argmax()))
    sample = io.BytesIO()
    sanitise_layer(_points(df.iloc[np.unique(picks)])).to_parquet(sample, index=False)
    sample.seek(0)
    schema = pq.read_schema(sample)
    geo = json.loads(schema.metadata[b"geo"])
    col = geo["columns"][geo["primary_column"]]
    if "bbox" in col:
        lon = df["lon"].to_numpy(dtype=np.float64)
        lat = df["lat"].to_numpy(dtype=np.float64)
        col["bbox"] = [float(np.nanmin(lon)), float(np.nanmin(lat)), float(np.nanmax(lon)),
                       float(np.nanmax(lat))]
    schema = schema.with_metadata({**schema.metadata, b"geo": json.dumps(geo).encode()})
    # written under a temporary name and renamed when complete: a failed write (an error,
    # an interrupt) never leaves a readable but truncated file at ``path``
    part_path = path.with_name(path.name + ".part")
    try:
        with pq.ParquetWriter(part_path, schema) as writer:
            for start in range(0, n, chunk_rows):
                writer.write_table(_point_chunk(df.iloc[start:start + chunk_rows]).cast(schema))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
        part_path.unlink(missing_ok=True)
        logger.warning("%s: a chunk does not fit the layer's schema (%s); writing the whole "
                       "layer at once (more memory)", path.name, exc)
        return write_geoparquet(_points(df), path)
    except BaseException:
        part_path.unlink(missing_ok=True)
        raise
    os.replace(part_path, path)
    return path


_WKB_POINT = np.dtype([("order", "u1"), ("kind", "<u4"), ("x", "<f8"), ("y", "<f8")])
"""A two-dimensional point in well-known binary: little-endian (1), type 1, x, y (21 bytes)."""


def _point_chunk(df: pd.DataFrame) -> pa.Table:
    """Rows of a point layer as the Arrow table ``sanitise_layer(_points(df)).to_arrow(
    geometry_encoding="WKB")`` holds: the attributes sanitised once, the points encoded as
    WKB from the coordinates without building a geometry object per row (a tenth of the
    time). Rows with a missing or infinite coordinate take the geometry objects' way."""
    lon = df["lon"].to_numpy(dtype=np.float64)
    lat = df["lat"].to_numpy(dtype=np.float64)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        part = sanitise_layer(_points(df))
        return pa.table(part.to_arrow(index=False, geometry_encoding="WKB"))
    n = len(df)
    wkb = np.empty(n, dtype=_WKB_POINT)
    wkb["order"], wkb["kind"], wkb["x"], wkb["y"] = 1, 1, lon, lat
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(_WKB_POINT.itemsize)
    points = pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets),
                                                    pa.py_buffer(wkb.view(np.uint8))])
    attrs = _writable(pd.DataFrame(df), keep_strings=True)
    return pa.Table.from_pandas(attrs, preserve_index=False).append_column("geometry", points)


def _prefix_formulas(s: pd.Series) -> pd.Series | None:
    """``s`` with a ``'`` before every text cell that starts like a formula or with ``'``
    itself (so that :func:`unescape_text` undoes it exactly); None if none."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    elif not (pd.api.types.is_string_dtype(s.dtype) or pd.api.types.is_object_dtype(s.dtype)):
        return None
    if pd.api.types.infer_dtype(s, skipna=True) not in ("string", "mixed", "mixed-integer"):
        return None  # no text cell (numbers, bytes, dates, ... in an object column)
    hit = s.str.contains(_FORMULA_START, regex=True, na=False)
    hit = hit.astype(object).fillna(False).astype(bool)  # non-text cells give NaN
    if hit.any():
        plain = s.str.fullmatch(_PLAIN_NUMBER, na=False).astype(object).fillna(False)
        hit &= ~plain.astype(bool)
    # a cell already starting with the escape character is escaped too: "'-x" and "-x"
    # stay two values ("''-x" and "'-x"), where both were written "'-x"
    quoted = s.str.startswith(ESCAPE, na=False).astype(object).fillna(False).astype(bool)
    hit |= quoted
    if not hit.any():
        return None
    out = s.astype(object).copy()
    out[hit] = ESCAPE + s[hit].astype(str)
    return out


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with text cells that a spreadsheet would run as a formula made inert.

    A text cell (in an object, string or categorical column) that starts with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return gets a single quote ``'`` in front, the OWASP
    advice against CSV injection (site names and ids come from the user's files, and a cell
    ``=HYPERLINK(...)`` opens as a live formula in Excel or LibreOffice). A text cell that
    already starts with ``'`` gets one more (``"'-x"`` becomes ``"''-x"``), so two values
    never become one (``"-x"`` is ``"'-x"``) and :func:`csv_unescape` gives the values back
    exactly by taking one leading ``'`` off every text cell that has one. Column names are
    prefixed the same way. Numeric, boolean and datetime columns are untouched, so a
    negative number stays a number, and so does a plain number written as text (``"-5"``,
    ``"+3.5e2"``: a spreadsheet reads it as a number); ``"-5+A1"`` becomes ``"'-5+A1"``.
    Vectorised per column; columns without such a cell are not copied.

    Parameters
    ----------
    df : pandas.DataFrame
        Table to be written as CSV.

    Returns
    -------
    pandas.DataFrame
        A new frame (``df`` is not modified).

    Examples
    --------
    >>> csv_safe(pd.DataFrame({"name": ["=1+1", "Lyon"], "x": [-1.5, 2.0]}))
    ... # doctest: +NORMALIZE_WHITESPACE
       name    x
    0  '=1+1 -1.5
    1  Lyon  2.0
    >>> csv_safe(pd.DataFrame({"id": ["-x", "'-x"]}))["id"].tolist()
    ["'-x", "''-x"]
    """
    return _map_text(df, _prefix_formulas)


def _map_text(df: pd.DataFrame, fix: Callable[[pd.Series], pd.Series | None]
              ) -> pd.DataFrame:
    """A shallow copy of ``df`` with ``fix`` applied to every column and to the column
    names; ``fix`` returns ``None`` for a series it leaves as it is (shared, not copied)."""
    out = df.copy(deep=False)
    for pos in range(out.shape[1]):
        fixed = fix(out.iloc[:, pos])
        if fixed is not None:
            out.isetitem(pos, fixed)
    fixed_names = fix(pd.Series(out.columns.to_numpy(dtype=object), dtype=object))
    if fixed_names is not None:
        out.columns = pd.Index(fixed_names.to_numpy(dtype=object))
    return out


def unescape_text(s: pd.Series) -> pd.Series:
    """``s`` with the escaping of :func:`csv_safe` undone: one leading ``'`` taken off
    every text cell that has one (a categorical's categories renamed, in sorted order).

    A column of a table that :func:`write_csv` wrote and pandas or Arrow read back; other
    columns (numbers, booleans) are returned as they are. Vectorised.

    Parameters
    ----------
    s : pandas.Series
        A column as read back.

    Returns
    -------
    pandas.Series
        ``s`` itself when it has no escaped cell, else a new column.

    Examples
    --------
    >>> unescape_text(pd.Series(["''-x", "'-x", "b"])).tolist()
    ["'-x", '-x', 'b']
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        if not (pd.api.types.is_string_dtype(cats.dtype)
                or pd.api.types.is_object_dtype(cats.dtype)):
            return s
        fixed = unescape_text(pd.Series(cats.to_numpy(dtype=object), dtype=object))
        if fixed.equals(pd.Series(cats.to_numpy(dtype=object), dtype=object)):
            return s
        # the escaping is one to one, so the renamed categories stay distinct
        out = s.cat.rename_categories(pd.Index(fixed.to_numpy(dtype=object), dtype=cats.dtype))
        try:
            order = sorted(out.cat.categories)
        except TypeError:  # categories of mixed types (text and booleans): no order
            return out
        return out.cat.reorder_categories(order)
    if not (pd.api.types.is_string_dtype(s.dtype) or pd.api.types.is_object_dtype(s.dtype)):
        return s
    # as text: an object column may mix text with booleans or numbers (a hand-edited
    # sites.csv with a blank `required` cell), which no text form starts with ESCAPE
    text = s.astype("string")
    hit = text.str.startswith(ESCAPE, na=False).to_numpy(dtype=bool)
    if not hit.any():
        return s
    out = s.copy()
    out[hit] = text[hit].str.slice(len(ESCAPE)).to_numpy(dtype=object)
    return out


def csv_unescape(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (a table written by :func:`write_csv`, read back) with the escaping of
    :func:`csv_safe` undone in every text cell and column name.

    Every text cell (and column name) starting with ``'`` loses that one ``'``: ``"'=1+2"``
    is ``"=1+2"`` again, ``"''-x"`` is ``"'-x"``. The ids then match the GeoJSON, GeoParquet
    and GeoPackage files of the same plan, which are not escaped.

    Parameters
    ----------
    df : pandas.DataFrame
        A table as read back (e.g. ``pd.read_csv("sites.csv", dtype={"site_id": str})``).

    Returns
    -------
    pandas.DataFrame
        A new frame (``df`` is not modified); columns without an escaped cell are shared.

    Examples
    --------
    >>> csv_unescape(pd.DataFrame({"site_id": ["'=1+2", "''=1+2"]}))["site_id"].tolist()
    ['=1+2', "'=1+2"]
    """
    def fix(col: pd.Series) -> pd.Series | None:
        fixed = unescape_text(col)
        return None if fixed is col else fixed

    return _map_text(df, fix)


def write_csv(df: pd.DataFrame, path: str | Path, **to_csv: object) -> Path:
    """Write ``df`` as CSV (no index) after :func:`csv_safe`.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    path : str or pathlib.Path
        Output file.
    **to_csv
        Further options of :meth:`pandas.DataFrame.to_csv` (``index`` defaults to False).

    Returns
    -------
    pathlib.Path
    """
    to_csv.setdefault("index", False)
    safe = csv_safe(df)
    if len(safe) >= FAST_CSV_ROWS and set(to_csv) == {"index"} and not to_csv["index"]:
        try:
            _write_csv_arrow(safe, Path(path))
            return Path(path)
        except (pa.ArrowException, TypeError, ValueError):  # mixed-type columns: pandas
            logger.debug("arrow CSV writer refused %s; pandas writes it", path)
    safe.to_csv(path, **to_csv)  # type: ignore[call-overload]
    return Path(path)


#: From this many rows :func:`write_csv` writes with Arrow's CSV writer (about 9x faster
#: than pandas on a national assignment table, hand measurement: 1 s instead of 9 s for
#: 1M rows x 26 columns). Same columns, order, missing values (empty) and booleans (``True`` /
#: ``False``); every text value is quoted; a float with no fraction is written
#: without ``.0`` (``70`` instead of ``70.0``).
FAST_CSV_ROWS = 100_000


def _write_csv_arrow(df: pd.DataFrame, path: Path, chunk_rows: int = 500_000) -> None:
    """``df`` as CSV by Arrow, booleans spelt as pandas spells them, ``chunk_rows`` rows
    at a time (the whole 10M-row assignment table made into one Arrow table held 2.7 GiB
    more). The columns' types come from a sample holding each column's first present
    value, so a chunk where a column is all missing is cast to them."""
    import pyarrow.csv as pacsv

    n = len(df)
    picks = {0}
    for i in range(df.shape[1]):
        present = df.iloc[:, i].notna().to_numpy(dtype=bool)
        if present.any():
            picks.add(int(present.argmax()))
    schema = _csv_table(df.iloc[sorted(picks)]).schema if n else _csv_table(df).schema
    options = pacsv.WriteOptions(quoting_style="needed")
    with pacsv.CSVWriter(str(path), schema, write_options=options) as writer:
        for start in range(0, max(n, 1), max(int(chunk_rows), 1)):
            writer.write_table(_csv_table(df.iloc[start:start + chunk_rows]).cast(schema))


def _csv_table(df: pd.DataFrame) -> pa.Table:
    """Rows of a table as Arrow, booleans as the text ``True`` / ``False``."""
    cols = {}
    for name in df.columns:
        col = df[name]
        if pd.api.types.is_bool_dtype(col.dtype):
            txt = np.where(col.to_numpy(dtype=bool, na_value=False), "True", "False")
            cols[str(name)] = pd.Series(txt, index=df.index, dtype=object).where(
                col.notna(), None)
        else:
            cols[str(name)] = col
    return pa.Table.from_pandas(pd.DataFrame(cols, index=df.index), preserve_index=False)
