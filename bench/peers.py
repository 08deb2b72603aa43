"""Peer baselines on the same instances, measured (wall time and peak resident memory).

* :func:`textbook_highs` -- the plain textbook set-(multi)cover MILP, no reductions, straight
  into :func:`scipy.optimize.milp` (HiGHS).
* :func:`spopt_lscp` / :func:`spopt_pmedian` -- PySAL ``spopt`` (``LSCP`` / ``PMedian``
  built with ``from_cost_matrix`` from a dense great-circle km matrix, solved through PuLP).
* :func:`spopt_mclp` / :func:`spopt_pcenter` (and :func:`spopt_on_matrix` for all four
  models) -- spopt's ``MCLP`` / ``PCenter`` built with ``from_cost_matrix`` from a cost
  matrix given by the caller (e.g. spopt's San Francisco street distances).
  spopt and PuLP are optional benchmark dependencies, imported only here; a size guard
  returns a ``"skipped: too large"`` record instead of building a model that would need more
  than a few GB.
* :func:`bare_neighbour_query` -- the floor: one scikit-learn ``BallTree`` (haversine)
  ``query_radius(..., count_only=True)`` over every demand point.

Usage: ``python bench/peers.py [--only grid,bare,lscp,textbook,pmedian]`` runs the
measurements (see :func:`main`) and prints one line per run.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp
from sklearn.neighbors import BallTree

from coverage.model.geo import EARTH_RADIUS_KM, haversine_km, latlon_rad

logger = logging.getLogger(__name__)

__all__ = [
    "PeakRSS",
    "radius_csr",
    "textbook_highs",
    "spopt_lscp",
    "spopt_pmedian",
    "spopt_on_matrix",
    "spopt_mclp",
    "spopt_pcenter",
    "bare_neighbour_query",
    "SPOPT_BYTES_PER_CELL",
]

#: Peak memory of ``spopt`` per demand x site cell, bytes (measured, rounded up): for LSCP the
#: dense float64 cost matrix, spopt's dense float64 ``aij`` copy, the boolean mask and the
#: PuLP model (zero coefficients are dropped, so it grows with the pairs in reach); for
#: PMedian one PuLP variable and one constraint per cell (about 3-4.7 kB). See
#: :func:`spopt_lscp`.
SPOPT_BYTES_PER_CELL: dict[str, float] = {"lscp": 200.0, "pmedian": 5_000.0}

_HIGHS_STATUS = {0: "optimal", 1: "time_limit", 2: "infeasible", 3: "unbounded", 4: "error"}


# --------------------------------------------------------------------------- measuring


def _rss_mib() -> float:
    """Current resident set size of this process, MiB (Linux ``/proc``; else the peak)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class PeakRSS:
    """Context manager sampling the process's resident memory to find the peak of a block.

    Attributes
    ----------
    start_mib, peak_mib : float
        Resident set size at entry and the largest sampled inside the block, MiB (includes
        what the process held before; ``peak_mib - start_mib`` is the block's increase).
    """

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self.start_mib = self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_mib = max(self.peak_mib, _rss_mib())

    def __enter__(self) -> PeakRSS:
        self.start_mib = self.peak_mib = _rss_mib()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_mib = max(self.peak_mib, _rss_mib())


# --------------------------------------------------------------------------- reach pattern


def radius_csr(demand: pd.DataFrame, sites: pd.DataFrame, radius_km: float) -> sp.csr_array:
    """Boolean (int8) CSR of the (demand, site) pairs within ``radius_km`` great-circle km.

    One BallTree (haversine) radius query; rows follow ``demand``, columns ``sites``.
    """
    tree = BallTree(latlon_rad(sites["lat"], sites["lon"]), metric="haversine")
    ind = tree.query_radius(
        latlon_rad(demand["lat"], demand["lon"]), r=float(radius_km) / EARTH_RADIUS_KM
    )
    counts = np.fromiter(map(len, ind), dtype=np.int64, count=len(ind))
    cols = np.concatenate(ind).astype(np.int32) if counts.sum() else np.zeros(0, np.int32)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    a = sp.csr_array(
        (np.ones(len(cols), dtype=np.int8), cols, indptr), shape=(len(demand), len(sites))
    )
    a.sort_indices()
    return a


