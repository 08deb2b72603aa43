"""The least capacity each chosen site needs so that the fleet carries every failure
scenario: one linear program over all scenarios at once.

A capacitated plan is proven with every site at its full capacity (its power envelope).
Pricing the fleet needs less: each site gets the accelerators its load needs. Sizing every
site for its worst load in *one* flow per scenario (the most even flow, which spreads load
over every site in reach) prices a fleet that depends on which flow was reported (the
flows of equal latency or evenness are many), and is rarely the least. The least total
capacity is a linear program::

    min  sum_j c_j
    s.t. sum_j x^s_ij = load_i        every scenario s, every point i it must serve
         sum_i x^s_ij <= c_j          every scenario s, every site j alive in it
         0 <= c_j <= cap_j,  x >= 0

with one flow ``x^s`` per scenario (normal operation and every failure scenario of the
plan, :func:`coverage.solvers.capacitated.failure_scenarios`, the whole list: no
scenario is taken as implied by a flow at full capacity, which the smaller capacities do
not have). A failure scenario's flow is a variable only in the components of the plan
(points and open sites within budget, :func:`coverage.solvers.capacitated.plan_components`)
that hold a failed site: elsewhere the normal-operation flow serves, and it fits ``c``
already. A point whose candidates within budget have all failed is excused, as in the
plan's own check.

Solved by scenario generation: the program over normal operation and a few scenarios
(the caller's guess of the binding ones), its sizes checked in every scenario by a
max-flow at those capacities, the scenarios short of them added, and again. A program over
part of the scenarios is a relaxation, so its optimum bounds the whole one from below;
once its sizes carry every scenario, they are the least. Used above 1,000 scenarios
(N-2 and up): at N-1 most scenarios bind (each site's worst is a neighbour's failure: 40
of Germany's 58 were in the program when its sizes carried all), and one program over
all of them was quicker than the rounds there (one hand-run instance).

The flows are written as shares of each point's load and the capacity rows as shares of
each site's own capacity (a load of 1e-10 next to one of 1e6 would otherwise fall below
HiGHS's tolerances, as review 130 found in the placement's program). The sized capacity
of a site is then the largest load of its site over the program's flows, renormalised so
that every served point's shares sum to one: the sizes carry every scenario by
construction, and the program's value is a lower bound of any sizing that does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from .capacitated import failure_scenarios, plan_components
from .highs import solve_milp

logger = logging.getLogger(__name__)

__all__ = ["ALL_AT_ONCE", "MAX_SIZING_ENTRIES", "SCENARIOS_PER_ROUND", "SizingResult",
           "least_capacity"]

#: Most flow variables (point, site, scenario) of the sizing program; above, it is not
#: built (its status says so) and the caller keeps its own sizing.
MAX_SIZING_ENTRIES = 3_000_000
#: Most failure scenarios short at a round's sizes added to the next round's program.
SCENARIOS_PER_ROUND = 50
#: Most failure scenarios of a plan solved in one program; above, scenario generation.
ALL_AT_ONCE = 1_000


@dataclass(frozen=True)
class SizingResult:
    """Result of :func:`least_capacity`.

    Attributes
    ----------
    status : str
        ``"optimal"``; ``"time_limit"`` (no sizes: the program did not finish);
        ``"too_large"`` (more than ``max_entries`` flow variables: not built);
        ``"scenarios_cut"`` (the plan's failure scenarios are more than ``limit``: not
        built); ``"infeasible"`` (some scenario cannot be carried even at full capacity:
        never for a plan that passed its check) or ``"error"``.
    need_rps : numpy.ndarray
        Capacity every candidate needs, requests/s (0 for those not chosen; ``nan``
        everywhere without sizes).
    lower_bound_rps : float
        The program's optimum, to HiGHS's interior-point tolerance (its primal
        objective, not a certified dual bound): no sizing that carries every scenario has
        a smaller total, up to that tolerance.
    scenarios : int
        Scenarios in the program (normal operation included).
    entries : int
        Flow variables.
    time_s : float
    info : dict
        HiGHS's status message.
    """

    status: str
    need_rps: npt.NDArray[np.float64]
    lower_bound_rps: float
    scenarios: int
    entries: int
    time_s: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def total_rps(self) -> float:
        """The sizes' total, requests/s (``nan`` without sizes)."""
        return float(np.sum(self.need_rps))


