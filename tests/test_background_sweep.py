"""The budget sweep in a second process (``plan_sites(..., sweep=...)``): the same table as
the sweep run after the plan, a real spawned process, and a plan that survives its failure."""

import copy
import json
import multiprocessing
import os
import pickle
import re
import runpy
import signal
import subprocess
import time

import pandas as pd
import pytest
from conftest import DATA
from helpers import EXE, ON_NET

from coverage import InputValidationError, plan_sites
from coverage.cli import main
from coverage.model.tiers import TierCatalog
from coverage.model.workloads import WorkloadCatalog
from coverage.outputs.plandir import write_plan
from coverage.planner.background import (
    SWEEP_PROCESS_MIN_ROWS,
    BackgroundSweep,
    SweepProcessError,
    wants_process,
)

BUDGETS = (25.0, 50.0, 100.0)
OPTS = {"budgets_ms": BUDGETS, "time_limit_s": 20.0}


def _west_plan(sample_inputs, sweep):
    """The west test inputs planned at 30 ms, N-1, with the budget sweep ``sweep``."""
    demand, sites = sample_inputs
    return plan_sites(demand, sites, budget_ms=30.0, failures=1, model=ON_NET,
                      kmedian_time_limit_s=5, sweep=sweep)


@pytest.fixture(scope="module")
def inline_plan(sample_inputs):
    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=1, model=ON_NET,
                      kmedian_time_limit_s=5)
    return plan, plan.with_sweep(BUDGETS, time_limit_s=20.0).sweep


@pytest.fixture(scope="module")
def background_plan(sample_inputs):
    demand, sites = sample_inputs
    return plan_sites(demand, sites, budget_ms=30.0, failures=1, model=ON_NET,
                      kmedian_time_limit_s=5, sweep={**OPTS, "process": "always"})


def test_the_second_process_gives_the_sweep_after_the_plan(inline_plan, background_plan):
    plan, after = inline_plan
    assert background_plan.info["sweep"]["process"] == "background"
    assert background_plan.info["sweep"]["peak_rss_mib"] > 0
    assert background_plan.info["sweep"]["wall_s"] > 0
    got = background_plan.sweep
    assert got is not None and got["budget_ms"].tolist() == [25.0, 30.0, 50.0, 100.0]
    assert set(got["status"]) <= {"optimal", "infeasible_budget"}  # no time-limit luck
    # every column but the seconds, the plan's own row (source "plan") included
    pd.testing.assert_frame_equal(got.drop(columns="solve_s"), after.drop(columns="solve_s"))
    own = got[got["source"] == "plan"].iloc[0]
    assert own["site_count"] == plan.summary()["site_count"]
    assert own["status"] == plan.summary()["status"]
    # the plan itself does not depend on where the sweep ran
    assert sorted(background_plan.sites["site_id"]) == sorted(plan.sites["site_id"])


def test_inline_and_auto_below_the_threshold_run_here(sample_inputs, inline_plan):
    demand, sites = sample_inputs
    assert len(demand) < SWEEP_PROCESS_MIN_ROWS
    for process in ("never", "auto"):
        p = plan_sites(demand, sites, budget_ms=30.0, failures=1, model=ON_NET,
                       kmedian_time_limit_s=5, sweep={**OPTS, "process": process})
        assert p.info["sweep"]["process"] == "inline"
        pd.testing.assert_frame_equal(p.sweep.drop(columns="solve_s"),
                                      inline_plan[1].drop(columns="solve_s"))
    assert wants_process("auto", SWEEP_PROCESS_MIN_ROWS, cpus=2)
    assert not wants_process("auto", SWEEP_PROCESS_MIN_ROWS - 1, cpus=2)
    # one CPU: the sweep would take time from the plan's time-limited stages
    assert not wants_process("auto", 10**9, cpus=1)
    assert wants_process("always", 1, cpus=1) and not wants_process("never", 10**9)


