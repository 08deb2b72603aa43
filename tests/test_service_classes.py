"""Per-user budgets and service classes in one plan (issue 12 part 3).

The figures here are recomputed independently: haversine distances and the latency
formula written out from the model's parameters (not :class:`RowLatency`), subsets of
candidates enumerated by brute force, and the summary recounted from ``assignment.csv``.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
from helpers import run, write

from coverage import plan_sites
from coverage.config import build_model
from coverage.errors import InputValidationError
from coverage.model.latency import ACCESS_PROFILES_MS, WORKLOADS_MS, LatencyModel
from coverage.model.problem import RowLatency
from coverage.model.service import resolve_service, service_classes_from
from coverage.planner.stages import LATENCY_COMPONENT_COLUMNS

MODEL = LatencyModel()  # the default internet profile


def haversine(lat1, lon1, lat2, lon2):
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def hand_fixed(percentile="p99", access="ftth", workload="vision-l4", model=MODEL):
    """Latency at distance 0 written out from the model's parameters."""
    comps = [(0.0, model.overhead_p99_ms - model.overhead_ms), ACCESS_PROFILES_MS[access],
             (0.0, 0.0), tuple(model.proxy_ms), WORKLOADS_MS[workload]]
    value = model.hops * model.per_hop_ms + model.overhead_ms + sum(a for a, _ in comps)
    if percentile == "p99":
        value += math.sqrt(sum((b - a) ** 2 for a, b in comps))
    return value


def ms_per_km(model=MODEL):
    return 2 * model.route_factor * model.fiber_us_per_km / 1000


def hand_radius(budget, percentile="p99", workload="vision-l4"):
    f = hand_fixed(percentile, workload=workload)
    return (budget - f) / ms_per_km() if f <= budget else -1.0


# 12 demand points and 8 candidates placed by hand (south-east France)
DEMAND = pd.DataFrame({
    "demand_id": [f"d{i}" for i in range(12)],
    "lat": [45.0, 45.3, 45.8, 44.6, 44.1, 43.7, 45.5, 46.1, 44.9, 43.9, 46.4, 44.4],
    "lon": [5.0, 5.6, 4.8, 4.2, 5.4, 6.1, 6.6, 5.9, 7.0, 4.6, 4.4, 6.5],
    "population": [100, 250, 80, 60, 300, 120, 90, 40, 70, 200, 50, 30],
    "service_class": ["realtime", "gaming", "realtime", "gaming", "realtime", "gaming",
                      "gaming", "realtime", "gaming", "realtime", "gaming", "gaming"],
})
SITES = pd.DataFrame({
    "site_id": [f"s{j}" for j in range(8)],
    "lat": [45.1, 45.7, 44.5, 43.8, 45.4, 46.2, 44.2, 44.9],
    "lon": [5.2, 5.0, 4.5, 5.9, 6.4, 4.6, 6.6, 5.6],
})
CLASSES = {"gaming": {"budget_ms": 40.0}}  # radius 537 km; realtime 30 ms: 88 km


def brute_force(demand, radius, k):
    """Fewest candidates giving each row min(k+1, |N_i|) sites within its own radius."""
    d = np.array([[haversine(a, b, c, e) for c, e in zip(SITES.lat, SITES.lon, strict=True)]
                  for a, b in zip(demand.lat, demand.lon, strict=True)])
    within = d <= radius[:, None] + 1e-9
    need = np.minimum(k + 1, within.sum(axis=1))
    for size in range(len(SITES) + 1):
        for subset in itertools.combinations(range(len(SITES)), size):
            if (within[:, list(subset)].sum(axis=1) >= need).all():
                return size, within, need
    raise AssertionError("no subset")


@pytest.mark.parametrize("k", [0, 1])
def test_two_classes_plan_equals_the_brute_force_optimum(k):
    radius = np.array([hand_radius(30.0 if c == "realtime" else 40.0)
                       for c in DEMAND["service_class"]])
    assert radius.min() > 50 and radius.max() > 5 * radius.min()  # the radii differ
    best, within, need = brute_force(DEMAND, radius, k)
    plan = plan_sites(DEMAND, SITES, budget_ms=50, failures=k, service_classes=CLASSES,
                      time_limit_s=30)
    s = plan.summary()
    assert s["status"] == "optimal" and s["site_count"] == best
    chosen = [int(sid[1:]) for sid in plan.sites["site_id"]]
    assert (within[:, chosen].sum(axis=1) >= need).all()  # each row, its own radius
    np.testing.assert_array_equal(plan.demand["n_covering_sites"], within.sum(axis=1))


