"""Output directories: only the tool's own, swapped in whole, one writer, nothing lost.

Each test here reproduces a defect of the hostile-input review (issue 10): a user's files
overwritten or deleted through ``--out``, a finished plan thrown away by a failing optional
output or a write error, a directory left mixing two plans by a kill during the commit,
leftovers of killed runs, concurrent writers, and batch options checked only inside tasks.
"""

import hashlib
import json
import os
import resource
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from conftest import DATA
from helpers import EXE, run

from coverage import cli
from coverage.errors import InputValidationError, OutputWriteError
from coverage.outputs.outdir import (
    MARKER,
    OutputDir,
    _mountinfo_path,
    busy_problems,
    check_output_dir,
    is_mount_point,
    read_marker,
    swap_dir,
)

PLAN_ARGS = ["plan", "--demand", str(DATA / "west_demand.csv"), "--candidates",
             str(DATA / "west_candidates.csv"), "--no-gis", "--sweep-budgets-ms", "30,50",
             "--kmedian-time-limit-s", "5", "-q"]



def snapshot(directory: Path) -> dict[str, str]:
    """Every file below ``directory`` with its SHA-256 (hidden ones too)."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture()
def inputs_dir(tmp_path):
    d = tmp_path / "inputs"
    d.mkdir()
    for name in ("west_demand.csv", "west_candidates.csv"):
        (d / name).write_bytes((DATA / name).read_bytes())
    (d / "sites.csv").write_bytes((DATA / "west_candidates.csv").read_bytes())
    (d / "report.html").write_text("<p>the user's own report</p>")
    return d


# --------------------------------------------------------------------------- the checks


def test_check_accepts_absent_empty_and_own_directories(tmp_path):
    assert check_output_dir(tmp_path / "new").state == "absent"
    assert check_output_dir(tmp_path / "a" / "b" / "c").state == "absent"
    (tmp_path / "empty").mkdir()
    assert check_output_dir(tmp_path / "empty").state == "empty"
    own = tmp_path / "own"
    own.mkdir()
    (own / "summary.json").write_text("{}")
    (own / MARKER).write_text(json.dumps({"tool": "edge-coverage", "kind": "plan",
                                          "files": ["summary.json", "map.html"]}))
    chk = check_output_dir(own)
    assert chk.state == "ours" and not chk.problems
    assert check_output_dir(own, "batch").problems  # a plan directory is not a batch's


@pytest.mark.parametrize("make,expect", [
    (lambda t: "", "is empty"),
    (lambda t: "   ", "is empty"),
    (lambda t: (t / "f.txt").write_text("x") and t / "f.txt", "is a file"),
    (lambda t: (t / "f.txt").write_text("x") and t / "f.txt" / "sub", "which is a file"),
    (lambda t: os.symlink(t / "nowhere", t / "link") or t / "link", "does not exist"),
    (lambda t: os.symlink(t / "nowhere", t / "link") or t / "link" / "sub",
     "dangling symbolic link"),
    (lambda t: (t / "d").mkdir() or (t / "d" / "notes.txt").write_text("x") and t / "d",
     "not written by edge-coverage"),
])
def test_check_refuses_what_is_not_the_tools(tmp_path, make, expect):
    chk = check_output_dir(make(tmp_path))
    assert chk.problems and expect in chk.problems[0], chk.problems


def test_check_refuses_the_working_directory_and_its_parents(tmp_path, monkeypatch):
    (tmp_path / "w").mkdir()
    monkeypatch.chdir(tmp_path / "w")
    for target in (".", "..", str(tmp_path)):
        chk = check_output_dir(target)
        assert chk.problems and "current directory" in chk.problems[0]


@pytest.mark.parametrize("kind", ["plan", "batch"])
def test_check_refuses_a_new_directory_inside_one_of_the_tools(tmp_path, kind):
    """``--out prev/sub`` inside a plan or batch directory would be a directory the tool does
    not own there: the next run on ``prev`` refused it as the user's (or a swap took it)."""
    own = tmp_path / "own"
    own.mkdir()
    (own / MARKER).write_text(json.dumps({"tool": "edge-coverage", "kind": kind,
                                          "files": [], "dirs": ["scenarios"]}))
    (own / "scenarios").mkdir()
    for target in (own / "sub", own / "scenarios" / "new", own / "a" / "b"):
        for k in ("plan", "batch"):
            chk = check_output_dir(target, k)
            assert chk.problems and f"inside {own}" in chk.problems[0], chk.problems
            assert f"an edge-coverage {kind} directory" in chk.problems[0]
    (own / "sub").mkdir()
    assert "inside" in check_output_dir(own / "sub").problems[0]  # empty: the same
    # a directory the tool wrote there keeps its own rules (a re-run, report on it)
    nested = own / "scenarios" / "x"
    nested.mkdir()
    (nested / MARKER).write_text(json.dumps({"tool": "edge-coverage", "kind": "plan",
                                             "files": []}))
    assert not check_output_dir(nested).problems
    assert check_output_dir(tmp_path / "beside").state == "absent"


def test_check_refuses_foreign_files_in_a_plan_directory(tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    (own / MARKER).write_text(json.dumps({"tool": "edge-coverage", "kind": "plan",
                                          "files": ["summary.json"]}))
    (own / "summary.json").write_text("{}")
    (own / "my notes.txt").write_text("mine")
    chk = check_output_dir(own)
    assert chk.problems and "my notes.txt" in chk.problems[0]
    (own / "my notes.txt").unlink()
    (own / ".summary.json.0123abcd.tmp").write_text("")  # a killed atomic write's temporary
    assert not check_output_dir(own).problems


def test_a_symlink_to_a_directory_is_followed_not_replaced(tmp_path, sample_inputs):
    from coverage.planner.plan import plan_sites

    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "link")
    plan = plan_sites(*sample_inputs, budget_ms=40, kmedian_time_limit_s=5)
    plan.to_dir(tmp_path / "link", map=False, report=False, gis=False)
    assert (tmp_path / "link").is_symlink()
    assert (real / "summary.json").is_file() and read_marker(real)["kind"] == "plan"


# --------------------------------------------------------------------------- the CLI


def test_out_pointing_at_the_inputs_folder_touches_nothing(inputs_dir):
    before = snapshot(inputs_dir)
    r = run(*PLAN_ARGS, "--out", inputs_dir)
    assert r.returncode == 2
    assert "not written by edge-coverage" in r.stderr and str(inputs_dir) in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert snapshot(inputs_dir) == before
    assert sorted(p.name for p in inputs_dir.parent.iterdir()) == ["inputs"]


def test_empty_out_and_the_working_directory_are_refused(inputs_dir):
    before = snapshot(inputs_dir)
    for out in ("", "."):
        r = run(*PLAN_ARGS, "--out", out, cwd=inputs_dir)
        assert r.returncode == 2 and "--out" in r.stderr, r.stderr
    assert snapshot(inputs_dir) == before


def test_every_problem_is_in_one_message_before_any_work(tmp_path):
    (tmp_path / "file").write_text("x")
    r = run("plan", "--demand", tmp_path / "missing.csv", "--candidates",
            DATA / "west_candidates.csv", "--out", tmp_path / "file", "--max-memory-gb", "1",
            "--route-factor", "1.2")
    assert r.returncode == 2
    assert "is a file" in r.stderr and "missing.csv" in r.stderr
    assert "budget sweep" not in r.stderr and "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_rerun_replaces_the_whole_directory(tmp_path):
    out = tmp_path / "plan"
    assert run(*PLAN_ARGS, "--budget-ms", 30, "--out", out).returncode == 0
    first = read_marker(out)
    assert "map.html" in first["files"]
    r = run(*PLAN_ARGS, "--budget-ms", 50, "--no-map", "--no-report", "--out", out)
    assert r.returncode == 0, r.stderr
    names = {p.name for p in out.iterdir()}
    assert names == set(read_marker(out)["files"]) | {MARKER}
    assert "map.html" not in names and "report.html" not in names
    assert json.loads((out / "summary.json").read_text())["budget_ms"] == 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]  # no lock, no staging left


def test_a_second_concurrent_run_is_refused(tmp_path):
    out = tmp_path / "plan"
    with OutputDir(out, "plan"):
        r = run(*PLAN_ARGS, "--out", out)
        assert r.returncode == 2
        assert "another edge-coverage run is writing it" in r.stderr
        assert f"pid {os.getpid()}" in r.stderr
        with pytest.raises(InputValidationError, match="another edge-coverage run"):
            OutputDir(out, "plan").acquire()
    assert not out.exists()
    assert run(*PLAN_ARGS, "--no-report", "--no-map", "--out", out).returncode == 0


def test_a_report_on_a_directory_being_written_says_to_wait(tmp_path):
    """Tester 111: `edge-coverage report DIR` while a plan writes DIR said "Fix: wait for
    it to finish, or give plan directory another directory" (garbled, and no fix: the
    report reads DIR). It says to run the report again once that run is done."""
    out = tmp_path / "plan"
    assert run(*PLAN_ARGS, "--no-map", "--out", out).returncode == 0
    with OutputDir(out, "plan"):
        r = run("report", out)
    assert r.returncode == 2 and "another edge-coverage run is writing it" in r.stderr
    assert "give plan directory" not in r.stderr and "another directory" not in r.stderr
    assert ("Fix: wait for it to finish, then make the report again (`edge-coverage report "
            "DIR`, or write_report in Python)" in r.stderr), r.stderr


def test_a_busy_out_is_said_before_the_inputs_are_read(tmp_path):
    out = tmp_path / "plan"
    link = tmp_path / "link"
    with OutputDir(out, "plan"):
        # in the one message with the inputs' problems: the inputs were not read first
        r = run("plan", "--demand", tmp_path / "missing.csv", "--candidates",
                DATA / "west_candidates.csv", "--out", out)
        assert r.returncode == 2
        assert "another edge-coverage run is writing it" in r.stderr
        assert "missing.csv" in r.stderr and "Traceback" not in r.stderr
        r = run("plan", "--demo", "--country", "LU", "--out", out)
        assert r.returncode == 2 and "another edge-coverage run" in r.stderr
        assert "loading GeoNames" not in r.stderr
        link.symlink_to(out, target_is_directory=True)  # locked next to the link's target
        assert busy_problems(link) and busy_problems(out)
    assert busy_problems(out) == [] and busy_problems(link) == []
    assert busy_problems(tmp_path / "never") == []


