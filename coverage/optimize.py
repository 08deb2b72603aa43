"""Facility-location optimisers on a sparse reach matrix (DESIGN section 3).

* :func:`min_cover` — minimum number (or cost) of sites such that each row ``i`` has at least
  ``requirement[i]`` chosen columns among its stored entries (set multicover), exact MILP with
  HiGHS after safe reductions, greedy fallback.
* :func:`k_median` — at a fixed site count and under the same coverage constraints, minimise
  the weighted latency of each row's nearest chosen column (exact MILP for moderate sizes,
  vectorised swap local search otherwise or when the MILP hits its time limit).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from .errors import NoFeasiblePlanError, SolverError

logger = logging.getLogger(__name__)

__all__ = ["CoverResult", "MedianResult", "min_cover", "k_median", "greedy_cover"]

_EPS = 1e-9


@dataclass(frozen=True)
class CoverResult:
    """Result of :func:`min_cover`.

    Attributes
    ----------
    sites : numpy.ndarray
        Chosen column indices, sorted.
    objective : float
        Number (or total cost) of chosen sites.
    lower_bound : float
        Proven lower bound on the optimum (rounded up for integer costs).
    status : str
        ``"optimal"``, ``"time_limit"`` (best MILP solution, not proven) or ``"heuristic"``
        (greedy, the MILP found nothing in time).
    mip_gap : float
        ``(objective - lower_bound) / objective`` (0 when optimal).
    solve_time_s : float
        Wall time, s.
    reductions : dict
        What the safe reductions removed.
    """

    sites: npt.NDArray[np.int64]
    objective: float
    lower_bound: float
    status: str
    mip_gap: float
    solve_time_s: float
    reductions: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MedianResult:
    """Result of :func:`k_median`.

    Attributes
    ----------
    sites : numpy.ndarray
        Chosen column indices, sorted.
    objective : float
        Weighted sum of each row's nearest chosen latency.
    lower_bound : float
        Proven lower bound (``nan`` when only local search ran).
    status : str
        ``"optimal"``, ``"time_limit"`` or ``"local_search"``.
    solve_time_s : float
        Wall time, s.
    """

    sites: npt.NDArray[np.int64]
    objective: float
    lower_bound: float
    status: str
    solve_time_s: float


def _as_csr(reach: sp.sparray | sp.spmatrix) -> sp.csr_array:
    a = sp.csr_array(reach, copy=True)  # never sort the caller's index arrays in place
    a.sum_duplicates()
    return sp.csr_array((np.ones(a.nnz, dtype=np.int8), a.indices, a.indptr), shape=a.shape)


def _requirement_array(requirement: int | npt.ArrayLike, n_rows: int) -> npt.NDArray[np.int64]:
    r = np.asarray(requirement)
    if r.ndim == 0:
        r = np.full(n_rows, int(r))
    if r.shape != (n_rows,) or (r < 0).any():
        raise ValueError("requirement must be a non-negative int or one int per row")
    return r.astype(np.int64)


def _merge_identical_rows(
    a: sp.csr_array, r: npt.NDArray[np.int64], rng: np.random.Generator
) -> tuple[sp.csr_array, npt.NDArray[np.int64]]:
    """Merge rows with the same column set, keeping the largest requirement (exactly)."""
    if a.shape[0] == 0:
        return a, r
    w = rng.random((a.shape[1], 2))
    key = np.column_stack([a @ w, np.diff(a.indptr)])
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    # verify the hash grouping is exact: every row must equal its group's representative
    rep = first[inverse]
    if (a - a[rep]).count_nonzero():
        logger.debug("row hash collision; skipping identical-row merge")
        return a, r
    r_max = np.zeros(len(first), dtype=np.int64)
    np.maximum.at(r_max, inverse, r)
    return a[first], r_max


def greedy_cover(
    reach: sp.sparray | sp.spmatrix,
    requirement: int | npt.ArrayLike = 1,
    cost: npt.ArrayLike | None = None,
    required: npt.ArrayLike | None = None,
) -> npt.NDArray[np.int64]:
    """Greedy set multicover followed by removal of redundant columns.

    Each step opens the column with the largest (unmet requirement covered) / cost; rows whose
    requirement exceeds their number of columns are capped at that number.

    Returns
    -------
    numpy.ndarray
        Chosen column indices, sorted.
    """
    a = _as_csr(reach)
    n, m = a.shape
    r = np.minimum(_requirement_array(requirement, n), np.diff(a.indptr))
    c = np.ones(m) if cost is None else np.asarray(cost, dtype=np.float64)
    chosen = np.zeros(m, dtype=bool)
    if required is not None:
        chosen[np.asarray(required, dtype=bool)] = True
    at = sp.csr_array(a.T)
    have = a @ chosen.astype(np.int64)
    while True:
        deficit = np.maximum(r - have, 0)
        if not deficit.any():
            break
        score = (at @ (deficit > 0).astype(np.float64)) / c
        score[chosen] = -1.0
        j = int(np.argmax(score))
        if score[j] <= 0:
            break
        chosen[j] = True
        have += a[:, [j]].toarray().ravel().astype(np.int64)
    # drop redundant columns, most expensive first (ties: highest index)
    fixed = np.zeros(m, dtype=bool) if required is None else np.asarray(required, dtype=bool)
    for j in sorted(np.flatnonzero(chosen & ~fixed), key=lambda j: (-c[j], -j)):
        col = a[:, [j]].toarray().ravel().astype(np.int64)
        if np.all(have - col >= r):
            chosen[j] = False
            have -= col
    return np.flatnonzero(chosen)


def min_cover(
    reach: sp.sparray | sp.spmatrix,
    requirement: int | npt.ArrayLike = 1,
    cost: npt.ArrayLike | None = None,
    required: npt.ArrayLike | None = None,
    time_limit_s: float = 60.0,
    random_state: int = 0,
) -> CoverResult:
    """Minimum-cost set multicover, exact with HiGHS (``scipy.optimize.milp``).

    Every row ``i`` must have at least ``min(requirement[i], |N_i|)`` chosen columns among its
    stored entries ``N_i``; rows with no entry are ignored (they are uncoverable, not
    infeasible).

    Parameters
    ----------
    reach : scipy.sparse matrix or array, shape (n_rows, n_sites)
        Stored entries mark the (row, site) pairs that count as covered (values are ignored).
    requirement : int or array_like of int, default 1
        Required number of chosen sites per row (2 for N-1 geo-redundancy).
    cost : array_like of float, optional
        Cost per site; default 1 (minimise the number of sites).
    required : array_like of bool, optional
        Sites that must be open (existing sites).
    time_limit_s : float, default 60
        HiGHS time limit, s. The best plan found is returned when it hits.
    random_state : int, default 0
        Seed of the row hashing used to merge identical rows.

    Returns
    -------
    CoverResult

    Notes
    -----
    Safe reductions before the solve (each preserves the set of feasible solutions):
    rows are capped at ``|N_i|``; required sites are fixed open; a row whose requirement
    equals its number of sites forces all of them open (repeated to a fix point); rows already
    satisfied by forced sites are dropped; identical rows merge keeping the largest
    requirement (verified exactly, not only by hash).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> a = sp.csr_array([[1, 1, 0], [0, 1, 1], [1, 0, 1]])
    >>> res = min_cover(a, requirement=2)
    >>> res.objective, res.status
    (3.0, 'optimal')
    """
    t0 = time.perf_counter()
    a = _as_csr(reach)
    n, m = a.shape
    r = np.minimum(_requirement_array(requirement, n), np.diff(a.indptr))
    c = np.ones(m) if cost is None else np.asarray(cost, dtype=np.float64)
    if c.shape != (m,) or not np.all(np.isfinite(c)) or (c <= 0).any():
        raise ValueError("cost must be one finite positive value per site")
    fixed = np.zeros(m, dtype=bool)
    if required is not None:
        fixed |= np.asarray(required, dtype=bool)
    n_required = int(fixed.sum())
    # forced columns: rows whose requirement equals their number of (free) columns
    while True:
        have = a @ fixed.astype(np.int64)
        free_count = np.diff(a.indptr) - have
        need = r - have
        tight = (need > 0) & (need >= free_count)
        if not tight.any():
            break
        newly = (sp.csr_array(a[tight]).T @ np.ones(int(tight.sum()))) > 0
        newly &= ~fixed
        if not newly.any():
            break
        fixed |= newly
    have = a @ fixed.astype(np.int64)
    need = np.maximum(r - have, 0)
    active = need > 0
    free_cols = np.flatnonzero(~fixed)
    sub = sp.csr_array(a[active][:, free_cols])
    sub_need = need[active]
    n_active = int(active.sum())
    sub, sub_need = _merge_identical_rows(sub, sub_need, np.random.default_rng(random_state))
    reductions = {
        "rows": n,
        "rows_uncoverable": int((np.diff(a.indptr) == 0).sum()),
        "sites_required": n_required,
        "sites_forced": int(fixed.sum()) - n_required,
        "rows_satisfied_by_fixed": int(n - n_active - (np.diff(a.indptr) == 0).sum()),
        "rows_merged_identical": n_active - sub.shape[0],
        "rows_in_model": sub.shape[0],
        "sites_in_model": len(free_cols),
    }
    logger.info("cover reductions: %s", reductions)
    fixed_cost = float(c[fixed].sum())
    if sub.shape[0] == 0:
        sites = np.flatnonzero(fixed)
        return CoverResult(sites, fixed_cost, fixed_cost, "optimal", 0.0,
                           time.perf_counter() - t0, reductions)
    # drop columns that cover no active row
    used = np.diff(sp.csc_array(sub).indptr) > 0
    cols = free_cols[used]
    sub = sp.csr_array(sub[:, np.flatnonzero(used)])
    cc = c[cols]
    res = milp(
        cc,
        constraints=LinearConstraint(sub, lb=sub_need, ub=np.inf),
        integrality=np.ones(len(cols)),
        bounds=Bounds(0, 1),
        options={"time_limit": float(time_limit_s), "mip_rel_gap": 1e-9, "disp": False},
    )
    integer_cost = np.allclose(c, np.round(c))
    if res.status == 2:
        raise NoFeasiblePlanError(
            "the coverage model is infeasible (a bug: requirements are capped at |N_i|)"
        )
    if res.x is not None:
        chosen = cols[res.x > 0.5]
        status = "optimal" if res.status == 0 else "time_limit"
        bound = getattr(res, "mip_dual_bound", None)
    elif res.status == 1:
        chosen = np.setdiff1d(greedy_cover(a, r, c, fixed), np.flatnonzero(fixed))
        status = "heuristic"
        bound = getattr(res, "mip_dual_bound", None)
        logger.warning("MILP found no solution within %.0f s; using the greedy plan", time_limit_s)
    else:
        raise SolverError(f"HiGHS failed: status {res.status}: {res.message}")
    sites = np.union1d(np.flatnonzero(fixed), chosen).astype(np.int64)
    objective = float(c[sites].sum())
    if status == "optimal":
        lower = objective
    else:
        lower = fixed_cost + (float(bound) if bound is not None and np.isfinite(bound) else 0.0)
        if integer_cost:
            lower = float(np.ceil(lower - 1e-6))
        lower = min(lower, objective)
    gap = 0.0 if objective == 0 else (objective - lower) / objective
    logger.info("cover: %s sites, bound %s, status %s", objective, lower, status)
    return CoverResult(sites, objective, lower, status, gap, time.perf_counter() - t0, reductions)


# --------------------------------------------------------------------------- k-median


def _first_two_open(
    indptr: npt.NDArray[np.int64], indices: npt.NDArray[np.int32], is_open: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Entry positions of the first and second open entries per row (-1 when missing).

    Rows are assumed sorted by latency, so these are the nearest and second nearest open sites.
    """
    n = len(indptr) - 1
    open_e = is_open[indices]
    cs = np.cumsum(open_e)
    row = np.repeat(np.arange(n), np.diff(indptr))
    before = np.concatenate([[0], cs])[indptr[:-1]]
    rank = cs - before[row]
    first = np.full(n, -1, dtype=np.int64)
    second = np.full(n, -1, dtype=np.int64)
    e = np.flatnonzero(open_e & (rank == 1))
    first[row[e]] = e
    e = np.flatnonzero(open_e & (rank == 2))
    second[row[e]] = e
    return first, second


