"""`edge-coverage report DIR` on hand-edited plan directories: one message naming the file,
the key or rows and the fix, exit 2, never an internal error, a RuntimeWarning or a page
printing an edited cell as it is.

One small capacitated comparison (compare.json, capacity_scenarios.csv, rollout.csv) is
planned once; each test edits a copy of it.
"""

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest

import coverage
from coverage import cli
from coverage.outputs.outdir import LEGACY_PLAN_FILES, MARKER, check_output_dir, read_marker
from coverage.outputs.report import criticality

OLD_ADVICE = "new or empty directory"


@pytest.fixture(scope="session")
def plan_dir(tmp_path_factory):
    """A complete plan directory of a small capacitated comparison (40 points, 12
    candidates, regions far away): every optional table the report reads is there."""
    rng = np.random.default_rng(0)
    n = 40
    demand = pd.DataFrame({"lat": 50.0 + rng.uniform(-1, 1, n),
                           "lon": 10.0 + rng.uniform(-1, 1, n),
                           "population": rng.integers(10_000, 200_000, n).astype(float)})
    pick = rng.choice(n, size=12, replace=False)
    sites = pd.DataFrame({"site_id": [f"s{i}" for i in range(len(pick))],
                          "lat": demand["lat"].to_numpy()[pick],
                          "lon": demand["lon"].to_numpy()[pick], "tier": "metro-colo"})
    regions = pd.DataFrame({"region_id": ["r0", "r1"], "lat": [-40.0, -41.0],
                            "lon": [170.0, 171.0], "provider": "test"})
    c = coverage.compare(demand, sites, regions=regions, budget_ms=30.0, time_limit_s=60.0,
                         kmedian_time_limit_s=10.0)
    out = tmp_path_factory.mktemp("hand-edited") / "plan"
    c.to_dir(out, map=False, gis=False,
             sweep_options={"budgets_ms": (30,), "time_limit_s": 5})
    for name in ("compare.json", "rollout.csv", "capacity_scenarios.csv", "report.html"):
        assert (out / name).is_file(), name
    return out


@pytest.fixture
def copy(plan_dir, tmp_path):
    d = tmp_path / "copy"
    shutil.copytree(plan_dir, d)
    return d


def report(d, capsys):
    """``edge-coverage report d`` in this process: (exit code, stderr)."""
    capsys.readouterr()
    code = cli.main(["report", str(d)])
    return code, capsys.readouterr().err


def edit_json(d, name, edit):
    doc = json.loads((d / name).read_text())
    edit(doc)
    (d / name).write_text(json.dumps(doc))


def edit_csv(d, name, edit):
    t = pd.read_csv(d / name, dtype=str, keep_default_na=False)
    edit(t).to_csv(d / name, index=False)


def cell(name, row, column, value):
    def edit(d):
        def put(t):
            t.loc[row, column] = value
            return t
        edit_csv(d, name, put)
    return edit


def cut_last_row(d):
    """The last row of assignment.csv cut after its 7th field (n_covering_sites), as a
    copy interrupted mid-file leaves it."""
    text = (d / "assignment.csv").read_text().rstrip("\n")
    head, _, last = text.rpartition("\n")
    (d / "assignment.csv").write_text(head + "\n" + ",".join(last.split(",")[:7]) + "\n")


def summary(**edits):
    return lambda d: edit_json(d, "summary.json", lambda s: s.update(edits))


def rollout_info(**edits):
    return lambda d: edit_json(d, "summary.json", lambda s: s["rollout"].update(edits))


def comparison(edit):
    return lambda d: edit_json(d, "compare.json", edit)


