"""report.html: every section present, figures equal to summary.json and sweep.csv, analysis
helpers against naive recomputations, regeneration from a plan directory, escaping."""

import base64
import hashlib
import json
import re
import shutil
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from conftest import DATA
from helpers import ON_NET

from coverage import InputValidationError, plan_sites
from coverage.outputs.plandir import load_plan_dir, write_report
from coverage.outputs.report import (
    SECTIONS,
    criticality,
    latency_curves,
    site_loads,
    weighted_quantiles,
)

INJECTION = "<script>alert(1)</script>"


def file_info(path, rows):
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"path": str(path), "name": path.name, "rows": rows, "sha256": digest}


class Page(HTMLParser):
    """Collects section ids, data-key/data-value cells, images and link targets."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.sections, self.values, self.images, self.links, self.tags = [], {}, [], [], set()
        self.section = None
        self.images_by_section = {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "section":
            self.section = a.get("id")
            self.sections.append(self.section)
        if "data-key" in a:
            assert a["data-key"] not in self.values or \
                self.values[a["data-key"]] == json.loads(a["data-value"]), a["data-key"]
            self.values[a["data-key"]] = json.loads(a["data-value"])
        if tag == "img":
            self.images.append(a["src"])
            self.images_by_section.setdefault(self.section, []).append(a["src"])
        for attr in ("src", "href"):
            if attr in a:
                self.links.append(a[attr])


def lookup(d, dotted):
    for part in dotted.split("."):
        d = d[part]
    return d


@pytest.fixture(scope="module")
def plan_dir(sample_inputs, tmp_path_factory):
    demand, sites = sample_inputs
    inputs = {"demand": file_info(DATA / "west_demand.csv", len(demand)),
              "candidates": file_info(DATA / "west_candidates.csv", len(sites))}
    # 25 ms under the on-net model the sample data was designed for (gaps, proposals, and a
    # sweep from infeasible 20 ms to 100 ms)
    plan = plan_sites(demand, sites, budget_ms=25.0, kmedian_time_limit_s=5, inputs=inputs,
                      model=ON_NET)
    plan = plan.with_sweep((20, 30, 40, 50, 100), time_limit_s=10)
    out = tmp_path_factory.mktemp("report")
    plan.to_dir(out, map=False, gis=False)
    return out


@pytest.fixture(scope="module")
def page(plan_dir):
    return Page((plan_dir / "report.html").read_text(encoding="utf-8"))


def test_every_section_is_present_with_its_plots(page):
    assert page.sections == list(SECTIONS)
    for sid in ("sweep", "rollout", "latency", "sites", "criticality"):
        (img,) = page.images_by_section[sid]
        assert img.startswith("data:image/svg+xml;base64,")
        svg = base64.b64decode(img.split(",", 1)[1]).decode("utf-8")
        assert "<svg" in svg and "</svg>" in svg


def test_the_gaps_section_defines_a_gap_by_single_sites(plan_dir):
    """A plan without failure domains defines its gaps by candidates (a domain plan's by
    domains: tests/test_domains.py)."""
    text = " ".join((plan_dir / "report.html").read_text(encoding="utf-8").split())
    assert "fewer than 2 candidates lie within its budget" in text
    assert "failure domains (every status" not in text


def test_the_page_is_self_contained(plan_dir, page):
    text = (plan_dir / "report.html").read_text(encoding="utf-8")
    assert all(x.startswith(("data:", "#")) for x in page.links), page.links
    assert "script" not in page.tags and "<script" not in text.lower()
    assert "Content-Security-Policy" in text


def test_figures_equal_summary_json(plan_dir, page):
    s = json.loads((plan_dir / "summary.json").read_text())
    keys = [k for k in page.values if not k.startswith("sweep.")]
    for key in ("site_count", "lower_bound", "status", "mip_gap", "budget_ms", "percentile",
                "failures_tolerated", "population_total", "population_covered",
                "population_single_coverable", "population_uncoverable", "mean_latency_ms",
                "n1_worst_latency_ms", "n1_population_outside_budget", "version",
                "proposed.proposed_sites", "proposed.population_gap",
                "proposed.gap_points_still_short", "parameters.latency_model.route_factor",
                "parameters.latency_model.fiber_us_per_km", "parameters.latency_model.profile",
                "parameters.latency_model.overhead_ms", "parameters.latency_model.overhead_p99_ms",
                "parameters.access_default",
                "inputs.demand.rows", "inputs.demand.sha256", "inputs.demand.name",
                "inputs.candidates.sha256"):
        assert key in keys, key
    for key in keys:
        assert page.values[key] == lookup(s, key), key
    assert page.values["inputs.demand.rows"] == 458
    assert page.values["inputs.demand.sha256"] == hashlib.sha256(
        (DATA / "west_demand.csv").read_bytes()).hexdigest()
    assert page.values["proposed.proposed_sites"] > 0  # the 25 ms plan has gaps
    assert page.values["parameters.latency_model.profile"] == "on-net"
    # every model parameter is shown
    flat = [k for k in keys if k.startswith("parameters.")]
    assert len(flat) >= len(s["parameters"]) - 1 + len(s["parameters"]["latency_model"])


def test_sweep_figures_equal_sweep_csv(plan_dir, page):
    sweep = pd.read_csv(plan_dir / "sweep.csv")
    assert sorted(sweep["budget_ms"]) == [20, 25, 30, 40, 50, 100]
    for r in sweep.itertuples():
        key = f"sweep.{r.failures}.{r.budget_ms:g}"
        want = None if pd.isna(r.site_count) else int(r.site_count)
        assert page.values[f"{key}.site_count"] == want
    s = json.loads((plan_dir / "summary.json").read_text())
    own = sweep[sweep["budget_ms"] == s["budget_ms"]].iloc[0]
    assert own["source"] == "plan" and own["site_count"] == s["site_count"]


def test_rollout_section_shows_rollout_csv(plan_dir, page):
    ro = pd.read_csv(plan_dir / "rollout.csv", dtype={"site_id": str})
    s = json.loads((plan_dir / "summary.json").read_text())
    assert page.values["rollout.steps"] == len(ro) == s["site_count"]
    for q in ("50pct", "90pct", "100pct"):
        assert page.values[f"rollout.steps_to_covered.{q}"] == \
            s["rollout"]["steps_to_covered"][q]
    text = (plan_dir / "report.html").read_text(encoding="utf-8")
    seen = VisibleText(text).text
    i = seen.index("Rollout order: population against the sites opened")
    section = seen[i:seen.index("Latency distribution", i)]
    assert "price of a fixed order" in section
    # every step's site, in the order of rollout.csv, with its population
    at = [section.index(sid) for sid in ro["site_id"]]
    assert at == sorted(at)
    for v in ro["population_covered"]:
        assert f"{v:,.0f}" in section
    assert '<a href="#rollout">Rollout</a>' in text and "rollout.csv" in text


def test_report_regenerates_identically_from_the_directory(plan_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(plan_dir, copy)
    (copy / "report.html").unlink()
    path = write_report(copy)
    assert path.read_bytes() == (plan_dir / "report.html").read_bytes()


def test_write_report_takes_a_home_path_as_to_dir_does(plan_dir, tmp_path, monkeypatch):
    """Tester 121: ``to_dir("~/x")`` wrote under the home directory, and
    ``write_report("~/x")`` said "does not exist"; a non-path is refused by name."""
    from coverage.errors import InputValidationError

    monkeypatch.setenv("HOME", str(tmp_path))
    shutil.copytree(plan_dir, tmp_path / "x")
    (tmp_path / "x" / "report.html").unlink()
    assert write_report("~/x") == tmp_path / "x" / "report.html"
    assert load_plan_dir("~/x").summary["site_count"] >= 1
    with pytest.raises(InputValidationError, match="plan directory None is not a path"):
        write_report(None)


def test_assignment_read_back_in_chunks_is_the_whole_table(plan_dir, tmp_path,
                                                          monkeypatch):
    import coverage.outputs.plandir as plandir

    whole = pd.read_csv(plan_dir / "assignment.csv", keep_default_na=False, na_values=[""],
                        dtype={c: str for c in ("demand_id", "primary_site_id",
                                                "backup_site_id", "n1_site_id", "name",
                                                "coverage_status")})
    assert len(whole) > 40
    monkeypatch.setattr(plandir, "READ_CHUNK_ROWS", 7)  # several chunks, a short last one
    a = load_plan_dir(plan_dir).assignment
    assert len(a) == len(whole) and "latency_tail_ms" not in a.columns
    for col in a.columns:
        got, want = a[col], whole[col]
        if isinstance(got.dtype, pd.CategoricalDtype):
            assert got.isna().tolist() == want.isna().tolist(), col
            assert got.astype(object).where(got.notna(), None).tolist() == \
                want.astype(object).where(want.notna(), None).tolist(), col
        else:
            pd.testing.assert_series_equal(got, want, check_dtype=False, obj=col)
    copy = tmp_path / "copy"
    shutil.copytree(plan_dir, copy)
    (copy / "report.html").unlink()
    assert write_report(copy).read_bytes() == (plan_dir / "report.html").read_bytes()


def _assignment_variants(plan_dir, d):
    """The plan's assignment.csv and edge variants of it: header only, no optional
    columns, an id column empty in every row, quoted empty fields, a row whose text holds
    commas and quotes, whole numbers written with a fraction."""
    text = (plan_dir / "assignment.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    a = pd.read_csv(plan_dir / "assignment.csv", dtype=str, keep_default_na=False)
    files = {"plan": plan_dir / "assignment.csv"}
    files["header_only"] = d / "header_only.csv"
    files["header_only"].write_text(lines[0] + "\n", encoding="utf-8")
    b = a.drop(columns=[c for c in ("n1_site_id", "budget_ms", "name", "lat", "lon")
                        if c in a.columns])
    files["required_only"] = d / "required_only.csv"
    b.to_csv(files["required_only"], index=False)
    c = a.copy()
    c["backup_site_id"] = ""
    c["name"] = ['he said "x, y"\nover two lines' if i % 3 else "" for i in range(len(c))]
    c["population"] = c["population"].map(lambda v: f"{float(v):.1f}" if v else v)
    files["edited"] = d / "edited.csv"
    c.to_csv(files["edited"], index=False, quoting=1)  # every field quoted: "" is empty
    return files


def test_assignment_is_read_the_same_by_arrow_and_by_pandas(plan_dir, tmp_path,
                                                             monkeypatch):
    """The fast reader (Arrow) and the one that names bad rows (pandas) give equal tables,
    and the report built from either is the same file."""
    import pyarrow as pa

    import coverage.outputs.plandir as plandir

    for name, path in _assignment_variants(plan_dir, tmp_path).items():
        header = pd.read_csv(path, nrows=0).columns
        wanted = (set(plandir._REQUIRED_COLUMNS["assignment.csv"])
                  | set(plandir._REPORT_ASSIGNMENT_OPTIONAL))
        usecols = [c for c in header if c in wanted]
        fast = plandir._read_assignment_arrow(path, usecols)
        slow = plandir._read_assignment_pandas(path, usecols)
        pd.testing.assert_frame_equal(fast, slow, obj=name)
        assert plandir._read_assignment(path, header).equals(fast), name
    # values over two lines split by Arrow's block boundaries: Arrow says it lost the
    # rows, and pandas reads the file
    edited = tmp_path / "edited.csv"
    header = pd.read_csv(edited, nrows=0).columns
    usecols = [c for c in header if c in wanted]
    monkeypatch.setattr(plandir, "ARROW_BLOCK_BYTES", 256)
    with pytest.raises(pa.ArrowInvalid):
        plandir._read_assignment_arrow(edited, usecols)
    pd.testing.assert_frame_equal(plandir._read_assignment(edited, header),
                                  plandir._read_assignment_pandas(edited, usecols))
    copy = tmp_path / "copy"
    shutil.copytree(plan_dir, copy)
    (copy / "report.html").unlink()

    def refuse(*args, **kwargs):
        raise ValueError("Arrow reader switched off by the test")

    monkeypatch.setattr(plandir, "_read_assignment_arrow", refuse)
    assert write_report(copy).read_bytes() == (plan_dir / "report.html").read_bytes()


@pytest.mark.parametrize("text", ["fast", "nan", "NaN"])
def test_text_in_a_number_column_is_named_by_row_after_arrow_gives_up(plan_dir, tmp_path,
                                                                      text):
    """Arrow reads "nan" as a number; the report refuses it as pandas' reader does."""
    from coverage.outputs.plandir import _read_csv

    a = pd.read_csv(plan_dir / "assignment.csv", dtype=str, keep_default_na=False)
    a.loc[[3, 40], "primary_latency_ms"] = text
    path = tmp_path / "assignment.csv"
    a.to_csv(path, index=False)
    problems = []
    assert _read_csv(path, "assignment.csv", problems) is None
    # (data rows 4 and 41, as the README counts rows: it said the file's lines 5 and 42)
    assert problems == ["assignment.csv cannot be read as CSV (ValueError: column "
                        "primary_latency_ms is not a number on row(s) 4, 41 (counted from "
                        "the first data row))"]


