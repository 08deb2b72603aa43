"""The edge-coverage command end to end, through the installed console script."""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from conftest import DATA
from helpers import EXE, run
from shapely.geometry import Point

OUTPUTS = {"summary.json", "sites.csv", "sites.geojson", "assignment.csv", "failures.csv",
           "proposed_sites.csv", "rollout.csv",
           "map.html",
           "sweep.csv", "report.html", "plan.gpkg", "demand.parquet", "sites.parquet",
           ".edge-coverage.json"}



@pytest.mark.parametrize("case", ["plan", "bad input", "argument error", "verbose error"])
def test_a_command_in_the_test_process_runs_as_the_console_script_does(tmp_path, case):
    """Most command-line tests run ``coverage.cli.main`` in the test process
    (``helpers.run``, to save each one about 2.3 s of imports, hand run): its exit code, standard
    output and error and files are those of the console script, and it leaves this
    process's directory, descriptors, streams, signal handlers and mask and loggers as they
    were. (``edge_coverage.main``'s own steps after the command, for a process only, are
    tested with the process in tests/test_interrupt.py.)"""
    import logging
    import signal

    from helpers import run_in_process, run_process

    bad = tmp_path / "bad.csv"
    bad.write_text("demand_id,lat,lon,population\na,95,10,5\n")
    args = {"plan": ["plan", "--demand", DATA / "west_demand.csv", "--candidates",
                     DATA / "west_candidates.csv", "--latency-model", "on-net", "--no-map",
                     "--no-report", "--no-gis", "--sweep-budgets-ms", "30"],
            "bad input": ["plan", "--demand", bad, "--candidates",
                          DATA / "west_candidates.csv"],
            "argument error": ["plan", "--budget-ms", "fast"],
            "verbose error": ["plan", "--demand", bad, "--candidates", tmp_path, "-v"]}[case]

    def state():
        log = logging.getLogger("coverage")
        return (os.getcwd(), sys.stdout, sys.stderr, signal.getsignal(signal.SIGINT),
                signal.getsignal(signal.SIGTERM), signal.pthread_sigmask(signal.SIG_BLOCK, []),
                list(log.handlers), log.level, list(logging.getLogger().handlers))

    def fds():
        return sorted(os.listdir("/proc/self/fd"))

    got, before, fds_before = [], state(), None
    # twice here, then as a process; the descriptors from the state the first run left (a
    # library's first use opens files it keeps, e.g. PROJ's database)
    for runner in (run_in_process, run_in_process, run_process):
        if len(got) == 1:
            fds_before = fds()
        r = runner(*args, "--out", "out", cwd=tmp_path)
        files = {}
        if (tmp_path / "out").exists():
            files = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()
                     if p.name not in ("summary.json", ".edge-coverage.json")}
            shutil.rmtree(tmp_path / "out")
        got.append((r.returncode, r.stdout, re.sub(r"\d+\.\d+ s\b", "t s", r.stderr),
                    files))
        if len(got) <= 2:
            assert state() == before
        if len(got) == 2:
            assert fds() == fds_before
    code, stdout, stderr, files = got[0]
    assert code == {"plan": 0, "bad input": 2, "argument error": 2, "verbose error": 2}[case]
    assert got[0] == got[1]
    assert (files != {}) == (case == "plan")
    if case == "verbose error":  # the traceback's frames differ; its last line does not
        assert got[2][0] == code and "Traceback" in got[2][2] and "Traceback" in stderr
        assert stderr.strip().splitlines()[-1] == got[2][2].strip().splitlines()[-1]
    else:
        assert got[0] == got[2]


def test_help_explains_options_with_units():
    r = run("plan", "--help")
    assert r.returncode == 0
    for text in ("--budget-ms", "milliseconds", "--failures", "--access", "--out", "--demo",
                 "microseconds per km", "seconds"):
        assert text in r.stdout


