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

Solved by generation, of scenarios and of each scenario's points. A failure moves load
only near the failed sites: a scenario enters the program with the points within
``start_hops`` steps of its failed sites (:func:`neighbourhood`: step 1, the points
within budget of a failed site; step 2 adds the points within budget of the open sites
those reach, and so on), not its whole component. The program over normal operation (every
point) and these blocks is checked in every scenario by a max-flow at its sizes; a
scenario short of them has its block's steps doubled (its whole component once that holds
half the component's pairs or more), a scenario not in the program is added, and again.
Dropping points, and scenarios, only removes constraints: each round's program is a
relaxation of the whole one, so its optimum bounds the least total from below, and once its
sizes carry every scenario (the max-flows say so) they are the least. Up to 1,000
scenarios (N-1) every scenario is in the first program.

Above (N-2 and up) scenarios are generated, and most of them enter as **capacity cuts**
(:func:`capacity_cuts`), not flows: a scenario short at a round's sizes has a minimum cut
whose demand side ``S`` needs more than the open sites alive within its budget have, and
every sizing that carries the scenario has ``sum(c_j, j alive within budget of S) >=
load(S)`` (Hall's condition: the scenario's flow projected onto the sizes). The cut is one
row over the sites, where a flow block is a row per point and a variable per pair. Every
scenario short at a round gives its cuts; one short a second time also enters as a flow
block of :data:`GENERATED_HOPS` step near its failed sites (up to
:data:`SCENARIOS_PER_ROUND` a round), which never grows (the cuts carry the rest of it).
The first program holds normal operation and the caller's guess of the binding scenarios
(``first``). Cuts only drop sizings that cannot carry a scenario, so each round is still
a relaxation. Before, generated scenarios entered as flow blocks that grew to their whole
components: Germany's demo at N-2 (83 sites, 3,487 scenarios) reached 1.6 million flow
variables and did not finish in 300 s; now 6 rounds, 308,034 flow variables and 4,014 cuts,
121 s (hand runs of the sizing step alone, 2026-12-05, the same optimum as a pure
cutting-plane run of the same inputs to 1e-9).

The first program of a generated sizing also holds every scenario's **neighbourhood
cuts** (:func:`neighbourhood_cuts`): the points within budget of a failed site, grouped
by their open sites alive, each group's sites carrying the load of every group whose
sites are among them. They need no flow (0.7-1.6 s for 1,160-4,187 scenarios) and are
most of what the first rounds' minimum cuts would teach; they are found when the
scenarios are generated (more than :data:`ALL_AT_ONCE`: most plans at N-2 and up).
Hand runs of the sizing step alone with 100 requests per person-day, 2026-12-06, a tester
running beside them, before and after (the same optimum to 1e-9 each): at N-2, France's
demo (83 sites, 3,487 scenarios) 62.6 s, 8 rounds -> 32.8 s, 6; Japan's (4,187
scenarios) 72.4 s, 7 -> 28.0 s, 4; Germany's 118 s, 7 -> 111 s, 6 (its time is the flow
blocks' program, 280,000 variables late); at N-3 (400 requests per person-day) the
Netherlands' (1,160 scenarios) 21.3 s, 4 -> 26.2 s, 4: its cuts bind in no round and
only make each program larger. A fifth, measured after on a demo none of the above tuned
(Spain N-2, 97 sites, 4,754 scenarios, the machine otherwise idle): 56.3 s, 7 rounds ->
30.6 s, 5, the same optimum.

Why local: a national plan at 30 ms is one or a few large components, so a scenario over
its whole component holds every pair of the plan; Brazil's demo at N-1 (349 sites, 350
scenarios) had 1.6 million flow variables and took 150 s, the United States' 240-320 s,
and India's was above :data:`MAX_SIZING_ENTRIES` (not computed). With blocks of 2 steps,
grown where short (hand runs of this step alone, 2026-12-05, the same optimum to 1e-9
each): Brazil 11.1 s (3 rounds, 138,846 variables), the United States 29.5 s, India 18.9 s,
Germany 10.7 s (15.6 s for its whole components).

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from .capacitated import (
    ScenarioFlow,
    failure_scenarios,
    plan_components,
    plan_rows,
    reach_pattern,
)
from .highs import solve_milp