def test_site_loads_break_ties_by_site_id_however_the_ids_are_stored():
    """Sites b and a each send 5 people to c: the peak names a (as text) whether the ids are
    text, categories in any order, or read back in chunks."""
    sites = pd.DataFrame({"site_id": ["a", "b", "c"], "name": ["a", "b", "c"],
                          "population_primary": [5.0, 5.0, 1.0],
                          "n_demand_primary": [1, 1, 1], "population_backup": [0.0, 0.0, 10.0]})
    a = pd.DataFrame({"primary_site_id": ["b", "a", "c"], "n1_site_id": ["c", "c", "a"],
                      "population": [5.0, 5.0, 1.0]})
    want = site_loads(sites, a)
    assert want.set_index("site_id").loc["c", "peak_failure_site_id"] == "a"
    for order in (["c", "b", "a"], ["b", "c", "a"]):
        cat = a.assign(**{c: pd.Categorical(a[c], categories=order)
                          for c in ("primary_site_id", "n1_site_id")})
        pd.testing.assert_frame_equal(site_loads(sites, cat), want)


def test_a_header_only_assignment_reads_as_an_empty_table(plan_dir, tmp_path):
    from coverage.outputs.plandir import _read_csv

    path = tmp_path / "assignment.csv"
    path.write_text((plan_dir / "assignment.csv").read_text(encoding="utf-8").splitlines()[0]
                    + "\n", encoding="utf-8")
    problems = []
    a = _read_csv(path, "assignment.csv", problems)
    assert problems == [] and len(a) == 0
    assert a["population"].dtype == np.float64


