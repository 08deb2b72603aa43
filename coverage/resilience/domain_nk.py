"""Every user's worst latency when any ``k`` whole failure domains fail together.

With failure domains (a ``failure_domain`` column, ``--domain-radius-km``) the sites of one
domain fail together. The worst ``k`` domain failures for one user are the domains of its
``k`` nearest *domains* (a domain's distance being that of its nearest chosen site): failing
any other domain leaves a nearer site up. So the user's worst latency under any ``k``
domain failures is that of the nearest chosen site of its ``(k + 1)``-th nearest domain,
and the single worst set of ``k`` domains for everyone at once is
:func:`coverage.resilience.worst_set.worst_failure_set` over each user's ``k + 1`` nearest
domains (instead of sites).

:func:`nearest_domains` finds each user's first ``depth`` distinct domains among the chosen
sites in latency order: a bulk nearest-site query of the ``depth + 2`` nearest, then again
with twice as many for the users whose nearest sites lie in fewer domains (a domain holding
several chosen sites near them), up to :data:`MAX_DEPTH_QUERY`; the few users still short
then take one domain at a time, grouped by the domains they have (one query of the chosen
sites outside those domains per group). The loops are over query rounds and groups of
domains, never over users; every query is in blocks of at most
:data:`MAX_QUERY_ENTRIES` (users x sites).

Latencies are the point's (or a bin centroid's: the rows without an aggregation shrink),
as the assignment's ``n1_*`` and ``nk_*`` columns, by great-circle distance or, with tiers
or routing, the pair engine's lowest-latency path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..model.geo import REACH_EPS_KM, nearest, unit_xyz

if TYPE_CHECKING:
    from ..model.problem import Problem

__all__ = ["MAX_DEPTH_QUERY", "MAX_QUERY_ENTRIES", "NearestDomains", "domain_nk_figures",
           "nearest_domains"]

MAX_QUERY_ENTRIES = 4_000_000
"""Largest (users x nearest sites) block of one query."""

MAX_DEPTH_QUERY = 64
"""Most nearest sites a user is queried with before its domains are found one at a time
(more only when the first query, ``depth + 2``, is wider)."""


@dataclass(frozen=True)
class NearestDomains:
    """Each user's nearest chosen site in each of its first ``depth`` distinct failure
    domains, nearest first.

    Attributes
    ----------
    site : numpy.ndarray of int, shape (n, depth)
        Candidate index of the site (``-1``: fewer domains hold chosen sites).
    domain : numpy.ndarray of int, shape (n, depth)
        Its domain code (``-1`` likewise).
    latency_ms : numpy.ndarray of float, shape (n, depth)
        Its latency at the row's percentile (``NaN`` likewise).
    within : numpy.ndarray of bool, shape (n, depth)
        Whether it is within the row's budget.
    """

    site: npt.NDArray[np.int64]
    domain: npt.NDArray[np.int64]
    latency_ms: npt.NDArray[np.float64]
    within: npt.NDArray[np.bool_]


def nearest_domains(problem: Problem, chosen: npt.ArrayLike, codes: npt.ArrayLike,
                    depth: int) -> NearestDomains:
    """Each demand row's first ``depth`` distinct failure domains of the chosen sites, in
    the order of their nearest chosen site (see the module docstring).

    Parameters
    ----------
    problem : Problem
        The plan's problem.
    chosen : array_like of int
        The plan's sites (candidate positions).
    codes : array_like of int
        Failure domain code of every candidate (``0 ..``).
    depth : int
        Domains wanted per row (``k + 1`` for ``k`` domain failures).

    Returns
    -------
    NearestDomains
    """
    chosen = np.unique(np.asarray(chosen, dtype=np.int64))
    codes = np.asarray(codes, dtype=np.int64)
    n, depth = len(problem.demand), max(int(depth), 1)
    out = NearestDomains(np.full((n, depth), -1, dtype=np.int64),
                         np.full((n, depth), -1, dtype=np.int64),
                         np.full((n, depth), np.nan), np.zeros((n, depth), dtype=bool))
    if not n or not len(chosen):
        return out
    # a row is done with min(depth, domains holding chosen sites) domains
    goal = min(depth, len(np.unique(codes[chosen])))
    found = np.zeros(n, dtype=np.int64)
    todo = np.arange(n, dtype=np.int64)
    top = min(max(MAX_DEPTH_QUERY, depth), len(chosen))  # (depth: the first query's)
    m = min(depth + 2, top)
    while len(todo):
        left = []
        step = max(MAX_QUERY_ENTRIES // m, 1)
        for lo in range(0, len(todo), step):  # blocks of rows, bounded memory
            rows = todo[lo:lo + step]
            site, lat, within = _query(problem, chosen, rows, m)
            found[rows] = _take_first(out, rows, site, lat, within, codes, 0)
            if m < len(chosen):  # (with every chosen site queried, a row has them all)
                left.append(rows[found[rows] < goal])
        todo = np.concatenate(left) if left else np.empty(0, dtype=np.int64)
        if m >= top:
            break
        m = min(2 * m, top)
    # the rows still short: one domain at a time, grouped by the set of domains they have
    # (in any order: one query of the sites outside them)
    while len(todo):
        have = np.sort(out.domain[todo], axis=1)
        groups, inverse = np.unique(have, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).ravel()
        order = np.argsort(inverse, kind="stable")
        start = np.searchsorted(inverse[order], np.arange(len(groups) + 1))
        left = []
        chosen_codes = codes[chosen]
        for g in range(len(groups)):  # a loop over groups of domains, not over rows
            rows = todo[order[start[g]:start[g + 1]]]
            failed = groups[g][groups[g] >= 0]
            others = chosen[~np.isin(chosen_codes, failed)]
            if not len(others):
                continue
            for lo in range(0, len(rows), MAX_QUERY_ENTRIES):
                part = rows[lo:lo + MAX_QUERY_ENTRIES]
                site, lat, within = _query(problem, others, part, 1)
                found[part] = _take_first(out, part, site, lat, within, codes,
                                          len(failed))
            # (a row the query gave no site, tiers it may not use: no more domains)
            left.append(rows[(found[rows] < goal) & (found[rows] > len(failed))])
        todo = np.concatenate(left) if left else np.empty(0, dtype=np.int64)
    return out


def _query(problem: Problem, sites: npt.NDArray[np.int64], rows: npt.NDArray[np.int64],
           m: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64],
                            npt.NDArray[np.bool_]]:
    """The ``m`` lowest-latency sites of ``sites`` for ``rows``, nearest first: candidate
    index (``-1`` none), latency at the row's percentile and whether in budget."""
    m = min(m, len(sites))
    if problem.routed:
        got: dict[str, Any] = problem.engine_unshrunk.nearest(sites, k=m, rows=rows)
        site = np.asarray(got["site"], dtype=np.int64)
        lat = np.where(site >= 0, got["latency_ms"], np.nan)
        return site, lat, (site >= 0) & np.asarray(got["within"], dtype=bool)
    r = problem.rows_unshrunk
    km, ind = nearest(problem.site_lat[sites], problem.site_lon[sites],
                      unit_xyz(problem.demand_lat[rows], problem.demand_lon[rows]), k=m)
    km, ind = np.asarray(km).reshape(len(rows), m), np.asarray(ind).reshape(len(rows), m)
    lat = r.fixed_ms[rows, None] + r.ms_per_km * km
    return sites[ind], lat, km <= r.radius_km[rows, None] + REACH_EPS_KM