def _greedy_add(indptr, indices, lat, w, m, start, p):
    """Add sites one by one, each time the one that most reduces the weighted latency."""
    is_open = np.zeros(m, dtype=bool)
    is_open[start] = True
    n = len(indptr) - 1
    row = np.repeat(np.arange(n), np.diff(indptr))
    big = float(lat.max() if lat.size else 0.0) * 10 + 1e6
    while is_open.sum() < min(p, m):
        first, _ = _first_two_open(indptr, indices, is_open)
        cur = np.where(first >= 0, lat[np.maximum(first, 0)], big)
        gain = np.bincount(indices, weights=w[row] * np.maximum(0.0, cur[row] - lat), minlength=m)
        gain[is_open] = -1.0
        is_open[int(np.argmax(gain))] = True
    return np.flatnonzero(is_open)


def _median_objective(lat, w, first):
    ok = first >= 0
    return float(np.sum(w[ok] * lat[first[ok]]))


def _swap_search(indptr, indices, lat, w, r, m, start, fixed, deadline):
    """Best-improvement swap local search under the coverage constraints (vectorised)."""
    n = len(indptr) - 1
    row = np.repeat(np.arange(n), np.diff(indptr))
    is_open = np.zeros(m, dtype=bool)
    is_open[start] = True
    big = float(lat.max() if lat.size else 0.0) * 10 + 1e6
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        for j in np.flatnonzero(is_open & ~fixed):
            if time.perf_counter() >= deadline:
                break
            first, second = _first_two_open(indptr, indices, is_open)
            d1 = np.where(first >= 0, lat[np.maximum(first, 0)], 0.0)
            d2 = np.where(second >= 0, lat[np.maximum(second, 0)], big)
            s1 = np.where(first >= 0, indices[np.maximum(first, 0)], -1)
            cur = np.where(s1 == j, d2, d1)
            loss = float(np.sum(w * (cur - d1)))
            gain = np.bincount(
                indices, weights=w[row] * np.maximum(0.0, cur[row] - lat), minlength=m
            )
            count = np.bincount(row, weights=is_open[indices], minlength=n)
            in_j = np.zeros(n, dtype=bool)
            in_j[row[indices == j]] = True
            deficit = (count - in_j) < r
            n_def = int(deficit.sum())
            ok = ~is_open
            if n_def:
                covers = np.bincount(indices[deficit[row]], minlength=m)
                ok &= covers == n_def
            delta = np.where(ok, gain - loss, -np.inf)
            k = int(np.argmax(delta))
            if delta[k] > 1e-9 * max(1.0, abs(loss)):
                is_open[j] = False
                is_open[k] = True
                improved = True
    return np.flatnonzero(is_open)


