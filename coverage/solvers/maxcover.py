"""Maximal covering (MCLP): the most client weight within reach of ``p`` open facilities.

* :func:`max_cover` — exact MILP with HiGHS (:func:`coverage.solvers.highs.solve_milp`,
  both gaps 0) after merging
  identical rows (weights summed) and fixing the required facilities; the greedy plan is its
  fallback and its bound is kept when HiGHS stops early.
* :func:`max_cover_lexicographic` — the most weight covered once, then, among those optima,
  the most weight covered ``failures + 1`` times (a second MILP with the first objective
  fixed as a constraint);
* :func:`max_cover_greedy` — the greedy plan alone, with the ``1 - 1/e`` guarantee and the
  tighter data-dependent bound of the greedy steps (Nemhauser, Wolsey and Fisher 1978).

Both open **exactly** ``p`` facilities, like spopt's ``MCLP``: opening one more facility never
uncovers a client, so the optimum is the same as with *at most* ``p``; facilities the plan
does not need are added by index to reach ``p``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..errors import NoFeasiblePlanError, SolverError
from .cover import identical_row_groups
from .highs import solve_milp
from .matrix_args import facility_count, failure_count, reach_pattern, required_mask

logger = logging.getLogger(__name__)

__all__ = ["MaxCoverResult", "LexCoverResult", "max_cover", "max_cover_greedy",
           "max_cover_lexicographic"]

#: ``1 - 1/e``: the share of the optimum the greedy plan is guaranteed to cover.
GREEDY_RATIO = 1.0 - float(np.exp(-1.0))


@dataclass(frozen=True)
class MaxCoverResult:
    """Result of :func:`max_cover` and :func:`max_cover_greedy` (a maximisation).

    Attributes
    ----------
    sites : numpy.ndarray
        Open facility indices, sorted (exactly ``p`` of them).
    objective : float
        Weight of the covered clients.
    upper_bound : float
        Proven upper bound: no ``p`` facilities cover more weight (``objective`` when
        optimal; rounded down for integer weights).
    status : str
        ``"optimal"``, ``"time_limit"`` (HiGHS stopped early: best plan and its bound) or
        ``"greedy"`` (:func:`max_cover_greedy`, or HiGHS found nothing better in time).
    mip_gap : float
        ``(upper_bound - objective) / upper_bound`` (0 when optimal).
    solve_time_s : float
        Wall time, s.
    reductions : dict
        Rows, merged rows, rows covered by the required facilities, model size.
    """

    sites: npt.NDArray[np.int64]
    objective: float
    upper_bound: float
    status: str
    mip_gap: float
    solve_time_s: float
    reductions: dict[str, int] = field(default_factory=dict)

    @property
    def lower_bound(self) -> float:
        """Proven lower bound on the optimum: the plan's own value (``objective``).

        Named like the minimisation solvers' field so that every matrix solver's result has
        ``.lower_bound``; the bound on the other side is :attr:`upper_bound`.
        """
        return self.objective

    @property
    def runtime_s(self) -> float:
        """Wall time, s (``solve_time_s``)."""
        return self.solve_time_s


#: Weights are scaled by a power of two (exact) that brings the heaviest to
#: ``(2**(WEIGHT_TOP_EXP - 1), 2**WEIGHT_TOP_EXP]`` for HiGHS. HiGHS prunes a search node whose
#: bound is within its feasibility tolerance (1e-6, in the objective's units, whatever the
#: gaps) of the best plan, so a client lighter than about 1e-6 of the heaviest could be
#: traded under "optimal" with the heaviest scaled to 1 (:func:`coverage.solvers.cover.
#: cost_scale`; 82 of 2,000 random brute-force instances with weights 1e-6 to 1e9); at 2**20
#: that is about 1e-12 of the heaviest. Hand measurement, 2026-12-04, SciPy's milp: 2**10,
#: 2**14 and 2**20 left 40, 25 and 8; through solve_milp at 2**20, 4, each below 1e-13 of
#: the total.
WEIGHT_TOP_EXP = 20


#: Level-1 models (always feasible) with fewer entries run without HiGHS's presolve: on the
#: first 60 exact rollout steps of the US demo plan (1,563 merged rows x 412 sites) 60
#: solves took 5.1 s with it and 2.8-3.0 s without (SciPy's HiGHS, before: 3.4 s). The level-2
#: model keeps it: without, HiGHS found it infeasible at p=300 there (hand measurements,
#: 2026-12-04; no difference seen on 141k-385k-entry models at their 60 s limit).
PRESOLVE_MIN_NNZ = 100_000


def weight_scale(w: npt.ArrayLike) -> float:
    """Power of two that brings the largest weight to ``(2**19, 2**20]`` (:data:`WEIGHT_TOP_EXP`).

    Parameters
    ----------
    w : array_like of float
        Non-negative finite weights.

    Returns
    -------
    float
        The factor (1 when every weight is 0).

    Examples
    --------
    >>> weight_scale([3.0, 1.0]) * 3.0, weight_scale([0.0])
    (786432.0, 1.0)
    """
    top = float(np.max(np.asarray(w, dtype=np.float64), initial=0.0))
    if top <= 0:
        return 1.0
    return float(2.0 ** (WEIGHT_TOP_EXP - np.ceil(np.log2(top))))


@dataclass(frozen=True)
class _Setup:
    """The validated instance and its reduction to the free facilities and open rows."""

    a: sp.csr_array  # (n, m) pattern of the input
    w: npt.NDArray[np.float64]  # (n,) weights
    r: npt.NDArray[np.int64]  # (n,) facilities a client needs: min(k + 1, |N_i|), 0 if none
    p: int
    fixed: npt.NDArray[np.bool_]  # (m,) required facilities
    sub: sp.csr_array  # merged rows still short after the required ones x free useful cols
    need: npt.NDArray[np.int64]  # their remaining requirement
    sub_w: npt.NDArray[np.float64]  # their summed weights
    cols: npt.NDArray[np.int64]  # the free useful facilities (columns of sub)
    k_free: int  # facilities left to open
    reductions: dict[str, int]


def _setup(reach, p, weights, required, failures: int) -> _Setup:
    a = reach_pattern(reach)
    n, m = a.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or (w < 0).any():
        raise ValueError("weights must be one finite non-negative value per client")
    p = facility_count(p, m)
    failures = failure_count(failures)
    fixed = required_mask(required, m)
    if fixed.sum() > p:
        raise NoFeasiblePlanError(f"{int(fixed.sum())} required facilities exceed p={p}")
    sizes = np.diff(a.indptr).astype(np.int64)
    r = np.minimum(int(failures) + 1, sizes)
    # rows worth covering: some facility in reach and a positive weight; identical rows
    # (same facility set, hence the same requirement and required count) merge, weights summed
    rows = np.flatnonzero((sizes > 0) & (w > 0))
    a_rows = sp.csr_array(a[rows])
    groups = identical_row_groups(a_rows, np.random.default_rng(0))
    if groups is None:
        first, inverse = np.arange(len(rows)), np.arange(len(rows))
    else:
        first, inverse = groups
    a_m = sp.csr_array(a_rows[first])
    w_m = np.bincount(inverse, weights=w[rows], minlength=len(first)).astype(np.float64)
    r_m = r[rows][first]
    have = a_m @ fixed.astype(np.int64)
    need = r_m - have
    short = need > 0
    free = np.flatnonzero(~fixed)
    sub = sp.csr_array(a_m[short][:, free])
    used = np.diff(sp.csc_array(sub).indptr) > 0
    cols = free[used]
    sub = sp.csr_array(sub[:, np.flatnonzero(used)])
    reductions = {
        "rows": n,
        "rows_unreachable_or_weightless": n - len(rows),
        "rows_merged_identical": len(rows) - len(first),
        "rows_covered_by_required": int((~short).sum()),
        "rows_in_model": int(short.sum()),
        "sites_in_model": int(len(cols)),
    }
    return _Setup(a, w, r, p, fixed, sub, need[short], w_m[short], cols,
                  p - int(fixed.sum()), reductions)


def _covered_weight(s: _Setup, is_open: npt.NDArray[np.bool_]) -> float:
    """Weight of the clients with at least ``r_i`` open facilities in reach (``r_i >= 1``)."""
    count = s.a @ is_open.astype(np.int64)
    return float(s.w[(s.r > 0) & (count >= s.r)].sum())


def _greedy(s: _Setup) -> tuple[npt.NDArray[np.bool_], float]:
    """Greedy opening of ``k_free`` columns of the reduced model.

    Each step opens the column with the largest ``sum w_i / need_i`` over the rows it helps
    that are still short (for ``need_i = 1`` that is the exact weight it newly covers).
    Returns the chosen columns and, when every requirement is 1 (the coverage function is
    then monotone submodular), the smallest Nemhauser-Wolsey-Fisher bound over the steps:
    for any set ``S``, ``OPT <= f(S) + sum of the k largest marginal gains at S``; else inf.
    """
    sub, need, w = s.sub, s.need, s.sub_w
    k = min(s.k_free, len(s.cols))
    at = sp.csr_array(sub.T)
    csc = sp.csc_array(sub)
    chosen = np.zeros(len(s.cols), dtype=bool)
    have = np.zeros(len(need), dtype=np.int64)
    submodular = bool(np.all(need <= 1))
    value, bound = 0.0, np.inf
    for _ in range(k + 1):
        short = have < need
        gain = at @ np.where(short, w / np.maximum(need - have, 1), 0.0)
        gain[chosen] = 0.0
        if submodular:
            top = np.partition(gain, len(gain) - k)[len(gain) - k:] if k else gain[:0]
            value = float(w[~short].sum())
            bound = min(bound, value + float(top.sum()))
        if chosen.sum() == k:
            break
        gain[chosen] = -1.0
        j = int(np.argmax(gain))
        chosen[j] = True
        have[csc.indices[csc.indptr[j]:csc.indptr[j + 1]]] += 1
    return chosen, bound


def _finish(s: _Setup, chosen_cols: npt.NDArray[np.int64], status: str, upper: float,
            t0: float, log_level: int = logging.INFO) -> MaxCoverResult:
    """Open the required and chosen facilities, pad to exactly ``p`` by index, report."""
    is_open = s.fixed.copy()
    is_open[chosen_cols] = True
    missing = s.p - int(is_open.sum())
    if missing > 0:
        is_open[np.flatnonzero(~is_open)[:missing]] = True
    objective = _covered_weight(s, is_open)
    integral = bool(np.all(s.w == np.round(s.w)))
    if status == "optimal":
        upper = objective
    elif integral and np.isfinite(upper):
        upper = float(np.floor(upper + 1e-6))
    total = float(s.w[s.r > 0].sum())
    upper = float(min(max(upper, objective), total))
    gap = 0.0 if upper <= 0 else (upper - objective) / upper
    elapsed = time.perf_counter() - t0
    logger.log(log_level, "max cover: p=%d, covered %.6g, bound %.6g, status %s, %.2f s",
               s.p, objective, upper, status, elapsed)
    return MaxCoverResult(np.flatnonzero(is_open).astype(np.int64), objective, upper, status,
                          gap, elapsed, s.reductions)


def max_cover_greedy(
    reach: sp.sparray | sp.spmatrix | npt.ArrayLike,
    p: int,
    weights: npt.ArrayLike | None = None,
    *,
    required: npt.ArrayLike | None = None,
) -> MaxCoverResult:
    """Greedy maximal covering with a proven bound (no MILP).

    Opens the required facilities, then ``p - |required|`` more, each the one that newly
    covers the most weight. The coverage function is monotone submodular, so the plan covers
    at least ``1 - 1/e`` (63.2 %) of the optimum's weight beyond what the required facilities
    cover; ``upper_bound`` is the tighter of that guarantee and the data-dependent bound
    ``f(S_t) + (sum of the p largest marginal gains at S_t)`` over the greedy steps ``S_t``.

    Parameters and the reduction are those of :func:`max_cover` (single cover only).

    Returns
    -------
    MaxCoverResult
        ``status="greedy"`` (``"optimal"`` when the bound meets the plan).
    """
    t0 = time.perf_counter()
    s = _setup(reach, p, weights, required, 0)
    chosen, bound = _greedy(s)
    base = _covered_weight(s, s.fixed)
    value = base + float(s.sub_w[(s.sub @ chosen.astype(np.int64)) >= 1].sum())
    upper = min(base + bound, base + (value - base) / GREEDY_RATIO)
    status = "optimal" if upper <= value * (1 + 1e-12) else "greedy"
    return _finish(s, s.cols[chosen], status, upper, t0)


def max_cover(
    reach: sp.sparray | sp.spmatrix | npt.ArrayLike,
    p: int,
    weights: npt.ArrayLike | None = None,
    *,
    failures: int = 0,
    time_limit_s: float = 60.0,
    required: npt.ArrayLike | None = None,
    log_level: int = logging.INFO,
) -> MaxCoverResult:
    """Maximal covering location problem (MCLP), solved to proven optimality when time allows.

    Open exactly ``p`` facilities maximising the total weight of the clients that have at
    least ``min(failures + 1, |N_i|)`` open facilities among their reachable ones ``N_i``
    (``failures=0``: at least one; ``failures=1``: two, so the client stays covered when any
    one facility fails; a client with fewer reachable facilities than that needs all of
    them). Clients with nothing in reach are never covered.

    Parameters
    ----------
    reach : scipy.sparse matrix/array or array_like, shape (n_clients, n_facilities)
        Which facilities reach which clients: the stored entries of a sparse matrix (values
        ignored) or the nonzero entries of a dense one (e.g. ``cost <= radius``).
    p : int
        Number of facilities to open, ``1 <= p <= n_facilities``.
    weights : array_like of float, optional
        Non-negative client weights (population); default 1 (count clients).
    failures : int, default 0
        Facility failures a covered client must survive (see above).
    time_limit_s : float, default 60
        HiGHS time limit, s. When it runs out the best plan and HiGHS's bound are returned
        with ``status="time_limit"``.
    required : array_like, optional
        Facilities that must be open: a boolean mask over the facilities or integer indices.
    log_level : int, default logging.INFO
        Level of the one-line result logged (callers that solve many, such as
        :func:`coverage.solvers.rollout.rollout_order`, pass ``logging.DEBUG``).

    Returns
    -------
    MaxCoverResult
        ``sites``, ``objective`` (covered weight), ``upper_bound`` (and ``lower_bound``, the
        plan's own value), ``status``, ``mip_gap``, ``solve_time_s`` / ``runtime_s``.

    Raises
    ------
    ValueError
        Bad shapes, weights, ``p`` or ``failures``.
    NoFeasiblePlanError
        More required facilities than ``p``.

    Notes
    -----
    Reductions (exact): clients with nothing in reach or zero weight are dropped; clients
    with the same reachable set merge (weights summed); the required facilities are opened
    and the clients they already cover leave the model, the others keep their remaining
    requirement ``need_i``; facilities that reach no remaining client leave it. The model is

    ``max sum_i w_i z_i  s.t.  need_i z_i <= sum_{j in N_i} y_j,  sum_j y_j <= p - |required|``

    with ``y`` binary, and ``z_i`` continuous in [0, 1] where ``need_i = 1`` (for binary
    ``y`` its best value is 0 or 1), binary otherwise. Weights are scaled by a power of two
    (exact) that brings the heaviest near 2**20 (:func:`weight_scale`), and HiGHS's gaps are
    0: a client lighter than about 1e-12 of the heaviest can still be traded under
    "optimal" (HiGHS prunes within its 1e-6 feasibility tolerance).
    The greedy plan (:func:`max_cover_greedy`'s rule) is the fallback; for single cover its
    bound is also kept when HiGHS's own bound is weaker.

    Examples
    --------
    >>> import numpy as np
    >>> reach = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]])
    >>> res = max_cover(reach, 1, weights=[5, 1, 1, 4])
    >>> res.sites.tolist(), res.objective, res.status
    ([0], 6.0, 'optimal')
    """
    t0 = time.perf_counter()
    s = _setup(reach, p, weights, required, failures)
    chosen, bound = _greedy(s)
    base = _covered_weight(s, s.fixed)
    nr, nc = s.sub.shape
    if nr == 0 or s.k_free >= nc:  # nothing left to decide: open every useful facility
        return _finish(s, s.cols, "optimal", np.inf, t0, log_level)
    scale = weight_scale(s.sub_w)
    coo = sp.coo_array(s.sub)
    rows = np.concatenate([coo.row, np.arange(nr), np.full(nc, nr)])
    cols = np.concatenate([coo.col, nc + np.arange(nr), np.arange(nc)])
    vals = np.concatenate([-np.ones(coo.nnz), s.need.astype(np.float64), np.ones(nc)])
    matrix = sp.csr_array((vals, (rows, cols)), shape=(nr + 1, nc + nr))
    upper_rows = np.concatenate([np.zeros(nr), [float(s.k_free)]])
    integrality = np.concatenate([np.ones(nc), (s.need >= 2).astype(np.float64)])
    res = solve_milp(np.concatenate([np.zeros(nc), -s.sub_w * scale]), integrality, matrix,
                     np.full(nr + 1, -np.inf), upper_rows, time_limit_s=time_limit_s,
                     presolve=matrix.nnz >= PRESOLVE_MIN_NNZ)
    greedy_value = float(s.sub_w[(s.sub @ chosen.astype(np.int64)) >= s.need].sum())
    if res.x is not None:
        y = res.x[:nc] > 0.5
        value = float(s.sub_w[(s.sub @ y.astype(np.int64)) >= s.need].sum())
        if value >= greedy_value:
            chosen, greedy_value = y, value
    if res.status == "optimal":
        return _finish(s, s.cols[chosen], "optimal", np.inf, t0, log_level)
    if res.status == "time_limit":  # HiGHS's bound, or the greedy one when tighter
        upper = base + (-res.dual_bound / scale if np.isfinite(res.dual_bound)
                        else float(s.sub_w.sum()))
        upper = min(upper, base + bound)
        status = "time_limit" if res.x is not None else "greedy"
        return _finish(s, s.cols[chosen], status, upper, t0, log_level)
    raise SolverError(f"HiGHS failed on the max-cover model: {res.message}")


@dataclass(frozen=True)
class LexCoverResult:
    """Result of :func:`max_cover_lexicographic` (two maximisations, the first one first).

    Attributes
    ----------
    sites : numpy.ndarray
        Open facility indices, sorted (exactly ``p`` of them).
    objective : float
        Weight of the clients with at least one open facility in reach (primary).
    upper_bound : float
        Proven upper bound on the primary objective.
    status : str
        ``"optimal"`` when both levels are proven (the plan is a lexicographic optimum),
        else ``"time_limit"``.
    mip_gap : float
        Relative gap of the primary objective.
    secondary : float
        Weight of the clients with at least ``failures + 1`` open facilities in reach
        (clients reaching fewer candidates than that never count); with failure domains,
        with their open facilities in reach in ``failures + 1`` domains or more.
    secondary_upper_bound : float
        Proven upper bound on the secondary objective among the plans whose primary value
        is at least this plan's (``secondary`` when proven).
    secondary_status : str
        ``"optimal"``, ``"time_limit"``, ``"not needed"`` (nothing left to decide) or
        ``"not proven"`` (HiGHS found the level-2 model numerically infeasible: level 1's
        plan is kept, unproven).
    solve_time_s : float
        Wall time of both levels, s.
    reductions : dict
        The primary solve's reductions.
    """

    sites: npt.NDArray[np.int64]
    objective: float
    upper_bound: float
    status: str
    mip_gap: float
    secondary: float
    secondary_upper_bound: float
    secondary_status: str
    solve_time_s: float
    reductions: dict[str, int] = field(default_factory=dict)

    @property
    def lower_bound(self) -> float:
        """The plan's own primary value (a maximisation; see :attr:`upper_bound`)."""
        return self.objective

    @property
    def runtime_s(self) -> float:
        """Wall time, s (``solve_time_s``)."""
        return self.solve_time_s


