"""Whole failure domains failed in turn: where their users are rerouted, at what latency.

``failures.csv`` fails each chosen site alone and reroutes its users to the nearest
surviving chosen site (:func:`coverage.planner.stages.n_minus_1`). With failure domains
(a ``failure_domain`` column, ``--domain-radius-km``) the sites of one domain fail
together, so the users of a domain's sites go to the nearest chosen site *outside* the
domain. :func:`domain_reroute` measures that per domain, with the figures of
``failures.csv``; ``domain_failures.csv`` carries them beside the people the failure
leaves with no chosen site in budget (:func:`coverage.resilience.status.domain_safety`,
an independent computation on the reach pattern that the tests hold these figures to).

A domain of one chosen site fails as that site alone: its users' reroute is the
assignment's ``n1_*`` columns. A domain of several is one bulk nearest-site query over its
users (the chosen sites' tree, the ``|D| + 1`` nearest, the first outside the domain), or
the pair engine's lowest-latency site outside it with tiers or routing. The loop is over
the domains of several chosen sites, never over users.

With conservative aggregation (bins whose radius is shrunk by their farthest member) a
bin is served, and rerouted within budget, when the site is within its *shrunk* radius,
as the reach pattern that ``population_outside_budget`` is counted on has it (a site
within the bin's own radius reaches its centroid, not every member: review 150 found rows
that met their budget beside people outside it); every domain then takes the tree query,
single-site domains too (the assignment's ``n1_within_budget`` is the centroid's). The
latencies stay the bin centroid's, as ``failures.csv``'s, and ``population_rerouted`` can
be less than ``population_primary`` (bins whose primary reaches the centroid only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..model.geo import km_from_chord, unit_xyz

if TYPE_CHECKING:
    from ..model.problem import Problem

__all__ = ["DOMAIN_REROUTE_COLUMNS", "domain_reroute", "reroute_figures"]

DOMAIN_REROUTE_COLUMNS = (
    "n_demand_rerouted", "population_rerouted", "worst_latency_ms",
    "mean_rerouted_latency_ms", "n_demand_outside_budget", "meets_budget")
"""Columns :func:`domain_reroute` gives each domain (as ``failures.csv``'s)."""

_MAX_QUERY_ENTRIES = 4_000_000
"""Largest (users x nearest sites) block of one query of a domain of several sites."""


def domain_reroute(problem: Problem, assignment: pd.DataFrame, chosen: npt.ArrayLike,
                   domains: npt.ArrayLike) -> pd.DataFrame:
    """Each failure domain holding a chosen site failed alone: its users rerouted.

    Parameters
    ----------
    problem : Problem
        The plan's problem (its rows without an aggregation shrink describe the points,
        as in :func:`coverage.planner.stages.assign_and_fail`).
    assignment : pandas.DataFrame
        :func:`~coverage.planner.stages.assign_and_fail`'s table, one row per demand row
        of ``problem``: ``population``, ``primary_site_id`` (missing: no chosen site in
        budget, nobody to reroute), ``n1_latency_ms`` and ``n1_within_budget``.
    chosen : array_like of int
        The plan's sites (candidate positions).
    domains : array_like
        Failure domain name of every candidate.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``failure_domain`` (the domains of chosen sites, named as
        :func:`~coverage.resilience.status.domain_safety` names them), with
        :data:`DOMAIN_REROUTE_COLUMNS`: the users whose primary site is in the domain
        (``n_demand_rerouted``, ``population_rerouted``), the worst and the
        population-weighted mean latency at the nearest chosen site outside the domain
        (``NaN`` when there is none), the rerouted points left outside their budget and
        ``meets_budget`` (none is).
    """
    chosen = np.unique(np.asarray(chosen, dtype=np.int64))
    dom_codes, names = pd.factorize(pd.Series(np.asarray(domains, dtype=object)).astype(str))
    dom_codes = np.asarray(dom_codes, dtype=np.int64)
    n_names = max(len(names), 1)
    site_pos = pd.Index(problem.sites["site_id"].to_numpy(dtype=object))
    primary = site_pos.get_indexer(
        assignment["primary_site_id"].astype(object).to_numpy(dtype=object))
    shrunk = bool(problem.radius_shrink_km is not None and len(problem.radius_shrink_km)
                  and float(np.max(problem.radius_shrink_km)) > 0)
    has = primary >= 0
    if shrunk:  # a bin counts as served where its primary reaches every member
        km = assignment["primary_distance_km"].to_numpy(dtype=np.float64)
        has &= km <= problem.rows.radius_km + 1e-9
    served = np.flatnonzero(has)
    p_dom = dom_codes[primary[served]]
    pop = assignment["population"].to_numpy(dtype=np.float64)[served]
    # a domain of one chosen site: the assignment's single-site reroute
    lat = assignment["n1_latency_ms"].to_numpy(dtype=np.float64)[served].copy()
    within = assignment["n1_within_budget"].to_numpy(dtype=bool)[served].copy()
    chosen_dom = dom_codes[chosen]
    per_domain = np.bincount(chosen_dom, minlength=n_names)
    # (with shrunk radii every domain: the assignment's n1 figures are the centroid's)
    several = np.flatnonzero(per_domain >= (1 if shrunk else 2))
    if len(several):
        order = np.argsort(p_dom, kind="stable")
        start = np.searchsorted(p_dom[order], np.arange(n_names + 1))
        tree = None if problem.routed else _ChosenTree(problem, chosen)
        for d in several:
            at = order[start[d]:start[d + 1]]
            if not len(at):
                continue
            rows = served[at]
            if tree is not None:
                lat[at], within[at] = tree.outside(rows, chosen_dom, int(d),
                                                   int(per_domain[d]))
            else:
                lat[at], within[at] = _routed_outside(problem, rows,
                                                      chosen[chosen_dom != d])
    figures = reroute_figures(p_dom, n_names, pop, lat, within)
    held = np.unique(chosen_dom)
    return pd.DataFrame({c: figures[c][held] for c in DOMAIN_REROUTE_COLUMNS},
                        index=pd.Index(np.asarray(names, dtype=object)[held],
                                       name="failure_domain"))


def reroute_figures(group: npt.NDArray[np.int64], n_groups: int,
                    population: npt.NDArray[np.float64], latency_ms: npt.NDArray[np.float64],
                    within: npt.NDArray[np.bool_]) -> dict[str, npt.NDArray[Any]]:
    """The figures of users rerouted after a failure, per failed group (a site for
    ``failures.csv``, a failure domain here), by bincounts over the users' group codes.

    Parameters
    ----------
    group : numpy.ndarray of int
        Each rerouted user's group, ``0 .. n_groups - 1``.
    n_groups : int
        Groups (a group with no user gets zeros, a NaN latency and ``meets_budget``).
    population, latency_ms, within : numpy.ndarray
        Each user's people, latency at the site it is rerouted to (``NaN``: none) and
        whether that is within its budget.

    Returns
    -------
    dict
        :data:`DOMAIN_REROUTE_COLUMNS` and ``population_outside_budget`` -> one value per
        group: the worst latency (``NaN`` only when no user has one), the
        population-weighted mean over the users left a site, the users outside budget
        counted whatever their population (``meets_budget``: none is).
    """
    kept = np.isfinite(latency_ms)  # the mean is over the people left a site
    out = ~np.asarray(within, dtype=bool)

    def total(weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.bincount(group, weights=weights, minlength=n_groups).astype(np.float64)

    worst = np.full(n_groups, np.nan)
    np.fmax.at(worst, group, latency_ms)  # as a groupby max: NaN only when every value is
    pop_kept = total(np.where(kept, population, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(pop_kept > 0,
                        total(np.where(kept, latency_ms, 0.0) * population) / pop_kept,
                        np.nan)
    n_out = np.bincount(group[out], minlength=n_groups).astype(np.int64)
    return {
        "n_demand_rerouted": np.bincount(group, minlength=n_groups).astype(np.int64),
        "population_rerouted": total(population),
        "population_outside_budget": total(population * out),
        "worst_latency_ms": worst,
        "mean_rerouted_latency_ms": mean,
        "n_demand_outside_budget": n_out,
        "meets_budget": n_out == 0,
    }


class _ChosenTree:
    """The chosen sites' k-d tree (unit vectors) and the rows' latency constants, for the
    nearest chosen site outside one domain (great-circle rows)."""

    def __init__(self, problem: Problem, chosen: npt.NDArray[np.int64]) -> None:
        from scipy.spatial import cKDTree

        self.problem = problem
        self.chosen = chosen
        self.tree = cKDTree(unit_xyz(problem.site_lat[chosen], problem.site_lon[chosen]))
        self.rows = problem.rows_unshrunk  # the latency of the point (or bin centroid)
        self.radius_km = problem.rows.radius_km  # in budget: shrunk with conservative bins

    def outside(self, rows: npt.NDArray[np.int64], chosen_dom: npt.NDArray[np.int64],
                d: int, n_in: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """Latency to the nearest chosen site outside domain ``d`` (``n_in`` chosen sites)
        of every row of ``rows``, and whether it is in the row's budget."""
        p = self.problem
        k = min(n_in + 1, len(self.chosen))
        lat = np.full(len(rows), np.nan)
        within = np.zeros(len(rows), dtype=bool)
        if k <= n_in:  # every chosen site is in the domain: nowhere to go
            return lat, within
        step = max(_MAX_QUERY_ENTRIES // k, 1)
        for lo in range(0, len(rows), step):  # blocks of users, bounded memory
            r = rows[lo:lo + step]
            chord, ind = self.tree.query(unit_xyz(p.demand_lat[r], p.demand_lon[r]),
                                         k=list(range(1, k + 1)))
            other = chosen_dom[np.asarray(ind, dtype=np.int64)] != d
            first = np.argmax(other, axis=1)  # the nearest outside (one always is)
            km = km_from_chord(chord[np.arange(len(r)), first])
            lat[lo:lo + step] = self.rows.fixed_ms[r] + self.rows.ms_per_km * km
            within[lo:lo + step] = km <= self.radius_km[r] + 1e-9
        return lat, within


def _routed_outside(problem: Problem, rows: npt.NDArray[np.int64],
                    left: npt.NDArray[np.int64],
                    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """With tiers or routing: the lowest latency of ``rows`` to a site of ``left`` (the
    chosen sites outside the failed domain), and whether it is in budget."""
    if not len(left):
        return np.full(len(rows), np.nan), np.zeros(len(rows), dtype=bool)
    got: dict[str, Any] = problem.engine_unshrunk.nearest(left, k=1, rows=rows)
    site = got["site"][:, 0]
    lat = np.where(site >= 0, got["latency_ms"][:, 0], np.nan)
    return lat, (site >= 0) & got["within"][:, 0]
