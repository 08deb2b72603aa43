"""Benchmark: the map of a national plan (1M-cell US grid), its file size and load time.

Plans the synthetic 1M-cell US population grid against US places >= 15,000 people at 30 ms
p99, N-1, FTTH access, exactly as ``bench/scale.py``'s ``national`` section does (row
generation), then renders ``map.html`` with :func:`~coverage.outputs.maps.plan_map` (demand
aggregated to H3 hexagons) and, when Debian's ``/usr/bin/chromedriver`` is installed, opens it in
headless Chromium from a ``file://`` URL with the network blocked and times the first draw, every
overlay and the failure explorer. Prints one line per measurement and writes ``--out``
(Markdown, atomically).

Usage: ``python bench/map_scale.py [--cells 1000000] [--out docs/benchmarks-map.md]
[--keep out/us-map.html]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import instances  # noqa: E402
from mdout import write_markdown  # noqa: E402

from coverage import LatencyModel, plan_sites  # noqa: E402
from coverage.outputs.maps import plan_map, render_map_html  # noqa: E402

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")
TARGET_MB = 15.0

logger = logging.getLogger("bench.map_scale")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def browser_times(path: Path) -> dict[str, float] | str:
    """Times in headless Chromium, or the reason there are none."""
    if not (CHROMEDRIVER.is_file() and CHROMIUM.is_file()):
        return f"{CHROMEDRIVER} not installed (`make browser`)"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-extensions", "--no-first-run",
                "--disable-dev-shm-usage", "--window-size=1280,900",
                "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Chromium's profile and its singleton socket directory (TMPDIR) in a scratch directory
    # removed afterwards: Chromium does not always remove its /tmp/org.chromium.Chromium.*.
    scratch = tempfile.TemporaryDirectory(prefix="map-bench-chromium-")
    options.add_argument(f"--user-data-dir={scratch.name}/profile")
    service = Service(executable_path=str(CHROMEDRIVER), env={**os.environ, "TMPDIR": scratch.name})
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.set_page_load_timeout(300)
        t0 = time.perf_counter()
        driver.get(path.resolve().as_uri())
        parsed = time.perf_counter() - t0
        WebDriverWait(driver, 300).until(lambda d: d.execute_script(
            "return !!(window.covmapLast && window.covmapLast.stats.built.latency)"))
        first = time.perf_counter() - t0
        # Tick every overlay, then run the failure explorer on the busiest site.
        t1 = time.perf_counter()
        driver.execute_script(
            "document.querySelectorAll('.leaflet-control-layers-overlays input')"
            ".forEach(function (b) { if (!b.checked) { b.click(); } });")
        all_layers = time.perf_counter() - t1
        built = driver.execute_script("return window.covmapLast.stats.built")
        t2 = time.perf_counter()
        driver.execute_script(
            "var F = window.covmapLast.data.failures, best = 0, bp = -1;"
            "for (var s = 0; s + 1 < F.off.length; s++) { var p = 0;"
            "  for (var r = F.off[s]; r < F.off[s + 1]; r++) { p += F.pop[r]; }"
            "  if (p > bp) { bp = p; best = s; } }"
            "window.covmapLast.fail(best);")
        explorer = time.perf_counter() - t2
        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        heap = driver.execute_script(
            "return performance.memory ? performance.memory.usedJSHeapSize / 1048576 : -1")
    finally:
        driver.quit()
        scratch.cleanup()
    out = {"load_s": parsed, "first_draw_s": first, "all_layers_s": all_layers,
           "explorer_s": explorer, "console_errors": float(len(errors)), "js_heap_mib": heap}
    for key, value in built.items():
        out[f"build {key} ms"] = float(value["ms"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--time-limit-s", type=float, default=300.0)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks-map.md"))
    parser.add_argument("--keep", default=None, help="also copy map.html here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    t = time.perf_counter()
    grid = instances.national_grid_us(args.cells)
    sites = instances.us_candidates(15_000)
    grid_s = time.perf_counter() - t
    t = time.perf_counter()
    # the scale instance keeps the on-net profile (as bench/scale.py; docs/benchmarks-map.md)
    plan = plan_sites(grid, sites, budget_ms=30.0, failures=1, access="ftth",
                      time_limit_s=args.time_limit_s, max_memory_gb=4.0,
                      model=LatencyModel.from_profile("on-net"))
    plan_s = time.perf_counter() - t
    s = plan.summary()
    print(f"plan: {len(grid):,} cells x {len(sites):,} candidates -> {s['site_count']} sites "
          f"({s['status']}) in {plan_s:.1f} s")

    t = time.perf_counter()
    m = plan_map(plan, tiles=None)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    text = render_map_html(m)
    render_s = time.perf_counter() - t
    data = text.encode("utf-8")
    size_mb = len(data) / 1e6
    print(f"map: built in {build_s:.1f} s, rendered in {render_s:.1f} s, {size_mb:.1f} MB "
          f"(target <= {TARGET_MB:g} MB)")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "map.html"
        path.write_bytes(data)
        if args.keep:
            Path(args.keep).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, args.keep)
        browser = browser_times(path)
    if isinstance(browser, dict):
        print("browser: " + ", ".join(f"{k}={v:.2f}" for k, v in browser.items()))
    else:
        print(f"browser: skipped ({browser})")

    start = text.index("= covmap(") + len("= covmap(")
    payload, _ = json.JSONDecoder().raw_decode(text[start:])
    cfg = payload["config"]
    n_units = len(payload["units"]["pop"])
    mode = (f"{n_units:,} H3 hexagons, resolution {cfg['h3Resolution']}" if cfg["mode"] == "h3"
            else f"{n_units:,} points")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    rows = [
        ("demand cells", f"{len(grid):,}", f"grid generated in {grid_s:.1f} s"),
        ("plan (plan_sites, row generation)", f"{plan_s:.1f} s",
         f"{s['site_count']} sites, status {s['status']}, lower bound {s['lower_bound']:g}"),
        ("map: plan_map", f"{build_s:.1f} s", mode),
        ("map: render HTML", f"{render_s:.1f} s", ""),
        ("map.html size", f"{size_mb:.1f} MB", f"target <= {TARGET_MB:g} MB: "
         + ("met" if size_mb <= TARGET_MB else "NOT met")),
    ]
    if isinstance(browser, dict):
        rows += [
            ("Chromium: page loaded", f"{browser['load_s']:.1f} s", "file:// URL, network blocked"),
            ("Chromium: first draw", f"{browser['first_draw_s']:.1f} s",
             "navigation start to the latency layer drawn"),
            ("Chromium: tick every overlay", f"{browser['all_layers_s']:.1f} s",
             ", ".join(f"{k.split(' ')[1]} {v:.0f} ms" for k, v in browser.items()
                       if k.startswith("build "))),
            ("Chromium: failure explorer", f"{browser['explorer_s']:.2f} s",
             "busiest site failed"),
            ("Chromium: console errors", f"{browser['console_errors']:.0f}", ""),
            ("Chromium: JS heap", f"{browser['js_heap_mib']:.0f} MiB", ""),
        ]
    else:
        rows.append(("Chromium", "-", browser))
    md = [
        "# Benchmarks: the map at national scale (`bench/map_scale.py`, part of `make bench`)",
        "",
        f"Last run {time.strftime('%Y-%m-%d %H:%M')} on {machine}; peak RSS "
        f"{peak_rss_mib():,.0f} MiB.",
        "",
        f"Synthetic US population grid ({len(grid):,} cells, "
        f"`coverage.inputs.synthetic.national_grid`) x US places >= 15,000 people "
        f"({len(sites):,} candidates), 30 ms p99, FTTH, N-1. The map aggregates demand to H3 "
        "hexagons (`coverage.outputs.maps.h3_bins`), no tiles.",
        "",
        "| step | value | notes |",
        "| --- | ---: | --- |",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
    ]
    out = write_markdown(args.out, md)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
