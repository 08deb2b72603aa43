"""k-median placement on sparse latency rows (DESIGN section 3).

:func:`k_median` — at a fixed site count and under the coverage constraints of the set
multicover (:mod:`coverage.solvers.cover`), minimise the weighted latency of each row's
nearest chosen column: exact MILP (HiGHS) for moderate sizes, vectorised swap local search
otherwise or when the MILP hits its time limit; a Lagrangian lower bound
(:func:`coverage_lagrangian_bound`) states the local search's gap when the MILP gives none.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..errors import NoFeasiblePlanError
from ..wording import counted
from .cover import min_cover, requirement_array, row_ranges
from .highs import solve_milp
from .matrix_args import cost_entries, facility_count, reach_pattern, required_mask

if TYPE_CHECKING:
    from .capacitated import ScenarioFlow

logger = logging.getLogger(__name__)

LAGRANGIAN_SHARE = 0.1
"""Share of :func:`k_median`'s time limit kept for the Lagrangian bound."""

MAX_PAIRS_EXACT = 150_000
"""Most stored pairs :func:`k_median` and :func:`capacitated_median` give their exact MILP
by default (above, the local search, or for a capacitated plan the count's sites)."""

LAGRANGIAN_MAX_PAIRS = 5_000_000
"""Largest reach matrix (stored pairs) :func:`k_median` computes its Lagrangian bound for:
above it the steps cost tens of ms each and the arrays hundreds of MB (the Census
instance, 13.9M pairs: 22.5 % in its 3 s share, +733 MiB peak), for a bound that says
little. Germany's embedded data at 40 ms (2.18M pairs): 0.41 % in its 6 s."""

MILP_COST_FLOOR = 1e3
"""The k-median MILP's largest cost is scaled up to at least this (HiGHS's absolute gap of
1e-6, which the MILP keeps, must be far below the objective)."""

BENDERS_SHARE = 0.5
"""Share of :func:`k_median`'s time limit kept back from the search for the LP bound by
Benders cuts, when the MILP does not fit (:func:`coverage.solvers.median_benders`): at
wide budgets its last master is often the optimal plan, which the search misses by 2-6 %
(Brazil at 50 ms, N-1: 5,749 points x 761 candidates, 1.75M pairs, 13 sites; the search
stopped at its limit 6.4 % above the optimum the LP bound proved in 12 s; hand run)."""

MASTER_RESERVE = 0.05
"""Share of :func:`k_median`'s time limit kept back from the whole-number Benders masters
(:func:`coverage.solvers.median_benders.median_lp_bound`'s ``mip_deadline``) for the
repair and search of their plan, and for HiGHS, which checks its limit between steps:
Germany at 30 ms, N-1, gap 0: a master stopped 3.7 s past it (hand run)."""

GAP_BOUND_S = 5.0
"""Least time :func:`k_median` gives its Lagrangian bound before the MILP when asked to
stop at a gap (within the time limit): the bound decides whether the MILP runs at all.
Germany's 139,000 pairs at 30 ms: 0.40 % in 1 s, 0.29 % in 3 s (its 1,800 steps)."""

LAGRANGIAN_ITERATIONS = (0, 1800)
"""Subgradient iterations of :func:`k_median`'s Lagrangian bound: assignment multipliers
alone (none by default), then with the coverage multipliers."""

