"""Set multicover on a sparse reach matrix: the fewest (or cheapest) sites (DESIGN section 3).

* :func:`min_cover` — minimum number (or cost) of sites such that each row ``i`` has at least
  ``requirement[i]`` chosen columns among its stored entries (set multicover), exact MILP with
  HiGHS after safe reductions, greedy fallback.

The k-median stage that places the chosen number of sites is :mod:`coverage.solvers.kmedian`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..errors import SolverError
from .cover_search import row_ranges, search_with_restarts
from .highs import lp_model, new_highs, set_option
from .interrupt import run_highs
from .matrix_args import reach_pattern, required_mask

logger = logging.getLogger(__name__)

__all__ = ["CoverResult", "min_cover", "greedy_cover", "merge_identical_rows", "swap_descent",
           "identical_row_groups", "row_ranges",
           "requirement_array", "cost_scale", "drop_dominated_rows"]

_EPS = 1e-9


@dataclass(frozen=True)
class CoverResult:
    """Result of :func:`min_cover`.

    Attributes
    ----------
    sites : numpy.ndarray
        Chosen column indices, sorted.
    objective : float
        Number (or total cost) of chosen sites.
    lower_bound : float
        Proven lower bound on the optimum (rounded up for integer costs).
    status : str
        ``"optimal"``, ``"time_limit"`` (best MILP solution, not proven), ``"heuristic"``
        (greedy, the MILP found nothing in time) or ``"above_cutoff"`` (``max_objective``
        given and no plan within it: a feasible plan, the optimum is above the cutoff).
    mip_gap : float
        ``(objective - lower_bound) / objective`` (0 when optimal).
    solve_time_s : float
        Wall time, s.
    reductions : dict
        What the safe reductions removed.
    methods : dict
        How many components each method settled: ``"greedy"`` (a single site, a greedy or
        Lagrangian plan proven optimal, or any plan once the cutoff is known to be exceeded),
        ``"lp"`` (an LP-guided plan meeting the LP bound, or the LP bound above the cutoff:
        no full MILP), ``"lagrangian"`` (the Lagrangian plan, and the search's, with no MILP
        after it: too little time for one) or ``"milp"``.
    """

    sites: npt.NDArray[np.int64]
    objective: float
    lower_bound: float
    status: str
    mip_gap: float
    solve_time_s: float
    reductions: dict[str, int] = field(default_factory=dict)
    methods: dict[str, int] = field(default_factory=dict)

    @property
    def runtime_s(self) -> float:
        """Wall time, s (``solve_time_s``: the name every matrix solver's result shares)."""
        return self.solve_time_s




def requirement_array(requirement: int | npt.ArrayLike, n_rows: int) -> npt.NDArray[np.int64]:
    """``requirement`` (one int, or one per row) as an int64 array of ``n_rows``.

    Raises
    ------
    ValueError
        Negative, not a whole number (1.5 was read as 1: tester 145), not finite, or of
        the wrong length.
    """
    r = np.asarray(requirement)
    bad = r.dtype.kind not in "biuf"
    if not bad and r.dtype.kind == "f":
        bad = not np.all(np.isfinite(r)) or not np.all(r == np.round(r))
    if not bad and r.ndim == 0:
        r = np.full(n_rows, r)
    if bad or r.shape != (n_rows,) or (r < 0).any():
        raise ValueError("requirement must be a non-negative int or one int per row")
    return r.astype(np.int64)


def identical_row_groups(
    a: sp.csr_array, rng: np.random.Generator
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
    """Groups of rows with the same column set (exactly), or None on a hash collision.

    Rows are grouped by a random-projection hash, then every row is compared entry by entry
    with its group's representative (``a`` must have sorted indices).

    Returns
    -------
    (first, inverse) or None
        ``first``: the representative (lowest) row of each group; ``inverse``: each row's
        group. None when two different column sets share a hash (then nothing is merged).
    """
    n = a.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # one random 62-bit weight a column; a row's key is its weights' sum (wrapping int64
    # arithmetic) mixed with its size: a 1-D sort instead of a 2-D unique (0.04 s instead
    # of 1 s for 216k rows, hand measurement); collisions are caught below
    w = rng.integers(1, 2**62, size=a.shape[1], dtype=np.int64)
    sizes = np.diff(a.indptr)
    key = np.zeros(n, dtype=np.int64)
    full = np.flatnonzero(sizes > 0)
    if len(full):
        key[full] = np.add.reduceat(w[a.indices], a.indptr[full])
    key = key * np.int64(1_000_003) + sizes
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    rep = first[inverse]
    dup = np.flatnonzero(rep != np.arange(n))  # only rows that are not their own group's
    if np.any(sizes[dup] != sizes[rep[dup]]) or np.any(
            a.indices[row_ranges(a.indptr[dup], a.indptr[dup + 1])]
            != a.indices[row_ranges(a.indptr[rep[dup]], a.indptr[rep[dup] + 1])]):
        logger.debug("row hash collision; skipping identical-row merge")
        return None
    return first.astype(np.int64), inverse.astype(np.int64)


def merge_identical_rows(
    a: sp.csr_array, r: npt.NDArray[np.int64], rng: np.random.Generator
) -> tuple[sp.csr_array, npt.NDArray[np.int64]]:
    """Merge rows with the same column set, keeping the largest requirement (exactly).

    Groups come from :func:`identical_row_groups`; on a hash collision the merge is skipped.
    """
    if a.shape[0] == 0:
        return a, r
    groups = identical_row_groups(a, rng)
    if groups is None:
        return a, r
    first, inverse = groups
    r_max = np.zeros(len(first), dtype=np.int64)
    np.maximum.at(r_max, inverse, r)
    return sp.csr_array(a[first]), r_max


def greedy_cover(
    reach: sp.sparray | sp.spmatrix,
    requirement: int | npt.ArrayLike = 1,
    cost: npt.ArrayLike | None = None,
    required: npt.ArrayLike | None = None,
    start: npt.ArrayLike | None = None,
) -> npt.NDArray[np.int64]:
    """Greedy set multicover followed by reverse deletion of redundant columns.

    ``start`` (column indices) are opened first, like ``required`` ones, but unlike those
    they may be deleted again when redundant.

    Each step opens the column with the largest (unmet requirement covered) / cost; rows whose
    requirement exceeds their number of columns are capped at that number. Then chosen columns
    are dropped, most expensive first, while the cover stays feasible.

    Returns
    -------
    numpy.ndarray
        Chosen column indices, sorted.
    """
    a = reach_pattern(reach)
    n, m = a.shape
    r = np.minimum(requirement_array(requirement, n), np.diff(a.indptr))
    c = np.ones(m) if cost is None else np.asarray(cost, dtype=np.float64)
    fixed = required_mask(required, m)
    chosen = fixed.copy()
    if start is not None:
        chosen[np.asarray(start, dtype=np.int64)] = True
    ac = sp.csc_array(a)
    have = a @ chosen.astype(np.int64)

    def rows_of(j: int) -> npt.NDArray[np.int32]:
        return ac.indices[ac.indptr[j]:ac.indptr[j + 1]]

    # short rows per column, kept up to date as rows are met (O(entries) in all, not a
    # full product per step: national pools need thousands of steps)
    short = have < r
    ptr = a.indptr.astype(np.int64)
    n_short = np.bincount(a.indices[np.repeat(short, np.diff(a.indptr))],
                          minlength=m).astype(np.int64)
    while short.any():
        score = n_short / c
        score[chosen] = -1.0
        j = int(np.argmax(score))
        if score[j] <= 0:
            break
        chosen[j] = True
        rows = rows_of(j)
        have[rows] += 1
        met = rows[short[rows] & (have[rows] >= r[rows])]
        if len(met):
            short[met] = False
            np.subtract.at(n_short, a.indices[row_ranges(ptr[met], ptr[met + 1])], 1)
    for j in sorted(np.flatnonzero(chosen & ~fixed), key=lambda j: (-c[j], -j)):
        rows = rows_of(j)
        if np.all(have[rows] - 1 >= r[rows]):
            chosen[j] = False
            have[rows] -= 1
    return np.flatnonzero(chosen)


#: Bits per row in a hashed signature, per entry of a typical (90th percentile) row.
_SIGNATURE_BITS_PER_ENTRY = 4
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
#: Exact bit sets up to this size (bytes); hashed signatures above it.
EXACT_BITSET_BYTES = 256 << 20
#: Entries per chunk of rows in the dominance reductions' vector passes.
_BITSET_CHUNK_ENTRIES = 1 << 22
#: Share of :func:`min_cover`'s time limit after which no dominance reduction (nor block of
#: one) starts. On a 155,197-row pool with 99,440 candidates and 66.7M entries (Europe with
#: all its places as candidates) the reductions took 31 s of a 45 s limit.
REDUCTION_SHARE = 0.25
#: Seconds an entry of a dominance reduction's setup (bit sets, rarest columns, a transpose),
#: before its first block: 6.8 s (rows) and 6.5 s (columns) for the 66.7M-entry pool above,
#: which found nothing in the time left (hand measurement, 2026-12-01). A reduction whose
#: setup would end after the reductions' share of the time limit is not started.
DOMINANCE_SETUP_S_PER_ENTRY = 1.0e-7
#: Seconds of the time left a component always may use, whatever its share by entries
#: (:func:`min_cover`).
MIN_COMPONENT_S = 1.0


def _bipartite_components(a: sp.csr_array) -> tuple[int, npt.NDArray[np.int64]]:
    """Connected components of the (row, column) graph of ``a``: labels of the rows, then
    of the columns (``a.shape[0] + a.shape[1]`` of them).

    The graph is ``a``'s own index arrays shifted (rows link to ``n + column``) and read as
    undirected: no symmetric block matrix is built (1.6 s instead of 9.7 s for 66.7M entries).
    """
    n, m = a.shape
    indptr = np.concatenate([a.indptr.astype(np.int64),
                             np.full(m, a.indptr[-1], dtype=np.int64)])
    # float64 data, as csgraph takes it (int8 data cost a conversion: 7.1 s instead of 1.6 s)
    graph = sp.csr_array((np.ones(a.nnz), a.indices.astype(np.int64) + n, indptr),
                         shape=(n + m, n + m))
    n_comp, labels = connected_components(graph, directed=False)
    return int(n_comp), labels.astype(np.int64)


def _row_floor(a: sp.csr_array, need: npt.NDArray[np.int64],
               c: npt.NDArray[np.float64]) -> float:
    """A lower bound of the multicover that needs no solve: the largest over rows of
    ``r_i`` times the cheapest cost among the row's columns (every row needs ``r_i``
    distinct sites of its own).

    Examples
    --------
    >>> _row_floor(sp.csr_array([[1, 1, 1], [0, 1, 1]]), np.array([3, 1]),
    ...            np.array([2.0, 1.0, 5.0]))
    3.0
    """
    a = sp.csr_array(a)
    rows = np.flatnonzero(np.diff(a.indptr) > 0)
    if not len(rows):
        return 0.0
    cheapest = np.minimum.reduceat(c[a.indices], a.indptr[rows])
    return float((need[rows] * cheapest).max())


def _past(deadline: float | None) -> bool:
    """Whether ``deadline`` (a ``time.perf_counter()`` value, or None for none) has passed."""
    return deadline is not None and time.perf_counter() > deadline


def _row_bitsets(a: sp.csr_array, max_exact_bytes: int = EXACT_BITSET_BYTES
                 ) -> tuple[npt.NDArray[np.uint64], bool]:
    """Each row's column set as bits: ``(n_rows, words)`` uint64, and whether it is exact.

    When the exact bit set (``ceil(n_cols / 64)`` words a row) takes at most
    ``max_exact_bytes`` or no more words than the signature, bit ``j`` is column ``j``
    and the subset test on the words is exact. Otherwise every column is
    hashed (multiplicative hash) to one of ``64 * words`` bits, ``words`` a power of two
    with about :data:`_SIGNATURE_BITS_PER_ENTRY` bits per entry of a 90th-percentile row:
    ``N_k ⊆ N_i`` still implies ``bits_k & ~bits_i == 0``, so the words only filter and
    :func:`_contained` decides. An exact bit set costs ``n_rows * n_cols / 8`` bytes: 11 GB
    for a world pool with 150,000 candidates, where the signature is a few hundred MB.
    """
    n, m = a.shape
    exact_words = max(1, (m + 63) // 64)
    sizes = np.diff(a.indptr)
    typical = float(np.quantile(sizes, 0.9)) if n else 1.0
    sig_words = 1 << max(0, int(np.ceil(np.log2(max(
        _SIGNATURE_BITS_PER_ENTRY * typical / 64.0, 1.0)))))
    exact = exact_words <= sig_words or n * exact_words * 8 <= max_exact_bytes
    words = exact_words if exact else sig_words
    bits = np.zeros(n * words, dtype=np.uint64)
    # rows in chunks (:func:`_row_chunks`): 5.6 s for a 66.7M-entry pool's bit sets with
    # whole-pool temporaries, 0.6 s in chunks (hand measurement)
    ptr = a.indptr.astype(np.int64)
    shift = np.uint64(64 - int(np.log2(64 * words)))
    for r0, r1 in _row_chunks(ptr):
        pos = a.indices[ptr[r0]:ptr[r1]].astype(np.uint64)
        if not exact:  # the top log2(64 * words) bits of col * golden ratio (mod 2^64)
            pos *= _GOLDEN
            pos >>= shift
        bit = pos & np.uint64(63)
        np.left_shift(np.uint64(1), bit, out=bit)
        pos >>= np.uint64(6)  # the word within the row: small, so viewed as int64
        key = pos.view(np.int64)
        key += np.repeat(np.arange(r0, r1, dtype=np.int64) * words, sizes[r0:r1])
        if not exact:  # hashed positions are not sorted within a row: no runs to reduce
            np.bitwise_or.at(bits, key, bit)
        elif len(key):  # equal keys are runs
            starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
            bits[key[starts]] = np.bitwise_or.reduceat(bit, starts)
    return bits.reshape(n, words), exact


def _row_chunks(indptr: npt.NDArray[np.integer]) -> list[tuple[int, int]]:
    """Row ranges ``[r0, r1)`` of about :data:`_BITSET_CHUNK_ENTRIES` entries each (a row
    with more is a range alone): whole-matrix temporaries cost more in page faults than in
    arithmetic on national pools."""
    ptr = np.asarray(indptr, dtype=np.int64)
    n = len(ptr) - 1
    chunk_of = ptr[1:] // _BITSET_CHUNK_ENTRIES
    cuts = np.concatenate([[0], np.flatnonzero(np.diff(chunk_of)) + 1, [n]]).astype(np.int64)
    return [(int(r0), int(r1)) for r0, r1 in zip(cuts[:-1], cuts[1:], strict=True)
            if r1 > r0]


def _rarest(a: sp.csr_array, count: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Each row's column with the smallest ``count`` (ties: the lowest column), -1 for an
    empty row; row chunk by row chunk."""
    n, m = a.shape
    out = np.full(n, -1, dtype=np.int64)
    ptr = a.indptr.astype(np.int64)
    for r0, r1 in _row_chunks(ptr):
        idx = a.indices[ptr[r0]:ptr[r1]]
        enc = count[idx] * m
        enc += idx
        rows = np.arange(r0, r1)
        full = rows[ptr[r0 + 1:r1 + 1] > ptr[r0:r1]]
        if len(full):
            out[full] = np.minimum.reduceat(enc, ptr[full] - ptr[r0]) % m
    return out


def _entry_keys(a: sp.csr_array) -> npt.NDArray[np.int64]:
    """``row * n_cols + column`` of every entry: sorted when ``a`` has sorted indices."""
    n, m = a.shape
    return np.repeat(np.arange(n, dtype=np.int64), np.diff(a.indptr)) * m + a.indices


def _contained(a: sp.csr_array, keys: npt.NDArray[np.int64], k: npt.NDArray[np.int64],
               i: npt.NDArray[np.int64], max_entries: int = 4_000_000
               ) -> npt.NDArray[np.bool_]:
    """Whether row ``k[p]``'s column set lies in row ``i[p]``'s, for every pair ``p``
    (exact; ``a`` with sorted indices, ``keys`` its :func:`_entry_keys`): each column of
    ``k`` is looked up among ``i``'s entries by one binary search over the sorted keys, in
    blocks of about ``max_entries`` looked-up entries."""
    m = a.shape[1]
    out = np.zeros(len(k), dtype=bool)
    if not len(k) or not len(keys):
        return out
    ptr = a.indptr.astype(np.int64)
    size_k = ptr[k + 1] - ptr[k]
    cum = np.cumsum(size_k)
    b0 = 0
    while b0 < len(k):
        done = int(cum[b0 - 1]) if b0 else 0
        b1 = max(int(np.searchsorted(cum, done + max_entries, side="right")), b0 + 1)
        kk, ii, sz = k[b0:b1], i[b0:b1], size_k[b0:b1]
        # int64: row * n_cols overflows int32 on national pools (the callers' row and
        # column arrays may be int32 index arrays)
        want = ii.astype(np.int64).repeat(sz) * m + a.indices[row_ranges(ptr[kk], ptr[kk + 1])]
        at = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
        miss = keys[at] != want
        pair = np.repeat(np.arange(b1 - b0), sz)
        out[b0:b1] = np.bincount(pair[miss], minlength=b1 - b0) == 0
        b0 = b1
    return out


def drop_dominated_rows(
    a: sp.csr_array, r: npt.NDArray[np.int64], max_pairs: int = 250_000,
    max_exact_bytes: int = EXACT_BITSET_BYTES, deadline: float | None = None,
) -> npt.NDArray[np.bool_]:
    """Rows implied by another row: ``N_k`` subset of ``N_i`` and ``r_k >= r_i``.

    Any solution with ``r_k`` chosen columns in ``N_k`` has at least ``r_k >= r_i`` chosen in
    ``N_i``, so row ``i`` can go. Among identical rows the one with the largest requirement
    (then the lowest index) is kept; dominance is transitive, so every dropped row stays implied
    by a kept one.

    Every superset of ``N_k`` contains the rarest column of ``N_k``, so the candidate pairs
    ``(k, i)`` are ``i`` in that column only (complete, no pair is missed); each candidate is
    then tested word by word on the rows' bit sets, dropping pairs at their first
    counter-example. Candidate pairs are processed in blocks of about ``max_pairs``; a row
    dropped by one block is no longer tested in the next (national pools drop most rows:
    blocks of 250,000 pairs instead of 2 million took 0.12 s instead of 0.29 s on a
    20,818-row pool, 1.0 s instead of 1.8 s on a 71,917-row one; hand measurement).

    With a ``deadline`` (``time.perf_counter()`` value), no block starts after it: the rows
    not tested yet are kept, which is always valid (a reduction only drops rows).

    Returns
    -------
    numpy.ndarray of bool
        Rows to keep.
    """
    a = sp.csr_array(a)
    if not a.has_sorted_indices:  # a sorted copy: never the caller's arrays in place
        a = a.copy()
        a.sort_indices()
    n, m = a.shape
    keep = np.ones(n, dtype=bool)
    sizes = np.diff(a.indptr).astype(np.int64)
    nonempty = np.flatnonzero(sizes > 0)
    if n < 2 or len(nonempty) == 0:
        return keep
    bits, exact = _row_bitsets(a, max_exact_bytes)
    keys = None if exact else _entry_keys(a)
    col_count = np.bincount(a.indices, minlength=m).astype(np.int64)
    rarest = _rarest(a, col_count)
    csc = sp.csc_array(a)
    c_ptr, c_rows = csc.indptr.astype(np.int64), csc.indices
    ks = nonempty[np.argsort(sizes[nonempty], kind="stable")]  # small rows dominate most
    cum = np.cumsum(col_count[rarest[ks]])
    b0 = 0
    while b0 < len(ks) and not _past(deadline):
        done = int(cum[b0 - 1]) if b0 else 0
        b1 = max(int(np.searchsorted(cum, done + max_pairs, side="right")), b0 + 1)
        kc = ks[b0:b1]
        j = rarest[kc]
        i = c_rows[row_ranges(c_ptr[j], c_ptr[j + 1])]
        k = np.repeat(kc, c_ptr[j + 1] - c_ptr[j])
        ok = (i != k) & keep[i] & (r[k] >= r[i])
        ok &= (sizes[k] < sizes[i]) | ((sizes[k] == sizes[i]) & ((r[k] > r[i]) | (k < i)))
        i, k = i[ok], k[ok]
        for word in range(bits.shape[1]):
            if not len(i):
                break
            subset = (bits[k, word] & ~bits[i, word]) == 0
            i, k = i[subset], k[subset]
        if not exact:
            subset = _contained(a, keys, k, i)
            i, k = i[subset], k[subset]
        keep[i] = False
        b0 = b1
    return keep


def _drop_dominated_cols(
    a: sp.csr_array, r: npt.NDArray[np.int64], c: npt.NDArray[np.float64],
    max_pairs: int = 2_000_000, max_exact_bytes: int = EXACT_BITSET_BYTES,
    deadline: float | None = None,
) -> npt.NDArray[np.bool_]:
    """Columns that enough other columns dominate, for set multicover.

    Column ``l`` dominates ``j`` when ``rows(j) ⊆ rows(l)`` and ``l`` comes first in the
    strict order (lower cost, then more rows, then lower index). Column ``j`` can go when at
    least ``max_{i in rows(j)} r_i`` columns dominate it: take an optimal solution using
    ``j``; if all those dominators are open, every row of ``j`` already has ``r_i`` open
    sites without it, so ``j`` is redundant; otherwise swap ``j`` for a closed dominator
    (feasible, no dearer). Each swap opens a column earlier in the order, so this ends with
    an optimal solution without removed columns. Dominance is transitive and the order is
    strict, so every removed column keeps that many *kept* dominators (induction from the
    first column in the order). With ``r = 1`` this is the classic column dominance; for
    ``r >= 2`` a single dominator is not enough (both may be needed).

    Each block holds every candidate pair of its columns, so a column's count of dominators
    is complete or zero; with a ``deadline`` (``time.perf_counter()`` value) no block starts
    after it and the columns not tested are kept (valid: the argument above holds for every
    removed column).

    Returns
    -------
    numpy.ndarray of bool
        Columns to keep.
    """
    n, m = a.shape
    keep = np.ones(m, dtype=bool)
    if m < 2 or n == 0:
        return keep
    at = sp.csr_array(a.T)
    at.sort_indices()
    sizes = np.diff(at.indptr).astype(np.int64)
    nonempty = np.flatnonzero(sizes > 0)
    if len(nonempty) == 0:
        return keep
    need = np.zeros(m, dtype=np.int64)
    need[nonempty] = np.maximum.reduceat(r[at.indices], at.indptr[nonempty])
    bits, exact = _row_bitsets(at, max_exact_bytes)
    keys = None if exact else _entry_keys(at)
    row_count = np.bincount(at.indices, minlength=n).astype(np.int64)
    rarest = _rarest(at, row_count)
    r_ptr, r_cols = a.indptr.astype(np.int64), a.indices
    n_dom = np.zeros(m, dtype=np.int64)
    cum = np.cumsum(row_count[rarest[nonempty]])
    b0 = 0
    while b0 < len(nonempty) and not _past(deadline):
        done = int(cum[b0 - 1]) if b0 else 0
        b1 = max(int(np.searchsorted(cum, done + max_pairs, side="right")), b0 + 1)
        jc = nonempty[b0:b1]
        i = rarest[jc]
        ll = r_cols[row_ranges(r_ptr[i], r_ptr[i + 1])]
        jj = np.repeat(jc, r_ptr[i + 1] - r_ptr[i])
        ok = (ll != jj) & (c[ll] <= c[jj])
        same_c = c[ll] == c[jj]
        ok &= ~same_c | (sizes[ll] > sizes[jj]) | ((sizes[ll] == sizes[jj]) & (ll < jj))
        ll, jj = ll[ok], jj[ok]
        for word in range(bits.shape[1]):
            if not len(ll):
                break
            subset = (bits[jj, word] & ~bits[ll, word]) == 0
            ll, jj = ll[subset], jj[subset]
        if not exact:
            subset = _contained(at, keys, jj, ll)
            ll, jj = ll[subset], jj[subset]
        n_dom += np.bincount(jj, minlength=m)
        b0 = b1
    keep[nonempty] = n_dom[nonempty] < need[nonempty]
    return keep


#: The subgradient step factor below which :func:`_lagrangian_cover` has stalled (it is
#: halved after 20 rounds without progress).
LAGRANGIAN_MIN_FACTOR = 1e-4


def _lagrangian_cover(
    a: sp.csr_array, need: npt.NDArray[np.int64], c: npt.NDArray[np.float64],
    x0: npt.NDArray[np.bool_], deadline: float, max_iter: int = 3000,
    state: dict[str, Any] | None = None,
) -> tuple[float, npt.NDArray[np.bool_]]:
    """Lagrangian bound of the set multicover (subgradient) and a Lagrangian greedy plan.

    Relaxing ``A x >= r`` with multipliers ``u >= 0`` gives
    ``L(u) = u.r + sum_j min(0, c_j - (A^T u)_j)`` (x binary), a lower bound for every ``u``;
    its maximum equals the LP bound. ``u`` follows the subgradient ``r - A x(u)`` with the
    Polyak step towards the best plan found (step factor halved after 20 rounds without
    progress). Every 50 iterations a plan is built greedily on the reduced costs, then its
    redundant sites are dropped (not when the slowest plan so far would end after the
    deadline); the best plan (``x0`` at worst) is returned with the bound.

    ``state`` (a dict) carries a run on: it starts from its ``u``, ``bound`` and
    ``factor`` when they are there and leaves the run's in it.
    """
    n, m = a.shape
    af = a.astype(np.float64)  # float products: twice as fast as on the int8 pattern
    at = af.T  # a view (CSC), no second copy
    r = need.astype(np.float64)
    col_size = np.maximum(np.bincount(a.indices, minlength=m), 1).astype(np.float64)
    u = np.minimum.reduceat((c / col_size)[a.indices], a.indptr[:-1]) if a.nnz else np.zeros(n)
    best_l, best_x, best_obj = -np.inf, x0.copy(), float(c[x0].sum())
    factor, stall, greedy_s = 2.0, 0, 0.0
    if state is not None and "u" in state:  # carried on
        u, best_l, factor = state["u"], float(state["bound"]), float(state["factor"])
    for it in range(max_iter):
        rc = c - at @ u
        x = rc < 0
        value = float(u @ r + rc[x].sum())
        if value > best_l + 1e-9:
            best_l, stall = value, 0
        else:
            stall += 1
            if stall >= 20:
                factor, stall = factor / 2, 0
        # a plan every 50 steps while one fits in the time left (10 s a plan on a 66.7M-entry
        # pool: started just before the deadline, a 30 s run ended at 39.3 s)
        if it % 50 == 0 and time.perf_counter() + greedy_s < deadline:
            t = time.perf_counter()
            plan = greedy_cover(a, need, cost=np.maximum(rc, 1e-3 * c))
            plan = greedy_cover(a, need, cost=c, start=plan)  # drop redundant sites
            greedy_s = max(greedy_s, time.perf_counter() - t)
            if c[plan].sum() < best_obj - 1e-9:
                best_obj = float(c[plan].sum())
                best_x = np.zeros(m, dtype=bool)
                best_x[plan] = True
        g = r - af @ x.astype(np.float64)
        g[(u <= 0) & (g < 0)] = 0.0
        norm = float(g @ g)
        done = norm == 0 or factor < LAGRANGIAN_MIN_FACTOR or best_l >= best_obj - 1e-9
        if done or time.perf_counter() > deadline:
            break
        u = np.maximum(0.0, u + factor * (best_obj - value) / norm * g)
    logger.info("Lagrangian bound %.2f, plan %g, %d iterations", best_l, best_obj, it + 1)
    if state is not None:
        state.update(u=u, bound=best_l, factor=factor)
    return best_l, best_x


def _lagrangian_first(a: sp.csr_array, need: npt.NDArray[np.int64],
                      c: npt.NDArray[np.float64], x0: npt.NDArray[np.bool_],
                      deadline: float) -> tuple[float, npt.NDArray[np.bool_], bool]:
    """The Lagrangian bound and plan (:func:`_lagrangian_cover`) of a large model, on a
    quarter of the time left (30 s at most), before its MILP: the plan (never worse than
    ``x0``) is the MILP's cutoff and fallback, the bound kept by :func:`_with_bound`.

    When the MILP is not worth running in the rest (:func:`_milp_follows`: less than
    :data:`MILP_MIN_PRESOLVE_MULTIPLE` times its presolve), the Lagrangian takes all of
    it; with unit costs :data:`LAGRANGIAN_SHARE_BEFORE_SEARCH` of it, then the
    row-weighting search (:func:`_search_after_lagrangian`) improves its plan. When a MILP
    follows a unit-cost model of more than :data:`FEASIBILITY_JUMP_MAX_NNZ` entries, the
    search first takes :data:`SEARCH_SHARE` of the time left after the Lagrangian when the
    plan is well above the bound (a smaller cutoff for the MILP).

    Returns the bound, the plan and whether the MILP should run (the callers skip it
    when not).
    """
    left = deadline - time.perf_counter()
    budget = min(30.0, 0.25 * left)
    unit = bool(len(c) and np.all(c == c[0]) and a.nnz >= SEARCH_MIN_NNZ)
    search_first = unit and a.nnz > FEASIBILITY_JUMP_MAX_NNZ
    if _milp_follows(a, left - budget, search_first):
        lag, x = _lagrangian_cover(a, need, c, x0, time.perf_counter() + budget)
        if search_first:
            # the MILP after it rarely improves a wide gap's plan in the time it has (the
            # US demo's gap proposals, 1.8M entries, an 8.6 s MILP after the Lagrangian's
            # 436 sites: 517 in all; the search first, 505; hand runs of 2026-12-07)
            until = time.perf_counter() + SEARCH_SHARE * (deadline - time.perf_counter())
            x = _search_after_lagrangian(a, need, c, x, lag, until)
        return lag, x, True
    logger.info("cover MILP of %s entries not run: its share of the %.1f s left is under %g "
                "times its presolve's %.1f s; the Lagrangian (and the search) take it all",
                f"{a.nnz:,}", left, MILP_MIN_PRESOLVE_MULTIPLE,
                a.nnz * HIGHS_PRESOLVE_S_PER_ENTRY)
    if not unit:
        lag, x = _lagrangian_cover(a, need, c, x0, deadline)
        return lag, x, False
    # no MILP will run after it: the bound and plan are all there is (the gap proposals of
    # the US demo, 6,900 rows x 75,837 sites, 3.6M entries, 7 s: the Lagrangian plan alone
    # 463-478, bound 376; 70 % Lagrangian then the search 450, bound 365; hand runs of
    # 2026-12-07)
    state: dict[str, Any] = {}
    lag, x = _lagrangian_cover(a, need, c, x0,
                               time.perf_counter() + LAGRANGIAN_SHARE_BEFORE_SEARCH * left,
                               state=state)
    sites, goal = float(x.sum()), _sites_goal(lag, float(c[0]))
    if sites <= goal:
        return lag, x, False  # the plan meets the bound
    if (not _wide_gap(sites, goal)
            and float(state.get("factor", 0.0)) >= LAGRANGIAN_MIN_FACTOR):
        # a gap of a site or so, and the subgradient not yet stalled: the bound goes on
        lag2, x2 = _lagrangian_cover(a, need, c, x, deadline, state=state)
        lag = max(lag, lag2)
        if c[x2].sum() < c[x].sum():
            x = x2
        if float(x.sum()) <= _sites_goal(lag, float(c[0])) or time.perf_counter() >= deadline:
            return lag, x, False
    # a wide gap, a stalled bound, or time left after it: the local search
    return lag, _search_after_lagrangian(a, need, c, x, lag, deadline, min_gap=False), False


def _milp_follows(a: sp.csr_array, after_lagrangian_s: float, search_first: bool) -> bool:
    """Whether a MILP on ``a`` is worth running in the time left after the Lagrangian
    (less the search's :data:`SEARCH_SHARE` with ``search_first``): at least
    :data:`MILP_MIN_PRESOLVE_MULTIPLE` times its presolve (a 3.5 s MILP on 2.6M entries,
    just above its presolve, kept the Lagrangian's 492 sites where the search finds 448:
    the US demo's gap proposals at 558 sites in place of 509, hand runs of 2026-12-07).
    Always for models of at most :data:`FEASIBILITY_JUMP_MAX_NNZ` entries
    (:func:`_no_time_for`)."""
    milp_s = after_lagrangian_s * (1.0 - SEARCH_SHARE if search_first else 1.0)
    return not _no_time_for(a, milp_s / MILP_MIN_PRESOLVE_MULTIPLE, HIGHS_PRESOLVE_S_PER_ENTRY)


def _sites_goal(bound: float, unit_cost: float) -> float:
    """The fewest sites a lower bound on a unit-cost plan allows (review 160: in sites,
    not cost units, for unit costs that are not whole numbers); 0 for no bound."""
    return float(np.ceil(bound / unit_cost - 1e-6)) if np.isfinite(bound) else 0.0


def _wide_gap(sites: float, goal: float) -> bool:
    """Whether a plan of ``sites`` sites is at least :data:`SEARCH_MIN_GAP_SITES` sites
    and :data:`SEARCH_MIN_GAP` of itself above the fewest a bound allows (``goal``): a gap
    the row-weighting search is run for."""
    return sites - goal >= max(SEARCH_MIN_GAP_SITES, SEARCH_MIN_GAP * sites)


def _lagrangian_proves(lag: float, value: float, integral: bool) -> bool:
    """Whether the Lagrangian bound ``lag`` proves a plan costing ``value`` optimal (the
    bound rounded up, less 1e-6 for its floating-point error, with integer costs)."""
    return bool(np.isfinite(lag)
                and (np.ceil(lag - 1e-6) if integral else lag) >= value - 1e-9)


def _search_after_lagrangian(a: sp.csr_array, need: npt.NDArray[np.int64],
                             c: npt.NDArray[np.float64], x: npt.NDArray[np.bool_],
                             lag: float, deadline: float,
                             min_gap: bool = True) -> npt.NDArray[np.bool_]:
    """The Lagrangian plan ``x`` of unit costs ``c``, improved by the row-weighting search
    until ``deadline`` when it is smaller (only when the plan is at least
    :data:`SEARCH_MIN_GAP_SITES` sites and :data:`SEARCH_MIN_GAP` above the bound ``lag``
    with ``min_gap``)."""
    sites, goal = float(x.sum()), _sites_goal(lag, float(c[0]))
    if sites <= goal or (min_gap and not _wide_gap(sites, goal)):
        return x
    xw = search_with_restarts(a, need, x, deadline=deadline, goal=goal)
    if _covers(a, need, xw) and xw.sum() < sites:
        logger.info("row-weighting search after the Lagrangian plan: %g -> %g sites",
                    sites, float(xw.sum()))
        return xw
    return x


#: A MILP after the Lagrangian runs only with at least this many times its presolve's
#: time (:data:`HIGHS_PRESOLVE_S_PER_ENTRY`); with less the Lagrangian (and search) take
#: it all (:func:`_lagrangian_first`).
MILP_MIN_PRESOLVE_MULTIPLE = 2.0

#: The Lagrangian's share of the time when no MILP runs after it, before the local search
#: takes the rest (unit costs; :func:`_lagrangian_first`).
LAGRANGIAN_SHARE_BEFORE_SEARCH = 0.7


def _with_bound(lb: float, status: str, lag: float) -> float:
    """A MILP's lower bound raised to a Lagrangian one when it ended unproven."""
    if status == "optimal" or not np.isfinite(lag):
        return lb
    return max(lb, lag) if np.isfinite(lb) else lag


#: Costs whose largest value lies outside [2**-10, 2**10] are scaled into (0.5, 1] for HiGHS.
_COST_SCALE_RANGE = (2.0**-10, 2.0**10)


def cost_scale(c: npt.ArrayLike) -> float:
    """Power of two that brings the largest cost into (0.5, 1] for the solver, or 1.

    HiGHS treats a cost of 1e20 or more as infinite and loses precision on costs far from 1
    (its tolerances are absolute); a power of two scales every cost exactly (no rounding), so
    the scaled MILP has the same optimal plans. Costs whose largest value is within
    ``[2**-10, 2**10]`` (site counts, small integer costs) are left unscaled.

    Parameters
    ----------
    c : array_like of float
        Positive finite costs.

    Returns
    -------
    float
        The factor to multiply the costs by.

    Examples
    --------
    >>> cost_scale([1.0, 1.0]), cost_scale([3e20]) * 3e20
    (1.0, 0.5082197683525802)
    """
    top = float(np.max(np.asarray(c, dtype=np.float64), initial=0.0))
    if top <= 0 or _COST_SCALE_RANGE[0] <= top <= _COST_SCALE_RANGE[1]:
        return 1.0
    return float(2.0 ** -np.ceil(np.log2(top)))


def _highs_cover_model(a: sp.csr_array, need: npt.NDArray[np.int64],
                       cs: npt.NDArray[np.float64], integer: bool):
    """``min cs.x  s.t.  A x >= need,  0 <= x <= 1`` as a ``highspy.HighsLp`` (row-wise
    matrix of ones); ``x`` integer when ``integer``."""
    import highspy

    ones = sp.csr_array((np.ones(a.nnz), a.indices, a.indptr), shape=a.shape)
    lp = lp_model(cs, ones, need, np.inf)
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * a.shape[1]
    return lp


#: HiGHS options of the cover MILPs. On the dense ~400 x 270 double covers of national N-1
#: grids HiGHS spent most of its time in root separation over a pool of thousands of cuts
#: (0.4-1.3 s at one search node), repeated after each root restart. A cut pool aged past 10
#: cuts (``mip_pool_soft_limit``, default 10,000) took 18 such MILPs from 6.75 s to 3.87 s
#: (worst 1.33 -> 0.49 s); no root restart (``mip_allow_restart``) then to 2.72 s (worst
#: 0.29 s). OR-Library scp4-6: 4.3 -> 1.7 s; the textbook 10k x 1k covers' 12 s plans and
#: bounds unchanged (hand measurements; the family benchmark in docs/benchmarks-scale.md).
MIP_OPTIONS: dict[str, int | bool] = {"mip_pool_soft_limit": 10, "mip_allow_restart": False}

#: Cover MILPs with more entries run without HiGHS's feasibility jump heuristic (it ignores
#: the time limit, at about 6 microseconds an entry here).
FEASIBILITY_JUMP_MAX_NNZ = 1_000_000

#: Seconds an entry of HiGHS's MILP presolve, which does not stop at the time limit: 88 s
#: under a 20 s limit for a 155,197 x 99,440 pool with 66.7M entries (Europe with all its
#: GeoNames places; hand measurement, HiGHS 1.16). A MILP above FEASIBILITY_JUMP_MAX_NNZ
#: whose time limit is shorter than that is not run (it would end unsolved, late).
HIGHS_PRESOLVE_S_PER_ENTRY = 1.3e-6
#: The same for the LP relaxation (presolve and the interior point's setup): 27.1 s under a
#: 7.1 s limit for a 109,852 x 91,892 component with 58.1M entries (hand measurement).
HIGHS_LP_S_PER_ENTRY = 4.7e-7
# (both well above the 1.2e-7 s an entry of only handing a model to HiGHS: 9.7 s for 85M
# entries, a world component with every GeoNames place; hand measurement)


def _no_time_for(a: sp.csr_array, time_limit_s: float, s_per_entry: float) -> bool:
    """Whether ``a`` is too big for HiGHS in ``time_limit_s``: above
    :data:`FEASIBILITY_JUMP_MAX_NNZ` entries and a limit shorter than ``s_per_entry`` a
    nonzero (:data:`HIGHS_PRESOLVE_S_PER_ENTRY`, :data:`HIGHS_LP_S_PER_ENTRY`)."""
    return (a.nnz > FEASIBILITY_JUMP_MAX_NNZ
            and float(time_limit_s) < max(a.nnz * s_per_entry, 0.01))


def _no_feasibility_jump(h: Any) -> bool:
    """Switch HiGHS's feasibility jump off (HiGHS 1.16's ignores the time limit: 82 s of it
    under a 23 s limit on a 62,950 x 45,146 component with 13.8M entries, every GeoNames
    place as a candidate; hand measurement). HiGHS before 1.11 has no such heuristic and no
    option: False, nothing to switch off."""
    return set_option(h, "mip_heuristic_run_feasibility_jump", False)


def _solve_cover_milp(
    a: sp.csr_array, need: npt.NDArray[np.int64], c: npt.NDArray[np.float64],
    x0: npt.NDArray[np.bool_], time_limit_s: float, target: float | None = None,
    cutoff: float | None = None, run: bool = True,
) -> tuple[npt.NDArray[np.bool_], str, float]:
    """Set multicover MILP with HiGHS; ``x0`` is a feasible fallback (greedy).

    With ``run`` False (:func:`_lagrangian_first` judged the time left too short) no MILP
    runs: ``x0`` is returned, optimal only when it meets ``target``.

    ``target``, when given, is a lower bound on the optimum known from elsewhere: HiGHS
    stops at the first plan that meets it (``objective_target``), which is then optimal.
    ``cutoff``, when given, limits the search to plans costing at most that much (HiGHS's
    ``objective_bound``); when none exists the status is ``"above_cutoff"`` with ``x0`` and a
    lower bound above the cutoff (the next integer for integer costs).

    Returns the chosen mask, the status and the proven lower bound.

    HiGHS sees the costs multiplied by :func:`cost_scale` (a power of two: exact), so that
    costs of 1e20 (HiGHS's infinity) and beyond solve; its objective values and bounds are
    scaled back. ``mip_abs_gap`` is 1e-6 of the scaled objective, and below half a cost unit
    for integer costs, so an integer optimum is still exact.
    """
    import highspy

    n, m = a.shape
    integral = bool(np.array_equal(c, np.round(c)))
    ub = float(c[x0].sum())
    tol = 0.5 if integral else 1e-9 * max(1.0, ub)
    if target is not None and ub <= target + tol:
        return x0, "optimal", ub  # the greedy plan meets a known lower bound
    if not run:
        return x0, "time_limit", -np.inf
    if _no_time_for(a, time_limit_s, HIGHS_PRESOLVE_S_PER_ENTRY):
        logger.info("cover MILP of %s entries not run: its presolve alone takes longer than "
                    "the %.1f s left", f"{a.nnz:,}", time_limit_s)
        return x0, "time_limit", -np.inf
    scale = cost_scale(c)
    cs = c.astype(np.float64) * scale
    h = new_highs()
    h.setOptionValue("time_limit", max(float(time_limit_s), 0.01))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", min(1e-6, 0.25 * scale) if integral else 1e-6)
    for option, value in MIP_OPTIONS.items():
        set_option(h, option, value)
    if a.nnz > FEASIBILITY_JUMP_MAX_NNZ:
        _no_feasibility_jump(h)
    lp = _highs_cover_model(a, need, cs, integer=True)
    # The greedy plan x0 is NOT passed to HiGHS as a start: HiGHS 1.16 then returns the start
    # vector instead of the solution it reports after presolve (checked below), and without
    # presolve the solve is several times slower. Its value is passed as a cutoff instead:
    # HiGHS only looks for strictly better plans (with integer costs, better by at least 1),
    # and "no such plan" proves x0 optimal.
    bound_at, above = ub - tol, False
    if cutoff is not None:
        cut = float(np.floor(cutoff + 1e-9)) if integral else float(cutoff)
        if cut + tol < ub - tol:
            bound_at, above = cut + tol, True  # only plans costing at most the cutoff
    h.setOptionValue("objective_bound", bound_at * scale)
    if target is not None:
        h.setOptionValue("objective_target", (target + tol) * scale)
    h.passModel(lp)
    logger.debug("cover MILP: %d rows x %d sites, %s entries, HiGHS limit %.1f s", n, m,
                 f"{a.nnz:,}", time_limit_s)
    run_highs(h)
    status = h.getModelStatus()
    info = h.getInfo()
    tol_b = 1e-9 * max(1.0, abs(bound_at * scale))
    beyond = status == highspy.HighsModelStatus.kOptimal and (
        (info.primal_solution_status and info.objective_function_value
         >= bound_at * scale - tol_b)
        or info.mip_dual_bound >= bound_at * scale - tol_b)
    # HiGHS 1.16 can end "optimal" with a plan at or above objective_bound (45 sites with a
    # 43.5 bound, dual bound 45, on a 427 x 214 component: tests/test_optimize.py): the
    # search below the bound is complete and empty, as with kObjectiveBound
    if beyond or status in (highspy.HighsModelStatus.kInfeasible,
                            highspy.HighsModelStatus.kObjectiveBound):
        if above:  # no plan within the cutoff
            return x0, "above_cutoff", cut + 1.0 if integral else cut
        return x0, "optimal", ub  # nothing better than the greedy plan exists
    x = np.asarray(h.getSolution().col_value) > 0.5 if info.primal_solution_status else x0
    if not np.all(a @ x.astype(np.int64) >= need) or c[x].sum() > c[x0].sum():
        x = x0  # keep a feasible plan, and never worse than the greedy one
    if (status == highspy.HighsModelStatus.kObjectiveTarget and target is not None
            and float(c[x].sum()) <= target + tol):
        return x, "optimal", float(c[x].sum())  # meets the known bound: optimal
    if status == highspy.HighsModelStatus.kOptimal:
        if abs(float(cs[x].sum()) - info.objective_function_value) > 1e-6 * max(1.0, cs.sum()):
            raise SolverError("HiGHS returned a solution inconsistent with its objective value")
        return x, "optimal", float(c[x].sum())
    if status in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kInterrupt,
                  highspy.HighsModelStatus.kIterationLimit):
        return x, "time_limit", min(float(info.mip_dual_bound) / scale, float(c[x].sum()))
    raise SolverError(f"HiGHS failed on the cover model: {h.modelStatusToString(status)}")


@dataclass(frozen=True)
class _Relaxation:
    """LP relaxation of a set multicover: a primal point and a certified lower bound.

    Attributes
    ----------
    x : numpy.ndarray
        HiGHS's LP solution (only a guide for the heuristics, never trusted for bounds).
    d : numpy.ndarray
        Reduced costs ``c - A^T y`` for HiGHS's row duals clipped to ``y >= 0``.
    bound : float
        ``y.r + sum_j min(0, d_j)`` minus a bound on its floating-point error: a valid lower
        bound on the optimum (of the LP, hence of the MILP) for *any* ``y >= 0``.
    err : float
        That error bound; with a site forced open (closed) the bound rises by
        ``max(d_j, 0)`` (``max(-d_j, 0)``), to within ``err``.
    """

    x: npt.NDArray[np.float64]
    d: npt.NDArray[np.float64]
    bound: float
    err: float


#: Share of a component's time left for its LP relaxation (:func:`_lp_guided_cover`): an
#: LP not solved in it sends the component to the Lagrangian and a MILP, much slower (the
#: proposals of Mexico's demo at 30 ms in 10 s: a 594k-entry LP not solved in 1.36 s, its
#: MILP's 2.99 s limit taking 5.20 s, 117 sites in 12.4 s; at 0.4, 115 in 8.9 s; the US
#: demo's, Brazil's, and the US at 31 ms and at k = 2 unchanged; hand runs of 2026-12-07)
LP_SHARE = 0.4

#: Components with at least this many entries solve their LP relaxation by the interior point
#: method without crossover (:func:`_cover_lp`).
LP_IPM_MIN_NNZ = 200_000

#: share of a component's time left that the row-weighting search may take (it stops
#: earlier when it stalls: :data:`coverage.solvers.cover_search.MIN_STALL_MOVES`)
SEARCH_SHARE = 0.25

#: the search runs only when the best plan is at least this many sites and this share of
#: the plan above the bound (a 1M-cell US grid's round-2 component, bound 59 and plan 60:
#: 20,000 moves for nothing; the round's whole solve 6.3 s with them, 0.7 s without)
SEARCH_MIN_GAP_SITES = 2
SEARCH_MIN_GAP = 0.01

#: ... and only on components of at least this many entries (after the reductions; a chosen
#: margin): HiGHS proves small models in a fraction of the search's 20,000 stall moves (a
#: random 112 x 54 model: MILP 0.1 s, the search 8 s; hand measurement)
SEARCH_MIN_NNZ = 10_000


def _cover_lp(a: sp.csr_array, need: npt.NDArray[np.int64], c: npt.NDArray[np.float64],
              time_limit_s: float) -> _Relaxation | None:
    """LP relaxation with HiGHS (costs scaled as for the MILP); None unless solved optimally.

    The bound is recomputed from the duals as a Lagrangian bound: relaxing ``A x >= r`` with
    multipliers ``y >= 0`` over the box ``0 <= x <= 1`` gives
    ``min_x c.x + y.(r - A x) = y.r + sum_j min(0, c_j - (A^T y)_j) <= c.x*`` for every plan
    ``x*``, whatever the accuracy of ``y``; it equals the LP optimum at HiGHS's optimal ``y``.
    The sums' rounding error is bounded by ``(n + m + max column size + 2) * 2**-52`` times
    the sum of the magnitudes involved, and subtracted.
    """
    import highspy

    n, m = a.shape
    if _no_time_for(a, time_limit_s, HIGHS_LP_S_PER_ENTRY):
        return None  # a huge model: HiGHS would overrun the time left before it stops
    scale = cost_scale(c)
    h = new_highs()
    h.setOptionValue("time_limit", max(float(time_limit_s), 0.01))
    if a.nnz >= LP_IPM_MIN_NNZ:
        # large components: the interior point method, without crossover (the bound below
        # needs only duals, and any y >= 0 gives a valid one): 5.9 s instead of 44 s by
        # simplex on a 15,460 x 5,555 component with 1.17M entries (hand measurement)
        h.setOptionValue("solver", "ipm")
        h.setOptionValue("run_crossover", "off")
    h.passModel(_highs_cover_model(a, need, c.astype(np.float64) * scale, integer=False))
    run_highs(h)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    sol = h.getSolution()
    if not sol.dual_valid:
        return None
    x = np.clip(np.asarray(sol.col_value, dtype=np.float64), 0.0, 1.0)
    y = np.maximum(np.asarray(sol.row_dual, dtype=np.float64), 0.0) / scale
    aty = sp.csr_array(a.T) @ y
    d = c - aty
    yr = float(y @ need)
    value = yr + float(np.minimum(d, 0.0).sum())
    col_max = int(np.diff(sp.csc_array(a).indptr).max(initial=0))
    mass = yr + float(np.abs(d).sum()) + float(c.sum()) + float(aty.sum())
    err = (n + m + col_max + 2) * 2.0**-52 * mass
    return _Relaxation(x, d, value - err, err)


def _integer_bound(bound: float | npt.NDArray[np.float64],
                   integral: bool) -> float | npt.NDArray[np.float64]:
    """A lower bound on plan costs rounded up to the next integer when costs are integers."""
    return np.ceil(bound) if integral else bound


def _proves(bound: float | npt.NDArray[np.float64], ub: float,
            integral: bool) -> bool | npt.NDArray[np.bool_]:
    """Whether plans costing at least ``bound`` are no better than ``ub``: the next integer
    for integer costs, within ``1e-9 * max(1, |ub|)`` otherwise (the tolerance
    :func:`_solve_cover_milp` gives a known target)."""
    if integral:
        return _integer_bound(bound, True) + 0.5 >= ub
    return bound + 1e-9 * max(1.0, abs(ub)) >= ub


def _covers(a: sp.csr_array, need: npt.NDArray[np.int64], x: npt.NDArray[np.bool_]) -> bool:
    """Whether the plan ``x`` gives every row its ``need`` sites."""
    return bool(np.all(a @ x.astype(np.int64) >= need))


def _lp_rounding(a: sp.csr_array, need: npt.NDArray[np.int64], c: npt.NDArray[np.float64],
                 x: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Plan from an LP point: open sites by decreasing ``x`` (cheaper first among equal
    values) while they cover a short row, then close redundant ones (lowest ``x``, then most
    expensive, first).

    The sites with ``x = 1`` open at once; the loops visit the other sites one by one (a
    component's sites, about 1 ms for 350 of them). Feasible whenever ``a`` is (every row
    has at least ``need`` entries).
    """
    ac = sp.csc_array(a)
    ptr, idx = ac.indptr, ac.indices
    chosen = x >= 1.0 - 1e-9
    have = a @ chosen.astype(np.int64)
    short = int((have < need).sum())
    for j in np.lexsort((c, -x)):
        if short == 0:
            break
        if chosen[j]:
            continue
        rows = idx[ptr[j]:ptr[j + 1]]
        gap = need[rows] - have[rows]
        if (gap > 0).any():
            chosen[j] = True
            have[rows] += 1
            short -= int((gap == 1).sum())
    for j in np.lexsort((-c, x)):
        if chosen[j]:
            rows = idx[ptr[j]:ptr[j + 1]]
            if np.all(have[rows] > need[rows]):
                chosen[j] = False
                have[rows] -= 1
    return chosen


def swap_descent(a: sp.csr_array, need: npt.NDArray[np.int64], c: npt.NDArray[np.float64],
                 x: npt.NDArray[np.bool_], keep: npt.NDArray[np.bool_] | None = None,
                 max_swaps: int = 50, max_pairs: int = 2_000_000) -> npt.NDArray[np.bool_]:
    """Swaps (close one site, open another no dearer) from the plan ``x`` while they help:
    each leaves no row that meets its requirement short (the opened site is in every row
    exactly at its requirement that holds the closed one, and the closed site is in no
    short row) and fixes the most rows short by one (a column count over them). All pairs
    are scored at once per swap by one sparse product. Stops when every row is met, when
    no swap fixes a row, or after ``max_swaps``; sites in ``keep`` never close. The
    (closable, opening) score table is dense: above ``max_pairs`` entries only the
    openings with the largest gains are scored. Returns the last plan (same size and no
    dearer; feasible only if the rows are met)."""
    x = np.asarray(x, dtype=bool).copy()
    a_i = sp.csr_array(a, dtype=np.int64)
    for _ in range(max_swaps):
        short = need - a_i @ x.astype(np.int64)
        if not (short > 0).any():
            break
        one = np.flatnonzero(short == 1)
        if not len(one):
            break
        gain = np.asarray(a_i[one].sum(axis=0)).ravel()
        gain[x] = 0
        cand = np.flatnonzero(gain > 0)
        closable = x.copy() if keep is None else x & ~keep
        closable[a_i[np.flatnonzero(short > 0)].indices] = False  # a short row's sites stay
        js = np.flatnonzero(closable)
        if not len(cand) or not len(js):
            break
        if len(js) * len(cand) > max_pairs:  # the dense score table: best gains only
            cand = cand[np.argsort(-gain[cand], kind="stable")[:max(1, max_pairs // len(js))]]
        t_csc = sp.csc_array(a_i[np.flatnonzero((short == 0) & (need > 0))])
        tj, tk = t_csc[:, js], t_csc[:, cand]               # tight rows x closable / new
        both = (tj.T @ tk).toarray()                        # tight rows holding j and k
        need_k = np.asarray(tj.sum(axis=0)).ravel()         # tight rows holding j
        ok = (both == need_k[:, None]) & (c[cand][None, :] <= c[js][:, None] + 1e-12)
        score = np.where(ok, gain[cand][None, :], -1)
        if score.max() <= 0:
            break
        i, k = np.unravel_index(int(np.argmax(score)), score.shape)
        x[js[i]], x[cand[k]] = False, True
    return x


def _repair_start(a: sp.csr_array, need: npt.NDArray[np.int64], c: npt.NDArray[np.float64],
                  x: npt.NDArray[np.bool_], max_swaps: int = 20) -> npt.NDArray[np.bool_]:
    """A feasible plan for one component from a plan made elsewhere (the last round of row
    generation, before rows were added): kept if it covers; else :func:`swap_descent`,
    then greedy completion and reverse deletion. Always feasible."""
    x = np.asarray(x, dtype=bool)
    if _covers(a, need, x):
        return x.copy()
    x = swap_descent(a, need, c, x, max_swaps=max_swaps)
    if _covers(a, need, x):
        return x
    done = np.zeros(len(x), dtype=bool)
    done[greedy_cover(a, need, c, start=np.flatnonzero(x))] = True
    return done


def _lp_guided_cover(
    a: sp.csr_array, need: npt.NDArray[np.int64], c: npt.NDArray[np.float64],
    x0: npt.NDArray[np.bool_], deadline: float, target: float | None = None,
    cutoff: float | None = None, lagrangian: bool = False,
) -> tuple[npt.NDArray[np.bool_], str, float, str]:
    """One component: LP bound and LP-guided plans first, the MILP only when they do not meet.

    ``lagrangian``: when the LP is not solved in its time share (a large model under a short
    limit), a Lagrangian bound and plan (:func:`_lagrangian_cover`) come first, as
    ``min_cover`` does for large components without the LP path.

    1. The LP relaxation (:func:`_cover_lp`, on up to :data:`LP_SHARE` of the time left) gives a
       certified lower bound ``L`` (rounded up for integer costs; the larger of it and
       ``target``, a bound known from elsewhere, is the goal). With a ``cutoff`` below ``L``
       the answer is ``"above_cutoff"`` at once.
    2. :func:`_lp_rounding` gives a plan; the better of it and ``x0`` is the incumbent ``U``.
       If ``U`` meets the goal it is optimal.
    3. Otherwise the MILP restricted to the LP's support (sites with ``x > 0``, plus the
       rounding plan's; it starts from the incumbent when that lies there, else from the
       rounding plan) runs with the goal as target, on up to a quarter of the time left
       (no cutoff: it is a heuristic). Its plan is optimal if it meets the goal, or if
       the restricted MILP is optimal and every site outside the support is excluded by
       reduced cost: a plan opening site ``j`` costs at least ``L_raw + max(d_j, 0)``
       (the Lagrangian bound with ``x_j = 1``), so when that is no better than ``U`` the
       best plan better than ``U``, if any, lies within the support, where none exists.
    4. Otherwise the MILP (:func:`_solve_cover_milp`) with the best plan ``U`` as cutoff and
       fallback and the goal as target, on the sites that reduced costs do not exclude
       (same test as in 3, for every site) plus those of ``U``: every plan better than
       ``U`` lies there, so the restricted optimum (or "nothing better than ``U``") is the
       optimum; at the time limit the restricted dual bound ``B`` still gives
       ``min(B, U)``, and the bound is raised to ``L`` if weaker.

    The plans are checked for feasibility before they are compared. A plan proven optimal
    in steps 2-3 that costs more than ``cutoff`` is reported as ``"above_cutoff"`` (its cost
    is then the lower bound), as :func:`_solve_cover_milp` would.

    Returns
    -------
    (mask, status, lower_bound, method)
        As :func:`_solve_cover_milp`, and ``"lp"`` when the LP settled it (steps 1-3),
        ``"milp"`` (step 4, or no LP solution in time) or ``"lagrangian"`` (no LP solution
        in time, and no time for a MILP after the Lagrangian).
    """
    integral = bool(np.array_equal(c, np.round(c)))

    def left(share: float) -> float:
        return max(0.01, share * (deadline - time.perf_counter()))

    cut = None
    if cutoff is not None:
        cut = float(np.floor(cutoff + 1e-9)) if integral else float(cutoff)

    def optimal(x: npt.NDArray[np.bool_], value: float, how: str = "lp"):
        if cut is not None and value > cut + (0.5 if integral else 1e-9 * max(1.0, value)):
            return x, "above_cutoff", value, how  # the optimum, above the cutoff
        return x, "optimal", value, how

    rel = _cover_lp(a, need, c, left(LP_SHARE))
    if rel is None:  # LP not solved in time (or odd status): the MILP as before
        lag, milp = -np.inf, True
        if lagrangian:  # a large model: the Lagrangian bound and plan first, as without LP
            lag, x0, milp = _lagrangian_first(a, need, c, x0, deadline)
            obj0 = float(c[x0].sum())
            if _lagrangian_proves(lag, obj0, integral):
                # the plan meets the bound: optimal, as the component loop says (review 162)
                return optimal(x0, obj0, "greedy")
        x, st, lb = _solve_cover_milp(a, need, c, x0, left(1.0), target, cutoff, run=milp)
        return x, st, _with_bound(lb, st, lag), "milp" if milp else "lagrangian"
    low = float(_integer_bound(rel.bound, integral))
    goal = low if target is None else max(low, float(target))
    if cut is not None and low > cut:  # integer costs: low >= cut + 1
        logger.debug("LP bound %.6g above the cutoff %.6g", low, cut)
        return x0, "above_cutoff", low, "lp"

    best = x0
    xr = _lp_rounding(a, need, c, rel.x)
    if not _covers(a, need, xr):  # not expected (the rounding completes every row): a guard
        logger.warning("LP rounding gave an infeasible plan; using the greedy one")
        xr = x0
    if c[xr].sum() < c[best].sum():
        best = xr
    ub = float(c[best].sum())
    if _proves(goal, ub, integral):
        logger.debug("LP rounding plan %.6g meets the bound %.6g", ub, goal)
        return optimal(best, ub)
    support = (rel.x > 1e-6) | xr  # (an interior point has no exact zeros)
    if not support.all():
        cols = np.flatnonzero(support)
        start = best if not np.any(best & ~support) else xr
        xs, st_s, _ = _solve_cover_milp(sp.csr_array(a[:, cols]), need, c[cols], start[cols],
                                        left(0.25), goal)
        if c[cols][xs].sum() < ub:
            best = np.zeros_like(best)
            best[cols[xs]] = True
            ub = float(c[best].sum())
        outside = rel.bound + np.maximum(rel.d[~support], 0.0) - rel.err
        if _proves(goal, ub, integral) or (st_s == "optimal"
                                           and np.all(_proves(outside, ub, integral))):
            logger.debug("LP-support MILP plan %.6g, bound %.6g: optimal", ub, goal)
            return optimal(best, ub)
    if (np.all(c == c[0]) and best.any() and a.nnz >= SEARCH_MIN_NNZ
            and _wide_gap(ub / float(c[0]), goal / float(c[0]))):
        # unit costs, a wide gap and a model HiGHS is slow on: a local search for a smaller
        # plan (a better cutoff, fewer sites that reduced costs keep): HiGHS improves the
        # plans of dense components slowly; a gap of a site or so, or a small model, it
        # closes faster than the search stalls
        logger.debug("row-weighting search on %d rows x %d sites, %d entries: plan %.6g, "
                     "bound %.6g", a.shape[0], a.shape[1], a.nnz, ub, goal)
        xw = search_with_restarts(a, need, best, deadline=time.perf_counter() + left(
            SEARCH_SHARE), goal=goal / float(c[0]))
        if _covers(a, need, xw) and c[xw].sum() < ub:
            best, ub = xw, float(c[xw].sum())
            if _proves(goal, ub, integral):
                logger.debug("row-weighting search plan %.6g meets the bound %.6g", ub, goal)
                return optimal(best, ub)
    keep = ~_proves(rel.bound + np.maximum(rel.d, 0.0) - rel.err, ub, integral) | best
    logger.debug("LP bound %.6g, LP-guided plan %.6g: MILP on %d of %d sites", goal, ub,
                 int(keep.sum()), len(keep))
    if keep.all():
        x, st, lb = _solve_cover_milp(a, need, c, best, left(1.0), goal, cutoff)
    else:
        cols = np.flatnonzero(keep)
        xk, st, lb = _solve_cover_milp(sp.csr_array(a[:, cols]), need, c[cols], best[cols],
                                       left(1.0), goal, cutoff)
        x = np.zeros_like(best)
        x[cols[xk]] = True
    if st == "time_limit":
        lb = max(lb, low)
    return x, st, lb, "milp"


def min_cover(
    reach: sp.sparray | sp.spmatrix,
    requirement: int | npt.ArrayLike = 1,
    cost: npt.ArrayLike | None = None,
    required: npt.ArrayLike | None = None,
    time_limit_s: float = 60.0,
    random_state: int = 0,
    lagrangian_min_rows: int = 5_000,
    known_lower_bound: float | None = None,
    max_objective: float | None = None,
    lp_min_rows: int = 8,
    start: npt.ArrayLike | None = None,
) -> CoverResult:
    """Minimum-cost set multicover, exact with HiGHS after safe reductions.

    Every row ``i`` must have at least ``min(requirement[i], |N_i|)`` chosen columns among its
    stored entries ``N_i``; rows with no entry are ignored (they are uncoverable, not
    infeasible).

    Parameters
    ----------
    reach : scipy.sparse matrix or array, shape (n_rows, n_sites)
        Stored entries mark the (row, site) pairs that count as covered (values are ignored).
    requirement : int or array_like of int, default 1
        Required number of chosen sites per row (2 for N-1 geo-redundancy).
    cost : array_like of float, optional
        Cost per site; default 1 (minimise the number of sites).
    required : array_like of bool or int, optional
        Sites that must be open (existing sites): a boolean mask over the sites or their
        column indices, as every matrix solver takes it (indices were read as a mask and
        broadcast: ``required=[3]`` opened every site; tester 145).
    time_limit_s : float, default 60
        Total HiGHS time limit, s. The best plan found is returned when it hits.
    random_state : int, default 0
        Seed of the row hashing used to merge identical rows.
    lagrangian_min_rows : int, default 5_000
        Components with at least this many rows after the reductions get a Lagrangian
        (subgradient) bound and plan, on up to a quarter of the time left (30 s at most),
        before the MILP: the bound is reported when HiGHS ends with a weaker one, the plan
        is the MILP's cutoff and fallback when better than the greedy one. On the LP path
        (``lp_min_rows``) every component whose LP is not solved in its time share gets
        them, whatever its size (the LP's bound is the stronger when it comes; a 2 s
        budget-sweep solve at 40 ms, N-1, on a 1M-cell US grid, whose 2,615-row component
        with 633k entries needs 1.5-2.5 s for its LP: bound 7 -> 26 sites, plan 46 -> 43,
        hand measurement).
    known_lower_bound : float, optional
        A lower bound on the optimum known from elsewhere (row generation: the optimum of a
        relaxation with a subset of these rows). The largest component's solve stops at the
        first plan that meets what the bound leaves for it, and that plan is reported as
        optimal; the claim is only as valid as the bound passed.
    max_objective : float, optional
        Only plans costing at most this much are of interest (a decision question: "is
        there a cover within this budget?", e.g. p-center's feasibility test). HiGHS then
        searches below this cutoff only, which proves "no" much faster than the optimum.
        When no such plan exists the status is ``"above_cutoff"``: ``sites`` is a feasible
        (not optimal) plan, the optimum is strictly above ``max_objective``, and
        ``lower_bound`` is at least ``max_objective + 1`` for integer costs (equal to
        ``max_objective`` otherwise). Plans within the cutoff are solved as without it.
    lp_min_rows : int, default 8
        Components with at least this many rows (after the reductions) first get the LP
        relaxation's bound and LP-guided plans (:func:`_lp_guided_cover`): a plan that meets
        the bound is optimal without a MILP; otherwise the bound is the MILP's target and
        the best plan its cutoff. Smaller components go to the MILP directly (measured on
        national row-generation models: below about 6 rows the MILP alone is faster, 0.4
        against 0.5 ms; from 10 rows the LP path is 4x faster, 40x on 400-row components).
    start : array_like of int, optional
        A plan from elsewhere (row generation: the last round's plan, before rows were
        added), as site indices. Its part in each component, repaired when it no longer
        covers (:func:`_repair_start`), replaces the greedy plan as the component's start
        when cheaper. Only a starting point: the result is as exact without it.

    Returns
    -------
    CoverResult

    Notes
    -----
    Safe reductions before the solve, each preserving the optimum:

    1. requirements are capped at ``|N_i|``; required sites are fixed open;
    2. identical rows merge, keeping the largest requirement (hash grouping, verified entry by
       entry), once on the whole matrix and again after step 4 removes the fixed sites;
    3. a row whose remaining requirement equals its number of free sites forces all of them
       open (repeated to a fix point);
    4. rows already satisfied by fixed sites are dropped;
    5. dominated rows are dropped: row ``i`` goes when another row ``k`` has
       ``N_k ⊆ N_i`` and ``r_k >= r_i`` (any feasible solution satisfies ``i`` through ``k``);
       candidates come from each row's rarest column, tested on bit sets (complete);
    6. dominated columns are dropped: site ``j`` goes when at least ``max r_i`` (over its rows)
       other sites each cover all of its rows at no higher cost (one dominator is not enough
       for ``r >= 2``: both may be needed; see :func:`_drop_dominated_cols` for the proof);
       steps 2 and 5 are repeated on the smaller rows;
    7. the bipartite row-site graph splits into connected components, solved separately.

    Each component first gets a greedy multicover (reverse deletion of redundant columns), the
    upper bound and fallback (large ones also a Lagrangian bound and plan, see
    ``lagrangian_min_rows``). Components with at least ``lp_min_rows`` rows then get the LP
    relaxation: a certified bound, an LP rounding plan and the MILP on the LP's support;
    a plan meeting the bound is optimal without the full MILP (see
    :func:`_lp_guided_cover`). Otherwise the best plan is HiGHS's cutoff (and the LP bound
    its target, sites excluded by reduced costs removed); HiGHS then proves optimality or
    returns its best solution and dual bound at the time limit (the better of its solution
    and the fallback is kept).
    Column dominance with a single dominator is *not* used: for requirements above 1 a
    dominated column may still be needed as a second site.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> a = sp.csr_array([[1, 1, 0], [0, 1, 1], [1, 0, 1]])
    >>> res = min_cover(a, requirement=2)
    >>> res.objective, res.status
    (3.0, 'optimal')
    """
    t0 = time.perf_counter()
    deadline = t0 + float(time_limit_s)
    a = reach_pattern(reach)
    n, m = a.shape
    r = np.minimum(requirement_array(requirement, n), np.diff(a.indptr))
    c = np.ones(m) if cost is None else np.asarray(cost, dtype=np.float64)
    if c.shape != (m,) or not np.all(np.isfinite(c)) or (c <= 0).any():
        raise ValueError("cost must be one finite positive value per site")
    fixed = required_mask(required, m)  # (a mask or indices, as every solver takes it)
    n_required = int(fixed.sum())
    # identical rows first, on the whole matrix (cheap, and national inputs repeat a lot)
    n_uncoverable = int((np.diff(a.indptr) == 0).sum())
    nonempty = np.diff(a.indptr) > 0
    rng = np.random.default_rng(random_state)
    a, r = merge_identical_rows(sp.csr_array(a[nonempty]), r[nonempty], rng)
    n_distinct = a.shape[0]
    while True:  # forced columns, to a fix point
        have = a @ fixed.astype(np.int64)
        free_count = np.diff(a.indptr) - have
        need = r - have
        tight = (need > 0) & (need >= free_count)
        if not tight.any():
            break
        newly = (sp.csr_array(a[tight]).T @ np.ones(int(tight.sum()))) > 0
        newly &= ~fixed
        if not newly.any():
            break
        fixed |= newly
    have = a @ fixed.astype(np.int64)
    need = np.maximum(r - have, 0)
    active = need > 0
    free_cols = np.flatnonzero(~fixed)
    sub = sp.csr_array(a[active][:, free_cols])
    sub_need = need[active]
    n_active = int(active.sum())
    sub, sub_need = merge_identical_rows(sub, sub_need, rng)  # equal once fixed sites go
    n_merged = sub.shape[0]
    # the dominance reductions are optional (skipping one keeps the model exact): none
    # starts, and no block of one, after a share of the time limit, nor one whose setup
    # (before its first block) would end after it
    reduce_by = t0 + REDUCTION_SHARE * float(time_limit_s)
    skipped = False

    def fits(model: sp.csr_array) -> bool:  # whether a reduction's setup ends in time
        nonlocal skipped
        ok = reduce_by - time.perf_counter() > model.nnz * DOMINANCE_SETUP_S_PER_ENTRY
        skipped |= not ok
        return ok

    def drop_rows(model: sp.csr_array, need: npt.NDArray[np.int64]
                  ) -> tuple[sp.csr_array, npt.NDArray[np.int64], int]:
        """The model without its dominated rows (when the reduction fits), and how many."""
        keep = (drop_dominated_rows(model, need, deadline=reduce_by) if fits(model)
                else np.ones(model.shape[0], dtype=bool))
        if keep.all():  # (a slice copies the whole model: about 1 s at 66.7M entries)
            return model, need, 0
        return sp.csr_array(model[keep]), need[keep], int((~keep).sum())

    sub, sub_need, n_rows_dominated = drop_rows(sub, sub_need)
    keep_cols = (_drop_dominated_cols(sub, sub_need, c[free_cols], deadline=reduce_by)
                 if fits(sub) else np.ones(sub.shape[1], dtype=bool))
    n_cols_dominated = int((~keep_cols).sum())
    if n_cols_dominated:  # rows lose columns: more of them may now coincide or dominate
        free_cols = free_cols[keep_cols]
        sub = sp.csr_array(sub[:, np.flatnonzero(keep_cols)])
        n_before = sub.shape[0]
        sub, sub_need = merge_identical_rows(sub, sub_need, rng)
        n_merged -= n_before - sub.shape[0]
        sub, sub_need, n_dropped = drop_rows(sub, sub_need)
        n_rows_dominated += n_dropped
    reductions_cut = skipped or _past(reduce_by)
    used = np.bincount(sub.indices, minlength=sub.shape[1]) > 0
    cols = free_cols[used]
    if not used.all():
        sub = sp.csr_array(sub[:, np.flatnonzero(used)])
    cc = c[cols]
    n_comp, labels = _bipartite_components(sub)
    row_lab, col_lab = labels[: sub.shape[0]], labels[sub.shape[0]:]
    reductions = {
        "rows": n,
        "rows_uncoverable": n_uncoverable,
        "sites_required": n_required,
        "sites_forced": int(fixed.sum()) - n_required,
        "rows_merged_identical": (n - n_uncoverable - n_distinct) + (n_active - n_merged),
        "rows_satisfied_by_fixed": n_distinct - n_active,
        "rows_dominated": n_rows_dominated,
        "sites_dominated": n_cols_dominated,
        "rows_in_model": int(sub.shape[0]),
        "sites_in_model": int(len(cols)),
        "components": int(n_comp),
        "dominance_cut_short": int(reductions_cut),
    }
    logger.info("cover reductions in %.1f s: %s", time.perf_counter() - t0, reductions)
    start_mask = None
    if start is not None:
        start_arr = np.asarray(start)
        if start_arr.dtype == bool:
            raise ValueError("start takes site indices, not a boolean mask "
                             "(np.flatnonzero(mask) gives them)")
        start_idx = start_arr.astype(np.int64).ravel()
        if len(start_idx) and (start_idx.min() < 0 or start_idx.max() >= m):
            raise ValueError(f"start holds site indices outside 0..{m - 1}")
        start_mask = np.zeros(m, dtype=bool)
        start_mask[start_idx] = True
    chosen = np.zeros(len(cols), dtype=bool)
    statuses, bound = [], 0.0
    methods: dict[str, int] = {}
    # solve components smallest first, each within its share of the time left by entries
    # (its own over its and the later ones'; what it leaves passes on): with all of it, a
    # 6,154-row component took 28 of the 31 s a 71M-entry one needed for its bound
    order = np.argsort(np.bincount(row_lab, minlength=n_comp), kind="stable")
    comp_nnz = np.bincount(row_lab, weights=np.diff(sub.indptr), minlength=n_comp)
    nnz_from = np.cumsum(comp_nnz[order][::-1])[::-1]  # this and the later ones' entries
    position = np.empty(n_comp, dtype=np.int64)
    position[order] = np.arange(n_comp)
    rows_by = np.argsort(row_lab, kind="stable")
    row_starts = np.searchsorted(row_lab[rows_by], np.arange(n_comp + 1))
    cols_by = np.argsort(col_lab, kind="stable")  # ascending within a component
    col_starts = np.searchsorted(col_lab[cols_by], np.arange(n_comp + 1))
    for comp in order:
        rows = rows_by[row_starts[comp]:row_starts[comp + 1]]
        ccols = cols_by[col_starts[comp]:col_starts[comp + 1]]
        block = sp.csr_array(sub[rows][:, ccols])
        x0 = np.zeros(len(ccols), dtype=bool)
        x0[greedy_cover(block, sub_need[rows], cc[ccols])] = True
        if "above_cutoff" in statuses:  # the answer is known: any feasible plan will do
            chosen[ccols[x0]] = True
            statuses.append("above_cutoff")
            methods["greedy"] = methods.get("greedy", 0) + 1
            continue
        if start_mask is not None:  # a plan from elsewhere, repaired, when it is better
            xs = _repair_start(block, sub_need[rows], cc[ccols], start_mask[cols[ccols]])
            if cc[ccols][xs].sum() < cc[ccols][x0].sum():
                x0 = xs
        # what the cutoff leaves for this component (the others cost at least their bounds)
        cutoff = (None if max_objective is None
                  else float(max_objective) - float(c[fixed].sum()) - bound)
        now = time.perf_counter()
        share = comp_nnz[comp] / max(nnz_from[position[comp]], 1.0)
        left = max(deadline - now, 0.0)
        # at least MIN_COMPONENT_S of it: a small hard component before a huge one
        comp_deadline = now + max(left * min(max(share, 0.0), 1.0),
                                  min(left, MIN_COMPONENT_S))
        lag, milp = -np.inf, True
        if (lagrangian_min_rows <= block.shape[0] < lp_min_rows and len(ccols) > 1
                and x0.any()):
            # large models without the LP path: HiGHS may not finish even the root LP in
            # time; a Lagrangian bound (and its plan as cutoff and fallback) first, on a
            # share of the time left (the LP path's interior-point bound is stronger: 592.5
            # against 528.6 after 15 s on a 15,460-row component, hand measurement)
            lag, x0, milp = _lagrangian_first(block, sub_need[rows], cc[ccols], x0,
                                              comp_deadline)
        obj0 = float(cc[ccols][x0].sum())
        integral = bool(np.array_equal(cc[ccols], np.round(cc[ccols])))
        proven = _lagrangian_proves(lag, obj0, integral)
        if len(ccols) == 1 or x0.sum() == 0 or proven:
            x, st, lb, how = x0, "optimal", obj0, "greedy"
        else:
            target = None
            if (known_lower_bound is not None and comp == order[-1]
                    and all(s == "optimal" for s in statuses)):
                # the other components are solved exactly: what the bound leaves for this one
                target = float(known_lower_bound) - float(c[fixed].sum()) - bound
            if block.shape[0] >= lp_min_rows:
                x, st, lb, how = _lp_guided_cover(
                    block, sub_need[rows], cc[ccols], x0, comp_deadline, target, cutoff,
                    lagrangian=bool(x0.any()))
            else:
                x, st, lb = _solve_cover_milp(block, sub_need[rows], cc[ccols], x0,
                                              comp_deadline - time.perf_counter(), target,
                                              cutoff, run=milp)
                how = "milp" if milp else "lagrangian"
            lb = _with_bound(lb, st, lag)
            # every row needs its r_i sites, each at least its cheapest column's cost: a
            # bound that needs no solve (tester 172: N-2 with domains ran out of time in
            # the reductions and reported 3 sites against a bound of 2)
            floor = _row_floor(block, sub_need[rows], cc[ccols])
            lb = floor if not np.isfinite(lb) else max(float(lb), floor)
        chosen[ccols[x]] = True
        statuses.append(st)
        methods[how] = methods.get(how, 0) + 1
        bound += lb if np.isfinite(lb) else 0.0  # no bound yet: the trivial one
    sites = np.union1d(np.flatnonzero(fixed), cols[chosen]).astype(np.int64)
    objective = float(c[sites].sum())
    status = "optimal" if all(s == "optimal" for s in statuses) else "time_limit"
    if "above_cutoff" in statuses:
        status = "above_cutoff"
    lower = float(c[fixed].sum()) + bound
    if status == "optimal":
        lower = objective
    elif np.array_equal(c, np.round(c)):
        lower = float(np.ceil(lower - 1e-6))
    lower = min(lower, objective)
    if status == "time_limit" and objective <= lower + 1e-9 * max(1.0, abs(objective)):
        status, lower = "optimal", objective  # the bounds (rounded up) meet the plan
    gap = 0.0 if objective == 0 else (objective - lower) / objective
    logger.info("cover: %s sites, bound %s, status %s, %.1f s (components solved by %s)",
                objective, lower, status, time.perf_counter() - t0, methods)
    return CoverResult(sites, objective, lower, status, gap, time.perf_counter() - t0, reductions,
                       methods)
