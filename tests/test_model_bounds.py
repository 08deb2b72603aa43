"""Physical bounds of the latency model, and the checks of ``latency`` and ``calibrate``.

Light in vacuum takes 3.3356 us per km, in fibre about 4.9: a fibre delay below the first is
faster than light; no route is shorter than the great circle (route factor >= 1); hops,
per-hop delay and overheads are bounded. Every bad value: exit 2, one message naming the
option (or file and rows) with the fix, no traceback, nothing written.
"""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from conftest import DATA

from coverage.cli import main
from coverage.errors import InputValidationError
from coverage.inputs.pings import read_pings
from coverage.model.calibrate import calibrate, fibre_rtt_ms
from coverage.model.latency import (
    MAX_FIBER_US_PER_KM,
    MAX_HOPS,
    MAX_OVERHEAD_MS,
    MAX_PER_HOP_MS,
    MAX_ROUTE_FACTOR,
    MIN_FIBER_US_PER_KM,
    LatencyModel,
)
from coverage.outputs.outdir import MARKER, OutputDir, check_output_dir
from tests.helpers import write

FROM_TO = ["--from", "52.52,13.40", "--to", "48.14,11.58"]  # Berlin -> Munich, 504 km

RNG = np.random.default_rng(2024)
DIST = RNG.uniform(10, 1500, 40).round(3)
RTT = (2.0 * fibre_rtt_ms(DIST) + 5 + RNG.exponential(2, 40)).round(3)


def _pings(tmp_path, rtt=RTT, name="pings.csv"):
    path = tmp_path / name
    pd.DataFrame({"distance_km": DIST, "rtt_ms": rtt}).to_csv(path, index=False)
    return path


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    return err


# --------------------------------------------------------------------------- the model


def test_fibre_faster_than_light_is_refused_and_light_itself_accepted():
    for fast in (3.0, 3.33, 1.0, 0.5):
        with pytest.raises(InputValidationError, match="fiber_us_per_km.*light in vacuum"):
            LatencyModel(fiber_us_per_km=fast)
    assert MIN_FIBER_US_PER_KM == pytest.approx(1e6 / 299_792.458)  # c in km/s
    at_light = LatencyModel(fiber_us_per_km=MIN_FIBER_US_PER_KM)
    assert at_light.ms_per_km == pytest.approx(2 * 2.2754 * 3.33564 / 1000, rel=1e-5)
    assert LatencyModel(fiber_us_per_km=4.9).fiber_us_per_km == 4.9


def test_route_shorter_than_the_great_circle_is_refused():
    for short in (0.5, 0.99, 1e-9):
        with pytest.raises(InputValidationError, match="route_factor.*great circle"):
            LatencyModel(route_factor=short)
    assert LatencyModel(route_factor=1.0).route_factor == 1.0
    assert LatencyModel.from_profile("on-net", route_factor=1).route_factor == 1


@pytest.mark.parametrize("name,value", [
    ("fiber_us_per_km", MAX_FIBER_US_PER_KM * 1.01), ("fiber_us_per_km", 1e6),
    ("route_factor", MAX_ROUTE_FACTOR + 0.1), ("route_factor", 1e30),
    ("hops", MAX_HOPS + 1), ("hops", 10**9),
    ("per_hop_ms", MAX_PER_HOP_MS + 1), ("per_hop_ms", 1e300),
    ("overhead_p99_ms", MAX_OVERHEAD_MS * 10),
])
def test_absurdly_large_network_values_are_refused(name, value):
    with pytest.raises(InputValidationError, match=f"{name} must be .* from .* to") as info:
        LatencyModel(**{name: value})
    assert f"got {value!r}" in str(info.value)


def test_overhead_above_the_bound_is_refused_with_its_p99():
    with pytest.raises(InputValidationError, match="overhead_ms must be .* 10,000 ms"):
        LatencyModel(overhead_ms=MAX_OVERHEAD_MS + 1, overhead_p99_ms=MAX_OVERHEAD_MS + 2)
    m = LatencyModel(overhead_ms=MAX_OVERHEAD_MS, overhead_p99_ms=MAX_OVERHEAD_MS)
    assert m.network_fixed_ms == (MAX_OVERHEAD_MS, MAX_OVERHEAD_MS)


def test_every_bound_problem_in_one_message():
    with pytest.raises(InputValidationError) as info:
        LatencyModel(fiber_us_per_km=2.0, route_factor=0.5, hops=1000, per_hop_ms=500.0,
                     overhead_ms=0.0, overhead_p99_ms=1e7)
    text = str(info.value)
    for name in ("fiber_us_per_km", "route_factor", "hops", "per_hop_ms", "overhead_p99_ms"):
        assert f"{name} must be" in text, name
    assert text.count("invalid latency model") == 1


