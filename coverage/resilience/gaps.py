"""Proposed new sites for the coverage gaps no candidate can close.

A demand point is a *gap* when fewer than ``k + 1`` candidates lie within its budget (status
``single``, ``partial`` or ``uncoverable``, :func:`coverage.resilience.status.gap_mask`, the
definition :attr:`coverage.Plan.gaps` uses too): no choice of candidates makes it N-k safe. A
fewest-sites (or least-cost) plan opens all of them (the requirement is capped at ``|N_i|``);
a ``--max-sites`` plan may leave some of them closed.
:func:`propose_sites` suggests where new sites (not in the candidate list) would close those
gaps, with the same exact multicover solver: the possible locations are the gap points
themselves (binned on an equal-area grid when there are many), each gap point needs
``k + 1 - |N_i|`` more sites within its budget radius, and the fewest locations are chosen.

A location hosts one site, so an isolated gap point (no other gap location within its
radius) can get at most one proposal: it then stays single-covered, and ``still_short`` says
how many points and people are in that case. So do gap points whose access class cannot meet
the budget even at distance zero (no site anywhere helps them). ``still_short`` counts the
sites the plan opens (``n_open``: its chosen sites within budget) plus the proposals, not every
candidate in budget: a gap point whose candidates a ``--max-sites`` plan leaves closed can stay
short even where the proposals would close its gap with all candidates open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from ..inputs.tables import DEFAULT_COLOCATED_M
from ..model.aggregate import aggregate_grid
from ..model.geo import chord_from_km, unit_tree, unit_xyz
from ..model.latency import LatencyModel, Percentile
from ..model.problem import RowLatency
from ..solvers.cover import min_cover
from .status import gap_mask

logger = logging.getLogger(__name__)

__all__ = ["Proposal", "propose_sites"]

PROPOSED_COLUMNS = ("proposed_site_id", "lat", "lon", "n_demand_gained", "population_gained")


@dataclass(frozen=True)
class Proposal:
    """New sites proposed for the gaps.

    Attributes
    ----------
    sites : pandas.DataFrame
        ``proposed_site_id, lat, lon, n_demand_gained, population_gained``: one row per new
        site; the gained figures count gap points (and their people) within its budget.
    n_gap_points, population_gap : int, float
        Gap points (fewer than ``k + 1`` candidates in budget,
        :func:`~coverage.resilience.status.gap_mask`)
        and their population: the same points as :attr:`coverage.Plan.gaps`.
    n_still_short, population_still_short : int, float
        Gap points that stay below ``k + 1`` sites within budget even with the proposals,
        counting the plan's open sites (``n_open`` of :func:`propose_sites`) plus the
        proposed ones.
    status : str
        Status of the cover solve (``"optimal"``, ``"time_limit"``, ``"none"`` without gaps).
    lower_bound : float
        Proven lower bound of the proposal's cover: no set of the possible locations (the
        gap points themselves, or grid centroids above ``max_locations`` points) gives every
        helpable gap point what it can get (``k + 1`` sites, or as many as the locations in
        its reach allow) with fewer sites. Equal to the number proposed when ``status`` is
        ``"optimal"``; 0 when no gap point can be helped.
    """

    sites: pd.DataFrame
    n_gap_points: int = 0
    population_gap: float = 0.0
    n_still_short: int = 0
    population_still_short: float = 0.0
    status: str = "none"
    lower_bound: float = 0.0

    def summary(self) -> dict[str, float | int | str]:
        """The figures ``summary.json`` reports under ``proposed``."""
        return {
            "proposed_sites": int(len(self.sites)),
            "gap_points": self.n_gap_points,
            "population_gap": self.population_gap,
            "gap_points_still_short": self.n_still_short,
            "population_still_short": self.population_still_short,
            "status": self.status,
            "lower_bound": self.lower_bound,
        }


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c == "proposed_site_id" else float)
                         for c in PROPOSED_COLUMNS})


def _away_from_sites(a: sp.csr_array, chosen: npt.NDArray[np.int64],
                     loc_lat: npt.NDArray[np.float64], loc_lon: npt.NDArray[np.float64],
                     avoid_lat: npt.ArrayLike, avoid_lon: npt.ArrayLike,
                     colocated_m: float) -> npt.NDArray[np.int64]:
    """``chosen`` locations with each one within ``colocated_m`` of an existing site swapped
    for a location that is not, is not chosen, and serves every gap point it serves (its
    column of ``a`` a superset: every row keeps at least its count, so the cover stays a
    cover of the same size), the one serving the most points; kept where none exists."""
    av_lat = np.asarray(avoid_lat, dtype=np.float64)
    if not len(av_lat):
        return chosen
    tree = unit_tree(av_lat, np.asarray(avoid_lon, dtype=np.float64))
    near = tree.query_radius(unit_xyz(loc_lat, loc_lon), r=chord_from_km(colocated_m / 1000.0),
                             count_only=True) > 0
    moving = chosen[near[chosen]]
    if not len(moving):
        return chosen
    b = sp.csc_array(a, dtype=np.int32)
    size = np.diff(b.indptr)
    overlap = sp.csc_array(b.T @ b[:, moving])  # locations x moving: gap points shared
    taken = np.zeros(a.shape[1], dtype=bool)
    taken[chosen] = True
    out = chosen.copy()
    where = {int(j): i for i, j in enumerate(chosen)}
    for t, j in enumerate(moving):
        lo, hi = overlap.indptr[t], overlap.indptr[t + 1]
        rows, shared = overlap.indices[lo:hi], overlap.data[lo:hi]
        ok = rows[(shared >= size[j]) & ~near[rows] & ~taken[rows]]
        if not len(ok):
            continue
        best = int(ok[np.argmax(size[ok])])
        taken[best], taken[j] = True, False
        out[where[int(j)]] = best
    moved = int((out != chosen).sum())
    if moved:
        logger.info("%d proposed site(s) moved off the spot of an existing site (within %g m) "
                    "to a location serving the same gap points", moved, colocated_m)
    return out


def propose_sites(
    demand: pd.DataFrame,
    n_covering: np.ndarray,
    *,
    model: LatencyModel,
    budget_ms: float,
    percentile: Percentile = "p99",
    failures: int = 1,
    time_limit_s: float = 30.0,
    max_locations: int = 20_000,
    row_latency: RowLatency | None = None,
    reach_fn: Callable[..., Any] | None = None,
    n_open: npt.ArrayLike | None = None,
    avoid_lat: npt.ArrayLike | None = None,
    avoid_lon: npt.ArrayLike | None = None,
    colocated_m: float = DEFAULT_COLOCATED_M,
) -> Proposal:
    """Fewest new sites that give every gap point ``k + 1`` sites within budget.

    Parameters
    ----------
    demand : pandas.DataFrame
        Demand with ``lat``, ``lon``, ``population`` and ``access``.
    n_covering : numpy.ndarray
        Candidates within budget of each demand point (``|N_i|``).
    model, budget_ms, percentile
        Latency model and budget (a point's radius is that of its access class).
    failures : int, default 1
        Failures to tolerate (k).
    time_limit_s : float, default 30
        Time limit of the cover solve.
    max_locations : int, default 20_000
        Above this many gap points, possible locations are the population-weighted centroids
        of gap points binned on a grid of a quarter of the budget radius.
    row_latency : coverage.model.problem.RowLatency, optional
        The points' latency constants when already computed (:class:`coverage.Problem`).
    reach_fn : callable, optional
        ``reach_fn(gap_rows, loc_lat, loc_lon)`` -> the ``(len(gap_rows), n_locations)``
        sparse pattern of locations within budget of each gap point, for tiered or
        anchored pair latencies (the stage :func:`coverage.planner.stages.propose_gaps`
        passes one); default: one great-circle radius per point.
    n_open : array_like of int, optional
        Sites the plan opens (its chosen sites) within budget of each demand point, at least
        for the gap points (only those are read): the count ``still_short`` adds the
        proposals to. Default ``n_covering``: a plan that opens every candidate in budget of
        a gap point (a fewest-sites plan); a ``--max-sites`` plan passes its own (the stage
        :func:`coverage.planner.stages.propose_gaps` does).
    avoid_lat, avoid_lon : array_like, optional
        Existing sites (the candidates): a proposal within ``colocated_m`` metres of one
        would fail with it (one power or fibre cut), so such a proposal is moved to a
        location that serves every gap point it serves, when one exists away from them
        (same count, same coverage; a gap point that is itself a candidate place made the
        first proposal the candidate's own spot).
    colocated_m : float, default 300
        The distance under which two sites fail together (``--colocated-m``; 0: not
        checked).

    Returns
    -------
    Proposal
    """
    n_cov = np.asarray(n_covering, dtype=np.int64)
    opened = n_cov if n_open is None else np.asarray(n_open, dtype=np.int64)
    if row_latency is None:
        row_latency = RowLatency.from_model(model, demand["access"].to_numpy(), budget_ms,
                                            percentile)
    radius = row_latency.radius_km
    pop = demand["population"].to_numpy(dtype=np.float64)
    is_gap = gap_mask(n_cov, failures)
    n_gap, pop_gap = int(is_gap.sum()), float(pop[is_gap].sum())
    # a point whose budget is out of reach even at distance zero cannot be helped: still short
    deficit = np.where(is_gap & (radius >= 0), failures + 1 - n_cov, 0)
    gap = np.flatnonzero(deficit > 0)
    if not len(gap):
        return Proposal(_empty(), n_gap_points=n_gap, population_gap=pop_gap,
                        n_still_short=n_gap, population_still_short=pop_gap)
    g = demand.iloc[gap]
    if len(gap) > max_locations:
        cell_km = max(float(radius[gap].max()) / 4.0, 1.0)
        locs = aggregate_grid(g.assign(access="any"), cell_km).demand
    else:
        locs = g
    loc_lat = locs["lat"].to_numpy(dtype=np.float64)
    loc_lon = locs["lon"].to_numpy(dtype=np.float64)
    if reach_fn is not None:
        a = sp.csr_array(reach_fn(gap, loc_lat, loc_lon), dtype=np.int8)
        counts = np.diff(a.indptr).astype(np.int64)
    else:
        tree = unit_tree(loc_lat, loc_lon)
        ind = tree.query_radius(unit_xyz(g["lat"], g["lon"]), r=chord_from_km(radius[gap]))
        counts = np.fromiter(map(len, ind), dtype=np.int64, count=len(ind))
        indptr = np.concatenate([[0], np.cumsum(counts)])
        cols = np.concatenate(ind) if counts.sum() else np.zeros(0, dtype=np.int64)
        a = sp.csr_array((np.ones(len(cols), dtype=np.int8), cols, indptr),
                         shape=(len(gap), len(locs)))
    need = np.minimum(deficit[gap], counts)
    res = min_cover(a, need, time_limit_s=time_limit_s)
    chosen = res.sites
    if avoid_lat is not None and avoid_lon is not None and colocated_m > 0 and len(chosen):
        chosen = _away_from_sites(a, chosen, loc_lat, loc_lon, avoid_lat, avoid_lon,
                                  colocated_m)
    gained = a[:, chosen] if len(chosen) else sp.csr_array((len(gap), 0))
    n_gained = np.asarray(gained.sum(axis=0)).ravel()
    pop_gained = gained.T @ pop[gap] if len(chosen) else np.zeros(0)
    sites = pd.DataFrame({
        "proposed_site_id": [f"new-{i + 1:03d}" for i in range(len(chosen))],
        "lat": loc_lat[chosen],
        "lon": loc_lon[chosen],
        "n_demand_gained": n_gained.astype(np.int64),
        "population_gained": np.asarray(pop_gained, dtype=np.float64),
    })
    # the plan's open sites, not every candidate: a --max-sites plan leaves some closed
    have = opened[gap] + (np.asarray(gained.sum(axis=1)).ravel() if len(chosen) else 0)
    short = have < failures + 1
    n_unhelpable = n_gap - len(gap)
    logger.info("proposed %d new sites for %d gap points (%s)", len(chosen), n_gap, res.status)
    return Proposal(
        sites=sites,
        n_gap_points=n_gap,
        population_gap=pop_gap,
        n_still_short=int(short.sum()) + n_unhelpable,
        population_still_short=float(pop[gap][short].sum())
        + float(pop[is_gap & (radius < 0)].sum()),
        status=res.status,
        lower_bound=float(min(res.lower_bound, len(chosen))),
    )
