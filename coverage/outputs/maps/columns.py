"""Columns of a duck-typed plan's tables, read the same way by every part of the map.

A column may also be the index (when it carries the name); missing columns read as a default,
so a plan-like object with fewer columns still draws.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "user_html",
    "bool_column",
    "column_series",
    "finite_or",
    "float_column",
    "has_column",
    "id_column",
    "lat_lon",
    "lon_window",
    "wrap_lon",
]


def has_column(df: pd.DataFrame, name: str) -> bool:
    """Whether ``df`` has a column ``name``, or an index of that name."""
    return name in df.columns or df.index.name == name


def column_series(df: pd.DataFrame, name: str) -> pd.Series:
    """Column ``name``, or the index when it carries that name."""
    if name in df.columns:
        return df[name]
    if df.index.name == name:
        return pd.Series(df.index, index=df.index, name=name)
    raise KeyError(name)


def float_column(df: pd.DataFrame, name: str, default: float = math.nan) -> npt.NDArray[np.float64]:
    """Column ``name`` as float64 (unparsable values NaN); ``default`` when absent."""
    if not has_column(df, name):
        return np.full(len(df), default, dtype=np.float64)
    return pd.to_numeric(column_series(df, name), errors="coerce").to_numpy(dtype=np.float64)


def bool_column(df: pd.DataFrame, name: str, default: bool) -> npt.NDArray[np.bool_]:
    """Column ``name`` as bool (missing values ``default``); ``default`` when absent."""
    if not has_column(df, name):
        return np.full(len(df), default, dtype=bool)
    s = column_series(df, name)
    if s.dtype == bool:
        return s.to_numpy()
    return s.astype("boolean").fillna(default).to_numpy(dtype=bool)


def id_column(df: pd.DataFrame, name: str) -> pd.Series:
    """String ids (missing stay missing), positionally indexed.

    Integer ids that became floats because of missing values (``3.0``) read as ``"3"``.
    """
    if not has_column(df, name):
        return pd.Series([None] * len(df), dtype=object)
    s = column_series(df, name).reset_index(drop=True)
    if pd.api.types.is_float_dtype(s.dtype):
        finite = s.dropna()
        if (finite == np.round(finite)).all():
            s = s.astype("Int64")
    s = s.astype(object)
    present = s.notna()
    out = pd.Series([None] * len(s), dtype=object)
    out[present] = s[present].astype(str)
    return out


def lat_lon(df: pd.DataFrame) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Latitude and longitude in degrees, from ``lat``/``lon`` or a point ``geometry``."""
    if has_column(df, "lat") and has_column(df, "lon"):
        return float_column(df, "lat"), float_column(df, "lon")
    geom = df["geometry"]  # x=lon, y=lat (shapely order)
    return (
        np.asarray(geom.y, dtype=np.float64),
        np.asarray(geom.x, dtype=np.float64),
    )


def lon_window(lon: npt.ArrayLike) -> float:
    """West edge of the shortest longitude interval holding every finite ``lon`` (degrees).

    A plan across the antimeridian (Fiji, Chukotka) gets a west edge east of its
    easternmost points (e.g. 177): drawn from there, its points lie in 177-187 degrees, not
    across the whole world. Without a shorter interval than the plain minimum to maximum,
    the minimum (so nothing moves).

    Examples
    --------
    >>> lon_window([178.0, -179.0, 179.5])
    178.0
    >>> lon_window([-10.0, 20.0, 5.0])
    -10.0
    """
    v = np.asarray(lon, dtype=np.float64)
    v = v[np.isfinite(v)]
    # (values in range as they are: mod(2.59368 + 180, 360) - 180 is 2.593680000000006)
    v = np.unique(np.where((v >= -180.0) & (v < 180.0), v, np.mod(v + 180.0, 360.0) - 180.0))
    if len(v) < 2:
        return float(v[0]) if len(v) else -180.0
    gaps = np.diff(np.r_[v, v[0] + 360.0])  # the last: from the easternmost round to the west
    i = int(np.argmax(gaps))
    if gaps[-1] >= gaps[i]:  # the plain interval is as short as any: leave it
        return float(v[0])
    return float(v[i + 1])


def wrap_lon(lon: npt.ArrayLike, west: float) -> npt.NDArray[np.float64]:
    """Longitudes moved by whole turns into ``[west, west + 360)`` (missing stay missing).

    One already in the window is returned as it is, and one within 1e-9 degree west of
    ``west`` (float rounding) is not moved a whole turn east: the window's edge once went
    through a modulo (2.59368 came back as 2.593680000000006), and a Belgian plan's
    westernmost point was moved to 362.59, its map drawn around the world (tester 145).

    Examples
    --------
    >>> wrap_lon([178.0, -179.0], 178.0).tolist()
    [178.0, 181.0]
    >>> wrap_lon([2.59368, 4.35], lon_window([2.59368, 4.35])).tolist()
    [2.59368, 4.35]
    """
    v = np.asarray(lon, dtype=np.float64)
    d = v - west
    # (1e-9 degree of slack below every whole turn, not only below 0: a set given in
    # 0-360 degrees, 336.98 against a window from -23.02, came to 359.99999999999994 and
    # stayed a turn east; review 140)
    turns = np.floor((d + 1e-9) / 360.0)
    return v - 360.0 * turns  # (a longitude in the window as it is, to the last bit)


def finite_or(value: Any, default: float) -> float:
    """``value`` as a finite float, or ``default`` when it is not one."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


#: Bidirectional embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def user_html(text: Any) -> str:
    """A user's text (an id, a name, a tier label) escaped for the map's HTML, and held in
    a bidirectional isolate (U+2068 ... U+2069) when it holds bidi controls: a
    right-to-left override in a site name turned the map's own words after it backwards
    ("fails" read "sliaf"; tester 157). Text without them is only escaped."""
    s = html.escape(str(text))
    return f"\u2068{s}\u2069" if any(c in _BIDI_CONTROLS for c in s) else s
