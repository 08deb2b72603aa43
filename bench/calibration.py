"""Benchmark: the latency model against measured pings, and what it does to a plan.

Reads the WonderNetwork city-pair pings (July 2020, ``<workspace>/shared/data``), drops the
pairs flagged below the vacuum light bound, and prints, by distance band and by source
region, the median / p90 absolute error and the median bias of the network term of three
models against ``rtt_min_ms``: the built-in ``internet`` profile (the default), a fresh
calibration on this data (``coverage.model.calibrate.calibrate``, pairs < 2,000 km, p99
from ``rtt_max_ms``: it must reproduce the profile's constants) and ``on-net`` (the first
version's physics-only defaults). Then the FTTH p99 budget radius at 30 / 50 / 100 ms of
each, a held-out (5-fold, by path) check of the fit and the least-squares alternative, the
candidate p99 overheads and their radii, a million-ping calibration, and the demo plan
(GeoNames, 30 ms p99, N-1, FTTH) of three countries under ``on-net`` and under the default.
Writes the tables to ``--out`` (markdown).

Run: ``python bench/calibration.py --out docs/benchmarks-latency.md`` (``make bench``).
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from coverage.inputs.geonames import geonames_candidates, geonames_demand
from coverage.model.calibrate import calibrate, error_table, fibre_rtt_ms, fit_network
from coverage.model.latency import LatencyModel
from coverage.planner.plan import plan_sites

sys.path.insert(0, str(Path(__file__).resolve().parent))
from instances import SHARED_DATA  # noqa: E402

PINGS = SHARED_DATA / "wondernetwork_pings_2020"
ASIA = {"Bangladesh", "Cambodia", "China", "Hong Kong", "India", "Indonesia", "Israel",
        "Japan", "Kazakhstan", "Lebanon", "Malaysia", "Pakistan", "Philippines",
        "Saudi Arabia", "Singapore", "South Korea", "Taiwan", "Thailand",
        "United Arab Emirates", "Vietnam"}
CONTINENT = {1: "North America", 2: "South America", 4: "Oceania", 5: "Africa"}


def load() -> pd.DataFrame:
    """The pings with each source server's region (continent 3 split into Europe and
    Asia by country; Russia east of 60 E is Asia)."""
    df = pd.read_csv(PINGS / "city_pair_rtt.csv.gz")
    df = df[df["below_vacuum_light_bound"] == 0].reset_index(drop=True)
    srv = pd.read_csv(PINGS / "raw" / "servers-2020-07-19.csv")
    asia = srv["country"].isin(ASIA) | ((srv["country"] == "Russia") & (srv["longitude"] > 60))
    region = np.where(srv["continent"] == 3, np.where(asia, "Asia", "Europe"),
                      srv["continent"].map(CONTINENT).fillna("other"))
    df["source_region"] = df["source_id"].map(dict(zip(srv["id"], region, strict=True)))
    return df


def fmt_table(rows: pd.DataFrame) -> list[str]:
    out = ["| model | distance | pairs | median abs error | median bias | p90 abs error |",
           "| --- | --- | --- | --- | --- | --- |"]
    for r in rows.itertuples():
        out.append(f"| {r.model} | {r.band} | {r.pairs:,} | {r.median_abs_error_ms:.2f} ms | "
                   f"{r.median_bias_ms:+.2f} ms | {r.p90_abs_error_ms:.2f} ms |")
    return out


def held_out(emit, df: pd.DataFrame, d: np.ndarray, rtt: np.ndarray) -> None:
    """5-fold cross-validation of the p50 fit on pairs < 2,000 km, folds by path (A->B and
    B->A in the same fold, so no path is both fitted and tested)."""
    near = np.flatnonzero(d < 2000)
    a, b = df["source_id"].to_numpy()[near], df["dest_id"].to_numpy()[near]
    path = np.minimum(a, b) * 100_000 + np.maximum(a, b)
    codes, uniq = pd.factorize(path)
    fold = np.random.default_rng(0).permutation(len(uniq))[codes] % 5
    errors = np.empty(len(near))
    fits = []
    for k in range(5):
        test = fold == k
        rf, over = fit_network(d[near][~test], rtt[near][~test], 0.5)
        fits.append((rf, over))
        errors[test] = rf * fibre_rtt_ms(d[near][test]) + over - rtt[near][test]
    emit("\n## Held out: 5-fold cross-validation of the p50 fit (pairs < 2,000 km, folds by "
         "path)\n")
    emit(f"Median absolute error on the held-out folds {np.median(np.abs(errors)):.2f} ms, "
         f"median bias {np.median(errors):+.2f} ms, p90 {np.quantile(np.abs(errors), 0.9):.2f}"
         f" ms; fold fits: route factor {min(f[0] for f in fits):.4f}-"
         f"{max(f[0] for f in fits):.4f}, overhead {min(f[1] for f in fits):.3f}-"
         f"{max(f[1] for f in fits):.3f} ms.")
    x = fibre_rtt_ms(d[near])
    coef = np.linalg.lstsq(np.column_stack([x, np.ones_like(x)]), rtt[near], rcond=None)[0]
    ls_err = coef[0] * x + coef[1] - rtt[near]
    emit(f"Least squares instead (pulled by the detoured tail): route factor {coef[0]:.3f}, "
         f"overhead {coef[1]:.2f} ms, median absolute error "
         f"{np.median(np.abs(ls_err)):.2f} ms.")


def p99_alternatives(emit, df: pd.DataFrame, d: np.ndarray, rf: float, o50: float) -> None:
    """Candidate p99 overheads at the fitted route factor, and the FTTH p99 radius each
    gives under the model's combination rule (the network's p99 excess as one more
    independent tail)."""
    near = d < 2000
    base = rf * fibre_rtt_ms(d[near])
    cands = {
        "median of rtt_max_ms (per-path p99; the default)":
            np.median(df["rtt_max_ms"].to_numpy()[near] - base),
        "median of rtt_avg + 2.33 x rtt_mdev (per-path p99, normal tails)":
            np.median((df["rtt_avg_ms"] + 2.33 * df["rtt_mdev_ms"]).to_numpy()[near] - base),
        "0.90 quantile of rtt_min_ms across pairs":
            np.quantile(df["rtt_min_ms"].to_numpy()[near] - base, 0.90),
        "0.99 quantile of rtt_min_ms across pairs":
            np.quantile(df["rtt_min_ms"].to_numpy()[near] - base, 0.99),
    }
    emit("\n## Candidate p99 overheads (pairs < 2,000 km, route factor of the p50 fit)\n")
    emit("| p99 overhead from | overhead p99 | FTTH p99 radius 30 / 50 / 100 ms |")
    emit("| --- | --- | --- |")
    for name, o99 in cands.items():
        m = LatencyModel().with_network(route_factor=rf, overhead_ms=o50,
                                        overhead_p99_ms=max(float(o99), o50), hops=0)
        cells = []
        for budget in (30.0, 50.0, 100.0):
            try:
                cells.append(f"{m.radius_km(budget, 'ftth', 'p99'):,.0f} km")
            except ValueError:
                cells.append("infeasible")
        emit(f"| {name} | {o99:.2f} ms | {' / '.join(cells)} |")


def large_calibration(emit) -> None:
    """calibrate on a million seeded synthetic pings (the search above LP_MAX_PINGS)."""
    rng = np.random.default_rng(1)
    d = rng.uniform(1, 2000, 1_000_000)
    rtt = 2.5 * fibre_rtt_ms(d) + 5.0 + rng.laplace(0, 3.0, d.size)
    t = time.perf_counter()
    cal = calibrate(pd.DataFrame({"distance_km": d, "rtt_ms": rtt}))
    emit(f"\nA million synthetic pings (route factor 2.5, overhead 5 ms, Laplace noise, "
         f"seed 1): fitted {cal.route_factor:.4f}, {cal.overhead_ms:.3f} ms by the "
         f"{cal.solver} in {time.perf_counter() - t:.1f} s.")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    lines: list[str] = []

    def emit(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    df = load()
    d, rtt = df["great_circle_km"].to_numpy(), df["rtt_min_ms"].to_numpy()
    t = time.perf_counter()
    pings = pd.DataFrame({"distance_km": d, "rtt_ms": rtt, "rtt_p99_ms": df["rtt_max_ms"]})
    cal = calibrate(pings, max_distance_km=2000.0, source="WonderNetwork 2020")
    fit_s = time.perf_counter() - t
    models = {
        "internet (default)": LatencyModel(),
        "calibrated here": LatencyModel().with_network(
            route_factor=cal.route_factor, overhead_ms=cal.overhead_ms,
            overhead_p99_ms=cal.overhead_p99_ms, hops=0, profile="calibrated"),
        "on-net": LatencyModel.from_profile("on-net"),
    }
    emit(f"# Latency model against measured pings (bench/calibration.py)\n\nData: "
         f"WonderNetwork city-pair pings, July 2020: {len(df):,} directed pairs after "
         "dropping those below the vacuum light bound. Error = predicted network term - "
         "measured `rtt_min_ms` (negative: the model is optimistic).\n")
    emit(f"Calibration on pairs < 2,000 km ({cal.pings_used:,} pairs, {fit_s:.2f} s): route "
         f"factor {cal.route_factor:.4f}, overhead {cal.overhead_ms:.3f} ms p50, "
         f"{cal.overhead_p99_ms:.3f} ms p99 (built-in internet profile: "
         f"{models['internet (default)'].route_factor}, "
         f"{models['internet (default)'].overhead_ms}, "
         f"{models['internet (default)'].overhead_p99_ms}).\n")
    emit("## By distance band\n")
    rows = []
    for name, m in models.items():
        t = error_table(d, rtt, m.network_ms(d, "p50"))
        rows.append(t.assign(model=name))
    table = pd.concat(rows, ignore_index=True)
    for line in fmt_table(table):
        emit(line)
    emit("\n## By source region (pairs < 2,000 km)\n")
    near = d < 2000
    emit("| source region | pairs | " + " | ".join(
        f"{n}: median abs / bias" for n in models) + " |")
    emit("| --- | --- |" + " --- |" * len(models))
    for region, g in df[near].groupby("source_region"):
        idx = g.index.to_numpy()
        cells = []
        for m in models.values():
            err = m.network_ms(d[idx], "p50") - rtt[idx]
            cells.append(f"{np.median(np.abs(err)):.2f} / {np.median(err):+.2f} ms")
        emit(f"| {region} | {len(idx):,} | " + " | ".join(cells) + " |")
    emit("\n## FTTH p99 budget radius (vision-l4 inference, proxy, no Wi-Fi)\n")
    emit("| model | 30 ms | 50 ms | 100 ms |")
    emit("| --- | --- | --- | --- |")
    for name, m in models.items():
        cells = []
        for b in (30.0, 50.0, 100.0):
            try:
                cells.append(f"{m.radius_km(b, 'ftth', 'p99'):,.0f} km")
            except ValueError:
                cells.append("infeasible")
        emit(f"| {name} | " + " | ".join(cells) + " |")
    held_out(emit, df, d, rtt)
    p99_alternatives(emit, df, d, cal.route_factor, cal.overhead_ms)
    large_calibration(emit)
    emit("\n## Plans under both profiles (`make demo` data: GeoNames places >= 500 people, "
         "candidates >= 50,000, 30 ms p99, N-1, FTTH)\n")
    emit("| country | model | sites | status | lower bound | population covered | "
         "single-coverable | uncoverable | mean p50 | plan time |")
    emit("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for country in ("US", "DE", "BR"):
        demand, sites = geonames_demand(country, 500), geonames_candidates(country, 50_000)
        for name in ("on-net", "internet (default)"):
            t = time.perf_counter()
            plan = plan_sites(demand, sites, budget_ms=30.0, failures=1, model=models[name])
            s = plan.summary()
            total = s["population_total"]
            emit(f"| {country} | {name} | {s['site_count']} | {s['status']} | "
                 f"{s['lower_bound']:g} | {s['population_covered'] / total:.1%} | "
                 f"{s['population_single_coverable'] / total:.1%} | "
                 f"{s['population_uncoverable'] / total:.1%} | {s['mean_latency_ms']:.2f} ms | "
                 f"{time.perf_counter() - t:.1f} s |")
    emit(f"\nLast run {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()} "
         f"({platform.python_version()}).")
    if not math.isclose(cal.route_factor, models["internet (default)"].route_factor,
                        abs_tol=5e-4):
        emit("\nWARNING: the fresh calibration no longer reproduces the internet profile.")
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