def least_capacity(reach: sp.csr_array, load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
                   sites: npt.ArrayLike, failures: int, *,
                   domains: npt.ArrayLike | None = None, limit: int = 20_000,
                   time_limit_s: float = 60.0, first: Sequence[Sequence[int]] = (),
                   max_entries: int = MAX_SIZING_ENTRIES,
                   per_round: int = SCENARIOS_PER_ROUND,
                   all_at_once: int = ALL_AT_ONCE) -> SizingResult:
    """The least capacity of every open site such that normal operation and every failure
    scenario of up to ``failures`` failure domains carry the load (see the module notes).

    Up to ``all_at_once`` scenarios (N-1: one per site), the program holds them all. Above,
    by scenario generation: the program over normal operation and the scenarios ``first``
    (e.g. each site's worst scenario of another flow), then every scenario checked at the
    sizes by a max-flow (:func:`coverage.solvers.capacitated.check_scenarios`, at those
    capacities), those short of them added, and again, until the sizes carry every
    scenario. The program over part of the scenarios is a relaxation of the whole, so its
    optimum is a lower bound; sizes that carry every scenario at that total are optimal.

    Parameters
    ----------
    reach : scipy.sparse.csr_array
        Points x candidates within budget (a plan's check: merged points, with their
        witness column when they have one).
    load_rps, cap_rps : array_like
        Every point's load and every candidate's full capacity, requests/s (``cap_rps``
        has one entry per candidate; a witness column past it is never open).
    sites : array_like of int
        The open sites.
    failures : int
        Failure domains lost at once (k).
    domains : array_like, optional
        Failure domain of every candidate (default: each site alone).
    limit : int, default 20,000
        Most failure scenarios listed (:func:`failure_scenarios`); above, the program is
        not built.
    time_limit_s : float, default 60
        For the rounds together.
    first : sequence of sequences of int
        Failure scenarios (failed candidates) in the first program besides normal
        operation.
    max_entries : int
        Most flow variables of a program.
    per_round : int
        Most scenarios added per round.
    all_at_once : int
        Most scenarios solved in one program without generation.

    Returns
    -------
    SizingResult
    """
    from .capacitated import check_scenarios_until

    t0 = time.perf_counter()
    deadline = t0 + float(time_limit_s)
    a = sp.csr_array(reach)
    load = np.asarray(load_rps, dtype=np.float64)
    cap = np.asarray(cap_rps, dtype=np.float64)
    m = len(cap)
    chosen = np.unique(np.asarray(sites, dtype=np.int64))
    none = np.full(m, np.nan)
    rounds: list[dict[str, Any]] = []

    def result(status: str, need: npt.NDArray[np.float64] = none, bound: float = np.nan,
               n_scen: int = 0, entries: int = 0, **info: Any) -> SizingResult:
        return SizingResult(status, need, bound, n_scen, entries, time.perf_counter() - t0,
                            {**info, "rounds": rounds})

    if not len(chosen):
        return result("optimal", np.zeros(m), 0.0, 1)
    dom = None if domains is None else np.asarray(domains, dtype=object)
    listed, complete = failure_scenarios(chosen, int(failures), dom, limit=int(limit),
                                         reach=a)
    if not complete:
        return result("scenarios_cut", n_scen=len(listed))
    comps = plan_components(a, chosen)
    known = {tuple(sorted(int(x) for x in f)) for f in listed}
    subset: list[tuple[int, ...]] = [()]
    if len(listed) <= all_at_once:  # the binding ones are most of them (N-1: 40 of 58
        # on Germany's demo; hand run on a shared machine, one instance)
        first = listed
    for f in first:
        key = tuple(sorted(int(x) for x in f))
        if key and key in known and key not in subset:
            subset.append(key)
    blocks: dict[tuple[int, ...], tuple[npt.NDArray[np.int64], sp.csr_array]] = {}
    while True:
        for key in subset:
            if key not in blocks:
                got = _block(a, load, m, chosen, key, comps)
                if got is None:
                    return result("infeasible", n_scen=len(listed),
                                  message=f"a point has no open site left in scenario {key!r}")
                blocks[key] = got
        entries = sum(b.nnz for _, b in blocks.values())
        if entries > max_entries:
            return result("too_large", n_scen=len(listed), entries=entries)
        left = deadline - time.perf_counter()
        if left <= 0:
            return result("time_limit", n_scen=len(listed), entries=entries)
        t = time.perf_counter()
        solved = _solve(list(blocks.values()), load, cap, chosen, m, left)
        if isinstance(solved, str):
            return result(solved, n_scen=len(listed), entries=entries)
        need, bound, message = solved
        solve_s = time.perf_counter() - t
        # every scenario at the sizes (the program's own ones carry by construction)
        t = time.perf_counter()
        flows, checked, finished = check_scenarios_until(
            a, load, need, chosen, int(failures), domains=dom, limit=int(limit),
            stop_after=int(per_round), deadline=deadline)
        short = [tuple(sorted(int(x) for x in f.failed)) for f in flows if not f.feasible]
        new = [key for key in short if key not in blocks]
        rounds.append({"scenarios": len(blocks), "flow_variables": entries,
                       "total_rps": float(need.sum()), "short": len(short),
                       "solve_s": solve_s, "check_s": time.perf_counter() - t})
        logger.info("sizing round %d: %d scenario(s), %s flow variables, total %.6g "
                    "requests/s; %d scenario(s) short at these sizes", len(rounds),
                    len(blocks), f"{entries:,}", need.sum(), len(short))
        if not short and finished and checked:
            logger.info("sizing: the least total capacity %.6g requests/s (the full "
                        "capacities' %.6g), %d of %d scenarios in the program, %.1f s",
                        need.sum(), float(cap[chosen].sum()), len(blocks), len(listed),
                        time.perf_counter() - t0)
            return result("optimal", need, min(bound, float(need.sum())), len(listed),
                          entries, message=message, in_program=len(blocks))
        if not finished:
            return result("time_limit", n_scen=len(listed), entries=entries)
        if not new:  # short only within the check's tolerance: never expected
            return result("error", n_scen=len(listed), entries=entries,
                          message="a scenario of the program is short at its own sizes")
        subset += new