def test_per_row_latency_and_radius_by_hand():
    classes = {"gaming": {"budget_ms": 40.0},
               "chat": {"budget_ms": 45.0, "percentile": "p50", "workload": "bert-l4"}}
    demand = DEMAND.assign(service_class=["realtime", "gaming", "chat"] * 4)
    service = resolve_service(demand, percentile="p99", classes=service_classes_from(classes))
    rows = RowLatency.from_model(MODEL, np.full(12, "ftth"), 50.0, "p99", service=service)
    want_fixed = {"realtime": hand_fixed("p99"), "gaming": hand_fixed("p99"),
                  "chat": hand_fixed("p50", workload="bert-l4")}
    want_radius = {"realtime": hand_radius(30.0), "gaming": hand_radius(40.0),
                   "chat": hand_radius(45.0, "p50", "bert-l4")}
    for i, c in enumerate(demand["service_class"]):
        assert rows.fixed_ms[i] == pytest.approx(want_fixed[c], abs=1e-9)
        assert rows.radius_km[i] == pytest.approx(want_radius[c], abs=1e-6)
    # the plan's pair latencies follow the same hand formula at each row's own percentile
    plan = plan_sites(demand, SITES, budget_ms=50, service_classes=classes, time_limit_s=30)
    a = plan.demand
    site = SITES.set_index("site_id")
    for r in a[a["primary_site_id"].notna()].itertuples():
        d = haversine(r.lat, r.lon, site.at[r.primary_site_id, "lat"],
                      site.at[r.primary_site_id, "lon"])
        assert r.primary_latency_ms == pytest.approx(
            want_fixed[r.service_class] + ms_per_km() * d, abs=1e-6)
        assert r.primary_latency_ms <= r.budget_ms + 1e-6
    assert dict(zip(a["service_class"], a["budget_ms"], strict=True)) == {
        "realtime": 30.0, "gaming": 40.0, "chat": 45.0}
    # the waterfall columns still add up (the chat class: bert-l4 inference, p50 tail 0)
    parts = a[list(LATENCY_COMPONENT_COLUMNS)]
    served = a["primary_site_id"].notna()
    np.testing.assert_allclose(parts[served].sum(axis=1), a.loc[served, "primary_latency_ms"],
                               atol=1e-6)


def test_budget_ms_column_overrides_and_empty_cells_take_the_default():
    demand = DEMAND.drop(columns="service_class").assign(
        budget_ms=[40, None, 45, None, 60, None, None, 35, None, None, 40, None])
    plan = plan_sites(demand, SITES, budget_ms=33, time_limit_s=30)
    a = plan.demand
    want = np.array([40, 33, 45, 33, 60, 33, 33, 35, 33, 33, 40, 33], dtype=float)
    np.testing.assert_array_equal(a["budget_ms"], want)
    labels = {c["service_class"]: c for c in plan.summary()["by_service_class"]}
    assert set(labels) == {"default", "budget_ms=40", "budget_ms=45", "budget_ms=60",
                           "budget_ms=35"}
    assert labels["default"]["n_demand"] == 7 and labels["default"]["budget_ms"] == 33
    # a row's own budget wins over its class's; the class's percentile stays
    both = DEMAND.assign(budget_ms=[None] * 11 + [35.0])
    a = plan_sites(both, SITES, budget_ms=50, service_classes=CLASSES, time_limit_s=30).demand
    assert a["budget_ms"].iloc[11] == 35.0 and a["budget_ms"].iloc[10] == 40.0
    assert a["budget_ms"].iloc[0] == 30.0


