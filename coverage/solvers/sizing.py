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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from .capacitated import failure_scenarios, plan_components
from .highs import solve_milp

logger = logging.getLogger(__name__)

__all__ = ["MAX_SIZING_ENTRIES", "SizingResult", "least_capacity"]

#: Most flow variables (point, site, scenario) of the sizing program; above, it is not
#: built (its status says so) and the caller keeps its own sizing.
MAX_SIZING_ENTRIES = 3_000_000


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
        The program's optimum: no sizing that carries every scenario has a smaller total.
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
                   time_limit_s: float = 60.0,
                   max_entries: int = MAX_SIZING_ENTRIES) -> SizingResult:
    """The least capacity of every open site such that normal operation and every failure
    scenario of up to ``failures`` failure domains carry the load (see the module notes).

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
        HiGHS's time limit.
    max_entries : int
        Most flow variables.

    Returns
    -------
    SizingResult
    """
    t0 = time.perf_counter()
    a = sp.csr_array(reach)
    n = a.shape[0]
    load = np.asarray(load_rps, dtype=np.float64)
    cap = np.asarray(cap_rps, dtype=np.float64)
    m = len(cap)
    chosen = np.unique(np.asarray(sites, dtype=np.int64))
    none = np.full(m, np.nan)

    def result(status: str, need: npt.NDArray[np.float64] = none, bound: float = np.nan,
               n_scen: int = 0, entries: int = 0, **info: Any) -> SizingResult:
        return SizingResult(status, need, bound, n_scen, entries, time.perf_counter() - t0,
                            info)

    if not len(chosen):
        return result("optimal", np.zeros(m), 0.0, 1)
    dom = None if domains is None else np.asarray(domains, dtype=object)
    scen, complete = failure_scenarios(chosen, int(failures), dom, limit=int(limit),
                                       reach=a)
    if not complete:
        return result("scenarios_cut", n_scen=len(scen))
    point_lab, site_lab = plan_components(a, chosen)
    is_open = np.zeros(a.shape[1], dtype=bool)
    is_open[chosen] = True
    row_nnz = np.diff(a.indptr)
    # the sub-problem of every scenario: its rows, its alive open columns
    blocks: list[tuple[npt.NDArray[np.int64], sp.csr_array]] = []
    entries = 0
    width = a.shape[1]
    for failed in scen:
        f = np.asarray(failed, dtype=np.int64)
        f = f[(f >= 0) & (f < width)]
        dead = np.zeros(width, dtype=bool)
        dead[f] = True
        if len(f):  # the components holding a failed open site; elsewhere the normal flow
            labs = site_lab[f]
            rows = np.flatnonzero(np.isin(point_lab, labs[labs >= 0]))
        else:
            rows = np.arange(n)
        sub = sp.csr_array(a[rows], dtype=np.int64)
        # excused: every candidate of the row within budget failed (none when none failed)
        excused = (sub @ dead.astype(np.int64)) == row_nnz[rows]
        keep = rows[~excused & (load[rows] > 0)]
        cols = np.flatnonzero((is_open & ~dead)[:m])
        block = sp.csr_array(a[keep][:, cols])
        if np.any(np.diff(block.indptr) == 0):
            return result("infeasible", n_scen=len(scen),
                          message=f"a point has no open site left in scenario {failed!r}")
        entries += block.nnz
        if entries > max_entries:
            return result("too_large", n_scen=len(scen), entries=entries)
        blocks.append((keep, sp.csr_array((np.ones(block.nnz), cols[block.indices],
                                           block.indptr), shape=(len(keep), m))))
    # the program: variables c'_j (share of cap_j) for the open sites, then every block's
    # flow shares; rows: each block's points (= 1), then each block's sites (<= 0)
    k = len(chosen)
    col_of = np.full(m, -1, dtype=np.int64)
    col_of[chosen] = np.arange(k)
    cap_c = np.where(cap[chosen] > 0, cap[chosen], 1.0)
    eq_parts, cap_parts = [], []
    offset, row_off = k, 0
    site_rows: list[npt.NDArray[np.int64]] = []
    for keep, block in blocks:
        nnz = block.nnz
        flow_cols = offset + np.arange(nnz)
        entry_row = np.repeat(np.arange(len(keep)), np.diff(block.indptr))
        eq_parts.append((row_off + entry_row, flow_cols, np.ones(nnz)))
        row_off += len(keep)
        site_rows.append(block.indices)
        offset += nnz
    n_eq = row_off
    # capacity rows: (block, site) pairs, numbered after the equality rows
    cap_row_ids: list[npt.NDArray[np.int64]] = []
    offset, n_cap = k, 0
    for (keep, block), site_of_entry in zip(blocks, site_rows, strict=True):
        used, local = np.unique(site_of_entry, return_inverse=True)
        entry_row = np.repeat(np.arange(len(keep)), np.diff(block.indptr))
        r = n_eq + n_cap + local
        cap_parts.append((r, offset + np.arange(block.nnz),
                          load[keep][entry_row] / cap_c[col_of[site_of_entry]]))
        cap_parts.append((n_eq + n_cap + np.arange(len(used)), col_of[used],
                          -np.ones(len(used))))
        cap_row_ids.append(used)
        n_cap += len(used)
        offset += block.nnz
    n_var = offset
    parts = eq_parts + cap_parts
    rr = np.concatenate([p[0] for p in parts])
    cc = np.concatenate([p[1] for p in parts])
    vv = np.concatenate([p[2] for p in parts])
    mat = sp.csr_array(sp.coo_array((vv, (rr, cc)), shape=(n_eq + n_cap, n_var)))
    lo = np.concatenate([np.ones(n_eq), np.full(n_cap, -np.inf)])
    hi = np.concatenate([np.ones(n_eq), np.zeros(n_cap)])
    scale = float(cap_c.max())
    cost = np.concatenate([cap_c / scale, np.zeros(n_var - k)])
    upper = np.concatenate([np.ones(k), np.full(n_var - k, np.inf)])
    # the interior point method, without crossover: the simplex took over 300 s on
    # Germany's demo (58 scenarios, 444,942 flow variables), the interior point 14 s; the
    # sizes come from the flows renormalised below, so they carry every scenario exactly
    # and only the optimality is to the solver's tolerance
    res = solve_milp(cost, np.zeros(n_var, dtype=bool), mat, lo, hi, col_lower=0.0,
                     col_upper=upper, time_limit_s=max(float(time_limit_s), 0.05),
                     options={"solver": "ipm", "run_crossover": "off"})
    if res.status != "optimal" or res.x is None:
        return result(res.status, n_scen=len(scen), entries=entries, message=res.message)
    x = np.clip(res.x, 0.0, None)
    # the sizes: every site's largest load over the flows, each point's shares summing to 1
    need = np.zeros(m)
    offset = k
    for keep, block in blocks:
        share = x[offset:offset + block.nnz]
        offset += block.nnz
        flows = sp.csr_array((share, block.indices, block.indptr), shape=block.shape)
        total = flows.sum(axis=1)
        flows = sp.csr_array(sp.diags(load[keep] / np.where(total > 0, total, 1.0)) @ flows)
        need = np.maximum(need, np.asarray(flows.sum(axis=0)).ravel())
    need[chosen] = np.maximum(need[chosen], 0.0)
    bound = float(res.objective) * scale
    logger.info("sizing: %d scenarios, %s flow variables: the least total capacity %.6g "
                "requests/s (the full capacities' %.6g), %.1f s", len(scen), f"{entries:,}",
                need.sum(), float(cap[chosen].sum()), time.perf_counter() - t0)
    return result("optimal", need, min(bound, float(need.sum())), len(scen), entries,
                  message=res.message)
