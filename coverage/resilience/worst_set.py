"""The single worst set of ``k`` simultaneous site failures of a plan.

A user is pushed outside its latency budget by a set ``F`` of failed sites exactly when every
chosen site within its budget is in ``F``. Users with more than ``k`` such sites never are;
users with none are outside budget already. So the people one set of ``k`` failures pushes
out are those whose (non-empty) within-budget set lies inside it, and the worst set is a
small combinatorial problem over the distinct within-budget sets of at most ``k`` sites:

- ``k = 1`` and ``k = 2``: exact by enumeration (a pair's damage is the people whose set is
  that pair, plus those whose set is either of its sites alone; a pair no user holds as its
  set can only collect the single-site people, so the two largest single-site totals are
  the remaining candidate);
- ``k >= 3``: a MILP (HiGHS via :func:`scipy.optimize.milp`) with one binary per site
  (failed) and one variable per distinct set (pushed out, at most each of its sites' binary),
  ``k`` sites failed, the people pushed out maximised; under its time limit the status says
  ``time_limit`` and the bound is HiGHS's.

The per-user figures of :func:`coverage.planner.stages.assign_and_fail` (``nk_*`` columns)
are each user's own worst ``k`` failures; their union (``nk_population_outside_budget``) is
at least this figure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["WorstSet", "worst_failure_set"]


@dataclass(frozen=True)
class WorstSet:
    """The worst single set of ``k`` failed sites.

    Attributes
    ----------
    k : int
        Sites failed together.
    population : float
        People with a site within budget whom failing :attr:`sites` leaves with none.
    sites : numpy.ndarray
        Site indices (into the candidate table) of the worst set, sorted; fewer than ``k``
        when fewer chosen sites serve anyone alone or in small groups (any other sites
        complete the set without changing the damage).
    upper_bound : float
        No set of ``k`` failures pushes out more people (equal to :attr:`population` when
        ``status`` is ``optimal``).
    status : str
        ``optimal`` or ``time_limit``.
    method : str
        ``enumeration`` (k <= 2) or ``milp``.
    solve_s : float
        Wall seconds.
    """

    k: int
    population: float
    sites: npt.NDArray[np.int64]
    upper_bound: float
    status: str
    method: str
    solve_s: float


def _sets_by_group(near: npt.NDArray[np.int64], within: npt.NDArray[np.bool_],
                   population: npt.NDArray[np.float64], k: int,
                   ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Distinct within-budget site sets of at most ``k`` sites (rows padded with -1, sites
    sorted) and the people holding each."""
    n_within = within.sum(axis=1)
    sel = (n_within >= 1) & (n_within <= k) & (population > 0)
    if not sel.any():
        return np.empty((0, k), dtype=np.int64), np.empty(0)
    # every column (a site within budget need not be among the first k), at most k held
    big = np.iinfo(np.int64).max
    sets = np.sort(np.where(within[sel], near[sel], big), axis=1)
    if sets.shape[1] < k:
        sets = np.hstack([sets, np.full((len(sets), k - sets.shape[1]), big)])
    sets = sets[:, :k]
    sets = np.where(sets == big, -1, sets)
    groups, inverse = np.unique(sets, axis=0, return_inverse=True)
    people = np.bincount(inverse.ravel(), weights=population[sel], minlength=len(groups))
    return groups.astype(np.int64), people


def _enumerate_up_to_two(groups: npt.NDArray[np.int64], people: npt.NDArray[np.float64],
                         k: int) -> tuple[float, npt.NDArray[np.int64]]:
    single = groups[:, 1] < 0 if k == 2 else np.ones(len(groups), dtype=bool)
    ones = groups[single, 0]
    p1 = np.zeros(int(groups.max()) + 1)
    p1[ones] = people[single]  # people whose only site within budget is that site
    order = np.argsort(-people[single], kind="stable")[:k]
    best_val = float(people[single][order].sum())
    best = np.sort(ones[order])
    if k == 2:
        pairs = groups[~single]
        if len(pairs):
            val = people[~single] + p1[pairs[:, 0]] + p1[pairs[:, 1]]
            i = int(np.argmax(val))
            if val[i] > best_val:
                best_val, best = float(val[i]), np.sort(pairs[i])
    return best_val, best.astype(np.int64)


