"""Facility-location solvers on any matrix: the public API for your own reach or cost data.

The planner builds its matrices from a latency model; these four solvers take any
``scipy.sparse`` matrix or dense array instead (road distances, drive times, measured RTTs),
rows being clients (demand) and columns candidate facilities (sites):

=====================  ==========================================  ===========================
solver                 problem                                     input
=====================  ==========================================  ===========================
:func:`min_cover`      fewest (or cheapest) facilities such that   0/1 reach pattern
                       every client has ``requirement`` of them
                       in reach (LSCP; 2 for N-1)
:func:`max_cover`      most client weight in reach of ``p``        0/1 reach pattern, weights
                       facilities (MCLP; ``failures=1``: in reach
                       of two)
:func:`p_median`       least total weighted cost of each client    cost matrix, weights
                       to its nearest of ``p`` facilities
:func:`p_center`       least largest cost of a client to its       cost matrix
                       nearest (``failures=k``: ``(k+1)``-th
                       nearest) of ``p`` facilities
=====================  ==========================================  ===========================

Reach patterns: the stored entries of a sparse matrix (values ignored) or the nonzero
entries of a dense one, e.g. ``cost <= 5000``. Cost matrices: dense ``+inf`` or a missing
sparse entry means unreachable; clients with no reachable facility are ignored (counted as
uncoverable). Every solver takes ``required=`` (facilities that must be open) and
``time_limit_s=``, and returns a result with ``.sites`` (sorted column indices),
``.objective``, ``.lower_bound``, ``.status`` (``"optimal"`` only with a proof) and
``.runtime_s``; :class:`MaxCoverResult`, a maximisation, also has ``.upper_bound`` (its
``.lower_bound`` is the plan's own value). :func:`max_cover_greedy` is the greedy MCLP
plan with its ``1 - 1/e`` bound. :func:`rollout_order` orders facilities for a rollout
(most weight first, each step with a bound on the best that many facilities could do;
``docs/rollout.md``). ``p`` facilities means exactly ``p`` (as in spopt): when
fewer suffice, the others are added by index.

All four reach spopt's optima on spopt's own San Francisco instance (205 tracts x 16
stores, street distances; ``tests/test_optimize_matrix.py``, ``bench/scale.py --only sf``),
and ``min_cover`` / ``p_median`` the OR-Library optima (``tests/test_orlib.py``).

Examples
--------
>>> import numpy as np
>>> from coverage import optimize
>>> cost = np.array([[1.0, 9.0, 4.0], [6.0, 2.0, 5.0], [7.0, 3.0, np.inf]])
>>> optimize.min_cover(cost <= 4).objective
2.0
>>> optimize.max_cover(cost <= 4, 1, weights=[10, 1, 1]).objective
10.0
>>> optimize.p_median(cost, 2, weights=[1, 1, 1]).objective
6.0
>>> res = optimize.p_center(cost, 1)
>>> res.objective, res.status
(7.0, 'optimal')
"""

from __future__ import annotations

from .solvers.cover import CoverResult, min_cover
from .solvers.kmedian import MedianResult
from .solvers.maxcover import MaxCoverResult, max_cover, max_cover_greedy
from .solvers.pcenter import CenterResult, p_center
from .solvers.pmedian import p_median
from .solvers.rollout import RolloutResult, order_coverage, rollout_order

__all__ = [
    "min_cover",
    "max_cover",
    "max_cover_greedy",
    "rollout_order",
    "order_coverage",
    "RolloutResult",
    "p_median",
    "p_center",
    "CoverResult",
    "MaxCoverResult",
    "MedianResult",
    "CenterResult",
]