@pytest.mark.parametrize("damage,phrase", [
    # internal errors (exit 1) before
    (rollout_info(steps="4"), "summary.json: rollout.steps is not a number ('4')"),
    (rollout_info(failures="x"), "summary.json: rollout.failures is not a whole number"),
    (lambda d: edit_json(d, "summary.json", lambda s: s["coverage_by_k"].update({"1": "x"})),
     "summary.json: coverage_by_k['1'] is not an object ('x')"),
    (lambda d: edit_csv(d, "sites.csv", lambda t: pd.concat([t, t.iloc[[1]]])),
     "' on more than one row (rows 2, 5)"),  # (the second site's id, whichever it is)
    (cell("sites.csv", 1, "population_primary", "lots"),
     "sites.csv: population_primary not a number (row 2)"),
    (cell("rollout.csv", 1, "population_covered", "lots"),
     "rollout.csv: population_covered not a number (row 2)"),
    (comparison(lambda c: c.update(edge=1)), "compare.json: edge is not an object (1)"),
    (comparison(lambda c: c["region"]["coverage"].update(share_within_budget="most")),
     "compare.json: region.coverage.share_within_budget is not a number ('most')"),
    (comparison(lambda c: c.update(warnings=["w"])),
     "compare.json: warnings is not a list of objects"),
    # accepted before
    (cut_last_row, "assignment.csv: coverage_status empty, a row cut short or edited (row 40)"),
    (lambda d: edit_json(d, "summary.json", lambda s: s.pop("n_demand")),
     "summary.json lacks n_demand (the number of demand points"),
    (lambda d: edit_csv(d, "sites.csv", lambda t: pd.concat([t, t.iloc[[0]].assign(
        site_id="extra")])), "sites.csv has 5 rows, summary.json's site_count is 4"),
    (lambda d: edit_csv(d, "failures.csv", lambda t: t.iloc[1:]),
     "failures.csv has 3 rows, summary.json's site_count is 4"),
    (lambda d: edit_csv(d, "rollout.csv", lambda t: t.iloc[:-1]),
     "rollout.csv has 3 rows, summary.json's rollout.steps is 4"),
    (cell("failures.csv", 0, "failed_site_id", "nowhere"),
     "failures.csv: failed_site_id not in sites.csv (row 1)"),
    (cell("rollout.csv", 2, "site_id", "nowhere"),
     "rollout.csv: site_id not in sites.csv (row 3)"),
    (cell("failures.csv", 2, "worst_latency_ms", "slow"),
     "failures.csv: worst_latency_ms not a number (row 3)"),
    (cell("sites.csv", 0, "lat", "north"), "sites.csv: lat not a number (row 1)"),
    (cell("capacity_scenarios.csv", 1, "shed_rps", "none"),
     "capacity_scenarios.csv: shed_rps not a number (row 2)"),
    # internal errors (exit 1) before: a blank cell in a true/false column made it a
    # column of booleans and None, which the CSV unescaping took as text (tester 121)
    (lambda d: (d / "sites.csv").write_text((d / "sites.csv").read_text() + "extra,50,10"
                                            + "," * ((d / "sites.csv").read_text().split(
                                                "\n")[0].count(",") - 2) + "\n"),
     "sites.csv has 5 rows, summary.json's site_count is 4"),
    (lambda d: (d / "sites.csv").write_text((d / "sites.csv").read_text() + "# a note\n"),
     "sites.csv has 5 rows, summary.json's site_count is 4"),
    # RuntimeWarnings and exit 0 before, or a wrong reason
    (summary(population_total=1e308), "population_total 1e+308 is above 1e+12 people"),
    (summary(budget_ms=1e308), "budget_ms 1e+308 is not a positive number of ms at most 1e+06"),
    (summary(population_total=float("nan")), "population_total nan is not a finite number"),
    (cell("assignment.csv", 0, "population", "1e308"),
     "assignment.csv: population above 1e+10 people at one point (row 1)"),
])
def test_an_edited_table_gets_one_message_and_exit_2(copy, capsys, damage, phrase):
    damage(copy)
    before = {p.name: p.read_bytes() for p in copy.iterdir()}
    code, err = report(copy, capsys)
    assert code == 2, err
    assert err.startswith(f"edge-coverage: error: plan directory {copy} is incomplete or "
                          "damaged: ")
    assert phrase in err, err
    assert err.count("\n") == 1 and "internal error" not in err
    assert "edge-coverage: warning" not in err
    assert "is negative" not in err and "Fix: " in err and "edge-coverage plan" in err
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == before  # nothing rewritten


def test_every_problem_is_in_the_one_message(copy, capsys):
    summary(budget_ms=1e308)(copy)
    cell("sites.csv", 1, "population_primary", "lots")(copy)
    cell("failures.csv", 0, "failed_site_id", "nowhere")(copy)
    cut_last_row(copy)
    code, err = report(copy, capsys)
    assert code == 2 and err.count("\n") == 1
    for phrase in ("summary.json: budget_ms 1e+308",
                   "sites.csv: population_primary not a number (row 2)",
                   "failures.csv: failed_site_id not in sites.csv (row 1)",
                   "assignment.csv: coverage_status empty"):
        assert phrase in err, err


def test_criticality_takes_the_first_row_of_a_site_listed_twice(copy):
    sites = pd.read_csv(copy / "sites.csv", dtype={"site_id": str})
    failures = pd.read_csv(copy / "failures.csv", dtype={"failed_site_id": str})
    twice = pd.concat([sites, sites.iloc[[0]].assign(name="other")], ignore_index=True)
    crit = criticality(failures, twice)
    assert len(crit) == len(failures)
    assert crit.set_index("failed_site_id").loc[sites["site_id"][0], "name"] == \
        sites["name"][0]