def test_presets_by_name_in_plan_sites_and_cli(tmp_path):
    d = DEMAND.drop(columns="service_class")
    p = plan_sites(d, SITES, budget_ms="interactive", time_limit_s=30)
    q = plan_sites(d, SITES, budget_ms=50.0, time_limit_s=30)
    assert p.budget_ms == 50.0 and p.percentile == "p99"
    assert p.summary()["site_count"] == q.summary()["site_count"]
    assert p.summary()["parameters"]["budget_preset"] == "interactive"
    assert p.summary()["by_service_class"][0]["service_class"] == "interactive"
    with pytest.raises(InputValidationError, match="budget_ms"):
        plan_sites(d, SITES, budget_ms="fastest")
    dpath, spath = tmp_path / "d.csv", tmp_path / "s.csv"
    d.to_csv(dpath, index=False)
    SITES.to_csv(spath, index=False)
    out = tmp_path / "out"
    r = run("plan", "--demand", dpath, "--candidates", spath, "--budget-ms", "realtime",
            "--out", out, "--no-map", "--no-report", "--no-gis")
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["budget_ms"] == 30.0 and s["percentile"] == "p99"
    r = run("plan", "--demand", dpath, "--candidates", spath, "--budget-ms", "nope",
            "--out", tmp_path / "o2")
    assert r.returncode == 2 and "realtime" in r.stderr


def _files(tmp_path, demand, toml=None):
    dpath, spath = tmp_path / "d.csv", tmp_path / "s.csv"
    demand.to_csv(dpath, index=False)
    SITES.to_csv(spath, index=False)
    args = ["--demand", dpath, "--candidates", spath]
    if toml is not None:
        args += ["--service-classes", write(tmp_path / "classes.toml", toml)]
    return args


def test_class_file_with_p50_and_workload(tmp_path):
    toml = ('[service_classes.gaming]\nbudget_ms = 40\n\n'
            '[service_classes.chat]\nbudget_ms = 45\npercentile = "p50"\n'
            'workload = "bert-l4"\n')
    demand = DEMAND.assign(service_class=["realtime", "gaming", "chat"] * 4)
    out = tmp_path / "out"
    r = run("plan", *_files(tmp_path, demand, toml), "--budget-ms", 50, "--out", out,
            "--no-map", "--no-gis")
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    by = {c["service_class"]: c for c in s["by_service_class"]}
    assert by["chat"]["percentile"] == "p50" and by["chat"]["workload"] == "bert-l4"
    assert by["chat"]["budget_ms"] == 45.0 and by["gaming"]["percentile"] == "p99"
    assert "class chat: 45 ms p50" in r.stdout and "class realtime: 30 ms p99" in r.stdout
    html = (out / "report.html").read_text()
    assert "By service class" in html and "bert-l4" in html
    assert '<a href="#service-classes">By service class</a>' in html  # in the nav bar


@pytest.mark.parametrize("case,phrase", [
    ("bad_toml", "cannot read the service classes file"),
    ("bad_class", "budget_ms must be a positive number"),
    ("unknown_class", "unknown service_class values 'platinum'"),
    ("bad_budget", "budget_ms must be a positive number of ms"),
    ("text_budget", "budget_ms is not a finite number"),
    ("aggregate", "cannot be combined with --aggregate-km"),
])
def test_bad_classes_exit_2_rows_named_nothing_written(tmp_path, case, phrase):
    toml = "[service_classes.gaming]\nbudget_ms = 40\n"
    demand = DEMAND.copy()
    extra: list = []
    rows = None
    if case == "bad_toml":
        toml = "[service_classes.gaming\nbudget_ms = 40\n"
    elif case == "bad_class":
        toml = "[service_classes.gaming]\nbudget_ms = -5\n"
    elif case == "unknown_class":
        demand.loc[[3, 7], "service_class"] = "platinum"
        rows = "rows 4, 8"
    elif case == "bad_budget":
        demand["budget_ms"] = [None] * 5 + [0] + [None] * 6
        rows = "row 6"
    elif case == "text_budget":
        demand["budget_ms"] = [None] * 2 + ["fast"] + [None] * 9
        rows = "row 3"
    else:
        extra = ["--aggregate-km", "10"]
    out = tmp_path / "out"
    r = run("plan", *_files(tmp_path, demand, toml), "--out", out, *extra)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and phrase in r.stderr, r.stderr
    assert "Fix" in r.stderr or "fix" in r.stderr
    if rows:
        assert rows in r.stderr and "d.csv" in r.stderr
    assert not out.exists() or not any(out.iterdir())


