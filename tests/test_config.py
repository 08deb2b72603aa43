"""coverage.config: one description of every option, from which the rest is derived."""

import json
import re
from pathlib import Path

import pytest

from coverage import cli
from coverage.batch import PLAN_PARAMETERS
from coverage.config import OPTIONS, PLANNER_OPTIONS, PlannerConfig, build_model, options_markdown
from coverage.errors import InputValidationError
from coverage.model.latency import LATENCY_PROFILES, LatencyModel
from coverage.planner.plan import plan_sites

DOCS = Path(__file__).resolve().parents[1] / "docs" / "options.md"


def test_docs_table_is_generated_from_the_options():
    text = DOCS.read_text()
    start = text.index("-->\n") + 4
    end = text.index("<!-- end of options table -->")
    assert text[start:end] == options_markdown()


def test_cli_flags_and_defaults_come_from_the_options():
    parser = cli.build_parser()
    plan = next(a for a in parser._subparsers._group_actions[0].choices.items()
                if a[0] == "plan")[1]
    by_flag = {o: a for a in plan._actions for o in a.option_strings}
    for opt in OPTIONS:
        action = by_flag[opt.flag]
        if opt.model and opt.name != "latency_model":
            # a model option left out keeps the value of the chosen profile or model file:
            # its flag defaults to None and its help states the profile default, if any
            assert action.default is None, opt.name
            if opt.default is not None:
                assert "(default: " in action.help, opt.name
        else:
            assert action.default == opt.default, opt.name
        if opt.allowed() is not None:
            assert list(action.choices) == list(opt.allowed())
    assert by_flag["--latency-model"].default == "internet"


def test_cli_model_options_fall_back_to_the_profile():
    parser = cli.build_parser()
    names = [o.name for o in OPTIONS if o.model]

    def model_of(*argv):
        args = parser.parse_args(["plan", "--demo", "--country", "LU", *argv])
        return build_model({n: getattr(args, n) for n in names})

    internet = model_of()
    assert internet == LatencyModel()
    assert (internet.profile, internet.route_factor, internet.hops, internet.overhead_ms,
            internet.overhead_p99_ms) == ("internet", 2.2754, 0, 6.438, 10.26)
    on_net = model_of("--latency-model", "on-net")
    assert on_net == LatencyModel.from_profile("on-net")
    assert (on_net.route_factor, on_net.hops, on_net.per_hop_ms, on_net.overhead_ms,
            on_net.overhead_p99_ms) == (1.5, 8, 0.05, 0.0, 0.0)
    # a flag that is given overrides the profile's value, the others keep it
    tuned = model_of("--latency-model", "on-net", "--route-factor", "2", "--wifi", "good")
    assert (tuned.route_factor, tuned.hops, tuned.wifi) == (2.0, 8, "good")
    tuned = model_of("--overhead-ms", "1", "--overhead-p99-ms", "2")
    assert (tuned.route_factor, tuned.overhead_ms, tuned.overhead_p99_ms) == (2.2754, 1.0, 2.0)
    with pytest.raises(InputValidationError, match="unknown latency model 'fast'"):
        model_of("--latency-model", "fast")


def test_batch_keys_and_plan_keywords_are_the_options():
    import inspect

    assert set(PLAN_PARAMETERS) == {o.name for o in PLANNER_OPTIONS}
    keywords = set(inspect.signature(plan_sites).parameters)
    assert {o.name for o in PLANNER_OPTIONS} <= keywords
    model_fields = set(LatencyModel.__dataclass_fields__)
    # latency_model names the profile or file the model starts from; every other model
    # option is a field of LatencyModel
    assert {o.name for o in OPTIONS if o.model} - {"latency_model"} <= model_fields
    assert "latency_model" not in model_fields
    assert set(LATENCY_PROFILES) == {"internet", "on-net"}
    # the defaults given in the options are the default profile's
    default = LatencyModel()
    for opt in OPTIONS:
        if opt.model and opt.default is not None and opt.name != "latency_model":
            assert getattr(default, opt.name) == opt.default, opt.name
    assert next(o for o in OPTIONS if o.name == "latency_model").default == default.profile


def test_every_problem_in_one_message():
    cfg = PlannerConfig(budget_ms=float("nan"), failures=-1, percentile="p95",
                        access="pigeon", time_limit_s=0, strategy="fast", aggregate_km=-3)
    problems = cfg.problems()
    assert len(problems) == 7
    with pytest.raises(InputValidationError) as err:
        cfg.validate()
    for name in ("budget_ms", "failures", "percentile", "access", "time_limit_s", "strategy",
                 "aggregate_km"):
        assert re.search(rf"\b{name} \(--", str(err.value)), name
    assert PlannerConfig().problems() == []


def test_summary_parameters_hold_every_planner_option(sample_inputs):
    plan = plan_sites(*sample_inputs, budget_ms=40, kmedian_time_limit_s=5, max_memory_gb=3.5)
    params = plan.summary()["parameters"]
    for opt in PLANNER_OPTIONS:
        key = {"access": "access_default", "strategy": "strategy_requested",
               "objective": "objective_requested"}.get(opt.name, opt.name)
        assert key in params, opt.name
    assert params["max_memory_gb"] == 3.5


def test_failures_are_capped_before_any_work():
    """Tolerating more than MAX_FAILURES simultaneous failures is refused with the range
    (1,000,000 ran out of memory in per-user tables), in the config and in the sweep."""
    from coverage.config import MAX_FAILURES
    from coverage.errors import InputValidationError
    from coverage.planner.sweep import _failures

    assert not PlannerConfig(failures=MAX_FAILURES).problems()
    found = PlannerConfig(failures=MAX_FAILURES + 1).problems()
    assert found and f"from 0 to {MAX_FAILURES}" in found[0]
    assert PlannerConfig(failures=10**6).problems()
    with pytest.raises(InputValidationError, match=f"from 0 to {MAX_FAILURES}"):
        _failures([1, MAX_FAILURES + 1])
    assert _failures([MAX_FAILURES, 0]) == [0, MAX_FAILURES]


