"""Budget sweep: site count against the latency budget, checked against the planner and an
independent dense recomputation of who can be covered."""

import numpy as np
import pandas as pd
import pytest
from helpers import ON_NET

from coverage import InputValidationError, LatencyModel, plan_sites
from coverage.model.geo import haversine_km
from coverage.planner.sweep import SWEEP_COLUMNS, budget_sweep

# Budgets designed for the on-net model (20 ms infeasible, 25 ms tight: 252 km FTTH radius),
# which the sweep below pins; under the default internet model 25 ms is infeasible too.
BUDGETS = (20.0, 25.0, 30.0, 50.0, 100.0)


@pytest.fixture(scope="module")
def sweep(sample_inputs):
    demand, sites = sample_inputs
    return budget_sweep(demand, sites, BUDGETS, failures=(0, 1), time_limit_s=10, model=ON_NET)


def dense_counts(demand, sites, budget_ms, model):
    """Candidates within budget of each demand point, from a dense haversine table."""
    fixed = model.fixed_ms("ftth", "p99")
    dist = haversine_km(demand["lat"].to_numpy()[:, None], demand["lon"].to_numpy()[:, None],
                        sites["lat"].to_numpy()[None, :], sites["lon"].to_numpy()[None, :])
    return ((fixed + model.ms_per_km * dist) <= budget_ms + 1e-7).sum(axis=1)


def test_columns_rows_and_statuses(sweep):
    assert list(sweep.columns) == list(SWEEP_COLUMNS)
    assert len(sweep) == len(BUDGETS) * 2
    assert sorted(set(zip(sweep["failures"], sweep["budget_ms"], strict=True))) == sorted(
        (k, b) for k in (0, 1) for b in BUDGETS)
    low = sweep[sweep["budget_ms"] == 20]
    # ftth + vision inference take 21.3 ms p99: no plan at 20 ms, said so, not dropped
    assert (low["status"] == "infeasible_budget").all() and low["site_count"].isna().all()
    assert (low["population_uncoverable"] == low["population_total"]).all()
    ok = sweep[sweep["budget_ms"] > 20]
    assert (ok["status"] == "optimal").all() and (ok["source"] == "sweep").all()
    assert (ok["lower_bound"] == ok["site_count"].astype(float)).all()
    assert (ok["mip_gap"] == 0).all()


def test_site_count_never_grows_with_budget_nor_shrinks_with_failures(sweep):
    for _, g in sweep.dropna(subset=["site_count"]).groupby("failures"):
        counts = g.sort_values("budget_ms")["site_count"].to_numpy()
        assert (np.diff(counts) <= 0).all(), counts
    piv = sweep.pivot(index="budget_ms", columns="failures", values="site_count").dropna()
    assert (piv[1] >= piv[0]).all()
    assert (piv[1] >= 2).all()


@pytest.mark.parametrize("budget_ms", [25.0, 30.0, 50.0])
def test_counts_equal_the_planner(sample_inputs, sweep, budget_ms):
    demand, sites = sample_inputs
    s = plan_sites(demand, sites, budget_ms=budget_ms, failures=1,
                   kmedian_time_limit_s=5, model=ON_NET).summary()
    row = sweep[(sweep["budget_ms"] == budget_ms) & (sweep["failures"] == 1)].iloc[0]
    assert row["site_count"] == s["site_count"]
    assert row["population_uncoverable"] == pytest.approx(s["population_uncoverable"])
    assert row["population_single_coverable"] == pytest.approx(
        s["population_single_coverable"])
    assert row["n_pairs_in_reach"] == s["n_pairs_in_reach"]
    assert row["radius_km"] == pytest.approx(s["max_radius_km"])


@pytest.mark.parametrize("budget_ms", [25.0, 30.0, 100.0])
def test_population_figures_match_a_dense_recount(sample_inputs, sweep, budget_ms):
    demand, sites = sample_inputs
    n_cov = dense_counts(demand, sites, budget_ms, ON_NET)
    pop = demand["population"].to_numpy()
    for k in (0, 1):
        row = sweep[(sweep["budget_ms"] == budget_ms) & (sweep["failures"] == k)].iloc[0]
        assert row["n_pairs_in_reach"] == n_cov.sum()
        assert row["population_uncoverable"] == pytest.approx(pop[n_cov == 0].sum())
        # status "single": one site and short of k + 1 (with k = 0 one site is enough)
        assert row["population_single_coverable"] == pytest.approx(
            pop[(n_cov == 1) & (k >= 1)].sum())
        assert row["population_short"] == pytest.approx(pop[n_cov < k + 1].sum())
        assert row["population_covered"] == pytest.approx(pop[n_cov >= 1].sum())


def test_row_generation_gives_the_same_counts(sample_inputs, sweep):
    demand, sites = sample_inputs
    lazy = budget_sweep(demand, sites, BUDGETS[1:], failures=(0, 1), time_limit_s=10,
                        max_full_pairs=0, model=ON_NET)
    assert (lazy["method"] == "lazy").all() and (lazy["status"] == "optimal").all()
    full = sweep[sweep["budget_ms"] > 20].reset_index(drop=True)
    assert (full["method"] == "full").all()
    assert lazy["site_count"].tolist() == full["site_count"].tolist()


