"""Row generation for national inputs: solve the cover without the full reach matrix.

At national scale the reach matrix does not fit in memory (1M cells x 3,400 sites at 592 km
is about 524 million pairs). The set multicover only needs the rows that bind, so:

1. one count gives ``|N_i|`` for every cell (hence its requirement
   ``r_i = min(k + 1, |N_i|)``), without storing pairs
   (:class:`coverage.model.geo.BinnedPoints`: the cells binned once with their radii, only
   the sites near a bin's edge tested cell by cell);
2. the full rows of a seed set are fetched: every cell with ``|N_i| <= k + 1`` (they force
   sites), the cells with the fewest candidates (the most constraining), and the most
   constrained cell of every cube of edge radius/16 (so that every region is represented:
   a plan that satisfies the seed rarely leaves a far-away cell short);
3. :func:`coverage.solvers.cover.min_cover` solves the cover on the rows held so far;
4. a count of the chosen sites within every cell's radius (the same binned count); cells
   below their requirement are violated (with failure domains, ``domain_codes``, also the
   cells whose chosen sites lie in too few domains; a fetched row brings its domains'
   rows): their rows are fetched and added, and the solve repeats.

5. meanwhile the round's plan is repaired greedily on the rows held (plus the new ones) and
   checked against every cell; a plan that covers every cell is an upper bound (incumbent).

6. with unit costs, when the rounds end at the time limit, a row-weighting local search
   on the rows held (:func:`coverage.solvers.cover_search.row_weighting_search`) looks for
   a smaller plan than the incumbent; each one it finds is checked against every cell.

Every round's model is a relaxation of the full problem (a subset of its rows), so its proven
bound is a valid lower bound. When a round's plan violates no cell it is feasible for all
cells and optimal; otherwise the search stops when the incumbent meets the bound or time
runs out, and returns the incumbent with the best bound (``status`` ``time_limit``).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..model.geo import (
    REACH_EPS_KM,
    BinnedPoints,
    chord_from_km,
    count_within,
    unit_tree,
    unit_xyz,
)
from ..model.latency import LatencyModel, Percentile
from ..model.problem import RowLatency
from .cover import (
    CoverResult,
    drop_dominated_rows,
    greedy_cover,
    merge_identical_rows,
    min_cover,
    swap_descent,
)
from .cover_search import row_weighting_search
from .domain_rows import (
    DomainRowsTooLarge,
    domain_row_entries,
    domain_rows,
    domain_short,
    row_domains,
)
from .matrix_args import required_mask

logger = logging.getLogger(__name__)

__all__ = ["LazyCoverResult", "count_within", "fewest_within_pairs", "lazy_cover"]


@dataclass(frozen=True)
class LazyCoverResult:
    """Result of :func:`lazy_cover`: the cover plus what the row generation did."""

    cover: CoverResult
    n_covering: npt.NDArray[np.int64]
    rounds: list[dict[str, float]] = field(default_factory=list)
    rows_fetched: int = 0
    pairs_fetched: int = 0
    count_s: float = 0.0


def _cube_keys(points_xyz: npt.NDArray[np.float64], bin_km: float) -> npt.NDArray[np.int64]:
    """Every unit vector's cube of edge ``bin_km`` (as a chord) in a grid over
    ``[-1, 1]^3``, as one integer (no projection: a few vector operations a point)."""
    edge = max(float(chord_from_km(bin_km)), 2.0 ** -20)
    n = int(np.ceil(2.0 / edge)) + 1
    q = np.floor((np.asarray(points_xyz, dtype=np.float64) + 1.0) / edge).astype(np.int64)
    np.clip(q, 0, n - 1, out=q)
    return q[:, 0] + n * (q[:, 1] + n * q[:, 2])


#: Most (cell, candidate) pairs the seed of a row generation fetches (the rows with the
#: fewest candidates, then one per spatial bin, each part capped): at wide budgets every
#: cell has hundreds or thousands of candidates in budget, and 20,000 seed rows of a
#: 993k-cell grid with 7,635 candidates were 153M pairs (34 s) for a 2-site plan.
SEED_MAX_PAIRS = 4_000_000


def fewest_within_pairs(cells: npt.NDArray[np.int64], n_cov: npt.NDArray[np.int64],
                        max_pairs: int, *, first: int = 0) -> npt.NDArray[np.int64]:
    """The rows of ``cells`` to hold within ``max_pairs`` (cell, candidate) pairs: the
    first ``first`` of them (e.g. the short cells) before the others, each group by fewest
    candidates (``n_cov``) first, as many as fit (at least one)."""
    if not len(cells):
        return cells
    size = n_cov[cells]
    order = np.lexsort((size, np.arange(len(cells)) >= first))
    keep = np.cumsum(size[order]) <= max_pairs
    keep[0] = True
    return cells[order[keep]]


def _per_bin_min(
    cells: npt.NDArray[np.int64],
    bin_key: npt.NDArray[np.int64],
    n_cov: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Of ``cells``, the one with the fewest candidates (then the first) in each bin
    (``bin_key`` of every cell, :func:`_cube_keys`)."""
    if not len(cells):
        return cells
    key = bin_key[cells]
    n = n_cov[cells]
    span = int(n.max()) + 1
    if int(key.max()) < (1 << 62) // span:  # one int64 sort key
        order = np.argsort(key * span + n, kind="stable")
    else:
        order = np.lexsort((n, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    return cells[order[first]]


def _one_swap(
    pool: sp.csr_array,
    need: npt.NDArray[np.int64],
    sites: npt.NDArray[np.int64],
    cost: npt.NDArray[np.float64],
    keep: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.int64] | None:
    """A plan of the same size and no higher cost that meets every row of ``pool``, made from
    ``sites`` by closing one site and opening another, or ``None``.

    Rows short by one need the new site; so do the rows exactly at their requirement that
    contain the closed site (closing it would leave them short); rows short by more cannot
    be fixed by one swap, nor by closing a site they contain. Every pair is checked at once
    per closed site: the new site must be in every such row (a column count). Sites in
    ``keep`` (required) are never closed.
    """
    open_mask = np.zeros(pool.shape[1], dtype=bool)
    open_mask[sites] = True
    have = pool @ open_mask.astype(np.int64)
    short = need - have
    if (short > 1).any() or not (short > 0).any():
        return None
    short_rows = np.flatnonzero(short == 1)
    csc = sp.csc_array(pool)
    in_short = np.zeros(pool.shape[0], dtype=bool)
    in_short[short_rows] = True
    tight = (short == 0) & (need > 0)
    # sites in every short row: candidates to open
    fits = np.asarray(pool[short_rows].sum(axis=0)).ravel() == len(short_rows)
    fits &= ~open_mask
    if not fits.any():
        return None
    for j in sites[np.argsort(-cost[sites], kind="stable")]:
        if keep is not None and keep[j]:
            continue
        rows_j = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        if in_short[rows_j].any():
            continue  # closing j leaves a short row shorter
        t = rows_j[tight[rows_j]]
        ok = fits & (cost <= cost[j] + 1e-12)
        if len(t):
            ok &= np.asarray(pool[t].sum(axis=0)).ravel() == len(t)
        if ok.any():
            k = int(np.flatnonzero(ok)[0])
            return np.sort(np.append(sites[sites != j], k)).astype(np.int64)
    return None


def _swap_descent(
    pool: sp.csr_array,
    need: npt.NDArray[np.int64],
    sites: npt.NDArray[np.int64],
    cost: npt.NDArray[np.float64],
    keep: npt.NDArray[np.bool_] | None = None,
    max_swaps: int = 50,
) -> npt.NDArray[np.int64] | None:
    """A plan of the same size and no higher cost that meets every row of ``pool``, made from
    ``sites`` by a sequence of swaps (:func:`coverage.solvers.cover.swap_descent`), or
    ``None``. Sites in ``keep`` (required) are never closed."""
    x = np.zeros(pool.shape[1], dtype=bool)
    x[sites] = True
    x = swap_descent(pool, need, cost, x, keep, max_swaps)
    have = sp.csr_array(pool, dtype=np.int64) @ x.astype(np.int64)
    return np.flatnonzero(x).astype(np.int64) if (have >= need).all() else None


def _exact_hits(pts: npt.NDArray[np.float64], site_xyz: npt.NDArray[np.float64],
                at: npt.NDArray[np.int64], col: npt.NDArray[np.int64],
                chord: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Which (point ``at``, site ``col``) pairs lie within the point's chord: the exact test
    of :meth:`coverage.model.geo.BinnedPoints.count` (point minus site, squared, against the
    squared chord), so that a fetched row holds exactly the candidates it was counted with
    (a tree's node shortcuts could decide a pair on the radius otherwise)."""
    dx = pts[at, 0] - site_xyz[col, 0]
    dy = pts[at, 1] - site_xyz[col, 1]
    dz = pts[at, 2] - site_xyz[col, 2]
    return dx * dx + dy * dy + dz * dz <= (chord * chord)[at]


def _within_by_row(pts: npt.NDArray[np.float64], chord: npt.NDArray[np.float64],
                   site_xyz: npt.NDArray[np.float64], site_tree: Any) -> sp.csr_array:
    """Boolean ``(len(pts), len(site_xyz))`` pattern of the sites within every point's chord:
    one radius query per point on the sites' tree (a slightly wider one, then
    :func:`_exact_hits`); sorted indices."""
    ind = site_tree.query_radius(pts, r=chord * (1.0 + 1e-9) + 1e-12)
    n_got = np.fromiter(map(len, ind), dtype=np.int64, count=len(ind))
    indptr = np.zeros(len(pts) + 1, dtype=np.int64)
    if not n_got.sum():
        return sp.csr_array((np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64), indptr),
                            shape=(len(pts), len(site_xyz)))
    col = np.concatenate(ind).astype(np.int64)
    at = np.repeat(np.arange(len(pts)), n_got)
    hit = _exact_hits(pts, site_xyz, at, col, chord)
    np.cumsum(np.bincount(at[hit], minlength=len(pts)), out=indptr[1:])
    out = sp.csr_array((np.ones(int(hit.sum()), dtype=bool), col[hit], indptr),
                       shape=(len(pts), len(site_xyz)))
    out.has_sorted_indices = False
    out.sort_indices()
    return out


#: Radius bands of :func:`_within_by_site`: the chords are cut into this many equal intervals
#: up to the largest, and the points of each interval share one query radius (its largest).
SITE_MAJOR_BANDS = 8


def _within_by_site(pts: npt.NDArray[np.float64], chord: npt.NDArray[np.float64],
                    site_xyz: npt.NDArray[np.float64]) -> sp.csr_array:
    """As :func:`_within_by_row`, queried the other way round: a tree on the points, one
    radius query per site (far fewer and longer answer lists than one per point when the
    points outnumber the sites). The points are split into :data:`SITE_MAJOR_BANDS` bands
    of chord, each queried at its largest chord and then tested exactly
    (:func:`_exact_hits`), so that a few long radii do not widen every query; each band's
    site-major lists transpose to rows (a counting sort: sorted indices)."""
    from sklearn.neighbors import BallTree

    n, n_sites = len(pts), len(site_xyz)
    top = float(chord.max(initial=0.0))
    band = (np.minimum((chord * (SITE_MAJOR_BANDS / top)).astype(np.int64),
                       SITE_MAJOR_BANDS - 1) if top > 0 else np.zeros(n, dtype=np.int64))
    parts, order = [], []
    for q in np.unique(band):
        idx = np.flatnonzero(band == q)
        p, c = pts[idx], chord[idx]
        ind = BallTree(p).query_radius(site_xyz, r=float(c.max()) * (1.0 + 1e-9) + 1e-12)
        n_got = np.fromiter(map(len, ind), dtype=np.int64, count=n_sites)
        at = (np.concatenate(ind).astype(np.int64) if n_got.sum()
              else np.zeros(0, dtype=np.int64))
        col = np.repeat(np.arange(n_sites), n_got)
        hit = _exact_hits(p, site_xyz, at, col, c)
        indptr = np.zeros(n_sites + 1, dtype=np.int64)
        np.cumsum(np.bincount(col[hit], minlength=n_sites), out=indptr[1:])
        by_site = sp.csc_array((np.ones(int(hit.sum()), dtype=bool), at[hit], indptr),
                               shape=(len(idx), n_sites))
        parts.append(sp.csr_array(by_site.tocsr()))
        order.append(idx)
    if len(parts) == 1:
        out = parts[0]
    else:  # the bands' rows back in the points' order
        out = sp.csr_array(sp.csr_array(sp.vstack(parts, format="csr"))[
            np.argsort(np.concatenate(order), kind="stable")])
    out.sort_indices()
    return out


@dataclass
class RowSource:
    """Where row generation gets its rows: the pairs within budget of any demand rows, and
    counts of them, without the whole reach matrix.

    Either one great-circle radius per row (``row_latency``) or tiered / anchored pair
    latencies (``engine``, :class:`coverage.model.routing.PairEngine`).

    Parameters
    ----------
    demand_lat_deg, demand_lon_deg, site_lat_deg, site_lon_deg : numpy.ndarray
        Coordinates, degrees.
    model : LatencyModel
        The latency model.
    budget_ms : float
        Budget, ms.
    percentile : {"p99", "p50"}
        Percentile the budget is checked at.
    row_latency : RowLatency
        Every row's latency constants (radius per row).
    engine : coverage.model.routing.PairEngine, optional
        Tiered or anchored latencies: counts and rows come from it.
    """

    demand_lat_deg: npt.NDArray[np.float64]
    demand_lon_deg: npt.NDArray[np.float64]
    site_lat_deg: npt.NDArray[np.float64]
    site_lon_deg: npt.NDArray[np.float64]
    model: LatencyModel
    budget_ms: float
    percentile: Percentile
    row_latency: RowLatency
    engine: Any = None

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_demand, n_sites)``."""
        return len(self.demand_lat_deg), len(self.site_lat_deg)

    @cached_property
    def points_xyz(self) -> npt.NDArray[np.float64]:
        """Demand points on the unit sphere."""
        return unit_xyz(self.demand_lat_deg, self.demand_lon_deg)

    @cached_property
    def site_xyz(self) -> npt.NDArray[np.float64]:
        """Candidates on the unit sphere."""
        return unit_xyz(self.site_lat_deg, self.site_lon_deg)

    #: Rows per radius query of :meth:`rows` (bounds the query's transient lists).
    query_rows: ClassVar[int] = 100_000

    @cached_property
    def site_tree(self) -> Any:
        """The candidates' tree (:func:`coverage.model.geo.unit_tree`), built once."""
        return unit_tree(self.site_lat_deg, self.site_lon_deg)

    @cached_property
    def binned(self) -> BinnedPoints:
        """The demand points binned with their radii, built at the first great-circle
        count (:class:`coverage.model.geo.BinnedPoints`)."""
        return BinnedPoints.from_km(self.points_xyz, self.row_latency.radius_km)

    def count(self, sites: npt.ArrayLike | None = None) -> npt.NDArray[np.int64]:
        """Candidates (of ``sites``, default all) within budget of every row.

        Great-circle radii: :meth:`coverage.model.geo.BinnedPoints.count` on the points
        binned once (:attr:`binned`), equal to :func:`coverage.model.geo.count_within`.
        """
        if self.engine is not None:
            return self.engine.count(sites=sites)
        s = (np.arange(self.shape[1]) if sites is None
             else np.asarray(sites, dtype=np.int64))
        if not len(s):
            return np.zeros(self.shape[0], dtype=np.int64)
        return self.binned.count(self.site_xyz[s])

    def rows(self, rows: npt.ArrayLike, sites: npt.ArrayLike | None = None) -> sp.csr_array:
        """Boolean ``(len(rows), n_sites)`` pattern of the pairs within budget of ``rows``
        (in that order), with candidates of ``sites`` only when given (column indices stay
        those of every candidate); sorted indices."""
        r = np.asarray(rows, dtype=np.int64)
        n_sites = self.shape[1]
        s = None if sites is None else np.asarray(sites, dtype=np.int64)
        if s is not None and not len(s):
            return sp.csr_array((len(r), n_sites), dtype=bool)
        if self.engine is not None:
            rowpos, cols, _, _ = self.engine.pairs(r, sites=s)
            out = sp.csr_array((np.ones(len(cols), dtype=bool), (rowpos, cols)),
                               shape=(len(r), n_sites))
        else:
            # the pairs within every row's own chord radius, the arithmetic of count(): a
            # row holds exactly the candidates it was counted with
            radius = self.row_latency.radius_km[r]
            live = np.flatnonzero(radius >= 0)
            chord = chord_from_km(radius[live] + REACH_EPS_KM)
            site_xyz = self.site_xyz if s is None else self.site_xyz[s]
            blocks, tree = [], None
            for start in range(0, len(live), self.query_rows):
                part = slice(start, start + self.query_rows)
                pts = self.points_xyz[r[live[part]]]
                if len(pts) >= len(site_xyz):  # many rows, few candidates: candidate-major
                    blocks.append(_within_by_site(pts, chord[part], site_xyz))
                    continue
                if tree is None:
                    tree = self.site_tree if s is None else unit_tree(self.site_lat_deg[s],
                                                                      self.site_lon_deg[s])
                blocks.append(_within_by_row(pts, chord[part], site_xyz, tree))
            block = (sp.csr_array(sp.vstack(blocks, format="csr")) if len(blocks) > 1
                     else blocks[0] if blocks else sp.csr_array((0, len(site_xyz)), dtype=bool))
            counts = np.zeros(len(r), dtype=np.int64)
            counts[live] = np.diff(block.indptr)
            indptr = np.zeros(len(r) + 1, dtype=np.int64)
            np.cumsum(counts, out=indptr[1:])
            cols = block.indices.astype(np.int64)
            if s is not None:
                cols = s[cols]  # s need not be sorted: sort_indices below
            out = sp.csr_array((np.ones(len(cols), dtype=bool), cols, indptr),
                               shape=(len(r), n_sites))
            if s is None or bool(np.all(np.diff(s) > 0)):
                out.has_sorted_indices = True
                return out
        out.sum_duplicates()
        out.sort_indices()
        return out


class RowPool:
    """The rows held by row generation, identical ones merged (largest requirement kept):
    the cover model's input.

    Parameters
    ----------
    source : RowSource
        Where rows come from.
    requirement : numpy.ndarray
        Every row's requirement.
    n_covering : numpy.ndarray
        Every row's candidate count (batches rows by pairs).
    fetch_pairs : int
        Rows are fetched in batches of about this many pairs, merged after each batch.
    domain_codes : numpy.ndarray, optional
        Failure domain code of every candidate: each fetched row comes with its failure
        domains' rows (:func:`coverage.solvers.domain_rows.domain_rows`, ``failures``),
        and :attr:`n_domains` records the row's domains in budget.
    failures : int
        k (with ``domain_codes``).
    max_domain_entries : float
        Entries the domains' rows may hold in all; a fetch that would pass it raises
        :class:`~coverage.solvers.domain_rows.DomainRowsTooLarge` (review 147: 59.6M
        entries, 4.3 GB, for 15,445 pairs of 200 dense points at N-3).
    """

    def __init__(self, source: RowSource, requirement: npt.NDArray[np.int64],
                 n_covering: npt.NDArray[np.int64], fetch_pairs: int = 4_000_000, *,
                 domain_codes: npt.NDArray[np.int64] | None = None,
                 failures: int = 0, max_domain_entries: float = math.inf) -> None:
        self.source = source
        self.domain_codes = domain_codes
        self.max_domain_entries = float(max_domain_entries)
        self.domain_entries = 0
        self.failures = int(failures)
        self.n_domains = np.full(len(requirement), -1, dtype=np.int64)
        """Every row's failure domains in budget (``-1``: not known yet)."""
        self.requirement = np.asarray(requirement, dtype=np.int64)
        self.n_covering = np.asarray(n_covering, dtype=np.int64)
        self.fetch_pairs = max(int(fetch_pairs), 1)
        self.held = np.zeros(len(self.requirement), dtype=bool)
        self.pool = sp.csr_array((0, source.shape[1]), dtype=np.int8)
        self.pool_req = np.zeros(0, dtype=np.int64)
        self.pairs = 0
        self._rng = np.random.default_rng(0)
        self._bin_key: tuple[float, npt.NDArray[np.int64]] | None = None

    def fetch(self, rows: npt.ArrayLike) -> None:
        """Add ``rows`` not held yet."""
        rows = np.asarray(rows, dtype=np.int64)
        rows = rows[~self.held[rows]]
        if not len(rows):
            return
        # batches of about fetch_pairs pairs (|N_i| is known); the batches waiting are
        # merged into the pool once they hold as many pairs as the pool (identical rows
        # collapse while memory stays within twice the pool, and the stacking is amortised
        # linear: merging after every batch re-stacked the whole pool each time, 5.5 of the
        # 9.6 s of fetching a 187k-row, 80M-pair seed; hand measurement)
        batch_of = np.cumsum(self.n_covering[rows]) // self.fetch_pairs
        cuts = np.flatnonzero(np.diff(batch_of)) + 1
        waiting: list[tuple[sp.csr_array, npt.NDArray[np.int64]]] = []
        waiting_pairs = 0
        for batch in np.split(rows, cuts):
            block = self.source.rows(batch)
            self.held[batch] = True
            self.pairs += block.nnz
            waiting.append((block.astype(np.int8), self.requirement[batch]))
            waiting_pairs += block.nnz
            if self.domain_codes is not None and self.failures >= 1:
                self.n_domains[batch] = row_domains(block, self.domain_codes)
                bound = domain_row_entries(block, self.domain_codes, self.failures)
                if self.domain_entries + bound > self.max_domain_entries:
                    raise DomainRowsTooLarge(
                        f"the failure domains' rows would hold about "
                        f"{self.domain_entries + bound:,.0f} entries, above "
                        f"{self.max_domain_entries:,.0f}")
                extra = domain_rows(block, self.domain_codes, self.failures)
                self.domain_entries += extra.matrix.nnz
                waiting.append((extra.matrix.astype(np.int8), extra.requirement))
                waiting_pairs += extra.matrix.nnz
            if waiting_pairs >= max(self.pool.nnz, self.fetch_pairs):
                self._merge(waiting)
                waiting, waiting_pairs = [], 0
        if waiting:
            self._merge(waiting)

    def _merge(self, blocks: list[tuple[sp.csr_array, npt.NDArray[np.int64]]]) -> None:
        """Stack ``blocks`` (rows and their requirements) under the pool and merge
        identical rows."""
        stacked = sp.csr_array(sp.vstack([self.pool] + [b for b, _ in blocks], format="csr"))
        self.pool, self.pool_req = merge_identical_rows(
            stacked, np.concatenate([self.pool_req] + [r for _, r in blocks]), self._rng)

    def bin_key(self, bin_km: float) -> npt.NDArray[np.int64]:
        """Every row's spatial bin (cubes of edge ``bin_km``), computed once per size."""
        if self._bin_key is None or self._bin_key[0] != bin_km:
            self._bin_key = (bin_km, _cube_keys(self.source.points_xyz, bin_km))
        return self._bin_key[1]

    def seed(self, failures: int, seed_rows: int, bin_km: float, spread: bool) -> None:
        """Fetch the seed rows: every row with ``|N_i| <= k + 1``, the ``seed_rows`` rows
        with the fewest candidates, and the most constrained row of every ``bin_km`` cube
        (``spread``) or a random sample of ``seed_rows // 4`` rows; each of the last two
        parts at most :data:`SEED_MAX_PAIRS` pairs (fewest candidates first)."""
        n_cov = self.n_covering
        coverable = np.flatnonzero(n_cov > 0)
        tight = coverable[n_cov[coverable] <= failures + 1]
        order = coverable[np.argsort(n_cov[coverable], kind="stable")]
        self.fetch(np.union1d(tight, fewest_within_pairs(order[:seed_rows], n_cov,
                                                         SEED_MAX_PAIRS)))
        if len(coverable) > seed_rows:
            if spread:  # the most constrained cell of every spatial bin: seeds everywhere
                extra = _per_bin_min(coverable, self.bin_key(bin_km), n_cov)
            else:
                sample = np.random.default_rng(1)
                extra = sample.choice(coverable, size=min(seed_rows // 4, len(coverable)),
                                      replace=False)
            self.fetch(fewest_within_pairs(extra, n_cov, SEED_MAX_PAIRS))

    def next_rows(self, violated: npt.ArrayLike, have: npt.NDArray[np.int64], *,
                  max_rows: int, at_risk_rows: int, bin_km: float,
                  spread: bool) -> npt.NDArray[np.int64]:
        """Rows to fetch after a round: the violated rows not held (fewest candidates first,
        at most ``max_rows``) and the most constrained rows exactly at their requirement
        (the next plan's likely violations), at most ``at_risk_rows``."""
        violated = np.asarray(violated, dtype=np.int64)
        n_cov, req = self.n_covering, self.requirement
        new = violated[~self.held[violated]]
        new = new[np.argsort(n_cov[new], kind="stable")][:max_rows]
        at_risk = np.flatnonzero((have == req) & (req > 0) & ~self.held)
        if spread:
            at_risk = _per_bin_min(at_risk, self.bin_key(bin_km), n_cov)
        at_risk = at_risk[np.argsort(n_cov[at_risk], kind="stable")][:at_risk_rows]
        return np.union1d(new, at_risk)


#: share of ``lazy_cover``'s time limit kept (with unit costs) for :func:`_polish` when a
#: round ends at its time limit
POLISH_SHARE = 0.25

#: no time is kept for :func:`_polish` under shorter limits (the budget sweep's 2 s solves)
POLISH_MIN_LIMIT_S = 10.0


def _polish(rows: RowPool, sites: npt.NDArray[np.int64], violations: Any,
            more_rows: Any, deadline: float, goal: float,
            fixed: npt.NDArray[np.bool_] | None, max_tries: int = 8
            ) -> npt.NDArray[np.int64] | None:
    """A smaller plan than ``sites`` (which covers every cell) by row-weighting local
    search on the rows held, or None (unit costs: ``goal`` is a lower bound in sites).

    The search sees only the rows held (those implied by another held row dropped; the
    reduction is redone only after a fetch), on half the time left after it: its plan is
    checked against every cell. When it leaves cells
    short, ``more_rows(violated, have)`` gives the rows to fetch (the short cells' and
    those at their requirement, as after a round), and the plan completed greedily on the
    rows held is kept when it covers every cell and is smaller. The next search starts
    from the best plan. Ends when a search finds nothing smaller, after ``max_tries``
    searches, or at the ``deadline``.
    """
    m = rows.pool.shape[1]
    best = np.asarray(sites, dtype=np.int64)
    improved = False
    held: tuple[sp.csr_array, npt.NDArray[np.int64]] | None = None
    for _ in range(max_tries):
        if time.perf_counter() >= deadline - 0.5:
            break
        if held is None:  # the rows held change only when a try fetches more
            keep = drop_dominated_rows(rows.pool, rows.pool_req, deadline=deadline)
            held = sp.csr_array(rows.pool[keep]), rows.pool_req[keep]
        now = time.perf_counter()  # (after the reduction: the search gets half of what is left)
        if now >= deadline - 0.5:
            break
        a, need = held
        start = np.zeros(m, dtype=bool)
        start[best] = True
        if np.any(a @ start.astype(np.int64) < need):  # not expected: it covers every cell
            logger.warning("lazy cover: local search skipped: the plan leaves held rows short")
            break
        found = row_weighting_search(a, need, start, deadline=now + 0.5 * (deadline - now),
                                     goal=goal, fixed=fixed)
        if found.sum() >= len(best):
            break
        plan = np.flatnonzero(found)
        violated, have = violations(plan)
        logger.info("lazy cover: local search %d -> %d sites on %s rows held, %d cells short",
                    len(best), len(plan), f"{a.shape[0]:,}", len(violated))
        if not len(violated):
            best, improved = plan, True
            continue
        if time.perf_counter() >= deadline:
            break
        rows.fetch(more_rows(violated, have))
        held = None
        completed = greedy_cover(rows.pool, rows.pool_req, required=fixed, start=plan)
        if len(completed) < len(best) and not len(violations(completed)[0]):
            best, improved = completed, True
    return best if improved else None


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
    at_risk_rows: int = 10_000,
    radius_shrink_km: npt.ArrayLike | None = None,
    fetch_pairs: int = 4_000_000,
    spread: bool = True,
    row_latency: RowLatency | None = None,
    engine: Any = None,
    domain_codes: npt.ArrayLike | None = None,
    max_domain_entries: float = math.inf,
) -> LazyCoverResult:
    """Minimum-site ``min(k+1, |N_i|)``-cover by row generation (see the module notes).

    Parameters
    ----------
    demand_lat_deg, demand_lon_deg, site_lat_deg, site_lon_deg : array_like
        Coordinates, degrees.
    model, budget_ms, access, percentile
        As in :func:`coverage.model.reach.build_reach`; ``access`` has one label per demand point.
    failures : int, default 1
        Failures to tolerate (k).
    cost, required : array_like, optional
        Per-site cost and must-open mask, as in :func:`coverage.solvers.cover.min_cover`.
    time_limit_s : float, default 300
        Time limit for all solves together, s. With unit costs and a limit of at least
        :data:`POLISH_MIN_LIMIT_S`, :data:`POLISH_SHARE` of it is kept for a local search
        (:func:`_polish`) when the rounds end without a proof.
    seed_rows : int, default 20_000
        Cells with the fewest candidates whose rows seed the model.
    max_rows_per_round : int, default 50_000
        Violated rows added per round at most (those with the fewest candidates first).
    max_rounds : int, default 50
        Safety cap on the number of rounds.
    at_risk_rows : int, default 10_000
        Cells exactly at their requirement under the current plan (fewest candidates first)
        added per round besides the violated ones.
    radius_shrink_km : array_like, optional
        Per cell, km taken off its budget radius (as in :func:`coverage.model.reach.build_reach`).
    fetch_pairs : int, default 4_000_000
        Rows are fetched in batches of about this many pairs, identical rows merged after
        each batch: at large budgets (every cell reaching most sites) this bounds the
        memory of a fetch instead of holding every fetched pair at once.
    spread : bool, default True
        Seed with the most constrained cell of every cube of edge radius/16 (and pick the
        at-risk cells added each round the same way) instead of a random sample of
        ``seed_rows // 4`` cells (far fewer rounds on national grids: see
        docs/benchmarks-scale.md).
    engine : coverage.model.routing.PairEngine, optional
        Tiered or anchored pair latencies (:attr:`coverage.Problem.engine`): counts and
        rows come from it instead of one great-circle radius per cell.
    domain_codes : array_like of int, optional
        Failure domain code of every candidate (:attr:`coverage.Problem.count_domains`):
        every cell's chosen sites in budget must also lie in ``min(k + 1, |D_i|)`` failure
        domains. A fetched cell brings its domains' rows
        (:func:`coverage.solvers.domain_rows.domain_rows`); a plan's check also finds the
        cells that meet their count in too few domains
        (:func:`coverage.solvers.domain_rows.domain_short`).
    max_domain_entries : float, default inf
        With ``domain_codes``: the entries the domains' rows may hold in all (bounded per
        fetch by :func:`coverage.solvers.domain_rows.domain_row_entries`); above it
        :class:`~coverage.solvers.domain_rows.DomainRowsTooLarge` is raised.

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
    n = len(d_lat)
    if row_latency is None:
        row_latency = RowLatency.from_model(model, np.asarray(access, dtype=object), budget_ms,
                                            percentile, radius_shrink_km)
    elif radius_shrink_km is not None:
        raise ValueError("with row_latency=, the radius shrink is part of the RowLatency")
    row_radius = row_latency.radius_km
    bin_km = max(float(np.max(row_radius, initial=0.0)) / 16.0, 5.0)
    source = RowSource(d_lat, d_lon, s_lat, s_lon, model, float(budget_ms), percentile,
                       row_latency, engine)
    t = time.perf_counter()
    n_cov = source.count()
    count_s = time.perf_counter() - t
    req = np.minimum(failures + 1, n_cov)
    logger.info("lazy cover: counted %s pairs for %s cells in %.1f s",
                f"{int(n_cov.sum()):,}", f"{n:,}", count_s)
    codes = None if domain_codes is None else np.asarray(domain_codes, dtype=np.int64)
    rows = RowPool(source, req, n_cov, fetch_pairs, domain_codes=codes, failures=failures,
                   max_domain_entries=max_domain_entries)
    rows.seed(failures, seed_rows, bin_km, spread)
    rounds: list[dict[str, float]] = []
    cover: CoverResult | None = None
    c_all = np.ones(len(s_lat)) if cost is None else np.asarray(cost, dtype=np.float64)
    required = None if required is None else required_mask(required, len(s_lat))
    best_lower = 0.0
    incumbent: npt.NDArray[np.int64] | None = None  # best plan known to cover every cell

    def violations(sites: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64],
                                                           npt.NDArray[np.int64]]:
        """Cells short of their requirement under ``sites`` (or of their domains), and
        every cell's count."""
        have = source.count(sites)
        short = have < req
        if codes is not None and failures >= 1:
            short[domain_short(source, sites, have, req, codes, failures,
                               rows.n_domains)] = True
        return np.flatnonzero(short), have

    def offer(sites: npt.NDArray[np.int64]) -> None:
        nonlocal incumbent
        if incumbent is None or c_all[sites].sum() < c_all[incumbent].sum():
            incumbent = np.sort(sites)

    status = "time_limit"
    unit_cost = bool(np.all(c_all == c_all[0])) if len(c_all) else False
    # unit costs: a share of the time is kept for the local search on the rows held when a
    # round ends at its time limit (its plan, repaired for the rows it missed, has sites
    # the search can often close: India's 1M-cell grid, 60 s: +15 sites by the repair)
    reserve_s = (POLISH_SHARE * float(time_limit_s)
                 if unit_cost and time_limit_s >= POLISH_MIN_LIMIT_S else 0.0)
    for round_no in range(1, max_rounds + 1):
        t = time.perf_counter()
        remaining = deadline - time.perf_counter() - reserve_s
        if remaining <= 1.0 and cover is not None:
            break
        swapped = None
        if (cover is not None and cover.status == "optimal"
                and c_all[cover.sites].sum() <= best_lower + 1e-9):
            # the last plan meets the bound; if one swap makes it meet the rows added since,
            # it is optimal for this round's model too (its bound is still valid): no MILP
            keep = None if required is None else np.asarray(required, dtype=bool)
            swapped = _one_swap(rows.pool, rows.pool_req, cover.sites, c_all, keep)
            if swapped is None:  # several swaps, each fixing the most short rows
                swapped = _swap_descent(rows.pool, rows.pool_req, cover.sites, c_all, keep)
        if swapped is not None:
            cover = CoverResult(swapped, float(c_all[swapped].sum()), best_lower, "optimal",
                                0.0, time.perf_counter() - t, cover.reductions)
        else:
            # the rows held grow from round to round: the best bound so far is valid for
            # this round's model too, and a plan that meets it needs no proof of optimality
            cover = min_cover(rows.pool, rows.pool_req, cost=cost, required=required,
                              time_limit_s=max(remaining, 1.0),
                              known_lower_bound=best_lower if best_lower > 0 else None,
                              start=None if cover is None else cover.sites)
        # every round solves a relaxation of the full problem: its bound is valid
        best_lower = max(best_lower, cover.lower_bound)
        solve_s = time.perf_counter() - t
        t = time.perf_counter()
        violated, have = violations(cover.sites)
        if not len(violated):
            offer(cover.sites)
        check_s = time.perf_counter() - t
        rounds.append({"round": round_no, "rows_held": int(rows.held.sum()),
                       "sites": float(cover.objective), "lower_bound": float(best_lower),
                       "status": cover.status, "violated": int(len(violated)),
                       "incumbent": float(c_all[incumbent].sum()) if incumbent is not None
                       else float("nan"), "solve_s": solve_s, "check_s": check_s,
                       "method": "swap" if swapped is not None else "milp"})
        logger.info("lazy cover round %d: %d rows held, %g sites (%s, bound %g), %d cells "
                    "violated", round_no, int(rows.held.sum()), cover.objective, cover.status,
                    best_lower, len(violated))
        if incumbent is not None and c_all[incumbent].sum() <= best_lower + 1e-9:
            status = "optimal"
            break
        if not len(violated):  # feasible but the round's MILP ran out of time
            break
        if np.all(rows.held[violated]) and cover.status == "optimal":
            raise RuntimeError("lazy cover: a held row is violated by its own solution")
        rows.fetch(rows.next_rows(violated, have, max_rows=max_rows_per_round,
                                  at_risk_rows=at_risk_rows, bin_km=bin_km, spread=spread))
        # an upper bound meanwhile: this round's plan plus greedy sites for the rows held now,
        # kept when it covers every cell
        repaired = greedy_cover(rows.pool, rows.pool_req, cost=cost, required=required,
                                start=cover.sites)
        if not len(violations(repaired)[0]):
            offer(repaired)
            if c_all[repaired].sum() <= best_lower + 1e-9:  # meets the bound: optimal
                logger.info("lazy cover: the repaired plan of round %d meets the bound",
                            round_no)
                status = "optimal"
                break
    else:
        logger.warning("lazy cover stopped after %d rounds", max_rounds)
    assert cover is not None
    if incumbent is None:  # out of time with no covering plan yet: add sites until it covers
        # until it covers: each step holds rows not held before (the greedy plan meets
        # every row held), so it ends; it was bounded by max_rounds, and with few rows a
        # round it raised "did not converge" (review 147, max_rounds=1)
        sites = cover.sites
        while True:
            violated, _ = violations(sites)
            if not len(violated):
                break
            new = violated[~rows.held[violated]]
            if not len(new):
                raise RuntimeError("lazy cover: a held row is violated by the greedy plan")
            rows.fetch(new[np.argsort(n_cov[new], kind="stable")][:max_rows_per_round])
            sites = greedy_cover(rows.pool, rows.pool_req, cost=cost, required=required,
                                 start=sites)
        offer(sites)
    assert incumbent is not None
    if status != "optimal" and unit_cost:
        def more_rows(violated: npt.NDArray[np.int64],
                      have: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
            return rows.next_rows(violated, have, max_rows=max_rows_per_round,
                                  at_risk_rows=at_risk_rows, bin_km=bin_km, spread=spread)

        fixed = None
        if required is not None:  # existing sites stay open (they are in the incumbent)
            fixed = np.zeros(len(c_all), dtype=bool)
            fixed[incumbent] = True
            fixed &= np.asarray(required, dtype=bool)
        polished = _polish(rows, incumbent, violations, more_rows, deadline,
                           best_lower / float(c_all[0]), fixed)
        if polished is not None:
            offer(polished)
    objective = float(c_all[incumbent].sum())
    lower = min(best_lower, objective)
    if np.array_equal(c_all, np.round(c_all)):
        lower = min(float(np.ceil(lower - 1e-6)), objective)
    if objective <= lower + 1e-9:
        status = "optimal"
    cover = CoverResult(incumbent, objective, lower, status,
                        (objective - lower) / objective if objective else 0.0,
                        time.perf_counter() - t0, cover.reductions)
    return LazyCoverResult(cover=cover, n_covering=n_cov, rounds=rounds,
                           rows_fetched=int(rows.held.sum()), pairs_fetched=int(rows.pairs),
                           count_s=count_s)