def test_options_of_catalog_objects_are_described_not_copied():
    """A tier or workload catalog given as an object (the API allows it) ended the plan in
    "TypeError: cannot pickle 'mappingproxy'" when its options were written down
    (``dataclasses.asdict`` deep-copies them)."""
    from coverage.config import PlannerConfig
    from coverage.model.tiers import TierCatalog
    from coverage.model.workloads import WorkloadCatalog

    d = PlannerConfig(tiers=TierCatalog.builtin(), workloads=WorkloadCatalog.builtin()).to_dict()
    assert d["tiers"] == str(TierCatalog.builtin().source)
    assert d["workloads"] == str(WorkloadCatalog.builtin().source)
    json.dumps(d)


@pytest.mark.parametrize(("name", "value"), [
    ("requests_per_person_day", 100), ("peak_to_mean", 3), ("target_utilisation", 0.5),
    ("time_limit_s", 60), ("max_memory_gb", 2)])
def test_numeric_options_refuse_text(name, value):
    # compare(requests_per_person_day="100") was accepted while budget_ms="30" was refused
    from coverage.planner.plan import check_plan_options

    found = check_plan_options(budget_ms=30, **{name: str(value)})
    assert len(found) == 1 and found[0].startswith(name), found
    assert f"got '{value}'" in found[0]
    assert check_plan_options(budget_ms=30, **{name: value}) == []


def test_a_missing_model_file_does_not_hide_the_other_model_options_problems(tmp_path):
    """Tester 110: a missing model file was the only problem named; the other options'
    (route_factor = "abc", inference_ms = [5, 2]) came one run later."""
    from coverage.config import build_model
    from coverage.errors import InputValidationError

    with pytest.raises(InputValidationError) as info:
        build_model({"latency_model": str(tmp_path / "missing.toml"), "route_factor": "abc",
                     "inference_ms": [5, 2]})
    text = str(info.value)
    assert "missing.toml: latency model file not found" in text
    assert "route_factor must be a number" in text and "inference_ms must be" in text
    with pytest.raises(InputValidationError) as info:  # a profile: its message alone
        build_model({"latency_model": "internet", "route_factor": "abc"})
    assert str(info.value).count("route_factor must be") == 1


def test_build_model_names_every_problem_at_once(tmp_path):
    """Tester 148: an unknown workload hid a missing model file and bad values (each was
    said on the next run only)."""
    from coverage.config import build_model
    from coverage.errors import InputValidationError

    with pytest.raises(InputValidationError) as e:
        build_model({"latency_model": str(tmp_path / "missing.toml"), "route_factor": -2,
                     "hops": -3, "workload": "nope"})
    text = str(e.value)
    for phrase in ("unknown workload 'nope'", "missing.toml: latency model file not found",
                   "route_factor must be", "hops must be"):
        assert phrase in text, text
    with pytest.raises(InputValidationError) as e:  # a known file: its own message
        build_model({"workload": "nope", "hops": -3})
    assert "unknown workload 'nope'" in str(e.value) and "hops must be" in str(e.value)


def test_a_domain_radius_wider_than_half_the_earth_is_refused():
    """Tester 172: --domain-radius-km 1e6 ran (moving proposals 1e9 m). Above half the
    Earth's circumference every two places are closer: refused, by the CLI and the API."""
    import pandas as pd
    import pytest
    from helpers import run

    from coverage import plan_sites
    from coverage.errors import InputValidationError

    opt = next(o for o in OPTIONS if o.name == "domain_radius_km")
    assert opt.problem(20_015.0) is None and opt.problem(25.0) is None
    assert "up to 20,015" in opt.problem(1e6)
    with pytest.raises(InputValidationError, match="up to 20,015"):
        plan_sites(pd.DataFrame({"lat": [1.0], "lon": [1.0], "population": [1.0]}),
                   pd.DataFrame({"lat": [1.0], "lon": [1.0]}), budget_ms=30,
                   domain_radius_km=1e6)
    r = run("plan", "--demo", "--country", "IS", "--domain-radius-km", "1e6", "--out",
            "never-written", "--no-map")
    assert r.returncode == 2 and "up to 20,015" in r.stderr and not r.stdout.strip()


def test_the_proposals_time_limit_is_an_option(sample_inputs):
    """The proposed sites' cover had a fixed 10 s (the US demo's: 526 sites against a
    bound of 442, 476 / 465 in 120 s): ``proposal_time_limit_s`` sets it; by default 10 s,
    or the site count's limit when shorter; it is recorded and checked like the others."""
    assert PlannerConfig().proposal_limit_s == 10.0
    assert PlannerConfig(time_limit_s=4.0).proposal_limit_s == 4.0
    assert PlannerConfig(time_limit_s=4.0, proposal_time_limit_s=30.0).proposal_limit_s == 30.0
    with pytest.raises(InputValidationError, match="proposal_time_limit_s"):
        PlannerConfig(proposal_time_limit_s=0.0).validate()
    demand, sites = sample_inputs
    plan = plan_sites(demand, sites.iloc[:20], budget_ms=25.0, kmedian_time_limit_s=2,
                      model=LatencyModel.from_profile("on-net"), proposal_time_limit_s=2.5)
    assert plan.summary()["parameters"]["proposal_time_limit_s"] == 2.5
    assert len(plan.proposed) > 0
