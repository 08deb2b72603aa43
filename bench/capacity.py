"""Benchmark: the capacitated N-k plan against the uncapacitated one on real US data.

Demand: the 85,395 US census tracts (2020 centres of population, shared data); candidates:
the US PeeringDB colocation facilities, each stated to host one edge cabinet (``power_kw``
30 or 10 kW, tier ``metro-colo``: PUE 1.58) of NVIDIA L4s running the default workload
(``vision-l4``: 225.9 requests/s per L4, MLPerf v3.1 Offline, at 80 % target utilisation).
Load assumption: 200 or 100 requests per person per day, peak-to-mean 3. Default
(internet) latency model, FTTH, 30 ms p99, N-1. Prints sites, status and bound, the
capacity rounds, cuts and scenarios, utilisation, time and peak memory, and writes the
table to ``--out`` (markdown).

Run: ``python bench/capacity.py --out docs/benchmarks-capacity.md`` (``make bench``).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

from coverage.errors import NoFeasiblePlanError
from coverage.planner.plan import plan_sites

sys.path.insert(0, str(Path(__file__).resolve().parent))
from instances import census_tracts, peeringdb_us  # noqa: E402

#: (cabinet power kW, requests per person per day) of the capacitated runs
CASES = ((30.0, 200.0), (10.0, 100.0), (10.0, 150.0), (5.0, 60.0), (10.0, 200.0))
PEAK_TO_MEAN = 3.0
BUDGET_MS = 30.0


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--time-limit-s", type=float, default=600.0)
    args = ap.parse_args()
    lines: list[str] = []

    def emit(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    demand = census_tracts()
    base = peeringdb_us().assign(tier="metro-colo")
    emit("# Capacitated N-k plan (bench/capacity.py)\n")
    emit(f"Environment: {platform.machine()}, {os.cpu_count()} cores, Python "
         f"{platform.python_version()}; time limit {args.time_limit_s:g} s per plan.\n")
    emit(f"Demand: {len(demand):,} US census tracts ({demand['population'].sum():,.0f} "
         f"people); candidates: {len(base):,} PeeringDB US facilities, each stated to host "
         "one edge cabinet of the given power (tier metro-colo, PUE 1.58) of NVIDIA L4s "
         "running vision-l4 (225.9 requests/s per L4, MLPerf v3.1 Offline) at 80 % target "
         f"utilisation; load in requests per person per day, peak-to-mean {PEAK_TO_MEAN:g}. "
         f"Internet latency model, FTTH, {BUDGET_MS:g} ms p99, N-1 (every single-site "
         "failure).\n")
    emit("| plan | cabinet | load | sites | status | lower bound | time | peak RSS | rounds | "
         "cuts | scenarios | load shed (max) | fleet utilisation | sites < 40 % | "
         "worst utilisation |")
    emit("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
         "| --- |")
    runs = [("uncapacitated", None, None)] + [("capacitated", kw, rppd)
                                             for kw, rppd in CASES]
    notes = []
    for label, power_kw, rppd in runs:
        sites = base if power_kw is None else base.assign(power_kw=power_kw)
        kw = {} if rppd is None else {"requests_per_person_day": rppd,
                                      "peak_to_mean": PEAK_TO_MEAN}
        t = time.perf_counter()
        try:
            plan = plan_sites(demand, sites, budget_ms=BUDGET_MS, failures=1,
                              time_limit_s=args.time_limit_s, kmedian_time_limit_s=60,
                              max_memory_gb=8.0, **kw)
        except NoFeasiblePlanError as exc:
            seconds = time.perf_counter() - t
            emit(f"| {label} | {power_kw:g} kW | {rppd:g}/person/day | no plan (exit 3) | - "
                 f"| - | {seconds:.1f} s | {peak_rss_mib():,.0f} MiB | - | - | - | - | - | - "
                 "| - |")
            notes.append(f"{power_kw:g} kW, {rppd:g} requests/person/day: {exc}")
            continue
        seconds = time.perf_counter() - t
        s = plan.summary()
        c = s.get("capacity") or {}
        cap = (f"{c['rounds']} | {c['cuts']} | {c['scenarios_checked']:,} | "
               f"{c['load_shed_max_rps']:,.1f} rps | {c['fleet_utilisation']:.0%} | "
               f"{c['sites_below_40pct']} | {c['worst_utilisation']:.0%}") if c else \
            "- | - | - | - | - | - | -"
        what = ("- | -" if power_kw is None
                else f"{power_kw:g} kW | {rppd:g}/person/day")
        emit(f"| {label} | {what} | {s['site_count']} | {s['status']} | "
             f"{s['lower_bound']:g} | {seconds:.1f} s | {peak_rss_mib():,.0f} MiB | {cap} |")
        if c:
            n_acc = plan.sites["n_accelerators"].to_numpy()
            notes.append(f"{power_kw:g} kW, {rppd:g} requests/person/day: "
                         f"{c['load_total_rps']:,.0f} requests/s at peak; "
                         f"{int(np.median(n_acc))} L4s per site; capacity of the chosen "
                         f"sites {c['capacity_total_rps']:,.0f} requests/s; utilisation "
                         f"from {c['utilisation_flows']}.")
    emit("")
    for n in notes:
        emit(f"- {n}")
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
