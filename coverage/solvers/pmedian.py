"""Exact uncapacitated p-median: local search, Lagrangian bound and reduction, exact search.

:func:`p_median` opens exactly ``p`` facilities and assigns every client to its nearest open
facility, minimising the weighted total cost. Upper bounds come from greedy + swap local search
(Resende–Werneck gain/loss/extra, vectorised) with perturbation rounds; the Lagrangian dual of
the assignment constraints (subgradient) gives the LP bound and reduced-cost tests that delete
most pairs and facilities; the reduced instance is then solved exactly, by HiGHS on the radius
formulation (Elloumi 2010) when small, else by a Lagrangian branch and bound on the facilities.
All 40 OR-Library ``pmed`` instances are solved to proven optimality (tests/test_orlib.py).
Everything is vectorised over clients and pairs; Python loops run over iterations, swaps and
tree nodes only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint

from ..errors import NoFeasiblePlanError, SolverError
from .cover import min_cover, row_ranges
from .interrupt import milp
from .kmedian import MedianResult, first_two_open
from .matrix_args import cost_entries, facility_count, required_mask

logger = logging.getLogger(__name__)

__all__ = ["p_median"]


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class _Instance:
    """Reachable (client, facility) pairs, sorted by client then cost (the 'entries')."""

    n: int  # clients kept (those with at least one reachable facility)
    m: int  # facilities
    p: int
    indptr: npt.NDArray[np.int64]  # (n + 1,) entry range of each client
    row: npt.NDArray[np.int64]  # client of each entry
    fac: npt.NDArray[np.int64]  # facility of each entry
    dist: npt.NDArray[np.float64]  # raw cost of each entry
    c: npt.NDArray[np.float64]  # weighted cost w[row] * dist
    w: npt.NDArray[np.float64]  # (n,) client weights
    fixed: npt.NDArray[np.bool_]  # (m,) facilities that must be open
    big: float  # penalty of an unserved client in the heuristics (> any feasible objective)


def _wsum(index, weights, length: int) -> npt.NDArray[np.float64]:
    """``np.bincount`` with weights, always float64 (it returns int64 for empty input)."""
    return np.bincount(index, weights=weights, minlength=length).astype(np.float64, copy=False)


def _build_instance(cost, p, weights, required) -> _Instance:
    """Validate the input and build the entry structure (clients without entries dropped)."""
    n0, m, r, j, d = cost_entries(cost)
    w0 = np.ones(n0) if weights is None else np.asarray(weights, dtype=np.float64)
    if w0.shape != (n0,) or not np.all(np.isfinite(w0)) or (w0 < 0).any():
        raise ValueError("weights must be one finite non-negative value per client")
    p = facility_count(p, m)
    fixed = required_mask(required, m)
    if fixed.sum() > p:
        raise NoFeasiblePlanError(f"{int(fixed.sum())} required facilities exceed p={p}")
    # keep clients with at least one reachable facility, renumbered 0..n-1
    has = np.bincount(r, minlength=n0) > 0
    clients = np.flatnonzero(has)
    remap = np.full(n0, -1, dtype=np.int64)
    remap[clients] = np.arange(len(clients))
    r = remap[r]
    order = np.lexsort((j, d, r))
    r, j, d = r[order], j[order], d[order]
    n = len(clients)
    w = w0[clients]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=n))]).astype(np.int64)
    c = w[r] * d
    spread = float(np.sum(np.maximum.reduceat(c, indptr[:-1]) - c[indptr[:-1]])) if n else 0.0
    big = 2.0 * (spread + float(np.abs(c).max(initial=0.0))) + 1.0
    return _Instance(n, m, p, indptr, r, j, d, c, w, fixed, big)


# --------------------------------------------------------------------------- evaluation


def _first_two(inst: _Instance, is_open: npt.NDArray[np.bool_]):
    """Entry positions of each client's nearest and second-nearest open facility (-1: none)."""
    return first_two_open(inst.indptr, inst.fac, is_open, inst.row)


def _objective(inst: _Instance, is_open: npt.NDArray[np.bool_]) -> tuple[float, int]:
    """Weighted cost of nearest assignment and the number of clients left unserved."""
    first, _ = _first_two(inst, is_open)
    ok = first >= 0
    return float(inst.c[first[ok]].sum()), int((~ok).sum())


# --------------------------------------------------------------------------- heuristics


