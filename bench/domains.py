"""Benchmark: plans that fail whole failure domains against plans that fail single sites.

A plan without a load whose candidates have a ``failure_domain`` (or
``--domain-radius-km``) needs every user's chosen sites in budget to lie in
``min(k + 1, |D_i|)`` domains (:mod:`coverage.solvers.domain_rows`); without it, in
``min(k + 1, |N_i|)`` sites. Two instances, each planned both ways, one process per plan
(peak memory its own):

- the 85,395 US census tracts against the US PeeringDB facilities, the facilities of one
  city (as the snapshot names it, with its state) one failure domain; default latency
  model, FTTH, 30 ms p99, N-1 and N-2; the reach matrix (``strategy="auto"``);
- the seeded synthetic US grid of about 1,000,000 populated cells
  (``coverage.inputs.synthetic.national_grid``, seeds 1, 2 and 3) against the US
  GeoNames places of at least 15,000 people, candidates within 25 km of each other one
  domain (``domain_radius_km``); 30 ms p99, N-1; row generation (``strategy="lazy"``).

Prints sites, status and bound, the population safe by single failures and by domain
failures, the proposed new sites (gap points still short; counted by sites or domains),
times and peak memory, and writes the table to ``--out`` (markdown).

Run: ``python bench/domains.py --out docs/benchmarks-domains.md`` (``make bench``).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

BUDGET_MS = 30.0
NATIONAL_CELLS = 1_000_000
NATIONAL_SEEDS = (1, 2, 3)
DOMAIN_RADIUS_KM = 25.0
#: (instance, failures, seed) of every pair of plans
CASES = (("census", 1, 0), ("census", 2, 0),
         *(("grid", 1, seed) for seed in NATIONAL_SEEDS))


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def one_plan(instance: str, failures: int, seed: int, domains: bool,
             time_limit_s: float) -> dict:
    """One plan's figures (run in a process of its own)."""
    from instances import census_tracts, peeringdb_us, us_candidates

    from coverage.inputs.synthetic import national_grid
    from coverage.planner.plan import plan_sites

    t = time.perf_counter()
    if instance == "census":
        demand = census_tracts()
        sites = peeringdb_us(city_domains=True)
        if not domains:
            sites = sites.drop(columns="failure_domain")
        kw: dict = {"strategy": "auto", "max_memory_gb": 8.0}
    else:
        demand = national_grid("US", NATIONAL_CELLS, seed=seed)
        sites = us_candidates(15_000)
        kw = {"strategy": "lazy", "max_memory_gb": 4.0,
              "domain_radius_km": DOMAIN_RADIUS_KM if domains else None}
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    plan = plan_sites(demand, sites, budget_ms=BUDGET_MS, failures=failures,
                      time_limit_s=time_limit_s, kmedian_time_limit_s=60, **kw)
    seconds = time.perf_counter() - t
    s = plan.summary()
    dom = s.get("domain_failures") or {}
    safe_domains = (s.get("population_safe_by_domain_failures") or {}).get(f"N-{failures}")
    if safe_domains is None:  # the plan by single sites, measured by the same domains
        safe_domains = _safe_by_domains(plan, sites, instance, failures)
    gap = s.get("kmedian_gap")
    n_domains = (int(plan.candidates["failure_domain"].nunique())
                 if "failure_domain" in plan.candidates.columns else None)
    return {
        "cells": len(demand), "population": float(demand["population"].sum()),
        "candidates": len(sites), "n_domains": n_domains, "build_s": build_s,
        "seconds": seconds, "solve_s": s["timings_s"].get("solve_s", 0.0),
        "peak_mib": peak_rss_mib(), "sites": int(s["site_count"]),
        "bound": float(s["lower_bound"]), "status": s["status"],
        "placement": str(s.get("kmedian_status")) + ("" if gap is None
                                                     else f", {100 * gap:.2f} %"),
        "safe_sites": float(s["population_safe_by_failures"][f"N-{failures}"]),
        "safe_domains": safe_domains,
        "count_fails": dom.get("count_fails"),
        # the proposed new sites for the gap points (by domains for a plan by domains)
        "proposed": (s.get("proposed") or {}).get("proposed_sites"),
        "proposed_still_short": (s.get("proposed") or {}).get("gap_points_still_short"),
        "proposed_by": (s.get("proposed") or {}).get("gaps_by", "single sites"),
    }


