"""coverage.config: one description of every option, from which the rest is derived."""

import re
from pathlib import Path

import pytest

from coverage import cli
from coverage.batch import PLAN_PARAMETERS
from coverage.config import OPTIONS, PLANNER_OPTIONS, PlannerConfig, options_markdown
from coverage.errors import InputValidationError
from coverage.model.latency import LatencyModel
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
        assert action.default == opt.default, opt.name
        if opt.allowed() is not None:
            assert list(action.choices) == list(opt.allowed())


def test_batch_keys_and_plan_keywords_are_the_options():
    import inspect

    assert set(PLAN_PARAMETERS) == {o.name for o in PLANNER_OPTIONS}
    keywords = set(inspect.signature(plan_sites).parameters)
    assert {o.name for o in PLANNER_OPTIONS} <= keywords
    model_fields = set(LatencyModel.__dataclass_fields__)
    assert {o.name for o in OPTIONS if o.model} <= model_fields


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
        key = {"access": "access_default", "strategy": "strategy_requested"}.get(opt.name,
                                                                               opt.name)
        assert key in params, opt.name
    assert params["max_memory_gb"] == 3.5
