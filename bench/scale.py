"""Issue-3 benchmark: the optimiser at national scale, side by side with plain HiGHS and spopt.

Sections (``--only``, comma separated; all by default):

* ``synthetic``: clustered cities + rural points, random candidates, R = 300 km, sizes 2k x 300,
  10k x 1k, 50k x 3k, single and double cover: ``min_cover`` (reductions, components) vs the
  textbook MILP in HiGHS with the same time limit, and spopt LSCP (single cover) where its
  dense model fits in memory;
* ``census``: US Census 2020 tracts x PeeringDB US facilities, 30 ms p99, ftth, N-1;
* ``national``: synthetic 1M-cell US grid x US places >= 15k, 30 ms p99, N-1 (row generation),
  with the bare neighbour-count query as the floor;
* ``gap12``: issue 15 part 3, the 10k x 1k synthetic single and double cover with a 12 s
  limit, seeds 0-2;
* ``plan``: issue 15 part 2, the whole national plan from the command line on three seeded
  1M-cell grids, the floor in the same run (``bench/national_plan.py``);
* ``family``: issue 15 part 2's row-generation ratio on 24 seeded 1M-cell grids, the
  planner's site-count stage against the floor (``bench/rowgen_family.py``);
* ``components``: issue 15 part 4, a 10M-cell world grid split into independent components
  on 1 and 2 local Dask workers, then the whole plan of it from the command line on 2
  (``bench/components.py``);
* ``cluster``: a 2M-cell world planned from the command line through a scheduler whose two
  workers are separate network hosts (network namespaces, root only), traffic counted, with
  and without a link cap (``bench/cluster_netns.py``);
* ``pmed``: OR-Library pmed1-40 with ``p_median``; ``scp``: OR-Library sets 4-6 with
  ``min_cover``;
* ``sf``: spopt's San Francisco instance (205 tracts x 16 stores, street distances): LSCP,
  PMedian, MCLP and PCenter with the four ``coverage.optimize`` solvers and with spopt (CBC
  via PuLP), objectives and times side by side.

Prints one line per measurement and writes ``--out`` (Markdown) after every section; the
sections not run (``--only``) keep their earlier text, each with the date it ran.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import instances  # noqa: E402
import peers  # noqa: E402
from mdout import write_markdown  # noqa: E402

from coverage import LatencyModel, plan_sites  # noqa: E402
from coverage.solvers.cover import min_cover  # noqa: E402


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def fmt(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:,.2f}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


#: Section keys in the order the file lists them; a legacy section (no key marker) is
#: recognised by the start of its title.
ORDER = ("sf", "scp", "pmed", "synthetic", "gap12", "census", "national", "plan", "family",
         "components", "components_cli", "cluster")
LEGACY_TITLES = {"spopt's San Francisco": "sf", "OR-Library set covering": "scp",
                 "OR-Library p-median": "pmed", "Synthetic clustered": "synthetic",
                 "US Census 2020": "census", "National grid": "national"}


def read_sections(path: Path) -> dict[str, list[str]]:
    """The ``## `` sections of an earlier run of this file, by key (``<!-- section: KEY``
    marker under the title, or a legacy title)."""
    if not path.exists():
        return {}
    out: dict[str, list[str]] = {}
    cur: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            cur = [line]
            key = next((k for t, k in LEGACY_TITLES.items() if line[3:].startswith(t)), None)
            out[key or line] = cur
        elif cur is not None:
            if line.startswith("<!-- section: "):
                key = line.removeprefix("<!-- section: ").split()[0].rstrip(",")
                for k, v in list(out.items()):
                    if v is cur:
                        del out[k]
                out[key] = cur
            cur.append(line)
    for v in out.values():
        while v and not v[-1].strip():
            v.pop()
        v.append("")
    return out


class Report:
    """The Markdown report: the sections run now replace the same sections of the file;
    the others are kept as they were (each section says when it ran)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.kept = read_sections(out)
        self.sections: dict[str, list[str]] = {}

    def table(self, title: str, header: list[str], rows: list[list], notes: str = "",
              key: str | None = None) -> None:
        machine = (f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
                   f"Python {platform.python_version()}")
        key = key or title
        lines = [f"## {title}",
                 f"<!-- section: {key}, run {time.strftime('%Y-%m-%d %H:%M')} -->", "",
                 f"Run {time.strftime('%Y-%m-%d %H:%M')} on {machine}.", ""]
        if notes:
            lines += [notes, ""]
        lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
        self.sections[key] = lines
        for r in rows:
            print(f"[{title}] " + ", ".join(f"{h}={fmt(v)}" for h, v in zip(header, r,
                                                                          strict=True)))
        self.write()

    def write(self) -> None:
        merged = {**self.kept, **{k: v + [""] for k, v in self.sections.items()}}
        keys = [k for k in ORDER if k in merged] + [k for k in merged if k not in ORDER]
        text = ["# Benchmarks: optimiser at scale (`bench/scale.py`, part of `make bench`)", "",
                "Each section says when and where it ran (`--only` re-runs some sections and "
                "keeps the others). Times are wall seconds; peak memory is the process "
                "maximum RSS so far (getrusage) unless a section says otherwise.", "",
                "Sections without a 'Run' line were measured on the issue-11 code (commit "
                "38b3502 merged with the maps split da292f9, both in main's history; a test "
                "run shared the machine), whose default latency model is today's `on-net` "
                "profile; the scripts pin `on-net` for those instances (same code path), so "
                "their figures stand for the current code. The default (`internet`) model's "
                "effect: `docs/benchmarks-latency.md`.", ""]
        for k in keys:
            text += merged[k]
        write_markdown(self.out, text)