def _take_first(out: NearestDomains, rows: npt.NDArray[np.int64],
                site: npt.NDArray[np.int64], lat: npt.NDArray[np.float64],
                within: npt.NDArray[np.bool_], codes: npt.NDArray[np.int64],
                offset: int) -> npt.NDArray[np.int64]:
    """Write each row's first distinct domains of ``site`` (nearest first) into ``out`` from
    column ``offset`` on (the columns before it were found already and are not in
    ``site``); return each row's number of domains found."""
    depth = out.site.shape[1]
    dom = np.where(site >= 0, codes[np.maximum(site, 0)], -1)
    first = dom >= 0
    if dom.shape[1] <= 16:  # a domain seen in an earlier column is not new
        for j in range(1, dom.shape[1]):
            first[:, j] &= (dom[:, :j] != dom[:, j:j + 1]).all(axis=1)
    else:  # wide blocks: the first occurrences by one stable sort
        n_codes = int(codes.max()) + 2
        key = (np.arange(len(dom), dtype=np.int64)[:, None] * n_codes + dom + 1).ravel()
        _, at = np.unique(key, return_index=True)  # (mergesort: the first of each key)
        first = np.zeros(key.shape, dtype=bool)
        first[at] = True
        first = first.reshape(dom.shape) & (dom >= 0)
    rank = np.cumsum(first, axis=1) - 1 + offset
    take = first & (rank < depth)
    r, c = np.nonzero(take)
    at_rows, at_cols = rows[r], rank[r, c]
    out.site[at_rows, at_cols] = site[r, c]
    out.domain[at_rows, at_cols] = dom[r, c]
    out.latency_ms[at_rows, at_cols] = lat[r, c]
    out.within[at_rows, at_cols] = within[r, c]
    return np.minimum(offset + first.sum(axis=1), depth)


