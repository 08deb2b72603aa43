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
- ``k = 3``: exact by enumeration too. The worst set either is a held set of three sites;
  or holds a held pair ``{a, b}`` and a third site ``c``, which either shares a held pair
  with ``a`` or ``b`` (every such ``c`` is tried) or adds only its single-site people (then
  the site with the most single-site people other than ``a`` and ``b`` does at least as
  well); or holds no held pair or triple, and then does no more damage than the three
  largest single-site totals. Those candidates are evaluated in bulk (sorted-key lookups);
  when they would exceed :data:`MAX_CANDIDATES` (hub sites sharing pairs with thousands),
  the MILP below decides instead;
- ``k >= 4``: a MILP (HiGHS via :func:`scipy.optimize.milp`) with one binary per site
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

__all__ = ["MAX_CANDIDATES", "WorstSet", "worst_failure_set"]

MAX_CANDIDATES = 20_000_000
"""Most candidate triples the ``k = 3`` enumeration evaluates (about 0.5 GB of work arrays);
beyond it the MILP decides."""


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
        ``enumeration`` (k <= 3) or ``milp``.
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
    sel = (n_within >= 1) & (population > 0)  # (rows of more than k: repeats below)
    if not sel.any():
        return np.empty((0, k), dtype=np.int64), np.empty(0)
    # every column (a site within budget need not be among the first k), at most k held
    big = np.iinfo(np.int64).max
    sets = np.sort(np.where(within[sel], near[sel], big), axis=1)
    # a site listed twice in a row is one site of its set (sets of distinct sites)
    repeat = np.zeros(sets.shape, dtype=bool)
    repeat[:, 1:] = (sets[:, 1:] == sets[:, :-1]) & (sets[:, 1:] != big)
    if repeat.any():
        sets = np.sort(np.where(repeat, big, sets), axis=1)
    n_distinct = (sets != big).sum(axis=1)
    sets = sets[n_distinct <= k]
    weights = population[sel][n_distinct <= k]
    if sets.shape[1] < k:
        sets = np.hstack([sets, np.full((len(sets), k - sets.shape[1]), big)])
    sets = sets[:, :k]
    sets = np.where(sets == big, -1, sets)
    groups, inverse = np.unique(sets, axis=0, return_inverse=True)
    people = np.bincount(inverse.ravel(), weights=weights, minlength=len(groups))
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
    if k == 3:
        found = _enumerate_three(groups, people, sites)
        if found is not None:
            val = _damage(groups, people, found)
            return WorstSet(k, val, found, val, "optimal", "enumeration",
                            time.perf_counter() - t0)
    return _milp(groups, people, sites, k, time_limit_s, t0)


def _damage(groups: npt.NDArray[np.int64], people: npt.NDArray[np.float64],
            failed: npt.NDArray[np.int64]) -> float:
    """People whose whole within-budget set is in ``failed`` (recounted from the groups)."""
    inside = np.isin(groups, failed) | (groups < 0)
    return float(people[inside.all(axis=1)].sum())


def _lookup(keys: npt.NDArray[np.int64], weights: npt.NDArray[np.float64],
            query: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """``weights`` of ``query`` among the sorted unique ``keys`` (0 where absent)."""
    if not len(keys):
        return np.zeros(len(query))
    pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[pos] == query, weights[pos], 0.0)


def _enumerate_three(groups: npt.NDArray[np.int64], people: npt.NDArray[np.float64],
                     sites: npt.NDArray[np.int64]) -> npt.NDArray[np.int64] | None:
    """The worst set of three failures (site indices, sorted; only the sites that add
    people), or ``None`` when the candidates would exceed :data:`MAX_CANDIDATES`."""
    m = len(sites)
    if m < 4 or m >= 2_000_000:  # (fewer than 4: the caller fails them all) keys fit int64
        return None
    g = np.where(groups >= 0, np.searchsorted(sites, groups), -1)  # compact indices
    size = (g >= 0).sum(axis=1)  # each row sorted, padding (-1) last: a < b < c
    one, two, three = size == 1, size == 2, size == 3
    p1 = np.bincount(g[one, 0], weights=people[one], minlength=m)
    key2 = g[two, 0] * m + g[two, 1]
    key3 = (g[three, 0] * m + g[three, 1]) * m + g[three, 2]  # m < 2e6: no overflow
    w2, w3 = people[two], people[three]  # the groups are unique: so are the keys
    o2, o3 = np.argsort(key2), np.argsort(key3)
    key2, w2, key3, w3 = key2[o2], w2[o2], key3[o3], w3[o3]

    def value(t: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        a, b, c = np.sort(t, axis=1).T
        return (p1[a] + p1[b] + p1[c] + _lookup(key2, w2, a * m + b)
                + _lookup(key2, w2, a * m + c) + _lookup(key2, w2, b * m + c)
                + _lookup(key3, w3, (a * m + b) * m + c))

    pairs = g[two, :2]
    # sites sharing a held pair with each site (both directions), as CSR lists
    src = np.concatenate([pairs[:, 0], pairs[:, 1]])
    dst = np.concatenate([pairs[:, 1], pairs[:, 0]])
    order = np.argsort(src, kind="stable")
    nbr = dst[order]
    start = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=m))])
    deg = np.diff(start)
    n_cand = int((deg[pairs[:, 0]] + deg[pairs[:, 1]]).sum())
    if n_cand + len(pairs) + len(g) > MAX_CANDIDATES:
        return None
    top = np.argsort(-p1, kind="stable")[:3]
    cands = [g[three]]
    if len(top) == 3:
        cands.append(top[None, :])
    if len(pairs):
        # a third site that only adds its single-site people: the best other than a, b
        free = [(t != pairs[:, 0]) & (t != pairs[:, 1]) for t in top[:2]]
        best = np.where(free[0], top[0], np.where(free[1], top[1], top[2]))
        cands.append(np.column_stack([pairs, best]))
        # a third site sharing a held pair with a or with b
        for side in (0, 1):
            owner = pairs[:, side]
            reps = deg[owner]
            rows = np.repeat(np.arange(len(pairs)), reps)
            offs = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
            third = nbr[start[owner][rows] + offs]
            keep = (third != pairs[rows, 0]) & (third != pairs[rows, 1])
            cands.append(np.column_stack([pairs[rows[keep]], third[keep]]))
    cand = np.concatenate([c for c in cands if len(c)])  # the three largest at least
    vals = value(cand)
    chosen = sites[np.unique(cand[int(np.argmax(vals))])]
    # only the sites that add people (a held set inside the chosen three contains them)
    inside = (np.isin(groups, chosen) | (groups < 0)).all(axis=1) & (people > 0)
    return np.unique(groups[inside][groups[inside] >= 0]).astype(np.int64)


def _milp(groups: npt.NDArray[np.int64], people: npt.NDArray[np.float64],
          sites: npt.NDArray[np.int64], k: int, time_limit_s: float,
          t0: float) -> WorstSet:
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint

    from ..solvers.interrupt import milp

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
    value = _damage(groups, people, chosen)
    if status == "optimal":
        bound = value
    return WorstSet(k, value, np.sort(chosen).astype(np.int64), max(bound, value), status,
                    "milp", time.perf_counter() - t0)
