"""Rollout order: the order in which to open a pool of sites, and what each step is worth.

:func:`rollout_order` opens the sites of a pool one at a time, each step the site that adds
the most population within budget (ties: the most population that becomes failure-safe,
then the lowest column), and reports after every step the population within budget and the
failure-safe population of the sites opened so far, next to a **bound**: no set of that many
sites of the pool could cover more (the exact maximal-covering optimum where it is cheap,
else the greedy's proven bound). :func:`order_coverage` evaluates any order.

A greedy order is *nested* (step ``t + 1`` keeps the sites of step ``t``), the exact
optimum at each ``t`` is not: the gap between the order's curve and the bound is the price
of rolling out in a fixed order, plus (for a greedy bound) the bound's own slack.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from ..wording import counted
from .cover import identical_row_groups
from .matrix_args import failure_count, reach_pattern, required_mask
from .maxcover import GREEDY_RATIO, max_cover

logger = logging.getLogger(__name__)

__all__ = ["RolloutResult", "rollout_order", "order_coverage", "BOUND_METHODS",
           "EXACT_MAX_SITES", "EXACT_MAX_PAIRS"]

BOUND_METHODS = ("optimal", "greedy", "time_limit")
"""Values of :attr:`RolloutResult.bound_method`: ``optimal`` (the bound is the proven
optimum for that many sites), ``greedy`` (the greedy's data-dependent or ``1 - 1/e``
bound), ``time_limit`` (HiGHS stopped at its time limit: its bound, or the greedy one when
tighter)."""

#: The exact optimum is computed per step only when the pool has at most this many sites...
EXACT_MAX_SITES = 1000
#: ... and the pool's reach (identical rows merged) at most this many (row, site) pairs
#: (the US demo's 412 chosen sites: 5,200 merged pairs, about 0.08 s per step).
EXACT_MAX_PAIRS = 200_000
#: Prefixes of the order at which the greedy bound is evaluated, at most (evenly spaced
#: beyond): each costs a sort of the pool's gains and an update of every step's bound.
MAX_BOUND_PREFIXES = 2000


@dataclass(frozen=True)
class RolloutResult:
    """Result of :func:`rollout_order`; step ``t`` (1-based) is position ``t - 1``.

    Attributes
    ----------
    order : numpy.ndarray
        Column indices of the reach matrix in opening order (the required sites first).
    population_covered : numpy.ndarray
        Weight (population) with at least one opened site in reach after each step.
    population_safe : numpy.ndarray
        Weight with at least ``min(failures + 1, |N_i|)`` opened sites in reach after each
        step (``|N_i|``: sites in reach of the row, see ``n_covering``), the definition of
        :func:`~coverage.solvers.maxcover.max_cover` with ``failures``.
    bound : numpy.ndarray
        Upper bound on the weight any ``t`` sites of the pool cover (the required sites
        among them: the ``t`` best of the required ones for ``t <= n_required``); never
        below ``population_covered``.
    bound_method : numpy.ndarray of str
        How each bound was proven (:data:`BOUND_METHODS`).
    n_required : int
        Required sites (the first ``n_required`` steps).
    failures : int
        Failures the safe population survives.
    exact : bool
        Whether the pool was small enough for the exact per-step optimum
        (:data:`EXACT_MAX_SITES`, :data:`EXACT_MAX_PAIRS`).
    solve_time_s : float
        Wall time, s.
    info : dict
        Sizes and counts (pool sites, rows, pairs, MILP solves, steps proven by each way).
    """

    order: npt.NDArray[np.int64]
    population_covered: npt.NDArray[np.float64]
    population_safe: npt.NDArray[np.float64]
    bound: npt.NDArray[np.float64]
    bound_method: npt.NDArray[np.object_]
    n_required: int
    failures: int
    exact: bool
    solve_time_s: float
    info: dict[str, Any] = field(default_factory=dict)

    def to_frame(self, site_ids: npt.ArrayLike | None = None) -> pd.DataFrame:
        """The order as a table: ``step, site_id, population_covered, population_safe,
        bound, bound_method, required``.

        Parameters
        ----------
        site_ids : array_like, optional
            Id of every column of the reach matrix (default: the column index).

        Returns
        -------
        pandas.DataFrame
            One row per step.
        """
        ids = (self.order if site_ids is None
               else np.asarray(site_ids, dtype=object)[self.order])
        steps = np.arange(1, len(self.order) + 1, dtype=np.int64)
        return pd.DataFrame({
            "step": steps,
            "site_id": ids,
            "population_covered": self.population_covered,
            "population_safe": self.population_safe,
            "bound": self.bound,
            "bound_method": self.bound_method,
            "required": steps <= self.n_required,
        })


def order_coverage(
    reach: sp.sparray | sp.spmatrix | npt.ArrayLike,
    weights: npt.ArrayLike,
    order: npt.ArrayLike,
    need: npt.ArrayLike | int = 1,
) -> npt.NDArray[np.float64]:
    """Weight of the rows with at least ``need_i`` opened sites in reach after each step.

    Vectorised: every stored entry gets the step at which its site opens; per row, the
    ``need_i``-th smallest of those steps is when the row is satisfied; a weighted bincount
    of those steps, accumulated, is the curve. ``O(nnz log nnz)``, no loop.

    Parameters
    ----------
    reach : scipy.sparse matrix/array or array_like, shape (n_demand, n_sites)
        Reach pattern (stored entries of a sparse input, nonzero entries of a dense one).
    weights : array_like of float, shape (n_demand,)
        Row weights (population).
    order : array_like of int
        Columns in opening order (distinct).
    need : int or array_like of int, default 1
        Opened sites in reach a row needs (per row, or one for all); rows with ``need <= 0``
        never count.

    Returns
    -------
    numpy.ndarray
        ``len(order)`` cumulative weights (step 1 first).

    Examples
    --------
    >>> import numpy as np
    >>> reach = np.array([[1, 0], [1, 1], [0, 1]])
    >>> order_coverage(reach, [5.0, 1.0, 2.0], [1, 0]).tolist()
    [3.0, 8.0]
    >>> order_coverage(reach, [5.0, 1.0, 2.0], [1, 0], need=2).tolist()
    [0.0, 1.0]
    """
    a = reach_pattern(reach)
    n, m = a.shape
    w = np.asarray(weights, dtype=np.float64)
    order = np.asarray(order, dtype=np.int64)
    steps = len(order)
    need_arr = np.broadcast_to(np.asarray(need, dtype=np.int64), (n,))
    step_of = np.full(m, steps, dtype=np.int64)  # steps: never opened
    step_of[order] = np.arange(steps, dtype=np.int64)
    sizes = np.diff(a.indptr)
    # one key per entry, sorted in place: rows stay contiguous in CSR row order, their
    # entries by the step their site opens (a lexsort of two arrays held 1 GiB at 25M)
    entry_step = np.repeat(np.arange(n, dtype=np.int64) * (steps + 1), sizes)
    entry_step += step_of[a.indices]
    entry_step.sort()
    entry_step %= steps + 1
    ok = (need_arr >= 1) & (need_arr <= sizes)
    at = entry_step[a.indptr[:-1][ok] + need_arr[ok] - 1]
    hit = at < steps
    # (float even with nothing counted: numpy's bincount of no entries is int64, and
    # rollout.csv read 0 beside 6200.0: tester 151)
    per_step = np.bincount(at[hit], weights=w[ok][hit], minlength=steps)[:steps]
    return np.cumsum(per_step.astype(np.float64))


@dataclass
class _Greedy:
    """The greedy order with its data-dependent bounds (per step ``t``: the least, over the
    prefixes ``S_s`` of the same phase, of ``f(S_s) + sum of the largest marginal gains at
    ``S_s`` over the sites still allowed``)."""

    order: npt.NDArray[np.int64]  # pool positions
    bound: npt.NDArray[np.float64]  # (T,) greedy data-dependent bound, step t at t - 1


def _greedy(a: sp.csr_array, w: npt.NDArray[np.float64], need: npt.NDArray[np.int64],
            fixed: npt.NDArray[np.bool_], n_steps: int, tol: float) -> _Greedy:
    """Greedy order over the pool columns of ``a`` (rows already restricted to rows with a
    pool site and a positive weight), required columns (``fixed``) first.

    Gains are kept up to date by sparse products over the rows whose status changes when a
    site opens (never rebuilt): ``gain_cov = A^T (w * [count == 0])`` and ``gain_safe =
    A^T (w * [count == need - 1])``.
    """
    n, p = a.shape
    at = sp.csr_array(a.T)  # column j's rows: at.indices[at.indptr[j]:at.indptr[j + 1]]
    count = np.zeros(n, dtype=np.int64)
    cov = w.copy()
    safe = np.where(need == 1, w, 0.0)
    gain_cov = at @ cov
    gain_safe = at @ safe
    chosen = np.zeros(p, dtype=bool)
    order = np.empty(n_steps, dtype=np.int64)
    r = int(fixed.sum())
    bound = np.full(n_steps, np.inf)
    stride = max(1, -(-(n_steps + 1) // MAX_BOUND_PREFIXES))
    value = 0.0  # f(S_s): weight covered by the first s sites
    for s in range(n_steps + 1):
        phase1 = s < r
        allowed = (fixed if phase1 else ~fixed) & ~chosen
        if s % stride == 0 or s == n_steps or s == r:
            # bound on the steps of this phase from the prefix S_s (Nemhauser-Wolsey-Fisher)
            g = np.sort(np.maximum(gain_cov[allowed], 0.0))[::-1]
            if phase1:  # t <= r: the best t of the required sites; S_s is a subset of them
                lo, hi = 1, r
                top = np.concatenate([[0.0], np.cumsum(g)])
                k = np.minimum(np.arange(lo, hi + 1), len(g))
            else:  # t > r: sets holding every required site; any t of them adds t - r
                lo, hi = r + 1, n_steps
                top = np.concatenate([[0.0], np.cumsum(g)])
                k = np.minimum(np.arange(lo, hi + 1) - r, len(g))
            if hi >= lo:
                bound[lo - 1:hi] = np.minimum(bound[lo - 1:hi], value + top[k])
            if s == r and r:  # the end of phase 1: f(R) bounds every t <= r
                bound[:r] = np.minimum(bound[:r], value)
        if s == n_steps:
            break
        cand = np.flatnonzero(allowed)
        g = gain_cov[cand]
        near = cand[g >= g.max() - tol]
        gs = gain_safe[near]
        j = int(near[gs >= gs.max() - tol].min())
        order[s] = j
        chosen[j] = True
        rows = at.indices[at.indptr[j]:at.indptr[j + 1]]
        value += float(cov[rows].sum())
        count[rows] += 1
        new_cov = np.where(count[rows] == 0, w[rows], 0.0)
        new_safe = np.where(count[rows] == need[rows] - 1, w[rows], 0.0)
        d_cov, d_safe = new_cov - cov[rows], new_safe - safe[rows]
        moved = (d_cov != 0) | (d_safe != 0)
        if moved.any():
            sub = sp.csr_array(a[rows[moved]])
            gain_cov += sub.T @ d_cov[moved]
            gain_safe += sub.T @ d_safe[moved]
            cov[rows] = new_cov
            safe[rows] = new_safe
    return _Greedy(order=order, bound=bound)


def _merged(a: sp.csr_array, w: npt.NDArray[np.float64]
            ) -> tuple[sp.csr_array, npt.NDArray[np.float64]]:
    """Identical rows merged (weights summed): the MCLP input, exact."""
    groups = identical_row_groups(a, np.random.default_rng(0))
    if groups is None:
        return a, w
    first, inverse = groups
    return (sp.csr_array(a[first]),
            np.bincount(inverse, weights=w, minlength=len(first)).astype(np.float64))


def rollout_order(
    reach: sp.sparray | sp.spmatrix | npt.ArrayLike,
    population: npt.ArrayLike,
    pool: npt.ArrayLike | None = None,
    *,
    failures: int = 1,
    required: npt.ArrayLike | None = None,
    n_covering: npt.ArrayLike | None = None,
    n_steps: int | None = None,
    exact_max_sites: int = EXACT_MAX_SITES,
    exact_max_pairs: int = EXACT_MAX_PAIRS,
    time_limit_s: float = 2.0,
    total_time_limit_s: float = 30.0,
) -> RolloutResult:
    """The order in which to open the sites of ``pool``: most population first, with a bound.

    Step ``t`` opens one more site: among the sites not yet open, the one that brings the
    most population newly within budget; ties (within a relative ``1e-12`` for non-integer
    weights) go to the one making the most population newly safe (``min(failures + 1,
    |N_i|)`` open sites in reach), then to the lowest column. The required sites open first
    (steps ``1..r``, in the same greedy order among themselves). Once everyone the pool can
    reach is within budget, the order continues by safe population alone.

    Parameters
    ----------
    reach : scipy.sparse matrix/array or array_like, shape (n_demand, n_sites)
        Which sites are within budget of which demand points (stored entries of a sparse
        input, nonzero entries of a dense one).
    population : array_like of float, shape (n_demand,)
        Non-negative weights.
    pool : array_like, optional
        Columns to order (integer indices or a boolean mask); default every column.
    failures : int, default 1
        Failures a safe point survives: it needs ``min(failures + 1, |N_i|)`` open sites in
        reach (1: N-1 safe, the definition of :func:`~coverage.solvers.maxcover.max_cover`
        with ``failures=1``).
    required : array_like, optional
        Columns open first (indices or a mask over the columns); must be in the pool.
    n_covering : array_like of int, optional
        ``|N_i|`` of every row (default: its stored entries in ``reach``). Pass the count
        over every candidate when ``reach`` holds only some columns (row generation).
    n_steps : int, optional
        Stop after this many steps (default: the whole pool; at least the required sites).
    exact_max_sites, exact_max_pairs : int
        The per-step exact optimum is computed only for a pool of at most this many sites
        whose reach (identical rows merged) has at most this many pairs.
    time_limit_s : float, default 2
        HiGHS time limit of each exact step, s.
    total_time_limit_s : float, default 30
        Time for all exact steps together, s: no exact solve starts after it (the one under
        way may take its ``time_limit_s`` more); steps left keep the greedy bound (logged).

    Returns
    -------
    RolloutResult

    Raises
    ------
    ValueError
        Bad shapes or weights, an empty pool, required sites outside the pool, bad
        ``failures`` or ``n_steps``.

    Notes
    -----
    Bound at step ``t`` (an upper bound on the weight any ``t`` sites of the pool cover,
    the required ones among them; for ``t <= r``: any ``t`` of the required ones), the
    least of:

    * the exact optimum, :func:`~coverage.solvers.maxcover.max_cover` with ``p = t`` on the
      pool's columns (identical rows merged once), when the pool is within
      ``exact_max_sites`` / ``exact_max_pairs``, within the time limits, and the cheaper
      bounds below do not already meet the order's own coverage;
    * the greedy's data-dependent bound (Nemhauser, Wolsey and Fisher 1978): coverage is
      monotone submodular, so for every prefix ``S_s`` of the order, ``OPT_t <= f(S_s) +``
      the sum of the ``t - r`` largest marginal gains at ``S_s`` (``t`` for ``t <= r``);
      evaluated at every prefix (at most :data:`MAX_BOUND_PREFIXES`, evenly spaced);
    * the ``1 - 1/e`` guarantee of the greedy order: ``OPT_t <= f(R) + (f(S_t) - f(R)) /
      (1 - 1/e)``;
    * the bound of step ``t + 1`` (``OPT_t <= OPT_{t+1}``).

    For integer weights the bound is rounded down. The order's coverage ``f(S_t)`` is never
    above it; the exact optima are not nested, so the bound can exceed the order's coverage
    even where both are proven. Cost: each greedy step is a sparse product over the rows
    whose status changes (``O(nnz)`` over the whole order) plus an argmax over the pool;
    the bound adds a sort of the pool's gains per evaluated prefix.

    Examples
    --------
    >>> import numpy as np
    >>> reach = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]])
    >>> res = rollout_order(reach, [5, 1, 1, 4])
    >>> res.order.tolist(), res.population_covered.tolist(), res.bound.tolist()
    ([0, 2, 1], [6.0, 11.0, 11.0], [6.0, 11.0, 11.0])
    >>> res.bound_method.tolist()
    ['optimal', 'optimal', 'optimal']
    """
    t0 = time.perf_counter()
    a = reach_pattern(reach)
    n, m = a.shape
    w = np.asarray(population, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or (w < 0).any():
        raise ValueError("population must be one finite non-negative value per demand row")
    k = failure_count(failures)
    pool_cols = (np.arange(m, dtype=np.int64) if pool is None
                 else np.flatnonzero(required_mask(pool, m)).astype(np.int64))
    if not len(pool_cols):
        raise ValueError("the pool of sites to order is empty")
    fixed_all = required_mask(required, m)
    if (fixed_all & ~required_mask(pool_cols, m)).any():
        raise ValueError("required sites must be in the pool")
    fixed = fixed_all[pool_cols]
    r = int(fixed.sum())
    total_steps = len(pool_cols) if n_steps is None else int(n_steps)
    if isinstance(n_steps, bool) or not r <= total_steps <= len(pool_cols) or total_steps < 1:
        raise ValueError(f"n_steps must be between max(1, the {r} required sites) and the "
                         f"{len(pool_cols)} sites of the pool; got {n_steps!r}")
    n_cov = (np.diff(a.indptr).astype(np.int64) if n_covering is None
             else np.asarray(n_covering, dtype=np.int64))
    if n_cov.shape != (n,) or (n_cov < np.diff(a.indptr)).any():
        raise ValueError("n_covering must be one count per demand row, at least its sites "
                         "in reach")
    need = np.minimum(k + 1, n_cov)

    # the pool's columns, rows with a pool site in reach and a positive weight
    # (copies only where something is left out: a national pattern is 10M rows)
    ap = a if pool is None else sp.csr_array(a[:, pool_cols])
    del a
    ap.sort_indices()
    keep = (np.diff(ap.indptr) > 0) & (w > 0)
    if not keep.all():
        ap = sp.csr_array(ap[np.flatnonzero(keep)])
    wk, needk = w[keep], need[keep]
    integral = bool(np.all(wk == np.round(wk)))
    total = float(wk.sum())
    tol = 0.0 if integral else 1e-12 * max(total, 1.0)  # ties between gains
    slack = 0.0 if integral else 1e-9 * max(total, 1.0)  # rounding of incremental gains

    g = _greedy(ap, wk, needk, fixed, total_steps, tol)
    covered = order_coverage(ap, wk, g.order)
    safe = order_coverage(ap, wk, g.order, needk)
    steps = np.arange(1, total_steps + 1)
    base = covered[r - 1] if r else 0.0
    ratio = np.where(steps <= r, covered / GREEDY_RATIO,
                     base + (covered - base) / GREEDY_RATIO)
    bound = np.minimum(g.bound, ratio)
    bound = np.minimum(bound, total)
    bound = bound + slack
    method = np.full(total_steps, "greedy", dtype=object)

    # exact optima where cheap, on the pool's columns with identical rows merged once
    exact = merged = len(pool_cols) <= exact_max_sites
    if merged:  # (merging a national pattern's rows held 1.5 GiB at 10M rows)
        am, wm = _merged(ap, wk)
        exact = am.nnz <= exact_max_pairs
    solves, exact_left = 0, 0
    fixed_pos = np.flatnonzero(fixed)

    def proven(t: int) -> bool:  # the order's own coverage meets the bound
        return bool(_floor(bound[t - 1], integral) <= covered[t - 1] + 2 * slack
                    + 1e-12 * abs(covered[t - 1]))

    if exact:
        deadline = t0 + float(total_time_limit_s)
        everyone = total_steps + 1  # first step whose optimum is proven to be everyone
        for t in range(1, total_steps + 1):
            if proven(t):
                continue
            if t > everyone and t > r:  # OPT_t >= OPT_everyone = total
                bound[t - 1], method[t - 1] = total, "optimal"
                continue
            left = deadline - time.perf_counter()
            if left <= 0:
                exact_left = int(sum(not proven(u) for u in range(t, total_steps + 1)))
                logger.info("rollout: the exact time (%g s) ran out at step %d; %d later "
                            "step(s) keep the greedy bound", total_time_limit_s, t,
                            exact_left)
                break
            limit = max(min(float(time_limit_s), left), 0.01)
            if t <= r:  # the best t of the required sites
                res = max_cover(sp.csr_array(am[:, fixed_pos]), t, wm, time_limit_s=limit,
                                log_level=logging.DEBUG)
            else:
                res = max_cover(am, t, wm, time_limit_s=limit, required=fixed,
                                log_level=logging.DEBUG)
            solves += 1
            if res.upper_bound < bound[t - 1]:
                bound[t - 1] = res.upper_bound
            if res.status == "optimal":
                method[t - 1] = "optimal"
                if t >= r and res.upper_bound >= total - slack - 1e-12 * total:
                    everyone = min(everyone, t)
            elif res.status == "time_limit":
                method[t - 1] = "time_limit"
    # OPT_t <= OPT_{t+1}: each bound at most the next one's
    bound = np.minimum.accumulate(bound[::-1])[::-1]
    bound = np.maximum(np.array([_floor(b, integral) for b in bound]), covered)
    tight = np.array([proven(t) for t in steps], dtype=bool)
    method[tight] = "optimal"
    bound[tight] = covered[tight]
    elapsed = time.perf_counter() - t0
    counts = {name: int((method == name).sum()) for name in BOUND_METHODS}
    info = {"pool_sites": int(len(pool_cols)), "rows": int(ap.shape[0]),
            # identical rows merged for the exact optima only (None: not tried)
            "rows_merged": int(am.shape[0]) if merged else None, "pairs": int(ap.nnz),
            "pairs_merged": int(am.nnz) if merged else None, "exact_solves": solves,
            "exact_steps_not_reached": exact_left, "steps_by_bound_method": counts}
    logger.info("rollout: %s over %s, %s; bounds %s; %s, %.2f s",
                counted(total_steps, "step"), counted(len(pool_cols), "site"),
                counted(ap.shape[0], "row"), counts, counted(solves, "exact solve"), elapsed)
    return RolloutResult(order=pool_cols[g.order], population_covered=covered,
                         population_safe=safe, bound=bound, bound_method=method,
                         n_required=r, failures=k, exact=exact, solve_time_s=elapsed,
                         info=info)


def _floor(value: float, integral: bool) -> float:
    """``value`` rounded down to an integer for integer weights (no set covers a fraction
    of a person), with a margin for floating-point sums."""
    if integral and np.isfinite(value):
        return float(np.floor(value + 1e-6))
    return float(value)