logger = logging.getLogger(__name__)

__all__ = ["ALL_AT_ONCE", "GENERATED_HOPS", "MAX_SIZING_ENTRIES", "SCENARIOS_PER_ROUND",
           "MAX_SEED_CELLS", "SEED_SHARE", "START_HOPS", "SizingResult", "capacity_cuts",
           "least_capacity", "neighbourhood", "neighbourhood_cuts"]

#: Most flow variables (point, site, scenario) of the sizing program; above, it is not
#: built (its status says so) and the caller keeps its own sizing.
MAX_SIZING_ENTRIES = 3_000_000
#: Most failure scenarios short at a round's sizes added to the next round's program.
SCENARIOS_PER_ROUND = 50
#: Most failure scenarios of a plan solved in one program; above, scenario generation.
ALL_AT_ONCE = 1_000
#: Steps from the failed sites of the points a scenario enters the program with (see the
#: module notes): 2 was the quickest of 1, 2 and 3 on Brazil's demo (hand runs).
START_HOPS = 2
#: The same for a generated scenario (N-2 and up; see the module notes): its block never
#: grows, its capacity cuts carry the rest. Germany's demo at N-2 (hand runs of the
#: sizing alone, 2026-12-05): 121 s with 1 step, 306 s with 2.
GENERATED_HOPS = 1
#: Most share of the sizing's time limit spent on the first program's
#: :func:`neighbourhood_cuts` (scenarios generated: more than :data:`ALL_AT_ONCE`); the
#: cuts found by then are kept.
SEED_SHARE = 0.1
#: Most cells (points x their most open sites alive) of one scenario's grouping in
#: :func:`neighbourhood_cuts` (8 bytes each); a scenario above gives no cuts (they are
#: optional: its minimum cuts come from the rounds).
MAX_SEED_CELLS = 4_000_000


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
    normal_load_rps : numpy.ndarray or None
        Every candidate's load in normal operation in the program's own flow, requests/s
        (at most its ``need_rps``; the loads of the points a site serves, summed): a
        normal-operation flow the sizes carry. ``None`` without sizes.
    """

    status: str
    need_rps: npt.NDArray[np.float64]
    lower_bound_rps: float
    scenarios: int
    entries: int
    time_s: float
    info: dict[str, Any] = field(default_factory=dict)
    normal_load_rps: npt.NDArray[np.float64] | None = None

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
                   all_at_once: int = ALL_AT_ONCE,
                   start_hops: int | None = START_HOPS) -> SizingResult:
    """The least capacity of every open site such that normal operation and every failure
    scenario of up to ``failures`` failure domains carry the load (see the module notes).

    Up to ``all_at_once`` scenarios (N-1: one per site), the first program holds them all;
    above, normal operation and the scenarios ``first`` (e.g. each site's worst scenario
    of another flow). Each failure scenario holds the points within ``start_hops`` steps
    of its failed sites (:func:`neighbourhood`). Every scenario is then checked at the
    sizes by a max-flow (:func:`coverage.solvers.capacitated.check_scenarios`, at those
    capacities); those short of them give the program their capacity cuts
    (:func:`capacity_cuts`) and, with every scenario in it, have their steps doubled; above
    ``all_at_once``, one short a second time enters with :data:`GENERATED_HOPS` step; and
    again, until the sizes carry every scenario. Each program is a relaxation of the whole
    one (fewer scenarios, fewer points, cuts every carrying sizing meets), so its optimum is
    a lower bound; sizes that carry every scenario at that total are optimal.

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
        Most generated scenarios entering the program as flow blocks per round (their cuts
        enter all).
    all_at_once : int
        Most scenarios in the first program (all of them up to this many).
    start_hops : int or None, default :data:`START_HOPS`
        Steps from the failed sites of the points a scenario enters the program with;
        ``None``: its whole components.

    Returns
    -------
    SizingResult
    """
    from .capacitated import check_scenarios_until

    t0 = time.perf_counter()
    deadline = t0 + float(time_limit_s)
    a = reach_pattern(reach)  # (each pair once, no stored zero: as the checks read it)
    load = np.asarray(load_rps, dtype=np.float64)
    cap = np.asarray(cap_rps, dtype=np.float64)
    if not (np.all(np.isfinite(load)) and np.all(load >= 0)):  # (merged points sum them)
        raise ValueError("load_rps must be finite and >= 0")
    m = len(cap)
    chosen = np.unique(np.asarray(sites, dtype=np.int64))
    none = np.full(m, np.nan)
    rounds: list[dict[str, Any]] = []

    def result(status: str, need: npt.NDArray[np.float64] = none, bound: float = np.nan,
               n_scen: int = 0, entries: int = 0,
               normal: npt.NDArray[np.float64] | None = None, **info: Any) -> SizingResult:
        return SizingResult(status, need, bound, n_scen, entries, time.perf_counter() - t0,
                            {**info, "rounds": rounds}, normal)

    if not len(chosen):  # a loaded point with a candidate in budget is not excused
        if np.any((load > 0) & (np.diff(a.indptr) > 0)):
            return result("infeasible", n_scen=1, message="no open site")
        return result("optimal", np.zeros(m), 0.0, 1, normal=np.zeros(m))
    dom = None if domains is None else np.asarray(domains, dtype=object)
    # the points as the plan's scenarios see them: its domains' candidates and a witness,
    # merged (exact; Germany at 30 ms, N-1, places of >= 500 people: the program 225,775
    # -> 69,097 flow variables, 10.2 -> 3.6 s, the same optimum; hand run)
    a, load = plan_rows(a, load, chosen, dom, m)
    listed, complete = failure_scenarios(chosen, int(failures), dom, limit=int(limit),
                                         reach=a)
    if not complete:
        return result("scenarios_cut", n_scen=len(listed))
    comps = plan_components(a, chosen)
    known = {tuple(sorted(int(x) for x in f)) for f in listed}
    every = len(listed) <= all_at_once
    if every:  # the binding ones are most of them (N-1: 40 of 58 on Germany's demo; hand
        # run on a shared machine, one instance)
        first = listed
    start = None if start_hops is None else max(int(start_hops), 1)
    if not every and start is not None:  # generated: the cuts carry the rest
        start = min(start, GENERATED_HOPS)
    # the program's scenarios and their steps (None: the whole components; normal
    # operation always)
    hops: dict[tuple[int, ...], int | None] = {(): None}
    for f in first:
        key = tuple(sorted(int(x) for x in f))
        if key and key in known:
            hops.setdefault(key, start)
    whole: dict[tuple[int, ...], tuple[npt.NDArray[np.int64], sp.csr_array]] = {}
    blocks: dict[tuple[int, ...], tuple[npt.NDArray[np.int64], sp.csr_array]] = {}
    built: dict[tuple[int, ...], int | None] = {}
    grown = 0
    # capacity cuts: (sites, load) with sum of the sites' sizes >= load, from the minimum
    # cuts of the scenarios short at a round's sizes; each scenario's times short
    cuts: dict[tuple[int, ...], float] = {}
    seeded = 0
    if not every:  # (with every scenario a flow of the program, these are implied)
        cuts = neighbourhood_cuts(a, load, chosen, listed,
                                  deadline=t0 + SEED_SHARE * float(time_limit_s))
        seeded = len(cuts)
    times_short: dict[tuple[int, ...], int] = {}
    while True:
        for key, steps in hops.items():
            if key in blocks and built[key] == steps:
                continue
            if key not in whole:
                got = _block(a, load, m, chosen, key, comps)
                if got is None:
                    return result("infeasible", n_scen=len(listed),
                                  message=f"a point has no open site left in scenario {key!r}")
                whole[key] = got
            keep, block = whole[key]
            if steps is not None:
                near, closed = neighbourhood(a, keep, block, key, steps)
                if closed or (every and 2 * int(np.diff(block.indptr)[near].sum())
                              >= block.nnz):
                    # half the component or more, or all its points the failure can move
                    # (a scenario that is short at them is short at the whole, and says so)
                    steps = hops[key] = None
                else:
                    keep, block = keep[near], sp.csr_array(block[near])
            blocks[key], built[key] = (keep, block), steps
        entries = sum(b.nnz for _, b in blocks.values())
        if entries > max_entries:
            return result("too_large", n_scen=len(listed), entries=entries)
        left = deadline - time.perf_counter()
        if left <= 0:
            return result("time_limit", n_scen=len(listed), entries=entries)
        t = time.perf_counter()
        # (normal operation first: hops' first key, so blocks' first too)
        solved = _solve(list(blocks.values()), load, cap, chosen, m, left,
                        [(np.asarray(c, dtype=np.int64), v) for c, v in cuts.items()])
        if isinstance(solved, str):
            return result(solved, n_scen=len(listed), entries=entries)
        need, bound, message, normal_load = solved
        solve_s = time.perf_counter() - t
        # every scenario at the sizes (the program's own whole ones carry by construction)
        t = time.perf_counter()
        sizes = np.zeros(max(a.shape[1], m))  # (a witness column past cap_rps: size 0)
        sizes[:m] = need
        flows, checked, finished = check_scenarios_until(
            a, load, sizes, chosen, int(failures), domains=dom, limit=int(limit),
            deadline=deadline)
        # (every scenario: all those short grow, or give their cuts, at once; the check
        # is a max-flow each, the program far more)
        short = [tuple(sorted(int(x) for x in f.failed)) for f in flows if not f.feasible]
        n_cuts, raised = len(cuts), 0
        if short:  # (``a`` is the reach's pattern: reach_pattern above)
            for f in flows:
                if not f.feasible and f.failed:
                    for cols, need_rps in capacity_cuts(a, load, chosen, f, sizes):
                        if need_rps > cuts.get(cols, 0.0):  # new, or a larger load
                            cuts[cols] = need_rps
                            raised += 1
        for key in short:
            times_short[key] = times_short.get(key, 0) + 1
        if every:  # (every scenario is in the program)
            new = [key for key in short if key not in blocks]
            grow = [key for key in short if key in blocks and hops[key] is not None]
        else:  # a scenario short a second time enters as a flow near its failed sites;
            # the cuts carry the rest of it (its block never grows)
            new = [key for key in short
                   if key not in blocks and (times_short[key] >= 2 or not raised)]
            new = new[:int(per_round)]  # (no cut raised: each enters now, review 138)
            grow = []
        local = sum(steps is not None for steps in built.values())
        rounds.append({"scenarios": len(blocks), "local": local, "flow_variables": entries,
                       "cuts": len(cuts),
                       "total_rps": float(need.sum()), "short": len(short),
                       "solve_s": solve_s, "check_s": time.perf_counter() - t})
        logger.info("sizing round %d: %d scenario(s) (%d of them near their failed sites "
                    "only), %s flow variables, %d capacity cut(s), total %.6g requests/s; "
                    "%d scenario(s) short at these sizes", len(rounds), len(blocks), local,
                    f"{entries:,}", n_cuts, need.sum(), len(short))
        if not short and finished and checked:
            # each site at least its load in the check's own flows: a block near the
            # failed sites carries its scenario by the check's max-flow, which accepts
            # a site up to SITE_RTOL over its size (float rounding)
            for f in flows:
                if f.site_load_rps is not None:
                    need = np.maximum(need, np.where(need > 0, f.site_load_rps[:m], 0.0))
            # never above the full capacity (the flows' float rounding put a site 8e-10
            # over it, tester 142): the plan carries every scenario at full capacity
            need = np.minimum(need, np.maximum(cap, 0.0))
            logger.info("sizing: the least total capacity %.6g requests/s (the full "
                        "capacities' %.6g), %d of %d scenarios in the program, %.1f s",
                        need.sum(), float(cap[chosen].sum()), len(blocks), len(listed),
                        time.perf_counter() - t0)
            return result("optimal", need, min(bound, float(need.sum())), len(listed),
                          entries, normal=np.minimum(normal_load, need), message=message,
                          in_program=len(blocks), near_failed=local, grown=grown,
                          cuts=len(cuts), seeded=seeded)
        if not finished:
            return result("time_limit", n_scen=len(listed), entries=entries)
        if not new and not grow and not raised:  # short only within the check's
            # tolerance: never expected
            return result("error", n_scen=len(listed), entries=entries,
                          message="a scenario of the program is short at its own sizes")
        for key in grow:
            hops[key] = 2 * (hops[key] or 1)
        grown += len(grow)
        for key in new:
            hops[key] = start


def capacity_cuts(pattern: sp.csr_array, load_rps: npt.NDArray[np.float64],
                  chosen: npt.NDArray[np.int64], flow: ScenarioFlow,
                  sizes_rps: npt.NDArray[np.float64],
                  ) -> list[tuple[tuple[int, ...], float]]:
    """The capacity cuts a failure scenario short at ``sizes_rps`` gives the sizing: every
    feasible sizing has ``sum(c_j for j in sites) >= load`` for each returned
    ``(sites, load)``.

    The demand side ``S`` of the scenario's minimum cut (``flow.cut_rows``), split into
    its connected parts (as :func:`coverage.solvers.capacitated.split_cut` splits it, in
    its order, all the parts in one pass over the cut's pairs), its excused
    points and points without load out: a part's load can go only to the open sites alive
    within budget of its points (Hall's condition, a projection of the scenario's flow).
    Only the parts the sizes violate are returned.
    """
    from scipy.sparse.csgraph import connected_components

    if flow.cut_rows is None or not len(flow.cut_rows):
        return []
    width = pattern.shape[1]
    failed = np.asarray(flow.failed, dtype=np.int64)
    failed = failed[(failed >= 0) & (failed < width)]
    dead = np.zeros(width, dtype=bool)
    dead[failed] = True
    alive = np.zeros(width, dtype=bool)
    alive[chosen] = True
    alive &= ~dead
    # all the parts at once (as split_cut's loop would give them, in its order): the
    # cut's rows, their pairs, their components with the open sites alive
    rows = np.sort(np.asarray(flow.cut_rows, dtype=np.int64))
    r = len(rows)
    sub = sp.csr_array(pattern[rows])
    ind = sub.indices.astype(np.int64)
    rid = np.repeat(np.arange(r, dtype=np.int64), np.diff(sub.indptr))
    live = alive[ind]
    if r > 1:
        cols = np.flatnonzero(alive)
        node = r + np.searchsorted(cols, ind[live])
        graph = sp.csr_array((np.ones(len(node), dtype=np.int8), (rid[live], node)),
                             shape=(r + len(cols), r + len(cols)))
        lab = connected_components(graph, directed=False)[1][:r].astype(np.int64)
    else:
        lab = np.zeros(r, dtype=np.int64)
    # (excused: every candidate within budget failed)
    ok = (np.bincount(rid, weights=~dead[ind], minlength=r) > 0) & (load_rps[rows] > 0)
    n_lab = int(lab.max()) + 1
    need_rps = np.bincount(lab[ok], weights=load_rps[rows[ok]], minlength=n_lab)
    pair = np.unique(lab[rid[live & ok[rid]]] * width + ind[live & ok[rid]])
    pair_lab, pair_site = pair // width, pair % width
    have_rps = np.bincount(pair_lab, weights=sizes_rps[pair_site], minlength=n_lab)
    has_ok = np.bincount(lab[ok], minlength=n_lab) > 0
    # the parts short (or near it) by these sums, then each summed as the loop over the
    # parts summed it (numpy's sum of its points, in order), so that a cut's load does
    # not depend on how its part was found; short within the check's rounding only
    # (1e-9): no cut
    short = np.flatnonzero(has_ok & (have_rps < need_rps * (1 - 1e-9) * (1 + 1e-12)))
    site_lo = np.searchsorted(pair_lab, short)
    site_hi = np.searchsorted(pair_lab, short, side="right")
    by_part = np.flatnonzero(ok)[np.argsort(lab[ok], kind="stable")]  # (rows in order)
    row_lo = np.searchsorted(lab[by_part], short)
    row_hi = np.searchsorted(lab[by_part], short, side="right")
    out = []
    for s0, s1, r0, r1 in zip(site_lo.tolist(), site_hi.tolist(), row_lo.tolist(),
                              row_hi.tolist(), strict=True):
        part_rps = float(load_rps[rows[by_part[r0:r1]]].sum())
        cols = pair_site[s0:s1]
        if float(sizes_rps[cols].sum()) < part_rps * (1 - 1e-9):
            out.append((tuple(cols.tolist()), part_rps))
    return out


def neighbourhood_cuts(pattern: sp.csr_array, load_rps: npt.NDArray[np.float64],
                       chosen: npt.NDArray[np.int64], scenarios: Iterable[Iterable[int]],
                       deadline: float | None = None) -> dict[tuple[int, ...], float]:
    """Capacity cuts every sizing that carries ``scenarios`` meets, found without a flow:
    ``{sites: load}`` with ``sum(c_j for j in sites) >= load``.

    In a failure scenario, the loaded points within budget of a failed site are grouped by
    their open sites alive within budget (excused points, with none, out); a group's sites
    must carry its load and that of every group whose sites are among its own (Hall's
    condition on that set of points). Points with no failed site in budget are left to
    normal operation's flow, which the program always holds. A set of sites named by
    several scenarios keeps its largest load.

    These seed the first program of a generated sizing (more than :data:`ALL_AT_ONCE`
    scenarios: most plans at N-2 and up), which otherwise learns them a round at a time
    from the minimum cuts of the scenarios short at its sizes. Stops at ``deadline``
    (``time.perf_counter()``) with the cuts found by then.
    """
    width = pattern.shape[1]
    by_site = sp.csc_array(pattern)
    is_open = np.zeros(width, dtype=bool)
    is_open[chosen] = True
    out: dict[tuple[int, ...], float] = {}
    for failed in scenarios:
        if deadline is not None and time.perf_counter() > deadline:
            break
        f = np.fromiter(failed, dtype=np.int64)  # (any collection of candidates)
        f = f[(f >= 0) & (f < width)]
        if not len(f):
            continue
        rows = np.unique(np.concatenate(
            [by_site.indices[by_site.indptr[j]:by_site.indptr[j + 1]] for j in f]))
        rows = rows[load_rps[rows] > 0]
        if not len(rows):
            continue
        sub = sp.csr_array(pattern[rows])
        sub.sort_indices()
        ind = sub.indices.astype(np.int64)
        rid = np.repeat(np.arange(len(rows), dtype=np.int64), np.diff(sub.indptr))
        live = is_open[ind] & ~np.isin(ind, f)
        ind, rid = ind[live], rid[live]
        degree = np.bincount(rid, minlength=len(rows))
        ok = degree > 0  # (not excused)
        if not ok.any():
            continue
        if len(rows) * int(degree.max()) > MAX_SEED_CELLS:  # (optional: review 141)
            continue
        # each point's open sites alive, in order, one row each (padded with -1): the
        # groups are the distinct rows
        start = np.concatenate([[0], np.cumsum(degree)[:-1]])
        padded = np.full((len(rows), int(degree.max())), -1, dtype=np.int64)
        padded[rid, np.arange(len(ind)) - start[rid]] = ind
        sets, group = np.unique(padded[ok], axis=0, return_inverse=True)
        group = np.asarray(group).ravel()
        group_rps = np.bincount(group, weights=load_rps[rows[ok]])
        n_groups = len(sets)
        g_row, g_col = np.nonzero(sets >= 0)
        sites = sp.csr_array((np.ones(len(g_row)), (g_row, sets[g_row, g_col])),
                             shape=(n_groups, width))
        # group g's sites among group h's: their common sites are all of g's
        common = sp.coo_array(sites @ sites.T)
        inside = common.data == np.diff(sites.indptr)[common.row]
        need = np.bincount(common.col[inside], weights=group_rps[common.row[inside]],
                           minlength=n_groups)
        for g in range(n_groups):
            cols = tuple(sites.indices[sites.indptr[g]:sites.indptr[g + 1]].tolist())
            if need[g] > out.get(cols, 0.0):
                out[cols] = float(need[g])
    return out


def neighbourhood(reach: sp.csr_array, keep: npt.NDArray[np.int64], block: sp.csr_array,
                  failed: tuple[int, ...], steps: int,
                  ) -> tuple[npt.NDArray[np.int64], bool]:
    """The rows of a scenario's ``block`` (its points ``keep``, their pairs with the open
    sites alive) within ``steps`` steps of its ``failed`` sites: step 1, the points with a
    failed site within budget (in ``reach``); each further step, the points within budget
    of an open site alive that the points so far reach. Also whether a step added nothing
    (every point connected to the failed sites is in)."""
    width = reach.shape[1]
    f = np.asarray(failed, dtype=np.int64)
    dead = np.zeros(width, dtype=bool)
    dead[f[(f >= 0) & (f < width)]] = True
    # (int32 counts: int8 would wrap past 127 points of a site)
    sub = sp.csr_array(reach[keep], dtype=np.int32)
    near = np.asarray(sub @ dead.astype(np.int32)).ravel() > 0
    pattern = sp.csr_array((np.ones(block.nnz, dtype=np.int32), block.indices, block.indptr),
                           shape=block.shape)
    for _ in range(int(steps) - 1):
        sites = np.asarray(pattern.T @ near.astype(np.int32)).ravel() > 0
        wider = near | (np.asarray(pattern @ sites.astype(np.int32)).ravel() > 0)
        if np.array_equal(wider, near):
            return np.flatnonzero(near), True
        near = wider
    return np.flatnonzero(near), False


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
           cuts: Sequence[tuple[npt.NDArray[np.int64], float]] = (),
           ) -> tuple[npt.NDArray[np.float64], float, str, npt.NDArray[np.float64]] | str:
    """The program over ``blocks`` and the capacity ``cuts`` (:func:`capacity_cuts`): the
    sizes (every site's largest load over its flows, each point's shares summing to one,
    and at least its capacity variable when there are cuts), its optimum (requests/s),
    HiGHS's message and every site's load in the first block's flow; or HiGHS's status
    when it has no solution."""
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
    for cols, need_rps in cuts:  # sum of the sites' capacities >= the cut's load, as a
        # share of that load (a right-hand side of 1)
        rr.append(np.full(len(cols), row_cap))
        cc.append(col_of[cols])
        vv.append(cap_c[col_of[cols]] / need_rps)
        row_cap += 1
    n_var, n_rows = offset, row_cap
    mat = sp.csr_array(sp.coo_array((np.concatenate(vv), (np.concatenate(rr),
                                                           np.concatenate(cc))),
                                    shape=(n_rows, n_var)))
    n_cut = len(cuts)
    lo = np.concatenate([np.ones(n_eq), np.full(n_rows - n_eq - n_cut, -np.inf),
                         np.ones(n_cut)])
    hi = np.concatenate([np.ones(n_eq), np.zeros(n_rows - n_eq - n_cut),
                         np.full(n_cut, np.inf)])
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
    first: npt.NDArray[np.float64] | None = None
    for keep, block in blocks:
        share = np.where(closed[block.indices], 0.0, x[offset:offset + block.nnz])
        offset += block.nnz
        flows = sp.csr_array((share, block.indices, block.indptr), shape=block.shape)
        total = flows.sum(axis=1)
        flows = sp.csr_array(sp.diags(load[keep] / np.where(total > 0, total, 1.0)) @ flows)
        site_load = np.asarray(flows.sum(axis=0)).ravel()
        need = np.maximum(need, site_load)
        if first is None:
            first = site_load
    if n_cut:  # the cuts hold on the capacity variables, not on the flows' loads
        need[chosen] = np.maximum(need[chosen], np.where(top > 0, x[:k], 0.0) * cap_c)
        # and only to the solver's tolerance (1e-7 of a cut's load; the check finds a
        # scenario short from 1e-9): a cut's shortfall is spread over its sites' headroom
        # (at full capacity the plan carries every scenario, so the headroom is enough)
        room = np.zeros(m)
        room[chosen] = np.where(top > 0, np.maximum(cap[chosen], 0.0), 0.0)
        for cols, need_rps in cuts:
            short_rps = need_rps - float(need[cols].sum())
            if short_rps > 0:
                head = np.maximum(room[cols] - need[cols], 0.0)
                if head.sum() > 0:
                    need[cols] += head * min(short_rps / float(head.sum()), 1.0)
    return (need, float(res.objective) * scale, str(res.message),
            np.zeros(m) if first is None else first)
