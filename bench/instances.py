"""Benchmark instances: synthetic clustered, US census tracts, PeeringDB US colos, national grid,
spopt's San Francisco instance.

Every builder returns tables in the :mod:`coverage.inputs.tables` contracts (demand: ``demand_id,
lat, lon, population, name``; sites: ``site_id, lat, lon, name, tier, required``). The real-data
builders read the shared, read-only data directory (``<workspace>/shared/data``, located
from the installed package as ``Path(coverage.__file__).resolve().parents[2] / "shared" /
"data"``); they raise :class:`FileNotFoundError` with a message when it is absent, and the
script skips them.

Usage: ``python bench/instances.py`` prints the size of each instance.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import coverage

logger = logging.getLogger(__name__)

__all__ = [
    "SHARED_DATA",
    "CENSUS_TRACTS",
    "PEERINGDB_FACILITIES",
    "shared_file",
    "synthetic",
    "spopt_sf",
    "census_tracts",
    "peeringdb_us",
    "national_grid_us",
    "us_candidates",
]

#: Shared read-only data directory (never copied into the repository).
SHARED_DATA = Path(coverage.__file__).resolve().parents[2] / "shared" / "data"
#: US Census 2020 centres of population by tract (85,395 tracts).
CENSUS_TRACTS = Path("census_cenpop2020") / "CenPop2020_Mean_TR.txt"
#: PeeringDB facilities snapshot (5,001 facilities worldwide).
PEERINGDB_FACILITIES = Path("peeringdb_facilities") / "peeringdb_fac_2024-10-24.csv"

#: PeeringDB test placeholders (README: "PeeringDB Example Organization", country AQ).
_PEERINGDB_PLACEHOLDERS = (13346, 13399)


def shared_file(relative: str | Path) -> Path:
    """Path of a file in the shared data directory.

    Raises
    ------
    FileNotFoundError
        With a message naming the missing file, when it (or the directory) is absent.
    """
    path = SHARED_DATA / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"shared data file not found: {path} (the shared data directory "
            f"{SHARED_DATA} is absent or incomplete); skipping"
        )
    return path


#: spopt's San Francisco test instance (205 tracts x 16 stores, street distances, m).
SPOPT_SF = Path("spopt_sf")


def spopt_sf() -> tuple[np.ndarray, np.ndarray]:
    """spopt's San Francisco instance as spopt's tests build it.

    The cost matrix is ``pivot_table(values="distance", index="DestinationName",
    columns="name")`` of the street distances (rows: tracts sorted by name; columns: stores
    sorted as strings, Store_1, Store_10, ...), the weights ``POP2000`` of the demand file
    sorted by ``NAME`` (the same order as the rows).

    Returns
    -------
    cost : numpy.ndarray, shape (205, 16)
        Street distances, m.
    weights : numpy.ndarray, shape (205,)
        Population 2000 per tract.
    """
    dist = pd.read_csv(shared_file(
        SPOPT_SF / "SF_network_distance_candidateStore_16_censusTract_205_new.csv"))
    pivot = dist.pivot_table(values="distance", index="DestinationName", columns="name")
    demand = pd.read_csv(shared_file(SPOPT_SF / "SF_demand_205_centroid_uniform_weight.csv"))
    demand = demand.sort_values(by=["NAME"])
    if not np.allclose(demand["NAME"].to_numpy(), pivot.index.to_numpy()):
        raise ValueError("spopt SF: demand names do not match the distance table's tracts")
    return pivot.to_numpy(dtype=np.float64), demand["POP2000"].to_numpy(dtype=np.float64)


def synthetic(n_demand: int, n_sites: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clustered cities plus uniform rural points, random candidates (contiguous US box).

    Wraps :func:`coverage.inputs.synthetic.clustered_instance`.

    Returns
    -------
    demand, sites : pandas.DataFrame
    """
    from coverage.inputs.synthetic import clustered_instance

    return clustered_instance(n_demand, n_sites, seed=seed)


def census_tracts() -> pd.DataFrame:
    """Demand: the 85,395 US census tracts (2020 centres of population).

    Read with :func:`coverage.inputs.tables.read_demand`; ``demand_id`` is the 11-digit tract GEOID.

    Raises
    ------
    FileNotFoundError
        When the shared tract file is absent.
    """
    from coverage.inputs.tables import read_demand

    return read_demand(shared_file(CENSUS_TRACTS))


