"""The pipeline: stage functions and their composition.

Modules: :mod:`.stages` (site count, placement, failure check: shared by the plan and the
sweep), :mod:`.plan` (:func:`~coverage.planner.plan.plan_sites` and the
:class:`~coverage.planner.plan.Plan` facade), :mod:`.sweep` (site count over budgets and
failures).
"""

from ..lazy import submodules

__getattr__ = submodules(__name__)
