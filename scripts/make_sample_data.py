"""Regenerate the small sample inputs in ``data/`` from the embedded GeoNames extract.

Region: the US West (CA, OR, WA, NV, ID, UT, AZ). Demand: places with >= 30,000 people;
candidate sites: places with >= 150,000 people. GeoNames data: CC BY 4.0.

Usage: ``python scripts/make_sample_data.py [--out data]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd

from coverage.inputs.geonames import geonames_places

STATES = ["CA", "OR", "WA", "NV", "ID", "UT", "AZ"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "data"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    places = geonames_places("US", 500)
    west = places[places["admin1code"].isin(STATES)].copy()
    west["state"] = west["admin1code"]
    demand = west[west["population"] >= 30_000]
    demand = demand.assign(demand_id="gn" + demand["geonameid"], population=demand["population"]
                           .astype("int64"))[["demand_id", "name", "state", "lat", "lon",
                                               "population"]]
    demand = demand.sort_values("demand_id").reset_index(drop=True)
    sites = west[west["population"] >= 150_000]
    sites = sites.assign(site_id="site-" + sites["geonameid"], tier="metro-colo")[
        ["site_id", "name", "state", "lat", "lon", "tier"]
    ].sort_values("site_id").reset_index(drop=True)
    demand.to_csv(out / "west_demand.csv", index=False, float_format="%.5f")
    sites.to_csv(out / "west_candidates.csv", index=False, float_format="%.5f")
    # the same inputs as vector files: GeoJSON (EPSG:4326) and GeoPackage (EPSG:3857)
    gdemand = gpd.GeoDataFrame(demand.drop(columns=["lat", "lon"]),
                               geometry=gpd.points_from_xy(demand["lon"], demand["lat"]),
                               crs="EPSG:4326")
    gdemand.to_file(out / "west_demand.geojson", driver="GeoJSON")
    gsites = gpd.GeoDataFrame(sites.drop(columns=["lat", "lon"]),
                              geometry=gpd.points_from_xy(sites["lon"], sites["lat"]),
                              crs="EPSG:4326").to_crs("EPSG:3857")
    gsites.to_file(out / "west_candidates.gpkg", driver="GPKG", layer="candidates")
    print(f"wrote {len(demand)} demand points and {len(sites)} candidate sites to {out}")


if __name__ == "__main__":
    main()
