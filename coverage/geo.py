"""Axis-order helpers and great-circle distances.

Geometry stores ``(x=lon, y=lat)``; scikit-learn's haversine metric wants ``[lat, lon]`` in
radians; folium wants ``(lat, lon)`` in degrees. Arrays cross those borders only through
the helpers here.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["EARTH_RADIUS_KM", "haversine_km", "latlon_rad"]

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