def test_default_model_sweep(sample_inputs):
    """The default internet model: 25 ms infeasible (28.0 ms at distance 0), 30 ms tight
    (88 km radius: uncoverable and single-coverable demand), against the planner and a dense
    recount."""
    demand, sites = sample_inputs
    model = LatencyModel()
    df = budget_sweep(demand, sites, (25.0, 30.0, 50.0), failures=(0, 1), time_limit_s=10)
    low = df[df["budget_ms"] == 25]
    assert (low["status"] == "infeasible_budget").all() and low["site_count"].isna().all()
    assert (low["population_uncoverable"] == low["population_total"]).all()
    ok = df[df["budget_ms"] > 25]
    assert (ok["status"] == "optimal").all() and (ok["mip_gap"] == 0).all()
    assert ok["radius_km"].tolist() == pytest.approx(
        [model.radius_km(b) for b in ok["budget_ms"]])
    pop = demand["population"].to_numpy()
    for budget_ms in (30.0, 50.0):
        n_cov = dense_counts(demand, sites, budget_ms, model)
        for k in (0, 1):
            row = df[(df["budget_ms"] == budget_ms) & (df["failures"] == k)].iloc[0]
            assert row["n_pairs_in_reach"] == n_cov.sum()
            assert row["population_uncoverable"] == pytest.approx(pop[n_cov == 0].sum())
            assert row["population_short"] == pytest.approx(pop[n_cov < k + 1].sum())
    tight = df[(df["budget_ms"] == 30) & (df["failures"] == 1)].iloc[0]
    assert tight["population_uncoverable"] > 0 and tight["population_single_coverable"] > 0
    s = plan_sites(demand, sites, budget_ms=30.0, failures=1, kmedian_time_limit_s=5).summary()
    assert tight["site_count"] == s["site_count"]
    assert tight["n_pairs_in_reach"] == s["n_pairs_in_reach"]


def test_the_plan_supplies_its_own_budget(sample_inputs):
    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=35.0, failures=1, kmedian_time_limit_s=5)
    df = budget_sweep(demand, sites, (30.0, 50.0), failures=(1,), plan=plan)
    assert df["budget_ms"].tolist() == [30.0, 35.0, 50.0]
    own = df[df["budget_ms"] == 35.0].iloc[0]
    assert own["source"] == "plan" and own["site_count"] == plan.summary()["site_count"]
    assert own["population_total"] == pytest.approx(demand["population"].sum())
    swept = plan.with_sweep((30.0, 50.0))
    assert swept.sweep is not None and plan.sweep is None  # plans stay immutable
    pd.testing.assert_frame_equal(swept.sweep.drop(columns="solve_s"),
                                  df.drop(columns="solve_s"))


def test_required_sites_and_cost_are_honoured(sample_inputs):
    demand, sites = sample_inputs
    first = sites["site_id"].iloc[0]
    sites = sites.assign(required=sites["site_id"] == first,
                         cost=np.where(np.arange(len(sites)) % 2 == 0, 1.0, 3.0))
    df = budget_sweep(demand, sites, (30.0,), failures=(1,), time_limit_s=10)
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=1)
    row = df.iloc[0]
    assert row["objective"] == pytest.approx(plan.candidates.loc[plan.candidates["chosen"],
                                                                  "cost"].sum())
    assert row["site_count"] == plan.summary()["site_count"]


@pytest.mark.parametrize("kwargs,phrase", [
    ({"budgets_ms": (-5,)}, "budgets_ms"),
    ({"budgets_ms": ("fast",)}, "budgets_ms"),
    ({"budgets_ms": ()}, "budgets_ms"),
    ({"budgets_ms": (30, 2e6)}, "at most 1e\\+06"),  # tester 106: the report refused it
    ({"failures": (-1,)}, "failures"),
    ({"failures": None}, "failures must be one or more integers .*Fix:"),
    ({"failures": 1.5}, "failures must be one or more integers .*Fix:"),
    ({"time_limit_s": 0}, "time_limit_s"),
    ({"percentile": "p90"}, "percentile"),
    ({"access": "pigeon"}, "pigeon"),
    ({"model": 5}, "model must be a LatencyModel, a latency profile name or a model file"),
    ({"model": "nowhere.toml"}, "nowhere.toml: latency model file not found"),
    ({"strategy": "lazy"}, "sweep strategy must be one of .*components"),
])
def test_bad_options_raise_one_clear_error(sample_inputs, kwargs, phrase):
    demand, sites = sample_inputs
    with pytest.raises(InputValidationError, match=phrase):
        budget_sweep(demand, sites, **kwargs)


