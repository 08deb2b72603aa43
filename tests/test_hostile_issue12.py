"""Hostile inputs of issue 12: calibrate's pings and --out, model files, service classes.

Each bad input: exit 2, one message naming the file (and rows) with a fix, no traceback,
nothing written.
"""

import gzip

import numpy as np
import pandas as pd
import pytest

from coverage.cli import main
from coverage.errors import InputValidationError
from coverage.model.calibrate import _fit_by_search, fibre_rtt_ms, fit_network
from coverage.model.latency import LatencyModel
from coverage.model.service import read_service_classes
from tests.conftest import DATA
from tests.helpers import write

RNG = np.random.default_rng(12)
N = 40
DIST = RNG.uniform(10, 1500, N).round(3)
RTT = (2 * DIST * 4.9e-3 * 2.0 + 5 + RNG.exponential(2, N)).round(3)
GOOD = pd.DataFrame({"distance_km": DIST, "rtt_ms": RTT})


def _calibrate(tmp_path, capsys, text: str | bytes, name="pings.csv", *extra):
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    out = tmp_path / "model.toml"
    rc = main(["calibrate", "--pings", str(p), "--out", str(out), "-q", *map(str, extra)])
    cap = capsys.readouterr()
    return rc, cap.err, out


def _csv(df: pd.DataFrame, **kw) -> str:
    return df.to_csv(index=False, **kw)


def _with(cells: dict) -> pd.DataFrame:
    df = GOOD.copy().astype(object)
    for (col, row), v in cells.items():
        df.loc[row, col] = v
    return df


GOOD_CASES = {
    "bom": "\ufeff" + _csv(GOOD),
    "semicolon_decimal_comma": _csv(GOOD, sep=";", decimal=","),
    "semicolon": _csv(GOOD, sep=";"),
    "upper_spaced_header": _csv(GOOD.rename(columns={"distance_km": " Distance_KM ",
                                                      "rtt_ms": "RTT_MS "})),
    "ten_pings": _csv(GOOD.head(10)),
}


@pytest.mark.parametrize("case", sorted(GOOD_CASES))
def test_pings_that_fit(tmp_path, capsys, case):
    rc, err, out = _calibrate(tmp_path, capsys, GOOD_CASES[case])
    assert rc == 0, err
    model = LatencyModel.from_file(out)
    assert 1.5 < model.route_factor < 2.5


