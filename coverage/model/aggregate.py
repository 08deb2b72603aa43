"""Grid aggregation of demand for national inputs, and the coverage it costs.

Merging demand cells that share exactly the same reachable site set is exact and is done by
:func:`coverage.solvers.cover.min_cover` itself. This module is the *optional*, lossy step beyond
that: demand is binned into cells of about ``cell_km`` by ``cell_km`` (:func:`grid_cells`:
latitude bands cut into columns that are ``cell_km`` wide at the band's latitude), separately
per access class; each bin becomes one demand point at its population-weighted centroid
carrying the summed population.

Two modes:

* ``"centroid"``: the bin is planned as if all its people lived at the centroid. Some real
  cells may end up outside the budget; :func:`shortfall` measures exactly how many (the
  "loss", reported in ``summary.json``).
* ``"conservative"``: each bin's radius is shrunk by its largest member offset ``d`` (the
  great-circle distance of its farthest member from the centroid). A site within ``R - d``
  of the centroid is within ``R`` of every member (triangle inequality on the sphere), so
  every member is served wherever its bin is. The plan may need more sites; the loss is
  still measured (members whose own requirement exceeds the bin's can remain short).

H3 bins (:func:`aggregate_h3`, ``--aggregate-h3 RES``) use the vectorised indexer of
:mod:`coverage.model.h3index` (h3 is called once per cell, not once per point).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .geo import EARTH_RADIUS_KM, count_within, haversine_km, unit_tree, unit_xyz
from .latency import LatencyModel, Percentile

logger = logging.getLogger(__name__)

__all__ = ["Aggregation", "aggregate_grid", "aggregate_h3", "grid_cells", "shortfall",
           "suggested_bin_km", "AGGREGATION_MODES"]

AGGREGATION_MODES = ("centroid", "conservative")


@dataclass(frozen=True)
class Aggregation:
    """Demand binned on a grid.

    Attributes
    ----------
    demand : pandas.DataFrame
        One row per non-empty bin and access class: ``demand_id`` (``g<ix>_<iy>_<access>``),
        ``lat``, ``lon`` (population-weighted centroid), ``population`` (sum), ``access``,
        ``n_cells`` and ``max_offset_km`` (farthest member from the centroid).
    group : numpy.ndarray
        Row of :attr:`demand` each original demand point belongs to.
    cell_km : float
        Bin size, km (for H3 bins: the average hexagon's diameter at that resolution).
    h3_res : int or None
        H3 resolution of the bins (:func:`aggregate_h3`), ``None`` for square bins.
    """

    demand: pd.DataFrame
    group: npt.NDArray[np.int64]
    cell_km: float
    h3_res: int | None = None


def grid_cells(lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike,
               cell_km: float) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Column and row of each point's ``cell_km`` cell on a grid of near-squares.

    Rows are bands of latitude of equal height along the meridian, on a sphere of
    :data:`coverage.model.geo.EARTH_RADIUS_KM`: the quarter meridian (10,007.5 km) cut into
    the fewest whole bands of at most ``cell_km`` (row 0 starts at the equator). Each band
    is cut into as many columns of equal longitude as make a cell ``cell_km`` wide at the
    band's middle latitude; the band at each pole is one cap. So a cell is about ``cell_km``
    by ``cell_km`` at every latitude (its width varies inside a band by the cosine of
    latitude, and by the rounding of the column count: at most half a column), and of
    about the same area, except the polar caps (a disc of about ``cell_km`` radius) and
    the bands next to them. Columns start at -180 degrees.

    Parameters
    ----------
    lat_deg, lon_deg : array_like
        Points, degrees (WGS84, taken on the sphere).
    cell_km : float
        Cell size, km (> 0).

    Returns
    -------
    ix, iy : numpy.ndarray
        Column (from 0 in each band) and row (negative south of the equator) of each point;
        two points are in the same cell exactly when both match.
    """
    lat = np.radians(np.clip(np.asarray(lat_deg, dtype=np.float64), -90.0, 90.0))
    lon = np.asarray(lon_deg, dtype=np.float64)
    size = float(cell_km)
    half = int(np.ceil(EARTH_RADIUS_KM * np.pi / 2.0 / size))  # bands from equator to pole
    band = np.pi / 2.0 / half  # a band's height, radians (at most cell_km)
    iy = np.clip(np.floor(lat / band), -half, half - 1).astype(np.int64)
    width_km = 2.0 * np.pi * EARTH_RADIUS_KM * np.cos((iy + 0.5) * band)
    cols = np.maximum(np.rint(width_km / size), 1.0)
    cols[(iy == half - 1) | (iy == -half)] = 1.0  # a cap at each pole
    frac = (np.mod(lon + 180.0, 360.0)) / 360.0
    ix = np.minimum(np.floor(frac * cols), cols - 1.0).astype(np.int64)
    return ix, iy


def aggregate_grid(demand: pd.DataFrame, cell_km: float) -> Aggregation:
    """Bin demand into ``cell_km`` cells of :func:`grid_cells`, per access class.

    The cells are near-squares of about ``cell_km`` at every latitude. (Until 2026-12-06 they
    were squares of the EPSG:6933 equal-area projection, which are squares only at +-30
    degrees: 10 km cells measured 17 x 5.7 km N-S x E-W at 60 degrees and 48 x 2 km at 80,
    so a bin's centroid lay further from its members there; tester 146.) The shortfall the
    summary reports is measured on the original points, whatever the shape; a bin's
    ``max_offset_km`` (its farthest member from its centroid) is what the conservative mode
    subtracts from the radius.

    Parameters
    ----------
    demand : pandas.DataFrame
        Validated demand (``lat``, ``lon``, ``population``, ``access``).
    cell_km : float
        Bin size, km (> 0).

    Returns
    -------
    Aggregation
        Population is conserved exactly: ``aggregation.demand.population.sum()`` equals the
        input total.
    """
    from ..config import MAX_CELL_KM, MIN_CELL_KM

    if not np.isfinite(cell_km) or not MIN_CELL_KM <= cell_km <= MAX_CELL_KM:
        raise ValueError(f"aggregation cell size must be a number of km from {MIN_CELL_KM:g} "
                         "(1 m, below which the grid's integer index overflows) to "
                         f"{MAX_CELL_KM:,.0f}, got {cell_km}")
    lat = demand["lat"].to_numpy(dtype=np.float64)
    lon = demand["lon"].to_numpy(dtype=np.float64)
    ix, iy = grid_cells(lat, lon, cell_km)
    return _aggregate(demand, ix, iy, lambda u: ("g" + pd.Series(u[:, 0]).astype(str) + "_"
                                                 + pd.Series(u[:, 1]).astype(str)),
                      float(cell_km), None)


def aggregate_h3(demand: pd.DataFrame, res: int) -> Aggregation:
    """Bin demand into H3 cells of resolution ``res``, per access class.

    Parameters
    ----------
    demand : pandas.DataFrame
        Validated demand (``lat``, ``lon``, ``population``, ``access``).
    res : int
        H3 resolution, 0-10 (:func:`coverage.model.h3index.h3_bins`; e.g. 5: cells of about
        250 km2, 7: about 5 km2).

    Returns
    -------
    Aggregation
        As :func:`aggregate_grid`; ``demand_id`` is ``h<cell>_<access>`` and ``h3_res`` the
        resolution. Population is conserved exactly.
    """
    import h3

    from .h3index import H3_MAX_RES, h3_bins

    if isinstance(res, bool) or not isinstance(res, int | np.integer) or not (
            0 <= res <= H3_MAX_RES):
        raise ValueError(f"H3 resolution must be an integer in 0..{H3_MAX_RES}, got {res!r}")
    codes, cells = h3_bins(demand["lat"].to_numpy(dtype=np.float64),
                           demand["lon"].to_numpy(dtype=np.float64), int(res))
    names = np.asarray(cells, dtype=object)
    diameter_km = 2.0 * float(h3.average_hexagon_edge_length(int(res), unit="km"))
    return _aggregate(demand, codes, np.zeros_like(codes),
                      lambda u: "h" + pd.Series(names[u[:, 0]]).astype(str),
                      diameter_km, int(res))


def _aggregate(demand: pd.DataFrame, key_a: npt.NDArray[np.int64],
               key_b: npt.NDArray[np.int64], name: Any, cell_km: float,
               h3_res: int | None) -> Aggregation:
    """Bins from two integer keys per point (and the access class)."""
    lat = demand["lat"].to_numpy(dtype=np.float64)
    lon = demand["lon"].to_numpy(dtype=np.float64)
    pop = demand["population"].to_numpy(dtype=np.float64)
    access = demand["access"].to_numpy(dtype=str)
    classes, acc_code = np.unique(access, return_inverse=True)
    key = np.column_stack([key_a, key_b, acc_code.ravel()])
    uniq, group = np.unique(key, axis=0, return_inverse=True)
    group = group.ravel().astype(np.int64)
    n_groups = len(uniq)
    pop_g = np.bincount(group, weights=pop, minlength=n_groups)
    # population-weighted mean of unit vectors (unweighted where a bin has no people)
    w = np.where(pop_g[group] > 0, pop, 1.0)
    xyz = unit_xyz(lat, lon) * w[:, None]
    s = np.column_stack([np.bincount(group, weights=xyz[:, k], minlength=n_groups)
                         for k in range(3)])
    s /= np.linalg.norm(s, axis=1, keepdims=True)
    c_lat = np.degrees(np.arcsin(np.clip(s[:, 2], -1.0, 1.0)))
    c_lon = np.degrees(np.arctan2(s[:, 1], s[:, 0]))
    offset = haversine_km(lat, lon, c_lat[group], c_lon[group])
    max_offset = np.zeros(n_groups)
    np.maximum.at(max_offset, group, offset)
    acc_names = classes[uniq[:, 2]]
    ids = name(uniq) + "_" + pd.Series(acc_names)
    out = pd.DataFrame({
        "demand_id": ids.to_numpy(dtype=object),
        "lat": c_lat,
        "lon": c_lon,
        "population": pop_g,
        "access": acc_names.astype(object),
        "n_cells": np.bincount(group, minlength=n_groups),
        "max_offset_km": max_offset,
    })
    logger.info("aggregated %s demand points into %s bins of %s (largest offset %.1f km)",
                f"{len(demand):,}", f"{n_groups:,}",
                f"{cell_km:g} km" if h3_res is None else f"H3 resolution {h3_res}",
                float(max_offset.max()) if n_groups else 0.0)
    return Aggregation(demand=out, group=group, cell_km=float(cell_km), h3_res=h3_res)


def shortfall(
    demand: pd.DataFrame,
    site_lat_deg: npt.ArrayLike,
    site_lon_deg: npt.ArrayLike,
    chosen: npt.ArrayLike,
    *,
    model: LatencyModel,
    budget_ms: float,
    percentile: Percentile,
    failures: int,
    n_covering: npt.NDArray[np.int64] | None = None,
) -> dict[str, float]:
    """How many original demand points a plan leaves short of their own requirement.

    Each point needs ``min(failures + 1, |N_i|)`` chosen sites within its own budget radius
    (``|N_i|`` over all candidates). Two count-only radius queries, no pair is stored.

    Returns
    -------
    dict
        ``cells_short``, ``population_short`` and ``population_short_share`` (of the total);
        and the original points' own coverage, which the bins' figures can overstate (a
        bin's centre within budget of a site where some of its points have no candidate
        within theirs): ``population_covered`` (a chosen site within budget),
        ``population_nk_safe`` (``failures + 1`` of them) and ``population_uncoverable``
        (no candidate within budget).
    """
    lat = demand["lat"].to_numpy(dtype=np.float64)
    lon = demand["lon"].to_numpy(dtype=np.float64)
    pop = demand["population"].to_numpy(dtype=np.float64)
    from .problem import RowLatency

    radius = RowLatency.from_model(model, demand["access"].to_numpy(), budget_ms,
                                   percentile).radius_km
    pts = unit_xyz(lat, lon)
    s_lat = np.asarray(site_lat_deg, dtype=np.float64)
    s_lon = np.asarray(site_lon_deg, dtype=np.float64)
    if n_covering is None:
        n_covering = count_within(unit_tree(s_lat, s_lon), pts, radius)
    chosen = np.asarray(chosen, dtype=np.int64)
    have = (count_within(unit_tree(s_lat[chosen], s_lon[chosen]), pts, radius)
            if len(chosen) else np.zeros(len(lat), dtype=np.int64))
    short = have < np.minimum(failures + 1, n_covering)
    total = float(pop.sum())
    return {
        "cells_short": int(short.sum()),
        "population_short": float(pop[short].sum()),
        "population_short_share": float(pop[short].sum() / total) if total else 0.0,
        "population_covered": float(pop[have >= 1].sum()),
        "population_nk_safe": float(pop[have >= failures + 1].sum()),
        "population_uncoverable": float(pop[n_covering == 0].sum()),
    }


def suggested_bin_km(radius_km: float) -> float:
    """A bin size well below a budget's radius (a tenth of it, at least 100 m): what the
    messages about bins too wide for the radius suggest."""
    return max(float(radius_km) / 10.0, 0.1)