def test_help_gives_each_default_once_and_compares_own():
    """Tester 187: "default US) (default: None)"; compare's help read "compare's default is
    least (default: off)" and "(default: None)" for a rate it takes as 100, and listed the
    options it refuses."""
    plan = " ".join(run("plan", "--help").stdout.split())
    assert "(default: None)" not in plan and "default US)" in plan
    # the defaults argparse knows stay (review 160: "the default for ..." hid them)
    assert "(default: 30.0)" in plan and "compare's default is least (default: off)" in plan
    assert "(default: default)" in plan  # --upf
    assert "--max-sites" in plan and "rollout.csv" in plan
    r = run("compare", "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    assert "(default: None)" not in text
    assert "a load only (default: least)" in text and "(default: off)" not in text
    assert "(default: 100 without a load_rps column)" in text
    for refused in ("--max-sites", "--objective", "--aggregate-km", "--aggregate-h3",
                    "--aggregate-mode"):
        assert refused not in text, refused
    # still parsed: the refusal names the option
    r = run("compare", "--demo", "--country", "LU", "--max-sites", "3")
    assert r.returncode == 2 and "--max-sites cannot be used with it" in r.stderr


@pytest.mark.parametrize("demand,candidates", [
    ("west_demand.csv", "west_candidates.csv"),
    ("west_demand.geojson", "west_candidates.gpkg"),
])
def test_plan_on_sample_files(tmp_path, demand, candidates):
    # the figures (8 sites at 30 ms, none outside the budget under N-1) are those of the
    # on-net model the sample data was designed for (592 km radius)
    out = tmp_path / "plan"
    r = run("plan", "--demand", DATA / demand, "--candidates", DATA / candidates,
            "--budget-ms", 30, "--latency-model", "on-net", "--out", out)
    assert r.returncode == 0, r.stderr
    assert {p.name for p in out.iterdir()} == OUTPUTS
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "optimal" and s["site_count"] == 8
    assert s["parameters"]["latency_model"]["profile"] == "on-net"
    assert s["inputs"]["demand"]["rows"] == 458 and len(s["inputs"]["demand"]["sha256"]) == 64
    sites = pd.read_csv(out / "sites.csv")
    assert len(sites) == 8
    assert list(sites.columns[:5]) == ["site_id", "lat", "lon", "tier", "population_primary"]
    a = pd.read_csv(out / "assignment.csv")
    assert list(a.columns[:8]) == ["demand_id", "population", "primary_site_id",
                                   "primary_latency_ms", "backup_site_id", "backup_latency_ms",
                                   "n_covering_sites", "coverage_status"]
    assert (a["primary_latency_ms"] <= 30 + 1e-6).all()
    f = pd.read_csv(out / "failures.csv")
    assert list(f.columns[:4]) == ["failed_site_id", "population_rerouted",
                                   "population_outside_budget", "worst_latency_ms"]
    assert set(f["failed_site_id"]) == set(sites["site_id"])
    assert (f["population_outside_budget"] == 0).all()
    g = gpd.read_file(out / "sites.geojson")
    assert len(g) == 8 and g.crs.to_epsg() == 4326
    assert "map:" in r.stdout and "sites: 8 (optimal" in r.stdout and "report:" in r.stdout
    sweep = pd.read_csv(out / "sweep.csv")
    assert sorted(sweep["budget_ms"]) == [20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert sweep.loc[sweep["budget_ms"] == 30, "site_count"].item() == 8
    assert len(gpd.read_file(out / "plan.gpkg", layer="sites")) == 8
    assert len(gpd.read_parquet(out / "demand.parquet")) == 458


def test_every_model_parameter_is_recorded(tmp_path):
    out = tmp_path / "p"
    r = run("plan", "--demand", DATA / "west_demand.csv", "--candidates",
            DATA / "west_candidates.csv", "--budget-ms", 80, "--percentile", "p99",
            "--access", "cable", "--wifi", "good", "--inference-ms", "2,3", "--proxy-ms", "0.5,1",
            "--fiber-us-per-km", 5.0, "--route-factor", 1.8, "--hops", 4, "--per-hop-ms", 0.1,
            "--latency-model", "on-net", "--overhead-ms", 0.5, "--overhead-p99-ms", 1.5,
            "--failures", 2, "--no-map", "--out", out)
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    m = s["parameters"]["latency_model"]
    assert (m["fiber_us_per_km"], m["route_factor"], m["hops"], m["per_hop_ms"]) == (5, 1.8, 4,
                                                                                      0.1)
    assert (m["profile"], m["overhead_ms"], m["overhead_p99_ms"]) == ("on-net", 0.5, 1.5)
    assert m["inference_ms"] == [2, 3] and m["proxy_ms"] == [0.5, 1] and m["wifi"] == "good"
    assert s["parameters"]["access_default"] == "cable" and s["failures_tolerated"] == 2
    assert not (out / "map.html").exists()


def test_demo_small_country(tmp_path):
    out = tmp_path / "lu"
    r = run("plan", "--demo", "--country", "LU", "--demo-site-min-population", 5000,
            "--out", out)
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "optimal" and s["n_demand"] > 50
    assert "GeoNames" in s["inputs"]["demand"]["source"]
    assert "[" in r.stderr and "reach matrix" in r.stderr  # progress lines


def write_bad_inputs(tmp: Path) -> dict[str, tuple[Path, str]]:
    """Each bad input: (file, a phrase the error message must contain)."""
    cases = {}

    def csv(name, text, phrase):
        p = tmp / name
        p.write_text(text)
        cases[name] = (p, phrase)

    csv("missing_column.csv", "id,lat,lon\n1,40,-100\n", "missing column: population")
    csv("duplicate_ids.csv", "id,lat,lon,population\n7,40,-100,1\n7,41,-100,2\n",
        "duplicate demand_id")
    csv("nan_population.csv", "id,lat,lon,population\n1,40,-100,\n2,41,-100,5\n", "missing")
    csv("negative_population.csv", "id,lat,lon,population\n1,40,-100,-4\n", "negative")
    csv("text_population.csv", "id,lat,lon,population\n1,40,-100,many\n", "not a finite number")
    csv("empty.csv", "", "empty")
    csv("header_only.csv", "id,lat,lon,population\n", "no data rows")
    csv("out_of_range.csv", "id,lat,lon,population\n1,40,-200,3\n", "longitude outside")
    csv("swapped.csv", "id,lat,lon,population\n1,-100,40,3\n2,-120,45,3\n", "swapped")
    csv("metres.csv", "id,lat,lon,population\n1,4500000,-11000000,3\n", "projected metres")
    csv("unknown_access.csv", "id,lat,lon,population,access\n1,40,-100,3,pigeon\n", "pigeon")
    garbage = tmp / "garbage.csv"
    garbage.write_bytes(bytes(range(256)) * 20)
    cases["garbage.csv"] = (garbage, "garbage.csv")
    gpkg = tmp / "truncated.gpkg"
    gpd.GeoDataFrame({"population": [1, 2]}, geometry=[Point(0, 0), Point(1, 1)],
                     crs="EPSG:4326").to_file(gpkg, driver="GPKG")
    gpkg.write_bytes(gpkg.read_bytes()[: gpkg.stat().st_size // 2])
    cases["truncated.gpkg"] = (gpkg, "complete")
    cases["missing_file.csv"] = (tmp / "nope.csv", "nope.csv")
    return cases


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    return write_bad_inputs(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("case", [
    "missing_column.csv", "duplicate_ids.csv", "nan_population.csv", "negative_population.csv",
    "text_population.csv", "empty.csv", "header_only.csv", "out_of_range.csv", "swapped.csv",
    "metres.csv", "unknown_access.csv", "garbage.csv", "truncated.gpkg", "missing_file.csv",
])
def test_bad_demand_file_exit_2_no_traceback_no_output(tmp_path, bad_inputs, case):
    path, phrase = bad_inputs[case]
    out = tmp_path / "out"
    r = run("plan", "--demand", path, "--candidates", DATA / "west_candidates.csv",
            "--out", out)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert path.name in r.stderr and phrase in r.stderr
    assert not out.exists() or not any(out.iterdir())


def test_verbose_shows_the_traceback(tmp_path, bad_inputs):
    path, _ = bad_inputs["duplicate_ids.csv"]
    r = run("plan", "--demand", path, "--candidates", DATA / "west_candidates.csv",
            "--out", tmp_path / "o", "--verbose")
    assert r.returncode == 2 and "Traceback" in r.stderr


def test_both_bad_files_reported_together(tmp_path, bad_inputs):
    r = run("plan", "--demand", bad_inputs["negative_population.csv"][0],
            "--candidates", bad_inputs["duplicate_ids.csv"][0], "--out", tmp_path / "o")
    assert r.returncode == 2
    assert "negative_population.csv" in r.stderr and "duplicate_ids.csv" in r.stderr


@pytest.mark.parametrize("args,phrase", [
    (["--budget-ms", "-5"], "--budget-ms"),
    (["--budget-ms", "fast"], "--budget-ms"),
    (["--access", "fiber"], "--access"),
    (["--failures", "-1"], "--failures"),
    (["--inference-ms", "9"], "--inference-ms"),
    (["--kmedian-gap-pct", "-1"], "--kmedian-gap-pct"),
    (["--kmedian-gap-pct", "100"], "--kmedian-gap-pct"),
])
def test_bad_options_exit_2(tmp_path, args, phrase):
    out = tmp_path / "o"
    r = run("plan", "--demand", DATA / "west_demand.csv", "--candidates",
            DATA / "west_candidates.csv", "--out", out, *args)
    assert r.returncode == 2 and phrase in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_infeasible_budget_exit_3(tmp_path):
    # the default internet model: 6.438 + 10.7 + sqrt(3.822^2 + 10^2 + 2^2 + 0.2^2) = 28.0 ms
    r = run("plan", "--demand", DATA / "west_demand.csv", "--candidates",
            DATA / "west_candidates.csv", "--budget-ms", 25, "--out", tmp_path / "o")
    assert r.returncode == 3
    assert "proxy) alone takes 28.0 ms" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()
    # on-net: 0.4 + 10.7 + 10.2 = 21.3 ms
    r = run("plan", "--demand", DATA / "west_demand.csv", "--candidates",
            DATA / "west_candidates.csv", "--budget-ms", 20, "--latency-model", "on-net",
            "--out", tmp_path / "o")
    assert r.returncode == 3
    assert "proxy) alone takes 21.3 ms" in r.stderr and "Traceback" not in r.stderr


def test_missing_inputs_exit_2(tmp_path):
    r = run("plan", "--out", tmp_path / "o")
    assert r.returncode == 2 and "--demo" in r.stderr


def test_outputs_replace_atomically(tmp_path):
    out = tmp_path / "plan"
    for budget in (30, 50):
        r = run("plan", "--demand", DATA / "west_demand.csv", "--candidates",
                DATA / "west_candidates.csv", "--budget-ms", budget, "--no-map", "--out", out)
        assert r.returncode == 0
    assert json.loads((out / "summary.json").read_text())["budget_ms"] == 50
    assert not [p for p in out.iterdir()
                if p.name.startswith(".") and p.name != ".edge-coverage.json"]
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in out.iterdir())


def test_python_dash_m(tmp_path):
    r = subprocess.run([sys.executable, "-m", "coverage", "--version"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stdout.strip()
    assert shutil.which(EXE)


def test_the_command_line_starts_without_the_heavy_optional_imports():
    """scikit-learn (with scipy.stats) and networkx cost over a second of every start of the
    console script, and a refused input never needs them: they are imported where used."""
    code = ("import sys, coverage.cli; "
            "print(sorted(m for m in ('sklearn', 'networkx', 'geopandas', 'folium', 'dask') "
            "if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_aggregate_option_reports_the_loss(tmp_path):
    out = tmp_path / "agg"
    r = run("plan", "--demand", DATA / "west_demand.csv", "--candidates",
            DATA / "west_candidates.csv", "--budget-ms", 25, "--latency-model", "on-net",
            "--aggregate-km", 80, "--aggregate-mode", "conservative", "--out", out, "--no-map")
    assert r.returncode == 0, r.stderr
    agg = json.loads((out / "summary.json").read_text())["aggregation"]
    assert agg["mode"] == "conservative" and agg["cell_km"] == 80
    assert agg["demand_points_in"] == 458 > agg["demand_points_solved"]
    assert {"cells_short", "population_short", "population_short_share"} <= set(agg)
    # the headline states the loss on the original points, not only the bins' figures
    assert (f"On the original points, {agg['cells_short']:,} ({agg['population_short']:,.0f} "
            f"people, {agg['population_short_share']:.2%}) are short") in r.stdout
    r = run("plan", "--demand", DATA / "west_demand.csv", "--candidates",
            DATA / "west_candidates.csv", "--aggregate-km", -5, "--out", tmp_path / "bad")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_no_report_no_gis_writes_the_tables_only(tmp_path):
    out = tmp_path / "plain"
    r = run("plan", "--demand", DATA / "west_demand.csv", "--candidates",
            DATA / "west_candidates.csv", "--no-report", "--no-gis", "--no-map", "--out", out)
    assert r.returncode == 0, r.stderr
    assert {p.name for p in out.iterdir()} == OUTPUTS - {"map.html", "sweep.csv", "report.html",
                                                       "plan.gpkg", "demand.parquet",
                                                       "sites.parquet"}
    assert "report:" not in r.stdout
    # the report command explains what is missing and how to get it
    r = run("report", out)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "sweep.csv" in r.stderr and "--no-report" in r.stderr


def test_report_command_rebuilds_the_report(tmp_path):
    out = tmp_path / "p"
    r = run("plan", "--demand", DATA / "west_demand.csv", "--candidates",
            DATA / "west_candidates.csv", "--budget-ms", 35, "--no-map", "--no-gis",
            "--sweep-budgets-ms", "30,50,100", "--out", out)
    assert r.returncode == 0, r.stderr
    first = (out / "report.html").read_bytes()
    (out / "report.html").unlink()
    r = run("report", out)
    assert r.returncode == 0, r.stderr
    assert (out / "report.html").read_bytes() == first
    assert "report:" in r.stdout
    assert not [p for p in out.iterdir()
                if p.name.startswith(".") and p.name != ".edge-coverage.json"]
    sweep = pd.read_csv(out / "sweep.csv")
    assert sorted(sweep["budget_ms"]) == [30, 35, 50, 100]


@pytest.mark.parametrize("make", ["missing", "partial"])
def test_report_command_on_a_bad_directory_exit_2(tmp_path, make):
    d = tmp_path / "plan"
    if make == "partial":
        d.mkdir()
        (d / "summary.json").write_text("{}")
    r = run("report", d)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and str(d) in r.stderr
    assert r.stderr.startswith("edge-coverage: error: plan directory")
    assert not d.is_dir() or not (d / "report.html").exists()


@pytest.mark.parametrize("budgets", ["30,-1", "30,2000000"])
def test_bad_sweep_option_exit_2(tmp_path, budgets):
    """A sweep budget above --budget-ms's limit (1e6 ms) was accepted, then the report
    refused its own sweep.csv (exit 5, tester 106): refused before the work."""
    r = run("plan", "--demand", DATA / "west_demand.csv", "--candidates",
            DATA / "west_candidates.csv", "--sweep-budgets-ms", budgets, "--out",
            tmp_path / "o")
    assert r.returncode == 2 and "--sweep-budgets-ms" in r.stderr
    assert not (tmp_path / "o").exists()


def test_the_command_runs_without_numpys_huge_page_advice(monkeypatch):
    """main() runs its command with numpy's huge-page advice off (and NUMPY_MADVISE_HUGEPAGE
    set for its Dask workers), and restores both afterwards, after an error too; a value
    the user set is left alone, and so is one set while the command ran."""
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _set_madvise_hugepage

    from coverage import cli
    from coverage.cli import _small_pages
    from coverage.errors import InputValidationError

    seen = []

    def report(args):  # the command's body: what it runs under, then an error
        seen.append((os.environ.get("NUMPY_MADVISE_HUGEPAGE"), _set_madvise_hugepage(False)))
        raise InputValidationError("stop here")

    monkeypatch.setattr(cli, "_run_report", report)
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    before = _set_madvise_hugepage(True)
    try:
        assert cli.main(["report", "nowhere"]) == 2
        assert seen == [("0", False)]
        assert "NUMPY_MADVISE_HUGEPAGE" not in os.environ
        assert _set_madvise_hugepage(True) is True  # restored after the error
        with _small_pages():
            os.environ["NUMPY_MADVISE_HUGEPAGE"] = "1"  # set by someone else meanwhile
        assert os.environ.pop("NUMPY_MADVISE_HUGEPAGE") == "1"
        with _small_pages():
            assert os.environ["NUMPY_MADVISE_HUGEPAGE"] == "0"
            assert _set_madvise_hugepage(False) is False  # the advice was off
        assert "NUMPY_MADVISE_HUGEPAGE" not in os.environ
        assert _set_madvise_hugepage(True) is True  # restored
        monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")
        with _small_pages():
            assert os.environ["NUMPY_MADVISE_HUGEPAGE"] == "1"
            assert _set_madvise_hugepage(True) is True  # untouched
    finally:
        _set_madvise_hugepage(before)


def test_an_interrupt_while_importing_is_one_line_not_a_traceback():
    """Ctrl-C during the second or two ``coverage.cli`` takes to import: the console
    script's entry point (``edge_coverage.main``) says "interrupted" and exits 130. The
    interrupt is raised deterministically by an import hook, not by a timed signal."""
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "edge-coverage"]
    assert script.value == "edge_coverage:main"
    code = textwrap.dedent("""
        import sys

        class Interrupt:
            def find_spec(self, name, path=None, target=None):
                if name == "coverage.cli":
                    raise KeyboardInterrupt

        sys.meta_path.insert(0, Interrupt())
        import edge_coverage
        sys.exit(edge_coverage.main(["--version"]))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120, cwd=Path(__file__).parent)
    assert r.returncode == 130, r.stderr
    assert r.stderr == "edge-coverage: interrupted\n"
    broken = subprocess.run([sys.executable, "-c", code.replace(
        "raise KeyboardInterrupt", "raise ImportError('no module named scipy')")],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent)
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert broken.stderr.startswith("edge-coverage: error: cannot import the planner "
                                    "(ImportError: no module named scipy). Fix: reinstall")
    ok = subprocess.run([sys.executable, "-c", "import edge_coverage, sys; "
                         "sys.exit(edge_coverage.main(['--version']))"],
                        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent)
    from coverage import __version__

    assert ok.returncode == 0 and ok.stdout.split() == [__version__], ok.stdout


def test_a_closed_stdout_is_not_an_error(tmp_path):
    """``plan ... | head -1``: the reader closes stdout before the command's lines; the
    plan is written, exit 0, no "internal error" (3 of 8 runs ended in a BrokenPipeError).
    Here the read end is closed before the command writes anything, every time."""
    out = tmp_path / "plan"
    proc = subprocess.Popen([EXE, "plan", "--demo", "--country", "IS", "--no-map",
                             "--no-report", "--no-gis", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read()
    assert proc.wait(timeout=600) == 0, err
    assert "internal error" not in err and "BrokenPipe" not in err and "Exception" not in err
    assert json.loads((out / "summary.json").read_text())["site_count"] >= 1


@pytest.mark.parametrize("args", [
    ["--from", "-33.87,151.21", "--to", "-37.81,144.96"],
    ["--to", "-37.81,144.96", "--from", "-33.87,151.21"],
    ["--from=-33.87,151.21", "--to", "-37.81,144.96"],
])
def test_latency_takes_southern_coordinates(args):
    """Sydney to Melbourne: a value starting with a minus was taken for an option name
    ("argument --from: expected one argument"). Great-circle distance 713 km (hand
    computation with the haversine formula, R = 6371.0088 km)."""
    r = subprocess.run([EXE, "latency", *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "713.4 km" in r.stdout


def test_a_negative_value_of_another_option_is_still_refused():
    r = subprocess.run([EXE, "plan", "--demo", "--country", "LU", "--budget-ms", "-5",
                        "--no-map", "--out", "/nonexistent-never-written"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_the_demands_own_columns_reach_assignment_csv(tmp_path):
    """The reader says "demand column(s) carried to the outputs unchanged: state"; they were
    dropped from assignment.csv and the GIS demand layer. They now follow the planner's
    columns, value for value (checked against the input file by id)."""
    src = pd.read_csv(DATA / "west_demand.csv")
    src["note, with a comma"] = [f"row {i}" for i in range(len(src))]
    src.to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "plan"
    r = subprocess.run([EXE, "plan", "--demand", str(tmp_path / "d.csv"), "--candidates",
                        str(DATA / "west_candidates.csv"), "--budget-ms", "30", "--no-map",
                        "--no-report", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "carried to the outputs: state, note, with a comma" in r.stderr
    a = pd.read_csv(out / "assignment.csv")
    assert list(a.columns[-2:]) == ["state", "note, with a comma"]
    merged = a.merge(src, on="demand_id", suffixes=("", "_in"))
    assert len(merged) == len(src)
    assert (merged["state"] == merged["state_in"]).all()
    assert (merged["note, with a comma"] == merged["note, with a comma_in"]).all()
    checked = 0
    for path in out.iterdir():  # the GIS demand layer (GeoPackage or GeoParquet)
        if path.suffix == ".gpkg":
            g = gpd.read_file(path, layer="demand")
        elif path.name == "demand.parquet":
            g = gpd.read_parquet(path)
        else:
            continue
        checked += 1
        assert "state" in g.columns and len(g) == len(src)
    assert checked, sorted(p.name for p in out.iterdir())


@pytest.mark.parametrize("args, says", [
    (["--demand", str(DATA / "west_demand.csv"), "--candidates",
      str(DATA / "west_candidates.csv"), "--country", "NZ"],
     "--country applies only with --demo"),
    (["--demand", str(DATA / "west_demand.csv"), "--candidates",
      str(DATA / "west_candidates.csv"), "--demo-min-population", "100000",
      "--demo-site-min-population", "1"],
     "--demo-min-population, --demo-site-min-population apply only with --demo"),
    (["--demo", "--country", "LU", "--demand-crs", "EPSG:3857", "--demand-layer", "x"],
     "--demand-crs, --demand-layer describe input files, and --demo uses the embedded data"),
    (["--demo", "--country", "LI"],
     "GeoNames has no place with >= 50,000 people (its largest has"),
    # both thresholds at once (tester 194: the second refusal came after the first fix)
    (["--demo", "--country", "CC"],
     "lower --demo-min-population to 120 or less\n--country CC: GeoNames has no place "
     "with >= 50,000 people (its largest has 120). Fix: lower --demo-site-min-population"),
    (["--demo", "--country", "AN"],
     "Fix: AN is a retired code: its places are under CW, SX and BQ"),
])
def test_options_that_do_not_apply_are_refused_before_the_work(tmp_path, args, says):
    """Options of the embedded data given with files (and the other way round) were
    ignored without a word (a user may think --country filtered their file)."""
    r = subprocess.run([EXE, "plan", *args, "--no-map", "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 2 and says in r.stderr, r.stderr
    assert "Fix:" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()


def test_the_demo_defaults_are_unchanged(tmp_path):
    r = subprocess.run([EXE, "plan", "--demo", "--country", "LU", "--no-map", "--no-report",
                        "--no-gis", "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    inputs = json.loads((tmp_path / "o" / "summary.json").read_text())["inputs"]
    assert inputs["demand"]["min_population"] == 500
    assert inputs["candidates"]["min_population"] == 50_000
    assert inputs["demand"]["country"] == "LU"


def test_main_leaves_the_loggers_as_it_found_them(tmp_path):
    """``main()`` set the ``coverage`` logger to INFO and left it there: a program (or a
    test) calling it saw the library's INFO lines from then on."""
    import logging

    from coverage.cli import main

    log = logging.getLogger("coverage")
    before = (log.level, list(log.handlers))
    assert main(["latency", "--from", "52.52,13.40", "--to", "48.14,11.58"]) == 0
    assert main(["plan", "--demo", "--country", "LU", "--no-map", "--no-report",
                 "--no-gis", "--quiet", "--out", str(tmp_path / "o")]) == 0
    assert (log.level, list(log.handlers)) == before


def test_an_input_column_named_like_an_output_is_named_in_a_warning(tmp_path):
    """A candidate column ``radius_km`` was replaced in sites.csv by the plan's radius
    without a word; the demand's ``coverage_status`` likewise in assignment.csv."""
    c = pd.read_csv(DATA / "west_candidates.csv").assign(radius_km=1.0)
    c.to_csv(tmp_path / "c.csv", index=False)
    # (and columns this plan does not compute, from an earlier plan with failure domains:
    # review 155 found them in assignment.csv as if this plan had computed them)
    d = pd.read_csv(DATA / "west_demand.csv").assign(coverage_status="mine",
                                                      domain_nk_latency_ms=5.0,
                                                      n_domains_in_budget=3)
    d.to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "plan"
    r = subprocess.run([EXE, "plan", "--demand", str(tmp_path / "d.csv"), "--candidates",
                        str(tmp_path / "c.csv"), "--budget-ms", "30", "--no-map",
                        "--no-report", "--no-gis", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert (f"{tmp_path / 'c.csv'}: column(s) radius_km are computed by the plan: sites.csv "
            "holds the plan's values") in r.stderr
    assert (f"{tmp_path / 'd.csv'}: column(s) coverage_status, domain_nk_latency_ms, "
            "n_domains_in_budget are computed") in r.stderr
    assert "Fix: rename them to keep them (e.g. radius_km_input)" in r.stderr
    sites = pd.read_csv(out / "sites.csv")
    assert (sites["radius_km"] > 1.0).all()  # the plan's radius, as the warning says
    table = pd.read_csv(out / "assignment.csv")
    assert "mine" not in set(table["coverage_status"])
    assert not {"domain_nk_latency_ms", "n_domains_in_budget"} & set(table.columns)
    assert "(left out where this plan computes none)" in r.stderr


@pytest.mark.parametrize("command", [["plan", "--demo", "--country", "LU"],
                                     ["batch", str(DATA / "README.md")]])
def test_an_absurd_number_of_local_workers_is_refused(tmp_path, command):
    """``--workers 1000000`` started a local cluster of a million processes and hung."""
    r = subprocess.run([EXE, *command, "--workers", "1000000", "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "local worker processes on a machine with" in r.stderr
    assert "Fix: give --workers" in r.stderr and not (tmp_path / "o").exists()


def test_every_bad_option_value_is_named_in_one_message(capsys):
    """Tester 96: a command line with three bad values took three runs to fix (argparse
    stops at the first). One message names them all, exit 2; one bad value stays one
    line."""
    from coverage.cli import main

    with pytest.raises(SystemExit) as info:
        main(["plan", "--demo", "--budget-ms", "-5", "--time-limit-s", "0",
              "--percentile", "p42"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "edge-coverage plan: error: 3 problems" in err
    assert "1. argument --budget-ms" in err and "2. argument --time-limit-s" in err
    assert "3. argument --percentile: invalid choice: 'p42'" in err
    with pytest.raises(SystemExit) as info:
        main(["plan", "--demo", "--time-limit-s", "0"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "problems" not in err
    assert err.startswith("edge-coverage plan: error: argument --time-limit-s")
    # an unknown argument is named with the bad values (reviewer 99: only it was)
    with pytest.raises(SystemExit):
        main(["plan", "--failures", "x", "--bogus", "1"])
    err = capsys.readouterr().err
    assert "2 problems" in err and "--failures" in err
    assert "unrecognized arguments: --bogus 1" in err
    # a missing required option is named with the bad values
    with pytest.raises(SystemExit):
        main(["latency", "--from", "95,0"])
    err = capsys.readouterr().err
    assert "2 problems" in err and "--from" in err and "required: --to" in err


def test_latency_option_messages_read_and_name_the_fix(capsys):
    """Tester 143: a pair read "0 <= P50 <= P99 of ms", and a p50 overhead above the
    profile's p99 one was refused without naming the option that fixes it."""
    from coverage.cli import main

    with pytest.raises(SystemExit):
        main(["latency", "--from", "52,13", "--to", "48,11", "--inference-ms", "5,2"])
    err = capsys.readouterr().err
    assert "must be P50,P99 in ms with 0 <= P50 <= P99" in err and "of ms" not in err
    assert main(["latency", "--from", "52,13", "--to", "48,11", "--overhead-ms", "20"]) == 2
    err = capsys.readouterr().err
    assert "must be >= overhead_ms (20.0)" in err and "Fix:" in err
    assert "--overhead-p99-ms" in err and "Traceback" not in err


def test_an_input_inside_out_is_refused(tmp_path, capsys):
    """Tester 100: ``--demand P/assignment.csv --out P`` read the file, then replaced it
    with the new plan's, without a word; a warning then, and tester 174 showed that
    summary.json recorded an input (path, SHA-256) that no longer existed: refused, the
    plan directory untouched."""
    from coverage.cli import main
    from coverage.outputs.outdir import file_stats

    data = Path(__file__).resolve().parents[1] / "data"
    base = ["plan", "--candidates", str(data / "west_candidates.csv"), "--no-map",
            "--no-report", "--no-gis", "--kmedian-time-limit-s", "5", "-q",
            "--out", str(tmp_path / "P")]
    assert main([*base, "--demand", str(data / "west_demand.csv")]) == 0
    assert "replaces as a whole" not in capsys.readouterr().err
    files = sorted(p.name for p in (tmp_path / "P").iterdir())
    before = file_stats(tmp_path / "P", files, hash_max_bytes=10**9)
    assert main([*base, "--demand", str(tmp_path / "P" / "assignment.csv")]) == 2
    err = capsys.readouterr().err
    assert (f"--demand {tmp_path / 'P' / 'assignment.csv'} is inside --out "
            f"{tmp_path / 'P'}, which this run replaces as a whole") in err
    assert f"cp {tmp_path / 'P' / 'assignment.csv'} {tmp_path / 'assignment-input.csv'}" in err
    assert "Traceback" not in err
    assert file_stats(tmp_path / "P", files, hash_max_bytes=10**9) == before


@pytest.mark.parametrize("command", ["plan", "compare"])
def test_sweep_options_with_no_report_are_said_unused(tmp_path, command):
    """Tester 106: --no-report skips the sweep, and its options were accepted without a
    word. The ones typed are named as not used (the defaults do not count); the plan is
    made as without them."""
    out = tmp_path / "o"
    r = run(command, "--demo", "--country", "LU", "--no-report", "--sweep-budgets-ms",
            "10,20", "--sweep-process", "always", "--no-map", "--out", out)
    assert r.returncode == 0, r.stderr
    assert ("--sweep-budgets-ms, --sweep-process are not used: --no-report skips the "
            "budget sweep") in r.stderr
    assert "--sweep-time-limit-s" not in r.stderr and "Traceback" not in r.stderr
    assert not (out / "sweep.csv").exists() and (out / "summary.json").exists()


def test_failure_options_with_failures_0_are_said_unused(tmp_path):
    """Tester 108: --domain-radius-km and --scenario-limit with --failures 0 changed
    nothing without a word."""
    r = run("plan", "--demo", "--country", "LU", "--failures", "0", "--domain-radius-km",
            "5", "--scenario-limit", "5", "--requests-per-person-day", "10", "--no-map",
            "--no-report", "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    assert ("--domain-radius-km, --scenario-limit are not used: --failures 0 checks no "
            "failure scenario") in r.stderr


def test_the_demo_names_its_inputs_in_messages(tmp_path):
    """Tester 174: with --demo a message named the candidates "<sites>"."""
    r = subprocess.run([EXE, "plan", "--demo", "--country", "LU", "--max-sites", "57",
                        "--out", str(tmp_path / "o")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 2
    assert ("57 is more than the 1 candidate sites of GeoNames candidates of LU "
            "(>= 50,000 people)") in r.stderr
    assert "<sites>" not in r.stderr and "<demand>" not in r.stderr


def test_every_input_file_inside_out_is_named(tmp_path):
    """Review 156: compare's --regions and --costs inside --out were not checked, nor a
    path given with ~."""
    import argparse

    from coverage.cli import _inputs_in_out

    out = tmp_path / "C"
    out.mkdir()
    (out / "sites.csv").write_text("x\n")
    args = argparse.Namespace(out=str(out), regions=str(out / "sites.csv"),
                              costs=str(out / "sites.csv"), demand=None, candidates=None)
    found = _inputs_in_out(args)
    assert [p.split(" ")[0] for p in found] == ["--regions", "--costs"]
    home = Path.home()
    if home in tmp_path.parents:  # "~/..." names the same directory
        tilde = "~/" + str(out.relative_to(home))
        found = _inputs_in_out(argparse.Namespace(out=tilde, demand=str(out / "sites.csv")))
        assert len(found) == 1 and found[0].startswith("--demand")


def test_escape_sequences_in_names_are_shown_not_sent_to_the_terminal(tmp_path):
    """Tester 193: a file name holding an escape sequence was printed raw (``ESC [ 2 J``
    clears a terminal): every line the command prints (its log, its errors, its
    figures) shows control characters as ``\\xNN``; the files keep their names."""
    esc = "\x1b[2J"
    demand = tmp_path / f"demand{esc}.csv"
    shutil.copy(DATA / "west_demand.csv", demand)
    missing = tmp_path / f"none{esc}.csv"
    r = run("plan", "--demand", demand, "--candidates", missing, "--out", tmp_path / "o")
    assert r.returncode == 2, r.stderr
    assert "\x1b" not in r.stderr + r.stdout
    assert "none\\x1b[2J.csv" in r.stderr
    out = tmp_path / f"out{esc}"
    r = run("plan", "--demand", demand, "--candidates", DATA / "west_candidates.csv",
            "--latency-model", "on-net", "--budget-ms", "30", "--no-map", "--no-report",
            "--no-gis", "--kmedian-time-limit-s", "2", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stderr + r.stdout
    assert "demand\\x1b[2J.csv" in r.stderr and "out\\x1b[2J" in r.stdout
    assert (out / "summary.json").exists()  # (the names themselves are the user's)
