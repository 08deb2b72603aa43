"""The centralized alternative: public-cloud regions, and who they serve within a budget.

The domain's central decision is whether to build an edge fleet at all: "when in doubt, the
region is the cheaper bet". This module answers the first half of that comparison with the
planner's own latency model: for each budget, the population within budget of its nearest
region, and of two regions (so that one region may fail: N-1), for the same demand, access
classes and inference time as the edge plan. A region is reached over the internet like a
reference-tier (``metro-colo``) site: the model's latency at the great-circle distance, and
for mobile access classes through the user's nearest packet-core breakout (UPF), as such a
site (no local breakout): ``d(user, UPF) + d(UPF, region)``.

Regions come from the built-in table ``regions.toml`` (AWS, Google Cloud and Azure regions
at their metro's approximate centre; see the file's header for the source and date) or from a
file in the candidate-site format (:func:`read_regions`).
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import InputValidationError
from .geo import colocated_pairs, count_within, nearest, unit_tree, unit_xyz
from .latency import LatencyModel
from .problem import RowLatency

logger = logging.getLogger(__name__)

__all__ = ["REGION_COLUMNS", "builtin_regions", "read_regions", "as_regions",
           "region_coverage"]

#: Columns of a regions table.
REGION_COLUMNS = ("region_id", "provider", "metro", "country", "lat", "lon")


def builtin_regions(providers: Iterable[str] | None = None) -> pd.DataFrame:
    """The built-in public-cloud regions (``coverage/model/regions.toml``).

    Parameters
    ----------
    providers : iterable of str, optional
        Keep these providers only (``aws``, ``gcp``, ``azure``); default all.

    Returns
    -------
    pandas.DataFrame
        :data:`REGION_COLUMNS`; ``region_id`` is ``provider:region``. ``attrs["source"]``
        says where the table comes from (approximate metro coordinates).
    """
    text = resources.files("coverage.model").joinpath("regions.toml").read_text("utf-8")
    data = tomllib.loads(text)
    df = pd.DataFrame(data["region"])
    df.insert(0, "region_id", df["provider"] + ":" + df["region"])
    df = df[list(REGION_COLUMNS)].astype({"lat": float, "lon": float})
    if providers is not None:
        from .catalog import closest

        known = sorted(set(df["provider"]))
        wanted = {str(p).strip().lower() for p in providers} - {""}
        if not wanted:
            raise InputValidationError(
                f"no cloud provider named (an empty --providers list): the built-in region "
                f"table has {', '.join(known)}. Fix: name one or more of them, or leave "
                "--providers out for every region")
        unknown = sorted(wanted - set(known))
        if unknown:
            named = ", ".join(
                u + (f" (did you mean {near}?)" if (near := closest(u, known)) else "")
                for u in unknown)
            raise InputValidationError(
                f"unknown cloud provider(s) {named}: the built-in region table has "
                f"{', '.join(known)}. Fix: pick from those, or give your own regions file")
        df = df[df["provider"].isin(wanted)].reset_index(drop=True)
    df.attrs["source"] = str(data.get("source", "built-in"))
    return df


def read_regions(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Regions from a file in the candidate-site format (an id column ``region_id`` /
    ``site_id`` / ``id`` / ``code``, and ``lat``/``lon`` or a geometry; CSV, GeoJSON,
    GeoPackage, Parquet, ...), validated like a sites file (one message naming the file,
    rows and fix: :func:`~coverage.inputs.tables.read_region_table`). Optional
    ``provider``, ``metro`` and ``country`` columns are kept.

    Returns
    -------
    pandas.DataFrame
        :data:`REGION_COLUMNS` (``provider``, ``metro``, ``country`` empty when absent).
    """
    from ..inputs.tables import read_region_table

    return _region_frame(read_region_table(path), str(path))