def peeringdb_us(city_domains: bool = False) -> pd.DataFrame:
    """Sites: US PeeringDB facilities with coordinates (colocation data centres).

    ``site_id`` is ``"fac" + fac_id``; ``name`` is the operator name and city (the snapshot's
    ``name`` is the operator, not the facility); ``tier`` is ``"colo"``. Facilities at exactly
    the same coordinates as another are dropped, keeping the one with the most networks
    (then the lowest ``fac_id``). The two PeeringDB test placeholders are dropped. With
    ``city_domains``, a ``failure_domain`` column: the facility's city and state as the
    snapshot spells them (lower case, e.g. ``"ashburn,VA"``), an assumption that one
    metro's facilities share a failure (a power grid, a fibre route).

    Raises
    ------
    FileNotFoundError
        When the shared PeeringDB file is absent.
    """
    from coverage.inputs.tables import as_sites

    path = shared_file(PEERINGDB_FACILITIES)
    raw = pd.read_csv(path, dtype={"fac_id": np.int64}, keep_default_na=False, na_values=[""])
    us = raw[(raw["country"] == "US") & ~raw["fac_id"].isin(_PEERINGDB_PLACEHOLDERS)]
    has_xy = us["latitude"].notna() & us["longitude"].notna()
    us = us[has_xy]
    us = us.sort_values(["net_count", "fac_id"], ascending=[False, True])
    dedup = us.drop_duplicates(["latitude", "longitude"], keep="first").sort_values("fac_id")
    name = dedup["name"].fillna("PeeringDB facility").astype(str)
    city = dedup["city"].fillna("").astype(str)
    sites = as_sites(
        pd.DataFrame(
            {
                "site_id": "fac" + dedup["fac_id"].astype(str),
                "lat": dedup["latitude"].to_numpy(dtype=np.float64),
                "lon": dedup["longitude"].to_numpy(dtype=np.float64),
                "name": (name + " (" + city + ")").str.replace(" ()", "", regex=False),
                "tier": "colo",
                "required": False,
            }
        ),
        source=str(path),
    )
    if city_domains:
        state = dedup["state"].fillna("").astype(str).str.strip()
        sites = sites.assign(failure_domain=(city.str.strip().str.lower() + "," + state)
                             .to_numpy(dtype=object))
    logger.info(
        "PeeringDB US: %d facilities, %d without coordinates, %d duplicate coordinates dropped",
        len(us) + int((~has_xy).sum()),
        int((~has_xy).sum()),
        len(us) - len(dedup),
    )
    return sites


def national_grid_us(n_cells: int = 1_000_000, seed: int = 0) -> pd.DataFrame:
    """Demand: synthetic US population grid of about ``n_cells`` populated cells.

    Wraps :func:`coverage.inputs.synthetic.national_grid` (GeoNames places >= 500 people).
    """
    from coverage.inputs.synthetic import national_grid

    return national_grid("US", n_cells, seed=seed)


def us_candidates(min_population: int = 15_000) -> pd.DataFrame:
    """Sites: US GeoNames places >= ``min_population`` (about 3,400 at 15,000)."""
    from coverage.inputs.synthetic import us_candidates_places

    return us_candidates_places(min_population)


def _describe(label: str, df: pd.DataFrame, seconds: float) -> str:
    pop = df["population"].sum() if "population" in df else None
    people = f", {pop:,.0f} people" if pop is not None else ""
    return f"{label:<34} {len(df):>10,} rows{people}  ({seconds:.1f} s)"


def main() -> None:
    """Print the size of each benchmark instance (skipping absent shared data)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    builders = [
        ("synthetic 10k x 1k: demand", lambda: synthetic(10_000, 1_000, 0)[0]),
        ("synthetic 10k x 1k: sites", lambda: synthetic(10_000, 1_000, 0)[1]),
        ("census tracts (demand)", census_tracts),
        ("PeeringDB US (sites)", peeringdb_us),
        ("GeoNames US >= 15k (sites)", us_candidates),
        ("national grid US 1M (demand)", national_grid_us),
    ]
    for label, build in builders:
        t = time.perf_counter()
        try:
            df = build()
        except FileNotFoundError as exc:
            print(f"{label:<34} skipped: {exc}", file=sys.stderr)
            continue
        print(_describe(label, df, time.perf_counter() - t))


if __name__ == "__main__":
    main()
