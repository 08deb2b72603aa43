"""Mobile packet-core anchors: where a mobile user's traffic leaves the operator's network.

On the mobile access classes (:data:`MOBILE_ACCESS`: LTE and 5G) a user's packets are
tunnelled (GTP) from the radio site to a packet-core breakout -- the UPF, user plane function
(the P-GW / SPGW-U of LTE) -- and only there enter IP routing towards a site. Unless a site
has local breakout, the distance that drives latency is therefore
``d(user, nearest UPF) + d(UPF, site)``, not ``d(user, site)``. This module provides the UPF
locations; the latency model adds the detour.

Two sources:

* :func:`read_upf` -- a table of the operator's breakout sites (CSV, GeoJSON, GeoPackage,
  Parquet, ...: whatever :func:`coverage.inputs.tables.read_table` reads), checked like the
  other inputs: one :class:`~coverage.errors.InputValidationError` naming the file, every
  problem, the 1-based rows and the fix.
* :func:`default_upf` -- "one UPF per large metro of the country" from the embedded GeoNames
  places (:mod:`coverage.inputs.geonames`), for when the operator's sites are not known.

:func:`anchor_rows` gives each demand point its nearest UPF (one bulk tree query).

How many breakout sites
-----------------------
:data:`DEFAULT_UPF_MIN_POPULATION` (500,000 people in the GeoNames city itself) and
:data:`DEFAULT_UPF_MERGE_KM` (75 km) give the United States 33 metros. Operators do not
publish their user-plane sites, so this is an assumption, sized from public material:

* in 2011 each of four major US carriers routed its cellular data through only 4 to 6 GGSN
  (3G breakout) locations (Xu, Qian, Huang, Gerber, Wang and Mao, "Cellular Data Network
  Infrastructure Characterization and Implication on Mobile Content Placement", ACM
  SIGMETRICS 2011);
* in 2010 AT&T opened its ninth data centre dedicated to its wireless business, in Akron, to
  serve Ohio and the East Coast (Data Center Knowledge, "AT&T Data Center Could Boost iPhone
  Network", 7 July 2010);
* 5G user planes are being distributed: Verizon's 5G edge (AWS Wavelength Zones, where
  mobile traffic reaches compute without leaving the carrier's network, i.e. a metro
  breakout) was to double from 10 to 20 US locations during 2021 (Verizon's 2021 plans,
  as reported on 26 January 2021), and the AWS Wavelength developer guide ("Available
  Wavelength Zones") lists Verizon zones in, among others, Atlanta, Boston, Charlotte,
  Chicago, Dallas, Denver, Detroit, Las Vegas, Los Angeles, Miami, Minneapolis,
  Nashville, New York, the San Francisco Bay Area, Tampa and Washington DC; AT&T is
  collapsing its mobility cores into one cloud-native standalone core "built for the
  purpose of being distributed around the edges of the country" (Light Reading, "AT&T
  outlines RAN, core network upgrades", 3 December 2024).

So an operator breaks out in roughly 5 (older LTE) to 20 (distributed 5G) US metros. The
default aims at the upper end -- edge inference is about the 5G user plane -- and, as the
union over several operators, somewhat beyond it: 33 US metros, 11 in Germany, 32 in Brazil,
71 in India, 13 in Japan and 1 (Lisbon) in Portugal. A lower threshold quickly adds
second-tier cities (400,000: 42 US metros); a higher one drops major metros whose city
proper is small (GeoNames counts the city, not the metro: Atlanta has 510,823 people,
Miami 487,014; at 750,000 the US keeps 16 metros, without Denver, Washington, Boston or
Atlanta). The same proxy leaves some large metros without a UPF at the default: Miami
anchors to Jacksonville (527 km), Minneapolis to Milwaukee (480 km), Kansas City to
Oklahoma City (480 km), St. Louis to Indianapolis (370 km), Honolulu to San Jose (3,883
km) and Anchorage to Seattle (2,309 km); weighted by GeoNames population the US median
user is 58 km from its UPF, the 90th percentile 430 km. Where the real sites are known,
give them with :func:`read_upf`.

GeoNames quirks carry over: a few places are misplaced or carry a district's population
(e.g. a "Suginami" in Ibaraki, a "Rasapudipalem" standing for Visakhapatnam).

The countries of the demand
---------------------------
Each demand point takes the country of its nearest GeoNames place (one bulk query on a tree
of all 234,908 places; above :data:`MAX_COUNTRY_SAMPLE` points a seeded random sample of
that many is enough to find the countries: a country holding a share ``s`` of the points is
missed with probability about ``(1 - s) ** 200_000``). Points near a border often have a
foreign place nearest (demand over the US finds a few points "in" Mexico and Canada), so a
country counts only when it holds at least ``min_country_share`` (default
:data:`DEFAULT_UPF_MIN_COUNTRY_SHARE`, 5%) of the points; the country with the most points
always counts. Pass ``min_country_share=0`` to keep every country found (e.g. demand over a
whole continent, where small countries hold few points).
"""

