"""Exception and warning tree of the planner.

Every error the library raises on purpose derives from :class:`CoverageError`, and the
CLI maps the subclasses to exit codes: 2 for bad input, 3 for "no feasible plan",
4 for solver failure, 6 for outputs that could not be written; 5 means the plan was
written but some optional outputs failed, 7 that the outputs were written but the plan is
not a feasible one (:data:`EXIT_PLAN_SHORT`).
"""

from __future__ import annotations

__all__ = [
    "CoverageError",
    "InputValidationError",
    "InfeasibleBudgetError",
    "NoFeasiblePlanError",
    "SolverError",
    "ClusterError",
    "OutputWriteError",
    "CoverageWarning",
]


class CoverageError(Exception):
    """Root of the planner's errors; never raised bare."""

    exit_code: int = 1


class InputValidationError(CoverageError, ValueError):
    """Bad input file or option.

    The message lists every problem found (file or option, rows, fix), not just the
    first one.
    """

    exit_code = 2


class NoFeasiblePlanError(CoverageError):
    """No placement can meet the requirements (e.g. no demand is coverable)."""

    exit_code = 3


class InfeasibleBudgetError(NoFeasiblePlanError, ValueError):
    """The latency budget cannot be met even at distance zero."""


class SolverError(CoverageError, RuntimeError):
    """The MILP solver failed (not a time limit: a genuine failure)."""

    exit_code = 4


class ClusterError(SolverError):
    """The Dask cluster lost the workers running a solve more often than it is retried
    (the message names the piece, the worker and the fix); exit code 4, as a solver
    failure."""


class OutputWriteError(CoverageError, OSError):
    """An output could not be written (permission, full disk, ...): the message names the
    path and the reason."""

    exit_code = 6
    #: Where the complete new outputs were kept instead (``NAME.edge-coverage-new-*``: a
    #: swap refused or failed), or None when they were not written.
    kept: object = None


EXIT_OUTPUTS_SKIPPED = 5
"""Exit code of a run whose plan was written but some optional outputs (map, report, GIS
files) failed; each is named in a warning and in the directory's marker."""

PROOF_LOGGER = "coverage.planner.plan.proof"
"""Name of the logger of the warning that a plan's capacity check was cut at the scenario
limit (status ``unproven``): for the API; the command line, which says it in its exit
message (:data:`EXIT_PLAN_SHORT`), and the batch and the sweep, in their tables, keep it
out of their output."""

SKIPPED_LOGGER = "coverage.outputs.skipped"
"""Name of the logger of the warning that an optional output (map, report, GIS file, batch
plot) was not written: for the API; the command line says each at its end (one line per
reason, naming the files) and keeps it out of its output, where each was said twice."""

EXIT_PLAN_SHORT = 7
"""Exit code of a run whose outputs are written but whose plan is **not** a feasible one,
or not proven to be one (a capacitated plan whose failure scenarios were cut at the
scenario limit, ``summary["capacity"]["scenarios_complete"]`` false: those not checked may
fall short; status ``unproven``, or ``time_limit`` when the count's gap is open too). Not feasible:
a capacitated plan short of capacity in a failure scenario (status ``time_limit_short``:
the search ran out of time or its failure scenarios were cut at the scenario limit, and
the plan has fewer sites than the capacity bound). The outputs are kept (a computed plan is
never thrown away) so the short scenarios can be read in ``capacity_scenarios.csv``; a
script must not take them for a plan. Takes precedence over :data:`EXIT_OUTPUTS_SKIPPED`.
``edge-coverage batch`` exits with it when any scenario's plan is such a plan (each named on
stderr; the table's ``status`` column says ``time_limit_short``, its ``summary.json`` the
scenarios not proven)."""


class CoverageWarning(UserWarning):
    """Warnings issued by the planner (assumed CRS, heuristic solutions, ...)."""


class LoggedWarning(CoverageWarning):
    """A warning whose full text is also logged at WARNING level: a notebook (where the
    package's log has no handler) shows the warning; the command line, which prints the
    log, does not print it a second time."""