def _block(a: sp.csr_array, load: npt.NDArray[np.float64], m: int,
           chosen: npt.NDArray[np.int64], failed: tuple[int, ...],
           comps: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
           ) -> tuple[npt.NDArray[np.int64], sp.csr_array] | None:
    """One scenario's rows (the points it must serve: in the components holding a failed
    site, all of them for normal operation, not excused, with a load) and their pairs with
    the open sites alive (columns: candidates); ``None`` when a point has none left."""
    point_lab, site_lab = comps
    width = a.shape[1]
    f = np.asarray(failed, dtype=np.int64)
    f = f[(f >= 0) & (f < width)]
    dead = np.zeros(width, dtype=bool)
    dead[f] = True
    if len(f):  # the components holding a failed open site; elsewhere the normal flow
        labs = site_lab[f]
        rows = np.flatnonzero(np.isin(point_lab, labs[labs >= 0]))
    else:
        rows = np.arange(a.shape[0])
    sub = sp.csr_array(a[rows], dtype=np.int64)
    # excused: every candidate of the row within budget failed (none when none failed)
    excused = (sub @ dead.astype(np.int64)) == np.diff(sub.indptr)
    keep = rows[~excused & (load[rows] > 0)]
    is_open = np.zeros(width, dtype=bool)
    is_open[chosen] = True
    cols = np.flatnonzero((is_open & ~dead)[:m])
    block = sp.csr_array(a[keep][:, cols])
    if np.any(np.diff(block.indptr) == 0):
        return None
    return keep, sp.csr_array((np.ones(block.nnz), cols[block.indices], block.indptr),
                              shape=(len(keep), m))