def synthetic_matrix(n_demand: int, n_sites: int, seed: int):
    """The clustered instance's reach matrix (R = 300 km) and the seconds it took."""
    demand, sites = instances.synthetic(n_demand, n_sites, seed=seed)
    t = time.perf_counter()
    a = peers.radius_csr(demand, sites, 300.0)
    return demand, sites, a, time.perf_counter() - t


def ours_on(a, k: int, time_limit_s: float, query_s: float):
    """``min_cover`` on ``a`` with requirement ``k``, and its seconds plus the query's."""
    t = time.perf_counter()
    res = min_cover(a, k, time_limit_s=time_limit_s)
    return res, time.perf_counter() - t + query_s


def synthetic(rep: Report, time_limit_s: float, sizes) -> None:
    rows = []
    for nd, ns in sizes:
        demand, sites, a, query_s = synthetic_matrix(nd, ns, 0)
        for k in (1, 2):
            ours, ours_s = ours_on(a, k, time_limit_s, query_s)
            tb = peers.textbook_highs(a, k, time_limit_s=time_limit_s)
            tb_s = tb["seconds"] + query_s
            rows.append([f"{nd:,} x {ns:,}", k, a.nnz, ours.objective, ours.lower_bound,
                         ours.status, ours_s, tb["objective"], tb["lower_bound"], tb["status"],
                         tb_s, tb_s / ours_s, rss_mib()])
            if k == 1:
                sp_rec = peers.spopt_lscp(demand, sites, 300.0, time_limit_s=time_limit_s)
                if "seconds" in sp_rec and sp_rec.get("n_sites") is not None:
                    rows.append([f"{nd:,} x {ns:,}", "1 (spopt LSCP)", a.nnz,
                                 ours.objective, ours.lower_bound, ours.status, ours_s,
                                 float(sp_rec["n_sites"]), float("nan"),
                                 str(sp_rec.get("status")), sp_rec["seconds"],
                                 sp_rec["seconds"] / ours_s, rss_mib()])
                else:
                    rows.append([f"{nd:,} x {ns:,}", "1 (spopt LSCP)", a.nnz, ours.objective,
                                 ours.lower_bound, ours.status, ours_s, float("nan"),
                                 float("nan"), str(sp_rec.get("status")), float("nan"),
                                 float("nan"), rss_mib()])
    rep.table(
        "Synthetic clustered family, R = 300 km",
        ["instance", "cover", "pairs", "ours sites", "ours bound", "ours status", "ours s",
         "peer sites", "peer bound", "peer status", "peer s", "peer s / ours s", "peak MiB"],
        rows,
        f"Peer is textbook HiGHS (scipy `milp`, no reductions) unless marked spopt (PuLP + CBC "
        f"on spopt's dense model). Same time limit for all: {time_limit_s:g} s. 'ours s' and "
        "the textbook time include the radius query that builds the sparse matrix; spopt's "
        "includes its dense cost matrix and model build.",
        key="synthetic",
    )


