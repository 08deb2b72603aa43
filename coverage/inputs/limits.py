"""Limits of what the input readers accept (one place, imported by :mod:`.tables`, which
re-exports them, and by :mod:`.raster`, without importing each other)."""

__all__ = ["DEFAULT_COLOCATED_M", "DEGREE_LIKE_MAX", "MAX_COST", "MAX_COST_RATIO",
           "MAX_POPULATION_PER_POINT", "MAX_POPULATION_TOTAL", "MIN_COST"]

#: Largest population of one demand point, people (the world has about 8.1e9).
MAX_POPULATION_PER_POINT = 1e10
#: Largest total population of a demand input, people (100 worlds: room for overlapping
#: layers, far below where sums lose integer precision or overflow int64 in the outputs).
MAX_POPULATION_TOTAL = 1e12
#: Smallest candidate cost: below HiGHS's absolute MIP gap (1e-6) any plan looks optimal.
MIN_COST = 1e-6
#: Largest candidate cost (any currency unit).
MAX_COST = 1e12
#: Largest ratio of the highest to the lowest candidate cost HiGHS handles reliably.
MAX_COST_RATIO = 1e9
#: Default distance, metres, within which two candidates are reported as co-located.
DEFAULT_COLOCATED_M = 300.0
#: Under a projected CRS, points with ``|x|`` and ``|y|`` below this (in the CRS's units)
#: look like degrees declared as metres.
DEGREE_LIKE_MAX = 360.0
