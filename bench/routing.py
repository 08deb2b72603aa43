"""Benchmark: site tiers, mobile anchors (UPF) and a backbone graph in the latency model.

Plans the ``make demo`` data (GeoNames US places >= 500 people as demand, places >= 50,000
as candidates, the default ``internet`` latency model, N-1, FTTH unless stated) four ways:

1. **Tiers**: every candidate as ``metro-colo`` (the reference tier: must give the plan of
   the same candidates without a tier), ``cdn-pop``, ``mec``, and ``on-prem`` with every
   demand row naming it (``tiers="on-prem"``), at 50 and 30 ms p99. A tier that cannot meet
   a budget even at distance 0 raises :class:`coverage.errors.InfeasibleBudgetError`;
   the table records "infeasible" and the fixed latency of the message.
2. **A mixed fleet** at 50 ms p99: the demo candidates as ``metro-colo`` plus the
   Cloudflare US colos (``<workspace>/shared/data/cdn_pops/cloudflare``, airport
   coordinates) as ``cdn-pop``, against either alone.
3. **Mobile anchors**: the demand on ``5g-urllc`` access at 30 and 50 ms p99, with
   ``upf="none"`` (no detour), ``upf="default"`` (one UPF per large metro; how many, and the
   population-weighted median and p90 user -> UPF distance from
   :func:`coverage.inputs.upf.anchor_rows`) and ``upf="default"`` with every candidate
   ``local_breakout=True`` (must equal "none").
4. **Backbone vs flat** under the ``on-net`` profile at 30 ms p99: the Topology Zoo
   AT&T MPLS graph (``AttMpls.gml``) on the US demo, then GEANT 2012 (``Geant2012.gml``)
   on the DE demo (k-median limit 20 s, site-count limit 120 s): no backbone, backbone at
   the default edge factor (1.5) and at 1.2. Path stretch is (propagation + route detour)
   / propagation of each served row at its primary site.

Every plan's wall time is measured around :func:`coverage.plan_sites`. Progress goes to
stderr; the tables to stdout and ``--out`` (markdown).

Run: ``python bench/routing.py --out docs/benchmarks-routing.md`` (``make bench``; about
3 minutes on 2 cores). ``--sections 1,3`` runs a subset and ``--no-de`` skips the DE
plans (for checking; commit only the page of a full run).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import coverage
from coverage import plan_sites
from coverage.errors import InfeasibleBudgetError
from coverage.inputs.geonames import geonames_candidates, geonames_demand
from coverage.inputs.upf import anchor_rows, default_upf
from coverage.model.backbone import read_backbone
from coverage.model.latency import LatencyModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from instances import SHARED_DATA  # noqa: E402
from mdout import write_markdown  # noqa: E402

CLOUDFLARE = SHARED_DATA / "cdn_pops" / "cloudflare" / "DC-Colos.csv"
TOPOLOGY_ZOO = SHARED_DATA / "topology_zoo"
TIERS = ("metro-colo", "cdn-pop", "mec", "on-prem")
_FIXED = re.compile(r"(\d+(?:\.\d+)?) ms at distance 0")


def progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def timed_plan(label: str, demand: pd.DataFrame, sites: pd.DataFrame, **kw: Any,
               ) -> tuple[Any, float, str | None]:
    """``(plan, seconds, None)`` or ``(None, seconds, fixed latency)`` when the budget is
    infeasible at distance 0 (the fixed latency read from the error message)."""
    progress(f"plan: {label}")
    t = time.perf_counter()
    try:
        plan = plan_sites(demand, sites, **kw)
    except InfeasibleBudgetError as exc:
        s = time.perf_counter() - t
        found = _FIXED.findall(str(exc))
        progress(f"  infeasible ({s:.1f} s): {exc}")
        return None, s, (f"{min(map(float, found)):.1f} ms" if found else str(exc))
    s = time.perf_counter() - t
    x = plan.summary()
    progress(f"  {x['site_count']} sites, {x['status']}, {s:.1f} s")
    return plan, s, None


def served(plan: Any) -> pd.DataFrame:
    return plan.demand[plan.demand["primary_site_id"].notna()]


def wmean(values: pd.Series, weights: pd.Series) -> float:
    w = weights.to_numpy(dtype=float)
    return float(np.average(values.to_numpy(dtype=float), weights=w)) if w.sum() else np.nan


def wquantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Weighted quantile: the smallest value whose cumulative weight reaches ``q``."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, q * cum[-1])])


def chosen_ids(plan: Any) -> frozenset[str]:
    return frozenset(plan.sites["site_id"].astype(str))


def ms(x: float) -> str:
    # round first, then add 0.0: float noise of -1e-12 ms prints as 0.00, not -0.00
    return "-" if x is None or not np.isfinite(x) else f"{round(x, 2) + 0.0:.2f} ms"


# --------------------------------------------------------------------------- section 1


def section_tiers(emit: Callable[[str], None], demand: pd.DataFrame,
                  sites: pd.DataFrame) -> None:
    emit("\n## 1. Tiers on the US demo\n")
    emit(f"Demand: {len(demand):,} GeoNames US places >= 500 people "
         f"({demand['population'].sum():,.0f} people); candidates: {len(sites):,} places "
         ">= 50,000, every one given the tier of the row (on-prem: every demand row has "
         "`tiers=\"on-prem\"`, the only rows it may serve). Default `internet` model, FTTH, "
         "N-1, p99. p99 radius: `summary()[\"max_radius_km\"]`; mean p50: "
         "population-weighted over served rows (`mean_latency_ms`).\n")
    emit("| tier | budget | sites | status | lower bound | p99 radius | mean p50 | "
         "uncoverable | time | of which gap proposals |")
    emit("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    checks = []
    for budget in (50.0, 30.0):
        # the plain demo: the same candidates with no tier column (label outside the
        # catalog, the reference site): metro-colo must give exactly this plan
        plain, plain_s, _ = timed_plan(f"plain demo (no tier column), {budget:g} ms",
                                       demand, sites.drop(columns=["tier"]),
                                       budget_ms=budget, failures=1)
        for tier in TIERS:
            d = demand.assign(tiers="on-prem") if tier == "on-prem" else demand
            plan, s, fixed = timed_plan(f"tier {tier}, {budget:g} ms", d,
                                        sites.assign(tier=tier), budget_ms=budget,
                                        failures=1)
            if plan is None:
                emit(f"| {tier} | {budget:g} ms | - | infeasible ({fixed} at distance 0) | "
                     f"- | - | - | - | {s:.1f} s | - |")
                continue
            x = plan.summary()
            total = x["population_total"]
            emit(f"| {tier} | {budget:g} ms | {x['site_count']} | {x['status']} | "
                 f"{x['lower_bound']:g} | {x['max_radius_km']:,.0f} km | "
                 f"{ms(x['mean_latency_ms'])} | {x['population_uncoverable'] / total:.2%} | "
                 f"{s:.1f} s | {x['timings_s'].get('proposals_s', np.nan):.1f} s |")
            if tier == "metro-colo":
                p = plain.summary()
                same = (chosen_ids(plan) == chosen_ids(plain)
                        and x["site_count"] == p["site_count"]
                        and np.isclose(x["mean_latency_ms"], p["mean_latency_ms"])
                        and np.isclose(x["max_radius_km"], p["max_radius_km"]))
                checks.append(f"{budget:g} ms: plain demo {p['site_count']} sites, "
                              f"mean p50 {p['mean_latency_ms']:.2f} ms ({plain_s:.1f} s); "
                              f"metro-colo {'identical (same site ids)' if same else 'DIFFERS'}")
    emit("\nReference check (the demo candidates without a `tier` column): "
         + "; ".join(checks) + ".")


# --------------------------------------------------------------------------- section 2


def cloudflare_us() -> pd.DataFrame:
    raw = pd.read_csv(CLOUDFLARE)
    us = raw[(raw["cca2"] == "US") & raw["lat"].notna() & raw["lon"].notna()]
    return pd.DataFrame({"site_id": "cf-" + us["colo"].astype(str),
                         "lat": us["lat"].astype(float), "lon": us["lon"].astype(float),
                         "name": "Cloudflare " + us["colo"].astype(str) + " ("
                                 + us["city"].astype(str) + ")",
                         "tier": "cdn-pop", "required": False}).reset_index(drop=True)


def section_mixed(emit: Callable[[str], None], demand: pd.DataFrame,
                  sites: pd.DataFrame) -> None:
    cdn = cloudflare_us()
    metro = sites.assign(tier="metro-colo")
    mixed = pd.concat([metro, cdn], ignore_index=True)
    assert mixed["site_id"].is_unique
    emit("\n## 2. A mixed fleet (50 ms p99)\n")
    emit(f"Candidates: the {len(metro):,} demo candidates as metro-colo plus the "
         f"{len(cdn)} Cloudflare US colos (`cdn_pops/cloudflare/DC-Colos.csv`, `cca2 == "
         "\"US\"`, airport coordinates) as cdn-pop; same demand and model as section 1.\n")
    emit("| candidates | candidates count | sites | metro-colo chosen | cdn-pop chosen | "
         "status | lower bound | mean p50 | single-coverable | uncoverable | time |")
    emit("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, cands in (("metro-colo only", metro), ("cdn-pop only", cdn),
                         ("mixed", mixed)):
        plan, s, fixed = timed_plan(f"fleet {label}, 50 ms", demand, cands, budget_ms=50.0,
                                    failures=1)
        if plan is None:
            emit(f"| {label} | {len(cands):,} | - | - | - | infeasible ({fixed} at "
                 f"distance 0) | - | - | - | - | {s:.1f} s |")
            continue
        x = plan.summary()
        by = plan.sites["tier"].astype(str).value_counts()
        emit(f"| {label} | {len(cands):,} | {x['site_count']} | {by.get('metro-colo', 0)} | "
             f"{by.get('cdn-pop', 0)} | {x['status']} | {x['lower_bound']:g} | "
             f"{ms(x['mean_latency_ms'])} | "
             f"{x['population_single_coverable'] / x['population_total']:.2%} | "
             f"{x['population_uncoverable'] / x['population_total']:.2%} | {s:.1f} s |")
    emit("\nSingle-coverable: people with exactly one candidate within budget (they cannot "
         "be N-1 safe); a row's requirement is min(2, its candidates within budget), so a "
         "candidate set that gives such rows a second candidate can need more sites, not "
         "fewer.")


# --------------------------------------------------------------------------- section 3


def section_upf(emit: Callable[[str], None], demand: pd.DataFrame,
                sites: pd.DataFrame) -> None:
    mobile = demand.assign(access="5g-urllc")
    lat, lon = mobile["lat"].to_numpy(float), mobile["lon"].to_numpy(float)
    t = time.perf_counter()
    upf = default_upf(lat, lon)
    _, dist = anchor_rows(lat, lon, upf)
    anchor_s = time.perf_counter() - t
    w = mobile["population"].to_numpy(float)
    med, p90 = wquantile(dist, w, 0.5), wquantile(dist, w, 0.9)
    emit("\n## 3. Mobile anchors (5g-urllc access)\n")
    emit(f"Demand: the US demo with `access=\"5g-urllc\"` (5 / 10 ms p50 / p99). "
         f"`upf=\"default\"`: {len(upf)} UPFs (one per GeoNames metro >= 500,000 people); "
         f"user -> nearest UPF, population-weighted: median {med:,.0f} km, p90 {p90:,.0f} km "
         f"(`default_upf` + `anchor_rows`: {anchor_s:.2f} s). Mean p50 and mean detour "
         "(`latency_route_detour_ms`) are population-weighted over served rows.\n")
    emit("| budget | upf | UPFs in plan | sites | status | lower bound | uncoverable | "
         "mean p50 | mean detour | time |")
    emit("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    lbo = sites.assign(local_breakout=True)
    checks = []
    for budget in (30.0, 50.0):
        results = {}
        for label, cands, upf_opt in (("none", sites, "none"), ("default", sites, "default"),
                                      ("default, local_breakout", lbo, "default")):
            plan, s, fixed = timed_plan(f"5g-urllc upf={label}, {budget:g} ms", mobile,
                                        cands, budget_ms=budget, failures=1, upf=upf_opt)
            if plan is None:
                emit(f"| {budget:g} ms | {label} | - | - | infeasible ({fixed} at distance "
                     f"0) | - | - | - | - | {s:.1f} s |")
                continue
            x = plan.summary()
            results[label] = plan
            u = (x.get("routing") or {}).get("upf")
            sv = served(plan)
            emit(f"| {budget:g} ms | {label} | {u['n'] if u else 0} | {x['site_count']} | "
                 f"{x['status']} | {x['lower_bound']:g} | "
                 f"{x['population_uncoverable']:,.0f} "
                 f"({x['population_uncoverable'] / x['population_total']:.1%}) | "
                 f"{ms(x['mean_latency_ms'])} | "
                 f"{ms(wmean(sv['latency_route_detour_ms'], sv['population']))} | "
                 f"{s:.1f} s |")
        a, b = results.get("none"), results.get("default, local_breakout")
        if a is not None and b is not None:
            same = (chosen_ids(a) == chosen_ids(b)
                    and np.isclose(a.summary()["mean_latency_ms"],
                                   b.summary()["mean_latency_ms"]))
            checks.append(f"{budget:g} ms: {'identical to' if same else 'DIFFERS FROM'} "
                          "none (same site ids and mean p50)")
    emit("\nCheck, `upf=\"default\"` with every candidate `local_breakout=True` against "
         "`upf=\"none\"`: " + "; ".join(checks) + ".")


# --------------------------------------------------------------------------- section 4


def stretch(plan: Any) -> tuple[float, float, int]:
    """Median and p90 over served rows with a positive great-circle distance of
    (propagation + detour) / propagation, and how many served rows sit at distance 0 from
    their site (left out)."""
    sv = served(plan)
    prop = sv["latency_propagation_ms"].to_numpy(float)
    det = sv["latency_route_detour_ms"].to_numpy(float)
    pos = prop > 0
    if not pos.any():
        return np.nan, np.nan, int((~pos).sum())
    ratio = (prop[pos] + det[pos]) / prop[pos]
    return float(np.median(ratio)), float(np.quantile(ratio, 0.9)), int((~pos).sum())


def section_backbone(emit: Callable[[str], None], country: str, gml: str,
                     demand: pd.DataFrame, sites: pd.DataFrame, **limits: Any) -> None:
    model = LatencyModel.from_profile("on-net")
    path = TOPOLOGY_ZOO / gml
    emit(f"\n### {gml} on the {country} demo\n")
    for factor in (1.5, 1.2):
        bb = read_backbone(path, edge_factor=factor, fiber_us_per_km=model.fiber_us_per_km)
        b = bb.summary()
        drop = ", ".join(f"{k} {len(v) if isinstance(v, list) else v}"
                         for k, v in b["dropped"].items())
        emit(f"- Backbone `{b['name']}` at edge factor {factor:g}: {b['nodes']} nodes, "
             f"{b['edges']} edges; dropped: {drop}; diameter {b['diameter_ms']:.1f} ms "
             "round trip.")
    bb = read_backbone(path, fiber_us_per_km=model.fiber_us_per_km)
    _, km = bb.nearest_node(sites["lat"], sites["lon"])
    outside = km > bb.attach_limit_km
    if outside.any():  # the planner refuses candidates outside the backbone
        emit(f"- {int(outside.sum())} candidate(s) farther than {bb.attach_limit_km:,.0f} km "
             f"(twice the node spacing) from every node are outside the backbone and left out "
             f"of all three plans: {', '.join(sites.loc[outside, 'name'].astype(str)[:5])}.")
        sites = sites.loc[~outside].reset_index(drop=True)
    emit(f"\nDemand {len(demand):,} places ({demand['population'].sum():,.0f} people), "
         f"{len(sites):,} candidates; `on-net` model, FTTH, 30 ms p99, N-1"
         + (f"; limits {', '.join(f'`{k}={v}`' for k, v in limits.items())}" if limits
            else "") + ".\n")
    emit("| routing | sites | status | lower bound | k-median | uncoverable | mean p50 | "
         "mean detour | p50 path stretch | p90 path stretch | rows at distance 0 | time |")
    emit("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, kw in (("flat (no backbone)", {}),
                      ("backbone, edge factor 1.5 (default)", {"backbone": path}),
                      ("backbone, edge factor 1.2", {"backbone": path,
                                                     "backbone_edge_factor": 1.2})):
        plan, s, fixed = timed_plan(f"{country} {gml} {label}", demand, sites,
                                    budget_ms=30.0, failures=1, model=model, **kw, **limits)
        if plan is None:
            emit(f"| {label} | - | infeasible ({fixed} at distance 0) | - | - | - | - | - | "
                 f"- | - | - | {s:.1f} s |")
            continue
        x = plan.summary()
        sv = served(plan)
        st50, st90, zero = stretch(plan)
        emit(f"| {label} | {x['site_count']} | {x['status']} | {x['lower_bound']:g} | "
             f"{x['kmedian_status']} | "
             f"{x['population_uncoverable'] / x['population_total']:.2%} | "
             f"{ms(x['mean_latency_ms'])} | "
             f"{ms(wmean(sv['latency_route_detour_ms'], sv['population']))} | "
             f"{st50:.3f} | {st90:.3f} | {zero:,} | {s:.1f} s |")


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--sections", default="1,2,3,4",
                    help="comma-separated sections to run (default all: 1,2,3,4)")
    ap.add_argument("--no-de", action="store_true",
                    help="section 4: skip the Geant2012 / DE plans")
    args = ap.parse_args()
    wanted = {s.strip() for s in args.sections.split(",") if s.strip()}
    lines: list[str] = []

    def emit(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    t0 = time.perf_counter()
    emit("# Site tiers, mobile anchors and a backbone (bench/routing.py)\n")
    emit(f"Environment: {platform.machine()}, {os.cpu_count()} cores, Python "
         f"{platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
         f"edge-coverage {coverage.__version__}, load average {os.getloadavg()[0]:.2f} at "
         f"the start (the cores were shared). Run on {time.strftime('%Y-%m-%d %H:%M')}; "
         "every figure below comes from this run (`python bench/routing.py --out "
         "docs/benchmarks-routing.md`). Time: wall time of `plan_sites` per plan "
         "(validation, reach, both solves, N-1 and gap proposals).")
    progress("loading the US demo")
    demand, sites = geonames_demand("US"), geonames_candidates("US")
    if "1" in wanted:
        section_tiers(emit, demand, sites)
    if "2" in wanted:
        section_mixed(emit, demand, sites)
    if "3" in wanted:
        section_upf(emit, demand, sites)
    if "4" in wanted:
        emit("\n## 4. Backbone vs flat (`on-net`, 30 ms p99)\n")
        emit("Route: user -> nearest backbone node -> shortest path -> the site's nearest "
             "node -> site; the detour is that path minus the great circle. Path stretch: "
             "median over served rows of (propagation + detour) / propagation (rows at "
             "distance 0 from their site left out and counted). At the default edge factor "
             "a link costs what its great circle costs under `on-net` (route factor 1.5), so "
             "a user served by a site at its own nearest node has no detour; at 1.2 a path "
             "between nodes is shorter than the great circle (a negative detour).")
        section_backbone(emit, "US", "AttMpls.gml", demand, sites)
        if not args.no_de:
            section_backbone(emit, "DE", "Geant2012.gml", geonames_demand("DE"),
                             geonames_candidates("DE"), kmedian_time_limit_s=20,
                             time_limit_s=120)
    total = time.perf_counter() - t0
    emit(f"\nTotal run time {total / 60:.1f} min (sections {','.join(sorted(wanted))}).")
    if args.out:
        write_markdown(args.out, lines)
        progress(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