def _dense_km(demand: pd.DataFrame, sites: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Dense ``(n_demand, n_sites)`` great-circle distance matrix, km (float64)."""
    return haversine_km(
        demand["lat"].to_numpy(dtype=np.float64)[:, None],
        demand["lon"].to_numpy(dtype=np.float64)[:, None],
        sites["lat"].to_numpy(dtype=np.float64)[None, :],
        sites["lon"].to_numpy(dtype=np.float64)[None, :],
    )


# --------------------------------------------------------------------------- textbook HiGHS


def textbook_highs(
    A_csr: sp.sparray | sp.spmatrix,
    requirement: int | npt.ArrayLike = 1,
    time_limit_s: float = 60.0,
) -> dict[str, Any]:
    """The plain textbook set-(multi)cover MILP, no reductions, solved by HiGHS.

    ``min sum_j x_j  s.t.  A x >= r,  x binary`` passed as is to
    :func:`scipy.optimize.milp` (HiGHS defaults apart from the time limit). The only change
    to the data is capping each row's requirement at its number of stored entries (rows with
    none get 0), which defines the problem the same way as
    :func:`coverage.solvers.cover.min_cover` and keeps it feasible.

    Parameters
    ----------
    A_csr : scipy.sparse matrix or array, shape (n_demand, n_sites)
        Stored entries mark coverage (values ignored).
    requirement : int or array_like of int, default 1
        Sites required per row (2 for N-1).
    time_limit_s : float, default 60
        HiGHS time limit, s.

    Returns
    -------
    dict
        ``objective`` (sites chosen; nan without a solution), ``lower_bound``
        (``res.mip_dual_bound``), ``status`` (``optimal``, ``time_limit``, ...), ``sites``
        (chosen column indices), ``rows, cols, nnz``, ``seconds`` (model assembly + solve),
        ``peak_mib`` (process resident-memory peak during the call), ``message``.
    """
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        a = sp.csr_array(A_csr, copy=True)
        a.sum_duplicates()
        a = sp.csr_array(
            (np.ones(a.nnz, dtype=np.float64), a.indices, a.indptr), shape=a.shape
        )
        n, m = a.shape
        r = np.asarray(requirement)
        r = np.full(n, int(r)) if r.ndim == 0 else r.astype(np.int64)
        r = np.minimum(r, np.diff(a.indptr))
        res = milp(
            np.ones(m),
            constraints=LinearConstraint(a, lb=r, ub=np.inf),
            integrality=np.ones(m),
            bounds=Bounds(0, 1),
            options={"time_limit": float(time_limit_s), "disp": False},
        )
        seconds = time.perf_counter() - t0
    sites = np.flatnonzero(res.x > 0.5) if res.x is not None else np.zeros(0, dtype=np.int64)
    bound = getattr(res, "mip_dual_bound", None)
    out = {
        "solver": "textbook HiGHS (scipy.optimize.milp)",
        "objective": float(len(sites)) if res.x is not None else float("nan"),
        "lower_bound": float(bound) if bound is not None else float("nan"),
        "status": _HIGHS_STATUS.get(res.status, str(res.status)),
        "sites": sites,
        "rows": n,
        "cols": m,
        "nnz": int(a.nnz),
        "seconds": seconds,
        "peak_mib": mem.peak_mib,
        "peak_increase_mib": mem.peak_mib - mem.start_mib,
        "message": str(res.message),
    }
    logger.info(
        "textbook HiGHS: %s sites, bound %s, %s, %.1f s",
        out["objective"],
        out["lower_bound"],
        out["status"],
        seconds,
    )
    return out


# --------------------------------------------------------------------------- spopt


def _pulp_solver(name: str, time_limit_s: float) -> Any:
    import pulp

    if name == "cbc":
        return pulp.PULP_CBC_CMD(msg=False, timeLimit=float(time_limit_s))
    if name == "highs":
        return pulp.HiGHS(msg=False, timeLimit=float(time_limit_s))
    raise ValueError(f"solver must be 'cbc' or 'highs'; got {name!r}")


def _pulp_status(problem: Any) -> str:
    import pulp

    status = pulp.LpStatus.get(problem.status, str(problem.status))
    sol = getattr(problem, "sol_status", None)
    if problem.status == pulp.LpStatusOptimal and sol == pulp.LpSolutionIntegerFeasible:
        return "time_limit (feasible)"
    return status.lower()


def _chosen(model: Any, status: str) -> list[int] | None:
    """Open facilities of a solved spopt model (None when PuLP has no feasible solution)."""
    if not (status == "optimal" or status.startswith("time_limit")):
        return None
    return [j for j, v in enumerate(model.fac_vars) if (v.value() or 0.0) > 0.5]


def _skip_record(model: str, n: int, m: int, estimate_gib: float, limit_gib: float) -> dict:
    logger.warning(
        "spopt %s %s x %s skipped: needs about %.1f GiB (limit %.1f GiB)",
        model,
        f"{n:,}",
        f"{m:,}",
        estimate_gib,
        limit_gib,
    )
    return {
        "solver": f"spopt {model}",
        "status": "skipped: too large",
        "rows": n,
        "cols": m,
        "estimate_gib": estimate_gib,
        "n_sites": None,
        "seconds": 0.0,
    }


def spopt_lscp(
    demand: pd.DataFrame,
    sites: pd.DataFrame,
    radius_km: float,
    time_limit_s: float = 60.0,
    *,
    solver: str = "cbc",
    max_gib: float = 4.0,
) -> dict[str, Any]:
    """PySAL ``spopt.locate.LSCP`` (location set covering) on the same instance.

    The cost matrix is built the way spopt expects for ``LSCP.from_cost_matrix(cost_matrix,
    service_radius)``: a dense ``(n_demand, n_sites)`` float64 array of great-circle km.
    Demand points with no site within the radius are dropped first (spopt's model would be
    infeasible with them; :func:`coverage.solvers.cover.min_cover` ignores them too).

    Parameters
    ----------
    demand, sites : pandas.DataFrame
        Tables in the :mod:`coverage.inputs.tables` contracts (``lat``, ``lon`` columns used).
    radius_km : float
        Service radius, km.
    time_limit_s : float, default 60
        Solver time limit, s (model building is not limited).
    solver : {"cbc", "highs"}, default "cbc"
        PuLP's bundled CBC, or HiGHS through PuLP (needs ``highspy``).
    max_gib : float, default 4
        Size guard: when the estimated peak memory (``SPOPT_BYTES_PER_CELL["lscp"]`` bytes
        per demand x site cell: the dense cost matrix, spopt's dense ``aij`` copy, a boolean
        mask and the PuLP model) exceeds this, nothing is built and a ``"skipped: too large"``
        record is returned. Building is a Python loop over every cell (about 10 us each).

    Returns
    -------
    dict
        ``n_sites``, ``status``, ``matrix_s`` (dense distance matrix), ``build_s``
        (``from_cost_matrix``), ``solve_s`` (``solve``, which includes PuLP writing the MPS
        file for CBC), ``seconds`` (total), ``rows_dropped_uncoverable``, ``peak_mib``.

    Raises
    ------
    ImportError
        When spopt or PuLP is not installed (``pip install spopt pulp``).
    """
    n, m = len(demand), len(sites)
    estimate = n * m * SPOPT_BYTES_PER_CELL["lscp"] / 2**30
    if estimate > max_gib:
        return _skip_record("LSCP", n, m, estimate, max_gib)
    from spopt.locate import LSCP

    with PeakRSS() as mem:
        t0 = time.perf_counter()
        cost = _dense_km(demand, sites)
        coverable = (cost <= radius_km).any(axis=1)
        if not coverable.all():
            cost = cost[coverable]
        t1 = time.perf_counter()
        model = LSCP.from_cost_matrix(cost, service_radius=float(radius_km))
        t2 = time.perf_counter()
        try:
            model.solve(_pulp_solver(solver, time_limit_s), results=False)
        except RuntimeError as exc:  # spopt raises when PuLP's status is not "Optimal"
            logger.warning("spopt LSCP: %s", exc)
        t3 = time.perf_counter()
    status = _pulp_status(model.problem)
    chosen = _chosen(model, status)
    out = {
        "solver": f"spopt LSCP ({solver} via PuLP)",
        "n_sites": len(chosen) if chosen is not None else None,
        "status": status,
        "rows": n,
        "cols": m,
        "rows_dropped_uncoverable": int((~coverable).sum()),
        "matrix_s": t1 - t0,
        "build_s": t2 - t1,
        "solve_s": t3 - t2,
        "seconds": t3 - t0,
        "peak_mib": mem.peak_mib,
        "peak_increase_mib": mem.peak_mib - mem.start_mib,
    }
    logger.info("spopt LSCP: %s", out)
    return out


def spopt_pmedian(
    demand: pd.DataFrame,
    sites: pd.DataFrame,
    p: int,
    time_limit_s: float = 60.0,
    *,
    solver: str = "cbc",
    max_gib: float = 4.0,
) -> dict[str, Any]:
    """PySAL ``spopt.locate.PMedian`` (population-weighted p-median, great-circle km).

    Built with ``PMedian.from_cost_matrix(cost_matrix, weights, p_facilities)`` from a dense
    float64 km matrix; the model has one assignment variable per demand x site cell, so it
    only finishes on small instances. Size guard as in :func:`spopt_lscp` (with
    ``SPOPT_BYTES_PER_CELL["pmedian"]``).

    Returns
    -------
    dict
        ``n_sites``, ``objective`` (population-weighted km), ``mean_km``, ``status``,
        ``matrix_s``, ``build_s``, ``solve_s``, ``seconds``, ``peak_mib``.
    """
    n, m = len(demand), len(sites)
    estimate = n * m * SPOPT_BYTES_PER_CELL["pmedian"] / 2**30
    if estimate > max_gib:
        return _skip_record("PMedian", n, m, estimate, max_gib)
    from spopt.locate import PMedian

    weights = demand["population"].to_numpy(dtype=np.float64)
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        cost = _dense_km(demand, sites)
        t1 = time.perf_counter()
        model = PMedian.from_cost_matrix(cost, weights, p_facilities=int(p))
        t2 = time.perf_counter()
        try:
            model.solve(_pulp_solver(solver, time_limit_s), results=False)
        except RuntimeError as exc:
            logger.warning("spopt PMedian: %s", exc)
        t3 = time.perf_counter()
    status = _pulp_status(model.problem)
    chosen = _chosen(model, status)
    objective = model.problem.objective.value() if chosen is not None else None
    out = {
        "solver": f"spopt PMedian ({solver} via PuLP)",
        "n_sites": len(chosen) if chosen is not None else None,
        "objective": objective,
        "mean_km": float(objective / weights.sum()) if objective is not None else None,
        "status": status,
        "rows": n,
        "cols": m,
        "matrix_s": t1 - t0,
        "build_s": t2 - t1,
        "solve_s": t3 - t2,
        "seconds": t3 - t0,
        "peak_mib": mem.peak_mib,
        "peak_increase_mib": mem.peak_mib - mem.start_mib,
    }
    logger.info("spopt PMedian: %s", out)
    return out


def spopt_on_matrix(
    model: str,
    cost: npt.NDArray[np.float64],
    *,
    weights: npt.ArrayLike | None = None,
    radius: float | None = None,
    p: int | None = None,
    time_limit_s: float = 60.0,
    solver: str = "cbc",
) -> dict[str, Any]:
    """One spopt model built with ``from_cost_matrix`` on the caller's dense cost matrix.

    ``model`` is ``"LSCP"`` (``radius``), ``"PMedian"`` (``weights``, ``p``), ``"MCLP"``
    (``weights``, ``radius``, ``p``) or ``"PCenter"`` (``p``), built and solved the way
    spopt's own tests do (no size guard: meant for small instances such as spopt's San
    Francisco one). The objective is recomputed from the open facilities: the count (LSCP),
    the weighted sum of nearest costs (PMedian), the weight within ``radius`` (MCLP), the
    largest nearest cost (PCenter).

    Returns
    -------
    dict
        ``solver``, ``sites`` (open facility indices), ``n_sites``, ``objective``,
        ``status``, ``build_s`` (``from_cost_matrix``), ``solve_s`` (``solve``, including
        PuLP writing the model for CBC), ``seconds`` (total).

    Raises
    ------
    ImportError
        When spopt or PuLP is not installed (``pip install spopt pulp``).
    """
    from spopt import locate

    cost = np.asarray(cost, dtype=np.float64)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    t0 = time.perf_counter()
    if model == "LSCP":
        built = locate.LSCP.from_cost_matrix(cost, service_radius=float(radius))
    elif model == "PMedian":
        built = locate.PMedian.from_cost_matrix(cost, w, p_facilities=int(p))
    elif model == "MCLP":
        built = locate.MCLP.from_cost_matrix(cost, w, service_radius=float(radius),
                                             p_facilities=int(p))
    elif model == "PCenter":
        built = locate.PCenter.from_cost_matrix(cost, p_facilities=int(p))
    else:
        raise ValueError(f"model must be LSCP, PMedian, MCLP or PCenter; got {model!r}")
    t1 = time.perf_counter()
    try:
        built.solve(_pulp_solver(solver, time_limit_s), results=False)
    except RuntimeError as exc:  # spopt raises when PuLP's status is not "Optimal"
        logger.warning("spopt %s: %s", model, exc)
    t2 = time.perf_counter()
    status = _pulp_status(built.problem)
    chosen = _chosen(built, status)
    objective = None
    if chosen is not None:
        sub = cost[:, chosen]
        if model == "LSCP":
            objective = float(len(chosen))
        elif model == "PMedian":
            objective = float(w @ sub.min(axis=1))
        elif model == "MCLP":
            objective = float(w[(sub <= float(radius)).any(axis=1)].sum())
        else:
            objective = float(sub.min(axis=1).max())
    out = {
        "solver": f"spopt {model} ({solver} via PuLP)",
        "sites": chosen,
        "n_sites": len(chosen) if chosen is not None else None,
        "objective": objective,
        "status": status,
        "build_s": t1 - t0,
        "solve_s": t2 - t1,
        "seconds": t2 - t0,
    }
    logger.info("spopt %s: %s", model, out)
    return out


def spopt_mclp(
    cost: npt.NDArray[np.float64],
    weights: npt.ArrayLike,
    radius: float,
    p: int,
    time_limit_s: float = 60.0,
    *,
    solver: str = "cbc",
) -> dict[str, Any]:
    """PySAL ``spopt.locate.MCLP`` (maximal covering, exactly ``p`` facilities) on a cost
    matrix: the weight of the clients with an open facility at cost ``<= radius``
    (:func:`spopt_on_matrix`)."""
    return spopt_on_matrix("MCLP", cost, weights=weights, radius=radius, p=p,
                           time_limit_s=time_limit_s, solver=solver)


def spopt_pcenter(
    cost: npt.NDArray[np.float64],
    p: int,
    time_limit_s: float = 60.0,
    *,
    solver: str = "cbc",
) -> dict[str, Any]:
    """PySAL ``spopt.locate.PCenter`` (minimax, exactly ``p`` facilities) on a cost matrix:
    the largest cost of a client to its nearest open facility (:func:`spopt_on_matrix`)."""
    return spopt_on_matrix("PCenter", cost, p=p, time_limit_s=time_limit_s, solver=solver)


# --------------------------------------------------------------------------- the floor


def _unit_xyz(lat_deg: pd.Series, lon_deg: pd.Series) -> npt.NDArray[np.float64]:
    """Points on the unit sphere, ``(n, 3)``."""
    ll = latlon_rad(lat_deg, lon_deg)
    cos_lat = np.cos(ll[:, 0])
    return np.column_stack(
        [cos_lat * np.cos(ll[:, 1]), cos_lat * np.sin(ll[:, 1]), np.sin(ll[:, 0])]
    )


def bare_neighbour_query(
    demand: pd.DataFrame, sites: pd.DataFrame, radius_km: float, *, metric: str = "haversine"
) -> dict[str, Any]:
    """Time one BallTree ``query_radius(count_only=True)`` over all demand points.

    The floor of any radius-based method: no pair is stored, only counted.

    Parameters
    ----------
    demand, sites : pandas.DataFrame
        ``lat``, ``lon`` columns, degrees.
    radius_km : float
        Great-circle radius, km.
    metric : {"haversine", "chord"}, default "haversine"
        ``"haversine"``: ``BallTree(metric="haversine")`` on ``[lat, lon]`` radians (what
        :mod:`coverage.model.reach` does). ``"chord"``: a Euclidean BallTree on unit-sphere
        ``(x, y, z)`` with the chord radius ``2 sin(R / 2 r_earth)`` -- the same pairs
        (monotone transform of the great-circle distance), without a trigonometric call per
        distance.

    Returns
    -------
    dict
        ``pairs`` (total demand x site pairs within ``radius_km``), ``build_s`` (tree and
        query coordinates), ``query_s``, ``seconds`` (both), ``rows``, ``cols``, ``peak_mib``.
    """
    if metric not in ("haversine", "chord"):
        raise ValueError(f"metric must be 'haversine' or 'chord'; got {metric!r}")
    theta = float(radius_km) / EARTH_RADIUS_KM
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        if metric == "haversine":
            tree = BallTree(latlon_rad(sites["lat"], sites["lon"]), metric="haversine")
            q = latlon_rad(demand["lat"], demand["lon"])
            r = theta
        else:
            tree = BallTree(_unit_xyz(sites["lat"], sites["lon"]))
            q = _unit_xyz(demand["lat"], demand["lon"])
            r = 2.0 * np.sin(min(theta, np.pi) / 2.0)
        t1 = time.perf_counter()
        counts = tree.query_radius(q, r=r, count_only=True)
        t2 = time.perf_counter()
    out = {
        "solver": f"bare BallTree({metric}) query_radius(count_only=True)",
        "pairs": int(np.sum(counts, dtype=np.int64)),
        "rows": len(demand),
        "cols": len(sites),
        "build_s": t1 - t0,
        "query_s": t2 - t1,
        "seconds": t2 - t0,
        "peak_mib": mem.peak_mib,
        "peak_increase_mib": mem.peak_mib - mem.start_mib,
    }
    logger.info("bare query: %s", out)
    return out


# --------------------------------------------------------------------------- script


def _line(label: str, rec: dict[str, Any]) -> str:
    keys = [k for k in rec if k not in ("solver", "sites")]
    parts = []
    for k in keys:
        v = rec[k]
        if isinstance(v, float):
            v = f"{v:,.2f}"
        elif isinstance(v, int | np.integer) and not isinstance(v, bool):
            v = f"{v:,}"
        parts.append(f"{k}={v}")
    return f"{label}: " + ", ".join(parts)


def main(argv: list[str] | None = None) -> None:
    """Run the peer measurements and print one line each.

    ``grid``: time :func:`coverage.inputs.synthetic.national_grid` ("US", 1M cells); ``bare``: the
    bare query for that grid x US GeoNames places >= 15k at 592 km; ``lscp``: spopt LSCP at
    2k x 300 and 10k x 1k (R = 300 km, synthetic); ``textbook``: textbook HiGHS on the
    synthetic 10k x 1k 2-cover (R = 300 km, 120 s) and ``min_cover`` on it; ``pmedian``:
    spopt PMedian (p = 20) at 500 x 100 and 2k x 300.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="grid,bare,lscp,textbook,pmedian")
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--radius-km", type=float, default=300.0)
    parser.add_argument("--solver", default="cbc", choices=["cbc", "highs"])
    parser.add_argument("--max-gib", type=float, default=4.0)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    from bench import instances

    todo = set(args.only.split(","))
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    if todo & {"grid", "bare"}:
        t = time.perf_counter()
        cands = instances.us_candidates()  # also loads (and caches) the GeoNames extract
        print(f"GeoNames extract loaded in {time.perf_counter() - t:.1f} s", flush=True)
        with PeakRSS() as mem:
            t = time.perf_counter()
            grid = instances.national_grid_us(1_000_000)
            secs = time.perf_counter() - t
        print(_line("national_grid('US', 1M)", {
            "cells": len(grid), "cell_km": grid.attrs["cell_km"],
            "population": grid.attrs["total_population"], "seconds": secs,
            "peak_mib": mem.peak_mib, "start_mib": mem.start_mib,
        }), flush=True)
        if "bare" in todo:
            for metric in ("haversine", "chord"):
                rec = bare_neighbour_query(grid, cands, 592.0, metric=metric)
                print(_line(f"bare query ({metric}) grid x GeoNames>=15k @592 km", rec),
                      flush=True)
        del grid
    r = args.radius_km
    if "lscp" in todo:
        for n, m in ((2_000, 300), (10_000, 1_000)):
            d, s = instances.synthetic(n, m, 0)
            rec = spopt_lscp(d, s, r, args.time_limit, solver=args.solver, max_gib=args.max_gib)
            print(_line(f"spopt LSCP {n:,} x {m:,} R={r:g} km", rec), flush=True)
            a = radius_csr(d, s, r)
            rec = textbook_highs(a, 1, args.time_limit)
            print(_line(f"textbook HiGHS 1-cover {n:,} x {m:,} R={r:g} km", rec), flush=True)
    if "pmedian" in todo:
        for n, m in ((500, 100), (2_000, 300)):
            d, s = instances.synthetic(n, m, 0)
            rec = spopt_pmedian(
                d, s, 20, args.time_limit, solver=args.solver, max_gib=args.max_gib
            )
            print(_line(f"spopt PMedian {n:,} x {m:,} p=20", rec), flush=True)
    if "textbook" in todo:
        d, s = instances.synthetic(10_000, 1_000, 0)
        a = radius_csr(d, s, r)
        rec = textbook_highs(a, 2, args.time_limit)
        print(_line(f"textbook HiGHS 2-cover 10,000 x 1,000 R={r:g} km", rec), flush=True)
        from coverage.solvers.cover import min_cover

        t = time.perf_counter()
        res = min_cover(a, requirement=2, time_limit_s=args.time_limit)
        print(_line("coverage.solvers.cover.min_cover (same 2-cover)", {
            "objective": res.objective, "lower_bound": res.lower_bound, "status": res.status,
            "seconds": time.perf_counter() - t,
        }), flush=True)


if __name__ == "__main__":
    main()