# The scale instances keep the first version's latency model (the on-net profile: a 592 km
# radius at 30 ms) so that their figures stay comparable from version to version and the
# reach stays large (the hard case for memory and time). bench/calibration.py measures the
# default (internet) model's effect on the US demo.
SCALE_MODEL = LatencyModel.from_profile("on-net")


def census(rep: Report, time_limit_s: float) -> None:
    demand = instances.census_tracts()
    sites = instances.peeringdb_us()
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=1, access="ftth",
                      time_limit_s=time_limit_s, kmedian_time_limit_s=30.0, model=SCALE_MODEL)
    s = plan.summary()
    tm = s["timings_s"]
    rep.table(
        "US Census 2020 tracts x PeeringDB US facilities, 30 ms p99, ftth, N-1",
        ["demand", "candidates", "pairs", "strategy", "sites", "bound", "status", "reach s",
         "solve s", "k-median", "k-median gap", "k-median s", "N-1 s", "total s", "peak MiB"],
        [[s["n_demand"], s["n_candidates"], s["n_pairs_in_reach"], s["solver"]["strategy"],
          s["site_count"], s["lower_bound"], s["status"], tm["reach_s"], tm["solve_s"],
          s["kmedian_status"],
          "-" if s["kmedian_gap"] is None else f"{100 * s['kmedian_gap']:.2f} %",
          tm["kmedian_s"], tm["n1_s"], s["runtime_s"], rss_mib()]],
        f"Reductions: {s['reductions']}. Population uncoverable "
        f"{s['population_uncoverable']:,.0f}, single-coverable "
        f"{s['population_single_coverable']:,.0f}.", key="census",
    )


def national(rep: Report, time_limit_s: float, n_cells: int) -> None:
    t = time.perf_counter()
    grid = instances.national_grid_us(n_cells)
    grid_s = time.perf_counter() - t
    sites = instances.us_candidates(15_000)
    radius = SCALE_MODEL.radius_km(30.0)
    floor = peers.bare_neighbour_query(grid, sites, radius)
    t = time.perf_counter()
    plan = plan_sites(grid, sites, budget_ms=30.0, failures=1, access="ftth",
                      time_limit_s=time_limit_s, max_memory_gb=4.0, model=SCALE_MODEL)
    total = time.perf_counter() - t
    s = plan.summary()
    rounds = s["solver"].get("rounds", [])
    rep.table(
        f"National grid: {len(grid):,} US cells x {len(sites):,} places >= 15k, 30 ms p99, N-1",
        ["pairs (floor count)", "floor s", "strategy", "sites", "bound", "gap (sites)",
         "status", "count s", "solve s", "N-1 s", "total s", "total / floor", "rounds",
         "rows fetched", "peak MiB"],
        [[floor["pairs"], floor["seconds"], s["solver"]["strategy"], s["site_count"],
          s["lower_bound"], s["site_count"] - s["lower_bound"], s["status"],
          s["timings_s"]["reach_s"], s["timings_s"]["solve_s"], s["timings_s"]["n1_s"], total,
          total / floor["seconds"], len(rounds), s["solver"].get("rows_fetched", 0),
          rss_mib()]],
        f"Grid generated in {grid_s:.1f} s (`coverage.inputs.synthetic.national_grid`, seeded, "
        f"population {grid['population'].sum():,.0f}). Rounds: "
        + "; ".join(f"{r['round']}: {r['rows_held']:,} rows, {r['sites']:g} sites "
                    f"({r['status']}), {r['violated']} violated, {r['solve_s']:.0f} s"
                    for r in rounds), key="national",
    )


