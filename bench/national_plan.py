"""Benchmark: the whole national plan from the command line, on three generator seeds.

For each of three seeded 1M-cell US grids (``coverage.inputs.synthetic.national_grid``,
different seeds and spreads) against the US GeoNames places of at least 15,000 people, runs
``edge-coverage plan --demand grid.csv --candidates places.csv --budget-ms 30 --failures 1
--no-map --out DIR`` as a new user would (default latency model, default options: the site
count, the national k-median placement, the N-1 check, proposed sites, the rollout, the
budget sweep, the report and the GeoParquet layers) and records its wall time and peak
memory (the CLI process, from ``getrusage``), the site count, status and bound, the
placement's gap, and the row-generation time against the bare count-only neighbour query on
the same points (``bench/peers.py``: ``BallTree.query_radius(count_only=True)``, the floor
of any radius method). Each seed runs in its own process. The table ends with the worst of
the three (the target: at most 60 s and 4 GiB, row generation at most 3x the floor).

``make bench`` runs it through ``bench/scale.py --only plan`` (a section of
docs/benchmarks-scale.md); alone: ``python bench/national_plan.py --out FILE.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

#: (seed, density per km2 of the generator's kernels): three grids, none tuned to
CASES = ((11, 500.0), (12, 350.0), (13, 700.0))
CELLS = 1_000_000
BUDGET_MS = 30.0


def one(seed: int, density: float, workdir: Path) -> dict:
    """One seed: build and write the grid, time the floor, run the CLI as a child."""
    import peers

    from coverage.inputs.synthetic import national_grid, us_candidates_places
    from coverage.model.latency import LatencyModel

    grid = national_grid("US", CELLS, seed=seed, density_per_km2=density)
    sites = us_candidates_places(15_000)
    demand_csv, sites_csv = workdir / f"grid{seed}.csv", workdir / "places.csv"
    grid.to_csv(demand_csv, index=False)
    sites.to_csv(sites_csv, index=False)
    floor = peers.bare_neighbour_query(grid, sites, LatencyModel().radius_km(BUDGET_MS),
                                       metric="chord")
    out = workdir / f"out{seed}"
    exe = str(Path(sys.executable).with_name("edge-coverage"))
    t = time.perf_counter()
    run = subprocess.run([exe, "plan", "--demand", str(demand_csv), "--candidates",
                          str(sites_csv), "--budget-ms", f"{BUDGET_MS:g}", "--failures", "1",
                          "--no-map", "--out", str(out)], capture_output=True, text=True)
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    if run.returncode != 0:
        return {"seed": seed, "error": run.stderr[-2000:], "wall_s": wall}
    s = json.loads((out / "summary.json").read_text())
    sweep = s.get("sweep") or {}
    sweep_mib = float(sweep.get("peak_rss_mib") or 0.0)  # the sweep's own process, if any
    tim = s["timings_s"]
    placement = s.get("placement") or {}
    rowgen = float(tim.get("reach_s", 0.0)) + float(tim.get("solve_s", 0.0))
    return {
        "seed": seed, "density": density, "cells": len(grid),
        "population": float(grid["population"].sum()), "candidates": len(sites),
        "wall_s": wall, "cli_peak_mib": peak, "sweep_peak_mib": sweep_mib,
        "peak_mib": peak + sweep_mib, "sweep_process": sweep.get("process", "-"),
        "sweep_wall_s": sweep.get("wall_s"), "strategy": s["solver"]["strategy"],
        "sites": s["site_count"], "bound": s["lower_bound"], "status": s["status"],
        "gap_sites": s["site_count"] - s["lower_bound"],
        "kmedian_status": s["kmedian_status"], "placement_gap": placement.get("gap"),
        "mean_p50_ms": s["mean_latency_ms"],
        "cover_mean_p50_ms": placement.get("cover_mean_p50_ms"),
        "rowgen_s": rowgen, "floor_s": floor["seconds"], "floor_pairs": floor["pairs"],
        "rowgen_over_floor": rowgen / floor["seconds"] if floor["seconds"] > 0 else None,
        "timings": tim, "files": sorted(p.name for p in out.iterdir()),
    }


def run_cases() -> list[dict]:
    """Every seed of :data:`CASES`, each in its own process (its figures as a dict, or
    ``{"seed", "error"}``)."""
    import cases

    return cases.run_cases(__file__, list(CASES), hide=("timings", "files"))


NOTES = ("One `edge-coverage plan --demand grid.csv --candidates places.csv --budget-ms 30 "
         "--failures 1 --no-map` per seed (default model and options; the site count, "
         "national k-median placement, N-1 check, proposed sites, rollout, budget sweep, "
         "report, GeoParquet layers); wall time; peak memory = the CLI process's peak RSS plus "
         "that of the budget sweep's own process (it runs alongside the plan from 100,000 "
         "demand rows: the sum of the two peaks bounds what both hold at once). Row "
         "generation = the count of every cell's candidates plus the cover's rounds "
         "(summary.json `reach_s + solve_s`); floor = one count-only BallTree radius query of "
         "every cell against every candidate (chord metric, the bare tree query), measured in "
         "the same run just before the plan. Targets: "
         "wall <= 60 s, peak <= 4 GiB, row generation <= 3x the floor, worst of three seeds.")


def table_lines(rows: list[dict]) -> list[str]:
    """The table of :func:`run_cases` (one row per seed and the worst), then each seed's
    stage times and the files written."""

    def f(v: object, d: int = 1) -> str:
        return "-" if v is None else f"{v:,.{d}f}" if isinstance(v, float) else f"{v:,}" \
            if isinstance(v, int) else str(v)

    lines = [
        "| seed | density /km2 | cells | strategy | sites | bound | status | k-median "
        "| placement gap to bound | mean p50 ms (cover -> placed) | row gen s | floor s | "
        "row gen / floor | wall s | peak MiB (CLI + sweep) |",
        "|" + " --- |" * 15]
    ok = [r for r in rows if "error" not in r]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['seed']} | error: {r['error'][-200:]!r} |" + " |" * 13)
            continue
        lines.append(
            f"| {r['seed']} | {r['density']:g} | {r['cells']:,} | {r['strategy']} | "
            f"{r['sites']} | {f(r['bound'], 0)} | {r['status']} | {r['kmedian_status']} | "
            + (f"{100 * r['placement_gap']:.2f} %" if r["placement_gap"] is not None else "-")
            + f" | {f(r['cover_mean_p50_ms'], 2)} -> {f(r['mean_p50_ms'], 2)} | "
            f"{r['rowgen_s']:.2f} | {r['floor_s']:.2f} | {f(r['rowgen_over_floor'], 2)} | "
            f"{r['wall_s']:.1f} | {r['peak_mib']:,.0f} ({r['cli_peak_mib']:,.0f} + "
            f"{r['sweep_peak_mib']:,.0f}) |")
    if ok:
        lines.append(
            f"| **worst** | | | | | | {', '.join(sorted({r['status'] for r in ok}))} | | "
            + f"{100 * max(r['placement_gap'] or 0 for r in ok):.2f} % | | "
            f"{max(r['rowgen_s'] for r in ok):.2f} | | "
            f"{max(r['rowgen_over_floor'] or 0 for r in ok):.2f} | "
            f"**{max(r['wall_s'] for r in ok):.1f}** | **{max(r['peak_mib'] for r in ok):,.0f}** |")
        lines += ["", "Stage times of each seed (summary.json `timings_s`, s): "
                  + "; ".join(f"seed {r['seed']}: " + ", ".join(
                      f"{k.removesuffix('_s')} {v:.1f}" for k, v in r["timings"].items())
                      for r in ok),
                  "", "Budget sweep of each seed (summary.json `sweep`): "
                  + "; ".join(f"seed {r['seed']}: {r['sweep_process']}"
                              + (f", {r['sweep_wall_s']:.1f} s alongside the plan"
                                 if r["sweep_wall_s"] is not None else "")
                              for r in ok),
                  "", "Files written: " + ", ".join(ok[0]["files"]) + "."]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--case", nargs=2, type=float, metavar=("SEED", "DENSITY"),
                    help="run one seed and print its figures as JSON (internal)")
    args = ap.parse_args()
    if args.case:
        with tempfile.TemporaryDirectory(prefix="national-plan-") as d:
            print(json.dumps(one(int(args.case[0]), float(args.case[1]), Path(d))))
        return 0
    rows = run_cases()
    lines = [
        "# Benchmarks: the whole national plan (`bench/national_plan.py`)",
        "", f"Last run {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()}, "
        f"{len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}. " + NOTES,
        "", *table_lines(rows)]
    text = "\n".join(lines) + "\n"
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