def test_one_failure_count_is_taken_as_one_item(sample_inputs):
    """``failures=1`` raised a bare TypeError ('int' object is not iterable): one count is
    the sweep of that count, as ``budgets_ms=30`` is one budget."""
    demand, sites = sample_inputs
    one = budget_sweep(demand, sites, 30.0, failures=1, time_limit_s=10, model=ON_NET)
    assert one["failures"].tolist() == [1] and one["budget_ms"].tolist() == [30.0]
    assert one["site_count"].tolist() == budget_sweep(
        demand, sites, 30.0, failures=(1,), time_limit_s=10, model=ON_NET)["site_count"].tolist()
    assert budget_sweep(demand, sites, 30.0, failures=np.int64(0), time_limit_s=10,
                        model=ON_NET)["failures"].tolist() == [0]


def test_bad_demand_is_named(sample_inputs):
    _, sites = sample_inputs
    bad = pd.DataFrame({"lat": [40.0], "lon": [-100.0], "population": [-3]})
    with pytest.raises(InputValidationError, match="negative"):
        budget_sweep(bad, sites, (30.0,))


def test_total_time_leaves_later_budgets_not_run(sample_inputs, tmp_path):
    """With a total time the sweep stops starting budgets once it is up: the first budget
    always runs, the plan's own budget keeps the plan's row, the others are reported as
    not_run with no figures (not as 'no plan'), and the report says which were not run."""
    from coverage.outputs.plandir import write_plan

    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=1, model=ON_NET,
                      time_limit_s=10, kmedian_time_limit_s=5)
    df = budget_sweep(demand, sites, BUDGETS, failures=(1,), time_limit_s=10, model=ON_NET,
                      plan=plan, total_time_s=1e-9)
    by = df.set_index("budget_ms")
    assert by.loc[20.0, "status"] == "infeasible_budget"  # the first budget: always run
    assert by.loc[30.0, "source"] == "plan"
    assert by.loc[30.0, "site_count"] == plan.info["site_count"]
    assert by.loc[30.0, "n_pairs_in_reach"] == plan.info["n_pairs_in_reach"]
    later = by.loc[[25.0, 50.0, 100.0]]
    assert (later["status"] == "not_run").all()
    assert later["site_count"].isna().all() and later["n_pairs_in_reach"].isna().all()
    assert later["population_covered"].isna().all()
    assert "not run" in df.attrs["note"]
    # without a total time the same sweep solves every budget
    full = budget_sweep(demand, sites, BUDGETS, failures=(1,), time_limit_s=10, model=ON_NET,
                        plan=plan)
    assert not (full["status"] == "not_run").any()
    with pytest.raises(InputValidationError, match="sweep-total-s"):
        budget_sweep(demand, sites, BUDGETS, model=ON_NET, total_time_s=0)

    out = write_plan(plan, tmp_path / "p", map=False, gis=False,
                     sweep_options={"budgets_ms": BUDGETS, "total_time_s": 1e-9}).path
    html = (out / "report.html").read_text()
    assert "<b>Not run:</b>" in html and "25, 50, 100 ms" in html
    csv = pd.read_csv(out / "sweep.csv")
    assert set(csv.loc[csv["status"] == "not_run", "budget_ms"]) == {25.0, 50.0, 100.0}


def test_total_time_is_kept_per_budget_and_failure_count(sample_inputs):
    """When time is up, a budget holding the plan's own row still reports that row, and
    its other failure counts are not_run (not solved behind the total time's back)."""
    demand, sites = sample_inputs
    plan = plan_sites(demand, sites, budget_ms=30.0, failures=1, model=ON_NET,
                      time_limit_s=10, kmedian_time_limit_s=5)
    df = budget_sweep(demand, sites, BUDGETS, failures=(0, 1), time_limit_s=10,
                      model=ON_NET, plan=plan, total_time_s=1e-9)
    by = df.set_index(["budget_ms", "failures"])
    assert by.loc[(30.0, 1), "source"] == "plan"
    assert by.loc[(30.0, 0), "status"] == "not_run"
    assert (by.loc[[(50.0, 0), (50.0, 1), (100.0, 0), (100.0, 1)], "status"]
            == "not_run").all()


def test_a_model_named_by_profile_is_the_plans(sample_inputs):
    """``model="on-net"`` as plan_sites takes it (it raised AttributeError: tester 145)."""
    demand, sites = sample_inputs
    named = budget_sweep(demand, sites, (30.0,), failures=(1,), model="on-net")
    given = budget_sweep(demand, sites, (30.0,), failures=(1,), model=ON_NET)
    assert named["site_count"].tolist() == given["site_count"].tolist()
    assert named["radius_km"].tolist() == pytest.approx(given["radius_km"].tolist())


def test_budgets_as_decimals_and_numbers_as_text_are_taken():
    """Tester 182: plan_sites takes budget_ms=Decimal("45") or "45", the sweep refused
    them ("must be numbers of ms")."""
    from decimal import Decimal

    from coverage.planner.sweep import check_budgets

    assert check_budgets([Decimal("35"), " 50", 20]) == [20.0, 35.0, 50.0]
    assert check_budgets("40") == [40.0] and check_budgets(Decimal("30")) == [30.0]
    for bad in (["fast"], [True], b"5"):
        with pytest.raises(InputValidationError, match="budgets_ms"):
            check_budgets(bad)