def test_older_directories_without_n1_site_id_still_build(plan_dir, tmp_path):
    copy = tmp_path / "old"
    shutil.copytree(plan_dir, copy)
    a = pd.read_csv(copy / "assignment.csv")
    a.drop(columns="n1_site_id").to_csv(copy / "assignment.csv", index=False)
    text = write_report(copy).read_text(encoding="utf-8")
    assert Page(text).sections == list(SECTIONS)


def _edit_summary(d, **values):
    s = json.loads((d / "summary.json").read_text())
    s.update(values)
    (d / "summary.json").write_text(json.dumps(s))


def _cut_assignment(d):
    lines = (d / "assignment.csv").read_text().splitlines()
    (d / "assignment.csv").write_text("\n".join(lines[:11]) + "\n")


def _edit_assignment(d, row, column, value):
    a = pd.read_csv(d / "assignment.csv", dtype=str, keep_default_na=False)
    a.loc[row, column] = str(value)
    a.to_csv(d / "assignment.csv", index=False)


def _append(path, text):
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)


def _edit_sweep(d, row, col, value):
    t = pd.read_csv(d / "sweep.csv", dtype=str, keep_default_na=False)
    t.loc[row, col] = value
    t.to_csv(d / "sweep.csv", index=False)


@pytest.mark.parametrize("damage,phrase", [
    (lambda d: (d / "sweep.csv").unlink(), "missing sweep.csv"),
    (lambda d: (d / "summary.json").write_text("{not json"), "summary.json is not valid JSON"),
    (lambda d: (d / "summary.json").write_text("{}"), "summary.json lacks site_count"),
    (lambda d: (d / "failures.csv").write_text("a,b\n1,2\n"), "failures.csv lacks column"),
    (lambda d: (d / "assignment.csv").write_text(""), "assignment.csv is empty"),
    (lambda d: (d / "assignment.csv").write_text("demand_id,population\n1,2\n"),
     "assignment.csv lacks column(s) primary_site_id"),
    (lambda d: _append(d / "assignment.csv", "a,b,c\n" * 2),
     "assignment.csv cannot be read as CSV (ValueError: column population is not a number "
     "on row(s)"),
    (lambda d: [p.unlink() for p in d.iterdir()], "missing summary.json, sites.csv"),
    (lambda d: (d / "rollout.csv").unlink(),
     "missing rollout.csv (summary.json describes a rollout order)"),
    (lambda d: (d / "rollout.csv").write_text("step,site_id\n1,a\n"),
     "rollout.csv lacks column(s) population_covered"),
    # re-saved by a spreadsheet with ';' (tester 104: "lacks column(s) site_id, ...")
    (lambda d: pd.read_csv(d / "sites.csv").to_csv(d / "sites.csv", index=False, sep=";",
                                                   decimal=","),
     "sites.csv is separated by ';', not commas (re-saved by a spreadsheet?)"),
    (lambda d: pd.read_csv(d / "assignment.csv").to_csv(d / "assignment.csv", index=False,
                                                        sep="\t"),
     "assignment.csv is separated by tabs, not commas"),
    # edited or cut files (found by a hostile-input test: internal errors or wrong pages)
    (lambda d: _edit_summary(d, site_count="abc"), "site_count is not a number ('abc')"),
    (lambda d: _edit_summary(d, budget_ms="fast"), "budget_ms is not a number"),
    (lambda d: _edit_summary(d, budget_ms=-5), "budget_ms -5 is not a positive number"),
    (lambda d: _edit_summary(d, percentile="p77"), "percentile 'p77' is neither p50 nor p99"),
    (lambda d: _edit_summary(d, proposed=7), "proposed is not an object (int)"),
    (lambda d: _edit_summary(d, timings_s="t"), "timings_s is not an object (str)"),
    (lambda d: _edit_summary(d, failures_tolerated=1.5), "failures_tolerated 1.5 is not a whole"),
    (lambda d: _cut_assignment(d), "assignment.csv has 10 rows, summary.json's n_demand is"),
    (lambda d: _edit_assignment(d, 3, "population", -1e30),
     "assignment.csv: population below 0 or not finite (row 4)"),
    (lambda d: _edit_assignment(d, 0, "primary_latency_ms", "inf"),
     "assignment.csv: primary_latency_ms infinite or below 0 (row 1)"),
    (lambda d: _edit_assignment(d, 1, "coverage_status", "weird"),
     "coverage_status 'weird' not one of redundant, partial, single, uncoverable (row 2)"),
    (lambda d: _edit_assignment(d, 2, "primary_site_id", "nowhere"),
     "primary_site_id not in sites.csv (row 3)"),
    (lambda d: _edit_sweep(d, 1, "site_count", "zzz"),
     "sweep.csv: site_count not a number (row 2)"),
    (lambda d: _edit_sweep(d, 0, "budget_ms", ""), "sweep.csv: budget_ms not a number (row 1)"),
    (lambda d: _edit_sweep(d, 2, "radius_km", "inf"), "sweep.csv: radius_km not a number (row 3)"),
])
def test_damaged_directory_gets_one_clear_error(plan_dir, tmp_path, damage, phrase):
    copy = tmp_path / "copy"
    shutil.copytree(plan_dir, copy)
    damage(copy)
    with pytest.raises(InputValidationError, match=re.escape(phrase)) as err:
        write_report(copy)
    assert str(copy) in str(err.value) and "edge-coverage plan" in str(err.value)