def pmed(rep: Report, time_limit_s: float) -> None:
    from coverage.inputs.orlib import pmed_instances, read_pmed
    from coverage.solvers.pmedian import p_median

    rows = []
    for name, path, _p, optimum in pmed_instances(instances.SHARED_DATA):
        cost, p_file = read_pmed(path)
        t = time.perf_counter()
        res = p_median(cost, p_file, time_limit_s=time_limit_s)
        rows.append([name, cost.shape[0], p_file, optimum, res.objective, res.lower_bound,
                     res.status, res.objective == optimum, time.perf_counter() - t])
    rep.table("OR-Library p-median pmed1-40 (`p_median`)",
              ["instance", "n", "p", "optimum", "ours", "bound", "status", "at optimum", "s"],
              rows, f"Time limit {time_limit_s:g} s per instance.", key="pmed")


def scp(rep: Report, time_limit_s: float) -> None:
    from coverage.inputs.orlib import read_scp, scp_instances

    rows = []
    for rec in scp_instances(instances.SHARED_DATA):
        name, path, optimum = rec[0], rec[1], rec[-1]
        a, cost = read_scp(path)
        t = time.perf_counter()
        res = min_cover(a, 1, cost=cost, time_limit_s=time_limit_s)
        rows.append([name, a.shape[0], a.shape[1], optimum, res.objective, res.status,
                     res.objective == optimum, time.perf_counter() - t])
    rep.table("OR-Library set covering sets 4-6 (`min_cover`, weighted)",
              ["instance", "rows", "cols", "optimum", "ours", "status", "at optimum", "s"],
              rows, key="scp")


#: spopt's four models on its San Francisco instance, with spopt's own test parameters.
SF_RADIUS_M, SF_P = 5000.0, 4


def sf(rep: Report, time_limit_s: float) -> None:
    from coverage import optimize

    try:
        cost, w = instances.spopt_sf()
    except FileNotFoundError as exc:
        print(exc)
        return
    reach = cost <= SF_RADIUS_M
    runs = [
        ("LSCP, 5,000 m", "fewest stores", lambda: optimize.min_cover(reach, 1,
                                                                      time_limit_s=time_limit_s),
         dict(radius=SF_RADIUS_M)),
        ("PMedian, p = 4, POP2000", "weighted m", lambda: optimize.p_median(
            cost, SF_P, weights=w, time_limit_s=time_limit_s), dict(weights=w, p=SF_P)),
        ("MCLP, p = 4, 5,000 m, POP2000", "people covered", lambda: optimize.max_cover(
            reach, SF_P, w, time_limit_s=time_limit_s),
         dict(weights=w, radius=SF_RADIUS_M, p=SF_P)),
        ("PCenter, p = 4", "largest m", lambda: optimize.p_center(
            cost, SF_P, time_limit_s=time_limit_s), dict(p=SF_P)),
    ]
    rows = []
    for label, unit, ours_fn, spopt_kw in runs:
        t = time.perf_counter()
        ours = ours_fn()
        ours_s = time.perf_counter() - t
        name = label.split(",")[0]
        try:
            peer = peers.spopt_on_matrix(name, cost, time_limit_s=time_limit_s, **spopt_kw)
        except ImportError as exc:
            peer = {"objective": None, "status": f"skipped: {exc}", "seconds": float("nan")}
        peer_obj = float("nan") if peer["objective"] is None else peer["objective"]
        same = bool(np.isclose(ours.objective, peer_obj, rtol=1e-9, atol=1e-6))
        rows.append([label, unit, f"{ours.objective:,.2f}", ours.status, f"{ours_s:.3f}",
                     f"{peer_obj:,.2f}", str(peer["status"]), f"{peer['seconds']:.3f}", same,
                     peer["seconds"] / ours_s if ours_s > 0 else float("nan")])
    rep.table(
        "spopt's San Francisco instance (205 tracts x 16 stores, street distances)",
        ["model", "objective", "ours", "ours status", "ours s", "spopt", "spopt status",
         "spopt s", "same optimum", "spopt s / ours s"],
        rows,
        "`coverage.optimize` (`min_cover`, `p_median`, `max_cover`, `p_center`) against spopt "
        "0.7 (`from_cost_matrix`, CBC via PuLP; its time includes building the PuLP model) on "
        "spopt's own test instance (`shared/data/spopt_sf`, cost matrix built as spopt's "
        f"tests build it). Time limit {time_limit_s:g} s each; times are single runs.", key="sf",
    )