def test_model_file_with_faster_than_light_fibre_names_the_file(tmp_path):
    f = write(tmp_path / "fast.toml", "[latency_model]\nfiber_us_per_km = 2.0\n"
              "route_factor = 0.8\n")
    with pytest.raises(InputValidationError) as info:
        LatencyModel.from_file(f)
    text = str(info.value)
    assert "fast.toml" in text and "fiber_us_per_km" in text and "route_factor" in text
    assert "Fix:" in text


def test_cli_plan_refuses_a_model_file_beyond_the_bounds(tmp_path, capsys):
    f = write(tmp_path / "m.toml", "[latency_model]\nroute_factor = 0.5\n")
    out = tmp_path / "plan"
    assert main(["plan", "--demo", "--country", "LU", "--latency-model", str(f),
                 "--out", str(out), "-q"]) == 2
    err = _err(capsys)
    assert "m.toml" in err and "route_factor must be a number from 1 to 20" in err
    assert not out.exists()


@pytest.mark.parametrize("command", ["latency", "plan"])
@pytest.mark.parametrize("flag,value", [
    ("--fiber-us-per-km", "3.3"), ("--fiber-us-per-km", "1000"), ("--route-factor", "0.5"),
    ("--route-factor", "1e6"), ("--hops", "256"), ("--per-hop-ms", "1e9"),
    ("--overhead-ms", "1e7"), ("--overhead-p99-ms", "2e4"),
])
def test_cli_refuses_network_options_beyond_the_bounds(tmp_path, capsys, command, flag,
                                                       value):
    args = (["latency", *FROM_TO] if command == "latency" else
            ["plan", "--demo", "--country", "LU", "--out", str(tmp_path / "p"), "-q"])
    with pytest.raises(SystemExit) as info:
        main([*args, flag, value])
    assert info.value.code == 2
    err = _err(capsys)
    assert flag in err and "from" in err and " to " in err
    assert not (tmp_path / "p").exists()


def test_batch_model_beyond_the_bounds_is_refused_before_the_work(tmp_path, capsys):
    cfg = write(tmp_path / "b.toml", '[base]\ndemo = {country = "LU"}\n'
                'model = {fiber_us_per_km = 2.0, route_factor = 0.7}\n'
                '[[scenarios]]\nname = "fast"\nbudget_ms = 40\n')
    out = tmp_path / "sweep"
    assert main(["batch", str(cfg), "--out", str(out), "--workers", "0", "-q"]) == 2
    err = _err(capsys)
    assert "b.toml" in err and "'fast'" in err
    assert "fiber_us_per_km must be" in err and "route_factor must be" in err
    assert not (out / "scenarios").exists()


def test_options_table_states_the_bounds():
    from coverage.config import OPTIONS, options_markdown

    by_name = {o.name: o for o in OPTIONS}
    assert by_name["fiber_us_per_km"].problem(3.0) is not None
    assert by_name["fiber_us_per_km"].problem(4.9) is None
    assert by_name["hops"].problem(MAX_HOPS + 1) is not None
    table = options_markdown()
    assert "a number from 3.3356 to 100 us/km" in table
    assert "a number from 1 to 20" in table


# --------------------------------------------------------------------------- latency


def test_cli_latency_upf_out_of_range_says_the_range(capsys):
    assert main(["latency", *FROM_TO, "--access", "lte", "--upf", "95,0"]) == 2
    err = _err(capsys)
    assert "--upf '95,0' is outside -90..90" in err and "Fix:" in err
    assert "not found" not in err
    # a point in range and a missing table file are still what they were
    assert main(["latency", *FROM_TO, "--access", "lte", "--upf", "48.5,12"]) == 0
    capsys.readouterr()
    assert main(["latency", *FROM_TO, "--upf", "no-such-upf.csv"]) == 2
    assert "not found" in _err(capsys)


def test_cli_latency_backbone_edge_factor_zero_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["latency", *FROM_TO, "--backbone-edge-factor", "0"])
    assert info.value.code == 2
    err = _err(capsys)
    assert "--backbone-edge-factor" in err and "from 1 to 20" in err
    # with a graph, a factor of 2 is used (not replaced): the route detour doubles
    g = nx.Graph()
    for name, lat, lon in [("A", 0, 0), ("B", 0, 1), ("C", 0, 2)]:
        g.add_node(name, Latitude=lat, Longitude=lon)
    g.add_edges_from([("A", "B"), ("B", "C")])
    gml = tmp_path / "line.gml"
    nx.write_gml(g, gml)
    rows = {}
    for factor in ("1", "2"):
        assert main(["latency", "--from", "0,0", "--to", "0,2", "--backbone", str(gml),
                     "--backbone-edge-factor", factor]) == 0
        out = capsys.readouterr().out
        rows[factor] = float(next(line for line in out.splitlines()
                                  if line.startswith("route detour")).split()[2])
    km = 2 * 111.195  # two degrees on the equator, the links' straight lines
    # a link's round trip is 2 x km x edge factor x 4.9 us: factor 2 adds one more
    assert rows["2"] - rows["1"] == pytest.approx(2 * km * 4.9e-3, abs=0.011)


