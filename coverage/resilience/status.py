"""What a demand point's coverage means: the one definition of status and gap.

A plan tolerates ``k`` simultaneous site failures (``--failures k``): every demand point
needs ``k + 1`` sites within its latency budget to stay within budget whatever ``k`` sites
fail (it is then *N-k safe*). ``n`` below is the number of candidate sites within the point's
budget (``n_covering_sites``, ``|N_i|``). A fewest-sites (or least-cost) plan opens
``min(k + 1, n)`` of them, so for ``n <= k`` it has exactly ``n`` chosen sites in budget and
for ``n > k`` at least ``k + 1``: the statuses are the same whether counted over candidates or
chosen sites. A ``--max-sites`` plan (the best ``P`` sites) may leave some closed: its
``coverage_status`` still counts candidates (what any plan could reach), and the figures of
its chosen sites are separate (``population_n1_safe``, the proposals'
``gap_points_still_short``, and its map's status layer: :func:`plan_status`, which adds
``unserved`` for a point no chosen site reaches but a closed candidate does).

=============== ======================= ==========================================
status          sites within budget     meaning
=============== ======================= ==========================================
``redundant``   ``n >= k + 1``          meets the requirement: N-k safe
``partial``     ``2 <= n <= k``         survives ``n - 1`` failures, not ``k``
``single``      ``n == 1 < k + 1``      one site: any failure of it loses the point
``uncoverable`` ``n == 0``              no site within budget at all
=============== ======================= ==========================================

``partial`` only occurs with ``k >= 2``, so with the default ``k = 1`` the statuses are the
familiar redundant / single / uncoverable. With ``k = 0`` nothing beyond one site is asked
for: every covered point is ``redundant`` in the sense of "meets the requirement" (the
human-readable labels of :func:`status_label` say "N-0: covered" then).

With failure domains (a sites ``failure_domain`` column or ``--domain-radius-km``) a plan
without a load fails whole domains, and ``n`` is then the number of *domains* of the
point's candidates within budget (``|D_i|``; with row generation, of its chosen sites',
which the count makes ``min(k + 1, |D_i|)``, so the status is the same):
``single`` is a town whose candidates all share one power feed. ``summary.json`` then has
``statuses_by`` ``"failure domains"``; ``n_covering_sites`` still counts sites.

A *gap* is a point whose status is not ``redundant`` (fewer than ``k + 1`` sites in budget,
whatever the plan does). :attr:`coverage.Plan.gaps`, the map's status and gap layers, the
``gaps`` layer of ``plan.gpkg``, ``report.html`` and
:func:`~coverage.resilience.gaps.propose_sites` all
use :func:`coverage_status` / :func:`is_gap` from this module.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "COVERAGE_STATUSES",
    "coverage_by_k",
    "coverage_status",
    "coverage_status_categorical",
    "domain_safety",
    "gap_mask",
    "is_gap",
    "plan_status",
    "population_safe_by_failures",
    "status_label",
    "status_meaning",
    "status_possible",
]

REDUNDANT, PARTIAL, SINGLE, UNCOVERABLE = "redundant", "partial", "single", "uncoverable"
COVERAGE_STATUSES = (REDUNDANT, PARTIAL, SINGLE, UNCOVERABLE)
"""Every status, from best to worst (the map's hexagons show the worst of their points)."""
UNSERVED = "unserved"
"""A point the plan leaves outside budget although a candidate reaches it (only a
``--max-sites`` plan does that; :func:`plan_status`)."""


def _k(failures: Any) -> int:
    k = int(failures)
    if k < 0:
        raise ValueError(f"failures must be >= 0; got {failures!r}")
    return k


def gap_mask(n_covering: npt.ArrayLike, failures: int) -> npt.NDArray[np.bool_]:
    """Points that are gaps: fewer than ``failures + 1`` sites within budget.

    Parameters
    ----------
    n_covering : array_like of int
        Sites (candidates) within budget of each demand point.
    failures : int
        Failures tolerated (k).

    Returns
    -------
    numpy.ndarray of bool
    """
    return np.asarray(n_covering, dtype=np.int64) < _k(failures) + 1


def coverage_status(n_covering: npt.ArrayLike, failures: int) -> npt.NDArray[np.object_]:
    """Coverage status of each demand point (see the module docstring for the scheme).

    Parameters
    ----------
    n_covering : array_like of int
        Sites (candidates) within budget of each demand point.
    failures : int
        Failures tolerated (k).

    Returns
    -------
    numpy.ndarray of object
        One of :data:`COVERAGE_STATUSES` per point.

    Examples
    --------
    >>> coverage_status([0, 1, 2, 3, 4], failures=3).tolist()
    ['uncoverable', 'single', 'partial', 'partial', 'redundant']
    >>> coverage_status([0, 1, 2], failures=1).tolist()
    ['uncoverable', 'single', 'redundant']
    """
    # four shared str objects: 8 bytes a point (a text array made into objects was a new
    # str per point, 0.7 GiB at 10M points)
    return np.array(COVERAGE_STATUSES, dtype=object)[_status_codes(n_covering, failures)]


def coverage_status_categorical(n_covering: npt.ArrayLike, failures: int) -> pd.Categorical:
    """:func:`coverage_status` as a categorical of :data:`COVERAGE_STATUSES` (one byte a
    point: the assignment table's column).

    Examples
    --------
    >>> coverage_status_categorical([0, 1, 2], failures=1).tolist()
    ['uncoverable', 'single', 'redundant']
    """
    return pd.Categorical.from_codes(_status_codes(n_covering, failures),
                                     categories=list(COVERAGE_STATUSES))


def _status_codes(n_covering: npt.ArrayLike, failures: int) -> npt.NDArray[np.int8]:
    """Each point's status as its position in :data:`COVERAGE_STATUSES`."""
    n = np.asarray(n_covering, dtype=np.int64)
    gap = gap_mask(n, failures)
    return np.select([~gap, n == 0, n == 1], [0, 3, 2], default=1).astype(np.int8)


def plan_status(chosen_in_budget: npt.ArrayLike, n_covering: npt.ArrayLike,
                failures: int) -> npt.NDArray[np.object_]:
    """Status of each point counted over the plan's *chosen* sites (a ``--max-sites`` map).

    :func:`coverage_status` counts candidates, which is the same for a plan that covers
    everyone it can; a ``--max-sites`` plan may leave candidates closed, so its map shows
    this instead: the same statuses over chosen sites within budget, and :data:`UNSERVED`
    for a point with no chosen site in budget that some candidate reaches (``uncoverable``
    stays "no candidate at all").

    Parameters
    ----------
    chosen_in_budget : array_like of int
        Chosen sites within budget of each point (only ``0, 1, .., k + 1`` matter: more
        counts as ``k + 1``).
    n_covering : array_like of int
        Candidates within budget of each point.
    failures : int
        Failures tolerated (k).

    Returns
    -------
    numpy.ndarray of object
        One of :data:`COVERAGE_STATUSES` or :data:`UNSERVED` per point.

    Examples
    --------
    >>> plan_status([0, 0, 1, 2], [0, 3, 3, 3], failures=1).tolist()
    ['uncoverable', 'unserved', 'single', 'redundant']
    """
    chosen = np.asarray(chosen_in_budget, dtype=np.int64)
    out = coverage_status(chosen, failures)
    out[(chosen == 0) & (np.asarray(n_covering, dtype=np.int64) > 0)] = UNSERVED
    return out


def is_gap(table: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Rows of a demand / ``assignment.csv`` table that are gaps (status not ``redundant``).

    The ``coverage_status`` column was written by :func:`coverage_status` with the plan's own
    ``k``, so this is the same definition as :func:`gap_mask`; rows without a status
    (missing) count as gaps.

    Parameters
    ----------
    table : pandas.DataFrame
        With a ``coverage_status`` column.

    Returns
    -------
    numpy.ndarray of bool
    """
    return (table["coverage_status"].astype(object) != REDUNDANT).to_numpy(dtype=bool)


def _sites(n: int) -> str:
    return f"{n} site" + ("" if n == 1 else "s")


def status_label(status: str, failures: int, *, unit: str = "site") -> str:
    """Short human-readable label of a status for ``k = failures`` (legends, tables);
    ``unit`` ``"domain"`` for a plan whose statuses count failure domains.

    Examples
    --------
    >>> status_label("redundant", 1)
    'redundant: N-1 safe (2+ sites in budget)'
    >>> status_label("partial", 3)
    'partial: 2-3 sites in budget, short of 4'
    >>> status_label("single", 1, unit="domain")
    'single: 1 domain in budget, short of 2'
    """
    k = _k(failures)
    if status == REDUNDANT:
        if k == 0:
            return f"N-0: covered (1+ {unit} in budget)"
        return f"redundant: N-{k} safe ({k + 1}+ {unit}s in budget)"
    if status == PARTIAL:
        span = f"2 {unit}s" if k == 2 else f"2-{k} {unit}s"
        return f"partial: {span} in budget, short of {k + 1}"
    if status == SINGLE:
        return f"single: 1 {unit} in budget, short of {k + 1}"
    if status == UNCOVERABLE:
        return "uncoverable: no site in budget"
    if status == UNSERVED:
        return "unserved: no chosen site in budget (a closed candidate is)"
    return str(status)


def status_possible(status: str, failures: int) -> bool:
    """Whether :func:`coverage_status` can give ``status`` for ``k = failures``: ``partial``
    needs k >= 2 and ``single`` k >= 1 (at k = 0 one site in budget is enough).

    Examples
    --------
    >>> [s for s in COVERAGE_STATUSES if status_possible(s, 1)]
    ['redundant', 'single', 'uncoverable']
    """
    k = _k(failures)
    return not ((status == PARTIAL and k < 2) or (status == SINGLE and k < 1))


def status_meaning(status: str, failures: int, *, unit: str = "site") -> str:
    """One sentence on what a status means for ``k = failures`` (the report's gap table);
    ``unit`` ``"domain"`` for a plan whose statuses count failure domains."""
    k = _k(failures)
    what = "sites" if unit == "site" else "failure domains"
    one = "site" if unit == "site" else "failure domain (all its sites)"
    return {
        REDUNDANT: (f"{k + 1} or more {what} within budget: stays within budget when any "
                    + (f"one {one} fails" if k == 1 else f"{k} {what} fail") if k else
                    f"at least one {unit} within budget (no failure tolerance asked for)"),
        PARTIAL: (f"{'2' if k == 2 else f'2 to {k}'} {what} within budget: survives "
                  f"fewer than {k} failures" if k >= 2 else "does not occur with k < 2"),
        SINGLE: (f"exactly one {one} within budget: out of budget when it fails" if k else
                 f"does not occur with k = 0 (one {unit} meets the requirement)"),
        UNCOVERABLE: "no candidate site within budget",
        UNSERVED: ("no chosen site within budget, though a candidate the plan leaves closed "
                   "is (--max-sites)"),
    }.get(status, "unknown status")


def coverage_by_k(n_covering: npt.ArrayLike, population: npt.ArrayLike,
                  failures: int) -> dict[str, dict[str, float | int]]:
    """Demand points and population by number of sites within budget, ``0 .. k`` and ``>= k+1``.

    Parameters
    ----------
    n_covering : array_like of int
        Sites (candidates) within budget of each demand point.
    population : array_like of float
        Population of each demand point.
    failures : int
        Failures tolerated (k).

    Returns
    -------
    dict
        ``{"0": {"n_demand": .., "population": ..}, "1": {...}, ..., str(k): {...},
        f">={k + 1}": {...}}`` (JSON-ready, keys in that order). A point in bucket ``j <= k``
        survives ``j - 1`` failures (none for 0); the last bucket is N-k safe.

    Examples
    --------
    >>> coverage_by_k([0, 1, 3], [5.0, 7.0, 11.0], failures=1)
    {'0': {'n_demand': 1, 'population': 5.0}, '1': {'n_demand': 1, 'population': 7.0}, \
'>=2': {'n_demand': 1, 'population': 11.0}}
    """
    k = _k(failures)
    n = np.minimum(np.asarray(n_covering, dtype=np.int64), k + 1)
    pop = np.asarray(population, dtype=np.float64)
    counts = np.bincount(n, minlength=k + 2)
    people = np.bincount(n, weights=pop, minlength=k + 2).astype(np.float64)
    keys = [str(j) for j in range(k + 1)] + [f">={k + 1}"]
    return {key: {"n_demand": int(counts[j]), "population": float(people[j])}
            for j, key in enumerate(keys)}


def population_safe_by_failures(n_covering: npt.ArrayLike, population: npt.ArrayLike,
                                failures: int) -> dict[str, float]:
    """Population that stays within budget under any ``j`` failures, ``j = 0 .. k``.

    Returns
    -------
    dict
        ``{"N-0": people with 1+ site in budget, "N-1": 2+, ..., f"N-{k}": k+1+}``
        (cumulative: each is part of the one before).
    """
    k = _k(failures)
    by = coverage_by_k(n_covering, population, k)
    people = np.array([v["population"] for v in by.values()])
    tail = np.cumsum(people[::-1])[::-1]  # tail[j]: people with j or more sites
    return {f"N-{j}": float(tail[j + 1]) for j in range(k + 1)}


def domain_safety(pattern: Any, chosen: npt.ArrayLike, domains: npt.ArrayLike,
                  population: npt.ArrayLike, failures: int,
                  inverse: npt.ArrayLike | None = None) -> dict[str, Any]:
    """Who stays within budget when whole failure domains fail, not single sites.

    ``population_safe_by_failures`` and the statuses count chosen sites within budget; with
    shared-risk domains (a ``failure_domain`` column, ``--domain-radius-km``) two such
    sites in one domain fail together. Here a point is N-j safe when its chosen sites
    within budget lie in ``j + 1`` domains or more.

    Parameters
    ----------
    pattern : scipy.sparse array
        Points x candidates within budget (any nonzero; a column past ``domains``, e.g. a
        capacity check's witness column, is never a site).
    chosen : array_like of int
        The plan's sites.
    domains : array_like
        Failure domain of every candidate.
    population : array_like
        People of every original point.
    failures : int
        k: the figures go to N-k.
    inverse : array_like of int, optional
        Row of ``pattern`` of every original point (merged points); default the identity.

    Returns
    -------
    dict
        ``population_safe``: ``{"N-0": ..., f"N-{k}": ...}`` as
        :func:`population_safe_by_failures` with domains; ``worst_domain``,
        ``worst_domain_population_outside_budget``: the one domain whose failure leaves
        the most people (within budget of a chosen site before) with no chosen site within
        budget; ``population_one_domain``: people with chosen sites within budget in
        exactly one domain (N-0 safe, not N-1 safe); ``n_domains``: the number of
        domains of chosen sites within budget of every original point (N-j safe by
        domains at ``j + 1`` or more); ``by_domain``: a table of every domain holding a
        chosen site, ``failure_domain`` and ``population_outside_budget`` (what its
        failure alone leaves with no chosen site within budget), worst first (ties in
        name order).
    """
    import scipy.sparse as sp

    k = _k(failures)
    dom_all = np.asarray(domains, dtype=object)
    m = len(dom_all)
    a = sp.csr_array(pattern)
    codes, names = pd.factorize(pd.Series(dom_all).astype(str))
    open_ = np.unique(np.asarray(chosen, dtype=np.int64))
    open_ = open_[open_ < min(m, a.shape[1])]
    # the chosen sites' columns only (a national reach holds every candidate's pairs);
    # a pair stored twice is one (point, domain) below anyway
    sub = sp.csr_array(a[:, open_])
    rows = np.repeat(np.arange(a.shape[0], dtype=np.int64), np.diff(sub.indptr))
    dom = np.asarray(codes, dtype=np.int64)[open_][sub.indices]
    pair = np.unique(rows * max(len(names), 1) + dom)  # each (point, domain) once
    p_row, p_dom = pair // max(len(names), 1), pair % max(len(names), 1)
    n_dom = np.bincount(p_row, minlength=a.shape[0])
    inv = (np.arange(a.shape[0]) if inverse is None
           else np.asarray(inverse, dtype=np.int64))
    pop = np.asarray(population, dtype=np.float64)
    n_point = n_dom[inv]
    safe = {f"N-{j}": float(pop[n_point >= j + 1].sum()) for j in range(k + 1)}
    # a point in one domain only: lost with that domain
    single = n_dom == 1
    only = np.full(a.shape[0], -1, dtype=np.int64)
    first = np.searchsorted(p_row, np.flatnonzero(single))
    only[single] = p_dom[first]
    lost = np.bincount(only[inv][only[inv] >= 0], weights=pop[only[inv] >= 0],
                       minlength=len(names)).astype(np.float64)
    worst = int(np.argmax(lost)) if len(lost) and lost.max() > 0 else None
    held = np.unique(np.asarray(codes, dtype=np.int64)[open_])
    by_domain = pd.DataFrame({"failure_domain": np.asarray(names, dtype=object)[held],
                              "population_outside_budget": lost[held]})
    by_domain = by_domain.sort_values(["population_outside_budget", "failure_domain"],
                                      ascending=[False, True], kind="stable",
                                      ignore_index=True)
    return {"population_safe": safe,
            "n_domains": n_point.astype(np.int64),
            "by_domain": by_domain,
            "population_one_domain": float(pop[n_point == 1].sum()),
            "worst_domain": None if worst is None else str(names[worst]),
            "worst_domain_population_outside_budget": (
                float(lost[worst]) if worst is not None else 0.0)}
