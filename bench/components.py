"""Benchmark: a continent grid planned by independent components on 1 and 2 local Dask
workers (issue 15, part 4).

Builds one synthetic grid over every country of a GeoNames continent
(``national_grid(continent_countries(C), N)``) against the continent's places of at least
``--site-min-population`` people, splits it into independent components once
(:func:`coverage.solvers.components.split_components`, timed) and solves the pieces by row
generation on a local cluster of 1 and then 2 single-threaded workers (same pieces), and in
this process. Reports wall time, the site count, bound and status, per piece its worker and
the worker's peak resident memory (``getrusage`` in the task), and this process's peak.

Run: ``python bench/components.py --continent EU --cells 2000000``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from sampled import run_sampled  # noqa: E402  (bench/, this script's folder)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--continent", default="EU", help="GeoNames continent code(s), comma list")
    ap.add_argument("--cells", type=int, default=2_000_000)
    ap.add_argument("--site-min-population", type=int, default=15_000)
    ap.add_argument("--budget-ms", type=float, default=30.0)
    ap.add_argument("--workers", default="1,2", help="comma list; 0 = in this process")
    ap.add_argument("--time-limit-s", type=float, default=120.0)
    ap.add_argument("--cli-workers", type=int, default=0,
                    help="also plan the grid from the command line on this many local "
                         "workers (the whole plan: N-1, placement, sweep, outputs); 0 = not")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    import numpy as np

    from coverage.batch import dask_client
    from coverage.inputs.geonames import all_places
    from coverage.inputs.synthetic import continent_countries, national_grid
    from coverage.model.latency import LatencyModel
    from coverage.model.problem import RowLatency
    from coverage.solvers.components import peak_rss_mib, solve_components, split_components

    def rss() -> float:
        return peak_rss_mib()

    codes = [c for cont in args.continent.split(",") for c in continent_countries(cont)]
    t = time.perf_counter()
    grid = national_grid(codes, args.cells, seed=7)
    grid_s = time.perf_counter() - t
    places = all_places()
    sites = places[places["country"].isin(codes)
                   & (places["population"] >= args.site_min_population)]
    lat, lon = grid["lat"].to_numpy(), grid["lon"].to_numpy()
    s_lat, s_lon = sites["lat"].to_numpy(), sites["lon"].to_numpy()
    access = np.array(["ftth"] * len(grid), dtype=object)
    model = LatencyModel()
    rows = RowLatency.from_model(model, access, args.budget_ms, "p99", None)
    work = tempfile.TemporaryDirectory(prefix="components-")
    if args.cli_workers:
        grid.to_csv(Path(work.name) / "grid.csv", index=False)
        sites.to_csv(Path(work.name) / "places.csv", index=False)
    del grid
    t = time.perf_counter()
    split = split_components(lat, lon, rows.radius_km, s_lat, s_lon)
    split_s = time.perf_counter() - t
    sizes = np.sort(split.sizes())[::-1]
    out = {"continent": args.continent, "countries": len(codes), "cells": len(lat),
           "candidates": len(sites), "budget_ms": args.budget_ms,
           "radius_km": float(rows.radius_km.max()), "grid_s": grid_s, "split_s": split_s,
           "split": split.info, "components": split.n_components,
           "largest": [int(x) for x in sizes[:5]],
           "uncoverable_cells": int((split.cell_label < 0).sum()), "runs": []}
    print(json.dumps({k: v for k, v in out.items() if k != "runs"}), flush=True)
    for w in (int(x) for x in args.workers.split(",")):
        t = time.perf_counter()
        kw = dict(model=model, budget_ms=args.budget_ms, row_latency=rows, access=access,
                  time_limit_s=args.time_limit_s, split=split)
        if w == 0:
            res = solve_components(lat, lon, s_lat, s_lon, **kw)
            wall = time.perf_counter() - t
            start_s = 0.0
        else:
            with dask_client(w) as client:
                start_s = time.perf_counter() - t
                t = time.perf_counter()
                res = solve_components(lat, lon, s_lat, s_lon, client=client, **kw)
                wall = time.perf_counter() - t
        per_worker: dict[int, float] = {}
        for p in res.pieces:
            per_worker[p["pid"]] = max(per_worker.get(p["pid"], 0.0), p["peak_rss_mib"])
        c = res.lazy.cover
        run = {"workers": w, "wall_s": wall, "cluster_start_s": start_s,
               "solve_s": res.info["solve_s"], "sites": c.objective,
               "lower_bound": c.lower_bound, "status": c.status, "pieces": len(res.pieces),
               "worker_peak_mib": sorted(per_worker.values(), reverse=True),
               "client_peak_mib": rss(),
               "piece_table": res.pieces}
        out["runs"].append(run)
        print(json.dumps({k: v for k, v in run.items() if k != "piece_table"}), flush=True)
        for p in res.pieces:
            print("   ", json.dumps(p), flush=True)
    if args.cli_workers:
        out["cli"] = cli_run(Path(work.name), args)
        print(json.dumps(out["cli"]), flush=True)
    work.cleanup()
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


def _hwm_mib(pid: int) -> float:
    """Peak resident memory (VmHWM) of process ``pid`` so far, MiB (0 once it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cli_run(work: Path, args: argparse.Namespace) -> dict:
    """The whole plan of the grid from the command line (``--strategy components --workers
    N``): wall, the command's own peak (its VmHWM, sampled every 0.5 s: the last sample is
    a lower bound), its sweep process's and workers' peaks (from summary.json)."""
    out = work / "out"
    cmd = [str(Path(sys.executable).parent / "edge-coverage"), "plan", "--demand",
           str(work / "grid.csv"), "--candidates", str(work / "places.csv"),
           "--budget-ms", f"{args.budget_ms:g}", "--failures", "1", "--strategy", "components",
           "--workers", str(args.cli_workers), "--time-limit-s", f"{args.time_limit_s:g}",
           "--no-map", "--out", str(out)]
    t = time.perf_counter()
    rc, peak = run_sampled(cmd, work / "plan.log", _hwm_mib)
    wall_s = time.perf_counter() - t
    if rc != 0:
        raise RuntimeError(f"edge-coverage plan exit {rc}: "
                           + (work / "plan.log").read_text()[-2000:])
    summary = json.loads((out / "summary.json").read_text())
    pieces = summary["solver"]["components"]["pieces_table"]
    placement = summary.get("placement") or {}
    per_worker: dict[int, float] = {}  # the count's pieces and the placement's
    for p in [*pieces, *placement.get("pieces", [])]:
        if p.get("pid") is not None:
            per_worker[p["pid"]] = max(per_worker.get(p["pid"], 0.0), p["peak_rss_mib"])
    gap = placement.get("gap")
    return {
        "workers": args.cli_workers, "wall_s": wall_s, "sites": summary["site_count"],
        "lower_bound": summary["lower_bound"], "status": summary["status"],
        "pieces": len(pieces),
        "worker_peak_mib": sorted(per_worker.values(), reverse=True),
        "client_peak_mib": peak,
        "sweep_peak_mib": (summary.get("sweep") or {}).get("peak_rss_mib"),
        "placement_gap_pct": None if gap is None else 100.0 * gap,
        "timings_s": summary.get("timings_s", {}),
        "output_bytes": sum(f.stat().st_size for f in out.iterdir() if f.is_file()),
    }


if __name__ == "__main__":
    main()
