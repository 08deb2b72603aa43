"""Capacitated plans by independent components (``--strategy components`` with a load).

A flow never leaves its component, so the capacitated problem splits exactly: a plan
carries a failure scenario when every piece carries its part of it, and a failure domain
spread over pieces fails in all of them at once. Checked against brute force piece by
piece, against the full-matrix solver on the whole, and every combined plan against an
independent reach (haversine) and networkx max-flow per failure scenario of the whole
(tests/test_capacity.py's reference), in this process and on a real local Dask cluster.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import ON_NET
from test_capacity import (
    BUDGET_MS,
    brute_force,
    geo_instance,
    own_reach,
    reference,
    scenarios,
    site_index,
)
from test_capacity_lazy import independent_ok

from coverage import NoFeasiblePlanError, plan_sites
from coverage.config import PlannerConfig
from coverage.inputs.tables import as_demand, as_sites
from coverage.model.problem import Problem
from coverage.planner.stages import capacitated_component_sites

LOAD = {"requests_per_person_day": 28.8, "peak_to_mean": 3.0}  # population / 1000 rps


def blocks(seeds: tuple[int, ...], n: int = 40, m: int = 9, *, n_domains: int | None = 3,
           cap_range=(150, 450)) -> tuple[pd.DataFrame, pd.DataFrame, list[slice]]:
    """One geo_instance per seed, each 6 degrees of latitude north of the last (far apart
    at the test budget: independent components); candidates in shared-risk domains that
    span the blocks (``F0 .. F{n_domains-1}``, by index within a block). Returns the
    demand, the candidates and every block's candidate slice."""
    demands, site_parts, spans = [], [], []
    for b, seed in enumerate(seeds):
        d, s = geo_instance(seed, n, m, cap_range=cap_range)
        d["lat"] += 6.0 * b
        s["lat"] += 6.0 * b
        d["demand_id"] = [f"b{b}{x}" for x in d["demand_id"]]
        s["site_id"] = [f"b{b}{x}" for x in s["site_id"]]
        if n_domains is not None:
            s["failure_domain"] = [f"F{j % n_domains}" for j in range(m)]
        spans.append(slice(b * m, (b + 1) * m))
        demands.append(d)
        site_parts.append(s)
    return (pd.concat(demands, ignore_index=True), pd.concat(site_parts, ignore_index=True),
            spans)


def problem_of(demand: pd.DataFrame, sites: pd.DataFrame, k: int) -> Problem:
    config = PlannerConfig(budget_ms=BUDGET_MS, failures=k, strategy="components",
                           time_limit_s=60.0).validate(ON_NET.access_profiles_ms)
    return Problem.build(as_demand(demand), as_sites(sites), config, ON_NET)


def domains_of(sites: pd.DataFrame):
    return (None if "failure_domain" not in sites.columns
            else sites["failure_domain"].tolist())


@pytest.mark.parametrize("seeds, k, n_domains", [
    ((31, 32, 35), 1, 3), ((33, 36), 2, 6), ((41, 42, 43), 1, None), ((34, 37), 0, 2),
])
def test_pieces_meet_brute_force_and_the_full_solver(seeds, k, n_domains):
    """Each block solved as its own piece: the combined count is the sum of the blocks'
    brute-force optima (their domains restricted to them) and the full-matrix solver's
    count of the whole; the combined plan passes the independent check of the whole, and
    its capacity result lists every scenario of the whole plan."""
    demand, sites, spans = blocks(seeds, n_domains=n_domains)
    full = plan_sites(demand, sites, budget_ms=BUDGET_MS, model=ON_NET, failures=k,
                      strategy="full", **LOAD)
    problem = problem_of(demand, sites, k)
    count, result = capacitated_component_sites(problem, full.capacity, target_cells=1)
    pieces = count.components.pieces
    assert len(pieces) >= len(seeds)  # one piece a block at least
    mask = own_reach(demand, sites)
    n_rows = len(demand) // len(seeds)
    dom = domains_of(sites)
    total = 0
    for b, cols in enumerate(spans):
        rows = slice(b * n_rows, (b + 1) * n_rows)
        assert not mask[rows][:, np.r_[0:cols.start, cols.stop:mask.shape[1]]].any()
        sub_d = demand.iloc[rows].reset_index(drop=True)
        sub_s = sites.iloc[cols].reset_index(drop=True)
        N, load, cap = reference(sub_d, sub_s, mask[rows][:, cols])
        best, _ = brute_force(N, load, cap, k, None if dom is None else dom[cols])
        assert best is not None
        total += best
    assert count.cover.objective == len(result.sites) == total
    assert full.summary()["site_count"] == total
    assert count.cover.status == result.status == "optimal" and result.complete
    N, load, cap = reference(demand, sites, mask)
    assert independent_ok(N, load, cap, result.sites, k, dom)
    # the whole plan's scenarios: normal operation and each failure of the whole plan
    assert len(result.scenarios) == len(scenarios(sorted(result.sites), k, dom))
    assert all(f.feasible for f in result.scenarios)