@pytest.mark.parametrize("extra", [["--backbone-edge-factor", "2"],
                                   ["--backbone-latency-attr", "delay"],
                                   ["--backbone-edge-factor", "1.2",
                                    "--backbone-latency-attr", "delay"]])
def test_cli_latency_backbone_options_without_a_backbone_are_refused(capsys, extra):
    assert main(["latency", *FROM_TO, *extra]) == 2
    err = _err(capsys)
    assert "no --backbone is given" in err and "Fix: add --backbone FILE" in err
    for flag in extra[::2]:
        assert flag in err


def test_cli_plan_backbone_options_without_a_backbone_are_refused(tmp_path, capsys):
    out = tmp_path / "plan"
    assert main(["plan", "--demo", "--country", "LU", "--backbone-edge-factor", "2",
                 "--out", str(out), "-q"]) == 2
    err = _err(capsys)
    assert ("backbone_edge_factor (--backbone-edge-factor) describes the links of a "
            "backbone graph") in err
    assert err.count("backbone graph") == 1 and not out.exists()


def test_api_and_batch_backbone_options_without_a_backbone_are_refused(tmp_path):
    """plan_sites and a batch file ignored them without a word, as the CLI did."""
    from coverage import plan_sites
    from coverage.batch import run_batch
    from coverage.inputs.geonames import geonames_candidates, geonames_demand

    demand, sites = geonames_demand("LU", 1000), geonames_candidates("LU", 3000)
    with pytest.raises(InputValidationError, match="backbone_latency_attr .* no backbone"):
        plan_sites(demand, sites, budget_ms=30, backbone_latency_attr="delay_ms")
    config = tmp_path / "s.toml"
    config.write_text('[base]\ndemo = {country = "LU", site_min_population = 3000}\n'
                      "backbone_edge_factor = 2\n[axes]\nbudget_ms = [30]\n")
    with pytest.raises(InputValidationError, match="backbone_edge_factor .* no backbone"):
        run_batch(config, tmp_path / "out", workers=0)
    assert not (tmp_path / "out").exists()


def test_cli_latency_reports_every_problem_at_once(capsys):
    assert main(["latency", *FROM_TO, "--access", "satellite", "--tier", "nope",
                 "--upf", "0,200", "--backbone-latency-attr", "delay"]) == 2
    err = _err(capsys)
    assert err.count("edge-coverage: error:") == 1
    for phrase in ("unknown access profile 'satellite'", "--tier 'nope'",
                   "--upf '0,200' is outside", "--backbone-latency-attr"):
        assert phrase in err, phrase


# --------------------------------------------------------------------------- calibrate


def test_pings_of_zero_or_negative_rtt_are_refused_by_row(tmp_path, capsys):
    rtt = RTT.copy()
    rtt[[2, 4]] = 0.0
    rtt[7] = -1.0
    path = _pings(tmp_path, rtt)
    with pytest.raises(InputValidationError, match=r"rtt_ms is 0 or negative \(rows 3, 5, 8\)"):
        read_pings(path)
    out = tmp_path / "m.toml"
    assert main(["calibrate", "--pings", str(path), "--out", str(out), "-q"]) == 2
    err = _err(capsys)
    assert "pings.csv" in err and "rows 3, 5, 8" in err and "Fix:" in err
    assert not out.exists()
    assert len(read_pings(_pings(tmp_path, RTT, "good.csv"))) == len(RTT)


def test_calibrate_reports_pings_out_and_fibre_problems_together(tmp_path, capsys):
    out = tmp_path / "no-such-dir" / "m.toml"
    assert main(["calibrate", "--pings", str(tmp_path / "missing.csv"), "--out", str(out),
                 "--fiber-us-per-km", "2.5", "-q"]) == 2
    err = _err(capsys)
    assert err.count("edge-coverage: error:") == 1
    assert "no-such-dir does not exist" in err
    assert "missing.csv" in err and "not found" in err
    assert "--fiber-us-per-km 2.5" in err and "faster than light" in err


