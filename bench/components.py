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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--continent", default="EU", help="GeoNames continent code(s), comma list")
    ap.add_argument("--cells", type=int, default=2_000_000)
    ap.add_argument("--site-min-population", type=int, default=15_000)
    ap.add_argument("--budget-ms", type=float, default=30.0)
    ap.add_argument("--workers", default="1,2", help="comma list; 0 = in this process")
    ap.add_argument("--time-limit-s", type=float, default=120.0)
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
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