from __future__ import annotations

import logging
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import InputValidationError
from ..model.geo import chord_from_km, km_from_chord, unit_tree, unit_xyz
from ..wording import counted
from .geonames import all_places
from .tables import load_file
from .tables import parse_numbers as _parse_numbers
from .validation import ProblemReport, format_rows, format_values

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_UPF_MERGE_KM",
    "DEFAULT_UPF_MIN_COUNTRY_SHARE",
    "DEFAULT_UPF_MIN_POPULATION",
    "MAX_COUNTRY_SAMPLE",
    "MOBILE_ACCESS",
    "UPF_ALIASES",
    "UPF_COLUMNS",
    "anchor_rows",
    "default_upf",
    "read_upf",
]

#: Access classes whose traffic leaves the mobile network at a UPF (packet-core breakout).
MOBILE_ACCESS: tuple[str, ...] = ("lte", "5g-nsa", "5g-sa", "5g-urllc")

#: Smallest GeoNames city population (people, the city itself, not its metro) that makes a
#: metro a UPF site. 500,000 gives the US 33 metros; see the module notes for the sources.
DEFAULT_UPF_MIN_POPULATION: int = 500_000

#: Cities within this great-circle distance (km) of a larger qualifying city of the same
#: country belong to its metro (one UPF). 75 km joins Dallas and Fort Worth, San Jose and
#: San Francisco, Washington and Baltimore, Osaka, Kyoto and Kobe, Cologne and the Ruhr; it
#: keeps New York and Philadelphia (130 km), Los Angeles and San Diego apart.
DEFAULT_UPF_MERGE_KM: float = 75.0

#: Smallest share of the demand points (0-1) a country must hold to get UPFs: border points
#: whose nearest GeoNames place is foreign do not bring in the neighbour's metros.
DEFAULT_UPF_MIN_COUNTRY_SHARE: float = 0.05

#: Demand points used to find the countries (a seeded sample above this many).
MAX_COUNTRY_SAMPLE: int = 200_000

#: Columns of :func:`default_upf` (:func:`read_upf` returns the first four).
UPF_COLUMNS: tuple[str, ...] = ("upf_id", "lat", "lon", "name", "country", "population")

#: Column -> accepted names (case-insensitive, first match wins).
UPF_ALIASES: dict[str, tuple[str, ...]] = {
    "upf_id": ("upf_id", "id", "upf", "site_id", "fid", "code"),
    "lat": ("lat", "latitude", "y"),
    "lon": ("lon", "lng", "long", "longitude", "x"),
    "name": ("name", "upf_name", "city", "place", "site_name"),
}

_SAMPLE_SEED = 0
_CHUNK_ROWS = 1_000_000
_EXACT_FLOAT_INT = 2.0**53


# --------------------------------------------------------------------------- reading


