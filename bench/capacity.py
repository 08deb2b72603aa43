"""Benchmark: the capacitated N-k plan against the uncapacitated one on real US data.

Demand: the 85,395 US census tracts (2020 centres of population, shared data); candidates:
the US PeeringDB colocation facilities, each stated to host one edge cabinet (``power_kw``
60, 20 or 10 kW, tier ``metro-colo``: PUE 1.58) of NVIDIA L4s running the default workload
(``vision-l4``: 225.9 requests/s per L4, MLPerf v3.1 Offline, at 80 % target utilisation).
Load assumption: 200 or 100 requests per person per day, peak-to-mean 3. Default
(internet) latency model, FTTH, 30 ms p99, N-1. Prints sites, status and bound, the
capacity rounds, cuts and scenarios, utilisation, time and peak memory, and writes the
table to ``--out`` (markdown).

Second table: the national grid (about a million populated US cells of the seeded
synthetic grid, ``coverage.inputs.synthetic.national_grid``) against the US GeoNames places
of at least 15,000 people as candidates, the same cabinet and load assumptions, solved by row
and cut generation (``strategy="lazy"``: the reach matrix is never built). Each national run
is its own process (``--national-case KW RPPD``), so its peak memory is its own.

Run: ``python bench/capacity.py --out docs/benchmarks-capacity.md`` (``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from coverage.errors import NoFeasiblePlanError
from coverage.planner.plan import plan_sites

sys.path.insert(0, str(Path(__file__).resolve().parent))
from instances import census_tracts, peeringdb_us  # noqa: E402

#: (cabinet power kW, requests per person per day) of the capacitated runs
# cabinets of 60 / 20 / 10 kW hold 256 / 84 / 42 L4s (hosts of four counted)
CASES = ((60.0, 200.0), (20.0, 100.0), (20.0, 150.0), (10.0, 60.0), (20.0, 200.0))
#: the same for the national grid (0, 0: uncapacitated)
NATIONAL_CASES = ((0.0, 0.0), (20.0, 150.0), (10.0, 150.0))
NATIONAL_CELLS = 1_000_000
PEAK_TO_MEAN = 3.0
BUDGET_MS = 30.0


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--time-limit-s", type=float, default=600.0)
    ap.add_argument("--national-case", nargs=2, type=float, metavar=("KW", "RPPD"),
                    help="run one national-grid case and print its figures as JSON")
    ap.add_argument("--skip-national", action="store_true")
    args = ap.parse_args()
    if args.national_case:
        print(json.dumps(national_case(*args.national_case, args.time_limit_s)))
        return 0
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
    emit("'placement' is the k-median stage's status and its proven gap (60 s limit, the "
         "default 0.5 % gap asked), 'placement s' its time (within 'time').\n")
    emit("| plan | cabinet | load | sites | status | lower bound | time | placement | "
         "placement s | peak RSS | rounds | cuts | scenarios | load shed (max) | fleet "
         "utilisation | sites < 40 % | worst utilisation |")
    emit("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
         "| --- | --- | --- |")
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
                 f"| - | {seconds:.1f} s | - | - | {peak_rss_mib():,.0f} MiB | - | - | - | - "
                 "| - | - | - |")
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
             f"{s['lower_bound']:g} | {seconds:.1f} s | {placement(s)} | "
             f"{s['timings_s'].get('kmedian_s', 0.0):.1f} | {peak_rss_mib():,.0f} MiB | "
             f"{cap} |")
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
    if not args.skip_national:
        national_table(emit, args.time_limit_s)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


def placement(s: dict) -> str:
    """The k-median stage's status and proven gap, from a summary."""
    gap = s.get("kmedian_gap")
    return str(s.get("kmedian_status")) + ("" if gap is None else f", {100 * gap:.2f} %")