@pytest.mark.parametrize("seeds, k, n_domains", [((11, 12, 13), 1, 3), ((14, 15), 2, 6)])
def test_planner_components_capacitated_end_to_end(seeds, k, n_domains):
    """``strategy="components"`` with a load: the count of the full strategy, every output
    of a capacitated plan, and the plan independently feasible (coverage and every
    failure scenario of the shared-risk domains, networkx)."""
    demand, sites, _ = blocks(seeds, n_domains=n_domains, cap_range=(300, 700))
    kw = dict(budget_ms=BUDGET_MS, model=ON_NET, failures=k, **LOAD)
    plan = plan_sites(demand, sites, strategy="components", **kw)
    full = plan_sites(demand, sites, strategy="full", **kw)
    s = plan.summary()
    assert s["solver"]["strategy"] == "components" and plan.reach is None
    assert s["site_count"] == full.summary()["site_count"]
    assert s["status"] == "optimal" and s["capacity"]["status"] == "optimal"
    assert s["capacity"]["scenarios_complete"]
    chosen = site_index(plan, sites)
    mask = own_reach(demand, sites)
    N, load, cap = reference(demand, sites, mask)
    dom = domains_of(sites)
    assert independent_ok(N, load, cap, chosen, k, dom)
    sc = plan.capacity_scenarios
    assert len(sc) >= len(scenarios(chosen, k, dom)) and sc["feasible"].all()
    # the flows of normal operation: within budget and capacity, every load served
    col = {x: j for j, x in enumerate(sites["site_id"])}
    row = {x: i for i, x in enumerate(demand["demand_id"])}
    f = plan.flows
    assert all(mask[row[d], col[x]] for d, x in zip(f["demand_id"], f["site_id"],
                                                     strict=True))
    caps = dict(zip(sites["site_id"], sites["capacity_rps"], strict=True))
    per_site = f.groupby("site_id")["load_rps"].sum()
    assert all(v <= caps[x] * (1 + 1e-6) for x, v in per_site.items())
    per_point = f.groupby("demand_id")["load_rps"].sum()
    for d, i in row.items():
        want = load[i] / 1000.0 if mask[i].any() else 0.0
        assert per_point.get(d, 0.0) == pytest.approx(want, rel=1e-6, abs=1e-5)


