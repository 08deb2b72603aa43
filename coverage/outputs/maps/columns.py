"""Columns of a duck-typed plan's tables, read the same way by every part of the map.

A column may also be the index (when it carries the name); missing columns read as a default,
so a plan-like object with fewer columns still draws.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "bool_column",
    "column_series",
    "finite_or",
    "float_column",
    "has_column",
    "id_column",
    "lat_lon",
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


def finite_or(value: Any, default: float) -> float:
    """``value`` as a finite float, or ``default`` when it is not one."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default