def test_a_failing_optional_output_keeps_the_plan(tmp_path, monkeypatch, capsys):
    import coverage.outputs.maps

    def broken(*_a, **_k):
        raise RuntimeError("the map renderer broke")

    monkeypatch.setattr(coverage.outputs.maps, "plan_map", broken)
    out = tmp_path / "plan"
    code = cli.main([*PLAN_ARGS, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 5
    assert "map.html not written: RuntimeError: the map renderer broke" in err
    assert not (out / "map.html").exists()
    for name in ("summary.json", "sites.csv", "assignment.csv", "report.html", "sweep.csv"):
        assert (out / name).is_file(), name
    assert read_marker(out)["skipped"] == {"map.html": "RuntimeError: the map renderer broke"}


@pytest.mark.parametrize("quiet", [True, False])
def test_a_skipped_output_is_said_once(tmp_path, monkeypatch, capsys, quiet):
    """Tester 111: each skipped output was said twice on stderr, even with -q: "skipped
    X: ..." by the library and "warning: X not written: ..." by the command. It is said
    once, the files of one reason on one line."""
    from coverage.errors import SolverError
    from coverage.planner.plan import Plan

    def broken(self, *_a, **_k):
        raise SolverError("HiGHS gave up")

    monkeypatch.setattr(Plan, "with_sweep", broken)
    args = [*PLAN_ARGS, "--no-map", "--out", str(tmp_path / "plan")]
    code = cli.main(args if quiet else [a for a in args if a != "-q"])
    err = capsys.readouterr().err
    assert code == 5
    assert err.count("HiGHS gave up") == 1, err
    assert ("edge-coverage: warning: sweep.csv and report.html not written: RuntimeError: "
            "the budget sweep failed: SolverError: HiGHS gave up") in err


def test_a_failing_sweep_skips_the_report_only(tmp_path, monkeypatch, capsys):
    from coverage.errors import SolverError
    from coverage.planner.plan import Plan

    def broken(self, *_a, **_k):
        raise SolverError("HiGHS gave up")

    monkeypatch.setattr(Plan, "with_sweep", broken)
    out = tmp_path / "plan"
    code = cli.main([*PLAN_ARGS, "--no-map", "--out", str(out)])
    assert code == 5
    assert "report.html not written" in capsys.readouterr().err
    assert (out / "summary.json").is_file() and not (out / "report.html").exists()


def test_a_failing_report_keeps_the_sweep(tmp_path, monkeypatch, capsys):
    """Tester 179: a report.html that could not be written (too large for the disk) took
    the computed sweep.csv with it."""
    import errno as errno_

    import coverage.outputs.report

    def broken(*_a, **_k):
        raise OSError(errno_.ENOSPC, "No space left on device")

    monkeypatch.setattr(coverage.outputs.report, "render_report", broken)
    out = tmp_path / "plan"
    code = cli.main([*PLAN_ARGS, "--no-map", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 5 and "report.html not written" in err and "sweep.csv" not in err
    assert (out / "sweep.csv").is_file() and not (out / "report.html").exists()
    assert set(read_marker(out)["skipped"]) == {"report.html"}


def test_a_write_error_names_the_path_and_keeps_the_figures(tmp_path):
    """A file size limit makes the tables unwritable (as a full disk would)."""
    out = tmp_path / "plan"

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    r = run(*PLAN_ARGS, "--out", out, preexec_fn=limit)
    assert r.returncode == 6, r.stderr
    assert "cannot write" in r.stderr and "Traceback" not in r.stderr
    assert "internal error" not in r.stderr
    assert "sites: " in r.stdout  # the headline is printed before the error
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing half-written
    # tester 179: the message named the staging directory, removed by then; and the
    # chosen sites were lost (only the counts were printed)
    assert f"cannot write {out}/" in r.stderr and "edge-coverage-tmp" not in r.stderr
    head, _, listed = r.stdout.partition("not saved with the outputs")
    lines = listed.splitlines()[1:]
    assert lines[0] == "site_id,lat,lon"
    n = int(head.rsplit("the plan's ", 1)[1].split()[0])
    assert len(lines) == n + 1 and n > 0
    assert all(line.startswith("site-") for line in lines[1:])


def test_a_read_only_directory_is_refused_before_the_work(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        try:
            (ro / "probe").mkdir()
        except OSError:
            pass
        else:
            pytest.skip("this user writes into read-only directories (root)")
        r = run(*PLAN_ARGS, "--out", ro / "plan")
        assert r.returncode == 2 and "cannot write in" in r.stderr
    finally:
        ro.chmod(0o755)


# --------------------------------------------------------------------------- kills


KILLER = textwrap.dedent("""
    import os, signal, sys
    import coverage.outputs.outdir as o
    where = sys.argv[1]
    if where == "before-swap":
        def swap(staging, final, **kw):
            os.kill(os.getpid(), signal.SIGKILL)
        o.swap_dir = swap
    elif where == "after-exchange":
        real = o._exchange
        def exchange(a, b):
            assert real(a, b)
            os.kill(os.getpid(), signal.SIGKILL)
        o._exchange = exchange
    elif where == "between-renames":
        o._exchange = lambda a, b: False
        real_rename = os.rename
        def rename(a, b):
            real_rename(a, b)
            if "-old-" in str(b):
                os.kill(os.getpid(), signal.SIGKILL)
        os.rename = rename
    from coverage.cli import main
    sys.exit(main(sys.argv[2:]))
""")


def plan_identity(out: Path) -> tuple[float, str]:
    """(budget, sites) of the plan in ``out``, checked to be one complete plan."""
    names = {p.name for p in out.iterdir()}
    assert names == set(read_marker(out)["files"]) | {MARKER}
    budget = json.loads((out / "summary.json").read_text())["budget_ms"]
    sites = (out / "sites.csv").read_text()
    report = (out / "report.html").read_text()
    assert f"{budget:g} ms" in report
    assignment = pd.read_csv(out / "assignment.csv")
    assert set(assignment["primary_site_id"].dropna()) <= set(pd.read_csv(
        out / "sites.csv")["site_id"])
    return budget, sites


@pytest.mark.parametrize("where,expect", [
    ("before-swap", 30.0), ("after-exchange", 50.0), ("between-renames", 50.0)])
def test_a_kill_during_the_commit_leaves_old_or_new_never_a_mix(tmp_path, where, expect):
    out = tmp_path / "plan"
    assert run(*PLAN_ARGS, "--no-map", "--budget-ms", 30, "--out", out).returncode == 0
    old = plan_identity(out)
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    r = subprocess.run([sys.executable, str(script), where, *PLAN_ARGS, "--no-map",
                        "--budget-ms", "50", "--out", str(out)], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == -signal.SIGKILL, r.stderr
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".plan.")]
    assert leftovers  # staging / old directory and the lock file of the killed run
    if where == "between-renames":
        assert not out.exists()  # the one window of the two-rename fallback ...
        with OutputDir(out, "plan"):  # ... which the next run repairs under its lock
            pass
    assert plan_identity(out)[0] == expect
    if expect == 30.0:
        assert plan_identity(out) == old
    # the next run removes what the killed one left, and writes its own plan
    r = run(*PLAN_ARGS, "--no-map", "--budget-ms", 40, "--out", out)
    assert r.returncode == 0, r.stderr
    assert plan_identity(out)[0] == 40.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killer.py", "plan"]


def test_leftovers_are_removed_only_when_they_are_the_tools(tmp_path):
    out = tmp_path / "plan"
    ours = tmp_path / ".plan.edge-coverage-tmp-123-abcdef12"
    ours.mkdir()
    (ours / ".edge-coverage-staging").write_text("")
    (ours / "summary.json").write_text("{}")
    theirs = tmp_path / ".plan.edge-coverage-tmp-456-abcdef12"
    theirs.mkdir()
    (theirs / "precious.txt").write_text("not the tool's")
    with OutputDir(out, "plan"):
        pass
    assert not ours.exists()
    assert (theirs / "precious.txt").read_text() == "not the tool's"


def test_swap_into_a_directory_that_appeared_meanwhile(tmp_path):
    final = tmp_path / "final"
    for i in range(3):
        staging = tmp_path / f"s{i}"
        staging.mkdir()
        (staging / "n").write_text(str(i))
        swap_dir(staging, final)
        assert (final / "n").read_text() == str(i)
        assert not staging.exists()


def test_copies_of_a_plans_files_are_not_adopted(tmp_path, sample_inputs):
    """A folder holding only a plan's file names, without the marker, was adopted as a
    plan directory from before the marker: a tester's hand-copied summary.json, sites.csv
    (with a note) and report.html were replaced and deleted. Refused, untouched."""
    from coverage.errors import InputValidationError
    from coverage.planner.plan import plan_sites

    out = tmp_path / "handout"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps({"version": "0.1.0", "site_count": 3}))
    (out / "sites.csv").write_text("site_id,lat,lon\na,0,0\nsite approved by CFO\n")
    (out / "report.html").write_text("<html></html>")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert check_output_dir(out).problems
    plan = plan_sites(*sample_inputs, budget_ms=40, kmedian_time_limit_s=5)
    with pytest.raises(InputValidationError, match="copies of a plan"):
        plan.to_dir(out, map=False, report=False, gis=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# --------------------------------------------------------------------------- report


@pytest.mark.parametrize("marker_dirs", [None, []])
def test_an_owned_name_turned_into_a_directory_or_link_is_the_users(tmp_path, marker_dirs):
    """A name the tool wrote as a file, now a directory (or a symbolic link) the user put
    there, is the user's: refused, not replaced (with the marker's "dirs" list, and for a
    marker written before it)."""
    own = tmp_path / "own"
    own.mkdir()
    doc = {"tool": "edge-coverage", "kind": "plan", "files": ["summary.json", "report.html"]}
    if marker_dirs is not None:
        doc["dirs"] = marker_dirs
    (own / MARKER).write_text(json.dumps(doc))
    (own / "summary.json").write_text("{}")
    (own / "report.html").mkdir()
    (own / "report.html" / "mine.txt").write_text("precious")
    chk = check_output_dir(own)
    assert chk.problems and "report.html" in chk.problems[0]
    (own / "report.html" / "mine.txt").unlink()
    (own / "report.html").rmdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", own / "report.html")
    chk = check_output_dir(own)
    assert chk.problems and "report.html" in chk.problems[0]
    (own / "report.html").unlink()
    (own / "report.html").write_text("<html>")  # a file again: the tool's
    assert not check_output_dir(own).problems


@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_a_fifo_or_socket_at_an_owned_name_is_the_users(tmp_path, kind):
    """Tester 111: a FIFO or a socket put at a name the marker lists was deleted without a
    word by the next run, where a directory or a link there was refused. Any entry but a
    regular file (or a directory the tool wrote) is the user's: plan and report refuse it
    (exit 2), naming it and what it is, and it is still there."""
    import socket

    out = tmp_path / "plan"
    assert run(*PLAN_ARGS, "--no-map", "--out", out).returncode == 0
    (out / "failures.csv").unlink()
    if kind == "fifo":
        os.mkfifo(out / "failures.csv")
    else:
        sock = socket.socket(socket.AF_UNIX)
        cwd = os.getcwd()
        os.chdir(out)  # a socket's path is short: bound by its relative name
        try:
            sock.bind("failures.csv")
        finally:
            os.chdir(cwd)
            sock.close()
    what = {"fifo": "a FIFO", "socket": "a socket"}[kind]
    for args in ((*PLAN_ARGS, "--no-map", "--out", out), ("report", out)):
        r = run(*args)
        assert r.returncode == 2 and "failures.csv" in r.stderr, r.stderr
        test = stat.S_ISFIFO if kind == "fifo" else stat.S_ISSOCK
        assert test(os.lstat(out / "failures.csv").st_mode)
    assert f"failures.csv ({what})" in run(*PLAN_ARGS, "--no-map", "--out", out).stderr


def test_a_rerun_keeps_a_user_directory_named_like_an_output(tmp_path):
    """End to end: plan, replace report.html by a directory of one's own, plan and
    report again: both refuse (exit 2) and the directory and its file are intact."""
    out = tmp_path / "plan"
    assert run(*PLAN_ARGS, "--no-map", "--out", out).returncode == 0
    assert read_marker(out)["dirs"] == []
    (out / "report.html").unlink()
    (out / "report.html").mkdir()
    (out / "report.html" / "mine.txt").write_text("precious")
    before = snapshot(out)
    for args in ((*PLAN_ARGS, "--no-map", "--out", out), ("report", out)):
        r = run(*args)
        assert r.returncode == 2 and "report.html" in r.stderr, r.stderr
        assert (out / "report.html" / "mine.txt").read_text() == "precious"
        assert snapshot(out) == before


def test_report_refuses_a_directory_with_foreign_files(tmp_path):
    out = tmp_path / "plan"
    assert run(*PLAN_ARGS, "--no-map", "--out", out).returncode == 0
    (out / "mine.txt").write_text("mine")
    before = snapshot(out)
    r = run("report", out)
    assert r.returncode == 2 and "mine.txt" in r.stderr
    assert snapshot(out) == before


def test_report_rebuild_keeps_the_tables_and_swaps_whole(tmp_path):
    out = tmp_path / "plan"
    assert run(*PLAN_ARGS, "--no-map", "--out", out).returncode == 0
    tables = {k: v for k, v in snapshot(out).items() if k not in ("report.html", MARKER)}
    ino = os.stat(out).st_ino
    r = run("report", out)
    assert r.returncode == 0, r.stderr
    assert {k: v for k, v in snapshot(out).items()
            if k not in ("report.html", MARKER)} == tables
    assert os.stat(out).st_ino != ino  # a new directory, swapped in
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]
    assert "Edited since" not in (out / "report.html").read_text()
    # the rebuilt report is the tool's own file: a later plan replaces the directory (the
    # marker kept the old report's record, and the plan run took it for an edit)
    r = run(*PLAN_ARGS, "--no-map", "--out", out)
    assert r.returncode == 0, r.stderr


def test_report_of_edited_tables_says_so_and_keeps_them_edited(tmp_path):
    """Tester 95: ``report`` rendered a hand-edited table's values (an absurd
    ``backup_latency_ms``) as the plan's. It names the edited files at the top of the page
    and on stderr; the edits are kept, and a later plan still refuses to replace them."""
    out = tmp_path / "plan"
    assert run(*PLAN_ARGS, "--no-map", "--out", out).returncode == 0
    sites = out / "sites.csv"
    text = sites.read_text()
    sites.write_text(text.replace(",", ",", 1) + "\n")  # one more line: another size
    edited = sites.read_bytes()
    r = run("report", out)
    assert r.returncode == 0, r.stderr
    assert "sites.csv changed since edge-coverage wrote them" in r.stderr
    page = (out / "report.html").read_text()
    assert "Edited since edge-coverage wrote them: sites.csv." in page
    assert sites.read_bytes() == edited
    r = run(*PLAN_ARGS, "--no-map", "--out", out)
    assert r.returncode == 2 and "sites.csv changed since" in r.stderr
    assert sites.read_bytes() == edited


# --------------------------------------------------------------------------- batch


BATCH = """
[base]
demand = "{demand}"
candidates = "{candidates}"
time_limit_s = 20
kmedian_time_limit_s = 5
{extra}

[axes]
budget_ms = [30, 50]
"""


@pytest.mark.parametrize("extra,expect", [
    ("budget_ms = 0", "budget_ms"),
    ("budget_ms = nan", "budget_ms"),
    ("budget_ms = inf", "budget_ms"),
    ("failures = -1", "failures"),
    ('percentile = "p95"', "percentile"),
    ('access = "carrier-pigeon"', "access"),
    ('model = {workload = "gpt-9"}', "workload"),
    ("model = {route_factor = -1.5}", "route_factor"),
    ("max_memory_gb = 0", "max_memory_gb"),
])
def test_batch_checks_every_option_before_writing(tmp_path, extra, expect):
    config = tmp_path / "s.toml"
    text = BATCH.format(demand=DATA / "west_demand.csv",
                        candidates=DATA / "west_candidates.csv", extra=extra)
    if extra.startswith("budget_ms"):
        text = text.replace("budget_ms = [30, 50]", "failures = [0, 1]")
    config.write_text(text)
    r = run("batch", config, "--out", tmp_path / "out", "--workers", "0")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert expect in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_batch_region_on_a_missing_column_is_refused_before_writing(tmp_path):
    config = tmp_path / "s.toml"
    config.write_text(BATCH.format(demand=DATA / "west_demand.csv",
                                   candidates=DATA / "west_candidates.csv", extra="")
                      + '\n[regions]\nca = {column = "province", values = ["CA"]}\n'
                      + 'nv = {column = "state", values = ["XX"]}\n')
    r = run("batch", config, "--out", tmp_path / "out", "--workers", "0")
    assert r.returncode == 2
    assert "no column 'province'" in r.stderr and "no demand row has state" in r.stderr
    assert not (tmp_path / "out").exists()


def test_batch_site_tier_typo_is_refused_before_writing(tmp_path):
    """The tier columns are checked once, naming the file, before any scenario runs (a
    typo was one failed scenario each, exit 0)."""
    candidates = tmp_path / "cands.csv"
    text = (DATA / "west_candidates.csv").read_text()
    head, first, rest = text.split("\n", 2)
    candidates.write_text("\n".join([head, first.replace("metro-colo", "Metro-Colo"), rest]))
    config = tmp_path / "s.toml"
    config.write_text(BATCH.format(demand=DATA / "west_demand.csv", candidates=candidates,
                                   extra=""))
    r = run("batch", config, "--out", tmp_path / "out", "--workers", "0")
    assert r.returncode == 2, r.stderr
    assert str(candidates) in r.stderr and "looks like 'metro-colo'" in r.stderr
    assert "(row 1)" in r.stderr and r.stderr.count("looks like") == 1
    assert not (tmp_path / "out").exists()


def test_batch_out_must_be_a_batch_directory(tmp_path):
    config = tmp_path / "s.toml"
    config.write_text(BATCH.format(demand=DATA / "west_demand.csv",
                                   candidates=DATA / "west_candidates.csv", extra=""))
    (tmp_path / "file").write_text("x")
    r = run("batch", config, "--out", tmp_path / "file", "--workers", "0")
    assert r.returncode == 2 and "is a file" in r.stderr
    plan_dir = tmp_path / "plan"
    assert run(*PLAN_ARGS, "--no-map", "--no-report", "--out", plan_dir).returncode == 0
    r = run("batch", config, "--out", plan_dir, "--workers", "0")
    assert r.returncode == 2 and "not a batch directory" in r.stderr
    r = run("batch", config, "--out", tmp_path / "sweep", "--workers", "0")
    assert r.returncode == 0, r.stderr
    assert read_marker(tmp_path / "sweep")["kind"] == "batch"
    (tmp_path / "sweep" / "mine.txt").write_text("mine")
    r = run("batch", config, "--out", tmp_path / "sweep", "--workers", "0")
    assert r.returncode == 2 and "mine.txt" in r.stderr


@pytest.mark.filterwarnings("default")
def test_library_warnings_are_one_line_without_source(tmp_path, monkeypatch, capsys):
    import warnings

    import coverage.inputs.tables

    real = coverage.inputs.tables.read_demand

    def warns(*a, **k):
        warnings.warn("pyogrio says\n  something odd", UserWarning, stacklevel=1)
        return real(*a, **k)

    monkeypatch.setattr(coverage.inputs.tables, "read_demand", warns)
    code = cli.main([*PLAN_ARGS, "--no-map", "--no-report", "--out", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert code == 0
    assert "edge-coverage: warning: pyogrio says something odd (UserWarning)" in err
    assert "warnings.warn" not in err and ".py:" not in err


def test_output_csvs_do_not_carry_formulas(tmp_path):
    demand = pd.read_csv(DATA / "west_demand.csv")
    sites = pd.read_csv(DATA / "west_candidates.csv")
    sites.loc[0, "name"] = '=HYPERLINK("http://evil.example","x")'
    sites.loc[1, "name"] = "@SUM(A1)"
    sites["site_id"] = sites["site_id"].astype(str)
    sites.loc[2, "site_id"] = "+44-evil"
    sites.loc[:2, "required"] = True  # these three are in the plan
    (tmp_path / "d.csv").write_text(demand.to_csv(index=False))
    (tmp_path / "s.csv").write_text(sites.to_csv(index=False))
    out = tmp_path / "plan"
    r = run("plan", "--demand", tmp_path / "d.csv", "--candidates", tmp_path / "s.csv",
            "--budget-ms", 60, "--failures", 0, "--no-map", "--no-gis", "--out", out)
    assert r.returncode == 0, r.stderr
    for name in ("sites.csv", "assignment.csv", "failures.csv", "sweep.csv"):
        for line in (out / name).read_text().splitlines():
            for cell in line.split(","):
                assert not cell.strip('"').startswith(("=", "+", "@")), (name, line)
    text = (out / "sites.csv").read_text()
    assert "'=HYPERLINK" in text and "'@SUM(A1)" in text and "'+44-evil" in text


def test_escaped_ids_stay_distinct_and_read_back_as_written(tmp_path):
    """Tester 111: demand ids "-x" and "'-x", site ids "=1+2" and "'=1+2" were all written
    with one "'" in front: the tables held one id twice and the report refused its own plan
    directory as damaged (exit 5). Both are now distinct on disk, the report reads back the
    real ids (shown HTML-escaped, as the map shows them) and they join with the GeoJSON's."""
    from coverage.outputs.plandir import load_plan_dir

    (tmp_path / "d.csv").write_text("demand_id,lat,lon,population\n-x,50.85,4.35,1000\n"
                                    "'-x,51.05,3.72,2000\nb,50.63,5.57,3000\n")
    (tmp_path / "c.csv").write_text("site_id,lat,lon,required\n=1+2,50.85,4.35,true\n"
                                    "'=1+2,51.05,3.72,true\ns3,50.63,5.57,false\n")
    out = tmp_path / "o"
    r = run("plan", "--demand", tmp_path / "d.csv", "--candidates", tmp_path / "c.csv",
            "--budget-ms", 40, "--out", out, "-q")
    assert r.returncode == 0, r.stderr
    raw = pd.read_csv(out / "sites.csv", dtype=str)
    assert raw["site_id"].is_unique and set(raw["site_id"]) == {"'=1+2", "''=1+2"}
    data = load_plan_dir(out)
    assert set(data.sites["site_id"]) == {"=1+2", "'=1+2"}
    assert set(data.assignment["demand_id"]) == {"-x", "'-x", "b"}
    assert set(data.failures["failed_site_id"]) == {"=1+2", "'=1+2"}
    assert set(data.rollout["site_id"]) == {"=1+2", "'=1+2"}
    geo = json.loads((out / "sites.geojson").read_text())
    assert {f["properties"]["site_id"] for f in geo["features"]} == set(data.sites["site_id"])
    page = (out / "report.html").read_text()
    assert "<td>=1+2</td>" in page and "<td>&#x27;=1+2</td>" in page
    assert "&#x27;&#x27;" not in page  # the escape character is not shown


@pytest.mark.parametrize("mask", [0o077, 0o002])
def test_output_files_follow_the_umask(tmp_path, mask):
    """Tester 111: under `umask 077` the marker was 0600 but every table, map and GIS file
    0644 (made so by an explicit chmod). Every file now gets 0666 less the umask."""
    from coverage.outputs.outdir import file_mode, umask

    out = tmp_path / "plan"
    old = os.umask(mask)
    try:
        assert umask() == mask and file_mode() == 0o666 & ~mask
        code = cli.main([*PLAN_ARGS, "--out", str(out)])
        with_gis = [a for a in PLAN_ARGS if a != "--no-gis"]  # plan.gpkg, GeoParquet
        code_gis = cli.main([*with_gis, "--no-report", "--out", str(tmp_path / "p2")])
    finally:
        os.umask(old)
    assert code == 0 and code_gis == 0
    for d in (out, tmp_path / "p2"):
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in d.iterdir()}
        assert {"sites.csv", MARKER} <= set(modes) and ("report.html" in modes) == (d == out)
        assert d == out or "plan.gpkg" in modes
        assert modes == dict.fromkeys(modes, 0o666 & ~mask), modes


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="chown to another user needs root")
def test_a_root_run_keeps_the_directory_its_owners(tmp_path):
    """Tester 111: run as root into a --out owned by another user, the swap left the
    directory owned by root (mode and group were copied, not the owner), the user locked
    out. The directory and every file get the old directory's owner and group, after
    `plan` and after `report`."""
    out = tmp_path / "plan"
    out.mkdir()
    os.chown(out, 65534, 65534)
    out.chmod(0o700)
    for args in ((*PLAN_ARGS, "--no-map", "--out", out), ("report", out),
                 (*PLAN_ARGS, "--no-map", "--budget-ms", 50, "--out", out)):
        r = run(*args)
        assert r.returncode == 0, r.stderr
        st = out.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (65534, 65534, 0o700)
        owners = {p.name: (p.lstat().st_uid, p.lstat().st_gid) for p in out.iterdir()}
        assert "report.html" in owners and MARKER in owners
        assert set(owners.values()) == {(65534, 65534)}, owners


def test_a_file_added_while_planning_is_never_deleted(tmp_path, monkeypatch, capsys):
    """The ownership check runs on the directory being replaced, at the swap itself."""
    import coverage.outputs.outdir as od

    out = tmp_path / "plan"
    assert cli.main([*PLAN_ARGS, "--no-map", "--no-report", "--out", str(out)]) == 0
    real = od.fsync_tree

    def user_adds_a_file(root):
        real(root)
        (out / "notes.txt").write_text("the user's notes")

    monkeypatch.setattr(od, "fsync_tree", user_adds_a_file)
    code = cli.main([*PLAN_ARGS, "--no-map", "--no-report", "--budget-ms", "50",
                     "--out", str(out)])
    captured = capsys.readouterr()
    err = captured.err
    assert code == 6 and "notes.txt" in err
    # kept beside the target, not lost: its sites are not printed as "not saved"
    # (review 158)
    assert "not saved" not in captured.out
    assert (out / "notes.txt").read_text() == "the user's notes"
    assert json.loads((out / "summary.json").read_text())["budget_ms"] == 30  # untouched
    kept = [p for p in tmp_path.iterdir() if ".edge-coverage-new-" in p.name]
    assert len(kept) == 1 and json.loads((kept[0] / "summary.json").read_text())[
        "budget_ms"] == 50
    assert read_marker(kept[0])["kind"] == "plan"


@pytest.mark.parametrize("how", ["append", "rename"])
def test_a_file_edited_while_planning_is_not_lost(tmp_path, monkeypatch, capsys, how):
    """Tester 96: an edit made to a plan directory's table while a run computed was lost
    at the swap (the check before the work had passed). The swap compares each file with
    what it was when the target was checked: the edit stays, byte for byte; the new
    outputs are kept beside it. Both ways an editor saves: in place, and by renaming."""
    import coverage.outputs.outdir as od

    out = tmp_path / "plan"
    assert cli.main([*PLAN_ARGS, "--no-map", "--no-report", "--out", str(out)]) == 0
    real = od.fsync_tree
    sites = out / "sites.csv"

    def user_edits(root):
        real(root)
        if how == "append":
            with open(sites, "a") as f:
                f.write("# my note\n")
        else:
            tmp = out / "sites.csv~"
            tmp.write_text(sites.read_text().replace("site_id", "site_id", 1) + "# mine\n")
            os.replace(tmp, sites)

    monkeypatch.setattr(od, "fsync_tree", user_edits)
    code = cli.main([*PLAN_ARGS, "--no-map", "--no-report", "--budget-ms", "50",
                     "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 6, err
    assert "sites.csv changed while edge-coverage was writing the directory" in err
    assert sites.read_text().endswith("\n") and "# m" in sites.read_text()
    assert json.loads((out / "summary.json").read_text())["budget_ms"] == 30  # untouched
    kept = [p for p in tmp_path.iterdir() if ".edge-coverage-new-" in p.name]
    assert len(kept) == 1 and json.loads((kept[0] / "summary.json").read_text())[
        "budget_ms"] == 50
    assert str(kept[0]) in err


def test_report_refuses_to_replace_a_hand_edited_report(tmp_path):
    """Tester 96: ``edge-coverage report`` wrote a new report.html over one the user had
    edited. It refuses, naming the file and the fix; the edited page stays. An edited map
    (not read by the report) is not named as a table the report shows."""
    out = tmp_path / "plan"
    assert run(*PLAN_ARGS, "--out", out).returncode == 0
    page = out / "report.html"
    page.write_text(page.read_text().replace("</body>", "<p>my notes</p></body>"))
    edited = page.read_bytes()
    r = run("report", out)
    assert r.returncode == 2, r.stderr
    assert "report.html changed since edge-coverage wrote it" in r.stderr
    assert "move report.html out of the directory" in r.stderr
    assert page.read_bytes() == edited
    page.rename(tmp_path / "mine.html")  # the fix: then the report is written anew
    with open(out / "map.html", "a") as f:
        f.write("<!-- my note -->\n")
    r = run("report", out)
    assert r.returncode == 0, r.stderr
    assert "Edited since" not in page.read_text() and "map.html" not in r.stderr
    assert (out / "map.html").read_text().endswith("<!-- my note -->\n")
    # the map is still the user's edit: a plan into the directory refuses it
    r = run(*PLAN_ARGS, "--out", out)
    assert r.returncode == 2 and "map.html changed since" in r.stderr


def test_ctrl_c_while_the_old_directory_is_removed_loses_nothing(tmp_path, monkeypatch,
                                                                  capsys):
    """Tester 96: a Ctrl-C while the replaced directory was removed (after the swap) said
    only "interrupted", and the half-removed ``-old-`` directory, its marker gone first,
    read as the user's and stayed for ever. The run says the outputs are complete; the
    marker goes last, so the next run recognises the leftover and removes it."""
    from pathlib import Path as P

    out = tmp_path / "plan"
    assert cli.main([*PLAN_ARGS, "--no-map", "--no-report", "--out", str(out)]) == 0
    real_unlink = P.unlink
    calls = []

    def interrupted_unlink(self, *a, **k):
        if ".edge-coverage-old-" in str(self):
            calls.append(self.name)
            if len(calls) == 2:
                raise KeyboardInterrupt
        return real_unlink(self, *a, **k)

    monkeypatch.setattr(P, "unlink", interrupted_unlink)
    code = cli.main([*PLAN_ARGS, "--no-map", "--no-report", "--budget-ms", "50",
                     "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 130 and f"after the outputs were written: {out} is complete" in err
    assert json.loads((out / "summary.json").read_text())["budget_ms"] == 50
    left = [p for p in tmp_path.iterdir() if ".edge-coverage-old-" in p.name]
    assert len(left) == 1 and (left[0] / MARKER).is_file() and MARKER not in calls
    monkeypatch.setattr(P, "unlink", real_unlink)
    assert cli.main([*PLAN_ARGS, "--no-map", "--no-report", "--out", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]


def test_a_replaced_directory_keeps_its_mode_and_group(tmp_path):
    """Tester 96: a plan directory shared through its group (mode 2770, another group) came
    back from a re-run with the parent's defaults: the swap put a new directory in its
    place. The new one gets the old one's mode and group, and under the set-group-ID bit
    its files the group too."""
    out = tmp_path / "plan"
    assert run(*PLAN_ARGS, "--no-map", "--out", out).returncode == 0
    gids = [g for g in ({1, *os.getgroups()} if os.geteuid() == 0 else os.getgroups())
            if g != os.stat(out).st_gid]
    if not gids:
        pytest.skip("no other group to give the directory")
    os.chown(out, -1, gids[0])
    os.chmod(out, 0o2770)
    r = run(*PLAN_ARGS, "--no-map", "--budget-ms", "50", "--out", out)
    assert r.returncode == 0, r.stderr
    st = os.stat(out)
    assert stat.S_IMODE(st.st_mode) == 0o2770 and st.st_gid == gids[0]
    assert {os.stat(p).st_gid for p in out.iterdir()} == {gids[0]}
    assert json.loads((out / "summary.json").read_text())["budget_ms"] == 50


def test_a_mount_point_is_refused_before_the_work():
    if not os.path.ismount("/dev/shm"):
        pytest.skip("no mount point to try")
    chk = check_output_dir("/dev/shm")
    assert chk.problems and "mount point" in chk.problems[0]
    assert "replaces the whole directory" in chk.problems[0]


def test_a_mount_point_as_a_sweeps_out_is_refused_for_the_sweeps_reason():
    """Tester 191: a batch's --out at a mount point was refused because "the tool
    replaces the whole directory", which a sweep does not do (it writes inside it); its
    own reason is its lock, kept beside the directory on the other file system."""
    if not os.path.ismount("/dev/shm"):
        pytest.skip("no mount point to try")
    text = "\n".join(check_output_dir("/dev/shm", "batch").problems)
    assert "/dev/shm is a mount point: a sweep is written inside it, but keeps its lock" in text
    assert "replaces the whole directory" not in text
    assert "Fix: give --out a directory inside it, e.g. --out /dev/shm/sweep" in text
    r = run("batch", DATA / "no-such.toml", "--out", "/dev/shm")  # (with the file's problem)
    assert r.returncode == 2 and "keeps its lock beside it" in r.stderr, r.stderr


def test_sigterm_unwinds_and_exits_143(tmp_path):
    """A terminated run removes its staging directory and lock and keeps the old plan."""
    out = tmp_path / "plan"
    assert run(*PLAN_ARGS, "--no-map", "--out", out).returncode == 0
    before = snapshot(out)
    script = tmp_path / "term.py"
    script.write_text(textwrap.dedent("""
        import os, signal, sys
        import coverage.outputs.outdir as o
        real = o.fsync_tree
        def fsync_then_term(root):
            real(root)
            os.kill(os.getpid(), signal.SIGTERM)
        o.fsync_tree = fsync_then_term
        from coverage.cli import main
        sys.exit(main(sys.argv[1:]))
    """))
    r = subprocess.run([sys.executable, str(script), *PLAN_ARGS, "--no-map", "--budget-ms",
                        "50", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 143 and "terminated" in r.stderr
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan", "term.py"]


def test_the_api_checks_its_options_first_and_says_what_it_skipped(tmp_path, monkeypatch,
                                                                    sample_inputs):
    """``Plan.to_dir``: a bad ``tiles`` is refused before anything is written (it only
    skipped the map, silently), and a skipped optional output is a warning a notebook
    shows (the log alone has no handler there)."""
    from helpers import ON_NET

    import coverage.outputs.maps
    from coverage import plan_sites
    from coverage.errors import CoverageWarning

    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=1, model=ON_NET,
                      kmedian_time_limit_s=5)
    with pytest.raises(InputValidationError, match="tiles must be 'osm' or None; got 'bogus'"):
        plan.to_dir(tmp_path / "a", tiles="bogus", report=False, gis=False)
    with pytest.raises(InputValidationError, match="assignment_format must be"):
        plan.to_dir(tmp_path / "a", assignment_format="xlsx")
    with pytest.raises(InputValidationError, match="needs a directory path"):
        plan.to_dir(None)
    assert not (tmp_path / "a").exists()

    def broken(*_a, **_k):
        raise RuntimeError("the map renderer broke")

    monkeypatch.setattr(coverage.outputs.maps, "plan_map", broken)
    with pytest.warns(CoverageWarning, match=r"map.html \(RuntimeError: the map renderer broke"):
        out = plan.to_dir(tmp_path / "b", report=False, gis=False)
    assert (out / "sites.csv").is_file() and not (out / "map.html").exists()


def test_write_plan_refuses_what_is_not_a_plan_or_a_path(tmp_path, sample_inputs):
    """``write_plan(plan, None)`` raised a bare TypeError and ``write_plan("x", dir)`` an
    AttributeError ('str' object has no attribute 'summary'): each is one message naming
    ``write_plan`` (``Plan.to_dir`` and ``Comparison.to_dir`` name themselves)."""
    from helpers import ON_NET, raises_with

    from coverage import plan_sites
    from coverage.outputs.plandir import write_comparison, write_plan

    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=0, model=ON_NET,
                      kmedian_time_limit_s=5)
    raises_with(write_plan, plan, None, match=["write_plan needs a directory path",
                                               "NoneType", "Fix: give write_plan"])
    raises_with(write_plan, "x", tmp_path / "a", match=["write_plan needs a Plan", "str 'x'"])
    raises_with(plan.to_dir, 3, match=["Plan.to_dir needs a directory path", "int 3"])
    raises_with(write_comparison, None, 3, match=["Comparison.to_dir needs a directory path"])
    assert not (tmp_path / "a").exists()


def test_write_plan_names_itself_not_plan_to_dir(tmp_path, sample_inputs):
    """Called through ``write_plan``, a refused directory's message said "Plan.to_dir ...
    Fix: give Plan.to_dir ...", a method the user did not call."""
    from helpers import ON_NET

    from coverage import plan_sites
    from coverage.outputs.plandir import write_plan

    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=0, model=ON_NET,
                      kmedian_time_limit_s=5)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(InputValidationError) as info:
        write_plan(plan, notes, map=False, report=False, gis=False)
    msg = str(info.value)
    assert msg.startswith(f"write_plan {notes}") and "Fix: give write_plan a new" in msg
    assert "to_dir" not in msg
    with pytest.raises(InputValidationError, match=r"^Plan.to_dir .*Fix: give Plan.to_dir"):
        plan.to_dir(notes, map=False, report=False, gis=False)
    assert sorted(p.name for p in notes.iterdir()) == ["notes.txt"]


def test_a_summary_is_the_callers_to_change(sample_inputs):
    from helpers import ON_NET

    from coverage import plan_sites

    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=0, model=ON_NET,
                      kmedian_time_limit_s=5)
    s = plan.summary()
    s["parameters"]["access_default"] = "HACK"
    assert plan.summary()["parameters"]["access_default"] != "HACK"
    assert plan.with_sweep([40.0]).sweep is not None  # the plan still has its own access


def test_a_bind_mount_is_refused_before_the_work(tmp_path):
    """A bind mount of a directory of the same file system (``docker -v $PWD/out:/out``):
    ``os.path.ismount`` misses it and the plan's swap failed after the whole plan with
    "Device or resource busy". Needs root (``mount --bind``); skipped without."""
    src, mnt = tmp_path / "src", tmp_path / "my out"
    src.mkdir()
    mnt.mkdir()
    r = subprocess.run(["mount", "--bind", str(src), str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {r.stderr.decode(errors='replace').strip()}")
    try:
        assert not os.path.ismount(mnt)  # the premise: the standard check misses it
        assert is_mount_point(mnt) and not is_mount_point(src)
        for kind in ("plan", "batch"):
            chk = check_output_dir(mnt, kind)
            assert chk.problems and "is a mount point" in chk.problems[0]
            assert "Fix: give --out a directory inside it" in chk.problems[0]
        r = run("plan", "--demo", "--country", "LU", "--no-map", "--out", mnt)
        assert r.returncode == 2 and "is a mount point" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and os.listdir(mnt) == []
        # a directory inside the mount is fine
        r = run("plan", "--demo", "--country", "LU", "--no-map", "--no-report", "--out",
                mnt / "plan")
        assert r.returncode == 0, r.stderr
        assert (src / "plan" / "summary.json").exists()
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_mountinfo_escapes_are_read_back():
    assert _mountinfo_path(r"/tmp/a\040b\011c\134d") == "/tmp/a b\tc\\d"


# --------------------------------------------------------------------------- the lock file

def test_a_link_or_a_users_file_at_the_lock_path_is_never_written(tmp_path):
    """The lock (``.NAME.edge-coverage.lock``) was opened through a symbolic link, its
    target overwritten with "pid N since ..." and then removed; a user's file of that name
    was emptied, rewritten and removed (a tester's find). Both are now refused before the
    work (exit 2, the file named) and left as they were, from the command line and the
    API; a lock a killed run left behind is still taken over."""
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's data\n")
    (tmp_path / ".linked.edge-coverage.lock").symlink_to(victim)
    notes = tmp_path / ".noted.edge-coverage.lock"
    notes.write_text("my notes\n")
    for name, what in (("linked", "is a symbolic link"), ("noted", "a file it did not write")):
        out = tmp_path / name
        r = run(*PLAN_ARGS, "--no-map", "--no-report", "--out", out)
        assert r.returncode == 2 and what in r.stderr and "Traceback" not in r.stderr
        assert "reading" not in r.stderr  # said before the inputs are read
        assert not out.exists()
        with pytest.raises(InputValidationError, match=what):
            OutputDir(out, "plan").acquire()
        assert busy_problems(out) and what in busy_problems(out)[0]
    assert victim.read_text() == "the user's data\n" and notes.read_text() == "my notes\n"
    assert (tmp_path / ".linked.edge-coverage.lock").is_symlink()
    (tmp_path / ".dir.edge-coverage.lock").mkdir()
    os.mkfifo(tmp_path / ".fifo.edge-coverage.lock")  # refused, not waited on
    for name in ("dir", "fifo"):
        with pytest.raises(InputValidationError, match="is not a regular file"):
            OutputDir(tmp_path / name, "plan").acquire()
        assert busy_problems(tmp_path / name)
    # whitespace, or a hard link to a file elsewhere (even one holding a lock's text)
    (tmp_path / ".blank.edge-coverage.lock").write_text("\n  \n")
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("pid 4242 since 10:00:00")
    os.link(elsewhere, tmp_path / ".hard.edge-coverage.lock")
    for name in ("blank", "hard"):
        with pytest.raises(InputValidationError, match="a file it did not write"):
            OutputDir(tmp_path / name, "plan").acquire()
    assert elsewhere.read_text() == "pid 4242 since 10:00:00"
    # a killed run's lock (its text, or empty): taken over, and removed when done
    for text in ("pid 4242 since 10:00:00", ""):
        (tmp_path / ".stale.edge-coverage.lock").write_text(text)
        with OutputDir(tmp_path / "stale", "plan") as od:
            assert od.path == tmp_path / "stale"
        assert not (tmp_path / ".stale.edge-coverage.lock").exists()


def test_a_lock_replaced_while_held_is_not_removed(tmp_path):
    """Release removes the lock file only when it is still the one this run holds."""
    od = OutputDir(tmp_path / "plan", "plan")
    od.acquire()
    lock = tmp_path / ".plan.edge-coverage.lock"
    lock.unlink()
    lock.write_text("someone else's\n")
    od.release()
    assert lock.read_text() == "someone else's\n"


@pytest.mark.parametrize("out", ["/", "ROOTLINK"])
def test_the_root_as_out_is_refused_not_an_internal_error(tmp_path, out):
    if out == "ROOTLINK":
        (tmp_path / "root").symlink_to("/", target_is_directory=True)
        out = str(tmp_path / "root")
    r = run(*PLAN_ARGS, "--no-map", "--no-report", "--out", out)
    assert r.returncode == 2 and "root of the file system" in r.stderr
    assert "internal error" not in r.stderr


def test_a_name_too_long_for_the_staging_directories_is_refused_first(tmp_path):
    """A 225-byte --out name passed the checks, was planned, and then failed to write its
    staging directory (exit 6, the plan lost); it is now refused before the work. The
    longest name accepted is written."""
    from coverage.outputs.outdir import MAX_NAME_BYTES

    long = tmp_path / ("y" * (MAX_NAME_BYTES + 6))
    r = run(*PLAN_ARGS, "--no-map", "--no-report", "--out", long)
    assert r.returncode == 2 and f"at most {MAX_NAME_BYTES} bytes" in r.stderr
    assert "reading" not in r.stderr and not long.exists()
    ok = tmp_path / ("y" * MAX_NAME_BYTES)
    assert run(*PLAN_ARGS, "--no-map", "--no-report", "--out", ok).returncode == 0
    assert (ok / "summary.json").is_file()


def test_an_old_aside_directory_holding_a_users_file_is_left_alone(tmp_path, sample_inputs):
    """A directory named like the ones a swap moves aside (``-old-``) but holding a file
    the tool did not write was removed as a killed run's leftover (a tester's find);
    docs/outputs.md says it is left alone. So is one without the tool's marker whose
    files have the tool's names (tester 144: it was removed). A replaced directory left
    with its marker (a removal cut short) still goes."""
    import shutil as sh

    from coverage.planner.plan import plan_sites

    out = tmp_path / "plan1"
    plan = plan_sites(*sample_inputs, budget_ms=40, kmedian_time_limit_s=5)
    plan.to_dir(out, map=False, report=False, gis=False)
    mine = tmp_path / ".plan1.edge-coverage-old-123-deadbeef"
    mine.mkdir()
    (mine / "thesis.tex").write_text("x")
    alike = tmp_path / ".plan1.edge-coverage-old-125-deadbeef"
    alike.mkdir()
    (alike / "summary.json").write_text("{}")
    left = tmp_path / ".plan1.edge-coverage-old-124-deadbeef"
    sh.copytree(out, left)  # (a replaced plan directory, with its marker)
    plan.to_dir(out, map=False, report=False, gis=False)
    assert (mine / "thesis.tex").read_text() == "x"
    assert (alike / "summary.json").read_text() == "{}"
    assert not left.exists()


def test_the_markers_room_is_taken_before_the_outputs(tmp_path):
    """The marker was written last: a disk the outputs filled (optional ones included,
    written fine) lost the whole plan at that write, exit 6 (a tester's find on a 200 KiB
    tmpfs). Its room is now taken when the staging directory is made, and the marker is
    written over it: exact JSON, no padding left."""
    from coverage.outputs.outdir import MARKER_RESERVE_BYTES, OutputDir

    with OutputDir(tmp_path / "out", "plan") as od:
        staging = od.start()
        assert (staging / MARKER).stat().st_size == MARKER_RESERVE_BYTES
        (staging / "sites.csv").write_text("site_id\na\n")
        final = od.commit()
    text = (final / MARKER).read_text()
    assert text == text.rstrip() + "\n" and json.loads(text)["files"] == ["sites.csv"]


def test_a_full_disk_after_the_tables_keeps_the_plan(tmp_path):
    """End to end on a small tmpfs (root only): with room for the tables but not for every
    optional output, the plan is written and the run exits 5, at every fill level."""
    import shutil

    small = tmp_path / "small"
    small.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k",
                                            "tmpfs", str(small)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root and mount (a 200 KiB tmpfs)")
    try:
        codes = {}
        for free_k in (100, 116, 132):
            for e in small.iterdir():
                shutil.rmtree(e) if e.is_dir() else e.unlink()
            (small / "filler").write_bytes(b"\0" * ((200 - free_k) * 1024))
            r = run("plan", "--demo", "--country", "LU", "--no-map", "--out", small / "q",
                    cwd=tmp_path)
            codes[free_k] = r.returncode
            if r.returncode == 5:
                assert read_marker(small / "q")["kind"] == "plan"
                assert (small / "q" / "sites.csv").exists()
        assert set(codes.values()) == {5}, codes
    finally:  # (the run is in this process now: a descriptor it left open would keep the
        # file system busy, so the lazy unmount takes it down when it closes)
        if subprocess.run(["umount", str(small)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(small)], capture_output=True)


def test_a_file_edited_since_the_tool_wrote_it_is_not_replaced(tmp_path, sample_inputs):
    """A re-run replaced a plan directory's sites.csv that the user had edited since, and
    the edit was lost (a tester's find; calibrate already kept an edited model file). The
    marker records each file's size and time: a run into the directory is refused naming
    the edited file, which is left as it is; an unedited directory is replaced as before."""
    from coverage.errors import InputValidationError
    from coverage.planner.plan import plan_sites

    out = tmp_path / "plan1"
    plan = plan_sites(*sample_inputs, budget_ms=40, kmedian_time_limit_s=5)
    plan.to_dir(out, map=False, report=False, gis=False)
    plan.to_dir(out, map=False, report=False, gis=False)  # unedited: replaced
    assert "sites.csv" in read_marker(out)["stats"]
    with open(out / "sites.csv", "a") as f:
        f.write("# my edit\n")
    edited = (out / "sites.csv").read_bytes()
    chk = check_output_dir(out)
    assert chk.problems and "sites.csv changed since edge-coverage wrote them" in chk.problems[0]
    with pytest.raises(InputValidationError, match="sites.csv changed"):
        plan.to_dir(out, map=False, report=False, gis=False)
    assert (out / "sites.csv").read_bytes() == edited
    # the report command keeps the tables (it rewrites report.html only): not refused
    assert not check_output_dir(out, must_exist=True).problems
    # the fix the message gives works (reviewer 99: "copy them elsewhere" left the edit
    # there, and the next run was refused again)
    assert "Fix: move the edited files out of" in chk.problems[0]
    (out / "sites.csv").rename(tmp_path / "my-sites.csv")
    plan.to_dir(out, map=False, report=False, gis=False)
    assert (tmp_path / "my-sites.csv").read_bytes() == edited


def test_a_copied_plan_directory_is_not_taken_for_an_edited_one(tmp_path, sample_inputs):
    """A plan directory copied with ``cp -r`` (new times, same contents) was called edited:
    the report boxed every table and a plan into the copy was refused. The marker records
    each file's hash too, so the copy is the tool's own; a real edit of the copy is still
    found (same size, other bytes)."""
    import shutil

    from coverage.errors import InputValidationError
    from coverage.outputs.outdir import edited_entries
    from coverage.planner.plan import plan_sites

    out = tmp_path / "plan1"
    plan = plan_sites(*sample_inputs, budget_ms=40, kmedian_time_limit_s=5)
    plan.to_dir(out, map=False, report=False, gis=False)
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)  # copy2: same times; now give every file a new one
    for f in copy.iterdir():
        os.utime(f, ns=(f.stat().st_mtime_ns + 10**9, f.stat().st_mtime_ns + 10**9))
    assert edited_entries(copy) == []
    assert not check_output_dir(copy).problems
    plan.to_dir(copy, map=False, report=False, gis=False)  # accepted: replaced
    # the same size, other bytes, another time: an edit
    sites = copy / "sites.csv"
    data = bytearray(sites.read_bytes())
    i = data.index(b"0")
    data[i:i + 1] = b"1"
    sites.write_bytes(bytes(data))
    os.utime(sites, ns=(sites.stat().st_mtime_ns + 10**9,) * 2)
    assert edited_entries(copy) == ["sites.csv"]
    with pytest.raises(InputValidationError, match="sites.csv changed"):
        plan.to_dir(copy, map=False, report=False, gis=False)


@pytest.mark.parametrize("put", ["file", "link", "dangling_link"])
def test_an_out_directory_replaced_by_a_file_while_planning_is_left_as_it_is(tmp_path, put):
    """Tester 95: a user who replaced ``--out`` with a file while the plan was computed
    found the file hidden at ``.NAME.edge-coverage-tmp-*`` (the exchange swapped it out)
    and the run exited 6. The user's file, or link, stays where it was, byte for byte;
    the new outputs are kept, complete, beside it; the message says both."""
    from coverage.errors import OutputWriteError

    out = tmp_path / "plan"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with OutputDir(out, "plan") as od:
        staging = od.start()
        (staging / "summary.json").write_text(json.dumps({"version": "t", "site_count": 1}))
        (staging / "sites.csv").write_text("site_id,lat,lon\na,0,0\n")
        out.rmdir() if out.is_dir() else None
        if put == "file":
            out.write_text("my notes\n")
        elif put == "link":
            out.symlink_to(elsewhere)
        else:
            out.symlink_to(tmp_path / "nowhere")
        with pytest.raises(OutputWriteError, match="no longer a directory") as info:
            od.commit()
    if put == "file":
        assert out.read_text() == "my notes\n"
    else:
        assert out.is_symlink() and os.readlink(out).endswith(
            "elsewhere" if put == "link" else "nowhere")
    assert os.listdir(elsewhere) == []
    kept = [p for p in tmp_path.iterdir() if ".edge-coverage-new-" in p.name]
    assert len(kept) == 1 and str(kept[0]) in str(info.value)
    assert json.loads((kept[0] / "summary.json").read_text())["site_count"] == 1
    assert (kept[0] / MARKER).is_file()
    hidden = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert hidden == [] or all(".lock" in h for h in hidden), hidden


def test_swap_dir_without_the_exchange_leaves_a_file_in_place(tmp_path, monkeypatch):
    """The two-rename fallback (no ``renameat2``) refuses a target that is a file too."""
    from coverage.outputs import outdir

    monkeypatch.setattr(outdir, "_exchange", lambda a, b: False)
    final = tmp_path / "final"
    final.write_text("mine")
    staging = tmp_path / "s"
    staging.mkdir()
    (staging / "n").write_text("new")
    with pytest.raises(outdir.ForeignFilesError):
        swap_dir(staging, final)
    assert final.read_text() == "mine" and (staging / "n").read_text() == "new"


def test_swap_dir_without_the_exchange_puts_the_target_back_on_ctrl_c(tmp_path,
                                                                      monkeypatch):
    """Tester 96: in the two-rename fallback a Ctrl-C during the ownership check, with the
    target moved aside, left no directory at the target's name."""
    from coverage.outputs import outdir

    monkeypatch.setattr(outdir, "_exchange", lambda a, b: False)
    final = tmp_path / "final"
    final.mkdir()
    (final / "old").write_text("old")
    staging = tmp_path / "s"
    staging.mkdir()
    (staging / "n").write_text("new")

    def interrupted(_d):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        swap_dir(staging, final, foreign=interrupted)
    assert (final / "old").read_text() == "old" and (staging / "n").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final", "s"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_stdout_that_cannot_be_written_keeps_the_plan_and_exits_5(tmp_path):
    """Tester 95: ``> /dev/full`` ended in exit 1, "internal error", after the plan was
    written. The plan stays, stderr says once what was lost, and the exit is 5."""
    out = tmp_path / "plan"
    with open("/dev/full", "w") as full:
        r = subprocess.run([EXE, *PLAN_ARGS[:-1], "--no-map", "--out", str(out)],
                           stdout=full, stderr=subprocess.PIPE, text=True, timeout=600)
    assert r.returncode == 5, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.count("cannot write to standard output") == 1
    assert (out / "summary.json").is_file() and read_marker(out) is not None
    with open("/dev/full", "w") as full:
        r = subprocess.run([EXE, "--version"], stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=60)
    assert r.returncode == 5 and "cannot write to standard output" in r.stderr
    for argv in (["--help"], ["plan", "--help"]):  # it was exit 0, the text lost
        with open("/dev/full", "w") as full:
            r = subprocess.run([EXE, *argv], stdout=full, stderr=subprocess.PIPE,
                               text=True, timeout=60)
        assert r.returncode == 5 and "the help text is lost" in r.stderr, argv
        assert "Traceback" not in r.stderr and "Exception ignored" not in r.stderr


@pytest.mark.parametrize("closed", ["stdout", "stderr"])
def test_a_closed_standard_stream_is_not_an_internal_error(tmp_path, closed):
    """Tester 96: with stdout closed (``>&-``) Python sets ``sys.stdout`` to None and the
    plan ended in an internal error (exit 1) in the solver; with stderr closed, exit 1
    too. The closed stream gets the null device: the plan is written, exit 0, and no
    output file took descriptor 1 or 2 (nothing written into it)."""
    out = tmp_path / "plan"
    keep = {"stdout": 2, "stderr": 1}[closed]
    r = subprocess.run([EXE, *PLAN_ARGS[:-1], "--no-map", "--out", str(out)],
                       stdout=subprocess.PIPE if keep == 1 else None,
                       stderr=subprocess.PIPE if keep == 2 else None, text=True,
                       timeout=600, preexec_fn=lambda: os.close(3 - keep))
    assert r.returncode == 0, (r.stdout, r.stderr)
    shown = r.stdout if keep == 1 else r.stderr
    assert "internal error" not in shown and "Traceback" not in shown
    s = json.loads((out / "summary.json").read_text())  # whole, nothing else in it
    assert s["site_count"] >= 1 and read_marker(out)["kind"] == "plan"
    for name in ("sites.csv", "failures.csv"):
        assert "HiGHS" not in (out / name).read_text()


def test_the_solver_starts_with_descriptor_1_closed():
    """The API with descriptor 1 closed (``sys.stdout`` None): the first HiGHS model
    silenced its banner through ``sys.stdout.flush()`` and ``os.dup(1)`` and raised."""
    code = ("import os, sys\nos.close(1)\nsys.stdout = None\n"
            "from coverage.solvers.highs import new_highs\nnew_highs()\n")
    r = subprocess.run([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr


def test_report_of_a_plan_whose_report_was_skipped_gives_the_reason(tmp_path):
    """Tester 95: after a plan run skipped the report (the disk was full), ``report``
    blamed ``--no-report``. It gives the reason the marker recorded."""
    out = tmp_path / "plan"
    assert run(*PLAN_ARGS, "--no-map", "--out", out).returncode == 0
    reason = "OSError: [Errno 28] No space left on device"
    marker = json.loads((out / MARKER).read_text())
    for name in ("sweep.csv", "report.html"):
        (out / name).unlink()
        marker["files"].remove(name)
        marker["stats"].pop(name)
    marker["skipped"] = {"sweep.csv": reason, "report.html": reason}
    (out / MARKER).write_text(json.dumps(marker))
    r = run("report", out)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"could not write sweep.csv: {reason}" in r.stderr
    assert "--no-report" not in r.stderr and "free disk space" in r.stderr


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_termination_says_whether_the_outputs_were_written(tmp_path, monkeypatch, capsys,
                                                              when):
    """Tester 95: a SIGTERM landing after the swap said only "terminated", exit 143, with
    the new plan complete in place. It now says the outputs are complete (still 143: the
    run did not end by itself); one landing before the swap does not."""
    from coverage.outputs import plandir

    out = tmp_path / "plan"

    def stop(*_a, **_k):
        raise cli._Terminated()

    if when == "after":
        monkeypatch.setattr(cli, "_headline", stop)  # the first thing after the swap
    else:
        monkeypatch.setattr(plandir, "write_plan", stop)  # before anything is swapped in
    assert cli.main([*PLAN_ARGS, "--no-map", "--out", str(out)]) == 143
    err = capsys.readouterr().err
    if when == "after":
        assert f"terminated after the outputs were written: {out} is complete" in err
        assert read_marker(out) is not None
    else:
        assert err.strip().endswith("edge-coverage: terminated") and not out.exists()


def test_a_damaged_marker_is_named(tmp_path):
    """Tester 96: a plan directory whose marker was cut short was "not written by
    edge-coverage": it is named as a damaged marker, and nothing is replaced. A user's own
    file of that name that is no marker at all is not called damaged."""
    out = tmp_path / "plan"
    assert run(*PLAN_ARGS, "--no-map", "--out", out).returncode == 0
    (out / MARKER).write_text('{"tool": "edge-cov')
    before = snapshot(out)
    r = run(*PLAN_ARGS, "--no-map", "--out", out)
    assert r.returncode == 2
    assert f"its marker {MARKER} is damaged" in r.stderr and "Traceback" not in r.stderr
    assert snapshot(out) == before
    other = tmp_path / "other"
    other.mkdir()
    (other / MARKER).write_text("my notes, not JSON")
    chk = check_output_dir(other)
    assert chk.problems and "marker .edge-coverage.json is damaged" not in chk.problems[0]
    assert "was not written by edge-coverage" in chk.problems[0]


def test_a_nul_in_a_path_is_a_message_not_an_internal_error(sample_inputs):
    """Tester 96: a NUL character in a path (from the API: the shell cannot pass one)
    raised ValueError from the os module. A message names it."""
    from coverage.errors import InputValidationError
    from coverage.inputs.tables import read_demand
    from coverage.planner.plan import plan_sites

    with pytest.raises(InputValidationError, match="holds a NUL character"):
        read_demand("demand\x00.csv")
    plan = plan_sites(*sample_inputs, budget_ms=40, kmedian_time_limit_s=5)
    with pytest.raises(InputValidationError,
                       match=r"Plan.to_dir '.*' holds a NUL character"):
        plan.to_dir("plan\x00dir", map=False, report=False, gis=False)
    # a batch: the output directory and a scenario file's input path (reviewer 99)
    from coverage.batch import run_batch

    cfg = Path(os.environ.get("TMPDIR", "/tmp")) / f"nul-{os.getpid()}.toml"
    cfg.write_text('[base]\ndemand = "d\\u0000.csv"\n'
                   f'candidates = "{DATA / "west_candidates.csv"}"\n')
    try:
        with pytest.raises(InputValidationError) as info:
            run_batch(cfg, "out\x00dir", workers=0)
    finally:
        cfg.unlink()
    assert "[base.demand] the path 'd\\x00.csv' holds a NUL character" in str(info.value)
    assert "run_batch(out=...) 'out\\x00dir' holds a NUL character" in str(info.value)


def test_a_batch_directory_with_a_users_file_is_refused_in_its_own_words(tmp_path):
    """Tester 96: a batch directory holding the user's file was refused "(the whole
    directory is replaced when it is written)": a batch directory is written in place."""
    out = tmp_path / "b"
    with OutputDir(out, "batch") as od:
        od.adopt(["scenarios.csv"])
    (out / "notes.txt").write_text("mine")
    problems = check_output_dir(out, "batch").problems
    assert len(problems) == 1 and "holds files edge-coverage did not write: notes.txt" in \
        problems[0]
    assert "a batch run writes its tables" in problems[0] and "replaced" not in problems[0]


def test_ctrl_c_in_the_swap_time_check_puts_the_old_directory_back(tmp_path, monkeypatch,
                                                                   capsys):
    """Reviewer 99: a Ctrl-C during the ownership check, after the exchange, left the old
    directory under the staging name, which the run's clean-up then removed (a user's
    file in it included). The exchange is undone: the old directory, the user's file in
    it, is back; the staging directory goes; the message is "interrupted"."""
    out = tmp_path / "plan"
    assert cli.main([*PLAN_ARGS, "--no-map", "--no-report", "--out", str(out)]) == 0

    def interrupted(self, old):
        (old / "notes.txt").write_text("mine")  # added while the run computed
        raise KeyboardInterrupt

    monkeypatch.setattr(OutputDir, "_not_ours", interrupted)
    code = cli.main([*PLAN_ARGS, "--no-map", "--no-report", "--budget-ms", "50",
                     "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 130 and "interrupted" in err and "is complete" not in err
    assert (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "summary.json").read_text())["budget_ms"] == 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]


def test_a_half_removed_old_directory_is_never_put_back(tmp_path):
    """Reviewer 99: a replaced directory whose removal was cut short (its marker removed
    last) was restored as the target when the target was absent (the user had moved it
    away), a plan missing files. Only a whole old directory is put back; a partial one is
    removed as the leftover it is."""
    out = tmp_path / "plan"
    assert run(*PLAN_ARGS, "--no-map", "--out", out).returncode == 0
    partial = tmp_path / ".plan.edge-coverage-old-1-0123abcd"
    out.rename(partial)
    (partial / "sites.csv").unlink()
    r = run(*PLAN_ARGS, "--no-map", "--budget-ms", "50", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "restored" not in r.stderr
    assert json.loads((out / "summary.json").read_text())["budget_ms"] == 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]
    # a whole one still is (a run killed between the two renames of the fallback swap)
    whole = tmp_path / ".plan.edge-coverage-old-2-0123abcd"
    out.rename(whole)
    with OutputDir(out) as od:
        assert od.path == out and (out / "sites.csv").is_file()
    assert json.loads((out / "summary.json").read_text())["budget_ms"] == 50


def test_a_path_too_long_is_a_message_not_an_internal_error(tmp_path):
    """Tester 100: a path with a name over 255 bytes (``--demand``, ``--out``, ``report``,
    ``--upf``, ``calibrate``) ended in "internal error: OSError: File name too long",
    exit 1. One message, exit 2."""
    from coverage.errors import InputValidationError
    from coverage.inputs.tables import read_demand

    long = "c" * 300
    with pytest.raises(InputValidationError, match="the path is too long"):
        read_demand(tmp_path / f"{long}.csv")
    # only the last name too long: the message names the longest name accepted, once
    # (the lock check said "cannot check its lock file" beside it, and a name over 255
    # bytes got the generic message); a directory on the way too long: the path's message
    from coverage.outputs.outdir import MAX_NAME_BYTES, busy_problems

    for name in (long, "c" * 250):
        (problem,) = check_output_dir(tmp_path / name).problems
        assert problem.startswith(f"--out {tmp_path}") and problem.endswith(
            f": the directory name is {len(name)} bytes long; edge-coverage writes beside "
            "it under longer names (.NAME.edge-coverage-tmp-..., 36 bytes more), which must "
            f"fit the file system's 255. Fix: give --out a name of at most {MAX_NAME_BYTES} "
            "bytes"), problem
        assert busy_problems(tmp_path / name) == []
    assert "the path is too long" in check_output_dir(tmp_path / long / "o").problems[0]
    assert busy_problems(tmp_path / long / "o") == []
    for argv in ([*PLAN_ARGS[:2], str(tmp_path / f"{long}.csv"), *PLAN_ARGS[3:],
                  "--out", str(tmp_path / "o")],
                 [*PLAN_ARGS, "--out", str(tmp_path / long / "o")],
                 [*PLAN_ARGS, "--out", str(tmp_path / long)],
                 ["report", str(tmp_path / long)],
                 ["calibrate", "--pings", str(tmp_path / f"{long}.csv"), "--out",
                  str(tmp_path / "m.toml")]):
        r = run(*argv)
        assert r.returncode == 2, (argv[0], r.stderr)
        assert "internal error" not in r.stderr, r.stderr
        assert "too long" in r.stderr or f"at most {MAX_NAME_BYTES} bytes" in r.stderr
        assert r.stderr.count("error:") == 1 and "lock file" not in r.stderr, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_path_too_long_for_the_files_written_under_it_is_refused_first(tmp_path):
    """Tester 102: an --out of about 4,040-4,076 bytes (every name under 255) passed the
    checks, was planned, then failed to write (exit 6, the plan lost). It is refused
    before the work, naming the longest path accepted; a path of that length is taken."""
    from coverage.outputs.outdir import MAX_PATH_BYTES

    def deep(total: int) -> Path:
        p = tmp_path
        while len(os.fsencode(p)) + 201 < total:
            p = p / ("d" * 200)
        return p / ("o" * (total - len(os.fsencode(p)) - 1))

    too_long, longest = deep(MAX_PATH_BYTES + 1), deep(MAX_PATH_BYTES)
    assert len(os.fsencode(too_long)) == MAX_PATH_BYTES + 1
    too_long.parent.mkdir(parents=True)
    longest.parent.mkdir(parents=True, exist_ok=True)
    (problem,) = check_output_dir(too_long).problems
    assert f"give --out a path of at most {MAX_PATH_BYTES:,} bytes" in problem
    r = run(*PLAN_ARGS, "--no-map", "--out", too_long)
    assert r.returncode == 2 and r.stderr.count("error:") == 1, r.stderr
    assert "reading" not in r.stderr and not too_long.exists()
    assert check_output_dir(longest).problems == []
    assert run(*PLAN_ARGS, "--no-map", "--out", longest).returncode == 0
    assert (longest / "summary.json").is_file()


def test_a_link_to_a_directory_with_a_long_name_names_the_link_target(tmp_path):
    """Tester 102: ``--out shortlink`` leading to a 230-byte name was told to shorten
    ``shortlink``; the message names the target."""
    target = tmp_path / ("t" * 230)
    target.mkdir()
    (tmp_path / "short").symlink_to(target)
    (problem,) = check_output_dir(tmp_path / "short").problems
    assert f"(a symbolic link to {target})" in problem and "whose name has at most" in problem


@pytest.mark.parametrize("existing", [False, True])
def test_a_swap_that_fails_keeps_the_new_outputs_beside_the_target(tmp_path, monkeypatch,
                                                                   existing):
    """A swap refused by the file system (another user's directory in a shared sticky
    one, a directory made immutable meanwhile) threw the computed plan away (tester 144):
    the complete new directory is kept as NAME.edge-coverage-new-*, the target left as
    it was, and the message says both."""
    from coverage.errors import OutputWriteError
    from coverage.outputs import outdir

    out = tmp_path / "plan"
    if existing:
        out.mkdir()

    def refused(*_a, **_k):
        raise PermissionError(1, "Operation not permitted", str(out))

    with OutputDir(out, "plan") as od:
        staging = od.start()
        (staging / "summary.json").write_text(json.dumps({"version": "t", "site_count": 3}))
        (staging / "sites.csv").write_text("site_id,lat,lon\na,0,0\n")
        monkeypatch.setattr(outdir, "swap_dir", refused)
        with pytest.raises(OutputWriteError, match="cannot put the new outputs in place "
                                                   "of .*Operation not permitted") as info:
            od.commit()
    kept = [p for p in tmp_path.iterdir() if ".edge-coverage-new-" in p.name]
    assert len(kept) == 1
    assert f"The new outputs are complete in {kept[0]}" in str(info.value)
    assert json.loads((kept[0] / "summary.json").read_text())["site_count"] == 3
    assert (kept[0] / MARKER).is_file()
    assert (out.is_dir() and os.listdir(out) == []) if existing else not out.exists()


def test_an_out_that_cannot_be_renamed_is_refused_before_the_work(tmp_path):
    """A --out made immutable (chattr +i) cannot be swapped: refused with the reason
    before any work (it was found after the plan was computed: tester 144). Skipped where
    the file system or the user cannot set the flag."""
    from coverage.outputs.outdir import rename_blocked

    out = tmp_path / "plan"
    out.mkdir()
    assert rename_blocked(out) is None
    r = subprocess.run(["chattr", "+i", str(out)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"chattr +i not available here: {r.stderr.strip()}")
    try:
        assert "immutable" in (rename_blocked(out) or "")
        got = run(*PLAN_ARGS, "--out", out)
        assert got.returncode == 2, got.stderr
        assert "cannot be replaced: it is immutable or append-only" in got.stderr
        assert "Traceback" not in got.stderr
    finally:
        subprocess.run(["chattr", "-i", str(out)], capture_output=True)


def test_another_users_out_in_a_sticky_directory_is_refused_before_the_work(tmp_path):
    """An empty, world-writable --out owned by another user inside a shared sticky
    directory (like /tmp) cannot be renamed by this user: refused before any work, not
    after the plan (tester 144). Run as root without CAP_FOWNER (setpriv), the way the
    tester did; skipped where that cannot be arranged."""
    import shutil as sh

    if os.geteuid() != 0 or sh.which("setpriv") is None:
        pytest.skip("needs root and setpriv to act as another user")
    sticky = tmp_path / "shared"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    os.chown(sticky, 1, 1)
    out = sticky / "plan"
    out.mkdir()
    os.chmod(out, 0o777)
    os.chown(out, 65534, 65534)
    code = ("import sys; from pathlib import Path; "
            "from coverage.outputs.outdir import rename_blocked; "
            "print(rename_blocked(Path(sys.argv[1])))")
    r = subprocess.run(["setpriv", "--inh-caps=-fowner", "--bounding-set=-fowner",
                        sys.executable, "-c", code, str(out)], capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        pytest.skip(f"setpriv could not drop CAP_FOWNER here: {r.stderr.strip()[:200]}")
    assert "belongs to another user (uid 65534)" in r.stdout, r.stdout + r.stderr
    assert "sticky bit" in r.stdout
    from coverage.outputs.outdir import rename_blocked

    assert rename_blocked(out) is None  # (root with CAP_FOWNER may rename it)


def test_a_look_alike_old_directory_without_a_marker_is_left_alone(tmp_path):
    """A directory named like the tool's replaced one (``.NAME.edge-coverage-old-*``) but
    without its marker is the user's, whatever its files are named: left alone (it was
    removed when every name was one the tool writes: tester 144); an empty one, a
    removal cut short after the marker, goes."""
    out = tmp_path / "prev"
    mine = tmp_path / ".prev.edge-coverage-old-999-deadbeef"
    mine.mkdir()
    (mine / "sites.csv").write_text("precious\n")
    empty = tmp_path / ".prev.edge-coverage-old-998-0badcafe"
    empty.mkdir()
    with OutputDir(out, "plan") as od:
        staging = od.start()
        (staging / "sites.csv").write_text("site_id,lat,lon\na,0,0\n")
        od.commit()
    assert (mine / "sites.csv").read_text() == "precious\n"
    assert not empty.exists()


def test_a_replaced_file_that_cannot_be_removed_is_said_and_keeps_the_marker(tmp_path,
                                                                              caplog):
    """A file of the replaced directory that cannot be deleted (chattr +i) left a hidden
    directory without its marker and without a word (tester 144): it keeps the marker (a
    later run removes it once it can) and a warning names it. Skipped where chattr +i is
    not available."""
    out = tmp_path / "prev"
    for n in (1, 2):
        with OutputDir(out, "plan") as od:
            staging = od.start()
            (staging / "sites.csv").write_text(f"site_id,lat,lon\na,0,{n}\n")
            od.commit()
        if n == 1:
            r = subprocess.run(["chattr", "+i", str(out / "sites.csv")], capture_output=True,
                               text=True)
            if r.returncode != 0:
                pytest.skip(f"chattr +i not available here: {r.stderr.strip()}")
    try:
        left = [p for p in tmp_path.iterdir() if ".edge-coverage-old-" in p.name]
        assert len(left) == 1 and (left[0] / MARKER).is_file()
        assert any(str(left[0]) in r.getMessage() and "could not be removed" in r.getMessage()
                   for r in caplog.records)
        assert (out / "sites.csv").read_text().endswith("0,2\n")
    finally:
        for p in tmp_path.rglob("sites.csv"):
            subprocess.run(["chattr", "-i", str(p)], capture_output=True)
    with OutputDir(out, "plan") as od:  # the flag gone: the next run removes it
        staging = od.start()
        (staging / "sites.csv").write_text("site_id,lat,lon\na,0,3\n")
        od.commit()
    assert not [p for p in tmp_path.iterdir() if ".edge-coverage-old-" in p.name]


def test_an_edit_that_keeps_the_size_and_time_is_seen(tmp_path):
    """An edit of the same size whose modification time was put back (``touch -r``) was
    taken for the tool's file, and the next run replaced it (tester 144): a file up to
    REHASHED_MAX_BYTES is compared with its recorded SHA-256 whatever its time."""
    out = tmp_path / "ed"
    with OutputDir(out, "plan") as od:
        staging = od.start()
        (staging / "sites.csv").write_text("site_id,tier\na,candidate\n")
        od.commit()
    assert check_output_dir(out).problems == []
    f = out / "sites.csv"
    st = f.stat()
    f.write_text("site_id,tier\na,CANDIDATE\n")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    problems = check_output_dir(out).problems
    assert len(problems) == 1 and "sites.csv changed since edge-coverage wrote" in problems[0]


@pytest.mark.parametrize("fail", ["move_old_aside", "fsync_parent"])
def test_a_step_after_a_swap_that_went_through_commits_the_new_outputs(tmp_path,
                                                                       monkeypatch, fail):
    """The swap made, a step after it failed (moving the old directory aside, an fsync):
    the new outputs are the target and the run is committed; the old directory is
    removed or left with its marker for the next run (review 139: the message called the
    old directory the new outputs)."""
    from coverage.outputs import outdir

    out = tmp_path / "plan"
    for n in (1, 2):
        with OutputDir(out, "plan") as od:
            staging = od.start()
            (staging / "sites.csv").write_text(f"site_id,lat,lon\na,0,{n}\n")
            if n == 2:
                if fail == "move_old_aside":
                    real = os.rename

                    def rename(a, b, *args, real=real, **kw):
                        if ".edge-coverage-old-" in str(b):
                            raise OSError(28, "No space left on device", str(b))
                        return real(a, b, *args, **kw)

                    monkeypatch.setattr(outdir.os, "rename", rename)
                else:
                    real_fsync = outdir._fsync_path

                    def fsync(path, directory=False, real_fsync=real_fsync):
                        if directory and Path(path) == out.parent:
                            raise OSError(5, "Input/output error", str(path))
                        return real_fsync(path, directory)

                    monkeypatch.setattr(outdir, "_fsync_path", fsync)
            od.commit()
            assert od.committed
        monkeypatch.undo()
    assert (out / "sites.csv").read_text().endswith("0,2\n")
    assert not [p for p in tmp_path.iterdir() if ".edge-coverage-new-" in p.name]
    with OutputDir(out, "plan") as od:  # the next run removes whatever was left
        pass
    left = [p.name for p in tmp_path.iterdir() if "edge-coverage-old" in p.name
            or "edge-coverage-tmp" in p.name]
    assert left == []


def test_an_append_only_parent_is_refused_before_the_work(tmp_path):
    """A parent made append-only (chattr +a) takes new entries but renames none: the
    check's probe now tries to remove what it made, and the run is refused before the
    work (it failed at the swap with an internal error: review 139). Skipped where chattr
    +a is not available."""
    parent = tmp_path / "shared"
    parent.mkdir()
    r = subprocess.run(["chattr", "+a", str(parent)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"chattr +a not available here: {r.stderr.strip()}")
    try:
        problems = check_output_dir(parent / "plan").problems
        assert len(problems) == 1 and "not removed or renamed" in problems[0], problems
    finally:
        subprocess.run(["chattr", "-a", str(parent)], capture_output=True)


def test_an_edit_during_the_run_that_puts_the_time_back_is_not_swapped_away(tmp_path):
    """An edit made while the run computes, its modification time put back, was swapped
    away (the swap compared sizes and times only: review 139): files up to
    REHASHED_MAX_BYTES are compared by content there too."""
    from coverage.errors import OutputWriteError

    out = tmp_path / "plan"
    with OutputDir(out, "plan") as od:
        staging = od.start()
        (staging / "sites.csv").write_text("site_id,tier\na,candidate\n")
        od.commit()
    with OutputDir(out, "plan") as od:
        staging = od.start()
        (staging / "sites.csv").write_text("site_id,tier\na,candidate\n")
        f = out / "sites.csv"
        st = f.stat()
        f.write_text("site_id,tier\na,CANDIDATE\n")
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
        with pytest.raises(OutputWriteError, match="sites.csv changed while"):
            od.commit()
    assert (out / "sites.csv").read_text() == "site_id,tier\na,CANDIDATE\n"


def test_an_empty_read_only_out_is_refused_like_a_read_only_plan(tmp_path):
    """Tester 159: an empty --out its owner made read-only (0555) was replaced through its
    writable parent (a full plan directory, mode 0555 kept), while a read-only plan
    directory was refused ("not writable"). Both are refused now. Run as root without
    CAP_DAC_OVERRIDE (setpriv), the way the tester did; skipped where that cannot be
    arranged."""
    import shutil as sh

    if os.geteuid() != 0 or sh.which("setpriv") is None:
        pytest.skip("needs root and setpriv to drop CAP_DAC_OVERRIDE")
    out = tmp_path / "ro"
    out.mkdir()
    os.chmod(out, 0o555)
    code = ("import sys; from pathlib import Path; "
            "from coverage.outputs.outdir import check_output_dir; "
            "print(check_output_dir(Path(sys.argv[1]), 'plan').problems)")
    caps = "-dac_override,-dac_read_search"
    r = subprocess.run(["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}",
                        sys.executable, "-c", code, str(out)], capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        pytest.skip(f"setpriv could not drop CAP_DAC_OVERRIDE here: {r.stderr.strip()[:200]}")
    assert "not writable" in r.stdout, r.stdout + r.stderr
    os.chmod(out, 0o755)


@pytest.mark.parametrize("start", ["absent", "empty", "a copy of a plan"])
def test_plan_files_copied_in_while_planning_are_never_replaced(tmp_path, monkeypatch,
                                                               capsys, start):
    """Tester 179: plan-named files (summary.json, sites.csv) copied into an --out that was
    absent or empty when the run started, or a whole plan directory copied there, marker
    and all, were replaced by the new plan without a word (exit 0). Anything that was not
    in the target when it was checked is the user's."""
    import shutil

    import coverage.outputs.outdir as od

    mine = tmp_path / "mine"
    assert cli.main([*PLAN_ARGS, "--no-map", "--no-report", "--out", str(mine)]) == 0
    out = tmp_path / "plan"
    if start == "empty":
        out.mkdir()
    real = od.fsync_tree

    def user_copies_in(root):
        real(root)
        if start == "a copy of a plan":
            shutil.copytree(mine, out)
            with (out / "sites.csv").open("a") as f:
                f.write("A,my annotation\n")
        else:
            out.mkdir(exist_ok=True)
            for name in ("summary.json", "sites.csv"):
                shutil.copy(mine / name, out / name)

    monkeypatch.setattr(od, "fsync_tree", user_copies_in)
    code = cli.main([*PLAN_ARGS, "--no-map", "--no-report", "--budget-ms", "50",
                     "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 6 and "sites.csv" in err, err
    assert json.loads((out / "summary.json").read_text())["budget_ms"] == 30
    assert (out / "sites.csv").read_bytes().startswith((mine / "sites.csv").read_bytes())
    kept = [p for p in tmp_path.iterdir() if ".edge-coverage-new-" in p.name]
    assert len(kept) == 1 and json.loads((kept[0] / "summary.json").read_text())[
        "budget_ms"] == 50


def test_ctrl_c_as_the_exchange_returns_puts_the_old_directory_back(tmp_path, monkeypatch):
    """Tester 179: a Ctrl-C handled as the atomic exchange returned left the new directory
    in place, its ownership check not run, and the old one (a file of the user's in it)
    hidden under the staging name, which the next run removed."""
    import coverage.outputs.outdir as od

    final, staging = tmp_path / "plan", tmp_path / "staging"
    final.mkdir()
    (final / "notes.txt").write_text("mine")
    staging.mkdir()
    (staging / "summary.json").write_text("{}")
    real = od._exchange

    def exchanged_then_interrupted(a, b):
        assert real(a, b)
        raise KeyboardInterrupt

    monkeypatch.setattr(od, "_exchange", exchanged_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        swap_dir(staging, final, foreign=lambda old: [])
    assert (final / "notes.txt").read_text() == "mine"
    assert (staging / "summary.json").exists()


def test_ctrl_c_as_the_first_rename_returns_puts_the_target_back(tmp_path, monkeypatch):
    """Tester 179, without the atomic exchange: a Ctrl-C handled as the rename of the
    target aside returned left no target at all."""
    import coverage.outputs.outdir as od

    final, staging = tmp_path / "plan", tmp_path / "staging"
    final.mkdir()
    (final / "summary.json").write_text('{"old": 1}')
    staging.mkdir()
    monkeypatch.setattr(od, "_exchange", lambda a, b: False)
    real = os.rename
    calls = []

    def renamed_then_interrupted(a, b):
        real(a, b)
        calls.append((a, b))
        if len(calls) == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(od.os, "rename", renamed_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        swap_dir(staging, final, foreign=lambda old: [])
    assert json.loads((final / "summary.json").read_text()) == {"old": 1}
    assert staging.exists()


def test_a_complete_leftover_holding_a_users_file_is_kept_in_sight(tmp_path, sample_inputs):
    """Tester 179: a run killed between the exchange and its check left the old target,
    with a file the user added, under the staging name; the next run removed it. A
    complete leftover holding anything the tool did not write (or an edited file) is
    now kept under a visible name, with a warning; one of the tool's own files only goes."""
    import shutil

    demand, sites = sample_inputs
    from coverage import plan_sites
    from coverage.model.latency import LatencyModel

    plan = plan_sites(demand, sites, budget_ms=25.0, kmedian_time_limit_s=2,
                      model=LatencyModel.from_profile("on-net"))
    src = plan.to_dir(tmp_path / "src", map=False, gis=False, report=False)
    left = tmp_path / ".plan.edge-coverage-tmp-123-abcdef12"
    shutil.copytree(src, left)
    (left / "notes.txt").write_text("mine")
    clean = tmp_path / ".plan.edge-coverage-tmp-456-abcdef12"
    shutil.copytree(src, clean)
    (tmp_path / "plan").mkdir()
    with OutputDir(tmp_path / "plan", "plan"):
        pass
    assert not clean.exists() and not left.exists()
    kept = [p for p in tmp_path.iterdir() if ".edge-coverage-kept-" in p.name]
    assert len(kept) == 1 and (kept[0] / "notes.txt").read_text() == "mine"


def test_a_skipped_outputs_reason_says_a_file_size_limit(tmp_path):
    """Tester 179: a GeoPackage over ``ulimit -f`` or on a full disk was skipped as
    "DataSourceError: Failed to commit transaction", without the cause."""
    code = ("from pathlib import Path; from coverage.outputs.plandir import _space_note; "
            "Path('big.gpkg').write_bytes(b'0' * 20_000); "
            "print(_space_note(Path('.'), RuntimeError('Failed to commit transaction'))); "
            "print('import:', _space_note(Path('.'), ImportError('No module named x')))")

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       preexec_fn=limit, cwd=tmp_path)
    assert "a file size limit of 20,000 bytes is set, ulimit -f, and a file reached it" in (
        r.stdout), r.stderr
    assert "import: \n" in r.stdout  # (review 158: any failure got the note)


def test_a_geopackage_over_the_file_size_limit_says_so(tmp_path):
    """Tester 193: a GeoPackage over ``ulimit -f`` was skipped as "DataSourceError: Failed
    to commit transaction" without the cause (SQLite rolls the file back under the limit,
    so no file had reached it by the time the reason was written): the write's SIGXFSZ is
    caught, and the reason names the limit."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (120 * 1024, 120 * 1024))

    out = tmp_path / "q"
    r = run("plan", "--demo", "--country", "LU", "--no-map", "--no-report", "--gpkg", "--out",
            out, preexec_fn=limit)
    assert r.returncode == 5, r.stderr
    line = next(x for x in r.stderr.splitlines() if "plan.gpkg not written" in x)
    assert "a file size limit of 122,880 bytes is set, ulimit -f, and a file reached it" in line
    assert (out / "sites.csv").exists() and not (out / "plan.gpkg").exists()


def test_one_output_dir_takes_two_writes(tmp_path, sample_inputs):
    """Review 158: a second write_plan through one OutputDir into a target absent at the
    start was refused (its own first plan read as files that appeared meanwhile)."""
    from coverage import plan_sites
    from coverage.model.latency import LatencyModel
    from coverage.outputs.plandir import write_plan

    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=25.0, kmedian_time_limit_s=2,
                      model=LatencyModel.from_profile("on-net"))
    with OutputDir(tmp_path / "absent", "plan") as od:
        write_plan(plan, od, map=False, gis=False, report=False)
        write_plan(plan, od, map=False, gis=False, report=False)
        (od.path / "notes.txt").write_text("mine")  # still the user's, after both
        with pytest.raises(OutputWriteError) as info:
            write_plan(plan, od, map=False, gis=False, report=False)
    assert info.value.kept is not None and (tmp_path / "absent" / "notes.txt").exists()


def test_a_markerless_staging_named_leftover_is_said(tmp_path, caplog):
    """Review 158: a directory under a staging name without a marker (the user's earlier
    --out, left there by a run killed in its swap) stayed hidden without a word."""
    hidden = tmp_path / ".plan.edge-coverage-tmp-99-abcdef12"
    hidden.mkdir()
    (hidden / "notes.txt").write_text("mine")
    with caplog.at_level("WARNING"), OutputDir(tmp_path / "plan", "plan"):
        pass
    assert (hidden / "notes.txt").read_text() == "mine"
    assert "holds no marker" in caplog.text and str(hidden) in caplog.text


def test_a_killed_reports_leftover_with_carried_edits_is_removed(tmp_path, sample_inputs):
    """Review 158: a report run killed before its swap leaves a complete staging whose
    edited tables are hard links to the target's: no copy of the user's, removed (it was
    kept in sight for ever)."""
    import shutil

    from coverage import plan_sites
    from coverage.model.latency import LatencyModel

    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=25.0, kmedian_time_limit_s=2,
                      model=LatencyModel.from_profile("on-net"))
    target = plan.to_dir(tmp_path / "plan", map=False, gis=False, report=False)
    with (target / "sites.csv").open("a") as f:
        f.write("my,annotation\n")
    left = tmp_path / ".plan.edge-coverage-tmp-77-abcdef12"
    shutil.copytree(target, left, copy_function=os.link)
    with OutputDir(target, "plan", must_exist=True) as _:
        pass
    assert not left.exists()
    assert not [p for p in tmp_path.iterdir() if "edge-coverage-kept" in p.name]


def test_a_directory_named_like_a_temporary_file_is_the_users(tmp_path):
    """Tester 193: a directory ``.sites.csv.deadbeef.tmp/`` (the name of the writer's
    temporary files) holding the user's thesis, in a plan directory, was removed with it
    by the next run, without a word. The writer makes files only: such a directory (or a
    link) is the user's, and the run is refused; a temporary file is still the tool's."""
    own = tmp_path / "own"
    own.mkdir()
    (own / MARKER).write_text(json.dumps(
        {"tool": "edge-coverage", "kind": "plan", "files": ["summary.json", "sites.csv"]}))
    (own / "summary.json").write_text("{}")
    (own / ".summary.json.0badcafe.tmp").write_text("{")  # a killed write's: the tool's
    assert not check_output_dir(own).problems
    (own / ".sites.csv.deadbeef.tmp").mkdir()
    (own / ".sites.csv.deadbeef.tmp" / "thesis.txt").write_text("four years")
    chk = check_output_dir(own)
    assert chk.problems and ".sites.csv.deadbeef.tmp (a directory)" in chk.problems[0], (
        chk.problems)
    # a plan directory from before the marker: the same
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "summary.json").write_text("{}")
    (legacy / ".sites.csv.x1.tmp").mkdir()
    assert check_output_dir(legacy).problems


def test_an_out_named_like_the_tools_temporary_directories_is_refused(tmp_path):
    """Tester 193: plans written into ``.x.edge-coverage-tmp-1-ab`` and
    ``.x.edge-coverage-old-2-cd`` were taken by a plan into ``x`` for its leftovers: one
    renamed into ``x`` ("restored ... a run was killed while swapping", which was false)
    and replaced, the other removed. Such names are refused as an --out."""
    for name in (".x.edge-coverage-tmp-1-ab", ".x.edge-coverage-old-2-cd",
                 ".my plan.edge-coverage-tmp-123-0f"):
        chk = check_output_dir(tmp_path / name)
        assert len(chk.problems) == 1, chk.problems
        assert "the name has the form edge-coverage gives its own temporary" in (
            chk.problems[0])
        assert f"which a run into {name.split('.edge-coverage')[0][1:]} takes" in (
            chk.problems[0])
        chk = check_output_dir(tmp_path / name, "batch")
        assert chk.problems
    for name in ("x.edge-coverage-tmp-1-ab", ".x.edge-coverage-new-1-ab", ".x"):
        assert not check_output_dir(tmp_path / name).problems, name


def test_a_loop_of_symbolic_links_is_said_as_one(tmp_path):
    """Tester 193: --out loopa (loopa -> loopb -> loopa) was "a symbolic link to ...,
    which does not exist"."""
    os.symlink(tmp_path / "loopb", tmp_path / "loopa")
    os.symlink(tmp_path / "loopa", tmp_path / "loopb")
    chk = check_output_dir(tmp_path / "loopa")
    assert len(chk.problems) == 1 and "a loop of symbolic links" in chk.problems[0], (
        chk.problems)


def test_a_partial_optional_output_that_cannot_be_removed_keeps_the_plan(
        tmp_path, monkeypatch, capsys):
    """Tester 193: when the partial file of a failed optional output could not be removed
    (a directory made at map.html's name meanwhile, a read-only or network file system),
    the error of its removal threw the whole plan away ("internal error", exit 1)."""
    import pathlib

    import coverage.outputs.maps

    def broken(*_a, **_k):
        raise RuntimeError("the map renderer broke")

    real_unlink = pathlib.Path.unlink

    def unlink(self, missing_ok=False):
        if self.name == "map.html":
            raise PermissionError(13, "Permission denied", str(self))
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(coverage.outputs.maps, "plan_map", broken)
    monkeypatch.setattr(pathlib.Path, "unlink", unlink)
    out = tmp_path / "plan"
    code = cli.main([*PLAN_ARGS, "--no-report", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 5, err
    assert "map.html not written: RuntimeError: the map renderer broke" in err
    assert "could not remove the partial map.html (Permission denied)" in err
    for name in ("summary.json", "sites.csv", "assignment.csv"):
        assert (out / name).is_file(), name


def test_a_stop_after_the_swap_says_the_new_outputs_are_in_place(tmp_path, monkeypatch):
    """Tester 193: SIGTERM landing on the rename that moves the old directory aside (the
    new one already exchanged into place) was reported as "terminated", as if nothing had
    been written. The run counts as committed (the command says DIR is complete), the
    target is the new directory, and the next run removes the old one left beside it."""
    import coverage.outputs.outdir as outdir

    probe = [tmp_path / "xa", tmp_path / "xb"]
    for d in probe:
        d.mkdir()
    exchanged = outdir._exchange(*probe)  # (else the two-rename swap: the old directory
    for d in probe:  # is moved aside before the new one is in place, review 165)
        d.rmdir()
    out = tmp_path / "plan"
    with OutputDir(out, "plan") as od:
        (od.start() / "summary.json").write_text("old")
        od.commit()
    real = os.rename

    def stop_at_the_aside(src, dst, *a, **k):
        if "-old-" in os.fspath(dst):
            raise KeyboardInterrupt
        return real(src, dst, *a, **k)

    with OutputDir(out, "plan") as od:
        (od.start() / "summary.json").write_text("new")
        monkeypatch.setattr(outdir.os, "rename", stop_at_the_aside)
        with pytest.raises(KeyboardInterrupt):
            od.commit()
        monkeypatch.setattr(outdir.os, "rename", real)
        assert od.committed == exchanged
    if not exchanged:  # stopped before the swap: the old directory, whole
        assert (out / "summary.json").read_text() == "old"
        return
    assert (out / "summary.json").read_text() == "new"
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".plan.edge-coverage-")]
    with OutputDir(out, "plan"):  # the next run: the old directory goes
        pass
    assert (out / "summary.json").read_text() == "new"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".plan.edge-coverage-")]


def test_a_report_repairs_a_directory_a_killed_swap_left_missing(tmp_path, capsys):
    """Tester 193: a run killed between the two renames of the non-atomic swap leaves DIR
    missing and its complete new directory beside it; `report DIR` said "does not exist"
    (only a plan run repaired it, and replaced it). The report repairs it first, under the
    lock (review 165: through the command, not only through OutputDir)."""
    out = tmp_path / "plan"
    assert cli.main([*PLAN_ARGS, "--no-map", "--out", str(out)]) == 0
    sites = (out / "sites.csv").read_text()
    os.rename(out, tmp_path / ".plan.edge-coverage-tmp-123-abcdef12")
    capsys.readouterr()
    assert cli.main(["report", str(out)]) == 0, capsys.readouterr().err
    assert "restored" in capsys.readouterr().err
    assert (out / "sites.csv").read_text() == sites and (out / "report.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]
    # nothing beside it: still "does not exist"
    os.rename(out, tmp_path / "elsewhere")
    assert cli.main(["report", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err

def test_a_report_whose_plotting_library_is_broken_says_so(tmp_path, monkeypatch, capsys):
    """Tester 193: `edge-coverage report` with a matplotlib that cannot be imported ended
    in "internal error ... please report it" (exit 1), where `plan` skips the report with
    a warning. It names the cause and the fix (exit 6), the directory as it was."""
    import coverage.outputs.report as report

    out = tmp_path / "plan"
    assert cli.main([*PLAN_ARGS, "--no-map", "--out", str(out)]) == 0
    before = snapshot(out)
    capsys.readouterr()

    def no_matplotlib(*_a, **_k):
        raise ImportError("No module named 'matplotlib'")

    monkeypatch.setattr(report, "_svg", no_matplotlib)
    assert cli.main(["report", str(out)]) == 6
    err = capsys.readouterr().err
    assert "report not written: a library it draws with cannot be imported (No module " in err
    assert "Fix: repair the environment" in err and "internal error" not in err
    assert snapshot(out) == before


def test_a_demo_into_the_places_cache_folder_is_refused_for_that(tmp_path, monkeypatch):
    """Tester 193: with EDGE_COVERAGE_CACHE_DIR set to the --out directory, a demo plan
    was refused because --out "was not written by edge-coverage (it holds
    geonames-....parquet)", the tool's own cache. It is refused for what it is, before
    any work, and the cache is left as it was."""
    cache = tmp_path / "cout"
    monkeypatch.setenv("EDGE_COVERAGE_CACHE_DIR", str(cache))
    for out in (cache, tmp_path):
        r = run("plan", "--demo", "--country", "LU", "--out", out, "-q")
        assert r.returncode == 2, r.stderr
        assert "holds the cache folder of the embedded GeoNames places" in r.stderr
        assert "set EDGE_COVERAGE_CACHE_DIR to a folder outside it" in r.stderr
    assert not cache.exists()
    r = run("plan", "--demand", DATA / "west_demand.csv", "--candidates",
            DATA / "west_candidates.csv", "--no-map", "--no-gis", "--no-report",
            "--sweep-budgets-ms", "30", "--out", cache, "-q")
    assert r.returncode == 0, r.stderr  # files of one's own: the cache is not read


def test_a_long_reason_of_a_skipped_output_is_cut(tmp_path, monkeypatch, capsys):
    """Tester 193: a GeoPackage's SQLite error put 5.8 kB of SQL in the warning and the
    marker. The reason is cut in the middle (its start and its end kept)."""
    import coverage.outputs.maps

    def broken(*_a, **_k):
        raise RuntimeError("INSERT INTO x VALUES " + "(1, 2)," * 1000 + " failed at the end")

    monkeypatch.setattr(coverage.outputs.maps, "plan_map", broken)
    out = tmp_path / "plan"
    assert cli.main([*PLAN_ARGS, "--no-report", "--out", str(out)]) == 5
    err = capsys.readouterr().err
    reason = read_marker(out)["skipped"]["map.html"]
    assert len(reason) < 500 and reason.startswith("RuntimeError: INSERT INTO x VALUES")
    assert reason.endswith("failed at the end") and "characters left out" in reason
    assert reason in err and len(err) < 3000


def test_a_directory_made_at_a_failed_outputs_name_stays_the_users(tmp_path, monkeypatch,
                                                                   capsys):
    """Review 165: a directory made at map.html's name in the staging directory (the map
    then failing) could not be removed, was listed in the marker as the tool's, and the
    next run removed it with the user's file. It is left out of the marker: the next run
    refuses it, and the file is still there."""
    import coverage.outputs.maps

    out = tmp_path / "plan"

    def broken(*_a, **_k):
        staging = next(p for p in tmp_path.iterdir()
                       if p.name.startswith(".plan.edge-coverage-tmp-"))
        (staging / "map.html").mkdir()
        (staging / "map.html" / "thesis.txt").write_text("mine")
        raise RuntimeError("the map renderer broke")

    monkeypatch.setattr(coverage.outputs.maps, "plan_map", broken)
    assert cli.main([*PLAN_ARGS, "--no-report", "--out", str(out)]) == 5
    marker = read_marker(out)
    assert "map.html" not in marker["files"] and "map.html" not in marker["dirs"]
    monkeypatch.undo()
    capsys.readouterr()
    assert cli.main([*PLAN_ARGS, "--no-map", "--no-report", "--out", str(out)]) == 2
    assert "map.html" in capsys.readouterr().err
    assert (out / "map.html" / "thesis.txt").read_text() == "mine"


def test_dot_dot_after_a_symbolic_link_is_where_the_kernel_finds_it(tmp_path):
    """Tester 193: ``--out a/link/../x`` was made lexically ``a/x``, while the kernel (and
    the user's shell) takes ``link/..`` as the parent of the link's target: the plan is
    written where ``ls a/link/../x`` finds it, and nothing appears at ``a/x``."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "link").symlink_to(tmp_path / "b" / "c")
    out = f"{tmp_path}/a/link/../x"
    r = run(*PLAN_ARGS, "--no-map", "--no-report", "--out", out)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "b" / "x" / "summary.json").exists()
    assert not (tmp_path / "a" / "x").exists()
    assert os.path.samefile(out, tmp_path / "b" / "x")
    # relative, from inside the link
    r = run(*PLAN_ARGS, "--no-map", "--no-report", "--out", "../y", cwd=tmp_path / "a" / "link")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "b" / "y" / "summary.json").exists()