def read_upf(path: str | os.PathLike[str], *, quiet: bool = False) -> pd.DataFrame:
    """Read and check a table of UPF (packet-core breakout) locations.

    Parameters
    ----------
    path : str or path-like
        Any table :func:`coverage.inputs.tables.read_table` reads: CSV (``.csv``,
        ``.csv.gz``, ``.txt``, ``.tsv``, ``;``-separated with decimal commas), GeoJSON,
        GeoPackage (one layer), Shapefile, (Geo)Parquet. Columns, matched
        case-insensitively (see :data:`UPF_ALIASES`): ``upf_id`` (or ``id``, ...; when
        absent the rows are numbered ``upf-1``, ``upf-2``, ...), ``lat`` / ``latitude`` /
        ``y`` and ``lon`` / ``lng`` / ``longitude`` / ``x`` in WGS84 degrees (a vector file
        may give point geometries instead; its CRS is honoured), optional ``name``.
    quiet : bool, default False
        Log the row count at debug level (a check that reads the file before the work).

    Returns
    -------
    pandas.DataFrame
        RangeIndex; ``upf_id`` (str, unique), ``lat``, ``lon`` (float64 degrees), ``name``
        (str; the id when absent or empty).

    Raises
    ------
    InputValidationError
        Missing, empty or unreadable file; no data rows; no coordinate columns; empty,
        non-numeric or out-of-range coordinates (rows and values named); empty or duplicate
        ids (named). All problems in one message, each with its fix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "upf.csv"
    >>> _ = p.write_text("id,lat,lon\\nnyc,40.71,-74.01\\n")
    >>> read_upf(p)[["upf_id", "lat", "lon", "name"]].values.tolist()
    [['nyc', 40.71, -74.01, 'nyc']]
    """
    p = Path(path)
    report = ProblemReport(str(p), "UPF")
    # read_table's loader (missing / empty / binary / UTF-16 / truncated files are each one
    # message), keeping a vector file's geometries
    loaded = load_file(p, report)
    raw, decimal = loaded.frame, loaded.decimal
    n = len(raw)
    geometry = loaded.geometry
    col = _resolve_columns(raw, report, coordinates=geometry is None or _all_missing(geometry))
    if geometry is not None and _all_missing(geometry) and col["lat"] is not None \
            and col["lon"] is not None:
        geometry = None  # e.g. a GeoJSON of null geometries with lat/lon properties
    if geometry is None and (col["lat"] is None or col["lon"] is None):
        missing = [f"{label} (looked for: {', '.join(UPF_ALIASES[key])})"
                   for key, label in (("lat", "latitude"), ("lon", "longitude"))
                   if col[key] is None]
        report.add(f"missing column{'s' if len(missing) > 1 else ''}: {'; '.join(missing)}; "
                   f"the file has {format_values(raw.columns) or 'no columns'}",
                   "name the coordinate columns lat and lon (WGS84 degrees), or use a "
                   "vector file with point geometries")
    if n == 0:
        report.add("no data rows (the file has a header but no rows)",
                   "add one UPF location per row")
    report.raise_if_any()

    ids = _ids(raw, col["upf_id"], report)
    if geometry is not None:
        from .tables import geometry_coordinates

        lat, lon = geometry_coordinates(geometry, report, None, "crs")
    else:
        lat, lon = _column_coordinates(raw, col, decimal, report)
    if col["name"] is not None:
        names = raw[col["name"]].astype("string").str.strip().fillna("")
        names = names.where(names != "", ids)
    else:
        names = ids
    report.raise_if_any()
    out = pd.DataFrame({"upf_id": ids.astype(str).to_numpy(dtype=object),
                        "lat": np.asarray(lat, dtype=np.float64),
                        "lon": np.asarray(lon, dtype=np.float64),
                        "name": names.astype(str).to_numpy(dtype=object)})
    logger.log(logging.DEBUG if quiet else logging.INFO, "read %s from %s",
               counted(len(out), "UPF location"), p)
    return out