__all__ = ["MAX_PAIRS_EXACT", "MedianResult", "CapacitatedMedian", "LatencyFlow",
           "k_median", "capacitated_median", "flow_latency", "least_latency_flow",
           "flow_latency_near_overloaded", "least_latency_flow_near_overloaded",
           "first_two_open", "coverage_lagrangian_bound"]

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
        Proven lower bound: the best of the MILP's, the Lagrangian one and the one passed
        in (``k_median(lower_bound=...)``); ``nan`` when there is none.
    status : str
        ``"optimal"``, ``"within_gap"`` (stopped with a proven gap within the ``gap``
        asked), ``"time_limit"`` or ``"local_search"``.
    solve_time_s : float
        Wall time, s.
    """

    sites: npt.NDArray[np.int64]
    objective: float
    lower_bound: float
    status: str
    solve_time_s: float

    @property
    def runtime_s(self) -> float:
        """Wall time, s (``solve_time_s``: the name every matrix solver's result shares)."""
        return self.solve_time_s


def first_two_open(
    indptr: npt.NDArray[np.int64], indices: npt.NDArray[np.int64],
    is_open: npt.NDArray[np.bool_], row: npt.NDArray[np.int64] | None = None, *,
    rows: npt.NDArray[np.int64] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Entry positions of the first and second open entries per row (-1 when missing).

    Rows are assumed sorted by latency, so these are the nearest and second nearest open sites.
    ``row`` (the row of each entry) may be passed to save recomputing it. With ``rows``
    (row indices), only those rows are scanned (``row`` is then not used) and the result
    has one value per row of ``rows``.
    """
    if rows is not None:
        rows = np.asarray(rows, dtype=np.int64)
        e = row_ranges(indptr[rows], indptr[rows + 1])
        local = np.repeat(np.arange(len(rows)), indptr[rows + 1] - indptr[rows])
        keep = is_open[indices[e]]
        return _first_two(e[keep], local[keep], len(rows))
    n = len(indptr) - 1
    if row is None:
        row = np.repeat(np.arange(n), np.diff(indptr))
    pos = np.flatnonzero(is_open[indices])
    return _first_two(pos, row[pos], n)


def _first_two(pos: npt.NDArray[np.int64], rows: npt.NDArray[np.int64],
               n: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """First and second of the open entry positions ``pos`` (ascending, with their row
    numbers ``rows`` in ``0 .. n - 1``) per row; -1 when missing."""
    first = np.full(n, -1, dtype=np.int64)
    second = np.full(n, -1, dtype=np.int64)
    if len(pos) == 0:
        return first, second
    starts = np.flatnonzero(np.concatenate([[True], rows[1:] != rows[:-1]]))
    first[rows[starts]] = pos[starts]
    nxt = starts + 1
    ok = nxt < len(pos)
    ok[ok] = rows[nxt[ok]] == rows[starts[ok]]
    second[rows[starts[ok]]] = pos[nxt[ok]]
    return first, second


def _lagrangian_bound(
    indptr: npt.NDArray[np.int64], indices: npt.NDArray[np.int64],
    entry_latency: npt.NDArray[np.float64], w: npt.NDArray[np.float64],
    r: npt.NDArray[np.int64], m: int, p: int, fixed: npt.NDArray[np.bool_],
    is_open: npt.NDArray[np.bool_], upper: float, deadline: float,
    iterations: tuple[int, int] = LAGRANGIAN_ITERATIONS, enough: float = np.inf,
    enough_after: float = -np.inf,
) -> float:
    """Lagrangian lower bound of the p-median under coverage constraints (see
    :func:`coverage_lagrangian_bound`); ``is_open`` and ``upper`` are a feasible plan and
    its objective (the subgradient steps aim at it); after ``enough_after``
    (``time.perf_counter()``) it stops once the bound reaches ``enough`` (the gap asked).
    ``-inf`` when nothing is proven."""
    n = len(indptr) - 1
    k_row = np.diff(indptr)
    # the rows assigned: weighted ones with a candidate, as in the MILP (a row of weight 0
    # is a coverage row only: relaxing its assignment too gave bounds above the optimum
    # when it may stay unserved, review 208)
    has = (k_row > 0) & (w > 0)
    row = np.repeat(np.arange(n), k_row)
    c = w[row] * entry_latency
    k = p - int(fixed.sum())
    free = ~fixed
    if k < 0 or k > int(free.sum()) or not np.isfinite(upper):
        return -np.inf
    if n == 0 or not len(indices):  # nothing to serve: every plan costs 0
        return 0.0
    rr = r.astype(np.float64)
    first, second = first_two_open(indptr, indices, is_open, row)
    c1 = np.where(first >= 0, c[np.maximum(first, 0)], 0.0)
    c2 = np.where(second >= 0, c[np.maximum(second, 0)], c1)
    lam = 0.5 * (c1 + c2)  # between each row's nearest and second-nearest open cost
    mu = np.zeros(n)
    best = -np.inf
    best_lam, best_mu = lam, mu
    pattern = sp.csr_array((np.ones(len(indices)), indices, indptr), shape=(n, m))
    by_col = pattern.tocsc()
    window: dict[str, npt.NDArray] = {}

    def mu_per_site(mu):
        """``sum_{i: j in N_i} mu_i`` for every site: over the rows with ``mu_i > 0`` only
        when they hold less than half the entries (on large inputs few rows are short)."""
        pos = np.flatnonzero(mu > 0)
        if 2 * int(k_row[pos].sum()) >= len(indices):
            return mu @ pattern
        e = row_ranges(indptr[pos], indptr[pos + 1])
        return np.bincount(indices[e], weights=np.repeat(mu[pos], k_row[pos]),
                           minlength=m).astype(np.float64)

    def open_per_row(chosen):
        """Open sites in each row's reach, from the open sites' columns only."""
        ch = np.flatnonzero(chosen)
        e = row_ranges(by_col.indptr[ch], by_col.indptr[ch + 1])
        return np.bincount(by_col.indices[e], minlength=n).astype(np.float64)

    def entries(lam):
        """The entries that can have a negative reduced cost ``c_ij - lam_i``: those below a
        cap above ``lam`` (rebuilt when some ``lam_i`` passes its cap)."""
        if not window or np.any(lam > window["cap"]):
            cap = lam + 0.15 * np.abs(lam) + 0.05 * float(np.mean(np.abs(lam))) + 1e-9
            sel = np.flatnonzero(c < cap[row])
            window.update(cap=cap, c=c[sel], row=row[sel], col=indices[sel])
        return window["c"], window["row"], window["col"]

    def solve(lam, mu, with_mu):
        cw, rw, iw = entries(lam)
        rc = cw - lam[rw]
        neg = rc < 0
        rho = np.bincount(iw[neg], weights=rc[neg], minlength=m).astype(np.float64)
        if with_mu:
            rho -= mu_per_site(mu)
        chosen = fixed.copy()
        if k > 0:
            rho_free = np.where(free, rho, np.inf)
            chosen[np.argpartition(rho_free, k - 1)[:k]] = True
        lower = float(lam[has].sum() + mu @ rr + rho[chosen].sum())
        g_lam = 1.0 - np.bincount(rw[neg & chosen[iw]], minlength=n).astype(np.float64)
        g_lam[~has] = 0.0
        g_mu = None
        if with_mu:
            g_mu = rr - open_per_row(chosen)
            g_mu[(mu <= 0) & (g_mu < 0)] = 0.0  # projection on mu >= 0
        return lower, g_lam, g_mu

    # phase 1: the assignment multipliers alone (mu = 0: the plain p-median's LP bound);
    # phase 2: both, from phase 1's best (the coverage rows raise the bound further)
    for with_mu, max_iter, pi, stall_limit, pi_min in ((False, iterations[0], 2.0, 20, 2e-4),
                                                       (True, iterations[1], 0.5, 40, 2e-5)):
        lam, mu = best_lam.copy(), best_mu.copy()
        stall = 0
        for _ in range(max_iter):
            lower, g_lam, g_mu = solve(lam, mu, with_mu)
            if lower > best:
                best, best_lam, best_mu, stall = lower, lam, mu, 0
            else:
                stall += 1
                if stall >= stall_limit:
                    pi, stall = 0.5 * pi, 0
            now = time.perf_counter()
            if (best >= upper or (best >= enough and now >= enough_after) or pi < pi_min
                    or now > deadline):
                break
            norm = float(g_lam @ g_lam) + (float(g_mu @ g_mu) if with_mu else 0.0)
            if norm == 0.0:  # the relaxed solution is feasible: its value is optimal
                break
            step = pi * max(upper - lower, 1e-9 * max(1.0, abs(upper))) / norm
            lam = lam + step * g_lam
            if with_mu:
                mu = np.maximum(0.0, mu + step * g_mu)
        now = time.perf_counter()
        if best >= upper or (best >= enough and now >= enough_after) or now > deadline:
            break
    # float sums of up to millions of terms: a relative margin far above their rounding
    return best - 1e-9 * abs(best) if np.isfinite(best) else best


def coverage_lagrangian_bound(
    latency: sp.sparray | sp.spmatrix,
    p: int,
    sites: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    requirement: int | npt.ArrayLike = 0,
    required: npt.ArrayLike | None = None,
    time_limit_s: float = 10.0,
    iterations: tuple[int, int] = LAGRANGIAN_ITERATIONS,
) -> float:
    """Lower bound on :func:`k_median`'s optimum by Lagrangian relaxation.

    Relaxing each row's assignment ``sum_j x_ij = 1`` with a free multiplier ``lam_i`` and its
    coverage ``sum_{j in N_i} y_j >= r_i`` with ``mu_i >= 0`` leaves a problem that opens the
    required sites and the ``p - |required|`` others with the smallest
    ``rho_j = sum_i min(0, c_ij - lam_i) - sum_{i: j in N_i} mu_i`` (``c_ij`` the weighted
    latency); its value ``sum_i lam_i + sum_i mu_i r_i + sum_{j open} rho_j`` is at most the
    cost of every feasible plan, for any multipliers. Subgradient steps (Polyak, aimed at the
    plan ``sites``) maximise it: ``iterations[0]`` over ``lam`` alone (``mu = 0``: the plain
    p-median's LP bound at best), then ``iterations[1]`` over both; its supremum is the LP
    bound of the MILP in :func:`k_median`.

    Parameters
    ----------
    latency, p, weights, requirement, required
        As :func:`k_median`.
    sites : array_like of int
        A feasible plan of ``p`` sites (e.g. :func:`k_median`'s), the steps' target.
    time_limit_s : float, default 10
        Wall-time cap, s (the iteration counts end it first on moderate inputs).
    iterations : (int, int), default ``LAGRANGIAN_ITERATIONS`` (0, 1800)
        Subgradient iterations of the two phases (a first phase over ``lam`` alone gave
        a weaker bound on five of six national instances for the same count).

    Returns
    -------
    float
        The bound (``-inf`` when ``sites`` is not a plan of ``p`` sites with the required
        ones).
    """
    deadline = time.perf_counter() + float(time_limit_s)
    indptr, indices, entry_latency, _, w, r, fixed = _inputs(latency, weights, requirement,
                                                             required)
    m = len(fixed)
    is_open = np.zeros(m, dtype=bool)
    is_open[np.asarray(sites, dtype=np.int64)] = True
    if int(is_open.sum()) != p or np.any(fixed & ~is_open):
        return -np.inf
    first, _ = first_two_open(indptr, indices, is_open)
    upper = _median_objective(entry_latency, w, first)
    return _lagrangian_bound(indptr, indices, entry_latency, w, r, m, p, fixed, is_open, upper,
                             deadline, iterations)


def _greedy_add(indptr, indices, entry_latency, w, m, start, p):
    """Add sites one by one, each time the one that most reduces the weighted latency."""
    is_open = np.zeros(m, dtype=bool)
    is_open[start] = True
    n = len(indptr) - 1
    row = np.repeat(np.arange(n), np.diff(indptr))
    big = float(entry_latency.max() if entry_latency.size else 0.0) * 10 + 1e6
    if not len(indices):  # nothing reaches anything: any sites cost nothing
        is_open[np.flatnonzero(~is_open)[:max(min(p, m) - int(is_open.sum()), 0)]] = True
    while is_open.sum() < min(p, m):
        first, _ = first_two_open(indptr, indices, is_open)
        gain = _opening_gains(indices, entry_latency, w, row, first, m, big)
        gain[is_open] = -1.0
        is_open[int(np.argmax(gain))] = True
    return np.flatnonzero(is_open)


def _opening_gains(indices, entry_latency, w, row, first, m, big):
    """What opening each site alone would lower the weighted latency by: every row's
    entries nearer than its nearest open site (``first``; none: ``big``), weighted."""
    cur = np.where(first >= 0, entry_latency[np.maximum(first, 0)], big)
    return np.bincount(indices, weights=w[row] * np.maximum(0.0, cur[row] - entry_latency),
                       minlength=m)


def _median_objective(entry_latency, w, first):
    ok = first >= 0
    return float(np.sum(w[ok] * entry_latency[first[ok]]))


def _swap_search(indptr, indices, entry_latency, w, r, pattern_csc, start, fixed, deadline):
    """First-improvement swap local search under the coverage constraints (vectorised).

    For each open site ``j`` in turn, the best feasible swap ``j -> k`` is made when it lowers
    the weighted latency. What depends only on the open set (nearest and second-nearest open
    site per row, the gain of opening each site, open counts) is computed once per pass over
    the open sites and then **updated** after each swap on the rows that have ``j`` or ``k``
    in reach only (the others keep their nearest sites); per ``j`` only the rows served by
    ``j`` and the rows that would fall short of their requirement without ``j`` are touched,
    so a pass over all open sites costs about one pass over the entries plus, per swap, the
    touched rows' entries and O(n + m). (Recomputing everything after each swap cost a pass
    over the entries per swap: 52 s of a 64 s national placement, 532 sites on 38k bins.)
    """
    n, m = pattern_csc.shape
    row = np.repeat(np.arange(n), np.diff(indptr))
    c_ptr, c_rows = pattern_csc.indptr, pattern_csc.indices
    is_open = np.zeros(m, dtype=bool)
    is_open[start] = True
    big = float(entry_latency.max() if entry_latency.size else 0.0) * 10 + 1e6
    # per-row state, set at the start of every pass (the closures read the current arrays)
    first = second = count = s1 = np.empty(0, dtype=np.int64)
    d1 = d2 = base_gain = np.empty(0)

    def nearest(rows):
        """d1, d2, s1 of ``rows`` from their first and second open entries."""
        f, g = first[rows], second[rows]
        d1[rows] = np.where(f >= 0, entry_latency[np.maximum(f, 0)], 0.0)
        d2[rows] = np.where(g >= 0, entry_latency[np.maximum(g, 0)], big)
        s1[rows] = np.where(f >= 0, indices[np.maximum(f, 0)], -1)

    def gain_of(rows):
        """What opening each site gains on ``rows`` (their entries before the nearest open
        site: the rows are sorted by latency)."""
        e = row_ranges(indptr[rows], np.where(first[rows] >= 0, first[rows], indptr[rows]))
        re = row[e]
        return np.bincount(indices[e], weights=w[re] * (d1[re] - entry_latency[e]),
                           minlength=m)

    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        # a fresh start every pass (the updates below add and subtract floats)
        first, second = first_two_open(indptr, indices, is_open, row)
        d1, d2, s1 = np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int64)
        nearest(slice(None))
        base_gain = gain_of(np.arange(n))
        count = np.bincount(row[is_open[indices]], minlength=n)
        short = np.flatnonzero(count < r)  # none when the start is feasible
        for j in np.flatnonzero(is_open & ~fixed):
            if time.perf_counter() >= deadline:
                break
            # closing j moves the rows it serves to their second-nearest open site
            rows_j = c_rows[c_ptr[j]:c_ptr[j + 1]]
            rj = rows_j[s1[rows_j] == j]
            loss = float(np.sum(w[rj] * (d2[rj] - d1[rj])))
            e = row_ranges(indptr[rj], indptr[rj + 1])
            re = row[e]
            le = entry_latency[e]
            delta_w = np.maximum(0.0, d2[re] - le) - np.maximum(0.0, d1[re] - le)
            gain = base_gain + np.bincount(indices[e], weights=w[re] * delta_w, minlength=m)
            # rows that would have fewer than r open sites without j: k must cover all of them
            deficit = np.union1d(short, rows_j[count[rows_j] - 1 < r[rows_j]])
            ok = ~is_open
            if len(deficit):
                covers = np.bincount(indices[row_ranges(indptr[deficit], indptr[deficit + 1])],
                                     minlength=m)
                ok &= covers == len(deficit)
            delta = np.where(ok, gain - loss, -np.inf)
            k = int(np.argmax(delta))
            # the updates leave float residues of about 1e-16 of the sums in base_gain: the
            # threshold is relative to the larger of the loss and the gain
            if delta[k] > 1e-9 * max(1.0, abs(loss), abs(float(gain[k]))):
                # only the rows with j or k in reach change: update them in place
                rows_k = c_rows[c_ptr[k]:c_ptr[k + 1]]
                touched = np.union1d(rows_j, rows_k)
                base_gain -= gain_of(touched)
                is_open[j] = False
                is_open[k] = True
                count[rows_j] -= 1
                count[rows_k] += 1
                f, g = first_two_open(indptr, indices, is_open, rows=touched)
                first[touched], second[touched] = f, g
                nearest(touched)
                base_gain += gain_of(touched)
                short = np.flatnonzero(count < r)
                improved = True
    return np.flatnonzero(is_open)


def _repair(indptr, indices, entry_latency, w, r, pattern_csc, plan, fixed, deadline):
    """A plan of ``len(plan)`` sites meeting every row's requirement ``r``, from ``plan``,
    which may leave rows short (a placement made before more rows were added), by swaps
    that each lower the total shortfall: the swap (close ``j``, open ``k``) that lowers it
    most, ties broken by the weighted latency that opening ``k`` gains less what closing
    ``j`` loses (each taken alone). ``None`` when no swap lowers it, or at ``deadline``.

    Closing ``j`` adds one to the shortfall of every row it covers with at most its
    requirement open, opening ``k`` takes one from every short row it covers, and a row
    both cover keeps its count: per open site one count over the entries of its rows."""
    n, m = pattern_csc.shape
    row = np.repeat(np.arange(n), np.diff(indptr))
    c_ptr, c_rows = pattern_csc.indptr, pattern_csc.indices
    is_open = np.zeros(m, dtype=bool)
    is_open[np.asarray(plan, dtype=np.int64)] = True
    count = np.bincount(row[is_open[indices]], minlength=n)
    big = float(entry_latency.max() if entry_latency.size else 0.0) * 10 + 1e6
    while (count < r).any():
        if time.perf_counter() >= deadline:
            return None
        short = np.flatnonzero(count < r)
        gain_k = np.bincount(indices[row_ranges(indptr[short], indptr[short + 1])],
                             minlength=m)
        at_r = (count <= r) & (r > 0)  # closing an open site of these leaves them short
        tight = (count == r) & (r > 0)  # ... unless the opened site covers them too
        first, second = first_two_open(indptr, indices, is_open, row)
        open_gain = _opening_gains(indices, entry_latency, w, row, first, m, big)
        has = first >= 0
        d2 = np.where(second >= 0, entry_latency[np.maximum(second, 0)], big)
        close_loss = np.bincount(indices[first[has]],
                                 weights=w[has] * (d2[has] - entry_latency[first[has]]),
                                 minlength=m)
        best = (0, 0.0, -1, -1)  # (shortfall change, latency change, j, k)
        for j in np.flatnonzero(is_open & ~fixed):
            rows_j = c_rows[c_ptr[j]:c_ptr[j + 1]]
            both = rows_j[tight[rows_j]]
            common = np.bincount(indices[row_ranges(indptr[both], indptr[both + 1])],
                                 minlength=m)
            delta = int(np.count_nonzero(at_r[rows_j])) - gain_k - common
            delta = np.where(is_open, 1 << 40, delta)
            low = int(delta.min())
            if low >= 0 or low > best[0]:
                continue
            ks = np.flatnonzero(delta == low)
            cost = close_loss[j] - open_gain[ks]
            i = int(np.argmin(cost))
            if (low, float(cost[i])) < best[:2]:
                best = (low, float(cost[i]), int(j), int(ks[i]))
        if best[0] >= 0:
            return None
        _, _, j, k = best
        is_open[j], is_open[k] = False, True
        count[c_rows[c_ptr[j]:c_ptr[j + 1]]] -= 1
        count[c_rows[c_ptr[k]:c_ptr[k + 1]]] += 1
    return np.flatnonzero(is_open)


def _sorted_rows(latency: sp.sparray | sp.spmatrix,
                 sort_rows: npt.NDArray[np.bool_] | None = None):
    """Entries of each row sorted by latency (duplicate pairs keep their smallest latency).

    Returns ``indptr, indices, latency`` (int64, int64, float64) and the boolean pattern in
    CSC form. Reach matrices from :func:`coverage.model.reach.build_reach` are already sorted by
    distance, so the sort is skipped when every row is already in order. ``sort_rows``: the
    rows to sort (default all); the others keep their order: rows of weight 0 (failure
    domains' rows, coverage only) cost nothing wherever they are assigned, and sorting
    their 30M entries took 12 s of a 3 s placement (tester 172).
    """
    a = sp.csr_array(latency)
    n, m = a.shape
    indptr = a.indptr.astype(np.int64)
    indices = a.indices.astype(np.int64)
    entry_latency = a.data.astype(np.float64)
    row = np.repeat(np.arange(n), np.diff(indptr))
    pattern = sp.csr_array((np.ones(len(indices), dtype=np.int8), indices, indptr), shape=(n, m))
    csc = pattern.tocsc()  # rows ascending within each column: duplicates are adjacent
    dup = np.diff(csc.indices) == 0
    dup &= np.diff(np.repeat(np.arange(m), np.diff(csc.indptr))) == 0
    if dup.any():
        coo = sp.coo_array(a)
        order = np.lexsort((coo.data, coo.col, coo.row))
        r_, c_, d_ = coo.row[order], coo.col[order], coo.data[order]
        first = np.concatenate([[True], (np.diff(r_) != 0) | (np.diff(c_) != 0)])
        a = sp.csr_array((d_[first], (r_[first], c_[first])), shape=(n, m))
        return _sorted_rows(a, sort_rows)
    in_order = (np.diff(entry_latency) >= 0) | (np.diff(row) != 0)
    if sort_rows is not None:  # only entries whose row (and its next entry's) is sorted
        in_order |= ~sort_rows[row[1:]]
    if not in_order.all():
        if sort_rows is None:
            order = np.lexsort((entry_latency, row))
            indices, entry_latency = indices[order], entry_latency[order]
        else:  # within the rows to sort, in place: rows are contiguous, kept in order
            at = np.flatnonzero(sort_rows[row])
            order = at[np.lexsort((entry_latency[at], row[at]))]
            indices[at], entry_latency[at] = indices[order], entry_latency[order]
    return indptr, indices, entry_latency, csc


def _latency_matrix(latency: Any) -> sp.csr_array:
    """``latency`` as a CSR array of its reachable pairs, checked: a dense matrix with
    ``+inf`` for an unreachable pair (as :mod:`coverage.optimize` takes it), a sparse one
    with its stored entries; every latency finite and non-negative.

    Raises
    ------
    ValueError
        NaN, ``-inf`` or a negative latency, a stored ``inf``, or not 2-D (numpy's and
        HiGHS's own errors were raised from deep inside, and a negative latency gave a
        negative "optimal" objective: tester 145).
    """
    if not sp.issparse(latency):  # (the checks every matrix solver makes of a dense cost)
        n, m, r, j, d = cost_entries(latency)
        return sp.csr_array((d, (r, j)), shape=(n, m))
    a = sp.csr_array(latency)  # (a pair stored twice keeps its least latency, not a sum)
    if not np.all(np.isfinite(a.data)):
        raise ValueError("stored latencies must be finite (leave unreachable pairs out)")
    if (a.data < 0).any():
        raise ValueError("latencies must be non-negative")
    return a


def _inputs(latency, weights, requirement, required):
    """Sorted rows (:func:`_sorted_rows`), the weights (default 1), each row's requirement
    capped at its candidates and the required-site mask: what :func:`k_median` and
    :func:`coverage_lagrangian_bound` start from."""
    matrix = _latency_matrix(latency)
    n = matrix.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or (w < 0).any():
        raise ValueError(f"weights must be one finite non-negative value per row ({n})")
    indptr, indices, entry_latency, pattern_csc = _sorted_rows(
        matrix, None if (w > 0).all() else w > 0)
    m = pattern_csc.shape[1]
    r = np.minimum(requirement_array(requirement, n), np.diff(indptr))
    fixed = required_mask(required, m)
    return indptr, indices, entry_latency, pattern_csc, w, r, fixed


def k_median(
    latency: sp.sparray | sp.spmatrix,
    p: int,
    weights: npt.ArrayLike | None = None,
    requirement: int | npt.ArrayLike = 0,
    required: npt.ArrayLike | None = None,
    start: npt.ArrayLike | None = None,
    time_limit_s: float = 60.0,
    max_pairs_exact: int = MAX_PAIRS_EXACT,
    bound: bool = True,
    gap: float = 0.0,
    warm: npt.ArrayLike | None = None,
    lower_bound: float = float("nan"),
    tight_bound: bool = False,
) -> MedianResult:
    """p-median under coverage constraints on a sparse latency matrix.

    Minimise ``sum_i w_i * min_{j open, (i, j) stored} latency_ij`` over exactly ``p`` open
    sites, subject to every row having at least ``min(requirement_i, |N_i|)`` open sites
    among its stored entries. Missing entries are unreachable.

    Parameters
    ----------
    latency : scipy.sparse matrix or array, shape (n_rows, n_sites)
        Latency (or any cost) of each reachable pair, finite and non-negative; explicit
        zeros count as reachable. A dense array marks an unreachable pair ``+inf``.
    p : int
        Number of sites to open, 1 to ``n_sites``.
    weights : array_like, optional
        Row weights (population), finite and non-negative; default 1.
    requirement : int or array_like, default 0
        Coverage requirement per row (0 = none).
    required : array_like of bool or int, optional
        Sites that must be open: a mask or column indices.
    start : array_like of int, optional
        A feasible starting set of ``p`` sites for the local search (e.g. from
        :func:`min_cover`); greedy multicover otherwise.
    time_limit_s : float, default 60
        Time limit for the local search, the MILP and the bound, s (HiGHS may overrun its
        share, the bound then still takes 0.1 s; the start's cover, when ``start`` is not
        given, is bounded by half of it).
    max_pairs_exact : int, default 150_000
        Solve the exact MILP (HiGHS) when the stored pairs of rows with a positive weight
        (its assignment variables) are at most this; 0: never.
    bound : bool, default True
        When the MILP does not prove optimality (or does not run), compute the Lagrangian
        lower bound (:func:`coverage_lagrangian_bound`; ``LAGRANGIAN_SHARE`` of the time
        limit is kept back from the search and the MILP for it), so that the result states
        its gap. A bound that meets the plan proves it optimal. When the Lagrangian bound
        does not prove the gap in its share, the LP bound by Benders cuts follows
        (:func:`coverage.solvers.median_benders.median_lp_bound`; when the MILP does not
        fit, ``BENDERS_SHARE`` of the limit is kept back from the search for both; before
        a MILP that fits, half the time left), and when that converges short of the gap,
        the master with whole sites until the time limit: its last master, rounded to
        ``p`` sites, repaired and searched from, replaces the plan when better (at wide
        budgets it is often the optimum the search missed), and a whole-number master's
        plan that violates no cut is optimal (within HiGHS's relative gap, 1e-7, at
        ``gap`` 0). The MILP then runs only if time is left. Not with ``tight_bound``. Only for
        plans that serve every row with a candidate (with requirement 0 the search's plan
        may leave a row unserved, and then has no bound) and for at most
        ``LAGRANGIAN_MAX_PAIRS`` stored pairs.
    gap : float, default 0
        Relative gap at which to stop: a plan whose proven lower bound is within
        ``gap * objective`` of its objective is returned as ``"within_gap"``. With
        ``gap > 0`` the Lagrangian bound runs before the MILP, which is skipped when the
        bound already proves the gap (the MILP's root LP alone takes about 35 s on
        Germany's 139,000 pairs, for a plan the local search had), and the MILP stops at
        HiGHS's relative gap ``gap``. 0: run to proven optimality or the time limit (the
        cuts and whole-number masters first there too: Japan at 30 ms, N-0, 129,314 pairs,
        proven optimal in 18 s, where the MILP gave no plan in 99 s; hand run).
    warm : array_like of int, optional
        A second start that may leave rows short of their requirement (the plan of a
        placement made before more rows were added): with the required sites, and sites
        added as for ``start`` when fewer than ``p``, repaired to a plan of ``p`` sites
        that meets every row (:func:`_repair`) and searched from too; the better of the
        two searches goes on. Ignored when it has more than ``p`` sites with the required
        ones, or cannot be repaired.
    lower_bound : float, optional
        A lower bound on the optimum known to hold (that of a relaxation: the same
        problem with fewer rows): the result's bound is the better of it and its own, and
        a plan it proves within ``gap`` needs no MILP.
    tight_bound : bool, default False
        With ``gap > 0`` and no MILP to follow: the Lagrangian bound has its share of the
        time only (``GAP_BOUND_S``, or ``LAGRANGIAN_SHARE`` of the limit), not the time
        left until it proves ``gap`` (the rounds of the placement by failure domains, whose
        time the later rounds need).

    Returns
    -------
    MedianResult
    """
    t0 = time.perf_counter()
    deadline = t0 + float(time_limit_s)
    indptr, indices, entry_latency, pattern_csc, w, r, fixed = _inputs(
        latency, weights, requirement, required)
    n, m = pattern_csc.shape
    p = facility_count(p, m)
    if start is not None:
        start = _site_columns(start, m, "start")
    if start is None:
        pattern = sp.csr_array((np.ones(len(indices)), indices.copy(), indptr.copy()),
                               shape=(n, m))
        start = min_cover(pattern, r, required=fixed, time_limit_s=time_limit_s / 2).sites
    start = np.union1d(np.asarray(start, dtype=np.int64), np.flatnonzero(fixed))
    if len(start) > p:
        raise NoFeasiblePlanError(
            f"p={p} sites cannot meet the coverage requirement: a feasible set needs {len(start)}"
        )
    start = _greedy_add(indptr, indices, entry_latency, w, m, start, p)
    if not len(indices):  # nothing reaches anything: every plan costs 0
        return MedianResult(np.sort(start), 0.0, 0.0, "optimal", time.perf_counter() - t0)
    bound = bound and len(indices) <= LAGRANGIAN_MAX_PAIRS
    # the MILP's size: the pairs of weighted rows (a failure domain's row of weight 0 is
    # a coverage row over the sites only)
    n_assign = int(np.count_nonzero(np.repeat(w, np.diff(indptr)) > 0))
    milp_fits = 0 < max_pairs_exact and n_assign <= max_pairs_exact
    # the LP bound by Benders cuts (and its last master, a plan more often than not):
    # above the MILP's size, and before a MILP asked to stop at a gap (which the cuts
    # may prove in seconds: Japan at 30 ms, N-0, 129,314 pairs, 37 sites: 0.28 % in 3.8 s
    # where the MILP overran its 58 s by 40 s for no better plan; hand run); not for the
    # rounds of the placement by failure domains
    benders = bound and not tight_bound
    # the bound's share of the limit, kept back from the search and the MILP for when they
    # prove nothing
    reserve = ((BENDERS_SHARE if benders and not milp_fits else LAGRANGIAN_SHARE)
               * float(time_limit_s) if bound else 0.0)
    sites = _swap_search(indptr, indices, entry_latency, w, r, pattern_csc, start, fixed,
                         deadline - reserve)
    first, _ = first_two_open(indptr, indices, np.isin(np.arange(m), sites))
    objective = _median_objective(entry_latency, w, first)
    if warm is not None:
        warm = np.union1d(_site_columns(warm, m, "warm"), np.flatnonzero(fixed))
        if len(warm) < p:
            warm = _greedy_add(indptr, indices, entry_latency, w, m, warm, p)
        repaired = (_repair(indptr, indices, entry_latency, w, r, pattern_csc, warm, fixed,
                            deadline - reserve) if len(warm) == p else None)
        if repaired is not None:
            other = _swap_search(indptr, indices, entry_latency, w, r, pattern_csc, repaired,
                                 fixed, deadline - reserve)
            first, _ = first_two_open(indptr, indices, np.isin(np.arange(m), other))
            other_objective = _median_objective(entry_latency, w, first)
            if other_objective < objective:
                sites, objective = other, other_objective
    status, lower = "local_search", float(lower_bound)
    if np.isfinite(lower) and lower >= objective - 1e-9 * abs(objective):
        status, lower = "optimal", objective  # the bound known meets the plan
    # (a row of weight 0 and requirement 0 may stay unserved: the MILP has no assignment
    # of it; review 208)
    has_entry = (np.diff(indptr) > 0) & (w > 0)

    def serves_all(chosen: npt.NDArray[np.int64]) -> bool:
        """Whether every weighted row with a candidate has an open one: a plan of the
        MILP's model (with requirement 0 the search may leave a row unserved, counting it
        as 0)."""
        near, _ = first_two_open(indptr, indices, np.isin(np.arange(m), chosen))
        return bool(np.all(near[has_entry] >= 0))

    gap = max(float(gap), 0.0)
    lag_done = False

    def take_bound(value: float) -> None:
        """``lower`` takes ``value`` when it is a better bound (nan: none)."""
        nonlocal lower
        if np.isfinite(value) and not value <= lower:
            lower = float(value)

    def lagrangian(until: float, enough: float = np.inf,
                   enough_after: float = -np.inf) -> None:
        """The Lagrangian bound of ``sites`` until ``until`` (or, after ``enough_after``,
        once it reaches ``enough``): ``lower`` and ``status`` take it when it is better
        (``"optimal"`` when it meets the plan)."""
        nonlocal lower, status
        is_open = np.zeros(m, dtype=bool)
        is_open[sites] = True
        lag = _lagrangian_bound(indptr, indices, entry_latency, w, r, m, p, fixed, is_open,
                                objective, until, enough=enough, enough_after=enough_after)
        take_bound(min(lag, objective))
        if lag >= objective - 1e-9 * abs(objective):
            status, lower = "optimal", objective  # the bound meets the plan: it is optimal
        elif lag >= objective - 1e-7 * abs(objective):
            # within the MILP's own "optimal" gap (its relative gap, 1e-7): the bound's
            # float margin would else read "within_gap" at 1e-9 (tester 138)
            status = "optimal"

    if gap > 0 and bound and status != "optimal" and not _within(objective, lower, gap) \
            and serves_all(sites):
        # the bound first: a plan the local search already has within the gap needs no MILP
        # (Germany's 139,000 pairs at 30 ms: 0.29 % in 3 s; the MILP's root LP took 35 s).
        # Its share of the time; without a MILP to follow, past its share it goes on
        # until it proves the gap (or its last step, LAGRANGIAN_ITERATIONS, or the time
        # limit), so that a loaded machine proves what a quiet one does (the US demo's
        # 252,815 pairs: 0.30 % in the share on a quiet machine, 0.56-0.75 % beside two
        # other jobs; hand runs of 2026-12-07). Not with ``tight_bound``.
        left = deadline - time.perf_counter()
        share = time.perf_counter() + max(min(
            # (with the cuts to follow, half the time left at most: under 5 s of limit
            # GAP_BOUND_S took it all; review 208)
            0.5 * left if benders else left,
            max(LAGRANGIAN_SHARE * float(time_limit_s), GAP_BOUND_S)), 0.1)
        more = not (milp_fits or tight_bound or benders)
        lagrangian(deadline if more else share,
                   enough=objective * (1 - gap) if more else np.inf, enough_after=share)
        lag_done = True
    if (benders and status != "optimal" and not _within(objective, lower, gap)
            and serves_all(sites) and deadline - time.perf_counter() > 0.1):
        # (with a MILP to follow, half the time left at most)
        left = deadline - time.perf_counter()
        sites, objective, status = _benders_step(
            indptr, indices, entry_latency, w, r, pattern_csc, m, p, fixed, sites,
            objective, status, deadline - (0.5 * left if milp_fits else 0.0),
            deadline - MASTER_RESERVE * float(time_limit_s), deadline, gap, take_bound,
            has_entry)
        lower = min(lower, objective)
    remaining = deadline - time.perf_counter() - (0.0 if lag_done else reserve)
    if (status != "optimal" and not _within(objective, lower, gap)
            and milp_fits and remaining > 0.5):
        exact = _median_milp(indptr, indices, entry_latency, w, r, m, p, fixed, remaining,
                             gap=gap)
        if exact is not None:
            x_sites, x_obj, x_status, x_bound = exact
            if x_obj <= objective + 1e-9 * max(1.0, abs(objective)):
                sites, objective = x_sites, x_obj
                status = x_status if x_status == "optimal" else "time_limit"
                take_bound(min(x_bound, objective))
            elif serves_all(sites):  # the search's plan is better, and the MILP's bound holds
                # (an "optimal" MILP is optimal within its relative gap, so the search's
                # plan, better still, is too)
                status = "optimal" if x_status == "optimal" else "time_limit"
                take_bound(min(x_bound, objective))  # HiGHS's bound
            lower = min(lower, objective)
            if status == "optimal" and gap > 0 and not lower >= objective * (1 - 1e-7):
                status = "time_limit"  # HiGHS's "optimal" is within its gap (``gap``) only
    # the Lagrangian bound is one of the MILP's model too
    if (bound and not lag_done and status != "optimal" and not _within(objective, lower, gap)
            and serves_all(sites)):
        # its share of the limit (or up to 1 s of what the limit leaves): past it the bound
        # gains little for its time; at least 0.1 s (HiGHS may overrun its own limit)
        left = deadline - time.perf_counter()
        lagrangian(time.perf_counter() + max(min(left, max(reserve, 1.0)), 0.1))
    if status != "optimal" and gap > 0 and _within(objective, lower, gap):
        status = "within_gap"
    logger.info("k-median: %s, objective %.6g, status %s", counted(p, "site"), objective,
                status)
    return MedianResult(np.sort(sites), objective, lower, status, time.perf_counter() - t0)


def _benders_step(indptr, indices, entry_latency, w, r, pattern_csc, m, p, fixed, sites,
                  objective, status, deadline, mip_deadline, end, gap, take_bound,
                  has_entry):
    """:func:`k_median`'s LP bound by Benders cuts
    (:func:`coverage.solvers.median_benders.median_lp_bound`) for the plan ``sites`` of
    ``objective``, until ``deadline`` or a bound that proves ``gap``, then (when it
    converged short of that) its whole-number masters until ``mip_deadline`` (the
    repair and search after them until ``end``, 0.1 s at least); its last master's
    sites, rounded to ``p`` (the required ones and the largest shares), repaired to meet
    every row and searched from, replace the plan when better if it serves every row of
    ``has_entry`` (the weighted rows with a candidate). ``take_bound`` takes the
    bound. Returns the plan, its objective and its status (``"optimal"`` when the bound
    meets it, else ``status``)."""
    from .median_benders import median_lp_bound

    lp = median_lp_bound(indptr, indices, entry_latency, w, r, m, p, fixed, sites, deadline,
                         enough=objective * (1 - gap) if gap > 0 else objective,
                         mip_deadline=mip_deadline, gap=gap)
    if lp.mip_rounds:
        logger.info("k-median bound by Benders cuts: %.9g after %d LP and %d whole-number "
                    "masters, %d rows, %.1f s%s", lp.bound, lp.rounds, lp.mip_rounds,
                    lp.cuts, lp.runtime_s,
                    ", the last one's plan optimal" if lp.converged else "")
    else:
        logger.info("k-median LP bound by Benders cuts: %.9g after %d rounds, %d rows, "
                    "%.1f s%s", lp.bound, lp.rounds, lp.cuts, lp.runtime_s,
                    "" if lp.converged else " (stopped before it converged)")
    # (a whole-number master is tried even when the bound proves the gap: it may be the
    # optimum, at no cost)
    plan_value = np.inf
    if lp.y is not None and (lp.integral or not _within(objective, lp.bound, gap)):
        free = np.flatnonzero(~fixed)
        k = p - int(fixed.sum())
        top = free[np.argsort(-lp.y[free], kind="stable")[:k]]
        rounded = np.sort(np.concatenate([np.flatnonzero(fixed), top]))
        # (a whole-number master's plan meets every row; a rounded one may not)
        plan = _repair(indptr, indices, entry_latency, w, r, pattern_csc, rounded, fixed,
                       max(end, time.perf_counter() + 0.1))
        if plan is not None:
            # (searched from unless proven: a whole-number LP plan, or a whole-number
            # master's at gap 0, that violates nothing is optimal, another may not be:
            # reviews 209, 210)
            if not (lp.integral and lp.converged and (gap <= 0 or not lp.mip_rounds)):
                plan = _swap_search(indptr, indices, entry_latency, w, r, pattern_csc, plan,
                                    fixed, max(end, time.perf_counter() + 0.1))
            first, _ = first_two_open(indptr, indices, np.isin(np.arange(m), plan))
            value = _median_objective(entry_latency, w, first)
            # (a plan of the model serves every weighted row with a candidate: with
            # requirement 0 the repair may leave one unserved, which costs 0)
            if np.all(first[has_entry] >= 0):
                plan_value = value
                if value < objective:
                    sites, objective = np.asarray(plan, dtype=np.int64), value
    take_bound(min(lp.bound, objective))
    if lp.bound >= objective - 1e-7 * abs(objective):
        status = "optimal"  # (within HiGHS's own relative tolerance, as the MILP's)
    elif lp.mip_rounds and lp.converged and gap <= 0 and np.isfinite(plan_value):
        # HiGHS's "optimal" whole-number master, its plan violating no cut: optimal within
        # HiGHS's relative gap (1e-7), as the MILP's "optimal" (the plan kept is that
        # one, taken above, or better)
        status = "optimal"
    return sites, objective, status


def _site_columns(sites: npt.ArrayLike, m: int, name: str) -> npt.NDArray[np.int64]:
    """``sites`` as site column indices (whole numbers in ``[0, m)``, floats such as 2.0
    too).

    Raises
    ------
    ValueError
        A value that is not such an index.
    """
    sites = np.asarray(sites).ravel()
    whole = sites.dtype.kind in "iu" or (sites.dtype.kind == "f" and bool(
        np.all(np.isfinite(sites) & (sites == np.round(sites)))))  # (as p=2.0 is)
    if len(sites) and (not whole or sites.min() < 0 or sites.max() >= m):
        raise ValueError(f"{name} must be site column indices in [0, {m})")
    return sites.astype(np.int64)


def _within(objective: float, lower: float, gap: float) -> bool:
    """Whether ``lower`` proves ``objective`` within the relative ``gap`` (> 0) of the
    optimum; False without a bound or with ``gap`` 0."""
    return bool(gap > 0 and np.isfinite(objective) and np.isfinite(lower)
                and lower >= objective - gap * abs(objective))


def relaxed_choice(start_objective: float, objective: float, bound: float,
                   gap: float = 0.0) -> tuple[bool, float, float, str]:
    """Between a capacitated plan's start and the uncapacitated placement that passed the
    capacity check (its ``objective`` ``nan`` when it did not): whether to take the
    placement (strictly better, beyond a part in 1e9 of the start), the best objective,
    its lower bound (the uncapacitated ``bound``, or the best objective when lower; ``nan``
    without either) and its status: ``"optimal"`` when the bound meets it to 1e-6,
    ``"within_gap"`` when it proves ``gap``, else ``"local_search"`` for the placement
    taken and ``"kept_cover"`` for the start kept.

    Used by :func:`capacitated_median` above the exact MILP's pairs and by the national
    placement (:func:`coverage.planner.stages.place_capacitated_national`)."""
    tol = 1e-9 * max(1.0, abs(start_objective)) if np.isfinite(start_objective) else 0.0
    take = bool(np.isfinite(objective) and np.isfinite(start_objective)
                and objective < start_objective - tol)
    best = objective if take else start_objective
    lower = (min(bound, best) if np.isfinite(bound) and np.isfinite(best)
             else bound if np.isfinite(bound) else float("nan"))
    status = "local_search" if take else "kept_cover"
    if np.isfinite(lower) and np.isfinite(best) and lower >= best - 1e-6 * abs(best):
        status = "optimal"
    elif _within(best, lower, gap):
        status = "within_gap"
    return take, float(best), float(lower), status


@dataclass(frozen=True)
class CapacitatedMedian:
    """Result of :func:`capacitated_median`.

    Attributes
    ----------
    sites : numpy.ndarray
        Chosen column indices, sorted (the start's when it was kept).
    objective : float
        The weighted latency of the least-latency normal-operation flow within capacity
        on ``sites`` (each row's weight split as its load is; ``nan`` when none).
    lower_bound : float
        Proven lower bound of that objective over the capacitated plans of the count
        (``nan``: none).
    status : str
        ``"optimal"``, ``"within_gap"`` (the plan kept or placed, proven within the
        ``gap`` asked), ``"time_limit"`` (a placed plan that carries every scenario, with
        the bound), ``"local_search"`` (the same, placed by the uncapacitated search above
        ``max_pairs_exact``), ``"kept_cover"`` (no better plan that carries every scenario
        was found in the time: the start is kept, with the bound) or ``"skipped (...)"``.
    solve_time_s : float
        Wall time, s.
    rounds : int
        MILPs solved.
    cuts : int
        Capacity cuts held at the end (the start's and those added).
    scenarios : list of ScenarioFlow or None
        The placed plan's scenarios, normal operation first (``None``: the start kept).
    complete : bool
        Whether ``scenarios`` list every failure scenario (or imply those left).
    method : str
        How the plan was placed.
    """

    sites: npt.NDArray[np.int64]
    objective: float
    lower_bound: float
    status: str
    solve_time_s: float
    rounds: int = 0
    cuts: int = 0
    scenarios: list[ScenarioFlow] | None = None
    complete: bool = True
    method: str = "milp"
    """``"milp"`` (the capacitated MILP's rounds) or, above ``max_pairs_exact``,
    ``"uncapacitated placement, capacity checked"`` (:func:`_capacitated_by_relaxation`)."""
    start_objective: float = float("nan")
    """The start's own objective (as ``objective``)."""
    kept_because: str | None = None
    """Why the start was kept (``None`` when a placed plan was taken)."""


def flow_latency(latency: sp.sparray | sp.spmatrix, sites: npt.ArrayLike,
                 point_load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
                 weights: npt.ArrayLike | None = None, time_limit_s: float = 60.0) -> float:
    """The weighted latency of the least-latency flow of every row's load to the open
    ``sites`` within their capacities (normal operation, load splittable).

    A row sends its load to its stored columns among ``sites``; a share ``x`` of it costs
    ``x x weight x latency`` (its people follow its requests). Rows without an open column
    are left out (an uncovered row: no latency). The linear program is solved by HiGHS.

    Returns
    -------
    float
        The objective, or ``nan`` when the sites cannot carry the load or HiGHS does not
        solve it within ``time_limit_s``.
    """
    indptr, indices, entry_latency, _, w, _, _ = _inputs(latency, weights, 0, None)
    m = len(np.asarray(cap_rps))
    return _flow_objective(indptr, indices, entry_latency, w,
                           np.asarray(point_load_rps, dtype=np.float64),
                           np.asarray(cap_rps, dtype=np.float64), m,
                           np.asarray(sites, dtype=np.int64), time_limit_s)


def flow_latency_near_overloaded(latency: sp.sparray | sp.spmatrix, sites: npt.ArrayLike,
                                 point_load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
                                 weights: npt.ArrayLike | None = None,
                                 time_limit_s: float = 60.0,
                                 max_pairs: int | None = None) -> tuple[float, str, str]:
    """:func:`flow_latency` with the capacity rows of the sites that need them only: the
    same optimum on national plans whose pairs are too many for the whole program
    (:func:`least_latency_flow_near_overloaded`'s objective).

    Returns
    -------
    objective : float
        ``nan`` when not found (see ``how``).
    how : str
        How it was found, or why not.
    status : str
        ``"optimal"``; ``"too_large"`` (above ``max_pairs``), ``"time_limit"`` or the
        linear program's status (:class:`LatencyFlow`).
    """
    got, how = least_latency_flow_near_overloaded(latency, sites, point_load_rps, cap_rps,
                                                  weights, time_limit_s, max_pairs)
    return got.objective, how, got.status


def least_latency_flow_near_overloaded(
        latency: sp.sparray | sp.spmatrix, sites: npt.ArrayLike,
        point_load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
        weights: npt.ArrayLike | None = None, time_limit_s: float = 60.0,
        max_pairs: int | None = None) -> tuple[LatencyFlow, str]:
    """:func:`least_latency_flow` with the capacity rows of the sites that need them
    only: the same optimum on national plans whose pairs are too many for the whole
    program.

    Each row at its lowest-latency open site is the least-latency flow when those loads
    fit every capacity. Otherwise the sites they overload are *held*: the program keeps
    the rows whose lowest-latency site is held (with all their open pairs) and the
    capacity rows of the held sites; every other row stays at its lowest-latency site.
    Dropping the other sites' capacity rows relaxes the problem, and in the relaxation a
    row whose lowest-latency site is not held is at its optimum there (no constraint
    binds it, and it takes no held capacity). When the relaxation's flow fits every
    capacity it is the least-latency flow; otherwise the sites it overloads are held too,
    and again. Each round's program starts from the last one's optimal basis (it has
    more rows, pairs and capacity rows, and that basis is still dual feasible). On a
    million-cell national plan at 20 kW cabinets, 23 of 690 sites were held in 5 rounds:
    12.6 s, against 45-70 s with each round's program solved afresh (hand runs,
    2026-12-05).

    Parameters
    ----------
    latency, sites, point_load_rps, cap_rps, weights, time_limit_s
        As for :func:`least_latency_flow` (the time limit for the rounds together).
    max_pairs : int, optional
        Most (row, open site) pairs of a round's program; above, status ``"too_large"``.

    Returns
    -------
    flow : LatencyFlow
        As :func:`least_latency_flow`'s, or status ``"too_large"`` (above ``max_pairs``).
    how : str
        How it was found, or why not.
    """
    t0 = time.perf_counter()
    indptr, indices, entry_latency, _, w, _, _ = _inputs(latency, weights, 0, None)
    load = np.asarray(point_load_rps, dtype=np.float64)
    cap = np.asarray(cap_rps, dtype=np.float64)
    m = len(cap)
    open_ = np.zeros(m, dtype=bool)
    open_[np.asarray(sites, dtype=np.int64)] = True
    n = len(indptr) - 1
    row = np.repeat(np.arange(n), np.diff(indptr))
    keep = open_[indices]
    row, col, lat = row[keep], indices[keep], entry_latency[keep]
    if not len(row):
        return LatencyFlow("optimal", 0.0), "no point within budget of a site"
    # each row's first open entry: its lowest latency (_inputs sorts every row by it)
    first = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
    near_row, near_col, near_lat = row[first], col[first], lat[first]
    near_cost = w[near_row] * near_lat
    near_load = np.bincount(near_col, weights=load[near_row], minlength=m)
    # the program's own tolerance (tester 140: a site 5e-7 over read as carrying it, where
    # the program sends that share elsewhere)
    held = near_load > cap * (1 + CAPACITY_RTOL)

    def nearest(rows: npt.NDArray[np.bool_], extra: LatencyFlow | None = None,
                ids: npt.NDArray[np.int64] | None = None) -> LatencyFlow:
        """The flow of ``rows`` (a mask of ``near_row``) at their nearest sites, and
        ``extra``'s (its points ``ids``' positions)."""
        on = rows & (load[near_row] > 0)
        point = np.r_[near_row[on], [] if extra is None else ids[extra.point]]
        site = np.r_[near_col[on], [] if extra is None else extra.site]
        flow = np.r_[load[near_row[on]], [] if extra is None else extra.flow_rps]
        order = np.lexsort((site, point))
        return LatencyFlow("optimal", float(near_cost[rows].sum()) + (
            0.0 if extra is None else extra.objective), point[order].astype(np.int64),
            site[order].astype(np.int64), flow[order])

    if not held.any():
        return nearest(np.ones(len(near_row), dtype=bool)), "each point at its nearest site"
    rounds = 0
    basis = None  # each round's program starts from the last one's optimal basis
    while True:
        rounds += 1
        touch = np.zeros(n, dtype=bool)  # the rows whose nearest site is held
        touch[near_row[held[near_col]]] = True
        pick = touch[row]
        if max_pairs is not None and int(pick.sum()) > max_pairs:
            return LatencyFlow("too_large"), (
                f"not computed: {int(pick.sum()):,} pairs of the points whose nearest site "
                f"is one of the {int(held.sum()):,} capacity binds, more than "
                f"{max_pairs:,}")
        left = float(time_limit_s) - (time.perf_counter() - t0)
        if left <= 0:
            return LatencyFlow("time_limit"), "not computed: the time limit was reached"
        sub_rows = np.flatnonzero(touch)
        remap = np.full(n, -1)
        remap[sub_rows] = np.arange(len(sub_rows))
        r_sub, c_sub = remap[row[pick]], col[pick]
        sub_ptr = np.r_[0, np.cumsum(np.bincount(r_sub, minlength=len(sub_rows)))]
        # only the held sites' capacity rows: the others' capacity is not a constraint
        t = time.perf_counter()
        got, basis = _least_latency_lp(
            sub_ptr, c_sub, lat[pick], w[sub_rows], load[sub_rows],
            np.where(held, cap, np.inf), m, np.flatnonzero(open_), left, row_id=sub_rows,
            start=basis, return_basis=True)
        logger.info("least-latency flow round %d: %d held site(s), %s point(s), %s pairs, "
                    "%s in %.1f s", rounds, int(held.sum()), f"{len(sub_rows):,}",
                    f"{len(r_sub):,}", got.status, time.perf_counter() - t)
        if got.status != "optimal":
            return got, f"not computed: its linear program ended {got.status}"
        out = ~touch[near_row]
        site_load = (np.bincount(near_col[out], weights=load[near_row[out]], minlength=m)
                     + np.bincount(got.site, weights=got.flow_rps, minlength=m))
        over = (site_load > cap * (1 + CAPACITY_RTOL)) & ~held
        if not over.any():
            return nearest(out, got, sub_rows), (
                f"the least-latency flow (linear program over the points whose nearest "
                f"site is one of the {int(held.sum()):,} capacity binds, {rounds} "
                "round(s))")
        held |= over


def _flow_objective(indptr, indices, entry_latency, w, load, cap, m, sites,
                    time_limit_s: float = 60.0) -> float:
    """:func:`flow_latency` on :func:`_inputs`' arrays (``nan`` also when HiGHS does not
    solve it within ``time_limit_s``)."""
    got, _ = _least_latency_lp(indptr, indices, entry_latency, w, load, cap, m, sites,
                               time_limit_s)
    return got.objective if got.status == "optimal" else float("nan")


@dataclass(frozen=True)
class LatencyFlow:
    """Result of :func:`least_latency_flow`.

    Attributes
    ----------
    status : str
        ``"optimal"``; ``"infeasible"`` (the open sites cannot carry the load);
        ``"time_limit"`` (HiGHS stopped at its limit); ``"error"`` (another HiGHS status).
    objective : float
        The weighted latency of the flow (``nan`` unless optimal).
    point, site, flow_rps : numpy.ndarray
        One entry per (row, site) pair with a positive flow, requests/s (empty unless
        optimal); each served row's flows sum to its load exactly.
    """

    status: str
    objective: float = float("nan")
    point: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    site: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    flow_rps: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


#: Most load of a (row, site) pair per unit of the site's capacity in the least-latency
#: flow's program; above, the pair carries nothing (:func:`least_latency_flow`).
MAX_LOAD_PER_CAPACITY = 1e12
#: The least-latency flow's capacity tolerance (relative to each site's capacity): its
#: program's capacity rows and the sites :func:`least_latency_flow_near_overloaded` holds.
CAPACITY_RTOL = 1e-9


class _FlowBasis(NamedTuple):
    """A least-latency flow program's final simplex basis, keyed by the rows' own ids, to
    start the next, larger program of :func:`least_latency_flow_near_overloaded` from."""

    pair_key: npt.NDArray[np.int64]  # row id x columns + column, sorted
    pair_status: npt.NDArray[np.int8]
    row_id: npt.NDArray[np.int64]  # the rows with an assignment row, sorted
    row_status: npt.NDArray[np.int8]
    site: npt.NDArray[np.int64]  # the columns with a capacity row, sorted
    site_status: npt.NDArray[np.int8]


def _lookup(keys: npt.NDArray[np.int64], sorted_keys: npt.NDArray[np.int64],
            ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """Which ``keys`` are in ``sorted_keys``, and where."""
    at = np.searchsorted(sorted_keys, keys)
    found = at < len(sorted_keys)
    found[found] = sorted_keys[at[found]] == keys[found]
    return found, np.minimum(at, max(len(sorted_keys) - 1, 0))


def _least_latency_lp(indptr, indices, entry_latency, w, load, cap, m, sites,
                      time_limit_s: float = 60.0, row_id: npt.NDArray[np.int64] | None = None,
                      start: _FlowBasis | None = None, return_basis: bool = False,
                      ) -> tuple[LatencyFlow, _FlowBasis | None]:
    """The least-latency flow's linear program on :func:`_inputs`' arrays: its status,
    objective and, per (row, open column) pair with a positive flow, the row, the column
    and the flow (the solver's shares normalised so that each row carries its load); and,
    when ``return_basis``, its final basis, keyed by ``row_id`` (each row's id,
    increasing; default its index).

    Each site's capacity row is written as a share of its own capacity
    (``sum_i load_i / cap_j x_ij <= 1``): in one unit for every site (the largest
    capacity), HiGHS's absolute tolerances (1e-7, entries below 1e-9 dropped) let a small
    site beside a huge candidate, chosen or not, take 50 % where its level was 1 %
    (tester 129). A site of capacity 0 takes no flow; a site of infinite capacity has no
    row, so a row's pairs no cheaper than its cheapest such site are left out (that site
    takes their share for less, and it takes no one's capacity).

    The dual simplex runs without presolve from a dual-feasible basis: ``start`` for the
    rows and sites it has (the optimal basis of a program with fewer rows, fewer pairs
    and fewer capacity rows, as :func:`least_latency_flow_near_overloaded`'s rounds grow),
    every other row at its cheapest pair (no reduced cost is negative) and every other
    capacity row slack. On a national plan's flow (78,000 rows, 170,000 pairs, 9
    capacity rows) 0.7 s instead of 6.6 s from HiGHS's own start (hand run,
    2026-12-05). When its flow (shares clipped at 0 and renormalised) puts a site more
    than 1e-7 above its capacity, the program is solved again with presolve, from
    HiGHS's own start, at a primal tolerance of 1e-9. A pair whose load is above
    :data:`MAX_LOAD_PER_CAPACITY` x its site's capacity carries nothing."""
    from .highs import AT_LOWER, BASIC

    t_start = time.perf_counter()
    is_open = np.zeros(m, dtype=bool)
    is_open[sites] = True
    n = len(indptr) - 1
    row = np.repeat(np.arange(n), np.diff(indptr))
    keep = is_open[indices]
    if not keep.any():
        return LatencyFlow("optimal", 0.0), None
    r, col = row[keep], indices[keep]
    cost = w[r] * entry_latency[keep]
    # each row's pairs are in order of latency (_inputs sorts them), so of cost (one
    # weight a row); those after its first uncapacitated one are dropped
    finite = np.isfinite(cap[col])  # an infinite capacity: no row
    first = np.r_[True, r[1:] != r[:-1]]
    free_before = np.cumsum(~finite) - ~finite  # pairs of infinite capacity before each
    keep = free_before == free_before[first][np.cumsum(first) - 1]  # none before in its row
    r, col, cost, finite = r[keep], col[keep], cost[keep], finite[keep]
    k = len(r)
    first = np.r_[True, r[1:] != r[:-1]]  # each row's cheapest pair
    served = r[first]
    remap = np.full(n, -1)
    remap[served] = np.arange(len(served))
    a_assign = sp.csr_array((np.ones(k), (remap[r], np.arange(k))), shape=(len(served), k))
    used = np.unique(col[finite])
    site_row = np.full(m, -1)
    site_row[used] = np.arange(len(used))
    own = np.where(cap[col] > 0, cap[col], 1.0)  # (capacity 0: the pair's upper bound is 0)
    share = load[r] / own  # the pair's entry in its site's capacity row
    # a load above MAX_LOAD_PER_CAPACITY x the site's capacity: less than a 1e-12 share
    # of it fits, and HiGHS takes entries of 1e15 and up for infinite (tester 140: a
    # feasible flow read "error"); the pair carries nothing
    tiny = finite & (share > MAX_LOAD_PER_CAPACITY)
    entry = finite & ~tiny
    a_cap = sp.csr_array((share[entry], (site_row[col[entry]], np.flatnonzero(entry))),
                         shape=(len(used), k))
    upper = np.where(((cap[col] > 0) | (load[r] <= 0)) & ~tiny, 1.0, 0.0)
    ids = np.arange(n, dtype=np.int64) if row_id is None else np.asarray(row_id, np.int64)
    pair_key = ids[r] * m + col
    pair_status = np.where(first, BASIC, AT_LOWER).astype(np.int8)
    row_status = np.full(len(served), AT_LOWER, dtype=np.int8)
    site_status = np.full(len(used), BASIC, dtype=np.int8)
    if start is not None:
        known_row, at_row = _lookup(ids[served], start.row_id)
        row_status[known_row] = start.row_status[at_row[known_row]]
        of_known = known_row[remap[r]]  # the pairs of those rows take the start's status
        found, at = _lookup(pair_key[of_known], start.pair_key)
        pair_status[of_known] = np.where(found, start.pair_status[at], AT_LOWER)
        known_site, at_site = _lookup(used.astype(np.int64), start.site)
        site_status[known_site] = start.site_status[at_site[known_site]]
        if (np.count_nonzero(pair_status == BASIC) + np.count_nonzero(row_status == BASIC)
                + np.count_nonzero(site_status == BASIC)) != len(served) + len(used):
            logger.debug("least-latency flow: the start's basis does not fit; each row "
                         "starts at its cheapest pair")
            pair_status = np.where(first, BASIC, AT_LOWER).astype(np.int8)
            row_status[:] = AT_LOWER
            site_status[:] = BASIC
    mat = sp.vstack([a_assign, a_cap], format="csr")
    row_lower = np.r_[np.ones(len(served)), np.full(len(used), -np.inf)]
    # the max-flow check's tolerance: a flow it accepts is feasible here
    row_upper = np.r_[np.ones(len(served)), np.full(len(used), 1 + CAPACITY_RTOL)]
    res = solve_milp(cost, np.zeros(k, dtype=bool), mat, row_lower, row_upper,
                     col_upper=upper, time_limit_s=max(float(time_limit_s), 0.1),
                     presolve=False, start_basis=(pair_status, np.r_[row_status, site_status]),
                     return_basis=return_basis)

    def flow_of(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        # (a pair that may carry nothing carries nothing, not the solver's 1e-9)
        x = np.where(upper > 0, np.clip(x, 0.0, None), 0.0)
        total = np.bincount(r, weights=x, minlength=n)
        return x / np.where(total[r] > 0, total[r], 1.0) * load[r]

    def over(flow: npt.NDArray[np.float64]) -> bool:
        site_load = np.bincount(col[finite], weights=flow[finite], minlength=m)
        return bool(np.any(site_load > cap * (1 + 1e-7)))

    if res.status not in ("optimal", "time_limit", "infeasible") or (
            res.x is not None and res.status == "optimal" and over(flow_of(res.x))):
        # tester 140: a share of -1.5e-9 (within HiGHS's tolerance) on a pair whose entry
        # is 2.7e6 let a site take 9 % more than its capacity once the shares were
        # clipped and renormalised; presolve at a tolerance of 1e-9 did not (at HiGHS's
        # 1e-7, one of 300 such instances was still 7.7e-6 over). Review 137: from the
        # start basis, 2 of 1,500 badly scaled infeasible programs ended "Solve error"
        # where HiGHS's own start says infeasible.
        logger.debug("least-latency flow: %s after the dual simplex from its start; "
                     "solved again with presolve", res.status)
        t_left = max(float(time_limit_s) - (time.perf_counter() - t_start), 0.1)
        res = solve_milp(cost, np.zeros(k, dtype=bool), mat, row_lower, row_upper,
                         col_upper=upper, time_limit_s=t_left,
                         options={"primal_feasibility_tolerance": 1e-9},
                         return_basis=return_basis)
    if res.x is None or res.status != "optimal":
        return LatencyFlow(res.status if res.status != "optimal" else "error"), None
    flow = flow_of(res.x)
    if over(flow):  # never seen: the promise (1e-7 of each capacity) is not kept
        logger.warning("least-latency flow: a site more than 1e-7 above its capacity "
                       "after presolve too; no flow")
        return LatencyFlow("error"), None
    pos = flow > 0
    basis = None
    if res.basis is not None:  # sorted by key (the pairs are by row, then cost)
        by_key = np.argsort(pair_key, kind="stable")
        basis = _FlowBasis(pair_key[by_key], res.basis[0][by_key], ids[served],
                           res.basis[1][:len(served)], used.astype(np.int64),
                           res.basis[1][len(served):])
    return (LatencyFlow("optimal", res.objective, r[pos].astype(np.int64),
                        col[pos].astype(np.int64), flow[pos]), basis)


def least_latency_flow(latency: sp.sparray | sp.spmatrix, sites: npt.ArrayLike,
                       point_load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
                       weights: npt.ArrayLike | None = None, time_limit_s: float = 60.0,
                       ) -> LatencyFlow:
    """The flow :func:`flow_latency` prices: every row's load sent to its stored columns
    among the open ``sites`` within their capacities ``cap_rps``, at the least weighted
    latency (a share ``x`` of a row's load costs ``x x weight x latency``).

    Returns
    -------
    LatencyFlow
        Its status and, when optimal, the flow of every (row, site) pair carrying one,
        requests/s: each served row's flows sum to its load exactly (the solver's shares
        normalised); rows without an open column carry none. Within every capacity to
        the solver's tolerance (``1e-7`` of the site's own capacity): callers holding a
        site to a tighter tolerance check it.
    """
    indptr, indices, entry_latency, _, w, _, _ = _inputs(latency, weights, 0, None)
    cap = np.asarray(cap_rps, dtype=np.float64)
    return _least_latency_lp(indptr, indices, entry_latency, w,
                             np.asarray(point_load_rps, dtype=np.float64), cap, len(cap),
                             np.asarray(sites, dtype=np.int64), time_limit_s)[0]


def capacitated_median(
    latency: sp.sparray | sp.spmatrix, start: npt.ArrayLike, *,
    reach: sp.csr_array, load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike, failures: int,
    point_load_rps: npt.ArrayLike,
    weights: npt.ArrayLike | None = None, requirement: int | npt.ArrayLike = 0,
    required: npt.ArrayLike | None = None, domains: npt.ArrayLike | None = None,
    cuts: sp.sparray | None = None, scenario_limit: int = 20_000,
    time_limit_s: float = 60.0, max_pairs_exact: int = MAX_PAIRS_EXACT,
    cuts_per_round: int = 50, gap: float = 0.0,
) -> CapacitatedMedian:
    """Capacitated placement: the sites of a capacitated plan moved to minimise the
    weighted latency of the least-latency normal-operation flow within capacity, at the
    same count, every row keeping its requirement and every failure scenario still
    carrying the load.

    The latency counted is the one the load can actually get: a row's load goes to open
    sites within budget and within their capacities (splittable; a share of the load
    takes the same share of the row's weight), so a small site beside a large population
    counts for what it can carry, not for the nearest latency of all its neighbours
    (tester 128). The MILP is :func:`k_median`'s with a capacity row per site for normal
    operation (``sum_i load_i x_ij <= cap_j y_j``) and the capacity cuts of
    :func:`coverage.solvers.capacitated.capacity_cut` over the sites for the failure
    scenarios, by cut generation: each round's plan is checked by a max-flow per failure
    scenario, the scenarios it falls short in become cuts, and the first plan that carries
    every scenario (its whole list checked: never a plan that passes a cut list only) is
    the result when it is better than the start. Every round solves a relaxation, so its
    dual bound is a bound. When no round's plan does within the time, the start is kept.
    Above ``max_pairs_exact`` pairs the MILP is not built: the uncapacitated placement is
    taken when its plan carries every scenario (:func:`_capacitated_by_relaxation`).

    Parameters
    ----------
    latency : scipy.sparse matrix or array, shape (n_rows, n_sites)
        Latency of each pair within budget (the objective; the pattern is the reach).
    start : array_like of int
        A plan that carries every scenario (the capacitated cover's): its size is ``p``.
    reach, load_rps, cap_rps : sparse array, array_like
        The capacity problem the scenarios are checked on (points with identical
        candidates may be merged: ``reach`` need not have ``latency``'s rows): points x
        candidates within budget, each point's load and each candidate's capacity.
    failures : int
        Failure domains lost at once (k).
    point_load_rps : array_like
        The load of every row of ``latency`` (the normal-operation flow's).
    weights, requirement, required
        As for :func:`k_median`.
    domains : array_like, optional
        Failure domain of every candidate (default: each site alone).
    cuts : sparse array, optional
        Capacity cuts already known (``cuts @ y >= 1``: the capacitated cover's).
    scenario_limit, cuts_per_round : int
        Scenarios listed per check, and short ones turned into cuts per round.
    time_limit_s : float, default 60
        For the rounds together (HiGHS may overrun its share).
    max_pairs_exact : int, default 150_000
        Largest number of stored pairs for the MILP; above, the uncapacitated placement
        with its capacity checked (:func:`_capacitated_by_relaxation`).
    gap : float, default 0
        Relative gap at which to stop (as for :func:`k_median`): when the uncapacitated
        placement's bound already proves the best plan within it, no capacitated MILP
        round runs (Germany's 57 sites at 30 ms, 200 requests a person a day: the rounds
        spent 40 s and found nothing better than the 0.38 % the bound proved), and the
        rounds' MILPs stop at HiGHS's relative gap ``gap``; such a plan is
        ``"within_gap"``.

    Returns
    -------
    CapacitatedMedian
    """
    # (here: the capacity solver imports networkx, which the command line's start does not)
    from .capacitated import capacity_cut, check_scenarios_until

    t0 = time.perf_counter()
    deadline = t0 + float(time_limit_s)
    indptr, indices, entry_latency, _, w, r, fixed = _inputs(
        latency, weights, requirement, required)
    m = len(fixed)
    start = np.sort(np.asarray(start, dtype=np.int64))
    p = len(start)
    point_load = np.asarray(point_load_rps, dtype=np.float64)
    cap = np.asarray(cap_rps, dtype=np.float64)
    held_n = 0 if cuts is None else int(cuts.shape[0])
    if len(indices) > max_pairs_exact:  # (before the start's LP: as large, review 130)
        return _capacitated_by_relaxation(
            latency, start, reach=reach, load_rps=load_rps, cap_rps=cap, failures=failures,
            point_load_rps=point_load, weights=weights, requirement=requirement,
            required=required, domains=domains, scenario_limit=scenario_limit,
            time_limit_s=time_limit_s, held_cuts=held_n, t0=t0,
            arrays=(indptr, indices, entry_latency, w, m), gap=gap)

    def flow_of(sites: npt.NDArray[np.int64]) -> float:
        return _flow_objective(indptr, indices, entry_latency, w, point_load, cap, m, sites,
                               deadline - time.perf_counter())

    # the uncapacitated placement first, capacity checked (its exact MILP is fast at this
    # size): a plan that carries every scenario and beats the start is the incumbent the
    # rounds must beat (tester 131: the rounds spent 60 s and kept the count's plan where
    # it was better), and its bound is one of this problem (a relaxation)
    first = _capacitated_by_relaxation(
        latency, start, reach=reach, load_rps=load_rps, cap_rps=cap, failures=failures,
        point_load_rps=point_load, weights=weights, requirement=requirement,
        required=required, domains=domains, scenario_limit=scenario_limit,
        time_limit_s=RELAXED_FIRST_SHARE * float(time_limit_s), held_cuts=held_n,
        t0=time.perf_counter(), arrays=(indptr, indices, entry_latency, w, m), gap=gap)
    start_obj = first.start_objective  # (priced by the relaxation: not twice)
    pattern = sp.csr_array(reach_pattern(reach), dtype=np.float64, copy=True)
    load = np.asarray(load_rps, dtype=np.float64)
    held: list[sp.csr_array] = [] if not held_n else [sp.csr_array(cuts)]
    best, best_obj, status = start, start_obj, "kept_cover"
    best_scen: list[ScenarioFlow] | None = None
    best_complete = True
    if first.scenarios is not None:  # the uncapacitated placement, checked and better
        best, best_obj, status = first.sites, first.objective, "local_search"
        best_scen, best_complete = first.scenarios, first.complete
    bound = float(first.lower_bound) if np.isfinite(first.lower_bound) else -np.inf
    rounds, from_milp = 0, False
    tol = 1e-9 * max(1.0, abs(best_obj)) if np.isfinite(best_obj) else 0.0
    skip_by_bound = bool(np.isfinite(bound) and np.isfinite(best_obj)
                         and bound >= best_obj * (1 - 1e-6))
    skip_by_gap = not skip_by_bound and _within(best_obj, bound, gap)
    if skip_by_bound or skip_by_gap:
        deadline = time.perf_counter()  # proven (within the gap) by the relaxation
    # kept back for the uncapacitated bound when the rounds prove nothing (the MILP's own
    # dual bound is weak on national plans: 77 % below the plan on Germany's at 30 ms)
    rounds_end = deadline - LAGRANGIAN_SHARE * float(time_limit_s)
    milp_end = "the time ran out before a round's plan carried every failure scenario"
    while rounds_end - time.perf_counter() > 0.2:
        rounds += 1
        exact = _median_milp(indptr, indices, entry_latency, w, r, m, p, fixed,
                             rounds_end - time.perf_counter(),
                             cuts=sp.vstack(held, format="csr") if held else None,
                             capacity=(point_load, cap), gap=gap)
        if exact is None:  # no plan in the time
            milp_end = "no plan in the time"
            break
        sites, _, _, x_bound = exact  # (the plan's own flow is priced below)
        if np.isfinite(x_bound):  # a relaxation's bound: one of the problem
            bound = max(bound, float(x_bound))
        scen, complete, finished = check_scenarios_until(
            reach, load, cap, sites, int(failures), domains=domains,
            limit=int(scenario_limit), stop_after=int(cuts_per_round), deadline=rounds_end)
        bad = [f for f in scen if not f.feasible]
        if not bad:
            if not (finished and complete):  # not shown to carry every scenario
                milp_end = ("its plan's failure scenarios were not all checked (time or "
                            "--scenario-limit)")
                break
            obj = flow_of(sites)
            if np.isfinite(obj) and (not np.isfinite(best_obj) or obj < best_obj - tol):
                best, best_obj, best_scen, best_complete = sites, obj, scen, complete
                status, from_milp = "time_limit", True
            milp_end = (f"no better: its plan's least-latency flow ({obj:.6g}) against the "
                        f"best's ({best_obj:.6g})" if np.isfinite(obj) else
                        "its plan's least-latency flow was not computed in the time")
            break
        new = [c for c in (capacity_cut(pattern, load, cap, f, sites) for f in bad)
               if c is not None]
        if not new:  # short only within the flow's rounding: the MILP would repeat it
            logger.warning("capacitated placement: round %d's plan meets its cuts only to "
                           "the MILP's tolerance; keeping the best plan so far", rounds)
            milp_end = "a round's plan met its capacity cuts only to the MILP's tolerance"
            break
        held.append(sp.csr_array(np.vstack(new)))
    # "optimal": a bound within 1e-6 of the plan's flow (HiGHS's gap is 1e-7 of its own
    # objective, which the plan's flow LP repeats to its tolerances)
    proof_tol = max(tol, 1e-6 * abs(best_obj)) if np.isfinite(best_obj) else 0.0
    if np.isfinite(best_obj) and not (np.isfinite(bound) and bound >= best_obj - proof_tol
                                      or _within(best_obj, bound, gap)):
        # every plan's flow costs at least its nearest-site latency, so a bound of the
        # uncapacitated k-median (same count, requirements, required sites) is one here
        lag = coverage_lagrangian_bound(latency, p, best, weights, requirement, required,
                                        time_limit_s=max(deadline - time.perf_counter(),
                                                         0.1))
        if np.isfinite(lag):
            bound = max(bound, float(lag))
    lower = min(bound, best_obj) if np.isfinite(bound) and np.isfinite(best_obj) else (
        float("nan"))
    # proven only by a bound that meets the plan's own flow (HiGHS's "optimal" is for its
    # model, whose tolerances the flow may not share: review 130)
    if np.isfinite(lower) and lower >= best_obj - proof_tol:
        status = "optimal"
    elif _within(best_obj, lower, gap):
        status = "within_gap"
    logger.info("capacitated k-median: %s, objective %.6g (start %.6g), status %s, %d "
                "round(s)", counted(p, "site"), best_obj, start_obj, status, rounds)
    return CapacitatedMedian(best, best_obj, lower, status, time.perf_counter() - t0,
                             rounds, sum(int(c.shape[0]) for c in held), best_scen,
                             best_complete,
                             method=_capacitated_method(
                                 rounds, taken_relaxed=first.scenarios is not None
                                 and not from_milp,
                                 skipped_by=("gap" if skip_by_gap else
                                             "bound" if skip_by_bound else None)),
                             start_objective=start_obj,
                             kept_because=None if not np.array_equal(best, start) else
                             "; ".join([first.kept_because or "the uncapacitated placement "
                                        "is the count's plan"] + (
                                 [f"the MILP's rounds ({rounds}): {milp_end}"] if rounds
                                 else [])))


def _capacitated_method(rounds: int, *, taken_relaxed: bool,
                        skipped_by: str | None) -> str:
    """:attr:`CapacitatedMedian.method`: how the plan kept was placed (tester 138: it read
    "milp" when no MILP round ran)."""
    if taken_relaxed:  # the uncapacitated placement, its capacity checked
        return ("uncapacitated placement, capacity checked"
                + (" (the MILP's rounds found no better)" if rounds else ""))
    if rounds:
        return "milp"
    why = {"gap": "proves it within the gap", "bound": "proves it"}.get(
        skipped_by or "", "left no time")
    return f"the count's plan: no MILP round ran (the uncapacitated bound {why})"


#: Share of :func:`capacitated_median`'s time the uncapacitated placement takes above the
#: exact MILP's pairs (:func:`_capacitated_by_relaxation`); the rest checks its plan.
RELAXED_SHARE = 0.6
#: Share of :func:`capacitated_median`'s time for the uncapacitated placement tried before
#: the capacitated MILP's rounds (its plan, checked, is their incumbent).
RELAXED_FIRST_SHARE = 0.2


def _capacitated_by_relaxation(latency, start, *, reach, load_rps, cap_rps, failures,
                               point_load_rps, weights, requirement, required, domains,
                               scenario_limit, time_limit_s, held_cuts, t0, arrays,
                               gap=0.0) -> CapacitatedMedian:
    """:func:`capacitated_median` above the exact MILP's pairs: the uncapacitated
    placement (:func:`k_median`: its local search and Lagrangian bound scale to national
    plans), taken when its plan carries every failure scenario (the whole list checked)
    and its least-latency flow is better than the start's.

    Dropping the capacities and the scenarios relaxes the problem, and every flow costs at
    least each row's nearest latency, so the uncapacitated bound is a bound of the
    capacitated objective; where capacity does not bind the nearest sites the two meet. A
    plan the capacities make worse, or one short in a scenario, leaves the start
    (``kept_cover``, with the bound)."""
    from .capacitated import check_scenarios_until

    indptr, indices, entry_latency, w, m = arrays
    deadline = t0 + float(time_limit_s)
    p = len(start)
    cap = np.asarray(cap_rps, dtype=np.float64)
    point_load = np.asarray(point_load_rps, dtype=np.float64)

    def flow_of(sites: npt.NDArray[np.int64]) -> float:
        # (an LP over the open sites' pairs: given a second at least, not a cut-short one)
        return _flow_objective(indptr, indices, entry_latency, w, point_load, cap, m, sites,
                               max(deadline - time.perf_counter(), 1.0))

    med = k_median(latency, p, weights, requirement, required, start=start,
                   time_limit_s=RELAXED_SHARE * float(time_limit_s), gap=gap)
    bound = float(med.lower_bound) if np.isfinite(med.lower_bound) else -np.inf
    sites = np.sort(np.asarray(med.sites, dtype=np.int64))
    # the scenario check first, the flows' objectives in the time it leaves (review 130b:
    # the start's first took the check's time)
    scen: list[ScenarioFlow] | None = None
    complete = True
    why = "it is the count's plan"
    if not np.array_equal(sites, start):
        scen, complete, finished = check_scenarios_until(
            reach, np.asarray(load_rps, dtype=np.float64), cap, sites, int(failures),
            domains=domains, limit=int(scenario_limit), stop_after=1, deadline=deadline)
        if not all(f.feasible for f in scen):
            why = "short in a failure scenario"
            scen = None
        elif not (finished and complete):
            why = "its failure scenarios were not all checked (time or --scenario-limit)"
            scen = None
        if scen is None:
            logger.info("capacitated k-median: the uncapacitated placement is kept out "
                        "(%s); the count's plan is kept", why)
    obj = flow_of(sites) if scen is not None else float("nan")
    start_obj = flow_of(start)
    # (local_search: the uncapacitated search's plan taken; not a time-out)
    take, best_obj, lower, status = relaxed_choice(start_obj, obj, bound, gap)
    best, best_scen, best_complete = (sites, scen, complete) if take else (start, None, True)
    if scen is not None and not take:
        why = (f"no better: its least-latency flow ({obj:.6g}) against the count's "
               f"({start_obj:.6g})" if np.isfinite(obj) and np.isfinite(start_obj) else
               "the least-latency flows could not be compared (not computed in the time)")
    if not np.isfinite(best_obj):
        lower = float("nan")
    logger.info("capacitated k-median (uncapacitated placement, capacity checked): %s, "
                "objective %s (start %s), status %s", counted(p, "site"),
                *(f"{v:.6g}" if np.isfinite(v) else "not computed" for v in (best_obj,
                                                                             start_obj)),
                status)
    return CapacitatedMedian(best, best_obj, lower, status, time.perf_counter() - t0, 0,
                             int(held_cuts), best_scen, best_complete,
                             method="uncapacitated placement, capacity checked",
                             start_objective=start_obj,
                             kept_because=None if take else f"the uncapacitated placement: "
                             f"{why}")


def _median_milp(indptr, indices, entry_latency, w, r, m, p, fixed, time_limit_s,
                 cuts=None, capacity=None, gap=0.0):
    """Exact p-median MILP with coverage constraints: variables y (m) then x (one per pair);
    ``cuts``: more rows over y (``cuts @ y >= 1``, a sparse array of ``m`` columns);
    ``capacity``: ``(load per row, capacity per column)``, a row per column
    ``sum_i load_i x_ij <= cap_j y_j`` (x then a flow, not the nearest open column);
    ``gap``: HiGHS's relative gap (at least 1e-7), whose "optimal" is within it.

    Without ``capacity`` a row of weight 0 (a failure domain's row, an empty point) has
    no assignment variables: it costs nothing wherever it is assigned, so it only
    constrains the sites (its coverage row)."""
    n = len(indptr) - 1
    row_all = np.repeat(np.arange(n), np.diff(indptr))
    # the x variables: the pairs of weighted rows only (every pair with a capacity)
    x_entry = (np.flatnonzero(w[row_all] > 0) if capacity is None
               else np.arange(len(indices)))
    row, x_col = row_all[x_entry], indices[x_entry]
    nnz = len(x_entry)
    has = np.bincount(row, minlength=n) > 0
    c = np.concatenate([np.zeros(m), w[row] * entry_latency[x_entry]])
    # HiGHS's absolute gap (1e-6, which SciPy cannot set) ends the search of a model whose
    # objective is itself about 1e-6 at once, "optimal" (tester 138: latencies of 1e-5 with
    # weights summing to 1, 1-2 % above the optimum): small costs are scaled up first
    top = float(np.max(c)) if len(c) else 0.0
    scale = MILP_COST_FLOOR / top if 0.0 < top < MILP_COST_FLOOR else 1.0
    c = c * scale
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
         (np.concatenate([e, e]), np.concatenate([m + e, x_col]))),
        shape=(nnz, m + nnz),
    )
    # coverage: sum_{j in N_i} y_j >= r_i (every row's pairs)
    cov_rows = np.flatnonzero(r > 0)
    sel = np.isin(row_all, cov_rows)
    remap_c = np.full(n, -1)
    remap_c[cov_rows] = np.arange(len(cov_rows))
    a_cov = sp.csr_array(
        (np.ones(int(sel.sum())), (remap_c[row_all[sel]], indices[sel])),
        shape=(len(cov_rows), m + nnz),
    )
    a_p = sp.csr_array((np.ones(m), (np.zeros(m, dtype=int), np.arange(m))), shape=(1, m + nnz))
    blocks = [(a_assign, 1.0, 1.0), (a_link, -np.inf, 0.0), (a_cov, r[cov_rows], np.inf),
              (a_p, p, p)]
    if capacity is not None:
        load_i, cap_j = capacity
        # each row a share of its own site's capacity (one unit for all, the largest,
        # let HiGHS's absolute tolerances void a small site's row: tester 129)
        own = np.where(cap_j > 0, cap_j, 1.0)
        a_capacity = sp.csr_array(
            (np.concatenate([load_i[row] / own[x_col],
                             np.where(cap_j > 0, -(1 + 1e-9), 0.0)]),
             (np.concatenate([x_col, np.arange(m)]),
              np.concatenate([m + np.arange(nnz), np.arange(m)]))), shape=(m, m + nnz))
        blocks.append((a_capacity, -np.inf, 0.0))
    if cuts is not None and cuts.shape[0]:
        blocks.append((sp.hstack([sp.csr_array(cuts), sp.csr_array((cuts.shape[0], nnz))],
                                 format="csr"), 1.0, np.inf))
    a = sp.csr_array(sp.vstack([block for block, _, _ in blocks], format="csr"))
    row_lower = np.concatenate([np.broadcast_to(np.asarray(lo, dtype=np.float64), block.shape[0])
                                for block, lo, _ in blocks])
    row_upper = np.concatenate([np.broadcast_to(np.asarray(up, dtype=np.float64), block.shape[0])
                                for block, _, up in blocks])
    lb = np.zeros(m + nnz)
    lb[:m][fixed] = 1
    integrality = np.concatenate([np.ones(m, dtype=bool), np.zeros(nnz, dtype=bool)])
    # (through highspy: a MILP that overruns its limit in HiGHS's root cut separation is
    # stopped at its next MIP check; SciPy's could not be: Japan at 30 ms, N-0, 129,314
    # pairs, a 58 s limit: 99 s; hand run of 2026-12-08) HiGHS's default absolute gap
    # (1e-6), which ``MILP_COST_FLOOR`` is set above
    res = solve_milp(c, integrality, a, row_lower, row_upper, col_lower=lb, col_upper=1.0,
                     time_limit_s=float(time_limit_s),
                     options={"mip_rel_gap": max(float(gap), 1e-7), "mip_abs_gap": 1e-6})
    if res.x is None:
        return None
    sites = np.flatnonzero(res.x[:m] > 0.5)
    if len(sites) != p or not np.all(np.isin(np.flatnonzero(fixed), sites)):
        return None  # (not a plan: an infeasible point HiGHS may hand back when stopped)
    if capacity is not None:  # the flow's objective (the caller prices the sites' own)
        obj = float(res.objective) / scale
    else:
        first, _ = first_two_open(indptr, indices, np.isin(np.arange(m), sites))
        obj = _median_objective(entry_latency, w, first)
    # HiGHS's own dual bound, also when "optimal": that is within mip_rel_gap (1e-7), not
    # exact, so the objective is not its own bound; never above the plan's objective
    bound = float(res.dual_bound) / scale if np.isfinite(res.dual_bound) else float("nan")
    status = "optimal" if res.status == "optimal" else "time_limit"
    return sites, obj, status, min(bound, obj) if np.isfinite(bound) else bound