def test_a_piece_that_carries_no_plan_refuses_the_whole():
    """One block's load beyond what its candidates carry: no plan of the whole, said in
    the piece's own terms (its points, its candidates, its scenario); in one piece the
    message is row generation's."""
    from dataclasses import replace

    demand, sites, _ = blocks((21, 22), n_domains=None)
    kw = dict(budget_ms=BUDGET_MS, model=ON_NET, failures=1, **LOAD)
    fine = plan_sites(demand, sites, strategy="full", **kw)
    demand.loc[demand.index[len(demand) // 2:], "population"] *= 40  # the second block
    with pytest.raises(NoFeasiblePlanError, match="even with all 18 candidates open"):
        plan_sites(demand, sites, strategy="full", **kw)
    with pytest.raises(NoFeasiblePlanError) as lazy:
        plan_sites(demand, sites, strategy="lazy", **kw)
    with pytest.raises(NoFeasiblePlanError) as one_piece:
        plan_sites(demand, sites, strategy="components", **kw)
    assert str(one_piece.value) == str(lazy.value)
    capacity = replace(fine.capacity, load_rps=demand["population"].to_numpy(float) / 1000)
    with pytest.raises(NoFeasiblePlanError) as pieces:
        capacitated_component_sites(problem_of(demand, sites, 1), capacity, target_cells=1)
    msg = str(pieces.value)
    assert msg.startswith("no plan carries the load of an independent part of the demand "
                          "(40 demand points that only its 9 candidates reach")
    assert "every plan of the 9 candidates" in msg or "all 9 candidates open" in msg
    load_b = demand["population"].to_numpy(float)[len(demand) // 2:].sum() / 1000
    assert f"of {load_b:,.1f} requests/s" in msg  # the block's load, not the whole's
    assert "Fix: add candidates or capacity" in msg


def test_capacitated_pieces_on_a_local_dask_cluster():
    """The pieces as tasks on two workers: the same count and status as in this process,
    and ``strategy="lazy"`` with the cluster splits a capacitated plan by components."""
    pytest.importorskip("distributed")
    from coverage.batch import dask_client

    demand, sites, _ = blocks((31, 32, 35, 36), n_domains=3)
    kw = dict(budget_ms=BUDGET_MS, model=ON_NET, failures=1, **LOAD)
    full = plan_sites(demand, sites, strategy="full", **kw)
    problem = problem_of(demand, sites, 1)
    here, here_res = capacitated_component_sites(problem, full.capacity, target_cells=1)
    with dask_client(2) as client:
        there, there_res = capacitated_component_sites(problem, full.capacity,
                                                       target_cells=1, client=client)
        plan = plan_sites(demand, sites, strategy="lazy", client=client, **kw)
    assert len({p["pid"] for p in there.components.pieces}) == 2  # both workers solved
    assert there.cover.objective == here.cover.objective == full.summary()["site_count"]
    assert there_res.status == here_res.status == "optimal"
    s = plan.summary()
    assert s["solver"]["strategy"] == "components"
    assert s["site_count"] == here.cover.objective and s["status"] == "optimal"
    mask = own_reach(demand, sites)
    N, load, cap = reference(demand, sites, mask)
    assert independent_ok(N, load, cap, site_index(plan, sites), 1, domains_of(sites))


def test_the_pieces_proof_stands_when_the_whole_check_is_cut():
    """Tester 135: every piece listed all of its scenarios, yet the plan said "unproven"
    because the re-check of the whole stopped at the same --scenario-limit. A scenario of
    the whole is feasible when each piece's part is, so the pieces' lists prove it."""
    demand, sites, _ = blocks((31, 32, 35), n_domains=None)
    full = plan_sites(demand, sites, budget_ms=BUDGET_MS, model=ON_NET, failures=2,
                      strategy="full", kmedian_time_limit_s=0, **LOAD)
    config = PlannerConfig(budget_ms=BUDGET_MS, failures=2, strategy="components",
                           time_limit_s=60.0, scenario_limit=8).validate(
                               ON_NET.access_profiles_ms)
    problem = Problem.build(as_demand(demand), as_sites(sites), config, ON_NET)
    count, result = capacitated_component_sites(problem, full.capacity, target_cells=1)
    assert all(p["scenarios_complete"] for p in count.components.pieces)
    assert result.complete and count.cover.status == "optimal"
    assert count.cover.objective == full.summary()["site_count"]
    mask = own_reach(demand, sites)
    N, load, cap = reference(demand, sites, mask)
    assert independent_ok(N, load, cap, result.sites, 2, None)


def test_every_overloaded_part_is_counted_and_only_points_in_budget():
    """Tester 135: the message counted a piece's cells that reach no candidate (bin-mates
    of those that do), and named one overloaded part where two were."""
    from dataclasses import replace

    demand, sites, spans = blocks((21, 22, 23), n_domains=None)
    kw = dict(budget_ms=BUDGET_MS, model=ON_NET, failures=1, **LOAD)
    fine = plan_sites(demand, sites, strategy="full", kmedian_time_limit_s=0, **kw)
    n_rows = len(demand) // 3
    demand.loc[demand.index[n_rows:], "population"] *= 40  # the second and third blocks
    capacity = replace(fine.capacity, load_rps=demand["population"].to_numpy(float) / 1000)
    with pytest.raises(NoFeasiblePlanError) as err:
        capacitated_component_sites(problem_of(demand, sites, 1), capacity, target_cells=1)
    msg = str(err.value)
    mask = own_reach(demand, sites)
    in_budget = [int(mask[b * n_rows:(b + 1) * n_rows].any(axis=1).sum()) for b in (1, 2)]
    assert any(f"({n:,} demand points that only its 9 candidates reach" in msg
               for n in in_budget), msg
    assert "; 1 other part cannot carry its load either" in msg


def test_a_capacitated_sweep_by_components_counts_as_row_generation():
    """A capacitated plan counted by components has its sweep's budgets up to its own
    counted by components too (``components (capacitated)``): the same counts as row and
    cut generation over the whole demand, every budget's scenarios carrying the load."""
    demand, sites, _ = blocks((11, 12, 13), n_domains=3, cap_range=(300, 700))
    plan = plan_sites(demand, sites, strategy="components", budget_ms=BUDGET_MS,
                      model=ON_NET, failures=1, **LOAD)
    budgets = (BUDGET_MS - 1.0, BUDGET_MS + 2.0)  # radii 48 and 252 km
    comp = plan.with_sweep(budgets, time_limit_s=30, max_full_pairs=0).sweep
    lazy = plan_sites(demand, sites, strategy="lazy", budget_ms=BUDGET_MS, model=ON_NET,
                      failures=1, **LOAD).with_sweep(budgets, time_limit_s=30,
                                                     max_full_pairs=0).sweep
    # up to the plan's budget by pieces; the wider one merges them: one row generation
    assert comp["method"].tolist() == ["components (capacitated)"] * 2 + ["lazy (capacitated)"]
    assert lazy["method"].tolist() == ["lazy (capacitated)"] * 3
    assert (comp["status"] == "optimal").all()
    assert comp["site_count"].tolist() == lazy["site_count"].tolist()