def _resolve_columns(raw: pd.DataFrame, report: ProblemReport, *, coordinates: bool
                     ) -> dict[str, Any | None]:
    """The input column of each field; clashes are problems of ``report`` (raised).

    Two columns matching one coordinate field are refused when ``coordinates`` (the
    coordinates come from columns, not from geometries); for labels the first alias wins.
    """
    lowered = [str(c).strip().lower() for c in raw.columns]
    clash = {c for c in lowered if lowered.count(c) > 1}
    if clash:
        same = [c for c, low in zip(raw.columns, lowered, strict=True) if low in clash]
        report.add(f"columns {format_values(same)} have the same name but for case",
                   "give every column a distinct name")
    col: dict[str, Any | None] = {}
    for key, names in UPF_ALIASES.items():
        matches = [c for name in names for c, low in zip(raw.columns, lowered, strict=True)
                   if low == name]
        col[key] = matches[0] if matches else None
        if len(matches) > 1 and key in ("lat", "lon") and coordinates:
            report.add(f"columns {format_values(matches)} all look like the {key} column",
                       "keep one of them (rename or drop the others)")
        elif len(matches) > 1:
            logger.info("%s: %s taken from column %r; %s not used for it", report.source, key,
                        str(matches[0]), format_values(matches[1:]))
    report.raise_if_any()
    return col


def _all_missing(geometry: Any) -> bool:
    return bool((geometry.isna() | geometry.is_empty).all())


def _ids(raw: pd.DataFrame, id_col: Any | None, report: ProblemReport) -> pd.Series:
    """Ids as text (integral floats without ``.0``); missing and duplicate ids reported."""
    n = len(raw)
    if id_col is None:
        logger.info("%s: no id column; numbering the UPFs upf-1 .. upf-%d", report.source, n)
        return pd.Series([f"upf-{i}" for i in range(1, n + 1)], dtype="string")
    s = raw[id_col]
    if pd.api.types.is_float_dtype(s.dtype):
        vals = s.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.isfinite(vals) & (np.mod(np.nan_to_num(vals), 1) == 0) & (
            np.abs(np.nan_to_num(vals)) < _EXACT_FLOAT_INT)
        txt = s.astype("string")
        txt = txt.where(~whole, pd.Series(np.where(whole, vals, 0).astype(np.int64),
                                          index=s.index).astype("string"))
    else:
        txt = s.astype("string")
    txt = txt.str.strip()
    missing = (txt.isna() | (txt == "")).to_numpy(dtype=bool)
    if missing.any():
        report.add(f"{id_col} is empty", "give every UPF an id, or drop the id column to "
                   "number them upf-1, upf-2 and so on", missing)
    dup = txt.duplicated(keep=False).to_numpy(dtype=bool) & ~missing
    if dup.any():
        report.add(f"duplicate {id_col} values {format_values(txt[dup].tolist())}",
                   "give every UPF a distinct id", dup)
    return txt.fillna("")