def gap12(rep: Report, time_limit_s: float, seeds=(0, 1, 2)) -> None:
    """Issue 15 part 3: the synthetic 10k x 1k single and double cover with a 12 s limit
    (a tenth of the 120 s in which plain HiGHS does not prove it), three seeds."""
    rows = []
    for seed in seeds:
        _, _, a, query_s = synthetic_matrix(10_000, 1_000, seed)
        for k in (1, 2):
            ours, ours_s = ours_on(a, k, time_limit_s, query_s)
            need = np.minimum(k, np.diff(a.indptr))
            chosen = np.zeros(a.shape[1], dtype=np.int64)
            chosen[ours.sites] = 1
            feasible = bool(((a @ chosen) >= need).all())
            gap = ours.objective - ours.lower_bound
            rows.append([seed, k, a.nnz, ours.objective, ours.lower_bound, gap, ours.status,
                         ours_s, feasible, gap <= 1.0, rss_mib()])
    rep.table(
        "Textbook gap: synthetic 10,000 x 1,000 (R = 300 km) in 12 s, three seeds",
        ["seed", "cover", "pairs", "sites", "bound", "gap (sites)", "status", "s",
         "plan checked", "gap <= 1 (target)", "peak MiB"],
        rows,
        f"`min_cover` with a {time_limit_s:g} s limit (issue 15 part 3: optimal or a gap of "
        "at most one site in 12 s). 'plan checked' re-counts every row's cover with an "
        "independent sparse product. docs/textbook-gap.md records what was tried.",
        key="gap12",
    )


def plan(rep: Report) -> None:
    """Issue 15 part 2: the whole national plan from the command line, three seeds
    (``bench/national_plan.py``), the floor measured in the same run."""
    import national_plan

    rows = national_plan.run_cases()
    lines = national_plan.table_lines(rows)
    rep.sections["plan"] = [
        "## The whole national plan: three seeded 1M-cell US grids, 30 ms p99, N-1",
        f"<!-- section: plan, run {time.strftime('%Y-%m-%d %H:%M')} -->", "",
        f"Run {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()}, "
        f"{len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}. "
        + national_plan.NOTES, "", *lines]
    rep.write()


def family(rep: Report) -> None:
    """Issue 15 part 2 across seeds: row generation against the floor on 24 seeded grids
    (``bench/rowgen_family.py``), each seed in its own process."""
    import rowgen_family

    rows = rowgen_family.run_cases()
    rep.sections["family"] = [
        "## Row generation against the floor: 24 seeded 1M-cell US grids, 30 ms p99, N-1",
        f"<!-- section: family, run {time.strftime('%Y-%m-%d %H:%M')} -->", "",
        f"Run {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()}, "
        f"{len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}. "
        + rowgen_family.NOTES, "", *rowgen_family.table_lines(rows)]
    rep.write()