def test_calibrate_checks_the_fibre_delay_before_reading_the_pings(tmp_path, capsys):
    bad_rows = RTT.copy()
    bad_rows[0] = 0.0
    pings = _pings(tmp_path, bad_rows)
    out = tmp_path / "m.toml"
    assert main(["calibrate", "--pings", str(pings), "--out", str(out),
                 "--fiber-us-per-km", "150", "-q"]) == 2
    err = _err(capsys)
    assert "--fiber-us-per-km 150" in err and "to 100 us/km" in err and "row 1" in err
    assert not out.exists()
    # the API keeps the model's bounds too: a calibration it could not load is refused
    with pytest.raises(InputValidationError, match="fiber_us_per_km 500"):
        calibrate(pd.DataFrame({"distance_km": DIST, "rtt_ms": RTT}), fiber_us_per_km=500)


def test_calibrate_too_few_pings_does_not_speak_of_an_infinite_distance(tmp_path, capsys):
    few = write(tmp_path / "few.csv", "distance_km,rtt_ms\n"
                + "".join(f"{100 + i},{9 + i}\n" for i in range(9)))
    assert main(["calibrate", "--pings", str(few), "--out", str(tmp_path / "a.toml")]) == 2
    err = _err(capsys)
    assert "9 usable ping" in err and "inf km" not in err and "--max-distance-km" not in err
    assert main(["calibrate", "--pings", str(few), "--out", str(tmp_path / "b.toml"),
                 "--max-distance-km", "104"]) == 2
    err = _err(capsys)
    assert "5 at or beyond 104 km" in err and "raise --max-distance-km" in err


def _plan_dir(path):
    with OutputDir(path, "plan") as od:
        staging = od.start()
        (staging / "summary.json").write_text(json.dumps({"version": "test", "site_count": 1}))
        (staging / "sites.csv").write_text("site_id,lat,lon\na,0,0\n")
        od.commit()
    return path


@pytest.mark.parametrize("where", ["plan", "plan_subdir", "batch"])
def test_calibrate_out_inside_a_tool_owned_directory_is_refused(tmp_path, capsys, where):
    pings = _pings(tmp_path)
    if where == "batch":
        owned = tmp_path / "sweep"
        owned.mkdir()
        (owned / MARKER).write_text(json.dumps({"tool": "edge-coverage", "kind": "batch",
                                                "files": []}))
    else:
        owned = _plan_dir(tmp_path / "plan")
    out = owned / ("scenarios" if where == "plan_subdir" else "") / "model.toml"
    if where == "plan_subdir":
        (owned / "scenarios").mkdir()
    before = sorted(p.name for p in owned.iterdir())
    assert main(["calibrate", "--pings", str(pings), "--out", str(out), "-q"]) == 2
    err = _err(capsys)
    assert f"is inside {owned}" in err and "Fix: give --out a path outside it" in err
    # (a sweep is not replaced as a whole: tester 193)
    assert ("writes its scenarios there" if where == "batch"
            else "replaces it as a whole") in err
    assert sorted(p.name for p in owned.iterdir()) == before
    if where == "plan":
        assert check_output_dir(owned, "plan").problems == []
    # next to the directory is fine
    assert main(["calibrate", "--pings", str(pings), "--out",
                 str(owned.parent / "model.toml"), "-q"]) == 0


def test_outputs_under_a_file_say_it_is_a_file(tmp_path, capsys):
    """Tester 95: ``calibrate --out afile/x.toml`` said "the directory afile does not
    exist", and ``plan --out afile/sub`` printed a stray line about its lock file."""
    afile = tmp_path / "afile"
    afile.write_text("mine")
    assert main(["calibrate", "--pings", str(_pings(tmp_path)), "--out",
                 str(afile / "x.toml")]) == 2
    err = _err(capsys)
    assert f"{afile} is a file, not a directory" in err and "does not exist" not in err
    assert main(["calibrate", "--pings", str(_pings(tmp_path)), "--out",
                 str(afile / "deeper" / "x.toml")]) == 2
    assert f"{afile} is a file, not a directory" in _err(capsys)
    assert main(["plan", "--demand", str(DATA / "west_demand.csv"), "--candidates",
                 str(DATA / "west_candidates.csv"), "--out", str(afile / "sub"), "-q"]) == 2
    err = _err(capsys)
    assert "which is a file" in err and "lock file" not in err
    assert err.count("\n") == 1, err
    assert afile.read_text() == "mine"
    # under a dangling symbolic link (reviewer): said as such, not "is a file"
    link = tmp_path / "gone"
    link.symlink_to(tmp_path / "nowhere")
    assert main(["calibrate", "--pings", str(_pings(tmp_path)), "--out",
                 str(link / "x.toml")]) == 2
    err = _err(capsys)
    assert f"{link} is a dangling symbolic link" in err and "is a file" not in err
    assert link.is_symlink() and not (tmp_path / "nowhere").exists()