def domain_nk_figures(problem: Problem, chosen: npt.ArrayLike, domains: npt.ArrayLike,
                      has_primary: npt.ArrayLike,
                      ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The assignment's ``domain_nk_*`` columns and ``summary.json["domain_failures"]``'s
    ``nk_*`` figures: each user's worst latency under any ``k`` whole-domain failures
    (``k = --failures >= 1``) and, for ``k >= 2``, the single worst set of ``k`` domains.

    Parameters
    ----------
    problem : Problem
        The plan's problem (``config.failures`` is ``k``).
    chosen : array_like of int
        The plan's sites (candidate positions).
    domains : array_like
        Failure domain name of every candidate (as ``domain_failures.csv`` names them).
    has_primary : array_like of bool
        Rows with a chosen site within budget (the others keep no column value, as the
        ``nk_*`` columns).

    Returns
    -------
    columns : dict
        ``domain_nk_site_id`` (categories: the chosen sites' ids), ``domain_nk_latency_ms``
        (``NaN``: no primary, or the worst ``k`` domains hold every chosen site) and
        ``domain_nk_within_budget``.
    figures : dict
        ``nk_failures``, ``nk_worst_latency_ms``, ``nk_population_outside_budget`` (a
        union over every set of ``k`` domains: each user's own worst),
        ``nk_population_without_site``, and the worst set (``k >= 2``, else ``None``):
        ``nk_worst_set_domains``, ``nk_worst_set_population_outside_budget``,
        ``nk_worst_set_upper_bound``, ``nk_worst_set_status``.
    """
    import pandas as pd

    from .worst_set import worst_failure_set

    k = int(problem.config.failures)
    chosen = np.unique(np.asarray(chosen, dtype=np.int64))
    codes, names = pd.factorize(pd.Series(np.asarray(domains, dtype=object)).astype(str))
    codes = np.asarray(codes, dtype=np.int64)
    has_primary = np.asarray(has_primary, dtype=bool)
    near = nearest_domains(problem, chosen, codes, k + 1)
    site, ok = near.site[:, k], has_primary & (near.site[:, k] >= 0)
    ids = problem.sites["site_id"].to_numpy(dtype=object)
    pos_of = np.full(len(ids), -1, dtype=np.int64)
    pos_of[chosen] = np.arange(len(chosen))
    lat = np.where(ok, near.latency_ms[:, k], np.nan)
    inside = ok & near.within[:, k]
    columns: dict[str, Any] = {
        "domain_nk_site_id": pd.Categorical.from_codes(
            np.where(ok, pos_of[np.maximum(site, 0)], -1),
            categories=pd.Index(ids[chosen])),
        "domain_nk_latency_ms": lat,
        "domain_nk_within_budget": inside}
    pop = np.asarray(problem.population, dtype=np.float64)
    figures: dict[str, Any] = {
        "nk_failures": k,
        "nk_worst_latency_ms": float(np.nanmax(lat)) if ok.any() else float("nan"),
        "nk_population_outside_budget": float(pop[has_primary & ~inside].sum()),
        "nk_population_without_site": float(pop[has_primary & ~ok].sum()),
        "nk_worst_set_domains": None, "nk_worst_set_population_outside_budget": None,
        "nk_worst_set_upper_bound": None, "nk_worst_set_status": None}
    if k >= 2:
        worst = worst_failure_set(near.domain, near.within & has_primary[:, None], pop, k)
        figures.update({
            "nk_worst_set_domains": [str(names[d]) for d in worst.sites],
            "nk_worst_set_population_outside_budget": float(worst.population),
            "nk_worst_set_upper_bound": float(worst.upper_bound),
            "nk_worst_set_status": worst.status})
    return columns, figures