def _legacy(d):
    """``d`` as a plan directory from before the marker: only the old output names."""
    (d / MARKER).unlink()
    for p in d.iterdir():
        if p.name not in LEGACY_PLAN_FILES:
            p.unlink()
    edit_json(d, "summary.json", lambda s: s.update(rollout=None, capacity=None))


def test_a_plan_directory_without_the_marker_is_refused_up_front(copy, capsys):
    """A folder of a plan's file names without the marker is the user's copies (a
    tester's: summary.json, sites.csv with a note, report.html copied by hand): it was
    adopted as a plan directory from before the marker and its files replaced. Refused
    now, with or without a symbolic link in it, and left as it was."""
    _legacy(copy)
    for link in (False, True):
        outside = copy.parent / "sites-elsewhere.csv"
        if link:
            shutil.move(copy / "sites.csv", outside)
            os.symlink(outside, copy / "sites.csv")
        chk = check_output_dir(copy)
        assert chk.problems and MARKER in chk.problems[0]
        before = {p.name: p.read_bytes() for p in copy.iterdir()}
        code, err = report(copy, capsys)
        assert code == 2, err
        assert "is not a plan directory written by `edge-coverage plan`" in err
        assert {p.name: p.read_bytes() for p in copy.iterdir()} == before
        assert read_marker(copy) is None


def test_a_directory_that_is_not_a_plan_directory_says_so(tmp_path, capsys, monkeypatch):
    (tmp_path / "notes.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    code, err = report(".", capsys)
    assert code == 2
    assert "plan directory . is not a plan directory written by `edge-coverage plan`" in err
    assert "missing summary.json" in err and OLD_ADVICE not in err
    assert "are not written with --no-report" not in err  # nor a plan without its report


def test_report_in_the_plan_directory_itself_says_to_run_it_from_outside(
        plan_dir, copy, capsys, monkeypatch):
    monkeypatch.chdir(copy)
    code, err = report(".", capsys)
    assert code == 2
    assert "plan directory . is the current directory" in err and OLD_ADVICE not in err
    assert f"cd {copy.parent} && edge-coverage report copy" in err
    monkeypatch.chdir(copy.parent)  # as advised: the same page as the plan's own
    code, err = report("copy", capsys)
    assert code == 0, err
    assert (copy / "report.html").read_bytes() == (plan_dir / "report.html").read_bytes()


def test_a_plan_directory_without_its_marker_names_the_missing_file(copy, capsys):
    (copy / MARKER).unlink()
    (copy / "notes.txt").write_text("mine")
    code, err = report(copy, capsys)
    assert code == 2
    assert "is not a plan directory written by `edge-coverage plan`" in err
    assert f"it has no {MARKER}" in err and "notes.txt" in err and OLD_ADVICE not in err
    assert "rollout.csv" not in err  # the plan writes it: not named as foreign


def test_odd_entries_a_list_summary_a_damaged_marker_and_an_empty_path_are_named(
        plan_dir, copy, capsys, tmp_path, monkeypatch):
    """Tester 148: a FIFO at proposed_sites.csv was "missing", a summary.json holding
    [1, 2] "not valid JSON", a damaged marker "has no .edge-coverage.json ... and it holds
    .edge-coverage.json", and `report ""` rebuilt the current directory's plan."""
    (copy / "proposed_sites.csv").unlink()
    os.mkfifo(copy / "proposed_sites.csv")
    code, err = report(copy, capsys)  # (never reads the FIFO: that would block)
    assert code == 2 and "proposed_sites.csv is a named pipe (FIFO), not a regular file" in err
    assert "missing" not in err
    (copy / "proposed_sites.csv").unlink()
    shutil.copy(copy / "sites.csv", copy / "proposed_sites.csv")  # (any table: read later)
    (copy / "summary.json").write_text("[1, 2]")
    code, err = report(copy, capsys)
    assert code == 2 and "summary.json is JSON but not an object (it holds a list)" in err
    shutil.copy(plan_dir / "summary.json", copy / "summary.json")
    shutil.copy(plan_dir / "proposed_sites.csv", copy / "proposed_sites.csv")
    (copy / MARKER).write_text("{")
    code, err = report(copy, capsys)
    assert code == 2 and f"its {MARKER} (the file marking a directory the tool wrote) is " \
        "not one the tool wrote" in err and "has no" not in err
    monkeypatch.chdir(tmp_path)
    code, err = report("", capsys)
    assert code == 2 and "plan directory '' is empty or blank" in err
    code, err = report("  ", capsys)
    assert code == 2 and "plan directory '  ' is empty or blank" in err