def _column_coordinates(raw: pd.DataFrame, col: dict[str, Any | None], decimal: str,
                        report: ProblemReport
                        ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    out: dict[str, npt.NDArray[np.float64]] = {}
    for key, limit in (("lat", 90.0), ("lon", 180.0)):
        name = col[key]
        values, missing, bad = _parse_numbers(raw[name], decimal)
        if missing.any():
            report.add(f"{name} is empty (or NaN, NA)", "give both coordinates in every row",
                       missing)
        if bad.any():
            report.add(f"{name} is not a finite number: "
                       f"{format_values(raw[name][bad].astype(str))}",
                       "write plain decimal degrees (dot as the decimal mark, no units)", bad)
        ok = ~(missing | bad)
        out_of_range = ok & (np.abs(np.where(ok, values, 0.0)) > limit)
        if out_of_range.any():
            shown = format_values(f"{v:g}" for v in values[out_of_range])
            report.add(f"{name} outside [-{limit:g}, {limit:g}] degrees: {shown}",
                       "give WGS84 degrees, latitude in lat and longitude in lon (swapped "
                       "columns or projected metres land here)", out_of_range)
        out[key] = values
    return out["lat"], out["lon"]


# --------------------------------------------------------------------------- defaults


@lru_cache(maxsize=1)
def _place_tree() -> tuple[Any, npt.NDArray[np.object_]]:
    """A unit-vector tree of every GeoNames place and the places' country codes."""
    places = all_places()
    return (unit_tree(places["lat"].to_numpy(), places["lon"].to_numpy()),
            places["country"].to_numpy(dtype=object))


def _empty_upf() -> pd.DataFrame:
    return pd.DataFrame({"upf_id": pd.Series(dtype=object), "lat": pd.Series(dtype=np.float64),
                         "lon": pd.Series(dtype=np.float64), "name": pd.Series(dtype=object),
                         "country": pd.Series(dtype=object),
                         "population": pd.Series(dtype=np.int64)})


def _demand_coordinates(demand_lat_deg: npt.ArrayLike, demand_lon_deg: npt.ArrayLike,
                        what: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    lat = np.asarray(demand_lat_deg, dtype=np.float64).ravel()
    lon = np.asarray(demand_lon_deg, dtype=np.float64).ravel()
    if lat.shape != lon.shape:
        raise InputValidationError(
            f"{what}: {lat.size} latitudes but {lon.size} longitudes. Fix: pass one latitude "
            "and one longitude per demand point")
    bad = ~(np.isfinite(lat) & np.isfinite(lon)) | (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.any():
        raise InputValidationError(
            f"{what}: {int(bad.sum())} demand point(s) without finite WGS84 coordinates "
            f"({format_rows(np.flatnonzero(bad) + 1)}). Fix: validate the demand first "
            "(coverage.inputs.tables.read_demand / as_demand)")
    return lat, lon


def _demand_countries(lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64],
                      min_country_share: float) -> list[str]:
    """Countries of the demand: nearest GeoNames place of each (sampled) point, spill-over
    across borders dropped (see the module notes)."""
    n = lat.size
    if n > MAX_COUNTRY_SAMPLE:
        pick = np.random.default_rng(_SAMPLE_SEED).choice(n, MAX_COUNTRY_SAMPLE, replace=False)
        lat, lon = lat[pick], lon[pick]
        logger.info("UPF countries from a seeded sample of %s of %s demand points",
                    f"{MAX_COUNTRY_SAMPLE:,}", f"{n:,}")
    tree, country = _place_tree()
    _, nearest = tree.query(unit_xyz(lat, lon), k=1)
    codes, counts = np.unique(country[nearest[:, 0]].astype(str), return_counts=True)
    share = counts / counts.sum()
    keep = (share >= min_country_share) | (counts == counts.max())
    if (~keep).any():
        logger.info("UPF countries: %s kept; %s dropped as border spill-over (under %g%% of "
                    "the demand points each; min_country_share=0 keeps them)",
                    ", ".join(f"{c} {s:.1%}" for c, s in zip(codes[keep], share[keep],
                                                               strict=True)),
                    ", ".join(f"{c} {s:.2%}" for c, s in zip(codes[~keep], share[~keep],
                                                               strict=True)),
                    100 * min_country_share)
    return [str(c) for c in codes[keep]]


def _metro_heads(cities: pd.DataFrame, merge_km: float) -> npt.NDArray[np.intp]:
    """Row positions of the metro heads of ``cities`` (sorted largest first).

    Greedy by population: a city within ``merge_km`` of a larger head of its country joins
    it, else it heads a new metro. Unlike connected components of the radius graph this
    cannot chain a corridor of cities into one metro, and no two heads of a country end
    up within ``merge_km``. One bulk radius query; the loop runs over qualifying cities
    (a few thousand at most), never over demand points.
    """
    n = len(cities)
    lat, lon = cities["lat"].to_numpy(), cities["lon"].to_numpy()
    neighbours = unit_tree(lat, lon).query_radius(unit_xyz(lat, lon),
                                                  float(chord_from_km(merge_km)))
    country = cities["country"].to_numpy(dtype=object)
    head = np.full(n, -1, dtype=np.intp)
    for i in range(n):
        if head[i] >= 0:
            continue
        head[i] = i
        j = neighbours[i]
        j = j[(head[j] < 0) & (country[j] == country[i])]
        head[j] = i
    return np.flatnonzero(head == np.arange(n))


def default_upf(
    demand_lat_deg: npt.ArrayLike,
    demand_lon_deg: npt.ArrayLike,
    *,
    min_population: int = DEFAULT_UPF_MIN_POPULATION,
    merge_km: float = DEFAULT_UPF_MERGE_KM,
    min_country_share: float = DEFAULT_UPF_MIN_COUNTRY_SHARE,
) -> pd.DataFrame:
    """One UPF per large metro of the demand's countries, from the GeoNames places.

    Parameters
    ----------
    demand_lat_deg, demand_lon_deg : array_like
        Demand coordinates, WGS84 degrees (finite).
    min_population : int, default :data:`DEFAULT_UPF_MIN_POPULATION`
        Smallest city population (GeoNames, the city itself) that makes a metro a UPF site.
        A country without such a city gets one UPF at its largest place.
    merge_km : float, default :data:`DEFAULT_UPF_MERGE_KM`
        Cities within this distance of a larger qualifying city of the same country join
        its metro; the UPF sits at the metro's most populous city.
    min_country_share : float, default :data:`DEFAULT_UPF_MIN_COUNTRY_SHARE`
        Share of the demand points (0-1) a country needs to count (the country with the
        most points always counts); 0 keeps every country found.

    Returns
    -------
    pandas.DataFrame
        Columns ``upf_id`` (``"upf-<geonameid>"``), ``lat``, ``lon`` (float64 degrees),
        ``name`` (``"City, CC"``), ``country`` (ISO 3166-1 alpha-2), ``population`` (int64,
        the head city's); sorted by population, largest first (then by id). Empty demand
        gives an empty frame with these columns.

    Raises
    ------
    InputValidationError
        Demand coordinates not finite degrees, or a parameter out of range.

    Examples
    --------
    >>> upf = default_upf([38.72, 41.15], [-9.14, -8.61])
    >>> upf["name"].tolist()
    ['Lisbon, PT']
    """
    lat, lon = _demand_coordinates(demand_lat_deg, demand_lon_deg, "default_upf")
    problems = []
    if not (isinstance(min_population, int | float | np.integer | np.floating)
            and math.isfinite(min_population) and min_population >= 0):
        problems.append(f"min_population={min_population!r} (give a number of people >= 0)")
    if not (isinstance(merge_km, int | float | np.integer | np.floating)
            and math.isfinite(merge_km) and merge_km >= 0):
        problems.append(f"merge_km={merge_km!r} (give a distance in km >= 0)")
    if not (isinstance(min_country_share, int | float | np.integer | np.floating)
            and 0 <= min_country_share <= 1):
        problems.append(f"min_country_share={min_country_share!r} (give a share in [0, 1])")
    if problems:
        raise InputValidationError("default_upf: " + "; ".join(problems))
    if lat.size == 0:
        return _empty_upf()

    countries = _demand_countries(lat, lon, float(min_country_share))
    places = all_places()
    places = places[places["country"].isin(countries)]
    places = places.assign(_gid=places["geonameid"].astype(np.int64)).sort_values(
        ["population", "_gid"], ascending=[False, True], kind="mergesort")
    big = places[places["population"] >= min_population].reset_index(drop=True)
    heads = big.iloc[_metro_heads(big, float(merge_km))] if len(big) else big
    # a country without a city that large: one UPF at its largest place
    lonely = [c for c in countries if c not in set(heads["country"])]
    largest = places.drop_duplicates("country", keep="first")
    chosen = pd.concat([heads, largest[largest["country"].isin(lonely)]], ignore_index=True)
    chosen = chosen.sort_values(["population", "_gid"], ascending=[False, True],
                                kind="mergesort").reset_index(drop=True)
    out = pd.DataFrame({
        "upf_id": ("upf-" + chosen["geonameid"].astype(str)).to_numpy(dtype=object),
        "lat": chosen["lat"].to_numpy(dtype=np.float64),
        "lon": chosen["lon"].to_numpy(dtype=np.float64),
        "name": (chosen["name"].astype(str) + ", " + chosen["country"].astype(str)
                 ).to_numpy(dtype=object),
        "country": chosen["country"].astype(str).to_numpy(dtype=object),
        "population": chosen["population"].to_numpy(dtype=np.int64),
    })
    per_country = out["country"].value_counts()
    logger.info("default UPFs: %d metro%s (%s; cities >= %s people, merged within %g km)",
                len(out), "" if len(out) == 1 else "s",
                ", ".join(f"{c} {k}" for c, k in per_country.items()),
                f"{min_population:,}", merge_km)
    return out


# --------------------------------------------------------------------------- anchoring


def anchor_rows(
    demand_lat_deg: npt.ArrayLike,
    demand_lon_deg: npt.ArrayLike,
    upf: pd.DataFrame,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Nearest UPF of each demand point and the great-circle distance to it.

    Parameters
    ----------
    demand_lat_deg, demand_lon_deg : array_like
        Demand coordinates, WGS84 degrees (finite).
    upf : pandas.DataFrame
        UPF locations with ``lat`` and ``lon`` columns (degrees), e.g. from
        :func:`read_upf` or :func:`default_upf`.

    Returns
    -------
    index : numpy.ndarray
        int64, the row position (``iloc``) in ``upf`` of each point's nearest UPF.
    distance_km : numpy.ndarray
        float64, great-circle distance to it, km.

    Raises
    ------
    InputValidationError
        ``upf`` without rows or without finite ``lat``/``lon``; demand coordinates not
        finite degrees.

    Notes
    -----
    One bulk nearest-neighbour query on a ball tree of the UPFs' unit vectors
    (:func:`coverage.model.geo.unit_tree`; chord distance is monotone in great-circle
    distance, so the nearest is exact), in blocks of a million points to bound memory.

    Examples
    --------
    >>> upf = pd.DataFrame({"lat": [40.71, 34.05], "lon": [-74.01, -118.24]})
    >>> idx, d = anchor_rows([40.0, 33.0], [-75.0, -117.0], upf)
    >>> idx.tolist(), [round(float(x)) for x in d]
    ([0, 1], [115, 164])
    """
    lat, lon = _demand_coordinates(demand_lat_deg, demand_lon_deg, "anchor_rows")
    if not isinstance(upf, pd.DataFrame) or not {"lat", "lon"} <= set(upf.columns):
        raise InputValidationError(
            "anchor_rows: upf must be a DataFrame with lat and lon columns. Fix: pass the "
            "result of read_upf or default_upf")
    ulat = pd.to_numeric(upf["lat"], errors="coerce").to_numpy(dtype=np.float64)
    ulon = pd.to_numeric(upf["lon"], errors="coerce").to_numpy(dtype=np.float64)
    if ulat.size == 0:
        raise InputValidationError(
            "anchor_rows: no UPF locations. Fix: give at least one (read_upf / default_upf)")
    bad = ~(np.isfinite(ulat) & np.isfinite(ulon)) | (np.abs(ulat) > 90) | (np.abs(ulon) > 180)
    if bad.any():
        raise InputValidationError(
            f"anchor_rows: UPF {format_rows(np.flatnonzero(bad) + 1)} without finite WGS84 "
            "coordinates. Fix: read the locations with read_upf")
    index = np.empty(lat.size, dtype=np.int64)
    chord = np.empty(lat.size, dtype=np.float64)
    if lat.size:
        tree = unit_tree(ulat, ulon)
        for start in range(0, lat.size, _CHUNK_ROWS):
            stop = min(start + _CHUNK_ROWS, lat.size)
            d, i = tree.query(unit_xyz(lat[start:stop], lon[start:stop]), k=1)
            index[start:stop] = i[:, 0]
            chord[start:stop] = d[:, 0]
    return index, km_from_chord(chord)
