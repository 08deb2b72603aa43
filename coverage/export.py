"""GIS exports of a plan: one GeoPackage with every layer, and GeoParquet tables.

``plan.gpkg`` holds the layers

- ``sites``: chosen sites (points, the columns of ``sites.csv``);
- ``demand``: every demand point (points, the columns of ``assignment.csv``);
- ``assignment``: one line per served demand point, from the point to its primary site;
- ``gaps``: demand that is not N-1 safe (``coverage_status`` single or uncoverable);
- ``proposed_sites``: new sites proposed for the gaps (points, ``proposed_sites.csv``);

``demand.parquet`` and ``sites.parquet`` are the demand and sites layers as GeoParquet. Every
layer is in EPSG:4326 and opens in QGIS. Geometries are built with vectorised Shapely calls
(no Python loop over rows), so national demand tables (about a million points) export in
seconds.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

logger = logging.getLogger(__name__)

__all__ = ["GPKG_LAYERS", "assignment_lines", "plan_layers", "write_geoparquet", "write_gpkg"]

GPKG_LAYERS = ("sites", "demand", "assignment", "gaps", "proposed_sites")
"""Layer names of ``plan.gpkg``, in the order they are written."""

CRS = "EPSG:4326"


def _points(df: pd.DataFrame) -> gpd.GeoDataFrame:
    """Point layer from ``lat``/``lon`` columns (kept as attributes too)."""
    geom = gpd.points_from_xy(df["lon"].to_numpy(dtype=np.float64),
                              df["lat"].to_numpy(dtype=np.float64), crs=CRS)
    return gpd.GeoDataFrame(_writable(df), geometry=geom, crs=CRS)


def _writable(df: pd.DataFrame) -> pd.DataFrame:
    """Columns OGR can store: object columns of mixed content become text (missing kept)."""
    out = df.reset_index(drop=True).copy()
    for c in out.columns:
        s = out[c]
        if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) not in ("string",
                                                                                  "empty"):
            out[c] = s.where(s.isna(), s.astype(str))
        elif isinstance(s.dtype, pd.StringDtype):
            out[c] = s.astype(object)
    return out


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
        without a primary site (uncoverable) has no line.
    """
    a = assignment[assignment["primary_site_id"].notna()]
    pos = pd.Index(sites["site_id"].astype(str)).get_indexer(a["primary_site_id"].astype(str))
    if (pos < 0).any():
        missing = a["primary_site_id"].to_numpy()[pos < 0][:5]
        raise ValueError(f"primary sites not among the chosen sites: {list(missing)}")
    coords = np.empty((len(a), 2, 2), dtype=np.float64)
    coords[:, 0, 0] = a["lon"].to_numpy(dtype=np.float64)
    coords[:, 0, 1] = a["lat"].to_numpy(dtype=np.float64)
    coords[:, 1, 0] = sites["lon"].to_numpy(dtype=np.float64)[pos]
    coords[:, 1, 1] = sites["lat"].to_numpy(dtype=np.float64)[pos]
    lines = shapely.linestrings(coords) if len(a) else np.array([], dtype=object)
    cols = [c for c in ("demand_id", "primary_site_id", "population", "primary_latency_ms",
                        "primary_distance_km", "coverage_status") if c in a.columns]
    return gpd.GeoDataFrame(_writable(a[cols]), geometry=gpd.GeoSeries(lines, crs=CRS),
                            crs=CRS)


def plan_layers(
    sites: pd.DataFrame, assignment: pd.DataFrame, proposed: pd.DataFrame
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

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
    """
    gaps = assignment[assignment["coverage_status"] != "redundant"]
    if not {"lat", "lon"} <= set(proposed.columns):  # a Plan built without a proposal
        from .gaps import PROPOSED_COLUMNS

        proposed = pd.DataFrame({c: pd.Series(dtype=object if c == "proposed_site_id"
                                              else float) for c in PROPOSED_COLUMNS})
    return {
        "sites": _points(sites),
        "demand": _points(assignment),
        "assignment": assignment_lines(assignment, sites),
        "gaps": _points(gaps),
        "proposed_sites": _points(proposed),
    }


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
        pyogrio.write_dataframe(layer, path, layer=name, driver="GPKG",
                                geometry_type=_GEOMETRY_TYPES.get(name, "Point"),
                                promote_to_multi=False)
    logger.debug("wrote %s (%s)", path, ", ".join(f"{k}: {len(v):,}" for k, v in layers.items()))
    return path


def write_geoparquet(layer: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write one layer as GeoParquet (``geopandas.GeoDataFrame.to_parquet``).

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
    layer.to_parquet(path, index=False)
    return Path(path)
