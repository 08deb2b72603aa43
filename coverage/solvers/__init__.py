"""Stage 3, solvers on the sparse reach: the fewest N-k-safe sites and their placement.

Modules: :mod:`.cover` (set multicover, HiGHS MILP after exact reductions),
:mod:`.rowgen` (row generation for national inputs), :mod:`.kmedian` (k-median placement at a
fixed site count), :mod:`.pmedian` (exact p-median, Lagrangian bound and branch and bound),
:mod:`.maxcover` (maximal covering, MCLP), :mod:`.pcenter` (exact p-center, N-k). The
public matrix-solver API is :mod:`coverage.optimize`.
"""

from ..lazy import submodules

__getattr__ = submodules(__name__)