def test_gzip_pings_fit_and_truncated_gzip_is_refused(tmp_path, capsys):
    data = gzip.compress(_csv(GOOD).encode())
    rc, err, _ = _calibrate(tmp_path, capsys, data, "p.csv.gz")
    assert rc == 0, err
    rc, err, out = _calibrate(tmp_path, capsys, data[: len(data) // 2], "t.csv.gz")
    assert rc == 2 and "t.csv.gz" in err and "Fix" in err and "Traceback" not in err


BAD_CASES = {
    # case: (file text, phrases in the message)
    "empty": ("", ["empty"]),
    "whitespace": ("\n \n", ["empty"]),
    "header_only": ("distance_km,rtt_ms\n", ["no pings"]),
    "nul_bytes": (b"distance_km,rtt_ms\n1,\x002\n", ["NUL byte"]),
    "binary": (bytes(range(256)) * 8, ["NUL byte"]),
    "duplicate_column": ("distance_km,distance_km,rtt_ms\n1,1,2\n", ["duplicate column"]),
    "same_name_other_case": ("distance_km,RTT_ms,rtt_ms\n1,2,2\n", ["same name"]),
    "nan_inf_empty": (_csv(_with({("rtt_ms", 3): "nan", ("rtt_ms", 4): "inf",
                                    ("distance_km", 5): ""})),
                      ["not a finite number", "rows 4, 5", "row 6"]),
    "huge": (_csv(_with({("rtt_ms", 2): 1e308, ("distance_km", 3): 1e308})),
             ["above 100,000 ms (row 3)", "above 20,016 km", "row 4"]),
    "negative_distance": (_csv(_with({("distance_km", 2): -5})), ["negative (row 3)"]),
    "p99_below": (_csv(GOOD.assign(rtt_p99_ms=GOOD.rtt_ms + 1).astype(object)
                       .pipe(lambda d: d.assign(rtt_p99_ms=[1.0] + list(d.rtt_p99_ms[1:])))),
                  ["rtt_p99_ms below rtt_ms (row 1)"]),
    "lat_out_of_range": ("src_lat,src_lon,dst_lat,dst_lon,rtt_ms\n95,0,0,0,50\n",
                         ["src_lat outside", "row 1"]),
    "all_at_distance_0": (_csv(GOOD.assign(distance_km=0.0)), ["same distance"]),
    "all_identical": (_csv(GOOD.assign(distance_km=100.0, rtt_ms=10.0)), ["same distance"]),
    # tester 147: 1 m apart fitted 1.00 + 7.23 ms (60 pings) or 3.40 + 0 ms (70,000)
    "a_metre_apart": (_csv(GOOD.assign(distance_km=[300.0, 300.001] * (len(GOOD) // 2)
                                       + [300.0] * (len(GOOD) % 2), rtt_ms=10.0)),
                      ["distances within 1 km of each other (300-300.001 km)"]),
    "a_tenth_of_a_metre": (_csv(GOOD.assign(
        distance_km=[100.0, 100.0001] * (len(GOOD) // 2) + [100.0] * (len(GOOD) % 2))),
        ["distances within 1 km", "range of distances"]),
    "nine_after_light": (_csv(GOOD.head(10).assign(
        rtt_ms=[0.001] + list(GOOD.rtt_ms[1:10]))), ["9 usable", "faster than light"]),
    "mostly_faster_than_light": (_csv(GOOD.assign(distance_km=GOOD.distance_km * 20)
                                      .clip(upper=19000)), ["faster than light", "swapped"]),
    "missing_columns": ("a,b\n1,2\n", ["missing column"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_pings_exit_2_with_one_message(tmp_path, capsys, case):
    text, phrases = BAD_CASES[case]
    rc, err, out = _calibrate(tmp_path, capsys, text)
    assert rc == 2, err
    assert "pings.csv" in err and "Fix" in err and "Traceback" not in err
    for phrase in phrases:
        assert phrase in err, err
    assert not out.exists()


@pytest.mark.parametrize("value", ["1e308", "1", "2000"])
def test_fibre_delay_out_of_range(tmp_path, capsys, value):
    rc, err, out = _calibrate(tmp_path, capsys, _csv(GOOD), "pings.csv",
                              "--fiber-us-per-km", value)
    assert rc == 2 and ("fiber" in err) and not out.exists()


@pytest.mark.parametrize("kind", ["other_file", "directory", "symlink", "dangling_symlink",
                                  "missing_dir", "pings_itself", "no_toml_suffix"])
def test_calibrate_out_is_checked_and_left_alone(tmp_path, capsys, kind):
    pings = write(tmp_path / "pings.csv", _csv(GOOD))
    other = write(tmp_path / "other.toml", "[tool]\nx = 1\n")
    out = tmp_path / "model.toml"
    if kind == "other_file":
        out = other
    elif kind == "directory":
        out.mkdir()
    elif kind in ("symlink", "dangling_symlink"):
        out.symlink_to(other if kind == "symlink" else tmp_path / "nowhere.toml")
    elif kind == "missing_dir":
        out = tmp_path / "no" / "model.toml"
    elif kind == "pings_itself":
        pings = out = write(tmp_path / "p.toml", _csv(GOOD))
    else:
        out = tmp_path / "model.txt"
    before = sorted(p.name for p in tmp_path.iterdir())
    rc = main(["calibrate", "--pings", str(pings), "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and "--out" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert other.read_text() == "[tool]\nx = 1\n"
    if kind == "pings_itself":
        assert pings.read_text() == _csv(GOOD)


@pytest.mark.parametrize("value", ["0", "-5", "nan"])
def test_max_distance_must_be_positive(tmp_path, capsys, value):
    pings = write(tmp_path / "pings.csv", _csv(GOOD))
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", "--pings", str(pings), "--out", str(tmp_path / "m.toml"),
              "--max-distance-km", value])
    assert exc.value.code == 2 and not (tmp_path / "m.toml").exists()
    assert "--max-distance-km" in capsys.readouterr().err


def test_search_fit_equals_the_linear_program():
    d = RNG.uniform(1, 3000, 4000)
    rtt = 2 * d * 4.9e-3 * 2.1 + 6 + RNG.exponential(3, 4000)
    for q in (0.5, 0.9):
        lp = fit_network(d, rtt, q)
        search = _fit_by_search(fibre_rtt_ms(d), rtt, q, 1.0, 0.0)
        np.testing.assert_allclose(search, lp, rtol=1e-7)


def test_a_million_pings_use_the_search_not_the_linear_program(tmp_path, capsys):
    """Above LP_MAX_PINGS the fit is the search (seconds; the linear program took minutes).
    The time itself is measured by make bench (docs/benchmarks-latency.md), not here."""
    n = 1_000_000
    d = RNG.uniform(1, 3000, n)
    rtt = 2 * d * 4.9e-3 * 2.1 + 6 + RNG.exponential(3, n)
    p = tmp_path / "pings.csv"
    pd.DataFrame({"distance_km": d.round(2), "rtt_ms": rtt.round(3)}).to_csv(p, index=False)
    rc = main(["calibrate", "--pings", str(p), "--out", str(tmp_path / "m.toml"), "-q"])
    assert rc == 0, capsys.readouterr().err
    model = LatencyModel.from_file(tmp_path / "m.toml")
    assert "golden-section search" in model.fit["method"]
    assert model.route_factor == pytest.approx(2.1,
                                                                                      abs=0.01)


# --------------------------------------------------------------------------- model files

MODEL_CASES = {
    "string_number": ('route_factor = "2.0"', "route_factor"),
    "boolean_number": ("route_factor = true", "route_factor"),
    "boolean_hops": ("hops = true", "hops"),
    "date": ("route_factor = 1979-05-27", "route_factor"),
    "proxy_three": ("proxy_ms = [1, 2, 3]", "proxy_ms"),
    "proxy_one": ("proxy_ms = [1]", "proxy_ms"),
    "proxy_text": ('proxy_ms = ["a", "b"]', "proxy_ms"),
    "proxy_booleans": ("proxy_ms = [true, true]", "proxy_ms"),
    "inference_three": ("inference_ms = [1, 2, 3]", "inference_ms"),
    "access_text": ('access_profiles_ms = "x"', "access_profiles_ms"),
    "access_short": ("access_profiles_ms = {ftth = [1]}", "ftth"),
    "access_text_pair": ('access_profiles_ms = {ftth = "fast"}', "ftth"),
    "wifi_list": ('wifi = ["a"]', "wifi"),
    "workload_number": ("workload = 3", "workload"),
    "fit_text": ('fit = "x"', "fit"),
    "profile_number": ("profile = 5", "profile"),
    "profile_list": ('profile = ["on-net"]', "profile"),
    "profile_table": ("profile = {a = 1}", "profile"),
    "profile_label": ('profile = "my-isp"', "profile"),
    "negative": ("overhead_ms = -1.0", "overhead_ms"),
    "nan": ("overhead_ms = nan", "overhead_ms"),
    "p99_below_p50": ("overhead_ms = 5.0\noverhead_p99_ms = 4.0", "overhead_p99_ms"),
    "unknown_key": ("speed = 3", "speed"),
}


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_bad_model_file_values(tmp_path, capsys, case):
    body, field = MODEL_CASES[case]
    model = write(tmp_path / "m.toml", f"[latency_model]\n{body}\n")
    with pytest.raises(InputValidationError) as exc:
        LatencyModel.from_file(model)
    msg = str(exc.value)
    assert "m.toml" in msg and field in msg and "Fix" in msg
    out = tmp_path / "plan"
    rc = main(["plan", "--demand", str(DATA / "west_demand.csv"), "--candidates",
               str(DATA / "west_candidates.csv"), "--latency-model", str(model), "--out",
               str(out), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and "m.toml" in err and "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("kind", ["empty", "directory", "missing", "not_toml", "binary"])
def test_unreadable_model_files(tmp_path, kind):
    p = tmp_path / "m.toml"
    if kind == "empty":
        p.write_text("")
    elif kind == "directory":
        p.mkdir()
    elif kind == "not_toml":
        p.write_text("route_factor: 2\n")
    elif kind == "binary":
        p.write_bytes(b"\xff\xfe\x00x")
    with pytest.raises(InputValidationError, match="Fix") as exc:
        LatencyModel.from_spec(p)
    assert "m.toml" in str(exc.value)


# --------------------------------------------------------------------------- service classes

CLASS_CASES = {
    "workload_list": ('budget_ms = 40\nworkload = ["x"]', "workload"),
    "percentile_list": ('budget_ms = 40\npercentile = ["p99"]', "percentile"),
    "percentile_upper": ('budget_ms = 40\npercentile = "P99"', "percentile"),
    "budget_text": ('budget_ms = "40"', "budget_ms"),
    "budget_bool": ("budget_ms = true", "budget_ms"),
    "budget_zero": ("budget_ms = 0", "budget_ms"),
    "budget_nan": ("budget_ms = nan", "budget_ms"),
}


@pytest.mark.parametrize("case", sorted(CLASS_CASES))
def test_bad_class_values(tmp_path, case):
    body, phrase = CLASS_CASES[case]
    p = write(tmp_path / "classes.toml", f"[service_classes.gaming]\n{body}\n")
    with pytest.raises(InputValidationError, match=phrase) as exc:
        read_service_classes(p)
    assert "classes.toml" in str(exc.value) and "Fix" in str(exc.value)


def test_classes_differing_only_in_case_are_refused(tmp_path):
    p = write(tmp_path / "classes.toml", "[service_classes.Gaming]\nbudget_ms = 40\n"
              "[service_classes.gaming]\nbudget_ms = 50\n")
    with pytest.raises(InputValidationError, match="same name"):
        read_service_classes(p)
    p = write(tmp_path / "c2.toml", "[service_classes.RealTime]\nbudget_ms = 40\n")
    with pytest.raises(InputValidationError, match="reserved"):
        read_service_classes(p)


def test_labels_mixed_case_spaces_and_na_like_cells_plan(tmp_path, capsys):
    demand = pd.read_csv(DATA / "west_demand.csv").head(40)
    demand["service_class"] = (["GAMING", " Gaming ", "NA", "null", "", "realtime "] * 7)[:40]
    demand["budget_ms"] = ([None, "55,5"] * 20)
    dpath = tmp_path / "d.csv"
    demand.to_csv(dpath, index=False, sep=";")
    classes = write(tmp_path / "c.toml", "[service_classes.gaming]\nbudget_ms = 60\n")
    out = tmp_path / "plan"
    rc = main(["plan", "--demand", str(dpath), "--candidates",
               str(DATA / "west_candidates.csv"), "--latency-model", "on-net",
               "--service-classes", str(classes), "--budget-ms", "60", "--out", str(out),
               "--no-map", "--no-gis", "--no-report", "-q"])
    assert rc == 0, capsys.readouterr().err
    assert (out / "summary.json").exists()


@pytest.mark.parametrize("value", [1e308, 2e6])
def test_absurd_budgets_are_refused(tmp_path, value):
    """A 'budget' beyond 1,000,000 ms is not a latency budget (and its radius overflows):
    refused on the command line, in a demand column and in a class file."""
    from coverage.config import PlannerConfig
    from coverage.model.service import service_classes_from

    assert PlannerConfig(budget_ms=value).problems()
    with pytest.raises(InputValidationError, match="1,000,000"):
        service_classes_from({"huge": {"budget_ms": value}})
    demand = tmp_path / "d.csv"
    demand.write_text(f"lat,lon,population,budget_ms\n45,5,10,{value}\n45.1,5.1,10,30\n")
    from coverage.inputs.tables import read_demand

    with pytest.raises(InputValidationError, match="row 1"):
        read_demand(demand)
