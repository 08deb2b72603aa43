"""Edge Coverage Planner: the fewest edge-inference micro-sites that keep every user inside a
latency budget, even when any one site fails (N-1).

The import name ``coverage`` is shared with coverage.py; do not install both in one
environment. The distribution and the command-line tool are both called ``edge-coverage``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    CoverageError,
    CoverageWarning,
    InfeasibleBudgetError,
    InputValidationError,
    NoFeasiblePlanError,
    SolverError,
)
from .model.latency import LatencyModel  # noqa: E402
from .model.reach import ReachMatrix, build_reach  # noqa: E402
from .planner.plan import Plan, n_minus_1, plan_sites  # noqa: E402

# no NullHandler: with no logging configured, Python's last-resort handler prints the
# package's warnings on stderr (tester 182: a script or notebook saw none of them); an
# application that configures logging decides for itself

__all__ = [
    "__version__",
    "CoverageError",
    "CoverageWarning",
    "InfeasibleBudgetError",
    "InputValidationError",
    "NoFeasiblePlanError",
    "SolverError",
    "LatencyModel",
    "Plan",
    "ReachMatrix",
    "build_reach",
    "n_minus_1",
    "plan_sites",
    "budget_sweep",
    "read_demand",
    "read_sites",
    "read_population_raster",
    "read_h3_population",
    "run_batch",
    "compare",
]


def __getattr__(name: str):  # lazy: io pulls in geopandas, grids rasterio, batch dask
    if name in ("read_demand", "read_sites", "read_h3_population"):
        from .inputs import tables as io

        return getattr(io, name)
    if name == "budget_sweep":
        from .planner.sweep import budget_sweep

        return budget_sweep
    if name == "read_population_raster":
        from .inputs import raster as grids

        return getattr(grids, name)
    if name == "compare":
        from .comparison import compare

        return compare
    if name == "run_batch":
        from .batch import run_batch

        return run_batch
    if name in _SUBPACKAGES:  # coverage.optimize.min_cover without an import of its own
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(name)


#: Subpackages and modules a user reaches by dotted name (the README's
#: ``coverage.optimize``, ``coverage.solvers.pmedian``, ...): imported on first use.
_SUBPACKAGES = ("optimize", "solvers", "planner", "outputs", "model", "inputs", "resilience",
                "comparison", "advisor", "batch", "cluster", "config", "errors")


def __dir__() -> list[str]:
    """The module's names with the lazy ones (tab completion in a notebook)."""
    return sorted(set(globals()) | set(__all__) | set(_SUBPACKAGES))