def test_directories_from_before_the_rollout_order_still_build(plan_dir, tmp_path):
    copy = tmp_path / "old"
    shutil.copytree(plan_dir, copy)
    (copy / "rollout.csv").unlink()
    s = json.loads((copy / "summary.json").read_text())
    del s["rollout"]
    (copy / "summary.json").write_text(json.dumps(s))
    text = write_report(copy).read_text(encoding="utf-8")
    page = Page(text)
    assert page.sections == list(SECTIONS)
    assert "rollout" not in page.images_by_section
    assert "this plan directory has no rollout.csv" in VisibleText(text).text


def test_missing_directory_or_a_file(tmp_path):
    with pytest.raises(InputValidationError, match="does not exist"):
        load_plan_dir(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputValidationError, match="is a file, not a directory"):
        write_report(tmp_path / "file")


def test_names_are_escaped_not_executed(sample_inputs, tmp_path):
    demand, sites = sample_inputs
    sites = sites.assign(name=INJECTION)
    sites.loc[sites.index[:20], "site_id"] = [f"{INJECTION}{i}" for i in range(20)]
    sites.loc[sites.index[20:], "name"] = "Cost $5 and $\\frac{"  # would break mathtext
    demand = demand.assign(name=INJECTION + "&amp;")
    plan = plan_sites(demand, sites, budget_ms=25.0, kmedian_time_limit_s=5, model=ON_NET)
    plan.with_sweep((30, 50), time_limit_s=5).to_dir(tmp_path, map=False, gis=False)
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;" in text  # gap points' names
    for src in Page(text).images:
        svg = base64.b64decode(src.split(",", 1)[1]).decode("utf-8")
        assert "<script" not in svg.lower()


