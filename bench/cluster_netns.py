"""Benchmark: the world plan on a Dask cluster whose workers are separate network hosts
(issue 15, part 4: "how it scales past one machine").

Each worker runs in a network namespace of its own (``ip netns``), joined to the client and
scheduler's namespace by a veth pair on a bridge, so everything the plan sends to a worker
or gets back crosses a network interface, as it would between machines; the interfaces'
byte counters measure that traffic. A token-bucket filter (``tc qdisc ... tbf``) on both
ends of each link can cap it at a given rate to show what a slower network costs. The
hosts share this machine's cores and memory: the namespaces separate the network, not the
CPUs.

The command is the planner's own command line, ``edge-coverage plan --strategy components
--scheduler tcp://...``, on the world grid of ``bench/components.py`` (every inhabited
continent, ``national_grid(..., seed=7)``) against the GeoNames places of at least 15,000
people. Needs root and iproute2; without them it reports why and runs nothing.

Run: ``python bench/cluster_netns.py --cells 2000000 --rates-mbit 0,100 --json out.json``
(rate 0: no cap).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sampled import run_sampled  # noqa: E402  (bench/, this script's folder)

#: The bridge, namespaces and interfaces this script creates (and removes, also when a
#: run before it died half-way): nothing else on the machine is touched.
BRIDGE = "ecbr0"
SUBNET = "10.77.0"
PORT = 8786


def _ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = ["ip", *args] if ns is None else ["ip", "netns", "exec", ns, "ip", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


def why_not() -> str | None:
    """Why this machine cannot run the benchmark, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "needs iproute2 (ip, tc)"
    return None


class Hosts:
    """``n`` worker hosts: namespace ``ecw{i}`` at ``SUBNET.1{i}``, linked by veth
    ``ecv{i}`` (this side) to the bridge at ``SUBNET.1``."""

    def __init__(self, n: int, rate_mbit: float) -> None:
        self.n, self.rate_mbit = n, rate_mbit

    def ns(self, i: int) -> str:
        return f"ecw{i}"

    def addr(self, i: int) -> str:
        return f"{SUBNET}.{10 + i}"

    def _clean(self) -> None:
        for i in range(1, max(self.n, 8) + 1):
            _ip("netns", "del", self.ns(i), check=False)
            _ip("link", "del", f"ecv{i}", check=False)
        _ip("link", "del", BRIDGE, check=False)

    def _cap(self, dev: str, ns: str | None) -> None:
        if self.rate_mbit > 0:
            cmd = ["tc", "qdisc", "add", "dev", dev, "root", "tbf",
                   "rate", f"{self.rate_mbit:g}mbit", "burst", "256kb", "latency", "100ms"]
            if ns is not None:
                cmd = ["ip", "netns", "exec", ns, *cmd]
            subprocess.run(cmd, capture_output=True, text=True, check=True)

    def __enter__(self) -> Hosts:
        # the subnet must be free, but for a bridge of this script left by a killed run
        for line in _ip("-o", "-4", "addr", "show").stdout.splitlines():
            fields = line.split()
            if f" {SUBNET}." in f" {line}" and len(fields) > 1 and fields[1] != BRIDGE:
                raise RuntimeError(f"{SUBNET}.0/24 is in use on {fields[1]}: not touched")
        self._clean()
        try:
            self._create()
        except BaseException:
            self._clean()
            raise
        return self

    def _create(self) -> None:
        _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("addr", "add", f"{SUBNET}.1/24", "dev", BRIDGE)
        _ip("link", "set", BRIDGE, "up")
        for i in range(1, self.n + 1):
            ns, here, there = self.ns(i), f"ecv{i}", f"ecp{i}"
            _ip("netns", "add", ns)
            _ip("link", "add", here, "type", "veth", "peer", "name", there)
            _ip("link", "set", there, "netns", ns)
            _ip("link", "set", there, "name", "eth0", ns=ns)
            _ip("addr", "add", f"{self.addr(i)}/24", "dev", "eth0", ns=ns)
            _ip("link", "set", "eth0", "up", ns=ns)
            _ip("link", "set", "lo", "up", ns=ns)
            _ip("link", "set", here, "master", BRIDGE)
            _ip("link", "set", here, "up")
            self._cap(here, None)
            self._cap("eth0", ns)

    def __exit__(self, *exc: object) -> None:
        self._clean()

    def counters(self) -> list[tuple[int, int]]:
        """Per worker host, (bytes sent to it, bytes received from it) so far."""
        out = []
        for i in range(1, self.n + 1):
            base = Path("/sys/class/net") / f"ecv{i}" / "statistics"
            out.append((int((base / "tx_bytes").read_text()),
                        int((base / "rx_bytes").read_text())))
        return out