def components(rep: Report, cells: int, time_limit_s: float) -> None:
    """Issue 15 part 4: a world grid split into independent components, the pieces solved
    on 1 and 2 local Dask workers (``bench/components.py`` in a child process)."""
    import json
    import subprocess
    import tempfile

    continents = "AF,AS,EU,NA,OC,SA"
    with tempfile.TemporaryDirectory(prefix="components-") as d:
        out = Path(d) / "out.json"
        run = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "components.py"), "--continent", continents,
             "--cells", str(cells), "--workers", "1,2", "--time-limit-s", f"{time_limit_s:g}",
             "--cli-workers", "2", "--json", str(out)], capture_output=True, text=True)
        if run.returncode != 0 or not out.exists():
            rep.sections["components"] = [
                "## A world grid by independent components on 1 and 2 Dask workers",
                f"<!-- section: components, run {time.strftime('%Y-%m-%d %H:%M')} -->", "",
                "Failed: " + run.stderr[-1500:].replace("\n", " "), ""]
            rep.write()
            return
        res = json.loads(out.read_text())
    rows = []
    for r in res["runs"]:
        rows.append([r["workers"], r["wall_s"], r["sites"], r["lower_bound"],
                     f"{100 * (r['sites'] - r['lower_bound']) / r['sites']:.1f} %"
                     if r["sites"] else "-",
                     r["status"], r["pieces"],
                     ", ".join(f"{x:,.0f}" for x in r["worker_peak_mib"]),
                     r["client_peak_mib"]])
    if len(res["runs"]) == 2 and res["runs"][1]["wall_s"] > 0:
        speed = res["runs"][0]["wall_s"] / res["runs"][1]["wall_s"]
    else:
        speed = float("nan")
    rep.table(
        f"A world grid by independent components: {res['cells']:,} cells x "
        f"{res['candidates']:,} places, 30 ms p99, on 1 and 2 Dask workers",
        ["workers", "wall s", "sites", "bound", "gap", "status", "pieces",
         "peak per worker MiB", "client peak MiB"],
        rows,
        f"`national_grid` over {res['countries']} countries of {continents} (seed 7), "
        f"candidates every GeoNames place of >= 15,000 people there, k = 1, ftth; split "
        f"{res['split_s']:.1f} s into {res['components']:,} components (largest "
        + ", ".join(f"{x:,}" for x in res["largest"][:3]) + " cells; "
        f"{res['uncoverable_cells']:,} cells in no component: no cell of their bin reaches a "
        "candidate); each piece solved by row "
        f"generation with a {time_limit_s:g} s limit as one task on a local cluster of "
        f"single-threaded workers. 1 to 2 workers: {speed:.2f}x. Memory per worker is its "
        "process's VmHWM; the client's is this child's. docs/components.md reads it.",
        key="components",
    )
    cli = res.get("cli")
    if cli:
        t = cli["timings_s"]
        rep.table(
            f"The whole world plan from the command line: {res['cells']:,} cells, "
            f"{cli['workers']} local workers",
            ["wall s", "sites", "bound", "gap", "status", "placement gap",
             "peak per worker MiB", "command peak MiB", "sweep process peak MiB",
             "split + count s", "placement s", "N-1 s", "rollout s", "outputs MiB"],
            [[cli["wall_s"], cli["sites"], cli["lower_bound"],
              f"{100 * (cli['sites'] - cli['lower_bound']) / cli['sites']:.1f} %",
              cli["status"],
              "-" if cli["placement_gap_pct"] is None else f"{cli['placement_gap_pct']:.2f} %",
              ", ".join(f"{x:,.0f}" for x in cli["worker_peak_mib"]),
              cli["client_peak_mib"], cli["sweep_peak_mib"] or "-",
              t.get("reach_s", 0) + t.get("solve_s", 0), t.get("kmedian_s", "-"),
              t.get("n1_s", "-"), t.get("rollout_s", "-"), cli["output_bytes"] / 2**20]],
            "`edge-coverage plan --demand grid.csv --candidates places.csv --budget-ms 30 "
            f"--failures 1 --strategy components --workers {cli['workers']} --time-limit-s "
            f"{time_limit_s:g} --no-map` on the grid of the section above written to CSV: "
            "split, count by pieces, placement by pieces (both on the workers), the N-1 "
            "check, proposals, rollout and the outputs in the command's process, the budget "
            "sweep (60 s in all) in a process of its own. Peaks: each worker's VmHWM over its "
            "count and placement pieces; the command's VmHWM sampled every 0.5 s (the last "
            "sample: a lower bound); the sweep's from summary.json. docs/components.md "
            "reads it.",
            key="components_cli",
        )


