"""A lower bound on the sites of a capacitated N-k plan from the total capacity alone.

The capacity cuts of :mod:`coverage.solvers.capacitated` are local (a square of cells, a
scenario's min-cut); the row and cut generation finds the global ones late or never, so on
a country whose cabinets are small against its load the MILP's bound stays far below the
plans it finds (a helper's audit: 36 sites against a bound of 19). The fleet-wide count is
cheap and exact for its case:

In every scenario with ``f`` failed sites (``0 <= f <= k``; the scenarios are every set of
**up to** ``k`` failure domains), a cell is excused only when all its candidates within
budget failed, so the cells with more than ``f`` candidates, of load ``L_f``, are served by
the open sites that did not fail. The worst such scenario fails the ``f`` largest open
capacities, so every feasible plan ``S`` has::

    sum(cap_S) - (the f largest of cap_S) >= L_f        for f = 0 .. k

For a given number of sites ``p`` the left side is largest for the ``p`` largest
capacities of all candidates (the ``i``-th largest of any ``p`` sites is at most the
``i``-th largest of all), so the fewest sites of any feasible plan is at least the least
``p`` for which the ``p`` largest capacities pass every ``f``. With shared-risk failure
domains a failure may take several sites, so only ``f = 0`` (normal operation) is used.
With unequal site costs the bound is the fractional knapsack of normal operation (the
cheapest capacity per request first, the last site in part): the LP bound of
``sum(cap y) >= L_0``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["capacity_lower_bound", "CHECK_RTOL"]

#: The capacity check's tolerance, defined here (``coverage.solvers.capacitated`` imports
#: it as ``FLOW_RTOL``): a feasible scenario's sites carry at most this share of the
#: scenario's load above their capacities in all (the rounding remainder it places), and
#: each site at most ``SITE_RTOL`` (1e-6) of its own capacity; a cut is short when it
#: misses more than this share of its own load.
CHECK_RTOL = 1e-9


def capacity_lower_bound(load_rps: npt.ArrayLike, cap_rps: npt.ArrayLike,
                         n_covering: npt.ArrayLike, failures: int, *,
                         domains: npt.ArrayLike | None = None,
                         cost: npt.ArrayLike | None = None) -> float | None:
    """A lower bound on the objective (sites, or their cost) of any plan that carries the
    load in every scenario of up to ``failures`` failures.

    Parameters
    ----------
    load_rps : array_like of float
        Load of every demand cell (or merged row), requests/s.
    cap_rps : array_like of float
        Capacity of every candidate, requests/s (>= 0).
    n_covering : array_like of int
        Candidates within budget of every cell (a cell with none carries no load that any
        plan must serve).
    failures : int
        Failures tolerated (``k``).
    domains : array_like, optional
        Failure domain of every candidate; given, only normal operation is counted.
    cost : array_like of float, optional
        Cost of every candidate (default 1 each).

    Returns
    -------
    float or None
        The bound; ``None`` when even every candidate's capacity falls short (no bound:
        the solver itself says whether a plan exists) or there is no load.

    Examples
    --------
    >>> # 250 requests/s on cells with 3 candidates each, sites of 100: N-1 needs 4
    >>> capacity_lower_bound([100.0, 150.0], [100.0] * 6, [3, 3], 1)
    4.0
    >>> capacity_lower_bound([100.0, 150.0], [100.0] * 6, [3, 3], 0)
    3.0
    """
    load = np.asarray(load_rps, dtype=np.float64)
    n_cov = np.asarray(n_covering, dtype=np.int64)
    cap = np.asarray(cap_rps, dtype=np.float64)
    k = max(int(failures), 0) if domains is None else 0
    need = np.array([float(load[n_cov > f].sum()) for f in range(k + 1)])
    if need[0] <= 0 or not len(cap):
        return None
    # a site can carry no more than the whole load
    cap = np.where(np.isnan(cap) | (cap <= 0), 0.0, np.minimum(cap, need[0]))  # inf: all
    # the flow check accepts sites loaded up to CHECK_RTOL of the scenario's load above
    # their capacities in all (coverage.solvers.capacitated.scenario_flow: the remainder
    # it places): the bound is taken that much short for every site, and 1e-9 more
    need = need * (1.0 - 1e-9) - len(cap) * CHECK_RTOL * need
    c = None if cost is None else np.asarray(cost, dtype=np.float64)
    if c is not None and len(c) and np.ptp(c) > 0:
        return _knapsack(cap, c, float(need[0]))
    unit = 1.0 if c is None or not len(c) else float(c[0])
    top = np.sort(cap)[::-1]
    total = np.cumsum(top)  # total[p - 1]: the p largest capacities
    fewest = 0
    for f, lf in enumerate(need):
        if lf <= 0:
            continue
        # the p largest minus their f largest: total[p - 1] - total[f - 1], for p > f
        survive = total[f:] - (total[f - 1] if f else 0.0)
        ok = np.flatnonzero(survive >= lf)
        if not len(ok):
            return None
        fewest = max(fewest, f + 1 + int(ok[0]))
    return unit * fewest


def _knapsack(cap: npt.NDArray[np.float64], cost: npt.NDArray[np.float64],
              need: float) -> float | None:
    """``min cost . y`` subject to ``cap . y >= need``, ``0 <= y <= 1`` (greedy by cost per
    capacity; free sites first)."""
    useful = cap > 0
    cap, cost = cap[useful], np.maximum(cost[useful], 0.0)
    order = np.argsort(cost / cap, kind="stable")
    cap, cost = cap[order], cost[order]
    total = np.cumsum(cap)
    if not len(total) or float(total[-1]) < need:
        return None
    # the site that completes the capacity (within the cumulative sum's own rounding)
    last = min(int(np.searchsorted(total, need)), len(cap) - 1)
    before = float(total[last - 1]) if last else 0.0
    return float(cost[:last].sum() + cost[last] * (need - before) / cap[last])
