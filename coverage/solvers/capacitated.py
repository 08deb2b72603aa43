"""Capacitated N-k site selection, proven by cut generation with a max-flow oracle.

A plan is **feasible** when, in normal operation and in every failure scenario ``F`` (any
``k`` failure domains: single sites by default), every demand point's load can be served by
open sites of ``N_i \\ F`` (within its budget) without exceeding any site's capacity, load
being splittable across sites. A point whose every candidate in budget has failed
(``N_i ⊆ F``; always for ``|N_i| = 0``) is excused in that scenario: no plan can serve it, and
the coverage requirement ``min(k + 1, |N_i|)`` already says so.

By max-flow / min-cut (Gale's theorem for the transportation problem) a scenario is feasible
if and only if every set ``S`` of demand points satisfies::

    sum_{s in N(S) \\ F} cap_s y_s >= load(S)

These are the **capacity cuts**. :func:`capacitated_cover` solves the site-count MILP
(HiGHS via :func:`scipy.optimize.milp`) with the coverage rows and the cuts found so far,
then checks every scenario of the plan with one max-flow each
(:func:`scipy.sparse.csgraph.maximum_flow`); a scenario short of load yields the demand side
``S`` of its minimum cut, i.e. a violated cut, which is added before the next round. When
a plan passes every scenario it is feasible, and it is optimal because every round solves a
relaxation (a subset of the valid cuts): the bound of the last round is a bound of the
problem; it starts from the fleet's total capacity
(:func:`coverage.solvers.capacity_bound.capacity_lower_bound`: the fewest sites whose
capacities carry the load that no scenario excuses, the largest failing). Meanwhile each
round's plan is repaired (:func:`repair_plan`: sites added for the
violated cuts until every scenario passes, then redundant ones closed) into a feasible
**incumbent**, and the infeasible scenarios the repair meets on the way become cuts too;
the search also stops, optimal, when the best incumbent meets the bound, and
a search stopped by its round or time cap returns the incumbent with the proven bound
(status ``time_limit``; ``time_limit_short`` when even the final repair runs out of time:
the plan reached, not claimed feasible). The max-flows are integer (scipy's int32):
loads rounded **up** and capacities **down** to a common resolution (``2**30`` units for
the largest of total load and total capacity), re-solved on the residual at a finer unit
when a cut lies within that rounding (:func:`scenario_flow`); the flow reported is real,
every point served exactly its load when the scenario is feasible, so a plan the oracle
accepts is feasible in the real numbers (no site over its capacity by more than
:data:`SITE_RTOL` of it, the remainder placed at most :data:`FLOW_RTOL` of the scenario's
load).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint
from scipy.sparse.csgraph import breadth_first_order, connected_components, maximum_flow

from .capacity_bound import CHECK_RTOL, capacity_lower_bound
from .interrupt import milp
from .matrix_args import reach_pattern, required_mask

logger = logging.getLogger(__name__)

__all__ = ["CapacityResult", "ScenarioFlow", "balanced_flow", "balanced_scenario",
           "capacitated_cover", "capacity_cut", "plan_components",
           "check_scenarios", "check_scenarios_until", "domain_codes", "merge_identical_rows",
           "plan_columns", "plan_rows", "reach_pattern", "with_witness",
           "repair_plan",
           "repair_plan_until",
           "absorbed_groups", "absorbed_pairs", "failure_groups", "groups_by_component",
           "triples_to_check", "failure_scenarios", "local_reroutes",
           "meeting_pairs",
           "scenario_count",
           "scenario_flow", "split_cut", "FLOW_RTOL", "FLOW_UNITS",
           "MAX_FLOW_PASSES"]

#: Integer flow units for the largest of total load and total capacity (scipy's max-flow
#: takes int32 capacities).
FLOW_UNITS = 2**30

#: Relative tolerance of the capacity check in real numbers: a scenario is infeasible when
#: a cut is short by more than this share of its own load, and the rounding remainder a
#: feasible flow places is at most this share of the scenario's load (each site then held
#: to :data:`SITE_RTOL` of its capacity). (The cut's share was the whole scenario's load:
#: loads of 1e9 elsewhere let a small site carry 180 % of its capacity.)
#: (Defined with the capacity bound, which takes it into account.)
FLOW_RTOL = CHECK_RTOL

#: How far over its capacity a feasible scenario may load one site, as a share of that
#: capacity: the rounding remainder of the integer passes (about (K M / 2^30)^2 of a
#: point's load for K sites in its reach of M open; 4e-8 of a site was seen with 1,000
#: sites open and a cut exactly full) lands on one site, so this is looser than
#: :data:`FLOW_RTOL` and far below what a plan could notice.
SITE_RTOL = 1e-6

#: Most integer max-flows per scenario (:func:`scenario_flow`): the first decides all but
#: cuts within the rounding of its unit, the next ones re-solve what is left at a finer unit.
MAX_FLOW_PASSES = 3


@dataclass(frozen=True)
class ScenarioFlow:
    """One scenario's max-flow.

    Attributes
    ----------
    failed : tuple of int
        Failed sites (candidate indices).
    load_rps : float
        Load that must be served (points not excused), requests/s.
    served_rps : float
        Load served: all of ``load_rps`` when feasible; otherwise by the real flow reached
        (a lower bound of the most servable, by at most the rounding of its max-flow).
    shed_rps : float
        ``load_rps - served_rps`` (0 for a feasible scenario).
    feasible : bool
        Every non-excused point fully served (see :func:`scenario_flow`).
    cut_rows : numpy.ndarray or None
        When infeasible: the demand points on the source side of the minimum cut (``S``).
    flows : scipy.sparse.csr_array or None
        ``(n_demand, n_sites)`` flow in requests/s (when asked for): when feasible, every
        point's row sums to its load (excused points: 0); never above a site's capacity
        by more than :data:`SITE_RTOL` of that capacity.
    site_load_rps : numpy.ndarray
        Load on every candidate, requests/s: the column sums of ``flows`` (without flows,
        for a scenario decided by its first max-flow, that flow's: within capacity, the
        points' loads rounded up to its unit).
    reroutes : list or None
        Normal operation only, when :func:`check_scenarios_until` needed them: the
        :func:`local_reroutes` of the plan's failure groups from this flow (kept so that a
        check resumed with ``done=`` does not compute them again).
    pairs_absorbed : frozenset or None
        Normal operation only, when :func:`check_scenarios_until` needed them: the pairs of
        failure groups (indices into :func:`failure_groups`) whose joint failure a local
        reroute absorbs (:func:`absorbed_pairs`), kept likewise; ``pair_reroutes``: what
        each of their joint reroutes touches.
    triples_absorbed, triples : frozenset, set or None
        Normal operation only, at N-3 when :func:`check_scenarios_until` needed them: the
        triples a joint local reroute absorbs, and those left to check
        (:func:`triples_to_check`), kept likewise.
    """

    failed: tuple[int, ...]
    load_rps: float
    served_rps: float
    shed_rps: float
    feasible: bool
    cut_rows: npt.NDArray[np.int64] | None = field(default=None, repr=False)
    flows: sp.csr_array | None = field(default=None, repr=False)
    site_load_rps: npt.NDArray[np.float64] | None = field(default=None, repr=False)
    reroutes: list[npt.NDArray[np.int64] | None] | None = field(default=None, repr=False)
    pairs_absorbed: frozenset[tuple[int, int]] | None = field(default=None, repr=False)
    pair_reroutes: dict[tuple[int, ...], npt.NDArray[np.int64]] | None = field(
        default=None, repr=False)
    triples_absorbed: frozenset[tuple[int, int, int]] | None = field(default=None,
                                                                     repr=False)
    triples: set[tuple[int, int, int]] | None = field(default=None, repr=False)


def _scale(load: npt.NDArray[np.float64], cap: npt.NDArray[np.float64]) -> tuple[float, bool]:
    """Flow units per request/s, and whether the rounding is exact (integer loads and
    capacities that fit: unit 1)."""
    total = float(load.sum())
    # no floor but 0 (a floor of 1e-12 rounded every room of a load of 1e-30 down to 0:
    # "0.0 of 0.0 requests/s cannot be served", a tester's find); the load column refuses
    # positive loads below 1e-12 and a load from population below 1e-250 in all
    # (coverage.model.capacity), so the scale stays finite
    top = max(total, float(np.minimum(cap, total).sum()))
    if not top > 0:
        top = 1.0
    if (top <= FLOW_UNITS and np.all(load == np.round(load))
            and np.all(np.minimum(cap, total) == np.round(np.minimum(cap, total)))):
        return 1.0, True
    return FLOW_UNITS / top, False


def _flow_pass(pair_i: npt.NDArray[np.int64], pair_j: npt.NDArray[np.int64],
               flow_rps: npt.NDArray[np.float64], short_rps: npt.NDArray[np.float64],
               room_rps: npt.NDArray[np.float64], *, pair_flows: bool = True,
               ) -> tuple[npt.NDArray[np.float64] | None, npt.NDArray[np.float64], bool,
                          npt.NDArray[np.int64]]:
    """One integer max-flow on the residual network of a real flow.

    The network (source, points, sites, sink) carries each point's unserved load
    ``short_rps`` (rounded **up**), each site's spare capacity ``room_rps`` (rounded
    **down**), any amount from a point to a site within budget, and, back from a site to a
    point, the real flow already there (rounded down): pushing flow back re-routes it. The
    unit is the finest that scipy's int32 max-flow allows for this residual
    (:data:`FLOW_UNITS` for the larger of its load and its usable capacity).

    Parameters
    ----------
    pair_i, pair_j : numpy.ndarray
        Point and site of every (point, open site alive) pair within budget.
    flow_rps : numpy.ndarray
        Real flow on every pair, requests/s.
    short_rps, room_rps : numpy.ndarray
        Unserved load of every point and spare capacity of every site, requests/s.
    pair_flows : bool, default True
        Return the pairs' flows even when the pass saturates (they are always returned
        otherwise).

    Returns
    -------
    delta_rps : numpy.ndarray or None
        Net change of every pair's flow, requests/s (a real flow: spare capacity and the
        flow pushed back are rounded down, so no site goes over and no pair below 0 beyond
        float rounding; a point may be served up to one unit more than it lacked). ``None``
        when saturated without ``pair_flows``.
    site_in_rps : numpy.ndarray
        Flow added into every site, requests/s (at most its ``room_rps``).
    saturated : bool
        Every point's rounded-up unserved load went through.
    cut_rows : numpy.ndarray
        Points on the source side of the minimum cut (empty when saturated).
    """
    n, m = len(short_rps), len(room_rps)
    if not np.any(short_rps > 0):  # nothing left to serve
        return np.zeros(len(pair_i)), np.zeros(m), True, np.zeros(0, dtype=np.int64)
    scale, _ = _scale(short_rps, room_rps)
    need_u = np.ceil(short_rps * scale).astype(np.int64)
    big = int(max(need_u.sum(), 1))
    room_u = np.floor(np.minimum(room_rps, float(short_rps.sum())) * scale).astype(np.int64)
    back = np.flatnonzero(flow_rps > 0)  # flow that can be pushed back (none at first)
    back_u = np.floor(np.minimum(flow_rps[back] * scale, big)).astype(np.int64)
    # nodes: 0 source, 1..n points, n+1..n+m sites, n+m+1 sink
    rows_e = np.concatenate([np.zeros(n, dtype=np.int64), 1 + pair_i, 1 + n + pair_j[back],
                             1 + n + np.arange(m)])
    cols_e = np.concatenate([1 + np.arange(n), 1 + n + pair_j, 1 + pair_i[back],
                             np.full(m, n + m + 1)])
    caps_e = np.concatenate([need_u, np.full(len(pair_i), big), back_u, room_u])
    keep = caps_e > 0
    size = n + m + 2
    graph = sp.csr_array((caps_e[keep].astype(np.int32), (rows_e[keep], cols_e[keep])),
                         shape=(size, size))
    graph.sum_duplicates()
    res = maximum_flow(graph, 0, size - 1)
    flow = res.flow
    site_in = -np.asarray(flow[[size - 1]].toarray()).ravel()[1 + n:1 + n + m] / scale
    saturated = bool(res.flow_value >= int(need_u.sum()))
    delta = None
    if len(pair_i) and (pair_flows or not saturated):
        # antisymmetric net flow: forward minus pushed back
        delta = np.asarray(flow[1 + pair_i, 1 + n + pair_j], dtype=np.float64).ravel() / scale
    elif pair_flows or not saturated:
        delta = np.zeros(0)
    if saturated:
        return delta, site_in, True, np.zeros(0, dtype=np.int64)
    resid = sp.csr_array(graph - flow)
    resid.data = np.where(resid.data > 0, 1, 0).astype(np.int8)
    resid.eliminate_zeros()
    seen = np.asarray(breadth_first_order(resid, 0, directed=True, return_predecessors=False))
    return (delta, site_in, False,
            np.sort(seen[(seen >= 1) & (seen <= n)] - 1).astype(np.int64))


def scenario_flow(reach: sp.csr_array, load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
                  open_sites: npt.ArrayLike, failed: npt.ArrayLike = (), *,
                  with_flows: bool = False) -> ScenarioFlow:
    """Max-flow of one scenario: open sites minus ``failed`` serve every point's load.

    The flow is real (requests/s) and built by integer max-flows
    (:func:`scipy.sparse.csgraph.maximum_flow`) on its residual network (:func:`_flow_pass`),
    loads rounded up and capacities down, up to :data:`MAX_FLOW_PASSES` times, each pass at
    the finest unit for what is left. After every pass the points served more than their
    load (rounded up) have their flows scaled down to it, so no pass ever overloads a site.

    - **Feasible**: every point served exactly its load (to float rounding) and no site
      above its capacity by more than :data:`SITE_RTOL` of its own capacity (or load). A
      load so
      small that the passes leave at most that much of it unserved is put on the point's
      site with the most spare capacity and the result checked again.
    - **Infeasible**: the demand side ``S`` of a pass's minimum cut whose load exceeds the
      capacity of the open sites alive within budget of ``S`` by more than
      :data:`FLOW_RTOL` of that load (a violated capacity cut, in real numbers), or, when
      no pass decides
      (a cut within the tolerance), the conservative verdict with that pass's cut. The flow
      returned is then the real flow reached: within capacity, no point over its load.

    Parameters
    ----------
    reach : scipy.sparse.csr_array
        ``(n_demand, n_sites)`` pattern of (point, candidate) pairs within budget.
    load_rps : array_like
        Load of every point, requests/s (>= 0).
    cap_rps : array_like
        Capacity of every candidate, requests/s (>= 0).
    open_sites : array_like of int
        The plan's sites.
    failed : array_like of int
        The scenario's failed sites.
    with_flows : bool, default False
        Also return the flow of every (point, site) pair.

    Returns
    -------
    ScenarioFlow
    """
    return _scenario_flow_on(_ScenarioSetup.of(reach, load_rps, open_sites, failed),
                             cap_rps, with_flows=with_flows)


@dataclass(frozen=True)
class _ScenarioSetup:
    """What :func:`scenario_flow` derives from the reach, the loads, the open sites and the
    failed ones, not from the capacities: computed once for the steps of a bisection on
    the capacities (:func:`balanced_flow`), where it cost as much as the max-flows."""

    n: int
    m: int
    failed: tuple[int, ...]
    up: npt.NDArray[np.bool_]
    need: npt.NDArray[np.float64]
    total: float
    pair_i: npt.NDArray[np.int64]
    pair_j: npt.NDArray[np.int64]

    @classmethod
    def of(cls, reach: sp.csr_array, load_rps: npt.ArrayLike, open_sites: npt.ArrayLike,
           failed: npt.ArrayLike = ()) -> _ScenarioSetup:
        reach = reach_pattern(reach)
        n, m = reach.shape
        load = np.asarray(load_rps, dtype=np.float64)
        failed_t = tuple(int(f) for f in np.atleast_1d(np.asarray(failed, dtype=np.int64)))
        down = np.zeros(m, dtype=bool)
        down[list(failed_t)] = True
        up = np.zeros(m, dtype=bool)
        up[np.asarray(open_sites, dtype=np.int64)] = True
        up &= ~down
        # excused: every candidate in budget failed (N_i within F)
        alive_any = np.asarray(reach @ (~down).astype(np.int64)).ravel() > 0
        need = np.where(alive_any, load, 0.0)
        site_cols = np.flatnonzero(up)
        coo = sp.coo_array(reach[:, site_cols] if len(site_cols) else sp.csr_array((n, 0)))
        return cls(n, m, failed_t, up, need, float(need.sum()), coo.row.astype(np.int64),
                   site_cols[coo.col].astype(np.int64))


class _ComponentSetups:
    """The :class:`_ScenarioSetup` of every failure scenario of one check, from each
    component's rows and (point, open site) pairs taken once (a failure scenario then
    masks its failed sites' pairs and excuses the points whose candidates all failed)
    instead of slicing the reach for every scenario: on the captured sizing inputs of
    2026-12-05 that slicing was about a third of each scenario's max-flow.

    Parameters
    ----------
    reach : scipy.sparse.csr_array
        Points x candidates within budget.
    load : numpy.ndarray
        Every point's load.
    open_sites : numpy.ndarray
        The plan's sites.
    row_lab : numpy.ndarray
        Component of every point (:func:`check_scenarios_until`'s labels).
    """

    def __init__(self, reach: sp.csr_array, load: npt.NDArray[np.float64],
                 open_sites: npt.NDArray[np.int64], row_lab: npt.NDArray[np.int64]) -> None:
        # (each pair once: a point's candidates are its distinct columns; no copy of an
        # already canonical reach, as check_scenarios_until passes it)
        self.a, self.load, self.row_lab = reach_pattern(reach), load, row_lab
        self.m = self.a.shape[1]
        self.is_open = np.zeros(self.m, dtype=bool)
        self.is_open[open_sites] = True
        self.a_csc: sp.csc_array | None = None
        self.parts: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                                    npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}

    def _part(self, rows: npt.NDArray[np.int64]) -> tuple[
            npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        sub = sp.csr_array(self.a[rows])
        deg = np.diff(sub.indptr).astype(np.int64)
        pi = np.repeat(np.arange(len(rows), dtype=np.int64), deg)
        pj = sub.indices.astype(np.int64)
        on = self.is_open[pj]
        return pi[on], pj[on], deg

    def of(self, comps: npt.NDArray[np.int64], failed: tuple[int, ...],
           ) -> tuple[npt.NDArray[np.int64], _ScenarioSetup]:
        """The rows of components ``comps`` and the setup of the scenario ``failed`` on
        them (as ``_ScenarioSetup.of(reach[rows], load[rows], open_sites, failed)``)."""
        if len(comps) == 1:
            c = int(comps[0])
            if c not in self.parts:
                rows = np.flatnonzero(self.row_lab == c).astype(np.int64)
                self.parts[c] = (rows, *self._part(rows))
            rows, pi, pj, deg = self.parts[c]
        else:  # (rare: failures in several components; not kept)
            rows = np.flatnonzero(np.isin(self.row_lab, comps)).astype(np.int64)
            pi, pj, deg = self._part(rows)
        down = np.zeros(self.m, dtype=bool)
        down[list(failed)] = True
        up = self.is_open & ~down
        # excused: every candidate in budget failed (its failed candidates are its degree)
        if self.a_csc is None:
            self.a_csc = sp.csc_array(self.a)
        csc = self.a_csc
        hit = np.concatenate([csc.indices[csc.indptr[f]:csc.indptr[f + 1]]
                              for f in set(failed)] or [np.zeros(0, dtype=np.int64)])
        at = np.searchsorted(rows, hit)
        inside = at < len(rows)
        inside[inside] = rows[at[inside]] == hit[inside]
        lost = np.bincount(at[inside], minlength=len(rows))
        need = np.where(lost < deg, self.load[rows], 0.0)
        keep = ~down[pj]
        return rows, _ScenarioSetup(len(rows), self.m, failed, up, need, float(need.sum()),
                                    pi[keep], pj[keep])


def _scenario_flow_on(setup: _ScenarioSetup, cap_rps: npt.ArrayLike, *,
                      with_flows: bool = False) -> ScenarioFlow:
    """:func:`scenario_flow` on its :class:`_ScenarioSetup`."""
    n, m, failed_t, up = setup.n, setup.m, setup.failed, setup.up
    need, total, pair_i, pair_j = setup.need, setup.total, setup.pair_i, setup.pair_j
    cap = np.asarray(cap_rps, dtype=np.float64)
    usable = np.where(up, np.minimum(cap, total), 0.0)  # a site carries at most the load
    x = np.zeros(len(pair_i))
    tol_rps = FLOW_RTOL * total
    feasible = total <= 0
    decided = feasible
    cut: npt.NDArray[np.int64] | None = None
    for _ in range(MAX_FLOW_PASSES):
        if decided:
            break
        short = np.maximum(need - np.bincount(pair_i, x, minlength=n), 0.0)
        room = np.maximum(usable - np.bincount(pair_j, x, minlength=m), 0.0)
        delta, site_in, saturated, cut = _flow_pass(pair_i, pair_j, x, short, room,
                                                    pair_flows=with_flows)
        if delta is None:  # saturated, flows not asked: the sites' loads suffice (each at
            # most its capacity rounded down; the points' rounding up included), this pass's
            # added to the earlier passes' (a second pass's remainder alone read 0.009 of a
            # site's 637,315 requests/s)
            return ScenarioFlow(failed_t, total, total, 0.0, True, None, None,
                                np.bincount(pair_j, x, minlength=m) + site_in)
        x = np.maximum(x + delta, 0.0)
        # points served more than their load (rounded up) back to it: sites only lose load
        served = np.bincount(pair_i, x, minlength=n)
        x *= np.divide(need, served, out=np.ones(n), where=served > need)[pair_i]
        if saturated:
            feasible = decided = True
        else:  # the pass's cut, violated in real numbers: infeasible
            near = np.zeros(m, dtype=bool)
            near[pair_j[np.isin(pair_i, cut)]] = True
            # the tolerance is the cut's own share, not the scenario's: 1e-9 of 2e9
            # requests/s elsewhere let a cut of 1.8 on 1.0 of capacity pass (a tester's
            # find: a site certified at 180 %)
            cut_need = float(need[cut].sum())
            decided = float(cap[near].sum()) < cut_need - FLOW_RTOL * cut_need
    if not decided:  # no pass decided: a shortfall within the tolerance, at most
        short = np.maximum(need - np.bincount(pair_i, x, minlength=n), 0.0)
        reachable = np.bincount(pair_i, minlength=n) > 0
        if float(short.sum()) <= tol_rps and np.all(reachable[short > 0]):
            x = _place_rest(pair_i, pair_j, x, short, usable)
            feasible = True
    served = np.bincount(pair_i, x, minlength=n)
    if feasible:
        # every point exactly its load: each row scaled to it (from float rounding only)
        feasible = bool(np.all(served[need > 0] > 0))
        x *= np.divide(need, served, out=np.zeros(n), where=served > 0)[pair_i]
    site_load = np.bincount(pair_j, x, minlength=m)
    cap_up = np.where(up, cap, 0.0)
    if feasible and np.any(site_load > cap_up + SITE_RTOL * np.maximum(cap_up, site_load)):
        # a site over its capacity by more than its own share (not the scenario's: a site
        # of 1.0 took 1.8 within 1e-9 of 2e9): the remainder placed does not fit;
        # conservative (the passes' rounding remainder: 4e-8 of a small site was seen)
        feasible = False
    if feasible:
        cut, served_rps = None, total
    else:
        served_rps = min(float(np.minimum(served, need).sum()), total)
        if cut is None or not len(cut):
            cut = np.flatnonzero(need > served * (1 + FLOW_RTOL)).astype(np.int64)
    flows = None
    if with_flows:
        flows = sp.csr_array((x, (pair_i, pair_j)), shape=(n, m))
        flows.eliminate_zeros()
    return ScenarioFlow(failed_t, total, served_rps, max(total - served_rps, 0.0), feasible,
                        cut, flows, site_load)


def _place_rest(pair_i: npt.NDArray[np.int64], pair_j: npt.NDArray[np.int64],
                flow_rps: npt.NDArray[np.float64],
                short_rps: npt.NDArray[np.float64], usable_rps: npt.NDArray[np.float64],
                ) -> npt.NDArray[np.float64]:
    """Every point's unserved load (at most :data:`FLOW_RTOL` of the scenario's in all, a
    rounding remainder; each site then held to :data:`SITE_RTOL` of its capacity) put
    on its pair with the most spare capacity; returns the new pair flows."""
    room = usable_rps - np.bincount(pair_j, flow_rps, minlength=len(usable_rps))
    # the pair of each short point whose site has the most room (+2: every pair counts),
    # never a site without capacity while one with some is in reach (1e-16 put on a
    # site of size 0 failed the site check, relative to 0: tester 139)
    score = np.where(usable_rps[pair_j] > 0, room[pair_j] - room.min() + 2.0, 1.0)
    score = sp.csr_array((score, (pair_i, np.arange(len(pair_i)))),
                         shape=(len(short_rps), len(pair_i)))
    rows = np.flatnonzero((short_rps > 0) & (np.bincount(pair_i, minlength=len(short_rps)) > 0))
    best = np.asarray(score[rows].argmax(axis=1)).ravel()
    out = flow_rps.copy()
    np.add.at(out, best, short_rps[rows])
    return out


def scenario_count(n_groups: int, failures: int) -> int:
    """Every failure scenario of a plan of ``n_groups`` failure groups: normal operation and
    every set of 1 to ``failures`` groups (checked, or implied by those checked)."""
    top = min(max(int(failures), 0), int(n_groups))
    return 1 + sum(math.comb(int(n_groups), k) for k in range(1, top + 1))


def failure_groups(open_sites: npt.ArrayLike, domains: npt.ArrayLike | None = None,
                   ) -> tuple[list[tuple[int, ...]], npt.NDArray[np.int64]]:
    """What fails together: every failure domain holding an open site, as the tuple of all
    its candidates (open or not), in the order of the open sites; and the group of every
    open site. Without ``domains`` each open site is its own group."""
    sites = np.asarray(open_sites, dtype=np.int64)
    if domains is None:
        return [(int(s),) for s in sites], np.arange(len(sites), dtype=np.int64)
    dom = np.asarray(domains, dtype=object)
    members: dict[Any, list[int]] = {}
    for j, d in enumerate(dom):
        members.setdefault(d, []).append(j)
    open_domains = list(dict.fromkeys(dom[sites]))
    pos = {d: i for i, d in enumerate(open_domains)}
    return ([tuple(members[d]) for d in open_domains],
            np.array([pos[d] for d in dom[sites]], dtype=np.int64))


def local_reroutes(reach: sp.csr_array, load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
                   open_sites: npt.ArrayLike, normal_flows: sp.csr_array,
                   groups: list[tuple[int, ...]], max_hops: int = 3,
                   deadline: float | None = None,
                   ) -> list[npt.NDArray[np.int64] | None] | None:
    """For each failure group, the points and sites a *local* reroute of its failure
    changes, or ``None`` when there is none.

    The reroute of group ``A`` (its candidates failed) may change the flow of ``U``: first
    the points within budget of an open site of ``A``; it may use ``S``, every open site
    alive within budget of ``U``, at its capacity less the normal load it keeps from points
    outside ``U``. When that max-flow (:func:`scenario_flow`) serves ``U``, the failure is
    absorbed inside ``U`` and ``S``: every other point keeps its normal flow. When it does
    not, ``U`` is widened by the points with normal flow on ``S`` (they may make room), up
    to ``max_hops`` times: the smallest ``U`` that absorbs the failure is kept, so that
    fewer pairs meet.

    **Certificate.** Two groups whose sets (``U``, ``S`` and their own open sites) are
    disjoint fail together feasibly: each ``U`` takes its own reroute, every other point
    its normal flow; a site of one ``S`` gets load only from its own ``U`` and from points
    at their normal flow (counted when its capacity was reduced), every other site at most
    its normal load, and no point keeps a flow on a failed site. The same holds for any
    number of groups whose sets are pairwise disjoint. A group may be any set of
    candidates: the union of two groups' gives the reroute of their joint failure
    (:func:`absorbed_pairs`).

    Returns
    -------
    list or None
        Per group, the sorted ids it touches: points as their row ``i``, sites as
        ``n + j``; ``None`` when the local max-flow falls short (its failure reaches
        further: every combination with it must be checked). ``None`` instead of the
        list when ``deadline`` (:func:`time.perf_counter`) passed first.
    """
    a = reach_pattern(reach)
    n, m = a.shape
    load = np.asarray(load_rps, dtype=np.float64)
    cap = np.asarray(cap_rps, dtype=np.float64)
    is_open = np.zeros(m, dtype=bool)
    is_open[np.asarray(open_sites, dtype=np.int64)] = True
    a_t = sp.csr_array(a.T)
    f0 = sp.csr_array(normal_flows, dtype=np.float64)
    f0_t = sp.csr_array(f0.T)
    site_load = np.asarray(f0.sum(axis=0)).ravel()
    out: list[npt.NDArray[np.int64] | None] = []
    for group in groups:
        if deadline is not None and time.perf_counter() >= deadline:
            return None
        failed = np.asarray(group, dtype=np.int64)
        down = np.zeros(m, dtype=bool)
        down[failed] = True
        f_open = failed[is_open[failed]]
        u = np.unique(a_t[f_open].indices)  # U1: every point that may lose its site
        found = None
        s_all = np.zeros(0, dtype=np.int64)
        for hop in range(1, max_hops + 1):
            if hop > 1:  # widen: the points with normal flow on the sites U reaches
                u = np.union1d(u, np.unique(f0_t[s_all].indices))
            s_all = np.unique(a[u].indices)
            s_all = s_all[is_open[s_all] & ~down[s_all]]
            kept = site_load - np.asarray(f0[u].sum(axis=0)).ravel()  # from outside U
            cap_local = np.zeros(m)
            cap_local[s_all] = np.maximum(cap[s_all] - kept[s_all], 0.0)
            res = scenario_flow(a[u], load[u], cap_local, np.r_[s_all, f_open], failed)
            if res.feasible:
                found = np.r_[u, n + s_all, n + f_open].astype(np.int64)
                break
        out.append(found)
    return out


def _incidence(sets: list[npt.NDArray[np.int64]], width: int) -> sp.csr_array:
    """Rows: the sets; columns: the ids they hold (0/1)."""
    lens = [len(t) for t in sets]
    cols = np.concatenate(sets) if sets else np.zeros(0, dtype=np.int64)
    rows = np.repeat(np.arange(len(sets)), lens)
    return sp.csr_array((np.ones(len(cols), dtype=np.int32), (rows, cols)),
                        shape=(len(sets), width))


def meeting_pairs(touched: list[npt.NDArray[np.int64] | None]) -> set[tuple[int, int]]:
    """The pairs ``(i, j)``, ``i < j``, of groups with a local reroute whose touched sets
    (:func:`local_reroutes`) meet: with the groups that have none, the pairs that need an
    explicit check. Every other pair is feasible by the certificate."""
    local = [i for i, t in enumerate(touched) if t is not None]
    if not local:
        return set()
    sets = [touched[i] for i in local]
    width = 1 + max((int(t.max()) for t in sets if len(t)), default=-1)  # type: ignore[union-attr]
    mat = _incidence(sets, width)  # type: ignore[arg-type]
    meet = sp.coo_array(mat @ mat.T)
    keep = meet.row < meet.col
    ids = np.asarray(local)
    return set(zip(ids[meet.row[keep]].tolist(), ids[meet.col[keep]].tolist(), strict=True))


def absorbed_groups(reach: sp.csr_array, load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
                    open_sites: npt.ArrayLike, normal_flows: sp.csr_array,
                    groups: list[tuple[int, ...]], combos: Iterable[tuple[int, ...]],
                    deadline: float | None = None,
                    ) -> dict[tuple[int, ...], npt.NDArray[np.int64]] | None:
    """The combinations of failure groups whose **joint** failure a local reroute absorbs
    (the :func:`local_reroutes` of the union of their candidates), with the ids that
    reroute touches. Such a combination fails feasibly by the same certificate as one group
    (its points ``U`` take the reroute, every other point its normal flow), so it needs no
    max-flow of its own; and with another group whose touched set it does not meet, it
    fails feasibly too (the certificate of disjoint sets).

    Returns
    -------
    dict or None
        Combination (sorted group indices) -> the sorted ids its reroute touches, for the
        combinations absorbed; ``None`` when ``deadline`` passed first.
    """
    todo = sorted(combos)
    joint = [tuple(sorted(set().union(*(groups[i] for i in c)))) for c in todo]
    touched = local_reroutes(reach, load_rps, cap_rps, open_sites, normal_flows, joint,
                             deadline=deadline)
    if touched is None:
        return None
    return {c: t for c, t in zip(todo, touched, strict=True) if t is not None}


def absorbed_pairs(reach: sp.csr_array, load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
                   open_sites: npt.ArrayLike, normal_flows: sp.csr_array,
                   groups: list[tuple[int, ...]], pairs: Iterable[tuple[int, int]],
                   deadline: float | None = None) -> frozenset[tuple[int, int]] | None:
    """The pairs of failure groups whose **joint** failure a local reroute absorbs
    (:func:`absorbed_groups` of the pairs).

    Meant for the pairs that :func:`meeting_pairs` leaves to be checked: two failures whose
    reroutes meet are often still absorbed together, by a max-flow over the few points and
    sites near them instead of over their whole component of the plan.

    Returns
    -------
    frozenset of (int, int) or None
        The pairs absorbed (``i < j``); ``None`` when ``deadline`` passed first.
    """
    got = absorbed_groups(reach, load_rps, cap_rps, open_sites, normal_flows, groups, pairs,
                          deadline=deadline)
    return None if got is None else frozenset(got)  # type: ignore[arg-type]


def triples_to_check(touched: list[npt.NDArray[np.int64] | None],
                     meet: set[tuple[int, int]],
                     pair_touched: dict[tuple[int, ...], npt.NDArray[np.int64]],
                     members: list[list[int]], cap: int,
                     ) -> tuple[set[tuple[int, int, int]], bool]:
    """The triples of failure groups, within one component of the plan, that the
    certificate of disjoint local reroutes does not settle; and whether all were found
    (``False`` when there are more than ``cap``).

    A triple is settled (feasible, no max-flow) when its groups all have a local reroute
    and their touched sets are pairwise disjoint (no pair of it in ``meet``), or when
    exactly one pair of it meets, that pair's joint reroute absorbs it (``pair_touched``,
    :func:`absorbed_groups`) and the third group's touched set does not meet that joint
    one. Every other triple is returned: those with a group without a local reroute, those
    with two or more meeting pairs (paths of length 2 in the graph of ``meet``), and those
    with one meeting pair that is not absorbed or whose joint reroute meets the third.

    Parameters
    ----------
    touched : list
        Per group, :func:`local_reroutes`.
    meet : set of (int, int)
        :func:`meeting_pairs` of ``touched``.
    pair_touched : dict
        The meeting pairs absorbed together, with their joint touched sets.
    members : list of list of int
        The groups with an open site in each component of the plan (a triple across
        components is implied by its parts).
    cap : int
        Stop (returning ``False``) once more triples than this are found.
    """
    out: set[tuple[int, int, int]] = set()
    adj: dict[int, set[int]] = {}
    for a, b in meet:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    # the third groups whose touched sets meet each absorbed pair's joint one
    local = [i for i, t in enumerate(touched) if t is not None]
    third: dict[tuple[int, ...], npt.NDArray[np.int64]] = {}
    if pair_touched and local:
        keys = sorted(pair_touched)
        sets = [touched[i] for i in local]
        width = 1 + max(int(max((t.max() for t in sets if len(t)), default=0)),
                        int(max((t.max() for t in pair_touched.values() if len(t)),
                                default=0)))
        over = sp.coo_array(_incidence([pair_touched[k] for k in keys], width)
                            @ _incidence(sets, width).T)  # type: ignore[arg-type]
        ids = np.asarray(local)
        order = np.argsort(over.row, kind="stable")
        rows, cols = over.row[order], ids[over.col[order]]
        starts = np.searchsorted(rows, np.arange(len(keys) + 1))
        third = {k: cols[starts[i]:starts[i + 1]] for i, k in enumerate(keys)}
    for group_list in members:
        m_set = set(group_list)
        if len(m_set) < 3:
            continue
        ordered = sorted(m_set)
        for x in (g for g in ordered if touched[g] is None):  # no local reroute
            for u, w in itertools.combinations([g for g in ordered if g != x], 2):
                out.add(tuple(sorted((x, u, w))))  # type: ignore[arg-type]
                if len(out) > cap:
                    return out, False
        for v in ordered:  # two or more meeting pairs: paths of length 2
            if touched[v] is None:
                continue
            nb = sorted(g for g in adj.get(v, ()) if g in m_set and touched[g] is not None)
            for u, w in itertools.combinations(nb, 2):
                out.add(tuple(sorted((u, v, w))))  # type: ignore[arg-type]
            if len(out) > cap:
                return out, False
        for a, b in meet:  # one meeting pair: the third meets its joint reroute, or none
            if a not in m_set or b not in m_set:
                continue
            cs = (third.get((a, b), ()) if (a, b) in pair_touched
                  else [g for g in ordered if touched[g] is not None])
            for c in cs:
                c = int(c)
                if c in m_set and c != a and c != b:
                    out.add(tuple(sorted((a, b, c))))  # type: ignore[arg-type]
            if len(out) > cap:
                return out, False
    return out, True


def groups_by_component(reach: sp.csr_array, open_sites: npt.ArrayLike,
                        group_of_open: npt.ArrayLike) -> list[list[int]]:
    """The failure groups with an open site in each component of the plan
    (:func:`plan_components`), for the components holding two or more groups."""
    sites = np.asarray(open_sites, dtype=np.int64)
    _, site_lab = plan_components(reach, sites)
    pairs = np.unique(np.c_[site_lab[sites], np.asarray(group_of_open)], axis=0)
    starts = np.r_[0, np.flatnonzero(np.diff(pairs[:, 0])) + 1, len(pairs)]
    return [pairs[b:e, 1].tolist() for b, e in zip(starts[:-1], starts[1:], strict=True)
            if e - b >= 2]


def failure_scenarios(open_sites: npt.ArrayLike, failures: int,
                      domains: npt.ArrayLike | None = None,
                      limit: int = 20_000,
                      reach: sp.csr_array | None = None,
                      touched: list[npt.NDArray[np.int64] | None] | None = None,
                      absorbed: frozenset[tuple[int, ...]] | None = None,
                      triples: set[tuple[int, int, int]] | None = None,
                      site_risk: npt.ArrayLike | None = None,
                      ) -> tuple[list[tuple[int, ...]], bool]:
    """Every failure scenario of a plan, as the tuple of failed candidates, normal
    operation (``()``) first; and whether the list is complete: every scenario listed or
    implied by those listed (``False`` when it was cut at ``limit``).

    A scenario is a set of **up to** ``failures`` failure domains that hold an open site
    (each open site its own domain when ``domains`` is ``None``): with excusal, losing fewer
    domains can be harder than losing more, so every size from 1 to ``failures`` is listed.
    A failed domain takes **all** its candidates with it, open or not: a point whose
    candidates within budget all lie in failed domains is excused whatever the plan, so
    the cut of a scenario holds for every plan.

    Above ``limit`` scenarios (``k >= 2`` on large plans), when ``reach`` is given, only
    the combinations of domains with an open site in **one component** of the plan (the
    graph of points and open sites within budget, :func:`plan_components`) are listed: a
    scenario is feasible when, for every component, the scenario of its domains that have
    an open site there is (the components share no flow; dropping the other failed
    domains only takes excused users back, which makes a component's scenario harder, not
    easier), and each of those is itself a listed scenario of at most ``k`` domains. The
    list is then complete (``True``) with far fewer scenarios when the plan falls into many
    components. It runs riskiest first: normal operation, every single domain, every
    combination of 2 to ``k`` domains that **share users** pairwise (the cliques of the
    graph joining two domains when a point has an open site of each within budget,
    networkx ``enumerate_all_cliques``: their failures pile re-routed load on the same
    survivors), then the other combinations within a component, by size, and it is cut at
    the limit (``False``) when even those are too many.

    ``touched`` (per group, from :func:`local_reroutes` on the plan's normal flow): a pair
    of groups whose local reroutes touch disjoint points and sites is feasible by that
    certificate and is not listed. Nor is a combination of ``absorbed``
    (:func:`absorbed_groups`: a local reroute absorbs its failures together). ``triples``
    (at N-3: :func:`triples_to_check`, the triples within a component that the certificate
    does not settle): only those are listed among the triples beyond the cliques, instead of
    every triple within a component. Combinations of 4 or more are listed as above.

    ``site_risk`` (per candidate; the check passes its capacity): when the single domains
    themselves are cut (more than ``limit``), they are listed by their open sites' total,
    largest first (ties in domain order), so the domains whose failure takes the most
    capacity are checked (tester 116: they went in site-id order, and the largest site's
    failure was left unchecked). Otherwise the list keeps its order.
    """
    sites = np.asarray(open_sites, dtype=np.int64)
    if failures <= 0 or not len(sites):
        return [()], True
    groups, group_of_open = failure_groups(sites, domains)
    g = len(groups)
    top = min(int(failures), g)
    total = scenario_count(g, failures)
    out: list[tuple[int, ...]] = [()]

    def scenario(combo: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(s for i in combo for s in groups[i])

    singles = list(range(g))
    if site_risk is not None and g > limit:  # the singles are cut: the domains of the
        # most open capacity first (review 117: a domain's closed candidates counted; a
        # list whose singles all fit keeps its order, and the checks theirs)
        risk = np.nan_to_num(np.asarray(site_risk, dtype=np.float64))
        weight = np.bincount(group_of_open, weights=risk[sites], minlength=g)
        singles = np.argsort(-weight, kind="stable").tolist()
    if total <= limit + 1 or top < 2 or reach is None:
        for k in range(1, top + 1):
            combos = ([(i,) for i in singles] if k == 1
                      else itertools.combinations(range(g), k))
            for combo in combos:
                if len(out) > limit:
                    return out, False
                out.append(scenario(combo))
        return out, True
    # riskiest first: every single domain, then the cliques of the shared-user graph
    out.extend(scenario((i,)) for i in singles[:min(g, limit)])
    if g >= limit:
        return out, False
    listed: set[tuple[int, ...]] = set()
    a = sp.csr_array(reach)[:, sites]
    member = sp.csr_array((np.ones(len(sites)), (np.arange(len(sites)), group_of_open)),
                          shape=(len(sites), g))
    touch = sp.csr_array(sp.csr_array(a, dtype=np.float64) @ member)
    touch.data[:] = 1.0
    share = sp.coo_array(touch.T @ touch)
    graph = nx.Graph()
    graph.add_nodes_from(range(g))
    off = share.row < share.col
    graph.add_edges_from(zip(share.row[off].tolist(), share.col[off].tolist(), strict=True))
    for clique in nx.enumerate_all_cliques(graph):
        if len(clique) > top or len(out) > limit:
            break
        if len(clique) >= 2:
            combo = tuple(sorted(clique))
            listed.add(combo)
            if absorbed is None or combo not in absorbed:  # else feasible, certified
                out.append(scenario(combo))
    # then every other combination within one component of the plan (the domains with an
    # open site there): a combination across components is implied by its parts
    in_comp = groups_by_component(reach, sites, group_of_open)
    meet = meeting_pairs(touched) if touched is not None else set()
    for k in range(2, top + 1):
        if k == 3 and triples is not None:  # only the triples the certificate leaves
            candidates: Iterable[list[tuple[int, ...]]] = [sorted(triples)]
        else:
            candidates = (itertools.combinations(members_c, k) for members_c in in_comp)
        for combos in candidates:
            for combo in combos:
                if combo in listed or (absorbed is not None and combo in absorbed):
                    continue
                if (k == 2 and touched is not None and combo not in meet
                        and touched[combo[0]] is not None and touched[combo[1]] is not None):
                    continue  # disjoint local reroutes: feasible by the certificate
                if len(out) > limit:
                    return out, False
                listed.add(combo)
                out.append(scenario(combo))
    return out, True


@dataclass
class CapacityResult:
    """Result of :func:`capacitated_cover`.

    Attributes
    ----------
    sites : numpy.ndarray
        Chosen candidates.
    objective, lower_bound : float
        Sites (or cost) and the proven bound.
    status : str
        ``"optimal"``, ``"time_limit"`` (feasible, gap open), ``"infeasible"`` (no plan
        meets capacity even with every candidate open) or ``"time_limit_short"``: out of
        time before any plan was shown feasible (the final repair's time included); the
        plan reached, which falls short in its ``scenarios`` whose ``feasible`` is
        ``False`` (or was not fully checked: ``complete`` False), with the proven bound and
        a ``nan`` gap.
    gap : float
        Relative gap.
    rounds : list of dict
        Per round: coverage rows in the MILP (merged points whose rows no other row
        implies), cuts held, sites, bound, violated scenarios, seconds.
    scenarios : list of ScenarioFlow
        The final plan's scenarios (normal operation first).
    complete : bool
        Every failure scenario was checked or is implied by those checked (see
        :func:`failure_scenarios`), not only the first ``scenario_limit``.
    runtime_s : float
    reach, load_rps, inverse
        The problem actually solved: points with identical candidates merged
        (:func:`merge_identical_rows`); ``scenarios`` refer to its rows, ``inverse`` maps
        every original point to its merged row.
    cuts : scipy.sparse.csr_array or None
        The capacity cuts the search held (:func:`capacity_cut`, one row each,
        ``cuts @ y >= 1``; valid for every plan), for a feasible result; ``None`` with none.
    """

    sites: npt.NDArray[np.int64]
    objective: float
    lower_bound: float
    status: str
    gap: float
    rounds: list[dict[str, Any]]
    scenarios: list[ScenarioFlow]
    complete: bool
    runtime_s: float
    reach: sp.csr_array | None = None
    load_rps: npt.NDArray[np.float64] | None = None
    inverse: npt.NDArray[np.intp] | None = None
    cuts: sp.csr_array | None = None


def check_scenarios(reach: sp.csr_array, load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
                    sites: npt.ArrayLike, failures: int, *,
                    domains: npt.ArrayLike | None = None, limit: int = 20_000,
                    stop_after: int | None = None,
                    ) -> tuple[list[ScenarioFlow], bool]:
    """Max-flow of every failure scenario of a plan (normal operation first); stops after
    ``stop_after`` infeasible ones when given. Returns the flows and whether every scenario
    was listed (see :func:`failure_scenarios`).

    Normal operation is one max-flow over everything; a failure scenario re-solves only the
    connected components (of the graph of points and open sites within budget) that hold a
    failed site: the others keep their normal-operation flow, so the result is the same as
    one max-flow over everything, at a fraction of the work on national inputs.
    """
    flows, complete, _ = check_scenarios_until(reach, load_rps, cap_rps, sites, failures,
                                               domains=domains, limit=limit,
                                               stop_after=stop_after)
    return flows, complete


def check_scenarios_until(reach: sp.csr_array, load_rps: npt.ArrayLike,
                          cap_rps: npt.ArrayLike, sites: npt.ArrayLike, failures: int, *,
                          domains: npt.ArrayLike | None = None, limit: int = 20_000,
                          stop_after: int | None = None, deadline: float | None = None,
                          done: list[ScenarioFlow] | None = None,
                          ) -> tuple[list[ScenarioFlow], bool, bool]:
    """:func:`check_scenarios` that also stops at a deadline, and goes on from a check
    stopped at one.

    Parameters
    ----------
    reach, load_rps, cap_rps, sites, failures, domains, limit, stop_after
        As for :func:`check_scenarios`.
    deadline : float, optional
        :func:`time.perf_counter` time after which no further failure scenario is solved
        (normal operation always is).
    done : list of ScenarioFlow, optional
        The flows of an unfinished check of the same plan and inputs (the first scenarios,
        in the order of :func:`failure_scenarios`): kept, and only the scenarios after them
        are solved.

    Returns
    -------
    flows : list of ScenarioFlow
        Normal operation first.
    complete : bool
        Every scenario was listed or is implied by those listed (see
        :func:`failure_scenarios`).
    finished : bool
        ``False`` when the deadline stopped the check before every listed scenario was
        solved and before ``stop_after`` infeasible ones: then the flows say nothing of the
        scenarios left, and a plan whose flows are all feasible is not known to be.
    """
    a = reach_pattern(reach)  # (each pair once, no stored zero: as every scenario reads it)
    n, m = a.shape
    load = np.asarray(load_rps, dtype=np.float64)
    cap = np.asarray(cap_rps, dtype=np.float64)
    open_sites = np.asarray(sites, dtype=np.int64)
    done = list(done or [])
    normal = (done[0] if done else
              scenario_flow(a, load, cap, open_sites, (), with_flows=True))
    touched = None
    # a normal flow within capacity only: one that overloads a site by up to FLOW_RTOL of
    # the normal load (a shortfall accepted within the tolerance) would carry that overload
    # into a pair whose load, its excused points out, is far smaller
    within_cap = normal.site_load_rps is not None and bool(
        np.all(normal.site_load_rps <= cap * (1 + 1e-12)))
    if (normal.feasible and normal.flows is not None and within_cap and failures >= 2
            and len(open_sites)):
        # above the limit: pairs whose failures are absorbed apart need no check
        groups, group_of_open = failure_groups(open_sites, domains)
        if normal.reroutes is not None:  # a resumed check: computed by the first call
            touched = normal.reroutes
        elif scenario_count(len(groups), failures) > limit + 1:
            if deadline is not None and time.perf_counter() >= deadline:
                return [normal], False, False  # out of time before any failure scenario
            t_local = time.perf_counter()
            touched = local_reroutes(a, load, cap, open_sites, normal.flows, groups)
            normal = dataclasses.replace(normal, reroutes=touched)  # kept for a resume
            logger.debug("local reroutes of %d failure groups (%d absorbed locally) in "
                         "%.1f s", len(groups), sum(t is not None for t in touched),
                         time.perf_counter() - t_local)
    absorbed = None if touched is None else normal.pairs_absorbed  # resumed: computed
    if absorbed is not None and normal.triples_absorbed is not None:
        absorbed = absorbed | normal.triples_absorbed
    triples = None if touched is None else normal.triples
    scen, complete = failure_scenarios(open_sites, failures, domains, limit, reach=a,
                                       touched=touched, absorbed=absorbed, triples=triples,
                                       site_risk=cap)
    top = 0 if touched is None else min(int(failures), len(groups))
    if not complete and touched is not None and top in (2, 3) and (
            normal.pairs_absorbed is None or (top == 3 and normal.triples_absorbed is None)):
        # still cut at N-2 or N-3 (touched: the failure groups were made above): the pairs
        # whose reroutes meet, by a joint local reroute each (a max-flow near the two
        # failures, not over their whole component); at N-3 then the triples the
        # certificate does not settle, likewise
        meet = meeting_pairs(touched)
        if normal.pairs_absorbed is None:
            t_pairs = time.perf_counter()
            pair_touched = absorbed_groups(a, load, cap, open_sites, normal.flows, groups,
                                           meet, deadline=deadline)
            if pair_touched is None:  # out of time: nothing solved, a resume starts here
                return [normal], False, False
            normal = dataclasses.replace(
                normal, pairs_absorbed=frozenset(pair_touched),  # type: ignore[arg-type]
                pair_reroutes=pair_touched)
            logger.debug("joint local reroutes of %d meeting pairs (%d absorbed) in %.1f s",
                         len(meet), len(pair_touched), time.perf_counter() - t_pairs)
        absorbed = normal.pairs_absorbed
        if top == 3:
            t_triples = time.perf_counter()
            found, all_found = triples_to_check(
                touched, meet, normal.pair_reroutes or {},
                groups_by_component(a, open_sites, group_of_open), cap=20 * limit)
            if all_found:
                local = [t for t in found if all(touched[g] is not None for g in t)]
                joint = absorbed_groups(a, load, cap, open_sites, normal.flows, groups,
                                        local, deadline=deadline)
                if joint is None:  # out of time: a resume starts here
                    return [normal], False, False
                normal = dataclasses.replace(
                    normal, triples_absorbed=frozenset(joint),  # type: ignore[arg-type]
                    triples={t for t in found if t not in joint})
                logger.debug("N-3: %d triples not settled by disjoint reroutes, %d absorbed "
                             "by a joint local reroute, in %.1f s", len(found), len(joint),
                             time.perf_counter() - t_triples)
            else:  # (kept as tried: a resume does not search again)
                normal = dataclasses.replace(normal, triples_absorbed=frozenset())
                logger.debug("N-3: more than %d triples not settled by disjoint reroutes: "
                             "listed as before", 20 * limit)
        if absorbed is not None and normal.triples_absorbed is not None:
            absorbed = absorbed | normal.triples_absorbed
        scen, complete = failure_scenarios(open_sites, failures, domains, limit,
                                           reach=a, touched=touched, absorbed=absorbed,
                                           triples=normal.triples, site_risk=cap)
    out = [normal]
    if not normal.feasible or len(scen) == 1:
        return out, complete, True
    sub = sp.csr_array(a[:, open_sites], dtype=np.int8)
    adj = sp.bmat([[None, sub], [sub.T, None]], format="csr")
    _, lab = connected_components(adj, directed=False)
    row_lab = lab[:n]
    site_lab = np.full(m, -1, dtype=np.int64)
    site_lab[open_sites] = lab[n:]
    has_any = np.diff(a.indptr) > 0
    need_row = np.where(has_any, load, 0.0)
    setups = _ComponentSetups(a, load, open_sites, row_lab)
    out.extend(done[1:])
    bad = sum(not f.feasible for f in done[1:])
    if stop_after is not None and bad >= stop_after:
        return out, complete, True
    for failed in scen[max(len(done), 1):]:
        if deadline is not None and time.perf_counter() >= deadline:
            logger.debug("scenario check stopped at its deadline: %d of %d scenarios solved",
                         len(out), len(scen))
            return out, complete, False
        idx = np.asarray(failed, dtype=np.int64)
        comps = np.unique(site_lab[idx][site_lab[idx] >= 0])
        failed_t = tuple(int(f) for f in np.atleast_1d(idx))
        rows, setup = setups.of(comps, failed_t)
        part = _scenario_flow_on(setup, cap)
        rest = float(normal.load_rps - need_row[rows].sum())
        site_load = normal.site_load_rps.copy()
        in_comp = np.isin(site_lab, comps)
        site_load[in_comp] = part.site_load_rps[in_comp]
        f = ScenarioFlow(part.failed, part.load_rps + rest, part.served_rps + rest,
                         part.shed_rps, part.feasible,
                         None if part.cut_rows is None else rows[part.cut_rows],
                         None, site_load)
        out.append(f)
        if not f.feasible:
            bad += 1
            if stop_after is not None and bad >= stop_after:
                break
    return out, complete, True


def domain_codes(domains: npt.ArrayLike | None, m: int) -> npt.NDArray[np.int64]:
    """Integer code of every candidate's failure domain (each site alone by default)."""
    if domains is None:
        return np.arange(m, dtype=np.int64)
    import pandas as pd

    codes, _ = pd.factorize(pd.Series(np.asarray(domains, dtype=object)))
    return np.asarray(codes, dtype=np.int64)


def plan_rows(reach: sp.csr_array, load_rps: npt.ArrayLike, sites: npt.ArrayLike,
              domains: npt.ArrayLike | None, m: int,
              ) -> tuple[sp.csr_array, npt.NDArray[np.float64]]:
    """The points as every failure scenario of the plan ``sites`` sees them, merged.

    A point's candidates outside the plan's failure domains (the domains of the open
    sites: each open site alone without domains) never fail and never carry flow: all
    they change is that the point is never excused. Each point keeps its candidates in
    the plan's domains and, when it has one outside them, one *witness* column (a
    candidate outside them, never open), as
    :func:`coverage.solvers.capacitated_rowgen.check_plan` reads a plan; the points are
    then merged by that pattern (:func:`merge_identical_rows`, loads summed). Every
    scenario's max-flow, minimum cut and excused points, and every site's load in any
    flow, are the same on the result as on ``reach``: a plan's check or sizing can run on
    it (Germany at 30 ms, N-1, places of >= 500 people: 2,515 merged points and 51,449
    pairs -> 418 and 1,726; hand run).

    Parameters
    ----------
    reach : scipy.sparse.csr_array
        Points x candidates within budget (columns past ``m``: witnesses, never open).
    load_rps : array_like
        Every point's load.
    sites : array_like of int
        The open sites.
    domains : array_like, optional
        Failure domain of each of the ``m`` candidates.
    m : int
        Candidates.

    Returns
    -------
    pattern : scipy.sparse.csr_array
        The merged points (boolean, ``reach``'s width).
    load_rps : numpy.ndarray
        Their loads.
    """
    a = reach_pattern(reach)
    n, width = a.shape
    keep = np.zeros(width, dtype=bool)
    keep[:m] = plan_columns(domains, sites, m)
    cols = a.indices[:a.indptr[-1]]
    inside = sp.csr_array((keep[cols], cols.copy(), a.indptr.copy()), shape=a.shape)
    inside.eliminate_zeros()  # (the pairs outside the plan's domains; in place: copies)
    outside = np.flatnonzero(np.diff(a.indptr) > np.diff(inside.indptr))
    merged, load, _ = merge_identical_rows(with_witness(inside, outside, keep), load_rps)
    return merged, load


def plan_columns(domains: npt.ArrayLike | None, sites: npt.ArrayLike,
                 m: int) -> npt.NDArray[np.bool_]:
    """The candidates in the failure domains of the open ``sites`` (each site its own
    domain when ``domains`` is ``None``): the only ones a scenario of the plan fails or
    sends flow to. ``domains`` has one entry per candidate (more: the first ``m``)."""
    code = domain_codes(domains, m)
    if len(code) < m:
        raise ValueError(f"domains has {len(code)} entries for {m} candidates")
    code = code[:m]  # (one per reach column: its witness columns past m are never open)
    sites = np.asarray(sites, dtype=np.int64)
    if not len(sites):
        return np.zeros(m, dtype=bool)
    return np.isin(code, np.unique(code[sites]))


def with_witness(pattern: sp.csr_array, outside: npt.ArrayLike,
                 keep: npt.NDArray[np.bool_]) -> sp.csr_array:
    """``pattern`` with one *witness* column (the first column not in ``keep``: never open)
    on the rows ``outside``, the points with a candidate in budget outside the plan's
    domains: such a candidate never fails, so the point is never excused."""
    outside = np.asarray(outside, dtype=np.int64)
    if not len(outside):
        return pattern
    n, width = pattern.shape
    witness = int(np.flatnonzero(~keep)[0])
    extra = sp.csr_array((np.ones(len(outside), dtype=bool),
                          (outside, np.full(len(outside), witness))), shape=(n, width))
    out = sp.csr_array(pattern + extra)
    out.sort_indices()
    return out


def merge_identical_rows(reach: sp.csr_array, load_rps: npt.ArrayLike,
                         ) -> tuple[sp.csr_array, npt.NDArray[np.float64],
                                    npt.NDArray[np.intp]]:
    """Points with the same candidates within budget, merged with their loads summed (exact
    for splittable load: a flow of the merged point splits back in proportion). Returns the
    unique rows, their loads and each point's unique row."""
    a = sp.csr_array(reach)
    n, m = a.shape
    if not n:
        return a, np.asarray(load_rps, dtype=np.float64), np.zeros(0, dtype=np.intp)
    rng = np.random.default_rng(12345)
    w1 = rng.integers(1, 2**62, m, dtype=np.int64).astype(np.uint64)
    w2 = rng.integers(1, 2**62, m, dtype=np.int64).astype(np.uint64)
    counts = np.diff(a.indptr)
    starts = a.indptr[:-1]
    with np.errstate(over="ignore"):  # sums wrap around: a hash, not a count
        # a sentinel after the last entry: empty trailing rows start there (masked below)
        h1 = np.add.reduceat(np.append(w1[a.indices], np.uint64(0)), starts)
        h2 = np.add.reduceat(np.append(w2[a.indices], np.uint64(0)), starts)
    h1 = np.where(counts > 0, h1, 0)
    h2 = np.where(counts > 0, h2, 0)
    import pandas as pd

    key = pd.MultiIndex.from_arrays([h1, h2, counts])
    inverse, uniq = pd.factorize(key)
    first = np.zeros(len(uniq), dtype=np.int64)
    first[inverse[::-1]] = np.arange(n)[::-1]
    merged_load = np.bincount(inverse, weights=np.asarray(load_rps, dtype=np.float64),
                              minlength=len(uniq))
    return sp.csr_array(a[first]), merged_load, np.asarray(inverse, dtype=np.intp)


def capacity_cut(pattern: sp.csr_array, load_rps: npt.NDArray[np.float64],
                 cap_rps: npt.NDArray[np.float64], flow: ScenarioFlow,
                 plan: npt.ArrayLike) -> npt.NDArray[np.float64] | None:
    """The capacity cut of a scenario the plan falls short in, scaled to a right-hand
    side of 1: ``coef @ y >= 1`` for every plan ``y`` that carries the scenario.

    The demand side ``S`` of the scenario's minimum cut (``flow.cut_rows``), its points
    with a candidate outside the failed sites, needs ``load(S)``; each site not failed
    takes at most ``min(cap, load of S within its budget)`` of it (a relaxation of the
    region's flow, valid for every plan and stronger than the capacity alone).

    Parameters
    ----------
    pattern : scipy.sparse.csr_array
        Points x candidates within budget (float, entries 1).
    load_rps, cap_rps : numpy.ndarray
        Load per point and capacity per candidate.
    flow : ScenarioFlow
        An infeasible scenario of ``plan`` (its ``failed`` sites and ``cut_rows``).
    plan : array_like of int
        The plan's open candidates.

    Returns
    -------
    numpy.ndarray or None
        The scaled coefficients (one per candidate, each at most 1), or ``None`` when the
        cut is empty or ``plan`` meets it in real numbers (a shortfall of the flow's
        rounding).
    """
    m = pattern.shape[1]
    rows_s = flow.cut_rows
    down = np.zeros(m, dtype=bool)
    down[list(flow.failed)] = True
    alive_any = np.asarray(pattern @ (~down).astype(np.float64)).ravel() > 0
    w = np.where(alive_any[rows_s], load_rps[rows_s], 0.0)
    need = float(w.sum())
    within = np.asarray(w @ pattern[rows_s]).ravel()
    coef = np.where(~down, np.minimum(cap_rps, within), 0.0)
    if need <= 0 or coef[np.asarray(plan, dtype=np.int64)].sum() >= need * (1 - 1e-9):
        return None
    return np.minimum(coef, need) / need


def _rounded_bound(bound: float, cost: npt.NDArray[np.float64]) -> float:
    """A lower bound rounded up to the next integer when every cost is an integer."""
    if np.array_equal(cost, np.round(cost)):
        return float(np.ceil(bound - 1e-6))
    return float(bound)


def capacitated_cover(reach: sp.csr_array, load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
                      requirement: npt.ArrayLike, *, failures: int = 1,
                      domains: npt.ArrayLike | None = None,
                      cost: npt.ArrayLike | None = None,
                      required: npt.ArrayLike | None = None,
                      time_limit_s: float = 300.0, max_rounds: int = 200,
                      cuts_per_round: int = 50, scenario_limit: int = 20_000,
                      repair_every: int = 1, repair_cuts: bool = True,
                      final_repair_s: float | None = None,
                      ) -> CapacityResult:
    """Fewest sites (least cost) meeting coverage and capacity in every failure scenario.

    Parameters
    ----------
    reach : scipy.sparse.csr_array
        ``(n_demand, n_sites)`` pattern of pairs within budget.
    load_rps, cap_rps : array_like
        Load per point and capacity per candidate, requests/s.
    requirement : array_like of int
        Sites each point needs within budget (``min(k + 1, |N_i|)``).
    failures : int, default 1
        Failure domains lost at once (k).
    domains : array_like, optional
        Failure domain of every candidate (shared-risk groups); default: each site alone.
    cost, required : array_like, optional
        Per-candidate cost (minimise the total) and must-open mask.
    time_limit_s : float, default 300
        For all MILP solves together.
    max_rounds, cuts_per_round, scenario_limit : int
        Safety caps: rounds, violated scenarios turned into cuts per round, and scenarios
        enumerated per check.
    repair_every : int, default 1
        Every this many rounds whose plan falls short, the plan is repaired
        (:func:`repair_plan`) into a feasible **incumbent**; the best one is kept, and the
        search stops as optimal when it meets the bound. ``0``: no incumbent during the
        rounds. When the rounds stop without a feasible plan (``max_rounds`` or
        ``time_limit_s``) the result is the incumbent (or, with none, the last round's plan
        repaired then), with the proven bound, status ``time_limit`` and its gap.
    repair_cuts : bool, default True
        The infeasible scenarios the repair meets (its intermediate plans and the closings
        it tries and undoes) are turned into capacity cuts too: they are valid for every
        plan, and they lie near the plans the next rounds would otherwise propose.
    final_repair_s : float, optional
        A round's repair stops at the time limit (its plan is then no incumbent: the final
        repair goes on from it). When the search stops with no feasible plan, the final
        repair and the check of its plan may take this many seconds more; default
        ``max(10 s, 10 %)`` of ``time_limit_s``. Out of that too, the result is the plan
        reached, status ``time_limit_short`` (see :class:`CapacityResult`).

    Returns
    -------
    CapacityResult
    """
    t0 = time.perf_counter()
    deadline = t0 + float(time_limit_s)
    if final_repair_s is None:
        final_repair_s = max(0.1 * float(time_limit_s), 10.0)
    partial: npt.NDArray[np.int64] | None = None  # a round's repair stopped by the deadline
    # points with the same candidates are one point for coverage and for capacity
    req_all = np.asarray(requirement, dtype=np.float64)
    reach, load, inverse = merge_identical_rows(reach_pattern(reach), load_rps)
    req = np.zeros(reach.shape[0])
    req[inverse] = req_all
    a = sp.csr_array(reach, dtype=np.float64)
    a.data[:] = 1.0
    n, m = a.shape
    cap = np.asarray(cap_rps, dtype=np.float64)
    c = np.ones(m) if cost is None else np.asarray(cost, dtype=np.float64)
    lb = np.zeros(m)
    lb[required_mask(required, m)] = 1.0
    cover_rows = np.flatnonzero(req > 0)
    if len(cover_rows) > 1:  # a coverage row another implies adds nothing to the MILP
        from .cover import drop_dominated_rows

        cover_rows = cover_rows[drop_dominated_rows(a[cover_rows], req[cover_rows],
                                                    deadline=deadline)]
    cut_a: list[npt.NDArray[np.float64]] = []
    cut_b: list[float] = []
    # the whole fleet must carry the whole load in normal operation
    everything = scenario_flow(reach, load, cap, np.arange(m))
    if not everything.feasible:
        # the plan tried: every candidate (as for the infeasible verdicts below)
        return CapacityResult(np.arange(m), float(c.sum()), float("nan"), "infeasible",
                              float("nan"), [], [everything], True,
                              time.perf_counter() - t0, reach, load, inverse)
    seen_cuts: set[tuple[tuple[int, ...], bytes]] = set()

    def add_cut(f: ScenarioFlow, plan: npt.NDArray[np.int64], new_only: bool = False,
                ) -> bool:
        """Add the capacity cut of an infeasible scenario of ``plan``; ``False`` when it is
        not violated in real numbers (flow rounding), or with ``new_only`` already held."""
        key = (f.failed, np.asarray(f.cut_rows).tobytes())
        if new_only and key in seen_cuts:
            return False
        cut = capacity_cut(a, load, cap, f, plan)
        if cut is None:
            return False
        seen_cuts.add(key)
        cut_a.append(cut)
        cut_b.append(1.0)
        return True

    rounds: list[dict[str, Any]] = []
    # the fleet's total capacity: a bound the local cuts reach late or never
    bound = capacity_lower_bound(load, cap, np.diff(reach.indptr), failures, domains=domains,
                                 cost=c) or 0.0
    status = "time_limit"
    sites = np.arange(m)
    scenarios: list[ScenarioFlow] = []
    complete = True
    incumbent: npt.NDArray[np.int64] | None = None  # best repaired plan (feasible)
    for round_no in range(1, max_rounds + 1):
        t = time.perf_counter()
        rows = [a[cover_rows]] if len(cover_rows) else []
        lo = [req[cover_rows]] if len(cover_rows) else []
        if cut_a:
            rows.append(sp.csr_array(np.vstack(cut_a)))
            lo.append(np.asarray(cut_b))
        remaining = max(deadline - time.perf_counter(), 1.0)
        cons = ([LinearConstraint(sp.vstack(rows, format="csr"), np.concatenate(lo), np.inf)]
                if rows else [])
        res = milp(c, constraints=cons, integrality=np.ones(m), bounds=Bounds(lb, 1.0),
                   options={"time_limit": remaining, "disp": False})
        if res.status == 2:  # the cuts exclude every plan: capacity cannot be met
            status = "infeasible"
            break
        if res.x is None:
            status = "time_limit"
            break
        sites = np.flatnonzero(res.x > 0.5)
        # HiGHS's dual bound: with its gap tolerance the plan's value is optimal only to
        # within that gap (integer costs round the bound up)
        dual = getattr(res, "mip_dual_bound", None)
        round_bound = float(dual) if dual is not None and np.isfinite(dual) else float(res.fun)
        bound = max(bound, round_bound)
        solve_s = time.perf_counter() - t
        scenarios, complete = check_scenarios(reach, load, cap, sites, failures,
                                              domains=domains, limit=scenario_limit,
                                              stop_after=cuts_per_round)
        bad = [f for f in scenarios if not f.feasible]
        added = 0
        for f in bad:
            added += add_cut(f, sites)
        check_s = time.perf_counter() - t - solve_s
        repair_s = 0.0
        if bad and repair_every and round_no % repair_every == 0:
            t_rep = time.perf_counter()
            met: list[tuple[ScenarioFlow, npt.NDArray[np.int64]]] = []
            fixed_plan, passed = repair_plan_until(
                reach, load, cap, req, sites, failures, domains=domains, cost=c,
                required=required, scenario_limit=scenario_limit, prune_deadline=deadline,
                cuts=met if repair_cuts else None, deadline=deadline)
            for f, plan in met:
                add_cut(f, plan, new_only=True)
            repair_s = time.perf_counter() - t_rep
            partial = None
            if not passed and len(fixed_plan) < m:  # stopped by the deadline, short
                partial = fixed_plan
            elif incumbent is None or c[fixed_plan].sum() < c[incumbent].sum() - 1e-9:
                if passed or all(f.feasible for f in check_scenarios(
                        reach, load, cap, fixed_plan, failures, domains=domains,
                        limit=scenario_limit, stop_after=1)[0]):
                    incumbent = fixed_plan
                else:  # a cut no candidate can meet (repair_plan): no plan is feasible
                    status = "infeasible"
                    break
        rounds.append({"round": round_no, "cover_rows": len(cover_rows), "cuts": len(cut_a),
                       "sites": float(c[sites].sum()),
                       "bound": bound, "milp_status": int(res.status),
                       "violated": len(bad), "solve_s": solve_s, "check_s": check_s,
                       "incumbent": (float(c[incumbent].sum()) if incumbent is not None
                                     else None), "repair_s": repair_s})
        logger.info("capacitated round %d: %g sites (bound %g, incumbent %s), %d scenario(s) "
                    "short, %d cuts", round_no, c[sites].sum(), bound,
                    "-" if incumbent is None else f"{c[incumbent].sum():g}", len(bad),
                    len(cut_a))
        if not bad:
            status = "optimal" if res.status == 0 else "time_limit"
            break
        if incumbent is not None and c[incumbent].sum() <= _rounded_bound(bound, c) + 1e-9:
            logger.info("capacitated cover: the incumbent meets the bound")
            sites = incumbent
            scenarios, complete = check_scenarios(reach, load, cap, sites, failures,
                                                  domains=domains, limit=scenario_limit)
            status = "optimal"
            break
        if not added:
            # the plan meets every cut held to HiGHS's feasibility tolerance, yet the exact
            # check finds it short: the next MILP would return it again; the search stops
            # with the best repaired plan (or repairs this one) and the bound so far
            logger.warning("capacitated cover: round %d's plan meets its cuts only to the "
                           "MILP's tolerance (a cut tight to 1e-7); stopping the rounds with "
                           "the bound so far", round_no)
            break
        if time.perf_counter() >= deadline:
            break
    if status == "time_limit":
        # out of rounds or time: the last round's plan may fall short of capacity (or there
        # is none: every candidate). Keep the best feasible plan: the incumbent, or the
        # last plan repaired now (sites added until every scenario passes, then redundant
        # ones closed)
        plan_ok = bool(scenarios) and all(f.feasible for f in scenarios)
        t_rep = time.perf_counter()
        stop = t_rep + float(final_repair_s)
        # adding sites may run to ``stop`` (unbounded for a plan), closing them not past
        # the old window of max(10 s, 10 %)
        prune_stop = t_rep + min(float(final_repair_s), max(0.1 * float(time_limit_s), 10.0))
        if incumbent is None and not plan_ok:  # infeasible when a cut no plan meets
            incumbent, _ = repair_plan_until(
                reach, load, cap, req, sites if partial is None else partial, failures,
                domains=domains, cost=c, required=required, scenario_limit=scenario_limit,
                prune_deadline=prune_stop, deadline=stop)
        if incumbent is not None and (not plan_ok
                                      or c[incumbent].sum() < c[sites].sum() - 1e-9):
            sites = incumbent
            scenarios, complete, finished = check_scenarios_until(
                reach, load, cap, sites, failures, domains=domains, limit=scenario_limit,
                deadline=stop)
            logger.warning("capacitated cover: stopped before a feasible round plan; a "
                           "repaired plan of %g (bound %g), %.1f s", c[sites].sum(), bound,
                           time.perf_counter() - t_rep)
            if len(sites) == m and not all(f.feasible for f in scenarios):
                status = "infeasible"  # even every candidate falls short
            elif not finished or not all(f.feasible for f in scenarios):
                status, complete = "time_limit_short", complete and finished
                n_short = sum(not f.feasible for f in scenarios)
                logger.warning(
                    "capacitated cover: no feasible plan within the time limit and the final "
                    "repair's %.0f s: returning a plan of %g that %s; raise the time limit",
                    final_repair_s, c[sites].sum(),
                    f"falls short in {n_short} of the {len(scenarios)} scenario(s) checked"
                    if n_short else f"is not verified (the check ran out of time after "
                    f"{len(scenarios)} scenario(s), none short so far)")
    if status == "infeasible":
        scenarios, complete = check_scenarios(reach, load, cap, np.arange(m), failures,
                                              domains=domains, limit=scenario_limit)
        return CapacityResult(np.arange(m), float(c.sum()), float("nan"), "infeasible",
                              float("nan"), rounds, scenarios, complete,
                              time.perf_counter() - t0, reach, load, inverse)
    objective = float(c[sites].sum())
    if status == "time_limit_short":  # no feasible plan: the bound is no bound of this one
        return CapacityResult(sites, objective, _rounded_bound(bound, c), status,
                              float("nan"), rounds, scenarios, complete,
                              time.perf_counter() - t0, reach, load, inverse)
    if objective < _rounded_bound(bound, c) - 1e-9:
        # fewer sites than the capacity bound: the plan passed only the scenarios listed
        # (complete False) and falls short in one that was not checked
        logger.warning("capacitated cover: the plan of %g passes the %d scenario(s) checked "
                       "but is below the capacity bound %g: it falls short in a scenario "
                       "not checked (scenario limit %d)", objective, len(scenarios),
                       _rounded_bound(bound, c), scenario_limit)
        return CapacityResult(sites, objective, _rounded_bound(bound, c), "time_limit_short",
                              float("nan"), rounds, scenarios, False,
                              time.perf_counter() - t0, reach, load, inverse)
    bound = min(_rounded_bound(bound, c), objective)
    gap = (objective - bound) / objective if objective else 0.0
    if objective <= bound + 1e-9 and all(f.feasible for f in scenarios):
        status = "optimal"
    return CapacityResult(sites, objective, bound, status, gap, rounds, scenarios, complete,
                          time.perf_counter() - t0, reach, load, inverse,
                          cuts=sp.csr_array(np.vstack(cut_a)) if cut_a else None)


def repair_plan(reach: sp.csr_array, load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
                requirement: npt.ArrayLike, sites: npt.ArrayLike, failures: int = 1, *,
                domains: npt.ArrayLike | None = None, cost: npt.ArrayLike | None = None,
                required: npt.ArrayLike | None = None, scenario_limit: int = 20_000,
                prune: bool = True, prune_deadline: float | None = None,
                cuts: list[tuple[ScenarioFlow, npt.NDArray[np.int64]]] | None = None,
                deadline: float | None = None,
                ) -> npt.NDArray[np.int64]:
    """A feasible plan near ``sites``: add sites until coverage and every failure scenario
    hold, then close sites while they still do.

    1. **Coverage**: while a point has fewer open sites within budget than its requirement,
       open the closed candidate covering the most short points per unit cost.
    2. **Capacity**: check every scenario (:func:`check_scenarios`); for each infeasible
       scenario ``F`` with minimum-cut demand side ``S``, open closed candidates of
       ``N(S) \\ F`` in decreasing order of ``min(cap_j, load of S within reach of j,
       shortfall) / cost_j`` until their capacity (so counted) covers the scenario's
       shortfall (what the sites opened earlier in the same pass already bring to ``N(S)
       \\ F`` counts too); check again; repeat.
    3. **Prune** (``prune``): try closing each open site that is not required, the least
       utilised first (its largest load over every scenario as a share of its capacity;
       among equals the most expensive first), keeping it closed when coverage and every
       scenario still hold. Stops trying at ``prune_deadline`` (a
       :func:`time.perf_counter` time) when given: the plan is feasible at every step.

    The cuts are valid for every plan (a failed domain takes all its candidates), so a
    violated scenario whose ``N(S) \\ F`` holds no closed candidate is violated by every
    plan: then no plan is feasible and every candidate is returned (as
    :func:`capacitated_cover` reports, with its ``infeasible`` scenarios).

    Parameters
    ----------
    reach : scipy.sparse.csr_array
        ``(n_demand, n_sites)`` pattern of pairs within budget.
    load_rps, cap_rps : array_like
        Load per point and capacity per candidate, requests/s.
    requirement : array_like of int
        Sites each point needs within budget.
    sites : array_like of int
        The plan to start from (e.g. a cut-generation round's plan: it meets the cuts found
        so far, not necessarily every scenario).
    failures : int, default 1
        Failure domains lost at once (k).
    domains, cost, required : array_like, optional
        As for :func:`capacitated_cover`.
    scenario_limit : int, default 20000
        Scenarios enumerated per check (:func:`failure_scenarios`).
    prune : bool, default True
        Close redundant sites after the repair.
    prune_deadline : float, optional
        :func:`time.perf_counter` time after which no further site is tried for closing.
    cuts : list, optional
        When given, every infeasible scenario met on the way is appended to it, as
        ``(scenario, plan)`` (its :class:`ScenarioFlow`, with ``cut_rows``, and the plan it
        was checked on).
    deadline : float, optional
        :func:`time.perf_counter` time after which the capacity step solves no further
        scenario and adds no further site: the plan reached is returned unpruned, and may
        fall short (:func:`repair_plan_until` says whether it does).

    Returns
    -------
    numpy.ndarray
        The repaired plan (candidate indices, sorted): it meets ``requirement`` and passes
        every checked scenario, unless no plan does (then every candidate) or ``deadline``
        stopped it.
    """
    return repair_plan_until(reach, load_rps, cap_rps, requirement, sites, failures,
                             domains=domains, cost=cost, required=required,
                             scenario_limit=scenario_limit, prune=prune,
                             prune_deadline=prune_deadline, cuts=cuts, deadline=deadline)[0]


def repair_plan_until(reach: sp.csr_array, load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
                      requirement: npt.ArrayLike, sites: npt.ArrayLike, failures: int = 1, *,
                      domains: npt.ArrayLike | None = None,
                      cost: npt.ArrayLike | None = None,
                      required: npt.ArrayLike | None = None, scenario_limit: int = 20_000,
                      prune: bool = True, prune_deadline: float | None = None,
                      cuts: list[tuple[ScenarioFlow, npt.NDArray[np.int64]]] | None = None,
                      deadline: float | None = None,
                      ) -> tuple[npt.NDArray[np.int64], bool]:
    """:func:`repair_plan`, and whether the plan returned passed its last check.

    Parameters
    ----------
    reach, load_rps, cap_rps, requirement, sites, failures, domains, cost, required
        As for :func:`repair_plan`.
    scenario_limit, prune, prune_deadline, cuts, deadline
        As for :func:`repair_plan`.

    Returns
    -------
    plan : numpy.ndarray
        The plan (candidate indices, sorted).
    passed : bool
        It meets coverage and every checked scenario. ``False``: ``deadline`` stopped the
        repair short (the plan is not every candidate), or no plan is feasible (every
        candidate is returned).
    """
    a = sp.csr_array(reach_pattern(reach), dtype=np.float64, copy=True)
    ac = sp.csc_array(a)
    n, m = a.shape
    load = np.asarray(load_rps, dtype=np.float64)
    cap = np.asarray(cap_rps, dtype=np.float64)
    c = np.ones(m) if cost is None else np.asarray(cost, dtype=np.float64)
    c = np.maximum(c, 1e-12)
    req = np.minimum(np.asarray(requirement, dtype=np.float64), np.diff(a.indptr))
    fixed = required_mask(required, m)
    is_open = fixed.copy()
    is_open[np.asarray(sites, dtype=np.int64)] = True

    def rows_of(j: int) -> npt.NDArray[np.int32]:
        return ac.indices[ac.indptr[j]:ac.indptr[j + 1]]

    # 1. coverage
    have = a @ is_open.astype(np.float64)
    while True:
        short = have < req - 1e-9
        if not short.any():
            break
        score = (ac.T @ short.astype(np.float64)) / c
        score[is_open] = -1.0
        j = int(np.argmax(score))
        if score[j] <= 0:  # cannot happen: requirement capped at |N_i|
            break
        is_open[j] = True
        have[rows_of(j)] += 1

    def check(stop_after: int | None, until: float | None) -> tuple[list[ScenarioFlow], bool]:
        plan = np.flatnonzero(is_open)
        scen, _, finished = check_scenarios_until(a, load, cap, plan, failures,
                                                  domains=domains, limit=scenario_limit,
                                                  stop_after=stop_after, deadline=until)
        if cuts is not None:
            cuts.extend((f, plan) for f in scen if not f.feasible)
        return scen, finished

    # 2. capacity
    t0 = time.perf_counter()
    while True:
        scen, finished = check(None, deadline)
        bad = [f for f in scen if not f.feasible]
        if finished and not bad:
            break
        if deadline is not None and time.perf_counter() >= deadline:
            logger.warning("repair_plan: stopped at its deadline after %.1f s with %d site(s), "
                           "%s", time.perf_counter() - t0, int(is_open.sum()),
                           f"{len(bad)} scenario(s) short" if bad else "not fully checked")
            return np.flatnonzero(is_open).astype(np.int64), False
        opened: list[int] = []
        stuck = False
        for f in bad:
            rows_s = np.asarray(f.cut_rows, dtype=np.int64)
            down = np.zeros(m, dtype=bool)
            down[list(f.failed)] = True
            sub = a[rows_s]
            alive = np.asarray(sub @ (~down).astype(np.float64)).ravel() > 0
            reach_load = np.asarray(sub.T @ np.where(alive, load[rows_s], 0.0)).ravel()
            gives = np.where(down, 0.0, np.minimum(cap, reach_load))
            short = max(float(f.shed_rps), 1e-9 * max(float(f.load_rps), 1.0))
            short -= float(gives[opened].sum()) if opened else 0.0
            if short <= 0:
                continue  # the sites opened for an earlier scenario of this pass may do
            cand = np.flatnonzero(~is_open & (gives > 0))
            if not len(cand):
                stuck = True  # violated by every plan
                continue
            score = np.minimum(gives[cand], short) / c[cand]
            for j in cand[np.argsort(-score, kind="stable")]:
                is_open[j] = True
                opened.append(int(j))
                short -= gives[j]
                if short <= 0:
                    break
        if not opened:
            if stuck:
                return np.arange(m, dtype=np.int64), False
            raise RuntimeError("repair_plan: an infeasible scenario opened no site")
    if not prune:
        return np.flatnonzero(is_open).astype(np.int64), True

    # 3. prune, least utilised first
    have = a @ is_open.astype(np.float64)
    peak = np.zeros(m)
    for f in scen:
        if f.site_load_rps is not None:
            peak = np.maximum(peak, f.site_load_rps)
    util = peak / np.maximum(cap, 1e-12)
    order = sorted(np.flatnonzero(is_open & ~fixed), key=lambda j: (util[j], -c[j], j))
    for j in order:
        if prune_deadline is not None and time.perf_counter() >= prune_deadline:
            break
        rows = rows_of(j)
        if np.any(have[rows] - 1 < req[rows] - 1e-9):
            continue
        is_open[j] = False
        trial, finished = check(1, prune_deadline)
        if finished and all(f.feasible for f in trial):
            have[rows] -= 1
        else:
            is_open[j] = True
    return np.flatnonzero(is_open).astype(np.int64), True


def balanced_flow(reach: sp.csr_array, load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
                  sites: npt.ArrayLike, failed: npt.ArrayLike = (), *,
                  tolerance: float = 0.005, max_steps: int = 40,
                  upper: float | None = None,
                  with_flows: bool = True) -> tuple[ScenarioFlow, float]:
    """The flow of a scenario that spreads load most evenly: the smallest utilisation
    ``u`` such that every site at ``u x`` its capacity still carries all the load, and its
    flow.

    ``u`` is found by bisection on its logarithm, to a *relative* ``tolerance`` (one
    max-flow per step), from ``[served / alive capacity, 1]``: the load that must be served
    (points with no site alive in budget are excused and do not count, as in
    :func:`scenario_flow`) over the capacity of the sites still up. (An absolute tolerance
    of a share of capacity made the flow of sites far larger than their load arbitrary,
    and counting excused load started the bracket above the answer.)

    Returns the scenario flow at that ``u`` (with flows) and ``u``; ``0`` and the plain
    max-flow when there is no load to serve; when even full capacity does not carry the
    load, the plain max-flow and ``nan``.

    ``upper`` (the worst level of other scenarios, when only the worst level over many
    scenarios is wanted): a flow at ``upper x`` capacity is tried first, and when it
    carries the load it is returned with ``upper`` (at most ``upper``, not this
    scenario's own most even flow: one max-flow instead of a bisection); otherwise the
    bisection runs from ``upper``. ``upper >= 1``: the plain max-flow and ``1``.

    ``with_flows=False``: the sites' loads only (:func:`scenario_flow`'s; no pair flows,
    which cost a sparse index and a matrix a step: a failure scenario's utilisations).
    """
    cap = np.asarray(cap_rps, dtype=np.float64)
    setup = _ScenarioSetup.of(reach, load_rps, sites, failed)  # once for every step
    tried_upper = upper is not None and 0.0 < upper < 1.0
    if tried_upper:  # first: feasible at upper x capacity is feasible at full capacity
        f = _scenario_flow_on(setup, cap * upper, with_flows=with_flows)
        if f.feasible:
            return f, float(upper)
    full = _scenario_flow_on(setup, cap, with_flows=with_flows)
    if not full.feasible:
        return full, float("nan")
    idx = np.asarray(sites, dtype=np.int64)
    down = np.atleast_1d(np.asarray(failed, dtype=np.int64))
    alive = idx[~np.isin(idx, down)]
    cap_alive = float(cap[alive].sum())
    if full.served_rps <= 0 or cap_alive <= 0:
        return full, 0.0
    lo = min(full.served_rps / cap_alive, 1.0)  # a lower bound on u: the mean utilisation
    if upper is not None and upper >= 1.0:
        return full, 1.0
    if tried_upper:
        lo = max(lo, float(upper))  # not feasible at upper: the level is above it
    hi, best = 1.0, full
    for _ in range(max_steps):
        if hi <= lo * (1.0 + tolerance):
            break
        mid = float(np.sqrt(lo * hi))
        f = _scenario_flow_on(setup, cap * mid, with_flows=with_flows)
        if f.feasible:
            hi, best = mid, f
        else:
            lo = mid
    if best is full and lo < 1.0:  # the bracket started within tolerance of 1: one try
        u = min(1.0, lo * (1.0 + tolerance))
        f = _scenario_flow_on(setup, cap * u, with_flows=with_flows)
        if f.feasible:
            hi, best = u, f
    return best, hi


def plan_components(reach: sp.csr_array, sites: npt.ArrayLike,
                    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Connected components of the graph of points and open ``sites`` within budget: the
    component of every point and of every candidate (``-1``: not open)."""
    a = reach_pattern(reach)
    n, m = a.shape
    open_sites = np.asarray(sites, dtype=np.int64)
    sub = sp.csr_array(a[:, open_sites], dtype=np.int8)
    adj = sp.bmat([[None, sub], [sub.T, None]], format="csr")
    _, lab = connected_components(adj, directed=False)
    site_lab = np.full(m, -1, dtype=np.int64)
    site_lab[open_sites] = lab[n:]
    return lab[:n].astype(np.int64), site_lab


def balanced_scenario(reach: sp.csr_array, load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
                      sites: npt.ArrayLike, failed: npt.ArrayLike, normal: ScenarioFlow,
                      components: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]], *,
                      tolerance: float = 0.005, upper: float | None = None,
                      ) -> tuple[ScenarioFlow, float]:
    """The most even flow of a failure scenario, re-solved only in the components holding
    a failed site (:func:`plan_components`): every other site keeps its load of ``normal``
    (the normal-operation flow), so a failure moves load only where it must be able to.
    Returns it and its utilisation level ``u`` in those components (``upper``: as for
    :func:`balanced_flow`)."""
    # (not reach_pattern here: called once per scenario, its pass over every pair cost a
    # sixth of the call, review 140; balanced_flow reads the rows' pattern, and the
    # rows with a candidate below are the same for any storage of the pairs)
    a = sp.csr_array(reach)
    load = np.asarray(load_rps, dtype=np.float64)
    row_lab, site_lab = components
    idx = np.atleast_1d(np.asarray(failed, dtype=np.int64))
    comps = np.unique(site_lab[idx][site_lab[idx] >= 0])
    rows = np.flatnonzero(np.isin(row_lab, comps))
    open_sites = np.asarray(sites, dtype=np.int64)
    local = open_sites[np.isin(site_lab[open_sites], comps)]
    part, u = balanced_flow(a[rows], load[rows], cap_rps, local, idx, tolerance=tolerance,
                            upper=upper, with_flows=False)
    has_any = np.diff(a.indptr) > 0
    rest = float(normal.load_rps - np.where(has_any, load, 0.0)[rows].sum())
    site_load = normal.site_load_rps.copy()
    in_comp = np.isin(site_lab, comps)
    site_load[in_comp] = part.site_load_rps[in_comp]
    return ScenarioFlow(part.failed, part.load_rps + rest, part.served_rps + rest,
                        part.shed_rps, part.feasible, None, None, site_load), u


def split_cut(reach: sp.csr_array, sites: npt.ArrayLike, failed: npt.ArrayLike,
              cut_rows: npt.ArrayLike) -> list[npt.NDArray[np.int64]]:
    """The demand side ``S`` of a scenario's minimum cut, split into the connected parts of
    the graph of its points and the open sites alive within their budget.

    A minimum cut can join regions short of capacity far apart; each region whose load
    exceeds the open capacity around it is a violated cut on its own, and the separate cuts
    are stronger than their sum (a plan adding capacity in one region does not satisfy the
    other's). Callers keep the parts that are still violated.
    """
    rows = np.asarray(cut_rows, dtype=np.int64)
    if len(rows) <= 1:
        return [rows]
    a = reach_pattern(reach)
    up = np.zeros(a.shape[1], dtype=bool)
    up[np.asarray(sites, dtype=np.int64)] = True
    up[np.asarray(failed, dtype=np.int64)] = False
    cols = np.flatnonzero(up)
    sub = sp.csr_array(a[rows][:, cols], dtype=np.int8)
    adj = sp.bmat([[None, sub], [sub.T, None]], format="csr")
    _, lab = connected_components(adj, directed=False)
    lab = lab[:len(rows)]
    order = np.argsort(lab, kind="stable")
    bounds = np.flatnonzero(np.diff(lab[order])) + 1
    return [np.sort(rows[p]) for p in np.split(order, bounds)]
