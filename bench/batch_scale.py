"""Issue-5 benchmark: a batch sweep over the 1M-cell US grid on a local Dask cluster.

Sections (``--only``, comma separated; all by default):

* ``sweep``: ``edge-coverage batch`` over the synthetic 1M-cell US grid x US places >= 15k,
  3 budgets (30, 50, 100 ms p99) x 2 failure levels (N-0, N-1), once with 1 worker and once
  with 2 workers (fresh output directories). The command runs as a child process; a sampler
  sums the resident memory of it and all its descendants (Dask nannies and workers) every
  0.2 s, so the peak is the whole sweep's, not one process's.
* ``reach``: :func:`coverage.build_reach` of the same grid at 23 ms (a full matrix of about
  20M pairs) in this process vs in partitions on a 2-worker ``LocalCluster``; the two
  matrices are compared entry for entry.

Prints one line per measurement and writes ``--out`` (Markdown).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import instances  # noqa: E402
from mdout import write_markdown  # noqa: E402

EXE = str(Path(sys.executable).with_name("edge-coverage"))
GIB = 2**30


class TreeMemory:
    """Peak of the summed RSS of a process and all its descendants, sampled in a thread."""

    def __init__(self, pid: int, interval_s: float = 0.2) -> None:
        self.root = psutil.Process(pid)
        self.interval_s = interval_s
        self.peak_bytes = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        if total > self.peak_bytes:
            self.peak_bytes, self.peak_processes = total, len(procs)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def write_inputs(folder: Path, n_cells: int) -> tuple[Path, Path, pd.DataFrame, pd.DataFrame]:
    grid = instances.national_grid_us(n_cells)
    sites = instances.us_candidates(15_000)
    demand_path, sites_path = folder / "us_grid.parquet", folder / "us_places.csv"
    grid.to_parquet(demand_path, index=False)
    sites.to_csv(sites_path, index=False)
    return demand_path, sites_path, grid, sites


def sweep(lines: list[str], folder: Path, demand: Path, sites: Path, n_cells: int,
          budgets: list[float], time_limit_s: float) -> None:
    config = folder / "scenarios.toml"
    config.write_text(
        "[base]\n"
        f'demand = "{demand}"\ncandidates = "{sites}"\n'
        f"time_limit_s = {time_limit_s:g}\n"
        'model = "on-net"\n'  # the scale instances keep the on-net profile (bench/scale.py)
        "[axes]\n"
        f"budget_ms = [{', '.join(f'{b:g}' for b in budgets)}]\n"
        "failures = [0, 1]\n")
    results = {}
    for workers in (1, 2):
        out = folder / f"out-{workers}"
        t = time.perf_counter()
        proc = subprocess.Popen([EXE, "batch", str(config), "--out", str(out), "--workers",
                                 str(workers)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        with TreeMemory(proc.pid) as mem:
            stdout, stderr = proc.communicate()
        wall_s = time.perf_counter() - t
        if proc.returncode:
            raise SystemExit(f"batch with {workers} worker(s) failed:\n{stderr}")
        table = pd.read_csv(out / "scenarios.csv")
        results[workers] = (wall_s, mem.peak_bytes, mem.peak_processes, table)
        print(f"[sweep] workers={workers}: {len(table)} scenarios in {wall_s:.1f} s, peak "
              f"{mem.peak_bytes / GIB:.2f} GiB over {mem.peak_processes} processes", flush=True)
    t1, t2 = results[1][0], results[2][0]
    lines += [
        f"## Sweep: {n_cells:,}-cell US grid, {len(budgets)} budgets x 2 failure levels",
        "",
        f"`edge-coverage batch` with `[axes] budget_ms = {budgets}`, `failures = [0, 1]`, "
        f"`time_limit_s = {time_limit_s:g}`; inputs: `bench/instances.national_grid_us` "
        "written to Parquet, US GeoNames places >= 15,000 as candidates. Wall time of the "
        "whole command (reading the inputs, starting the cluster, scattering the grid, the "
        "six plans, the table and plot); peak memory is the sum over the command and its "
        "Dask processes (sampled every 0.2 s).",
        "",
        "| workers | wall s | peak total GiB | processes at peak | scenarios ok |",
        "| --- | --- | --- | --- | --- |",
    ]
    for w, (wall, peak, nproc, table) in results.items():
        lines.append(f"| {w} | {wall:.1f} | {peak / GIB:.2f} | {nproc} | "
                     f"{int(table['ok'].sum())}/{len(table)} |")
    lines += ["", f"Speed-up of 2 workers over 1: **{t1 / t2:.2f}x** ({t1:.1f} s -> {t2:.1f} s); "
              f"8 GiB target: {'met' if results[2][1] <= 8 * GIB else 'NOT met'} "
              f"({results[2][1] / GIB:.2f} GiB with 2 workers).", "",
              "| budget ms | failures | sites | bound | status | n1 people outside | "
              "plan s (1 worker) | plan s (2 workers) |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    one = results[1][3].set_index("key")["runtime_s"]
    for _, r in results[2][3].iterrows():
        lines.append(f"| {r['budget_ms']:g} | {int(r['failures'])} | {int(r['site_count'])} | "
                     f"{r['lower_bound']:g} | {r['status']} | "
                     f"{r['n1_population_outside_budget']:,.0f} | {one[r['key']]:.1f} | "
                     f"{r['runtime_s']:.1f} |")
        print(f"[sweep] budget={r['budget_ms']:g} failures={int(r['failures'])}: "
              f"{int(r['site_count'])} sites ({r['status']}), {one[r['key']]:.1f} s on 1 "
              f"worker, {r['runtime_s']:.1f} s on 2")
    for w in (1, 2):
        busy = float(results[w][3]["runtime_s"].sum())
        lines.append("")
        lines.append(f"{w} worker(s): plans {busy:.1f} s of task time in all, the rest of the "
                     f"{results[w][0]:.1f} s wall time is the command's fixed work (cluster "
                     "start, reading and scattering the inputs, writing each scenario's "
                     "tables, the combined table and plot) and idle workers.")
        print(f"[sweep] workers={w}: plan time {busy:.1f} s of {results[w][0]:.1f} s wall")
    same = results[2][3]["site_count"].tolist() == results[1][3]["site_count"].tolist()
    lines += ["", "Site counts with 1 and 2 workers: "
              + ("identical." if same else "DIFFERENT (see the tables in the output folders)."),
              ""]
    print(f"[sweep] speed-up 2 workers / 1 worker: {t1 / t2:.2f}x", flush=True)


def reach(lines: list[str], grid: pd.DataFrame, sites: pd.DataFrame, budget_ms: float) -> None:
    from distributed import Client, LocalCluster

    from coverage import LatencyModel, build_reach

    args = (grid["lat"].to_numpy(), grid["lon"].to_numpy(), sites["lat"].to_numpy(),
            sites["lon"].to_numpy())
    kw = dict(model=LatencyModel.from_profile("on-net"), budget_ms=budget_ms, access="ftth")
    t = time.perf_counter()
    serial = build_reach(*args, **kw)
    serial_s = time.perf_counter() - t
    rows = [("this process", 1, "-", serial_s)]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        for partitions in (2, 4, 8):
            t = time.perf_counter()
            parts = build_reach(*args, client=client, partitions=partitions, **kw)
            rows.append(("2-worker LocalCluster", 2, partitions, time.perf_counter() - t))
            for a in ("indptr", "indices", "distance_km", "latency_ms", "p50_ms"):
                np.testing.assert_array_equal(getattr(serial, a), getattr(parts, a))
            del parts
    lines += [f"## Reach matrix in partitions: {len(grid):,} cells x {len(sites):,} sites, "
              f"{budget_ms:g} ms", "",
              f"{serial.nnz:,} pairs ({serial.nbytes / GIB:.2f} GiB). Every partitioned "
              "matrix equals the one built in this process, entry for entry (checked). Times "
              "include sending the partitions and gathering the parts.", "",
              "| where | workers | partitions | s | vs this process |",
              "| --- | --- | --- | --- | --- |"]
    for where, w, p, s in rows:
        lines.append(f"| {where} | {w} | {p} | {s:.1f} | {serial_s / s:.2f}x |")
        print(f"[reach] {where}, partitions={p}: {s:.1f} s ({serial_s / s:.2f}x)", flush=True)
    lines.append("")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="sweep,reach")
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--budgets-ms", default="30,50,100")
    parser.add_argument("--time-limit-s", type=float, default=300.0)
    parser.add_argument("--reach-budget-ms", type=float, default=23.0)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks-batch.md"))
    args = parser.parse_args()
    only = args.only.split(",")
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, "
               f"{psutil.virtual_memory().total / GIB:.0f} GiB, Python "
               f"{platform.python_version()}")
    lines = ["# Benchmarks: batch sweeps on Dask (`bench/batch_scale.py`, part of `make bench`)",
             "", f"Last run {time.strftime('%Y-%m-%d %H:%M')} on {machine}.", ""]
    with tempfile.TemporaryDirectory(prefix="edge-batch-bench-") as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        demand, sites, grid, site_df = write_inputs(folder, args.cells)
        print(f"[inputs] {len(grid):,} cells, {len(site_df):,} sites in "
              f"{time.perf_counter() - t:.1f} s", flush=True)
        if "sweep" in only:
            budgets = [float(b) for b in args.budgets_ms.split(",")]
            sweep(lines, folder, demand, sites, len(grid), budgets, args.time_limit_s)
        if "reach" in only:
            reach(lines, grid, site_df, args.reach_budget_ms)
    out = write_markdown(args.out, lines)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