def _tree_rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its children, MiB (0 once it has ended)."""
    import psutil

    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for q in procs:
        with contextlib.suppress(psutil.Error):
            total += q.memory_info().rss
    return total / 2**20


def one_run(hosts: Hosts, demand_csv: Path, sites_csv: Path, workdir: Path,
            time_limit_s: float, budget_ms: float) -> dict:
    """Start the scheduler and the workers, run the command line, stop them."""
    from distributed import Client

    bin_dir = Path(sys.executable).parent
    address = f"tcp://{SUBNET}.1:{PORT}"
    procs: list[subprocess.Popen] = []
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)

    def start(cmd: list[str], name: str) -> None:
        with open(logs / f"{name}.log", "w") as log:
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))

    try:
        start([str(bin_dir / "dask"), "scheduler", "--host", f"{SUBNET}.1", "--port",
               str(PORT), "--no-dashboard"], "scheduler")
        for i in range(1, hosts.n + 1):
            start(["ip", "netns", "exec", hosts.ns(i), str(bin_dir / "dask"), "worker",
                   address, "--nthreads", "1", "--memory-limit", "0", "--host",
                   hosts.addr(i), "--no-dashboard", "--name", f"host{i}"], f"worker{i}")
        with Client(address, timeout=120) as c:  # waits for the scheduler
            c.wait_for_workers(hosts.n, timeout=300)
            worker_hosts = sorted(w["host"] for w in c.scheduler_info()["workers"].values())
        before = hosts.counters()
        out = workdir / "out"
        cmd = [str(bin_dir / "edge-coverage"), "plan", "--demand", str(demand_csv),
               "--candidates", str(sites_csv), "--budget-ms", f"{budget_ms:g}",
               "--failures", "1", "--strategy", "components", "--scheduler", address,
               "--time-limit-s", f"{time_limit_s:g}", "--no-map", "--out", str(out)]
        t = time.perf_counter()
        rc, client_peak = run_sampled(cmd, logs / "plan.log", _tree_rss_mib)
        wall_s = time.perf_counter() - t
        after = hosts.counters()
        if rc != 0:
            raise RuntimeError(f"edge-coverage plan exit {rc}: "
                               + (logs / "plan.log").read_text()[-2000:])
        summary = json.loads((out / "summary.json").read_text())
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    comp = summary["solver"]["components"]
    pieces = comp["pieces_table"]
    return {
        "rate_mbit": hosts.rate_mbit, "wall_s": wall_s, "worker_hosts": worker_hosts,
        "sites": summary["site_count"], "lower_bound": summary["lower_bound"],
        "status": summary["status"], "pieces": len(pieces),
        "to_workers_bytes": [a[0] - b[0] for a, b in zip(after, before, strict=True)],
        "from_workers_bytes": [a[1] - b[1] for a, b in zip(after, before, strict=True)],
        "worker_peak_mib": sorted({p["pid"]: p["peak_rss_mib"] for p in pieces}.values()),
        "client_peak_mib": client_peak, "timings_s": summary.get("timings_s", {}),
        "runtime_s": summary.get("runtime_s"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--continent", default="AF,AS,EU,NA,OC,SA")
    ap.add_argument("--cells", type=int, default=2_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rates-mbit", default="0,100", help="comma list; 0 = no cap")
    ap.add_argument("--budget-ms", type=float, default=30.0)
    ap.add_argument("--time-limit-s", type=float, default=60.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    reason = why_not()
    if reason is not None:
        res = {"skipped": reason}
        print(json.dumps(res))
        if args.json:
            args.json.write_text(json.dumps(res))
        return

    from coverage.inputs.geonames import all_places
    from coverage.inputs.synthetic import continent_countries, national_grid

    codes = [c for cont in args.continent.split(",") for c in continent_countries(cont)]
    res: dict = {"continent": args.continent, "countries": len(codes), "runs": []}
    with tempfile.TemporaryDirectory(prefix="cluster-netns-") as d:
        work = Path(d)
        grid = national_grid(codes, args.cells, seed=7)
        places = all_places()
        sites = places[places["country"].isin(codes) & (places["population"] >= 15_000)]
        demand_csv, sites_csv = work / "world.csv", work / "places.csv"
        grid.to_csv(demand_csv, index=False)
        sites.to_csv(sites_csv, index=False)
        res.update(cells=len(grid), candidates=len(sites),
                   demand_csv_bytes=demand_csv.stat().st_size,
                   sites_csv_bytes=sites_csv.stat().st_size)
        del grid, places, sites
        for rate in (float(x) for x in args.rates_mbit.split(",")):
            run_dir = work / f"rate{rate:g}"
            run_dir.mkdir()
            with Hosts(args.workers, rate) as hosts:
                r = one_run(hosts, demand_csv, sites_csv, run_dir, args.time_limit_s,
                            args.budget_ms)
            res["runs"].append(r)
            print(json.dumps(r), flush=True)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
