"""Measured round trips for ``edge-coverage calibrate``.

A CSV (optionally gzipped) with either endpoint coordinates ``src_lat, src_lon, dst_lat,
dst_lon`` or a great-circle ``distance_km``, and ``rtt_ms``; optionally ``rtt_p99_ms`` (a
per-path p99). Other columns are ignored. Aliases: ``source_lat`` / ``dest_lat`` (and
``_lon``), ``great_circle_km``, ``rtt_min_ms`` for ``rtt_ms`` and ``rtt_max_ms`` for
``rtt_p99_ms`` (the WonderNetwork layout). When both coordinates and a distance are given,
the distance is computed from the coordinates.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputValidationError
from ..model.geo import haversine_km
from .validation import ProblemReport

__all__ = ["PING_ALIASES", "read_pings"]

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
        ``distance_km, rtt_ms`` and, when given, ``rtt_p99_ms``; one row per input row.

    Raises
    ------
    InputValidationError
        Unreadable file, missing columns, or non-numeric / out-of-range values (one message
        naming the file, the rows and the fix).
    """
    p = Path(path)
    report = ProblemReport(str(p), "pings")
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise InputValidationError(f"{p}: file not found. Fix: give the path of a CSV of "
                                   "measured pings") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, EOFError) as exc:
        raise InputValidationError(f"{p}: cannot read it as CSV ({exc}). Fix: give a CSV with "
                                   "src_lat,src_lon,dst_lat,dst_lon,rtt_ms or "
                                   "distance_km,rtt_ms") from None
    except pd.errors.EmptyDataError:
        raise InputValidationError(f"{p}: the file is empty. Fix: give a CSV with a header "
                                   "and one ping per row") from None
    lower = {str(c).strip().lower(): c for c in raw.columns}
    col = {k: next((lower[a] for a in names if a in lower), None)
           for k, names in PING_ALIASES.items()}
    coords = [col[k] for k in ("src_lat", "src_lon", "dst_lat", "dst_lon")]
    have_coords = all(c is not None for c in coords)
    if col["rtt_ms"] is None or not (have_coords or col["distance_km"] is not None):
        missing = [k for k in ("rtt_ms",) if col[k] is None]
        if not have_coords and col["distance_km"] is None:
            missing.append("src_lat,src_lon,dst_lat,dst_lon (or distance_km)")
        raise InputValidationError(
            f"{p}: missing column(s) {', '.join(missing)}; the file has "
            f"{', '.join(map(str, raw.columns)) or 'no columns'}. Fix: give "
            "src_lat,src_lon,dst_lat,dst_lon,rtt_ms or distance_km,rtt_ms")

    def number(name: str) -> np.ndarray:
        s = raw[col[name]].astype(str).str.strip()
        values = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            report.add(f"{col[name]} is not a finite number", "write a number in every row",
                       bad)
        return values

    rtt = number("rtt_ms")
    if (rtt < 0).any():
        report.add(f"{col['rtt_ms']} is negative", "round trips are >= 0 ms", rtt < 0)
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
    else:
        distance = number("distance_km")
        if (distance < 0).any():
            report.add("distance_km is negative", "distances are >= 0 km", distance < 0)
    frame = {"distance_km": distance, "rtt_ms": rtt}
    if col["rtt_p99_ms"] is not None:
        p99 = number("rtt_p99_ms")
        below = p99 < rtt
        if below.any():
            report.add(f"{col['rtt_p99_ms']} below {col['rtt_ms']}",
                       "a path's p99 is at least its median / minimum", below)
        frame["rtt_p99_ms"] = p99
    report.raise_if_any()
    if not len(rtt):
        raise InputValidationError(f"{p}: no pings (only a header). Fix: add one ping per row")
    return pd.DataFrame(frame)
