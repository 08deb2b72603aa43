"""Sparse reach matrix: which candidate sites each demand point can reach within budget.

One BallTree radius query (unit vectors, chord radius) per demand chunk at the largest radius
of any access class present, then an exact per-pair filter with each demand point's own
fixed latency. The result is CSR with one stored entry per (demand, site) pair in reach,
sorted by distance within each row; no dense demand x site array is ever built.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..cluster import SUBTASK_PRIORITY, waiting
from ..errors import InfeasibleBudgetError
from ..wording import counted
from .geo import REACH_EPS_KM, chord_from_km, km_from_chord, unit_xyz
from .latency import LatencyModel, Percentile
from .problem import RowLatency

logger = logging.getLogger(__name__)

__all__ = ["ReachMatrix", "build_reach", "cluster_partitions"]


@dataclass(frozen=True)
class ReachMatrix:
    """Demand x site pairs within the latency budget.

    Attributes
    ----------
    indptr, indices : numpy.ndarray
        CSR structure (row = demand, column = site), entries sorted by distance per row.
    distance_km : numpy.ndarray
        Great-circle distance of each stored pair, km (aligned with ``indices``).
    latency_ms : numpy.ndarray
        Latency of each pair at the budget percentile, ms.
    p50_ms : numpy.ndarray
        Median latency of each pair, ms.
    n_sites : int
        Number of candidate sites (columns).
    budget_ms : float
        The latency budget, ms.
    percentile : str
        Percentile the budget is checked at.
    """

    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int32]
    distance_km: npt.NDArray[np.float32]
    latency_ms: npt.NDArray[np.float32]
    p50_ms: npt.NDArray[np.float32]
    n_sites: int
    budget_ms: float
    percentile: str

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_demand, n_sites)``."""
        return (len(self.indptr) - 1, self.n_sites)

    @property
    def nnz(self) -> int:
        """Number of (demand, site) pairs in reach."""
        return int(self.indptr[-1])

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays, bytes."""
        return sum(
            a.nbytes
            for a in (self.indptr, self.indices, self.distance_km, self.latency_ms, self.p50_ms)
        )

    def n_covering(self) -> npt.NDArray[np.int64]:
        """Number of candidate sites within budget of each demand point (``|N_i|``)."""
        return np.diff(self.indptr)

    def row_of_entry(self) -> npt.NDArray[np.int64]:
        """Row (demand position) of each stored entry."""
        return np.repeat(np.arange(self.shape[0]), self.n_covering())

    def boolean(self) -> sp.csr_array:
        """The reach pattern as a boolean-valued (int8) CSR array."""
        data = np.ones(self.nnz, dtype=np.int8)
        return sp.csr_array((data, self.indices.copy(), self.indptr.copy()), shape=self.shape)

    def values(self, which: str = "latency_ms") -> sp.csr_array:
        """One of the per-pair arrays as CSR (explicit zeros are kept, never eliminated)."""
        return sp.csr_array(
            (getattr(self, which).copy(), self.indices.copy(), self.indptr.copy()), shape=self.shape
        )


def _query_rows(
    site_xyz: npt.NDArray[np.float64],
    d_lat: npt.NDArray[np.float64],
    d_lon: npt.NDArray[np.float64],
    row_radius_km: npt.NDArray[np.float64],
    max_radius_km: float,
    chunk_rows: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float64]]:
    """Sites within each row's radius for a block of demand rows.

    Returns the block's row counts, the site columns (int32) and the great-circle distances
    (km, float64), rows in order and entries sorted by distance within each row. The unit of
    work of :func:`build_reach`, in this process or in a Dask task (one per partition).
    """
    n = d_lat.shape[0]
    counts_parts: list[npt.NDArray[np.int64]] = []
    idx_parts: list[npt.NDArray[np.int32]] = []
    dist_parts: list[npt.NDArray[np.float64]] = []
    if n and site_xyz.shape[0] and max_radius_km >= 0:
        # Euclidean tree on unit vectors: chord length is monotone in great-circle distance,
        # so the radius query is exact and several times faster than a haversine tree
        from sklearn.neighbors import BallTree  # lazy: sklearn costs ~1.5 s of CLI start

        tree = BallTree(site_xyz)
        # the radius with the same 1e-9 km tolerance as the check below (and as the
        # assignment's): a point at the radius fell outside the tree's chord while the
        # assignment served it (tester 172: uncoverable, yet a primary at 30.00000000000001
        # ms)
        max_chord = float(chord_from_km(max_radius_km + REACH_EPS_KM))
        for start in range(0, n, chunk_rows):
            stop = min(start + chunk_rows, n)
            q = unit_xyz(d_lat[start:stop], d_lon[start:stop])
            ind, dist = tree.query_radius(q, r=max_chord, return_distance=True,
                                          sort_results=True)
            counts = np.fromiter(map(len, ind), dtype=np.int64, count=len(ind))
            if counts.sum():
                cols = np.concatenate(ind).astype(np.int32)
                dkm = km_from_chord(np.concatenate(dist))
            else:
                cols = np.zeros(0, dtype=np.int32)
                dkm = np.zeros(0)
            rows = np.repeat(np.arange(start, stop), counts)
            keep = dkm <= row_radius_km[rows] + REACH_EPS_KM
            counts_parts.append(np.bincount(rows[keep] - start, minlength=stop - start))
            idx_parts.append(cols[keep])
            dist_parts.append(dkm[keep])
    else:
        counts_parts.append(np.zeros(n, dtype=np.int64))
    return (np.concatenate(counts_parts).astype(np.int64),
            np.concatenate(idx_parts) if idx_parts else np.zeros(0, dtype=np.int32),
            np.concatenate(dist_parts) if dist_parts else np.zeros(0))


def cluster_partitions(client: Any, partitions: int | None, n_rows: int) -> int:
    """Number of demand partitions :func:`build_reach` uses on ``client``.

    ``partitions`` when given, else twice the number of the cluster's workers; never more
    than the number of rows (and at least 1).
    """
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    n_parts = int(partitions) if partitions else 2 * n_workers
    return max(1, min(n_parts, max(int(n_rows), 1)))


def _query_on_cluster(
    client: Any,
    site_xyz: npt.NDArray[np.float64],
    d_lat: npt.NDArray[np.float64],
    d_lon: npt.NDArray[np.float64],
    row_radius_km: npt.NDArray[np.float64],
    max_radius_km: float,
    chunk_rows: int,
    partitions: int | None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float64], dict]:
    """:func:`_query_rows` over contiguous demand partitions, one Dask task each."""
    n = d_lat.shape[0]
    n_parts = cluster_partitions(client, partitions, n)
    bounds = np.linspace(0, n, n_parts + 1).astype(np.int64)
    sites_f = client.scatter(site_xyz, broadcast=True, hash=False)
    futures = []
    for p in range(n_parts):
        a, b = int(bounds[p]), int(bounds[p + 1])
        block = client.scatter([d_lat[a:b], d_lon[a:b], row_radius_km[a:b]], hash=False)
        futures.append(client.submit(_query_rows, sites_f, *block, max_radius_km, chunk_rows,
                                     key=f"reach-part-{p}-{uuid.uuid4().hex[:12]}",
                                     pure=False, priority=SUBTASK_PRIORITY))
    with waiting():  # (a batch scenario's task: its thread goes to the partitions)
        parts = client.gather(futures)  # in partition order
    who = client.who_has(futures)
    workers = sorted({w for f in futures for w in who.get(f.key, ())})
    client.cancel(futures + [sites_f])
    info = {"partitions": n_parts, "workers": len(workers)}
    return (np.concatenate([c for c, _, _ in parts]),
            np.concatenate([i for _, i, _ in parts]),
            np.concatenate([d for _, _, d in parts]), info)


def build_reach(
    demand_lat_deg: npt.ArrayLike,
    demand_lon_deg: npt.ArrayLike,
    site_lat_deg: npt.ArrayLike,
    site_lon_deg: npt.ArrayLike,
    *,
    model: LatencyModel,
    budget_ms: float,
    access: str | npt.ArrayLike = "ftth",
    percentile: Percentile = "p99",
    chunk_rows: int = 50_000,
    radius_shrink_km: npt.ArrayLike | None = None,
    client: Any = None,
    partitions: int | None = None,
    row_latency: RowLatency | None = None,
) -> ReachMatrix:
    """Build the reach matrix from one bulk BallTree radius query (chunked over demand).

    Parameters
    ----------
    demand_lat_deg, demand_lon_deg : array_like
        Demand coordinates, degrees (EPSG:4326).
    site_lat_deg, site_lon_deg : array_like
        Candidate-site coordinates, degrees.
    model : LatencyModel
        Latency model.
    budget_ms : float
        Latency budget at ``percentile``, ms.
    access : str or array_like, default "ftth"
        Access class of every demand point, or one per point.
    percentile : {"p99", "p50"}, default "p99"
        Percentile the budget is checked at.
    chunk_rows : int, default 50_000
        Demand points per radius query (bounds the query's temporary memory).
    radius_shrink_km : array_like, optional
        Per demand point, km taken off its budget radius (conservative aggregation: the
        farthest member's offset from the bin centroid, see :mod:`coverage.model.aggregate`).
    client : distributed.Client, optional
        Build the matrix in ``partitions`` contiguous demand partitions, one Dask task each,
        on this client's workers (the result is identical, entry for entry). Inside a Dask
        task, pass the client of ``distributed.worker_client()``.
    partitions : int, optional
        Number of partitions with ``client`` (default: twice the number of workers).
    row_latency : coverage.model.problem.RowLatency, optional
        The demand points' latency constants, already computed (:class:`coverage.Problem`
        does); then ``model``'s classes are not evaluated again and ``radius_shrink_km``
        must be part of ``rows``.

    Returns
    -------
    ReachMatrix

    Raises
    ------
    InputValidationError
        Every problem of the arguments at once (coordinates that are not finite degrees
        or out of range, rows named; lengths that differ; a budget that is not a positive
        number of ms; ...), before any work.
    InfeasibleBudgetError
        When no access class present can meet the budget even at distance zero.
    """
    t0 = time.perf_counter()
    d_lat, d_lon, site_lat_deg, site_lon_deg, radius_shrink_km = _reach_arguments(
        demand_lat_deg, demand_lon_deg, site_lat_deg, site_lon_deg, model=model,
        budget_ms=budget_ms, access=access, chunk_rows=chunk_rows,
        radius_shrink_km=radius_shrink_km, partitions=partitions, row_latency=row_latency)
    n_demand = d_lat.shape[0]
    n_sites = int(site_lat_deg.shape[0])
    if row_latency is None:
        access_arr = (np.full(n_demand, access, dtype=object) if isinstance(access, str)
                      else np.asarray(access, dtype=object))
        row_latency = RowLatency.from_model(model, access_arr, budget_ms, percentile,
                                     radius_shrink_km)
        for reason in row_latency.reasons:
            logger.warning("%s", reason)
    if n_demand and not (row_latency.radius_km >= 0).any():
        raise InfeasibleBudgetError(" ".join(row_latency.reasons)
                                    or f"no demand point can meet {budget_ms:g} ms")
    row_radius_km = row_latency.radius_km
    max_radius_km = row_latency.max_radius_km if n_demand else 0.0

    site_xyz = unit_xyz(site_lat_deg, site_lon_deg) if n_sites else np.zeros((0, 3))
    where = "in this process"
    if client is not None and n_demand and n_sites:
        counts, indices, distance, info = _query_on_cluster(
            client, site_xyz, d_lat, d_lon, row_radius_km, max_radius_km, chunk_rows,
            partitions)
        where = f"in {info['partitions']} partitions on {info['workers']} Dask worker(s)"
    else:
        counts, indices, distance = _query_rows(site_xyz, d_lat, d_lon, row_radius_km,
                                                max_radius_km, chunk_rows)
    indptr = np.zeros(n_demand + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    row_of = np.repeat(np.arange(n_demand), counts)
    latency = row_latency.latency_ms(row_of, distance)
    p50 = row_latency.latency_ms(row_of, distance, p50=True)
    reach = ReachMatrix(
        indptr=indptr,
        indices=indices.astype(np.int32),
        distance_km=distance.astype(np.float32),
        latency_ms=latency.astype(np.float32),
        p50_ms=p50.astype(np.float32),
        n_sites=n_sites,
        budget_ms=float(budget_ms),
        percentile=percentile,
    )
    logger.info(
        "reach matrix: %s x %s, %s within %.0f km (%.1f MB) in %.1f s %s",
        counted(n_demand, "demand point"),
        counted(n_sites, "site"),
        counted(reach.nnz, "pair"),
        max_radius_km,
        reach.nbytes / 1e6,
        time.perf_counter() - t0,
        where,
    )
    return reach


_COORDINATES = (("demand_lat_deg", "demand latitude", 90.0),
                ("demand_lon_deg", "demand longitude", 180.0),
                ("site_lat_deg", "site latitude", 90.0),
                ("site_lon_deg", "site longitude", 180.0))


def _float_array(value: Any) -> npt.NDArray[np.float64] | None:
    """``value`` (array, Series, list; numbers or numeric text) as float64, missing values
    (``None``, ``pd.NA``) and text that is no number as NaN; ``None`` when it holds
    booleans or is no array of numbers at all (a table, objects)."""
    import pandas as pd

    dtype = getattr(value, "dtype", None)
    if isinstance(value, pd.DataFrame) or (dtype is not None
                                           and pd.api.types.is_bool_dtype(dtype)):
        return None
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):  # text that is no number, pd.NA, Decimal ...
        pass
    try:
        flat = np.asarray(value, dtype=object)
    except (TypeError, ValueError):
        return None
    if flat.ndim == 0:
        return None
    numbers = pd.to_numeric(pd.Series(flat.ravel()), errors="coerce")
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan).reshape(flat.shape)


def _reach_arguments(
    demand_lat_deg: Any, demand_lon_deg: Any, site_lat_deg: Any, site_lon_deg: Any, *,
    model: Any, budget_ms: Any, access: Any, chunk_rows: Any, radius_shrink_km: Any,
    partitions: Any, row_latency: Any,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64],
           npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    """The arguments of :func:`build_reach`, checked before any work.

    Returns
    -------
    tuple of numpy.ndarray
        Demand latitude and longitude, site latitude and longitude (1-D float64 degrees)
        and the radius shrink (float64, or ``None``).

    Raises
    ------
    InputValidationError
        Every problem at once, naming the argument, the rows (1-based positions) and the
        fix: coordinates that are not finite numbers or out of range, lengths that differ,
        a budget that is not a positive number of ms, a model that is not a
        :class:`LatencyModel`, an ``access``, ``radius_shrink_km`` or ``row_latency`` of
        another length, a ``chunk_rows`` or ``partitions`` below 1.
    """
    from ..inputs.validation import ProblemReport

    report = ProblemReport("build_reach", "reach matrix", option_style="api")
    arrays: dict[str, npt.NDArray[np.float64]] = {}
    for (name, label, limit), value in zip(
            _COORDINATES, (demand_lat_deg, demand_lon_deg, site_lat_deg, site_lon_deg),
            strict=True):
        arr = _float_array(value)
        if arr is not None and arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]  # a one-column table of values
        if arr is None or arr.ndim != 1:
            report.add(f"{name} must hold one number per point (a 1-D array, list or "
                       f"Series of degrees); got {type(value).__name__}"
                       + ("" if arr is None else f" of shape {arr.shape}"),
                       f"pass the {label}s, e.g. df['{name.split('_')[1]}']")
            continue
        arrays[name] = arr
        bad = ~np.isfinite(arr)
        if bad.any():
            report.add(f"{label} is not a finite number (NaN, missing, infinite or text)",
                       "drop those points or fill in their coordinates", bad)
        outside = ~bad & (np.abs(np.where(bad, 0.0, arr)) > limit)
        if outside.any():
            report.add(f"{label} outside [-{limit:g}, {limit:g}] degrees",
                       "give EPSG:4326 degrees (transform projected coordinates first; "
                       "swapped lat/lon land here too)", outside)
    for a, b in (("demand_lat_deg", "demand_lon_deg"), ("site_lat_deg", "site_lon_deg")):
        if a in arrays and b in arrays and len(arrays[a]) != len(arrays[b]):
            report.add(f"{b} has {len(arrays[b])} values, {a} {len(arrays[a])}",
                       "give one latitude and one longitude per point")
    n_demand = len(arrays["demand_lat_deg"]) if "demand_lat_deg" in arrays else None
    if isinstance(budget_ms, bool) or not isinstance(
            budget_ms, int | float | np.integer | np.floating) or not (
            np.isfinite(float(budget_ms)) and float(budget_ms) > 0):
        report.add(f"budget_ms must be a positive number of ms; got {budget_ms!r}",
                   "pass the latency budget in ms, e.g. budget_ms=30")
    if row_latency is None and not isinstance(model, LatencyModel):
        report.add(f"model must be a LatencyModel; got {type(model).__name__}",
                   "pass model=coverage.LatencyModel() (the defaults) or your model")
    if row_latency is None and not isinstance(access, str):
        n_access = len(access) if hasattr(access, "__len__") else None
        if n_access is None or (n_demand is not None and n_access != n_demand):
            report.add("access must be one access class or one per demand point; got "
                       + (f"{n_access} values for {n_demand} points" if n_access is not None
                          else type(access).__name__),
                       "pass access='ftth' or a column of the demand's access classes")
    for name, value in (("chunk_rows", chunk_rows), ("partitions", partitions)):
        if value is None and name == "partitions":
            continue
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            report.add(f"{name} must be an integer of at least 1; got {value!r}",
                       f"pass {name}=" + ("50000" if name == "chunk_rows" else "None")
                       + " (the default)")
    if row_latency is not None:
        if radius_shrink_km is not None:
            report.add("radius_shrink_km is given with row_latency",
                       "leave radius_shrink_km out: the shrink is part of the RowLatency")
        if n_demand is not None and len(row_latency) != n_demand:
            report.add(f"row_latency has {len(row_latency)} demand points, the coordinates "
                       f"{n_demand}", "build the RowLatency of these demand points")
    shrink = None
    if radius_shrink_km is not None and row_latency is None:
        shrink = _float_array(radius_shrink_km)
        if shrink is None or shrink.ndim > 1 or (
                shrink.ndim == 1 and n_demand is not None and len(shrink) != n_demand):
            report.add("radius_shrink_km must be one value per demand point; got "
                       + (type(radius_shrink_km).__name__ if shrink is None else
                          f"{shrink.size} values for {n_demand} points"),
                       "pass one shrink (km) per demand point, or None")
            shrink = None
        elif shrink.ndim == 1:
            bad = ~(np.isfinite(shrink) & (shrink >= 0))
            if bad.any():
                report.add("radius_shrink_km is not a finite number >= 0",
                           "give every demand point a shrink of 0 km or more", bad)
    report.raise_if_any()
    return (arrays["demand_lat_deg"], arrays["demand_lon_deg"], arrays["site_lat_deg"],
            arrays["site_lon_deg"], shrink)


def engine_reach(engine: Any, *, budget_ms: float, percentile: str,
                 rows: npt.ArrayLike | None = None,
                 sites: npt.ArrayLike | None = None) -> ReachMatrix:
    """The reach matrix of tiered or anchored pair latencies
    (:class:`coverage.model.routing.PairEngine`), entries sorted by latency within a row.

    ``distance_km`` holds each pair's path length in the model's km (the great circle,
    through the breakout, or over the backbone); ``rows`` selects demand rows (default
    all), in that order; ``sites`` the candidates whose pairs are kept (default all; the
    columns stay every candidate's).
    """
    t0 = time.perf_counter()
    r = engine.row_index(rows)
    rowpos, cols, path, tier = engine.pairs(r, sites)
    tr = engine.tier_rows
    latency = np.empty(len(cols))
    p50 = np.empty(len(cols))
    for t in np.unique(tier):
        m = tier == t
        latency[m] = tr.fixed_ms(r[rowpos[m]], int(t)) + tr.ms_per_km * path[m]
        p50[m] = tr.fixed_ms(r[rowpos[m]], int(t), p50=True) + tr.ms_per_km * path[m]
    order = np.lexsort((cols, latency, rowpos))
    counts = np.bincount(rowpos, minlength=len(r)).astype(np.int64)
    indptr = np.zeros(len(r) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    reach = ReachMatrix(indptr=indptr, indices=cols[order].astype(np.int32),
                        distance_km=path[order].astype(np.float32),
                        latency_ms=latency[order].astype(np.float32),
                        p50_ms=p50[order].astype(np.float32), n_sites=len(engine.sites),
                        budget_ms=float(budget_ms), percentile=percentile)
    logger.info("reach matrix (tiers/routing): %s demand x %s sites, %s pairs in %.1f s",
                f"{len(r):,}", f"{len(engine.sites):,}", f"{reach.nnz:,}",
                time.perf_counter() - t0)
    return reach
