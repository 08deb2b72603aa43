"""Exact p-center (minimax), with or without N-k: a search over the distinct costs.

:func:`p_center` opens exactly ``p`` facilities minimising the largest cost from a client to
its nearest open facility (with ``failures=k``: to its ``(k+1)``-th nearest, so that the
radius still holds after any ``k`` facility failures). The optimum is one of the distinct
costs; a radius ``R`` is feasible exactly when the set multicover of the pattern
``cost <= R`` needs at most ``p`` facilities, which :func:`coverage.solvers.cover.min_cover`
decides with a proof, so a binary search over the sorted distinct costs is exact.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..errors import NoFeasiblePlanError
from .cover import min_cover
from .domain_rows import domain_rows
from .matrix_args import cost_entries, facility_count, failure_count, required_mask

logger = logging.getLogger(__name__)

__all__ = ["CenterResult", "p_center"]


@dataclass(frozen=True)
class CenterResult:
    """Result of :func:`p_center`.

    Attributes
    ----------
    sites : numpy.ndarray
        Open facility indices, sorted (exactly ``p`` of them).
    objective : float
        The radius: the largest cost from a client to its ``(failures+1)``-th nearest open
        facility (its farthest one when it reaches fewer facilities than that).
    lower_bound : float
        Proven lower bound on the optimal radius: the smallest distinct cost above every
        radius proven infeasible (``objective`` when optimal).
    status : str
        ``"optimal"`` or ``"time_limit"`` (a cover solve ran out of time or the time limit
        stopped the search: the best plan found and the proven bound).
    solve_time_s : float
        Wall time, s.
    cover_solves : int
        Feasibility tests (``min_cover`` calls) run.
    """

    sites: npt.NDArray[np.int64]
    objective: float
    lower_bound: float
    status: str
    solve_time_s: float
    cover_solves: int = 0

    @property
    def runtime_s(self) -> float:
        """Wall time, s (``solve_time_s``)."""
        return self.solve_time_s


def _first_of_domain(row, fac, codes, n_codes: int) -> npt.NDArray[np.int64]:
    """Positions of the entries (sorted by client then cost) that are each client's
    nearest of their failure domain, in order."""
    key = row.astype(np.int64) * n_codes + codes[fac]
    _, first = np.unique(key, return_index=True)
    return np.sort(first).astype(np.int64)


def _kth_open(indptr, row, fac, d, need, is_open, codes=None, n_codes: int = 1) -> float:
    """Largest over the clients of the cost to its ``need_i``-th nearest open facility
    (entries sorted by client then cost); +inf when some client has fewer open. With
    ``codes`` (each facility's failure domain): to the nearest open facility of its
    ``need_i``-th nearest domain (a domain at the cost of its nearest open facility)."""
    n = len(need)
    if n == 0:
        return 0.0
    idx = np.flatnonzero(is_open[fac])
    if codes is not None:
        idx = idx[_first_of_domain(row[idx], fac[idx], codes, n_codes)]
    counts = np.bincount(row[idx], minlength=n)
    if np.any(counts < need):
        return float("inf")
    start = np.cumsum(counts) - counts
    return float(d[idx[start + need - 1]].max())


def p_center(
    cost: npt.ArrayLike | sp.sparray | sp.spmatrix,
    p: int,
    *,
    failures: int = 0,
    time_limit_s: float = 60.0,
    required: npt.ArrayLike | None = None,
    domains: npt.ArrayLike | None = None,
) -> CenterResult:
    """p-center (minimise the largest client cost), exact, optionally N-k.

    Open exactly ``p`` facilities minimising ``max_i`` of client ``i``'s cost to its
    ``r_i``-th nearest open facility, ``r_i = min(failures + 1, |N_i|)`` (``N_i``: its
    reachable facilities). ``failures=0`` is the classic p-center; with ``failures=1`` every
    client keeps a facility within the radius when any one open facility fails (a client
    reaching a single facility needs it). Clients with no reachable facility are ignored.

    Parameters
    ----------
    cost : array_like or scipy.sparse matrix/array, shape (n_clients, n_facilities)
        Costs (distances, latencies). Dense: ``+inf`` marks an unreachable pair. Sparse:
        missing entries are unreachable, stored entries (explicit zeros included) reachable.
    p : int
        Number of facilities to open, ``1 <= p <= n_facilities``.
    failures : int, default 0
        Facility failures the radius must survive.
    time_limit_s : float, default 60
        Wall-time budget, s, shared by the feasibility tests.
    required : array_like, optional
        Facilities that must be open: a boolean mask over the facilities or integer indices.
    domains : array_like of int, optional
        Failure domain code of every facility (shared-risk groups that fail together):
        with ``failures >= 1`` a client's cost is then also that of the nearest open
        facility of its ``min(failures + 1, |D_i|)``-th nearest *domain* (``D_i``: the
        domains of its reachable facilities; a domain at the cost of its nearest open
        facility), when larger, so that the radius holds after any ``failures`` whole
        domains fail as well as any ``failures`` single facilities; each feasibility test
        adds the rows of :func:`coverage.solvers.domain_rows.domain_rows` on its pattern.

    Returns
    -------
    CenterResult
        ``sites``, ``objective`` (the radius), ``lower_bound``, ``status``,
        ``solve_time_s`` / ``runtime_s``, ``cover_solves``.

    Raises
    ------
    ValueError
        Bad shapes, costs, ``p`` or ``failures``.
    NoFeasiblePlanError
        More required facilities than ``p``, or ``p`` facilities cannot give every client
        its ``r_i`` facilities at any radius (or no such set was found in time).

    Notes
    -----
    Every client's ``r_i``-th smallest cost is a lower bound on the radius, so the search
    runs over the sorted distinct costs ``v`` from the largest of those up. Radius ``v`` is
    feasible iff the set multicover "at least ``r_i`` chosen among the facilities with
    ``cost_ij <= v``" (required facilities fixed open) has a solution with at most ``p``
    facilities; :func:`~coverage.solvers.cover.min_cover` returns a plan (feasible when it
    has at most ``p`` sites) and a proven lower bound (infeasible when above ``p``). It is
    asked the decision question only (``max_objective=p``: HiGHS searches below ``p``, which
    proves "more than ``p``" faster than the optimum; ``known_lower_bound=p``: it stops at
    the first plan within ``p``).
    Feasibility is monotone in ``v``, so binary search needs ``log2`` of the number of
    distinct costs tests; after each feasible test the upper end drops to the plan's actual
    radius. A test that ends undecided (time limit) moves the search up without being
    counted as proven: ``lower_bound`` is the distinct cost just above the largest radius
    *proven* infeasible, and the status is ``"optimal"`` only when it meets the plan's
    radius. Plans with fewer than ``p`` facilities are padded by index to exactly ``p``
    (an extra facility never raises the radius).

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[1.0, 5.0], [4.0, 2.0], [3.0, np.inf]])
    >>> res = p_center(cost, 1)
    >>> res.sites.tolist(), res.objective, res.status
    ([0], 4.0, 'optimal')
    """
    t0 = time.perf_counter()
    deadline = t0 + float(time_limit_s)
    n0, m, r, j, d = cost_entries(cost)
    p = facility_count(p, m)
    failures = failure_count(failures)
    fixed = required_mask(required, m)
    if fixed.sum() > p:
        raise NoFeasiblePlanError(f"{int(fixed.sum())} required facilities exceed p={p}")
    # clients with a reachable facility, renumbered; entries sorted by client then cost
    has = np.bincount(r, minlength=n0) > 0
    remap = np.cumsum(has) - 1
    r = remap[r]
    n = int(has.sum())
    order = np.lexsort((j, d, r))
    r, j, d = r[order], j[order], d[order]
    sizes = np.bincount(r, minlength=n)
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    need = np.minimum(int(failures) + 1, sizes).astype(np.int64)
    floor = float(d[indptr[:-1] + need - 1].max()) if n else 0.0
    codes, n_codes, need_d = None, 1, need
    if domains is not None and int(failures) >= 1:
        codes = np.asarray(domains, dtype=np.int64)
        if codes.shape != (m,) or (m and codes.min() < 0):
            raise ValueError(f"domains must hold a code >= 0 for each of the {m} facilities")
        n_codes = int(codes.max()) + 1 if m else 1
        firsts = _first_of_domain(r, j, codes, n_codes)  # each client's nearest per domain
        sizes_d = np.bincount(r[firsts], minlength=n)
        need_d = np.minimum(int(failures) + 1, sizes_d).astype(np.int64)
        ptr_d = np.concatenate([[0], np.cumsum(sizes_d)]).astype(np.int64)
        # each client's need_i-th nearest domain: no radius below its cost either
        if n:
            floor = max(floor, float(d[firsts[ptr_d[:-1] + need_d - 1]].max()))
    solves = 0

    def radius_of(is_open) -> float:
        # with domains, the larger of the radius by sites (a site failing alone) and by
        # domains (whole domains failing): the plain rows keep the first, the domains'
        # rows the second
        by_sites = _kth_open(indptr, r, j, d, need, is_open)
        if codes is None:
            return by_sites
        return max(by_sites, _kth_open(indptr, r, j, d, need_d, is_open, codes, n_codes))

    def result(is_open, lower, status) -> CenterResult:
        missing = p - int(is_open.sum())
        if missing > 0:
            is_open = is_open.copy()
            is_open[np.flatnonzero(~is_open)[:missing]] = True
        radius = radius_of(is_open)
        lower = radius if status == "optimal" else min(float(lower), radius)
        elapsed = time.perf_counter() - t0
        logger.info("p-center: p=%d, failures=%d, radius %.6g, bound %.6g, status %s, "
                    "%d cover solves, %.2f s", p, failures, radius, lower, status, solves,
                    elapsed)
        return CenterResult(np.flatnonzero(is_open).astype(np.int64), radius, float(lower),
                            status, elapsed, solves)

    if n == 0:
        return result(fixed, 0.0, "optimal")
    values = np.unique(d[d >= floor])  # (floor: each client's need_i-th smallest cost)

    def test(k: int):
        """``(True, open mask)`` feasible, ``(False, None)`` proven infeasible, ``(None,
        None)`` undecided at radius ``values[k]``."""
        nonlocal solves
        keep = d <= values[k]
        counts = np.bincount(r[keep], minlength=n)
        ptr = np.concatenate([[0], np.cumsum(counts)])
        pattern = sp.csr_array((np.ones(int(keep.sum()), dtype=np.int8), j[keep], ptr),
                               shape=(n, m))
        req = need
        if codes is not None:
            # the rows that make each client's chosen sites within the radius span
            # need_i domains (with the plain rows: domain_rows' proof); every client
            # has need_i domains within it (values start at the floor)
            extra = domain_rows(pattern, codes, int(failures))
            if extra.matrix.shape[0]:
                pattern = sp.csr_array(sp.vstack([pattern, extra.matrix.astype(np.int8)],
                                                 format="csr"))
                req = np.concatenate([need, extra.requirement]).astype(np.int64)
        res = min_cover(pattern, req, required=fixed, known_lower_bound=float(p),
                        max_objective=float(p),
                        time_limit_s=max(deadline - time.perf_counter(), 0.1))
        solves += 1
        if len(res.sites) <= p:
            is_open = np.zeros(m, dtype=bool)
            is_open[res.sites] = True
            return True, is_open
        if res.lower_bound > p:
            return False, None
        return None, None

    ok, best = test(len(values) - 1)
    if ok is None:
        raise NoFeasiblePlanError(
            f"no set of p={p} facilities giving every client its {failures + 1} reachable "
            "facilities (all of them when it reaches fewer) was found in time")
    if not ok:
        raise NoFeasiblePlanError(
            f"p={p} facilities cannot give every client its {failures + 1} reachable "
            "facilities (all of them when it reaches fewer) at any radius")
    lo, proven = 0, 0  # values[:proven] are proven infeasible (all below floor are too)
    hi = int(np.searchsorted(values, radius_of(best)))
    while lo < hi:
        if time.perf_counter() > deadline:
            break
        mid = (lo + hi) // 2
        ok, is_open = test(mid)
        if ok:
            best = is_open
            hi = min(mid, int(np.searchsorted(values, radius_of(best))))
        else:
            lo = mid + 1
            if ok is False:
                proven = mid + 1
    status = "optimal" if proven >= hi else "time_limit"
    return result(best, values[min(proven, hi)], status)