def k_median(
    latency: sp.sparray | sp.spmatrix,
    p: int,
    weights: npt.ArrayLike | None = None,
    requirement: int | npt.ArrayLike = 0,
    required: npt.ArrayLike | None = None,
    start: npt.ArrayLike | None = None,
    time_limit_s: float = 60.0,
    max_pairs_exact: int = 150_000,
) -> MedianResult:
    """p-median under coverage constraints on a sparse latency matrix.

    Minimise ``sum_i w_i * min_{j open, (i, j) stored} latency_ij`` over exactly ``p`` open
    sites, subject to every row having at least ``min(requirement_i, |N_i|)`` open sites
    among its stored entries. Missing entries are unreachable.

    Parameters
    ----------
    latency : scipy.sparse matrix or array, shape (n_rows, n_sites)
        Latency (or any cost) of each reachable pair; explicit zeros count as reachable.
    p : int
        Number of sites to open.
    weights : array_like, optional
        Row weights (population); default 1.
    requirement : int or array_like, default 0
        Coverage requirement per row (0 = none).
    required : array_like of bool, optional
        Sites that must be open.
    start : array_like of int, optional
        A feasible starting set of ``p`` sites for the local search (e.g. from
        :func:`min_cover`); greedy multicover otherwise.
    time_limit_s : float, default 60
        Time limit for the local search plus the MILP, s.
    max_pairs_exact : int, default 150_000
        Solve the exact MILP (HiGHS) when the number of stored pairs is at most this.

    Returns
    -------
    MedianResult
    """
    t0 = time.perf_counter()
    deadline = t0 + float(time_limit_s)
    lat_csr = sp.csr_array(latency, copy=True)
    lat_csr.sum_duplicates()
    n, m = lat_csr.shape
    # sort each row by latency so that the first open entry is the nearest
    row = np.repeat(np.arange(n), np.diff(lat_csr.indptr))
    order = np.lexsort((lat_csr.data, row))
    indptr = lat_csr.indptr.astype(np.int64)
    indices = lat_csr.indices[order].astype(np.int64)
    lat = lat_csr.data[order].astype(np.float64)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    r = np.minimum(_requirement_array(requirement, n), np.diff(indptr))
    fixed = np.zeros(m, dtype=bool) if required is None else np.asarray(required, dtype=bool)
    if start is None:
        pattern = sp.csr_array((np.ones(len(indices)), indices.copy(), indptr.copy()),
                               shape=(n, m))
        start = min_cover(pattern, r, required=fixed, time_limit_s=time_limit_s / 2).sites
    start = np.union1d(np.asarray(start, dtype=np.int64), np.flatnonzero(fixed))
    if len(start) > p:
        raise NoFeasiblePlanError(
            f"p={p} sites cannot meet the coverage requirement: a feasible set needs {len(start)}"
        )
    start = _greedy_add(indptr, indices, lat, w, m, start, p)
    sites = _swap_search(indptr, indices, lat, w, r, m, start, fixed, deadline)
    first, _ = _first_two_open(indptr, indices, np.isin(np.arange(m), sites))
    objective = _median_objective(lat, w, first)
    status, lower = "local_search", float("nan")
    remaining = deadline - time.perf_counter()
    if len(indices) <= max_pairs_exact and remaining > 0.5:
        exact = _median_milp(indptr, indices, lat, w, r, m, p, fixed, remaining)
        if exact is not None:
            x_sites, x_obj, x_status, x_bound = exact
            if x_obj <= objective + 1e-9 * max(1.0, abs(objective)):
                sites, objective = x_sites, x_obj
            status = x_status if x_status == "optimal" else "time_limit"
            lower = x_bound
    logger.info("k-median: %d sites, objective %.6g, status %s", p, objective, status)
    return MedianResult(np.sort(sites), objective, lower, status, time.perf_counter() - t0)