def _solve(blocks: list[tuple[npt.NDArray[np.int64], sp.csr_array]],
           load: npt.NDArray[np.float64], cap: npt.NDArray[np.float64],
           chosen: npt.NDArray[np.int64], m: int, time_limit_s: float,
           ) -> tuple[npt.NDArray[np.float64], float, str] | str:
    """The program over ``blocks``: the sizes (every site's largest load over its flows,
    each point's shares summing to one), its optimum (requests/s) and HiGHS's message; or
    HiGHS's status when it has no solution."""
    # variables c'_j (share of the site's reach load) for the open sites, then every
    # block's flow shares;
    # rows: each block's points (= 1), then each block's sites (<= 0)
    k = len(chosen)
    col_of = np.full(m, -1, dtype=np.int64)
    col_of[chosen] = np.arange(k)
    # each site's capacity row in units of the most it could ever carry (the load of every
    # point in its reach, over the program's scenarios): in units of its capacity, loads
    # far below a huge capacity fell under HiGHS's tolerances and the sizes drifted from
    # the optimum (tester 137); a site with no capacity, or nothing in reach, gets none
    reach_load = np.zeros(m)
    for keep, block in blocks:
        reach_load = np.maximum(reach_load, np.bincount(
            block.indices, weights=np.repeat(load[keep], np.diff(block.indptr)), minlength=m))
    unit = reach_load[chosen]
    cap_c = np.where(unit > 0, unit, 1.0)
    top = np.where(unit > 0, np.minimum(np.maximum(cap[chosen], 0.0), unit) / cap_c, 0.0)
    rr, cc, vv = [], [], []
    offset, n_eq = k, sum(len(keep) for keep, _ in blocks)
    row_eq, row_cap = 0, n_eq
    for keep, block in blocks:
        nnz = block.nnz
        flow_cols = offset + np.arange(nnz)
        entry_row = np.repeat(np.arange(len(keep)), np.diff(block.indptr))
        rr.append(row_eq + entry_row)
        cc.append(flow_cols)
        vv.append(np.ones(nnz))
        row_eq += len(keep)
        used, local = np.unique(block.indices, return_inverse=True)
        rr.append(row_cap + local)
        cc.append(flow_cols)
        vv.append(load[keep][entry_row] / cap_c[col_of[block.indices]])
        rr.append(row_cap + np.arange(len(used)))
        cc.append(col_of[used])
        vv.append(-np.ones(len(used)))
        row_cap += len(used)
        offset += nnz
    n_var, n_rows = offset, row_cap
    mat = sp.csr_array(sp.coo_array((np.concatenate(vv), (np.concatenate(rr),
                                                           np.concatenate(cc))),
                                    shape=(n_rows, n_var)))
    lo = np.concatenate([np.ones(n_eq), np.full(n_rows - n_eq, -np.inf)])
    hi = np.concatenate([np.ones(n_eq), np.zeros(n_rows - n_eq)])
    scale = float(cap_c.max())
    cost = np.concatenate([cap_c / scale, np.zeros(n_var - k)])
    upper = np.concatenate([top, np.full(n_var - k, np.inf)])
    # the interior point method, without crossover: the simplex took over 300 s on
    # Germany's demo (58 scenarios, 444,942 flow variables), the interior point 14 s; the
    # sizes come from the flows renormalised below, so they carry the program's scenarios
    # exactly and only the optimality is to the solver's tolerance
    res = solve_milp(cost, np.zeros(n_var, dtype=bool), mat, lo, hi, col_lower=0.0,
                     col_upper=upper, time_limit_s=max(float(time_limit_s), 0.05),
                     options={"solver": "ipm", "run_crossover": "off"})
    if res.status != "optimal" or res.x is None:
        return res.status
    x = np.clip(res.x, 0.0, None)
    closed = np.zeros(m, dtype=bool)  # no capacity: no share at all, not the solver's 1e-9
    closed[chosen[top <= 0]] = True
    need = np.zeros(m)
    offset = k
    for keep, block in blocks:
        share = np.where(closed[block.indices], 0.0, x[offset:offset + block.nnz])
        offset += block.nnz
        flows = sp.csr_array((share, block.indices, block.indptr), shape=block.shape)
        total = flows.sum(axis=1)
        flows = sp.csr_array(sp.diags(load[keep] / np.where(total > 0, total, 1.0)) @ flows)
        need = np.maximum(need, np.asarray(flows.sum(axis=0)).ravel())
    return need, float(res.objective) * scale, str(res.message)