def test_budgets_given_as_a_generator_are_not_used_up_by_the_check(sample_inputs,
                                                                   inline_plan):
    demand, sites = sample_inputs
    p = plan_sites(demand, sites, budget_ms=30.0, failures=1, model=ON_NET,
                   kmedian_time_limit_s=5,
                   sweep={"budgets_ms": (b for b in BUDGETS), "time_limit_s": 20.0,
                          "process": "always"})
    pd.testing.assert_frame_equal(p.sweep.drop(columns="solve_s"),
                                  inline_plan[1].drop(columns="solve_s"))


@pytest.mark.parametrize("sweep, phrase", [
    ({"budget_ms": [30]}, "unknown option(s) budget_ms"),
    ({"budgets_ms": [-5]}, "numbers of ms above 0"),
    ({"time_limit_s": 0}, "positive number of seconds"),
    ({"process": "maybe"}, "must be one of auto, always, never"),
    ("yes", "must be True, False, None or a mapping"),
])
def test_bad_sweep_options_are_refused_before_any_work(sample_inputs, sweep, phrase):
    demand, sites = sample_inputs
    with pytest.raises(InputValidationError, match=phrase.replace("(", r"\(")
                       .replace(")", r"\)")):
        plan_sites(demand, sites, budget_ms=30.0, sweep=sweep)


def test_the_child_reports_its_own_peak_memory_not_its_parents(sample_inputs):
    # a spawned process's getrusage peak starts at its parent's (Linux keeps it across
    # exec): with 1.5 GiB resident here, that figure would be above 1.5 GiB (measured:
    # 1,722 MiB before the fix; the sweep's own peak on these inputs is a few hundred MiB)
    import numpy as np

    demand, sites = sample_inputs
    ballast = np.ones(3 * 2**26)  # 1.5 GiB, every page touched (CI has 24 GiB, one worker)
    bg = BackgroundSweep({"demand": demand, "sites": sites, "budgets_ms": (30.0,),
                          "model": ON_NET})
    out = bg.result()
    bg.close()
    assert len(out) == 1 and ballast[-1] == 1.0
    assert 0 < bg.stats["peak_rss_mib"] < 1024


def test_an_error_in_the_child_comes_back_with_its_reason(sample_inputs):
    demand, sites = sample_inputs
    bg = BackgroundSweep({"demand": demand.drop(columns="population"), "sites": sites,
                          "budgets_ms": (30.0,)})
    with pytest.raises(SweepProcessError,
                       match="(?s)InputValidationError: .*missing column: population"):
        bg.result()
    bg.close()
    assert bg.done