def test_summary_by_class_recounted_from_assignment_csv(tmp_path):
    demand = DEMAND.assign(budget_ms=[None] * 10 + [35.0, None])
    # one point far from every candidate: uncoverable in its class
    demand.loc[9, ["lat", "lon"]] = [41.0, 9.0]
    out = tmp_path / "out"
    r = run("plan", *_files(tmp_path, demand, "[service_classes.gaming]\nbudget_ms = 40\n"),
            "--budget-ms", 50, "--failures", 1, "--out", out, "--no-map", "--no-gis",
            "--no-report")
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    a = pd.read_csv(out / "assignment.csv", keep_default_na=False, na_values=[""])
    assert s["budget_ms"] == 50.0
    own = demand["budget_ms"].to_numpy(dtype=float)
    label = [f"{c} budget_ms={b:g}" if not np.isnan(b) else c
             for c, b in zip(a["service_class"], own, strict=True)]
    a["label"] = label
    by = {c["service_class"]: c for c in s["by_service_class"]}
    assert set(by) == set(label)
    for name, g in a.groupby("label"):
        e = by[name]
        served = g["primary_site_id"].notna()
        assert e["n_demand"] == len(g)
        assert e["population"] == pytest.approx(g["population"].sum())
        assert e["budget_ms"] == pytest.approx(g["budget_ms"].iloc[0])
        assert (g["budget_ms"] == e["budget_ms"]).all()
        assert e["population_within_budget"] == pytest.approx(g.loc[served, "population"].sum())
        assert e["population_safe"] == pytest.approx(
            g.loc[g["n_covering_sites"] >= 2, "population"].sum())
        assert e["population_uncoverable"] == pytest.approx(
            g.loc[g["coverage_status"] == "uncoverable", "population"].sum())
        if served.any():
            assert e["mean_latency_ms"] == pytest.approx(np.average(
                g.loc[served, "primary_p50_ms"], weights=g.loc[served, "population"]))
    assert by["realtime"]["population_uncoverable"] == 200
    assert sum(e["population"] for e in by.values()) == s["population_total"]


def test_single_class_plan_is_unchanged():
    d = DEMAND.drop(columns="service_class")
    plan = plan_sites(d, SITES, budget_ms=40, time_limit_s=30)
    assert plan.service is None
    assert [c["service_class"] for c in plan.summary()["by_service_class"]] == ["default"]
    assert (plan.demand["budget_ms"] == 40).all()
    # an all-empty service_class column is a single-class plan too
    same = plan_sites(d.assign(service_class=""), SITES, budget_ms=40, time_limit_s=30)
    assert same.service is None
    assert list(same.sites["site_id"]) == list(plan.sites["site_id"])


def test_sweep_varies_one_uniform_budget():
    plan = plan_sites(DEMAND, SITES, budget_ms=50, service_classes=CLASSES, time_limit_s=30)
    sweep = plan.with_sweep((30, 40), time_limit_s=5).sweep
    assert "uniform budget" in sweep.attrs.get("note", "")
    uni = plan_sites(DEMAND.drop(columns="service_class"), SITES, budget_ms=40,
                     time_limit_s=30)
    row = sweep[(sweep["budget_ms"] == 40) & (sweep["source"] == "sweep")]
    assert int(row["site_count"].iloc[0]) == uni.summary()["site_count"]
    # the plan's own row has the plan's per-class coverage (tester 119: the sweep's
    # uniform budget's), recounted from the plan's assignment
    own = sweep[sweep["source"] == "plan"].iloc[0]
    s = plan.summary()
    n_cov = plan.demand["n_covering_sites"].to_numpy()
    pop = plan.demand["population"].to_numpy(dtype=float)
    assert own["n_pairs_in_reach"] == s["n_pairs_in_reach"] == int(n_cov.sum())
    assert own["population_uncoverable"] == pytest.approx(pop[n_cov == 0].sum())
    assert own["n_demand_uncoverable"] == int((n_cov == 0).sum())
    assert own["population_covered"] == pytest.approx(pop[n_cov >= 1].sum())


