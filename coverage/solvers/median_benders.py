"""The LP bound of the p-median under coverage constraints, by Benders cuts.

The k-median of :func:`coverage.solvers.kmedian.k_median` gives its exact MILP (a variable
per pair) up to :data:`~coverage.solvers.kmedian.MAX_PAIRS_EXACT` pairs. Above, at wide
budgets where every point reaches most candidates, its Lagrangian bound stalled 5-11 %
below plans that were themselves 2-6 % above the optimum (hand runs of 2026-12-07 on the
embedded GeoNames data, N-1: Spain at 40 ms, Italy at 40, India at 40, Brazil at 50).

This module computes the same LP bound (that of the classical formulation) from a master
over the sites alone: ``y_j`` (open) and one ``theta_i`` per weighted point (its latency),

    min  sum_i w_i theta_i
    s.t. sum_j y_j = p,  y_j = 1 for the required sites,
         sum_{j in N_i} y_j >= need_i            (coverage; added when violated)
         theta_i + sum_{j: d_ij < D} (D - d_ij) y_j >= D      (a cut of point i)

where the cut of point ``i`` at a master solution ``y`` takes ``D``, the latency of the
first of ``i``'s candidates (in latency order) at which the open share reaches 1
(Duran-Mateluna, Ales and Elloumi, "An efficient Benders decomposition for the p-median
problem", EJOR 2023). A cut holds for every plan: with an open candidate closer than
``D`` it is at most the nearest one's latency, else at most ``D``. The cuts at a solution
that violates none give the LP optimum of the classical formulation (each cut is the
point's subproblem's dual at ``y``), which every round's optimum approaches from below:
each round's value is a lower bound on the k-median's optimum (within HiGHS's tolerances:
the master is scaled so that its costs lie far above them, and the bound returned keeps
a margin).

At wide budgets the LP bound was tight on every instance tried: Spain, Italy and India at
40 ms, Brazil and Mexico at 50, Japan at 40 and the US at 30 (N-1; hand runs of a
prototype): the best plan known met it. It is not tight everywhere: Japan at 30 ms, N-0
(37 sites) converges 0.15 % below its best plan. There the master is then solved with
whole sites (``mip_deadline``: HiGHS's branch and bound on the master, whose plan's
violated cuts are added and the master solved again, until a plan violates none): two to
four such masters, 7-13 s each, proved the optimum, 0.026 % below the best plan the
search and the LP's rounding had (hand runs of 2026-12-08; the classical MILP gave no plan
in 99 s). A whole-number master is a relaxation too: its dual bound is a lower bound; its
plan, violating no cut, costs what the master says (a cut at a whole-number ``y`` is the
point's latency to its nearest open site).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from .cover import row_ranges

logger = logging.getLogger(__name__)

__all__ = ["BendersBound", "median_lp_bound"]

CUT_TOLERANCE = 1e-6
"""A point's cut enters the master when its ``theta`` lies more than this below the cut
(relative to the cut's value, at least 1, in the master's units: the largest latency is
:data:`COST_SCALE`); ten times HiGHS's feasibility tolerance, so that a cut the master
meets within that tolerance is not added again and again (review 208)."""

COST_SCALE = 1e3
"""The master's latencies and weights are scaled so that the largest of each is this: its
costs then lie far above HiGHS's tolerances (1e-7) whatever the units (latencies of 1e-6
gave bounds 40 % above the optimum, and latencies of 1e9 a master HiGHS could not solve;
review 208)."""



COVER_TOLERANCE = 1e-6
"""A coverage row enters the master when its open share is this far below its need."""


@dataclass(frozen=True)
class BendersBound:
    """Result of :func:`median_lp_bound`.

    Attributes
    ----------
    bound : float
        The best solved master's optimum, less a margin: a lower bound on the k-median's
        optimum within HiGHS's tolerances on the scaled master (``-inf`` when no master
        was solved).
    y : numpy.ndarray or None
        That master's open shares of the sites (``None`` without one).
    converged : bool
        No cut or coverage row was violated at ``y`` but those in the master already
        (violated within HiGHS's tolerances): ``bound`` is the LP bound of the
        classical formulation, and a whole-number ``y`` (which serves every weighted
        point and meets every requirement) is an optimal plan. After the whole-number
        masters (``mip_rounds``): the last one was solved to its gap and its plan ``y``
        violates nothing, so that plan is optimal within that gap; when not converged,
        ``y`` is the best of their plans that meets every row (the last one's when none
        does).
    rounds : int
        Masters solved (the LP ones).
    cuts : int
        Cuts and coverage rows added.
    runtime_s : float
    mip_rounds : int
        Whole-number masters that gave a plan (``median_lp_bound(mip_deadline=...)``).
    """

    bound: float
    y: npt.NDArray[np.float64] | None
    converged: bool
    rounds: int
    cuts: int
    runtime_s: float
    mip_rounds: int = 0

    @property
    def integral(self) -> bool:
        """Whether ``y`` is a plan (every share within 1e-6 of 0 or 1)."""
        return self.y is not None and _whole(self.y)


def _whole(y: npt.NDArray[np.float64]) -> bool:
    """Whether the open shares ``y`` are a plan (every share within 1e-6 of 0 or 1)."""
    return bool(np.all(np.minimum(y, 1 - y) <= 1e-6))


def cut_levels(y: npt.NDArray[np.float64], indptr: npt.NDArray[np.int64],
               indices: npt.NDArray[np.int64], latency: npt.NDArray[np.float64]
               ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64],
                          npt.NDArray[np.float64]]:
    """Each row's cut at the open shares ``y``: rows' entries in latency order.

    Returns ``t`` (the entry at which the row's open share reaches 1, or its last entry),
    ``D`` (that entry's latency) and the cut's value at ``y``,
    ``D - sum_{s < t} (D - d_s) y_s``. Rows must have an entry each.
    """
    ye = y[indices]
    cs = np.cumsum(ye)
    dy = np.cumsum(latency * ye)
    start, end = indptr[:-1], indptr[1:]
    cs0 = np.concatenate([[0.0], cs])
    dy0 = np.concatenate([[0.0], dy])
    within = cs - np.repeat(cs0[start], end - start)  # the share open up to each entry
    positions = np.arange(len(indices))
    at = np.where(within >= 1.0 - 1e-9, positions, len(indices))
    t = np.minimum.reduceat(at, start) if len(start) else np.zeros(0, dtype=np.int64)
    t = np.minimum(t, end - 1).astype(np.int64)
    d = latency[t]
    share = cs0[t] - cs0[start]
    weighted = dy0[t] - dy0[start]
    return t, d, d - d * share + weighted


def median_lp_bound(indptr: npt.NDArray[np.int64], indices: npt.NDArray[np.int64],
                    entry_latency: npt.NDArray[np.float64], w: npt.NDArray[np.float64],
                    r: npt.NDArray[np.int64], m: int, p: int, fixed: npt.NDArray[np.bool_],
                    incumbent: npt.ArrayLike, deadline: float, *,
                    enough: float = np.inf, mip_deadline: float | None = None,
                    gap: float = 0.0) -> BendersBound:
    """The k-median's LP bound by Benders cuts (see the module notes), until ``deadline``
    (``time.perf_counter()``) or a bound of ``enough``.

    Parameters
    ----------
    indptr, indices, entry_latency
        The rows' entries, each weighted row's in latency order (as
        :func:`coverage.solvers.kmedian.k_median` holds them).
    w : numpy.ndarray
        Row weights; rows of weight 0 are coverage rows only.
    r : numpy.ndarray
        Each row's coverage requirement (at most its entries); a weighted row with an entry
        needs one open site at least (it is served).
    m, p : int
        Candidates and sites to open.
    fixed : numpy.ndarray of bool
        Required sites.
    incumbent : array_like of int
        A plan of ``p`` sites: the first master holds its cuts.
    deadline : float
    enough : float, optional
        Stop once the bound reaches it (the bound that proves the gap asked).
    mip_deadline : float, optional
        Once the LP bound has converged below ``enough``, solve the master with whole
        ``y`` (HiGHS's branch and bound) and add the cuts and
        coverage rows its plan violates, until a plan violates none (then optimal,
        within ``gap``), a bound of ``enough`` or ``mip_deadline``: a tighter bound (the
        masters' dual bounds) and, in ``y``, a plan. Without it, the LP bound alone.
    gap : float, default 0.0
        The whole-number master's relative gap (at least 1e-7).

    Returns
    -------
    BendersBound
    """
    import highspy

    from .highs import lp_model, new_highs
    from .interrupt import run_highs

    t0 = time.perf_counter()
    n = len(indptr) - 1
    count = np.diff(indptr)
    weighted = np.flatnonzero((count > 0) & (w > 0))
    # the weighted rows' entries, as rows of their own
    entries = row_ranges(indptr[weighted], indptr[weighted + 1])
    w_indptr = np.concatenate([[0], np.cumsum(count[weighted])]).astype(np.int64)
    w_indices, w_latency = indices[entries], entry_latency[entries]
    nw = len(weighted)
    # the master in scaled units (COST_SCALE): the largest latency and weight 1e3 each
    top_latency = float(w_latency.max()) if len(w_latency) else 0.0
    top_weight = float(w[weighted].max()) if nw else 0.0
    lat_scale = COST_SCALE / top_latency if top_latency > 0 else 1.0
    w_scale = COST_SCALE / top_weight if top_weight > 0 else 1.0
    w_latency = w_latency * lat_scale
    unit = lat_scale * w_scale  # one unit of the k-median's objective, in the master's
    need = np.where(count > 0, r, 0).astype(np.float64)
    need[weighted] = np.maximum(need[weighted], 1.0)
    pattern = sp.csr_array((np.ones(len(indices)), indices, indptr), shape=(n, m))
    held = np.zeros(n, dtype=bool)
    inf = highspy.kHighsInf

    h = new_highs()
    cost = np.concatenate([np.zeros(m), w[weighted] * w_scale])
    a = sp.csr_array((np.ones(m), (np.zeros(m, dtype=np.int64), np.arange(m))),
                     shape=(1, m + nw))
    h.passModel(lp_model(cost, a, [float(p)], [float(p)],
                         col_lower=np.concatenate([fixed.astype(np.float64),
                                                   w_latency[w_indptr[:-1]]]),
                         col_upper=np.concatenate([np.ones(m), np.full(nw, inf)])))
    added = 0

    def add(rows: sp.csr_array, lower: npt.NDArray[np.float64]) -> None:
        nonlocal added
        rows.sort_indices()
        h.addRows(rows.shape[0], lower, np.full(rows.shape[0], inf), rows.nnz,
                  rows.indptr[:-1].astype(np.int32), rows.indices.astype(np.int32),
                  rows.data.astype(np.float64))
        added += rows.shape[0]

    # the cuts in the master, by their level's entry (one cut per point and level): a cut
    # the master keeps violating by a hair (within HiGHS's tolerances) is not added again,
    # which ran the loop to its deadline (review 208)
    in_master = np.zeros(len(w_indices), dtype=bool)

    def add_cuts(y: npt.NDArray[np.float64], theta: npt.NDArray[np.float64]) -> int:
        t, d, value = cut_levels(y, w_indptr, w_indices, w_latency)
        short = np.flatnonzero((theta < value - CUT_TOLERANCE * np.maximum(1.0, value))
                               & ~in_master[t])
        if not len(short):
            return 0
        in_master[t[short]] = True
        e = row_ranges(w_indptr[short], t[short])
        row = np.repeat(np.arange(len(short)), t[short] - w_indptr[short])
        coef = d[short][row] - w_latency[e]
        keep = coef > 0
        e, row, coef = e[keep], row[keep], coef[keep]
        add(sp.csr_array((np.concatenate([coef, np.ones(len(short))]),
                          (np.concatenate([row, np.arange(len(short))]),
                           np.concatenate([w_indices[e], m + short]))),
                         shape=(len(short), m + nw)), d[short])
        return len(short)

    def add_cover(y: npt.NDArray[np.float64]) -> int:
        short = np.flatnonzero((pattern @ y < need - COVER_TOLERANCE) & ~held)
        if len(short):
            held[short] = True
            rows = sp.csr_array(pattern[short])
            add(sp.csr_array((rows.data, rows.indices, rows.indptr),
                             shape=(len(short), m + nw)), need[short])
        return len(short)

    start = np.zeros(m)
    start[np.asarray(incumbent, dtype=np.int64)] = 1.0
    add_cuts(start, np.full(nw, -np.inf))
    bound, y, converged, rounds, retried = -np.inf, None, False, 0, False
    enough_scaled = enough * unit
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        # (HiGHS's time limit is on the object's run time over all its solves)
        h.setOptionValue("time_limit", float(h.getRunTime() + left))
        # the first master by the interior point method (half the simplex's time on
        # Mexico at 50 ms: 16,761 cuts), the others by the dual simplex from its basis
        h.setOptionValue("solver", "ipm" if rounds == 0 or retried else "simplex")
        t = time.perf_counter()
        run_highs(h)
        status = h.getModelStatus()
        logger.debug("master %d: %.2f s, %s", rounds + 1, time.perf_counter() - t,
                     h.modelStatusToString(status))
        if status != highspy.HighsModelStatus.kOptimal:
            if (status in (highspy.HighsModelStatus.kTimeLimit,
                           highspy.HighsModelStatus.kInterrupt) or retried):
                break  # the time limit (or an interrupt): that master proves nothing
            retried = True  # once, from scratch by the interior point method
            h.clearSolver()
            continue
        retried = False
        rounds += 1
        x = np.asarray(h.getSolution().col_value)
        # each master is a relaxation of the k-median: its optimum is a lower bound
        bound = max(bound, float(h.getInfo().objective_function_value))
        y = np.clip(x[:m], 0.0, 1.0)
        more = add_cover(y) + add_cuts(y, x[m:])
        logger.debug("k-median LP bound, round %d: %.9g, %d rows added", rounds,
                     bound / unit, more)
        if not more:
            converged = True
            break
        if bound >= enough_scaled:
            break
    mip_rounds = 0
    # (not for a bound within HiGHS's relative gap, 1e-7, of ``enough``, the plan's value
    # at gap 0, which the caller counts as proven; nor when the LP's ``y`` is whole, an
    # optimal plan then: Italy at 40 ms spent 28 s on a whole-number master for it)
    unproven = (bound < enough_scaled - 1e-7 * abs(enough_scaled)
                if np.isfinite(enough_scaled) else True)
    if (mip_deadline is not None and converged and unproven
            and not _whole(y)
            and mip_deadline > time.perf_counter()):
        # the branch and bound on the master: each whole-number master is a relaxation
        # too (its dual bound a lower bound), and its plan, once it violates no cut,
        # costs what the master says (a cut at a whole-number ``y`` is the point's
        # latency to its nearest open site): optimal within the master's gap
        h.changeColsIntegrality(m, np.arange(m, dtype=np.int32),
                                np.full(m, int(highspy.HighsVarType.kInteger),
                                        dtype=np.uint8))
        h.setOptionValue("mip_rel_gap", max(float(gap), 1e-7))
        h.setOptionValue("solver", "choose")
        converged = False
        # the best of their plans that meets every row, by its cost (the cuts at a
        # whole-number ``y``: each point's latency to its nearest open site)
        best_y, best_value = None, np.inf
        while True:
            left = mip_deadline - time.perf_counter()
            if left <= 0:
                break
            # (a MIP counts its time limit from its own start, unlike the LP masters above:
            # review 209)
            h.setOptionValue("time_limit", float(left))
            t = time.perf_counter()
            run_highs(h, deadline=time.perf_counter() + left)
            status = h.getModelStatus()
            info = h.getInfo()
            logger.debug("whole-number master %d: %.2f s, %s", mip_rounds + 1,
                         time.perf_counter() - t, h.modelStatusToString(status))
            if np.isfinite(info.mip_dual_bound):
                bound = max(bound, float(info.mip_dual_bound))
            if info.primal_solution_status != int(highspy.SolutionStatus.kSolutionStatusFeasible):
                break
            x = np.asarray(h.getSolution().col_value)
            value = float(info.objective_function_value)
            if not abs(float(cost @ x) - value) <= 1e-6 * max(1.0, abs(value)):
                # not the plan HiGHS reports (highspy 1.16 returned a start given by
                # ``setSolution`` in place of a better plan it found: not used since)
                logger.warning("k-median: a whole-number master's plan does not cost what "
                               "HiGHS reports (%.9g against %.9g); not used",
                               float(cost @ x), value)
                break
            y_mip = np.round(np.clip(x[:m], 0.0, 1.0))
            if y_mip.sum() != p or not np.all(y_mip[fixed] == 1):
                break  # (not a plan: never seen; HiGHS's tolerances)
            mip_rounds += 1
            y = y_mip
            true_value = float(cost[m:] @ cut_levels(y, w_indptr, w_indices, w_latency)[2])
            if true_value < best_value and np.all(pattern @ y >= need - COVER_TOLERANCE):
                best_y, best_value = y, true_value
            more = add_cover(y) + add_cuts(y, x[m:])
            logger.debug("k-median bound by the whole-number master, round %d: %.9g, "
                         "%d rows added", mip_rounds, bound / unit, more)
            if not more:
                # HiGHS's "optimal" only where its own dual bound shows it: costs under its
                # tolerances (a point of weight 1e12 beside weights of 1-9) gave "optimal"
                # with a dual bound of 0 for a plan 0.3 % above the optimum (review 209)
                # (and against the plan's own cost: the master's latencies may lie under
                # it by a cut's tolerance, CUT_TOLERANCE; review 210)
                converged = (status == highspy.HighsModelStatus.kOptimal
                             and float(info.mip_dual_bound)
                             >= true_value - (max(float(gap), 1e-7) + 1e-9) * abs(true_value))
                break
            if status != highspy.HighsModelStatus.kOptimal or bound >= enough_scaled:
                break
        if best_y is not None:
            # (the cheapest: a converged master's plan is so at gap 0, within ``gap`` of
            # an earlier one otherwise; review 210)
            y = best_y
        if not mip_rounds:
            # no whole-number master gave a plan (India at 30 ms, N-0, 178 sites: none in
            # 44 s): ``y`` is still the converged LP's
            converged = True
    # HiGHS's tolerances (1e-7 on the scaled master) and float sums of many terms: a
    # margin far above both
    if np.isfinite(bound):
        bound = (bound - 1e-9 * abs(bound) - 1e-6) / unit
    return BendersBound(bound, y, converged, rounds, added, time.perf_counter() - t0,
                        mip_rounds)
