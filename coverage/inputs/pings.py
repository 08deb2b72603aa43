"""Measured round trips for ``edge-coverage calibrate``.

A CSV (optionally gzipped) with either endpoint coordinates ``src_lat, src_lon, dst_lat,
dst_lon`` or a great-circle ``distance_km``, and ``rtt_ms``; optionally ``rtt_p99_ms`` (a
per-path p99). Other columns are ignored. Aliases: ``source_lat`` / ``dest_lat`` (and
``_lon``), ``great_circle_km``, ``rtt_min_ms`` for ``rtt_ms`` and ``rtt_max_ms`` for
``rtt_p99_ms`` (the WonderNetwork layout). When both coordinates and a distance are given,
the distance is computed from the coordinates. A blank ``rtt_p99_ms`` cell is a ping without
a p99 (it fits the p50 only); a column blank in every row is refused. Rows repeating an
earlier row exactly are kept, with a warning naming them.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputValidationError
from ..model.geo import EARTH_RADIUS_KM, haversine_km
from .tables import parse_numbers, read_table, resolve_columns
from .validation import ProblemReport, format_rows, format_values

logger = logging.getLogger(__name__)

__all__ = ["MAX_DISTANCE_KM", "MAX_RTT_MS", "PING_ALIASES", "read_pings"]

#: Longest great-circle distance on the Earth, km (half its circumference).
MAX_DISTANCE_KM = math.pi * EARTH_RADIUS_KM + 1.0

#: Longest round trip read as one, ms (100 s: longer values are in other units or broken).
MAX_RTT_MS = 100_000.0

#: Column -> accepted names, first match wins.
PING_ALIASES: dict[str, tuple[str, ...]] = {
    "src_lat": ("src_lat", "source_lat"),
    "src_lon": ("src_lon", "source_lon"),
    "dst_lat": ("dst_lat", "dest_lat", "destination_lat"),
    "dst_lon": ("dst_lon", "dest_lon", "destination_lon"),
    "distance_km": ("distance_km", "great_circle_km"),
    "rtt_ms": ("rtt_ms", "rtt_min_ms"),
    "rtt_p99_ms": ("rtt_p99_ms", "rtt_max_ms"),
}


def read_pings(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and check a ping file.

    Parameters
    ----------
    path : str or path-like
        CSV or CSV.GZ file (see the module notes for the columns).

    Returns
    -------
    pandas.DataFrame
        ``distance_km, rtt_ms``; when given, ``rtt_p99_ms`` (NaN where blank); with
        coordinates, ``path_id`` (the same integer for the pings between the same two
        points, in either direction, to 1e-4 degrees); one row per input row.

    Raises
    ------
    InputValidationError
        Unreadable file, missing columns, or non-numeric / out-of-range values, among them
        round trips of 0 ms or less, or a ``rtt_p99_ms`` column blank in every row (one
        message naming the file, the rows and the fix).
    """
    p = Path(path)
    report = ProblemReport(str(p), "pings")
    # the demand / sites CSV reader: BOM, NUL bytes, UTF-16, ';' with decimal commas,
    # duplicate names, truncated gzip and empty files are each one message
    raw, decimal = read_table(p, report)
    lower: dict[str, Any] = {}
    for c in raw.columns:
        key = str(c).strip().lower()
        if key in lower:
            report.add(f"columns {str(lower[key])!r} and {str(c)!r} have the same name",
                       "give every column a distinct name")
        lower[key] = c
    report.raise_if_any()
    # two names of one field holding different values: which one is meant is not for the
    # reader to guess (rtt_ms was taken and rtt_min_ms ignored, tester 143), as for the
    # demand's lat and latitude
    col = resolve_columns(raw, PING_ALIASES, report, has_geometry=False)
    report.raise_if_any()
    coords = [col[k] for k in ("src_lat", "src_lon", "dst_lat", "dst_lon")]
    have_coords = all(c is not None for c in coords)
    if col["rtt_ms"] is None or not (have_coords or col["distance_km"] is not None):
        missing = [k for k in ("rtt_ms",) if col[k] is None]
        if not have_coords and col["distance_km"] is None:
            missing.append("src_lat,src_lon,dst_lat,dst_lon (or distance_km)")
        raise InputValidationError(
            f"{p}: missing column(s) {', '.join(missing)}; the file has "
            f"{format_values(raw.columns) or 'no columns'}. Fix: give "
            "src_lat,src_lon,dst_lat,dst_lon,rtt_ms or distance_km,rtt_ms")

    def number(name: str) -> np.ndarray:
        values, missing, bad = parse_numbers(raw[col[name]], decimal)
        if (missing | bad).any():
            report.add(f"{col[name]} is empty or not a finite number",
                       "write a number in every row", missing | bad)
        return values

    rtt = number("rtt_ms")
    if (rtt <= 0).any():  # a 0 ms round trip is a failed ping or a blank written as 0
        report.add(f"{col['rtt_ms']} is 0 or negative",
                   "a round trip takes time: give each ping's measured round trip in ms "
                   "(above 0), and drop the rows of failed pings (0 often stands for a "
                   "timeout)", rtt <= 0)
    if (rtt > MAX_RTT_MS).any():
        report.add(f"{col['rtt_ms']} above {MAX_RTT_MS:,.0f} ms",
                   "give round trips in milliseconds", rtt > MAX_RTT_MS)
    if have_coords:
        lat1, lon1, lat2, lon2 = (number(k) for k in ("src_lat", "src_lon", "dst_lat",
                                                      "dst_lon"))
        for name, v, lim in (("src_lat", lat1, 90), ("dst_lat", lat2, 90),
                             ("src_lon", lon1, 180), ("dst_lon", lon2, 180)):
            out = np.abs(v) > lim
            if out.any():
                report.add(f"{col[name]} outside [-{lim}, {lim}] degrees",
                           "give WGS84 degrees (latitude first)", out)
        report.raise_if_any()
        distance = haversine_km(lat1, lon1, lat2, lon2)
        if col["distance_km"] is not None:  # both: the coordinates win; say where they differ
            given, _, _ = parse_numbers(raw[col["distance_km"]], decimal)
            given = np.asarray(given, dtype=np.float64)
            off = np.isfinite(given) & (np.abs(given - distance) > 1.0 + 0.01 * distance)
            if off.any():
                rows = np.flatnonzero(off) + 1
                logger.warning(
                    "%s: %s of %s rows have a %s more than 1 %% (and 1 km) away from the "
                    "great circle of their coordinates (rows %s): the coordinates' distance "
                    "is used. Fix: drop one of the two, or correct them",
                    p, f"{int(off.sum()):,}", f"{len(distance):,}", col["distance_km"],
                    ", ".join(map(str, rows[:10])) + (" ..." if len(rows) > 10 else ""))
    else:
        distance = number("distance_km")
        if (distance < 0).any():
            report.add(f"{col['distance_km']} is negative", "distances are >= 0 km",
                       distance < 0)
        far = distance > MAX_DISTANCE_KM
        if far.any():
            report.add(f"{col['distance_km']} above {MAX_DISTANCE_KM:,.0f} km (half the "
                       "Earth's circumference)", "give great-circle distances in km", far)
    frame = {"distance_km": distance, "rtt_ms": rtt}
    if col["rtt_p99_ms"] is not None:
        p99, blank, bad = parse_numbers(raw[col["rtt_p99_ms"]], decimal)
        if bad.any():
            report.add(f"{col['rtt_p99_ms']} is not a finite number",
                       "write a number, or leave the cell blank for a ping without a p99",
                       bad)
        if blank.all() and len(blank):
            report.add(f"{col['rtt_p99_ms']} is blank in every row",
                       "fill in each path's p99, or drop the column (the p99 term is then "
                       "the 0.99 quantile over the pings)")
        below = p99 < rtt
        if (p99 > MAX_RTT_MS).any():
            report.add(f"{col['rtt_p99_ms']} above {MAX_RTT_MS:,.0f} ms",
                       "give round trips in milliseconds", p99 > MAX_RTT_MS)
        if below.any():
            report.add(f"{col['rtt_p99_ms']} below {col['rtt_ms']}",
                       "a path's p99 is at least its median / minimum", below)
        frame["rtt_p99_ms"] = p99
    report.raise_if_any()
    if not len(rtt):
        raise InputValidationError(f"{p}: no pings (only a header). Fix: add one ping per row")
    # exact repeats: candidates by the numbers read (fast; the distance stands for the
    # coordinates), confirmed on every raw column
    same = pd.Series(_row_codes(list(frame.values())))
    candidates = same.duplicated(keep=False).to_numpy()
    repeated = np.zeros(len(rtt), dtype=bool)
    if candidates.any():
        repeated[candidates] = raw[candidates].duplicated(keep="first").to_numpy(dtype=bool)
    if repeated.any():
        logger.warning(
            "%s: %s of %s rows repeat an earlier row exactly (%s): each is fitted as one more "
            "ping. Fix: drop them if the file holds the same measurements twice (e.g. "
            "concatenated exports); keep them if they are repeated measurements", p,
            f"{int(repeated.sum()):,}", f"{len(repeated):,}",
            format_rows(np.flatnonzero(repeated) + 1))
    if have_coords:
        frame["path_id"] = _path_ids(lat1, lon1, lat2, lon2)
    return pd.DataFrame(frame)