def as_regions(regions: pd.DataFrame | str | os.PathLike[str] | None = None, *,
               source: str = "<regions>") -> pd.DataFrame:
    """Regions from what a caller gives: the built-in table, a file, or a table in memory,
    validated like a regions file (finite coordinates in range, unique non-empty ids).

    Parameters
    ----------
    regions : pandas.DataFrame, str, os.PathLike or None
        ``None``: every built-in region (:func:`builtin_regions`); a path: the file
        (:func:`read_regions`); a (Geo)DataFrame: an id column (``region_id``, ``site_id``,
        ``id`` or ``code``) and ``lat``/``lon`` or a geometry, optional ``provider``,
        ``metro`` and ``country``.
    source : str, default "<regions>"
        The name of an in-memory table in messages.

    Returns
    -------
    pandas.DataFrame
        :data:`REGION_COLUMNS`.

    Raises
    ------
    InputValidationError
        Anything else, or an invalid table: one message naming the input, the rows and the
        fix.

    Examples
    --------
    >>> as_regions(pd.DataFrame({"region_id": ["a"], "lat": [50.0], "lon": [10.0]}))[
    ...     ["region_id", "lat", "lon"]].values.tolist()
    [['a', 50.0, 10.0]]
    """
    from ..inputs.tables import as_region_table

    if regions is None:
        return builtin_regions()
    if isinstance(regions, str | os.PathLike):
        return read_regions(Path(regions))
    if isinstance(regions, pd.DataFrame) and _still_validated(regions):
        # a table this module made (a regions file read by the command line): not read
        # again, so its warnings are not said again under "<regions>" (tester 151: the
        # lat 0, lon 0 warning came three times)
        out = regions.copy()
        out.attrs = dict(regions.attrs)
        return out
    if not isinstance(regions, pd.DataFrame):
        raise InputValidationError(
            f"regions must be a table (a pandas DataFrame of region_id, lat, lon), a file "
            f"path or None (the built-in table); got {type(regions).__name__}. Fix: pass "
            "coverage.model.regions.read_regions(FILE) or builtin_regions()")
    out = _region_frame(as_region_table(regions, source=source), source)
    out.attrs["source"] = str(regions.attrs.get("source", source))
    return out


def _fingerprint(regions: pd.DataFrame) -> tuple[Any, ...]:
    """The columns, dtypes and a hash of every value of a regions table."""
    return (tuple(map(str, regions.columns)), tuple(map(str, regions.dtypes)),
            int(pd.util.hash_pandas_object(regions, index=True).sum()))


def _still_validated(regions: pd.DataFrame) -> bool:
    """``regions`` is a table :func:`_region_frame` made, unchanged since (its columns,
    dtypes and values: the fingerprint it was made with). Pandas keeps ``attrs`` through
    copies and edits, so an edited table carries the mark but not the fingerprint, and is
    validated again with its messages (review 142)."""
    made = regions.attrs.get("validated_regions")
    return made is not None and made == _fingerprint(regions)


def _region_frame(sites: pd.DataFrame, source: str) -> pd.DataFrame:
    """:data:`REGION_COLUMNS` of a validated regions table (the id in ``site_id``)."""
    out = pd.DataFrame({"region_id": sites["site_id"].astype(str)})
    for col in ("provider", "metro", "country"):
        out[col] = (sites[col].where(sites[col].notna(), "").astype(str)
                    if col in sites.columns else pd.Series([""] * len(sites), dtype=object))
    out["lat"] = sites["lat"].to_numpy(dtype=float)
    out["lon"] = sites["lon"].to_numpy(dtype=float)
    out.attrs["source"] = source
    out.attrs["validated_regions"] = _fingerprint(out)  # (as_regions takes it as it is)
    _warn_twins(out, source)
    return out


#: Regions of one provider closer than this (km) are one place for the two-region share.
TWIN_REGION_KM = 1.0


def _warn_twins(regions: pd.DataFrame, source: str) -> None:
    """Warn about regions of one provider (or none named) at one place: the two-region
    (N-1) share counts them as independent (tester 120: two rows at one point gave 37.5 %
    within one region and 37.5 % within two). Two providers in one metro may be."""
    pairs, _ = colocated_pairs(regions["lat"].to_numpy(float), regions["lon"].to_numpy(float),
                               TWIN_REGION_KM * 1000.0)
    if not len(pairs):
        return
    prov = regions["provider"].to_numpy(dtype=object)
    same = pairs[prov[pairs[:, 0]] == prov[pairs[:, 1]]]
    if not len(same):
        return
    ids = regions["region_id"].to_numpy(dtype=object)
    shown = ", ".join(f"{ids[i]!r} and {ids[j]!r}" for i, j in same[:5].tolist())
    logger.warning("%s: %d pair(s) of regions of one provider within %g km of each other "
                   "(%s%s): the share within two regions (N-1) counts them as two "
                   "independent regions; drop one of each pair if they are one region",
                   source, len(same), TWIN_REGION_KM, shown, " ..." if len(same) > 5 else "")


