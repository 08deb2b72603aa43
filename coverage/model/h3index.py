"""H3 cells for millions of points without a Python loop over points.

The public helpers :func:`h3_bins` (each point's H3 cell, h3 called once per cell) and
:func:`choose_h3_resolution` are used by the map (hexagon layers above 20,000 points) and
by demand aggregation (``--aggregate-h3 RES``, :func:`coverage.model.aggregate.aggregate_h3`).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

__all__ = ["H3_MAX_RES", "MAX_HEXAGONS", "choose_h3_resolution", "group_starts", "h3_bins"]

MAX_HEXAGONS = 30_000
"""Most occupied hexagons drawn on a map (and the default of :func:`choose_h3_resolution`)."""


def group_starts(sorted_keys: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """Start positions of the runs of equal values in a sorted array."""
    if not len(sorted_keys):
        return np.zeros(0, dtype=np.intp)
    return np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])


# --------------------------------------------------------------------------------------
# H3 hexagons without a Python loop over points
# --------------------------------------------------------------------------------------

# Constants of the H3 grid, from the H3 C library (src/h3lib/lib/faceijk.c, constants.h; the
# same tables as h3-java's Vec2d and h3-py's pure-Python port):
# the 20 icosahedron face centres (lat, lng in radians) and the azimuth of each face's
# Class II i-axis.
_H3_FACE_CENTER_GEO = np.array(
    [
        [0.803582649718989942, 1.248397419617396099],
        [1.307747883455638156, 2.536945009877921159],
        [1.054751253523952054, -1.347517358900396623],
        [0.600191595538186799, -0.450603909469755746],
        [0.491715428198773866, 0.401988202911306943],
        [0.172745327415618701, 1.678146885280433686],
        [0.605929321571350690, 2.953923329812411617],
        [0.427370518328979641, -1.888876200336285401],
        [-0.079066118549212831, -0.733429513380867741],
        [-0.230961644455383637, 0.506495587332349035],
        [0.079066118549212831, 2.408163140208925497],
        [0.230961644455383637, -2.635097066257444203],
        [-0.172745327415618701, -1.463445768309359553],
        [-0.605929321571350690, -0.187669323777381622],
        [-0.427370518328979641, 1.252716453253507838],
        [-0.600191595538186799, 2.690988744120037492],
        [-0.491715428198773866, -2.739604450678486295],
        [-0.803582649718989942, -1.893195233972397139],
        [-1.307747883455638156, -0.604647643711872080],
        [-1.054751253523952054, 1.794075294689396615],
    ]
)
_H3_FACE_AXIS_AZ = np.array(
    [
        5.619958268523939882,
        5.760339081714187279,
        0.780213654393430055,
        0.430469363979999913,
        6.130269123335111400,
        2.692877706530642877,
        2.982963003477243874,
        3.532912002790141181,
        3.494305004259568154,
        3.003214169499538391,
        5.930472956509811562,
        0.138378484090254847,
        0.448714947059150361,
        0.158629650112549365,
        5.891865957979238535,
        2.711123289609793325,
        3.294508837434268316,
        3.804819692245439833,
        3.664438879055192436,
        2.361378999196363184,
    ]
)
_H3_AP7_ROT_RADS = 0.333473172251832115336090755351601070065900389  # asin(sqrt(3/28))
_H3_INV_RES0_U_GNOMONIC = 2.61803398874989588842
_H3_SQRT7 = 2.6457513110645905509222807479026
_H3_RSIN60 = 1.1547005383792515290182975610039149112953  # 1 / sin(60 deg)
_H3_EPSILON = 1e-16
H3_MAX_RES = 10
_TWO_PI = 2.0 * math.pi


def _pos_angle(rads: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """H3's ``_posAngleRads``: an angle into [0, 2 pi)."""
    out = np.where(rads < 0.0, rads + _TWO_PI, rads)
    return np.where(rads >= _TWO_PI, out - _TWO_PI, out)