def _row_codes(columns: list[np.ndarray]) -> np.ndarray:
    """One integer per distinct row of ``columns`` (equal rows, NaN included, get equal
    codes): the columns' factorizations combined, re-numbered before they could overflow."""
    codes = np.zeros(len(columns[0]), dtype=np.int64)
    distinct = 1
    for values in columns:
        col_codes, uniques = pd.factorize(values, use_na_sentinel=False)
        if distinct * max(len(uniques), 1) >= 2**62:
            codes, kept = pd.factorize(codes)
            distinct = len(kept)
        codes = codes * max(len(uniques), 1) + col_codes
        distinct *= max(len(uniques), 1)
    return np.asarray(codes, dtype=np.int64)


def _path_ids(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
              ) -> np.ndarray:
    """One integer per unordered pair of endpoints (rounded to 1e-4 degrees, about 10 m):
    A-B and B-A are one path."""
    def point(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        return ((np.rint(lat * 1e4).astype(np.int64) + 900_000) * 3_600_001
                + np.rint(lon * 1e4).astype(np.int64) + 1_800_000)

    a, b = point(lat1, lon1), point(lat2, lon2)
    ends, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    ia, ib = inverse[: len(a)], inverse[len(a):]
    return np.minimum(ia, ib) * len(ends) + np.maximum(ia, ib)
