"""Stage 5, outputs: everything a plan is handed over as, written only into directories the
tool owns.

Modules: :mod:`.outdir` (owned output directories, atomic swaps, one atomic writer),
:mod:`.plandir` (the plan directory: tables, summary, optional map / report / GIS),
:mod:`.maps` (the interactive folium map), :mod:`.report` (the HTML report),
:mod:`.gis` (GeoPackage / GeoJSON layers, CSV safety), :mod:`.headline` (the one-paragraph
result).
"""

from ..lazy import submodules

__getattr__ = submodules(__name__)
