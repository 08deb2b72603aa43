"""Benchmark: the latency model against measured pings, and what it does to a plan.

Reads the WonderNetwork city-pair pings (July 2020, ``<workspace>/shared/data``), drops the
pairs flagged below the vacuum light bound, and prints, by distance band and by source
region, the median / p90 absolute error and the median bias of the network term of three
models against ``rtt_min_ms``: the built-in ``internet`` profile (the default), a fresh
calibration on this data (``coverage.model.calibrate.calibrate``, pairs < 2,000 km, p99
from ``rtt_max_ms``: it must reproduce the profile's constants) and ``on-net`` (the first
version's physics-only defaults). Then the FTTH p99 budget radius at 30 / 50 / 100 ms of
each, and the US demo plan (GeoNames, 30 ms p99, N-1, FTTH) under ``on-net`` and under the
default. Writes the tables to ``--out`` (markdown).

Run: ``python bench/calibration.py --out docs/benchmarks-latency.md`` (``make bench``).
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from coverage.inputs.geonames import geonames_candidates, geonames_demand
from coverage.model.calibrate import calibrate, error_table
from coverage.model.latency import LatencyModel
from coverage.planner.plan import plan_sites

sys.path.insert(0, str(Path(__file__).resolve().parent))
from instances import SHARED_DATA  # noqa: E402

PINGS = SHARED_DATA / "wondernetwork_pings_2020"
ASIA = {"Bangladesh", "Cambodia", "China", "Hong Kong", "India", "Indonesia", "Israel",
        "Japan", "Kazakhstan", "Lebanon", "Malaysia", "Pakistan", "Philippines",
        "Saudi Arabia", "Singapore", "South Korea", "Taiwan", "Thailand",
        "United Arab Emirates", "Vietnam"}
CONTINENT = {1: "North America", 2: "South America", 4: "Oceania", 5: "Africa"}


def load() -> pd.DataFrame:
    """The pings with each source server's region (continent 3 split into Europe and
    Asia by country; Russia east of 60 E is Asia)."""
    df = pd.read_csv(PINGS / "city_pair_rtt.csv.gz")
    df = df[df["below_vacuum_light_bound"] == 0].reset_index(drop=True)
    srv = pd.read_csv(PINGS / "raw" / "servers-2020-07-19.csv")
    asia = srv["country"].isin(ASIA) | ((srv["country"] == "Russia") & (srv["longitude"] > 60))
    region = np.where(srv["continent"] == 3, np.where(asia, "Asia", "Europe"),
                      srv["continent"].map(CONTINENT).fillna("other"))
    df["source_region"] = df["source_id"].map(dict(zip(srv["id"], region, strict=True)))
    return df


def fmt_table(rows: pd.DataFrame) -> list[str]:
    out = ["| model | distance | pairs | median abs error | median bias | p90 abs error |",
           "| --- | --- | --- | --- | --- | --- |"]
    for r in rows.itertuples():
        out.append(f"| {r.model} | {r.band} | {r.pairs:,} | {r.median_abs_error_ms:.2f} ms | "
                   f"{r.median_bias_ms:+.2f} ms | {r.p90_abs_error_ms:.2f} ms |")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    lines: list[str] = []

    def emit(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    df = load()
    d, rtt = df["great_circle_km"].to_numpy(), df["rtt_min_ms"].to_numpy()
    t = time.perf_counter()
    pings = pd.DataFrame({"distance_km": d, "rtt_ms": rtt, "rtt_p99_ms": df["rtt_max_ms"]})
    cal = calibrate(pings, max_distance_km=2000.0, source="WonderNetwork 2020")
    fit_s = time.perf_counter() - t
    models = {
        "internet (default)": LatencyModel(),
        "calibrated here": LatencyModel().with_network(
            route_factor=cal.route_factor, overhead_ms=cal.overhead_ms,
            overhead_p99_ms=cal.overhead_p99_ms, hops=0, profile="calibrated"),
        "on-net": LatencyModel.from_profile("on-net"),
    }
    emit(f"# Latency model against measured pings (bench/calibration.py)\n\nData: "
         f"WonderNetwork city-pair pings, July 2020: {len(df):,} directed pairs after "
         "dropping those below the vacuum light bound. Error = predicted network term - "
         "measured `rtt_min_ms` (negative: the model is optimistic).\n")
    emit(f"Calibration on pairs < 2,000 km ({cal.pings_used:,} pairs, {fit_s:.2f} s): route "
         f"factor {cal.route_factor:.4f}, overhead {cal.overhead_ms:.3f} ms p50, "
         f"{cal.overhead_p99_ms:.3f} ms p99 (built-in internet profile: "
         f"{models['internet (default)'].route_factor}, "
         f"{models['internet (default)'].overhead_ms}, "
         f"{models['internet (default)'].overhead_p99_ms}).\n")
    emit("## By distance band\n")
    rows = []
    for name, m in models.items():
        t = error_table(d, rtt, m.network_ms(d, "p50"))
        rows.append(t.assign(model=name))
    table = pd.concat(rows, ignore_index=True)
    for line in fmt_table(table):
        emit(line)
    emit("\n## By source region (pairs < 2,000 km)\n")
    near = d < 2000
    emit("| source region | pairs | " + " | ".join(
        f"{n}: median abs / bias" for n in models) + " |")
    emit("| --- | --- |" + " --- |" * len(models))
    for region, g in df[near].groupby("source_region"):
        idx = g.index.to_numpy()
        cells = []
        for m in models.values():
            err = m.network_ms(d[idx], "p50") - rtt[idx]
            cells.append(f"{np.median(np.abs(err)):.2f} / {np.median(err):+.2f} ms")
        emit(f"| {region} | {len(idx):,} | " + " | ".join(cells) + " |")
    emit("\n## FTTH p99 budget radius (vision-l4 inference, proxy, no Wi-Fi)\n")
    emit("| model | 30 ms | 50 ms | 100 ms |")
    emit("| --- | --- | --- | --- |")
    for name, m in models.items():
        cells = []
        for b in (30.0, 50.0, 100.0):
            try:
                cells.append(f"{m.radius_km(b, 'ftth', 'p99'):,.0f} km")
            except ValueError:
                cells.append("infeasible")
        emit(f"| {name} | " + " | ".join(cells) + " |")
    emit("\n## US demo plan (`make demo`: GeoNames places >= 500 people, candidates >= "
         "50,000, 30 ms p99, N-1, FTTH)\n")
    emit("| model | sites | status | lower bound | population covered | single-coverable "
         "| uncoverable | mean p50 | solve time |")
    emit("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    demand, sites = geonames_demand("US", 500), geonames_candidates("US", 50_000)
    for name in ("on-net", "internet (default)"):
        t = time.perf_counter()
        plan = plan_sites(demand, sites, budget_ms=30.0, failures=1, model=models[name])
        s = plan.summary()
        total = s["population_total"]
        emit(f"| {name} | {s['site_count']} | {s['status']} | {s['lower_bound']:g} | "
             f"{s['population_covered'] / total:.1%} | "
             f"{s['population_single_coverable'] / total:.1%} | "
             f"{s['population_uncoverable'] / total:.1%} | {s['mean_latency_ms']:.2f} ms | "
             f"{time.perf_counter() - t:.1f} s |")
    emit(f"\nLast run {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()} "
         f"({platform.python_version()}).")
    if not math.isclose(cal.route_factor, models["internet (default)"].route_factor,
                        abs_tol=5e-4):
        emit("\nWARNING: the fresh calibration no longer reproduces the internet profile.")
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