def _greedy(inst: _Instance, is_open: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Open facilities one at a time, each time the one with the largest cost reduction."""
    is_open = is_open.copy()
    while is_open.sum() < inst.p:
        first, _ = _first_two(inst, is_open)
        c1 = np.where(first >= 0, inst.c[np.maximum(first, 0)], inst.big)
        stop = np.where(first >= 0, first, inst.indptr[1:])
        sel = row_ranges(inst.indptr[:-1], stop)
        gain = _wsum(inst.fac[sel], c1[inst.row[sel]] - inst.c[sel], inst.m)
        gain[is_open] = -np.inf
        is_open[int(np.argmax(gain))] = True
    return is_open


def _swap_profits(inst: _Instance, is_open: npt.NDArray[np.bool_]):
    """Best swap (insert f, remove g) by the Resende–Werneck gain/loss/extra decomposition.

    Returns ``(profit, f, g, current_penalised_cost)``; profit is the exact decrease of the
    penalised cost when ``g`` is closed and ``f`` opened.
    """
    first, second = _first_two(inst, is_open)
    c = inst.c
    c1 = np.where(first >= 0, c[np.maximum(first, 0)], inst.big)
    c2 = np.where(second >= 0, c[np.maximum(second, 0)], inst.big)
    current = float(c1.sum())
    open_list = np.flatnonzero(is_open)
    k = len(open_list)
    slot = np.full(inst.m, -1, dtype=np.int64)
    slot[open_list] = np.arange(k)
    served = first >= 0
    phi1 = np.where(served, inst.fac[np.maximum(first, 0)], -1)
    # loss(g): closing g moves its clients to their second-nearest open facility
    loss = _wsum(slot[phi1[served]], (c2 - c1)[served], k)
    # entries strictly before the second open one (the first open one excluded)
    stop = np.where(second >= 0, second, inst.indptr[1:])
    sel = row_ranges(inst.indptr[:-1], stop)
    sel = sel[~is_open[inst.fac[sel]]]
    r = inst.row[sel]
    gain_w = np.maximum(c1[r] - c[sel], 0.0)
    gain = _wsum(inst.fac[sel], gain_w, inst.m)
    has_phi = served[r]
    sel_e, r_e = sel[has_phi], r[has_phi]
    extra_w = c2[r_e] - np.maximum(c[sel_e], c1[r_e])
    key = inst.fac[sel_e] * k + slot[phi1[r_e]]
    if inst.m * k <= 4_000_000:
        extra = _wsum(key, extra_w, inst.m * k).reshape(inst.m, k)
        profit = gain[:, None] - loss[None, :] + extra
        profit[is_open, :] = -np.inf
        profit[:, inst.fixed[open_list]] = -np.inf
        best = int(np.argmax(profit))
        f, g = divmod(best, k)
        return float(profit[f, g]), int(f), int(open_list[g]), current
    # large instances: only pairs with a positive 'extra' term can beat max gain - min loss
    ukey, inv = np.unique(key, return_inverse=True)
    extra = _wsum(inv.ravel(), extra_w, len(ukey))
    uf, ug = np.divmod(ukey, k)
    gain_m = np.where(is_open, -np.inf, gain)
    loss_m = np.where(inst.fixed[open_list], np.inf, loss)
    cand = gain_m[uf] - loss_m[ug] + extra
    f0, g0 = int(np.argmax(gain_m)), int(np.argmin(loss_m))
    best0 = gain_m[f0] - loss_m[g0]
    if len(cand) and cand.max() > best0:
        b = int(np.argmax(cand))
        return float(cand[b]), int(uf[b]), int(open_list[ug[b]]), current
    return float(best0), f0, int(open_list[g0]), current


def _local_search(
    inst: _Instance, is_open: npt.NDArray[np.bool_], deadline: float
) -> tuple[npt.NDArray[np.bool_], float]:
    """Best-improvement swap local search; returns the local optimum and its penalised cost."""
    is_open = is_open.copy()
    n_swaps = 0
    while True:
        profit, f, g, current = _swap_profits(inst, is_open)
        if not profit > 1e-9 * max(1.0, abs(current)) or time.perf_counter() > deadline:
            break
        is_open[g] = False
        is_open[f] = True
        n_swaps += 1
    logger.debug("local search: %d swaps, cost %.6g", n_swaps, current)
    return is_open, current


def _iterated_local_search(
    inst: _Instance,
    inc: _Incumbent,
    rounds: int,
    deadline: float,
    rng: np.random.Generator,
    patience: int = 60,
    near: int = 10,
    on_improve=None,
) -> int:
    """Perturb the incumbent by 1-3 'nearby' swaps, re-optimise, keep improvements.

    A swap closes a random open facility ``g`` and opens a random closed facility among the
    ``near`` nearest ones of a random client that ``g`` serves. Stops after ``patience``
    rounds without a new incumbent, or when ``on_improve()`` (called after each new
    incumbent) returns True. Returns the rounds run.
    """
    cur, cur_val = inc.is_open.copy(), inc.value
    movable = ~inst.fixed
    done = last_gain = 0
    for done in range(1, rounds + 1):
        if time.perf_counter() > deadline:
            break
        cand = cur.copy()
        first, _ = _first_two(inst, cand)
        serving = inst.fac[first]
        for _ in range(int(rng.integers(1, 4))):
            opened = np.flatnonzero(cand & movable)
            if len(opened) == 0:
                break
            g = int(rng.choice(opened))
            clients = np.flatnonzero(serving == g)
            i = int(rng.choice(clients)) if len(clients) else int(rng.integers(inst.n))
            lo, hi = inst.indptr[i], min(inst.indptr[i + 1], inst.indptr[i] + near)
            options = inst.fac[lo:hi]
            options = options[~cand[options]]
            if len(options) == 0:
                continue
            cand[g] = False
            cand[int(rng.choice(options))] = True
        cand, val = _local_search(inst, cand, deadline)  # penalised: never beats a feasible
        if inc.offer(val, cand):
            logger.debug("iterated local search: incumbent %.6g (round %d)", val, done)
            last_gain = done
            if on_improve is not None and on_improve():
                break
        elif done - last_gain >= patience:
            break
        if val <= cur_val:
            cur, cur_val = cand, val
    return done


# --------------------------------------------------------------------------- Lagrangian


@dataclass
class _Incumbent:
    """Best solution so far and the threshold a strictly better solution must reach."""

    value: float
    is_open: npt.NDArray[np.bool_]
    integral: bool  # all weighted costs are integers: better solutions cost <= value - 1

    @property
    def thr(self) -> float:
        """Solutions worth searching for cost at most this much."""
        if not np.isfinite(self.value):
            return np.inf
        if self.integral:  # margin against rounding in the bound's float sums
            return self.value - 1.0 + 1e-6 * max(1.0, 1e-6 * abs(self.value))
        return self.value - _REL_GAP * max(1.0, abs(self.value))

    @property
    def proven(self) -> float:
        """Lower bound once no solution at or below :attr:`thr` exists."""
        return self.value if self.integral else self.thr

    def offer(self, value: float, is_open: npt.NDArray[np.bool_]) -> bool:
        if value < self.value - 1e-12 * max(1.0, abs(self.value)):
            self.value, self.is_open = value, is_open.copy()
            return True
        return False


_REL_GAP = 5e-7  # relative optimality tolerance when the weighted costs are not integers
_WINDOW = (0.15, 0.05)  # window cap: lam + a |lam| + b mean|lam| (see _Lagrangian._window)
# subgradient at branch-and-bound nodes: iterations, initial step factor, halve after this
# many non-improving steps, stop below this step factor
_NODE_ITER, _NODE_PI, _NODE_STALL, _NODE_PI_MIN = 60, 1.8, 15, 1e-3


@dataclass
class _DualPoint:
    """The Lagrangian subproblem solved at one multiplier vector."""

    lower: float
    lam: npt.NDArray[np.float64]
    in_s: npt.NDArray[np.bool_]  # facilities open in the subproblem solution
    rho: npt.NDArray[np.float64]  # facility reduced costs
    rho_last: float  # largest rho among the chosen free facilities (+inf if none chosen)
    rho_next: float  # smallest rho among the free facilities left out (+inf if none)


class _Lagrangian:
    """Subgradient optimisation of the Lagrangian dual over a subset of entries.

    The relaxed problem drops the assignment constraints ``sum_j x_ij = 1`` with multipliers
    ``lam``; for fixed ``lam`` it opens the forced facilities plus the ``k`` free ones with the
    smallest ``rho_j = sum_i min(0, c_ij - lam_i)`` and its value
    ``sum_i lam_i + sum_{j open} rho_j`` is a lower bound on every solution that uses only the
    given entries and respects the forced/closed facilities.
    """

    def __init__(self, inst, ent, lam, forced, closed):
        self.inst = inst
        self.forced = forced.copy()
        self.closed = closed.copy()
        self.ent = ent[~closed[inst.fac[ent]]] if closed.any() else ent
        self.lam = lam.copy()
        self.best: _DualPoint | None = None
        self.iterations = 0
        self._cap = None
        self._win = None

    def feasible(self) -> bool:
        """Every client keeps an entry and there are enough facilities to open exactly p."""
        inst = self.inst
        k = inst.p - int(self.forced.sum())
        n_free = int((~(self.forced | self.closed)).sum())
        if k < 0 or k > n_free:
            return False
        return bool(np.bincount(inst.row[self.ent], minlength=inst.n).min(initial=1) > 0)

    def _window(self):
        """Entries that can have a negative reduced cost (c_ij < cap_i, with cap >= lam):
        their costs, clients and facilities, rebuilt only when some ``lam_i`` passes its cap."""
        lam = self.lam
        if self._win is None or np.any(lam > self._cap):
            self._free = ~(self.forced | self.closed)
            self._k = self.inst.p - int(self.forced.sum())
            a, b = _WINDOW
            margin = a * np.abs(lam) + b * float(np.mean(np.abs(lam))) + 1e-9
            self._cap = lam + margin
            inst, ent = self.inst, self.ent
            win = ent[inst.c[ent] < self._cap[inst.row[ent]]]
            self._win = (inst.c[win], inst.row[win], inst.fac[win])
        return self._win

    def solve_at(self, lam) -> tuple[_DualPoint, npt.NDArray[np.float64]]:
        """Subproblem at ``lam``: the dual point and a subgradient."""
        inst = self.inst
        self.lam = lam
        c, row, fac = self._window()
        rc = c - lam[row]
        neg = np.flatnonzero(rc < 0)
        fac_neg = fac[neg]
        rho = _wsum(fac_neg, rc[neg], inst.m)
        free = self._free
        k = self._k
        rho_free = np.where(free, rho, np.inf)
        in_s = self.forced.copy()
        rho_last = rho_next = np.inf
        if k > 0:
            kth = [k - 1, k] if k < inst.m else [k - 1]
            part = np.argpartition(rho_free, kth)
            in_s[part[:k]] = True
            rho_last = float(rho_free[part[k - 1]])
            if k < inst.m:
                rho_next = float(rho_free[part[k]])
        elif free.any():
            rho_next = float(rho_free.min())
        lower = float(lam.sum() + rho[in_s].sum())
        g = 1.0 - np.bincount(row[neg[in_s[fac_neg]]], minlength=inst.n)
        return _DualPoint(lower, lam, in_s, rho, rho_last, rho_next), g

    def run(self, inc: _Incumbent, max_iter: int, pi: float, stall_limit: int,
            deadline: float, pi_min: float = 1e-3, heuristic=None, heuristic_every: int = 0):
        """Subgradient steps (Polyak step towards the incumbent) until the node is pruned,
        the step parameter falls below ``pi_min``, ``max_iter`` or the deadline."""
        lam = self.lam
        stall = 0
        for it in range(max_iter):
            point, g = self.solve_at(lam)
            self.iterations += 1
            if self.best is None or point.lower > self.best.lower + 1e-12 * max(
                    1.0, abs(point.lower)):
                self.best = point
                stall = 0
            else:
                stall += 1
                if stall >= stall_limit:
                    pi *= 0.5
                    stall = 0
            if heuristic is not None and heuristic_every and it % heuristic_every == 0:
                heuristic(point.in_s)
            if self.best.lower > inc.thr or pi < pi_min or time.perf_counter() > deadline:
                break
            norm = float(g @ g)
            if norm == 0.0:  # the subproblem solution is feasible, hence optimal here
                break
            target = inc.value if np.isfinite(inc.value) else abs(point.lower) * 1.01 + 1.0
            step = pi * max(target - point.lower, 1e-9 * max(1.0, abs(target))) / norm
            lam = point.lam + step * g
        return pi

    def reduce(self, inc: _Incumbent) -> int:
        """Reduced-cost tests at the best dual point; returns the number of new fixings.

        A facility or pair whose forced use raises the Lagrangian bound above the threshold
        cannot appear in any solution at or below the threshold, so it is removed.
        """
        inst, b, thr = self.inst, self.best, inc.thr
        free = ~(self.forced | self.closed)
        pen_in = np.where(b.in_s, 0.0, np.maximum(b.rho - b.rho_last, 0.0))
        pen_out = np.where(b.in_s & free, b.rho_next - b.rho, 0.0)
        new_closed = free & ~b.in_s & (b.lower + pen_in > thr)
        new_forced = free & b.in_s & (b.lower + pen_out > thr)
        self.closed |= new_closed
        self.forced |= new_forced
        ent = self.ent
        rc = inst.c[ent] - b.lam[inst.row[ent]]
        keep = (b.lower + np.maximum(rc, 0.0) + pen_in[inst.fac[ent]] <= thr)
        keep &= ~self.closed[inst.fac[ent]]
        n_fix = int(new_closed.sum() + new_forced.sum() + (~keep).sum())
        if n_fix:
            self.ent = ent[keep]
            self._win = None
        return n_fix


def _restricted_cost(inst: _Instance, ent, is_open) -> float:
    """Nearest-assignment cost using only the entries ``ent`` (inf if a client is unserved)."""
    pos = ent[is_open[inst.fac[ent]]]
    rows = inst.row[pos]
    if len(pos) == 0:
        return np.inf
    start = np.concatenate([[True], rows[1:] != rows[:-1]])
    if int(start.sum()) < inst.n:
        return np.inf
    return float(inst.c[pos[start]].sum())


# --------------------------------------------------------------------------- branch and bound


@dataclass
class _Node:
    forced: npt.NDArray[np.bool_]
    closed: npt.NDArray[np.bool_]
    ent: npt.NDArray[np.int64]  # entries still allowed in this subtree (shared with siblings)
    lam: npt.NDArray[np.float64]
    bound: float  # the parent's bound (valid for this node)


def _branch_and_bound(
    inst: _Instance, root: _Lagrangian, inc: _Incumbent, deadline: float
) -> tuple[float, int, bool]:
    """Depth-first branch and bound on the facilities with Lagrangian bounds.

    Returns ``(lower_bound, nodes, finished)``. Each node re-optimises the multipliers from its
    parent's, prunes when its bound exceeds the incumbent threshold, applies the reduced-cost
    tests, and branches on the free facility of the Lagrangian solution whose closing would
    raise the bound most (the 'open' child is explored first).
    """
    stack = [_Node(root.forced, root.closed, root.ent, root.best.lam, root.best.lower)]
    nodes = 0
    while stack:
        if time.perf_counter() > deadline:
            lower = min(nd.bound for nd in stack)
            return min(lower, inc.proven), nodes, False
        node = stack.pop()
        if node.bound > inc.thr:
            continue
        nodes += 1
        lag = _Lagrangian(inst, node.ent, node.lam, node.forced, node.closed)
        if not lag.feasible():
            continue
        lag.run(inc, max_iter=_NODE_ITER, pi=_NODE_PI, stall_limit=_NODE_STALL,
                deadline=deadline, pi_min=_NODE_PI_MIN)
        if lag.best.lower > inc.thr:
            continue
        if time.perf_counter() > deadline:
            stack.append(_Node(node.forced, node.closed, node.ent, node.lam,
                               max(node.bound, lag.best.lower)))
            continue
        lag.reduce(inc)
        if not lag.feasible():
            continue
        free = ~(lag.forced | lag.closed)
        k = inst.p - int(lag.forced.sum())
        if k == 0 or k == int(free.sum()):
            leaf = lag.forced | free if k else lag.forced
            value, unserved = _objective(inst, leaf)
            if unserved == 0:
                inc.offer(value, leaf)
            continue
        best = lag.best
        cost = _restricted_cost(inst, lag.ent, best.in_s)
        if cost < inc.value:
            value, unserved = _objective(inst, best.in_s)
            if unserved == 0 and inc.offer(value, best.in_s):
                logger.debug("branch and bound: incumbent %.6g", value)
        # branch on the free facility of the Lagrangian solution whose closing costs most
        cand = np.flatnonzero(best.in_s & free)
        j = int(cand[np.argmax(best.rho_next - best.rho[cand])])
        closed = lag.closed.copy()
        closed[j] = True
        forced = lag.forced.copy()
        forced[j] = True
        stack.append(_Node(lag.forced, closed, lag.ent, best.lam, best.lower))
        stack.append(_Node(forced, lag.closed, lag.ent, best.lam, best.lower))  # next
    return inc.proven, nodes, True


# --------------------------------------------------------------------------- reduced MILP


def _radius_model(inst: _Instance, ent, forced, closed):
    """Radius (Elloumi 2010) formulation restricted to the entries ``ent``.

    Variables: ``y_j`` for the facilities not closed, then one ``z`` per client level except
    its last. For client ``i`` with distinct surviving distances ``D_1 < ... < D_K``:
    ``z_ik + sum_{j: d_ij <= D_k} y_j >= 1`` for ``k < K`` and ``sum_j y_j >= 1`` over all its
    surviving pairs; cost ``w_i (D_1 + sum_k (D_{k+1} - D_k) z_ik)``; ``sum_j y_j = p``.
    Returns ``(c, offset, constraints, integrality, lb, ub, cand)``.
    """
    cand = np.flatnonzero(~closed)
    nf = len(cand)
    col_of = np.full(inst.m, -1, dtype=np.int64)
    col_of[cand] = np.arange(nf)
    row, fac, dist = inst.row[ent], inst.fac[ent], inst.dist[ent]
    n = inst.n
    ycol = col_of[fac]
    new_level = np.ones(len(ent), dtype=bool)
    new_level[1:] = (row[1:] != row[:-1]) | (dist[1:] != dist[:-1])
    level_id = np.cumsum(new_level) - 1
    n_levels = int(level_id[-1]) + 1
    level_row = row[new_level]
    level_dist = dist[new_level]
    first_level = np.concatenate([[0], np.cumsum(np.bincount(level_row, minlength=n))])
    k_i = np.diff(first_level)
    lev_local = level_id - first_level[row]
    is_last = np.zeros(n_levels, dtype=bool)
    is_last[first_level[1:] - 1] = True
    zl = np.flatnonzero(~is_last)
    nz = len(zl)
    zcol = np.full(n_levels, -1, dtype=np.int64)
    zcol[zl] = nf + np.arange(nz)
    obj = np.concatenate([np.zeros(nf),
                          inst.w[level_row[zl]] * (level_dist[zl + 1] - level_dist[zl])])
    offset = float(np.sum(inst.w * level_dist[first_level[:-1]]))
    reps = k_i[row] - lev_local  # pair e is in its own level's row and all later ones
    ent_rep = np.repeat(np.arange(len(ent)), reps)
    rows_a = np.concatenate([row_ranges(level_id, level_id + reps), zl])
    cols_a = np.concatenate([ycol[ent_rep], zcol[zl]])
    a = sp.csr_array((np.ones(len(rows_a)), (rows_a, cols_a)), shape=(n_levels, nf + nz))
    a_p = sp.csr_array((np.ones(nf), (np.zeros(nf, dtype=np.int64), np.arange(nf))),
                       shape=(1, nf + nz))
    cons = [LinearConstraint(a, 1, np.inf), LinearConstraint(a_p, inst.p, inst.p)]
    integrality = np.concatenate([np.ones(nf), np.zeros(nz)])
    lb = np.zeros(nf + nz)
    lb[:nf][forced[cand]] = 1.0
    return obj, offset, cons, integrality, lb, np.ones(nf + nz), cand


def _radius_nnz(inst: _Instance, ent) -> int:
    """Constraint nonzeros of :func:`_radius_model` on ``ent`` (cheap estimate, exact)."""
    row, dist = inst.row[ent], inst.dist[ent]
    new_level = np.ones(len(ent), dtype=bool)
    new_level[1:] = (row[1:] != row[:-1]) | (dist[1:] != dist[:-1])
    level_id = np.cumsum(new_level) - 1
    first_level = np.concatenate([[0], np.cumsum(np.bincount(row[new_level],
                                                             minlength=inst.n))])
    k_i = np.diff(first_level)
    return int(np.sum(k_i[row] - (level_id - first_level[row])))


def _solve_milp(inst: _Instance, lag: _Lagrangian, inc: _Incumbent, time_limit: float):
    """HiGHS on the reduced radius model; returns ``(lower, proven)`` and updates ``inc``."""
    obj, offset, cons, integrality, lb, ub, cand = _radius_model(
        inst, lag.ent, lag.forced, lag.closed)
    logger.debug("reduced MILP: %d variables, %d nonzeros", len(obj),
                 sum(con.A.nnz for con in cons))
    res = milp(obj, constraints=cons, integrality=integrality, bounds=Bounds(lb, ub),
               options={"time_limit": max(float(time_limit), 0.1), "mip_rel_gap": 1e-9,
                        "disp": False})
    if res.status == 2:  # no solution at or below the threshold: the incumbent is optimal
        return inc.proven, True
    if res.x is not None:
        is_open = np.zeros(inst.m, dtype=bool)
        is_open[cand[res.x[:len(cand)] > 0.5]] = True
        value, unserved = _objective(inst, is_open)
        if unserved == 0:
            inc.offer(value, is_open)
    if res.status == 0:
        return min(float(res.fun) + offset, inc.proven), True
    if res.status == 1:
        bound = getattr(res, "mip_dual_bound", None)
        bound = float(bound) + offset if bound is not None and np.isfinite(bound) else -np.inf
        return min(bound, inc.proven), False
    raise SolverError(f"HiGHS failed on the reduced p-median model: {res.message}")


# --------------------------------------------------------------------------- driver


def _cover_start(inst: _Instance, time_limit: float) -> npt.NDArray[np.bool_]:
    """A facility set serving every client (min-cardinality set cover); raises if > p."""
    pattern = sp.csr_array((np.ones(len(inst.fac), dtype=np.int8), inst.fac, inst.indptr),
                           shape=(inst.n, inst.m))
    cover = min_cover(pattern, 1, required=inst.fixed, time_limit_s=max(time_limit, 1.0))
    if cover.lower_bound > inst.p:
        raise NoFeasiblePlanError(
            f"p={inst.p} facilities cannot serve every client that has a reachable facility: "
            f"at least {cover.lower_bound:g} are needed"
        )
    if len(cover.sites) > inst.p:
        raise NoFeasiblePlanError(
            f"no set of p={inst.p} facilities serving every client was found in time (best "
            f"cover: {len(cover.sites)} facilities, lower bound {cover.lower_bound:g})"
        )
    start = inst.fixed.copy()
    start[cover.sites] = True
    return start


def p_median(
    cost: npt.ArrayLike | sp.sparray | sp.spmatrix,
    p: int,
    weights: npt.ArrayLike | None = None,
    time_limit_s: float = 60.0,
    required: npt.ArrayLike | None = None,
) -> MedianResult:
    """Uncapacitated p-median, solved to proven optimality when time allows.

    Open exactly ``p`` facilities and assign every client to its nearest open facility,
    minimising ``sum_i w_i * min_{j open} cost_ij``.

    Parameters
    ----------
    cost : array_like or scipy.sparse matrix/array, shape (n_clients, n_facilities)
        Assignment costs. Dense: ``+inf`` marks an unreachable pair. Sparse: missing entries
        are unreachable and stored entries (explicit zeros included) are reachable.
        Clients with no reachable facility are ignored; every other client must be served.
    p : int
        Number of facilities to open, ``1 <= p <= n_facilities``.
    weights : array_like of float, optional
        Non-negative client weights (demand); default 1.
    time_limit_s : float, default 60
        Wall-time budget, s. When it runs out the best plan is returned with
        ``status="time_limit"`` and the proven lower bound (or ``"local_search"`` when no bound
        was computed).
    required : array_like, optional
        Facilities that must be open: a boolean mask over the facilities or integer indices.

    Returns
    -------
    MedianResult
        ``sites`` (sorted facility indices), ``objective``, ``lower_bound``, ``status``
        (``"optimal"``, ``"time_limit"`` or ``"local_search"``), ``solve_time_s``.

    Raises
    ------
    ValueError
        Bad shapes, costs, weights or ``p``.
    NoFeasiblePlanError
        More required facilities than ``p``, or ``p`` facilities cannot serve every client
        that has a reachable facility.

    Notes
    -----
    Let ``c_ij = w_i cost_ij`` over the reachable pairs ("entries"). Four phases:

    1. *Upper bound.* Greedy opening, then best-improvement swap local search evaluated with
       the Resende–Werneck gain/loss/extra decomposition (all clients at once, numpy). When
       the greedy leaves a client unserved, it restarts from a minimum set cover
       (:func:`coverage.solvers.cover.min_cover`), which also decides feasibility. Penalising
       unserved clients keeps every later move feasible.
    2. *Lagrangian bound.* Relaxing ``sum_j x_ij = 1`` with multipliers ``lam`` leaves
       ``L(lam) = sum_i lam_i + min_{|S| = p} sum_{j in S} rho_j`` with
       ``rho_j = sum_i min(0, c_ij - lam_i)``, a lower bound for every ``lam`` (it equals the
       LP bound at the best ``lam``). Subgradient steps maximise it; every tenth Lagrangian
       solution ``S`` may seed the local search (a Lagrangian heuristic). If the bound does
       not close the gap, perturbation rounds (1-3 random nearby swaps + local search) try
       to improve the incumbent, since a tighter incumbent makes the reduction far stronger.
    3. *Reduction* (valid for any ``lam``). Forcing pair ``(i, j)`` into the relaxation raises
       its value to at least ``L + max(0, c_ij - lam_i) + max(0, rho_j - rho_last)``
       (``rho_last``: the largest chosen ``rho``; the second term is zero when ``j`` is in
       ``S``); forcing ``j`` open or closed raises it by ``max(0, rho_j - rho_last)`` or
       ``rho_next - rho_j``. Let ``T`` be the threshold a strictly better solution must
       reach: ``incumbent - 1`` when every ``c_ij`` is an integer, else
       ``incumbent * (1 - 5e-7)``. Pairs and facilities whose forcing gives a bound above
       ``T`` cannot occur in any solution of cost ``<= T`` and are removed (closed / fixed
       open). Crucially, a solution of cost ``<= T`` assigns every client to its nearest open
       facility through a surviving pair, so on the reduced instance it keeps its exact
       cost; every solution of the reduced instance is also a solution of the original one,
       at a cost no lower than its true (nearest-facility) cost. Hence either the reduced
       instance has optimum ``<= T``, and that is the true optimum, or no solution beats the
       incumbent by more than the tolerance, and the incumbent is optimal.
    4. *Exact search on the reduced instance.* When the reduced radius formulation
       (Elloumi 2010: one ``z`` per client and distinct surviving distance, each row
       ``z_ik + sum_{d_ij <= D_k} y_j >= 1``, the last row without ``z``; for fixed binary
       ``y`` the optimal ``z`` charge exactly ``w_i`` times the distance to the nearest open
       surviving pair) is small, HiGHS solves it (``scipy.optimize.milp``); its optimum or
       infeasibility is the certificate. This is the usual route when many facilities are
       still free (large ``p``: the LP bound is then almost always tight).
       Otherwise a depth-first branch and bound on the facilities (open / closed) with the
       same Lagrangian bound at every node (multipliers warm-started from the parent, the
       reduction tests applied per node to the node's own pairs) proves optimality: a node is
       discarded only when its Lagrangian bound — a valid lower bound for every solution in
       its subtree — exceeds ``T``, or when a client has no pair left. ``status="optimal"``
       is returned only with one of these certificates (a root bound above ``T`` is one too);
       ``lower_bound`` is then the objective (integer costs) or within ``5e-7`` of it. The
       branch and bound is the route for small ``p`` with a positive LP gap (pmed 6, 16, 36,
       ...), where HiGHS on the radius model needs minutes.
    On the OR-Library pmed1-40 (n <= 900, p <= 200) every instance is proven optimal at the
    published value, in 0.02-16 s each on 2 cores (pmed36 is the slowest; bench/scale.py).
    """
    t0 = time.perf_counter()
    deadline = t0 + float(time_limit_s)
    inst = _build_instance(cost, p, weights, required)

    def result(is_open, objective, lower, status):
        sites = np.flatnonzero(is_open).astype(np.int64)
        elapsed = time.perf_counter() - t0
        logger.info("p-median: p=%d, objective %.6g, bound %.6g, status %s, %.2f s",
                    inst.p, objective, lower, status, elapsed)
        return MedianResult(sites, float(objective), float(lower), status, elapsed)

    if inst.n == 0:  # nothing to serve: any p facilities including the required ones
        is_open = inst.fixed.copy()
        is_open[np.flatnonzero(~is_open)[: inst.p - int(is_open.sum())]] = True
        return result(is_open, 0.0, 0.0, "optimal")

    # 1. upper bound
    ls_deadline = t0 + 0.25 * float(time_limit_s)
    is_open = _greedy(inst, inst.fixed)
    if _objective(inst, is_open)[1]:
        is_open = _greedy(inst, _cover_start(inst, 0.2 * float(time_limit_s)))
    is_open, _ = _local_search(inst, is_open, ls_deadline)
    value, unserved = _objective(inst, is_open)
    if unserved:  # cannot happen from a cover start: swaps never unserve a client
        raise SolverError("local search lost feasibility")
    integral = bool(np.all(inst.c == np.round(inst.c)) and np.abs(inst.c).max() < 2.0**52)
    inc = _Incumbent(value, is_open, integral)
    free = ~inst.fixed
    if inst.p - int(inst.fixed.sum()) in (0, int(free.sum())):
        return result(is_open, value, value, "optimal")  # the open set is forced
    if time.perf_counter() > deadline:
        return result(inc.is_open, inc.value, np.nan, "local_search")

    # 2. root Lagrangian with the Lagrangian heuristic
    seen: set[bytes] = set()

    def heuristic(in_s: npt.NDArray[np.bool_]) -> None:
        key = np.flatnonzero(in_s).tobytes()
        if key in seen:
            return
        seen.add(key)
        val, uns = _objective(inst, in_s)
        if uns:
            return
        inc.offer(val, in_s)
        if val <= inc.value * 1.02 and time.perf_counter() < ls_deadline:
            cand, cand_val = _local_search(inst, in_s, ls_deadline)
            if inc.offer(cand_val, cand):
                logger.debug("Lagrangian heuristic: incumbent %.6g", cand_val)

    first, second = _first_two(inst, inc.is_open)
    c1 = inst.c[first]
    c2 = np.where(second >= 0, inst.c[np.maximum(second, 0)], c1)
    root = _Lagrangian(inst, np.arange(len(inst.c), dtype=np.int64), 0.5 * (c1 + c2),
                       inst.fixed, np.zeros(inst.m, dtype=bool))
    root.run(inc, max_iter=2000, pi=2.0, stall_limit=20, deadline=deadline, pi_min=2e-4,
             heuristic=heuristic, heuristic_every=10)
    root.reduce(inc)
    lower = root.best.lower
    logger.debug("root: bound %.6g, incumbent %.6g, %d iterations, %d pairs, %d closed, "
                 "%d forced", lower, inc.value, root.iterations, len(root.ent),
                 int(root.closed.sum()), int(root.forced.sum()))
    if lower > inc.thr or not root.feasible():
        return result(inc.is_open, inc.value, inc.proven, "optimal")
    # a better incumbent shrinks the reduced instance a lot: perturbation + local search,
    # until the bound proves it or (many free facilities) the model is small enough for HiGHS
    before = inc.value

    def enough() -> bool:
        root.reduce(inc)
        if root.best.lower > inc.thr or not root.feasible():
            return True
        k_free = inst.p - int(root.forced.sum())
        return k_free > _BNB_MAX_K and _radius_nnz(inst, root.ent) <= _MILP_EASY_NNZ

    rounds = _iterated_local_search(inst, inc, 1000, min(deadline, t0 + 0.3 * float(time_limit_s)),
                                    np.random.default_rng(0), patience=max(60, inst.p),
                                    on_improve=enough)
    if inc.value < before and root.feasible() and not root.best.lower > inc.thr:
        root.run(inc, max_iter=300, pi=0.05, stall_limit=20, deadline=deadline, pi_min=2e-4)
        root.reduce(inc)
        lower = root.best.lower
    logger.debug("after %d perturbation rounds: bound %.6g, incumbent %.6g, %d pairs, "
                 "%d closed, %d forced", rounds, lower, inc.value, len(root.ent),
                 int(root.closed.sum()), int(root.forced.sum()))
    if lower > inc.thr or not root.feasible():
        return result(inc.is_open, inc.value, inc.proven, "optimal")
    if time.perf_counter() > deadline:
        return result(inc.is_open, inc.value, _round_bound(lower, inc), "time_limit")

    # 3. exact search on the reduced instance
    k_free = inst.p - int(root.forced.sum())
    if k_free > _BNB_MAX_K or _radius_nnz(inst, root.ent) <= _MILP_NNZ:
        bound, proven = _solve_milp(inst, root, inc, deadline - time.perf_counter())
    else:
        bound, nodes, proven = _branch_and_bound(inst, root, inc, deadline)
        logger.debug("branch and bound: %d nodes, finished %s", nodes, proven)
    bound = max(bound, lower) if not proven else bound
    status = "optimal" if proven else "time_limit"
    return result(inc.is_open, inc.value, _round_bound(min(bound, inc.value), inc), status)


_MILP_NNZ = 3_000  # reduced radius models up to this many nonzeros always go to HiGHS
_BNB_MAX_K = 25  # branch and bound only when at most this many facilities are still free
_MILP_EASY_NNZ = 20_000  # stop the perturbation rounds once HiGHS gets a model this small


def _round_bound(lower: float, inc: _Incumbent) -> float:
    if inc.integral and np.isfinite(lower):
        return float(min(np.ceil(lower - 1e-6), inc.value))
    return float(lower)