def _median_milp(indptr, indices, lat, w, r, m, p, fixed, time_limit_s):
    """Exact p-median MILP with coverage constraints: variables y (m) then x (one per pair)."""
    n = len(indptr) - 1
    nnz = len(indices)
    row = np.repeat(np.arange(n), np.diff(indptr))
    has = np.diff(indptr) > 0
    c = np.concatenate([np.zeros(m), w[row] * lat])
    # assignment: sum_j x_ij = 1 for rows with any entry
    rows_with = np.flatnonzero(has)
    remap = np.full(n, -1)
    remap[rows_with] = np.arange(len(rows_with))
    a_assign = sp.csr_array(
        (np.ones(nnz), (remap[row], m + np.arange(nnz))), shape=(len(rows_with), m + nnz)
    )
    # linking: x_ij - y_j <= 0
    e = np.arange(nnz)
    a_link = sp.csr_array(
        (np.concatenate([np.ones(nnz), -np.ones(nnz)]),
         (np.concatenate([e, e]), np.concatenate([m + e, indices]))),
        shape=(nnz, m + nnz),
    )
    # coverage: sum_{j in N_i} y_j >= r_i
    cov_rows = np.flatnonzero(r > 0)
    sel = np.isin(row, cov_rows)
    remap_c = np.full(n, -1)
    remap_c[cov_rows] = np.arange(len(cov_rows))
    a_cov = sp.csr_array(
        (np.ones(int(sel.sum())), (remap_c[row[sel]], indices[sel])),
        shape=(len(cov_rows), m + nnz),
    )
    a_p = sp.csr_array((np.ones(m), (np.zeros(m, dtype=int), np.arange(m))), shape=(1, m + nnz))
    constraints = [
        LinearConstraint(a_assign, 1, 1),
        LinearConstraint(a_link, -np.inf, 0),
        LinearConstraint(a_cov, r[cov_rows], np.inf),
        LinearConstraint(a_p, p, p),
    ]
    lb = np.zeros(m + nnz)
    lb[:m][fixed] = 1
    integrality = np.concatenate([np.ones(m), np.zeros(nnz)])
    res = milp(
        c,
        constraints=constraints,
        integrality=integrality,
        bounds=Bounds(lb, 1),
        options={"time_limit": float(time_limit_s), "mip_rel_gap": 1e-7, "disp": False},
    )
    if res.x is None:
        return None
    sites = np.flatnonzero(res.x[:m] > 0.5)
    first, _ = _first_two_open(indptr, indices, np.isin(np.arange(m), sites))
    obj = _median_objective(lat, w, first)
    bound = getattr(res, "mip_dual_bound", float("nan"))
    status = "optimal" if res.status == 0 else "time_limit"
    return sites, obj, status, float(bound if res.status != 0 else obj)