# ---------------------------------------------------------------- analysis helpers


def test_weighted_quantiles_match_repeated_samples():
    rng = np.random.default_rng(5)
    v = rng.uniform(0, 50, 300)
    w = rng.integers(0, 20, 300)
    q = np.array([0.01, 0.25, 0.5, 0.9, 0.99, 1.0])
    want = np.quantile(np.repeat(v, w), q, method="inverted_cdf")
    np.testing.assert_allclose(weighted_quantiles(v, w, q), want)


def test_site_loads_against_a_naive_loop(plan_dir):
    data = load_plan_dir(plan_dir)
    loads = site_loads(data.sites, data.assignment).set_index("site_id")
    a = data.assignment
    for sid in data.sites["site_id"]:
        normal = a.loc[a["primary_site_id"] == sid, "population"].sum()
        extra = 0.0
        for failed in data.sites["site_id"]:
            moved = a[(a["primary_site_id"] == failed) & (a["n1_site_id"] == sid)]
            extra = max(extra, moved["population"].sum())
        assert loads.loc[sid, "population_primary"] == pytest.approx(normal)
        assert loads.loc[sid, "peak_load"] == pytest.approx(normal + extra)
        if normal + extra > 0:
            assert loads.loc[sid, "utilisation"] == pytest.approx(normal / (normal + extra))
    assert (loads["peak_load"].diff().dropna() <= 0).all()