def cluster(rep: Report, cells: int, time_limit_s: float, rates_mbit: str) -> None:
    """Issue 15 part 4, past one machine: the world plan from the command line through a
    scheduler whose two workers are separate network hosts (``bench/cluster_netns.py`` in
    a child process; needs root for the network namespaces, else the section says so)."""
    import json
    import subprocess
    import tempfile

    title = "The world plan with its workers on separate network hosts"
    with tempfile.TemporaryDirectory(prefix="cluster-") as d:
        out = Path(d) / "out.json"
        run = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "cluster_netns.py"), "--cells", str(cells),
             "--rates-mbit", rates_mbit, "--time-limit-s", f"{time_limit_s:g}",
             "--json", str(out)], capture_output=True, text=True)
        res = json.loads(out.read_text()) if out.exists() else None
    if run.returncode != 0 or res is None or "skipped" in res:
        why = (res or {}).get("skipped") or "failed: " + run.stderr[-1500:].replace("\n", " ")
        rep.sections["cluster"] = [
            f"## {title}", f"<!-- section: cluster, run {time.strftime('%Y-%m-%d %H:%M')} -->",
            "", f"Not measured: {why}.", ""]
        rep.write()
        return
    rows = []
    for r in res["runs"]:
        sent, got = sum(r["to_workers_bytes"]), sum(r["from_workers_bytes"])
        rows.append([
            "none" if r["rate_mbit"] <= 0 else f"{r['rate_mbit']:g} Mbit/s", r["wall_s"],
            r["sites"], r["lower_bound"], r["status"], r["pieces"],
            f"{sent / 2**20:,.1f}", f"{got / 2**20:,.1f}", f"{(sent + got) / res['cells']:.0f}",
            ", ".join(f"{x:,.0f}" for x in r["worker_peak_mib"]), r["client_peak_mib"]])
    rep.table(
        f"{title}: {res['cells']:,} cells x {res['candidates']:,} places, 30 ms p99, N-1",
        ["link cap", "wall s", "sites", "bound", "status", "pieces", "to workers MiB",
         "from workers MiB", "bytes per cell", "peak per worker MiB", "client peak MiB"],
        rows,
        "`edge-coverage plan --strategy components --scheduler tcp://... --time-limit-s "
        f"{time_limit_s:g} --no-map` on a world grid of {res['cells']:,} cells (as above, "
        "seed 7; the CSV is "
        f"{res['demand_csv_bytes'] / 2**20:,.0f} MiB), a `dask scheduler` in this "
        "machine's network namespace and two single-threaded `dask worker` processes, each in "
        "a network namespace of its own joined by a veth pair to a bridge: every byte between "
        "the planner and a worker crosses an interface, counted by the interfaces' counters "
        "(both directions, TCP/IP headers included). The link cap is a token-bucket filter "
        "on both ends of each link. The hosts share this machine's 2 cores and memory: the "
        "namespaces separate the network, not the CPUs, so the wall is not what two machines "
        "would take. Peak per worker: the count tasks' VmHWM; client: the command and its "
        "sweep process, sampled every 0.5 s. docs/components.md reads it.",
        key="cluster",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only",
                        default="sf,scp,pmed,synthetic,gap12,census,national,plan,family,"
                                "components,cluster")
    parser.add_argument("--cluster-rates-mbit", default="0,100",
                        help="link caps of the cluster section, Mbit/s; 0 = none")
    parser.add_argument("--world-cells", type=int, default=2_000_000,
                        help="cells of the cluster section's world grid")
    parser.add_argument("--components-cells", type=int, default=10_000_000,
                        help="cells of the components section's world grid")
    parser.add_argument("--world-time-limit-s", type=float, default=60.0)
    parser.add_argument("--time-limit-s", type=float, default=120.0)
    parser.add_argument("--national-time-limit-s", type=float, default=300.0)
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="2000x300,10000x1000,50000x3000",
                        help="synthetic sizes, demand x sites, comma separated")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks-scale.md"))
    args = parser.parse_args()
    rep = Report(Path(args.out))
    only = args.only.split(",")
    if "sf" in only:
        sf(rep, args.time_limit_s)
    if "scp" in only:
        scp(rep, args.time_limit_s)
    if "pmed" in only:
        pmed(rep, args.time_limit_s)
    if "synthetic" in only:
        sizes = [tuple(int(v) for v in size.split("x")) for size in args.sizes.split(",")]
        synthetic(rep, args.time_limit_s, sizes)
    if "census" in only:
        census(rep, args.time_limit_s)
    if "gap12" in only:
        gap12(rep, 12.0)
    if "national" in only:
        national(rep, args.national_time_limit_s, args.cells)
    if "plan" in only:
        plan(rep)
    if "family" in only:
        family(rep)
    if "components" in only:
        components(rep, args.components_cells, args.world_time_limit_s)
    if "cluster" in only:
        cluster(rep, args.world_cells, args.world_time_limit_s, args.cluster_rates_mbit)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
