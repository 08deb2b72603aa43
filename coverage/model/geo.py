"""Axis-order helpers and great-circle distances.

Geometry stores ``(x=lon, y=lat)``; scikit-learn's haversine metric wants ``[lat, lon]`` in
radians; folium wants ``(lat, lon)`` in degrees. Arrays cross those borders only through
the helpers here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "count_colocated",
    "count_within",
    "unit_tree",
    "EARTH_RADIUS_KM", "chord_from_km", "colocated_pairs", "haversine_km", "km_from_chord",
    "latlon_rad", "unit_xyz",
]

#: Mean Earth radius (IUGG), km. DESIGN section 2.
EARTH_RADIUS_KM = 6371.0088


def latlon_rad(lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Stack latitudes and longitudes (degrees) into an ``(n, 2)`` ``[lat, lon]`` radian array.

    Parameters
    ----------
    lat_deg, lon_deg : array_like
        Latitudes and longitudes in degrees.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, 2)``, columns ``[lat, lon]`` in radians (scikit-learn's haversine order).
    """
    lat = np.asarray(lat_deg, dtype=np.float64).ravel()
    lon = np.asarray(lon_deg, dtype=np.float64).ravel()
    return np.radians(np.column_stack([lat, lon]))


def haversine_km(
    lat1_deg: npt.ArrayLike,
    lon1_deg: npt.ArrayLike,
    lat2_deg: npt.ArrayLike,
    lon2_deg: npt.ArrayLike,
) -> npt.NDArray[np.float64]:
    """Great-circle distance in km on a sphere of radius :data:`EARTH_RADIUS_KM`.

    Vectorised and broadcasting.

    Parameters
    ----------
    lat1_deg, lon1_deg, lat2_deg, lon2_deg : array_like
        Coordinates in degrees.

    Returns
    -------
    numpy.ndarray
        Distances in km.

    Examples
    --------
    >>> round(float(haversine_km(0, 0, 0, 1)), 3)
    111.195
    """
    p1 = np.radians(np.asarray(lat1_deg, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2_deg, dtype=np.float64))
    dphi = p2 - p1
    lon1 = np.asarray(lon1_deg, dtype=np.float64)
    dlmb = np.radians(np.asarray(lon2_deg, dtype=np.float64) - lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def unit_tree(lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike) -> Any:
    """The spatial index of the project: a BallTree on unit vectors (chord distance).

    Chord length is monotone in great-circle distance, so radius and nearest-neighbour
    queries with :func:`chord_from_km` radii are exact, and several times faster than a
    haversine tree. Every stage builds its trees here.

    Parameters
    ----------
    lat_deg, lon_deg : array_like
        Coordinates, degrees.

    Returns
    -------
    sklearn.neighbors.BallTree
    """
    from sklearn.neighbors import BallTree

    return BallTree(unit_xyz(lat_deg, lon_deg))


def unit_xyz(lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Points on the unit sphere, shape ``(n, 3)``, for fast Euclidean (chord) trees.

    Great-circle distance is a monotone function of the straight-line chord between two
    points on the sphere, so a Euclidean KD/Ball tree on these vectors answers the same
    radius and nearest-neighbour queries as a haversine tree, about ten times faster.
    """
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64).ravel())
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64).ravel())
    cos_lat = np.cos(lat)
    return np.column_stack([cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)])


def chord_from_km(distance_km: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Chord length on the unit sphere for a great-circle distance in km."""
    theta = np.minimum(np.asarray(distance_km, dtype=np.float64) / EARTH_RADIUS_KM, np.pi)
    return 2.0 * np.sin(theta / 2.0)


def km_from_chord(chord: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Great-circle distance in km for a chord length on the unit sphere."""
    c = np.clip(np.asarray(chord, dtype=np.float64) / 2.0, 0.0, 1.0)
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(c)


def count_colocated(lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike,
                    within_m: float) -> npt.NDArray[np.int64]:
    """For each point, how many other points lie within ``within_m`` metres (one count-only
    KD-tree query; memory stays linear even when thousands of points share a coordinate)."""
    from scipy.spatial import cKDTree

    lat = np.asarray(lat_deg, dtype=np.float64).ravel()
    lon = np.asarray(lon_deg, dtype=np.float64).ravel()
    if not within_m > 0 or lat.size < 2:
        return np.zeros(lat.size, dtype=np.int64)
    xyz = unit_xyz(lat, lon)
    counts = cKDTree(xyz).query_ball_point(xyz, float(chord_from_km(within_m / 1000.0)),
                                           return_length=True)
    return np.asarray(counts, dtype=np.int64) - 1


def colocated_pairs(
    lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike, within_m: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Pairs of points within ``within_m`` metres of each other (great-circle).

    One KD-tree pair query on unit vectors (:func:`unit_xyz`, chord radius), no Python loop
    over points.

    Parameters
    ----------
    lat_deg, lon_deg : array_like
        Coordinates in degrees (finite).
    within_m : float
        Distance in metres; ``<= 0`` finds nothing.

    Returns
    -------
    pairs : numpy.ndarray
        Shape ``(k, 2)``, 0-based indices ``i < j``, sorted by ``i`` then ``j``.
    distance_m : numpy.ndarray
        Shape ``(k,)``, the great-circle distance of each pair in metres.

    Examples
    --------
    >>> pairs, d = colocated_pairs([0.0, 0.0, 1.0], [0.0, 0.001, 0.0], 300)
    >>> pairs.tolist(), [round(float(x)) for x in d]
    ([[0, 1]], [111])
    """
    from scipy.spatial import cKDTree

    lat = np.asarray(lat_deg, dtype=np.float64).ravel()
    lon = np.asarray(lon_deg, dtype=np.float64).ravel()
    if not within_m > 0 or lat.size < 2:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float64)
    tree = cKDTree(unit_xyz(lat, lon))
    pairs = tree.query_pairs(float(chord_from_km(within_m / 1000.0)), output_type="ndarray")
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    distance_m = 1000.0 * haversine_km(lat[pairs[:, 0]], lon[pairs[:, 0]],
                                       lat[pairs[:, 1]], lon[pairs[:, 1]])
    return pairs, distance_m


def count_within(
    tree: Any,
    points_xyz: npt.NDArray[np.float64],
    radius_km: npt.NDArray[np.float64],
    chunk_rows: int = 200_000,
) -> npt.NDArray[np.int64]:
    """Number of tree points within each query point's own great-circle radius.

    ``tree`` is a Euclidean tree on :func:`coverage.model.geo.unit_xyz` vectors and
    ``points_xyz`` the query points as unit vectors; radii are converted to chord lengths.
    Points with a negative radius (an access class that cannot meet the budget) count 0.
    One bulk count-only query per chunk of points (per-point radii).
    """
    n = points_xyz.shape[0]
    out = np.zeros(n, dtype=np.int64)
    idx = np.flatnonzero(radius_km >= 0)
    chord = chord_from_km(radius_km[idx])
    for start in range(0, len(idx), chunk_rows):
        part = idx[start:start + chunk_rows]
        out[part] = tree.query_radius(points_xyz[part], r=chord[start:start + chunk_rows],
                                      count_only=True)
    return out