def national_case(power_kw: float, rppd: float, time_limit_s: float) -> dict:
    """One national-grid plan (row and cut generation); its figures."""
    from instances import national_grid_us, us_candidates

    t = time.perf_counter()
    grid = national_grid_us(NATIONAL_CELLS)
    sites = us_candidates(15_000).assign(tier="metro-colo")
    if power_kw > 0:
        sites = sites.assign(power_kw=power_kw)
    build_s = time.perf_counter() - t
    kw = {} if rppd <= 0 else {"requests_per_person_day": rppd, "peak_to_mean": PEAK_TO_MEAN}
    t = time.perf_counter()
    try:
        plan = plan_sites(grid, sites, budget_ms=BUDGET_MS, failures=1, access="ftth",
                          strategy="lazy", time_limit_s=time_limit_s, max_memory_gb=4.0,
                          **kw)
    except NoFeasiblePlanError as exc:
        return {"error": str(exc), "seconds": time.perf_counter() - t,
                "peak_mib": peak_rss_mib()}
    seconds = time.perf_counter() - t
    s = plan.summary()
    rounds = s["solver"].get("rounds", [])
    c = s.get("capacity") or {}
    return {
        "cells": len(grid), "population": float(grid["population"].sum()),
        "candidates": len(sites), "build_s": build_s, "seconds": seconds,
        "peak_mib": peak_rss_mib(), "sites": s["site_count"], "bound": s["lower_bound"],
        "status": s["status"], "rounds": len(rounds),
        "rows_fetched": s["solver"].get("rows_fetched", 0),
        "pairs_fetched": s["solver"].get("pairs_fetched", 0),
        "solve_s": s["timings_s"]["solve_s"], "n1_s": s["timings_s"]["n1_s"],
        "milp_s": float(sum(r.get("solve_s", 0.0) for r in rounds)),
        "check_s": float(sum(r.get("check_s", 0.0) for r in rounds)),
        "repair_s": float(sum(r.get("repair_s", 0.0) for r in rounds)),
        "cuts": c.get("cuts"), "scenarios": c.get("scenarios_checked"),
        "shed": c.get("load_shed_max_rps"), "fleet": c.get("fleet_utilisation"),
        "below40": c.get("sites_below_40pct"), "worst": c.get("worst_utilisation"),
        "load": c.get("load_total_rps"), "placement": placement(s),
        "placement_s": s["timings_s"].get("kmedian_s", 0.0),
        "kept_because": (s.get("placement") or {}).get("kept_because"),
        "normal_flow": c.get("normal_flow"),
    }


def national_table(emit, time_limit_s: float) -> None:
    """The national-grid table: one process per case."""
    emit("")
    emit("## National grid, capacitated by row and cut generation\n")
    emit(f"Demand: the seeded synthetic US grid of about {NATIONAL_CELLS:,} populated cells; "
         "candidates: US GeoNames places of at least 15,000 people (tier metro-colo), each "
         "stated to host one cabinet of the given power; the same workload, utilisation and "
         f"load assumptions as above; default latency model, FTTH, {BUDGET_MS:g} ms p99, N-1. "
         "`strategy=\"lazy\"`: the reach matrix is never built (row generation for coverage, "
         "cut generation with a max-flow check of every scenario on the pattern restricted to "
         "the plan's sites). One process per case: peak RSS is the case's own. 'time' is "
         "the whole plan_sites call (counts, a-priori region cuts, rounds, the per-round "
         "repairs, the N-1 latency check, outputs); 'MILP s' and 'check s' are the rounds' "
         "MILP solves and max-flow checks, 'repair s' the per-round repairs; 'placement' the "
         "national placement's status and gap, 'placement s' its time (60 s limit).\n")
    emit("| plan | cabinet | load | sites | status | lower bound | gap (sites) | time | MILP "
         "s | check s | repair s | placement | placement s | peak RSS | rounds | rows held | "
         "cuts | scenarios | load shed (max) | fleet utilisation | sites < 40 % | worst "
         "utilisation |")
    emit("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
         "| --- | --- | --- | --- | --- | --- | --- | --- |")
    here = Path(__file__).resolve()
    notes = []
    for power_kw, rppd in NATIONAL_CASES:
        out = subprocess.run([sys.executable, str(here), "--national-case", str(power_kw),
                              str(rppd), "--time-limit-s", str(time_limit_s)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        label = "uncapacitated" if power_kw <= 0 else "capacitated"
        what = ("- | -" if power_kw <= 0 else f"{power_kw:g} kW | {rppd:g}/person/day")
        if "error" in r:
            emit(f"| {label} | {what} | no plan (exit 3) | - | - | - | {r['seconds']:.1f} s "
                 f"| - | - | - | - | - | {r['peak_mib']:,.0f} MiB | - | - | - | - | - | - | - "
                 "| - |")
            notes.append(f"{what}: {r['error']}")
            continue
        cap = (f"{r['cuts']} | {r['scenarios']:,} | {r['shed']:,.1f} rps | {r['fleet']:.0%} | "
               f"{r['below40']} | {r['worst']:.0%}") if r["cuts"] is not None else \
            "- | - | - | - | - | -"
        emit(f"| {label} | {what} | {r['sites']} | {r['status']} | {r['bound']:g} | "
             f"{r['sites'] - r['bound']:g} | {r['seconds']:.1f} s | {r['milp_s']:.1f} | "
             f"{r['check_s']:.1f} | {r['repair_s']:.1f} | {r['placement']} | "
             f"{r['placement_s']:.1f} | {r['peak_mib']:,.0f} MiB | "
             f"{r['rounds']} | "
             f"{r['rows_fetched']:,} | {cap} |")
        if r.get("load"):
            notes.append(f"{what}: {r['load']:,.0f} requests/s at peak over "
                         f"{r['cells']:,} cells ({r['population']:,.0f} people); flows.csv: "
                         f"{r.get('normal_flow')}.")
        if r.get("kept_because"):
            notes.append(f"{what}: the count's plan kept: {r['kept_because']}.")
    emit("")
    for n in notes:
        emit(f"- {n}")


if __name__ == "__main__":
    raise SystemExit(main())
