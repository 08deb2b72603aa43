"""Set-multicover rows that make a plan survive whole failure domains, not single sites.

A plan without a load counts sites: every demand point ``i`` needs ``min(k + 1, |N_i|)``
chosen sites among its candidates in budget ``N_i``. With shared-risk failure domains (a
``failure_domain`` column: sites on one power feed, in one building; or sites within
``--domain-radius-km`` of each other) two of those sites may fail together. The point
needs its chosen sites in ``r_i = min(k + 1, |D_i|)`` domains,
``D_i`` the domains of ``N_i``. With ``M_i`` the domains holding two or more of ``N_i``:

    the chosen sites of ``N_i`` lie in at least ``r_i`` domains if and only if, for every
    set ``F`` of at most ``r_i - 1`` domains of ``M_i``, at least ``r_i - |F|`` chosen
    sites of ``N_i`` lie outside ``F``.

If they lie in ``r_i`` domains or more, removing ``|F|`` domains leaves ``r_i - |F|`` of
them, each with a site. If they lie in ``t < r_i`` domains, take ``F`` their domains in
``M_i`` (``|F| <= t <= r_i - 1``): the others hold one site each of ``N_i``, so exactly
``t - |F| < r_i - |F|`` chosen sites lie outside ``F``, and that row is violated.

``F`` empty is the plain row (kept with ``min(k + 1, |N_i|)``, which also keeps single
sites' failures); the rows here are the others: at N-1 one per domain of ``M_i``, at N-2
also one per pair. A point's rows depend only on its set ``N_i``, so they are built once
per distinct set (US census tracts x PeeringDB facilities at 30 ms: 85,395 points, 3,888
sets, hand run), and identical rows are merged (the largest requirement kept). Each is
a row of the same multicover, so :func:`~coverage.solvers.cover.min_cover` and the
k-median (with weight 0) take them unchanged (``docs/capacity.md``, "Domains in a plan
without a load").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp


class DomainRowsTooLarge(Exception):
    """Row generation's failure domains' rows passed their entry limit
    (``lazy_cover(max_domain_entries=...)``): the caller counts single sites instead."""


@dataclass(frozen=True)
class DomainRows:
    """The rows of :func:`domain_rows`.

    Attributes
    ----------
    matrix : scipy.sparse.csr_array
        The rows of every (point, set of domains ``F``): the point's stored entries outside
        ``F`` (the values of the matrix given, from one of the points with that set),
        identical rows merged.
    requirement : numpy.ndarray
        ``r_i - |F|`` of every row (the largest of identical rows').
    """

    matrix: sp.csr_array
    requirement: npt.NDArray[np.int64]


def domain_codes(domains: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Integer code of every candidate's failure domain (labels compared as text)."""
    codes, _ = pd.factorize(pd.Series(np.asarray(domains, dtype=object)).astype(str))
    return np.asarray(codes, dtype=np.int64)


def _distinct_sets(matrix: Any) -> sp.csr_array:
    """The rows of ``matrix`` with distinct column sets (indices sorted)."""
    from .cover import identical_row_groups

    a = sp.csr_array(matrix, copy=True)
    a.sort_indices()
    groups = identical_row_groups(a, np.random.default_rng(0))
    if groups is None:  # a hash collision: every row (still exact)
        return a
    return sp.csr_array(a[np.asarray(groups[0], dtype=np.int64)])


def _point_domains(a: sp.csr_array, codes: npt.NDArray[np.int64], k: int,
                   ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                              npt.NDArray[np.int64], npt.NDArray[np.int64],
                              npt.NDArray[np.int64], int]:
    """Per stored entry its domain; per (point, domain) pair, sorted, the point, the domain
    and how many of the point's candidates it holds; ``r_i``; the number of codes."""
    n = a.shape[0]
    n_codes = int(codes.max()) + 1 if len(codes) else 1
    pair_row = np.repeat(np.arange(n, dtype=np.int64), np.diff(a.indptr))
    pair_dom = codes[a.indices]
    key, per = np.unique(pair_row * n_codes + pair_dom, return_counts=True)
    key_row = key // n_codes
    n_dom = np.bincount(key_row, minlength=n).astype(np.int64)
    return (pair_dom, key_row, key % n_codes, per.astype(np.int64),
            np.minimum(k + 1, n_dom), n_codes)


def row_domains(matrix: Any, codes: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """The number of distinct failure domains among every row's stored entries."""
    a = sp.csr_array(matrix)
    codes = np.asarray(codes, dtype=np.int64)
    if not a.nnz:
        return np.zeros(a.shape[0], dtype=np.int64)
    _, key_row, _, _, _, _ = _point_domains(a, codes, 0)
    return np.bincount(key_row, minlength=a.shape[0]).astype(np.int64)


def domain_row_entries(matrix: Any, codes: npt.ArrayLike, failures: int) -> float:
    """An upper bound on the entries :func:`domain_rows` would build: every set ``F`` of
    1 to ``r_i - 1`` of a point's multi-site domains times the point's candidates (each
    row keeps those outside ``F``). Cheap: no row is built."""
    from scipy.special import comb

    a = sp.csr_array(matrix)
    codes = np.asarray(codes, dtype=np.int64)
    if not a.nnz:
        return 0.0
    a = _distinct_sets(a)
    _, key_row, _, per, r, _ = _point_domains(a, codes, int(failures))
    n_multi = np.bincount(key_row[per >= 2], minlength=a.shape[0])
    sets = np.zeros(a.shape[0], dtype=np.float64)
    for size in range(1, int(failures) + 1):
        sets += np.where(r - 1 >= size, comb(n_multi, size), 0.0)
    return float((sets * np.diff(a.indptr)).sum())


def domain_rows(matrix: Any, codes: npt.ArrayLike, failures: int) -> DomainRows:
    """The rows that, with the plain ones, make every point's chosen sites in budget lie
    in ``min(k + 1, |D_i|)`` failure domains (the module's proof).

    Parameters
    ----------
    matrix : scipy.sparse array, shape (n_points, n_candidates)
        Points x candidates in budget; any stored entry counts (its value is carried).
    codes : array_like of int
        Failure domain code of every candidate (:func:`domain_codes`).
    failures : int
        k.

    Returns
    -------
    DomainRows
    """
    full = sp.csr_array(matrix)
    codes = np.asarray(codes, dtype=np.int64)
    if len(codes) != full.shape[1]:
        raise ValueError(f"{len(codes)} domain codes for {full.shape[1]} candidates")
    a = _distinct_sets(full)  # a point's rows depend on its set only
    matrix_, requirement, _ = _rows_by_point(a, codes, int(failures))
    if not matrix_.shape[0]:
        return DomainRows(matrix_, requirement)
    from .cover import merge_identical_rows

    # identical rows: one, with the largest requirement
    return DomainRows(*merge_identical_rows(matrix_, requirement, np.random.default_rng(1)))


def domain_rows_by_point(matrix: Any, codes: npt.ArrayLike, failures: int,
                         ) -> tuple[sp.csr_array, npt.NDArray[np.int64],
                                    npt.NDArray[np.int64]]:
    """:func:`domain_rows` without merging: every row with the point it belongs to (for
    a model where each point's rows hold only when that point counts, e.g. the
    ``--max-sites`` objective's level 2).

    Returns
    -------
    matrix : scipy.sparse.csr_array
        One row per (point, set of domains ``F``): the point's entries outside ``F``.
    requirement : numpy.ndarray
        ``r_i - |F|`` of every row.
    point : numpy.ndarray
        The row of ``matrix`` (the argument) each row belongs to.
    """
    a = sp.csr_array(matrix, copy=True)
    a.sort_indices()
    codes = np.asarray(codes, dtype=np.int64)
    if len(codes) != a.shape[1]:
        raise ValueError(f"{len(codes)} domain codes for {a.shape[1]} candidates")
    return _rows_by_point(a, codes, int(failures))


def _rows_by_point(a: sp.csr_array, codes: npt.NDArray[np.int64], k: int,
                   ) -> tuple[sp.csr_array, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The rows of every point of ``a`` (indices sorted) and set ``F`` (the module's
    proof), their requirements and points, unmerged."""
    n, m = a.shape
    counts = np.diff(a.indptr).astype(np.int64)
    pair_dom, key_row, key_dom, per, r, n_codes = _point_domains(a, codes, k)
    # M_i: the domains holding two or more of N_i, sorted by point then domain
    multi = per >= 2
    m_row, m_dom = key_row[multi], key_dom[multi]
    m_start = np.searchsorted(m_row, np.arange(n + 1))
    t_row = m_row[r[m_row] >= 2]  # sets F of size 1 (r_i - 1 >= 1)
    t_dom = m_dom[r[m_row] >= 2][:, None]
    blocks: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
    size = 1
    while len(t_row):
        blocks.append((t_row, t_dom))
        # sets of size + 1: add a domain of M_i above the set's last one
        keep = r[t_row] - 1 >= size + 1
        t_row, t_dom = t_row[keep], t_dom[keep]
        if not len(t_row):
            break
        first = np.searchsorted(m_row * n_codes + m_dom, t_row * n_codes + t_dom[:, -1],
                                side="right")
        extra = m_start[t_row + 1] - first
        rep = np.repeat(np.arange(len(t_row)), extra)
        offset = np.arange(len(rep)) - np.repeat(np.cumsum(extra) - extra, extra)
        t_dom = np.column_stack([t_dom[rep], m_dom[np.repeat(first, extra) + offset]])
        t_row = t_row[rep]
        size += 1
    mats, reqs, points = [], [], []
    for rows, doms in blocks:
        length = counts[rows]
        rep = np.repeat(np.arange(len(rows)), length)
        pos = (np.repeat(a.indptr[rows], length)
               + np.arange(len(rep)) - np.repeat(np.cumsum(length) - length, length))
        pos = pos.astype(np.int64)
        keep = np.ones(len(pos), dtype=bool)
        for j in range(doms.shape[1]):
            keep &= pair_dom[pos] != doms[rep, j]
        kept = np.bincount(rep[keep], minlength=len(rows))
        indptr = np.concatenate([[0], np.cumsum(kept)])
        mats.append(sp.csr_array((a.data[pos[keep]], a.indices[pos[keep]], indptr),
                                 shape=(len(rows), m)))
        reqs.append(r[rows] - doms.shape[1])
        points.append(rows)
    if not mats:
        return (sp.csr_array((0, m), dtype=a.dtype), np.zeros(0, dtype=np.int64),
                np.zeros(0, dtype=np.int64))
    return (sp.csr_array(sp.vstack(mats, format="csr")),
            np.concatenate(reqs).astype(np.int64),
            np.concatenate(points).astype(np.int64))


def domain_short(source: Any, sites: npt.ArrayLike, have: npt.NDArray[np.int64],
                 requirement: npt.NDArray[np.int64], codes: npt.NDArray[np.int64],
                 failures: int, n_domains: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The cells that meet their count under ``sites`` (``have`` of them in budget, at
    least ``requirement``) but whose sites in budget lie in fewer than
    ``min(k + 1, |D_i|)`` failure domains.

    The pairs of ``sites`` are read (:meth:`coverage.solvers.rowgen.RowSource.rows` of
    ``source``, few columns: cheap) for the cells with two or more of them; ``|D_i|`` only
    for those in fewer than ``k + 1`` domains, from their whole rows, kept in
    ``n_domains`` (``-1``: not known yet; updated in place) for the next call.
    """
    sites = np.asarray(sites, dtype=np.int64)
    cells = np.flatnonzero((have >= requirement) & (have >= 2))
    if not len(cells) or not len(sites):
        return np.zeros(0, dtype=np.int64)
    spans = np.concatenate([
        row_domains(source.rows(part, sites=sites), codes)
        for part in np.array_split(cells, max(1, len(cells) // 200_000))])
    few = cells[spans < failures + 1]
    spans = spans[spans < failures + 1]
    unknown = few[n_domains[few] < 0]
    for part in np.array_split(unknown, max(1, len(unknown) // 50_000)):
        if len(part):
            n_domains[part] = row_domains(source.rows(part), codes)
    return few[spans < np.minimum(failures + 1, n_domains[few])]


def drop_redundant(pattern: Any, sites: npt.ArrayLike, requirement: npt.ArrayLike,
                   need: npt.ArrayLike, codes: npt.ArrayLike, *,
                   required: npt.ArrayLike | None = None, cost: npt.ArrayLike | None = None,
                   deadline: float | None = None) -> npt.NDArray[np.int64]:
    """Reverse delete: the chosen ``sites`` less those every point can do without.

    A site is dropped when each point within its budget keeps ``requirement`` chosen sites
    in budget and its chosen sites in ``need`` failure domains without it (the plain rows
    and the domains' rows of the whole ``pattern``, every point, not only those whose
    rows were generated). Sites are tried one at a time, the costliest first (unit costs:
    those in budget of the fewest points first), each against the plan as it stands, so
    the result still meets every point and no single site of it can be dropped. A loop
    over the chosen sites, each touching its own points only; it stops at ``deadline``
    (``time.perf_counter()``) with what it has dropped so far. Review 157: a plan
    completed from a round's (its sites fixed, plus what its short points need) kept
    sites the additions made redundant, 132 where 113 do (a 4,000 x 400 N-2 instance
    with 64 domains, hand run).

    Parameters
    ----------
    pattern : scipy.sparse array, shape (n_points, n_candidates)
        Points x candidates in budget (any stored entry counts).
    sites : array_like of int
        The plan's sites (meeting every point).
    requirement : array_like of int
        Sites in budget each point needs (``min(k + 1, |N_i|)``).
    need : array_like of int
        Failure domains each point's chosen sites must span (``min(k + 1, |D_i|)``).
    codes : array_like of int
        Failure domain code of every candidate.
    required : array_like of bool, optional
        Sites that stay open.
    cost : array_like of float, optional
        Cost of every candidate (the order tried).
    deadline : float, optional
        When to stop.

    Returns
    -------
    numpy.ndarray
        The sites kept, sorted.
    """
    import time

    csc = sp.csc_array(pattern)
    csc.sort_indices()
    # every stored entry counts as one, whatever its value (review 159: latencies as
    # values were summed as site counts)
    csc = sp.csc_array((np.ones(csc.nnz, dtype=np.int64), csc.indices, csc.indptr),
                       shape=csc.shape)
    m = csc.shape[1]
    codes = np.asarray(codes, dtype=np.int64)
    requirement = np.asarray(requirement, dtype=np.int64)
    need = np.asarray(need, dtype=np.int64)
    chosen = np.zeros(m, dtype=bool)
    chosen[np.asarray(sites, dtype=np.int64)] = True
    col_pts = np.diff(csc.indptr)
    have = np.asarray(sp.csr_array(csc) @ chosen.astype(np.int64)).ravel()
    mine = sp.csr_array(csc[:, np.flatnonzero(chosen)])
    spans = row_domains(sp.csr_array((mine.data, np.flatnonzero(chosen)[mine.indices],
                                      mine.indptr), shape=csc.shape), codes)
    keep = np.zeros(m, dtype=bool) if required is None else np.asarray(required, dtype=bool)
    order = np.flatnonzero(chosen & ~keep)
    if cost is not None:
        c = np.asarray(cost, dtype=np.float64)
        order = order[np.lexsort((col_pts[order], -c[order]))]
    else:
        order = order[np.argsort(col_pts[order], kind="stable")]
    for j in order:
        if deadline is not None and time.perf_counter() > deadline:
            break
        pts = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        if (have[pts] - 1 < requirement[pts]).any():
            continue
        # the points whose only chosen site in budget of j's domain is j lose a domain
        same = np.flatnonzero(chosen & (codes == codes[j]))
        same = same[same != j]
        lose = np.ones(len(pts), dtype=bool)
        if len(same):
            others = np.concatenate([csc.indices[csc.indptr[s]:csc.indptr[s + 1]]
                                     for s in same])
            lose = ~np.isin(pts, others)
        if (spans[pts[lose]] - 1 < need[pts[lose]]).any():
            continue
        chosen[j] = False
        have[pts] -= 1
        spans[pts[lose]] -= 1
    return np.flatnonzero(chosen).astype(np.int64)