def region_coverage(demand: pd.DataFrame, regions: pd.DataFrame,
                    budgets_ms: Iterable[float], *, model: LatencyModel | None = None,
                    access: str = "ftth", percentile: str = "p99",
                    upf: pd.DataFrame | None = None) -> pd.DataFrame:
    """Population within each budget of its nearest region, and of two regions (N-1).

    Parameters
    ----------
    demand : pandas.DataFrame
        ``lat``, ``lon``, ``population`` and optionally ``access`` (a validated demand
        table, e.g. :func:`coverage.read_demand`).
    regions : pandas.DataFrame
        ``region_id``, ``lat``, ``lon`` (:func:`builtin_regions`, :func:`read_regions`).
    budgets_ms : iterable of float
        Latency budgets, ms, at ``percentile``.
    model : LatencyModel, optional
        The latency model (default: the default profile, as the planner uses).
    access : str, default "ftth"
        Access class of rows without an ``access`` column.
    percentile : {"p99", "p50"}, default "p99"
        Percentile the budgets are checked at.
    upf : pandas.DataFrame, optional
        Packet-core breakouts (``lat``, ``lon``): rows of a mobile access class
        (:data:`coverage.model.routing.MOBILE_ACCESS`) reach a region through their
        nearest one, as the plan's reference-tier sites (the plan's ``upf`` table).

    Returns
    -------
    pandas.DataFrame
        One row per budget: ``budget_ms``, ``population``, ``population_within_budget``
        (nearest region within budget), ``population_within_budget_n1`` (two regions within
        budget: one may fail), their shares, ``n_regions``, ``mean_latency_ms`` and
        ``mean_p50_ms`` (population-weighted, to the nearest region, all users) and
        ``median_distance_km`` (population-weighted median path to the nearest region:
        through the UPF for mobile rows). Points whose access class cannot meet a budget
        even at distance 0 count as outside it.
    """
    from .routing import MOBILE_ACCESS

    model = LatencyModel() if model is None else model
    lat = demand["lat"].to_numpy(dtype=np.float64)
    lon = demand["lon"].to_numpy(dtype=np.float64)
    pop = demand["population"].to_numpy(dtype=np.float64)
    acc = (demand["access"].astype(str).to_numpy(dtype=object) if "access" in demand.columns
           else np.full(len(demand), access, dtype=object))
    r_lat = regions["lat"].to_numpy(dtype=np.float64)
    r_lon = regions["lon"].to_numpy(dtype=np.float64)
    if not len(regions):
        raise InputValidationError("region coverage: no regions given. Fix: give at least one "
                                   "region (the built-in table, or a regions file)")
    tree = unit_tree(r_lat, r_lon)  # radius counts below
    pts = unit_xyz(lat, lon)
    # every row's path starts at its own point, or for mobile rows at their UPF after a
    # leg of d(user, UPF) (the path km the latency model prices)
    leg_km = np.zeros(len(lat))
    mobile = np.isin(acc.astype(str), MOBILE_ACCESS)
    if upf is not None and len(upf) and mobile.any():
        u_km, u_ind = nearest(upf["lat"].to_numpy(float), upf["lon"].to_numpy(float),
                              pts[mobile])
        u_xyz = unit_xyz(upf["lat"].to_numpy(float), upf["lon"].to_numpy(float))
        pts = pts.copy()
        pts[mobile] = u_xyz[u_ind[:, 0]]
        leg_km[mobile] = u_km[:, 0]
    near_km = leg_km + nearest(r_lat, r_lon, pts)[0][:, 0]
    total = float(pop.sum())
    rows: list[dict[str, Any]] = []
    for budget in budgets_ms:
        rl = RowLatency.from_model(model, acc, float(budget), percentile)
        radius = np.asarray(rl.radius_km, dtype=np.float64)
        # (a leg longer than the radius: none; a class that cannot meet it: -1, none)
        reach = np.where(radius >= leg_km, radius - leg_km, -1.0)
        n_in = count_within(tree, pts, reach)
        lat_ms = rl.fixed_ms + rl.ms_per_km * near_km
        p50_ms = rl.fixed_p50_ms + rl.ms_per_km * near_km
        within = float(pop[n_in >= 1].sum())
        within2 = float(pop[n_in >= 2].sum())
        rows.append({
            "budget_ms": float(budget), "percentile": percentile, "population": total,
            "population_within_budget": within,
            "population_within_budget_n1": within2,
            "share_within_budget": within / total if total else float("nan"),
            "share_within_budget_n1": within2 / total if total else float("nan"),
            "n_regions": int(len(regions)),
            "mean_latency_ms": _weighted_mean(lat_ms, pop),
            "mean_p50_ms": _weighted_mean(p50_ms, pop),
            "median_distance_km": _weighted_median(near_km, pop),
        })
    return pd.DataFrame(rows)


def _weighted_mean(values: npt.NDArray[np.float64], weights: npt.NDArray[np.float64]) -> float:
    w = weights.sum()
    return float(np.dot(values, weights) / w) if w > 0 else float("nan")


def _weighted_median(values: npt.NDArray[np.float64],
                     weights: npt.NDArray[np.float64]) -> float:
    if not len(values) or weights.sum() <= 0:
        return float("nan")
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, 0.5 * cum[-1])])
