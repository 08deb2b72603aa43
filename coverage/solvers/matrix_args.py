"""Argument checks shared by the matrix solvers (cover, p-median, max-cover, p-center, the
capacity checks): a reach matrix's pairs, cost entries, the facility count ``p``, the
failure count and the ``required`` facilities, with the same messages everywhere."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = ["cost_entries", "facility_count", "failure_count", "reach_pattern",
           "required_mask"]


def reach_pattern(reach: Any) -> sp.csr_array:
    """The pairs of a reach matrix, each once, as a 0/1 int8 CSR with sorted indices.

    Sparse input: its stored entries are the pairs, values ignored and explicit zeros
    included (a pair stored twice is one pair). Dense input: its nonzero entries. Every
    solver reads a reach this way, so one matrix gives one answer everywhere.

    Parameters
    ----------
    reach : scipy.sparse array or matrix, or array_like
        ``(n_points, n_sites)``: which sites each point can use.

    Returns
    -------
    scipy.sparse.csr_array
        ``reach`` itself when it already is that pattern (int8, each pair once, sorted,
        every value 1); else a new matrix. The caller's arrays are never changed (an
        unsorted one gets a sorted copy: 0.1 s at 10M pairs, hand measurement).

    Raises
    ------
    ValueError
        A dense ``reach`` that is not 2-D or holds NaN or infinity.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> odd = sp.csr_array(([2.5, 0.0, 1.0, 1.0], [1, 0, 1, 1], [0, 2, 4]), shape=(2, 2))
    >>> reach_pattern(odd).toarray().tolist()
    [[1, 1], [0, 1]]
    """
    if not sp.issparse(reach):
        dense = np.asarray(reach)
        if dense.ndim != 2:
            raise ValueError("reach must be a 2-D array (n_points x n_sites)")
        if dense.dtype.kind in "fc" and not np.all(np.isfinite(dense)):
            raise ValueError("reach must be a finite 0/1 pattern; for a cost matrix with "
                             "+inf (unreachable) pass cost <= radius")
        return sp.csr_array((dense != 0).astype(np.int8))
    a = reach if isinstance(reach, sp.csr_array) else sp.csr_array(reach)  # (shared arrays)
    if a.ndim != 2:
        raise ValueError("reach must be a 2-D array (n_points x n_sites)")
    own = False
    if not a.has_sorted_indices:  # a sorted copy, never the caller's arrays in place
        a, own = a.copy(), True
        a.sort_indices()
    ind, ptr = a.indices, a.indptr
    again = ind[1:] == ind[:-1]  # (a column repeated within a row, once sorted)
    starts = ptr[1:-1]
    again[starts[(starts > 0) & (starts < len(ind))] - 1] = False
    if again.any():
        a = a if own else a.copy()
        a.sum_duplicates()
    elif a.dtype == np.int8 and bool(np.all(a.data == 1)):
        return a
    return sp.csr_array((np.ones(a.nnz, dtype=np.int8), a.indices, a.indptr), shape=a.shape)


def cost_entries(cost: Any) -> tuple[int, int, npt.NDArray[np.int64], npt.NDArray[np.int64],
                                     npt.NDArray[np.float64]]:
    """``(n, m, row, col, cost)`` of the reachable pairs of a cost matrix, validated.

    Dense: ``+inf`` marks an unreachable pair (NaN and ``-inf`` are refused). Sparse:
    missing entries are unreachable and stored entries (explicit zeros included) reachable;
    stored entries must be finite. Costs must be non-negative.
    """
    if sp.issparse(cost):
        a = sp.coo_array(cost)
        a.sum_duplicates()
        n, m = a.shape
        r, j, d = a.row.astype(np.int64), a.col.astype(np.int64), a.data.astype(np.float64)
        if not np.all(np.isfinite(d)):
            raise ValueError("stored costs must be finite (leave unreachable pairs out)")
    else:
        dense = np.asarray(cost, dtype=np.float64)
        if dense.ndim != 2:
            raise ValueError("cost must be a 2-D array (n_clients x n_facilities)")
        if np.isnan(dense).any() or (dense == -np.inf).any():
            raise ValueError("cost must not contain NaN or -inf (use +inf for unreachable)")
        n, m = dense.shape
        r, j = np.nonzero(np.isfinite(dense))
        r, j = r.astype(np.int64), j.astype(np.int64)
        d = dense[r, j]
    if (d < 0).any():
        raise ValueError("costs must be non-negative")
    return n, m, r, j, d


def facility_count(p: Any, m: int) -> int:
    """``p`` as an int in ``[1, m]``."""
    if isinstance(p, bool) or int(p) != p or not 1 <= int(p) <= m:
        raise ValueError(f"p must be an integer between 1 and the number of facilities ({m})")
    return int(p)


def failure_count(failures: Any) -> int:
    """``failures`` as a non-negative int."""
    if isinstance(failures, bool) or int(failures) != failures or failures < 0:
        raise ValueError("failures must be a non-negative integer")
    return int(failures)


def required_mask(required: npt.ArrayLike | None, m: int) -> npt.NDArray[np.bool_]:
    """Facilities that must be open, as a mask over ``m`` facilities: from a boolean mask or
    integer indices (``None``: none).

    An object array of booleans (a pandas column of ``True``/``False``) is a mask. One
    integer per facility holding only 0 and 1 with a repeat (``[0, 0, 1, 0]``) is refused
    as ambiguous: read as indices it required facilities 0 and 1, not 2 (review 140).
    """
    fixed = np.zeros(m, dtype=bool)
    if required is None:
        return fixed
    req = np.asarray(required)
    if req.dtype == object and req.size and all(
            isinstance(v, bool | np.bool_) for v in req.ravel()):
        req = req.astype(bool)
    if (req.dtype.kind in "iu" and req.shape == (m,) and m >= 2
            and np.isin(req, (0, 1)).all() and len(np.unique(req)) < m):
        raise ValueError("'required' holds one 0 or 1 per facility: pass a mask as booleans "
                         "(np.asarray(required, dtype=bool)) or the required facilities' "
                         "indices, each once")
    if req.dtype == bool:
        if req.shape != (m,):
            raise ValueError("a boolean 'required' mask needs one value per facility")
        return fixed | req
    idx = req.astype(np.int64).ravel()
    if len(idx) and (idx.min() < 0 or idx.max() >= m):
        raise ValueError("required facility index out of range")
    fixed[idx] = True
    return fixed
