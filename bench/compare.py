"""Benchmark: edge or region, `coverage.compare` across countries, budgets and prices.

First table: the embedded GeoNames demand (places of at least 500 people) and candidates
(places of at least 50,000, metro-colo tier) of five countries at 30, 50 and 100 ms p99,
N-1, 100 requests per person per day (peak-to-mean 3), the default latency model, cost
model (coverage/model/costs.toml) and every built-in cloud region. Second table: real US
data, the 85,395 census tracts against the PeeringDB colocation facilities as 20 kW
metro-colo cabinets, at 30 ms, with the default prices and with the region priced on demand
behind a CDN. Prints each comparison's sites, shares within budget, utilisation, breakeven,
prices per million requests, warnings, recommendation and time, and writes the tables to
``--out`` (markdown).

Run: ``python bench/compare.py --out docs/benchmarks-compare.md`` (``make bench``).
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
from pathlib import Path

import coverage
from coverage.inputs.geonames import geonames_candidates, geonames_demand
from coverage.model.costs import CostModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from instances import census_tracts, peeringdb_us  # noqa: E402

COUNTRIES = ("DE", "PT", "IN", "BR", "US")
BUDGETS_MS = (30.0, 50.0, 100.0)
HEADER = ("| data | budget | edge sites | edge within budget | region within budget (one / two) "
          "| fleet mean util | breakeven | edge $/M req | region $/M req | recommendation "
          "| warnings | accelerators (most even) | sizing | time | peak RSS |")
N_COLUMNS = HEADER.count("|") - 1


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def pct(x: float | None) -> str:
    return "never" if x is None else f"{100 * x:.1f} %"


def row(label: str, budget: float, demand, sites, **kw) -> str:
    t = time.perf_counter()
    c = coverage.compare(demand, sites, budget_ms=budget, **kw)
    dt = time.perf_counter() - t
    d = c.document
    e, r, be = d["edge"], d["region"], d["breakeven"]
    return (f"| {label} | {budget:g} ms | {e['sites']} | "
            f"{pct(e['coverage']['share_within_budget'])} | "
            f"{pct(r['coverage']['share_within_budget'])} / "
            f"{pct(r['coverage']['share_within_budget_n1'])} | "
            f"{pct(e['utilisation']['fleet_mean'])} | {pct(be['utilisation'])} | "
            f"{e['cost_per_million_requests']:.2f} | {r['cost_per_million_requests']:.2f} | "
            f"{d['verdict']['recommendation']} | {', '.join(c.codes) or '-'} | "
            f"{e['sizing']['accelerators']:,} ({e['sizing']['accelerators_most_even']:,}) | "
            f"{e['sizing']['by']}: {e['sizing']['least_capacity']} | {dt:.1f} s | "
            f"{peak_rss_mib():,.0f} MiB |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--countries", default=",".join(COUNTRIES))
    args = ap.parse_args()
    lines = [
        "# Benchmarks: edge or region (`bench/compare.py`, part of `make bench`)", "",
        f"Last run {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()}, "
        f"{len(__import__('os').sched_getaffinity(0))} cores, Python "
        f"{platform.python_version()}. Times are wall seconds of one `coverage.compare` "
        "(the capacitated N-1 plan, region coverage, prices, advisor); peak RSS is the "
        "process maximum so far. Prices: the built-in cost model (a first look, "
        "docs/edge-vs-region.md); load 100 requests per person per day, peak-to-mean 3; "
        "vision-l4; every built-in region. Sizing: compare's default, the least capacity of "
        "every site that carries every scenario (`sizing`: `least`) when found and it needs "
        "fewer accelerators than each site's worst load of the most even flows (`most_even`; "
        "its count in brackets); after the colon, the least-capacity program's status.", "",
        "## GeoNames demo data (places >= 500 people; candidates >= 50,000, metro-colo)", "",
        HEADER, "| " + " | ".join(["---"] * N_COLUMNS) + " |"]
    print(lines[-2], flush=True)
    for cc in args.countries.split(","):
        demand, sites = geonames_demand(cc, 500), geonames_candidates(cc, 50_000)
        for b in BUDGETS_MS:
            lines.append(row(cc, b, demand, sites))
            print(lines[-1], flush=True)
    lines += ["", "## US census tracts x PeeringDB facilities (20 kW metro-colo cabinets, "
              "84 L4s each), 30 ms p99, N-1", "",
              "Default prices, then the region on demand (0.75 USD per L4-hour) behind a CDN "
              "(1.85 USD per million requests).", "", HEADER,
              "| " + " | ".join(["---"] * N_COLUMNS) + " |"]
    demand = census_tracts()
    sites = peeringdb_us().assign(tier="metro-colo", power_kw=20.0)
    on_demand_cdn = CostModel.builtin().with_overrides(
        {"accelerators": {"NVIDIA L4": {"region_hour_usd": 0.75}},
         "region": {"network_usd_per_million_requests": 1.85}})
    for label, kw in (("census x PeeringDB, default prices", {}),
                      ("census x PeeringDB, region on demand + CDN",
                       {"costs": on_demand_cdn})):
        lines.append(row(label, 30.0, demand, sites, time_limit_s=600.0, **kw))
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
