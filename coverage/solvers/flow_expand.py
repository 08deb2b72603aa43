"""A merged point's flow handed back to its original points in as few pairs as possible.

The capacitated solvers work on *merged* points (points with the same candidates within
budget, loads summed: :func:`coverage.solvers.capacitated.merge_identical_rows`). A
merged point's flow is then shared out over its original points. Splitting every entry in
proportion to the points' loads gives each original point *every* site of its merged
point: on a Vietnamese grid of 99,815 cells, 7.2 (point, site) pairs per cell (up to 27),
where the merged flow itself had 698 pairs for 496 merged points. A flow table of
national size grew to gigabytes, and a user split over 27 sites is not a plan anyone can
run.

:func:`expand_flows` matches each merged point's original points and flow entries in order
instead (the *north-west corner* rule of the transportation problem): walk both in step,
giving each point the flow of the entries it overlaps. Each original point still gets its
share of the merged point's flow, each site still gets exactly its flow from that merged
point, and a merged point of ``p`` original points and ``s`` sites yields at most
``p + s - 1`` pairs, so most points are served by one site. Fully vectorised: one sort
of the two sequences' breakpoints, no loop over points.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

__all__ = ["expand_flows", "SLIVER_RTOL"]

#: Pieces shorter than this share of their merged point's flow are rounding slivers of the
#: two running sums (where a point and an entry end at the same value) and are dropped.
SLIVER_RTOL = 1e-12


def _local_cumsum(values: npt.NDArray[np.float64],
                  group: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Running sum of ``values`` restarting at every change of ``group`` (sorted).

    Each group's sum starts from 0 (pandas' grouped cumsum): one running total over every
    group, less the groups before, lost the small groups' digits after a large one (0.6
    after 2e9 came out 0.5999999046, a tester's flows.csv)."""
    if not len(values):
        return np.empty_like(values)
    return (pd.Series(np.asarray(values, dtype=np.float64))
            .groupby(np.asarray(group), sort=False).cumsum().to_numpy(dtype=np.float64,
                                                                        copy=True))


def expand_flows(flows: sp.csr_array, inverse: npt.ArrayLike, point_load: npt.ArrayLike,
                 point_order: npt.ArrayLike | None = None,
                 site_order: npt.ArrayLike | None = None,
                 ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                            npt.NDArray[np.float64]]:
    """The (point, site, flow) triples of original points from the merged points' flow.

    Parameters
    ----------
    flows : scipy.sparse.csr_array
        Merged points x candidates: the flow of each merged point to each site.
    inverse : array_like of int
        The merged point of every original point.
    point_load : array_like of float
        Every original point's load. A merged point serving a share ``q`` of its load (a
        scenario that sheds load) serves each of its points the same share ``q``.
    point_order, site_order : array_like, optional
        Keys giving the order in which a merged point's original points and its sites are
        matched (for example a coordinate, so that the western points go to the western
        site); default: index order.

    Returns
    -------
    point, site, flow : numpy.ndarray
        One entry per (original point, site) pair with a positive flow. Each point's flows
        sum to its share of its merged point's flow and each (merged point, site) entry's
        flow is handed out whole, up to slivers below :data:`SLIVER_RTOL` of the merged
        point's flow. At most ``p + s - 1`` entries per merged point of ``p`` points and
        ``s`` sites.
    """
    f = sp.csr_array(flows, dtype=np.float64)
    f.sum_duplicates()
    f.eliminate_zeros()
    inv = np.asarray(inverse, dtype=np.int64)
    load = np.asarray(point_load, dtype=np.float64)
    n_merged = f.shape[0]
    m_load = np.bincount(inv, weights=load, minlength=n_merged)
    m_flow = np.asarray(f.sum(axis=1)).ravel()
    share = np.divide(m_flow, m_load, out=np.zeros(n_merged), where=m_load > 0)
    served = load * share[inv]
    # points with a flow, by (merged point, order key)
    pts = np.flatnonzero(served > 0)
    pkey = (np.asarray(point_order)[pts] if point_order is not None
            else pts.astype(np.float64))
    pts = pts[np.lexsort((pkey, inv[pts]))]
    a_group, a_val = inv[pts], _local_cumsum(served[pts], inv[pts])
    # flow entries of merged points with a flow, by (merged point, site order key)
    rows = np.repeat(np.arange(n_merged, dtype=np.int64), np.diff(f.indptr))
    cols = f.indices.astype(np.int64)
    take = np.isin(rows, np.unique(a_group))
    rows, cols, vals = rows[take], cols[take], f.data[take]
    skey = (np.asarray(site_order)[cols] if site_order is not None
            else cols.astype(np.float64))
    o = np.lexsort((skey, rows))
    rows, cols, vals = rows[o], cols[o], vals[o]
    b_val = _local_cumsum(vals, rows)
    # both running sums end at the merged point's total (the points' side, exact ends:
    # no sliver at the end of a merged point); the entries' side never overshoots it
    total = np.zeros(n_merged)
    if len(a_val):
        last_a = np.r_[np.flatnonzero(np.diff(a_group)), len(a_group) - 1]
        total[a_group[last_a]] = a_val[last_a]
    if len(b_val):
        last_b = np.r_[np.flatnonzero(np.diff(rows)), len(rows) - 1]
        b_val[last_b] = total[rows[last_b]]
        b_val = np.minimum(b_val, total[rows])
    # every breakpoint of both sides, by (merged point, value, points' side first)
    group = np.r_[a_group, rows]
    value = np.r_[a_val, b_val]
    side = np.r_[np.zeros(len(a_val), np.int8), np.ones(len(b_val), np.int8)]
    o = np.lexsort((side, value, group))
    group, value, side = group[o], value[o], side[o]
    is_a = side == 0
    # the piece ending at each breakpoint, from the one before it in the same merged point
    prev = np.r_[0.0, value[:-1]]
    first = np.r_[True, group[1:] != group[:-1]]
    prev[first] = 0.0
    length = value - prev
    a_before = np.cumsum(is_a) - is_a  # the piece's point: the next points' breakpoint
    b_before = np.cumsum(~is_a) - ~is_a  # its entry: the next entries' breakpoint
    keep = length > SLIVER_RTOL * total[group]
    keep &= (a_before < len(pts)) & (b_before < len(cols))
    point = pts[a_before[keep]]
    site = cols[b_before[keep]]
    return point, site, length[keep]