def test_batch_accepts_presets_and_a_class_file(tmp_path):
    from coverage.batch import load_config, run_batch

    dpath, spath = tmp_path / "d.csv", tmp_path / "s.csv"
    DEMAND.to_csv(dpath, index=False)
    SITES.to_csv(spath, index=False)
    write(tmp_path / "classes.toml", "[service_classes.gaming]\nbudget_ms = 40\n")
    cfg = write(tmp_path / "scenarios.toml", f'''
[base]
demand = "{dpath}"
candidates = "{spath}"
service_classes = "classes.toml"

[axes]
budget_ms = ["realtime", 50]
''')
    c = load_config(cfg)
    assert sorted(str(sc.params["budget_ms"]) for sc in c.scenarios) == ["50.0", "realtime"]
    assert all(sc.params["service_classes"] == str(tmp_path / "classes.toml")
               for sc in c.scenarios)
    table = run_batch(cfg, tmp_path / "out", workers=0)
    assert table["ok"].all(), table[["error"]]
    assert sorted(table["budget_ms"]) == [30.0, 50.0]


@pytest.mark.parametrize("k", [0, 1])
def test_row_generation_gives_the_same_plan_with_two_classes(k):
    """Row generation reads each row's own radius too: same count, bound and coverage as
    the full reach matrix (and the brute force)."""
    radius = np.array([hand_radius(30.0 if c == "realtime" else 40.0)
                       for c in DEMAND["service_class"]])
    best, within, need = brute_force(DEMAND, radius, k)
    full = plan_sites(DEMAND, SITES, budget_ms=50, failures=k, service_classes=CLASSES,
                      strategy="full", time_limit_s=30)
    lazy = plan_sites(DEMAND, SITES, budget_ms=50, failures=k, service_classes=CLASSES,
                      strategy="lazy", time_limit_s=30)
    assert lazy.summary()["solver"]["strategy"] == "lazy"
    for plan in (full, lazy):
        s = plan.summary()
        assert (s["status"], s["site_count"]) == ("optimal", best)
        chosen = [int(sid[1:]) for sid in plan.sites["site_id"]]
        assert (within[:, chosen].sum(axis=1) >= need).all()
        np.testing.assert_array_equal(plan.demand["n_covering_sites"], within.sum(axis=1))