def test_criticality_ranks_the_worst_failure_first(plan_dir):
    data = load_plan_dir(plan_dir)
    crit = criticality(data.failures, data.sites)
    assert crit["rank"].tolist() == list(range(1, len(data.failures) + 1))
    worst = data.failures["population_outside_budget"].max()
    assert crit["population_outside_budget"].iloc[0] == worst
    key = list(zip(-crit["population_outside_budget"], -crit["population_rerouted"],
                   strict=True))
    assert key == sorted(key)


def test_latency_curves_under_failure(plan_dir):
    data = load_plan_dir(plan_dir)
    curves = latency_curves(data.assignment, "p99")
    assert list(curves) == ["normal, p50", "normal, p99", "worst single failure, p50",
                            "worst single failure, p99"]
    a = data.assignment
    served = a["primary_latency_ms"].notna()
    assert curves["normal, p99"]["population"].sum() == pytest.approx(
        a.loc[served, "population"].sum())
    # failure never makes anyone faster, and p50 stays below p99
    nf = curves["worst single failure, p99"]["latency_ms"].to_numpy()
    assert nf.min() >= curves["normal, p99"]["latency_ms"].min()
    assert (curves["worst single failure, p50"]["latency_ms"].to_numpy() <= nf + 1e-9).all()


def test_assignment_as_parquet_replaces_the_csv(sample_inputs, tmp_path):
    from coverage import plan_sites

    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=30, kmedian_time_limit_s=10)
    out = plan.to_dir(tmp_path / "p", map=False, report=False, gis=False)
    assert (out / "assignment.csv").exists()
    plan.to_dir(out, map=False, report=False, gis=False, assignment_format="parquet")
    assert not (out / "assignment.csv").exists()  # no stale table of another write
    back = pd.read_parquet(out / "assignment.parquet")
    # the site ids and statuses as text on disk (categoricals in memory)
    from coverage.outputs.plandir import as_text_columns

    pd.testing.assert_frame_equal(back, as_text_columns(plan.assignment).reset_index(
        drop=True), check_dtype=False)
    with pytest.raises(ValueError, match="assignment.csv"):
        plan.to_dir(out, assignment_format="parquet")
    with pytest.raises(ValueError, match="csv' or 'parquet"):
        plan.to_dir(out, report=False, assignment_format="xlsx")