def max_cover_lexicographic(
    reach: sp.sparray | sp.spmatrix | npt.ArrayLike,
    p: int,
    weights: npt.ArrayLike | None = None,
    *,
    failures: int = 1,
    time_limit_s: float = 60.0,
    required: npt.ArrayLike | None = None,
    domain_codes: npt.ArrayLike | None = None,
) -> LexCoverResult:
    """The most weight within reach of ``p`` facilities; among those plans, the most weight
    within reach of ``failures + 1`` of them (a lexicographic MCLP).

    With ``domain_codes`` (every facility's failure domain, shared-risk groups) level 2
    counts a client when its open facilities in reach lie in ``failures + 1`` domains:
    only clients whose facilities in reach span that many can count, and each gets the
    rows of :func:`coverage.solvers.domain_rows.domain_rows_by_point` (for every set
    ``F`` of at most ``failures`` of its domains holding two or more of its facilities,
    ``failures + 1 - |F|`` open ones outside ``F``), each scaled by its ``u_i``.

    Level 1 is :func:`max_cover` (single cover, value ``V``). Level 2 is a second MILP on
    the same variables with level 1 turned into a constraint:

    ``max sum_i w_i u_i  s.t.  sum_i w_i z_i >= V - tol,  z_i <= sum_{j in N_i} y_j,
    need_i u_i <= sum_{j in N_i} y_j,  sum_j y_j <= p - |required|``

    where ``u_i`` exists only for clients reaching at least ``t = failures + 1``
    facilities (``need_i = t`` minus their required ones; a client reaching fewer can never
    survive ``failures`` failures and never counts), binary when ``need_i >= 2``. ``tol``
    is half the scaled weight unit for integer weights (exact: no plan covers between
    ``V - 1/2`` and ``V``) and ``1e-12 V`` otherwise (``1e-9 V`` when HiGHS finds that
    model infeasible, which its presolve can); the plan is then re-evaluated and kept
    only when its level-1 value is at least ``V`` (else level 1's plan stays), so level 1
    is never traded; plans are compared on the rows where they differ (a row of 1e-4
    beside rows of 3e8 vanishes in a total's rounding). A plan that drops rows too light
    for the tolerances is solved again with those rows' total held (on a scale of its
    own); the first solve's value is then the bound, and the status says whether the plan
    kept meets it. Level 2's objective has a scale of its own. A weighted single
    objective was not used: its exact weight (more than the whole level-2 weight per unit
    of level 1) needs products of populations beyond double precision.

    Parameters
    ----------
    reach, p, weights, time_limit_s, required
        As in :func:`max_cover` (each level gets ``time_limit_s``).
    failures : int, default 1
        Level 2 counts the clients with ``failures + 1`` open facilities in reach (N-1 safe
        for 1); must be at least 1.

    Returns
    -------
    LexCoverResult

    Examples
    --------
    >>> import numpy as np
    >>> reach = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]])
    >>> res = max_cover_lexicographic(reach, 2, weights=[1, 1, 5])
    >>> res.sites.tolist(), res.objective, res.secondary
    ([0, 2], 7.0, 5.0)
    """
    from .domain_rows import domain_rows_by_point, row_domains

    t0 = time.perf_counter()
    if isinstance(failures, bool) or int(failures) != failures or failures < 1:
        raise ValueError("failures must be an integer >= 1 for the second level")
    t = int(failures) + 1
    first = max_cover(reach, p, weights, failures=0, time_limit_s=time_limit_s,
                      required=required)
    s = _setup(reach, p, weights, required, 0)
    a, w = s.a, s.w
    codes = None if domain_codes is None else np.asarray(domain_codes, dtype=np.int64)
    if codes is not None and codes.shape != (a.shape[1],):
        raise ValueError(f"domain_codes must be one code per facility ({a.shape[1]})")
    sizes = np.diff(a.indptr).astype(np.int64)
    is_first = np.zeros(a.shape[1], dtype=bool)
    is_first[first.sites] = True

    def covered(is_open: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.bool_], ...]:
        """Clients with an open facility in reach, and those counted at level 2."""
        count = a @ is_open.astype(np.int64)
        if codes is None:
            return count >= 1, count >= t
        at = np.flatnonzero(is_open)
        return count >= 1, row_domains(a[:, at], codes[at]) >= t

    def level_values(is_open: npt.NDArray[np.bool_]) -> tuple[float, float]:
        c1, c2 = covered(is_open)
        return float(w[c1].sum()), float(w[c2].sum())

    v1, v2 = level_values(is_first)

    def done(is_open, sec_upper, sec_status) -> LexCoverResult:
        missing = s.p - int(is_open.sum())
        if missing > 0:
            is_open = is_open.copy()
            is_open[np.flatnonzero(~is_open)[:missing]] = True
        prim, sec = level_values(is_open)
        upper = max(first.upper_bound, prim)
        gap = 0.0 if upper <= 0 else (upper - prim) / upper
        sec_upper = max(float(sec_upper), sec)
        status = ("optimal" if first.status == "optimal" and sec_status in ("optimal",
                                                                             "not needed")
                  else "time_limit")
        elapsed = time.perf_counter() - t0
        logger.info("lexicographic max cover: p=%d, covered %.6g, %d-covered %.6g (bound "
                    "%.6g), status %s, %.2f s", s.p, prim, t, sec, sec_upper, status, elapsed)
        return LexCoverResult(np.flatnonzero(is_open).astype(np.int64), prim, upper, status,
                              gap, sec, sec_upper, sec_status, elapsed, first.reductions)

    # merged rows (identical reach sets, weights summed) with some facility and weight
    rows = np.flatnonzero((sizes > 0) & (w > 0))
    a_rows = sp.csr_array(a[rows])
    groups = identical_row_groups(a_rows, np.random.default_rng(0))
    first_rows, inverse = ((np.arange(len(rows)), np.arange(len(rows))) if groups is None
                           else groups)
    a_m = sp.csr_array(a_rows[first_rows])
    w_m = np.bincount(inverse, weights=w[rows], minlength=len(first_rows)).astype(np.float64)
    size_m = sizes[rows][first_rows]
    have = a_m @ s.fixed.astype(np.int64)
    short1 = have < 1
    if codes is None:
        eligible = size_m >= t  # (fewer facilities in reach: never level 2)
        short2 = eligible & (have < t)
    else:  # facilities in reach in t domains or more; the required ones' domains
        eligible = row_domains(a_m, codes) >= t
        fixed_at = np.flatnonzero(s.fixed)
        short2 = eligible & (row_domains(a_m[:, fixed_at], codes[fixed_at]) < t)
    base1 = float(w_m[~short1].sum())
    if not short2.any():  # every client that can be t-covered already is
        return done(is_first, v2, "not needed")
    free = np.flatnonzero(~s.fixed)
    sub1 = sp.csr_array(a_m[short1][:, free])
    sub2 = sp.csr_array(a_m[short2][:, free])
    used = (np.diff(sp.csc_array(sub1).indptr) > 0) | (np.diff(sp.csc_array(sub2).indptr) > 0)
    cols = free[used]
    keep = np.flatnonzero(used)
    sub1, sub2 = sp.csr_array(sub1[:, keep]), sp.csr_array(sub2[:, keep])
    w1, w2 = w_m[short1], w_m[short2]
    need2 = np.maximum(t - have[short2], 0).astype(np.float64)
    nc, n1, n2 = len(cols), sub1.shape[0], sub2.shape[0]
    # the domains' rows of the level-2 clients: each (client, F) row needs its
    # requirement, less the required facilities in it, of the free ones in it times u
    sub_d = sp.csr_array((0, nc))
    req_d = np.zeros(0)
    pt_d = np.zeros(0, dtype=np.int64)
    if codes is not None:
        rows_d, req_all, pt_all = domain_rows_by_point(a_m[short2], codes, t - 1)
        req_left = req_all - rows_d @ s.fixed.astype(np.int64)
        live = req_left > 0
        on_cols = np.zeros(a.shape[1], dtype=bool)
        on_cols[cols] = True
        col_pos = np.cumsum(on_cols) - 1
        d = sp.csr_array(rows_d[live])
        d.sort_indices()
        free_entry = on_cols[d.indices]  # (a domain row's free facilities are all used)
        counts_d = np.bincount(np.repeat(np.arange(d.shape[0]), np.diff(d.indptr))[
            free_entry], minlength=d.shape[0])
        sub_d = sp.csr_array((np.ones(int(free_entry.sum())), col_pos[d.indices[free_entry]],
                              np.concatenate([[0], np.cumsum(counts_d)])),
                             shape=(d.shape[0], nc))
        req_d = req_left[live].astype(np.float64)
        pt_d = pt_all[live]
    nd = sub_d.shape[0]
    if s.k_free >= nc:  # every useful facility can be opened
        is_open = s.fixed.copy()
        is_open[cols] = True
        return done(is_open, v2, "not needed")
    scale = weight_scale(w_m)
    integral = bool(np.all(w_m == np.round(w_m)))
    target = (v1 - base1) * scale
    # the level-1 value held up to half a weight unit (integer weights: exact), else up
    # to 1e-12 of it, or 1e-9 when HiGHS finds that tighter model infeasible (its presolve
    # on a row of weights up to 2**20: uniform weights of 0-5 in tests/test_optimize_matrix)
    tols = ([0.5 * scale] if integral
            else [max(1e-12 * abs(target), 1e-6), 1e-9 * max(abs(target), 1.0)])
    c1, c2, cd = sp.coo_array(sub1), sp.coo_array(sub2), sp.coo_array(sub_d)
    # columns: y (nc), z (n1), u (n2); rows: level-1 links, level-2 links, the domains'
    # level-2 rows, count, level 1
    links = n1 + n2 + nd
    r_idx = np.concatenate([c1.row, np.arange(n1), n1 + c2.row, n1 + np.arange(n2),
                            n1 + n2 + cd.row, n1 + n2 + np.arange(nd),
                            np.full(nc, links), np.full(n1, links + 1)])
    c_idx = np.concatenate([c1.col, nc + np.arange(n1), c2.col, nc + n1 + np.arange(n2),
                            cd.col, nc + n1 + pt_d,
                            np.arange(nc), nc + np.arange(n1)])
    vals = np.concatenate([-np.ones(c1.nnz), np.ones(n1), -np.ones(c2.nnz), need2,
                           -np.ones(cd.nnz), req_d, np.ones(nc), w1 * scale])
    matrix = sp.csr_array((vals, (r_idx, c_idx)), shape=(links + 2, nc + n1 + n2))
    upper = np.concatenate([np.zeros(links), [float(s.k_free)], [np.inf]])
    # u binary where a row asks two or more of it (with domains: every client's)
    integrality = np.concatenate([np.ones(nc), np.zeros(n1),
                                  ((need2 >= 2) | (codes is not None)).astype(float)])
    # level 2's objective on its own scale (the level-1 scale, set by the heaviest level-1
    # row, made a light level-2 objective vanish under HiGHS's absolute gap)
    scale2 = weight_scale(w2)
    objective2 = np.concatenate([np.zeros(nc + n1), -w2 * scale2])
    t2 = time.perf_counter()
    for tol in tols:
        lower = np.concatenate([np.full(links + 1, -np.inf), [target - tol]])
        left = max(float(time_limit_s) - (time.perf_counter() - t2), 0.5)
        res = solve_milp(objective2, integrality, matrix, lower, upper, time_limit_s=left)
        if res.status != "infeasible":
            break
    base2 = float(w_m[eligible & ~short2].sum())
    best = is_first

    def gain(now: npt.NDArray[np.bool_], was: npt.NDArray[np.bool_]) -> float:
        """Weight a plan covering ``now`` has over one covering ``was``, summed over the
        rows that differ only (exact where the totals are not: 1e-4 people beside 3e8
        vanish in a total's rounding)."""
        return float(w[now & ~was].sum()) - float(w[was & ~now].sum())

    c1_first = covered(is_first)[0]

    def consider(x: npt.NDArray[np.float64]) -> bool:
        """Take the plan of a solve when it keeps level 1 and is better at level 2;
        whether it keeps level 1."""
        nonlocal best
        cand = s.fixed.copy()
        cand[cols[x[:nc] > 0.5]] = True
        c1_now, c2_now = covered(cand)
        keeps = gain(c1_now, c1_first) >= 0.0
        if keeps:
            b1, b2 = covered(best)
            better2 = gain(c2_now, b2)
            if better2 > 0.0 or (better2 == 0.0 and gain(c1_now, b1) > 0):
                best = cand
        return keeps

    if res.x is not None and not consider(res.x) and res.status == "optimal":
        # HiGHS's plan drops level-1 rows too light for its tolerances (a cell of 1e-4
        # people beside cells of 3e5: a tester's find, which this returned as the first
        # plan, "optimal"). Its value still bounds level 2 (the model with the tolerance
        # is a relaxation); solved again with the light rows' total held on a scale of
        # its own, the plan is kept when it keeps level 1, and proven when it meets the
        # bound.
        relaxed = base2 - res.objective / scale2
        light = w1 * scale <= max(tol, 1e-6)
        first_light = float(w1[light & ((sub1 @ is_first[cols].astype(np.int64)) > 0)].sum())
        if light.any() and first_light > 0:
            scale_l = weight_scale(w1[light])
            row = sp.csr_array((w1[light] * scale_l,
                                (np.zeros(int(light.sum()), dtype=np.int64),
                                 nc + np.flatnonzero(light))), shape=(1, nc + n1 + n2))
            left = max(float(time_limit_s) - (time.perf_counter() - t2), 0.5)
            again = solve_milp(objective2, integrality, sp.vstack([matrix, row], format="csr"),
                               np.append(lower, first_light * scale_l * (1 - 1e-9)),
                               np.append(upper, np.inf), time_limit_s=left)
            if again.x is not None:
                consider(again.x)
        best_val = level_values(best)
        proven = best_val[1] >= relaxed - 1e-9 * max(abs(relaxed), 1.0)
        return done(best, max(relaxed, best_val[1]), "optimal" if proven else "not proven")
    best_val = level_values(best)
    if res.status == "optimal":
        return done(best, best_val[1], "optimal")
    if res.status == "time_limit":
        sec_upper = base2 + (-res.dual_bound / scale2 if np.isfinite(res.dual_bound)
                             else float(w2.sum()))
        return done(best, sec_upper, "time_limit")
    if res.status == "infeasible":  # numerically infeasible (level 1's plan satisfies it): unproven
        return done(best, base2 + float(w2.sum()), "not proven")
    raise SolverError(f"HiGHS failed on the lexicographic max-cover model: {res.message}")