def _catalog(tmp_path, text, name="wl.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


CATALOG = ("[workloads.bert-l4]\ninference_ms = [20.0, 25.0]\n\n"
           "[workloads.mine]\ninference_ms = [3.0, 4.0]\nthroughput_rps = 10\n")


@pytest.mark.parametrize("workload,pair", [("bert-l4", (20.0, 25.0)), ("mine", (3.0, 4.0))])
def test_a_class_takes_its_workload_from_the_workloads_catalog(tmp_path, workload, pair):
    """Tester 108 found a --workloads file's times dropped for a class's rows (bert-l4
    redefined at 20/25 ms, the rows kept the built-in 2.31 ms); the classes now take the
    catalog's times, also of a workload the file adds. Checked by hand (the latency
    formula written out with the catalog's pair) and against the same rows planned with
    the run-level --workload, which must give every row the same latency and radius."""
    wl = _catalog(tmp_path, CATALOG)
    base = hand_fixed("p50", workload="vision-l4") - WORKLOADS_MS["vision-l4"][0]
    budget = base + pair[0] + 4.0  # a radius of 179 km with the catalog's time
    classes = {"gaming": {"budget_ms": 40.0},
               "nlp": {"budget_ms": budget, "percentile": "p50", "workload": workload}}
    demand = DEMAND.assign(service_class=["realtime", "gaming", "nlp"] * 4)
    plan = plan_sites(demand, SITES, budget_ms=50, failures=0, service_classes=classes,
                      workloads=wl, time_limit_s=30)
    a = plan.demand
    nlp = (a["service_class"] == "nlp").to_numpy()
    # hand: the p50 fixed latency with the catalog's inference p50
    site = SITES.set_index("site_id")
    served = nlp & a["primary_site_id"].notna().to_numpy()
    assert served.sum() >= 2
    for r in a[served].itertuples():
        d = haversine(r.lat, r.lon, site.at[r.primary_site_id, "lat"],
                      site.at[r.primary_site_id, "lon"])
        assert r.primary_latency_ms == pytest.approx(base + pair[0] + ms_per_km() * d,
                                                     abs=1e-6)
        assert r.latency_inference_ms == pytest.approx(pair[0])
    by = {c["service_class"]: c for c in plan.summary()["by_service_class"]}
    assert by["nlp"]["workload"] == workload
    # the other classes keep the model's workload
    assert (a.loc[~nlp, "latency_inference_ms"].dropna()
            == WORKLOADS_MS["vision-l4"][0]).all()
    # the same rows planned alone with the run-level --workload: the same radius (the
    # candidates each row reaches) and the same inference time
    alone = demand[nlp].drop(columns="service_class").reset_index(drop=True)
    ref = plan_sites(alone, SITES, budget_ms=budget, percentile="p50", failures=0,
                     model=build_model({"workload": workload}, workloads=wl), workloads=wl,
                     time_limit_s=30).demand
    np.testing.assert_array_equal(a.loc[nlp, "n_covering_sites"].to_numpy(),
                                  ref["n_covering_sites"].to_numpy())
    assert (ref["latency_inference_ms"].dropna() == pair[0]).all()
    assert a.loc[nlp, "n_covering_sites"].nunique() > 1  # the radius tells rows apart


def test_class_workloads_need_a_catalog_name(tmp_path):
    """A class naming a workload of no catalog is refused, naming the catalog's names."""
    classes = {"nlp": {"budget_ms": 60, "workload": "mine"}}
    demand = DEMAND.assign(service_class="nlp")
    with pytest.raises(InputValidationError, match="unknown workload 'mine'"):
        plan_sites(demand, SITES, budget_ms=60, failures=0, service_classes=classes)
    plan = plan_sites(demand, SITES, budget_ms=60, failures=0, service_classes=classes,
                      workloads=_catalog(tmp_path, CATALOG))
    assert plan.summary()["by_service_class"][0]["workload"] == "mine"


def test_a_capacitated_plan_refuses_classes_on_another_accelerator(tmp_path):
    """A capacitated plan sizes every site for the run's workload: a class on another one
    had its load carried at the run's throughput without a word (the capacity summary
    said vision-l4 for gptj-l4 rows). Classes on the run's accelerator now share its pool
    (tests/test_shared_pool.py); one on another accelerator is refused before the work,
    classes named; a class on the run's own workload is planned."""
    demand = DEMAND.assign(service_class=["nlp", "gaming", "realtime"] * 4)
    sites = SITES.assign(power_kw=50.0)
    classes = {"gaming": {"budget_ms": 40.0},
               "nlp": {"budget_ms": 60.0, "workload": "bert-orin"}}
    with pytest.raises(InputValidationError, match=r"'bert-orin' is not served.*--workload"):
        plan_sites(demand, sites, budget_ms=50, failures=0, service_classes=classes,
                   requests_per_person_day=10)
    classes["nlp"]["workload"] = "vision-l4"  # the run's workload: planned
    plan = plan_sites(demand, sites, budget_ms=50, failures=0, service_classes=classes,
                      requests_per_person_day=10, time_limit_s=30)
    assert plan.summary()["capacity"]["status"] == "optimal"
    assert "workloads" not in plan.summary()["capacity"]  # no pool: one workload
    # the CLI refuses it before writing, and so does a batch before its sweep
    toml = ('[service_classes.gaming]\nbudget_ms = 40\n\n'
            '[service_classes.nlp]\nbudget_ms = 60\nworkload = "bert-orin"\n')
    args = _files(tmp_path, demand.assign(load_rps=1.0), toml)
    sites.to_csv(tmp_path / "s.csv", index=False)  # with their power
    out = tmp_path / "out"
    r = run("plan", *args, "--out", out, "--failures", 0)
    assert r.returncode == 2 and "'bert-orin' is not served" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


def class_batch(tmp_path, demand, sites, classes_toml, workloads_toml, rest):
    """A batch file over ``demand`` and ``sites`` with a class file and a workloads file
    (its ``[base]`` block, then ``rest``); returns its path."""
    dpath, spath = tmp_path / "d.csv", tmp_path / "s.csv"
    demand.to_csv(dpath, index=False)
    sites.to_csv(spath, index=False)
    write(tmp_path / "classes.toml", classes_toml)
    write(tmp_path / "wl.toml", workloads_toml)
    return write(tmp_path / "scenarios.toml", f'''
[base]
demand = "{dpath}"
candidates = "{spath}"
service_classes = "classes.toml"
workloads = "wl.toml"
{rest}''')


def test_batch_checks_class_workloads_before_the_sweep(tmp_path):
    """A batch takes a class's workload from the scenario's catalog, and refuses a
    capacitated scenario with a class on another workload before any scenario runs."""
    from coverage.batch import load_config, run_batch

    cfg = class_batch(tmp_path, DEMAND.assign(service_class=["nlp", "gaming", "realtime"] * 4),
                      SITES.assign(power_kw=50.0),
                      "[service_classes.gaming]\nbudget_ms = 40\n\n"
                      '[service_classes.nlp]\nbudget_ms = 60\nworkload = "mine"\n', CATALOG,
                      "failures = 0\n\n[axes]\nbudget_ms = [40, 50]\n")
    table = run_batch(load_config(cfg), tmp_path / "out", workers=0)
    assert table["ok"].all(), table[["error"]]
    capped = write(tmp_path / "capped.toml", (tmp_path / "scenarios.toml").read_text()
                   .replace("failures = 0", "failures = 0\nrequests_per_person_day = 10"))
    with pytest.raises(InputValidationError, match="'mine' is not served on the run's"):
        run_batch(load_config(capped), tmp_path / "out2", workers=0)
    assert not (tmp_path / "out2" / "scenarios").exists()


def test_a_bad_workloads_file_is_the_one_error_for_a_class_naming_its_workload(tmp_path):
    """Review 112: an unreadable catalog also gave the class naming one of its workloads
    an "unknown workload" error (checked against the built-in names only)."""
    bad = _catalog(tmp_path, "[workloads.mine]\ninference_ms = [3.0]\n", "bad.toml")
    toml = '[service_classes.nlp]\nbudget_ms = 60\nworkload = "mine"\n'
    args = _files(tmp_path, DEMAND.assign(service_class="nlp"), toml)
    out = tmp_path / "out"
    r = run("plan", *args, "--workloads", bad, "--failures", 0, "--out", out)
    assert r.returncode == 2 and "bad.toml" in r.stderr, r.stderr
    assert "unknown workload" not in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_by_class_names_the_run_workload_taken_from_the_catalog(tmp_path):
    """Review 112: with --workload bert-l4 redefined by the catalog, the class naming
    bert-l4 read 'bert-l4' and the default rows, on the same workload, 'inference_ms'."""
    wl = _catalog(tmp_path, CATALOG)
    demand = DEMAND.assign(service_class=["nlp", None, "realtime"] * 4)
    plan = plan_sites(demand, SITES, budget_ms=60, failures=0, workloads=wl,
                      model=build_model({"workload": "bert-l4"}, workloads=wl),
                      service_classes={"nlp": {"budget_ms": 60, "workload": "bert-l4"}})
    by = {c["service_class"]: c["workload"] for c in plan.summary()["by_service_class"]}
    assert by == {"nlp": "bert-l4", "default": "bert-l4", "realtime": "bert-l4"}
    explicit = plan_sites(DEMAND.drop(columns="service_class"), SITES, budget_ms=60, failures=0,
                          model=LatencyModel(inference_ms=(1.0, 2.0)))
    assert explicit.summary()["by_service_class"][0]["workload"] == "inference_ms"


def test_classes_for_a_demand_without_the_column_are_said(caplog):
    """--service-classes with a demand that has no service_class column names no row: a
    warning says so (tester 126: silently ignored)."""
    plan_sites(DEMAND.drop(columns="service_class"), SITES, budget_ms=50,
               service_classes={"gaming": {"budget_ms": 40}})
    assert "has no service_class column, so the service classes" in caplog.text


def test_an_unknown_class_is_said_beside_a_bad_out(tmp_path):
    """Tester 153: a --out holding the user's own files hid the demand's unknown
    service_class values until it was fixed: both in one message now, and the user's
    files untouched."""
    d = DEMAND.assign(service_class=["nope"] + list(DEMAND["service_class"].iloc[1:]))
    args = _files(tmp_path, d)
    out = tmp_path / "mine"
    out.mkdir()
    write(out / "notes.txt", "my notes")
    r = run("plan", *args, "--out", out, "--no-map")
    assert r.returncode == 2, r.stderr
    assert "was not written by edge-coverage" in r.stderr
    assert "unknown service_class values 'nope'" in r.stderr
    assert "Traceback" not in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "my notes"