class VisibleText(HTMLParser):
    """The text a reader sees (no tags, attributes or data: URIs)."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.feed(text)

    def handle_data(self, data):
        self.parts.append(data)

    @property
    def text(self):
        return " ".join(self.parts)


def _report_of(plan, summary=None):
    from coverage.outputs.report import ReportData, render_report

    sweep = plan.with_sweep((30, 50), time_limit_s=5).sweep
    return render_report(ReportData(
        summary=summary if summary is not None else plan.summary(), sites=plan.sites,
        assignment=plan.assignment, failures=plan.failures, proposed=plan.proposed,
        sweep=sweep))


@pytest.fixture(scope="module")
def cost_plan_k3(sample_inputs):
    demand, sites = sample_inputs
    sites = sites.assign(cost=np.linspace(1e4, 9e4, len(sites)).round())
    return plan_sites(demand, sites, budget_ms=30.0, failures=3, kmedian_time_limit_s=2)


def test_report_labels_cost_bounds_and_the_k_statuses(cost_plan_k3):
    plan = cost_plan_k3
    s = plan.summary()
    assert s["objective"] == "cost"
    cost = plan.candidates.loc[plan.candidates["chosen"], "cost"].sum()
    assert s["objective_value"] == pytest.approx(cost)
    html_text = _report_of(plan)
    page = Page(html_text)
    seen = VisibleText(html_text).text
    assert "proven lower bound on the total cost" in seen
    assert "lower bound on the cost" in seen and "MIP gap (of the total cost)" in seen
    assert page.values["objective_value"] == pytest.approx(cost)
    # statuses for k = 3: partial appears, explained for this k
    assert "partial: 2-3 sites in budget, short of 4" in seen
    assert "Demand that no choice of candidates makes N-3 safe" in seen
    for key, v in s["coverage_by_k"].items():
        assert page.values[f"coverage_by_k.{key}.population"] == pytest.approx(v["population"])
        assert page.values[f"coverage_by_k.{key}.n_demand"] == v["n_demand"]
    assert list(s["coverage_by_k"]) == ["0", "1", "2", "3", ">=4"]


def test_report_shows_n_a_not_nan(cost_plan_k3):
    s = dict(cost_plan_k3.summary())
    s.update(mean_latency_ms=float("nan"), n1_worst_latency_ms=None,
             mip_gap=float("inf"), max_radius_km=float("-inf"))
    seen = VisibleText(_report_of(cost_plan_k3, s)).text
    assert not re.search(r"\b(nan|NaN|None|inf|-inf)\b|∞", seen), \
        re.findall(r".{40}\b(?:nan|NaN|None|inf)\b.{20}", seen)
    assert "n/a (nobody is served)" in seen
    assert "n/a (no user has a surviving site)" in seen


def test_report_states_the_aggregation_loss(sample_inputs):
    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=25.0, aggregate_km=80.0, kmedian_time_limit_s=2,
                      model=ON_NET)
    agg = plan.summary()["aggregation"]
    assert agg["n_demand_short"] == agg["cells_short"] > 0
    seen = VisibleText(_report_of(plan)).text
    assert f"On the {agg['demand_points_in']:,} original points, {agg['cells_short']:,}" in seen
    assert f"{agg['population_short_share']:.2%}" in seen


def test_a_k0_report_does_not_state_a_single_covered_population(tmp_path):
    """With k = 0 every covered point is "redundant", so ``population_single_coverable`` is
    0 by construction; the report showed it as "population with only one candidate in
    budget (not a gap with k = 0) | 0" while 142 points of the Czech plan have one
    candidate. The row is left out at k = 0 (and kept at k = 1, test above)."""
    from coverage.inputs.geonames import geonames_candidates, geonames_demand

    plan = plan_sites(geonames_demand("CZ"), geonames_candidates("CZ"), budget_ms=30,
                      failures=0)
    assert (plan.assignment["n_covering_sites"] == 1).any()  # the premise
    out = plan.to_dir(tmp_path / "cz", map=False, gis=False)
    text = (out / "report.html").read_text(encoding="utf-8")
    assert 'data-key="population_single_coverable"' not in text
    assert "only one candidate in budget" not in text
    assert 'data-key="population_uncoverable"' in text


def test_a_skipped_outputs_reason_names_the_plan_directory_not_its_staging(
        sample_inputs, tmp_path, caplog):
    """Tester 106: a report that failed while the plan was written named the staging
    directory (".NAME.edge-coverage-tmp-..."), gone once the plan is swapped in. The reason
    names the directory the user asked for. (A table replaced through the API makes the
    report fail; the command line now refuses the sweep budget that did it.)"""
    import dataclasses
    import logging

    from coverage.outputs.plandir import write_plan

    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=25.0, kmedian_time_limit_s=5, model=ON_NET)
    plan = plan.with_sweep((30, 40), time_limit_s=10)
    sweep = plan.sweep.copy()
    sweep.loc[0, "budget_ms"] = 2e6
    out = tmp_path / "plan"
    with caplog.at_level(logging.WARNING, logger="coverage"):
        result = write_plan(dataclasses.replace(plan, sweep=sweep), out, map=False, gis=False)
    # the report fails; the sweep it could not show is kept (tester 179)
    assert set(result.skipped) == {"report.html"} and (out / "sweep.csv").exists()
    for reason in result.skipped.values():
        assert "edge-coverage-tmp" not in reason and str(out) in reason, reason
    assert "edge-coverage-tmp" not in caplog.text
    assert (out / "summary.json").exists() and not (out / "report.html").exists()


def test_sweep_budgets_are_shown_as_given_and_the_footer_lists_what_is_written(
        sample_inputs, tmp_path):
    """Tester 108: the sweep table rounded 31.5 ms to "32" beside a 32 ms row, and the
    footer always named plan.gpkg, demand.parquet and sites.parquet (also after --no-gis),
    never flows.csv or sites.geojson."""
    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=31.5, kmedian_time_limit_s=5, model=ON_NET)
    plan = plan.with_sweep((32, 39.99), time_limit_s=10)
    out = plan.to_dir(tmp_path / "plan", map=False, gis=False)
    html = (out / "report.html").read_text(encoding="utf-8")
    table = html[html.index('id="sweep-table"'):]
    table = table[:table.index("</table>")]
    cells = re.findall(r'<tr><td class="n">([^<]*)</td>', table)
    assert cells == ["31.5", "32", "39.99"], cells
    footer = html[html.index("<footer>"):]
    assert "sites.geojson" in footer and "no GIS layers (--no-gis" in footer
    assert "plan.gpkg" not in footer and "demand.parquet" not in footer


def test_the_report_names_only_the_gis_files_written(sample_inputs, tmp_path, monkeypatch):
    """Tester 111: with plan.gpkg not written (a file size limit: exit 5) the report still
    said "(all in assignment.csv and plan.gpkg)". It names only the files written, when
    the plan writes it and when `edge-coverage report` rebuilds it."""
    import coverage.outputs.gis as gis

    demand, sites = sample_inputs
    plan = plan_sites(demand, sites.iloc[:20], budget_ms=25.0, kmedian_time_limit_s=5,
                      model=ON_NET).with_sweep((25,), time_limit_s=5)
    assert len(plan.gaps)

    def full(*args, **kwargs):
        raise OSError(27, "File too large")

    monkeypatch.setattr(gis, "write_gpkg", full)
    with pytest.warns(UserWarning, match="skipped plan.gpkg"):
        out = plan.to_dir(tmp_path / "plan", map=False)
    assert not (out / "plan.gpkg").exists() and (out / "demand.parquet").exists()
    for html in ((out / "report.html").read_text(encoding="utf-8"),
                 write_report(out).read_text(encoding="utf-8")):
        assert "gap points (all in assignment.csv)" in html
        footer = html[html.index("<footer>"):]
        assert "GIS layers: demand.parquet, sites.parquet." in footer
        assert "plan.gpkg" not in footer
    monkeypatch.undo()
    out = plan.to_dir(tmp_path / "whole", map=False)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "gap points (all in assignment.csv and plan.gpkg)" in html
    assert "GIS layers: plan.gpkg, demand.parquet, sites.parquet." in html
