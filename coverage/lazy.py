"""Row generation for national inputs: solve the cover without the full reach matrix.

At national scale the reach matrix does not fit in memory (1M cells x 3,400 sites at 592 km
is about 524 million pairs). The set multicover only needs the rows that bind, so:

1. one count-only radius query gives ``|N_i|`` for every cell (hence its requirement
   ``r_i = min(k + 1, |N_i|)``), without storing pairs;
2. the full rows of a seed set are fetched: every cell with ``|N_i| <= k + 1`` (they force
   sites) and the cells with the fewest candidates (the most constraining);
3. :func:`coverage.optimize.min_cover` solves the cover on the rows held so far;
4. a streaming pass counts, for every cell, the chosen sites within its radius (a radius
   query against a tree of the few chosen sites); cells below their requirement are
   violated: their rows are fetched and added, and the solve repeats.

When no cell is violated, the plan is feasible for all cells and optimal for a relaxation
that contains a subset of the rows, hence optimal for the full problem (when each solve was
proven optimal; otherwise the last solve's bound is still a valid lower bound).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.neighbors import BallTree

from .geo import chord_from_km, unit_xyz
from .latency import LatencyModel, Percentile
from .optimize import CoverResult, greedy_cover, min_cover
from .reach import build_reach

logger = logging.getLogger(__name__)

__all__ = ["LazyCoverResult", "count_within", "lazy_cover", "swap_repair"]


@dataclass(frozen=True)
class LazyCoverResult:
    """Result of :func:`lazy_cover`: the cover plus what the row generation did."""

    cover: CoverResult
    n_covering: npt.NDArray[np.int64]
    rounds: list[dict[str, float]] = field(default_factory=list)
    rows_fetched: int = 0
    pairs_fetched: int = 0
    count_s: float = 0.0


def count_within(
    tree: BallTree,
    points_xyz: npt.NDArray[np.float64],
    radius_km: npt.NDArray[np.float64],
    chunk_rows: int = 200_000,
) -> npt.NDArray[np.int64]:
    """Number of tree points within each query point's own great-circle radius.

    ``tree`` is a Euclidean tree on :func:`coverage.geo.unit_xyz` vectors and
    ``points_xyz`` the query points as unit vectors; radii are converted to chord lengths.
    Points are grouped by radius (one group per access class), so each group is one bulk
    count-only query per chunk.
    """
    n = points_xyz.shape[0]
    out = np.zeros(n, dtype=np.int64)
    for radius in np.unique(radius_km):
        if radius < 0:
            continue
        idx = np.flatnonzero(radius_km == radius)
        for start in range(0, len(idx), chunk_rows):
            part = idx[start:start + chunk_rows]
            out[part] = tree.query_radius(points_xyz[part], r=float(chord_from_km(radius)),
                                          count_only=True)
    return out


def swap_repair(
    a: sp.csr_array,
    req: npt.NDArray[np.int64],
    sites: npt.NDArray[np.int64],
    fixed: npt.NDArray[np.bool_] | None = None,
    max_swaps: int = 20,
) -> npt.NDArray[np.int64] | None:
    """Make ``sites`` meet every row of ``a`` by single swaps, keeping the site count.

    Each step applies the swap (close one open site, open one closed site) that most reduces
    the total shortfall ``sum_i max(0, req_i - open sites in row i)``; all swaps are evaluated
    with one pass over the matrix per open site.

    Returns
    -------
    numpy.ndarray or None
        A site set of the same size with no shortfall, or None when none was found.
    """
    n, m = a.shape
    is_open = np.zeros(m, dtype=bool)
    is_open[sites] = True
    fixed = np.zeros(m, dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool)
    row = np.repeat(np.arange(n), np.diff(a.indptr))
    ac = sp.csc_array(a)
    for _ in range(max_swaps):
        count = a @ is_open.astype(np.int64)
        short = np.maximum(req - count, 0)
        total = int(short.sum())
        if total == 0:
            return np.flatnonzero(is_open)
        best = (total, -1, -1)
        for j in np.flatnonzero(is_open & ~fixed):
            rows_j = ac.indices[ac.indptr[j]:ac.indptr[j + 1]]
            short_j = short.copy()
            short_j[rows_j] = np.maximum(req[rows_j] - (count[rows_j] - 1), 0)
            gain = np.bincount(a.indices, weights=(short_j > 0)[row], minlength=m)
            gain[is_open] = -1
            k = int(np.argmax(gain))
            after = int(short_j.sum()) - int(gain[k])
            if gain[k] > 0 and after < best[0]:
                best = (after, int(j), k)
        if best[1] < 0:
            return None
        is_open[best[1]] = False
        is_open[best[2]] = True
    count = a @ is_open.astype(np.int64)
    return np.flatnonzero(is_open) if np.all(count >= req) else None


def lazy_cover(
    demand_lat_deg: npt.ArrayLike,
    demand_lon_deg: npt.ArrayLike,
    site_lat_deg: npt.ArrayLike,
    site_lon_deg: npt.ArrayLike,
    *,
    model: LatencyModel,
    budget_ms: float,
    access: npt.ArrayLike,
    percentile: Percentile = "p99",
    failures: int = 1,
    cost: npt.ArrayLike | None = None,
    required: npt.ArrayLike | None = None,
    time_limit_s: float = 300.0,
    seed_rows: int = 20_000,
    max_rows_per_round: int = 50_000,
    max_rounds: int = 50,
    swap_rounds: int = 5,
    at_risk_rows: int = 10_000,
) -> LazyCoverResult:
    """Minimum-site ``min(k+1, |N_i|)``-cover by row generation (see the module notes).

    Parameters
    ----------
    demand_lat_deg, demand_lon_deg, site_lat_deg, site_lon_deg : array_like
        Coordinates, degrees.
    model, budget_ms, access, percentile
        As in :func:`coverage.reach.build_reach`; ``access`` has one label per demand point.
    failures : int, default 1
        Failures to tolerate (k).
    cost, required : array_like, optional
        Per-site cost and must-open mask, as in :func:`coverage.optimize.min_cover`.
    time_limit_s : float, default 300
        Time limit for all solves together, s.
    seed_rows : int, default 20_000
        Cells with the fewest candidates whose rows seed the model.
    max_rows_per_round : int, default 50_000
        Violated rows added per round at most (those with the fewest candidates first).
    max_rounds : int, default 50
        Safety cap on the number of rounds.
    swap_rounds : int, default 5
        After a proven-optimal round with violated cells, up to this many swap repairs
        (:func:`swap_repair`, same site count) are tried before the next MILP round.
    at_risk_rows : int, default 10_000
        Cells exactly at their requirement under the current plan (fewest candidates first)
        added per round besides the violated ones.

    Returns
    -------
    LazyCoverResult
    """
    t0 = time.perf_counter()
    deadline = t0 + float(time_limit_s)
    d_lat = np.asarray(demand_lat_deg, dtype=np.float64)
    d_lon = np.asarray(demand_lon_deg, dtype=np.float64)
    s_lat = np.asarray(site_lat_deg, dtype=np.float64)
    s_lon = np.asarray(site_lon_deg, dtype=np.float64)
    access = np.asarray(access, dtype=object).astype(str)
    n = len(d_lat)
    row_radius = model.radius_km_array(budget_ms, access, percentile)
    pts = unit_xyz(d_lat, d_lon)
    site_tree = BallTree(unit_xyz(s_lat, s_lon))
    t = time.perf_counter()
    n_cov = count_within(site_tree, pts, row_radius)
    count_s = time.perf_counter() - t
    req = np.minimum(failures + 1, n_cov)
    logger.info("lazy cover: counted %s pairs for %s cells in %.1f s",
                f"{int(n_cov.sum()):,}", f"{n:,}", count_s)

    held = np.zeros(n, dtype=bool)
    blocks: list[sp.csr_array] = []
    held_rows: list[npt.NDArray[np.int64]] = []
    pairs = 0

    def fetch(rows: npt.NDArray[np.int64]) -> None:
        nonlocal pairs
        rows = rows[~held[rows]]
        if not len(rows):
            return
        reach = build_reach(d_lat[rows], d_lon[rows], s_lat, s_lon, model=model,
                            budget_ms=budget_ms, access=access[rows], percentile=percentile)
        blocks.append(reach.boolean())
        held_rows.append(rows)
        held[rows] = True
        pairs += reach.nnz

    coverable = np.flatnonzero(n_cov > 0)
    tight = coverable[n_cov[coverable] <= failures + 1]
    order = coverable[np.argsort(n_cov[coverable], kind="stable")]
    fetch(np.union1d(tight, order[:seed_rows]))
    rng = np.random.default_rng(0)
    if len(coverable) > seed_rows:
        fetch(rng.choice(coverable, size=min(seed_rows // 4, len(coverable)), replace=False))
    rounds: list[dict[str, float]] = []
    cover: CoverResult | None = None
    best_lower = 0.0
    repair = False
    for round_no in range(1, max_rounds + 1):
        a = sp.csr_array(sp.vstack(blocks, format="csr"))
        rows = np.concatenate(held_rows)
        t = time.perf_counter()
        remaining = deadline - time.perf_counter()
        if cover is None or (not repair and remaining > 1.0):
            cover = min_cover(a, req[rows], cost=cost, required=required,
                              time_limit_s=max(remaining, 1.0))
            # every round solves a relaxation of the full problem: its bound is valid
            best_lower = max(best_lower, cover.lower_bound)
        else:
            # out of time: keep the last plan and add sites greedily until it covers
            repair = True
            sites = greedy_cover(a, req[rows], cost=cost, required=required, start=cover.sites)
            c = np.ones(a.shape[1]) if cost is None else np.asarray(cost, dtype=np.float64)
            objective = float(c[sites].sum())
            cover = CoverResult(sites, objective, best_lower, "time_limit",
                                (objective - best_lower) / objective if objective else 0.0,
                                cover.solve_time_s, cover.reductions)
        solve_s = time.perf_counter() - t
        t = time.perf_counter()
        chosen_tree = BallTree(unit_xyz(s_lat[cover.sites], s_lon[cover.sites]))
        have = count_within(chosen_tree, pts, row_radius)
        violated = np.flatnonzero(have < req)
        check_s = time.perf_counter() - t
        rounds.append({"round": round_no, "rows_held": int(held.sum()),
                       "sites": float(cover.objective), "lower_bound": float(best_lower),
                       "status": cover.status, "violated": int(len(violated)),
                       "solve_s": solve_s, "check_s": check_s})
        logger.info("lazy cover round %d: %d rows held, %g sites (%s, bound %g), %d cells "
                    "violated", round_no, int(held.sum()), cover.objective, cover.status,
                    best_lower, len(violated))
        if not len(violated):
            break
        if np.all(held[violated]) and not repair:  # cannot happen with an exact cover
            raise RuntimeError("lazy cover: a held row is violated by its own solution")
        violated = violated[~held[violated]]
        violated = violated[np.argsort(n_cov[violated], kind="stable")][:max_rows_per_round]
        # cells exactly at their requirement are the next plan's likely violations: add the
        # most constrained of them too, so fewer rounds are needed
        at_risk = np.flatnonzero((have == req) & ~held)
        at_risk = at_risk[np.argsort(n_cov[at_risk], kind="stable")][:at_risk_rows]
        fetch(np.union1d(violated, at_risk))
        # before another MILP round, try to fix the plan by swaps at the same site count:
        # with a proven-optimal count that gives an optimal plan if it covers every cell
        for _ in range(swap_rounds if cover.status == "optimal" else 0):
            a = sp.csr_array(sp.vstack(blocks, format="csr"))
            rows = np.concatenate(held_rows)
            fixed_mask = None if required is None else np.asarray(required, dtype=bool)
            swapped = swap_repair(a, req[rows], cover.sites, fixed_mask) if cost is None \
                else None
            if swapped is None:
                break
            tree = BallTree(unit_xyz(s_lat[swapped], s_lon[swapped]))
            still = np.flatnonzero(count_within(tree, pts, row_radius) < req)
            logger.info("lazy cover: swap repair leaves %d cells violated", len(still))
            cover = CoverResult(np.sort(swapped), cover.objective, cover.lower_bound,
                                cover.status, cover.mip_gap, cover.solve_time_s,
                                cover.reductions)
            if not len(still):
                violated = still
                break
            fetch(still[np.argsort(n_cov[still], kind="stable")][:max_rows_per_round])
        else:
            continue
        if not len(violated):
            rounds.append({"round": round_no, "rows_held": int(held.sum()),
                           "sites": float(cover.objective), "lower_bound": float(best_lower),
                           "status": "swap_repair", "violated": 0, "solve_s": 0.0,
                           "check_s": 0.0})
            break
    else:
        raise RuntimeError(f"lazy cover did not converge in {max_rounds} rounds")
    assert cover is not None
    # the final plan covers every cell; it is optimal when it meets the best relaxation bound
    lower = min(best_lower, cover.objective)
    status = "optimal" if cover.objective <= lower + 1e-9 else "time_limit"
    cover = CoverResult(cover.sites, cover.objective, lower, status,
                        (cover.objective - lower) / cover.objective if cover.objective else 0.0,
                        time.perf_counter() - t0, cover.reductions)
    assert cover is not None
    return LazyCoverResult(cover=cover, n_covering=n_cov, rounds=rounds,
                           rows_fetched=int(held.sum()), pairs_fetched=int(pairs),
                           count_s=count_s)