def _h3_project(
    lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Closest icosahedron face, gnomonic radius ``tan(r)`` and Class II angle of each point.

    This is H3's ``_geoToClosestFace`` and the resolution-independent part of
    ``_geoToHex2d``, vectorised.
    """
    la = np.radians(lat)
    lo = np.radians(lon)
    cos_la = np.cos(la)
    xyz = (cos_la * np.cos(lo), cos_la * np.sin(lo), np.sin(la))
    f_la, f_lo = _H3_FACE_CENTER_GEO[:, 0], _H3_FACE_CENTER_GEO[:, 1]
    f_xyz = np.column_stack(
        [np.cos(f_la) * np.cos(f_lo), np.cos(f_la) * np.sin(f_lo), np.sin(f_la)]
    )
    face = np.zeros(len(la), dtype=np.int64)
    sqd = np.full(len(la), 5.0)
    for f in range(len(f_xyz)):  # 20 faces, each a vectorised pass over all points
        d = (xyz[0] - f_xyz[f, 0]) ** 2 + (xyz[1] - f_xyz[f, 1]) ** 2 + (xyz[2] - f_xyz[f, 2]) ** 2
        better = d < sqd
        face[better] = f
        sqd[better] = d[better]
    r = np.arccos(np.clip(1.0 - sqd / 2.0, -1.0, 1.0))
    c_la, c_lo = f_la[face], f_lo[face]
    az = np.arctan2(
        np.cos(la) * np.sin(lo - c_lo),
        np.cos(c_la) * np.sin(la) - np.sin(c_la) * np.cos(la) * np.cos(lo - c_lo),
    )
    theta = _pos_angle(_H3_FACE_AXIS_AZ[face] - _pos_angle(az))
    rg = np.where(r < _H3_EPSILON, 0.0, np.tan(r))
    return face, rg, theta


def _h3_face_ij(
    rg: npt.NDArray[np.float64], theta: npt.NDArray[np.float64], res: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Hexagon ``(i, j)`` (with ``k = 0``) on the point's face at ``res``, and the squared
    distance of the point from that hexagon's centre (hex2d units).

    The rest of H3's ``_geoToHex2d`` and its ``_hex2dToCoordIJK`` (from DGGRID), vectorised.
    """
    if res % 2 == 1:  # Class III
        theta = _pos_angle(theta - _H3_AP7_ROT_RADS)
    r = rg * _H3_INV_RES0_U_GNOMONIC
    for _ in range(res):
        r = r * _H3_SQRT7
    x = r * np.cos(theta)
    y = r * np.sin(theta)
    a1, a2 = np.abs(x), np.abs(y)
    x2 = a2 * _H3_RSIN60
    x1 = a1 + x2 / 2.0
    m1 = np.floor(x1).astype(np.int64)
    m2 = np.floor(x2).astype(np.int64)
    r1, r2 = x1 - m1, x2 - m2
    lo_half = r1 < 0.5
    # r1 < 1/3
    i_a = m1
    j_a = np.where(r2 < (1.0 + r1) / 2.0, m2, m2 + 1)
    # 1/3 <= r1 < 1/2
    j_b = np.where(r2 < 1.0 - r1, m2, m2 + 1)
    i_b = np.where(((1.0 - r1) <= r2) & (r2 < 2.0 * r1), m1 + 1, m1)
    # 1/2 <= r1 < 2/3
    j_c = np.where(r2 < 1.0 - r1, m2, m2 + 1)
    i_c = np.where(((2.0 * r1 - 1.0) < r2) & (r2 < 1.0 - r1), m1, m1 + 1)
    # r1 >= 2/3
    i_d = m1 + 1
    j_d = np.where(r2 < r1 / 2.0, m2, m2 + 1)
    i = np.where(lo_half, np.where(r1 < 1.0 / 3.0, i_a, i_b), np.where(r1 < 2.0 / 3.0, i_c, i_d))
    j = np.where(lo_half, np.where(r1 < 1.0 / 3.0, j_a, j_b), np.where(r1 < 2.0 / 3.0, j_c, j_d))
    # Fold across the axes.
    neg_x = x < 0.0
    even = (j % 2) == 0
    axis_i = np.where(even, j // 2, (j + 1) // 2)
    diff = i - axis_i
    i = np.where(neg_x, np.where(even, i - 2 * diff, i - (2 * diff + 1)), i)
    neg_y = y < 0.0
    i = np.where(neg_y, i - (2 * j + 1) // 2, i)
    j = np.where(neg_y, -j, j)
    cx = i - 0.5 * j
    cy = j * (math.sqrt(3.0) / 2.0)
    return i, j, (x - cx) ** 2 + (y - cy) ** 2


def _h3_keys(face: npt.NDArray[np.int64], i: npt.NDArray[np.int64], j: npt.NDArray[np.int64]):
    """One int64 per (face, i, j) hexagon label."""
    off = 1 << 21
    return (face << 44) | ((i + off) << 22) | (j + off)


def h3_bins(
    lat: npt.ArrayLike, lon: npt.ArrayLike, res: int
) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Assign points to H3 cells, calling h3 once per cell instead of once per point.

    Parameters
    ----------
    lat, lon : array_like
        Coordinates in degrees (finite).
    res : int
        H3 resolution, 0-10.

    Returns
    -------
    codes : numpy.ndarray of int64
        For each point, the position of its cell in ``cells``.
    cells : list of str
        The distinct H3 cells (hexadecimal strings), sorted.

    Raises
    ------
    ValueError
        If ``res`` is out of range or the arrays differ in length.

    Notes
    -----
    ``h3.latlng_to_cell`` converts one point per call (h3-py 4.5), which is about 2 us per
    point. Instead, H3's own projection is done for all points with numpy: the closest
    icosahedron face, the gnomonic projection onto it, and the hexagon rounding in that
    face's IJK coordinates (H3's ``_geoToClosestFace``, ``_geoToHex2d`` and
    ``_hex2dToCoordIJK``, with H3's constants). An H3 index is a function of that face and
    IJK hexagon only, so points with the same ``(face, i, j)`` are in the same cell. One
    point per group (the one nearest its hexagon's centre) then goes through
    ``h3.latlng_to_cell``, and groups that land in the same cell (a hexagon cut by a face
    edge is seen from both faces) are merged. The result is the cell h3 itself gives each
    point (checked against ``h3.latlng_to_cell`` point by point in ``tests/test_maps.py``).

    Examples
    --------
    >>> codes, cells = h3_bins([40.0, 40.001, -33.9], [-75.0, -75.001, 151.2], 5)
    >>> len(cells), codes[0] == codes[1]
    (2, True)
    """
    import h3

    lat_a = np.asarray(lat, dtype=np.float64).ravel()
    lon_a = np.asarray(lon, dtype=np.float64).ravel()
    if lat_a.shape != lon_a.shape:
        raise ValueError("h3_bins: lat and lon must have the same length")
    if (
        isinstance(res, bool)
        or not isinstance(res, int | np.integer)
        or not 0 <= res <= H3_MAX_RES
    ):
        raise ValueError(f"h3_bins: res must be an int in 0..{H3_MAX_RES}; got {res!r}")
    if not len(lat_a):
        return np.zeros(0, dtype=np.int64), []
    face, rg, theta = _h3_project(lat_a, lon_a)
    return h3_bins_projected(lat_a, lon_a, face, rg, theta, int(res), h3)


def h3_bins_projected(
    lat, lon, face, rg, theta, res, h3
) -> tuple[npt.NDArray[np.int64], list[str]]:
    i, j, d2 = _h3_face_ij(rg, theta, res)
    groups, inverse = np.unique(_h3_keys(face, i, j), return_inverse=True)
    inverse = inverse.ravel()
    order = np.lexsort((d2, inverse))
    rep = order[group_starts(inverse[order])]
    # One h3 call per hexagon (not per point).
    cells = np.array(
        [h3.latlng_to_cell(float(lat[k]), float(lon[k]), res) for k in rep], dtype=object
    )
    uniq, cell_of_group = np.unique(cells.astype(str), return_inverse=True)
    logger.debug("h3_bins: %d points, %d groups, %d cells at res %d", len(lat), len(groups),
                 len(uniq), res)
    return cell_of_group.ravel()[inverse].astype(np.int64), uniq.tolist()


def choose_h3_resolution(
    lat: npt.ArrayLike, lon: npt.ArrayLike, max_cells: int = MAX_HEXAGONS
) -> int:
    """H3 resolution for a map of these points: the finest with at most ``max_cells`` cells.

    Parameters
    ----------
    lat, lon : array_like
        Coordinates in degrees.
    max_cells : int, default 30_000
        Most occupied hexagons allowed.

    Returns
    -------
    int
        The resolution (0-10).

    Notes
    -----
    The search starts at the finest resolution whose average hexagon area, divided into the
    area of the points' bounding box, gives at most ``max_cells`` (the extent), then moves
    finer while the number of occupied hexagons (counted on the vectorised projection, no h3
    call) stays within ``max_cells``.
    """
    res, _ = choose_resolution_projected(
        np.asarray(lat, dtype=np.float64).ravel(), np.asarray(lon, dtype=np.float64).ravel(),
        max_cells,
    )
    return res


def choose_resolution_projected(lat, lon, max_cells):
    """Resolution and the projection (face, rg, theta) it was computed from."""
    import h3

    if not len(lat):
        return 0, None
    la0, la1 = float(np.min(lat)), float(np.max(lat))
    lo0, lo1 = float(np.min(lon)), float(np.max(lon))
    bbox_km2 = (6371.0088**2) * abs(math.sin(math.radians(la1)) - math.sin(math.radians(la0))) \
        * math.radians(max(lo1 - lo0, 1e-6))
    res = 0
    for r in range(H3_MAX_RES + 1):
        if bbox_km2 / h3.average_hexagon_area(r, unit="km^2") <= max_cells:
            res = r
    proj = _h3_project(lat, lon)
    face, rg, theta = proj
    while res < H3_MAX_RES:
        i, j, _ = _h3_face_ij(rg, theta, res + 1)
        if len(np.unique(_h3_keys(face, i, j))) > max_cells:
            break
        res += 1
    return res, proj