def _safe_by_domains(plan, sites, instance: str, failures: int) -> float:
    """The people whose chosen sites in budget lie in ``failures + 1`` domains (the
    instance's domains: the cities, or candidates within the radius), for a plan that
    did not count them: its chosen sites' reach built again (great-circle, the reference
    tier, each row's own access: the instances here have no tier that changes the
    latency, review 152; a tiered instance would need the plan's own pair latencies)."""
    import numpy as np
    from instances import peeringdb_us

    from coverage.model.capacity import failure_domains
    from coverage.model.reach import build_reach
    from coverage.resilience.status import domain_safety

    if instance == "census":
        by_id = peeringdb_us(city_domains=True).set_index("site_id")["failure_domain"]
        doms = by_id.reindex(plan.sites["site_id"]).to_numpy(dtype=object)
    else:
        every = failure_domains(sites, DOMAIN_RADIUS_KM)
        pos = sites.reset_index(drop=True).reset_index().set_index("site_id")["index"]
        doms = np.asarray(every, dtype=object)[pos.reindex(plan.sites["site_id"]).to_numpy()]
    d = plan.assignment
    reach = build_reach(d["lat"].to_numpy(), d["lon"].to_numpy(),
                        plan.sites["lat"].to_numpy(), plan.sites["lon"].to_numpy(),
                        model=plan.model, budget_ms=BUDGET_MS, percentile="p99")
    got = domain_safety(reach.boolean(), np.arange(len(plan.sites)), doms,
                        d["population"].to_numpy(dtype=np.float64), failures)
    return float(got["population_safe"][f"N-{failures}"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--time-limit-s", type=float, default=300.0)
    ap.add_argument("--one", nargs=4, metavar=("INSTANCE", "K", "SEED", "DOMAINS"),
                    help="run one plan and print its figures as JSON")
    args = ap.parse_args()
    if args.one:
        inst, k, seed, dom = args.one
        print(json.dumps(one_plan(inst, int(k), int(seed), dom == "domains",
                                  args.time_limit_s)))
        return 0
    lines: list[str] = []

    def emit(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    emit("# Failure domains in plans without a load (bench/domains.py)\n")
    emit(f"Environment: {platform.machine()}, {os.cpu_count()} cores, Python "
         f"{platform.python_version()}; time limit {args.time_limit_s:g} s per count, "
         "60 s per placement; one process per plan (peak RSS its own).\n")
    emit("Census: 85,395 US census tracts x the US PeeringDB facilities, one failure domain "
         "per city (the snapshot's city and state), the reach matrix. Grid: the seeded "
         f"synthetic US grid of about {NATIONAL_CELLS:,} cells x US GeoNames places of at "
         f"least 15,000 people, candidates within {DOMAIN_RADIUS_KM:g} km one domain, row "
         f"generation. Default latency model, FTTH, {BUDGET_MS:g} ms p99. 'safe' columns: "
         "the population within budget under every set of k site failures (for a "
         "fewest-sites plan: everyone with k + 1 candidates in budget), and under every "
         "set of k domain failures (the plan's chosen sites in budget in k + 1 domains; "
         "for a plan by single sites measured with the same domains); 'solve s' the count's "
         "solve, 'time' the whole plan_sites call.\n")
    emit("| instance | k | fails | sites | status | lower bound | safe, k sites | safe, k "
         "domains | placement | proposed (still short; by) | solve s | time | peak RSS |")
    emit("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    here = Path(__file__).resolve()
    worst: dict[bool, dict] = {}
    notes: list[str] = []
    for inst, k, seed in CASES:
        for domains in (False, True):
            out = subprocess.run(
                [sys.executable, str(here), "--one", inst, str(k), str(seed),
                 "domains" if domains else "sites", "--time-limit-s",
                 str(args.time_limit_s)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            name = ("census tracts x PeeringDB" if inst == "census"
                    else f"US grid 1M, seed {seed}")
            fails = "whole domains" if domains else "single sites"
            if domains and r["count_fails"] != "whole failure domains":
                fails = f"{r['count_fails']} (asked: whole domains)"
            pop = r["population"]
            dom_safe = f"{r['safe_domains'] / pop:.2%}"
            emit(f"| {name} | {k} | {fails} | {r['sites']} | {r['status']} | "
                 f"{r['bound']:g} | {r['safe_sites'] / pop:.2%} | {dom_safe} | "
                 f"{r['placement']} | {r['proposed']} ({r['proposed_still_short']}; "
                 f"{r['proposed_by']}) | {r['solve_s']:.1f} | {r['seconds']:.1f} s | "
                 f"{r['peak_mib']:,.0f} MiB |")
            if inst == "grid":
                prev = worst.get(domains)
                if prev is None or r["seconds"] > prev["seconds"]:
                    worst[domains] = {**r, "seed": seed}
            if domains and r["n_domains"] is not None and inst == "census" and k == 1:
                notes.append(f"Census: {r['candidates']:,} facilities in "
                             f"{r['n_domains']:,} city domains.")
    emit("")
    for domains, r in sorted(worst.items()):
        notes.append(f"Grid, worst of seeds {', '.join(map(str, NATIONAL_SEEDS))} by time, "
                     f"{'whole domains' if domains else 'single sites'}: seed {r['seed']}, "
                     f"{r['seconds']:.1f} s, {r['sites']} sites ({r['status']}), "
                     f"{r['cells']:,} cells, {r['candidates']:,} candidates.")
    for n in notes:
        emit(f"- {n}")
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
