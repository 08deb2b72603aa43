"""Benchmark: the US demo (GeoNames, 30 ms p99, ftth, N-1) stage by stage, with peak memory.

Usage: ``python bench/run.py [--country US] [--out docs/benchmarks.md]``. Prints one line per
stage and writes the table to ``--out`` (atomically).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from mdout import write_markdown  # the script folder is on sys.path


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_country(country: str, budget_ms: float, workdir: Path) -> list[tuple[str, float, str]]:
    from coverage import plan_sites
    from coverage.inputs.geonames import geonames_candidates, geonames_demand
    from coverage.outputs.maps import plan_map, save_map

    rows: list[tuple[str, float, str]] = []
    t = time.perf_counter()
    demand = geonames_demand(country)
    sites = geonames_candidates(country)
    rows.append(("read (GeoNames)", time.perf_counter() - t,
                 f"{len(demand):,} demand, {len(sites):,} candidates, "
                 f"{demand['population'].sum():,.0f} people"))
    plan = plan_sites(demand, sites, budget_ms=budget_ms, failures=1, access="ftth")
    s = plan.summary()
    tm = s["timings_s"]
    rows.append(("validate", tm["validate_s"], ""))
    rows.append(("reach matrix", tm["reach_s"],
                 f"{s['n_pairs_in_reach']:,} pairs, radius {s['max_radius_km']:.0f} km, "
                 f"{plan.reach.nbytes / 2**20:.0f} MiB"))
    red = s["reductions"]
    rows.append(("solve (min sites, HiGHS)", tm["solve_s"],
                 f"{s['site_count']} sites, status {s['status']}, bound {s['lower_bound']:g}, "
                 f"model {red['rows_in_model']:,} rows x {red['sites_in_model']:,} sites"))
    gap = s.get("kmedian_gap")
    rows.append(("k-median", tm["kmedian_s"], f"status {s['kmedian_status']}"
                 + ("" if gap is None else f" ({100 * gap:.2f} % above its lower bound)")
                 + f", mean p50 {s['mean_latency_ms']:.2f} ms"))
    rows.append(("N-1 check", tm["n1_s"], f"worst {s['n1_worst_latency_ms']:.1f} ms, "
                 f"{s['n1_population_outside_budget']:,.0f} people outside budget "
                 "(worst failure)"))
    prop = s["proposed"]
    rows.append(("gap proposals", tm["proposals_s"],
                 f"{prop['gap_points']:,} gap points, {prop['proposed_sites']:,} proposed sites "
                 f"(bound {prop.get('lower_bound', 0):,.0f}), "
                 f"status {prop['status']}, {prop['gap_points_still_short']:,} gap points "
                 "still short"))
    t = time.perf_counter()
    path = save_map(plan_map(plan), workdir / "map.html")
    rows.append(("map", time.perf_counter() - t, f"{path.stat().st_size / 2**20:.1f} MiB"))
    t = time.perf_counter()
    plan.to_dir(workdir / "tables", map=False, report=False, gis=False)
    rows.append(("write tables (csv, json)", time.perf_counter() - t, ""))
    t = time.perf_counter()
    swept = plan.with_sweep()
    st = swept.sweep
    rows.append(("budget sweep 20-100 ms", time.perf_counter() - t,
                 f"{len(st)} budgets, {int((st['status'] == 'optimal').sum())} optimal"))
    t = time.perf_counter()
    swept.to_dir(workdir / "report", map=False, report=True, gis=False)
    rows.append(("report.html (+ tables)", time.perf_counter() - t,
                 f"{(workdir / 'report' / 'report.html').stat().st_size / 2**10:.0f} KiB"))
    t = time.perf_counter()
    swept.to_dir(workdir / "gis", map=False, report=False, gis=True)
    rows.append(("plan.gpkg + GeoParquet (+ tables)", time.perf_counter() - t,
                 f"{(workdir / 'gis' / 'plan.gpkg').stat().st_size / 2**20:.1f} MiB gpkg"))
    total = sum(r[1] for r in rows)
    rows.append(("total", total, f"peak RSS {peak_rss_mib():,.0f} MiB"))
    (workdir / "summary.json").write_text(json.dumps(
        {k: v for k, v in s.items() if k != "parameters"}, default=str))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--country", default="US")
    parser.add_argument("--budget-ms", type=float, default=30.0)
    parser.add_argument("--out", default="docs/benchmarks.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = bench_country(args.country, args.budget_ms, Path(tmp))
    lines = [f"{name:<26} {secs:8.2f} s   {note}" for name, secs, note in rows]
    print("\n".join(lines))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    md = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/run.py`); numbers are from the last run on "
        f"{time.strftime('%Y-%m-%d')} ({machine}).",
        "",
        f"## {args.country} demo: GeoNames places >= 500 people as demand, places >= 50,000 as "
        f"candidates, {args.budget_ms:g} ms p99, ftth access, N-1",
        "",
        "| stage | time (s) | figures |",
        "| --- | ---: | --- |",
        *[f"| {n} | {s:.2f} | {note} |" for n, s, note in rows],
        "",
        "Peak memory is the process's maximum resident set size (getrusage).",
        f"numpy {np.__version__}.",
        "",
    ]
    out = write_markdown(args.out, md)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
