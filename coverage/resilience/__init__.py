"""Stage 4, resilience: what a plan guarantees under failures, and where it does not.

Modules: :mod:`.status` (coverage status per k: redundant / partial / single / uncoverable),
:mod:`.gaps` (coverage gaps and proposed new sites), :mod:`.worst_set` (the single worst set
of ``k`` simultaneous failures).
The failure check itself (every single-site failure, re-assigned) is the stage function
:func:`coverage.planner.stages.n_minus_1`.
"""

from ..lazy import submodules

__getattr__ = submodules(__name__)