def test_a_killed_child_is_reported_not_waited_for(sample_inputs):
    demand, sites = sample_inputs
    lines = []
    bg = BackgroundSweep({"demand": demand, "sites": sites,
                          "budgets_ms": tuple(range(20, 200, 5)), "model": ON_NET},
                         progress=lines.append)
    os.kill(bg.pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    with pytest.raises(SweepProcessError, match="without a result .exit code -9"):
        bg.result()
    bg.close()


def test_close_stops_a_running_child(sample_inputs):
    demand, sites = sample_inputs
    bg = BackgroundSweep({"demand": demand, "sites": sites,
                          "budgets_ms": tuple(range(20, 400, 2)), "model": ON_NET})
    bg.close()
    assert bg.done and not any(p.pid == bg.pid for p in multiprocessing.active_children())
    with pytest.raises(SweepProcessError):
        bg.result()


def test_a_failed_sweep_keeps_the_plan_and_skips_only_the_report(sample_inputs, tmp_path):
    demand, sites = sample_inputs

    def kill_the_sweep(msg):  # the child's first progress line: kill it, as an OOM would
        if msg.startswith("sweep "):
            for child in multiprocessing.active_children():
                if child.name == "edge-coverage-sweep":
                    os.kill(child.pid, signal.SIGKILL)

    plan = plan_sites(demand, sites, budget_ms=30.0, failures=1, model=ON_NET,
                      kmedian_time_limit_s=5, progress=kill_the_sweep,
                      sweep={"budgets_ms": tuple(range(20, 400, 2)), "process": "always"})
    assert plan.sweep is None
    assert "exit code -9" in plan.info["sweep"]["error"]
    assert plan.summary()["site_count"] > 0
    out = write_plan(plan, tmp_path / "plan", map=False, gis=False)
    assert set(out.skipped) == {"sweep.csv", "report.html"}
    assert "the budget sweep failed" in out.skipped["report.html"]
    for name in ("summary.json", "sites.csv", "assignment.csv", "failures.csv"):
        assert (tmp_path / "plan" / name).is_file()
    summary = json.loads((tmp_path / "plan" / "summary.json").read_text())
    assert "exit code -9" in summary["sweep"]["error"]


def test_the_cli_runs_the_sweep_in_a_second_process_on_request(tmp_path, capsys):
    out = tmp_path / "nz"
    code = main(["plan", "--demo", "--country", "NZ", "--budget-ms", "40", "--no-map",
                 "--no-gis", "--sweep-budgets-ms", "30,60", "--sweep-process", "always",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "in a second process" in err and "sweep 60 ms" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sweep"]["process"] == "background"
    sweep = pd.read_csv(out / "sweep.csv")
    assert sweep["budget_ms"].tolist() == [30.0, 40.0, 60.0]
    assert sweep.loc[sweep["budget_ms"] == 40.0, "source"].item() == "plan"
    assert (out / "report.html").is_file()


def test_catalogs_pickle_for_the_second_process():
    for cls in (TierCatalog, WorkloadCatalog):
        c = cls.builtin()
        assert pickle.loads(pickle.dumps(c)) == c


def test_python_m_coverage_runs_only_as_main():
    # a spawned process imports the main module under another name: it must not plan
    runpy.run_module("coverage.__main__", run_name="__mp_main__")
    with pytest.raises(SystemExit):
        runpy.run_module("coverage.__main__", run_name="__main__")


def _gone(pid: int) -> bool:
    """No such process, or only its zombie (exited, not yet reaped by its new parent)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _start_cli_with_sweep(tmp_path):
    """The CLI planning with its sweep in a second process (many budgets: it runs a while),
    once the sweep process has started: (the CLI's Popen, the sweep's pid)."""
    cmd = [EXE, "plan", "--demand", DATA / "west_demand.csv", "--candidates",
           DATA / "west_candidates.csv", "--budget-ms", "30", "--no-map", "--no-gis",
           "--sweep-process", "always", "--sweep-budgets-ms",
           ",".join(str(b) for b in range(20, 1000, 2)), "--verbose",
           "--out", tmp_path / "out"]
    proc = subprocess.Popen([str(c) for c in cmd], stderr=subprocess.PIPE, text=True,
                            stdout=subprocess.DEVNULL)
    for line in proc.stderr:  # wait for the condition: the line naming the process
        m = re.search(r"budget sweep: process (\d+) started", line)
        if m:
            return proc, int(m.group(1))
    proc.wait()
    pytest.fail(f"the sweep process never started (exit code {proc.returncode})")


def test_sigterm_to_the_command_stops_the_sweep_process(tmp_path):
    proc, child = _start_cli_with_sweep(tmp_path)
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait() == 143, rest[-2000:]
    assert "terminated" in rest and "Traceback" not in rest
    assert _gone(child)  # stopped and reaped before the command exited
    assert not (tmp_path / "out").exists()


def test_the_sweep_process_ends_when_the_command_is_killed(tmp_path):
    proc, child = _start_cli_with_sweep(tmp_path)
    proc.kill()  # SIGKILL: the command cannot stop its child; the child watches for it
    proc.wait()
    proc.stderr.close()
    deadline = time.monotonic() + 120.0
    while not _gone(child) and time.monotonic() < deadline:  # poll for the condition
        time.sleep(0.05)
    assert _gone(child), f"sweep process {child} still running 120 s after its parent died"


def test_a_pending_sweep_is_finished_when_the_report_needs_it(sample_inputs, inline_plan,
                                                              tmp_path, monkeypatch):
    import shutil

    import coverage.outputs.report as report
    from coverage.outputs.plandir import write_report

    plan = _west_plan(sample_inputs, {**OPTS, "process": "always", "wait": False})
    assert plan.sweep is None and plan.pending_sweep is not None
    assert "sweep" not in plan.info
    drawn, real = [], report._render_sections

    def spy(data, skip=()):
        parts = real(data, skip)
        drawn.append(set(parts))
        return parts

    monkeypatch.setattr(report, "_render_sections", spy)
    out = write_plan(plan, tmp_path / "plan", map=False, gis=False)
    assert not out.skipped
    # every section but the sweep's drawn before the sweep ended, then the sweep's alone
    assert len(drawn) == 2 and "sweep" not in drawn[0] and drawn[1] == {"sweep"}
    # and the page is the one drawn from the finished directory in one go
    monkeypatch.setattr(report, "_render_sections", real)
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "plan", copy)
    (copy / "report.html").unlink()
    assert write_report(copy).read_bytes() == (tmp_path / "plan" / "report.html").read_bytes()
    # the summary written first is replaced by one with the sweep's figures
    summary = json.loads((tmp_path / "plan" / "summary.json").read_text())
    assert summary["sweep"]["process"] == "background" and summary["sweep"]["wall_s"] > 0
    got = pd.read_csv(tmp_path / "plan" / "sweep.csv")
    want = inline_plan[1]
    assert got["site_count"].tolist() == want["site_count"].astype(float).tolist()
    assert got["status"].tolist() == want["status"].tolist()
    # finish_sweep gives the same plan as waiting in plan_sites
    done = plan.finish_sweep()
    assert done.pending_sweep is None and done.info["sweep"]["process"] == "background"
    pd.testing.assert_frame_equal(done.sweep.drop(columns="solve_s"),
                                  want.drop(columns="solve_s"))


def test_a_pending_sweep_belongs_to_the_plan_and_its_copies(sample_inputs, inline_plan,
                                                              tmp_path):
    plan = _west_plan(sample_inputs, {**OPTS, "process": "always", "wait": False})
    # a write without the report leaves it running: it is the plan's, not the writer's
    out = write_plan(plan, tmp_path / "a", map=False, gis=False, report=False)
    assert "report.html" not in out.written and not out.skipped
    twin = copy.deepcopy(plan)  # shares the one process
    assert twin.pending_sweep is plan.pending_sweep
    with pytest.raises(TypeError, match="finish_sweep"):
        pickle.dumps(plan)
    first, second = plan.finish_sweep(), twin.finish_sweep()  # the second reuses the first
    assert first.sweep is not None  # not stopped by the write without the report
    pd.testing.assert_frame_equal(first.sweep, second.sweep)
    pd.testing.assert_frame_equal(first.sweep.drop(columns="solve_s"),
                                  inline_plan[1].drop(columns="solve_s"))
    pickle.loads(pickle.dumps(first))  # a finished plan pickles
    # a sweep computed by the caller wins over the pending one
    own = plan.with_sweep((40.0,), time_limit_s=20.0)
    assert own.pending_sweep is None and own.sweep["budget_ms"].tolist() == [30.0, 40.0]


def test_close_sweep_stops_a_pending_sweep(sample_inputs, tmp_path):
    plan = _west_plan(sample_inputs, {"budgets_ms": tuple(range(20, 1000, 2)),
                                      "process": "always", "wait": False})
    pid = plan.pending_sweep.background.pid
    plan.close_sweep()
    assert _gone(pid)  # stopped and reaped
    done = plan.finish_sweep()
    assert done.sweep is None and "stopped" in done.info["sweep"]["error"]
    out = write_plan(plan, tmp_path / "plan", map=False, gis=False)
    assert set(out.skipped) == {"sweep.csv", "report.html"}
    assert (tmp_path / "plan" / "assignment.csv").is_file()


def test_the_sweeps_process_does_not_validate_the_plans_inputs_again(sample_inputs, caplog):
    """The plan's demand reaches the process validated (its columns chosen, its default
    access added): validating 10M rows again cost the process 2.4 GiB and 6 s."""
    import logging

    demand, sites = sample_inputs
    assert "access" not in demand.columns  # the planner adds the default class
    with caplog.at_level(logging.DEBUG, logger="coverage"):
        plan = _west_plan(sample_inputs, {**OPTS, "process": "always"})
    assert plan.info["sweep"]["process"] == "background" and plan.sweep is not None
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("budget sweep: ")]
    assert "budget sweep: the demand was validated by the planner" in said, said