def worst_failure_set(near: npt.ArrayLike, within: npt.ArrayLike,
                      population: npt.ArrayLike, k: int, *,
                      time_limit_s: float = 10.0) -> WorstSet:
    """The set of ``k`` chosen sites whose simultaneous failure pushes the most people
    outside their latency budget.

    Parameters
    ----------
    near : array_like of int, shape (n, depth)
        Each user's nearest chosen sites by latency (site indices, -1 where none), as
        :func:`coverage.planner.stages.assign_and_fail` queries them, ``depth >= k`` or
        every chosen site.
    within : array_like of bool, shape (n, depth)
        Whether each of those sites is within the user's budget.
    population : array_like of float, shape (n,)
        People per user row.
    k : int
        Simultaneous failures, ``k >= 1``.
    time_limit_s : float, default 10
        HiGHS time limit for ``k >= 3``.

    Returns
    -------
    WorstSet

    Examples
    --------
    >>> near = np.array([[0, 1], [0, 1], [1, 2], [2, 0]])
    >>> within = np.array([[True, False], [True, True], [True, True], [True, True]])
    >>> w = worst_failure_set(near, within, np.array([10.0, 5.0, 7.0, 1.0]), 2)
    >>> w.population, w.sites.tolist(), w.status
    (15.0, [0, 1], 'optimal')
    """
    t0 = time.perf_counter()
    near = np.asarray(near, dtype=np.int64)
    within = np.asarray(within, dtype=bool) & (near >= 0)
    population = np.asarray(population, dtype=np.float64)
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")
    groups, people = _sets_by_group(near, within, population, k)
    if not len(groups):
        return WorstSet(k, 0.0, np.empty(0, dtype=np.int64), 0.0, "optimal", "enumeration",
                        time.perf_counter() - t0)
    sites = np.unique(groups[groups >= 0])
    if len(sites) <= k:  # every site that serves anyone in small groups fails
        total = float(people.sum())
        return WorstSet(k, total, sites, total, "optimal", "enumeration",
                        time.perf_counter() - t0)
    if k <= 2:
        val, best = _enumerate_up_to_two(groups, people, k)
        return WorstSet(k, val, best, val, "optimal", "enumeration", time.perf_counter() - t0)
    return _milp(groups, people, sites, k, time_limit_s, t0)


def _milp(groups: npt.NDArray[np.int64], people: npt.NDArray[np.float64],
          sites: npt.NDArray[np.int64], k: int, time_limit_s: float,
          t0: float) -> WorstSet:
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint, milp

    m, g = len(sites), len(groups)
    member = groups >= 0
    rows = np.repeat(np.arange(g), member.sum(axis=1))
    cols = np.searchsorted(sites, groups[member])
    n_links = len(rows)
    # z_g - y_j <= 0 for every site j of set g; sum_j y_j = k
    link = sp.csr_array((np.concatenate([np.ones(n_links), -np.ones(n_links)]),
                         (np.concatenate([np.arange(n_links), np.arange(n_links)]),
                          np.concatenate([m + rows, cols]))), shape=(n_links, m + g))
    total = sp.csr_array((np.ones(m), (np.zeros(m, dtype=np.int64), np.arange(m))),
                         shape=(1, m + g))
    cons = [LinearConstraint(link, -np.inf, 0.0), LinearConstraint(total, k, k)]
    c = np.concatenate([np.zeros(m), -people])
    integrality = np.concatenate([np.ones(m), np.zeros(g)])
    res = milp(c, constraints=cons, integrality=integrality, bounds=Bounds(0.0, 1.0),
               options={"time_limit": max(float(time_limit_s), 0.1), "disp": False,
                        "mip_rel_gap": 0.0})
    if res.x is None:  # nothing found in time: the largest single set is a valid answer
        i = int(np.argmax(people))
        chosen = np.unique(groups[i][groups[i] >= 0])
        bound = float(people.sum())
        status = "time_limit"
    else:
        y = res.x[:m] > 0.5
        chosen = sites[y]
        bound = (float(-res.mip_dual_bound) if getattr(res, "mip_dual_bound", None) is not None
                 and np.isfinite(res.mip_dual_bound) else float(people.sum()))
        status = "optimal" if res.status == 0 else "time_limit"
    # the damage of the chosen set, recounted from the groups (not the solver's objective)
    inside = np.isin(groups, chosen) | ~member
    value = float(people[inside.all(axis=1)].sum())
    if status == "optimal":
        bound = value
    return WorstSet(k, value, np.sort(chosen).astype(np.int64), max(bound, value), status,
                    "milp", time.perf_counter() - t0)
